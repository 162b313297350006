/*
 * calibrate.c — the range of every tensor for int8, from the float network
 * run over calibration images (cnnc --quantize int8 --calibrate DATA).
 *
 * The network as written goes to cnnrt, in inference mode (running
 * statistics, no dropout), as train_desc.c describes it but without its
 * plan, so that every value keeps its own buffer (value v is node v's
 * output); its weights are the ones cnnc compiles (the checkpoint, or the
 * --seed initialisation, which is cnnc-train's).  The images are the first
 * --calibrate-n of an IDX file (or of a folder's training images), fed as
 * cnnc-train feeds them: x/255, then the checkpoint's normalisation; or of a
 * FILE.f32 of raw float32 inputs, each what NAME_forward() takes (any
 * channels and size; fed as they are).
 *
 * Every value's least and greatest output are kept (NaN counted apart).
 * minmax takes them as the range; percentile and kl pass over the images a
 * second time, with a histogram of each value over its [-amax, amax]
 * (quant.c chooses the range from it).  After the inference passes a layer's
 * buffer holds the value of the last layer folded or fused into it
 * (Node.value): its range is that node's.
 *
 * This file links cnnrt into cnnc (the Makefile's CAL_OBJS): the other
 * programs built from the compiler's objects do not need it.
 */
#include "cnnc.h"
#include "cnnrt.h"
#include "cnnrt_net.h"
#include "quant.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* floats of all values of one image, forward and gradient (cnnrt keeps both) */
static double image_floats(const cnnrt_net_desc *d) {
    double f = 0;
    for (int v = 0; v < d->nvalues; v++) f += 2.0 * (double)d->value_size[v];
    return f;
}

/* The images: DATA itself when it is a file, else DATA/train-images-idx3-ubyte
 * (or .gz).  0, or 1 after an error naming the file. */
static int load_images(const char *data, cnnrt_idx_images *im) {
    struct stat st;
    const char *path = data;
    if (stat(data, &st) == 0 && S_ISDIR(st.st_mode)) {
        path = arena_printf("%s/train-images-idx3-ubyte", data);
        if (stat(path, &st) != 0) path = arena_printf("%s/train-images-idx3-ubyte.gz", data);
    }
    char err[512];
    if (cnnrt_idx_load_images(path, im, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "cnnc: error: --calibrate %s: %s\n", data, err);
        return 1;
    }
    return 0;
}

/* The values of the last forward of m images into each value's min/max, or
 * (second pass) into its histogram. */
static void observe(const cnnrt_net *net, const cnnrt_net_desc *d, int nv, int m, QuantMinMax *mm, QuantHist *hist) {
    for (int v = 0; v < nv; v++) {
        const float *x = cnnrt_net_value(net, v);
        long long k = (long long)m * d->value_size[v];
        if (hist) quant_hist_add(&hist[v], x, k);
        else quant_minmax_add(&mm[v], x, k);
    }
}

cnnrt_net *calibrate_float_net(Graph *g, const char *weights, unsigned long long seed, int batch,
                               cnnrt_net_desc *d, int (*batch_of)(const cnnrt_net_desc *)) {
    cnnrt_net_desc *planned = train_desc_build(g);
    if (!planned) return NULL;
    *d = *planned;
    d->op_plan = NULL, d->value_buf = NULL, d->grad_buf = NULL;
    if (batch_of) batch = batch_of(d);
    cnnrt_train_opts to = { .optim = { .kind = CNNRT_SGD }, .lr = { .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-3 },
                            .loss = CNNRT_LOSS_XENT, .seed = seed };   /* no step is taken */
    char err[1024];
    cnnrt_net *net = cnnrt_net_create(d, batch, &to, err, sizeof err);
    if (net && weights && cnnrt_net_load(net, weights, 0, err, sizeof err) != CNNRT_OK) {
        cnnrt_net_free(net);
        net = NULL;
    }
    if (!net) fprintf(stderr, "cnnc: error: %s\n", err);
    return net;
}

/* batches of up to 64 images, within 512 MiB of values */
static int calib_batch(const cnnrt_net_desc *d) {
    double per = image_floats(d) * sizeof(float);
    const double budget = 512.0 * (1 << 20);
    return per * 64 <= budget ? 64 : per >= budget ? 1 : (int)(budget / per);
}

/* FILE.f32: float32 inputs of in_n values each, little-endian, nothing
 * else: their count into *n, or NULL after an error naming the file. */
static float *load_f32(const char *path, long long in_n, long long *n) {
    FILE *f = fopen(path, "rb");
    long long bytes = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
    if (!f || bytes < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cnnc: error: --calibrate %s: cannot read: %s\n", path, strerror(errno));
        if (f) fclose(f);
        return NULL;
    }
    long long per = 4 * in_n;
    if (bytes == 0 || bytes % per != 0) {
        fprintf(stderr, "cnnc: error: --calibrate %s: %lld bytes, expected a whole number of the network's "
                "inputs of %lld float32 (%lld bytes each)\n", path, bytes, in_n, per);
        fclose(f);
        return NULL;
    }
    float *x = malloc((size_t)bytes);
    if (!x || fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
        fprintf(stderr, "cnnc: error: --calibrate %s: %s\n", path, x ? "cannot read" : "out of memory");
        free(x), fclose(f);
        return NULL;
    }
    fclose(f);
    const unsigned one = 1;
    if (*(const unsigned char *)&one != 1)          /* the file is little-endian */
        for (long long i = 0; i < bytes / 4; i++) {
            unsigned char *b = (unsigned char *)&x[i], t0 = b[0], t1 = b[1];
            b[0] = b[3], b[1] = b[2], b[2] = t1, b[3] = t0;
        }
    *n = bytes / per;
    return x;
}

static bool is_f32(const char *path) {
    size_t k = strlen(path);
    return k > 4 && strcmp(path + k - 4, ".f32") == 0;
}

int calibrate(Graph *g, CalibOptions *o) {
    const Shape in = g->nodes[0]->shape;

    cnnrt_idx_images im = { 0 };
    float *raw = NULL;           /* FILE.f32: the inputs as they are */
    long long nraw = 0;
    if (is_f32(o->data)) {
        if (!(raw = load_f32(o->data, shape_numel(in), &nraw))) return 1;
    } else if (load_images(o->data, &im)) {
        return 1;
    } else if (in.sp != 2 || in.c != 1 || in.h != im.h || in.w != im.w) {
        fprintf(stderr, "cnnc: error: --calibrate %s: the images are %dx%d, one channel (IDX), but the "
                "network '%s' takes %s\n", im.path, im.h, im.w, g->name, shape_str(in));
        cnnrt_idx_images_free(&im);
        return 1;
    }
    double mean[NORM_MAX_CHANNELS], stdv[NORM_MAX_CHANNELS];
    int norm = raw ? 0 : weights_normalize(g, in.c, mean, stdv);
    if (norm < 0) {
        fprintf(stderr, "cnnc: error: %s: metadata 'normalize' is \"%s\": expected MEAN,STD (finite, STD > 0)\n",
                o->weights, weights_metadata(g, "normalize"));
        cnnrt_idx_images_free(&im);
        return 1;
    }
    if (!norm) mean[0] = 0, stdv[0] = 1;
    long long have = raw ? nraw : im.n, n = o->n > 0 && o->n < have ? o->n : have;
    o->used = n;

    cnnrt_net_desc d;
    cnnrt_net *net = calibrate_float_net(g, o->weights, o->seed, 0, &d, calib_batch);
    if (!net) {
        cnnrt_idx_images_free(&im);
        free(raw);
        return 1;
    }
    const int batch = calib_batch(&d);

    int nv = g->nnodes;                       /* the nodes' values (extra ones follow them) */
    QuantMinMax *mm = calloc((size_t)nv, sizeof *mm);
    float *x = malloc(sizeof(float) * (size_t)batch * (size_t)shape_numel(in));
    float *out = malloc(sizeof(float) * (size_t)batch * (size_t)d.out_size);
    bool two = strcmp(o->method, "minmax") != 0;
    QuantHist *hist = two ? calloc((size_t)nv, sizeof *hist) : NULL;
    int status = 0;
    if (!mm || !x || !out || (two && !hist)) {
        fputs("cnnc: error: calibration: out of memory\n", stderr);
        status = 1;
        goto done;
    }
    for (int v = 0; v < nv; v++) quant_minmax_init(&mm[v]);
    for (int pass = 0; pass < 1 + two; pass++) {
        if (pass == 1)
            for (int v = 0; v < nv; v++) quant_hist_init(&hist[v], &mm[v]);
        for (long long i = 0; i < n; i += batch) {
            int m = (int)(n - i < batch ? n - i : batch);
            size_t px = (size_t)shape_numel(in);
            if (raw) memcpy(x, raw + (size_t)i * px, sizeof(float) * (size_t)m * px);
            else cnnrt_u8_to_float(x, im.data + (size_t)i * px, (float)mean[0], (float)stdv[0], (size_t)m * px);
            cnnrt_net_eval(net, x, m, out);
            observe(net, &d, nv, m, mm, pass ? hist : NULL);
        }
    }
    for (int v = 0; v < nv; v++) {
        Node *k = g->nodes[v];
        QuantRange r = { 0, 0 };
        int rc = strcmp(o->method, "percentile") == 0 ? quant_range_percentile(&hist[v], o->percentile / 100, &r)
                 : strcmp(o->method, "kl") == 0       ? quant_range_kl(&hist[v], &r)
                                                      : quant_range_minmax(&mm[v], &r);
        k->cal = mm[v].count > 0 && rc == QUANT_OK;
        k->cal_min = mm[v].min, k->cal_max = mm[v].max, k->cal_nan = mm[v].nonfinite;
        k->cal_lo = r.lo, k->cal_hi = r.hi;
    }
done:
    free(hist), free(mm), free(x), free(out);
    cnnrt_net_free(net);
    cnnrt_idx_images_free(&im);
    free(raw);
    return status;
}
