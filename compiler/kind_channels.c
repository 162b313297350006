/*
 * kind_channels.c — the kinds that move whole channels, whole: ShuffleNet's
 * channel shuffle and channel split (a slice of the channels).  How each is
 * written, its shape rule, its generated code (templates/eltwise.m4), its
 * PyTorch expression and the cnnrt op it trains as (runtime/channels.c).
 * ShuffleNet v2's unit:
 *     concat { split a 1; seq b { split s 2; conv ... } }
 *     shuffle 2
 */
#include "kind.h"

/* ---- shuffle ---------------------------------------------------------------- */

static bool shuffle_shape(Node *n) {
    const Node *x = n->in[0];
    if (!shape_need_chw(n, &x->shape)) return false;
    if (x->shape.c % n->groups != 0) {
        diag_error(n->loc, "%s: %lld groups do not divide the %lld channels", shape_who(n), n->groups, x->shape.c);
        return false;
    }
    n->shape = x->shape;
    shape_rf_copy(n, x);
    return true;
}

static int shuffle_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "shuffle");
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_def(e, "L_GROUPS", "%lld", n->groups);
    em_call(e, "M4_SHUFFLE");
    return 0;
}

static const char *shuffle_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    /* reshape, not unflatten: torch.onnx.export (opset 17) has no unflatten */
    const Shape *x = &n->in[0]->shape;
    const char *sp = x->sp == 1 ? arena_printf("%lld", x->w)
                   : x->sp == 3 ? arena_printf("%lld, %lld, %lld", x->d, x->h, x->w)
                                : arena_printf("%lld, %lld", x->h, x->w);
    return arena_printf("%s.reshape(-1, %lld, %lld, %s).transpose(1, 2).reshape(-1, %lld, %s)", in[0], n->groups,
                        x->c / n->groups, sp, x->c, sp);
}

static void shuffle_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_SHUFFLE;
    op->G = (int)n->groups;
}

const LayerKind kind_shuffle = {
    .id = K_SHUFFLE, .name = "shuffle", .summary = "channel shuffle: C×H×W as g groups of C/g, transposed",
    .positional = { "groups" },
    .attrs = { { "groups", A_INT, 'g', NULL, "number of channel groups", F(groups), 0, 0 } },
    .user = true, .pytorch = "nn.ChannelShuffle",
    .shape = shuffle_shape, .emit = shuffle_emit, .py_call = shuffle_py_call, .train = shuffle_train,
    .dot = DOT_SHAPE,
};

/* ---- split -------------------------------------------------------------------- */

static bool split_shape(Node *n) {
    const Node *x = n->in[0];
    if (!shape_need_chw(n, &x->shape)) return false;
    if (n->part > n->parts) {
        diag_error(n->loc, "%s: part %lld of %lld: there is no such part", shape_who(n), n->part, n->parts);
        return false;
    }
    if (x->shape.c % n->parts != 0) {
        diag_error(n->loc, "%s: %lld parts do not divide the %lld channels", shape_who(n), n->parts, x->shape.c);
        return false;
    }
    n->shape = x->shape;
    n->shape.c = x->shape.c / n->parts;
    shape_rf_copy(n, x);
    return true;
}

static int split_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "split");
    em_def(e, "L_FIRST", "%lld", (n->part - 1) * n->shape.c * shape_hw(*in));
    em_def(e, "L_N", "%lld", shape_numel(n->shape));
    em_call(e, "M4_SLICE");
    return 0;
}

static const char *split_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("torch.chunk(%s, %lld, 1)[%lld]", in[0], n->parts, n->part - 1);
}

static void split_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_SLICE;
    op->G = (int)((n->part - 1) * n->shape.c);
}

const LayerKind kind_split = {
    .id = K_SPLIT, .name = "split", .summary = "one of equal slices of the channels (part 1 is the first)",
    .positional = { "part", "parts" },
    .attrs = {
        { "part", A_INT, 0, NULL, "which slice, from 1", F(part), 0, 0 },
        { "parts", A_INT, 0, "2", "how many equal slices", F(parts), 0, 0 },
    },
    .user = true, .pytorch = "torch.chunk(x, parts, 1)[part - 1]",
    .shape = split_shape, .emit = split_emit, .py_call = split_py_call, .train = split_train,
    .dot = DOT_SHAPE,
};
