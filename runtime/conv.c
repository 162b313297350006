/*
 * conv.c — 2-D convolution, training forward and backward.
 *
 * Shape legend
 *   n            batch
 *   C, H, W      input channels, height, width
 *   Cout         output channels
 *   G            groups;  Cg = C/G input and Cog = Cout/G output channels per group
 *   KH, KW       kernel;  K = Cg·KH·KW, the length of one im2col column
 *   OH, OW       output;  P = OH·OW output pixels per channel
 *   x   [n][C][H][W]          y, dy [n][Cout][OH][OW]
 *   w   [Cout][Cg][KH][KW]    b [Cout]
 *   col [K][P]                one group of one image, unrolled (im2col)
 *
 * Forward, per image i and group g:
 *   col   = im2col(x[i], channels g·Cg … g·Cg+Cg−1)
 *   Y_g   = W_g · col            (W_g [Cog][K], Y_g [Cog][P])
 *   y    += b
 * Backward:
 *   dW_g += dY_g · colᵀ
 *   dcol  = W_gᵀ · dY_g;  dx += col2im(dcol)
 *   db   += Σ_{i,p} dY
 * A 1×1 kernel with stride 1 and no padding uses x itself as col.
 */
#include "cnnrt.h"

#include <cblas.h>
#include <string.h>

int cnnrt_out_size(int in, int pad_lo, int pad_hi, int k, int stride, int dil)
{
    int span = in + pad_lo + pad_hi - dil * (k - 1) - 1;
    if (span < 0 || stride < 1)
        return 0;
    return span / stride + 1;
}

int cnnrt_conv_geom_finish(cnnrt_conv_geom *g)
{
    if (g->C < 1 || g->H < 1 || g->W < 1 || g->Cout < 1 || g->KH < 1 || g->KW < 1 ||
        g->SH < 1 || g->SW < 1 || g->DH < 1 || g->DW < 1 || g->groups < 1 ||
        g->PT < 0 || g->PL < 0 || g->PB < 0 || g->PR < 0 ||
        g->C % g->groups != 0 || g->Cout % g->groups != 0)
        return CNNRT_EINVAL;
    g->OH = cnnrt_out_size(g->H, g->PT, g->PB, g->KH, g->SH, g->DH);
    g->OW = cnnrt_out_size(g->W, g->PL, g->PR, g->KW, g->SW, g->DW);
    if (g->OH < 1 || g->OW < 1)
        return CNNRT_EINVAL;
    return CNNRT_OK;
}

/* True when x itself, one group's channels of one image, is the im2col matrix. */
static int is_pointwise(const cnnrt_conv_geom *g)
{
    return g->KH == 1 && g->KW == 1 && g->SH == 1 && g->SW == 1 &&
           g->PT == 0 && g->PL == 0 && g->PB == 0 && g->PR == 0;
}

size_t cnnrt_conv_scratch_floats(const cnnrt_conv_geom *g)
{
    if (is_pointwise(g))
        return 0;
    return (size_t)(g->C / g->groups) * g->KH * g->KW * (size_t)g->OH * g->OW;
}

/* col[(c·KH+kh)·KW+kw][oh·OW+ow] = x[c][oh·SH−PT+kh·DH][ow·SW−PL+kw·DW], 0 outside. */
static void im2col(float *col,             /* [Cg·KH·KW][OH·OW] */
                   const float *x,         /* [Cg][H][W], one group of one image */
                   int Cg, const cnnrt_conv_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    for (int c = 0; c < Cg; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                float *row = col + ((size_t)(c * g->KH + kh) * g->KW + kw) * OH * OW;
                const float *xc = x + (size_t)c * H * W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * g->SH - g->PT + kh * g->DH;
                    float *r = row + (size_t)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(r, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *xr = xc + (size_t)ih * W;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * g->SW - g->PL + kw * g->DW;
                        r[ow] = (iw >= 0 && iw < W) ? xr[iw] : 0.0f;
                    }
                }
            }
}

/* Adjoint of im2col: dx[c][ih][iw] += dcol[(c·KH+kh)·KW+kw][oh·OW+ow]. */
static void col2im_add(float *dx,          /* [Cg][H][W] += */
                       const float *dcol,  /* [Cg·KH·KW][OH·OW] */
                       int Cg, const cnnrt_conv_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    for (int c = 0; c < Cg; c++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                const float *row = dcol + ((size_t)(c * g->KH + kh) * g->KW + kw) * OH * OW;
                float *dxc = dx + (size_t)c * H * W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * g->SH - g->PT + kh * g->DH;
                    if (ih < 0 || ih >= H)
                        continue;
                    const float *r = row + (size_t)oh * OW;
                    float *dxr = dxc + (size_t)ih * W;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * g->SW - g->PL + kw * g->DW;
                        if (iw >= 0 && iw < W)
                            dxr[iw] += r[ow];
                    }
                }
            }
}

void cnnrt_conv2d_forward(float *y,            /* [n][Cout][OH][OW] */
                          const float *x,      /* [n][C][H][W] */
                          const float *w,      /* [Cout][Cg][KH][KW] */
                          const float *b,      /* [Cout] or NULL */
                          float *scratch,      /* [K][P] */
                          int n, const cnnrt_conv_geom *g)
{
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G;
    const int K = Cg * g->KH * g->KW, P = g->OH * g->OW;
    const size_t xs = (size_t)g->C * g->H * g->W, ys = (size_t)g->Cout * P;
    const int direct = is_pointwise(g);

    for (int i = 0; i < n; i++) {
        for (int gi = 0; gi < G; gi++) {
            const float *xg = x + i * xs + (size_t)gi * Cg * g->H * g->W;
            const float *col = xg;
            if (!direct) {
                im2col(scratch, xg, Cg, g);
                col = scratch;
            }
            const float *wg = w + (size_t)gi * Cog * K;
            float *yg = y + i * ys + (size_t)gi * Cog * P;
            /* Y_g = W_g · col      [Cog][P] = [Cog][K] · [K][P] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                        Cog, P, K, 1.0f, wg, K, col, P, 0.0f, yg, P);
        }
        if (b) {
            float *yi = y + i * ys;
            for (int co = 0; co < g->Cout; co++)
                for (int p = 0; p < P; p++)
                    yi[(size_t)co * P + p] += b[co];
        }
    }
}

void cnnrt_conv2d_backward(float *dx,          /* [n][C][H][W] += , or NULL */
                           float *dw,          /* [Cout][Cg][KH][KW] += , or NULL */
                           float *db,          /* [Cout] += , or NULL */
                           const float *dy,    /* [n][Cout][OH][OW] */
                           const float *x,     /* [n][C][H][W] */
                           const float *w,     /* [Cout][Cg][KH][KW] */
                           float *scratch,     /* [K][P] */
                           int n, const cnnrt_conv_geom *g)
{
    /* differentiates:  Y_g = W_g · col;  y += b */
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G;
    const int K = Cg * g->KH * g->KW, P = g->OH * g->OW;
    const size_t xs = (size_t)g->C * g->H * g->W, ys = (size_t)g->Cout * P;
    const int direct = is_pointwise(g);

    for (int i = 0; i < n; i++) {
        const float *dyi = dy + i * ys;
        if (db)
            for (int co = 0; co < g->Cout; co++) {
                float s = 0.0f;
                for (int p = 0; p < P; p++)
                    s += dyi[(size_t)co * P + p];
                db[co] += s;
            }
        for (int gi = 0; gi < G; gi++) {
            const size_t xoff = i * xs + (size_t)gi * Cg * g->H * g->W;
            const float *dyg = dyi + (size_t)gi * Cog * P;
            const float *wg = w + (size_t)gi * Cog * K;
            if (dw) {
                const float *col = x + xoff;
                if (!direct) {
                    im2col(scratch, x + xoff, Cg, g);
                    col = scratch;
                }
                /* dW_g += dY_g · colᵀ      [Cog][K] += [Cog][P] · [P][K] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                            Cog, K, P, 1.0f, dyg, P, col, P,
                            1.0f, dw + (size_t)gi * Cog * K, K);
            }
            if (dx) {
                if (direct) {
                    /* dx_g += W_gᵀ · dY_g      [Cg][HW] += [Cg][Cog] · [Cog][HW] */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                                K, P, Cog, 1.0f, wg, K, dyg, P, 1.0f, dx + xoff, P);
                } else {
                    /* dcol = W_gᵀ · dY_g      [K][P] = [K][Cog] · [Cog][P] */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                                K, P, Cog, 1.0f, wg, K, dyg, P, 0.0f, scratch, P);
                    col2im_add(dx + xoff, scratch, Cg, g);
                }
            }
        }
    }
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
