/*
 * test_rt_pool.c — max / average / adaptive / global average pooling.
 *
 * Each case checks: the output size and values against PyTorch
 * (tests/ref/rt_pool.py, torch.nn.functional; max pool also its argmax
 * indices), the forward against a float64 version written here, and the
 * backward against float64 central finite differences of L = Σ r·y.
 *
 * Tolerances.  Pooling is piecewise linear in x, so central differences are
 * exact up to rounding (≈1e-16/h) as long as no perturbation moves a max:
 * h = 1e-6 keeps that away (inputs are ≥ 1e-5 apart with these seeds, or
 * the test would fail loudly).  Kernels sum ≤ 16 floats and divide once:
 * relative error ≲ 16·6e-8 ≈ 1e-6; tolerance 1e-5 on the relative norm.
 * Against PyTorch (same float32 arithmetic, maybe another summation order)
 * the max relative element error allowed is 1e-5; max pool must match bit
 * for bit (it copies values) and argmax exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "cnnrt_test.h"
#include "cnnrt_priv.h"

#include <string.h>

enum { MAXP, AVGP, ADAPT, GLOBAL };

typedef struct {
    int kind, n;
    cnnrt_pool_geom g;          /* C,H,W,OH,OW used by every kind */
    double *x, *r, *y;
} pool_ctx;

/* float64 definitions, written from PyTorch's documentation */
static void pool_fwd_d(pool_ctx *c)
{
    const cnnrt_pool_geom *g = &c->g;
    for (int pl = 0; pl < c->n * g->C; pl++)
        for (int oh = 0; oh < g->OH; oh++)
            for (int ow = 0; ow < g->OW; ow++) {
                int h0, h1, w0, w1;
                double div = 1;
                if (c->kind == ADAPT || c->kind == GLOBAL) {
                    h0 = (int)floor((double)oh * g->H / g->OH);
                    h1 = (int)ceil((double)(oh + 1) * g->H / g->OH);
                    w0 = (int)floor((double)ow * g->W / g->OW);
                    w1 = (int)ceil((double)(ow + 1) * g->W / g->OW);
                    div = (h1 - h0) * (w1 - w0);
                } else {
                    h0 = oh * g->SH - g->PH;
                    w0 = ow * g->SW - g->PW;
                    h1 = h0 + g->KH;
                    w1 = w0 + g->KW;
                    /* window cut at the end of the padded input */
                    if (h1 > g->H + g->PH) h1 = g->H + g->PH;
                    if (w1 > g->W + g->PW) w1 = g->W + g->PW;
                    if (g->count_include_pad)
                        div = (h1 - h0) * (w1 - w0);
                    if (h0 < 0) h0 = 0;
                    if (w0 < 0) w0 = 0;
                    if (h1 > g->H) h1 = g->H;
                    if (w1 > g->W) w1 = g->W;
                    if (!g->count_include_pad)
                        div = (h1 - h0) * (w1 - w0);
                }
                double acc = c->kind == MAXP ? -INFINITY : 0.0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        double v = c->x[(pl * g->H + ih) * g->W + iw];
                        if (c->kind == MAXP)
                            acc = v > acc ? v : acc;
                        else
                            acc += v;
                    }
                c->y[(pl * g->OH + oh) * g->OW + ow] = c->kind == MAXP ? acc : acc / div;
            }
}

static double pool_L(void *ctx)
{
    pool_ctx *c = ctx;
    pool_fwd_d(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->g.C * c->g.OH * c->g.OW);
}

static void check_pool(const char *name, int kind, int n, cnnrt_pool_geom g, uint64_t seed)
{
    char what[160], args[256];
    if (kind == MAXP || kind == AVGP)
        assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W, ny = (size_t)n * g.C * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *y = t_falloc(ny), *dy = t_falloc(ny);
    float *dx0 = t_falloc(nx), *dx = t_falloc(nx), *ty = t_falloc(2 * ny);
    int32_t *am = calloc(ny, sizeof *am);
    assert_non_null(am);
    t_fill(x, nx, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(dx0, nx, &rng, -0.5f, 0.5f);

    pool_ctx c = {kind, n, g, t_dalloc(nx), t_dalloc(ny), t_dalloc(ny)};
    t_to_double(c.x, x, nx);
    t_to_double(c.r, dy, ny);

    switch (kind) {
    case MAXP: cnnrt_maxpool2d_forward(y, am, x, n, &g); break;
    case AVGP: cnnrt_avgpool2d_forward(y, x, n, &g); break;
    case ADAPT: cnnrt_adaptive_avgpool2d_forward(y, x, n, g.C, g.H, g.W, g.OH, g.OW); break;
    default: cnnrt_global_avgpool_forward(y, x, n, g.C, g.H * g.W); break;
    }
    pool_fwd_d(&c);
    snprintf(what, sizeof what, "%s: forward vs f64", name);
    t_check_rel(what, y, c.y, ny, 1e-6);

    /* PyTorch: same output size (else the float count differs) and values */
    if (kind == ADAPT || kind == GLOBAL)
        snprintf(args, sizeof args, "adaptive %d %d %d %d %d %d", n, g.C, g.H, g.W, g.OH, g.OW);
    else
        snprintf(args, sizeof args, "%s %d %d %d %d %d %d %d %d %d %d %d %d",
                 kind == MAXP ? "max" : "avg", n, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW,
                 g.PH, g.PW, g.ceil_mode, g.count_include_pad);
    size_t tn = kind == MAXP ? 2 * ny : ny;
    t_torch("rt_pool.py", args, x, nx, ty, tn);
    double *tyd = t_dalloc(ny);
    t_to_double(tyd, ty, ny);
    snprintf(what, sizeof what, "%s: forward vs torch", name);
    t_check_maxrel(what, y, tyd, ny, 1e-3, kind == MAXP ? 0.0 : 1e-5);
    if (kind == MAXP)
        for (size_t i = 0; i < ny; i++)
            if ((float)am[i] != ty[ny + i]) {
                print_error("%s: argmax[%zu] = %d, torch %g\n", name, i, am[i], (double)ty[ny + i]);
                fail();
            }

    double *gx = t_dalloc(nx);
    t_fd_grad(gx, c.x, nx, 1e-6, pool_L, &c);
    memcpy(dx, dx0, nx * sizeof *dx);
    switch (kind) {
    case MAXP: cnnrt_maxpool2d_backward(dx, dy, am, n, &g); break;
    case AVGP: cnnrt_avgpool2d_backward(dx, dy, n, &g); break;
    case ADAPT: cnnrt_adaptive_avgpool2d_backward(dx, dy, n, g.C, g.H, g.W, g.OH, g.OW); break;
    default: cnnrt_global_avgpool_backward(dx, dy, n, g.C, g.H * g.W); break;
    }
    t_sub(dx, dx0, nx);
    snprintf(what, sizeof what, "%s: dx vs FD", name);
    t_check_rel(what, dx, gx, nx, 1e-5);

    free(x); free(y); free(dy); free(dx0); free(dx); free(ty); free(am);
    free(c.x); free(c.r); free(c.y); free(tyd); free(gx);
}

#define PG(C_, H_, W_, KH_, KW_, SH_, SW_, PH_, PW_, CEIL_, CIP_)                     \
    ((cnnrt_pool_geom){.C = C_, .H = H_, .W = W_, .KH = KH_, .KW = KW_, .SH = SH_,  \
                       .SW = SW_, .PH = PH_, .PW = PW_, .ceil_mode = CEIL_,        \
                       .count_include_pad = CIP_})

static void test_maxpool(void **s)
{
    (void)s;
    check_pool("max 2x2 s2", MAXP, 2, PG(3, 8, 6, 2, 2, 2, 2, 0, 0, 0, 1), 41);
    check_pool("max 2x2 s2 odd floor", MAXP, 3, PG(2, 7, 9, 2, 2, 2, 2, 0, 0, 0, 1), 47);
    check_pool("max 2x2 s2 odd ceil", MAXP, 2, PG(2, 7, 9, 2, 2, 2, 2, 0, 0, 1, 1), 48);
    check_pool("max 3x3 s2 p1 odd", MAXP, 2, PG(2, 7, 9, 3, 3, 2, 2, 1, 1, 0, 1), 42);
    check_pool("max 3x3 s2 ceil", MAXP, 3, PG(2, 8, 7, 3, 3, 2, 2, 0, 0, 1, 1), 43);
    check_pool("max 3x2 s(2,3) p1 ceil", MAXP, 2, PG(2, 9, 10, 3, 2, 2, 3, 1, 1, 1, 1), 44);
    /* ceil rule: with H=5,k=2,s=2,p=1 a 4th window would start at row 5,
     * in the bottom padding, so PyTorch drops it: OH = 3, not 4 */
    check_pool("max 2x2 s2 p1 ceil drop", MAXP, 2, PG(2, 5, 7, 2, 2, 2, 2, 1, 1, 1, 1), 45);
    check_pool("avg 2x2 s2 p1 ceil drop", AVGP, 2, PG(2, 5, 7, 2, 2, 2, 2, 1, 1, 1, 1), 46);
}

/* 2×2 stride-2 max pooling has its own loops (vectorised on AVX-512): on
 * planes wide enough for whole vectors and a tail, with many ties and some
 * NaNs, its outputs and argmax must be those of the rule "first max in
 * row-major window order wins; a NaN wins and propagates". */
static void test_maxpool_2x2_rule(void **s)
{
    (void)s;
    cnnrt_pool_geom g = PG(3, 7, 71, 2, 2, 2, 2, 0, 0, 0, 1);  /* OW 35 = 16 + 16 + 3, odd H, W */
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    const int n = 2;
    const size_t nx = (size_t)n * g.C * g.H * g.W, ny = (size_t)n * g.C * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 71);
    float *x = t_falloc(nx), *y = t_falloc(ny);
    int32_t *am = calloc(ny, sizeof *am);
    assert_non_null(am);
    for (size_t i = 0; i < nx; i++) {
        const uint32_t r = cnnrt_rng_u32(&rng);
        x[i] = r % 97 == 0 ? NAN : (float)(int)(r % 4) - 1.0f;   /* ties everywhere, some NaN */
    }
    cnnrt_maxpool2d_forward(y, am, x, n, &g);
    for (size_t pl = 0; pl < (size_t)n * g.C; pl++)
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++) {
                const float *xp = x + pl * g.H * g.W;
                float m = -INFINITY;
                int32_t k = -1;
                for (int dh = 0; dh < 2; dh++)
                    for (int dw = 0; dw < 2; dw++) {
                        const int32_t at = (2 * oh + dh) * g.W + 2 * ow + dw;
                        if (k < 0 || xp[at] > m || isnan(xp[at])) {
                            m = xp[at];
                            k = at;
                        }
                    }
                const size_t o = (pl * g.OH + oh) * g.OW + ow;
                if (isnan(m))
                    assert_true(isnan(y[o]));
                else
                    assert_true(y[o] == m);
                assert_int_equal(am[o], k);
            }
    free(x); free(y); free(am);
}

/* NaN, ±Inf and ±0 through max pooling, forward and backward, against
 * PyTorch (tests/ref/rt_pool.py maxgrad/globalmax: F.max_pool2d and
 * F.adaptive_max_pool2d(x, 1) with return_indices, and autograd): the
 * values bit for bit (a window holding a NaN gives NaN), the argmax (the
 * last NaN of the window in row-major order, PyTorch's v > max || isnan(v))
 * and dx, through the public backward and the executor's written-once
 * backward_ex.  Many windows hold two NaNs or more.  global: the geometry
 * the executor gives a global max pool (one H×W window, stride 1). */
/* What element k of a global pool's plane becomes, by the plane's kind:
 * 0 NaN, 1 +Inf, 2 −Inf, 9 itself.  Planes in turn: clean, one NaN, two
 * NaNs and a +Inf, some +Infs, all −Inf. */
static uint32_t global_special(size_t k, size_t kind)
{
    switch (kind) {
    case 1: return k == 17 ? 0 : 9;
    case 2: return k == 5 || k == 30 ? 0 : k == 11 ? 1 : 9;
    case 3: return k % 9 == 4 ? 1 : 9;
    case 4: return 2;
    default: return 9;
    }
}

static void check_pool_special(const char *name, int n, cnnrt_pool_geom g, int global, uint64_t seed)
{
    char what[160], args[256];
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W, ny = (size_t)n * g.C * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *in = t_falloc(nx + ny), *x = in, *dy = in + nx;
    float *y = t_falloc(ny), *dx = t_falloc(nx), *dx1 = t_falloc(nx), *ref = t_falloc(2 * ny + nx);
    float *yi = t_falloc(ny);
    int32_t *am = calloc(ny, sizeof *am);
    assert_non_null(am);
    t_fill(x, nx, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    for (size_t i = 0; i < nx; i++) {
        const uint32_t r = global ? global_special(i % ((size_t)g.H * g.W), i / ((size_t)g.H * g.W) % 5)
                                  : cnnrt_rng_u32(&rng) % (g.KH * g.KW < 6 ? 16 : 24);
        x[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? -0.0f : r == 4 ? 0.0f : x[i];
    }
    cnnrt_maxpool2d_forward(y, am, x, n, &g);
    cnnrt_maxpool2d_backward(dx, dy, am, n, &g);                /* onto zeros: dx itself */
    cnnrt_maxpool2d_backward_ex(dx1, 0, dy, am, n, &g);
    if (global)
        snprintf(args, sizeof args, "globalmax %d %d %d %d", n, g.C, g.H, g.W);
    else
        snprintf(args, sizeof args, "maxgrad %d %d %d %d %d %d %d %d %d %d %d %d", n, g.C, g.H, g.W, g.KH, g.KW,
                 g.SH, g.SW, g.PH, g.PW, g.ceil_mode, g.count_include_pad);
    t_torch("rt_pool.py", args, in, nx + ny, ref, 2 * ny + nx);
    snprintf(what, sizeof what, "%s with NaN/Inf: y vs torch", name);
    assert_true(t_check_ieee(what, y, ref, ny, 0.0) > 0);
    for (size_t i = 0; i < ny; i++)
        yi[i] = (float)am[i];
    snprintf(what, sizeof what, "%s with NaN/Inf: argmax vs torch", name);
    t_check_ieee(what, yi, ref + ny, ny, 0.0);
    snprintf(what, sizeof what, "%s with NaN/Inf: dx vs torch", name);
    t_check_ieee(what, dx, ref + 2 * ny, nx, 1e-6);
    snprintf(what, sizeof what, "%s with NaN/Inf: dx (written) vs torch", name);
    t_check_ieee(what, dx1, ref + 2 * ny, nx, 1e-6);
    free(in); free(y); free(dx); free(dx1); free(ref); free(yi); free(am);
}

static void test_maxpool_nonfinite(void **s)
{
    (void)s;
    check_pool_special("max 2x2 s2", 2, PG(3, 7, 71, 2, 2, 2, 2, 0, 0, 0, 1), 0, 81);   /* vector loop + tail */
    check_pool_special("max 2x2 s2 tiling", 2, PG(3, 8, 40, 2, 2, 2, 2, 0, 0, 0, 1), 0, 82);
    check_pool_special("max 3x3 s2 p1", 2, PG(3, 9, 11, 3, 3, 2, 2, 1, 1, 0, 1), 0, 83);
    check_pool_special("max 3x2 s(2,3) p1 ceil", 2, PG(2, 9, 10, 3, 2, 2, 3, 1, 1, 1, 1), 0, 84);
    check_pool_special("global max 6x7", 3, PG(5, 6, 7, 6, 7, 1, 1, 0, 0, 0, 1), 1, 85);
}

/* The executor's first contribution (cnnrt_priv.h): backward_ex with
 * dx_add = 0 writes every element of dx; with dx_add = 1 it is the public
 * kernel.  Written, then added to a random dx0, it must give the public
 * kernel's dx0 + gradient bit for bit: 2×2 stride 2 tiling the input (its
 * own loop), with an odd edge, and overlapping 3×3 windows (zeroed, then
 * added to). */
static void check_set(int n, int C, int H, int W, int K, int S, int P, uint64_t seed)
{
    cnnrt_pool_geom g = {.C = C, .H = H, .W = W, .KH = K, .KW = K, .SH = S, .SW = S, .PH = P, .PW = P};
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * C * H * W, ny = (size_t)n * C * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *y = t_falloc(ny), *dy = t_falloc(ny), *dx0 = t_falloc(nx);
    float *add = t_falloc(nx), *set = t_falloc(nx);
    int32_t *am = calloc(ny, sizeof(int32_t));
    t_fill(x, nx, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(dx0, nx, &rng, -1, 1);
    t_fill(set, nx, &rng, -1, 1);                  /* garbage the kernel must overwrite */
    cnnrt_maxpool2d_forward(y, am, x, n, &g);
    memcpy(add, dx0, nx * sizeof(float));
    cnnrt_maxpool2d_backward(add, dy, am, n, &g);
    cnnrt_maxpool2d_backward_ex(set, 0, dy, am, n, &g);
    for (size_t i = 0; i < nx; i++) {
        const float v = set[i] + dx0[i];
        if (memcmp(&v, &add[i], sizeof v) != 0)
            fail_msg("maxpool %dx%d s%d p%d on %dx%d: dx (=) + dx0 at %zu is %g, dx0 += %g", K, K, S, P, H, W, i,
                     v, add[i]);
    }
    free(x), free(y), free(dy), free(dx0), free(add), free(set), free(am);
}

static void test_maxpool_backward_set(void **s)
{
    (void)s;
    check_set(3, 5, 12, 18, 2, 2, 0, 61);       /* tiles the input: dx written window by window */
    check_set(2, 4, 9, 7, 2, 2, 0, 62);         /* odd edges: the last row and column get no window */
    check_set(2, 3, 11, 10, 3, 2, 1, 63);       /* overlapping, padded */
}

static void test_avgpool(void **s)
{
    (void)s;
    check_pool("avg 2x2 s2", AVGP, 2, PG(3, 8, 6, 2, 2, 2, 2, 0, 0, 0, 1), 51);
    check_pool("avg 3x3 s2 p1 incl", AVGP, 2, PG(2, 7, 9, 3, 3, 2, 2, 1, 1, 0, 1), 52);
    check_pool("avg 3x3 s2 p1 excl", AVGP, 2, PG(2, 7, 9, 3, 3, 2, 2, 1, 1, 0, 0), 53);
    check_pool("avg 3x3 s2 p1 ceil incl", AVGP, 3, PG(2, 8, 10, 3, 3, 2, 2, 1, 1, 1, 1), 54);
    check_pool("avg 3x3 s2 ceil excl", AVGP, 2, PG(2, 8, 7, 3, 3, 2, 2, 0, 0, 1, 0), 55);
    check_pool("avg 3x2 s(2,3) p1 ceil incl", AVGP, 2, PG(2, 9, 10, 3, 2, 2, 3, 1, 1, 1, 1), 56);
}

static void test_adaptive(void **s)
{
    (void)s;
    check_pool("adaptive 7x10 -> 3x4", ADAPT, 2,
               (cnnrt_pool_geom){.C = 3, .H = 7, .W = 10, .OH = 3, .OW = 4}, 61);
    check_pool("adaptive 3x5 -> 5x2 (upsample rows)", ADAPT, 2,
               (cnnrt_pool_geom){.C = 2, .H = 3, .W = 5, .OH = 5, .OW = 2}, 62);
    check_pool("global 5x7", GLOBAL, 3,
               (cnnrt_pool_geom){.C = 4, .H = 5, .W = 7, .OH = 1, .OW = 1}, 63);
}

static void test_geom(void **s)
{
    (void)s;
    cnnrt_pool_geom g = PG(2, 5, 7, 2, 2, 2, 2, 1, 1, 1, 1);
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OH, 3);                  /* the ceil window in the padding is dropped */
    assert_int_equal(g.OW, 4);                  /* 5th window would start at 8 = W + P: dropped */
    g = PG(2, 8, 7, 3, 3, 2, 2, 0, 0, 1, 1);
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OH, 4);                  /* ceil((8−3)/2)+1 */
    assert_int_equal(g.OW, 3);                  /* ceil((7−3)/2)+1 */
    g = PG(2, 8, 7, 3, 3, 2, 2, 2, 0, 0, 1);    /* pad > k/2 */
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_EINVAL);
    g = PG(2, 2, 7, 3, 3, 2, 2, 0, 0, 0, 1);    /* window taller than input */
    assert_int_equal(cnnrt_pool_geom_finish(&g), CNNRT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geom),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_2x2_rule),
        cmocka_unit_test(test_maxpool_nonfinite),
        cmocka_unit_test(test_maxpool_backward_set),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_adaptive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
