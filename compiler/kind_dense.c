/*
 * kind_dense.c — the fully connected layer, whole: how it is written, its
 * shape rule and costs, its parameters, its generated code, its PyTorch
 * module and the cnnrt op it trains as.
 */
#include "kind.h"

#include <stdio.h>
#include <stdlib.h>

static bool dense_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (in->rank != 1) {
        diag_error(n->loc, "%s needs a flat input, but its input is %s; add 'flatten' before it",
                   shape_who(n), shape_str(*in));
        return false;
    }
    n->shape = shape_vec(n->out);
    if (!shape_mul(in->c, n->out, &n->macs)) {
        diag_error(n->loc, "%s: the parameter count overflows", shape_who(n));
        return false;
    }
    n->params = n->macs + (n->bias ? n->out : 0);
    n->other_ops = (n->bias ? n->out : 0) + (n->act != ACT_NONE ? n->out : 0);
    return true;                              /* no spatial extent: RF null */
}

static int dense_params(Node *n, ParamSpec *out) {
    long long fan = n->in[0]->shape.c;
    int k = 0;
    out[k++] = param("weight", &n->w_data, true, fan, 2, n->out, fan, 0, 0);
    if (n->bias) out[k++] = param("bias", &n->b_data, true, fan, 1, n->out, 0, 0, 0);
    return k;
}

static int dense_emit(Emitter *e, Node *n) {
    long long nin = shape_numel(n->in[0]->shape);
    em_layer(e, n, "dense");
    em_def(e, "L_NIN", "%lld", nin);
    em_def(e, "L_NOUT", "%lld", n->out);
    em_def(e, "L_CBLAS", "%d", layer_blas(n, em_standalone(e)));
    em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->out * nin));
    em_def(e, "L_BOFF", "%lld", n->bias ? em_put(e, n->b_data, n->out) : -1);
    em_call(e, "M4_DENSE");
    return 0;
}

/* int8 (pass_quant.c) */
static int dense_quant(Node *n) { return quant_channels(n, shape_numel(n->in[0]->shape), true); }

/* The int8 input is channels last ([H][W][C], q8.m4): the weights' columns,
 * PyTorch's flatten order (c, y, x), are put in that order. */
static int dense_emit_q8(Emitter *e, Node *n) {
    long long nin = shape_numel(n->in[0]->shape);
    const Shape *x = &quant_input(n, 0)->shape;
    long long c = x->c, hw = nin / c;
    signed char *w = malloc((size_t)(n->out * nin));
    if (!w) { fputs("cnnc: error: out of memory\n", stderr); exit(2); }
    for (long long o = 0; o < n->out; o++)
        for (long long ch = 0; ch < c; ch++)
            for (long long p = 0; p < hw; p++) w[o * nin + p * c + ch] = n->q_w[o * nin + ch * hw + p];
    em_layer(e, n, "int8 dense");
    em_q8(e, n);
    em_def(e, "L_NIN", "%lld", nin);
    em_def(e, "L_NOUT", "%lld", n->out);
    em_q8_channels(e, n, w, n->out * nin, n->q_b);
    em_call(e, "M4_Q8_DENSE");
    free(w);
    return 0;
}

static const char *dense_py_module(const Node *n) {
    return arena_printf("nn.Linear(%lld, %lld%s)", n->in[0]->shape.c, n->out, n->bias ? "" : ", bias=False");
}

static const char *dense_py_call(const Node *n, const char *const *in, const char *mod) {
    return py_act(n->act, n->act_p, arena_printf("%s(%s)", mod, in[0]));
}

static void dense_train(const Node *n, cnnrt_op *op) {
    (void)n;
    op->kind = CNNRT_OP_DENSE;
}

const LayerKind kind_dense = {
    .id = K_DENSE, .name = "dense", .alias = "linear", .summary = "fully connected layer",
    .positional = { "out" },
    .attrs = {
        { "out", A_INT, 0, NULL, "output features", F(out), 0, 0 },
        ATTR_BIAS, ATTR_ACT, ATTR_SLOPE,
    },
    .flags = { { "nobias", "bias", "false" } },
    .user = true, .pytorch = "nn.Linear",
    .shape = dense_shape, .params = dense_params, .emit = dense_emit, .quant = dense_quant, .emit_q8 = dense_emit_q8,
    .py_module = dense_py_module, .py_call = dense_py_call, .train = dense_train,
    .dot = DOT_DENSE, .passes = KP_TAKES_ACT | KP_TAKES_BN,
};
