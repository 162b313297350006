/*
 * harness.c — runs one generated network on N pseudo-random images and
 * prints every output float as its 32-bit pattern in hex, one per line,
 * then "end N".  The same file is built for the host, for the Cortex-M4
 * (with cortex-m/startup.c) and for aarch64 Linux, so their outputs can be
 * compared bit for bit or within a tolerance.
 *
 *   cc -c lenet5.c -o model.o
 *   cc -DNET=lenet5 -DNETU=LENET5 -DNET_H='"lenet5.h"' -DN=3 -DSEED=11 harness.c model.o
 *
 * (the model is compiled on its own: -DN would reach its parameter names).
 * The input is a xorshift32 stream from SEED, each float a 24-bit integer
 * over 2^23: in [-1, 1), exact, the same on every machine.  Nothing here
 * calls printf (no %f, no libm): newlib's float formatting stays out.
 */
#include NET_H
#include "hexout.h"

#ifndef N
#error "define N, the number of images"
#endif
#ifndef SEED
#error "define SEED, the seed of the input"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(NET, name)
#define M(name) CAT(NETU, name)

static float in[M(_IN_SIZE)], out[M(_OUT_SIZE)];

int main(void)
{
    uint32_t s = (uint32_t)SEED * 2654435761u + 1u;   /* never 0 */
    for (int img = 0; img < N; img++) {
        for (size_t i = 0; i < M(_IN_SIZE); i++)
            in[i] = (float)((int32_t)(next(&s) >> 8) - 8388608) / 8388608.0f;
        if (F(_forward)(in, out) != 0) {
            fputs("harness: forward failed\n", stderr);
            return 1;
        }
        for (size_t i = 0; i < M(_OUT_SIZE); i++) put_float(out[i]);
    }
    put("end ", N, 10, 1);
    return fflush(stdout) != 0;
}
