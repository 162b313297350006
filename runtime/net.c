/*
 * net.c — run a whole network for training: forward, loss, backward, step.
 *
 * Shape legend (per op, n images in the batch):
 *   value v      [n][value_size[v]]        activations, one buffer per value
 *   dvalue v     [n][value_size[v]]        its gradient (written by its first contribution each step)
 *   params       [nparams]                 the flat learnable block
 *   grads        [nparams]                 same layout, zeroed every step
 *   moments      [blocks][nparams]         optimizer state, same layout
 *   buffers      [nbuffers]                batchnorm running statistics
 *
 * Forward keeps every value, so backward can read what it needs; a conv or
 * dense with a fused activation keeps only its output (relu/leaky relu/
 * tanh/sigmoid all differentiate through the output).  Backward walks the
 * ops in reverse and accumulates (+=) into input and parameter gradients.
 * This file allocates (once, in cnnrt_net_create) and is the only place of
 * the runtime that does: the kernels it calls never do.
 */
#include "cnnrt_net.h"
#include "cnnrt_simd.h"
#include "cnnrt_priv.h"
#include "cnnrt_par.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnnrt_net {
    const cnnrt_net_desc *d;
    cnnrt_train_opts o;
    int max_batch;
    int nblocks;              /* optimizer moment blocks */
    long step;
    cnnrt_rng rng;            /* dropout */
    int softmax_last;         /* the output op is a softmax: the loss skips it */
    int bad_op;               /* first op whose gradient went bad, -1 */
    float *block;             /* params | grads | moments */
    float *buffers;
    float **val, **dval;      /* [nvalues] */
    float **save0, **save1;   /* per op: saved statistics / masks */
    int32_t **argmax;         /* per op: max pool */
    int *plan;                /* per op: PLAN_* flags (buffer sharing, see plan_sharing) */
    char *zero;               /* per value: it owns its gradient buffer (the first value using it) */
    int *owner;               /* per value: the value owning its gradient buffer */
    char *fresh;              /* per owner: no contribution yet in this backward pass */
    float *scratch;           /* conv im2col */
    float *tmp;               /* a value-sized temporary (fused activation backward) */
    void *mem;                /* the one allocation */
};

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

static int in_val(const cnnrt_net *net, const cnnrt_op *op, int i) { return net->d->inputs[op->in0 + i]; }

/* the value the loss reads */
static int loss_value(const cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    return net->softmax_last && net->o.loss == CNNRT_LOSS_XENT ? in_val(net, &d->ops[d->nops - 1], 0)
                                                               : d->output;
}

const float *cnnrt_net_logits(const cnnrt_net *net, int *k) {
    int v = loss_value(net);
    if (k) *k = (int)net->d->value_size[v];
    return net->val[v];
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
enum { PLAN_VIEW = 1, PLAN_INPLACE = 2, PLAN_SHARE0 = 4,   /* PLAN_SHARE0 << k for input k < 16 */
       PLAN_POOLFIRST = 1 << 20, PLAN_RELU_AFTER = 1 << 21, PLAN_BNRELU = 1 << 22, PLAN_RELU_FUSED = 1 << 23 };

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
    net->mem = calloc(total + 16, sizeof(float));
    if (!net->val || !net->dval || !net->save0 || !net->save1 || !net->argmax || !net->plan || !net->zero ||
        !net->fresh || !net->owner ||
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
    free(net);
}

/* ---- forward ------------------------------------------------------------- */

/* memset and memcpy of activations, shared over the threads */
static void par_zero(float *g, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, memset(g + lo, 0, (hi - lo) * sizeof(float)));
}
static void par_copy(float *g, const float *x, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, memcpy(g + lo, x + lo, (hi - lo) * sizeof(float)));
}

static void act_forward(int act, float slope, float *y, size_t count) {
    switch (act) {
    case CNNRT_ACT_RELU: cnnrt_relu_forward(y, y, count); break;
    case CNNRT_ACT_LEAKY: cnnrt_leaky_relu_forward(y, y, slope, count); break;
    case CNNRT_ACT_TANH: cnnrt_tanh_forward(y, y, count); break;
    case CNNRT_ACT_SIGMOID: cnnrt_sigmoid_forward(y, y, count); break;
    default: break;
    }
}

/* The gradient before a fused activation, act'(pre) · dy, from the output y:
 * dy itself without an activation, else written (not accumulated) into tmp. */
static const float *act_backward(int act, float slope, float *tmp, const float *dy, const float *y,
                                 size_t count) {
    if (act == CNNRT_ACT_NONE) return dy;
    memset(tmp, 0, count * sizeof(float));
    switch (act) {
    case CNNRT_ACT_RELU: cnnrt_relu_backward(tmp, dy, y, count); break;   /* y ≤ 0 iff pre ≤ 0 */
    case CNNRT_ACT_LEAKY: cnnrt_leaky_relu_backward(tmp, dy, y, slope, count); break;
    case CNNRT_ACT_TANH: cnnrt_tanh_backward(tmp, dy, y, count); break;
    case CNNRT_ACT_SIGMOID: cnnrt_sigmoid_backward(tmp, dy, y, count); break;
    default: return dy;
    }
    return tmp;
}

static void forward(cnnrt_net *net, int n, int training, int upto) {
    const cnnrt_net_desc *d = net->d;
    const float *P = net->block;
    for (int i = 0; i < upto; i++) {
        const cnnrt_op *op = &d->ops[i];
        const float *x = net->val[in_val(net, op, 0)];
        float *y = net->val[op->out];
        size_t cnt = (size_t)n * (size_t)d->value_size[op->out];
        const float *w = op->w >= 0 ? P + op->w : NULL, *b = op->b >= 0 ? P + op->b : NULL;
        switch (op->kind) {
        case CNNRT_OP_CONV:
            cnnrt_conv2d_forward(y, x, w, b, net->scratch, n, &op->conv);
            act_forward(op->act, op->slope, y, cnt);
            break;
        case CNNRT_OP_DENSE:
            cnnrt_dense_forward(y, x, w, b, n, op->D, (int)d->value_size[op->out]);
            act_forward(op->act, op->slope, y, cnt);
            break;
        case CNNRT_OP_MAXPOOL:
        case CNNRT_OP_GMAXPOOL:
            cnnrt_maxpool2d_forward(y, net->argmax[i], x, n, &op->pool);   /* x: see PLAN_POOLFIRST */
            if (net->plan[i] & PLAN_RELU_AFTER) cnnrt_relu_forward(y, y, cnt);
            break;
        case CNNRT_OP_AVGPOOL: cnnrt_avgpool2d_forward(y, x, n, &op->pool); break;
        case CNNRT_OP_GAVGPOOL: cnnrt_global_avgpool_forward(y, x, n, op->C, op->HW); break;
        case CNNRT_OP_ADAPTAVG:
            cnnrt_adaptive_avgpool2d_forward(y, x, n, op->C, op->H, op->W, op->OH, op->OW);
            break;
        case CNNRT_OP_BATCHNORM:
            if (training)
                cnnrt_batchnorm_forward_train_ex(y, net->buffers + op->rmean, net->buffers + op->rvar,
                                                 net->save0[i], net->save1[i], x, w, b, op->eps, op->momentum, n,
                                                 op->C, op->HW, (net->plan[i] & PLAN_RELU_FUSED) != 0);
            else {
                cnnrt_batchnorm_forward_infer(y, x, net->buffers + op->rmean, net->buffers + op->rvar,
                                              w, b, op->eps, n, op->C, op->HW);
                if (net->plan[i] & PLAN_RELU_FUSED) cnnrt_relu_forward(y, y, cnt);
            }
            break;
        case CNNRT_OP_LAYERNORM:
            cnnrt_layernorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->D);
            break;
        case CNNRT_OP_INSTANCENORM:
            cnnrt_instancenorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->C, op->HW);
            break;
        case CNNRT_OP_GROUPNORM:
            cnnrt_groupnorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->C, op->HW, op->G);
            break;
        case CNNRT_OP_RELU:
            if (!(net->plan[i] & (PLAN_POOLFIRST | PLAN_BNRELU))) cnnrt_relu_forward(y, x, cnt);
            break;
        case CNNRT_OP_LEAKYRELU: cnnrt_leaky_relu_forward(y, x, op->slope, cnt); break;
        case CNNRT_OP_TANH: cnnrt_tanh_forward(y, x, cnt); break;
        case CNNRT_OP_SIGMOID: cnnrt_sigmoid_forward(y, x, cnt); break;
        case CNNRT_OP_SOFTMAX:
            if (op->HW == 1) {
                cnnrt_softmax_forward(y, x, n, op->C);
            } else {          /* over channels at each position: transpose through tmp */
                for (int s = 0; s < n; s++)
                    for (int p = 0; p < op->HW; p++) {
                        const float *xs = x + (size_t)s * op->D;
                        float *ys = y + (size_t)s * op->D;
                        float m = xs[p];
                        double z = 0;
                        for (int c = 1; c < op->C; c++) m = fmaxf(m, xs[c * op->HW + p]);
                        for (int c = 0; c < op->C; c++) z += exp((double)xs[c * op->HW + p] - m);
                        for (int c = 0; c < op->C; c++)
                            ys[c * op->HW + p] = (float)(exp((double)xs[c * op->HW + p] - m) / z);
                    }
            }
            break;
        case CNNRT_OP_DROPOUT:
            cnnrt_dropout_forward(y, net->save0[i], x, op->p, training, &net->rng, cnt);
            break;
        case CNNRT_OP_ADD:
            cnnrt_add_forward(y, x, net->val[in_val(net, op, 1)], cnt);
            for (int k = 2; k < op->nin; k++) cnnrt_add_forward(y, y, net->val[in_val(net, op, k)], cnt);
            break;
        case CNNRT_OP_CONCAT: {
            const float *xs[64];
            int cs[64];
            for (int k = 0; k < op->nin && k < 64; k++) {
                int v = in_val(net, op, k);
                xs[k] = net->val[v];
                cs[k] = (int)(d->value_size[v] / op->HW);
            }
            cnnrt_concat_forward(y, xs, cs, op->nin, n, op->HW);
            break;
        }
        case CNNRT_OP_COPY:
            if (!(net->plan[i] & PLAN_VIEW)) par_copy(y, x, cnt);
            break;
        }
    }
}

/* ---- backward ------------------------------------------------------------ */

/* g = (y ≤ 0 ? 0 : g): an in-place relu's backward (cnnrt_relu_backward's
 * mask, which passes g where y is NaN, as PyTorch's threshold_backward) */
CNNRT_WIDE static void relu_mask_k(float *g, const float *y, size_t cnt) {
    for (size_t j = 0; j < cnt; j++) g[j] = y[j] <= 0.0f ? 0.0f : g[j];
}
static void relu_mask(float *g, const float *y, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, relu_mask_k(g + lo, y + lo, hi - lo));
}

/* g += dy */
CNNRT_WIDE static void add_to_k(float *g, const float *dy, size_t cnt) {
    for (size_t j = 0; j < cnt; j++) g[j] += dy[j];
}
static void add_to(float *g, const float *dy, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, add_to_k(g + lo, dy + lo, hi - lo));
}

/* g = (x ≤ 0 ? 0 : dy): a relu's first contribution to g */
CNNRT_WIDE static void relu_set_k(float *g, const float *dy, const float *x, size_t cnt) {
    for (size_t j = 0; j < cnt; j++) g[j] = x[j] <= 0.0f ? 0.0f : dy[j];
}
static void relu_set(float *g, const float *dy, const float *x, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, relu_set_k(g + lo, dy + lo, x + lo, hi - lo));
}

/* Gradient buffers are not zeroed up front: the first contribution to a
 * buffer in a backward pass writes it (=) where the kernel can, and is
 * zeroed just before where it cannot.  grad_add: value v's buffer is about
 * to receive a contribution; 1 if it already holds some (add to them), 0 if
 * this is the first (write the whole buffer). */
static int grad_add(cnnrt_net *net, int v) {
    const int o = net->owner[v], add = !net->fresh[o];
    net->fresh[o] = 0;
    return add;
}

/* The same for a kernel that can only add: a first contribution finds zeros. */
static void grad_zeroed(cnnrt_net *net, int v, int n) {
    if (!grad_add(net, v)) par_zero(net->dval[v], (size_t)n * (size_t)net->d->value_size[v]);
}

static void backward(cnnrt_net *net, int n, int from) {
    const cnnrt_net_desc *d = net->d;
    const float *P = net->block;
    float *G = net->block + d->nparams;
    for (int i = from - 1; i >= 0; i--) {
        const cnnrt_op *op = &d->ops[i];
        int xv = in_val(net, op, 0);
        const float *x = net->val[xv];
        float *dx = xv == 0 ? NULL : net->dval[xv];       /* no gradient for the input */
        const float *y = net->val[op->out], *dy = net->dval[op->out];
        size_t cnt = (size_t)n * (size_t)d->value_size[op->out];
        const float *w = op->w >= 0 ? P + op->w : NULL;
        float *dw = op->w >= 0 ? G + op->w : NULL, *db = op->b >= 0 ? G + op->b : NULL;
        grad_zeroed(net, op->out, n);                     /* dy: zeros if nothing reached it */
        switch (op->kind) {                               /* inputs' gradients: see grad_add */
        case CNNRT_OP_CONV: case CNNRT_OP_DENSE: case CNNRT_OP_BATCHNORM: case CNNRT_OP_RELU:
        case CNNRT_OP_ADD: case CNNRT_OP_COPY: case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL:
            break;
        default:
            for (int k = 0; k < op->nin; k++)
                if (in_val(net, op, k) != 0) grad_zeroed(net, in_val(net, op, k), n);
            break;
        }
        switch (op->kind) {
        case CNNRT_OP_CONV:
            /* forward: y = act(conv(x)) */
            cnnrt_conv2d_backward_ex(dx, dx ? grad_add(net, xv) : 1, dw, db,
                                     act_backward(op->act, op->slope, net->tmp, dy, y, cnt), x, w, net->scratch, n,
                                     &op->conv);
            break;
        case CNNRT_OP_DENSE:
            cnnrt_dense_backward_ex(dx, dx ? grad_add(net, xv) : 1, dw, 0, db,   /* dW: see zero_param_grads */
                                    act_backward(op->act, op->slope, net->tmp, dy, y, cnt), x, w, n, op->D,
                                    (int)d->value_size[op->out]);
            break;
        case CNNRT_OP_MAXPOOL:
        case CNNRT_OP_GMAXPOOL:
            if (!dx) break;
            if (net->plan[i] & PLAN_RELU_AFTER) {         /* the relu's mask, on the pooled values */
                relu_set(net->tmp, dy, y, cnt);
                dy = net->tmp;
            }
            cnnrt_maxpool2d_backward_ex(dx, grad_add(net, xv), dy, net->argmax[i], n, &op->pool);
            break;
        case CNNRT_OP_AVGPOOL: if (dx) cnnrt_avgpool2d_backward(dx, dy, n, &op->pool); break;
        case CNNRT_OP_GAVGPOOL: if (dx) cnnrt_global_avgpool_backward(dx, dy, n, op->C, op->HW); break;
        case CNNRT_OP_ADAPTAVG:
            if (dx) cnnrt_adaptive_avgpool2d_backward(dx, dy, n, op->C, op->H, op->W, op->OH, op->OW);
            break;
        case CNNRT_OP_BATCHNORM:
            cnnrt_batchnorm_backward_train_ex(dx, dx ? grad_add(net, xv) : 1, dw, db, dy,
                                              (net->plan[i] & PLAN_RELU_FUSED) ? y : NULL, x, net->save0[i],
                                              net->save1[i], w, n, op->C, op->HW);
            break;
        case CNNRT_OP_LAYERNORM:
            cnnrt_layernorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->D);
            break;
        case CNNRT_OP_INSTANCENORM:
            cnnrt_instancenorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->C, op->HW);
            break;
        case CNNRT_OP_GROUPNORM:
            cnnrt_groupnorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->C, op->HW, op->G);
            break;
        case CNNRT_OP_RELU:
            if (net->plan[i] & (PLAN_POOLFIRST | PLAN_BNRELU)) {   /* done by the max pool after it, or the batch norm before */
            } else if (net->plan[i] & PLAN_INPLACE) {      /* dx is dy's buffer: dx = (y ≤ 0 ? 0 : dy) */
                float *g = net->dval[op->out];
                relu_mask(g, y, cnt);
            } else if (dx) {
                if (grad_add(net, xv)) cnnrt_relu_backward(dx, dy, x, cnt);
                else relu_set(dx, dy, x, cnt);
            }
            break;
        case CNNRT_OP_LEAKYRELU: if (dx) cnnrt_leaky_relu_backward(dx, dy, x, op->slope, cnt); break;
        case CNNRT_OP_TANH: if (dx) cnnrt_tanh_backward(dx, dy, y, cnt); break;
        case CNNRT_OP_SIGMOID: if (dx) cnnrt_sigmoid_backward(dx, dy, y, cnt); break;
        case CNNRT_OP_SOFTMAX:
            if (!dx) break;
            if (op->HW == 1) {
                cnnrt_softmax_backward(dx, dy, y, n, op->C);
            } else {          /* dx_c = y_c (dy_c − Σ_k y_k dy_k) at each position */
                for (int s = 0; s < n; s++)
                    for (int p = 0; p < op->HW; p++) {
                        const float *ys = y + (size_t)s * op->D, *gs = dy + (size_t)s * op->D;
                        float *dxs = dx + (size_t)s * op->D;
                        double dot = 0;
                        for (int c = 0; c < op->C; c++) dot += (double)ys[c * op->HW + p] * gs[c * op->HW + p];
                        for (int c = 0; c < op->C; c++)
                            dxs[c * op->HW + p] += (float)(ys[c * op->HW + p] * (gs[c * op->HW + p] - dot));
                    }
            }
            break;
        case CNNRT_OP_DROPOUT: if (dx) cnnrt_dropout_backward(dx, dy, net->save0[i], cnt); break;
        case CNNRT_OP_ADD:
            for (int k = 0; k < op->nin; k++) {
                int v = in_val(net, op, k);
                if (v == 0 || (k < 16 && (net->plan[i] & (PLAN_SHARE0 << k)))) continue;
                float *g = net->dval[v];
                if (grad_add(net, v)) add_to(g, dy, cnt);
                else par_copy(g, dy, cnt);
            }
            break;
        case CNNRT_OP_CONCAT: {
            float *dxs[64];
            int cs[64];
            for (int k = 0; k < op->nin && k < 64; k++) {
                int v = in_val(net, op, k);
                dxs[k] = v == 0 ? NULL : net->dval[v];
                cs[k] = (int)(d->value_size[v] / op->HW);
            }
            cnnrt_concat_backward(dxs, dy, cs, op->nin, n, op->HW);
            break;
        }
        case CNNRT_OP_COPY:
            if (dx && !(net->plan[i] & PLAN_SHARE0)) {
                if (grad_add(net, xv)) add_to(dx, dy, cnt);
                else par_copy(dx, dy, cnt);
            }
            break;
        }
    }
}

/* ---- steps --------------------------------------------------------------- */

/* Zero the parameter gradients, except the weights of the dense ops that
 * backward will run (below nops): their kernel writes dW (=), sparing a
 * pass over what is most of a LeNet's parameters. */
static void zero_param_grads(cnnrt_net *net, int nops) {
    const cnnrt_net_desc *d = net->d;
    float *G = net->block + d->nparams;
    long covered = 0;
    for (int t = 0; t < d->ntensors; t++)
        if (!d->tensors[t].buffer) covered += d->tensors[t].numel;
    if (covered != d->nparams) {                  /* not every parameter is a tensor: zero them all */
        par_zero(G, (size_t)d->nparams);
        return;
    }
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        if (ts->buffer) continue;
        const cnnrt_op *op = ts->op >= 0 && ts->op < d->nops ? &d->ops[ts->op] : NULL;
        if (op && ts->op < nops && op->kind == CNNRT_OP_DENSE && ts->off == op->w) continue;
        par_zero(G + ts->off, (size_t)ts->numel);
    }
}

static float loss_and_grads(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets, int n) {
    const cnnrt_net_desc *d = net->d;
    if (n < 1 || n > net->max_batch) return NAN;
    memcpy(net->val[0], x, sizeof(float) * (size_t)n * (size_t)d->value_size[0]);
    int nops = net->softmax_last && net->o.loss == CNNRT_LOSS_XENT ? d->nops - 1 : d->nops;
    forward(net, n, 1, nops);
    for (int v = 1; v < d->nvalues; v++)      /* value 0, the input, has no gradient */
        net->fresh[v] = net->zero[v];
    zero_param_grads(net, nops);
    int lv = loss_value(net);
    int K = (int)d->value_size[lv];
    float loss;
    if (net->o.loss == CNNRT_LOSS_MSE)
        loss = cnnrt_mse(net->dval[lv], net->val[lv], targets, (size_t)n * (size_t)K);
    else
        loss = cnnrt_softmax_xent(net->dval[lv], net->val[lv], labels, net->o.label_smoothing, n, K);
    net->fresh[net->owner[lv]] = 0;           /* the loss wrote its gradient (=) */
    backward(net, n, nops);
    return loss;
}

float cnnrt_net_loss_and_grads(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets,
                               int n) {
    return loss_and_grads(net, x, labels, targets, n);
}

/* The first op (in forward order) with a non-finite parameter gradient. */
/* 1 when g[0..n) holds a NaN or an infinity: Σ g·0 is ±0 when every g is
 * finite, else NaN (sixteen partial sums, so the loop vectorises) */
CNNRT_WIDE static int any_bad(const float *g, size_t n) {
    float s[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int l = 0; l < 16; l++) s[l] += g[k + l] * 0.0f;
    for (; k < n; k++) s[0] += g[k] * 0.0f;
    float t = 0.0f;
    for (int l = 0; l < 16; l++) t += s[l];
    return t != 0.0f;
}

static int first_bad(const cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    const float *G = net->block + d->nparams;
    /* quick check first, shared over the threads */
    const size_t np = (size_t)d->nparams;
    int bad = 0;
#pragma omp parallel reduction(| : bad) if (np >= PAR_MIN)
    {
        size_t lo, hi;
        par_share(np, 16, &lo, &hi);
        bad |= any_bad(G + lo, hi - lo);
    }
    if (!bad) return -1;
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        if (ts->buffer) continue;
        for (long i = 0; i < ts->numel; i++)
            if (!isfinite(G[ts->off + i])) return ts->op;
    }
    return -1;
}

float cnnrt_net_train_step(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets, int n) {
    const cnnrt_net_desc *d = net->d;
    if (net->o.loss == CNNRT_LOSS_XENT) {
        int K = (int)d->value_size[loss_value(net)];
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= K) return NAN;
    }
    float loss = loss_and_grads(net, x, labels, targets, n);
    net->bad_op = first_bad(net);
    if (!isfinite(loss) || net->bad_op >= 0) {
        if (net->bad_op < 0) net->bad_op = d->nops - 1;
        return NAN;
    }
    double lr = cnnrt_lr_at(&net->o.lr, net->step);
    float *P = net->block, *G = P + d->nparams, *S = G + d->nparams;
    cnnrt_optim_step(P, S, G, &net->o.optim, lr, net->step + 1, (size_t)d->nparams);
    net->step++;
    return loss;
}

int cnnrt_net_eval(cnnrt_net *net, const float *x, int n, float *out) {
    const cnnrt_net_desc *d = net->d;
    for (int done = 0; done < n; done += net->max_batch) {
        int m = n - done < net->max_batch ? n - done : net->max_batch;
        memcpy(net->val[0], x + (size_t)done * (size_t)d->value_size[0],
               sizeof(float) * (size_t)m * (size_t)d->value_size[0]);
        forward(net, m, 0, d->nops);
        memcpy(out + (size_t)done * (size_t)d->out_size, net->val[d->output],
               sizeof(float) * (size_t)m * (size_t)d->out_size);
    }
    return 0;
}

/* ---- checkpoints ------------------------------------------------------------
 * The names, slots and metadata of docs/checkpoint.md; slots in the order
 * of cnnrt_optim_step's state blocks.  This is file IO: it allocates (temporarily), never prints. */

static int slot_names(const cnnrt_optim *o, const char *names[3]) {
    int k = 0;
    switch (o->kind) {
    case CNNRT_SGD: if (o->momentum != 0) names[k++] = "momentum_buffer"; break;
    case CNNRT_ADAGRAD: names[k++] = "sum"; break;
    case CNNRT_RMSPROP:
        names[k++] = "square_avg";
        if (o->momentum > 0) names[k++] = "momentum_buffer";
        if (o->centered) names[k++] = "grad_avg";
        break;
    case CNNRT_ADAM: case CNNRT_ADAMW: names[k++] = "exp_avg"; names[k++] = "exp_avg_sq"; break;
    }
    return k;
}

static const char *optim_name(cnnrt_optim_kind k) {
    switch (k) {
    case CNNRT_SGD: return "sgd";
    case CNNRT_ADAGRAD: return "adagrad";
    case CNNRT_RMSPROP: return "rmsprop";
    case CNNRT_ADAM: return "adam";
    case CNNRT_ADAMW: return "adamw";
    }
    return "?";
}

/* The tensors of a checkpoint: parameters and buffers, then each moment slot. */
typedef struct CkList {
    cnnrt_ckpt_tensor *t;
    float **dst;
    char *names;             /* one buffer for all slot names */
    int n;
} CkList;

static int cklist(cnnrt_net *net, int with_optim, CkList *l) {
    const cnnrt_net_desc *d = net->d;
    const char *slots[3];
    int ns = with_optim ? slot_names(&net->o.optim, slots) : 0;
    size_t nt = (size_t)d->ntensors * (size_t)(1 + ns);
    size_t namebytes = 0;
    for (int i = 0; i < d->ntensors; i++)
        if (!d->tensors[i].buffer) namebytes += (size_t)ns * (strlen(d->tensors[i].name) + 40);
    memset(l, 0, sizeof *l);
    l->t = calloc(nt + 1, sizeof *l->t);
    l->dst = calloc(nt + 1, sizeof *l->dst);
    l->names = malloc(namebytes + 1);
    if (!l->t || !l->dst || !l->names) return CNNRT_ENOMEM;
    char *np = l->names;
    for (int s = -1; s < ns; s++)
        for (int i = 0; i < d->ntensors; i++) {
            const cnnrt_tensor *ts = &d->tensors[i];
            if (s >= 0 && ts->buffer) continue;
            cnnrt_ckpt_tensor *c = &l->t[l->n];
            c->ndim = ts->ndim;
            for (int k = 0; k < ts->ndim; k++) c->shape[k] = ts->dims[k];
            if (s < 0) {
                c->name = ts->name;
                l->dst[l->n] = (ts->buffer ? net->buffers : net->block) + ts->off;
            } else {
                int w = sprintf(np, "%s%s.%s", CNNRT_OPTIM_PREFIX, slots[s], ts->name);
                c->name = np;
                np += w + 1;
                l->dst[l->n] = net->block + (size_t)d->nparams * (size_t)(2 + s) + ts->off;
            }
            c->data = l->dst[l->n];
            l->n++;
        }
    return CNNRT_OK;
}

static void cklist_free(CkList *l) {
    free(l->t);
    free(l->dst);
    free(l->names);
}

int cnnrt_net_save(cnnrt_net *net, const char *path, const cnnrt_ckpt_meta *extra, int nextra,
                   char *err, size_t errlen) {
    CkList l;
    int rc = cklist(net, 1, &l);
    if (rc != CNNRT_OK) {
        cklist_free(&l);
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
        return rc;
    }
    char step[32], seed[32], rng[48], arch[24];
    snprintf(step, sizeof step, "%ld", net->step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)net->o.seed);
    snprintf(rng, sizeof rng, "%016llx,%016llx", (unsigned long long)net->rng.state,
             (unsigned long long)net->rng.inc);
    snprintf(arch, sizeof arch, "%016llx", (unsigned long long)net->d->hash);
    cnnrt_ckpt_meta meta[32];
    int nm = 0;
    meta[nm++] = (cnnrt_ckpt_meta){ "format", "cnnc-checkpoint-1" };
    meta[nm++] = (cnnrt_ckpt_meta){ "network", net->d->name };
    meta[nm++] = (cnnrt_ckpt_meta){ "arch", arch };
    meta[nm++] = (cnnrt_ckpt_meta){ "step", step };
    meta[nm++] = (cnnrt_ckpt_meta){ "seed", seed };
    meta[nm++] = (cnnrt_ckpt_meta){ "rng", rng };
    meta[nm++] = (cnnrt_ckpt_meta){ "optimizer", optim_name(net->o.optim.kind) };
    for (int i = 0; i < nextra && nm < 32; i++) meta[nm++] = extra[i];
    rc = cnnrt_ckpt_save(path, l.t, l.n, meta, nm, err, errlen);
    cklist_free(&l);
    return rc;
}

int cnnrt_net_load(cnnrt_net *net, const char *path, int with_state, char *err, size_t errlen) {
    cnnrt_ckpt *ck = NULL;
    int rc = cnnrt_ckpt_open(path, &ck, err, errlen);
    if (rc != CNNRT_OK) return rc;
    /* resume: only into the structure the checkpoint was trained on */
    const char *arch = cnnrt_ckpt_meta_get(ck, "arch"), *name = cnnrt_ckpt_meta_get(ck, "network");
    char mine[24];
    snprintf(mine, sizeof mine, "%016llx", (unsigned long long)net->d->hash);
    if (with_state && (!arch || strcmp(arch, mine) != 0)) {
        if (err && errlen && !arch)
            snprintf(err, errlen, "%s: the checkpoint has no 'arch' metadata (the structure of the network it "
                     "was trained on): not a cnnc training checkpoint, cannot resume", path);
        else if (err && errlen)
            snprintf(err, errlen, "%s: cannot resume: the checkpoint's network '%s' and the network '%s' "
                     "differ in structure (layers, attributes, shapes or wiring: arch %.16s, not %s)",
                     path, name ? name : "?", net->d->name, arch, mine);
        cnnrt_ckpt_close(ck);
        return CNNRT_EFORMAT;
    }
    const char *opt = cnnrt_ckpt_meta_get(ck, "optimizer");
    if (with_state && opt && strcmp(opt, optim_name(net->o.optim.kind)) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: the checkpoint was trained with %s, not %s: its optimizer state "
                     "cannot be resumed", path, opt, optim_name(net->o.optim.kind));
        cnnrt_ckpt_close(ck);
        return CNNRT_EFORMAT;
    }
    CkList l;
    rc = cklist(net, with_state, &l);
    if (rc == CNNRT_OK) rc = cnnrt_ckpt_check(ck, l.t, l.n, 1, err, errlen);
    /* read everything into a copy first: a bad file changes nothing */
    size_t total = 0;
    for (int i = 0; rc == CNNRT_OK && i < l.n; i++) {
        size_t e = 1;
        for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
        total += e;
    }
    float *tmp = rc == CNNRT_OK ? malloc((total + 1) * sizeof(float)) : NULL;
    if (rc == CNNRT_OK && !tmp) rc = CNNRT_ENOMEM;
    size_t off = 0;
    for (int i = 0; rc == CNNRT_OK && i < l.n; i++) {
        size_t e = 1;
        for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
        rc = cnnrt_ckpt_read(ck, l.t[i].name, l.t[i].ndim, l.t[i].shape, tmp + off, err, errlen);
        off += e;
    }
    long step = net->step;
    cnnrt_rng rng = net->rng;
    if (rc == CNNRT_OK && with_state) {
        const char *s = cnnrt_ckpt_meta_get(ck, "step"), *r = cnnrt_ckpt_meta_get(ck, "rng");
        unsigned long long a, b;
        char *end;
        if (!s || !r || (step = strtol(s, &end, 10)) < 0 || *end ||
            sscanf(r, "%16llx,%16llx", &a, &b) != 2) {
            if (err && errlen)
                snprintf(err, errlen, "%s: metadata 'step' and 'rng' are missing or malformed: "
                         "not a cnnc training checkpoint, cannot resume", path);
            rc = CNNRT_EFORMAT;
        } else {
            rng.state = a;
            rng.inc = b;
        }
    }
    if (rc == CNNRT_OK) {
        off = 0;
        for (int i = 0; i < l.n; i++) {
            size_t e = 1;
            for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
            memcpy(l.dst[i], tmp + off, e * sizeof(float));
            off += e;
        }
        if (with_state) {
            net->step = step;
            net->rng = rng;
        }
    }
    free(tmp);
    cklist_free(&l);
    cnnrt_ckpt_close(ck);
    return rc;
}
