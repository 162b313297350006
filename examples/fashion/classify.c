/*
 * classify.c — an application that embeds a network compiled by cnnc.
 *
 * It reads the Fashion-MNIST test set (IDX files, gzipped or not), runs
 * every image through lenet_relu_forward() — the function cnnc generated
 * from ../../dsl_examples/lenet_relu.net and a trained checkpoint — and
 * prints the accuracy and a confusion matrix.
 *
 *   classify [-d DIR] [-w lenet_relu.weights] [-n N]
 *
 * What the application does itself: read its data (here with zlib, whose
 * gzread() also reads uncompressed files) and turn pixels into floats in
 * [0, 1].  What the generated code does: everything else, including the
 * normalisation the network was trained with, which cnnc took from the
 * checkpoint.  The weights (5 MB, over cnnc's --embed-limit) are in the
 * sidecar file lenet_relu.weights that cnnc wrote beside lenet_relu.c; the
 * application loads and checks them once.
 *
 * Build (see the Makefile):
 *   cc -O2 classify.c lenet_relu.c -o classify $(pkg-config --cflags --libs cnnrt zlib)
 * cnnrt is there for OpenBLAS, which the generated code calls for its
 * larger layers; this file uses nothing from cnnrt.
 */
#define _POSIX_C_SOURCE 200809L   /* getopt, access */

#include "lenet_relu.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define NCLASS LENET_RELU_OUT_SIZE

static const char *const class_names[NCLASS] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* ---- IDX files --------------------------------------------------------------
 * A big-endian header: magic 00 00 08 D (D dimensions, unsigned bytes), D
 * sizes of 4 bytes, then the data.  Images are idx3 (n, rows, cols), labels
 * idx1 (n). */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads an IDX file of `dims` dimensions; returns the data (malloc'ed) and
 * fills size[0..dims-1], or prints why not and returns NULL. */
static unsigned char *read_idx(const char *path, int dims, uint32_t *size) {
    gzFile f = gzopen(path, "rb");
    if (!f) { perror(path); return NULL; }
    unsigned char head[16];
    unsigned hlen = 4 + 4 * (unsigned)dims;
    unsigned char *data = NULL;
    if (gzread(f, head, hlen) != (int)hlen || be32(head) != (0x0800u | (unsigned)dims)) {
        fprintf(stderr, "%s: not an IDX file of %d dimensions\n", path, dims);
        goto done;
    }
    size_t total = 1;
    for (int i = 0; i < dims; i++) {
        size[i] = be32(head + 4 + 4 * i);
        total *= size[i];
    }
    if (total == 0 || total > (size_t)1 << 30 || !(data = malloc(total))) {
        fprintf(stderr, "%s: bad size\n", path);
        goto done;
    }
    if (gzread(f, data, (unsigned)total) != (int)total) {
        fprintf(stderr, "%s: truncated\n", path);
        free(data);
        data = NULL;
    }
done:
    gzclose(f);
    return data;
}

/* DIR/NAME, or DIR/NAME.gz when only that exists */
static char *data_file(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 8;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s/%s", dir, name);
    if (access(p, R_OK) != 0) snprintf(p, n, "%s/%s.gz", dir, name);
    return p;
}

int main(int argc, char **argv) {
    const char *dir = "/usr/share/datasets/fashion-mnist", *weights = "lenet_relu.weights";
    long limit = 0;
    int c;
    while ((c = getopt(argc, argv, "d:w:n:h")) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'w': weights = optarg; break;
        case 'n': limit = strtol(optarg, NULL, 10); break;
        case 'h':
            printf("usage: classify [-d DIR] [-w lenet_relu.weights] [-n N]\n"
                   "Classify the first N (default all) Fashion-MNIST test images in DIR\n"
                   "(default /usr/share/datasets/fashion-mnist).\n");
            return 0;
        default: return 2;
        }
    }

    /* the model: load and check the sidecar weights once */
    int err = lenet_relu_load_weights(weights);
    if (err) {
        fprintf(stderr, "classify: %s: %s\n", weights, lenet_relu_strerror(err));
        return 1;
    }

    /* the data */
    char *ipath = data_file(dir, "t10k-images-idx3-ubyte"), *lpath = data_file(dir, "t10k-labels-idx1-ubyte");
    uint32_t isz[3], lsz[1];
    unsigned char *images = ipath ? read_idx(ipath, 3, isz) : NULL;
    unsigned char *labels = lpath ? read_idx(lpath, 1, lsz) : NULL;
    if (!images || !labels) return 1;
    if (isz[1] * isz[2] != LENET_RELU_IN_SIZE || lsz[0] != isz[0]) {
        fprintf(stderr, "classify: %s holds %ux%u images, %u of them, for %u labels; the network takes %dx%d\n",
                ipath, isz[1], isz[2], isz[0], lsz[0], LENET_RELU_IN_H, LENET_RELU_IN_W);
        return 1;
    }
    long n = isz[0];
    if (limit > 0 && limit < n) n = limit;

    /* classify: pixels as x/255, the generated code does the rest */
    static long confusion[NCLASS][NCLASS];   /* [true][predicted] */
    float in[LENET_RELU_IN_SIZE], out[LENET_RELU_OUT_SIZE];
    long correct = 0;
    for (long i = 0; i < n; i++) {
        const unsigned char *px = images + (size_t)i * LENET_RELU_IN_SIZE;
        for (int j = 0; j < LENET_RELU_IN_SIZE; j++) in[j] = px[j] / 255.0f;
        lenet_relu_forward(in, out);
        int best = 0;
        for (int k = 1; k < NCLASS; k++)
            if (out[k] > out[best]) best = k;
        int truth = labels[i];
        if (truth >= NCLASS) {
            fprintf(stderr, "classify: %s: label %d of image %ld is out of range\n", lpath, truth, i);
            return 1;
        }
        confusion[truth][best]++;
        correct += best == truth;
    }

    printf("accuracy: %.2f%% (%ld of %ld test images)\n\n", 100.0 * (double)correct / (double)n, correct, n);
    printf("confusion matrix: rows are the true class, columns the predicted one\n\n");
    printf("%-15s", "");
    for (int k = 0; k < NCLASS; k++) printf("%6d", k);
    printf("   recall\n");
    for (int t = 0; t < NCLASS; t++) {
        long row = 0;
        for (int k = 0; k < NCLASS; k++) row += confusion[t][k];
        printf("%d %-13s", t, class_names[t]);
        for (int k = 0; k < NCLASS; k++) printf("%6ld", confusion[t][k]);
        if (row) printf("   %5.1f%%\n", 100.0 * (double)confusion[t][t] / (double)row);
        else printf("       -\n");
    }
    free(images);
    free(labels);
    free(ipath);
    free(lpath);
    return 0;
}
