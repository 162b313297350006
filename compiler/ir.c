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
    n->kind = k;
    n->loc = loc;
    g->nodes[g->nnodes++] = n;
    return n;
}

long long shape_numel(Shape s) {
    return s.rank == 1 ? s.c : s.c * s.h * s.w;
}

const char *shape_str(Shape s) {
    if (s.rank == 1) return arena_printf("[%lld]", s.c);
    return arena_printf("%lld×%lld×%lld", s.c, s.h, s.w);
}
