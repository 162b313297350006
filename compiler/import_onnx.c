/*
 * import_onnx.c — an ONNX model (as torch.onnx.export writes it) as an
 * ImpGraph of .net layers (import.h).
 *
 * The file is decoded by protobuf-c with the C that protoc-c generates at
 * build time from the onnx.proto Debian's libonnx-dev installs (the
 * Makefile's $(B)/import/onnx.pb-c.c).  Initializers are float32 tensors,
 * inline (raw_data or float_data) or in a side file (data_location
 * EXTERNAL: location, offset, length, relative to the model's folder).
 * The input is an image [N, C, H, W], a signal [N, C, L], held as C×1×L
 * (Val.rank 2), or a volume [N, C, D, H, W] (Val.rank 4): convs and pools
 * read their attributes into [D, H, W] (attr_sp, attr_pads3: the axes the
 * value has not are 1) and write one size per axis the value has
 * (sizes3); a transposed conv, padding or upsampling of a volume is an
 * error (the language has none).  F.avg_pool3d's padding, a Pad of zeros
 * before the AveragePool, is the pool's (pool_pad: ZPADDED).
 *
 * Every node is checked before anything is written: an operator or an
 * attribute the language cannot express is an error naming the node, its
 * operator, its inputs' shapes and the file, and all such nodes are listed.
 *
 * The exporter's shape arithmetic (Shape, Gather, Slice, Concat, Reshape,
 * Unsqueeze, Squeeze, Transpose, ConstantOfShape, Add/Sub/Mul/Div, Cast of
 * constants; F.pad's pads, F.interpolate's sizes, a view's shape) is
 * evaluated: the Shape of a layer's value is known ([1, C, H, W]).  The
 * Constant nodes are read first, so that a pattern can look ahead.  The
 * layers beyond one operator each:
 *   - ConvTranspose (symmetric pads, output_padding < stride) → convtranspose;
 *   - Resize (opset 10: X, scales; 11 on: X, roi, scales, sizes) and Upsample
 *     (opset 9) → upsample: nearest with coordinate_transformation_mode
 *     asymmetric and nearest_mode floor (what PyTorch writes), linear with
 *     half_pixel or pytorch_half_pixel (align_corners=False) or
 *     align_corners; whole scales or sizes of H and W.  Opset 9's linear
 *     Upsample (asymmetric coordinates) and cubic are errors;
 *   - PRelu, its slope a constant of 1 or C values (behind Unsqueeze) → prelu;
 *   - Split of the channels into equal parts, and a Slice of the channels
 *     that is one of equal parts (torch.chunk) → split;
 *   - Reshape [N, g, C/g, H, W], Transpose [0, 2, 1, 3, 4], Reshape
 *     [N, C, H, W] → shuffle g (the value in between is GROUPED: only the
 *     next step may read it);
 *   - Div(x, √2), Erf, Add 1, Mul x, Mul ½ → gelu (read ahead from the Div);
 *     Mul(x, x), Mul x, Mul 0.044715, Add x, Mul √(2/π), Tanh, Add 1, Mul x,
 *     Mul ½ → gelu_tanh; Sigmoid, Mul x → silu; Softplus, Tanh, Mul x → mish;
 *     Mul β, Softplus, Div β → softplus β (steps_after: each step the sole
 *     reader of the one before);
 *   - Add of Add ... of k values, then Div by k → a mean of the k values.
 *
 * Names: a node's scope comes from its name as PyTorch's exporter writes
 * it, "/layer1/layer1.0/conv1/Conv": the components but the last (the
 * operator) are module names, each the next attribute (conv1), the whole
 * path so far ("layer1.0" after "layer1"), or the previous component's
 * child ("shortcut.0" after ".../shortcut"), joined to layer1.0.conv1.
 */
#include "cnnc.h"
#include "import.h"
#include "onnx.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POISON (-2)           /* Val.node of an output whose node was in error */
#define GROUPED (-3)          /* Val.node of a layer's value viewed as [g][C/g][H][W] (a shuffle's first step) */
#define ZPADDED (-4)          /* Val.node of a volume padded with zeros for the AveragePool that reads it */

/* A value of the graph: the layer that computes it (an ImpGraph node), or
 * a constant (an initializer or a Constant node's tensor). */
typedef struct Val {
    const char *name;
    int node;                  /* -1: a constant */
    int rank;                  /* without the batch: 1 [c], 3 [c][h][w] (2: [c][l] held as c×1×l; 4: [c][d][h][w]) */
    long long c, h, w;
    long long d;               /* a volume's depth (rank 4) */
    const float *data;         /* a constant's values (float32), or NULL */
    const int64_t *ints;       /* an int64 constant's values, or NULL */
    long long numel;
    int ndim;                  /* a constant's own dims */
    long long dims[8];
    int base;                  /* GROUPED: the layer whose value it is */
    long long group;           /* GROUPED: g */
    bool swapped;              /* GROUPED: transposed to [C/g][g][H][W] */
    long long zpad[3];         /* ZPADDED: the zeros on each side of D, H, W */
} Val;

typedef struct Onnx {
    const char *path, *dir;
    ImpGraph *g;
    Val *vals;
    int nvals, cap;
    int errors;
    const Onnx__GraphProto *gr;
    size_t cur;                /* the node being read */
    bool *done;                /* nodes a pattern already read (a GELU's Erf, a shuffle's Transpose) */
} Onnx;

static Val *find(Onnx *o, const char *name) {
    for (int i = o->nvals - 1; i >= 0; i--)
        if (strcmp(o->vals[i].name, name) == 0) return &o->vals[i];
    return NULL;
}

static Val *add_val(Onnx *o, const char *name) {
    o->vals = imp_grow(o->vals, o->nvals, &o->cap, sizeof *o->vals, 256);
    Val *v = &o->vals[o->nvals++];
    memset(v, 0, sizeof *v);
    v->name = arena_strdup(name);
    v->node = -1;
    return v;
}

/* name as another name for x's value (Identity, Dropout, a no-op Pad ...) */
static Val *alias(Onnx *o, const char *name, const Val *x) {
    Val copy = *x;                   /* before add_val, which may move the array x is in */
    Val *v = add_val(o, name);
    *v = copy;
    v->name = arena_strdup(name);
    return v;
}

static const char *shape_text(const Val *v) {
    if (!v || v->node == POISON) return "?";       /* after an error: not known */
    if (v->node == GROUPED)
        return arena_printf("%lld×%lld×%s%lld%s", v->swapped ? v->c / v->group : v->group,
                            v->swapped ? v->group : v->c / v->group, v->rank == 3 ? arena_printf("%lld×", v->h) : "",
                            v->w, v->swapped ? " (transposed)" : "");
    if (v->node < 0) {
        const char *s = "constant [";
        for (int i = 0; i < v->ndim; i++) s = arena_printf("%s%s%lld", s, i ? ", " : "", v->dims[i]);
        return arena_printf("%s]", s);
    }
    if (v->rank == 1) return arena_printf("[%lld]", v->c);
    if (v->rank == 4) return arena_printf("%lld×%lld×%lld×%lld", v->c, v->d, v->h, v->w);
    if (v->h == 1 && v->rank == 2) return arena_printf("%lld×%lld", v->c, v->w);
    return arena_printf("%lld×%lld×%lld", v->c, v->h, v->w);
}

/* an error at node n: what it is, its inputs' shapes, why */
static void node_error(Onnx *o, const Onnx__NodeProto *n, const char *why) {
    const char *ins = "";
    for (size_t i = 0; i < n->n_input; i++)
        ins = arena_printf("%s%s%s", ins, i ? ", " : "", n->input[i][0] ? shape_text(find(o, n->input[i])) : "-");
    fprintf(import_out(), "%s: error: node '%s' (%s, inputs %s): %s\n", o->path, n->name && n->name[0] ? n->name : "?",
            n->op_type, ins, why);
    o->errors++;
}

/* ---- tensors ------------------------------------------------------------------ */

/* An external initializer's bytes, from LOCATION (relative to the model's
 * folder, no "..") at OFFSET: checked against the file's size before any
 * memory is taken.  NULL after an error. */
static void *read_external(Onnx *o, const Onnx__TensorProto *t, size_t bytes) {
    const char *loc = NULL;
    long long off = 0, len = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        if (strcmp(e->key, "location") == 0) loc = e->value;
        else if (strcmp(e->key, "offset") == 0) off = atoll(e->value);
        else if (strcmp(e->key, "length") == 0) len = atoll(e->value);
    }
    if (!loc || !loc[0] || strstr(loc, "..") || loc[0] == '/') {
        fprintf(import_out(), "%s: error: initializer '%s': external data with %s location\n", o->path, t->name,
                loc && loc[0] ? "an unsafe" : "no");
        return NULL;
    }
    if ((len >= 0 && (size_t)len != bytes) || off < 0) {
        fprintf(import_out(), "%s: error: initializer '%s': external data of %lld bytes at %lld, expected %zu bytes\n",
                o->path, t->name, len, off, bytes);
        return NULL;
    }
    const char *file = arena_printf("%s/%s", o->dir, loc);
    FILE *f = fopen(file, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (!f || size < 0 || (unsigned long long)off + bytes > (unsigned long long)size || fseek(f, off, SEEK_SET) != 0) {
        fprintf(import_out(), "%s: error: initializer '%s': %s has no %zu bytes at %lld%s%s\n", o->path, t->name, file,
                bytes, off, !f ? ": " : "", !f ? strerror(errno) : "");
        if (f) fclose(f);
        return NULL;
    }
    void *dst = arena_alloc(bytes ? bytes : 1);
    size_t got = fread(dst, 1, bytes, f);
    fclose(f);
    if (got != bytes) {
        fprintf(import_out(), "%s: error: initializer '%s': cannot read %zu bytes of %s\n", o->path, t->name, bytes, file);
        return NULL;
    }
    return dst;
}

/* a TensorProto as a constant value: float32 or int64; sizes are checked
 * against the data before any memory is taken */
static bool add_tensor(Onnx *o, const Onnx__TensorProto *t, const char *name) {
    Val *v = add_val(o, name);
    v->numel = 1;
    if (t->n_dims > 8) {
        fprintf(import_out(), "%s: error: tensor '%s' has %zu dimensions (at most 8)\n", o->path, name, t->n_dims);
        return false;
    }
    v->ndim = (int)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > (1LL << 31)) {
            fprintf(import_out(), "%s: error: tensor '%s': dimension %zu is %lld\n", o->path, name, i, (long long)t->dims[i]);
            return false;
        }
        v->dims[i] = t->dims[i];
        v->numel *= t->dims[i];
        if (v->numel > (1LL << 31)) {
            fprintf(import_out(), "%s: error: tensor '%s' is too large\n", o->path, name);
            return false;
        }
    }
    bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    bool f32 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    if (!f32 && t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return true;     /* another type: kept, unusable (a node reading it is an error) */
    size_t esize = f32 ? sizeof(float) : sizeof(int64_t), bytes = esize * (size_t)v->numel;
    void *d;
    if (external) {
        if (!(d = read_external(o, t, bytes))) return false;
    } else if (t->has_raw_data) {
        if (t->raw_data.len != bytes) goto size;
        d = arena_alloc(bytes ? bytes : 1);
        if (bytes) memcpy(d, t->raw_data.data, bytes);    /* little-endian, as this machine */
    } else {
        size_t have = f32 ? t->n_float_data : t->n_int64_data;
        if (have != (size_t)v->numel) goto size;
        d = arena_alloc(bytes ? bytes : 1);
        if (bytes) memcpy(d, f32 ? (const void *)t->float_data : (const void *)t->int64_data, bytes);
    }
    if (f32) v->data = d;
    else v->ints = d;
    return true;
size:
    fprintf(import_out(), "%s: error: tensor '%s': its data does not match its dimensions\n", o->path, name);
    return false;
}

/* ---- attributes ------------------------------------------------------------------ */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static long long attr_i(const Onnx__NodeProto *n, const char *name, long long dflt) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

static double attr_f(const Onnx__NodeProto *n, const char *name, double dflt) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

static const char *attr_s(const Onnx__NodeProto *n, const char *name, const char *dflt) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_s ? arena_strndup((const char *)a->s.data, a->s.len) : dflt;
}

/* ints attribute: count of values (0: absent) */
static int attr_ints(const Onnx__NodeProto *n, const char *name, long long *out, int max) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) return 0;
    int k = (int)a->n_ints < max ? (int)a->n_ints : max;
    for (int i = 0; i < k; i++) out[i] = a->ints[i];
    return (int)a->n_ints;
}

/* ---- names ------------------------------------------------------------------------ */

/* "/layer1/layer1.0/conv1/Conv" → layer1.0.conv1; "/Flatten": "" (the
 * network's own forward); a name not in the exporter's form: NULL */
static const char *scope_of(const char *name) {
    if (!name || name[0] != '/') return NULL;
    const char *path = "", *last = "";
    const char *p = name + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash) break;                           /* the last component is the operator */
        const char *comp = arena_strndup(p, (size_t)(slash - p));
        size_t pl = strlen(path), ll = strlen(last);
        if (pl && strncmp(comp, path, pl) == 0 && comp[pl] == '.') path = comp;      /* the whole path */
        else if (ll && strncmp(comp, last, ll) == 0 && comp[ll] == '.') path = arena_printf("%s%s", path, comp + ll);
        else path = pl ? arena_printf("%s.%s", path, comp) : comp;                    /* the next name */
        last = comp;
        p = slash + 1;
    }
    return path;
}

/* ---- nodes ------------------------------------------------------------------------ */

static Val *input(Onnx *o, const Onnx__NodeProto *n, size_t i) {
    return i < n->n_input && n->input[i][0] ? find(o, n->input[i]) : NULL;
}

/* the layer computing n's output 0 from the layer values ins */
static Val *layer(Onnx *o, const Onnx__NodeProto *n, const char *kind, const char *args, Val **ins, int nin) {
    ImpGraph *g = o->g;
    int id = imp_add(g, kind, scope_of(n->name), args);
    ImpNode *in = &g->nodes[id];
    in->origin = arena_printf("%s (%s)", n->name && n->name[0] ? n->name : n->output[0], n->op_type);
    in->nin = nin;
    for (int k = 0; k < nin; k++) in->in[k] = ins[k]->node;
    Val *v = add_val(o, n->output[0]);
    v->node = id;
    return v;
}

static void tensor(Onnx *o, int node, const char *suffix, const Val *c, int ndim, const long long *dims) {
    ImpNode *n = &o->g->nodes[node];
    /* an initializer named as a state-dict key (layer1.0.conv1.weight, as
     * the exporter keeps them unless it folds constants) names the layer
     * better than the node does */
    size_t l = strlen(c->name), sl = strlen(suffix);
    if (n->nt == 0 && l > sl + 1 && strcmp(c->name + l - sl, suffix) == 0 && c->name[l - sl - 1] == '.' &&
        !strstr(c->name, "::") && c->name[0] != '/')
        n->path = arena_strndup(c->name, l - sl - 1);
    ImpTensor *t = &n->t[n->nt++];
    t->suffix = suffix;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->data = (float *)c->data;
}

/* a float attribute as the shortest decimal that reads back as the same
 * float (0.2, not 0.200000003) */
static const char *num(double v) {
    float f = (float)v;
    for (int digits = 1; digits < 9; digits++) {
        const char *t = arena_printf("%.*g", digits, (double)f);
        if ((float)strtod(t, NULL) == f) return t;
    }
    return arena_printf("%.9g", (double)f);
}

/* every window size, stride, padding, dilation and group count: in
 * [lo, 2^20] (far beyond any network; the arithmetic on them cannot
 * overflow) */
#define DIM_MAX (1LL << 20)
static bool in_range(const long long *v, int n, long long lo) {
    for (int i = 0; i < n; i++)
        if (v[i] < lo || v[i] > DIM_MAX) return false;
    return true;
}

static const char *pair(long long a, long long b) {
    return a == b ? arena_printf("%lld", a) : arena_printf("%lldx%lld", a, b);
}

static bool is_layer(const Val *v) { return v && v->node >= 0; }

/* a C×H×W value, or a signal's C×L (held as C×1×L) */
static bool is_spatial(const Val *v) { return is_layer(v) && (v->rank == 3 || v->rank == 2); }

/* that, or a volume's C×D×H×W: what convs and pools read */
static bool has_space(const Val *v) { return is_spatial(v) || (is_layer(v) && v->rank == 4); }

/* sizes A×B as the .net writes them for x: a signal's B alone */
static const char *sizes(const Val *x, long long a, long long b) {
    return x->rank == 2 ? arena_printf("%lld", b) : pair(a, b);
}

/* sizes [D, H, W] as the .net writes them for x: a signal's W, an image's
 * H×W, a volume's D×H×W (one number when they are equal) */
static const char *sizes3(const Val *x, const long long *a) {
    if (x->rank != 4) return sizes(x, a[1], a[2]);
    return a[0] == a[1] && a[1] == a[2] ? arena_printf("%lld", a[0]) : arena_printf("%lldx%lldx%lld", a[0], a[1], a[2]);
}

/* a spatial ints attribute for x into the last of OUT's [D, H, W] (the
 * axes x has not keep OUT's values): the count read, 0 when absent, -1
 * when it is not one value per spatial axis */
static int attr_sp(const Onnx__NodeProto *n, const char *name, const Val *x, long long *out) {
    int m = x->rank - 1;
    long long v[3];
    int k = attr_ints(n, name, v, 3);
    if (!k) return 0;
    if (k != m) return -1;
    for (int i = 0; i < m; i++) out[3 - m + i] = v[i];
    return m;
}

/* pads into P's [D, H, W begins, D, H, W ends], as attr_sp */
static int attr_pads3(const Onnx__NodeProto *n, const Val *x, long long *p) {
    int m = x->rank - 1;
    long long v[6];
    int k = attr_ints(n, "pads", v, 6);
    if (!k) return 0;
    if (k != 2 * m) return -1;
    for (int i = 0; i < m; i++) p[3 - m + i] = v[i], p[6 - m + i] = v[m + i];
    return 2 * m;
}

/* the same for an image or a signal: [H, W] (a signal's [1, L]), pads
 * [top, left, bottom, right]; the count as if 2-D */
static int attr_hw(const Onnx__NodeProto *n, const char *name, const Val *x, long long *out) {
    long long t[3] = { 1, out[0], out[1] };
    int k = attr_sp(n, name, x, t);
    out[0] = t[1], out[1] = t[2];
    return k < 0 ? -1 : k ? 2 : 0;
}

static int attr_pads(const Onnx__NodeProto *n, const Val *x, long long *p) {
    long long t[6] = { 0, p[0], p[1], 0, p[2], p[3] };
    int k = attr_pads3(n, x, t);
    p[0] = t[1], p[1] = t[2], p[2] = t[4], p[3] = t[5];
    return k < 0 ? -1 : k ? 4 : 0;
}

static const float *const_floats(const Val *v, long long count);

/* the values of a layer's output per batch item (what flatten makes of it) */
static long long features(const Val *x) {
    return x->rank == 1 ? x->c : x->c * (x->rank == 4 ? x->d : 1) * x->h * x->w;
}

/* Conv of a signal, an image or a volume: sizes [D, H, W], the axes the
 * input has not 1 */
static Val *conv(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0), *w = input(o, n, 1), *b = input(o, n, 2);
    if (!has_space(x)) return node_error(o, n, "its input is not a C×L, C×H×W or C×D×H×W value"), NULL;
    int m = x->rank - 1, wd = m + 2;
    if (!w || !w->data || w->ndim != wd)
        return node_error(o, n, arena_printf("its weight is not a constant %d-D float tensor", wd)), NULL;
    if (b && (!b->data || b->ndim != 1 || b->dims[0] != w->dims[0]))
        return node_error(o, n, "its bias is not a constant of the output channels"), NULL;
    long long k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, d[3] = { 1, 1, 1 }, p[6] = { 0 };
    for (int i = 0; i < m; i++) k[3 - m + i] = w->dims[2 + i];
    int ns = attr_sp(n, "strides", x, s), nd = attr_sp(n, "dilations", x, d), np = attr_pads3(n, x, p);
    long long groups = attr_i(n, "group", 1);
    if (ns < 0 || nd < 0 || np < 0) return node_error(o, n, arena_printf("strides, dilations and pads must have %d, "
                                                                         "%d and %d values", m, m, 2 * m)), NULL;
    if (!in_range(k, 3, 1) || !in_range(s, 3, 1) || !in_range(d, 3, 1) || !in_range(p, 6, 0) ||
        !in_range(&groups, 1, 1))
        return node_error(o, n, "a kernel, stride, dilation, padding or group count out of range"), NULL;
    const char *autopad = attr_s(n, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") != 0 && strcmp(autopad, "VALID") != 0)
        return node_error(o, n, arena_printf("auto_pad %s is not supported (export with explicit pads)", autopad)), NULL;
    if (groups < 1 || x->c % groups || w->dims[1] * groups != x->c)
        return node_error(o, n, arena_printf("weight %s does not fit %lld input channels in %lld groups",
                                             shape_text(w), x->c, groups)), NULL;
    Val *in = x;
    if (p[0] != p[3] || p[1] != p[4] || p[2] != p[5]) {      /* asymmetric: a pad layer first */
        if (x->rank == 4) return node_error(o, n, "asymmetric pads of a volume are not supported"), NULL;
        Val *ins[1] = { x };
        Val *padded = layer(o, n, "pad", x->rank == 2 ? arena_printf("left=%lld right=%lld", p[2], p[5])
                                     : arena_printf("top=%lld bottom=%lld left=%lld right=%lld", p[1], p[4], p[2], p[5]),
                            ins, 1);
        o->g->nodes[padded->node].path = NULL;
        padded->rank = x->rank, padded->c = x->c, padded->h = x->h + p[1] + p[4], padded->w = x->w + p[2] + p[5];
        in = padded;
        memset(p, 0, sizeof p);
        padded->name = arena_printf("%s.pad", n->output[0]);
    }
    long long e[3] = { in->rank == 4 ? in->d : 1, in->h, in->w }, out[3];
    for (int i = 0; i < 3; i++)
        if ((out[i] = (e[i] + p[i] + p[3 + i] - d[i] * (k[i] - 1) - 1) / s[i] + 1) < 1)
            return node_error(o, n, "its output would be empty"), NULL;
    long long one[3] = { 1, 1, 1 }, zero[3] = { 0, 0, 0 };
    const char *args = arena_printf("%lld k%s", w->dims[0], sizes3(x, k));
    if (memcmp(s, one, sizeof one)) args = arena_printf("%s s%s", args, sizes3(x, s));
    if (memcmp(p, zero, sizeof zero)) args = arena_printf("%s p%s", args, sizes3(x, p));
    if (memcmp(d, one, sizeof one)) args = arena_printf("%s d%s", args, sizes3(x, d));
    if (groups != 1) args = arena_printf("%s g%lld", args, groups);
    if (!b) args = arena_printf("%s nobias", args);
    Val *ins[1] = { in };
    Val *y = layer(o, n, "conv", args, ins, 1);
    y->rank = x->rank, y->c = w->dims[0], y->d = out[0], y->h = out[1], y->w = out[2];
    tensor(o, y->node, "weight", w, wd, w->dims);
    if (b) tensor(o, y->node, "bias", b, 1, b->dims);
    return y;
}

/* MaxPool and AveragePool of a signal, an image or a volume, as conv() */
static Val *pool(Onnx *o, const Onnx__NodeProto *n, bool max) {
    Val *x = input(o, n, 0), xz;
    long long zp[3] = { 0, 0, 0 };
    if (x && x->node == ZPADDED && !max) {           /* pool_pad's: the zeros are the pool's padding, counted */
        xz = *x;
        xz.node = x->base;
        memcpy(zp, x->zpad, sizeof zp);
        x = &xz;
    }
    if (!has_space(x)) return node_error(o, n, "its input is not a C×L, C×H×W or C×D×H×W value"), NULL;
    int m = x->rank - 1;
    long long k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, p[6] = { 0 }, d[3] = { 1, 1, 1 };
    if (attr_sp(n, "kernel_shape", x, k) != m)
        return node_error(o, n, arena_printf("kernel_shape must have %d values", m)), NULL;
    if (attr_sp(n, "strides", x, s) < 0 || attr_pads3(n, x, p) < 0 || attr_sp(n, "dilations", x, d) < 0)
        return node_error(o, n, arena_printf("strides, pads and dilations must have %d, %d and %d values", m, 2 * m,
                                             m)), NULL;
    if (!in_range(k, 3, 1) || !in_range(s, 3, 1) || !in_range(p, 6, 0))
        return node_error(o, n, "a kernel, stride or padding out of range"), NULL;
    if (d[0] != 1 || d[1] != 1 || d[2] != 1) return node_error(o, n, "dilated pooling is not supported"), NULL;
    if (p[0] != p[3] || p[1] != p[4] || p[2] != p[5])
        return node_error(o, n, "asymmetric pooling pads are not supported"), NULL;
    bool counted = attr_i(n, "count_include_pad", 0) || zp[0] || zp[1] || zp[2];
    if ((zp[0] || zp[1] || zp[2]) && (p[0] || p[1] || p[2]))
        return node_error(o, n, "a padded input with pads of its own is not supported"), NULL;
    for (int i = 0; i < 3; i++) p[i] += zp[i], p[3 + i] += zp[i];
    const char *autopad = attr_s(n, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") != 0 && strcmp(autopad, "VALID") != 0)
        return node_error(o, n, arena_printf("auto_pad %s is not supported", autopad)), NULL;
    bool ceil = attr_i(n, "ceil_mode", 0) != 0, padded = p[0] || p[1] || p[2];
    const char *args = arena_printf("%s", sizes3(x, k));
    if (memcmp(s, k, sizeof k)) args = arena_printf("%s s%s", args, sizes3(x, s));
    if (padded) args = arena_printf("%s p%s", args, sizes3(x, p));
    if (ceil) args = arena_printf("%s ceil", args);
    if (!max && !counted && padded) args = arena_printf("%s exclude_pad", args);
    Val *ins[1] = { x };
    Val *y = layer(o, n, max ? "maxpool" : "avgpool", args, ins, 1);
    if (!in_range(p, 6, 0)) return node_error(o, n, "a padding out of range"), NULL;
    long long e[3] = { x->rank == 4 ? x->d : 1, x->h, x->w }, out[3];
    for (int i = 0; i < 3; i++) {
        if (ceil) {
            out[i] = (e[i] + 2 * p[i] - k[i] + s[i] - 1) / s[i] + 1;
            if ((out[i] - 1) * s[i] >= e[i] + p[i]) out[i]--;
        } else {
            out[i] = (e[i] + 2 * p[i] - k[i]) / s[i] + 1;
        }
    }
    y->rank = x->rank, y->c = x->c, y->d = out[0], y->h = out[1], y->w = out[2];
    return y;
}

static Val *same_shape(Val *y, const Val *x) {
    y->rank = x->rank, y->c = x->c, y->d = x->d, y->h = x->h, y->w = x->w;
    return y;
}

static Val *act(Onnx *o, const Onnx__NodeProto *n, const char *kind, const char *args) {
    Val *x = input(o, n, 0);
    if (!is_layer(x)) return node_error(o, n, "its input is not a layer's value"), NULL;
    Val *ins[1] = { x };
    return same_shape(layer(o, n, kind, args, ins, 1), x);
}

static const float *const_floats(const Val *v, long long count) {
    return v && v->node < 0 && v->data && v->numel == count ? v->data : NULL;
}

static Val *batchnorm(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0);
    if (!is_layer(x)) return node_error(o, n, "its input is not a layer's value"), NULL;
    const char *sfx[4] = { "weight", "bias", "running_mean", "running_var" };
    Val *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = input(o, n, (size_t)i + 1);
        if (!const_floats(c[i], x->c)) return node_error(o, n, "its scale, bias, mean and variance must be constants "
                                                              "of one value per channel"), NULL;
    }
    double eps = attr_f(n, "epsilon", 1e-5), mom = 1.0 - attr_f(n, "momentum", 0.9);
    const char *args = "";
    if (fabs(eps - 1e-5) > 1e-12) args = arena_printf("eps=%s", num(eps));
    if (fabs(mom - 0.1) > 1e-6) args = arena_printf("%s%smomentum=%.6g", args, args[0] ? " " : "", mom);
    Val *ins[1] = { x };
    Val *y = same_shape(layer(o, n, "batchnorm", args, ins, 1), x);
    for (int i = 0; i < 4; i++) {
        long long dims[1] = { x->c };
        tensor(o, y->node, sfx[i], c[i], 1, dims);
    }
    return y;
}

/* Gemm (A·Bᵀ + C, alpha = beta = 1) and MatMul with a constant [in][out] */
static Val *dense(Onnx *o, const Onnx__NodeProto *n, bool gemm) {
    Val *x = input(o, n, 0), *w = input(o, n, 1), *b = gemm ? input(o, n, 2) : NULL;
    if (!is_layer(x) || x->rank != 1) return node_error(o, n, "its input is not a vector (flatten first)"), NULL;
    if (!w || !w->data || w->ndim != 2) return node_error(o, n, "its weight is not a constant 2-D float tensor"), NULL;
    bool transb = gemm ? attr_i(n, "transB", 0) != 0 : false;
    if (gemm && (attr_i(n, "transA", 0) || fabs(attr_f(n, "alpha", 1) - 1) > 0 || fabs(attr_f(n, "beta", 1) - 1) > 0))
        return node_error(o, n, "only Gemm with transA 0, alpha 1 and beta 1 is a dense layer"), NULL;
    long long in = transb ? w->dims[1] : w->dims[0], out = transb ? w->dims[0] : w->dims[1];
    if (in != x->c) return node_error(o, n, arena_printf("weight %s does not take %lld inputs", shape_text(w), x->c)), NULL;
    if (b && !const_floats(b, out)) return node_error(o, n, "its bias is not a constant of the outputs"), NULL;
    Val *ins[1] = { x };
    Val *y = layer(o, n, "dense", arena_printf("%lld%s", out, b ? "" : " nobias"), ins, 1);
    y->rank = 1, y->c = out;
    Val *wt = w;
    if (!transb) {                                   /* PyTorch's layout is [out][in] */
        float *t = arena_alloc(sizeof(float) * (size_t)(in * out));
        for (long long i = 0; i < in; i++)
            for (long long j = 0; j < out; j++) t[j * in + i] = w->data[i * out + j];
        wt = add_val(o, arena_printf("%s.T", w->name));
        wt->data = t;
    }
    long long wd[2] = { out, in }, bd[1] = { out };
    tensor(o, y->node, "weight", wt, 2, wd);
    if (b) tensor(o, y->node, "bias", b, 1, bd);
    return y;
}

static Val *merge(Onnx *o, const Onnx__NodeProto *n, const char *kind) {
    Val *ins[IMP_MAX_INPUTS];
    if (n->n_input < 2 || n->n_input > IMP_MAX_INPUTS)
        return node_error(o, n, arena_printf("expected 2 to %d inputs", IMP_MAX_INPUTS)), NULL;
    for (size_t i = 0; i < n->n_input; i++) {
        ins[i] = input(o, n, i);
        if (!is_layer(ins[i])) return node_error(o, n, "an input is a constant, not a layer's value"), NULL;
    }
    Val *y = layer(o, n, kind, "", ins, (int)n->n_input);
    same_shape(y, ins[0]);
    if (strcmp(kind, "concat") == 0) {
        if (attr_i(n, "axis", 1) != 1) return node_error(o, n, "only a concat of channels (axis 1) is supported"), NULL;
        y->c = 0;
        for (size_t i = 0; i < n->n_input; i++) y->c += ins[i]->c;
    }
    return y;
}

/* The DenseNet rewrite: a concat whose first inputs are an earlier
 * concat's inputs reads that concat instead (import.c's comment). */
static void chain_concats(ImpGraph *g) {
    int **orig = arena_alloc(sizeof(int *) * (size_t)g->n), *norig = arena_alloc(sizeof(int) * (size_t)g->n);
    for (int i = 0; i < g->n; i++) {                 /* the inputs as the model has them */
        norig[i] = g->nodes[i].nin;
        orig[i] = arena_alloc(sizeof(int) * (size_t)(norig[i] + 1));
        memcpy(orig[i], g->nodes[i].in, sizeof(int) * (size_t)norig[i]);
    }
    for (int i = 0; i < g->n; i++) {
        ImpNode *c = &g->nodes[i];
        if (strcmp(c->kind, "concat") != 0) continue;
        int best = -1, blen = 0;
        for (int j = 0; j < i; j++) {
            if (strcmp(g->nodes[j].kind, "concat") != 0 || norig[j] >= norig[i] || norig[j] <= blen) continue;
            bool prefix = true;
            for (int k = 0; k < norig[j] && prefix; k++) prefix = orig[j][k] == orig[i][k];
            if (prefix) best = j, blen = norig[j];
        }
        if (best < 0) continue;
        c->in[0] = best;
        for (int k = blen; k < norig[i]; k++) c->in[1 + k - blen] = orig[i][k];
        c->nin = 1 + norig[i] - blen;
    }
}

/* after an error: n's outputs exist, so that the nodes reading them are
 * not reported too */
static void poison(Onnx *o, const Onnx__NodeProto *n) {
    for (size_t i = 0; i < n->n_output; i++)
        if (n->output[i][0]) add_val(o, n->output[i])->node = POISON;
}

static const Onnx__NodeProto *sole_reader(const Onnx *o, const char *name, const char *op, size_t *at);
static bool is_scalar(const Val *v, double c);

/* A volume's Pad of zeros, the same on both sides of each of D, H, W, that
 * an AveragePool without pads alone reads (F.avg_pool3d's padding as the
 * exporter writes it): the pool's padding (ZPADDED).  NULL: not this. */
static Val *pool_pad(Onnx *o, const Onnx__NodeProto *n, Val *x) {
    const Val *pv = input(o, n, 1), *cv = input(o, n, 2);
    long long q[10];
    int nq = pv ? (pv->ints && pv->numel == 10 ? 10 : 0) : attr_ints(n, "pads", q, 10);
    if (pv && nq) memcpy(q, pv->ints, sizeof q);
    size_t at;
    const Onnx__NodeProto *r = sole_reader(o, n->output[0], "AveragePool", &at);
    long long rp[6] = { 0 };
    if (nq != 10 || strcmp(attr_s(n, "mode", "constant"), "constant") != 0 || (cv && !is_scalar(cv, 0)) ||
        (!cv && attr_f(n, "value", 0) != 0) || !r || attr_ints(r, "pads", rp, 6) > 6 || rp[0] || rp[1] || rp[2] ||
        rp[3] || rp[4] || rp[5] || q[0] || q[1] || q[5] || q[6])
        return NULL;
    for (int i = 0; i < 3; i++)
        if (q[2 + i] != q[7 + i] || q[2 + i] < 0 || q[2 + i] > DIM_MAX) return NULL;
    Val *y = alias(o, n->output[0], x);
    y->base = y->node, y->node = ZPADDED;
    for (int i = 0; i < 3; i++) y->zpad[i] = q[2 + i];
    return y;
}

static Val *pad(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0);
    Val *padded = is_layer(x) && x->rank == 4 ? pool_pad(o, n, x) : NULL;
    if (padded) return padded;
    if (!is_spatial(x)) return node_error(o, n, "its input is not a C×H×W or C×L value"), NULL;
    long long p[8] = { 0 }, q[8] = { 0 };
    const Val *pv = input(o, n, 1);
    int np = pv ? (pv->ints ? (int)pv->numel : -1) : attr_ints(n, "pads", q, 8);
    if (pv && pv->ints)
        for (int i = 0; i < np && i < 8; i++) q[i] = pv->ints[i];
    if (np != (x->rank == 2 ? 6 : 8))
        return node_error(o, n, arena_printf("its pads must be a constant of %d values", x->rank == 2 ? 6 : 8)), NULL;
    if (x->rank == 2) {                              /* [N, C, L] begins and ends as [N, C, 1, L]'s */
        p[0] = q[0], p[1] = q[1], p[3] = q[2], p[4] = q[3], p[5] = q[4], p[7] = q[5];
    } else {
        memcpy(p, q, sizeof p);
    }
    const Val *cv = input(o, n, 2);
    double value = cv ? (const_floats(cv, 1) ? cv->data[0] : NAN) : attr_f(n, "value", 0.0);
    const char *mode = attr_s(n, "mode", "constant");
    if (p[0] || p[1] || p[4] || p[5]) return node_error(o, n, "only padding of H and W is supported"), NULL;
    for (int i = 0; i < 8; i++)
        if (p[i] < 0) return node_error(o, n, "negative pads (cropping) are not supported"), NULL;
    if (!in_range(p, 8, 0)) return node_error(o, n, "a padding out of range"), NULL;
    if (!p[2] && !p[3] && !p[6] && !p[7]) {         /* nothing to pad: the exporter's no-op */
        return alias(o, n->output[0], x);
    }
    const char *how = strcmp(mode, "reflect") == 0 ? " reflect" : strcmp(mode, "edge") == 0 ? " replicate" : "";
    if (strcmp(mode, "constant") == 0 && value != 0.0)
        return node_error(o, n, "only zeros are supported as a constant pad value"), NULL;
    if (!how[0] && strcmp(mode, "constant") != 0)
        return node_error(o, n, arena_printf("pad mode '%s' is not supported", mode)), NULL;
    Val *ins[1] = { x };
    Val *y = layer(o, n, "pad", x->rank == 2 ? arena_printf("left=%lld right=%lld%s", p[3], p[7], how)
                                : arena_printf("top=%lld bottom=%lld left=%lld right=%lld%s", p[2], p[6], p[3], p[7], how),
                   ins, 1);
    y->rank = x->rank, y->c = x->c, y->h = x->h + p[2] + p[6], y->w = x->w + p[3] + p[7];
    return y;
}

/* ---- constants: the exporter's shape arithmetic, evaluated -------------------------- */

/* the nodes after the current one that read NAME: how many (the graph's
 * output counts as one), and the first of those nodes (or the node count) */
static int readers(const Onnx *o, const char *name, size_t *first) {
    int count = 0;
    *first = o->gr->n_node;
    for (size_t i = 0; i < o->gr->n_output; i++) count += strcmp(o->gr->output[i]->name, name) == 0;
    for (size_t i = o->cur + 1; i < o->gr->n_node; i++) {
        const Onnx__NodeProto *n = o->gr->node[i];
        for (size_t k = 0; k < n->n_input; k++)
            if (strcmp(n->input[k], name) == 0) {
                if (*first == o->gr->n_node) *first = i;
                count++;
                break;
            }
    }
    return count;
}

/* the one node that reads NAME, if it is an OP (NULL otherwise) */
static const Onnx__NodeProto *sole_reader(const Onnx *o, const char *name, const char *op, size_t *at) {
    size_t i;
    if (readers(o, name, &i) != 1 || i == o->gr->n_node) return NULL;     /* one, and not the graph's output */
    const Onnx__NodeProto *n = o->gr->node[i];
    if (strcmp(n->op_type, op) != 0 || n->n_output < 1) return NULL;
    *at = i;
    return n;
}

static bool is_const(const Val *v) { return v && v->node == -1 && (v->data || v->ints); }

/* a new constant NAME of DIMS, float32 or int64, its values to be filled in */
static Val *new_const(Onnx *o, const char *name, int ndim, const long long *dims, bool f32) {
    Val *v = add_val(o, name);
    v->ndim = ndim;
    v->numel = 1;
    for (int i = 0; i < ndim; i++) v->dims[i] = dims[i], v->numel *= dims[i];
    if (f32) v->data = arena_alloc(sizeof(float) * (size_t)(v->numel + 1));
    else v->ints = arena_alloc(sizeof(int64_t) * (size_t)(v->numel + 1));
    return v;
}

/* y's element i is x's element src[i] (y of x's type) */
static Val *moved(Onnx *o, const char *name, const Val *x, int ndim, const long long *dims, const long long *src) {
    Val xv = *x;                                     /* before new_const, which may move x */
    Val *y = new_const(o, name, ndim, dims, xv.data != NULL);
    for (long long i = 0; i < y->numel; i++) {
        if (y->data) ((float *)y->data)[i] = xv.data[src[i]];
        else ((int64_t *)y->ints)[i] = xv.ints[src[i]];
    }
    return y;
}

static long long elem_i(const Val *v, long long i) {
    if (v->ints) return v->ints[i];
    float f = v->data[i];
    return isfinite(f) && fabsf(f) < 9e18f ? (long long)f : 0;     /* a float index: only finite ones convert */
}

/* The most values an operator on constants may make from fewer
 * (ConstantOfShape, a Gather that repeats): the exporter's arithmetic makes
 * shapes, pads and sizes; a small file asking for millions is hostile. */
#define MADE_MAX (1 << 16)

/* dims' element count, or -1 beyond 2^31 (as add_tensor allows) */
static long long count_of(int ndim, const long long *dims) {
    long long c = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (1LL << 31)) return -1;
        c *= dims[i];
        if (c > (1LL << 31)) return -1;
    }
    return c;
}

/* a constant's values as integers (NULL: not a constant of at most MAX) */
static const long long *const_ints(const Val *v, int max, int *count) {
    if (!is_const(v) || v->numel > max) return NULL;
    long long *r = arena_alloc(sizeof(long long) * (size_t)(v->numel + 1));
    for (long long i = 0; i < v->numel; i++) r[i] = elem_i(v, i);
    *count = (int)v->numel;
    return r;
}

/* An operator on constants only (and Shape of a layer's value, which is
 * known): its value.  1: done; 0: not a constant's operator; -1: an error. */
static int fold(Onnx *o, const Onnx__NodeProto *n) {
    const char *op = n->op_type, *out = n->output[0];
    Val *x = input(o, n, 0);
    if (strcmp(op, "Shape") == 0 && x) {
        long long d[8], nd = 0;
        if (x->node == GROUPED) {
            d[nd++] = 1, d[nd++] = x->swapped ? x->c / x->group : x->group;
            d[nd++] = x->swapped ? x->group : x->c / x->group;
            if (x->rank == 3) d[nd++] = x->h;
            d[nd++] = x->w;
        } else if (is_layer(x)) {
            d[nd++] = 1, d[nd++] = x->c;
            if (x->rank == 4) d[nd++] = x->d;
            if (x->rank >= 3) d[nd++] = x->h;
            if (x->rank >= 2) d[nd++] = x->w;
        } else {
            for (int i = 0; i < x->ndim; i++) d[nd++] = x->dims[i];
        }
        long long start = attr_i(n, "start", 0), end = attr_i(n, "end", nd);
        if (start < 0) start += nd;
        if (end < 0) end += nd;
        start = start < 0 ? 0 : start > nd ? nd : start;
        end = end < start ? start : end > nd ? nd : end;
        long long len = end - start;
        Val *y = new_const(o, out, 1, &len, false);
        for (long long i = 0; i < len; i++) ((int64_t *)y->ints)[i] = d[start + i];
        return 1;
    }
    for (size_t i = 0; i < n->n_input; i++)
        if (n->input[i][0] && !is_const(input(o, n, i))) return 0;
    if (!x && strcmp(op, "ConstantOfShape") != 0) return 0;
    long long dims[8];
    if (strcmp(op, "ConstantOfShape") == 0) {
        int nd = 0;
        const long long *sh = x ? const_ints(x, 8, &nd) : NULL;
        if (!sh) return node_error(o, n, "its shape is not a constant of at most 8 values"), -1;
        for (int i = 0; i < nd; i++) {
            if (sh[i] < 0 || sh[i] > DIM_MAX) return node_error(o, n, "a dimension out of range"), -1;
            dims[i] = sh[i];
        }
        long long cnt = count_of(nd, dims);
        if (cnt < 0 || cnt > MADE_MAX)
            return node_error(o, n, arena_printf("its shape makes over %d values (the exporter's are shapes and pads)",
                                                 MADE_MAX)), -1;
        const Onnx__AttributeProto *a = attr(n, "value");
        Val *v = NULL;
        if (a && a->t && !add_tensor(o, a->t, arena_printf("%s.value", out))) return -1;
        if (a && a->t) v = find(o, arena_printf("%s.value", out));
        if (v && !v->data && !v->ints) return node_error(o, n, "its value is not float32 or int64"), -1;
        bool f32 = !v || v->data;
        float fv = v && v->data && v->numel ? v->data[0] : 0.0f;     /* before new_const moves v */
        int64_t iv = v && v->ints && v->numel ? v->ints[0] : 0;
        Val *y = new_const(o, out, nd, dims, f32);
        for (long long i = 0; i < y->numel; i++) {
            if (f32) ((float *)y->data)[i] = fv;
            else ((int64_t *)y->ints)[i] = iv;
        }
        return 1;
    }
    if (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0) {
        const Val *a = x, *b = input(o, n, 1);
        if (!b || (a->numel != b->numel && a->numel != 1 && b->numel != 1) || (!a->ints != !b->ints))
            return node_error(o, n, "constants of different types, or of sizes that do not broadcast"), -1;
        Val av = *a, bv = *b, big = a->numel >= b->numel ? *a : *b;     /* before new_const moves them */
        Val *y = new_const(o, out, big.ndim, big.dims, av.data != NULL);
        for (long long i = 0; i < y->numel; i++) {
            long long ia = av.numel == 1 ? 0 : i, ib = bv.numel == 1 ? 0 : i;
            if (y->data) {
                float p = av.data[ia], q = bv.data[ib];
                ((float *)y->data)[i] = op[0] == 'A' ? p + q : op[0] == 'S' ? p - q : op[0] == 'M' ? p * q : p / q;
            } else {
                uint64_t p = (uint64_t)av.ints[ia], q = (uint64_t)bv.ints[ib];     /* wrapping, not undefined */
                if (op[0] == 'D' && (q == 0 || (av.ints[ia] == INT64_MIN && bv.ints[ib] == -1)))
                    return node_error(o, n, "a division by zero or out of range"), -1;
                ((int64_t *)y->ints)[i] = op[0] == 'A' ? (int64_t)(p + q) : op[0] == 'S' ? (int64_t)(p - q)
                                        : op[0] == 'M' ? (int64_t)(p * q) : av.ints[ia] / bv.ints[ib];
            }
        }
        return 1;
    }
    long long *src = arena_alloc(sizeof(long long) * (size_t)(x->numel + 1));
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0 || strcmp(op, "Reshape") == 0 ||
        strcmp(op, "Flatten") == 0 || strcmp(op, "Identity") == 0) {   /* the same values, other dims */
        int nd = 0, na = 0;
        long long ax[8];
        const Val *av = input(o, n, 1);
        const long long *axes = av ? const_ints(av, 8, &na) : NULL;
        if (!av) na = attr_ints(n, "axes", ax, 8), axes = ax;
        if (op[0] == 'U') {
            int total = x->ndim + na, k = 0;
            if (total > 8) return node_error(o, n, "more than 8 dimensions"), -1;
            for (int i = 0; i < total; i++) {
                bool here = false;
                for (int j = 0; j < na; j++) here |= (axes[j] < 0 ? axes[j] + total : axes[j]) == i;
                dims[nd++] = here ? 1 : x->dims[k++];
            }
            if (k != x->ndim) return node_error(o, n, "its axes are out of range"), -1;
        } else if (op[0] == 'S') {
            for (int i = 0; i < x->ndim; i++) {
                bool gone = na == 0 && x->dims[i] == 1;
                for (int j = 0; j < na; j++) gone |= (axes[j] < 0 ? axes[j] + x->ndim : axes[j]) == i;
                if (!gone) dims[nd++] = x->dims[i];
            }
        } else if (op[0] == 'F') {
            long long axis = attr_i(n, "axis", 1), a = 1, b = 1;
            if (axis < 0) axis += x->ndim;
            for (int i = 0; i < x->ndim; i++) *(i < axis ? &a : &b) *= x->dims[i];
            dims[nd++] = a, dims[nd++] = b;
        } else if (op[0] == 'R') {
            const long long *sh = av ? const_ints(av, 8, &nd) : NULL;
            if (!sh) return node_error(o, n, "its shape is not a constant of at most 8 values"), -1;
            long long known = 1;
            int free_axis = -1;
            for (int i = 0; i < nd; i++) {
                dims[i] = sh[i] == 0 && !attr_i(n, "allowzero", 0) && i < x->ndim ? x->dims[i] : sh[i];
                if (dims[i] == -1 && free_axis < 0) free_axis = i;
                else if (dims[i] < 0 || dims[i] > (1LL << 31)) return node_error(o, n, "a dimension out of range"), -1;
                else if ((known *= dims[i]) > (1LL << 31)) return node_error(o, n, "the new shape is too large"), -1;
            }
            if (free_axis >= 0) dims[free_axis] = known ? x->numel / known : 0;
        } else {
            nd = x->ndim;
            for (int i = 0; i < nd; i++) dims[i] = x->dims[i];
        }
        long long count = 1;
        for (int i = 0; i < nd; i++) count *= dims[i];
        if (count != x->numel) return node_error(o, n, "the new shape does not have the constant's size"), -1;
        for (long long i = 0; i < count; i++) src[i] = i;
        moved(o, out, x, nd, dims, src);
        return 1;
    }
    /* the strides of x's dims */
    long long st[8];
    for (long long i = x->ndim - 1, acc = 1; i >= 0; acc *= x->dims[i], i--) st[i] = acc;
    if (strcmp(op, "Transpose") == 0) {
        long long perm[8];
        int np = attr_ints(n, "perm", perm, 8);
        if (!np) for (int i = 0; i < x->ndim; i++) perm[i] = x->ndim - 1 - i;
        else if (np != x->ndim) return node_error(o, n, "its perm does not fit the constant"), -1;
        bool seen[8] = { false };
        for (int i = 0; i < x->ndim; i++) {
            if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]])
                return node_error(o, n, "its perm is not a permutation of the dimensions"), -1;
            seen[perm[i]] = true;
            dims[i] = x->dims[perm[i]];
        }
        for (long long i = 0; i < x->numel; i++) {
            long long r = i, at = 0;
            for (int k = x->ndim - 1; k >= 0; k--) at += (r % dims[k]) * st[perm[k]], r /= dims[k];
            src[i] = at;
        }
        moved(o, out, x, x->ndim, dims, src);
        return 1;
    }
    if (strcmp(op, "Gather") == 0) {
        const Val *iv = input(o, n, 1);
        long long axis = attr_i(n, "axis", 0);
        if (axis < 0) axis += x->ndim;
        if (!iv) return node_error(o, n, "it has no indices"), -1;
        if (axis < 0 || axis >= x->ndim || x->ndim + iv->ndim - 1 > 8)
            return node_error(o, n, "its axis is out of range"), -1;
        int nd = 0;
        long long inner = 1, outer = 1;
        for (int i = 0; i < axis; i++) dims[nd++] = x->dims[i], outer *= x->dims[i];
        for (int i = 0; i < iv->ndim; i++) dims[nd++] = iv->dims[i];
        for (int i = (int)axis + 1; i < x->ndim; i++) dims[nd++] = x->dims[i], inner *= x->dims[i];
        long long total = outer * inner;
        if (iv->numel && total > (1LL << 31) / iv->numel) return node_error(o, n, "its result is too large"), -1;
        total *= iv->numel;
        if (total > x->numel && total > MADE_MAX)
            return node_error(o, n, arena_printf("it makes over %d values from fewer", MADE_MAX)), -1;
        if (total > x->numel) src = arena_alloc(sizeof(long long) * (size_t)(total + 1));
        for (long long a = 0, i = 0; a < outer; a++)
            for (long long j = 0; j < iv->numel; j++) {
                long long k = elem_i(iv, j);
                if (k < 0) k += x->dims[axis];
                if (k < 0 || k >= x->dims[axis]) return node_error(o, n, "an index out of range"), -1;
                for (long long b = 0; b < inner; b++) src[i++] = (a * x->dims[axis] + k) * inner + b;
            }
        moved(o, out, x, nd, dims, src);
        return 1;
    }
    if (strcmp(op, "Slice") == 0) {
        long long b[8], e[8], ax[8];
        int nb, ne, na = 0, ns = 0;
        const long long *vb, *ve, *va = NULL, *vs = NULL;
        if (n->n_input >= 3) {
            vb = const_ints(input(o, n, 1), 8, &nb), ve = const_ints(input(o, n, 2), 8, &ne);
            if (input(o, n, 3)) va = const_ints(input(o, n, 3), 8, &na);
            if (input(o, n, 4)) vs = const_ints(input(o, n, 4), 8, &ns);
        } else {
            nb = attr_ints(n, "starts", b, 8), ne = attr_ints(n, "ends", e, 8), na = attr_ints(n, "axes", ax, 8);
            vb = b, ve = e, va = na ? ax : NULL;
        }
        if (!vb || !ve || nb != ne || nb > x->ndim || (va && na != nb) || (vs && ns != nb))
            return node_error(o, n, "its starts, ends, axes and steps do not fit the constant"), -1;
        long long lo[8], step[8];
        for (int i = 0; i < x->ndim; i++) lo[i] = 0, step[i] = 1, dims[i] = x->dims[i];
        for (int j = 0; j < nb; j++) {
            long long a = va ? va[j] : j, s = vs ? vs[j] : 1;
            if (s > (1LL << 32) || s < -(1LL << 32)) s = s > 0 ? 1LL << 32 : -(1LL << 32);   /* beyond any dim */
            if (a < 0) a += x->ndim;
            if (a < 0 || a >= x->ndim || s == 0) return node_error(o, n, "an axis or step out of range"), -1;
            long long len = x->dims[a], from = vb[j], to = ve[j];
            if (from < 0) from += len;
            if (to < 0 && to > -(1LL << 62)) to += len;
            if (s > 0) {
                from = from < 0 ? 0 : from > len ? len : from;
                to = to < 0 ? 0 : to > len ? len : to;
                dims[a] = to > from ? (to - from + s - 1) / s : 0;
            } else {
                from = from < 0 ? 0 : from > len - 1 ? len - 1 : from;
                to = to < -1 ? -1 : to > len - 1 ? len - 1 : to;
                dims[a] = from > to ? (from - to - s - 1) / -s : 0;
            }
            lo[a] = from, step[a] = s;
        }
        long long count = 1;
        for (int i = 0; i < x->ndim; i++) count *= dims[i];
        for (long long i = 0; i < count; i++) {
            long long r = i, at = 0;
            for (int k = x->ndim - 1; k >= 0; k--) at += (lo[k] + (r % dims[k]) * step[k]) * st[k], r /= dims[k];
            src[i] = at;
        }
        moved(o, out, x, x->ndim, dims, src);
        return 1;
    }
    if (strcmp(op, "Concat") == 0) {
        long long axis = attr_i(n, "axis", 0), total = 0;
        if (x->ndim != 1 || (axis != 0 && axis != -1)) return 0;
        for (size_t i = 0; i < n->n_input; i++) {
            const Val *v = input(o, n, i);
            if (!v || v->ndim != 1 || !v->ints != !x->ints) return node_error(o, n, "constants that do not concatenate"), -1;
            total += v->numel;
        }
        Val *y = new_const(o, out, 1, &total, x->data != NULL);
        for (size_t i = 0, at = 0; i < n->n_input; i++) {
            const Val *v = input(o, n, i);
            for (long long k = 0; k < v->numel; k++, at++) {
                if (y->data) ((float *)y->data)[at] = v->data[k];
                else ((int64_t *)y->ints)[at] = v->ints[k];
            }
        }
        return 1;
    }
    return 0;
}

/* ---- the layers of the newer operators ------------------------------------------------ */

/* ConvTranspose: weight [in][out/groups][kh][kw], symmetric pads */
static Val *convt(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0), *w = input(o, n, 1), *b = input(o, n, 2);
    if (!is_spatial(x)) return node_error(o, n, "its input is not a C×H×W or C×L value"), NULL;
    int wd = x->rank == 2 ? 3 : 4;
    if (!w || !w->data || w->ndim != wd)
        return node_error(o, n, arena_printf("its weight is not a constant %d-D float tensor", wd)), NULL;
    long long k[2] = { wd == 3 ? 1 : w->dims[2], w->dims[wd - 1] }, s[2] = { 1, 1 }, d[2] = { 1, 1 };
    long long p[4] = { 0, 0, 0, 0 }, op[2] = { 0, 0 }, outsh[2];
    attr_hw(n, "strides", x, s);
    attr_hw(n, "dilations", x, d);
    attr_hw(n, "output_padding", x, op);
    int np = attr_pads(n, x, p);
    long long groups = attr_i(n, "group", 1);
    if (!in_range(k, 2, 1) || !in_range(s, 2, 1) || !in_range(d, 2, 1) || !in_range(p, 4, 0) ||
        !in_range(op, 2, 0) || !in_range(&groups, 1, 1))
        return node_error(o, n, "a kernel, stride, dilation, padding, output padding or group count out of range"), NULL;
    const char *autopad = attr_s(n, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") != 0 && strcmp(autopad, "VALID") != 0)
        return node_error(o, n, arena_printf("auto_pad %s is not supported (export with explicit pads)", autopad)), NULL;
    if (attr_ints(n, "output_shape", outsh, 2))
        return node_error(o, n, "output_shape is not supported (export with pads and output_padding)"), NULL;
    if (np && np != 4) return node_error(o, n, "pads must have 4 values"), NULL;
    if (p[0] != p[2] || p[1] != p[3])
        return node_error(o, n, arena_printf("asymmetric pads %lld, %lld, %lld, %lld are not supported", p[0], p[1], p[2],
                                             p[3])), NULL;
    if (op[0] >= s[0] || op[1] >= s[1])
        return node_error(o, n, "its output_padding must be smaller than its stride"), NULL;
    if (w->dims[0] != x->c || x->c % groups)
        return node_error(o, n, arena_printf("weight %s does not fit %lld input channels in %lld groups",
                                             shape_text(w), x->c, groups)), NULL;
    long long out = w->dims[1] * groups;
    if (b && !const_floats(b, out)) return node_error(o, n, "its bias is not a constant of the output channels"), NULL;
    long long oh = (x->h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1;
    long long ow = (x->w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1;
    if (oh < 1 || ow < 1) return node_error(o, n, "its output would be empty"), NULL;
    const char *args = arena_printf("%lld k%s", out, sizes(x, k[0], k[1]));
    if (s[0] != 1 || s[1] != 1) args = arena_printf("%s s%s", args, sizes(x, s[0], s[1]));
    if (p[0] || p[1]) args = arena_printf("%s p%s", args, sizes(x, p[0], p[1]));
    if (op[0] || op[1]) args = arena_printf("%s output_padding=%s", args, sizes(x, op[0], op[1]));
    if (d[0] != 1 || d[1] != 1) args = arena_printf("%s d%s", args, sizes(x, d[0], d[1]));
    if (groups != 1) args = arena_printf("%s g%lld", args, groups);
    if (!b) args = arena_printf("%s nobias", args);
    Val *ins[1] = { x };
    Val *y = layer(o, n, "convtranspose", args, ins, 1);
    y->rank = x->rank, y->c = out, y->h = oh, y->w = ow;
    tensor(o, y->node, "weight", w, wd, w->dims);
    if (b) {
        long long bd[1] = { out };
        tensor(o, y->node, "bias", b, 1, bd);
    }
    return y;
}

/* Resize (opset 10: X, scales; 11 on: X, roi, scales, sizes) and Upsample
 * (opset 9: X, scales; 7: a scales attribute): PyTorch's nearest (asymmetric
 * coordinates, floor) and bilinear (half_pixel or pytorch_half_pixel, or
 * align_corners) */
static Val *resize(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0);
    bool upsample = strcmp(n->op_type, "Upsample") == 0;
    if (!is_spatial(x)) return node_error(o, n, "its input is not a C×H×W or C×L value"), NULL;
    int nd = x->rank == 2 ? 3 : 4;                   /* [N, C, L] or [N, C, H, W] */
    const char *mode = attr_s(n, "mode", "nearest");
    const char *ctm = upsample ? "asymmetric" : attr_s(n, "coordinate_transformation_mode", "half_pixel");
    bool linear = strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0, align = false;
    if (linear) {
        if (strcmp(ctm, "align_corners") == 0) align = true;
        else if (strcmp(ctm, "half_pixel") != 0 && strcmp(ctm, "pytorch_half_pixel") != 0)
            return node_error(o, n, arena_printf("linear interpolation with coordinate_transformation_mode '%s' is not "
                                                 "supported (upsample's are PyTorch's: half_pixel or align_corners)",
                                                 ctm)), NULL;
    } else if (strcmp(mode, "nearest") == 0) {
        const char *nm = upsample ? "floor" : attr_s(n, "nearest_mode", "round_prefer_floor");
        if (strcmp(ctm, "asymmetric") != 0 || strcmp(nm, "floor") != 0)
            return node_error(o, n, arena_printf("nearest interpolation with coordinate_transformation_mode '%s' and "
                                                 "nearest_mode '%s' is not supported (upsample's is PyTorch's: "
                                                 "asymmetric, floor)", ctm, nm)), NULL;
    } else {
        return node_error(o, n, arena_printf("mode '%s' is not supported (upsample is nearest or bilinear)", mode)), NULL;
    }
    const Val *sv = NULL, *zv = NULL;
    float ascales[4];
    int nas = 0;
    if (upsample || n->n_input == 2) sv = input(o, n, 1);
    else sv = input(o, n, 2), zv = input(o, n, 3);
    if (sv && sv->numel == 0) sv = NULL;             /* an empty scales beside sizes */
    if (upsample && !sv) {
        const Onnx__AttributeProto *a = attr(n, "scales");
        nas = a ? (int)a->n_floats : 0;
        for (int i = 0; i < nas && i < 4; i++) ascales[i] = a->floats[i];
    }
    float sc4[4] = { 1, 1, 1, 1 };                   /* a signal's [1, 1, S] as [1, 1, 1, S] */
    const float *sc = sv ? const_floats(sv, nd) : nas == nd ? ascales : NULL;
    if (sc) sc4[0] = sc[0], sc4[1] = sc[1], sc4[2] = nd == 3 ? 1 : sc[2], sc4[3] = sc[nd - 1];
    long long oh, ow;
    const char *args;
    if (zv) {
        if (!zv->ints || zv->numel != nd || zv->ints[0] != 1 || zv->ints[1] != x->c)
            return node_error(o, n, arena_printf("its sizes must be a constant [N, C, %s] of the input's N and C",
                                                 nd == 3 ? "L" : "H, W")), NULL;
        oh = nd == 3 ? 1 : zv->ints[2], ow = zv->ints[nd - 1];
        if (oh < 1 || ow < 1 || oh > DIM_MAX || ow > DIM_MAX) return node_error(o, n, "a size out of range"), NULL;
        args = arena_printf("size=%s", sizes(x, oh, ow));
    } else {
        if (!sc) return node_error(o, n, arena_printf("its scales (or sizes) must be a constant of %d values", nd)), NULL;
        sc = sc4;
        if (sc[0] != 1 || sc[1] != 1) return node_error(o, n, "only the H and W axes can be scaled"), NULL;
        if (!(sc[2] >= 1 && sc[3] >= 1 && sc[2] <= 1024 && sc[3] <= 1024 && sc[2] == floorf(sc[2]) &&
              sc[3] == floorf(sc[3])))
            return node_error(o, n, arena_printf("scales %s, %s are not whole numbers (upsample scales by an integer "
                                                 "or to a size)", num(sc[2]), num(sc[3]))), NULL;
        oh = x->h * (long long)sc[2], ow = x->w * (long long)sc[3];
        args = sizes(x, (long long)sc[2], (long long)sc[3]);
    }
    if (linear && upsample)
        return node_error(o, n, "opset 9's linear Upsample uses asymmetric coordinates, which are not PyTorch's "
                                "(export at opset 11 or later)"), NULL;
    if (linear) args = arena_printf("%s bilinear%s", args, align ? " align_corners=true" : "");
    Val *ins[1] = { x };
    Val *y = layer(o, n, "upsample", args, ins, 1);
    y->rank = x->rank, y->c = x->c, y->h = oh, y->w = ow;
    return y;
}

/* PRelu: one slope, or one per channel or feature */
static Val *prelu(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0), *a = input(o, n, 1);
    if (!is_layer(x)) return node_error(o, n, "its input is not a layer's value"), NULL;
    if (!a || !a->data || (a->numel != 1 && a->numel != x->c))
        return node_error(o, n, arena_printf("its slope is not a constant of 1 or %lld values", x->c)), NULL;
    for (int i = 0; i < a->ndim; i++)          /* [C], [C,1,1], [1]: not spread over H or W */
        if (a->dims[i] != a->numel && a->dims[i] != 1) return node_error(o, n, "its slope varies over H or W"), NULL;
    Val *ins[1] = { x };
    Val *y = same_shape(layer(o, n, "prelu", a->numel == 1 ? "" : arena_printf("%lld", a->numel), ins, 1), x);
    long long dims[1] = { a->numel };
    tensor(o, y->node, "weight", a, 1, dims);
    return y;
}

/* part `part` (from 0) of `parts` equal slices of x's channels, as output i of n */
static Val *split_part(Onnx *o, const Onnx__NodeProto *n, size_t i, Val *x, long long part, long long parts) {
    int id = imp_add(o->g, "split", scope_of(n->name), parts == 2 ? arena_printf("%lld", part + 1)
                                                                 : arena_printf("%lld %lld", part + 1, parts));
    ImpNode *in = &o->g->nodes[id];
    in->origin = arena_printf("%s (%s)", n->name && n->name[0] ? n->name : n->output[i], n->op_type);
    in->nin = 1;
    in->in[0] = x->node;
    long long c = x->c / parts;
    Val xv = *x;
    Val *y = add_val(o, n->output[i]);
    y->node = id;
    same_shape(y, &xv);
    y->c = c;
    return y;
}

/* Split of the channels into equal parts (torch.chunk) */
static bool split(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0);
    if (!is_spatial(x)) return node_error(o, n, "its input is not a C×H×W or C×L value"), false;
    long long axis = attr_i(n, "axis", 0), sz[IMP_MAX_INPUTS];
    if (axis != 1 && axis != -1 - x->rank) return node_error(o, n, "only a split of the channels (axis 1) is supported"), false;
    int ns = 0;
    const Val *sv = input(o, n, 1);
    const long long *v = sv ? const_ints(sv, IMP_MAX_INPUTS, &ns) : NULL;
    if (!sv) ns = attr_ints(n, "split", sz, IMP_MAX_INPUTS), v = sz;
    long long parts = (long long)n->n_output;
    if (parts < 1 || parts > IMP_MAX_INPUTS || x->c % parts || (sv && !v) || (ns && ns != parts))
        return node_error(o, n, "only a split into equal parts is supported"), false;
    for (int i = 0; i < ns; i++)
        if (v[i] != x->c / parts) return node_error(o, n, "only a split into equal parts is supported"), false;
    Val xv = *x;
    for (size_t i = 0; i < n->n_output; i++) {
        size_t first;
        if (n->output[i][0] && readers(o, n->output[i], &first)) split_part(o, n, i, &xv, (long long)i, parts);
        else if (n->output[i][0]) add_val(o, n->output[i])->node = POISON;     /* unread */
    }
    return true;
}

/* Slice of a layer's value: an equal slice of the channels (a split) */
static Val *slice(Onnx *o, const Onnx__NodeProto *n) {
    Val *x = input(o, n, 0);
    int nb = 0, ne = 0, na = 1, ns = 1;
    long long one = 1, b[1], e[1], ax[1] = { 1 };
    const long long *vb, *ve, *va = ax, *vs = &one;
    if (n->n_input >= 3) {
        vb = const_ints(input(o, n, 1), 1, &nb), ve = const_ints(input(o, n, 2), 1, &ne);
        if (input(o, n, 3)) va = const_ints(input(o, n, 3), 1, &na);
        if (input(o, n, 4)) vs = const_ints(input(o, n, 4), 1, &ns);
    } else {
        nb = attr_ints(n, "starts", b, 1), ne = attr_ints(n, "ends", e, 1), vb = b, ve = e;
        if (attr(n, "axes")) na = attr_ints(n, "axes", ax, 1);
    }
    if (!is_spatial(x) || !vb || !ve || !va || !vs || nb != 1 || ne != 1 || na != 1 || ns != 1 ||
        (va[0] != 1 && va[0] != -1 - x->rank) || vs[0] != 1)
        return node_error(o, n, "only a slice of the channels (axis 1, step 1) is supported"), NULL;
    long long from = vb[0] < 0 ? vb[0] + x->c : vb[0], to = ve[0] < 0 ? ve[0] + x->c : ve[0];
    from = from < 0 ? 0 : from > x->c ? x->c : from;          /* clamped, as ONNX's Slice does */
    to = to < 0 ? 0 : to > x->c ? x->c : to;
    long long len = to - from;
    if (from < 0 || len < 1 || x->c % len || from % len)
        return node_error(o, n, arena_printf("channels %lld to %lld of %lld are not one of equal parts (a split)", from, to,
                                             x->c)), NULL;
    return split_part(o, n, 0, x, from / len, x->c / len);
}

/* A channel shuffle: Reshape [N, g, C/g, H, W] (a grouped view of a
 * layer's value), Transpose [0, 2, 1, 3, 4] (swapped), Reshape [N, C, H, W].
 * NULL: n is not a step of it. */
static Val *shuffle(Onnx *o, const Onnx__NodeProto *n, Val *x) {
    const Val *s = input(o, n, 1);
    int sp = x && x->rank == 2 ? 1 : 2;              /* spatial axes: a signal's L, an image's H, W */
    if (strcmp(n->op_type, "Transpose") == 0) {
        long long perm[5];
        if (!x || x->node != GROUPED || x->swapped || attr_ints(n, "perm", perm, 5) != 3 + sp || perm[0] != 0 ||
            perm[1] != 2 || perm[2] != 1 || perm[3] != 3 || (sp == 2 && perm[4] != 4))
            return NULL;
        Val *y = alias(o, n->output[0], x);
        y->swapped = true;
        return y;
    }
    if (!x || !s || !s->ints) return NULL;
    const int64_t *e = s->ints;
    bool hw = s->numel >= 2 + sp && e[s->numel - 1] == x->w && (sp == 1 || e[s->numel - 2] == x->h);
    if (x->node == GROUPED && x->swapped && s->numel == 2 + sp && (e[1] == x->c || e[1] == -1) && hw) {
        Val in = *x;
        in.node = x->base;
        Val *ins[1] = { &in };
        return same_shape(layer(o, n, "shuffle", arena_printf("%lld", x->group), ins, 1), &in);
    }
    if (!is_spatial(x) || s->numel != 3 + sp || !hw) return NULL;
    long long g = e[1];
    if (g < 1 || x->c % g || (e[2] != x->c / g && e[2] != -1)) return NULL;
    Val *y = alias(o, n->output[0], x);
    y->base = y->node, y->node = GROUPED, y->group = g;
    return y;
}

/* is v the constant c (within float rounding)? */
static bool is_scalar(const Val *v, double c) {
    return is_const(v) && v->numel == 1 && fabs((v->data ? v->data[0] : (double)v->ints[0]) - c) <= 1e-6 * fabs(c);
}

/* the other input of a two-input node than the value NAME (NULL: NAME is not one of them) */
static Val *other_input(Onnx *o, const Onnx__NodeProto *n, const char *name) {
    if (n->n_input != 2) return NULL;
    if (strcmp(n->input[0], name) == 0) return input(o, n, 1);
    if (strcmp(n->input[1], name) == 0) return input(o, n, 0);
    return NULL;
}

/* One step of a function the exporter decomposes: the operator, and its
 * other input: a scalar constant, the function's input (OF_X) or none
 * (a one-input operator: OF_NONE). */
typedef struct Step { const char *op; double c; } Step;
#define OF_X INFINITY
#define OF_NONE NAN

/* the steps after n (which reads x), each the sole reader of the value
 * before it: the name of the last one's output, and they are done; NULL
 * when the nodes after n are not these steps */
static const char *steps_after(Onnx *o, const Onnx__NodeProto *n, const Val *x, const Step *steps, int k) {
    const char *name = n->output[0];
    size_t at[16];
    for (int i = 0; i < k; i++) {
        const Onnx__NodeProto *m = sole_reader(o, name, steps[i].op, &at[i]);
        if (!m) return NULL;
        if (isnan(steps[i].c)) {
            if (m->n_input != 1) return NULL;
        } else {
            const Val *v = other_input(o, m, name);
            if (isinf(steps[i].c) ? !is_layer(v) || v->node != x->node : !is_scalar(v, steps[i].c)) return NULL;
        }
        name = m->output[0];
    }
    for (int i = 0; i < k; i++) o->done[at[i]] = true;
    return name;
}

/* the layer KIND ARGS of x, for n and the steps after it (named by the last one's output) */
static Val *function(Onnx *o, const Onnx__NodeProto *n, Val *x, const char *out, const char *kind, const char *args) {
    Val *ins[1] = { x };
    Val *y = same_shape(layer(o, n, kind, args, ins, 1), x);
    return same_shape(alias(o, out, y), x);
}

/* GELU: Div(x, √2), Erf, Add 1, Mul x, Mul ½ (NULL: not this pattern) */
static Val *gelu(Onnx *o, const Onnx__NodeProto *n, Val *x) {
    static const Step steps[] = { { "Erf", OF_NONE }, { "Add", 1 }, { "Mul", OF_X }, { "Mul", 0.5 } };
    const char *out;
    if (!is_layer(x) || !is_scalar(input(o, n, 1), sqrt(2.0)) || !(out = steps_after(o, n, x, steps, 4))) return NULL;
    return function(o, n, x, out, "gelu", "");
}

/* Mul(x, x) to begin with: GELU's tanh approximation, Mul x, Mul 0.044715,
 * Add x, Mul √(2/π), Tanh, Add 1, Mul x, Mul ½; Mul(x, β) to begin with:
 * PyTorch's softplus with beta β, Softplus, Div β (its threshold is not
 * exported: ONNX's is none, the layer's 20 the same in float).  NULL: not
 * one of these. */
static Val *mul_function(Onnx *o, const Onnx__NodeProto *n) {
    static const Step tanh_steps[] = { { "Mul", OF_X }, { "Mul", 0.044715 }, { "Add", OF_X },
                                       { "Mul", 0.7978845608028654 }, { "Tanh", OF_NONE }, { "Add", 1 },
                                       { "Mul", OF_X }, { "Mul", 0.5 } };
    Val *a = input(o, n, 0), *b = input(o, n, 1);
    const char *out;
    if (n->n_input == 2 && is_layer(a) && is_layer(b) && a->node == b->node &&
        (out = steps_after(o, n, a, tanh_steps, 8)))
        return function(o, n, a, out, "gelu_tanh", "");
    Val *x = is_layer(a) ? a : b, *c = is_layer(a) ? b : a;
    if (n->n_input == 2 && is_layer(x) && is_const(c) && c->numel == 1 && c->data && c->data[0] > 0) {
        Step steps[] = { { "Softplus", OF_NONE }, { "Div", c->data[0] } };
        if ((out = steps_after(o, n, x, steps, 2))) return function(o, n, x, out, "softplus", num(c->data[0]));
    }
    return NULL;
}

/* Sigmoid then Mul x: SiLU; Softplus, Tanh, Mul x: Mish (NULL: not these) */
static Val *act_function(Onnx *o, const Onnx__NodeProto *n, Val *x) {
    static const Step silu[] = { { "Mul", OF_X } }, mish[] = { { "Tanh", OF_NONE }, { "Mul", OF_X } };
    const char *out;
    if (!is_layer(x)) return NULL;
    if (strcmp(n->op_type, "Sigmoid") == 0 && (out = steps_after(o, n, x, silu, 1)))
        return function(o, n, x, out, "silu", "");
    if (strcmp(n->op_type, "Softplus") == 0 && (out = steps_after(o, n, x, mish, 2)))
        return function(o, n, x, out, "mish", "");
    return NULL;
}

/* x / k, x a sum of k values (Add of Add ...): their mean (NULL: not this pattern) */
static Val *mean(Onnx *o, const Onnx__NodeProto *n, Val *x) {
    const Val *k = input(o, n, 1);
    if (!is_layer(x) || !is_const(k) || k->numel != 1) return NULL;
    double kv = k->data ? k->data[0] : (double)k->ints[0];
    int leaf[IMP_MAX_INPUTS], nl = 1;
    leaf[0] = x->node;
    for (int i = 0; i < nl && nl < kv;) {            /* the adds' inputs, in order */
        const ImpNode *a = &o->g->nodes[leaf[i]];
        if (strcmp(a->kind, "add") != 0 || nl - 1 + a->nin > IMP_MAX_INPUTS) { i++; continue; }
        memmove(&leaf[i + a->nin], &leaf[i + 1], sizeof(int) * (size_t)(nl - i - 1));
        memcpy(&leaf[i], a->in, sizeof(int) * (size_t)a->nin);
        nl += a->nin - 1;
    }
    if (nl < 2 || nl != kv) return NULL;
    int id = imp_add(o->g, "mean", scope_of(n->name), "");
    ImpNode *in = &o->g->nodes[id];
    in->origin = arena_printf("%s (%s)", n->name && n->name[0] ? n->name : n->output[0], n->op_type);
    in->nin = nl;
    memcpy(in->in, leaf, sizeof(int) * (size_t)nl);
    Val xv = *x;
    Val *y = add_val(o, n->output[0]);
    y->node = id;
    return same_shape(y, &xv);
}

static const char *const supported[] = {
    "Constant", "Identity", "Dropout", "Conv", "Pad", "MaxPool", "AveragePool", "BatchNormalization", "Relu",
    "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "Elu", "Selu", "Softplus", "HardSigmoid", "Clip", "Softmax",
    "Flatten", "Reshape", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul", "Add", "Mul", "Sub", "Concat",
    "Cast", "ConvTranspose", "Resize", "Upsample", "PRelu", "Div", "Split", "Slice", "Shape", "Gather", "Unsqueeze",
    "Squeeze", "Transpose", "ConstantOfShape",
};

static bool run_node(Onnx *o, const Onnx__NodeProto *n) {
    const char *op = n->op_type;
    bool known = false;
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) known |= strcmp(op, supported[i]) == 0;
    if (!known) return node_error(o, n, "this operator is not supported"), poison(o, n), false;
    if (n->n_output < 1) return node_error(o, n, "it has no output"), false;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return node_error(o, n, arena_printf("operator domain '%s' is not ONNX's", n->domain)), false;
    Val *x = input(o, n, 0);
    Val *y = NULL;
    if (strcmp(op, "Constant") == 0) {
        const Onnx__AttributeProto *a = attr(n, "value");
        if (!a || !a->t) return node_error(o, n, "only a tensor value is supported"), false;
        return add_tensor(o, a->t, n->output[0]);
    }
    for (size_t i = 0; i < n->n_input; i++) {
        const Val *v = n->input[i][0] ? find(o, n->input[i]) : NULL;
        if (n->input[i][0] && !v)
            return node_error(o, n, arena_printf("input '%s' is computed by no earlier node (a cycle, or a dangling "
                                                 "input)", n->input[i])), poison(o, n), false;
        if (v && v->node == POISON) return poison(o, n), false;      /* after an error there: not again */
    }
    if (strcmp(op, "Cast") == 0) {                   /* of a constant (the exporter's clip limits) */
        long long to = attr_i(n, "to", 0);
        if (!x || x->node != -1 || (!x->data && !x->ints) ||
            (to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && to != ONNX__TENSOR_PROTO__DATA_TYPE__INT64))
            return node_error(o, n, "only a cast of a constant to float or int64 is supported"), poison(o, n), false;
        Val *v = alias(o, n->output[0], x);
        v->data = NULL, v->ints = NULL;
        if (to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            float *d = arena_alloc(sizeof(float) * (size_t)(x->numel + 1));
            for (long long i = 0; i < x->numel; i++) d[i] = x->data ? x->data[i] : (float)x->ints[i];
            v->data = d;
        } else {
            int64_t *d = arena_alloc(sizeof(int64_t) * (size_t)(x->numel + 1));
            for (long long i = 0; i < x->numel; i++) {
                float f = x->data ? x->data[i] : 0.0f;
                d[i] = x->data ? (isfinite(f) && fabsf(f) < 9e18f ? (int64_t)f : 0) : x->ints[i];
            }
            v->ints = d;
        }
        return true;
    }
    int folded = fold(o, n);                         /* an operator on constants */
    if (folded) return folded > 0 ? true : (poison(o, n), false);
    if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0) {
        if (!x) return node_error(o, n, "it has no input"), false;
        alias(o, n->output[0], x);
        return true;
    }
    if (strcmp(op, "Conv") == 0) y = conv(o, n);
    else if (strcmp(op, "ConvTranspose") == 0) y = convt(o, n);
    else if (strcmp(op, "Resize") == 0 || strcmp(op, "Upsample") == 0) y = resize(o, n);
    else if (strcmp(op, "PRelu") == 0) y = prelu(o, n);
    else if (strcmp(op, "Slice") == 0) y = slice(o, n);
    else if (strcmp(op, "Split") == 0) return split(o, n) ? true : (poison(o, n), false);
    else if ((strcmp(op, "Reshape") == 0 || strcmp(op, "Transpose") == 0) && (y = shuffle(o, n, x)) != NULL) {
        if (y->node == GROUPED) return true;
    } else if (strcmp(op, "Div") == 0) {
        if (!(y = gelu(o, n, x)) && !(y = mean(o, n, x)))
            return node_error(o, n, "only a division that is part of GELU (x / √2, Erf, + 1, · x, · ½) or a mean "
                                    "(a sum of k values / k) is supported"), poison(o, n), false;
    }
    else if (strcmp(op, "Pad") == 0) y = pad(o, n);
    else if (strcmp(op, "MaxPool") == 0) y = pool(o, n, true);
    else if (strcmp(op, "AveragePool") == 0) y = pool(o, n, false);
    else if (strcmp(op, "BatchNormalization") == 0) y = batchnorm(o, n);
    else if (strcmp(op, "Relu") == 0) y = act(o, n, "relu", "");
    else if (strcmp(op, "Sigmoid") == 0) y = (y = act_function(o, n, x)) ? y : act(o, n, "sigmoid", "");
    else if (strcmp(op, "Tanh") == 0) y = act(o, n, "tanh", "");
    else if (strcmp(op, "HardSwish") == 0) y = act(o, n, "hardswish", "");
    else if (strcmp(op, "LeakyRelu") == 0) y = act(o, n, "leakyrelu", num(attr_f(n, "alpha", 0.01)));
    else if (strcmp(op, "Elu") == 0) y = act(o, n, "elu", num(attr_f(n, "alpha", 1.0)));
    else if (strcmp(op, "Selu") == 0) y = act(o, n, "selu", "");
    else if (strcmp(op, "Softplus") == 0) y = (y = act_function(o, n, x)) ? y : act(o, n, "softplus", "");
    else if (strcmp(op, "HardSigmoid") == 0) {
        double a = attr_f(n, "alpha", 0.2), b = attr_f(n, "beta", 0.5);
        if (fabs(a - 1.0 / 6) > 1e-6 || fabs(b - 0.5) > 1e-6)
            return node_error(o, n, arena_printf("HardSigmoid with alpha %g, beta %g (PyTorch's is 1/6, 1/2)", a, b)),
                   false;
        y = act(o, n, "hardsigmoid", "");
    } else if (strcmp(op, "Clip") == 0) {
        double lo = attr_f(n, "min", -INFINITY), hi = attr_f(n, "max", INFINITY);
        const Val *vmin = input(o, n, 1), *vmax = input(o, n, 2);
        if (vmin) { if (!const_floats(vmin, 1)) return node_error(o, n, "its min is not a constant"), false; lo = vmin->data[0]; }
        if (vmax) { if (!const_floats(vmax, 1)) return node_error(o, n, "its max is not a constant"), false; hi = vmax->data[0]; }
        if (lo == 0 && hi == 6) y = act(o, n, "relu6", "");
        else if (lo == 0 && isinf(hi)) y = act(o, n, "relu", "");
        else if (isfinite(lo) && isfinite(hi)) y = act(o, n, "hardtanh", arena_printf("%s %s", num(lo), num(hi)));
        else return node_error(o, n, "a clip with one open end other than relu is not supported"), false;
    } else if (strcmp(op, "Softmax") == 0) {
        long long axis = attr_i(n, "axis", 1);
        if (!is_layer(x) || !(axis == 1 || (axis == -1 && x->rank == 1)))
            return node_error(o, n, "only a softmax over the features or channels (axis 1) is supported"), false;
        y = act(o, n, "softmax", "");
    } else if (strcmp(op, "Flatten") == 0 || strcmp(op, "Reshape") == 0) {
        if (!is_layer(x)) return node_error(o, n, "its input is not a layer's value"), false;
        if (strcmp(op, "Flatten") == 0 && attr_i(n, "axis", 1) != 1)
            return node_error(o, n, "only a flatten from axis 1 is supported"), false;
        if (strcmp(op, "Reshape") == 0) {
            const Val *s = input(o, n, 1);
            if (!s || !s->ints || s->numel != 2 || !(s->ints[1] == -1 || s->ints[1] == features(x)))
                return node_error(o, n, "only a reshape to [batch, features] (a flatten) is supported"), false;
        }
        Val *ins[1] = { x };
        y = layer(o, n, "flatten", "", ins, 1);
        y->rank = 1;
        y->c = features(x);
    } else if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "GlobalMaxPool") == 0) {
        if (!has_space(x)) return node_error(o, n, "its input is not a C×L, C×H×W or C×D×H×W value"), false;
        Val *ins[1] = { x };
        y = layer(o, n, op[6] == 'A' ? "globalavgpool" : "globalmaxpool", "", ins, 1);
        y->rank = x->rank, y->c = x->c, y->d = y->h = y->w = 1;
    } else if (strcmp(op, "Gemm") == 0) y = dense(o, n, true);
    else if (strcmp(op, "MatMul") == 0) y = dense(o, n, false);
    else if (strcmp(op, "Add") == 0) {
        Val *b = input(o, n, 1);
        if (is_layer(x) && b && b->node < 0 && x->node >= 0 && strcmp(o->g->nodes[x->node].kind, "dense") == 0 &&
            o->g->nodes[x->node].nt == 1 && const_floats(b, x->c)) {      /* MatMul + Add: the dense's bias */
            ImpNode *d = &o->g->nodes[x->node];
            long long bd[1] = { x->c };
            tensor(o, x->node, "bias", b, 1, bd);
            size_t l = strlen(d->args);
            if (l > 7 && strcmp(d->args + l - 7, " nobias") == 0) d->args = arena_strndup(d->args, l - 7);
            alias(o, n->output[0], x);
            return true;
        }
        y = merge(o, n, "add");
    } else if (strcmp(op, "Mul") == 0) {
        if (!(y = mul_function(o, n))) y = merge(o, n, "mul");
    }
    else if (strcmp(op, "Sub") == 0) y = merge(o, n, "sub");
    else if (strcmp(op, "Concat") == 0 && n->n_input == 1) {   /* torch.cat([x]): x */
        if (!x) return node_error(o, n, "it has no input"), poison(o, n), false;
        alias(o, n->output[0], x);
        return true;
    } else if (strcmp(op, "Concat") == 0) y = merge(o, n, "concat");
    else if (strcmp(op, "Transpose") == 0) {
        return node_error(o, n, "only a transpose of a channel shuffle (Reshape [N, g, C/g, H, W], Transpose [0, 2, "
                                "1, 3, 4], Reshape [N, C, H, W]) is supported"), poison(o, n), false;
    } else {
        node_error(o, n, "this operator is not supported");       /* in the list, not handled: a bug */
        return poison(o, n), false;
    }
    if (!y) return poison(o, n), false;
    if (y->rank == 1) y->h = y->w = 1;
    if (y->rank != 4) y->d = 1;
    if (y->c < 1 || y->d < 1 || y->h < 1 || y->w < 1 || y->c > (1LL << 31) || y->d > DIM_MAX || y->h > DIM_MAX ||
        y->w > DIM_MAX || (double)y->c * (double)y->d * (double)y->h * (double)y->w > (double)(1LL << 40)) {
        node_error(o, n, "its output would be empty or too large");
        y->node = POISON;
        return false;
    }
    for (size_t i = 1; i < n->n_output; i++)        /* e.g. Dropout's mask, BatchNorm's training outputs */
        if (n->output[i][0]) add_val(o, n->output[i]);
    return true;
}

int import_onnx(const char *path, ImpGraph *g) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(import_out(), "%s: error: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += r;
        if (len == cap) {
            uint8_t *nb = cap < ((size_t)1 << 32) ? realloc(buf, cap * 2) : NULL;
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(import_out(), "%s: error: too large or out of memory\n", path);
        return 1;
    }
    int errors = import_onnx_bytes(path, buf, len, g);
    free(buf);
    return errors;
}

/* protobuf-c leaves a string field the file does not set NULL: "" instead,
 * everywhere the importer reads one (fix 1), and NULL again before
 * protobuf-c frees the message (fix 0) */
static char empty[1];
static int fixing;
#define FIX(s) do { if (fixing && !(s)) (s) = empty; else if (!fixing && (s) == empty) (s) = NULL; } while (0)

static void fix_tensor(Onnx__TensorProto *t) {
    if (!t) return;
    FIX(t->name);
    for (size_t i = 0; i < t->n_external_data; i++) {
        FIX(t->external_data[i]->key);
        FIX(t->external_data[i]->value);
    }
}

static void fix_strings(Onnx__GraphProto *gr, int fix) {
    fixing = fix;
    for (size_t i = 0; i < gr->n_node; i++) {
        Onnx__NodeProto *n = gr->node[i];
        FIX(n->name);
        FIX(n->op_type);
        FIX(n->domain);
        for (size_t k = 0; k < n->n_attribute; k++) {
            FIX(n->attribute[k]->name);
            fix_tensor(n->attribute[k]->t);
        }
    }
    for (size_t i = 0; i < gr->n_initializer; i++) fix_tensor(gr->initializer[i]);
    for (size_t i = 0; i < gr->n_input; i++) FIX(gr->input[i]->name);
    for (size_t i = 0; i < gr->n_output; i++) FIX(gr->output[i]->name);
}

int import_onnx_bytes(const char *path, const unsigned char *buf, size_t len, ImpGraph *g) {
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m || !m->graph) {
        fprintf(import_out(), "%s: error: not an ONNX model (the protobuf does not decode as a ModelProto with a graph)\n",
                path);
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return 1;
    }
    const char *slash = strrchr(path, '/');
    const Onnx__GraphProto *gr = m->graph;
    Onnx o = { path, slash ? arena_strndup(path, (size_t)(slash - path)) : ".", g, NULL, 0, 0, 0, gr, 0,
               arena_alloc(sizeof(bool) * (gr->n_node + 1)) };
    fix_strings(m->graph, 1);
    for (size_t i = 0; i < gr->n_initializer; i++)
        if (!add_tensor(&o, gr->initializer[i], gr->initializer[i]->name)) o.errors++;

    /* the input: the one graph input that is not an initializer */
    int ninputs = 0;
    for (size_t i = 0; i < gr->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gr->input[i];
        if (find(&o, vi->name)) continue;
        if (ninputs++) {
            fprintf(import_out(), "%s: error: more than one input ('%s' and another): a network has one\n", path, vi->name);
            o.errors++;
            continue;
        }
        const Onnx__TypeProto *tp = vi->type;
        const Onnx__TensorShapeProto *sh = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
                                           tp->tensor_type ? tp->tensor_type->shape : NULL;
        long long d[5] = { 0, 0, 1, 1, 0 };        /* N, C, D, H, W */
        int nd = sh ? (int)sh->n_dim : 0;
        for (int k = 0; k < nd && k < 5; k++)       /* [N, C, L] and [N, C, H, W] as [N, C, 1, 1, L], [N, C, 1, H, W] */
            d[k < 2 ? k : k + 5 - nd] = sh->dim[k]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                                            ? sh->dim[k]->dim_value : -1;
        bool fixed = true;
        for (int k = 1; k < 5; k++) fixed &= d[k] >= 1 && d[k] <= DIM_MAX;
        if (nd < 3 || nd > 5 || !fixed) {
            fprintf(import_out(), "%s: error: input '%s': expected a shape [N, C, H, W], [N, C, L] or [N, C, D, H, W] "
                    "with fixed sizes but N\n", path, vi->name);
            o.errors++;
            continue;
        }
        int id = imp_add(g, "input", NULL, nd == 3 ? arena_printf("%lldx%lld", d[1], d[4])
                                           : nd == 4 ? arena_printf("%lldx%lldx%lld", d[1], d[3], d[4])
                                                     : arena_printf("%lldx%lldx%lldx%lld", d[1], d[2], d[3], d[4]));
        g->nodes[id].origin = arena_printf("input %s", vi->name);
        Val *v = add_val(&o, vi->name);
        v->node = id, v->rank = nd - 1, v->c = d[1], v->d = d[2], v->h = d[3], v->w = d[4];
    }
    if (!ninputs) {
        fprintf(import_out(), "%s: error: the graph has no input\n", path);
        o.errors++;
    }
    if (!o.errors)
        for (o.cur = 0; o.cur < gr->n_node; o.cur++)     /* the constants first: a pattern reads ahead */
            if (strcmp(gr->node[o.cur]->op_type, "Constant") == 0) o.done[o.cur] = true, run_node(&o, gr->node[o.cur]);
    if (!o.errors)
        for (o.cur = 0; o.cur < gr->n_node; o.cur++)
            if (!o.done[o.cur]) run_node(&o, gr->node[o.cur]);
    if (!o.errors) {
        if (gr->n_output != 1) {
            fprintf(import_out(), "%s: error: the graph has %zu outputs; a network has one\n", path, gr->n_output);
            o.errors++;
        } else {
            const Val *out = find(&o, gr->output[0]->name);
            if (!is_layer(out) || out->node == 0) {
                fprintf(import_out(), "%s: error: the output '%s' is not computed by a layer\n", path, gr->output[0]->name);
                o.errors++;
            } else {
                g->output = out->node;
            }
        }
    }
    fix_strings(m->graph, 0);
    onnx__model_proto__free_unpacked(m, NULL);
    if (o.errors) return o.errors;
    chain_concats(g);
    return 0;
}
