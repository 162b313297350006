/*
 * plot.c — the curves of a training run as an SVG picture.
 *
 *   +-------------------------- title ---------------------------+
 *   |  loss per epoch               |  accuracy per epoch        |
 *   |  (train, running between      |  (train and test, %)       |
 *   |   epochs when given)          |                            |
 *   +------------------------------------------------------------+
 *
 * Hand-written SVG 1.1: one <polyline> per series, one <circle> (train) or
 * <rect> (test) per epoch point with class "pt SERIES", ticks at "nice"
 * numbers (1, 2, 5 × 10^k), grid lines, a legend per panel and the last
 * value written beside each curve.  The file is built in memory and
 * renamed into place, so a viewer never sees half a picture.
 */
#include "plot.h"
#include "cnnrt_file.h"   /* output files (runtime/outfile.c) */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- geometry ------------------------------------------------------------ */

enum { WIDTH = 900, HEIGHT = 380, PANEL_W = 450, MARGIN_L = 62, MARGIN_R = 62, PLOT_TOP = 84,
       PLOT_H = 240 };

#define C_TRAIN "#2b6cb0"
#define C_RUNNING "#9cc2e6"
#define C_TEST "#dd6b20"
#define C_GRID "#e6e6e6"
#define C_AXIS "#444444"
#define C_TEXT "#222222"
#define C_MUTED "#6b6b6b"

typedef struct Axis {
    double lo, hi, step;     /* data range shown and the tick step */
    int decimals;            /* for tick labels */
} Axis;

typedef struct Panel {
    double x, y, w, h;       /* plot area in pixels */
    Axis ax, ay;
} Panel;

/* 1, 2, 5 or 10 times a power of ten, nearest x (Heckbert's "nice numbers") */
static double nice_num(double x) {
    double e = floor(log10(x)), f = x / pow(10, e);
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * pow(10, e);
}

/* An axis covering [lo, hi] with about 'want' ticks; min_step > 0 forces a
 * step of at least that (whole epochs). */
static Axis axis_make(double lo, double hi, int want, double min_step) {
    Axis a;
    if (!(hi > lo)) hi = lo + (min_step > 0 ? min_step : fabs(lo) > 0 ? fabs(lo) * 0.1 : 1);
    a.step = nice_num((hi - lo) / (want - 1));
    if (min_step > 0 && a.step < min_step) a.step = min_step;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

static double px(const Panel *p, double v) { return p->x + (v - p->ax.lo) / (p->ax.hi - p->ax.lo) * p->w; }
static double py(const Panel *p, double v) { return p->y + p->h - (v - p->ay.lo) / (p->ay.hi - p->ay.lo) * p->h; }

/* --- output helpers ---------------------------------------------------------- */

static void put_xml(FILE *o, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default:
            if ((unsigned char)*s >= 0x20) fputc(*s, o);
        }
    }
}

static void text(FILE *o, double x, double y, const char *anchor, int size, const char *fill,
                 const char *extra, const char *s) {
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" fill=\"%s\"%s%s>", x, y,
            anchor, size, fill, extra ? " " : "", extra ? extra : "");
    put_xml(o, s);
    fputs("</text>\n", o);
}

/* the frame, grid, ticks and axis labels of one panel */
static void put_axes(FILE *o, const Panel *p, const char *heading, const char *xlabel, const char *ylabel,
                     const char *yunit) {
    char buf[64];
    text(o, p->x, p->y - 14, "start", 13, C_TEXT, "font-weight=\"bold\"", heading);
    fprintf(o, "<g class=\"grid\" stroke=\"%s\" stroke-width=\"1\">\n", C_GRID);
    for (double v = p->ay.lo; v <= p->ay.hi + p->ay.step * 1e-6; v += p->ay.step)
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->x, py(p, v), p->x + p->w,
                py(p, v));
    for (double v = p->ax.lo; v <= p->ax.hi + p->ax.step * 1e-6; v += p->ax.step)
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(p, v), p->y, px(p, v),
                p->y + p->h);
    fputs("</g>\n", o);
    fprintf(o, "<g class=\"axes\" stroke=\"%s\" stroke-width=\"1\" fill=\"none\">\n", C_AXIS);
    fprintf(o, "<polyline points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n", p->x, p->y, p->x, p->y + p->h,
            p->x + p->w, p->y + p->h);
    for (double v = p->ay.lo; v <= p->ay.hi + p->ay.step * 1e-6; v += p->ay.step)
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->x - 4, py(p, v), p->x,
                py(p, v));
    for (double v = p->ax.lo; v <= p->ax.hi + p->ax.step * 1e-6; v += p->ax.step)
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(p, v), p->y + p->h,
                px(p, v), p->y + p->h + 4);
    fputs("</g>\n", o);
    for (double v = p->ay.lo; v <= p->ay.hi + p->ay.step * 1e-6; v += p->ay.step) {
        snprintf(buf, sizeof buf, "%.*f%s", p->ay.decimals, fabs(v) < 1e-12 ? 0.0 : v, yunit);
        text(o, p->x - 8, py(p, v) + 4, "end", 11, C_MUTED, NULL, buf);
    }
    for (double v = p->ax.lo; v <= p->ax.hi + p->ax.step * 1e-6; v += p->ax.step) {
        snprintf(buf, sizeof buf, "%.*f", p->ax.decimals, v);
        text(o, px(p, v), p->y + p->h + 18, "middle", 11, C_MUTED, NULL, buf);
    }
    text(o, p->x + p->w / 2, p->y + p->h + 38, "middle", 12, C_TEXT, NULL, xlabel);
    fprintf(o, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" "
               "fill=\"%s\">", p->x - 46, p->y + p->h / 2, C_TEXT);
    put_xml(o, ylabel);
    fputs("</text>\n", o);
}

/* which value of a point a series plots */
typedef enum { S_RUNNING, S_TRAIN_LOSS, S_TRAIN_ACC, S_TEST_ACC } Series;

static bool in_series(const PlotPoint *q, Series s) {
    double v = s == S_TRAIN_ACC ? q->train_acc : s == S_TEST_ACC ? q->test_acc : q->train_loss;
    if (!isfinite(v) || !isfinite(q->epoch)) return false;
    return s == S_RUNNING ? q->partial : !q->partial;
}

static double value(const PlotPoint *q, Series s) {
    return s == S_TRAIN_ACC ? q->train_acc : s == S_TEST_ACC ? q->test_acc : q->train_loss;
}

/* the line, the markers and the last value of one series */
static void put_series(FILE *o, const Panel *p, const PlotPoint *pts, int n, Series s) {
    static const char *const cls[] = { "running-loss", "train-loss", "train-acc", "test-acc" };
    const char *color = s == S_RUNNING ? C_RUNNING : s == S_TEST_ACC ? C_TEST : C_TRAIN;
    int count = 0;
    for (int i = 0; i < n; i++)
        if (in_series(&pts[i], s)) count++;
    if (!count) return;
    fprintf(o, "<g class=\"series %s\">\n", cls[s]);
    if (count > 1) {
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" stroke-linejoin=\"round\" "
                   "points=\"", color, s == S_RUNNING ? "1.5" : "2.2");
        for (int i = 0; i < n; i++)
            if (in_series(&pts[i], s)) fprintf(o, "%.1f,%.1f ", px(p, pts[i].epoch), py(p, value(&pts[i], s)));
        fputs("\"/>\n", o);
    }
    if (s != S_RUNNING) {
        for (int i = 0; i < n; i++) {
            if (!in_series(&pts[i], s)) continue;
            double x = px(p, pts[i].epoch), y = py(p, value(&pts[i], s));
            if (s == S_TEST_ACC)
                fprintf(o, "<rect class=\"pt %s\" x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"%s\" "
                           "stroke=\"white\" stroke-width=\"1\"><title>epoch %g: %.2f%%</title></rect>\n",
                        cls[s], x - 3.5, y - 3.5, color, pts[i].epoch, value(&pts[i], s));
            else
                fprintf(o, "<circle class=\"pt %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.8\" fill=\"%s\" "
                           "stroke=\"white\" stroke-width=\"1\"><title>epoch %g: %.4g%s</title></circle>\n",
                        cls[s], x, y, color, pts[i].epoch, value(&pts[i], s), s == S_TRAIN_LOSS ? "" : "%");
        }
    }
    fputs("</g>\n", o);
}

/* The last value of each series, right of the plot area at the height of
 * its last point, pushed apart when two would overlap. */
static void put_last_values(FILE *o, const Panel *p, const PlotPoint *pts, int n, const Series *ss, int k) {
    double y[2];
    char buf[2][32];
    bool have[2] = { false, false };
    for (int j = 0; j < k && j < 2; j++) {
        int last = -1;
        for (int i = 0; i < n; i++)
            if (in_series(&pts[i], ss[j])) last = i;
        if (last < 0) continue;
        double v = value(&pts[last], ss[j]);
        have[j] = true;
        y[j] = py(p, v) + 4;
        if (ss[j] == S_TRAIN_LOSS) snprintf(buf[j], sizeof buf[j], "%.4f", v);
        else snprintf(buf[j], sizeof buf[j], "%.2f%%", v);
    }
    if (have[0] && have[1] && fabs(y[0] - y[1]) < 13) {
        double mid = (y[0] + y[1]) / 2, d = y[0] <= y[1] ? -6.5 : 6.5;
        y[0] = mid + d;
        y[1] = mid - d;
    }
    for (int j = 0; j < k && j < 2; j++)
        if (have[j])
            text(o, p->x + p->w + 6, y[j], "start", 11, ss[j] == S_TEST_ACC ? C_TEST : C_TRAIN,
                 "font-weight=\"bold\"", buf[j]);
}

/* a legend box: up to three entries, in the top or bottom right corner */
static void put_legend(FILE *o, const Panel *p, bool top, const char *const *names, const char *const *colors,
                       const bool *dashed_marker, int k) {
    double w = 0;
    for (int i = 0; i < k; i++) {
        double l = 30 + 6.4 * (double)strlen(names[i]);
        if (l > w) w = l;
    }
    w += 14;
    double h = 8 + 18.0 * k, x = p->x + p->w - w - 8, y = top ? p->y + 8 : p->y + p->h - h - 8;
    fprintf(o, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\" "
               "fill=\"white\" fill-opacity=\"0.9\" stroke=\"#cccccc\"/>\n", x, y, w, h);
    for (int i = 0; i < k; i++) {
        double ly = y + 14 + 18.0 * i;
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
                x + 8, ly, x + 30, ly, colors[i], dashed_marker[i] ? "1.5" : "2.2");
        if (!dashed_marker[i] && strcmp(colors[i], C_TEST) == 0)
            fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"%s\"/>\n", x + 15.5,
                    ly - 3.5, colors[i]);
        else if (!dashed_marker[i])
            fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x + 19, ly, colors[i]);
        text(o, x + 36, ly + 4, "start", 11, C_TEXT, NULL, names[i]);
    }
    fputs("</g>\n", o);
}

static int by_epoch(const void *a, const void *b) {
    const PlotPoint *p = a, *q = b;
    return (p->epoch > q->epoch) - (p->epoch < q->epoch);
}

/* --- the picture ------------------------------------------------------------- */

static void put_svg(FILE *o, const char *title, const PlotPoint *pts, int n) {
    double xmax = 1, lmax = 0, amin = 100, amax = 0;
    int nepochs = 0, nrunning = 0, best = -1, lastep = -1;
    for (int i = 0; i < n; i++) {
        const PlotPoint *q = &pts[i];
        if (!isfinite(q->epoch)) continue;
        if (q->epoch > xmax) xmax = q->epoch;
        if (isfinite(q->train_loss) && q->train_loss > lmax) lmax = q->train_loss;
        if (q->partial) { nrunning += isfinite(q->train_loss); continue; }
        nepochs++;
        lastep = i;
        for (Series s = S_TRAIN_ACC; s <= S_TEST_ACC; s++) {
            double v = value(q, s);
            if (!isfinite(v)) continue;
            if (v < amin) amin = v;
            if (v > amax) amax = v;
        }
        if (isfinite(q->test_acc) && (best < 0 || q->test_acc > pts[best].test_acc)) best = i;
    }
    if (amin > amax) amin = 0, amax = 100;

    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"Helvetica, Arial, sans-serif\">\n", WIDTH, HEIGHT, WIDTH, HEIGHT);
    fputs("<title>", o);
    put_xml(o, title);
    fputs("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", o);
    text(o, WIDTH / 2.0, 28, "middle", 17, C_TEXT, "font-weight=\"bold\"", title);
    char sub[256];
    if (lastep >= 0) {
        const PlotPoint *q = &pts[lastep];
        int len = snprintf(sub, sizeof sub, "%d epoch%s · last: train loss %.4f, train %.2f%%, test %.2f%%",
                           nepochs, nepochs == 1 ? "" : "s", q->train_loss, q->train_acc, q->test_acc);
        if (best >= 0 && best != lastep && len > 0 && (size_t)len < sizeof sub)
            snprintf(sub + len, sizeof sub - (size_t)len, " · best test %.2f%% (epoch %g)", pts[best].test_acc,
                     pts[best].epoch);
    } else {
        snprintf(sub, sizeof sub, "no finished epoch yet");
    }
    text(o, WIDTH / 2.0, 48, "middle", 12, C_MUTED, NULL, sub);

    /* loss: from 0; accuracy: a little below the lowest value, up to 100 */
    Axis ax = axis_make(0, xmax, 7, 1);
    Panel lp = { MARGIN_L, PLOT_TOP, PANEL_W - MARGIN_L - MARGIN_R, PLOT_H, ax,
                 axis_make(0, lmax > 0 ? lmax * 1.05 : 1, 6, 0) };
    double pad = (amax - amin) * 0.08 + 0.5;
    double alo = amin - pad < 0 ? 0 : amin - pad, ahi = amax + pad > 100 ? 100 : amax + pad;
    Panel ap = { PANEL_W + MARGIN_L, PLOT_TOP, PANEL_W - MARGIN_L - MARGIN_R, PLOT_H, ax,
                 axis_make(alo, ahi, 6, 0) };

    fputs("<g class=\"panel loss\">\n", o);
    put_axes(o, &lp, "Training loss", "epoch", "cross-entropy loss", "");
    put_series(o, &lp, pts, n, S_RUNNING);
    put_series(o, &lp, pts, n, S_TRAIN_LOSS);
    put_last_values(o, &lp, pts, n, (const Series[]){ S_TRAIN_LOSS }, 1);
    {
        const char *names[] = { "train loss, epoch mean", "running (within epochs)" };
        const char *colors[] = { C_TRAIN, C_RUNNING };
        const bool thin[] = { false, true };
        put_legend(o, &lp, true, names, colors, thin, nrunning ? 2 : 1);
    }
    fputs("</g>\n<g class=\"panel accuracy\">\n", o);
    put_axes(o, &ap, "Accuracy", "epoch", "accuracy", "%");
    put_series(o, &ap, pts, n, S_TRAIN_ACC);
    put_series(o, &ap, pts, n, S_TEST_ACC);
    put_last_values(o, &ap, pts, n, (const Series[]){ S_TRAIN_ACC, S_TEST_ACC }, 2);
    {
        const char *names[] = { "train", "test" };
        const char *colors[] = { C_TRAIN, C_TEST };
        const bool thin[] = { false, false };
        put_legend(o, &ap, false, names, colors, thin, 2);
    }
    fputs("</g>\n</svg>\n", o);
}

static int fail(char *err, size_t errlen, const char *what, const char *path) {
    snprintf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
    return -1;
}

int plot_training_svg(const char *path, const char *title, const PlotPoint *pts, int n, char *err,
                      size_t errlen) {
    PlotPoint *sorted = malloc(sizeof *sorted * (size_t)(n > 0 ? n : 1));
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!sorted || !mem) {
        if (mem) fclose(mem);
        free(sorted); free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (n > 0) memcpy(sorted, pts, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)(n > 0 ? n : 0), sizeof *sorted, by_epoch);
    put_svg(mem, title, sorted, n);
    fclose(mem);
    free(sorted);

    /* a temporary file beside the target, then a rename (cnnrt_file.h) */
    int rc = 0;
    if (cnnrt_write_file(path, buf, len) != 0) rc = fail(err, errlen, "cannot write the plot", path);
    free(buf);
    return rc;
}

/* --- the CSV log ------------------------------------------------------------- */

int plot_read_log(const char *csv, PlotPoint **pts, int *n, char *err, size_t errlen) {
    *pts = NULL;
    *n = 0;
    FILE *f = fopen(csv, "r");
    if (!f) return fail(err, errlen, "cannot read the log", csv);
    PlotPoint *v = NULL;
    int cnt = 0, cap = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        double ep, step, lr, loss, tr, te;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &ep, &step, &lr, &loss, &tr, &te) != 6) continue;
        while (cnt > 0 && v[cnt - 1].epoch >= ep) cnt--;      /* resumed from an earlier epoch */
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            PlotPoint *nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                free(v);
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            v = nv;
        }
        v[cnt++] = (PlotPoint){ .epoch = ep, .train_loss = loss, .train_acc = tr, .test_acc = te };
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(v);
        snprintf(err, errlen, "cannot read the log '%s'", csv);
        return -1;
    }
    *pts = v;
    *n = cnt;
    return 0;
}
