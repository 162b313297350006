/*
 * kind_norm.c — the normalisation layers, whole: batch, layer, instance and
 * group norm.  For each: how it is written, its shape rule and costs, its
 * parameters, its generated code (a batchnorm that does not fold into the
 * conv or dense before it is a per-channel scale and shift; the others one
 * template by groups of channels), its PyTorch module and its cnnrt op.
 */
#include "kind.h"

/* ---- batchnorm ------------------------------------------------------------- */

static bool batchnorm_shape(Node *n) {
    const Node *x = n->in[0];
    n->shape = x->shape;
    n->params = 2 * x->shape.c;
    n->other_ops = 2 * shape_numel(x->shape);
    shape_rf_copy(n, x);
    return true;
}

static int batchnorm_params(Node *n, ParamSpec *out) {
    long long c = n->in[0]->shape.c;
    out[0] = param("weight", &n->w_data, true, 0, 1, c, 0, 0, 0);
    out[1] = param("bias", &n->b_data, true, 0, 1, c, 0, 0, 0);
    out[2] = param("running_mean", &n->mean_data, false, 0, 1, c, 0, 0, 0);
    out[3] = param("running_var", &n->var_data, false, 0, 1, c, 0, 0, 0);
    return 4;
}

static int batchnorm_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "batchnorm (scale and shift)");
    em_def(e, "L_C", "%lld", in->c);
    em_def(e, "L_HW", "%lld", shape_hw(*in));
    em_def(e, "L_SOFF", "%lld", em_put(e, n->scale, in->c));
    em_def(e, "L_TOFF", "%lld", em_put(e, n->shift, in->c));
    em_call(e, "M4_SCALESHIFT");
    return 0;
}

static const char *batchnorm_py_module(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    return arena_printf("nn.BatchNorm%dd(%lld, eps=%s, momentum=%s)", in->rank == 1 ? 1 : in->sp, in->c,
                        py_float(n->eps), py_float(n->momentum));
}

static void batchnorm_train(const Node *n, cnnrt_op *op) {
    (void)n;
    op->kind = CNNRT_OP_BATCHNORM;
}

const LayerKind kind_batchnorm = {
    .id = K_BATCHNORM, .name = "batchnorm", .alias = "bn", .summary = "batch normalisation (per channel)",
    .attrs = { ATTR_EPS,
        { "momentum", A_FRAC, 0, "0.1", "running-average momentum (training)", F(momentum), 0, 0 },
    },
    .user = true, .pytorch = "nn.BatchNorm1d, 2d, 3d",
    .shape = batchnorm_shape, .params = batchnorm_params, .emit = batchnorm_emit,
    .py_module = batchnorm_py_module, .py_call = py_call_module, .train = batchnorm_train,
    .dot = DOT_NORM, .passes = KP_TAKES_ACT,
};

/* ---- layer, instance and group norm: statistics per sample ---------------- */

/* Channel groups normalised together: layer norm one, instance norm C. */
static long long groups_of(const Node *n, long long c) {
    return n->kind->id == K_LAYERNORM ? 1 : n->kind->id == K_INSTANCENORM ? c : n->groups;
}

static bool groupnorm_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (n->kind->id == K_INSTANCENORM && !shape_need_chw(n, in)) return false;
    if (n->kind->id == K_GROUPNORM && in->c % n->groups != 0) {
        diag_error(n->loc, "%s: %lld groups do not divide the %lld channels", shape_who(n), n->groups, in->c);
        return false;
    }
    long long per = n->kind->id == K_LAYERNORM ? shape_numel(*in) : in->c;   /* γ and β each */
    n->shape = *in;
    n->params = n->affine ? 2 * per : 0;
    n->other_ops = (n->affine ? 7 : 5) * shape_numel(*in);
    shape_rf_copy(n, x);
    return true;
}

static int groupnorm_params(Node *n, ParamSpec *out) {
    const Shape *in = &n->in[0]->shape;
    if (!n->affine) return 0;
    if (n->kind->id == K_LAYERNORM && in->rank == 3) {   /* elementwise over C×H×W */
        out[0] = param_like("weight", &n->w_data, in);
        out[1] = param_like("bias", &n->b_data, in);
    } else {
        out[0] = param("weight", &n->w_data, true, 0, 1, in->c, 0, 0, 0);
        out[1] = param("bias", &n->b_data, true, 0, 1, in->c, 0, 0, 0);
    }
    return 2;
}

static int groupnorm_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    long long c = in->c, hw = shape_hw(*in), groups = groups_of(n, c);
    em_layer(e, n, n->kind->name);
    em_def(e, "L_GROUPS", "%lld", groups);
    em_def(e, "L_CG", "%lld", c / groups);
    em_def(e, "L_HW", "%lld", hw);
    em_def(e, "L_EPS", "%.9g", n->eps);
    em_def(e, "L_ELEMENTWISE", "%d", n->kind->id == K_LAYERNORM);
    long long pn = n->kind->id == K_LAYERNORM ? c * hw : c;
    em_def(e, "L_WOFF", "%lld", n->affine ? em_put(e, n->w_data, pn) : -1);
    em_def(e, "L_BOFF", "%lld", n->affine ? em_put(e, n->b_data, pn) : -1);
    em_call(e, "M4_GROUPNORM");
    return 0;
}

static const char *layernorm_py_module(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    return arena_printf("nn.LayerNorm(%s, eps=%s, elementwise_affine=%s)",
                        in->rank == 1 ? arena_printf("[%lld]", in->c) : in->sp == 1
                            ? arena_printf("[%lld, %lld]", in->c, in->w) : in->sp == 3
                            ? arena_printf("[%lld, %lld, %lld, %lld]", in->c, in->d, in->h, in->w)
                            : arena_printf("[%lld, %lld, %lld]", in->c, in->h, in->w),
                        py_float(n->eps), py_bool(n->affine));
}

static const char *instancenorm_py_module(const Node *n) {
    return arena_printf("nn.InstanceNorm%s(%lld, eps=%s, affine=%s)", py_dims(&n->in[0]->shape),
                        n->in[0]->shape.c, py_float(n->eps),
                        py_bool(n->affine));
}

static const char *groupnorm_py_module(const Node *n) {
    return arena_printf("nn.GroupNorm(%lld, %lld, eps=%s, affine=%s)", n->groups, n->in[0]->shape.c,
                        py_float(n->eps), py_bool(n->affine));
}

static void groupnorm_train(const Node *n, cnnrt_op *op) {
    switch (n->kind->id) {
    case K_LAYERNORM: op->kind = CNNRT_OP_LAYERNORM; break;
    case K_INSTANCENORM: op->kind = CNNRT_OP_INSTANCENORM; break;
    default: op->kind = CNNRT_OP_GROUPNORM; op->G = (int)n->groups; break;
    }
}

const LayerKind kind_layernorm = {
    .id = K_LAYERNORM, .name = "layernorm", .summary = "normalise each sample over all of C×H×W (or D)",
    .attrs = { ATTR_EPS,
        { "affine", A_BOOL, 0, "true", "learned elementwise scale and shift", F(affine), 0, 0 },
    },
    .flags = { { "noaffine", "affine", "false" } },
    .user = true, .pytorch = "nn.LayerNorm([C,H,W])",
    .shape = groupnorm_shape, .params = groupnorm_params, .emit = groupnorm_emit,
    .py_module = layernorm_py_module, .py_call = py_call_module, .train = groupnorm_train,
    .dot = DOT_NORM,
};

const LayerKind kind_instancenorm = {
    .id = K_INSTANCENORM, .name = "instancenorm", .summary = "normalise each channel of each sample",
    .attrs = { ATTR_EPS,
        { "affine", A_BOOL, 0, "false", "learned per-channel scale and shift", F(affine), 0, 0 },
    },
    .flags = { { "affine", "affine", "true" } },
    .user = true, .pytorch = "nn.InstanceNorm1d, 2d, 3d",
    .shape = groupnorm_shape, .params = groupnorm_params, .emit = groupnorm_emit,
    .py_module = instancenorm_py_module, .py_call = py_call_module, .train = groupnorm_train,
    .dot = DOT_NORM,
};

const LayerKind kind_groupnorm = {
    .id = K_GROUPNORM, .name = "groupnorm", .summary = "normalise groups of channels of each sample",
    .positional = { "groups" },
    .attrs = {
        { "groups", A_INT, 'g', NULL, "number of channel groups", F(groups), 0, 0 },
        ATTR_EPS,
        { "affine", A_BOOL, 0, "true", "learned per-channel scale and shift", F(affine), 0, 0 },
    },
    .flags = { { "noaffine", "affine", "false" } },
    .user = true, .pytorch = "nn.GroupNorm",
    .shape = groupnorm_shape, .params = groupnorm_params, .emit = groupnorm_emit,
    .py_module = groupnorm_py_module, .py_call = py_call_module, .train = groupnorm_train,
    .dot = DOT_NORM,
};
