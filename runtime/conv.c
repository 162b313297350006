/*
 * conv.c — 2-D convolution, training forward and backward: the public
 * functions, which pick an implementation per pass (the direct kernels of
 * conv_direct.c on AVX-512 CPUs: every pass of stride-1 convs, the forward
 * pass of strided ones; see conv_direct.h),
 * and the im2col + sgemm implementation below, which serves every other case.
 *
 * Shape legend
 *   n            batch
 *   C, H, W      input channels, height, width
 *   Cout         output channels
 *   G            groups;  Cg = C/G input and Cog = Cout/G output channels per group
 *   KH, KW       kernel;  K = Cg·KH·KW, the length of one im2col column
 *   OH, OW       output;  P = OH·OW output pixels per channel
 *   m            images in a chunk (chunk_images); N = m·P columns
 *   x   [n][C][H][W]          y, dy [n][Cout][OH][OW]
 *   w   [Cout][Cg][KH][KW]    b [Cout]
 *   col [K][N]                one group of m images, unrolled (im2col), image j
 *                             in columns j·P … j·P+P−1
 *   t   [Cog][N]              one group's output (or its gradient) for m images
 *
 * The batch is cut into chunks of m images whose col and t fit a fixed
 * budget (CHUNK_FLOATS, about the L2 cache), so one sgemm covers m images
 * (with m = 1, t is the image's own slice of y or dy: nothing is copied).
 * Forward, per chunk and group g:
 *   col   = im2col(x[i…i+m−1], channels g·Cg … g·Cg+Cg−1)
 *   t     = W_g · col            (W_g [Cog][K], t [Cog][N])
 *   y     = t + b                (scattered back to [n][Cout][P])
 * Backward, per chunk and group:
 *   t     = dy                   (gathered to [Cog][N]);  db += Σ_N t
 *   dW_gᵀ += col · tᵀ            ([K][Cog]: K rows rather than Cog run faster)
 * then for dx, either per chunk
 *   col   = W_gᵀ · t;  dx += col2im(col)
 * or, for a stride-1 conv that does not widen (Cout ≤ C), per image, dx as
 * the convolution of dy with the flipped kernel (adjoint_geom):
 *   col′  = im2col′(dy[i]);  dx_g += W′_g · col′   (W′_g [Cg][Cog·KH·KW])
 * which writes C/G rows instead of K and needs no col2im.
 * Scratch: the chunk area (col and t, or col′), then [G][K][Cog] for dWᵀ
 * or W′.
 */
#include "conv_direct.h"
#include "cnnrt_priv.h"
#include "cnnrt_par.h"

#include <cblas.h>
#include <string.h>

/* Floats of col + t per chunk: 256 Ki floats, 1 MiB. */
#ifndef CHUNK_FLOATS
#define CHUNK_FLOATS ((size_t)1 << 18)
#endif

int cnnrt_conv_geom_finish(cnnrt_conv_geom *g)
{
    if (g->C < 1 || g->H < 1 || g->W < 1 || g->Cout < 1 || g->KH < 1 || g->KW < 1 ||
        g->SH < 1 || g->SW < 1 || g->DH < 1 || g->DW < 1 || g->groups < 1 ||
        g->PT < 0 || g->PL < 0 || g->PB < 0 || g->PR < 0 ||
        g->C % g->groups != 0 || g->Cout % g->groups != 0)
        return CNNRT_EINVAL;
    /* at most H + PT + PB (W + PL + PR): an int */
    g->OH = (int)cnnrt_out_size(g->H, g->PT, g->PB, g->KH, g->SH, g->DH, 0);
    g->OW = (int)cnnrt_out_size(g->W, g->PL, g->PR, g->KW, g->SW, g->DW, 0);
    if (g->OH < 1 || g->OW < 1)
        return CNNRT_EINVAL;
    return CNNRT_OK;
}

/* Images per chunk for a batch of n: as many as fit CHUNK_FLOATS, at least 1. */
static int chunk_images(const cnnrt_conv_geom *g, int n)
{
    const size_t per = (size_t)((g->C / g->groups) * g->KH * g->KW + g->Cout / g->groups) *
                       (size_t)g->OH * g->OW;
    size_t m = CHUNK_FLOATS / per;
    if (m < 1)
        m = 1;
    return m < (size_t)n ? (int)m : n;
}

/* The geometry of dx as a convolution of dy, for a stride-1 conv: dy's
 * Cout channels in, C out, the same (dilated) kernel flipped, padding
 * DH·(KH−1)−PT etc.  0 (not used) when strided, padded beyond the kernel,
 * or widening (Cout > C: dy's im2col would outgrow x's, and the sgemm's
 * C/groups rows are few: W_gᵀ · dy and col2im are faster). */
static int adjoint_geom(const cnnrt_conv_geom *g, cnnrt_conv_geom *a)
{
    if (g->SH != 1 || g->SW != 1 || g->Cout > g->C)
        return 0;
    *a = *g;
    a->C = g->Cout;
    a->H = g->OH;
    a->W = g->OW;
    a->Cout = g->C;
    a->PT = g->DH * (g->KH - 1) - g->PT;
    a->PB = g->DH * (g->KH - 1) - g->PB;
    a->PL = g->DW * (g->KW - 1) - g->PL;
    a->PR = g->DW * (g->KW - 1) - g->PR;
    a->OH = g->H;                     /* = OH + PT' + PB' − DH·(KH−1) */
    a->OW = g->W;
    return a->PT >= 0 && a->PB >= 0 && a->PL >= 0 && a->PR >= 0;
}

/* Floats of the chunk area: col and t of a chunk, or one image's im2col of dy. */
static size_t chunk_area(const cnnrt_conv_geom *g, int n)
{
    const int Cg = g->C / g->groups, Cog = g->Cout / g->groups;
    size_t s = (size_t)chunk_images(g, n) * (size_t)(Cg * g->KH * g->KW + Cog) * (size_t)g->OH * g->OW;
    cnnrt_conv_geom a;
    if (adjoint_geom(g, &a)) {
        size_t s2 = (size_t)Cog * g->KH * g->KW * (size_t)g->H * g->W;
        if (s2 > s)
            s = s2;
    }
    return s;
}

size_t cnnrt_conv_scratch_floats(const cnnrt_conv_geom *g, int n)
{
    if (n < 1)
        n = 1;
    /* the chunk area, then [G][K][Cog] for dWᵀ or the flipped weights;
     * or what the direct kernels need, if more */
    size_t s = chunk_area(g, n) + (size_t)g->Cout * (g->C / g->groups) * g->KH * g->KW;
    if ((cnnrt_direct_forward_ok(g) || cnnrt_direct_dx_ok(g) || cnnrt_direct_dw_ok(g)) &&
        cnnrt_direct_scratch_floats(g) > s)
        s = cnnrt_direct_scratch_floats(g);
    return s;
}

/* Output columns [ow0, ow1) whose input column ow·SW + off lies in [0, W). */
static void valid_cols(int off, const cnnrt_conv_geom *g, int *ow0, int *ow1)
{
    int a = off >= 0 ? 0 : (-off + g->SW - 1) / g->SW;
    int b = g->W - 1 - off < 0 ? 0 : (g->W - 1 - off) / g->SW + 1;
    if (b > g->OW)
        b = g->OW;
    if (a > b)
        a = b;
    *ow0 = a;
    *ow1 = b;
}

/* col[(c·KH+kh)·KW+kw][oh·OW+ow] = x[c][oh·SH−PT+kh·DH][ow·SW−PL+kw·DW], 0 outside;
 * row r of col starts at col + r·ld.  Channels [c0, c1) of Cg. */
static void im2col(float *restrict col,       /* [Cg·KH·KW][ld], P used per row */
                   size_t ld,
                   const float *restrict x,   /* [Cg][H][W], one group of one image */
                   int c0, int c1, const cnnrt_conv_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    for (int c = c0; c < c1; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                float *row = col + (size_t)((c * g->KH + kh) * g->KW + kw) * ld;
                const float *xc = x + (size_t)c * H * W;
                const int off = kw * g->DW - g->PL;
                int ow0, ow1;
                valid_cols(off, g, &ow0, &ow1);
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * g->SH - g->PT + kh * g->DH;
                    float *r = row + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        for (int ow = 0; ow < OW; ow++)
                            r[ow] = 0.0f;
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W;
                    for (int ow = 0; ow < ow0; ow++)
                        r[ow] = 0.0f;
                    if (SW == 1)                /* rows are short: a loop, not a memcpy call */
                        for (int ow = ow0; ow < ow1; ow++)
                            r[ow] = xr[ow + off];
                    else
                        for (int ow = ow0; ow < ow1; ow++)
                            r[ow] = xr[ow * SW + off];
                    for (int ow = ow1; ow < OW; ow++)
                        r[ow] = 0.0f;
                }
            }
}

/* Adjoint of im2col: dx[c][ih][iw] += col[(c·KH+kh)·KW+kw][oh·OW+ow],
 * channels [c0, c1). */
static void col2im_add(float *restrict dx,        /* [Cg][H][W] += */
                       const float *restrict col, /* [Cg·KH·KW][ld] */
                       size_t ld, int c0, int c1, const cnnrt_conv_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW, SW = g->SW;
    for (int c = c0; c < c1; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                const float *row = col + (size_t)((c * g->KH + kh) * g->KW + kw) * ld;
                float *dxc = dx + (size_t)c * H * W;
                const int off = kw * g->DW - g->PL;
                int ow0, ow1;
                valid_cols(off, g, &ow0, &ow1);
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * g->SH - g->PT + kh * g->DH;
                    if (ih < 0 || ih >= H)
                        continue;
                    const float *r = row + (size_t)oh * OW;
                    float *dxr = dxc + (size_t)ih * W;
                    if (SW == 1)
                        for (int ow = ow0; ow < ow1; ow++)
                            dxr[ow + off] += r[ow];
                    else
                        for (int ow = ow0; ow < ow1; ow++)
                            dxr[ow * SW + off] += r[ow];
                }
            }
}

/* The threads share each chunk (cnnrt_par.h): the rows of its im2col, the
 * columns (or rows) of each product, each on OpenBLAS in its own thread,
 * and the planes written back.  Barriers separate the phases. */
static int par_worth(int n, const cnnrt_conv_geom *g)
{
    return (size_t)n * g->Cout * g->OH * g->OW * (g->C / g->groups) * g->KH * g->KW >= PAR_MIN * 16;
}

/* This thread's share of the m·Cg (image, channel) im2col blocks of a chunk. */
static void im2col_chunk(float *col, size_t N, const float *x, size_t xs, int m, int Cg, const cnnrt_conv_geom *g)
{
    size_t u0, u1;
    par_share((size_t)m * Cg, 1, &u0, &u1);
    const int P = g->OH * g->OW;
    for (size_t u = u0; u < u1; u++) {
        const int j = (int)(u / (size_t)Cg), c = (int)(u % (size_t)Cg);
        im2col(col + (size_t)j * P, N, x + j * xs, c, c + 1, g);
    }
}

void cnnrt_gemm_conv_forward(float *y,            /* [n][Cout][OH][OW] */
                          const float *x,      /* [n][C][H][W] */
                          const float *w,      /* [Cout][Cg][KH][KW] */
                          const float *b,      /* [Cout] or NULL */
                          float *scratch,      /* cnnrt_conv_scratch_floats(g, n) */
                          int n, const cnnrt_conv_geom *g)
{
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G;
    const int K = Cg * g->KH * g->KW, P = g->OH * g->OW;
    const size_t xs = (size_t)g->C * g->H * g->W, ys = (size_t)g->Cout * P;
    const int mc = chunk_images(g, n);

#pragma omp parallel if (par_worth(n, g))
    for (int i0 = 0; i0 < n; i0 += mc) {
        const int m = n - i0 < mc ? n - i0 : mc, N = m * P;
        float *col = scratch;
        for (int gi = 0; gi < G; gi++) {
            /* one image: t is the group's slice of y itself */
            float *t = m == 1 ? y + i0 * ys + (size_t)gi * Cog * P : scratch + (size_t)K * N;
            im2col_chunk(col, (size_t)N, x + i0 * xs + (size_t)gi * Cg * g->H * g->W, xs, m, Cg, g);
#pragma omp barrier
            /* t = W_g · col      [Cog][N] = [Cog][K] · [K][N], this thread's columns [n0, n1) */
            size_t n0, n1;
            par_share((size_t)N, 16, &n0, &n1);
            if (n1 > n0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            Cog, (int)(n1 - n0), K, 1.0f, w + (size_t)gi * Cog * K, K, col + n0, N, 0.0f, t + n0, N);
            if (m == 1) {
                if (b)
                    for (int co = 0; co < Cog; co++) {
                        float *restrict yr = t + (size_t)co * P;
                        const float bc = b[gi * Cog + co];
                        for (size_t p = n0; p < n1; p++)
                            yr[p] += bc;
                    }
#pragma omp barrier
                continue;
            }
#pragma omp barrier
            /* y[i0+j][g·Cog+co] = t[co][j·P …] + b */
            size_t u0, u1;
            par_share((size_t)m * Cog, 1, &u0, &u1);
            for (size_t u = u0; u < u1; u++) {
                const int j = (int)(u / (size_t)Cog), co = (int)(u % (size_t)Cog);
                const float *restrict tr = t + (size_t)co * N + (size_t)j * P;
                float *restrict yr = y + (i0 + j) * ys + (size_t)(gi * Cog + co) * P;
                const float bc = b ? b[gi * Cog + co] : 0.0f;
                for (int p = 0; p < P; p++)
                    yr[p] = tr[p] + bc;
            }
#pragma omp barrier
        }
    }
}

/* Σ v[0..len), eight partial sums (vectorisable without reassociation). */
static float sum8(const float *v, int len)
{
    float s[8] = {0};
    int k = 0;
    for (; k + 8 <= len; k += 8)
        for (int l = 0; l < 8; l++)
            s[l] += v[k + l];
    for (; k < len; k++)
        s[0] += v[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* t[co][j·P …] = dy[i0+j][g·Cog+co] for a chunk of m images, this thread's
 * channels co; one image: dy's slice itself (nothing copied) */
static const float *gather_dy(float *tw, const float *dy, int i0, int m, int gi, const cnnrt_conv_geom *g)
{
    const int Cog = g->Cout / g->groups, P = g->OH * g->OW;
    const size_t ys = (size_t)g->Cout * P, N = (size_t)m * P;
    if (m == 1)
        return dy + i0 * ys + (size_t)gi * Cog * P;
    size_t c0, c1;
    par_share((size_t)Cog, 1, &c0, &c1);
    for (size_t co = c0; co < c1; co++)
        for (int j = 0; j < m; j++)
            memcpy(tw + co * N + (size_t)j * P, dy + (i0 + j) * ys + (gi * Cog + co) * P,
                   sizeof(float) * (size_t)P);
    return tw;
}

void cnnrt_gemm_conv_backward(float *dx,          /* [n][C][H][W] += , or NULL */
                           float *dw,          /* [Cout][Cg][KH][KW] += , or NULL */
                           float *db,          /* [Cout] += , or NULL */
                           const float *dy,    /* [n][Cout][OH][OW] */
                           const float *x,     /* [n][C][H][W] */
                           const float *w,     /* [Cout][Cg][KH][KW] */
                           float *scratch,     /* cnnrt_conv_scratch_floats(g, n) */
                           int n, const cnnrt_conv_geom *g)
{
    /* differentiates:  t = W_g · col;  y = t + b */
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G, KK = g->KH * g->KW;
    const int K = Cg * KK, P = g->OH * g->OW, HW = g->H * g->W;
    const size_t xs = (size_t)g->C * HW, ys = (size_t)g->Cout * P;
    const int mc = chunk_images(g, n);
    float *col = scratch, *wt = scratch + chunk_area(g, n);   /* wt [G][K][Cog] */
    cnnrt_conv_geom a;
    const int adjoint = dx && adjoint_geom(g, &a);

#pragma omp parallel if (par_worth(n, g))
    {
        size_t c0, c1;                                      /* this thread's output channels */
        par_share((size_t)g->Cout, 1, &c0, &c1);
        if (db)                                             /* db += Σ dy */
            for (size_t co = c0; co < c1; co++)
                for (int i = 0; i < n; i++)
                    db[co] += sum8(dy + i * ys + co * P, P);
        if (dw) {
            for (int i0 = 0; i0 < n; i0 += mc) {
                const int m = n - i0 < mc ? n - i0 : mc, N = m * P;
                for (int gi = 0; gi < G; gi++) {
                    const float *t = gather_dy(col + (size_t)K * N, dy, i0, m, gi, g);
                    im2col_chunk(col, (size_t)N, x + i0 * xs + (size_t)gi * Cg * HW, xs, m, Cg, g);
#pragma omp barrier
                    /* dW_gᵀ (+)= col · tᵀ      [K][Cog] = [K][N] · [N][Cog]  (the taller product: faster),
                     * this thread's rows [k0, k1) */
                    size_t k0, k1;
                    par_share((size_t)K, 1, &k0, &k1);
                    if (k1 > k0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                                    (int)(k1 - k0), Cog, N, 1.0f, col + k0 * N, N, t, N, i0 ? 1.0f : 0.0f,
                                    wt + ((size_t)gi * K + k0) * Cog, Cog);
#pragma omp barrier
                }
            }
            /* dW_g += (dW_gᵀ)ᵀ, this thread's output channels */
            for (size_t o = c0; o < c1; o++) {
                const size_t gi = o / Cog, co = o % Cog;
                float *restrict dwr = dw + o * K;
                const float *restrict wtg = wt + gi * K * Cog + co;
                for (int k = 0; k < K; k++)
                    dwr[k] += wtg[(size_t)k * Cog];
            }
#pragma omp barrier
        }
        if (dx && adjoint) {
            /* stride 1: dx = conv(dy, W′) with W′_g[c][co][kk] = W[g·Cog+co][c][KK−1−kk], per image */
#pragma omp for
            for (int gi = 0; gi < G; gi++)
                for (int c = 0; c < Cg; c++)
                    for (int co = 0; co < Cog; co++)
                        for (int kk = 0; kk < KK; kk++)
                            wt[(size_t)gi * Cg * Cog * KK + (size_t)(c * Cog + co) * KK + kk] =
                                w[((size_t)(gi * Cog + co) * Cg + c) * KK + (KK - 1 - kk)];
            for (int i = 0; i < n; i++)
                for (int gi = 0; gi < G; gi++) {
                    size_t u0, u1, p0, p1;
                    par_share((size_t)Cog, 1, &u0, &u1);
                    im2col(col, (size_t)HW, dy + i * ys + (size_t)gi * Cog * P, (int)u0, (int)u1, &a);
#pragma omp barrier
                    /* dx_g += W′_g · col′      [Cg][HW] += [Cg][Cog·KK] · [Cog·KK][HW], columns [p0, p1) */
                    par_share((size_t)HW, 16, &p0, &p1);
                    if (p1 > p0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                    Cg, (int)(p1 - p0), Cog * KK, 1.0f, wt + (size_t)gi * Cg * Cog * KK, Cog * KK,
                                    col + p0, HW, 1.0f, dx + i * xs + (size_t)gi * Cg * HW + p0, HW);
#pragma omp barrier
                }
        } else if (dx) {
            for (int i0 = 0; i0 < n; i0 += mc) {
                const int m = n - i0 < mc ? n - i0 : mc, N = m * P;
                for (int gi = 0; gi < G; gi++) {
                    const float *t = gather_dy(col + (size_t)K * N, dy, i0, m, gi, g);
#pragma omp barrier
                    /* col = W_gᵀ · t      [K][N] = [K][Cog] · [Cog][N], columns [n0, n1) */
                    size_t n0, n1, u0, u1;
                    par_share((size_t)N, 16, &n0, &n1);
                    if (n1 > n0)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                                    K, (int)(n1 - n0), Cog, 1.0f, w + (size_t)gi * Cog * K, K, t + n0, N, 0.0f,
                                    col + n0, N);
#pragma omp barrier
                    par_share((size_t)m * Cg, 1, &u0, &u1);          /* (image, channel) planes of dx */
                    for (size_t u = u0; u < u1; u++) {
                        const int j = (int)(u / (size_t)Cg), c = (int)(u % (size_t)Cg);
                        col2im_add(dx + (i0 + j) * xs + (size_t)gi * Cg * HW, col + (size_t)j * P, (size_t)N, c,
                                   c + 1, g);
                    }
#pragma omp barrier
                }
            }
        }
    }
}

void cnnrt_conv2d_forward(float *y, const float *x, const float *w, const float *b, float *scratch, int n,
                          const cnnrt_conv_geom *g)
{
    if (cnnrt_direct_forward_ok(g))
        cnnrt_direct_forward(y, x, w, b, scratch, n, g);
    else
        cnnrt_gemm_conv_forward(y, x, w, b, scratch, n, g);
}

void cnnrt_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           float *scratch, int n, const cnnrt_conv_geom *g)
{
    cnnrt_conv2d_backward_ex(dx, 1, dw, db, dy, x, w, scratch, n, g);
}

void cnnrt_conv2d_backward_ex(float *dx, int dx_add, float *dw, float *db, const float *dy, const float *x,
                              const float *w, float *scratch, int n, const cnnrt_conv_geom *g)
{
    const int ddw = dw && cnnrt_direct_dw_ok(g), ddx = dx && cnnrt_direct_dx_ok(g);
    if (ddw) {
        cnnrt_direct_dw(dw, db, dy, x, scratch, n, g);      /* db too, from the rows it lays */
        db = NULL;
    }
    /* what is left for the gemm path: db (a plain sum, when dW went direct), dW, dx */
    if (dx && !ddx && !dx_add)
        memset(dx, 0, sizeof(float) * (size_t)n * g->C * g->H * g->W);
    if (db || (dw && !ddw) || (dx && !ddx))
        cnnrt_gemm_conv_backward(ddx ? NULL : dx, ddw ? NULL : dw, db, dy, x, w, scratch, n, g);
    if (ddx)
        cnnrt_direct_dx(dx, dx_add, dy, w, scratch, n, g);
}

/* ---- naive reference ---------------------------------------------------- */

void cnnrt_conv2d_forward_ref(float *y, const float *x, const float *w,
                              const float *b, int n, const cnnrt_conv_geom *g)
{
    const int Cg = g->C / g->groups, Cog = g->Cout / g->groups;
    for (int i = 0; i < n; i++)
        for (int co = 0; co < g->Cout; co++) {
            const int c0 = (co / Cog) * Cg;
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    double s = b ? b[co] : 0.0;
                    for (int c = 0; c < Cg; c++)
                        for (int kh = 0; kh < g->KH; kh++) {
                            int ih = oh * g->SH - g->PT + kh * g->DH;
                            if (ih < 0 || ih >= g->H)
                                continue;
                            for (int kw = 0; kw < g->KW; kw++) {
                                int iw = ow * g->SW - g->PL + kw * g->DW;
                                if (iw < 0 || iw >= g->W)
                                    continue;
                                s += (double)x[(((size_t)i * g->C + c0 + c) * g->H + ih) * g->W + iw] *
                                     w[(((size_t)co * Cg + c) * g->KH + kh) * g->KW + kw];
                            }
                        }
                    y[(((size_t)i * g->Cout + co) * g->OH + oh) * g->OW + ow] = (float)s;
                }
        }
}

void cnnrt_conv2d_backward_ref(float *dx, float *dw, float *db,
                               const float *dy, const float *x, const float *w,
                               int n, const cnnrt_conv_geom *g)
{
    /* differentiates:  y[i][co][oh][ow] = b[co] + Σ x[i][c0+c][ih][iw] · w[co][c][kh][kw] */
    const int Cg = g->C / g->groups, Cog = g->Cout / g->groups;
    for (int i = 0; i < n; i++)
        for (int co = 0; co < g->Cout; co++) {
            const int c0 = (co / Cog) * Cg;
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    const float d = dy[(((size_t)i * g->Cout + co) * g->OH + oh) * g->OW + ow];
                    if (db)
                        db[co] += d;
                    for (int c = 0; c < Cg; c++)
                        for (int kh = 0; kh < g->KH; kh++) {
                            int ih = oh * g->SH - g->PT + kh * g->DH;
                            if (ih < 0 || ih >= g->H)
                                continue;
                            for (int kw = 0; kw < g->KW; kw++) {
                                int iw = ow * g->SW - g->PL + kw * g->DW;
                                if (iw < 0 || iw >= g->W)
                                    continue;
                                size_t xi = (((size_t)i * g->C + c0 + c) * g->H + ih) * g->W + iw;
                                size_t wi = (((size_t)co * Cg + c) * g->KH + kh) * g->KW + kw;
                                if (dx)
                                    dx[xi] += d * w[wi];
                                if (dw)
                                    dw[wi] += d * x[xi];
                            }
                        }
                }
        }
}
