/*
 * net_plan.c — lay out a training net: the sizes of what each op saves,
 * the plan cnnc computed (which buffers values and gradients share),
 * checked and applied, the one allocation, the initial weights, and the
 * accessors of the net object.
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
    case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL: case CNNRT_OP_MAXPOOL3D: *am = op->D; break;
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
        float *dst = (ts->buffer ? net->buffers : net->block) + ts->off;
        const char *dot = strrchr(ts->name, '.');
        if (ts->constant)
            for (long k = 0; k < ts->numel; k++) dst[k] = ts->init;
        else
            cnnrt_init_tensor(dst, ts->numel, dot ? dot + 1 : ts->name, ts->fan_in, &r);
    }
}

/* ---- the plan ----------------------------------------------------------------
 * cnnc lowers the description to a plan (compiler/train_plan.c explains
 * each flag and when it is safe): which values share a forward or gradient
 * buffer and which relus run in place or fused.  Here it is only checked —
 * every index in range, shared buffers of equal size, each flag on an op of
 * its kind, each shared buffer explained by a flag — and applied. */

static int plan_error(char *err, size_t errlen, const cnnrt_net_desc *d, int i, const char *what) {
    if (err && errlen)
        snprintf(err, errlen, "network '%s': invalid training plan: %s%s%s%s", d->name ? d->name : "?",
                 i >= 0 ? "op " : "", i >= 0 && d->ops[i].name ? d->ops[i].name : "", i >= 0 ? ": " : "", what);
    return -1;
}

static int check_plan(const cnnrt_net_desc *d, char *err, size_t errlen) {
    const int nv = d->nvalues;
    for (int i = 0; i < d->nops; i++) {                  /* the wiring the plan refers to */
        const cnnrt_op *op = &d->ops[i];
        if (op->out <= 0 || op->out >= nv || op->nin < 1 || op->in0 < 0) return plan_error(err, errlen, d, i, "bad wiring");
        if (op->act < 0 || op->act >= CNNRT_ACT_COUNT || (op->kind == CNNRT_OP_ACT && op->act == CNNRT_ACT_NONE))
            return plan_error(err, errlen, d, i, "no such activation");
        for (int k = 0; k < op->nin; k++)
            if (op_in(d, op, k) < 0 || op_in(d, op, k) >= nv)
                return plan_error(err, errlen, d, i, "bad wiring");
        if (op->kind == CNNRT_OP_CONV || op->kind == CNNRT_OP_CONVT) {     /* a geometry that fits its values */
            cnnrt_conv_geom g = op->conv;
            const int conv = op->kind == CNNRT_OP_CONV;
            long in, out;
            if (cnnrt_conv_geom_finish(&g) != CNNRT_OK || g.OH != op->conv.OH || g.OW != op->conv.OW ||
                __builtin_mul_overflow((long)g.C * g.H, (long)g.W, &in) ||
                __builtin_mul_overflow((long)g.Cout * g.OH, (long)g.OW, &out) ||
                d->value_size[op_in(d, op, 0)] != (conv ? in : out) || d->value_size[op->out] != (conv ? out : in))
                return plan_error(err, errlen, d, i, "a convolution's geometry does not fit its values");
        }
        if (op->kind == CNNRT_OP_CONV3D) {
            cnnrt_conv3d_geom g = op->conv3;
            long in = (long)g.C * g.D * g.H * g.W, out = (long)g.Cout * g.OD * g.OH * g.OW;
            if (cnnrt_conv3d_geom_finish(&g) != CNNRT_OK || g.OD != op->conv3.OD || g.OH != op->conv3.OH ||
                g.OW != op->conv3.OW || d->value_size[op_in(d, op, 0)] != in || d->value_size[op->out] != out)
                return plan_error(err, errlen, d, i, "a convolution's geometry does not fit its values");
        }
        if (op->kind == CNNRT_OP_MAXPOOL3D || op->kind == CNNRT_OP_AVGPOOL3D || op->kind == CNNRT_OP_ADAPTAVG3D) {
            cnnrt_pool3d_geom g = op->pool3;
            long in = (long)g.C * g.D * g.H * g.W, out = (long)g.C * g.OD * g.OH * g.OW;
            if ((op->kind != CNNRT_OP_ADAPTAVG3D && (cnnrt_pool3d_geom_finish(&g) != CNNRT_OK ||
                 g.OD != op->pool3.OD || g.OH != op->pool3.OH || g.OW != op->pool3.OW)) ||
                g.C < 1 || g.D < 1 || g.H < 1 || g.W < 1 || g.OD < 1 || g.OH < 1 || g.OW < 1 ||
                d->value_size[op_in(d, op, 0)] != in || d->value_size[op->out] != out ||
                (op->kind == CNNRT_OP_MAXPOOL3D && op->D != out))
                return plan_error(err, errlen, d, i, "a pool's geometry does not fit its values");
        }
        if (cnnrt_op_fuses_act(op->kind) && op->act != CNNRT_ACT_NONE &&
            !cnnrt_act_table[op->act].bwd_y(op->act_a, op->act_b))
            return plan_error(err, errlen, d, i, "a fused activation whose backward needs its input "
                                                 "(it must be an op of its own)");
    }
    if (!d->op_plan && !d->value_buf && !d->grad_buf) return 0;      /* no plan: nothing shared */
    if (!d->op_plan || !d->value_buf || !d->grad_buf) return plan_error(err, errlen, d, -1, "incomplete");
    const int *vb = d->value_buf, *gb = d->grad_buf;
    for (int v = 0; v < nv; v++) {
        if (vb[v] < 0 || vb[v] >= nv || vb[vb[v]] != vb[v] || (vb[v] == 0) != (v == 0) ||
            d->value_size[vb[v]] != d->value_size[v])
            return plan_error(err, errlen, d, -1, "a value shares a buffer it cannot");
        if (v > 0 && (gb[v] <= 0 || gb[v] >= nv || gb[gb[v]] != gb[v] || d->value_size[gb[v]] != d->value_size[v]))
            return plan_error(err, errlen, d, -1, "a gradient shares a buffer it cannot");
    }
    const int known = CNNRT_PLAN_VIEW | CNNRT_PLAN_INPLACE | CNNRT_PLAN_POOLFIRST | CNNRT_PLAN_RELU_AFTER |
                      CNNRT_PLAN_BNRELU | CNNRT_PLAN_RELU_FUSED |
                      (((1 << CNNRT_PLAN_MAX_SHARE) - 1) * CNNRT_PLAN_SHARE0);
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        const int f = d->op_plan[i], x = op_in(d, op, 0), y = op->out;
        const int relu = op->kind == CNNRT_OP_ACT && op->act == CNNRT_ACT_RELU, inplace = (f & CNNRT_PLAN_INPLACE) != 0;
        int share = f / CNNRT_PLAN_SHARE0 & ((1 << CNNRT_PLAN_MAX_SHARE) - 1);
        if ((f & ~known) ||
            ((f & CNNRT_PLAN_VIEW) && (op->kind != CNNRT_OP_COPY || vb[y] != vb[x])) ||
            (inplace && (!relu || vb[y] != vb[x] || gb[x] != gb[y])) ||
            ((f & (CNNRT_PLAN_POOLFIRST | CNNRT_PLAN_BNRELU)) && !inplace) ||
            ((f & CNNRT_PLAN_RELU_AFTER) && op->kind != CNNRT_OP_MAXPOOL && op->kind != CNNRT_OP_GMAXPOOL) ||
            ((f & CNNRT_PLAN_RELU_FUSED) && op->kind != CNNRT_OP_BATCHNORM) ||
            (share && op->kind != CNNRT_OP_ADD && op->kind != CNNRT_OP_COPY) ||
            (op->nin < CNNRT_PLAN_MAX_SHARE && (share >> op->nin)))
            return plan_error(err, errlen, d, i, "a flag this op cannot have");
        for (int k = 0; share; k++, share >>= 1)
            if ((share & 1) && gb[op_in(d, op, k)] != gb[y])
                return plan_error(err, errlen, d, i, "a shared gradient that is not shared");
        if (vb[y] != y && !(f & (CNNRT_PLAN_VIEW | CNNRT_PLAN_INPLACE)))
            return plan_error(err, errlen, d, i, "its output shares a buffer with no flag saying so");
    }
    for (int v = 1; v < nv; v++) {                       /* every shared gradient buffer explained */
        if (gb[v] == v) continue;
        int why = 0;
        for (int i = 0; i < d->nops && !why; i++) {
            const cnnrt_op *op = &d->ops[i];
            for (int k = 0; k < op->nin && !why; k++)
                if (op_in(d, op, k) == v &&
                    (((d->op_plan[i] & CNNRT_PLAN_INPLACE) && k == 0) ||
                     (k < CNNRT_PLAN_MAX_SHARE && (d->op_plan[i] & (CNNRT_PLAN_SHARE0 << k)))))
                    why = 1;
        }
        if (!why) return plan_error(err, errlen, d, -1, "a gradient shares a buffer with no flag saying so");
    }
    return 0;
}

/* Apply a checked plan: buffers aliased, one owner per gradient buffer. */
static void apply_plan(cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    for (int i = 0; i < d->nops; i++) net->plan[i] = d->op_plan ? d->op_plan[i] : 0;
    for (int v = 0; v < d->nvalues; v++) {
        if (d->value_buf) net->val[v] = net->val[d->value_buf[v]];
        if (d->grad_buf && v > 0) net->dval[v] = net->dval[d->grad_buf[v]];
    }
    for (int v = 1; v < d->nvalues; v++) {               /* one owner per buffer: its first value */
        net->owner[v] = v;
        for (int u = v - 1; u >= 1; u--)
            if (net->dval[u] == net->dval[v]) net->owner[v] = u;
        net->zero[v] = (char)(net->owner[v] == v);
    }
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
    if (check_plan(d, err, errlen) != 0) return NULL;    /* before any size is taken from an op */

    /* sizes, in floats (argmax as int32 counts the same) */
    size_t B = (size_t)max_batch;
    size_t total = 0, maxval = 0, scratch = 0, tmp2 = 0;
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
        if (op->kind == CNNRT_OP_CONV || op->kind == CNNRT_OP_CONVT || op->kind == CNNRT_OP_CONV3D) {
            size_t s = op->kind == CNNRT_OP_CONV3D ? cnnrt_conv3d_scratch_floats(&op->conv3, max_batch)
                                                   : cnnrt_conv_scratch_floats(&op->conv, max_batch);
            if (s > scratch) scratch = s;
        }
        if (op->kind == CNNRT_OP_CONVT) tmp2 = 1;
    }
    total += scratch + (1 + tmp2) * B * maxval;
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
    net->tmp = p; p += B * maxval;
    net->tmp2 = tmp2 ? p : NULL;
    const cnnrt_op *last = &d->ops[d->nops - 1];
    net->softmax_last = last->kind == CNNRT_OP_SOFTMAX && last->out == d->output;
    apply_plan(net);
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
