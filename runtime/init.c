/*
 * init.c — the random stream and the one initialiser of fresh parameters.
 *
 * cnnc (weights without --weights) and cnnrt (cnnrt_net_create) both draw
 * a network's initial parameters here, tensor after tensor in the order of
 * the network's layers, so the same seed gives the same weights in the
 * generated code, in cnnc-train and in generated training code.
 *
 * Self-contained (libm only), so that cnnc links this file without the rest
 * of cnnrt.
 */
#include "cnnrt.h"

#include <math.h>
#include <string.h>

/* ---- rng: PCG32 (O'Neill, XSH-RR), seeded through splitmix64 ------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void cnnrt_rng_seed(cnnrt_rng *r, uint64_t seed)
{
    uint64_t s = seed;
    r->state = splitmix64(&s);
    r->inc = splitmix64(&s) | 1u;
}

uint32_t cnnrt_rng_u32(cnnrt_rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ull + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

float cnnrt_rng_uniform(cnnrt_rng *r)
{
    return (float)(cnnrt_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float cnnrt_rng_normal(cnnrt_rng *r)
{
    /* Box–Muller; u1 in (0, 1] so the log is finite */
    double u1 = ((cnnrt_rng_u32(r) >> 8) + 1.0) / 16777216.0;
    double u2 = (cnnrt_rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- PyTorch's initialisation of a fresh module ------------------------- */

void cnnrt_init_tensor(float *dst, long numel, const char *suffix, long fan_in, cnnrt_rng *r)
{
    if (fan_in > 0) {
        /* conv and dense: kaiming_uniform(a=√5) for the weight and
         * U(±1/√fan_in) for the bias, both bound 1/√fan_in */
        float bound = (float)(1.0 / sqrt((double)fan_in));
        for (long i = 0; i < numel; i++)
            dst[i] = (2.0f * cnnrt_rng_uniform(r) - 1.0f) * bound;
        return;
    }
    /* norms: γ = 1, β = 0, running mean 0, running variance 1 */
    float v = strcmp(suffix, "weight") == 0 || strcmp(suffix, "running_var") == 0 ? 1.0f : 0.0f;
    for (long i = 0; i < numel; i++)
        dst[i] = v;
}
