/*
 * convt.c — transposed convolution (PyTorch's ConvTranspose2d), as the
 * convolution whose data gradient it is.
 *
 * g describes that convolution: its input is the transposed conv's output
 * (C channels of H×W) and its output the transposed conv's input (Cout
 * channels of OH×OW); the weight [Cout][C/groups][KH][KW] is the transposed
 * conv's own [in][out/groups][KH][KW], PyTorch's layout.  So forward is the
 * conv's backward to its input, backward to the input is the conv's
 * forward, and the weight gradient is the conv's with input and output
 * gradient exchanged.  output_padding is the rows and columns of g's input
 * that no window reaches (it must be below the stride).
 */
#include "cnnrt.h"
#include "cnnrt_priv.h"

#include <string.h>

void cnnrt_conv_transpose2d_forward(float *y,          /* [n][g->C][g->H][g->W] */
                                    const float *x,    /* [n][g->Cout][g->OH][g->OW] */
                                    const float *w,    /* [g->Cout][g->C/groups][KH][KW] */
                                    const float *b,    /* [g->C] or NULL */
                                    float *scratch, int n, const cnnrt_conv_geom *g)
{
    cnnrt_conv2d_backward_ex(y, 0, NULL, NULL, x, NULL, w, scratch, n, g);
    if (!b) return;
    const size_t hw = (size_t)g->H * g->W;
    for (size_t p = 0; p < (size_t)n * g->C; p++) {
        float *yp = y + p * hw;
        const float bc = b[p % (size_t)g->C];
        for (size_t i = 0; i < hw; i++) yp[i] += bc;
    }
}

void cnnrt_conv_transpose2d_backward(float *dx,        /* like x, or NULL; += if dx_add, else = */
                                     int dx_add,
                                     float *dw,        /* like w += , or NULL */
                                     float *db,        /* [g->C] += , or NULL */
                                     const float *dy,  /* like y */
                                     const float *x, const float *w,
                                     float *scratch, float *tmp,   /* tmp: like x, when dx_add */
                                     int n, const cnnrt_conv_geom *g)
{
    /* differentiates:  y = convᵀ(x) + b, i.e. y = ∂conv/∂input applied to x */
    if (dx) {
        const size_t cnt = (size_t)n * g->Cout * g->OH * g->OW;
        cnnrt_conv2d_forward(dx_add ? tmp : dx, dy, w, NULL, scratch, n, g);
        if (dx_add)
            for (size_t i = 0; i < cnt; i++) dx[i] += tmp[i];
    }
    if (dw) cnnrt_conv2d_backward_ex(NULL, 0, dw, NULL, x, dy, w, scratch, n, g);
    if (db) {
        const size_t hw = (size_t)g->H * g->W;
        for (size_t p = 0; p < (size_t)n * g->C; p++) {
            double s = 0;
            for (size_t i = 0; i < hw; i++) s += dy[p * hw + i];
            db[p % (size_t)g->C] += (float)s;
        }
    }
}
