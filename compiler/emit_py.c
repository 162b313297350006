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
#include "cnnc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Shortest decimal that reads back as the same double (Python's repr). */
static const char *py_float(double v) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eninf")) strcat(buf, ".0");      /* 1 -> 1.0 */
    return arena_strdup(buf);
}

static const char *py_bool(bool b) { return b ? "True" : "False"; }

/* 3 or (3, 1) */
static const char *py_pair(long long a, long long b) {
    return a == b ? arena_printf("%lld", a) : arena_printf("(%lld, %lld)", a, b);
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
    return s.rank == 1 ? arena_printf("(%lld,)", s.c) : arena_printf("(%lld, %lld, %lld)", s.c, s.h, s.w);
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

static const char *act_wrap(ActKind a, double slope, const char *x) {
    return arena_printf(act_defs[a].torch, x, act_defs[a].slope ? py_float(slope) : "");
}

static bool has_module(const Node *n) {
    switch (n->kind->id) {
    case K_CONV: case K_DENSE: case K_BATCHNORM: case K_LAYERNORM: case K_INSTANCENORM: case K_GROUPNORM:
        return true;
    default:
        return false;
    }
}

/* The module constructor of a layer with parameters (has_module). */
static const char *module_ctor(const Node *n) {
    const Shape *in = &n->in[0]->shape;
    const char *eps = py_float(n->eps);
    switch (n->kind->id) {
    case K_CONV: {
        char a[256];
        size_t k = (size_t)snprintf(a, sizeof a, "nn.Conv2d(%lld, %lld, %s", in->c, n->out, py_pair(n->kh, n->kw));
        if (n->sh != 1 || n->sw != 1) k += (size_t)snprintf(a + k, sizeof a - k, ", stride=%s", py_pair(n->sh, n->sw));
        if (n->pt == n->pb && n->pl == n->pr && (n->pt || n->pl))
            k += (size_t)snprintf(a + k, sizeof a - k, ", padding=%s", py_pair(n->pt, n->pl));
        if (n->dh != 1 || n->dw != 1)
            k += (size_t)snprintf(a + k, sizeof a - k, ", dilation=%s", py_pair(n->dh, n->dw));
        if (n->groups != 1) k += (size_t)snprintf(a + k, sizeof a - k, ", groups=%lld", n->groups);
        if (!n->bias) k += (size_t)snprintf(a + k, sizeof a - k, ", bias=False");
        snprintf(a + k, sizeof a - k, ")");
        return arena_strdup(a);
    }
    case K_DENSE:
        return arena_printf("nn.Linear(%lld, %lld%s)", in->c, n->out, n->bias ? "" : ", bias=False");
    case K_BATCHNORM:
        return arena_printf("nn.BatchNorm%dd(%lld, eps=%s, momentum=%s)", in->rank == 1 ? 1 : 2, in->c, eps,
                            py_float(n->momentum));
    case K_LAYERNORM:
        return arena_printf("nn.LayerNorm(%s, eps=%s, elementwise_affine=%s)",
                            in->rank == 1 ? arena_printf("[%lld]", in->c)
                                          : arena_printf("[%lld, %lld, %lld]", in->c, in->h, in->w),
                            eps, py_bool(n->affine));
    case K_INSTANCENORM:
        return arena_printf("nn.InstanceNorm2d(%lld, eps=%s, affine=%s)", in->c, eps, py_bool(n->affine));
    case K_GROUPNORM:
        return arena_printf("nn.GroupNorm(%lld, %lld, eps=%s, affine=%s)", n->groups, in->c, eps, py_bool(n->affine));
    default:
        return "nn.Identity()";
    }
}

/* The expression computing node n from its inputs (value names v). */
static const char *node_expr(const Node *n, const char **v, const int *idx) {
    const char *x = n->nin ? v[idx[n->in[0]->id]] : "x";
    const char *mod = has_module(n) ? arena_printf("m(\"%s\")", n->name) : NULL;
    switch (n->kind->id) {
    case K_CONV: {
        const char *arg = x;
        if (n->pt != n->pb || n->pl != n->pr)        /* asymmetric ('same' with an even kernel) */
            arg = arena_printf("F.pad(%s, (%lld, %lld, %lld, %lld))", x, n->pl, n->pr, n->pt, n->pb);
        return act_wrap(n->act, n->act_slope, arena_printf("%s(%s)", mod, arg));
    }
    case K_DENSE:
        return act_wrap(n->act, n->act_slope, arena_printf("%s(%s)", mod, x));
    case K_BATCHNORM: case K_LAYERNORM: case K_INSTANCENORM: case K_GROUPNORM:
        return arena_printf("%s(%s)", mod, x);
    case K_FLATTEN: return arena_printf("torch.flatten(%s, 1)", x);
    case K_MAXPOOL:
        return arena_printf("F.max_pool2d(%s, %s, %s, %s%s)", x, py_pair(n->kh, n->kw), py_pair(n->sh, n->sw),
                            py_pair(n->pt, n->pl), n->ceil ? ", ceil_mode=True" : "");
    case K_AVGPOOL:
        return arena_printf("F.avg_pool2d(%s, %s, %s, %s%s%s)", x, py_pair(n->kh, n->kw), py_pair(n->sh, n->sw),
                            py_pair(n->pt, n->pl), n->ceil ? ", ceil_mode=True" : "",
                            n->count_include_pad ? "" : ", count_include_pad=False");
    case K_GAVGPOOL: return arena_printf("F.adaptive_avg_pool2d(%s, 1)", x);
    case K_GMAXPOOL: return arena_printf("F.adaptive_max_pool2d(%s, 1)", x);
    case K_ADAPTAVG: return arena_printf("F.adaptive_avg_pool2d(%s, %s)", x, py_pair(n->oh, n->ow));
    case K_SOFTMAX: return arena_printf("F.softmax(%s, dim=1)", x);
    case K_DROPOUT: return arena_printf("F.dropout(%s, %s, self.training)", x, py_float(n->p));
    case K_IDENTITY: return x;
    case K_ADD:
    case K_CONCAT: {
        size_t cap = 64, len = 0;
        for (int i = 0; i < n->nin; i++) cap += strlen(v[idx[n->in[i]->id]]) + 4;
        char *s = arena_alloc(cap);
        if (n->kind->id == K_CONCAT) len += (size_t)snprintf(s + len, cap - len, "torch.cat([");
        for (int i = 0; i < n->nin; i++)
            len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? (n->kind->id == K_ADD ? " + " : ", ") : "",
                                    v[idx[n->in[i]->id]]);
        if (n->kind->id == K_CONCAT) snprintf(s + len, cap - len, "], 1)");
        return s;
    }
    default:                                  /* relu & co. as layers */
        return act_of_kind(n->kind->id) ? act_wrap(act_of_kind(n->kind->id), n->slope, x) : NULL;
    }
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
            "class %s(nn.Module):\n"
            "    \"\"\"%s from %s: input [N, %s], output [N, %s].\"\"\"\n"
            "\n"
            "    def __init__(self):\n"
            "        super().__init__()\n",
            g->name, CNNC_VERSION, src, src, g->name, g->name, shape_py(in), shape_py(g->output->shape), cls,
            g->name, src,
            in.rank == 1 ? arena_printf("%lld", in.c) : arena_printf("%lld, %lld, %lld", in.c, in.h, in.w),
            g->output->shape.rank == 1 ? arena_printf("%lld", g->output->shape.c)
                : arena_printf("%lld, %lld, %lld", g->output->shape.c, g->output->shape.h, g->output->shape.w));
    int nmod = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (!has_module(n)) continue;
        fprintf(out, "        _put(self, \"%s\", %s)\n", n->name, module_ctor(n));
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
        const char *shp = s.rank == 1 ? arena_printf("[%lld]", s.c) : arena_printf("[%lld, %lld, %lld]", s.c, s.h, s.w);
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
