/*
 * train_gen.c — the code `cnnc --train` writes trains exactly like
 * cnnc-train: the generated description equals the one train_desc.c
 * builds at run time, field by field, and five steps on the same random
 * batch from the same seed give bit-identical losses and parameters.
 *   train_gen MODEL.net [--plans]   (linked with the generated NET_train.o;
 *   built with -DNET=name, default lenet5)
 * --plans: also check that cnnrt refuses broken plans (plan_refusals: the
 * network needs a conv and an op sharing a gradient buffer).
 */
#include "cnnc.h"

#include "cnnrt_net.h"

#ifndef NET
#define NET lenet5
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define G(name) CAT(NET, name)                 /* G(_train_new): lenet5_train_new */
#include STR(CAT(NET, _train.h))

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c, ...) do { if (!(c)) { printf("train_gen: " __VA_ARGS__); printf("\n"); fails++; } } while (0)

/* cnnrt_net_create checks the plan: each way of breaking it is refused
 * with a message, and the unbroken plan is taken. */
static void plan_refusals(const cnnrt_net_desc *d, const cnnrt_train_opts *o) {
    const int share = ((1 << CNNRT_PLAN_MAX_SHARE) - 1) * CNNRT_PLAN_SHARE0;
    int nv = d->nvalues, conv = -1, sharer = -1;
    for (int i = 0; i < d->nops; i++) {
        if (d->ops[i].kind == CNNRT_OP_CONV && conv < 0) conv = i;
        if (d->op_plan[i] & share) sharer = i;
    }
    CHECK(conv >= 0 && sharer >= 0, "the network has no conv, or no op sharing a gradient, to break");
    if (fails) return;
    enum { NCASE = 10 };
    const char *what[NCASE] = { "VIEW on a conv", "an unknown flag", "SHARE on a conv", "RELU_FUSED on a conv",
                                "a value sharing a buffer of another size", "a gradient shared without a flag",
                                "a value in the input's buffer", "a conv with a fused silu",
                                "a conv whose kernel does not fit its output", "a conv with no groups" };
    cnnrt_op *ops = malloc(sizeof(cnnrt_op) * (size_t)d->nops);
    for (int c = 0; c < NCASE; c++) {
        cnnrt_net_desc x = *d;
        int *plan = malloc(sizeof(int) * (size_t)d->nops), *vb = malloc(sizeof(int) * (size_t)nv),
            *gb = malloc(sizeof(int) * (size_t)nv);
        memcpy(plan, d->op_plan, sizeof(int) * (size_t)d->nops);
        memcpy(vb, d->value_buf, sizeof(int) * (size_t)nv);
        memcpy(gb, d->grad_buf, sizeof(int) * (size_t)nv);
        memcpy(ops, d->ops, sizeof(cnnrt_op) * (size_t)d->nops);
        int out = d->ops[conv].out;
        switch (c) {
        case 0: plan[conv] |= CNNRT_PLAN_VIEW; break;
        case 1: plan[conv] |= 1 << 30; break;
        case 2: plan[conv] |= CNNRT_PLAN_SHARE0; break;
        case 3: plan[conv] |= CNNRT_PLAN_RELU_FUSED; break;
        case 4: vb[out] = d->inputs[d->ops[conv].in0]; break;   /* 1x32x32 vs 6x28x28 */
        case 5: plan[sharer] &= ~share; break;
        case 6: vb[out] = 0; break;
        case 7: ops[conv].act = CNNRT_ACT_SILU; break;     /* its backward needs the conv's output */
        case 8: ops[conv].conv.KH++; break;
        case 9: ops[conv].conv.groups = 0; break;          /* would divide by zero */
        }
        x.ops = ops;
        x.op_plan = plan;
        x.value_buf = vb;
        x.grad_buf = gb;
        char err[256] = "";
        cnnrt_net *net = cnnrt_net_create(&x, 2, o, err, sizeof err);
        CHECK(!net && strstr(err, "invalid training plan"), "a plan with %s was %s (%s)", what[c],
              net ? "taken" : "refused without saying why", err);
        cnnrt_net_free(net);
        free(plan); free(vb); free(gb);
    }
    free(ops);
    char err[256];
    cnnrt_net *net = cnnrt_net_create(d, 2, o, err, sizeof err);
    CHECK(net != NULL, "the compiler's plan was refused: %s", err);
    cnnrt_net_free(net);
    if (!fails) printf("cnnrt refuses %d broken plans and takes the compiler's\n", NCASE);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--plans") != 0)) return 2;
    const cnnrt_net_desc *a = front_train_desc(argv[1], NULL), *b = G(_train_desc)();
    if (!a) return 2;
    CHECK(a->nops == b->nops && a->nvalues == b->nvalues && a->ntensors == b->ntensors &&
          a->nparams == b->nparams && a->nbuffers == b->nbuffers && a->hash == b->hash &&
          a->output == b->output && a->out_size == b->out_size, "the descriptions differ in size");
    if (fails) return 1;
    for (int i = 0; i < a->nvalues; i++) CHECK(a->value_size[i] == b->value_size[i], "value %d differs", i);
    for (int i = 0; i < a->nops; i++) {
        cnnrt_op x = a->ops[i], y = b->ops[i];
        CHECK(strcmp(x.name, y.name) == 0, "op %d name %s vs %s", i, x.name, y.name);
        x.name = y.name = NULL;
        CHECK(memcmp(&x, &y, sizeof x) == 0, "op %d (%s) differs", i, a->ops[i].name);
        for (int k = 0; k < x.nin; k++) CHECK(a->inputs[x.in0 + k] == b->inputs[y.in0 + k], "op %d input", i);
    }
    for (int i = 0; i < a->ntensors; i++) {
        cnnrt_tensor x = a->tensors[i], y = b->tensors[i];
        CHECK(strcmp(x.name, y.name) == 0, "tensor %d name %s vs %s", i, x.name, y.name);
        x.name = y.name = NULL;
        CHECK(memcmp(&x, &y, sizeof x) == 0, "tensor %d (%s) differs", i, a->tensors[i].name);
    }
    for (int i = 0; i < a->nops; i++) CHECK(a->op_plan[i] == b->op_plan[i], "op %d's plan differs", i);
    for (int v = 0; v < a->nvalues; v++)
        CHECK(a->value_buf[v] == b->value_buf[v] && a->grad_buf[v] == b->grad_buf[v], "value %d's plan differs", v);
    cnnrt_train_opts o = { .optim = cnnrt_optim_defaults(CNNRT_ADAM),
                           .lr = { .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-3 },
                           .loss = CNNRT_LOSS_XENT, .seed = 11 };
    char err[256];
    if (argc == 3) plan_refusals(a, &o);
    cnnrt_net *na = cnnrt_net_create(a, 8, &o, err, sizeof err);
    G(_train) *nb = G(_train_new)(8, &o, err, sizeof err);
    if (!na || !nb) { printf("train_gen: %s\n", err); return 1; }
    const size_t in_size = (size_t)a->in_c * (size_t)a->in_h * (size_t)a->in_w;
    float *x = malloc(sizeof(float) * 8 * in_size);
    int32_t y[8];
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 5);
    for (size_t i = 0; i < 8 * in_size; i++) x[i] = cnnrt_rng_normal(&r);
    for (int i = 0; i < 8; i++) y[i] = (int32_t)(cnnrt_rng_u32(&r) % (uint32_t)a->out_size);
    float la = 0, lb = 0;
    for (int s = 0; s < 5; s++) {
        la = cnnrt_net_train_step(na, x, y, NULL, 8);
        lb = G(_train_step)(nb, x, y, 8);
        CHECK(memcmp(&la, &lb, sizeof la) == 0 && isfinite(la), "step %d: loss %.9g vs %.9g", s, la, lb);
    }
    CHECK(memcmp(cnnrt_net_params(na), cnnrt_net_params(nb), sizeof(float) * (size_t)a->nparams) == 0,
          "parameters differ after 5 steps");
    if (!fails) printf("cnnc --train code: same description as cnnc-train (%d ops, %ld params) and "
                       "bit-identical losses over 5 steps (last %.6f)\n", a->nops, a->nparams, la);
    cnnrt_net_free(na);
    G(_train_free)(nb);
    free(x);
    return fails != 0;
}
