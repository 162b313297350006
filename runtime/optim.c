/*
 * optim.c — optimizers over one flat parameter block, and learning-rate
 * schedules.  Each step is one loop over the block (llm.c style) and
 * follows the single-tensor path of torch.optim in PyTorch 1.13 operation
 * by operation, so results agree to float rounding.  Scalars (bias
 * corrections, step sizes) are computed in double as Python does, then
 * rounded to float where torch rounds them (a scalar applied to a float32
 * tensor).  Expressions keep ATen's evaluation order: addcmul is
 * s + v·t1·t2 and addcdiv s + v·t1/t2, left to right; add(b, alpha) is
 * computed by ATen's vector kernels as one fused multiply-add, so it is
 * fmaf(alpha, b, a) here (exact C99; one rounding, also the more accurate).
 * With that the results match PyTorch's AVX2 CPU build bit for bit.
 *
 * Shape legend
 *   count                 floats in the block
 *   param, grad [count]   state [blocks][count] (see cnnrt_optim_step)
 */
#include "cnnrt.h"
#include "cnnrt_simd.h"
#include "cnnrt_par.h"
#include "cnnrt_priv.h"

#include <math.h>

cnnrt_optim cnnrt_optim_defaults(cnnrt_optim_kind kind)
{
    cnnrt_optim o = {.kind = kind};
    switch (kind) {
    case CNNRT_SGD:
        break;
    case CNNRT_ADAGRAD:
        o.eps = 1e-10;
        break;
    case CNNRT_RMSPROP:
        o.alpha = 0.99;
        o.eps = 1e-8;
        break;
    case CNNRT_ADAM:
        o.beta1 = 0.9;
        o.beta2 = 0.999;
        o.eps = 1e-8;
        break;
    case CNNRT_ADAMW:
        o.beta1 = 0.9;
        o.beta2 = 0.999;
        o.eps = 1e-8;
        o.weight_decay = 1e-2;
        break;
    }
    return o;
}

int cnnrt_optim_state_blocks(const cnnrt_optim *o)
{
    switch (o->kind) {
    case CNNRT_SGD: return o->momentum != 0.0 ? 1 : 0;
    case CNNRT_ADAGRAD: return 1;
    case CNNRT_RMSPROP: return 1 + (o->momentum > 0.0) + (o->centered != 0);
    case CNNRT_ADAM:
    case CNNRT_ADAMW: return 2;
    }
    return 0;
}

/* torch.optim.SGD:  d = g + wd·p;  buf = d (step 1) | momentum·buf + (1−dampening)·d;
 * d = nesterov ? d + momentum·buf : buf;  p −= lr·d */
CNNRT_WIDE
static void sgd(float *restrict p, float *restrict buf, const float *restrict g, const cnnrt_optim *o,
                double lr, long step, size_t lo, size_t hi)
{
    const float wd = (float)o->weight_decay, mom = (float)o->momentum;
    const float damp1 = (float)(1.0 - o->dampening), neglr = (float)-lr;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (o->weight_decay != 0.0)
            d = fmaf(wd, p[i], d);
        if (o->momentum != 0.0) {
            buf[i] = step == 1 ? d : fmaf(damp1, d, buf[i] * mom);
            d = o->nesterov ? fmaf(mom, buf[i], d) : buf[i];
        }
        p[i] = fmaf(neglr, d, p[i]);
    }
}

/* torch.optim.Adagrad:  g += wd·p;  clr = lr / (1 + (step−1)·lr_decay);
 * sum += g²;  p −= clr · g / (√sum + eps)      (eps outside the root) */
CNNRT_WIDE
static void adagrad(float *restrict p, float *restrict sum, const float *restrict g, const cnnrt_optim *o,
                    double lr, long step, size_t lo, size_t hi)
{
    const float wd = (float)o->weight_decay, eps = (float)o->eps;
    const float negclr = (float)(-lr / (1.0 + (double)(step - 1) * o->lr_decay));
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (o->weight_decay != 0.0)
            d = fmaf(wd, p[i], d);
        sum[i] = sum[i] + d * d;
        p[i] = p[i] + negclr * d / (sqrtf(sum[i]) + eps);
    }
}

/* torch.optim.RMSprop:  g += wd·p;  sq = α·sq + (1−α)·g²;
 * centered: ga = α·ga + (1−α)·g, avg = √(sq − ga²) + eps, else avg = √sq + eps;
 * momentum: buf = momentum·buf + g/avg, p −= lr·buf;  else p −= lr·g/avg */
CNNRT_WIDE
static void rmsprop(float *restrict p, float *restrict state, const float *restrict g, const cnnrt_optim *o,
                    double lr, size_t count, size_t lo, size_t hi)
{
    const float wd = (float)o->weight_decay, eps = (float)o->eps;
    const float alpha = (float)o->alpha, alpha1 = (float)(1.0 - o->alpha);
    const float mom = (float)o->momentum, neglr = (float)-lr;
    float *sq = state, *buf = state + count, *ga = state + count;
    if (o->momentum > 0.0)
        ga += count;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (o->weight_decay != 0.0)
            d = fmaf(wd, p[i], d);
        sq[i] = sq[i] * alpha + alpha1 * d * d;
        float avg;
        if (o->centered) {
            ga[i] = fmaf(alpha1, d, ga[i] * alpha);
            avg = sqrtf(sq[i] + -1.0f * ga[i] * ga[i]) + eps;
        } else {
            avg = sqrtf(sq[i]) + eps;
        }
        if (o->momentum > 0.0) {
            buf[i] = buf[i] * mom + d / avg;
            p[i] = fmaf(neglr, buf[i], p[i]);
        } else {
            p[i] = p[i] + neglr * d / avg;
        }
    }
}

/* torch.optim.Adam / AdamW:
 *   AdamW: p *= 1 − lr·wd (decoupled);  Adam: g += wd·p (L2)
 *   m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
 *   denom = √v / √(1 − β2^t) + eps           (eps outside, after the correction)
 *   p −= lr/(1 − β1^t) · m / denom */
CNNRT_WIDE
static void adam(float *restrict p, float *restrict state, const float *restrict g, const cnnrt_optim *o,
                 double lr, long step, size_t count, size_t lo, size_t hi)
{
    const int decoupled = o->kind == CNNRT_ADAMW;
    const float wd = (float)o->weight_decay, decay = (float)(1.0 - lr * o->weight_decay);
    const float b1 = (float)o->beta1, b1c = (float)(1.0 - o->beta1);
    const float b2 = (float)o->beta2, b2c = (float)(1.0 - o->beta2);
    const double bc1 = 1.0 - pow(o->beta1, (double)step);
    const double bc2 = 1.0 - pow(o->beta2, (double)step);
    const float negstep = (float)-(lr / bc1), bc2s = (float)sqrt(bc2), eps = (float)o->eps;
    float *m = state, *v = state + count;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (o->weight_decay != 0.0) {
            if (decoupled)
                p[i] = p[i] * decay;
            else
                d = fmaf(wd, p[i], d);
        }
        m[i] = fmaf(b1c, d, m[i] * b1);
        v[i] = v[i] * b2 + b2c * d * d;
        float denom = sqrtf(v[i]) / bc2s + eps;
        p[i] = p[i] + negstep * m[i] / denom;
    }
}

int cnnrt_optim_step(float *param,          /* [count] in/out */
                     float *state,          /* [blocks][count] in/out */
                     const float *grad,     /* [count] */
                     const cnnrt_optim *o, double lr, long step, size_t count)
{
    if (step < 1)
        return CNNRT_EINVAL;
    if (o->kind != CNNRT_SGD && o->kind != CNNRT_ADAGRAD && o->kind != CNNRT_RMSPROP && o->kind != CNNRT_ADAM &&
        o->kind != CNNRT_ADAMW)
        return CNNRT_EINVAL;
    /* the threads share the parameters (cnnrt_par.h) */
    PAR_RANGE(count, lo, hi, switch (o->kind) {
        case CNNRT_SGD: sgd(param, state, grad, o, lr, step, lo, hi); break;
        case CNNRT_ADAGRAD: adagrad(param, state, grad, o, lr, step, lo, hi); break;
        case CNNRT_RMSPROP: rmsprop(param, state, grad, o, lr, count, lo, hi); break;
        case CNNRT_ADAM:
        case CNNRT_ADAMW: adam(param, state, grad, o, lr, step, count, lo, hi); break;
    });
    return CNNRT_OK;
}

double cnnrt_lr_at(const cnnrt_lr_schedule *s, long t)
{
    const double pi = 3.14159265358979323846;
    if (s->warmup_steps > 0 && t < s->warmup_steps)
        return s->base_lr * (s->warmup_start_factor +
                             (1.0 - s->warmup_start_factor) * (double)t / (double)s->warmup_steps);
    const long u = t - (s->warmup_steps > 0 ? s->warmup_steps : 0);
    switch (s->kind) {
    case CNNRT_LR_CONSTANT:
        return s->base_lr;
    case CNNRT_LR_STEP:
        return s->base_lr * pow(s->gamma, (double)(s->step_size > 0 ? u / s->step_size : 0));
    case CNNRT_LR_COSINE: {
        const double f = s->T > 0 ? (double)(u < s->T ? u : s->T) / (double)s->T : 1.0;
        return s->min_lr + (s->base_lr - s->min_lr) * (1.0 + cos(pi * f)) / 2.0;
    }
    }
    return s->base_lr;
}

/* ---- the check before a step ------------------------------------------------ */

/* 1 when g[0..n) holds a NaN or an infinity: Σ g·0 is ±0 when every g is
 * finite, else NaN (sixteen partial sums, so the loop vectorises) */
CNNRT_WIDE static int any_bad(const float *g, size_t n)
{
    float s[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int l = 0; l < 16; l++) s[l] += g[k + l] * 0.0f;
    for (; k < n; k++) s[0] += g[k] * 0.0f;
    float t = 0.0f;
    for (int l = 0; l < 16; l++) t += s[l];
    return t != 0.0f;
}

int cnnrt_any_nonfinite(const float *g, size_t n)
{
    int bad = 0;
#pragma omp parallel reduction(| : bad) if (n >= PAR_MIN)
    {
        size_t lo, hi;
        par_share(n, 16, &lo, &hi);
        bad |= any_bad(g + lo, hi - lo);
    }
    return bad;
}
