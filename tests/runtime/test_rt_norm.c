/*
 * test_rt_norm.c — batch norm (training, inference), layer norm, group norm,
 * instance norm.
 *
 * Each case checks the forward against a float64 version written here and
 * against PyTorch (tests/ref/rt_norm.py: y, autograd dx/dγ/dβ of Σ r·y, and
 * for batch norm the updated running mean/var), and every gradient against
 * float64 central finite differences of L = Σ r·y.
 *
 * Tolerances.  FD in float64 with h = 1e-5 on these smooth functions has
 * error ≈ h²·|L'''| ≈ 1e-9 relative.  The kernels keep statistics in double
 * and round to float; the backward x̂·mean(g·x̂) term cancels against g, so
 * errors grow to ≈1e-6 relative: tolerance 1e-5 (rel. norm) vs FD, and vs
 * PyTorch (float32 throughout, other summation order) 2e-5.  Running
 * statistics: max relative error 1e-6, relative to max(|value|, 0.1): the
 * update (1−m)·r + m·μ may cancel to near 0, and PyTorch's float32 result
 * then carries the rounding of its terms (|r| ≤ 0.5 here), not of the sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"
#include "cnnrt_priv.h"

#include <string.h>

enum { BN, LN, GN, IN };
static const char *const kname[] = {"bn", "ln", "gn", "in"};

typedef struct {
    int kind, n, C, HW, G, affine;
    double eps;
    double *x, *gamma, *beta, *r, *y;
} norm_ctx;

/* float64 definition: normalise each set S with its biased variance */
static void norm_fwd_d(norm_ctx *c)
{
    const int n = c->n, C = c->C, HW = c->HW;
    /* sets: bn → channel c over (i, k); ln → sample; gn/in → (sample, group) */
    int nsets, G = c->kind == LN ? 1 : c->kind == IN ? C : c->G;
    nsets = c->kind == BN ? C : n * G;
    for (int s = 0; s < nsets; s++) {
        double sum = 0, ss = 0;
        int M = 0;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < C; ch++) {
                int in_set = c->kind == BN ? ch == s : (i == s / G && ch / (C / G) == s % G);
                if (!in_set)
                    continue;
                for (int k = 0; k < HW; k++, M++)
                    sum += c->x[(i * C + ch) * HW + k];
            }
        double mu = sum / M;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < C; ch++) {
                int in_set = c->kind == BN ? ch == s : (i == s / G && ch / (C / G) == s % G);
                if (!in_set)
                    continue;
                for (int k = 0; k < HW; k++) {
                    double d = c->x[(i * C + ch) * HW + k] - mu;
                    ss += d * d;
                }
            }
        double rstd = 1 / sqrt(ss / M + c->eps);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < C; ch++) {
                int in_set = c->kind == BN ? ch == s : (i == s / G && ch / (C / G) == s % G);
                if (!in_set)
                    continue;
                for (int k = 0; k < HW; k++) {
                    int e = (i * C + ch) * HW + k;
                    int j = c->kind == LN ? ch * HW + k : ch;  /* affine index */
                    double v = (c->x[e] - mu) * rstd;
                    c->y[e] = c->affine ? c->gamma[j] * v + c->beta[j] : v;
                }
            }
    }
}

static double norm_L(void *ctx)
{
    norm_ctx *c = ctx;
    norm_fwd_d(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->C * c->HW);
}

static void check_norm(int kind, int n, int C, int HW, int G, int affine, uint64_t seed)
{
    char what[160], args[160], tag[64];
    snprintf(tag, sizeof tag, "%s n%d C%d HW%d G%d affine%d", kname[kind], n, C, HW, G, affine);
    const float eps = 1e-5f, mom = 0.1f;
    const size_t cnt = (size_t)n * C * HW, P = kind == LN ? (size_t)C * HW : (size_t)C;
    const size_t nstat = kind == BN ? (size_t)C : kind == LN ? (size_t)n
                       : kind == GN ? (size_t)n * G : (size_t)n * C;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    /* IN layout for the torch script: x, gamma, beta, r, rm, rv */
    const size_t nin = 2 * cnt + 2 * P + (kind == BN ? 2 * (size_t)C : 0);
    float *in = t_falloc(nin);
    float *x = in, *gamma = in + cnt, *beta = gamma + P, *r = beta + P, *rm = r + cnt, *rv = rm + C;
    t_fill(x, cnt, &rng, -2, 3);
    t_fill(gamma, P, &rng, 0.5f, 1.5f);
    t_fill(beta, P, &rng, -1, 1);
    t_fill(r, cnt, &rng, -1, 1);
    if (kind == BN) {
        t_fill(rm, C, &rng, -0.5f, 0.5f);
        t_fill(rv, C, &rng, 0.5f, 2.0f);
    }
    const float *gp = affine ? gamma : NULL, *bp = affine ? beta : NULL;
    float *y = t_falloc(cnt), *mean = t_falloc(nstat), *rstd = t_falloc(nstat);
    float *rm1 = t_falloc(C), *rv1 = t_falloc(C);
    if (kind == BN) {
        memcpy(rm1, rm, C * sizeof(float));
        memcpy(rv1, rv, C * sizeof(float));
    }
    switch (kind) {
    case BN: cnnrt_batchnorm_forward_train(y, rm1, rv1, mean, rstd, x, gp, bp, eps, mom, n, C, HW); break;
    case LN: cnnrt_layernorm_forward(y, mean, rstd, x, gp, bp, eps, n, C * HW); break;
    case GN: cnnrt_groupnorm_forward(y, mean, rstd, x, gp, bp, eps, n, C, HW, G); break;
    default: cnnrt_instancenorm_forward(y, mean, rstd, x, gp, bp, eps, n, C, HW); break;
    }
    norm_ctx c = {kind, n, C, HW, G, affine, eps, t_dalloc(cnt), t_dalloc(P), t_dalloc(P),
                  t_dalloc(cnt), t_dalloc(cnt)};
    t_to_double(c.x, x, cnt);
    t_to_double(c.gamma, gamma, P);
    t_to_double(c.beta, beta, P);
    t_to_double(c.r, r, cnt);
    norm_fwd_d(&c);
    snprintf(what, sizeof what, "%s: forward vs f64", tag);
    t_check_rel(what, y, c.y, cnt, 1e-6);

    /* backward into pre-filled buffers (+=) */
    float *dx = t_falloc(cnt), *dg = t_falloc(P), *db = t_falloc(P);
    float *dx0 = t_falloc(cnt), *dg0 = t_falloc(P), *db0 = t_falloc(P);
    t_fill(dx0, cnt, &rng, -0.5f, 0.5f);
    t_fill(dg0, P, &rng, -0.5f, 0.5f);
    t_fill(db0, P, &rng, -0.5f, 0.5f);
    memcpy(dx, dx0, cnt * sizeof(float));
    memcpy(dg, dg0, P * sizeof(float));
    memcpy(db, db0, P * sizeof(float));
    float *dgp = affine ? dg : NULL, *dbp = affine ? db : NULL;
    switch (kind) {
    case BN: cnnrt_batchnorm_backward_train(dx, dgp, dbp, r, x, mean, rstd, gp, n, C, HW); break;
    case LN: cnnrt_layernorm_backward(dx, dgp, dbp, r, x, mean, rstd, gp, n, C * HW); break;
    case GN: cnnrt_groupnorm_backward(dx, dgp, dbp, r, x, mean, rstd, gp, n, C, HW, G); break;
    default: cnnrt_instancenorm_backward(dx, dgp, dbp, r, x, mean, rstd, gp, n, C, HW); break;
    }
    t_sub(dx, dx0, cnt);
    t_sub(dg, dg0, P);
    t_sub(db, db0, P);

    double *gx = t_dalloc(cnt), *gg = t_dalloc(P), *gb = t_dalloc(P);
    t_fd_grad(gx, c.x, cnt, 1e-5, norm_L, &c);
    snprintf(what, sizeof what, "%s: dx vs FD", tag);
    t_check_rel(what, dx, gx, cnt, 1e-5);
    if (affine) {
        t_fd_grad(gg, c.gamma, P, 1e-5, norm_L, &c);
        t_fd_grad(gb, c.beta, P, 1e-5, norm_L, &c);
        snprintf(what, sizeof what, "%s: dgamma vs FD", tag);
        t_check_rel(what, dg, gg, P, 1e-5);
        snprintf(what, sizeof what, "%s: dbeta vs FD", tag);
        t_check_rel(what, db, gb, P, 1e-5);
    }

    /* PyTorch */
    const size_t nout = 2 * cnt + 2 * P + (kind == BN ? 2 * (size_t)C : 0);
    float *tout = t_falloc(nout);
    snprintf(args, sizeof args, "%s %d %d %d %d %d %.9g %.9g", kname[kind], n, C, HW,
             kind == GN ? G : 1, affine, (double)eps, (double)mom);
    t_torch("rt_norm.py", args, in, nin, tout, nout);
    double *td = t_dalloc(nout);
    t_to_double(td, tout, nout);
    snprintf(what, sizeof what, "%s: y vs torch", tag);
    t_check_rel(what, y, td, cnt, 2e-5);
    snprintf(what, sizeof what, "%s: dx vs torch", tag);
    t_check_rel(what, dx, td + cnt, cnt, 2e-5);
    if (affine) {
        snprintf(what, sizeof what, "%s: dgamma vs torch", tag);
        t_check_rel(what, dg, td + 2 * cnt, P, 2e-5);
        snprintf(what, sizeof what, "%s: dbeta vs torch", tag);
        t_check_rel(what, db, td + 2 * cnt + P, P, 2e-5);
    }
    if (kind == BN) {
        snprintf(what, sizeof what, "%s: running_mean vs torch", tag);
        t_check_maxrel(what, rm1, td + 2 * cnt + 2 * P, C, 0.1, 1e-6);
        snprintf(what, sizeof what, "%s: running_var vs torch", tag);
        t_check_maxrel(what, rv1, td + 2 * cnt + 2 * P + C, C, 0.1, 1e-6);
    }

    free(in); free(y); free(mean); free(rstd); free(rm1); free(rv1);
    free(c.x); free(c.gamma); free(c.beta); free(c.r); free(c.y);
    free(dx); free(dg); free(db); free(dx0); free(dg0); free(db0);
    free(gx); free(gg); free(gb); free(tout); free(td);
}

static void test_batchnorm(void **s)
{
    (void)s;
    check_norm(BN, 3, 4, 5 * 3, 0, 1, 301);     /* BatchNorm2d */
    check_norm(BN, 2, 3, 7, 0, 0, 302);         /* affine=False */
    check_norm(BN, 5, 6, 1, 0, 1, 303);         /* BatchNorm1d on [n][D] */
}

static void test_layernorm(void **s)
{
    (void)s;
    check_norm(LN, 3, 3, 5 * 2, 0, 1, 311);     /* LayerNorm([C,H,W]) */
    check_norm(LN, 2, 9, 1, 0, 1, 312);         /* LayerNorm([D]) */
}

static void test_groupnorm(void **s)
{
    (void)s;
    check_norm(GN, 2, 6, 5, 2, 1, 321);
    check_norm(GN, 3, 6, 4, 3, 1, 322);
    check_norm(GN, 2, 4, 6, 1, 1, 323);         /* one group */
}

static void test_instancenorm(void **s)
{
    (void)s;
    check_norm(IN, 2, 3, 7 * 2, 0, 0, 331);     /* PyTorch default: no affine */
    check_norm(IN, 3, 2, 9, 0, 1, 332);
}

static void test_batchnorm_infer(void **s)
{
    (void)s;
    const int n = 2, C = 3, HW = 5;
    const size_t cnt = (size_t)n * C * HW;
    const float eps = 1e-5f;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 340);
    float x[30], y[30], dy[30], dx[30] = {0}, rm[3], rv[3], g[3], b[3];
    float dg[3] = {0}, db[3] = {0};
    t_fill(x, cnt, &rng, -2, 2);
    t_fill(dy, cnt, &rng, -1, 1);
    t_fill(rm, C, &rng, -0.5f, 0.5f);
    t_fill(rv, C, &rng, 0.5f, 2);
    t_fill(g, C, &rng, 0.5f, 1.5f);
    t_fill(b, C, &rng, -1, 1);
    cnnrt_batchnorm_forward_infer(y, x, rm, rv, g, b, eps, n, C, HW);
    cnnrt_batchnorm_backward_infer(dx, dg, db, dy, x, rm, rv, g, eps, n, C, HW);
    double yr[30], dxr[30], dgr[3] = {0}, dbr[3] = {0};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < HW; k++) {
                int e = (i * C + c) * HW + k;
                double xh = (x[e] - (double)rm[c]) / sqrt((double)rv[c] + eps);
                yr[e] = g[c] * xh + b[c];
                dxr[e] = dy[e] * (double)g[c] / sqrt((double)rv[c] + eps);
                dgr[c] += dy[e] * xh;
                dbr[c] += dy[e];
            }
    t_check_rel("bn infer: y vs f64", y, yr, cnt, 1e-6);
    t_check_rel("bn infer: dx vs f64", dx, dxr, cnt, 1e-6);
    t_check_rel("bn infer: dgamma vs f64", dg, dgr, C, 1e-6);
    t_check_rel("bn infer: dbeta vs f64", db, dbr, C, 1e-6);
}

/* Batch norm and relu fused (cnnrt_priv.h, the executor's PLAN_BNRELU):
 * the bits of batch norm, then relu, forward and backward, with dx written
 * (=) and added to (+=).  Planes of 37 and 300 values: both partial-sum
 * widths of the statistics. */
static void check_bn_relu(int n, int C, int HW, uint64_t seed)
{
    const size_t cnt = (size_t)n * C * HW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(cnt), *dy = t_falloc(cnt), *dx0 = t_falloc(cnt), *g = t_falloc(C), *b = t_falloc(C);
    t_fill(x, cnt, &rng, -2, 2);
    t_fill(dy, cnt, &rng, -1, 1);
    t_fill(dx0, cnt, &rng, -1, 1);
    t_fill(g, C, &rng, 0.5f, 1.5f);
    t_fill(b, C, &rng, -0.5f, 0.5f);
    float *y1 = t_falloc(cnt), *y2 = t_falloc(cnt), *st1 = t_falloc(6 * (size_t)C), *st2 = t_falloc(6 * (size_t)C);
    float *dm = t_falloc(cnt), *dx1 = t_falloc(cnt), *dx2 = t_falloc(cnt);
    for (int add = 0; add < 2; add++) {
        for (int k = 0; k < 6 * C; k++) st1[k] = st2[k] = k < 2 * C ? 0.25f : 0.0f;   /* running stats, dγ, dβ */
        /* two ops: batch norm, relu in place; relu's backward, batch norm's */
        cnnrt_batchnorm_forward_train(y1, st1, st1 + C, st1 + 2 * C, st1 + 3 * C, x, g, b, 1e-5f, 0.1f, n, C, HW);
        cnnrt_relu_forward(y1, y1, cnt);
        for (size_t i = 0; i < cnt; i++) dm[i] = y1[i] <= 0.0f ? 0.0f : dy[i];   /* relu's backward */
        memcpy(dx1, dx0, sizeof(float) * cnt);
        cnnrt_batchnorm_backward_train_ex(dx1, add, st1 + 4 * C, st1 + 5 * C, dm, NULL, x, st1 + 2 * C, st1 + 3 * C,
                                          g, n, C, HW);
        /* fused */
        cnnrt_batchnorm_forward_train_ex(y2, st2, st2 + C, st2 + 2 * C, st2 + 3 * C, x, g, b, 1e-5f, 0.1f, n, C, HW,
                                         1);
        memcpy(dx2, dx0, sizeof(float) * cnt);
        cnnrt_batchnorm_backward_train_ex(dx2, add, st2 + 4 * C, st2 + 5 * C, dy, y2, x, st2 + 2 * C, st2 + 3 * C,
                                          g, n, C, HW);
        size_t pos = 0;
        for (size_t i = 0; i < cnt; i++) pos += y2[i] > 0.0f;
        assert_true(pos > cnt / 4 && pos < 3 * cnt / 4);   /* the mask cuts */
        assert_memory_equal(y1, y2, sizeof(float) * cnt);
        assert_memory_equal(st1, st2, sizeof(float) * 6 * (size_t)C);
        assert_memory_equal(dx1, dx2, sizeof(float) * cnt);
    }
    free(x); free(dy); free(dx0); free(g); free(b); free(y1); free(y2); free(st1); free(st2);
    free(dm); free(dx1); free(dx2);
}

static void test_batchnorm_relu(void **s)
{
    (void)s;
    check_bn_relu(3, 4, 37, 350);
    check_bn_relu(2, 3, 300, 351);
}

/* The fused batch norm + relu with a NaN in channel 1, a +Inf in channel
 * 2 and a −Inf in channel 3 (channel 0 clean), against PyTorch
 * (tests/ref/rt_norm.py bnrelu: BatchNorm2d in training mode, then
 * F.relu, autograd of Σ r·y): every value of those channels is NaN, and
 * the relu passes dy there, so dβ is Σ dy, not 0, while dγ and dx are NaN;
 * the running statistics take the NaN or Inf too.  Finite values within
 * 2e-5 of the largest (PyTorch's float32, another summation order). */
static void check_bn_relu_special(int n, int C, int HW, uint64_t seed)
{
    const size_t cnt = (size_t)n * C * HW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    /* IN layout for the torch script: x, gamma, beta, r (= dy), rm, rv */
    float *in = t_falloc(2 * cnt + 4 * (size_t)C);
    float *x = in, *g = x + cnt, *b = g + C, *dy = b + C, *rm = dy + cnt, *rv = rm + C;
    t_fill(x, cnt, &rng, -2, 2);
    t_fill(g, C, &rng, 0.5f, 1.5f);
    t_fill(b, C, &rng, -0.5f, 0.5f);
    t_fill(dy, cnt, &rng, -1, 1);
    t_fill(rm, C, &rng, -0.5f, 0.5f);
    t_fill(rv, C, &rng, 0.5f, 2.0f);
    x[((size_t)(n - 1) * C + 1) * HW + HW / 2] = NAN;
    x[(size_t)2 * HW + 3] = INFINITY;
    x[(size_t)3 * HW + HW - 1] = -INFINITY;
    float *y = t_falloc(cnt), *dx = t_falloc(cnt), *st = t_falloc(6 * (size_t)C), *ref = t_falloc(2 * cnt + 4 * (size_t)C);
    memcpy(st, rm, 2 * C * sizeof(float));                      /* running mean, var; then mean, invstd, dγ, dβ */
    cnnrt_batchnorm_forward_train_ex(y, st, st + C, st + 2 * C, st + 3 * C, x, g, b, 1e-5f, 0.1f, n, C, HW, 1);
    cnnrt_batchnorm_backward_train_ex(dx, 0, st + 4 * C, st + 5 * C, dy, y, x, st + 2 * C, st + 3 * C, g, n, C, HW);
    char args[128];
    snprintf(args, sizeof args, "bnrelu %d %d %d 1 1 %.9g %.9g", n, C, HW, 1e-5, 0.1);
    t_torch("rt_norm.py", args, in, 2 * cnt + 4 * (size_t)C, ref, 2 * cnt + 4 * (size_t)C);
    assert_true(t_check_ieee("bn+relu with NaN/Inf: y vs torch", y, ref, cnt, 2e-5) == 3 * (size_t)n * HW);
    assert_true(t_check_ieee("bn+relu with NaN/Inf: dx vs torch", dx, ref + cnt, cnt, 2e-5) == 3 * (size_t)n * HW);
    t_check_ieee("bn+relu with NaN/Inf: dgamma vs torch", st + 4 * C, ref + 2 * cnt, C, 2e-5);
    t_check_ieee("bn+relu with NaN/Inf: dbeta vs torch", st + 5 * C, ref + 2 * cnt + C, C, 2e-5);
    for (int c = 1; c < C; c++)
        assert_true(isfinite(st[5 * C + c]) && st[5 * C + c] != 0.0f);   /* Σ dy passed by the relu */
    t_check_ieee("bn+relu with NaN/Inf: running_mean vs torch", st, ref + 2 * cnt + 2 * C, C, 1e-6);
    t_check_ieee("bn+relu with NaN/Inf: running_var vs torch", st + C, ref + 2 * cnt + 3 * C, C, 1e-6);
    free(in); free(y); free(dx); free(st); free(ref);
}

static void test_batchnorm_relu_nonfinite(void **s)
{
    (void)s;
    check_bn_relu_special(3, 4, 37, 360);
    check_bn_relu_special(2, 4, 300, 361);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_batchnorm_infer),
        cmocka_unit_test(test_batchnorm_relu),
        cmocka_unit_test(test_batchnorm_relu_nonfinite),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_groupnorm),
        cmocka_unit_test(test_instancenorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
