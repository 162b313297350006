/*
 * net_exec.c — run a whole network for training: forward, loss, backward, step.
 *
 * Shape legend (per op, n images in the batch):
 *   value v      [n][value_size[v]]        activations, one buffer per value
 *   dvalue v     [n][value_size[v]]        its gradient (written by its first contribution each step)
 *   params       [nparams]                 the flat learnable block
 *   grads        [nparams]                 same layout, zeroed every step
 *   moments      [blocks][nparams]         optimizer state, same layout
 *   buffers      [nbuffers]                batchnorm running statistics
 *
 * Forward keeps every value, so backward can read what it needs; a conv or
 * dense with a fused activation keeps only its output (relu/leaky relu/
 * tanh/sigmoid all differentiate through the output).  Backward walks the
 * ops in reverse and accumulates (+=) into input and parameter gradients.
 * Buffers, sharing and what each op saves are laid out once, at creation
 * (net_plan.c): nothing here allocates.
 */
#include "cnnrt_net.h"
#include "cnnrt_simd.h"
#include "cnnrt_priv.h"
#include "cnnrt_par.h"

#include <math.h>
#include <string.h>

/* the value the loss reads */
static int loss_value(const cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    return net->softmax_last && net->o.loss == CNNRT_LOSS_XENT ? in_val(net, &d->ops[d->nops - 1], 0)
                                                               : d->output;
}

const float *cnnrt_net_logits(const cnnrt_net *net, int *k) {
    int v = loss_value(net);
    if (k) *k = (int)net->d->value_size[v];
    return net->val[v];
}

/* ---- forward ------------------------------------------------------------- */

static void forward(cnnrt_net *net, int n, int training, int upto) {
    const cnnrt_net_desc *d = net->d;
    const float *P = net->block;
    for (int i = 0; i < upto; i++) {
        const cnnrt_op *op = &d->ops[i];
        const float *x = net->val[in_val(net, op, 0)];
        float *y = net->val[op->out];
        size_t cnt = (size_t)n * (size_t)d->value_size[op->out];
        const float *w = op->w >= 0 ? P + op->w : NULL, *b = op->b >= 0 ? P + op->b : NULL;
        switch (op->kind) {
        case CNNRT_OP_CONV:
            cnnrt_conv2d_forward(y, x, w, b, net->scratch, n, &op->conv);
            cnnrt_act_forward(op, y, cnt);
            break;
        case CNNRT_OP_DENSE:
            cnnrt_dense_forward(y, x, w, b, n, op->D, (int)d->value_size[op->out]);
            cnnrt_act_forward(op, y, cnt);
            break;
        case CNNRT_OP_CONVT:
            cnnrt_conv_transpose2d_forward(y, x, w, b, net->scratch, n, &op->conv);
            cnnrt_act_forward(op, y, cnt);
            break;
        case CNNRT_OP_MAXPOOL:
        case CNNRT_OP_GMAXPOOL:
            cnnrt_maxpool2d_forward(y, net->argmax[i], x, n, &op->pool);   /* x: see CNNRT_PLAN_POOLFIRST */
            if (net->plan[i] & CNNRT_PLAN_RELU_AFTER) cnnrt_relu_forward(y, y, cnt);
            break;
        case CNNRT_OP_AVGPOOL: cnnrt_avgpool2d_forward(y, x, n, &op->pool); break;
        case CNNRT_OP_CONV3D:
            cnnrt_conv3d_forward(y, x, w, b, net->scratch, n, &op->conv3);
            cnnrt_act_forward(op, y, cnt);
            break;
        case CNNRT_OP_MAXPOOL3D: cnnrt_maxpool3d_forward(y, net->argmax[i], x, n, &op->pool3); break;
        case CNNRT_OP_AVGPOOL3D: cnnrt_avgpool3d_forward(y, x, n, &op->pool3); break;
        case CNNRT_OP_ADAPTAVG3D: cnnrt_adaptive_avgpool3d_forward(y, x, n, &op->pool3); break;
        case CNNRT_OP_GAVGPOOL: cnnrt_global_avgpool_forward(y, x, n, op->C, op->HW); break;
        case CNNRT_OP_ADAPTAVG:
            cnnrt_adaptive_avgpool2d_forward(y, x, n, op->C, op->H, op->W, op->OH, op->OW);
            break;
        case CNNRT_OP_BATCHNORM:
            if (training)
                cnnrt_batchnorm_forward_train_ex(y, net->buffers + op->rmean, net->buffers + op->rvar,
                                                 net->save0[i], net->save1[i], x, w, b, op->eps, op->momentum, n,
                                                 op->C, op->HW, (net->plan[i] & CNNRT_PLAN_RELU_FUSED) != 0);
            else {
                cnnrt_batchnorm_forward_infer(y, x, net->buffers + op->rmean, net->buffers + op->rvar,
                                              w, b, op->eps, n, op->C, op->HW);
                if (net->plan[i] & CNNRT_PLAN_RELU_FUSED) cnnrt_relu_forward(y, y, cnt);
            }
            break;
        case CNNRT_OP_LAYERNORM:
            cnnrt_layernorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->D);
            break;
        case CNNRT_OP_INSTANCENORM:
            cnnrt_instancenorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->C, op->HW);
            break;
        case CNNRT_OP_GROUPNORM:
            cnnrt_groupnorm_forward(y, net->save0[i], net->save1[i], x, w, b, op->eps, n, op->C, op->HW, op->G);
            break;
        case CNNRT_OP_ACT:                        /* a relu the plan fused does nothing here */
            if (!(net->plan[i] & (CNNRT_PLAN_POOLFIRST | CNNRT_PLAN_BNRELU)))
                cnnrt_act_table[op->act].fwd(y, x, op->act_a, op->act_b, cnt);
            break;
        case CNNRT_OP_SOFTMAX:
            if (op->HW == 1) cnnrt_softmax_forward(y, x, n, op->C);
            else cnnrt_softmax_channels_forward(y, x, n, op->C, op->HW);
            break;
        case CNNRT_OP_DROPOUT:
            cnnrt_dropout_blocks_forward(y, net->save0[i], x, op->p, training, &net->rng, cnt,
                                         op->G > 1 ? (size_t)op->G : 1);
            break;
        case CNNRT_OP_ADD:
            cnnrt_add_forward(y, x, net->val[in_val(net, op, 1)], cnt);
            for (int k = 2; k < op->nin; k++) cnnrt_add_forward(y, y, net->val[in_val(net, op, k)], cnt);
            break;
        case CNNRT_OP_SUB: cnnrt_add_scaled(y, x, net->val[in_val(net, op, 1)], -1.0f, cnt); break;
        case CNNRT_OP_MEAN:
            cnnrt_add_forward(y, x, net->val[in_val(net, op, 1)], cnt);
            for (int k = 2; k < op->nin; k++) cnnrt_add_forward(y, y, net->val[in_val(net, op, k)], cnt);
            cnnrt_div(y, (float)op->nin, cnt);
            break;
        case CNNRT_OP_CONCAT: {
            const float **xs = net->cat_x + op->in0;
            int *cs = net->cat_c + op->in0;
            for (int k = 0; k < op->nin; k++) {
                int v = in_val(net, op, k);
                xs[k] = net->val[v];
                cs[k] = (int)(d->value_size[v] / op->HW);
            }
            cnnrt_concat_forward(y, xs, cs, op->nin, n, op->HW);
            break;
        }
        case CNNRT_OP_COPY:
            if (!(net->plan[i] & CNNRT_PLAN_VIEW)) par_copy(y, x, cnt);
            break;
        case CNNRT_OP_SHUFFLE: cnnrt_channel_shuffle_forward(y, x, n, op->C, op->HW, op->G); break;
        case CNNRT_OP_PAD:
            cnnrt_pad_forward(y, x, n, op->C, op->H, op->W, op->conv.PT, op->conv.PB, op->conv.PL, op->conv.PR, op->G);
            break;
        case CNNRT_OP_UPSAMPLE:
            cnnrt_upsample_forward(y, x, n, op->C, op->H, op->W, op->OH, op->OW, op->G, op->D);
            break;
        case CNNRT_OP_PRELU: cnnrt_prelu_forward(y, x, w, n, op->C, op->HW, op->G); break;
        case CNNRT_OP_MUL: {
            const int b = in_val(net, op, 1);
            cnnrt_mul_forward(y, x, net->val[b], n, op->C, op->HW, (int)(d->value_size[b] / op->C));
            break;
        }
        case CNNRT_OP_SLICE:
            cnnrt_channel_slice_forward(y, x, n, op->C, op->HW, op->G, (int)(d->value_size[op->out] / op->HW));
            break;
        }
    }
}

/* ---- backward ------------------------------------------------------------ */

/* Gradient buffers are not zeroed up front: the first contribution to a
 * buffer in a backward pass writes it (=) where the kernel can, and is
 * zeroed just before where it cannot.  grad_add: value v's buffer is about
 * to receive a contribution; 1 if it already holds some (add to them), 0 if
 * this is the first (write the whole buffer). */
static int grad_add(cnnrt_net *net, int v) {
    const int o = net->owner[v], add = !net->fresh[o];
    net->fresh[o] = 0;
    return add;
}

/* The same for a kernel that can only add: a first contribution finds zeros. */
static void grad_zeroed(cnnrt_net *net, int v, int n) {
    if (!grad_add(net, v)) par_zero(net->dval[v], (size_t)n * (size_t)net->d->value_size[v]);
}

static void backward(cnnrt_net *net, int n, int from) {
    const cnnrt_net_desc *d = net->d;
    const float *P = net->block;
    float *G = net->block + d->nparams;
    for (int i = from - 1; i >= 0; i--) {
        const cnnrt_op *op = &d->ops[i];
        int xv = in_val(net, op, 0);
        const float *x = net->val[xv];
        float *dx = xv == 0 ? NULL : net->dval[xv];       /* no gradient for the input */
        const float *y = net->val[op->out], *dy = net->dval[op->out];
        size_t cnt = (size_t)n * (size_t)d->value_size[op->out];
        const float *w = op->w >= 0 ? P + op->w : NULL;
        float *dw = op->w >= 0 ? G + op->w : NULL, *db = op->b >= 0 ? G + op->b : NULL;
        grad_zeroed(net, op->out, n);                     /* dy: zeros if nothing reached it */
        const int relu = op->kind == CNNRT_OP_ACT && op->act == CNNRT_ACT_RELU;
        switch (op->kind) {                               /* inputs' gradients: see grad_add */
        case CNNRT_OP_CONV: case CNNRT_OP_CONVT: case CNNRT_OP_DENSE: case CNNRT_OP_BATCHNORM:
        case CNNRT_OP_ADD: case CNNRT_OP_COPY: case CNNRT_OP_MAXPOOL: case CNNRT_OP_GMAXPOOL:
            break;
        default:
            if (relu) break;
            for (int k = 0; k < op->nin; k++)
                if (in_val(net, op, k) != 0) grad_zeroed(net, in_val(net, op, k), n);
            break;
        }
        switch (op->kind) {
        case CNNRT_OP_CONV:
            /* forward: y = act(conv(x)) */
            cnnrt_conv2d_backward_ex(dx, dx ? grad_add(net, xv) : 1, dw, db,
                                     cnnrt_act_backward(op, net->tmp, dy, y, cnt), x, w,
                                     net->scratch, n, &op->conv);
            break;
        case CNNRT_OP_CONVT: {
            /* forward: y = act(convᵀ(x)); tmp holds act' · dy, tmp2 the input-sized temporary */
            const float *g = cnnrt_act_backward(op, net->tmp, dy, y, cnt);
            cnnrt_conv_transpose2d_backward(dx, dx ? grad_add(net, xv) : 0, dw, db, g, x, w, net->scratch,
                                            net->tmp2, n, &op->conv);
            break;
        }
        case CNNRT_OP_DENSE:
            cnnrt_dense_backward_ex(dx, dx ? grad_add(net, xv) : 1, dw, 0, db,   /* dW: see zero_param_grads */
                                    cnnrt_act_backward(op, net->tmp, dy, y, cnt), x, w, n, op->D,
                                    (int)d->value_size[op->out]);
            break;
        case CNNRT_OP_MAXPOOL:
        case CNNRT_OP_GMAXPOOL:
            if (!dx) break;
            if (net->plan[i] & CNNRT_PLAN_RELU_AFTER) {         /* the relu's mask, on the pooled values */
                cnnrt_relu_set(net->tmp, dy, y, cnt);
                dy = net->tmp;
            }
            cnnrt_maxpool2d_backward_ex(dx, grad_add(net, xv), dy, net->argmax[i], n, &op->pool);
            break;
        case CNNRT_OP_AVGPOOL: if (dx) cnnrt_avgpool2d_backward(dx, dy, n, &op->pool); break;
        case CNNRT_OP_CONV3D:             /* dx, when wanted, was zeroed above or holds other readers' */
            cnnrt_conv3d_backward(dx, dw, db, cnnrt_act_backward(op, net->tmp, dy, y, cnt), x, w, net->scratch, n,
                                  &op->conv3);
            break;
        case CNNRT_OP_MAXPOOL3D: if (dx) cnnrt_maxpool3d_backward(dx, dy, net->argmax[i], n, &op->pool3); break;
        case CNNRT_OP_AVGPOOL3D: if (dx) cnnrt_avgpool3d_backward(dx, dy, n, &op->pool3); break;
        case CNNRT_OP_ADAPTAVG3D: if (dx) cnnrt_adaptive_avgpool3d_backward(dx, dy, n, &op->pool3); break;
        case CNNRT_OP_GAVGPOOL: if (dx) cnnrt_global_avgpool_backward(dx, dy, n, op->C, op->HW); break;
        case CNNRT_OP_ADAPTAVG:
            if (dx) cnnrt_adaptive_avgpool2d_backward(dx, dy, n, op->C, op->H, op->W, op->OH, op->OW);
            break;
        case CNNRT_OP_BATCHNORM:
            cnnrt_batchnorm_backward_train_ex(dx, dx ? grad_add(net, xv) : 1, dw, db, dy,
                                              (net->plan[i] & CNNRT_PLAN_RELU_FUSED) ? y : NULL, x, net->save0[i],
                                              net->save1[i], w, n, op->C, op->HW);
            break;
        case CNNRT_OP_LAYERNORM:
            cnnrt_layernorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->D);
            break;
        case CNNRT_OP_INSTANCENORM:
            cnnrt_instancenorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->C, op->HW);
            break;
        case CNNRT_OP_GROUPNORM:
            cnnrt_groupnorm_backward(dx, dw, db, dy, x, net->save0[i], net->save1[i], w, n, op->C, op->HW, op->G);
            break;
        case CNNRT_OP_ACT:
            if (!relu) {
                if (dx) cnnrt_act_table[op->act].bwd(dx, dy, x, y, op->act_a, op->act_b, cnt);
            } else if (net->plan[i] & (CNNRT_PLAN_POOLFIRST | CNNRT_PLAN_BNRELU)) {   /* done by the max pool after it, or the batch norm before */
            } else if (net->plan[i] & CNNRT_PLAN_INPLACE) {      /* dx is dy's buffer: dx = (y ≤ 0 ? 0 : dy) */
                float *g = net->dval[op->out];
                cnnrt_relu_mask(g, y, cnt);
            } else if (dx) {
                if (grad_add(net, xv)) cnnrt_relu_backward(dx, dy, x, cnt);
                else cnnrt_relu_set(dx, dy, x, cnt);
            }
            break;
        case CNNRT_OP_SOFTMAX:
            if (!dx) break;
            if (op->HW == 1) cnnrt_softmax_backward(dx, dy, y, n, op->C);
            else cnnrt_softmax_channels_backward(dx, dy, y, n, op->C, op->HW);
            break;
        case CNNRT_OP_DROPOUT: if (dx) cnnrt_dropout_backward(dx, dy, net->save0[i], cnt); break;
        case CNNRT_OP_ADD:
            for (int k = 0; k < op->nin; k++) {
                int v = in_val(net, op, k);
                if (v == 0 || (k < CNNRT_PLAN_MAX_SHARE && (net->plan[i] & (CNNRT_PLAN_SHARE0 << k)))) continue;
                float *g = net->dval[v];
                if (grad_add(net, v)) cnnrt_add_backward(g, NULL, dy, cnt);
                else par_copy(g, dy, cnt);
            }
            break;
        case CNNRT_OP_SUB:                /* the inputs' gradients were zeroed above or hold others' */
        case CNNRT_OP_MEAN:
            for (int k = 0; k < op->nin; k++) {
                int v = in_val(net, op, k);
                if (v != 0)
                    cnnrt_add_scaled(net->dval[v], net->dval[v], dy,
                                     op->kind == CNNRT_OP_MEAN ? 1.0f / (float)op->nin : k ? -1.0f : 1.0f, cnt);
            }
            break;
        case CNNRT_OP_CONCAT: {
            float **dxs = net->cat_dx + op->in0;
            int *cs = net->cat_c + op->in0;
            for (int k = 0; k < op->nin; k++) {
                int v = in_val(net, op, k);
                dxs[k] = v == 0 ? NULL : net->dval[v];
                cs[k] = (int)(d->value_size[v] / op->HW);
            }
            cnnrt_concat_backward(dxs, dy, cs, op->nin, n, op->HW);
            break;
        }
        case CNNRT_OP_COPY:
            if (dx && !(net->plan[i] & CNNRT_PLAN_SHARE0)) {
                if (grad_add(net, xv)) cnnrt_add_backward(dx, NULL, dy, cnt);
                else par_copy(dx, dy, cnt);
            }
            break;
        case CNNRT_OP_SHUFFLE: if (dx) cnnrt_channel_shuffle_backward(dx, dy, n, op->C, op->HW, op->G); break;
        case CNNRT_OP_PAD:
            if (dx)
                cnnrt_pad_backward(dx, dy, n, op->C, op->H, op->W, op->conv.PT, op->conv.PB, op->conv.PL, op->conv.PR,
                                   op->G);
            break;
        case CNNRT_OP_UPSAMPLE:
            if (dx) cnnrt_upsample_backward(dx, dy, n, op->C, op->H, op->W, op->OH, op->OW, op->G, op->D);
            break;
        case CNNRT_OP_PRELU: cnnrt_prelu_backward(dx, dw, dy, x, w, n, op->C, op->HW, op->G); break;
        case CNNRT_OP_MUL: {
            const int b = in_val(net, op, 1);
            cnnrt_mul_backward(dx, b == 0 ? NULL : net->dval[b], dy, x, net->val[b], n, op->C, op->HW,
                               (int)(d->value_size[b] / op->C));
            break;
        }
        case CNNRT_OP_SLICE:
            if (dx) cnnrt_channel_slice_backward(dx, dy, n, op->C, op->HW, op->G, (int)(d->value_size[op->out] / op->HW));
            break;
        }
    }
}

/* ---- steps --------------------------------------------------------------- */

/* Zero the parameter gradients, except the weights of the dense ops that
 * backward will run (below nops): their kernel writes dW (=), sparing a
 * pass over what is most of a LeNet's parameters. */
static void zero_param_grads(cnnrt_net *net, int nops) {
    const cnnrt_net_desc *d = net->d;
    float *G = net->block + d->nparams;
    long covered = 0;
    for (int t = 0; t < d->ntensors; t++)
        if (!d->tensors[t].buffer) covered += d->tensors[t].numel;
    if (covered != d->nparams) {                  /* not every parameter is a tensor: zero them all */
        par_zero(G, (size_t)d->nparams);
        return;
    }
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        if (ts->buffer) continue;
        const cnnrt_op *op = ts->op >= 0 && ts->op < d->nops ? &d->ops[ts->op] : NULL;
        if (op && ts->op < nops && op->kind == CNNRT_OP_DENSE && ts->off == op->w) continue;
        par_zero(G + ts->off, (size_t)ts->numel);
    }
}

static float loss_and_grads(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets, int n) {
    const cnnrt_net_desc *d = net->d;
    if (n < 1 || n > net->max_batch) return NAN;
    memcpy(net->val[0], x, sizeof(float) * (size_t)n * (size_t)d->value_size[0]);
    int nops = net->softmax_last && net->o.loss == CNNRT_LOSS_XENT ? d->nops - 1 : d->nops;
    forward(net, n, 1, nops);
    for (int v = 1; v < d->nvalues; v++)      /* value 0, the input, has no gradient */
        net->fresh[v] = net->zero[v];
    zero_param_grads(net, nops);
    int lv = loss_value(net);
    int K = (int)d->value_size[lv];
    float loss;
    if (net->o.loss == CNNRT_LOSS_MSE)
        loss = cnnrt_mse(net->dval[lv], net->val[lv], targets, (size_t)n * (size_t)K);
    else
        loss = cnnrt_softmax_xent(net->dval[lv], net->val[lv], labels, net->o.label_smoothing, n, K);
    net->fresh[net->owner[lv]] = 0;           /* the loss wrote its gradient (=) */
    backward(net, n, nops);
    return loss;
}

float cnnrt_net_loss_and_grads(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets,
                               int n) {
    return loss_and_grads(net, x, labels, targets, n);
}

/* The first op (in forward order) with a non-finite parameter gradient. */
static int first_bad(const cnnrt_net *net) {
    const cnnrt_net_desc *d = net->d;
    const float *G = net->block + d->nparams;
    if (!cnnrt_any_nonfinite(G, (size_t)d->nparams)) return -1;   /* quick check first */
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        if (ts->buffer) continue;
        for (long i = 0; i < ts->numel; i++)
            if (!isfinite(G[ts->off + i])) return ts->op;
    }
    return -1;
}

float cnnrt_net_train_step(cnnrt_net *net, const float *x, const int32_t *labels, const float *targets, int n) {
    const cnnrt_net_desc *d = net->d;
    if (net->o.loss == CNNRT_LOSS_XENT) {
        int K = (int)d->value_size[loss_value(net)];
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= K) return NAN;
    }
    float loss = loss_and_grads(net, x, labels, targets, n);
    net->bad_op = first_bad(net);
    if (!isfinite(loss) || net->bad_op >= 0) {
        if (net->bad_op < 0) net->bad_op = d->nops - 1;
        return NAN;
    }
    double lr = cnnrt_lr_at(&net->o.lr, net->step);
    float *P = net->block, *G = P + d->nparams, *S = G + d->nparams;
    cnnrt_optim_step(P, S, G, &net->o.optim, lr, net->step + 1, (size_t)d->nparams);
    net->step++;
    return loss;
}

int cnnrt_net_eval(cnnrt_net *net, const float *x, int n, float *out) {
    const cnnrt_net_desc *d = net->d;
    for (int done = 0; done < n; done += net->max_batch) {
        int m = n - done < net->max_batch ? n - done : net->max_batch;
        memcpy(net->val[0], x + (size_t)done * (size_t)d->value_size[0],
               sizeof(float) * (size_t)m * (size_t)d->value_size[0]);
        forward(net, m, 0, d->nops);
        memcpy(out + (size_t)done * (size_t)d->out_size, net->val[d->output],
               sizeof(float) * (size_t)m * (size_t)d->out_size);
    }
    return 0;
}

const float *cnnrt_net_value(const cnnrt_net *net, int v) {
    return v >= 0 && v < net->d->nvalues ? net->val[v] : NULL;
}
