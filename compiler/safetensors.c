/*
 * safetensors.c — cnnc's --weights: take each layer's tensors, by PyTorch
 * state-dict name, from a safetensors file.
 *
 * The format is read and validated by cnnrt's one reader
 * (runtime/safetensors.c, linked into cnnc): the file, its header and every
 * entry, stopping there with one error when anything is wrong.  This file
 * does the rest, the names against the network: every tensor the network
 * expects (weights_spec) present, float32 and of exactly the expected shape;
 * nothing else present except *.num_batches_tracked and __optim__.*
 * (ignored; docs/checkpoint.md).  It lists all its problems in one error
 * (capped at 50 lines), then reads the data.
 */
#include "cnnc.h"
#include "cnnrt_st.h"   /* the reader (runtime/safetensors.c) */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_PROBLEMS 50              /* lines listed in one error */

typedef struct Entry {
    const char *name;
    const char *dtype;        /* "F32", ... */
    int ndim;
    long long dims[CNNRT_CKPT_MAX_DIMS];
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

/* PyTorch's names ("float32" for F32) */
static const char *dtype_str(const char *d) { return cnnrt_st_dtype_name(d); }

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

static int entry_cmp_name(const void *a, const void *b) {
    return strcmp((*(Entry *const *)a)->name, (*(Entry *const *)b)->name);
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

int weights_normalize(const Graph *g, long long c, double *mean, double *std) {
    const char *norm = weights_metadata(g, "normalize");
    if (!norm) return 0;
    double nm[2 * NORM_MAX_CHANNELS];
    int nn = 0;
    const char *p = norm;
    char *end = NULL;
    while (nn < 2 * NORM_MAX_CHANNELS) {
        nm[nn++] = strtod(p, &end);
        if (end == p) { nn = -1; break; }
        if (*end != ',') break;
        p = end + 1;
    }
    if (nn > 0 && *end) nn = -1;
    bool ok = c <= NORM_MAX_CHANNELS && (nn == 2 || nn == 2 * c);
    for (int i = 0; ok && i < nn; i++) ok = isfinite(nm[i]) && (i < nn / 2 || nm[i] > 0);
    if (!ok) return -1;
    for (long long k = 0; k < c; k++) {
        mean[k] = nn == 2 ? nm[0] : nm[k];
        std[k] = nn == 2 ? nm[1] : nm[c + k];
    }
    return 1;
}

/* Keep the file's metadata for weights_metadata. */
static void keep_metadata(const Graph *g, const cnnrt_ckpt *ck) {
    int n = cnnrt_ckpt_meta_count(ck);
    meta_keys = arena_alloc(sizeof *meta_keys * (size_t)(n + 1));
    meta_vals = arena_alloc(sizeof *meta_vals * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        meta_keys[i] = arena_strdup(cnnrt_ckpt_meta_key(ck, i));
        meta_vals[i] = arena_strdup(cnnrt_ckpt_meta_value(ck, i));
    }
    meta_graph = g;
    meta_n = n;
}

/* ---- names against the network ------------------------------------------------- */

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
    if (strcmp(dot + 1, "bias") == 0 && layer_attr(n->kind, "bias"))
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

/* ---- the reader -------------------------------------------------------------- */

/* Load g's tensors from f (named path), which this closes. */
static int load(Graph *g, const char *path, FILE *f) {
    meta_graph = NULL;        /* no metadata from an earlier file (its graph may be freed) */
    meta_n = 0;
    /* the file, its header, its entries */
    char err[8192];
    cnnrt_ckpt *ck;
    if (cnnrt_st_open(f, path, 0, &ck, err, sizeof err) != CNNRT_OK) {
        diag_file_error(path, "%s", err);
        return 1;
    }
    keep_metadata(g, ck);
    int n = cnnrt_ckpt_count(ck);
    Entry *es = arena_alloc(sizeof *es * (size_t)(n + 1));
    Entry **sorted = arena_alloc(sizeof *sorted * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {          /* sorted by name already */
        int64_t shape[CNNRT_CKPT_MAX_DIMS];
        es[i].name = arena_strdup(cnnrt_ckpt_name(ck, i));
        es[i].dtype = cnnrt_ckpt_dtype(ck, i);
        es[i].ndim = cnnrt_ckpt_shape(ck, i, shape);
        for (int d = 0; d < es[i].ndim; d++) es[i].dims[d] = shape[d];
        es[i].ignored = is_ignored(es[i].name);
        sorted[i] = &es[i];
    }
    Problems pr;
    prob_open(&pr);

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
        cnnrt_ckpt_close(ck);
        return 1;
    }
    prob_discard(&pr);

    /* all good: read the data */
    for (int i = 0; i < g->nnodes; i++) {
        Node *nd = g->nodes[i];
        ParamSpec ps[MAX_PARAM_TENSORS];
        int m = weights_spec(nd, ps);
        for (int j = 0; j < m; j++) {
            int64_t shape[CNNRT_CKPT_MAX_DIMS];
            for (int d = 0; d < ps[j].ndim; d++) shape[d] = ps[j].dims[d];
            float *d = arena_alloc(sizeof(float) * (size_t)(ps[j].numel ? ps[j].numel : 1));
            if (cnnrt_ckpt_read(ck, arena_printf("%s.%s", nd->name, ps[j].suffix), ps[j].ndim, shape, d, err,
                                sizeof err) != CNNRT_OK) {
                diag_file_error(path, "%s", err);
                cnnrt_ckpt_close(ck);
                return 1;
            }
            *ps[j].slot = d;
        }
    }
    cnnrt_ckpt_close(ck);
    return 0;
}

int weights_load_safetensors(Graph *g, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(path, "cannot open the weights file: %s", strerror(errno));
        return 1;
    }
    return load(g, path, f);      /* which closes f */
}
