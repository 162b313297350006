/*
 * quant.h — the arithmetic of int8 post-training quantization (issue 19):
 * scales and zero points, the int32 bias, the fixed-point multiplier of a
 * requantization and the requantization itself, the clamps that absorb
 * relu/relu6, and the calibration ranges (min/max, percentile, KL).
 * docs/quantize.md ("The arithmetic") states every formula and rule.
 *
 *   activations  int8, asymmetric, per tensor: x = (q - zp) * scale
 *   weights      int8 in [-127, 127], symmetric, per output channel: w = q * scale
 *   bias         int32, scale s_in * s_w[oc]
 *   accumulator  int32: acc = sum (q_x - zp_x) * q_w + q_b
 *   output       clamp(zp_out + round(acc * M), lo, hi), M = s_in * s_w[oc] / s_out
 *                as mult * 2^-shift
 *
 * Pure functions: no global state, no printing, no allocation.  Errors are
 * the QUANT_E* codes (negative); QUANT_SATURATED (positive) says a value
 * was clamped to its integer range and written anyway.
 */
#ifndef CNNC_QUANT_H
#define CNNC_QUANT_H

#include <stdbool.h>
#include <stdint.h>

enum {
    QUANT_OK = 0,
    QUANT_SATURATED = 1,      /* the value did not fit its integer type: clamped and written */
    QUANT_EDOMAIN = -1,       /* an argument is NaN or infinite, or outside its domain */
    QUANT_ERANGE = -2,        /* a multiplier of 2^30 - 1/4 or more: no shift of 1 or more */
};
const char *quant_strerror(int code);

/* ---- activations: asymmetric, per tensor -------------------------------- */
typedef struct QuantAffine {
    float scale;              /* float32: what the generated code and its header state */
    int zp;                   /* the zero point, in [-128, 127]: real 0 exactly */
} QuantAffine;

#define QUANT_SCALE_MIN 1.1920928955078125e-07   /* 2^-23, FLT_EPSILON: the smallest scale
                                                    of a range that is not exactly 0 */

/* The scale and zero point of the range [lo, hi] (lo <= hi, both finite),
 * widened to contain 0; [0, 0] gives scale 1, zero point 0.  QUANT_EDOMAIN
 * for a NaN or infinite bound or lo > hi. */
int quant_affine(double lo, double hi, QuantAffine *a);

/* q = clamp(round_half_away(x / scale) + zp, -128, 127); NaN gives zp.
 * Mirrored line for line by the generated code: keep the two identical. */
int8_t quant_quantize(float x, float scale, int zp);

/* x = (q - zp) * scale, in float.  Mirrored by the generated code. */
float quant_dequantize(int q, float scale, int zp);

/* ---- weights: symmetric, per output channel ----------------------------- */
/* One output channel of n weights: *scale = float32(amax / 127),
 * q[i] = clamp(round_half_away(w[i] / *scale), -127, 127).  A channel with
 * amax / 127 below FLT_MIN (an all-zero channel) gets scale 1 and q = 0.
 * QUANT_EDOMAIN, and nothing written, when a weight is NaN or infinite. */
int quant_weights(const float *w, long long n, int8_t *q, float *scale);

/* ---- bias and accumulator ----------------------------------------------- */
/* *q = round_half_away(b / (s_in * s_w)) saturated to int32 (QUANT_SATURATED
 * then); QUANT_EDOMAIN when b is not finite or a scale is not > 0. */
int quant_bias(float b, float s_in, float s_w, int32_t *q);

/* The input zero point folded into the bias, so that a kernel computes
 * acc = sum q_x * q_w + *folded:  *folded = q_b - zp_x * sum(q_w[0..n-1]),
 * in int64, saturated to int32 (QUANT_SATURATED then). */
int quant_fold_zero_point(int32_t q_b, int zp_x, const int8_t *q_w, long long n, int32_t *folded);

/* true when every partial sum of a window of n products q_x * q_w (each of
 * magnitude at most 128 * 127) plus the bias b stays inside int32 */
bool quant_acc_fits(long long n, int32_t b);

/* ---- requantization ----------------------------------------------------- */
/* M = s_in * s_w / s_out, in double (the product of two floats is exact). */
double quant_real_multiplier(float s_in, float s_w, float s_out);

/* M as mult * 2^-shift: mult = round_half_away(M * 2^shift) in [2^30, 2^31),
 * shift in [1, 62].  An M that would need a shift above 62 (M below 2^-32,
 * but for those that round up to it) gives mult 0, shift 1: acc * M rounds
 * to 0 for every int32 acc.  QUANT_EDOMAIN for M NaN, infinite or <= 0;
 * QUANT_ERANGE for M >= 2^30 - 1/4 (the shift would be below 1). */
int quant_multiplier(double m, int32_t *mult, int *shift);

/* clamp(zp + floor((acc * mult + 2^(shift-1)) / 2^shift), lo, hi): acc * M
 * rounded once, half toward +infinity.  Needs mult in [0, 2^31) and shift in
 * [1, 62] (what quant_multiplier gives).  Portable C99: the floor division
 * is an unsigned shift, never a right shift of a negative value.
 * Mirrored line for line by the generated code: keep the two identical. */
int32_t quant_requantize(int32_t acc, int32_t mult, int shift, int zp, int lo, int hi);

/* ---- activation clamps -------------------------------------------------- */
typedef enum QuantAct { QUANT_ACT_NONE, QUANT_ACT_RELU, QUANT_ACT_RELU6 } QuantAct;

/* The output clamp [*lo, *hi] that absorbs act: none [-128, 127]; relu
 * [max(-128, zp), 127]; relu6 also hi = min(127, zp + round_half_away(6 / s_out)). */
void quant_act_range(QuantAct act, float s_out, int zp, int *lo, int *hi);

/* ---- calibration -------------------------------------------------------- */
enum { QUANT_HIST_BINS = 2048, QUANT_KL_LEVELS = 128 };
#define QUANT_PERCENTILE_DEFAULT 0.9999

typedef struct QuantRange { double lo, hi; } QuantRange;

/* Values seen: NaN and +-infinity are counted in nonfinite and otherwise
 * ignored. */
typedef struct QuantMinMax {
    double min, max;          /* of the finite values (+inf, -inf before any) */
    long long count;          /* finite values */
    long long nonfinite;
} QuantMinMax;

void quant_minmax_init(QuantMinMax *m);
void quant_minmax_add(QuantMinMax *m, const float *x, long long n);

/* A histogram of QUANT_HIST_BINS bins over [-amax, amax], amax from a first
 * min/max pass (1 when that saw only zeros or nothing).  Bin k holds
 * floor((x / amax + 1) * BINS / 2) = k; values outside go to the end bins. */
typedef struct QuantHist {
    double amax;
    QuantMinMax seen;         /* of the values added to the histogram */
    long long bin[QUANT_HIST_BINS];
} QuantHist;

void quant_hist_init(QuantHist *h, const QuantMinMax *first_pass);
void quant_hist_add(QuantHist *h, const float *x, long long n);

/* The calibration ranges, each clamped into [min, max] of the data ([0, 0]
 * when there were none): min/max itself; the central fraction p (0 < p <= 1,
 * else QUANT_EDOMAIN) of the histogram; the KL-divergence threshold t as
 * TensorRT's entropy calibrator chooses it, as [-t, t] (docs/quantize.md
 * has the details: interpolation, smoothing, the spike of zeros). */
int quant_range_minmax(const QuantMinMax *m, QuantRange *r);
int quant_range_percentile(const QuantHist *h, double p, QuantRange *r);
int quant_range_kl(const QuantHist *h, QuantRange *r);

#endif
