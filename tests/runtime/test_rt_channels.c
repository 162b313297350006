/*
 * test_rt_channels.c — channel shuffle and channel slice (channels.c), and
 * the product of a tensor with a per-channel gate or a tensor of its shape
 * (cnnrt_mul_*, act.c: squeeze-and-excitation), and upsampling
 * (upsample.c).
 *
 * Forward against the index formula written here (torchvision's
 * channel_shuffle: [n][g][C/g][HW] transposed to [n][C/g][g][HW]; a slice
 * [first, first + len)), bit for bit: they only move values.  Backward
 * against float64 central finite differences of L = Σ r·f(x), accumulated
 * onto a random dx (relative norm ≤ 1e-5; f is linear, so the difference
 * quotient is exact up to rounding).  Odd shapes: C = 12 in 3 and 4 groups,
 * HW = 5, a slice in the middle.  The product: forward against float64,
 * both inputs' gradients against finite differences (b broadcast over HW
 * and not).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnrt_test.h"

enum { N = 2, C = 12, HW = 5 };

typedef struct {
    int shuffle, g, first, len;
    double *x, *r;
} ctx;

static double f_at(const ctx *c, const double *x, int s, int o, int p)
{
    if (c->shuffle) {
        const int cg = C / c->g, i = o % c->g, j = o / c->g;      /* o = j·g + i */
        return x[((size_t)s * C + (size_t)(i * cg + j)) * HW + p];
    }
    return x[((size_t)s * C + (size_t)(c->first + o)) * HW + p];
}

static double L_of(void *v)
{
    const ctx *c = v;
    const int co = c->shuffle ? C : c->len;
    double sum = 0;
    for (int s = 0; s < N; s++)
        for (int o = 0; o < co; o++)
            for (int p = 0; p < HW; p++) sum += c->r[((size_t)s * co + o) * HW + p] * f_at(c, c->x, s, o, p);
    return sum;
}

static void check(int shuffle, int g, int first, int len, uint64_t seed)
{
    const int co = shuffle ? C : len;
    const size_t nin = (size_t)N * C * HW, nout = (size_t)N * co * HW;
    char what[96];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nin), *y = t_falloc(nout), *dy = t_falloc(nout), *dx0 = t_falloc(nin), *dx = t_falloc(nin);
    t_fill(x, nin, &rng, -1, 1);
    t_fill(dy, nout, &rng, -1, 1);
    t_fill(dx0, nin, &rng, -0.5f, 0.5f);
    ctx c = { shuffle, g, first, len, t_dalloc(nin), t_dalloc(nout) };
    t_to_double(c.x, x, nin);
    t_to_double(c.r, dy, nout);
    if (shuffle) cnnrt_channel_shuffle_forward(y, x, N, C, HW, g);
    else cnnrt_channel_slice_forward(y, x, N, C, HW, first, len);
    for (int s = 0; s < N; s++)
        for (int o = 0; o < co; o++)
            for (int p = 0; p < HW; p++)
                if (y[((size_t)s * co + o) * HW + p] != (float)f_at(&c, c.x, s, o, p))
                    fail_msg("%s: forward differs at image %d, channel %d, position %d", shuffle ? "shuffle" : "slice",
                             s, o, p);
    double *gx = t_dalloc(nin);
    t_fd_grad(gx, c.x, nin, 1e-5, L_of, &c);
    memcpy(dx, dx0, nin * sizeof *dx);
    if (shuffle) cnnrt_channel_shuffle_backward(dx, dy, N, C, HW, g);
    else cnnrt_channel_slice_backward(dx, dy, N, C, HW, first, len);
    t_sub(dx, dx0, nin);
    snprintf(what, sizeof what, "%s (g %d, first %d, len %d): dx vs FD", shuffle ? "shuffle" : "slice", g, first,
             len);
    t_check_rel(what, dx, gx, nin, 1e-5);
    free(x); free(y); free(dy); free(dx0); free(dx); free(gx); free(c.x); free(c.r);
}

static void test_shuffle(void **s)
{
    (void)s;
    check(1, 3, 0, 0, 700);
    check(1, 4, 0, 0, 701);
    check(1, 12, 0, 0, 702);
}

static void test_slice(void **s)
{
    (void)s;
    check(0, 0, 0, 6, 710);     /* the first half */
    check(0, 0, 6, 6, 711);     /* the second */
    check(0, 0, 4, 4, 712);     /* a middle third */
}

/* L = Σ r · (a · b), over the inputs a [N][C][HW] and b [N][C][HWb] in one vector */
typedef struct { int hwb; double *ab, *r; } mctx;

static double mul_L(void *v)
{
    const mctx *c = v;
    const double *a = c->ab, *b = c->ab + (size_t)N * C * HW;
    double s = 0;
    for (size_t q = 0; q < (size_t)N * C; q++)
        for (int p = 0; p < HW; p++)
            s += c->r[q * HW + p] * a[q * HW + p] * b[q * c->hwb + (c->hwb == 1 ? 0 : p)];
    return s;
}

static void check_mul(int hwb, uint64_t seed)
{
    const size_t na = (size_t)N * C * HW, nb = (size_t)N * C * hwb;
    char what[64];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *ab = t_falloc(na + nb), *y = t_falloc(na), *dy = t_falloc(na), *d0 = t_falloc(na + nb),
          *d = t_falloc(na + nb);
    t_fill(ab, na + nb, &rng, -1, 1);
    t_fill(dy, na, &rng, -1, 1);
    t_fill(d0, na + nb, &rng, -0.5f, 0.5f);
    mctx c = { hwb, t_dalloc(na + nb), t_dalloc(na) };
    t_to_double(c.ab, ab, na + nb);
    t_to_double(c.r, dy, na);
    cnnrt_mul_forward(y, ab, ab + na, N, C, HW, hwb);
    double *yd = t_dalloc(na);
    for (size_t q = 0; q < (size_t)N * C; q++)
        for (int p = 0; p < HW; p++) yd[q * HW + p] = c.ab[q * HW + p] * c.ab[na + q * hwb + (hwb == 1 ? 0 : p)];
    snprintf(what, sizeof what, "mul (b of %d per channel): forward", hwb);
    t_check_maxrel(what, y, yd, na, 1e-6, 1e-6);
    double *g = t_dalloc(na + nb);
    t_fd_grad(g, c.ab, na + nb, 1e-5, mul_L, &c);
    memcpy(d, d0, (na + nb) * sizeof *d);
    cnnrt_mul_backward(d, d + na, dy, ab, ab + na, N, C, HW, hwb);
    t_sub(d, d0, na + nb);
    snprintf(what, sizeof what, "mul (b of %d per channel): da, db vs FD", hwb);
    t_check_rel(what, d, g, na + nb, 1e-5);
    free(ab); free(y); free(dy); free(d0); free(d); free(c.ab); free(c.r); free(yd); free(g);
}

static void test_mul(void **s)
{
    (void)s;
    check_mul(1, 720);      /* a gate per channel, broadcast over HW */
    check_mul(HW, 721);     /* of a's shape */
}

/* Upsampling: backward against finite differences of L = Σ r·f(x) (f is
 * linear in x), nearest and bilinear, align_corners both ways, by a
 * factor and to a size that is not one (forward against PyTorch: the unet
 * network of tests/e2e/suite_handnets.sh). */
typedef struct { int oh, ow, bil, align; double *x, *r; float *xf, *yf; } uctx;

static double up_L(void *v)
{
    uctx *c = v;
    const size_t nin = (size_t)N * C * 3 * 4, nout = (size_t)N * C * c->oh * c->ow;
    double s = 0;
    /* f in float64 through the float kernel's weights: f is linear, so
     * f(x) = Σ_j x_j f(e_j); rebuilt from unit vectors once per call */
    for (size_t j = 0; j < nin; j++) {
        if (c->x[j] == 0) continue;
        memset(c->xf, 0, nin * sizeof(float));
        c->xf[j] = 1.0f;
        cnnrt_upsample_forward(c->yf, c->xf, N, C, 3, 4, c->oh, c->ow, c->bil, c->align);
        for (size_t i = 0; i < nout; i++) s += c->r[i] * c->x[j] * c->yf[i];
    }
    return s;
}

static void check_up(int oh, int ow, int bil, int align, uint64_t seed)
{
    const size_t nin = (size_t)N * C * 3 * 4, nout = (size_t)N * C * oh * ow;
    char what[96];
    cnnrt_rng rng;
    cnnrt_rng_seed(&rng, seed);
    float *x = t_falloc(nin), *dy = t_falloc(nout), *d0 = t_falloc(nin), *d = t_falloc(nin);
    t_fill(x, nin, &rng, -1, 1);
    t_fill(dy, nout, &rng, -1, 1);
    t_fill(d0, nin, &rng, -0.5f, 0.5f);
    uctx c = { oh, ow, bil, align, t_dalloc(nin), t_dalloc(nout), t_falloc(nin), t_falloc(nout) };
    t_to_double(c.x, x, nin);
    t_to_double(c.r, dy, nout);
    double *g = t_dalloc(nin);
    t_fd_grad(g, c.x, nin, 1e-3, up_L, &c);
    memcpy(d, d0, nin * sizeof *d);
    cnnrt_upsample_backward(d, dy, N, C, 3, 4, oh, ow, bil, align);
    t_sub(d, d0, nin);
    snprintf(what, sizeof what, "upsample 3x4 -> %dx%d (%s%s): dx vs FD", oh, ow, bil ? "bilinear" : "nearest",
             align ? ", align_corners" : "");
    t_check_rel(what, d, g, nin, 1e-5);
    free(x); free(dy); free(d0); free(d); free(c.x); free(c.r); free(c.xf); free(c.yf); free(g);
}

static void test_upsample(void **s)
{
    (void)s;
    check_up(6, 8, 0, 0, 730);      /* nearest, ×2 */
    check_up(7, 9, 0, 0, 731);      /* nearest to a size that is not a multiple */
    check_up(6, 8, 1, 0, 732);      /* bilinear ×2 */
    check_up(7, 9, 1, 0, 733);
    check_up(7, 9, 1, 1, 734);      /* align_corners */
    check_up(1, 9, 1, 1, 735);      /* one output row: ratio 0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_upsample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
