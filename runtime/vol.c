/*
 * vol.c — the 3-D layers of volumes, training forward and backward, PyTorch
 * semantics (Conv3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d): the rules
 * of conv.c and pool.c with a depth axis in front.
 *
 * Shape legend
 *   n            batch
 *   C, D, H, W   input channels, depth, height, width
 *   Cout         output channels
 *   G            groups;  Cg = C/G input and Cog = Cout/G output channels per group
 *   K            Cg·KD·KH·KW, the length of one im2col column
 *   P            OD·OH·OW output positions per channel
 *   x   [n][C][D][H][W] = [n·G][Cg][D][H][W]     y, dy [n][Cout][P] = [n·G][Cog][P]
 *   w   [Cout][Cg][KD][KH][KW] = [G][Cog][K]     b [Cout]
 *   col [K][P]   one group of one image, unrolled (im2col): the scratch
 *
 * Convolution, per image and group g (x_g, W_g, y_g, dy_g its slices):
 *   col   = im2col(x_g)
 *   y_g   = W_g · col + b        [Cog][P] = [Cog][K] · [K][P]
 * Backward:
 *   db   += Σ_P dy
 *   dW_g += dy_g · colᵀ          [Cog][K] += [Cog][P] · [P][K]
 *   col   = W_gᵀ · dy_g;  dx_g += col2im(col)
 * One image at a time on the calling thread, so the scratch is one col
 * whatever the batch.
 *
 * Pooling: output (od, oh, ow) has the window starting at input
 * (od·SD − PD, oh·SH − PH, ow·SW − PW), spanning KD × KH × KW, clipped to
 * the input (padding never wins a max and adds zeros to an average).  The
 * geometry keeps every window's clipped part nonempty: padding at most
 * half the window, and a ceil-mode window starts inside the input or its
 * left padding.
 */
#include "cnnrt.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* a·b for a, b ≥ 1, or INT_MAX + 1 once it exceeds INT_MAX (never overflows) */
static long long mul_cap(long long a, long long b)
{
    return a > INT_MAX / b ? (long long)INT_MAX + 1 : a * b;
}

/* ---- convolution ----------------------------------------------------------- */

int cnnrt_conv3d_geom_finish(cnnrt_conv3d_geom *g)
{
    if (g->C < 1 || g->D < 1 || g->H < 1 || g->W < 1 || g->Cout < 1 ||
        g->KD < 1 || g->KH < 1 || g->KW < 1 || g->SD < 1 || g->SH < 1 || g->SW < 1 ||
        g->DD < 1 || g->DH < 1 || g->DW < 1 || g->groups < 1 ||
        g->PD0 < 0 || g->PH0 < 0 || g->PW0 < 0 || g->PD1 < 0 || g->PH1 < 0 || g->PW1 < 0 ||
        g->C % g->groups != 0 || g->Cout % g->groups != 0)
        return CNNRT_EINVAL;
    const long long od = cnnrt_out_size(g->D, g->PD0, g->PD1, g->KD, g->SD, g->DD, 0);
    const long long oh = cnnrt_out_size(g->H, g->PH0, g->PH1, g->KH, g->SH, g->DH, 0);
    const long long ow = cnnrt_out_size(g->W, g->PW0, g->PW1, g->KW, g->SW, g->DW, 0);
    /* K and P are the sgemm's dimensions: ints */
    const long long K = mul_cap(mul_cap(mul_cap(g->C / g->groups, g->KD), g->KH), g->KW);
    if (od < 1 || oh < 1 || ow < 1 || mul_cap(mul_cap(od, oh), ow) > INT_MAX || K > INT_MAX)
        return CNNRT_EINVAL;
    g->OD = (int)od;
    g->OH = (int)oh;
    g->OW = (int)ow;
    return CNNRT_OK;
}

size_t cnnrt_conv3d_scratch_floats(const cnnrt_conv3d_geom *g, int n)
{
    (void)n;                                    /* one image at a time */
    return (size_t)(g->C / g->groups) * g->KD * g->KH * g->KW * ((size_t)g->OD * g->OH * g->OW);
}

/* The outputs [*o0, *o1) of an axis of `out` whose input o·S + off lies in [0, in). */
static void valid_range(int off, int S, int in, int out, int *o0, int *o1)
{
    const int a = off >= 0 ? 0 : (-off + S - 1) / S;
    const int b = in - 1 - off < 0 ? 0 : imin((in - 1 - off) / S + 1, out);
    *o0 = imin(a, b);
    *o1 = b;
}

/* The part of one kernel tap (kd, kh, kw) that reads the input: outputs
 * [d0, d1) × [h0, h1) × [w0, w1), reading input (od·SD + offd, oh·SH + offh,
 * ow·SW + offw). */
typedef struct { int offd, offh, offw, d0, d1, h0, h1, w0, w1; } tap;

static tap tap_of(const cnnrt_conv3d_geom *g, int kd, int kh, int kw)
{
    tap t;
    t.offd = kd * g->DD - g->PD0;
    t.offh = kh * g->DH - g->PH0;
    t.offw = kw * g->DW - g->PW0;
    valid_range(t.offd, g->SD, g->D, g->OD, &t.d0, &t.d1);
    valid_range(t.offh, g->SH, g->H, g->OH, &t.h0, &t.h1);
    valid_range(t.offw, g->SW, g->W, g->OW, &t.w0, &t.w1);
    return t;
}

/* col[((c·KD+kd)·KH+kh)·KW+kw][(od·OH+oh)·OW+ow]
 *   = x[c][od·SD−PD0+kd·DD][oh·SH−PH0+kh·DH][ow·SW−PW0+kw·DW], 0 outside. */
static void im2col(float *restrict col,       /* [K][P] */
                   const float *restrict x,   /* [Cg][D][H][W] */
                   const cnnrt_conv3d_geom *g)
{
    const int Cg = g->C / g->groups, H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const size_t P = (size_t)g->OD * OH * OW, DHW = (size_t)g->D * H * W;
    float *row = col;
    for (int c = 0; c < Cg; c++)
        for (int kd = 0; kd < g->KD; kd++)
            for (int kh = 0; kh < g->KH; kh++)
                for (int kw = 0; kw < g->KW; kw++, row += P) {
                    const tap t = tap_of(g, kd, kh, kw);
                    memset(row, 0, P * sizeof *row);
                    for (int od = t.d0; od < t.d1; od++)
                        for (int oh = t.h0; oh < t.h1; oh++) {
                            const float *xr = x + c * DHW +
                                              ((size_t)(od * g->SD + t.offd) * H + (oh * g->SH + t.offh)) * W;
                            float *r = row + ((size_t)od * OH + oh) * OW;
                            for (int ow = t.w0; ow < t.w1; ow++)
                                r[ow] = xr[ow * g->SW + t.offw];
                        }
                }
}

/* The adjoint of im2col: dx[c][id][ih][iw] += col[…][…] over the same map. */
static void col2im_add(float *restrict dx,          /* [Cg][D][H][W] += */
                       const float *restrict col,   /* [K][P] */
                       const cnnrt_conv3d_geom *g)
{
    const int Cg = g->C / g->groups, H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const size_t P = (size_t)g->OD * OH * OW, DHW = (size_t)g->D * H * W;
    const float *row = col;
    for (int c = 0; c < Cg; c++)
        for (int kd = 0; kd < g->KD; kd++)
            for (int kh = 0; kh < g->KH; kh++)
                for (int kw = 0; kw < g->KW; kw++, row += P) {
                    const tap t = tap_of(g, kd, kh, kw);
                    for (int od = t.d0; od < t.d1; od++)
                        for (int oh = t.h0; oh < t.h1; oh++) {
                            float *dxr = dx + c * DHW +
                                         ((size_t)(od * g->SD + t.offd) * H + (oh * g->SH + t.offh)) * W;
                            const float *r = row + ((size_t)od * OH + oh) * OW;
                            for (int ow = t.w0; ow < t.w1; ow++)
                                dxr[ow * g->SW + t.offw] += r[ow];
                        }
                }
}

void cnnrt_conv3d_forward(float *y, const float *x, const float *w, const float *b,
                          float *scratch, int n, const cnnrt_conv3d_geom *g)
{
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G;
    const int K = Cg * g->KD * g->KH * g->KW, P = g->OD * g->OH * g->OW;
    const size_t xs = (size_t)Cg * g->D * g->H * g->W, ys = (size_t)Cog * P;   /* one group's slice */
    for (size_t ig = 0; ig < (size_t)n * G; ig++) {
        const int gi = (int)(ig % (size_t)G);
        float *yg = y + ig * ys;
        im2col(scratch, x + ig * xs, g);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                    Cog, P, K, 1.0f, w + (size_t)gi * Cog * K, K, scratch, P, 0.0f, yg, P);
        if (b)
            for (int co = 0; co < Cog; co++) {
                float *yr = yg + (size_t)co * P;
                const float bc = b[gi * Cog + co];
                for (int p = 0; p < P; p++)
                    yr[p] += bc;
            }
    }
}

void cnnrt_conv3d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           float *scratch, int n, const cnnrt_conv3d_geom *g)
{
    /* differentiates:  y_g = W_g · im2col(x_g) + b */
    const int G = g->groups, Cg = g->C / G, Cog = g->Cout / G;
    const int K = Cg * g->KD * g->KH * g->KW, P = g->OD * g->OH * g->OW;
    const size_t xs = (size_t)Cg * g->D * g->H * g->W, ys = (size_t)Cog * P;
    if (db)
        for (int co = 0; co < g->Cout; co++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                const float *d = dy + ((size_t)i * g->Cout + co) * P;
                for (int p = 0; p < P; p++)
                    s += d[p];
            }
            db[co] += (float)s;
        }
    if (!dw && !dx)
        return;
    for (size_t ig = 0; ig < (size_t)n * G; ig++) {
        const int gi = (int)(ig % (size_t)G);
        const float *dyg = dy + ig * ys;
        if (dw) {
            im2col(scratch, x + ig * xs, g);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Cog, K, P, 1.0f, dyg, P, scratch, P, 1.0f, dw + (size_t)gi * Cog * K, K);
        }
        if (dx) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                        K, P, Cog, 1.0f, w + (size_t)gi * Cog * K, K, dyg, P, 0.0f, scratch, P);
            col2im_add(dx + ig * xs, scratch, g);
        }
    }
}

/* ---- pooling --------------------------------------------------------------- */

int cnnrt_pool3d_geom_finish(cnnrt_pool3d_geom *g)
{
    if (g->C < 1 || g->D < 1 || g->H < 1 || g->W < 1 || g->KD < 1 || g->KH < 1 || g->KW < 1 ||
        g->SD < 1 || g->SH < 1 || g->SW < 1 || g->PD < 0 || g->PH < 0 || g->PW < 0 ||
        g->PD > g->KD / 2 || g->PH > g->KH / 2 || g->PW > g->KW / 2 ||
        (g->ceil_mode != 0 && g->ceil_mode != 1) ||
        (g->count_include_pad != 0 && g->count_include_pad != 1) ||
        mul_cap(mul_cap(g->D, g->H), g->W) > INT32_MAX)       /* the argmax is an int32 index */
        return CNNRT_EINVAL;
    const long long od = cnnrt_out_size(g->D, g->PD, g->PD, g->KD, g->SD, 1, g->ceil_mode);
    const long long oh = cnnrt_out_size(g->H, g->PH, g->PH, g->KH, g->SH, 1, g->ceil_mode);
    const long long ow = cnnrt_out_size(g->W, g->PW, g->PW, g->KW, g->SW, 1, g->ceil_mode);
    if (od < 1 || oh < 1 || ow < 1 || od > INT_MAX || oh > INT_MAX || ow > INT_MAX)
        return CNNRT_EINVAL;
    g->OD = (int)od;
    g->OH = (int)oh;
    g->OW = (int)ow;
    return CNNRT_OK;
}

/* The window of output (od, oh, ow) clipped to the input [d0, d1) × [h0, h1)
 * × [w0, w1), and an average pool's divisor (PyTorch's): the window clipped
 * to the padded input with count_include_pad, its in-input part without. */
typedef struct { int d0, d1, h0, h1, w0, w1; float div; } window;

static window window_of(const cnnrt_pool3d_geom *g, int od, int oh, int ow)
{
    window a;
    a.d0 = od * g->SD - g->PD;
    a.h0 = oh * g->SH - g->PH;
    a.w0 = ow * g->SW - g->PW;
    a.d1 = imin(a.d0 + g->KD, g->D + g->PD);
    a.h1 = imin(a.h0 + g->KH, g->H + g->PH);
    a.w1 = imin(a.w0 + g->KW, g->W + g->PW);
    const long long padded = (long long)(a.d1 - a.d0) * (a.h1 - a.h0) * (a.w1 - a.w0);
    a.d0 = imax(a.d0, 0);
    a.h0 = imax(a.h0, 0);
    a.w0 = imax(a.w0, 0);
    a.d1 = imin(a.d1, g->D);
    a.h1 = imin(a.h1, g->H);
    a.w1 = imin(a.w1, g->W);
    const long long inside = (long long)(a.d1 - a.d0) * (a.h1 - a.h0) * (a.w1 - a.w0);
    a.div = (float)(g->count_include_pad ? padded : inside);
    return a;
}

void cnnrt_maxpool3d_forward(float *y,          /* [n][C][OD][OH][OW] */
                             int32_t *argmax,   /* [n][C][OD][OH][OW] saved, index (d·H+h)·W+w */
                             const float *x,    /* [n][C][D][H][W] */
                             int n, const cnnrt_pool3d_geom *g)
{
    const int H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW;
    const size_t DHW = (size_t)g->D * H * W, P = (size_t)OD * OH * OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        const float *xp = x + pl * DHW;
        float *yp = y + pl * P;
        int32_t *ap = argmax + pl * P;
        for (int od = 0; od < OD; od++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    const window a = window_of(g, od, oh, ow);
                    float m = -INFINITY;
                    int32_t mi = (a.d0 * H + a.h0) * W + a.w0;
                    for (int id = a.d0; id < a.d1; id++)
                        for (int ih = a.h0; ih < a.h1; ih++)
                            for (int iw = a.w0; iw < a.w1; iw++) {
                                const int32_t k = (id * H + ih) * W + iw;
                                if (xp[k] > m || isnan(xp[k])) {   /* first max wins; the last NaN wins (PyTorch) */
                                    m = xp[k];
                                    mi = k;
                                }
                            }
                    yp[((size_t)od * OH + oh) * OW + ow] = m;
                    ap[((size_t)od * OH + oh) * OW + ow] = mi;
                }
    }
}

void cnnrt_maxpool3d_backward(float *dx,        /* [n][C][D][H][W] += */
                              const float *dy,  /* [n][C][OD][OH][OW] */
                              const int32_t *argmax, int n, const cnnrt_pool3d_geom *g)
{
    /* differentiates:  y[o] = x[argmax[o]] */
    const size_t DHW = (size_t)g->D * g->H * g->W, P = (size_t)g->OD * g->OH * g->OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++)
        for (size_t o = 0; o < P; o++)
            dx[pl * DHW + (size_t)argmax[pl * P + o]] += dy[pl * P + o];
}

void cnnrt_avgpool3d_forward(float *y,          /* [n][C][OD][OH][OW] */
                             const float *x,    /* [n][C][D][H][W] */
                             int n, const cnnrt_pool3d_geom *g)
{
    const int H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW;
    const size_t DHW = (size_t)g->D * H * W, P = (size_t)OD * OH * OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        const float *xp = x + pl * DHW;
        float *yp = y + pl * P;
        for (int od = 0; od < OD; od++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    const window a = window_of(g, od, oh, ow);
                    float s = 0.0f;
                    for (int id = a.d0; id < a.d1; id++)
                        for (int ih = a.h0; ih < a.h1; ih++)
                            for (int iw = a.w0; iw < a.w1; iw++)
                                s += xp[((size_t)id * H + ih) * W + iw];
                    yp[((size_t)od * OH + oh) * OW + ow] = s / a.div;
                }
    }
}

void cnnrt_avgpool3d_backward(float *dx,        /* [n][C][D][H][W] += */
                              const float *dy,  /* [n][C][OD][OH][OW] */
                              int n, const cnnrt_pool3d_geom *g)
{
    /* differentiates:  y[o] = Σ_window x / div */
    const int H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW;
    const size_t DHW = (size_t)g->D * H * W, P = (size_t)OD * OH * OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        float *dxp = dx + pl * DHW;
        const float *dyp = dy + pl * P;
        for (int od = 0; od < OD; od++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    const window a = window_of(g, od, oh, ow);
                    const float d = dyp[((size_t)od * OH + oh) * OW + ow] / a.div;
                    for (int id = a.d0; id < a.d1; id++)
                        for (int ih = a.h0; ih < a.h1; ih++)
                            for (int iw = a.w0; iw < a.w1; iw++)
                                dxp[((size_t)id * H + ih) * W + iw] += d;
                }
    }
}

/* Adaptive cell i of an axis: [floor(i·in/out), ceil((i+1)·in/out)). */
static int ad_start(int i, int in, int out) { return (int)(((long long)i * in) / out); }
static int ad_end(int i, int in, int out) { return (int)(((long long)(i + 1) * in + out - 1) / out); }

void cnnrt_adaptive_avgpool3d_forward(float *y,         /* [n][C][OD][OH][OW] */
                                      const float *x,   /* [n][C][D][H][W] */
                                      int n, const cnnrt_pool3d_geom *g)
{
    const int D = g->D, H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW;
    const size_t DHW = (size_t)D * H * W, P = (size_t)OD * OH * OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        const float *xp = x + pl * DHW;
        float *yp = y + pl * P;
        for (int od = 0; od < OD; od++) {
            const int d0 = ad_start(od, D, OD), d1 = ad_end(od, D, OD);
            for (int oh = 0; oh < OH; oh++) {
                const int h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
                for (int ow = 0; ow < OW; ow++) {
                    const int w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
                    float s = 0.0f;
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                s += xp[((size_t)id * H + ih) * W + iw];
                    yp[((size_t)od * OH + oh) * OW + ow] = s / (float)((d1 - d0) * (h1 - h0) * (w1 - w0));
                }
            }
        }
    }
}

void cnnrt_adaptive_avgpool3d_backward(float *dx,        /* [n][C][D][H][W] += */
                                       const float *dy,  /* [n][C][OD][OH][OW] */
                                       int n, const cnnrt_pool3d_geom *g)
{
    /* differentiates:  y[o] = Σ_cell x / |cell| */
    const int D = g->D, H = g->H, W = g->W, OD = g->OD, OH = g->OH, OW = g->OW;
    const size_t DHW = (size_t)D * H * W, P = (size_t)OD * OH * OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        float *dxp = dx + pl * DHW;
        const float *dyp = dy + pl * P;
        for (int od = 0; od < OD; od++) {
            const int d0 = ad_start(od, D, OD), d1 = ad_end(od, D, OD);
            for (int oh = 0; oh < OH; oh++) {
                const int h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
                for (int ow = 0; ow < OW; ow++) {
                    const int w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
                    const float d = dyp[((size_t)od * OH + oh) * OW + ow] /
                                    (float)((d1 - d0) * (h1 - h0) * (w1 - w0));
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++)
                                dxp[((size_t)id * H + ih) * W + iw] += d;
                }
            }
        }
    }
}
