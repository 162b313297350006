/*
 * args.c — cnnc-train's options: one table of what each number may be, a
 * getopt_long loop, and the checks between options (args.h).
 *
 * The ranges follow torch.optim's argument checks, closed where PyTorch
 * would accept a value that cannot train (lr 0, eps 0, momentum or a beta
 * of 1 or more, label smoothing 1):
 *   lr > 0; momentum, beta1, beta2 in [0, 1); eps > 0; weight decay >= 0;
 *   gamma > 0; min-lr >= 0 (and below lr for the cosine schedule); label
 *   smoothing in [0, 1); every real finite; normalize MEAN finite, STD
 *   finite and > 0 (as floats: that is what is stored and used).
 * Integers are decimal, whole (no '1e3', no trailing text) and in range.
 */
#include "args.h"
#include "cnnrt_file.h"   /* cnnrt_path_is_special */

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { O_DATA = 256, O_EPOCHS, O_BATCH, O_OPT, O_LR, O_SAVE, O_RESUME, O_SEED, O_THREADS, O_MOMENTUM,
       O_WD, O_SCHEDULE, O_WARMUP, O_STEP_SIZE, O_GAMMA, O_MIN_LR, O_SMOOTH, O_NORMALIZE, O_LOG,
       O_LIMIT_TRAIN, O_LIMIT_TEST, O_BETA1, O_BETA2, O_EPS, O_QUIET, O_VERSION, O_PLOT };

static const struct option opts[] = {
    { "data", required_argument, NULL, O_DATA }, { "epochs", required_argument, NULL, O_EPOCHS },
    { "batch", required_argument, NULL, O_BATCH }, { "opt", required_argument, NULL, O_OPT },
    { "lr", required_argument, NULL, O_LR }, { "save", required_argument, NULL, O_SAVE },
    { "resume", required_argument, NULL, O_RESUME }, { "seed", required_argument, NULL, O_SEED },
    { "threads", required_argument, NULL, O_THREADS }, { "momentum", required_argument, NULL, O_MOMENTUM },
    { "weight-decay", required_argument, NULL, O_WD }, { "schedule", required_argument, NULL, O_SCHEDULE },
    { "warmup", required_argument, NULL, O_WARMUP }, { "step-size", required_argument, NULL, O_STEP_SIZE },
    { "gamma", required_argument, NULL, O_GAMMA }, { "min-lr", required_argument, NULL, O_MIN_LR },
    { "label-smoothing", required_argument, NULL, O_SMOOTH },
    { "normalize", required_argument, NULL, O_NORMALIZE }, { "log", required_argument, NULL, O_LOG },
    { "plot", required_argument, NULL, O_PLOT },
    { "limit-train", required_argument, NULL, O_LIMIT_TRAIN },
    { "limit-test", required_argument, NULL, O_LIMIT_TEST },
    { "beta1", required_argument, NULL, O_BETA1 }, { "beta2", required_argument, NULL, O_BETA2 },
    { "eps", required_argument, NULL, O_EPS }, { "quiet", no_argument, NULL, O_QUIET },
    { "version", no_argument, NULL, O_VERSION }, { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* The numeric options: a value x is accepted when lo ≤ x ≤ hi, or lo < x
 * (lo_open) and x < hi (hi_open); reals must also be finite. */
typedef enum { NUM_REAL, NUM_LONG, NUM_SEED } NumType;
typedef struct NumOpt {
    int id;
    NumType type;
    double lo, hi;
    bool lo_open, hi_open;
    size_t off;                 /* the TrainArgs field: double, long or unsigned long long */
    const char *expect;         /* what the error message says was expected */
} NumOpt;

#define MAX_EPOCHS 1000000
#define MAX_BATCH 65536
#define MAX_THREADS 256
#define MAX_COUNT 2147483647    /* steps, image counts */

static const NumOpt nums[] = {
    { O_LR, NUM_REAL, 0, INFINITY, true, false, offsetof(TrainArgs, lr), "a finite number above 0" },
    { O_MOMENTUM, NUM_REAL, 0, 1, false, true, offsetof(TrainArgs, optim.momentum), "a number >= 0 and < 1" },
    { O_WD, NUM_REAL, 0, INFINITY, false, false, offsetof(TrainArgs, optim.weight_decay),
      "a finite number >= 0" },
    { O_BETA1, NUM_REAL, 0, 1, false, true, offsetof(TrainArgs, optim.beta1), "a number >= 0 and < 1" },
    { O_BETA2, NUM_REAL, 0, 1, false, true, offsetof(TrainArgs, optim.beta2), "a number >= 0 and < 1" },
    { O_EPS, NUM_REAL, 0, INFINITY, true, false, offsetof(TrainArgs, optim.eps), "a finite number above 0" },
    { O_GAMMA, NUM_REAL, 0, INFINITY, true, false, offsetof(TrainArgs, gamma), "a finite number above 0" },
    { O_MIN_LR, NUM_REAL, 0, INFINITY, false, false, offsetof(TrainArgs, min_lr), "a finite number >= 0" },
    { O_SMOOTH, NUM_REAL, 0, 1, false, true, offsetof(TrainArgs, smoothing), "a number >= 0 and < 1" },
    { O_EPOCHS, NUM_LONG, 0, MAX_EPOCHS, false, false, offsetof(TrainArgs, epochs),
      "an integer from 0 to 1000000" },
    { O_BATCH, NUM_LONG, 1, MAX_BATCH, false, false, offsetof(TrainArgs, batch), "an integer from 1 to 65536" },
    { O_THREADS, NUM_LONG, 1, MAX_THREADS, false, false, offsetof(TrainArgs, threads),
      "an integer from 1 to 256" },
    { O_WARMUP, NUM_LONG, 0, MAX_COUNT, false, false, offsetof(TrainArgs, warmup),
      "an integer from 0 to 2147483647" },
    { O_STEP_SIZE, NUM_LONG, 1, MAX_COUNT, false, false, offsetof(TrainArgs, step_size),
      "an integer from 1 to 2147483647" },
    { O_LIMIT_TRAIN, NUM_LONG, 1, MAX_COUNT, false, false, offsetof(TrainArgs, limit_train),
      "an integer from 1 to 2147483647" },
    { O_LIMIT_TEST, NUM_LONG, 1, MAX_COUNT, false, false, offsetof(TrainArgs, limit_test),
      "an integer from 1 to 2147483647" },
    { O_SEED, NUM_SEED, 0, 0, false, false, offsetof(TrainArgs, seed),
      "an integer from 0 to 18446744073709551615" },
};

static const char *opt_name(int id) {
    for (const struct option *o = opts; o->name; o++)
        if (o->val == id) return o->name;
    return "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 2;
}

/* A real as strtod reads it, all of s, finite. */
static bool read_real(const char *s, double *x) {
    char *end;
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n') return false;
    errno = 0;
    *x = strtod(s, &end);
    return !*end && !errno && isfinite(*x);
}

/* A decimal integer, all of s: [+-]digits. */
static bool read_long(const char *s, long *x) {
    char *end;
    const char *d = *s == '+' || *s == '-' ? s + 1 : s;
    if (*d < '0' || *d > '9') return false;
    errno = 0;
    *x = strtol(s, &end, 10);
    return !*end && !errno;
}

static bool read_u64(const char *s, unsigned long long *x) {
    char *end;
    const char *d = *s == '+' ? s + 1 : s;
    if (*d < '0' || *d > '9') return false;
    errno = 0;
    *x = strtoull(s, &end, 10);
    return !*end && !errno;
}

static int set_num(const NumOpt *n, const char *s, TrainArgs *a, char *err, size_t errlen) {
    char *field = (char *)a + n->off;
    bool ok;
    if (n->type == NUM_REAL) {
        double x;
        ok = read_real(s, &x) && (n->lo_open ? x > n->lo : x >= n->lo) && (n->hi_open ? x < n->hi : x <= n->hi);
        if (ok) memcpy(field, &x, sizeof x);
    } else if (n->type == NUM_LONG) {
        long x;
        ok = read_long(s, &x) && x >= (long)n->lo && x <= (long)n->hi;
        if (ok) memcpy(field, &x, sizeof x);
    } else {
        unsigned long long x;
        ok = read_u64(s, &x);
        if (ok) memcpy(field, &x, sizeof x);
    }
    if (!ok) return fail(err, errlen, "--%s: expected %s, found '%s'", opt_name(n->id), n->expect, s);
    return 0;
}

/* MEAN,STD or auto */
static int set_normalize(const char *s, TrainArgs *a, char *err, size_t errlen) {
    a->normalize = s;
    a->normalize_auto = false;
    if (!strcmp(s, "auto")) {
        a->normalize_auto = true;
        return 0;
    }
    const char *comma = strchr(s, ',');
    char mean_txt[64];
    double m, sd;
    size_t k = comma ? (size_t)(comma - s) : 0;
    bool ok = comma && k < sizeof mean_txt;
    if (ok) {
        memcpy(mean_txt, s, k);
        mean_txt[k] = 0;
        ok = read_real(mean_txt, &m) && read_real(comma + 1, &sd);
    }
    if (!ok)
        return fail(err, errlen, "--normalize: expected MEAN,STD (two finite numbers) or auto, found '%s'", s);
    /* stored and used as floats: the float must be finite, STD a normal float above 0 */
    if (fabs(m) > FLT_MAX)
        return fail(err, errlen, "--normalize: expected a MEAN that fits a float, found '%s'", mean_txt);
    if (!(sd >= FLT_MIN && sd <= FLT_MAX))
        return fail(err, errlen, "--normalize: expected a STD above 0 that fits a float (at least 1.2e-38), "
                    "found '%s'", comma + 1);
    a->norm_mean = (float)m;
    a->norm_std = (float)sd;
    return 0;
}

static int set_name(const char *s, const char *const *names, int nnames, const char *opt, const char *list,
                    int *which, char *err, size_t errlen) {
    for (int i = 0; i < nnames; i++)
        if (!strcmp(s, names[i])) {
            *which = i;
            return 0;
        }
    return fail(err, errlen, "--%s: expected %s, found '%s'", opt, list, s);
}

/* getopt_long's words for an unknown or ambiguous --word[=value] */
static int bad_long_option(const char *arg, char *err, size_t errlen) {
    const char *w = arg[0] == '-' && arg[1] == '-' ? arg + 2 : arg;
    size_t k = strcspn(w, "=");
    char list[512] = "";
    int n = 0;
    for (const struct option *o = opts; o->name; o++)
        if (k > 0 && !strncmp(o->name, w, k) && strlen(list) + strlen(o->name) + 6 < sizeof list) {
            strcat(list, " '--");
            strcat(list, o->name);
            strcat(list, "'");
            n++;
        }
    if (n > 1) return fail(err, errlen, "option '--%.*s' is ambiguous; possibilities:%s", (int)k, w, list);
    return fail(err, errlen, "unrecognized option '--%.*s'", (int)k, w);
}

static const char *const opt_names[] = { "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw" };
static const char *const sched_names[] = { "constant", "step", "cosine" };

/* The file names: given, not empty, and no two outputs the same file. */
static int check_paths(const TrainArgs *a, char *err, size_t errlen) {
    const struct { const char *v; int id; } p[] = {
        { a->data, O_DATA }, { a->save, O_SAVE }, { a->resume, O_RESUME }, { a->log, O_LOG }, { a->plot, O_PLOT },
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (p[i].v && !*p[i].v) return fail(err, errlen, "--%s: expected a file name, found ''", opt_name(p[i].id));
    if (!a->data) return fail(err, errlen, "%s", "--data DIR is required");
    if (!a->save) return fail(err, errlen, "%s", "--save FILE is required");
    /* one device (/dev/null) may take several outputs: it is written in place */
    if (a->log && !strcmp(a->log, a->save) && !cnnrt_path_is_special(a->save))
        return fail(err, errlen, "--log: expected a file other than the checkpoint, found '%s' (--save)", a->log);
    if (a->plot && !strcmp(a->plot, a->save) && !cnnrt_path_is_special(a->save))
        return fail(err, errlen, "--plot: expected a file other than the checkpoint, found '%s' (--save)", a->plot);
    if (a->plot && a->log && !strcmp(a->plot, a->log) && !cnnrt_path_is_special(a->log))
        return fail(err, errlen, "--plot: expected a file other than the log, found '%s' (--log)", a->plot);
    return 0;
}

int train_args_parse(int argc, char **argv, TrainArgs *a, char *err, size_t errlen) {
    *a = (TrainArgs){ .opt = "adam", .schedule = "constant", .lr_kind = CNNRT_LR_CONSTANT, .epochs = 1,
                      .batch = 64, .seed = 1, .lr = 1e-3, .gamma = 0.1, .threads = 1 };
    if (err && errlen) err[0] = 0;
    /* the optimizer's own numbers, read into a->optim, are applied to the
     * chosen kind's defaults below: remember which were given */
    cnnrt_optim given = { .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
    a->optim = given;
    bool momentum_set = false, wd_set = false;
    int opt_kind = 5, sched = 0;

    optind = 0;                 /* GNU getopt: start afresh (this is not the first call) */
    opterr = 0;                 /* our messages, not getopt's on stderr */
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const NumOpt *num = NULL;
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
            if (nums[i].id == c) num = &nums[i];
        if (num) {
            if (set_num(num, optarg, a, err, errlen)) return 2;
            momentum_set |= c == O_MOMENTUM;
            wd_set |= c == O_WD;
            continue;
        }
        int rc = 0;
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_SAVE: a->save = optarg; break;
        case O_RESUME: a->resume = optarg; break;
        case O_LOG: a->log = optarg; break;
        case O_PLOT: a->plot = optarg; break;
        case O_OPT:
            rc = set_name(optarg, opt_names, 7, "opt", "sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw",
                          &opt_kind, err, errlen);
            a->opt = opt_names[opt_kind];
            break;
        case O_SCHEDULE:
            rc = set_name(optarg, sched_names, 3, "schedule", "constant, step or cosine", &sched, err, errlen);
            a->schedule = sched_names[sched];
            break;
        case O_NORMALIZE: rc = set_normalize(optarg, a, err, errlen); break;
        case O_QUIET: a->quiet = true; break;
        case O_VERSION: a->version = true; return 0;
        case 'h': a->help = true; return 0;
        case ':':
            a->usage_hint = a->getopt_style = true;
            return fail(err, errlen, "option '--%s' requires an argument", opt_name(optopt));
        default:
            a->usage_hint = a->getopt_style = true;
            if (optopt >= O_DATA) return fail(err, errlen, "option '--%s' doesn't allow an argument", opt_name(optopt));
            if (optopt) return fail(err, errlen, "invalid option -- '%c'", optopt);
            return bad_long_option(optind >= 1 && optind <= argc ? argv[optind - 1] : "--", err, errlen);
        }
        if (rc) return rc;
    }
    if (optind != argc - 1) {
        a->usage_hint = true;
        return fail(err, errlen, "%s", optind >= argc ? "no network file" : "one network file at a time");
    }
    a->net = argv[optind];
    if (check_paths(a, err, errlen)) return 2;

    /* the optimizer: the kind's PyTorch defaults, then what was given */
    static const cnnrt_optim_kind kinds[] = { CNNRT_SGD, CNNRT_SGD, CNNRT_SGD, CNNRT_ADAGRAD, CNNRT_RMSPROP,
                                              CNNRT_ADAM, CNNRT_ADAMW };
    given = a->optim;
    a->optim = cnnrt_optim_defaults(kinds[opt_kind]);
    if (opt_kind == 1 || opt_kind == 2) a->optim.momentum = momentum_set ? given.momentum : 0.9;
    else if ((opt_kind == 0 || opt_kind == 4) && momentum_set) a->optim.momentum = given.momentum;
    a->optim.nesterov = opt_kind == 2;
    if (a->optim.nesterov && !(a->optim.momentum > 0))
        return fail(err, errlen, "--momentum: expected a number above 0 for nesterov, found '%g'",
                    a->optim.momentum);
    if (opt_kind >= 5) {
        a->optim.beta1 = given.beta1;
        a->optim.beta2 = given.beta2;
        a->optim.eps = given.eps;
    }
    if (wd_set) a->optim.weight_decay = given.weight_decay;

    static const cnnrt_lr_kind lr_kinds[] = { CNNRT_LR_CONSTANT, CNNRT_LR_STEP, CNNRT_LR_COSINE };
    a->lr_kind = lr_kinds[sched];
    if (a->lr_kind == CNNRT_LR_COSINE && !(a->min_lr < a->lr))
        return fail(err, errlen, "--min-lr: expected a number below --lr (%g) for the cosine schedule, found '%g'",
                    a->lr, a->min_lr);
    return 0;
}

void train_args_usage(FILE *f) {
    fputs("usage: cnnc-train MODEL.net --data DIR --save FILE [options]\n"
          "\n"
          "  --data DIR            train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
          "                        t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each maybe .gz)\n"
          "  --save FILE           checkpoint (safetensors), rewritten after every epoch\n"
          "  --resume FILE         continue from a checkpoint written at the end of an epoch\n"
          "                        by the same network\n"
          "  --epochs N            passes over the training set, 0 to 1000000 (default 1); 0 writes\n"
          "                        the initial weights as the checkpoint (step 0) and no plot\n"
          "  --batch B             images per step, 1 to 65536 (default 64)\n"
          "  --opt NAME            sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw (default adam)\n"
          "  --lr X                learning rate, > 0 (default 1e-3)\n"
          "  --momentum X          for momentum/nesterov/rmsprop, in [0, 1) (default 0.9 for\n"
          "                        momentum/nesterov; nesterov needs > 0)\n"
          "  --weight-decay X      L2, >= 0 (decoupled for adamw; default 0, adamw 0.01)\n"
          "  --beta1 X --beta2 X   Adam's decays, each in [0, 1) (defaults 0.9, 0.999)\n"
          "  --eps X               Adam's epsilon, > 0 (default 1e-8)\n"
          "  --schedule S          constant, step or cosine (default constant)\n"
          "  --warmup N            steps of linear warm-up from lr/10, >= 0 (default 0)\n"
          "  --step-size N --gamma X       step schedule: lr·gamma every N >= 1 steps, gamma > 0\n"
          "                        (default 1 epoch, 0.1)\n"
          "  --min-lr X            cosine schedule's final lr, >= 0 and below --lr (default 0)\n"
          "  --label-smoothing X   cross-entropy label smoothing, in [0, 1) (default 0)\n"
          "  --normalize MEAN,STD  feed (x/255 − MEAN)/STD (STD > 0); 'auto' measures the training set\n"
          "  --seed N              initial weights, dropout and data order, 0 to 2^64-1 (default 1)\n"
          "  --threads N           threads, 1 to 256 (default 1)\n"
          "  --log FILE            CSV log (default: FILE.csv beside --save)\n"
          "  --plot FILE           SVG of the loss and accuracy curves, rewritten after every\n"
          "                        epoch (default: FILE.svg beside --save)\n"
          "  --limit-train N --limit-test N   use the first N >= 1 images only (default: all)\n"
          "  --quiet               no progress output\n"
          "  --version             print the version\n"
          "  -h, --help            this help\n"
          "\n"
          "Every number must be finite and in its range, every integer whole: anything else\n"
          "is refused before any data is read or any file written.  MODEL.net may be - for\n"
          "standard input; --log - writes the CSV log to standard output.  -- ends the options.\n"
          "\n"
          "Exit status: 0 done, 1 bad input (network, dataset, checkpoint), 2 bad usage\n"
          "or an I/O failure, 3 training diverged.\n", f);
}
