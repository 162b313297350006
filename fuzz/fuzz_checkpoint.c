/*
 * fuzz_checkpoint.c — cnnrt's checkpoint reader (runtime/safetensors.c) and
 * cnnrt_net_load (runtime/net_io.c) on arbitrary bytes: open, list and read
 * every float32 tensor, look up metadata, then load the file into a small
 * fixed network (weights only, and with the optimizer state).
 */
#include "cnnc.h"
#include "cnnrt_net.h"
#include "fuzz_common.h"

static cnnrt_net *net;

static const char NET[] =
    "network fz input 1x6x6\n"
    "conv c1 2 k3\n"
    "batchnorm bn1\n"
    "relu\n"
    "maxpool k2 s2\n"
    "flatten\n"
    "dense fc 3\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    Graph *g = front_load_string("fz.net", NET);
    cnnrt_net_desc *d = g ? train_desc_build(g) : NULL;    /* kept: lives in the arena */
    if (!d) abort();
    cnnrt_train_opts o = { .optim = cnnrt_optim_defaults(CNNRT_ADAM),
                           .lr = { .kind = CNNRT_LR_CONSTANT, .base_lr = 1e-3 },
                           .loss = CNNRT_LOSS_XENT, .seed = 1 };
    char err[512];
    net = cnnrt_net_create(d, 1, &o, err, sizeof err);
    if (!net) { fprintf(stderr, "%s\n", err); abort(); }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("ck.safetensors", data, size);
    char err[2048];
    cnnrt_ckpt *ck = NULL;
    if (cnnrt_ckpt_open(path, &ck, err, sizeof err) == CNNRT_OK) {
        int n = cnnrt_ckpt_count(ck);
        for (int i = 0; i < n; i++) {
            int64_t shape[CNNRT_CKPT_MAX_DIMS];
            int nd = cnnrt_ckpt_shape(ck, i, shape);
            const char *name = cnnrt_ckpt_name(ck, i);
            if (cnnrt_ckpt_find(ck, name) != i) abort();
            size_t e = 1;
            for (int k = 0; k < nd; k++) e *= (size_t)shape[k];
            if (strcmp(cnnrt_ckpt_dtype(ck, i), "F32") != 0 || e > (1u << 24)) continue;
            float *buf = malloc((e ? e : 1) * sizeof(float));
            if (!buf) continue;
            cnnrt_ckpt_read(ck, name, nd, shape, buf, err, sizeof err);
            free(buf);
        }
        for (int i = 0; i < cnnrt_ckpt_meta_count(ck); i++) {
            const char *k = cnnrt_ckpt_meta_key(ck, i);
            if (!cnnrt_ckpt_meta_get(ck, k) || !cnnrt_ckpt_meta_value(ck, i)) abort();
        }
        cnnrt_ckpt_close(ck);
    } else if (ck) {
        abort();                                     /* *out is NULL on failure */
    }
    cnnrt_net_load(net, path, 0, err, sizeof err);
    cnnrt_net_load(net, path, 1, err, sizeof err);
    return 0;
}
