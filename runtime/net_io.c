/*
 * net_io.c — a training net's checkpoints: the tensors of a checkpoint
 * (parameters, running statistics, optimizer moments) and their names, and
 * saving and loading them through checkpoint.c.
 */
#include "cnnrt_net.h"
#include "cnnrt_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checkpoints ------------------------------------------------------------
 * The names, slots and metadata of docs/checkpoint.md; slots in the order
 * of cnnrt_optim_step's state blocks.  This is file IO: it allocates
 * (temporarily), never prints. */

static int slot_names(const cnnrt_optim *o, const char *names[3]) {
    int k = 0;
    switch (o->kind) {
    case CNNRT_SGD: if (o->momentum != 0) names[k++] = "momentum_buffer"; break;
    case CNNRT_ADAGRAD: names[k++] = "sum"; break;
    case CNNRT_RMSPROP:
        names[k++] = "square_avg";
        if (o->momentum > 0) names[k++] = "momentum_buffer";
        if (o->centered) names[k++] = "grad_avg";
        break;
    case CNNRT_ADAM: case CNNRT_ADAMW: names[k++] = "exp_avg"; names[k++] = "exp_avg_sq"; break;
    }
    return k;
}

static const char *optim_name(cnnrt_optim_kind k) {
    switch (k) {
    case CNNRT_SGD: return "sgd";
    case CNNRT_ADAGRAD: return "adagrad";
    case CNNRT_RMSPROP: return "rmsprop";
    case CNNRT_ADAM: return "adam";
    case CNNRT_ADAMW: return "adamw";
    }
    return "?";
}

/* The tensors of a checkpoint: parameters and buffers, then each moment slot. */
typedef struct CkList {
    cnnrt_ckpt_tensor *t;
    float **dst;
    char *names;             /* one buffer for all slot names */
    int n;
} CkList;

static int cklist(cnnrt_net *net, int with_optim, CkList *l) {
    const cnnrt_net_desc *d = net->d;
    const char *slots[3];
    int ns = with_optim ? slot_names(&net->o.optim, slots) : 0;
    size_t nt = (size_t)d->ntensors * (size_t)(1 + ns);
    size_t namebytes = 0;
    for (int i = 0; i < d->ntensors; i++)
        if (!d->tensors[i].buffer) namebytes += (size_t)ns * (strlen(d->tensors[i].name) + 40);
    memset(l, 0, sizeof *l);
    l->t = calloc(nt + 1, sizeof *l->t);
    l->dst = calloc(nt + 1, sizeof *l->dst);
    l->names = malloc(namebytes + 1);
    if (!l->t || !l->dst || !l->names) return CNNRT_ENOMEM;
    char *np = l->names;
    for (int s = -1; s < ns; s++)
        for (int i = 0; i < d->ntensors; i++) {
            const cnnrt_tensor *ts = &d->tensors[i];
            if (s >= 0 && ts->buffer) continue;
            cnnrt_ckpt_tensor *c = &l->t[l->n];
            c->ndim = ts->ndim;
            for (int k = 0; k < ts->ndim; k++) c->shape[k] = ts->dims[k];
            if (s < 0) {
                c->name = ts->name;
                l->dst[l->n] = (ts->buffer ? net->buffers : net->block) + ts->off;
            } else {
                int w = sprintf(np, "%s%s.%s", CNNRT_OPTIM_PREFIX, slots[s], ts->name);
                c->name = np;
                np += w + 1;
                l->dst[l->n] = net->block + (size_t)d->nparams * (size_t)(2 + s) + ts->off;
            }
            c->data = l->dst[l->n];
            l->n++;
        }
    return CNNRT_OK;
}

static void cklist_free(CkList *l) {
    free(l->t);
    free(l->dst);
    free(l->names);
}

int cnnrt_net_save(cnnrt_net *net, const char *path, const cnnrt_ckpt_meta *extra, int nextra,
                   char *err, size_t errlen) {
    CkList l;
    int rc = cklist(net, 1, &l);
    if (rc != CNNRT_OK) {
        cklist_free(&l);
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
        return rc;
    }
    char step[32], seed[32], rng[48], arch[24];
    snprintf(step, sizeof step, "%ld", net->step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)net->o.seed);
    snprintf(rng, sizeof rng, "%016llx,%016llx", (unsigned long long)net->rng.state,
             (unsigned long long)net->rng.inc);
    snprintf(arch, sizeof arch, "%016llx", (unsigned long long)net->d->hash);
    cnnrt_ckpt_meta meta[32];
    int nm = 0;
    meta[nm++] = (cnnrt_ckpt_meta){ "format", "cnnc-checkpoint-1" };
    meta[nm++] = (cnnrt_ckpt_meta){ "network", net->d->name };
    meta[nm++] = (cnnrt_ckpt_meta){ "arch", arch };
    meta[nm++] = (cnnrt_ckpt_meta){ "step", step };
    meta[nm++] = (cnnrt_ckpt_meta){ "seed", seed };
    meta[nm++] = (cnnrt_ckpt_meta){ "rng", rng };
    meta[nm++] = (cnnrt_ckpt_meta){ "optimizer", optim_name(net->o.optim.kind) };
    for (int i = 0; i < nextra && nm < 32; i++) meta[nm++] = extra[i];
    rc = cnnrt_ckpt_save(path, l.t, l.n, meta, nm, err, errlen);
    cklist_free(&l);
    return rc;
}

int cnnrt_net_load(cnnrt_net *net, const char *path, int with_state, char *err, size_t errlen) {
    cnnrt_ckpt *ck = NULL;
    int rc = cnnrt_ckpt_open(path, &ck, err, errlen);
    if (rc != CNNRT_OK) return rc;
    /* resume: only into the structure the checkpoint was trained on */
    const char *arch = cnnrt_ckpt_meta_get(ck, "arch"), *name = cnnrt_ckpt_meta_get(ck, "network");
    char mine[24];
    snprintf(mine, sizeof mine, "%016llx", (unsigned long long)net->d->hash);
    if (with_state && (!arch || strcmp(arch, mine) != 0)) {
        if (err && errlen && !arch)
            snprintf(err, errlen, "%s: the checkpoint has no 'arch' metadata (the structure of the network it "
                     "was trained on): not a cnnc training checkpoint, cannot resume", path);
        else if (err && errlen)
            snprintf(err, errlen, "%s: cannot resume: the checkpoint's network '%s' and the network '%s' "
                     "differ in structure (layers, attributes, shapes or wiring: arch %.16s, not %s)",
                     path, name ? name : "?", net->d->name, arch, mine);
        cnnrt_ckpt_close(ck);
        return CNNRT_EFORMAT;
    }
    const char *opt = cnnrt_ckpt_meta_get(ck, "optimizer");
    if (with_state && opt && strcmp(opt, optim_name(net->o.optim.kind)) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: the checkpoint was trained with %s, not %s: its optimizer state "
                     "cannot be resumed", path, opt, optim_name(net->o.optim.kind));
        cnnrt_ckpt_close(ck);
        return CNNRT_EFORMAT;
    }
    CkList l;
    rc = cklist(net, with_state, &l);
    if (rc == CNNRT_OK) rc = cnnrt_ckpt_check(ck, l.t, l.n, 1, err, errlen);
    /* read everything into a copy first: a bad file changes nothing */
    size_t total = 0;
    for (int i = 0; rc == CNNRT_OK && i < l.n; i++) {
        size_t e = 1;
        for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
        total += e;
    }
    float *tmp = rc == CNNRT_OK ? malloc((total + 1) * sizeof(float)) : NULL;
    if (rc == CNNRT_OK && !tmp) rc = CNNRT_ENOMEM;
    size_t off = 0;
    for (int i = 0; rc == CNNRT_OK && i < l.n; i++) {
        size_t e = 1;
        for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
        rc = cnnrt_ckpt_read(ck, l.t[i].name, l.t[i].ndim, l.t[i].shape, tmp + off, err, errlen);
        off += e;
    }
    long step = net->step;
    cnnrt_rng rng = net->rng;
    if (rc == CNNRT_OK && with_state) {
        const char *s = cnnrt_ckpt_meta_get(ck, "step"), *r = cnnrt_ckpt_meta_get(ck, "rng");
        unsigned long long a, b;
        char *end;
        if (!s || !r || (step = strtol(s, &end, 10)) < 0 || *end ||
            sscanf(r, "%16llx,%16llx", &a, &b) != 2) {
            if (err && errlen)
                snprintf(err, errlen, "%s: metadata 'step' and 'rng' are missing or malformed: "
                         "not a cnnc training checkpoint, cannot resume", path);
            rc = CNNRT_EFORMAT;
        } else {
            rng.state = a;
            rng.inc = b;
        }
    }
    if (rc == CNNRT_OK) {
        off = 0;
        for (int i = 0; i < l.n; i++) {
            size_t e = 1;
            for (int k = 0; k < l.t[i].ndim; k++) e *= (size_t)l.t[i].shape[k];
            memcpy(l.dst[i], tmp + off, e * sizeof(float));
            off += e;
        }
        if (with_state) {
            net->step = step;
            net->rng = rng;
        }
    }
    free(tmp);
    cklist_free(&l);
    cnnrt_ckpt_close(ck);
    return rc;
}
