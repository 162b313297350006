/*
 * cnnc.h — the one internal header of the cnnc compiler.
 *
 * Sectioned by the file that owns each declaration (chibicc style).  The
 * pipeline, in the order main.c runs it:
 *
 *   source text --lex.l/parse.y--> AST (Stmt/Expr/Arg, every node has a Loc)
 *              --sema.c---------> IR graph (Node), names resolved, blocks expanded
 *              --shape.c--------> every Node gets its output shape, params, MACs, RF
 *              --report.c-------> text table / JSON
 *
 * Each phase reports through diag.c and returns its error count; the driver
 * stops after a phase that reported errors.  All memory comes from one arena
 * (arena_alloc) freed at exit.
 */
#ifndef CNNC_H
#define CNNC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#define CNNC_VERSION "0.1.0"

/* ===== arena.c ========================================================== */
void *arena_alloc(size_t n);               /* zeroed; aborts only on OOM */
char *arena_strdup(const char *s);
char *arena_strndup(const char *s, size_t n);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void arena_free_all(void);

/* ===== diag.c =========================================================== */
typedef struct SrcFile {
    const char *name;        /* as the user named it (or as included) */
    const char *text;        /* whole contents, NUL-terminated copy */
    size_t len;
} SrcFile;

typedef struct Loc {
    const SrcFile *file;
    int line, col;           /* 1-based */
    int len;                 /* span length in columns on that line (>=1) */
} Loc;

extern int diag_max_errors;  /* cap; further errors are counted, not printed */
void diag_error(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_note(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_file_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  diag_error_count(void);
void diag_reset(void);
FILE *diag_set_stream(FILE *f);  /* default stderr (tests capture it); returns the one before */
Loc  loc_none(const SrcFile *f); /* line 1, column 1 */
/* "did you mean": closest of cands (NULL-terminated) to s, or NULL */
const char *diag_suggest(const char *s, const char *const *cands, int ncands);

/* A block call that is being expanded: errors inside the block's body get a
 * note per enclosing call ("in block 'basic' called here as 'layer2.0'"). */
typedef struct CallSite {
    const char *block;        /* the block's name */
    const char *inst;         /* the instance's dotted name */
    Loc loc;                  /* the call statement */
    const struct CallSite *up;
} CallSite;
void diag_set_context(const CallSite *cs);   /* NULL: none */

/* ===== ast (parse.y, lex.l, source.c) =================================== */
typedef enum {
    EX_INT, EX_FLOAT, EX_IDENT, EX_STR, EX_DIMS, EX_BOOL,
    EX_NEG, EX_NOT, EX_BIN
} ExprKind;

enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_LT, OP_LE, OP_GT, OP_GE,
       OP_EQ, OP_NE, OP_AND, OP_OR };

#define MAX_DIMS 4
typedef struct Expr {
    ExprKind kind;
    Loc loc;
    int op;                   /* EX_BIN */
    long long ival;           /* EX_INT, EX_BOOL */
    double fval;              /* EX_FLOAT */
    const char *str;          /* EX_IDENT, EX_STR */
    int ndims; long long dims[MAX_DIMS];  /* EX_DIMS (e.g. 3x224x224) */
    struct Expr *a, *b;
    int depth;                /* operators on the longest path down (leaves 0) */
} Expr;

typedef struct Arg {
    Loc loc;
    const char *key;          /* NULL: positional */
    Loc key_loc;
    Expr *val;
    struct Arg *next;
    struct Arg *tail;          /* parse.y: last of the list this one heads */
} Arg;

typedef struct Param {        /* a block parameter, optional default */
    const char *name;
    Loc loc;
    Expr *def;
    struct Param *next;
    struct Param *tail;          /* parse.y: last of the list this one heads */
} Param;

typedef enum {
    ST_NETWORK,   /* network NAME input CxHxW */
    ST_INCLUDE,   /* include "file.net" (spliced away by source.c) */
    ST_BLOCKDEF,  /* block NAME(params) { ... } */
    ST_CALL,      /* KIND-or-BLOCK args... */
    ST_GROUP,     /* { ... } | group NAME { ... } | seq [NAME] [from N] [prefix "s"] { ... } */
    ST_RESIDUAL,  /* residual [NAME] { body } [shortcut GROUP] */
    ST_CONCAT,    /* concat [NAME] { branch; branch; ... } */
    ST_SCALE,     /* scale [NAME] { body }: the input times the body's output */
    ST_MERGE,     /* merge OP [NAME] { branch; ... }: the branches joined by OP (ident) */
    ST_REPEAT,    /* repeat N [as VAR] [from K] { ... } */
    ST_IF         /* if COND { ... } [else { ... }] */
} StmtKind;

typedef struct Stmt {
    StmtKind kind;
    Loc loc;                  /* the statement's first token */
    const char *ident;        /* ST_CALL: kind/block name; ST_NETWORK/ST_BLOCKDEF: name */
    Loc ident_loc;
    Arg *args;                /* ST_CALL */
    const char *name;         /* optional explicit name (group, seq, residual, concat) */
    Loc name_loc;
    bool is_seq;              /* ST_GROUP: numbered children */
    Expr *from;               /* seq / repeat: first index */
    const char *prefix;       /* seq: child name prefix */
    Expr *count;              /* repeat */
    const char *var;          /* repeat: loop variable */
    Loc var_loc;
    Expr *cond;               /* if */
    Expr *input;              /* network: input dims */
    Param *params;            /* blockdef */
    struct Stmt *body;        /* group/residual/concat/repeat/if/blockdef */
    struct Stmt *body2;       /* residual shortcut (a group) or if's else */
    const char *path;         /* include */
    struct Stmt *next;
    struct Stmt *tail;          /* parse.y: last of the list this one heads */
} Stmt;

/* parse.y */
typedef struct ParseCtx {
    const SrcFile *file;
    Stmt *result;
    void *scanner;
    int nerr_syntax;
} ParseCtx;
Stmt *parse_text(const SrcFile *file);   /* NULL only when nothing parsed */

/* source.c: read files, parse, splice includes */
extern const char **source_include_dirs;   /* -I directories, NULL-terminated */
const SrcFile *source_load(const char *path, Loc from, bool quiet_missing);
Stmt *source_parse_file(const char *path);  /* whole program with includes */
const SrcFile *source_from_string(const char *name, const char *text);
Stmt *source_parse_string(const char *name, const char *text);

/* ===== layers.c: the one table of layer kinds ============================= */
/* The activations come from runtime/cnnrt_acts.def: each is a fused
 * activation (ActKind, numbered as cnnrt's CNNRT_ACT_*) and a layer kind of
 * its own (K_RELU, K_LEAKY, ...). */
typedef enum {
    ACT_NONE,
#define CNNRT_ACT(ID, ...) ACT_##ID,
#include "cnnrt_acts.def"
#undef CNNRT_ACT
    ACT_COUNT
} ActKind;

/* Layer kinds, one per line of compiler/kinds.def. */
typedef enum {
#define KIND(ID, DESC) K_##ID,
#include "kinds.def"
#undef KIND
    K_COUNT
} KindId;

/* One activation: its spellings and what cnnc makes of it. */
typedef struct ActDef {
    const char *name;         /* "relu": act=relu, the flag relu, the layer relu */
    const char *m4;           /* "RELU": L_ACT in the generated code's templates */
    KindId layer;             /* the layer kind that applies it alone (K_COUNT: none) */
    int nparam;               /* its parameters (Node.act_p): 0, 1 or 2 */
    const char *param[2];     /* their names ("slope", "min", ...) */
    double def[2];            /* their defaults */
    const char *torch;        /* PyTorch applied to %s, then its parameters (%s each) */
    /* whether cnnrt's backward may take its output for its input (BWD_Y in
     * cnnrt_acts.def): else training keeps it an op of its own */
    bool (*bwd_y)(double a, double b);
} ActDef;
extern const ActDef act_defs[ACT_COUNT];
ActKind act_of_kind(KindId k);   /* the activation a layer kind applies, or ACT_NONE */
const char *act_choices(void);   /* "relu, leakyrelu, ..., softplus or none" */
struct LayerKind;
int layer_act_attr(const struct LayerKind *k);   /* index of its act attribute, or -1 */

/* An attribute's type says how its value is written, checked and stored
 * (the Node field types in brackets). */
typedef enum {
    A_INT,      /* a count >= 1 (out channels, groups) [long long] */
    A_PAIR,     /* N, HxW or (with field3) DxHxW, each >= 1, or 0 when the default is 0
                   (kernel, stride, dilation, size) [long long H, W, D]; one N sets all */
    A_PAD,      /* N, HxW, DxHxW or same: the six padding fields and pad_same */
    A_FLOAT,    /* any number (slope) [double] */
    A_EPS,      /* a number in (0, 1] [double] */
    A_FRAC,     /* a number in [0, 1] (momentum) [double] */
    A_PROB,     /* a number in [0, 1) (dropout p) [double] */
    A_BOOL,     /* [bool] */
    A_COUNT0,   /* an integer >= 0 (a padding amount); a default of -1 leaves the field
                   as an earlier attribute set it [long long] */
    A_ACT       /* fused activation: one of runtime/cnnrt_acts.def, or none [ActKind] */
} AttrType;

typedef struct AttrDef {
    const char *name;
    AttrType type;
    char shorthand;           /* 'k' lets "k3" / "k3x1" mean kernel=3 / 3x1; 0 none */
    const char *def;          /* default as text; NULL = required */
    const char *help;
    size_t field;             /* offsetof(Node, ...) that the value sets (a pair's H) */
    size_t field2;            /* a pair's W; a number's second copy; 0 none */
    size_t field3;            /* a pair's D, when it may have three sizes (k3x3x3); 0 none */
} AttrDef;

typedef struct FlagDef {      /* a bare word that sets an attribute */
    const char *word;
    const char *attr;
    const char *value;
} FlagDef;

#define MAX_ATTRS 10
#define MAX_FLAGS 8

/* How --dot draws a kind (a fill and outline colour each). */
typedef enum { DOT_INPUT, DOT_CONV, DOT_DENSE, DOT_POOL, DOT_NORM, DOT_ACT, DOT_ADD, DOT_CONCAT,
               DOT_SHAPE } DotStyle;

/* What the inference passes may do around a kind (LayerKind.passes). */
#define KP_TAKES_ACT  1u   /* an activation after it runs in its loop (pass_fuse.c) */
#define KP_TAKES_BN   2u   /* a batchnorm after it folds into its weights (pass_fold.c) */
#define KP_ALIAS      4u   /* a no-op at inference: it shares its input's buffer (pass_noop.c) */

struct Node;
struct ParamSpec;
struct Emitter;
struct cnnrt_op;

/* One layer kind: how it is written and what every stage makes of it.  Each
 * kind's file (compiler/kind_*.c) defines its LayerKind; compiler/kinds.def
 * lists them; compiler/kind.h holds the helpers the hooks share. */
typedef struct LayerKind {
    KindId id;
    const char *name;
    const char *alias;        /* another accepted spelling, or NULL */
    const char *summary;
    const char *positional[3];/* attribute names that may be given positionally */
    AttrDef attrs[MAX_ATTRS];
    FlagDef flags[MAX_FLAGS];
    bool user;                /* can be written in a .net file */
    const char *pytorch;      /* the PyTorch module it matches (--help-layers) */

    /* shape.c: output shape, params, MACs, other ops, receptive field;
     * false after reporting an error at the layer */
    bool (*shape)(struct Node *n);
    /* weights.c: its parameter tensors, PyTorch's names and shapes (NULL: none) */
    int (*params)(struct Node *n, struct ParamSpec *out);
    /* emit.c: the layer's L_* fields and one M4_* call; 0, else errors */
    int (*emit)(struct Emitter *e, struct Node *n);
    /* emit_py.c: the nn.Module constructor (NULL: a functional call), and
     * the forward expression from the input values' names (mod: the module) */
    const char *(*py_module)(const struct Node *n);
    const char *(*py_call)(const struct Node *n, const char *const *in, const char *mod);
    const char *py_prelude;   /* module-level Python its py_call needs, written once (NULL: none) */
    /* train_desc.c: the cnnrt op it lowers to (kind and geometry) */
    void (*train)(const struct Node *n, struct cnnrt_op *op);
    /* pass_quant.c: its int8 data from its input's and output's scales
     * (q_* fields; 0, else errors); emit.c: its int8 code, like emit.  NULL:
     * the kind has no int8 code (yet) */
    int (*quant)(struct Node *n);
    int (*emit_q8)(struct Emitter *e, struct Node *n);
    DotStyle dot;
    unsigned passes;          /* KP_* */
    bool no_volume;           /* refuses a C×D×H×W input (works on signals and images) */
} LayerKind;

extern const LayerKind *const layer_kinds[K_COUNT];
const LayerKind *layer_lookup(const char *name);
const AttrDef *layer_attr(const LayerKind *k, const char *name);   /* NULL: no such attribute */
void layer_print_help(FILE *out);            /* cnnc --help-layers */
int layer_kind_names(const char **out, int max);

/* ===== ir.c ================================================================ */
/* A tensor of one image: a vector (rank 1, c only), or channels over a
 * signal, an image or a volume (rank 3, sp 1, 2 or 3 spatial axes).  A
 * signal of length L is held as 1×L (h 1) and an image has d 1, so the
 * code for 2-D serves 1-D unchanged; d·h·w is the spatial size. */
typedef struct Shape {
    int rank;                 /* 3: [C,(D,)(H,)W]; 1: [N] */
    long long c, h, w;        /* rank 1 uses c only */
    long long d;              /* depth: a volume's, else 1 */
    int sp;                   /* spatial axes: 1 C×L, 2 C×H×W, 3 C×D×H×W; 0 in a vector */
} Shape;

typedef struct Node {
    int id;                   /* topological index */
    const LayerKind *kind;
    const char *name;         /* dotted, e.g. layer1.0.conv1 */
    bool auto_named;          /* not written by the user */
    Loc loc;
    const CallSite *via;      /* the block call that made it, or NULL */
    int nin;
    struct Node **in;

    /* attributes (filled from the kind's table, then typed) */
    long long out;            /* conv/dense out features */
    long long kh, kw, sh, sw, dh, dw;
    long long kd, sd, dd;     /* a 3-D layer's kernel, stride and dilation in depth */
    long long pd0, pd1;       /* and its padding in front and behind */
    unsigned char nsizes[MAX_ATTRS];   /* how many sizes each attribute was given as: k3 1,
                                          k3x1 2, k3x3x3 3 (0: a single value kind) */
    long long pt, pl, pb, pr; /* padding top/left/bottom/right */
    bool pad_same;
    long long groups;         /* conv groups, groupnorm groups */
    bool bias, ceil, affine, count_include_pad;
    double eps, momentum, slope, p;   /* slope: a conv's or dense's slope= */
    ActKind act;
    double act_p[2];          /* the parameters of the activation it applies: its
                                 act (a leaky relu's slope), or its own kind's */
    long long oh, ow, od;     /* adaptive pool output */
    long long part, parts;    /* split: the part'th of parts equal slices of the channels */
    bool bilinear, align_corners;   /* upsample's mode (else nearest) */
    long long oph, opw;       /* transposed conv's output_padding */
    bool reflect, replicate;  /* pad's mode (else zeros) */
    bool channels;            /* dropout: whole channels (Dropout1d/2d/3d) */
    long long slopes;         /* prelu: learned slopes, 1 or the channels */
    double init;              /* prelu: their initial value */

    /* filled by shape.c */
    Shape shape;
    long long params;         /* learnable values */
    long long macs;           /* conv/dense multiply-accumulates, bias excluded */
    long long other_ops;      /* everything else: bias adds, norms, activations, pools */
    bool rf_valid;
    long long rf_h, rf_w, jump_h, jump_w;
    long long act_bytes;      /* output tensor bytes */

    /* parameters, float32 in PyTorch's layout (weights.c) */
    float *w_data;            /* .weight: conv [out][cin/g][kh][kw]; dense [out][in]; norm γ */
    float *b_data;            /* .bias: [out]; norm β; NULL when absent */
    float *mean_data;         /* .running_mean: batchnorm [C] */
    float *var_data;          /* .running_var: batchnorm [C] */

    /* inference passes (pass_*.c, plan.c) */
    bool removed;             /* folded/fused away or a no-op: not emitted */
    const char *note;         /* what passes did to it ("batchnorm bn1 folded in") */
    struct Node *alias;       /* shares this node's buffer (flatten, dropout, identity) */
    float *scale, *shift;     /* batchnorm kept as a per-channel scale and shift */
    long long buf_off;        /* byte offset of its buffer in the arena, -1: caller's */
    long long scratch_off, scratch_bytes;   /* per-layer scratch in the arena */
    /* a conv's algorithm as measured by --tune (tune.c), over the shape rule */
    bool tuned;
    int tuned_algo;           /* a ConvAlgo */
    const char *tuned_why;    /* "measured: ..." for --report */
    /* int8 (calibrate.c): the node of the network as written whose output
     * this node's buffer holds after the inference passes (its own id, or
     * the last layer folded or fused into it: pass_replace_uses) */
    int value;
    bool cal;                 /* calibrated (on the network as written, by id) */
    double cal_min, cal_max;  /* the least and greatest output seen (NaN skipped) */
    double cal_lo, cal_hi;    /* the range chosen for it (--calibration) */
    long long cal_nan;        /* NaN outputs seen */
    /* int8 code (pass_quant.c, the kind's quant hook) */
    bool q8;                  /* it runs in int8: its output is int8 */
    const char *q_float;      /* int8 build, a layer that stays float: why (NULL: int8) */
    bool q_copy;              /* some layer reads its output in the other precision: a */
    long long copy_off;       /* copy (int8 of a float output, or the reverse) at this offset */
    float q_scale;            /* its output's map: x = (q - q_zp) * q_scale */
    int q_zp;
    int q_lo, q_hi;           /* the output clamp (absorbs relu and relu6) */
    signed char *q_w;         /* conv, dense: int8 weights, PyTorch's layout */
    float *q_wscale;          /* per output channel */
    int32_t *q_b;             /* per output channel: bias, input zero point folded in */
    int32_t *q_mult;          /* per output channel: acc * mult / 2^shift */
    int32_t *q_shift;
    long long q_a, q_b2;      /* add: ((qa - zpa) * q_a + (qb - zpb) * q_b2) / 2^q_s */
    int q_s;
} Node;

typedef struct Graph {
    const char *name;         /* network name */
    const SrcFile *file;      /* the main file */
    Loc loc;
    Node **nodes;             /* topological order; nodes[0] is the input */
    int nnodes, cap;
    Node *output;
} Graph;

Graph *ir_new_graph(void);
Graph *ir_clone(const Graph *g);             /* nodes copied, weights shared */
Node *ir_add_node(Graph *g, const LayerKind *k, Loc loc);
long long shape_numel(Shape s);
long long shape_hw(Shape s);                 /* d·h·w; 1 for a vector */
Shape shape_vec(long long n);                /* [n] */
Shape shape_like(const Shape *in, long long c, long long d, long long h, long long w);  /* in's axes */
const char *shape_str(Shape s);              /* "3×224×224" or "[4096]" */
int shape_dims(Shape s, long long dims[4]);  /* its sizes, C first: how many */
const char *shape_join(Shape s, const char *sep);   /* the sizes joined: "3x224x224" */

/* ===== sema.c: elaboration ================================================ */
extern long long sema_max_layers;   /* cap (default 100,000); statements: 5x */
Graph *sema_elaborate(Stmt *prog, int *nerr);

/* ===== shape.c ============================================================= */
#define CNNC_MAX_NUMEL (1LL << 40)          /* elements per tensor */
int shape_check(Graph *g);

/* ===== report.c ============================================================ */
typedef struct Totals {
    long long params, macs, flops, other_ops, weight_bytes;
    long long activation_bytes_sum, activation_bytes_peak;
} Totals;
struct Plan;
void report_totals(const Graph *g, Totals *t);
/* plan: the arena the generated code would use (NULL: not shown) */
void report_text(const Graph *g, const struct Plan *plan, FILE *out);
struct CalibOptions;
/* planned and cal: a quantized build (else NULL): its int8 plan as well */
int  report_json(const Graph *g, const struct Plan *plan, const Graph *planned, const struct CalibOptions *cal,
                 FILE *out);
/* a quantized build's plan: each planned layer's range, scale, zero point */
void report_int8(const Graph *g, const Graph *planned, const struct CalibOptions *o, FILE *out);

/* ===== dot.c: the network as a Graphviz digraph (cnnc --dot) ============== */
/* written: the graph as written (one box per layer); planned: a clone the
 * inference passes ran on (its removed/note show what folds away), or NULL */
int dot_write(const Graph *written, const Graph *planned, FILE *out);   /* 0 ok */

/* ===== weights.c: parameters by PyTorch state-dict name ================== */
#define MAX_PARAM_TENSORS 4
typedef struct ParamSpec {    /* one tensor a layer expects */
    const char *suffix;       /* "weight", "bias", "running_mean", "running_var" */
    int ndim;
    long long dims[5];
    long long numel;
    float **slot;             /* where the data goes in the Node */
    bool learnable;           /* false for running statistics */
    long long fan_in;         /* a conv's or dense's inputs per output (its init); 0 others */
    bool constant;            /* every value starts at init (a PReLU slope), not by fan_in */
    float init;
} ParamSpec;
int  weights_spec(Node *n, ParamSpec out[MAX_PARAM_TENSORS]);
void weights_init_seeded(Graph *g, unsigned long long seed);   /* PyTorch's default init */
int  weights_load_safetensors(Graph *g, const char *path);      /* error count */
int  weights_check_finite(Graph *g, const char *origin);       /* error count: names the tensor */
/* safetensors.c: a string from the __metadata__ of the file g's weights were
 * loaded from (e.g. "normalize"), or NULL */
const char *weights_metadata(const Graph *g, const char *key);
/* The input normalisation in that metadata ("normalize": "MEAN,STD", or C
 * means then C standard deviations; cnnc-train feeds (x/255 - MEAN)/STD):
 * 1 with mean[c] and std[c] per channel filled, 0 when there is none, -1
 * when it is malformed (not finite, a deviation <= 0, another count, or
 * more than NORM_MAX_CHANNELS channels). */
#define NORM_MAX_CHANNELS 64
int weights_normalize(const Graph *g, long long c, double *mean, double *std);

/* ===== target.c: what the generated C is built for (--target) ============== */
typedef struct Target {
    const char *name;        /* x86-64, aarch64, cortex-m, generic */
    const char *summary;     /* one line of --help */
    const char *arch_test;   /* #if condition true when built for it (NULL: any machine) */
    const char *simd;        /* the templates' kernels: AVX, NEON or NONE */
    int align;               /* arena slots start at multiples of this many bytes */
    bool ram_first;          /* kernels without scratch: the arena holds the live activations only */
    bool standalone;         /* implies --standalone */
    const char *cc;          /* the compile line the header suggests */
} Target;
extern const Target targets[];
extern const int ntargets;
extern const Target *target;           /* the one being generated for (default: the host) */
const Target *target_find(const char *name);   /* NULL when unknown */
const Target *target_host(void);
const char *target_names(void);                /* "x86-64, aarch64, cortex-m or generic" */

/* ===== passes (pass_*.c) and the arena plan (plan.c) ======================= */
int *pass_use_counts(const Graph *g);              /* readers per node id */
void pass_replace_uses(Graph *g, Node *from, Node *to);
int  pass_fold_batchnorm(Graph *g);    /* BN into conv/dense, else scale+shift */
int  pass_fuse_activations(Graph *g);  /* relu & co. into the producing layer */
int  pass_remove_noops(Graph *g);      /* dropout, identity, flatten become aliases */
/* int8: every layer's integer data from its calibrated range (calibrate.c),
 * after the passes above; the error count (a kind without int8 code, an
 * activation that is not relu or relu6, a scale out of range) */
int  pass_quantize(Graph *g, const char *keep_float);
/* the names in a --keep-float list that name no layer of g: an error each,
 * the error count */
int  quant_keep_check(const Graph *g, const char *keep_float);
/* --int8-io: the input read by int8 layers only, the output int8: else an
 * error each, the error count */
int  quant_int8_io_check(const Graph *g);
/* an int8 conv runs as a product over its padded u8 input (M4_Q8_GEMM), not
 * as direct loops: one without groups, unless CNNC_Q8_DIRECT=1 (a knob for
 * tests: both give the same integers) */
bool quant_conv_gemm(const Node *n);
/* the padded input of such a conv, [h][w][c] bytes (channels rounded to 4) */
typedef struct QuantPad { long long h, w, c; } QuantPad;
QuantPad quant_conv_pad(const Node *n);
typedef struct Plan {                  /* (struct tag used by report.c) */
    bool standalone;                   /* --standalone (no OpenBLAS): set by the caller */
    long long arena_bytes;             /* one image's activations + scratch */
    long long tensors_bytes;           /* the same tensors without sharing */
    /* how arena_bytes comes about: at the step where the most is live,
     * live_bytes in all (buffers rounded up to target->align), of which
     * scratch_bytes conv scratch; arena_bytes - live_bytes are gaps the
     * placement left */
    long long live_bytes, scratch_bytes;
    const char *live_at;               /* that step's layer */
} Plan;
int  plan_arena(Graph *g, Plan *p);

/* ===== lower_conv.c: how a conv runs in the generated code =============== */
/* The algorithm, chosen by the layer's shape: direct loops, im2col + GEMM,
 * Winograd F(2x2,3x3) / F(4x4,3x3) / F(6x6,3x3), or depthwise blocks. */
typedef enum { CONV_DIRECT, CONV_GEMM, CONV_WINO2, CONV_WINO4, CONV_DW, CONV_WINO6 } ConvAlgo;
ConvAlgo conv_algo(const Node *n);
ConvAlgo conv_algo_why(const Node *n, const char **why);   /* and why (for --report) */
const char *conv_algo_name(ConvAlgo a);
#define CONV_NALGO 6
/* the algorithms the templates can write for this conv (any is exact) */
bool conv_algo_ok(const Node *n, ConvAlgo a);
/* its word in a tune file ("direct", "gemm", "winograd2", "winograd4",
 * "depthwise", "winograd6"), and back (-1: none) */
const char *conv_algo_key(ConvAlgo a);
int conv_algo_from_key(const char *key);
/* the thread plan of a conv or dense layer: shared out over the threads
 * of a call (true), or run by one of them; *why says why (when not NULL) */
bool layer_shared(const Node *n, bool standalone, const char **why);
/* a conv (im2col + GEMM) or dense layer calls OpenBLAS (default mode) */
bool layer_blas(const Node *n, bool standalone);
long long conv_scratch(const Node *n);        /* floats of per-image scratch */
/* The GEMM micro-kernel's tile (gemm.m4): 8 rows of A (output channels), 32
 * columns of B (output pixels or Winograd tiles). */
#define GEMM_MR 8
#define GEMM_NR 32
long long conv_round_up(long long v, long long m);
long long conv_col_block(const Node *n, bool standalone);
int conv_gemm_rows(const Node *n);
/* The patch matrix is the input itself: a 1x1 stride-1 unpadded conv
 * (pointwise), or one output pixel whose window is the whole unpadded input
 * (whole). */
bool conv_is_pointwise(const Node *n);
bool conv_is_whole(const Node *n);
/* Scratch layout of a Winograd layer (floats): the padded input, V, M. */
typedef struct WinoGeom {
    long long th, tw, t, tpad, hpt, wpt, tq, sv, sm, voff, moff, floats;
} WinoGeom;
WinoGeom conv_wino_geom(const Node *n, int m);
/* A depthwise layer, a block of output rows at a time: the input rows it
 * reads (span for one output row) zero-padded and split by phase (sh x sw
 * phases of hq x wq) in buf floats; rows output rows per block; runlen
 * (when not 0): the block's rows computed as one run of whole vectors
 * (else row by row). */
typedef struct DwGeom {
    long long span, hq, wq, rows, runlen, buf;
} DwGeom;
DwGeom conv_dw_geom(const Node *n);
/* Weights transformed for the algorithm (malloc'd; *count floats). */
float *conv_gemm_weights(const Node *n, long long *count);
float *conv_winograd_weights(const Node *n, int m, long long *count);

/* ===== tune.c: cnnc --tune, each conv's algorithm measured ============== */
typedef struct TuneOptions {
    const char *path;         /* the tune file */
    bool measure;             /* --tune: measure the convs it lacks, write it */
    const char *cc;           /* the compiler command of the measuring builds */
} TuneOptions;
const char *tune_default_cc(void);
/* a conv's entry in the tune file: what its time depends on */
const char *tune_conv_key(const Node *n, bool standalone);
/* after the passes: read the tune file (measure and write it), and give
 * its convs their algorithms; 0, 1 (the file is wrong), 2 (cannot measure
 * or write) */
struct EmitOptions;
int tune_network(Graph *g, const TuneOptions *o, const struct EmitOptions *eo);

/* ===== emit.c (C through m4), emit_py.c (PyTorch) ========================== */
typedef struct EmitOptions {
    const char *out_c;                 /* path of the .c (the .h goes beside it) */
    const char *source_name;           /* the .net as the user named it */
    bool standalone;                   /* no cnnrt, no BLAS: C99 + libm only */
    long long max_baked_bytes;         /* larger weights go to a sidecar file */
    const char *weights_origin;        /* "seed 42" or the safetensors file name */
    bool trained;                      /* weights from --weights (else random, untrained) */
    bool profile;                      /* a build --tune measures: cnnc_tune_mark() after each layer */
    const char *calib;                 /* int8: "minmax over N images of DATA" (the header says) */
    bool trace;                        /* a build cnnc eval reads: cnnc_q8_trace() after each int8 layer */
    bool int8_io;                      /* --int8-io: NAME_forward takes and gives int8 (quantized) */
} EmitOptions;
int emit_c(Graph *g, const Plan *plan, const EmitOptions *o);  /* 0, 1 bad input, 2 output failure */
int emit_pytorch(const Graph *g, FILE *out);                      /* error count */

/* ===== calibrate.c: int8 ranges from the float network (cnnc only) ======== */
typedef struct CalibOptions {
    const char *data;          /* --calibrate: an IDX image file, a folder's training images, or FILE.f32 */
    long long n;               /* --calibrate-n: the first n images (0: all) */
    long long used;            /* set by calibrate(): the images it ran */
    const char *keep_float;    /* --keep-float: layer names, comma-separated, that stay float */
    const char *method;        /* --calibration: minmax, percentile or kl */
    double percentile;         /* --calibration percentile: the share of values kept */
    const char *weights;       /* the checkpoint compiled, or NULL: */
    unsigned long long seed;   /* the --seed weights */
} CalibOptions;
/* Run the network as written (cnnrt, inference mode) over the images and
 * set cal* of every node: the error count. */
int calibrate(Graph *g, CalibOptions *o);
/* The network as written for cnnrt in inference mode, every value in its own
 * buffer (no plan: cnnrt_net_value() reads any of them), with the checkpoint
 * weights or the --seed ones, for batches of batch images (or batch_of(d)):
 * NULL after an error said.  calibrate() and cnnc eval run it. */
struct cnnrt_net_desc;
struct cnnrt_net *calibrate_float_net(Graph *g, const char *weights, unsigned long long seed, int batch,
                                      struct cnnrt_net_desc *d, int (*batch_of)(const struct cnnrt_net_desc *));

/* ===== eval.c: cnnc eval (cnnc only) ======================================= */
int eval_main(int argc, char **argv);   /* argv[0] "cnnc eval"; the exit status */

/* ===== train_desc.c: the network as written, for cnnrt's trainer ============ */
struct cnnrt_net_desc;
struct cnnrt_net_desc *train_desc_build(Graph *g);   /* NULL after an error; planned */
/* train_plan.c: the description's plan (buffer sharing, in-place and fused
 * ops), which cnnrt executes */
void train_plan(struct cnnrt_net_desc *d);

/* ===== front.c: the front end as one call ================================ */
/* Read, parse, elaborate and shape-check a .net file (or a string named
 * name): the checked graph, or NULL after the errors were reported. */
Graph *front_load(const char *path);
Graph *front_load_string(const char *name, const char *text);
/* A .net file's training description (front_load, then train_desc_build);
 * graph, when not NULL, receives the checked graph (or NULL). */
struct cnnrt_net_desc *front_train_desc(const char *path, Graph **graph);

/* ===== emit_train.c, m4run.c ============================================== */
int emit_train(Graph *g, const char *out_c, const char *source_name);   /* 0, 1 bad input, 2 output failure */
const char *m4_template_dir(void);
/* m4_define([[name]], [[value]]) to d, the value printed from fmt */
void m4_vdefine(FILE *d, const char *name, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int m4_run(const char *define, const char **files, int nfiles, int outfd); /* 0 ok */
int m4_define_interface_hash(const char *globals);                 /* 0 ok */
int m4_write_outputs(const char **const *files, const int *nfiles, const char **paths, int n);  /* 0 ok */

/* ===== util.c ============================================================== */
const char *fmt_group(long long v);          /* 1,234,567 */
const char *fmt_si(long long v);             /* 1.23 G / 45.6 M / "" below 1e6 */
int close_stdout(const char *prog);          /* 0, or -1 after saying why */
/* The rest of fp, malloc'd and NUL-terminated (*len bytes before the NUL),
 * or NULL with *why: READ_NOMEM, READ_ERROR, or READ_TOO_LARGE past max. */
enum { READ_NOMEM = 1, READ_ERROR, READ_TOO_LARGE };
char *read_stream(FILE *fp, size_t max, size_t *len, int *why);

#endif
