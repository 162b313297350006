/*
 * import.c — write an imported network (import.h) as a .net file and a
 * safetensors file of its weights.
 *
 * 1. Blocks from the graph.  The language writes series-parallel networks:
 *    chains of layers, and merges whose branches all start at one value.
 *    A merge's branches start at its immediate dominator (the last value
 *    every path from the input to it goes through): a merge m whose
 *    dominator is d is written, after the layers from the chain's start
 *    to d, as one block whose branches are the paths from d to each of m's
 *    inputs, written the same way (dominators computed on the DAG in
 *    topological order: the dominator of a node is the common ancestor, in
 *    the dominator tree, of its inputs).  An add of two becomes `residual {
 *    longer branch } shortcut { shorter }` (no shortcut block when one
 *    branch is the fork's value itself), a concat `concat`, a product with
 *    the fork's value `scale { gate }`, anything else `merge OP`.  A layer
 *    that two branches read cannot be written so: that is an error naming
 *    it.  A concat whose first inputs are those of an earlier concat reads
 *    that concat instead (DenseNet's concatenation of all earlier features
 *    becomes a chain of concats of two).
 * 2. Scopes from names.  Each layer's dotted module path gives the scopes
 *    it sits in; a block's scope is the longest common prefix of the paths
 *    of the layers with weights inside it.  Consecutive statements in the
 *    same scope are wrapped in `group NAME { }`, or in `seq NAME { }` when
 *    that scope's items are numbered 0, 1, 2, ... (nn.Sequential); a
 *    block whose scope is exactly the next one takes it as its name.  Only
 *    layers with weights are named (their name is the last component of
 *    their path); the others keep the names cnnc gives them.
 * 3. Repeated structures become blocks.  A unit is what a block call
 *    could stand for: a scope written as a group, a seq, or a block named
 *    by its scope (torchvision's BasicBlock, an Inception module, a dense
 *    layer).  Two units are calls of one block when their text is the same
 *    but for values a parameter can carry (numbers, sizes, true/false):
 *    each layer line is read back into its every attribute (defaults
 *    included, so `conv 64 k3` and `conv 128 k3 s2` differ only in `out`
 *    and `stride`), and the key is the text with such values left out.
 *    Each value that differs between the calls becomes a parameter (one
 *    per distinct column of values, named after the attribute: channels,
 *    stride, ...).  Bottom up, in rounds: a unit is grouped once every
 *    unit inside it is settled (a call, or alone), so a block's body may
 *    call the blocks of the round before (an Inception module calls its
 *    conv-batchnorm-relu).  A block holds 3 layers or calls at least and
 *    at most 8 parameters; it is named after its first call's scope
 *    (denselayer1: denselayer; layer1.0: layer_block).
 * 4. The names the weights go under are read back, not predicted: the text
 *    without blocks is compiled (front_load_string) and each layer with
 *    weights is found by its line, its tensors matched by suffix and size.
 *    The same compile gives every line's output shape, written as a
 *    comment.  The text with blocks is written only when it compiles to
 *    the same layers (names, inputs, attributes, shapes, in order).
 */
#include "cnnc.h"
#include "cnnrt.h"
#include "cnnrt_file.h"
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static FILE *out_stream;
FILE *import_out(void) { return out_stream ? out_stream : stderr; }
void import_set_out(FILE *f) { out_stream = f; }

/* v (n used of *cap, each size bytes) with room for one more: a new arena
 * array of twice the room (first at the start) when it is full */
void *imp_grow(void *v, int n, int *cap, size_t size, int first) {
    if (n < *cap) return v;
    int c = *cap ? 2 * *cap : first;
    void *nv = arena_alloc(size * (size_t)c);
    if (n) memcpy(nv, v, size * (size_t)n);
    *cap = c;
    return nv;
}

int imp_add(ImpGraph *g, const char *kind, const char *path, const char *args) {
    g->nodes = imp_grow(g->nodes, g->n, &g->cap, sizeof *g->nodes, 64);
    ImpNode *n = &g->nodes[g->n];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->path = path;
    n->args = args ? args : "";
    return g->n++;
}

/* ---- 1. blocks ---------------------------------------------------------------- */

typedef struct IStmt IStmt;
typedef struct IList {
    IStmt **v;
    int n, cap;
} IList;

struct IStmt {
    int node;                  /* the layer, or the merge */
    bool merge;
    IList *branches;           /* merge: one list per input, in input order */
    int nbr;
    int rel_start;             /* scratch for the writer */
};

typedef struct Ctx {
    const ImpGraph *g;
    int *idom, *depth;
    bool *emitted;
    int errors;
} Ctx;

static void list_push(IList *l, IStmt *s) {
    l->v = imp_grow(l->v, l->n, &l->cap, sizeof *l->v, 8);
    l->v[l->n++] = s;
}

static int lca(const Ctx *c, int a, int b) {
    while (a != b) {
        if (c->depth[a] < c->depth[b]) b = c->idom[b];
        else a = c->idom[a];
    }
    return a;
}

static void imp_error(Ctx *c, int node, const char *fmt, const char *what) {
    const ImpNode *n = &c->g->nodes[node];
    fprintf(import_out(), "%s: error: %s %s", c->g->source, n->origin ? n->origin : n->kind, fmt);
    fprintf(import_out(), "%s\n", what ? what : "");
    c->errors++;
}

/* The statements that take the value of node `start` to that of `end`
 * (start dominates end), appended to out. */
static void emit_path(Ctx *c, int start, int end, IList *out) {
    if (c->errors) return;                       /* one such error is enough (and the rest could be many) */
    /* walk back along single-input layers to start or to a merge */
    int chain[4096], nc = 0, v = end;
    while (v != start) {
        const ImpNode *n = &c->g->nodes[v];
        if (n->nin != 1) break;
        if (nc == (int)(sizeof chain / sizeof chain[0])) {
            IList tail = { 0 };
            emit_path(c, start, v, &tail);        /* a very long chain: the rest first */
            for (int i = 0; i < tail.n; i++) list_push(out, tail.v[i]);
            start = v;
            break;
        }
        chain[nc++] = v;
        v = n->in[0];
    }
    if (v != start) {                            /* a merge: its fork, then the block */
        const ImpNode *m = &c->g->nodes[v];
        int d = c->idom[v];
        emit_path(c, start, d, out);
        IStmt *s = arena_alloc(sizeof *s);
        s->node = v;
        s->merge = true;
        s->nbr = m->nin;
        s->branches = arena_alloc(sizeof(IList) * (size_t)m->nin);
        for (int k = 0; k < m->nin; k++) emit_path(c, d, m->in[k], &s->branches[k]);
        if (c->emitted[v]) imp_error(c, v, "is read by two branches that do not merge back first: it cannot be "
                                          "written as nested blocks", NULL);
        c->emitted[v] = true;
        list_push(out, s);
    }
    for (int i = nc - 1; i >= 0; i--) {
        if (c->emitted[chain[i]])
            imp_error(c, chain[i], "is read by two branches that do not merge back first: it cannot be written "
                                   "as nested blocks", NULL);
        c->emitted[chain[i]] = true;
        IStmt *s = arena_alloc(sizeof *s);
        s->node = chain[i];
        list_push(out, s);
    }
}

/* ---- 2. scopes and lines --------------------------------------------------------- */

typedef struct Buf {
    char *s;
    size_t n, cap;
} Buf;

static void bputs(Buf *b, const char *t) {
    size_t l = strlen(t);
    if (b->n + l + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->n + l + 1) cap *= 2;
        char *s = arena_alloc(cap);
        if (b->n) memcpy(s, b->s, b->n);
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, t, l + 1);
    b->n += l;
}

typedef struct Unit Unit;
typedef struct Block Block;

/* One line of text: a layer (node, lname: its name or NULL), a block's
 * opening or closing words (node: the merge, or -1), or a call of a
 * folded unit (call). */
typedef struct Line {
    int depth;
    const char *text;
    int node;
    Unit *call;
    bool layer;
    const char *lname;
} Line;

typedef struct Lines {
    Line *v;
    int n, cap;
} Lines;

/* A statement or run that could be a block call: a scope written as a
 * group, a seq or a named block (section 4). */
struct Unit {
    const char *path;          /* its scope, the key */
    const char *inst;          /* the name a call gives it; NULL: its index in a seq */
    Lines body;                /* what it writes, depth 0 (the last render's) */
    int out;                   /* the node whose value is its output */
    bool seen;                 /* written by the current render */
    bool settled;              /* folded, or known not to be */
    bool inner_unsettled;      /* a unit inside it is not settled yet */
    int order;                 /* when the current render met it */
    Block *block;              /* folded: the block its call calls */
    const char **vals;         /* its call's arguments */
};

struct Block {
    const char *name;
    int np;
    const char **pname;
    Lines def;                 /* the body, parameters in it */
    Unit **calls;
    int ncalls;
};

typedef struct Writer {
    const ImpGraph *g;
    Lines *out;                /* where lines go */
    bool fold;                 /* folded units are written as calls */
    Unit **units;
    int nunits, capunits;
    Block **blocks;
    int nblocks, capblocks;
    bool inner_unsettled;      /* scratch while a unit's body is written */
    int order;
} Writer;

static void lines_push(Lines *l, Line x) {
    l->v = imp_grow(l->v, l->n, &l->cap, sizeof *l->v, 16);
    l->v[l->n++] = x;
}

static void wline(Writer *w, int depth, const char *text, int node) {
    lines_push(w->out, (Line){ depth, text, node, NULL, false, NULL });
}

/* append src's lines, each `shift` deeper */
static void lines_append(Lines *dst, const Lines *src, int shift) {
    for (int i = 0; i < src->n; i++) {
        Line x = src->v[i];
        x.depth += shift;
        lines_push(dst, x);
    }
}

static bool has_weights(const ImpNode *n) { return n->nt > 0; }

/* a path's component: a name the language accepts, or a number */
static bool is_number(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

static const char *ident(const char *s, size_t n) {
    char *t = arena_alloc(n + 2), *o = t;
    if (n == 0 || isdigit((unsigned char)s[0])) *o++ = '_';
    for (size_t i = 0; i < n; i++) *o++ = isalnum((unsigned char)s[i]) || s[i] == '_' ? s[i] : '_';
    return t;
}

/* The scope of a statement: a layer's path without its last component, a
 * block's the longest common prefix of the paths of its layers with
 * weights (NULL: no weights inside, no scope). */
static const char *common_prefix(const char *a, const char *b) {
    if (!a) return b;
    if (!b) return a;
    size_t i = 0, last = 0;
    for (;; i++) {
        if ((a[i] == '.' || !a[i]) && (b[i] == '.' || !b[i])) {
            if (a[i] == b[i] || (!a[i] && b[i] == '.') || (a[i] == '.' && !b[i])) last = i;
            if (!a[i] || !b[i] || a[i] != b[i]) break;
        }
        if (a[i] != b[i]) break;
    }
    return arena_strndup(a, last);
}

static const char *full_path(const Writer *w, const IStmt *s);
static const char *below(const char *path, const char *prefix);

/* the scope a statement sits in: a layer with weights is its module, so
 * its path without its own name; a layer without (a functional relu) has
 * the path of the module it ran in; a block its own scope */
static const char *scope_in(const Writer *w, const IStmt *s) {
    const char *p = full_path(w, s);
    if (!p || s->merge || !has_weights(&w->g->nodes[s->node])) return p;
    const char *dot = strrchr(p, '.');
    return dot ? arena_strndup(p, (size_t)(dot - p)) : "";
}

static const char *list_prefix(const Writer *w, const IList *l, const char *acc, bool *any) {
    for (int i = 0; i < l->n; i++) {
        const char *p = scope_in(w, l->v[i]);
        if (!p || (!p[0] && !has_weights(&w->g->nodes[l->v[i]->node]))) continue;   /* a functional op at the
                                                                                      top: says nothing */
        acc = *any ? common_prefix(acc, p) : p;
        *any = true;
    }
    return acc;
}

/* what the statement's position in the scopes is decided by: a layer's
 * whole path, a block's common scope */
static const char *full_path(const Writer *w, const IStmt *s) {
    const ImpNode *n = &w->g->nodes[s->node];
    if (!s->merge) return n->path;
    bool any = false;
    const char *acc = NULL;
    for (int k = 0; k < s->nbr; k++) acc = list_prefix(w, &s->branches[k], acc, &any);
    /* the module that computed the merge, when the exporter says (an
     * InvertedResidual's add, around its `conv` Sequential) */
    if (n->path && n->path[0] && (!any || below(acc, n->path))) return n->path;
    return any && acc[0] ? acc : NULL;
}

/* s's path below prefix (prefix "" is the network): the rest after
 * "prefix.", or NULL when s has none or it is not under prefix */
static const char *below(const char *path, const char *prefix) {
    if (!path) return NULL;
    size_t l = strlen(prefix);
    if (l == 0) return path;
    if (strncmp(path, prefix, l) != 0) return NULL;
    if (path[l] == '\0') return "";
    if (path[l] != '.') return NULL;
    return path + l + 1;
}

static const char *first_component(const char *rel, size_t *len) {
    const char *dot = strchr(rel, '.');
    *len = dot ? (size_t)(dot - rel) : strlen(rel);
    return rel;
}

static void write_list(Writer *w, const IList *l, const char *prefix, int depth, bool in_seq);

static void layer_line(Writer *w, int depth, const IStmt *s, const char *name) {
    const ImpNode *n = &w->g->nodes[s->node];
    const char *t = arena_printf("%s%s%s%s%s", n->kind, name ? " " : "", name ? name : "", n->args[0] ? " " : "",
                                 n->args);
    lines_push(w->out, (Line){ depth, t, s->node, NULL, true, name });
}

/* a block: its opening words, NAME or nothing, then its branches, whose
 * scope is inner */
static void write_merge(Writer *w, const IStmt *s, const char *name, const char *inner, int depth) {
    const ImpNode *n = &w->g->nodes[s->node];
    const char *nm = name ? arena_printf(" %s", name) : "";
    int empty = -1;
    for (int k = 0; k < s->nbr; k++)
        if (s->branches[k].n == 0) empty = k;
    if (strcmp(n->kind, "add") == 0 && s->nbr == 2 && (s->branches[0].n || s->branches[1].n)) {
        int body = s->branches[0].n >= s->branches[1].n ? 0 : 1;
        wline(w, depth, arena_printf("residual%s {", nm), s->node);
        write_list(w, &s->branches[body], inner, depth + 1, false);
        if (s->branches[1 - body].n) {
            wline(w, depth, "} shortcut {", -1);
            write_list(w, &s->branches[1 - body], inner, depth + 1, false);
        }
        wline(w, depth, "}", -1);
        return;
    }
    if (strcmp(n->kind, "mul") == 0 && s->nbr == 2 && empty >= 0) {
        wline(w, depth, arena_printf("scale%s {", nm), s->node);
        write_list(w, &s->branches[1 - empty], inner, depth + 1, false);
        wline(w, depth, "}", -1);
        return;
    }
    if (strcmp(n->kind, "concat") == 0) wline(w, depth, arena_printf("concat%s {", nm), s->node);
    else wline(w, depth, arena_printf("merge %s%s {", n->kind, nm), s->node);
    for (int k = 0; k < s->nbr; k++) {
        const IList *b = &s->branches[k];
        if (b->n == 0) {
            wline(w, depth + 1, "{}", -1);
        } else if (b->n == 1) {
            write_list(w, b, inner, depth + 1, false);
        } else {
            wline(w, depth + 1, "{", -1);
            write_list(w, b, inner, depth + 2, false);
            wline(w, depth + 1, "}", -1);
        }
    }
    wline(w, depth, "}", -1);
}

/* the runs of l under prefix: consecutive statements whose path below
 * prefix starts with the same component, or that belong to prefix itself.
 * A statement that ran in no module (a functional relu) joins the run
 * before it when its path is unknown, or when the next statement with a
 * module is in that run too (a relu between a block's layers); else, at
 * the network's own level, it is a statement of prefix itself (a flatten
 * after the last stage). */
typedef struct Run {
    int from, to;              /* [from, to) */
    const char *comp;          /* NULL: statements with nothing below prefix */
    size_t clen;
} Run;

static const char *component(const Writer *w, const IStmt *s, const char *prefix, size_t *len) {
    const char *rel = below(full_path(w, s), prefix);
    *len = 0;
    const char *c = rel && rel[0] ? first_component(rel, len) : NULL;
    /* a layer whose path is exactly prefix.NAME is named here, not scoped */
    if (c && !s->merge && *len == strlen(rel) && !is_number(c, *len)) c = NULL;
    return c;
}

static int runs_of(const Writer *w, const IList *l, const char *prefix, Run *runs) {
    int nr = 0;
    for (int i = 0; i < l->n; i++) {
        size_t len;
        const char *c = component(w, l->v[i], prefix, &len);
        const Run *last = nr ? &runs[nr - 1] : NULL;
        const char *p = full_path(w, l->v[i]);
        bool joins = last && !p;
        if (last && last->comp && p && !p[0]) {
            int j = i + 1;
            while (j < l->n && (!full_path(w, l->v[j]) || !full_path(w, l->v[j])[0])) j++;
            size_t nl;
            const char *nc = j < l->n ? component(w, l->v[j], prefix, &nl) : NULL;
            joins = nc && nl == last->clen && strncmp(nc, last->comp, nl) == 0;
        }
        if (last && (joins || (!c && !last->comp) ||
                     (c && last->comp && last->clen == len && strncmp(last->comp, c, len) == 0))) {
            runs[nr - 1].to = i + 1;
            continue;
        }
        runs[nr++] = (Run){ i, i + 1, c, len };
    }
    return nr;
}

/* Is l under prefix the items of an nn.Sequential: runs numbered K, K+1,
 * ... covering every statement?  *from: K. */
static bool seq_items(const Writer *w, const IList *l, const char *prefix, int *from) {
    Run *runs = arena_alloc(sizeof *runs * (size_t)(l->n + 1));
    int nr = runs_of(w, l, prefix, runs);
    if (nr == 0) return false;
    for (int r = 0; r < nr; r++)
        if (!runs[r].comp || !is_number(runs[r].comp, runs[r].clen)) return false;
    *from = atoi(runs[0].comp);
    for (int r = 0; r < nr; r++)
        if (atoi(runs[r].comp) != *from + r) return false;
    return true;
}

static Unit *unit_at(Writer *w, const char *path) {
    for (int i = 0; i < w->nunits; i++)
        if (strcmp(w->units[i]->path, path) == 0) return w->units[i];
    w->units = imp_grow(w->units, w->nunits, &w->capunits, sizeof *w->units, 32);
    Unit *u = arena_alloc(sizeof *u);
    memset(u, 0, sizeof *u);
    u->path = path;
    return w->units[w->nunits++] = u;
}

static const char *call_text(const Block *b, const char *inst, const char *const *vals);

/* Begin writing a unit: as a call when it is folded (false: done);
 * else its body goes to u->body (depth 0) until unit_end, and the caller
 * then copies it here under the opener that names the scope. */
static bool unit_begin(Writer *w, Unit *u, const char *inst, int out, int depth, Lines **saved, bool *su) {
    u->inst = inst;
    u->out = out;
    if (!u->seen) u->order = w->order++;
    u->seen = true;
    if (w->fold && u->block) {
        lines_push(w->out, (Line){ depth, call_text(u->block, inst, u->vals), out, u, false, NULL });
        return false;
    }
    *saved = w->out;
    *su = w->inner_unsettled;
    u->body = (Lines){ 0 };
    w->out = &u->body;
    w->inner_unsettled = false;
    return true;
}

static void unit_end(Writer *w, Unit *u, Lines *saved, bool su) {
    u->inner_unsettled = w->inner_unsettled;
    w->out = saved;
    w->inner_unsettled = su || !u->settled;
}

static void write_list(Writer *w, const IList *l, const char *prefix, int depth, bool in_seq) {
    Run *runs = arena_alloc(sizeof *runs * (size_t)(l->n + 1));
    int nr = runs_of(w, l, prefix, runs);
    for (int r = 0; r < nr; r++) {
        const Run *u = &runs[r];
        if (!u->comp) {                                  /* here, in prefix itself */
            for (int i = u->from; i < u->to; i++) {
                const IStmt *s = l->v[i];
                const ImpNode *n = &w->g->nodes[s->node];
                const char *rel = below(full_path(w, s), prefix);
                const char *name = rel && rel[0] && !in_seq ? ident(rel, strlen(rel)) : NULL;
                if (s->merge) write_merge(w, s, NULL, prefix, depth);     /* no scope of its own */
                else layer_line(w, depth, s, has_weights(n) ? name : NULL);
            }
            continue;
        }
        const char *sub = prefix[0] ? arena_printf("%s.%.*s", prefix, (int)u->clen, u->comp)
                                    : arena_strndup(u->comp, u->clen);
        bool number = is_number(u->comp, u->clen);
        /* a numbered scope outside a seq has no spelling: _N */
        const char *name = number && !in_seq ? ident(u->comp, u->clen) : number ? NULL : ident(u->comp, u->clen);
        const char *inst = in_seq ? NULL : name;
        const IStmt *s0 = l->v[u->from];
        const char *rel0 = below(full_path(w, s0), prefix);
        Lines *saved;
        bool su;
        if (u->to - u->from == 1 && rel0 && strlen(rel0) == u->clen) {
            /* one statement that is the scope itself: a block named so, or a numbered layer */
            if (!s0->merge) {
                layer_line(w, depth, s0, in_seq || !has_weights(&w->g->nodes[s0->node]) ? NULL : name);
                continue;
            }
            Unit *un = unit_at(w, sub);
            if (!unit_begin(w, un, inst, s0->node, depth, &saved, &su)) continue;
            write_merge(w, s0, NULL, sub, 0);
            unit_end(w, un, saved, su);
            /* here: the body, its opener named (in a seq: its index); not written again, which
             * would take twice as long at each level of nested blocks */
            Lines body = un->body;
            Line first = body.v[0];
            if (inst) first.text = arena_printf("%.*s %s {", (int)(strlen(first.text) - 2), first.text, inst);
            first.depth += depth;
            lines_push(w->out, first);
            body.v++;
            body.n--;
            lines_append(w->out, &body, depth);
            continue;
        }
        IList part = { l->v + u->from, u->to - u->from, 0 };
        int from = 0;
        bool seq = seq_items(w, &part, sub, &from);
        Unit *un = unit_at(w, sub);
        if (!unit_begin(w, un, inst, part.v[part.n - 1]->node, depth, &saved, &su)) continue;
        const char *at = from ? arena_printf(" from %d", from) : "";
        const char *nm = name && !in_seq ? arena_printf(" %s", name) : "";
        if (seq) wline(w, 0, arena_printf("seq%s {", at), -1);
        write_list(w, &part, sub, seq ? 1 : 0, seq);
        if (seq) wline(w, 0, "}", -1);
        unit_end(w, un, saved, su);
        /* here: the body's lines, under the opener that names the scope */
        const char *opener = seq ? arena_printf("seq%s%s {", nm, at) : in_seq || !name ? "{" : arena_printf("group %s {", name);
        wline(w, depth, opener, -1);
        Lines inner = un->body;
        if (seq) { inner.v++; inner.n -= 2; }            /* the body's own seq line and its "}" */
        lines_append(w->out, &inner, seq ? depth : depth + 1);
        wline(w, depth, "}", -1);
    }
}

/* ---- 3. repeated structures as blocks ------------------------------------------- */

/* A line as what can vary between calls: a layer's every attribute (its
 * default when not written), a call's every argument.  Other lines are
 * literal. */
#define CANON_MAX (MAX_ATTRS + 16)
typedef struct Canon {
    const char *head;          /* "conv conv1", a call's "name inst"; NULL: literal */
    int nv;
    const char *attr[CANON_MAX];
    const char *val[CANON_MAX];
    int ntok;                  /* a layer's words after its name, as written */
    const char *tok[2 * CANON_MAX];
    int tok_attr[2 * CANON_MAX];   /* the attribute each sets, -1: none */
    bool tok_bare[2 * CANON_MAX];  /* a positional value */
} Canon;

/* a value a parameter can carry: a number, a size, true or false */
static bool plain_value(const char *v) {
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) return true;
    const char *p = v;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return false;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr(".xe-+", *p)) return false;
    return true;
}

static bool canon_layer(const Line *x, const ImpNode *n, Canon *c) {
    const LayerKind *k = layer_lookup(n->kind);
    if (!k) return false;
    c->head = x->lname ? arena_printf("%s %s", n->kind, x->lname) : n->kind;
    int na = 0;
    while (na < MAX_ATTRS && k->attrs[na].name) na++;
    c->nv = na;
    for (int i = 0; i < na; i++) {
        const char *d = k->attrs[i].def;
        c->attr[i] = k->attrs[i].name;
        c->val[i] = d ? (d[0] == '=' || strcmp(d, "-1") == 0 ? arena_printf("=%s", d) : d) : "";
    }
    int act = layer_act_attr(k), npos = 0;
    const char *p = n->args;
    c->ntok = 0;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (c->ntok == 2 * CANON_MAX) return false;
        const char *t = arena_strndup(p, len), *eq = strchr(t, '=');
        p += len;
        int a = -1;
        const char *v = NULL;
        bool bare = false;
        if (eq) {
            const char *key = arena_strndup(t, (size_t)(eq - t));
            for (int i = 0; i < na; i++)
                if (strcmp(k->attrs[i].name, key) == 0 || (key[1] == 0 && k->attrs[i].shorthand == key[0])) a = i;
            v = eq + 1;
        } else {
            for (int j = 0; j < MAX_FLAGS && k->flags[j].word; j++)
                if (strcmp(k->flags[j].word, t) == 0)
                    for (int i = 0; i < na; i++)
                        if (strcmp(k->attrs[i].name, k->flags[j].attr) == 0) { a = i; v = k->flags[j].value; }
            for (int j = 1; a < 0 && act >= 0 && j < ACT_COUNT; j++)
                if (strcmp(act_defs[j].name, t) == 0) { a = act; v = t; }
            for (int i = 0; a < 0 && i < na; i++)
                if (k->attrs[i].shorthand == t[0] && isdigit((unsigned char)t[1])) { a = i; v = t + 1; }
            if (a < 0 && npos < 3 && k->positional[npos]) {
                for (int i = 0; i < na; i++)
                    if (strcmp(k->attrs[i].name, k->positional[npos]) == 0) a = i;
                npos++;
                v = t;
                bare = true;
            }
        }
        if (a < 0) return false;
        c->val[a] = v;
        c->tok[c->ntok] = t;
        c->tok_attr[c->ntok] = a;
        c->tok_bare[c->ntok++] = bare;
    }
    return true;
}

static void canon(const Writer *w, const Line *x, Canon *c) {
    memset(c, 0, sizeof *c);
    if (x->call) {
        const Block *b = x->call->block;
        c->head = x->call->inst ? arena_printf("%s %s", b->name, x->call->inst) : b->name;
        c->nv = b->np;
        for (int i = 0; i < b->np; i++) {
            c->attr[i] = b->pname[i];
            c->val[i] = x->call->vals[i];
        }
        return;
    }
    if (x->layer && canon_layer(x, &w->g->nodes[x->node], c)) return;
    memset(c, 0, sizeof *c);
}

/* what must be equal for two units to be calls of one block: every line,
 * with the values that parameters can carry left out */
static const char *unit_key(const Writer *w, const Unit *u) {
    Buf b = { 0 };
    for (int i = 0; i < u->body.n; i++) {
        const Line *x = &u->body.v[i];
        Canon c;
        canon(w, x, &c);
        bputs(&b, arena_printf("%d %s", x->depth, c.head ? c.head : x->text));
        for (int a = 0; a < c.nv; a++)
            bputs(&b, arena_printf(" %s=%s", c.attr[a], plain_value(c.val[a]) ? "#" : c.val[a]));
        bputs(&b, "\n");
    }
    return b.s ? b.s : "";
}

/* a word a parameter may not be: a keyword, an activation, a layer kind,
 * a flag of a layer in the body (flags: NULL-terminated kinds) */
static bool reserved(const char *s, const LayerKind *const *kinds) {
    static const char *const kw[] = { "network", "input", "block", "include", "seq", "group", "residual",
                                      "shortcut", "concat", "scale", "merge", "repeat", "as", "from", "prefix",
                                      "if", "else", "true", "false" };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0) return true;
    for (int i = 0; i < ACT_COUNT; i++)
        if (strcmp(s, act_defs[i].name) == 0) return true;
    if (layer_lookup(s)) return true;
    for (int i = 0; kinds && kinds[i]; i++)
        for (int j = 0; j < MAX_FLAGS && kinds[i]->flags[j].word; j++)
            if (strcmp(kinds[i]->flags[j].word, s) == 0) return true;
    return false;
}

/* base, or base2, base3, ...: the first that is not reserved or in used[] */
static const char *fresh(const char *base, const char *const *used, int nused, const LayerKind *const *kinds) {
    for (int k = 1;; k++) {
        const char *s = k == 1 ? base : arena_printf("%s%d", base, k);
        bool taken = reserved(s, kinds);
        for (int i = 0; !taken && i < nused; i++) taken = strcmp(used[i], s) == 0;
        if (!taken) return s;
    }
}

/* a block's name from its first call's scope: its last component up to
 * the first digit (denselayer1, inception3a), or its parent's with
 * "_block" (layer1.0, features.3) */
static const char *block_name(Writer *w, const Unit *u) {
    const char *p = u->path, *last = strrchr(p, '.');
    const char *comp = last ? last + 1 : p;
    size_t n = strcspn(comp, "0123456789");
    const char *base = NULL;
    if (n > 0) base = ident(comp, n);
    else if (last) {
        const char *q = last;
        while (q > p && q[-1] != '.') q--;
        size_t m = strcspn(q, "0123456789.");
        if (m > 0) base = arena_printf("%s_block", ident(q, m));
    }
    if (!base) base = "unit";
    while (base[0] && base[strlen(base) - 1] == '_') base = arena_strndup(base, strlen(base) - 1);
    if (reserved(base, NULL)) base = arena_printf("%s_block", base);       /* conv: conv_block */
    const char **used = arena_alloc(sizeof(char *) * (size_t)(w->nblocks + 1));
    for (int i = 0; i < w->nblocks; i++) used[i] = w->blocks[i]->name;
    return fresh(base[0] ? base : "unit", used, w->nblocks, NULL);
}

/* a call of b: `name inst (v, ...)`, in a seq `name(v, ...)` */
static const char *call_text(const Block *b, const char *inst, const char *const *vals) {
    Buf t = { 0 };
    bputs(&t, b->name);
    if (inst) bputs(&t, arena_printf(" %s", inst));
    if (b->np) bputs(&t, inst ? " (" : "(");
    for (int i = 0; i < b->np; i++) bputs(&t, arena_printf("%s%s", i ? ", " : "", vals[i]));
    if (b->np) bputs(&t, ")");
    return t.s;
}

#define BLOCK_MAX_PARAMS 8

/* Make the units us[0..n) (one key, n >= 2) calls of one block: the
 * values that differ between them become its parameters (one per
 * distinct column of values).  false: too many parameters. */
static bool fold(Writer *w, Unit **us, int n) {
    const Unit *u0 = us[0];
    int nl = u0->body.n;
    Canon *c = arena_alloc(sizeof *c * (size_t)n * (size_t)nl);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nl; j++) canon(w, &us[i]->body.v[j], &c[(size_t)i * (size_t)nl + (size_t)j]);
    /* slot (line j, value a) -> parameter, -1: the same in every call */
    int *slot = arena_alloc(sizeof(int) * (size_t)nl * CANON_MAX);
    const char **pname = arena_alloc(sizeof(char *) * BLOCK_MAX_PARAMS);
    int *pj = arena_alloc(sizeof(int) * BLOCK_MAX_PARAMS), *pa = arena_alloc(sizeof(int) * BLOCK_MAX_PARAMS);
    int np = 0;
    const char **lnames = arena_alloc(sizeof(char *) * (size_t)(nl + BLOCK_MAX_PARAMS));
    int nlnames = 0;
    const LayerKind **kinds = arena_alloc(sizeof *kinds * (size_t)(nl + 1));
    for (int j = 0, nk = 0; j < nl; j++) {
        const Line *x = &u0->body.v[j];
        if (x->lname) lnames[nlnames++] = x->lname;
        if (x->layer && layer_lookup(w->g->nodes[x->node].kind)) kinds[nk++] = layer_lookup(w->g->nodes[x->node].kind);
    }
    for (int j = 0; j < nl; j++) {
        const Canon *c0 = &c[j];
        for (int a = 0; a < CANON_MAX; a++) slot[j * CANON_MAX + a] = -1;
        for (int a = 0; c0->head && a < c0->nv; a++) {
            bool same = true;
            for (int i = 1; i < n && same; i++) same = strcmp(c[(size_t)i * (size_t)nl + (size_t)j].val[a], c0->val[a]) == 0;
            if (same) continue;
            int p = -1;                                   /* a parameter with these values already? */
            for (int q = 0; q < np && p < 0; q++) {
                bool eq = true;
                for (int i = 0; i < n && eq; i++)
                    eq = strcmp(c[(size_t)i * (size_t)nl + (size_t)pj[q]].val[pa[q]],
                                c[(size_t)i * (size_t)nl + (size_t)j].val[a]) == 0;
                if (eq) p = q;
            }
            if (p < 0) {
                if (np == BLOCK_MAX_PARAMS) return false;
                const char *base = strcmp(c0->attr[a], "out") == 0 ? "channels" : c0->attr[a];
                pname[np] = fresh(base, lnames, nlnames, kinds);
                lnames[nlnames++] = pname[np];
                pj[np] = j;
                pa[np] = a;
                p = np++;
            }
            slot[j * CANON_MAX + a] = p;
        }
    }
    Block *b = arena_alloc(sizeof *b);
    memset(b, 0, sizeof *b);
    b->name = block_name(w, u0);
    b->np = np;
    b->pname = pname;
    b->calls = us;
    b->ncalls = n;
    /* the definition: the first unit's lines, its values that vary replaced by parameters */
    for (int j = 0; j < nl; j++) {
        Line x = u0->body.v[j];
        const Canon *c0 = &c[j];
        int *sl = &slot[j * CANON_MAX];
        if (x.call) {
            const char *v[CANON_MAX];
            for (int a = 0; a < c0->nv; a++) v[a] = sl[a] >= 0 ? pname[sl[a]] : c0->val[a];
            x.text = call_text(x.call->block, x.call->inst, v);
        } else if (c0->head) {
            Buf t = { 0 };
            bool done[CANON_MAX] = { false };
            bputs(&t, c0->head);
            for (int k = 0; k < c0->ntok; k++) {
                int a = c0->tok_attr[k];
                if (a >= 0 && sl[a] >= 0) {
                    bputs(&t, c0->tok_bare[k] ? arena_printf(" %s", pname[sl[a]])
                                              : arena_printf(" %s=%s", c0->attr[a], pname[sl[a]]));
                    done[a] = true;
                } else {
                    bputs(&t, arena_printf(" %s", c0->tok[k]));
                }
            }
            for (int a = 0; a < c0->nv; a++)
                if (sl[a] >= 0 && !done[a]) bputs(&t, arena_printf(" %s=%s", c0->attr[a], pname[sl[a]]));
            x.text = t.s;
        }
        x.call = NULL;
        lines_push(&b->def, x);
    }
    for (int i = 0; i < n; i++) {
        us[i]->block = b;
        us[i]->vals = arena_alloc(sizeof(char *) * (size_t)(np + 1));
        for (int q = 0; q < np; q++) us[i]->vals[q] = c[(size_t)i * (size_t)nl + (size_t)pj[q]].val[pa[q]];
    }
    w->blocks = imp_grow(w->blocks, w->nblocks, &w->capblocks, sizeof *w->blocks, 8);
    w->blocks[w->nblocks++] = b;
    return true;
}

/* a block is worth defining when it holds this many layers and calls */
#define BLOCK_MIN_STATEMENTS 3

static int statements(const Unit *u) {
    int n = 0;
    for (int i = 0; i < u->body.n; i++) n += u->body.v[i].layer || u->body.v[i].call;
    return n;
}

static int by_order(const void *a, const void *b) {
    const Unit *x = *(Unit *const *)a, *y = *(Unit *const *)b;
    return (x->order > y->order) - (x->order < y->order);
}

/* Write the statements with repeated structures folded: in rounds, the
 * units met whose inner units are all settled are grouped by key; a group
 * of two or more becomes a block (its units calls of it), a unit alone is
 * settled as it is.  Then the next round writes the text again, the new
 * calls in it, until no unit is left to settle. */
static void write_folded(Writer *w, const IList *top, Lines *out) {
    w->fold = true;
    for (;;) {
        for (int i = 0; i < w->nunits; i++) w->units[i]->seen = false;
        w->order = 0;
        *out = (Lines){ 0 };
        w->out = out;
        write_list(w, top, "", 0, false);
        Unit **ready = arena_alloc(sizeof *ready * (size_t)(w->nunits + 1));
        const char **keys = arena_alloc(sizeof *keys * (size_t)(w->nunits + 1));
        int nready = 0;
        for (int i = 0; i < w->nunits; i++) {
            Unit *u = w->units[i];
            if (u->seen && !u->settled && !u->inner_unsettled) ready[nready++] = u;
        }
        if (nready == 0) return;
        qsort(ready, (size_t)nready, sizeof *ready, by_order);
        for (int i = 0; i < nready; i++) keys[i] = unit_key(w, ready[i]);
        bool *taken = arena_alloc(sizeof(bool) * (size_t)nready);
        for (int i = 0; i < nready; i++) {
            if (taken[i]) continue;
            Unit **grp = arena_alloc(sizeof *grp * (size_t)nready);
            int n = 0;
            for (int j = i; j < nready; j++)
                if (!taken[j] && strcmp(keys[i], keys[j]) == 0) {
                    taken[j] = true;
                    grp[n++] = ready[j];
                }
            if (n >= 2 && statements(ready[i]) >= BLOCK_MIN_STATEMENTS) fold(w, grp, n);
            for (int j = 0; j < n; j++) grp[j]->settled = true;
        }
    }
}

/* ---- 4. names read back, comments, files ----------------------------------------- */

/* The text of the lines: the network line, then the blocks (each with the
 * calls it stands for), then the statements.  node_of_line (nlines
 * entries): the layer on each line, -1: none (a block's body: many). */
static const char *serialize(const Writer *w, const Lines *main, int **node_of_line, int *nlines,
                             const char *const *shape_of_node) {
    int n = 2 + main->n;
    for (int i = 0; i < w->nblocks; i++) n += w->blocks[i]->def.n + 4;
    int *nol = arena_alloc(sizeof(int) * (size_t)(n + 2));
    for (int i = 0; i < n + 2; i++) nol[i] = -1;
    Buf b = { 0 };
    int line = 1;
    bputs(&b, arena_printf("network %s input %s\n", w->g->name, w->g->nodes[0].args));
    nol[line++] = 0;
    for (int i = 0; i < w->nblocks; i++) {
        const Block *k = w->blocks[i];
        Buf calls = { 0 };
        for (int j = 0; j < k->ncalls && j < 4; j++) bputs(&calls, arena_printf("%s%s", j ? ", " : "", k->calls[j]->path));
        if (k->ncalls > 4) bputs(&calls, arena_printf(", ... (%d calls)", k->ncalls));
        bputs(&b, arena_printf("%s# called as %s\n", i ? "" : "\n", calls.s));
        line += i ? 1 : 2;
        bputs(&b, arena_printf("block %s(", k->name));
        for (int j = 0; j < k->np; j++) bputs(&b, arena_printf("%s%s", j ? ", " : "", k->pname[j]));
        bputs(&b, ") {\n");
        line++;
        for (int j = 0; j < k->def.n; j++) {
            for (int d = 0; d <= k->def.v[j].depth; d++) bputs(&b, "    ");
            bputs(&b, k->def.v[j].text);
            bputs(&b, "\n");
            line++;
        }
        bputs(&b, "}\n");
        line++;
        if (i == w->nblocks - 1) { bputs(&b, "\n"); line++; }
    }
    for (int i = 0; i < main->n; i++, line++) {
        const Line *x = &main->v[i];
        nol[line] = x->node;
        size_t start = b.n;
        for (int d = 0; d < x->depth; d++) bputs(&b, "    ");
        bputs(&b, x->text);
        const char *shp = shape_of_node && x->node > 0 && (x->layer || x->call) ? shape_of_node[x->node] : NULL;
        if (shp) {
            size_t len = b.n - start;
            bputs(&b, arena_printf("%*s  # %s", len < 48 ? (int)(48 - len) : 0, "", shp));
        }
        bputs(&b, "\n");
    }
    if (node_of_line) *node_of_line = nol;
    if (nlines) *nlines = line;
    return b.s;
}

/* do two compiles give the same layers: kinds, names, inputs, attributes,
 * shapes? */
static bool same_graph(const Graph *a, const Graph *b) {
    if (a->nnodes != b->nnodes) return false;
    for (int i = 0; i < a->nnodes; i++) {
        const Node *x = a->nodes[i], *y = b->nodes[i];
        if (x->kind != y->kind || strcmp(x->name, y->name) != 0 || x->nin != y->nin ||
            strcmp(shape_str(x->shape), shape_str(y->shape)) != 0)
            return false;
        for (int k = 0; k < x->nin; k++)
            if (strcmp(x->in[k]->name, y->in[k]->name) != 0) return false;
#define SAME(f) (x->f == y->f)
        if (!(SAME(out) && SAME(kh) && SAME(kw) && SAME(sh) && SAME(sw) && SAME(dh) && SAME(dw) && SAME(kd) &&
              SAME(sd) && SAME(dd) && SAME(pd0) && SAME(pd1) && SAME(pt) && SAME(pl) && SAME(pb) && SAME(pr) &&
              SAME(pad_same) && SAME(groups) && SAME(bias) && SAME(ceil) && SAME(affine) &&
              SAME(count_include_pad) && SAME(eps) && SAME(momentum) && SAME(slope) && SAME(p) && SAME(act) &&
              SAME(act_p[0]) && SAME(act_p[1]) && SAME(oh) && SAME(ow) && SAME(od) && SAME(part) && SAME(parts) &&
              SAME(bilinear) && SAME(align_corners) && SAME(oph) && SAME(opw) && SAME(reflect) &&
              SAME(replicate) && SAME(channels) && SAME(slopes) && SAME(init) && SAME(params) && SAME(macs)))
            return false;
#undef SAME
    }
    return true;
}

int import_write(const ImpGraph *g, const char *net_path, const char *st_path) {
    Ctx c = { g, arena_alloc(sizeof(int) * (size_t)g->n), arena_alloc(sizeof(int) * (size_t)g->n),
              arena_alloc(sizeof(bool) * (size_t)g->n), 0 };
    /* dominators (node 0 the root) */
    for (int v = 1; v < g->n; v++) {
        const ImpNode *n = &g->nodes[v];
        int d = n->in[0];
        for (int k = 1; k < n->nin; k++) d = lca(&c, d, n->in[k]);
        c.idom[v] = d;
        c.depth[v] = c.depth[d] + 1;
    }
    IList top = { 0 };
    emit_path(&c, 0, g->output, &top);
    if (c.errors) return c.errors;

    /* every statement written out; compiled: the weights' names and every layer's shape */
    Writer w = { 0 };
    w.g = g;
    Lines flat = { 0 };
    w.out = &flat;
    write_list(&w, &top, "", 0, false);
    int *node_of_line, nlines;
    const char *text = serialize(&w, &flat, &node_of_line, &nlines, NULL);
    Graph *cg = front_load_string(net_path, text);
    if (!cg) {
        fprintf(import_out(), "%s: error: the .net text written for it does not compile (above); this is a bug in "
                        "cnnc import%s\n", g->source, getenv("CNNC_IMPORT_DEBUG") ? "; the text:" :
                        " (CNNC_IMPORT_DEBUG=1 prints the text)");
        if (getenv("CNNC_IMPORT_DEBUG")) fputs(text, import_out());
        return 1;
    }
    const char **shape_of_node = arena_alloc(sizeof(char *) * (size_t)g->n);
    cnnrt_ckpt_tensor *ts = arena_alloc(sizeof *ts * (size_t)(IMP_MAX_TENSORS * g->n + 1));
    int nts = 0, missing = 0;
    for (int i = 0; i < cg->nnodes; i++) {
        const Node *n = cg->nodes[i];
        int line = n->loc.line;
        int node = line > 0 && line < nlines ? node_of_line[line] : -1;
        if (node >= 0) shape_of_node[node] = shape_str(n->shape);
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec((Node *)n, ps);
        if (k == 0) continue;
        const ImpNode *in = node >= 0 ? &g->nodes[node] : NULL;
        for (int j = 0; j < k; j++) {
            const ImpTensor *t = NULL;
            for (int e = 0; in && e < in->nt; e++)
                if (strcmp(in->t[e].suffix, ps[j].suffix) == 0) t = &in->t[e];
            long long numel = 1;
            for (int e = 0; t && e < t->ndim; e++) numel *= t->dims[e];
            if (!t || numel != ps[j].numel) {
                fprintf(import_out(), "%s: error: %s.%s (%lld values) has no tensor of that size in the model; "
                                "this is a bug in cnnc import\n", g->source, n->name, ps[j].suffix, ps[j].numel);
                return 1;
            }
            if (!t->data) { missing++; continue; }
            cnnrt_ckpt_tensor *o = &ts[nts++];
            o->name = arena_printf("%s.%s", n->name, ps[j].suffix);
            o->ndim = ps[j].ndim;
            for (int e = 0; e < ps[j].ndim; e++) o->shape[e] = ps[j].dims[e];
            o->data = t->data;
        }
    }

    /* the repeated structures folded into blocks, kept when that compiles
     * to the same layers, names and shapes (else the flat text is written) */
    Lines folded = { 0 };
    write_folded(&w, &top, &folded);
    const char *body = serialize(&w, &folded, NULL, NULL, shape_of_node);
    if (w.nblocks) {
        FILE *was = diag_set_stream(fopen("/dev/null", "w"));
        Graph *fg = front_load_string(net_path, body);
        FILE *null_out = diag_set_stream(was);
        if (null_out) fclose(null_out);
        if (!fg || !same_graph(cg, fg)) {
            if (!fg) diag_reset();
            if (getenv("CNNC_IMPORT_DEBUG"))
                fprintf(import_out(), "%s: the text with blocks %s; written without:\n%s", g->source,
                        fg ? "gives other layers" : "does not compile", body);
            w.nblocks = 0;
            body = serialize(&w, &flat, NULL, NULL, shape_of_node);
        }
    } else {
        body = serialize(&w, &flat, NULL, NULL, shape_of_node);
    }
    Buf out = { 0 };
    bputs(&out, arena_printf("# %s — imported by cnnc import from %s\n", g->name, g->source));
    bputs(&out, arena_printf("# weights: %s\n\n", missing ? "none (the source gave none)" : st_path));
    bputs(&out, body);

    cnnrt_outfile f;
    if (cnnrt_outfile_open(&f, net_path) != 0 || cnnrt_outfile_write(&f, out.s, out.n) != 0) {
        fprintf(import_out(), "cnnc: error: cannot write '%s': %s\n", net_path, strerror(errno));
        cnnrt_outfile_abort(&f);
        return 2;
    }
    if (!missing && st_path) {
        char err[512];
        cnnrt_ckpt_meta meta[1] = { { "source", g->source } };
        if (cnnrt_ckpt_save(st_path, ts, nts, meta, 1, err, sizeof err) != CNNRT_OK) {
            fprintf(import_out(), "cnnc: error: %s\n", err);
            cnnrt_outfile_abort(&f);
            return 2;
        }
    }
    if (cnnrt_outfile_commit(&f) != 0) {
        fprintf(import_out(), "cnnc: error: cannot write '%s': %s\n", net_path, strerror(errno));
        return 2;
    }
    return 0;
}
