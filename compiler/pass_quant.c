/*
 * pass_quant.c — int8 code for every layer (cnnc --quantize int8).
 *
 * After the inference passes (batchnorm folded, activations fused, no-ops
 * made aliases) and the calibration (calibrate.c), each layer's output gets
 * the int8 map of its calibrated range (quant_affine: x = (q - zp) * scale)
 * and its kind's quant hook prepares the integers its code needs from that
 * map and its input's (docs/quantize.md, "The arithmetic"): a conv's or a
 * dense layer's int8 weights per output channel, its int32 bias, and the
 * multiplier and shift of its
 * requantization; a pool's or an add's multipliers.  The input is quantized
 * by the code's first step, the output dequantized by its last.
 *
 * A layer whose kind has no int8 code yet, or whose activation is not relu
 * or relu6 (the only ones a clamp absorbs), is an error naming it: the
 * network stays float rather than half int8 (--keep-float comes later).
 */
#include "cnnc.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const Node *root(const Node *n) {
    while (n->alias) n = n->alias;
    return n;
}

/* The int8 input of a layer (through aliases: flatten shares its buffer). */
const Node *quant_input(const Node *n, int k) { return root(n->in[k]); }

int quant_requant_of(const Node *n, double m, int32_t *mult, int32_t *shift) {
    int sh = 0, rc = quant_multiplier(m, mult, &sh);
    *shift = sh;
    if (rc == QUANT_OK) return 0;
    diag_error(n->loc, "%s '%s': its int8 output scale is %s its input's (multiplier %g): %s", n->kind->name,
               n->name, m >= 1 ? "too small against" : "out of range for", m, quant_strerror(rc));
    return 1;
}

/* Weights [out][per] of a conv or dense layer, per output channel: int8
 * weights and scales, the bias (the input zero point folded in when fold),
 * the requantization from s_in * s_w to the output's scale. */
int quant_channels(Node *n, long long per, bool fold) {
    const Node *x = quant_input(n, 0);
    long long oc = n->out;
    n->q_w = arena_alloc((size_t)(oc * per));
    n->q_wscale = arena_alloc(sizeof(float) * (size_t)oc);
    n->q_b = arena_alloc(sizeof(int32_t) * (size_t)oc);
    n->q_mult = arena_alloc(sizeof(int32_t) * (size_t)oc);
    n->q_shift = arena_alloc(sizeof(int32_t) * (size_t)oc);
    int errors = 0;
    for (long long o = 0; o < oc && !errors; o++) {
        int8_t *q = (int8_t *)n->q_w + o * per;
        if (quant_weights(n->w_data + o * per, per, q, &n->q_wscale[o]) != QUANT_OK) {
            diag_error(n->loc, "%s '%s': output channel %lld has a weight that is not finite", n->kind->name,
                       n->name, o);
            return 1;
        }
        int32_t b = 0, folded;
        int brc = n->b_data ? quant_bias(n->b_data[o], x->q_scale, n->q_wscale[o], &b) : QUANT_OK;
        if (brc != QUANT_OK) {
            diag_error(n->loc, "%s '%s': the bias of output channel %lld %s", n->kind->name, n->name, o,
                       brc == QUANT_SATURATED ? "does not fit int32 at its int8 scale (input scale times weight "
                                                "scale): the calibrated range is too narrow for it"
                                              : "is not finite");
            return 1;
        }
        folded = b;
        /* unfolded, a term (q_x - zp) * q_w is up to 255 * 127: twice a folded one's bound */
        if ((fold ? quant_fold_zero_point(b, x->q_zp, q, per, &folded) != QUANT_OK : false) ||
            !quant_acc_fits(fold ? per : 2 * per, folded)) {
            diag_error(n->loc, "%s '%s': output channel %lld: an int32 accumulator could overflow (%lld inputs "
                       "per output, bias %ld)", n->kind->name, n->name, o, per, (long)folded);
            return 1;
        }
        n->q_b[o] = folded;
        errors += quant_requant_of(n, quant_real_multiplier(x->q_scale, n->q_wscale[o], n->q_scale), &n->q_mult[o],
                                   &n->q_shift[o]);
    }
    return errors;
}

/* The padded input a product conv reads (M4_Q8_GEMM): rows and columns from
 * -pt and -pl up to the last one a window reaches, the channels rounded up
 * to 4 (one vpdpbusd lane), channels last. */
QuantPad quant_conv_pad(const Node *n) {
    QuantPad p;
    p.h = (n->shape.h - 1) * n->sh + (n->kh - 1) * n->dh + 1;
    p.w = (n->shape.w - 1) * n->sw + (n->kw - 1) * n->dw + 1;
    p.c = (n->in[0]->shape.c + 3) / 4 * 4;
    return p;
}

bool quant_conv_gemm(const Node *n) {
    const char *knob = getenv("CNNC_Q8_DIRECT");
    return n->groups == 1 && !(knob && strcmp(knob, "1") == 0);
}

void quant_clamp(Node *n) {
    quant_act_range(n->act == ACT_RELU ? QUANT_ACT_RELU : n->act == ACT_RELU6 ? QUANT_ACT_RELU6 : QUANT_ACT_NONE,
                    n->q_scale, n->q_zp, &n->q_lo, &n->q_hi);
}

/* The name of a comma-separated list at p and its length; the next one's
 * start into *next (NULL after the last). */
static size_t list_item(const char *p, const char **next) {
    const char *c = strchr(p, ',');
    *next = c ? c + 1 : NULL;
    return c ? (size_t)(c - p) : strlen(p);
}

static bool in_list(const char *list, const char *name) {
    for (const char *p = list, *next; p && *p; p = next) {
        size_t len = list_item(p, &next);
        if (len == strlen(name) && strncmp(p, name, len) == 0) return true;
    }
    return false;
}

int quant_keep_check(const Graph *g, const char *keep_float) {
    int errors = 0;
    for (const char *p = keep_float, *next; p && *p; p = next) {
        const char *name = arena_strndup(p, list_item(p, &next));
        const Node *hit = NULL;
        for (int i = 0; i < g->nnodes && !hit; i++)
            if (strcmp(g->nodes[i]->name, name) == 0) hit = g->nodes[i];
        if (!hit || hit->kind->id == K_INPUT) {
            fprintf(stderr, "cnnc: error: --keep-float %s: the network '%s' has no layer '%s'%s\n", keep_float,
                    g->name, name, hit ? " but its input (always float to the caller)" : "");
            errors++;
        } else if (hit->removed) {
            fprintf(stderr, "cnnc: error: --keep-float %s: layer '%s' is %s: name the layer it is part of\n",
                    keep_float, name, hit->alias ? "a no-op in the generated code" : "folded or fused into another");
            errors++;
        }
    }
    return errors;
}

int quant_int8_io_check(const Graph *g) {
    const Node *in = g->nodes[0], *out = g->output;
    while (out->alias) out = out->alias;
    int errors = 0;
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->removed || n->q8) continue;
        for (int j = 0; j < n->nin; j++)
            if (quant_input(n, j) == in) {
                diag_error(n->loc, "--int8-io: %s '%s' reads the input in float (%s): the input cannot be int8",
                           n->kind->name, n->name, n->q_float ? n->q_float : "float");
                errors++;
            }
    }
    if (!errors && !in->q8) {
        diag_error(in->loc, "--int8-io: no int8 layer reads the input");
        errors++;
    }
    if (!out->q8) {
        diag_error(out->loc, "--int8-io: the output layer %s '%s' runs in float (%s)", out->kind->name, out->name,
                   out->q_float ? out->q_float : "the input itself");
        errors++;
    }
    return errors;
}

/* Why n stays float in an int8 build, or NULL: it runs in int8. */
static const char *float_why(const Node *n, const char *keep_float) {
    if (in_list(keep_float, n->name)) return "--keep-float";
    if (!n->kind->quant || !n->kind->emit_q8) return arena_printf("no int8 code for %s layers", n->kind->name);
    if (n->act != ACT_NONE && n->act != ACT_RELU && n->act != ACT_RELU6)
        return arena_printf("its %s has no int8 form (relu and relu6 do)", act_defs[n->act].name);
    return NULL;
}

int pass_quantize(Graph *g, const char *keep_float) {
    int errors = quant_keep_check(g, keep_float);
    if (errors) return errors;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed) continue;
        n->q8 = false, n->q_copy = false, n->q_float = NULL;
        const Node *v = g->nodes[n->value];
        if (!v->cal) {
            diag_error(n->loc, "%s '%s': no finite output over the calibration images: no int8 range for it",
                       n->kind->name, n->name);
            errors++;
            continue;
        }
        QuantAffine a;
        if (quant_affine(v->cal_lo, v->cal_hi, &a) != QUANT_OK) {
            diag_error(n->loc, "%s '%s': calibrated range [%g, %g] has no int8 map", n->kind->name, n->name,
                       v->cal_lo, v->cal_hi);
            errors++;
            continue;
        }
        n->q_scale = a.scale, n->q_zp = a.zp;
        if (n->kind->id == K_INPUT) continue;       /* int8 where an int8 layer reads it (below) */
        if ((n->q_float = float_why(n, keep_float))) continue;
        quant_clamp(n);
        n->q8 = true;
    }
    /* the input in int8 where an int8 layer reads it (the caller's float is
     * there for the others); any other output read in the other precision
     * gets a copy in it, made right after the layer */
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->removed || n->kind->id == K_INPUT) continue;
        for (int j = 0; j < n->nin; j++) {
            Node *r = (Node *)quant_input(n, j);
            if (r->kind->id == K_INPUT) r->q8 |= n->q8;
            else if (r->q8 != n->q8) r->q_copy = true;
        }
    }
    for (int i = 0; i < g->nnodes && !errors; i++) {
        Node *n = g->nodes[i];
        if (!n->removed && n->q8 && n->kind->id != K_INPUT) errors += n->kind->quant(n);
    }
    return errors;
}
