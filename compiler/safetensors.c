/*
 * safetensors.c — read float32 tensors by PyTorch state-dict name.
 *
 * The format (https://github.com/huggingface/safetensors):
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON | data buffer
 *
 *   { "conv1.weight": { "dtype": "F32", "shape": [64, 3, 7, 7],
 *                       "data_offsets": [begin, end] },      (relative to the buffer)
 *     ...,
 *     "__metadata__": { "key": "value", ... } }              (optional, strings only)
 *
 * Reading is three steps, each of which stops at the first step that found
 * problems:
 *   1. the file: big enough for the length word, the header length within
 *      the file and at most 100 MiB, the JSON valid and an object;
 *   2. the header: every entry an object with a string dtype, a shape of
 *      non-negative integers, offsets in range, sized as dtype × shape, no
 *      two entries sharing bytes, no bytes belonging to no entry (as the
 *      reference implementation demands), no duplicate names;
 *   3. the names: every tensor the network expects (weights_spec) present,
 *      float32 and of exactly the expected shape; nothing else present except
 *      *.num_batches_tracked and __optim__.* (ignored, DESIGN.md).
 * Steps 2 and 3 list all their problems in one error (capped at 50 lines).
 * Data is read with fread at 64-bit offsets and converted from little-endian
 * explicitly, so files of several GB work on any host.
 */
#include "cnnc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define ST_MAX_HEADER (100LL << 20)     /* bytes of JSON we are willing to read */
#define ST_MAX_PROBLEMS 50              /* lines listed in one error */
#define ST_MAX_INT 9007199254740992.0   /* 2^53: integers a JSON double holds exactly */

typedef struct Entry {
    const char *name;
    const char *dtype;        /* as written ("F32"), NULL when not a string */
    int esize;                /* bytes per element, 0 for an unknown dtype */
    int ndim;
    long long *dims;
    long long numel;
    long long begin, end;     /* in the data buffer */
    bool ignored;             /* num_batches_tracked, __optim__.* */
    bool used;
} Entry;

/* ---- problem list: one error, one indented line per problem ------------- */

typedef struct Problems {
    char *buf;
    size_t len;
    FILE *f;                  /* memstream over buf */
    int n;
} Problems;

static void prob_open(Problems *p) {
    p->buf = NULL;
    p->len = 0;
    p->n = 0;
    p->f = open_memstream(&p->buf, &p->len);
}

/* s with anything but printable ASCII and valid UTF-8 shown as '?', so that
 * names from a hostile file cannot upset the terminal. */
static const char *printable(const char *s) {
    size_t n = strlen(s);
    char *r = arena_alloc(n + 1);
    const unsigned char *u = (const unsigned char *)s, *end = u + n;
    size_t k = 0;
    while (u < end) {
        int len = *u >= 32 && *u < 127 ? 1 : (*u & 0xe0) == 0xc0 && *u >= 0xc2 ? 2 : (*u & 0xf0) == 0xe0 ? 3
                : (*u & 0xf8) == 0xf0 && *u <= 0xf4 ? 4 : 0;
        if (len > end - u) len = 0;
        for (int i = 1; i < len; i++)
            if ((u[i] & 0xc0) != 0x80) len = 0;
        if (len == 3 && ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0))) len = 0;
        if (len == 4 && ((u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] >= 0x90))) len = 0;
        if (len) { memcpy(r + k, u, (size_t)len); k += (size_t)len; u += len; }
        else { r[k++] = '?'; u++; }
    }
    r[k] = 0;
    return r;
}

static void prob_add(Problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prob_add(Problems *p, const char *fmt, ...) {
    if (++p->n > ST_MAX_PROBLEMS || !p->f) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(p->f, "\n  %s", printable(line));
}

/* Print "PATH: error: HEADLINE" plus the listed lines and an optional
 * closing note, as one error. */
static void prob_report(Problems *p, const char *path, const char *headline, const char *note) {
    if (p->f) {
        if (p->n > ST_MAX_PROBLEMS) fprintf(p->f, "\n  ... and %d more", p->n - ST_MAX_PROBLEMS);
        if (note) fprintf(p->f, "\n  note: %s", note);
        fclose(p->f);
        p->f = NULL;
    }
    diag_file_error(path, "%s%s", headline, p->buf ? p->buf : "");
    free(p->buf);
    p->buf = NULL;
}

static void prob_discard(Problems *p) {
    if (p->f) fclose(p->f);
    free(p->buf);
    p->f = NULL;
    p->buf = NULL;
}

/* ---- small helpers -------------------------------------------------------- */

static const char *plural(long long n, const char *one, const char *many) { return n == 1 ? one : many; }

static int dtype_size(const char *d) {
    static const struct { const char *name; int size; } t[] = {
        { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
        { "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },
        { "I32", 4 }, { "U32", 4 }, { "F32", 4 },
        { "I64", 8 }, { "U64", 8 }, { "F64", 8 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(d, t[i].name) == 0) return t[i].size;
    return 0;
}

/* "float32" for F32, PyTorch's names for the rest */
static const char *dtype_str(const char *d) {
    static const struct { const char *st, *torch; } t[] = {
        { "F32", "float32" }, { "F16", "float16" }, { "BF16", "bfloat16" }, { "F64", "float64" },
        { "I64", "int64" }, { "I32", "int32" }, { "I16", "int16" }, { "I8", "int8" },
        { "U8", "uint8" }, { "BOOL", "bool" },
    };
    if (!d) return "(no dtype)";
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(d, t[i].st) == 0) return t[i].torch;
    return arena_printf("dtype \"%.40s\"", d);
}

static const char *dims_str(int ndim, const long long *dims) {
    char buf[256];
    size_t k = 0;
    buf[k++] = '[';
    for (int i = 0; i < ndim && k < sizeof buf - 32; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", i ? ", " : "", dims[i]);
    snprintf(buf + k, sizeof buf - k, "]");
    return arena_strdup(buf);
}

static bool is_ignored(const char *name) {
    static const char sfx[] = ".num_batches_tracked";
    size_t n = strlen(name), s = sizeof sfx - 1;
    return strncmp(name, "__optim__.", 10) == 0 || (n > s && strcmp(name + n - s, sfx) == 0);
}

/* A JSON number that is an integer in [0, 2^53], else -1. */
static long long json_count(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_INT) || d != floor(d)) return -1;
    return (long long)d;
}

static const char *json_kind(const cJSON *v) {
    return cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array" : cJSON_IsString(v) ? "a string"
         : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean" : cJSON_IsNull(v) ? "null" : "?";
}

static const char *json_show(const cJSON *v) {
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return "?";
    const char *r = strlen(s) > 60 ? arena_printf("%.57s...", s) : arena_strdup(s);
    cJSON_free(s);
    return r;
}

static int entry_cmp_name(const void *a, const void *b) {
    return strcmp((*(Entry *const *)a)->name, (*(Entry *const *)b)->name);
}

static int entry_cmp_begin(const void *a, const void *b) {
    const Entry *x = *(Entry *const *)a, *y = *(Entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

static Entry *find_entry(Entry **sorted, int n, const char *name) {
    Entry key = { .name = name }, *kp = &key;
    Entry **e = bsearch(&kp, sorted, (size_t)n, sizeof *sorted, entry_cmp_name);
    return e ? *e : NULL;
}

/* ---- __metadata__ ------------------------------------------------------------ */

/* The metadata of the last file loaded, and for which graph. */
static const Graph *meta_graph;
static int meta_n;
static const char **meta_keys, **meta_vals;

const char *weights_metadata(const Graph *g, const char *key) {
    if (g != meta_graph) return NULL;
    for (int i = 0; i < meta_n; i++)
        if (strcmp(meta_keys[i], key) == 0) return meta_vals[i];
    return NULL;
}

static void read_metadata(const Graph *g, const cJSON *m, Problems *pr) {
    if (!cJSON_IsObject(m)) {
        prob_add(pr, "__metadata__: expected an object of strings, found %s", json_kind(m));
        return;
    }
    int n = cJSON_GetArraySize(m), k = 0;
    const char **keys = arena_alloc(sizeof *keys * (size_t)(n + 1));
    const char **vals = arena_alloc(sizeof *vals * (size_t)(n + 1));
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v)) {
            prob_add(pr, "__metadata__.%s: expected a string, found %s %s", v->string, json_kind(v),
                     json_show(v));
            continue;
        }
        keys[k] = arena_strdup(v->string);
        vals[k++] = arena_strdup(v->valuestring);
    }
    meta_graph = g;
    meta_n = k;
    meta_keys = keys;
    meta_vals = vals;
}

/* ---- step 2: the header's entries ------------------------------------------ */

/* Fill e from its JSON description; a problem per malformed field. */
static void read_entry(Entry *e, const cJSON *v, long long data_len, Problems *pr) {
    e->name = arena_strdup(v->string);
    e->begin = e->end = -1;
    e->ignored = is_ignored(e->name);
    if (!cJSON_IsObject(v)) {
        prob_add(pr, "%s: expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found %s %s",
                 e->name, json_kind(v), json_show(v));
        return;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    bool ok = true;
    if (cJSON_IsString(dt)) {
        e->dtype = arena_strdup(dt->valuestring);
        e->esize = dtype_size(e->dtype);
    } else {
        prob_add(pr, "%s: expected a string \"dtype\" (e.g. \"F32\"), found %s", e->name,
                 dt ? json_show(dt) : "none");
        ok = false;
    }

    if (!cJSON_IsArray(sh)) {
        prob_add(pr, "%s: expected a \"shape\" array of integers, found %s", e->name, sh ? json_show(sh) : "none");
        ok = false;
    } else {
        int nd = cJSON_GetArraySize(sh), i = 0;
        e->ndim = nd;
        e->dims = arena_alloc(sizeof *e->dims * (size_t)(nd + 1));
        e->numel = 1;
        for (const cJSON *d = sh->child; d; d = d->next, i++) {
            long long x = json_count(d);
            if (x < 0) {
                prob_add(pr, "%s: shape[%d]: expected a non-negative integer, found %s", e->name, i, json_show(d));
                ok = false;
                break;
            }
            e->dims[i] = x;
            /* overflow-checked: no tensor can have more elements than the file has bytes */
            if (e->numel && x > (1LL << 59) / e->numel) {      /* so numel * 8 bytes fits too */
                prob_add(pr, "%s: shape %s: expected at most 2^59 elements, found more", e->name, json_show(sh));
                ok = false;
                break;
            }
            e->numel *= x;
        }
    }

    long long b = -1, en = -1;
    if (cJSON_IsArray(of) && cJSON_GetArraySize(of) == 2) {
        b = json_count(of->child);
        en = json_count(of->child->next);
    }
    if (b < 0 || en < 0) {
        prob_add(pr, "%s: expected \"data_offsets\": [begin, end] (two non-negative integers), found %s",
                 e->name, of ? json_show(of) : "none");
        return;
    }
    e->begin = b;
    e->end = en;
    if (b > en) {
        prob_add(pr, "%s: data_offsets [%lld, %lld]: begin is after end", e->name, b, en);
        ok = false;
    } else if (en > data_len) {
        prob_add(pr, "%s: data_offsets [%lld, %lld]: expected within the %lld-byte data buffer", e->name, b,
                 en, data_len);
        ok = false;
    }
    if (ok && e->esize && e->numel * e->esize != en - b)
        prob_add(pr, "%s: %s %s is %lld bytes, but data_offsets [%lld, %lld] span %lld", e->name,
                 dims_str(e->ndim, e->dims), dtype_str(e->dtype), e->numel * e->esize, b, en, en - b);
}

/* Entries must not share bytes, and (as in the reference implementation)
 * must cover the data buffer without holes. */
static void check_layout(Entry *es, int n, long long data_len, Problems *pr) {
    Entry **by = malloc(sizeof *by * (size_t)(n ? n : 1));
    if (!by) return;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (es[i].begin >= 0 && es[i].begin <= es[i].end && es[i].end <= data_len) by[m++] = &es[i];
    qsort(by, (size_t)m, sizeof *by, entry_cmp_begin);
    long long pos = 0;
    const Entry *prev = NULL;
    for (int i = 0; i < m; i++) {
        const Entry *e = by[i];
        if (e->begin == e->end) continue;          /* empty tensors own no bytes */
        if (e->begin < pos)
            prob_add(pr, "%s: data_offsets [%lld, %lld] overlap %s's [%lld, %lld]", e->name, e->begin, e->end,
                     prev->name, prev->begin, prev->end);
        else if (e->begin > pos)
            prob_add(pr, "bytes [%lld, %lld) of the data buffer belong to no tensor (a hole before %s)", pos,
                     e->begin, e->name);
        if (e->end > pos) { pos = e->end; prev = e; }
    }
    if (pos < data_len && m == n)
        prob_add(pr, "bytes [%lld, %lld) at the end of the data buffer belong to no tensor", pos, data_len);
    free(by);
}

/* ---- step 3: names against the network --------------------------------------- */

static Node *find_node(Graph *g, const char *name, size_t len) {
    for (int i = 0; i < g->nnodes; i++)
        if (strlen(g->nodes[i]->name) == len && strncmp(g->nodes[i]->name, name, len) == 0) return g->nodes[i];
    return NULL;
}

static const char *where(const Node *n) {
    return arena_printf("%s '%s' at %s:%d:%d", n->kind->name, n->name,
                        n->loc.file ? n->loc.file->name : "?", n->loc.line, n->loc.col);
}

/* Why the network does not want e. */
static const char *why_unexpected(Graph *g, const Entry *e) {
    const char *dot = strrchr(e->name, '.');
    Node *n = dot ? find_node(g, e->name, (size_t)(dot - e->name)) : NULL;
    if (!n) return "the network has no layer of that name";
    ParamSpec ps[MAX_PARAM_TENSORS];
    int k = weights_spec(n, ps);
    if (k == 0) return arena_printf("%s has no parameters", where(n));
    if (strcmp(dot + 1, "bias") == 0 && (n->kind->id == K_CONV || n->kind->id == K_DENSE))
        return arena_printf("%s has no bias (nobias)", where(n));
    if ((strcmp(dot + 1, "weight") == 0 || strcmp(dot + 1, "bias") == 0) && !n->affine)
        return arena_printf("%s is not affine", where(n));
    return arena_printf("%s has no '%s'", where(n), dot + 1);
}

/* If an unexpected name is some expected name with a prefix added
 * ("module.conv1.weight" for "conv1.weight"), that prefix, else NULL. */
static const char *names_prefix(Graph *g, Entry **sorted, int n) {
    for (int i = 0; i < n; i++) {
        const Entry *e = sorted[i];
        if (e->used || e->ignored) continue;
        for (const char *dot = strchr(e->name, '.'); dot; dot = strchr(dot + 1, '.')) {
            const char *rest = dot + 1, *last = strrchr(rest, '.');
            if (!last) break;
            Node *nd = find_node(g, rest, (size_t)(last - rest));
            if (!nd) continue;
            ParamSpec ps[MAX_PARAM_TENSORS];
            int k = weights_spec(nd, ps);
            for (int j = 0; j < k; j++)
                if (strcmp(ps[j].suffix, last + 1) == 0) return arena_strndup(e->name, (size_t)(rest - e->name));
        }
    }
    return NULL;
}

/* Read one tensor's float32 data into a fresh array. */
static float *read_f32(FILE *f, const char *path, long long at, long long numel) {
    float *d = arena_alloc(sizeof(float) * (size_t)(numel ? numel : 1));
    unsigned char *bytes = (unsigned char *)d;
    if (fseeko(f, (off_t)at, SEEK_SET) != 0 || fread(bytes, 4, (size_t)numel, f) != (size_t)numel) {
        diag_file_error(path, "cannot read %lld bytes at offset %lld: %s", numel * 4, at,
                        ferror(f) ? strerror(errno) : "unexpected end of file");
        return NULL;
    }
    for (long long i = 0; i < numel; i++) {          /* little-endian, in place */
        const unsigned char *b = bytes + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float x;
        memcpy(&x, &u, sizeof x);
        d[i] = x;
    }
    return d;
}

/* ---- the reader -------------------------------------------------------------- */

static int load(Graph *g, const char *path, FILE *f) {
    meta_graph = NULL;        /* no metadata from an earlier file (its graph may be freed) */
    meta_n = 0;
    /* step 1: the file */
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        diag_file_error(path, "cannot read the weights file: %s", strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_file_error(path, "expected a safetensors file, found a %s",
                        S_ISDIR(st.st_mode) ? "directory" : "special file");
        return 1;
    }
    long long size = (long long)st.st_size;
    unsigned char lenb[8];
    if (size < 8 || fread(lenb, 1, 8, f) != 8) {
        diag_file_error(path, "not a safetensors file: expected at least 8 bytes (the header length), found %lld",
                        size < 0 ? 0 : size);
        return 1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | lenb[i];
    if (hlen > (uint64_t)(size - 8)) {
        diag_file_error(path, "truncated or not a safetensors file: the header length is %llu bytes, "
                        "but only %lld bytes follow it", (unsigned long long)hlen, size - 8);
        return 1;
    }
    if (hlen > (uint64_t)ST_MAX_HEADER) {
        diag_file_error(path, "the header length is %llu bytes; expected at most %lld (100 MiB)",
                        (unsigned long long)hlen, ST_MAX_HEADER);
        return 1;
    }
    if (hlen < 2) {
        diag_file_error(path, "the header is %llu bytes; expected a JSON object", (unsigned long long)hlen);
        return 1;
    }
    char *hdr = malloc((size_t)hlen + 1);
    if (!hdr) {
        diag_file_error(path, "out of memory reading a %llu-byte header", (unsigned long long)hlen);
        return 1;
    }
    if (fread(hdr, 1, (size_t)hlen, f) != (size_t)hlen) {
        diag_file_error(path, "cannot read the %llu-byte header: %s", (unsigned long long)hlen,
                        ferror(f) ? strerror(errno) : "unexpected end of file");
        free(hdr);
        return 1;
    }
    hdr[hlen] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, false);
    if (root) {                                       /* only spaces may pad the JSON */
        const char *p = end;
        while (p < hdr + hlen && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < hdr + hlen) {
            diag_file_error(path, "invalid header: unexpected '%c' (byte %lld of the JSON) after the object",
                            (*p >= 32 && *p < 127) ? *p : '?', (long long)(p - hdr));
            cJSON_Delete(root);
            free(hdr);
            return 1;
        }
    }
    if (!root) {
        long long at = end && end >= hdr && end <= hdr + hlen ? (long long)(end - hdr) : 0;
        diag_file_error(path, "invalid header: expected JSON, found a syntax error at byte %lld of the %llu-byte "
                        "header (near \"%s\")", at, (unsigned long long)hlen,
                        printable(arena_strndup(hdr + at, strcspn(hdr + at, "\n\r\t") < 20 ? strcspn(hdr + at, "\n\r\t") : 20)));
        free(hdr);
        return 1;
    }
    free(hdr);
    if (!cJSON_IsObject(root)) {
        diag_file_error(path, "invalid header: expected a JSON object of tensors, found %s", json_kind(root));
        cJSON_Delete(root);
        return 1;
    }

    /* step 2: the entries */
    long long data_start = 8 + (long long)hlen, data_len = size - data_start;
    int n = 0;
    for (const cJSON *v = root->child; v; v = v->next)
        if (strcmp(v->string, "__metadata__") != 0) n++;
    Entry *es = arena_alloc(sizeof *es * (size_t)(n + 1));
    Problems pr;
    prob_open(&pr);
    int k = 0, nmeta = 0;
    long long need = 0;
    for (const cJSON *v = root->child; v; v = v->next) {
        if (strcmp(v->string, "__metadata__") == 0) {
            if (nmeta++) prob_add(&pr, "__metadata__ appears twice");
            else read_metadata(g, v, &pr);
            continue;
        }
        read_entry(&es[k], v, data_len, &pr);
        if (es[k].end > need) need = es[k].end;
        k++;
    }
    cJSON_Delete(root);
    if (need > data_len) {                             /* a truncated file: say so, once */
        prob_discard(&pr);
        diag_file_error(path, "truncated: the header describes %lld bytes of tensor data, but only %lld follow "
                        "it (expected a file of %lld bytes, found %lld)", need, data_len, data_start + need, size);
        return 1;
    }
    Entry **sorted = arena_alloc(sizeof *sorted * (size_t)(n + 1));
    for (int i = 0; i < n; i++) sorted[i] = &es[i];
    qsort(sorted, (size_t)n, sizeof *sorted, entry_cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(sorted[i]->name, sorted[i - 1]->name) == 0 &&
            (i < 2 || strcmp(sorted[i]->name, sorted[i - 2]->name) != 0))
            prob_add(&pr, "%s: the name appears more than once", sorted[i]->name);
    if (!pr.n) check_layout(es, n, data_len, &pr);
    if (pr.n) {
        const char *h = arena_printf("invalid safetensors header: %d %s", pr.n, plural(pr.n, "problem:", "problems:"));
        prob_report(&pr, path, h, NULL);
        return 1;
    }

    /* step 3: the network's tensors */
    const char *src = g->file ? g->file->name : "the network";
    for (int i = 0; i < g->nnodes; i++) {
        Node *nd = g->nodes[i];
        ParamSpec ps[MAX_PARAM_TENSORS];
        int m = weights_spec(nd, ps);
        for (int j = 0; j < m; j++) {
            const char *name = arena_printf("%s.%s", nd->name, ps[j].suffix);
            Entry *e = find_entry(sorted, n, name);
            const char *want = dims_str(ps[j].ndim, ps[j].dims);
            if (!e) {
                prob_add(&pr, "missing %s %s float32 (for %s)", name, want, where(nd));
                continue;
            }
            e->used = true;
            bool same = e->ndim == ps[j].ndim;
            for (int d = 0; same && d < e->ndim; d++) same = e->dims[d] == ps[j].dims[d];
            if (!same || strcmp(e->dtype, "F32") != 0)
                prob_add(&pr, "%s: expected shape %s float32, found %s %s (for %s)%s", name, want,
                         dims_str(e->ndim, e->dims), dtype_str(e->dtype), where(nd),
                         strcmp(e->dtype, "F32") == 0 ? "" : "; save it with .float()");
        }
    }
    for (int i = 0; i < n; i++)
        if (!sorted[i]->used && !sorted[i]->ignored)
            prob_add(&pr, "unexpected %s %s %s (%s)", sorted[i]->name, dims_str(sorted[i]->ndim, sorted[i]->dims),
                     dtype_str(sorted[i]->dtype), why_unexpected(g, sorted[i]));
    if (pr.n) {
        const char *prefix = names_prefix(g, sorted, n);
        const char *note = prefix ? arena_printf("the file's names carry an extra prefix '%s' (as nn.DataParallel "
                                                 "or a wrapper module adds); save the inner module's state_dict()",
                                                 prefix) : NULL;
        const char *h = arena_printf("%d %s the network '%s' (%s):", pr.n,
                                     plural(pr.n, "tensor does not match", "tensors do not match"), g->name, src);
        prob_report(&pr, path, h, note);
        return 1;
    }
    prob_discard(&pr);

    /* all good: read the data */
    for (int i = 0; i < g->nnodes; i++) {
        Node *nd = g->nodes[i];
        ParamSpec ps[MAX_PARAM_TENSORS];
        int m = weights_spec(nd, ps);
        for (int j = 0; j < m; j++) {
            Entry *e = find_entry(sorted, n, arena_printf("%s.%s", nd->name, ps[j].suffix));
            float *d = read_f32(f, path, data_start + e->begin, ps[j].numel);
            if (!d) return 1;
            *ps[j].slot = d;
        }
    }
    return 0;
}

int weights_load_safetensors(Graph *g, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(path, "cannot open the weights file: %s", strerror(errno));
        return 1;
    }
    int nerr = load(g, path, f);
    fclose(f);
    return nerr;
}
