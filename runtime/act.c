/*
 * act.c — activations (and those fused into a conv or dense), softmax,
 * dropout (with its explicit RNG), residual add, channel concat and flatten.
 *
 * Shape legend
 *   count        elements of an elementwise tensor (any shape)
 *   n, D         rows and features of a softmax input [n][D]
 *   n, C, HW     a softmax over channels at each position: [n][C][HW]
 *   n, c_i, HW   concat: input i is [n][c_i][HW], output [n][Σc_i][HW]
 */
#include "cnnrt.h"
#include "cnnrt_simd.h"
#include "cnnrt_par.h"
#include "cnnrt_priv.h"

#include <math.h>
#include <string.h>

/* ---- relu / leaky relu --------------------------------------------------- */

/* The elementwise kernels run on the threads' shares of their range
 * (cnnrt_par.h); each thread runs the loop of a static CNNRT_WIDE helper.
 *
 * NaN and Inf as PyTorch: relu is torch.clamp_min(x, 0), x < 0 ? 0 : x, so
 * relu(NaN) = NaN, relu(-0.0) = -0.0, relu(-Inf) = 0; its gradient is
 * threshold_backward's, y <= 0 ? 0 : dy, which passes dy at a NaN (y ≤ 0
 * iff x ≤ 0, so x serves as well).  Leaky relu is x > 0 ? x : slope·x, its
 * gradient x > 0 ? dy : slope·dy (a NaN takes slope·dy), as in PyTorch. */
CNNRT_WIDE
static void relu_fwd(float *y, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void cnnrt_relu_forward(float *y,              /* [count] */
                        const float *x,        /* [count] */
                        size_t count)
{
    PAR_RANGE(count, lo, hi, relu_fwd(y + lo, x + lo, hi - lo));
}

CNNRT_WIDE
static void relu_bwd(float *dx, const float *dy, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const float g = dy[i];            /* loaded unconditionally: the loop vectorises */
        dx[i] += x[i] <= 0.0f ? 0.0f : g;
    }
}

void cnnrt_relu_backward(float *dx,            /* [count] += */
                         const float *dy,      /* [count] */
                         const float *x,       /* [count] forward input */
                         size_t count)
{
    /* differentiates:  y = x < 0 ? 0 : x  (dy passes where x is > 0 or NaN) */
    PAR_RANGE(count, lo, hi, relu_bwd(dx + lo, dy + lo, x + lo, hi - lo));
}

/* g = (y ≤ 0 ? 0 : g): an in-place relu's backward (cnnrt_relu_backward's
 * mask, which passes g where y is NaN, as PyTorch's threshold_backward) */
CNNRT_WIDE static void relu_mask_k(float *g, const float *y, size_t cnt)
{
    for (size_t j = 0; j < cnt; j++) g[j] = y[j] <= 0.0f ? 0.0f : g[j];
}
void cnnrt_relu_mask(float *g, const float *y, size_t cnt)
{
    PAR_RANGE(cnt, lo, hi, relu_mask_k(g + lo, y + lo, hi - lo));
}

/* g = (x ≤ 0 ? 0 : dy): a relu's first contribution to g */
CNNRT_WIDE static void relu_set_k(float *g, const float *dy, const float *x, size_t cnt)
{
    for (size_t j = 0; j < cnt; j++) g[j] = x[j] <= 0.0f ? 0.0f : dy[j];
}
void cnnrt_relu_set(float *g, const float *dy, const float *x, size_t cnt)
{
    PAR_RANGE(cnt, lo, hi, relu_set_k(g + lo, dy + lo, x + lo, hi - lo));
}

void cnnrt_leaky_relu_forward(float *y, const float *x, /* [count] */
                              float slope, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void cnnrt_leaky_relu_backward(float *dx,       /* [count] += */
                               const float *dy, /* [count] */
                               const float *x,  /* [count] forward input */
                               float slope, size_t count)
{
    /* differentiates:  y = x > 0 ? x : slope·x */
    for (size_t i = 0; i < count; i++)
        dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
}

/* ---- tanh / sigmoid ------------------------------------------------------ */

void cnnrt_tanh_forward(float *y, const float *x, size_t count) /* [count] */
{
    for (size_t i = 0; i < count; i++)
        y[i] = tanhf(x[i]);
}

void cnnrt_tanh_backward(float *dx,            /* [count] += */
                         const float *dy,      /* [count] */
                         const float *y,       /* [count] forward output */
                         size_t count)
{
    /* differentiates:  y = tanh(x);  dy/dx = 1 − y² */
    for (size_t i = 0; i < count; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void cnnrt_sigmoid_forward(float *y, const float *x, size_t count) /* [count] */
{
    for (size_t i = 0; i < count; i++) {
        /* split by sign so expf never overflows */
        if (x[i] >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        } else {
            float e = expf(x[i]);
            y[i] = e / (1.0f + e);
        }
    }
}

void cnnrt_sigmoid_backward(float *dx,         /* [count] += */
                            const float *dy,   /* [count] */
                            const float *y,    /* [count] forward output */
                            size_t count)
{
    /* differentiates:  y = 1/(1 + e^−x);  dy/dx = y(1 − y) */
    for (size_t i = 0; i < count; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

/* ---- the activations of cnnrt_acts.def, in one form ------------------------
 * The table's kernels (cnnrt_acts.def): forward y = act(x) with parameters
 * a, b; backward dx += act'(x)·dy, where x may be the output y when the
 * table's BWD_Y says so (a fused activation).  relu, leaky relu, tanh and
 * sigmoid are the kernels above; the others are written here by
 * ACT_KERNELS(name, forward, backward), two expressions of the input v (and
 * the output o, the gradient g, the parameters a, b): elementwise loops on
 * the threads' shares.  NaN and infinity go through as PyTorch's CPU
 * kernels take them where they are vectorised (their scalar remainder
 * loops differ in places): a clamp keeps NaN (relu6, hardtanh,
 * hardsigmoid) and its gradient is 0 at a NaN; hardswish's, elu's and
 * selu's gradient at a NaN is NaN.  GELU is computed as
 * x·erfc(−x/√2)/2 and its tanh form as x·σ(2u), the same functions without
 * the cancellation of 1 + erf or 1 + tanh far below 0. */

/* gelu_tanh's and mish's derivatives, too long for one expression */
static inline float gelu_tanh_grad(float v)
{
    const float u = 0.79788456080286535588f * (v + 0.044715f * v * v * v);
    const float s = 1.0f / (1.0f + expf(-2.0f * u));          /* (1 + tanh u) / 2 */
    return s + 2.0f * v * s * (1.0f - s) * 0.79788456080286535588f * (1.0f + 3.0f * 0.044715f * v * v);
}
static inline float mish_grad(float v)
{
    const float t = tanhf(log1pf(expf(v))), sg = 1.0f / (1.0f + expf(-v));
    return t + v * sg * (1.0f - t * t);
}

/* BWD_Y of each activation (cnnrt_acts.def), a function of its parameters */
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y) \
    static int bwd_y_##ID(float a, float b) { (void)a; (void)b; return BWD_Y; }
#include "cnnrt_acts.def"
#undef CNNRT_ACT

void cnnrt_act_relu_fwd(float *y, const float *x, float a, float b, size_t n)
{
    (void)a; (void)b;
    cnnrt_relu_forward(y, x, n);
}
void cnnrt_act_relu_bwd(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n)
{
    (void)y; (void)a; (void)b;
    cnnrt_relu_backward(dx, dy, x, n);           /* from y as well: y ≤ 0 iff x ≤ 0 */
}
void cnnrt_act_leaky_fwd(float *y, const float *x, float a, float b, size_t n)
{
    (void)b;
    cnnrt_leaky_relu_forward(y, x, a, n);
}
void cnnrt_act_leaky_bwd(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n)
{
    (void)y; (void)b;
    cnnrt_leaky_relu_backward(dx, dy, x, a, n);  /* from y as well when a ≥ 0 */
}
void cnnrt_act_tanh_fwd(float *y, const float *x, float a, float b, size_t n)
{
    (void)a; (void)b;
    cnnrt_tanh_forward(y, x, n);
}
void cnnrt_act_tanh_bwd(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n)
{
    (void)x; (void)a; (void)b;
    cnnrt_tanh_backward(dx, dy, y, n);
}
void cnnrt_act_sigmoid_fwd(float *y, const float *x, float a, float b, size_t n)
{
    (void)a; (void)b;
    cnnrt_sigmoid_forward(y, x, n);
}
void cnnrt_act_sigmoid_bwd(float *dx, const float *dy, const float *x, const float *y, float a, float b, size_t n)
{
    (void)x; (void)a; (void)b;
    cnnrt_sigmoid_backward(dx, dy, y, n);
}

#define ACT_KERNELS(name, FWD, BWD)                                                                      \
    CNNRT_WIDE static void name##_f(float *y, const float *x, float a, float b, size_t n)                \
    {                                                                                                    \
        (void)a; (void)b;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                                 \
            const float v = x[i];                                                                        \
            y[i] = (FWD);                                                                                \
        }                                                                                                \
    }                                                                                                    \
    void cnnrt_act_##name##_fwd(float *y, const float *x, float a, float b, size_t n)                    \
    {                                                                                                    \
        PAR_RANGE(n, lo, hi, name##_f(y + lo, x + lo, a, b, hi - lo));                                   \
    }                                                                                                    \
    CNNRT_WIDE static void name##_b(float *dx, const float *dy, const float *x, const float *y, float a, \
                                    float b, size_t n)                                                   \
    {                                                                                                    \
        (void)a; (void)b; (void)x; (void)y;                                                              \
        for (size_t i = 0; i < n; i++) {                                                                 \
            const float v = x[i], o = y[i], g = dy[i];                                                   \
            (void)v; (void)o;                                                                            \
            dx[i] += (BWD);                                                                              \
        }                                                                                                \
    }                                                                                                    \
    void cnnrt_act_##name##_bwd(float *dx, const float *dy, const float *x, const float *y, float a,     \
                                float b, size_t n)                                                       \
    {                                                                                                    \
        PAR_RANGE(n, lo, hi, name##_b(dx + lo, dy + lo, x + lo, y + lo, a, b, hi - lo));                 \
    }

#define SELU_SCALE 1.0507009873554804934f
#define SELU_SA 1.7580993408473768599f        /* scale·alpha */
#define GELU_K 0.79788456080286535588f        /* √(2/π) */

/* clamp(v, lo, hi) keeping NaN; its gradient passes g strictly inside (0
 * at a NaN, as PyTorch's vectorised kernel: its scalar one passes g) */
ACT_KERNELS(relu6, v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v, v > 0.0f && v < 6.0f ? g : 0.0f)
ACT_KERNELS(hardtanh, v < a ? a : v > b ? b : v, v > a && v < b ? g : 0.0f)
/* (clamp(v + 3, 0, 6)) / 6; gradient g/6 where the output is inside (0, 1),
 * read from the output: right for a fused one too */
ACT_KERNELS(hardsigmoid, (v + 3.0f < 0.0f ? 0.0f : v + 3.0f > 6.0f ? 6.0f : v + 3.0f) / 6.0f,
            o > 0.0f && o < 1.0f ? g * (1.0f / 6.0f) : 0.0f)
ACT_KERNELS(hardswish, v * (v + 3.0f < 0.0f ? 0.0f : v + 3.0f > 6.0f ? 6.0f : v + 3.0f) / 6.0f,
            v < -3.0f ? 0.0f : v > 3.0f ? g : g * (v / 3.0f + 0.5f))    /* NaN: NaN, as vectorised */
ACT_KERNELS(silu, v / (1.0f + expf(-v)),
            g * (1.0f / (1.0f + expf(-v))) * (1.0f + v * (1.0f - 1.0f / (1.0f + expf(-v)))))
ACT_KERNELS(gelu, 0.5f * v * erfcf(-v * 0.70710678118654752f),
            g * (0.5f * erfcf(-v * 0.70710678118654752f) + v * 0.39894228040143268f * expf(-0.5f * v * v)))
ACT_KERNELS(gelu_tanh, v / (1.0f + expf(-2.0f * GELU_K * (v + 0.044715f * v * v * v))),
            g * gelu_tanh_grad(v))
/* alpha·(e^v − 1) below 0; the gradient from the output when alpha > 0
 * (o + alpha = alpha·e^v there), else from the input */
ACT_KERNELS(elu, v <= 0.0f ? a * expm1f(v) : v,
            a > 0.0f ? (o > 0.0f ? g : g * (o + a)) : (v > 0.0f ? g : g * a * expf(v)))
ACT_KERNELS(selu, v <= 0.0f ? SELU_SA * expm1f(v) : SELU_SCALE * v,
            o > 0.0f ? g * SELU_SCALE : g * (o + SELU_SA))
ACT_KERNELS(mish, v * tanhf(log1pf(expf(v))), g * mish_grad(v))
ACT_KERNELS(softplus, v * a > b ? v : log1pf(expf(v * a)) / a,
            v * a > b ? g : g * (1.0f / (1.0f + expf(-v * a))))

const cnnrt_act_kernels cnnrt_act_table[CNNRT_ACT_COUNT] = {
    [CNNRT_ACT_NONE] = { NULL, NULL, NULL },
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y) \
    [CNNRT_ACT_##ID] = { FWD, BWD, bwd_y_##ID },
#include "cnnrt_acts.def"
#undef CNNRT_ACT
};

/* ---- an activation fused into a conv or dense (cnnrt_op.act) --------------- */

void cnnrt_act_forward(const cnnrt_op *op, float *y, size_t count)
{
    if (op->act > CNNRT_ACT_NONE && op->act < CNNRT_ACT_COUNT)
        cnnrt_act_table[op->act].fwd(y, y, op->act_a, op->act_b, count);
}

/* The gradient before a fused activation, act'(pre) · dy, from the output y:
 * dy itself without an activation, else written (not accumulated) into tmp. */
const float *cnnrt_act_backward(const cnnrt_op *op, float *tmp, const float *dy, const float *y, size_t count)
{
    if (op->act <= CNNRT_ACT_NONE || op->act >= CNNRT_ACT_COUNT) return dy;
    memset(tmp, 0, count * sizeof(float));
    cnnrt_act_table[op->act].bwd(tmp, dy, y, y, op->act_a, op->act_b, count);
    return tmp;
}

/* ---- softmax ------------------------------------------------------------- */

void cnnrt_softmax_forward(float *y,           /* [n][D] */
                           const float *x,     /* [n][D] */
                           int n, int D)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * D;
        float *yi = y + (size_t)i * D;
        float m = xi[0];
        for (int j = 1; j < D; j++)
            m = xi[j] > m ? xi[j] : m;
        /* x − m and the exponential in double: rounding x − m to float
         * would cost up to ulp(|x − m|) of relative accuracy per element */
        double s = 0.0;
        for (int j = 0; j < D; j++)
            s += exp((double)xi[j] - m);
        for (int j = 0; j < D; j++)
            yi[j] = (float)(exp((double)xi[j] - m) / s);
    }
}

void cnnrt_softmax_backward(float *dx,         /* [n][D] += */
                            const float *dy,   /* [n][D] */
                            const float *y,    /* [n][D] forward output */
                            int n, int D)
{
    /* differentiates:  y_j = e^{x_j} / Σ_k e^{x_k};  dx_j = y_j (dy_j − Σ_k dy_k y_k) */
    for (int i = 0; i < n; i++) {
        const float *dyi = dy + (size_t)i * D, *yi = y + (size_t)i * D;
        float *dxi = dx + (size_t)i * D;
        double s = 0.0;
        for (int j = 0; j < D; j++)
            s += (double)dyi[j] * yi[j];
        for (int j = 0; j < D; j++)
            dxi[j] += yi[j] * (dyi[j] - (float)s);
    }
}

/* Over channels at each position (x is [n][C][HW], y too). */
void cnnrt_softmax_channels_forward(float *y, const float *x, int n, int C, int HW)
{
    const size_t D = (size_t)C * (size_t)HW;
    for (int s = 0; s < n; s++)
        for (int p = 0; p < HW; p++) {
            const float *xs = x + (size_t)s * D;
            float *ys = y + (size_t)s * D;
            float m = xs[p];
            double z = 0;
            for (int c = 1; c < C; c++) m = fmaxf(m, xs[c * HW + p]);
            for (int c = 0; c < C; c++) z += exp((double)xs[c * HW + p] - m);
            for (int c = 0; c < C; c++)
                ys[c * HW + p] = (float)(exp((double)xs[c * HW + p] - m) / z);
        }
}

void cnnrt_softmax_channels_backward(float *dx, const float *dy, const float *y, int n, int C, int HW)
{
    /* dx_c += y_c (dy_c − Σ_k y_k dy_k) at each position */
    const size_t D = (size_t)C * (size_t)HW;
    for (int s = 0; s < n; s++)
        for (int p = 0; p < HW; p++) {
            const float *ys = y + (size_t)s * D, *gs = dy + (size_t)s * D;
            float *dxs = dx + (size_t)s * D;
            double dot = 0;
            for (int c = 0; c < C; c++) dot += (double)ys[c * HW + p] * gs[c * HW + p];
            for (int c = 0; c < C; c++)
                dxs[c * HW + p] += (float)(ys[c * HW + p] * (gs[c * HW + p] - dot));
        }
}

/* ---- dropout ------------------------------------------------------------- */

void cnnrt_dropout_forward(float *y,           /* [count] */
                           float *mask,        /* [count] saved: 0 or 1/(1−p) */
                           const float *x,     /* [count] */
                           float p, int training, cnnrt_rng *rng, size_t count)
{
    cnnrt_dropout_blocks_forward(y, mask, x, p, training, rng, count, 1);
}

void cnnrt_dropout_blocks_forward(float *y,       /* [count] */
                                  float *mask,    /* [count] saved: 0 or 1/(1−p) */
                                  const float *x, /* [count] */
                                  float p, int training, cnnrt_rng *rng, size_t count,
                                  size_t block)   /* values per draw; count a multiple */
{
    if (!training || p <= 0.0f) {
        if (y != x)
            memmove(y, x, count * sizeof(float));
        if (mask)
            for (size_t i = 0; i < count; i++)
                mask[i] = 1.0f;
        return;
    }
    if (p >= 1.0f) {
        for (size_t i = 0; i < count; i++) {
            y[i] = 0.0f;
            mask[i] = 0.0f;
        }
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    if (block < 1)
        block = 1;
    for (size_t b = 0; b < count; b += block) {
        float m = cnnrt_rng_uniform(rng) >= p ? scale : 0.0f;
        for (size_t i = b; i < b + block && i < count; i++) {
            mask[i] = m;
            y[i] = x[i] * m;
        }
    }
}

void cnnrt_dropout_backward(float *dx,         /* [count] += */
                            const float *dy,   /* [count] */
                            const float *mask, /* [count] */
                            size_t count)
{
    /* differentiates:  y = x · mask */
    for (size_t i = 0; i < count; i++)
        dx[i] += dy[i] * mask[i];
}

/* ---- residual add ---------------------------------------------------------- */

CNNRT_WIDE
static void add_fwd(float *y, const float *a, const float *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = a[i] + b[i];
}

void cnnrt_add_forward(float *y, const float *a, const float *b, size_t count) /* [count] */
{
    PAR_RANGE(count, lo, hi, add_fwd(y + lo, a + lo, b + lo, hi - lo));
}

static void add_scaled(float *y, const float *a, const float *b, float s, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = a[i] + s * b[i];
}

void cnnrt_add_scaled(float *y, const float *a, const float *b, float s, size_t count)
{
    PAR_RANGE(count, lo, hi, add_scaled(y + lo, a + lo, b + lo, s, hi - lo));
}

static void div_(float *y, float d, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] /= d;
}

void cnnrt_div(float *y, float d, size_t count)
{
    PAR_RANGE(count, lo, hi, div_(y + lo, d, hi - lo));
}

void cnnrt_add_backward(float *da,             /* [count] += , or NULL */
                        float *db,             /* [count] += , or NULL */
                        const float *dy,       /* [count] */
                        size_t count)
{
    /* differentiates:  y = a + b */
    if (da)
        PAR_RANGE(count, lo, hi, add_fwd(da + lo, da + lo, dy + lo, hi - lo));
    if (db)
        PAR_RANGE(count, lo, hi, add_fwd(db + lo, db + lo, dy + lo, hi - lo));
}

/* ---- PReLU ------------------------------------------------------------------ */

void cnnrt_prelu_forward(float *y,             /* [n][C][HW] (may be x) */
                         const float *x,       /* [n][C][HW] */
                         const float *a,       /* [na]: one slope, or one per channel */
                         int n, int C, int HW, int na)
{
    for (size_t r = 0; r < (size_t)n * C; r++) {
        const float s = a[na == 1 ? 0 : (int)(r % (size_t)C)];
        for (int p = 0; p < HW; p++) {
            const float v = x[r * HW + p];
            y[r * HW + p] = v > 0.0f ? v : s * v;
        }
    }
}

void cnnrt_prelu_backward(float *dx,           /* [n][C][HW] +=, or NULL */
                          float *da,           /* [na] += */
                          const float *dy,     /* [n][C][HW] */
                          const float *x, const float *a,
                          int n, int C, int HW, int na)
{
    /* differentiates:  y = x if x > 0 else a·x  (PyTorch's: the slope's side at 0) */
    double sum = 0;
    for (size_t r = 0; r < (size_t)n * C; r++) {
        const int c = na == 1 ? 0 : (int)(r % (size_t)C);
        const float s = a[c];
        double part = 0;
        for (int p = 0; p < HW; p++) {
            const size_t i = r * HW + p;
            if (x[i] > 0.0f) {
                if (dx) dx[i] += dy[i];
            } else {
                if (dx) dx[i] += s * dy[i];
                part += (double)dy[i] * x[i];
            }
        }
        if (na == 1) sum += part;
        else da[c] += (float)part;
    }
    if (na == 1) da[0] += (float)sum;
}

/* ---- channel concat -------------------------------------------------------- */

void cnnrt_mul_forward(float *y,             /* [n][C][HW] */
                       const float *a,       /* [n][C][HW] */
                       const float *b,       /* [n][C][HWb] */
                       int n, int C, int HW, int HWb)
{
    for (size_t r = 0; r < (size_t)n * C; r++)
        for (int p = 0; p < HW; p++) y[r * HW + p] = a[r * HW + p] * b[r * HWb + (HWb == 1 ? 0 : p)];
}

void cnnrt_mul_backward(float *da,           /* [n][C][HW] +=, or NULL */
                        float *db,           /* [n][C][HWb] +=, or NULL */
                        const float *dy,     /* [n][C][HW] */
                        const float *a, const float *b,
                        int n, int C, int HW, int HWb)
{
    /* differentiates:  y = a · b (b broadcast over HW when HWb = 1) */
    for (size_t r = 0; r < (size_t)n * C; r++) {
        double s = 0;
        for (int p = 0; p < HW; p++) {
            const size_t i = r * HW + p, j = r * HWb + (HWb == 1 ? 0 : p);
            if (da) da[i] += dy[i] * b[j];
            if (db && HWb != 1) db[j] += dy[i] * a[i];
            s += (double)dy[i] * a[i];
        }
        if (db && HWb == 1) db[r] += (float)s;
    }
}

void cnnrt_concat_forward(float *y,               /* [n][Σcs][HW] */
                          const float *const *xs, /* k × [n][cs[i]][HW] */
                          const int *cs,          /* [k] channels per input */
                          int k, int n, int HW)
{
    int ctot = 0;
    for (int j = 0; j < k; j++)
        ctot += cs[j];
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * ctot * HW;
        for (int j = 0; j < k; j++) {
            size_t len = (size_t)cs[j] * HW;
            memcpy(yi, xs[j] + i * len, len * sizeof(float));
            yi += len;
        }
    }
}

void cnnrt_concat_backward(float *const *dxs,     /* k × [n][cs[i]][HW] += (entries may be NULL) */
                           const float *dy,       /* [n][Σcs][HW] */
                           const int *cs,         /* [k] */
                           int k, int n, int HW)
{
    /* differentiates:  y[i] = (x_0[i], x_1[i], …, x_{k−1}[i]) along channels */
    int ctot = 0;
    for (int j = 0; j < k; j++)
        ctot += cs[j];
    for (int i = 0; i < n; i++) {
        const float *dyi = dy + (size_t)i * ctot * HW;
        for (int j = 0; j < k; j++) {
            size_t len = (size_t)cs[j] * HW;
            if (dxs[j]) {
                float *d = dxs[j] + i * len;
                for (size_t e = 0; e < len; e++)
                    d[e] += dyi[e];
            }
            dyi += len;
        }
    }
}

/* ---- flatten: a no-op on NCHW memory; these copy for separate buffers ------ */

void cnnrt_flatten_forward(float *y, const float *x, size_t count) /* [n][C·H·W] ← [n][C][H][W] */
{
    if (y != x)
        memmove(y, x, count * sizeof(float));
}

void cnnrt_flatten_backward(float *dx, const float *dy, size_t count)
{
    /* differentiates:  y = x (reinterpreted) */
    for (size_t i = 0; i < count; i++)
        dx[i] += dy[i];
}
