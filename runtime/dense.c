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
#include "cnnrt_par.h"

#include <cblas.h>

/* A product worth sharing over threads (cnnrt_par.h): each thread runs
 * OpenBLAS on its rows of the result. */
static int par_worth(int n, int in, int out)
{
    return (size_t)n * in * out >= PAR_MIN * 16;
}

void cnnrt_dense_forward(float *y,             /* [n][out] */
                         const float *x,       /* [n][in] */
                         const float *w,       /* [out][in] */
                         const float *b,       /* [out] or NULL */
                         int n, int in, int out)
{
#pragma omp parallel if (par_worth(n, in, out))
    {
        size_t i0, i1;                            /* this thread's images */
        par_share((size_t)n, 1, &i0, &i1);
        const int m = (int)(i1 - i0);
        /* y = x · Wᵀ      [m][out] = [m][in] · [in][out] */
        if (m > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        m, out, in, 1.0f, x + i0 * in, in, w, in, 0.0f, y + i0 * out, out);
        if (b)
            for (size_t i = i0; i < i1; i++)
                for (int o = 0; o < out; o++)
                    y[i * out + o] += b[o];
    }
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
#pragma omp parallel if (par_worth(n, in, out))
    {
        size_t i0, i1, o0, o1;                    /* this thread's images; its outputs */
        par_share((size_t)n, 1, &i0, &i1);
        par_share((size_t)out, 16, &o0, &o1);
        if (dx && i1 > i0)
            /* dx (+)= dy · W      [m][in] (+)= [m][out] · [out][in], the thread's m images */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                        (int)(i1 - i0), in, out, 1.0f, dy + i0 * out, out, w, in, dx_add ? 1.0f : 0.0f,
                        dx + i0 * in, in);
        if (dw && o1 > o0)
            /* dW (+)= dyᵀ · x      [o1−o0][in] (+)= [o1−o0][n] · [n][in], the thread's rows of dW */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                        (int)(o1 - o0), in, n, 1.0f, dy + o0, out, x, in, dw_add ? 1.0f : 0.0f, dw + o0 * in, in);
        if (db)
            for (size_t o = o0; o < o1; o++) {
                float s = 0.0f;
                for (int i = 0; i < n; i++)
                    s += dy[(size_t)i * out + o];
                db[o] += s;
            }
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
