/*
 * shape.c — infer every tensor's shape and what each layer costs.
 *
 * Walks the IR in topological order and runs each node's shape rule (the
 * `shape` hook of its kind, compiler/kind_*.c): its output shape by
 * PyTorch's formulas (docs/internals.md, "Conventions"), its learnable
 * parameter count, its MACs (conv and dense only, bias excluded), the rest
 * of its arithmetic ("other ops", documented in docs/report.md), its
 * receptive field in input pixels (size and jump, unclipped, the maximum
 * over all paths) and its output bytes.  A mismatch is reported at the
 * layer that causes it, naming both shapes; later layers fed by a broken
 * one are skipped silently.  The helpers the rules share are here.
 *
 * All arithmetic is checked: a count past 2^62, or a tensor past
 * CNNC_MAX_NUMEL elements, is an error, never a wrap-around.
 */
#include "kind.h"

#include <string.h>

bool shape_mul(long long a, long long b, long long *r) {
    return !__builtin_mul_overflow(a, b, r) && *r <= SHAPE_LIMIT;
}

const char *shape_who(const Node *n) {
    return arena_printf("%s '%s'", n->kind->name, n->name);
}

bool shape_check_numel(Node *n) {
    long long a, b;
    if (n->shape.rank == 1) a = n->shape.c;
    else if (!shape_mul(n->shape.c, n->shape.d, &b) || !shape_mul(b, n->shape.h, &b) ||
             !shape_mul(b, n->shape.w, &a)) a = SHAPE_LIMIT + 1;
    if (a > CNNC_MAX_NUMEL) {
        const char *count = a > SHAPE_LIMIT ? "more than 2^62" : fmt_group(a);
        diag_error(n->loc, "%s: its output %s has %s elements; a tensor may have at most 2^40 (%s)",
                   shape_who(n), shape_str(n->shape), count, fmt_group(CNNC_MAX_NUMEL));
        return false;
    }
    return true;
}

bool shape_need_chw(Node *n, const Shape *in) {
    if (in->rank == 3) return true;
    diag_error(n->loc, "%s needs a C×H×W input, but its input is %s (flattened)", shape_who(n), shape_str(*in));
    return false;
}

/* Output length of a window op along one axis, PyTorch's rule. */
bool shape_window(Node *n, const Shape *in, const char *axis, long long len, long long k, long long s,
                   long long d, long long p0, long long p1, bool ceil_mode, bool pool, long long *out) {
    long long ek = d * (k - 1) + 1;
    long long padded = len + p0 + p1;
    long long o = cnnrt_out_size(len, p0, p1, k, s, d, pool && ceil_mode);
    if (o < 1) {
        const char *kernel = shape_sizes(in, n->kd, n->kh, n->kw, "×");
        if (d > 1)
            diag_error(n->loc, "%s: kernel %s with dilation %lld spans %lld %s, more than its input %s "
                       "has with padding (%lld: %lld + %lld + %lld)", shape_who(n), kernel, d, ek, axis,
                       shape_str(*in), padded, len, p0, p1);
        else
            diag_error(n->loc, "%s: kernel %s is larger than its input %s with padding "
                       "(%lld %s: %lld + %lld + %lld)", shape_who(n), kernel, shape_str(*in), padded, axis,
                       len, p0, p1);
        return false;
    }
    *out = o;
    return true;
}

void shape_rf_window(Node *n, const Node *in, long long kh, long long kw, long long sh, long long sw,
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

void shape_rf_copy(Node *n, const Node *in) {
    n->rf_valid = in->rf_valid;
    n->rf_h = in->rf_h; n->rf_w = in->rf_w;
    n->jump_h = in->jump_h; n->jump_w = in->jump_w;
}


const char *shape_sizes(const Shape *in, long long d, long long h, long long w, const char *sep) {
    if (in->sp == 1) return arena_printf("%lld", w);
    if (in->sp == 3) return arena_printf("%lld%s%lld%s%lld", d, sep, h, sep, w);
    return arena_printf("%lld%s%lld", h, sep, w);
}

bool shape_same(Shape a, Shape b) {
    return a.rank == b.rank && a.c == b.c && (a.rank == 1 || (a.sp == b.sp && a.d == b.d && a.h == b.h && a.w == b.w));
}

/* The receptive field of a join: the largest over its inputs (null if one is). */
void shape_rf_max(Node *n) {
    n->rf_valid = true;
    for (int i = 0; i < n->nin; i++) {
        const Node *p = n->in[i];
        if (!p->rf_valid) { n->rf_valid = false; break; }
        if (p->rf_h > n->rf_h) n->rf_h = p->rf_h;
        if (p->rf_w > n->rf_w) n->rf_w = p->rf_w;
        if (p->jump_h > n->jump_h) n->jump_h = p->jump_h;
        if (p->jump_w > n->jump_w) n->jump_w = p->jump_w;
    }
}

/* relu & co.: the input's shape, one op per value */
bool shape_elementwise(Node *n) {
    n->shape = n->in[0]->shape;
    n->other_ops = shape_numel(n->shape);
    shape_rf_copy(n, n->in[0]);
    return true;
}

/* dropout, identity: the input's shape, no work */
bool shape_passthrough(Node *n) {
    n->shape = n->in[0]->shape;
    shape_rf_copy(n, n->in[0]);
    return true;
}

/* A windowed layer's sizes against its input's axes: a signal's layer takes
 * one size per attribute (k3), an image's one or two (k3, k3x1), a
 * volume's one or three (k3, k3x3x3).  A signal is held as 1×L, so its
 * layer's height sizes become 1 (kernel, stride, dilation, output size)
 * and 0 (padding); an image's layer has depth 1, no depth padding. */
static const char *const axes_name[4] = { "", "a signal (C×L)", "an image (C×H×W)", "a volume (C×D×H×W)" };

static bool shape_axes(Node *n, const Shape *in) {
    const LayerKind *k = n->kind;
    if (in->sp == 3 && k->no_volume) {
        diag_error(n->loc, "%s works on signals and images, not on %s like its input %s", shape_who(n),
                   axes_name[3], shape_str(*in));
        return false;
    }
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++) {
        const AttrDef *a = &k->attrs[i];
        int c = n->nsizes[i];
        if (a->type != A_PAIR && a->type != A_PAD) continue;
        if (c == 0) continue;                        /* not given, or 'same' */
        if ((in->sp == 1 && c > 1) || (in->sp == 2 && c == 3) || (in->sp == 3 && c == 2)) {
            const char *ok = in->sp == 1 ? "one size (N)" : in->sp == 2 ? "N or HxW" : "N or DxHxW";
            diag_error(n->loc, "%s: its %s has %d sizes, but its input %s is %s: give %s", shape_who(n), a->name,
                       c, shape_str(*in), axes_name[in->sp], ok);
            return false;
        }
    }
    #define ZERO_H(f, one) do { if (n->f) n->f = (one); } while (0)
    if (in->sp == 1) {
        ZERO_H(kh, 1); ZERO_H(sh, 1); ZERO_H(dh, 1); ZERO_H(oh, 1); ZERO_H(oph, 0);
        n->pt = n->pb = 0;
    }
    if (in->sp != 3) {
        n->kd = n->sd = n->dd = n->od = 1;
        n->pd0 = n->pd1 = 0;
    }
    #undef ZERO_H
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
        if (skip || (i == 0 && n->shape.rank == 0) ||
            (n->nin > 0 && n->in[0]->shape.rank == 3 && !shape_axes(n, &n->in[0]->shape)) || !n->kind->shape(n)) {
            bad[i] = true;
            continue;
        }
        n->act_bytes = shape_numel(n->shape) * 4;
    }
    diag_set_context(NULL);
    return diag_error_count() - before;
}
