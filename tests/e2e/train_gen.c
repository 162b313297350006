/*
 * train_gen.c — the code `cnnc --train` writes trains exactly like
 * cnnc-train: the generated description equals the one train_desc.c
 * builds at run time, field by field, and five steps on the same random
 * batch from the same seed give bit-identical losses and parameters.
 *   train_gen MODEL.net   (linked with the generated lenet5_train.o)
 */
#include "cnnc.h"

#include "cnnrt_net.h"
#include "lenet5_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int fails;
#define CHECK(c, ...) do { if (!(c)) { printf("train_gen: " __VA_ARGS__); printf("\n"); fails++; } } while (0)

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const cnnrt_net_desc *a = front_train_desc(argv[1], NULL), *b = lenet5_train_desc();
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
    cnnrt_train_opts o = { .optim = cnnrt_optim_defaults(CNNRT_ADAM),
                           .lr = { .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-3 },
                           .loss = CNNRT_LOSS_XENT, .seed = 11 };
    char err[256];
    cnnrt_net *na = cnnrt_net_create(a, 8, &o, err, sizeof err);
    lenet5_train *nb = lenet5_train_new(8, &o, err, sizeof err);
    if (!na || !nb) { printf("train_gen: %s\n", err); return 1; }
    float x[8 * 1024];
    int32_t y[8];
    cnnrt_rng r;
    cnnrt_rng_seed(&r, 5);
    for (int i = 0; i < 8 * 1024; i++) x[i] = cnnrt_rng_normal(&r);
    for (int i = 0; i < 8; i++) y[i] = (int32_t)(cnnrt_rng_u32(&r) % 10);
    float la = 0, lb = 0;
    for (int s = 0; s < 5; s++) {
        la = cnnrt_net_train_step(na, x, y, NULL, 8);
        lb = lenet5_train_step(nb, x, y, 8);
        CHECK(memcmp(&la, &lb, sizeof la) == 0 && isfinite(la), "step %d: loss %.9g vs %.9g", s, la, lb);
    }
    CHECK(memcmp(cnnrt_net_params(na), cnnrt_net_params(nb), sizeof(float) * (size_t)a->nparams) == 0,
          "parameters differ after 5 steps");
    if (!fails) printf("cnnc --train code: same description as cnnc-train (%d ops, %ld params) and "
                       "bit-identical losses over 5 steps (last %.6f)\n", a->nops, a->nparams, la);
    cnnrt_net_free(na);
    lenet5_train_free(nb);
    return fails != 0;
}
