/*
 * cnnrt_priv.h — internal to cnnrt: backward kernels that may overwrite
 * their input gradient, and fused kernels.
 *
 * The public backward kernels add (+=) into dx, so a caller zeroes every
 * gradient buffer first.  The executor (net.c) knows which buffers have had
 * no contribution yet in a backward pass: for those it passes dx_add = 0,
 * the kernel writes (=), and the zeroing pass and the reading of the zeros
 * are saved (a tenth of a ResNet-20 training step).  dx_add = 1 is the
 * public kernel exactly.
 */
#ifndef CNNRT_PRIV_H
#define CNNRT_PRIV_H

#include "cnnrt.h"

void cnnrt_conv2d_backward_ex(float *dx, int dx_add, float *dw, float *db, const float *dy, const float *x,
                              const float *w, float *scratch, int n, const cnnrt_conv_geom *g);

/* Batch norm followed by a relu, fused (the executor's PLAN_BNRELU): the
 * forward pass with relu = 1 writes relu(y); the backward pass with relu_y
 * (that output) takes 0 where relu_y ≤ 0 and dy elsewhere (NaN included),
 * the relu's backward.  Both give the bits of the two ops run one after the other;
 * relu = 0 and relu_y = NULL are the plain batch norm. */
void cnnrt_batchnorm_forward_train_ex(float *y, float *running_mean, float *running_var, float *save_mean,
                                      float *save_invstd, const float *x, const float *gamma, const float *beta,
                                      float eps, float momentum, int n, int C, int HW, int relu);

void cnnrt_batchnorm_backward_train_ex(float *dx, int dx_add, float *dgamma, float *dbeta, const float *dy,
                                       const float *relu_y, const float *x, const float *save_mean,
                                       const float *save_invstd, const float *gamma, int n, int C, int HW);

/* dw_add = 0: dW is written (=), not added to (db is always added to). */
void cnnrt_dense_backward_ex(float *dx, int dx_add, float *dw, int dw_add, float *db, const float *dy,
                             const float *x, const float *w, int n, int in, int out);

/* Max pool backward, dx_add = 0 writes dx (=): every element, the window
 * maxima dy and the rest 0.  Any geometry (windows that do not tile the
 * input exactly: dx is zeroed, then added to). */
void cnnrt_maxpool2d_backward_ex(float *dx, int dx_add, const float *dy, const int32_t *argmax, int n,
                                 const cnnrt_pool_geom *g);

#endif
