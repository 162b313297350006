/*
 * main.c — the cnnc driver: read → parse → elaborate → check shapes →
 * report / emit.  Each phase returns its error count; the driver stops after
 * a phase that reported errors and then writes nothing.
 *
 * Exit codes: 0 success, 1 the input has errors, 2 bad command line or an
 * I/O failure on output.
 */
#include "cnnc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_REPORT = 256, OPT_HELP_LAYERS, OPT_MAX_ERRORS, OPT_VERSION };

static void usage(FILE *out) {
    fputs("usage: cnnc [options] FILE.net\n"
          "\n"
          "  --report[=text|json]  print shapes, params, MACs, memory and receptive fields\n"
          "  -o FILE               where to write the output (report: default stdout)\n"
          "  -I DIR                also look for included files in DIR\n"
          "  --max-errors N        stop printing after N errors (default 20)\n"
          "  --help-layers         list the layer kinds, attributes and defaults\n"
          "  --version             print the version\n"
          "  -h, --help            this help\n"
          "\n"
          "FILE may be - for standard input.  Exit status: 0 ok, 1 errors in the\n"
          "input, 2 bad usage or an output failure.\n", out);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        { "report", optional_argument, NULL, OPT_REPORT },
        { "help-layers", no_argument, NULL, OPT_HELP_LAYERS },
        { "max-errors", required_argument, NULL, OPT_MAX_ERRORS },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *report = NULL, *outpath = NULL;
    const char **incs = calloc((size_t)argc + 1, sizeof *incs);
    int ninc = 0, c, status = 0;
    if (!incs) return 2;
    source_include_dirs = incs;

    while ((c = getopt_long(argc, argv, "ho:I:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_REPORT:
            report = optarg ? optarg : "text";
            if (strcmp(report, "text") != 0 && strcmp(report, "json") != 0) {
                fprintf(stderr, "cnnc: error: --report takes text or json, not '%s'\n", report);
                status = 2;
                goto done;
            }
            break;
        case OPT_HELP_LAYERS: layer_print_help(stdout); goto done;
        case OPT_MAX_ERRORS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "cnnc: error: --max-errors takes a count from 1 to 100000, not '%s'\n", optarg);
                status = 2;
                goto done;
            }
            diag_max_errors = (int)v;
            break;
        }
        case OPT_VERSION: printf("cnnc %s\n", CNNC_VERSION); goto done;
        case 'h': usage(stdout); goto done;
        case 'o': outpath = optarg; break;
        case 'I': incs[ninc++] = optarg; break;
        default: usage(stderr); status = 2; goto done;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "cnnc: error: no input file\n"
                                       : "cnnc: error: one input file at a time\n");
        usage(stderr);
        status = 2;
        goto done;
    }
    if (!report) {
        fprintf(stderr, "cnnc: error: code generation is not available in this version yet; "
                        "use --report\n");
        status = 2;
        goto done;
    }

    const char *path = argv[optind];
    Stmt *prog = source_parse_file(path);
    if (diag_error_count()) { status = 1; goto done; }
    int nerr = 0;
    Graph *g = sema_elaborate(prog, &nerr);
    if (nerr || !g) { status = 1; goto done; }
    if (shape_check(g)) { status = 1; goto done; }

    /* the report goes to memory first, then to stdout or atomically to -o */
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) { status = 2; goto done; }
    if (strcmp(report, "json") == 0) report_json(g, mem);
    else report_text(g, mem);
    fclose(mem);
    if (outpath && strcmp(outpath, "-") != 0) {
        if (write_file_atomic(outpath, buf, len) != 0) {
            perror(outpath);
            status = 2;
        }
    } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        status = 2;
    }
    free(buf);

done:
    free(incs);
    arena_free_all();
    return status;
}
