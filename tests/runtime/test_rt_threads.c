/*
 * test_rt_threads.c — the kernels give the same bits whatever the thread
 * count (cnnrt.h's thread contract, runtime/cnnrt_par.h).
 *
 * Each kernel runs on random inputs (fixed seeds) on 1 thread and then on
 * 2 and 3 (3 shares unevenly, and is more threads than this machine's
 * cores); every output of cnnrt's own loops must be bit-identical to the
 * 1-thread run.  Where the threads share an OpenBLAS product (dense, the
 * im2col path), each runs sgemm on its part, and OpenBLAS picks its
 * kernels by size (its small-matrix kernels sum in another order): those
 * outputs must agree to float rounding, 1e-6 of the norm — a share
 * skipped or computed twice would be off by far more.  Sizes
 * are above the kernels' PAR_MIN, so the teams really form; the conv
 * geometries take both implementations (direct and im2col + sgemm) and
 * both dx paths of the latter.  Outputs start from random values, so a
 * share that is skipped or written twice shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <omp.h>

#include "cnnrt_test.h"
#include "conv_direct.h"
#include "cnnrt_priv.h"

static const int team[] = {2, 3};

/* a copy of n floats */
static float *fdup(const float *a, size_t n)
{
    float *b = t_falloc(n);
    memcpy(b, a, n * sizeof(float));
    return b;
}

/* 1e-6 when the threads shared an OpenBLAS product, else bit-identical */
static double tol;

static void same(const char *what, int threads, const float *got, const float *want, size_t n)
{
    if (tol > 0) {
        char w[160];
        snprintf(w, sizeof w, "%s on %d threads", what, threads);
        t_check_relf(w, got, want, n, tol);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s on %d threads: element %zu is %.9g, on 1 thread %.9g", what, threads, i, got[i], want[i]);
}

static float *rnd(size_t n, cnnrt_rng *r)
{
    float *a = t_falloc(n);
    t_fill(a, n, r, -1, 1);
    return a;
}

/* ---- conv: forward, then dx (written, then added), dW and db -------------- */

static void run_conv(float *y, float *dx, float *dx2, float *dw, float *db, const float *x, const float *w,
                     const float *b, const float *dy, float *scratch, int n, const cnnrt_conv_geom *g, int gemm)
{
    if (gemm) {
        cnnrt_gemm_conv_forward(y, x, w, b, scratch, n, g);
        cnnrt_gemm_conv_backward(dx, dw, db, dy, x, w, scratch, n, g);
    } else {
        cnnrt_conv2d_forward(y, x, w, b, scratch, n, g);
        cnnrt_conv2d_backward(dx, dw, db, dy, x, w, scratch, n, g);
        cnnrt_conv2d_backward_ex(dx2, 0, NULL, NULL, dy, x, w, scratch, n, g);
    }
}

static void check_conv(const char *name, int n, cnnrt_conv_geom g, int gemm, uint64_t seed)
{
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W, nw = (size_t)g.Cout * (g.C / g.groups) * g.KH * g.KW;
    const size_t ny = (size_t)n * g.Cout * g.OH * g.OW;
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    float *x = rnd(nx, &r), *w = rnd(nw, &r), *b = rnd(g.Cout, &r), *dy = rnd(ny, &r);
    float *y0 = rnd(ny, &r), *dx0 = rnd(nx, &r), *dw0 = rnd(nw, &r), *db0 = rnd(g.Cout, &r), *dxw0 = rnd(nx, &r);
    float *scratch = t_falloc(cnnrt_conv_scratch_floats(&g, n));
    tol = gemm || !cnnrt_direct_forward_ok(&g) || !cnnrt_direct_dx_ok(&g) ? 1e-6 : 0;
    float *y1 = fdup(y0, ny), *dx1 = fdup(dx0, nx), *dw1 = fdup(dw0, nw), *db1 = fdup(db0, g.Cout), *dxw1 = fdup(dxw0, nx);
    omp_set_num_threads(1);
    run_conv(y1, dx1, dxw1, dw1, db1, x, w, b, dy, scratch, n, &g, gemm);
    for (size_t t = 0; t < sizeof team / sizeof team[0]; t++) {
        float *y = fdup(y0, ny), *dx = fdup(dx0, nx), *dw = fdup(dw0, nw), *db = fdup(db0, g.Cout), *dxw = fdup(dxw0, nx);
        omp_set_num_threads(team[t]);
        run_conv(y, dx, dxw, dw, db, x, w, b, dy, scratch, n, &g, gemm);
        char what[96];
        snprintf(what, sizeof what, "%s y", name);
        same(what, team[t], y, y1, ny);
        snprintf(what, sizeof what, "%s dx +=", name);
        same(what, team[t], dx, dx1, nx);
        snprintf(what, sizeof what, "%s dx =", name);
        if (!gemm)
            same(what, team[t], dxw, dxw1, nx);
        snprintf(what, sizeof what, "%s dW", name);
        same(what, team[t], dw, dw1, nw);
        snprintf(what, sizeof what, "%s db", name);
        same(what, team[t], db, db1, g.Cout);
        free(y), free(dx), free(dw), free(db), free(dxw);
    }
    omp_set_num_threads(1);
    free(x), free(w), free(b), free(dy), free(y0), free(dx0), free(dw0), free(db0), free(dxw0), free(scratch);
    free(y1), free(dx1), free(dw1), free(db1), free(dxw1);
}

static cnnrt_conv_geom geom(int C, int H, int W, int Cout, int K, int S, int P, int groups)
{
    cnnrt_conv_geom g = {.C = C, .H = H, .W = W, .Cout = Cout, .KH = K, .KW = K, .SH = S, .SW = S,
                         .PT = P, .PL = P, .PB = P, .PR = P, .DH = 1, .DW = 1, .groups = groups};
    return g;
}

static void test_conv(void **state)
{
    (void)state;
    /* direct where the CPU has AVX-512F (wide and row modes), else im2col */
    check_conv("3x3 16x16 direct (rows)", 5, geom(12, 16, 16, 20, 3, 1, 1, 1), 0, 1);
    check_conv("3x3 9x9 direct (wide), groups 2", 7, geom(16, 9, 9, 24, 3, 1, 1, 2), 0, 2);
    check_conv("5x5 14x14 several chunks", 40, geom(20, 14, 14, 50, 5, 1, 2, 1), 0, 3);
    check_conv("3x3 stride 2 (direct forward)", 6, geom(16, 32, 32, 32, 3, 2, 1, 1), 0, 8);
    /* Winograd rows (24 channels or more a side): rows, two chunks; wide, odd rows, groups 2 */
    check_conv("3x3 12x12 Winograd rows", 9, geom(32, 12, 12, 40, 3, 1, 1, 1), 0, 9);
    check_conv("3x3 9x9 Winograd rows (wide), groups 2", 5, geom(48, 9, 9, 48, 3, 1, 1, 2), 0, 10);
    /* im2col + sgemm: chunks of several images, one image, dx by col2im and by the adjoint */
    check_conv("gemm 3x3 stride 2", 6, geom(16, 17, 17, 32, 3, 2, 1, 1), 1, 4);
    check_conv("gemm 3x3 stride 1 (adjoint dx)", 3, geom(24, 20, 20, 16, 3, 1, 1, 1), 1, 5);
    check_conv("gemm 3x3 stride 1 widening", 4, geom(8, 30, 30, 16, 3, 1, 1, 1), 1, 6);
    check_conv("gemm 1x1 stride 2 groups 2", 9, geom(32, 16, 16, 64, 1, 2, 0, 2), 1, 7);
}

/* ---- dense ------------------------------------------------------------------ */

static void test_dense(void **state)
{
    (void)state;
    const int n = 37, in = 301, out = 250;
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 11);
    float *x = rnd((size_t)n * in, &r), *w = rnd((size_t)out * in, &r), *b = rnd(out, &r);
    float *dy = rnd((size_t)n * out, &r), *y0 = rnd((size_t)n * out, &r), *dx0 = rnd((size_t)n * in, &r);
    float *dw0 = rnd((size_t)out * in, &r), *db0 = rnd(out, &r);
    float *y1 = fdup(y0, (size_t)n * out), *dx1 = fdup(dx0, (size_t)n * in), *dw1 = fdup(dw0, (size_t)out * in),
          *db1 = fdup(db0, out);
    tol = 1e-6;
    omp_set_num_threads(1);
    cnnrt_dense_forward(y1, x, w, b, n, in, out);
    cnnrt_dense_backward(dx1, dw1, db1, dy, x, w, n, in, out);
    for (size_t t = 0; t < sizeof team / sizeof team[0]; t++) {
        float *y = fdup(y0, (size_t)n * out), *dx = fdup(dx0, (size_t)n * in), *dw = fdup(dw0, (size_t)out * in),
              *db = fdup(db0, out);
        omp_set_num_threads(team[t]);
        cnnrt_dense_forward(y, x, w, b, n, in, out);
        cnnrt_dense_backward(dx, dw, db, dy, x, w, n, in, out);
        same("dense y", team[t], y, y1, (size_t)n * out);
        same("dense dx", team[t], dx, dx1, (size_t)n * in);
        same("dense dW", team[t], dw, dw1, (size_t)out * in);
        same("dense db", team[t], db, db1, out);
        free(y), free(dx), free(dw), free(db);
    }
    omp_set_num_threads(1);
    free(x), free(w), free(b), free(dy), free(y0), free(dx0), free(dw0), free(db0);
    free(y1), free(dx1), free(dw1), free(db1);
}

/* ---- batchnorm, max pool, relu, add, Adam ----------------------------------- */

typedef struct {
    float *f[8];
    int32_t *arg;
} bufs;

enum { BN_N = 5, BN_C = 7, BN_HW = 31 * 33, POOL_H = 32, POOL_W = 30, NOPT = 100003 };

static bufs run_rest(const bufs *in, int threads)
{
    const size_t cnt = (size_t)BN_N * BN_C * BN_HW, pcnt = (size_t)BN_N * BN_C * POOL_H * POOL_W;
    bufs o;
    omp_set_num_threads(threads);
    /* batchnorm: y, running mean/var, saved statistics, dx (written), dγ, dβ */
    o.f[0] = t_falloc(cnt);
    o.f[1] = t_falloc(6 * BN_C);              /* running mean, var; saved mean, invstd; dγ, dβ */
    memcpy(o.f[1], in->f[3], sizeof(float) * 4 * BN_C);
    memcpy(o.f[1] + 4 * BN_C, in->f[1], sizeof(float) * 2 * BN_C);
    o.f[2] = fdup(in->f[4], cnt);
    float *st = o.f[1];
    cnnrt_batchnorm_forward_train(o.f[0], st, st + BN_C, st + 2 * BN_C, st + 3 * BN_C, in->f[0], in->f[1],
                                  in->f[1] + BN_C, 1e-5f, 0.1f, BN_N, BN_C, BN_HW);
    cnnrt_batchnorm_backward_train_ex(o.f[2], 0, st + 4 * BN_C, st + 5 * BN_C, in->f[2], NULL, in->f[0], st + 2 * BN_C,
                                      st + 3 * BN_C, in->f[1], BN_N, BN_C, BN_HW);
    /* max pool 2×2 and 3×3 stride 2: y, argmax, dx += */
    cnnrt_pool_geom pg = {.C = BN_C, .H = POOL_H, .W = POOL_W, .KH = 2, .KW = 2, .SH = 2, .SW = 2};
    assert_int_equal(cnnrt_pool_geom_finish(&pg), CNNRT_OK);
    const size_t py = (size_t)BN_N * BN_C * pg.OH * pg.OW;
    o.f[3] = t_falloc(py);
    o.arg = calloc(py, sizeof(int32_t));
    o.f[4] = fdup(in->f[5], pcnt);
    cnnrt_maxpool2d_forward(o.f[3], o.arg, in->f[5], BN_N, &pg);
    cnnrt_maxpool2d_backward(o.f[4], in->f[6], o.arg, BN_N, &pg);
    /* relu forward in place, add, relu backward */
    o.f[5] = fdup(in->f[0], cnt);
    cnnrt_relu_forward(o.f[5], o.f[5], cnt);
    cnnrt_add_forward(o.f[5], o.f[5], in->f[2], cnt);
    cnnrt_relu_backward(o.f[5], in->f[2], in->f[0], cnt);
    /* Adam, 3 steps */
    o.f[6] = fdup(in->f[7], 3 * (size_t)NOPT);
    cnnrt_optim opt = cnnrt_optim_defaults(CNNRT_ADAM);
    opt.weight_decay = 0.01;
    for (long s = 1; s <= 3; s++)
        assert_int_equal(cnnrt_optim_step(o.f[6], o.f[6] + NOPT, in->f[2], &opt, 1e-3, s, NOPT), CNNRT_OK);
    o.f[7] = NULL;
    omp_set_num_threads(1);
    return o;
}

static void test_rest(void **state)
{
    (void)state;
    const size_t cnt = (size_t)BN_N * BN_C * BN_HW, pcnt = (size_t)BN_N * BN_C * POOL_H * POOL_W;
    /* f[2] is batchnorm's dy, relu's, add's and Adam's gradient: the longest of them */
    const size_t n[8] = {cnt, 2 * BN_C, cnt > NOPT ? cnt : NOPT, 4 * BN_C, cnt, pcnt, pcnt / 4, 3 * (size_t)NOPT};
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 21);
    bufs in;
    for (int i = 0; i < 8; i++)
        in.f[i] = rnd(n[i], &r);
    for (int i = BN_C; i < 2 * BN_C; i++)
        in.f[3][i] = in.f[3][i] * in.f[3][i] + 0.5f;   /* running var > 0 */
    for (size_t i = 2 * (size_t)NOPT; i < 3 * (size_t)NOPT; i++)
        in.f[7][i] *= in.f[7][i];                       /* Adam's v ≥ 0 */
    const size_t py = pcnt / 4, out[7] = {cnt, 6 * BN_C, cnt, py, pcnt, cnt, 3 * (size_t)NOPT};
    const char *name[7] = {"batchnorm y", "batchnorm statistics, dγ, dβ", "batchnorm dx", "max pool y",
                           "max pool dx", "relu/add", "Adam"};
    tol = 0;
    bufs one = run_rest(&in, 1);
    for (size_t t = 0; t < sizeof team / sizeof team[0]; t++) {
        bufs o = run_rest(&in, team[t]);
        for (int i = 0; i < 7; i++)
            same(name[i], team[t], o.f[i], one.f[i], out[i]);
        if (memcmp(o.arg, one.arg, py * sizeof(int32_t)) != 0)
            fail_msg("max pool argmax on %d threads differs", team[t]);
        for (int i = 0; i < 7; i++)
            free(o.f[i]);
        free(o.arg);
    }
    for (int i = 0; i < 7; i++)
        free(one.f[i]);
    free(one.arg);
    for (int i = 0; i < 8; i++)
        free(in.f[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
