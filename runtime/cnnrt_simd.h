/*
 * cnnrt_simd.h — internal to cnnrt: CNNRT_WIDE marks a loop-heavy kernel
 * to be compiled three times, for AVX-512F, AVX2 and the x86-64 baseline,
 * the best one picked when the program loads (GCC's target_clones).  The
 * library itself is built for the baseline, so it runs on any x86-64 CPU.
 *
 * The clones compute the same results: the runtime is compiled in ISO C
 * mode (-std=c11), where GCC does not contract a multiply and an add into
 * an FMA the source does not ask for (fmaf is fused in every clone).  Elsewhere (other
 * compilers, other CPUs, sanitizer builds with clang) CNNRT_WIDE is empty.
 */
#ifndef CNNRT_SIMD_H
#define CNNRT_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CNNRT_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CNNRT_WIDE
#endif

/* A helper of CNNRT_WIDE kernels: inlined into each clone (GCC would
 * otherwise call one baseline copy from all of them). */
#if defined(__GNUC__)
#define CNNRT_INLINE static inline __attribute__((always_inline))
#else
#define CNNRT_INLINE static inline
#endif

#endif
