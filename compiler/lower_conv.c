/*
 * lower_conv.c — how a conv layer runs in the generated code: its algorithm
 * (direct loops, im2col + GEMM, Winograd F(2x2,3x3), F(4x4,3x3) or F(6x6,3x3),
 * depthwise blocks), chosen by its shape; the scratch and the Winograd or
 * depthwise geometry that algorithm needs (plan.c sizes the arena by it,
 * emit.c passes it to the templates); and its
 * weights transformed ahead of time (GEMM panels, Winograd's U).
 */
#include "cnnc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long conv_round_up(long long v, long long m) { return (v + m - 1) / m * m; }

/* An im2col conv whose patch matrix col[k][ldb] (ldb = p rounded up to
 * GEMM_NR) is over GEMM_COL_CACHE bytes goes in blocks of output pixels: a
 * block's patches, then its product while they are in cache.  Blocks of
 * even size, a multiple of GEMM_NR pixels near GEMM_COL_BLOCK bytes of
 * patches; each thread's blocks reuse the scratch of its first
 * (conv_scratch() has room for every block).  0: the whole matrix at once.
 * Measured on resnet18's conv1 (7.4 MB of patches, 1 MB of L2): 1.8 ms
 * whole, 1.4 ms in blocks of 1 MB, 1.55 ms of 256 KB. */
enum { GEMM_COL_CACHE = 2 << 20, GEMM_COL_BLOCK = 1 << 20 };

static long long conv_gemm_block(long long k, long long p) {
    /* CNNC_GEMM_BLOCK=BYTES: blocks from BYTES of patches, of about half
     * that (a knob for tests: small networks run the blocked code) */
    const char *knob = getenv("CNNC_GEMM_BLOCK");
    long long cache = knob && *knob ? atoll(knob) : GEMM_COL_CACHE, block = knob && *knob ? cache / 2 : GEMM_COL_BLOCK;
    if (4 * k * conv_round_up(p, GEMM_NR) <= cache) return 0;
    long long b = block / 4 / k / GEMM_NR * GEMM_NR;
    if (b < GEMM_NR) b = GEMM_NR;
    long long nblk = (p + b - 1) / b;
    return nblk < 2 ? 0 : conv_round_up((p + nblk - 1) / nblk, GEMM_NR);
}

/* An im2col conv that computes its patch matrix: not one pixel (a
 * matrix-vector product), not the input itself as the matrix. */
static bool conv_own_patches(const Node *n) {
    long long p = n->shape.h * n->shape.w;
    return conv_algo(n) == CONV_GEMM && p > 1 && !conv_is_whole(n) && !(conv_is_pointwise(n) && p % GEMM_NR == 0);
}

/* The pixel block of an im2col conv's patches (conv_gemm_block()), 0 when
 * it has none: no patches of its own, or OpenBLAS takes it. */
long long conv_col_block(const Node *n, bool standalone) {
    if (!conv_own_patches(n) || layer_blas(n, standalone)) return 0;
    return conv_gemm_block(n->in[0]->shape.c * n->kh * n->kw, n->shape.h * n->shape.w);
}

/* A depthwise conv runs over each input channel a block of output rows at a
 * time: the input rows the block reads, zero-padded and split by phase of
 * the stride (padded row r, column px in phase (r % sh, px % sw) at row
 * r / sh, column px / sw), so that every tap reads consecutive outputs from
 * consecutive floats; the block's buffers are on the stack of the thread
 * that runs the channel.  Short rows (under DW_WIDE outputs) are computed as
 * one run over the block, rounded up to whole vectors of DW_VEC (the wq - ow
 * values between two rows and the tail computed and dropped): a row alone
 * would leave most vector lanes idle.  A block holds at most DW_RUN outputs
 * and its padded rows at most DW_BLOCK floats, or one output row's when
 * that is more; conv_algo() takes this path while one row's fit in DW_MAX. */
enum { DW_WIDE = 32, DW_VEC = 16, DW_RUN = 2048, DW_BLOCK = 4096, DW_MAX = 8192 };

/* the padded rows of a block of rows output rows: phase rows *hq, floats */
static long long dw_rows_floats(const Node *n, long long rows, long long *hq) {
    const Shape *in = &n->in[0]->shape;
    long long wq = (in->w + n->pl + n->pr + n->sw - 1) / n->sw;
    long long hb = (rows - 1) * n->sh + (n->kh - 1) * n->dh + 1;
    *hq = (hb + n->sh - 1) / n->sh;
    return n->sh * n->sw * *hq * wq;
}

DwGeom conv_dw_geom(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    DwGeom g;
    g.span = (n->kh - 1) * n->dh + 1;
    g.wq = (in->w + n->pl + n->pr + n->sw - 1) / n->sw;
    long long oh = n->shape.h, rows = DW_RUN / g.wq;
    if (rows > oh) rows = oh;
    while (rows > 1 && dw_rows_floats(n, rows, &g.hq) > DW_BLOCK) rows--;
    if (rows < 1) rows = 1;
    long long blocks = (oh + rows - 1) / rows;
    g.rows = (oh + blocks - 1) / blocks;       /* blocks of even size */
    g.buf = dw_rows_floats(n, g.rows, &g.hq);
    g.runlen = 0;
    if (g.rows > 1 && n->shape.w < DW_WIDE) {
        g.runlen = conv_round_up((g.rows - 1) * g.wq + n->shape.w, DW_VEC);
        long long last = 0;                    /* the farthest tap from output 0 */
        for (long long ky = 0; ky < n->kh; ky++)
            for (long long kx = 0; kx < n->kw; kx++) {
                long long a = ky * n->dh, b = kx * n->dw;
                long long off = ((a % n->sh) * n->sw + b % n->sw) * g.hq * g.wq + a / n->sh * g.wq + b / n->sw;
                if (off > last) last = off;
            }
        if (g.buf < last + g.runlen) g.buf = last + g.runlen;   /* what the whole vectors read */
    }
    return g;
}

/* The conv is depthwise and one output row's padded input rows fit a
 * depthwise block; it is a 3x3 stride-1 undilated conv (Winograd's case). */
static bool conv_dw_fits(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    long long hq;
    return n->groups == in->c && in->c > 1 && dw_rows_floats(n, 1, &hq) <= DW_MAX;
}

static bool conv_is_w3(const Node *n) {
    return n->kh == 3 && n->kw == 3 && n->sh == 1 && n->sw == 1 && n->dh == 1 && n->dw == 1;
}

/* Depthwise blocks for the depthwise convs of an image or a signal (groups ==
 * input channels > 1, any channel multiplier, kernel, stride, dilation and
 * padding) while one output row's padded input rows fit in DW_MAX floats (a
 * signal up to about 8000 long; longer ones stay direct); a volume's convs
 * are M4_CONV3D, and one input channel is an ordinary conv.  Direct loops
 * for the other grouped convs.  A target that puts RAM first (cortex-m)
 * takes direct loops for every conv, without a padded copy (conv_scratch()
 * is 0): the arena is then the live activations alone.
 *
 * The rest follows what cnnc --tune measured on the 2-core AMD EPYC
 * (AVX-512) here (make conv-sweep, bench/conv_sweep.py): 888 conv shapes
 * side by side (inputs of 1 to 128 channels, 8 to 56 pixels square, 1x1,
 * 3x3 and 5x5 kernels, strides 1 and 2, 4 to 128 outputs) and the 198 of
 * the example networks.  Summed over the shapes, the rule's choices take
 * 1.029x the fastest algorithm's time on the sweep and 1.009x on the
 * examples, with 15 and 1 shapes 1.3x slower or worse (the rule before:
 * 1.101x and 1.010x, 302 and 6 shapes):
 *   - Winograd for 3x3 stride-1 convs with 8 or more inputs and outputs
 *     (F(4x4,3x3) when the output has at least 16 tiles of 4x4, F(2x2,3x3)
 *     below): 2 to 4 times direct loops or im2col even at 8 outputs;
 *     F(6x6,3x3) from 19x19 tiles of 6x6 (112x112 outputs), where it beat
 *     F(4x4,3x3) on VGG-16 (0.91x at 224x224, 0.98x at 112x112; measured
 *     later, with --tune).  Below that its fewer, larger tiles lose: its
 *     8x8 transforms cost more and its products have fewer columns (1.1x
 *     to 1.3x at 56x56, 1.8x to 1.9x at 14x14, 1.9x to 2.2x on ResNet-20);
 *   - im2col + GEMM for 1x1 and strided convs: the direct loops' strided or
 *     single-tap loads lose at every size measured (2 to 13 times);
 *   - direct loops where an output row is whole 8-float vectors and the
 *     outputs are few (at most 32, and ow x outputs <= 512): im2col's copy
 *     of the input then costs more than the product (up to 3x);
 *   - im2col + GEMM for the rest, and for one output pixel (a
 *     matrix-vector product). */
/* the choice, and in *why (when not NULL) the reason --report gives */
ConvAlgo conv_algo_why(const Node *n, const char **why) {
    const Shape *in = &n->in[0]->shape;
    const char *dummy;
    if (!why) why = &dummy;
    if (n->tuned) {                   /* measured by --tune (tune.c) */
        *why = n->tuned_why;
        return (ConvAlgo)n->tuned_algo;
    }
    if (in->sp == 3) {
        *why = "a volume's conv: its own direct loops, no scratch";
        return CONV_DIRECT;
    }
    if (target->ram_first) {
        *why = "the target puts RAM first: the window clipped at the border, no scratch";
        return CONV_DIRECT;
    }
    if (conv_dw_fits(n)) {
        *why = "depthwise (groups = input channels): blocks of rows on the stack";
        return CONV_DW;
    }
    if (n->groups != 1) { *why = "grouped"; return CONV_DIRECT; }
    if (n->shape.h * n->shape.w == 1) {
        *why = "one output pixel: a matrix-vector product";
        return CONV_GEMM;
    }
    bool strided = n->sh > 1 || n->sw > 1, one = n->kh == 1 && n->kw == 1;
    bool w3 = conv_is_w3(n);
    if (w3 && in->c >= 8 && n->out >= 8) {
        long long t4 = ((n->shape.h + 3) / 4) * ((n->shape.w + 3) / 4);
        long long t6 = ((n->shape.h + 5) / 6) * ((n->shape.w + 5) / 6);
        if (t6 >= 361) {
            *why = "3x3 stride 1, 8+ inputs and outputs, at least 361 tiles of 6x6 (112x112)";
            return CONV_WINO6;
        }
        *why = t4 >= 16 ? "3x3 stride 1, 8+ inputs and outputs, at least 16 tiles of 4x4"
                        : "3x3 stride 1, 8+ inputs and outputs, under 16 tiles of 4x4";
        return t4 >= 16 ? CONV_WINO4 : CONV_WINO2;
    }
    if (one || strided) {
        *why = one ? "1x1: direct loops have one tap to vectorise" : "strided: direct loops read strided inputs";
        return CONV_GEMM;
    }
    if (n->shape.w % 8 == 0 && n->out <= 32 && n->shape.w * n->out <= 512) {
        *why = "rows of whole 8-float vectors, few outputs (ow x outputs <= 512): im2col's copy costs more";
        return CONV_DIRECT;
    }
    *why = w3 ? "3x3 stride 1, but under 8 inputs or outputs for Winograd"
           : "output rows not whole 8-float vectors, or many outputs: im2col + GEMM";
    return CONV_GEMM;
}

ConvAlgo conv_algo(const Node *n) { return conv_algo_why(n, NULL); }

/* What the templates can write for a conv, whatever the shape rule picks:
 * direct loops for any 2-D or 1-D conv (a volume's and a RAM-first
 * target's convs have only them); depthwise blocks where the rule's
 * depthwise test holds; im2col + GEMM for ungrouped convs; Winograd for
 * ungrouped 3x3 stride-1 undilated ones.  --tune measures these. */
bool conv_algo_ok(const Node *n, ConvAlgo a) {
    const Shape *in = &n->in[0]->shape;
    if (in->sp == 3 || target->ram_first) return a == CONV_DIRECT;
    switch (a) {
    case CONV_DIRECT: return true;
    case CONV_DW: return conv_dw_fits(n);
    case CONV_GEMM: return n->groups == 1;
    case CONV_WINO2:
    case CONV_WINO4:
    case CONV_WINO6: return n->groups == 1 && conv_is_w3(n);
    }
    return false;
}

static const char *const algo_keys[CONV_NALGO] = { "direct", "gemm", "winograd2", "winograd4", "depthwise",
                                                        "winograd6" };

const char *conv_algo_key(ConvAlgo a) { return algo_keys[a]; }

int conv_algo_from_key(const char *key) {
    for (int a = 0; a < CONV_NALGO; a++)
        if (strcmp(algo_keys[a], key) == 0) return a;
    return -1;
}

/* A layer of an image on its own (a batch of one, the last of a batch) is
 * shared out over the threads when it has work enough to pay for the
 * waits: a barrier of two threads costs 1.5 us on the 2-core AMD EPYC
 * here (a Winograd conv has three), and threads that share a layer pass its
 * data between their caches.  Measured there: ResNet-20's 2.4M-MAC
 * Winograd convs run slower on two threads than on one (0.71 against 0.45
 * ms for the network), ResNet-18's (from 100M MACs) faster; MobileNet-V2
 * gains most from sharing its depthwise convs (0.3M to 3M MACs; 4.4 ms on
 * two threads against 4.9 when they run on one).  So Winograd convs from
 * SHARE_MACS, im2col convs (one wait inside) from half that, the other
 * GEMM convs and direct convs from a quarter, depthwise
 * convs and matrix-vector products (a dense layer, a conv with one output
 * pixel: each MAC reads its own weight from memory, which a second core
 * reads as fast again; resnet18's fc, 2 MB of weights, 146 us on one
 * thread) from a sixteenth, pools from SHARE_OPS window taps, residual adds
 * from SHARE_VALUES values.  Smaller layers
 * run on one thread while the others wait for the next large one.  A
 * target that puts RAM first has one core: nothing is shared. */
enum { SHARE_MACS = 4000000, SHARE_OPS = 500000, SHARE_VALUES = 100000 };

bool layer_shared(const Node *n, bool standalone, const char **why) {
    const char *dummy;
    if (!why) why = &dummy;
    if (layer_blas(n, standalone)) {
        *why = "one thread calls OpenBLAS (OPENBLAS_NUM_THREADS of its own)";
        return false;
    }
    if (target->ram_first) {
        *why = "one core (the target puts RAM first)";
        return false;
    }
    if (n->q8) {                         /* int8: a conv's product (M4_Q8_GEMM) only */
        const char *knob = getenv("CNNC_SHARE_MACS");
        if (!(n->kind->id == K_CONV && quant_conv_gemm(n))) {
            *why = "one thread (an int8 layer other than a conv's product)";
            return false;
        }
        if (n->macs < (knob ? atoll(knob) : SHARE_MACS / 4)) {
            *why = "one thread (under 1,000,000 MACs)";
            return false;
        }
        *why = "shared by tiles of 8 pixels";
        return true;
    }
    if (n->kind->id == K_CONV && n->in[0]->shape.sp == 3) {
        *why = "one thread (a volume's conv)";
        return false;
    }
    if (n->kind->id == K_MAXPOOL || n->kind->id == K_AVGPOOL) {
        /* scalar compares or adds, a window per output: a few times the
         * cost of a MAC in a vector kernel */
        const char *knob = getenv("CNNC_SHARE_MACS");
        if (n->in[0]->shape.sp == 3 || shape_numel(n->shape) * n->kh * n->kw < (knob ? atoll(knob) : SHARE_OPS)) {
            *why = "one thread (under 500,000 window taps)";
            return false;
        }
        *why = "shared by channels";
        return true;
    }
    if (n->kind->id == K_ADD || n->kind->id == K_SUB || n->kind->id == K_MEAN) {
        /* a pass over memory: a residual add of 64x56x56 values takes 36
         * us on one thread, 75 on part 0 of two (half its inputs in the
         * other core's cache), about 20 shared */
        const char *knob = getenv("CNNC_SHARE_MACS");
        if (n->in[0]->shape.sp == 3 || shape_numel(n->shape) < (knob ? atoll(knob) : SHARE_VALUES)) {
            *why = "one thread (under 100,000 values)";
            return false;
        }
        *why = "shared by ranges of values";
        return true;
    }
    if (n->kind->id != K_CONV && n->kind->id != K_DENSE) {
        *why = "one thread";
        return false;
    }
    /* the threshold by the waits the layer's code has inside (Winograd
     * three, im2col one, the others none) and how much a MAC costs there
     * (a depthwise conv's are several times a GEMM's) */
    long long from = SHARE_MACS;
    ConvAlgo a = n->kind->id == K_CONV ? conv_algo(n) : CONV_GEMM;
    if (n->kind->id == K_CONV && a == CONV_DW) from = SHARE_MACS / 16;
    else if (n->kind->id == K_CONV && (a == CONV_WINO2 || a == CONV_WINO4 || a == CONV_WINO6)) from = SHARE_MACS;
    else if (n->kind->id == K_CONV && a == CONV_GEMM && !conv_is_whole(n) &&
             !(conv_is_pointwise(n) && n->shape.h * n->shape.w % GEMM_NR == 0)) from = SHARE_MACS / 2;
    else if (n->kind->id == K_DENSE || (a == CONV_GEMM && n->shape.h * n->shape.w == 1)) from = SHARE_MACS / 16;
    else from = SHARE_MACS / 4;
    /* CNNC_SHARE_MACS=N: share from N MACs (a knob for tests: 0 shares
     * every conv and dense layer, to run the shared code of each) */
    const char *knob = getenv("CNNC_SHARE_MACS");
    if (knob) from = atoll(knob);
    if (n->macs < from) {
        *why = arena_printf("one thread (under %s MACs)", from == 250000 ? "250,000" : from == 1000000 ? "1,000,000"
                            : from == 2000000 ? "2,000,000" : from == 4000000 ? "4,000,000" : "the threshold");
        return false;
    }
    *why = n->kind->id == K_DENSE ? "shared by rows"
         : conv_algo(n) == CONV_DW ? "shared by channels"
         : conv_algo(n) == CONV_DIRECT ? "shared by output channels"
         : conv_algo(n) == CONV_GEMM && n->shape.h * n->shape.w == 1 ? "shared by rows"
         : conv_col_block(n, standalone) ? "shared by blocks of pixels"
         : conv_gemm_rows(n) ? arena_printf("shared by tiles, 32 channels x %d pixels", conv_gemm_rows(n))
         : conv_algo(n) == CONV_WINO2 || conv_algo(n) == CONV_WINO4 || conv_algo(n) == CONV_WINO6
           ? "shared by channels"
         : "shared by tiles";
    return true;
}

/* Default mode calls OpenBLAS only where cnnc has no SIMD GEMM of its own
 * for the target (generic): on x86-64 (AVX-512, AVX2) and aarch64 (NEON)
 * cnnc's packed-panel GEMM is faster (ResNet-18 on the AMD EPYC here: 31.1
 * ms a image through OpenBLAS, 21.1 through NET_gemm), and its sums do not
 * depend on how the work is shared out.  Then OpenBLAS takes the large
 * products only: below ~4M multiply-adds its per-call overhead loses to
 * NET_gemm (measured on ResNet-20's strided and 1x1 convs). */
bool layer_blas(const Node *n, bool standalone) {
    if (standalone || strcmp(target->simd, "NONE") != 0 || target->ram_first) return false;
    if (n->kind->id == K_DENSE) return true;
    if (n->kind->id != K_CONV || conv_algo(n) != CONV_GEMM) return false;
    long long p = n->shape.h * n->shape.w;
    return p == 1 || (double)n->macs >= 4e6;
}

const char *conv_algo_name(ConvAlgo a) {
    switch (a) {
    case CONV_DIRECT: return "direct";
    case CONV_GEMM: return "im2col+gemm";
    case CONV_WINO2: return "winograd F(2x2,3x3)";
    case CONV_WINO4: return "winograd F(4x4,3x3)";
    case CONV_WINO6: return "winograd F(6x6,3x3)";
    case CONV_DW: return "depthwise";
    }
    return "?";
}

/* Row-major src[m][k] as ceil(m/w) panels of k x w (k-major), rows past m zero. */
static void pack_panels(const float *src, long long m, long long k, long long w, float *dst) {
    long long mp = conv_round_up(m, w);
    for (long long i = 0; i < mp; i++)
        for (long long j = 0; j < k; j++)
            dst[(i / w) * w * k + j * w + i % w] = i < m ? src[i * k + j] : 0.0f;
}

/* Winograd's G for F(2x2,3x3) and F(4x4,3x3) (Lavin & Gray), and for
 * F(6x6,3x3) with the points 0, 1, -1, 1/2, -1/2, 2, -2 (the transforms in
 * gemm.m4 are the matching Bᵀ and Aᵀ). */
static const double wino_g2[4][3] = {
    { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
static const double wino_g4[6][3] = {
    { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 } };
static const double wino_g6[8][3] = {
    { 1, 0, 0 }, { -2.0 / 9, -2.0 / 9, -2.0 / 9 }, { -2.0 / 9, 2.0 / 9, -2.0 / 9 },
    { 1.0 / 90, 1.0 / 45, 2.0 / 45 }, { 1.0 / 90, -1.0 / 45, 2.0 / 45 },
    { 32.0 / 45, 16.0 / 45, 8.0 / 45 }, { 32.0 / 45, -16.0 / 45, 8.0 / 45 }, { 0, 0, 1 } };

/* U_e = (G g Gᵀ)[e] for every (oc, ic), in double, each of the a*a points e
 * packed as a GEMM A operand [oc][ic] (malloc'd, *count floats). */
float *conv_winograd_weights(const Node *n, int m, long long *count) {
    const long long oc = n->out, ic = n->in[0]->shape.c;
    const int a = m + 2;
    const long long per = conv_round_up(oc, GEMM_MR) * ic;
    float *u = malloc(sizeof(float) * (size_t)(oc * ic));
    float *packed = malloc(sizeof(float) * (size_t)(per * a * a));
    if (!u || !packed) {
        fputs("cnnc: error: out of memory\n", stderr);
        exit(2);
    }
    for (int p = 0; p < a; p++)
        for (int q = 0; q < a; q++) {
            const double *gp = m == 2 ? wino_g2[p] : m == 4 ? wino_g4[p] : wino_g6[p];
            const double *gq = m == 2 ? wino_g2[q] : m == 4 ? wino_g4[q] : wino_g6[q];
            for (long long o = 0; o < oc; o++)
                for (long long i = 0; i < ic; i++) {
                    const float *g = n->w_data + (o * ic + i) * 9;
                    double s = 0.0;
                    for (int r = 0; r < 3; r++)
                        for (int c = 0; c < 3; c++) s += gp[r] * (double)g[r * 3 + c] * gq[c];
                    u[o * ic + i] = (float)s;
                }
            pack_panels(u, oc, ic, GEMM_MR, packed + (p * a + q) * per);
        }
    free(u);
    *count = per * a * a;
    return packed;
}

/* A GEMM conv's weights [oc][k] as the micro-kernel's panels (malloc'd,
 * *count floats): ceil(oc/8) panels of k x 8, or for a product the other
 * way round (conv_gemm_rows() > 0) ceil(oc/32) panels of k x 32. */
float *conv_gemm_weights(const Node *n, long long *count) {
    const long long k = n->in[0]->shape.c * n->kh * n->kw;
    const long long w = conv_gemm_rows(n) > 0 ? GEMM_NR : GEMM_MR;
    *count = conv_round_up(n->out, w) * k;
    float *packed = malloc(sizeof(float) * (size_t)*count);
    if (!packed) {
        fputs("cnnc: error: out of memory\n", stderr);
        exit(2);
    }
    pack_panels(n->w_data, n->out, k, w, packed);
    return packed;
}

/* An im2col conv's product goes the other way round (NET_gemm_tR() in
 * gemm.m4: lanes over output channels, R pixels a tile) when that leaves
 * fewer lanes empty: few output pixels not a multiple of 32 (ResNet's 7x7
 * and 14x14 outputs: 49 pixels in 32-wide tiles are 77% full, in tiles of
 * 7 all full).  x86-64 only (AVX-512; AVX2 and plain C run it too).
 * R (7 or 8), or 0: the usual way. */
int conv_gemm_rows(const Node *n) {
    long long p = n->shape.h * n->shape.w, oc = n->out;
    if (strcmp(target->simd, "AVX") != 0 || !conv_own_patches(n) || conv_col_block(n, true)) return 0;
    /* CNNC_GEMM_ROWS=R: every such conv with R (7 or 8) whose tiles fit
     * col, 0: none (a knob for tests and measurements) */
    const char *knob = getenv("CNNC_GEMM_ROWS");
    if (knob && *knob) {
        int r = atoi(knob);
        return (r == 7 || r == 8) && conv_round_up(p, r) <= conv_round_up(p, GEMM_NR) ? r : 0;
    }
    double usual = (double)p / conv_round_up(p, GEMM_NR) * oc / conv_round_up(oc, GEMM_MR), best = usual;
    int rows = 0;
    for (int r = 7; r <= 8; r++) {
        double full = (double)p / conv_round_up(p, r) * oc / conv_round_up(oc, GEMM_NR);
        if (conv_round_up(p, r) <= conv_round_up(p, GEMM_NR) && full > best) best = full, rows = r;
    }
    return best > usual * 1.05 ? rows : 0;
}

WinoGeom conv_wino_geom(const Node *n, int m) {
    const Shape *in = &n->in[0]->shape;
    WinoGeom w;
    const long long a = m + 2;
    w.th = (n->shape.h + m - 1) / m;
    w.tw = (n->shape.w + m - 1) / m;
    w.t = w.th * w.tw;
    w.tpad = conv_round_up(w.t, GEMM_NR);
    w.hpt = w.th * m + 2;
    w.wpt = w.tw * m + 2;
    w.tq = w.tw + 1;            /* each padded row as m phases of tq columns */
    /* the transforms compute 8 lanes: 8 floats of slack after xp and after M */
    w.voff = conv_round_up(in->c * w.hpt * m * w.tq + 8, 16);
    /* point strides of V and M, 64 bytes past a multiple of 64 bytes: the
     * a*a streams of a transform would share cache sets at 4 KB multiples */
    w.sv = conv_round_up(in->c * w.tpad, 16) + 16;
    w.sm = conv_round_up(n->out * w.t, 16) + 16;
    w.moff = w.voff + a * a * w.sv;
    w.floats = w.moff + a * a * w.sm + 8;
    return w;
}

/* One output pixel whose window is the whole unpadded input (LeNet's C5):
 * the patch matrix is the input itself. */
bool conv_is_pointwise(const Node *n) {
    return n->kh == 1 && n->kw == 1 && n->sh == 1 && n->sw == 1 && (n->pt | n->pl | n->pb | n->pr) == 0;
}

bool conv_is_whole(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    return n->shape.h * n->shape.w == 1 && in->h == n->kh && in->w == n->kw && n->dh == 1 && n->dw == 1 &&
           (n->pt | n->pl | n->pb | n->pr) == 0;
}

/* Scratch floats of a conv layer (plan.c sizes the layer's scratch by it). */
long long conv_scratch(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    switch (conv_algo(n)) {
    case CONV_DIRECT:
        if ((n->pt | n->pl | n->pb | n->pr) == 0 || in->sp == 3 || target->ram_first) return 0;
        return in->c * (in->h + n->pt + n->pb) * (in->w + n->pl + n->pr);
    case CONV_GEMM: {
        long long p = n->shape.h * n->shape.w;
        if ((conv_is_pointwise(n) && p % GEMM_NR == 0) || conv_is_whole(n)) return 0;
        long long k = in->c / n->groups * n->kh * n->kw, b = conv_gemm_block(k, p);
        long long ldb = conv_round_up(p, GEMM_NR), blocks = b ? (p + b - 1) / b * b : 0;
        return k * (blocks > ldb ? blocks : ldb);
    }
    case CONV_WINO2: return conv_wino_geom(n, 2).floats;
    case CONV_WINO4: return conv_wino_geom(n, 4).floats;
    case CONV_WINO6: return conv_wino_geom(n, 6).floats;
    case CONV_DW: return 0;              /* its blocks are on the stack (conv_dw_geom) */
    }
    return 0;
}
