/*
 * channels.c — moving whole channels: ShuffleNet's channel shuffle and a
 * slice of the channels (its channel split).  Pure data movement, forward
 * and backward (the adjoint: the inverse permutation, the slice added back).
 *
 * Shape legend
 *   n, C, HW     an input [n][C][HW]
 *   g            shuffle groups: C = g·(C/g)
 *   first, len   the slice's channels [first, first + len)
 */
#include "cnnrt.h"

#include <string.h>

/* output channel j·g + i is input channel i·(C/g) + j */
void cnnrt_channel_shuffle_forward(float *y,         /* [n][C][HW] */
                                   const float *x,   /* [n][C][HW] */
                                   int n, int C, int HW, int g)
{
    const int cg = C / g;
    const size_t img = (size_t)C * HW, row = (size_t)HW * sizeof(float);
    for (int s = 0; s < n; s++)
        for (int i = 0; i < g; i++)
            for (int j = 0; j < cg; j++)
                memcpy(y + s * img + (size_t)(j * g + i) * HW, x + s * img + (size_t)(i * cg + j) * HW, row);
}

void cnnrt_channel_shuffle_backward(float *dx,       /* [n][C][HW] += */
                                    const float *dy, /* [n][C][HW] */
                                    int n, int C, int HW, int g)
{
    /* differentiates:  y[j·g + i] = x[i·(C/g) + j] */
    const int cg = C / g;
    const size_t img = (size_t)C * HW;
    for (int s = 0; s < n; s++)
        for (int i = 0; i < g; i++)
            for (int j = 0; j < cg; j++) {
                float *d = dx + s * img + (size_t)(i * cg + j) * HW;
                const float *e = dy + s * img + (size_t)(j * g + i) * HW;
                for (int p = 0; p < HW; p++) d[p] += e[p];
            }
}

void cnnrt_channel_slice_forward(float *y,           /* [n][len][HW] */
                                 const float *x,     /* [n][C][HW] */
                                 int n, int C, int HW, int first, int len)
{
    for (int s = 0; s < n; s++)
        memcpy(y + (size_t)s * len * HW, x + ((size_t)s * C + first) * HW, (size_t)len * HW * sizeof(float));
}

void cnnrt_channel_slice_backward(float *dx,         /* [n][C][HW] += (the slice only) */
                                  const float *dy,   /* [n][len][HW] */
                                  int n, int C, int HW, int first, int len)
{
    /* differentiates:  y = x[:, first : first + len] */
    const size_t cnt = (size_t)len * HW;
    for (int s = 0; s < n; s++) {
        float *d = dx + ((size_t)s * C + first) * HW;
        const float *e = dy + (size_t)s * cnt;
        for (size_t p = 0; p < cnt; p++) d[p] += e[p];
    }
}
