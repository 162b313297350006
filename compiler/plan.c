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
 * offset, a multiple of the target's alignment (64 bytes, a cache line; 8 on
 * a Cortex-M), that no placed buffer with an overlapping lifetime occupies.
 * arena_bytes is what one image needs; tensors_bytes is the same buffers
 * without sharing, for comparison in the report; live_bytes the most that is
 * live at one step, which no placement can go below (the report explains
 * the difference).
 */
#include "cnnc.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN (target->align)

typedef struct Buf {
    long long bytes, off;
    int start, end;           /* inclusive steps */
    long long *dst;           /* where the offset goes */
    bool scratch;             /* a conv's scratch, not a layer's output */
    int seq, mark;            /* placement order; last buffer that looked at it */
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

/* by offset, then in the order placed (first fit sees them so) */
static int by_offset(const void *a, const void *b) {
    const Buf *x = *(Buf *const *)a, *y = *(Buf *const *)b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return x->seq - y->seq;
}

/* Per-layer scratch of a conv, by the algorithm its code uses (emit.c):
 * the zero-padded input (direct), the im2col patch matrix (GEMM), or the
 * padded input with the transformed tiles and products (Winograd); none
 * for a depthwise conv (its blocks are on the stack). */
static long long scratch_bytes(const Node *n) {
    if (n->kind->id != K_CONV) return 0;
    if (n->q8 && quant_conv_gemm(n)) {   /* the padded u8 input, channels last */
        QuantPad p = quant_conv_pad(n);
        return p.h * p.w * p.c;
    }
    if (n->q8) return 0;                 /* direct loops: none */
    return 4 * conv_scratch(n);
}

int plan_arena(Graph *g, Plan *p) {
    memset(p, 0, sizeof *p);
    p->live_at = g->nodes[0]->name;
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
    Buf *bufs = arena_alloc(sizeof(Buf) * (size_t)g->nnodes * 3);
    Buf **order = arena_alloc(sizeof(Buf *) * (size_t)g->nnodes * 3);
    int nb = 0;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        n->buf_off = n->scratch_off = n->copy_off = -1;
        n->scratch_bytes = 0;
        if (n->removed || (n->kind->id == K_INPUT && !n->q8)) continue;
        if (n != out || n->q8) {      /* int8: the input and output too, the caller's are float */
            Buf *b = &bufs[nb];
            long long bytes = n->q8 ? shape_numel(n->shape) : n->act_bytes;
            int end = n == out ? g->nnodes - 1 : last[i] < i ? i : last[i];
            *b = (Buf){ .bytes = bytes, .start = i, .end = end, .dst = &n->buf_off };
            order[nb] = b;
            nb++;
            p->tensors_bytes += bytes;
        }
        if (n->q_copy) {             /* int8 build: its output in the other precision too */
            Buf *b = &bufs[nb];
            long long bytes = n->q8 ? 4 * shape_numel(n->shape) : shape_numel(n->shape);
            *b = (Buf){ .bytes = bytes, .start = i, .end = last[i] < i ? i : last[i], .dst = &n->copy_off };
            order[nb] = b;
            nb++;
            p->tensors_bytes += bytes;
        }
        long long s = scratch_bytes(n);
        if (s) {
            n->scratch_bytes = s;
            Buf *b = &bufs[nb];
            *b = (Buf){ .bytes = s, .start = i, .end = i, .dst = &n->scratch_off, .scratch = true };
            order[nb] = b;
            nb++;
            p->tensors_bytes += s;
        }
    }
    qsort(order, (size_t)nb, sizeof *order, by_size);
    /* live[t]: the placed buffers alive at step t, so that each buffer is
     * checked against the ones it overlaps in time only, not all placed so
     * far (quadratic in the layers: minutes for 100,000 of them) */
    Buf ***live = calloc((size_t)g->nnodes, sizeof *live);
    int *nlive = calloc((size_t)g->nnodes, sizeof *nlive), *caplive = calloc((size_t)g->nnodes, sizeof *caplive);
    Buf **near = malloc(sizeof(Buf *) * (size_t)(nb + 1));
    if (!live || !nlive || !caplive || !near) {
        fputs("cnnc: error: out of memory\n", stderr);
        exit(2);
    }
    for (int i = 0; i < nb; i++) {
        Buf *b = order[i];
        b->seq = i;
        int nn = 0;
        for (int t = b->start; t <= b->end; t++)
            for (int j = 0; j < nlive[t]; j++)
                if (live[t][j]->mark != i + 1) { live[t][j]->mark = i + 1; near[nn++] = live[t][j]; }
        qsort(near, (size_t)nn, sizeof *near, by_offset);
        long long off = 0;
        /* first fit among the buffers alive at the same time, by offset */
        for (int j = 0; j < nn; j++) {
            Buf *q = near[j];
            if (off + b->bytes <= q->off) break;
            long long e = (q->off + q->bytes + ALIGN - 1) / ALIGN * ALIGN;
            if (e > off) off = e;
        }
        b->off = off;
        *b->dst = off;
        if (off + b->bytes > p->arena_bytes) p->arena_bytes = off + b->bytes;
        for (int t = b->start; t <= b->end; t++) {
            if (nlive[t] == caplive[t]) {
                caplive[t] = caplive[t] ? 2 * caplive[t] : 4;
                live[t] = realloc(live[t], sizeof(Buf *) * (size_t)caplive[t]);
                if (!live[t]) {
                    fputs("cnnc: error: out of memory\n", stderr);
                    exit(2);
                }
            }
            live[t][nlive[t]++] = b;
        }
    }
    /* the step with the most live: the lower bound of any placement */
    for (int t = 0; t < g->nnodes; t++) {
        long long sum = 0, scratch = 0;
        for (int j = 0; j < nlive[t]; j++) {
            long long b = (live[t][j]->bytes + ALIGN - 1) / ALIGN * ALIGN;
            sum += b;
            if (live[t][j]->scratch) scratch += b;
        }
        if (sum > p->live_bytes) {
            p->live_bytes = sum;
            p->scratch_bytes = scratch;
            p->live_at = g->nodes[t]->name;
        }
    }
    for (int t = 0; t < g->nnodes; t++) free(live[t]);
    free(live);
    free(nlive);
    free(caplive);
    free(near);
    p->arena_bytes = (p->arena_bytes + ALIGN - 1) / ALIGN * ALIGN;
    /* aliases share their root's buffer */
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->alias) n->buf_off = root(n)->buf_off;
    }
    return 0;
}
