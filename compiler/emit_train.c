/*
 * emit_train.c — `cnnc --train -o NET_train.c`: training code for cnnrt.
 *
 * Writes the description train_desc.c builds (the network as written)
 * as C constants, straight from the cnnrt_net_desc: value sizes, op
 * geometry, parameter offsets and PyTorch names.  templates/train.m4 holds
 * the text around them (the functions and the header).  The generated functions create a
 * cnnrt_net from it, so generated training and cnnc-train run the same
 * code on the same numbers.
 */
#include "kind.h"   /* em_float */

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
    m4_vdefine(d, name, fmt, ap);
    va_end(ap);
}

static const char *kind_name(cnnrt_op_kind k) {
    static const char *const names[] = { "?",
#define KIND_NAME_(NAME) "CNNRT_OP_" #NAME,
        CNNRT_OP_KINDS(KIND_NAME_, KIND_NAME_)
#undef KIND_NAME_
    };
    return (int)k > 0 && (size_t)k < sizeof names / sizeof *names ? names[k] : "?";
}

static const char *act_name(int a) {
    return arena_printf("CNNRT_ACT_%s", act_defs[a >= 0 && a < ACT_COUNT ? a : 0].m4);
}

/* a C float literal: 0.1f, 1e-05f, 0.0f */
static const char *flit(double v) { return arena_printf("%sf", em_float(v)); }

static const char *shape_ascii(Shape s) {
    return s.rank == 1 ? arena_printf("[%lld]", s.c) : shape_join(s, "x");
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* A plan's flags as C: "CNNRT_PLAN_INPLACE | CNNRT_PLAN_POOLFIRST", "0". */
static const char *plan_text(int f) {
    static const struct { int bit; const char *name; } names[] = {
        { CNNRT_PLAN_VIEW, "CNNRT_PLAN_VIEW" }, { CNNRT_PLAN_INPLACE, "CNNRT_PLAN_INPLACE" },
        { CNNRT_PLAN_POOLFIRST, "CNNRT_PLAN_POOLFIRST" }, { CNNRT_PLAN_RELU_AFTER, "CNNRT_PLAN_RELU_AFTER" },
        { CNNRT_PLAN_BNRELU, "CNNRT_PLAN_BNRELU" }, { CNNRT_PLAN_RELU_FUSED, "CNNRT_PLAN_RELU_FUSED" },
    };
    const char *s = "";
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (f & names[i].bit) s = arena_printf("%s%s%s", s, *s ? " | " : "", names[i].name);
    for (int k = 0; k < CNNRT_PLAN_MAX_SHARE; k++)
        if (f & (CNNRT_PLAN_SHARE0 << k))
            s = arena_printf("%s%s%s", s, *s ? " | " : "", k ? arena_printf("CNNRT_PLAN_SHARE0 << %d", k)
                                                                : "CNNRT_PLAN_SHARE0");
    return *s ? s : "0";
}

/* The description as C constants, written straight from the cnnrt_net_desc
 * (templates/train.m4 pastes this file unread): value sizes, op inputs,
 * ops, named tensors. */
/* The node whose value v is: its output, or (a value after the nodes') the
 * input of the activation split off it (train_desc.c). */
static const Node *node_of(const Graph *g, const cnnrt_net_desc *d, int v) {
    if (v < g->nnodes) return g->nodes[v];
    for (int i = 0; i < d->nops; i++)
        if (d->ops[i].nin == 1 && d->inputs[d->ops[i].in0] == v) return g->nodes[d->ops[i].out];
    return g->nodes[0];
}

static void write_data(FILE *f, const Graph *g, const cnnrt_net_desc *d, const char *net, int ninputs) {
    fprintf(f, "/* floats per image of every value (value 0 is the input) */\n"
               "static const long %s_value_size[%d] = {\n", net, d->nvalues);
    for (int v = 0; v < d->nvalues; v++)
        fprintf(f, "    %ld,   /* %s %s%s */\n", d->value_size[v], node_of(g, d, v)->name,
                shape_ascii(node_of(g, d, v)->shape), v < g->nnodes ? "" : ", before its activation");
    fprintf(f, "};\n\n/* the values each op reads, op after op (cnnrt_op.in0 indexes this) */\n"
               "static const int %s_inputs[%d] = {", net, ninputs);
    for (int i = 0; i < ninputs; i++)
        fprintf(f, "%s%d,", i % 16 == 0 ? "\n    " : " ", d->inputs[i]);
    fprintf(f, "\n};\n\nstatic const cnnrt_op %s_ops[%d] = {", net, d->nops);
    for (int i = 0; i < d->nops; i++) {
        const cnnrt_op *op = &d->ops[i];
        const Node *n = node_of(g, d, op->out);
        const cnnrt_conv_geom *c = &op->conv;
        const cnnrt_pool_geom *p = &op->pool;
        fprintf(f, "\n    /* %s: %s, line %d: %s -> %s */\n", op->name, n->kind->name, op->line,
                shape_ascii(n->in[0]->shape), shape_ascii(n->shape));
        fprintf(f, "    { .kind = %s, .name = \"%s\", .line = %d, .act = %s, .act_a = %s, .act_b = %s,\n",
                kind_name(op->kind), op->name, op->line, act_name(op->act), flit(op->act_a), flit(op->act_b));
        fprintf(f, "      .nin = %d, .in0 = %d, .out = %d,\n", op->nin, op->in0, op->out);
        static const cnnrt_conv_geom no_conv;
        static const cnnrt_pool_geom no_pool;
        /* the geometries an op's kind filled in (compiler/kind_*.c train hooks), whichever they are */
        if (memcmp(c, &no_conv, sizeof *c) != 0)
            fprintf(f, "      .conv = { .C = %d, .H = %d, .W = %d, .Cout = %d, .KH = %d, .KW = %d,\n"
                       "                .SH = %d, .SW = %d, .PT = %d, .PL = %d, .PB = %d, .PR = %d,\n"
                       "                .DH = %d, .DW = %d, .groups = %d, .OH = %d, .OW = %d },\n",
                    c->C, c->H, c->W, c->Cout, c->KH, c->KW, c->SH, c->SW, c->PT, c->PL, c->PB, c->PR,
                    c->DH, c->DW, c->groups, c->OH, c->OW);
        if (memcmp(p, &no_pool, sizeof *p) != 0)
            fprintf(f, "      .pool = { .C = %d, .H = %d, .W = %d, .KH = %d, .KW = %d, .SH = %d, .SW = %d,\n"
                       "                .PH = %d, .PW = %d, .ceil_mode = %d, .count_include_pad = %d,\n"
                       "                .OH = %d, .OW = %d },\n",
                    p->C, p->H, p->W, p->KH, p->KW, p->SH, p->SW, p->PH, p->PW, p->ceil_mode,
                    p->count_include_pad, p->OH, p->OW);
        static const cnnrt_conv3d_geom no_conv3;
        static const cnnrt_pool3d_geom no_pool3;
        const cnnrt_conv3d_geom *c3 = &op->conv3;
        const cnnrt_pool3d_geom *p3 = &op->pool3;
        if (memcmp(c3, &no_conv3, sizeof *c3) != 0)
            fprintf(f, "      .conv3 = { .C = %d, .D = %d, .H = %d, .W = %d, .Cout = %d,\n"
                       "                 .KD = %d, .KH = %d, .KW = %d, .SD = %d, .SH = %d, .SW = %d,\n"
                       "                 .PD0 = %d, .PH0 = %d, .PW0 = %d, .PD1 = %d, .PH1 = %d, .PW1 = %d,\n"
                       "                 .DD = %d, .DH = %d, .DW = %d, .groups = %d, .OD = %d, .OH = %d, .OW = %d },\n",
                    c3->C, c3->D, c3->H, c3->W, c3->Cout, c3->KD, c3->KH, c3->KW, c3->SD, c3->SH, c3->SW,
                    c3->PD0, c3->PH0, c3->PW0, c3->PD1, c3->PH1, c3->PW1, c3->DD, c3->DH, c3->DW, c3->groups,
                    c3->OD, c3->OH, c3->OW);
        if (memcmp(p3, &no_pool3, sizeof *p3) != 0)
            fprintf(f, "      .pool3 = { .C = %d, .D = %d, .H = %d, .W = %d, .KD = %d, .KH = %d, .KW = %d,\n"
                       "                 .SD = %d, .SH = %d, .SW = %d, .PD = %d, .PH = %d, .PW = %d,\n"
                       "                 .ceil_mode = %d, .count_include_pad = %d, .OD = %d, .OH = %d, .OW = %d },\n",
                    p3->C, p3->D, p3->H, p3->W, p3->KD, p3->KH, p3->KW, p3->SD, p3->SH, p3->SW, p3->PD, p3->PH,
                    p3->PW, p3->ceil_mode, p3->count_include_pad, p3->OD, p3->OH, p3->OW);
        fprintf(f, "      .C = %d, .HW = %d, .D = %d, .G = %d, .H = %d, .W = %d, .OH = %d, .OW = %d,\n",
                op->C, op->HW, op->D, op->G, op->H, op->W, op->OH, op->OW);
        fprintf(f, "      .eps = %s, .momentum = %s, .p = %s,\n", flit(op->eps), flit(op->momentum), flit(op->p));
        fprintf(f, "      .w = %ld, .b = %ld, .rmean = %ld, .rvar = %ld },", op->w, op->b, op->rmean, op->rvar);
    }
    fprintf(f, "\n};\n\n/* named tensors: PyTorch state-dict names, offsets in the parameter\n"
               " * (buffer = 0) or running-statistics (buffer = 1) block, the op that owns\n"
               " * each, its initialiser's fan-in (and a constant start, a PReLU slope's) */\n"
               "static const cnnrt_tensor %s_tensors[%d] = {\n", net, d->ntensors > 0 ? d->ntensors : 1);
    for (int t = 0; t < d->ntensors; t++) {
        const cnnrt_tensor *ts = &d->tensors[t];
        fprintf(f, "    { \"%s\", %d, { %d, %d, %d, %d%s }, %ld, %ld, %d, %d, %ld%s },\n", ts->name, ts->ndim,
                ts->ndim > 0 ? ts->dims[0] : 0, ts->ndim > 1 ? ts->dims[1] : 0, ts->ndim > 2 ? ts->dims[2] : 0,
                ts->ndim > 3 ? ts->dims[3] : 0, ts->ndim > 4 ? arena_printf(", %d", ts->dims[4]) : "", ts->off,
                ts->numel, ts->buffer, ts->op, ts->fan_in,
                arena_printf(", %d, %s", ts->constant, em_float(ts->init)));
    }
    if (d->ntensors == 0) fputs("    { \"\", 0, { 0 }, 0, 0, 0, 0, 0, 0, 0.0f },\n", f);
    fprintf(f, "};\n\n/* the plan (cnnc's compiler/train_plan.c), per op: buffers shared, relus in place\n"
               " * or fused */\nstatic const int %s_op_plan[%d] = {\n", net, d->nops);
    for (int i = 0; i < d->nops; i++) fprintf(f, "    %s,   /* %s */\n", plan_text(d->op_plan[i]), d->ops[i].name);
    fprintf(f, "};\n\n/* per value: the value whose buffer, and whose gradient buffer, it uses */\n"
               "static const int %s_value_buf[%d] = {", net, d->nvalues);
    for (int v = 0; v < d->nvalues; v++) fprintf(f, "%s%d,", v % 16 == 0 ? "\n    " : " ", d->value_buf[v]);
    fprintf(f, "\n};\nstatic const int %s_grad_buf[%d] = {", net, d->nvalues);
    for (int v = 0; v < d->nvalues; v++) fprintf(f, "%s%d,", v % 16 == 0 ? "\n    " : " ", d->grad_buf[v]);
    fputs("\n};\n", f);
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
    const char *hcall = arena_printf("%s/header.m4", dtmpl), *dpath = arena_printf("%s/data.c", dtmpl);
    FILE *gf = fopen(gpath, "w"), *lf = fopen(lpath, "w"), *hf = fopen(hcall, "w"), *df = fopen(dpath, "w");
    int nerr = 0;
    if (!gf || !lf || !hf || !df) {
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

    def(lf, "NET_TRAIN_DATA", "%s", dpath);    /* not a global: no part of the interface hash */
    fputs("M4_TRAIN_SOURCE[[]]m4_dnl\n", lf);
    write_data(df, g, d, net, ninputs);
    fputs("M4_TRAIN_HEADER[[]]m4_dnl\n", hf);
    int closed = (fclose(gf) == 0) + (fclose(lf) == 0) + (fclose(hf) == 0) + (fclose(df) == 0);
    if (closed != 4) {
        fprintf(stderr, "cnnc: error: cannot write temporary files in %s\n", dtmpl);
        nerr = 2;
    }
    gf = lf = hf = df = NULL;
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
    if (df) fclose(df);
    unlink(gpath);
    unlink(dpath);
    unlink(lpath);
    unlink(hcall);
    rmdir(dtmpl);
    return nerr;
}
