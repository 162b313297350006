/*
 * gradcheck — what cnnrt computes when it trains a whole network, written
 * out for tests/ref/train_ref.py to compare against PyTorch autograd and
 * torch.optim.
 *
 *   gradcheck MODEL.net WEIGHTS BATCHES OUT [--steps N] [optimizer options]
 *
 * MODEL.net is compiled as cnnc-train compiles it (front_train_desc).  WEIGHTS is a PyTorch
 * state dict as safetensors (every parameter and running statistic;
 * num_batches_tracked is ignored).  BATCHES is a safetensors file with
 *   x       [S][n][C][H][W] float32   S batches of n images
 *   labels  [S][n]          float32   class indices (exact small integers)
 * OUT is written as safetensors (cnnrt_ckpt_save):
 *   --steps 0 (default): one cnnrt_net_loss_and_grads on batch 0
 *     loss [1], logits [n][K], grad.NAME for every parameter, NAME for
 *     every running statistic (after that one training-mode forward)
 *   --steps N > 0: N cnnrt_net_train_step on batches 0, 1, ... (mod S)
 *     loss [N], lr [N] (the scheduled lr of each step), NAME for every
 *     parameter and running statistic after the N steps
 * and in both modes dropout.OP.T [n][D]: the mask (0 or 1/(1−p)) that
 * dropout layer OP applied at step T.  The masks are predicted, not read
 * out of the net: before each step the net's RNG state is copied and
 * every dropout layer's draw is replayed in forward order with
 * cnnrt_dropout_blocks_forward (one draw per value, per channel or per
 * sample, as the layer drops: its op's G); after the step the copy must
 * have arrived where the net's RNG is, else the prediction (that many
 * draws, layers in order) is wrong and gradcheck fails.  PyTorch then
 * applies the same masks (and a wrong block size shows in its gradients).
 *
 * Optimizer options (torch.optim's names and defaults):
 *   --opt sgd|adagrad|rmsprop|adam|adamw  --lr X  --weight-decay X
 *   --momentum X --dampening X --nesterov   (SGD; --momentum also RMSprop)
 *   --beta1 X --beta2 X --eps X --alpha X --centered --lr-decay X
 *   --schedule constant|step|cosine --warmup N --warmup-start F
 *   --step-size N --gamma X --T N --min-lr X
 *   --label-smoothing X   --seed N (the dropout stream)
 *
 * Resuming one step at a time (train_ref.py's teacher-forced check):
 *   --resume          WEIGHTS is a training checkpoint: also load the
 *                     optimizer moments, the step count and the RNG
 *                     (cnnrt_net_load with_state)
 *   --first-batch K   step t takes batch (K + t) mod S
 *   --save-state F    after the steps, cnnrt_net_save the net to F
 *                     (parameters, running statistics, moments)
 *
 * A step whose loss is not finite is an error (exit 1, naming the first
 * layer with a bad gradient), unless --nonfinite-ok: then it is reported on
 * stderr and the outputs are written all the same (a NaN loss, and the
 * parameters cnnrt_net_train_step left alone: it refuses such a step), for
 * tests/ref/nan_train.py.
 *
 * Exit status 0, or 1 with a message on stderr.
 */
#include "cnnc.h"

#include "cnnrt_net.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *fmt, const char *arg) {
    fprintf(stderr, "gradcheck: error: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static int num(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return !*s || *end || errno || !isfinite(*out) ? -1 : 0;
}

enum { O_STEPS = 256, O_OPT, O_LR, O_WD, O_MOMENTUM, O_DAMPENING, O_NESTEROV, O_BETA1, O_BETA2, O_EPS,
       O_ALPHA, O_CENTERED, O_LR_DECAY, O_SCHEDULE, O_WARMUP, O_WARMUP_START, O_STEP_SIZE, O_GAMMA, O_T,
       O_MIN_LR, O_SMOOTH, O_SEED, O_RESUME, O_FIRST, O_SAVE_STATE, O_NONFINITE_OK };

typedef struct Args {
    const char *net, *weights, *batches, *out, *save_state;
    long steps, first;
    int resume, nonfinite_ok;
    cnnrt_train_opts to;
} Args;

static int parse_args(int argc, char **argv, Args *a) {
    static const struct option opts[] = {
        { "steps", required_argument, NULL, O_STEPS }, { "opt", required_argument, NULL, O_OPT },
        { "lr", required_argument, NULL, O_LR }, { "weight-decay", required_argument, NULL, O_WD },
        { "momentum", required_argument, NULL, O_MOMENTUM },
        { "dampening", required_argument, NULL, O_DAMPENING },
        { "nesterov", no_argument, NULL, O_NESTEROV }, { "beta1", required_argument, NULL, O_BETA1 },
        { "beta2", required_argument, NULL, O_BETA2 }, { "eps", required_argument, NULL, O_EPS },
        { "alpha", required_argument, NULL, O_ALPHA }, { "centered", no_argument, NULL, O_CENTERED },
        { "lr-decay", required_argument, NULL, O_LR_DECAY },
        { "schedule", required_argument, NULL, O_SCHEDULE }, { "warmup", required_argument, NULL, O_WARMUP },
        { "warmup-start", required_argument, NULL, O_WARMUP_START },
        { "step-size", required_argument, NULL, O_STEP_SIZE }, { "gamma", required_argument, NULL, O_GAMMA },
        { "T", required_argument, NULL, O_T }, { "min-lr", required_argument, NULL, O_MIN_LR },
        { "label-smoothing", required_argument, NULL, O_SMOOTH }, { "seed", required_argument, NULL, O_SEED },
        { "resume", no_argument, NULL, O_RESUME }, { "first-batch", required_argument, NULL, O_FIRST },
        { "save-state", required_argument, NULL, O_SAVE_STATE },
        { "nonfinite-ok", no_argument, NULL, O_NONFINITE_OK },
        { NULL, 0, NULL, 0 },
    };
    /* first pass: the optimizer kind, whose defaults the others override */
    cnnrt_optim_kind kind = CNNRT_SGD;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--opt") != 0) continue;
        const char *k = argv[i + 1];
        if (!strcmp(k, "sgd")) kind = CNNRT_SGD;
        else if (!strcmp(k, "adagrad")) kind = CNNRT_ADAGRAD;
        else if (!strcmp(k, "rmsprop")) kind = CNNRT_RMSPROP;
        else if (!strcmp(k, "adam")) kind = CNNRT_ADAM;
        else if (!strcmp(k, "adamw")) kind = CNNRT_ADAMW;
        else return fail("--opt takes sgd, adagrad, rmsprop, adam or adamw, not '%s'", k);
    }
    memset(a, 0, sizeof *a);
    a->to.optim = cnnrt_optim_defaults(kind);
    a->to.loss = CNNRT_LOSS_XENT;
    a->to.seed = 1;
    a->to.lr = (cnnrt_lr_schedule){ .kind = CNNRT_LR_CONSTANT, .base_lr = 0.01, .warmup_start_factor = 0.1,
                                    .step_size = 1, .gamma = 0.1, .T = 1 };
    cnnrt_optim *o = &a->to.optim;
    cnnrt_lr_schedule *s = &a->to.lr;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        double x = 0;
        if (c != O_OPT && c != O_SCHEDULE && c != O_NESTEROV && c != O_CENTERED && c != O_RESUME &&
            c != O_SAVE_STATE && c != O_NONFINITE_OK && c != '?' && num(optarg, &x))
            return fail("expected a number, not '%s'", optarg);
        switch (c) {
        case O_STEPS: a->steps = (long)x; break;
        case O_OPT: break;
        case O_LR: s->base_lr = x; break;
        case O_WD: o->weight_decay = x; break;
        case O_MOMENTUM: o->momentum = x; break;
        case O_DAMPENING: o->dampening = x; break;
        case O_NESTEROV: o->nesterov = 1; break;
        case O_BETA1: o->beta1 = x; break;
        case O_BETA2: o->beta2 = x; break;
        case O_EPS: o->eps = x; break;
        case O_ALPHA: o->alpha = x; break;
        case O_CENTERED: o->centered = 1; break;
        case O_LR_DECAY: o->lr_decay = x; break;
        case O_SCHEDULE:
            if (!strcmp(optarg, "constant")) s->kind = CNNRT_LR_CONSTANT;
            else if (!strcmp(optarg, "step")) s->kind = CNNRT_LR_STEP;
            else if (!strcmp(optarg, "cosine")) s->kind = CNNRT_LR_COSINE;
            else return fail("--schedule takes constant, step or cosine, not '%s'", optarg);
            break;
        case O_WARMUP: s->warmup_steps = (long)x; break;
        case O_WARMUP_START: s->warmup_start_factor = x; break;
        case O_STEP_SIZE: s->step_size = (long)x; break;
        case O_GAMMA: s->gamma = x; break;
        case O_T: s->T = (long)x; break;
        case O_MIN_LR: s->min_lr = x; break;
        case O_SMOOTH: a->to.label_smoothing = (float)x; break;
        case O_SEED: a->to.seed = (uint64_t)x; break;
        case O_RESUME: a->resume = 1; break;
        case O_FIRST: a->first = (long)x; break;
        case O_SAVE_STATE: a->save_state = optarg; break;
        case O_NONFINITE_OK: a->nonfinite_ok = 1; break;
        default: return fail("%s", "usage: gradcheck MODEL.net WEIGHTS BATCHES OUT [--steps N] [options]");
        }
    }
    if (argc - optind != 4)
        return fail("%s", "usage: gradcheck MODEL.net WEIGHTS BATCHES OUT [--steps N] [options]");
    a->net = argv[optind];
    a->weights = argv[optind + 1];
    a->batches = argv[optind + 2];
    a->out = argv[optind + 3];
    if (a->steps < 0 || a->steps > 100000) return fail("%s", "--steps must be between 0 and 100000");
    if (a->first < 0) return fail("%s", "--first-batch must not be negative");
    return 0;
}

/* ---- the batches file ------------------------------------------------------ */

typedef struct Batches {
    int S, n;
    float *x;         /* [S][n][C][H][W] */
    int32_t *labels;  /* [S][n] */
} Batches;

static int load_batches(const char *path, const cnnrt_net_desc *d, Batches *b) {
    char err[1024];
    cnnrt_ckpt *ck;
    memset(b, 0, sizeof *b);
    if (cnnrt_ckpt_open(path, &ck, err, sizeof err) != CNNRT_OK) return fail("%s", err);
    int64_t sx[CNNRT_CKPT_MAX_DIMS], sl[CNNRT_CKPT_MAX_DIMS];
    int ix = cnnrt_ckpt_find(ck, "x"), il = cnnrt_ckpt_find(ck, "labels");
    if (ix < 0 || il < 0 || cnnrt_ckpt_shape(ck, ix, sx) != 5 || cnnrt_ckpt_shape(ck, il, sl) != 2 ||
        sx[0] != sl[0] || sx[1] != sl[1] || sx[0] < 1 || sx[1] < 1 || sx[2] != d->in_c ||
        sx[3] != d->in_h || sx[4] != d->in_w) {
        cnnrt_ckpt_close(ck);
        return fail("%s: expected x [S][n][C][H][W] matching the network's input and labels [S][n]", path);
    }
    b->S = (int)sx[0];
    b->n = (int)sx[1];
    size_t nx = (size_t)b->S * (size_t)b->n * (size_t)d->value_size[0], nl = (size_t)b->S * (size_t)b->n;
    b->x = malloc(nx * sizeof(float));
    float *lf = malloc(nl * sizeof(float));
    b->labels = malloc(nl * sizeof(int32_t));
    int rc = !b->x || !lf || !b->labels ? fail("%s", "out of memory") : 0;
    if (!rc && (cnnrt_ckpt_read(ck, "x", 5, sx, b->x, err, sizeof err) != CNNRT_OK ||
                cnnrt_ckpt_read(ck, "labels", 2, sl, lf, err, sizeof err) != CNNRT_OK))
        rc = fail("%s", err);
    for (size_t i = 0; !rc && i < nl; i++) {
        b->labels[i] = (int32_t)lf[i];
        if ((float)b->labels[i] != lf[i] || b->labels[i] < 0) rc = fail("%s: labels must be class indices", path);
    }
    free(lf);
    cnnrt_ckpt_close(ck);
    return rc;
}

/* ---- the output file ------------------------------------------------------- */

typedef struct Out {
    cnnrt_ckpt_tensor *t;
    int n, cap;
} Out;

/* Add a tensor; name is copied, data must live until the save. */
static int out_add(Out *o, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        cnnrt_ckpt_tensor *t = realloc(o->t, (size_t)cap * sizeof *t);
        if (!t) return fail("%s", "out of memory");
        o->t = t;
        o->cap = cap;
    }
    cnnrt_ckpt_tensor *t = &o->t[o->n++];
    memset(t, 0, sizeof *t);
    t->name = arena_printf("%s", name);
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++) t->shape[k] = shape[k];
    t->data = data;
    return 0;
}

static int out_tensor(Out *o, const char *prefix, const cnnrt_tensor *ts, const float *data) {
    int64_t shape[4];
    for (int k = 0; k < ts->ndim; k++) shape[k] = ts->dims[k];
    return out_add(o, arena_printf("%s%s", prefix, ts->name), ts->ndim, shape, data);
}

/* ---- dropout masks ----------------------------------------------------------- */

/* The masks of one step: replay every dropout layer's draw from a copy of
 * the net's RNG, in forward order, into masks (n·D floats per layer, added
 * to the output as dropout.NAME.T).  *rng ends where the net's should. */
static int predict_masks(Out *o, const cnnrt_net_desc *d, cnnrt_rng *rng, int n, long t, const float *ones,
                         float *scratch) {
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        if (op->kind != CNNRT_OP_DROPOUT) continue;
        long D = d->value_size[op->out];
        size_t cnt = (size_t)n * (size_t)D;
        float *mask = malloc(cnt * sizeof(float));
        if (!mask) return fail("%s", "out of memory");
        cnnrt_dropout_blocks_forward(scratch, mask, ones, op->p, 1, rng, cnt, op->G > 1 ? (size_t)op->G : 1);
        int64_t shape[2] = { n, D };
        if (out_add(o, arena_printf("dropout.%s.%ld", op->name, t), 2, shape, mask)) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    Args a;
    if (parse_args(argc, argv, &a)) return 1;
    openblas_set_num_threads(1);

    cnnrt_net_desc *d = front_train_desc(a.net, NULL);
    if (!d) return 1;

    Batches b;
    if (load_batches(a.batches, d, &b)) return 1;
    char err[4096];
    cnnrt_net *net = cnnrt_net_create(d, b.n, &a.to, err, sizeof err);
    if (!net) return fail("%s", err);
    if (cnnrt_net_load(net, a.weights, a.resume, err, sizeof err) != CNNRT_OK) return fail("%s", err);

    size_t maxval = 0;
    for (int v = 0; v < d->nvalues; v++)
        if ((size_t)d->value_size[v] > maxval) maxval = (size_t)d->value_size[v];
    float *ones = malloc(maxval * (size_t)b.n * sizeof(float));
    float *scratch = malloc(maxval * (size_t)b.n * sizeof(float));
    long nsteps = a.steps ? a.steps : 1;
    float *losses = malloc((size_t)nsteps * sizeof(float)), *lrs = malloc((size_t)nsteps * sizeof(float));
    if (!ones || !scratch || !losses || !lrs) return fail("%s", "out of memory");
    for (size_t i = 0; i < maxval * (size_t)b.n; i++) ones[i] = 1.0f;

    Out o = { 0 };
    size_t isz = (size_t)b.n * (size_t)d->value_size[0];
    for (long t = 0; t < nsteps; t++) {
        long k = (a.first + t) % b.S;
        const float *x = b.x + (size_t)k * isz;
        const int32_t *y = b.labels + (size_t)k * (size_t)b.n;
        cnnrt_rng rng = cnnrt_net_rng(net);
        if (predict_masks(&o, d, &rng, b.n, t, ones, scratch)) return 1;
        lrs[t] = (float)cnnrt_lr_at(&a.to.lr, cnnrt_net_step(net));
        losses[t] = a.steps ? cnnrt_net_train_step(net, x, y, NULL, b.n)
                            : cnnrt_net_loss_and_grads(net, x, y, NULL, b.n);
        cnnrt_rng after = cnnrt_net_rng(net);
        if (after.state != rng.state || after.inc != rng.inc)
            return fail("%s: the net drew dropout masks other than one draw per element or block, layer by layer "
                        "in forward order: gradcheck cannot predict them", a.net);
        if (!isfinite(losses[t])) {
            const char *bad = cnnrt_net_bad_layer(net);
            fprintf(stderr, "gradcheck: %sstep %ld: the loss is not finite (first bad layer: %s)\n",
                    a.nonfinite_ok ? "" : "error: ", t + 1, bad ? bad : "none");
            if (!a.nonfinite_ok) return 1;
        }
    }

    int64_t one[1] = { nsteps };
    if (out_add(&o, "loss", 1, one, losses)) return 1;
    if (a.steps && out_add(&o, "lr", 1, one, lrs)) return 1;
    const float *P = cnnrt_net_params(net), *G = cnnrt_net_grads(net), *Bf = cnnrt_net_buffers(net);
    if (!a.steps) {
        int K;
        const float *logits = cnnrt_net_logits(net, &K);
        int64_t ls[2] = { b.n, K };
        if (out_add(&o, "logits", 2, ls, logits)) return 1;
    }
    for (int i = 0; i < d->ntensors; i++) {
        const cnnrt_tensor *ts = &d->tensors[i];
        const float *src = ts->buffer ? Bf + ts->off : (a.steps ? P : G) + ts->off;
        if (out_tensor(&o, ts->buffer || a.steps ? "" : "grad.", ts, src)) return 1;
    }
    if (cnnrt_ckpt_save(a.out, o.t, o.n, NULL, 0, err, sizeof err) != CNNRT_OK) return fail("%s", err);
    if (a.save_state && cnnrt_net_save(net, a.save_state, NULL, 0, err, sizeof err) != CNNRT_OK)
        return fail("%s", err);

    for (int i = 0; i < o.n; i++)
        if (!strncmp(o.t[i].name, "dropout.", 8)) free((void *)o.t[i].data);
    free(o.t);
    free(ones); free(scratch); free(losses); free(lrs);
    free(b.x); free(b.labels);
    cnnrt_net_free(net);
    arena_free_all();
    return 0;
}
