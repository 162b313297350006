/*
 * kind_misc.c — the kinds that move values without arithmetic: the
 * network's input, flatten, dropout and identity.  At inference the last
 * three are no-ops that share their input's buffer (pass_noop.c), so they
 * have no code template; in training flatten and identity copy and dropout
 * drops.
 */
#include "kind.h"

static bool input_shape(Node *n) {
    n->rf_valid = n->shape.sp != 3;         /* a volume's is not tracked (the depth axis) */
    n->rf_h = n->rf_w = n->jump_h = n->jump_w = 1;
    return shape_check_numel(n);
}

const LayerKind kind_input = {
    .id = K_INPUT, .name = "input", .summary = "the network input", .pytorch = "-",
    .shape = input_shape, .dot = DOT_INPUT,
};

static void copy_train(const Node *n, cnnrt_op *op) {
    (void)n;
    op->kind = CNNRT_OP_COPY;
}

/* ---- flatten ------------------------------------------------------------------ */

static bool flatten_shape(Node *n) {
    n->shape = shape_vec(shape_numel(n->in[0]->shape));
    return true;
}

static const char *flatten_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)n, (void)mod;
    return arena_printf("torch.flatten(%s, 1)", in[0]);
}

const LayerKind kind_flatten = {
    .id = K_FLATTEN, .name = "flatten", .summary = "C×H×W to [C·H·W], in C,H,W order",
    .user = true, .pytorch = "nn.Flatten",
    .shape = flatten_shape, .py_call = flatten_py_call, .train = copy_train,
    .dot = DOT_SHAPE, .passes = KP_ALIAS,
};

/* ---- dropout ------------------------------------------------------------------ */

static const char *dropout_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("F.dropout(%s, %s, self.training)", in[0], py_float(n->p));
}

static void dropout_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_DROPOUT;
    op->D = (int)shape_numel(n->shape);
}

const LayerKind kind_dropout = {
    .id = K_DROPOUT, .name = "dropout", .summary = "inverted dropout (identity at inference)",
    .positional = { "p" },
    .attrs = { { "p", A_PROB, 0, "0.5", "probability of zeroing a value", F(p), 0, 0 } },
    .user = true, .pytorch = "nn.Dropout",
    .shape = shape_passthrough, .py_call = dropout_py_call, .train = dropout_train,
    .dot = DOT_SHAPE, .passes = KP_ALIAS,
};

/* ---- identity ----------------------------------------------------------------- */

static const char *identity_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)n, (void)mod;
    return in[0];
}

const LayerKind kind_identity = {
    .id = K_IDENTITY, .name = "identity", .summary = "passes its input through",
    .user = true, .pytorch = "nn.Identity",
    .shape = shape_passthrough, .py_call = identity_py_call, .train = copy_train,
    .dot = DOT_SHAPE, .passes = KP_ALIAS,
};
