/*
 * kind_conv.c — the 2-D convolution and the transposed convolution, whole:
 * how each is written, its shape rule and costs, its parameters, its
 * generated code, its PyTorch module and the cnnrt op it trains as.  Which
 * algorithm a conv's code uses (direct, im2col + GEMM, Winograd) is
 * lower_conv.c's choice; a transposed conv's is direct (templates/conv.m4).
 */
#include "kind.h"

#include <stdlib.h>

static bool conv_shape(Node *n) {
    const Node *x = n->in[0];
    const Shape *in = &x->shape;
    if (!shape_need_chw(n, in)) return false;
    long long cin = in->c;
    if (cin % n->groups != 0) {
        diag_error(n->loc, "%s: groups %lld does not divide the %lld input channels", shape_who(n), n->groups, cin);
        return false;
    }
    if (n->out % n->groups != 0) {
        diag_error(n->loc, "%s: groups %lld does not divide the %lld output channels", shape_who(n), n->groups,
                   n->out);
        return false;
    }
    if (n->pad_same) {
        if (n->sh != 1 || n->sw != 1 || n->sd != 1) {
            diag_error(n->loc, "%s: padding 'same' needs stride 1 (as in PyTorch), but the stride is %s",
                       shape_who(n), in->sp == 1 ? arena_printf("1x%lld", n->sw)
                                                 : shape_sizes(in, n->sd, n->sh, n->sw, "x"));
            return false;
        }
        long long td = n->dd * (n->kd - 1), th = n->dh * (n->kh - 1), tw = n->dw * (n->kw - 1);
        n->pd0 = td / 2; n->pd1 = td - n->pd0;     /* the extra one goes behind, */
        n->pt = th / 2; n->pb = th - n->pt;        /* at the bottom, */
        n->pl = tw / 2; n->pr = tw - n->pl;        /* on the right */
    }
    long long od, oh, ow;
    if (!shape_window(n, in, "slices", in->d, n->kd, n->sd, n->dd, n->pd0, n->pd1, false, false, &od) ||
        !shape_window(n, in, "rows", in->h, n->kh, n->sh, n->dh, n->pt, n->pb, false, false, &oh) ||
        !shape_window(n, in, "columns", in->w, n->kw, n->sw, n->dw, n->pl, n->pr, false, false, &ow))
        return false;
    n->shape = shape_like(in, n->out, od, oh, ow);
    if (!shape_check_numel(n)) return false;
    long long per, k2, w, outs;
    if (!shape_mul(cin / n->groups, n->kd * n->kh, &per) || !shape_mul(per, n->kw, &k2) ||
        !shape_mul(k2, n->out, &w) || !shape_mul(n->out, shape_hw(n->shape), &outs) ||
        !shape_mul(outs, k2, &n->macs)) {
        diag_error(n->loc, "%s: the parameter or MAC count overflows", shape_who(n));
        return false;
    }
    n->params = w + (n->bias ? n->out : 0);
    n->other_ops = (n->bias ? outs : 0) + (n->act != ACT_NONE ? outs : 0);
    shape_rf_window(n, x, n->kh, n->kw, n->sh, n->sw, n->dh, n->dw);
    return true;
}

static int conv_params(Node *n, ParamSpec *out) {
    long long cg = n->in[0]->shape.c / n->groups, fan = cg * n->kd * n->kh * n->kw;
    int k = 0;
    out[k++] = param_kernel(&n->w_data, fan, &n->in[0]->shape, n->out, cg, n->kd, n->kh, n->kw);
    if (n->bias) out[k++] = param("bias", &n->b_data, true, fan, 1, n->out, 0, 0, 0);
    return k;
}

/* a volume's conv: direct loops (templates/conv.m4) */
static int conv3d_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "conv");
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_D", "%lld", in->d);
    em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OC", "%lld", n->shape.c); em_def(e, "L_OD", "%lld", n->shape.d);
    em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KD", "%lld", n->kd); em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw);
    em_def(e, "L_SD", "%lld", n->sd); em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PF", "%lld", n->pd0); em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_DD", "%lld", n->dd); em_def(e, "L_DH", "%lld", n->dh); em_def(e, "L_DW", "%lld", n->dw);
    em_def(e, "L_ICG", "%lld", in->c / n->groups); em_def(e, "L_OCG", "%lld", n->out / n->groups);
    em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->out * (in->c / n->groups) * n->kd * n->kh * n->kw));
    em_def(e, "L_BOFF", "%lld", n->bias ? em_put(e, n->b_data, n->out) : -1);
    em_call(e, "M4_CONV3D");
    return 0;
}

static int conv_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (in->sp == 3) return conv3d_emit(e, n);
    ConvAlgo algo = conv_algo(n);
    em_layer(e, n, "conv");
    long long kk = n->kh * n->kw;
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OC", "%lld", n->shape.c); em_def(e, "L_OH", "%lld", n->shape.h);
    em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw); em_def(e, "L_KK", "%lld", kk);
    em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_DH", "%lld", n->dh); em_def(e, "L_DW", "%lld", n->dw);
    em_def(e, "L_HP", "%lld", in->h + n->pt + n->pb); em_def(e, "L_WP", "%lld", in->w + n->pl + n->pr);
    em_def(e, "L_ICG", "%lld", in->c / n->groups); em_def(e, "L_OCG", "%lld", n->out / n->groups);
    em_def(e, "L_SCRATCH", "%lld", n->scratch_off >= 0 ? n->scratch_off / 4 : -1);
    long long k = (in->c / n->groups) * kk, p = n->shape.h * n->shape.w;
    switch (algo) {
    case CONV_DIRECT:
        em_def(e, "L_ALGO", "DIRECT");
        /* padding without a padded copy: the window clipped at the border */
        em_def(e, "L_CLIP", "%d", (n->pt | n->pl | n->pb | n->pr) != 0 && n->scratch_off < 0);
        em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->out * k));
        break;
    case CONV_DW: {
        DwGeom g = conv_dw_geom(n);
        em_def(e, "L_ALGO", "DW");
        em_def(e, "L_SPAN", "%lld", g.span); em_def(e, "L_HQ", "%lld", g.hq); em_def(e, "L_WQ", "%lld", g.wq);
        em_def(e, "L_BUF", "%lld", g.buf); em_def(e, "L_ROWS", "%lld", g.rows);
        em_def(e, "L_RUN", "%d", g.runlen > 0); em_def(e, "L_RUNLEN", "%lld", g.runlen);
        em_stack(e, 4 * (g.buf + g.runlen));
        em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->out * k));
        break;
    }
    case CONV_GEMM: {
        bool cblas = layer_blas(n, em_standalone(e));    /* default mode, where it pays */
        bool directb = conv_is_pointwise(n) && (cblas || p % GEMM_NR == 0);
        em_def(e, "L_ALGO", "GEMM");
        em_def(e, "L_K", "%lld", k);
        em_def(e, "L_NPIX", "%lld", p);
        em_def(e, "L_LDB", "%lld", directb || cblas ? p : conv_round_up(p, GEMM_NR));
        em_def(e, "L_DIRECTB", "%d", directb || conv_is_whole(n));
        em_def(e, "L_CBLAS", "%d", cblas);
        em_def(e, "L_PBLK", "%lld", conv_col_block(n, em_standalone(e)));
        em_def(e, "L_TROWS", "%d", cblas ? 0 : conv_gemm_rows(n));
        if (!cblas && p > 1) {
            long long count;
            float *packed = conv_gemm_weights(n, &count);
            em_def(e, "L_WOFF", "%lld", em_put(e, packed, count));
            free(packed);
        } else {
            em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, n->out * k));
        }
        break;
    }
    case CONV_WINO2:
    case CONV_WINO4:
    case CONV_WINO6: {
        int m = algo == CONV_WINO2 ? 2 : algo == CONV_WINO4 ? 4 : 6;
        WinoGeom w = conv_wino_geom(n, m);
        em_winograd(e);
        em_def(e, "L_ALGO", "WINO");
        em_def(e, "L_WM", "%d", m); em_def(e, "L_WA", "%d", m + 2);
        em_def(e, "L_TH", "%lld", w.th); em_def(e, "L_TW", "%lld", w.tw);
        em_def(e, "L_T", "%lld", w.t); em_def(e, "L_TPAD", "%lld", w.tpad);
        em_def(e, "L_HPT", "%lld", w.hpt); em_def(e, "L_WPT", "%lld", w.wpt); em_def(e, "L_TQ", "%lld", w.tq);
        em_def(e, "L_SV", "%lld", w.sv); em_def(e, "L_SM", "%lld", w.sm);
        em_def(e, "L_VOFF", "%lld", w.voff); em_def(e, "L_MOFF", "%lld", w.moff);
        long long count;
        float *u = conv_winograd_weights(n, m, &count);
        em_def(e, "L_WOFF", "%lld", em_put(e, u, count));
        free(u);
        break;
    }
    }
    em_def(e, "L_BOFF", "%lld", n->bias ? em_put(e, n->b_data, n->out) : -1);
    em_call(e, "M4_CONV");
    em_hash(e, &algo, sizeof algo);
    return 0;
}

/* int8 (pass_quant.c): 1-D and 2-D convs, any groups, direct loops */
static int conv_quant(Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (in->sp == 3) {
        diag_error(n->loc, "conv '%s': cnnc has no int8 code for 3-D convs yet", n->name);
        return 1;
    }
    return quant_channels(n, in->c / n->groups * n->kh * n->kw, false);
}

/* An int8 conv's fields: its layer's, its input's and output's sizes and
 * its window (both int8 templates read them). */
static void conv_q8_window(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "int8 conv");
    em_q8(e, n);
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OC", "%lld", n->out); em_def(e, "L_OH", "%lld", n->shape.h); em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw);
    em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_DH", "%lld", n->dh); em_def(e, "L_DW", "%lld", n->dw);
}

/* An int8 conv without groups as a product (M4_Q8_GEMM) over its padded
 * input, channels last (quant_conv_pad): its weights in panels of 16 output
 * channels, K in the order the code walks the input (tap (ky, kx), then the
 * channels, rounded up to 4: what AVX-512 VNNI's vpdpbusd takes,
 * [panel][KH][KW][CP/4][16][4]), zeros past the channels; the sums start
 * from bias - (128 + zp_in) * sum(w), because the input holds q + 128
 * (unsigned) and a tap in the padding holds zp_in + 128. */
static int conv_emit_q8_gemm(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    QuantPad pad = quant_conv_pad(n);
    long long k = in->c * n->kh * n->kw, k4 = n->kh * n->kw * pad.c / 4, panels = (n->out + 15) / 16;
    int zp = quant_input(n, 0)->q_zp;
    signed char *w = calloc((size_t)(panels * k4 * 64), 1);
    int32_t *init = malloc(sizeof(int32_t) * (size_t)n->out);
    if (!w || !init) { free(w); free(init); fputs("cnnc: error: out of memory\n", stderr); exit(2); }
    for (long long o = 0; o < n->out; o++) {
        long long sum = 0;
        for (long long c = 0; c < in->c; c++)
            for (long long t = 0; t < n->kh * n->kw; t++) {
                signed char v = n->q_w[o * k + c * n->kh * n->kw + t];
                long long j = t * pad.c + c;      /* its place in the walk */
                w[((o / 16) * k4 + j / 4) * 64 + (o % 16) * 4 + j % 4] = v;
                sum += v;
            }
        long long b = n->q_b[o] - (128LL + zp) * sum;
        if (b < INT32_MIN || b > INT32_MAX || (k * 255 * 127 + (b < 0 ? -b : b)) > INT32_MAX) {
            diag_error(n->loc, "conv '%s': output channel %lld: an int32 sum could overflow", n->name, o);
            free(w), free(init);
            return 1;
        }
        init[o] = (int32_t)b;
    }
    conv_q8_window(e, n);
    em_def(e, "L_SCRATCH", "%lld", n->scratch_off / 4);
    em_def(e, "L_HP", "%lld", pad.h); em_def(e, "L_WP", "%lld", pad.w); em_def(e, "L_CP", "%lld", pad.c);
    em_def(e, "L_K4", "%lld", k4); em_def(e, "L_PANELS", "%lld", panels);
    em_q8_channels(e, n, w, panels * k4 * 64, init);
    em_call(e, "M4_Q8_GEMM");
    free(w), free(init);
    return 0;
}

static int conv_emit_q8(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (quant_conv_gemm(n)) return conv_emit_q8_gemm(e, n);
    long long per = in->c / n->groups * n->kh * n->kw;
    conv_q8_window(e, n);
    em_def(e, "L_ICG", "%lld", in->c / n->groups); em_def(e, "L_OCG", "%lld", n->out / n->groups);
    em_q8_channels(e, n, n->q_w, n->out * per, n->q_b);
    em_call(e, "M4_Q8_CONV");
    return 0;
}

static const char *conv_py_module(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    const char *a = arena_printf("nn.Conv%s(%lld, %lld, %s", py_dims(in), in->c, n->out,
                                 py_sizes(in, n->kd, n->kh, n->kw));
    if (n->sd != 1 || n->sh != 1 || n->sw != 1) a = arena_printf("%s, stride=%s", a, py_sizes(in, n->sd, n->sh, n->sw));
    if (n->pd0 == n->pd1 && n->pt == n->pb && n->pl == n->pr && (n->pd0 || n->pt || n->pl))
        a = arena_printf("%s, padding=%s", a, py_sizes(in, n->pd0, n->pt, n->pl));
    if (n->dd != 1 || n->dh != 1 || n->dw != 1)
        a = arena_printf("%s, dilation=%s", a, py_sizes(in, n->dd, n->dh, n->dw));
    if (n->groups != 1) a = arena_printf("%s, groups=%lld", a, n->groups);
    if (!n->bias) a = arena_printf("%s, bias=False", a);
    return arena_printf("%s)", a);
}

static const char *conv_py_call(const Node *n, const char *const *in, const char *mod) {
    const char *arg = in[0];
    const Shape *x = &n->in[0]->shape;
    if (n->pd0 != n->pd1 || n->pt != n->pb || n->pl != n->pr)   /* asymmetric ('same' with an even kernel) */
        arg = arena_printf("F.pad(%s, (%lld, %lld%s%s))", in[0], n->pl, n->pr,
                           x->sp >= 2 ? arena_printf(", %lld, %lld", n->pt, n->pb) : "",
                           x->sp == 3 ? arena_printf(", %lld, %lld", n->pd0, n->pd1) : "");
    return py_act(n->act, n->act_p, arena_printf("%s(%s)", mod, arg));
}

static void conv_train(const Node *n, cnnrt_op *op) {
    const Shape *in = &n->in[0]->shape;
    if (in->sp == 3) {
        op->kind = CNNRT_OP_CONV3D;
        op->conv3 = (cnnrt_conv3d_geom){ (int)in->c, (int)in->d, (int)in->h, (int)in->w, (int)n->out,
            (int)n->kd, (int)n->kh, (int)n->kw, (int)n->sd, (int)n->sh, (int)n->sw,
            (int)n->pd0, (int)n->pt, (int)n->pl, (int)n->pd1, (int)n->pb, (int)n->pr,
            (int)n->dd, (int)n->dh, (int)n->dw, (int)n->groups,
            (int)n->shape.d, (int)n->shape.h, (int)n->shape.w };
        return;
    }
    op->kind = CNNRT_OP_CONV;
    op->conv = (cnnrt_conv_geom){ (int)in->c, (int)in->h, (int)in->w, (int)n->out,
        (int)n->kh, (int)n->kw, (int)n->sh, (int)n->sw, (int)n->pt, (int)n->pl, (int)n->pb,
        (int)n->pr, (int)n->dh, (int)n->dw, (int)n->groups, (int)n->shape.h, (int)n->shape.w };
}

const LayerKind kind_conv = {
    .id = K_CONV, .name = "conv", .alias = "conv2d", .summary = "convolution (1-, 2- or 3-D, as its input)",
    .positional = { "out" },
    .attrs = {
        { "out", A_INT, 0, NULL, "output channels", F(out), 0, 0 },
        ATTR_KERNEL, ATTR_STRIDE1, ATTR_PAD,
        { "dilation", A_PAIR, 'd', "1", "spacing of kernel taps; shorthand d2", F(dh), F(dw), F(dd) },
        { "groups", A_INT, 'g', "1", "channel groups (= channels for depthwise); shorthand g32", F(groups), 0, 0 },
        ATTR_BIAS, ATTR_ACT, ATTR_SLOPE,
    },
    .flags = { { "nobias", "bias", "false" }, { "same", "padding", "same" } },
    .user = true, .pytorch = "nn.Conv1d, nn.Conv2d, nn.Conv3d",
    .shape = conv_shape, .params = conv_params, .emit = conv_emit, .quant = conv_quant, .emit_q8 = conv_emit_q8,
    .py_module = conv_py_module, .py_call = conv_py_call, .train = conv_train,
    .dot = DOT_CONV, .passes = KP_TAKES_ACT | KP_TAKES_BN,
};

/* ---- transposed convolution (PyTorch's ConvTranspose2d) ------------------- */

static bool convt_shape(Node *n) {
    const Shape *in = &n->in[0]->shape;
    if (!shape_need_chw(n, in)) return false;
    if (in->c % n->groups != 0 || n->out % n->groups != 0) {
        diag_error(n->loc, "%s: groups %lld does not divide the %lld input and %lld output channels", shape_who(n),
                   n->groups, in->c, n->out);
        return false;
    }
    if (n->pad_same || n->pt != n->pb || n->pl != n->pr) {
        diag_error(n->loc, "%s: padding must be N or HxW (the same on both sides)", shape_who(n));
        return false;
    }
    if (n->oph >= n->sh || n->opw >= n->sw) {
        diag_error(n->loc, "%s: output_padding %lldx%lld must be smaller than the stride %lldx%lld", shape_who(n),
                   n->oph, n->opw, n->sh, n->sw);
        return false;
    }
    /* (H − 1)·S − 2P + D·(K − 1) + output_padding + 1, each term checked */
    long long oh, ow, t;
    if (!shape_mul(in->h - 1, n->sh, &oh) || !shape_mul(n->dh, n->kh - 1, &t) ||
        (oh = oh - 2 * n->pt + t + n->oph + 1) < 1 || !shape_mul(in->w - 1, n->sw, &ow) ||
        !shape_mul(n->dw, n->kw - 1, &t) || (ow = ow - 2 * n->pl + t + n->opw + 1) < 1) {
        diag_error(n->loc, "%s: padding %lldx%lld leaves no output from its input %s", shape_who(n), n->pt, n->pl,
                   shape_str(*in));
        return false;
    }
    n->shape = shape_like(in, n->out, 1, oh, ow);
    if (!shape_check_numel(n)) return false;
    long long per, w, pix;
    if (!shape_mul(n->out / n->groups, n->kh * n->kw, &per) || !shape_mul(per, in->c, &w) ||
        !shape_mul(in->h, in->w, &pix) || !shape_mul(w, pix, &n->macs)) {
        diag_error(n->loc, "%s: the parameter or MAC count overflows", shape_who(n));
        return false;
    }
    n->params = w + (n->bias ? n->out : 0);
    n->other_ops = (n->bias ? shape_numel(n->shape) : 0) + (n->act != ACT_NONE ? shape_numel(n->shape) : 0);
    n->rf_valid = false;
    return true;
}

/* weight [in][out/groups][KH][KW]; PyTorch's fan-in: out/groups·KH·KW */
static int convt_params(Node *n, ParamSpec *out) {
    long long og = n->out / n->groups, fan = og * n->kh * n->kw;
    int k = 0;
    out[k++] = param_kernel(&n->w_data, fan, &n->in[0]->shape, n->in[0]->shape.c, og, 1, n->kh, n->kw);
    if (n->bias) out[k++] = param("bias", &n->b_data, true, fan, 1, n->out, 0, 0, 0);
    return k;
}

static int convt_emit(Emitter *e, Node *n) {
    const Shape *in = &n->in[0]->shape;
    em_layer(e, n, "convtranspose");
    em_def(e, "L_C", "%lld", in->c); em_def(e, "L_H", "%lld", in->h); em_def(e, "L_W", "%lld", in->w);
    em_def(e, "L_OC", "%lld", n->shape.c); em_def(e, "L_OH", "%lld", n->shape.h);
    em_def(e, "L_OW", "%lld", n->shape.w);
    em_def(e, "L_KH", "%lld", n->kh); em_def(e, "L_KW", "%lld", n->kw);
    em_def(e, "L_SH", "%lld", n->sh); em_def(e, "L_SW", "%lld", n->sw);
    em_def(e, "L_PT", "%lld", n->pt); em_def(e, "L_PL", "%lld", n->pl);
    em_def(e, "L_DH", "%lld", n->dh); em_def(e, "L_DW", "%lld", n->dw);
    em_def(e, "L_ICG", "%lld", in->c / n->groups); em_def(e, "L_OCG", "%lld", n->out / n->groups);
    em_def(e, "L_WOFF", "%lld", em_put(e, n->w_data, in->c * (n->out / n->groups) * n->kh * n->kw));
    em_def(e, "L_BOFF", "%lld", n->bias ? em_put(e, n->b_data, n->out) : -1);
    em_call(e, "M4_CONVT");
    return 0;
}

static const char *convt_py_module(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    const char *a = arena_printf("nn.ConvTranspose%s(%lld, %lld, %s", py_dims(in), in->c, n->out,
                                 py_sizes(in, 1, n->kh, n->kw));
    if (n->sh != 1 || n->sw != 1) a = arena_printf("%s, stride=%s", a, py_sizes(in, 1, n->sh, n->sw));
    if (n->pt || n->pl) a = arena_printf("%s, padding=%s", a, py_sizes(in, 1, n->pt, n->pl));
    if (n->oph || n->opw) a = arena_printf("%s, output_padding=%s", a, py_sizes(in, 1, n->oph, n->opw));
    if (n->groups != 1) a = arena_printf("%s, groups=%lld", a, n->groups);
    if (!n->bias) a = arena_printf("%s, bias=False", a);
    if (n->dh != 1 || n->dw != 1) a = arena_printf("%s, dilation=%s", a, py_sizes(in, 1, n->dh, n->dw));
    return arena_printf("%s)", a);
}

static const char *convt_py_call(const Node *n, const char *const *in, const char *mod) {
    return py_act(n->act, n->act_p, arena_printf("%s(%s)", mod, in[0]));
}

/* the conv whose data gradient it is: that conv's input is this op's output */
static void convt_train(const Node *n, cnnrt_op *op) {
    const Shape *in = &n->in[0]->shape;
    op->kind = CNNRT_OP_CONVT;
    op->conv = (cnnrt_conv_geom){ (int)n->out, (int)n->shape.h, (int)n->shape.w, (int)in->c,
        (int)n->kh, (int)n->kw, (int)n->sh, (int)n->sw, (int)n->pt, (int)n->pl, (int)n->pb,
        (int)n->pr, (int)n->dh, (int)n->dw, (int)n->groups, (int)in->h, (int)in->w };
}

const LayerKind kind_convt = {
    .id = K_CONVT, .name = "convtranspose", .alias = "deconv", .summary = "2-D transposed convolution",
    .positional = { "out" },
    .attrs = {
        { "out", A_INT, 0, NULL, "output channels", F(out), 0, 0 },
        ATTR_KERNEL, ATTR_STRIDE1,
        { "padding", A_PAD, 'p', "0", "rows and columns taken off each side: N or HxW; shorthand p1", F(pt), 0, 0 },
        { "output_padding", A_PAIR, 0, "0", "rows and columns added at the bottom and right (< stride)",
          F(oph), F(opw), 0 },
        { "dilation", A_PAIR, 'd', "1", "spacing of kernel taps; shorthand d2", F(dh), F(dw), 0 },
        { "groups", A_INT, 'g', "1", "channel groups; shorthand g2", F(groups), 0, 0 },
        ATTR_BIAS, ATTR_ACT, ATTR_SLOPE,
    },
    .flags = { { "nobias", "bias", "false" } },
    .user = true, .pytorch = "nn.ConvTranspose2d",
    .shape = convt_shape, .params = convt_params, .emit = convt_emit,
    .py_module = convt_py_module, .py_call = convt_py_call, .train = convt_train,
    .dot = DOT_CONV, .passes = KP_TAKES_ACT, .no_volume = true,
};
