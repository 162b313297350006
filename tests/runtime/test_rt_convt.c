/*
 * test_rt_convt.c — transposed convolution (convt.c) against its definition.
 *
 * Forward against the scatter written here in float64 (PyTorch's
 * ConvTranspose2d: each input value times the kernel, added at output row
 * iy·S − P + kh·D; weight [in][out/groups][KH][KW]); backward (input,
 * weight and bias gradients, accumulated onto random values) against float64
 * central finite differences of L = Σ r·y.  Cases: stride 2 with
 * output_padding 1, dilation 2 with groups 2, an odd 5×3 input, and a
 * 1×1 kernel.  Forward within 1e-5 of the largest value, gradients ‖·‖
 * relative 1e-5 (f is linear in each of x, w, b).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"
#include "cnnrt_priv.h"

typedef struct {
    int n, cin, cout, h, w, k, s, p, d, g, op, oh, ow;
    double *x, *wt, *b, *r;       /* x, weight, bias in one vector: xs */
} tctx;

static void scatter(const tctx *c, const double *x, const double *wt, const double *b, double *y)
{
    const int cog = c->cout / c->g, cig = c->cin / c->g;
    for (int i = 0; i < c->n; i++) {
        double *yi = y + (size_t)i * c->cout * c->oh * c->ow;
        for (int oc = 0; oc < c->cout; oc++)
            for (int q = 0; q < c->oh * c->ow; q++) yi[oc * c->oh * c->ow + q] = b[oc];
        for (int ic = 0; ic < c->cin; ic++)
            for (int iy = 0; iy < c->h; iy++)
                for (int ix = 0; ix < c->w; ix++) {
                    const double v = x[(((size_t)i * c->cin + ic) * c->h + iy) * c->w + ix];
                    for (int j = 0; j < cog; j++)
                        for (int kh = 0; kh < c->k; kh++)
                            for (int kw = 0; kw < c->k; kw++) {
                                const int oy = iy * c->s - c->p + kh * c->d, ox = ix * c->s - c->p + kw * c->d;
                                if (oy < 0 || oy >= c->oh || ox < 0 || ox >= c->ow) continue;
                                const int oc = ic / cig * cog + j;
                                yi[(oc * c->oh + oy) * c->ow + ox] += v * wt[((ic * cog + j) * c->k + kh) * c->k + kw];
                            }
                }
    }
}

static double L_of(void *v)
{
    tctx *c = v;
    const size_t ny = (size_t)c->n * c->cout * c->oh * c->ow;
    double *y = t_dalloc(ny), s = 0;
    scatter(c, c->x, c->wt, c->b, y);
    for (size_t i = 0; i < ny; i++) s += c->r[i] * y[i];
    free(y);
    return s;
}

static void check(int n, int cin, int cout, int h, int w, int k, int s, int p, int d, int g, int op, uint64_t seed)
{
    tctx c = { n, cin, cout, h, w, k, s, p, d, g, op, (h - 1) * s - 2 * p + d * (k - 1) + op + 1,
               (w - 1) * s - 2 * p + d * (k - 1) + op + 1, 0, 0, 0, 0 };
    const size_t nx = (size_t)n * cin * h * w, nw = (size_t)cin * (cout / g) * k * k, ny = (size_t)n * cout * c.oh * c.ow;
    char what[96];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *all = t_falloc(nx + nw + cout), *y = t_falloc(ny), *dy = t_falloc(ny);
    float *d0 = t_falloc(nx + nw + cout), *dd = t_falloc(nx + nw + cout), *tmp = t_falloc(nx);
    t_fill(all, nx + nw + cout, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    t_fill(d0, nx + nw + cout, &rng, -0.5f, 0.5f);
    double *ad = t_dalloc(nx + nw + cout), *yd = t_dalloc(ny);
    t_to_double(ad, all, nx + nw + cout);
    c.x = ad; c.wt = ad + nx; c.b = ad + nx + nw; c.r = t_dalloc(ny);
    t_to_double(c.r, dy, ny);
    /* the conv whose data gradient it is: its input is our output */
    cnnrt_conv_geom geo = { cout, c.oh, c.ow, cin, k, k, s, s, p, p, p, p, d, d, g, 0, 0 };
    assert_int_equal(cnnrt_conv_geom_finish(&geo), CNNRT_OK);
    assert_int_equal(geo.OH, h);
    float *scr = t_falloc(cnnrt_conv_scratch_floats(&geo, n));
    cnnrt_conv_transpose2d_forward(y, all, all + nx, all + nx + nw, scr, n, &geo);
    scatter(&c, c.x, c.wt, c.b, yd);
    snprintf(what, sizeof what, "convT %dx%d k%d s%d p%d d%d g%d op%d: forward", h, w, k, s, p, d, g, op);
    double mx = 0;
    for (size_t i = 0; i < ny; i++) mx = fmax(mx, fabs(yd[i]));
    for (size_t i = 0; i < ny; i++)
        if (fabs(y[i] - yd[i]) > 1e-5 * mx) fail_msg("%s: [%zu] %g vs %g", what, i, (double)y[i], yd[i]);
    double *gref = t_dalloc(nx + nw + cout);
    t_fd_grad(gref, ad, nx + nw + cout, 1e-3, L_of, &c);
    memcpy(dd, d0, (nx + nw + cout) * sizeof *dd);
    cnnrt_conv_transpose2d_backward(dd, 1, dd + nx, dd + nx + nw, dy, all, all + nx, scr, tmp, n, &geo);
    t_sub(dd, d0, nx + nw + cout);
    snprintf(what, sizeof what, "convT %dx%d k%d s%d p%d d%d g%d op%d: dx, dw, db vs FD", h, w, k, s, p, d, g, op);
    t_check_rel(what, dd, gref, nx + nw + cout, 1e-5);
    free(all); free(y); free(dy); free(d0); free(dd); free(tmp); free(ad); free(yd); free(c.r); free(gref); free(scr);
}

static void test_convt(void **st)
{
    (void)st;
    check(2, 3, 4, 4, 4, 3, 2, 1, 1, 1, 1, 800);    /* stride 2, output_padding 1 */
    check(2, 4, 6, 5, 3, 3, 1, 1, 2, 2, 0, 801);    /* dilation 2, groups 2, odd input */
    check(1, 3, 5, 3, 4, 1, 1, 0, 1, 1, 0, 802);    /* 1×1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_convt) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
