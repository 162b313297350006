/*
 * fuzz_onnx.c — cnnc import on arbitrary bytes as an ONNX model.
 *
 *   bytes --import_onnx_bytes (protobuf-c, then every node)--> ImpGraph
 *         --import_write--> the .net text, compiled back (to /dev/null;
 *         no safetensors file)
 *
 * What `cnnc import MODEL.onnx` does, minus the file reading and the
 * weights file.  Messages go to /dev/null; the arena is freed after each
 * run.  External-data initializers resolve relative to the current folder
 * (a location with ".." or a leading "/" is refused by the importer).
 */
#include "cnnc.h"
#include "import.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
    diag_reset();
    ImpGraph g = { .name = "fz", .source = "fuzz.onnx" };
    if (import_onnx_bytes("fuzz.onnx", data, size, &g) == 0) import_write(&g, "/dev/null", NULL);
    arena_free_all();
    return 0;
}
