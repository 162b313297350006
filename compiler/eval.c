/*
 * eval.c — cnnc eval: what a network gets right on a test set, float and
 * int8, and where int8 loses it.
 *
 *   cnnc eval MODEL.net --data DIR [--weights W | --seed N] [--limit N]
 *             [--quantize int8 --calibrate DATA [--calibrate-n N] [--calibration M]
 *              [--keep-float L1,L2]]
 *             [--layers K] [--eval-cc COMMAND]
 *
 * The float network is the network as written, run by cnnrt in inference
 * mode (what cnnc-train's test accuracy measures).  The int8 network is the
 * C cnnc writes with --quantize int8, built in a temporary folder with the
 * eval compiler (--eval-cc, default --tune's command) and a small driver,
 * and run on the same images; that build also hands each int8 layer's
 * output to the driver (cnnc_q8_trace) for the first K images, so that each
 * layer's int8 output, dequantized, can be compared with the float value it
 * stands for (Node.value): relative L2 error and SQNR in dB show where the
 * accuracy goes.  Top-1 (and top-5 with more than 5 classes) and the
 * confusion matrix of each network are printed.
 */
#include "cnnc.h"
#include "cnnrt.h"
#include "cnnrt_file.h"
#include "cnnrt_net.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Score {
    long long n, top1, top5;
    long long *confusion;     /* [classes][classes]: true class, predicted */
} Score;

static void score(Score *s, const float *out, int k, int label) {
    int best = 0, above = 0;
    for (int j = 1; j < k; j++)
        if (out[j] > out[best]) best = j;
    for (int j = 0; j < k; j++) above += out[j] > out[label];
    s->n++;
    s->top1 += best == label;
    s->top5 += above < 5;
    s->confusion[(long long)label * k + best]++;
}

static void print_confusion(const Score *s, int k, const char *what) {
    printf("\nconfusion matrix, %s (rows: true class, columns: predicted)\n      ", what);
    for (int j = 0; j < k; j++) printf(" %5d", j);
    putchar('\n');
    for (int i = 0; i < k; i++) {
        printf("  %3d ", i);
        for (int j = 0; j < k; j++) printf(" %5lld", s->confusion[(long long)i * k + j]);
        putchar('\n');
    }
}

/* The driver of the int8 build: images from in.bin, outputs to out.bin,
 * each traced layer of the first K images to trace.bin. */
static const char *driver_text(const Graph *g, int k_trace) {
    const char *N = g->name;
    char *U = arena_strdup(N);
    for (char *p = U; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return arena_printf(
        "/* cnnc eval's driver: the int8 network over the images of in.bin */\n"
        "#include <stdio.h>\n#include <stdint.h>\n#include \"%s.h\"\n"
        "static FILE *trace;\nstatic int tracing;\n"
        "void cnnc_q8_trace(int node, const int8_t *q, long n, long c) {\n"
        "    (void)node;\n"
        "    if (tracing)    /* channels last to channels first */\n"
        "        for (long ch = 0; ch < c; ch++)\n"
        "            for (long p = ch; p < n; p += c) fputc(q[p], trace);\n}\n"
        "int main(int argc, char **argv) {\n"
        "    static float in[%s_IN_SIZE], out[%s_OUT_SIZE];\n"
        "    FILE *fi = fopen(argv[1], \"rb\"), *fo = fopen(argv[2], \"wb\");\n"
        "    trace = fopen(argv[3], \"wb\");\n"
        "    if (!fi || !fo || !trace) return 2;\n"
        "#ifdef %s_ERR_WEIGHTS\n"
        "    if (argc < 5 || %s_load_weights(argv[4]) != 0) return 3;\n"
        "#endif\n"
        "    for (int i = 0; fread(in, sizeof in, 1, fi) == 1; i++) {\n"
        "        tracing = i < %d;\n"
        "        if (%s_forward(in, out) != 0) return 4;\n"
        "        if (fwrite(out, sizeof out, 1, fo) != 1) return 5;\n"
        "    }\n"
        "    return fclose(fo) != 0 || fclose(trace) != 0;\n}\n",
        N, U, U, U, N, k_trace, N);
}

typedef struct EvalArgs {
    const char *net, *data, *weights, *cc;
    unsigned long long seed;
    long long limit, layers;
    const char *quantize;
    CalibOptions cal;
} EvalArgs;

static int usage_error(void) {
    fputs("Try 'cnnc eval --help' for more information.\n", stderr);
    return 2;
}

static const char *const eval_help =
    "usage: cnnc eval MODEL.net --data DIR [--weights W.safetensors | --seed N] [--limit N]\n"
    "                 [--quantize int8 --calibrate DATA [--calibrate-n N] [--calibration M]\n"
    "                  [--keep-float L1,L2]]\n"
    "                 [--layers K] [--eval-cc COMMAND]\n"
    "\n"
    "Top-1 (and top-5) accuracy and the confusion matrix of the network on the test\n"
    "images of DIR (t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]), run by\n"
    "cnnrt; with --quantize int8, also of the int8 C cnnc writes (built with the eval\n"
    "compiler, default \"cc -std=c99 -O2 -march=native\"), and each int8 layer's error\n"
    "against the float value it stands for over the first K test images (--layers,\n"
    "default 100): relative L2 and SQNR in dB.\n";

static int parse(int argc, char **argv, EvalArgs *a) {
    enum { O_DATA = 300, O_WEIGHTS, O_SEED, O_LIMIT, O_LAYERS, O_CC, O_Q, O_CAL, O_CALN, O_CALM, O_KEEP };
    static const struct option opts[] = {
        { "data", required_argument, NULL, O_DATA },       { "weights", required_argument, NULL, O_WEIGHTS },
        { "seed", required_argument, NULL, O_SEED },       { "limit", required_argument, NULL, O_LIMIT },
        { "layers", required_argument, NULL, O_LAYERS },   { "eval-cc", required_argument, NULL, O_CC },
        { "quantize", required_argument, NULL, O_Q },      { "calibrate", required_argument, NULL, O_CAL },
        { "calibrate-n", required_argument, NULL, O_CALN }, { "calibration", required_argument, NULL, O_CALM },
        { "keep-float", required_argument, NULL, O_KEEP },
        { "help", no_argument, NULL, 'h' },                { NULL, 0, NULL, 0 },
    };
    *a = (EvalArgs){ .cc = tune_default_cc(), .seed = 1, .layers = 100,
                     .cal = { .n = 1000, .method = "minmax", .percentile = 99.99 } };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = 0;
        if (c == O_SEED || c == O_LIMIT || c == O_LAYERS || c == O_CALN) {
            v = strtoull(optarg, &end, 10);
            if (*end || errno || optarg[0] == '-' || !optarg[0] || v > (1ULL << 40)) {
                fprintf(stderr, "cnnc eval: error: --%s takes a non-negative integer, not '%s'\n",
                        opts[c - O_DATA].name, optarg);
                return usage_error();
            }
        }
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_WEIGHTS: a->weights = optarg; break;
        case O_SEED: a->seed = v; break;
        case O_LIMIT: a->limit = (long long)v; break;
        case O_LAYERS: a->layers = (long long)v; break;
        case O_CC: a->cc = optarg; break;
        case O_Q:
            if (strcmp(optarg, "int8") != 0) {
                fprintf(stderr, "cnnc eval: error: --quantize takes int8, not '%s'\n", optarg);
                return usage_error();
            }
            a->quantize = optarg;
            break;
        case O_CAL: a->cal.data = optarg; break;
        case O_KEEP: a->cal.keep_float = optarg; break;
        case O_CALN: a->cal.n = (long long)v; break;
        case O_CALM:
            if (strcmp(optarg, "minmax") && strcmp(optarg, "kl") && strcmp(optarg, "percentile")) {
                fprintf(stderr, "cnnc eval: error: --calibration takes minmax, kl or percentile, not '%s'\n", optarg);
                return usage_error();
            }
            a->cal.method = optarg;
            break;
        case 'h': fputs(eval_help, stdout); return -1;
        default: return usage_error();
        }
    }
    if (optind != argc - 1 || !a->data) {
        fputs(optind != argc - 1 ? "cnnc eval: error: one network file\n" : "cnnc eval: error: --data DIR is needed\n",
              stderr);
        return usage_error();
    }
    if (!!a->quantize != !!a->cal.data) {
        fputs("cnnc eval: error: --quantize int8 and --calibrate DATA go together\n", stderr);
        return usage_error();
    }
    a->net = argv[optind];
    return 0;
}

/* The int8 build: written, compiled and run over the n images of x (floats
 * in [0, 1]); its outputs into q_out, its trace file's path into *trace.
 * 0, or 1 after an error said. */
static int run_int8(Graph *q, const EvalArgs *a, const char *dir, const float *x, long long n, float *q_out) {
    Plan plan;
    if (plan_arena(q, &plan)) return 1;
    EmitOptions eo = { .out_c = arena_printf("%s/%s.c", dir, q->name), .source_name = a->net,
                       .weights_origin = a->weights ? a->weights : "seed", .trace = true, .max_baked_bytes = 0,
                       .calib = a->cal.method };
    if (emit_c(q, &plan, &eo) != 0) return 1;
    const char *drv = driver_text(q, (int)a->layers);
    const char *in = arena_printf("%s/in.bin", dir), *out = arena_printf("%s/out.bin", dir);
    long long isz = shape_numel(q->nodes[0]->shape), osz = shape_numel(q->output->shape);
    if (cnnrt_write_file(arena_printf("%s/driver.c", dir), drv, strlen(drv)) != 0 ||
        cnnrt_write_file(in, x, sizeof(float) * (size_t)(n * isz)) != 0) {
        fprintf(stderr, "cnnc eval: error: cannot write in %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const char *cmd = arena_printf("%s -I%s %s/driver.c %s/%s.c -o %s/run -lm >%s/cc.log 2>&1", a->cc, dir, dir, dir,
                                   q->name, dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cnnc eval: error: building the int8 code failed: %s (see %s/cc.log)\n", cmd, dir);
        return 1;
    }
    cmd = arena_printf("%s/run %s %s %s/trace.bin %s/%s.weights", dir, in, out, dir, dir, q->name);
    if (system(cmd) != 0) {
        fprintf(stderr, "cnnc eval: error: running the int8 code failed: %s\n", cmd);
        return 1;
    }
    FILE *f = fopen(out, "rb");
    size_t got = f ? fread(q_out, sizeof(float) * (size_t)osz, (size_t)n, f) : 0;
    if (f) fclose(f);
    if ((long long)got != n) {
        fprintf(stderr, "cnnc eval: error: the int8 run wrote %zu outputs of %lld\n", got, n);
        return 1;
    }
    return 0;
}

/* Each int8 layer's error over the first k images, against the float values
 * of the network as written (net, unplanned: every value its own buffer). */
static void layer_errors(const Graph *g, const Graph *q, cnnrt_net *net, const cnnrt_net_desc *d, const float *x,
                         long long k, int batch, const char *trace_path) {
    FILE *t = fopen(trace_path, "rb");
    if (!t) return;
    int nl = 0;
    const Node **lay = arena_alloc(sizeof(Node *) * (size_t)q->nnodes);
    for (int i = 0; i < q->nnodes; i++)
        if (q->nodes[i]->q8 && !q->nodes[i]->removed) lay[nl++] = q->nodes[i];
    double *se = calloc((size_t)nl, sizeof(double)), *sf = calloc((size_t)nl, sizeof(double));
    long long isz = shape_numel(g->nodes[0]->shape);
    float *scratch = malloc(sizeof(float) * (size_t)batch * (size_t)d->out_size);
    signed char *buf = NULL;
    size_t cap = 0;
    for (long long i0 = 0; i0 < k && se && sf && scratch; i0 += batch) {
        int m = (int)(k - i0 < batch ? k - i0 : batch);
        cnnrt_net_eval(net, x + i0 * isz, m, scratch);
        for (int j = 0; j < m; j++)
            for (int l = 0; l < nl; l++) {
                const Node *n = lay[l];
                long long cnt = shape_numel(n->shape);
                if ((size_t)cnt > cap) buf = realloc(buf, cap = (size_t)cnt);
                if (!buf || fread(buf, 1, (size_t)cnt, t) != (size_t)cnt) goto done;
                const float *f = cnnrt_net_value(net, n->value) + (size_t)j * (size_t)d->value_size[n->value];
                for (long long e = 0; e < cnt; e++) {
                    double r = (double)(buf[e] - n->q_zp) * n->q_scale, v = f[e];
                    if (v != v) continue;
                    se[l] += (r - v) * (r - v);
                    sf[l] += v * v;
                }
            }
    }
    printf("\nper-layer error of the int8 code against the float values, first %lld test images\n", k);
    printf("%5s  %-44s %10s %9s\n", "line", "layer (the layer as written it holds)", "rel. L2", "SQNR dB");
    for (int l = 0; l < nl; l++) {
        const Node *n = lay[l];
        double rel = sf[l] > 0 ? sqrt(se[l] / sf[l]) : 0;
        const char *name = strcmp(n->name, g->nodes[n->value]->name) ? arena_printf("%s (%s)", n->name,
                                                                                      g->nodes[n->value]->name)
                                                                     : n->name;
        printf("%5d  %-44s %10.5f %9.2f\n", n->loc.line, name, rel, se[l] > 0 ? 10 * log10(sf[l] / se[l]) : INFINITY);
    }
done:
    free(se), free(sf), free(scratch), free(buf);
    fclose(t);
}

int eval_main(int argc, char **argv) {
    EvalArgs a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    Graph *g = front_load(a.net);
    if (!g) return 1;
    if (a.weights ? weights_load_safetensors(g, a.weights) || weights_check_finite(g, a.weights)
                  : (weights_init_seeded(g, a.seed), 0))
        return 1;
    char err[1024];
    cnnrt_dataset ds;
    if (cnnrt_dataset_load(a.data, &ds, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "cnnc eval: error: %s\n", err);
        return 1;
    }
    int status = 1, k = (int)shape_numel(g->output->shape);
    const Shape in = g->nodes[0]->shape;
    cnnrt_net *net = NULL;
    float *x = NULL, *fo = NULL, *qo = NULL;
    Score sf = { 0 }, sq = { 0 };
    char dir[] = "/tmp/cnnc-eval.XXXXXX";
    bool made_dir = false;
    if (in.sp != 2 || in.c != 1 || in.h != ds.test_images.h || in.w != ds.test_images.w) {
        fprintf(stderr, "cnnc eval: error: %s: the images are %dx%d, one channel, but '%s' takes %s\n",
                ds.test_images.path, ds.test_images.h, ds.test_images.w, g->name, shape_str(in));
        goto done;
    }
    if (cnnrt_dataset_check_classes(&ds, k, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "cnnc eval: error: %s\n", err);
        goto done;
    }
    long long n = a.limit > 0 && a.limit < ds.test_images.n ? a.limit : ds.test_images.n;
    double mean[NORM_MAX_CHANNELS], stdv[NORM_MAX_CHANNELS];
    int norm = weights_normalize(g, in.c, mean, stdv);
    if (norm < 0) {
        fprintf(stderr, "cnnc eval: error: %s: metadata 'normalize' is malformed\n", a.weights);
        goto done;
    }
    size_t px = (size_t)in.h * (size_t)in.w;
    x = malloc(sizeof(float) * px * (size_t)n);            /* x/255: what the generated code takes */
    float *xn = malloc(sizeof(float) * px * (size_t)n);    /* normalised: what cnnrt takes */
    fo = malloc(sizeof(float) * (size_t)k * (size_t)n);
    qo = malloc(sizeof(float) * (size_t)k * (size_t)n);
    sf.confusion = calloc((size_t)k * (size_t)k, sizeof(long long));
    sq.confusion = calloc((size_t)k * (size_t)k, sizeof(long long));
    if (!x || !xn || !fo || !qo || !sf.confusion || !sq.confusion) {
        fputs("cnnc eval: error: out of memory\n", stderr);
        free(xn);
        goto done;
    }
    cnnrt_u8_to_float(x, ds.test_images.data, 0.0f, 1.0f, px * (size_t)n);
    cnnrt_u8_to_float(xn, ds.test_images.data, norm ? (float)mean[0] : 0.0f, norm ? (float)stdv[0] : 1.0f,
                      px * (size_t)n);

    /* the float network as written, every value its own buffer */
    cnnrt_net_desc d;
    const int batch = 32;
    if (!(net = calibrate_float_net(g, a.weights, a.seed, batch, &d, NULL))) {
        free(xn);
        goto done;
    }
    for (long long i = 0; i < n; i += batch) {
        int m = (int)(n - i < batch ? n - i : batch);
        cnnrt_net_eval(net, xn + (size_t)i * px, m, fo + (size_t)i * (size_t)k);
    }
    for (long long i = 0; i < n; i++) score(&sf, fo + (size_t)i * (size_t)k, k, ds.test_labels.data[i]);

    if (a.quantize) {
        a.cal.weights = a.weights, a.cal.seed = a.seed;
        if (calibrate(g, &a.cal)) { free(xn); goto done; }
        Graph *q = g;            /* the passes in place: the weights' metadata belongs to g */
        if (pass_fold_batchnorm(q) || pass_fuse_activations(q) || pass_remove_noops(q) || pass_quantize(q, a.cal.keep_float)) {
            free(xn);
            goto done;
        }
        if (!mkdtemp(dir)) {
            fprintf(stderr, "cnnc eval: error: cannot make a temporary folder: %s\n", strerror(errno));
            free(xn);
            goto done;
        }
        made_dir = true;
        if (run_int8(q, &a, dir, x, n, qo)) { free(xn); goto done; }
        for (long long i = 0; i < n; i++) score(&sq, qo + (size_t)i * (size_t)k, k, ds.test_labels.data[i]);
        printf("%s on %lld test images of %s\n\n", g->name, n, a.data);
        printf("         top-1%s\n", k > 5 ? "      top-5" : "");
        printf("  float  %6.2f%%", 100.0 * sf.top1 / n);
        if (k > 5) printf("    %6.2f%%", 100.0 * sf.top5 / n);
        printf("\n  int8   %6.2f%%", 100.0 * sq.top1 / n);
        if (k > 5) printf("    %6.2f%%", 100.0 * sq.top5 / n);
        printf("    (%+.2f points top-1; calibration %s over %lld images of %s)\n",
               100.0 * (sq.top1 - sf.top1) / n, a.cal.method, a.cal.n, a.cal.data);
        print_confusion(&sf, k, "float");
        print_confusion(&sq, k, "int8");
        long long kk = a.layers < n ? a.layers : n;
        if (kk > 0) layer_errors(g, q, net, &d, xn, kk, batch, arena_printf("%s/trace.bin", dir));
    } else {
        printf("%s on %lld test images of %s\n\n", g->name, n, a.data);
        printf("         top-1%s\n  float  %6.2f%%", k > 5 ? "      top-5" : "", 100.0 * sf.top1 / n);
        if (k > 5) printf("    %6.2f%%", 100.0 * sf.top5 / n);
        putchar('\n');
        print_confusion(&sf, k, "float");
    }
    free(xn);
    status = fflush(stdout) == 0 ? 0 : 2;
done:
    if (made_dir) {
        const char *files[] = { "%s/%s.c", "%s/%s.h", "%s/%s.weights", "%s/driver.c", "%s/run", "%s/cc.log",
                                "%s/in.bin", "%s/out.bin", "%s/trace.bin" };
        for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(arena_printf(files[i], dir, g->name));
        rmdir(dir);
    }
    if (net) cnnrt_net_free(net);
    free(x), free(fo), free(qo), free(sf.confusion), free(sq.confusion);
    cnnrt_dataset_free(&ds);
    return status;
}
