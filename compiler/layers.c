/*
 * layers.c — the one table of layer kinds.
 *
 * Each entry gives the spelling, the attributes with their defaults and the
 * Node field each one sets, which attributes may be written positionally,
 * and the bare words (flags) that set attributes; every activation's name
 * is also a flag of a kind with an `act` attribute.  The activations and
 * their layer kinds come from runtime/cnnrt_acts.def.  sema.c reads arguments through this table, shape.c holds
 * the shape rule of each kind, and `cnnc --help-layers` prints it, so the
 * language reference cannot drift from what the parser accepts.
 *
 * Defaults written "=kernel" copy another attribute (pool stride).
 */
#include "cnnc.h"

#include <stddef.h>
#include <string.h>

#define F(x) offsetof(Node, x)

#define KERNEL   { "kernel", A_PAIR, 'k', NULL, "window size: 3 or 3x1 (HxW); shorthand k3, k3x1", F(kh), F(kw) }
#define STRIDE1  { "stride", A_PAIR, 's', "1", "step between windows; shorthand s2", F(sh), F(sw) }
#define STRIDEK  { "stride", A_PAIR, 's', "=kernel", "step between windows (default: the kernel); shorthand s2", \
                   F(sh), F(sw) }
#define PAD      { "padding", A_PAD, 'p', "0", "zeros added on each side: N, HxW or same; shorthand p1", \
                   F(pt), 0 }
#define EPS      { "eps", A_EPS, 0, "1e-5", "added to the variance", F(eps), 0 }

const LayerKind layer_kinds[K_COUNT] = {
    [K_INPUT] = { K_INPUT, "input", NULL, "the network input", {0}, {{0}}, {{0}}, false, "-" },
    [K_CONV] = { K_CONV, "conv", "conv2d", "2-D convolution", { "out" }, {
            { "out", A_INT, 0, NULL, "output channels", F(out), 0 },
            KERNEL, STRIDE1, PAD,
            { "dilation", A_PAIR, 'd', "1", "spacing of kernel taps; shorthand d2", F(dh), F(dw) },
            { "groups", A_INT, 'g', "1", "channel groups (= channels for depthwise); shorthand g32",
              F(groups), 0 },
            { "bias", A_BOOL, 0, "true", "add a learned bias (flag nobias turns it off)", F(bias), 0 },
            { "act", A_ACT, 0, "none", "activation applied to the output", F(act), 0 },
            { "slope", A_FLOAT, 0, "0.01", "negative slope when act is leakyrelu", F(slope), F(act_slope) },
        }, { { "nobias", "bias", "false" }, { "same", "padding", "same" } },
        true, "nn.Conv2d" },
    [K_DENSE] = { K_DENSE, "dense", "linear", "fully connected layer", { "out" }, {
            { "out", A_INT, 0, NULL, "output features", F(out), 0 },
            { "bias", A_BOOL, 0, "true", "add a learned bias (flag nobias turns it off)", F(bias), 0 },
            { "act", A_ACT, 0, "none", "activation applied to the output", F(act), 0 },
            { "slope", A_FLOAT, 0, "0.01", "negative slope when act is leakyrelu", F(slope), F(act_slope) },
        }, { { "nobias", "bias", "false" } }, true, "nn.Linear" },
    [K_FLATTEN] = { K_FLATTEN, "flatten", NULL, "C×H×W to [C·H·W], in C,H,W order", {0}, {{0}}, {{0}},
        true, "nn.Flatten" },
    [K_MAXPOOL] = { K_MAXPOOL, "maxpool", NULL, "max pooling", { "kernel", "stride" }, {
            KERNEL, STRIDEK, PAD,
            { "ceil", A_BOOL, 0, "false", "ceil instead of floor for the output size", F(ceil), 0 },
        }, { { "ceil", "ceil", "true" } }, true, "nn.MaxPool2d" },
    [K_AVGPOOL] = { K_AVGPOOL, "avgpool", NULL, "average pooling", { "kernel", "stride" }, {
            KERNEL, STRIDEK, PAD,
            { "ceil", A_BOOL, 0, "false", "ceil instead of floor for the output size", F(ceil), 0 },
            { "count_include_pad", A_BOOL, 0, "true", "padding zeros count in the divisor",
              F(count_include_pad), 0 },
        }, { { "ceil", "ceil", "true" }, { "exclude_pad", "count_include_pad", "false" } },
        true, "nn.AvgPool2d" },
    [K_GAVGPOOL] = { K_GAVGPOOL, "globalavgpool", "gap", "mean over H×W: C×H×W to C×1×1", {0}, {{0}}, {{0}},
        true, "nn.AdaptiveAvgPool2d(1)" },
    [K_GMAXPOOL] = { K_GMAXPOOL, "globalmaxpool", NULL, "max over H×W: C×H×W to C×1×1", {0}, {{0}}, {{0}},
        true, "nn.AdaptiveMaxPool2d(1)" },
    [K_ADAPTAVG] = { K_ADAPTAVG, "adaptiveavgpool", NULL, "average pooling to a fixed output size", { "size" }, {
            { "size", A_PAIR, 0, NULL, "output size: N or HxW", F(oh), F(ow) },
        }, {{0}}, true, "nn.AdaptiveAvgPool2d" },
    [K_BATCHNORM] = { K_BATCHNORM, "batchnorm", "bn", "batch normalisation (per channel)", {0}, {
            EPS, { "momentum", A_FRAC, 0, "0.1", "running-average momentum (training)",
              F(momentum), 0 },
        }, {{0}}, true, "nn.BatchNorm2d / nn.BatchNorm1d" },
    [K_LAYERNORM] = { K_LAYERNORM, "layernorm", NULL, "normalise each sample over all of C×H×W (or D)", {0}, {
            EPS, { "affine", A_BOOL, 0, "true", "learned elementwise scale and shift", F(affine), 0 },
        }, { { "noaffine", "affine", "false" } }, true, "nn.LayerNorm([C,H,W])" },
    [K_INSTANCENORM] = { K_INSTANCENORM, "instancenorm", NULL, "normalise each channel of each sample", {0}, {
            EPS, { "affine", A_BOOL, 0, "false", "learned per-channel scale and shift", F(affine), 0 },
        }, { { "affine", "affine", "true" } }, true, "nn.InstanceNorm2d" },
    [K_GROUPNORM] = { K_GROUPNORM, "groupnorm", NULL, "normalise groups of channels of each sample", { "groups" }, {
            { "groups", A_INT, 'g', NULL, "number of channel groups", F(groups), 0 },
            EPS, { "affine", A_BOOL, 0, "true", "learned per-channel scale and shift", F(affine), 0 },
        }, { { "noaffine", "affine", "false" } }, true, "nn.GroupNorm" },
#define SLOPE_0 {0}
#define SLOPE_1 { "slope" }
#define SLOPE_ATTR_0 {{0}}
#define SLOPE_ATTR_1 { { "slope", A_FLOAT, 0, "0.01", "negative slope", F(slope), F(act_slope) } }
#define CNNRT_ACT(ID, NAME, ALIAS, SLOPE, SUMMARY, MODULE, TORCH, FWD, BWD) \
    [K_##ID] = { K_##ID, NAME, ALIAS, SUMMARY, SLOPE_##SLOPE, SLOPE_ATTR_##SLOPE, {{0}}, true, MODULE },
#include "cnnrt_acts.def"
#undef CNNRT_ACT
    [K_SOFTMAX] = { K_SOFTMAX, "softmax", NULL, "softmax over the features (or channels)", {0}, {{0}}, {{0}},
        true, "nn.Softmax(dim=1)" },
    [K_DROPOUT] = { K_DROPOUT, "dropout", NULL, "inverted dropout (identity at inference)", { "p" }, {
            { "p", A_PROB, 0, "0.5", "probability of zeroing a value", F(p), 0 },
        }, {{0}}, true, "nn.Dropout" },
    [K_IDENTITY] = { K_IDENTITY, "identity", NULL, "passes its input through", {0}, {{0}}, {{0}},
        true, "nn.Identity" },
    [K_ADD] = { K_ADD, "add", NULL, "elementwise sum (made by residual)", {0}, {{0}}, {{0}}, false, "a + b" },
    [K_CONCAT] = { K_CONCAT, "concat", NULL, "channel concatenation (made by concat)", {0}, {{0}}, {{0}},
        false, "torch.cat(dim=1)" },
};

const ActDef act_defs[ACT_COUNT] = {
    [ACT_NONE] = { "none", "NONE", K_COUNT, false, "%s" },
#define CNNRT_ACT(ID, NAME, ALIAS, SLOPE, SUMMARY, MODULE, TORCH, FWD, BWD) \
    [ACT_##ID] = { NAME, #ID, K_##ID, SLOPE, TORCH },
#include "cnnrt_acts.def"
#undef CNNRT_ACT
};

ActKind act_of_kind(KindId k) {
    for (int a = 1; a < ACT_COUNT; a++)
        if (act_defs[a].layer == k) return (ActKind)a;
    return ACT_NONE;
}

int layer_act_attr(const LayerKind *k) {
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (k->attrs[i].type == A_ACT) return i;
    return -1;
}

/* The activations' names, then none: "relu, leakyrelu, ... or none". */
static void act_list(char *buf, size_t n, const char *sep, const char *last) {
    size_t o = 0;
    for (int a = 1; a < ACT_COUNT; a++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", act_defs[a].name, a + 1 < ACT_COUNT ? sep : last);
    snprintf(buf + o, n - o, "none");
}

const char *act_choices(void) {
    static char buf[256];
    if (!buf[0]) act_list(buf, sizeof buf, ", ", " or ");
    return buf;
}

const LayerKind *layer_lookup(const char *name) {
    for (int i = 0; i < K_COUNT; i++) {
        const LayerKind *k = &layer_kinds[i];
        if (!k->user) continue;
        if (strcmp(k->name, name) == 0 || (k->alias && strcmp(k->alias, name) == 0))
            return k;
    }
    return NULL;
}

int layer_kind_names(const char **out, int max) {
    int n = 0;
    for (int i = 0; i < K_COUNT && n < max; i++) {
        if (!layer_kinds[i].user) continue;
        out[n++] = layer_kinds[i].name;
        if (layer_kinds[i].alias && n < max) out[n++] = layer_kinds[i].alias;
    }
    return n;
}

static const char *type_name(AttrType t) {
    switch (t) {
    case A_INT: return "integer";
    case A_PAIR: return "N or HxW";
    case A_PAD: return "N, HxW or same";
    case A_FLOAT: case A_EPS: case A_FRAC: case A_PROB: return "number";
    case A_BOOL: return "true/false";
    case A_ACT: {
        static char buf[256];
        if (!buf[0]) act_list(buf, sizeof buf, "|", "|");
        return buf;
    }
    }
    return "?";
}

void layer_print_help(FILE *out) {
    fputs("Layer kinds of the cnnc language (generated from compiler/layers.c).\n"
          "Write: KIND [NAME] [positional...] [attr=value...] [flags...]\n\n", out);
    for (int i = 0; i < K_COUNT; i++) {
        const LayerKind *k = &layer_kinds[i];
        if (!k->user) continue;
        fprintf(out, "%s%s%s — %s  (PyTorch: %s)\n", k->name, k->alias ? ", " : "",
                k->alias ? k->alias : "", k->summary, k->pytorch);
        if (k->positional[0]) {
            fputs("    positional:", out);
            for (int j = 0; j < 3 && k->positional[j]; j++)
                fprintf(out, " %s", k->positional[j]);
            fputc('\n', out);
        }
        for (int j = 0; j < MAX_ATTRS && k->attrs[j].name; j++) {
            const AttrDef *a = &k->attrs[j];
            char sh[16] = "";
            if (a->shorthand) snprintf(sh, sizeof sh, " [%cN]", a->shorthand);
            fprintf(out, "    %-18s %-32s %s%s; %s%s\n", a->name, type_name(a->type),
                    a->def ? "default " : "required", a->def ? a->def : "", a->help, sh);
        }
        for (int j = 0; j < MAX_FLAGS && k->flags[j].word; j++)
            fprintf(out, "    flag %-13s means %s=%s\n", k->flags[j].word, k->flags[j].attr,
                    k->flags[j].value);
        if (layer_act_attr(k) >= 0)
            for (int a = 1; a < ACT_COUNT; a++)
                fprintf(out, "    flag %-13s means act=%s\n", act_defs[a].name, act_defs[a].name);
        fputc('\n', out);
    }
}
