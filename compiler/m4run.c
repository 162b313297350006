/*
 * m4run.c — run GNU m4 on the templates into output files.
 *
 * `m4 -P --fatal-warnings FILES...` writes into an output file opened by
 * cnnrt_file.h's rules (a temporary beside the destination, renamed over
 * it only when every output succeeded; a device in place): a failure
 * leaves the destinations as they were.
 */
#include "cnnc.h"
#include "cnnrt_file.h"   /* output files (runtime/outfile.c) */

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef CNNC_TEMPLATE_DIR
#define CNNC_TEMPLATE_DIR "compiler/templates"
#endif

/* Where the templates are, first match wins:
 *   1. $CNNC_TEMPLATE_DIR;
 *   2. PREFIX/share/cnnc/templates for a binary running as PREFIX/bin/cnnc
 *      (found through /proc/self/exe, so an installed tree still works
 *      after it was moved or unpacked elsewhere);
 *   3. the directory compiled in: the source tree's compiler/templates for
 *      build/cnnc, PREFIX/share/cnnc/templates for the installed cnnc. */
void m4_vdefine(FILE *d, const char *name, const char *fmt, va_list ap) {
    fprintf(d, "m4_define([[%s]], [[", name);
    vfprintf(d, fmt, ap);
    fputs("]])m4_dnl\n", d);
}

const char *m4_template_dir(void) {
    static char beside_exe[4096];
    const char *d = getenv("CNNC_TEMPLATE_DIR");
    if (d && *d) return d;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/'))) *slash = '\0';  /* PREFIX/bin */
        if (slash && (slash = strrchr(exe, '/'))) {
            *slash = '\0';                                /* PREFIX */
            int len = snprintf(beside_exe, sizeof beside_exe, "%s/share/cnnc/templates", exe);
            char probe[4200];
            snprintf(probe, sizeof probe, "%s/cnnc.m4", beside_exe);
            if (len > 0 && (size_t)len < sizeof beside_exe && access(probe, R_OK) == 0) return beside_exe;
        }
    }
    return CNNC_TEMPLATE_DIR;
}

/* m4 into an open file descriptor, with an optional -D definition */
int m4_run(const char *define, const char **files, int nfiles, int outfd) {
    const char **argv = arena_alloc(sizeof(char *) * (size_t)(nfiles + 5));
    int a = 0;
    argv[a++] = "m4";
    argv[a++] = "-P";
    argv[a++] = "--fatal-warnings";
    if (define) argv[a++] = arena_printf("-D%s", define);
    for (int i = 0; i < nfiles; i++) argv[a++] = files[i];
    argv[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, outfd, 1);
    pid_t pid;
    int rc = posix_spawnp(&pid, "m4", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "cnnc: error: cannot run m4: %s (install GNU m4)\n", strerror(rc));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "cnnc: error: m4 failed on the templates in %s (a cnnc bug)\n", m4_template_dir());
        return -1;
    }
    return 0;
}

/* Append NET_IFACE to a globals file: a hash of its bytes, which is of
 * everything a generated header is made from (with the templates' version).
 * The header defines it, and the .c refuses to compile against another
 * value (a .c and a .h of different runs).  0 ok, -1 with errno set. */
int m4_define_interface_hash(const char *globals) {
    FILE *f = fopen(globals, "r+");
    if (!f) return -1;
    unsigned long long h = 1469598103934665603ULL;
    for (int ch; (ch = fgetc(f)) != EOF;) h = (h ^ (unsigned char)ch) * 1099511628211ULL;
    int ok = !ferror(f) && fseek(f, 0, SEEK_END) == 0 &&    /* between reading and writing */
             fprintf(f, "m4_define([[NET_IFACE]], [[0x%016llx]])m4_dnl\n", h & 0x7fffffffffffffffULL) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* m4 over each file list into its output, all committed together (the
 * header first): a failure leaves every output as it was.  0 ok, else -1
 * after one line on stderr. */
int m4_write_outputs(const char **const *files, const int *nfiles, const char **paths, int n) {
    cnnrt_outfile out[4];
    int i;
    for (i = 0; i < n; i++)
        if (cnnrt_outfile_open(&out[i], paths[i]) != 0) {
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", paths[i], strerror(errno));
            while (i-- > 0) cnnrt_outfile_abort(&out[i]);
            return -1;
        }
    for (i = 0; i < n; i++)
        if (m4_run(NULL, files[i], nfiles[i], out[i].fd) != 0) break;
    if (i < n) {
        for (int j = 0; j < n; j++) cnnrt_outfile_abort(&out[j]);
        return -1;
    }
    if (cnnrt_outfile_commit_all(out, n) != 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", paths[n - 1], strerror(errno));
        return -1;
    }
    return 0;
}
