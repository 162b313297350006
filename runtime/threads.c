/*
 * threads.c — how many threads the kernels use: OpenMP's team for
 * cnnrt's own loops, one thread for OpenBLAS (see cnnrt_par.h).
 */
#include "cnnrt.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void cnnrt_set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
    openblas_set_num_threads(1);
}
