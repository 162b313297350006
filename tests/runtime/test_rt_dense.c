/*
 * test_rt_dense.c — dense: fast (sgemm) vs naive reference vs float64, and
 * gradients vs float64 central finite differences of L = Σ r·y.
 *
 * Tolerances: the float64 objective is linear in x, W, b, so FD with
 * h = 1e-3 is exact to ≈1e-13; the error measured is the float32 kernel's,
 * ≲ √in·6e-8 typically (in ≤ 33 → ≈4e-7), hence 1e-5 (rel. norm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"

typedef struct {
    int n, in, out, has_bias;
    double *x, *w, *b, *r, *y;
} dense_ctx;

static void dense_fwd_d(dense_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        for (int o = 0; o < c->out; o++) {
            double s = c->has_bias ? c->b[o] : 0.0;
            for (int k = 0; k < c->in; k++)
                s += c->x[i * c->in + k] * c->w[o * c->in + k];
            c->y[i * c->out + o] = s;
        }
}

static double dense_L(void *ctx)
{
    dense_ctx *c = ctx;
    dense_fwd_d(c);
    return t_dot(c->r, c->y, (size_t)c->n * c->out);
}

static void check_dense(int n, int in, int out, int has_bias, uint64_t seed)
{
    char what[128];
    const size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nx), *w = t_falloc(nw), *b = t_falloc(out), *dy = t_falloc(ny);
    float *y = t_falloc(ny), *yref = t_falloc(ny);
    t_fill(x, nx, &rng, -1, 1);
    t_fill(w, nw, &rng, -1, 1);
    t_fill(b, out, &rng, -1, 1);
    t_fill(dy, ny, &rng, -1, 1);
    dense_ctx c = {n, in, out, has_bias, t_dalloc(nx), t_dalloc(nw), t_dalloc(out),
                   t_dalloc(ny), t_dalloc(ny)};
    t_to_double(c.x, x, nx);
    t_to_double(c.w, w, nw);
    t_to_double(c.b, b, out);
    t_to_double(c.r, dy, ny);

    const float *bp = has_bias ? b : NULL;
    cnnrt_dense_forward(y, x, w, bp, n, in, out);
    cnnrt_dense_forward_ref(yref, x, w, bp, n, in, out);
    dense_fwd_d(&c);
    snprintf(what, sizeof what, "dense %dx%d->%d: forward fast vs f64", n, in, out);
    t_check_rel(what, y, c.y, ny, 1e-6);
    snprintf(what, sizeof what, "dense %dx%d->%d: forward fast vs ref", n, in, out);
    t_check_relf(what, y, yref, ny, 1e-6);

    double *gx = t_dalloc(nx), *gw = t_dalloc(nw), *gb = t_dalloc(out);
    t_fd_grad(gx, c.x, nx, 1e-3, dense_L, &c);
    t_fd_grad(gw, c.w, nw, 1e-3, dense_L, &c);
    t_fd_grad(gb, c.b, out, 1e-3, dense_L, &c);

    float *dx0 = t_falloc(nx), *dw0 = t_falloc(nw), *db0 = t_falloc(out);
    float *dx = t_falloc(nx), *dw = t_falloc(nw), *db = t_falloc(out);
    t_fill(dx0, nx, &rng, -0.5f, 0.5f);
    t_fill(dw0, nw, &rng, -0.5f, 0.5f);
    t_fill(db0, out, &rng, -0.5f, 0.5f);
    for (int impl = 0; impl < 2; impl++) {
        const char *iname = impl ? "ref" : "fast";
        memcpy(dx, dx0, nx * sizeof *dx);
        memcpy(dw, dw0, nw * sizeof *dw);
        memcpy(db, db0, out * sizeof *db);
        if (impl)
            cnnrt_dense_backward_ref(dx, dw, has_bias ? db : NULL, dy, x, w, n, in, out);
        else
            cnnrt_dense_backward(dx, dw, has_bias ? db : NULL, dy, x, w, n, in, out);
        t_sub(dx, dx0, nx);
        t_sub(dw, dw0, nw);
        snprintf(what, sizeof what, "dense %dx%d->%d: dx %s vs FD", n, in, out, iname);
        t_check_rel(what, dx, gx, nx, 1e-5);
        snprintf(what, sizeof what, "dense %dx%d->%d: dw %s vs FD", n, in, out, iname);
        t_check_rel(what, dw, gw, nw, 1e-5);
        if (has_bias) {
            t_sub(db, db0, out);
            snprintf(what, sizeof what, "dense %dx%d->%d: db %s vs FD", n, in, out, iname);
            t_check_rel(what, db, gb, out, 1e-5);
        }
    }
    /* dx alone (x may be NULL when dw is not wanted) */
    memset(dx, 0, nx * sizeof *dx);
    cnnrt_dense_backward(dx, NULL, NULL, dy, NULL, w, n, in, out);
    snprintf(what, sizeof what, "dense %dx%d->%d: dx alone vs FD", n, in, out);
    t_check_rel(what, dx, gx, nx, 1e-5);

    free(x); free(w); free(b); free(dy); free(y); free(yref);
    free(c.x); free(c.w); free(c.b); free(c.r); free(c.y);
    free(gx); free(gw); free(gb); free(dx0); free(dw0); free(db0);
    free(dx); free(dw); free(db);
}

static void test_dense_small(void **s)  { (void)s; check_dense(3, 7, 5, 1, 31); }
static void test_dense_wide(void **s)   { (void)s; check_dense(2, 33, 11, 1, 32); }
static void test_dense_nobias(void **s) { (void)s; check_dense(3, 9, 4, 0, 33); }
static void test_dense_1(void **s)      { (void)s; check_dense(1, 1, 3, 1, 34); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_small),
        cmocka_unit_test(test_dense_wide),
        cmocka_unit_test(test_dense_nobias),
        cmocka_unit_test(test_dense_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
