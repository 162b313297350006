/*
 * emit.c — the IR drives the m4 templates (compiler/templates/).
 *
 * The compiler writes data only: m4 definitions of the network's globals
 * (NET_*, write_globals) and, per emitted layer, its fields (L_*) followed
 * by one macro call (M4_CONV, M4_DENSE, ...), which the layer's kind writes
 * through the em_* calls here (its emit hook, compiler/kind_*.c).  The templates hold all C text.  Weights
 * go to a plain list of float literals that the source template pastes in
 * unread (m4_undivert of a file), or, past --embed-limit, to a binary
 * sidecar file NETWORK.weights that the generated code loads and checks.
 *
 * m4 runs as `m4 -P --fatal-warnings`; its output goes to temporary files
 * beside the destination, renamed only when everything succeeded, so a
 * failure leaves no half-written output.  Output is deterministic: no
 * dates, no absolute paths.
 */
#include "kind.h"
#include "cnnrt_file.h"   /* output files (runtime/outfile.c) */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#ifndef CNNC_TEMPLATE_DIR
#define CNNC_TEMPLATE_DIR "compiler/templates"
#endif

/* Images a thread takes through run_many() at a time (NAME_CHUNK in the
 * .c; -DNAME_CHUNK=k overrides it): the layers whose weights outweigh an
 * image's activations run over all of them, each weight read once a
 * chunk.  On the AMD EPYC here, 1 thread: ResNet-18 batch 8 18.9 -> 15.7
 * ms an image, LeNet-5 batch 64 0.0154 -> 0.0136 ms, ResNet-20 batch 64
 * unchanged (chunk 1 -> 8, --standalone, fastest of 5 runs). */
#define CHUNK_IMAGES 8

static const char *const template_files[] = {
    "cnnc.m4", "gemm.m4", "conv.m4", "dense.m4", "pool.m4", "norm.m4", "eltwise.m4", "q8.m4", "source.m4",
    "header.m4",
};

/* ---- names --------------------------------------------------------------- */

/* Keep only characters that are safe in C comments and m4 quotes. */
static const char *clean(const char *s) {
    char *o = arena_strdup(s);
    for (char *p = o; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("._-/+ ,", c))
            *p = '?';
    }
    return o;
}

/* A C identifier from a dotted name: layer1.0.conv1 -> layer1_0_conv1 */
static const char *c_ident(const char *s) {
    char *o = arena_printf("%s", s);
    for (char *p = o; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    return o;
}

static const char *upper(const char *s) {
    char *o = arena_strdup(s);
    for (char *p = o; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return o;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A float literal without its f: 0.01, 2.0, -1.0, 1e-05 */
const char *em_float(double v) {
    const char *s = arena_printf("%.9g", v);
    return strpbrk(s, ".eni") ? s : arena_printf("%s.0", s);
}

static const char *shape_ascii(Shape s) {
    return s.rank == 1 ? arena_printf("[%lld]", s.c) : shape_join(s, "x");
}

/* ---- weights --------------------------------------------------------------- */

typedef struct Weights {
    float *data;
    long long n, cap;
} Weights;

static long long put(Weights *w, const float *src, long long n) {
    if (!src) return -1;
    if (w->n + n > w->cap) {
        long long cap = w->cap ? w->cap : 4096;
        while (cap < w->n + n) cap *= 2;
        float *d = realloc(w->data, sizeof(float) * (size_t)cap);
        if (!d) {
            fputs("cnnc: error: out of memory\n", stderr);
            exit(2);
        }
        w->data = d;
        w->cap = cap;
    }
    long long off = w->n;
    memcpy(w->data + off, src, sizeof(float) * (size_t)n);
    w->n += n;
    return off;
}

static unsigned long long fnv(unsigned long long h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* ---- per-layer data ------------------------------------------------------- */

static Node *root(Node *n) {
    while (n->alias) n = n->alias;
    return n;
}

struct Emitter {
    FILE *d;                  /* the layers' m4 data */
    Graph *g;
    Node *out_root;
    const Node *cur;          /* the layer being written (em_buf: its inputs' precision is its own) */
    Weights w;
    const char **id;          /* unique C identifier per node id (c1, layer1_0_conv1) */
    const char **fn;          /* C function name per node id (layer_c1) */
    unsigned long long hash;
    bool standalone;          /* no BLAS: our own GEMM, packed weights */
    bool wino;                /* some conv runs as Winograd (the header says what that means for NaN) */
    long long stack;          /* the most bytes a layer keeps on its thread's stack (the header says) */
    const char **ldefs;       /* the L_* macros the current layer defined */
    int nldefs, capldefs;
    bool q8;                  /* some layer runs in int8 (--quantize int8) */
    signed char *q8w;         /* the int8 layers' weights (NET_q8w) */
    long long nq8w, capq8w;
    int32_t *q32;             /* their per-channel integers (NET_q32) */
    long long nq32, capq32;
    const char *q8w_file, *q32_file;   /* their text, pasted into the .c */
};

void em_def(Emitter *e, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    m4_vdefine(e->d, name, fmt, ap);
    va_end(ap);
    if (strncmp(name, "L_", 2) != 0) return;
    for (int i = 0; i < e->nldefs; i++)
        if (strcmp(e->ldefs[i], name) == 0) return;
    if (e->nldefs == e->capldefs) {          /* a concat defines some per input */
        e->capldefs = e->capldefs ? 2 * e->capldefs : 64;
        const char **d = arena_alloc(sizeof *d * (size_t)e->capldefs);
        if (e->nldefs) memcpy(d, e->ldefs, sizeof *d * (size_t)e->nldefs);
        e->ldefs = d;
    }
    e->ldefs[e->nldefs++] = arena_strdup(name);
}

/* After a layer's macro call, every L_* it defined stops the run when read:
 * a template that reads a field its layer did not set fails, instead of
 * reading the previous layer's value.  (A field no layer set reads as its
 * own name, which the C compiler rejects.) */
static void end_layer(Emitter *e) {
    for (int i = 0; i < e->nldefs; i++)
        fprintf(e->d, "m4_define([[%s]], [[m4_errprint([[cnnc: template error: %s read outside its layer]]\n)"
                "m4_m4exit(1)]])m4_dnl\n", e->ldefs[i], e->ldefs[i]);
    e->nldefs = 0;
}

/* A buffer of run(): IN, OUT, or the arena's buf_<layer> at <which>OFF (an
 * int8 input or output has its buffer in the arena: the caller's are float).
 * In an int8 build a layer reads its inputs in its own precision: the
 * caller's float input, or an output's copy in the other precision
 * (cpy_<layer>, pass_quantize). */
void em_buf(Emitter *e, const char *which, Node *n) {
    Node *r = root(n);
    bool q8 = e->cur && r != e->cur ? e->cur->q8 : r->q8;
    const char *where = r->kind->id == K_INPUT && !q8 ? "IN" : r == e->out_root && !q8 ? "OUT"
                        : q8 != r->q8 ? arena_printf("cpy_%s", e->id[r->id]) : arena_printf("buf_%s", e->id[r->id]);
    long long off = r->kind->id != K_INPUT && q8 != r->q8 ? r->copy_off : r->buf_off;
    em_def(e, which, "%s", where);
    em_def(e, arena_printf("%sOFF", which), "%lld", off >= 0 ? off / 4 : 0);
}

/* "conv+tanh": the layer's kind with the activation its code applies */
static const char *kind_text(const Node *n, const char *kind) {
    if (!n->act || act_of_kind(n->kind->id)) return kind;
    return arena_printf("%s+%s", kind, act_defs[n->act].name);
}

void em_layer(Emitter *e, Node *n, const char *kind) {
    em_def(e, "L_FN", "%s", e->fn[n->id]);
    em_def(e, "L_ID", "%s", e->id[n->id]);
    em_def(e, "L_NODE", "%d", n->id);
    em_def(e, "L_LABEL", "%s", clean(n->name));
    em_def(e, "L_KIND", "%s", kind_text(n, kind));
    em_def(e, "L_LINE", "%d", n->loc.line);
    em_def(e, "L_IN", "%s", shape_ascii(n->in[0]->shape));
    em_def(e, "L_OUT", "%s", shape_ascii(n->shape));
    em_def(e, "L_NOTE", "%s", n->note ? clean(n->note) : "");
    em_def(e, "L_ACT", "%s", act_defs[n->act].m4);
    em_def(e, "L_ACT_A", "%s", em_float(act_defs[n->act].nparam > 0 ? n->act_p[0] : 0.0));
    em_def(e, "L_ACT_B", "%s", em_float(act_defs[n->act].nparam > 1 ? n->act_p[1] : 0.0));
    em_buf(e, "L_X", n->in[0]);
    em_buf(e, "L_Y", n);
    /* the thread plan (conv, dense and pool layers may be shared out) */
    em_def(e, "L_SPLIT", "%d", layer_shared(n, e->standalone, NULL));
    /* a batch goes through it layer by layer (L_BATCH 1: its weights
     * outweigh an image's input and output, and it is a matrix-vector
     * product, which reads each weight once an image, or they are over
     * 256 KB, more than stays in cache from one image to the next) or
     * image by image (ResNet-20's 64-channel convs: 1.1x slower a batch
     * layer by layer) */
    /* CNNC_BATCH_WEIGHTS=N: from N weights instead (a knob for tests: 0
     * runs the batched code of every conv whose weights outweigh) */
    bool matvec = n->kind->id == K_DENSE || (n->kind->id == K_CONV && n->shape.h * n->shape.w == 1);
    const char *knob = getenv("CNNC_BATCH_WEIGHTS");
    em_def(e, "L_BATCH", "%d", !target->ram_first && !e->q8 && n->params > shape_numel(n->in[0]->shape) + shape_numel(n->shape) &&
                               (matvec || n->params > (knob ? atoll(knob) : 65536)));
    e->hash = fnv(e->hash, n->name, strlen(n->name) + 1);
    e->hash = fnv(e->hash, kind, strlen(kind) + 1);
}

long long em_put(Emitter *e, const float *src, long long n) { return put(&e->w, src, n); }

/* grow *p (of *cap elements of size sz) to hold need */
static void *grow(void *p, long long *cap, long long need, size_t sz) {
    if (need <= *cap) return p;
    long long c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    void *q = realloc(p, sz * (size_t)c);
    if (!q) {
        fputs("cnnc: error: out of memory\n", stderr);
        exit(2);
    }
    *cap = c;
    return q;
}

long long em_put_q8(Emitter *e, const signed char *src, long long n) {
    long long at = (e->nq8w + 63) / 64 * 64;          /* each block on a cache line (and a zmm) */
    e->q8w = grow(e->q8w, &e->capq8w, at + n, 1);
    memset(e->q8w + e->nq8w, 0, (size_t)(at - e->nq8w));
    e->nq8w = at;
    memcpy(e->q8w + e->nq8w, src, (size_t)n);
    e->nq8w += n;
    return e->nq8w - n;
}

long long em_put_q32(Emitter *e, const int32_t *src, long long n) {
    e->q32 = grow(e->q32, &e->capq32, e->nq32 + n, sizeof(int32_t));
    memcpy(e->q32 + e->nq32, src, sizeof(int32_t) * (size_t)n);
    e->nq32 += n;
    return e->nq32 - n;
}
void em_call(Emitter *e, const char *macro) { fprintf(e->d, "%s\n", macro); }
void em_hash(Emitter *e, const void *p, size_t n) { e->hash = fnv(e->hash, p, n); }
bool em_standalone(const Emitter *e) { return e->standalone; }
void em_winograd(Emitter *e) { e->wino = true; }
void em_stack(Emitter *e, long long bytes) { if (bytes > e->stack) e->stack = bytes; }

/* The fields of a step that is not a layer of its own: the input's
 * quantization, the output's dequantization (on one thread, image by image). */
static void em_step(Emitter *e, const Node *n, const char *fn, const char *what) {
    em_def(e, "L_FN", "%s", fn);
    em_def(e, "L_ID", "%s", e->id[n->id]);
    em_def(e, "L_NODE", "%d", n->id);
    em_def(e, "L_LABEL", "%s", clean(n->name));
    em_def(e, "L_KIND", "%s", what);
    em_def(e, "L_LINE", "%d", n->loc.line);
    em_def(e, "L_IN", "%s", shape_ascii(n->shape));
    em_def(e, "L_OUT", "%s", shape_ascii(n->shape));
    em_def(e, "L_NOTE", "%s", "");
    em_def(e, "L_SPLIT", "0");
    em_def(e, "L_BATCH", "0");
    em_def(e, "L_N", "%lld", shape_numel(n->shape));
    em_def(e, "L_C", "%lld", n->shape.c);               /* int8 is channels last: [L_N / L_C][L_C] */
    em_def(e, "L_OUTN", "%lld", shape_numel(n->shape));
    em_def(e, "L_OUTC", "%lld", n->shape.c);
    em_def(e, "L_SCALE", "%.9gf", (double)n->q_scale);
    em_def(e, "L_ZP", "%d", n->q_zp);
}

void em_q8(Emitter *e, const Node *n) {
    em_def(e, "L_ZPI", "%d", root(n->in[0])->q_zp);
    em_def(e, "L_ZPO", "%d", n->q_zp);
    em_def(e, "L_OUTN", "%lld", shape_numel(n->shape));
    em_def(e, "L_OUTC", "%lld", n->shape.c);
    em_def(e, "L_LO", "%d", n->q_lo);
    em_def(e, "L_HI", "%d", n->q_hi);
}

void em_q8_channels(Emitter *e, const Node *n, const signed char *w, long long nw, const int32_t *bias) {
    em_def(e, "L_QWOFF", "%lld", em_put_q8(e, w, nw));
    em_def(e, "L_QBOFF", "%lld", em_put_q32(e, bias, n->out));
    em_def(e, "L_QMOFF", "%lld", em_put_q32(e, n->q_mult, n->out));
    em_def(e, "L_QSOFF", "%lld", em_put_q32(e, n->q_shift, n->out));
}

/* A layer's data: its kind's emit hook (compiler/kind_*.c), or its int8 one. */
static int emit_layer(Emitter *e, Node *n) {
    if (n->q8) {                          /* (e->q8 is set before the layers: emit_c) */
        e->hash = fnv(e->hash, "q8", 3);
        if (n->kind->emit_q8) return n->kind->emit_q8(e, n);
        diag_error(n->loc, "%s '%s': no int8 code for this kind", n->kind->name, n->name);
        return 1;
    }
    if (n->kind->emit) return n->kind->emit(e, n);
    diag_error(n->loc, "%s '%s': no code template for this kind", n->kind->name, n->name);
    return 1;
}

/* ---- running m4 ----------------------------------------------------------- */

/* m4 -P --fatal-warnings [-DM4_WEIGHTS_FILE=...] files... > out (a file descriptor) */
static int run_m4(const char **files, int nfiles, const char *weights_file, int outfd) {
    return m4_run(weights_file ? arena_printf("M4_WEIGHTS_FILE=%s", weights_file) : NULL, files, nfiles, outfd);
}

static void put_u64(unsigned char *p, unsigned long long v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- the network's globals: what the header says about the model --------- */

/* NET_* to path: names, shapes, sizes, the weights' form, the table of
 * layers, the input normalisation from the weights' metadata.  0, 1 after
 * an error in that metadata (said), -1 when path could not be written. */
static int write_globals(const char *path, const Emitter *e, const Plan *plan, const EmitOptions *o,
                         const char *h_path, const char *w_path, bool sidecar, unsigned long long hash) {
    const char *net = c_ident(e->g->name), *c_path = o->out_c;
    FILE *gf = fopen(path, "w");
    if (!gf) return -1;
    Emitter ge = { .d = gf };
    const Shape in = e->g->nodes[0]->shape, out = e->g->output->shape;
    em_def(&ge, "NET", "%s", net);
    em_def(&ge, "NET_UPPER", "%s", upper(net));
    em_def(&ge, "NET_SOURCE", "%s", clean(o->source_name));
    em_def(&ge, "NET_VERSION", "%s", CNNC_VERSION);
    em_def(&ge, "NET_ORIGIN", "%s", clean(o->weights_origin));
    em_def(&ge, "NET_CFILE", "%s", clean(base_name(c_path)));
    em_def(&ge, "NET_HFILE", "%s", clean(base_name(h_path)));
    em_def(&ge, "NET_WFILE", "%s", clean(base_name(w_path)));
    em_def(&ge, "NET_IN_C", "%lld", in.c);
    em_def(&ge, "NET_IN_H", "%lld", in.h);
    em_def(&ge, "NET_IN_W", "%lld", in.w);
    em_def(&ge, "NET_IN_SHAPE", "%s", shape_ascii(in));
    em_def(&ge, "NET_IN_SIZE", "%lld", shape_numel(in));
    em_def(&ge, "NET_OUT_RANK", "%d", out.rank);
    em_def(&ge, "NET_OUT_C", "%lld", out.c);
    em_def(&ge, "NET_OUT_H", "%lld", out.h);
    em_def(&ge, "NET_OUT_W", "%lld", out.w);
    em_def(&ge, "NET_OUT_SHAPE", "%s", shape_ascii(out));
    em_def(&ge, "NET_OUT_SIZE", "%lld", shape_numel(out));
    em_def(&ge, "NET_ARENA_FLOATS", "%lld", plan->arena_bytes / 4);
    em_def(&ge, "NET_WEIGHT_FLOATS", "%lld", e->w.n > 0 ? e->w.n : 1);
    em_def(&ge, "NET_SIDECAR", "%d", sidecar);
    em_def(&ge, "NET_ALIGN", "%d", target->align);
    em_def(&ge, "NET_Q8", "%d", e->q8);
    em_def(&ge, "NET_INT8_IO", "%d", o->int8_io);          /* the caller's input and output are int8 */
    em_def(&ge, "NET_IN_T", "%s", o->int8_io ? "int8_t" : "float");
    em_def(&ge, "NET_OUT_T", "%s", o->int8_io ? "int8_t" : "float");
    em_def(&ge, "NET_Q8W_COUNT", "%lld", e->nq8w > 0 ? e->nq8w : 1);
    em_def(&ge, "NET_Q32_COUNT", "%lld", e->nq32 > 0 ? e->nq32 : 1);
    const Node *qi = e->g->nodes[0], *qo = e->out_root;
    em_def(&ge, "NET_Q8_IN_SCALE", "%.9gf", qi->q8 ? (double)qi->q_scale : 1.0);
    em_def(&ge, "NET_Q8_IN_ZP", "%d", qi->q8 ? qi->q_zp : 0);
    em_def(&ge, "NET_Q8_OUT_SCALE", "%.9gf", qo->q8 ? (double)qo->q_scale : 1.0);
    em_def(&ge, "NET_Q8_OUT_ZP", "%d", qo->q8 ? qo->q_zp : 0);
    em_def(&ge, "NET_Q8_CALIB", "%s", clean(o->calib ? o->calib : ""));
    em_def(&ge, "NET_HASH", "%llu", hash);
    em_def(&ge, "NET_STANDALONE", "%d", o->standalone);
    bool blas = false;                 /* does some layer call OpenBLAS? */
    for (int i = 0; i < e->g->nnodes; i++)
        if (!e->g->nodes[i]->removed && !e->g->nodes[i]->alias && !e->g->nodes[i]->q8)
            blas = blas || layer_blas(e->g->nodes[i], o->standalone);
    em_def(&ge, "NET_BLAS", "%d", blas);
    em_def(&ge, "NET_PROFILE", "%d", o->profile);
    em_def(&ge, "NET_TRACE", "%d", o->trace);
    em_def(&ge, "NET_TARGET", "%s", target->name);
    em_def(&ge, "NET_TARGET_TEST", "%s", target->arch_test ? target->arch_test : "");
    em_def(&ge, "NET_TARGET_CC", "%s", target->cc);
    em_def(&ge, "NET_SIMD", "%s", target->simd);
    em_def(&ge, "NET_RAM_FIRST", "%d", target->ram_first);
    em_def(&ge, "NET_WINO", "%d", e->wino);
    em_def(&ge, "NET_STACK", "%lld", e->stack);
    em_def(&ge, "NET_COPY_INPUT", "%d", e->out_root->kind->id == K_INPUT);
    em_def(&ge, "NET_TRAINED", "%d", o->trained);
    /* what the output is: the layer that writes it, and whether that is a softmax */
    em_def(&ge, "NET_OUT_LAYER", "%s", clean(e->out_root->name));
    em_def(&ge, "NET_OUT_KIND", "%s", kind_text(e->out_root, e->out_root->kind->name));
    em_def(&ge, "NET_OUT_SOFTMAX", "%d", e->out_root->kind->id == K_SOFTMAX);
    em_def(&ge, "NET_OUT_ACT", "%s", act_defs[e->out_root->act].m4);
    /* the table of layers in the header: one M4_LAYER_ROW(name, kind, line,
     * shape, what became of it) per node, names padded to NET_NAME_W */
    size_t name_w = 5;
    for (int i = 0; i < e->g->nnodes; i++)
        if (strlen(e->g->nodes[i]->name) > name_w) name_w = strlen(e->g->nodes[i]->name);
    em_def(&ge, "NET_NAME_W", "%zu", name_w);
    fputs("m4_define([[NET_LAYERS]], [[", gf);
    for (int i = 0; i < e->g->nnodes; i++) {
        Node *n = e->g->nodes[i];
        const char *fate = "";
        if (n->alias) fate = arena_printf("no code: the memory of %s", clean(root(n)->name));
        else if (n->removed) fate = arena_printf("done by %s's code", clean(n->in[0]->name));
        else if (n == e->out_root && n->kind->id != K_INPUT) fate = "the output";
        fprintf(gf, "M4_LAYER_ROW([[%s]], [[%s]], [[%d]], [[%s]], [[%s]])", clean(n->name),
                clean(kind_text(n, n->kind->name)), n->loc.line, shape_ascii(n->shape), fate);
    }
    fputs("]])m4_dnl\n", gf);
    /* input normalisation from the checkpoint: "MEAN,STD" or C means then C stds */
    const char *norm = weights_metadata(e->g, "normalize");
    double nmean[NORM_MAX_CHANNELS], nstd[NORM_MAX_CHANNELS];
    if (weights_normalize(e->g, in.c, nmean, nstd) < 0) {
        diag_file_error(o->weights_origin, "metadata 'normalize' is \"%s\": expected MEAN,STD or "
                        "%lld means then %lld standard deviations (all finite, deviations > 0)",
                        norm, in.c, in.c);
        fclose(gf);
        return 1;
    }
    /* --int8-io: the caller normalises and quantizes (the header says how) */
    em_def(&ge, "NET_IO_NORM_ON", "%d", norm && o->int8_io);
    em_def(&ge, "NET_IO_NORM", "%s", norm && o->int8_io ? clean(norm) : "");
    if (o->int8_io) norm = NULL;
    em_def(&ge, "NET_NORM", "%d", norm != NULL);
    /* one image's workspace (a slot): the arena, the normalised input, whole
     * multiples of the arena's alignment so that slots follow each other */
    em_def(&ge, "NET_WS_FLOATS", "%lld", conv_round_up(plan->arena_bytes / 4 + (norm ? shape_numel(in) : 0),
                                                       target->align / 4));
    em_def(&ge, "NET_MANY", "%d", !target->ram_first && !e->q8);   /* int8: image by image for now */
    em_def(&ge, "NET_CHUNK", "%d", CHUNK_IMAGES);
    if (norm) {
        char mean[2048] = "", stdv[2048] = "";
        for (long long c = 0; c < in.c; c++) {
            double m = nmean[c], sd = nstd[c];
            snprintf(mean + strlen(mean), sizeof mean - strlen(mean), "%s%.9gf", c ? ", " : "", m);
            snprintf(stdv + strlen(stdv), sizeof stdv - strlen(stdv), "%s%.9gf", c ? ", " : "", sd);
        }
        em_def(&ge, "NET_NORM_MEAN", "%s", mean);
        em_def(&ge, "NET_NORM_STD", "%s", stdv);
        em_def(&ge, "NET_NORM_TEXT", "%s", clean(norm));
    }
    return fclose(gf) == 0 ? 0 : -1;

}

/* ---- weights ------------------------------------------------------------------ */

/* The weights as C literals, which the source template pastes unread
 * (nothing with a sidecar).  0, or -1 when path could not be written. */
static int write_weights_text(const char *path, const Weights *w, bool sidecar) {
    FILE *wf = fopen(path, "w");
    if (!wf) return -1;
    if (!sidecar) {
        for (long long i = 0; i < (w->n > 0 ? w->n : 1); i++) {
            char num[48];
            snprintf(num, sizeof num, "%.9g", w->n > 0 ? (double)w->data[i] : 0.0);
            if (!strpbrk(num, ".e")) strcat(num, ".0");
            fprintf(wf, "%s%sf,", i % 8 == 0 ? "    " : " ", num);
            if (i % 8 == 7) fputc('\n', wf);
        }
        fputc('\n', wf);
    }
    return fclose(wf) == 0 ? 0 : -1;

}

/* The int8 blocks as C initialisers: the weights, then the int32s. */
static int write_q8_text(const Emitter *e) {
    FILE *a = fopen(e->q8w_file, "w"), *b = fopen(e->q32_file, "w");
    int ok = a && b;
    for (long long i = 0; ok && i < (e->nq8w > 0 ? e->nq8w : 1); i++)
        ok = fprintf(a, "%s%d,%s", i % 16 == 0 ? "    " : " ", e->nq8w > 0 ? e->q8w[i] : 0, i % 16 == 15 ? "\n" : "") > 0;
    for (long long i = 0; ok && i < (e->nq32 > 0 ? e->nq32 : 1); i++)
        ok = fprintf(b, "%s%ld,%s", i % 8 == 0 ? "    " : " ", e->nq32 > 0 ? (long)e->q32[i] : 0L, i % 8 == 7 ? "\n" : "") > 0;
    if (ok) ok = fputc('\n', a) != EOF && fputc('\n', b) != EOF;
    if (a && fclose(a) != 0) ok = 0;
    if (b && fclose(b) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* The sidecar NETWORK.weights, which the generated code loads and checks: "CNNCWTS1", the
 * interface hash and the float count (u64, little-endian), the floats
 * (little-endian), then the FNV-1a hash of their bytes.  true: written. */
static bool write_sidecar(cnnrt_outfile *f, const Weights *w, unsigned long long hash) {
    unsigned char head[24], tail[8];
    memcpy(head, "CNNCWTS1", 8);
    put_u64(head + 8, hash);
    put_u64(head + 16, (unsigned long long)w->n);
    unsigned char *le = malloc((size_t)w->n * 4 + 1);
    if (!le) return false;
    for (long long i = 0; i < w->n; i++) {
        unsigned int u;
        memcpy(&u, &w->data[i], 4);
        for (int b = 0; b < 4; b++) le[i * 4 + b] = (unsigned char)(u >> (8 * b));
    }
    put_u64(tail, fnv(14695981039346656037ULL, le, (size_t)w->n * 4));
    bool ok = cnnrt_outfile_write(f, head, 24) == 0 && cnnrt_outfile_write(f, le, (size_t)w->n * 4) == 0 &&
              cnnrt_outfile_write(f, tail, 8) == 0;
    free(le);
    return ok;
}

/* ---- entry ------------------------------------------------------------------ */

int emit_c(Graph *g, const Plan *plan, const EmitOptions *o) {
    int nerr = 0;
    bool tmp_fail = false;    /* a temporary file could not be written */
    bool out_fail = false;    /* an output file could not be written (already said) */
    Emitter e = { .g = g, .out_root = root(g->output), .hash = 1469598103934665603ULL,
                  .standalone = o->standalone };
    const char *c_path = o->out_c;
    const char *h_path = arena_printf("%.*sh", (int)(strlen(c_path) - 1), c_path);
    const char *w_path = arena_printf("%.*sweights", (int)(strlen(c_path) - 1), c_path);

    /* unique C names from the layer names: layer_<id> for its function,
     * w_<id>, b_<id>, buf_<id> ... for its weights and buffers */
    e.id = arena_alloc(sizeof(char *) * (size_t)g->nnodes);
    e.fn = arena_alloc(sizeof(char *) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        const char *base = c_ident(g->nodes[i]->name);
        const char *nm = base;
        for (int k = 2;; k++) {
            bool taken = false;
            for (int j = 0; j < i && !taken; j++) taken = strcmp(e.id[j], nm) == 0;
            if (!taken) break;
            nm = arena_printf("%s_%d", base, k);
        }
        e.id[i] = nm;
        e.fn[i] = arena_printf("layer_%s", nm);
    }

    /* temporary files: layer data, weights text, outputs */
    char dtmpl[] = "/tmp/cnnc.XXXXXX";
    if (!mkdtemp(dtmpl)) {
        fprintf(stderr, "cnnc: error: cannot create a temporary folder: %s\n", strerror(errno));
        return 2;
    }
    const char *dir = arena_strdup(dtmpl);
    const char *globals = arena_printf("%s/globals.m4", dir);
    const char *layers = arena_printf("%s/layers.m4", dir);
    const char *wtext = arena_printf("%s/weights.txt", dir);
    e.q8w_file = arena_printf("%s.q8w", wtext);    /* source.m4 names them after M4_WEIGHTS_FILE */
    e.q32_file = arena_printf("%s.q32", wtext);
    e.d = fopen(layers, "w");
    if (!e.d) { tmp_fail = true; goto cleanup; }
    fputs("M4_BEGIN\n", e.d);
    for (int i = 0; i < g->nnodes; i++) e.q8 |= g->nodes[i]->q8 && !g->nodes[i]->removed;
    if (g->nodes[0]->q8) {               /* int8 network: the float input quantized first */
        Node *in = g->nodes[0];
        em_step(&e, in, e.fn[in->id], "quantize to int8");
        em_def(&e, "L_X", "IN");
        em_def(&e, "L_XOFF", "0");
        em_buf(&e, "L_Y", in);
        em_call(&e, "M4_Q8_IN");
        end_layer(&e);
    }
    for (int i = 1; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed) continue;
        long long w0 = e.w.n;
        e.cur = n;
        nerr += emit_layer(&e, n);
        e.cur = NULL;
        end_layer(&e);
        if (n->q_copy) {                /* int8 build: its output in the other precision for its readers */
            em_step(&e, n, arena_printf("copy_%s", e.id[n->id]),
                    n->q8 ? "dequantize a copy to float" : "quantize a copy to int8");
            em_buf(&e, "L_X", n);
            em_def(&e, "L_Y", "cpy_%s", e.id[n->id]);
            em_def(&e, "L_YOFF", "%lld", n->copy_off / 4);
            em_call(&e, n->q8 ? "M4_Q8_FLOAT_COPY" : "M4_Q8_COPY");
            end_layer(&e);
        }
        for (long long k = w0; k < e.w.n && !nerr; k++)
            if (!isfinite(e.w.data[k])) {    /* finite weights made infinite by folding a batchnorm */
                diag_error(n->loc, "%s '%s': its weights%s hold %s; nothing is written", n->kind->name, n->name,
                           n->note ? arena_printf(" (%s)", n->note) : "", isnan(e.w.data[k]) ? "NaN" : "infinity");
                nerr++;
            }
    }
    if (e.out_root->q8 && !nerr) {      /* and the int8 output dequantized last */
        Node *o = e.out_root;
        em_step(&e, o, arena_printf("%s_float", e.fn[o->id]), "dequantize to float");
        em_buf(&e, "L_X", o);
        em_def(&e, "L_Y", "OUT");
        em_def(&e, "L_YOFF", "0");
        em_call(&e, "M4_Q8_OUT");
        end_layer(&e);
    }
    fputs("M4_FINISH\n", e.d);
    if (fclose(e.d) != 0) tmp_fail = true;
    if (nerr || tmp_fail) goto cleanup;

    bool sidecar = e.w.n * 4 > o->max_baked_bytes;
    e.hash = fnv(e.hash, &e.w.n, sizeof e.w.n);
    unsigned long long hash = e.hash & 0x7fffffffffffffffULL;

    int gerr = write_globals(globals, &e, plan, o, h_path, w_path, sidecar, hash);
    if (gerr) {
        if (gerr > 0) nerr++;
        else tmp_fail = true;
        goto cleanup;
    }

    if (write_weights_text(wtext, &e.w, sidecar) != 0 || write_q8_text(&e) != 0) { tmp_fail = true; goto cleanup; }

    /* the interface hash: of everything the header is generated from (the
     * globals hold the version, names, shapes, sizes and the weights' form);
     * the .h defines it and the .c refuses to compile against another */
    if (m4_define_interface_hash(globals) != 0) { tmp_fail = true; goto cleanup; }

    /* run m4 twice, the .c and the .h, straight into the output files (see
     * cnnrt_file.h: temporaries renamed at the end, or devices in place) */
    const char *tdir = m4_template_dir();
    const char *files[16];
    int nf = 0;
    for (size_t i = 0; i < sizeof template_files / sizeof *template_files; i++)
        files[nf++] = arena_printf("%s/%s", tdir, template_files[i]);
    files[nf++] = globals;
    files[nf++] = layers;
    /* committed in this order: the sidecar, the .h, then the .c */
    cnnrt_outfile outs[3];
    const char *out_path[3];
    int nout = 0;
    if (sidecar) out_path[nout++] = w_path;
    out_path[nout++] = h_path;
    out_path[nout++] = c_path;
    for (int i = 0; i < nout; i++)
        if (cnnrt_outfile_open(&outs[i], out_path[i]) != 0) {
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", out_path[i], strerror(errno));
            while (i-- > 0) cnnrt_outfile_abort(&outs[i]);
            out_fail = true;
            goto cleanup;
        }
    cnnrt_outfile *cf = &outs[nout - 1], *hf = &outs[nout - 2], *wf_out = sidecar ? &outs[0] : NULL;
    const char *failed = c_path;
    bool ok = run_m4(files, nf, wtext, cf->fd) == 0;
    const char *hfiles[16];
    int nh = 0;
    for (int i = 0; i < nf - 1; i++) hfiles[nh++] = files[i];    /* no layers */
    hfiles[nh++] = arena_printf("%s/header_call.m4", dir);
    FILE *hc = fopen(hfiles[nh - 1], "w");
    ok = ok && hc && fputs("M4_HEADER\n", hc) >= 0;
    if (hc) ok = fclose(hc) == 0 && ok;
    if (ok && !(ok = run_m4(hfiles, nh, NULL, hf->fd) == 0)) failed = h_path;
    if (ok && wf_out) {
        failed = w_path;
        ok = write_sidecar(wf_out, &e.w, hash);
    }
    if (ok) {
        failed = c_path;
        ok = cnnrt_outfile_commit_all(outs, nout) == 0;
    } else {
        for (int i = 0; i < nout; i++) cnnrt_outfile_abort(&outs[i]);
    }
    if (!ok) {
        fprintf(stderr, "cnnc: error: cannot write '%s'%s%s; nothing was written\n", failed,
                errno ? ": " : "", errno ? strerror(errno) : "");
        out_fail = true;
    } else if (!sidecar && !cnnrt_path_is_special(w_path)) {
        unlink(w_path);          /* a stale sidecar from an earlier run would mislead */
    }

cleanup:
    if (tmp_fail)
        fprintf(stderr, "cnnc: error: cannot write a temporary file in %s: %s\n", dir, strerror(errno));
    unlink(globals);
    unlink(layers);
    unlink(wtext);
    unlink(e.q8w_file);
    unlink(e.q32_file);
    unlink(arena_printf("%s/header_call.m4", dir));
    rmdir(dir);
    free(e.w.data);
    free(e.q8w);
    free(e.q32);
    return nerr ? 1 : out_fail || tmp_fail ? 2 : 0;
}
