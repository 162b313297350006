/*
 * test_cc_quant.c — the int8 quantization arithmetic (compiler/quant.c),
 * against references computed another way:
 *
 *   - the multiplier and the requantization against exact rational
 *     arithmetic: a double M is m * 2^e exactly (m a 53-bit integer, from
 *     frexp), and every comparison is done in 128-bit integers
 *     (__int128: a GCC/clang extension, used here in the test only, never
 *     in quant.c or the generated code);
 *   - roundings against a separate half-away rule (floor(|v| + 1/2) in
 *     double, exact for any float v) and hand-worked values chosen so that
 *     half-away, half-even and half-up disagree;
 *   - the calibration ranges against data whose quantiles are known
 *     (0..N-1, bins filled exactly, a Gaussian's tabulated quantile).
 *
 * Random data come from a fixed-seed splitmix64, never zeros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "quant.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 i128;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void) {              /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double rng_unit(void) { return (double)(rng_next() >> 11) * 0x1p-53; }   /* [0, 1) */

static double rng_gauss(void) {               /* Box-Muller */
    double u = 1 - rng_unit(), v = rng_unit();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static int32_t rng_acc(void) {                /* full range, or a log-uniform magnitude */
    if (rng_next() & 1) return (int32_t)(uint32_t)rng_next();
    double mag = ldexp(1, (int)(rng_next() % 31)) * (1 + rng_unit());
    int32_t a = (int32_t)(mag > INT32_MAX ? INT32_MAX : mag);
    return rng_next() & 1 ? a : -a;
}

static double log_uniform(double lo_exp, double hi_exp) {
    return exp2(lo_exp + (hi_exp - lo_exp) * rng_unit());
}

/* round half away from zero, independently of round()/roundf(): exact for
 * any float v (|v| + 1/2 is exact in double below 2^29, and larger floats
 * are integers) */
static double ref_round(double v) {
    double r = floor(fabs(v) + 0.5);
    return v < 0 ? -r : r;
}

static i128 floor_div(i128 a, i128 d) {       /* d > 0 */
    i128 q = a / d;
    return (a % d != 0 && a < 0) ? q - 1 : q;
}

static i128 clamp128(i128 v, i128 lo, i128 hi) { return v < lo ? lo : v > hi ? hi : v; }

/* M = m * 2^e exactly, m a 53-bit integer (M > 0 finite) */
static void decompose(double M, int64_t *m, int *e) {
    int ex;
    double f = frexp(M, &ex);
    *m = (int64_t)ldexp(f, 53);
    *e = ex - 53;
}

/* the sign of m * 2^k - c, for 0 <= m < 2^53 and 0 <= c < 2^60 */
static int cmp_scaled(int64_t m, int k, i128 c) {
    if (k >= 0) {
        if (k > 60) return m > 0 ? 1 : c > 0 ? -1 : 0;
        i128 a = (i128)m << k;
        return (a > c) - (a < c);
    }
    if (-k > 60) return c > 0 ? -1 : m > 0 ? 1 : 0;   /* 0 <= m * 2^k < 1 */
    i128 b = c << -k;
    return ((i128)m > b) - ((i128)m < b);
}

static const char *hexf(double v) {           /* for messages */
    static char buf[4][48];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%a (%.17g)", v, v);
    return buf[i];
}

/* ---- the multiplier ----------------------------------------------------- */

enum { EXPECT_VALID, EXPECT_TINY, EXPECT_RANGE };

/* What quant_multiplier must give for M, from exact arithmetic: the shift s
 * in [1, 62] with M * 2^s in [2^30 - 1/4, 2^31 - 1/2) (round(M * 2^s) then
 * is in [2^30, 2^31), after the halving of 2^31), or TINY below that
 * window at s = 62, or RANGE above it at s = 1.  Those windows tile, so
 * exactly one case holds. */
static int expected_shift(double M, int *shift) {
    int64_t m;
    int e, found = 0;
    decompose(M, &m, &e);
    for (int s = 1; s <= 62; s++)
        if (cmp_scaled(m, e + s + 2, ((i128)1 << 32) - 1) >= 0 && cmp_scaled(m, e + s + 2, ((i128)1 << 33) - 2) < 0) {
            *shift = s;
            found++;
        }
    if (found > 1) fail_msg("M = %s: %d shifts fit (the test's windows overlap)", hexf(M), found);
    if (found) return EXPECT_VALID;
    if (cmp_scaled(m, e + 64, ((i128)1 << 32) - 1) < 0) return EXPECT_TINY;
    if (cmp_scaled(m, e + 3, ((i128)1 << 33) - 2) >= 0) return EXPECT_RANGE;
    fail_msg("M = %s: in no window", hexf(M));
    return -1;
}

/* Check quant_multiplier(M) exactly; returns the relative error of
 * mult * 2^-shift in units of 2^-31 (0 for the tiny and refused cases). */
static double check_multiplier(double M) {
    int32_t mult = -1;
    int shift = -1, want_shift = 0;
    int rc = quant_multiplier(M, &mult, &shift);
    int want = expected_shift(M, &want_shift);
    int64_t m;
    int e;
    decompose(M, &m, &e);
    if (want == EXPECT_RANGE) {
        if (rc != QUANT_ERANGE) fail_msg("M = %s: rc %d, expected QUANT_ERANGE", hexf(M), rc);
        return 0;
    }
    if (rc != QUANT_OK) fail_msg("M = %s: rc %d (%s)", hexf(M), rc, quant_strerror(rc));
    if (want == EXPECT_TINY) {
        if (mult != 0 || shift != 1) fail_msg("M = %s: tiny, expected (0, 1), got (%d, %d)", hexf(M), mult, shift);
        /* and every int32 acc times M rounds to 0: 2^31 * M <= 1/2 */
        if (cmp_scaled(m, e + 32, 1) > 0) fail_msg("M = %s: tiny, but 2^31 * M > 1/2", hexf(M));
        return 0;
    }
    if (shift != want_shift) fail_msg("M = %s: shift %d, expected %d", hexf(M), shift, want_shift);
    if (mult < (1 << 30)) fail_msg("M = %s: mult %d below 2^30", hexf(M), mult);
    /* mult = floor(V + 1/2), V = M * 2^shift = m * 2^k: 2V in [2 mult - 1, 2 mult + 1) */
    int k = e + shift;
    if (cmp_scaled(m, k + 1, 2 * (i128)mult - 1) < 0 || cmp_scaled(m, k + 1, 2 * (i128)mult + 1) >= 0)
        fail_msg("M = %s: mult %d is not M * 2^%d rounded half away", hexf(M), mult, shift);
    /* |mult * 2^-shift - M| <= 2^-31 * M, i.e. |mult * 2^-k - m| * 2^31 <= m (k < 0 here) */
    if (k >= 0 || k < -60) fail_msg("M = %s: k = %d outside the test's reach", hexf(M), k);
    i128 diff = (i128)mult * ((i128)1 << -k) - m;
    if (diff < 0) diff = -diff;
    if (diff * ((i128)1 << 31) > m)
        fail_msg("M = %s: |mult * 2^-shift - M| > 2^-31 M (mult %d, shift %d)", hexf(M), mult, shift);
    return (double)diff * 0x1p31 / (double)m;
}

static void test_multiplier_random(void **state) {
    (void)state;
    rng_state = 19;
    double worst = 0;
    for (int i = 0; i < 200000; i++) {
        double r = check_multiplier(log_uniform(-30, 20));
        if (r > worst) worst = r;
    }
    /* and across every binade the function handles, tiny and refused ones */
    for (int i = 0; i < 20000; i++) check_multiplier(log_uniform(-80, 40));
    print_message("multiplier: 220,000 random M exact; worst |mult*2^-shift - M| / M = %.4f * 2^-31\n", worst);
}

static void expect_mult(double M, int32_t want_mult, int want_shift) {
    int32_t mult;
    int shift;
    int rc = quant_multiplier(M, &mult, &shift);
    if (rc != QUANT_OK || mult != want_mult || shift != want_shift)
        fail_msg("M = %s: rc %d, (%d, %d), expected (%d, %d)", hexf(M), rc, mult, shift, want_mult, want_shift);
    check_multiplier(M);
}

static void expect_mult_rc(double M, int want_rc) {
    int32_t mult;
    int shift;
    int rc = quant_multiplier(M, &mult, &shift);
    if (rc != want_rc) fail_msg("M = %s: rc %d, expected %d", hexf(M), rc, want_rc);
}

/* Worked by hand: mult * 2^-shift with mult in [2^30, 2^31). */
static void test_multiplier_special(void **state) {
    (void)state;
    const int32_t H = 1 << 30;
    expect_mult(1, H, 30);
    expect_mult(0.5, H, 31);
    expect_mult(0.75, 3 << 29, 31);
    expect_mult(0x1p-31, H, 61);
    expect_mult(0x1p-32, H, 62);                     /* the smallest shift-62 power */
    expect_mult(0x1p29, H, 1);
    expect_mult(0x1p30 - 0.5, INT32_MAX, 1);         /* the largest accepted */
    /* near 1 */
    expect_mult(1 - 0x1p-40, H, 30);                 /* 2^31 - 2^-9 rounds to 2^31: halved */
    expect_mult(1 + 0x1p-40, H, 30);
    expect_mult(1 - 0x1p-31, INT32_MAX, 31);         /* 2^31 - 1 exactly */
    expect_mult(1 - 0x1p-32, H, 30);                 /* 2^31 - 1/2: a tie, away from zero: 2^31, halved */
    /* just below powers of two: rounds to 2^31 and is halved */
    expect_mult(0x1p-10 * (1 - 0x1p-53), H, 40);
    expect_mult(0x1p-20 * (1 - 0x1p-40), H, 50);
    /* a tie: M * 2^40 = 2^30 + 1/2 goes away from zero (half-even would keep 2^30) */
    expect_mult((0x1p30 + 0.5) * 0x1p-40, H + 1, 40);
    expect_mult((0x1p30 + 2.5) * 0x1p-40, H + 3, 40);
    /* tiny: acc * M rounds to 0 for every int32 acc */
    expect_mult(0x1p-33, 0, 1);
    expect_mult(0x1p-40, 0, 1);
    expect_mult(1e-12, 0, 1);
    expect_mult(DBL_MIN, 0, 1);
    expect_mult(4.9406564584124654e-324, 0, 1);      /* the smallest subnormal */
    /* the edge of tiny: M * 2^63 in [2^31 - 1/2, 2^31) rounds up to 2^31,
     * i.e. 2^30 at shift 62; 2^31 - 1 at shift 63 is beyond it */
    expect_mult(0x1p-32 * (1 - 0x1p-53), H, 62);
    expect_mult(0x1p-32 * (1 - 0x1p-40), H, 62);
    expect_mult(0x1p-32 * (1 - 0x1p-32), H, 62);     /* 2^31 - 1/2 at shift 63: a tie, away */
    expect_mult(0x1p-32 * (1 - 0x1p-31), 0, 1);      /* 2^31 - 1 at shift 63 */
    /* refused */
    expect_mult_rc(0x1p30 - 0.25, QUANT_ERANGE);     /* 2^31 - 1/2 at shift 1 rounds to 2^31 */
    expect_mult_rc(0x1p30, QUANT_ERANGE);
    expect_mult_rc(1e10, QUANT_ERANGE);
    expect_mult_rc(DBL_MAX, QUANT_ERANGE);
    expect_mult_rc(0, QUANT_EDOMAIN);
    expect_mult_rc(-0.5, QUANT_EDOMAIN);
    expect_mult_rc(NAN, QUANT_EDOMAIN);
    expect_mult_rc(INFINITY, QUANT_EDOMAIN);
    /* M from float scales: the product of two floats is exact in double */
    double M = quant_real_multiplier(0.1f, 0.003f, 0.07f);
    if (M != (double)0.1f * (double)0.003f / (double)0.07f) fail_msg("quant_real_multiplier: %s", hexf(M));
    check_multiplier(M);
}

/* ---- requantization ----------------------------------------------------- */

/* the spec of quant_requantize in 128-bit integers */
static i128 ref_shift_round(int32_t acc, int32_t mult, int shift) {
    return floor_div((i128)acc * mult + ((i128)1 << (shift - 1)), (i128)1 << shift);
}

/* One case against exact arithmetic.  *near: acc * M lies within the
 * representation error of a tie; *off: the fixed-point result differs
 * from the exactly rounded acc * M. */
static void check_requantize(int32_t acc, double M, long long *near, long long *off) {
    int32_t mult;
    int shift;
    if (quant_multiplier(M, &mult, &shift) != QUANT_OK) fail_msg("M = %s refused", hexf(M));
    int32_t got = quant_requantize(acc, mult, shift, 0, INT32_MIN, INT32_MAX);
    i128 fixed = ref_shift_round(acc, mult, shift);
    if (got != clamp128(fixed, INT32_MIN, INT32_MAX))
        fail_msg("acc %d, mult %d, shift %d: got %d, expected %lld", acc, mult, shift, got, (long long)fixed);
    /* acc * M = A / D and acc * mult * 2^-shift = B / D over D = 2^-E */
    int64_t m;
    int e;
    decompose(M, &m, &e);
    int E = e < -shift ? e : -shift;
    if (-E > 120) fail_msg("M = %s: exponent outside the test's reach", hexf(M));
    i128 D = (i128)1 << -E;
    i128 A = (i128)acc * m * ((i128)1 << (e - E)), B = (i128)acc * mult * ((i128)1 << (-shift - E));
    i128 exact = floor_div(2 * A + D, 2 * D);   /* acc * M rounded half up */
    if (floor_div(2 * B + D, 2 * D) != fixed) fail_msg("acc %d: the test's two forms disagree", acc);
    i128 frac = A - floor_div(A, D) * D, gap = 2 * frac - D, err = B - A;
    if (gap < 0) gap = -gap;                    /* 2D * distance to the nearest k + 1/2 */
    if (err < 0) err = -err;                    /* D * |acc| * |mult * 2^-shift - M| */
    /* compared as int32 outputs: beyond int32 the error of the multiplier,
     * up to 2^-31 |acc * M|, may exceed 1 (and both saturate) */
    i128 d = clamp128(exact, INT32_MIN, INT32_MAX) - clamp128(fixed, INT32_MIN, INT32_MAX);
    bool in_window = gap <= 2 * err;
    *near += in_window;
    *off += d != 0;
    if (d > 1 || d < -1 || (d != 0 && !in_window))
        fail_msg("acc %d, M = %s (mult %d, shift %d): fixed %lld, exactly rounded %lld",
                 acc, hexf(M), mult, shift, (long long)fixed, (long long)exact);
}

static void test_requantize_exact(void **state) {
    (void)state;
    rng_state = 1919;
    long long near[2] = { 0, 0 }, off[2] = { 0, 0 };
    static const int32_t edge[] = { INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX };
    for (int i = 0; i < 300000; i++) {
        double M = log_uniform(-30, 4);
        int32_t acc = i < 7000 ? edge[i % 7] : rng_acc();
        int net = i % 2;
        if (net) {                               /* as in a network: |acc * M| below 2^10 */
            double top = fmin(1024 / M, INT32_MAX);
            acc = (int32_t)((rng_unit() * 2 - 1) * top);
        }
        check_requantize(acc, M, &near[net], &off[net]);
    }
    print_message("requantize: 150000 random cases over the whole int32 range: %lld within a tie's error window, "
                  "%lld off by 1 LSB\n", near[0], off[0]);
    print_message("requantize: 150000 random cases with |acc * M| < 1024: %lld within a tie's error window, "
                  "%lld off by 1 LSB\n", near[1], off[1]);
    /* near ties on purpose: M not a dyadic fraction, acc a multiple of its
     * denominator, so acc * M sits a hair from k + 1/2 */
    static const double Ms[] = { 0.1, 0.3, 0.7, 1.0 / 3, 2.0 / 3, 0.2, 1.0 / 6, 0.9, 1.0 / 7 };
    static const int den[] = { 10, 10, 10, 3, 3, 5, 6, 10, 7 };
    long long near2 = 0, off2 = 0, n2 = 0;
    for (int j = 0; j < (int)(sizeof Ms / sizeof Ms[0]); j++)
        for (int32_t t = -3000; t <= 3000; t++, n2++) {
            /* the real acc * M is t + 1/2 when den is even; t + 2/5, 1/3 or 3/7 otherwise */
            int32_t acc = den[j] % 2 == 0 ? (2 * t + 1) * den[j] / 2 : t * den[j] + den[j] / 2;
            check_requantize(acc, Ms[j], &near2, &off2);
        }
    print_message("requantize: %lld near-tie cases, %lld within a tie's error window, %lld off by 1 LSB\n", n2, near2, off2);
    if (off2 == 0) fail_msg("no near-tie case differed: the near-tie cases test nothing");
}

/* Hand values: M = 1/2 (mult 2^30, shift 31) rounds half toward +infinity. */
static void test_requantize_hand(void **state) {
    (void)state;
    const int32_t H = 1 << 30;
    static const struct { int32_t acc, want; } half[] = {
        { 1, 1 }, { -1, 0 }, { 3, 2 }, { -3, -1 }, { 5, 3 }, { -5, -2 }, { 4, 2 }, { -4, -2 }, { 0, 0 },
    };
    for (int i = 0; i < (int)(sizeof half / sizeof half[0]); i++) {
        int32_t got = quant_requantize(half[i].acc, H, 31, 0, -128, 127);
        if (got != half[i].want) fail_msg("acc %d * 1/2: got %d, expected %d", half[i].acc, got, half[i].want);
    }
    /* M = 3/4: 2 -> 1.5 -> 2; -2 -> -1.5 -> -1; 7 -> 5.25 -> 5; -7 -> -5.25 -> -5 */
    if (quant_requantize(2, 3 << 29, 31, 0, -128, 127) != 2) fail_msg("2 * 3/4");
    if (quant_requantize(-2, 3 << 29, 31, 0, -128, 127) != -1) fail_msg("-2 * 3/4");
    if (quant_requantize(7, 3 << 29, 31, 0, -128, 127) != 5) fail_msg("7 * 3/4");
    if (quant_requantize(-7, 3 << 29, 31, 0, -128, 127) != -5) fail_msg("-7 * 3/4");
    /* the extreme shifts: 2^-32 * INT32_MIN = -1/2 -> 0; shift 1 saturates */
    if (quant_requantize(INT32_MIN, H, 62, 0, INT32_MIN, INT32_MAX) != 0) fail_msg("INT32_MIN * 2^-32");
    if (quant_requantize(INT32_MAX, H, 62, 0, INT32_MIN, INT32_MAX) != 0) fail_msg("INT32_MAX * 2^-32");
    if (quant_requantize(INT32_MIN, INT32_MAX, 1, 0, -128, 127) != -128) fail_msg("INT32_MIN saturates");
    if (quant_requantize(INT32_MAX, INT32_MAX, 1, 0, -128, 127) != 127) fail_msg("INT32_MAX saturates");
    if (quant_requantize(INT32_MAX, INT32_MAX, 1, 0, INT32_MIN, INT32_MAX) != INT32_MAX) fail_msg("wide INT32_MAX");
    if (quant_requantize(INT32_MIN, INT32_MAX, 1, 0, INT32_MIN, INT32_MAX) != INT32_MIN) fail_msg("wide INT32_MIN");
    /* the tiny multiplier: always the zero point */
    for (int zp = -128; zp <= 127; zp += 51) {
        if (quant_requantize(INT32_MIN, 0, 1, zp, -128, 127) != zp) fail_msg("tiny M, zp %d", zp);
        if (quant_requantize(INT32_MAX, 0, 1, zp, -128, 127) != zp) fail_msg("tiny M, zp %d", zp);
    }
}

/* Zero points at the ends and between; clamps of none/relu/relu6; results
 * past both ends of int8. */
static void test_requantize_clamp(void **state) {
    (void)state;
    rng_state = 77;
    static const int zps[] = { -128, -127, -77, -1, 0, 1, 37, 126, 127 };
    static const float s_outs[] = { 0.01f, 6.0f / 255, 0.05f, 0.3f };
    long long low = 0, high = 0;
    for (int z = 0; z < (int)(sizeof zps / sizeof zps[0]); z++)
        for (int a = 0; a < 3; a++)
            for (int so = 0; so < 4; so++) {
                int lo, hi;
                quant_act_range((QuantAct)a, s_outs[so], zps[z], &lo, &hi);
                for (int i = 0; i < 2000; i++) {
                    int32_t mult, acc = rng_acc();
                    int shift;
                    if (quant_multiplier(log_uniform(-28, -2), &mult, &shift) != QUANT_OK) fail_msg("multiplier refused");
                    int32_t got = quant_requantize(acc, mult, shift, zps[z], lo, hi);
                    i128 want = clamp128(ref_shift_round(acc, mult, shift) + zps[z], lo, hi);
                    if (got != want)
                        fail_msg("acc %d, mult %d, shift %d, zp %d, [%d, %d]: got %d, expected %lld",
                                 acc, mult, shift, zps[z], lo, hi, got, (long long)want);
                    if (got < -128 || got > 127) fail_msg("result %d outside int8", got);
                    low += got == -128, high += got == 127;
                }
            }
    if (!low || !high) fail_msg("saturation not exercised: %lld at -128, %lld at 127", low, high);
}

static void expect_range(QuantAct act, float s, int zp, int want_lo, int want_hi) {
    int lo, hi;
    quant_act_range(act, s, zp, &lo, &hi);
    if (lo != want_lo || hi != want_hi)
        fail_msg("act %d, s_out %g, zp %d: [%d, %d], expected [%d, %d]", act, (double)s, zp, lo, hi, want_lo, want_hi);
}

static void test_act_range(void **state) {
    (void)state;
    expect_range(QUANT_ACT_NONE, 0.1f, 5, -128, 127);
    expect_range(QUANT_ACT_RELU, 0.1f, -128, -128, 127);
    expect_range(QUANT_ACT_RELU, 0.1f, 0, 0, 127);
    expect_range(QUANT_ACT_RELU, 0.1f, -20, -20, 127);
    expect_range(QUANT_ACT_RELU, 0.1f, 127, 127, 127);
    /* relu6: [0, 6] over 255 steps from -128 reaches 127 exactly */
    expect_range(QUANT_ACT_RELU6, 6.0f / 255, -128, -128, 127);
    expect_range(QUANT_ACT_RELU6, 0.05f, -128, -128, -8);      /* 6 / 0.05 = 120 (0.05f: 119.9999982) */
    expect_range(QUANT_ACT_RELU6, 0.05f, 0, 0, 120);
    expect_range(QUANT_ACT_RELU6, 0.05f, 100, 100, 127);
    expect_range(QUANT_ACT_RELU6, 0.05f, 127, 127, 127);
    expect_range(QUANT_ACT_RELU6, 0.25f, -10, -10, 14);         /* 6 / 0.25 = 24 */
    expect_range(QUANT_ACT_RELU6, 0.48f, -128, -128, -115);     /* 6 / 0.48f = 12.50000028 */
    expect_range(QUANT_ACT_RELU6, 12.0f, 0, 0, 1);              /* 6 / 12 = 1/2: away from zero */
    expect_range(QUANT_ACT_RELU6, 0.375f, -128, -128, -112);    /* 16 */
    expect_range(QUANT_ACT_RELU6, 1.5e-9f, -128, -128, 127);    /* a huge 6 / s */
}

/* ---- activations -------------------------------------------------------- */

static void expect_affine(double lo, double hi, float want_scale, int want_zp) {
    QuantAffine a = { -1, -999 };
    int rc = quant_affine(lo, hi, &a);
    if (rc != QUANT_OK || a.scale != want_scale || a.zp != want_zp)
        fail_msg("[%g, %g]: rc %d, scale %a zp %d, expected %a zp %d",
                 lo, hi, rc, (double)a.scale, a.zp, (double)want_scale, want_zp);
}

static void test_affine(void **state) {
    (void)state;
    expect_affine(0, 0, 1, 0);                    /* an all-zero tensor */
    expect_affine(0, 25.5, 0.1f, -128);
    expect_affine(2, 5, (float)(5.0 / 255), -128);  /* widened to [0, 5] */
    expect_affine(-5, -2, (float)(5.0 / 255), 127); /* widened to [-5, 0] */
    expect_affine(-4, -4, (float)(4.0 / 255), 127);
    expect_affine(7, 7, (float)(7.0 / 255), -128);
    /* scale 1/8 exactly; lo / scale = -10.5: away from zero -11, zp -117
     * (half-even would give -10 and -118) */
    expect_affine(-10.5 / 8, 255.0 / 8 - 10.5 / 8, 0.125f, -117);
    expect_affine(-11.5 / 8, 255.0 / 8 - 11.5 / 8, 0.125f, -116);
    expect_affine(-127.5 / 8, 255.0 / 8 - 127.5 / 8, 0.125f, 0);
    expect_affine(-1, 254, 1, -127);
    expect_affine(-254, 1, 1, 126);
    /* tiny ranges: the scale floor 2^-23 */
    expect_affine(0, 1e-10, (float)QUANT_SCALE_MIN, -128);
    expect_affine(-1e-10, 0, (float)QUANT_SCALE_MIN, -128 + 0);   /* -1e-10 / 2^-23 rounds to 0 */
    expect_affine(-1e-5, 1e-5, (float)QUANT_SCALE_MIN, -128 + 84); /* 1e-5 * 2^23 = 83.9 */
    QuantAffine a;
    if (quant_affine(NAN, 1, &a) != QUANT_EDOMAIN) fail_msg("NaN lo accepted");
    if (quant_affine(0, INFINITY, &a) != QUANT_EDOMAIN) fail_msg("infinite hi accepted");
    if (quant_affine(2, 1, &a) != QUANT_EDOMAIN) fail_msg("lo > hi accepted");
    if (quant_affine(-1e300, 1e300, &a) != QUANT_EDOMAIN) fail_msg("a range beyond float accepted");
    /* random ranges: 0 exactly representable; quantize/dequantize within half a step */
    rng_state = 5;
    for (int i = 0; i < 2000; i++) {
        double lo = -log_uniform(-20, 20) * (i % 5 == 0 ? 0 : 1), hi = log_uniform(-20, 20) * (i % 7 == 0 ? 0 : 1);
        if (quant_affine(lo, hi, &a) != QUANT_OK) fail_msg("[%g, %g] refused", lo, hi);
        if (a.zp < -128 || a.zp > 127) fail_msg("[%g, %g]: zp %d", lo, hi, a.zp);
        if (quant_quantize(0, a.scale, a.zp) != a.zp || quant_dequantize(a.zp, a.scale, a.zp) != 0)
            fail_msg("[%g, %g]: real 0 is not exact", lo, hi);
        for (int j = 0; j < 50; j++) {
            float x = (float)(lo + (hi - lo) * rng_unit());
            float back = quant_dequantize(quant_quantize(x, a.scale, a.zp), a.scale, a.zp);
            if (fabs((double)back - x) > 0.5000001 * a.scale + 1e-6 * fabs((double)x))
                fail_msg("[%g, %g]: %g comes back as %g (scale %g, zp %d)", lo, hi, (double)x, (double)back,
                         (double)a.scale, a.zp);
        }
        int qlo = quant_quantize((float)lo, a.scale, a.zp), qhi = quant_quantize((float)hi, a.scale, a.zp);
        if (a.scale > (float)QUANT_SCALE_MIN && ((lo < 0 && qlo > -127) || (hi > 0 && qhi < 126)))
            fail_msg("[%g, %g]: the ends map to %d and %d", lo, hi, qlo, qhi);
    }
}

/* x / scale exactly k + 1/2 and -(k + 1/2): away from zero. */
static void test_quantize_rounding(void **state) {
    (void)state;
    static const int zps[] = { -128, -3, 0, 5, 127 };
    for (int z = 0; z < 5; z++)
        for (int k = 0; k < 140; k++) {
            float x = (k + 0.5f) * 0.25f;
            int want_pos = k + 1 + zps[z], want_neg = -(k + 1) + zps[z];
            want_pos = want_pos > 127 ? 127 : want_pos;
            want_neg = want_neg < -128 ? -128 : want_neg;
            if (quant_quantize(x, 0.25f, zps[z]) != want_pos)
                fail_msg("%g / 0.25 = %d.5, zp %d: got %d, expected %d", (double)x, k, zps[z],
                         quant_quantize(x, 0.25f, zps[z]), want_pos);
            if (quant_quantize(-x, 0.25f, zps[z]) != want_neg)
                fail_msg("-%g / 0.25 = -%d.5, zp %d: got %d, expected %d", (double)x, k, zps[z],
                         quant_quantize(-x, 0.25f, zps[z]), want_neg);
        }
    /* the largest float below 1/2 rounds to 0 (floor(x + 0.5f) in float would give 1) */
    if (quant_quantize(0.49999997f, 1, 0) != 0) fail_msg("0.49999997 rounds to %d", quant_quantize(0.49999997f, 1, 0));
    if (quant_quantize(-0.49999997f, 1, 0) != 0) fail_msg("-0.49999997 rounds to %d", quant_quantize(-0.49999997f, 1, 0));
    /* against the reference rounding, random x and scales */
    rng_state = 11;
    for (int i = 0; i < 200000; i++) {
        float s = (float)log_uniform(-20, 5), x = (float)((rng_unit() * 300 - 150) * s);
        int zp = (int)(rng_next() % 256) - 128;
        double r = ref_round((double)(x / s)) + zp;
        int want = r < -128 ? -128 : r > 127 ? 127 : (int)r;
        if (quant_quantize(x, s, zp) != want)
            fail_msg("x %a, scale %a, zp %d: got %d, expected %d", (double)x, (double)s, zp, quant_quantize(x, s, zp), want);
    }
}

/* NaN is real 0; infinities and huge values saturate; the ends of int8. */
static void test_quantize_saturation(void **state) {
    (void)state;
    static const int zps[] = { -128, 0, 127, 42 };
    for (int z = 0; z < 4; z++) {
        int zp = zps[z];
        if (quant_quantize(NAN, 0.1f, zp) != zp) fail_msg("NaN, zp %d", zp);
        if (quant_quantize(-NAN, 0.1f, zp) != zp) fail_msg("-NaN, zp %d", zp);
        if (quant_quantize(INFINITY, 0.1f, zp) != 127) fail_msg("+inf, zp %d", zp);
        if (quant_quantize(-INFINITY, 0.1f, zp) != -128) fail_msg("-inf, zp %d", zp);
        if (quant_quantize(1e30f, 0.1f, zp) != 127) fail_msg("1e30, zp %d", zp);
        if (quant_quantize(-1e30f, 0.1f, zp) != -128) fail_msg("-1e30, zp %d", zp);
        if (quant_quantize(3e38f, 1e-30f, zp) != 127) fail_msg("3e38 / 1e-30 (inf), zp %d", zp);
    }
    /* the last steps before saturation, scale 1 */
    if (quant_quantize(127, 1, 0) != 127 || quant_quantize(128, 1, 0) != 127) fail_msg("127/128 at zp 0");
    if (quant_quantize(-128, 1, 0) != -128 || quant_quantize(-129, 1, 0) != -128) fail_msg("-128/-129 at zp 0");
    if (quant_quantize(-0.5f, 1, -128) != -128 || quant_quantize(0.5f, 1, -128) != -127) fail_msg("zp -128");
    if (quant_quantize(0.5f, 1, 127) != 127 || quant_quantize(-0.5f, 1, 127) != 126) fail_msg("zp 127");
    if (quant_quantize(255, 1, -128) != 127 || quant_quantize(256, 1, -128) != 127) fail_msg("255 at zp -128");
    if (quant_quantize(-255, 1, 127) != -128 || quant_quantize(-256, 1, 127) != -128) fail_msg("-255 at zp 127");
    /* dequantize */
    if (quant_dequantize(127, 0.5f, -128) != 127.5f) fail_msg("dequantize 127");
    if (quant_dequantize(-128, 0.5f, 127) != -127.5f) fail_msg("dequantize -128");
    if (quant_dequantize(3, 0.1f, 3) != 0) fail_msg("dequantize zp");
}

/* ---- weights ------------------------------------------------------------ */

/* one channel against the reference: amax by the test's own loop */
static void check_channel(const float *w, long long n, const char *what) {
    int8_t *q = malloc((size_t)(n > 0 ? n : 1));
    float scale = -1;
    if (quant_weights(w, n, q, &scale) != QUANT_OK) fail_msg("%s: refused", what);
    double amax = 0;
    for (long long i = 0; i < n; i++) amax = fmax(amax, fabs((double)w[i]));
    float want_scale = amax / 127 < FLT_MIN ? 1 : (float)(amax / 127);
    if (scale != want_scale) fail_msg("%s: scale %a, expected %a", what, (double)scale, (double)want_scale);
    for (long long i = 0; i < n; i++) {
        double r = want_scale == 1 && amax / 127 < FLT_MIN ? 0 : ref_round((double)(w[i] / want_scale));
        int want = r < -127 ? -127 : r > 127 ? 127 : (int)r;
        if (q[i] != want) fail_msg("%s: q[%lld] = %d, expected %d (w %a)", what, i, q[i], want, (double)w[i]);
        if (q[i] == -128) fail_msg("%s: q[%lld] = -128", what, i);
        if (fabs((double)w[i]) == amax && amax / 127 >= FLT_MIN && abs(q[i]) != 127)
            fail_msg("%s: q[%lld] = %d at amax", what, i, q[i]);
        if (fabs(q[i] * (double)want_scale - w[i]) > 0.5000001 * want_scale && amax / 127 >= FLT_MIN)
            fail_msg("%s: w[%lld] = %g comes back as %g", what, i, (double)w[i], q[i] * (double)want_scale);
    }
    free(q);
}

static void test_weights_per_channel(void **state) {
    (void)state;
    rng_state = 4097;
    /* channels of 1, 7 and 4097 weights, magnitudes 1e-3 to 1e3, one all-zero */
    enum { C = 6, MAXN = 4097 };
    static const long long n[C] = { 1, 7, 4097, 7, 4097, 3 };
    static const double mag[C] = { 0.37, 1e-3, 1e3, 0, 1, 1e-40 };
    static float w[C][MAXN];
    for (int c = 0; c < C; c++)
        for (long long i = 0; i < n[c]; i++) w[c][i] = (float)(mag[c] * (rng_unit() * 2 - 1));
    w[0][0] = -0.37f;
    for (int c = 0; c < C; c++) {
        char what[32];
        snprintf(what, sizeof what, "channel %d (%lld weights)", c, n[c]);
        check_channel(w[c], n[c], what);
    }
    /* an all-zero channel: scale 1, every q 0 */
    int8_t q[MAXN];
    float s;
    memset(q, 55, sizeof q);
    if (quant_weights(w[3], 7, q, &s) != QUANT_OK || s != 1) fail_msg("all-zero channel: scale %g", (double)s);
    for (int i = 0; i < 7; i++)
        if (q[i] != 0) fail_msg("all-zero channel: q[%d] = %d", i, q[i]);
    /* one weight: +-127 */
    if (quant_weights(w[0], 1, q, &s) != QUANT_OK || q[0] != -127 || s != (float)(0.37f / 127.0))
        fail_msg("one weight: q %d scale %a", q[0], (double)s);
    /* scale 1/4 exactly (amax 31.75): 2.625 / 0.25 = 10.5 -> 11, -10.5 -> -11 */
    float tie[4] = { 31.75f, 2.625f, -2.625f, -31.75f };
    if (quant_weights(tie, 4, q, &s) != QUANT_OK || s != 0.25f || q[0] != 127 || q[1] != 11 || q[2] != -11 || q[3] != -127)
        fail_msg("ties: scale %g, q %d %d %d %d", (double)s, q[0], q[1], q[2], q[3]);
    /* a scale that rounds down: |w| / scale a hair above 127 stays 127 */
    for (int i = 0; i < 1000; i++) {
        float v[2] = { (float)log_uniform(-30, 30), 0 };
        v[1] = -v[0];
        check_channel(v, 2, "amax channel");
    }
    /* non-finite weights: refused, nothing written */
    float bad[7] = { 1, 2, 3, NAN, 5, 6, 7 };
    memset(q, 55, sizeof q);
    s = 42;
    if (quant_weights(bad, 7, q, &s) != QUANT_EDOMAIN || s != 42 || q[0] != 55) fail_msg("NaN weight accepted");
    bad[3] = -INFINITY;
    if (quant_weights(bad, 7, q, &s) != QUANT_EDOMAIN) fail_msg("infinite weight accepted");
}

/* ---- bias and accumulator ----------------------------------------------- */

static void expect_bias(float b, float s_in, float s_w, int32_t want, int want_rc) {
    int32_t q = 12345;
    int rc = quant_bias(b, s_in, s_w, &q);
    if (rc != want_rc || (rc >= 0 && q != want))
        fail_msg("bias %a / (%a * %a): rc %d q %d, expected rc %d q %d",
                 (double)b, (double)s_in, (double)s_w, rc, q, want_rc, want);
}

static void test_bias(void **state) {
    (void)state;
    expect_bias(1, 0.5f, 0.25f, 8, QUANT_OK);
    expect_bias(0.0625f, 0.5f, 0.25f, 1, QUANT_OK);         /* 1/2 -> 1 */
    expect_bias(-0.0625f, 0.5f, 0.25f, -1, QUANT_OK);       /* -1/2 -> -1 */
    expect_bias(0.1875f, 0.5f, 0.25f, 2, QUANT_OK);         /* 3/2 -> 2 */
    expect_bias(0.3125f, 0.5f, 0.25f, 3, QUANT_OK);         /* 5/2 -> 3 (half-even: 2) */
    expect_bias(-0.3125f, 0.5f, 0.25f, -3, QUANT_OK);
    expect_bias(0, 0.1f, 0.1f, 0, QUANT_OK);
    /* at the ends of int32, scale 2^-20 */
    expect_bias(2048, 0x1p-10f, 0x1p-10f, INT32_MAX, QUANT_SATURATED);   /* 2^31 */
    expect_bias(2047.9998779296875f, 0x1p-10f, 0x1p-10f, 2147483520, QUANT_OK);
    expect_bias(-2048, 0x1p-10f, 0x1p-10f, INT32_MIN, QUANT_OK);         /* -2^31 fits */
    expect_bias(-2048.000244140625f, 0x1p-10f, 0x1p-10f, INT32_MIN, QUANT_SATURATED);
    expect_bias(1e30f, 0.1f, 0.1f, INT32_MAX, QUANT_SATURATED);
    expect_bias(-1e30f, 0.1f, 0.1f, INT32_MIN, QUANT_SATURATED);
    expect_bias(3e38f, 1e-38f, 1e-38f, INT32_MAX, QUANT_SATURATED);       /* 3e114 */
    expect_bias(NAN, 0.1f, 0.1f, 0, QUANT_EDOMAIN);
    expect_bias(INFINITY, 0.1f, 0.1f, 0, QUANT_EDOMAIN);
    expect_bias(1, 0, 0.1f, 0, QUANT_EDOMAIN);
    expect_bias(1, 0.1f, -0.1f, 0, QUANT_EDOMAIN);
    expect_bias(1, 0.1f, NAN, 0, QUANT_EDOMAIN);
    /* random: against b / (s_in * s_w) rounded by the reference */
    rng_state = 3;
    for (int i = 0; i < 100000; i++) {
        float s_in = (float)log_uniform(-12, 2), s_w = (float)log_uniform(-14, 0);
        float b = (float)((rng_unit() * 2 - 1) * log_uniform(-10, 6));
        double want = ref_round((double)b / ((double)s_in * s_w));
        expect_bias(b, s_in, s_w, (int32_t)fmax(fmin(want, INT32_MAX), INT32_MIN),
                    want > INT32_MAX || want < INT32_MIN ? QUANT_SATURATED : QUANT_OK);
    }
}

/* sum (q_x - zp) * q_w + q_b == sum q_x * q_w + folded, in int64 */
static void test_fold_zero_point(void **state) {
    (void)state;
    rng_state = 8;
    static const long long sizes[] = { 1, 7, 27, 4097 };
    static const int zps[] = { -128, -5, 0, 1, 127 };
    int8_t qw[4097], qx[4097];
    for (int t = 0; t < 4; t++)
        for (int z = 0; z < 5; z++)
            for (int rep = 0; rep < 20; rep++) {
                long long n = sizes[t];
                int32_t q_b = (int32_t)(rng_next() % 2000001) - 1000000, folded;
                for (long long i = 0; i < n; i++) {
                    qw[i] = (int8_t)((int)(rng_next() % 255) - 127);
                    qx[i] = (int8_t)((int)(rng_next() % 256) - 128);
                }
                if (quant_fold_zero_point(q_b, zps[z], qw, n, &folded) != QUANT_OK) fail_msg("fold refused");
                int64_t a = q_b, b = folded, pad = q_b, padf = folded;
                for (long long i = 0; i < n; i++) {
                    a += (int64_t)(qx[i] - zps[z]) * qw[i];
                    b += (int64_t)qx[i] * qw[i];
                    pad += (int64_t)(zps[z] - zps[z]) * qw[i];   /* padding: q_x = zp is real 0 */
                    padf += (int64_t)zps[z] * qw[i];
                }
                if (a != b) fail_msg("n %lld zp %d: unfolded %lld, folded %lld", n, zps[z], (long long)a, (long long)b);
                if (pad != q_b || padf != q_b) fail_msg("n %lld zp %d: an all-padding window is not the bias", n, zps[z]);
            }
    /* saturation: sum q_w = 127 * 4097, zp -128 */
    memset(qw, 127, sizeof qw);
    int32_t f;
    if (quant_fold_zero_point(INT32_MAX - 100, -128, qw, 4097, &f) != QUANT_SATURATED || f != INT32_MAX)
        fail_msg("positive overflow not reported (%d)", f);
    if (quant_fold_zero_point(INT32_MIN + 100, 127, qw, 4097, &f) != QUANT_SATURATED || f != INT32_MIN)
        fail_msg("negative overflow not reported (%d)", f);
    if (quant_fold_zero_point(INT32_MIN + 100, 0, qw, 4097, &f) != QUANT_OK || f != INT32_MIN + 100)
        fail_msg("zp 0 changed the bias (%d)", f);
}

/* 128 * 127 = 16256; 132104 * 16256 = 2147482624 = INT32_MAX - 1023 */
static void test_acc_fits(void **state) {
    (void)state;
    if (!quant_acc_fits(132104, 0) || quant_acc_fits(132105, 0)) fail_msg("bias 0");
    if (!quant_acc_fits(132104, 1023) || quant_acc_fits(132104, 1024)) fail_msg("bias 1023/1024");
    if (!quant_acc_fits(132104, -1023) || quant_acc_fits(132104, -1024)) fail_msg("bias -1023/-1024");
    if (!quant_acc_fits(0, INT32_MAX) || !quant_acc_fits(0, INT32_MIN + 1) || quant_acc_fits(0, INT32_MIN))
        fail_msg("no products");
    if (quant_acc_fits(1LL << 40, 0) || quant_acc_fits(-1, 0)) fail_msg("absurd sizes");
}

/* ---- calibration -------------------------------------------------------- */

static void expect_qrange(const char *what, QuantRange r, double lo, double hi, double tol) {
    if (!(fabs(r.lo - lo) <= tol && fabs(r.hi - hi) <= tol))
        fail_msg("%s: [%.9g, %.9g], expected [%.9g, %.9g] within %g", what, r.lo, r.hi, lo, hi, tol);
}

/* the three ranges of x[0..n-1], one pass each */
static void ranges(const float *x, long long n, QuantHist *h, QuantRange *mm, QuantRange *pc, QuantRange *kl) {
    QuantMinMax m;
    quant_minmax_init(&m);
    quant_minmax_add(&m, x, n);
    if (quant_range_minmax(&m, mm) != QUANT_OK) fail_msg("minmax");
    quant_hist_init(h, &m);
    quant_hist_add(h, x, n / 2);                 /* in two calls, as batches come */
    quant_hist_add(h, x + n / 2, n - n / 2);
    if (quant_range_percentile(h, QUANT_PERCENTILE_DEFAULT, pc) != QUANT_OK) fail_msg("percentile");
    if (quant_range_kl(h, kl) != QUANT_OK) fail_msg("kl");
}

static QuantHist hist;                           /* 16 KB: not on the stack */

static void test_minmax_and_bins(void **state) {
    (void)state;
    float x[] = { 3, NAN, -7.5f, INFINITY, 2, -INFINITY, 0.25f };
    QuantMinMax m;
    QuantRange r;
    quant_minmax_init(&m);
    quant_range_minmax(&m, &r);
    expect_qrange("no data", r, 0, 0, 0);
    quant_minmax_add(&m, x, 7);
    quant_range_minmax(&m, &r);
    expect_qrange("minmax", r, -7.5, 3, 0);
    if (m.count != 4 || m.nonfinite != 3) fail_msg("counts %lld finite, %lld not", m.count, m.nonfinite);
    /* bins: amax 1024, width 1; x.5 lands in bin 1024 + x */
    float one[2] = { 1024, -1000 };
    quant_minmax_init(&m);
    quant_minmax_add(&m, one, 2);
    quant_hist_init(&hist, &m);
    if (hist.amax != 1024) fail_msg("amax %g", hist.amax);
    float y[] = { 0.5f, 3.5f, -0.5f, -1024, 1024, 5000, -5000, NAN, 0, -1e-9f, 1023.999f };
    quant_hist_add(&hist, y, 11);
    static const struct { int bin; long long count; } want[] = {
        { 1024, 2 }, { 1027, 1 }, { 1023, 2 }, { 0, 2 }, { 2047, 3 },   /* 0 is in [0, 1); -1e-9 in [-1, 0) */
    };
    long long total = 0;
    for (int i = 0; i < 5; i++)
        if (hist.bin[want[i].bin] != want[i].count)
            fail_msg("bin %d: %lld, expected %lld", want[i].bin, hist.bin[want[i].bin], want[i].count);
    for (int k = 0; k < QUANT_HIST_BINS; k++) total += hist.bin[k];
    if (total != 10 || hist.seen.count != 10 || hist.seen.nonfinite != 1)
        fail_msg("hist total %lld, seen %lld, nonfinite %lld", total, hist.seen.count, hist.seen.nonfinite);
}

/* One value in the middle of each bin of [0, 1024): the quantile of rank r
 * is exactly r (the piecewise-linear CDF is the identity). */
static void test_percentile_exact(void **state) {
    (void)state;
    float amax[1] = { 1024 }, x[1024];
    for (int i = 0; i < 1024; i++) x[i] = i + 0.5f;
    QuantMinMax m;
    quant_minmax_init(&m);
    quant_minmax_add(&m, amax, 1);
    quant_hist_init(&hist, &m);
    quant_hist_add(&hist, x, 1024);
    QuantRange r;
    static const double ps[] = { 0.5, 0.9, 0.999, 0.2 };
    for (int i = 0; i < 4; i++) {
        if (quant_range_percentile(&hist, ps[i], &r) != QUANT_OK) fail_msg("p %g refused", ps[i]);
        double lo = 1024 * (1 - ps[i]) / 2, hi = 1024 * (1 + ps[i]) / 2;
        char what[32];
        snprintf(what, sizeof what, "p = %g", ps[i]);
        expect_qrange(what, r, fmax(lo, 0.5), fmin(hi, 1023.5), 1e-9);
    }
    quant_range_percentile(&hist, 1, &r);
    expect_qrange("p = 1", r, 0.5, 1023.5, 0);    /* [0, 1024] inside [min, max] */
    if (quant_range_percentile(&hist, 0, &r) != QUANT_EDOMAIN || quant_range_percentile(&hist, 1.5, &r) != QUANT_EDOMAIN ||
        quant_range_percentile(&hist, NAN, &r) != QUANT_EDOMAIN)
        fail_msg("p outside (0, 1] accepted");
}

/* 0..N-1: the p-quantile is about p * N, within a bin (2 amax / 2048) */
static void test_percentile_uniform(void **state) {
    (void)state;
    enum { N = 100000 };
    static float x[N + 1];
    for (int i = 0; i < N; i++) x[i] = (float)i;
    QuantMinMax m;
    quant_minmax_init(&m);
    quant_minmax_add(&m, x, N);
    quant_hist_init(&hist, &m);
    quant_hist_add(&hist, x, N);
    double w = 2.0 * (N - 1) / QUANT_HIST_BINS;
    static const double ps[] = { 0.5, 0.9, 0.99, 0.9999 };
    for (int i = 0; i < 4; i++) {
        QuantRange r;
        quant_range_percentile(&hist, ps[i], &r);
        char what[32];
        snprintf(what, sizeof what, "0..N-1, p = %g", ps[i]);
        expect_qrange(what, r, N * (1 - ps[i]) / 2, fmin(N * (1 + ps[i]) / 2, N - 1), w + 1);
    }
    /* and one outlier at 100 N: min/max keeps it, percentile and KL clip it */
    x[N] = 100.0f * N;
    QuantRange mm, pc, kl;
    ranges(x, N + 1, &hist, &mm, &pc, &kl);
    expect_qrange("outlier, minmax", mm, 0, 100.0 * N, 0);
    /* bins of 100 N / 1024 = 0.098 N now: the quantiles are within a bin */
    if (pc.lo < 0 || pc.lo > 0.1 * N || pc.hi < 0.9 * N || pc.hi > 1.1 * N)
        fail_msg("outlier, percentile: [%g, %g]", pc.lo, pc.hi);
    if (kl.lo != 0 || kl.hi > 0.2 * 100 * N) fail_msg("outlier, KL: [%g, %g] kept it", kl.lo, kl.hi);
}

/* A Gaussian (sigma 1) and two outliers at +-10.  min/max keeps the
 * outliers.  The central 99.99% is [-3.8906, 3.8906] (the normal
 * distribution's 0.99995 quantile; the sample's has a standard error of
 * about 0.03 at this size).  KL's threshold t must lie in [2, g] sigma,
 * g the largest |x| of the Gaussian part (5.18 here) plus a bin: below 2
 * sigma, 4.6% of the values would pile into the last bin; above g, the
 * range would be stretched for the two outliers alone.  The ReLU of the
 * same data has the same tail, so its threshold must be within half a
 * sigma of it: what differs is the spike of zeros, which must not decide
 * the threshold (without the spike rule it lands at 2.49 sigma). */
static void test_gaussian(void **state) {
    (void)state;
    enum { N = 1000000 };
    static float x[N + 2];
    rng_state = 2024;
    double g = 0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)rng_gauss();
        g = fmax(g, fabs((double)x[i]));
    }
    g += 10.0 / 1024;
    x[N] = 10, x[N + 1] = -10;
    QuantRange mm, pc, kl;
    ranges(x, N + 2, &hist, &mm, &pc, &kl);
    expect_qrange("Gaussian, minmax", mm, -10, 10, 0);
    expect_qrange("Gaussian, percentile", pc, -3.8906, 3.8906, 0.15);
    if (!(kl.hi >= 2 && kl.hi <= g && kl.lo == -kl.hi))
        fail_msg("Gaussian, KL: [%g, %g], expected [-t, t] with t in [2, %g]", kl.lo, kl.hi, g);
    double t = kl.hi;
    QuantRange pg = pc;
    /* the ReLU of it: [0, t'] */
    for (int i = 0; i < N + 2; i++) x[i] = x[i] > 0 ? x[i] : 0;
    ranges(x, N + 2, &hist, &mm, &pc, &kl);
    expect_qrange("ReLU, minmax", mm, 0, 10, 0);
    /* P(relu(x) <= v) = Phi(v) for v >= 0: the same 3.8906 on top; the zeros
     * spread across the bin [0, 10/1024) put the bottom inside it */
    if (pc.lo < 0 || pc.lo > 10.0 / 1024 || fabs(pc.hi - 3.8906) > 0.15)
        fail_msg("ReLU, percentile: [%g, %g]", pc.lo, pc.hi);
    if (kl.lo != 0 || !(kl.hi >= 2 && kl.hi <= g) || fabs(kl.hi - t) > 0.5)
        fail_msg("ReLU, KL: [%g, %g], expected [0, t'] with t' in [2, %g] and within 0.5 of %g", kl.lo, kl.hi, g, t);
    print_message("Gaussian: percentile 99.99%% [%.4f, %.4f]; KL threshold %.4f sigma, of its ReLU %.4f "
                  "(largest |x| %.4f)\n", pg.lo, pg.hi, t, kl.hi, g - 10.0 / 1024);
}

/* Uniform on [-1, 1]: no tail to trade, KL keeps (nearly) everything. */
static void test_kl_uniform(void **state) {
    (void)state;
    enum { N = 1000000 };
    static float x[N];
    rng_state = 99;
    for (int i = 0; i < N; i++) x[i] = (float)(rng_unit() * 2 - 1);
    QuantRange mm, pc, kl;
    ranges(x, N, &hist, &mm, &pc, &kl);
    if (kl.hi < 0.95 || kl.lo > -0.95) fail_msg("uniform, KL: [%g, %g]", kl.lo, kl.hi);
    expect_qrange("uniform, percentile", pc, -0.9999, 0.9999, 0.002);
}

/* Data on a few levels (integers, as pixel values are): 128 levels of |x|
 * hold each integer in a group of its own, so Q = P exactly at the full
 * range and KL must keep all of it, to the last bin's upper edge. */
static void test_kl_discrete(void **state) {
    (void)state;
    static float x[30000];
    int n = 0;
    for (int k = -10; k <= 10; k++)
        for (int c = 0; c < 500 + 37 * (k + 10); c++) x[n++] = (float)k;
    QuantRange mm, pc, kl;
    ranges(x, n, &hist, &mm, &pc, &kl);
    expect_qrange("integers -10..10, KL", kl, -10, 10, 0);
    n = 0;
    for (int k = 0; k <= 10; k++)
        for (int c = 0; c < 2000 - 150 * k; c++) x[n++] = (float)k;
    ranges(x, n, &hist, &mm, &pc, &kl);
    expect_qrange("integers 0..10, KL", kl, 0, 10, 0);
}

static void test_degenerate_data(void **state) {
    (void)state;
    enum { N = 100000 };
    static float x[N];
    QuantRange mm, pc, kl;
    QuantAffine a;
    /* all equal */
    for (int i = 0; i < N; i++) x[i] = 3;
    ranges(x, N, &hist, &mm, &pc, &kl);
    expect_qrange("all 3, minmax", mm, 3, 3, 0);
    expect_qrange("all 3, percentile", pc, 3, 3, 0);
    expect_qrange("all 3, KL", kl, 3, 3, 0);
    if (quant_affine(kl.lo, kl.hi, &a) != QUANT_OK || a.scale != (float)(3.0 / 255) || a.zp != -128)
        fail_msg("all 3: scale %g zp %d", (double)a.scale, a.zp);
    /* all zero */
    memset(x, 0, sizeof x);
    ranges(x, N, &hist, &mm, &pc, &kl);
    expect_qrange("all 0, minmax", mm, 0, 0, 0);
    expect_qrange("all 0, percentile", pc, 0, 0, 0);
    expect_qrange("all 0, KL", kl, 0, 0, 0);
    if (quant_affine(kl.lo, kl.hi, &a) != QUANT_OK || a.scale != 1 || a.zp != 0) fail_msg("all 0");
    /* nothing but NaN */
    for (int i = 0; i < 10; i++) x[i] = NAN;
    ranges(x, 10, &hist, &mm, &pc, &kl);
    expect_qrange("NaN, minmax", mm, 0, 0, 0);
    expect_qrange("NaN, percentile", pc, 0, 0, 0);
    expect_qrange("NaN, KL", kl, 0, 0, 0);
    if (hist.seen.nonfinite != 10) fail_msg("NaN not counted");
    /* negative only, in (-2, -1], one outlier at -50 (1 in 10^5, beyond the
     * 0.005% tail): the top is the data's max, below 0 */
    rng_state = 6;
    float top = -INFINITY;
    for (int i = 0; i < N - 1; i++) {
        x[i] = (float)(-1 - rng_unit());
        top = fmaxf(top, x[i]);
    }
    x[N - 1] = -50;
    ranges(x, N, &hist, &mm, &pc, &kl);
    expect_qrange("negative, minmax", mm, -50, top, 0);
    if (pc.hi > top || pc.hi < -1.05 || pc.lo < -2.05 || pc.lo > -1.95)
        fail_msg("negative, percentile: [%g, %g]", pc.lo, pc.hi);
    if (kl.hi != top || kl.lo <= -25) fail_msg("negative, KL: [%g, %g]", kl.lo, kl.hi);
    if (quant_affine(kl.lo, kl.hi, &a) != QUANT_OK || a.zp != 127) fail_msg("negative: zp %d", a.zp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiplier_random),
        cmocka_unit_test(test_multiplier_special),
        cmocka_unit_test(test_requantize_exact),
        cmocka_unit_test(test_requantize_hand),
        cmocka_unit_test(test_requantize_clamp),
        cmocka_unit_test(test_act_range),
        cmocka_unit_test(test_affine),
        cmocka_unit_test(test_quantize_rounding),
        cmocka_unit_test(test_quantize_saturation),
        cmocka_unit_test(test_weights_per_channel),
        cmocka_unit_test(test_bias),
        cmocka_unit_test(test_fold_zero_point),
        cmocka_unit_test(test_acc_fits),
        cmocka_unit_test(test_minmax_and_bins),
        cmocka_unit_test(test_percentile_exact),
        cmocka_unit_test(test_percentile_uniform),
        cmocka_unit_test(test_gaussian),
        cmocka_unit_test(test_kl_uniform),
        cmocka_unit_test(test_kl_discrete),
        cmocka_unit_test(test_degenerate_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
