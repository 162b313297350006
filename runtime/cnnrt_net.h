/*
 * cnnrt_net.h — training a whole network with the cnnrt kernels.
 *
 * A network is described by plain data (cnnrt_net_desc): numbered values
 * (value 0 is the input; each has a size per image), and ops in execution
 * order, each reading values and writing one, with its geometry and the
 * offsets of its tensors in two flat blocks:
 *   parameters  learnable (conv/dense weight and bias, norm γ and β);
 *               the gradient and the optimizer's moments have the same layout
 *   buffers     running statistics (batchnorm mean and variance)
 * `cnnc-train` builds the description from a .net file at run time;
 * `cnnc --train` writes it into C as constants.  Both then run the same
 * code here, so they train identically.
 *
 * A cnnrt_net owns one allocation: the parameter block
 * [params | grads | optimizer moments], the buffers, and for `max_batch`
 * images every value, its gradient and what backward needs (batchnorm
 * statistics, max-pool argmax, dropout masks), plus conv scratch.
 *
 * Training follows PyTorch: batchnorm uses batch statistics (biased
 * variance) and updates running averages (unbiased variance, momentum);
 * dropout is inverted, drawn from the net's own seeded RNG; the loss is the
 * mean softmax cross-entropy of the logits (optionally label-smoothed) —
 * when the network ends in softmax, the loss takes the softmax's input and
 * the softmax runs only in evaluation — or the mean squared error.
 */
#ifndef CNNRT_NET_H
#define CNNRT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cnnrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The op kinds, CNNRT_OP_NAME numbered from 1: FIRST(NAME) for the first
 * kind, X(NAME) for each other one. */
#define CNNRT_OP_KINDS(FIRST, X) FIRST(CONV) X(DENSE) X(MAXPOOL) X(AVGPOOL) X(GAVGPOOL) \
    X(GMAXPOOL) X(ADAPTAVG) X(BATCHNORM) X(LAYERNORM) X(INSTANCENORM) X(GROUPNORM) \
    X(ACT)                                       /* relu & co. (cnnrt_op.act) */ \
    X(SOFTMAX) X(DROPOUT) X(ADD) X(CONCAT) \
    X(COPY)                                      /* flatten, identity */ \
    X(SHUFFLE)                                   /* channel shuffle in G groups */ \
    X(SLICE)                                     /* channels [G, G + output's) */ \
    X(MUL)                                       /* input 0 · input 1 (per channel or whole) */ \
    X(UPSAMPLE)                                  /* H×W to OH×OW; G: bilinear, D: align_corners */ \
    X(CONVT)                                     /* transposed conv; .conv: the conv it is the data
                                                    gradient of (its C, H, W the op's output) */ \
    X(PAD)                                       /* .conv.PT PB PL PR; G: 0 zeros, 1 reflect, 2 replicate */ \
    X(CONV3D) X(MAXPOOL3D) X(AVGPOOL3D) X(ADAPTAVG3D)   /* a volume's: .conv3, .pool3 */ \
    X(SUB)                                       /* input 0 − input 1 */ \
    X(MEAN)                                      /* the mean of the nin inputs */ \
    X(PRELU)                                     /* x > 0 ? x : w[c]·x; G slopes (1 or C) */
#define CNNRT_OP_FIRST_(NAME) CNNRT_OP_##NAME = 1,
#define CNNRT_OP_ENUM_(NAME) CNNRT_OP_##NAME,
typedef enum cnnrt_op_kind {
    CNNRT_OP_KINDS(CNNRT_OP_FIRST_, CNNRT_OP_ENUM_)
} cnnrt_op_kind;
#undef CNNRT_OP_FIRST_
#undef CNNRT_OP_ENUM_

/* the ops that apply a fused activation (cnnrt_op.act) to their output */
static inline int cnnrt_op_fuses_act(cnnrt_op_kind k)
{
    return k == CNNRT_OP_CONV || k == CNNRT_OP_CONVT || k == CNNRT_OP_DENSE || k == CNNRT_OP_CONV3D;
}

/* the activations (cnnrt_acts.def): an ACT op's, or one fused into a conv or
 * dense op (the .net's `conv 6 k5 tanh`) */
enum {
    CNNRT_ACT_NONE = 0,
#define CNNRT_ACT(ID, ...) CNNRT_ACT_##ID,
#include "cnnrt_acts.def"
#undef CNNRT_ACT
    CNNRT_ACT_COUNT
};

typedef struct cnnrt_op {
    cnnrt_op_kind kind;
    const char *name;           /* the layer's full name (PyTorch module path) */
    int line;                   /* where the .net file writes it */
    int act;                    /* CNNRT_ACT_*: an ACT op's; a conv's or dense's fused one */
    float act_a, act_b;         /* the activation's parameters (cnnrt_acts.def): a
                                   leaky relu's slope, hardtanh's min and max, ... */
    int nin, in0;               /* inputs: desc->inputs[in0 .. in0+nin-1] */
    int out;                    /* output value */
    cnnrt_conv_geom conv;       /* conv */
    cnnrt_pool_geom pool;       /* max/avg pool, global max pool (window = H×W) */
    cnnrt_conv3d_geom conv3;    /* a volume's conv */
    cnnrt_pool3d_geom pool3;    /* a volume's max/avg/adaptive pool */
    int C, HW, D, G, H, W, OH, OW; /* sizes per image where the kernels need them; G:
                                   groups (group norm, shuffle), a slice's first channel,
                                   dropout's values per draw (0 or 1: each value) */
    float eps, momentum, p;     /* norms; dropout probability */
    long w, b;                  /* parameter offsets (weight/γ, bias/β), -1: none */
    long rmean, rvar;           /* buffer offsets (batchnorm), -1: none */
} cnnrt_op;

typedef struct cnnrt_tensor {   /* a named tensor of a checkpoint */
    const char *name;           /* PyTorch state-dict name: conv1.weight */
    int ndim;
    int dims[5];
    long off;                   /* in the parameter or buffer block */
    long numel;
    int buffer;                 /* 0: parameter, 1: buffer (running stats) */
    int op;                     /* the op that owns it */
    long fan_in;                /* its layer's inputs per output, which bounds its
                                   initial values (PyTorch's rule); 0: none */
    int constant;               /* 1: every value starts at init (a PReLU slope) */
    float init;
} cnnrt_tensor;

/* The plan's flags per op (cnnc's compiler/train_plan.c says when each
 * applies): VIEW, a copy whose output is its input's buffer; INPLACE, a
 * relu over its input's buffer; SHARE0 << k (k < CNNRT_PLAN_MAX_SHARE), an
 * add or copy whose input k has the output's gradient buffer; POOLFIRST, an
 * in-place relu that the max pool reading it applies (RELU_AFTER on the
 * pool); BNRELU, an in-place relu that the batch norm before it applies
 * (RELU_FUSED on the batch norm). */
enum {
    CNNRT_PLAN_VIEW = 1, CNNRT_PLAN_INPLACE = 2, CNNRT_PLAN_SHARE0 = 4, CNNRT_PLAN_MAX_SHARE = 16,
    CNNRT_PLAN_POOLFIRST = 1 << 20, CNNRT_PLAN_RELU_AFTER = 1 << 21, CNNRT_PLAN_BNRELU = 1 << 22,
    CNNRT_PLAN_RELU_FUSED = 1 << 23
};

typedef struct cnnrt_net_desc {
    const char *name;
    int in_c, in_h, in_w;       /* a signal's in_h is 1; a volume's is its D·H rows */
    int nvalues;
    const long *value_size;     /* floats per image; value 0 is the input */
    int nops;
    const cnnrt_op *ops;
    const int *inputs;          /* value ids read by ops, see cnnrt_op.in0 */
    int output;                 /* the network's output value */
    int out_size;               /* floats per image of the output */
    long nparams, nbuffers;
    int ntensors;
    const cnnrt_tensor *tensors;
    uint64_t hash;              /* the structure in checkpoints ("arch"): every op, its
                                   attributes, shapes, wiring and tensor names */
    /* the plan (NULL: no sharing, nothing fused); cnnrt_net_create checks it */
    const int *op_plan;         /* per op: CNNRT_PLAN_* flags */
    const int *value_buf;       /* per value: the value whose buffer it uses (itself: its own) */
    const int *grad_buf;        /* per value: the value whose gradient buffer it uses */
} cnnrt_net_desc;

typedef enum cnnrt_loss_kind { CNNRT_LOSS_XENT = 1, CNNRT_LOSS_MSE } cnnrt_loss_kind;

typedef struct cnnrt_train_opts {
    cnnrt_optim optim;
    cnnrt_lr_schedule lr;
    cnnrt_loss_kind loss;
    float label_smoothing;      /* cross-entropy only */
    uint64_t seed;              /* initial weights and dropout */
} cnnrt_train_opts;

typedef struct cnnrt_net cnnrt_net;

/* Allocate a net for batches of up to max_batch images and initialise the
 * weights as PyTorch initialises a fresh module (conv/dense U(±1/√fan_in),
 * norms γ = 1, β = 0, running mean 0, variance 1) from opts->seed.
 * NULL with a message in err when the description or options are invalid
 * or memory is short. */
cnnrt_net *cnnrt_net_create(const cnnrt_net_desc *d, int max_batch, const cnnrt_train_opts *opts,
                            char *err, size_t errlen);
void cnnrt_net_free(cnnrt_net *net);

/* The parameter block: nparams floats each of params, grads, and moments
 * (cnnrt_optim_state_blocks of them), one after another. */
float *cnnrt_net_params(cnnrt_net *net);
float *cnnrt_net_grads(cnnrt_net *net);
float *cnnrt_net_buffers(cnnrt_net *net);
size_t cnnrt_net_block_floats(const cnnrt_net *net);   /* params+grads+moments */
long cnnrt_net_step(const cnnrt_net *net);             /* optimizer steps taken */
const cnnrt_net_desc *cnnrt_net_describe(const cnnrt_net *net);

/* One training step on n ≤ max_batch images x [n][C][H][W]: forward in
 * training mode, loss, backward, one optimizer step with the scheduled lr.
 * labels [n] (cross-entropy) or targets [n][out_size] (MSE).  Returns the
 * loss (the mean over the batch).  A NaN or infinite loss or gradient skips
 * the update and is returned as NaN; cnnrt_net_bad_layer names the first
 * layer whose gradient went bad. */
float cnnrt_net_train_step(cnnrt_net *net, const float *x, const int32_t *labels,
                           const float *targets, int n);
const char *cnnrt_net_bad_layer(const cnnrt_net *net);

/* What the loss saw in the last training step: the logits (the softmax's
 * input when the network ends in softmax), [n][*k]. */
const float *cnnrt_net_logits(const cnnrt_net *net, int *k);

/* Forward only, without a step: the loss in training mode is not changed
 * by it.  eval: inference mode (running statistics, no dropout); out gets
 * n·out_size floats (probabilities when the network ends in softmax). */
int cnnrt_net_eval(cnnrt_net *net, const float *x, int n, float *out);

/* After cnnrt_net_eval of n <= max_batch images: value v's n x
 * value_size[v] floats, as the last forward left them (under a plan, a value
 * that shares another's buffer shows what was written there last: cnnc's
 * calibration creates its net without a plan).  NULL for v out of range. */
const float *cnnrt_net_value(const cnnrt_net *net, int v);

/* The loss of a batch and its gradients (into the grad block, overwritten),
 * without an optimizer step: for tests against autograd. */
float cnnrt_net_loss_and_grads(cnnrt_net *net, const float *x, const int32_t *labels,
                               const float *targets, int n);

/* Random state of the dropout stream, for bit-exact resume. */
cnnrt_rng cnnrt_net_rng(const cnnrt_net *net);
void cnnrt_net_set_state(cnnrt_net *net, long step, cnnrt_rng rng);

/* ---- checkpoints (net_io.c) ------------------------------------------------
 * A checkpoint is a safetensors file (safetensors.c) holding every parameter
 * and running statistic by its PyTorch name, the optimizer's moments under
 * "__optim__.", and the training state in __metadata__, plus the caller's
 * extra pairs (e.g. "normalize"): docs/checkpoint.md lists the names, slots
 * and keys.  Save is atomic (a kill leaves the old file or the
 * new one).  Load checks names, shapes and dtypes against the network and
 * lists every mismatch in one error. */
int cnnrt_net_save(cnnrt_net *net, const char *path, const cnnrt_ckpt_meta *extra, int nextra,
                   char *err, size_t errlen);
/* with_state: also restore the optimizer moments, step and RNG (resume),
 * only from a checkpoint whose "arch" is this desc's hash (a checkpoint of
 * another structure, e.g. relu where this net has tanh, or without "arch"
 * is refused, naming both networks); otherwise only weights and running
 * statistics, checked by name and shape (optimizer state in the file is
 * then ignored). */
int cnnrt_net_load(cnnrt_net *net, const char *path, int with_state, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* CNNRT_NET_H */
