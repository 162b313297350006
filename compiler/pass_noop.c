/*
 * pass_noop.c — layers that move no data at inference.
 *
 * dropout (inverted, so the identity at inference), identity and flatten
 * (NCHW is already C,H,W-ordered) keep their place in the graph, for their
 * shapes, but become aliases: they share their input's buffer and emit no
 * code.
 */
#include "cnnc.h"

int pass_remove_noops(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed || !(n->kind->passes & KP_ALIAS)) continue;
        n->removed = true;
        n->alias = n->in[0];
    }
    return 0;
}
