/*
 * shape.c — the one output-size rule of a window op (conv, pool) along one
 * axis, PyTorch's: cnnc's shape checking and cnnrt's geometry both call it.
 *
 * Self-contained (no libc even), so that cnnc links this file without the
 * rest of cnnrt.
 */
#include "cnnrt.h"

long long cnnrt_out_size(long long in, long long pad_lo, long long pad_hi, long long k, long long stride,
                         long long dil, int ceil_mode)
{
    if (stride < 1)
        return 0;
    long long num = in + pad_lo + pad_hi - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    if (num < 0)
        return 0;
    long long out = num / stride + 1;
    /* ceil mode: the last window must start inside the input or left padding */
    if (ceil_mode && (out - 1) * stride >= in + pad_lo)
        out--;
    return out;
}
