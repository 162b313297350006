/*
 * fuzz_frontend.c — the cnnc front end on arbitrary source text.
 *
 *   bytes --source_parse_string--> AST --sema_elaborate--> graph
 *         --shape_check--> shapes --report_totals, passes, plan_arena,
 *         report_text / report_json--> (a null stream)
 *
 * What `cnnc --report` does, minus the file reading.  Every run starts from
 * a clean front end: diag_reset, and the statics of source.c, sema.c and
 * safetensors.c are reset by their entry points; the arena is freed after
 * each run.  Includes resolve relative to the current directory.
 *
 * The layer cap is lowered from 100,000 to 5,000 (and with it the cap on
 * statements expanded, 5x that): under the fuzzer's instrumentation a layer
 * costs ~50 us, so a network at the real cap takes ~5 s, over libFuzzer's
 * 1 s timeout.  The caps themselves are checked by tests/compiler/diagnostics.
 */
#include "cnnc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static FILE *null_out;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    null_out = fopen("/dev/null", "w");
    if (!null_out) abort();
    diag_set_stream(null_out);
    sema_max_layers = 5000;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    diag_reset();
    Stmt *prog = source_parse_string("fuzz.net", text);
    free(text);
    if (diag_error_count() == 0) {
        int nerr = 0;
        Graph *g = sema_elaborate(prog, &nerr);
        if (!nerr && g && shape_check(g) == 0) {
            Totals t;
            report_totals(g, &t);
            Graph *planned = ir_clone(g);
            Plan plan;
            if (!pass_fold_batchnorm(planned) && !pass_fuse_activations(planned) &&
                !pass_remove_noops(planned) && !plan_arena(planned, &plan)) {
                report_text(g, &plan, null_out);
                report_json(g, &plan, NULL, NULL, null_out);
            }
        }
    }
    arena_free_all();
    return 0;
}
