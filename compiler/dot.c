/*
 * dot.c — the network as a Graphviz picture (cnnc --dot).
 *
 * One box per layer as written (name, kind and fused activation, output
 * shape, params, source line), the input on top, edges along the data flow
 * drawn top to bottom.  Edges into an add are orange and edges into a
 * concat teal, so residual and concat paths stand out; a projection
 * shortcut is its own little cluster beside the block's body.
 *
 * What the inference passes do comes from the planned copy of the graph
 * (same node ids): a layer they remove is drawn dashed and grey with where
 * it went ("folded into conv1", "fused into conv1", "no-op at inference").
 *
 * In an int8 build (--quantize int8 --dot) each layer that stays says what
 * it runs in (int8 with its scale and zero point, or float and why), and an
 * edge where the precision changes is purple and labelled with the copy
 * made there (quantize or dequantize).
 *
 * Scopes are read off the dotted names: every prefix shared by two or more
 * layers (layer1, layer1.0, layer1.0.shortcut) becomes a cluster, nested
 * like the names, so a ResNet reads block by block.  The output depends on
 * nothing but the graphs (no time, no paths but the user's file name).
 */
#include "cnnc.h"

#include <string.h>

/* --- escaping -------------------------------------------------------------- */

/* text inside an HTML-like label <...> */
static void put_html(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\n': fputs("<BR/>", out); break;
        default:
            if ((unsigned char)*s < 0x20) fputc(' ', out);
            else fputc(*s, out);
        }
    }
}

/* text inside a "..." string (an escString: \n is a line break) */
static void put_quoted(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        if (*s == '\n') fputs("\\n", out);
        else if ((unsigned char)*s < 0x20) fputc(' ', out);
        else fputc(*s, out);
    }
    fputc('"', out);
}

/* --- what a layer is ------------------------------------------------------- */

/* fill and outline per category: soft fills, darker outlines */
static const char *const fills[] = { "#e4e4e4", "#dbe8f6", "#e7def3", "#dcf0dc", "#fbf0c4",
                                     "#fde3d0", "#fcd5c0", "#cdeee8", "#eeeeee" };
static const char *const lines[] = { "#555555", "#4a78a8", "#7a5ca8", "#4d8a4d", "#b0902a",
                                     "#c87a45", "#d0602a", "#1f9e89", "#8a8a8a" };

#define ADD_EDGE "#d0602a"
#define CONCAT_EDGE "#1f9e89"
#define Q8_EDGE "#7b3fa0"

static const char *pair_text(long long h, long long w) {
    return h == w ? arena_printf("%lld×%lld", h, h) : arena_printf("%lld×%lld", h, w);
}

/* "conv 3×3 /2 +relu", "maxpool 3×3 /2", "dense +tanh" */
static const char *kind_text(const Node *n) {
    const char *s = n->kind->name;
    if (layer_attr(n->kind, "kernel") && layer_attr(n->kind, "stride")) {   /* a window: conv, pools */
        s = arena_printf("%s %s", s, pair_text(n->kh, n->kw));
        if (n->sh != 1 || n->sw != 1)
            s = arena_printf("%s /%s", s, n->sh == n->sw ? arena_printf("%lld", n->sh)
                                                         : arena_printf("%lldx%lld", n->sh, n->sw));
        if (layer_attr(n->kind, "groups") && n->groups > 1) s = arena_printf("%s g%lld", s, n->groups);
    }
    return n->act ? arena_printf("%s +%s", s, act_defs[n->act].name) : s;
}

static const char *where(const Graph *g, const Node *n) {
    if (n->loc.file && g->file && n->loc.file != g->file && n->loc.file->name)
        return arena_printf("%s:%d", n->loc.file->name, n->loc.line);
    return arena_printf("line %d", n->loc.line);
}

/* What the passes did to a removed layer, or NULL when it stays. */
static const char *fate(const Graph *planned, int id) {
    if (!planned || id >= planned->nnodes) return NULL;
    const Node *p = planned->nodes[id];
    if (!p->removed) return NULL;
    if (p->alias) return "no-op at inference";
    const Node *t = p->nin ? p->in[0] : NULL;
    for (int guard = 0; t && t->removed && t->nin && guard < planned->nnodes; guard++) t = t->in[0];
    if (!t) return "removed at inference";
    return arena_printf("%s into %s", p->kind->dot == DOT_ACT ? "fused" : "folded", t->name);
}

/* an int8 build: some planned layer runs in int8 (set once by dot_write) */
static bool int8_build;

/* The planned layer whose buffer holds node id's output (itself, or the
 * layer it was folded or fused into, or a no-op's input). */
static const Node *holder(const Graph *planned, int id) {
    const Node *p = planned->nodes[id];
    for (int guard = 0; p->removed && p->nin && guard < planned->nnodes; guard++) p = p->alias ? p->alias : p->in[0];
    return p;
}

static void put_node(FILE *out, const Graph *g, const Graph *planned, const Node *n, int indent) {
    const char *gone = fate(planned, n->id);
    DotStyle c = n->kind->dot;
    fprintf(out, "%*sn%d [", indent, "", n->id);
    if (gone) {
        fputs("style=\"rounded,dashed,filled\" fillcolor=\"#f8f8f8\" color=\"#a0a0a0\" fontcolor=\"#8c8c8c\" "
              "class=\"folded\" ", out);
    } else {
        fprintf(out, "fillcolor=\"%s\" color=\"%s\" ", fills[c], lines[c]);
        if (c == DOT_ADD || c == DOT_CONCAT) fputs("style=\"filled\" shape=oval penwidth=1.4 ", out);
        if (c == DOT_INPUT) fputs("shape=box style=\"filled,bold\" ", out);
    }
    fputs("label=<", out);
    if (c == DOT_INPUT) {
        fputs("<B>input</B><BR/>", out);
        put_html(out, shape_str(n->shape));
        fputs(">", out);
    } else if (gone) {
        /* compact, two lines: the name; the kind and where it went.  One
         * font per line: SVG viewers substitute fonts, and dot places each
         * run of text by its own estimate of the width. */
        fputs("<B>", out);
        put_html(out, n->name);
        fputs("</B><BR/><FONT POINT-SIZE=\"8\"><I>", out);
        put_html(out, arena_printf("%s, %s", kind_text(n), gone));
        fputs("</I></FONT>>", out);
    } else {
        fputs("<B>", out);
        put_html(out, n->name);
        fputs("</B><BR/>", out);
        put_html(out, arena_printf("%s · %s", kind_text(n), shape_str(n->shape)));
        fputs("<BR/><FONT POINT-SIZE=\"8\" COLOR=\"#6a6a6a\">", out);
        if (n->params) {
            put_html(out, fmt_group(n->params));
            fputs(" params · ", out);
        }
        put_html(out, where(g, n));
        fputs("</FONT>", out);
        if (int8_build) {
            const Node *p = planned->nodes[n->id];
            fputs("<BR/><FONT POINT-SIZE=\"8\" COLOR=\"" Q8_EDGE "\">", out);
            put_html(out, p->q8 ? arena_printf("int8 · scale %.4g · zero %d", (double)p->q_scale, p->q_zp)
                                : arena_printf("float: %s", p->q_float ? p->q_float : "?"));
            fputs("</FONT>", out);
        }
        fputs(">", out);
    }
    /* the tooltip (hover in a browser) carries the rest */
    const char *tip = arena_printf("%s: %s, output %s, %s params, %s MACs", n->name, n->kind->name,
                                   shape_str(n->shape), fmt_group(n->params), fmt_group(n->macs));
    if (n->rf_valid)
        tip = arena_printf("%s, receptive field %s", tip, n->shape.sp == 1 ? arena_printf("%lld", n->rf_w)
                                                                           : pair_text(n->rf_h, n->rf_w));
    if (n->loc.file && n->loc.file->name)
        tip = arena_printf("%s\n%s:%d:%d", tip, n->loc.file->name, n->loc.line, n->loc.col);
    if (planned && n->id < planned->nnodes && planned->nodes[n->id]->note)
        tip = arena_printf("%s\n%s", tip, planned->nodes[n->id]->note);
    fputs(" tooltip=", out);
    put_quoted(out, tip);
    fputs("];\n", out);
}

/* --- scopes ------------------------------------------------------------------ */

typedef struct Scope {
    const char *name;         /* dotted prefix, e.g. layer1.0 */
    int parent;               /* index of the enclosing kept scope, -1: top */
    int count;                /* layers inside, at any depth */
    bool kept;                /* drawn as a cluster (two or more layers) */
} Scope;

typedef struct Scopes {
    Scope *s;
    int n, cap;
    int *node_scope;          /* per node id: innermost kept scope, -1: top */
} Scopes;

static int scope_find(Scopes *sc, const char *name, size_t len) {
    for (int i = sc->n - 1; i >= 0; i--)
        if (strlen(sc->s[i].name) == len && memcmp(sc->s[i].name, name, len) == 0) return i;
    return -1;
}

static int scope_add(Scopes *sc, const char *name, size_t len, int parent) {
    if (sc->n == sc->cap) {
        int cap = sc->cap ? 2 * sc->cap : 64;
        Scope *ns = arena_alloc(sizeof(Scope) * (size_t)cap);
        if (sc->n) memcpy(ns, sc->s, sizeof(Scope) * (size_t)sc->n);
        sc->s = ns;
        sc->cap = cap;
    }
    sc->s[sc->n] = (Scope){ .name = arena_strndup(name, len), .parent = parent };
    return sc->n++;
}

/* Every dotted prefix of every name, in order of first appearance; those
 * holding two or more layers are kept, the others melt into their parent. */
static void scopes_build(const Graph *g, Scopes *sc) {
    memset(sc, 0, sizeof *sc);
    int *inner = arena_alloc(sizeof(int) * (size_t)g->nnodes);   /* innermost prefix, any */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        int parent = -1;
        inner[i] = -1;
        if (n->kind->id == K_INPUT || !n->name) continue;
        for (const char *dot = strchr(n->name, '.'); dot; dot = strchr(dot + 1, '.')) {
            size_t len = (size_t)(dot - n->name);
            int k = scope_find(sc, n->name, len);
            if (k < 0) k = scope_add(sc, n->name, len, parent);
            sc->s[k].count++;
            parent = k;
        }
        inner[i] = parent;
    }
    for (int k = 0; k < sc->n; k++) sc->s[k].kept = sc->s[k].count >= 2;
    /* re-parent onto kept scopes (parents come before children) */
    for (int k = 0; k < sc->n; k++) {
        int p = sc->s[k].parent;
        while (p >= 0 && !sc->s[p].kept) p = sc->s[p].parent;
        sc->s[k].parent = p;
    }
    sc->node_scope = arena_alloc(sizeof(int) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        int k = inner[i];
        while (k >= 0 && !sc->s[k].kept) k = sc->s[k].parent;
        sc->node_scope[i] = k;
    }
}

static const char *const cluster_fills[] = { "#f5f7fb", "#eaeff7", "#dfe7f2", "#d5dfed" };

static void put_scope(FILE *out, const Graph *g, const Graph *planned, const Scopes *sc, int k,
                      int depth) {
    int ind = 2 * depth + 2 + 2 * (k >= 0);
    if (k >= 0) {
        const char *last = strrchr(sc->s[k].name, '.');
        bool shortcut = last && strcmp(last + 1, "shortcut") == 0;
        fprintf(out, "%*ssubgraph cluster_%d {\n", ind - 2, "", k);
        fprintf(out, "%*slabel=<<B>", ind, "");
        put_html(out, sc->s[k].name);
        fprintf(out, "</B>>; style=\"rounded,filled\"; fillcolor=\"%s\"; color=\"%s\";\n",
                shortcut ? "#fdf0e6" : cluster_fills[depth % 4], shortcut ? "#e0a27a" : "#b8c4d6");
    }
    for (int i = 0; i < g->nnodes; i++)
        if (sc->node_scope[i] == k) put_node(out, g, planned, g->nodes[i], ind);
    /* last first: dot then lays sibling clusters out left to right in
     * program order (branch1, branch2, ... of an inception module) */
    for (int c = sc->n - 1; c >= 0; c--)
        if (sc->s[c].kept && sc->s[c].parent == k) put_scope(out, g, planned, sc, c, depth + (k >= 0));
    if (k >= 0) fprintf(out, "%*s}\n", ind - 2, "");
}

/* --- the whole picture --------------------------------------------------- */

int dot_write(const Graph *g, const Graph *planned, FILE *out) {
    Totals t;
    report_totals(g, &t);
    fputs("digraph ", out);
    put_quoted(out, g->name);
    fputs(" {\n", out);
    fputs("  graph [rankdir=TB newrank=true nodesep=0.25 ranksep=0.24 fontname=\"Helvetica\" fontsize=11\n"
          "         labelloc=t labeljust=c bgcolor=\"white\" pad=0.2];\n"
          "  node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10 margin=\"0.12,0.04\"\n"
          "        height=0.3 penwidth=1.1];\n"
          "  edge [color=\"#606060\" arrowsize=0.6 penwidth=1.0];\n", out);
    /* title: the network and its totals, and a legend line */
    fputs("  label=<<FONT POINT-SIZE=\"16\"><B>", out);
    put_html(out, g->name);
    fputs("</B></FONT><BR/>", out);
    if (g->file && g->file->name) {
        put_html(out, g->file->name);
        fputs(" · ", out);
    }
    put_html(out, arena_printf("input %s · %s params · %s MACs", shape_str(g->nodes[0]->shape),
                               fmt_group(t.params), *fmt_si(t.macs) ? fmt_si(t.macs) : fmt_group(t.macs)));
    fputs("<BR/><FONT POINT-SIZE=\"9\" COLOR=\"#6a6a6a\">"
          "dashed grey: removed at inference (folded, fused, no-op)   "
          "<FONT COLOR=\"" ADD_EDGE "\">━ into add</FONT>   "
          "<FONT COLOR=\"" CONCAT_EDGE "\">━ into concat</FONT>", out);
    int8_build = false;
    for (int i = 0; planned && i < planned->nnodes; i++) int8_build |= planned->nodes[i]->q8 && !planned->nodes[i]->removed;
    if (int8_build)
        fputs("   <FONT COLOR=\"" Q8_EDGE "\">int8 build: ━ quantize / dequantize on the way</FONT>", out);
    fputs("</FONT><BR/> >;\n", out);

    Scopes sc;
    scopes_build(g, &sc);
    put_scope(out, g, planned, &sc, -1, 0);

    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        DotStyle c = n->kind->dot;
        bool q8 = int8_build;
        for (int j = 0; j < n->nin; j++) {
            fprintf(out, "  n%d -> n%d", n->in[j]->id, n->id);
            const Node *src = q8 ? holder(planned, n->in[j]->id) : NULL, *dst = q8 ? planned->nodes[n->id] : NULL;
            if (q8 && !dst->removed && src->q8 != dst->q8 && !(src->kind->id == K_INPUT && !dst->q8))
                fprintf(out, " [color=\"" Q8_EDGE "\" penwidth=1.8 fontsize=8 fontcolor=\"" Q8_EDGE "\" label=\"%s\"]",
                        dst->q8 ? "quantize" : "dequantize");
            else if (c == DOT_ADD)
                fprintf(out, " [color=\"" ADD_EDGE "\" penwidth=%s]", j > 0 ? "1.8" : "1.3");
            else if (c == DOT_CONCAT)
                fputs(" [color=\"" CONCAT_EDGE "\" penwidth=1.4]", out);
            fputs(";\n", out);
        }
    }
    fputs("}\n", out);
    return ferror(out) ? 1 : 0;
}
