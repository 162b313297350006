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
