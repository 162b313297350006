/*
 * plan.c — one static arena for all activations, planned by lifetimes.
 *
 * Every emitted layer's output is a buffer; an alias (flatten, dropout,
 * identity) shares its input's buffer.  A buffer lives from the step that
 * writes it to the last step that reads it (through any alias).  The
 * network's output is written straight into the caller's `out`; the input is
 * read from the caller's `in`.  Per-layer scratch (see scratch_bytes) lives
 * for its own step only.
 *
 * Placement is greedy by size, largest first: each buffer goes at the lowest
 * 64-byte-aligned offset that no placed buffer with an overlapping lifetime
 * occupies.  arena_bytes is what one image needs; tensors_bytes is the same
 * buffers without sharing, for comparison in the report.
 */
#include "cnnc.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

typedef struct Buf {
    long long bytes, off;
    int start, end;           /* inclusive steps */
    long long *dst;           /* where the offset goes */
} Buf;

static Node *root(Node *n) {
    while (n->alias) n = n->alias;
    return n;
}

static int by_size(const void *a, const void *b) {
    const Buf *x = *(Buf *const *)a, *y = *(Buf *const *)b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->start - y->start;   /* deterministic */
}

/* Per-layer scratch of a conv, by the algorithm its code uses (emit.c):
 * the zero-padded input (direct), the im2col patch matrix (GEMM), or the
 * padded input with the transformed tiles and products (Winograd). */
static long long scratch_bytes(const Node *n) {
    if (n->kind->id != K_CONV) return 0;
    return 4 * emit_conv_scratch(n);
}

int plan_arena(Graph *g, Plan *p) {
    memset(p, 0, sizeof *p);
    int *last = arena_alloc(sizeof(int) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) last[i] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed) continue;
        for (int j = 0; j < n->nin; j++) {
            Node *r = root(n->in[j]);
            if (last[r->id] < i) last[r->id] = i;
        }
    }
    Node *out = root(g->output);
    Buf *bufs = arena_alloc(sizeof(Buf) * (size_t)g->nnodes * 2);
    Buf **order = arena_alloc(sizeof(Buf *) * (size_t)g->nnodes * 2);
    int nb = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->buf_off = n->scratch_off = -1;
        n->scratch_bytes = 0;
        if (n->removed || n->kind->id == K_INPUT) continue;
        if (n != out) {
            Buf *b = &bufs[nb];
            *b = (Buf){ n->act_bytes, 0, i, last[i] < i ? i : last[i], &n->buf_off };
            order[nb] = b;
            nb++;
            p->tensors_bytes += n->act_bytes;
        }
        long long s = scratch_bytes(n);
        if (s) {
            n->scratch_bytes = s;
            Buf *b = &bufs[nb];
            *b = (Buf){ s, 0, i, i, &n->scratch_off };
            order[nb] = b;
            nb++;
            p->tensors_bytes += s;
        }
    }
    qsort(order, (size_t)nb, sizeof *order, by_size);
    Buf **placed = arena_alloc(sizeof(Buf *) * (size_t)(nb + 1));
    int np = 0;
    for (int i = 0; i < nb; i++) {
        Buf *b = order[i];
        long long off = 0;
        /* placed buffers are kept sorted by offset; first fit in time */
        for (int j = 0; j < np; j++) {
            Buf *q = placed[j];
            if (q->end < b->start || q->start > b->end) continue;
            if (off + b->bytes <= q->off) break;
            long long e = (q->off + q->bytes + ALIGN - 1) / ALIGN * ALIGN;
            if (e > off) off = e;
        }
        b->off = off;
        int k = np++;
        while (k > 0 && placed[k - 1]->off > off) { placed[k] = placed[k - 1]; k--; }
        placed[k] = b;
        *b->dst = off;
        if (off + b->bytes > p->arena_bytes) p->arena_bytes = off + b->bytes;
    }
    p->arena_bytes = (p->arena_bytes + ALIGN - 1) / ALIGN * ALIGN;
    /* aliases share their root's buffer */
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->alias) n->buf_off = root(n)->buf_off;
    }
    return 0;
}
