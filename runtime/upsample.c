/*
 * upsample.c — nearest and bilinear upsampling of [n][C][H][W] to
 * [n][C][OH][OW], forward and backward (the adjoint: each output's gradient
 * added back to the input pixels it was made from, by their weights).
 *
 * Source coordinates as PyTorch computes them in float
 * (area_pixel_compute_source_index): with r = in/out (or, align_corners,
 * (in − 1)/(out − 1), 0 for one output), nearest reads floor(dst·r)
 * (at most in − 1); bilinear reads src = (dst + ½)·r − ½ clamped at 0 (or
 * dst·r), between i0 = ⌊src⌋ and i0 + 1 (i0 itself at the last row),
 * weights 1 − (src − i0) and src − i0.
 */
#include "cnnrt.h"

#include <math.h>

static float up_ratio(int in, int out, int align)
{
    if (align) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return (float)in / (float)out;
}

/* the two source indices and the second one's weight of output index dst */
static void up_src(int dst, int in, float r, int bilinear, int align, int *i0, int *i1, float *l1)
{
    if (!bilinear) {
        int s = (int)floorf((float)dst * r);
        *i0 = *i1 = s < in - 1 ? s : in - 1;
        *l1 = 0.0f;
        return;
    }
    float src = align ? (float)dst * r : r * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int)src;
    *i1 = *i0 + (*i0 < in - 1 ? 1 : 0);
    *l1 = src - (float)*i0;
}

void cnnrt_upsample_forward(float *y,          /* [n][C][OH][OW] */
                            const float *x,    /* [n][C][H][W] */
                            int n, int C, int H, int W, int OH, int OW, int bilinear, int align)
{
    const float rh = up_ratio(H, OH, align), rw = up_ratio(W, OW, align);
    for (int oy = 0; oy < OH; oy++) {
        int y0, y1, x0, x1;
        float ly, lx;
        up_src(oy, H, rh, bilinear, align, &y0, &y1, &ly);
        for (int ox = 0; ox < OW; ox++) {
            up_src(ox, W, rw, bilinear, align, &x0, &x1, &lx);
            for (size_t p = 0; p < (size_t)n * C; p++) {
                const float *xp = x + p * H * W;
                float v = xp[y0 * W + x0];
                if (bilinear)
                    v = (1.0f - ly) * ((1.0f - lx) * xp[y0 * W + x0] + lx * xp[y0 * W + x1]) +
                        ly * ((1.0f - lx) * xp[y1 * W + x0] + lx * xp[y1 * W + x1]);
                y[p * OH * OW + (size_t)oy * OW + ox] = v;
            }
        }
    }
}

void cnnrt_upsample_backward(float *dx,        /* [n][C][H][W] += */
                             const float *dy,  /* [n][C][OH][OW] */
                             int n, int C, int H, int W, int OH, int OW, int bilinear, int align)
{
    /* differentiates:  y = Σ over the (up to four) source pixels of weight · x */
    const float rh = up_ratio(H, OH, align), rw = up_ratio(W, OW, align);
    for (int oy = 0; oy < OH; oy++) {
        int y0, y1, x0, x1;
        float ly, lx;
        up_src(oy, H, rh, bilinear, align, &y0, &y1, &ly);
        for (int ox = 0; ox < OW; ox++) {
            up_src(ox, W, rw, bilinear, align, &x0, &x1, &lx);
            for (size_t p = 0; p < (size_t)n * C; p++) {
                float *d = dx + p * H * W;
                const float g = dy[p * OH * OW + (size_t)oy * OW + ox];
                if (!bilinear) {
                    d[y0 * W + x0] += g;
                    continue;
                }
                d[y0 * W + x0] += (1.0f - ly) * (1.0f - lx) * g;
                d[y0 * W + x1] += (1.0f - ly) * lx * g;
                d[y1 * W + x0] += ly * (1.0f - lx) * g;
                d[y1 * W + x1] += ly * lx * g;
            }
        }
    }
}
