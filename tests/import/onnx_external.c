/*
 * onnx_external.c — move an ONNX model's initializers to a side file, as
 * ONNX's external data: a test input for cnnc import (suite_import_onnx.sh).
 *
 *   onnx_external IN.onnx OUT.onnx DATA
 *
 * Every float initializer held as raw_data is written to DATA (a file name
 * beside OUT.onnx) at an offset aligned to 64 bytes, and replaced by the
 * entries location = DATA, offset, length and data_location EXTERNAL.
 * Built with the protobuf-c code of the build ($(B)/import/onnx.pb-c.c).
 */
#include "onnx.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Onnx__StringStringEntryProto *entry(const char *k, const char *v) {
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = strdup(k);
    e->value = strdup(v);
    return e;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fputs("usage: onnx_external IN.onnx OUT.onnx DATA\n", stderr);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 1;
    if (fseek(f, 0, SEEK_END) != 0) return perror(argv[1]), 1;
    long size = ftell(f);
    unsigned char *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf || fseek(f, 0, SEEK_SET) != 0) return perror(argv[1]), 1;
    size_t len = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (len != (size_t)size) return fprintf(stderr, "%s: short read\n", argv[1]), 1;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m || !m->graph) return fputs("not an ONNX model\n", stderr), 1;
    const char *slash = strrchr(argv[2], '/');
    char path[4096];
    snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - argv[2] + 1) : 0, argv[2], argv[3]);
    FILE *d = fopen(path, "wb");
    if (!d) return perror(path), 1;
    long off = 0;
    int moved = 0;
    for (size_t i = 0; i < m->graph->n_initializer; i++) {
        Onnx__TensorProto *t = m->graph->initializer[i];
        if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !t->has_raw_data || t->raw_data.len < 64) continue;
        off = (off + 63) / 64 * 64;
        if (fseek(d, off, SEEK_SET) != 0 || fwrite(t->raw_data.data, 1, t->raw_data.len, d) != t->raw_data.len)
            return perror(path), 1;
        char o[32], l[32];
        snprintf(o, sizeof o, "%ld", off);
        snprintf(l, sizeof l, "%zu", t->raw_data.len);
        t->n_external_data = 3;
        t->external_data = malloc(3 * sizeof *t->external_data);
        t->external_data[0] = entry("location", argv[3]);
        t->external_data[1] = entry("offset", o);
        t->external_data[2] = entry("length", l);
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        off += (long)t->raw_data.len;
        t->has_raw_data = 0;
        t->raw_data.len = 0;            /* the bytes stay in buf, which the message points into */
        moved++;
    }
    if (fclose(d) != 0) return perror(path), 1;
    size_t n = onnx__model_proto__get_packed_size(m);
    unsigned char *out = malloc(n);
    onnx__model_proto__pack(m, out);
    FILE *g = fopen(argv[2], "wb");
    if (!g || fwrite(out, 1, n, g) != n || fclose(g) != 0) return perror(argv[2]), 1;
    printf("%d initializers moved to %s (%ld bytes)\n", moved, path, off);
    return 0;
}
