/*
 * shape.c — infer every tensor's shape and what each layer costs.
 *
 * Walks the IR in topological order.  For each node: its output shape by
 * PyTorch's formulas (docs/internals.md, "Conventions"), its learnable
 * parameter count, its MACs
 * (conv and dense only, bias excluded), the rest of its arithmetic
 * ("other ops", documented in docs/report.md), its receptive field in input
 * pixels (size and jump, unclipped, the maximum over all paths) and its
 * output bytes.  A mismatch is reported at the layer that causes it, naming
 * both shapes; later layers fed by a broken one are skipped silently.
 *
 * All arithmetic is checked: a count past 2^62, or a tensor past
 * CNNC_MAX_NUMEL elements, is an error, never a wrap-around.
 */
#include "cnnc.h"
#include "cnnrt.h"   /* cnnrt_out_size (runtime/shape.c) */

#include <string.h>

#define LIMIT (1LL << 62)

static bool mul(long long a, long long b, long long *r) {
    return !__builtin_mul_overflow(a, b, r) && *r <= LIMIT;
}

static const char *who(const Node *n) {
    return arena_printf("%s '%s'", n->kind->name, n->name);
}

static bool check_numel(Node *n) {
    long long a, b;
    if (n->shape.rank == 1) a = n->shape.c;
    else if (!mul(n->shape.c, n->shape.h, &b) || !mul(b, n->shape.w, &a)) a = LIMIT + 1;
    if (a > CNNC_MAX_NUMEL) {
        const char *count = a > LIMIT ? "more than 2^62" : fmt_group(a);
        diag_error(n->loc, "%s: its output %s has %s elements; a tensor may have at most 2^40 (%s)",
                   who(n), shape_str(n->shape), count, fmt_group(CNNC_MAX_NUMEL));
        return false;
    }
    return true;
}

static bool need_chw(Node *n, const Shape *in) {
    if (in->rank == 3) return true;
    diag_error(n->loc, "%s needs a C×H×W input, but its input is %s (flattened)", who(n), shape_str(*in));
    return false;
}

/* Output length of a window op along one axis, PyTorch's rule. */
static bool window(Node *n, const Shape *in, const char *axis, long long len, long long k, long long s,
                   long long d, long long p0, long long p1, bool ceil_mode, bool pool, long long *out) {
    long long ek = d * (k - 1) + 1;
    long long padded = len + p0 + p1;
    long long o = cnnrt_out_size(len, p0, p1, k, s, d, pool && ceil_mode);
    if (o < 1) {
        const char *kernel = arena_printf("%lld×%lld", n->kh, n->kw);
        if (d > 1)
            diag_error(n->loc, "%s: kernel %s with dilation %lld spans %lld %s, more than its input %s "
                       "has with padding (%lld: %lld + %lld + %lld)", who(n), kernel, d, ek, axis,
                       shape_str(*in), padded, len, p0, p1);
        else
            diag_error(n->loc, "%s: kernel %s is larger than its input %s with padding "
                       "(%lld %s: %lld + %lld + %lld)", who(n), kernel, shape_str(*in), padded, axis,
                       len, p0, p1);
        return false;
    }
    *out = o;
    return true;
}

/* The largest window of an adaptive pool from len to out positions. */
static long long adaptive_window(long long len, long long out) {
    if (out > 1000000) return (len + out - 1) / out + 1;    /* a bound, for absurd sizes */
    long long best = 1;
    for (long long i = 0; i < out; i++) {
        long long a = i * len / out, b = ((i + 1) * len + out - 1) / out;
        if (b - a > best) best = b - a;
    }
    return best;
}

static void rf_window(Node *n, const Node *in, long long kh, long long kw, long long sh, long long sw,
                      long long dh, long long dw) {
    if (!in->rf_valid) return;
    /* absurd strides and dilations overflow: the field is then not reported ("-") */
    long long t;
    n->rf_valid = !__builtin_mul_overflow(dh, kh - 1, &t) && !__builtin_mul_overflow(t, in->jump_h, &t) &&
                  !__builtin_add_overflow(in->rf_h, t, &n->rf_h) &&
                  !__builtin_mul_overflow(dw, kw - 1, &t) && !__builtin_mul_overflow(t, in->jump_w, &t) &&
                  !__builtin_add_overflow(in->rf_w, t, &n->rf_w) &&
                  !__builtin_mul_overflow(in->jump_h, sh, &n->jump_h) &&
                  !__builtin_mul_overflow(in->jump_w, sw, &n->jump_w);
}

static void rf_copy(Node *n, const Node *in) {
    n->rf_valid = in->rf_valid;
    n->rf_h = in->rf_h; n->rf_w = in->rf_w;
    n->jump_h = in->jump_h; n->jump_w = in->jump_w;
}

static bool conv(Node *n, const Node *x) {
    const Shape *in = &x->shape;
    if (!need_chw(n, in)) return false;
    long long cin = in->c;
    if (cin % n->groups != 0) {
        diag_error(n->loc, "%s: groups %lld does not divide the %lld input channels", who(n), n->groups, cin);
        return false;
    }
    if (n->out % n->groups != 0) {
        diag_error(n->loc, "%s: groups %lld does not divide the %lld output channels", who(n), n->groups, n->out);
        return false;
    }
    if (n->pad_same) {
        if (n->sh != 1 || n->sw != 1) {
            diag_error(n->loc, "%s: padding 'same' needs stride 1 (as in PyTorch), but the stride is %lldx%lld",
                       who(n), n->sh, n->sw);
            return false;
        }
        long long th = n->dh * (n->kh - 1), tw = n->dw * (n->kw - 1);
        n->pt = th / 2; n->pb = th - n->pt;        /* the extra row goes at the bottom */
        n->pl = tw / 2; n->pr = tw - n->pl;
    }
    long long oh, ow;
    if (!window(n, in, "rows", in->h, n->kh, n->sh, n->dh, n->pt, n->pb, false, false, &oh) ||
        !window(n, in, "columns", in->w, n->kw, n->sw, n->dw, n->pl, n->pr, false, false, &ow))
        return false;
    n->shape = (Shape){ 3, n->out, oh, ow };
    if (!check_numel(n)) return false;
    long long per, k2, w, outs;
    if (!mul(cin / n->groups, n->kh, &per) || !mul(per, n->kw, &k2) || !mul(k2, n->out, &w) ||
        !mul(n->out, oh, &outs) || !mul(outs, ow, &outs) || !mul(outs, k2, &n->macs)) {
        diag_error(n->loc, "%s: the parameter or MAC count overflows", who(n));
        return false;
    }
    n->params = w + (n->bias ? n->out : 0);
    n->other_ops = (n->bias ? outs : 0) + (n->act != ACT_NONE ? outs : 0);
    rf_window(n, x, n->kh, n->kw, n->sh, n->sw, n->dh, n->dw);
    return true;
}

static bool pool(Node *n, const Node *x) {
    const Shape *in = &x->shape;
    if (!need_chw(n, in)) return false;
    if (n->pt * 2 > n->kh || n->pl * 2 > n->kw) {
        diag_error(n->loc, "%s: padding %lldx%lld is more than half the kernel %lldx%lld (PyTorch's limit)",
                   who(n), n->pt, n->pl, n->kh, n->kw);
        return false;
    }
    long long oh, ow;
    if (!window(n, in, "rows", in->h, n->kh, n->sh, 1, n->pt, n->pb, n->ceil, true, &oh) ||
        !window(n, in, "columns", in->w, n->kw, n->sw, 1, n->pl, n->pr, n->ceil, true, &ow))
        return false;
    n->shape = (Shape){ 3, in->c, oh, ow };
    n->other_ops = shape_numel(n->shape) * n->kh * n->kw;
    rf_window(n, x, n->kh, n->kw, n->sh, n->sw, 1, 1);
    return true;
}

static bool same_shape(Shape a, Shape b) {
    return a.rank == b.rank && a.c == b.c && (a.rank == 1 || (a.h == b.h && a.w == b.w));
}

static bool node_shape(Node *n) {
    const Node *x = n->nin > 0 ? n->in[0] : NULL;
    const Shape *in = x ? &x->shape : NULL;
    long long numel;
    if (act_of_kind(n->kind->id)) {          /* relu & co.: elementwise */
        n->shape = *in;
        n->other_ops = shape_numel(*in);
        rf_copy(n, x);
        return true;
    }
    switch (n->kind->id) {
    case K_INPUT:
        n->rf_valid = true;
        n->rf_h = n->rf_w = n->jump_h = n->jump_w = 1;
        return check_numel(n);
    case K_CONV:
        return conv(n, x);
    case K_DENSE:
        if (in->rank != 1) {
            diag_error(n->loc, "%s needs a flat input, but its input is %s; add 'flatten' before it",
                       who(n), shape_str(*in));
            return false;
        }
        n->shape = (Shape){ 1, n->out, 1, 1 };
        if (!mul(in->c, n->out, &n->macs)) {
            diag_error(n->loc, "%s: the parameter count overflows", who(n));
            return false;
        }
        n->params = n->macs + (n->bias ? n->out : 0);
        n->other_ops = (n->bias ? n->out : 0) + (n->act != ACT_NONE ? n->out : 0);
        return true;                              /* no spatial extent: RF null */
    case K_FLATTEN:
        n->shape = (Shape){ 1, shape_numel(*in), 1, 1 };
        return true;
    case K_MAXPOOL:
    case K_AVGPOOL:
        return pool(n, x);
    case K_GAVGPOOL:
    case K_GMAXPOOL:
        if (!need_chw(n, in)) return false;
        n->shape = (Shape){ 3, in->c, 1, 1 };
        n->other_ops = shape_numel(*in);
        return true;
    case K_ADAPTAVG:
        if (!need_chw(n, in)) return false;
        n->shape = (Shape){ 3, in->c, n->oh, n->ow };
        if (!check_numel(n)) return false;
        n->other_ops = shape_numel(*in);
        if (n->oh == in->h && n->ow == in->w) {
            rf_copy(n, x);                          /* the identity */
        } else if (in->h % n->oh == 0 && in->w % n->ow == 0) {
            long long kh = in->h / n->oh, kw = in->w / n->ow;   /* exact windows */
            rf_window(n, x, kh, kw, kh, kw, 1, 1);
        } else {
            /* uneven windows [floor(i·H/OH), ceil((i+1)·H/OH)): the largest one
             * bounds the RF; the jump is the smallest step between starts */
            long long kh = adaptive_window(in->h, n->oh), kw = adaptive_window(in->w, n->ow);
            long long sh = in->h / n->oh, sw = in->w / n->ow;
            rf_window(n, x, kh, kw, sh > 0 ? sh : 1, sw > 0 ? sw : 1, 1, 1);
        }
        return true;
    case K_BATCHNORM:
        n->shape = *in;
        n->params = 2 * in->c;
        n->other_ops = 2 * shape_numel(*in);
        rf_copy(n, x);
        return true;
    case K_LAYERNORM:
        n->shape = *in;
        numel = shape_numel(*in);
        n->params = n->affine ? 2 * numel : 0;
        n->other_ops = (n->affine ? 7 : 5) * numel;
        rf_copy(n, x);
        return true;
    case K_INSTANCENORM:
        if (!need_chw(n, in)) return false;
        n->shape = *in;
        n->params = n->affine ? 2 * in->c : 0;
        n->other_ops = (n->affine ? 7 : 5) * shape_numel(*in);
        rf_copy(n, x);
        return true;
    case K_GROUPNORM:
        if (in->c % n->groups != 0) {
            diag_error(n->loc, "%s: %lld groups do not divide the %lld channels", who(n), n->groups, in->c);
            return false;
        }
        n->shape = *in;
        n->params = n->affine ? 2 * in->c : 0;
        n->other_ops = (n->affine ? 7 : 5) * shape_numel(*in);
        rf_copy(n, x);
        return true;
    case K_SOFTMAX:
        n->shape = *in;
        n->other_ops = 3 * shape_numel(*in);
        rf_copy(n, x);
        return true;
    case K_DROPOUT: case K_IDENTITY:
        n->shape = *in;
        rf_copy(n, x);
        return true;
    case K_ADD:
        for (int i = 1; i < n->nin; i++)
            if (!same_shape(n->in[i]->shape, *in)) {
                diag_error(n->loc, "%s: input 1 is %s but input %d is %s", who(n), shape_str(*in), i + 1,
                           shape_str(n->in[i]->shape));
                if (in->rank == 3 && n->in[i]->shape.rank == 3)
                    diag_note(n->loc, "a residual whose body changes the shape needs a projection: "
                                      "'shortcut { conv ... }'");
                return false;
            }
        n->shape = *in;
        n->other_ops = (n->nin - 1) * shape_numel(*in);
        goto max_rf;
    case K_CONCAT: {
        long long c = 0;
        for (int i = 0; i < n->nin; i++) {
            const Shape *s = &n->in[i]->shape;
            if (s->rank != in->rank || (s->rank == 3 && (s->h != in->h || s->w != in->w))) {
                diag_error(n->loc, "%s: branch 1 is %s but branch %d is %s (%s)", who(n), shape_str(*in),
                           i + 1, shape_str(*s), s->rank != in->rank ? "one is flat" : "H×W must match");
                return false;
            }
            if (__builtin_add_overflow(c, s->c, &c) || c > LIMIT) c = LIMIT;
        }
        n->shape = *in;
        n->shape.c = c;
        if (!check_numel(n)) return false;
        goto max_rf;
    }
    default:                                  /* the activations (above), K_COUNT */
        break;
    }
    return false;

max_rf:
    n->rf_valid = true;
    for (int i = 0; i < n->nin; i++) {
        const Node *p = n->in[i];
        if (!p->rf_valid) { n->rf_valid = false; break; }
        if (p->rf_h > n->rf_h) n->rf_h = p->rf_h;
        if (p->rf_w > n->rf_w) n->rf_w = p->rf_w;
        if (p->jump_h > n->jump_h) n->jump_h = p->jump_h;
        if (p->jump_w > n->jump_w) n->jump_w = p->jump_w;
    }
    return true;
}

int shape_check(Graph *g) {
    int before = diag_error_count();
    bool *bad = arena_alloc(sizeof(bool) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        diag_set_context(n->via);
        bool skip = false;
        for (int j = 0; j < n->nin; j++) skip |= bad[n->in[j]->id];
        if (skip || (i == 0 && n->shape.rank == 0) || !node_shape(n)) {
            bad[i] = true;
            continue;
        }
        n->act_bytes = shape_numel(n->shape) * 4;
    }
    diag_set_context(NULL);
    return diag_error_count() - before;
}
