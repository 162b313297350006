/*
 * source.c — read source files, parse them, splice includes.
 *
 * `include "x.net"` is resolved relative to the including file's folder,
 * then each -I folder.  A file is included once per compilation (a second
 * include of the same file is skipped, like #pragma once); an include that
 * reaches a file still being read is a cycle and an error; nesting is capped.
 * Includes are allowed at the top level of a file only.
 */
#include "cnnc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SOURCE_BYTES (16L << 20)
#define MAX_INCLUDE_DEPTH 32

const char **source_include_dirs;

typedef struct Seen {
    const char *real;
    bool active;                 /* on the include stack now */
    const char *name;
    Loc from;                    /* the include statement that first read it */
    struct Seen *next;
} Seen;
static Seen *seen;
static Seen *stack[MAX_INCLUDE_DEPTH + 2];   /* the files being read, main file first */

const SrcFile *source_from_string(const char *name, const char *text) {
    SrcFile *f = arena_alloc(sizeof *f);
    f->name = arena_strdup(name);
    f->len = strlen(text);
    f->text = arena_strndup(text, f->len);
    return f;
}

/* Read a whole file.  Errors are reported at 'from' (an include statement)
 * or, when from.file is NULL, against the path itself. */
const SrcFile *source_load(const char *path, Loc from, bool quiet_missing) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
    if (!fp) {
        if (quiet_missing && errno == ENOENT)
            return NULL;
        if (from.file)
            diag_error(from, "cannot open '%s': %s", path, strerror(errno));
        else
            diag_file_error(shown, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fp != stdin && fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        if (from.file) diag_error(from, "'%s' is a directory, not a .net file", path);
        else diag_file_error(shown, "is a directory, not a .net file");
        return NULL;
    }
    size_t len = 0;
    int why_not;
    char *buf = read_stream(fp, (size_t)MAX_SOURCE_BYTES, &len, &why_not);
    if (fp != stdin) fclose(fp);
    if (!buf) {
        const char *why = why_not == READ_NOMEM ? "out of memory" : why_not == READ_ERROR ? "read error"
                        : "file is larger than the 16 MiB limit for a .net source";
        if (from.file) diag_error(from, "cannot read '%s': %s", path, why);
        else diag_file_error(shown, "cannot read: %s", why);
        return NULL;
    }
    /* a UTF-8 byte-order mark that starts the file is skipped, as C
     * compilers do (some editors write one); anywhere else it is stray */
    size_t bom = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    SrcFile *f = arena_alloc(sizeof *f);
    f->name = arena_strdup(shown);
    f->text = arena_strndup(buf + bom, len - bom);
    f->len = len - bom;
    free(buf);
    return f;
}

static const char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? arena_strndup(path, (size_t)(slash - path + 1)) : "";
}

static Stmt *parse_and_splice(const SrcFile *f, int depth);

/* Replace each top-level include statement by the included file's statements. */
static Stmt *splice(Stmt *list, const SrcFile *f, int depth) {
    Stmt head = { .next = list };
    for (Stmt *prev = &head, *s = list; s; s = prev->next) {
        if (s->kind != ST_INCLUDE) { prev = s; continue; }
        Stmt *inc = NULL;
        const char *path = s->path;
        const char *found = NULL;
        if (path[0] == '/') {
            found = path;
        } else {
            const char *cand = arena_printf("%s%s", dir_of(f->name), path);
            struct stat st;
            if (stat(cand, &st) == 0) found = cand;
            for (const char **d = source_include_dirs; !found && d && *d; d++) {
                cand = arena_printf("%s/%s", *d, path);
                if (stat(cand, &st) == 0) found = cand;
            }
        }
        if (!found) {
            diag_error(s->ident_loc, "include file '%s' not found (looked in '%s'%s)", path,
                       *dir_of(f->name) ? dir_of(f->name) : "./",
                       source_include_dirs && *source_include_dirs ? " and the -I folders" : "");
        } else if (depth >= MAX_INCLUDE_DEPTH) {
            diag_error(s->ident_loc, "includes nested more than %d deep", MAX_INCLUDE_DEPTH);
        } else {
            char real[PATH_MAX];
            const char *key = realpath(found, real) ? arena_strdup(real) : found;
            Seen *sn = seen;
            while (sn && strcmp(sn->real, key) != 0) sn = sn->next;
            if (sn && sn->active) {
                /* the cycle: from sn down the include stack to this file, then sn again */
                const char *chain = NULL;
                for (int i = 0; i <= depth; i++)
                    if (chain || stack[i] == sn)
                        chain = chain ? arena_printf("%s -> %s", chain, stack[i]->name) : stack[i]->name;
                diag_error(s->ident_loc, "include cycle: %s -> %s", chain ? chain : f->name, sn->name);
                if (sn->from.file)
                    diag_note(sn->from, "'%s' is first included here", sn->name);
            } else if (!sn) {
                sn = arena_alloc(sizeof *sn);
                sn->real = key;
                sn->name = found;
                sn->from = s->ident_loc;
                sn->next = seen;
                seen = sn;
                const SrcFile *inf = source_load(found, s->ident_loc, false);
                if (inf) {
                    sn->active = true;
                    stack[depth + 1] = sn;
                    inc = parse_and_splice(inf, depth + 1);
                    sn->active = false;
                }
            }
        }
        /* link inc in place of s */
        if (inc) {
            prev->next = inc;
            Stmt *t = inc;
            while (t->next) t = t->next;
            t->next = s->next;
            prev = t;
        } else {
            prev->next = s->next;
        }
    }
    return head.next;
}

static Stmt *parse_and_splice(const SrcFile *f, int depth) {
    Stmt *list = parse_text(f);
    return splice(list, f, depth);
}

Stmt *source_parse_file(const char *path) {
    seen = NULL;
    const SrcFile *f = source_load(path, (Loc){ 0 }, false);
    if (!f) return NULL;
    char real[PATH_MAX];
    Seen *sn = arena_alloc(sizeof *sn);
    sn->real = realpath(path, real) ? arena_strdup(real) : path;
    sn->name = f->name;
    sn->active = true;
    seen = sn;
    stack[0] = sn;
    Stmt *s = parse_and_splice(f, 0);
    if (!s && diag_error_count() == 0)
        diag_error(loc_none(f), "empty network: expected 'network NAME input CxHxW'");
    return s;
}

Stmt *source_parse_string(const char *name, const char *text) {
    seen = NULL;
    const SrcFile *f = source_from_string(name, text);
    Seen *sn = arena_alloc(sizeof *sn);
    sn->real = sn->name = f->name;
    sn->active = true;
    seen = stack[0] = sn;
    Stmt *s = parse_and_splice(f, 0);
    if (!s && diag_error_count() == 0)
        diag_error(loc_none(f), "empty network: expected 'network NAME input CxHxW'");
    return s;
}
