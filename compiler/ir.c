/*
 * ir.c — the graph IR: nodes in topological order, shapes.
 *
 * Elaboration appends nodes as it walks the program, and every node's inputs
 * already exist when it is added, so the node array is a topological order
 * by construction and passes can walk it front to back.
 */
#include "cnnc.h"

#include <string.h>

Graph *ir_new_graph(void) {
    Graph *g = arena_alloc(sizeof *g);
    g->cap = 64;
    g->nodes = arena_alloc(sizeof(Node *) * (size_t)g->cap);
    return g;
}

/* A copy that passes may rewrite while the original keeps the network as
 * written (the report shows both). */
Graph *ir_clone(const Graph *g) {
    Graph *c = arena_alloc(sizeof *c);
    *c = *g;
    c->nodes = arena_alloc(sizeof(Node *) * (size_t)g->cap);
    for (int i = 0; i < g->nnodes; i++) {
        c->nodes[i] = arena_alloc(sizeof(Node));
        *c->nodes[i] = *g->nodes[i];
    }
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = c->nodes[i];
        n->in = arena_alloc(sizeof(Node *) * (size_t)(n->nin ? n->nin : 1));
        for (int j = 0; j < n->nin; j++) n->in[j] = c->nodes[g->nodes[i]->in[j]->id];
        if (n->alias) n->alias = c->nodes[n->alias->id];
    }
    c->output = c->nodes[g->output->id];
    return c;
}

Node *ir_add_node(Graph *g, const LayerKind *k, Loc loc) {
    if (g->nnodes == g->cap) {
        Node **nn = arena_alloc(sizeof(Node *) * (size_t)g->cap * 2);
        memcpy(nn, g->nodes, sizeof(Node *) * (size_t)g->cap);
        g->nodes = nn;
        g->cap *= 2;
    }
    Node *n = arena_alloc(sizeof *n);
    n->id = g->nnodes;
    n->value = n->id;
    n->kind = k;
    n->loc = loc;
    g->nodes[g->nnodes++] = n;
    return n;
}

long long shape_numel(Shape s) {
    return s.rank == 1 ? s.c : s.c * s.d * s.h * s.w;
}

long long shape_hw(Shape s) {
    return s.rank == 1 ? 1 : s.d * s.h * s.w;
}

Shape shape_vec(long long n) {
    return (Shape){ .rank = 1, .c = n, .h = 1, .w = 1, .d = 1 };
}

Shape shape_like(const Shape *in, long long c, long long d, long long h, long long w) {
    return (Shape){ .rank = 3, .c = c, .h = in->sp == 1 ? 1 : h, .w = w, .d = in->sp == 3 ? d : 1, .sp = in->sp };
}

int shape_dims(Shape s, long long dims[4]) {
    int k = 0;
    dims[k++] = s.c;
    if (s.rank == 1) return k;
    if (s.sp == 3) dims[k++] = s.d;
    if (s.sp != 1) dims[k++] = s.h;
    dims[k++] = s.w;
    return k;
}

const char *shape_join(Shape s, const char *sep) {
    long long dims[4];
    int k = shape_dims(s, dims);
    const char *t = arena_printf("%lld", dims[0]);
    for (int i = 1; i < k; i++) t = arena_printf("%s%s%lld", t, sep, dims[i]);
    return t;
}

const char *shape_str(Shape s) {
    return s.rank == 1 ? arena_printf("[%lld]", s.c) : shape_join(s, "×");
}
