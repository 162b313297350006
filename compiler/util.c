/*
 * util.c — number formatting, reading a whole file, and the last word on
 * standard output.
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

/* Flush standard output and report a failure to write it (a full disk,
 * /dev/full, a closed pipe): 0 when all went out, else -1 after one line on
 * stderr.  Called once, at the end of main. */
int close_stdout(const char *prog) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    fprintf(stderr, "%s: error: cannot write to standard output: %s\n", prog,
            errno ? strerror(errno) : "write error");
    return -1;
}

char *read_stream(FILE *fp, size_t max, size_t *len, int *why) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    *why = 0;
    while (buf) {
        if (n == cap) {
            if (cap > max) break;
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        if (got == 0) break;
        n += got;
    }
    *why = !buf ? READ_NOMEM : ferror(fp) ? READ_ERROR : n > max ? READ_TOO_LARGE : 0;
    if (*why) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}
