/*
 * m4run.c — run GNU m4 on the templates into a file, atomically.
 *
 * `m4 -P --fatal-warnings FILES...` writes to a temporary file beside the
 * destination, which is fsync'ed and renamed over it only when m4
 * succeeded: a failure leaves the destination as it was.
 */
#include "cnnc.h"

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

int m4_to_file(const char **files, int nfiles, const char *path) {
    char *tmp = arena_printf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    int ok = m4_run(NULL, files, nfiles, fd) == 0;
    ok = fsync(fd) == 0 && ok;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(errno));
        ok = 0;
    }
    if (!ok) unlink(tmp);
    return ok ? 0 : -1;
}
