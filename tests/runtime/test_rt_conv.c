/*
 * test_rt_conv.c — conv2d: fast (im2col + sgemm) vs naive reference vs a
 * float64 forward written here, and every gradient (fast and reference
 * backward) vs float64 central finite differences of L = Σ r·y.
 *
 * Tolerances.  The float64 objective is linear in x, w and b, so its
 * central differences are exact up to rounding (≈1e-16·|L|/h ≈ 1e-13
 * relative with h = 1e-3): the measured error is that of the float32
 * kernel alone.  A float32 dot product of K ≤ 60 terms has relative error
 * ≲ K·2^-24 ≈ 4e-6 in the worst case and ≈ √K·6e-8 ≈ 5e-7 typically, so
 * relative-norm tolerances of 1e-5 are tight yet never flaky.  A sign or
 * index bug gives errors of order 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cnnrt_test.h"
#include "conv_direct.h"

/* ---- float64 forward: the definition the kernels must match ---------------- */

typedef struct {
    const cnnrt_conv_geom *g;
    int n, has_bias;
    double *x, *w, *b, *r, *y;
} conv_ctx;

static void conv_fwd_d(conv_ctx *c)
{
    const cnnrt_conv_geom *g = c->g;
    const int Cg = g->C / g->groups, Cog = g->Cout / g->groups;
    for (int i = 0; i < c->n; i++)
        for (int co = 0; co < g->Cout; co++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++) {
                    double s = c->has_bias ? c->b[co] : 0.0;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int kh = 0; kh < g->KH; kh++)
                            for (int kw = 0; kw < g->KW; kw++) {
                                int ih = oh * g->SH - g->PT + kh * g->DH;
                                int iw = ow * g->SW - g->PL + kw * g->DW;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                                    continue;
                                int cin = (co / Cog) * Cg + ci;
                                s += c->x[((i * g->C + cin) * g->H + ih) * g->W + iw] *
                                     c->w[((co * Cg + ci) * g->KH + kh) * g->KW + kw];
                            }
                    c->y[((i * g->Cout + co) * g->OH + oh) * g->OW + ow] = s;
                }
}

static double conv_L(void *ctx)
{
    conv_ctx *c = ctx;
    conv_fwd_d(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->g->Cout * c->g->OH * c->g->OW);
}

/* ---- one geometry: every check ------------------------------------------- */

static void check_conv(const char *name, int n, cnnrt_conv_geom g, int has_bias, uint64_t seed)
{
    char what[128];
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W;
    const size_t nw = (size_t)g.Cout * (g.C / g.groups) * g.KH * g.KW;
    const size_t ny = (size_t)n * g.Cout * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);

    float *x = t_falloc(nx), *w = t_falloc(nw), *b = t_falloc(g.Cout);
    float *y = t_falloc(ny), *yref = t_falloc(ny), *dy = t_falloc(ny);
    float *scratch = t_falloc(cnnrt_conv_scratch_floats(&g, n));
    t_fill(x, nx, &rng, -1, 1);
    t_fill(w, nw, &rng, -1, 1);
    t_fill(b, g.Cout, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);

    conv_ctx c = {.g = &g, .n = n, .has_bias = has_bias,
                  .x = t_dalloc(nx), .w = t_dalloc(nw), .b = t_dalloc(g.Cout),
                  .r = t_dalloc(ny), .y = t_dalloc(ny)};
    t_to_double(c.x, x, nx);
    t_to_double(c.w, w, nw);
    t_to_double(c.b, b, g.Cout);
    t_to_double(c.r, dy, ny);          /* dL/dy = r */

    /* forward: fast and reference vs float64 */
    const float *bp = has_bias ? b : NULL;
    cnnrt_conv2d_forward(y, x, w, bp, scratch, n, &g);
    cnnrt_conv2d_forward_ref(yref, x, w, bp, n, &g);
    conv_fwd_d(&c);
    snprintf(what, sizeof what, "%s: forward fast vs f64", name);
    t_check_rel(what, y, c.y, ny, 1e-6);
    snprintf(what, sizeof what, "%s: forward ref vs f64", name);
    t_check_rel(what, yref, c.y, ny, 1e-6);
    snprintf(what, sizeof what, "%s: forward fast vs ref", name);
    t_check_relf(what, y, yref, ny, 1e-6);

    /* finite-difference gradients of L = Σ r·y */
    double *gx = t_dalloc(nx), *gw = t_dalloc(nw), *gb = t_dalloc(g.Cout);
    t_fd_grad(gx, c.x, nx, 1e-3, conv_L, &c);
    t_fd_grad(gw, c.w, nw, 1e-3, conv_L, &c);
    t_fd_grad(gb, c.b, g.Cout, 1e-3, conv_L, &c);

    /* backward, fast then reference; buffers pre-filled to check += */
    float *dx0 = t_falloc(nx), *dw0 = t_falloc(nw), *db0 = t_falloc(g.Cout);
    t_fill(dx0, nx, &rng, -0.5f, 0.5f);
    t_fill(dw0, nw, &rng, -0.5f, 0.5f);
    t_fill(db0, g.Cout, &rng, -0.5f, 0.5f);
    float *dx = t_falloc(nx), *dw = t_falloc(nw), *db = t_falloc(g.Cout);
    for (int impl = 0; impl < 2; impl++) {
        const char *iname = impl ? "ref" : "fast";
        memcpy(dx, dx0, nx * sizeof *dx);
        memcpy(dw, dw0, nw * sizeof *dw);
        memcpy(db, db0, g.Cout * sizeof *db);
        if (impl)
            cnnrt_conv2d_backward_ref(dx, dw, has_bias ? db : NULL, dy, x, w, n, &g);
        else
            cnnrt_conv2d_backward(dx, dw, has_bias ? db : NULL, dy, x, w, scratch, n, &g);
        t_sub(dx, dx0, nx);
        t_sub(dw, dw0, nw);
        snprintf(what, sizeof what, "%s: dx %s vs FD", name, iname);
        t_check_rel(what, dx, gx, nx, 1e-5);
        snprintf(what, sizeof what, "%s: dw %s vs FD", name, iname);
        t_check_rel(what, dw, gw, nw, 1e-5);
        if (has_bias) {
            t_sub(db, db0, g.Cout);
            snprintf(what, sizeof what, "%s: db %s vs FD", name, iname);
            t_check_rel(what, db, gb, g.Cout, 1e-5);
        } else {
            snprintf(what, sizeof what, "%s: db untouched when NULL", name);
            t_check_relf(what, db, db0, g.Cout, 0.0);
        }
    }

    /* NULL gradients: each one alone gives the same values as all together */
    memset(dx, 0, nx * sizeof *dx);
    cnnrt_conv2d_backward(dx, NULL, NULL, dy, NULL, w, scratch, n, &g);
    snprintf(what, sizeof what, "%s: dx alone vs FD", name);
    t_check_rel(what, dx, gx, nx, 1e-5);
    memset(dw, 0, nw * sizeof *dw);
    cnnrt_conv2d_backward(NULL, dw, NULL, dy, x, w, scratch, n, &g);
    snprintf(what, sizeof what, "%s: dw alone vs FD", name);
    t_check_rel(what, dw, gw, nw, 1e-5);

    /* inputs untouched */
    float *x2 = t_falloc(nx);
    for (size_t i = 0; i < nx; i++)
        x2[i] = (float)c.x[i];
    snprintf(what, sizeof what, "%s: x unchanged", name);
    t_check_relf(what, x, x2, nx, 0.0);

    free(x); free(w); free(b); free(y); free(yref); free(dy); free(scratch);
    free(c.x); free(c.w); free(c.b); free(c.r); free(c.y);
    free(gx); free(gw); free(gb); free(dx0); free(dw0); free(db0);
    free(dx); free(dw); free(db); free(x2);
}

#define GEOM(C_, H_, W_, Co_, KH_, KW_, SH_, SW_, PT_, PL_, PB_, PR_, DH_, DW_, G_) \
    ((cnnrt_conv_geom){.C = C_, .H = H_, .W = W_, .Cout = Co_, .KH = KH_, .KW = KW_,  \
                       .SH = SH_, .SW = SW_, .PT = PT_, .PL = PL_, .PB = PB_,        \
                       .PR = PR_, .DH = DH_, .DW = DW_, .groups = G_})

static void test_basic_3x3(void **s)
{
    (void)s;
    check_conv("3x3 s1 p1", 2, GEOM(3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 1, 11);
}

static void test_stride2_pad(void **s)
{
    (void)s;
    check_conv("3x3 s2 p1", 3, GEOM(2, 9, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 1, 12);
    check_conv("5x5 s2 p2 no bias", 2, GEOM(3, 11, 10, 2, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1), 0, 13);
}

static void test_dilation2(void **s)
{
    (void)s;
    check_conv("3x3 d2 p2", 2, GEOM(3, 9, 11, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1), 1, 14);
    check_conv("3x3 d2 s2 p1", 2, GEOM(2, 11, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 2, 2, 1), 1, 15);
}

static void test_groups(void **s)
{
    (void)s;
    check_conv("groups 2", 2, GEOM(4, 7, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2), 1, 16);
    check_conv("depthwise s2", 3, GEOM(3, 9, 7, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3), 1, 17);
    check_conv("depthwise x2 mult", 2, GEOM(3, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3), 0, 18);
    /* stride 1 and Cout ≤ C: dx as a convolution of dy with the flipped kernel */
    check_conv("groups 2 narrowing", 2, GEOM(6, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2), 1, 25);
    check_conv("depthwise s1", 2, GEOM(4, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4), 1, 26);
    check_conv("d2 asym pad groups 2", 2, GEOM(4, 8, 9, 2, 3, 2, 1, 1, 2, 0, 1, 2, 2, 2, 2), 1, 27);
}

static void test_pointwise(void **s)
{
    (void)s;
    check_conv("1x1 (direct path)", 2, GEOM(5, 5, 7, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 1, 19);
    check_conv("1x1 groups 2 (direct)", 3, GEOM(4, 3, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2), 1, 20);
    check_conv("1x1 s2", 2, GEOM(4, 7, 5, 3, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), 1, 21);
}

static void test_rect_kernel_asym_pad(void **s)
{
    (void)s;
    check_conv("3x5 p(1,2)", 2, GEOM(2, 7, 9, 3, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1, 1), 1, 22);
    /* PyTorch padding='same' with a 4×2 kernel: top 1, bottom 2, left 0, right 1 */
    check_conv("same 4x2 even", 2, GEOM(3, 6, 7, 2, 4, 2, 1, 1, 1, 0, 2, 1, 1, 1, 1), 0, 23);
    check_conv("mixed s(2,1) d(1,2) 2x3", 3,
               GEOM(2, 8, 9, 4, 2, 3, 2, 1, 0, 2, 1, 0, 1, 2, 2), 1, 24);
}

/* Batches larger than one chunk (about 1 MiB of im2col per sgemm): the fast
 * kernels against the naive ones, with a last chunk smaller than the
 * others, groups, and a scratch sized for a larger batch than is run. */
static void check_chunked(const char *name, int n, int nmax, cnnrt_conv_geom g, uint64_t seed)
{
    char what[128];
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W;
    const size_t nw = (size_t)g.Cout * (g.C / g.groups) * g.KH * g.KW;
    const size_t ny = (size_t)n * g.Cout * g.OH * g.OW;
    assert_true(cnnrt_conv_scratch_floats(&g, n) < cnnrt_conv_scratch_floats(&g, 1) * (size_t)n);
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *w = t_falloc(nw), *b = t_falloc(g.Cout), *dy = t_falloc(ny);
    float *y = t_falloc(ny), *yref = t_falloc(ny);
    float *scratch = t_falloc(cnnrt_conv_scratch_floats(&g, nmax));
    t_fill(x, nx, &rng, -1, 1);
    t_fill(w, nw, &rng, -1, 1);
    t_fill(b, g.Cout, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    cnnrt_conv2d_forward(y, x, w, b, scratch, n, &g);
    cnnrt_conv2d_forward_ref(yref, x, w, b, n, &g);
    snprintf(what, sizeof what, "%s: forward fast vs ref", name);
    t_check_relf(what, y, yref, ny, 1e-6);
    float *dx = t_falloc(nx), *dw = t_falloc(nw), *db = t_falloc(g.Cout);
    float *dxr = t_falloc(nx), *dwr = t_falloc(nw), *dbr = t_falloc(g.Cout);
    cnnrt_conv2d_backward(dx, dw, db, dy, x, w, scratch, n, &g);
    cnnrt_conv2d_backward_ref(dxr, dwr, dbr, dy, x, w, n, &g);
    snprintf(what, sizeof what, "%s: dx fast vs ref", name);
    t_check_relf(what, dx, dxr, nx, 1e-5);
    snprintf(what, sizeof what, "%s: dw fast vs ref", name);
    t_check_relf(what, dw, dwr, nw, 1e-5);
    snprintf(what, sizeof what, "%s: db fast vs ref", name);
    t_check_relf(what, db, dbr, g.Cout, 1e-5);
    free(x); free(w); free(b); free(dy); free(y); free(yref); free(scratch);
    free(dx); free(dw); free(db); free(dxr); free(dwr); free(dbr);
}

static void test_chunked_batch(void **s)
{
    (void)s;
    /* (144 + 8)·576 floats an image: 2 images a chunk, chunks of 2, 2, 1 */
    check_chunked("chunks 3x3 p1", 5, 9, GEOM(16, 24, 24, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 31);
    check_chunked("chunks s2 groups 2", 7, 7, GEOM(16, 47, 45, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2), 32);
    check_chunked("chunks 1x1", 5, 5, GEOM(64, 48, 48, 16, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 33);
}

/* Each implementation on its own (conv_direct.h): the direct kernels, where
 * this CPU and the geometry allow them, and the im2col + gemm path always,
 * against the naive reference.  The public functions pick one per pass, so
 * without this a stride-1 conv on an AVX-512 machine would never run the
 * gemm path, and elsewhere never the direct one. */
static void check_paths(const char *name, int n, cnnrt_conv_geom g, uint64_t seed)
{
    char what[160];
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    const size_t nx = (size_t)n * g.C * g.H * g.W;
    const size_t nw = (size_t)g.Cout * (g.C / g.groups) * g.KH * g.KW;
    const size_t ny = (size_t)n * g.Cout * g.OH * g.OW;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *w = t_falloc(nw), *b = t_falloc(g.Cout), *dy = t_falloc(ny);
    float *y = t_falloc(ny), *yref = t_falloc(ny), *scratch = t_falloc(cnnrt_conv_scratch_floats(&g, n));
    float *dx = t_falloc(nx), *dw = t_falloc(nw), *dxr = t_falloc(nx), *dwr = t_falloc(nw), *dbr = t_falloc(g.Cout);
    t_fill(x, nx, &rng, -1, 1);
    t_fill(w, nw, &rng, -1, 1);
    t_fill(b, g.Cout, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    cnnrt_conv2d_forward_ref(yref, x, w, b, n, &g);
    cnnrt_conv2d_backward_ref(dxr, dwr, dbr, dy, x, w, n, &g);
    /* gradients start from random values: the kernels must add to them */
    float *dx0 = t_falloc(nx), *dw0 = t_falloc(nw), *db = t_falloc(g.Cout), *db0 = t_falloc(g.Cout);
    t_fill(dx0, nx, &rng, -1, 1);
    t_fill(dw0, nw, &rng, -1, 1);
    t_fill(db0, g.Cout, &rng, -1, 1);
    for (size_t i = 0; i < nx; i++) dxr[i] += dx0[i];
    for (size_t i = 0; i < nw; i++) dwr[i] += dw0[i];
    for (int i = 0; i < g.Cout; i++) dbr[i] += db0[i];
    for (int path = 0; path < 2; path++) {
        const char *pn = path ? "direct" : "gemm";
        if (path == 0) {
            cnnrt_gemm_conv_forward(y, x, w, b, scratch, n, &g);
            memcpy(dx, dx0, nx * sizeof(float));
            memcpy(dw, dw0, nw * sizeof(float));
            cnnrt_gemm_conv_backward(dx, dw, NULL, dy, x, w, scratch, n, &g);
        } else {
            if (!cnnrt_direct_forward_ok(&g) && !cnnrt_direct_dx_ok(&g) && !cnnrt_direct_dw_ok(&g))
                continue;
            if (cnnrt_direct_forward_ok(&g)) {
                cnnrt_direct_forward(y, x, w, b, scratch, n, &g);
                snprintf(what, sizeof what, "%s %s: forward vs ref", name, pn);
                t_check_relf(what, y, yref, ny, 1e-6);
            }
            if (cnnrt_direct_dx_ok(&g)) {
                memcpy(dx, dx0, nx * sizeof(float));
                cnnrt_direct_dx(dx, 1, dy, w, scratch, n, &g);
                snprintf(what, sizeof what, "%s %s: dx vs ref", name, pn);
                t_check_relf(what, dx, dxr, nx, 1e-5);
                /* overwriting (the executor's first contribution): dx0 is not added */
                cnnrt_direct_dx(dx, 0, dy, w, scratch, n, &g);
                for (size_t i = 0; i < nx; i++) dx[i] += dx0[i];
                snprintf(what, sizeof what, "%s %s: dx (=) vs ref", name, pn);
                t_check_relf(what, dx, dxr, nx, 1e-5);
            }
            if (cnnrt_direct_dw_ok(&g))
                for (int shape = -1; shape < 4; shape++) {   /* the one picked, then each dW tile shape */
                    memcpy(dw, dw0, nw * sizeof(float));
                    memcpy(db, db0, (size_t)g.Cout * sizeof(float));
                    cnnrt_direct_dw_shape(dw, shape < 0 ? db : NULL, dy, x, scratch, n, &g, shape);
                    snprintf(what, sizeof what, "%s %s: dw (tile shape %d) vs ref", name, pn, shape);
                    t_check_relf(what, dw, dwr, nw, 1e-5);
                    snprintf(what, sizeof what, "%s %s: db (tile shape %d) vs ref", name, pn, shape);
                    t_check_relf(what, db, shape < 0 ? dbr : db0, (size_t)g.Cout, 1e-5);
                }
            continue;
        }
        snprintf(what, sizeof what, "%s %s: forward vs ref", name, pn);
        t_check_relf(what, y, yref, ny, 1e-6);
        snprintf(what, sizeof what, "%s %s: dx vs ref", name, pn);
        t_check_relf(what, dx, dxr, nx, 1e-5);
        snprintf(what, sizeof what, "%s %s: dw vs ref", name, pn);
        t_check_relf(what, dw, dwr, nw, 1e-5);
    }
    free(x); free(w); free(b); free(dy); free(y); free(yref); free(scratch);
    free(dx); free(dw); free(dxr); free(dwr); free(dbr); free(dx0); free(dw0); free(db); free(db0);
}

static void test_paths(void **s)
{
    (void)s;
    /*                                        C   H   W Cout KH KW SH SW PT PL PB PR DH DW G */
    check_paths("3x3 p1, 3 chunks", 7, GEOM(32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 41);
    /* 7 images: dW in row mode, its 1024-position blocks cutting an image */
    check_paths("5x5 p2, Cout 50", 7, GEOM(20, 14, 14, 50, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1), 42);
    check_paths("5x5 p2, C 1", 4, GEOM(1, 28, 28, 20, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1), 43);
    check_paths("3x3 p1, 8x8, Cout 13", 5, GEOM(9, 8, 8, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 44);
    /* Winograd rows F(2, 3) (3-row kernels, 24 channels or more a side): wide 8×8, odd 15×13
     * rows, padding past the kernel, groups 2, dilated columns.  (The 50-channel 5×5 above runs
     * F(2, 5), whose forward pass, about 6e-7 from the reference, is the closest to 1e-6 here.) */
    check_paths("Winograd rows 8x8", 5, GEOM(64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 60);
    check_paths("Winograd rows 15x13 3x5", 3, GEOM(24, 15, 13, 32, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1, 1), 61);
    check_paths("Winograd rows pad 3", 2, GEOM(24, 7, 9, 24, 3, 3, 1, 1, 3, 3, 3, 3, 1, 1, 1), 62);
    check_paths("Winograd rows groups 2, column dilation 2", 3, GEOM(48, 11, 20, 56, 3, 3, 1, 1, 1, 2, 1, 2, 1, 2, 2), 63);
    /* F(2, 5) (5-row kernels, 16 channels or more a side): odd rows; no padding, a 5×3 kernel */
    check_paths("Winograd rows 5x5 odd", 3, GEOM(16, 9, 11, 24, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1), 64);
    check_paths("Winograd rows 5x3 valid", 2, GEOM(20, 12, 17, 16, 5, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1), 65);
    check_paths("asym pad 4x2", 3, GEOM(6, 11, 9, 10, 4, 2, 1, 1, 1, 0, 2, 1, 1, 1, 1), 45);
    check_paths("dilation 2, no pad", 2, GEOM(8, 13, 12, 8, 3, 3, 1, 1, 0, 0, 0, 0, 2, 2, 1), 46);
    check_paths("dilation 2x3, pad 3", 2, GEOM(8, 10, 11, 12, 3, 3, 1, 1, 3, 3, 3, 3, 2, 3, 1), 47);
    check_paths("pad past the kernel", 2, GEOM(8, 7, 7, 8, 3, 3, 1, 1, 3, 3, 3, 3, 1, 1, 1), 48);
    check_paths("groups 2, 3x3", 3, GEOM(16, 10, 10, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2), 49);
    check_paths("depthwise", 2, GEOM(8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8), 50);
    check_paths("1x1", 3, GEOM(16, 9, 9, 24, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 51);
    check_paths("7x7 p3, one row", 2, GEOM(4, 1, 40, 8, 1, 7, 1, 1, 0, 3, 0, 3, 1, 1, 1), 52);
    check_paths("stride 2", 3, GEOM(8, 15, 15, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 53);
    /* strided, direct over phased rows (the forward pass; dW and dx stay im2col) */
    check_paths("stride 2, ResNet 32x32", 5, GEOM(16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 54);
    check_paths("stride 2, 1x1", 4, GEOM(16, 32, 32, 32, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), 55);
    check_paths("stride 2, odd, asym pad, dilation", 3, GEOM(6, 29, 31, 9, 3, 3, 2, 2, 1, 2, 0, 1, 2, 1, 1), 56);
    check_paths("stride 3x2, 5x5", 2, GEOM(5, 40, 30, 12, 5, 5, 3, 2, 2, 2, 2, 2, 1, 1, 1), 57);
    check_paths("stride 2, groups 2, 4x3", 3, GEOM(8, 26, 27, 12, 4, 3, 2, 2, 1, 1, 2, 1, 1, 1, 2), 58);
    check_paths("stride 4, 2 vectors a row", 2, GEOM(4, 30, 120, 8, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1), 59);
}

static void test_geom(void **s)
{
    (void)s;
    cnnrt_conv_geom g = GEOM(3, 7, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1);
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OH, 4);                  /* floor((7+2-2-1)/2)+1 */
    assert_int_equal(g.OW, 5);                  /* floor((9+2-2-1)/2)+1 */
    g = GEOM(3, 6, 7, 2, 4, 2, 1, 1, 1, 0, 2, 1, 1, 1, 1);
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OH, 6);                  /* same */
    assert_int_equal(g.OW, 7);
    g = GEOM(3, 9, 11, 2, 3, 3, 1, 1, 0, 0, 0, 0, 2, 3, 1);
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_OK);
    assert_int_equal(g.OH, 5);                  /* 9 − 2·2 */
    assert_int_equal(g.OW, 5);                  /* 11 − 3·2 */
    g = GEOM(3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2);  /* 3 % 2 */
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_EINVAL);
    g = GEOM(3, 2, 9, 4, 5, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1);  /* kernel taller than input */
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_EINVAL);
    g = GEOM(3, 7, 9, 4, 3, 3, 0, 1, 1, 1, 1, 1, 1, 1, 1);  /* stride 0 */
    assert_int_equal(cnnrt_conv_geom_finish(&g), CNNRT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geom),
        cmocka_unit_test(test_basic_3x3),
        cmocka_unit_test(test_stride2_pad),
        cmocka_unit_test(test_dilation2),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_pointwise),
        cmocka_unit_test(test_rect_kernel_asym_pad),
        cmocka_unit_test(test_chunked_batch),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
