/*
 * kind_merge.c — the kinds that join branches: add (made by residual or
 * merge add), concat (made by concat), mul (made by scale: the input times
 * a gate, C×1×1 broadcast over H×W or the input's shape; or merge mul), sub
 * and mean (merge sub, merge mean).  Neither is written as a layer line; sema.c
 * makes them from the blocks.  Their generated functions: add takes its
 * two inputs as pointers, concat its inputs as one array (any number of
 * branches; C99 promises only 127 parameters).
 */
#include "kind.h"

#include <math.h>
#include <string.h>

static bool add_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    for (int i = 1; i < n->nin; i++)
        if (!shape_same(n->in[i]->shape, *in)) {
            diag_error(n->loc, "%s: input 1 is %s but input %d is %s", shape_who(n), shape_str(*in), i + 1,
                       shape_str(n->in[i]->shape));
            if (in->rank == 3 && n->in[i]->shape.rank == 3)
                diag_note(n->loc, "a residual whose body changes the shape needs a projection: "
                                  "'shortcut { conv ... }'");
            return false;
        }
    n->shape = *in;
    n->other_ops = (n->nin - 1) * shape_numel(*in);
    shape_rf_max(n);
    return true;
}

static bool concat_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    long long c = 0;
    for (int i = 0; i < n->nin; i++) {
        const Shape *s = &n->in[i]->shape;
        Shape cs = *s;
        cs.c = in->c;                                /* all but the channels must match */
        if (!shape_same(cs, *in)) {
            diag_error(n->loc, "%s: branch 1 is %s but branch %d is %s (%s)", shape_who(n), shape_str(*in),
                       i + 1, shape_str(*s), s->rank != in->rank ? "one is flat" : "the spatial sizes must match");
            return false;
        }
        if (__builtin_add_overflow(c, s->c, &c) || c > SHAPE_LIMIT) c = SHAPE_LIMIT;
    }
    n->shape = *in;
    n->shape.c = c;
    if (!shape_check_numel(n)) return false;
    shape_rf_max(n);
    return true;
}

static int merge_emit(Emitter *e, Node *n) {
    em_layer(e, n, n->kind->name);
    em_def(e, "L_NIN", "%d", n->nin);
    long long ch = 0;
    for (int i = 0; i < n->nin; i++) {
        em_buf(e, arena_printf("L_X%d", i), n->in[i]);
        em_def(e, arena_printf("L_C%d", i), "%lld", n->in[i]->shape.c);
        em_def(e, arena_printf("L_CH%d", i), "%lld", ch);
        ch += n->in[i]->shape.c;
    }
    em_def(e, "L_N", "%lld", shape_numel(n->shape));
    em_def(e, "L_HW", "%lld", shape_hw(n->shape));
    KindId k = n->kind->id;
    if (k != K_CONCAT) em_def(e, "L_OP", "%s", k == K_SUB ? "SUB" : k == K_MEAN ? "MEAN" : "ADD");
    em_call(e, k == K_CONCAT ? "M4_CONCAT" : "M4_ADD");
    return 0;
}

/* int8 (pass_quant.c): a + b as ((qa - zpa) * A + (qb - zpb) * B) / 2^S,
 * A and B the inputs' scales over the output's times 2^S, S the largest
 * that keeps both under 2^31 (so the larger is in [2^30, 2^31)) */
static int add_quant(Node *n) {
    if (n->nin != 2) {
        diag_error(n->loc, "add '%s': cnnc's int8 add takes two inputs, not %d", n->name, n->nin);
        return 1;
    }
    double ra = (double)quant_input(n, 0)->q_scale / n->q_scale, rb = (double)quant_input(n, 1)->q_scale / n->q_scale;
    double big = ra > rb ? ra : rb;
    int s = 1;
    while (s < 60 && ldexp(big, s + 1) < 2147483648.0) s++;
    if (ldexp(big, s) >= 2147483648.0 || ldexp(big, s) < 1) {
        diag_error(n->loc, "add '%s': its inputs' scales are %g and %g times its output's: out of range for int8",
                   n->name, ra, rb);
        return 1;
    }
    n->q_a = llround(ldexp(ra, s)), n->q_b2 = llround(ldexp(rb, s)), n->q_s = s;
    return 0;
}

static int add_emit_q8(Emitter *e, Node *n) {
    em_layer(e, n, "int8 add");
    em_q8(e, n);
    em_buf(e, "L_X2", n->in[1]);
    em_def(e, "L_N", "%lld", shape_numel(n->shape));
    em_def(e, "L_ZPA", "%d", quant_input(n, 0)->q_zp);
    em_def(e, "L_ZPB", "%d", quant_input(n, 1)->q_zp);
    em_def(e, "L_QA", "%lldLL", n->q_a);
    em_def(e, "L_QB", "%lldLL", n->q_b2);
    em_def(e, "L_QS", "%d", n->q_s);
    em_call(e, "M4_Q8_ADD");
    return 0;
}

/* a + b + c, a - b, (a + b + c) / 3, or torch.cat([a, b, c], 1) */
static const char *merge_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)mod;
    KindId k = n->kind->id;
    const char *sep = k == K_CONCAT ? ", " : k == K_SUB ? " - " : " + ";
    const char *s = in[0];
    for (int i = 1; i < n->nin; i++) s = arena_printf("%s%s%s", s, sep, in[i]);
    if (k == K_CONCAT) return arena_printf("torch.cat([%s], 1)", s);
    if (k == K_MEAN) return arena_printf("(%s) / %d", s, n->nin);
    return py_act(n->act, n->act_p, s);
}

static void merge_train(const Node *n, cnnrt_op *op) {
    KindId k = n->kind->id;
    op->kind = k == K_ADD ? CNNRT_OP_ADD : k == K_SUB ? CNNRT_OP_SUB : k == K_MEAN ? CNNRT_OP_MEAN : CNNRT_OP_CONCAT;
}

const LayerKind kind_add = {
    .id = K_ADD, .name = "add", .summary = "elementwise sum (made by residual)", .pytorch = "a + b",
    .shape = add_shape, .emit = merge_emit, .py_call = merge_py_call, .train = merge_train,
    .quant = add_quant, .emit_q8 = add_emit_q8,
    .dot = DOT_ADD, .passes = KP_TAKES_ACT,
};

const LayerKind kind_sub = {
    .id = K_SUB, .name = "sub", .summary = "elementwise difference of two branches (made by merge sub)",
    .pytorch = "a - b",
    .shape = add_shape, .emit = merge_emit, .py_call = merge_py_call, .train = merge_train,
    .dot = DOT_ADD,
};

const LayerKind kind_mean = {
    .id = K_MEAN, .name = "mean", .summary = "elementwise mean of the branches (made by merge mean)",
    .pytorch = "(a + b + c) / 3",
    .shape = add_shape, .emit = merge_emit, .py_call = merge_py_call, .train = merge_train,
    .dot = DOT_ADD,
};

const LayerKind kind_concat = {
    .id = K_CONCAT, .name = "concat", .summary = "channel concatenation (made by concat)",
    .pytorch = "torch.cat(dim=1)",
    .shape = concat_shape, .emit = merge_emit, .py_call = merge_py_call, .train = merge_train,
    .dot = DOT_CONCAT,
};

/* ---- mul: x · gate, the gate C×1×1 (squeeze-and-excitation) or x's shape ---- */

static bool mul_shape(Node *n) {
    const Shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    bool bcast = a->rank == 3 && b->rank == 3 && b->sp == a->sp && b->c == a->c && shape_hw(*b) == 1;
    if (!bcast && !shape_same(*a, *b)) {
        diag_error(n->loc, "%s: the input is %s but the gate (the scale's body, or merge mul's second branch) "
                   "is %s; it must be %s or %lld×1×1", shape_who(n), shape_str(*a), shape_str(*b), shape_str(*a), a->c);
        return false;
    }
    n->shape = *a;
    n->other_ops = shape_numel(*a);
    shape_rf_max(n);
    return true;
}

static int mul_emit(Emitter *e, Node *n) {
    const Shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    em_layer(e, n, "mul");
    em_buf(e, "L_X1", n->in[1]);
    em_def(e, "L_C", "%lld", a->c);
    em_def(e, "L_HW", "%lld", shape_hw(*a));
    em_def(e, "L_BCAST", "%d", shape_hw(*b) == 1 && shape_hw(*a) > 1);
    em_call(e, "M4_ELTMUL");
    return 0;
}

static const char *mul_py_call(const Node *n, const char *const *in, const char *mod) {
    (void)n, (void)mod;
    return arena_printf("%s * %s", in[0], in[1]);
}

static void mul_train(const Node *n, cnnrt_op *op) {
    (void)n;
    op->kind = CNNRT_OP_MUL;
}

const LayerKind kind_mul = {
    .id = K_MUL, .name = "mul", .summary = "the input times a gate (made by scale)", .pytorch = "x * gate",
    .shape = mul_shape, .emit = mul_emit, .py_call = mul_py_call, .train = mul_train,
    .dot = DOT_ADD,
};
