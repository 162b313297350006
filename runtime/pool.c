/*
 * pool.c — max, average, adaptive average and global average pooling,
 * PyTorch semantics.
 *
 * Shape legend
 *   n, C         batch, channels (pooling is per plane)
 *   H, W         input plane;  OH, OW output plane
 *   x, dx [n][C][H][W]    y, dy, argmax [n][C][OH][OW]
 * Windows: output (oh, ow) starts at input row oh·SH − PH, column ow·SW − PW,
 * spans KH × KW, and is clipped to the input (padding never wins a max and
 * contributes zeros to an average).
 */
#include "cnnrt.h"
#include "cnnrt_simd.h"
#include "cnnrt_par.h"
#include "cnnrt_priv.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX512_POOL 1
#include <immintrin.h>
#endif

int cnnrt_pool_geom_finish(cnnrt_pool_geom *g)
{
    if (g->C < 1 || g->H < 1 || g->W < 1 || g->KH < 1 || g->KW < 1 ||
        g->SH < 1 || g->SW < 1 || g->PH < 0 || g->PW < 0 ||
        g->PH > g->KH / 2 || g->PW > g->KW / 2 ||
        (g->ceil_mode != 0 && g->ceil_mode != 1) ||
        (g->count_include_pad != 0 && g->count_include_pad != 1))
        return CNNRT_EINVAL;
    /* at most H + 2·PH (W + 2·PW): an int */
    g->OH = (int)cnnrt_out_size(g->H, g->PH, g->PH, g->KH, g->SH, 1, g->ceil_mode);
    g->OW = (int)cnnrt_out_size(g->W, g->PW, g->PW, g->KW, g->SW, 1, g->ceil_mode);
    if (g->OH < 1 || g->OW < 1)
        return CNNRT_EINVAL;
    return CNNRT_OK;
}

CNNRT_INLINE int imin(int a, int b) { return a < b ? a : b; }
CNNRT_INLINE int imax(int a, int b) { return a > b ? a : b; }

/* ---- max pool -------------------------------------------------------------- */

/* 2×2 windows, stride 2, no padding, every window inside the input: the
 * general loop's comparisons in the same order, unrolled.  The rule is
 * PyTorch's, v > m || isnan(v): the first maximum wins, a NaN always wins,
 * so a window holding NaNs gives NaN at its last NaN in row-major order. */
CNNRT_INLINE void maxpool_2x2s2(float *restrict y, int32_t *restrict argmax, const float *restrict x,
                          size_t planes, const cnnrt_pool_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        int32_t *ap = argmax + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            const int32_t base = 2 * oh * W;
            for (int ow = 0; ow < OW; ow++) {
                const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                float m = a;
                int32_t k = 0;
                if (b > m || isnan(b)) { m = b; k = 1; }      /* first max wins; NaN propagates */
                if (c > m || isnan(c)) { m = c; k = W; }
                if (d > m || isnan(d)) { m = d; k = W + 1; }
                yp[oh * OW + ow] = m;
                ap[oh * OW + ow] = base + 2 * ow + k;
            }
        }
    }
}

#ifdef HAVE_AVX512_POOL
/* maxpool_2x2s2 sixteen windows at a time: the even and odd columns of the
 * two rows are split out of 32 floats, then compared in the scalar loop's
 * order with its NaN rule (b > m or b unordered). */
__attribute__((target("avx512f")))
static void maxpool_2x2s2_avx512(float *restrict y, int32_t *restrict argmax, const float *restrict x,
                                 size_t planes, const cnnrt_pool_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_add_epi32(even, _mm512_setzero_si512());      /* 2·lane */
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        int32_t *ap = argmax + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < OW; ow += 16) {
                const int cnt = OW - ow < 16 ? OW - ow : 16;
                const __mmask16 klo = (__mmask16)(2 * cnt >= 16 ? 0xFFFF : (1u << (2 * cnt)) - 1);
                const __mmask16 khi = (__mmask16)(2 * cnt > 16 ? (1u << (2 * cnt - 16)) - 1 : 0);
                const __mmask16 kout = (__mmask16)((1u << cnt) - 1);
                const __m512 l0 = _mm512_maskz_loadu_ps(klo, r0 + 2 * ow), h0 = _mm512_maskz_loadu_ps(khi, r0 + 2 * ow + 16);
                const __m512 l1 = _mm512_maskz_loadu_ps(klo, r1 + 2 * ow), h1 = _mm512_maskz_loadu_ps(khi, r1 + 2 * ow + 16);
                const __m512 a = _mm512_permutex2var_ps(l0, even, h0), b = _mm512_permutex2var_ps(l0, odd, h0);
                const __m512 c = _mm512_permutex2var_ps(l1, even, h1), d = _mm512_permutex2var_ps(l1, odd, h1);
                __m512 m = a;
                __m512i k = _mm512_setzero_si512();
                __mmask16 t = _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, b);
                k = _mm512_mask_mov_epi32(k, t, _mm512_set1_epi32(1));
                t = _mm512_cmp_ps_mask(c, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, c);
                k = _mm512_mask_mov_epi32(k, t, _mm512_set1_epi32(W));
                t = _mm512_cmp_ps_mask(d, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
                m = _mm512_mask_mov_ps(m, t, d);
                k = _mm512_mask_mov_epi32(k, t, _mm512_set1_epi32(W + 1));
                /* argmax = 2·oh·W + 2·(ow + lane) + k */
                const __m512i idx = _mm512_add_epi32(_mm512_add_epi32(lane2, k), _mm512_set1_epi32(2 * oh * W + 2 * ow));
                _mm512_mask_storeu_ps(yp + (size_t)oh * OW + ow, kout, m);
                _mm512_mask_storeu_epi32(ap + (size_t)oh * OW + ow, kout, idx);
            }
        }
    }
}
#endif

/* The max pool of `planes` planes. */
CNNRT_WIDE
static void maxpool_fwd(float *y, int32_t *argmax, const float *x, size_t planes, const cnnrt_pool_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    if (g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0 &&
        2 * OH <= H && 2 * OW <= W) {
#ifdef HAVE_AVX512_POOL
        if (__builtin_cpu_supports("avx512f")) {
            maxpool_2x2s2_avx512(y, argmax, x, planes, g);
            return;
        }
#endif
        maxpool_2x2s2(y, argmax, x, planes, g);
        return;
    }
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        int32_t *ap = argmax + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = oh * g->SH - g->PH, h1 = imin(h0 + g->KH, H);
            h0 = imax(h0, 0);
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ow * g->SW - g->PW, w1 = imin(w0 + g->KW, W);
                w0 = imax(w0, 0);
                float m = -INFINITY;
                int32_t mi = h0 * W + w0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        float v = xp[ih * W + iw];
                        if (v > m || isnan(v)) {  /* first max wins; the last NaN wins (PyTorch) */
                            m = v;
                            mi = ih * W + iw;
                        }
                    }
                yp[oh * OW + ow] = m;
                ap[oh * OW + ow] = mi;
            }
        }
    }
}

/* The threads share the planes (cnnrt_par.h). */
void cnnrt_maxpool2d_forward(float *y,         /* [n][C][OH][OW] */
                             int32_t *argmax,  /* [n][C][OH][OW] saved, index h·W+w */
                             const float *x,   /* [n][C][H][W] */
                             int n, const cnnrt_pool_geom *g)
{
    const size_t planes = (size_t)n * g->C, HW = (size_t)g->H * g->W, OHW = (size_t)g->OH * g->OW;
#pragma omp parallel if (planes * HW >= PAR_MIN)
    {
        size_t p0, p1;
        par_share(planes, 1, &p0, &p1);
        maxpool_fwd(y + p0 * OHW, argmax + p0 * OHW, x + p0 * HW, p1 - p0, g);
    }
}

CNNRT_WIDE
static void maxpool_bwd(float *dx, const float *dy, const int32_t *argmax, size_t planes, size_t HW, size_t OHW)
{
    for (size_t pl = 0; pl < planes; pl++)
        for (size_t o = 0; o < OHW; o++)
            dx[pl * HW + argmax[pl * OHW + o]] += dy[pl * OHW + o];
}

void cnnrt_maxpool2d_backward(float *dx,       /* [n][C][H][W] += */
                              const float *dy, /* [n][C][OH][OW] */
                              const int32_t *argmax, /* [n][C][OH][OW] */
                              int n, const cnnrt_pool_geom *g)
{
    cnnrt_maxpool2d_backward_ex(dx, 1, dy, argmax, n, g);
}

/* dx = the gradient of `planes` 2×2 stride-2 pools that tile their input
 * exactly (H = 2·OH, W = 2·OW): each window's four values written once,
 * dy at its maximum, 0 elsewhere. */
CNNRT_WIDE
static void maxpool_bwd_2x2_set(float *restrict dx, const float *restrict dy, const int32_t *restrict argmax,
                                size_t planes, int OH, int OW)
{
    const int W = 2 * OW;
    for (size_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < OH; oh++) {
            float *restrict r0 = dx + (pl * OH + oh) * 2 * (size_t)W, *restrict r1 = r0 + W;
            const float *restrict d = dy + (pl * OH + oh) * OW;
            const int32_t *restrict a = argmax + (pl * OH + oh) * OW;
            for (int ow = 0; ow < OW; ow++) {
                const int k = a[ow] - 2 * oh * W - 2 * ow;     /* 0, 1, W or W + 1 */
                r0[2 * ow] = k == 0 ? d[ow] : 0.0f;
                r0[2 * ow + 1] = k == 1 ? d[ow] : 0.0f;
                r1[2 * ow] = k == W ? d[ow] : 0.0f;
                r1[2 * ow + 1] = k == W + 1 ? d[ow] : 0.0f;
            }
        }
}

#ifdef HAVE_AVX512_POOL
/* maxpool_bwd_2x2_set sixteen windows at a time: the four values of each
 * window chosen under masks, then the even and odd columns of each row
 * interleaved into 32 floats. */
__attribute__((target("avx512f")))
static void maxpool_bwd_2x2_set_avx512(float *restrict dx, const float *restrict dy, const int32_t *restrict argmax,
                                       size_t planes, int OH, int OW)
{
    const int W = 2 * OW;
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512i lane2 = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32(W), w1 = _mm512_set1_epi32(W + 1);
    for (size_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < OH; oh++) {
            float *restrict r0 = dx + (pl * OH + oh) * 2 * (size_t)W, *restrict r1 = r0 + W;
            const float *restrict d = dy + (pl * OH + oh) * OW;
            const int32_t *restrict a = argmax + (pl * OH + oh) * OW;
            for (int ow = 0; ow < OW; ow += 16) {
                const int n = OW - ow < 16 ? OW - ow : 16;
                const __mmask16 kin = (__mmask16)((1u << n) - 1);
                const __mmask16 klo = (__mmask16)(n >= 8 ? 0xFFFF : (1u << 2 * n) - 1);
                const __mmask16 khi = (__mmask16)(n <= 8 ? 0 : n == 16 ? 0xFFFF : (1u << 2 * (n - 8)) - 1);
                const __m512 dv = _mm512_maskz_loadu_ps(kin, d + ow);
                /* k = argmax − (2·oh·W + 2·ow'): 0, 1, W or W + 1 */
                const __m512i k = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(kin, a + ow),
                                                   _mm512_add_epi32(lane2, _mm512_set1_epi32(2 * oh * W + 2 * ow)));
                const __m512 v00 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_setzero_si512()), dv);
                const __m512 v01 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, one), dv);
                const __m512 v10 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, wv), dv);
                const __m512 v11 = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, w1), dv);
                _mm512_mask_storeu_ps(r0 + 2 * ow, klo, _mm512_permutex2var_ps(v00, lo, v01));
                _mm512_mask_storeu_ps(r0 + 2 * ow + 16, khi, _mm512_permutex2var_ps(v00, hi, v01));
                _mm512_mask_storeu_ps(r1 + 2 * ow, klo, _mm512_permutex2var_ps(v10, lo, v11));
                _mm512_mask_storeu_ps(r1 + 2 * ow + 16, khi, _mm512_permutex2var_ps(v10, hi, v11));
            }
        }
}
#endif

void cnnrt_maxpool2d_backward_ex(float *dx, int dx_add, const float *dy, const int32_t *argmax, int n,
                                 const cnnrt_pool_geom *g)
{
    /* differentiates:  y[oh][ow] = x[argmax[oh][ow]] */
    const size_t planes = (size_t)n * g->C, HW = (size_t)g->H * g->W, OHW = (size_t)g->OH * g->OW;
    const int tiles = g->KH == 2 && g->KW == 2 && g->SH == 2 && g->SW == 2 && g->PH == 0 && g->PW == 0 &&
                      g->H == 2 * g->OH && g->W == 2 * g->OW;
#pragma omp parallel if (planes * HW >= PAR_MIN)
    {
        size_t p0, p1;
        par_share(planes, 1, &p0, &p1);
        if (!dx_add && tiles) {
#ifdef HAVE_AVX512_POOL
            if (__builtin_cpu_supports("avx512f"))
                maxpool_bwd_2x2_set_avx512(dx + p0 * HW, dy + p0 * OHW, argmax + p0 * OHW, p1 - p0, g->OH, g->OW);
            else
#endif
                maxpool_bwd_2x2_set(dx + p0 * HW, dy + p0 * OHW, argmax + p0 * OHW, p1 - p0, g->OH, g->OW);
        } else {
            if (!dx_add)
                memset(dx + p0 * HW, 0, sizeof(float) * (p1 - p0) * HW);
            maxpool_bwd(dx + p0 * HW, dy + p0 * OHW, argmax + p0 * OHW, p1 - p0, HW, OHW);
        }
    }
}

/* ---- average pool ---------------------------------------------------------- */

/* Window of output (oh, ow) clipped to the input, and PyTorch's divisor. */
typedef struct { int h0, h1, w0, w1; float div; } avg_window;

static avg_window avg_win(const cnnrt_pool_geom *g, int oh, int ow)
{
    avg_window a;
    a.h0 = oh * g->SH - g->PH;
    a.w0 = ow * g->SW - g->PW;
    a.h1 = imin(a.h0 + g->KH, g->H + g->PH);
    a.w1 = imin(a.w0 + g->KW, g->W + g->PW);
    int padded = (a.h1 - a.h0) * (a.w1 - a.w0);   /* window within the padded input */
    a.h0 = imax(a.h0, 0);
    a.w0 = imax(a.w0, 0);
    a.h1 = imin(a.h1, g->H);
    a.w1 = imin(a.w1, g->W);
    int inside = (a.h1 - a.h0) * (a.w1 - a.w0);
    a.div = (float)(g->count_include_pad ? padded : inside);
    return a;
}

void cnnrt_avgpool2d_forward(float *y,         /* [n][C][OH][OW] */
                             const float *x,   /* [n][C][H][W] */
                             int n, const cnnrt_pool_geom *g)
{
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                avg_window a = avg_win(g, oh, ow);
                float s = 0.0f;
                for (int ih = a.h0; ih < a.h1; ih++)
                    for (int iw = a.w0; iw < a.w1; iw++)
                        s += xp[ih * W + iw];
                yp[oh * OW + ow] = a.h0 < a.h1 && a.w0 < a.w1 ? s / a.div : 0.0f;
            }
    }
}

void cnnrt_avgpool2d_backward(float *dx,       /* [n][C][H][W] += */
                              const float *dy, /* [n][C][OH][OW] */
                              int n, const cnnrt_pool_geom *g)
{
    /* differentiates:  y[oh][ow] = Σ_window x / div */
    const int H = g->H, W = g->W, OH = g->OH, OW = g->OW;
    for (size_t pl = 0; pl < (size_t)n * g->C; pl++) {
        float *dxp = dx + pl * H * W;
        const float *dyp = dy + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                avg_window a = avg_win(g, oh, ow);
                if (a.h0 >= a.h1 || a.w0 >= a.w1)
                    continue;
                float d = dyp[oh * OW + ow] / a.div;
                for (int ih = a.h0; ih < a.h1; ih++)
                    for (int iw = a.w0; iw < a.w1; iw++)
                        dxp[ih * W + iw] += d;
            }
    }
}

/* ---- adaptive average pool ------------------------------------------------- */

/* [floor(i·in/out), ceil((i+1)·in/out)) */
static int ad_start(int i, int in, int out) { return (int)(((long)i * in) / out); }
static int ad_end(int i, int in, int out) { return (int)(((long)(i + 1) * in + out - 1) / out); }

void cnnrt_adaptive_avgpool2d_forward(float *y,       /* [n][C][OH][OW] */
                                      const float *x, /* [n][C][H][W] */
                                      int n, int C, int H, int W, int OH, int OW)
{
    for (size_t pl = 0; pl < (size_t)n * C; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
                float s = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        s += xp[ih * W + iw];
                yp[oh * OW + ow] = s / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

void cnnrt_adaptive_avgpool2d_backward(float *dx,       /* [n][C][H][W] += */
                                       const float *dy, /* [n][C][OH][OW] */
                                       int n, int C, int H, int W, int OH, int OW)
{
    /* differentiates:  y[oh][ow] = Σ_{cell} x / |cell| */
    for (size_t pl = 0; pl < (size_t)n * C; pl++) {
        float *dxp = dx + pl * H * W;
        const float *dyp = dy + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
            for (int ow = 0; ow < OW; ow++) {
                int w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
                float d = dyp[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        dxp[ih * W + iw] += d;
            }
        }
    }
}

/* ---- global average pool --------------------------------------------------- */

void cnnrt_global_avgpool_forward(float *y,           /* [n][C] */
                                  const float *x,     /* [n][C][HW] */
                                  int n, int C, int HW)
{
    for (size_t pl = 0; pl < (size_t)n * C; pl++) {
        double s = 0.0;
        for (int k = 0; k < HW; k++)
            s += x[pl * HW + k];
        y[pl] = (float)(s / HW);
    }
}

void cnnrt_global_avgpool_backward(float *dx,         /* [n][C][HW] += */
                                   const float *dy,   /* [n][C] */
                                   int n, int C, int HW)
{
    /* differentiates:  y[i][c] = Σ_k x[i][c][k] / HW */
    for (size_t pl = 0; pl < (size_t)n * C; pl++) {
        float d = dy[pl] / (float)HW;
        for (int k = 0; k < HW; k++)
            dx[pl * HW + k] += d;
    }
}
