/*
 * steptime — cnnrt's side of `make bench-train`: time training steps of a
 * .net, or one epoch of Fashion-MNIST.
 *
 *   steptime MODEL.net --batch N --threads T --secs S
 *   steptime MODEL.net --batch N --threads T --epoch DIR
 *
 * The network is compiled as cnnc-train compiles it (front_train_desc) and trained by
 * cnnrt_net_train_step: forward in training mode, softmax cross-entropy,
 * backward, one Adam step (lr 1e-3, PyTorch's defaults otherwise).
 * The kernels run on T threads, OpenBLAS on one of them (cnnrt_set_threads).
 *
 * Step mode: 8 batches of random inputs U(−1, 1) and random labels (fixed
 * seed), used in turn; a warm-up of at least 5 steps and 0.5 s, then steps
 * until S seconds have passed (at least 10).  Prints one line:
 *   "median_ms_per_step min_ms steps cpu_ms_per_step"
 * where the last is the process's CPU time (all threads) over the timed
 * steps divided by their number: with one thread, a measure that a busy
 * machine disturbs less than the wall clock.
 *
 * Epoch mode: one pass over the training set in DIR (an MNIST-style IDX
 * directory) in a shuffled order, batches of N (the last one smaller),
 * pixels fed as x/255, exactly as cnnc-train feeds them without
 * --normalize; no evaluation.  One warm-up step on the first batch comes
 * before the clock starts.  Prints one line:
 *   "seconds steps mean_loss train_accuracy_percent"
 *
 * Exit status 0, 1 on an error (with a message on stderr).
 */
#include "cnnc.h"

#include "cnnrt_net.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int fail(const char *msg, const char *arg) {
    fprintf(stderr, "steptime: error: %s%s\n", msg, arg ? arg : "");
    return 1;
}

static cnnrt_net *make_net(const cnnrt_net_desc *desc, int batch, long steps_per_epoch) {
    cnnrt_train_opts to = { .optim = cnnrt_optim_defaults(CNNRT_ADAM), .loss = CNNRT_LOSS_XENT, .seed = 1 };
    to.lr = (cnnrt_lr_schedule){ .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-3, .step_size = steps_per_epoch,
                                 .gamma = 0.1, .T = 1 };
    char err[1024];
    cnnrt_net *net = cnnrt_net_create(desc, batch, &to, err, sizeof err);
    if (!net) fail(err, NULL);
    return net;
}

static int time_steps(const cnnrt_net_desc *desc, int batch, double secs) {
    cnnrt_net *net = make_net(desc, batch, 1);
    if (!net) return 1;
    int K;
    cnnrt_net_logits(net, &K);
    enum { NB = 8 };
    size_t isz = (size_t)desc->value_size[0];
    float *x = malloc(sizeof(float) * isz * (size_t)batch * NB);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch * NB);
    int cap = 100000;
    double *ts = malloc(sizeof(double) * (size_t)cap);
    if (!x || !y || !ts) return fail("out of memory", NULL);
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 12345);
    for (size_t i = 0; i < isz * (size_t)batch * NB; i++) x[i] = 2.0f * cnnrt_rng_uniform(&r) - 1.0f;
    for (int i = 0; i < batch * NB; i++) y[i] = (int32_t)(cnnrt_rng_u32(&r) % (uint32_t)K);
    long k = 0;
    double t0 = now();
    while (k < 5 || now() - t0 < 0.5) {
        int b = (int)(k++ % NB);
        cnnrt_net_train_step(net, x + (size_t)b * isz * (size_t)batch, y + (size_t)b * batch, NULL, batch);
    }
    int m = 0;
    t0 = now();
    double c0 = cpu_now();
    while (m < cap && (m < 10 || now() - t0 < secs)) {
        int b = (int)(k++ % NB);
        double a = now();
        cnnrt_net_train_step(net, x + (size_t)b * isz * (size_t)batch, y + (size_t)b * batch, NULL, batch);
        ts[m++] = now() - a;
    }
    double cpu = (cpu_now() - c0) / m;
    qsort(ts, (size_t)m, sizeof *ts, cmp);
    printf("%.4f %.4f %d %.4f\n", 1e3 * ts[m / 2], 1e3 * ts[0], m, 1e3 * cpu);
    free(x); free(y); free(ts);
    cnnrt_net_free(net);
    return 0;
}

static int time_epoch(const cnnrt_net_desc *desc, int batch, const char *dir) {
    char err[4096];
    cnnrt_dataset ds;
    if (cnnrt_dataset_load(dir, &ds, err, sizeof err) != CNNRT_OK) return fail(err, NULL);
    int n = ds.train_images.n;
    size_t isz = (size_t)ds.train_images.h * (size_t)ds.train_images.w;
    if ((size_t)desc->value_size[0] != isz) return fail("the network does not take the images of ", dir);
    long steps = (n + batch - 1) / batch;
    cnnrt_net *net = make_net(desc, batch, steps);
    if (!net) return 1;
    float *xb = malloc(sizeof(float) * isz * (size_t)batch);
    int32_t *yb = malloc(sizeof(int32_t) * (size_t)batch);
    int *perm = malloc(sizeof(int) * (size_t)n);
    if (!xb || !yb || !perm) return fail("out of memory", NULL);
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 7);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(((unsigned long long)cnnrt_rng_u32(&r) * (unsigned long long)(i + 1)) >> 32);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
    double loss_sum = 0;
    long correct = 0;
    double t0 = 0;
    for (long s = -1; s < steps; s++) {          /* s = −1: the warm-up step */
        if (s == 0) {
            loss_sum = 0;
            correct = 0;
            t0 = now();
        }
        long s0 = s < 0 ? 0 : s;
        int m = (int)(n - s0 * batch < batch ? n - s0 * batch : batch);
        for (int i = 0; i < m; i++) {
            int k = perm[s0 * batch + i];
            cnnrt_u8_to_float(xb + (size_t)i * isz, ds.train_images.data + (size_t)k * isz, 0.0f, 1.0f, isz);
            yb[i] = ds.train_labels.data[k];
        }
        float loss = cnnrt_net_train_step(net, xb, yb, NULL, m);
        int K;
        const float *lg = cnnrt_net_logits(net, &K);
        for (int i = 0; i < m; i++) {
            int best = 0;
            for (int j = 1; j < K; j++) if (lg[(size_t)i * K + j] > lg[(size_t)i * K + best]) best = j;
            correct += best == yb[i];
        }
        loss_sum += (double)loss * m;
        if (s == steps - 1)
            printf("%.3f %ld %.4f %.2f\n", now() - t0, steps, loss_sum / n, 100.0 * (double)correct / n);
    }
    free(xb); free(yb); free(perm);
    cnnrt_net_free(net);
    cnnrt_dataset_free(&ds);
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL, *epoch = NULL;
    int batch = 64, threads = 1;
    double secs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--secs") && i + 1 < argc) secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--epoch") && i + 1 < argc) epoch = argv[++i];
        else if (argv[i][0] != '-' && !model) model = argv[i];
        else return fail("usage: steptime MODEL.net --batch N --threads T (--secs S | --epoch DIR), not ", argv[i]);
    }
    if (!model || batch < 1 || threads < 1)
        return fail("usage: steptime MODEL.net --batch N --threads T (--secs S | --epoch DIR)", NULL);
    cnnrt_set_threads(threads);

    cnnrt_net_desc *desc = front_train_desc(model, NULL);
    if (!desc) return 1;
    int rc = epoch ? time_epoch(desc, batch, epoch) : time_steps(desc, batch, secs);
    arena_free_all();
    return rc;
}
