/*
 * kind_pad.c — the padding layer, whole: zeros, reflect or replicate,
 * the same on every side or each side its own.  How it is written, its
 * shape rule, its generated code (templates/pool.m4), its PyTorch call
 * (F.pad) and the cnnrt op it trains as (runtime/upsample.c).
 *     pad 1                  one row and column of zeros on every side
 *     pad 1x2 reflect        1 above and below, 2 left and right, mirrored
 *     pad top=0 bottom=1 left=0 right=1 replicate
 */
#include "kind.h"

static bool pad_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (!shape_need_chw(n, in)) return false;
    if (n->pad_same) {
        diag_error(n->loc, "%s: padding must be N or HxW ('same' is a conv's)", shape_who(n));
        return false;
    }
    if (n->reflect && n->replicate) {
        diag_error(n->loc, "%s: reflect or replicate, not both", shape_who(n));
        return false;
    }
    if (n->reflect && (n->pt >= in->h || n->pb >= in->h || n->pl >= in->w || n->pr >= in->w)) {
        diag_error(n->loc, "%s: reflect padding must be smaller than the input %s (as in PyTorch)", shape_who(n),
                   shape_str(*in));
        return false;
    }
    long long oh = in->h + n->pt + n->pb, ow = in->w + n->pl + n->pr;
    n->shape = shape_like(in, in->c, 1, oh, ow);
    if (!shape_check_numel(n)) return false;
    shape_rf_copy(n, x);
    return true;
}

static const char *mode(const Node *n) { return n->reflect ? "reflect" : n->replicate ? "replicate" : "zeros"; }

static int pad_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, arena_printf("pad (%s)", mode(n)));
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_MODE", "%s", n->reflect ? "REFLECT" : n->replicate ? "REPLICATE" : "ZEROS");
    em_call(e, "M4_PADDING");
    return 0;
}

static const char *pad_py_call(const Node *n, const char *const *in, const char *m) {
    (void)m;
    const char *tb = n->in[0]->shape.sp == 1 ? "" : arena_printf(", %lld, %lld", n->pt, n->pb);
    return arena_printf("F.pad(%s, (%lld, %lld%s)%s)", in[0], n->pl, n->pr, tb,
                        n->reflect ? ", mode=\"reflect\"" : n->replicate ? ", mode=\"replicate\"" : "");
}

static void pad_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_PAD;
    op->G = n->reflect ? 1 : n->replicate ? 2 : 0;
    op->conv.PT = (int)n->pt; op->conv.PB = (int)n->pb;
    op->conv.PL = (int)n->pl; op->conv.PR = (int)n->pr;
}

const LayerKind kind_pad = {
    .id = K_PAD, .name = "pad", .summary = "padding: zeros, reflect or replicate; each side its own if wanted",
    .positional = { "padding" },
    .attrs = {
        { "padding", A_PAD, 'p', "0", "on each side: N or HxW", F(pt), 0, 0 },
        { "top", A_COUNT0, 0, "-1", "rows above (default: padding's)", F(pt), 0, 0 },
        { "bottom", A_COUNT0, 0, "-1", "rows below", F(pb), 0, 0 },
        { "left", A_COUNT0, 0, "-1", "columns on the left", F(pl), 0, 0 },
        { "right", A_COUNT0, 0, "-1", "columns on the right", F(pr), 0, 0 },
        { "reflect", A_BOOL, 0, "false", "mirror the input, its edge not repeated (PyTorch's reflect)",
          F(reflect), 0, 0 },
        { "replicate", A_BOOL, 0, "false", "repeat the edge", F(replicate), 0, 0 },
    },
    .flags = { { "reflect", "reflect", "true" }, { "replicate", "replicate", "true" } },
    .user = true, .pytorch = "F.pad / nn.ZeroPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d",
    .shape = pad_shape, .emit = pad_emit, .py_call = pad_py_call, .train = pad_train,
    .dot = DOT_SHAPE, .no_volume = true,
};
