/*
 * kind.h — what a layer kind's description (compiler/kind_*.c) may use.
 *
 * Each kind file defines one LayerKind per kind (cnnc.h): its spelling and
 * attributes, and its hooks for the shape checker, the parameter list, the
 * C emitter, the PyTorch exporter and the training description.  The hooks
 * share the helpers below; each is defined by the stage it belongs to.
 */
#ifndef CNNC_KIND_H
#define CNNC_KIND_H

#include "cnnc.h"
#include "cnnrt.h"       /* cnnrt_out_size */
#include "cnnrt_net.h"   /* cnnrt_op, CNNRT_OP_* */

#include <stddef.h>

/* Every kind's description, each defined in its file. */
#define KIND(ID, DESC) extern const LayerKind DESC;
#include "kinds.def"
#undef KIND

/* Attribute fields: the Node member a value sets. */
#define F(x) offsetof(Node, x)

/* Attributes several kinds share. */
#define ATTR_KERNEL  { "kernel", A_PAIR, 'k', NULL, "window size: 3, 3x1 (HxW) or 3x3x3 (DxHxW); shorthand k3, k3x1", \
                       F(kh), F(kw), F(kd) }
#define ATTR_STRIDE1 { "stride", A_PAIR, 's', "1", "step between windows; shorthand s2", F(sh), F(sw), F(sd) }
#define ATTR_STRIDEK { "stride", A_PAIR, 's', "=kernel", "step between windows (default: the kernel); shorthand s2", \
                       F(sh), F(sw), F(sd) }
#define ATTR_PAD     { "padding", A_PAD, 'p', "0", "zeros added on each side: N, HxW, DxHxW or same; shorthand p1", \
                       F(pt), 0, 0 }
#define ATTR_EPS     { "eps", A_EPS, 0, "1e-5", "added to the variance", F(eps), 0, 0 }
#define ATTR_BIAS    { "bias", A_BOOL, 0, "true", "add a learned bias (flag nobias turns it off)", F(bias), 0, 0 }
#define ATTR_ACT     { "act", A_ACT, 0, "none", "activation applied to the output", F(act), 0, 0 }
#define ATTR_SLOPE   { "slope", A_FLOAT, 0, "0.01", "negative slope when act is leakyrelu", F(slope), 0, 0 }

/* ---- shape.c: checked arithmetic and the shared shape rules ---------------- */
#define SHAPE_LIMIT (1LL << 62)              /* counts past this are errors */
bool shape_mul(long long a, long long b, long long *r);      /* false past SHAPE_LIMIT */
const char *shape_who(const Node *n);        /* "conv 'c1'" */
bool shape_check_numel(Node *n);             /* its output within CNNC_MAX_NUMEL, else an error */
bool shape_need_chw(Node *n, const Shape *in);
/* Output length of a window op along one axis (PyTorch's rule), or an error. */
bool shape_window(Node *n, const Shape *in, const char *axis, long long len, long long k, long long s,
                  long long d, long long p0, long long p1, bool ceil_mode, bool pool, long long *out);
/* Receptive field: through a window, copied (elementwise), the maximum over the inputs. */
void shape_rf_window(Node *n, const Node *in, long long kh, long long kw, long long sh, long long sw,
                     long long dh, long long dw);
void shape_rf_copy(Node *n, const Node *in);
void shape_rf_max(Node *n);
bool shape_same(Shape a, Shape b);
/* A window attribute's sizes on in's axes, joined by sep: 3, 3×1, 1×3×3 */
const char *shape_sizes(const Shape *in, long long d, long long h, long long w, const char *sep);
bool shape_elementwise(Node *n);             /* shape of the input, one op per value */
bool shape_passthrough(Node *n);             /* shape of the input, no work */

/* ---- weights.c -------------------------------------------------------------- */
/* One parameter tensor: its suffix, where its data goes, learnable or a
 * running statistic, its initialiser's fan-in (0: none) and dims. */
ParamSpec param(const char *suffix, float **slot, bool learnable, long long fan_in, int ndim,
                long long d0, long long d1, long long d2, long long d3);
/* A kernel's "weight" [a][b] then the axes of in (kw; kh, kw; kd, kh, kw). */
ParamSpec param_kernel(float **slot, long long fan_in, const Shape *in, long long a, long long b, long long kd,
                       long long kh, long long kw);
/* A norm's per-value tensor [C] then in's axes (layer norm's γ and β). */
ParamSpec param_like(const char *suffix, float **slot, const Shape *in);

/* ---- pass_quant.c: int8 (the kinds' quant hooks) ----------------------------- */
const Node *quant_input(const Node *n, int k);     /* its k-th input's int8 producer (through aliases) */
/* a conv's or dense layer's int8 weights, bias and requantization per output
 * channel, from weights [out][per]: the error count.  fold: the input's zero
 * point folded into the bias (the kernel sums q_x * q_w), else not (it sums
 * (q_x - zp) * q_w over the taps inside the input) */
int quant_channels(Node *n, long long per, bool fold);
/* the multiplier and shift of m, or an error at n (the error count) */
int quant_requant_of(const Node *n, double m, int32_t *mult, int32_t *shift);
/* n's output clamp again, after its hook changed its scale or zero point */
void quant_clamp(Node *n);

/* ---- emit.c: writing a layer's m4 data ------------------------------------ */
typedef struct Emitter Emitter;
void em_def(Emitter *e, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void em_layer(Emitter *e, Node *n, const char *kind);   /* the fields every layer has */
void em_buf(Emitter *e, const char *which, Node *n);    /* a buffer of run() and its offset */
long long em_put(Emitter *e, const float *src, long long n);   /* weights: their offset (-1: src NULL) */
long long em_put_q8(Emitter *e, const signed char *src, long long n);   /* int8 weights (NET_q8w): offset */
/* the fields every int8 layer has: its zero points and output clamp */
void em_q8(Emitter *e, const Node *n);
/* a conv's or dense layer's int8 weights (nw bytes), its per-channel bias
 * (or the sums' start) and requantization: L_QWOFF L_QBOFF L_QMOFF L_QSOFF */
void em_q8_channels(Emitter *e, const Node *n, const signed char *w, long long nw, const int32_t *bias);
long long em_put_q32(Emitter *e, const int32_t *src, long long n);      /* int32s (NET_q32): offset */
void em_call(Emitter *e, const char *macro);            /* the layer's template: "M4_CONV" */
void em_hash(Emitter *e, const void *p, size_t n);      /* into the interface hash */
bool em_standalone(const Emitter *e);                   /* no BLAS */
void em_winograd(Emitter *e);                           /* some layer runs as Winograd */
void em_stack(Emitter *e, long long bytes);             /* a layer's buffers on its thread's stack */
const char *em_float(double v);                         /* a float literal without its f: 2.0, 0.5 */

/* ---- emit_py.c -------------------------------------------------------------- */
const char *py_float(double v);              /* shortest repr */
const char *py_bool(bool b);
const char *py_pair(long long a, long long b);   /* 3 or (3, 1) */
const char *py_sizes(const Shape *in, long long d, long long h, long long w);   /* in's axes: 3, (3, 1), (1, 3, 3) */
const char *py_dims(const Shape *in);        /* "1d", "2d" or "3d": PyTorch's class suffix */
const char *py_act(ActKind a, const double *p, const char *x);   /* activation a (parameters p) on x */
/* a py_call hook: the layer's module applied to its input, mod(x) */
const char *py_call_module(const struct Node *n, const char *const *in, const char *mod);

/* ---- train_desc.c ----------------------------------------------------------- */
/* The op's sizes from its input and output shapes are set before the hook. */

#endif
