/*
 * cnnrt_par.h — internal to cnnrt: sharing a kernel's work over OpenMP
 * threads.
 *
 * The kernels split their work over the calling thread's OpenMP team
 * (omp_set_num_threads, OMP_NUM_THREADS), and only along their outputs:
 * each output element is computed by one thread, in the same order as
 * with one thread, so cnnrt's own loops give the same bits on any thread
 * count (a product split over sgemm calls agrees to float rounding:
 * OpenBLAS picks its kernels by size; tests/runtime/test_rt_threads.c).  No
 * kernel needs more scratch with more threads: the threads share one
 * chunk, each computing its part of the chunk's outputs.
 *
 * OpenBLAS is called from inside the teams, on each thread's share of a
 * product: the application runs OpenBLAS on one thread
 * (openblas_set_num_threads(1)), so that one pool of threads, not two,
 * spins on the cores.  Built without OpenMP, everything runs on the
 * calling thread.
 *
 * A parallel region costs a few microseconds; PAR_MIN is the work (in
 * floats touched) below which a kernel stays on one thread.
 */
#ifndef CNNRT_PAR_H
#define CNNRT_PAR_H

#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
static inline int par_id(void) { return omp_get_thread_num(); }
static inline int par_count(void) { return omp_get_num_threads(); }
#else
static inline int par_id(void) { return 0; }
static inline int par_count(void) { return 1; }
#endif

#define PAR_MIN ((size_t)1 << 15)

/* Inside a parallel region: this thread's share [*lo, *hi) of n items,
 * cut at multiples of q (the shares differ by at most q). */
static inline void par_share(size_t n, size_t q, size_t *lo, size_t *hi)
{
    const size_t units = (n + q - 1) / q, t = (size_t)par_count(), i = (size_t)par_id();
    const size_t a = units * i / t * q, b = units * (i + 1) / t * q;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

/* An elementwise kernel over n items: STMT runs on each thread's share
 * [lo, hi) (cut at multiples of 16 floats), on one thread below PAR_MIN. */
#define PAR_RANGE(n, lo, hi, STMT)                                  \
    do {                                                            \
        const size_t par_n_ = (n);                                  \
        _Pragma("omp parallel if (par_n_ >= PAR_MIN)")              \
        {                                                           \
            size_t lo, hi;                                          \
            par_share(par_n_, 16, &lo, &hi);                        \
            STMT;                                                   \
        }                                                           \
    } while (0)

/* memset and memcpy of activations, shared over the threads */
static inline void par_zero(float *g, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, memset(g + lo, 0, (hi - lo) * sizeof(float)));
}
static inline void par_copy(float *g, const float *x, size_t cnt) {
    PAR_RANGE(cnt, lo, hi, memcpy(g + lo, x + lo, (hi - lo) * sizeof(float)));
}

#endif
