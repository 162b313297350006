/*
 * test_rt_genops.c — the C that cnnc generates, op by op, against cnnrt's
 * naive reference kernels on odd shapes.
 *
 * Each case is a tiny network (one op, plus what it needs: a flatten before
 * a dense, a conv before a folded batchnorm, the branches of a residual or a
 * concat).  For each case the test
 *   1. draws an input batch of 2 and the weights from a seed fixed by the
 *      case's name, and computes the expected output with the cnnrt
 *      reference kernels (batchnorm at inference in double, here), walking
 *      the same op list that writes the .net file;
 *   2. writes CASE.net and CASE.safetensors, runs `cnnc CASE.net --weights
 *      CASE.safetensors -o CASE.c` (cnnc is $CNNC, default build/cnnc; tests
 *      run from the repository root), once in the default mode and once
 *      with --standalone, and builds each as a shared object with
 *      `cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -shared -fPIC`
 *      plus whatever the generated header's "Build:" line asks for
 *      (OpenBLAS, cnnrt).  A small probe.c built into the same object
 *      reports the header's macros (sizes, WS_BYTES(n), error codes);
 *   3. loads the object with dlopen (in libc since glibc 2.34), runs
 *      CASE_forward_ctx on the batch, and compares with the reference.
 * All builds run up front, in parallel, in the group setup.
 *
 * Tolerance: max |c − ref| / max |ref| ≤ 1e-5 over the batch and over each
 * image.  Every case is one op in float32 whose result differs from the
 * reference only by the order of float operations (or by folding a
 * batchnorm into the weights, one more rounding per weight).  A sum of K
 * products with weights scaled by 1/√fan_in has |terms| summing to about
 * √K·|y|; its rounding error is ≲ K·2⁻²⁴ of that in the worst case and
 * ≈ √K·2⁻²⁴ typically.  The largest K here is 7·7·3 = 147 (a dense has at
 * most 105 inputs, a mean 70 terms), so typical errors are ~1e-7 relative
 * to max |ref| and even an adversarial order stays below 1e-5; the norms
 * and softmax add a few roundings per element, and libm's expf/tanhf are
 * the same on both sides.  Measured: at most 3e-7.
 * A wrong index, padding, stride or divisor gives errors of order 1.
 *
 * On failure the message names the case, the first worst index (image,
 * channel, row, column), both values and the max difference, and the
 * case's directory (kept: CASE.net, CASE.safetensors, CASE.c, logs) so the
 * failure can be reproduced with the same cnnc command.  On success the
 * temporary directory is removed (GENOPS_KEEP=1 keeps it).
 * CNNRT_TEST_VERBOSE=1 prints every case's measured error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cnnrt_test.h"

#define NB 2            /* images per batch */
#define TOL 1e-5
#define MAX_PARAMS 32

/* ---- the op lists a case is written in ---------------------------------- */

enum {
    OP_END = 0, OP_CONV, OP_DENSE, OP_FLATTEN, OP_MAXPOOL, OP_AVGPOOL, OP_GAP, OP_GMP,
    OP_ADAPTIVE, OP_BN, OP_LN, OP_IN, OP_GN, OP_RELU, OP_LEAKY, OP_TANH, OP_SIGMOID,
    OP_SOFTMAX, OP_DROPOUT, OP_RESIDUAL, OP_CONCAT
};
enum { ACT_NONE = 0, ACT_RELU, ACT_LEAKY, ACT_TANH, ACT_SIGMOID };

typedef struct Op Op;
struct Op {
    int kind;
    const char *name;           /* layer name (the state-dict prefix) */
    int out;                    /* conv/dense: output channels/features */
    int kh, kw, sh, sw;         /* window; stride 0 means the default */
    int ph, pw, same;           /* padding on each side, or `same` */
    int dh, dw, groups;         /* 0 means 1 */
    int nobias, act;
    double slope;               /* leaky relu (0: 0.01) */
    int ceil, exclude_pad;      /* pools */
    int oh, ow;                 /* adaptive pool output */
    double eps;                 /* norms (0: 1e-5) */
    int affine;                 /* layernorm/groupnorm: 1 = noaffine; instancenorm: 1 = affine */
    int G;                      /* groupnorm groups */
    double p;                   /* dropout */
    const Op *br[3];            /* residual: body, shortcut (NULL: identity); concat: branches */
    int nbr;
};

typedef struct {
    const char *name;           /* also the network's name */
    int C, H, W;                /* input */
    const Op *ops;
} Case;

#define CONV(...)   { .kind = OP_CONV, __VA_ARGS__ }
#define DENSE(...)  { .kind = OP_DENSE, __VA_ARGS__ }
#define FLATTEN     { .kind = OP_FLATTEN }
#define MAXPOOL(...) { .kind = OP_MAXPOOL, __VA_ARGS__ }
#define AVGPOOL(...) { .kind = OP_AVGPOOL, __VA_ARGS__ }
#define OP(k, ...)  { .kind = k, __VA_ARGS__ }
#define END         { .kind = OP_END }
#define OPS(...)    ((const Op[]){ __VA_ARGS__, END })

static const Op IDENTITY[] = { END };

static const Case cases[] = {
    /* --- conv geometry --- */
    { "conv_k3x7_in11x17", 3, 11, 17, OPS(CONV(.name = "conv1", .out = 5, .kh = 3, .kw = 7)) },
    { "conv_k3_s2_p1", 4, 13, 10, OPS(CONV(.name = "conv1", .out = 6, .kh = 3, .kw = 3,
                                           .sh = 2, .sw = 2, .ph = 1, .pw = 1)) },
    { "conv_k3x5_s2x1_p1x2", 3, 9, 12, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 5,
                                                .sh = 2, .sw = 1, .ph = 1, .pw = 2)) },
    { "conv_k3_d2_p2", 3, 15, 14, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3,
                                           .dh = 2, .dw = 2, .ph = 2, .pw = 2)) },
    { "conv_k3_d2x3_s2_p2x3", 2, 14, 19, OPS(CONV(.name = "conv1", .out = 3, .kh = 3, .kw = 3,
                                                  .dh = 2, .dw = 3, .sh = 2, .sw = 2,
                                                  .ph = 2, .pw = 3)) },
    { "conv_g2_k3_p1", 4, 9, 11, OPS(CONV(.name = "conv1", .out = 6, .kh = 3, .kw = 3,
                                          .ph = 1, .pw = 1, .groups = 2)) },
    { "conv_depthwise_x2_s2", 5, 12, 9, OPS(CONV(.name = "conv1", .out = 10, .kh = 3, .kw = 3,
                                                 .sh = 2, .sw = 2, .ph = 1, .pw = 1,
                                                 .groups = 5)) },
    { "conv_1x1", 7, 9, 6, OPS(CONV(.name = "conv1", .out = 5, .kh = 1, .kw = 1)) },
    { "conv_1x1_s2", 6, 9, 8, OPS(CONV(.name = "conv1", .out = 4, .kh = 1, .kw = 1,
                                       .sh = 2, .sw = 2)) },
    { "conv_7x7_s2_p3", 3, 23, 19, OPS(CONV(.name = "conv1", .out = 8, .kh = 7, .kw = 7,
                                            .sh = 2, .sw = 2, .ph = 3, .pw = 3)) },
    { "conv_same_k4x2", 3, 9, 10, OPS(CONV(.name = "conv1", .out = 4, .kh = 4, .kw = 2,
                                           .same = 1)) },
    { "conv_same_k3_d2", 2, 8, 11, OPS(CONV(.name = "conv1", .out = 3, .kh = 3, .kw = 3,
                                            .dh = 2, .dw = 2, .same = 1)) },
    { "conv_nobias", 3, 8, 7, OPS(CONV(.name = "conv1", .out = 5, .kh = 3, .kw = 3,
                                       .ph = 1, .pw = 1, .nobias = 1)) },
    /* --- fused activations --- */
    { "conv_relu", 3, 10, 7, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 2,
                                      .ph = 1, .act = ACT_RELU)) },
    { "conv_tanh", 3, 7, 10, OPS(CONV(.name = "conv1", .out = 4, .kh = 2, .kw = 3,
                                      .pw = 1, .act = ACT_TANH)) },
    { "conv_sigmoid", 2, 9, 9, OPS(CONV(.name = "conv1", .out = 3, .kh = 3, .kw = 3,
                                        .sh = 2, .sw = 2, .act = ACT_SIGMOID)) },
    { "conv_leaky02", 3, 8, 11, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3,
                                         .ph = 1, .pw = 1, .act = ACT_LEAKY, .slope = 0.2)) },
    { "conv_then_leaky_layer", 3, 8, 9, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3),
                                            OP(OP_LEAKY, .name = "act1", .slope = 0.2)) },
    /* --- batchnorm --- */
    { "conv_bn_folded", 3, 10, 9, OPS(CONV(.name = "conv1", .out = 5, .kh = 3, .kw = 3,
                                           .ph = 1, .pw = 1, .nobias = 1),
                                      OP(OP_BN, .name = "bn1")) },
    { "conv_bias_bn_relu", 3, 9, 12, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3,
                                              .sh = 2, .sw = 2, .ph = 1, .pw = 1),
                                         OP(OP_BN, .name = "bn1", .eps = 1e-3),
                                         OP(OP_RELU, .name = "act1")) },
    { "pool_bn_scaleshift", 4, 10, 13, OPS(MAXPOOL(.name = "pool1", .kh = 2, .kw = 2),
                                           OP(OP_BN, .name = "bn1")) },
    { "bn_first_tanh", 3, 7, 6, OPS(OP(OP_BN, .name = "bn1", .eps = 1e-2),
                                     OP(OP_TANH, .name = "act1")) },
    /* --- dense --- */
    { "dense_bias", 3, 5, 7, OPS(FLATTEN, DENSE(.name = "fc1", .out = 7)) },
    { "dense_nobias_tanh", 4, 3, 5, OPS(FLATTEN, DENSE(.name = "fc1", .out = 9, .nobias = 1,
                                                       .act = ACT_TANH)) },
    { "dense_bn1d", 2, 5, 6, OPS(FLATTEN, DENSE(.name = "fc1", .out = 11),
                                 OP(OP_BN, .name = "bn1")) },
    { "dense_dense_relu", 3, 4, 5, OPS(FLATTEN, DENSE(.name = "fc1", .out = 13, .act = ACT_RELU),
                                       DENSE(.name = "fc2", .out = 6)) },
    /* --- pooling --- */
    { "maxpool_k3_s2_p1", 3, 11, 14, OPS(MAXPOOL(.name = "pool1", .kh = 3, .kw = 3, .sh = 2,
                                                 .sw = 2, .ph = 1, .pw = 1)) },
    { "maxpool_k3_s2_ceil", 2, 10, 13, OPS(MAXPOOL(.name = "pool1", .kh = 3, .kw = 3, .sh = 2,
                                                   .sw = 2, .ceil = 1)) },
    { "maxpool_k2x3_s1x2_p1_ceil", 3, 9, 10, OPS(MAXPOOL(.name = "pool1", .kh = 2, .kw = 3,
                                                         .sh = 1, .sw = 2, .ph = 1, .pw = 1,
                                                         .ceil = 1)) },
    { "avgpool_k3_s2_p1", 3, 11, 12, OPS(AVGPOOL(.name = "pool1", .kh = 3, .kw = 3, .sh = 2,
                                                 .sw = 2, .ph = 1, .pw = 1)) },
    { "avgpool_k3_s2_p1_exclude", 3, 11, 12, OPS(AVGPOOL(.name = "pool1", .kh = 3, .kw = 3,
                                                         .sh = 2, .sw = 2, .ph = 1, .pw = 1,
                                                         .exclude_pad = 1)) },
    { "avgpool_k3_s2_p1_ceil", 2, 10, 9, OPS(AVGPOOL(.name = "pool1", .kh = 3, .kw = 3,
                                                     .sh = 2, .sw = 2, .ph = 1, .pw = 1,
                                                     .ceil = 1)) },
    { "avgpool_ceil_exclude", 2, 10, 9, OPS(AVGPOOL(.name = "pool1", .kh = 3, .kw = 3,
                                                    .sh = 2, .sw = 2, .ph = 1, .pw = 1,
                                                    .ceil = 1, .exclude_pad = 1)) },
    { "avgpool_k3x2_s2x1", 3, 9, 8, OPS(AVGPOOL(.name = "pool1", .kh = 3, .kw = 2,
                                                .sh = 2, .sw = 1)) },
    { "globalavgpool", 5, 7, 9, OPS(OP(OP_GAP, .name = "gap")) },
    { "globalmaxpool", 5, 6, 11, OPS(OP(OP_GMP, .name = "gmp")) },
    { "gap_flatten_out", 4, 5, 3, OPS(OP(OP_GAP, .name = "gap"), FLATTEN) },
    { "adaptive_7x7_to_3x3", 3, 7, 7, OPS(OP(OP_ADAPTIVE, .name = "ap", .oh = 3, .ow = 3)) },
    { "adaptive_5x5_to_3x2", 3, 5, 5, OPS(OP(OP_ADAPTIVE, .name = "ap", .oh = 3, .ow = 2)) },
    { "adaptive_10x7_to_4x3", 2, 10, 7, OPS(OP(OP_ADAPTIVE, .name = "ap", .oh = 4, .ow = 3)) },
    /* --- norms --- */
    { "layernorm_chw", 3, 5, 7, OPS(OP(OP_LN, .name = "ln1")) },
    { "layernorm_chw_noaffine", 2, 6, 5, OPS(OP(OP_LN, .name = "ln1", .affine = 1)) },
    { "layernorm_flat", 3, 4, 5, OPS(FLATTEN, OP(OP_LN, .name = "ln1", .eps = 1e-3)) },
    { "instancenorm", 4, 7, 6, OPS(OP(OP_IN, .name = "in1")) },
    { "instancenorm_affine", 4, 5, 9, OPS(OP(OP_IN, .name = "in1", .affine = 1)) },
    { "groupnorm_g3", 6, 5, 7, OPS(OP(OP_GN, .name = "gn1", .G = 3)) },
    { "groupnorm_g2_noaffine", 6, 4, 3, OPS(OP(OP_GN, .name = "gn1", .G = 2, .affine = 1)) },
    /* --- softmax --- */
    { "softmax_channels", 5, 3, 4, OPS(OP(OP_SOFTMAX, .name = "sm")) },
    { "softmax_features", 3, 4, 5, OPS(FLATTEN, DENSE(.name = "fc1", .out = 9),
                                       OP(OP_SOFTMAX, .name = "sm")) },
    /* --- residual and concat --- */
    { "residual_identity", 4, 9, 7,
      OPS({ .kind = OP_RESIDUAL,
            .br = { OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1,
                             .act = ACT_RELU),
                        CONV(.name = "conv2", .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1)),
                    NULL } },
          OP(OP_RELU, .name = "act1")) },
    { "residual_projection", 3, 11, 10,
      OPS({ .kind = OP_RESIDUAL,
            .br = { OPS(CONV(.name = "conv1", .out = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                             .ph = 1, .pw = 1, .nobias = 1),
                        OP(OP_BN, .name = "bn1")),
                    OPS(CONV(.name = "down", .out = 6, .kh = 1, .kw = 1, .sh = 2, .sw = 2,
                             .nobias = 1),
                        OP(OP_BN, .name = "downbn")) } }) },
    { "concat_3_branches", 3, 8, 11,
      OPS({ .kind = OP_CONCAT, .nbr = 3,
            .br = { OPS(CONV(.name = "b1", .out = 2, .kh = 1, .kw = 1)),
                    OPS(CONV(.name = "b2", .out = 3, .kh = 3, .kw = 3, .ph = 1, .pw = 1),
                        OP(OP_RELU, .name = "b2act")),
                    IDENTITY } }) },
    { "concat_pool_branch", 2, 7, 9,
      OPS({ .kind = OP_CONCAT, .nbr = 3,
            .br = { OPS(CONV(.name = "b1", .out = 3, .kh = 3, .kw = 1, .ph = 1, .pw = 0)),
                    OPS(MAXPOOL(.name = "b2", .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                                .ph = 1, .pw = 1)),
                    OPS(CONV(.name = "b3", .out = 2, .kh = 1, .kw = 3, .pw = 1,
                             .act = ACT_SIGMOID)) } }) },
    /* --- activations and dropout as layers --- */
    { "act_relu", 3, 5, 7, OPS(OP(OP_RELU, .name = "act1")) },
    { "act_leaky02", 3, 7, 5, OPS(OP(OP_LEAKY, .name = "act1", .slope = 0.2)) },
    { "act_tanh", 2, 6, 9, OPS(OP(OP_TANH, .name = "act1")) },
    { "act_sigmoid", 2, 9, 6, OPS(OP(OP_SIGMOID, .name = "act1")) },
    { "pool_relu", 3, 8, 8, OPS(AVGPOOL(.name = "pool1", .kh = 2, .kw = 2),
                                OP(OP_RELU, .name = "act1")) },
    { "dropout_only", 3, 4, 5, OPS(OP(OP_DROPOUT, .name = "drop", .p = 0.3)) },
    { "conv_dropout_out", 3, 6, 7, OPS(CONV(.name = "conv1", .out = 4, .kh = 3, .kw = 3),
                                       OP(OP_DROPOUT, .name = "drop", .p = 0.5)) },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* The case whose generated API is checked on bad arguments. */
#define ERRCASE "residual_projection"

/* ---- reference tensors -------------------------------------------------- */

typedef struct {
    int rank;                   /* 3: C×H×W, 1: [c] */
    int c, h, w;
    float *d;                   /* [NB][c·h·w] */
} Tensor;

typedef struct {
    char name[96];
    int nd, dims[4];
    size_t n;
    float *d;
} Param;

/* Everything about one case: files, reference data and build status. */
typedef struct {
    const Case *c;
    char dir[512];
    float *in, *ref;            /* [NB][in_size], [NB][out_size] */
    Tensor out;
    size_t in_size, out_size;
    Param params[MAX_PARAMS];
    int nparams;
    char text[8192];            /* the .net file */
    size_t tlen;
    void *allocs[256];          /* reference buffers, freed after the case */
    int nallocs;
    cnnrt_rng rng;
    char err[512];              /* a setup problem, reported by the test */
} State;

static State states[NCASES];
static char workdir[256];
static char cnnc_path[PATH_MAX];
static int any_failed;

static size_t numel(const Tensor *t) { return (size_t)t->c * t->h * t->w; }

static float *track(State *s, float *p)
{
    assert_true(s->nallocs < (int)(sizeof s->allocs / sizeof s->allocs[0]));
    s->allocs[s->nallocs++] = p;
    return p;
}

static Tensor new3(State *s, int c, int h, int w)
{
    Tensor t = { 3, c, h, w, NULL };
    t.d = track(s, t_falloc((size_t)NB * c * h * w));
    return t;
}

static void textf(State *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->text + s->tlen, sizeof s->text - s->tlen, fmt, ap);
    va_end(ap);
    assert_true(k >= 0 && (size_t)k < sizeof s->text - s->tlen);
    s->tlen += (size_t)k;
}

/* A random parameter tensor NAME.SUFFIX, uniform in ±scale (|v| ≥ 0.05·scale). */
static float *param(State *s, const char *layer, const char *suffix, int nd, const int *dims,
                    float lo, float hi)
{
    assert_true(s->nparams < MAX_PARAMS);
    Param *p = &s->params[s->nparams++];
    snprintf(p->name, sizeof p->name, "%s.%s", layer, suffix);
    p->nd = nd;
    p->n = 1;
    for (int i = 0; i < nd; i++) {
        p->dims[i] = dims[i];
        p->n *= (size_t)dims[i];
    }
    p->d = track(s, t_falloc(p->n));
    t_fill(p->d, p->n, &s->rng, lo, hi);
    return p->d;
}

static void apply_act(float *y, size_t n, int act, double slope)
{
    switch (act) {
    case ACT_RELU: cnnrt_relu_forward(y, y, n); break;
    case ACT_LEAKY: cnnrt_leaky_relu_forward(y, y, (float)slope, n); break;
    case ACT_TANH: cnnrt_tanh_forward(y, y, n); break;
    case ACT_SIGMOID: cnnrt_sigmoid_forward(y, y, n); break;
    default: break;
    }
}

static const char *act_text(int act)
{
    switch (act) {
    case ACT_RELU: return " relu";
    case ACT_LEAKY: return " leakyrelu";
    case ACT_TANH: return " tanh";
    case ACT_SIGMOID: return " sigmoid";
    default: return "";
    }
}

static double slope_of(const Op *o) { return o->slope != 0 ? o->slope : 0.01; }
static double eps_of(const Op *o) { return o->eps != 0 ? o->eps : 1e-5; }
static int or1(int v) { return v ? v : 1; }

static Tensor run_seq(State *s, const Op *ops, Tensor x, const char *sep);

/* One op: write its statement to the .net text, draw its parameters and
 * compute its output with the reference kernels. */
static Tensor run_op(State *s, const Op *o, Tensor x)
{
    const size_t n1 = numel(&x), nall = NB * n1;
    const int HW = x.h * x.w;
    Tensor y = x;
    switch (o->kind) {
    case OP_CONV: {
        assert_int_equal(x.rank, 3);
        cnnrt_conv_geom g = { .C = x.c, .H = x.h, .W = x.w, .Cout = o->out,
                              .KH = o->kh, .KW = o->kw, .SH = or1(o->sh), .SW = or1(o->sw),
                              .PT = o->ph, .PB = o->ph, .PL = o->pw, .PR = o->pw,
                              .DH = or1(o->dh), .DW = or1(o->dw), .groups = or1(o->groups) };
        if (o->same) {          /* PyTorch: total D·(K−1), the extra one at the bottom/right */
            int th = g.DH * (g.KH - 1), tw = g.DW * (g.KW - 1);
            g.PT = th / 2, g.PB = th - g.PT, g.PL = tw / 2, g.PR = tw - g.PL;
        }
        assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
        textf(s, "conv %s %d kernel=%dx%d stride=%dx%d", o->name, o->out, o->kh, o->kw,
              g.SH, g.SW);
        if (o->same)
            textf(s, " same");
        else
            textf(s, " padding=%dx%d", o->ph, o->pw);
        textf(s, " dilation=%dx%d groups=%d%s%s", g.DH, g.DW, g.groups,
              o->nobias ? " nobias" : "", act_text(o->act));
        if (o->act == ACT_LEAKY)
            textf(s, " slope=%g", slope_of(o));
        const int fan = x.c / g.groups * g.KH * g.KW;
        const float r = (float)(1.0 / sqrt((double)fan));
        const int wd[4] = { o->out, x.c / g.groups, g.KH, g.KW };
        float *w = param(s, o->name, "weight", 4, wd, -r, r);
        float *b = o->nobias ? NULL : param(s, o->name, "bias", 1, &o->out, -0.5f, 0.5f);
        y = new3(s, o->out, g.OH, g.OW);
        cnnrt_conv2d_forward_ref(y.d, x.d, w, b, NB, &g);
        apply_act(y.d, NB * numel(&y), o->act, slope_of(o));
        break;
    }
    case OP_DENSE: {
        assert_int_equal(x.rank, 1);
        textf(s, "dense %s %d%s%s", o->name, o->out, o->nobias ? " nobias" : "",
              act_text(o->act));
        if (o->act == ACT_LEAKY)
            textf(s, " slope=%g", slope_of(o));
        const float r = (float)(1.0 / sqrt((double)x.c));
        const int wd[2] = { o->out, x.c };
        float *w = param(s, o->name, "weight", 2, wd, -r, r);
        float *b = o->nobias ? NULL : param(s, o->name, "bias", 1, &o->out, -0.5f, 0.5f);
        y = (Tensor){ 1, o->out, 1, 1, track(s, t_falloc((size_t)NB * o->out)) };
        cnnrt_dense_forward_ref(y.d, x.d, w, b, NB, x.c, o->out);
        apply_act(y.d, NB * numel(&y), o->act, slope_of(o));
        break;
    }
    case OP_FLATTEN:
        textf(s, "flatten");
        y = (Tensor){ 1, (int)n1, 1, 1, x.d };
        break;
    case OP_MAXPOOL:
    case OP_AVGPOOL: {
        assert_int_equal(x.rank, 3);
        cnnrt_pool_geom g = { .C = x.c, .H = x.h, .W = x.w, .KH = o->kh, .KW = o->kw,
                              .SH = o->sh ? o->sh : o->kh, .SW = o->sw ? o->sw : o->kw,
                              .PH = o->ph, .PW = o->pw, .ceil_mode = o->ceil,
                              .count_include_pad = !o->exclude_pad };
        assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
        textf(s, "%s %s kernel=%dx%d stride=%dx%d padding=%dx%d%s%s",
              o->kind == OP_MAXPOOL ? "maxpool" : "avgpool", o->name, g.KH, g.KW, g.SH, g.SW,
              g.PH, g.PW, o->ceil ? " ceil" : "", o->exclude_pad ? " exclude_pad" : "");
        y = new3(s, x.c, g.OH, g.OW);
        if (o->kind == OP_MAXPOOL) {
            int32_t *am = (int32_t *)track(s, t_falloc(NB * numel(&y)));
            cnnrt_maxpool2d_forward(y.d, am, x.d, NB, &g);
        } else {
            cnnrt_avgpool2d_forward(y.d, x.d, NB, &g);
        }
        break;
    }
    case OP_GAP:
    case OP_GMP:
        assert_int_equal(x.rank, 3);
        textf(s, "%s %s", o->kind == OP_GAP ? "globalavgpool" : "globalmaxpool", o->name);
        y = new3(s, x.c, 1, 1);
        if (o->kind == OP_GAP) {
            cnnrt_global_avgpool_forward(y.d, x.d, NB, x.c, HW);
        } else {
            for (int i = 0; i < NB * x.c; i++) {
                float m = x.d[(size_t)i * HW];
                for (int k = 1; k < HW; k++)
                    m = fmaxf(m, x.d[(size_t)i * HW + k]);
                y.d[i] = m;
            }
        }
        break;
    case OP_ADAPTIVE:
        assert_int_equal(x.rank, 3);
        textf(s, "adaptiveavgpool %s %dx%d", o->name, o->oh, o->ow);
        y = new3(s, x.c, o->oh, o->ow);
        cnnrt_adaptive_avgpool2d_forward(y.d, x.d, NB, x.c, x.h, x.w, o->oh, o->ow);
        break;
    case OP_BN: {
        /* y = γ(x−μ)/√(σ²+ε) + β, in double */
        textf(s, "batchnorm %s eps=%g", o->name, eps_of(o));
        float *gm = param(s, o->name, "weight", 1, &x.c, -1.5f, 1.5f);
        float *bt = param(s, o->name, "bias", 1, &x.c, -0.5f, 0.5f);
        float *mu = param(s, o->name, "running_mean", 1, &x.c, -0.5f, 0.5f);
        float *var = param(s, o->name, "running_var", 1, &x.c, 0.5f, 2.0f);
        y.d = track(s, t_falloc(nall));
        for (int i = 0; i < NB; i++)
            for (int c = 0; c < x.c; c++)
                for (int k = 0; k < HW; k++) {
                    size_t at = ((size_t)i * x.c + c) * HW + k;
                    y.d[at] = (float)((double)gm[c] * ((double)x.d[at] - mu[c]) /
                                      sqrt((double)var[c] + eps_of(o)) + bt[c]);
                }
        break;
    }
    case OP_LN: {
        const int affine = !o->affine;
        textf(s, "layernorm %s eps=%g%s", o->name, eps_of(o), affine ? "" : " noaffine");
        float *gm = NULL, *bt = NULL;
        if (affine) {
            const int d3[3] = { x.c, x.h, x.w };
            gm = param(s, o->name, "weight", x.rank, d3, -1.5f, 1.5f);
            bt = param(s, o->name, "bias", x.rank, d3, -0.5f, 0.5f);
        }
        float mean[NB], rstd[NB];
        y.d = track(s, t_falloc(nall));
        cnnrt_layernorm_forward(y.d, mean, rstd, x.d, gm, bt, (float)eps_of(o), NB, (int)n1);
        break;
    }
    case OP_IN:
    case OP_GN: {
        assert_int_equal(x.rank, 3);
        const int affine = o->kind == OP_IN ? o->affine : !o->affine;
        const int G = o->kind == OP_IN ? x.c : o->G;
        if (o->kind == OP_IN)
            textf(s, "instancenorm %s eps=%g%s", o->name, eps_of(o), affine ? " affine" : "");
        else
            textf(s, "groupnorm %s %d eps=%g%s", o->name, G, eps_of(o),
                  affine ? "" : " noaffine");
        float *gm = NULL, *bt = NULL;
        if (affine) {
            gm = param(s, o->name, "weight", 1, &x.c, -1.5f, 1.5f);
            bt = param(s, o->name, "bias", 1, &x.c, -0.5f, 0.5f);
        }
        float *sm = track(s, t_falloc((size_t)NB * G)), *sr = track(s, t_falloc((size_t)NB * G));
        y.d = track(s, t_falloc(nall));
        if (o->kind == OP_IN)
            cnnrt_instancenorm_forward(y.d, sm, sr, x.d, gm, bt, (float)eps_of(o), NB, x.c, HW);
        else
            cnnrt_groupnorm_forward(y.d, sm, sr, x.d, gm, bt, (float)eps_of(o), NB, x.c, HW, G);
        break;
    }
    case OP_RELU:
    case OP_LEAKY:
    case OP_TANH:
    case OP_SIGMOID: {
        static const char *const kinds[] = { [OP_RELU] = "relu", [OP_LEAKY] = "leakyrelu",
                                             [OP_TANH] = "tanh", [OP_SIGMOID] = "sigmoid" };
        static const int acts[] = { [OP_RELU] = ACT_RELU, [OP_LEAKY] = ACT_LEAKY,
                                    [OP_TANH] = ACT_TANH, [OP_SIGMOID] = ACT_SIGMOID };
        textf(s, "%s %s", kinds[o->kind], o->name);
        if (o->kind == OP_LEAKY)
            textf(s, " slope=%g", slope_of(o));
        y.d = track(s, t_falloc(nall));
        memcpy(y.d, x.d, sizeof(float) * nall);
        apply_act(y.d, nall, acts[o->kind], slope_of(o));
        break;
    }
    case OP_SOFTMAX: {
        /* nn.Softmax(dim=1): over the channels at each position; cnnrt's
         * softmax runs along rows, so go through [NB·HW][C] and back */
        textf(s, "softmax %s", o->name);
        float *t = track(s, t_falloc(nall)), *u = track(s, t_falloc(nall));
        for (int i = 0; i < NB; i++)
            for (int c = 0; c < x.c; c++)
                for (int k = 0; k < HW; k++)
                    t[((size_t)i * HW + k) * x.c + c] = x.d[((size_t)i * x.c + c) * HW + k];
        cnnrt_softmax_forward(u, t, NB * HW, x.c);
        y.d = track(s, t_falloc(nall));
        for (int i = 0; i < NB; i++)
            for (int c = 0; c < x.c; c++)
                for (int k = 0; k < HW; k++)
                    y.d[((size_t)i * x.c + c) * HW + k] = u[((size_t)i * HW + k) * x.c + c];
        break;
    }
    case OP_DROPOUT: {
        textf(s, "dropout %s %g", o->name, o->p);
        float *mask = track(s, t_falloc(nall));
        y.d = track(s, t_falloc(nall));
        cnnrt_dropout_forward(y.d, mask, x.d, (float)o->p, 0, &s->rng, nall);
        break;
    }
    case OP_RESIDUAL: {
        textf(s, "residual {\n");
        Tensor a = run_seq(s, o->br[0], x, "\n");
        textf(s, "\n}");
        Tensor b = x;
        if (o->br[1]) {
            textf(s, " shortcut {\n");
            b = run_seq(s, o->br[1], x, "\n");
            textf(s, "\n}");
        }
        assert_true(a.rank == b.rank && a.c == b.c && a.h == b.h && a.w == b.w);
        y = a;
        y.d = track(s, t_falloc(NB * numel(&a)));
        cnnrt_add_forward(y.d, a.d, b.d, NB * numel(&a));
        break;
    }
    case OP_CONCAT: {
        const float *xs[3];
        int cs[3], sum = 0;
        Tensor br[3] = { { 0 } };
        assert_true(o->nbr >= 1 && o->nbr <= 3);
        textf(s, "concat {\n");
        for (int k = 0; k < o->nbr; k++) {
            textf(s, "    { ");
            br[k] = run_seq(s, o->br[k], x, "; ");
            textf(s, " }\n");
            assert_int_equal(br[k].rank, 3);
            assert_true(br[k].h == br[0].h && br[k].w == br[0].w);
            xs[k] = br[k].d;
            cs[k] = br[k].c;
            sum += br[k].c;
        }
        textf(s, "}");
        y = new3(s, sum, br[0].h, br[0].w);
        cnnrt_concat_forward(y.d, xs, cs, o->nbr, NB, br[0].h * br[0].w);
        break;
    }
    default:
        fail_msg("unknown op kind %d", o->kind);
    }
    return y;
}

static Tensor run_seq(State *s, const Op *ops, Tensor x, const char *sep)
{
    for (int i = 0; ops[i].kind != OP_END; i++) {
        if (i)
            textf(s, "%s", sep);
        x = run_op(s, &ops[i], x);
    }
    return x;
}

/* ---- files -------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && k == n) ? 0 : -1;
}

/* safetensors: u64 LE header length, JSON header padded with spaces to a
 * multiple of 8, then the tensors as little-endian float32. */
static int write_safetensors(const char *path, const State *s)
{
    size_t cap = 4096 + 160 * (size_t)s->nparams, len = 0, off = 0, data = 0;
    char *h = malloc(cap);
    if (!h)
        return -1;
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (int i = 0; i < s->nparams; i++) {
        const Param *p = &s->params[i];
        len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                                i ? "," : "", p->name);
        for (int d = 0; d < p->nd; d++)
            len += (size_t)snprintf(h + len, cap - len, "%s%d", d ? "," : "", p->dims[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off,
                                off + 4 * p->n);
        off += 4 * p->n;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    data = off;
    size_t total = 8 + len + data;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(h);
        return -1;
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(buf + 8, h, len);
    unsigned char *q = buf + 8 + len;
    for (int i = 0; i < s->nparams; i++)
        for (size_t e = 0; e < s->params[i].n; e++) {
            uint32_t u;
            memcpy(&u, &s->params[i].d[e], 4);
            for (int b = 0; b < 4; b++)
                *q++ = (unsigned char)(u >> (8 * b));
        }
    int rc = write_file(path, buf, total);
    free(buf);
    free(h);
    return rc;
}

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)((src[i] >= 'a' && src[i] <= 'z') ? src[i] - 'a' + 'A' : src[i]);
    dst[i] = 0;
}

/* probe.c: the generated header's macros, as functions of the object. */
static int write_probe(const char *path, const char *net)
{
    char u[128], text[2048];
    upper(u, net, sizeof u);
    int k = snprintf(text, sizeof text,
                     "#include \"%s.h\"\n"
                     "void genops_probe(long long *v);\n"
                     "void genops_probe(long long *v)\n{\n"
                     "    v[0] = %s_IN_SIZE;\n    v[1] = %s_OUT_SIZE;\n"
                     "    v[2] = (long long)%s_WS_BYTES(1);\n"
                     "    v[3] = (long long)%s_WS_BYTES(%d);\n"
                     "    v[4] = %s_OK;\n    v[5] = %s_ERR_NULL;\n    v[6] = %s_ERR_BATCH;\n"
                     "    v[7] = %s_ERR_WORKSPACE;\n    v[8] = %s_ERR_ALIGN;\n}\n",
                     net, u, u, u, u, NB, u, u, u, u, u);
    return write_file(path, text, (size_t)k);
}

/* The build script of one mode: cnnc, then cc with what the header's
 * "Build:" comment asks for beyond libm. */
static const char BUILD_SH[] =
    "set -u\n"
    "cnnc=$1; root=$2; net=$3; mode=$4; flag=${5:-}\n"
    "mkdir -p \"$mode\" && cp probe.c \"$mode/\" && cd \"$mode\" || exit 1\n"
    "\"$cnnc\" ../$net.net --weights ../$net.safetensors $flag -o $net.c >cnnc.log 2>&1 || "
    "{ echo \"cnnc failed: $(cat cnnc.log)\" >error.log; exit 1; }\n"
    "build=$(sed -n '/Build:/,/\\*\\//p' $net.h)\n"
    "extra=''\n"
    "case $build in *cnnrt*) extra=\"-I$root/runtime $root/build/libcnnrt.a -fopenmp "
    "$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)\" ;; "
    "*blas*) extra=\"$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)\" "
    ";; esac\n"
    "${CC:-cc} -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -shared -fPIC -I. "
    "-o $net.so $net.c probe.c $extra -lm >cc.log 2>&1 || "
    "{ echo \"cc failed: $(cat cc.log)\" >error.log; exit 1; }\n";

static const char *const modes[][2] = { { "default", "" }, { "standalone", "--standalone" } };
#define NMODES 2

/* ---- group setup: references, files, all builds in parallel --------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void prepare(State *s, const Case *c)
{
    char path[700];
    s->c = c;
    cnnrt_rng_seed(&s->rng, fnv1a(c->name));
    snprintf(s->dir, sizeof s->dir, "%s/%s", workdir, c->name);
    if (mkdir(s->dir, 0777) != 0) {
        snprintf(s->err, sizeof s->err, "cannot create its directory: %s", strerror(errno));
        return;
    }
    Tensor x = new3(s, c->C, c->H, c->W);
    t_fill(x.d, NB * numel(&x), &s->rng, -1, 1);
    s->in = x.d;
    s->in_size = numel(&x);
    textf(s, "# %s: generated by tests/runtime/test_rt_genops.c\nnetwork %s input %dx%dx%d\n",
          c->name, c->name, c->C, c->H, c->W);
    s->out = run_seq(s, c->ops, x, "\n");
    textf(s, "\n");
    s->ref = s->out.d;
    s->out_size = numel(&s->out);
    snprintf(path, sizeof path, "%s/%s.net", s->dir, c->name);
    int bad = write_file(path, s->text, s->tlen);
    snprintf(path, sizeof path, "%s/%s.safetensors", s->dir, c->name);
    bad |= write_safetensors(path, s);
    snprintf(path, sizeof path, "%s/probe.c", s->dir);
    bad |= write_probe(path, c->name);
    if (bad)
        snprintf(s->err, sizeof s->err, "cannot write its .net, safetensors or probe file");
}

static pid_t spawn_build(const State *s, const char *cnnc, const char *root, int mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(s->dir) != 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", BUILD_SH, "build", cnnc, root, s->c->name,
              modes[mode][0], modes[mode][1], (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int setup_all(void **state)
{
    (void)state;
    char root[PATH_MAX];
    const char *env = getenv("CNNC");
    if (!realpath(env && *env ? env : "build/cnnc", cnnc_path)) {
        fprintf(stderr, "test_rt_genops: cnnc not found at %s (set CNNC, run from the repo root)\n",
                env && *env ? env : "build/cnnc");
        return -1;
    }
    if (!getcwd(root, sizeof root))
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof workdir, "%s/cnnc-genops.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(workdir)) {
        perror("test_rt_genops: mkdtemp");
        return -1;
    }
    for (int i = 0; i < NCASES; i++)
        prepare(&states[i], &cases[i]);

    /* builds: at most `jobs` at a time; each test reads its mode's error.log */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu + 1, running = 0;
    int next = 0;
    pid_t pids[64];
    while (next < NCASES * NMODES || running) {
        while (running < jobs && next < NCASES * NMODES) {
            int ci = next / NMODES, m = next % NMODES;
            next++;
            if (states[ci].err[0])
                continue;
            pid_t pid = spawn_build(&states[ci], cnnc_path, root, m);
            if (pid < 0) {
                snprintf(states[ci].err, sizeof states[ci].err, "fork failed");
                continue;
            }
            pids[running] = pid;
            running++;
        }
        if (!running)
            break;
        int st;
        pid_t done = wait(&st);
        if (done < 0)
            break;
        for (int k = 0; k < running; k++)
            if (pids[k] == done) {
                pids[k] = pids[running - 1];
                running--;
                break;
            }
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        for (int k = 0; k < states[i].nallocs; k++)
            free(states[i].allocs[k]);
        states[i].nallocs = 0;
    }
    const char *keep = getenv("GENOPS_KEEP");
    if (any_failed || (keep && *keep && strcmp(keep, "0") != 0)) {
        fprintf(stderr, "test_rt_genops: case files kept in %s\n", workdir);
    } else {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_rt_genops: could not remove %s\n", workdir);
    }
    return 0;
}

/* ---- the checks ----------------------------------------------------------- */

typedef int (*forward_ctx_fn)(void *, size_t, int, const float *, float *);
typedef int (*forward_fn)(const float *, float *);
typedef const char *(*strerror_fn)(int);
typedef void (*probe_fn)(long long *);

typedef struct {
    void *so;
    forward_ctx_fn fwd_ctx;
    forward_fn fwd;
    strerror_fn strerr;
    long long v[9];             /* probe: in, out, ws(1), ws(NB), codes */
} Lib;

static void report_failure(const State *s, const char *mode)
{
    any_failed = 1;
    print_error("    reproduce: cd %s/%s && %s ../%s.net --weights ../%s.safetensors%s -o %s.c\n",
                s->dir, mode, cnnc_path, s->c->name, s->c->name,
                strcmp(mode, "standalone") == 0 ? " --standalone" : "", s->c->name);
}

/* Prints MODE/error.log of a failed build and how to reproduce it, then fails. */
static void fail_build(const State *s, const char *mode)
{
    char path[800], buf[3000] = "";
    snprintf(path, sizeof path, "%s/%s/error.log", s->dir, mode);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        buf[k] = 0;
        fclose(f);
    }
    print_error("%s (%s): %s\n", s->c->name, mode, buf[0] ? buf : "the build failed (no log)");
    report_failure(s, mode);
    print_error("    then: cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -c %s.c\n", s->c->name);
    fail_msg("%s (%s): the generated code does not build", s->c->name, mode);
}

static void load(const State *s, const char *mode, Lib *L)
{
    char path[800], sym[160];
    snprintf(path, sizeof path, "%s/%s/%s.so", s->dir, mode, s->c->name);
    L->so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!L->so)
        fail_build(s, mode);
    snprintf(sym, sizeof sym, "%s_forward_ctx", s->c->name);
    *(void **)&L->fwd_ctx = dlsym(L->so, sym);
    snprintf(sym, sizeof sym, "%s_forward", s->c->name);
    *(void **)&L->fwd = dlsym(L->so, sym);
    snprintf(sym, sizeof sym, "%s_strerror", s->c->name);
    *(void **)&L->strerr = dlsym(L->so, sym);
    probe_fn probe;
    *(void **)&probe = dlsym(L->so, "genops_probe");
    assert_non_null(L->fwd_ctx);
    assert_non_null(L->fwd);
    assert_non_null(L->strerr);
    assert_non_null(probe);
    probe(L->v);
    if (L->v[0] != (long long)s->in_size || L->v[1] != (long long)s->out_size)
        fail_msg("%s (%s): the header says %lld -> %lld floats per image, the reference "
                 "%zu -> %zu", s->c->name, mode, L->v[0], L->v[1], s->in_size, s->out_size);
}

/* max |c − ref| / max |ref| over images [i0, i1); fails with the first
 * worst index, both values and the max difference. */
static double compare(const State *s, const char *mode, const char *what, const float *got,
                      int i0, int i1)
{
    const size_t m = s->out_size;
    double maxref = 0, maxd = 0;
    size_t worst = (size_t)i0 * m;
    for (size_t k = (size_t)i0 * m; k < (size_t)i1 * m; k++) {
        double d = fabs((double)got[k] - s->ref[k]);
        maxref = fmax(maxref, fabs((double)s->ref[k]));
        if (d > maxd || (isnan(d) && !isnan(maxd))) {
            maxd = isnan(d) ? NAN : d;
            worst = k;
        }
    }
    double err = isnan(maxd) ? INFINITY : maxref > 0 ? maxd / maxref : maxd;
    if (!(err <= TOL)) {
        const Tensor *o = &s->out;
        size_t i = worst / m, r = worst % m, hw = (size_t)o->h * o->w;
        print_error("%s (%s, %s): max |c - ref| / max |ref| = %.3g > %.0e; first worst at "
                    "image %zu, [c=%zu][h=%zu][w=%zu] (flat %zu): c = %.9g, ref = %.9g; "
                    "max diff %.3g, max |ref| %.3g\n",
                    s->c->name, mode, what, err, TOL, i, r / hw, r % hw / o->w, r % o->w, worst,
                    (double)got[worst], (double)s->ref[worst], maxd, maxref);
        report_failure(s, mode);
        fail();
    }
    return err;
}

static void check_mode(const State *s, int mode, double *err)
{
    const char *mname = modes[mode][0];
    Lib L;
    load(s, mname, &L);
    const size_t ws_bytes = (size_t)L.v[3];
    void *ws = malloc(ws_bytes ? ws_bytes : 1);
    float *out = t_falloc(NB * s->out_size);
    assert_non_null(ws);
    for (size_t k = 0; k < NB * s->out_size; k++)
        out[k] = NAN;
    int rc = L.fwd_ctx(ws, ws_bytes, NB, s->in, out);
    if (rc != L.v[4])
        fail_msg("%s (%s): forward_ctx returned %d (%s)", s->c->name, mname, rc, L.strerr(rc));
    compare(s, mname, "image 0", out, 0, 1);
    compare(s, mname, "image 1", out, 1, 2);        /* batched offsets */
    *err = compare(s, mname, "batch of 2", out, 0, NB);

    /* the single-image entry point on image 1 (static arena) */
    float *one = t_falloc(s->out_size);
    assert_int_equal(L.fwd(s->in + s->in_size, one), L.v[4]);
    if (memcmp(one, out + s->out_size, sizeof(float) * s->out_size) != 0)
        fail_msg("%s (%s): forward() on image 1 differs from forward_ctx()'s image 1",
                 s->c->name, mname);
    free(one);
    free(out);
    free(ws);
    dlclose(L.so);
}

static void test_case(void **state)
{
    const Case *c = *state;
    State *s = &states[c - cases];
    double err[NMODES];
    if (s->err[0]) {
        any_failed = 1;
        fail_msg("%s: %s", c->name, s->err);
    }
    for (int m = 0; m < NMODES; m++)
        check_mode(s, m, &err[m]);
    if (t_verbose())
        fprintf(stderr, "  %-28s out %3dx%-2dx%-2d  max|c-ref|/max|ref|: default %.3g, "
                "standalone %.3g\n", c->name, s->out.c, s->out.h, s->out.w, err[0], err[1]);
}

/* The generated API on bad arguments: each error code, and `out` left
 * untouched whenever the call fails. */
static void test_bad_arguments(void **state)
{
    (void)state;
    State *s = NULL;
    for (int i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, ERRCASE) == 0)
            s = &states[i];
    assert_non_null(s);
    if (s->err[0])
        fail_msg("%s: %s", ERRCASE, s->err);
    Lib L;
    load(s, "default", &L);
    const long long OK = L.v[4], ENULL = L.v[5], EBATCH = L.v[6], EWS = L.v[7], EALIGN = L.v[8];
    const size_t ws_bytes = (size_t)L.v[3];
    assert_true(ws_bytes >= sizeof(float));        /* this case needs a padded copy */
    /* aligned for anything, with room to misalign by a few bytes */
    char *raw = malloc(ws_bytes + 16);
    float *out = t_falloc(NB * s->out_size), *keep = t_falloc(NB * s->out_size);
    assert_non_null(raw);
    for (size_t k = 0; k < NB * s->out_size; k++)
        keep[k] = out[k] = -12345.0f;
    const float *in = s->in;

#define EXPECT(code, call)                                                                 \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != (code))                                                                 \
            fail_msg("%s: %s returned %d (%s), expected %lld (%s)", ERRCASE, #call, rc_,    \
                     L.strerr(rc_), (long long)(code), L.strerr((int)(code)));             \
        if (memcmp(out, keep, sizeof(float) * NB * s->out_size) != 0)                      \
            fail_msg("%s: %s wrote to out although it failed", ERRCASE, #call);            \
    } while (0)

    EXPECT(ENULL, L.fwd_ctx(NULL, ws_bytes, NB, in, out));
    EXPECT(ENULL, L.fwd_ctx(raw, ws_bytes, NB, NULL, out));
    EXPECT(ENULL, L.fwd_ctx(raw, ws_bytes, NB, in, NULL));
    EXPECT(EBATCH, L.fwd_ctx(raw, ws_bytes, 0, in, out));
    EXPECT(EBATCH, L.fwd_ctx(raw, ws_bytes, -1, in, out));
    EXPECT(EBATCH, L.fwd_ctx(raw, ws_bytes, INT_MIN, in, out));
    EXPECT(EWS, L.fwd_ctx(raw, ws_bytes - 1, NB, in, out));
    EXPECT(EWS, L.fwd_ctx(raw, 0, NB, in, out));
    EXPECT(EWS, L.fwd_ctx(raw, (size_t)L.v[2] - 1, 1, in, out));
    for (int mis = 1; mis < (int)sizeof(float); mis++)
        EXPECT(EALIGN, L.fwd_ctx(raw + mis, ws_bytes, NB, in, out));
#undef EXPECT

    /* the codes are distinct and explained */
    const long long codes[] = { OK, ENULL, EBATCH, EWS, EALIGN };
    for (int i = 0; i < 5; i++) {
        const char *m = L.strerr((int)codes[i]);
        assert_non_null(m);
        assert_true(m[0] != 0);
        for (int j = 0; j < i; j++) {
            assert_true(codes[i] != codes[j]);
            assert_string_not_equal(m, L.strerr((int)codes[j]));
        }
    }
    assert_int_equal(OK, 0);
    assert_non_null(L.strerr(12345));

    /* exactly WS_BYTES(n) is enough, and the result is right */
    assert_int_equal(L.fwd_ctx(raw, ws_bytes, NB, in, out), OK);
    compare(s, "default", "after the error checks", out, 0, NB);
    free(raw);
    free(out);
    free(keep);
    dlclose(L.so);
}

int main(void)
{
    struct CMUnitTest tests[NCASES + 1];
    for (int i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){ .name = cases[i].name, .test_func = test_case,
                                        .initial_state = (void *)&cases[i] };
    tests[NCASES] = (struct CMUnitTest){ .name = "bad_arguments",
                                         .test_func = test_bad_arguments };
    return _cmocka_run_group_tests("genops", tests, NCASES + 1, setup_all, teardown_all);
}
