/*
 * fuzz_safetensors.c — cnnc's safetensors reader (compiler/safetensors.c)
 * on arbitrary bytes, loaded into a small fixed network that has a conv,
 * a batchnorm (running statistics), a groupnorm and a dense layer.
 */
#include "cnnc.h"
#include "fuzz_common.h"

static FILE *null_out;

static const char NET[] =
    "network fz input 2x5x5\n"
    "conv c1 3 k3 p1\n"
    "batchnorm bn1\n"
    "relu\n"
    "conv c2 4 k3 nobias\n"
    "groupnorm gn 2\n"
    "flatten\n"
    "dense fc 3\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    diag_set_stream(null_out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("w.safetensors", data, size);
    diag_reset();
    Graph *g = front_load_string("fz.net", NET);
    if (!g) abort();                                   /* the fixed network is valid */
    if (weights_load_safetensors(g, path) == 0) {
        const char *m = weights_metadata(g, "normalize");
        if (m) fprintf(null_out, "%s\n", m);
        for (int i = 0; i < g->nnodes; i++) {        /* every expected tensor was filled */
            ParamSpec ps[MAX_PARAM_TENSORS];
            int k = weights_spec(g->nodes[i], ps);
            for (int j = 0; j < k; j++) {
                float s = 0;
                for (long long e = 0; e < ps[j].numel; e++) s += (*ps[j].slot)[e];
                fprintf(null_out, "%g\n", (double)s);
            }
        }
    }
    arena_free_all();
    return 0;
}
