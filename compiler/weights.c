/*
 * weights.c — which tensors each layer owns, and their default values.
 *
 * Tensor names are PyTorch's state-dict names: a layer named layer1.0.conv1
 * owns layer1.0.conv1.weight (and .bias); a batchnorm also owns
 * .running_mean and .running_var.  Layouts are PyTorch's
 * (docs/internals.md, "Conventions").
 *
 * Without --weights, parameters are drawn from --seed the way PyTorch
 * initialises a fresh module: conv and dense weights and biases uniform in
 * ±1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), norm γ = 1, β = 0,
 * running mean 0, running variance 1.  The generator and the initialiser
 * are cnnrt's (runtime/init.c), so the same seed gives the same weights on
 * every machine, in cnnc and in cnnc-train.
 */
#include "kind.h"

#include <math.h>
#include <string.h>

ParamSpec param(const char *suffix, float **slot, bool learnable, long long fan_in, int ndim,
                long long d0, long long d1, long long d2, long long d3) {
    ParamSpec p = { suffix, ndim, { d0, d1, d2, d3 }, 1, slot, learnable, fan_in, false, 0.0f };
    for (int i = 0; i < ndim; i++) p.numel *= p.dims[i];
    return p;
}

ParamSpec param_kernel(float **slot, long long fan_in, const Shape *in, long long a, long long b, long long kd,
                       long long kh, long long kw) {
    ParamSpec p = param("weight", slot, true, fan_in, 4, a, b, kh, kw);
    if (in->sp == 1) { p.ndim = 3; p.dims[2] = kw; }
    if (in->sp == 3) { p.ndim = 5; p.dims[2] = kd; p.dims[3] = kh; p.dims[4] = kw; }
    p.numel = a * b * kd * kh * kw;
    return p;
}

ParamSpec param_like(const char *suffix, float **slot, const Shape *in) {
    ParamSpec p = param(suffix, slot, true, 0, 3, in->c, in->h, in->w, 0);
    if (in->sp == 1) { p.ndim = 2; p.dims[1] = in->w; }
    if (in->sp == 3) { p.ndim = 4; p.dims[1] = in->d; p.dims[2] = in->h; p.dims[3] = in->w; }
    p.numel = shape_numel(*in);
    return p;
}

/* The tensors a layer owns: its kind's params hook (compiler/kind_*.c). */
int weights_spec(Node *n, ParamSpec out[MAX_PARAM_TENSORS]) {
    return n->kind->params ? n->kind->params(n, out) : 0;
}

/* The network as PyTorch initialises a fresh module, drawn by the same
 * initialiser cnnrt uses (runtime/init.c), tensor by tensor in layer
 * order: cnnc --seed N and cnnc-train --seed N start from the same weights. */
void weights_init_seeded(Graph *g, unsigned long long seed) {
    cnnrt_rng r;
    cnnrt_rng_seed(&r, seed);
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        ParamSpec ps[MAX_PARAM_TENSORS];
        int k = weights_spec(n, ps);
        for (int j = 0; j < k; j++) {
            float *d = arena_alloc(sizeof(float) * (size_t)ps[j].numel);
            *ps[j].slot = d;
            if (ps[j].constant)
                for (long long v = 0; v < ps[j].numel; v++) d[v] = ps[j].init;
            else
                cnnrt_init_tensor(d, (long)ps[j].numel, ps[j].suffix, (long)ps[j].fan_in, &r);
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
