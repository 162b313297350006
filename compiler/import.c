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
 * 3. The names the weights go under are read back, not predicted: the text
 *    is compiled (front_load_string) and each layer with weights is found
 *    by its line, its tensors matched by suffix and size.  The same compile
 *    gives every line's output shape, written as a comment.
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

/* ---- 2. scopes and text --------------------------------------------------------- */

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

typedef struct Writer {
    const ImpGraph *g;
    Buf text;
    int line;                  /* the line being written (1-based) */
    int *node_of_line;         /* the layer written on each line, -1: none */
    int nlines;
} Writer;

static void wline(Writer *w, int depth, const char *text, int node) {
    for (int i = 0; i < depth; i++) bputs(&w->text, "    ");
    bputs(&w->text, text);
    bputs(&w->text, "\n");
    if (w->line < w->nlines) w->node_of_line[w->line] = node;
    w->line++;
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
        if (!p) continue;
        acc = *any ? common_prefix(acc, p) : p;
        *any = true;
    }
    return acc;
}

/* what the statement's position in the scopes is decided by: a layer's
 * whole path, a block's common scope */
static const char *full_path(const Writer *w, const IStmt *s) {
    const ImpNode *n = &w->g->nodes[s->node];
    if (!s->merge) return n->path && n->path[0] ? n->path : NULL;
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

static const char *layer_line(const Writer *w, const IStmt *s, const char *name) {
    const ImpNode *n = &w->g->nodes[s->node];
    return arena_printf("%s%s%s%s%s", n->kind, name ? " " : "", name ? name : "", n->args[0] ? " " : "", n->args);
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
 * prefix starts with the same component, or that belong to prefix itself;
 * a statement without any path joins the run before it (a block's relu
 * that ran outside any module stays with the block) */
typedef struct Run {
    int from, to;              /* [from, to) */
    const char *comp;          /* NULL: statements with nothing below prefix */
    size_t clen;
} Run;

static int runs_of(const Writer *w, const IList *l, const char *prefix, Run *runs) {
    int nr = 0;
    for (int i = 0; i < l->n; i++) {
        const char *rel = below(full_path(w, l->v[i]), prefix);
        size_t len = 0;
        const char *c = rel && rel[0] ? first_component(rel, &len) : NULL;
        /* a layer whose path is exactly prefix.NAME is named here, not scoped */
        if (c && !l->v[i]->merge && len == strlen(rel) && !is_number(c, len)) c = NULL;
        const Run *last = nr ? &runs[nr - 1] : NULL;
        bool pathless = !full_path(w, l->v[i]);          /* a functional relu at the top: goes with what precedes */
        if (last && (pathless || (!c && !last->comp) ||
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
                else wline(w, depth, layer_line(w, s, has_weights(n) ? name : NULL), s->node);
            }
            continue;
        }
        const char *sub = prefix[0] ? arena_printf("%s.%.*s", prefix, (int)u->clen, u->comp)
                                    : arena_strndup(u->comp, u->clen);
        bool number = is_number(u->comp, u->clen);
        /* a numbered scope outside a seq has no spelling: _N */
        const char *name = number && !in_seq ? ident(u->comp, u->clen) : number ? NULL : ident(u->comp, u->clen);
        const IStmt *s0 = l->v[u->from];
        const char *rel0 = below(full_path(w, s0), prefix);
        if (u->to - u->from == 1 && rel0 && strlen(rel0) == u->clen) {
            /* one statement that is the scope itself: a block named so, or a numbered layer */
            if (s0->merge) write_merge(w, s0, in_seq ? NULL : name, sub, depth);   /* in a seq: its index */
            else wline(w, depth, layer_line(w, s0, in_seq || !has_weights(&w->g->nodes[s0->node]) ? NULL : name),
                       s0->node);
            continue;
        }
        IList part = { l->v + u->from, u->to - u->from, 0 };
        int from = 0;
        bool seq = seq_items(w, &part, sub, &from);
        const char *opener = seq ? (from ? arena_printf("seq%s%s from %d {", name && !in_seq ? " " : "",
                                                        name && !in_seq ? name : "", from)
                                         : arena_printf("seq%s%s {", name && !in_seq ? " " : "",
                                                        name && !in_seq ? name : ""))
                                 : in_seq || !name ? "{" : arena_printf("group %s {", name);
        wline(w, depth, opener, -1);
        write_list(w, &part, sub, depth + 1, seq);
        wline(w, depth, "}", -1);
    }
}

/* ---- 3. names read back, comments, files ----------------------------------------- */

static int ltrim_len(const char *s, size_t n) {
    while (n > 0 && (s[n - 1] == ' ')) n--;
    return (int)n;
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

    Writer w = { g, { 0 }, 1, NULL, 0 };
    w.nlines = 8 * g->n + 64;
    w.node_of_line = arena_alloc(sizeof(int) * (size_t)w.nlines);
    for (int i = 0; i < w.nlines; i++) w.node_of_line[i] = -1;
    wline(&w, 0, arena_printf("network %s input %s", g->name, g->nodes[0].args), 0);
    write_list(&w, &top, "", 0, false);

    /* compile what was written: the weights' names and every line's shape */
    Graph *cg = front_load_string(net_path, w.text.s);
    if (!cg) {
        fprintf(import_out(), "%s: error: the .net text written for it does not compile (above); this is a bug in "
                        "cnnc import%s\n", g->source, getenv("CNNC_IMPORT_DEBUG") ? "; the text:" :
                        " (CNNC_IMPORT_DEBUG=1 prints the text)");
        if (getenv("CNNC_IMPORT_DEBUG")) fputs(w.text.s, import_out());
        return 1;
    }
    const char **shape_of_line = arena_alloc(sizeof(char *) * (size_t)w.nlines);
    cnnrt_ckpt_tensor *ts = arena_alloc(sizeof *ts * (size_t)(IMP_MAX_TENSORS * g->n + 1));
    int nts = 0, missing = 0;
    for (int i = 0; i < cg->nnodes; i++) {
        const Node *n = cg->nodes[i];
        int line = n->loc.line;
        if (line > 0 && line < w.nlines) shape_of_line[line] = shape_str(n->shape);
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec((Node *)n, ps);
        if (k == 0) continue;
        int node = line > 0 && line < w.nlines ? w.node_of_line[line] : -1;
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

    /* the text again, each layer's line with its output shape */
    Buf out = { 0 };
    bputs(&out, arena_printf("# %s — imported by cnnc import from %s\n", g->name, g->source));
    bputs(&out, arena_printf("# weights: %s\n\n", missing ? "none (the source gave none)" : st_path));
    const char *p = w.text.s;
    for (int line = 1; *p; line++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *shp = line < w.nlines ? shape_of_line[line] : NULL;
        int node = line < w.nlines ? w.node_of_line[line] : -1;
        if (shp && line > 1 && node >= 0 && !memchr(p, '{', len))
            bputs(&out, arena_printf("%-*.*s  # %s\n", len < 48 ? 48 : (int)len, ltrim_len(p, len), p, shp));
        else
            bputs(&out, arena_printf("%.*s\n", (int)len, p));
        p = e ? e + 1 : p + len;
    }

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

