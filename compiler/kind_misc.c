/*
 * kind_misc.c — the kinds that move values without arithmetic: the
 * network's input, flatten, dropout, droppath and identity.  At inference
 * all but the input are no-ops that share their input's buffer (pass_noop.c),
 * so they have no code template; in training flatten and identity copy and
 * the dropouts drop.
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

/* ---- dropout, droppath ------------------------------------------------------- */

/* One draw per value; with `channels`, one per channel of a signal, image or
 * volume (PyTorch's Dropout1d/2d/3d), so a vector has nothing to drop whole. */
static bool dropout_shape(Node *n) {
    if (n->channels && n->in[0]->shape.sp == 0) {
        diag_error(n->loc, "%s: `channels` drops whole channels of a signal, image or volume, but the "
                   "input is a vector %s (drop values: leave `channels` out)", shape_who(n),
                   shape_str(n->in[0]->shape));
        return false;
    }
    return shape_passthrough(n);
}

static const char *dropout_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    if (n->channels)
        return arena_printf("F.dropout%dd(%s, %s, self.training)", n->shape.sp, in[0], py_float(n->p));
    return arena_printf("F.dropout(%s, %s, self.training)", in[0], py_float(n->p));
}

static void dropout_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_DROPOUT;
    op->D = (int)shape_numel(n->shape);
    op->G = n->channels ? (int)(shape_numel(n->shape) / n->shape.c) : 1;
}

const LayerKind kind_dropout = {
    .id = K_DROPOUT, .name = "dropout", .summary = "inverted dropout (identity at inference)",
    .positional = { "p" },
    .attrs = { { "p", A_PROB, 0, "0.5", "probability of zeroing a value", F(p), 0, 0 },
               { "channels", A_BOOL, 0, "false", "zero whole channels (a signal's, image's or volume's)",
                 F(channels), 0, 0 } },
    .flags = { { "channels", "channels", "true" } },
    .user = true, .pytorch = "nn.Dropout, nn.Dropout1d/2d/3d (channels)",
    .shape = dropout_shape, .py_call = dropout_py_call, .train = dropout_train,
    .dot = DOT_SHAPE, .passes = KP_ALIAS,
};

/* Drop path: the whole sample kept with probability 1 − p and scaled by
 * 1/(1 − p), or zeroed (torchvision's StochasticDepth, mode "row"); it sits
 * at the end of a residual branch, so a dropped sample takes the shortcut. */
static const char *droppath_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    return arena_printf("_stochastic_depth(%s, %s, self.training)", in[0], py_float(n->p));
}

static void droppath_train(const Node *n, cnnrt_op *op) {
    op->kind = CNNRT_OP_DROPOUT;
    op->D = op->G = (int)shape_numel(n->shape);
}

const LayerKind kind_droppath = {
    .id = K_DROPPATH, .name = "droppath", .summary = "stochastic depth: drops whole samples (identity at inference)",
    .positional = { "p" },
    .attrs = { { "p", A_PROB, 0, "0.5", "probability of zeroing a sample", F(p), 0, 0 } },
    .user = true, .pytorch = "torchvision.ops.StochasticDepth(p, \"row\")",
    .shape = shape_passthrough, .py_call = droppath_py_call, .train = droppath_train,
    .py_prelude =
        "def _stochastic_depth(x, p, training):\n"
        "    \"\"\"torchvision.ops.stochastic_depth(x, p, \"row\", training): each sample kept with\n"
        "    probability 1 - p and scaled by 1/(1 - p), or zeroed.\"\"\"\n"
        "    if not training or p == 0.0:\n"
        "        return x\n"
        "    keep = 1.0 - p\n"
        "    noise = torch.empty([x.shape[0]] + [1] * (x.dim() - 1), dtype=x.dtype, device=x.device)\n"
        "    noise.bernoulli_(keep)\n"
        "    if keep > 0.0:\n"
        "        noise.div_(keep)\n"
        "    return x * noise\n",
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
