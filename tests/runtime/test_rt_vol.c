/*
 * test_rt_vol.c — the 3-D layers of vol.c (Conv3d, MaxPool3d, AvgPool3d,
 * AdaptiveAvgPool3d) against their definitions, written here in float64.
 *
 * Each case checks the output size against PyTorch's formula, the forward
 * against the direct sum (max pool: the values bit for bit and the argmax
 * exactly), and the backward, accumulated onto random values, against
 * float64 central finite differences of L = Σ r·y.  The conv's backward is
 * also run with two of dx, dw, db NULL at a time: each gradient alone must
 * be the same bits.  Its scratch, of the size asked for (for the batch or a
 * larger one), holds garbage before each call and is followed by guard
 * values that must survive; y holds garbage before the forward.
 *
 * Conv cases: odd sizes, strides, asymmetric padding and dilations (2, and
 * 1/2/3) differing per axis, padding beyond the kernel's reach, groups 2
 * and depthwise, 1×1×1 kernels, batches of 1 and 2.  Pool cases: padding,
 * ceil mode (with the window that would start in the right padding
 * dropped), average with and without count_include_pad, adaptive with
 * cells that do not divide (5 → 3) and that overlap (3 → 5); the max
 * pool's rule (first maximum wins, a NaN wins, the last NaN) on inputs
 * full of ties and NaNs.  Both geometries' _finish reject each field out
 * of range, one at a time.
 *
 * Tolerances.  The conv is linear in each of x, w, b, and pooling
 * piecewise linear, so central differences are exact up to rounding; the
 * max pool's windows are checked to keep their maximum ≥ 1e-5 ahead of the
 * runner-up, so h = 1e-6 moves no maximum.  Forward within 1e-5 of the
 * largest |y| (conv: float sums of ≤ 108 products); gradients ‖·‖ relative
 * 1e-5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "cnnrt_test.h"

#include <string.h>

enum { GUARD = 64 };
#define GUARD_VALUE 12345.0f

/* A forward result within tol · max|ref| of the float64 reference. */
static void check_fwd(const char *what, const float *y, const double *ref, size_t n, double tol)
{
    double mx = 0, maxd = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(y[i] - ref[i]);
        if (!(d <= tol * mx))
            fail_msg("%s: [%zu] %.9g vs %.9g", what, i, (double)y[i], ref[i]);
        maxd = fmax(maxd, d);
    }
    if (t_verbose())
        fprintf(stderr, "  %-44s max abs diff %.3g of max %.3g (n=%zu)\n", what, maxd, mx, n);
}

/* ---- convolution ----------------------------------------------------------- */

typedef struct {
    int n;
    cnnrt_conv3d_geom g;
    double *x, *w, *b, *r;      /* x, w, b: one vector, the finite differences' variable */
} conv_ctx;

/* y[i][co][od][oh][ow] = b[co] + Σ w[co][c][kd][kh][kw] · x[i][g·Cg+c][id][ih][iw],
 * id = od·SD − PD0 + kd·DD (likewise ih, iw), terms outside the input 0 */
static void conv_ref(const conv_ctx *c, double *y)
{
    const cnnrt_conv3d_geom *g = &c->g;
    const int Cg = g->C / g->groups, Cog = g->Cout / g->groups;
    size_t o = 0;
    for (int i = 0; i < c->n; i++)
        for (int co = 0; co < g->Cout; co++)
            for (int od = 0; od < g->OD; od++)
                for (int oh = 0; oh < g->OH; oh++)
                    for (int ow = 0; ow < g->OW; ow++, o++) {
                        double s = c->b[co];
                        for (int ci = 0; ci < Cg; ci++)
                            for (int kd = 0; kd < g->KD; kd++)
                                for (int kh = 0; kh < g->KH; kh++)
                                    for (int kw = 0; kw < g->KW; kw++) {
                                        const int id = od * g->SD - g->PD0 + kd * g->DD;
                                        const int ih = oh * g->SH - g->PH0 + kh * g->DH;
                                        const int iw = ow * g->SW - g->PW0 + kw * g->DW;
                                        if (id < 0 || id >= g->D || ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                                            continue;
                                        const int cin = co / Cog * Cg + ci;
                                        s += c->w[(((size_t)(co * Cg + ci) * g->KD + kd) * g->KH + kh) * g->KW + kw] *
                                             c->x[(((size_t)(i * g->C + cin) * g->D + id) * g->H + ih) * g->W + iw];
                                    }
                        y[o] = s;
                    }
}

static double conv_L(void *v)
{
    conv_ctx *c = v;
    const size_t ny = (size_t)c->n * c->g.Cout * c->g.OD * c->g.OH * c->g.OW;
    double *y = t_dalloc(ny);
    conv_ref(c, y);
    const double s = t_dot(c->r, y, ny);
    free(y);
    return s;
}

/* PyTorch's Conv3d output size along one axis */
static int conv_out(int in, int p0, int p1, int k, int s, int d)
{
    return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

static void scratch_garbage(float *scr, size_t ns, cnnrt_rng *rng)
{
    t_fill(scr, ns, rng, -100, 100);
    for (size_t i = ns; i < ns + GUARD; i++)
        scr[i] = GUARD_VALUE;
}

static void scratch_guard(const float *scr, size_t ns, const char *name, const char *call)
{
    for (size_t i = ns; i < ns + GUARD; i++)
        if (scr[i] != GUARD_VALUE)
            fail_msg("conv3d %s: %s overran its scratch of %zu floats at [%zu]", name, call, ns, i);
}

/* n images, the scratch sized for n_scratch ≥ n */
static void check_conv(const char *name, int n, int n_scratch, cnnrt_conv3d_geom g, uint64_t seed)
{
    char what[160];
    assert_int_equal(cnnrt_conv3d_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OD, conv_out(g.D, g.PD0, g.PD1, g.KD, g.SD, g.DD));
    assert_int_equal(g.OH, conv_out(g.H, g.PH0, g.PH1, g.KH, g.SH, g.DH));
    assert_int_equal(g.OW, conv_out(g.W, g.PW0, g.PW1, g.KW, g.SW, g.DW));
    const size_t nx = (size_t)n * g.C * g.D * g.H * g.W, nw = (size_t)g.Cout * (g.C / g.groups) * g.KD * g.KH * g.KW;
    const size_t ny = (size_t)n * g.Cout * g.OD * g.OH * g.OW, np = nx + nw + g.Cout;
    const size_t ns = cnnrt_conv3d_scratch_floats(&g, n_scratch);
    assert_true(ns > 0);
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *all = t_falloc(np), *y = t_falloc(ny), *dy = t_falloc(ny), *scr = t_falloc(ns + GUARD);
    float *d0 = t_falloc(np), *dd = t_falloc(np), *one = t_falloc(np);
    float *x = all, *w = all + nx, *b = all + nx + nw;
    t_fill(all, np, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(d0, np, &rng, -0.5f, 0.5f);
    t_fill(y, ny, &rng, -100, 100);            /* garbage the forward must overwrite */
    conv_ctx c = {n, g, t_dalloc(np), NULL, NULL, t_dalloc(ny)};
    t_to_double(c.x, all, np);
    c.w = c.x + nx;
    c.b = c.x + nx + nw;
    t_to_double(c.r, dy, ny);

    scratch_garbage(scr, ns, &rng);
    cnnrt_conv3d_forward(y, x, w, b, scr, n, &g);
    scratch_guard(scr, ns, name, "forward");
    double *yd = t_dalloc(ny);
    conv_ref(&c, yd);
    snprintf(what, sizeof what, "conv3d %s: forward vs f64", name);
    check_fwd(what, y, yd, ny, 1e-5);

    double *gref = t_dalloc(np);
    t_fd_grad(gref, c.x, np, 1e-3, conv_L, &c);
    memcpy(dd, d0, np * sizeof *dd);
    scratch_garbage(scr, ns, &rng);
    cnnrt_conv3d_backward(dd, dd + nx, dd + nx + nw, dy, x, w, scr, n, &g);
    scratch_guard(scr, ns, name, "backward");

    /* each gradient alone, the others NULL: the same bits */
    memcpy(one, d0, np * sizeof *one);
    scratch_garbage(scr, ns, &rng);
    cnnrt_conv3d_backward(one, NULL, NULL, dy, x, w, scr, n, &g);
    scratch_guard(scr, ns, name, "backward to dx");
    scratch_garbage(scr, ns, &rng);
    cnnrt_conv3d_backward(NULL, one + nx, NULL, dy, x, w, scr, n, &g);
    scratch_guard(scr, ns, name, "backward to dw");
    scratch_garbage(scr, ns, &rng);
    cnnrt_conv3d_backward(NULL, NULL, one + nx + nw, dy, x, w, scr, n, &g);
    if (memcmp(one, dd, np * sizeof *dd) != 0)
        fail_msg("conv3d %s: dx, dw, db one at a time differ from all three at once", name);

    t_sub(dd, d0, np);
    snprintf(what, sizeof what, "conv3d %s: dx vs FD", name);
    t_check_rel(what, dd, gref, nx, 1e-5);
    snprintf(what, sizeof what, "conv3d %s: dw vs FD", name);
    t_check_rel(what, dd + nx, gref + nx, nw, 1e-5);
    snprintf(what, sizeof what, "conv3d %s: db vs FD", name);
    t_check_rel(what, dd + nx + nw, gref + nx + nw, (size_t)g.Cout, 1e-5);

    free(all); free(y); free(dy); free(scr); free(d0); free(dd); free(one);
    free(c.x); free(c.r); free(yd); free(gref);
}

/* C, D, H, W, Cout, kernel, stride, padding before and after, dilation (each per axis), groups */
#define CG(C_, D_, H_, W_, CO_, KD_, KH_, KW_, SD_, SH_, SW_, PD0_, PD1_, PH0_, PH1_, PW0_, PW1_, DD_, DH_, DW_, G_) \
    ((cnnrt_conv3d_geom){.C = C_, .D = D_, .H = H_, .W = W_, .Cout = CO_, .KD = KD_, .KH = KH_, .KW = KW_,      \
                         .SD = SD_, .SH = SH_, .SW = SW_, .PD0 = PD0_, .PD1 = PD1_, .PH0 = PH0_, .PH1 = PH1_,   \
                         .PW0 = PW0_, .PW1 = PW1_, .DD = DD_, .DH = DH_, .DW = DW_, .groups = G_})

static void test_conv3d(void **st)
{
    (void)st;
    check_conv("5x4x3 k3 p1", 2, 2, CG(3, 5, 4, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 900);
    check_conv("7x5x6 k(3,2,3) s(2,1,2) p(2|0,0|1,1|2)", 2, 2,
               CG(2, 7, 5, 6, 3, 3, 2, 3, 2, 1, 2, 2, 0, 0, 1, 1, 2, 1, 1, 1, 1), 901);
    check_conv("6x5x5 k3 d2 g2 p(2|1,2|2,1|0)", 2, 2,
               CG(4, 6, 5, 5, 6, 3, 3, 3, 1, 1, 1, 2, 1, 2, 2, 1, 0, 2, 2, 2, 2), 902);
    check_conv("5x6x7 k(2,3,2) s(1,2,1) d(2,1,2) g2, scratch for n=5", 2, 5,
               CG(4, 5, 6, 7, 2, 2, 3, 2, 1, 2, 1, 1, 0, 1, 1, 0, 1, 2, 1, 2, 2), 903);
    check_conv("3x4x5 k2 d(1,2,3) p(3|0,0|3,2|2) beyond the kernel", 1, 1,
               CG(2, 3, 4, 5, 3, 2, 2, 2, 1, 1, 1, 3, 0, 0, 3, 2, 2, 1, 2, 3, 1), 904);
    check_conv("4x5x3 depthwise k3 s2 p1", 2, 2, CG(3, 4, 5, 3, 6, 3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3), 905);
    check_conv("3x4x5 1x1x1", 2, 2, CG(3, 3, 4, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1), 906);
    check_conv("5x3x4 1x1x1 s(2,1,3)", 1, 3, CG(4, 5, 3, 4, 2, 1, 1, 1, 2, 1, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2), 907);
}

static void test_conv3d_geom(void **st)
{
    (void)st;
    const cnnrt_conv3d_geom ok = CG(4, 5, 6, 7, 6, 3, 3, 3, 2, 1, 1, 1, 0, 1, 1, 0, 0, 1, 2, 1, 2);
    cnnrt_conv3d_geom g = ok;
    assert_int_equal(cnnrt_conv3d_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OD, 2);                  /* (5+1−2−1)/2+1 */
    assert_int_equal(g.OH, 4);                  /* 6+2−4−1+1 */
    assert_int_equal(g.OW, 5);
#define BAD(F_, V_) {#F_ " = " #V_, offsetof(cnnrt_conv3d_geom, F_), V_}
    static const struct { const char *what; size_t field; int value; } bad[] = {
        BAD(C, 0), BAD(D, 0), BAD(H, 0), BAD(W, 0), BAD(Cout, 0), BAD(KD, 0), BAD(KH, 0), BAD(KW, 0),
        BAD(SD, 0), BAD(SH, 0), BAD(SW, 0), BAD(DD, 0), BAD(DH, 0), BAD(DW, 0), BAD(groups, 0), BAD(W, -1),
        BAD(SW, -2), BAD(DW, -1), BAD(PD0, -1), BAD(PH0, -1), BAD(PW0, -1), BAD(PD1, -1), BAD(PH1, -1),
        BAD(PW1, -1),
        BAD(groups, 3),             /* C 4 */
        BAD(Cout, 5),               /* groups 2 */
        BAD(KD, 7),                 /* 5 + 1 of padded depth */
        BAD(DH, 4),                 /* the kernel reaches 9 rows, 6 + 2 padded */
    };
#undef BAD
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g = ok;
        memcpy((char *)&g + bad[i].field, &bad[i].value, sizeof(int));
        if (cnnrt_conv3d_geom_finish(&g) != CNNRT_EINVAL)
            fail_msg("conv3d geometry with %s accepted", bad[i].what);
    }
    g = CG(1, 2000, 2000, 2000, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
    assert_int_equal(cnnrt_conv3d_geom_finish(&g), CNNRT_EINVAL);  /* 8e9 outputs: not an sgemm int */
    g = CG(1, 1300, 1300, 1300, 1, 1300, 1300, 1300, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
    assert_int_equal(cnnrt_conv3d_geom_finish(&g), CNNRT_EINVAL);  /* one output, K = 2.2e9 taps: no int */
}

/* ---- pooling --------------------------------------------------------------- */

enum { MAXP, AVGP, ADAPT };

typedef struct {
    int kind, n;
    cnnrt_pool3d_geom g;
    double *x, *r, *y;
    int32_t *am;                /* max pool: the reference argmax */
    double gap;                 /* max pool: the least lead of a window's maximum */
} pool_ctx;

/* [floor(i·in/out), ceil((i+1)·in/out)) */
static void cell(int i, int in, int out, int *a, int *b)
{
    *a = (int)floor((double)i * in / out);
    *b = (int)ceil((double)(i + 1) * in / out);
}

/* a pool's window along one axis clipped to the input, and its length
 * clipped to the padded input (count_include_pad's divisor) */
static void span(int o, int in, int k, int s, int p, int *a, int *b, int *padded)
{
    *a = o * s - p;
    *b = *a + k < in + p ? *a + k : in + p;
    *padded = *b - *a;
    *a = *a < 0 ? 0 : *a;
    *b = *b > in ? in : *b;
}

/* float64 definitions, written from PyTorch's documentation */
static void pool_ref(pool_ctx *c)
{
    const cnnrt_pool3d_geom *g = &c->g;
    c->gap = INFINITY;
    size_t o = 0;
    for (int pl = 0; pl < c->n * g->C; pl++)
        for (int od = 0; od < g->OD; od++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++, o++) {
                    int d0, d1, h0, h1, w0, w1, pd = 0, ph = 0, pw = 0;
                    if (c->kind == ADAPT) {
                        cell(od, g->D, g->OD, &d0, &d1);
                        cell(oh, g->H, g->OH, &h0, &h1);
                        cell(ow, g->W, g->OW, &w0, &w1);
                    } else {
                        span(od, g->D, g->KD, g->SD, g->PD, &d0, &d1, &pd);
                        span(oh, g->H, g->KH, g->SH, g->PH, &h0, &h1, &ph);
                        span(ow, g->W, g->KW, g->SW, g->PW, &w0, &w1, &pw);
                    }
                    double sum = 0, m1 = -INFINITY, m2 = -INFINITY;
                    int32_t at = -1;
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) {
                                const int32_t k = (id * g->H + ih) * g->W + iw;
                                const double v = c->x[(size_t)pl * g->D * g->H * g->W + k];
                                sum += v;
                                if (v > m1) {
                                    m2 = m1;
                                    m1 = v;
                                    at = k;
                                } else if (v > m2) {
                                    m2 = v;
                                }
                            }
                    double div = (double)(d1 - d0) * (h1 - h0) * (w1 - w0);
                    if (c->kind == AVGP && g->count_include_pad)
                        div = (double)pd * ph * pw;
                    if (c->kind == MAXP) {
                        c->y[o] = m1;
                        c->am[o] = at;
                        c->gap = fmin(c->gap, m1 - m2);
                    } else {
                        c->y[o] = sum / div;
                    }
                }
}

static double pool_L(void *v)
{
    pool_ctx *c = v;
    pool_ref(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->g.C * c->g.OD * c->g.OH * c->g.OW);
}

/* PyTorch's pool output size along one axis: ceil mode rounds up, but the
 * last window must start inside the input or its left padding */
static int pool_out(int in, int k, int s, int p, int ceil_mode)
{
    const int num = in + 2 * p - k;
    int o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p)
        o--;
    return o;
}

static void check_pool(const char *name, int kind, int n, cnnrt_pool3d_geom g, uint64_t seed)
{
    char what[160];
    if (kind != ADAPT) {
        assert_int_equal(cnnrt_pool3d_geom_finish(&g), CNNRT_OK);
        assert_int_equal(g.OD, pool_out(g.D, g.KD, g.SD, g.PD, g.ceil_mode));
        assert_int_equal(g.OH, pool_out(g.H, g.KH, g.SH, g.PH, g.ceil_mode));
        assert_int_equal(g.OW, pool_out(g.W, g.KW, g.SW, g.PW, g.ceil_mode));
    }
    const size_t nx = (size_t)n * g.C * g.D * g.H * g.W, ny = (size_t)n * g.C * g.OD * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *y = t_falloc(ny), *dy = t_falloc(ny), *dx0 = t_falloc(nx), *dx = t_falloc(nx);
    int32_t *am = calloc(ny, sizeof *am);
    assert_non_null(am);
    t_fill(x, nx, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(dx0, nx, &rng, -0.5f, 0.5f);
    t_fill(y, ny, &rng, -100, 100);            /* garbage the forward must overwrite */
    pool_ctx c = {kind, n, g, t_dalloc(nx), t_dalloc(ny), t_dalloc(ny), calloc(ny, sizeof(int32_t)), 0};
    assert_non_null(c.am);
    t_to_double(c.x, x, nx);
    t_to_double(c.r, dy, ny);

    switch (kind) {
    case MAXP: cnnrt_maxpool3d_forward(y, am, x, n, &g); break;
    case AVGP: cnnrt_avgpool3d_forward(y, x, n, &g); break;
    default: cnnrt_adaptive_avgpool3d_forward(y, x, n, &g); break;
    }
    pool_ref(&c);
    snprintf(what, sizeof what, "%s: forward vs f64", name);
    check_fwd(what, y, c.y, ny, kind == MAXP ? 0.0 : 1e-5);
    if (kind == MAXP) {
        if (!(c.gap >= 1e-5))
            fail_msg("%s: seed %llu gives a window whose maximum leads by %g only: pick another seed", name,
                     (unsigned long long)seed, c.gap);
        for (size_t i = 0; i < ny; i++)
            if (am[i] != c.am[i])
                fail_msg("%s: argmax[%zu] = %d, expected %d", name, i, am[i], c.am[i]);
    }

    double *gx = t_dalloc(nx);
    t_fd_grad(gx, c.x, nx, 1e-6, pool_L, &c);
    memcpy(dx, dx0, nx * sizeof *dx);
    switch (kind) {
    case MAXP: cnnrt_maxpool3d_backward(dx, dy, am, n, &g); break;
    case AVGP: cnnrt_avgpool3d_backward(dx, dy, n, &g); break;
    default: cnnrt_adaptive_avgpool3d_backward(dx, dy, n, &g); break;
    }
    t_sub(dx, dx0, nx);
    snprintf(what, sizeof what, "%s: dx vs FD", name);
    t_check_rel(what, dx, gx, nx, 1e-5);

    free(x); free(y); free(dy); free(dx0); free(dx); free(am);
    free(c.x); free(c.r); free(c.y); free(c.am); free(gx);
}

/* C, D, H, W, kernel, stride, padding (each per axis), ceil_mode, count_include_pad */
#define PG(C_, D_, H_, W_, KD_, KH_, KW_, SD_, SH_, SW_, PD_, PH_, PW_, CEIL_, CIP_)                  \
    ((cnnrt_pool3d_geom){.C = C_, .D = D_, .H = H_, .W = W_, .KD = KD_, .KH = KH_, .KW = KW_, .SD = SD_, \
                         .SH = SH_, .SW = SW_, .PD = PD_, .PH = PH_, .PW = PW_, .ceil_mode = CEIL_,      \
                         .count_include_pad = CIP_})

static void test_maxpool3d(void **st)
{
    (void)st;
    check_pool("max3d 5x6x7 k3 s2 p1", MAXP, 2, PG(2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1), 910);
    /* ceil: OD 3, a 4th window would start at 5 = D, in the padding */
    check_pool("max3d 5x6x5 k(2,3,2) s(2,2,1) p(1,1,0) ceil", MAXP, 2,
               PG(2, 5, 6, 5, 2, 3, 2, 2, 2, 1, 1, 1, 0, 1, 1), 911);
    check_pool("max3d 4x5x8 k(3,2,2) s(1,2,3) ceil", MAXP, 1, PG(3, 4, 5, 8, 3, 2, 2, 1, 2, 3, 0, 0, 0, 1, 1), 912);
}

/* Inputs from {−1, 0, 1, 2} with some NaNs (ties everywhere), one plane
 * all −Inf: outputs and argmax by the rule "first maximum in (d, h, w)
 * order wins, a NaN wins", checked here on the floats; backward sends dy
 * to the argmax. */
static void test_maxpool3d_rule(void **st)
{
    (void)st;
    cnnrt_pool3d_geom g = PG(3, 5, 6, 7, 3, 2, 3, 2, 2, 2, 1, 1, 1, 1, 1);
    assert_int_equal(cnnrt_pool3d_geom_finish(&g), CNNRT_OK);
    const int n = 2;
    const size_t DHW = (size_t)g.D * g.H * g.W, P = (size_t)g.OD * g.OH * g.OW;
    const size_t nx = n * g.C * DHW, ny = n * g.C * P;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, 920);
    float *x = t_falloc(nx), *y = t_falloc(ny), *dy = t_falloc(ny), *dx = t_falloc(nx), *dx0 = t_falloc(nx);
    int32_t *am = calloc(ny, sizeof *am);
    assert_non_null(am);
    for (size_t i = 0; i < nx; i++) {
        const uint32_t r = cnnrt_rng_u32(&rng);
        x[i] = i / DHW == 4 ? -INFINITY : r % 53 == 0 ? NAN : (float)(int)(r % 4) - 1.0f;
    }
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(dx0, nx, &rng, -0.5f, 0.5f);
    memcpy(dx, dx0, nx * sizeof *dx);
    cnnrt_maxpool3d_forward(y, am, x, n, &g);
    cnnrt_maxpool3d_backward(dx, dy, am, n, &g);
    int nans = 0;
    for (size_t pl = 0; pl < (size_t)n * g.C; pl++)
        for (int od = 0; od < g.OD; od++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++) {
                    int d0, d1, h0, h1, w0, w1, unused;
                    span(od, g.D, g.KD, g.SD, g.PD, &d0, &d1, &unused);
                    span(oh, g.H, g.KH, g.SH, g.PH, &h0, &h1, &unused);
                    span(ow, g.W, g.KW, g.SW, g.PW, &w0, &w1, &unused);
                    float m = 0;
                    int32_t k = -1;
                    for (int id = d0; id < d1; id++)
                        for (int ih = h0; ih < h1; ih++)
                            for (int iw = w0; iw < w1; iw++) {
                                const int32_t at = (id * g.H + ih) * g.W + iw;
                                const float v = x[pl * DHW + at];
                                if (k < 0 || v > m || isnan(v)) {
                                    m = v;
                                    k = at;
                                }
                            }
                    const size_t o = pl * P + ((size_t)od * g.OH + oh) * g.OW + ow;
                    nans += isnan(m);
                    if (isnan(m) ? !isnan(y[o]) : y[o] != m)
                        fail_msg("max3d rule: y[%zu] = %g, expected %g", o, (double)y[o], (double)m);
                    if (am[o] != k)
                        fail_msg("max3d rule: argmax[%zu] = %d, expected %d", o, am[o], k);
                    dx0[pl * DHW + k] += dy[o];
                }
    assert_true(nans > 0);
    for (size_t i = 0; i < nx; i++)
        if (dx[i] != dx0[i])
            fail_msg("max3d rule: dx[%zu] = %g, expected %g", i, (double)dx[i], (double)dx0[i]);
    free(x); free(y); free(dy); free(dx); free(dx0); free(am);
}

static void test_avgpool3d(void **st)
{
    (void)st;
    check_pool("avg3d 5x6x7 k3 s2 p1 incl", AVGP, 2, PG(2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1), 930);
    check_pool("avg3d 5x6x7 k3 s2 p1 excl", AVGP, 2, PG(2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 0), 931);
    /* ceil: the last depth window [5, 8) is cut at D + PD = 7 (2 with
     * count_include_pad, 1 without); a 4th row window would start at 5 = H,
     * in the padding: dropped */
    check_pool("avg3d 6x5x7 k(3,2,3) s(2,2,3) p1 ceil incl", AVGP, 2,
               PG(2, 6, 5, 7, 3, 2, 3, 2, 2, 3, 1, 1, 1, 1, 1), 932);
    check_pool("avg3d 6x5x7 k(3,2,3) s(2,2,3) p1 ceil excl", AVGP, 2,
               PG(2, 6, 5, 7, 3, 2, 3, 2, 2, 3, 1, 1, 1, 1, 0), 933);
    check_pool("avg3d 4x5x8 k(3,2,2) s(1,2,3) ceil excl", AVGP, 1, PG(3, 4, 5, 8, 3, 2, 2, 1, 2, 3, 0, 0, 0, 1, 0), 934);
}

static void test_adaptive3d(void **st)
{
    (void)st;
    check_pool("adaptive3d 5x4x7 -> 3x3x2", ADAPT, 2,
               (cnnrt_pool3d_geom){.C = 2, .D = 5, .H = 4, .W = 7, .OD = 3, .OH = 3, .OW = 2}, 940);
    check_pool("adaptive3d 3x2x5 -> 5x4x3 (overlapping)", ADAPT, 2,
               (cnnrt_pool3d_geom){.C = 2, .D = 3, .H = 2, .W = 5, .OD = 5, .OH = 4, .OW = 3}, 941);
    check_pool("adaptive3d 4x6x3 -> 1x1x1 (global)", ADAPT, 3,
               (cnnrt_pool3d_geom){.C = 3, .D = 4, .H = 6, .W = 3, .OD = 1, .OH = 1, .OW = 1}, 942);
}

static void test_pool3d_geom(void **st)
{
    (void)st;
    cnnrt_pool3d_geom g = PG(2, 5, 5, 8, 2, 2, 3, 2, 2, 3, 1, 0, 1, 1, 1);
    assert_int_equal(cnnrt_pool3d_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OD, 3);                  /* ceil(5/2)+1 = 4, but the 4th would start at 5 = D: dropped */
    assert_int_equal(g.OH, 3);                  /* ceil(3/2)+1 */
    assert_int_equal(g.OW, 3);                  /* ceil(7/3)+1 = 4, but the 4th would start at 8 = W: dropped */
    /* one field changed in a geometry padded by 1 on each axis (0), or unpadded
     * (1: a zero window breaks no padding rule there) */
    const cnnrt_pool3d_geom base[2] = {PG(2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1),
                                       PG(2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 0, 0, 0, 0, 1)};
#define BAD(B_, F_, V_) {#F_ " = " #V_, B_, offsetof(cnnrt_pool3d_geom, F_), V_}
    static const struct { const char *what; int base; size_t field; int value; } bad[] = {
        BAD(0, C, 0), BAD(0, D, 0), BAD(0, H, 0), BAD(0, W, 0), BAD(1, KD, 0), BAD(1, KH, 0), BAD(1, KW, 0),
        BAD(0, SD, 0), BAD(0, SH, 0), BAD(0, SW, 0), BAD(0, D, -3), BAD(0, SH, -1), BAD(1, KW, -1),
        BAD(1, PD, -1), BAD(1, PH, -1), BAD(1, PW, -1),
        BAD(0, PD, 2), BAD(0, PH, 2), BAD(0, PW, 2),        /* more than half the window 3 */
        BAD(0, ceil_mode, 2), BAD(0, ceil_mode, -1), BAD(0, count_include_pad, 2),
        BAD(0, count_include_pad, -1),
        BAD(0, KD, 8),              /* with PD 1 (≤ 4): beyond 5 + 2 of padded depth */
    };
#undef BAD
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g = base[bad[i].base];
        memcpy((char *)&g + bad[i].field, &bad[i].value, sizeof(int));
        if (cnnrt_pool3d_geom_finish(&g) != CNNRT_EINVAL)
            fail_msg("pool3d geometry with %s accepted", bad[i].what);
    }
    g = PG(1, 2, 3, 2, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1);
    assert_int_equal(cnnrt_pool3d_geom_finish(&g), CNNRT_EINVAL);  /* window deeper than the input */
    g = PG(1, 2000, 2000, 2000, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1);
    assert_int_equal(cnnrt_pool3d_geom_finish(&g), CNNRT_EINVAL);  /* 8e9 inputs: no int32 argmax */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv3d_geom),
        cmocka_unit_test(test_conv3d),
        cmocka_unit_test(test_pool3d_geom),
        cmocka_unit_test(test_maxpool3d),
        cmocka_unit_test(test_maxpool3d_rule),
        cmocka_unit_test(test_avgpool3d),
        cmocka_unit_test(test_adaptive3d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
