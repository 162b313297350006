/*
 * safetensors.c — the one safetensors reader and writer: cnnrt's
 * checkpoints (cnnrt_ckpt_save / _open / _read) and cnnc's --weights.
 *
 *   u64 little-endian N | N bytes of JSON, space-padded to a multiple of 8 | data
 *
 *   {"__metadata__": {"step": "1200", "seed": "1", "normalize": "0.2860,0.3530"},
 *    "__optim__.m.conv1.weight": {"dtype": "F32", "shape": [6, 1, 5, 5], "data_offsets": [0, 600]},
 *    "conv1.weight": {...}, ...}
 *
 * Writing: tensors sorted by name, offsets contiguous from 0, data
 * little-endian — the bytes tests/ref/st.py (and the safetensors package)
 * write for the same dict.  The file appears atomically (cnnrt_file.h):
 * temporary file in the same directory, fsync, rename over the target,
 * fsync of the directory; a device or FIFO is written in place.
 *
 * Reading validates the whole header at open (see cnnrt.h), keeps it
 * parsed and sorted, and keeps the file open; tensors are read on demand
 * with fseeko/fread at 64-bit offsets and converted from little-endian
 * explicitly, so any host reads any file.
 *
 * Self-contained (libc, cJSON, runtime/outfile.c), so that cnnc links this
 * file without the rest of cnnrt.  IO, not a kernel: allocates (ownership
 * in cnnrt.h), never prints or exits.
 */
#include "cnnrt.h"
#include "cnnrt_file.h"
#include "cnnrt_st.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define CK_MAX_INT 9007199254740992.0   /* 2^53: integers a JSON double holds exactly */
#define CK_IO_CHUNK (1u << 20)          /* floats converted per write/read step */

typedef struct ck_entry {
    char *name;
    const char *dtype;          /* static string from the dtype table */
    int esize;
    int ndim;
    int64_t shape[CNNRT_CKPT_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;        /* in the data buffer */
} ck_entry;

struct cnnrt_ckpt {
    char *path;
    FILE *f;
    uint64_t data_start;        /* 8 + N */
    uint64_t data_len;
    int n;
    ck_entry *e;                /* sorted by name */
    int nmeta;
    char **mkey, **mval;
    const char *mpath, *msep;   /* path and ": " before messages, or "" and "" */
};

/* ---- messages -------------------------------------------------------------- */

void cnnrt_st_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* src into dst[room] with anything but printable ASCII and valid UTF-8
 * shown as '?' (names from a hostile file must not upset a terminal);
 * returns the bytes written, without the terminating 0. */
static size_t printable(char *dst, size_t room, const char *src)
{
    const unsigned char *u = (const unsigned char *)src, *end = u + strlen(src);
    size_t k = 0;
    if (room == 0)
        return 0;
    while (u < end) {
        int len = *u >= 32 && *u < 127 ? 1 : (*u & 0xe0) == 0xc0 && *u >= 0xc2 ? 2 : (*u & 0xf0) == 0xe0 ? 3
                : (*u & 0xf8) == 0xf0 && *u <= 0xf4 ? 4 : 0;
        if (len > end - u)
            len = 0;
        for (int i = 1; i < len; i++)
            if ((u[i] & 0xc0) != 0x80)
                len = 0;
        if (len == 3 && ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0)))
            len = 0;
        if (len == 4 && ((u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] >= 0x90)))
            len = 0;
        size_t w = len ? (size_t)len : 1;
        if (k + w >= room)
            break;
        if (len)
            memcpy(dst + k, u, w);
        else
            dst[k] = '?';
        k += w;
        u += w;
    }
    dst[k] = 0;
    return k;
}

void cnnrt_st_prob_add(cnnrt_st_problems *p, const char *fmt, ...)
{
    if (++p->n > CNNRT_ST_MAX_PROBLEMS || p->len + 3 >= sizeof p->buf)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    memcpy(p->buf + p->len, "\n  ", 4);
    p->len += 3;
    p->len += printable(p->buf + p->len, sizeof p->buf - p->len, line);
}

void cnnrt_st_prob_report(cnnrt_st_problems *p, char *err, size_t errlen, const char *headline, ...)
{
    char head[1024];
    va_list ap;
    va_start(ap, headline);
    vsnprintf(head, sizeof head, headline, ap);
    va_end(ap);
    char more[64] = "";
    if (p->n > CNNRT_ST_MAX_PROBLEMS)
        snprintf(more, sizeof more, "\n  ... and %d more", p->n - CNNRT_ST_MAX_PROBLEMS);
    cnnrt_st_set_err(err, errlen, "%s%s%s", head, p->buf, more);
}

/* A name from a file, safe to print: control and non-ASCII bytes as '?',
 * cut at 120 characters.  Returned by value (no static buffers): use
 * cnnrt_st_show(x).s within one expression. */
cnnrt_st_shown cnnrt_st_show(const char *s)
{
    cnnrt_st_shown r;
    size_t i = 0;
    for (; s[i] && i < 120; i++)
        r.s[i] = (unsigned char)s[i] >= 32 && (unsigned char)s[i] < 127 ? s[i] : '?';
    if (s[i])
        memcpy(r.s + i, "...", 4);
    else
        r.s[i] = 0;
    return r;
}

/* "[64, 3, 3, 3]" into buf */
const char *cnnrt_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t k = 0;
    buf[k++] = '[';
    buf[k] = 0;
    for (int i = 0; i < ndim && k + 24 < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (w > 0)
            k += (size_t)w;
    }
    snprintf(buf + k, n - k, "]");
    return buf;
}

static const struct { const char *st, *torch; int size; } DTYPES[] = {
    { "F32", "float32", 4 }, { "F16", "float16", 2 }, { "BF16", "bfloat16", 2 }, { "F64", "float64", 8 },
    { "I64", "int64", 8 }, { "I32", "int32", 4 }, { "I16", "int16", 2 }, { "I8", "int8", 1 },
    { "U8", "uint8", 1 }, { "BOOL", "bool", 1 }, { "U16", "uint16", 2 }, { "U32", "uint32", 4 },
    { "U64", "uint64", 8 }, { "F8_E5M2", "float8_e5m2", 1 }, { "F8_E4M3", "float8_e4m3fn", 1 },
};

static int dtype_index(const char *d)
{
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(d, DTYPES[i].st) == 0)
            return (int)i;
    return -1;
}

const char *cnnrt_st_dtype_name(const char *st)
{
    int i = dtype_index(st);
    return i < 0 ? st : DTYPES[i].torch;
}

static int host_is_le(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static uint32_t bswap32(uint32_t x)
{
    return x >> 24 | (x >> 8 & 0xff00u) | (x << 8 & 0xff0000u) | x << 24;
}

/* ---- writing ------------------------------------------------------------- */

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const cnnrt_ckpt_tensor *const *)a)->name, (*(const cnnrt_ckpt_tensor *const *)b)->name);
}

int cnnrt_st_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *json_uint(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    return cJSON_CreateRaw(s);
}

/* Check the arguments of a save; returns the sorted tensor order or NULL. */
static const cnnrt_ckpt_tensor **save_check(const char *path, const cnnrt_ckpt_tensor *t, int n,
                                            const cnnrt_ckpt_meta *meta, int nmeta, uint64_t *data_bytes,
                                            int *rc, char *err, size_t errlen)
{
    *rc = CNNRT_EINVAL;
    if (n < 0 || nmeta < 0 || (n > 0 && !t) || (nmeta > 0 && !meta)) {
        cnnrt_st_set_err(err, errlen, "%s: cannot save: bad tensor or metadata list", path);
        return NULL;
    }
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        char sb[256];
        if (!t[i].name || !t[i].name[0] || strcmp(t[i].name, "__metadata__") == 0) {
            cnnrt_st_set_err(err, errlen, "%s: cannot save tensor %d: expected a non-empty name other than __metadata__, "
                    "found %s", path, i, !t[i].name ? "NULL" : t[i].name[0] ? "\"__metadata__\"" : "\"\"");
            return NULL;
        }
        if (t[i].ndim < 0 || t[i].ndim > CNNRT_CKPT_MAX_DIMS) {
            cnnrt_st_set_err(err, errlen, "%s: cannot save %s: expected 0..%d dimensions, found %d", path,
                    cnnrt_st_show(t[i].name).s, CNNRT_CKPT_MAX_DIMS, t[i].ndim);
            return NULL;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            int64_t x = t[i].shape[d];
            if (x < 0 || (numel && (uint64_t)x > ((uint64_t)1 << 50) / numel)) {
                cnnrt_st_set_err(err, errlen, "%s: cannot save %s: shape %s: expected non-negative sizes, at most 2^50 "
                        "elements", path, cnnrt_st_show(t[i].name).s, cnnrt_st_shape_str(sb, sizeof sb, t[i].ndim, t[i].shape));
                return NULL;
            }
            numel *= (uint64_t)x;
        }
        if (numel && !t[i].data) {
            cnnrt_st_set_err(err, errlen, "%s: cannot save %s: data is NULL", path, cnnrt_st_show(t[i].name).s);
            return NULL;
        }
        total += numel * 4;
        if (total > ((uint64_t)1 << 52)) {
            cnnrt_st_set_err(err, errlen, "%s: cannot save: more than 2^52 bytes of data", path);
            return NULL;
        }
    }
    for (int i = 0; i < nmeta; i++)
        if (!meta[i].key || !meta[i].value) {
            cnnrt_st_set_err(err, errlen, "%s: cannot save: metadata entry %d has a NULL %s", path, i,
                    meta[i].key ? "value" : "key");
            return NULL;
        }
    const cnnrt_ckpt_tensor **order = malloc(sizeof *order * (size_t)(n ? n : 1));
    const char **keys = malloc(sizeof *keys * (size_t)(nmeta ? nmeta : 1));
    if (!order || !keys) {
        free(order);
        free(keys);
        cnnrt_st_set_err(err, errlen, "%s: out of memory", path);
        *rc = CNNRT_ENOMEM;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, cmp_tensor_ptr);
    for (int i = 0; i < nmeta; i++)
        keys[i] = meta[i].key;
    qsort(keys, (size_t)nmeta, sizeof *keys, cnnrt_st_cmp_str);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            dup = order[i]->name;
    if (dup)
        cnnrt_st_set_err(err, errlen, "%s: cannot save: tensor name %s appears twice", path, cnnrt_st_show(dup).s);
    for (int i = 1; i < nmeta && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            dup = keys[i];
            cnnrt_st_set_err(err, errlen, "%s: cannot save: metadata key %s appears twice", path, cnnrt_st_show(dup).s);
        }
    free(keys);
    if (dup) {
        free(order);
        return NULL;
    }
    *data_bytes = total;
    *rc = CNNRT_OK;
    return order;
}

/* The JSON header, space-padded to a multiple of 8; malloc'd, length in *len. */
static char *save_header(const cnnrt_ckpt_tensor **order, int n, const cnnrt_ckpt_meta *meta, int nmeta,
                         size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (nmeta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < nmeta; i++)
            if (!cJSON_AddStringToObject(m, meta[i].key, meta[i].value))
                m = NULL;
        if (!m)
            goto fail;
    }
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        const cnnrt_ckpt_tensor *t = order[i];
        uint64_t numel = 1;
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = e ? cJSON_CreateArray() : NULL, *offs = NULL;
        if (!e || !cJSON_AddStringToObject(e, "dtype", "F32") || !shape)
            goto fail;
        cJSON_AddItemToObject(e, "shape", shape);
        for (int d = 0; d < t->ndim; d++) {
            cJSON *x = json_uint((uint64_t)t->shape[d]);
            if (!x)
                goto fail;
            cJSON_AddItemToArray(shape, x);
            numel *= (uint64_t)t->shape[d];
        }
        offs = cJSON_CreateArray();
        if (!offs)
            goto fail;
        cJSON_AddItemToObject(e, "data_offsets", offs);
        cJSON *b = json_uint(pos), *en = json_uint(pos + 4 * numel);
        if (!b || !en) {
            cJSON_Delete(b);
            cJSON_Delete(en);
            goto fail;
        }
        cJSON_AddItemToArray(offs, b);
        cJSON_AddItemToArray(offs, en);
        pos += 4 * numel;
    }
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!js)
        return NULL;
    size_t l = strlen(js), padded = (l + 7) / 8 * 8;
    char *h = malloc(padded ? padded : 1);
    if (h) {
        memcpy(h, js, l);
        memset(h + l, ' ', padded - l);
        *len = padded;
    }
    cJSON_free(js);
    return h;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* Tensor data, little-endian, to f. 0 on success. */
static int write_f32(cnnrt_outfile *f, const float *x, uint64_t count)
{
    if (host_is_le())
        return cnnrt_outfile_write(f, x, 4 * (size_t)count);
    uint32_t *buf = malloc(4 * (size_t)(count < CK_IO_CHUNK ? (count ? count : 1) : CK_IO_CHUNK));
    if (!buf)
        return -1;
    for (uint64_t at = 0; at < count;) {
        size_t k = (size_t)(count - at < CK_IO_CHUNK ? count - at : CK_IO_CHUNK);
        memcpy(buf, x + at, 4 * k);
        for (size_t i = 0; i < k; i++)
            buf[i] = bswap32(buf[i]);
        if (cnnrt_outfile_write(f, buf, 4 * k) != 0) {
            free(buf);
            return -1;
        }
        at += k;
    }
    free(buf);
    return 0;
}

int cnnrt_ckpt_save(const char *path, const cnnrt_ckpt_tensor *tensors, int ntensors,
                    const cnnrt_ckpt_meta *meta, int nmeta, char *err, size_t errlen)
{
    int rc;
    uint64_t data_bytes = 0;
    const cnnrt_ckpt_tensor **order = save_check(path, tensors, ntensors, meta, nmeta, &data_bytes, &rc, err,
                                                 errlen);
    if (!order)
        return rc;
    size_t hlen = 0;
    char *header = save_header(order, ntensors, meta, nmeta, &hlen);
    if (!header) {
        free(order);
        cnnrt_st_set_err(err, errlen, "%s: out of memory", path);
        return CNNRT_ENOMEM;
    }
    cnnrt_outfile f;
    int ok = cnnrt_outfile_open(&f, path) == 0;
    if (!ok) {
        int e = errno;
        cnnrt_st_set_err(err, errlen, "%s: %s: %s; the previous file, if any, is unchanged", path,
                cnnrt_path_is_special(path) ? "cannot open it for writing" : "cannot create a temporary file next to it",
                strerror(e));
        free(order);
        free(header);
        return CNNRT_EIO;
    }
    unsigned char lenw[8];
    for (int i = 0; i < 8; i++)
        lenw[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    ok = cnnrt_outfile_write(&f, lenw, 8) == 0 && cnnrt_outfile_write(&f, header, hlen) == 0;
    for (int i = 0; ok && i < ntensors; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < order[i]->ndim; d++)
            numel *= (uint64_t)order[i]->shape[d];
        ok = write_f32(&f, order[i]->data, numel) == 0;
    }
    if (!ok)
        cnnrt_outfile_abort(&f);
    else
        ok = cnnrt_outfile_commit(&f) == 0;    /* fsync, rename, fsync of the directory */
    free(order);
    free(header);
    if (!ok) {
        cnnrt_st_set_err(err, errlen, "%s: cannot save: %s; the previous file, if any, is unchanged", path, strerror(errno));
        return CNNRT_EIO;
    }
    return CNNRT_OK;
}

/* ---- reading ------------------------------------------------------------- */

/* Messages of an open file start "PATH: " (cnnrt_ckpt_open), or not at all
 * (cnnrt_st_open: cnnc adds "PATH: error: " itself). */
#define PFX(ck) (ck)->mpath, (ck)->msep

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ck_entry *)a)->name, ((const ck_entry *)b)->name);
}

static int cmp_entry_ptr_begin(const void *a, const void *b)
{
    const ck_entry *x = *(const ck_entry *const *)a, *y = *(const ck_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON number that is an integer in [0, 2^53], else −1. */
static int64_t json_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= CK_MAX_INT) || d != floor(d))
        return -1;
    return (int64_t)d;
}

static const char *json_kind(const cJSON *v)
{
    return !v ? "nothing" : cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array"
         : cJSON_IsString(v) ? "a string" : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean"
         : cJSON_IsNull(v) ? "null" : "something else";
}

/* What a value is, and (cut to 60 characters) what it says: "a number 7",
 * "an array [-8,288]", "nothing".  By value, like cnnrt_st_show. */
typedef struct json_shown {
    char s[96];
} json_shown;

static json_shown json_show(const cJSON *v)
{
    json_shown r;
    char *t = v ? cJSON_PrintUnformatted(v) : NULL;
    if (!t)
        snprintf(r.s, sizeof r.s, "%s", json_kind(v));
    else if (strlen(t) > 60)
        snprintf(r.s, sizeof r.s, "%s %.57s...", json_kind(v), t);
    else
        snprintf(r.s, sizeof r.s, "%s %s", json_kind(v), t);
    cJSON_free(t);
    return r;
}

/* Fill e from its JSON; a problem per malformed field; returns 1 if usable. */
static int read_entry(ck_entry *e, const cJSON *v, cnnrt_st_problems *pr)
{
    const char *nm = e->name;
    if (!cJSON_IsObject(v)) {
        cnnrt_st_prob_add(pr, "%s: expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found %s", nm,
                          json_show(v).s);
        return 0;
    }
    int ok = 1;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    int di = cJSON_IsString(dt) ? dtype_index(dt->valuestring) : -1;
    if (di < 0) {
        if (cJSON_IsString(dt))
            cnnrt_st_prob_add(pr, "%s: unknown dtype \"%s\" (expected F32, or another safetensors dtype)", nm,
                              dt->valuestring);
        else
            cnnrt_st_prob_add(pr, "%s: expected a string \"dtype\" (e.g. \"F32\"), found %s", nm, json_show(dt).s);
        ok = 0;
    } else {
        e->dtype = DTYPES[di].st;
        e->esize = DTYPES[di].size;
    }
    if (!cJSON_IsArray(sh)) {
        cnnrt_st_prob_add(pr, "%s: expected a \"shape\" array of integers, found %s", nm, json_show(sh).s);
        ok = 0;
    } else if (cJSON_GetArraySize(sh) > CNNRT_CKPT_MAX_DIMS) {
        cnnrt_st_prob_add(pr, "%s: expected at most %d dimensions, found %d", nm, CNNRT_CKPT_MAX_DIMS,
                          cJSON_GetArraySize(sh));
        ok = 0;
    } else {
        e->numel = 1;
        int i = 0;
        for (const cJSON *d = sh->child; d; d = d->next, i++) {
            int64_t x = json_count(d);
            if (x < 0) {
                cnnrt_st_prob_add(pr, "%s: shape[%d]: expected a non-negative integer, found %s", nm, i,
                                  json_show(d).s);
                ok = 0;
                break;
            }
            /* so that numel · 8 bytes fits too */
            if (e->numel && (uint64_t)x > ((uint64_t)1 << 59) / e->numel) {
                char t[64];
                char *js = cJSON_PrintUnformatted(sh);
                snprintf(t, sizeof t, strlen(js ? js : "") > 60 ? "%.57s..." : "%s", js ? js : "");
                cJSON_free(js);
                cnnrt_st_prob_add(pr, "%s: shape %s: expected at most 2^59 elements, found more", nm, t);
                ok = 0;
                break;
            }
            e->shape[i] = x;
            e->numel *= (uint64_t)x;
        }
        e->ndim = i;
    }
    int64_t b = -1, en = -1;
    if (cJSON_IsArray(of) && cJSON_GetArraySize(of) == 2) {
        b = json_count(of->child);
        en = json_count(of->child->next);
    }
    if (b < 0 || en < 0) {
        cnnrt_st_prob_add(pr, "%s: expected \"data_offsets\": [begin, end] (two non-negative integers), found %s",
                          nm, json_show(of).s);
        return 0;
    }
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (b > en) {
        cnnrt_st_prob_add(pr, "%s: data_offsets [%" PRId64 ", %" PRId64 "]: begin is after end", nm, b, en);
        return 0;
    }
    if (ok && e->numel * (uint64_t)e->esize != e->end - e->begin) {
        char sb[256];
        cnnrt_st_prob_add(pr, "%s: %s %s is %" PRIu64 " bytes, but data_offsets [%" PRId64 ", %" PRId64 "] span %"
                          PRId64, nm, cnnrt_st_shape_str(sb, sizeof sb, e->ndim, e->shape), DTYPES[di].torch,
                          e->numel * (uint64_t)e->esize, b, en, en - b);
        ok = 0;
    }
    return ok;
}

void cnnrt_ckpt_close(cnnrt_ckpt *ck)
{
    if (!ck)
        return;
    if (ck->f)
        fclose(ck->f);
    for (int i = 0; i < ck->n; i++)
        free(ck->e[i].name);
    for (int i = 0; i < ck->nmeta; i++) {
        free(ck->mkey[i]);
        free(ck->mval[i]);
    }
    free(ck->e);
    free(ck->mkey);
    free(ck->mval);
    free(ck->path);
    free(ck);
}

static void report_problems(const cnnrt_ckpt *ck, cnnrt_st_problems *pr, char *err, size_t errlen)
{
    cnnrt_st_prob_report(pr, err, errlen, "%s%sinvalid safetensors header: %d problem%s:", PFX(ck), pr->n,
                         pr->n == 1 ? "" : "s");
}

/* The entries must not share bytes, and (as in the reference
 * implementation) must cover the data without holes. */
static int check_layout(cnnrt_ckpt *ck, cnnrt_st_problems *pr, char *err, size_t errlen)
{
    ck_entry **by = malloc(sizeof *by * (size_t)(ck->n > 0 ? ck->n : 1));
    if (!by) {
        cnnrt_st_set_err(err, errlen, "%s%sout of memory", PFX(ck));
        return CNNRT_ENOMEM;
    }
    for (int i = 0; i < ck->n; i++)
        by[i] = &ck->e[i];
    qsort(by, (size_t)ck->n, sizeof *by, cmp_entry_ptr_begin);
    uint64_t pos = 0;
    const ck_entry *prev = NULL;
    for (int i = 0; i < ck->n; i++) {
        const ck_entry *e = by[i];
        if (e->begin == e->end)
            continue;               /* empty tensors own no bytes */
        if (e->begin < pos)
            cnnrt_st_prob_add(pr, "%s: data_offsets [%" PRIu64 ", %" PRIu64 "] overlap %s's [%" PRIu64 ", %" PRIu64
                              "]", e->name, e->begin, e->end, prev->name, prev->begin, prev->end);
        else if (e->begin > pos)
            cnnrt_st_prob_add(pr, "bytes [%" PRIu64 ", %" PRIu64 ") of the data buffer belong to no tensor (a hole "
                              "before %s)", pos, e->begin, e->name);
        if (e->end > pos) {
            pos = e->end;
            prev = e;
        }
    }
    free(by);
    if (pos < ck->data_len)
        cnnrt_st_prob_add(pr, "bytes [%" PRIu64 ", %" PRIu64 ") at the end of the data buffer belong to no tensor",
                          pos, ck->data_len);
    return CNNRT_OK;
}

/* Parse and validate the header held in js[0..n) into ck. */
static int parse_header(cnnrt_ckpt *ck, const char *js, size_t n, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(js, n, &end, 0);
    if (!root) {
        size_t at = end && end >= js && end <= js + n ? (size_t)(end - js) : 0, k = 0;
        char near[24];
        for (; k < 20 && at + k < n && js[at + k] && !strchr("\n\r\t", js[at + k]); k++)
            near[k] = js[at + k];
        near[k] = 0;
        char near_p[32];
        printable(near_p, sizeof near_p, near);
        cnnrt_st_set_err(err, errlen, "%s%sinvalid header: expected JSON, found a syntax error at byte %zu of the "
                         "%zu-byte header (near \"%s\")", PFX(ck), at, n, near_p);
        return CNNRT_EFORMAT;
    }
    int rc = CNNRT_EFORMAT;
    for (const char *p = end; p < js + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cnnrt_st_set_err(err, errlen, "%s%sinvalid header: unexpected '%c' (byte %zu of the JSON) after the "
                             "object", PFX(ck), (*p >= 32 && *p < 127) ? *p : '?', (size_t)(p - js));
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        cnnrt_st_set_err(err, errlen, "%s%sinvalid header: expected a JSON object of tensors, found %s", PFX(ck),
                         json_kind(root));
        goto out;
    }
    int count = cJSON_GetArraySize(root), nmeta_obj = 0;
    const cJSON *meta = NULL;
    for (const cJSON *v = root->child; v; v = v->next)
        if (strcmp(v->string, "__metadata__") == 0) {
            meta = v;
            nmeta_obj++;
        }
    ck->e = calloc((size_t)(count > 0 ? count : 1), sizeof *ck->e);
    if (!ck->e) {
        cnnrt_st_set_err(err, errlen, "%s%sout of memory", PFX(ck));
        rc = CNNRT_ENOMEM;
        goto out;
    }
    cnnrt_st_problems pr = { .len = 0, .n = 0 };
    pr.buf[0] = 0;
    if (nmeta_obj > 1)
        cnnrt_st_prob_add(&pr, "__metadata__ appears %d times", nmeta_obj);
    if (meta && !cJSON_IsObject(meta))
        cnnrt_st_prob_add(&pr, "__metadata__: expected an object of strings, found %s", json_kind(meta));
    else if (meta) {
        int m = cJSON_GetArraySize(meta);
        ck->mkey = calloc((size_t)(m > 0 ? m : 1), sizeof *ck->mkey);
        ck->mval = calloc((size_t)(m > 0 ? m : 1), sizeof *ck->mval);
        if (!ck->mkey || !ck->mval) {
            cnnrt_st_set_err(err, errlen, "%s%sout of memory", PFX(ck));
            rc = CNNRT_ENOMEM;
            goto out;
        }
        for (const cJSON *v = meta->child; v; v = v->next) {
            if (!cJSON_IsString(v)) {
                cnnrt_st_prob_add(&pr, "__metadata__.%s: expected a string, found %s", v->string, json_show(v).s);
                continue;
            }
            for (int i = 0; i < ck->nmeta; i++)
                if (strcmp(ck->mkey[i], v->string) == 0)
                    cnnrt_st_prob_add(&pr, "__metadata__.%s appears twice", v->string);
            ck->mkey[ck->nmeta] = strdup(v->string);
            ck->mval[ck->nmeta] = strdup(v->valuestring);
            ck->nmeta++;
            if (!ck->mkey[ck->nmeta - 1] || !ck->mval[ck->nmeta - 1]) {
                cnnrt_st_set_err(err, errlen, "%s%sout of memory", PFX(ck));
                rc = CNNRT_ENOMEM;
                goto out;
            }
        }
    }
    uint64_t max_end = 0;
    for (const cJSON *v = root->child; v; v = v->next) {
        if (strcmp(v->string, "__metadata__") == 0)
            continue;
        ck_entry *e = &ck->e[ck->n++];
        e->name = strdup(v->string);
        if (!e->name) {
            cnnrt_st_set_err(err, errlen, "%s%sout of memory", PFX(ck));
            rc = CNNRT_ENOMEM;
            goto out;
        }
        if (!e->name[0])
            cnnrt_st_prob_add(&pr, "a tensor has an empty name");
        read_entry(e, v, &pr);
        if (e->end > max_end)
            max_end = e->end;
    }
    /* a truncated file: say so, once */
    if (max_end > ck->data_len) {
        cnnrt_st_set_err(err, errlen, "%s%struncated: the header describes %" PRIu64 " bytes of tensor data, but only %"
                         PRIu64 " follow it (expected a file of %" PRIu64 " bytes, found %" PRIu64 ")", PFX(ck),
                         max_end, ck->data_len, ck->data_start + max_end, ck->data_start + ck->data_len);
        goto out;
    }
    qsort(ck->e, (size_t)ck->n, sizeof *ck->e, cmp_entry);
    for (int i = 1; i < ck->n; i++)
        if (strcmp(ck->e[i - 1].name, ck->e[i].name) == 0 && (i < 2 || strcmp(ck->e[i - 2].name, ck->e[i].name) != 0))
            cnnrt_st_prob_add(&pr, "%s: the name appears more than once", ck->e[i].name);
    if (!pr.n && (rc = check_layout(ck, &pr, err, errlen)) != CNNRT_OK)
        goto out;
    rc = CNNRT_EFORMAT;
    if (pr.n) {
        report_problems(ck, &pr, err, errlen);
        goto out;
    }
    rc = CNNRT_OK;
out:
    cJSON_Delete(root);
    return rc;
}

int cnnrt_st_open(FILE *f, const char *path, int path_in_messages, cnnrt_ckpt **out, char *err, size_t errlen)
{
    *out = NULL;
    cnnrt_ckpt *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->path = strdup(path))) {
        free(ck);
        fclose(f);
        cnnrt_st_set_err(err, errlen, "%s%sout of memory", path_in_messages ? path : "", path_in_messages ? ": " : "");
        return CNNRT_ENOMEM;
    }
    ck->f = f;
    ck->mpath = path_in_messages ? ck->path : "";
    ck->msep = path_in_messages ? ": " : "";
    int rc = CNNRT_EFORMAT;
    char *js = NULL;
    struct stat st;
    if (fstat(fileno(ck->f), &st) != 0) {
        cnnrt_st_set_err(err, errlen, "%s%scannot read the file: %s", PFX(ck), strerror(errno));
        rc = CNNRT_EIO;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        cnnrt_st_set_err(err, errlen, "%s%sexpected a safetensors file, found a %s", PFX(ck),
                         S_ISDIR(st.st_mode) ? "directory" : "special file");
        rc = CNNRT_EIO;
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char lw[8];
    if (size < 8 || fread(lw, 1, 8, ck->f) != 8) {
        cnnrt_st_set_err(err, errlen, "%s%struncated or not a safetensors file: expected at least 8 bytes (the "
                         "header length), found %" PRIu64, PFX(ck), size);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | lw[i];
    if (n > CNNRT_CKPT_MAX_HEADER) {
        cnnrt_st_set_err(err, errlen, "%s%snot a safetensors file: the header length is %" PRIu64 " bytes; expected "
                         "at most %" PRIu64 " (100 MiB)", PFX(ck), n, (uint64_t)CNNRT_CKPT_MAX_HEADER);
        goto fail;
    }
    if (n > size - 8) {
        cnnrt_st_set_err(err, errlen, "%s%struncated or not a safetensors file: the header length is %" PRIu64
                         " bytes, but only %" PRIu64 " bytes follow it", PFX(ck), n, size - 8);
        goto fail;
    }
    if (n < 2) {
        cnnrt_st_set_err(err, errlen, "%s%sthe header is %" PRIu64 " bytes; expected a JSON object", PFX(ck), n);
        goto fail;
    }
    js = malloc((size_t)n);
    if (!js) {
        cnnrt_st_set_err(err, errlen, "%s%sout of memory reading a %" PRIu64 "-byte header", PFX(ck), n);
        rc = CNNRT_ENOMEM;
        goto fail;
    }
    if (fread(js, 1, (size_t)n, ck->f) != (size_t)n) {
        cnnrt_st_set_err(err, errlen, "%s%scannot read the %" PRIu64 "-byte header: %s", PFX(ck), n,
                         ferror(ck->f) ? strerror(errno) : "unexpected end of file");
        rc = CNNRT_EIO;
        goto fail;
    }
    ck->data_start = 8 + n;
    ck->data_len = size - 8 - n;
    rc = parse_header(ck, js, (size_t)n, err, errlen);
    if (rc != CNNRT_OK)
        goto fail;
    free(js);
    *out = ck;
    return CNNRT_OK;
fail:
    free(js);
    cnnrt_ckpt_close(ck);
    return rc;
}

int cnnrt_ckpt_open(const char *path, cnnrt_ckpt **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        cnnrt_st_set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CNNRT_EIO;
    }
    return cnnrt_st_open(f, path, 1, out, err, errlen);
}

int cnnrt_ckpt_count(const cnnrt_ckpt *ck) { return ck->n; }

const char *cnnrt_st_path(const cnnrt_ckpt *ck) { return ck->path; }

const char *cnnrt_ckpt_name(const cnnrt_ckpt *ck, int i)
{
    return i >= 0 && i < ck->n ? ck->e[i].name : NULL;
}

const char *cnnrt_ckpt_dtype(const cnnrt_ckpt *ck, int i)
{
    return i >= 0 && i < ck->n ? ck->e[i].dtype : NULL;
}

int cnnrt_ckpt_shape(const cnnrt_ckpt *ck, int i, int64_t shape[CNNRT_CKPT_MAX_DIMS])
{
    if (i < 0 || i >= ck->n)
        return -1;
    memcpy(shape, ck->e[i].shape, sizeof ck->e[i].shape);
    return ck->e[i].ndim;
}

int cnnrt_ckpt_find(const cnnrt_ckpt *ck, const char *name)
{
    ck_entry key = { .name = (char *)name };
    const ck_entry *e = bsearch(&key, ck->e, (size_t)ck->n, sizeof *ck->e, cmp_entry);
    return e ? (int)(e - ck->e) : -1;
}

int cnnrt_ckpt_meta_count(const cnnrt_ckpt *ck) { return ck->nmeta; }

const char *cnnrt_ckpt_meta_key(const cnnrt_ckpt *ck, int i)
{
    return i >= 0 && i < ck->nmeta ? ck->mkey[i] : NULL;
}

const char *cnnrt_ckpt_meta_value(const cnnrt_ckpt *ck, int i)
{
    return i >= 0 && i < ck->nmeta ? ck->mval[i] : NULL;
}

const char *cnnrt_ckpt_meta_get(const cnnrt_ckpt *ck, const char *key)
{
    for (int i = 0; i < ck->nmeta; i++)
        if (strcmp(ck->mkey[i], key) == 0)
            return ck->mval[i];
    return NULL;
}

static int same_shape(const ck_entry *e, int ndim, const int64_t *shape)
{
    if (e->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (e->shape[i] != shape[i])
            return 0;
    return 1;
}

int cnnrt_ckpt_read(cnnrt_ckpt *ck, const char *name, int ndim, const int64_t *shape, float *out,
                    char *err, size_t errlen)
{
    char want[256], have[256];
    if (ndim < 0 || ndim > CNNRT_CKPT_MAX_DIMS) {
        cnnrt_st_set_err(err, errlen, "%s%s%s: cannot read with %d dimensions (at most %d)", PFX(ck), cnnrt_st_show(name).s, ndim,
                CNNRT_CKPT_MAX_DIMS);
        return CNNRT_EINVAL;
    }
    cnnrt_st_shape_str(want, sizeof want, ndim, shape);
    int i = cnnrt_ckpt_find(ck, name);
    if (i < 0) {
        cnnrt_st_set_err(err, errlen, "%s%sno tensor %s (expected %s float32); the file has %d tensor%s", PFX(ck),
                cnnrt_st_show(name).s, want, ck->n, ck->n == 1 ? "" : "s");
        return CNNRT_EFORMAT;
    }
    const ck_entry *e = &ck->e[i];
    if (strcmp(e->dtype, "F32") != 0 || !same_shape(e, ndim, shape)) {
        cnnrt_st_set_err(err, errlen, "%s%s%s: expected %s float32, found %s %s", PFX(ck), cnnrt_st_show(name).s, want,
                cnnrt_st_shape_str(have, sizeof have, e->ndim, e->shape), cnnrt_st_dtype_name(e->dtype));
        return CNNRT_EFORMAT;
    }
    uint64_t at = ck->data_start + e->begin, count = e->numel;
    if (count == 0)
        return CNNRT_OK;
    if (fseeko(ck->f, (off_t)at, SEEK_SET) != 0) {
        cnnrt_st_set_err(err, errlen, "%s%s%s: cannot seek to offset %" PRIu64 ": %s", PFX(ck), cnnrt_st_show(name).s, at,
                strerror(errno));
        return CNNRT_EIO;
    }
    for (uint64_t done = 0; done < count;) {
        size_t k = (size_t)(count - done < CK_IO_CHUNK ? count - done : CK_IO_CHUNK);
        if (fread(out + done, 4, k, ck->f) != k) {
            cnnrt_st_set_err(err, errlen, "%s%s%s: cannot read %" PRIu64 " bytes at offset %" PRIu64 ": %s", PFX(ck),
                    cnnrt_st_show(name).s, 4 * count, at, ferror(ck->f) ? strerror(errno)
                    : "unexpected end of file (truncated since it was opened?)");
            clearerr(ck->f);
            return CNNRT_EIO;
        }
        done += k;
    }
    if (!host_is_le()) {
        uint32_t *u = (uint32_t *)out;
        for (uint64_t j = 0; j < count; j++)
            u[j] = bswap32(u[j]);
    }
    return CNNRT_OK;
}
