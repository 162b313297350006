/*
 * weights.c — which tensors each layer owns, and their default values.
 *
 * Tensor names are PyTorch's state-dict names: a layer named layer1.0.conv1
 * owns layer1.0.conv1.weight (and .bias); a batchnorm also owns
 * .running_mean and .running_var.  Layouts are PyTorch's (DESIGN.md).
 *
 * Without --weights, parameters are drawn from --seed the way PyTorch
 * initialises a fresh module: conv and dense weights and biases uniform in
 * ±1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), norm γ = 1, β = 0,
 * running mean 0, running variance 1.  The generator is splitmix64, so the
 * same seed gives the same weights on every machine.
 */
#include "cnnc.h"

#include <math.h>
#include <string.h>

int weights_spec(Node *n, ParamSpec out[MAX_PARAM_TENSORS]) {
    int k = 0;
    const Shape *in = n->nin ? &n->in[0]->shape : NULL;
#define T(sfx, slotp, learn, nd, d0, d1, d2, d3)                                     \
    do {                                                                             \
        out[k] = (ParamSpec){ sfx, nd, { d0, d1, d2, d3 }, 0, slotp, learn };        \
        out[k].numel = 1;                                                            \
        for (int i_ = 0; i_ < nd; i_++) out[k].numel *= out[k].dims[i_];             \
        k++;                                                                         \
    } while (0)
    switch (n->kind->id) {
    case K_CONV:
        T("weight", &n->w_data, true, 4, n->out, in->c / n->groups, n->kh, n->kw);
        if (n->bias) T("bias", &n->b_data, true, 1, n->out, 0, 0, 0);
        break;
    case K_DENSE:
        T("weight", &n->w_data, true, 2, n->out, in->c, 0, 0);
        if (n->bias) T("bias", &n->b_data, true, 1, n->out, 0, 0, 0);
        break;
    case K_BATCHNORM:
        T("weight", &n->w_data, true, 1, in->c, 0, 0, 0);
        T("bias", &n->b_data, true, 1, in->c, 0, 0, 0);
        T("running_mean", &n->mean_data, false, 1, in->c, 0, 0, 0);
        T("running_var", &n->var_data, false, 1, in->c, 0, 0, 0);
        break;
    case K_LAYERNORM:
        if (!n->affine) break;
        if (in->rank == 1) {
            T("weight", &n->w_data, true, 1, in->c, 0, 0, 0);
            T("bias", &n->b_data, true, 1, in->c, 0, 0, 0);
        } else {
            T("weight", &n->w_data, true, 3, in->c, in->h, in->w, 0);
            T("bias", &n->b_data, true, 3, in->c, in->h, in->w, 0);
        }
        break;
    case K_INSTANCENORM:
    case K_GROUPNORM:
        if (!n->affine) break;
        T("weight", &n->w_data, true, 1, in->c, 0, 0, 0);
        T("bias", &n->b_data, true, 1, in->c, 0, 0, 0);
        break;
    default:
        break;
    }
#undef T
    return k;
}

static unsigned long long rng_state;

static unsigned long long splitmix64(void) {
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in [-b, b) */
static float uniform(float b) {
    double u = (double)(splitmix64() >> 11) * (1.0 / 9007199254740992.0);
    return (float)((2.0 * u - 1.0) * b);
}

void weights_init_seeded(Graph *g, unsigned long long seed) {
    rng_state = seed;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec(n, ps);
        long long fan_in = 1;
        if (n->kind->id == K_CONV || n->kind->id == K_DENSE)
            fan_in = ps[0].numel / ps[0].dims[0];
        for (int j = 0; j < k; j++) {
            float *d = arena_alloc(sizeof(float) * (size_t)ps[j].numel);
            *ps[j].slot = d;
            if (n->kind->id == K_CONV || n->kind->id == K_DENSE) {
                float b = (float)(1.0 / sqrt((double)fan_in));
                for (long long e = 0; e < ps[j].numel; e++) d[e] = uniform(b);
            } else {
                float v = strcmp(ps[j].suffix, "weight") == 0 || strcmp(ps[j].suffix, "running_var") == 0;
                for (long long e = 0; e < ps[j].numel; e++) d[e] = v;
            }
        }
    }
}

/* Every parameter finite: the first NaN or infinity is an error naming its
 * tensor and index.  1 on error, else 0. */
int weights_check_finite(Graph *g, const char *origin) {
    for (int i = 0; i < g->nnodes; i++) {
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec(g->nodes[i], ps);
        for (int j = 0; j < k; j++) {
            const float *d = *ps[j].slot;
            for (long long e = 0; d && e < ps[j].numel; e++)
                if (!isfinite(d[e])) {
                    diag_file_error(origin, "tensor '%s.%s' holds %s at index %lld (of %lld values); "
                                    "nothing is written", g->nodes[i]->name, ps[j].suffix,
                                    isnan(d[e]) ? "NaN" : d[e] > 0 ? "+infinity" : "-infinity", e, ps[j].numel);
                    return 1;
                }
        }
    }
    return 0;
}
