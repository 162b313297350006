/*
 * quant.c — the arithmetic of int8 quantization: activation and weight
 * scales, biases, the requantization multiplier and the requantization,
 * relu/relu6 clamps, and the calibration ranges.  docs/quantize.md ("The
 * arithmetic") is the specification; each function here implements one of
 * its formulas, and the tests (tests/compiler/test_cc_quant.c) check them
 * against exact arithmetic.
 *
 * Two rounding rules, each in one place:
 *   - float -> int (quantizing an activation, a weight, a bias, the
 *     multiplier, relu6's bound): half away from zero, C99's round()/roundf();
 *   - requantization: half toward +infinity, floor(v / 2^s + 1/2), one
 *     rounding of the exact product acc * mult.
 */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

const char *quant_strerror(int code) {
    switch (code) {
    case QUANT_OK: return "no error";
    case QUANT_SATURATED: return "value saturated to its integer range";
    case QUANT_EDOMAIN: return "argument not finite or outside its domain";
    case QUANT_ERANGE: return "multiplier of 2^30 - 1/4 or more cannot be represented";
    default: return "unknown quantization error";
    }
}

/* ---- activations -------------------------------------------------------- */

int quant_affine(double lo, double hi, QuantAffine *a) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) return QUANT_EDOMAIN;
    if (lo > 0) lo = 0;                      /* the range holds real 0 */
    if (hi < 0) hi = 0;
    if (hi - lo == 0) {                      /* an all-zero tensor */
        a->scale = 1;
        a->zp = 0;
        return QUANT_OK;
    }
    double s = (hi - lo) / 255;
    if (!(s <= (double)FLT_MAX)) return QUANT_EDOMAIN;
    s = (double)(float)s;                    /* the scale is the float32 one */
    if (s < QUANT_SCALE_MIN) s = QUANT_SCALE_MIN;
    double z = -128 - round(lo / s);
    a->scale = (float)s;
    a->zp = (int)(z < -128 ? -128 : z > 127 ? 127 : z);
    return QUANT_OK;
}

/* Mirrored line for line by the generated code: keep the two identical. */
int8_t quant_quantize(float x, float scale, int zp) {
    float v = roundf(x / scale);             /* half away from zero */
    if (v != v) return (int8_t)zp;           /* NaN: real 0 */
    if (v < -256.0f) v = -256.0f;            /* so that (int)v is defined */
    if (v > 256.0f) v = 256.0f;
    int q = (int)v + zp;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

/* Mirrored by the generated code. */
float quant_dequantize(int q, float scale, int zp) {
    return (float)(q - zp) * scale;
}

/* ---- weights ------------------------------------------------------------ */

int quant_weights(const float *w, long long n, int8_t *q, float *scale) {
    float amax = 0;
    for (long long i = 0; i < n; i++) {
        if (!isfinite(w[i])) return QUANT_EDOMAIN;
        if (fabsf(w[i]) > amax) amax = fabsf(w[i]);
    }
    double s = (double)amax / 127;
    if (s < (double)FLT_MIN) {               /* all zero, or nearly: no float32 scale */
        *scale = 1;
        if (n > 0) memset(q, 0, (size_t)n);
        return QUANT_OK;
    }
    float sf = (float)s;
    for (long long i = 0; i < n; i++) {
        float v = roundf(w[i] / sf);         /* |w / sf| <= 127 (1 + 2^-23): the clamp */
        q[i] = (int8_t)(v < -127.0f ? -127 : v > 127.0f ? 127 : (int)v);   /* never acts */
    }
    *scale = sf;
    return QUANT_OK;
}

/* ---- bias and accumulator ----------------------------------------------- */

static bool scale_ok(float s) { return isfinite(s) && s > 0; }

int quant_bias(float b, float s_in, float s_w, int32_t *q) {
    if (!isfinite(b) || !scale_ok(s_in) || !scale_ok(s_w)) return QUANT_EDOMAIN;
    double v = round((double)b / ((double)s_in * (double)s_w));
    if (v > INT32_MAX) { *q = INT32_MAX; return QUANT_SATURATED; }
    if (v < INT32_MIN) { *q = INT32_MIN; return QUANT_SATURATED; }
    *q = (int32_t)v;
    return QUANT_OK;
}

int quant_fold_zero_point(int32_t q_b, int zp_x, const int8_t *q_w, long long n, int32_t *folded) {
    int64_t sum = 0;
    for (long long i = 0; i < n; i++) sum += q_w[i];
    int64_t v = (int64_t)q_b - (int64_t)zp_x * sum;
    if (v > INT32_MAX) { *folded = INT32_MAX; return QUANT_SATURATED; }
    if (v < INT32_MIN) { *folded = INT32_MIN; return QUANT_SATURATED; }
    *folded = (int32_t)v;
    return QUANT_OK;
}

bool quant_acc_fits(long long n, int32_t b) {
    const long long term = 128 * 127;        /* the largest |q_x * q_w| */
    if (n < 0 || n > INT32_MAX / term) return false;
    long long ab = b < 0 ? -(long long)b : b;
    return n * term + ab <= INT32_MAX;
}

/* ---- requantization ----------------------------------------------------- */

double quant_real_multiplier(float s_in, float s_w, float s_out) {
    return (double)s_in * (double)s_w / (double)s_out;
}

int quant_multiplier(double m, int32_t *mult, int *shift) {
    if (!isfinite(m) || !(m > 0)) return QUANT_EDOMAIN;
    int e;
    double f = frexp(m, &e);                 /* m = f * 2^e, f in [0.5, 1) */
    long long q = (long long)round(ldexp(f, 31));   /* exact scaling; q in [2^30, 2^31] */
    int s = 31 - e;
    if (q == 1LL << 31) {                    /* rounded up to 2^31: 2^30 at one shift less */
        q >>= 1;
        s--;
    }
    if (s > 62) {                            /* M < 2^-32: |acc * M| <= 1/2 rounds to 0 */
        *mult = 0;
        *shift = 1;
        return QUANT_OK;
    }
    if (s < 1) return QUANT_ERANGE;
    *mult = (int32_t)q;
    *shift = s;
    return QUANT_OK;
}

/* Mirrored line for line by the generated code: keep the two identical.
 * |acc * mult| <= 2^62, so u = acc * mult + 2^(shift-1) + 2^63 lies in
 * [0, 2^64) (computed modulo 2^64, it is exact); u >> shift is then
 * floor(u / 2^shift), and taking 2^(63-shift) off undoes the 2^63. */
int32_t quant_requantize(int32_t acc, int32_t mult, int shift, int zp, int lo, int hi) {
    uint64_t u = (uint64_t)((int64_t)acc * mult) + ((uint64_t)1 << 63) + ((uint64_t)1 << (shift - 1));
    int64_t r = (int64_t)(u >> shift) - (int64_t)((uint64_t)1 << (63 - shift)) + zp;
    return (int32_t)(r < lo ? lo : r > hi ? hi : r);
}

/* ---- activation clamps -------------------------------------------------- */

void quant_act_range(QuantAct act, float s_out, int zp, int *lo, int *hi) {
    *lo = act == QUANT_ACT_NONE ? -128 : zp > -128 ? zp : -128;
    *hi = 127;
    if (act == QUANT_ACT_RELU6) {
        double top = zp + round(6.0 / (double)s_out);   /* >= zp */
        if (top < 127) *hi = (int)top;
    }
}

/* ---- calibration -------------------------------------------------------- */

void quant_minmax_init(QuantMinMax *m) {
    m->min = INFINITY;
    m->max = -INFINITY;
    m->count = m->nonfinite = 0;
}

void quant_minmax_add(QuantMinMax *m, const float *x, long long n) {
    for (long long i = 0; i < n; i++) {
        if (!isfinite(x[i])) { m->nonfinite++; continue; }
        if ((double)x[i] < m->min) m->min = x[i];
        if ((double)x[i] > m->max) m->max = x[i];
        m->count++;
    }
}

/* v inside the data's [min, max] */
static double clamp_seen(const QuantMinMax *m, double v) {
    return v < m->min ? m->min : v > m->max ? m->max : v;
}

int quant_range_minmax(const QuantMinMax *m, QuantRange *r) {
    r->lo = m->count ? m->min : 0;
    r->hi = m->count ? m->max : 0;
    return QUANT_OK;
}

void quant_hist_init(QuantHist *h, const QuantMinMax *first_pass) {
    memset(h->bin, 0, sizeof h->bin);
    quant_minmax_init(&h->seen);
    double a = first_pass->count ? fmax(fabs(first_pass->min), fabs(first_pass->max)) : 0;
    h->amax = a > 0 ? a : 1;
}

void quant_hist_add(QuantHist *h, const float *x, long long n) {
    quant_minmax_add(&h->seen, x, n);
    for (long long i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        double t = ((double)x[i] / h->amax + 1) * (QUANT_HIST_BINS / 2);
        h->bin[t <= 0 ? 0 : t >= QUANT_HIST_BINS ? QUANT_HIST_BINS - 1 : (long long)t]++;
    }
}

/* The value below which rank of the counts lie, the counts spread evenly
 * across each bin (the inverse of the piecewise-linear CDF through the
 * bin edges). */
static double hist_quantile(const QuantHist *h, double rank) {
    double w = 2 * h->amax / QUANT_HIST_BINS, below = 0;
    int last = 0;
    for (int k = 0; k < QUANT_HIST_BINS; k++) {
        if (!h->bin[k]) continue;
        if (below + (double)h->bin[k] >= rank) return -h->amax + w * (k + (rank - below) / (double)h->bin[k]);
        below += (double)h->bin[k];
        last = k;
    }
    return -h->amax + w * (last + 1);
}

int quant_range_percentile(const QuantHist *h, double p, QuantRange *r) {
    if (!(p > 0 && p <= 1)) return QUANT_EDOMAIN;
    if (!h->seen.count) { r->lo = r->hi = 0; return QUANT_OK; }
    double n = (double)h->seen.count;
    r->lo = clamp_seen(&h->seen, hist_quantile(h, n * (1 - p) / 2));
    r->hi = clamp_seen(&h->seen, hist_quantile(h, n * (1 + p) / 2));
    return QUANT_OK;
}

enum { KL_BINS = QUANT_HIST_BINS / 2 };     /* bins of |x| */
#define KL_EPS 1e-4                          /* the count an empty bin gets */

/* KL(P || Q) over n bins of counts, both smoothed: each empty bin gets
 * KL_EPS, and the others give it back in proportion to their counts (the
 * total is unchanged); then both are normalised.  Infinite when Q is empty. */
static double kl_divergence(const double *p, const double *q, int n) {
    double sp = 0, sq = 0;
    int zp = 0, zq = 0;
    for (int j = 0; j < n; j++) {
        sp += p[j], sq += q[j];
        zp += p[j] == 0, zq += q[j] == 0;
    }
    if (sq == 0) return INFINITY;
    double kp = 1 - KL_EPS * zp / sp, kq = 1 - KL_EPS * zq / sq, kl = 0;
    for (int j = 0; j < n; j++) {
        double pj = (p[j] == 0 ? KL_EPS : p[j] * kp) / sp;
        double qj = (q[j] == 0 ? KL_EPS : q[j] * kq) / sq;
        kl += pj * log(pj / qj);
    }
    return kl;
}

/* TensorRT's entropy calibration, over the histogram folded to KL_BINS
 * bins of |x|.  For each candidate i = QUANT_KL_LEVELS .. KL_BINS: P = the
 * first i bins, the counts beyond added to the last; Q = those i bins
 * (without the outliers) merged into QUANT_KL_LEVELS groups of bins
 * [g*i/L, (g+1)*i/L), each group's count spread evenly over its bins where
 * P is not empty.  The least KL(P || Q) (the largest i on a tie) gives
 * t = i * amax / KL_BINS.  The first bin of |x| takes its neighbour's
 * count first, as NVIDIA's pytorch-quantization does: a ReLU's zeros all
 * land there (0 is exact in int8), and that spike, merged with its
 * neighbours in Q, would otherwise decide the threshold. */
int quant_range_kl(const QuantHist *h, QuantRange *r) {
    if (!h->seen.count) { r->lo = r->hi = 0; return QUANT_OK; }
    double hist[KL_BINS], p[KL_BINS], q[KL_BINS], total = 0;
    for (int j = 0; j < KL_BINS; j++) hist[j] = (double)h->bin[KL_BINS + j] + (double)h->bin[KL_BINS - 1 - j];
    hist[0] = hist[1];                       /* the zeros' spike */
    for (int j = 0; j < KL_BINS; j++) total += hist[j];
    double best = INFINITY, inner = 0;
    int best_i = KL_BINS;
    for (int j = 0; j < QUANT_KL_LEVELS - 1; j++) inner += hist[j];
    for (int i = QUANT_KL_LEVELS; i <= KL_BINS; i++) {
        inner += hist[i - 1];                /* the counts of bins [0, i) */
        memcpy(p, hist, (size_t)i * sizeof *p);
        p[i - 1] += total - inner;
        for (int g = 0; g < QUANT_KL_LEVELS; g++) {
            int a = g * i / QUANT_KL_LEVELS, b = (g + 1) * i / QUANT_KL_LEVELS, used = 0;
            double sum = 0;
            for (int j = a; j < b; j++) {
                sum += hist[j];
                used += p[j] != 0;
            }
            for (int j = a; j < b; j++) q[j] = p[j] != 0 ? sum / used : 0;
        }
        double kl = kl_divergence(p, q, i);
        if (kl <= best) {
            best = kl;
            best_i = i;
        }
    }
    double t = best_i * h->amax / KL_BINS;
    r->lo = clamp_seen(&h->seen, -t);
    r->hi = clamp_seen(&h->seen, t);
    return QUANT_OK;
}
