/*
 * cnnrt_st.h — the safetensors reader's helpers that its users share
 * (runtime/safetensors.c defines them; runtime/checkpoint.c and cnnc's
 * compiler/safetensors.c use them): error text, problem lists, names safe
 * to print, shapes and dtypes as messages spell them.
 *
 * Internal to cnnc and cnnrt (not installed).
 */
#ifndef CNNRT_ST_H
#define CNNRT_ST_H

#include "cnnrt.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CNNRT_ST_MAX_PROBLEMS 20    /* lines listed in one error */

/* printf into err[errlen] (nothing when err is NULL or errlen 0) */
void cnnrt_st_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A problem list: "HEADLINE\n  problem\n  problem ...", capped. */
typedef struct cnnrt_st_problems {
    char buf[8192];
    size_t len;
    int n;
} cnnrt_st_problems;

void cnnrt_st_prob_add(cnnrt_st_problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Each problem is one line, with anything but printable ASCII and valid
 * UTF-8 shown as '?'.  prob_report: the headline (printf), then the lines,
 * then "... and N more" past CNNRT_ST_MAX_PROBLEMS, into err. */
void cnnrt_st_prob_report(cnnrt_st_problems *p, char *err, size_t errlen, const char *headline, ...)
    __attribute__((format(printf, 4, 5)));

/* A name from a file, safe to print: control and non-ASCII bytes as '?',
 * cut at 120 characters.  Returned by value (no static buffers): use
 * cnnrt_st_show(x).s within one expression. */
typedef struct cnnrt_st_shown {
    char s[132];
} cnnrt_st_shown;
cnnrt_st_shown cnnrt_st_show(const char *s);

/* "[64, 3, 3, 3]" into buf[n]; returns buf */
const char *cnnrt_st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* PyTorch's name of a safetensors dtype ("float32" for "F32") */
const char *cnnrt_st_dtype_name(const char *st);

/* Validate the safetensors file open as f (named path) as cnnrt_ckpt_open
 * does, which calls this after fopen.  Takes f: closed by cnnrt_ckpt_close,
 * or here on failure.  Messages, from this and from cnnrt_ckpt_read on the
 * result, start "PATH: " only when path_in_messages is set (cnnc prints
 * "PATH: error: " before them itself). */
int cnnrt_st_open(FILE *f, const char *path, int path_in_messages, cnnrt_ckpt **out, char *err, size_t errlen);

/* the path an open checkpoint was read from */
const char *cnnrt_st_path(const cnnrt_ckpt *ck);

/* strcmp for qsort/bsearch over an array of const char * */
int cnnrt_st_cmp_str(const void *a, const void *b);

#endif
