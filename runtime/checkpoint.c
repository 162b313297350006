/*
 * checkpoint.c — does a checkpoint fit a network: every tensor the network
 * expects present as float32 of its shape, nothing else but the optimizer's
 * __optim__.* slots and *.num_batches_tracked.  The file format itself is
 * runtime/safetensors.c's; the tensors a network saves, runtime/net_io.c's.
 */
#include "cnnrt.h"
#include "cnnrt_st.h"

#include <stdlib.h>
#include <string.h>

static int is_ignored(const char *name, int allow_optim)
{
    static const char sfx[] = ".num_batches_tracked";
    size_t n = strlen(name), s = sizeof sfx - 1;
    if (allow_optim && strncmp(name, CNNRT_OPTIM_PREFIX, sizeof CNNRT_OPTIM_PREFIX - 1) == 0)
        return 1;
    return n > s && strcmp(name + n - s, sfx) == 0;
}

static int same_shape(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
    if (ndim_a != ndim_b)
        return 0;
    for (int i = 0; i < ndim_a; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

int cnnrt_ckpt_check(const cnnrt_ckpt *ck, const cnnrt_ckpt_tensor *expected, int n, int allow_optim,
                     char *err, size_t errlen)
{
    const char *path = cnnrt_st_path(ck);
    cnnrt_st_problems pr = { .len = 0, .n = 0 };
    pr.buf[0] = 0;
    const char **names = malloc(sizeof *names * (size_t)(n > 0 ? n : 1));
    if (!names) {
        cnnrt_st_set_err(err, errlen, "%s: out of memory", path);
        return CNNRT_ENOMEM;
    }
    for (int j = 0; j < n; j++) {
        char want[256], have[256];
        int64_t shape[CNNRT_CKPT_MAX_DIMS];
        names[j] = expected[j].name;
        cnnrt_st_shape_str(want, sizeof want, expected[j].ndim, expected[j].shape);
        int i = cnnrt_ckpt_find(ck, expected[j].name);
        if (i < 0) {
            cnnrt_st_prob_add(&pr, "missing %s (expected %s float32)", cnnrt_st_show(expected[j].name).s, want);
            continue;
        }
        int nd = cnnrt_ckpt_shape(ck, i, shape);
        const char *dtype = cnnrt_ckpt_dtype(ck, i);
        if (strcmp(dtype, "F32") != 0 || !same_shape(nd, shape, expected[j].ndim, expected[j].shape))
            cnnrt_st_prob_add(&pr, "%s: expected %s float32, found %s %s", cnnrt_st_show(cnnrt_ckpt_name(ck, i)).s,
                              want, cnnrt_st_shape_str(have, sizeof have, nd, shape), cnnrt_st_dtype_name(dtype));
    }
    qsort(names, (size_t)n, sizeof *names, cnnrt_st_cmp_str);
    for (int i = 0; i < cnnrt_ckpt_count(ck); i++) {
        const char *key = cnnrt_ckpt_name(ck, i);
        if (is_ignored(key, allow_optim) || bsearch(&key, names, (size_t)n, sizeof *names, cnnrt_st_cmp_str))
            continue;
        char have[256];
        int64_t shape[CNNRT_CKPT_MAX_DIMS];
        int nd = cnnrt_ckpt_shape(ck, i, shape);
        cnnrt_st_prob_add(&pr, "unexpected %s (%s %s): the network has no such tensor", cnnrt_st_show(key).s,
                          cnnrt_st_shape_str(have, sizeof have, nd, shape),
                          cnnrt_st_dtype_name(cnnrt_ckpt_dtype(ck, i)));
    }
    free(names);
    if (pr.n) {
        cnnrt_st_prob_report(&pr, err, errlen, "%s: does not match the network (%d problem%s):", path, pr.n,
                             pr.n == 1 ? "" : "s");
        return CNNRT_EFORMAT;
    }
    return CNNRT_OK;
}
