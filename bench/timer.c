/*
 * timer.c — times one generated network's NET_forward_ctx on a batch.
 *
 *   cc -O2 -DNET=lenet5 -DNETU=LENET5 -DNET_H='"lenet5.h"' [-DSIDECAR] \
 *      timer.c lenet5.c ... -o timer
 *   ./timer N SECONDS [lenet5.weights]
 *
 * Random input (fixed seed), a warm-up of at least 0.2 s, then repeated
 * calls until SECONDS have passed (at least 5 calls).  Prints one line:
 * "median_ms_per_batch min_ms_per_batch calls".
 */
#define _POSIX_C_SOURCE 200112L
#include NET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(NET, name)
#define M(name) CAT(NETU, name)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) { fputs("usage: timer N SECONDS [weights]\n", stderr); return 2; }
    int n = atoi(argv[1]);
    double secs = atof(argv[2]);
    size_t nin = (size_t)n * M(_IN_SIZE), nout = (size_t)n * M(_OUT_SIZE);
    float *in = malloc(nin * sizeof(float)), *out = malloc(nout * sizeof(float));
    size_t ws_bytes = M(_WS_BYTES)(n);
    void *ws = NULL;
    if (posix_memalign(&ws, 64, ws_bytes ? ws_bytes : 64) != 0 || !in || !out) return 2;
    unsigned s = 12345u;
    for (size_t i = 0; i < nin; i++) {
        s = s * 1103515245u + 12345u;
        in[i] = (float)((s >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
    }
#ifdef SIDECAR
    if (argc < 4 || F(_load_weights)(argv[3]) != 0) { fputs("timer: cannot load weights\n", stderr); return 2; }
#endif
    double t0 = now();
    while (now() - t0 < 0.2)
        if (F(_forward_ctx)(ws, ws_bytes, n, in, out) != 0) return 3;
    int cap = 100000, k = 0;
    double *ts = malloc(sizeof(double) * (size_t)cap);
    t0 = now();
    while (k < cap && (k < 5 || now() - t0 < secs)) {
        double a = now();
        F(_forward_ctx)(ws, ws_bytes, n, in, out);
        ts[k++] = now() - a;
    }
    qsort(ts, (size_t)k, sizeof *ts, cmp);
    printf("%.6f %.6f %d\n", 1e3 * ts[k / 2], 1e3 * ts[0], k);
    free(ts); free(ws); free(in); free(out);
    return 0;
}
