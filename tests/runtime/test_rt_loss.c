/*
 * test_rt_loss.c — softmax cross-entropy (with label smoothing) and MSE.
 *
 * Checks: the loss against a float64 formula written here and against
 * PyTorch (CrossEntropyLoss(label_smoothing=ε), MSELoss, via
 * tests/ref/rt_loss.py, loss and autograd gradient), and the gradient
 * against float64 central finite differences of the float64 loss.
 *
 * Tolerances: the kernels compute in double and round once to float, so
 * they sit within 1 ulp of float64 (6e-8 relative): loss max rel 1e-6,
 * gradient rel-norm 1e-6.  FD in float64 with h = 1e-5 on smooth functions
 * has error ≈ h² ≈ 1e-10.  PyTorch works in float32 throughout (log-softmax,
 * mean): allow 1e-5 max relative error on the loss and 1e-5 rel-norm on the
 * gradient (elements far below the norm are compared with an absolute floor).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"

typedef struct {
    int n, K;
    double eps;
    const int32_t *labels;
    double *x;
} xent_ctx;

static double xent_L(void *ctx)
{
    xent_ctx *c = ctx;
    double total = 0;
    for (int i = 0; i < c->n; i++) {
        const double *x = c->x + i * c->K;
        double s = 0;
        for (int k = 0; k < c->K; k++)
            s += exp(x[k]);
        for (int k = 0; k < c->K; k++) {
            double q = c->eps / c->K + (k == c->labels[i] ? 1 - c->eps : 0);
            total -= q * (x[k] - log(s));
        }
    }
    return total / c->n;
}

static void check_xent(int n, int K, float eps, float scale, uint64_t seed)
{
    char what[128], args[128];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    const size_t cnt = (size_t)n * K;
    float *in = t_falloc(cnt + n), *d = t_falloc(cnt), *ref = t_falloc(1 + cnt);
    int32_t *labels = calloc(n, sizeof *labels);
    assert_non_null(labels);
    t_fill(in, cnt, &rng, -scale, scale);
    for (int i = 0; i < n; i++) {
        labels[i] = (int32_t)(cnnrt_rng_u32(&rng) % (uint32_t)K);
        in[cnt + i] = (float)labels[i];
    }
    xent_ctx c = {n, K, eps, labels, t_dalloc(cnt)};
    t_to_double(c.x, in, cnt);

    float loss = cnnrt_softmax_xent(d, in, labels, eps, n, K);
    double L = xent_L(&c);
    snprintf(what, sizeof what, "xent n%d K%d eps%g x%g: loss vs f64", n, K, eps, scale);
    t_check_maxrel(what, &loss, &L, 1, 1e-30, 1e-6);
    assert_true(cnnrt_softmax_xent(NULL, in, labels, eps, n, K) == loss);

    double *g = t_dalloc(cnt);
    t_fd_grad(g, c.x, cnt, 1e-5, xent_L, &c);
    snprintf(what, sizeof what, "xent n%d K%d eps%g x%g: dlogits vs FD", n, K, eps, scale);
    t_check_rel(what, d, g, cnt, 1e-6);

    snprintf(args, sizeof args, "xent %d %d %.9g", n, K, (double)eps);
    t_torch("rt_loss.py", args, in, cnt + n, ref, 1 + cnt);
    double *rd = t_dalloc(1 + cnt);
    t_to_double(rd, ref, 1 + cnt);
    snprintf(what, sizeof what, "xent n%d K%d eps%g x%g: loss vs torch", n, K, eps, scale);
    t_check_maxrel(what, &loss, rd, 1, 1e-30, 1e-5);
    snprintf(what, sizeof what, "xent n%d K%d eps%g x%g: dlogits vs torch", n, K, eps, scale);
    t_check_rel(what, d, rd + 1, cnt, 1e-5);

    free(in); free(d); free(ref); free(labels); free(c.x); free(g); free(rd);
}

static void test_xent(void **s)
{
    (void)s;
    check_xent(3, 5, 0.0f, 2.0f, 201);
    check_xent(5, 10, 0.1f, 3.0f, 202);
    check_xent(2, 7, 0.25f, 1.0f, 203);
}

static void test_xent_large_logits(void **s)
{
    (void)s;
    /* logits of ±80: e^80 overflows float, the kernel must stay finite */
    check_xent(3, 6, 0.1f, 80.0f, 204);
    float x[3] = {1000.0f, -1000.0f, 0.0f}, d[3];
    int32_t y = 1;
    float loss = cnnrt_softmax_xent(d, x, &y, 0.0f, 1, 3);
    assert_true(isfinite(loss) && fabsf(loss - 2000.0f) < 1e-2f);
    assert_true(isfinite(d[0]) && isfinite(d[1]) && isfinite(d[2]));
}

typedef struct { size_t n; double *y, *t; } mse_ctx;

static double mse_L(void *ctx)
{
    mse_ctx *c = ctx;
    double s = 0;
    for (size_t i = 0; i < c->n; i++)
        s += (c->y[i] - c->t[i]) * (c->y[i] - c->t[i]);
    return s / c->n;
}

static void test_mse(void **s)
{
    (void)s;
    const size_t cnt = 3 * 7;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 210);
    float *in = t_falloc(2 * cnt), *d = t_falloc(cnt), *ref = t_falloc(1 + cnt);
    t_fill(in, 2 * cnt, &rng, -2, 2);
    mse_ctx c = {cnt, t_dalloc(cnt), t_dalloc(cnt)};
    t_to_double(c.y, in, cnt);
    t_to_double(c.t, in + cnt, cnt);
    float loss = cnnrt_mse(d, in, in + cnt, cnt);
    double L = mse_L(&c), *g = t_dalloc(cnt), *rd = t_dalloc(1 + cnt);
    t_check_maxrel("mse: loss vs f64", &loss, &L, 1, 1e-30, 1e-6);
    t_fd_grad(g, c.y, cnt, 1e-5, mse_L, &c);
    t_check_rel("mse: dy vs FD", d, g, cnt, 1e-6);
    char args[64];
    snprintf(args, sizeof args, "mse %zu", cnt);
    t_torch("rt_loss.py", args, in, 2 * cnt, ref, 1 + cnt);
    t_to_double(rd, ref, 1 + cnt);
    t_check_maxrel("mse: loss vs torch", &loss, rd, 1, 1e-30, 1e-5);
    t_check_rel("mse: dy vs torch", d, rd + 1, cnt, 1e-5);
    free(in); free(d); free(ref); free(c.y); free(c.t); free(g); free(rd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_xent_large_logits),
        cmocka_unit_test(test_mse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
