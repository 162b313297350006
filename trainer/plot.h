/*
 * plot.h — the curves of a training run as an SVG picture (cnnc-train).
 *
 * Two panels side by side: the training loss per epoch (with the running
 * loss between epochs when there are mid-epoch points), and the train and
 * test accuracy per epoch.  Self-contained: C11 + libc + libm, no state.
 */
#ifndef CNNC_PLOT_H
#define CNNC_PLOT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct PlotPoint {
    double epoch;            /* x: epochs done (1, 2, ...; fractional when partial) */
    double train_loss;       /* mean training loss */
    double train_acc;        /* percent; unused when partial */
    double test_acc;         /* percent; unused when partial */
    bool partial;            /* a mid-epoch point: running loss since the previous point */
} PlotPoint;

/* Write the SVG to path atomically (temporary file, then rename).  Points
 * may come in any order; non-finite values are left out.  0 ok, -1 with a
 * message in err. */
int plot_training_svg(const char *path, const char *title, const PlotPoint *pts, int n, char *err,
                      size_t errlen);

/* The epoch rows of a cnnc-train CSV log (epoch,step,lr,train_loss,
 * train_accuracy,test_accuracy,seconds) as points, in a malloc'd array the
 * caller frees.  A row whose epoch is not after the previous one starts over
 * from there (a run resumed from an earlier checkpoint).  0 ok, -1 with a
 * message in err. */
int plot_read_log(const char *csv, PlotPoint **pts, int *n, char *err, size_t errlen);

#endif
