/*
 * conv_direct.h — internal to cnnrt: the two convolution implementations
 * behind cnnrt_conv2d_forward / cnnrt_conv2d_backward, callable one by one
 * so the tests can hold each against the naive reference.
 *
 *   gemm    im2col + sgemm (conv.c): every geometry, every CPU.
 *   direct  register-blocked AVX-512 loops over zero-padded "wide" planes
 *           (conv_direct.c), CPUs with AVX-512F.  Stride-1 convs: the
 *           forward pass, dx (dy convolved with the flipped kernel) and
 *           dW (dot products of dy with shifted x), all three with
 *           Winograd's minimal filtering along the rows for 3-row
 *           kernels of 24 channels or more and 5-row kernels of 16;
 *           strided convs: the forward pass.
 *
 * The public functions take the direct path whenever it applies.
 */
#ifndef CNNRT_CONV_DIRECT_H
#define CNNRT_CONV_DIRECT_H

#include "cnnrt.h"

/* 1 when the direct forward (resp. dx) applies to g on this CPU. */
int cnnrt_direct_forward_ok(const cnnrt_conv_geom *g);
int cnnrt_direct_dx_ok(const cnnrt_conv_geom *g);
int cnnrt_direct_dw_ok(const cnnrt_conv_geom *g);

/* Floats of scratch the direct kernels need for g (any batch). */
size_t cnnrt_direct_scratch_floats(const cnnrt_conv_geom *g);

/* y = conv(x, w) + b.  Only when cnnrt_direct_forward_ok(g). */
void cnnrt_direct_forward(float *y, const float *x, const float *w, const float *b,
                          float *scratch, int n, const cnnrt_conv_geom *g);

/* dx += conv(dy, flipped w), or dx = when add is 0.  Only when cnnrt_direct_dx_ok(g). */
void cnnrt_direct_dx(float *dx, int add, const float *dy, const float *w,
                     float *scratch, int n, const cnnrt_conv_geom *g);

/* dw += the weight gradient, and db += the bias gradient (db may be
 * NULL).  Only when cnnrt_direct_dw_ok(g). */
void cnnrt_direct_dw(float *dw, float *db, const float *dy, const float *x, float *scratch, int n,
                     const cnnrt_conv_geom *g);

/* The same with dW tile shape `shape` (0: 4 channels × 5 taps, 1: 6 × 3,
 * 2: 7 × 3, 3: 5 × 5), without Winograd rows; < 0: what cnnrt_direct_dw
 * does (Winograd rows where they apply, else the shape it picks).  For
 * tests and benchmarks. */
void cnnrt_direct_dw_shape(float *dw, float *db, const float *dy, const float *x, float *scratch, int n,
                           const cnnrt_conv_geom *g, int shape);

/* The im2col + sgemm implementation, whatever the geometry and CPU. */
void cnnrt_gemm_conv_forward(float *y, const float *x, const float *w, const float *b,
                             float *scratch, int n, const cnnrt_conv_geom *g);
void cnnrt_gemm_conv_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                              const float *w, float *scratch, int n, const cnnrt_conv_geom *g);

#endif
