/*
 * test_cc_safetensors.c — weights_load_safetensors (compiler/safetensors.c).
 *
 * A small network is elaborated from a string; safetensors files are written
 * here by a tiny writer (little-endian, header padded with spaces to a
 * multiple of 8, tensors sorted by name, contiguous offsets, as the reference
 * implementation writes them), then damaged in one way per test.  Every test
 * checks the error count and the text of the diagnostic (captured with
 * diag_set_stream): it must name the file, the tensor, what was expected and
 * what was found.  A valid file must load bit-exactly: data are random floats
 * from a fixed seed, never zeros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cnnc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The network: every kind of parameter tensor (conv with and without bias,
 * batchnorm with running stats, dense), inside a block so a name is dotted. */
static const char NET[] =
    "network tiny input 3x8x8\n"
    "conv c1 4 k3 p1\n"                 /* line 2 */
    "batchnorm bn1\n"
    "relu\n"
    "block two(n) {\n"
    "    conv conv n k3 nobias\n"       /* line 6 */
    "}\n"
    "two blk (2)\n"
    "flatten\n"
    "dense fc 5\n";                     /* line 10 */

typedef struct T {
    const char *name;
    const char *dtype;
    int ndim;
    long long dims[4];
} T;

/* what the network expects, in name order */
static const T TINY[] = {
    { "blk.conv.weight", "F32", 4, { 2, 4, 3, 3 } },
    { "bn1.bias", "F32", 1, { 4 } },
    { "bn1.running_mean", "F32", 1, { 4 } },
    { "bn1.running_var", "F32", 1, { 4 } },
    { "bn1.weight", "F32", 1, { 4 } },
    { "c1.bias", "F32", 1, { 4 } },
    { "c1.weight", "F32", 4, { 4, 3, 3, 3 } },
    { "fc.bias", "F32", 1, { 5 } },
    { "fc.weight", "F32", 2, { 5, 72 } },
};
enum { NTINY = sizeof TINY / sizeof TINY[0], MAXT = 128 };

static char dir[64];
static char path[128];
static Graph *g;
static char *diag_buf;
static size_t diag_len;
static FILE *diag_mem;

/* ---- a tiny safetensors writer ------------------------------------------- */

static unsigned long long rng;

static unsigned long long next64(void) {
    unsigned long long z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in ±[0.1, 2): never zero */
static float rnd(void) {
    double u = (double)(next64() >> 11) * (1.0 / 9007199254740992.0);
    double m = 0.1 + 1.9 * u;
    return (float)(next64() & 1 ? m : -m);
}

static int esize(const char *dt) {
    return strcmp(dt, "F16") == 0 ? 2 : strcmp(dt, "I64") == 0 ? 8 : 4;
}

static long long numel(const T *t) {
    long long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

typedef struct File {
    char *hdr;                 /* JSON, padded */
    unsigned char *data;
    size_t dlen;
    float *vals[MAXT];         /* the float32 values written, per tensor */
    const T *ts;
    int n;
} File;

static void put_le32(unsigned char *p, uint32_t u) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> 8 * i);
}

/* Build a file of tensors ts (in the given order, which the caller keeps
 * sorted) with random contents; meta is the text of a JSON object or NULL. */
static File build(const T *ts, int n, const char *meta) {
    File f = { .ts = ts, .n = n };
    size_t cap = 4096, len = 0;
    f.hdr = malloc(cap);
    len += (size_t)snprintf(f.hdr + len, cap - len, "{");
    if (meta) len += (size_t)snprintf(f.hdr + len, cap - len, "\"__metadata__\":%s", meta);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)(numel(&ts[i]) * esize(ts[i].dtype));
    f.data = malloc(total ? total : 1);
    for (int i = 0; i < n; i++) {
        const T *t = &ts[i];
        size_t nb = (size_t)(numel(t) * esize(t->dtype));
        if (cap - len < 512) { cap *= 2; f.hdr = realloc(f.hdr, cap); }
        len += (size_t)snprintf(f.hdr + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                i || meta ? "," : "", t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++)
            len += (size_t)snprintf(f.hdr + len, cap - len, "%s%lld", d ? "," : "", t->dims[d]);
        len += (size_t)snprintf(f.hdr + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", f.dlen, f.dlen + nb);
        f.vals[i] = malloc(nb + sizeof(float));
        for (size_t b = 0; b < nb; b += 4) {
            float x = rnd();
            uint32_t u;
            memcpy(&u, &x, 4);
            f.vals[i][b / 4] = x;
            put_le32(f.data + f.dlen + b, u);
        }
        f.dlen += nb;
    }
    len += (size_t)snprintf(f.hdr + len, cap - len, "}");
    while (len % 8) f.hdr[len++] = ' ';
    f.hdr[len] = 0;
    return f;
}

/* Write hdr and data; hlen is the header length to claim (-1: the true one),
 * cut the number of bytes to keep (-1: all). */
static void write_raw(const char *hdr, long long hlen, const unsigned char *data, size_t dlen, long long cut) {
    size_t hl = strlen(hdr), total = 8 + hl + dlen;
    unsigned char *buf = malloc(total);
    unsigned long long claim = hlen < 0 ? hl : (unsigned long long)hlen;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(claim >> 8 * i);
    memcpy(buf + 8, hdr, hl);
    memcpy(buf + 8 + hl, data, dlen);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    size_t keep = cut < 0 ? total : (size_t)cut;
    assert_int_equal(fwrite(buf, 1, keep, fp), keep);
    fclose(fp);
    free(buf);
}

static void write_file(const File *f) { write_raw(f->hdr, -1, f->data, f->dlen, -1); }

static void free_file(File *f) {
    for (int i = 0; i < f->n; i++) free(f->vals[i]);
    free(f->hdr);
    free(f->data);
}

/* Replace the first occurrence of old in s (in place; realloc'd). */
static char *replace(char *s, const char *old, const char *new) {
    char *p = strstr(s, old);
    assert_non_null(p);
    size_t lo = strlen(old), ln = strlen(new), ls = strlen(s);
    char *r = malloc(ls - lo + ln + 16);
    memcpy(r, s, (size_t)(p - s));
    memcpy(r + (p - s), new, ln);
    strcpy(r + (p - s) + ln, p + lo);
    free(s);
    size_t l = strlen(r);               /* keep the padding rule */
    while (l % 8) r[l++] = ' ';
    r[l] = 0;
    return r;
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state) {
    (void)state;
    diag_reset();
    diag_mem = open_memstream(&diag_buf, &diag_len);
    diag_set_stream(diag_mem);
    g = front_load_string("tiny.net", NET);
    if (!g) {
        fflush(diag_mem);
        fprintf(stderr, "setup: the test network does not compile:\n%s", diag_buf);
        return -1;
    }
    strcpy(dir, "/tmp/test_cc_safetensors.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    rng = 42;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    diag_set_stream(NULL);
    fclose(diag_mem);
    free(diag_buf);
    diag_buf = NULL;
    unlink(path);
    rmdir(dir);
    arena_free_all();
    return 0;
}

/* The diagnostics so far. */
static const char *diags(void) {
    fflush(diag_mem);
    return diag_buf ? diag_buf : "";
}

/* Fail unless the diagnostics contain s (printing them when not). */
static void expect_text(const char *s) {
    const char *d = diags();
    if (!strstr(d, s)) fail_msg("expected the diagnostics to contain\n  \"%s\"\nthey are:\n%s", s, d);
}

/* load; expect one error whose headline names the file */
static void expect_error(void) {
    int n = weights_load_safetensors(g, path);
    if (n != 1) fail_msg("expected 1 error, got %d; diagnostics:\n%s", n, diags());
    assert_int_equal(diag_error_count(), 1);
    char head[160];
    snprintf(head, sizeof head, "%s: error: ", path);
    expect_text(head);
}

/* a copy of TINY with tensor i changed (or dropped: t NULL), or t added at the end */
static int variant(T *out, int drop, const T *add) {
    int n = 0;
    for (int i = 0; i < NTINY; i++)
        if (i != drop) out[n++] = TINY[i];
    if (add) out[n++] = *add;
    return n;
}

static int index_of(const char *name) {
    for (int i = 0; i < NTINY; i++)
        if (strcmp(TINY[i].name, name) == 0) return i;
    fail_msg("no tensor %s in TINY", name);
    return -1;
}

static Node *node(const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    fail_msg("no node %s", name);
    return NULL;
}

/* ---- tests --------------------------------------------------------------- */

/* Every slot gets exactly the values written, bit for bit. */
static void test_valid_loads_exact(void **state) {
    (void)state;
    File f = build(TINY, NTINY, NULL);
    write_file(&f);
    int n = weights_load_safetensors(g, path);
    if (n) fail_msg("valid file rejected:\n%s", diags());
    assert_string_equal(diags(), "");
    struct { const char *node; int which; const char *tensor; } map[] = {
        { "c1", 0, "c1.weight" }, { "c1", 1, "c1.bias" }, { "bn1", 0, "bn1.weight" }, { "bn1", 1, "bn1.bias" },
        { "bn1", 2, "bn1.running_mean" }, { "bn1", 3, "bn1.running_var" }, { "blk.conv", 0, "blk.conv.weight" },
        { "fc", 0, "fc.weight" }, { "fc", 1, "fc.bias" },
    };
    for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
        Node *nd = node(map[m].node);
        float *got = map[m].which == 0 ? nd->w_data : map[m].which == 1 ? nd->b_data
                   : map[m].which == 2 ? nd->mean_data : nd->var_data;
        int i = index_of(map[m].tensor);
        assert_non_null(got);
        for (long long e = 0; e < numel(&TINY[i]); e++)
            if (memcmp(&got[e], &f.vals[i][e], 4) != 0)
                fail_msg("%s[%lld]: loaded %.9g, written %.9g (max diff %g)", map[m].tensor, e,
                         (double)got[e], (double)f.vals[i][e], (double)(got[e] - f.vals[i][e]));
    }
    assert_null(node("blk.conv")->b_data);      /* nobias: nothing */
    free_file(&f);
}

static void test_missing(void **state) {
    (void)state;
    T ts[MAXT];
    int n = variant(ts, index_of("fc.bias"), NULL);
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("1 tensor does not match the network 'tiny' (tiny.net):");
    expect_text("\n  missing fc.bias [5] float32 (for dense 'fc' at tiny.net:10:1)");
    assert_null(node("fc")->b_data);
    free_file(&f);
}

static void test_missing_in_block(void **state) {
    (void)state;
    T ts[MAXT];
    int n = variant(ts, index_of("blk.conv.weight"), NULL);
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("\n  missing blk.conv.weight [2, 4, 3, 3] float32 (for conv 'blk.conv' at tiny.net:6:");
    free_file(&f);
}

static void test_unexpected(void **state) {
    (void)state;
    T ts[MAXT];
    int n = variant(ts, -1, NULL);
    ts[n++] = (T){ "blk.conv.bias", "F32", 1, { 2 } };
    ts[n++] = (T){ "fc2.weight", "F32", 2, { 3, 5 } };
    ts[n++] = (T){ "relu.weight", "F32", 1, { 4 } };
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("3 tensors do not match");
    expect_text("\n  unexpected blk.conv.bias [2] float32 (conv 'blk.conv' at tiny.net:6:");
    expect_text("has no bias (nobias))");
    expect_text("\n  unexpected fc2.weight [3, 5] float32 (the network has no layer of that name)");
    expect_text("\n  unexpected relu.weight [4] float32 (relu 'relu' at tiny.net:4:1 has no parameters)");
    free_file(&f);
}

static void test_wrong_shape(void **state) {
    (void)state;
    T ts[MAXT];
    int n = variant(ts, -1, NULL);
    ts[index_of("c1.weight")].dims[2] = 1;
    ts[index_of("c1.weight")].dims[3] = 1;
    ts[index_of("fc.weight")] = (T){ "fc.weight", "F32", 1, { 360 } };
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("2 tensors do not match");
    expect_text("\n  c1.weight: expected shape [4, 3, 3, 3] float32, found [4, 3, 1, 1] float32 "
                "(for conv 'c1' at tiny.net:2:1)");
    expect_text("\n  fc.weight: expected shape [5, 72] float32, found [360] float32");
    assert_null(node("c1")->w_data);       /* nothing is filled on error */
    free_file(&f);
}

static void test_wrong_dtype(void **state) {
    (void)state;
    T ts[MAXT];
    int n = variant(ts, -1, NULL);
    ts[index_of("c1.bias")].dtype = "F16";
    ts[index_of("bn1.running_mean")].dtype = "I64";
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("2 tensors do not match");
    expect_text("\n  c1.bias: expected shape [4] float32, found [4] float16 (for conv 'c1' at tiny.net:2:1)");
    expect_text("\n  bn1.running_mean: expected shape [4] float32, found [4] int64");
    free_file(&f);
}

/* All kinds of mismatch at once: one error, one line each. */
static void test_all_in_one_error(void **state) {
    (void)state;
    T ts[MAXT];
    T extra = { "zzz.weight", "F32", 1, { 1 } };
    int n = variant(ts, index_of("bn1.bias"), &extra);
    ts[0].dims[0] = 3;                                   /* blk.conv.weight */
    ts[1].dtype = "F16";                                 /* bn1.running_mean */
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("4 tensors do not match");
    expect_text("\n  missing bn1.bias [4] float32");
    expect_text("\n  unexpected zzz.weight [1] float32");
    expect_text("\n  blk.conv.weight: expected shape [2, 4, 3, 3] float32, found [3, 4, 3, 3] float32");
    expect_text("\n  bn1.running_mean: expected shape [4] float32, found [4] float16");
    free_file(&f);
}

/* Names saved from a wrapper ("module.c1.weight"): the error says so. */
static void test_prefixed_names(void **state) {
    (void)state;
    static T ts[MAXT];
    static char names[NTINY][64];
    for (int i = 0; i < NTINY; i++) {
        ts[i] = TINY[i];
        snprintf(names[i], sizeof names[i], "module.%s", TINY[i].name);
        ts[i].name = names[i];
    }
    File f = build(ts, NTINY, NULL);
    write_file(&f);
    expect_error();
    expect_text("18 tensors do not match");
    expect_text("\n  unexpected module.c1.weight [4, 3, 3, 3] float32 (the network has no layer of that name)");
    expect_text("\n  note: the file's names carry an extra prefix 'module.'");
    free_file(&f);
}

/* More than 50 problems: the list is capped. */
static void test_problem_cap(void **state) {
    (void)state;
    static T ts[MAXT];
    static char names[70][32];
    int n = variant(ts, -1, NULL);
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof names[i], "extra%02d.weight", i);
        ts[n++] = (T){ names[i], "F32", 1, { 1 } };
    }
    File f = build(ts, n, NULL);
    write_file(&f);
    expect_error();
    expect_text("60 tensors do not match");
    expect_text("unexpected extra00.weight");
    expect_text("\n  ... and 10 more");
    const char *d = diags();
    int lines = 0;
    for (const char *p = d; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 1 + 50 + 1);
    free_file(&f);
}

/* *.num_batches_tracked and __optim__.* are accepted and ignored. */
static void test_ignored_names(void **state) {
    (void)state;
    T ts[MAXT];
    int n = 0;
    ts[n++] = (T){ "__optim__.c1.weight.exp_avg", "F32", 4, { 4, 3, 3, 3 } };
    ts[n++] = (T){ "__optim__.step", "I64", 0, { 0 } };
    ts[n++] = TINY[0];                                   /* blk.conv.weight */
    ts[n++] = TINY[1];                                   /* bn1.bias */
    ts[n++] = (T){ "bn1.num_batches_tracked", "I64", 0, { 0 } };
    for (int i = 2; i < NTINY; i++) ts[n++] = TINY[i];   /* bn1.running_mean, bn1.running_var, ... */
    File f = build(ts, n, NULL);
    write_file(&f);
    int e = weights_load_safetensors(g, path);
    if (e) fail_msg("ignored names rejected:\n%s", diags());
    assert_non_null(node("bn1")->var_data);
    assert_string_equal(ts[6].name, "bn1.running_var");
    assert_memory_equal(node("bn1")->var_data, f.vals[6], 16);
    free_file(&f);
}

static void test_metadata_kept(void **state) {
    (void)state;
    File f = build(TINY, NTINY, "{\"normalize\":\"0.5,0.25\",\"step\":\"100\"}");
    write_file(&f);
    int e = weights_load_safetensors(g, path);
    if (e) fail_msg("metadata rejected:\n%s", diags());
    assert_non_null(weights_metadata(g, "normalize"));
    assert_string_equal(weights_metadata(g, "normalize"), "0.5,0.25");
    assert_string_equal(weights_metadata(g, "step"), "100");
    assert_null(weights_metadata(g, "seed"));
    free_file(&f);
}

static void test_metadata_not_strings(void **state) {
    (void)state;
    File f = build(TINY, NTINY, "{\"step\":100}");
    write_file(&f);
    expect_error();
    expect_text("invalid safetensors header: 1 problem:");
    expect_text("\n  __metadata__.step: expected a string, found a number 100");
    free_file(&f);
    f = build(TINY, NTINY, "[1]");
    write_file(&f);
    diag_reset();
    expect_error();
    expect_text("__metadata__: expected an object of strings, found an array");
    free_file(&f);
}

/* Cut the file at several points: each is an error, never a crash. */
static void test_truncated(void **state) {
    (void)state;
    File f = build(TINY, NTINY, NULL);
    size_t hl = strlen(f.hdr), total = 8 + hl + f.dlen;
    struct { long long cut; const char *text; } cases[] = {
        { 0, "expected at least 8 bytes (the header length), found 0" },
        { 5, "expected at least 8 bytes (the header length), found 5" },
        { 8, "but only 0 bytes follow it" },
        { 8 + (long long)hl / 2, "but only" },
        { 8 + (long long)hl - 1, "but only" },
        { 8 + (long long)hl, "truncated: the header describes" },
        { 8 + (long long)hl + 3, "but only 3 follow it" },
        { (long long)total - 1, "found " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag_reset();
        fclose(diag_mem);
        free(diag_buf);
        diag_buf = NULL;
        diag_mem = open_memstream(&diag_buf, &diag_len);
        diag_set_stream(diag_mem);
        write_raw(f.hdr, -1, f.data, f.dlen, cases[i].cut);
        expect_error();
        expect_text(cases[i].text);
        expect_text(i < 2 ? "not a safetensors file" : "truncated");
    }
    char want[160];
    snprintf(want, sizeof want, "(expected a file of %zu bytes, found %zu)", total, total - 1);
    expect_text(want);
    free_file(&f);
}

static void test_header_length_too_large(void **state) {
    (void)state;
    File f = build(TINY, NTINY, NULL);
    write_raw(f.hdr, 1LL << 62, f.data, f.dlen, -1);
    expect_error();
    expect_text("not a safetensors file: the header length is 4611686018427387904 bytes; expected at most");
    /* a file that is really that long (sparse): the 100 MiB cap */
    diag_reset();
    write_raw(f.hdr, 101LL << 20, f.data, f.dlen, -1);
    assert_int_equal(truncate(path, (101LL << 20) + 64), 0);
    expect_error();
    expect_text("the header length is 105906176 bytes; expected at most 104857600 (100 MiB)");
    free_file(&f);
}

static void test_bad_json(void **state) {
    (void)state;
    struct { const char *hdr; const char *text; } cases[] = {
        { "{\"c1.weight\": {\"dtype\": \"F32\",    ", "invalid header: expected JSON, found a syntax error at byte" },
        { "[1, 2, 3]       ", "invalid header: expected a JSON object of tensors, found an array" },
        { "{}  xx  ", "invalid header: unexpected 'x' (byte 4 of the JSON) after the object" },
        { "\"abc\"   ", "found a string" },
        { "        ", "invalid header: expected JSON" },
        { "{\"a\":\xff\xfe}", "invalid header: expected JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag_reset();
        write_raw(cases[i].hdr, -1, (const unsigned char *)"", 0, -1);
        expect_error();
        expect_text(cases[i].text);
    }
}

static void test_bad_entries(void **state) {
    (void)state;
    struct { const char *old, *new, *text; } cases[] = {
        { "\"shape\":[4,3,3,3]", "\"shape\":[4,\"3\",3,3]", "c1.weight: shape[1]: expected a non-negative integer, found a string \"3\"" },
        { "\"shape\":[4,3,3,3]", "\"shape\":[4,-3,3,3]", "c1.weight: shape[1]: expected a non-negative integer, found a number -3" },
        { "\"shape\":[4,3,3,3]", "\"shape\":[4,3.5,3,3]", "shape[1]: expected a non-negative integer, found a number 3.5" },
        { "\"shape\":[4,3,3,3]", "\"shape\":[4000000000000,4000000000000,3,3]", "c1.weight: shape [4000000000000,4000000000000,3,3]: expected at most 2^59 elements" },
        { "\"shape\":[4,3,3,3]", "\"shape\":[1e300,1e300]", "expected a non-negative integer, found a number 1e+300" },
        { "\"shape\":[4,3,3,3]", "\"shape\":7", "c1.weight: expected a \"shape\" array of integers, found a number 7" },
        { "\"dtype\":\"F32\",\"shape\":[4,3,3,3]", "\"dtype\":32,\"shape\":[4,3,3,3]", "c1.weight: expected a string \"dtype\" (e.g. \"F32\"), found a number 32" },
        { "\"c1.weight\":{", "\"c1.weight\":7,\"x\":{", "c1.weight: expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found a number 7" },
        { "\"data_offsets\":[0,", "\"data_offsets\":[-8,", "blk.conv.weight: expected \"data_offsets\": [begin, end] (two non-negative integers), found an array [-8," },
        { "\"data_offsets\":[0,", "\"data_offsets\":[0,1,", "expected \"data_offsets\": [begin, end]" },
        { "\"data_offsets\":[0,288]", "\"data_offsets\":[288,0]", "blk.conv.weight: data_offsets [288, 0]: begin is after end" },
        { "\"data_offsets\":[0,288]", "\"data_offsets\":[0,284]", "blk.conv.weight: [2, 4, 3, 3] float32 is 288 bytes, but data_offsets [0, 284] span 284" },
        { "\"data_offsets\":[288,304]", "\"data_offsets\":[280,296]", "bn1.bias: data_offsets [280, 296] overlap blk.conv.weight's [0, 288]" },
        { "\"data_offsets\":[0,288]", "\"data_offsets\":[4,292]", "bytes [0, 4) of the data buffer belong to no tensor (a hole before blk.conv.weight)" },
        { "\"blk.conv.weight\"", "\"c1.bias\"", "c1.bias: the name appears more than once" },
        { "\"data_offsets\":[0,288]", "\"data_offsets\":[0,99999999999]", "truncated: the header describes 99999999999 bytes of tensor data" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag_reset();
        fclose(diag_mem);
        free(diag_buf);
        diag_buf = NULL;
        diag_mem = open_memstream(&diag_buf, &diag_len);
        diag_set_stream(diag_mem);
        File f = build(TINY, NTINY, NULL);
        f.hdr = replace(f.hdr, cases[i].old, cases[i].new);
        write_file(&f);
        expect_error();
        expect_text(cases[i].text);
        free_file(&f);
    }
}

/* Trailing data bytes that no tensor owns are rejected, as by the reference. */
static void test_trailing_bytes(void **state) {
    (void)state;
    File f = build(TINY, NTINY, NULL);
    f.data = realloc(f.data, f.dlen + 8);
    memset(f.data + f.dlen, 0x5a, 8);
    f.dlen += 8;
    write_file(&f);
    expect_error();
    char want[128];
    snprintf(want, sizeof want, "bytes [%zu, %zu) at the end of the data buffer belong to no tensor", f.dlen - 8, f.dlen);
    expect_text(want);
    free_file(&f);
}

static void test_cannot_open(void **state) {
    (void)state;
    expect_error();     /* path does not exist yet */
    expect_text("cannot open the weights file: No such file or directory");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_loads_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_in_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unexpected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_dtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_in_one_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefixed_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_problem_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_not_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_length_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
