/*
 * arena.c — one arena per compilation, freed once at exit.
 *
 * Every AST node, IR node and string of a compilation comes from here, so no
 * phase frees anything and sanitizers stay quiet.  Allocation failure is the
 * only place cnnc gives up without a source location: it prints and exits 2.
 */
#include "cnnc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    max_align_t data[];
} Chunk;

static Chunk *head;

void *arena_alloc(size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!head || head->cap - head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        Chunk *c = malloc(sizeof(Chunk) + cap);
        if (!c) {
            fputs("cnnc: error: out of memory\n", stderr);
            exit(2);
        }
        c->next = head;
        c->used = 0;
        c->cap = cap;
        head = c;
    }
    void *p = (char *)head->data + head->used;
    head->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(const char *s, size_t n) {
    char *p = arena_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(const char *s) { return arena_strndup(s, strlen(s)); }

char *arena_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_free_all(void) {
    while (head) {
        Chunk *n = head->next;
        free(head);
        head = n;
    }
}
