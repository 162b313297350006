/*
 * peak.c — the CPU's measured single-precision FMA peak, for `make bench`.
 *
 *   cc -O2 -march=native -fopenmp peak.c -o peak && ./peak THREADS
 *
 * Each thread runs 12 independent chains of vector FMAs (AVX-512 where the
 * build has it, else AVX2+FMA, else scalar C) for about half a second;
 * prints "GFLOP/s" (2 FLOPs per lane per FMA) over all threads.
 */
#define _POSIX_C_SOURCE 200112L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET(x) _mm512_set1_ps(x)
static float first(vec v) { return _mm512_cvtss_f32(v); }
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET(x) _mm256_set1_ps(x)
static float first(vec v) { return _mm256_cvtss_f32(v); }
#else
typedef float vec;
#define LANES 1
#define FMA(a, b, c) ((a) * (b) + (c))
#define SET(x) (x)
static float first(vec v) { return v; }
#endif

int main(int argc, char **argv) {
    int t = argc > 1 ? atoi(argv[1]) : 1;
    const long iters = 40000000;
    double best = 0.0;
    float sink = 0.0f;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(t) reduction(+ : sink)
        {
            vec a = SET(0.999999f), b = SET(1e-7f);
            vec c0 = SET(1), c1 = SET(2), c2 = SET(3), c3 = SET(4), c4 = SET(5), c5 = SET(6);
            vec c6 = SET(7), c7 = SET(8), c8 = SET(9), c9 = SET(10), c10 = SET(11), c11 = SET(12);
            for (long i = 0; i < iters / 12 / LANES * 4; i++) {
                c0 = FMA(c0, a, b); c1 = FMA(c1, a, b); c2 = FMA(c2, a, b); c3 = FMA(c3, a, b);
                c4 = FMA(c4, a, b); c5 = FMA(c5, a, b); c6 = FMA(c6, a, b); c7 = FMA(c7, a, b);
                c8 = FMA(c8, a, b); c9 = FMA(c9, a, b); c10 = FMA(c10, a, b); c11 = FMA(c11, a, b);
            }
            sink += first(c0) + first(c1) + first(c2) + first(c3) + first(c4) + first(c5) + first(c6) +
                    first(c7) + first(c8) + first(c9) + first(c10) + first(c11);
        }
        double s = omp_get_wtime() - t0;
        double gf = 2.0 * LANES * 12.0 * (double)(iters / 12 / LANES * 4) * t / s / 1e9;
        if (gf > best) best = gf;
    }
    printf("%.1f\n", best);
    return sink == 12345.0f;
}
