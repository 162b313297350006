/*
 * emit_train.c — `cnnc --train -o NET_train.c`: training code for cnnrt.
 *
 * Writes the description train_desc.c builds (the network as written)
 * into C constants through templates/train.m4: value sizes, op geometry,
 * parameter offsets and PyTorch names.  The generated functions create a
 * cnnrt_net from it, so generated training and cnnc-train run the same
 * code on the same numbers.
 */
#include "cnnc.h"

#include "cnnrt_net.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void def(FILE *d, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void def(FILE *d, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(d, "m4_define([[%s]], [[", name);
    vfprintf(d, fmt, ap);
    fputs("]])m4_dnl\n", d);
    va_end(ap);
}

static const char *kind_name(cnnrt_op_kind k) {
    static const char *const names[] = { "?", "CNNRT_OP_CONV", "CNNRT_OP_DENSE", "CNNRT_OP_MAXPOOL",
        "CNNRT_OP_AVGPOOL", "CNNRT_OP_GAVGPOOL", "CNNRT_OP_GMAXPOOL", "CNNRT_OP_ADAPTAVG",
        "CNNRT_OP_BATCHNORM", "CNNRT_OP_LAYERNORM", "CNNRT_OP_INSTANCENORM", "CNNRT_OP_GROUPNORM",
        "CNNRT_OP_RELU", "CNNRT_OP_LEAKYRELU", "CNNRT_OP_TANH", "CNNRT_OP_SIGMOID", "CNNRT_OP_SOFTMAX",
        "CNNRT_OP_DROPOUT", "CNNRT_OP_ADD", "CNNRT_OP_CONCAT", "CNNRT_OP_COPY" };
    return (int)k > 0 && (size_t)k < sizeof names / sizeof *names ? names[k] : "?";
}

static const char *act_name(int a) {
    return arena_printf("CNNRT_ACT_%s", act_defs[a >= 0 && a < ACT_COUNT ? a : 0].m4);
}

/* a C float literal: 0.1f, 1e-05f, 0.0f */
static const char *flit(double v) {
    char *b = arena_printf("%.9g", v);
    return strpbrk(b, ".eni") ? arena_printf("%sf", b) : arena_printf("%s.0f", b);
}

static const char *shape_ascii(Shape s) {
    if (s.rank == 1) return arena_printf("[%lld]", s.c);
    return arena_printf("%lldx%lldx%lld", s.c, s.h, s.w);
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int emit_train(Graph *g, const char *out_c, const char *source_name) {
    cnnrt_net_desc *d = train_desc_build(g);
    if (!d) return 1;
    const char *h_path = arena_printf("%.*sh", (int)(strlen(out_c) - 1), out_c);
    char dtmpl[] = "/tmp/cnnc.XXXXXX";
    if (!mkdtemp(dtmpl)) {
        fprintf(stderr, "cnnc: error: cannot create a temporary folder: %s\n", strerror(errno));
        return 2;
    }
    const char *gpath = arena_printf("%s/globals.m4", dtmpl), *lpath = arena_printf("%s/layers.m4", dtmpl);
    const char *hcall = arena_printf("%s/header.m4", dtmpl);
    FILE *gf = fopen(gpath, "w"), *lf = fopen(lpath, "w"), *hf = fopen(hcall, "w");
    int nerr = 0;
    if (!gf || !lf || !hf) {
        fprintf(stderr, "cnnc: error: cannot write temporary files in %s\n", dtmpl);
        nerr = 2;
        goto out;
    }
    char *net = arena_strdup(g->name), *up = arena_strdup(g->name);
    for (char *p = up; *p; p++) if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
    def(gf, "NET", "%s", net);
    def(gf, "NET_UPPER", "%s", up);
    def(gf, "NET_SOURCE", "%s", source_name);
    def(gf, "NET_VERSION", "%s", CNNC_VERSION);
    def(gf, "NET_CFILE", "%s", base_name(out_c));
    def(gf, "NET_HFILE", "%s", base_name(h_path));
    def(gf, "NET_IN_C", "%d", d->in_c);
    def(gf, "NET_IN_H", "%d", d->in_h);
    def(gf, "NET_IN_W", "%d", d->in_w);
    def(gf, "NET_NVALUES", "%d", d->nvalues);
    def(gf, "NET_NOPS", "%d", d->nops);
    int ninputs = 0;
    for (int i = 0; i < d->nops; i++) ninputs += d->ops[i].nin;
    def(gf, "NET_NINPUTS", "%d", ninputs);
    def(gf, "NET_NTENSORS", "%d", d->ntensors > 0 ? d->ntensors : 1);
    def(gf, "NET_OUTPUT", "%d", d->output);
    def(gf, "NET_OUT_SIZE", "%d", d->out_size);
    def(gf, "NET_NPARAMS", "%ld", d->nparams);
    def(gf, "NET_NBUFFERS", "%ld", d->nbuffers);
    def(gf, "NET_HASH", "%llu", (unsigned long long)d->hash);

    fputs("M4_TRAIN_BEGIN[[]]m4_dnl\n", lf);
    for (int v = 0; v < d->nvalues; v++) {
        def(lf, "L_SIZE", "%ld", d->value_size[v]);
        def(lf, "L_LABEL", "%s %s", g->nodes[v]->name, shape_ascii(g->nodes[v]->shape));
        fputs("M4_TRAIN_VALUE[[]]m4_dnl\n", lf);
    }
    fputs("M4_TRAIN_INPUTS_BEGIN[[]]m4_dnl\n", lf);
    for (int i = 0; i < ninputs; i++) {
        def(lf, "L_V", "%d", d->inputs[i]);
        fputs(i % 16 == 15 ? "M4_TRAIN_INPUT\n   " : "M4_TRAIN_INPUT[[]]m4_dnl\n", lf);
    }
    fputs("M4_TRAIN_INPUTS_END[[]]m4_dnl\n", lf);
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        const Node *n = g->nodes[op->out];
        bool pool = op->kind == CNNRT_OP_MAXPOOL || op->kind == CNNRT_OP_AVGPOOL || op->kind == CNNRT_OP_GMAXPOOL;
        def(lf, "L_OPKIND", "%s", kind_name(op->kind));
        def(lf, "L_KIND", "%s", n->kind->name);
        def(lf, "L_LABEL", "%s", op->name);
        def(lf, "L_LINE", "%d", op->line);
        def(lf, "L_IN", "%s", shape_ascii(n->in[0]->shape));
        def(lf, "L_OUT", "%s", shape_ascii(n->shape));
        def(lf, "L_ACT", "%s", act_name(op->act));
        def(lf, "L_SLOPE", "%s", flit(op->slope));
        def(lf, "L_NIN", "%d", op->nin);
        def(lf, "L_IN0", "%d", op->in0);
        def(lf, "L_OUTV", "%d", op->out);
        def(lf, "L_POOL", "%d", pool);
        const cnnrt_conv_geom *c = &op->conv;
        const cnnrt_pool_geom *p = &op->pool;
        def(lf, "L_COUT", "%d", c->Cout);
        def(lf, "L_KH", "%d", pool ? p->KH : c->KH);
        def(lf, "L_KW", "%d", pool ? p->KW : c->KW);
        def(lf, "L_SH", "%d", pool ? p->SH : c->SH);
        def(lf, "L_SW", "%d", pool ? p->SW : c->SW);
        def(lf, "L_PT", "%d", pool ? p->PH : c->PT);
        def(lf, "L_PL", "%d", pool ? p->PW : c->PL);
        def(lf, "L_PB", "%d", c->PB);
        def(lf, "L_PR", "%d", c->PR);
        def(lf, "L_DH", "%d", c->DH);
        def(lf, "L_DW", "%d", c->DW);
        def(lf, "L_G", "%d", c->groups);
        def(lf, "L_CEIL", "%d", p->ceil_mode);
        def(lf, "L_INCPAD", "%d", p->count_include_pad);
        def(lf, "L_C", "%d", op->C);
        def(lf, "L_H", "%d", op->H);
        def(lf, "L_W", "%d", op->W);
        def(lf, "L_HW", "%d", op->HW);
        def(lf, "L_D", "%d", op->D);
        def(lf, "L_GROUPS", "%d", op->G);
        def(lf, "L_OH", "%d", op->OH);
        def(lf, "L_OW", "%d", op->OW);
        def(lf, "L_EPS", "%s", flit(op->eps));
        def(lf, "L_MOMENTUM", "%s", flit(op->momentum));
        def(lf, "L_P", "%s", flit(op->p));
        def(lf, "L_WOFF", "%ld", op->w);
        def(lf, "L_BOFF", "%ld", op->b);
        def(lf, "L_RMEAN", "%ld", op->rmean);
        def(lf, "L_RVAR", "%ld", op->rvar);
        fputs("M4_TRAIN_OP[[]]m4_dnl\n", lf);
    }
    fputs("M4_TRAIN_TENSORS_BEGIN[[]]m4_dnl\n", lf);
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        char dims[64] = "";
        for (int k = 0; k < 4; k++)
            snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%d", k ? ", " : "",
                     k < ts->ndim ? ts->dims[k] : 0);
        def(lf, "L_NAME", "%s", ts->name);
        def(lf, "L_NDIM", "%d", ts->ndim);
        def(lf, "L_DIMS", "%s", dims);
        def(lf, "L_OFF", "%ld", ts->off);
        def(lf, "L_NUMEL", "%ld", ts->numel);
        def(lf, "L_BUFFER", "%d", ts->buffer);
        def(lf, "L_OP", "%d", ts->op);
        fputs("M4_TRAIN_TENSOR[[]]m4_dnl\n", lf);
    }
    if (d->ntensors == 0) fputs("    { \"\", 0, { 0 }, 0, 0, 0, 0 },\n", lf);
    fputs("M4_TRAIN_FINISH[[]]m4_dnl\n", lf);
    fputs("M4_TRAIN_HEADER[[]]m4_dnl\n", hf);
    int closed = (fclose(gf) == 0) + (fclose(lf) == 0) + (fclose(hf) == 0);
    if (closed != 3) {
        fprintf(stderr, "cnnc: error: cannot write temporary files in %s\n", dtmpl);
        nerr = 2;
    }
    gf = lf = hf = NULL;
    if (!nerr) {
        const char *dir = m4_template_dir();
        const char *cnnc_m4 = arena_printf("%s/cnnc.m4", dir), *train_m4 = arena_printf("%s/train.m4", dir);
        const char *cfiles[] = { cnnc_m4, train_m4, gpath, lpath };
        const char *hfiles[] = { cnnc_m4, train_m4, gpath, hcall };
        const char **lists[] = { hfiles, cfiles }, *paths[] = { h_path, out_c };
        const int counts[] = { 4, 4 };
        if (m4_define_interface_hash(gpath) != 0) {
            fprintf(stderr, "cnnc: error: cannot write a temporary file in %s: %s\n", dtmpl, strerror(errno));
            nerr = 2;
        } else if (m4_write_outputs(lists, counts, paths, 2) != 0) {
            nerr = 2;
        }
    }
out:
    if (gf) fclose(gf);
    if (lf) fclose(lf);
    if (hf) fclose(hf);
    unlink(gpath);
    unlink(lpath);
    unlink(hcall);
    rmdir(dtmpl);
    return nerr;
}
