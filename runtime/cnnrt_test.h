/*
 * cnnrt_test.h — helpers shared by the runtime's cmocka tests
 * (tests/runtime/test_rt_*.c).  Not part of the library's API and not
 * compiled into libcnnrt: every function here is static.  Include after
 * <cmocka.h>.
 *
 * Conventions:
 *   - random data comes from cnnrt_rng with a fixed seed per test, drawn
 *     uniformly from [lo, hi) with |value| ≥ 0.05 (never zeros);
 *   - gradients are compared as the relative error of the norm,
 *     ‖g − ref‖ / ‖ref‖; on failure the first element whose difference
 *     exceeds tol·‖ref‖/√count, both values and the max difference are
 *     printed, then the test fails;
 *   - on success nothing is printed unless CNNRT_TEST_VERBOSE is set in the
 *     environment, which prints every measured error (for the report).
 */
#ifndef CNNRT_TEST_H
#define CNNRT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrt.h"

static inline void t_fill(float *a, size_t n, cnnrt_rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v;
        do
            v = lo + (hi - lo) * cnnrt_rng_uniform(r);
        while (fabsf(v) < 0.05f);
        a[i] = v;
    }
}

static inline void t_to_double(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
}

static inline float *t_falloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static inline double *t_dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

static inline int t_verbose(void)
{
    const char *v = getenv("CNNRT_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Relative error of the norm between got (float) and ref (double).
 * Fails the test when it exceeds tol. */
static inline double t_check_rel(const char *what, const float *got, const double *ref,
                          size_t n, double tol)
{
    double num = 0, den = 0, maxd = 0;
    size_t maxi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
        if (fabs(d) > maxd) {
            maxd = fabs(d);
            maxi = i;
        }
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    if (t_verbose())
        fprintf(stderr, "  %-44s rel err %.3g  (max abs diff %.3g, n=%zu)\n",
                what, err, maxd, n);
    if (!(err <= tol)) {
        double thr = tol * sqrt(den / (double)(n ? n : 1));
        size_t first = maxi;
        for (size_t i = 0; i < n; i++)
            if (fabs((double)got[i] - ref[i]) > thr || isnan(got[i])) {
                first = i;
                break;
            }
        print_error("%s: rel err %.6g > tol %.3g; first mismatch at [%zu]: got %.9g, "
                    "ref %.9g; max abs diff %.6g at [%zu]\n",
                    what, err, tol, first, (double)got[first], ref[first], maxd, maxi);
        fail();
    }
    return err;
}

static inline double t_check_relf(const char *what, const float *got, const float *ref,
                           size_t n, double tol)
{
    double *d = t_dalloc(n);
    t_to_double(d, ref, n);
    double e = t_check_rel(what, got, d, n, tol);
    free(d);
    return e;
}

/* Max relative error elementwise, |got − ref| / max(|ref|, floor). */
static inline double t_check_maxrel(const char *what, const float *got, const double *ref,
                             size_t n, double floor_, double tol)
{
    double worst = 0, maxd = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        double r = d / fmax(fabs(ref[i]), floor_);
        if (d > maxd)
            maxd = d;
        if (r > worst || isnan(got[i])) {
            worst = isnan(got[i]) ? INFINITY : r;
            wi = i;
        }
    }
    if (t_verbose())
        fprintf(stderr, "  %-44s max rel err %.3g  (max abs diff %.3g, n=%zu)\n",
                what, worst, maxd, n);
    if (!(worst <= tol)) {
        size_t first = wi;
        for (size_t i = 0; i < n; i++)
            if (!(fabs((double)got[i] - ref[i]) / fmax(fabs(ref[i]), floor_) <= tol)) {
                first = i;
                break;
            }
        print_error("%s: max rel err %.6g > tol %.3g; first mismatch at [%zu]: got %.9g, "
                    "ref %.9g; max abs diff %.6g\n",
                    what, worst, tol, first, (double)got[first], ref[first], maxd);
        fail();
    }
    return worst;
}

/* Values that may be NaN or infinite, against a reference (PyTorch's, as
 * float32): NaN exactly where ref is NaN, +Inf and −Inf likewise, and the
 * finite values within tol·max|ref| over the finite ref (tol 0: the same
 * bits, so a zero's sign counts).  Fails with the first mismatching index
 * and both values; returns the number of non-finite refs (a test can check
 * it has some). */
/* x uniform in [-range, range) with about one value in twelve each NaN,
 * +Inf, -Inf, -0.0 and +0.0; dy in [-1, 1) with one value in ten NaN
 * (the activation tests' special values). */
static inline void t_special_fill(float *x, float *dy, size_t cnt, float range, cnnrt_rng *rng)
{
    t_fill(x, cnt, rng, -range, range);
    t_fill(dy, cnt, rng, -1, 1);
    for (size_t i = 0; i < cnt; i++) {
        const uint32_t r = cnnrt_rng_u32(rng) % 12;
        x[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? -0.0f : r == 4 ? 0.0f : x[i];
        if (cnnrt_rng_u32(rng) % 10 == 0)
            dy[i] = NAN;
    }
}

static inline size_t t_check_ieee(const char *what, const float *got, const float *ref, size_t n, double tol)
{
    double scale = 0, maxd = 0;
    size_t special = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs((double)ref[i]) > scale)
            scale = fabs((double)ref[i]);
    for (size_t i = 0; i < n; i++) {
        const float g = got[i], r = ref[i];
        int ok;
        special += !isfinite(r);
        if (isnan(r) || isnan(g))
            ok = isnan(r) && isnan(g);
        else if (isinf(r) || isinf(g) || tol == 0)
            ok = memcmp(&g, &r, sizeof g) == 0;
        else {
            const double d = fabs((double)g - r);
            ok = d <= tol * scale;
            if (d > maxd)
                maxd = d;
        }
        if (!ok) {
            print_error("%s: first mismatch at [%zu]: got %.9g, ref %.9g (NaN/Inf must match exactly; "
                        "finite values within %.3g of max |ref| %.6g)\n", what, i, (double)g, (double)r, tol, scale);
            fail();
        }
    }
    if (t_verbose())
        fprintf(stderr, "  %-44s %zu NaN/Inf match, finite max abs diff %.3g (n=%zu)\n", what, special, maxd, n);
    return special;
}

/* Central finite differences of a double objective L(ctx) with respect to
 * every element of a (which L reads): g[j] = (L(a+h e_j) − L(a−h e_j)) / 2h. */
typedef double (*t_objective)(void *ctx);

static inline void t_fd_grad(double *g, double *a, size_t n, double h,
                      t_objective L, void *ctx)
{
    for (size_t j = 0; j < n; j++) {
        double a0 = a[j];
        a[j] = a0 + h;
        double lp = L(ctx);
        a[j] = a0 - h;
        double lm = L(ctx);
        a[j] = a0;
        g[j] = (lp - lm) / (2 * h);
    }
}

/* got − base, in place into got (undo the random pre-fill that checks +=). */
static inline void t_sub(float *got, const float *base, size_t n)
{
    for (size_t i = 0; i < n; i++)
        got[i] -= base[i];
}

static inline double t_dot(const double *r, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i] * y[i];
    return s;
}

/* ---- PyTorch references ----------------------------------------------------
 * t_torch runs `/usr/bin/python3 tests/ref/SCRIPT ARGS IN OUT`: IN holds the
 * nin floats of `in` (raw little-endian float32), the script writes exactly
 * nout floats to OUT.  A missing interpreter, a missing torch, a script error
 * or a wrong output size FAILS the test (never skips).  Run the tests from
 * the repository root, or set CNNRT_REF_DIR to the folder of the scripts. */
#ifndef CNNRT_PYTHON
#define CNNRT_PYTHON "/usr/bin/python3"
#endif

static inline void t_torch(const char *script, const char *args,
                           const float *in, size_t nin, float *out, size_t nout)
{
    const char *dir = getenv("CNNRT_REF_DIR");
    if (!dir || !*dir)
        dir = "tests/ref";
    char path[512], inp[64], outp[64];
    snprintf(path, sizeof path, "%s/%s", dir, script);
    FILE *f = fopen(path, "r");
    if (!f) {
        print_error("reference script %s not found (run from the repository root "
                    "or set CNNRT_REF_DIR)\n", path);
        fail();
    }
    fclose(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(inp, sizeof inp, "%s/cnnrt_in_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    snprintf(outp, sizeof outp, "%s/cnnrt_out_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fi = mkstemp(inp), fo = mkstemp(outp);
    assert_true(fi >= 0 && fo >= 0);
    close(fo);
    f = fdopen(fi, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(in, sizeof(float), nin, f), nin);
    assert_int_equal(fclose(f), 0);
    size_t cmdlen = strlen(CNNRT_PYTHON) + strlen(path) + strlen(args) + 2 * sizeof inp + 8;
    char *cmd = malloc(cmdlen);
    assert_non_null(cmd);
    snprintf(cmd, cmdlen, "%s %s %s %s %s", CNNRT_PYTHON, path, args, inp, outp);
    int rc = system(cmd);
    size_t got = 0;
    if (rc == 0) {
        f = fopen(outp, "rb");
        if (f) {
            got = fread(out, sizeof(float), nout, f);
            if (fgetc(f) != EOF)
                got = nout + 1;         /* too long */
            fclose(f);
        }
    }
    remove(inp);
    remove(outp);
    if (rc != 0)
        print_error("PyTorch reference failed (exit status %d): %s\n"
                    "  (is python3-torch installed for " CNNRT_PYTHON "?)\n", rc, cmd);
    free(cmd);
    if (rc != 0)
        fail();
    if (got != nout) {
        print_error("PyTorch reference %s wrote %zu floats, expected %zu\n", script, got, nout);
        fail();
    }
}

/* A fresh temporary folder, $TMPDIR/<tag>_XXXXXX, for a test group's
 * files (cmocka group setup); 0 on success. */
static inline int t_tmpdir_make(char *dir, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/%s_XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Remove it and everything in it (group teardown); 0 on success. */
static inline int t_tmpdir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif /* CNNRT_TEST_H */
