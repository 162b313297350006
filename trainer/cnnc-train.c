/*
 * cnnc-train — train any .net on an MNIST-style IDX dataset.
 *
 *   cnnc-train model.net --data DIR --epochs N --batch B --opt adam --lr 1e-3
 *              --save FILE [--resume FILE] [options]
 *
 * The options are checked first, all of them (args.c), before anything is
 * read or written.  The network is compiled by cnnc's front end (the same
 * diagnostics as cnnc), described for cnnrt (train_desc.c), checked against
 * the data (input size, one output per class) and trained by cnnrt_net —
 * the same code `cnnc --train` generates calls into.  Pixels are fed as
 * x/255, then (x − mean)/std when --normalize is given; the normalisation
 * is stored in the checkpoint so `cnnc --weights` bakes it into inference.
 *
 * Each epoch: one pass over the training set in an order drawn from
 * (seed, epoch), then test accuracy, a CSV line (--log, default FILE.csv
 * beside --save; the file is rewritten atomically), an SVG plot of the curves so far (--plot, default
 * FILE.svg; plot.c) and an atomic rewrite of --save.  A run resumed from the
 * end of an epoch continues bit for bit, into the same network only
 * (cnnrt_net_load checks the structure), and keeps the log's rows up to its
 * checkpoint's epoch.  --epochs 0 saves the initial weights.  A NaN or
 * infinite loss stops
 * training with the step and the first layer whose gradient went bad; the
 * last checkpoint (from the previous epoch) stays as it was.
 *
 * Exit status: 0 done, 1 bad input (network, dataset, checkpoint), 2 bad
 * usage or an I/O failure, 3 training diverged.
 */
#include "cnnc.h"
#include "cnnrt_file.h"   /* output files (runtime/outfile.c) */

#include "args.h"
#include "cnnrt_net.h"
#include "plot.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* deterministic permutation for (seed, epoch) */
static void shuffle(int *perm, int n, unsigned long long seed, long epoch) {
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed * 1000003ULL + (unsigned long long)epoch);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(((unsigned long long)cnnrt_rng_u32(&r) * (unsigned long long)(i + 1)) >> 32);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

static void fmt_time(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* Flush the log; unless it is stdout (or there is no log file), rewrite
 * path atomically with all of it (buf/len: the memstream's).  0 on success. */
static int log_write(FILE *log, bool to_stdout, const char *path, char **buf, size_t *len) {
    if (fflush(log) != 0) return -1;
    return to_stdout || !path ? 0 : cnnrt_write_file(path, *buf, *len);
}

#define LOG_HEADER "epoch,step,lr,train_loss,train_accuracy,test_accuracy,seconds\n"

/* A resumed run's log: the rows of the old log at path for epochs 1..last
 * (a kill between the log's rewrite and the checkpoint's leaves a row for
 * an epoch the checkpoint does not have: that epoch runs again), a later
 * row for an epoch replacing the earlier ones from there on, as
 * plot_read_log reads it.  The header is the caller's.  No file: nothing. */
static void log_keep(FILE *log, const char *path, long last) {
    FILE *old = fopen(path, "rb");
    if (!old) return;
    char *line = NULL, **rows = NULL;
    long *eps = NULL;
    size_t cap = 0, nrows = 0, rcap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, old)) > 0) {
        char *end;
        errno = 0;
        long ep = strtol(line, &end, 10);
        if (end == line || *end != ',' || errno || ep < 1 || ep > last) continue;
        while (nrows > 0 && eps[nrows - 1] >= ep) free(rows[--nrows]);
        if (nrows == rcap) {
            rcap = rcap ? 2 * rcap : 16;
            char **r = realloc(rows, rcap * sizeof *rows);
            long *e = realloc(eps, rcap * sizeof *eps);
            if (r) rows = r;
            if (e) eps = e;
            if (!r || !e) break;
        }
        if (!(rows[nrows] = malloc((size_t)len + 2))) break;
        memcpy(rows[nrows], line, (size_t)len);
        if (line[len - 1] != '\n') rows[nrows][len++] = '\n';
        rows[nrows][len] = 0;
        eps[nrows++] = ep;
    }
    for (size_t i = 0; i < nrows; i++) {
        fputs(rows[i], log);
        free(rows[i]);
    }
    free(rows);
    free(eps);
    free(line);
    fclose(old);
}

/* The checkpoint after `epoch` epochs, with the normalisation (or none).
 * 0 ok; -1 with the message out. */
static int save(cnnrt_net *net, const char *path, long epoch, const char *normtxt) {
    cnnrt_ckpt_meta extra[2];
    int nextra = 0;
    char epochs_txt[32], err[4096];
    snprintf(epochs_txt, sizeof epochs_txt, "%ld", epoch);
    extra[nextra++] = (cnnrt_ckpt_meta){ "epoch", epochs_txt };
    if (normtxt) extra[nextra++] = (cnnrt_ckpt_meta){ "normalize", normtxt };
    if (cnnrt_net_save(net, path, extra, nextra, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "cnnc-train: error: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    TrainArgs a;
    char err[4096];
    int rc = train_args_parse(argc, argv, &a, err, sizeof err);
    if (rc) {
        fprintf(stderr, "cnnc-train: %s%s\n", a.getopt_style ? "" : "error: ", err);
        if (a.usage_hint) fputs("Try 'cnnc-train --help' for more information.\n", stderr);
        return rc;
    }
    if (a.help) { train_args_usage(stdout); return 0; }
    if (a.version) { printf("cnnc-train %s\n", CNNC_VERSION); return 0; }
    cnnrt_set_threads((int)a.threads);

    /* the network: the same front end and diagnostics as cnnc */
    Graph *g;
    cnnrt_net_desc *desc = front_train_desc(a.net, &g);
    if (!desc) return 1;

    /* the data */
    cnnrt_dataset ds;
    if (cnnrt_dataset_load(a.data, &ds, err, sizeof err) != CNNRT_OK) {
        fprintf(stderr, "cnnc-train: error: %s\n", err);
        return 1;
    }
    int H = ds.train_images.h, W = ds.train_images.w;
    if (desc->in_c != 1 || desc->in_h != H || desc->in_w != W) {
        fprintf(stderr, "%s:%d:%d: error: network '%s' takes %dx%dx%d input, but the images in %s are 1x%dx%d\n",
                g->loc.file->name, g->loc.line, g->loc.col, g->name, desc->in_c, desc->in_h, desc->in_w,
                a.data, H, W);
        cnnrt_dataset_free(&ds);
        return 1;
    }
    cnnrt_train_opts to = { .optim = a.optim, .loss = CNNRT_LOSS_XENT, .label_smoothing = (float)a.smoothing,
                            .seed = a.seed };
    cnnrt_net *probe = cnnrt_net_create(desc, 1, &to, err, sizeof err);
    if (!probe) { fprintf(stderr, "cnnc-train: error: %s\n", err); cnnrt_dataset_free(&ds); return 1; }
    int classes;
    cnnrt_net_logits(probe, &classes);
    cnnrt_net_free(probe);
    /* as many outputs as classes: the layer that makes them is at fault */
    if (cnnrt_dataset_check_classes(&ds, classes, err, sizeof err) != CNNRT_OK) {
        Loc l = g->output->loc;
        fprintf(stderr, "%s:%d:%d: error: network '%s', output layer '%s': %s\n", l.file->name, l.line, l.col,
                g->name, g->output->name, err);
        cnnrt_dataset_free(&ds);
        return 1;
    }
    int ntrain = ds.train_images.n, ntest = ds.test_images.n;
    if (a.limit_train > 0 && a.limit_train < ntrain) ntrain = (int)a.limit_train;
    if (a.limit_test > 0 && a.limit_test < ntest) ntest = (int)a.limit_test;
    long steps_per_epoch = (ntrain + a.batch - 1) / a.batch;

    /* normalisation, as the floats that are used and stored (inference matches bit for bit) */
    double mean = 0, stdv = 1;
    char normtxt[64] = "";
    if (a.normalize) {
        if (a.normalize_auto) {
            cnnrt_idx_images_stats(&ds.train_images, &mean, &stdv);
            mean = (float)mean;
            stdv = (float)stdv;
        } else {
            mean = a.norm_mean;
            stdv = a.norm_std;
        }
        snprintf(normtxt, sizeof normtxt, "%.9g,%.9g", mean, stdv);
    }

    /* schedule */
    cnnrt_lr_schedule lr = { .kind = a.lr_kind, .base_lr = a.lr, .warmup_steps = a.warmup,
                             .warmup_start_factor = 0.1,
                             .step_size = a.step_size ? a.step_size : steps_per_epoch, .gamma = a.gamma,
                             .T = steps_per_epoch * a.epochs - a.warmup, .min_lr = a.min_lr };
    if (lr.T < 1) lr.T = 1;
    to.lr = lr;

    cnnrt_net *net = cnnrt_net_create(desc, (int)a.batch, &to, err, sizeof err);
    if (!net) { fprintf(stderr, "cnnc-train: error: %s\n", err); cnnrt_dataset_free(&ds); return 1; }
    long first_epoch = 0;
    if (a.resume) {
        if (cnnrt_net_load(net, a.resume, 1, err, sizeof err) != CNNRT_OK) {
            fprintf(stderr, "cnnc-train: error: %s\n", err);
            cnnrt_net_free(net); cnnrt_dataset_free(&ds);
            return 1;
        }
        long step = cnnrt_net_step(net);
        if (step % steps_per_epoch != 0) {
            fprintf(stderr, "cnnc-train: error: %s: step %ld is not the end of an epoch of %ld steps "
                    "(batch %ld, %d images): resume with the same --batch and data\n",
                    a.resume, step, steps_per_epoch, a.batch, ntrain);
            cnnrt_net_free(net); cnnrt_dataset_free(&ds);
            return 1;
        }
        first_epoch = step / steps_per_epoch;
    }

    /* the log and the plot go beside the checkpoint unless named; a
     * checkpoint that is a device or a FIFO (--save /dev/null) has no
     * "beside", and then only a named log or plot is written */
    bool save_special = cnnrt_path_is_special(a.save);
    const char *logpath = a.log ? a.log : save_special ? NULL : arena_printf("%s.csv", a.save);
    bool log_stdout = logpath && strcmp(logpath, "-") == 0;
    /* the log is kept in memory and rewritten whole, through a temporary file
     * and a rename, after every line: a kill leaves the previous complete log
     * or the new one, never half a line.  It starts with the header; a
     * resumed run continues the old file's rows up to its checkpoint. */
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = log_stdout ? stdout : open_memstream(&logbuf, &loglen);
    if (log) fputs(LOG_HEADER, log);
    if (log && logpath && !log_stdout && first_epoch > 0) log_keep(log, logpath, first_epoch);
    if (!log || log_write(log, log_stdout, logpath, &logbuf, &loglen) != 0) {
        fprintf(stderr, "cnnc-train: error: cannot write the log %s: %s\n",
                log_stdout ? "to standard output" : arena_printf("'%s'", logpath), strerror(errno));
        if (log && !log_stdout) fclose(log);
        free(logbuf);
        cnnrt_net_free(net); cnnrt_dataset_free(&ds);
        return 2;
    }

    size_t isz = (size_t)H * (size_t)W;
    float *xb = malloc(sizeof(float) * isz * (size_t)a.batch);
    int32_t *yb = malloc(sizeof(int32_t) * (size_t)a.batch);
    int *perm = malloc(sizeof(int) * (size_t)ntrain);
    float *out = malloc(sizeof(float) * (size_t)desc->out_size * (size_t)a.batch);
    if (!xb || !yb || !perm || !out) { fputs("cnnc-train: error: out of memory\n", stderr); return 2; }
    bool tty = isatty(2) && !a.quiet;

    /* the curves: the epochs of a continued log, then this run's epochs and
     * running-loss points (about ten per epoch when epochs are long enough) */
    const char *plotpath = a.plot ? a.plot : save_special ? NULL : arena_printf("%s.svg", a.save);
    const char *title = arena_printf("%s — %s, lr %g%s%s, batch %ld", g->name, a.opt, a.lr,
                                     strcmp(a.schedule, "constant") ? " " : "",
                                     strcmp(a.schedule, "constant") ? a.schedule : "", a.batch);
    long every = steps_per_epoch >= 20 ? steps_per_epoch / 10 : 0;
    PlotPoint *prev = NULL, *pts;
    int nprev = 0, npts = 0;
    if (first_epoch > 0 && logpath && !log_stdout && plot_read_log(logpath, &prev, &nprev, err, sizeof err) != 0) nprev = 0;
    while (nprev > 0 && prev[nprev - 1].epoch > (double)first_epoch) nprev--;
    long todo = a.epochs > first_epoch ? a.epochs - first_epoch : 0;
    pts = malloc(sizeof *pts * ((size_t)nprev + (size_t)todo * (size_t)(every ? steps_per_epoch / every + 2 : 1) + 1));
    if (!pts) { fputs("cnnc-train: error: out of memory\n", stderr); return 2; }
    for (; npts < nprev; npts++) pts[npts] = prev[npts];
    free(prev);
    int status = 0;

    if (!a.quiet)
        fprintf(stderr, "training %s: %ld params, %d train / %d test images, batch %ld, %s lr %g, %ld epochs\n",
                g->name, desc->nparams, ntrain, ntest, a.batch, a.opt, a.lr, a.epochs);
    for (long ep = first_epoch; ep < a.epochs && !status; ep++) {
        double t0 = now(), loss_sum = 0, run_sum = 0;
        long correct = 0, seen = 0, run_seen = 0;
        shuffle(perm, ntrain, a.seed, ep);
        for (long s = 0; s < steps_per_epoch; s++) {
            int n = (int)(ntrain - s * a.batch < a.batch ? ntrain - s * a.batch : a.batch);
            for (int i = 0; i < n; i++) {
                int k = perm[s * a.batch + i];
                cnnrt_u8_to_float(xb + (size_t)i * isz, ds.train_images.data + (size_t)k * isz,
                                  (float)mean, (float)stdv, isz);
                yb[i] = ds.train_labels.data[k];
            }
            float loss = cnnrt_net_train_step(net, xb, yb, NULL, n);
            if (!isfinite(loss)) {
                const char *bad = cnnrt_net_bad_layer(net);
                if (tty) fputc('\n', stderr);
                fprintf(stderr, "cnnc-train: error: training diverged at step %ld (epoch %ld): the loss is %s%s%s; "
                        "%s keeps the last good checkpoint\n", cnnrt_net_step(net) + 1, ep + 1,
                        isnan(loss) ? "NaN" : "infinite", bad ? "; the first layer with a bad gradient is " : "",
                        bad ? bad : "", a.save);
                status = 3;
                break;
            }
            int K;
            const float *lg = cnnrt_net_logits(net, &K);
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int j = 1; j < K; j++) if (lg[(size_t)i * K + j] > lg[(size_t)i * K + best]) best = j;
                correct += best == yb[i];
            }
            loss_sum += loss * n;
            seen += n;
            run_sum += loss * n;
            run_seen += n;
            if (every && ((s + 1) % every == 0 || s == steps_per_epoch - 1)) {
                pts[npts++] = (PlotPoint){ .epoch = (double)ep + (double)(s + 1) / (double)steps_per_epoch,
                                           .train_loss = run_sum / (double)run_seen, .partial = true };
                run_sum = 0;
                run_seen = 0;
            }
            if (tty && (s % 10 == 0 || s == steps_per_epoch - 1)) {
                double el = now() - t0, frac = (double)(s + 1) / (double)steps_per_epoch;
                char eta[32];
                fmt_time(eta, sizeof eta, el / frac - el);
                int bar = (int)(frac * 30);
                fprintf(stderr, "\repoch %ld/%ld [%.*s%*s] %3d%% loss %.4f acc %5.1f%% %6.0f img/s ETA %s  ",
                        ep + 1, a.epochs, bar, "##############################", 30 - bar, "",
                        (int)(frac * 100), loss_sum / seen, 100.0 * correct / seen, seen / (el > 0 ? el : 1), eta);
            } else if (!tty && !a.quiet && (s + 1) % 100 == 0) {
                fprintf(stderr, "epoch %ld step %ld/%ld loss %.4f acc %.1f%%\n", ep + 1, s + 1, steps_per_epoch,
                        loss_sum / seen, 100.0 * correct / seen);
            }
        }
        if (status) break;
        /* test accuracy in inference mode */
        long tcorrect = 0;
        for (int i = 0; i < ntest; i += (int)a.batch) {
            int n = ntest - i < a.batch ? ntest - i : (int)a.batch;
            for (int j = 0; j < n; j++) {
                cnnrt_u8_to_float(xb + (size_t)j * isz, ds.test_images.data + (size_t)(i + j) * isz,
                                  (float)mean, (float)stdv, isz);
            }
            cnnrt_net_eval(net, xb, n, out);
            for (int j = 0; j < n; j++) {
                int best = 0;
                for (int c = 1; c < desc->out_size; c++)
                    if (out[(size_t)j * desc->out_size + c] > out[(size_t)j * desc->out_size + best]) best = c;
                tcorrect += best == ds.test_labels.data[i + j];
            }
        }
        double secs = now() - t0, test_acc = ntest ? 100.0 * tcorrect / ntest : 0;
        double cur_lr = cnnrt_lr_at(&lr, cnnrt_net_step(net) - 1);
        if (tty) fputc('\n', stderr);
        if (!a.quiet)
            fprintf(stderr, "epoch %ld/%ld: loss %.4f, train accuracy %.2f%%, test accuracy %.2f%%, %.1f s\n",
                    ep + 1, a.epochs, loss_sum / seen, 100.0 * correct / seen, test_acc, secs);
        fprintf(log, "%ld,%ld,%.6g,%.6f,%.4f,%.4f,%.3f\n", ep + 1, cnnrt_net_step(net), cur_lr,
                loss_sum / seen, 100.0 * correct / seen, test_acc, secs);
        if (log_write(log, log_stdout, logpath, &logbuf, &loglen) != 0) {
            fprintf(stderr, "cnnc-train: error: cannot write the log %s: %s\n",
                log_stdout ? "to standard output" : arena_printf("'%s'", logpath), strerror(errno));
            status = 2;
        }
        pts[npts++] = (PlotPoint){ .epoch = (double)(ep + 1), .train_loss = loss_sum / seen,
                                   .train_acc = 100.0 * correct / seen, .test_acc = test_acc };
        if (plotpath && plot_training_svg(plotpath, title, pts, npts, err, sizeof err) != 0)
            fprintf(stderr, "cnnc-train: warning: %s\n", err);
        if (save(net, a.save, ep + 1, a.normalize ? normtxt : NULL) != 0) status = 2;
    }
    /* no epoch to run (--epochs 0, or a resumed run already done): the
     * weights as they are, the initialisation for --epochs 0, are the
     * checkpoint all the same */
    if (first_epoch >= a.epochs && save(net, a.save, first_epoch, a.normalize ? normtxt : NULL) != 0) status = 2;
    if (!log_stdout) fclose(log);
    free(logbuf);
    free(xb); free(yb); free(perm); free(out); free(pts);
    cnnrt_net_free(net);
    cnnrt_dataset_free(&ds);
    arena_free_all();
    if (close_stdout("cnnc-train") != 0 && status == 0) status = 2;
    return status;
}
