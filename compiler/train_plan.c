/*
 * train_plan.c — lower a training description to its plan: which values
 * share a buffer, which ops run in place or fused.  cnnrt validates the
 * plan and executes it (runtime/net_plan.c, net_exec.c); it decides nothing
 * itself.
 *
 * Values are written once, by the op that produces them, so some buffers
 * can be shared.  Per op, CNNRT_PLAN_* flags (runtime/cnnrt_net.h):
 *   VIEW      a COPY (flatten) whose output is its input's buffer: no copy.
 *   INPLACE   a RELU computed in place over its input x, when x has no
 *             other reader and its producer's backward never reads its own
 *             output; the gradient is shared too, and backward masks it in
 *             place (y ≤ 0 iff x ≤ 0, y NaN iff x NaN, so the saved output
 *             serves as x).
 *   SHARE0…   an ADD or COPY whose input k gets the output's gradient
 *             buffer itself (∂y/∂x_k = 1): its backward skips that input.
 *             Allowed when every other reader of x_k comes earlier in
 *             forward order, so their backward passes, which accumulate
 *             into the shared buffer, run after this op's backward has
 *             read it.  A two-input ADD may give it to both inputs
 *             (share_second: a ResNet block's add, no copy at all).
 *   POOLFIRST an in-place RELU whose only reader is a max pool: the pool
 *             runs first, on x itself, and the relu after it, in place on
 *             the pool's output (RELU_AFTER on the pool), over a quarter
 *             of the values (2×2).  relu and max pooling commute,
 *             max(relu(a), relu(b)) = relu(max(a, b)), and so do their
 *             gradients: the pool's backward routes (pooled ≤ 0 ? 0 : dy)
 *             to the window's first maximum, which is where the relu's
 *             mask lets the original's through.  A NaN commutes too (both
 *             orders give NaN, and its gradient goes to the window's last
 *             NaN), and ±0 are equal values: only the sign of a zero
 *             output may differ (pool first: relu(max(−1, −0.0)) = −0.0;
 *             relu first: +0.0).
 *   BNRELU    an in-place RELU (not POOLFIRST) whose input comes from a
 *             batch norm: the batch norm writes relu(y) itself and, in
 *             backward, masks dy as it reads it (RELU_FUSED on the batch
 *             norm); the relu does nothing.  The same bits, one pass fewer
 *             each way.
 * Per value: value_buf[v], the value whose forward buffer v uses, and
 * grad_buf[v], the value whose gradient buffer v uses (v itself when it
 * has its own; always a value that has its own).  Backward runs in reverse
 * order, so a gradient buffer is complete when its value's producer reads
 * it.
 */
#include "cnnc.h"

#include "cnnrt_net.h"

typedef struct Planner {
    const cnnrt_net_desc *d;
    int *plan, *vbuf, *gbuf;
    int *nuse, *prod, *last;        /* per value: readers, producing op, last reading op */
    int keep1, keep2;               /* values the loss or the caller read: never shared */
} Planner;

static int in_val(const Planner *p, const cnnrt_op *op, int k) { return p->d->inputs[op->in0 + k]; }

/* does op's backward read its own output value? */
static bool reads_own_output(const cnnrt_op *op) {
    switch (op->kind) {
    case CNNRT_OP_CONV: case CNNRT_OP_CONVT: case CNNRT_OP_DENSE: case CNNRT_OP_CONV3D:
        return op->act != CNNRT_ACT_NONE;
    case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL: case CNNRT_OP_AVGPOOL: case CNNRT_OP_GAVGPOOL:
    case CNNRT_OP_MAXPOOL3D: case CNNRT_OP_AVGPOOL3D: case CNNRT_OP_ADAPTAVG3D:
    case CNNRT_OP_ADAPTAVG: case CNNRT_OP_BATCHNORM: case CNNRT_OP_LAYERNORM: case CNNRT_OP_INSTANCENORM:
    case CNNRT_OP_GROUPNORM: case CNNRT_OP_DROPOUT: case CNNRT_OP_ADD: case CNNRT_OP_CONCAT:
    case CNNRT_OP_SHUFFLE: case CNNRT_OP_SLICE: case CNNRT_OP_MUL: case CNNRT_OP_UPSAMPLE:
    case CNNRT_OP_PAD: case CNNRT_OP_SUB: case CNNRT_OP_MEAN:
        return false;
    default: return true;
    }
}

/* does another value than v use buf[v]'s buffer? */
static bool shared(const Planner *p, const int *buf, int v) {
    for (int u = 0; u < p->d->nvalues; u++)
        if (u != v && buf[u] == buf[v]) return true;
    return false;
}

/* A residual add a + b whose input a already has the output's gradient
 * buffer G (SHARE0): b may have it too, sparing the copy, when a's
 * gradient is complete and read before anything else adds to b's.  That
 * holds when the add is a's only reader, a's producer only reads its
 * output's gradient (a conv, dense or batchnorm, whose backward writes
 * other buffers) and comes after b's other readers in forward order: in
 * backward it reads G (= a's gradient) before b's other readers add their
 * contributions to G (= b's gradient).  A ResNet block's add and its
 * shortcut.  Same conditions on b as for a (below). */
static void share_second(Planner *p, int i) {
    const cnnrt_net_desc *d = p->d;
    const cnnrt_op *op = &d->ops[i];
    const int k1 = (p->plan[i] & CNNRT_PLAN_SHARE0) ? 0 : 1, k2 = 1 - k1;
    const int a = in_val(p, op, k1), b = in_val(p, op, k2);
    if (b <= 0 || b == a || b == p->keep1 || b == p->keep2 || p->last[b] != i || p->nuse[a] != 1 || p->prod[a] < 0)
        return;
    const cnnrt_op *pa = &d->ops[p->prod[a]];
    if ((pa->kind != CNNRT_OP_CONV && pa->kind != CNNRT_OP_CONV3D && pa->kind != CNNRT_OP_DENSE &&
         pa->kind != CNNRT_OP_BATCHNORM) ||
        p->plan[p->prod[a]] != 0)
        return;
    for (int r = 0; r < d->nops; r++) {                  /* b's other readers: before a's producer */
        if (r == i) continue;
        for (int k = 0; k < d->ops[r].nin; k++)
            if (in_val(p, &d->ops[r], k) == b && r > p->prod[a]) return;
    }
    if (shared(p, p->gbuf, b)) return;                   /* b's buffer must be its own */
    p->gbuf[b] = p->gbuf[op->out];
    p->plan[i] |= CNNRT_PLAN_SHARE0 << k2;
}

void train_plan(cnnrt_net_desc *d) {
    int nv = d->nvalues;
    Planner p = { d, arena_alloc(sizeof(int) * (size_t)d->nops), arena_alloc(sizeof(int) * (size_t)nv),
                  arena_alloc(sizeof(int) * (size_t)nv), arena_alloc(sizeof(int) * (size_t)nv),
                  arena_alloc(sizeof(int) * (size_t)nv), arena_alloc(sizeof(int) * (size_t)nv), 0, 0 };
    for (int v = 0; v < nv; v++) {
        p.vbuf[v] = p.gbuf[v] = v;
        p.prod[v] = p.last[v] = -1;
    }
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        p.prod[op->out] = i;
        for (int k = 0; k < op->nin; k++) {
            p.nuse[in_val(&p, op, k)]++;
            p.last[in_val(&p, op, k)] = i;
        }
    }
    p.keep1 = d->output;
    p.keep2 = in_val(&p, &d->ops[d->nops - 1], 0);
    for (int i = 0; i < d->nops; i++) {                  /* forward order: value buffers */
        const cnnrt_op *op = &d->ops[i];
        int x = in_val(&p, op, 0);
        bool keep = op->out == p.keep1 || op->out == p.keep2;
        if (op->kind == CNNRT_OP_COPY && x > 0 && !keep) {
            p.vbuf[op->out] = p.vbuf[x];
            p.plan[i] |= CNNRT_PLAN_VIEW;
        } else if (op->kind == CNNRT_OP_ACT && op->act == CNNRT_ACT_RELU && x > 0 && x != p.keep1 && x != p.keep2 && p.nuse[x] == 1 &&
                   p.prod[x] >= 0 && !reads_own_output(&d->ops[p.prod[x]]) &&
                   d->ops[p.prod[x]].kind != CNNRT_OP_COPY && !keep && !shared(&p, p.vbuf, x)) {
            p.vbuf[op->out] = p.vbuf[x];                 /* x's buffer must be its own */
            p.plan[i] |= CNNRT_PLAN_INPLACE;
        }
    }
    for (int i = 0; i < d->nops; i++) {                  /* relu, then max pool: pool first */
        const int b = d->ops[i].out, j = p.last[b];
        if (!(p.plan[i] & CNNRT_PLAN_INPLACE) || b == p.keep1 || b == p.keep2 || p.nuse[b] != 1 || j <= i)
            continue;
        const cnnrt_op *pool = &d->ops[j];
        if ((pool->kind != CNNRT_OP_MAXPOOL && pool->kind != CNNRT_OP_GMAXPOOL) || pool->nin != 1) continue;
        if (shared(&p, p.vbuf, pool->out)) continue;     /* the pool's output buffer must be its own */
        p.plan[i] |= CNNRT_PLAN_POOLFIRST;
        p.plan[j] |= CNNRT_PLAN_RELU_AFTER;
    }
    for (int i = 0; i < d->nops; i++) {                  /* batch norm, then relu: one op */
        if (!(p.plan[i] & CNNRT_PLAN_INPLACE) || (p.plan[i] & CNNRT_PLAN_POOLFIRST)) continue;
        const int bn = p.prod[in_val(&p, &d->ops[i], 0)];
        if (d->ops[bn].kind != CNNRT_OP_BATCHNORM) continue;
        p.plan[i] |= CNNRT_PLAN_BNRELU;
        p.plan[bn] |= CNNRT_PLAN_RELU_FUSED;
    }
    for (int i = d->nops - 1; i >= 0; i--) {             /* reverse order: gradient buffers */
        const cnnrt_op *op = &d->ops[i];
        if (p.plan[i] & CNNRT_PLAN_INPLACE) {            /* x's only reader: its gradient is dy's buffer */
            p.gbuf[in_val(&p, op, 0)] = p.gbuf[op->out];
            continue;
        }
        if (op->kind != CNNRT_OP_ADD && op->kind != CNNRT_OP_COPY) continue;
        if (op->out == p.keep1 || op->out == p.keep2) continue;
        for (int k = 0; k < op->nin && k < CNNRT_PLAN_MAX_SHARE; k++) {
            int x = in_val(&p, op, k);
            bool twice = false;
            for (int j = 0; j < op->nin; j++)
                if (j != k && in_val(&p, op, j) == x) twice = true;
            if (x <= 0 || x == p.keep1 || x == p.keep2 || twice || p.last[x] != i || shared(&p, p.gbuf, x))
                continue;
            p.gbuf[x] = p.gbuf[op->out];
            p.plan[i] |= CNNRT_PLAN_SHARE0 << k;
            break;                                       /* one input per op, but see share_second */
        }
        if (op->kind == CNNRT_OP_ADD && op->nin == 2 &&
            (p.plan[i] & (CNNRT_PLAN_SHARE0 | CNNRT_PLAN_SHARE0 << 1)))
            share_second(&p, i);
    }
    d->op_plan = p.plan;
    d->value_buf = p.vbuf;
    d->grad_buf = p.gbuf;
}
