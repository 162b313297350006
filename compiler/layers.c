/*
 * layers.c — the table of layer kinds and activations, and lookups in it.
 *
 * layer_kinds[] points at each kind's description (compiler/kinds.def
 * lists them; each is defined in its compiler/kind_*.c file with its
 * spelling, attributes, defaults and the Node field each sets, positional
 * order, flags, and its hooks for every stage).  Every activation's name
 * is also a flag of a kind with an `act` attribute; the activations come
 * from runtime/cnnrt_acts.def.  sema.c reads arguments through the table
 * and `cnnc --help-layers` prints it, so the language reference cannot
 * drift from what the parser accepts.
 *
 * Defaults written "=kernel" copy another attribute (pool stride).
 */
#include "kind.h"

#include <string.h>

const LayerKind *const layer_kinds[K_COUNT] = {
#define KIND(ID, DESC) [K_##ID] = &DESC,
#include "kinds.def"
#undef KIND
};

#define ACT_P0 0, { NULL, NULL }, { 0, 0 }
#define ACT_P1(n0, d0, h0) 1, { n0, NULL }, { d0, 0 }
#define ACT_P2(n0, d0, h0, n1, d1, h1) 2, { n0, n1 }, { d0, d1 }
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y) \
    static bool bwd_y_##ID(double a, double b) { (void)a; (void)b; return BWD_Y; }
#include "cnnrt_acts.def"
#undef CNNRT_ACT

const ActDef act_defs[ACT_COUNT] = {
    [ACT_NONE] = { "none", "NONE", K_COUNT, 0, { NULL, NULL }, { 0, 0 }, "%s", NULL },
#define CNNRT_ACT(ID, NAME, ALIAS, PARAMS, SUMMARY, MODULE, TORCH, FWD, BWD, BWD_Y) \
    [ACT_##ID] = { NAME, #ID, K_##ID, PARAMS, TORCH, bwd_y_##ID },
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

const AttrDef *layer_attr(const LayerKind *k, const char *name) {
    for (int i = 0; i < MAX_ATTRS && k->attrs[i].name; i++)
        if (strcmp(k->attrs[i].name, name) == 0) return &k->attrs[i];
    return NULL;
}

const LayerKind *layer_lookup(const char *name) {
    for (int i = 0; i < K_COUNT; i++) {
        const LayerKind *k = layer_kinds[i];
        if (!k->user) continue;
        if (strcmp(k->name, name) == 0 || (k->alias && strcmp(k->alias, name) == 0))
            return k;
    }
    return NULL;
}

int layer_kind_names(const char **out, int max) {
    int n = 0;
    for (int i = 0; i < K_COUNT && n < max; i++) {
        if (!layer_kinds[i]->user) continue;
        out[n++] = layer_kinds[i]->name;
        if (layer_kinds[i]->alias && n < max) out[n++] = layer_kinds[i]->alias;
    }
    return n;
}

static const char *type_name(const AttrDef *a) {
    switch (a->type) {
    case A_INT: return "integer";
    case A_PAIR: return a->field3 ? "N, HxW or DxHxW" : "N or HxW";
    case A_PAD: return "N, HxW, DxHxW or same";
    case A_FLOAT: case A_EPS: case A_FRAC: case A_PROB: return "number";
    case A_BOOL: return "true/false";
    case A_COUNT0: return "integer >= 0";
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
        const LayerKind *k = layer_kinds[i];
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
            fprintf(out, "    %-18s %-32s %s%s; %s%s\n", a->name, type_name(a),
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
