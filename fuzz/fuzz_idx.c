/*
 * fuzz_idx.c — cnnrt's IDX reader (runtime/idx.c) on arbitrary bytes, as
 * images and as labels, plain and gzipped: the input is also compressed
 * and read again, so the structure behind gzip is fuzzed too.
 */
#include "cnnrt.h"
#include "fuzz_common.h"

#include <zlib.h>

static volatile unsigned sink;                       /* keeps the reads of the data */

static void load_both(const char *path) {
    char err[512];
    cnnrt_idx_images im;
    if (cnnrt_idx_load_images(path, &im, err, sizeof err) == CNNRT_OK) {
        size_t n = (size_t)im.n * (size_t)im.h * (size_t)im.w;
        for (size_t i = 0; i < n; i++) sink += im.data[i];
        double mean, std;
        if (im.n > 0) cnnrt_idx_images_stats(&im, &mean, &std);
        cnnrt_idx_images_free(&im);
    } else if (memchr(err, 0, sizeof err) == NULL) {
        abort();                                     /* the message is a string */
    }
    cnnrt_idx_labels lb;
    if (cnnrt_idx_load_labels(path, &lb, err, sizeof err) == CNNRT_OK) {
        cnnrt_labels_check(lb.data, (size_t)lb.n, 10, lb.path, err, sizeof err);
        cnnrt_idx_labels_free(&lb);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_both(fuzz_write("data-idx", data, size));
    /* the same bytes gzipped (what the gzip path sees after inflating) */
    const char *gzp = fuzz_path("data-idx.gz");
    gzFile gz = gzopen(gzp, "wb1");
    if (!gz) abort();
    if (size && gzwrite(gz, data, (unsigned)size) != (int)size) abort();
    gzclose(gz);
    load_both(gzp);
    return 0;
}
