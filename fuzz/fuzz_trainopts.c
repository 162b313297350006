/*
 * fuzz_trainopts.c — cnnc-train's option parser (trainer/args.c) on
 * arbitrary command lines.  The input is split into argv words at NUL
 * bytes and newlines (a final empty word is dropped), after "cnnc-train";
 * seeds in fuzz/seeds/trainopts/ hold one word per line.
 *
 * Checked: the parser returns 0 or 2; an error is one non-empty line; an
 * accepted command line holds only values in range (what cnnc-train then
 * trusts: finite numbers, batch and epochs in range, a normalisation with
 * STD above 0, ...); and a second parse of the same words (getopt
 * re-initialised) gives the same answer.
 */
#include "args.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 128

static char prog[] = "cnnc-train";

/* Split buf (size bytes, NUL-terminated one past) into argv; returns argc. */
static int split(char *buf, size_t size, char **argv) {
    int argc = 0;
    argv[argc++] = prog;
    size_t start = 0;
    for (size_t i = 0; i <= size && argc < MAX_WORDS; i++) {
        if (i < size && buf[i] != '\n' && buf[i] != 0) continue;
        if (i == size && start == size) break;     /* nothing after the last separator */
        buf[i] = 0;
        argv[argc++] = buf + start;
        start = i + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void check_valid(const TrainArgs *a) {
    if (a->help || a->version) return;
    if (!a->net || !a->data || !a->save) abort();
    if (!(a->lr > 0 && isfinite(a->lr))) abort();
    if (!(a->optim.momentum >= 0 && a->optim.momentum < 1)) abort();
    if (!(a->optim.beta1 >= 0 && a->optim.beta1 < 1 && a->optim.beta2 >= 0 && a->optim.beta2 < 1)) abort();
    if (!(a->optim.eps >= 0 && isfinite(a->optim.eps))) abort();   /* sgd: 0, unused */
    if (!(a->optim.weight_decay >= 0 && isfinite(a->optim.weight_decay))) abort();
    if (!(a->gamma > 0 && isfinite(a->gamma))) abort();
    if (!(a->min_lr >= 0 && isfinite(a->min_lr))) abort();
    if (a->lr_kind == CNNRT_LR_COSINE && !(a->min_lr < a->lr)) abort();
    if (!(a->smoothing >= 0 && a->smoothing < 1)) abort();
    if (a->epochs < 0 || a->epochs > 1000000 || a->batch < 1 || a->batch > 65536) abort();
    if (a->threads < 1 || a->threads > 256 || a->warmup < 0 || a->step_size < 0) abort();
    if (a->limit_train < 0 || a->limit_test < 0) abort();
    if (a->optim.nesterov && !(a->optim.momentum > 0)) abort();
    if (a->normalize && !a->normalize_auto &&
        !(isfinite(a->norm_mean) && a->norm_std > 0 && isfinite(a->norm_std))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *buf = malloc(2 * (size + 1));
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    memcpy(buf + size + 1, buf, size + 1);          /* a second copy for the second parse */
    char *argv[MAX_WORDS + 1], *argv2[MAX_WORDS + 1];
    int argc = split(buf, size, argv);
    int argc2 = split(buf + size + 1, size, argv2);
    if (argc != argc2) abort();

    TrainArgs a, b;
    char err[1024], err2[1024];
    int rc = train_args_parse(argc, argv, &a, err, sizeof err);
    if (rc != 0 && rc != 2) abort();
    if (rc == 2 && (!err[0] || strchr(err, '\n'))) abort();
    if (rc == 0) check_valid(&a);

    int rc2 = train_args_parse(argc2, argv2, &b, err2, sizeof err2);
    if (rc2 != rc || strcmp(err, err2) != 0) abort();
    if (rc == 0 && (a.epochs != b.epochs || a.batch != b.batch || a.lr != b.lr || a.seed != b.seed ||
                    a.help != b.help || a.version != b.version || strcmp(a.net ? a.net : "", b.net ? b.net : "")))
        abort();
    free(buf);
    return 0;
}
