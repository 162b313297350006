/*
 * test_rt_idx.c — IDX dataset loading (runtime/idx.c).
 *
 * Small IDX files are written into a fresh temporary directory, plain and
 * gzipped (zlib), with pixel values from a fixed-seed RNG, and read back
 * value by value.  Every malformed file — wrong magic, truncated header,
 * truncated data (plain and in the gzip stream), trailing bytes, absurd
 * dimensions, a directory, an empty file, a corrupt gzip stream — must fail
 * with a message that names the file and the problem; dataset-level checks
 * (missing file, count mismatch, image size mismatch, labels out of range)
 * likewise.  Then the real Fashion-MNIST under
 * /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist; the
 * test FAILS when it is missing, `make deps` installs it): 60000 + 10000
 * images of 28×28, labels 0..9 with 6000 / 1000 of each class, and the
 * training set's pixel mean / std 0.2860 / 0.3530.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <zlib.h>

#include "cnnrt_test.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char tmpdir[256];
static char err[1024];

static const char *tpath(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *name, const void *b, size_t n, int gz)
{
    const char *p = tpath(name);
    if (gz) {
        gzFile g = gzopen(p, "wb");
        assert_non_null(g);
        if (n)
            assert_int_equal(gzwrite(g, b, (unsigned)n), (int)n);
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An idx3 file of n images h×w (header + pixels) into a fresh buffer. */
static uint8_t *make_images(uint32_t n, uint32_t h, uint32_t w, size_t *len, uint8_t *pixels)
{
    size_t body = (size_t)n * h * w;
    uint8_t *b = malloc(16 + body + 1);
    assert_non_null(b);
    b[0] = 0; b[1] = 0; b[2] = 8; b[3] = 3;
    be32(b + 4, n);
    be32(b + 8, h);
    be32(b + 12, w);
    memcpy(b + 16, pixels, body);
    *len = 16 + body;
    return b;
}

static uint8_t *make_labels(uint32_t n, size_t *len, const uint8_t *labels)
{
    uint8_t *b = malloc(8 + n + 1);
    assert_non_null(b);
    b[0] = 0; b[1] = 0; b[2] = 8; b[3] = 1;
    be32(b + 4, n);
    memcpy(b + 8, labels, n);
    *len = 8 + n;
    return b;
}

static void random_bytes(uint8_t *p, size_t n, uint64_t seed, int mod)
{
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(cnnrt_rng_u32(&r) % (uint32_t)mod);
}

/* The load fails and err mentions every one of the given strings. */
#define expect_err(rc, ...) expect_err_(__FILE__, __LINE__, rc, __VA_ARGS__, (const char *)NULL)
static void expect_err_(const char *file, int line, int rc, ...)
{
    if (rc == CNNRT_OK)
        fail_msg("%s:%d: expected an error, got CNNRT_OK", file, line);
    va_list ap;
    va_start(ap, rc);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err, s))
            fail_msg("%s:%d: error message lacks \"%s\":\n  %s", file, line, s, err);
    va_end(ap);
    if (t_verbose())
        printf("  ok: %s\n", err);
}

static int setup(void **s)
{
    (void)s;
    return t_tmpdir_make(tmpdir, sizeof tmpdir, "cnnrt_idx");
}

static int teardown(void **s)
{
    (void)s;
    return t_tmpdir_remove(tmpdir);
}

/* ---- good files ------------------------------------------------------------ */

static void roundtrip(int gz)
{
    enum { N = 7, H = 5, W = 3 };
    uint8_t px[N * H * W], lb[N];
    random_bytes(px, sizeof px, 11 + (uint64_t)gz, 256);
    random_bytes(lb, sizeof lb, 12 + (uint64_t)gz, 10);
    size_t li, ll;
    uint8_t *fi = make_images(N, H, W, &li, px), *fl = make_labels(N, &ll, lb);
    write_bytes(gz ? "rt-img.gz" : "rt-img", fi, li, gz);
    write_bytes(gz ? "rt-lab.gz" : "rt-lab", fl, ll, gz);
    free(fi);
    free(fl);

    cnnrt_idx_images im;
    cnnrt_idx_labels la;
    int rc = cnnrt_idx_load_images(tpath(gz ? "rt-img.gz" : "rt-img"), &im, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(im.n, N);
    assert_int_equal(im.h, H);
    assert_int_equal(im.w, W);
    for (int i = 0; i < N * H * W; i++)
        if (im.data[i] != px[i])
            fail_msg("pixel %d: expected %d, found %d", i, px[i], im.data[i]);
    rc = cnnrt_idx_load_labels(tpath(gz ? "rt-lab.gz" : "rt-lab"), &la, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(la.n, N);
    assert_memory_equal(la.data, lb, N);
    assert_string_equal(la.path, tpath(gz ? "rt-lab.gz" : "rt-lab"));
    cnnrt_idx_images_free(&im);
    cnnrt_idx_labels_free(&la);
    assert_null(im.data);
    cnnrt_idx_images_free(&im);     /* twice: a no-op */
}

static void test_plain(void **s) { (void)s; roundtrip(0); }
static void test_gzip(void **s) { (void)s; roundtrip(1); }

/* A gzipped file named without .gz and a plain one named .gz: detected by
 * content, not by name. */
static void test_detect_by_content(void **s)
{
    (void)s;
    uint8_t lb[4] = { 1, 2, 3, 4 };
    size_t ll;
    uint8_t *fl = make_labels(4, &ll, lb);
    write_bytes("gz-no-suffix", fl, ll, 1);
    write_bytes("plain.gz", fl, ll, 0);
    free(fl);
    cnnrt_idx_labels la;
    assert_int_equal(cnnrt_idx_load_labels(tpath("gz-no-suffix"), &la, err, sizeof err), CNNRT_OK);
    assert_memory_equal(la.data, lb, 4);
    cnnrt_idx_labels_free(&la);
    assert_int_equal(cnnrt_idx_load_labels(tpath("plain.gz"), &la, err, sizeof err), CNNRT_OK);
    assert_memory_equal(la.data, lb, 4);
    cnnrt_idx_labels_free(&la);
}

/* ---- bad files: each error names the file and the problem ----------------- */

static void test_bad_magic(void **s)
{
    (void)s;
    uint8_t lb[3] = { 0, 1, 2 };
    size_t ll;
    uint8_t *fl = make_labels(3, &ll, lb);
    write_bytes("labels-as-images", fl, ll, 0);
    free(fl);
    cnnrt_idx_images im;
    int rc = cnnrt_idx_load_images(tpath("labels-as-images"), &im, err, sizeof err);
    expect_err(rc, tpath("labels-as-images"), "wrong magic", "expected 00 00 08 03", "found 00 00 08 01",
               "label file");
    assert_null(im.data);

    uint8_t zip[20] = { 0x50, 0x4b, 0x03, 0x04 };
    write_bytes("zip", zip, sizeof zip, 0);
    cnnrt_idx_labels la;
    rc = cnnrt_idx_load_labels(tpath("zip"), &la, err, sizeof err);
    expect_err(rc, tpath("zip"), "wrong magic", "expected 00 00 08 01", "found 50 4b 03 04", "not an IDX file");
    assert_null(la.data);

    /* float IDX (type 0x0d) */
    uint8_t fl32[8] = { 0, 0, 0x0d, 1, 0, 0, 0, 0 };
    write_bytes("float-idx.gz", fl32, sizeof fl32, 1);
    rc = cnnrt_idx_load_labels(tpath("float-idx.gz"), &la, err, sizeof err);
    expect_err(rc, "float-idx.gz (gzipped): wrong magic", "found 00 00 0d 01", "not unsigned bytes");
}

static void test_truncated(void **s)
{
    (void)s;
    enum { N = 4, H = 3, W = 5 };
    uint8_t px[N * H * W];
    random_bytes(px, sizeof px, 3, 256);
    size_t li;
    uint8_t *fi = make_images(N, H, W, &li, px);
    cnnrt_idx_images im;
    /* every cut of the file, plain and gzipped */
    for (int gz = 0; gz < 2; gz++)
        for (size_t cut = 0; cut < li; cut++) {
            write_bytes("cut", fi, cut, gz);
            int rc = cnnrt_idx_load_images(tpath("cut"), &im, err, sizeof err);
            if (cut == 0)
                expect_err(rc, tpath("cut"), "empty file");
            else if (cut < 16)
                expect_err(rc, tpath("cut"), "truncated", cut < 4 ? "4-byte IDX magic" : "16 bytes of IDX header");
            else {
                char want[96];
                snprintf(want, sizeof want, "expected 60 bytes of data (4 images of 3×5), found %zu", cut - 16);
                expect_err(rc, tpath("cut"), "truncated", want);
            }
            assert_null(im.data);
        }
    /* a gzip stream cut short (the compressed bytes, not the content) */
    write_bytes("whole.gz", fi, li, 1);
    FILE *f = fopen(tpath("whole.gz"), "rb");
    assert_non_null(f);
    uint8_t gzb[4096];
    size_t gl = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    write_bytes("cutgz.gz", gzb, gl - 12, 0);
    int rc = cnnrt_idx_load_images(tpath("cutgz.gz"), &im, err, sizeof err);
    expect_err(rc, "cutgz.gz (gzipped)", "truncated");
    /* corrupt deflate data: flip bytes in the middle of the stream */
    for (size_t i = 12; i < gl - 8; i++)
        gzb[i] ^= 0x5a;
    write_bytes("corrupt.gz", gzb, gl, 0);
    rc = cnnrt_idx_load_images(tpath("corrupt.gz"), &im, err, sizeof err);
    expect_err(rc, "corrupt.gz (gzipped): corrupt gzip data");
    assert_null(im.data);
    free(fi);
}

static void test_trailing(void **s)
{
    (void)s;
    uint8_t lb[5] = { 1, 2, 3, 4, 5 };
    size_t ll;
    uint8_t *fl = make_labels(5, &ll, lb);
    fl[ll] = 9;                                 /* one extra byte */
    for (int gz = 0; gz < 2; gz++) {
        write_bytes("trail", fl, ll + 1, gz);
        cnnrt_idx_labels la;
        int rc = cnnrt_idx_load_labels(tpath("trail"), &la, err, sizeof err);
        expect_err(rc, tpath("trail"), "trailing garbage", "expected 5 bytes of data, found 1 more");
        assert_null(la.data);
    }
    free(fl);
}

static void test_absurd_dims(void **s)
{
    (void)s;
    cnnrt_idx_images im;
    uint8_t h[16] = { 0, 0, 8, 3 };
    /* 100000 images of 200×300: 6 GB > 4 GiB, in a 16-byte file */
    be32(h + 4, 100000);
    be32(h + 8, 200);
    be32(h + 12, 300);
    write_bytes("huge", h, 16, 0);
    int rc = cnnrt_idx_load_images(tpath("huge"), &im, err, sizeof err);
    expect_err(rc, tpath("huge"), "absurd dimensions", "100000 images of 200×300 = 6000000000 bytes", "4 GiB");
    /* 2^32−1 images */
    be32(h + 4, 0xffffffffu);
    be32(h + 8, 1);
    be32(h + 12, 1);
    write_bytes("many", h, 16, 0);
    rc = cnnrt_idx_load_images(tpath("many"), &im, err, sizeof err);
    expect_err(rc, "absurd dimensions", "4294967295 items");
    /* zero-pixel and over-wide images */
    be32(h + 4, 1);
    be32(h + 8, 0);
    be32(h + 12, 28);
    write_bytes("zero", h, 16, 1);
    rc = cnnrt_idx_load_images(tpath("zero"), &im, err, sizeof err);
    expect_err(rc, "absurd dimensions", "images of 0×28 pixels");
    be32(h + 8, 70000);
    write_bytes("wide", h, 16, 0);
    rc = cnnrt_idx_load_images(tpath("wide"), &im, err, sizeof err);
    expect_err(rc, "absurd dimensions", "70000×28");
    /* a claim of 3.9 GiB of labels in a short gzipped file: truncated, without allocating the claim */
    uint8_t l[8 + 10] = { 0, 0, 8, 1 };
    be32(l + 4, 4000000000u);
    cnnrt_idx_labels la;
    write_bytes("claim.gz", l, sizeof l, 1);
    rc = cnnrt_idx_load_labels(tpath("claim.gz"), &la, err, sizeof err);
    expect_err(rc, "absurd dimensions");           /* > INT_MAX items */
    be32(l + 4, 2000000000u);
    write_bytes("claim.gz", l, sizeof l, 1);
    rc = cnnrt_idx_load_labels(tpath("claim.gz"), &la, err, sizeof err);
    expect_err(rc, "truncated", "expected 2000000000 bytes of data (2000000000 labels), found 10");
}

static void test_not_a_file(void **s)
{
    (void)s;
    cnnrt_idx_images im;
    int rc = cnnrt_idx_load_images(tpath("does-not-exist"), &im, err, sizeof err);
    expect_err(rc, "does-not-exist", "cannot open", "No such file");
    assert_int_equal(rc, CNNRT_EIO);
    rc = cnnrt_idx_load_images(tmpdir, &im, err, sizeof err);
    expect_err(rc, tmpdir, "found a directory");
    /* err may be NULL with errlen 0 */
    rc = cnnrt_idx_load_images(tpath("does-not-exist"), &im, NULL, 0);
    assert_int_equal(rc, CNNRT_EIO);
    /* a short err buffer is truncated, not overrun */
    char small[8];
    memset(small, 'x', sizeof small);
    cnnrt_idx_load_images(tpath("does-not-exist"), &im, small, 6);
    assert_int_equal(small[5], 0);
    assert_int_equal(small[6], 'x');
}

/* ---- datasets ---------------------------------------------------------------- */

/* A dataset directory with ntr/nte images of h×w (test images h2×w2), and
 * ntl/nel labels; some files gzipped. */
static void make_dataset(const char *sub, uint32_t ntr, uint32_t ntl, uint32_t nte, uint32_t nel,
                         uint32_t h, uint32_t w, uint32_t h2, uint32_t w2, int maxlab)
{
    char d[300];
    snprintf(d, sizeof d, "%s/%s", tmpdir, sub);
    mkdir(d, 0755);
    size_t len;
    uint8_t *px = malloc((size_t)(ntr > nte ? ntr : nte) * h * w * 4 + 1), lab[256];
    assert_non_null(px);
    char name[400];
    random_bytes(px, (size_t)ntr * h * w, 5, 256);
    uint8_t *b = make_images(ntr, h, w, &len, px);
    snprintf(name, sizeof name, "%s/train-images-idx3-ubyte.gz", sub);
    write_bytes(name, b, len, 1);
    free(b);
    random_bytes(lab, ntl, 6, maxlab);
    b = make_labels(ntl, &len, lab);
    snprintf(name, sizeof name, "%s/train-labels-idx1-ubyte", sub);
    write_bytes(name, b, len, 0);
    free(b);
    random_bytes(px, (size_t)nte * h2 * w2, 7, 256);
    b = make_images(nte, h2, w2, &len, px);
    snprintf(name, sizeof name, "%s/t10k-images-idx3-ubyte", sub);
    write_bytes(name, b, len, 0);
    free(b);
    random_bytes(lab, nel, 8, maxlab);
    b = make_labels(nel, &len, lab);
    snprintf(name, sizeof name, "%s/t10k-labels-idx1-ubyte.gz", sub);
    write_bytes(name, b, len, 1);
    free(b);
    free(px);
}

static void test_dataset_small(void **s)
{
    (void)s;
    make_dataset("ds", 20, 20, 8, 8, 6, 4, 6, 4, 10);
    char d[300];
    snprintf(d, sizeof d, "%s/ds", tmpdir);
    cnnrt_dataset ds;
    int rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(ds.train_images.n, 20);
    assert_int_equal(ds.test_images.n, 8);
    assert_int_equal(ds.train_images.h, 6);
    assert_int_equal(ds.test_images.w, 4);
    assert_non_null(strstr(ds.train_images.path, "train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(ds.test_labels.path, "t10k-labels-idx1-ubyte.gz"));
    uint8_t px[20 * 6 * 4];
    random_bytes(px, sizeof px, 5, 256);
    assert_memory_equal(ds.train_images.data, px, sizeof px);
    /* the classes: the largest label of either split, plus one */
    uint8_t ltr[20], lte[8];
    random_bytes(ltr, sizeof ltr, 6, 10);
    random_bytes(lte, sizeof lte, 8, 10);
    int top = 0;
    for (int i = 0; i < 20; i++)
        top = ltr[i] > top ? ltr[i] : top;
    for (int i = 0; i < 8; i++)
        top = lte[i] > top ? lte[i] : top;
    assert_int_equal(cnnrt_dataset_classes(&ds), top + 1);
    assert_int_equal(cnnrt_dataset_check_classes(&ds, top + 1, err, sizeof err), CNNRT_OK);
    rc = cnnrt_dataset_check_classes(&ds, 3, err, sizeof err);
    expect_err(rc, "train-labels-idx1-ubyte: labels out of range for the network's output: label ",
               "the network has 3 outputs");
    /* more outputs than classes: as wrong as fewer */
    rc = cnnrt_dataset_check_classes(&ds, top + 2, err, sizeof err);
    char want[64];
    snprintf(want, sizeof want, "the network has %d outputs", top + 2);
    char have[64];
    snprintf(have, sizeof have, "have %d classes (0 to %d)", top + 1, top);
    expect_err(rc, want, have, "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz");
    rc = cnnrt_dataset_check_classes(&ds, 784, err, sizeof err);
    expect_err(rc, "the network has 784 outputs", have);
    cnnrt_dataset_free(&ds);
    assert_null(ds.train_images.data);
}

static void test_dataset_bad(void **s)
{
    (void)s;
    char d[300];
    cnnrt_dataset ds;
    make_dataset("count", 20, 19, 8, 8, 6, 4, 6, 4, 10);
    snprintf(d, sizeof d, "%s/count", tmpdir);
    int rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "train-labels-idx1-ubyte: count mismatch: 19 labels, but ", "train-images-idx3-ubyte.gz has 20 images");
    assert_null(ds.train_images.data);

    make_dataset("count2", 20, 20, 8, 9, 6, 4, 6, 4, 10);
    snprintf(d, sizeof d, "%s/count2", tmpdir);
    rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "count mismatch: 9 labels", "t10k-images-idx3-ubyte has 8 images");

    make_dataset("size", 20, 20, 8, 8, 6, 4, 4, 6, 10);
    snprintf(d, sizeof d, "%s/size", tmpdir);
    rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "t10k-images-idx3-ubyte: size mismatch: test images are 4×6", "are 6×4");

    make_dataset("empty", 0, 0, 8, 8, 6, 4, 6, 4, 10);
    snprintf(d, sizeof d, "%s/empty", tmpdir);
    rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "train-images-idx3-ubyte.gz: expected at least one image, found none");

    make_dataset("missing", 20, 20, 8, 8, 6, 4, 6, 4, 10);
    snprintf(d, sizeof d, "%s/missing/t10k-images-idx3-ubyte", tmpdir);
    assert_int_equal(unlink(d), 0);
    snprintf(d, sizeof d, "%s/missing", tmpdir);
    rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "missing: no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz");

    snprintf(d, sizeof d, "%s/nowhere", tmpdir);
    rc = cnnrt_dataset_load(d, &ds, err, sizeof err);
    expect_err(rc, "nowhere: cannot open the dataset directory");
}

static void test_labels_check(void **s)
{
    (void)s;
    uint8_t lab[50];
    for (int i = 0; i < 50; i++)
        lab[i] = (uint8_t)(i % 10);
    assert_int_equal(cnnrt_labels_check(lab, 50, 10, "x", err, sizeof err), CNNRT_OK);
    lab[42] = 11;
    lab[45] = 12;
    int rc = cnnrt_labels_check(lab, 50, 10, NULL, err, sizeof err);
    expect_err(rc, "labels out of range");
    assert_string_equal(err, "labels out of range for the network's output: label 11 at index 42, "
                             "the network has 10 outputs");
    rc = cnnrt_labels_check(lab, 50, 10, "f.idx", err, sizeof err);
    expect_err(rc, "f.idx: labels out of range");
}

static void test_u8_to_float(void **s)
{
    (void)s;
    uint8_t in[256];
    float out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(255 - i);
    cnnrt_u8_to_float(out, in, 0.286f, 0.353f, 256);
    for (int i = 0; i < 256; i++) {
        double want = ((255 - i) / 255.0 - 0.286) / 0.353;
        if (fabs(out[i] - want) > 1e-6)
            fail_msg("index %d: expected %.8f, found %.8f", i, want, out[i]);
    }
}

/* ---- the real thing ------------------------------------------------------------ */

static void test_fashion_mnist(void **s)
{
    (void)s;
    cnnrt_dataset ds;
    int rc = cnnrt_dataset_load(FMNIST_DIR, &ds, err, sizeof err);
    if (rc)
        fail_msg("%s\n(Fashion-MNIST comes from Debian's dataset-fashion-mnist: run `make deps`)", err);
    assert_int_equal(ds.train_images.n, 60000);
    assert_int_equal(ds.train_labels.n, 60000);
    assert_int_equal(ds.test_images.n, 10000);
    assert_int_equal(ds.test_labels.n, 10000);
    assert_int_equal(ds.train_images.h, 28);
    assert_int_equal(ds.train_images.w, 28);
    assert_int_equal(ds.test_images.h, 28);
    assert_int_equal(ds.test_images.w, 28);
    assert_int_equal(cnnrt_dataset_classes(&ds), 10);
    assert_int_equal(cnnrt_dataset_check_classes(&ds, 10, err, sizeof err), CNNRT_OK);
    rc = cnnrt_dataset_check_classes(&ds, 9, err, sizeof err);
    expect_err(rc, "train-labels-idx1-ubyte.gz: labels out of range", "label 9 at index 0", "has 9 outputs");
    rc = cnnrt_dataset_check_classes(&ds, 784, err, sizeof err);
    expect_err(rc, "the network has 784 outputs", "have 10 classes (0 to 9)");
    int ctr[10] = { 0 }, cte[10] = { 0 };
    for (int i = 0; i < 60000; i++)
        ctr[ds.train_labels.data[i]]++;
    for (int i = 0; i < 10000; i++)
        cte[ds.test_labels.data[i]]++;
    for (int c = 0; c < 10; c++) {
        if (ctr[c] != 6000 || cte[c] != 1000)
            fail_msg("class %d: expected 6000 train / 1000 test, found %d / %d", c, ctr[c], cte[c]);
    }
    /* the first training image is an ankle boot (9), the first test image too */
    assert_int_equal(ds.train_labels.data[0], 9);
    assert_int_equal(ds.test_labels.data[0], 9);
    double m, sd;
    cnnrt_idx_images_stats(&ds.train_images, &m, &sd);
    if (t_verbose())
        printf("  fashion-mnist train mean %.6f std %.6f\n", m, sd);
    if (fabs(m - 0.2860) > 5e-5 || fabs(sd - 0.3530) > 5e-5)
        fail_msg("train pixel mean/std: expected 0.2860/0.3530, found %.6f/%.6f", m, sd);
    cnnrt_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_detect_by_content),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_absurd_dims),
        cmocka_unit_test(test_not_a_file),
        cmocka_unit_test(test_dataset_small),
        cmocka_unit_test(test_dataset_bad),
        cmocka_unit_test(test_labels_check),
        cmocka_unit_test(test_u8_to_float),
        cmocka_unit_test(test_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
