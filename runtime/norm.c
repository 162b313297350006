/*
 * norm.c — batch norm (training and inference), layer norm, group norm and
 * instance norm, PyTorch semantics.
 *
 * Shape legend
 *   n          batch
 *   C, HW      channels and pixels per channel (BatchNorm1d on [n][D]: C = D, HW = 1)
 *   D          values per sample for layer norm (C·H·W, or D after flatten)
 *   G          groups of C/G channels for group norm (instance norm: G = C)
 *   x, y, dx, dy  [n][C][HW] or [n][D]
 *   statistics: batch norm [C], layer norm [n], group norm [n][G]
 *
 * Every norm computes x̂ = (x − μ)·rstd, rstd = 1/√(σ² + ε) with σ² the
 * biased variance over its set S of M values, then y = γ·x̂ + β.  The
 * backward of the normalisation over S, with g = dy·γ, is
 *   dx = rstd · (g − mean_S(g) − x̂ · mean_S(g·x̂)).
 * Statistics are accumulated in double (two passes) and stored as float.
 */
#include "cnnrt.h"
#include "cnnrt_simd.h"
#include "cnnrt_priv.h"
#include "cnnrt_par.h"

#include <math.h>

/* ---- batch norm ----------------------------------------------------------- */

/* Plane sums for the batch statistics: each plane of HW values is summed in
 * float with np partial sums (vectorisable without reassociation), folded
 * in halves; the planes of a channel are added in double.  np = 32 for long
 * planes (enough independent chains to hide the adds' latency), 8 for short
 * ones (where folding 32 would cost more than it saves).  The *_n helpers
 * are inlined with np constant. */
enum { NP = 32 };

CNNRT_INLINE int lanes(int len) { return len >= 256 ? 32 : 8; }

CNNRT_INLINE float fold(float *s, const int np)
{
    for (int w = np / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            s[l] += s[l + w];
    return s[0];
}

CNNRT_INLINE float psum_n(const float *restrict v, int len, const int np)
{
    float s[NP] = {0};
    int k = 0;
    for (; k + np <= len; k += np)
        for (int l = 0; l < np; l++)
            s[l] += v[k + l];
    for (; k < len; k++)
        s[k % np] += v[k];
    return fold(s, np);
}

CNNRT_INLINE float psum(const float *restrict v, int len)
{
    return lanes(len) == 32 ? psum_n(v, len, 32) : psum_n(v, len, 8);
}

/* Σ (v − m)² */
CNNRT_INLINE float psum_sq_n(const float *restrict v, float m, int len, const int np)
{
    float s[NP] = {0};
    int k = 0;
    for (; k + np <= len; k += np)
        for (int l = 0; l < np; l++) {
            const float d = v[k + l] - m;
            s[l] += d * d;
        }
    for (; k < len; k++) {
        const float d = v[k] - m;
        s[k % np] += d * d;
    }
    return fold(s, np);
}

CNNRT_INLINE float psum_sq(const float *restrict v, float m, int len)
{
    return lanes(len) == 32 ? psum_sq_n(v, m, len, 32) : psum_sq_n(v, m, len, 8);
}

/* Σ g and Σ g·(v − m) */
CNNRT_INLINE void psum_dot_n(const float *restrict g, const float *restrict v, float m, int len,
                             float *sg, float *sgv, const int np)
{
    float s[NP] = {0}, t[NP] = {0};
    int k = 0;
    for (; k + np <= len; k += np)
        for (int l = 0; l < np; l++) {
            s[l] += g[k + l];
            t[l] += g[k + l] * (v[k + l] - m);
        }
    for (; k < len; k++) {
        s[k % np] += g[k];
        t[k % np] += g[k] * (v[k] - m);
    }
    *sg = fold(s, np);
    *sgv = fold(t, np);
}

CNNRT_INLINE void psum_dot(const float *restrict g, const float *restrict v, float m, int len,
                           float *sg, float *sgv)
{
    if (lanes(len) == 32)
        psum_dot_n(g, v, m, len, sg, sgv, 32);
    else
        psum_dot_n(g, v, m, len, sg, sgv, 8);
}

/* The same for the gradient g masked by a relu's output r: 0 where r ≤ 0, else g
 * (NaN included: cnnrt_relu_backward's mask). */
CNNRT_INLINE void psum_dot_mask_n(const float *restrict g, const float *restrict r, const float *restrict v,
                                  float m, int len, float *sg, float *sgv, const int np)
{
    float s[NP] = {0}, t[NP] = {0};
    int k = 0;
    for (; k + np <= len; k += np)
        for (int l = 0; l < np; l++) {
            const float gm = r[k + l] <= 0.0f ? 0.0f : g[k + l];
            s[l] += gm;
            t[l] += gm * (v[k + l] - m);
        }
    for (; k < len; k++) {
        const float gm = r[k] <= 0.0f ? 0.0f : g[k];
        s[k % np] += gm;
        t[k % np] += gm * (v[k] - m);
    }
    *sg = fold(s, np);
    *sgv = fold(t, np);
}

CNNRT_INLINE void psum_dot_mask(const float *restrict g, const float *restrict r, const float *restrict v, float m,
                                int len, float *sg, float *sgv)
{
    if (lanes(len) == 32)
        psum_dot_mask_n(g, r, v, m, len, sg, sgv, 32);
    else
        psum_dot_mask_n(g, r, v, m, len, sg, sgv, 8);
}

/* Channels [c0, c1) of cnnrt_batchnorm_forward_train. */
CNNRT_WIDE
static void bn_forward_train(float *y, float *running_mean, float *running_var, float *save_mean,
                             float *save_invstd, const float *x, const float *gamma, const float *beta,
                             float eps, float momentum, int n, int C, int HW, int relu, int c0, int c1)
{
    const size_t M = (size_t)n * HW, cs = (size_t)C * HW;
    for (int c = c0; c < c1; c++) {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            s += psum(x + i * cs + (size_t)c * HW, HW);
        const double mean = s / M;
        /* deviations from the mean rounded to float: exact to float rounding
         * of the mean, the error cancels to first order in Σ(x − m)² */
        const float meanf = (float)mean;
        double ss = 0.0;
        for (int i = 0; i < n; i++)
            ss += psum_sq(x + i * cs + (size_t)c * HW, meanf, HW);
        const double dm = mean - meanf;
        ss -= M * dm * dm;                            /* Σ(x−mean)² = Σ(x−m)² − M(mean−m)² */
        if (ss < 0)
            ss = 0;
        const double var = ss / M;                    /* biased: normalisation */
        const float invstd = (float)(1.0 / sqrt(var + eps));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        if (running_mean)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        if (running_var) {
            const double unbiased = M > 1 ? ss / (M - 1) : ss;  /* running: unbiased */
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        const float ga = gamma ? gamma[c] : 1.0f, be = beta ? beta[c] : 0.0f;
        const float a = ga * invstd, b = be - (float)mean * a;
        for (int i = 0; i < n; i++) {
            const float *restrict xp = x + i * cs + (size_t)c * HW;
            float *restrict yp = y + i * cs + (size_t)c * HW;
            if (relu)                                 /* cnnrt_relu_forward's expression */
                for (int k = 0; k < HW; k++) {
                    const float v = xp[k] * a + b;
                    yp[k] = v < 0.0f ? 0.0f : v;
                }
            else
                for (int k = 0; k < HW; k++)
                    yp[k] = xp[k] * a + b;
        }
    }
}

/* The threads share the channels (cnnrt_par.h). */
void cnnrt_batchnorm_forward_train(float *y,             /* [n][C][HW] */
                                   float *running_mean,  /* [C] in/out, or NULL */
                                   float *running_var,   /* [C] in/out, or NULL */
                                   float *save_mean,     /* [C] */
                                   float *save_invstd,   /* [C] */
                                   const float *x,       /* [n][C][HW] */
                                   const float *gamma,   /* [C] or NULL */
                                   const float *beta,    /* [C] or NULL */
                                   float eps, float momentum,
                                   int n, int C, int HW)
{
    cnnrt_batchnorm_forward_train_ex(y, running_mean, running_var, save_mean, save_invstd, x, gamma, beta, eps,
                                     momentum, n, C, HW, 0);
}

void cnnrt_batchnorm_forward_train_ex(float *y, float *running_mean, float *running_var, float *save_mean,
                                      float *save_invstd, const float *x, const float *gamma, const float *beta,
                                      float eps, float momentum, int n, int C, int HW, int relu)
{
#pragma omp parallel if ((size_t)n * C * HW >= PAR_MIN)
    {
        size_t c0, c1;
        par_share((size_t)C, 1, &c0, &c1);
        bn_forward_train(y, running_mean, running_var, save_mean, save_invstd, x, gamma, beta, eps, momentum, n,
                         C, HW, relu, (int)c0, (int)c1);
    }
}

void cnnrt_batchnorm_backward_train(float *dx,           /* [n][C][HW] += , or NULL */
                                    float *dgamma,       /* [C] += , or NULL */
                                    float *dbeta,        /* [C] += , or NULL */
                                    const float *dy,     /* [n][C][HW] */
                                    const float *x,      /* [n][C][HW] */
                                    const float *save_mean,   /* [C] */
                                    const float *save_invstd, /* [C] */
                                    const float *gamma,  /* [C] or NULL */
                                    int n, int C, int HW)
{
    cnnrt_batchnorm_backward_train_ex(dx, 1, dgamma, dbeta, dy, NULL, x, save_mean, save_invstd, gamma, n, C, HW);
}

/* Channels [c0, c1) of cnnrt_batchnorm_backward_train_ex. */
CNNRT_WIDE
static void bn_backward_train(float *dx, int dx_add, float *dgamma, float *dbeta, const float *dy, const float *r,
                              const float *x, const float *save_mean, const float *save_invstd, const float *gamma,
                              int n, int C, int HW, int c0, int c1)
{
    /* differentiates:  y = γ·(x − mean_batch)·invstd_batch + β  (batch statistics) */
    const size_t M = (size_t)n * HW, cs = (size_t)C * HW;
    for (int c = c0; c < c1; c++) {
        const float mu = save_mean[c], rs = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;                 /* Σ dy, Σ dy·x̂ */
        for (int i = 0; i < n; i++) {
            float a, b;
            if (r)
                psum_dot_mask(dy + i * cs + (size_t)c * HW, r + i * cs + (size_t)c * HW, x + i * cs + (size_t)c * HW,
                              mu, HW, &a, &b);
            else
                psum_dot(dy + i * cs + (size_t)c * HW, x + i * cs + (size_t)c * HW, mu, HW, &a, &b);
            sdy += a;
            sdyx += b;
        }
        sdyx *= rs;
        if (dgamma)
            dgamma[c] += (float)sdyx;
        if (dbeta)
            dbeta[c] += (float)sdy;
        if (!dx)
            continue;
        const double ga = gamma ? gamma[c] : 1.0;
        /* dx += k1·(dy − mean(dy) − x̂·mean(dy·x̂)) = k1·dy − k1·rs·mean(dy·x̂)·(x − μ) − k1·mean(dy) */
        const float k1 = (float)(ga * rs), k2 = (float)(ga * rs * rs * sdyx / M),
                    k3 = (float)(ga * rs * sdy / M);
        for (int i = 0; i < n; i++) {
            const float *restrict dyp = dy + i * cs + (size_t)c * HW, *restrict xp = x + i * cs + (size_t)c * HW;
            float *restrict dxp = dx + i * cs + (size_t)c * HW;
            if (r) {
                const float *restrict rp = r + i * cs + (size_t)c * HW;
                if (dx_add)
                    for (int k = 0; k < HW; k++)
                        dxp[k] += (k1 * (rp[k] <= 0.0f ? 0.0f : dyp[k]) - k2 * (xp[k] - mu)) - k3;
                else
                    for (int k = 0; k < HW; k++)
                        dxp[k] = (k1 * (rp[k] <= 0.0f ? 0.0f : dyp[k]) - k2 * (xp[k] - mu)) - k3;
            } else if (dx_add)
                for (int k = 0; k < HW; k++)
                    dxp[k] += (k1 * dyp[k] - k2 * (xp[k] - mu)) - k3;
            else
                for (int k = 0; k < HW; k++)
                    dxp[k] = (k1 * dyp[k] - k2 * (xp[k] - mu)) - k3;
        }
    }
}

/* The threads share the channels (cnnrt_par.h). */
void cnnrt_batchnorm_backward_train_ex(float *dx, int dx_add, float *dgamma, float *dbeta, const float *dy,
                                       const float *relu_y, const float *x, const float *save_mean,
                                       const float *save_invstd, const float *gamma, int n, int C, int HW)
{
#pragma omp parallel if ((size_t)n * C * HW >= PAR_MIN)
    {
        size_t c0, c1;
        par_share((size_t)C, 1, &c0, &c1);
        bn_backward_train(dx, dx_add, dgamma, dbeta, dy, relu_y, x, save_mean, save_invstd, gamma, n, C, HW,
                          (int)c0, (int)c1);
    }
}

void cnnrt_batchnorm_forward_infer(float *y,                  /* [n][C][HW] */
                                   const float *x,            /* [n][C][HW] */
                                   const float *running_mean, /* [C] */
                                   const float *running_var,  /* [C] */
                                   const float *gamma,        /* [C] or NULL */
                                   const float *beta,         /* [C] or NULL */
                                   float eps, int n, int C, int HW)
{
    const size_t cs = (size_t)C * HW;
    for (int c = 0; c < C; c++) {
        const float a = (gamma ? gamma[c] : 1.0f) / sqrtf(running_var[c] + eps);
        const float b = (beta ? beta[c] : 0.0f) - running_mean[c] * a;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < HW; k++)
                y[i * cs + (size_t)c * HW + k] = x[i * cs + (size_t)c * HW + k] * a + b;
    }
}

void cnnrt_batchnorm_backward_infer(float *dx, float *dgamma, float *dbeta, /* += or NULL */
                                    const float *dy,           /* [n][C][HW] */
                                    const float *x,            /* [n][C][HW] */
                                    const float *running_mean, /* [C] */
                                    const float *running_var,  /* [C] */
                                    const float *gamma,        /* [C] or NULL */
                                    float eps, int n, int C, int HW)
{
    /* differentiates:  y = γ(x − μ)/√(σ²+ε) + β  with fixed running μ, σ² */
    const size_t cs = (size_t)C * HW;
    for (int c = 0; c < C; c++) {
        const float rs = 1.0f / sqrtf(running_var[c] + eps);
        const float a = (gamma ? gamma[c] : 1.0f) * rs;
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < HW; k++) {
                size_t e = i * cs + (size_t)c * HW + k;
                sdy += dy[e];
                sdyx += (double)dy[e] * (x[e] - running_mean[c]) * rs;
                if (dx)
                    dx[e] += dy[e] * a;
            }
        if (dgamma)
            dgamma[c] += (float)sdyx;
        if (dbeta)
            dbeta[c] += (float)sdy;
    }
}

/* ---- shared: statistics and backward of one normalisation set -------------- */

/* Mean and rstd of M contiguous values. */
static void block_stats(float *mean, float *rstd, const float *x, size_t M, float eps)
{
    double s = 0.0, ss = 0.0;
    for (size_t e = 0; e < M; e++)
        s += x[e];
    const double mu = s / M;
    for (size_t e = 0; e < M; e++)
        ss += (x[e] - mu) * (x[e] - mu);
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(ss / M + eps));
}

/* Affine of element e of a block: per element (layer norm, stride 1) or per
 * channel (group norm: index e / HW, offset by the group's first channel). */
typedef struct {
    const float *gamma, *beta;  /* NULL: identity */
    size_t div;                 /* element → affine index: e / div */
} affine_map;

static void block_forward(float *y, const float *x, size_t M, float mean, float rstd,
                          affine_map a)
{
    for (size_t e = 0; e < M; e++) {
        size_t j = e / a.div;
        float v = (x[e] - mean) * rstd;
        y[e] = (a.gamma ? a.gamma[j] : 1.0f) * v + (a.beta ? a.beta[j] : 0.0f);
    }
}

static void block_backward(float *dx, float *dgamma, float *dbeta,
                           const float *dy, const float *x, size_t M,
                           float mean, float rstd, affine_map a)
{
    /* differentiates:  y = γ·(x − mean_S)·rstd_S + β  over the set S */
    double sg = 0.0, sgx = 0.0;
    for (size_t e = 0; e < M; e++) {
        size_t j = e / a.div;
        double xh = (double)(x[e] - mean) * rstd;
        double g = (double)dy[e] * (a.gamma ? a.gamma[j] : 1.0f);
        sg += g;
        sgx += g * xh;
        if (dgamma)
            dgamma[j] += (float)(dy[e] * xh);
        if (dbeta)
            dbeta[j] += dy[e];
    }
    if (!dx)
        return;
    const double mg = sg / M, mgx = sgx / M;
    for (size_t e = 0; e < M; e++) {
        size_t j = e / a.div;
        double xh = (double)(x[e] - mean) * rstd;
        double g = (double)dy[e] * (a.gamma ? a.gamma[j] : 1.0f);
        dx[e] += (float)(rstd * (g - mg - xh * mgx));
    }
}

/* ---- layer norm ------------------------------------------------------------ */

void cnnrt_layernorm_forward(float *y,            /* [n][D] */
                             float *save_mean,    /* [n] */
                             float *save_rstd,    /* [n] */
                             const float *x,      /* [n][D] */
                             const float *gamma,  /* [D] or NULL */
                             const float *beta,   /* [D] or NULL */
                             float eps, int n, int D)
{
    affine_map a = {gamma, beta, 1};
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * D;
        block_stats(&save_mean[i], &save_rstd[i], x + o, (size_t)D, eps);
        block_forward(y + o, x + o, (size_t)D, save_mean[i], save_rstd[i], a);
    }
}

void cnnrt_layernorm_backward(float *dx,          /* [n][D] += , or NULL */
                              float *dgamma,      /* [D] += , or NULL */
                              float *dbeta,       /* [D] += , or NULL */
                              const float *dy,    /* [n][D] */
                              const float *x,     /* [n][D] */
                              const float *save_mean, const float *save_rstd, /* [n] */
                              const float *gamma, /* [D] or NULL */
                              int n, int D)
{
    affine_map a = {gamma, NULL, 1};
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * D;
        block_backward(dx ? dx + o : NULL, dgamma, dbeta, dy + o, x + o, (size_t)D,
                       save_mean[i], save_rstd[i], a);
    }
}

/* ---- group norm / instance norm -------------------------------------------- */

void cnnrt_groupnorm_forward(float *y,            /* [n][C][HW] */
                             float *save_mean,    /* [n][G] */
                             float *save_rstd,    /* [n][G] */
                             const float *x,      /* [n][C][HW] */
                             const float *gamma,  /* [C] or NULL */
                             const float *beta,   /* [C] or NULL */
                             float eps, int n, int C, int HW, int G)
{
    const int Cg = C / G;
    const size_t M = (size_t)Cg * HW;
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < G; gi++) {
            const size_t o = ((size_t)i * C + (size_t)gi * Cg) * HW, s = (size_t)i * G + gi;
            affine_map a = {gamma ? gamma + gi * Cg : NULL, beta ? beta + gi * Cg : NULL,
                            (size_t)HW};
            block_stats(&save_mean[s], &save_rstd[s], x + o, M, eps);
            block_forward(y + o, x + o, M, save_mean[s], save_rstd[s], a);
        }
}

void cnnrt_groupnorm_backward(float *dx,          /* [n][C][HW] += , or NULL */
                              float *dgamma,      /* [C] += , or NULL */
                              float *dbeta,       /* [C] += , or NULL */
                              const float *dy,    /* [n][C][HW] */
                              const float *x,     /* [n][C][HW] */
                              const float *save_mean, const float *save_rstd, /* [n][G] */
                              const float *gamma, /* [C] or NULL */
                              int n, int C, int HW, int G)
{
    const int Cg = C / G;
    const size_t M = (size_t)Cg * HW;
    for (int i = 0; i < n; i++)
        for (int gi = 0; gi < G; gi++) {
            const size_t o = ((size_t)i * C + (size_t)gi * Cg) * HW, s = (size_t)i * G + gi;
            affine_map a = {gamma ? gamma + gi * Cg : NULL, NULL, (size_t)HW};
            block_backward(dx ? dx + o : NULL, dgamma ? dgamma + gi * Cg : NULL,
                           dbeta ? dbeta + gi * Cg : NULL, dy + o, x + o, M,
                           save_mean[s], save_rstd[s], a);
        }
}

void cnnrt_instancenorm_forward(float *y, float *save_mean, float *save_rstd,
                                const float *x, const float *gamma, const float *beta,
                                float eps, int n, int C, int HW)
{
    cnnrt_groupnorm_forward(y, save_mean, save_rstd, x, gamma, beta, eps, n, C, HW, C);
}

void cnnrt_instancenorm_backward(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x,
                                 const float *save_mean, const float *save_rstd,
                                 const float *gamma, int n, int C, int HW)
{
    cnnrt_groupnorm_backward(dx, dgamma, dbeta, dy, x, save_mean, save_rstd, gamma,
                             n, C, HW, C);
}
