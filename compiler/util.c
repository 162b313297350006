/*
 * util.c — number formatting and atomic file writes.
 */
#include "cnnc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1234567 -> "1,234,567" (arena string). */
const char *fmt_group(long long v) {
    char tmp[32], out[48];
    int neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(tmp, sizeof tmp, "%llu", u);
    int n = (int)strlen(tmp), o = 0;
    if (neg) out[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return arena_strdup(out);
}

/* Large numbers also in K/M/G/T: "1.81 G"; "" under a million. */
const char *fmt_si(long long v) {
    double d = (double)v;
    if (v < 1000000) return "";
    if (d < 1e9) return arena_printf("%.2f M", d / 1e6);
    if (d < 1e12) return arena_printf("%.2f G", d / 1e9);
    return arena_printf("%.2f T", d / 1e12);
}

/*
 * Write data to path through a temporary file in the same directory, then
 * rename: a reader sees the old file or the new one, never half of one.
 */
int write_file_atomic(const char *path, const char *data, size_t len) {
    char *tmp = arena_printf("%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    mode_t um = umask(0);       /* mkstemp makes 0600: give the usual 0666 & ~umask */
    umask(um);
    fchmod(fd, 0666 & ~um);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
