/*
 * test_rt_acts.c — every activation of runtime/cnnrt_acts.def through
 * cnnrt's table (cnnrt_act_table): its forward and backward kernels with
 * parameters away from their defaults.
 *
 * 1. Finite inputs: forward against the function written here in float64,
 *    backward against float64 central finite differences of
 *    L = Σ r·f(x) (h = 1e-5), accumulated onto a random dx.  Inputs are
 *    uniform in [−7, 7) (relu6's and hardswish's corners inside), kept
 *    0.05 away from every point where f' jumps, so the difference quotient
 *    is the derivative.  Forward: each value within 2e-6 relative (a floor
 *    of 1e-6 for values near 0); backward: ‖dx − ref‖/‖ref‖ ≤ 1e-5.
 * 2. Where BWD_Y says the backward may take the output for the input (a
 *    fused activation keeps only its output), it gives the same bits from
 *    (y, y) as from (x, y) — NaN and infinities included.
 * 3. NaN, ±Inf and ±0 in x (and NaN in dy) against PyTorch's CPU functions
 *    (tests/ref/rt_act.py table): NaN and infinities where PyTorch has them,
 *    finite values within 1e-5 of the largest (two float32 evaluations of
 *    the same function in different forms, some ulps apart; 1. measures
 *    the accuracy).  Rows of 64: PyTorch's vectorised kernels see every
 *    value, and they treat NaN differently from its scalar remainder loop
 *    in places (hardtanh's gradient: 0 vectorised, dy scalar); cnnrt
 *    follows the vectorised kernels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"
#include "cnnrt_priv.h"

/* Each activation's parameters for the test (not its defaults) and the
 * name rt_act.py knows it by. */
static const struct {
    int act;
    const char *name;
    float a, b;
} cases[] = {
    { CNNRT_ACT_RELU, "relu", 0, 0 },
    { CNNRT_ACT_LEAKY, "leaky_relu", 0.13f, 0 },
    { CNNRT_ACT_TANH, "tanh", 0, 0 },
    { CNNRT_ACT_SIGMOID, "sigmoid", 0, 0 },
    { CNNRT_ACT_RELU6, "relu6", 0, 0 },
    { CNNRT_ACT_HARDTANH, "hardtanh", -0.7f, 1.3f },
    { CNNRT_ACT_HARDSIGMOID, "hardsigmoid", 0, 0 },
    { CNNRT_ACT_HARDSWISH, "hardswish", 0, 0 },
    { CNNRT_ACT_SILU, "silu", 0, 0 },
    { CNNRT_ACT_GELU, "gelu", 0, 0 },
    { CNNRT_ACT_GELU_TANH, "gelu_tanh", 0, 0 },
    { CNNRT_ACT_ELU, "elu", 0.8f, 0 },
    { CNNRT_ACT_SELU, "selu", 0, 0 },
    { CNNRT_ACT_MISH, "mish", 0, 0 },
    { CNNRT_ACT_SOFTPLUS, "softplus", 1.5f, 4.0f },
};
#define NCASES (sizeof cases / sizeof cases[0])

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* f in float64, written from PyTorch's documentation of each module */
static double f64(int act, double x, double a, double b)
{
    switch (act) {
    case CNNRT_ACT_RELU: return x > 0 ? x : 0;
    case CNNRT_ACT_LEAKY: return x > 0 ? x : a * x;
    case CNNRT_ACT_TANH: return tanh(x);
    case CNNRT_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case CNNRT_ACT_RELU6: return clampd(x, 0, 6);
    case CNNRT_ACT_HARDTANH: return clampd(x, a, b);
    case CNNRT_ACT_HARDSIGMOID: return clampd(x / 6 + 0.5, 0, 1);
    case CNNRT_ACT_HARDSWISH: return x * clampd(x + 3, 0, 6) / 6;
    case CNNRT_ACT_SILU: return x / (1 + exp(-x));
    case CNNRT_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case CNNRT_ACT_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case CNNRT_ACT_ELU: return x > 0 ? x : a * (exp(x) - 1);
    case CNNRT_ACT_SELU: return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * (exp(x) - 1));
    case CNNRT_ACT_MISH: return x * tanh(log1p(exp(x)));
    case CNNRT_ACT_SOFTPLUS: return a * x > b ? x : log1p(exp(a * x)) / a;
    default: return NAN;
    }
}

/* is x within 0.05 of a point where f' jumps? */
static int near_kink(int act, double x, double a, double b)
{
    double k[3] = {0, 0, 0};
    int n = 0;
    switch (act) {
    case CNNRT_ACT_RELU: case CNNRT_ACT_LEAKY: case CNNRT_ACT_ELU: case CNNRT_ACT_SELU: k[n++] = 0; break;
    case CNNRT_ACT_RELU6: k[n++] = 0; k[n++] = 6; break;
    case CNNRT_ACT_HARDTANH: k[n++] = a; k[n++] = b; break;
    case CNNRT_ACT_HARDSIGMOID: case CNNRT_ACT_HARDSWISH: k[n++] = -3; k[n++] = 3; break;
    case CNNRT_ACT_SOFTPLUS: k[n++] = b / a; break;
    default: break;
    }
    for (int i = 0; i < n; i++)
        if (fabs(x - k[i]) < 0.05) return 1;
    return 0;
}

typedef struct {
    int act;
    double a, b, *x, *r;
    size_t n;
} L_ctx;

static double L_of(void *ctx)
{
    L_ctx *c = ctx;
    double s = 0;
    for (size_t i = 0; i < c->n; i++) s += c->r[i] * f64(c->act, c->x[i], c->a, c->b);
    return s;
}

static void check_finite(size_t k, uint64_t seed)
{
    const int act = cases[k].act;
    const float a = cases[k].a, b = cases[k].b;
    const size_t cnt = 301;        /* the vector loops' bodies and tails */
    char what[128];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(cnt), *y = t_falloc(cnt), *dy = t_falloc(cnt), *dx0 = t_falloc(cnt), *dx = t_falloc(cnt);
    t_fill(x, cnt, &rng, -7, 7);
    for (size_t i = 0; i < cnt; i++)
        while (near_kink(act, x[i], a, b)) t_fill(x + i, 1, &rng, -7, 7);
    t_fill(dy, cnt, &rng, -1, 1);
    t_fill(dx0, cnt, &rng, -0.5f, 0.5f);
    double *xd = t_dalloc(cnt), *r = t_dalloc(cnt), *yd = t_dalloc(cnt), *g = t_dalloc(cnt);
    t_to_double(xd, x, cnt);
    t_to_double(r, dy, cnt);
    for (size_t i = 0; i < cnt; i++) yd[i] = f64(act, xd[i], a, b);

    cnnrt_act_table[act].fwd(y, x, a, b, cnt);
    snprintf(what, sizeof what, "%s: forward vs f64", cases[k].name);
    t_check_maxrel(what, y, yd, cnt, 1e-6, 2e-6);

    L_ctx c = { act, a, b, xd, r, cnt };
    t_fd_grad(g, xd, cnt, 1e-5, L_of, &c);
    memcpy(dx, dx0, cnt * sizeof *dx);
    cnnrt_act_table[act].bwd(dx, dy, x, y, a, b, cnt);
    t_sub(dx, dx0, cnt);
    snprintf(what, sizeof what, "%s: dx vs FD", cases[k].name);
    t_check_rel(what, dx, g, cnt, 1e-5);

    free(x); free(y); free(dy); free(dx0); free(dx);
    free(xd); free(r); free(yd); free(g);
}

static void test_finite(void **s)
{
    (void)s;
    assert_int_equal(NCASES, CNNRT_ACT_COUNT - 1);     /* every activation of the table */
    for (size_t k = 0; k < NCASES; k++) check_finite(k, 300 + k);
}

static void test_from_output(void **s)
{
    (void)s;
    const size_t cnt = 203;
    for (size_t k = 0; k < NCASES; k++) {
        const int act = cases[k].act;
        const float a = cases[k].a, b = cases[k].b;
        if (!cnnrt_act_table[act].bwd_y(a, b)) continue;
        cnnrt_rng rng;
        cnnrt_rng_seed(&rng, 400 + k);
        float *x = t_falloc(cnt), *y = t_falloc(cnt), *dy = t_falloc(cnt), *d1 = t_falloc(cnt), *d2 = t_falloc(cnt);
        t_special_fill(x, dy, cnt, 8, &rng);
        t_fill(d1, cnt, &rng, -0.5f, 0.5f);
        memcpy(d2, d1, cnt * sizeof *d1);
        cnnrt_act_table[act].fwd(y, x, a, b, cnt);
        cnnrt_act_table[act].bwd(d1, dy, x, y, a, b, cnt);
        cnnrt_act_table[act].bwd(d2, dy, y, y, a, b, cnt);
        for (size_t i = 0; i < cnt; i++)
            if (memcmp(&d1[i], &d2[i], sizeof(float)) != 0 && !(isnan(d1[i]) && isnan(d2[i])))
                fail_msg("%s: backward from the output differs at [%zu] (x %g): %g from x, %g from y",
                         cases[k].name, i, (double)x[i], (double)d1[i], (double)d2[i]);
        free(x); free(y); free(dy); free(d1); free(d2);
    }
}

static void test_nonfinite(void **s)
{
    (void)s;
    const int n = 3, D = 64;     /* whole vectors for PyTorch: see the top */
    const size_t cnt = (size_t)n * D;
    for (size_t k = 0; k < NCASES; k++) {
        const int act = cases[k].act;
        const float a = cases[k].a, b = cases[k].b;
        char what[96], args[96];
        cnnrt_rng rng;
        cnnrt_rng_seed(&rng, 500 + k);
        float *in = t_falloc(2 * cnt), *x = in, *dy = in + cnt;
        float *y = t_falloc(cnt), *dx = t_falloc(cnt), *ref = t_falloc(2 * cnt);
        t_special_fill(x, dy, cnt, 8, &rng);
        memset(dx, 0, cnt * sizeof *dx);
        cnnrt_act_table[act].fwd(y, x, a, b, cnt);
        cnnrt_act_table[act].bwd(dx, dy, x, y, a, b, cnt);
        snprintf(args, sizeof args, "table:%s %d %d %.9g %.9g", cases[k].name, n, D, (double)a, (double)b);
        t_torch("rt_act.py", args, in, 2 * cnt, ref, 2 * cnt);
        snprintf(what, sizeof what, "%s with NaN/Inf: y vs torch", cases[k].name);
        assert_true(t_check_ieee(what, y, ref, cnt, 1e-5) > 0);
        snprintf(what, sizeof what, "%s with NaN/Inf: dx vs torch", cases[k].name);
        assert_true(t_check_ieee(what, dx, ref + cnt, cnt, 1e-5) > 0);
        free(in); free(y); free(dx); free(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite),
        cmocka_unit_test(test_from_output),
        cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
