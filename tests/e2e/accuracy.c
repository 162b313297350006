/*
 * accuracy.c — classify an IDX test set with a generated network.
 *
 *   cc -DNET=x -DNETU=X -DNET_H='"x.h"' accuracy.c x.c -lcnnrt ...
 *   ./a.out DIR N [x.weights]     -> prints the accuracy in percent
 *
 * Pixels go in as x/255, as the generated code expects (it applies the
 * training normalisation itself).
 */
#include NET_H

#include "cnnrt.h"

#include <stdio.h>
#include <stdlib.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(NET, name)
#define M(name) CAT(NETU, name)

int main(int argc, char **argv) {
    char err[1024];
    cnnrt_dataset ds;
    if (argc < 3 || cnnrt_dataset_load(argv[1], &ds, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "accuracy: %s\n", argc < 3 ? "usage: accuracy DIR N [weights]" : err);
        return 1;
    }
#ifdef SIDECAR
    if (argc < 4 || F(_load_weights)(argv[3]) != 0) { fprintf(stderr, "accuracy: cannot load weights\n"); return 1; }
#endif
    int n = atoi(argv[2]);
    if (n <= 0 || n > ds.test_images.n) n = ds.test_images.n;
    size_t isz = (size_t)ds.test_images.h * (size_t)ds.test_images.w;
    if (isz != M(_IN_SIZE)) { fprintf(stderr, "accuracy: image size mismatch\n"); return 1; }
    float in[M(_IN_SIZE)], out[M(_OUT_SIZE)];
    int correct = 0;
    for (int i = 0; i < n; i++) {
        cnnrt_u8_to_float(in, ds.test_images.data + (size_t)i * isz, 0.0f, 1.0f, isz);
        if (F(_forward)(in, out) != 0) { fprintf(stderr, "accuracy: forward failed\n"); return 1; }
        int best = 0;
        for (int c = 1; c < M(_OUT_SIZE); c++) if (out[c] > out[best]) best = c;
        correct += best == ds.test_labels.data[i];
    }
    printf("%.4f\n", 100.0 * correct / n);
    cnnrt_dataset_free(&ds);
    return 0;
}
