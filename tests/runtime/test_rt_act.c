/*
 * test_rt_act.c — activations, softmax, dropout, prelu, residual add, concat,
 * flatten, and the RNG they use.
 *
 * Gradients vs float64 central finite differences of L = Σ r·f(x), with
 * f written here in float64.  Inputs keep |x| ≥ 0.05, away from the relu
 * kink, and h = 1e-5: truncation ≈ h²·|f'''| ≈ 1e-10, rounding ≈ 1e-11.
 * The float32 kernels are within a few ulps (≈1e-7 relative), so the
 * relative-norm tolerance is 1e-5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"

enum { RELU, LEAKY, TANH, SIGMOID, SOFTMAX };
static const char *const names[] = {"relu", "leaky_relu", "tanh", "sigmoid", "softmax"};
#define SLOPE 0.13f

typedef struct {
    int kind, n, D;
    double *x, *r, *y;
} act_ctx;

static void act_fwd_d(act_ctx *c)
{
    size_t cnt = (size_t)c->n * c->D;
    for (size_t i = 0; i < cnt; i++) {
        double v = c->x[i];
        switch (c->kind) {
        case RELU: c->y[i] = v > 0 ? v : 0; break;
        case LEAKY: c->y[i] = v > 0 ? v : (double)SLOPE * v; break;
        case TANH: c->y[i] = tanh(v); break;
        case SIGMOID: c->y[i] = 1 / (1 + exp(-v)); break;
        default: break;
        }
    }
    if (c->kind == SOFTMAX)
        for (int i = 0; i < c->n; i++) {
            double s = 0;
            for (int j = 0; j < c->D; j++)
                s += exp(c->x[i * c->D + j]);
            for (int j = 0; j < c->D; j++)
                c->y[i * c->D + j] = exp(c->x[i * c->D + j]) / s;
        }
}

static double act_L(void *ctx)
{
    act_ctx *c = ctx;
    act_fwd_d(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->D);
}

static void check_act(int kind, int n, int D, float scale, uint64_t seed)
{
    char what[128];
    const size_t cnt = (size_t)n * D;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(cnt), *y = t_falloc(cnt), *dy = t_falloc(cnt);
    float *dx0 = t_falloc(cnt), *dx = t_falloc(cnt);
    t_fill(x, cnt, &rng, -scale, scale);
    t_fill(dy, cnt, &rng, -1, 1);
    t_fill(dx0, cnt, &rng, -0.5f, 0.5f);
    act_ctx c = {kind, n, D, t_dalloc(cnt), t_dalloc(cnt), t_dalloc(cnt)};
    t_to_double(c.x, x, cnt);
    t_to_double(c.r, dy, cnt);

    switch (kind) {
    case RELU: cnnrt_relu_forward(y, x, cnt); break;
    case LEAKY: cnnrt_leaky_relu_forward(y, x, SLOPE, cnt); break;
    case TANH: cnnrt_tanh_forward(y, x, cnt); break;
    case SIGMOID: cnnrt_sigmoid_forward(y, x, cnt); break;
    default: cnnrt_softmax_forward(y, x, n, D); break;
    }
    act_fwd_d(&c);
    snprintf(what, sizeof what, "%s (scale %g): forward vs f64", names[kind], scale);
    t_check_maxrel(what, y, c.y, cnt, 1e-30, 1e-6);

    double *gx = t_dalloc(cnt);
    t_fd_grad(gx, c.x, cnt, 1e-5, act_L, &c);
    memcpy(dx, dx0, cnt * sizeof *dx);
    switch (kind) {
    case RELU: cnnrt_relu_backward(dx, dy, x, cnt); break;
    case LEAKY: cnnrt_leaky_relu_backward(dx, dy, x, SLOPE, cnt); break;
    case TANH: cnnrt_tanh_backward(dx, dy, y, cnt); break;
    case SIGMOID: cnnrt_sigmoid_backward(dx, dy, y, cnt); break;
    default: cnnrt_softmax_backward(dx, dy, y, n, D); break;
    }
    t_sub(dx, dx0, cnt);
    snprintf(what, sizeof what, "%s (scale %g): dx vs FD", names[kind], scale);
    t_check_rel(what, dx, gx, cnt, 1e-5);

    free(x); free(y); free(dy); free(dx0); free(dx); free(gx);
    free(c.x); free(c.r); free(c.y);
}

static void test_elementwise(void **s)
{
    (void)s;
    for (int k = RELU; k <= SIGMOID; k++)
        check_act(k, 3, 37, 3.0f, 100 + k);
}

static void test_softmax(void **s)
{
    (void)s;
    check_act(SOFTMAX, 3, 7, 3.0f, 110);
    check_act(SOFTMAX, 2, 10, 30.0f, 111);      /* large logits: max-shifted */
}

static void test_sigmoid_extremes(void **s)
{
    (void)s;
    float x[4] = {-100.0f, -30.0f, 30.0f, 100.0f}, y[4];
    cnnrt_sigmoid_forward(y, x, 4);
    for (int i = 0; i < 4; i++)
        assert_true(isfinite(y[i]) && y[i] >= 0.0f && y[i] <= 1.0f);
    assert_true(y[0] > 0.0f && y[0] < 1e-40f);
    assert_true(y[3] == 1.0f);
}

/* NaN, ±Inf and ±0 through relu, leaky relu and softmax, forward and
 * backward, against PyTorch (tests/ref/rt_act.py: F.relu, F.leaky_relu,
 * F.softmax and autograd).  relu and leaky relu must give PyTorch's bits
 * (NaN where it has NaN, −0.0 where it has −0.0); softmax within 1e-6 of
 * the largest value.  Rows of 67 (201 values): the vectorised clones meet
 * the special values in whole vectors and in the tail.  dy holds NaNs too:
 * relu's backward must drop those where x ≤ 0, as PyTorch's does. */
static void check_act_special(int kind, uint64_t seed)
{
    char what[96], args[96];
    const int n = 3, D = 67;
    const size_t cnt = (size_t)n * D;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *in = t_falloc(2 * cnt), *x = in, *dy = in + cnt;
    float *y = t_falloc(cnt), *dx = t_falloc(cnt), *ref = t_falloc(2 * cnt);
    if (kind == SOFTMAX) {          /* rows with a NaN, with a +Inf, with −Infs; dy finite */
        t_fill(x, cnt, &rng, -3, 3);
        t_fill(dy, cnt, &rng, -1, 1);
        x[5] = NAN;
        x[D + 9] = INFINITY;
        for (int j = 0; j < D; j += 3)
            x[2 * D + j] = -INFINITY;
    } else {
        t_special_fill(x, dy, cnt, 2, &rng);
    }
    switch (kind) {
    case RELU: cnnrt_relu_forward(y, x, cnt); cnnrt_relu_backward(dx, dy, x, cnt); break;
    case LEAKY: cnnrt_leaky_relu_forward(y, x, SLOPE, cnt); cnnrt_leaky_relu_backward(dx, dy, x, SLOPE, cnt); break;
    default: cnnrt_softmax_forward(y, x, n, D); cnnrt_softmax_backward(dx, dy, y, n, D); break;
    }
    snprintf(args, sizeof args, "%s %d %d %.9g", kind == RELU ? "relu" : kind == LEAKY ? "leaky" : "softmax", n, D,
             (double)SLOPE);
    t_torch("rt_act.py", args, in, 2 * cnt, ref, 2 * cnt);
    snprintf(what, sizeof what, "%s with NaN/Inf: y vs torch", names[kind]);
    assert_true(t_check_ieee(what, y, ref, cnt, kind == SOFTMAX ? 1e-6 : 0.0) >= (kind == SOFTMAX ? 2 * (size_t)D : cnt / 10));
    snprintf(what, sizeof what, "%s with NaN/Inf: dx vs torch", names[kind]);
    assert_true(t_check_ieee(what, dx, ref + cnt, cnt, kind == SOFTMAX ? 1e-6 : 0.0) > 0);
    free(in); free(y); free(dx); free(ref);
}

static void test_nonfinite(void **s)
{
    (void)s;
    check_act_special(RELU, 120);
    check_act_special(LEAKY, 121);
    check_act_special(SOFTMAX, 122);
}

static void test_dropout(void **s)
{
    (void)s;
    const size_t cnt = 20000;
    const float p = 0.3f;
    cnnrt_rng rng, rng2;
    cnnrt_rng_seed(&rng, 7);
    float *x = t_falloc(cnt), *y = t_falloc(cnt), *mask = t_falloc(cnt);
    float *y2 = t_falloc(cnt), *mask2 = t_falloc(cnt), *dy = t_falloc(cnt), *dx = t_falloc(cnt);
    t_fill(x, cnt, &rng, -1, 1);
    t_fill(dy, cnt, &rng, -1, 1);

    cnnrt_rng_seed(&rng, 99);
    cnnrt_dropout_forward(y, mask, x, p, 1, &rng, cnt);
    size_t kept = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (mask[i] != 0.0f) {
            kept++;
            if (mask[i] != 1.0f / (1.0f - p)) {
                print_error("mask[%zu] = %.9g, expected 0 or %.9g\n", i, (double)mask[i],
                            1.0 / (1.0 - p));
                fail();
            }
        }
        if (y[i] != x[i] * mask[i]) {
            print_error("y[%zu] = %.9g, x·mask = %.9g\n", i, (double)y[i], (double)(x[i] * mask[i]));
            fail();
        }
    }
    /* kept ~ Binomial(cnt, 0.7): sd = √(cnt·0.21) ≈ 65; allow 5 sd */
    double expect = cnt * (1.0 - p);
    if (fabs((double)kept - expect) > 5 * sqrt(cnt * p * (1.0 - p))) {
        print_error("dropout kept %zu of %zu, expected ≈ %.0f\n", kept, cnt, expect);
        fail();
    }
    /* same seed → same mask; the state is explicit */
    cnnrt_rng_seed(&rng2, 99);
    cnnrt_dropout_forward(y2, mask2, x, p, 1, &rng2, cnt);
    assert_memory_equal(mask, mask2, cnt * sizeof(float));
    assert_memory_equal(&rng, &rng2, sizeof rng);
    /* backward: dx += dy·mask */
    double *ref = t_dalloc(cnt);
    for (size_t i = 0; i < cnt; i++) {
        dx[i] = 0.25f;
        ref[i] = 0.25 + (double)dy[i] * mask[i];
    }
    cnnrt_dropout_backward(dx, dy, mask, cnt);
    t_check_rel("dropout backward", dx, ref, cnt, 1e-7);
    /* inference: identity, mask 1, rng untouched */
    cnnrt_rng before = rng;
    cnnrt_dropout_forward(y2, mask2, x, p, 0, &rng, cnt);
    assert_memory_equal(y2, x, cnt * sizeof(float));
    assert_memory_equal(&rng, &before, sizeof rng);
    for (size_t i = 0; i < cnt; i++)
        assert_true(mask2[i] == 1.0f);
    free(x); free(y); free(mask); free(y2); free(mask2); free(dy); free(dx); free(ref);
}

/* PReLU, one slope and one per channel, on odd sizes (2 × 5 × 7): forward
 * against float64; the gradients of x and of the slopes against central
 * finite differences of L = Σ r·prelu(x) (x kept away from the kink at 0,
 * where the difference quotient straddles it), accumulated onto random dx
 * and da. */
enum { PN = 2, PC = 5, PHW = 7 };
typedef struct { int na; double *xa, *r; } pctx;

static double prelu_L(void *v)
{
    const pctx *c = v;
    const double *x = c->xa, *a = c->xa + (size_t)PN * PC * PHW;
    double s = 0;
    for (size_t q = 0; q < (size_t)PN * PC; q++)
        for (int p = 0; p < PHW; p++) {
            const double xv = x[q * PHW + p], av = a[c->na == 1 ? 0 : (int)(q % PC)];
            s += c->r[q * PHW + p] * (xv > 0 ? xv : av * xv);
        }
    return s;
}

static void check_prelu(int na, uint64_t seed)
{
    const size_t nx = (size_t)PN * PC * PHW, n = nx + (size_t)na;
    char what[64];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *xa = t_falloc(n), *y = t_falloc(nx), *dy = t_falloc(nx), *d0 = t_falloc(n), *d = t_falloc(n);
    t_fill(xa, nx, &rng, -1, 1);
    for (size_t i = 0; i < nx; i++)
        if (fabsf(xa[i]) < 0.01f) xa[i] += xa[i] < 0 ? -0.05f : 0.05f;
    t_fill(xa + nx, (size_t)na, &rng, -0.5f, 1.5f);        /* slopes, some above 1, some negative */
    t_fill(dy, nx, &rng, -1, 1);
    t_fill(d0, n, &rng, -0.5f, 0.5f);
    pctx c = { na, t_dalloc(n), t_dalloc(nx) };
    t_to_double(c.xa, xa, n);
    t_to_double(c.r, dy, nx);
    cnnrt_prelu_forward(y, xa, xa + nx, PN, PC, PHW, na);
    double *yd = t_dalloc(nx);
    for (size_t q = 0; q < (size_t)PN * PC; q++)
        for (int p = 0; p < PHW; p++) {
            const double xv = c.xa[q * PHW + p], av = c.xa[nx + (na == 1 ? 0 : q % PC)];
            yd[q * PHW + p] = xv > 0 ? xv : av * xv;
        }
    snprintf(what, sizeof what, "prelu (%d slopes): forward", na);
    t_check_maxrel(what, y, yd, nx, 1e-6, 1e-6);
    double *g = t_dalloc(n);
    t_fd_grad(g, c.xa, n, 1e-5, prelu_L, &c);
    memcpy(d, d0, n * sizeof *d);
    cnnrt_prelu_backward(d, d + nx, dy, xa, xa + nx, PN, PC, PHW, na);
    t_sub(d, d0, n);
    snprintf(what, sizeof what, "prelu (%d slopes): dx, da vs FD", na);
    t_check_rel(what, d, g, n, 1e-5);
    snprintf(what, sizeof what, "prelu (%d slopes): da vs FD", na);
    t_check_rel(what, d + nx, g + nx, (size_t)na, 1e-5);
    free(xa); free(y); free(dy); free(d0); free(d); free(c.xa); free(c.r); free(yd); free(g);
}

static void test_prelu(void **s)
{
    (void)s;
    check_prelu(1, 740);
    check_prelu(PC, 741);
}

/* One draw per block (Dropout2d's channel, drop path's sample): every value
 * of a block shares the draw, the draws come from the stream in order (block
 * 1 is cnnrt_dropout_forward exactly), and about p of the blocks are zeroed. */
static void test_dropout_blocks(void **s)
{
    (void)s;
    const size_t block = 49, nblk = 3000, cnt = block * nblk;
    const float p = 0.4f;
    cnnrt_rng rng, rng2;
    cnnrt_rng_seed(&rng, 11);
    float *x = t_falloc(cnt), *y = t_falloc(cnt), *mask = t_falloc(cnt), *mask2 = t_falloc(cnt);
    t_fill(x, cnt, &rng, -1, 1);

    cnnrt_rng_seed(&rng, 5);
    cnnrt_rng_seed(&rng2, 5);
    cnnrt_dropout_blocks_forward(y, mask, x, p, 1, &rng, cnt, 1);
    cnnrt_dropout_forward(y, mask2, x, p, 1, &rng2, cnt);
    assert_memory_equal(mask, mask2, cnt * sizeof(float));
    assert_memory_equal(&rng, &rng2, sizeof rng);

    cnnrt_rng_seed(&rng, 6);
    cnnrt_rng_seed(&rng2, 6);
    cnnrt_dropout_blocks_forward(y, mask, x, p, 1, &rng, cnt, block);
    size_t dropped = 0;
    for (size_t b = 0; b < nblk; b++) {
        float expect = cnnrt_rng_uniform(&rng2) >= p ? 1.0f / (1.0f - p) : 0.0f;
        dropped += expect == 0.0f;
        for (size_t i = b * block; i < (b + 1) * block; i++)
            if (mask[i] != expect || y[i] != x[i] * expect) {
                print_error("block %zu value %zu: mask %.9g y %.9g, expected mask %.9g y %.9g\n", b, i,
                            (double)mask[i], (double)y[i], (double)expect, (double)(x[i] * expect));
                fail();
            }
    }
    assert_memory_equal(&rng, &rng2, sizeof rng);          /* one draw per block, no more */
    if (fabs((double)dropped - nblk * p) > 5 * sqrt(nblk * p * (1.0 - p))) {
        print_error("dropped %zu of %zu blocks, expected ≈ %.0f\n", dropped, nblk, nblk * p);
        fail();
    }
    /* inference: identity, rng untouched */
    cnnrt_rng before = rng;
    cnnrt_dropout_blocks_forward(y, mask, x, p, 0, &rng, cnt, block);
    assert_memory_equal(y, x, cnt * sizeof(float));
    assert_memory_equal(&rng, &before, sizeof rng);
    free(x); free(y); free(mask); free(mask2);
}

static void test_rng(void **s)
{
    (void)s;
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 1);
    double m = 0, v = 0;
    const int N = 100000;
    for (int i = 0; i < N; i++) {
        float u = cnnrt_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        m += u;
        v += (u - 0.5) * (u - 0.5);
    }
    /* mean 1/2 (sd of the mean ≈ 9e-4), variance 1/12 */
    assert_true(fabs(m / N - 0.5) < 5e-3);
    assert_true(fabs(v / N - 1.0 / 12) < 2e-3);
    cnnrt_rng a, b;
    cnnrt_rng_seed(&a, 1);
    cnnrt_rng_seed(&b, 2);
    assert_true(cnnrt_rng_u32(&a) != cnnrt_rng_u32(&b));
}

static void test_add_concat_flatten(void **s)
{
    (void)s;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 120);
    const int n = 2, HW = 5 * 3, cs[3] = {2, 3, 1}, ct = 6;
    float *x[3], *dxs[3];
    double *ref[3];
    for (int j = 0; j < 3; j++) {
        x[j] = t_falloc((size_t)n * cs[j] * HW);
        dxs[j] = t_falloc((size_t)n * cs[j] * HW);
        ref[j] = t_dalloc((size_t)n * cs[j] * HW);
        t_fill(x[j], (size_t)n * cs[j] * HW, &rng, -1, 1);
        t_fill(dxs[j], (size_t)n * cs[j] * HW, &rng, -1, 1);
    }
    const size_t ny = (size_t)n * ct * HW;
    float *y = t_falloc(ny), *dy = t_falloc(ny);
    t_fill(dy, ny, &rng, -1, 1);
    cnnrt_concat_forward(y, (const float *const *)x, cs, 3, n, HW);
    /* y[i][c][p] comes from input j with c in its channel range */
    for (int i = 0; i < n; i++)
        for (int c = 0, j = 0, c0 = 0; c < ct; c++) {
            if (c - c0 >= cs[j]) {
                c0 += cs[j];
                j++;
            }
            for (int p = 0; p < HW; p++) {
                float want = x[j][((size_t)i * cs[j] + (c - c0)) * HW + p];
                float got = y[((size_t)i * ct + c) * HW + p];
                if (got != want) {
                    print_error("concat y[%d][%d][%d] = %g, want %g\n", i, c, p, (double)got, (double)want);
                    fail();
                }
                ref[j][((size_t)i * cs[j] + (c - c0)) * HW + p] =
                    (double)dxs[j][((size_t)i * cs[j] + (c - c0)) * HW + p] +
                    dy[((size_t)i * ct + c) * HW + p];
            }
        }
    float *dxs_null[3] = {dxs[0], NULL, dxs[2]};
    float *keep1 = t_falloc((size_t)n * cs[1] * HW);
    memcpy(keep1, dxs[1], (size_t)n * cs[1] * HW * sizeof(float));
    cnnrt_concat_backward(dxs_null, dy, cs, 3, n, HW);
    t_check_rel("concat backward input 0", dxs[0], ref[0], (size_t)n * cs[0] * HW, 1e-7);
    t_check_rel("concat backward input 2", dxs[2], ref[2], (size_t)n * cs[2] * HW, 1e-7);
    t_check_relf("concat backward NULL input untouched", dxs[1], keep1, (size_t)n * cs[1] * HW, 0);

    /* add: y = a + b, da += dy, db += dy */
    const size_t m = (size_t)n * cs[0] * HW;
    double *r = t_dalloc(m);
    float *sum = t_falloc(m), *da = t_falloc(m), *db = t_falloc(m);
    cnnrt_add_forward(sum, x[0], x[0] + 1, m - 1);
    for (size_t i = 0; i + 1 < m; i++)
        r[i] = (double)x[0][i] + x[0][i + 1];
    t_check_rel("add forward", sum, r, m - 1, 1e-7);
    t_fill(da, m, &rng, -1, 1);
    for (size_t i = 0; i < m; i++)
        r[i] = (double)da[i] + dy[i];
    cnnrt_add_backward(da, NULL, dy, m);
    t_check_rel("add backward da", da, r, m, 1e-7);
    for (size_t i = 0; i < m; i++)
        r[i] = dy[i];
    cnnrt_add_backward(NULL, db, dy, m);
    t_check_rel("add backward db", db, r, m, 1e-7);

    /* flatten: copy and += */
    cnnrt_flatten_forward(sum, x[0], m);
    assert_memory_equal(sum, x[0], m * sizeof(float));
    for (size_t i = 0; i < m; i++)
        r[i] = (double)da[i] + dy[i];
    cnnrt_flatten_backward(da, dy, m);
    t_check_rel("flatten backward", da, r, m, 1e-7);

    for (int j = 0; j < 3; j++) {
        free(x[j]); free(dxs[j]); free(ref[j]);
    }
    free(y); free(dy); free(keep1); free(r); free(sum); free(da); free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_sigmoid_extremes),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_dropout_blocks),
        cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_add_concat_flatten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
