/*
 * conv_direct.c — direct convolution on AVX-512F, without im2col: the
 * forward pass, the input gradient and the weight gradient of stride-1
 * convs, and the forward pass of strided ones.
 *
 * Why: the convs of small CNNs have 16–64 output channels.  As a gemm
 * (conv.c) the product is Cout × (pixels) × (C·KH·KW), and OpenBLAS must
 * copy im2col's matrix once more into its packed panels, then reuses each
 * packed value only Cout times: a third of the time goes to copying.
 * Here the kernels read the zero-padded input directly.
 *
 * Long rows.  A chunk of m images (of one group) is copied, channel by
 * channel, into one zero-padded row per channel: in[c][…].  Each image
 * row takes R = W + max(PL, PR) floats (the zeros after one row are the
 * right padding of that row and the left padding of the next), each image
 * Q = max(OH, H + max(PT, PB)) rows (likewise shared at the top and bottom),
 * data row h of image j starting at (j·Q + PT + h)·R + PL.  For stride 1
 * the output at row oh, column ow of image j then reads position
 * p + off(kh, kw), with p = (j·Q + oh)·R + ow and off = kh·DH·R + kw·DW:
 * whichever rows, columns or images the reads cross, they meet the input
 * or a zero.  Vectors of 16 positions are then one load per (c, kh, kw),
 * in one of two modes (wide_chunk picks the one computing fewer):
 *   wide  every position p of the chunk, 16 consecutive ones a vector
 *         (those with ow ≥ OW or oh ≥ OH are thrown away: 21% of an 8×8
 *         plane with padding 1);
 *   rows  each output row as ⌈OW/16⌉ vectors starting at the row (the
 *         lanes past OW are thrown away: none for 32 or 16 columns, 12.5%
 *         for 14 or 28, where wide would throw away 23%).
 * The tile takes each vector's start (vbase), so the modes share it.  In
 * row mode a vector is 16 outputs of one output row (the last of a row
 * masked), so the tile writes the output itself, its sums starting from
 * the bias (or, for dx +=, from what dx holds); wide mode goes through a
 * buffer of the chunk's outputs, copied to the output rows after.
 *
 * Forward tile: CB = 8 output channels × PV = 3 vectors of 16 positions,
 * 24 accumulators.  Per (c, kh, kw): 3 loads of the input, 8 broadcasts of
 * packed weights, 24 FMAs.  Weights are packed [Cout/CB][Cin][KH·KW][CB]
 * (Cout rounded up to 4 with zero rows) so the broadcasts walk memory in
 * order; a last block of 4 (when Cout mod 8 is 1 to 4) takes a 4-wide
 * tile.  dx of a stride-1 conv is the conv of dy (padded by DH·(KH−1) − PT
 * etc.) with the kernel flipped and its in/out channels swapped: the same
 * tile with another packing (see conv.c's adjoint_geom).
 *
 * dW tile: dco output channels × dk taps (4 × 5, 5 × 5, 6 × 3 or 7 × 3,
 * 18 to 25 accumulators), each a dot product of dy (laid out on the same
 * positions, zero where thrown away) with x shifted by the tap's offset,
 * over the whole chunk, in blocks of DW_POS positions so that dy's block
 * stays in L1 while every input channel and tap passes over it (16-lane
 * partial sums kept in memory between blocks; the first block starts
 * them from zero, the last adds them up into dW).  The loads walk x and
 * dy in step, with no table of vector starts (a table cost a third of the
 * tile's speed): dW takes row mode only when an image's rows run on
 * (R = 16·⌈OW/16⌉: 14×14 with 5×5 padding 2), x then stepping over the
 * rows between images, and wide mode otherwise.  Per position vector the
 * tile loads dco vectors of dy and dk of x, which straddle cache lines:
 * dw_shape picks the shape with the fewest load slots per useful FMA for
 * the conv's channels and taps (3×3 convs of 32 or 64 channels: 7 × 3;
 * 5×5 convs of 20 or 50 channels: 5 × 5).
 *
 * Winograd rows (stride-1 convs with 3-row kernels and 24 channels or
 * more a side, or 5-row kernels and 16): the forward pass and dx by F(2, 3)
 * or F(2, 5) along the rows, dW by F(3, 2) or F(5, 2); a third or two
 * fifths fewer FMAs.  The tiles are the same, over transformed rows
 * (wh_sides, wh_dw).
 *
 * Strided convs (forward only): each padded input row is laid as its SW
 * column phases, (p mod SW)·RP + p / SW for padded column p, so that the
 * 16 outputs of a vector read 16 consecutive floats at every tap (tap kw:
 * phase kw·DW mod SW, kw·DW / SW on); vectors start at output rows, SH
 * input rows apart.  Row mode only, when the rows waste at most a fifth
 * of their lanes.
 *
 * Threads (cnnrt_par.h): the forward pass and dx give each thread its
 * own images in its own part of the chunk area when the area splits;
 * otherwise, and for dW, the team shares each chunk.
 *
 * Sums run in a different order from the gemm path and from PyTorch: the
 * results agree to float rounding, as any two conv implementations do.
 */
#include "conv_direct.h"
#include "cnnrt_par.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_DIRECT 1
#include <immintrin.h>
#endif

enum { CB = 8, PV = 3, PB = PV * 16, MAX_KK = 256 };
/* dW tiles: dco output channels × dk taps, one of DW_SHAPES (dw_shape),
 * at most DCO output channels and DK taps */
enum { DCO = 7, DK = 5, DW_POS = 1024 };
/* Floats of a chunk's input rows and output (or dy) rows: about L2's size. */
#define CHUNK_BUDGET ((size_t)1 << 18)

/* One side of a direct conv: Cin input rows in, Cout output rows out. */
typedef struct {
    int Cin, Cout, CoutP;       /* channels read, written, written rounded up to CB/2 */
    int H, W, PT, PL, PBot;     /* an input plane and its padding (top, left, bottom) */
    int R, Q;                   /* floats per image row, rows per image */
    int OH, OW;                 /* output plane */
    int KH, KW, DH, DW;
    int SH, SW, RP;             /* strides; SW > 1: each row in SW phases of RP floats (phased rows) */
    int m;                      /* images in the chunk */
    int rows;                   /* row mode (below): vectors start at output rows */
    int wh;                     /* Winograd rows (wh_ok): KH + 1 transformed rows per pair of output rows, else 0 */
    int VPR;                    /* row mode: vectors per output row, ⌈OW/16⌉ */
    size_t NV;                  /* vectors of 16 positions that carry outputs */
    size_t PC;                  /* positions computed: NV·16 rounded up to PB */
    size_t CS;                  /* floats per input channel row: past the furthest read, rounded up */
} wide;

static int imax(int a, int b) { return a > b ? a : b; }

/* The dW tile shapes (dw_tile's): output channels × taps (5 × 5: 31 of the 32 vector registers). */
static const int DW_SHAPES[4][2] = {{4, 5}, {6, 3}, {7, 3}, {5, 5}};

/* The dW tile for Cog output channels and KK taps: the fewest load slots,
 * counting the FMAs that padding wastes (channels past Cog, taps past KK)
 * and each x load twice (it straddles two cache lines): per FMA of a dco ×
 * dk tile, (dco + 2·dk)/(dco·dk).  Overridable for tests and benchmarks
 * with shape ≥ 0. */
static int dw_shape(int Cog, int KK)
{
    int best = 0;
    double cost = 0;
    for (int i = 0; i < 4; i++) {
        const int dco = DW_SHAPES[i][0], dk = DW_SHAPES[i][1];
        const double c = (double)((Cog + dco - 1) / dco * dco) * ((KK + dk - 1) / dk * dk) * (dco + 2 * dk) /
                         (dco * dk);
        if (i == 0 || c < cost)
            best = i, cost = c;
    }
    return best;
}

/* Where a tile's vectors go when it writes the conv's output itself (row
 * mode, see direct_conv): vector v of the tile to p[v] (+ co·ld for its
 * channel co), its first `lanes[v]` floats (0: a vector past the chunk);
 * channels co < nco of the block only (the others pad Cout).  The sums
 * start from bias[co] (add = 0) or from what p holds (add = 1). */
typedef struct {
    float *p[3];
    int lanes[3];
    size_t ld;
    const float *bias;
    int add, nco;
} tile_dst;

/* The sizes that follow from the mode and m images a chunk. */
static void wide_sizes(wide *s, int m)
{
    const size_t wide_pos = (size_t)s->Q * s->R;
    s->m = m;
    s->NV = s->rows ? (size_t)m * s->OH * s->VPR : ((size_t)m * wide_pos + 15) / 16;
    s->PC = (s->NV * 16 + PB - 1) / PB * PB;
    /* reads: from any vector's start (< m·Q·R) 15 floats and the furthest tap on */
    const size_t reach = (size_t)m * wide_pos + PB + (size_t)s->DH * (s->KH - 1) * s->R +
                         (s->SW > 1 ? (size_t)(s->SW - 1) * s->RP + (size_t)s->DW * (s->KW - 1) / s->SW
                                    : (size_t)s->DW * (s->KW - 1)) + 16;
    size_t rows = ((size_t)m * s->Q + s->PT + s->PBot + 2) * s->R;
    if (s->wh && ((size_t)(m - 1) * s->Q + 2 * (size_t)((s->OH + 1) / 2) + s->wh) * s->R > rows)
        rows = ((size_t)(m - 1) * s->Q + 2 * (size_t)((s->OH + 1) / 2) + s->wh) * s->R;   /* the last pair's rows */
    s->CS = ((reach > rows ? reach : rows) + 15) / 16 * 16;
}

/* Winograd rows F(2, r), r = KH = 3 or 5 (see wh_sides): α = r + 1
 * transformed rows V_ξ = Σ_t BT[ξ][t]·d_t of the input rows d_0 … d_α−1,
 * kernel rows U_ξ = Σ_k G[ξ][k]·w_k, output rows y_i = Σ_ξ AT[i][ξ]·M_ξ,
 * built by Cook–Toom on the points 0, 1, −1 (and 2, −2) and ∞ and checked
 * exact in rational arithmetic.  Every BT and AT entry is an integer;
 * r = 5 has 1/6, 1/12 and 1/24 in G, and its transforms amplify rounding
 * more: about 7e-7 relative for 100 products a sum, against 2e-7 direct
 * (2.5e-7 for r = 3).  Rows as wide as α = 6. */
enum { WA_MAX = 6 };
typedef struct {
    float BT[WA_MAX][WA_MAX], G[WA_MAX][5], AT[2][WA_MAX];
} wino;
static const wino WINO3 = {
    .BT = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
    .G = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}},
    .AT = {{1, 1, 1, 0}, {0, 1, -1, -1}},
};
static const wino WINO5 = {
    .BT = {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
           {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}},
    .G = {{1.0f / 4, 0, 0, 0, 0}, {-1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6},
          {-1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6},
          {1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 3, 2.0f / 3}, {1.0f / 24, -1.0f / 12, 1.0f / 6, -1.0f / 3, 2.0f / 3},
          {0, 0, 0, 0, 1}},
    .AT = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}},
};

/* Winograd rows: a stride-1 conv whose kernel has 3 or 5 rows, not
 * dilated along them, with enough channels that the transforms and the
 * tiles' shorter loops cost less than the FMAs saved: 3 rows, 24 or more
 * on each side (16 and 16: 10% slower; 32 and 32: 7% faster; 64: 29%);
 * 5 rows, 16 or more (LeNet's 20 and 50: the forward pass 28% faster, dx
 * 25%).  α, or 0. */
static int wh_ok(const wide *s)
{
    if (s->SH != 1 || s->SW != 1 || s->DH != 1 || (s->KH != 3 && s->KH != 5))
        return 0;
    const int need = s->KH == 3 ? 24 : 16;
    return s->Cin >= need && s->Cout >= need ? s->KH + 1 : 0;
}

static const wino *wh_table(const wide *s)
{
    return s->wh == 4 ? &WINO3 : &WINO5;
}

/* dW by Winograd rows, F(r, 2): for a pair of dy rows e_0, e_1 and the x
 * rows d_0 … d_r (the same BT as above), the r kernel rows' sums
 * Σ_i e_i·d_k+i = Σ_ξ DAT[k][ξ]·(Σ_i DG[ξ][i]·e_i)·(BT·d)_ξ: α products
 * a column for r rows instead of 2r (wh_dw). */
typedef struct {
    float G[WA_MAX][2], AT[5][WA_MAX];
} wino_dw;
static const wino_dw WINO3_DW = {
    .G = {{1, 0}, {0.5f, 0.5f}, {0.5f, -0.5f}, {0, -1}},
    .AT = {{1, 1, 1, 0}, {0, 1, -1, 0}, {0, 1, 1, 1}},
};
static const wino_dw WINO5_DW = {
    .G = {{1.0f / 4, 0}, {-1.0f / 6, -1.0f / 6}, {-1.0f / 6, 1.0f / 6}, {1.0f / 24, 1.0f / 12},
          {1.0f / 24, -1.0f / 12}, {0, 1}},
    .AT = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 0},
           {0, 1, 1, 16, 16, 1}},
};

/* Images per chunk (≤ n when n > 0), the mode, and the sizes that follow.
 * Row mode when it computes fewer positions per image: OH·⌈OW/16⌉·16
 * against Q·R (a 14×14 output with 5×5 padding 2: 224 against 256; 32×32
 * with 3×3 padding 1: 1024 against 1089; 8×8: 128 against 81, wide). */
static void wide_chunk(wide *s, int n, int dw)
{
    s->CoutP = (s->Cout + CB / 2 - 1) / (CB / 2) * (CB / 2);
    s->VPR = (s->OW + 15) / 16;
    const size_t wide_pos = (size_t)s->Q * s->R, row_pos = (size_t)s->OH * s->VPR * 16;
    s->rows = (row_pos < wide_pos && (!dw || s->R == 16 * s->VPR)) || s->SH > 1 || s->SW > 1;    /* strided: row mode only */
    s->wh = dw ? 0 : wh_ok(s);
    const size_t pos = s->rows ? row_pos : wide_pos;
    /* Winograd rows hold α/2 times the input rows and the outputs besides */
    const size_t per = (wide_pos > pos ? wide_pos : pos) * (size_t)(s->Cin + (dw ? s->Cout + DCO : s->CoutP)) *
                       (s->wh ? (size_t)(s->wh + 2) / 2 : 1);
    int m = per >= CHUNK_BUDGET ? 1 : (int)(CHUNK_BUDGET / per);
    if (n > 0 && m > n)
        m = n;
    wide_sizes(s, m);
}

/* Where vector v of a chunk starts in its input rows (and, wide, in its
 * output positions).  Past the last vector: 0, a harmless read. */
static ptrdiff_t vbase(const wide *s, size_t v)
{
    if (!s->rows)
        return (ptrdiff_t)(16 * v);
    if (v >= s->NV)
        return 0;
    const size_t per = (size_t)s->OH * s->VPR, r = v % per;
    return (ptrdiff_t)(((v / per) * s->Q + (size_t)s->SH * (r / s->VPR)) * s->R + 16 * (r % s->VPR));
}

/* Winograd rows, F(2, r) along the kernel's rows (Lavin and Gray, "Fast
 * algorithms for convolutional neural networks", 2016, in one dimension).
 * Output rows 2p and 2p + 1 read input rows 2p … 2p + α − 1 (d_t) through
 * kernel rows w_0 … w_r−1.  With the transformed rows V_ξ (wh_in_row) and
 * kernel rows U_ξ (the packing in direct_conv), M_ξ = the conv of V_ξ with
 * U_ξ, a 1-row kernel (the tiles, as ever), and the two output rows are
 * sums of the M_ξ (wh_out_row).  For r = 3:
 *   V = (d0 − d2, d1 + d2, d2 − d1, d1 − d3),  U = (w0, (w0+w1+w2)/2, (w0−w1+w2)/2, w2)
 *   y_2p = M_0 + M_1 + M_2,  y_2p+1 = M_1 − M_2 − M_3,
 * 4·KW FMAs for two rows instead of 6·KW, a third fewer; r = 5: 6·KW
 * instead of 10·KW.  The transforms add whole rows, a few vector ops per
 * α·KW·C FMAs.  The V_ξ rows of a chunk lie on their own grid, P = ⌈OH/2⌉
 * rows an image of R floats (wh_sides); M_ξ as the tiles' output buffer.
 * An odd OH computes one row more and drops it. */
/* The 1-row conv of the V_ξ grid: s's sides, P rows an image. */
static void wh_sides(const wide *s, wide *v)
{
    *v = *s;
    v->Q = v->OH = (s->OH + 1) / 2;
    v->KH = 1, v->DH = 1, v->PT = v->PBot = 0, v->wh = 0;
    const size_t wide_pos = (size_t)v->Q * v->R, row_pos = (size_t)v->OH * v->VPR * 16;
    v->rows = row_pos < wide_pos;
    wide_sizes(v, s->m);
}

/* Floats of a chunk's area: its input rows and outputs; with Winograd
 * rows, the input rows, the V_ξ and the M_ξ. */
static size_t side_area(const wide *t)
{
    if (!t->wh)
        return (size_t)t->Cin * t->CS + (size_t)t->CoutP * t->PC;
    wide v;
    wh_sides(t, &v);
    return (size_t)t->Cin * t->CS + (size_t)t->wh * ((size_t)v.Cin * v.CS + (size_t)v.CoutP * v.PC);
}

/* Floats of one group's packed weights. */
static size_t side_wpg(const wide *t)
{
    return (size_t)t->CoutP * t->Cin * (t->wh ? (size_t)t->wh * t->KW : (size_t)t->KH * t->KW);
}

static void wide_set(wide *s, int Cin, int Cout, int H, int W, int pt, int pl, int pb, int pr,
                     int OH, int OW, const cnnrt_conv_geom *g)
{
    s->Cin = Cin, s->Cout = Cout;
    s->H = H, s->W = W, s->PT = pt, s->PL = pl, s->PBot = pb;
    s->R = imax(W + imax(pl, pr), OW);
    s->Q = imax(OH, H + imax(pt, pb));
    s->OH = OH, s->OW = OW;
    s->KH = g->KH, s->KW = g->KW, s->DH = g->DH, s->DW = g->DW;
    s->SH = s->SW = 1, s->RP = 0, s->wh = 0;
}

/* The forward pass (and dW): x's planes in, y's out. */
static void wide_forward(const cnnrt_conv_geom *g, wide *s)
{
    wide_set(s, g->C / g->groups, g->Cout / g->groups, g->H, g->W, g->PT, g->PL, g->PB, g->PR, g->OH, g->OW, g);
    s->SH = g->SH, s->SW = g->SW;
    if (g->SW > 1) {          /* phased rows: the whole padded row, no padding shared with the next */
        s->RP = (g->W + g->PL + g->PR + g->SW - 1) / g->SW;
        s->R = g->SW * s->RP;
    }
}

/* dx: dy's planes in (padded to make a "full" conv), dx's out.  0 when a
 * padding exceeds the kernel's reach (the full conv would need cropping). */
static int wide_dx(const cnnrt_conv_geom *g, wide *s)
{
    const int pt = g->DH * (g->KH - 1) - g->PT, pb = g->DH * (g->KH - 1) - g->PB;
    const int pl = g->DW * (g->KW - 1) - g->PL, pr = g->DW * (g->KW - 1) - g->PR;
    if (pt < 0 || pb < 0 || pl < 0 || pr < 0)
        return 0;
    wide_set(s, g->Cout / g->groups, g->C / g->groups, g->OH, g->OW, pt, pl, pb, pr, g->H, g->W, g);
    return 1;
}

#ifdef HAVE_DIRECT

static int cpu_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f");
}

/* out[co][0..PB) (row stride ld) = Σ_c Σ_k wp[c][k][co] · in[c·cs + off[k] + 0..PB),
 * co < bw (the block's width, CB or CB/2: inlined with bw constant).  With
 * direct (constant too), the sums go to d instead (tile_dst). */
__attribute__((target("avx512f"), always_inline))
static inline void tile_n(float *restrict out, size_t ld, const float *restrict in, const ptrdiff_t *vb,
                          size_t cs, const float *restrict wp, const int *restrict off, int Cin, int KK,
                          const tile_dst *d, const int bw, const int direct)
{
    __m512 a[CB][PV];
    __mmask16 mk[PV];
    if (direct)
#pragma GCC unroll 3
        for (int v = 0; v < PV; v++)
            mk[v] = (__mmask16)((1u << d->lanes[v]) - 1);
#pragma GCC unroll 8
    for (int co = 0; co < bw; co++)
#pragma GCC unroll 3
        for (int v = 0; v < PV; v++)
            a[co][v] = !direct || co >= d->nco ? _mm512_setzero_ps()
                       : d->add ? _mm512_maskz_loadu_ps(mk[v], d->p[v] + co * d->ld)
                       : _mm512_set1_ps(d->bias[co]);
    for (int c = 0; c < Cin; c++, in += cs)
        for (int k = 0; k < KK; k++, wp += bw) {
            const float *p = in + off[k];
            const __m512 x0 = _mm512_loadu_ps(p + vb[0]), x1 = _mm512_loadu_ps(p + vb[1]),
                         x2 = _mm512_loadu_ps(p + vb[2]);
#pragma GCC unroll 8
            for (int co = 0; co < bw; co++) {
                const __m512 wv = _mm512_set1_ps(wp[co]);
                a[co][0] = _mm512_fmadd_ps(wv, x0, a[co][0]);
                a[co][1] = _mm512_fmadd_ps(wv, x1, a[co][1]);
                a[co][2] = _mm512_fmadd_ps(wv, x2, a[co][2]);
            }
        }
#pragma GCC unroll 8
    for (int co = 0; co < bw; co++)
#pragma GCC unroll 3
        for (int v = 0; v < PV; v++)
            if (!direct)
                _mm512_storeu_ps(out + (size_t)co * ld + 16 * v, a[co][v]);
            else if (co < d->nco)
                _mm512_mask_storeu_ps(d->p[v] + co * d->ld, mk[v], a[co][v]);
}

__attribute__((target("avx512f")))
static void tile(float *restrict out, size_t ld, const float *restrict in, const ptrdiff_t *vb, size_t cs,
                 const float *restrict wp, const int *restrict off, int Cin, int KK, int bw, const tile_dst *d)
{
    if (d)
        if (bw == CB)
            tile_n(out, ld, in, vb, cs, wp, off, Cin, KK, d, CB, 1);
        else
            tile_n(out, ld, in, vb, cs, wp, off, Cin, KK, d, CB / 2, 1);
    else if (bw == CB)
        tile_n(out, ld, in, vb, cs, wp, off, Cin, KK, d, CB, 0);
    else
        tile_n(out, ld, in, vb, cs, wp, off, Cin, KK, d, CB / 2, 0);
}

/* A dW tile: dco output channels × dk taps of one input channel, 16-lane
 * partial sums a[j][k] += Σ_p dy[j·ld + p] · x[p + (p / seg)·step + off[k]]
 * over positions p0 ≤ p < p1 (x at dy's position, plus step for each
 * segment of seg positions before it: row mode skips the rows between
 * images).  The sums start from zero (first) or from acc, and end in acc,
 * or (out) are summed across lanes and added to out[j·ldo + k], j < nj,
 * k < nk.  Inlined with dco and dk constant.  Each x vector is loaded once
 * into a register (the empty asm keeps the compiler from folding it into
 * every FMA as a memory operand: these loads mostly straddle two cache
 * lines, and loads are the limit). */
__attribute__((target("avx512f"), always_inline))
static inline void dw_tile_n(float *restrict acc, const float *restrict dy, size_t ld, const float *restrict x,
                             const int *restrict off, size_t p0, size_t p1, size_t seg, size_t step, int first,
                             float *restrict out, size_t ldo, int nj, int nk, const int dco, const int dk)
{
    __m512 a[DCO][DK];
#pragma GCC unroll 8
    for (int j = 0; j < dco; j++)
#pragma GCC unroll 5
        for (int k = 0; k < dk; k++)
            a[j][k] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc + (j * dk + k) * 16);
    for (size_t p = p0; p < p1;) {
        const size_t i = p / seg, e = (i + 1) * seg < p1 ? (i + 1) * seg : p1;
        const float *xk[DK];
#pragma GCC unroll 5
        for (int k = 0; k < dk; k++)
            xk[k] = x + off[k] + i * step;
        for (; p < e; p += 16) {
            __m512 d[DCO];
#pragma GCC unroll 8
            for (int j = 0; j < dco; j++) {
                d[j] = _mm512_loadu_ps(dy + j * ld + p);
                __asm__("" : "+v"(d[j]));
            }
#pragma GCC unroll 5
            for (int k = 0; k < dk; k++) {
                __m512 xv = _mm512_loadu_ps(xk[k] + p);
                __asm__("" : "+v"(xv));
#pragma GCC unroll 8
                for (int j = 0; j < dco; j++)
                    a[j][k] = _mm512_fmadd_ps(d[j], xv, a[j][k]);
            }
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < dco; j++)
#pragma GCC unroll 5
        for (int k = 0; k < dk; k++)
            if (!out)
                _mm512_storeu_ps(acc + (j * dk + k) * 16, a[j][k]);
            else if (j < nj && k < nk)
                out[j * ldo + k] += _mm512_reduce_add_ps(a[j][k]);
}

__attribute__((target("avx512f")))
static void dw_tile(int shape, float *restrict acc, const float *restrict dy, size_t ld, const float *restrict x,
                    const int *restrict off, size_t p0, size_t p1, size_t seg, size_t step, int first,
                    float *restrict out, size_t ldo, int nj, int nk)
{
    switch (shape) {
    case 0: dw_tile_n(acc, dy, ld, x, off, p0, p1, seg, step, first, out, ldo, nj, nk, 4, 5); break;
    case 1: dw_tile_n(acc, dy, ld, x, off, p0, p1, seg, step, first, out, ldo, nj, nk, 6, 3); break;
    case 2: dw_tile_n(acc, dy, ld, x, off, p0, p1, seg, step, first, out, ldo, nj, nk, 7, 3); break;
    default: dw_tile_n(acc, dy, ld, x, off, p0, p1, seg, step, first, out, ldo, nj, nk, 5, 5); break;
    }
}

/* Row helpers: rows are short (8 to 64 floats), so libc calls would cost
 * more than the copying. */
__attribute__((target("avx512f")))
static void zero_floats(float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
    if (i < n)
        _mm512_mask_storeu_ps(dst + i, (__mmask16)((1u << (n - i)) - 1), _mm512_setzero_ps());
}

/* dst[i] = src[i] + b (add = 0) or dst[i] += src[i] (add = 1), i < n */
__attribute__((target("avx512f")))
static void put_floats(float *restrict dst, const float *restrict src, int n, float b, int add)
{
    const __m512 bv = _mm512_set1_ps(b);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(src + i);
        _mm512_storeu_ps(dst + i, add ? _mm512_add_ps(_mm512_loadu_ps(dst + i), v) : _mm512_add_ps(v, bv));
    }
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(k, src + i);
        _mm512_mask_storeu_ps(dst + i, k,
                              add ? _mm512_add_ps(_mm512_maskz_loadu_ps(k, dst + i), v) : _mm512_add_ps(v, bv));
    }
}

/* Phased row for stride 2: r[p mod 2 · rp + p / 2] for each padded column
 * p < 2·rp: the row x[0..ncol) at column left, zeros around it.  Built in
 * tmp (2·rp + 32 floats) contiguous, then split into its even and odd
 * columns 32 at a time. */
__attribute__((target("avx512f")))
static void lay_row_s2(float *restrict r, const float *restrict x, int ncol, int left, int rp, float *restrict tmp)
{
    const int R = 2 * rp;
    for (int i = 0; i < R + 32; i += 16)
        _mm512_storeu_ps(tmp + i, _mm512_setzero_ps());
    put_floats(tmp + left, x, ncol, 0.0f, 0);
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    for (int i = 0; i < rp; i += 16) {
        const int n = rp - i < 16 ? rp - i : 16;
        const __mmask16 k = (__mmask16)((1u << n) - 1);
        const __m512 a = _mm512_loadu_ps(tmp + 2 * i), b = _mm512_loadu_ps(tmp + 2 * i + 16);
        _mm512_mask_storeu_ps(r + i, k, _mm512_permutex2var_ps(a, ev, b));
        _mm512_mask_storeu_ps(r + rp + i, k, _mm512_permutex2var_ps(a, od, b));
    }
}

/* Σ v[0..n), n a multiple of 16, in a fixed order. */
__attribute__((target("avx512f")))
static float sum_row(const float *v, size_t n)
{
    __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(v + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(v + i + 16));
    }
    if (i < n)
        a = _mm512_add_ps(a, _mm512_loadu_ps(v + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}

/* One row of each V_ξ (vs floats apart), n floats, from the input rows
 * d + t·R, t < α (see wh_sides).  Inlined with the table and α constant,
 * so that the zero coefficients fold away. */
__attribute__((target("avx512f"), always_inline))
static inline void wh_in_row_n(float *restrict v, size_t vs, const float *restrict d, size_t R, size_t n,
                               const wino *w, const int a)
{
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i < 16 ? (__mmask16)((1u << (n - i)) - 1) : (__mmask16)0xFFFF;
        __m512 dt[WA_MAX];
#pragma GCC unroll 6
        for (int t = 0; t < a; t++)
            dt[t] = _mm512_maskz_loadu_ps(k, d + t * R + i);
#pragma GCC unroll 6
        for (int x = 0; x < a; x++) {
            __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 6
            for (int t = 0; t < a; t++)
                if (w->BT[x][t] != 0.0f)
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(w->BT[x][t]), dt[t], acc);
            _mm512_mask_storeu_ps(v + x * vs + i, k, acc);
        }
    }
}

__attribute__((target("avx512f")))
static void wh_in_row(float *restrict v, size_t vs, const float *restrict d, size_t R, size_t n, int a)
{
    if (a == 4)
        wh_in_row_n(v, vs, d, R, n, &WINO3, 4);
    else
        wh_in_row_n(v, vs, d, R, n, &WINO5, 6);
}

/* Output rows y0 and y1 (NULL: dropped), n floats, from M_0 … M_α−1 (ms
 * floats apart, see wh_sides): y = row + b (add = 0) or y += row.
 * Inlined with the table and α constant. */
__attribute__((target("avx512f"), always_inline))
static inline void wh_out_row_n(float *restrict y0, float *restrict y1, const float *restrict m, size_t ms, int n,
                                float b, int add, const wino *w, const int a)
{
    const __m512 bv = _mm512_set1_ps(b);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 k = n - i < 16 ? (__mmask16)((1u << (n - i)) - 1) : (__mmask16)0xFFFF;
        __m512 r0 = _mm512_setzero_ps(), r1 = _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int x = 0; x < a; x++) {
            const __m512 mx = _mm512_maskz_loadu_ps(k, m + x * ms + i);
            if (w->AT[0][x] != 0.0f)
                r0 = _mm512_fmadd_ps(_mm512_set1_ps(w->AT[0][x]), mx, r0);
            if (w->AT[1][x] != 0.0f)
                r1 = _mm512_fmadd_ps(_mm512_set1_ps(w->AT[1][x]), mx, r1);
        }
        _mm512_mask_storeu_ps(y0 + i, k, add ? _mm512_add_ps(_mm512_maskz_loadu_ps(k, y0 + i), r0) : _mm512_add_ps(r0, bv));
        if (y1)
            _mm512_mask_storeu_ps(y1 + i, k,
                                  add ? _mm512_add_ps(_mm512_maskz_loadu_ps(k, y1 + i), r1) : _mm512_add_ps(r1, bv));
    }
}

__attribute__((target("avx512f")))
static void wh_out_row(float *restrict y0, float *restrict y1, const float *restrict m, size_t ms, int n, float b,
                       int add, int a)
{
    if (a == 4)
        wh_out_row_n(y0, y1, m, ms, n, b, add, &WINO3, 4);
    else
        wh_out_row_n(y0, y1, m, ms, n, b, add, &WINO5, 6);
}

/* One row of each D_ξ (ds floats apart), n floats, from the dy rows e
 * and e + R (wh_dw). */
__attribute__((target("avx512f")))
static void wh_dy_row(float *restrict dd, size_t ds, const float *restrict e, size_t R, size_t n, const wino_dw *w,
                      int a)
{
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i < 16 ? (__mmask16)((1u << (n - i)) - 1) : (__mmask16)0xFFFF;
        const __m512 e0 = _mm512_maskz_loadu_ps(k, e + i), e1 = _mm512_maskz_loadu_ps(k, e + R + i);
        for (int x = 0; x < a; x++)
            _mm512_mask_storeu_ps(dd + x * ds + i, k,
                                  _mm512_fmadd_ps(_mm512_set1_ps(w->G[x][1]), e1,
                                                  _mm512_mul_ps(_mm512_set1_ps(w->G[x][0]), e0)));
    }
}

#else

static int cpu_has_avx512(void) { return 0; }

static void wh_dy_row(float *restrict dd, size_t ds, const float *restrict e, size_t R, size_t n, const wino_dw *w,
                      int a)
{
    (void)dd, (void)ds, (void)e, (void)R, (void)n, (void)w, (void)a;
}

static void wh_in_row(float *restrict v, size_t vs, const float *restrict d, size_t R, size_t n, int a)
{
    (void)v, (void)vs, (void)d, (void)R, (void)n, (void)a;
}

static void wh_out_row(float *restrict y0, float *restrict y1, const float *restrict m, size_t ms, int n, float b,
                       int add, int a)
{
    (void)y0, (void)y1, (void)m, (void)ms, (void)n, (void)b, (void)add, (void)a;
}

static float sum_row(const float *v, size_t n) { (void)v, (void)n; return 0.0f; }

static void lay_row_s2(float *restrict r, const float *restrict x, int ncol, int left, int rp, float *restrict tmp)
{
    (void)r, (void)x, (void)ncol, (void)left, (void)rp, (void)tmp;
}

static void dw_tile(int shape, float *restrict acc, const float *restrict dy, size_t ld, const float *restrict x,
                    const int *restrict off, size_t p0, size_t p1, size_t seg, size_t step, int first,
                    float *restrict out, size_t ldo, int nj, int nk)
{
    (void)shape, (void)acc, (void)dy, (void)ld, (void)x, (void)off, (void)p0, (void)p1, (void)seg, (void)step;
    (void)first, (void)out, (void)ldo, (void)nj, (void)nk;
}

static void zero_floats(float *dst, size_t n) { (void)dst, (void)n; }

static void put_floats(float *restrict dst, const float *restrict src, int n, float b, int add)
{
    (void)dst, (void)src, (void)n, (void)b, (void)add;
}

static void tile(float *restrict out, size_t ld, const float *restrict in, const ptrdiff_t *vb, size_t cs,
                 const float *restrict wp, const int *restrict off, int Cin, int KK, int bw, const tile_dst *d)
{
    (void)out, (void)ld, (void)in, (void)vb, (void)cs, (void)wp, (void)off, (void)Cin, (void)KK, (void)bw, (void)d;
}

#endif

/* The scratch from its first 64-byte boundary: the buffers carved from it
 * are multiples of 16 floats, so each starts on a cache line, and the
 * kernels' loads of dy (dW) and stores of out are aligned. */
static float *aligned(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* What every direct kernel needs: stride 1, a kernel of at most MAX_KK taps, AVX-512F. */
static int direct_ok(const cnnrt_conv_geom *g)
{
    return g->SH == 1 && g->SW == 1 && g->KH * g->KW <= MAX_KK && cpu_has_avx512();
}

/* Strided convs in row mode, over phased rows (wide_forward): when the
 * vectors waste at most a fifth of their lanes (OW of 13 to 16, 26 to 32,
 * 39 to 48, …) and the strides are at most 4. */
static int strided_ok(const cnnrt_conv_geom *g)
{
    const int VPR = (g->OW + 15) / 16;
    return (g->SH > 1 || g->SW > 1) && g->SH <= 4 && g->SW <= 4 && 4 * VPR * 16 <= 5 * g->OW &&
           g->KH * g->KW <= MAX_KK && cpu_has_avx512();
}

int cnnrt_direct_forward_ok(const cnnrt_conv_geom *g)
{
    return (direct_ok(g) || strided_ok(g)) && g->Cout / g->groups >= 4;
}

int cnnrt_direct_dx_ok(const cnnrt_conv_geom *g)
{
    wide s;
    return direct_ok(g) && g->C / g->groups >= 4 && wide_dx(g, &s);
}

/* (Strided dW over phased rows is correct, but no faster than im2col's:
 * the dot products read as many x as dy vectors, and laying x costs.) */
int cnnrt_direct_dw_ok(const cnnrt_conv_geom *g)
{
    return direct_ok(g) && g->KH * g->KW >= 6;
}

/* dW by Winograd rows (wh_dw): a stride-1 conv with 3 or 5 kernel rows,
 * as wh_ok, whose dy row past an odd OH is a zero row of its own image.
 * Fills s (x's and dy's chunk, wide mode) and v (the pair grid, P =
 * ⌈OH/2⌉ rows an image, a 1-row kernel); 0 when it does not apply. */
static int wh_dw_sides(const cnnrt_conv_geom *g, wide *s, wide *v)
{
    wide_forward(g, s);
    wide_chunk(s, 0, 0);
    if (!s->wh || (s->OH % 2 == 1 && s->Q == s->OH))
        return 0;
    const int a = s->wh;
    s->rows = 0;
    /* chunks of the plain dW's images (the transforms take α/2 times the
     * rows again: past L2, but a third as many chunks ran 5–15% slower on
     * two threads, with three barriers each) */
    const size_t per = (size_t)s->Q * s->R * (size_t)(s->Cin + s->Cout + DCO);
    wide_sizes(s, per >= CHUNK_BUDGET ? 1 : (int)(CHUNK_BUDGET / per));   /* (wh: x's rows reach the last pair's) */
    s->wh = 0;
    *v = *s;
    v->Q = v->OH = (s->OH + 1) / 2;
    v->KH = 1, v->DH = 1, v->PT = v->PBot = 0;
    wide_sizes(v, s->m);
    v->wh = a;
    return 1;
}

/* Where wh_dw's sums T_ξ start in its scratch (after the chunk's rows,
 * their transforms, with dy's channels rounded up to a tile's, and the
 * tiles' partial sums). */
static size_t wh_dw_tpos(const wide *s, const wide *v)
{
    const size_t a = (size_t)v->wh;
    return (size_t)s->Cin * s->CS + (size_t)s->Cout * s->PC +
           a * ((size_t)v->Cin * v->CS + (size_t)(v->Cout + DCO) * v->PC) + (size_t)v->Cin * 2 * DCO * DK * 16;
}

/* Floats of scratch for wh_dw with chunks of s->m images and any tile shape. */
static size_t wh_dw_floats(const cnnrt_conv_geom *g, const wide *s, const wide *v)
{
    const size_t a = (size_t)v->wh;
    return wh_dw_tpos(s, v) + a * (size_t)g->Cout * v->Cin * v->KW + 16;
}

size_t cnnrt_direct_scratch_floats(const cnnrt_conv_geom *g)
{
    const size_t KK = (size_t)g->KH * g->KW;
    wide f, d, w;
    wide_forward(g, &f);
    wide_chunk(&f, 0, 0);
    size_t s = side_area(&f) + (size_t)g->groups * side_wpg(&f);
    wide_forward(g, &w);
    wide_chunk(&w, 0, 1);
    for (int i = 0; i < 4; i++) {                  /* any shape (cnnrt_direct_dw_shape) */
        const int dco = DW_SHAPES[i][0], dk = DW_SHAPES[i][1];
        const size_t sw = (size_t)w.Cin * w.CS + (size_t)(w.Cout + dco) * w.PC +
                          (size_t)w.Cin * ((KK + dk - 1) / dk) * dco * dk * 16;
        if (sw > s)
            s = sw;
    }
    if (wh_dw_sides(g, &w, &d) && wh_dw_floats(g, &w, &d) > s)
        s = wh_dw_floats(g, &w, &d);
    if (wide_dx(g, &d)) {
        wide_chunk(&d, 0, 0);
        const size_t sd = side_area(&d) + (size_t)g->groups * side_wpg(&d);
        if (sd > s)
            s = sd;
    }
    return s + 16;                                  /* room to align */
}

/* rows[c][…] = the chunk's planes src[j][c] (image stride img, channel
 * stride plane), nrow × ncol each, laid into long rows starting at row
 * top, column left of each of m images' Q rows of R floats; every other float
 * of the first `len` (a whole row, slack included) zero.  Written once, in order. */
enum { ROW_TMP = 1024 };

static void lay_rows(float *restrict rows, size_t len, int nc, const float *restrict src, size_t img,
                     size_t plane, int nrow, int ncol, int top, int left, int Q, int R, int m, int sw, int rp)
{
    float tmp[ROW_TMP];
    for (int c = 0; c < nc; c++) {
        float *r = rows + (size_t)c * len;
        for (int j = 0; j < m; j++)
            for (int q = 0; q < Q; q++, r += R) {
                if (q < top || q >= top + nrow) {
                    zero_floats(r, (size_t)R);
                    continue;
                }
                const float *x = src + j * img + (size_t)c * plane + (size_t)(q - top) * ncol;
                if (sw == 2 && 2 * rp <= ROW_TMP - 32) {
                    lay_row_s2(r, x, ncol, left, rp, tmp);   /* writes the whole row */
                    continue;
                }
                zero_floats(r, (size_t)R);
                if (sw == 1)
                    put_floats(r + left, x, ncol, 0.0f, 0);
                else                                  /* phased: padded column p at (p mod sw)·rp + p / sw */
                    for (int w = 0; w < ncol; w++)
                        r[(w + left) % sw * rp + (w + left) / sw] = x[w];
            }
        zero_floats(r, len - (size_t)m * Q * R);
    }
}

/* [*lo, *hi): this thread's share of n items when the team shares the
 * chunk (shared), else all of them. */
static void share(int shared, size_t n, size_t *lo, size_t *hi)
{
    if (shared)
        par_share(n, 1, lo, hi);
    else
        *lo = 0, *hi = n;
}

/* This thread's share of the input rows of a chunk: in[c][CS], the planes
 * src[j][c] of H × W, zero-padded. */
static void fill_rows(float *restrict in, const float *restrict src, size_t img, size_t plane, const wide *s,
                      int shared)
{
    size_t c0, c1;
    share(shared, (size_t)s->Cin, &c0, &c1);
    lay_rows(in + c0 * s->CS, s->CS, (int)(c1 - c0), src + c0 * plane, img, plane, s->H, s->W, s->PT, s->PL,
             s->Q, s->R, s->m, s->SW, s->RP);
}

/* Output channels in the block starting at cb: CB, or CB/2 for a last block
 * of CB/2 (CoutP is a multiple of CB/2). */
static int block_width(const wide *s, int cb)
{
    return s->CoutP - cb >= CB ? CB : CB / 2;
}

/* Where w[co][c][k] goes in a group's packed weights [blocks][Cin][KK][width]. */
static size_t packed_at(const wide *s, int co, int c, int k)
{
    const int KK = s->KH * s->KW, cb = co / CB * CB, bw = block_width(s, cb);
    return (size_t)cb * s->Cin * KK + ((size_t)c * KK + k) * bw + (co - cb);
}

/* Row mode: where vector v of a chunk goes in the output, whose image
 * j = 0 channel 0 is at base (images img floats apart), and how many of
 * its lanes are outputs (0 past the chunk's vectors). */
static void vdst(const wide *s, size_t v, float *base, size_t img, float **p, int *lanes)
{
    if (v >= s->NV) {
        *p = base;
        *lanes = 0;
        return;
    }
    const size_t per = (size_t)s->OH * s->VPR, r = v % per;
    const int c16 = (int)(r % (size_t)s->VPR), oh = (int)(r / (size_t)s->VPR);
    *p = base + (v / per) * img + (size_t)oh * s->OW + 16 * c16;
    *lanes = s->OW - 16 * c16 < 16 ? s->OW - 16 * c16 : 16;
}

static const float no_bias[CB];

/* The conv of the chunk's rows with packed weights wp (one group): this
 * thread's share of the (channel block, PB positions) tiles, taken block
 * by block so that a block's weights stay in L1.  Into out[CoutP][PC]; or,
 * when dst is given (row mode: each vector is 16 outputs of one row), into
 * the output itself, dst = image 0 channel 0 of the chunk's group (images
 * img floats apart), plus its bias (b: the group's, or NULL) or added to
 * what it holds (add). */
static void run_tiles(float *out, const float *in, const float *wp, const int *off, const wide *s, float *dst,
                      size_t img, const float *b, int add, int shared)
{
    const int KK = s->KH * s->KW;
    const size_t npb = s->PC / PB, nblk = (size_t)(s->CoutP + CB - 1) / CB, plane = (size_t)s->OH * s->OW;
    size_t u0, u1;
    share(shared, nblk * npb, &u0, &u1);
    for (size_t u = u0; u < u1; u++) {
        const int cb = (int)(u / npb) * CB, bw = block_width(s, cb);
        const size_t p = u % npb * PB;
        const ptrdiff_t vb[PV] = {vbase(s, p / 16), vbase(s, p / 16 + 1), vbase(s, p / 16 + 2)};
        tile_dst d;
        if (dst) {
            d.ld = plane;
            d.add = add;
            d.nco = s->Cout - cb < bw ? s->Cout - cb : bw;
            d.bias = b ? b + cb : no_bias;
            for (int v = 0; v < PV; v++)
                vdst(s, p / 16 + v, dst + (size_t)cb * plane, img, &d.p[v], &d.lanes[v]);
        }
        tile(out + (size_t)cb * s->PC + p, s->PC, in, vb, s->CS, wp + (size_t)cb * s->Cin * KK, off, s->Cin, KK,
             bw, dst ? &d : NULL);
    }
}

static void offsets(int *off, const wide *s)
{
    for (int kh = 0; kh < s->KH; kh++)
        for (int kw = 0; kw < s->KW; kw++)
            off[kh * s->KW + kw] = kh * s->DH * s->R + (s->SW > 1 ? kw * s->DW % s->SW * s->RP + kw * s->DW / s->SW
                                                                    : kw * s->DW);
}

/* Position of output (j, oh, 0) in a chunk's outputs (and dW's dy): wide,
 * where the input rows have it; in row mode, rows of ⌈OW/16⌉ vectors. */
static size_t at(const wide *s, int j, int oh)
{
    return s->rows ? ((size_t)j * s->OH + oh) * s->VPR * 16 : ((size_t)j * s->Q + oh) * s->R;
}

/* Worth a team of threads: a conv of n images with these sides. */
static int par_worth(const wide *s, int n)
{
    return (size_t)n * (size_t)s->OH * s->OW * (size_t)s->Cout * s->Cin * s->KH * s->KW >= PAR_MIN * 16;
}

/* One channel's rows on the pair grid of Winograd rows (wh_sides,
 * wh_dw): for each of m images (Q rows of R floats in src) and pair p < P,
 * the α transformed rows (ds floats apart) of src's rows 2p, 2p + 1, …:
 * BT's (wh_in_row) or, for dy (dy = 1), DG's (wh_dy_row); then zeros up
 * to len floats, as the tiles read on. */
static void wh_grid(float *dst, size_t ds, size_t len, const float *src, int m, int Q, size_t P, size_t R, int a,
                    int dy)
{
    for (int j = 0; j < m; j++)
        for (size_t p = 0; p < P; p++) {
            float *o = dst + ((size_t)j * P + p) * R;
            const float *r = src + ((size_t)j * Q + 2 * p) * R;
            if (dy)
                wh_dy_row(o, ds, r, R, R, a == 4 ? &WINO3_DW : &WINO5_DW, a);
            else
                wh_in_row(o, ds, r, R, R, a);
        }
    for (int x = 0; x < a; x++)
        zero_floats(dst + x * ds + (size_t)m * P * R, len - (size_t)m * P * R);
}

/* One chunk of one group (the sides s, its images from i0, packed weights
 * wp of the group): its input rows, then its tiles, then (wide mode) its
 * output planes; in row mode the tiles write dst themselves.  shared: the
 * team shares the chunk, barriers between the steps; else this thread
 * does it all, in its own in and out. */
static void conv_chunk(float *dst, size_t dst_img, int add, const float *src, size_t src_img, const float *b,
                       const float *wp, const int *off, float *in, float *out, int i0, int gi, const wide *t,
                       int shared)
{
    const size_t in_plane = (size_t)t->H * t->W, out_plane = (size_t)t->OH * t->OW;
    fill_rows(in, src + i0 * src_img + (size_t)gi * t->Cin * in_plane, src_img, in_plane, t, shared);
    if (shared) {
#pragma omp barrier
    }
    if (t->wh) {                                      /* Winograd rows: V_ξ, M_ξ, then the rows */
        wide v;
        wh_sides(t, &v);
        const size_t P = (size_t)v.OH, R = (size_t)t->R, vs = (size_t)v.Cin * v.CS, ms = (size_t)v.CoutP * v.PC;
        float *V = out, *M = V + (size_t)t->wh * vs;
        size_t c0, c1, u0, u1;
        share(shared, (size_t)t->Cin, &c0, &c1);
        for (size_t c = c0; c < c1; c++)
            wh_grid(V + c * v.CS, vs, v.CS, in + c * t->CS, t->m, t->Q, P, R, t->wh, 0);
        if (shared) {
#pragma omp barrier
        }
        for (int x = 0; x < t->wh; x++)
            run_tiles(M + x * ms, V + x * vs, wp + (size_t)x * v.CoutP * v.Cin * v.KW, off, &v, NULL, 0, NULL, 0,
                      shared);
        if (shared) {
#pragma omp barrier
        }
        share(shared, (size_t)t->m * t->Cout, &u0, &u1);      /* (image, channel) planes */
        for (size_t u = u0; u < u1; u++) {
            const int j = (int)(u / (size_t)t->Cout), o = (int)(u % (size_t)t->Cout);
            const float bo = b ? b[gi * t->Cout + o] : 0.0f;
            float *d = dst + (i0 + j) * dst_img + (size_t)(gi * t->Cout + o) * out_plane;
            for (size_t p = 0; p < P; p++)
                wh_out_row(d + 2 * p * t->OW, 2 * p + 1 < (size_t)t->OH ? d + (2 * p + 1) * t->OW : NULL,
                           M + (size_t)o * v.PC + at(&v, j, (int)p), ms, t->OW, bo, add, t->wh);
        }
        return;                                        /* (barriers: as below) */
    }
    if (t->rows) {                                    /* the tiles write dst */
        run_tiles(out, in, wp, off, t, dst + i0 * dst_img + (size_t)gi * t->Cout * out_plane, dst_img,
                  b ? b + gi * t->Cout : NULL, add, shared);
        if (shared) {
#pragma omp barrier
        }
        return;
    }
    run_tiles(out, in, wp, off, t, NULL, 0, NULL, 0, shared);
    if (shared) {
#pragma omp barrier
    }
    size_t u0, u1;                                    /* (image, channel) planes */
    share(shared, (size_t)t->m * t->Cout, &u0, &u1);
    for (size_t u = u0; u < u1; u++) {
        const int j = (int)(u / (size_t)t->Cout), o = (int)(u % (size_t)t->Cout);
        const float bo = b ? b[gi * t->Cout + o] : 0.0f;
        float *restrict d = dst + (i0 + j) * dst_img + (size_t)(gi * t->Cout + o) * out_plane;
        for (int oh = 0; oh < t->OH; oh++)
            put_floats(d + (size_t)oh * t->OW, out + (size_t)o * t->PC + at(t, j, oh), t->OW, bo, add);
    }
    /* shared: the next fill writes only `in`, read by the tiles before the
     * barrier above; the next tiles wait at the barrier after it for every put */
}

/* The conv of one side (s): dst (+)= conv(src, packed w) (+ b), chunk by chunk.
 * src [n][G·s.Cin][H][W] (image stride src_img), dst [n][G·s.Cout][OH][OW]
 * (image stride dst_img).  The weights of out channel o, in channel i, tap k
 * of group gi: w[gi·Cout + o][i][k] forward; for dx (flip), where the sides
 * are swapped, w[gi·Cin + i][o][KK−1−k].
 *
 * Threads: when a chunk's area (input rows and outputs) splits into one
 * smaller chunk per thread, each thread takes its own images in its own
 * part of the area, with no barrier (results do not change: every output
 * is one tile's sum, whatever the chunk); otherwise the team shares each
 * chunk (conv_chunk). */
static void direct_conv(float *dst, size_t dst_img, int add, const float *src, size_t src_img, const float *w,
                        int flip, const float *b, float *scratch, int n, int G, wide *s)
{
    wide_chunk(s, n, 0);
    const int KK = s->KH * s->KW, mc = s->m;
    const size_t area = side_area(s), wpg = side_wpg(s);
    float *in = aligned(scratch), *out = in + (size_t)s->Cin * s->CS, *wp = in + area;
    int off[MAX_KK];
    /* w[gi][o][i][k] of the conv (flip: of the adjoint's, see above) */
#define WEIGHT(gi, o, i, k) (flip ? w[(((size_t)(gi) * s->Cin + (i)) * s->Cout + (o)) * KK + (KK - 1 - (k))] \
                                  : w[(((size_t)(gi) * s->Cout + (o)) * s->Cin + (i)) * KK + (k)])
    if (s->wh) {                                      /* U_ξ = G·(the kernel's columns), wh_sides */
        wide v;
        wh_sides(s, &v);
        offsets(off, &v);
        const wino *wt = wh_table(s);
        const size_t wpv = (size_t)s->CoutP * s->Cin * s->KW;
        for (int gi = 0; gi < G; gi++)
            for (int x = 0; x < s->wh; x++)
                for (int o = 0; o < s->CoutP; o++)
                    for (int i = 0; i < s->Cin; i++)
                        for (int kw = 0; kw < s->KW; kw++) {
                            float u = 0.0f;
                            for (int kh = 0; o < s->Cout && kh < s->KH; kh++)
                                u += wt->G[x][kh] * WEIGHT(gi, o, i, kh * s->KW + kw);
                            wp[(size_t)gi * wpg + x * wpv + packed_at(&v, o, i, kw)] = u;
                        }
    } else {
        offsets(off, s);
        for (int gi = 0; gi < G; gi++)                /* 0 past Cout */
            for (int o = 0; o < s->CoutP; o++)
                for (int i = 0; i < s->Cin; i++)
                    for (int k = 0; k < KK; k++)
                        wp[(size_t)gi * wpg + packed_at(s, o, i, k)] = o >= s->Cout ? 0.0f : WEIGHT(gi, o, i, k);
    }
#undef WEIGHT
#pragma omp parallel if (par_worth(s, n))
    {
        const int nt = par_count(), id = par_id();
        wide t = *s;
        size_t part = 0;                              /* floats of a thread's own area */
        for (int mt = nt > 1 ? mc / nt : 0; mt >= 1 && !part; mt--) {   /* a smaller chunk may fit */
            wide_chunk(&t, mt, 0);
            part = side_area(&t);
            if (part * (size_t)nt > area)
                part = 0;
        }
        if (part) {                                   /* own images, own area */
            const int mt = t.m, i1 = (int)((long)n * (id + 1) / nt);
            float *tin = in + (size_t)id * part;
            for (int i0 = (int)((long)n * id / nt); i0 < i1; i0 += mt) {
                wide_chunk(&t, i1 - i0 < mt ? i1 - i0 : mt, 0);
                for (int gi = 0; gi < G; gi++)
                    conv_chunk(dst, dst_img, add, src, src_img, b, wp + (size_t)gi * wpg, off, tin,
                               tin + (size_t)t.Cin * t.CS, i0, gi, &t, 0);
            }
        } else {                                      /* the team shares each chunk */
            for (int i0 = 0; i0 < n; i0 += mc) {
                wide_chunk(&t, n - i0, 0);
                for (int gi = 0; gi < G; gi++)
                    conv_chunk(dst, dst_img, add, src, src_img, b, wp + (size_t)gi * wpg, off, in, out, i0, gi, &t,
                               1);
            }
        }
    }
}

void cnnrt_direct_forward(float *y, const float *x, const float *w, const float *b,
                          float *scratch, int n, const cnnrt_conv_geom *g)
{
    wide s;
    wide_forward(g, &s);
    direct_conv(y, (size_t)g->Cout * g->OH * g->OW, 0, x, (size_t)g->C * g->H * g->W, w, 0, b, scratch, n,
                g->groups, &s);
}

void cnnrt_direct_dx(float *dx, int add, const float *dy, const float *w,
                     float *scratch, int n, const cnnrt_conv_geom *g)
{
    /* s.Cin = Cog (dy's channels), s.Cout = Cg (dx's channels), the kernel flipped */
    wide s;
    wide_dx(g, &s);
    direct_conv(dx, (size_t)g->C * g->H * g->W, add, dy, (size_t)g->Cout * g->OH * g->OW, w, 1, NULL, scratch,
                n, g->groups, &s);
}

/* dW += Σ_i Σ_p dy[i][co][p] · x[i][c][p + off(k)]: dy laid on the chunk's
 * positions (zero at those thrown away), so one dot product over a whole
 * row sums over the chunk's images and every valid position. */
void cnnrt_direct_dw(float *dw, float *db, const float *dy, const float *x, float *scratch, int n,
                     const cnnrt_conv_geom *g)
{
    cnnrt_direct_dw_shape(dw, db, dy, x, scratch, n, g, -1);
}

/* dW by Winograd rows (wh_dw_sides): per chunk, x's rows and dy's are
 * laid as for the plain dW (wide mode) and transformed onto the pair grid,
 * X_ξ = BT·(x rows 2p …) (wh_in_row) and D_ξ = DG·(dy rows 2p, 2p + 1)
 * (wh_dy_row); the dW tiles sum T_ξ[co][c][kw] = Σ_p D_ξ[co][p]·X_ξ[c][p +
 * kw·DW] over every chunk, and then dW[co][c][k][kw] += Σ_ξ DAT[k][ξ]·
 * T_ξ[co][c][kw].  The threads share as the plain dW does. */
static void wh_dw(float *dw, float *db, const float *dy, const float *x, float *scratch, int n,
                  const cnnrt_conv_geom *g, const wide *s0, const wide *v0)
{
    const int G = g->groups, Cg = s0->Cin, Cog = s0->Cout, KW = s0->KW, KH = s0->KH, KK = KH * KW, a = v0->wh;
    const int mc = s0->m < n ? s0->m : n;
    const wino_dw *wd = a == 4 ? &WINO3_DW : &WINO5_DW;
    const int shape = dw_shape(Cog, KW), dco = DW_SHAPES[shape][0], dk = DW_SHAPES[shape][1];
    const int nkc = (KW + dk - 1) / dk, CogP = (Cog + dco - 1) / dco * dco;   /* D_ξ rows past Cog: zeros */
    int off[MAX_KK + DK];
    offsets(off, v0);
    for (int k = KW; k < KW + dk; k++)
        off[k] = 0;                              /* taps past KW: computed, not kept */
    const size_t xs = (size_t)g->C * g->H * g->W, ys = (size_t)g->Cout * g->OH * g->OW, R = (size_t)s0->R;
    const size_t tn = (size_t)a * g->Cout * Cg * KW;
    float *T = aligned(scratch) + wh_dw_tpos(s0, v0);
#pragma omp parallel if (par_worth(s0, n))
    {
        size_t u0, u1, z0, z1;                     /* this thread's (input channel, tap block) pairs */
        par_share((size_t)Cg * nkc, 1, &u0, &u1);
        par_share(tn, 16, &z0, &z1);
        memset(T + z0, 0, sizeof(float) * (z1 - z0));
        for (int i0 = 0; i0 < n; i0 += mc) {
            const int m = n - i0 < mc ? n - i0 : mc;
            wide t = *s0, v = *v0;
            t.wh = a;
            wide_sizes(&t, m);
            t.wh = 0;
            wide_sizes(&v, m);
            const size_t L = t.PC, Lp = v.PC, P = (size_t)v.OH, xsz = (size_t)Cg * v.CS, dsz = (size_t)CogP * Lp;
            float *xin = aligned(scratch), *dyw = xin + (size_t)Cg * t.CS, *X = dyw + (size_t)Cog * L;
            float *D = X + a * xsz, *acc = D + a * dsz;
            for (int gi = 0; gi < G; gi++) {
#pragma omp barrier
                fill_rows(xin, x + i0 * xs + (size_t)gi * Cg * g->H * g->W, xs, (size_t)g->H * g->W, &t, 1);
                size_t c0, c1, e0, e1;
                par_share((size_t)Cog, 1, &c0, &c1);
                lay_rows(dyw + c0 * L, L, (int)(c1 - c0), dy + i0 * ys + ((size_t)gi * Cog + c0) * t.OH * t.OW, ys,
                         (size_t)t.OH * t.OW, t.OH, t.OW, 0, 0, t.Q, t.R, m, 1, 0);
                if (db)                             /* db += Σ dy: the laid rows, zeros and all */
                    for (size_t co = c0; co < c1; co++)
                        db[(size_t)gi * Cog + co] += sum_row(dyw + co * L, L);
#pragma omp barrier
                par_share((size_t)Cg, 1, &e0, &e1);   /* the transforms */
                for (size_t c = e0; c < e1; c++)
                    wh_grid(X + c * v.CS, xsz, v.CS, xin + c * t.CS, m, t.Q, P, R, a, 0);
                for (size_t co = c0; co < c1; co++)
                    wh_grid(D + co * Lp, dsz, Lp, dyw + co * L, m, t.Q, P, R, a, 1);
                par_share((size_t)(CogP - Cog), 1, &e0, &e1);  /* the last block's channels past Cog */
                for (size_t co = Cog + e0; co < Cog + e1; co++)
                    for (int k = 0; k < a; k++)
                        zero_floats(D + k * dsz + co * Lp, Lp);
#pragma omp barrier
                for (int k = 0; k < a; k++)
                    for (int co = 0; co < Cog; co += dco) {
                        const float *d = D + k * dsz + co * Lp;      /* (past Cog: zeros, computed, not kept) */
                        for (size_t p0 = 0; p0 < Lp; p0 += DW_POS) {
                            const size_t p1 = Lp - p0 < DW_POS ? Lp : p0 + DW_POS;
                            for (size_t u = u0; u < u1; u++) {
                                const int c = (int)(u / nkc), kc = (int)(u % nkc);
                                float *tr = T + (((size_t)k * g->Cout + gi * Cog + co) * Cg + c) * KW + kc * dk;
                                dw_tile(shape, acc + u * dco * dk * 16, d, Lp, X + k * xsz + c * v.CS, off + kc * dk, p0,
                                        p1, Lp, 0, p0 == 0, p1 == Lp ? tr : NULL, (size_t)Cg * KW,
                                        Cog - co < dco ? Cog - co : dco, KW - kc * dk < dk ? KW - kc * dk : dk);
                            }
                        }
                    }
            }
        }
#pragma omp barrier
        size_t o0, o1;                              /* dW from the sums, this thread's output channels */
        par_share((size_t)g->Cout, 1, &o0, &o1);
        for (size_t o = o0; o < o1; o++)
            for (int c = 0; c < Cg; c++)
                for (int kh = 0; kh < KH; kh++)
                    for (int kw = 0; kw < KW; kw++) {
                        float sum = 0.0f;
                        for (int k = 0; k < a; k++)
                            sum += wd->AT[kh][k] * T[(((size_t)k * g->Cout + o) * Cg + c) * KW + kw];
                        dw[(o * Cg + c) * KK + (size_t)kh * KW + kw] += sum;
                    }
    }
}

void cnnrt_direct_dw_shape(float *dw, float *db, const float *dy, const float *x, float *scratch, int n,
                           const cnnrt_conv_geom *g, int shape)
{
    wide s;
    if (shape < 0) {                                 /* the default: Winograd rows where they apply */
        wide v;
        if (wh_dw_sides(g, &s, &v)) {
            wh_dw(dw, db, dy, x, scratch, n, g, &s, &v);
            return;
        }
    }
    wide_forward(g, &s);
    wide_chunk(&s, n, 1);
    const int G = g->groups, KK = s.KH * s.KW, Cg = s.Cin, Cog = s.Cout, mc = s.m;
    if (shape < 0 || shape > 3)
        shape = dw_shape(Cog, KK);
    const int dco = DW_SHAPES[shape][0], dk = DW_SHAPES[shape][1], nkc = (KK + dk - 1) / dk;
    const int CogP = (Cog + dco - 1) / dco * dco;   /* dy's rows past Cog: zeros, computed, not kept */
    int off[MAX_KK + DK];
    offsets(off, &s);
    for (int k = KK; k < KK + dk; k++)
        off[k] = 0;                              /* taps past KK: computed, not kept */
    const size_t xs = (size_t)g->C * g->H * g->W, ys = (size_t)g->Cout * g->OH * g->OW;
#pragma omp parallel if (par_worth(&s, n))
    {
        wide t = s;
        size_t u0, u1;                              /* this thread's (input channel, tap block) pairs */
        par_share((size_t)Cg * nkc, 1, &u0, &u1);
        for (int i0 = 0; i0 < n; i0 += mc) {
            wide_chunk(&t, n - i0, 1);
            const size_t L = t.PC;
            /* x at dy's position p + (p / seg)·step: row mode runs on within an image */
            const size_t seg = t.rows ? (size_t)t.OH * t.VPR * 16 : L, step = t.rows ? (size_t)t.Q * t.R - seg : 0;
            float *xin = aligned(scratch), *dyw = xin + (size_t)Cg * t.CS, *acc = dyw + (size_t)CogP * L;
            for (int gi = 0; gi < G; gi++) {
#pragma omp barrier
                fill_rows(xin, x + i0 * xs + (size_t)gi * Cg * g->H * g->W, xs, (size_t)g->H * g->W, &t, 1);
                /* dy on the chunk's positions: rows 0 … OH−1 of each image, columns 0 … OW−1 */
                size_t c0, c1;
                par_share((size_t)Cog, 1, &c0, &c1);
                lay_rows(dyw + c0 * L, L, (int)(c1 - c0), dy + i0 * ys + ((size_t)gi * Cog + c0) * t.OH * t.OW,
                         ys, (size_t)t.OH * t.OW, t.OH, t.OW, 0, 0, t.rows ? t.OH : t.Q,
                         t.rows ? t.VPR * 16 : t.R, t.m, 1, 0);
                if (db)                             /* db += Σ dy: the laid rows, zeros and all */
                    for (size_t co = c0; co < c1; co++)
                        db[(size_t)gi * Cog + co] += sum_row(dyw + co * L, L);
                par_share((size_t)(CogP - Cog), 1, &c0, &c1);
                for (size_t co = Cog + c0; co < Cog + c1; co++)
                    zero_floats(dyw + co * L, L);
#pragma omp barrier
                for (int co = 0; co < Cog; co += dco) {
                    const float *d = dyw + co * L;
                    /* blocks of positions: the block's dy (dco rows) stays in L1 for every c and tap;
                     * the last block adds its sums to dW */
                    for (size_t p0 = 0; p0 < L; p0 += DW_POS) {
                        const size_t p1 = L - p0 < DW_POS ? L : p0 + DW_POS;
                        for (size_t u = u0; u < u1; u++) {
                            const int c = (int)(u / nkc), kc = (int)(u % nkc);
                            float *dwr = dw + ((size_t)(gi * Cog + co) * Cg + c) * KK + kc * dk;
                            dw_tile(shape, acc + u * dco * dk * 16, d, L, xin + c * t.CS, off + kc * dk, p0, p1,
                                    seg, step, p0 == 0, p1 == L ? dwr : NULL, (size_t)Cg * KK,
                                    Cog - co < dco ? Cog - co : dco, KK - kc * dk < dk ? KK - kc * dk : dk);
                        }
                    }
                }
            }
        }
    }
}
