/*
 * kind_act.c — the activations as layers of their own (one description per
 * line of runtime/cnnrt_acts.def, its parameters as attributes) and
 * softmax.  An activation written after a conv, dense, add or batchnorm
 * usually runs in that layer's loop (pass_fuse.c); the description here is
 * for the ones that stay layers.
 */
#include "kind.h"

static int act_emit(Emitter *e, Node *n) {
    n->act = act_of_kind(n->kind->id);     /* its parameters are in act_p already */
    em_layer(e, n, n->kind->name);
    em_def(e, "L_N", "%lld", shape_numel(n->in[0]->shape));
    em_call(e, "M4_ACTIVATION");
    return 0;
}

static const char *act_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return py_act(act_of_kind(n->kind->id), n->act_p, in[0]);
}

static void act_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_ACT;               /* one op; its activation says which */
    op->act = (int)act_of_kind(n->kind->id);   /* act_a, act_b: its act_p (train_desc.c) */
}

/* hardtanh's limits in order, softplus's beta positive (it divides) */
static bool act_shape(Node *n) {
    ActKind a = act_of_kind(n->kind->id);
    if (a == ACT_HARDTANH && n->act_p[0] > n->act_p[1]) {
        diag_error(n->loc, "%s: min %g is above max %g", shape_who(n), n->act_p[0], n->act_p[1]);
        return false;
    }
    if (a == ACT_SOFTPLUS && !(n->act_p[0] > 0)) {
        diag_error(n->loc, "%s: beta must be positive, not %g", shape_who(n), n->act_p[0]);
        return false;
    }
    return shape_elementwise(n);
}

/* Each activation's parameters are its attributes, positional in order.
 * The first also sets `slope` (which the architecture hash reads: a
 * leaky relu's slope, as before there were other parameters). */
#define ACT_P0 .positional = { NULL }
#define ACT_P1(n0, d0, h0) .positional = { n0 }, \
    .attrs = { { n0, A_FLOAT, 0, #d0, h0, F(act_p[0]), F(slope), 0 } }
#define ACT_P2(n0, d0, h0, n1, d1, h1) .positional = { n0, n1 }, \
    .attrs = { { n0, A_FLOAT, 0, #d0, h0, F(act_p[0]), F(slope), 0 }, { n1, A_FLOAT, 0, #d1, h1, F(act_p[1]), 0, 0 } }
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y)                     \
    const LayerKind kind_act_##ID = {                                                                 \
        .id = K_##ID, .name = NAME, .alias = ALIAS, .summary = SUMMARY, PARAMS,                        \
        .user = true, .pytorch = MODULE,                                                               \
        .shape = act_shape, .emit = act_emit, .py_call = act_py_call, .train = act_train,              \
        .dot = DOT_ACT,                                                                                \
    };
#include "cnnrt_acts.def"
#undef CNNRT_ACT

/* ---- prelu: a leaky relu whose slope is learned --------------------------------- */

static bool prelu_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (n->slopes != 1 && n->slopes != in->c) {
        diag_error(n->loc, "%s: %lld slopes, but its input %s has %lld %s: give 1 (one slope) or %lld (one per "
                   "channel)", shape_who(n), n->slopes, shape_str(*in), in->c, in->rank == 1 ? "features" : "channels",
                   in->c);
        return false;
    }
    if (!shape_elementwise(n)) return false;
    n->params = n->slopes;
    return true;
}

static int prelu_params(Node *n, ParamSpec *out) {
    out[0] = param("weight", &n->w_data, true, 0, 1, n->slopes, 0, 0, 0);
    out[0].constant = true;
    out[0].init = (float)n->init;
    return 1;
}

static int prelu_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, n->slopes == 1 ? "prelu (one slope)" : "prelu (a slope per channel)");
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_def(e, "L_SLOPES", "%lld", n->slopes);
    em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->slopes));
    em_call(e, "M4_PRELU");
    return 0;
}

static const char *prelu_py_module(const Node *n) {
    return arena_printf("nn.PReLU(%lld, init=%s)", n->slopes, py_float(n->init));
}

static void prelu_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_PRELU;
    op->G = (int)n->slopes;
}

const LayerKind kind_prelu = {
    .id = K_PRELU, .name = "prelu", .summary = "x if x > 0 else a·x, the slope a learned (one, or per channel)",
    .positional = { "slopes" },
    .attrs = { { "slopes", A_INT, 0, "1", "learned slopes: 1, or one per channel", F(slopes), 0, 0 },
               { "init", A_FLOAT, 0, "0.25", "their initial value", F(init), 0, 0 } },
    .user = true, .pytorch = "nn.PReLU(slopes, init)",
    .shape = prelu_shape, .params = prelu_params, .emit = prelu_emit,
    .py_module = prelu_py_module, .py_call = py_call_module, .train = prelu_train,
    .dot = DOT_ACT,
};

/* ---- softmax ------------------------------------------------------------------ */

static bool softmax_shape(Node *n) {
    const Node *x = n->in[0];
    n->shape = x->shape;
    n->other_ops = 3 * shape_numel(x->shape);
    shape_rf_copy(n, x);
    return true;
}

static int softmax_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "softmax");
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_call(e, "M4_SOFTMAX");
    return 0;
}

static const char *softmax_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)n, (void)mod;
    return arena_printf("F.softmax(%s, dim=1)", in[0]);
}

static void softmax_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_SOFTMAX;
    op->D = (int)shape_numel(n->shape);
}

const LayerKind kind_softmax = {
    .id = K_SOFTMAX, .name = "softmax", .summary = "softmax over the features (or channels)",
    .user = true, .pytorch = "nn.Softmax(dim=1)",
    .shape = softmax_shape, .emit = softmax_emit, .py_call = softmax_py_call, .train = softmax_train,
    .dot = DOT_ACT,
};
