/*
 * fuzz_common.h — helpers shared by the libFuzzer targets (fuzz/fuzz_NAME.c).
 *
 * The readers under test take a path, so each input is written to one
 * scratch file per process (in $TMPDIR, removed at exit) and read back.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[256];

static void fuzz_cleanup(void) {
    char cmd[300];
    if (!fuzz_dir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir);
}

/* A path in this process's scratch folder (made on first use). */
static const char *fuzz_path(const char *name) {
    static char buf[8][400];
    static int k;
    if (!fuzz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/cnnc-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir)) { perror("fuzz: mkdtemp"); abort(); }
        atexit(fuzz_cleanup);
    }
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", fuzz_dir, name);
    return p;
}

/* Write data to the scratch file name; abort on failure (a harness bug). */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    const char *p = fuzz_path(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(p); abort(); }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { perror(p); abort(); }
        off += (size_t)w;
    }
    close(fd);
    return p;
}

#endif
