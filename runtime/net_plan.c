/*
 * net_plan.c — lay out a training net: the sizes of what each op saves,
 * the buffers values and gradients can share, the one allocation, the
 * initial weights, and the accessors of the net object.
 *
 * This file allocates (once, in cnnrt_net_create); the executor
 * (net_exec.c) and the kernels it calls never do.  Checkpoint IO
 * (net_io.c) allocates temporarily.
 */
#include "cnnrt_net.h"
#include "cnnrt_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *cnnrt_net_params(cnnrt_net *net) { return net->block; }
float *cnnrt_net_grads(cnnrt_net *net) { return net->block + net->d->nparams; }
float *cnnrt_net_buffers(cnnrt_net *net) { return net->buffers; }
size_t cnnrt_net_block_floats(const cnnrt_net *net) {
    return (size_t)net->d->nparams * (size_t)(2 + net->nblocks);
}
long cnnrt_net_step(const cnnrt_net *net) { return net->step; }
const cnnrt_net_desc *cnnrt_net_describe(const cnnrt_net *net) { return net->d; }
cnnrt_rng cnnrt_net_rng(const cnnrt_net *net) { return net->rng; }
void cnnrt_net_set_state(cnnrt_net *net, long step, cnnrt_rng rng) { net->step = step; net->rng = rng; }
const char *cnnrt_net_bad_layer(const cnnrt_net *net) {
    return net->bad_op >= 0 ? net->d->ops[net->bad_op].name : NULL;
}

/* floats each op saves for backward, per image (save0, save1) */
static void save_sizes(const cnnrt_op *op, long *s0, long *s1, long *am) {
    *s0 = *s1 = *am = 0;
    switch (op->kind) {
    case CNNRT_OP_BATCHNORM: *s0 = *s1 = op->C; break;          /* per batch, not per image */
    case CNNRT_OP_LAYERNORM: *s0 = *s1 = 1; break;
    case CNNRT_OP_INSTANCENORM: *s0 = *s1 = op->C; break;
    case CNNRT_OP_GROUPNORM: *s0 = *s1 = op->G; break;
    case CNNRT_OP_DROPOUT: *s0 = op->D; break;
    case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL: *am = op->D; break;
    default: break;
    }
}

/* ---- initialisation (PyTorch's defaults for a fresh module) ------------- */

static void init_params(cnnrt_net *net, uint64_t seed) {
    const cnnrt_net_desc *d = net->d;
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        const cnnrt_op *op = &d->ops[ts->op];
        float *dst = (ts->buffer ? net->buffers : net->block) + ts->off;
        const char *dot = strrchr(ts->name, '.');
        long fan_in = op->kind == CNNRT_OP_CONV ? (long)(op->conv.C / op->conv.groups) * op->conv.KH * op->conv.KW
                    : op->kind == CNNRT_OP_DENSE ? op->D : 0;
        cnnrt_init_tensor(dst, ts->numel, dot ? dot + 1 : ts->name, fan_in, &r);
    }
}

/* ---- buffer sharing ---------------------------------------------------------
 * Values are written once, by the op that produces them, so some buffers can
 * be shared.  Decided once per net, in plan_sharing:
 *   PLAN_VIEW     a COPY (flatten) whose output is its input's buffer: no copy.
 *   PLAN_INPLACE  a RELU computed in place over its input x, when x has no
 *                 other reader and its producer's backward never reads its own
 *                 output; the gradient is shared too, and backward masks it in
 *                 place (y ≤ 0 iff x ≤ 0, y NaN iff x NaN, so the saved output
 *                 serves as x).
 *   PLAN_SHARE0…  an ADD or COPY whose input k gets the output's gradient
 *                 buffer itself (∂y/∂x_k = 1): its backward skips that input.
 *                 Allowed when every other reader of x_k comes earlier in
 *                 forward order, so their backward passes, which accumulate
 *                 into the shared buffer, run after this op's backward has
 *                 read it.  A two-input ADD may give it to both inputs
 *                 (share_second: a ResNet block's add, no copy at all).
 *   PLAN_POOLFIRST  an in-place RELU whose only reader is a max pool: the
 *                 pool runs first, on x itself, and the relu after it, in
 *                 place on the pool's output (PLAN_RELU_AFTER on the pool),
 *                 over a quarter of the values (2×2).  relu and max pooling
 *                 commute, max(relu(a), relu(b)) = relu(max(a, b)), and so
 *                 do their gradients: the pool's backward routes
 *                 (pooled ≤ 0 ? 0 : dy) to the window's first maximum, which
 *                 is where the relu's mask lets the original's through.  A
 *                 NaN commutes too (both orders give NaN, and its gradient
 *                 goes to the window's last NaN), and ±0 are equal values:
 *                 only the sign of a zero output may differ (pool first:
 *                 relu(max(−1, −0.0)) = −0.0; relu first: +0.0).
 *   PLAN_BNRELU   an in-place RELU (not PLAN_POOLFIRST) whose input comes
 *                 from a batch norm: the batch norm writes relu(y) itself
 *                 and, in backward, masks dy as it reads it (PLAN_RELU_FUSED
 *                 on the batch norm; cnnrt_batchnorm_*_train_ex); the relu
 *                 does nothing.  The same bits, one pass fewer each way.
 * Backward runs in reverse order, so a gradient buffer is complete when its
 * value's producer reads it.  Each buffer is zeroed once per step. */

/* does op's backward read its own output value? */
static int reads_own_output(const cnnrt_op *op) {
    switch (op->kind) {
    case CNNRT_OP_CONV: case CNNRT_OP_DENSE: return op->act != CNNRT_ACT_NONE;
    case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL: case CNNRT_OP_AVGPOOL: case CNNRT_OP_GAVGPOOL:
    case CNNRT_OP_ADAPTAVG: case CNNRT_OP_BATCHNORM: case CNNRT_OP_LAYERNORM: case CNNRT_OP_INSTANCENORM:
    case CNNRT_OP_GROUPNORM: case CNNRT_OP_DROPOUT: case CNNRT_OP_ADD: case CNNRT_OP_CONCAT:
        return 0;
    default: return 1;
    }
}

/* A residual add a + b whose input a already has the output's gradient
 * buffer G (PLAN_SHARE0): b may have it too, sparing the copy, when a's
 * gradient is complete and read before anything else adds to b's.  That
 * holds when the add is a's only reader, a's producer only reads its
 * output's gradient (a conv, dense or batchnorm, whose backward writes
 * other buffers) and comes after b's other readers in forward order: in
 * backward it reads G (= a's gradient) before b's other readers add their
 * contributions to G (= b's gradient).  A ResNet block's add and its
 * shortcut.  Same conditions on b as for a (plan_sharing). */
static void share_second(cnnrt_net *net, int i, const int *nuse, const int *prod, const int *last, int keep1,
                         int keep2) {
    const cnnrt_net_desc *d = net->d;
    const cnnrt_op *op = &d->ops[i];
    const int k1 = (net->plan[i] & PLAN_SHARE0) ? 0 : 1, k2 = 1 - k1;
    const int a = in_val(net, op, k1), b = in_val(net, op, k2);
    if (b <= 0 || b == a || b == keep1 || b == keep2 || last[b] != i || nuse[a] != 1 || prod[a] < 0) return;
    const cnnrt_op *pa = &d->ops[prod[a]];
    if ((pa->kind != CNNRT_OP_CONV && pa->kind != CNNRT_OP_DENSE && pa->kind != CNNRT_OP_BATCHNORM) ||
        net->plan[prod[a]] != 0)
        return;
    for (int r = 0; r < d->nops; r++) {                  /* b's other readers: before a's producer */
        if (r == i) continue;
        for (int k = 0; k < d->ops[r].nin; k++)
            if (in_val(net, &d->ops[r], k) == b && r > prod[a]) return;
    }
    for (int v = 0; v < d->nvalues; v++)                 /* b's buffer must be its own */
        if (v != b && net->dval[v] == net->dval[b]) return;
    net->dval[b] = net->dval[op->out];
    net->plan[i] |= PLAN_SHARE0 << k2;
}

static int plan_sharing(cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    int nv = d->nvalues, *nuse = calloc((size_t)nv, sizeof(int)), *prod = malloc((size_t)nv * sizeof(int));
    int *last = malloc((size_t)nv * sizeof(int));    /* last reader (op index) */
    if (!nuse || !prod || !last) { free(nuse); free(prod); free(last); return -1; }
    int ok = 1;
    for (int v = 0; v < nv; v++) prod[v] = last[v] = -1;
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        if (op->out <= 0 || op->out >= nv || prod[op->out] >= 0) ok = 0;
        else prod[op->out] = i;
        for (int k = 0; k < op->nin; k++) {
            int v = in_val(net, op, k);
            if (v < 0 || v >= nv) { ok = 0; continue; }
            nuse[v]++;
            last[v] = i;
        }
    }
    /* values the loss or the caller read stay unshared */
    int keep1 = d->output, keep2 = in_val(net, &d->ops[d->nops - 1], 0);
    for (int i = 0; ok && i < d->nops; i++) {            /* forward order: value buffers */
        const cnnrt_op *op = &d->ops[i];
        int x = in_val(net, op, 0);
        if (op->kind == CNNRT_OP_COPY && x > 0 && op->out != keep1 && op->out != keep2) {
            net->val[op->out] = net->val[x];
            net->plan[i] |= PLAN_VIEW;
        } else if (op->kind == CNNRT_OP_RELU && x > 0 && x != keep1 && x != keep2 && nuse[x] == 1 &&
                   prod[x] >= 0 && !reads_own_output(&d->ops[prod[x]]) &&
                   !(d->ops[prod[x]].kind == CNNRT_OP_COPY) && op->out != keep1 && op->out != keep2) {
            int shared = 0;                              /* x's buffer must be its own */
            for (int v = 0; v < nv; v++) shared |= v != x && net->val[v] == net->val[x];
            if (!shared) {
                net->val[op->out] = net->val[x];
                net->plan[i] |= PLAN_INPLACE;
            }
        }
    }
    for (int i = 0; ok && i < d->nops; i++) {            /* relu, then max pool: pool first */
        const int b = d->ops[i].out, j = last[b];
        if (!(net->plan[i] & PLAN_INPLACE) || b == keep1 || b == keep2 || nuse[b] != 1 || j <= i) continue;
        const cnnrt_op *pool = &d->ops[j];
        if ((pool->kind != CNNRT_OP_MAXPOOL && pool->kind != CNNRT_OP_GMAXPOOL) || pool->nin != 1) continue;
        int shared = 0;                                  /* the pool's output buffer must be its own */
        for (int v = 0; v < nv; v++) shared |= v != pool->out && net->val[v] == net->val[pool->out];
        if (shared) continue;
        net->plan[i] |= PLAN_POOLFIRST;
        net->plan[j] |= PLAN_RELU_AFTER;
    }
    for (int i = 0; ok && i < d->nops; i++) {            /* batch norm, then relu: one op */
        if (!(net->plan[i] & PLAN_INPLACE) || (net->plan[i] & PLAN_POOLFIRST)) continue;
        const int bn = prod[in_val(net, &d->ops[i], 0)];
        if (d->ops[bn].kind != CNNRT_OP_BATCHNORM) continue;
        net->plan[i] |= PLAN_BNRELU;
        net->plan[bn] |= PLAN_RELU_FUSED;
    }
    for (int i = d->nops - 1; ok && i >= 0; i--) {      /* reverse order: gradient buffers */
        const cnnrt_op *op = &d->ops[i];
        if (net->plan[i] & PLAN_INPLACE) {               /* x's only reader: its gradient is dy's buffer */
            net->dval[in_val(net, op, 0)] = net->dval[op->out];
            continue;
        }
        if (op->kind != CNNRT_OP_ADD && op->kind != CNNRT_OP_COPY) continue;
        if (op->out == keep1 || op->out == keep2) continue;
        for (int k = 0; k < op->nin && k < 16; k++) {
            int x = in_val(net, op, k), twice = 0;
            for (int j = 0; j < op->nin; j++) twice |= j != k && in_val(net, op, j) == x;
            if (x <= 0 || x == keep1 || x == keep2 || twice || last[x] != i) continue;
            int shared = 0;
            for (int v = 0; v < nv; v++) shared |= v != x && net->dval[v] == net->dval[x];
            if (shared) continue;
            net->dval[x] = net->dval[op->out];
            net->plan[i] |= PLAN_SHARE0 << k;
            break;                                       /* one input per op, but see below */
        }
        if (op->kind == CNNRT_OP_ADD && op->nin == 2 && (net->plan[i] & (PLAN_SHARE0 | PLAN_SHARE0 << 1)))
            share_second(net, i, nuse, prod, last, keep1, keep2);
    }
    for (int v = 1; v < nv; v++) {                       /* one owner per buffer */
        net->owner[v] = v;
        for (int u = v - 1; u >= 1; u--)
            if (net->dval[u] == net->dval[v]) net->owner[v] = u;
        net->zero[v] = (char)(net->owner[v] == v);
    }
    free(nuse); free(prod); free(last);
    return 0;
}

/* ---- creation ------------------------------------------------------------ */

#define ERR(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return NULL; } while (0)

cnnrt_net *cnnrt_net_create(const cnnrt_net_desc *d, int max_batch, const cnnrt_train_opts *o,
                            char *err, size_t errlen) {
    if (!d || !o || max_batch < 1) ERR("invalid arguments");
    if (d->nvalues < 2 || d->nops < 1 || d->output <= 0 || d->output >= d->nvalues)
        ERR("network '%s' has no layers", d->name ? d->name : "?");
    cnnrt_optim oc = o->optim;
    int nblocks = cnnrt_optim_state_blocks(&oc);
    if (nblocks < 0) ERR("unknown optimizer");

    /* sizes, in floats (argmax as int32 counts the same) */
    size_t B = (size_t)max_batch;
    size_t total = 0, maxval = 0, scratch = 0;
    total += (size_t)d->nparams * (size_t)(2 + nblocks) + (size_t)d->nbuffers;
    for (int v = 0; v < d->nvalues; v++) {
        total += 2 * B * (size_t)d->value_size[v];
        if ((size_t)d->value_size[v] > maxval) maxval = (size_t)d->value_size[v];
    }
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        long s0, s1, am;
        save_sizes(op, &s0, &s1, &am);
        size_t per = op->kind == CNNRT_OP_BATCHNORM ? 1 : B;
        total += per * (size_t)(s0 + s1) + B * (size_t)am;
        if (op->kind == CNNRT_OP_CONV) {
            size_t s = cnnrt_conv_scratch_floats(&op->conv, max_batch);
            if (s > scratch) scratch = s;
        }
    }
    total += scratch + B * maxval;
    if (total > ((size_t)1 << 36)) ERR("training network '%s' at batch %d needs %zu MiB", d->name,
                                       max_batch, total * 4 >> 20);

    cnnrt_net *net = calloc(1, sizeof *net);
    if (!net) ERR("out of memory");
    net->val = calloc((size_t)d->nvalues, sizeof(float *));
    net->dval = calloc((size_t)d->nvalues, sizeof(float *));
    net->save0 = calloc((size_t)d->nops, sizeof(float *));
    net->save1 = calloc((size_t)d->nops, sizeof(float *));
    net->argmax = calloc((size_t)d->nops, sizeof(int32_t *));
    net->plan = calloc((size_t)d->nops, sizeof(int));
    net->zero = calloc((size_t)d->nvalues, 1);
    net->fresh = calloc((size_t)d->nvalues, 1);
    net->owner = calloc((size_t)d->nvalues, sizeof(int));
    size_t nin = 1;                                  /* a slot per entry of d->inputs */
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i].kind == CNNRT_OP_CONCAT && d->ops[i].in0 >= 0 && d->ops[i].nin >= 0 &&
            (size_t)d->ops[i].in0 + (size_t)d->ops[i].nin > nin)
            nin = (size_t)d->ops[i].in0 + (size_t)d->ops[i].nin;
    net->cat_x = calloc(nin, sizeof *net->cat_x);
    net->cat_dx = calloc(nin, sizeof *net->cat_dx);
    net->cat_c = calloc(nin, sizeof *net->cat_c);
    net->mem = calloc(total + 16, sizeof(float));
    if (!net->val || !net->dval || !net->save0 || !net->save1 || !net->argmax || !net->plan || !net->zero ||
        !net->fresh || !net->owner || !net->cat_x || !net->cat_dx || !net->cat_c ||
        !net->mem) {
        cnnrt_net_free(net);
        ERR("out of memory: training '%s' at batch %d needs %zu MiB", d->name, max_batch, total * 4 >> 20);
    }
    net->d = d;
    net->o = *o;
    net->max_batch = max_batch;
    net->nblocks = nblocks;
    net->bad_op = -1;
    float *p = net->mem;
    net->block = p; p += (size_t)d->nparams * (size_t)(2 + nblocks);
    net->buffers = p; p += d->nbuffers;
    for (int v = 0; v < d->nvalues; v++) {
        net->val[v] = p; p += B * (size_t)d->value_size[v];
        net->dval[v] = p; p += B * (size_t)d->value_size[v];
    }
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        long s0, s1, am;
        save_sizes(op, &s0, &s1, &am);
        size_t per = op->kind == CNNRT_OP_BATCHNORM ? 1 : B;
        net->save0[i] = s0 ? p : NULL; p += per * (size_t)s0;
        net->save1[i] = s1 ? p : NULL; p += per * (size_t)s1;
        net->argmax[i] = am ? (int32_t *)p : NULL; p += B * (size_t)am;
    }
    net->scratch = scratch ? p : NULL; p += scratch;
    net->tmp = p;
    const cnnrt_op *last = &d->ops[d->nops - 1];
    net->softmax_last = last->kind == CNNRT_OP_SOFTMAX && last->out == d->output;
    if (plan_sharing(net) != 0) {
        cnnrt_net_free(net);
        ERR("out of memory");
    }
    cnnrt_rng_seed(&net->rng, o->seed ^ 0x5eed5eed5eedULL);
    init_params(net, o->seed);
    return net;
}

void cnnrt_net_free(cnnrt_net *net) {
    if (!net) return;
    free(net->mem);
    free(net->val);
    free(net->dval);
    free(net->save0);
    free(net->save1);
    free(net->argmax);
    free(net->plan);
    free(net->zero);
    free(net->fresh);
    free(net->owner);
    free(net->cat_x);
    free(net->cat_dx);
    free(net->cat_c);
    free(net);
}
