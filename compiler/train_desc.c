/*
 * train_desc.c — the network as written, described for cnnrt's trainer.
 *
 * Training runs the network exactly as the .net file writes it (no folding,
 * no fusion beyond the activations written on a conv or dense line): one
 * cnnrt op per IR node, value i is node i's output (value 0 the input);
 * a conv or dense whose activation's backward needs its input (silu, gelu,
 * ...) becomes two ops, the activation's input a value after the nodes',
 * learnable tensors laid out in node order in the parameter block and
 * running statistics in the buffer block, all named by their PyTorch
 * state-dict names.  cnnc-train hands this to cnnrt_net_create; cnnc
 * --train writes the same numbers into C (emit_train.c), so both train
 * identically.
 */
#include "cnnc.h"

#include "cnnrt_net.h"

#include <limits.h>
#include <string.h>

static unsigned long long fnv(unsigned long long h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static unsigned long long fnv_int(unsigned long long h, long long v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((unsigned long long)v >> (8 * i));
    return fnv(h, b, sizeof b);
}

static unsigned long long fnv_real(unsigned long long h, double x) {
    long long bits;
    if (x == 0) x = 0;          /* -0 and 0 are the same attribute */
    memcpy(&bits, &x, sizeof bits);
    return fnv_int(h, bits);
}

static unsigned long long fnv_str(unsigned long long h, const char *s) { return fnv(h, s, strlen(s) + 1); }

/* The structure a checkpoint was trained on ("arch" in its metadata; a
 * resume into another structure is refused): every node's name, kind,
 * output shape, inputs and every attribute that changes what it computes
 * (each by value, so the same network written differently, e.g. `p1` or
 * `same`, hashes the same).  The tensors' names and shapes follow in
 * train_desc_build.  Not the network's name: renaming is not a change. */
static unsigned long long hash_node(unsigned long long h, const Node *n) {
    h = fnv_str(h, n->name);
    h = fnv_str(h, n->kind->name);
    h = fnv_int(h, n->shape.rank);
    h = fnv_int(h, n->shape.c);
    h = fnv_int(h, n->shape.h);
    h = fnv_int(h, n->shape.w);
    h = fnv_int(h, n->nin);
    for (int j = 0; j < n->nin; j++) h = fnv_int(h, n->in[j]->id);
    const long long ints[] = { n->out, n->kh, n->kw, n->sh, n->sw, n->dh, n->dw, n->pt, n->pl, n->pb, n->pr,
                               n->groups, n->bias, n->ceil, n->affine, n->count_include_pad, n->act, n->oh,
                               n->ow };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) h = fnv_int(h, ints[k]);
    /* slope twice: the hash of checkpoints from before activations had other
     * parameters (a leaky relu's slope and its copy, always equal) */
    const double reals[] = { n->eps, n->momentum, n->slope, n->p, n->slope };
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) h = fnv_real(h, reals[k]);
    ActKind a = act_of_kind(n->kind->id);
    if (act_defs[a].nparam == 2) h = fnv_real(h, n->act_p[1]);   /* the first is slope */
    /* what later versions added, only where it is not the old default, so
     * an image network's checkpoints keep their hash */
    int sp = n->nin ? n->in[0]->shape.sp : n->shape.sp;
    if (sp == 1 || sp == 3 || n->shape.sp == 1 || n->shape.sp == 3) {     /* signals and volumes */
        const long long vol[] = { n->shape.sp, n->shape.d, n->kd, n->sd, n->dd, n->pd0, n->pd1, n->od };
        for (size_t k = 0; k < sizeof vol / sizeof vol[0]; k++) h = fnv_int(h, vol[k]);
    }
    if (n->channels) h = fnv_int(h, 0x636861);
    return h;
}

cnnrt_net_desc *train_desc_build(Graph *g) {
    cnnrt_net_desc *d = arena_alloc(sizeof *d);
    /* up to two ops per node (a conv or dense and an activation split off,
     * below), so up to twice the values */
    long *vsize = arena_alloc(sizeof(long) * 2 * (size_t)g->nnodes);
    cnnrt_op *ops = arena_alloc(sizeof(cnnrt_op) * 2 * (size_t)g->nnodes);
    int ninputs = 0, ntensors = 0;
    for (int i = 0; i < g->nnodes; i++) {
        ninputs += g->nodes[i]->nin;
        ParamSpec ps[MAX_PARAM_TENSORS];
        ntensors += weights_spec(g->nodes[i], ps);
    }
    int *inputs = arena_alloc(sizeof(int) * (size_t)(ninputs + g->nnodes + 1));
    cnnrt_tensor *tensors = arena_alloc(sizeof(cnnrt_tensor) * (size_t)(ntensors + 1));
    unsigned long long h = 1469598103934665603ULL;
    int nin = 0, nt = 0, nops = 0, nvalues = g->nnodes;
    long np = 0, nb = 0;

    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        long long numel = shape_numel(n->shape);
        if (numel > INT_MAX / 4) {
            diag_error(n->loc, "%s '%s': %s is too large to train (more than %d values per image)",
                       n->kind->name, n->name, shape_str(n->shape), INT_MAX / 4);
            return NULL;
        }
        vsize[i] = (long)numel;
        h = hash_node(h, n);
        if (n->kind->id == K_INPUT) continue;

        cnnrt_op *op = &ops[nops++];
        const Shape *in = &n->in[0]->shape;
        op->name = n->name;
        op->line = n->loc.line;
        op->act = (int)n->act;       /* ActKind is numbered as CNNRT_ACT_* (cnnrt_acts.def) */
        op->act_a = (float)n->act_p[0];
        op->act_b = (float)n->act_p[1];
        op->nin = n->nin;
        op->in0 = nin;
        for (int j = 0; j < n->nin; j++) inputs[nin++] = n->in[j]->id;
        op->out = i;
        op->w = op->b = op->rmean = op->rvar = -1;
        op->C = (int)in->c;
        op->HW = (int)shape_hw(*in);
        op->H = (int)in->h;
        op->W = (int)in->w;
        op->D = (int)shape_numel(*in);
        op->OH = (int)n->shape.h;
        op->OW = (int)n->shape.w;
        op->eps = (float)n->eps;
        op->momentum = (float)n->momentum;
        op->p = (float)n->p;
        if (!n->kind->train) {
            diag_error(n->loc, "%s '%s' cannot be trained", n->kind->name, n->name);
            return NULL;
        }
        n->kind->train(n, op);     /* its kind's op and geometry (compiler/kind_*.c) */
        /* A fused activation whose backward needs its input (silu, gelu, ...):
         * the conv or dense writes a value of its own, and an activation op
         * after it writes the node's value. */
        cnnrt_op *act = NULL;
        if (cnnrt_op_fuses_act(op->kind) && n->act != ACT_NONE &&
            !act_defs[n->act].bwd_y(n->act_p[0], n->act_p[1])) {
            act = &ops[nops++];
            *act = (cnnrt_op){ .kind = CNNRT_OP_ACT, .name = n->name, .line = n->loc.line, .act = op->act,
                               .act_a = op->act_a, .act_b = op->act_b, .nin = 1, .in0 = nin, .out = i,
                               .w = -1, .b = -1, .rmean = -1, .rvar = -1, .C = (int)n->shape.c,
                               .D = (int)numel, .OH = op->OH, .OW = op->OW };
            inputs[nin++] = nvalues;
            vsize[nvalues] = (long)numel;
            op->out = nvalues++;
            op->act = CNNRT_ACT_NONE;
            op->act_a = op->act_b = 0;
        }

        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec(n, ps);
        for (int j = 0; j < k; j++) {
            cnnrt_tensor *t = &tensors[nt++];
            t->name = arena_printf("%s.%s", n->name, ps[j].suffix);
            t->ndim = ps[j].ndim;
            for (int e = 0; e < ps[j].ndim; e++) t->dims[e] = (int)ps[j].dims[e];
            t->numel = (long)ps[j].numel;
            t->buffer = !ps[j].learnable;
            t->op = (int)(op - ops);
            t->fan_in = (long)ps[j].fan_in;
            t->constant = ps[j].constant;
            t->init = ps[j].init;
            t->off = t->buffer ? nb : np;
            if (t->buffer) nb += t->numel;
            else np += t->numel;
            const char *s = ps[j].suffix;
            if (strcmp(s, "weight") == 0) op->w = t->off;
            else if (strcmp(s, "bias") == 0) op->b = t->off;
            else if (strcmp(s, "running_mean") == 0) op->rmean = t->off;
            else op->rvar = t->off;
            h = fnv_str(h, t->name);
            h = fnv_int(h, t->ndim);
            for (int e = 0; e < t->ndim; e++) h = fnv_int(h, t->dims[e]);
            h = fnv_int(h, t->buffer);
        }
    }
    Shape in = g->nodes[0]->shape;
    d->name = g->name;
    d->in_c = (int)in.c;
    d->in_h = (int)(in.d * in.h);    /* a volume's D·H rows (its slices one after another) */
    d->in_w = (int)in.w;
    d->nvalues = nvalues;
    d->value_size = vsize;
    d->nops = nops;
    d->ops = ops;
    d->inputs = inputs;
    d->output = g->output->id;
    d->out_size = (int)shape_numel(g->output->shape);
    d->nparams = np;
    d->nbuffers = nb;
    d->ntensors = nt;
    d->tensors = tensors;
    h = fnv_int(h, g->output->id);
    d->hash = h;
    train_plan(d);
    return d;
}
