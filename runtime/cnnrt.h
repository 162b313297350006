/*
 * cnnrt.h — the cnnc runtime: training kernels, losses and optimizers.
 *
 * This header is the contract.  Every public name starts with cnnrt_ / CNNRT_.
 *
 * Layout: NCHW float32 throughout.  Conv weight [Cout][C/groups][KH][KW],
 * dense weight [out][in], flatten order C,H,W — PyTorch's, so state dicts
 * map over without renaming.
 *
 * Kernel contract (every cnnrt_*_forward / *_backward):
 *   - arguments in the order: outputs, saved values for backward, inputs,
 *     parameters, scratch, geometry (sizes last);
 *   - forward kernels overwrite (=) their outputs;
 *   - backward kernels ACCUMULATE (+=) into every gradient buffer, so the
 *     caller zeroes gradients once per step; a NULL gradient pointer means
 *     "not needed" and that gradient is not computed;
 *   - kernels never allocate, print, exit, do file I/O or keep static state,
 *     and never modify their inputs (not even temporarily): they are
 *     re-entrant and may run concurrently on disjoint outputs.  State that
 *     a kernel advances (running BN statistics, the dropout RNG, optimizer
 *     moments) is passed in explicitly and is documented as an output.
 *   - buffers passed as outputs must not alias inputs unless stated.
 *
 * Sizes are int for tensor extents (a single tensor dimension) and size_t
 * for element counts of whole blocks.
 *
 * Thread contract: the library has no global state.  A kernel shares its
 * work over the calling thread's OpenMP team (omp_set_num_threads,
 * OMP_NUM_THREADS), each output computed by one thread in the same order
 * whatever the count: cnnrt's own loops give the same bits on any count.
 * The kernels call OpenBLAS from inside that team, on each thread's share
 * of a product (dense, the im2col path), which agrees to float rounding
 * (OpenBLAS picks its kernels by size).  Run OpenBLAS on one thread, or
 * both pools spin on the same cores.
 * cnnrt_set_threads(n) sets both.  Link with -fopenmp.
 */
#ifndef CNNRT_H
#define CNNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes of the few functions that can fail (geometry helpers). */
enum { CNNRT_OK = 0, CNNRT_EINVAL = 1 };

/* ==================================================================== shape.c
 * PyTorch's output size of a window op along one axis (cnnc uses it too):
 *   floor((in + pad_lo + pad_hi − dil·(k−1) − 1) / stride) + 1,
 * or with ceil_mode (pools) the same rounded up, less one when the last
 * window would start past the input and its left padding.
 * Returns a value < 1 when the window does not fit (or stride < 1). */
long long cnnrt_out_size(long long in, long long pad_lo, long long pad_hi, long long k, long long stride,
                         long long dil, int ceil_mode);

/* ==================================================================== conv.c
 * 2-D convolution, training forward/backward.  Two fast paths, chosen per
 * pass: on a CPU with AVX-512F, direct register-blocked kernels over
 * zero-padded rows (conv_direct.c) for stride-1 convs and the forward pass
 * of strided ones, with Winograd's minimal filtering along the kernel's
 * rows for 3-row kernels of 24 channels or more and 5-row kernels of 16
 * (a third or two fifths fewer multiplications; the 5-row one rounds about
 * three times as much as a plain sum, some 7e-7 relative); otherwise
 * im2col of a chunk of images (sized to the cache) + one sgemm per chunk
 * and group.
 * A naive reference sits beside them.
 *
 * Fill every field except OH/OW, then call cnnrt_conv_geom_finish, which
 * validates the geometry and fills OH/OW.  Padding may be asymmetric
 * (PyTorch's "same" with an even kernel pads the extra row/column at the
 * bottom/right: pt = (K−1)/2, pb = K−1−pt).  Nothing defaults: strides,
 * dilations and groups must be ≥ 1. */
typedef struct cnnrt_conv_geom {
    int C, H, W;            /* input channels, height, width */
    int Cout;               /* output channels */
    int KH, KW;             /* kernel height, width */
    int SH, SW;             /* strides */
    int PT, PL, PB, PR;     /* zero padding top, left, bottom, right */
    int DH, DW;             /* dilations */
    int groups;             /* C and Cout divisible by groups; depthwise: groups == C */
    int OH, OW;             /* output size, filled by cnnrt_conv_geom_finish */
} cnnrt_conv_geom;

/* Validates g and fills g->OH, g->OW.  CNNRT_OK or CNNRT_EINVAL. */
int cnnrt_conv_geom_finish(cnnrt_conv_geom *g);

/* Floats of scratch the fast conv kernels need (forward and backward) for
 * batches of up to n images: for a chunk of m ≤ n images (as many as fit
 * about 1 MiB, at least one), one group's im2col matrix and output,
 * m·((C/groups)·KH·KW + Cout/groups)·OH·OW, or for a stride-1 conv at
 * least one image's im2col of dy, (Cout/groups)·KH·KW·H·W; then the
 * weights once more, Cout·(C/groups)·KH·KW.  Scratch sized for n serves
 * every batch of n or fewer images.  Never 0. */
size_t cnnrt_conv_scratch_floats(const cnnrt_conv_geom *g, int n);

void cnnrt_conv2d_forward(float *y,            /* [n][Cout][OH][OW] */
                          const float *x,      /* [n][C][H][W] */
                          const float *w,      /* [Cout][C/groups][KH][KW] */
                          const float *b,      /* [Cout] or NULL (no bias) */
                          float *scratch,      /* cnnrt_conv_scratch_floats(g, ≥ n) */
                          int n, const cnnrt_conv_geom *g);

void cnnrt_conv2d_backward(float *dx,          /* [n][C][H][W] += , or NULL */
                           float *dw,          /* [Cout][C/groups][KH][KW] += , or NULL */
                           float *db,          /* [Cout] += , or NULL */
                           const float *dy,    /* [n][Cout][OH][OW] */
                           const float *x,     /* [n][C][H][W] forward input (may be NULL if dw is NULL) */
                           const float *w,     /* [Cout][C/groups][KH][KW] */
                           float *scratch,     /* cnnrt_conv_scratch_floats(g, ≥ n) */
                           int n, const cnnrt_conv_geom *g);

/* Naive direct loops, for tests. Same contracts, no scratch. */
void cnnrt_conv2d_forward_ref(float *y, const float *x, const float *w,
                              const float *b, int n, const cnnrt_conv_geom *g);
void cnnrt_conv2d_backward_ref(float *dx, float *dw, float *db,
                               const float *dy, const float *x, const float *w,
                               int n, const cnnrt_conv_geom *g);

/* =================================================================== dense.c
 * y = x·Wᵀ + b, W [out][in]. */
void cnnrt_dense_forward(float *y,             /* [n][out] */
                         const float *x,       /* [n][in] */
                         const float *w,       /* [out][in] */
                         const float *b,       /* [out] or NULL */
                         int n, int in, int out);
void cnnrt_dense_backward(float *dx,           /* [n][in] += , or NULL */
                          float *dw,           /* [out][in] += , or NULL */
                          float *db,           /* [out] += , or NULL */
                          const float *dy,     /* [n][out] */
                          const float *x,      /* [n][in] (may be NULL if dw is NULL) */
                          const float *w,      /* [out][in] */
                          int n, int in, int out);
void cnnrt_dense_forward_ref(float *y, const float *x, const float *w,
                             const float *b, int n, int in, int out);
void cnnrt_dense_backward_ref(float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w,
                              int n, int in, int out);

/* ==================================================================== pool.c
 * Max and average pooling with PyTorch semantics (symmetric padding P on
 * each side, pad ≤ kernel/2).  Ceil mode: the output grows by one when the
 * division rounds up, but the last window must start inside the input or
 * the left/top padding.  Fill all fields but OH/OW, then call
 * cnnrt_pool_geom_finish. */
typedef struct cnnrt_pool_geom {
    int C, H, W;
    int KH, KW;
    int SH, SW;
    int PH, PW;             /* padding on each side (top=bottom=PH, left=right=PW) */
    int ceil_mode;          /* 0 or 1 */
    int count_include_pad;  /* avg pool only; PyTorch's default is 1 */
    int OH, OW;             /* filled by cnnrt_pool_geom_finish */
} cnnrt_pool_geom;

int cnnrt_pool_geom_finish(cnnrt_pool_geom *g);

/* Max pool.  argmax holds, for every output, the index h·W+w of the chosen
 * input in its H×W plane (PyTorch's convention); ties keep the first.  NaN
 * propagates as in PyTorch: a window holding a NaN gives NaN, its argmax the
 * last NaN in row-major order (PyTorch's test is v > max || isnan(v)), and
 * backward sends dy there.  A global max pool is the window H×W. */
void cnnrt_maxpool2d_forward(float *y,         /* [n][C][OH][OW] */
                             int32_t *argmax,  /* [n][C][OH][OW] saved */
                             const float *x,   /* [n][C][H][W] */
                             int n, const cnnrt_pool_geom *g);
void cnnrt_maxpool2d_backward(float *dx,       /* [n][C][H][W] += */
                              const float *dy, /* [n][C][OH][OW] */
                              const int32_t *argmax, /* [n][C][OH][OW] */
                              int n, const cnnrt_pool_geom *g);

/* Average pool.  Divisor as PyTorch: with count_include_pad, the window
 * clipped to the padded input (so a ceil-mode window hanging past the
 * padding counts fewer); without, the in-image elements only. */
void cnnrt_avgpool2d_forward(float *y,         /* [n][C][OH][OW] */
                             const float *x,   /* [n][C][H][W] */
                             int n, const cnnrt_pool_geom *g);
void cnnrt_avgpool2d_backward(float *dx,       /* [n][C][H][W] += */
                              const float *dy, /* [n][C][OH][OW] */
                              int n, const cnnrt_pool_geom *g);

/* Adaptive average pool (PyTorch): output cell i covers
 * [floor(i·H/OH), ceil((i+1)·H/OH)), likewise for columns. */
void cnnrt_adaptive_avgpool2d_forward(float *y,       /* [n][C][OH][OW] */
                                      const float *x, /* [n][C][H][W] */
                                      int n, int C, int H, int W, int OH, int OW);
void cnnrt_adaptive_avgpool2d_backward(float *dx,      /* [n][C][H][W] += */
                                       const float *dy, /* [n][C][OH][OW] */
                                       int n, int C, int H, int W, int OH, int OW);

/* Global average pool: y[n][C] = mean over H·W. */
void cnnrt_global_avgpool_forward(float *y,           /* [n][C] */
                                  const float *x,     /* [n][C][HW] */
                                  int n, int C, int HW);
void cnnrt_global_avgpool_backward(float *dx,         /* [n][C][HW] += */
                                   const float *dy,   /* [n][C] */
                                   int n, int C, int HW);

/* ===================================================================== vol.c
 * The 3-D layers of volumes [n][C][D][H][W] (PyTorch's Conv3d, MaxPool3d,
 * AvgPool3d, AdaptiveAvgPool3d), with the same rules as their 2-D
 * counterparts above, one more axis in front.  Fill every field but the
 * outputs, then call the geometry's _finish, which validates it and fills
 * OD, OH, OW (CNNRT_OK or CNNRT_EINVAL). */
typedef struct cnnrt_conv3d_geom {
    int C, D, H, W;         /* input channels, depth, height, width */
    int Cout;
    int KD, KH, KW;
    int SD, SH, SW;
    int PD0, PH0, PW0;      /* zeros before (front, top, left) */
    int PD1, PH1, PW1;      /* zeros after (back, bottom, right) */
    int DD, DH, DW;         /* dilations */
    int groups;
    int OD, OH, OW;         /* filled by cnnrt_conv3d_geom_finish */
} cnnrt_conv3d_geom;

int cnnrt_conv3d_geom_finish(cnnrt_conv3d_geom *g);
/* Floats of scratch for batches of up to n images (one image's im2col: the
 * same for every n; never 0).  _finish also refuses a geometry whose
 * im2col rows or columns overflow an int. */
size_t cnnrt_conv3d_scratch_floats(const cnnrt_conv3d_geom *g, int n);
void cnnrt_conv3d_forward(float *y,             /* [n][Cout][OD][OH][OW] */
                          const float *x,       /* [n][C][D][H][W] */
                          const float *w,       /* [Cout][C/groups][KD][KH][KW] */
                          const float *b,       /* [Cout] or NULL */
                          float *scratch, int n, const cnnrt_conv3d_geom *g);
void cnnrt_conv3d_backward(float *dx,           /* [n][C][D][H][W] += , or NULL */
                           float *dw,           /* += , or NULL */
                           float *db,           /* [Cout] += , or NULL */
                           const float *dy, const float *x, const float *w,
                           float *scratch, int n, const cnnrt_conv3d_geom *g);

/* Pooling: padding P on each side of an axis, pad ≤ kernel/2; ceil mode as
 * cnnrt_pool_geom.  A max pool's argmax is the index (d·H + h)·W + w in
 * the input volume (PyTorch's), ties keep the first, NaN wins as in 2-D;
 * _finish refuses a volume of more than 2^31 − 1 values. */
typedef struct cnnrt_pool3d_geom {
    int C, D, H, W;
    int KD, KH, KW;
    int SD, SH, SW;
    int PD, PH, PW;
    int ceil_mode, count_include_pad;
    int OD, OH, OW;         /* filled by cnnrt_pool3d_geom_finish */
} cnnrt_pool3d_geom;

int cnnrt_pool3d_geom_finish(cnnrt_pool3d_geom *g);
void cnnrt_maxpool3d_forward(float *y, int32_t *argmax, const float *x, int n, const cnnrt_pool3d_geom *g);
void cnnrt_maxpool3d_backward(float *dx, const float *dy, const int32_t *argmax, int n,
                              const cnnrt_pool3d_geom *g);   /* dx += */
void cnnrt_avgpool3d_forward(float *y, const float *x, int n, const cnnrt_pool3d_geom *g);
void cnnrt_avgpool3d_backward(float *dx, const float *dy, int n, const cnnrt_pool3d_geom *g);  /* dx += */
/* Adaptive average pool over the three axes: of g only C, D, H, W and OD,
 * OH, OW (each ≥ 1, given by the caller, no _finish); cell i of an axis
 * covers [floor(i·D/OD), ceil((i+1)·D/OD)).  The backward functions above
 * and below add to dx: the caller zeroes it first. */
void cnnrt_adaptive_avgpool3d_forward(float *y, const float *x, int n, const cnnrt_pool3d_geom *g);
void cnnrt_adaptive_avgpool3d_backward(float *dx, const float *dy, int n, const cnnrt_pool3d_geom *g);

/* ===================================================================== act.c
 * Elementwise activations over count elements, and softmax over rows.
 *
 * NaN and Inf propagate as in IEEE arithmetic and PyTorch, forward and
 * backward (x is the forward input, which relu's backward may replace by
 * its output y):
 *   relu        y = x < 0 ? 0 : x            relu(NaN) = NaN, relu(−Inf) = 0,
 *                                            relu(−0.0) = −0.0 (clamp_min)
 *               dx += x <= 0 ? 0 : dy        dy passes at a NaN (threshold_backward)
 *   leaky relu  y = x > 0 ? x : slope·x      NaN stays NaN
 *               dx += x > 0 ? dy : slope·dy  slope·dy at a NaN
 *   tanh, sigmoid  NaN → NaN, ±Inf → their limits
 *   softmax     a row holding a NaN or +Inf is all NaN (−Inf gives 0)
 * The batch norm fused with a relu (the plan's CNNRT_PLAN_BNRELU) and the
 * executor's in-place relus give the same bits. */
void cnnrt_relu_forward(float *y, const float *x, size_t count);
void cnnrt_relu_backward(float *dx, const float *dy, const float *x, size_t count);
void cnnrt_leaky_relu_forward(float *y, const float *x, float slope, size_t count);
void cnnrt_leaky_relu_backward(float *dx, const float *dy, const float *x,
                               float slope, size_t count);
/* tanh and sigmoid differentiate through their saved output y. */
void cnnrt_tanh_forward(float *y, const float *x, size_t count);
void cnnrt_tanh_backward(float *dx, const float *dy, const float *y, size_t count);
void cnnrt_sigmoid_forward(float *y, const float *x, size_t count);
void cnnrt_sigmoid_backward(float *dx, const float *dy, const float *y, size_t count);
/* Softmax along the D features of each of n rows (x, y [n][D]). */
void cnnrt_softmax_forward(float *y, const float *x, int n, int D);
void cnnrt_softmax_backward(float *dx, const float *dy, const float *y, int n, int D);

/* Explicit RNG state: PCG32 (XSH-RR), seeded through splitmix64.
 * Never shared implicitly: whoever owns the state owns the stream. */
typedef struct cnnrt_rng {
    uint64_t state;
    uint64_t inc;
} cnnrt_rng;
void cnnrt_rng_seed(cnnrt_rng *r, uint64_t seed);
uint32_t cnnrt_rng_u32(cnnrt_rng *r);
float cnnrt_rng_uniform(cnnrt_rng *r);          /* [0, 1), 24 random bits */
float cnnrt_rng_normal(cnnrt_rng *r);           /* N(0,1), Box–Muller */

/* A fresh parameter tensor as PyTorch initialises it, drawn from r: for a
 * conv or dense layer (fan_in = the weight's numel / out channels > 0) the
 * weight and the bias uniform in ±1/√fan_in; otherwise (fan_in 0, norms)
 * 1 for "weight" and "running_var", 0 for the rest.  cnnc and cnnrt both
 * initialise through this, tensor by tensor in layer order, so one seed
 * gives one set of weights everywhere. */
void cnnrt_init_tensor(float *dst, long numel, const char *suffix, long fan_in, cnnrt_rng *r);

/* Inverted dropout.  Training: each element is kept with probability 1−p
 * and scaled by 1/(1−p); mask receives the factor (0 or 1/(1−p)) applied.
 * Not training (or p == 0): y = x, mask filled with 1.  p == 1 zeroes all.
 * rng is advanced (one draw per element) only when training with p > 0. */
void cnnrt_dropout_forward(float *y,           /* [count] */
                           float *mask,        /* [count] saved */
                           const float *x,     /* [count] */
                           float p, int training, cnnrt_rng *rng, size_t count);
/* The same with one draw per block of `block` consecutive values, all kept
 * or all zeroed together: a channel of a signal, image or volume (PyTorch's
 * Dropout1d/2d/3d, block = its spatial size) or a whole sample (drop path,
 * torchvision's StochasticDepth in "row" mode, block = the sample's size).
 * block 1 is cnnrt_dropout_forward, draw for draw. */
void cnnrt_dropout_blocks_forward(float *y, float *mask, const float *x, float p, int training,
                                  cnnrt_rng *rng, size_t count, size_t block);
void cnnrt_dropout_backward(float *dx, const float *dy, const float *mask, size_t count);

/* Residual add y = a + b (y may alias a or b). */
void cnnrt_add_forward(float *y, const float *a, const float *b, size_t count);
void cnnrt_add_backward(float *da, float *db, const float *dy, size_t count);
/* y = a + s·b (may be in place): a difference (s = −1), a mean's terms (s = 1/N) */
void cnnrt_add_scaled(float *y, const float *a, const float *b, float s, size_t count);
void cnnrt_div(float *y, float d, size_t count);      /* y /= d: a mean's sum */

/* Channel concat of k NCHW inputs: xs[i] is [n][cs[i]][HW], y is
 * [n][Σcs][HW].  Backward: dxs[i] may be NULL (not needed). */
void cnnrt_concat_forward(float *y, const float *const *xs, const int *cs,
                          int k, int n, int HW);
void cnnrt_concat_backward(float *const *dxs, const float *dy, const int *cs,
                           int k, int n, int HW);

/* PReLU: y = x if x > 0 else a·x, with na = 1 slope or one per channel
 * (nn.PReLU); x, y [n][C][HW], y may be x (act.c).  Backward: dx += dy or
 * a·dy (dx may be NULL), da += Σ dy·x over x ≤ 0. */
void cnnrt_prelu_forward(float *y, const float *x, const float *a, int n, int C, int HW, int na);
void cnnrt_prelu_backward(float *dx, float *da, const float *dy, const float *x, const float *a,
                          int n, int C, int HW, int na);

/* y = a · b, b per channel (HWb = 1: broadcast over HW, a gate) or of a's
 * shape (HWb = HW); a, y [n][C][HW], b [n][C][HWb] (act.c).  Backward:
 * da += dy·b, db += Σ dy·a (over HW when broadcast); either may be NULL. */
void cnnrt_mul_forward(float *y, const float *a, const float *b, int n, int C, int HW, int HWb);
void cnnrt_mul_backward(float *da, float *db, const float *dy, const float *a, const float *b,
                        int n, int C, int HW, int HWb);

/* Upsampling x [n][C][H][W] to y [n][C][OH][OW], nearest (bilinear 0) or
 * bilinear, PyTorch's align_corners either way (upsample.c).  Backward
 * adds dy back into dx by the same weights. */
void cnnrt_upsample_forward(float *y, const float *x, int n, int C, int H, int W, int OH, int OW,
                            int bilinear, int align);
void cnnrt_upsample_backward(float *dx, const float *dy, int n, int C, int H, int W, int OH, int OW,
                             int bilinear, int align);

/* Padding x [n][C][H][W] by PT, PB rows and PL, PR columns: mode 0 zeros,
 * 1 reflect (each amount below the size), 2 replicate (pad.c).  Backward
 * adds each output's gradient to the input value it copies. */
void cnnrt_pad_forward(float *y, const float *x, int n, int C, int H, int W, int PT, int PB, int PL, int PR,
                       int mode);
void cnnrt_pad_backward(float *dx, const float *dy, int n, int C, int H, int W, int PT, int PB, int PL, int PR,
                        int mode);

/* Channel shuffle (ShuffleNet) of x [n][C][HW] in g groups: the channels
 * seen as [g][C/g], transposed; output channel j·g + i is input channel
 * i·(C/g) + j (channels.c).  Backward adds the inverse permutation of dy
 * into dx. */
void cnnrt_channel_shuffle_forward(float *y, const float *x, int n, int C, int HW, int g);
void cnnrt_channel_shuffle_backward(float *dx, const float *dy, int n, int C, int HW, int g);

/* A slice of the channels: y [n][len][HW] is x [n][C][HW]'s channels
 * [first, first + len).  Backward adds dy into that slice of dx. */
void cnnrt_channel_slice_forward(float *y, const float *x, int n, int C, int HW, int first, int len);
void cnnrt_channel_slice_backward(float *dx, const float *dy, int n, int C, int HW, int first, int len);

/* Flatten [n][C][H][W] → [n][C·H·W] is a no-op on NCHW memory: the same
 * buffer is reinterpreted and no kernel is needed.  These copy versions
 * exist for callers that want separate buffers. */
void cnnrt_flatten_forward(float *y, const float *x, size_t count);
void cnnrt_flatten_backward(float *dx, const float *dy, size_t count);

/* ==================================================================== norm.c
 * Batch norm over [n][C][HW] (BatchNorm2d; BatchNorm1d on [n][D] is HW = 1).
 * Training: normalise with batch mean and biased variance; save mean and
 * invstd = 1/sqrt(var+eps) per channel; if running_mean/var are non-NULL,
 * update them in place: r = (1−momentum)·r + momentum·batch, the running
 * variance with the unbiased batch variance (·M/(M−1), M = n·HW), exactly
 * as PyTorch.  gamma/beta NULL means affine=False. */
void cnnrt_batchnorm_forward_train(float *y,             /* [n][C][HW] */
                                   float *running_mean,  /* [C] in/out, or NULL */
                                   float *running_var,   /* [C] in/out, or NULL */
                                   float *save_mean,     /* [C] saved */
                                   float *save_invstd,   /* [C] saved */
                                   const float *x,       /* [n][C][HW] */
                                   const float *gamma,   /* [C] or NULL */
                                   const float *beta,    /* [C] or NULL */
                                   float eps, float momentum,
                                   int n, int C, int HW);
void cnnrt_batchnorm_backward_train(float *dx,           /* [n][C][HW] += , or NULL */
                                    float *dgamma,       /* [C] += , or NULL */
                                    float *dbeta,        /* [C] += , or NULL */
                                    const float *dy,     /* [n][C][HW] */
                                    const float *x,      /* [n][C][HW] */
                                    const float *save_mean,   /* [C] */
                                    const float *save_invstd, /* [C] */
                                    const float *gamma,  /* [C] or NULL */
                                    int n, int C, int HW);
/* Inference: y = γ(x−μ)/√(σ²+ε) + β with running statistics. */
void cnnrt_batchnorm_forward_infer(float *y, const float *x,
                                   const float *running_mean, const float *running_var,
                                   const float *gamma, const float *beta,
                                   float eps, int n, int C, int HW);
void cnnrt_batchnorm_backward_infer(float *dx, float *dgamma, float *dbeta,
                                    const float *dy, const float *x,
                                    const float *running_mean, const float *running_var,
                                    const float *gamma, float eps,
                                    int n, int C, int HW);

/* Layer norm over all D = C·H·W (or D) values of each sample, elementwise
 * affine gamma/beta [D] (NULL: no affine).  Saves mean and rstd per sample. */
void cnnrt_layernorm_forward(float *y,          /* [n][D] */
                             float *save_mean,  /* [n] */
                             float *save_rstd,  /* [n] */
                             const float *x,    /* [n][D] */
                             const float *gamma, const float *beta, /* [D] or NULL */
                             float eps, int n, int D);
void cnnrt_layernorm_backward(float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x,
                              const float *save_mean, const float *save_rstd,
                              const float *gamma, int n, int D);

/* Group norm: C channels in G groups, statistics per (sample, group) over
 * (C/G)·HW values, per-channel affine gamma/beta [C] (NULL: none).
 * save_mean/save_rstd are [n][G]. */
void cnnrt_groupnorm_forward(float *y, float *save_mean, float *save_rstd,
                             const float *x, const float *gamma, const float *beta,
                             float eps, int n, int C, int HW, int G);
void cnnrt_groupnorm_backward(float *dx, float *dgamma, float *dbeta,
                              const float *dy, const float *x,
                              const float *save_mean, const float *save_rstd,
                              const float *gamma, int n, int C, int HW, int G);

/* Instance norm (InstanceNorm2d, no running stats): group norm with G = C.
 * Affine optional (NULL gamma/beta: PyTorch's default affine=False).
 * save_mean/save_rstd are [n][C]. */
void cnnrt_instancenorm_forward(float *y, float *save_mean, float *save_rstd,
                                const float *x, const float *gamma, const float *beta,
                                float eps, int n, int C, int HW);
void cnnrt_instancenorm_backward(float *dx, float *dgamma, float *dbeta,
                                 const float *dy, const float *x,
                                 const float *save_mean, const float *save_rstd,
                                 const float *gamma, int n, int C, int HW);

/* ==================================================================== loss.c
 * Losses return the scalar loss and WRITE (=, not +=) the gradient of that
 * loss w.r.t. their input: they start the backward pass.  The gradient
 * pointer may be NULL (loss only). */

/* Softmax cross-entropy from logits, PyTorch CrossEntropyLoss(
 * label_smoothing=eps), mean over the batch.  Target distribution
 * q = (1−ε)·onehot(label) + ε/K.  labels must be in [0, K).
 * dlogits = (softmax(logits) − q) / n.  Stable (max-shifted log-sum-exp). */
float cnnrt_softmax_xent(float *dlogits,        /* [n][K] written, or NULL */
                         const float *logits,   /* [n][K] */
                         const int32_t *labels, /* [n] */
                         float label_smoothing, int n, int K);

/* Mean squared error, PyTorch MSELoss (mean over all count elements).
 * dy = 2(y − t)/count. */
float cnnrt_mse(float *dy, const float *y, const float *target, size_t count);

/* =================================================================== optim.c
 * Optimizers over one flat parameter block: param, grad and moment blocks
 * all have `count` floats in the same layout, and each step is one loop.
 * Each follows torch.optim of PyTorch 1.13 (single-tensor path) exactly,
 * including where eps goes and how buffers start.  `step` is the 1-based
 * index of this step (1 on the first call); lr comes from a schedule.
 * Moment buffers must start zeroed. */
typedef enum cnnrt_optim_kind {
    CNNRT_SGD = 1,      /* plain, momentum, Nesterov; L2 weight decay */
    CNNRT_ADAGRAD,
    CNNRT_RMSPROP,
    CNNRT_ADAM,         /* L2 weight decay added to the gradient */
    CNNRT_ADAMW         /* decoupled weight decay */
} cnnrt_optim_kind;

typedef struct cnnrt_optim {
    cnnrt_optim_kind kind;
    double weight_decay;    /* all kinds */
    double momentum;        /* SGD, RMSProp */
    double dampening;       /* SGD */
    int nesterov;           /* SGD (needs momentum > 0, dampening 0) */
    double beta1, beta2;    /* Adam, AdamW */
    double eps;             /* Adagrad, RMSProp, Adam, AdamW */
    double alpha;           /* RMSProp smoothing */
    int centered;           /* RMSProp */
    double lr_decay;        /* Adagrad */
} cnnrt_optim;

/* PyTorch's defaults for a kind (the lr is separate). */
cnnrt_optim cnnrt_optim_defaults(cnnrt_optim_kind kind);

/* Number of moment blocks of `count` floats the optimizer needs:
 * SGD 0 (momentum 0) or 1; Adagrad 1; RMSProp 1 + momentum? + centered?;
 * Adam/AdamW 2. */
int cnnrt_optim_state_blocks(const cnnrt_optim *o);

/* One step.  state points at cnnrt_optim_state_blocks(o)·count floats,
 * zeroed before the first step, laid out as consecutive blocks:
 *   SGD      [momentum_buffer]
 *   Adagrad  [state_sum]
 *   RMSProp  [square_avg][momentum_buffer if momentum > 0][grad_avg if centered]
 *   Adam(W)  [exp_avg][exp_avg_sq]
 * CNNRT_EINVAL for an unknown kind or step < 1, else CNNRT_OK. */
int cnnrt_optim_step(float *param,          /* [count] in/out */
                     float *state,          /* [blocks][count] in/out */
                     const float *grad,     /* [count] */
                     const cnnrt_optim *o, double lr, long step, size_t count);

/* Learning-rate schedules, each with optional linear warm-up.
 * t = number of steps already taken (0 for the first step).
 * Warm-up (warmup_steps W > 0, t < W): lr = base·(f + (1−f)·t/W), f =
 * warmup_start_factor (torch LinearLR(start_factor=f, total_iters=W)).
 * After warm-up, with u = t − W:
 *   constant  base
 *   step      base · gamma^floor(u / step_size)      (torch StepLR)
 *   cosine    min + (base − min)(1 + cos(π·min(u,T)/T))/2   (CosineAnnealingLR, T_max = T)
 * which is torch's SequentialLR([LinearLR, main], milestones=[W]). */
typedef enum cnnrt_lr_kind {
    CNNRT_LR_CONSTANT = 1,
    CNNRT_LR_STEP,
    CNNRT_LR_COSINE
} cnnrt_lr_kind;

typedef struct cnnrt_lr_schedule {
    cnnrt_lr_kind kind;
    double base_lr;
    long warmup_steps;          /* 0: no warm-up */
    double warmup_start_factor; /* in (0, 1] */
    long step_size;             /* step */
    double gamma;               /* step */
    long T;                     /* cosine: steps to reach min_lr */
    double min_lr;              /* cosine */
} cnnrt_lr_schedule;

double cnnrt_lr_at(const cnnrt_lr_schedule *s, long t);


/* ####################################################################
 * File IO for training: idx.c (datasets) and safetensors.c (checkpoints).
 * Owned by the IO section; not kernels: these functions open files and
 * may allocate (ownership is stated on each), but never print or exit.
 *
 * Errors: every function that can fail returns CNNRT_OK or one of the
 * codes below, and writes a one-line (or, for lists of problems, several
 * lines joined by "\n  ") message into err[errlen] (truncated to fit; err
 * may be NULL when errlen is 0).  Messages start with the file they are
 * about — "PATH: what was expected, what was found" — and are meant to be
 * printed as they are, e.g. fprintf(stderr, "error: %s\n", err).
 * On failure every output is left empty (zeroed / NULL): nothing to free.
 * #################################################################### */
enum {
    CNNRT_EIO = 2,          /* a file could not be opened, read or written */
    CNNRT_EFORMAT = 3,      /* a file's contents are invalid or do not match */
    CNNRT_ENOMEM = 4        /* out of memory */
};

/* ===================================================================== idx.c
 * IDX files, the MNIST / Fashion-MNIST format:
 *
 *   magic  00 00 08 ND   (08: unsigned bytes; ND dimensions: 1 labels, 3 images)
 *   ND big-endian u32 dimensions, then the u8 data, row-major, nothing after.
 *
 * Files may be gzipped (detected by the gzip magic 1f 8b; zlib reads both).
 * Limits: a file holds at most CNNRT_IDX_MAX_BYTES of data, at most
 * INT_MAX items, and images are at most 65535 pixels on a side and at
 * least 1×1.  A truncated file, trailing bytes, the wrong magic or
 * impossible dimensions are CNNRT_EFORMAT errors naming the file. */
#define CNNRT_IDX_MAX_BYTES ((uint64_t)4 << 30)     /* 4 GiB */

typedef struct cnnrt_idx_images {
    int n, h, w;            /* n images of h×w pixels */
    uint8_t *data;          /* [n][h][w], 0..255; owned, cnnrt_idx_images_free */
    char *path;             /* the file read (owned), for messages */
} cnnrt_idx_images;

typedef struct cnnrt_idx_labels {
    int n;
    uint8_t *data;          /* [n]; owned, cnnrt_idx_labels_free */
    char *path;             /* the file read (owned), for messages */
} cnnrt_idx_labels;

/* Load an idx3 u8 file (magic 00 00 08 03).  On success *out owns its
 * buffers; on failure *out is zeroed. */
int cnnrt_idx_load_images(const char *path, cnnrt_idx_images *out, char *err, size_t errlen);
/* Load an idx1 u8 file (magic 00 00 08 01). */
int cnnrt_idx_load_labels(const char *path, cnnrt_idx_labels *out, char *err, size_t errlen);
/* Free what a load filled and zero the struct (NULL or zeroed: no-op). */
void cnnrt_idx_images_free(cnnrt_idx_images *im);
void cnnrt_idx_labels_free(cnnrt_idx_labels *lb);

/* The four standard files of an MNIST-style directory. */
typedef struct cnnrt_dataset {
    cnnrt_idx_images train_images;  /* DIR/train-images-idx3-ubyte[.gz] */
    cnnrt_idx_labels train_labels;  /* DIR/train-labels-idx1-ubyte[.gz] */
    cnnrt_idx_images test_images;   /* DIR/t10k-images-idx3-ubyte[.gz] */
    cnnrt_idx_labels test_labels;   /* DIR/t10k-labels-idx1-ubyte[.gz] */
} cnnrt_dataset;

/* Find and load the four files in dir (each plain or .gz; if both exist
 * the plain file wins), and check: each split has as many labels as
 * images and at least one image, and train and test images are the same
 * size.  Debian's dataset-fashion-mnist installs them in
 * /usr/share/datasets/fashion-mnist.  On success *out owns everything
 * (cnnrt_dataset_free); on failure *out is zeroed. */
int cnnrt_dataset_load(const char *dir, cnnrt_dataset *out, char *err, size_t errlen);
void cnnrt_dataset_free(cnnrt_dataset *ds);

/* Every label < num_classes, else CNNRT_EFORMAT: "PATH: labels out of range
 * for the network's output: label 11 at index 42, the network has 10
 * outputs" (the first offending index).  path may be NULL (no prefix). */
int cnnrt_labels_check(const uint8_t *labels, size_t n, int num_classes,
                       const char *path, char *err, size_t errlen);
/* The number of classes of a dataset: its largest label (train or test)
 * plus one (IDX files do not store it). */
int cnnrt_dataset_classes(const cnnrt_dataset *ds);
/* A network with num_classes outputs fits the dataset: every label of both
 * splits < num_classes (else the message above, naming the file at fault)
 * and num_classes == cnnrt_dataset_classes (else CNNRT_EFORMAT: "the
 * network has 784 outputs, but the labels in TRAIN and TEST have 10
 * classes (0 to 9): ..."). */
int cnnrt_dataset_check_classes(const cnnrt_dataset *ds, int num_classes,
                                char *err, size_t errlen);

/* Mean and standard deviation (population) of all pixels scaled to [0, 1],
 * the input normalisation to store in a checkpoint ("normalize": "m,s");
 * Fashion-MNIST's training set gives 0.2860, 0.3530. */
void cnnrt_idx_images_stats(const cnnrt_idx_images *im, double *mean, double *std);

/* out[i] = (in[i]/255 − mean) / std, for feeding u8 images to a network
 * (a kernel: no allocation; count = images · h · w). */
void cnnrt_u8_to_float(float *out,          /* [count] */
                       const uint8_t *in,   /* [count] */
                       float mean, float std, size_t count);

/* ============================================ safetensors.c, checkpoint.c
 * Checkpoints are safetensors files, as PyTorch/safetensors write them:
 *
 *   u64 LE N | N bytes of JSON, space-padded to a multiple of 8 | LE data
 *   {"__metadata__": {"step": "1200", ...},
 *    "conv1.bias": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
 *    ...}                                 (tensors sorted, offsets contiguous)
 *
 * Names are PyTorch state-dict names ("conv1.weight", "bn1.running_mean");
 * optimizer state lives under the reserved prefix "__optim__.", and
 * __metadata__ (string → string) holds the training state: the names,
 * slots and keys are described once, in docs/checkpoint.md.
 * Only float32 tensors are written and read; a file may contain other
 * dtypes (validated, listed), but reading one is an error.  At most
 * CNNRT_CKPT_MAX_DIMS dimensions. */
#define CNNRT_CKPT_MAX_DIMS 8
#define CNNRT_CKPT_MAX_HEADER ((uint64_t)100 << 20)    /* 100 MiB of JSON */
#define CNNRT_OPTIM_PREFIX "__optim__."

typedef struct cnnrt_ckpt_tensor {
    const char *name;                       /* state-dict name, non-empty */
    int ndim;                               /* 0 (a scalar) .. CNNRT_CKPT_MAX_DIMS */
    int64_t shape[CNNRT_CKPT_MAX_DIMS];     /* each ≥ 0 */
    const float *data;                      /* [Πshape] (save only; may be NULL if empty) */
} cnnrt_ckpt_tensor;

typedef struct cnnrt_ckpt_meta {
    const char *key, *value;                /* UTF-8 strings */
} cnnrt_ckpt_meta;

/* Write the tensors (any order; written sorted by name) and metadata to
 * path, atomically: a temporary "PATH.tmp.XXXXXX" in the same directory
 * is written, fflush'ed and fsync'ed, renamed over path, and the
 * directory fsync'ed.  A crash or kill at any moment leaves path either
 * the previous file or the new complete one (a kill may leave a stale
 * PATH.tmp.* behind; it is never read).  The file gets mode 0644.
 * Names must be unique and not "__metadata__"; metadata keys unique.
 * Nothing is kept or freed; the caller's buffers are only read. */
int cnnrt_ckpt_save(const char *path,
                    const cnnrt_ckpt_tensor *tensors, int ntensors,
                    const cnnrt_ckpt_meta *meta, int nmeta,
                    char *err, size_t errlen);

/* An open checkpoint: the validated header, and the file kept open for
 * reading tensors.  Opaque; close with cnnrt_ckpt_close. */
typedef struct cnnrt_ckpt cnnrt_ckpt;

/* Open path and validate the whole header: length word present, header
 * length ≤ CNNRT_CKPT_MAX_HEADER and within the file, JSON an object,
 * every entry {dtype of the safetensors set, shape of non-negative
 * integers (≤ CNNRT_CKPT_MAX_DIMS), data_offsets [begin, end] sized as
 * dtype × shape}, entries neither overlapping nor leaving holes and
 * exactly covering the data (so a truncated or extended file is caught
 * here), no duplicate names, __metadata__ an object of strings.
 * Any content gives an error, never a crash.  *out is NULL on failure. */
int cnnrt_ckpt_open(const char *path, cnnrt_ckpt **out, char *err, size_t errlen);
void cnnrt_ckpt_close(cnnrt_ckpt *ck);                    /* NULL: no-op */

/* Tensors, sorted by name: index 0 .. count−1.  Strings are owned by ck. */
int cnnrt_ckpt_count(const cnnrt_ckpt *ck);
const char *cnnrt_ckpt_name(const cnnrt_ckpt *ck, int i);
const char *cnnrt_ckpt_dtype(const cnnrt_ckpt *ck, int i);   /* "F32", ... */
int cnnrt_ckpt_shape(const cnnrt_ckpt *ck, int i, int64_t shape[CNNRT_CKPT_MAX_DIMS]); /* → ndim */
int cnnrt_ckpt_find(const cnnrt_ckpt *ck, const char *name);  /* index, or −1 */

/* Metadata, in file order; cnnrt_ckpt_meta_get gives NULL when absent.
 * Strings are owned by ck. */
int cnnrt_ckpt_meta_count(const cnnrt_ckpt *ck);
const char *cnnrt_ckpt_meta_key(const cnnrt_ckpt *ck, int i);
const char *cnnrt_ckpt_meta_value(const cnnrt_ckpt *ck, int i);
const char *cnnrt_ckpt_meta_get(const cnnrt_ckpt *ck, const char *key);

/* Read tensor `name`, which must be float32 of exactly the given shape,
 * into out [Πshape].  Errors name the tensor: "PATH: conv1.weight:
 * expected [64, 3, 3, 3] float32, found [64, 3, 1, 1] float32", or
 * "PATH: no tensor conv1.weight (expected [64, 3, 3, 3] float32)". */
int cnnrt_ckpt_read(cnnrt_ckpt *ck, const char *name, int ndim, const int64_t *shape,
                    float *out, char *err, size_t errlen);

/* Compare the file against what a network expects (names, shapes, F32;
 * data fields unused): every expected tensor must be present as float32
 * of that shape, and nothing else may be present except, when
 * allow_optim is set, names under __optim__., and always
 * *.num_batches_tracked.  Lists every problem (missing, unexpected, wrong
 * shape or dtype) in one error, capped at 20 lines. */
int cnnrt_ckpt_check(const cnnrt_ckpt *ck, const cnnrt_ckpt_tensor *expected, int n,
                     int allow_optim, char *err, size_t errlen);

/* ================================================================= threads.c
 * The calling thread's kernels run on n threads (omp_set_num_threads(n)),
 * and OpenBLAS on one (openblas_set_num_threads(1)): the kernels share
 * each product over their threads themselves.  n < 1 counts as 1. */
void cnnrt_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_H */
