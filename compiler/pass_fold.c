/*
 * pass_fold.c — batchnorm folding for inference.
 *
 * A batchnorm whose input is a conv or dense layer that nobody else reads
 * (and that has no fused activation) disappears into it:
 *     s = γ / sqrt(σ² + ε),   W' = W·s (per output channel),   b' = (b − μ)·s + β
 * computed in double.  Any other batchnorm stays as a per-channel scale and
 * shift (s, β − μ·s).  Without weight data (cnnc --report) only the
 * structure changes, so the report can show the planned arena.
 */
#include "cnnc.h"

#include <math.h>
#include <string.h>

int *pass_use_counts(const Graph *g) {
    int *uses = arena_alloc(sizeof(int) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->removed && !n->alias) continue;
        for (int j = 0; j < n->nin; j++) uses[n->in[j]->id]++;
    }
    uses[g->output->id]++;                 /* the caller reads the output */
    return uses;
}

/* Make every reader of 'from' read 'to' instead: to now computes from's output. */
void pass_replace_uses(Graph *g, Node *from, Node *to) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] == from) n->in[j] = to;
    }
    if (g->output == from) g->output = to;
    to->value = from->value;     /* to's buffer now holds what from wrote */
}

int pass_fold_batchnorm(Graph *g) {
    int *uses = pass_use_counts(g);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed || n->kind->id != K_BATCHNORM) continue;
        Node *p = n->in[0];
        long long c = n->shape.c;
        bool folds = (p->kind->passes & KP_TAKES_BN) && !p->removed &&
                     p->act == ACT_NONE && uses[p->id] == 1 && p != g->output;
        if (!folds) {
            if (n->w_data) {
                n->scale = arena_alloc(sizeof(float) * (size_t)c);
                n->shift = arena_alloc(sizeof(float) * (size_t)c);
                for (long long k = 0; k < c; k++) {
                    double s = n->w_data[k] / sqrt((double)n->var_data[k] + n->eps);
                    n->scale[k] = (float)s;
                    n->shift[k] = (float)(n->b_data[k] - n->mean_data[k] * s);
                }
            }
            continue;
        }
        if (p->w_data) {
            ParamSpec ps[MAX_PARAM_TENSORS];
            weights_spec(p, ps);
            long long fan = ps[0].fan_in;    /* the weight's values per output channel */
            float *nb = arena_alloc(sizeof(float) * (size_t)c);
            for (long long k = 0; k < c; k++) {
                double s = n->w_data[k] / sqrt((double)n->var_data[k] + n->eps);
                for (long long e = 0; e < fan; e++)
                    p->w_data[k * fan + e] = (float)(p->w_data[k * fan + e] * s);
                double b = p->b_data ? p->b_data[k] : 0.0;
                nb[k] = (float)((b - n->mean_data[k]) * s + n->b_data[k]);
            }
            p->b_data = nb;
        }
        p->bias = true;
        p->note = p->note ? arena_printf("%s, %s", p->note, n->name)
                          : arena_printf("batchnorm %s folded in", n->name);
        n->removed = true;
        pass_replace_uses(g, n, p);
        uses[p->id] = uses[n->id];
    }
    return 0;
}
