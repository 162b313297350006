/*
 * cnnrt_priv.h — internal to cnnrt: backward kernels that may overwrite
 * their input gradient, fused kernels, and the training net's object,
 * shared by the files that lay it out (net_plan.c), run it (net_exec.c)
 * and checkpoint it (net_io.c).
 *
 * The public backward kernels add (+=) into dx, so a caller zeroes every
 * gradient buffer first.  The executor (net_exec.c) knows which buffers have had
 * no contribution yet in a backward pass: for those it passes dx_add = 0,
 * the kernel writes (=), and the zeroing pass and the reading of the zeros
 * are saved (a tenth of a ResNet-20 training step).  dx_add = 1 is the
 * public kernel exactly.
 */
#ifndef CNNRT_PRIV_H
#define CNNRT_PRIV_H

#include "cnnrt.h"
#include "cnnrt_net.h"

/* convt.c: transposed convolution through the conv g whose data gradient it
 * is (g's input is its output; see convt.c) */
void cnnrt_conv_transpose2d_forward(float *y, const float *x, const float *w, const float *b, float *scratch,
                                    int n, const cnnrt_conv_geom *g);
void cnnrt_conv_transpose2d_backward(float *dx, int dx_add, float *dw, float *db, const float *dy, const float *x,
                                     const float *w, float *scratch, float *tmp, int n, const cnnrt_conv_geom *g);
void cnnrt_conv2d_backward_ex(float *dx, int dx_add, float *dw, float *db, const float *dy, const float *x,
                              const float *w, float *scratch, int n, const cnnrt_conv_geom *g);

/* Batch norm followed by a relu, fused (the plan's CNNRT_PLAN_BNRELU): the
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

/* ---- the executor's kernels (net_exec.c) ----------------------------------- */

/* act.c: a relu's first contribution to its input's gradient, g = (x ≤ 0 ?
 * 0 : dy), and an in-place relu's backward, g = (y ≤ 0 ? 0 : g); both pass
 * the gradient where x or y is NaN, as cnnrt_relu_backward does. */
void cnnrt_relu_set(float *g, const float *dy, const float *x, size_t cnt);
void cnnrt_relu_mask(float *g, const float *y, size_t cnt);

/* Each activation's kernels (cnnrt_acts.def; act.c), by CNNRT_ACT_*, and
 * whether its backward may be given the output y for x (bwd_y). */
typedef struct cnnrt_act_kernels {
    void (*fwd)(float *y, const float *x, float a, float b, size_t n);
    void (*bwd)(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n);
    int (*bwd_y)(float a, float b);
} cnnrt_act_kernels;
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y) \
    void FWD(float *y, const float *x, float a, float b, size_t n); \
    void BWD(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n);
#include "cnnrt_acts.def"
#undef CNNRT_ACT
extern const cnnrt_act_kernels cnnrt_act_table[CNNRT_ACT_COUNT];

/* act.c: the activation fused into a conv or dense (op->act, act_a, act_b),
 * in place on its output y [count]; and its backward: act'(pre) · dy from
 * y (the table's bwd_y holds for it: net_plan.c checks), written (=) into
 * tmp [count] and returned, or dy itself for CNNRT_ACT_NONE. */
void cnnrt_act_forward(const cnnrt_op *op, float *y, size_t count);
const float *cnnrt_act_backward(const cnnrt_op *op, float *tmp, const float *dy, const float *y, size_t count);

/* act.c: softmax over the C channels at each of HW positions, y and x
 * [n][C][HW]; the backward adds (+=) into dx. */
void cnnrt_softmax_channels_forward(float *y, const float *x, int n, int C, int HW);
void cnnrt_softmax_channels_backward(float *dx, const float *dy, const float *y, int n, int C, int HW);

/* optim.c: 1 when g [n] holds a NaN or an infinity (a step must not use it). */
int cnnrt_any_nonfinite(const float *g, size_t n);

/* ---- the training net (cnnrt_net.h) ---------------------------------------- */

struct cnnrt_net {
    const cnnrt_net_desc *d;
    cnnrt_train_opts o;
    int max_batch;
    int nblocks;              /* optimizer moment blocks */
    long step;
    cnnrt_rng rng;            /* dropout */
    int softmax_last;         /* the output op is a softmax: the loss skips it */
    int bad_op;               /* first op whose gradient went bad, -1 */
    float *block;             /* params | grads | moments */
    float *buffers;
    float **val, **dval;      /* [nvalues] */
    float **save0, **save1;   /* per op: saved statistics / masks */
    int32_t **argmax;         /* per op: max pool */
    int *plan;                /* per op: CNNRT_PLAN_* flags (the description's plan, checked) */
    char *zero;               /* per value: it owns its gradient buffer (the first value using it) */
    int *owner;               /* per value: the value owning its gradient buffer */
    char *fresh;              /* per owner: no contribution yet in this backward pass */
    float *scratch;           /* conv im2col */
    float *tmp;               /* a value-sized temporary (fused activation backward) */
    float *tmp2;              /* another, for a transposed conv's input gradient (or NULL) */
    const float **cat_x;      /* per input of the desc (cnnrt_op.in0): a concat's input values, */
    float **cat_dx;           /* their gradients, */
    int *cat_c;               /* and their channels: as many as the concat has inputs */
    void *mem;                /* the one allocation */
};


/* the value that op reads as its input i */
/* the value an op reads as its input i */
static inline int op_in(const cnnrt_net_desc *d, const cnnrt_op *op, int i) { return d->inputs[op->in0 + i]; }
static inline int in_val(const cnnrt_net *net, const cnnrt_op *op, int i) { return op_in(net->d, op, i); }

#endif
