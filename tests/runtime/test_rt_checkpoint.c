/*
 * test_rt_checkpoint.c — safetensors checkpoints (runtime/checkpoint.c).
 *
 *   - round trip: tensors of several ranks (scalar and empty included),
 *     given unsorted, fresh random values from a fixed seed, read back bit
 *     for bit; metadata with quotes, backslashes, newlines and UTF-8; the
 *     file's layout (sorted names, contiguous offsets, 8-byte padding);
 *   - PyTorch: tests/ref/st.py loads the file (float32, shapes, metadata)
 *     and saves the same dict again: the two files must be byte-identical;
 *     a file st.py writes from torch.arange is read here value by value.
 *     No python3-torch → the test fails;
 *   - atomicity: a forked child saves a 64 MiB checkpoint over an existing
 *     one and is SIGKILLed at a random moment of the save, ATOMIC_RUNS
 *     times; afterwards the file is always the old or the new checkpoint,
 *     complete (every value compared);
 *   - every truncation of a file, extensions, ~25 hand-made corrupt
 *     headers, 3000 randomly corrupted files and random garbage: each a
 *     clear error (checked for the words that name the problem), never a
 *     crash;
 *   - reading with the wrong shape or dtype, a missing tensor, a checkpoint
 *     of another network (cnnrt_ckpt_check), bad save arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cnnrt_test.h"

#define ATOMIC_RUNS 12
#define BIG_FLOATS (16u << 20)          /* 64 MiB of data in the atomicity test */

static char tmpdir[256];
static char err[4096];

/* DIR/name in one of 4 rotating buffers: copy it to keep it longer. */
static const char *tpath(const char *name)
{
    static char p[4][512];
    static int k;
    char *r = p[k++ & 3];
    snprintf(r, 512, "%s/%s", tmpdir, name);
    return r;
}

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

#define check_ok(rc) do { if ((rc) != CNNRT_OK) fail_msg("%s:%d: %s", __FILE__, __LINE__, err); } while (0)

static int setup(void **s)
{
    (void)s;
    return t_tmpdir_make(tmpdir, sizeof tmpdir, "cnnrt_ckpt");
}

static int teardown(void **s)
{
    (void)s;
    return t_tmpdir_remove(tmpdir);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Files in tmpdir whose name contains s. */
static int count_files(const char *s)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, s))
            n++;
    closedir(d);
    return n;
}

static void remove_files(const char *s)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, s))
            unlink(tpath(e->d_name));
    closedir(d);
}

static size_t numel(const cnnrt_ckpt_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* ---- a small model's worth of tensors ------------------------------------ */

enum { NT = 7 };
static cnnrt_ckpt_tensor T[NT] = {
    { "fc.weight", 2, { 10, 20 }, NULL },
    { "conv1.weight", 4, { 6, 1, 5, 5 }, NULL },
    { "conv1.bias", 1, { 6 }, NULL },
    { "bn1.running_var", 1, { 6 }, NULL },
    { "__optim__.m.conv1.weight", 4, { 6, 1, 5, 5 }, NULL },
    { "scale", 0, { 0 }, NULL },                    /* a scalar */
    { "empty", 2, { 0, 3 }, NULL },                 /* no elements */
};
static float *Tdata[NT];

static void make_tensors(uint64_t seed)
{
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    for (int i = 0; i < NT; i++) {
        free(Tdata[i]);
        size_t n = numel(&T[i]);
        Tdata[i] = n ? t_falloc(n) : NULL;
        if (n)
            t_fill(Tdata[i], n, &r, -2.0f, 2.0f);
        T[i].data = Tdata[i];
    }
}

static const cnnrt_ckpt_meta META[] = {
    { "step", "1200" },
    { "seed", "42" },
    { "normalize", "0.2860,0.3530" },
    { "odd", "quote \" backslash \\ newline \n tab \t é ∑ end" },
};

static void test_roundtrip(void **s)
{
    (void)s;
    make_tensors(1);
    const char *p = tpath("rt.safetensors");
    check_ok(cnnrt_ckpt_save(p, T, NT, META, 4, err, sizeof err));
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_files(".tmp."), 0);

    cnnrt_ckpt *ck;
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    assert_int_equal(cnnrt_ckpt_count(ck), NT);
    for (int i = 1; i < NT; i++)
        assert_true(strcmp(cnnrt_ckpt_name(ck, i - 1), cnnrt_ckpt_name(ck, i)) < 0);
    assert_null(cnnrt_ckpt_name(ck, NT));
    for (int i = 0; i < NT; i++) {
        int k = cnnrt_ckpt_find(ck, T[i].name);
        assert_true(k >= 0);
        assert_string_equal(cnnrt_ckpt_dtype(ck, k), "F32");
        int64_t shape[CNNRT_CKPT_MAX_DIMS];
        assert_int_equal(cnnrt_ckpt_shape(ck, k, shape), T[i].ndim);
        for (int d = 0; d < T[i].ndim; d++)
            assert_int_equal(shape[d], T[i].shape[d]);
        size_t n = numel(&T[i]);
        float *got = t_falloc(n);
        check_ok(cnnrt_ckpt_read(ck, T[i].name, T[i].ndim, T[i].shape, got, err, sizeof err));
        for (size_t j = 0; j < n; j++)
            if (memcmp(&got[j], &Tdata[i][j], 4) != 0)
                fail_msg("%s[%zu]: expected %.9g, found %.9g", T[i].name, j, Tdata[i][j], got[j]);
        free(got);
    }
    assert_int_equal(cnnrt_ckpt_find(ck, "nope"), -1);
    assert_int_equal(cnnrt_ckpt_meta_count(ck), 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(cnnrt_ckpt_meta_key(ck, i), META[i].key);
        assert_string_equal(cnnrt_ckpt_meta_get(ck, META[i].key), META[i].value);
    }
    assert_null(cnnrt_ckpt_meta_get(ck, "absent"));
    cnnrt_ckpt_close(ck);

    /* the bytes: length word, 8-byte padding, data right after */
    size_t len;
    uint8_t *b = slurp(p, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    assert_int_equal(n % 8, 0);
    size_t data = 0;
    for (int i = 0; i < NT; i++)
        data += 4 * numel(&T[i]);
    assert_int_equal(len, 8 + n + data);
    assert_int_equal(b[8], '{');
    /* first tensor in the file is the alphabetically first, at offset 0 */
    assert_non_null(strstr((char *)b + 8, "\"__optim__.m.conv1.weight\":{\"dtype\":\"F32\",\"shape\":[6,1,5,5],"
                                          "\"data_offsets\":[0,600]}"));
    free(b);
    cnnrt_ckpt_close(NULL);

    /* saving again over it works; no metadata, no tensors is a valid file */
    check_ok(cnnrt_ckpt_save(p, NULL, 0, NULL, 0, err, sizeof err));
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    assert_int_equal(cnnrt_ckpt_count(ck), 0);
    assert_int_equal(cnnrt_ckpt_meta_count(ck), 0);
    cnnrt_ckpt_close(ck);
}

/* ---- PyTorch ---------------------------------------------------------------- */

static void run_python(const char *code)
{
    const char *dir = getenv("CNNRT_REF_DIR");
    if (!dir || !*dir)
        dir = "tests/ref";
    char st[512];
    snprintf(st, sizeof st, "%s/st.py", dir);
    FILE *f = fopen(st, "r");
    if (!f)
        fail_msg("%s not found (run from the repository root or set CNNRT_REF_DIR)", st);
    fclose(f);
    const char *py = tpath("check.py");
    spit(py, code, strlen(code));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "PYTHONPATH='%s' " CNNRT_PYTHON " '%s' '%s'", dir, py, tmpdir);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("PyTorch check failed (exit status %d): %s\n"
                 "  (is python3-torch installed for " CNNRT_PYTHON "?)", rc, cmd);
}

static void test_pytorch(void **s)
{
    (void)s;
    make_tensors(2);
    static const cnnrt_ckpt_meta meta[] = { { "step", "7" }, { "seed", "2" }, { "normalize", "0.5,0.25" } };
    check_ok(cnnrt_ckpt_save(tpath("c.safetensors"), T, NT, meta, 3, err, sizeof err));
    run_python(
        "import sys, torch, st\n"
        "d = sys.argv[1]\n"
        "t, m = st.load(d + '/c.safetensors', with_metadata=True)\n"
        "assert m == {'step': '7', 'seed': '2', 'normalize': '0.5,0.25'}, m\n"
        "want = {'fc.weight': [10, 20], 'conv1.weight': [6, 1, 5, 5], 'conv1.bias': [6],\n"
        "        'bn1.running_var': [6], '__optim__.m.conv1.weight': [6, 1, 5, 5], 'scale': [], 'empty': [0, 3]}\n"
        "assert {k: list(v.shape) for k, v in t.items()} == want, t\n"
        "assert all(v.dtype == torch.float32 for v in t.values())\n"
        "assert t['conv1.weight'].abs().min() >= 0.05 and t['conv1.weight'].abs().max() <= 2\n"
        "st.save(t, d + '/py.safetensors', m)\n"
        "x = {'a.weight': torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) * 0.5 - 3,\n"
        "     'a.bias': torch.tensor([1.5, -2.25, 1e-30])}\n"
        "st.save(x, d + '/arange.safetensors', {'from': 'python'})\n");
    size_t la, lb;
    uint8_t *a = slurp(tpath("c.safetensors"), &la), *b = slurp(tpath("py.safetensors"), &lb);
    if (la != lb || memcmp(a, b, la) != 0) {
        size_t i = 0;
        while (i < la && i < lb && a[i] == b[i])
            i++;
        fail_msg("st.py re-saved our checkpoint differently: %zu vs %zu bytes, first difference at byte %zu",
                 la, lb, i);
    }
    free(a);
    free(b);

    cnnrt_ckpt *ck;
    check_ok(cnnrt_ckpt_open(tpath("arange.safetensors"), &ck, err, sizeof err));
    assert_string_equal(cnnrt_ckpt_meta_get(ck, "from"), "python");
    float w[24], bias[3];
    int64_t ws[3] = { 2, 3, 4 }, bs[1] = { 3 };
    check_ok(cnnrt_ckpt_read(ck, "a.weight", 3, ws, w, err, sizeof err));
    check_ok(cnnrt_ckpt_read(ck, "a.bias", 1, bs, bias, err, sizeof err));
    for (int i = 0; i < 24; i++)
        if (w[i] != i * 0.5f - 3)
            fail_msg("a.weight[%d]: expected %g, found %g", i, i * 0.5 - 3, w[i]);
    assert_true(bias[0] == 1.5f && bias[1] == -2.25f && bias[2] == 1e-30f);
    cnnrt_ckpt_close(ck);
}

/* ---- atomicity ----------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Four tensors, BIG_FLOATS in all, values depending on gen. */
static void big_tensors(cnnrt_ckpt_tensor *t, float *buf, int gen)
{
    static const char *names[4] = { "a.weight", "b.weight", "c.weight", "d.bias" };
    for (size_t i = 0; i < BIG_FLOATS; i++)
        buf[i] = (float)gen * 1000.0f + (float)(i % 9973) * 0.125f;
    for (int k = 0; k < 4; k++) {
        t[k] = (cnnrt_ckpt_tensor){ names[k], 2, { 1024, BIG_FLOATS / 4 / 1024 }, buf + (size_t)k * BIG_FLOATS / 4 };
    }
}

/* The file is complete and is generation 1 or 2; returns which. */
static int check_big(const char *p, const float *old, const float *new_, float *scratch)
{
    cnnrt_ckpt *ck;
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    const char *g = cnnrt_ckpt_meta_get(ck, "gen");
    assert_non_null(g);
    int gen = atoi(g);
    assert_true(gen == 1 || gen == 2);
    const float *want = gen == 1 ? old : new_;
    cnnrt_ckpt_tensor t[4];
    big_tensors(t, scratch, 0);
    assert_int_equal(cnnrt_ckpt_count(ck), 4);
    for (int k = 0; k < 4; k++) {
        check_ok(cnnrt_ckpt_read(ck, t[k].name, 2, t[k].shape, scratch + (size_t)k * BIG_FLOATS / 4, err,
                                 sizeof err));
    }
    if (memcmp(scratch, want, (size_t)BIG_FLOATS * 4) != 0)
        fail_msg("%s: generation %d but its data differs", p, gen);
    cnnrt_ckpt_close(ck);
    return gen;
}

static void test_atomic_kill(void **s)
{
    (void)s;
    float *old = t_falloc(BIG_FLOATS), *new_ = t_falloc(BIG_FLOATS), *scratch = t_falloc(BIG_FLOATS);
    cnnrt_ckpt_tensor to[4], tn[4];
    big_tensors(to, old, 1);
    big_tensors(tn, new_, 2);
    const cnnrt_ckpt_meta mo[] = { { "gen", "1" } }, mn[] = { { "gen", "2" } };
    char p[512];
    snprintf(p, sizeof p, "%s", tpath("big.safetensors"));

    /* how long one save takes here */
    double t0 = now();
    check_ok(cnnrt_ckpt_save(p, tn, 4, mn, 1, err, sizeof err));
    double tsave = now() - t0;
    assert_int_equal(check_big(p, old, new_, scratch), 2);

    cnnrt_rng r;
    cnnrt_rng_seed(&r, 99);
    int outcome[3] = { 0 }, killed = 0, stale = 0, runs = 0;
    double scale = 1.0;   /* shrinks when a save finished first: a loaded machine */
    for (int run = 0; run < 4 * ATOMIC_RUNS && (run < ATOMIC_RUNS || killed < ATOMIC_RUNS / 2); run++) {
        runs++;
        check_ok(cnnrt_ckpt_save(p, to, 4, mo, 1, err, sizeof err));
        /* kill somewhere in [0, 1.1·tsave·scale) after the child starts saving */
        double delay = 1.1 * tsave * scale * cnnrt_rng_uniform(&r);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int rc = cnnrt_ckpt_save(p, tn, 4, mn, 1, NULL, 0);
            _exit(rc == CNNRT_OK ? 0 : 1);
        }
        struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) {
            killed++;
        } else {
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            scale *= 0.7;
        }
        int gen = check_big(p, old, new_, scratch);
        outcome[gen]++;
        int st = count_files("big.safetensors.tmp.");
        stale += st;
        if (t_verbose())
            printf("  run %d: kill after %.1f ms, %s, file %s, %d stale\n", run, delay * 1e3,
                   WIFSIGNALED(status) ? "killed" : "exited", gen == 1 ? "old" : "new", st);
        remove_files("big.safetensors.tmp.");
    }
    if (t_verbose())
        printf("  one save: %.1f ms; %d runs: %d killed mid-save (%d left a stale temporary), "
               "file old %d times, new %d times\n", tsave * 1e3, runs, killed, stale, outcome[1],
               outcome[2]);
    /* the kills must have landed inside saves for the test to mean anything;
     * under load a save may outlast its calibration, so the runs go on (up
     * to 4×) with shorter delays until half the first batch's worth landed */
    assert_true(killed >= ATOMIC_RUNS / 2);
    free(old);
    free(new_);
    free(scratch);
}

/* ---- truncated, extended, corrupt ----------------------------------------------- */

static void test_truncated(void **s)
{
    (void)s;
    make_tensors(3);
    const char *p = tpath("t.safetensors"), *q = tpath("cut.safetensors");
    check_ok(cnnrt_ckpt_save(p, T, NT, META, 4, err, sizeof err));
    size_t len;
    uint8_t *b = slurp(p, &len);
    cnnrt_ckpt *ck;
    for (size_t cut = 0; cut < len; cut++) {
        spit(q, b, cut);
        int rc = cnnrt_ckpt_open(q, &ck, err, sizeof err);
        if (rc == CNNRT_OK)
            fail_msg("a file cut to %zu of %zu bytes opened without error", cut, len);
        assert_null(ck);
        if (!strstr(err, "truncated") || !strstr(err, q))
            fail_msg("cut at %zu: the error does not say truncated: %s", cut, err);
        if (t_verbose() && (cut < 10 || cut == len - 1 || cut == 100))
            printf("  ok: %s\n", err);
    }
    /* extended: bytes after the data */
    b[len] = 0;
    spit(q, b, len + 1);
    int rc = cnnrt_ckpt_open(q, &ck, err, sizeof err);
    expect_err(rc, "invalid safetensors header: 1 problem:", "at the end of the data buffer belong to no tensor");
    /* truncated after opening: the read notices */
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    assert_int_equal(truncate(p, (off_t)len - 100), 0);
    float w[200];
    rc = cnnrt_ckpt_read(ck, "fc.weight", 2, T[0].shape, w, err, sizeof err);
    expect_err(rc, "fc.weight: cannot read 800 bytes", "unexpected end of file");
    cnnrt_ckpt_close(ck);
    free(b);
}

/* A file of header json (padded) and datalen bytes of data. */
static void write_st(const char *path, const char *json, size_t datalen)
{
    size_t n = strlen(json), pad = (n + 7) / 8 * 8;
    uint8_t *b = calloc(8 + pad + datalen + 1, 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)pad >> (8 * i));
    memcpy(b + 8, json, n);
    memset(b + 8 + n, ' ', pad - n);
    spit(path, b, 8 + pad + datalen);
    free(b);
}

#define E2(a, b) "{\"" a "\":" b "}"
#define ENT(dt, sh, of) "{\"dtype\":" dt ",\"shape\":" sh ",\"data_offsets\":" of "}"

static void test_corrupt_headers(void **s)
{
    (void)s;
    static const struct { const char *json; size_t data; const char *want[3]; } cases[] = {
        { "[1,2]", 0, { "invalid header", "expected a JSON object of tensors, found an array" } },
        { "{\"a\":", 0, { "invalid header: expected JSON, found a syntax error" } },
        { "", 0, { "expected a JSON object" } },
        { E2("a", ENT("\"F32\"", "[2]", "[0,8]")) "xyz", 8, { "invalid header: unexpected 'x' (byte" } },
        { E2("a", ENT("\"Q7\"", "[2]", "[0,8]")), 8, { "a: unknown dtype \"Q7\"" } },
        { E2("a", ENT("5", "[2]", "[0,8]")), 8, { "a: expected a string \"dtype\"", "found a number" } },
        { E2("a", "{\"shape\":[2],\"data_offsets\":[0,8]}"), 8, { "a: expected a string \"dtype\"", "found nothing" } },
        { E2("a", ENT("\"F32\"", "[-1]", "[0,8]")), 8, { "a: shape[0]: expected a non-negative integer" } },
        { E2("a", ENT("\"F32\"", "[2.5]", "[0,8]")), 8, { "a: shape[0]: expected a non-negative integer" } },
        { E2("a", ENT("\"F32\"", "\"2\"", "[0,8]")), 8, { "a: expected a \"shape\" array", "found a string" } },
        { E2("a", ENT("\"F32\"", "[1,1,1,1,1,1,1,1,2]", "[0,8]")), 8, { "a: expected at most 8 dimensions, found 9" } },
        { E2("a", ENT("\"F32\"", "[4294967296,4294967296]", "[0,8]")), 8, { "a: shape [4294967296,4294967296]: expected at most 2^59" } },
        { E2("a", ENT("\"F32\"", "[2]", "[8,0]")), 8, { "a: data_offsets [8, 0]: begin is after end" } },
        { E2("a", ENT("\"F32\"", "[2]", "[0]")), 8, { "a: expected \"data_offsets\": [begin, end]" } },
        { E2("a", ENT("\"F32\"", "[2]", "[0,1e300]")), 8, { "a: expected \"data_offsets\"" } },
        { E2("a", ENT("\"F32\"", "[3]", "[0,8]")), 8, { "a: [3] float32 is 12 bytes, but data_offsets [0, 8] span 8" } },
        { "{\"a\":" ENT("\"F32\"", "[2]", "[0,8]") ",\"b\":" ENT("\"F32\"", "[2]", "[4,12]") "}", 12,
          { "invalid safetensors header", "b: data_offsets [4, 12] overlap a's [0, 8]" } },
        { "{\"a\":" ENT("\"F32\"", "[2]", "[0,8]") ",\"b\":" ENT("\"F32\"", "[2]", "[12,20]") "}", 20,
          { "bytes [8, 12) of the data buffer belong to no tensor (a hole before b)" } },
        { E2("a", ENT("\"F32\"", "[2]", "[0,8]")), 12, { "bytes [8, 12) at the end of the data buffer belong to no tensor" } },
        { E2("a", ENT("\"F32\"", "[2]", "[0,8]")), 4, { "truncated: the header describes 8 bytes of tensor data, but only 4" } },
        { "{\"a\":" ENT("\"F32\"", "[1]", "[0,4]") ",\"a\":" ENT("\"F32\"", "[1]", "[4,8]") "}", 8, { "a: the name appears more than once" } },
        { "{\"__metadata__\":{\"step\":5}}", 0, { "__metadata__.step: expected a string, found a number" } },
        { "{\"__metadata__\":[]}", 0, { "__metadata__: expected an object of strings, found an array" } },
        { "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, { "__metadata__.k appears twice" } },
        { "{\"a\":3}", 0, { "a: expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found a number" } },
        { "{\"a\\u0001\\nb\":3}", 0, { "a??b: expected an object" } },
        { "{\"\":" ENT("\"F32\"", "[1]", "[0,4]") "}", 4, { "a tensor has an empty name" } },
        { "{\"a\":1,\"b\":2,\"c\":" ENT("\"F32\"", "[1]", "[0,4]") "}", 4, { "2 problems:", "a: expected", "b: expected" } },
    };
    const char *p = tpath("bad.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_st(p, cases[i].json, cases[i].data);
        cnnrt_ckpt *ck;
        int rc = cnnrt_ckpt_open(p, &ck, err, sizeof err);
        if (rc == CNNRT_OK)
            fail_msg("case %zu (%s) opened without error", i, cases[i].json);
        assert_null(ck);
        assert_int_equal(rc, CNNRT_EFORMAT);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            if (!strstr(err, cases[i].want[k]))
                fail_msg("case %zu (%s): error message lacks \"%s\":\n  %s", i, cases[i].json, cases[i].want[k],
                         err);
        assert_non_null(strstr(err, p));
        if (t_verbose())
            printf("  ok: %s\n", err);
    }

    /* header lengths: absurd, zero, deep nesting */
    uint8_t raw[64] = { 0 };
    raw[5] = 1;                                     /* 2^40 */
    spit(p, raw, sizeof raw);
    cnnrt_ckpt *ck;
    int rc = cnnrt_ckpt_open(p, &ck, err, sizeof err);
    expect_err(rc, "not a safetensors file: the header length is 1099511627776 bytes; expected at most 104857600");
    memset(raw, 0, sizeof raw);
    spit(p, raw, 8);
    rc = cnnrt_ckpt_open(p, &ck, err, sizeof err);
    expect_err(rc, "the header is 0 bytes; expected a JSON object");
    size_t depth = 200000;
    char *deep = malloc(2 * depth + 1);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    write_st(p, deep, 0);
    free(deep);
    rc = cnnrt_ckpt_open(p, &ck, err, sizeof err);
    expect_err(rc, "expected JSON, found a syntax error");
    rc = cnnrt_ckpt_open(tpath("absent.safetensors"), &ck, err, sizeof err);
    expect_err(rc, "absent.safetensors: cannot open: No such file");
    assert_int_equal(rc, CNNRT_EIO);
    rc = cnnrt_ckpt_open(tmpdir, &ck, err, sizeof err);
    expect_err(rc, "expected a safetensors file, found a directory");
}

/* Random corruption: never a crash; an open that succeeds reads every
 * F32 tensor, and gets an error for the rest. */
static void test_fuzz(void **s)
{
    (void)s;
    make_tensors(4);
    const char *p = tpath("f.safetensors"), *q = tpath("fz.safetensors");
    check_ok(cnnrt_ckpt_save(p, T, NT, META, 4, err, sizeof err));
    size_t len;
    uint8_t *b = slurp(p, &len), *c = malloc(len + 64);
    assert_non_null(c);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | b[i];
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 5);
    int opened = 0, failed = 0;
    float *buf = t_falloc(1024);
    for (int it = 0; it < 3000; it++) {
        memcpy(c, b, len);
        size_t n = len;
        int flips = 1 + (int)(cnnrt_rng_u32(&r) % 4);
        for (int k = 0; k < flips; k++) {
            /* mostly in the header, where the structure is */
            size_t at = cnnrt_rng_u32(&r) % 4 ? 8 + cnnrt_rng_u32(&r) % hl : cnnrt_rng_u32(&r) % len;
            static const char pool[] = "{}[]\",:0123456789-.e \\\x01\xff";
            c[at] = cnnrt_rng_u32(&r) % 2 ? (uint8_t)pool[cnnrt_rng_u32(&r) % (sizeof pool - 1)]
                                         : (uint8_t)cnnrt_rng_u32(&r);
        }
        if (it % 10 == 0)
            n = cnnrt_rng_u32(&r) % (len + 32);     /* also change the length */
        spit(q, c, n);
        cnnrt_ckpt *ck;
        int rc = cnnrt_ckpt_open(q, &ck, err, sizeof err);
        if (rc != CNNRT_OK) {
            assert_null(ck);
            assert_true(strlen(err) > strlen(q) + 5);
            failed++;
            continue;
        }
        opened++;
        for (int i = 0; i < cnnrt_ckpt_count(ck); i++) {
            int64_t shape[CNNRT_CKPT_MAX_DIMS];
            int nd = cnnrt_ckpt_shape(ck, i, shape);
            size_t m = 1;
            for (int d = 0; d < nd; d++)
                m *= (size_t)shape[d];
            if (m > 1024)
                continue;
            rc = cnnrt_ckpt_read(ck, cnnrt_ckpt_name(ck, i), nd, shape, buf, err, sizeof err);
            if (strcmp(cnnrt_ckpt_dtype(ck, i), "F32") == 0)
                check_ok(rc);
            else
                expect_err(rc, "float32, found");
        }
        cnnrt_ckpt_close(ck);
    }
    if (t_verbose())
        printf("  3000 corrupted files: %d rejected, %d still valid (flips in padding or data)\n", failed, opened);
    assert_true(failed > 1000);
    /* pure garbage */
    for (int it = 0; it < 200; it++) {
        size_t n = cnnrt_rng_u32(&r) % 200;
        for (size_t i = 0; i < n; i++)
            c[i] = (uint8_t)cnnrt_rng_u32(&r);
        if (n >= 8 && it % 2)
            memset(c + 3, 0, 5);                    /* a plausible length word */
        spit(q, c, n);
        cnnrt_ckpt *ck;
        if (cnnrt_ckpt_open(q, &ck, err, sizeof err) == CNNRT_OK)
            cnnrt_ckpt_close(ck);
    }
    free(buf);
    free(b);
    free(c);
}

/* ---- reading the wrong thing ------------------------------------------------------ */

static void test_wrong_shape_dtype_missing(void **s)
{
    (void)s;
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 6);
    float w[64 * 3], b16[2] = { 0 };
    t_fill(w, 64 * 3, &r, -1, 1);
    cnnrt_ckpt_tensor t[] = { { "conv1.weight", 4, { 64, 3, 1, 1 }, w } };
    const char *p = tpath("w.safetensors");
    check_ok(cnnrt_ckpt_save(p, t, 1, NULL, 0, err, sizeof err));
    cnnrt_ckpt *ck;
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    float out[64 * 27];
    int64_t want[4] = { 64, 3, 3, 3 };
    int rc = cnnrt_ckpt_read(ck, "conv1.weight", 4, want, out, err, sizeof err);
    expect_err(rc, "");
    char exact[600];
    snprintf(exact, sizeof exact, "%s: conv1.weight: expected [64, 3, 3, 3] float32, found [64, 3, 1, 1] float32", p);
    assert_string_equal(err, exact);
    int64_t fc[2] = { 10, 84 };
    rc = cnnrt_ckpt_read(ck, "fc.weight", 2, fc, out, err, sizeof err);
    snprintf(exact, sizeof exact, "%s: no tensor fc.weight (expected [10, 84] float32); the file has 1 tensor", p);
    expect_err(rc, "");
    assert_string_equal(err, exact);
    cnnrt_ckpt_close(ck);

    /* a float16 tensor (written by hand, as PyTorch could) */
    write_st(tpath("h.safetensors"), E2("x", ENT("\"F16\"", "[2]", "[0,4]")), 4);
    (void)b16;
    check_ok(cnnrt_ckpt_open(tpath("h.safetensors"), &ck, err, sizeof err));
    assert_string_equal(cnnrt_ckpt_dtype(ck, 0), "F16");
    int64_t two[1] = { 2 };
    rc = cnnrt_ckpt_read(ck, "x", 1, two, out, err, sizeof err);
    expect_err(rc, "x: expected [2] float32, found [2] float16");
    cnnrt_ckpt_close(ck);
}

static void test_check_against_network(void **s)
{
    (void)s;
    make_tensors(7);
    const char *p = tpath("net.safetensors");
    check_ok(cnnrt_ckpt_save(p, T, NT, NULL, 0, err, sizeof err));
    cnnrt_ckpt *ck;
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    /* the same network: fine with optimizer state allowed */
    cnnrt_ckpt_tensor same[NT - 1];
    int k = 0;
    for (int i = 0; i < NT; i++)
        if (strncmp(T[i].name, CNNRT_OPTIM_PREFIX, strlen(CNNRT_OPTIM_PREFIX)) != 0)
            same[k++] = T[i];
    check_ok(cnnrt_ckpt_check(ck, same, k, 1, err, sizeof err));
    int rc = cnnrt_ckpt_check(ck, same, k, 0, err, sizeof err);
    expect_err(rc, "does not match the network (1 problem)",
               "unexpected __optim__.m.conv1.weight ([6, 1, 5, 5] float32)");
    /* another network */
    cnnrt_ckpt_tensor other[] = {
        { "conv1.weight", 4, { 6, 3, 5, 5 }, NULL },
        { "conv1.bias", 1, { 6 }, NULL },
        { "fc2.weight", 2, { 10, 84 }, NULL },
    };
    rc = cnnrt_ckpt_check(ck, other, 3, 1, err, sizeof err);
    expect_err(rc, "net.safetensors: does not match the network (6 problems):",
               "\n  conv1.weight: expected [6, 3, 5, 5] float32, found [6, 1, 5, 5] float32",
               "\n  missing fc2.weight (expected [10, 84] float32)",
               "\n  unexpected fc.weight ([10, 20] float32): the network has no such tensor",
               "\n  unexpected empty ([0, 3] float32)", "unexpected scale ([] float32)");
    cnnrt_ckpt_close(ck);

    /* *.num_batches_tracked in the file is ignored */
    write_st(p, "{\"bn.num_batches_tracked\":" ENT("\"I64\"", "[]", "[0,8]") ",\"bn.weight\":"
             ENT("\"F32\"", "[1]", "[8,12]") "}", 12);
    check_ok(cnnrt_ckpt_open(p, &ck, err, sizeof err));
    cnnrt_ckpt_tensor bn[] = { { "bn.weight", 1, { 1 }, NULL } };
    check_ok(cnnrt_ckpt_check(ck, bn, 1, 0, err, sizeof err));
    cnnrt_ckpt_close(ck);
}

static void test_save_errors(void **s)
{
    (void)s;
    make_tensors(8);
    const char *p = tpath("keep.safetensors");
    check_ok(cnnrt_ckpt_save(p, T, NT, META, 4, err, sizeof err));
    size_t l0;
    uint8_t *before = slurp(p, &l0);
    float x[4] = { 1, 2, 3, 4 };
    cnnrt_ckpt_tensor dup[] = { { "a", 1, { 4 }, x }, { "b", 1, { 4 }, x }, { "a", 1, { 2 }, x } };
    int rc = cnnrt_ckpt_save(p, dup, 3, NULL, 0, err, sizeof err);
    expect_err(rc, "keep.safetensors: cannot save: tensor name a appears twice");
    cnnrt_ckpt_tensor md[] = { { "__metadata__", 1, { 4 }, x } };
    rc = cnnrt_ckpt_save(p, md, 1, NULL, 0, err, sizeof err);
    expect_err(rc, "expected a non-empty name other than __metadata__");
    cnnrt_ckpt_tensor neg[] = { { "a", 2, { 4, -1 }, x } };
    rc = cnnrt_ckpt_save(p, neg, 1, NULL, 0, err, sizeof err);
    expect_err(rc, "cannot save a: shape [4, -1]");
    cnnrt_ckpt_tensor nul[] = { { "a", 1, { 4 }, NULL } };
    rc = cnnrt_ckpt_save(p, nul, 1, NULL, 0, err, sizeof err);
    expect_err(rc, "cannot save a: data is NULL");
    cnnrt_ckpt_tensor deep[] = { { "a", 9, { 1 }, x } };
    rc = cnnrt_ckpt_save(p, deep, 1, NULL, 0, err, sizeof err);
    expect_err(rc, "cannot save a: expected 0..8 dimensions, found 9");
    const cnnrt_ckpt_meta mm[] = { { "k", "1" }, { "k", "2" } };
    rc = cnnrt_ckpt_save(p, dup, 2, mm, 2, err, sizeof err);
    expect_err(rc, "metadata key k appears twice");
    rc = cnnrt_ckpt_save(tpath("no/such/dir/x.safetensors"), dup, 2, NULL, 0, err, sizeof err);
    expect_err(rc, "no/such/dir/x.safetensors: cannot create a temporary file next to it: No such file");
    assert_int_equal(rc, CNNRT_EIO);
    /* nothing changed, nothing left behind */
    size_t l1;
    uint8_t *after = slurp(p, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(before, after, l0);
    assert_int_equal(count_files(".tmp."), 0);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_pytorch),
        cmocka_unit_test(test_atomic_kill),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_wrong_shape_dtype_missing),
        cmocka_unit_test(test_check_against_network),
        cmocka_unit_test(test_save_errors),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    for (int i = 0; i < NT; i++)
        free(Tdata[i]);
    return rc;
}
