/*
 * tune.c — cnnc --tune: each conv's algorithm measured on this machine.
 *
 * The shape rule (lower_conv.c conv_algo_why()) is a guess fitted by hand
 * on one CPU.  --tune replaces it, for every conv with more than one
 * algorithm the templates can write (conv_algo_ok()), by the one that ran
 * fastest here.  For each algorithm some of those convs can take, cnnc
 * writes the whole network with each of them on it (the other convs as they
 * are) and with a mark after every layer (EmitOptions.profile:
 * cnnc_tune_mark()), builds it with a small driver that times each layer
 * (the tune compiler: --tune-cc, default TUNE_CC), runs it on one thread,
 * and keeps each layer's median over the runs.  A layer is timed inside its
 * network, with the caches as the real calls leave them.
 *
 * The tune file (JSON; default the network's file with .tune for .net)
 * holds one entry per conv shape, sorted, with the time of every algorithm
 * and the best one, and says on which machine and with which compiler they
 * were measured.  It can be checked in: a build with --tune-file takes its
 * choices without measuring; --tune measures only the shapes it lacks (all
 * of them when it was measured on another machine or compiler) and writes
 * it again.  A hand-written entry may name its "best" alone, to pin an
 * algorithm.
 */
#include "cnnc.h"
#include "cnnrt_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TUNE_CC "cc -std=c99 -O2 -march=native"
#define TUNE_VERSION 1

const char *tune_default_cc(void) { return TUNE_CC; }

typedef struct Tune {
    const char *path;
    char *text;               /* the file as read (for line numbers), or NULL */
    cJSON *root;              /* { cnnc_tune, machine, cc, convs: { KEY: { best, us } } } */
    cJSON *convs;
} Tune;

/* the CPU, as /proc/cpuinfo names it */
static const char *machine_name(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    const char *name = "unknown";
    if (!f) return name;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0 && strncmp(line, "Model", 5) != 0) continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v += 1 + strspn(v + 1, " \t");
        v[strcspn(v, "\n")] = 0;
        name = arena_strdup(v);
        break;
    }
    fclose(f);
    return name;
}

/* A conv's key: what its time depends on (the target, its input, kernel,
 * stride, padding, dilation, groups and outputs; whether OpenBLAS may take
 * it), not its name or its activation. */
const char *tune_conv_key(const Node *n, bool standalone) {
    const Shape *in = &n->in[0]->shape;
    bool blas = !standalone && strcmp(target->simd, "NONE") == 0 && !target->ram_first;
    return arena_printf("%s conv %lldx%lldx%lld k%lldx%lld s%lldx%lld p%lld,%lld,%lld,%lld d%lldx%lld g%lld > %lld%s",
                        target->name, in->c, in->h, in->w, n->kh, n->kw, n->sh, n->sw, n->pt, n->pl, n->pb,
                        n->pr, n->dh, n->dw, n->groups, n->out, blas ? " openblas" : "");
}

/* the line of the file where "key" is first written, for messages */
static int line_of(const Tune *t, const char *key) {
    if (!t->text) return 0;
    const char *q = arena_printf("\"%s\"", key);
    const char *at = strstr(t->text, q);
    if (!at) return 0;
    int line = 1;
    for (const char *p = t->text; p < at; p++) line += *p == '\n';
    return line;
}

static const char *where(const Tune *t, const char *key) {
    int line = line_of(t, key);
    return line ? arena_printf("%s:%d", t->path, line) : t->path;
}

static const char *algo_list(const Node *n) {
    const char *s = NULL;
    for (int a = 0; a < CONV_NALGO; a++)
        if (conv_algo_ok(n, (ConvAlgo)a))
            s = s ? arena_printf("%s, %s", s, conv_algo_key((ConvAlgo)a)) : conv_algo_key((ConvAlgo)a);
    return s;
}

/* Check every entry (not only the ones this network uses): an object with
 * "best", an algorithm's word, and optionally "us", times by algorithm. */
static int check_entries(Tune *t) {
    int nerr = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, t->convs) {
        const char *at = where(t, e->string);
        cJSON *best = cJSON_GetObjectItemCaseSensitive(e, "best");
        if (!cJSON_IsObject(e) || !cJSON_IsString(best)) {
            fprintf(stderr, "cnnc: error: %s: the entry \"%s\" needs \"best\": an algorithm (direct, gemm, "
                    "winograd2, winograd4, winograd6 or depthwise)\n", at, e->string);
            nerr++;
            continue;
        }
        if (conv_algo_from_key(best->valuestring) < 0) {
            fprintf(stderr, "cnnc: error: %s: \"best\" is \"%s\", not an algorithm (direct, gemm, winograd2, "
                    "winograd4, winograd6 or depthwise)\n", at, best->valuestring);
            nerr++;
        }
        cJSON *us = cJSON_GetObjectItemCaseSensitive(e, "us"), *u;
        if (us && !cJSON_IsObject(us)) {
            fprintf(stderr, "cnnc: error: %s: \"us\" must be an object of times in microseconds\n", at);
            nerr++;
            continue;
        }
        cJSON_ArrayForEach(u, us) {
            if (conv_algo_from_key(u->string) < 0 || !cJSON_IsNumber(u) || !(u->valuedouble >= 0)) {
                fprintf(stderr, "cnnc: error: %s: \"us\" holds \"%s\"; expected an algorithm's time in "
                        "microseconds (a number from 0)\n", at, u->string);
                nerr++;
            }
        }
    }
    return nerr;
}

/* Read the tune file when there is one (missing: empty, when measuring). */
static int tune_read(Tune *t, bool measure) {
    FILE *f = fopen(t->path, "rb");
    if (!f) {
        if (errno == ENOENT && measure) {
            t->root = cJSON_CreateObject();
            t->convs = cJSON_AddObjectToObject(t->root, "convs");
            return 0;
        }
        fprintf(stderr, "cnnc: error: cannot read the tune file '%s': %s%s\n", t->path, strerror(errno),
                errno == ENOENT ? " (cnnc --tune writes it)" : "");
        return 1;
    }
    size_t len = 0;
    int why;
    t->text = read_stream(f, (size_t)1 << 30, &len, &why);
    fclose(f);
    if (!t->text) {
        fprintf(stderr, "cnnc: error: cannot read the tune file '%s'\n", t->path);
        return 1;
    }
    t->root = cJSON_ParseWithLength(t->text, len);
    if (!t->root) {
        const char *e = cJSON_GetErrorPtr();
        int line = 1;
        const char *start = t->text;      /* the line it stopped in */
        for (const char *p = t->text; e && p < e && *p; p++)
            if (*p == '\n') { line++; start = p + 1; }
        start += strspn(start, " \t");
        int len = (int)strcspn(start, "\n");
        fprintf(stderr, "cnnc: error: %s:%d: the tune file is not JSON: %.*s%s\n", t->path, line,
                len > 60 ? 60 : len, start, len > 60 ? "..." : "");
        return 1;
    }
    cJSON *v = cJSON_GetObjectItemCaseSensitive(t->root, "cnnc_tune");
    t->convs = cJSON_GetObjectItemCaseSensitive(t->root, "convs");
    if (!cJSON_IsObject(t->root) || !cJSON_IsNumber(v) || v->valueint != TUNE_VERSION || !cJSON_IsObject(t->convs)) {
        fprintf(stderr, "cnnc: error: %s: not a cnnc tune file: expected an object with \"cnnc_tune\": %d and "
                "\"convs\" (cnnc --tune writes it)\n", t->path, TUNE_VERSION);
        return 1;
    }
    return check_entries(t) ? 1 : 0;
}

static const char *str_of(const cJSON *o, const char *name) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Each conv with the file's entry takes its best algorithm; the report
 * says it was measured, and the times. */
static int tune_apply(Graph *g, Tune *t, bool standalone) {
    int nerr = 0;
    const char *machine = str_of(t->root, "machine");
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->tuned = false;
        if (n->removed || n->kind->id != K_CONV) continue;
        const char *key = tune_conv_key(n, standalone);
        cJSON *e = cJSON_GetObjectItemCaseSensitive(t->convs, key);
        if (!e) continue;
        int a = conv_algo_from_key(str_of(e, "best"));
        if (!conv_algo_ok(n, (ConvAlgo)a)) {
            fprintf(stderr, "cnnc: error: %s: \"best\" is \"%s\", which cannot compute conv '%s' (line %d); "
                    "it can take %s\n", where(t, key), conv_algo_key((ConvAlgo)a), n->name, n->loc.line,
                    algo_list(n));
            nerr++;
            continue;
        }
        const char *times = "";
        cJSON *us = cJSON_GetObjectItemCaseSensitive(e, "us"), *u;
        cJSON_ArrayForEach(u, us) {
            if (conv_algo_from_key(u->string) == a) continue;
            times = arena_printf("%s%s%s %.1f", times, *times ? ", " : "; ", u->string, u->valuedouble);
        }
        cJSON *mine = cJSON_GetObjectItemCaseSensitive(us, conv_algo_key((ConvAlgo)a));
        n->tuned = true;
        n->tuned_algo = a;
        n->tuned_why = mine ? arena_printf("measured%s (%s): %.1f us%s", machine ? arena_printf(" on %s", machine) : "",
                                           t->path, mine->valuedouble, times)
                            : arena_printf("chosen in %s", t->path);
    }
    return nerr;
}

/* ---- measuring ----------------------------------------------------------- */

static const char *driver_text(const Graph *g, const char *hfile) {
    const char *N = g->name;
    char *U = arena_strdup(N);
    for (char *p = U; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return arena_printf(
        "/* cnnc --tune's driver: each layer's median time over the runs */\n"
        "#define _POSIX_C_SOURCE 199309L\n"
        "#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>\n#include \"%s\"\n"
        "#define NODES %d\n"
        "static double last, acc[NODES];\n"
        "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); "
        "return t.tv_sec * 1e6 + t.tv_nsec * 1e-3; }\n"
        "void cnnc_tune_mark(int node) { double t = now(); acc[node] += t - last; last = t; }\n"
        "static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; "
        "return (x > y) - (x < y); }\n"
        "int main(int argc, char **argv) {\n"
        "    static float in[%s_IN_SIZE], out[%s_OUT_SIZE];\n"
        "    unsigned s = 2463534242u;\n"
        "    for (int i = 0; i < %s_IN_SIZE; i++) { s ^= s << 13; s ^= s >> 17; s ^= s << 5; "
        "in[i] = (float)((s >> 8) / 8388608.0 - 1.0); }\n"
        "#ifdef %s_ERR_WEIGHTS\n"
        "    if (argc < 2 || %s_load_weights(argv[1]) != 0) { fputs(\"weights\\n\", stderr); return 3; }\n"
        "#else\n    (void)argc; (void)argv;\n#endif\n"
        "    %s_set_threads(1);\n"
        "    double t0 = now();\n"
        "    for (int i = 0; i < 2; i++) if (%s_forward(in, out) != 0) return 4;\n"
        "    double one = (now() - t0) / 2;\n"
        "    int runs = one > 0 ? (int)(500000 / one) : 101;\n"
        "    if (runs < 5) runs = 5;\n    if (runs > 101) runs = 101;\n"
        "    double *t = malloc(sizeof(double) * NODES * (size_t)runs), *col = malloc(sizeof(double) * (size_t)runs);\n"
        "    if (!t || !col) return 5;\n"
        "    for (int r = 0; r < runs; r++) {\n"
        "        for (int j = 0; j < NODES; j++) acc[j] = 0;\n"
        "        last = now();\n"
        "        %s_forward(in, out);\n"
        "        for (int j = 0; j < NODES; j++) t[j * runs + r] = acc[j];\n"
        "    }\n"
        "    for (int j = 0; j < NODES; j++) {\n"
        "        for (int r = 0; r < runs; r++) col[r] = t[j * runs + r];\n"
        "        qsort(col, (size_t)runs, sizeof *col, cmp);\n"
        "        if (col[runs - 1] > 0) printf(\"%%d %%.3f\\n\", j, col[runs / 2]);\n"
        "    }\n"
        "    return 0;\n}\n",
        hfile, g->nnodes, U, U, U, U, N, N, N, N);
}

/* remove the files of the measuring folder, then the folder */
static void remove_dir(const char *dir, const char *name) {
    const char *files[] = { "%s/%s.c", "%s/%s.h", "%s/%s.weights", "%s/tune_main.c", "%s/run", "%s/cc.log",
                            "%s/times.txt", "%s/run.log" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(arena_printf(files[i], dir, name));
    rmdir(dir);
}

/* Build and run the network with every conv of todo[] that can take
 * algorithm a on it: their times in us[node][a].  0, or 2 (said why). */
static int measure_algo(Graph *g, const EmitOptions *eo0, const char *cc, const char *dir, Node **todo,
                        int ntodo, ConvAlgo a, double (*us)[CONV_NALGO]) {
    for (int i = 0; i < ntodo; i++) {
        todo[i]->tuned = conv_algo_ok(todo[i], a);
        todo[i]->tuned_algo = a;
        todo[i]->tuned_why = "being measured";
    }
    Plan plan;
    if (plan_arena(g, &plan)) return 2;
    EmitOptions eo = *eo0;
    eo.out_c = arena_printf("%s/%s.c", dir, g->name);
    eo.profile = true;
    if (!eo.weights_origin) eo.weights_origin = "--tune";     /* --report --tune: seeded weights */
    if (!eo.source_name) eo.source_name = g->name;
    eo.max_baked_bytes = 0;              /* the weights in a sidecar: a quick build */
    if (emit_c(g, &plan, &eo) != 0) {
        fprintf(stderr, "cnnc: error: --tune: writing the %s build failed\n", conv_algo_key(a));
        return 2;
    }
    const char *driver = driver_text(g, arena_printf("%s.h", g->name));
    if (cnnrt_write_file(arena_printf("%s/tune_main.c", dir), driver, strlen(driver)) != 0) {
        fprintf(stderr, "cnnc: error: --tune: cannot write in '%s': %s\n", dir, strerror(errno));
        return 2;
    }
    bool blas = !eo.standalone && strcmp(target->simd, "NONE") == 0;
    const char *cmd = arena_printf("%s -I%s %s/tune_main.c %s/%s.c -o %s/run %s-lm >%s/cc.log 2>&1", cc, dir, dir,
                                   dir, g->name, dir, blas ? "$(pkg-config --cflags --libs openblas) " : "", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cnnc: error: --tune: building the %s measurement failed:\n  %s\n", conv_algo_key(a), cmd);
        FILE *log = fopen(arena_printf("%s/cc.log", dir), "r");
        char line[512];
        for (int k = 0; log && k < 10 && fgets(line, sizeof line, log); k++) fprintf(stderr, "  | %s", line);
        if (log) fclose(log);
        fputs("  (--tune-cc sets the compiler command)\n", stderr);
        return 2;
    }
    cmd = arena_printf("%s/run %s/%s.weights >%s/times.txt 2>%s/run.log", dir, dir, g->name, dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cnnc: error: --tune: the %s measurement did not run: %s\n", conv_algo_key(a), cmd);
        return 2;
    }
    FILE *f = fopen(arena_printf("%s/times.txt", dir), "r");
    int node;
    double v;
    while (f && fscanf(f, "%d %lf", &node, &v) == 2)
        if (node >= 0 && node < g->nnodes) us[node][a] = v;
    if (f) fclose(f);
    return 0;
}

/* Measure the convs the file lacks; their entries go into it. */
static int tune_measure(Graph *g, Tune *t, const EmitOptions *eo, const char *cc) {
    Node **todo = arena_alloc(sizeof(Node *) * (size_t)g->nnodes);
    const char **keys = arena_alloc(sizeof(char *) * (size_t)g->nnodes);
    int ntodo = 0;
    bool want[CONV_NALGO] = { false };
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed || n->kind->id != K_CONV || n->tuned) continue;
        int k = 0;
        for (int a = 0; a < CONV_NALGO; a++) k += conv_algo_ok(n, (ConvAlgo)a);
        if (k < 2) continue;                            /* nothing to choose */
        const char *key = tune_conv_key(n, eo->standalone);
        bool dup = false;                               /* a shape measured once */
        for (int j = 0; j < ntodo && !dup; j++) dup = strcmp(keys[j], key) == 0;
        if (dup) continue;
        keys[ntodo] = key;
        todo[ntodo++] = n;
        for (int a = 0; a < CONV_NALGO; a++) want[a] |= conv_algo_ok(n, (ConvAlgo)a);
    }
    if (!ntodo) return 0;
    char tmpl[] = "/tmp/cnnc-tune.XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "cnnc: error: --tune: cannot make a temporary folder: %s\n", strerror(errno));
        return 2;
    }
    const char *dir = arena_strdup(tmpl);
    double (*us)[CONV_NALGO] = arena_alloc(sizeof *us * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++)
        for (int a = 0; a < CONV_NALGO; a++) us[i][a] = -1;
    int rc = 0;
    for (int a = 0; a < CONV_NALGO && !rc; a++) {
        if (!want[a]) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = measure_algo(g, eo, cc, dir, todo, ntodo, (ConvAlgo)a, us);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!rc)
            fprintf(stderr, "cnnc: --tune: %s: built and measured in %.1f s\n", conv_algo_key((ConvAlgo)a),
                    (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    remove_dir(dir, g->name);
    for (int i = 0; i < ntodo; i++) todo[i]->tuned = false;
    if (rc) return rc;
    for (int i = 0; i < ntodo; i++) {
        Node *n = todo[i];
        int best = -1;
        cJSON *e = cJSON_CreateObject(), *times = cJSON_CreateObject();
        for (int a = 0; a < CONV_NALGO; a++) {
            if (!conv_algo_ok(n, (ConvAlgo)a)) continue;
            if (us[n->id][a] < 0) {
                fprintf(stderr, "cnnc: error: --tune: conv '%s' (line %d) got no time with %s\n", n->name,
                        n->loc.line, conv_algo_key((ConvAlgo)a));
                cJSON_Delete(e);
                cJSON_Delete(times);
                return 2;
            }
            /* the best of the times as written (to 0.1 us), the first of equal ones, so that the
             * file agrees with itself */
            us[n->id][a] = (double)(long long)(us[n->id][a] * 10 + 0.5) / 10;
            cJSON_AddNumberToObject(times, conv_algo_key((ConvAlgo)a), us[n->id][a]);
            if (best < 0 || us[n->id][a] < us[n->id][best]) best = a;
        }
        cJSON_AddStringToObject(e, "best", conv_algo_key((ConvAlgo)best));
        cJSON_AddItemToObject(e, "us", times);
        cJSON_AddItemToObject(t->convs, keys[i], e);
    }
    return 0;
}

static int cmp_item(const void *a, const void *b) {
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* the file, entries sorted by key (a checked-in file diffs cleanly) */
static int tune_write(Tune *t) {
    int n = cJSON_GetArraySize(t->convs);
    cJSON **items = arena_alloc(sizeof(cJSON *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) items[i] = cJSON_DetachItemFromArray(t->convs, 0);
    qsort(items, (size_t)n, sizeof *items, cmp_item);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(t->convs, items[i]);
    char *text = cJSON_Print(t->root);
    if (!text) return 2;
    const char *all = arena_printf("%s\n", text);
    cJSON_free(text);
    if (cnnrt_write_file(t->path, all, strlen(all)) != 0) {
        fprintf(stderr, "cnnc: error: cannot write the tune file '%s': %s\n", t->path, strerror(errno));
        return 2;
    }
    return 0;
}

int tune_network(Graph *g, const TuneOptions *o, const EmitOptions *eo) {
    Tune t = { .path = o->path };
    int rc = tune_read(&t, o->measure);
    if (!rc && o->measure) {
        const char *machine = machine_name(), *was = str_of(t.root, "machine"), *wascc = str_of(t.root, "cc");
        if (cJSON_GetArraySize(t.convs) > 0 && ((was && strcmp(was, machine) != 0) || (wascc && strcmp(wascc, o->cc) != 0))) {
            fprintf(stderr, "cnnc: note: %s was measured %s; measuring again here\n", t.path,
                    was && strcmp(was, machine) != 0 ? arena_printf("on %s", was) : arena_printf("with '%s'", wascc));
            cJSON_Delete(cJSON_DetachItemViaPointer(t.root, t.convs));
            t.convs = cJSON_CreateObject();
        } else {
            cJSON_DetachItemViaPointer(t.root, t.convs);
        }
        /* the fields in a fixed order: version, machine, compiler, threads, convs */
        cJSON *root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "cnnc_tune", TUNE_VERSION);
        cJSON_AddStringToObject(root, "machine", machine);
        cJSON_AddStringToObject(root, "cc", o->cc);
        cJSON_AddNumberToObject(root, "threads", 1);
        cJSON_AddItemToObject(root, "convs", t.convs);
        cJSON_Delete(t.root);
        t.root = root;
        if (!(rc = tune_apply(g, &t, eo->standalone)) && !(rc = tune_measure(g, &t, eo, o->cc)))
            rc = tune_write(&t);
    }
    if (!rc) rc = tune_apply(g, &t, eo->standalone) ? 1 : 0;
    cJSON_Delete(t.root);
    free(t.text);
    return rc;
}
