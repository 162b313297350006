/*
 * test_cc_shape.c — shape inference, parameter and MAC counts, receptive
 * fields and activation memory, checked against worked examples done by
 * hand (the lectures' conv example, LeNet-5's table, PyTorch's output-size
 * rule) rather than against the compiler's own output.
 *
 * Each case compiles a network from a string through the real front end
 * (front_load_string, then report_totals);
 * diagnostics go to a memstream so a failing case shows them, and the error
 * cases assert on their text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cnnc.h"

static char *diag_buf;
static size_t diag_len;
static FILE *diag_mem;

/* Compile text; returns the checked graph, or NULL with the errors in diag_buf. */
static Graph *compile(const char *text) {
    diag_reset();
    if (diag_mem) fclose(diag_mem);
    free(diag_buf);
    diag_buf = NULL;
    diag_mem = open_memstream(&diag_buf, &diag_len);
    diag_set_stream(diag_mem);
    Graph *g = front_load_string("test.net", text);
    fflush(diag_mem);
    return g;
}

/* compile text and fail, showing the diagnostics, when it has errors */
static Graph *compile_ok(const char *text) {
    Graph *g = compile(text);
    if (!g) fail_msg("network did not compile:\n%s", diag_buf ? diag_buf : "");
    return g;
}

static Node *node(Graph *g, const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    fail_msg("no layer named '%s'", name);
    return NULL;
}

#define EXPECT_EQ(what, got, want) do {                                            \
        long long g_ = (got), w_ = (want);                                         \
        if (g_ != w_) fail_msg("%s: got %lld, expected %lld", (what), g_, w_);     \
    } while (0)

static void expect_shape(const Node *n, long long c, long long h, long long w) {
    if (n->shape.rank != 3 || n->shape.c != c || n->shape.h != h || n->shape.w != w)
        fail_msg("%s: shape %s, expected %lld×%lld×%lld", n->name, shape_str(n->shape), c, h, w);
}

static void expect_flat(const Node *n, long long d) {
    if (n->shape.rank != 1 || n->shape.c != d)
        fail_msg("%s: shape %s, expected [%lld]", n->name, shape_str(n->shape), d);
}

static void expect_rf(const Node *n, long long size, long long jump) {
    if (!n->rf_valid) fail_msg("%s: receptive field is null, expected %lld/%lld", n->name, size, jump);
    if (n->rf_h != size || n->rf_w != size || n->jump_h != jump || n->jump_w != jump)
        fail_msg("%s: receptive field %lldx%lld jump %lldx%lld, expected %lld jump %lld",
                 n->name, n->rf_h, n->rf_w, n->jump_h, n->jump_w, size, jump);
}

static void expect_error(const char *text, const char *needle) {
    Graph *g = compile(text);
    if (g) fail_msg("expected an error containing \"%s\", but the network compiled", needle);
    if (!diag_buf || !strstr(diag_buf, needle))
        fail_msg("expected an error containing \"%s\", got:\n%s", needle, diag_buf ? diag_buf : "");
}

/* Lecture: 3×32×32, ten 5×5 filters, stride 1, pad 2 -> 10×32×32;
 * params 10·(3·5·5) + 10 = 760; MACs 10·32·32·(3·5·5) = 768,000. */
static void test_lecture_conv(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 3x32x32\nconv c 10 k5 s1 p2\n");
    Node *c = node(g, "c");
    expect_shape(c, 10, 32, 32);
    EXPECT_EQ("params", c->params, 760);
    EXPECT_EQ("MACs", c->macs, 768000);
    expect_rf(c, 5, 1);
}

/* Lecture: 7×7 input, 3×3 filter, stride 2 -> (7 - 3)/2 + 1 = 3. */
static void test_lecture_stride2(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 1x7x7\nconv c 1 k3 s2\n");
    expect_shape(node(g, "c"), 1, 3, 3);
    /* and with padding 1: (7 + 2 - 3)/2 + 1 = 4 */
    g = compile_ok("network t input 1x7x7\nconv c 1 k3 s2 p1\n");
    expect_shape(node(g, "c"), 1, 4, 4);
}

/* L stacked 3×3 stride-1 convs see 1 + 2L input pixels, jump 1. */
static void test_rf_stacked_3x3(void **state) {
    (void)state;
    for (int L = 1; L <= 6; L++) {
        char text[512];
        int o = snprintf(text, sizeof text, "network t input 1x64x64\n");
        for (int i = 1; i <= L; i++)
            o += snprintf(text + o, sizeof text - (size_t)o, "conv c%d 4 k3 p1\n", i);
        Graph *g = compile_ok(text);
        char last[16];
        snprintf(last, sizeof last, "c%d", L);
        expect_rf(node(g, last), 1 + 2 * L, 1);
    }
}

/* RF with strides: k3 s2 then k3 -> 3 + 2·2 = 7, jump 2; then pool k2 s2 -> 7 + 1·2 = 9, jump 4. */
static void test_rf_strided(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 1x64x64\nconv a 4 k3 s2 p1\nconv b 4 k3 p1\nmaxpool m 2\n");
    expect_rf(node(g, "a"), 3, 2);
    expect_rf(node(g, "b"), 7, 2);
    expect_rf(node(g, "m"), 9, 4);
}

/* No spatial extent, no receptive field. */
static void test_rf_null(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 3x8x8\nconv c 4 k3\nglobalavgpool gap\nflatten f\ndense d 2\n");
    Node *c = node(g, "c");
    expect_rf(c, 3, 1);
    if (node(g, "gap")->rf_valid) fail_msg("gap: receptive field should be null after global pooling");
    if (node(g, "f")->rf_valid) fail_msg("f: receptive field should be null after flatten");
    if (node(g, "d")->rf_valid) fail_msg("d: receptive field should be null after dense");
    g = compile_ok("network t input 3x8x8\nflatten f\nrelu r\n");
    if (node(g, "r")->rf_valid) fail_msg("r: receptive field should stay null after flatten");
}

/* LeNet-5, layer by layer (tanh, average pooling, C3 fully connected):
 *   c1  6×28×28   6·(1·25)+6 = 156        MACs 6·28·28·25      = 117,600
 *   s2  6×14×14
 *   c3 16×10×10  16·(6·25)+16 = 2,416     MACs 16·10·10·150    = 240,000
 *   s4 16×5×5
 *   c5 120×1×1  120·(16·25)+120 = 48,120  MACs 120·400         = 48,000
 *   f6 84        120·84+84 = 10,164       MACs 10,080
 *   out 10       84·10+10 = 850           MACs 840
 *   total 61,706 params, 416,520 MACs. */
static void test_lenet5(void **state) {
    (void)state;
    Graph *g = compile_ok("network lenet5 input 1x32x32\n"
                          "conv c1 6 k5 tanh\navgpool \"s2\" k2 s2\nconv c3 16 k5 tanh\navgpool \"s4\" k2 s2\n"
                          "conv c5 120 k5\nflatten\ndense f6 84 tanh\ndense out 10\n");
    static const struct { const char *name; long long c, h, w, params, macs; } t[] = {
        { "c1", 6, 28, 28, 156, 117600 },
        { "s2", 6, 14, 14, 0, 0 },
        { "c3", 16, 10, 10, 2416, 240000 },
        { "s4", 16, 5, 5, 0, 0 },
        { "c5", 120, 1, 1, 48120, 48000 },
        { "f6", 84, 0, 0, 10164, 10080 },
        { "out", 10, 0, 0, 850, 840 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        Node *n = node(g, t[i].name);
        if (t[i].h) expect_shape(n, t[i].c, t[i].h, t[i].w);
        else expect_flat(n, t[i].c);
        char what[64];
        snprintf(what, sizeof what, "%s params", t[i].name);
        EXPECT_EQ(what, n->params, t[i].params);
        snprintf(what, sizeof what, "%s MACs", t[i].name);
        EXPECT_EQ(what, n->macs, t[i].macs);
    }
    Totals tot;
    report_totals(g, &tot);
    EXPECT_EQ("total params", tot.params, 61706);
    EXPECT_EQ("total MACs", tot.macs, 416520);
    EXPECT_EQ("FLOPs", tot.flops, 2 * 416520);
}

/* PyTorch's pooling output size: floor((H + 2P - K)/S) + 1, or with ceil
 * mode ceil(...) + 1, dropping the last window if it would start in the
 * right padding. */
static void test_pool_sizes(void **state) {
    (void)state;
    /* ResNet stem pool: (112 + 2 - 3)/2 + 1 = 55 + 1 = 56 */
    Graph *g = compile_ok("network t input 64x112x112\nmaxpool m 3 2 p1\n");
    expect_shape(node(g, "m"), 64, 56, 56);
    /* 55, k3 s2: (55 - 3)/2 = 26 exactly, so floor and ceil both give 27 */
    g = compile_ok("network t input 8x55x55\nmaxpool m 3 2\n");
    expect_shape(node(g, "m"), 8, 27, 27);
    g = compile_ok("network t input 8x55x55\nmaxpool m 3 2 ceil\n");
    expect_shape(node(g, "m"), 8, 27, 27);
    /* 56, k3 s2: (56 - 3)/2 = 26.5 -> floor 26 + 1 = 27, ceil 27 + 1 = 28
     * (the 28th window starts at 54 < 56: inside, kept) */
    g = compile_ok("network t input 8x56x56\nmaxpool m 3 2\n");
    expect_shape(node(g, "m"), 8, 27, 27);
    g = compile_ok("network t input 8x56x56\nmaxpool m 3 2 ceil\n");
    expect_shape(node(g, "m"), 8, 28, 28);
    /* 5, k2 s2 p1 ceil: ceil((5 + 2 - 2)/2) + 1 = 3 + 1 = 4, but window 4
     * would start at 3·2 = 6 >= 5 + 1 (in the right padding): dropped -> 3 */
    g = compile_ok("network t input 1x5x5\navgpool a 2 2 p1 ceil\n");
    expect_shape(node(g, "a"), 1, 3, 3);
    /* pool stride defaults to the kernel: 32/2 = 16 */
    g = compile_ok("network t input 3x32x32\nmaxpool m 2\n");
    expect_shape(node(g, "m"), 3, 16, 16);
}

/* Dilation: 7×7, k3 d2 spans 5 -> 7 - 5 + 1 = 3; RF 1 + 2·2 = 5. */
static void test_dilation(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 1x7x7\nconv c 1 k3 d2\n");
    Node *c = node(g, "c");
    expect_shape(c, 1, 3, 3);
    expect_rf(c, 5, 1);
    EXPECT_EQ("dilated conv MACs (taps, not span)", c->macs, 1 * 3 * 3 * 9);
}

/* Groups: weight [Cout][Cin/groups][KH][KW]. */
static void test_groups(void **state) {
    (void)state;
    /* depthwise 32 -> 32, 3×3, no bias: 32·1·9 = 288 params, 32·16·16·9 = 73,728 MACs */
    Graph *g = compile_ok("network t input 32x16x16\nconv dw 32 k3 p1 g32 nobias\n");
    Node *dw = node(g, "dw");
    expect_shape(dw, 32, 16, 16);
    EXPECT_EQ("depthwise params", dw->params, 288);
    EXPECT_EQ("depthwise MACs", dw->macs, 73728);
    /* 4 groups, 32 -> 64: 64·8·9 + 64 = 4,672 params; 64·16·16·8·9 = 1,179,648 MACs */
    g = compile_ok("network t input 32x16x16\nconv c 64 k3 p1 groups=4\n");
    EXPECT_EQ("grouped params", node(g, "c")->params, 4672);
    EXPECT_EQ("grouped MACs", node(g, "c")->macs, 1179648);
    expect_error("network t input 32x16x16\nconv c 48 k3 g5\n", "groups 5 does not divide the 32 input channels");
    expect_error("network t input 32x16x16\nconv c 48 k3 g32\n", "groups 32 does not divide the 48 output channels");
}

/* 'same' with an even kernel: 3 pad rows, 1 at the top and 2 at the bottom
 * (PyTorch), output = input. */
static void test_same_even_kernel(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 3x10x9\nconv c 4 k4 same\n");
    Node *c = node(g, "c");
    expect_shape(c, 4, 10, 9);
    EXPECT_EQ("pad top", c->pt, 1);
    EXPECT_EQ("pad bottom", c->pb, 2);
    EXPECT_EQ("pad left", c->pl, 1);
    EXPECT_EQ("pad right", c->pr, 2);
    /* odd kernel, dilation 2: 4 pad rows, 2 each side */
    g = compile_ok("network t input 3x10x10\nconv c 4 k3 d2 same\n");
    c = node(g, "c");
    expect_shape(c, 4, 10, 10);
    EXPECT_EQ("pad top (dilated)", c->pt, 2);
    EXPECT_EQ("pad bottom (dilated)", c->pb, 2);
    expect_error("network t input 3x10x10\nconv c 4 k3 s2 same\n", "padding 'same' needs stride 1");
}

static void test_adaptive_pool(void **state) {
    (void)state;
    /* AlexNet: 256×13×13 -> 256×6×6 */
    Graph *g = compile_ok("network t input 256x13x13\nadaptiveavgpool a 6x6\n");
    expect_shape(node(g, "a"), 256, 6, 6);
    EXPECT_EQ("params", node(g, "a")->params, 0);
    /* already at size: the identity, RF unchanged */
    g = compile_ok("network t input 512x7x7\nadaptiveavgpool a 7\n");
    expect_shape(node(g, "a"), 512, 7, 7);
    expect_rf(node(g, "a"), 1, 1);
    /* exact windows 8/2 = 4: RF 4, jump 4 */
    g = compile_ok("network t input 2x8x8\nadaptiveavgpool a 2\n");
    expect_shape(node(g, "a"), 2, 2, 2);
    expect_rf(node(g, "a"), 4, 4);
    /* non-square */
    g = compile_ok("network t input 2x9x5\nadaptiveavgpool a 3x1\n");
    expect_shape(node(g, "a"), 2, 3, 1);
}

/* concat adds the branches' channels: 16 + 8 + 8 (identity) = 32. */
static void test_concat(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 8x8x8\nconcat cat {\n conv a 16 k1\n conv b 8 k3 p1\n {}\n}\n");
    Node *cat = node(g, "cat.concat");
    expect_shape(cat, 32, 8, 8);
    expect_rf(cat, 3, 1);                  /* the maximum over the branches */
    expect_error("network t input 8x8x8\nconcat cat {\n conv a 16 k1\n conv b 8 k3\n}\n",
                 "branch 1 is 16×8×8 but branch 2 is 8×6×6 (the spatial sizes must match)");
}

static void test_residual(void **state) {
    (void)state;
    /* projection shortcut: body and shortcut both 16×16×16 */
    Graph *g = compile_ok("network t input 8x32x32\n"
                          "residual r { conv a 16 k3 s2 p1 } shortcut { conv p 16 k1 s2 }\n");
    Node *add = node(g, "r.add");
    expect_shape(add, 16, 16, 16);
    expect_rf(add, 3, 2);
    expect_error("network t input 64x56x56\nresidual layer2 { conv c 128 k3 s2 p1 }\n",
                 "add 'layer2.add': input 1 is 128×28×28 but input 2 is 64×56×56");
}

/* Peak activation memory of a hand-scheduled network (4 bytes a value):
 *   input 1×4×4 (the caller's, not counted)
 *   a    conv 2 k1   2×4×4 = 128 B, read by b and by the add
 *   b    conv 2 k1   128 B          live: a, b            = 256
 *   r    relu        128 B          live: a, b, r = 384, then b dies -> 256
 *   add  a + r       128 B          live: a, r, add = 384, then a, r die
 * peak 384 B, sum 4·128 = 512 B. */
static void test_peak_activation(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 1x4x4\nconv a 2 k1\nresidual res { conv b 2 k1; relu r }\n");
    Totals t;
    report_totals(g, &t);
    EXPECT_EQ("activation bytes of a", node(g, "a")->act_bytes, 128);
    EXPECT_EQ("activation bytes, sum", t.activation_bytes_sum, 512);
    EXPECT_EQ("activation bytes, peak", t.activation_bytes_peak, 384);
    /* a plain chain never holds more than two tensors: peak = 2 × 128 */
    g = compile_ok("network t input 1x4x4\nconv a 2 k1\nrelu\nconv c 2 k1\n");
    report_totals(g, &t);
    EXPECT_EQ("chain peak", t.activation_bytes_peak, 256);
}

/* Norm and dense parameter counts (PyTorch's parameters()). */
static void test_norm_params(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 6x4x4\nbatchnorm bn\ngroupnorm gn 3\ninstancenorm in1\n"
                          "instancenorm in2 affine\nlayernorm ln\nflatten\ndense d 5 nobias\n");
    EXPECT_EQ("batchnorm", node(g, "bn")->params, 12);
    EXPECT_EQ("groupnorm", node(g, "gn")->params, 12);
    EXPECT_EQ("instancenorm", node(g, "in1")->params, 0);
    EXPECT_EQ("instancenorm affine", node(g, "in2")->params, 12);
    EXPECT_EQ("layernorm [6,4,4]", node(g, "ln")->params, 2 * 96);
    EXPECT_EQ("dense nobias", node(g, "d")->params, 96 * 5);
}

/* Error cases: the message names both sizes and the layer. */
static void test_shape_errors(void **state) {
    (void)state;
    expect_error("network t input 1x4x4\nconv c 2 k5\n",
                 "test.net:2:1: error: conv 'c': kernel 5×5 is larger than its input 1×4×4 with padding");
    expect_error("network t input 1x28x28\nconv c 2 k3\ndense d 10\n",
                 "dense 'd' needs a flat input, but its input is 2×26×26; add 'flatten' before it");
    expect_error("network t input 3x32x32\nmaxpool m 3 p2\n", "padding 2x2 is more than half the kernel 3x3");
    expect_error("network t input 3x32x32\nconv c 0 k3\n", "out must be at least 1, not 0");
    expect_error("network t input 100000x100000x100000\nrelu\n", "a tensor may have at most 2^40");
    expect_error("", "test.net:1:1: error: empty network");
    expect_error("network t input 6x8x8\nshuffle s 4\n", "shuffle 's': 4 groups do not divide the 6 channels");
    expect_error("network t input 6x8x8\nsplit s 3\n", "split 's': part 3 of 2: there is no such part");
    expect_error("network t input 6x8x8\nsplit s 1 4\n", "split 's': 4 parts do not divide the 6 channels");
    expect_error("network t input 6x8x8\nflatten\nshuffle s 2\n", "shuffle 's' needs a C×H×W input");
    expect_error("network t input 6x8x8\nscale se { globalavgpool; conv 3 k1 }\n",
                 "mul 'se.mul': the input is 6×8×8 but the gate (the scale's body, or merge mul's second branch) is 3×1×1; it must be 6×8×8 or 6×1×1");
    expect_error("network t input 6x8x8\nscale se { }\n", "scale with an empty body");
    expect_error("network t input 6x8x8\nconvtranspose c 4 k3 s2 output_padding=2\n",
                 "output_padding 2x2 must be smaller than the stride 2x2");
    expect_error("network t input 6x8x8\nconvtranspose c 4 k3 padding=same\n", "padding must be N or HxW");
    expect_error("network t input 6x2x2\nconvtranspose c 4 k1 p1\n", "leaves no output");
    expect_error("network t input 6x8x8\nupsample u\n", "give a scale factor or a size");
    expect_error("network t input 6x3x8\npad p 3 reflect\n", "reflect padding must be smaller than the input 6×3×8");
    expect_error("network t input 6x8x8\npad p 1 reflect replicate\n", "reflect or replicate, not both");
    expect_error("network t input 6x8x8\npad p top=1.5\n", "top must be an integer of 0 or more");
    expect_error("network t input 6x8x8\nupsample u 2 align_corners=true\n", "align_corners applies to bilinear");
}


#define EXPECT_REAL(what, got, want) do {                                          \
        double g_ = (got), w_ = (want);                                            \
        if (g_ != w_) fail_msg("%s: got %g, expected %g", (what), g_, w_);         \
    } while (0)

/* Every attribute of every kind lands in the Node field it means (the kind
 * table names the field; nothing falls back by type).  Each value differs
 * from its default and from the attribute next to it. */
/* An activation's parameters: as a layer, positional or named, defaults
 * from runtime/cnnrt_acts.def; fused on a conv or dense line, the
 * defaults (a leaky relu the line's slope=); checked ranges. */
static void test_activation_params(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 4x8x8\n"
                          "conv c1 8 k3 elu\n"
                          "hardtanh h1 -2 3\n"
                          "hardtanh h2 max=0.5\n"
                          "elu e 0.75\n"
                          "softplus s beta=2 threshold=9\n"
                          "softplus s2\n"
                          "conv c2 8 k1 hardtanh\n"
                          "conv c3 8 k1 leakyrelu slope=0.3\n"
                          "conv c4 8 k1 softplus\n");
    EXPECT_EQ("conv elu act", node(g, "c1")->act, ACT_ELU);
    EXPECT_REAL("conv elu alpha", node(g, "c1")->act_p[0], 1.0);
    EXPECT_REAL("hardtanh min", node(g, "h1")->act_p[0], -2.0);
    EXPECT_REAL("hardtanh max", node(g, "h1")->act_p[1], 3.0);
    EXPECT_REAL("hardtanh default min", node(g, "h2")->act_p[0], -1.0);
    EXPECT_REAL("hardtanh max=", node(g, "h2")->act_p[1], 0.5);
    EXPECT_REAL("elu alpha", node(g, "e")->act_p[0], 0.75);
    EXPECT_REAL("softplus beta", node(g, "s")->act_p[0], 2.0);
    EXPECT_REAL("softplus threshold", node(g, "s")->act_p[1], 9.0);
    EXPECT_REAL("softplus default beta", node(g, "s2")->act_p[0], 1.0);
    EXPECT_REAL("softplus default threshold", node(g, "s2")->act_p[1], 20.0);
    EXPECT_REAL("conv hardtanh min", node(g, "c2")->act_p[0], -1.0);
    EXPECT_REAL("conv hardtanh max", node(g, "c2")->act_p[1], 1.0);
    EXPECT_REAL("conv leaky slope", node(g, "c3")->act_p[0], 0.3);
    EXPECT_REAL("conv softplus beta", node(g, "c4")->act_p[0], 1.0);
    EXPECT_REAL("conv softplus threshold", node(g, "c4")->act_p[1], 20.0);
    /* a transposed conv's output: (H − 1)·S − 2P + D·(K − 1) + output_padding + 1 */
    Graph *t = compile_ok("network t input 3x5x7\nconvtranspose c 4 k3 s2 p1 output_padding=1 d2\n"
                          "upsample u 3\nupsample v size=4x9 bilinear\n");
    EXPECT_EQ("convt H", node(t, "c")->shape.h, (5 - 1) * 2 - 2 + 2 * 2 + 1 + 1);
    EXPECT_EQ("convt W", node(t, "c")->shape.w, (7 - 1) * 2 - 2 + 2 * 2 + 1 + 1);
    EXPECT_EQ("convt params", node(t, "c")->params, 3 * 4 * 9 + 4);
    EXPECT_EQ("convt MACs", node(t, "c")->macs, 3LL * 4 * 9 * 5 * 7);
    EXPECT_EQ("upsample H", node(t, "u")->shape.h, 3 * 12);
    EXPECT_EQ("upsample size", node(t, "v")->shape.w, 9);
    Graph *pd = compile_ok("network t input 3x5x7\npad a 1x2\npad b 2 top=0 right=3 replicate\n");
    EXPECT_EQ("pad HxW rows", node(pd, "a")->shape.h, 7);
    EXPECT_EQ("pad HxW columns", node(pd, "a")->shape.w, 11);
    EXPECT_EQ("pad top=0 bottom from padding", node(pd, "b")->shape.h, 7 + 0 + 2);
    EXPECT_EQ("pad right=3 left from padding", node(pd, "b")->shape.w, 11 + 2 + 3);
    expect_error("network t input 3x8x8\nhardtanh h 2 1\n", "min 2 is above max 1");
    expect_error("network t input 3x8x8\nsoftplus s 0\n", "beta must be positive, not 0");
    expect_error("network t input 3x8x8\nrelu6 r 1\n", "takes no positional arguments");
}

static void test_attribute_fields(void **state) {
    (void)state;
    Graph *g = compile_ok("network t input 4x32x32\n"
                          "conv c 8 kernel=3x5 stride=2x1 dilation=1x2 groups=2 padding=1x2 nobias "
                          "act=leakyrelu slope=0.25\n"
                          "maxpool m kernel=2x3 stride=1x2 padding=1x0 ceil\n"
                          "avgpool a 3x2 2x1 exclude_pad\n"
                          "adaptiveavgpool ap 3x4\n"
                          "batchnorm b eps=0.002 momentum=0.3\n"
                          "groupnorm gn 4 eps=0.003 noaffine\n"
                          "instancenorm in affine\n"
                          "leakyrelu l 0.125\n"
                          "dropout d 0.375\n"
                          "flatten\n"
                          "dense f 10 nobias tanh\n");
    Node *c = node(g, "c");
    EXPECT_EQ("conv out", c->out, 8);
    EXPECT_EQ("conv kh", c->kh, 3);
    EXPECT_EQ("conv kw", c->kw, 5);
    EXPECT_EQ("conv sh", c->sh, 2);
    EXPECT_EQ("conv sw", c->sw, 1);
    EXPECT_EQ("conv dh", c->dh, 1);
    EXPECT_EQ("conv dw", c->dw, 2);
    EXPECT_EQ("conv groups", c->groups, 2);
    EXPECT_EQ("conv pt", c->pt, 1);
    EXPECT_EQ("conv pb", c->pb, 1);
    EXPECT_EQ("conv pl", c->pl, 2);
    EXPECT_EQ("conv pr", c->pr, 2);
    EXPECT_EQ("conv bias", c->bias, 0);
    EXPECT_EQ("conv act", c->act, ACT_LEAKY);
    EXPECT_REAL("conv act_p[0]", c->act_p[0], 0.25);
    Node *m = node(g, "m");
    EXPECT_EQ("maxpool kh", m->kh, 2);
    EXPECT_EQ("maxpool kw", m->kw, 3);
    EXPECT_EQ("maxpool sh", m->sh, 1);
    EXPECT_EQ("maxpool sw", m->sw, 2);
    EXPECT_EQ("maxpool pt", m->pt, 1);
    EXPECT_EQ("maxpool pl", m->pl, 0);
    EXPECT_EQ("maxpool ceil", m->ceil, 1);
    Node *a = node(g, "a");
    EXPECT_EQ("avgpool kh", a->kh, 3);
    EXPECT_EQ("avgpool kw", a->kw, 2);
    EXPECT_EQ("avgpool sh", a->sh, 2);
    EXPECT_EQ("avgpool sw", a->sw, 1);
    EXPECT_EQ("avgpool ceil", a->ceil, 0);
    EXPECT_EQ("avgpool count_include_pad", a->count_include_pad, 0);
    Node *ap = node(g, "ap");
    EXPECT_EQ("adaptive oh", ap->oh, 3);
    EXPECT_EQ("adaptive ow", ap->ow, 4);
    Node *b = node(g, "b");
    EXPECT_REAL("batchnorm eps", b->eps, 0.002);
    EXPECT_REAL("batchnorm momentum", b->momentum, 0.3);
    Node *gn = node(g, "gn");
    EXPECT_EQ("groupnorm groups", gn->groups, 4);
    EXPECT_REAL("groupnorm eps", gn->eps, 0.003);
    EXPECT_EQ("groupnorm affine", gn->affine, 0);
    EXPECT_EQ("instancenorm affine", node(g, "in")->affine, 1);
    Node *l = node(g, "l");
    EXPECT_REAL("leakyrelu slope", l->slope, 0.125);
    EXPECT_REAL("leakyrelu act_p[0]", l->act_p[0], 0.125);
    EXPECT_REAL("dropout p", node(g, "d")->p, 0.375);
    Node *f = node(g, "f");
    EXPECT_EQ("dense out", f->out, 10);
    EXPECT_EQ("dense bias", f->bias, 0);
    EXPECT_EQ("dense act", f->act, ACT_TANH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lecture_conv),
        cmocka_unit_test(test_lecture_stride2),
        cmocka_unit_test(test_rf_stacked_3x3),
        cmocka_unit_test(test_rf_strided),
        cmocka_unit_test(test_rf_null),
        cmocka_unit_test(test_lenet5),
        cmocka_unit_test(test_pool_sizes),
        cmocka_unit_test(test_dilation),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_same_even_kernel),
        cmocka_unit_test(test_adaptive_pool),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_residual),
        cmocka_unit_test(test_peak_activation),
        cmocka_unit_test(test_norm_params),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_attribute_fields),
        cmocka_unit_test(test_activation_params),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (diag_mem) fclose(diag_mem);
    free(diag_buf);
    arena_free_all();
    return rc;
}
