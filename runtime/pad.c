/*
 * pad.c — padding [n][C][H][W] to [n][C][H+PT+PB][W+PL+PR], forward and
 * backward (each output's gradient added to the input value it copies).
 *
 * mode 0: zeros; 1: reflect (PyTorch's: the edge is not repeated, so
 * each amount is below the size); 2: replicate (the edge repeated).
 */
#include "cnnrt.h"

/* the input index output index o reads along one axis, or -1 (a zero) */
static int pad_src(int o, int pad, int len, int mode)
{
    int i = o - pad;
    if (i >= 0 && i < len) return i;
    if (mode == 1) return i < 0 ? -i : 2 * (len - 1) - i;
    if (mode == 2) return i < 0 ? 0 : len - 1;
    return -1;
}

void cnnrt_pad_forward(float *y, const float *x, int n, int C, int H, int W, int PT, int PB, int PL, int PR,
                       int mode)
{
    const int OH = H + PT + PB, OW = W + PL + PR;
    for (size_t p = 0; p < (size_t)n * C; p++)
        for (int oy = 0; oy < OH; oy++) {
            const int iy = pad_src(oy, PT, H, mode);
            for (int ox = 0; ox < OW; ox++) {
                const int ix = pad_src(ox, PL, W, mode);
                y[(p * OH + oy) * OW + ox] = iy < 0 || ix < 0 ? 0.0f : x[(p * H + iy) * W + ix];
            }
        }
}

void cnnrt_pad_backward(float *dx, const float *dy, int n, int C, int H, int W, int PT, int PB, int PL, int PR,
                        int mode)
{
    /* differentiates:  y[oy][ox] = x[src(oy)][src(ox)] (or 0) */
    const int OH = H + PT + PB, OW = W + PL + PR;
    for (size_t p = 0; p < (size_t)n * C; p++)
        for (int oy = 0; oy < OH; oy++) {
            const int iy = pad_src(oy, PT, H, mode);
            if (iy < 0) continue;
            for (int ox = 0; ox < OW; ox++) {
                const int ix = pad_src(ox, PL, W, mode);
                if (ix >= 0) dx[(p * H + iy) * W + ix] += dy[(p * OH + oy) * OW + ox];
            }
        }
}
