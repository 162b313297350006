/*
 * sema.c — elaboration: from the AST to the graph IR.
 *
 * Walks the program once, in source order, threading "the current tensor"
 * (a Node) through each statement:
 *   - block calls expand their body in a new name scope with the arguments
 *     bound (blocks see only their own parameters; recursion is an error);
 *   - repeat and if expand in place; seq numbers its items 0,1,... (or from K,
 *     with an optional prefix) the way nn.Sequential names its children;
 *   - residual makes body(x) + shortcut(x), concat makes cat(branch_i(x));
 *   - every layer gets its full dotted name; unnamed layers are named after
 *     their kind (relu, relu_2, ...) within their scope.
 * Attributes are read through the kind table (layers.c) and checked for type
 * and range here; shapes are shape.c's job.
 *
 * Names and scopes share one table so that a name used twice is an error
 * pointing at both places.
 */
#include "cnnc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 100          /* nested groups/blocks/repeats */
#define MAX_REPEAT 100000
#define MAX_EXPR_DEPTH 1000   /* operators on one path of an expression */

/* Work limits: layers, and statements elaborated (a repeat's body counts once
 * per iteration, a block's body once per call), so that nested repeats and
 * calls of empty bodies cannot run for hours.  The fuzz harness lowers them. */
long long sema_max_layers = 100000;
#define MAX_STEPS (5 * sema_max_layers)

typedef enum { V_NONE, V_INT, V_FLOAT, V_BOOL, V_DIMS, V_STR, V_WORD } VKind;

typedef struct Value {
    VKind k;
    long long i;
    double f;
    int nd;
    long long d[MAX_DIMS];
    const char *s;            /* V_STR, V_WORD */
    Loc loc;
} Value;

typedef struct Env {
    const char *name;
    Value v;
    struct Env *next;
} Env;

typedef struct Scope {
    const char *prefix;       /* dotted scope name, "" at the top */
    Env *env;
    int depth;
} Scope;

typedef struct Seq {
    long long next;
    const char *prefix;
} Seq;

typedef struct Frame {        /* block call stack, for recursion errors */
    const Stmt *def;
    Loc loc;
    const CallSite *cs;       /* the same call, as diagnostics show it */
    struct Frame *up;
} Frame;

/* ---- name table ---------------------------------------------------------- */

typedef struct Entry {
    const char *name;
    Loc loc;
    Node *node;               /* NULL for a scope */
    long long count;          /* auto-name counters use this */
} Entry;

static Entry *tab;
static size_t tab_cap, tab_n;

static size_t hash(const char *s) {
    size_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static Entry *tab_find(const char *name, bool create) {
    if (tab_n * 2 >= tab_cap) {
        size_t ncap = tab_cap ? tab_cap * 2 : 1024;
        Entry *nt = arena_alloc(sizeof(Entry) * ncap);
        for (size_t i = 0; i < tab_cap; i++) {
            if (!tab[i].name) continue;
            size_t j = hash(tab[i].name) & (ncap - 1);
            while (nt[j].name) j = (j + 1) & (ncap - 1);
            nt[j] = tab[i];
        }
        tab = nt;
        tab_cap = ncap;
    }
    size_t j = hash(name) & (tab_cap - 1);
    while (tab[j].name) {
        if (strcmp(tab[j].name, name) == 0) return &tab[j];
        j = (j + 1) & (tab_cap - 1);
    }
    if (!create) return NULL;
    tab[j].name = name;
    tab_n++;
    return &tab[j];
}

/* ---- state --------------------------------------------------------------- */

static Graph *G;
static Stmt **blocks;
static int nblocks;
static Frame *frames;
static long long steps;       /* statements elaborated so far */

static const char *join(const char *scope, const char *name) {
    return *scope ? arena_printf("%s.%s", scope, name) : arena_strdup(name);
}

/* A fresh auto name in scope: base, base_2, base_3, ... */
static const char *auto_name(const char *scope, const char *base) {
    Entry *c = tab_find(arena_printf("%s\x01%s", scope, base), true);
    for (;;) {
        c->count++;
        const char *n = c->count == 1 ? join(scope, base)
                                      : join(scope, arena_printf("%s_%lld", base, c->count));
        if (!tab_find(n, false)) return n;
    }
}

/* Claim a full name for a node (or a scope when node is NULL).  An explicit
 * name that collides with an earlier auto name wins: the auto name moves. */
static bool claim(const char *full, Loc loc, Node *node, bool automatic) {
    Entry *e = tab_find(full, true);
    if (e->loc.file || e->node) {
        if (!automatic && e->node && e->node->auto_named) {
            Node *moved = e->node;
            const char *dot = strrchr(full, '.');
            const char *scope = dot ? arena_strndup(full, (size_t)(dot - full)) : "";
            moved->name = auto_name(scope, moved->kind->name);
            Entry *m = tab_find(moved->name, true);
            m->node = moved;
            m->loc = moved->loc;
            e->node = node;
            e->loc = loc;
            return true;
        }
        diag_error(loc, "duplicate name '%s'", full);
        diag_note(e->loc, "'%s' was first defined here", full);
        return false;
    }
    e->node = node;
    e->loc = loc;
    return true;
}

/* ---- expressions --------------------------------------------------------- */

static const Value *env_get(const Env *env, const char *name) {
    for (; env; env = env->next)
        if (strcmp(env->name, name) == 0) return &env->v;
    return NULL;
}

static void undefined(const Env *env, const char *name, Loc loc) {
    const char *cands[64];
    int n = 0;
    for (const Env *e = env; e && n < 64; e = e->next) cands[n++] = e->name;
    const char *s = diag_suggest(name, cands, n);
    if (s) diag_error(loc, "undefined name '%s'; did you mean '%s'?", name, s);
    else diag_error(loc, "undefined name '%s'", name);
}

static bool is_num(const Value *v) { return v->k == V_INT || v->k == V_FLOAT || v->k == V_BOOL; }
static double num(const Value *v) { return v->k == V_FLOAT ? v->f : (double)v->i; }

static const char *vdesc(const Value *v) {
    switch (v->k) {
    case V_INT: return arena_printf("%lld", v->i);
    case V_FLOAT: return arena_printf("%g", v->f);
    case V_BOOL: return v->i ? "true" : "false";
    case V_STR: return arena_printf("\"%s\"", v->s);
    case V_WORD: return v->s;
    case V_DIMS: {
        char *s = arena_printf("%lld", v->d[0]);
        for (int i = 1; i < v->nd; i++) s = arena_printf("%sx%lld", s, v->d[i]);
        return s;
    }
    case V_NONE: break;
    }
    return "nothing";
}

/* Evaluate e.  Unknown identifiers become V_WORD (a bare word such as 'same'
 * or 'relu'); arithmetic on a word reports it as an undefined name. */
static bool eval(const Expr *e, const Env *env, Value *out) {
    memset(out, 0, sizeof *out);
    out->loc = e->loc;
    if (e->depth > MAX_EXPR_DEPTH) {     /* eval recurses: keep the C stack bounded */
        diag_error(e->loc, "expression nested more than %d operators deep", MAX_EXPR_DEPTH);
        return false;
    }
    switch (e->kind) {
    case EX_INT: out->k = V_INT; out->i = e->ival; return true;
    case EX_FLOAT: out->k = V_FLOAT; out->f = e->fval; return true;
    case EX_BOOL: out->k = V_BOOL; out->i = e->ival; return true;
    case EX_STR: out->k = V_STR; out->s = e->str; return true;
    case EX_DIMS:
        out->k = V_DIMS;
        out->nd = e->ndims;
        memcpy(out->d, e->dims, sizeof out->d);
        return true;
    case EX_IDENT: {
        const Value *v = env_get(env, e->str);
        if (v) { *out = *v; out->loc = e->loc; return true; }
        out->k = V_WORD;
        out->s = e->str;
        return true;
    }
    case EX_NEG: case EX_NOT: {
        Value a;
        if (!eval(e->a, env, &a)) return false;
        if (a.k == V_WORD) { undefined(env, a.s, a.loc); return false; }
        if (!is_num(&a)) { diag_error(e->loc, "'%s' is not a number", vdesc(&a)); return false; }
        if (e->kind == EX_NOT) { out->k = V_BOOL; out->i = num(&a) == 0; return true; }
        if (a.k == V_FLOAT) { out->k = V_FLOAT; out->f = -a.f; return true; }
        out->k = V_INT; out->i = -a.i;
        return true;
    }
    case EX_BIN: {
        Value a, b;
        if (!eval(e->a, env, &a) || !eval(e->b, env, &b)) return false;
        if (a.k == V_WORD) { undefined(env, a.s, a.loc); return false; }
        if (b.k == V_WORD) { undefined(env, b.s, b.loc); return false; }
        if (!is_num(&a) || !is_num(&b)) {
            diag_error(e->loc, "arithmetic on '%s' and '%s', which are not both numbers",
                       vdesc(&a), vdesc(&b));
            return false;
        }
        bool isint = a.k != V_FLOAT && b.k != V_FLOAT;
        double x = num(&a), y = num(&b);
        long long r = 0;
        switch (e->op) {
        case OP_AND: out->k = V_BOOL; out->i = x != 0 && y != 0; return true;
        case OP_OR: out->k = V_BOOL; out->i = x != 0 || y != 0; return true;
        case OP_LT: out->k = V_BOOL; out->i = x < y; return true;
        case OP_LE: out->k = V_BOOL; out->i = x <= y; return true;
        case OP_GT: out->k = V_BOOL; out->i = x > y; return true;
        case OP_GE: out->k = V_BOOL; out->i = x >= y; return true;
        case OP_EQ: out->k = V_BOOL; out->i = x == y; return true;
        case OP_NE: out->k = V_BOOL; out->i = x != y; return true;
        }
        if ((e->op == OP_DIV || e->op == OP_MOD) && y == 0) {
            diag_error(e->loc, "division by zero");
            return false;
        }
        if (!isint) {
            out->k = V_FLOAT;
            switch (e->op) {
            case OP_ADD: out->f = x + y; break;
            case OP_SUB: out->f = x - y; break;
            case OP_MUL: out->f = x * y; break;
            case OP_DIV: out->f = x / y; break;
            default: diag_error(e->loc, "'%%' needs integers"); return false;
            }
            return true;
        }
        bool ovf = false;
        switch (e->op) {
        case OP_ADD: ovf = __builtin_add_overflow(a.i, b.i, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(a.i, b.i, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(a.i, b.i, &r); break;
        case OP_DIV:
            if (a.i == INT64_MIN && b.i == -1) ovf = true;
            else r = a.i / b.i;
            break;
        case OP_MOD:
            if (b.i == -1) r = 0;
            else r = a.i % b.i;
            break;
        }
        if (ovf) {
            static const char *const ops[] = { [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/" };
            diag_error(e->loc, "integer overflow: %lld %s %lld does not fit in 64 bits", a.i, ops[e->op], b.i);
            return false;
        }
        out->k = V_INT;
        out->i = r;
        return true;
    }
    }
    return false;
}

/* ---- attributes ---------------------------------------------------------- */

typedef struct Slot {         /* one attribute's value while reading a layer */
    bool set;
    Value v;
    Loc loc;
} Slot;

/* An attribute by its name, or by its shorthand letter (s=2 for stride=2). */
static int attr_index(const LayerKind *k, const char *name) {
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (strcmp(k->attrs[i].name, name) == 0) return i;
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (k->attrs[i].shorthand && name[0] == k->attrs[i].shorthand && name[1] == '\0') return i;
    return -1;
}

static const char *display(const LayerKind *k, const char *name) {
    return name ? arena_printf("%s '%s'", k->name, name) : k->name;
}

/* 'k3', 'k3x1', 'k3x3x3', 's2', 'p1', 'd2', 'g32' -> attribute index and value */
static int shorthand(const LayerKind *k, const char *w, Value *v, Loc loc) {
    if (!isalpha((unsigned char)w[0]) || !isdigit((unsigned char)w[1])) return -1;
    int idx = -1;
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (k->attrs[i].shorthand == w[0]) idx = i;
    if (idx < 0) return -1;
    const char *p = w + 1;
    memset(v, 0, sizeof *v);
    v->loc = loc;
    for (;;) {
        if (!isdigit((unsigned char)*p)) return -1;
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end - p > 12) return -1;
        if (v->nd >= 3) return -1;
        v->d[v->nd++] = x;
        if (*end == '\0') break;
        if (*end != 'x') return -1;
        p = end + 1;
    }
    if (v->nd == 1) { v->k = V_INT; v->i = v->d[0]; }
    else v->k = V_DIMS;
    return idx;
}

static bool parse_default(const char *text, Value *v) {
    memset(v, 0, sizeof *v);
    char *end;
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        v->k = V_BOOL; v->i = text[0] == 't'; return true;
    }
    long long i = strtoll(text, &end, 10);
    if (*end == '\0') { v->k = V_INT; v->i = i; return true; }
    double f = strtod(text, &end);
    if (*end == '\0') { v->k = V_FLOAT; v->f = f; return true; }
    v->k = V_WORD; v->s = text;
    return true;
}

/* Read N, HxW or (three) DxHxW, each >= lo: d, h, w (N: all three) and
 * how many sizes were written. */
static bool get_sizes(const char *what, const Value *v, long long lo, bool three, long long *d, long long *h,
                      long long *w, int *count) {
    const char *forms = three ? "N, HxW or DxHxW" : "N or HxW";
    if (v->k == V_WORD) { diag_error(v->loc, "%s: expected a number but found '%s'", what, v->s); return false; }
    if (v->k == V_INT) { *d = *h = *w = v->i; *count = 1; }
    else if (v->k == V_DIMS && v->nd == 2) { *h = v->d[0]; *w = v->d[1]; *d = 1; *count = 2; }
    else if (v->k == V_DIMS && v->nd == 3 && three) { *d = v->d[0]; *h = v->d[1]; *w = v->d[2]; *count = 3; }
    else { diag_error(v->loc, "%s must be %s, not '%s'", what, forms, vdesc(v)); return false; }
    if (*d < lo || *h < lo || *w < lo) {
        diag_error(v->loc, "%s must be at least %lld, not %s", what, lo, vdesc(v));
        return false;
    }
    return true;
}

static bool get_bool(const char *what, const Value *v, bool *out) {
    if (v->k == V_BOOL || (v->k == V_INT && (v->i == 0 || v->i == 1))) { *out = v->i != 0; return true; }
    diag_error(v->loc, "%s must be true or false, not '%s'", what, vdesc(v));
    return false;
}

static bool get_float(const char *what, const Value *v, double lo, double hi, bool hi_open, double *out) {
    if (v->k == V_WORD) { diag_error(v->loc, "%s: expected a number but found '%s'", what, v->s); return false; }
    if (v->k != V_INT && v->k != V_FLOAT) {
        diag_error(v->loc, "%s must be a number, not '%s'", what, vdesc(v));
        return false;
    }
    double x = num(v);
    if (!(x >= lo) || x > hi || (hi_open && x >= hi)) {
        diag_error(v->loc, "%s must be in [%g, %g%s, not %g", what, lo, hi, hi_open ? ")" : "]", x);
        return false;
    }
    *out = x;
    return true;
}

/* Move a checked attribute value into the Node field the kind table names
 * for it (AttrDef.field, .field2): the table, not the attribute's name,
 * says where a value goes. */
#define FIELD(T, off) (*(T *)(void *)((char *)n + (off)))

static bool apply(Node *n, const char *who, const AttrDef *a, const Value *v) {
    const char *what = arena_printf("%s: %s", who, a->name);
    switch (a->type) {
    case A_INT:
        if (v->k != V_INT) {
            if (v->k == V_WORD) diag_error(v->loc, "%s: expected an integer but found '%s'", what, v->s);
            else diag_error(v->loc, "%s must be an integer, not '%s'", what, vdesc(v));
            return false;
        }
        if (v->i < 1) { diag_error(v->loc, "%s must be at least 1, not %lld", what, v->i); return false; }
        FIELD(long long, a->field) = v->i;
        return true;
    case A_PAIR: {              /* at least 1; a pair whose default is 0 may be 0 (not given) */
        long long d, h, w;
        int count;
        if (!get_sizes(what, v, a->def && strcmp(a->def, "0") == 0 ? 0 : 1, a->field3 != 0, &d, &h, &w, &count))
            return false;
        FIELD(long long, a->field) = h;
        FIELD(long long, a->field2) = w;
        if (a->field3) FIELD(long long, a->field3) = d;
        n->nsizes[a - n->kind->attrs] = (unsigned char)count;
        return true;
    }
    case A_PAD: {
        if (v->k == V_WORD && strcmp(v->s, "same") == 0) { n->pad_same = true; return true; }
        long long d, h, w;
        int count;
        if (v->k == V_WORD) {
            diag_error(v->loc, "%s must be N, HxW, DxHxW or same, not '%s'", what, v->s);
            return false;
        }
        if (!get_sizes(what, v, 0, true, &d, &h, &w, &count)) return false;
        n->pt = n->pb = h;
        n->pl = n->pr = w;
        n->pd0 = n->pd1 = d;
        n->nsizes[a - n->kind->attrs] = (unsigned char)count;
        return true;
    }
    case A_FLOAT: case A_EPS: case A_FRAC: case A_PROB: {
        double x;
        bool ok = a->type == A_FLOAT ? get_float(what, v, -1e30, 1e30, false, &x)
                : get_float(what, v, 0, 1, a->type == A_PROB, &x);
        if (!ok) return false;
        if (a->type == A_EPS && x <= 0) { diag_error(v->loc, "%s must be positive", what); return false; }
        FIELD(double, a->field) = x;
        if (a->field2) FIELD(double, a->field2) = x;
        return true;
    }
    case A_COUNT0:              /* a default of -1: not given, the field keeps its value */
        if (v->k == V_INT && v->i == -1 && a->def && strcmp(a->def, "-1") == 0) return true;
        if (v->k != V_INT || v->i < 0) {
            diag_error(v->loc, "%s must be an integer of 0 or more, not '%s'", what, vdesc(v));
            return false;
        }
        FIELD(long long, a->field) = v->i;
        return true;
    case A_BOOL: {
        bool b;
        if (!get_bool(what, v, &b)) return false;
        FIELD(bool, a->field) = b;
        return true;
    }
    case A_ACT:
        if (v->k == V_WORD)
            for (int i = 0; i < ACT_COUNT; i++)
                if (strcmp(v->s, act_defs[i].name) == 0) { FIELD(ActKind, a->field) = (ActKind)i; return true; }
        diag_error(v->loc, "%s must be %s, not '%s'", what, act_choices(), vdesc(v));
        return false;
    }
    return false;
}

/* ---- statements ---------------------------------------------------------- */

static Node *elab_list(Stmt *s, Node *x, Scope sc, Seq *seq);
static Node *elab_stmt(Stmt *s, Node *x, Scope sc, const char *seqname);

static Stmt *find_block(const char *name) {
    for (int i = 0; i < nblocks; i++)
        if (strcmp(blocks[i]->ident, name) == 0) return blocks[i];
    return NULL;
}

static void unknown_kind(const Stmt *s) {
    const char *cands[128];
    int n = layer_kind_names(cands, 64);
    for (int i = 0; i < nblocks && n < 128; i++) cands[n++] = blocks[i]->ident;
    const char *sug = diag_suggest(s->ident, cands, n);
    if (sug)
        diag_error(s->ident_loc, "unknown layer kind or block '%s'; did you mean '%s'?", s->ident, sug);
    else
        diag_error(s->ident_loc, "unknown layer kind or block '%s' (cnnc --help-layers lists the kinds)",
                   s->ident);
}

static bool too_many_nodes(Loc loc) {
    if (G->nnodes < sema_max_layers) return false;
    if (G->nnodes == sema_max_layers) {
        diag_error(loc, "the network has more than %s layers", fmt_group(sema_max_layers));
        G->nnodes++;          /* report once; nodes are never added past this */
    }
    return true;
}

/* The note on an attribute given twice.  When the first was the layer's
 * first word and a shorthand (conv s2 k3 s1), the user probably meant a
 * name: say how to write one. */
static void first_given(const Slot *sl, const Arg *first, const LayerKind *k, int i) {
    if (first && !first->key && first->val->kind == EX_IDENT && first->loc.line == sl->loc.line &&
        first->loc.col == sl->loc.col && first->loc.file == sl->loc.file)
        diag_note(sl->loc, "first given here: '%s' reads as %s=%s; to name the layer %s, "
                  "write it as a string: %s \"%s\"", first->val->str, k->attrs[i].name,
                  first->val->str + 1, first->val->str, k->name, first->val->str);
    else
        diag_note(sl->loc, "first given here");
}

/* KIND [NAME] positional... key=value... flags... */
static Node *elab_layer(Stmt *s, const LayerKind *k, Node *x, Scope sc, const char *seqname) {
    Slot slot[MAX_ATTRS] = { 0 };
    const char *name = NULL;
    Loc name_loc = s->ident_loc;
    int npos = 0, nerr = diag_error_count();
    bool first = true;

    for (Arg *a = s->args; a; a = a->next, first = false) {
        Value v;
        if (a->key) {
            int i = attr_index(k, a->key);
            if (i < 0) {
                const char *cands[MAX_ATTRS];
                int n = 0;
                for (; n < MAX_ATTRS && k->attrs[n].name; n++) cands[n] = k->attrs[n].name;
                const char *sug = diag_suggest(a->key, cands, n);
                if (n == 0)
                    diag_error(a->key_loc, "%s takes no attributes, but '%s' is given", k->name, a->key);
                else if (sug)
                    diag_error(a->key_loc, "%s has no attribute '%s'; did you mean '%s'?", k->name, a->key, sug);
                else
                    diag_error(a->key_loc, "%s has no attribute '%s'", k->name, a->key);
                continue;
            }
            if (!eval(a->val, sc.env, &v)) continue;
            if (slot[i].set) {
                diag_error(a->key_loc, "%s: attribute '%s' is given twice", display(k, name), a->key);
                first_given(&slot[i], s->args, k, i);
                continue;
            }
            slot[i] = (Slot){ true, v, a->loc };
            continue;
        }
        if (a->val->kind == EX_IDENT && !env_get(sc.env, a->val->str)) {
            const char *w = a->val->str;
            int fi = -1, ai = layer_act_attr(k);
            for (int j = 0; j < MAX_FLAGS && k->flags[j].word; j++)
                if (strcmp(k->flags[j].word, w) == 0) fi = j;
            bool act_flag = false;
            for (int j = 1; ai >= 0 && j < ACT_COUNT; j++)
                if (strcmp(act_defs[j].name, w) == 0) act_flag = true;
            int i;
            if (fi >= 0) {
                i = attr_index(k, k->flags[fi].attr);
                parse_default(k->flags[fi].value, &v);
                v.loc = a->loc;
            } else if (act_flag) {            /* conv 8 k3 relu: act=relu */
                i = ai;
                parse_default(w, &v);
                v.loc = a->loc;
            } else if ((i = shorthand(k, w, &v, a->loc)) >= 0) {
                /* k3, s2, ... */
            } else if (first) {
                name = w;
                name_loc = a->loc;
                continue;
            } else {
                const char *cands[MAX_ATTRS + MAX_FLAGS + ACT_COUNT];
                int n = 0;
                for (int j = 0; j < MAX_FLAGS && k->flags[j].word; j++) cands[n++] = k->flags[j].word;
                for (int j = 1; ai >= 0 && j < ACT_COUNT; j++) cands[n++] = act_defs[j].name;
                for (int j = 0; j < MAX_ATTRS && k->attrs[j].name; j++) cands[n++] = k->attrs[j].name;
                const char *sug = diag_suggest(w, cands, n);
                if (sug)
                    diag_error(a->loc, "%s: unknown word '%s'; did you mean '%s'?", display(k, name), w, sug);
                else if (n == 0)
                    diag_error(a->loc, "%s takes no arguments, but '%s' is given", k->name, w);
                else
                    diag_error(a->loc, "%s: unknown word '%s' (not an attribute, flag or name)",
                               display(k, name), w);
                continue;
            }
            if (slot[i].set) {
                diag_error(a->loc, "%s: attribute '%s' is given twice", display(k, name), k->attrs[i].name);
                first_given(&slot[i], s->args, k, i);
                continue;
            }
            slot[i] = (Slot){ true, v, a->loc };
            continue;
        }
        if (first && a->val->kind == EX_STR) {
            name = a->val->str;
            name_loc = a->loc;
            continue;
        }
        if (!eval(a->val, sc.env, &v)) continue;
        if (npos >= 3 || !k->positional[npos]) {
            if (npos == 0)
                diag_error(a->loc, "%s takes no positional arguments, but '%s' is given",
                           display(k, name), vdesc(&v));
            else
                diag_error(a->loc, "%s takes at most %d positional argument%s, but '%s' is one more",
                           display(k, name), npos, npos == 1 ? "" : "s", vdesc(&v));
            continue;
        }
        int i = attr_index(k, k->positional[npos++]);
        if (slot[i].set) {
            diag_error(a->loc, "%s: attribute '%s' is given twice", display(k, name), k->attrs[i].name);
            first_given(&slot[i], s->args, k, i);
            continue;
        }
        slot[i] = (Slot){ true, v, a->loc };
    }

    /* defaults and required attributes (a missing one is not reported when
     * an argument already had an error: it is probably that argument) */
    bool arg_errors = diag_error_count() != nerr;
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++) {
        const AttrDef *ad = &k->attrs[i];
        if (slot[i].set) continue;
        if (!ad->def) {
            if (arg_errors) continue;
            const char *how = ad->shorthand ? arena_printf(" (e.g. %c3 or %s=3)", ad->shorthand, ad->name)
                                            : arena_printf(" (e.g. %s=...)", ad->name);
            diag_error(s->ident_loc, "%s: missing required attribute '%s'%s", display(k, name), ad->name,
                       ad->type == A_INT || ad->type == A_PAIR ? how : "");
            continue;
        }
        if (ad->def[0] == '=') {
            int j = attr_index(k, ad->def + 1);
            if (slot[j].set) slot[i] = slot[j];
            continue;
        }
        parse_default(ad->def, &slot[i].v);
        slot[i].v.loc = s->ident_loc;
        slot[i].set = true;
    }
    if (diag_error_count() != nerr) return x;
    if (too_many_nodes(s->loc)) return x;

    Node *n = ir_add_node(G, k, s->loc);
    n->via = frames ? frames->cs : NULL;
    n->nin = 1;
    n->in = arena_alloc(sizeof(Node *));
    n->in[0] = x;
    const char *who = display(k, name ? name : seqname);
    bool ok = true;
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (slot[i].set) ok &= apply(n, who, &k->attrs[i], &slot[i].v);
    if (!ok) { G->nnodes--; return x; }
    if (layer_act_attr(k) >= 0) {    /* a conv's or dense's act: its defaults, a leaky relu the slope= */
        const ActDef *ad = &act_defs[n->act];
        n->act_p[0] = n->act == ACT_LEAKY ? n->slope : ad->def[0];
        n->act_p[1] = ad->def[1];
    }

    if (name) {
        n->name = join(sc.prefix, name);
        n->loc = s->loc;
        if (!claim(n->name, name_loc, n, false)) { G->nnodes--; return x; }
    } else if (seqname) {
        n->name = join(sc.prefix, seqname);
        if (!claim(n->name, s->loc, n, false)) { G->nnodes--; return x; }
    } else {
        n->name = auto_name(sc.prefix, k->name);
        n->auto_named = true;
        claim(n->name, s->loc, n, true);
    }
    return n;
}

/* BLOCK [NAME] args... : expand the body in its own scope */
static Node *elab_call(Stmt *s, Stmt *def, Node *x, Scope sc, const char *seqname) {
    for (Frame *f = frames; f; f = f->up)
        if (f->def == def) {
            /* the cycle, outermost first: ping -> pong -> ping */
            const char *path = def->ident;
            for (Frame *g = frames; g != f; g = g->up)
                path = arena_printf("%s -> %s", g->def->ident, path);
            if (frames == f)
                diag_error(s->ident_loc, "block '%s' calls itself; blocks cannot be recursive "
                           "(use repeat to stack copies)", def->ident);
            else
                diag_error(s->ident_loc, "block '%s' calls itself through a cycle of calls (%s -> %s); "
                           "blocks cannot be recursive (use repeat to stack copies)",
                           def->ident, def->ident, path);
            return x;
        }
    int nparams = 0;
    for (Param *p = def->params; p; p = p->next) nparams++;
    Value *vals = arena_alloc(sizeof(Value) * (size_t)(nparams + 1));
    bool *given = arena_alloc(sizeof(bool) * (size_t)(nparams + 1));
    const char *name = NULL;
    Loc name_loc = s->ident_loc;
    int npos = 0, nerr = diag_error_count();
    bool first = true;

    for (Arg *a = s->args; a; a = a->next, first = false) {
        if (!a->key && first &&
            ((a->val->kind == EX_IDENT && !env_get(sc.env, a->val->str)) || a->val->kind == EX_STR)) {
            name = a->val->str;
            name_loc = a->loc;
            continue;
        }
        Value v;
        if (!eval(a->val, sc.env, &v)) continue;
        if (v.k == V_WORD) { undefined(sc.env, v.s, v.loc); continue; }
        int idx = -1;
        if (a->key) {
            int i = 0;
            for (Param *p = def->params; p; p = p->next, i++)
                if (strcmp(p->name, a->key) == 0) idx = i;
            if (idx < 0) {
                const char *cands[64];
                int n = 0;
                for (Param *p = def->params; p && n < 64; p = p->next) cands[n++] = p->name;
                const char *sug = diag_suggest(a->key, cands, n);
                if (sug)
                    diag_error(a->key_loc, "block '%s' has no parameter '%s'; did you mean '%s'?",
                               def->ident, a->key, sug);
                else
                    diag_error(a->key_loc, "block '%s' has no parameter '%s'", def->ident, a->key);
                continue;
            }
        } else {
            idx = npos++;
            if (idx >= nparams) {
                diag_error(a->loc, "block '%s' takes %d argument%s but more are given",
                           def->ident, nparams, nparams == 1 ? "" : "s");
                diag_note(def->ident_loc, "'%s' is defined here", def->ident);
                continue;
            }
        }
        if (given[idx]) {
            Param *p = def->params;
            for (int j = 0; j < idx; j++) p = p->next;
            diag_error(a->loc, "block '%s': parameter '%s' is given twice", def->ident, p->name);
            diag_note(vals[idx].loc, "first given here");
            continue;
        }
        given[idx] = true;
        vals[idx] = v;
    }
    Scope inner = { .depth = sc.depth + 1 };
    int i = 0;
    for (Param *p = def->params; p; p = p->next, i++) {
        if (!given[i]) {
            if (!p->def) {
                diag_error(s->ident_loc, "block '%s': missing argument '%s'", def->ident, p->name);
                diag_note(p->loc, "parameter '%s' is declared here", p->name);
                continue;
            }
            if (!eval(p->def, NULL, &vals[i])) continue;
        }
        Env *e = arena_alloc(sizeof *e);
        e->name = p->name;
        e->v = vals[i];
        e->next = inner.env;
        inner.env = e;
    }
    if (diag_error_count() != nerr) return x;

    if (name) {
        inner.prefix = join(sc.prefix, name);
        if (!claim(inner.prefix, name_loc, NULL, false)) return x;
    } else if (seqname) {
        inner.prefix = join(sc.prefix, seqname);
        if (!claim(inner.prefix, s->loc, NULL, false)) return x;
    } else {
        inner.prefix = auto_name(sc.prefix, def->ident);
        claim(inner.prefix, s->loc, NULL, true);
    }
    CallSite *cs = arena_alloc(sizeof *cs);
    *cs = (CallSite){ def->ident, inner.prefix, s->loc, frames ? frames->cs : NULL };
    Frame f = { def, s->loc, cs, frames };
    frames = &f;
    diag_set_context(cs);
    Node *y = elab_list(def->body, x, inner, NULL);
    frames = f.up;
    diag_set_context(frames ? frames->cs : NULL);
    return y;
}

static Node *make_join(const LayerKind *k, Node **ins, int nin, Loc loc, Scope sc) {
    if (too_many_nodes(loc)) return ins[0];
    Node *n = ir_add_node(G, k, loc);
    n->via = frames ? frames->cs : NULL;
    n->nin = nin;
    n->in = arena_alloc(sizeof(Node *) * (size_t)nin);
    memcpy(n->in, ins, sizeof(Node *) * (size_t)nin);
    n->name = auto_name(sc.prefix, k->name);
    n->auto_named = true;
    claim(n->name, loc, n, true);
    return n;
}

/* The scope a group-like statement opens: its own name, its seq number, or none. */
static bool open_scope(Stmt *s, Scope *sc, const char *seqname, Scope *inner) {
    *inner = *sc;
    inner->depth = sc->depth + 1;
    const char *nm = s->name ? s->name : seqname;
    if (!nm) return true;
    inner->prefix = join(sc->prefix, nm);
    return claim(inner->prefix, s->name ? s->name_loc : s->loc, NULL, false);
}

static long long eval_count(Expr *e, Env *env, const char *what, long long lo, long long hi, bool *ok) {
    Value v;
    *ok = false;
    if (!eval(e, env, &v)) return 0;
    if (v.k == V_WORD) { undefined(env, v.s, v.loc); return 0; }
    if (v.k != V_INT) { diag_error(e->loc, "%s must be an integer, not '%s'", what, vdesc(&v)); return 0; }
    if (v.i < lo || v.i > hi) {
        diag_error(e->loc, "%s must be between %lld and %lld, not %lld", what, lo, hi, v.i);
        return 0;
    }
    *ok = true;
    return v.i;
}

static Node *elab_stmt(Stmt *s, Node *x, Scope sc, const char *seqname) {
    if (sc.depth > MAX_NEST) {
        diag_error(s->loc, "blocks and groups are nested more than %d deep", MAX_NEST);
        return x;
    }
    switch (s->kind) {
    case ST_NETWORK:
        diag_error(s->loc, "'network' must be the first statement of the main file, at the top level");
        return x;
    case ST_INCLUDE:
        diag_error(s->loc, "'include' is only allowed at the top level of a file");
        return x;
    case ST_BLOCKDEF:
        diag_error(s->loc, "blocks are defined at the top level only");
        return x;
    case ST_CALL: {
        const LayerKind *k = layer_lookup(s->ident);
        if (k) return elab_layer(s, k, x, sc, seqname);
        Stmt *def = find_block(s->ident);
        if (def) return elab_call(s, def, x, sc, seqname);
        unknown_kind(s);
        return x;
    }
    case ST_GROUP: {
        Scope inner;
        if (!open_scope(s, &sc, seqname, &inner)) return x;
        if (!s->is_seq) return elab_list(s->body, x, inner, NULL);
        Seq q = { 0, s->prefix ? s->prefix : "" };
        bool ok = true;
        if (s->from) q.next = eval_count(s->from, sc.env, "seq 'from'", 0, 1000000, &ok);
        if (!ok) return x;
        return elab_list(s->body, x, inner, &q);
    }
    case ST_RESIDUAL: {
        Scope inner;
        if (!open_scope(s, &sc, seqname, &inner)) return x;
        Node *a = elab_list(s->body, x, inner, NULL);
        Node *b = s->body2 ? elab_stmt(s->body2, x, inner, NULL) : x;
        if (a == x && b == x) {
            diag_error(s->loc, "residual with an empty body adds its input to itself; is the body missing?");
            return x;
        }
        Node *ins[2] = { a, b };
        return make_join(layer_kinds[K_ADD], ins, 2, s->loc, inner);
    }
    case ST_CONCAT: {
        Scope inner;
        if (!open_scope(s, &sc, seqname, &inner)) return x;
        int nb = 0;
        for (Stmt *b = s->body; b; b = b->next) nb++;
        if (nb == 0) {
            diag_error(s->loc, "concat needs at least one branch");
            return x;
        }
        Node **ins = arena_alloc(sizeof(Node *) * (size_t)nb);
        int i = 0;
        for (Stmt *b = s->body; b; b = b->next)
            ins[i++] = elab_stmt(b, x, inner, NULL);
        return make_join(layer_kinds[K_CONCAT], ins, nb, s->loc, inner);
    }
    case ST_MERGE: {                 /* each branch from the input, joined elementwise */
        static const char *const ops[] = { "add", "sub", "mul", "mean" };
        static const KindId kinds[] = { K_ADD, K_SUB, K_MUL, K_MEAN };
        int op = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(s->ident, ops[i]) == 0) op = i;
        if (op < 0) {
            const char *sug = diag_suggest(s->ident, ops, 4);
            diag_error(s->ident_loc, "merge: unknown operation '%s'%s (add, sub, mul or mean)", s->ident,
                       sug ? arena_printf("; did you mean '%s'?", sug) : "");
            return x;
        }
        int nb = 0;
        for (Stmt *b = s->body; b; b = b->next) nb++;
        bool two = kinds[op] == K_SUB || kinds[op] == K_MUL;
        if (two ? nb != 2 : nb < 2) {
            diag_error(s->loc, "merge %s takes %s branches, not %d", ops[op], two ? "two" : "two or more", nb);
            return x;
        }
        Scope inner;
        if (!open_scope(s, &sc, seqname, &inner)) return x;
        Node **ins = arena_alloc(sizeof(Node *) * (size_t)nb);
        int i = 0;
        for (Stmt *b = s->body; b; b = b->next)
            ins[i++] = elab_stmt(b, x, inner, NULL);
        return make_join(layer_kinds[kinds[op]], ins, nb, s->loc, inner);
    }
    case ST_SCALE: {                 /* squeeze-and-excitation: x · gate(x) */
        Scope inner;
        if (!open_scope(s, &sc, seqname, &inner)) return x;
        Node *gate = elab_list(s->body, x, inner, NULL);
        if (gate == x) {
            diag_error(s->loc, "scale with an empty body multiplies its input by itself; is the body missing?");
            return x;
        }
        Node *ins[2] = { x, gate };
        return make_join(layer_kinds[K_MUL], ins, 2, s->loc, inner);
    }
    case ST_REPEAT:
    case ST_IF:
        /* handled in elab_list, where a seq's numbering continues through them */
        return elab_list(s, x, sc, NULL);
    }
    return x;
}

/* Count one more statement (or repeat iteration) elaborated; past the limit,
 * report it once and say true. */
static bool too_many_steps(Loc loc) {
    if (steps > MAX_STEPS) return true;
    if (++steps <= MAX_STEPS) return false;
    diag_error(loc, "the network takes more than %s statements to expand (repeats and block calls "
               "multiply); is a repeat count too large?", fmt_group(MAX_STEPS));
    return true;
}

/* repeat and if expand in place; their items are items of the enclosing list */
static Node *elab_list(Stmt *s, Node *x, Scope sc, Seq *seq) {
    for (; s; s = s->next) {
        if (sc.depth > MAX_NEST) {
            diag_error(s->loc, "blocks and groups are nested more than %d deep", MAX_NEST);
            return x;
        }
        if (diag_error_count() > diag_max_errors || too_many_steps(s->loc)) return x;
        if (s->kind == ST_REPEAT) {
            bool ok1 = true, ok2 = true;
            long long n = eval_count(s->count, sc.env, "repeat count", 0, MAX_REPEAT, &ok1);
            long long from = s->from ? eval_count(s->from, sc.env, "repeat 'from'", -1000000, 1000000, &ok2) : 0;
            if (!ok1 || !ok2) continue;
            for (long long i = 0; i < n && !too_many_steps(s->loc); i++) {
                Scope inner = sc;
                inner.depth = sc.depth + 1;
                if (s->var) {
                    Env *e = arena_alloc(sizeof *e);
                    e->name = s->var;
                    e->v = (Value){ .k = V_INT, .i = from + i, .loc = s->var_loc };
                    e->next = sc.env;
                    inner.env = e;
                }
                int before = diag_error_count();
                x = elab_list(s->body, x, inner, seq);
                if (diag_error_count() != before) break;   /* one report, not n */
            }
            continue;
        }
        if (s->kind == ST_IF) {
            Value c;
            if (!eval(s->cond, sc.env, &c)) continue;
            if (c.k == V_WORD) { undefined(sc.env, c.s, c.loc); continue; }
            if (!is_num(&c)) {
                diag_error(s->cond->loc, "condition must be a number or true/false, not '%s'", vdesc(&c));
                continue;
            }
            Stmt *branch = num(&c) != 0 ? s->body : (s->body2 ? s->body2->body : NULL);
            Scope inner = sc;
            inner.depth = sc.depth + 1;
            x = elab_list(branch, x, inner, seq);
            continue;
        }
        const char *seqname = NULL;
        if (seq) seqname = arena_printf("%s%lld", seq->prefix, seq->next++);
        Node *y = elab_stmt(s, x, sc, seqname);
        x = y;
    }
    return x;
}

/* ---- entry --------------------------------------------------------------- */

Graph *sema_elaborate(Stmt *prog, int *nerr) {
    int before = diag_error_count();
    diag_set_context(NULL);
    G = ir_new_graph();
    tab = NULL;
    tab_cap = tab_n = 0;
    frames = NULL;
    nblocks = 0;
    steps = 0;
    int nb = 0;
    for (Stmt *s = prog; s; s = s->next) nb += s->kind == ST_BLOCKDEF;
    blocks = arena_alloc(sizeof(Stmt *) * (size_t)(nb + 1));

    Stmt *net = NULL;
    for (Stmt *s = prog; s; s = s->next) {
        if (s->kind == ST_BLOCKDEF) {
            Stmt *prev = find_block(s->ident);
            if (prev) {
                diag_error(s->ident_loc, "block '%s' is defined twice", s->ident);
                diag_note(prev->ident_loc, "first defined here");
                continue;
            }
            if (layer_lookup(s->ident)) {
                diag_error(s->ident_loc, "block '%s' has the name of a built-in layer kind", s->ident);
                continue;
            }
            for (Param *prev = NULL, *p = s->params; p; p = p->next) {
                Param *q = s->params;
                while (q != p && strcmp(p->name, q->name) != 0) q = q->next;
                if (q == p) { prev = p; continue; }
                diag_error(p->loc, "block '%s': parameter '%s' is declared twice", s->ident, p->name);
                diag_note(q->loc, "first declared here");
                prev->next = p->next;         /* drop it: calls are checked as if it were not there */
            }
            blocks[nblocks++] = s;
        } else if (s->kind == ST_NETWORK) {
            if (net) {
                diag_error(s->loc, "a second 'network' line; a file describes one network");
                diag_note(net->loc, "the network is declared here");
            } else {
                net = s;
            }
        }
    }
    if (!net) {
        Loc l = prog ? prog->loc : (Loc){ 0 };
        diag_error(l, "missing 'network NAME input CxHxW' line before the first layer");
        *nerr = diag_error_count() - before;
        return NULL;
    }
    G->name = net->ident;
    G->file = net->loc.file;
    G->loc = net->loc;
    const Expr *d = net->input;
    Node *in = ir_add_node(G, layer_kinds[K_INPUT], net->loc);
    in->name = "input";
    claim("input", net->loc, in, false);
    const char *dimtext = "";
    for (int i = 0; i < d->ndims; i++) dimtext = arena_printf("%s%s%lld", dimtext, i ? "x" : "", d->dims[i]);
    long long numel = 1;
    bool ok = d->ndims >= 2 && d->ndims <= 4, big = false;
    for (int i = 0; ok && i < d->ndims; i++) {
        if (d->dims[i] < 1) ok = false;
        else if (__builtin_mul_overflow(numel, d->dims[i], &numel)) big = true;
    }
    if (d->ndims < 2 || d->ndims > 4) {
        diag_error(d->loc, "the input must be CxL (a signal, like 1x1000), CxHxW (an image, like 3x224x224) "
                   "or CxDxHxW (a volume, like 1x16x64x64), not %d size%s", d->ndims, d->ndims == 1 ? "" : "s");
    } else if (!ok) {
        diag_error(d->loc, "input sizes must be at least 1");
    } else if (big) {
        diag_error(d->loc, "the input %s has more than 2^63 elements; a tensor may have at most 2^40", dimtext);
    } else if (numel > CNNC_MAX_NUMEL) {
        diag_error(d->loc, "the input %s has %s elements; a tensor may have at most 2^40 (%s)", dimtext,
                   fmt_group(numel), fmt_group(CNNC_MAX_NUMEL));
    } else {
        const long long *v = d->dims;
        Shape like = { .sp = d->ndims - 1 };
        in->shape = d->ndims == 2 ? shape_like(&like, v[0], 1, 1, v[1])
                  : d->ndims == 3 ? shape_like(&like, v[0], 1, v[1], v[2]) : shape_like(&like, v[0], v[1], v[2], v[3]);
    }

    Node *x = in;
    Scope top = { .prefix = "", .env = NULL, .depth = 0 };
    bool seen_net = false;
    for (Stmt *s = prog; s; s = s->next) {
        if (s->kind == ST_BLOCKDEF) continue;
        if (s->kind == ST_NETWORK) { seen_net = true; continue; }
        if (!seen_net) {
            diag_error(s->loc, "layers must come after the 'network' line");
            diag_note(net->loc, "the network is declared here");
            continue;
        }
        Stmt *next = s->next;
        s->next = NULL;       /* elaborate one statement at a time */
        x = elab_list(s, x, top, NULL);
        s->next = next;
    }
    if (x == in && diag_error_count() == before)
        diag_error(net->loc, "network '%s' has no layers", net->ident);
    G->output = x;
    diag_set_context(NULL);           /* prints the last error's call sites */
    *nerr = diag_error_count() - before;
    return G;
}
