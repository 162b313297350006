/*
 * idx.c — IDX dataset files (MNIST, Fashion-MNIST), plain or gzipped.
 *
 *   bytes 0..3   00 00 08 ND     type 08 = unsigned byte, ND dimensions
 *   4·ND bytes   big-endian u32 dimensions (labels: [n]; images: [n][h][w])
 *   Π dims bytes the data, row-major; the file ends there
 *
 * Everything is read through zlib's gzopen/gzread, which passes a plain
 * file through unchanged and inflates one that starts with 1f 8b.  The
 * declared size is checked against CNNRT_IDX_MAX_BYTES before anything is
 * allocated, and the buffer grows as data actually arrives, so a 50-byte
 * file claiming 4 GiB costs no memory.
 *
 * IO, not a kernel: allocates (ownership in cnnrt.h), never prints or exits.
 */
#include "cnnrt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_SIDE 65535u
#define IDX_CHUNK (64u << 20)        /* bytes per gzread and per buffer growth step */
#define IDX_FIRST (64u << 10)        /* the first buffer: a short file never costs more */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* zlib's message for the last error, without the "PATH: " it prefixes. */
static const char *gz_why(gzFile g)
{
    int errnum;
    const char *m = gzerror(g, &errnum);
    if (errnum == Z_ERRNO)
        return strerror(errno);
    const char *sep = strstr(m, ": ");
    return sep ? sep + 2 : m;
}

/* Read up to len bytes; returns the count read (short at end of file) or
 * −1 on a zlib/IO error, with *why set. */
static long long gz_read_full(gzFile g, uint8_t *buf, uint64_t len, const char **why)
{
    uint64_t got = 0;
    while (got < len) {
        uint64_t want = len - got;
        unsigned chunk = want > IDX_CHUNK ? IDX_CHUNK : (unsigned)want;
        int r = gzread(g, buf + got, chunk);
        if (r < 0) {
            *why = gz_why(g);
            return -1;
        }
        if (r == 0)
            break;
        got += (unsigned)r;
    }
    return (long long)got;
}

/* After a short read: a gzip stream cut short is reported by zlib as
 * Z_BUF_ERROR ("unexpected end of file"); tell the user which. */
static const char *short_why(gzFile g)
{
    int errnum;
    gzerror(g, &errnum);
    return errnum == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static const char *magic_meaning(const uint8_t m[4])
{
    if (m[0] == 0x1f && m[1] == 0x8b)
        return " (a gzip header inside the data: gzipped twice?)";
    if (m[0] == 0 && m[1] == 0 && m[2] == 0x08 && m[3] == 1)
        return " (an IDX label file)";
    if (m[0] == 0 && m[1] == 0 && m[2] == 0x08 && m[3] == 3)
        return " (an IDX image file)";
    if (m[0] == 0 && m[1] == 0 && m[2] >= 0x08 && m[2] <= 0x0e)
        return " (IDX, but not unsigned bytes of the right rank)";
    return " (not an IDX file)";
}

/* Load an IDX u8 file of rank nd into *data, dims[0..nd). */
static int idx_load(const char *path, int nd, const char *kind, uint32_t *dims,
                    uint8_t **data, char **path_copy, char *err, size_t errlen)
{
    *data = NULL;
    *path_copy = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CNNRT_EIO;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "%s: expected an IDX %s file, found a directory", path, kind);
        return CNNRT_EIO;
    }
    gzFile g = gzopen(path, "rb");
    if (!g) {
        set_err(err, errlen, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return CNNRT_EIO;
    }
    gzbuffer(g, 1u << 17);
    int rc = CNNRT_EFORMAT;
    const char *why = NULL;
    uint8_t *buf = NULL;
    uint8_t head[4 + 4 * 3];
    size_t hlen = 4 + 4 * (size_t)nd;
    long long got = gz_read_full(g, head, hlen, &why);
    const char *gzs = gzdirect(g) ? "" : " (gzipped)";
    if (got < 0) {
        set_err(err, errlen, "%s%s: %s: %s", path, gzs, gzdirect(g) ? "cannot read" : "corrupt gzip data", why);
        rc = CNNRT_EIO;
        goto out;
    }
    if (got == 0) {
        set_err(err, errlen, "%s: empty file, expected an IDX %s file", path, kind);
        goto out;
    }
    if (got < 4) {
        set_err(err, errlen, "%s%s: truncated: expected a 4-byte IDX magic, found %lld byte%s%s", path,
                gzs, got, got == 1 ? "" : "s", short_why(g));
        goto out;
    }
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != nd) {
        set_err(err, errlen,
                "%s%s: wrong magic: expected 00 00 08 %02x (IDX %s: unsigned bytes, %d dimension%s), "
                "found %02x %02x %02x %02x%s",
                path, gzs, nd, kind, nd, nd == 1 ? "" : "s", head[0], head[1], head[2], head[3],
                magic_meaning(head));
        goto out;
    }
    if ((size_t)got < hlen) {
        set_err(err, errlen, "%s%s: truncated: expected %zu bytes of IDX header (%d dimensions), found %lld%s",
                path, gzs, hlen, nd, got, short_why(g));
        goto out;
    }
    uint64_t total = 1;
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = head + 4 + 4 * i;
        dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    if (dims[0] > INT_MAX) {
        set_err(err, errlen, "%s%s: absurd dimensions: %u items, at most %d supported", path, gzs, dims[0],
                INT_MAX);
        goto out;
    }
    if (nd == 3 && (dims[1] == 0 || dims[2] == 0 || dims[1] > IDX_MAX_SIDE || dims[2] > IDX_MAX_SIDE)) {
        set_err(err, errlen, "%s%s: absurd dimensions: images of %u×%u pixels (expected 1..%u on a side)",
                path, gzs, dims[1], dims[2], IDX_MAX_SIDE);
        goto out;
    }
    for (int i = 0; i < nd; i++)
        total *= dims[i];           /* < 2^31 · 2^16 · 2^16: no overflow */
    if (total > CNNRT_IDX_MAX_BYTES) {
        if (nd == 3)
            set_err(err, errlen, "%s%s: absurd dimensions: %u images of %u×%u = %llu bytes, more than the "
                    "%llu-byte (4 GiB) limit", path, gzs, dims[0], dims[1], dims[2],
                    (unsigned long long)total, (unsigned long long)CNNRT_IDX_MAX_BYTES);
        else
            set_err(err, errlen, "%s%s: absurd dimensions: %llu bytes, more than the %llu-byte (4 GiB) limit",
                    path, gzs, (unsigned long long)total, (unsigned long long)CNNRT_IDX_MAX_BYTES);
        goto out;
    }

    /* Grow as data arrives: a short file never makes us allocate its claim. */
    uint64_t cap = 0, have = 0;
    for (;;) {
        uint64_t want = total - have;
        if (want == 0)
            break;
        if (have == cap) {
            uint64_t ncap = cap ? cap * 2 : IDX_FIRST;
            if (ncap > total)
                ncap = total;
            uint8_t *nb = realloc(buf, ncap ? (size_t)ncap : 1);
            if (!nb) {
                set_err(err, errlen, "%s: out of memory reading %llu bytes", path, (unsigned long long)total);
                rc = CNNRT_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        if (want > cap - have)
            want = cap - have;
        long long r = gz_read_full(g, buf + have, want, &why);
        if (r < 0) {
            set_err(err, errlen, "%s%s: %s: %s (after %llu of %llu bytes of data)", path, gzs,
                    gzdirect(g) ? "cannot read" : "corrupt gzip data", why, (unsigned long long)have,
                    (unsigned long long)total);
            rc = gzdirect(g) ? CNNRT_EIO : CNNRT_EFORMAT;
            goto out;
        }
        have += (uint64_t)r;
        if ((uint64_t)r < want) {
            if (nd == 3)
                set_err(err, errlen, "%s%s: truncated: expected %llu bytes of data (%u images of %u×%u), "
                        "found %llu%s", path, gzs, (unsigned long long)total, dims[0], dims[1], dims[2],
                        (unsigned long long)have, short_why(g));
            else
                set_err(err, errlen, "%s%s: truncated: expected %llu bytes of data (%u labels), found %llu%s",
                        path, gzs, (unsigned long long)total, dims[0], (unsigned long long)have,
                        short_why(g));
            goto out;
        }
    }

    /* Nothing may follow the data. */
    {
        uint8_t tail[4096];
        unsigned long long extra = 0;
        for (;;) {
            int r = gzread(g, tail, sizeof tail);
            if (r < 0) {
                set_err(err, errlen, "%s%s: cannot read after the data: %s", path, gzs, gz_why(g));
                goto out;
            }
            if (r == 0)
                break;
            extra += (unsigned)r;
            if (extra > (1u << 20))
                break;              /* enough to say so */
        }
        if (extra) {
            set_err(err, errlen, "%s%s: trailing garbage: expected %llu bytes of data, found %s%llu more "
                    "after it", path, gzs, (unsigned long long)total, extra > (1u << 20) ? "over " : "", extra);
            goto out;
        }
    }
    if (total == 0 && !buf)
        buf = malloc(1);
    if (!buf) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = CNNRT_ENOMEM;
        goto out;
    }
    *path_copy = strdup(path);
    if (!*path_copy) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = CNNRT_ENOMEM;
        goto out;
    }
    *data = buf;
    buf = NULL;
    rc = CNNRT_OK;
out:
    free(buf);
    gzclose_r(g);
    return rc;
}

int cnnrt_idx_load_images(const char *path, cnnrt_idx_images *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    uint32_t d[3];
    uint8_t *data;
    char *p;
    int rc = idx_load(path, 3, "images", d, &data, &p, err, errlen);
    if (rc != CNNRT_OK)
        return rc;
    out->n = (int)d[0];
    out->h = (int)d[1];
    out->w = (int)d[2];
    out->data = data;
    out->path = p;
    return CNNRT_OK;
}

int cnnrt_idx_load_labels(const char *path, cnnrt_idx_labels *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    uint32_t d[1];
    uint8_t *data;
    char *p;
    int rc = idx_load(path, 1, "labels", d, &data, &p, err, errlen);
    if (rc != CNNRT_OK)
        return rc;
    out->n = (int)d[0];
    out->data = data;
    out->path = p;
    return CNNRT_OK;
}

void cnnrt_idx_images_free(cnnrt_idx_images *im)
{
    if (!im)
        return;
    free(im->data);
    free(im->path);
    memset(im, 0, sizeof *im);
}

void cnnrt_idx_labels_free(cnnrt_idx_labels *lb)
{
    if (!lb)
        return;
    free(lb->data);
    free(lb->path);
    memset(lb, 0, sizeof *lb);
}

/* DIR/base if it exists, else DIR/base.gz if it exists, else NULL with err. */
static char *find_file(const char *dir, const char *base, char *err, size_t errlen)
{
    size_t n = strlen(dir) + strlen(base) + 8;
    char *p = malloc(n);
    if (!p) {
        set_err(err, errlen, "%s: out of memory", dir);
        return NULL;
    }
    struct stat st;
    snprintf(p, n, "%s/%s", dir, base);
    if (stat(p, &st) == 0)
        return p;
    snprintf(p, n, "%s/%s.gz", dir, base);
    if (stat(p, &st) == 0)
        return p;
    free(p);
    if (stat(dir, &st) != 0)
        set_err(err, errlen, "%s: cannot open the dataset directory: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        set_err(err, errlen, "%s: expected a dataset directory, found a file", dir);
    else
        set_err(err, errlen, "%s: no %s or %s.gz (an MNIST-style directory holds train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each "
                "possibly .gz)", dir, base, base);
    return NULL;
}

static int load_split(const char *dir, const char *split, cnnrt_idx_images *im, cnnrt_idx_labels *lb,
                      char *err, size_t errlen)
{
    char ibase[64], lbase[64];
    snprintf(ibase, sizeof ibase, "%s-images-idx3-ubyte", split);
    snprintf(lbase, sizeof lbase, "%s-labels-idx1-ubyte", split);
    char *ip = find_file(dir, ibase, err, errlen);
    if (!ip)
        return CNNRT_EIO;
    char *lp = find_file(dir, lbase, err, errlen);
    if (!lp) {
        free(ip);
        return CNNRT_EIO;
    }
    int rc = cnnrt_idx_load_images(ip, im, err, errlen);
    if (rc == CNNRT_OK)
        rc = cnnrt_idx_load_labels(lp, lb, err, errlen);
    if (rc == CNNRT_OK && im->n == 0) {
        set_err(err, errlen, "%s: expected at least one image, found none", ip);
        rc = CNNRT_EFORMAT;
    }
    if (rc == CNNRT_OK && im->n != lb->n) {
        set_err(err, errlen, "%s: count mismatch: %d labels, but %s has %d images", lp, lb->n, ip, im->n);
        rc = CNNRT_EFORMAT;
    }
    free(ip);
    free(lp);
    return rc;
}

int cnnrt_dataset_load(const char *dir, cnnrt_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = load_split(dir, "train", &out->train_images, &out->train_labels, err, errlen);
    if (rc == CNNRT_OK)
        rc = load_split(dir, "t10k", &out->test_images, &out->test_labels, err, errlen);
    if (rc == CNNRT_OK && (out->train_images.h != out->test_images.h ||
                           out->train_images.w != out->test_images.w)) {
        set_err(err, errlen, "%s: size mismatch: test images are %d×%d, but the training images in %s are %d×%d",
                out->test_images.path, out->test_images.h, out->test_images.w, out->train_images.path,
                out->train_images.h, out->train_images.w);
        rc = CNNRT_EFORMAT;
    }
    if (rc != CNNRT_OK)
        cnnrt_dataset_free(out);
    return rc;
}

void cnnrt_dataset_free(cnnrt_dataset *ds)
{
    if (!ds)
        return;
    cnnrt_idx_images_free(&ds->train_images);
    cnnrt_idx_labels_free(&ds->train_labels);
    cnnrt_idx_images_free(&ds->test_images);
    cnnrt_idx_labels_free(&ds->test_labels);
}

int cnnrt_labels_check(const uint8_t *labels, size_t n, int num_classes,
                       const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if ((int)labels[i] >= num_classes) {
            set_err(err, errlen, "%s%slabels out of range for the network's output: label %d at index %zu, "
                    "the network has %d output%s", path ? path : "", path ? ": " : "", labels[i], i,
                    num_classes, num_classes == 1 ? "" : "s");
            return CNNRT_EFORMAT;
        }
    return CNNRT_OK;
}

int cnnrt_dataset_classes(const cnnrt_dataset *ds)
{
    int top = -1;
    for (int i = 0; i < ds->train_labels.n; i++)
        if (ds->train_labels.data[i] > top)
            top = ds->train_labels.data[i];
    for (int i = 0; i < ds->test_labels.n; i++)
        if (ds->test_labels.data[i] > top)
            top = ds->test_labels.data[i];
    return top + 1;
}

int cnnrt_dataset_check_classes(const cnnrt_dataset *ds, int num_classes, char *err, size_t errlen)
{
    int rc = cnnrt_labels_check(ds->train_labels.data, (size_t)ds->train_labels.n, num_classes,
                                ds->train_labels.path, err, errlen);
    if (rc == CNNRT_OK)
        rc = cnnrt_labels_check(ds->test_labels.data, (size_t)ds->test_labels.n, num_classes,
                                ds->test_labels.path, err, errlen);
    int classes = cnnrt_dataset_classes(ds);
    if (rc == CNNRT_OK && classes != num_classes) {
        set_err(err, errlen, "the network has %d output%s, but the labels in %s and %s have %d class%s "
                "(0 to %d): it needs one output per class", num_classes, num_classes == 1 ? "" : "s",
                ds->train_labels.path, ds->test_labels.path, classes, classes == 1 ? "" : "es", classes - 1);
        rc = CNNRT_EFORMAT;
    }
    return rc;
}

void cnnrt_idx_images_stats(const cnnrt_idx_images *im, double *mean, double *std)
{
    /* exact integer sums: 4 GiB · 255² < 2^64 */
    uint64_t hist[256] = { 0 };
    size_t count = (size_t)im->n * (size_t)im->h * (size_t)im->w;
    for (size_t i = 0; i < count; i++)
        hist[im->data[i]]++;
    double s = 0, s2 = 0;
    for (int v = 0; v < 256; v++) {
        s += (double)hist[v] * v;
        s2 += (double)hist[v] * v * v;
    }
    double m = count ? s / (double)count : 0;
    double var = count ? s2 / (double)count - m * m : 0;
    *mean = m / 255.0;
    *std = sqrt(var > 0 ? var : 0) / 255.0;
}

void cnnrt_u8_to_float(float *out, const uint8_t *in, float mean, float std, size_t count)
{
    /* one table: the same float for every equal pixel, computed once */
    float t[256];
    for (int v = 0; v < 256; v++)
        t[v] = ((float)v / 255.0f - mean) / std;
    for (size_t i = 0; i < count; i++)
        out[i] = t[in[i]];
}
