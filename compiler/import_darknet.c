/*
 * import_darknet.c — a darknet classifier (its .cfg, and its .weights if
 * given) as an ImpGraph of .net layers (import.h).
 *
 * darknet means pjreddie's, the one Debian packages (src/parser.c,
 * 61c9d02e): its cfg keys and defaults, its layer shapes, its .weights
 * layout and its arithmetic.  Every cfg section is checked before anything
 * is written; an error names the cfg line (FILE:LINE:COL, the line shown)
 * or the weights file, what was expected and what was found.
 *
 * The cfg: "[section]" lines, then key=value lines; blanks and tabs are
 * dropped anywhere (as darknet's strip()), lines starting '#' or ';' and
 * text after '#' are comments.  A key the importer does not read is an
 * error in a layer (it might change the layer: dilation=, stride_x=, ...),
 * except darknet's training-only keys; [net] keeps only width, height and
 * channels.  Numbers must be whole and in range (darknet's atoi would read
 * "3x" as 3).
 *
 * Layer i of the cfg (darknet's own numbering, the first after [net] is 0)
 * becomes these .net layers, named by i:
 *
 *   [convolutional]  conv convI F kK [sS] [pP] [gG] ACT (the activation
 *                    fused); with batch_normalize=1: conv convI ... nobias,
 *                    batchnorm bnI, then the activation layer ACTNAME_I
 *                    (pad=1 means padding size/2, as in darknet)
 *   [connected]      [flatten flattenI] dense fcI N [ACT] (batchnorm bnI
 *                    and ACTNAME_I as a conv's); darknet flattens C,H,W as
 *                    PyTorch does
 *   [maxpool]        maxpool poolI: darknet pads padding (default size-1)
 *                    values of -inf, padding/2 before and the rest after;
 *                    written as PyTorch's symmetric padding, in floor or
 *                    ceil mode, when that gives the same windows; else
 *                    pad padI (replicate: the same maximum as -inf, every
 *                    window reaching into the input), then maxpool poolI
 *   [avgpool]        globalavgpool poolI
 *   [route]          one layer: nothing (the next layer reads it); several:
 *                    concat catI of them, in their order
 *   [shortcut]       add addI of the previous layer and from=, then the
 *                    activation; darknet adds a smaller or narrower from=
 *                    layer subsampled into the first channels: that
 *                    shortcut is first a fixed layer scI, maxpool k1 sS
 *                    (same channels) or conv k1 sS nobias with 0/1
 *                    weights (a projection that keeps channel k)
 *   [dropout]        dropout dropI P
 *   [softmax]        [flatten flattenI] softmax softmaxI (over all of C×H×W
 *                    as darknet); temperature=T is folded into the conv,
 *                    dense or batchnorm before it (the layers between must
 *                    commute with scaling: pools, dropout, relu, leaky)
 *   [batchnorm]      batchnorm bnI (darknet's bias is zero)
 *   [activation]     the activation layer ACTNAME_I
 *   [crop]           only first: the input becomes the crop's size (darknet
 *                    crops the centre at test time: the caller's job), and
 *                    darknet's x·2 − 1 is conv cropI C k1 gC (weight 2,
 *                    bias −1) unless noadjust=1
 *   [cost]           nothing (last layers only)
 *
 * ACTNAME_I is the darknet name and I: leaky3, relu3, logistic3 ...  The
 * activations: linear; logistic = sigmoid; relu; leaky = leakyrelu 0.1;
 * relie = leakyrelu 0.01; tanh; elu; selu (PyTorch's constants, darknet
 * rounds them: 4e-5 apart at most); hardtan = hardtanh; and, from
 * AlexeyAB's darknet, mish and swish = silu.  Two are another activation
 * of a scaled input, the scale folded into the weights of the conv or
 * dense (or its batchnorm) before: ramp(x) = x·[x>0] + 0.1x =
 * leakyrelu(1.1x, 1/11) and loggy(x) = 2σ(x) − 1 = tanh(x/2).  The others
 * (plse, lhtan, stair) are errors.
 *
 * Weights: the header is major, minor, revision (int32), then seen (int64
 * when major·10 + minor >= 2 and both are below 1000, else int32);
 * connected weights are stored transposed when major or minor > 1000.
 * Then in layer order, as darknet's load_weights_upto reads them:
 *   convolutional  biases[F], if batch_normalize scales[F] rolling_mean[F]
 *                  rolling_variance[F], weights[F][C/groups][size][size]
 *   connected      biases[N], weights[N][IN], if batch_normalize scales[N]
 *                  rolling_mean[N] rolling_variance[N]
 *   batchnorm      scales[C] rolling_mean[C] rolling_variance[C]
 * The file must end there.  Tensors keep PyTorch's names and layouts: conv
 * weight [F][C/groups][k][k] and bias (when no batchnorm; with one,
 * darknet's biases are the batchnorm's bias), batchnorm weight, bias,
 * running_mean, running_var, dense weight [N][IN] and bias.  Without a
 * weights file every tensor is there with its sizes and no values (import.c
 * then writes no safetensors), the fixed layers' (cropI, scI) too.
 *
 * darknet normalises with (x − mean) / (√var + 1e-6) (blas.c
 * normalize_cpu), PyTorch with (x − mean) / √(var + 1e-5): the batchnorm
 * weight written is darknet's scale · √(var + 1e-5) / (√var + 1e-6), so
 * the default eps gives darknet's values; mean, var and bias are darknet's.
 */
#include "cnnc.h"
#include "cnnrt.h"     /* cnnrt_out_size: PyTorch's output-size rule */
#include "import.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DK_MAX_INT (1LL << 24)     /* any count or size in a cfg */
#define DK_MAX_LAYERS 100000       /* the language's limit */

/* ---- the cfg as sections of key=value lines ----------------------------------- */

typedef struct Opt {
    const char *key, *val;     /* blanks dropped */
    int line, col, len;        /* where "key=value" is written */
    bool used;
} Opt;

typedef struct Sec {
    const char *type;          /* "[convolutional]" as written, blanks dropped */
    int line, col, len;
    Opt *opts;
    int nopts, cap;
    int index;                 /* darknet's layer number; -1 for [net] */
} Sec;

typedef struct Shp {
    long long c, h, w;         /* a vector: c values, h = w = 1 */
    bool flat;
} Shp;

enum { LD_CONV, LD_FC, LD_BN };

/* A layer that reads weights, in file order. */
typedef struct Load {
    const Sec *s;
    int kind;                  /* LD_* */
    int wnode;                 /* the conv or dense, -1 for [batchnorm] */
    int bnnode;                /* its batchnorm, -1: none */
    long long n, per;          /* outputs; weights per output */
} Load;

typedef struct Temp {
    const Sec *s;
    const Opt *o;
    int node;                  /* the softmax's input */
    double t;
} Temp;

typedef struct Dk {
    const char *cfg;
    const SrcFile *src;
    bool weights;              /* a .weights file is read: fixed layers get their values */
    ImpGraph *g;
    int errors0;
    Sec *secs;
    int nsecs, scap;
    /* per node: its shape, the factor its pre-activation output is scaled
     * by (folded into its weights), and whether a fused activation commutes
     * with a positive scale */
    Shp *shape;
    double *scale;
    bool *homog;
    int ncap;
    Load *loads;
    int nloads, lcap;
    Temp *temps;
    int ntemps, tcap;
} Dk;

static void *grow(void *p, int n, int *cap, size_t size) {
    if (n < *cap) return p;
    int c = *cap ? 2 * *cap : 16;
    void *q = arena_alloc(size * (size_t)c);
    if (n) memcpy(q, p, size * (size_t)n);
    *cap = c;
    return q;
}

static Loc loc_at(const Dk *d, int line, int col, int len) {
    return (Loc){ .file = d->src, .line = line, .col = col, .len = len > 0 ? len : 1 };
}
static Loc sec_loc(const Dk *d, const Sec *s) { return loc_at(d, s->line, s->col, s->len); }
static Loc opt_loc(const Dk *d, const Opt *o) { return loc_at(d, o->line, o->col, o->len); }

static const char *shown(const char *s, size_t max) {
    size_t n = strlen(s);
    return n <= max ? s : arena_printf("%.*s...", (int)max, s);
}

/* line: blanks dropped, comments cut; at most one option or header */
static void read_line(Dk *d, int lineno, const char *p, const char *e) {
    char *t = arena_alloc((size_t)(e - p) + 1), *o = t;
    int first = 0;                          /* column of the first non-blank */
    for (const char *q = p; q < e; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch == ' ' || ch == '\t' || ch == '\r') continue;
        if (ch == '#' && o > t) break;
        if (!first) first = (int)(q - p) + 1;
        *o++ = (char)ch;
    }
    *o = 0;
    if (!t[0] || t[0] == '#' || t[0] == ';') return;
    int len = (int)(e - p) - first + 1;
    while (len > 1 && (p[first - 1 + len - 1] == ' ' || p[first - 1 + len - 1] == '\t' ||
                       p[first - 1 + len - 1] == '\r'))
        len--;
    if (t[0] == '[') {
        if (t[strlen(t) - 1] != ']' || strlen(t) < 3) {
            diag_error(loc_at(d, lineno, first, len), "expected a section header '[name]', found '%s'",
                       shown(t, 60));
            return;
        }
        if (d->nsecs == DK_MAX_LAYERS + 1) {
            diag_error(loc_at(d, lineno, first, len), "more than %d layers (the .net language's limit)",
                       DK_MAX_LAYERS);
            d->nsecs++;
            return;
        }
        if (d->nsecs > DK_MAX_LAYERS) return;
        d->secs = grow(d->secs, d->nsecs, &d->scap, sizeof *d->secs);
        int index = d->nsecs - 1;          /* [net] is -1 */
        d->secs[d->nsecs++] = (Sec){ .type = t, .line = lineno, .col = first, .len = len, .index = index };
        return;
    }
    char *eq = strchr(t, '=');
    if (!eq || eq == t) {
        diag_error(loc_at(d, lineno, first, len), "expected 'key=value' or a section header '[name]', found '%s'",
                   shown(t, 60));
        return;
    }
    if (d->nsecs == 0) {
        diag_error(loc_at(d, lineno, first, len), "'%s' comes before any section: expected '[net]' first",
                   shown(t, 60));
        return;
    }
    if (d->nsecs > DK_MAX_LAYERS) return;
    *eq = 0;
    Sec *s = &d->secs[d->nsecs - 1];
    s->opts = grow(s->opts, s->nopts, &s->cap, sizeof *s->opts);
    s->opts[s->nopts++] = (Opt){ .key = t, .val = eq + 1, .line = lineno, .col = first, .len = len };
}

/* the whole file: text lines, nothing binary */
static bool read_cfg(Dk *d) {
    const char *p = d->src->text, *end = p + d->src->len;
    for (int lineno = 1; p < end; lineno++) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        for (const char *q = p; q < e; q++) {
            unsigned char ch = (unsigned char)*q;
            if ((ch < 32 && ch != '\t' && ch != '\r') || ch == 127) {
                diag_error(loc_at(d, lineno, (int)(q - p) + 1, 1),
                           "expected a darknet cfg (text), found the byte 0x%02x", ch);
                return false;
            }
        }
        read_line(d, lineno, p, e);
        p = e + 1;
    }
    return true;
}

/* ---- options -------------------------------------------------------------------- */

static const char *sec_name(const Sec *s) { return s->type; }

/* The option KEY of s (marked read), NULL if absent; given twice is an error. */
static Opt *opt(Dk *d, Sec *s, const char *key) {
    Opt *found = NULL;
    for (int i = 0; i < s->nopts; i++) {
        Opt *o = &s->opts[i];
        if (strcmp(o->key, key) != 0) continue;
        o->used = true;
        if (found) {
            diag_error(opt_loc(d, o), "%s: '%s' is given twice (first on line %d)", sec_name(s), key, found->line);
            continue;
        }
        found = o;
    }
    return found;
}

static bool parse_ll(const char *v, long long *out) {
    if (!*v) return false;
    errno = 0;
    char *e;
    long long x = strtoll(v, &e, 10);
    if (*e || errno) return false;
    *out = x;
    return true;
}

/* An integer option in [lo, hi], def when absent. */
static bool get_int(Dk *d, Sec *s, const char *key, long long def, long long lo, long long hi, long long *out) {
    Opt *o = opt(d, s, key);
    *out = def;
    if (!o) return true;
    long long x;
    if (!parse_ll(o->val, &x) || x < lo || x > hi) {
        diag_error(opt_loc(d, o), "%s: %s: expected an integer from %lld to %lld, found '%s'", sec_name(s), key, lo,
                   hi, shown(o->val, 40));
        return false;
    }
    *out = x;
    return true;
}

/* A flag option: 0 or 1. */
static bool get_flag(Dk *d, Sec *s, const char *key, bool *out) {
    long long v;
    bool ok = get_int(d, s, key, 0, 0, 1, &v);
    *out = v != 0;
    return ok;
}

/* A number option in [lo, hi], def when absent. */
static bool get_num(Dk *d, Sec *s, const char *key, double def, double lo, double hi, double *out, Opt **where) {
    Opt *o = opt(d, s, key);
    *out = def;
    if (where) *where = o;
    if (!o) return true;
    errno = 0;
    char *e;
    double x = strtod(o->val, &e);
    if (!o->val[0] || *e || errno || !isfinite(x) || x < lo || x > hi) {
        diag_error(opt_loc(d, o), "%s: %s: expected a number from %g to %g, found '%s'", sec_name(s), key, lo, hi,
                   shown(o->val, 40));
        return false;
    }
    *out = x;
    return true;
}

/* Keys darknet reads for every layer or only when training: no effect here. */
static const char *const train_keys[] = {
    "truth", "onlyforward", "stopbackward", "dontsave", "learning_rate", "smooth", NULL,
};

/* Keys that change what is loaded: must be 0 (or absent). */
static const char *const load_keys[] = { "dontload", "numload", "dontloadscales", NULL };

/* Every key of s that nothing read, and is not a training key: an error. */
static bool check_unused(Dk *d, Sec *s, const char *const *ignored) {
    bool ok = true;
    for (int i = 0; load_keys[i]; i++) {
        Opt *o = opt(d, s, load_keys[i]);
        if (o && strcmp(o->val, "0") != 0) {
            diag_error(opt_loc(d, o), "%s: %s=%s is not supported: the importer reads the weights of every layer as "
                                      "the file holds them", sec_name(s), load_keys[i], shown(o->val, 20));
            ok = false;
        }
    }
    for (int i = 0; i < s->nopts; i++) {
        Opt *o = &s->opts[i];
        if (o->used) continue;
        bool known = false;
        for (int k = 0; train_keys[k] && !known; k++) known = strcmp(o->key, train_keys[k]) == 0;
        for (int k = 0; ignored && ignored[k] && !known; k++) known = strcmp(o->key, ignored[k]) == 0;
        if (known) continue;
        diag_error(opt_loc(d, o), "%s: unknown key '%s' (pjreddie's darknet has no such key for this layer; "
                                  "an importer that ignored it might change the layer)",
                   sec_name(s), shown(o->key, 40));
        ok = false;
    }
    return ok;
}

/* ---- nodes ------------------------------------------------------------------------ */

static const char *shape_text(Shp s) {
    return s.flat ? arena_printf("[%lld]", s.c) : arena_printf("%lld×%lld×%lld", s.c, s.h, s.w);
}

static long long numel(Shp s) { return s.c * s.h * s.w; }

/* A .net layer of section s (NULL: the input) reading in[0..nin). */
static int node(Dk *d, const Sec *s, const char *kind, const char *path, const char *args, Shp out, int nin,
                const int *in) {
    int id = imp_add(d->g, kind, path, args);
    if (id >= d->ncap) {
        int cap = d->ncap;
        d->shape = grow(d->shape, id, &cap, sizeof *d->shape);
        cap = d->ncap;
        d->scale = grow(d->scale, id, &cap, sizeof *d->scale);
        cap = d->ncap;
        d->homog = grow(d->homog, id, &cap, sizeof *d->homog);
        d->ncap = cap;
    }
    d->shape[id] = out;
    d->scale[id] = 1;
    d->homog[id] = true;
    ImpNode *n = &d->g->nodes[id];
    n->origin = s ? arena_printf("line %d %s", s->line, s->type) : "[net]";
    n->shape = shape_text(out);
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    return id;
}

static ImpTensor *tensor(Dk *d, int id, const char *suffix, int ndim, long long d0, long long d1, long long d2,
                         long long d3) {
    ImpNode *n = &d->g->nodes[id];
    ImpTensor *t = &n->t[n->nt++];
    t->suffix = suffix;
    t->ndim = ndim;
    long long dims[4] = { d0, d1, d2, d3 };
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    return t;
}

static bool out_ok(Dk *d, const Sec *s, Shp o) {
    if (o.c > CNNC_MAX_NUMEL || o.h > CNNC_MAX_NUMEL || o.w > CNNC_MAX_NUMEL ||
        (double)o.c * (double)o.h * (double)o.w > (double)CNNC_MAX_NUMEL) {
        diag_error(sec_loc(d, s), "%s: its output %lld×%lld×%lld has more than 2^40 values (the .net "
                                  "language's limit)", sec_name(s), o.c, o.h, o.w);
        return false;
    }
    return true;
}

/* ---- activations ------------------------------------------------------------------ */

typedef struct DkAct {
    const char *name;          /* darknet's */
    const char *kind;          /* the .net layer; NULL: linear */
    const char *args;          /* its parameters */
    double prescale;           /* the activation of prescale·x */
    bool homog;                /* f(a·x) = a·f(x) for a > 0 */
} DkAct;

static const DkAct dk_acts[] = {
    { "linear", NULL, "", 1, true },
    { "logistic", "sigmoid", "", 1, false },
    { "relu", "relu", "", 1, true },
    { "leaky", "leakyrelu", "0.1", 1, true },
    { "relie", "leakyrelu", "0.01", 1, true },
    { "ramp", "leakyrelu", "0.0909090909", 1.1, true },    /* x·[x>0] + 0.1x = leaky(1.1x, 1/11) */
    { "tanh", "tanh", "", 1, false },
    { "loggy", "tanh", "", 0.5, false },                   /* 2σ(x) − 1 = tanh(x/2) */
    { "elu", "elu", "", 1, false },
    { "selu", "selu", "", 1, false },
    { "hardtan", "hardtanh", "", 1, false },
    { "mish", "mish", "", 1, false },                      /* AlexeyAB's */
    { "swish", "silu", "", 1, false },                     /* AlexeyAB's */
};

/* s's activation= (default def); NULL after an error */
static const DkAct *get_act(Dk *d, Sec *s, const char *def, bool weighted) {
    Opt *o = opt(d, s, "activation");
    const char *name = o ? o->val : def;
    for (size_t i = 0; i < sizeof dk_acts / sizeof dk_acts[0]; i++) {
        if (strcmp(dk_acts[i].name, name) != 0) continue;
        if (dk_acts[i].prescale != 1 && !weighted) {
            diag_error(opt_loc(d, o), "%s: activation %s is %s of a scaled input, and only a conv or dense layer "
                                      "can scale its output: not supported here",
                       sec_name(s), name, dk_acts[i].kind);
            return NULL;
        }
        return &dk_acts[i];
    }
    const char *known = "";
    for (size_t i = 0; i < sizeof dk_acts / sizeof dk_acts[0]; i++)
        known = arena_printf("%s%s%s", known, i ? ", " : "", dk_acts[i].name);
    diag_error(o ? opt_loc(d, o) : sec_loc(d, s), "%s: activation '%s' has no equivalent in the .net language "
                                                 "(known: %s)", sec_name(s), shown(name, 40), known);
    return NULL;
}

/* The flags of an activation fused into a conv or dense: " leakyrelu slope=0.1". */
static const char *act_flags(const DkAct *a) {
    if (!a->kind) return "";
    if (strcmp(a->kind, "leakyrelu") == 0) return arena_printf(" leakyrelu slope=%s", a->args);
    return arena_printf(" %s", a->kind);
}

/* The activation as a layer after `from`, or from itself when linear. */
static int act_node(Dk *d, const Sec *s, const DkAct *a, int from, const char *darknet_name) {
    if (!a->kind) return from;
    int in[1] = { from };
    return node(d, s, a->kind, arena_printf("%s%d", darknet_name, s->index), a->args, d->shape[from], 1, in);
}

/* ---- layers ----------------------------------------------------------------------- */

typedef struct Layer {
    int out;                   /* node of its output, -1: none ([cost]) */
    Shp shape;
} Layer;

static void add_load(Dk *d, const Sec *s, int kind, int wnode, int bnnode, long long n, long long per) {
    d->loads = grow(d->loads, d->nloads, &d->lcap, sizeof *d->loads);
    d->loads[d->nloads++] = (Load){ s, kind, wnode, bnnode, n, per };
}

/* batchnorm bnI after node `from` (n channels or values), its four tensors */
static int bn_node(Dk *d, const Sec *s, int from) {
    int in[1] = { from };
    int id = node(d, s, "batchnorm", arena_printf("bn%d", s->index), "", d->shape[from], 1, in);
    long long n = d->shape[from].c;
    tensor(d, id, "weight", 1, n, 0, 0, 0);
    tensor(d, id, "bias", 1, n, 0, 0, 0);
    tensor(d, id, "running_mean", 1, n, 0, 0, 0);
    tensor(d, id, "running_var", 1, n, 0, 0, 0);
    return id;
}

/* [convolutional] */
static bool conv_layer(Dk *d, Sec *s, const Layer *prev, Layer *out) {
    long long f, k, st, groups;
    bool pad, bn, flag;
    long long padding;
    int e0 = diag_error_count();
    get_int(d, s, "filters", 1, 1, DK_MAX_INT, &f);
    get_int(d, s, "size", 1, 1, DK_MAX_INT, &k);
    get_int(d, s, "stride", 1, 1, DK_MAX_INT, &st);
    get_flag(d, s, "pad", &pad);
    get_int(d, s, "padding", 0, 0, DK_MAX_INT, &padding);
    get_int(d, s, "groups", 1, 1, DK_MAX_INT, &groups);
    get_flag(d, s, "batch_normalize", &bn);
    const char *zero_keys[] = { "binary", "xnor", "flipped" };
    for (int i = 0; i < 3; i++) {
        Opt *o = opt(d, s, zero_keys[i]);
        if (get_flag(d, s, zero_keys[i], &flag) && flag)
            diag_error(opt_loc(d, o), "%s: %s=1 is not supported by the importer", sec_name(s), zero_keys[i]);
    }
    const DkAct *a = get_act(d, s, "logistic", true);
    static const char *const ignored[] = { "dot", NULL };
    check_unused(d, s, ignored);
    if (diag_error_count() != e0 || !a) return false;
    Shp in = prev->shape;
    if (in.flat) {
        diag_error(sec_loc(d, s), "%s: its input is a vector of %lld values (a [connected] layer's), not an image",
                   sec_name(s), in.c);
        return false;
    }
    if (pad) padding = k / 2;
    if (in.c % groups || f % groups) {
        diag_error(sec_loc(d, s), "%s: groups=%lld must divide its %lld input channels and its %lld filters",
                   sec_name(s), groups, in.c, f);
        return false;
    }
    if (in.h + 2 * padding < k || in.w + 2 * padding < k) {
        diag_error(sec_loc(d, s), "%s: size=%lld is larger than its input %lld×%lld with padding %lld",
                   sec_name(s), k, in.h, in.w, padding);
        return false;
    }
    Shp o = { f, (in.h + 2 * padding - k) / st + 1, (in.w + 2 * padding - k) / st + 1, false };
    if (!out_ok(d, s, o)) return false;
    if ((double)f * (double)(in.c / groups) * (double)k * (double)k > (double)CNNC_MAX_NUMEL) {
        diag_error(sec_loc(d, s), "%s: more than 2^40 weights", sec_name(s));
        return false;
    }
    const char *args = arena_printf("%lld k%lld", f, k);
    if (st != 1) args = arena_printf("%s s%lld", args, st);
    if (padding) args = arena_printf("%s p%lld", args, padding);
    if (groups != 1) args = arena_printf("%s g%lld", args, groups);
    if (bn) args = arena_printf("%s nobias", args);
    else args = arena_printf("%s%s", args, act_flags(a));
    int id = node(d, s, "conv", arena_printf("conv%d", s->index), args, o, 1, &prev->out);
    tensor(d, id, "weight", 4, f, in.c / groups, k, k);
    int pre = id, bnid = -1;
    if (bn) {
        pre = bnid = bn_node(d, s, id);
    } else {
        tensor(d, id, "bias", 1, f, 0, 0, 0);
    }
    d->scale[pre] = a->prescale;
    d->homog[pre] = bn || a->homog;
    add_load(d, s, LD_CONV, id, bnid, f, (in.c / groups) * k * k);
    out->out = bn ? act_node(d, s, a, bnid, a->name) : id;
    out->shape = o;
    return true;
}

/* [connected] */
static bool fc_layer(Dk *d, Sec *s, const Layer *prev, Layer *out) {
    long long n;
    bool bn;
    int e0 = diag_error_count();
    get_int(d, s, "output", 1, 1, DK_MAX_INT, &n);
    get_flag(d, s, "batch_normalize", &bn);
    const DkAct *a = get_act(d, s, "logistic", true);
    check_unused(d, s, NULL);
    if (diag_error_count() != e0 || !a) return false;
    long long inputs = numel(prev->shape);
    if ((double)n * (double)inputs > (double)CNNC_MAX_NUMEL) {
        diag_error(sec_loc(d, s), "%s: %lld×%lld weights, more than 2^40", sec_name(s), n, inputs);
        return false;
    }
    int from = prev->out;
    if (!prev->shape.flat) {
        Shp v = { inputs, 1, 1, true };
        from = node(d, s, "flatten", arena_printf("flatten%d", s->index), "", v, 1, &from);
    }
    Shp o = { n, 1, 1, true };
    const char *args = arena_printf("%lld%s", n, bn ? " nobias" : act_flags(a));
    int id = node(d, s, "dense", arena_printf("fc%d", s->index), args, o, 1, &from);
    tensor(d, id, "weight", 2, n, inputs, 0, 0);
    int pre = id, bnid = -1;
    if (bn) pre = bnid = bn_node(d, s, id);
    else tensor(d, id, "bias", 1, n, 0, 0, 0);
    d->scale[pre] = a->prescale;
    d->homog[pre] = bn || a->homog;
    add_load(d, s, LD_FC, id, bnid, n, inputs);
    out->out = bn ? act_node(d, s, a, bnid, a->name) : id;
    out->shape = o;
    return true;
}

/* PyTorch's output length of a max pool with symmetric padding p, or 0 */
static long long torch_pool(long long len, long long k, long long st, long long p, bool ceil_mode) {
    if (2 * p > k) return 0;           /* PyTorch's limit: padding at most half the kernel */
    return cnnrt_out_size(len, p, p, k, st, 1, ceil_mode);
}

/* [maxpool] */
static bool maxpool_layer(Dk *d, Sec *s, const Layer *prev, Layer *out) {
    long long st, k, padding;
    int e0 = diag_error_count();
    get_int(d, s, "stride", 1, 1, DK_MAX_INT, &st);
    get_int(d, s, "size", st, 1, DK_MAX_INT, &k);
    get_int(d, s, "padding", k - 1, 0, DK_MAX_INT, &padding);
    check_unused(d, s, NULL);
    if (diag_error_count() != e0) return false;
    Shp in = prev->shape;
    if (in.flat) {
        diag_error(sec_loc(d, s), "%s: its input is a vector of %lld values, not an image", sec_name(s), in.c);
        return false;
    }
    if (in.h + padding < k || in.w + padding < k) {
        diag_error(sec_loc(d, s), "%s: size=%lld is larger than its input %lld×%lld with padding=%lld",
                   sec_name(s), k, in.h, in.w, padding);
        return false;
    }
    long long lo = padding / 2, hi = padding - lo;
    Shp o = { in.c, (in.h + padding - k) / st + 1, (in.w + padding - k) / st + 1, false };
    /* darknet's windows start at -lo + i·st; one wholly in the padding gives -FLT_MAX */
    if (lo > k - 1 || (o.h - 1) * st - lo > in.h - 1 || (o.w - 1) * st - lo > in.w - 1) {
        diag_error(sec_loc(d, s), "%s: with padding=%lld (%lld before, %lld after) a window of size %lld lies "
                                  "wholly in the padding, where darknet outputs -FLT_MAX: not supported",
                   sec_name(s), padding, lo, hi, k);
        return false;
    }
    const char *args = st == k ? arena_printf("k%lld", k) : arena_printf("k%lld s%lld", k, st);
    int from = prev->out;
    bool floor_ok = torch_pool(in.h, k, st, lo, false) == o.h && torch_pool(in.w, k, st, lo, false) == o.w;
    bool ceil_ok = torch_pool(in.h, k, st, lo, true) == o.h && torch_pool(in.w, k, st, lo, true) == o.w;
    if (floor_ok || ceil_ok) {
        if (lo) args = arena_printf("%s p%lld", args, lo);
        if (!floor_ok) args = arena_printf("%s ceil", args);
    } else {
        /* replicate: the edge value again, the same maximum as -inf where
         * every window reaches into the input (checked above) */
        Shp p = { in.c, in.h + padding, in.w + padding, false };
        if (!out_ok(d, s, p)) return false;
        const char *pa = "";
        if (lo) pa = arena_printf("top=%lld left=%lld ", lo, lo);
        if (hi) pa = arena_printf("%sbottom=%lld right=%lld ", pa, hi, hi);
        from = node(d, s, "pad", arena_printf("pad%d", s->index), arena_printf("%sreplicate", pa), p, 1, &from);
    }
    out->out = node(d, s, "maxpool", arena_printf("pool%d", s->index), args, o, 1, &from);
    out->shape = o;
    return true;
}

/* the layer a route or shortcut names: index (negative: relative to i) */
static int layer_ref(Dk *d, const Sec *s, const Opt *o, long long x, const Layer *layers) {
    long long j = x < 0 ? s->index + x : x;
    if (j < 0 || j >= s->index) {
        diag_error(opt_loc(d, o), "%s: layer %lld%s does not exist before this one (layer %d; expected 0 to %d, "
                                  "or -1 to -%d)", sec_name(s), j, x < 0 ? arena_printf(" (%lld)", x) : "",
                   s->index, s->index - 1, s->index);
        return -1;
    }
    if (layers[j].out < 0) {
        diag_error(opt_loc(d, o), "%s: layer %lld is a [cost] layer, which has no output", sec_name(s), j);
        return -1;
    }
    return (int)j;
}

/* [route] */
static bool route_layer(Dk *d, Sec *s, const Layer *layers, Layer *out) {
    Opt *o = opt(d, s, "layers");
    bool ok = check_unused(d, s, NULL);
    if (!o) {
        diag_error(sec_loc(d, s), "%s: expected layers=, the layer or layers it reads", sec_name(s));
        return false;
    }
    if (!ok) return false;
    int refs[16], n = 0;
    for (const char *p = o->val;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        long long x;
        if (!parse_ll(arena_strndup(p, len), &x) || x < -DK_MAX_INT || x > DK_MAX_INT) {
            diag_error(opt_loc(d, o), "%s: layers: expected layer numbers separated by commas, found '%s'",
                       sec_name(s), shown(o->val, 60));
            return false;
        }
        if (n == 16) {
            diag_error(opt_loc(d, o), "%s: layers: more than 16 layers (a .net layer reads at most 16)",
                       sec_name(s));
            return false;
        }
        int j = layer_ref(d, s, o, x, layers);
        if (j < 0) return false;
        refs[n++] = j;
        if (!c) break;
        p = c + 1;
    }
    Shp first = layers[refs[0]].shape;
    if (n == 1) {
        out->out = layers[refs[0]].out;
        out->shape = first;
        return true;
    }
    Shp o2 = first;
    int in[16];
    for (int i = 0; i < n; i++) {
        Shp x = layers[refs[i]].shape;
        if (x.flat || x.h != first.h || x.w != first.w) {
            diag_error(opt_loc(d, o), "%s: layer %d is %s and layer %d %s: a concatenation needs images of the "
                                      "same height and width", sec_name(s), refs[0], shape_text(first), refs[i],
                       shape_text(x));
            return false;
        }
        if (i) o2.c += x.c;
        in[i] = layers[refs[i]].out;
    }
    if (!out_ok(d, s, o2)) return false;
    out->out = node(d, s, "concat", arena_printf("cat%d", s->index), "", o2, n, in);
    out->shape = o2;
    return true;
}

/* [shortcut] */
static bool shortcut_layer(Dk *d, Sec *s, const Layer *layers, Layer *out) {
    Opt *o = opt(d, s, "from");
    double alpha, beta;
    int e0 = diag_error_count();
    get_num(d, s, "alpha", 1, -1e30, 1e30, &alpha, NULL);
    get_num(d, s, "beta", 1, -1e30, 1e30, &beta, NULL);
    const DkAct *a = get_act(d, s, "linear", false);
    check_unused(d, s, NULL);
    if (!o) diag_error(sec_loc(d, s), "%s: expected from=, the layer it adds", sec_name(s));
    if (diag_error_count() != e0 || !a) return false;
    if (alpha != 1 || beta != 1) {
        diag_error(sec_loc(d, s), "%s: alpha=%g beta=%g: only a plain sum (1, 1) is supported", sec_name(s), alpha,
                   beta);
        return false;
    }
    long long x;
    if (!parse_ll(o->val, &x) || x < -DK_MAX_INT || x > DK_MAX_INT) {
        diag_error(opt_loc(d, o), "%s: from: expected a layer number, found '%s'", sec_name(s), shown(o->val, 40));
        return false;
    }
    int j = layer_ref(d, s, o, x, layers);
    if (j < 0) return false;
    const Layer *prev = &layers[s->index - 1], *from = &layers[j];
    Shp p = prev->shape, f = from->shape;
    int fnode = from->out;
    if (p.flat || f.flat) {
        if (p.flat != f.flat || p.c != f.c) {
            diag_error(opt_loc(d, o), "%s: layer %d is %s, its input %s: a sum needs the same shape", sec_name(s),
                       j, shape_text(f), shape_text(p));
            return false;
        }
    } else if (p.c != f.c || p.h != f.h || p.w != f.w) {
        /* darknet: out[k][y·sample][x·sample] += from[k][y·stride][x·stride], k < min(C) */
        long long stride = f.w / p.w, sh = f.h / p.h;
        if (stride < 1 || sh != stride || (f.w - 1) / stride + 1 != p.w || (f.h - 1) / stride + 1 != p.h) {
            diag_error(opt_loc(d, o), "%s: layer %d is %s and its input %s: darknet would add it %s; only a "
                                      "subsampling by a whole stride is supported",
                       sec_name(s), j, shape_text(f), shape_text(p),
                       stride < 1 ? "spread over a larger image" : "with a stride that leaves rows or columns over");
            return false;
        }
        Shp q = { p.c, p.h, p.w, false };
        const char *path = arena_printf("sc%d", s->index);
        if (p.c == f.c) {
            fnode = node(d, s, "maxpool", path, arena_printf("k1 s%lld", stride), q, 1, &fnode);
        } else {
            const char *args = stride == 1 ? arena_printf("%lld k1 nobias", p.c)
                                           : arena_printf("%lld k1 s%lld nobias", p.c, stride);
            if ((double)p.c * (double)f.c > (double)(1LL << 28)) {
                diag_error(opt_loc(d, o), "%s: the projection from layer %d (%lld channels) to %lld channels would "
                                          "need more than 2^28 weights", sec_name(s), j, f.c, p.c);
                return false;
            }
            fnode = node(d, s, "conv", path, args, q, 1, &fnode);
            ImpTensor *t = tensor(d, fnode, "weight", 4, p.c, f.c, 1, 1);
            if (d->weights) {
                t->data = arena_alloc(sizeof(float) * (size_t)(p.c * f.c));
                for (long long k = 0; k < p.c && k < f.c; k++) t->data[k * f.c + k] = 1;
            }
        }
    }
    int in[2] = { prev->out, fnode };
    int id = node(d, s, "add", arena_printf("add%d", s->index), "", p, 2, in);
    out->out = act_node(d, s, a, id, a->name);
    out->shape = p;
    return true;
}

/* [softmax] */
static bool softmax_layer(Dk *d, Sec *s, const Layer *prev, Layer *out) {
    long long groups;
    bool spatial;
    double t;
    Opt *to;
    int e0 = diag_error_count();
    get_int(d, s, "groups", 1, 1, DK_MAX_INT, &groups);
    get_flag(d, s, "spatial", &spatial);
    get_num(d, s, "temperature", 1, 1e-30, 1e30, &t, &to);
    Opt *tree = opt(d, s, "tree");
    static const char *const ignored[] = { "noloss", NULL };
    check_unused(d, s, ignored);
    if (diag_error_count() != e0) return false;
    if (groups != 1 || spatial || tree) {
        diag_error(tree ? opt_loc(d, tree) : sec_loc(d, s), "%s: %s is not supported (a softmax over all its input "
                                                           "is)", sec_name(s),
                   tree ? "a hierarchical softmax (tree=)" : spatial ? "spatial=1" : "groups other than 1");
        return false;
    }
    int from = prev->out;
    Shp o = prev->shape;
    if (!o.flat && o.h * o.w != 1) {
        o = (Shp){ numel(o), 1, 1, true };
        from = node(d, s, "flatten", arena_printf("flatten%d", s->index), "", o, 1, &from);
    }
    if (t != 1) {
        d->temps = grow(d->temps, d->ntemps, &d->tcap, sizeof *d->temps);
        d->temps[d->ntemps++] = (Temp){ s, to, from, t };
    }
    out->out = node(d, s, "softmax", arena_printf("softmax%d", s->index), "", o, 1, &from);
    out->shape = o;
    return true;
}

/* [crop], the first layer: the input becomes the crop */
static bool crop_layer(Dk *d, Sec *s, Layer *out) {
    long long ch, cw;
    bool noadjust;
    int e0 = diag_error_count();
    get_int(d, s, "crop_height", 1, 1, DK_MAX_INT, &ch);
    get_int(d, s, "crop_width", 1, 1, DK_MAX_INT, &cw);
    get_flag(d, s, "noadjust", &noadjust);
    static const char *const ignored[] = { "flip", "angle", "saturation", "exposure", "shift", NULL };
    check_unused(d, s, ignored);
    if (diag_error_count() != e0) return false;
    Shp in = d->shape[0];
    if (s->index != 0) {
        diag_error(sec_loc(d, s), "%s: only a crop of the input (the first layer) is supported", sec_name(s));
        return false;
    }
    if (ch > in.h || cw > in.w) {
        diag_error(sec_loc(d, s), "%s: the crop %lld×%lld is larger than the input %lld×%lld", sec_name(s), ch, cw,
                   in.h, in.w);
        return false;
    }
    Shp c = { in.c, ch, cw, false };
    d->shape[0] = c;
    d->g->nodes[0].args = arena_printf("%lldx%lldx%lld", c.c, ch, cw);
    d->g->nodes[0].shape = shape_text(c);
    d->g->nodes[0].origin = arena_printf("[net], cropped by line %d %s", s->line, s->type);
    out->out = 0;
    out->shape = c;
    if (noadjust) return true;
    int id = node(d, s, "conv", arena_printf("crop%d", s->index), arena_printf("%lld k1 g%lld", c.c, c.c), c, 1,
                  &out->out);
    ImpTensor *w = tensor(d, id, "weight", 4, c.c, 1, 1, 1), *b = tensor(d, id, "bias", 1, c.c, 0, 0, 0);
    if (d->weights) {
        w->data = arena_alloc(sizeof(float) * (size_t)c.c);
        b->data = arena_alloc(sizeof(float) * (size_t)c.c);
        for (long long i = 0; i < c.c; i++) w->data[i] = 2, b->data[i] = -1;
    }
    out->out = id;
    return true;
}

/* [net]: the input */
static bool net_section(Dk *d, Sec *s) {
    long long w, h, c;
    int e0 = diag_error_count();
    get_int(d, s, "width", 0, 0, DK_MAX_INT, &w);
    get_int(d, s, "height", 0, 0, DK_MAX_INT, &h);
    get_int(d, s, "channels", 0, 0, DK_MAX_INT, &c);
    if (diag_error_count() != e0) return false;
    if (!w || !h || !c) {
        diag_error(sec_loc(d, s), "%s: expected width=, height= and channels= (an image input), found %s%s%s",
                   sec_name(s), w ? "" : "no width ", h ? "" : "no height ", c ? "" : "no channels");
        return false;
    }
    Shp in = { c, h, w, false };
    if (!out_ok(d, s, in)) return false;
    node(d, NULL, "input", NULL, arena_printf("%lldx%lldx%lld", c, h, w), in, 0, NULL);
    d->g->nodes[0].origin = arena_printf("line %d %s", s->line, s->type);
    return true;
}

static bool is(const Sec *s, const char *a, const char *b) {
    return strcmp(s->type, a) == 0 || (b && strcmp(s->type, b) == 0);
}

/* One layer section; false after an error (then the rest is not built). */
static bool layer(Dk *d, Sec *s, Layer *layers) {
    Layer *out = &layers[s->index];
    const Layer *prev = s->index ? &layers[s->index - 1] : &(Layer){ 0, d->shape[0] };
    if (is(s, "[convolutional]", "[conv]")) return conv_layer(d, s, prev, out);
    if (is(s, "[connected]", "[conn]")) return fc_layer(d, s, prev, out);
    if (is(s, "[maxpool]", "[max]")) return maxpool_layer(d, s, prev, out);
    if (is(s, "[route]", NULL)) return route_layer(d, s, layers, out);
    if (is(s, "[shortcut]", NULL)) return shortcut_layer(d, s, layers, out);
    if (is(s, "[softmax]", "[soft]")) return softmax_layer(d, s, prev, out);
    if (is(s, "[crop]", NULL)) return crop_layer(d, s, out);
    if (is(s, "[avgpool]", "[avg]")) {
        if (!check_unused(d, s, NULL)) return false;
        if (prev->shape.flat) {
            diag_error(sec_loc(d, s), "%s: its input is a vector, not an image", sec_name(s));
            return false;
        }
        Shp o = { prev->shape.c, 1, 1, false };
        out->out = node(d, s, "globalavgpool", arena_printf("pool%d", s->index), "", o, 1, &prev->out);
        out->shape = o;
        return true;
    }
    if (is(s, "[dropout]", NULL)) {
        double p;
        int e0 = diag_error_count();
        get_num(d, s, "probability", 0.5, 0, 0.999999, &p, NULL);
        check_unused(d, s, NULL);
        if (diag_error_count() != e0) return false;
        out->out = node(d, s, "dropout", arena_printf("drop%d", s->index), arena_printf("%g", p), prev->shape, 1,
                        &prev->out);
        out->shape = prev->shape;
        return true;
    }
    if (is(s, "[batchnorm]", NULL)) {
        if (!check_unused(d, s, NULL)) return false;
        int id = bn_node(d, s, prev->out);
        add_load(d, s, LD_BN, -1, id, prev->shape.c, 0);
        out->out = id;
        out->shape = prev->shape;
        return true;
    }
    if (is(s, "[activation]", NULL)) {
        const DkAct *a = get_act(d, s, "linear", false);
        if (!check_unused(d, s, NULL) || !a) return false;
        out->out = act_node(d, s, a, prev->out, a->name);
        out->shape = prev->shape;
        return true;
    }
    if (is(s, "[cost]", NULL)) {
        static const char *const ignored[] = { "type", "scale", "ratio", "noobj", "thresh", NULL };
        if (!check_unused(d, s, ignored)) return false;
        out->out = -1;
        out->shape = prev->shape;
        return true;
    }
    if (is(s, "[net]", "[network]")) {
        diag_error(sec_loc(d, s), "a second %s section: expected one, first", sec_name(s));
        return false;
    }
    diag_error(sec_loc(d, s), "layer %s is not supported (a classifier's layers are: [convolutional], "
                              "[connected], [maxpool], [avgpool], [route], [shortcut], [dropout], [softmax], "
                              "[batchnorm], [activation], [crop], [cost])", shown(s->type, 40));
    return false;
}

/* softmax temperature: 1/T into the weighted layer before the softmax */
static bool fold_temperatures(Dk *d) {
    ImpGraph *g = d->g;
    int *readers = arena_alloc(sizeof(int) * (size_t)g->n);
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) readers[g->nodes[i].in[k]]++;
    readers[g->output]++;
    bool ok = true;
    static const char *const through[] = { "globalavgpool", "maxpool", "pad", "flatten", "dropout", "relu",
                                           "leakyrelu", NULL };
    for (int t = 0; t < d->ntemps; t++) {
        const Temp *tp = &d->temps[t];
        int v = tp->node;
        const char *why = NULL;
        for (;;) {
            const ImpNode *n = &g->nodes[v];
            const char *name = n->path ? n->path : "input";
            if (readers[v] != 1) { why = arena_printf("%s '%s' is also read elsewhere", n->kind, name); break; }
            bool pass = false;
            for (int k = 0; through[k] && !pass; k++) pass = strcmp(n->kind, through[k]) == 0;
            if (pass) { v = n->in[0]; continue; }
            if (n->nt == 0 || !d->homog[v] ||
                (strcmp(n->kind, "conv") && strcmp(n->kind, "dense") && strcmp(n->kind, "batchnorm")))
                why = arena_printf("%s '%s' is not a conv, dense or batchnorm layer whose output can be scaled",
                                   n->kind, name);
            break;
        }
        if (why) {
            diag_error(opt_loc(d, tp->o), "%s: temperature=%g: the .net language's softmax has none, and it cannot "
                                          "be folded into the layer before: %s", sec_name(tp->s), tp->t, why);
            ok = false;
            continue;
        }
        d->scale[v] /= tp->t;
    }
    return ok;
}

/* ---- the weights file ------------------------------------------------------------------ */

typedef struct WFile {
    const char *path;
    FILE *f;
    long long size, pos;
    bool transpose;
} WFile;

/* count floats (little-endian) into a new array; NULL after an error */
static float *read_floats(WFile *w, const Load *l, long long count, const char *what) {
    long long bytes = count * 4;
    if (w->size - w->pos < bytes) {
        diag_file_error(w->path, "too short: layer %d (line %d %s) needs %lld bytes more for its %s (%lld floats) "
                                 "at offset %lld, the file has %lld; are these the weights of this cfg?",
                        l->s->index, l->s->line, l->s->type, bytes, what, count, w->pos, w->size - w->pos);
        return NULL;
    }
    float *out = arena_alloc(sizeof(float) * (size_t)count);
    unsigned char buf[4096];
    for (long long i = 0; i < count;) {
        long long n = count - i < 1024 ? count - i : 1024;
        if (fread(buf, 4, (size_t)n, w->f) != (size_t)n) {
            diag_file_error(w->path, "read error at offset %lld: %s", w->pos, strerror(errno));
            return NULL;
        }
        for (long long j = 0; j < n; j++) {
            uint32_t u = (uint32_t)buf[4 * j] | (uint32_t)buf[4 * j + 1] << 8 | (uint32_t)buf[4 * j + 2] << 16 |
                         (uint32_t)buf[4 * j + 3] << 24;
            memcpy(&out[i + j], &u, 4);
        }
        i += n;
        w->pos += 4 * n;
    }
    return out;
}

static bool read_header(WFile *w) {
    unsigned char h[20];
    if (w->size < 16 || fread(h, 1, 12, w->f) != 12) {
        diag_file_error(w->path, "expected darknet's header (major, minor, revision, seen: 16 or 20 bytes), "
                                 "found a file of %lld bytes", w->size);
        return false;
    }
    int32_t v[3];
    for (int i = 0; i < 3; i++)
        v[i] = (int32_t)((uint32_t)h[4 * i] | (uint32_t)h[4 * i + 1] << 8 | (uint32_t)h[4 * i + 2] << 16 |
                         (uint32_t)h[4 * i + 3] << 24);
    long long major = v[0], minor = v[1];
    int seen = major * 10 + minor >= 2 && major < 1000 && minor < 1000 ? 8 : 4;
    if (w->size < 12 + seen || fread(h, 1, (size_t)seen, w->f) != (size_t)seen) {
        diag_file_error(w->path, "expected darknet's header: version %lld.%lld has a %d-byte 'seen' count, the "
                                 "file ends before it", major, minor, seen);
        return false;
    }
    w->pos = 12 + seen;
    w->transpose = major > 1000 || minor > 1000;
    return true;
}

/* darknet's scales as PyTorch's batchnorm weight (see the top) */
static void bn_tensors(ImpNode *bn, float *scales, float *mean, float *var, float *bias, double scale) {
    for (long long i = 0; i < bn->t[0].dims[0]; i++) {
        double v = var[i];
        scales[i] = (float)((double)scales[i] * sqrt(v + 1e-5) / (sqrt(v) + 1e-6) * scale);
        bias[i] = (float)((double)bias[i] * scale);
    }
    bn->t[0].data = scales;
    bn->t[1].data = bias;
    bn->t[2].data = mean;
    bn->t[3].data = var;
}

static bool load_one(Dk *d, WFile *w, const Load *l) {
    ImpGraph *g = d->g;
    long long n = l->n;
    if (l->kind == LD_BN) {
        float *sc = read_floats(w, l, n, "scales"), *mean = sc ? read_floats(w, l, n, "rolling means") : NULL;
        float *var = mean ? read_floats(w, l, n, "rolling variances") : NULL;
        if (!var) return false;
        bn_tensors(&g->nodes[l->bnnode], sc, mean, var, arena_alloc(sizeof(float) * (size_t)n), d->scale[l->bnnode]);
        return true;
    }
    float *bias = read_floats(w, l, n, "biases"), *sc = NULL, *mean = NULL, *var = NULL, *wt = NULL;
    if (!bias) return false;
    bool bn = l->bnnode >= 0;
    if (l->kind == LD_CONV && bn) {
        if (!(sc = read_floats(w, l, n, "scales")) || !(mean = read_floats(w, l, n, "rolling means")) ||
            !(var = read_floats(w, l, n, "rolling variances")))
            return false;
    }
    if (!(wt = read_floats(w, l, n * l->per, "weights"))) return false;
    if (l->kind == LD_FC && w->transpose) {        /* stored [in][out] */
        float *t = arena_alloc(sizeof(float) * (size_t)(n * l->per));
        for (long long i = 0; i < l->per; i++)
            for (long long o = 0; o < n; o++) t[o * l->per + i] = wt[i * n + o];
        wt = t;
    }
    if (l->kind == LD_FC && bn) {
        if (!(sc = read_floats(w, l, n, "scales")) || !(mean = read_floats(w, l, n, "rolling means")) ||
            !(var = read_floats(w, l, n, "rolling variances")))
            return false;
    }
    ImpNode *wn = &g->nodes[l->wnode];
    wn->t[0].data = wt;
    if (bn) {
        bn_tensors(&g->nodes[l->bnnode], sc, mean, var, bias, d->scale[l->bnnode]);
    } else {
        double s = d->scale[l->wnode];
        if (s != 1) {
            for (long long i = 0; i < n * l->per; i++) wt[i] = (float)(wt[i] * s);
            for (long long i = 0; i < n; i++) bias[i] = (float)(bias[i] * s);
        }
        wn->t[1].data = bias;
    }
    return true;
}

static bool load_weights(Dk *d, const char *path) {
    WFile w = { path, fopen(path, "rb"), 0, 0, false };
    if (!w.f) {
        diag_file_error(path, "cannot open: %s", strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(w.f), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_file_error(path, "not a regular file: expected darknet's .weights");
        fclose(w.f);
        return false;
    }
    w.size = (long long)st.st_size;
    bool ok = read_header(&w);
    for (int i = 0; ok && i < d->nloads; i++) ok = load_one(d, &w, &d->loads[i]);
    if (ok && w.pos != w.size) {
        const Load *last = d->nloads ? &d->loads[d->nloads - 1] : NULL;
        long long left = w.size - w.pos;
        diag_file_error(path, "%lld bytes (%s) left over after the weights of %s: are these the weights of this "
                              "cfg?", left, left % 4 ? "not a whole float" : left == 4 ? "1 float"
                                                                                    : arena_printf("%lld floats", left / 4),
                        last ? arena_printf("the last layer that has any (layer %d, line %d %s)", last->s->index,
                                            last->s->line, last->s->type)
                             : "the header (this cfg has no layer with weights)");
        ok = false;
    }
    fclose(w.f);
    return ok;
}

/* ---- the front end -------------------------------------------------------------------- */

int import_darknet(const char *cfg, const char *weights, ImpGraph *g) {
    Dk d = { .cfg = cfg, .g = g, .weights = weights != NULL, .errors0 = diag_error_count() };
    d.src = source_load(cfg, (Loc){ 0 }, false);
    if (!d.src) return diag_error_count() - d.errors0 ? diag_error_count() - d.errors0 : 1;
    if (!g->source) g->source = cfg;
    if (!g->name) g->name = "darknet";
    if (!read_cfg(&d) || diag_error_count() != d.errors0) return diag_error_count() - d.errors0;
    if (d.nsecs == 0 || !is(&d.secs[0], "[net]", "[network]")) {
        diag_error(d.nsecs ? sec_loc(&d, &d.secs[0]) : loc_none(d.src), "expected '[net]' first, found %s",
                   d.nsecs ? shown(d.secs[0].type, 40) : "no section");
        return diag_error_count() - d.errors0;
    }
    if (!net_section(&d, &d.secs[0])) return diag_error_count() - d.errors0;
    int nl = d.nsecs - 1;
    if (nl == 0) {
        diag_error(sec_loc(&d, &d.secs[0]), "no layers after %s", d.secs[0].type);
        return diag_error_count() - d.errors0;
    }
    Layer *layers = arena_alloc(sizeof *layers * (size_t)nl);
    int last = -1;
    for (int i = 0; i < nl; i++) {
        Sec *s = &d.secs[i + 1];
        /* in darknet, a layer after a [cost] would read the cost's (zero) output */
        if (i > 0 && layers[i - 1].out < 0 && !is(s, "[cost]", NULL)) {
            diag_error(sec_loc(&d, s), "%s after a [cost] layer: expected [cost] to be last", sec_name(s));
            return diag_error_count() - d.errors0;
        }
        if (!layer(&d, s, layers)) return diag_error_count() - d.errors0;
        if (layers[i].out >= 0) last = i;
    }
    if (last < 0 || layers[last].out == 0) {
        diag_error(sec_loc(&d, &d.secs[0]), "the network computes nothing: no layer before its [cost] has an output");
        return diag_error_count() - d.errors0;
    }
    g->output = layers[last].out;
    if (!fold_temperatures(&d)) return diag_error_count() - d.errors0;
    if (weights && !load_weights(&d, weights)) return diag_error_count() - d.errors0;
    return diag_error_count() - d.errors0;
}
