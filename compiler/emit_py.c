/*
 * emit_py.c — `cnnc --emit pytorch`: an equivalent torch.nn.Module.
 *
 * The network is exported as written (no pass has run): one Python file with
 * a class whose state_dict() keys are the .net layer names, so a model
 * trained in PyTorch can be saved as safetensors and compiled with
 * `cnnc --weights` without renaming, and a torchvision model's state dict
 * loads into it with strict=True.
 *
 *   __init__  every layer with parameters (conv, dense, the norms) becomes a
 *             module registered at its dotted name: _put() creates a plain
 *             nn.Module() for each prefix ("layer1", "layer1.0") and adds the
 *             leaf under its last component, numeric or not ("0");
 *   forward   walks the IR in node order (it is topological), one statement
 *             per layer, the .net source line as a comment; layers without
 *             parameters are torch.nn.functional calls.
 */
#include "kind.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Shortest decimal that reads back as the same double (Python's repr). */
const char *py_float(double v) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eninf")) strcat(buf, ".0");      /* 1 -> 1.0 */
    return arena_strdup(buf);
}

const char *py_bool(bool b) { return b ? "True" : "False"; }

/* 3 or (3, 1) */
const char *py_pair(long long a, long long b) {
    return a == b ? arena_printf("%lld", a) : arena_printf("(%lld, %lld)", a, b);
}

const char *py_sizes(const Shape *in, long long d, long long h, long long w) {
    if (in->sp == 1) return arena_printf("%lld", w);
    if (in->sp != 3) return py_pair(h, w);
    return d == h && h == w ? arena_printf("%lld", d) : arena_printf("(%lld, %lld, %lld)", d, h, w);
}

const char *py_dims(const Shape *in) {
    return in->sp == 1 ? "1d" : in->sp == 3 ? "3d" : "2d";
}

static bool is_keyword(const char *s) {
    static const char *const kw[] = {
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
        "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
        "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
        /* names the generated forward uses itself */
        "x", "m", "self", "torch", "nn", "F", "_put",
    };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0) return true;
    return false;
}

/* A Python identifier for each node's value: the dotted name with '_' for
 * anything else, made unique (layer1.0.conv1 -> layer1_0_conv1). */
static const char **value_names(const Graph *g) {
    const char **v = arena_alloc(sizeof *v * (size_t)g->nnodes);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->kind->id == K_INPUT) { v[i] = "x"; continue; }
        char *s = arena_printf("%s%s", isdigit((unsigned char)n->name[0]) ? "l" : "", n->name);
        for (char *p = s; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_') *p = '_';
        const char *name = s;
        for (int k = 2;; k++) {
            bool clash = is_keyword(name);
            for (int j = 0; j < i && !clash; j++) clash = strcmp(v[j], name) == 0;
            if (!clash) break;
            name = arena_printf("%s_%d", s, k);
        }
        v[i] = name;
    }
    return v;
}

/* CamelCase class name from the network's name: lenet_relu -> LenetRelu */
/* The module-level helpers the network's kinds call (LayerKind.py_prelude),
 * each once, in kind order, followed by two blank lines. */
static const char *preludes(const Graph *g) {
    const char *text = "";
    for (int k = 0; k < K_COUNT; k++) {
        const LayerKind *kind = layer_kinds[k];
        if (!kind->py_prelude) continue;
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i]->kind == kind) {
                text = arena_printf("%s%s\n\n", text, kind->py_prelude);
                break;
            }
    }
    return text;
}

static const char *class_name(const char *net) {
    char *s = arena_alloc(strlen(net) + 4);
    size_t k = 0;
    bool up = true;
    if (!isalpha((unsigned char)net[0])) s[k++] = 'N';
    for (const char *p = net; *p; p++) {
        if (!isalnum((unsigned char)*p)) { up = true; continue; }
        s[k++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = false;
    }
    if (k == 0 || is_keyword(s)) s[k++] = '_';
    return s;
}

static const char *shape_py(Shape s) {
    return s.rank == 1 ? arena_printf("(%lld,)", s.c) : arena_printf("(%s)", shape_join(s, ", "));
}

/* The node's .net source line, trimmed and made safe for a comment. */
static const char *source_line(const Node *n) {
    const SrcFile *f = n->loc.file;
    if (!f || !f->text || n->loc.line < 1) return "";
    const char *p = f->text, *end = p + f->len;
    for (int l = 1; l < n->loc.line && p < end; p++)
        if (*p == '\n') l++;
    /* the statement without its comment, runs of blanks as one space */
    char *s = arena_alloc(96);
    size_t k = 0;
    bool quoted = false;
    for (; p < end && *p != '\n' && *p != '\r' && k < 90; p++) {
        if (*p == '"') quoted = !quoted;
        if (*p == '#' && !quoted) break;
        char c = (unsigned char)*p < 32 || *p == 127 ? ' ' : *p;
        if (c == ' ' && (k == 0 || s[k - 1] == ' ')) continue;
        s[k++] = c;
    }
    while (k > 0 && s[k - 1] == ' ') k--;
    if (k == 90) { memcpy(s + k, "...", 3); k += 3; }
    s[k] = 0;
    return s;
}

const char *py_call_module(const Node *n, const char *const *in, const char *mod) {
    (void)n;
    return arena_printf("%s(%s)", mod, in[0]);
}

const char *py_act(ActKind a, const double *p, const char *x) {
    const ActDef *d = &act_defs[a];
    return arena_printf(d->torch, x, d->nparam > 0 ? py_float(p[0]) : "", d->nparam > 1 ? py_float(p[1]) : "");
}

/* The expression computing node n from its inputs (value names v): its
 * kind's py_call hook (compiler/kind_*.c), given the inputs' names and its
 * module, m("name"), when the kind has one. */
static const char *node_expr(const Node *n, const char **v, const int *idx) {
    if (!n->kind->py_call) return NULL;
    const char **in = arena_alloc(sizeof *in * (size_t)(n->nin + 1));
    for (int i = 0; i < n->nin; i++) in[i] = v[idx[n->in[i]->id]];
    const char *mod = n->kind->py_module ? arena_printf("m(\"%s\")", n->name) : NULL;
    return n->kind->py_call(n, in, mod);
}

int emit_pytorch(const Graph *g, FILE *out) {
    const char **v = value_names(g);
    int *idx = arena_alloc(sizeof *idx * (size_t)(g->nnodes + 1));   /* node id -> position */
    int maxid = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->id > maxid) maxid = g->nodes[i]->id;
    if (maxid >= g->nnodes) idx = arena_alloc(sizeof *idx * (size_t)(maxid + 1));
    for (int i = 0; i < g->nnodes; i++) idx[g->nodes[i]->id] = i;
    const char *cls = class_name(g->name);
    const char *src = g->file ? g->file->name : "<stdin>";
    const Shape in = g->nodes[0]->shape;

    fprintf(out,
            "# %s — a PyTorch model generated by cnnc %s from %s.\n"
            "#\n"
            "# The network as written (nothing folded or fused).  state_dict() keys are the\n"
            "# .net layer names, so weights trained here, saved as safetensors, compile with\n"
            "#   cnnc %s --weights FILE.safetensors -o %s.c\n"
            "# Layout NCHW, float32.  The generated code belongs to you; no licence\n"
            "# condition applies.\n"
            "import torch\n"
            "import torch.nn as nn\n"
            "import torch.nn.functional as F\n"
            "\n"
            "NETWORK = \"%s\"\n"
            "INPUT_SHAPE = %s    # C, H, W (without the batch)\n"
            "OUTPUT_SHAPE = %s\n"
            "\n"
            "\n"
            "def _put(root, name, module):\n"
            "    \"\"\"Register module at the dotted name, creating an nn.Module() for each prefix.\"\"\"\n"
            "    *path, leaf = name.split(\".\")\n"
            "    for p in path:\n"
            "        if p not in root._modules:\n"
            "            root.add_module(p, nn.Module())\n"
            "        root = root._modules[p]\n"
            "    old = root._modules.get(leaf)\n"
            "    if old is not None:      # a container made earlier for a longer name: keep its children\n"
            "        for k, child in old._modules.items():\n"
            "            module.add_module(k, child)\n"
            "    root.add_module(leaf, module)\n"
            "\n"
            "\n"
            "%s"
            "class %s(nn.Module):\n"
            "    \"\"\"%s from %s: input [N, %s], output [N, %s].\"\"\"\n"
            "\n"
            "    def __init__(self):\n"
            "        super().__init__()\n",
            g->name, CNNC_VERSION, src, src, g->name, g->name, shape_py(in), shape_py(g->output->shape),
            preludes(g), cls, g->name, src,
            shape_join(in, ", "), shape_join(g->output->shape, ", "));
    int nmod = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (!n->kind->py_module) continue;
        fprintf(out, "        _put(self, \"%s\", %s)\n", n->name, n->kind->py_module(n));
        nmod++;
    }
    if (!nmod) fprintf(out, "        pass\n");

    fprintf(out, "\n    def forward(self, x):\n"
                 "        m = self.get_submodule\n");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->kind->id == K_INPUT) continue;
        const char *e = node_expr(n, v, idx);
        if (!e) {
            diag_error(n->loc, "%s '%s': --emit pytorch does not know this kind of layer", n->kind->name, n->name);
            return 1;
        }
        const char *lhs = arena_printf("        %s = %s", v[i], e);
        const Shape s = n->shape;
        const char *shp = arena_printf("[%s]", shape_join(s, ", "));
        const char *file = n->loc.file && n->loc.file != g->file ? arena_printf("%s:", n->loc.file->name) : "";
        fprintf(out, "%s  # %s%d: %s  -> %s\n", lhs, file, n->loc.line, source_line(n), shp);
    }
    fprintf(out, "        return %s\n", v[idx[g->output->id]]);

    fprintf(out,
            "\n"
            "\n"
            "Model = %s\n"
            "\n"
            "\n"
            "if __name__ == \"__main__\":\n"
            "    torch.manual_seed(0)\n"
            "    model = %s().eval()\n"
            "    params = sum(p.numel() for p in model.parameters())\n"
            "    with torch.no_grad():\n"
            "        y = model(torch.randn(1, *INPUT_SHAPE))\n"
            "    print(\"%s: %%d parameters, input %%s, output %%s\" %% (params, list(INPUT_SHAPE), list(y.shape[1:])))\n",
            cls, cls, g->name);
    return 0;
}
