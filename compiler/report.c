/*
 * report.c — what a network costs, read off the checked IR.
 *
 * Never re-derives a shape: everything comes from the fields shape.c filled.
 * Two forms: a table for people (report_text) and JSON for tools
 * (report_json, schema in docs/report.md).  Counting conventions:
 *   params        learnable values as written (weights, biases, norm γ/β),
 *                 = PyTorch's sum(p.numel() for p in model.parameters())
 *   MACs          conv and dense multiply-accumulates, bias excluded
 *   FLOPs         2·MACs; all other arithmetic is "other ops", never folded in
 *   weight bytes  float32 values the inference code stores after batchnorm
 *                 folding (a BN right after a conv/dense disappears into it)
 *   activations   every layer output as its own float32 tensor (the input is
 *                 the caller's and not counted); the peak is the most bytes
 *                 alive at once when layers run in file order and each
 *                 tensor is freed after its last reader
 */
#include "cnnc.h"
#include "quant.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int *consumer_counts(const Graph *g) {
    int *uses = arena_alloc(sizeof(int) * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            uses[g->nodes[i]->in[j]->id]++;
    return uses;
}

/* Does this batchnorm fold into the conv/dense before it? */
static bool bn_folds(const Node *n, const int *uses) {
    if (n->kind->id != K_BATCHNORM) return false;
    const Node *p = n->in[0];
    return (p->kind->passes & KP_TAKES_BN) && p->act == ACT_NONE && uses[p->id] == 1;
}

void report_totals(const Graph *g, Totals *t) {
    memset(t, 0, sizeof *t);
    int *uses = consumer_counts(g);
    int *last = arena_alloc(sizeof(int) * (size_t)g->nnodes);
    long long stored = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        t->params += n->params;
        t->macs += n->macs;
        t->other_ops += n->other_ops;
        if (n->kind->id == K_INPUT) continue;
        t->activation_bytes_sum += n->act_bytes;
        for (int j = 0; j < n->nin; j++)
            if (last[n->in[j]->id] < i) last[n->in[j]->id] = i;
        /* stored weights after folding */
        if (bn_folds(n, uses)) {
            if (!n->in[0]->bias) stored += n->shape.c;   /* the conv gains a bias */
        } else if (n->kind->id == K_BATCHNORM) {
            stored += 2 * n->shape.c;                     /* per-channel scale, shift */
        } else {
            stored += n->params;
        }
    }
    t->flops = 2 * t->macs;
    t->weight_bytes = 4 * stored;

    /* peak live bytes: node i's output is born at step i, dies after last[i] */
    long long live = 0;
    long long *dies = arena_alloc(sizeof(long long) * (size_t)(g->nnodes + 1));
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        live += n->act_bytes;
        if (live > t->activation_bytes_peak) t->activation_bytes_peak = live;
        if (n != g->output) dies[last[i] > i ? last[i] : i] += n->act_bytes;
        live -= dies[i];
    }
}

static const char *kind_label(const Node *n) {
    return n->act ? arena_printf("%s+%s", n->kind->name, act_defs[n->act].name) : n->kind->name;
}

static const char *rf_text(const Node *n) {
    if (!n->rf_valid) return "-";
    if (n->shape.sp == 1) return arena_printf("%lld/%lld", n->rf_w, n->jump_w);   /* a signal's: its length */
    if (n->rf_h == n->rf_w && n->jump_h == n->jump_w)
        return arena_printf("%lld/%lld", n->rf_h, n->jump_h);
    return arena_printf("%lldx%lld/%lldx%lld", n->rf_h, n->rf_w, n->jump_h, n->jump_w);
}

static const char *with_si(long long v) {
    const char *si = fmt_si(v);
    return *si ? arena_printf("%s (%s)", fmt_group(v), si) : fmt_group(v);
}

void report_text(const Graph *g, const Plan *plan, FILE *out) {
    Totals t;
    report_totals(g, &t);
    const Node *in = g->nodes[0];
    fprintf(out, "network %s  (%s)  input %s\n\n", g->name, g->file ? g->file->name : "?",
            shape_str(in->shape));
    int wname = 5, wkind = 4, wshape = 6;
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        int l = (int)strlen(n->name);
        if (l > wname) wname = l;
        l = (int)strlen(kind_label(n));
        if (l > wkind) wkind = l;
        l = (int)strlen(shape_str(n->shape)) - 2 * (n->shape.rank == 3);   /* '×' is 2 bytes */
        if (l > wshape) wshape = l;
    }
    if (wname > 48) wname = 48;
    fprintf(out, "%5s  %-*s  %-*s  %-*s  %13s  %17s  %11s  %13s\n", "line", wname, "layer", wkind, "kind",
            wshape, "output", "params", "MACs", "RF size/jump", "act. bytes");
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        const char *sh = shape_str(n->shape);
        int pad = wshape + 2 * (n->shape.rank == 3);
        fprintf(out, "%5d  %-*s  %-*s  %-*s  %13s  %17s  %11s  %13s\n", n->loc.line, wname, n->name,
                wkind, kind_label(n), pad, sh, fmt_group(n->params), fmt_group(n->macs), rf_text(n),
                fmt_group(n->act_bytes));
    }
    /* each conv's algorithm in the generated code, and why; each conv's,
     * dense layer's, pool's and residual add's thread plan for an image on its own
     * (lower_conv.c) */
    bool any = false;
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        bool pool = (n->kind->id == K_MAXPOOL || n->kind->id == K_AVGPOOL) && n->in[0]->shape.sp != 3;
        bool add = n->kind->id == K_ADD || n->kind->id == K_SUB || n->kind->id == K_MEAN;
        if (n->kind->id != K_CONV && n->kind->id != K_DENSE && !pool && !add) continue;
        if (!any) fprintf(out, "\nalgorithms and threads (target %s)\n%5s  %-*s  %-20s  %-40s  %s\n", target->name,
                          "line", wname, "layer", "algorithm", "threads (one image)", "why this algorithm");
        any = true;
        const char *why = "", *twhy;
        const char *name = n->kind->id == K_DENSE ? "matrix-vector" : pool ? "window loops" : add ? "one pass"
                         : conv_algo_name(conv_algo_why(n, &why));
        if (layer_blas(n, plan->standalone)) name = n->kind->id == K_DENSE ? "OpenBLAS sgemv" : "im2col+gemm";
        if (n->q8) {                  /* an int8 build's int8 layer (q8.m4) */
            name = n->kind->id != K_CONV ? arena_printf("int8 %s", name)
                   : quant_conv_gemm(n) ? "int8 product" : "int8 direct";
            why = "int8 (--quantize int8)";
        }
        layer_shared(n, plan->standalone, &twhy);
        fprintf(out, "%5d  %-*s  %-20s  %-40s  %s%s\n", n->loc.line, wname, n->name, name, twhy, why,
                layer_blas(n, plan->standalone) && n->kind->id == K_CONV && !n->q8 ? " (OpenBLAS)" : "");
    }
    fprintf(out, "\ntotals\n");
    fprintf(out, "  %-26s %s\n", "params", with_si(t.params));
    fprintf(out, "  %-26s %s\n", "MACs (conv, dense)", with_si(t.macs));
    fprintf(out, "  %-26s %s\n", "FLOPs (2 x MACs)", with_si(t.flops));
    fprintf(out, "  %-26s %s\n", "other ops (not in FLOPs)", with_si(t.other_ops));
    fprintf(out, "  %-26s %s\n", "weight bytes (BN folded)", with_si(t.weight_bytes));
    fprintf(out, "  %-26s %s\n", "activation bytes, sum", with_si(t.activation_bytes_sum));
    fprintf(out, "  %-26s %s\n", "activation bytes, peak", with_si(t.activation_bytes_peak));
    if (plan) {
        fprintf(out, "  %-26s %s  (folded, fused, planned; sum %s)\n", "arena of generated code",
                with_si(plan->arena_bytes), fmt_group(plan->tensors_bytes));
        /* why the arena is not the activation peak: it holds the generated
         * code's buffers (activations fused, the output the caller's), conv
         * scratch, and what placement cannot fill */
        fprintf(out, "    %-24s %s  (at %s: buffers %s + conv scratch %s)\n", "= live at its peak step",
                fmt_group(plan->live_bytes), plan->live_at, fmt_group(plan->live_bytes - plan->scratch_bytes),
                fmt_group(plan->scratch_bytes));
        fprintf(out, "    %-24s %s\n", "+ placement gaps", fmt_group(plan->arena_bytes - plan->live_bytes));
        fprintf(out, "  %-26s %s (%s; arena slots aligned to %d bytes)\n", "target", target->name,
                target->ram_first ? "kernels without scratch" : "kernels for speed", target->align);
    }
}

static cJSON *shape_json(Shape s) {
    cJSON *a = cJSON_CreateArray();
    long long dims[4];
    int k = shape_dims(s, dims);
    for (int i = 0; i < k; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)dims[i]));
    return a;
}

static cJSON *pair_or_num(long long h, long long w) {
    if (h == w) return cJSON_CreateNumber((double)h);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)h));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)w));
    return a;
}

static void int8_json(const Graph *g, const Graph *planned, const CalibOptions *o, cJSON *root);

int report_json(const Graph *g, const Plan *plan, const Graph *planned, const CalibOptions *cal, FILE *out) {
    Totals t;
    report_totals(g, &t);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "network", g->name);
    cJSON_AddStringToObject(root, "file", g->file ? g->file->name : "");
    cJSON_AddItemToObject(root, "input", shape_json(g->nodes[0]->shape));
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 1; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", n->name);
        cJSON_AddStringToObject(l, "kind", n->kind->name);
        if (n->act != ACT_NONE) cJSON_AddStringToObject(l, "activation", act_defs[n->act].name);
        cJSON_AddStringToObject(l, "file", n->loc.file ? n->loc.file->name : "");
        cJSON_AddNumberToObject(l, "line", n->loc.line);
        cJSON_AddNumberToObject(l, "column", n->loc.col);
        cJSON *ins = cJSON_AddArrayToObject(l, "inputs");
        for (int j = 0; j < n->nin; j++) cJSON_AddItemToArray(ins, cJSON_CreateString(n->in[j]->name));
        cJSON_AddItemToObject(l, "out_shape", shape_json(n->shape));
        cJSON_AddNumberToObject(l, "params", (double)n->params);
        cJSON_AddNumberToObject(l, "macs", (double)n->macs);
        cJSON_AddNumberToObject(l, "other_ops", (double)n->other_ops);
        if (n->kind->id == K_CONV) {          /* its algorithm in the generated code, and why */
            const char *why;
            cJSON_AddStringToObject(l, "algorithm", n->q8 ? (quant_conv_gemm(n) ? "int8 product" : "int8 direct")
                                                          : conv_algo_name(conv_algo_why(n, &why)));
            if (n->q8) why = "int8 (--quantize int8)";
            cJSON_AddStringToObject(l, "algorithm_why", why);
            cJSON_AddBoolToObject(l, "blas", layer_blas(n, plan->standalone));
            cJSON_AddBoolToObject(l, "tuned", n->tuned);     /* chosen by the tune file */
            cJSON *can = cJSON_AddArrayToObject(l, "algorithms_possible");   /* its words in a tune file */
            for (int a = 0; a < CONV_NALGO; a++)
                if (conv_algo_ok(n, (ConvAlgo)a)) cJSON_AddItemToArray(can, cJSON_CreateString(conv_algo_key((ConvAlgo)a)));
            cJSON_AddStringToObject(l, "tune_key", tune_conv_key(n, plan->standalone));
        }
        if (n->kind->id == K_CONV || n->kind->id == K_DENSE || n->kind->id == K_MAXPOOL ||
            n->kind->id == K_AVGPOOL || n->kind->id == K_ADD || n->kind->id == K_SUB ||
            n->kind->id == K_MEAN) {   /* the thread plan, an image on its own */
            const char *why;
            cJSON_AddBoolToObject(l, "shared", layer_shared(n, plan->standalone, &why));
            cJSON_AddStringToObject(l, "threads", why);
        }
        if (n->rf_valid) {
            bool sig = n->shape.sp == 1;
            cJSON_AddItemToObject(l, "rf_size", sig ? cJSON_CreateNumber((double)n->rf_w) : pair_or_num(n->rf_h, n->rf_w));
            cJSON_AddItemToObject(l, "rf_jump", sig ? cJSON_CreateNumber((double)n->jump_w)
                                                    : pair_or_num(n->jump_h, n->jump_w));
        } else {
            cJSON_AddNullToObject(l, "rf_size");
            cJSON_AddNullToObject(l, "rf_jump");
        }
        cJSON_AddNumberToObject(l, "activation_bytes", (double)n->act_bytes);
        cJSON_AddItemToArray(layers, l);
    }
    cJSON *tot = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddNumberToObject(tot, "params", (double)t.params);
    cJSON_AddNumberToObject(tot, "macs", (double)t.macs);
    cJSON_AddNumberToObject(tot, "flops", (double)t.flops);
    cJSON_AddNumberToObject(tot, "other_ops", (double)t.other_ops);
    cJSON_AddNumberToObject(tot, "weight_bytes", (double)t.weight_bytes);
    cJSON_AddNumberToObject(tot, "activation_bytes_sum", (double)t.activation_bytes_sum);
    cJSON_AddNumberToObject(tot, "activation_bytes_peak", (double)t.activation_bytes_peak);
    if (plan) {
        cJSON_AddNumberToObject(tot, "arena_bytes", (double)plan->arena_bytes);
        cJSON_AddNumberToObject(tot, "arena_tensors_bytes", (double)plan->tensors_bytes);
        cJSON_AddNumberToObject(tot, "arena_live_bytes", (double)plan->live_bytes);
        cJSON_AddNumberToObject(tot, "arena_scratch_bytes", (double)plan->scratch_bytes);
        cJSON_AddStringToObject(tot, "arena_live_step", plan->live_at);
        cJSON_AddStringToObject(tot, "target", target->name);
    }
    if (planned && cal) int8_json(g, planned, cal, root);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return -1;
    fputs(s, out);
    fputc('\n', out);
    free(s);
    return 0;
}

/* The int8 plan of a quantized build (--quantize int8 --report): per layer
 * of the generated code (planned: after the inference passes), the range
 * its output had over the calibration images (that of the layer of the
 * network as written whose output it holds: Node.value), the range kept,
 * and the scale and zero point that follow (quant.c); then the weights'
 * bytes, float and int8. */
typedef struct Int8Row {
    const Node *n, *v;        /* the planned layer; the node of g whose output it holds */
    QuantAffine q;
    long long wf, wq;         /* its weights' bytes, float and int8 (0 but convs and dense layers) */
} Int8Row;

static Int8Row int8_row(const Graph *g, const Node *n) {
    Int8Row r = { n, g->nodes[n->value], { 1, 0 }, 0, 0 };
    if (r.v->cal) quant_affine(r.v->cal_lo, r.v->cal_hi, &r.q);
    if (n->kind->id == K_CONV || n->kind->id == K_DENSE) {
        ParamSpec ps[MAX_PARAM_TENSORS];
        weights_spec((Node *)n, ps);          /* ps[0]: the weight (only its size is read) */
        r.wf = 4 * (ps[0].numel + n->out);
        r.wq = n->q8 ? ps[0].numel + 4 * n->out + 8 * n->out    /* int8 weights; per channel an int32 bias,
                                                                   an int32 multiplier and a shift */
                     : r.wf;                                   /* kept float */
    }
    return r;
}

/* what precision a layer's output is in, for the report: "int8", or
 * "float: WHY", with the copy made for readers of the other precision */
static const char *int8_precision(const Node *n) {
    const char *p = n->q8 ? "int8"
                    : n->q_float ? arena_printf("float: %s", n->q_float)
                    : n->kind->id == K_INPUT ? "float: read by float layers only" : "float";
    if (n->q_copy) p = arena_printf("%s; %s copy for its %s readers", p, n->q8 ? "a float" : "an int8",
                                    n->q8 ? "float" : "int8");
    return p;
}

void report_int8(const Graph *g, const Graph *planned, const CalibOptions *o, FILE *out) {
    fprintf(out, "\nint8 (calibration: %s over %s images of %s)\n", o->method, fmt_group(o->used), o->data);
    fprintf(out, "%5s  %-28s %-12s %-25s %-25s %12s %6s  %s\n", "line", "layer", "output", "range seen",
            "range kept", "scale", "zero", "runs in");
    long long wf = 0, wq = 0;
    for (int i = 0; i < planned->nnodes; i++) {
        if (planned->nodes[i]->removed) continue;
        Int8Row r = int8_row(g, planned->nodes[i]);
        const Node *n = r.n, *v = r.v;
        const char *name = n->act != ACT_NONE ? arena_printf("%s (+%s)", n->name, act_defs[n->act].name) : n->name;
        if (!v->cal) {
            fprintf(out, "%5d  %-28s %-12s no finite output seen\n", n->loc.line, name, shape_join(n->shape, "x"));
        } else {
            char seen[64], kept[64];
            snprintf(seen, sizeof seen, "[%.5g, %.5g]", v->cal_min, v->cal_max);
            snprintf(kept, sizeof kept, "[%.5g, %.5g]", v->cal_lo, v->cal_hi);
            bool mapped = n->q8 || n->q_copy;       /* an int8 tensor holds it: its map */
            fprintf(out, "%5d  %-28s %-12s %-25s %-25s %12s %6s  %s%s\n", n->loc.line, name, shape_join(n->shape, "x"),
                    seen, kept, mapped ? arena_printf("%.6g", (double)r.q.scale) : "-",
                    mapped ? arena_printf("%d", r.q.zp) : "-", int8_precision(n),
                    v->cal_nan ? arena_printf("  (%s not finite)", fmt_group(v->cal_nan)) : "");
        }
        wf += r.wf, wq += r.wq;
    }
    fprintf(out, "weights of the convs and dense layers: %s bytes float, %s bytes in this build (int8 layers: "
            "weights int8; per channel an int32 bias, an int32 multiplier and a shift)\n", fmt_group(wf),
            fmt_group(wq));
}

static void int8_json(const Graph *g, const Graph *planned, const CalibOptions *o, cJSON *root) {
    cJSON *q = cJSON_AddObjectToObject(root, "int8");
    cJSON_AddStringToObject(q, "calibration", o->method);
    cJSON_AddStringToObject(q, "data", o->data);
    cJSON_AddNumberToObject(q, "images", (double)o->used);
    if (strcmp(o->method, "percentile") == 0) cJSON_AddNumberToObject(q, "percentile", o->percentile);
    cJSON *layers = cJSON_AddArrayToObject(q, "layers");
    long long wf = 0, wq = 0;
    for (int i = 0; i < planned->nnodes; i++) {
        if (planned->nodes[i]->removed) continue;
        Int8Row r = int8_row(g, planned->nodes[i]);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", r.n->name);
        cJSON_AddStringToObject(l, "holds", r.v->name);       /* the layer as written whose output this is */
        cJSON_AddBoolToObject(l, "calibrated", r.v->cal);
        if (r.v->cal) {
            cJSON_AddNumberToObject(l, "min", r.v->cal_min);
            cJSON_AddNumberToObject(l, "max", r.v->cal_max);
            cJSON_AddNumberToObject(l, "lo", r.v->cal_lo);
            cJSON_AddNumberToObject(l, "hi", r.v->cal_hi);
            char sc[40];                      /* %.17g: the float32 scale exactly, as a double */
            snprintf(sc, sizeof sc, "%.17g", (double)r.q.scale);
            cJSON_AddRawToObject(l, "scale", sc);
            cJSON_AddNumberToObject(l, "zero_point", r.q.zp);
        }
        cJSON_AddNumberToObject(l, "not_finite", (double)r.v->cal_nan);
        cJSON_AddStringToObject(l, "precision", r.n->q8 ? "int8" : "float");
        if (!r.n->q8) cJSON_AddStringToObject(l, "float_why", r.n->q_float ? r.n->q_float : "read by float layers only");
        if (r.n->q_copy) cJSON_AddStringToObject(l, "copy", r.n->q8 ? "float" : "int8");
        cJSON_AddItemToArray(layers, l);
        wf += r.wf, wq += r.wq;
    }
    cJSON_AddNumberToObject(q, "weight_bytes_float", (double)wf);
    cJSON_AddNumberToObject(q, "weight_bytes_int8", (double)wq);
}
