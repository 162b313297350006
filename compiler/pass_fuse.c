/*
 * pass_fuse.c — apply activations in the loop that produces their input.
 *
 * An activation layer (runtime/cnnrt_acts.def) after a conv, dense, add or kept
 * batchnorm that nobody else reads become that layer's activation; the
 * activation layer disappears and its readers read the producer.  A prelu
 * with one slope is, at inference, a leaky relu with its learned slope, and
 * is fused as one.
 */
#include "cnnc.h"

int pass_fuse_activations(Graph *g) {
    int *uses = pass_use_counts(g);
    for (int i = 0; i < g->nnodes; i++) {
        Node *a = g->nodes[i];
        ActKind act = act_of_kind(a->kind->id);
        double slope = a->act_p[0];
        if (a->kind->id == K_PRELU && a->slopes == 1 && a->w_data) {
            act = ACT_LEAKY;
            slope = a->w_data[0];
        }
        if (a->removed || act == ACT_NONE) continue;
        Node *p = a->in[0];
        if (p->removed || p->act != ACT_NONE || uses[p->id] != 1 || p == g->output) continue;
        if (!(p->kind->passes & KP_TAKES_ACT)) continue;
        p->act = act;
        p->act_p[0] = slope;
        p->act_p[1] = a->act_p[1];
        p->note = p->note ? arena_printf("%s, %s applied in place", p->note, a->name)
                          : arena_printf("%s applied in place", a->name);
        a->removed = true;
        pass_replace_uses(g, a, p);
        uses[p->id] = uses[a->id];
    }
    return 0;
}
