/*
 * driver.c — runs one generated network on a batch read from a file.
 *
 *   cc -DNET=lenet5 -DNETU=LENET5 -DNET_H='"lenet5.h"' [-DSIDECAR] driver.c lenet5.c -lm
 *   ./a.out N in.bin out.bin [lenet5.weights]
 *
 * in.bin holds N images of NETU_IN_SIZE little-endian floats; out.bin gets
 * N outputs.  It also checks the API's argument errors on the way.
 */
#include NET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(NET, name)
#define M(name) CAT(NETU, name)

static int fail(const char *what) {
    fprintf(stderr, "driver: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) return fail("usage: driver N in.bin out.bin [weights]");
    int n = atoi(argv[1]);
    size_t nin = (size_t)n * M(_IN_SIZE), nout = (size_t)n * M(_OUT_SIZE);
    float *in = malloc(nin * sizeof(float)), *out = malloc(nout * sizeof(float));
    FILE *f = fopen(argv[2], "rb");
    if (!in || !out || !f || fread(in, sizeof(float), nin, f) != nin) return fail("cannot read the input");
    fclose(f);
    size_t ws_bytes = M(_WS_BYTES)(n);
    void *ws = malloc(ws_bytes + 1);
#ifdef SIDECAR
    if (F(_forward_ctx)(ws, ws_bytes, n, in, out) != M(_ERR_WEIGHTS)) return fail("forward before load_weights did not fail");
    if (argc < 5) return fail("this network needs its weights file");
    int lw = F(_load_weights)(argv[4]);
    if (lw != 0) { fprintf(stderr, "driver: load_weights: %s\n", F(_strerror)(lw)); return 1; }
#endif
    /* argument checks of the API */
    if (F(_forward_ctx)(NULL, ws_bytes, n, in, out) != M(_ERR_NULL)) return fail("NULL ws accepted");
    if (F(_forward_ctx)(ws, ws_bytes, 0, in, out) != M(_ERR_BATCH)) return fail("n = 0 accepted");
    if (ws_bytes > 0 && F(_forward_ctx)(ws, ws_bytes - 1, n, in, out) != M(_ERR_WORKSPACE))
        return fail("a small workspace accepted");
    if (F(_forward_ctx)((char *)ws + 1, ws_bytes, n, in, out) != M(_ERR_ALIGN)) return fail("misaligned ws accepted");
    if (strcmp(F(_strerror)(M(_ERR_NULL)), "unknown error") == 0) return fail("strerror does not know ERR_NULL");

    /* DRIVER_THREADS=t: the threads of the calls (NAME_set_threads) */
    if (getenv("DRIVER_THREADS")) F(_set_threads)(atoi(getenv("DRIVER_THREADS")));
    int rc = F(_forward_ctx)(ws, ws_bytes, n, in, out);
    if (rc != 0) { fprintf(stderr, "driver: forward_ctx: %s\n", F(_strerror)(rc)); return 1; }
    /* the static-arena entry point, one image at a time, must give each
     * image of the batch the same bits (the batch shares images out over
     * threads and slots; an image alone shares out its layers) */
    float *one = malloc(M(_OUT_SIZE) * sizeof(float));
    for (int i = 0; i < n; i++) {
        if (!one || F(_forward)(in + (size_t)i * M(_IN_SIZE), one) != 0) return fail("forward failed");
        if (memcmp(one, out + (size_t)i * M(_OUT_SIZE), M(_OUT_SIZE) * sizeof(float)) != 0) {
            fprintf(stderr, "driver: image %d of %d: forward and forward_ctx differ\n", i, n);
            return 1;
        }
    }
    f = fopen(argv[3], "wb");
    if (!f || fwrite(out, sizeof(float), nout, f) != nout || fclose(f) != 0) return fail("cannot write the output");
    free(one); free(ws); free(in); free(out);
    return 0;
}
