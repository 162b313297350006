/*
 * fuzz_darknet.c — cnnc import on arbitrary bytes as a darknet cfg.
 *
 *   bytes --(a temporary file)--> import_darknet (no weights) --> ImpGraph
 *         --import_write--> the .net text, compiled back (to /dev/null)
 *
 * What `cnnc import NET.cfg` does without --weights.  import_darknet reads
 * a path, so each input is written to one temporary file first.  Messages
 * go to /dev/null; the arena is freed after each run.
 */
#include "cnnc.h"
#include "import.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static FILE *null_out;
static char path[] = "/tmp/fuzz_darknet.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    null_out = fopen("/dev/null", "w");
    int fd = mkstemp(path);
    if (!null_out || fd < 0) abort();
    close(fd);
    diag_set_stream(null_out);
    import_set_out(null_out);
    sema_max_layers = 5000;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    diag_reset();
    ImpGraph g = { .name = "fz", .source = path };
    if (import_darknet(path, NULL, &g) == 0) import_write(&g, "/dev/null", NULL);
    arena_free_all();
    return 0;
}
