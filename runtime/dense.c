/*
 * dense.c — fully connected layer, y = x·Wᵀ + b (PyTorch nn.Linear).
 *
 * Shape legend
 *   n        batch
 *   in, out  features
 *   x, dx [n][in]    y, dy [n][out]    w, dw [out][in]    b, db [out]
 */
#include "cnnrt.h"
#include "cnnrt_priv.h"

#include <cblas.h>

void cnnrt_dense_forward(float *y,             /* [n][out] */
                         const float *x,       /* [n][in] */
                         const float *w,       /* [out][in] */
                         const float *b,       /* [out] or NULL */
                         int n, int in, int out)
{
    /* y = x · Wᵀ      [n][out] = [n][in] · [in][out] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++)
                y[(size_t)i * out + o] += b[o];
}

void cnnrt_dense_backward(float *dx,           /* [n][in] += , or NULL */
                          float *dw,           /* [out][in] += , or NULL */
                          float *db,           /* [out] += , or NULL */
                          const float *dy,     /* [n][out] */
                          const float *x,      /* [n][in] */
                          const float *w,      /* [out][in] */
                          int n, int in, int out)
{
    cnnrt_dense_backward_ex(dx, 1, dw, 1, db, dy, x, w, n, in, out);
}

void cnnrt_dense_backward_ex(float *dx, int dx_add, float *dw, int dw_add, float *db, const float *dy,
                             const float *x, const float *w, int n, int in, int out)
{
    /* differentiates:  y = x · Wᵀ + b */
    if (dx)
        /* dx (+)= dy · W      [n][in] (+)= [n][out] · [out][in] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                    n, in, out, 1.0f, dy, out, w, in, dx_add ? 1.0f : 0.0f, dx, in);
    if (dw)
        /* dW (+)= dyᵀ · x      [out][in] (+)= [out][n] · [n][in] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                    out, in, n, 1.0f, dy, out, x, in, dw_add ? 1.0f : 0.0f, dw, in);
    if (db)
        for (int o = 0; o < out; o++) {
            float s = 0.0f;
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + o];
            db[o] += s;
        }
}

/* ---- naive reference ---------------------------------------------------- */

void cnnrt_dense_forward_ref(float *y, const float *x, const float *w,
                             const float *b, int n, int in, int out)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int k = 0; k < in; k++)
                s += (double)x[(size_t)i * in + k] * w[(size_t)o * in + k];
            y[(size_t)i * out + o] = (float)s;
        }
}

void cnnrt_dense_backward_ref(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w,
                              int n, int in, int out)
{
    /* differentiates:  y[i][o] = b[o] + Σ_k x[i][k] · w[o][k] */
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            const float d = dy[(size_t)i * out + o];
            if (db)
                db[o] += d;
            for (int k = 0; k < in; k++) {
                if (dx)
                    dx[(size_t)i * in + k] += d * w[(size_t)o * in + k];
                if (dw)
                    dw[(size_t)o * in + k] += d * x[(size_t)i * in + k];
            }
        }
}
