/*
 * args.h — cnnc-train's command line: parsed and validated in one place.
 *
 * train_args_parse reads argv (GNU getopt_long, re-initialised on every
 * call, so it can be called again and again: fuzz/fuzz_trainopts.c does)
 * and checks every option before anything is loaded or written: numbers
 * finite and in range (the ranges of torch.optim's argument checks, listed
 * in train_args_usage), integers without overflow or trailing junk, names
 * of optimizers and schedules, the normalisation.  It never prints, never
 * exits and keeps no state of its own: on a bad command line it returns 2
 * with one line in err ("--lr: expected a finite number above 0, found
 * 'inf'"); --help and --version set a flag for the caller to act on.
 * It may permute argv, as getopt_long does.
 */
#ifndef CNNC_TRAIN_ARGS_H
#define CNNC_TRAIN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cnnrt.h"

typedef struct TrainArgs {
    const char *net;            /* MODEL.net, or - */
    const char *data, *save, *resume, *log, *plot;   /* NULL: not given */
    const char *opt;            /* sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw */
    cnnrt_optim optim;          /* the optimizer, with the options applied */
    const char *schedule;       /* constant, step, cosine */
    cnnrt_lr_kind lr_kind;
    long epochs, batch, warmup, threads;
    long step_size;             /* 0: one epoch (not given) */
    long limit_train, limit_test;   /* 0: all images (not given) */
    unsigned long long seed;
    double lr, gamma, min_lr, smoothing;
    const char *normalize;      /* the argument as given, NULL: none */
    bool normalize_auto;        /* measure on the training set */
    float norm_mean, norm_std;  /* MEAN,STD as given (float: what is stored and used) */
    bool quiet;
    bool help, version;         /* print the help or version and stop (exit 0) */
    bool usage_hint;            /* after an error: the command line itself is malformed */
    bool getopt_style;          /* after an error: getopt's own words ("unrecognized option ...") */
} TrainArgs;

/* 0: *out holds a valid command line (or help/version is set); 2: an
 * error, described in err on one line without the program's name. */
int train_args_parse(int argc, char **argv, TrainArgs *out, char *err, size_t errlen);

/* The --help text. */
void train_args_usage(FILE *f);

#endif
