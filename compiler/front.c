/*
 * front.c — the front end as one call: a .net file to its checked graph,
 * and to its training description.
 *
 * cnnc, cnnc-train, the tests, the fuzz targets and the benchmarks all
 * start here, so they read a network the same way (includes, elaboration,
 * shape checking, the same diagnostics) and train the same description.
 */
#include "cnnc.h"

#include "cnnrt_net.h"

static Graph *check(Stmt *prog) {
    if (diag_error_count()) return NULL;
    int nerr = 0;
    Graph *g = sema_elaborate(prog, &nerr);
    if (nerr || !g || shape_check(g)) return NULL;
    return g;
}

Graph *front_load(const char *path) { return check(source_parse_file(path)); }

Graph *front_load_string(const char *name, const char *text) { return check(source_parse_string(name, text)); }

struct cnnrt_net_desc *front_train_desc(const char *path, Graph **graph) {
    Graph *g = front_load(path);
    if (graph) *graph = g;
    return g ? train_desc_build(g) : NULL;
}
