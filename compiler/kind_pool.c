/*
 * kind_pool.c — the pooling layers, whole: max and average pooling over a
 * window, global max and average pooling, adaptive average pooling.  For
 * each: how it is written, its shape rule and costs, its generated code,
 * its PyTorch call and the cnnrt op it trains as.
 */
#include "kind.h"

static bool pool_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (!shape_need_chw(n, in)) return false;
    if (n->pd0 * 2 > n->kd || n->pt * 2 > n->kh || n->pl * 2 > n->kw) {
        diag_error(n->loc, "%s: padding %s is more than half the kernel %s (PyTorch's limit)", shape_who(n),
                   shape_sizes(in, n->pd0, n->pt, n->pl, "x"), shape_sizes(in, n->kd, n->kh, n->kw, "x"));
        return false;
    }
    if (in->sp == 3 && n->kind->id == K_AVGPOOL && (in->d < n->kd || in->h < n->kh || in->w < n->kw)) {
        /* PyTorch's AvgPool3d refuses it, whatever the padding (its 1-D and 2-D pools do not) */
        diag_error(n->loc, "%s: kernel %lldx%lldx%lld is larger than its input %s (PyTorch's AvgPool3d "
                   "refuses that even with padding)", shape_who(n), n->kd, n->kh, n->kw, shape_str(*in));
        return false;
    }
    long long od, oh, ow;
    if (!shape_window(n, in, "slices", in->d, n->kd, n->sd, 1, n->pd0, n->pd1, n->ceil, true, &od) ||
        !shape_window(n, in, "rows", in->h, n->kh, n->sh, 1, n->pt, n->pb, n->ceil, true, &oh) ||
        !shape_window(n, in, "columns", in->w, n->kw, n->sw, 1, n->pl, n->pr, n->ceil, true, &ow))
        return false;
    n->shape = shape_like(in, in->c, od, oh, ow);
    n->other_ops = shape_numel(n->shape) * n->kd * n->kh * n->kw;
    shape_rf_window(n, x, n->kh, n->kw, n->sh, n->sw, 1, 1);
    return true;
}

static int pool_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, n->kind->name);
    em_def(e, "L_OP", "%s", n->kind->id == K_MAXPOOL ? "MAX" : "AVG");
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw);
    em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_INCPAD", "%d", n->count_include_pad ? 1 : 0);
    if (in->sp == 3) {
        em_def(e, "L_D", "%lld", in->d); em_def(e, "L_OD", "%lld", n->shape.d);
        em_def(e, "L_KD", "%lld", n->kd); em_def(e, "L_SD", "%lld", n->sd); em_def(e, "L_PF", "%lld", n->pd0);
    }
    em_call(e, in->sp == 3 ? "M4_POOL3D" : "M4_POOL");
    return 0;
}

/* int8 (pass_quant.c): max pooling keeps its input's map (max commutes with
 * it); global average pooling requantizes the sum over each channel */
static int maxpool_quant(Node *n) {
    if (n->in[0]->shape.sp == 3) {
        diag_error(n->loc, "maxpool '%s': cnnc has no int8 code for 3-D pools yet", n->name);
        return 1;
    }
    const Node *x = quant_input(n, 0);
    n->q_scale = x->q_scale, n->q_zp = x->q_zp;
    quant_clamp(n);
    return 0;
}

static int maxpool_emit_q8(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "int8 maxpool");
    em_q8(e, n);
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw);
    em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_call(e, "M4_Q8_MAXPOOL");
    return 0;
}

static int gavgpool_quant(Node *n) {
    const Node *x = quant_input(n, 0);
    n->q_mult = arena_alloc(sizeof(int32_t));
    n->q_shift = arena_alloc(sizeof(int32_t));
    double m = (double)x->q_scale / ((double)n->q_scale * (double)shape_hw(n->in[0]->shape));
    return quant_requant_of(n, m, n->q_mult, n->q_shift);
}

static int gavgpool_emit_q8(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "int8 globalavgpool");
    em_q8(e, n);
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_def(e, "L_MULT", "%ld", (long)n->q_mult[0]);
    em_def(e, "L_SHIFT", "%ld", (long)n->q_shift[0]);
    em_call(e, "M4_Q8_GAVGPOOL");
    return 0;
}

/* F.max_pool2d(x, kernel, stride, padding ...) in its input's rank */
static const char *pool_py_args(const Node *n, const char *fn, const char *x) {
    const Shape *in = &n->in[0]->shape;
    return arena_printf("F.%s%s(%s, %s, %s, %s%s", fn, py_dims(in), x, py_sizes(in, n->kd, n->kh, n->kw),
                        py_sizes(in, n->sd, n->sh, n->sw), py_sizes(in, n->pd0, n->pt, n->pl),
                        n->ceil ? ", ceil_mode=True" : "");
}

static const char *maxpool_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("%s)", pool_py_args(n, "max_pool", in[0]));
}

static const char *avgpool_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("%s%s)", pool_py_args(n, "avg_pool", in[0]),
                        n->count_include_pad ? "" : ", count_include_pad=False");
}

static void pool_train(const Node *n, cnnrt_op *op) {
    const Shape *in = &n->in[0]->shape;
    bool max = n->kind->id == K_MAXPOOL;
    if (in->sp == 3) {
        op->kind = max ? CNNRT_OP_MAXPOOL3D : CNNRT_OP_AVGPOOL3D;
        op->pool3 = (cnnrt_pool3d_geom){ (int)in->c, (int)in->d, (int)in->h, (int)in->w,
            (int)n->kd, (int)n->kh, (int)n->kw, (int)n->sd, (int)n->sh, (int)n->sw,
            (int)n->pd0, (int)n->pt, (int)n->pl, n->ceil, n->count_include_pad,
            (int)n->shape.d, (int)n->shape.h, (int)n->shape.w };
    } else {
        op->kind = max ? CNNRT_OP_MAXPOOL : CNNRT_OP_AVGPOOL;
        op->pool = (cnnrt_pool_geom){ (int)in->c, (int)in->h, (int)in->w, (int)n->kh, (int)n->kw,
            (int)n->sh, (int)n->sw, (int)n->pt, (int)n->pl, n->ceil, n->count_include_pad,
            (int)n->shape.h, (int)n->shape.w };
    }
    if (max) op->D = (int)shape_numel(n->shape);
}

#define CEIL { "ceil", A_BOOL, 0, "false", "ceil instead of floor for the output size", F(ceil), 0, 0 }

const LayerKind kind_maxpool = {
    .id = K_MAXPOOL, .name = "maxpool", .summary = "max pooling",
    .positional = { "kernel", "stride" },
    .attrs = { ATTR_KERNEL, ATTR_STRIDEK, ATTR_PAD, CEIL },
    .flags = { { "ceil", "ceil", "true" } },
    .user = true, .pytorch = "nn.MaxPool1d, 2d, 3d",
    .shape = pool_shape, .emit = pool_emit, .quant = maxpool_quant, .emit_q8 = maxpool_emit_q8, .py_call = maxpool_py_call, .train = pool_train,
    .dot = DOT_POOL,
};

const LayerKind kind_avgpool = {
    .id = K_AVGPOOL, .name = "avgpool", .summary = "average pooling",
    .positional = { "kernel", "stride" },
    .attrs = { ATTR_KERNEL, ATTR_STRIDEK, ATTR_PAD, CEIL,
        { "count_include_pad", A_BOOL, 0, "true", "padding zeros count in the divisor", F(count_include_pad), 0, 0 },
    },
    .flags = { { "ceil", "ceil", "true" }, { "exclude_pad", "count_include_pad", "false" } },
    .user = true, .pytorch = "nn.AvgPool1d, 2d, 3d",
    .shape = pool_shape, .emit = pool_emit, .py_call = avgpool_py_call, .train = pool_train,
    .dot = DOT_POOL,
};

/* ---- global pooling ---------------------------------------------------------- */

static bool gpool_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (!shape_need_chw(n, in)) return false;
    n->shape = shape_like(in, in->c, 1, 1, 1);
    n->other_ops = shape_numel(*in);
    return true;
}

static int gpool_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, n->kind->name);
    em_def(e, "L_OP", "%s", n->kind->id == K_GMAXPOOL ? "MAX" : "AVG");
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_call(e, "M4_GPOOL");
    return 0;
}

static const char *gavgpool_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("F.adaptive_avg_pool%s(%s, 1)", py_dims(&n->in[0]->shape), in[0]);
}

static const char *gmaxpool_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("F.adaptive_max_pool%s(%s, 1)", py_dims(&n->in[0]->shape), in[0]);
}

static void gavgpool_train(const Node *n, cnnrt_op *op) {
    (void)n;
    op->kind = CNNRT_OP_GAVGPOOL;
}

static void gmaxpool_train(const Node *n, cnnrt_op *op) {
    const Shape *in = &n->in[0]->shape;
    int h = (int)(in->d * in->h);       /* a volume's D·H rows: the argmax is the same index */
    op->kind = CNNRT_OP_GMAXPOOL;
    op->pool = (cnnrt_pool_geom){ (int)in->c, h, (int)in->w, h, (int)in->w, 1, 1, 0, 0, 0, 1, 1, 1 };
    op->D = (int)shape_numel(n->shape);
}

const LayerKind kind_gavgpool = {
    .id = K_GAVGPOOL, .name = "globalavgpool", .alias = "gap",
    .summary = "mean over the spatial axes: C×H×W to C×1×1",
    .user = true, .pytorch = "nn.AdaptiveAvgPool2d(1) (1d, 3d)",
    .shape = gpool_shape, .emit = gpool_emit, .quant = gavgpool_quant, .emit_q8 = gavgpool_emit_q8, .py_call = gavgpool_py_call, .train = gavgpool_train,
    .dot = DOT_POOL,
};

const LayerKind kind_gmaxpool = {
    .id = K_GMAXPOOL, .name = "globalmaxpool", .summary = "max over the spatial axes: C×H×W to C×1×1",
    .user = true, .pytorch = "nn.AdaptiveMaxPool2d(1) (1d, 3d)",
    .shape = gpool_shape, .emit = gpool_emit, .py_call = gmaxpool_py_call, .train = gmaxpool_train,
    .dot = DOT_POOL,
};

/* ---- adaptive average pooling ---------------------------------------------- */

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

static bool adaptavg_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (!shape_need_chw(n, in)) return false;
    n->shape = shape_like(in, in->c, n->od, n->oh, n->ow);
    if (!shape_check_numel(n)) return false;
    n->other_ops = shape_numel(*in);
    if (n->oh == in->h && n->ow == in->w) {
        shape_rf_copy(n, x);                          /* the identity */
    } else if (in->h % n->oh == 0 && in->w % n->ow == 0) {
        long long kh = in->h / n->oh, kw = in->w / n->ow;   /* exact windows */
        shape_rf_window(n, x, kh, kw, kh, kw, 1, 1);
    } else {
        /* uneven windows [floor(i·H/OH), ceil((i+1)·H/OH)): the largest one
         * bounds the RF; the jump is the smallest step between starts */
        long long kh = adaptive_window(in->h, n->oh), kw = adaptive_window(in->w, n->ow);
        long long sh = in->h / n->oh, sw = in->w / n->ow;
        shape_rf_window(n, x, kh, kw, sh > 0 ? sh : 1, sw > 0 ? sw : 1, 1, 1);
    }
    return true;
}

static int adaptavg_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, n->kind->name);
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    if (in->sp == 3) { em_def(e, "L_D", "%lld", in->d); em_def(e, "L_OD", "%lld", n->shape.d); }
    em_call(e, in->sp == 3 ? "M4_ADAPTIVE3D" : "M4_ADAPTIVE");
    return 0;
}

static const char *adaptavg_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    const Shape *x = &n->in[0]->shape;
    return arena_printf("F.adaptive_avg_pool%s(%s, %s)", py_dims(x), in[0], py_sizes(x, n->od, n->oh, n->ow));
}

static void adaptavg_train(const Node *n, cnnrt_op *op) {
    const Shape *in = &n->in[0]->shape;
    if (in->sp != 3) { op->kind = CNNRT_OP_ADAPTAVG; return; }
    op->kind = CNNRT_OP_ADAPTAVG3D;
    op->pool3 = (cnnrt_pool3d_geom){ .C = (int)in->c, .D = (int)in->d, .H = (int)in->h, .W = (int)in->w,
        .OD = (int)n->shape.d, .OH = (int)n->shape.h, .OW = (int)n->shape.w };
}

const LayerKind kind_adaptavg = {
    .id = K_ADAPTAVG, .name = "adaptiveavgpool", .summary = "average pooling to a fixed output size",
    .positional = { "size" },
    .attrs = { { "size", A_PAIR, 0, NULL, "output size: N, HxW or DxHxW", F(oh), F(ow), F(od) } },
    .user = true, .pytorch = "nn.AdaptiveAvgPool1d, 2d, 3d",
    .shape = adaptavg_shape, .emit = adaptavg_emit, .py_call = adaptavg_py_call, .train = adaptavg_train,
    .dot = DOT_POOL,
};
