/*
 * main.c — the cnnc driver: read → parse → elaborate → check shapes →
 * report / emit.  Each phase returns its error count; the driver stops after
 * a phase that reported errors and then writes nothing.
 *
 * Exit codes: 0 success, 1 the input has errors, 2 bad command line or an
 * I/O failure on output.
 */
#include "cnnc.h"
#include "cnnrt_file.h"   /* output files (runtime/outfile.c) */
#include "import.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_REPORT = 256, OPT_HELP_LAYERS, OPT_MAX_ERRORS, OPT_VERSION, OPT_WEIGHTS, OPT_SEED,
       OPT_STANDALONE, OPT_TARGET, OPT_EMIT, OPT_EMBED_LIMIT, OPT_TRAIN, OPT_DOT, OPT_HELP_TARGETS,
       OPT_TUNE, OPT_TUNE_FILE, OPT_TUNE_CC, OPT_QUANTIZE, OPT_CALIBRATE, OPT_CALIBRATE_N, OPT_CALIBRATION, OPT_KEEP_FLOAT, OPT_INT8_IO };

static void usage(FILE *out) {
    fputs("usage: cnnc [options] FILE.net\n"
          "       cnnc [options] MODEL.onnx     (imported first: cnnc import --help)\n"
          "       cnnc import MODEL.onnx | NET.cfg [--weights NET.weights] [-o FILE.net]\n"
          "       cnnc eval FILE.net --data DIR [--weights W] [--quantize int8 --calibrate DATA]\n"
          "\n"
          "  -o FILE.c             write FILE.c and FILE.h (default: NETWORK.c)\n"
          "  --report[=text|json]  print shapes, params, MACs, memory and receptive fields\n"
          "                        instead (to stdout, or to -o FILE)\n"
          "  --dot                 write a Graphviz picture of the network instead\n"
          "                        (to stdout, or to -o FILE.dot; render with dot -Tsvg)\n"
          "  --weights FILE        bake in trained weights (safetensors, PyTorch names)\n"
          "  --seed N              without --weights: PyTorch-style random init from N\n"
          "                        (default 1; the same weights as cnnc-train --seed N)\n"
          "  --standalone          generated C needs only a C99 compiler and libm\n"
          "  --target NAME         what the generated C is for (default: this machine's):\n"
          "                        x86-64, aarch64, cortex-m or generic (--help-targets)\n"
          "  --tune                measure each conv's algorithms on this machine (one\n"
          "                        thread) and take the fastest; the times go to the\n"
          "                        tune file, which later builds read (measuring only\n"
          "                        the conv shapes it lacks)\n"
          "  --tune-file FILE      the tune file (default: the network's file with .tune\n"
          "                        for .net); given alone, its choices without measuring\n"
          "  --tune-cc COMMAND     how --tune builds what it measures\n"
          "                        (default \"cc -std=c99 -O2 -march=native\")\n"
          "  --quantize int8       int8 weights and activations, ranges from --calibrate\n"
          "                        (docs/quantize.md)\n"
          "  --calibrate DATA      the images that set the int8 ranges: an IDX image file,\n"
          "                        a folder's train-images-idx3-ubyte[.gz], or FILE.f32\n"
          "                        (raw float32 inputs, each what NAME_forward takes)\n"
          "  --calibrate-n N       the first N images only (default 1000; 0: all)\n"
          "  --keep-float L1,L2    these layers stay float (as every layer without int8 code\n"
          "                        does), quantize/dequantize at their edges\n"
          "  --int8-io             NAME_forward takes the input quantized and gives the\n"
          "                        output's int8 (the header states both maps)\n"
          "  --calibration M       how a tensor's range is chosen: minmax (default), kl\n"
          "                        (entropy, as TensorRT), percentile[=P] (P% of the values\n"
          "                        kept, default 99.99)\n"
          "  --embed-limit BYTES   weights larger than this go to a sidecar FILE.weights\n"
          "                        (default 4194304)\n"
          "  --emit c|pytorch      what to write (default c); pytorch: an nn.Module to -o FILE.py\n"
          "  --train               write training code for cnnrt instead (default NETWORK_train.c)\n"
          "  -I DIR                also look for included files in DIR\n"
          "  --max-errors N        stop printing after N errors (default 20)\n"
          "  --help-layers         list the layer kinds, attributes and defaults\n"
          "  --version             print the version\n"
          "  -h, --help            this help\n"
          "\n"
          "FILE may be - for standard input.  -o - writes a report, --dot or --emit\n"
          "pytorch to standard output (generated C is two files and needs a name).\n"
          "-- ends the options.\n"
          "\n"
          "Exit status: 0 ok, 1 errors in the input (the network, an include, the\n"
          "weights), 2 bad usage or an output failure.\n", out);
}

/* --help-targets: the targets, what each one means, the default */
static void print_targets(FILE *out) {
    fputs("cnnc --target NAME: what the generated C is built for.\n\n", out);
    for (int i = 0; i < ntargets; i++) {
        const Target *t = &targets[i];
        fprintf(out, "  %-10s %s%s\n", t->name, t->summary, t == target_host() ? " [default here]" : "");
        fprintf(out, "  %-10s build: %s -c NET.c\n", "", t->cc);
    }
    fputs("\nThe generated .c stops with #error when built for another architecture\n"
          "(define CNNC_NO_TARGET_CHECK to build it anyway, e.g. to test on a PC).\n", out);
}

/* a usage error: one line on what was wrong is already out */
static int usage_error(void) {
    fputs("Try 'cnnc --help' for more information.\n", stderr);
    return 2;
}

static bool is_stdout(const char *outpath) { return outpath && strcmp(outpath, "-") == 0; }

/* C generation writes FILE.c and FILE.h (and maybe FILE.weights): a bad
 * name, an unwritable folder or a directory in the way is an output
 * failure (exit 2), found before any work and before anything is written */
static int check_c_output(const char *out) {
    size_t l = strlen(out);
    if (strcmp(out, "-") == 0) {
        fputs("cnnc: error: -o -: generated C is two files (FILE.c and FILE.h), so it cannot go to "
              "standard output; name the .c file\n", stderr);
        return 2;
    }
    if (l < 3 || strcmp(out + l - 2, ".c") != 0) {
        fprintf(stderr, "cnnc: error: the output must be a .c file (the .h goes beside it), not '%s'\n", out);
        return 2;
    }
    const char *slash = strrchr(out, '/');
    const char *dir = slash ? arena_printf("%.*s", (int)(slash - out) + (slash == out), out) : ".";
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", out, strerror(errno));
        return 2;
    }
    const char *sibling[] = { out, arena_printf("%.*sh", (int)l - 1, out), arena_printf("%.*sweights", (int)l - 1, out) };
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (stat(sibling[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "cnnc: error: cannot write '%s': it is a directory\n", sibling[i]);
            return 2;
        }
    }
    return 0;
}

/* "dir/x.c" for -o, else "NETWORK.c" (or .py) in the current directory */
static const char *output_path(const Graph *g, const char *outpath, const char *ext) {
    if (outpath) return outpath;
    return arena_printf("%s.%s", g->name, ext);
}

/* What generated code can hold: the per-image arena is a static array in the
 * .c (objects of 2 GiB and more do not link in x86-64's default code model),
 * and cnnc itself holds every weight in memory while it writes them. */
#define MAX_ARENA_BYTES ((1LL << 31) - 1)
#define MAX_WEIGHT_BYTES (16LL << 30)

/* The weights must fit before cnnc allocates them: an error at the layer with
 * the most, else 0. */
static int check_weight_bytes(Graph *g) {
    long long total = 0, most = 0;
    const Node *at = NULL;
    for (int i = 0; i < g->nnodes; i++) {
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec(g->nodes[i], ps);
        long long b = 0;
        for (int j = 0; j < k; j++) b += 4 * ps[j].numel;     /* numel < 2^40: no overflow */
        total += b;
        if (b > most) { most = b; at = g->nodes[i]; }
    }
    if (total <= MAX_WEIGHT_BYTES || !at) return 0;
    diag_error(at->loc, "the weights take %s bytes (%sB; '%s' alone %s), more than the %s bytes (16 GiB) "
               "cnnc can generate code for", fmt_group(total), fmt_si(total), at->name, fmt_group(most),
               fmt_group(MAX_WEIGHT_BYTES));
    return 1;
}

/* The planned arena must fit in a static array: an error at the layer with the
 * largest buffer, else 0. */
static int check_arena_bytes(const Graph *g, const Plan *plan) {
    if (plan->arena_bytes <= MAX_ARENA_BYTES) return 0;
    const Node *at = g->nodes[0];
    long long most = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        long long b = n->removed ? 0 : n->act_bytes > n->scratch_bytes ? n->act_bytes : n->scratch_bytes;
        if (b > most) { most = b; at = n; }
    }
    diag_error(at->loc, "the generated code would need a %s-byte arena (%sB) for one image, more than the "
               "%s bytes (2 GiB) it can hold; '%s' alone needs %s bytes: use a smaller input or fewer channels",
               fmt_group(plan->arena_bytes), fmt_si(plan->arena_bytes), fmt_group(MAX_ARENA_BYTES), at->name,
               fmt_group(most));
    return 1;
}

static int generate(Graph *g, const char *path, const char *outpath, const char *weights,
                    unsigned long long seed, const char *emit, EmitOptions *eo, const TuneOptions *tune,
                    CalibOptions *cal) {
    if (strcmp(emit, "pytorch") == 0) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem) return 2;
        int nerr = emit_pytorch(g, mem);
        fclose(mem);
        int status = 0;
        if (nerr) status = 1;
        else if (is_stdout(outpath)) status = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 2;
        else if (cnnrt_write_file(output_path(g, outpath, "py"), buf, len) != 0) {
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", output_path(g, outpath, "py"),
                    strerror(errno));
            status = 2;
        }
        free(buf);
        return status;
    }
    if (check_weight_bytes(g)) return 1;
    if (weights) {
        if (weights_load_safetensors(g, weights) || weights_check_finite(g, weights)) return 1;
        eo->weights_origin = weights;
        eo->trained = true;
    } else {
        weights_init_seeded(g, seed);
        eo->weights_origin = arena_printf("seed %llu", seed);
    }
    eo->out_c = output_path(g, outpath, "c");
    eo->source_name = path;
    if (check_c_output(eo->out_c)) return 2;
    if (cal) {                  /* int8: the ranges from the float network as written */
        cal->weights = weights, cal->seed = seed;
        if (calibrate(g, cal)) return 1;
        eo->calib = arena_printf("%s over %s images of %s", cal->method, fmt_group(cal->used), cal->data);
    }
    if (pass_fold_batchnorm(g) || pass_fuse_activations(g) || pass_remove_noops(g)) return 1;
    if (cal && pass_quantize(g, cal->keep_float)) return 1;
    if (eo->int8_io && quant_int8_io_check(g)) return 1;
    int rc;
    if (tune->path && (rc = tune_network(g, tune, eo))) return rc;
    Plan plan;
    if (plan_arena(g, &plan) || check_arena_bytes(g, &plan)) return 1;
    return emit_c(g, &plan, eo);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* --tune and --tune-file: only for generated C and its report, on the
 * machine that runs the code; the tune file's default name from the
 * network's.  0, or 2 (said why). */
static int tune_check(TuneOptions *t, const char *path, const char *report, const char *emit, bool train) {
    if (!t->measure && !t->path) return 0;
    const char *opt = t->measure ? "--tune" : "--tune-file";
    if (train || strcmp(emit, "c") != 0 || (report && strcmp(report, "dot") == 0)) {
        fprintf(stderr, "cnnc: error: %s chooses the algorithms of generated C; it does not go with %s\n", opt,
                train ? "--train" : report ? "--dot" : "--emit pytorch");
        return usage_error();
    }
    if (t->measure && target != target_host() && target->arch_test) {   /* generic C runs here too */
        fprintf(stderr, "cnnc: error: --tune measures on this machine, which runs %s code, not %s code: "
                "tune there, and bring the tune file here with --tune-file\n", target_host()->name, target->name);
        return usage_error();
    }
    if (!t->path) {
        if (strcmp(path, "-") == 0) {
            fputs("cnnc: error: --tune on standard input needs --tune-file FILE\n", stderr);
            return usage_error();
        }
        size_t l = strlen(path);
        if (ends_with(path, ".net")) l -= 4;
        else if (ends_with(path, ".onnx")) l -= 5;
        t->path = arena_printf("%.*s.tune", (int)l, path);
    }
    return 0;
}

/* --quantize and the calibration options go together, for generated C and
 * its report or picture.  0, or 2 (said why). */
static int quantize_check(const char *quantize, const CalibOptions *cal, bool int8_io, const char *emit,
                          bool train, const TuneOptions *tune) {
    if (!quantize) {
        if (int8_io) {
            fputs("cnnc: error: --int8-io is the API of an int8 build: it goes with --quantize int8\n", stderr);
            return usage_error();
        }
        if (cal->keep_float) {
            fputs("cnnc: error: --keep-float names layers of an int8 build: it goes with --quantize int8\n", stderr);
            return usage_error();
        }
        if (cal->data) {
            fputs("cnnc: error: --calibrate sets the ranges of an int8 build: it goes with --quantize int8\n", stderr);
            return usage_error();
        }
        return 0;
    }
    if (!cal->data) {
        fputs("cnnc: error: --quantize int8 needs --calibrate DATA: the images that set each tensor's range\n",
              stderr);
        return usage_error();
    }
    if (tune->measure || tune->path) {
        fputs("cnnc: error: --tune chooses among float conv algorithms; it does not go with --quantize int8\n",
              stderr);
        return usage_error();
    }
    if (train || strcmp(emit, "c") != 0) {
        fprintf(stderr, "cnnc: error: --quantize int8 is for generated C, its report and --dot, not %s\n",
                train ? "--train" : "--emit pytorch");
        return usage_error();
    }
    return 0;
}

/* The network's name from a file name: its base name, an identifier. */
static const char *name_from(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = arena_strndup(base, n);
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) *p = '_';
    if (!s[0] || (s[0] >= '0' && s[0] <= '9')) s = arena_printf("net_%s", s);
    return s;
}

/* cnnc import MODEL.onnx | NET.cfg [--weights NET.weights] [-o MODEL.net]:
 * MODEL.net and, beside it, MODEL.safetensors (import.c). */
static int import_main(int argc, char **argv) {
    static const struct option opts[] = {
        { "weights", required_argument, NULL, OPT_WEIGHTS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *weights = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_WEIGHTS: weights = optarg; break;
        case 'h':
            fputs("usage: cnnc import MODEL.onnx [-o MODEL.net]\n"
                  "       cnnc import NET.cfg [--weights NET.weights] [-o NET.net]\n"
                  "\n"
                  "Writes the network as a .net file (default: the model's base name .net)\n"
                  "and its weights beside it as a .safetensors file of the same base name,\n"
                  "for cnnc NET.net --weights NET.safetensors.\n", stdout);
            return 0;
        default: return usage_error();
        }
    }
    if (optind != argc - 1) {
        fputs("cnnc: error: cnnc import takes one model file (.onnx or darknet .cfg)\n", stderr);
        return usage_error();
    }
    const char *in = argv[optind];
    bool onnx = ends_with(in, ".onnx"), cfg = ends_with(in, ".cfg");
    if (!onnx && !cfg) {
        fprintf(stderr, "cnnc: error: '%s': expected an ONNX model (.onnx) or a darknet cfg (.cfg)\n", in);
        return 2;
    }
    if (onnx && weights) {
        fputs("cnnc: error: --weights is for darknet cfgs; an ONNX model holds its weights\n", stderr);
        return 2;
    }
    if (!out) out = arena_printf("%s.net", name_from(in));
    if (!ends_with(out, ".net") || strlen(out) < 5) {
        fprintf(stderr, "cnnc: error: the output must be a .net file (its weights go beside it), not '%s'\n", out);
        return 2;
    }
    const char *st = arena_printf("%.*s.safetensors", (int)strlen(out) - 4, out);
    ImpGraph g = { .name = name_from(in), .source = in };
    int errors = onnx ? import_onnx(in, &g) : import_darknet(in, weights, &g);
    if (errors) return 1;
    int rc = import_write(&g, out, onnx || weights ? st : NULL);
    return rc == 2 ? 2 : rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "import") == 0) {
        argv[1] = "cnnc import";
        return import_main(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "eval") == 0) {
        argv[1] = "cnnc eval";
        int rc = eval_main(argc - 1, argv + 1);
        if (close_stdout("cnnc") != 0) rc = 2;
        arena_free_all();
        return rc;
    }
    static const struct option opts[] = {
        { "report", optional_argument, NULL, OPT_REPORT },
        { "help-layers", no_argument, NULL, OPT_HELP_LAYERS },
        { "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
        { "version", no_argument, NULL, OPT_VERSION },
        { "weights", required_argument, NULL, OPT_WEIGHTS },
        { "seed", required_argument, NULL, OPT_SEED },
        { "standalone", no_argument, NULL, OPT_STANDALONE },
        { "target", required_argument, NULL, OPT_TARGET },
        { "help-targets", no_argument, NULL, OPT_HELP_TARGETS },
        { "emit", required_argument, NULL, OPT_EMIT },
        { "embed-limit", required_argument, NULL, OPT_EMBED_LIMIT },
        { "train", no_argument, NULL, OPT_TRAIN },
        { "dot", no_argument, NULL, OPT_DOT },
        { "tune", no_argument, NULL, OPT_TUNE },
        { "tune-file", required_argument, NULL, OPT_TUNE_FILE },
        { "tune-cc", required_argument, NULL, OPT_TUNE_CC },
        { "quantize", required_argument, NULL, OPT_QUANTIZE },
        { "calibrate", required_argument, NULL, OPT_CALIBRATE },
        { "calibrate-n", required_argument, NULL, OPT_CALIBRATE_N },
        { "calibration", required_argument, NULL, OPT_CALIBRATION },
        { "keep-float", required_argument, NULL, OPT_KEEP_FLOAT },
        { "int8-io", no_argument, NULL, OPT_INT8_IO },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *report = NULL, *outpath = NULL, *weights = NULL, *emit = "c", *imported_dir = NULL,
               *imported[2] = { NULL, NULL };
    unsigned long long seed = 1;     /* cnnc-train's default: the same initial weights */
    bool train = false;
    EmitOptions eo = { .max_baked_bytes = 4L << 20 };
    TuneOptions tune = { .cc = tune_default_cc() };
    const char *quantize = NULL;
    CalibOptions cal = { .n = 1000, .method = "minmax", .percentile = 99.99 };
    const char **incs = calloc((size_t)argc + 1, sizeof *incs);
    int ninc = 0, c, status = 0;
    if (!incs) return 2;
    source_include_dirs = incs;
    argv[0] = "cnnc";  /* getopt's messages: "cnnc: unrecognized option '--x'" */

    while ((c = getopt_long(argc, argv, "ho:I:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_REPORT:
            report = optarg ? optarg : "text";
            if (strcmp(report, "text") != 0 && strcmp(report, "json") != 0) {
                fprintf(stderr, "cnnc: error: --report takes text or json, not '%s'\n", report);
                status = 2;
                goto done;
            }
            break;
        case OPT_HELP_LAYERS: layer_print_help(stdout); goto done;
        case OPT_MAX_ERRORS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "cnnc: error: --max-errors takes a count from 1 to 100000, not '%s'\n", optarg);
                status = 2;
                goto done;
            }
            diag_max_errors = (int)v;
            break;
        }
        case OPT_VERSION: printf("cnnc %s\n", CNNC_VERSION); goto done;
        case 'h': usage(stdout); goto done;
        case 'o': outpath = optarg; break;
        case OPT_WEIGHTS: weights = optarg; break;
        case OPT_STANDALONE: eo.standalone = true; break;
        case OPT_TARGET:
            if (!(target = target_find(optarg))) {
                fprintf(stderr, "cnnc: error: --target takes %s, not '%s'\n", target_names(), optarg);
                status = 2;
                goto done;
            }
            break;
        case OPT_HELP_TARGETS: print_targets(stdout); goto done;
        case OPT_TRAIN: train = true; break;
        case OPT_DOT: report = "dot"; break;
        case OPT_TUNE: tune.measure = true; break;
        case OPT_TUNE_FILE: tune.path = optarg; break;
        case OPT_TUNE_CC: tune.cc = optarg; break;
        case OPT_QUANTIZE:
            if (strcmp(optarg, "int8") != 0) {
                fprintf(stderr, "cnnc: error: --quantize takes int8, not '%s'\n", optarg);
                status = 2;
                goto done;
            }
            quantize = optarg;
            break;
        case OPT_CALIBRATE: cal.data = optarg; break;
        case OPT_KEEP_FLOAT: cal.keep_float = optarg; break;
        case OPT_INT8_IO: eo.int8_io = true; break;
        case OPT_CALIBRATION: {
            char *end;
            if (strcmp(optarg, "minmax") == 0 || strcmp(optarg, "kl") == 0 || strcmp(optarg, "percentile") == 0) {
                cal.method = optarg;
                break;
            }
            if (strncmp(optarg, "percentile=", 11) == 0) {
                errno = 0;
                double p = strtod(optarg + 11, &end);
                if (!*end && end != optarg + 11 && !errno && p > 0 && p <= 100) {
                    cal.method = "percentile";
                    cal.percentile = p;
                    break;
                }
            }
            fprintf(stderr, "cnnc: error: --calibration takes minmax, kl, percentile or percentile=P "
                    "(0 < P <= 100), not '%s'\n", optarg);
            status = 2;
            goto done;
        }
        case OPT_SEED:
        case OPT_CALIBRATE_N:
        case OPT_EMBED_LIMIT: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || errno || optarg[0] == '-' || !optarg[0]) {
                fprintf(stderr, "cnnc: error: --%s takes a non-negative integer, not '%s'\n",
                        c == OPT_SEED ? "seed" : c == OPT_CALIBRATE_N ? "calibrate-n" : "embed-limit", optarg);
                status = 2;
                goto done;
            }
            if (c == OPT_SEED) seed = v;
            else if (c == OPT_CALIBRATE_N) cal.n = v > (1ULL << 62) ? (1LL << 62) : (long long)v;
            else eo.max_baked_bytes = v > (1ULL << 62) ? (1LL << 62) : (long long)v;
            break;
        }
        case OPT_EMIT:
            emit = optarg;
            if (strcmp(emit, "c") != 0 && strcmp(emit, "pytorch") != 0) {
                fprintf(stderr, "cnnc: error: --emit takes c or pytorch, not '%s'\n", emit);
                status = 2;
                goto done;
            }
            break;
        case 'I': incs[ninc++] = optarg; break;
        default: status = usage_error(); goto done;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "cnnc: error: no input file\n"
                                       : "cnnc: error: one input file at a time\n");
        status = usage_error();
        goto done;
    }

    if (target->standalone) eo.standalone = true;    /* cortex-m: no BLAS there */
    const char *path = argv[optind];
    if ((status = tune_check(&tune, path, report, emit, train))) goto done;
    if ((status = quantize_check(quantize, &cal, eo.int8_io, emit, train, &tune))) goto done;
    if (ends_with(path, ".onnx")) {       /* import, then compile what it wrote (import.c) */
        if (!(imported_dir = mkdtemp(arena_strdup("/tmp/cnnc-import.XXXXXX")))) {
            fprintf(stderr, "cnnc: error: cannot make a temporary folder: %s\n", strerror(errno));
            status = 2;
            goto done;
        }
        ImpGraph ig = { .name = name_from(path), .source = path };
        const char *net = imported[0] = arena_printf("%s/%s.net", imported_dir, ig.name);
        const char *st = imported[1] = arena_printf("%s/%s.safetensors", imported_dir, ig.name);
        int rc = import_onnx(path, &ig);
        if (!rc) rc = import_write(&ig, net, st);
        if (rc) {
            status = rc == 2 ? 2 : 1;
            goto done;
        }
        path = net;
        if (!weights) weights = st;
    }
    Graph *g = front_load(path);
    if (!g) { status = 1; goto done; }
    if (train && !report) {
        const char *out = outpath ? outpath : arena_printf("%s_train.c", g->name);
        status = check_c_output(out) ? 2 : emit_train(g, out, path);
        goto done;
    }
    if (!report) {
        status = generate(g, path, outpath, weights, seed, emit, &eo, &tune, quantize ? &cal : NULL);
        goto done;
    }

    /* the report goes to memory first, then to stdout or atomically to -o */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) { status = 2; goto done; }
    /* the arena comes from the passes, run on a copy: the report describes
     * the network as written */
    if (quantize) {               /* the ranges come from the float network with its weights */
        if (check_weight_bytes(g)) { status = 1; fclose(mem); free(buf); goto done; }
        if (weights) status = weights_load_safetensors(g, weights) || weights_check_finite(g, weights);
        else weights_init_seeded(g, seed);
        cal.weights = weights, cal.seed = seed;
        if (status || calibrate(g, &cal)) {
            status = 1;
            fclose(mem);
            free(buf);
            goto done;
        }
    }
    Graph *planned = ir_clone(g);
    Plan plan;
    if (tune.measure && !quantize) weights_init_seeded(planned, seed);    /* what --tune builds: any weights */
    if (pass_fold_batchnorm(planned) || pass_fuse_activations(planned) || pass_remove_noops(planned) ||
        (quantize && pass_quantize(planned, cal.keep_float)) ||
        (tune.path && (status = tune_network(planned, &tune, &eo))) || plan_arena(planned, &plan)) {
        fclose(mem);
        free(buf);
        if (!status) status = 1;
        goto done;
    }
    plan.standalone = eo.standalone;
    for (int i = 0; i < g->nnodes; i++) {     /* the report reads the convs' algorithms from g */
        g->nodes[i]->q8 = planned->nodes[i]->q8 && !planned->nodes[i]->removed;
        g->nodes[i]->tuned = planned->nodes[i]->tuned;
        g->nodes[i]->tuned_algo = planned->nodes[i]->tuned_algo;
        g->nodes[i]->tuned_why = planned->nodes[i]->tuned_why;
    }
    if (strcmp(report, "dot") == 0) dot_write(g, planned, mem);
    else if (strcmp(report, "json") == 0) report_json(g, &plan, quantize ? planned : NULL, quantize ? &cal : NULL, mem);
    else report_text(g, &plan, mem);
    if (quantize && strcmp(report, "text") == 0) report_int8(g, planned, &cal, mem);
    fclose(mem);
    if (outpath && !is_stdout(outpath)) {
        if (cnnrt_write_file(outpath, buf, len) != 0) {
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", outpath, strerror(errno));
            status = 2;
        }
    } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        status = 2;
    }
    free(buf);

done:
    if (imported_dir) {            /* cnnc MODEL.onnx: the imported files were only a step */
        for (int i = 0; i < 2; i++)
            if (imported[i]) unlink(imported[i]);
        rmdir(imported_dir);
    }
    if (close_stdout("cnnc") != 0) status = 2;
    free(incs);
    arena_free_all();
    return status;
}
