/*
 * kind_upsample.c — upsampling, whole: nearest or bilinear (PyTorch's
 * align_corners either way), by an integer scale factor or to a size.  How
 * it is written, its shape rule, its generated code (templates/pool.m4),
 * its PyTorch call and the cnnrt op it trains as (runtime/upsample.c).
 * The source coordinates are PyTorch's (area_pixel_compute_source_index):
 * nearest floor(dst·in/out); bilinear (dst + ½)·in/out − ½, clamped at 0,
 * or with align_corners dst·(in − 1)/(out − 1).  No receptive field is
 * reported after it.
 */
#include "kind.h"

static bool upsample_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (!shape_need_chw(n, in)) return false;
    if (n->align_corners && !n->bilinear) {
        diag_error(n->loc, "%s: align_corners applies to bilinear upsampling only (as in PyTorch)", shape_who(n));
        return false;
    }
    if (!n->oh == !n->sh) {
        diag_error(n->loc, "%s: give a scale factor or a size (one of the two)", shape_who(n));
        return false;
    }
    long long oh, ow;
    if (n->oh) {
        oh = n->oh, ow = n->ow;
    } else if (!shape_mul(in->h, n->sh, &oh) || !shape_mul(in->w, n->sw, &ow)) {
        diag_error(n->loc, "%s: the output size overflows", shape_who(n));
        return false;
    }
    n->shape = shape_like(in, in->c, 1, oh, ow);
    if (!shape_check_numel(n)) return false;
    n->other_ops = shape_numel(n->shape) * (n->bilinear ? 7 : 0);
    n->rf_valid = false;
    return true;
}

/* PyTorch's ratio of source to output coordinates, in float as it computes it */
static float ratio(const Node *n, long long in, long long out) {
    if (n->align_corners) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return (float)in / (float)out;
}

static int upsample_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, n->bilinear ? "upsample (bilinear)" : "upsample (nearest)");
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_BILINEAR", "%d", n->bilinear);
    em_def(e, "L_ALIGN", "%d", n->align_corners);
    em_def(e, "L_RH", "%s", em_float((double)ratio(n, in->h, n->shape.h)));
    em_def(e, "L_RW", "%s", em_float((double)ratio(n, in->w, n->shape.w)));
    em_call(e, "M4_UPSAMPLE");
    return 0;
}

static const char *upsample_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    const Shape *x = &n->in[0]->shape;
    const char *how = n->oh ? arena_printf("size=%s", py_sizes(x, 1, n->oh, n->ow))
                            : arena_printf("scale_factor=%s", py_sizes(x, 1, n->sh, n->sw));
    const char *linear = x->sp == 1 ? "linear" : "bilinear";
    return arena_printf("F.interpolate(%s, %s, mode=\"%s\"%s)", in[0], how, n->bilinear ? linear : "nearest",
                        n->bilinear ? (n->align_corners ? ", align_corners=True" : ", align_corners=False") : "");
}

static void upsample_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_UPSAMPLE;
    op->G = n->bilinear;
    op->D = n->align_corners;
}

const LayerKind kind_upsample = {
    .id = K_UPSAMPLE, .name = "upsample", .summary = "nearest or bilinear upsampling by a factor or to a size",
    .positional = { "scale" },
    .attrs = {
        { "scale", A_PAIR, 0, "0", "integer factor: N or HxW (or give size)", F(sh), F(sw), 0 },
        { "size", A_PAIR, 0, "0", "output size: N or HxW (instead of scale)", F(oh), F(ow), 0 },
        { "bilinear", A_BOOL, 0, "false", "bilinear interpolation (else nearest)", F(bilinear), 0, 0 },
        { "align_corners", A_BOOL, 0, "false", "bilinear: corners align (PyTorch's align_corners)",
          F(align_corners), 0, 0 },
    },
    .flags = { { "bilinear", "bilinear", "true" }, { "nearest", "bilinear", "false" } },
    .user = true, .pytorch = "nn.Upsample",
    .shape = upsample_shape, .emit = upsample_emit, .py_call = upsample_py_call, .train = upsample_train,
    .dot = DOT_POOL, .no_volume = true,
};
