/*
 * fuzz_darknet.c — cnnc import on arbitrary bytes as a darknet cfg.
 *
 *   bytes --(fuzz_write: the scratch file)--> import_darknet (no weights)
 *         --> ImpGraph --import_write--> the .net text, compiled back (to
 *         /dev/null)
 *
 * What `cnnc import NET.cfg` does without --weights.  import_darknet reads
 * a path, so each input goes through fuzz_common.h's scratch file.
 * Messages go to /dev/null; the arena is freed after each run.
 */
#include "cnnc.h"
#include "fuzz_common.h"
#include "import.h"

static FILE *null_out;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    diag_set_stream(null_out);
    import_set_out(null_out);
    sema_max_layers = 5000;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write("net.cfg", data, size);
    diag_reset();
    ImpGraph g = { .name = "fz", .source = path };
    if (import_darknet(path, NULL, &g) == 0) import_write(&g, "/dev/null", NULL);
    arena_free_all();
    return 0;
}
