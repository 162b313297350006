/*
 * loss.c — losses.  Each returns the scalar loss and writes (=) its
 * gradient: a loss starts the backward pass.
 *
 * Shape legend
 *   n        batch
 *   K        classes
 *   logits, dlogits [n][K]    labels [n]
 *   y, target, dy   [count]
 */
#include "cnnrt.h"

#include <math.h>

float cnnrt_softmax_xent(float *dlogits,        /* [n][K] written, or NULL */
                         const float *logits,   /* [n][K] */
                         const int32_t *labels, /* [n] in [0, K) */
                         float label_smoothing, int n, int K)
{
    /* loss_i = −Σ_k q_k log p_k,  q = (1−ε)·onehot(label) + ε/K,
     * log p_k = x_k − m − log Σ_j e^{x_j − m}   (m = max_j x_j);
     * L = mean_i loss_i;   dL/dx_k = (p_k − q_k) / n */
    const double eps = label_smoothing, off = eps / K;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * K;
        const int y = labels[i];
        double m = x[0];
        for (int k = 1; k < K; k++)
            m = x[k] > m ? x[k] : m;
        double s = 0.0, sumx = 0.0;
        for (int k = 0; k < K; k++) {
            s += exp((double)x[k] - m);
            sumx += (double)x[k] - m;
        }
        const double lse = log(s);
        /* −log p_y and the uniform part −(1/K)·Σ_k log p_k */
        const double nll = lse - ((double)x[y] - m);
        const double smooth = lse - sumx / K;
        total += (1.0 - eps) * nll + eps * smooth;
        if (dlogits) {
            float *d = dlogits + (size_t)i * K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)x[k] - m - lse);
                double q = off + (k == y ? 1.0 - eps : 0.0);
                d[k] = (float)((p - q) / n);
            }
        }
    }
    return (float)(total / n);
}

float cnnrt_mse(float *dy,                      /* [count] written, or NULL */
                const float *y,                 /* [count] */
                const float *target,            /* [count] */
                size_t count)
{
    /* L = Σ (y − t)² / count;  dL/dy = 2(y − t) / count */
    double total = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)y[i] - target[i];
        total += d * d;
        if (dy)
            dy[i] = (float)(2.0 * d / (double)count);
    }
    return (float)(total / (double)count);
}
