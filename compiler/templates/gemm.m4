m4_divert(-1)
# gemm.m4 — the kernels shared by conv and dense layers, emitted once per
# file (the first layer that needs one asks for it): the definitions after
# the layers (diversion 3), prototypes, includes and macros in the prelude
# (diversion 4).
#
# M4_THREADS_ONCE(): CNNC_VECTORIZE, gcc's vectoriser for the loops whose
#   trip count it cannot see.  (The threads are source.m4's: a kernel does
#   the share of its work that its arguments part, parts give it.)
# M4_CBLAS_ONCE(): #include <cblas.h> (default mode only).
# M4_GEMM_ONCE(): NET_gemm(), a register-blocked GEMM over a batch of
#   independent products, with bias and ReLU fused into the store:
#       C_b[M][N] = act(A_b[M][K] · B_b[K][N] + bias[M])
#   A is packed at compile time (cnnc writes it that way into the weights):
#   ceil(M/8) panels of K×8 floats, k-major, rows past M zero.  B is
#   row-major with row stride ldb >= N, and readable up to the next
#   multiple of 32 columns (the unused lanes are computed, never stored).
#   The 8×32 micro-kernel has an AVX-512 path, an AVX2+FMA path (target
#   x86-64), a NEON path (aarch64) and a plain C path; all give the same
#   sums in the same order per output (fused or not), and
#   the same ReLU: v < 0 ? 0 : v, which keeps NaN and -0.0 as PyTorch does
#   (_mm512_max_ps(zero, v) is zero > v ? zero : v, the same bits; with the
#   operands the other way round it would turn NaN into 0).
#   Threads: part p of parts computes the p-th share of the 8×32 tiles
#   (times the batch), in the order below.
# M4_IM2COL_ONCE(): NET_im2col(), the patch matrix col[C·KH·KW][ldc] of a
#   convolution, zeros where the window reads padding.
# M4_WINO_ONCE(): Winograd F(2×2,3×3), F(4×4,3×3) and F(6×6,3×3) input and output
#   transforms of up to 8 tiles of one row (Lavin & Gray 2016), on eight
#   lanes with constant trip counts, so that -O2 vectorises them.

m4_define([[M4_THREADS_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[M4_THREADS_DONE]], [[]], [[m4_define([[M4_THREADS_DONE]], 1)M4_PRELUDE([[
/* gcc's -O2 vectorises only loops whose trip count is a known multiple of
 * the vector length; the transform loops below run over a variable number
 * of tiles, so they ask for gcc's usual cost model (clang needs nothing),
 * and keep their short copies inline rather than as calls of memcpy. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER)
#define CNNC_VECTORIZE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic", "no-tree-loop-distribute-patterns")))
#else
#define CNNC_VECTORIZE
#endif
]])]])]])

# M4_TANH_ONCE(): NET_tanh(), tanh in place over n floats as a rational
#   function (the minimax fit Eigen uses for float, error a few ulp), which
#   vectorises where tanhf() is a call per element.
m4_define([[M4_TANH_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]m4_ifdef([[M4_TANH_DONE]], [[]], [[m4_define([[M4_TANH_DONE]], 1)M4_KERNEL([[
/* p[i] = tanh(p[i]): x clamped to +-7.9053 (where tanh rounds to +-1), then
 * x·P(x²)/Q(x²), P of degree 6 and Q of degree 3. */]],
[[CNNC_VECTORIZE static void NET[[]]_tanh(float *RESTRICT p, int n)]], [[{
    for (int i = 0; i < n; i++) {
        const float c = 7.90531110763549805f;
        const float x = p[i] < -c ? -c : p[i] > c ? c : p[i];
        const float x2 = x * x;
        float num = -2.76076847742355e-16f;
        num = num * x2 + 2.00018790482477e-13f;
        num = num * x2 - 8.60467152213735e-11f;
        num = num * x2 + 5.12229709037114e-08f;
        num = num * x2 + 1.48572235717979e-05f;
        num = num * x2 + 6.37261928875436e-04f;
        num = num * x2 + 4.89352455891786e-03f;
        float den = 1.19825839466702e-06f;
        den = den * x2 + 1.18534705686654e-04f;
        den = den * x2 + 2.26843463243900e-03f;
        den = den * x2 + 4.89352518554385e-03f;
        p[i] = x * num / den;
    }
}
]])]])]])

m4_define([[M4_CBLAS_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[M4_CBLAS_DONE]], [[]], [[m4_define([[M4_CBLAS_DONE]], 1)M4_PRELUDE([[
/* Default mode: the large products of im2col convolutions and dense layers
 * go to the BLAS (OpenBLAS's cblas_sgemm / cblas_sgemv). */
#include <cblas.h>
]])]])]])

# _M4_TILE_AVX512_16: a tile of at most 16 columns, one zmm per row.
m4_define([[_M4_TILE_AVX512_16]], [[    if (nr <= 16) {
M4_FORLOOP([[R]], 0, 7, [[        __m512 c[[]]R = _mm512_setzero_ps();
]])        for (int k = 0; k < K; k++) {
            const __m512 b0 = _mm512_loadu_ps(b + (size_t)k * ldb);
            const float *RESTRICT ak = a + k * 8;
M4_FORLOOP([[R]], 0, 7, [[            c[[]]R = _mm512_fmadd_ps(_mm512_set1_ps(ak[R]), b0, c[[]]R);
]])        }
        {
            const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffffu : (1u << nr) - 1u);
            const __m512 zero = _mm512_setzero_ps();   /* relu: max(zero, v) keeps NaN */
M4_FORLOOP([[R]], 0, 7, [[            if (R < mr) {
                __m512 v0 = _mm512_add_ps(c[[]]R, _mm512_set1_ps(bias ? bias[R] : 0.0f));
                if (relu) v0 = _mm512_max_ps(zero, v0);
                _mm512_mask_storeu_ps(M4_AT(c, M4_MUL(R, ldc)), m0, v0);
            }
]])        }
        return;
    }
]])

# _M4_TILE_AVX512: the 8x32 tile, two zmm accumulators per row.
m4_define([[_M4_TILE_AVX512]], [[_M4_TILE_AVX512_16[[]]m4_dnl
M4_FORLOOP([[R]], 0, 7, [[    __m512 c[[]]R[[]]_0 = _mm512_setzero_ps(), c[[]]R[[]]_1 = _mm512_setzero_ps();
]])    for (int k = 0; k < K; k++) {
        const __m512 b0 = _mm512_loadu_ps(b + (size_t)k * ldb);
        const __m512 b1 = _mm512_loadu_ps(b + (size_t)k * ldb + 16);
        const float *RESTRICT ak = a + k * 8;
M4_FORLOOP([[R]], 0, 7, [[        { const __m512 ar = _mm512_set1_ps(ak[R]);
          c[[]]R[[]]_0 = _mm512_fmadd_ps(ar, b0, c[[]]R[[]]_0); c[[]]R[[]]_1 = _mm512_fmadd_ps(ar, b1, c[[]]R[[]]_1); }
]])    }
    {
        const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffffu : (1u << nr) - 1u);
        const __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xffffu : nr <= 16 ? 0u : (1u << (nr - 16)) - 1u);
        const __m512 zero = _mm512_setzero_ps();       /* relu: max(zero, v) keeps NaN */
M4_FORLOOP([[R]], 0, 7, [[        if (R < mr) {
            const __m512 bb = _mm512_set1_ps(bias ? bias[R] : 0.0f);
            __m512 v0 = _mm512_add_ps(c[[]]R[[]]_0, bb), v1 = _mm512_add_ps(c[[]]R[[]]_1, bb);
            if (relu) { v0 = _mm512_max_ps(zero, v0); v1 = _mm512_max_ps(zero, v1); }
            _mm512_mask_storeu_ps(M4_AT(c, M4_MUL(R, ldc)), m0, v0);
            _mm512_mask_storeu_ps(M4_AT(c, M4_MUL(R, ldc)) + 16, m1, v1);
        }
]])    }
]])

# _M4_TILE_AVX2: the 8x32 tile as eight 4x16 sub-tiles (8 ymm accumulators).
m4_define([[_M4_TILE_AVX2]], [[    float t[8][32];
    for (int rh = 0; rh < 8; rh += 4)
        for (int ch = 0; ch < 32; ch += 16) {
M4_FORLOOP([[R]], 0, 3, [[            __m256 c[[]]R[[]]_0 = _mm256_setzero_ps(), c[[]]R[[]]_1 = _mm256_setzero_ps();
]])            if (rh >= mr || ch >= nr) continue;
            for (int k = 0; k < K; k++) {
                const __m256 b0 = _mm256_loadu_ps(b + (size_t)k * ldb + ch);
                const __m256 b1 = _mm256_loadu_ps(b + (size_t)k * ldb + ch + 8);
                const float *RESTRICT ak = a + k * 8 + rh;
M4_FORLOOP([[R]], 0, 3, [[                { const __m256 ar = _mm256_broadcast_ss(M4_AT(ak, R));
                  c[[]]R[[]]_0 = _mm256_fmadd_ps(ar, b0, c[[]]R[[]]_0); c[[]]R[[]]_1 = _mm256_fmadd_ps(ar, b1, c[[]]R[[]]_1); }
]])            }
M4_FORLOOP([[R]], 0, 3, [[            _mm256_storeu_ps(&t[M4_AT(rh, R)][ch], c[[]]R[[]]_0); _mm256_storeu_ps(&t[M4_AT(rh, R)][ch + 8], c[[]]R[[]]_1);
]])        }
]])

# _M4_TILE_NEON: the 8x32 tile as eight 4x16 sub-tiles: 16 q-register
# accumulators, four of B, and four rows of the panel in one register whose
# lanes the multiply-adds take (fmla v.4s, b.4s, a.s[lane]).
m4_define([[_M4_TILE_NEON]], [[    float t[8][32];
    for (int rh = 0; rh < 8; rh += 4)
        for (int ch = 0; ch < 32; ch += 16) {
            if (rh >= mr || ch >= nr) continue;
M4_FORLOOP([[R]], 0, 3, [[            float32x4_t c[[]]R[[]]_0 = vdupq_n_f32(0.0f), c[[]]R[[]]_1 = c[[]]R[[]]_0, c[[]]R[[]]_2 = c[[]]R[[]]_0, c[[]]R[[]]_3 = c[[]]R[[]]_0;
]])            for (int k = 0; k < K; k++) {
                const float *RESTRICT bk = b + (size_t)k * ldb + ch;
                const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4);
                const float32x4_t b2 = vld1q_f32(bk + 8), b3 = vld1q_f32(bk + 12);
                const float32x4_t ar = vld1q_f32(a + k * 8 + rh);
M4_FORLOOP([[R]], 0, 3, [[                c[[]]R[[]]_0 = vfmaq_laneq_f32(c[[]]R[[]]_0, b0, ar, R); c[[]]R[[]]_1 = vfmaq_laneq_f32(c[[]]R[[]]_1, b1, ar, R);
                c[[]]R[[]]_2 = vfmaq_laneq_f32(c[[]]R[[]]_2, b2, ar, R); c[[]]R[[]]_3 = vfmaq_laneq_f32(c[[]]R[[]]_3, b3, ar, R);
]])            }
M4_FORLOOP([[R]], 0, 3, [[            vst1q_f32(&t[M4_AT(rh, R)][ch], c[[]]R[[]]_0); vst1q_f32(&t[M4_AT(rh, R)][ch + 4], c[[]]R[[]]_1);
            vst1q_f32(&t[M4_AT(rh, R)][ch + 8], c[[]]R[[]]_2); vst1q_f32(&t[M4_AT(rh, R)][ch + 12], c[[]]R[[]]_3);
]])        }
]])

# _M4_TILE_C: the 8x32 tile in plain C (the compiler may vectorise the j loop).
m4_define([[_M4_TILE_C]], [[    float t[8][32];
    for (int r = 0; r < 8; r++)
        for (int j = 0; j < 32; j++) t[r][j] = 0.0f;
    for (int k = 0; k < K; k++) {
        const float *RESTRICT bk = b + (size_t)k * ldb;
        for (int r = 0; r < 8; r++) {
            const float ar = a[k * 8 + r];
            for (int j = 0; j < 32; j++) t[r][j] += ar * bk[j];
        }
    }
]])

# _M4_TILE_STORE: t (the tile's sums) plus bias, ReLU if asked, into c.
m4_define([[_M4_TILE_STORE]], [[    for (int r = 0; r < mr; r++) {
        const float bb = bias ? bias[r] : 0.0f;
        for (int j = 0; j < nr; j++) {
            const float v = t[r][j] + bb;
            c[r * ldc + j] = relu && v < 0.0f ? 0.0f : v;
        }
    }
]])

m4_define([[M4_GEMM_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]m4_ifdef([[M4_GEMM_DONE]], [[]], [[m4_define([[M4_GEMM_DONE]], 1)M4_PRELUDE(m4_ifelse(NET_SIMD, [[AVX]], [[
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
]], NET_SIMD, [[NEON]], [[
#if defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif
]], [[]]))M4_KERNEL([[
/* For bt < batch: C_bt[M][N] = act(A_bt · B_bt + bias), A_bt = A + bt*sa
 * (packed, see gemm.m4), B_bt = B + bt*sb (row stride ldb), C_bt = C + bt*sc
 * (row stride ldc); the part-th of parts shares of the tiles.  The tile
 * loop runs over the larger operand's panels outermost, so the smaller one
 * stays in cache. */]],
[[static void NET[[]]_gemm(int batch, int M, int N, int K, const float *RESTRICT A, size_t sa,
                      const float *RESTRICT B, int ldb, size_t sb, float *RESTRICT C, int ldc, size_t sc,
                      const float *RESTRICT bias, int relu, int part, int parts)]], [[{
    const int mp = (M + 7) / 8, np = (N + 31) / 32, per = mp * np;
    const int m_outer = M >= N;
    const int j0 = (int)((long long)batch * per * part / parts), j1 = (int)((long long)batch * per * (part + 1) / parts);
    for (int job = j0; job < j1; job++) {
        const int bt = job / per, r = job % per;
        const int im = m_outer ? r / np : r % mp, jn = m_outer ? r % np : r / mp;
        NET[[]]_tile(K, A + bt * sa + (size_t)im * 8 * K, B + bt * sb + jn * 32, ldb,
                  C + bt * sc + (size_t)im * 8 * ldc + jn * 32, ldc,
                  M - im * 8 < 8 ? M - im * 8 : 8, N - jn * 32 < 32 ? N - jn * 32 : 32,
                  bias ? bias + im * 8 : NULL, relu);
    }
}
]])M4_KERNEL([[
/* One 8x32 tile of C (mr <= 8 rows, nr <= 32 columns stored):
 * c[r][j] = act(sum_k a[k][r] b[k][j] + bias[r]); a: a packed K x 8 panel,
 * b: row-major with row stride ldb. */]],
[[static void NET[[]]_tile(int K, const float *RESTRICT a, const float *RESTRICT b, int ldb,
                      float *RESTRICT c, int ldc, int mr, int nr, const float *RESTRICT bias, int relu)]], [[{
m4_ifelse(NET_SIMD, [[AVX]], [[#if defined(__AVX512F__)
_M4_TILE_AVX512[[]]m4_dnl
#else
#if defined(__AVX2__) && defined(__FMA__)
_M4_TILE_AVX2[[]]m4_dnl
#else
_M4_TILE_C[[]]m4_dnl
#endif
_M4_TILE_STORE[[]]m4_dnl
#endif
]], NET_SIMD, [[NEON]], [[#if defined(__ARM_NEON) && defined(__aarch64__)
_M4_TILE_NEON[[]]m4_dnl
#else
_M4_TILE_C[[]]m4_dnl
#endif
_M4_TILE_STORE[[]]m4_dnl
]], [[_M4_TILE_C[[]]_M4_TILE_STORE[[]]]])m4_dnl
}
]])]])]])

# M4_GEMM_T_ONCE(R): NET_gemm_tR(), an im2col conv's product the other way
#   round, for outputs of few pixels: lanes over output channels, R pixels
#   a tile (R = 7 fits the 49, 196 and 784 pixels of 7·2^k squared
#   outputs, which 32-pixel tiles would leave up to a quarter empty):
#       y[oc][p] = act(sum_k W[oc][k] col[k][p] + bias[oc])
#   W packed at compile time in ceil(OC/32) panels of K×32 floats (k-major,
#   channels past OC zero), col row-major with row stride ldb, readable up
#   to R columns past the last tile's first.  Each output's sum is the
#   one NET_gemm() makes (the same multiply-adds in the same order, then
#   the bias, then ReLU): with AVX-512 or AVX2 either way round gives the
#   same bits (in plain C, so does a compiler that fuses both alike).  Tiles
#   of 32 channels outermost (their panel stays in cache), shared out over
#   the parts; the store writes each tile's R×32 sums transposed.
m4_define([[M4_GEMM_T_ONCE]], [[M4_ARGS([[$0]], $#, 1)M4_THREADS_ONCE[[]]m4_ifdef([[M4_GEMM_T$1_DONE]], [[]], [[m4_define([[M4_GEMM_T$1_DONE]], 1)M4_PRELUDE(m4_ifelse(NET_SIMD, [[AVX]], [[
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
]], [[]]))M4_KERNEL([[
/* For bt < batch: y_bt[OC][N] = act(W · col_bt + bias) the other way round
 * (see gemm.m4), col_bt = col + bt*sb, y_bt = y + bt*sc (row stride ldy);
 * the part-th of parts shares of the tiles of $1 pixels by 32 channels. */]],
[[static void NET[[]]_gemm_t$1(int batch, int OC, int N, int K, const float *RESTRICT W, const float *RESTRICT col,
                         int ldb, size_t sb, float *RESTRICT y, int ldy, size_t sc, const float *RESTRICT bias,
                         int relu, int part, int parts)]], [[{
    const int cp = (OC + 31) / 32, pp = (N + $1 - 1) / $1, per = cp * pp;
    const int j0 = (int)((long long)batch * per * part / parts), j1 = (int)((long long)batch * per * (part + 1) / parts);
    for (int job = j0; job < j1; job++) {
        const int ic = job / (batch * pp), r = job % (batch * pp), bt = r / pp, ip = r % pp;
        NET[[]]_tile_t$1(K, col + bt * sb + ip * $1, ldb, W + (size_t)ic * 32 * K,
                      y + bt * sc + (size_t)ic * 32 * ldy + ip * $1, ldy,
                      N - ip * $1 < $1 ? N - ip * $1 : $1, OC - ic * 32 < 32 ? OC - ic * 32 : 32,
                      bias ? bias + ic * 32 : NULL, relu);
    }
}
]])M4_KERNEL([[
/* One tile of y, mr <= $1 pixels by nc <= 32 channels:
 * y[j][r] = act(sum_k w[k][j] a[k][r] + bias[j]); a: col's columns, row
 * stride lda; w: a packed K x 32 panel; y: row stride ldy. */]],
[[static void NET[[]]_tile_t$1(int K, const float *RESTRICT a, int lda, const float *RESTRICT w, float *RESTRICT y,
                         int ldy, int mr, int nc, const float *RESTRICT bias, int relu)]], [[{
m4_ifelse(NET_SIMD, [[AVX]], [[#if defined(__AVX512F__)
    const __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffffu : (1u << nc) - 1u);
    const __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffffu : nc <= 16 ? 0u : (1u << (nc - 16)) - 1u);
    const __m512 zero = _mm512_setzero_ps();
    const __m512i ix = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                          _mm512_set1_epi32(ldy));
    float *RESTRICT y1 = y + (size_t)16 * ldy;
M4_FORLOOP([[R]], 0, $1 - 1, [[    __m512 c[[]]R[[]]_0 = zero, c[[]]R[[]]_1 = zero;
]])    for (int k = 0; k < K; k++) {
        const __m512 b0 = _mm512_loadu_ps(w + (size_t)k * 32), b1 = _mm512_loadu_ps(w + (size_t)k * 32 + 16);
        const float *RESTRICT ak = a + (size_t)k * lda;
M4_FORLOOP([[R]], 0, $1 - 1, [[        { const __m512 ar = _mm512_set1_ps(ak[R]);
          c[[]]R[[]]_0 = _mm512_fmadd_ps(ar, b0, c[[]]R[[]]_0); c[[]]R[[]]_1 = _mm512_fmadd_ps(ar, b1, c[[]]R[[]]_1); }
]])    }
    {
        /* relu: max(zero, v) keeps NaN */
        const __m512 bb0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : zero, bb1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : zero;
M4_FORLOOP([[R]], 0, $1 - 1, [[        if (R < mr) {
            __m512 v0 = _mm512_add_ps(c[[]]R[[]]_0, bb0), v1 = _mm512_add_ps(c[[]]R[[]]_1, bb1);
            if (relu) { v0 = _mm512_max_ps(zero, v0); v1 = _mm512_max_ps(zero, v1); }
            _mm512_mask_i32scatter_ps(M4_AT(y, R), m0, ix, v0, 4);
            _mm512_mask_i32scatter_ps(M4_AT(y1, R), m1, ix, v1, 4);
        }
]])    }
#elif defined(__AVX2__) && defined(__FMA__)
_M4_TILE_T_AVX2($1)[[]]_M4_TILE_T_STORE[[]]m4_dnl
#else
_M4_TILE_T_C($1)[[]]_M4_TILE_T_STORE[[]]m4_dnl
#endif
]], [[_M4_TILE_T_C($1)[[]]_M4_TILE_T_STORE]])m4_dnl
}
]])]])]])

# _M4_TILE_T_AVX2(R): the R×32 sums as sub-tiles of up to 4 pixels by 16
# channels (8 ymm accumulators), into t.
m4_define([[_M4_TILE_T_AVX2]], [[    float t[$1][32];
    for (int ch = 0; ch < 32 && ch < nc; ch += 16) {
_M4_TILE_T_AVX2_ROWS(0, 3)[[]]_M4_TILE_T_AVX2_ROWS(4, $1 - 1)[[]]m4_dnl
    }
]])
m4_define([[_M4_TILE_T_AVX2_ROWS]], [[        if ($1 < mr) {
M4_FORLOOP([[R]], $1, $2, [[            __m256 c[[]]R[[]]_0 = _mm256_setzero_ps(), c[[]]R[[]]_1 = _mm256_setzero_ps();
]])            for (int k = 0; k < K; k++) {
                const __m256 b0 = _mm256_loadu_ps(w + (size_t)k * 32 + ch), b1 = _mm256_loadu_ps(w + (size_t)k * 32 + ch + 8);
                const float *RESTRICT ak = a + (size_t)k * lda;
M4_FORLOOP([[R]], $1, $2, [[                { const __m256 ar = _mm256_broadcast_ss(M4_AT(ak, R));
                  c[[]]R[[]]_0 = _mm256_fmadd_ps(ar, b0, c[[]]R[[]]_0); c[[]]R[[]]_1 = _mm256_fmadd_ps(ar, b1, c[[]]R[[]]_1); }
]])            }
M4_FORLOOP([[R]], $1, $2, [[            _mm256_storeu_ps(&t[R][ch], c[[]]R[[]]_0); _mm256_storeu_ps(&t[R][ch + 8], c[[]]R[[]]_1);
]])        }
]])

# _M4_TILE_T_STORE: t (the tile's sums, t[pixel][channel]) plus bias,
# ReLU if asked, into y transposed.
m4_define([[_M4_TILE_T_STORE]], [[    for (int j = 0; j < nc; j++) {
        const float bb = bias ? bias[j] : 0.0f;
        for (int r = 0; r < mr; r++) {
            const float v = t[r][j] + bb;
            y[(size_t)j * ldy + r] = relu && v < 0.0f ? 0.0f : v;
        }
    }
]])

# _M4_TILE_T_C(R): the R×32 sums in plain C (the compiler may vectorise
# the j loops), into t.
m4_define([[_M4_TILE_T_C]], [[    float t[$1][32];
    for (int r = 0; r < $1; r++)
        for (int j = 0; j < 32; j++) t[r][j] = 0.0f;
    for (int k = 0; k < K; k++) {
        const float *RESTRICT wk = w + (size_t)k * 32;
        for (int r = 0; r < $1; r++) {
            const float ar = a[(size_t)k * lda + r];
            for (int j = 0; j < 32; j++) t[r][j] += ar * wk[j];
        }
    }
]])

# M4_GEMM_MANY_ONCE(): NET_gemm_many(), NET_gemm() over a batch of images
#   as well (run_many()): the images share A, and each packed panel of a
#   large A is used for every image while it is in cache.  The same tiles and sums
#   as one image at a time.
m4_define([[M4_GEMM_MANY_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_GEMM_ONCE[[]]m4_ifdef([[M4_GEMM_MANY_DONE]], [[]], [[m4_define([[M4_GEMM_MANY_DONE]], 1)M4_KERNEL([[
/* For bt < batch and image i < nb: C_bt,i = act(A_bt · B_bt,i + bias),
 * A_bt = A + bt*sa, B_bt,i = B + bt*sb + i*bi, C_bt,i = C + bt*sc + i*ci
 * (see NET[[]]_gemm()).  A large A_bt (over 256 KB) is read a block of
 * rows at a time, and each image's tiles are done with it while it is in
 * cache. */]],
[[static void NET[[]]_gemm_many(int nb, int batch, int M, int N, int K, const float *RESTRICT A, size_t sa,
                           const float *RESTRICT B, int ldb, size_t sb, size_t bi,
                           float *RESTRICT C, int ldc, size_t sc, size_t ci, const float *RESTRICT bias, int relu)]], [[{
    if ((size_t)M * K <= 65536) {   /* A_bt stays in cache by itself: image by image */
        for (int i = 0; i < nb; i++)
            NET[[]]_gemm(batch, M, N, K, A, sa, B + i * bi, ldb, sb, C + i * ci, ldc, sc, bias, relu, 0, 1);
        return;
    }
    {   /* blocks of mb rows of A_bt (about 128 KB), each with every image */
        int mb = 32768 / K / 8 * 8;
        if (mb < 8) mb = 8;
        for (int bt = 0; bt < batch; bt++)
            for (int m0 = 0; m0 < M; m0 += mb)
                for (int i = 0; i < nb; i++)
                    NET[[]]_gemm(1, M - m0 < mb ? M - m0 : mb, N, K, A + bt * sa + (size_t)m0 * K, 0,
                              B + bt * sb + i * bi, ldb, 0, C + bt * sc + i * ci + (size_t)m0 * ldc, ldc, 0,
                              bias ? bias + m0 : NULL, relu, 0, 1);
    }
}
]])]])]])

# M4_MATVEC_MANY_ONCE(): NET_matvec_many(), y_i = W·x_i for a batch of
#   images (a dense layer, or a conv with one output pixel, in run_many()):
#   each row of W is read once for four images (with AVX or on aarch64;
#   one image at a time otherwise), and each sum is the single-image
#   code's: eight partial sums, each `a += w * x' as there (so a compiler
#   that fuses multiply-adds fuses both alike), added in the same order;
#   plain C, which gcc keeps in vector registers.
m4_define([[M4_MATVEC_MANY_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]m4_ifdef([[M4_MATVEC_MANY_DONE]], [[]], [[m4_define([[M4_MATVEC_MANY_DONE]], 1)M4_KERNEL([[
/* y + i*ys = W[M][K] · (x + i*xs) for i < nb, W row-major; four images at
 * a time where there are vector registers enough (the lanes of a missing
 * image computed on image i0 and not stored). */]],
[[CNNC_VECTORIZE static void NET[[]]_matvec_many(int M, int K, const float *RESTRICT W, const float *RESTRICT x, size_t xs,
                             float *RESTRICT y, size_t ys, int nb)]], [[{
#if defined(__AVX__) || defined(__aarch64__)
    for (int i0 = 0; i0 < nb; i0 += 4) {
        const int ni = nb - i0 < 4 ? nb - i0 : 4;
        const float *RESTRICT x0 = x + (size_t)i0 * xs;
        const float *RESTRICT x1 = x + (size_t)(i0 + (ni > 1 ? 1 : 0)) * xs;
        const float *RESTRICT x2 = x + (size_t)(i0 + (ni > 2 ? 2 : 0)) * xs;
        const float *RESTRICT x3 = x + (size_t)(i0 + (ni > 3 ? 3 : 0)) * xs;
        for (int o = 0; o < M; o++) {
            const float *RESTRICT wr = W + (size_t)o * K;
            float a0[8], a1[8], a2[8], a3[8];
            const float *acc[4];
            int k = 0;
            for (int l = 0; l < 8; l++) a0[l] = a1[l] = a2[l] = a3[l] = 0.0f;
            for (; k + 8 <= K; k += 8)
                for (int l = 0; l < 8; l++) {
                    const float w = wr[k + l];
                    a0[l] += w * x0[k + l];
                    a1[l] += w * x1[k + l];
                    a2[l] += w * x2[k + l];
                    a3[l] += w * x3[k + l];
                }
            for (; k < K; k++) {
                a0[0] += wr[k] * x0[k];
                a1[0] += wr[k] * x1[k];
                a2[0] += wr[k] * x2[k];
                a3[0] += wr[k] * x3[k];
            }
            acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
            for (int j = 0; j < ni; j++) {
                const float *s = acc[j];
                y[(size_t)(i0 + j) * ys + o] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            }
        }
    }
#else
    for (int i = 0; i < nb; i++) {
        const float *RESTRICT x0 = x + (size_t)i * xs;
        for (int o = 0; o < M; o++) {
            const float *RESTRICT wr = W + (size_t)o * K;
            float a0[8];
            int k = 0;
            for (int l = 0; l < 8; l++) a0[l] = 0.0f;
            for (; k + 8 <= K; k += 8)
                for (int l = 0; l < 8; l++) a0[l] += wr[k + l] * x0[k + l];
            for (; k < K; k++) a0[0] += wr[k] * x0[k];
            y[(size_t)i * ys + o] = ((a0[0] + a0[1]) + (a0[2] + a0[3])) + ((a0[4] + a0[5]) + (a0[6] + a0[7]));
        }
    }
#endif
}
]])]])]])

m4_define([[M4_IM2COL_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]m4_ifdef([[M4_IM2COL_DONE]], [[]], [[m4_define([[M4_IM2COL_DONE]], 1)M4_KERNEL([[
/* col[(c*kh + ky)*kw + kx][p - p0] = x[c][oy*sh - pt + ky*dh][ox*sw - pl + kx*dw]
 * for the output pixels p = oy*ow + ox in [p0, p0 + np), 0 where that is
 * padding; rows have stride ldc (columns past np are zeroed); the part-th
 * of parts shares of the rows. */]],
[[CNNC_VECTORIZE static void NET[[]]_im2col(const float *RESTRICT x, int C, int H, int W, int kh, int kw, int sh, int sw,
                        int pt, int pl, int dh, int dw, int ow, int p0, int np, float *RESTRICT col, int ldc,
                        int part, int parts)]], [[{
    const int k0 = (int)((long long)C * kh * kw * part / parts), k1 = (int)((long long)C * kh * kw * (part + 1) / parts);
    const int oy0 = p0 / ow, a0 = p0 - oy0 * ow;     /* the first pixel's row and column */
    for (int k = k0; k < k1; k++) {
        const int c = k / (kh * kw), ky = k / kw % kh, kx = k % kw;
        /* the output columns whose input column is inside the image */
        const int x0 = pl - kx * dw;
        int lo = x0 <= 0 ? 0 : (x0 + sw - 1) / sw;
        int hi = (W - 1 + x0) < 0 ? 0 : (W - 1 + x0) / sw + 1;
        if (lo > ow) lo = ow;
        if (hi > ow) hi = ow;
        if (hi < lo) hi = lo;
        for (int j = 0, oy = oy0, a = a0; j < np; oy++, a = 0) {
            /* the pixels j.. of the range in output row oy: columns [a, b) */
            const int b = ow - a < np - j ? ow : a + np - j;
            const int iy = oy * sh - pt + ky * dh;
            float *RESTRICT dr = col + (size_t)k * ldc + j;      /* dr[ox - a]: column ox of the row */
            const int l = lo < a ? a : lo > b ? b : lo, h = hi > b ? b : hi < l ? l : hi;
            j += b - a;
            if (iy < 0 || iy >= H) {
                for (int ox = a; ox < b; ox++) dr[ox - a] = 0.0f;
                continue;
            }
            const float *RESTRICT xr = x + ((size_t)c * H + iy) * W - x0;
            for (int ox = a; ox < l; ox++) dr[ox - a] = 0.0f;
            if (sw == 1)
                memcpy(dr + (l - a), xr + l, sizeof(float) * (size_t)(h - l));
            else if (sw == 2)                   /* a constant stride: the loop vectorises */
                for (int ox = l; ox < h; ox++) dr[ox - a] = xr[ox * 2];
            else
                for (int ox = l; ox < h; ox++) dr[ox - a] = xr[ox * sw];
            for (int ox = h; ox < b; ox++) dr[ox - a] = 0.0f;
        }
        for (int q = np; q < ldc; q++) col[(size_t)k * ldc + q] = 0.0f;
    }
}
]])]])]])

m4_define([[M4_WINO_ONCE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]m4_ifdef([[M4_WINO_DONE]], [[]], [[m4_define([[M4_WINO_DONE]], 1)M4_KERNEL([[
/* Winograd input transform of up to 8 tiles of one tile row:
 * v[(i*A + j)*sv + t] = (Bᵀ d_t B)[i][j], d_t the A x A patch of tile t,
 * A = m + 2; F(2,3) when m = 2, F(4,3) when m = 4, F(6,3) when m = 6.  The padded input is
 * split by column phase: row r of the patches is xq + r*m*tq, phase q at
 * + q*tq, so column t*m + q is xq[q*tq + t] and every load is contiguous
 * over tiles.  All eight lanes are computed (lanes past nt read data of the
 * next row or the scratch's slack, and are never stored), so the loops
 * have a constant trip count and vectorise at -O2. */]],
[[CNNC_VECTORIZE static void NET[[]]_wino_in(int m, const float *RESTRICT xq, int tq, int nt, float *RESTRICT v, size_t sv)]], [[{
    float h[8][8][8];           /* [row r][column j][tile]: d·B along the row */
    float o[64][8];             /* Bᵀ·h: the transformed tiles */
    if (m == 6) {
        for (int r = 0; r < 8; r++) {
            const float *RESTRICT q0 = xq + r * 6 * tq;
            for (int t = 0; t < 8; t++) {
                const float d0 = q0[t], d1 = q0[tq + t], d2 = q0[2 * tq + t], d3 = q0[3 * tq + t];
                const float d4 = q0[4 * tq + t], d5 = q0[5 * tq + t], d6 = q0[t + 1], d7 = q0[tq + t + 1];
                const float t1 = d1 + d5 - 4.25f * d3, t2 = d2 + d6 - 4.25f * d4;
                const float t3 = 0.5f * d1 - 2.5f * d3 + 2.0f * d5, t4 = 0.25f * d2 - 1.25f * d4 + d6;
                const float t5 = 2.0f * d1 - 2.5f * d3 + 0.5f * d5, t6 = 4.0f * d2 - 5.0f * d4 + d6;
                h[r][0][t] = d0 - d6 + 5.25f * (d4 - d2);
                h[r][1][t] = t2 + t1;
                h[r][2][t] = t2 - t1;
                h[r][3][t] = t4 + t3;
                h[r][4][t] = t4 - t3;
                h[r][5][t] = t6 + t5;
                h[r][6][t] = t6 - t5;
                h[r][7][t] = d7 - d1 + 5.25f * (d3 - d5);
            }
        }
        for (int j = 0; j < 8; j++)
            for (int t = 0; t < 8; t++) {
                const float d0 = h[0][j][t], d1 = h[1][j][t], d2 = h[2][j][t], d3 = h[3][j][t];
                const float d4 = h[4][j][t], d5 = h[5][j][t], d6 = h[6][j][t], d7 = h[7][j][t];
                const float t1 = d1 + d5 - 4.25f * d3, t2 = d2 + d6 - 4.25f * d4;
                const float t3 = 0.5f * d1 - 2.5f * d3 + 2.0f * d5, t4 = 0.25f * d2 - 1.25f * d4 + d6;
                const float t5 = 2.0f * d1 - 2.5f * d3 + 0.5f * d5, t6 = 4.0f * d2 - 5.0f * d4 + d6;
                o[j][t] = d0 - d6 + 5.25f * (d4 - d2);
                o[8 + j][t] = t2 + t1;
                o[2 * 8 + j][t] = t2 - t1;
                o[3 * 8 + j][t] = t4 + t3;
                o[4 * 8 + j][t] = t4 - t3;
                o[5 * 8 + j][t] = t6 + t5;
                o[6 * 8 + j][t] = t6 - t5;
                o[7 * 8 + j][t] = d7 - d1 + 5.25f * (d3 - d5);
            }
    } else if (m == 2) {
        for (int r = 0; r < 4; r++) {
            const float *RESTRICT q0 = xq + r * 2 * tq, *RESTRICT q1 = q0 + tq;
            for (int t = 0; t < 8; t++) {
                const float p0 = q0[t], p1 = q1[t], p2 = q0[t + 1], p3 = q1[t + 1];
                h[r][0][t] = p0 - p2;
                h[r][1][t] = p1 + p2;
                h[r][2][t] = p2 - p1;
                h[r][3][t] = p1 - p3;
            }
        }
        for (int j = 0; j < 4; j++)
            for (int t = 0; t < 8; t++) {
                const float d0 = h[0][j][t], d1 = h[1][j][t], d2 = h[2][j][t], d3 = h[3][j][t];
                o[j][t] = d0 - d2;
                o[4 + j][t] = d1 + d2;
                o[2 * 4 + j][t] = d2 - d1;
                o[3 * 4 + j][t] = d1 - d3;
            }
    } else {
        for (int r = 0; r < 6; r++) {
            const float *RESTRICT q0 = xq + r * 4 * tq, *RESTRICT q1 = q0 + tq;
            const float *RESTRICT q2 = q1 + tq, *RESTRICT q3 = q2 + tq;
            for (int t = 0; t < 8; t++) {
                const float p0 = q0[t], p1 = q1[t], p2 = q2[t];
                const float p3 = q3[t], p4 = q0[t + 1], p5 = q1[t + 1];
                h[r][0][t] = 4.0f * p0 - 5.0f * p2 + p4;
                h[r][1][t] = -4.0f * (p1 + p2) + p3 + p4;
                h[r][2][t] = 4.0f * (p1 - p2) - p3 + p4;
                h[r][3][t] = 2.0f * (p3 - p1) - p2 + p4;
                h[r][4][t] = 2.0f * (p1 - p3) - p2 + p4;
                h[r][5][t] = 4.0f * p1 - 5.0f * p3 + p5;
            }
        }
        for (int j = 0; j < 6; j++)
            for (int t = 0; t < 8; t++) {
                const float d0 = h[0][j][t], d1 = h[1][j][t], d2 = h[2][j][t];
                const float d3 = h[3][j][t], d4 = h[4][j][t], d5 = h[5][j][t];
                o[j][t] = 4.0f * d0 - 5.0f * d2 + d4;
                o[6 + j][t] = -4.0f * (d1 + d2) + d3 + d4;
                o[2 * 6 + j][t] = 4.0f * (d1 - d2) - d3 + d4;
                o[3 * 6 + j][t] = 2.0f * (d3 - d1) - d2 + d4;
                o[4 * 6 + j][t] = 2.0f * (d1 - d3) - d2 + d4;
                o[5 * 6 + j][t] = 4.0f * d1 - 5.0f * d3 + d5;
            }
    }
    if (nt == 8)
        for (int e = 0; e < (m + 2) * (m + 2); e++)
            for (int t = 0; t < 8; t++) v[e * sv + t] = o[e][t];
    else if (nt == 4)
        for (int e = 0; e < (m + 2) * (m + 2); e++)
            for (int t = 0; t < 4; t++) v[e * sv + t] = o[e][t];
    else
        for (int e = 0; e < (m + 2) * (m + 2); e++)
            for (int t = 0; t < nt; t++) v[e * sv + t] = o[e][t];
}
]])M4_KERNEL([[
/* Winograd output transform of up to 8 tiles of one tile row: the m x m
 * block Aᵀ M_t A of tile t (M_t[i][j] = u[(i*A + j)*su + t]) plus bias,
 * ReLU if asked (v < 0 ? 0 : v: NaN stays NaN), written at y + t*m (row
 * stride ow), clipped to rows x cols.
 * Eight lanes are computed (u is readable 8 floats past each row). */]],
[[CNNC_VECTORIZE static void NET[[]]_wino_out(int m, const float *RESTRICT u, size_t su, int nt, float bias, int relu,
                          float *RESTRICT y, int ow, int rows, int cols)]], [[{
    float s[6][8][8];           /* [output row i][column j][tile]: Aᵀ·M down the columns */
    float o[6][6][8];           /* [output row i][phase k][tile] */
    if (m == 6) {
        for (int j = 0; j < 8; j++) {
            const float *RESTRICT uj = u + j * su;
            for (int t = 0; t < 8; t++) {
                const float m0 = uj[t], m1 = uj[8 * su + t], m2 = uj[2 * 8 * su + t], m3 = uj[3 * 8 * su + t];
                const float m4 = uj[4 * 8 * su + t], m5 = uj[5 * 8 * su + t], m6 = uj[6 * 8 * su + t];
                const float m7 = uj[7 * 8 * su + t];
                const float a12 = m1 + m2, b12 = m1 - m2, a34 = m3 + m4, b34 = m3 - m4, a56 = m5 + m6, b56 = m5 - m6;
                s[0][j][t] = m0 + a12 + a34 + a56;
                s[1][j][t] = b12 + 2.0f * b34 + 0.5f * b56;
                s[2][j][t] = a12 + 4.0f * a34 + 0.25f * a56;
                s[3][j][t] = b12 + 8.0f * b34 + 0.125f * b56;
                s[4][j][t] = a12 + 16.0f * a34 + 0.0625f * a56;
                s[5][j][t] = b12 + 32.0f * b34 + 0.03125f * b56 + m7;
            }
        }
        for (int i = 0; i < 6; i++)
            for (int t = 0; t < 8; t++) {
                const float q0 = s[i][0][t], q7 = s[i][7][t];
                const float a12 = s[i][1][t] + s[i][2][t], b12 = s[i][1][t] - s[i][2][t];
                const float a34 = s[i][3][t] + s[i][4][t], b34 = s[i][3][t] - s[i][4][t];
                const float a56 = s[i][5][t] + s[i][6][t], b56 = s[i][5][t] - s[i][6][t];
                float a0 = q0 + a12 + a34 + a56 + bias;
                float a1 = b12 + 2.0f * b34 + 0.5f * b56 + bias;
                float a2 = a12 + 4.0f * a34 + 0.25f * a56 + bias;
                float a3 = b12 + 8.0f * b34 + 0.125f * b56 + bias;
                float a4 = a12 + 16.0f * a34 + 0.0625f * a56 + bias;
                float a5 = b12 + 32.0f * b34 + 0.03125f * b56 + q7 + bias;
                if (relu) {
                    a0 = a0 < 0.0f ? 0.0f : a0;
                    a1 = a1 < 0.0f ? 0.0f : a1;
                    a2 = a2 < 0.0f ? 0.0f : a2;
                    a3 = a3 < 0.0f ? 0.0f : a3;
                    a4 = a4 < 0.0f ? 0.0f : a4;
                    a5 = a5 < 0.0f ? 0.0f : a5;
                }
                o[i][0][t] = a0;
                o[i][1][t] = a1;
                o[i][2][t] = a2;
                o[i][3][t] = a3;
                o[i][4][t] = a4;
                o[i][5][t] = a5;
            }
    } else if (m == 2) {
        for (int j = 0; j < 4; j++) {
            const float *RESTRICT uj = u + j * su;
            for (int t = 0; t < 8; t++) {
                const float m0 = uj[t], m1 = uj[4 * su + t];
                const float m2 = uj[2 * 4 * su + t], m3 = uj[3 * 4 * su + t];
                s[0][j][t] = m0 + m1 + m2;
                s[1][j][t] = m1 - m2 - m3;
            }
        }
        for (int i = 0; i < 2; i++)
            for (int t = 0; t < 8; t++) {
                float a0 = s[i][0][t] + s[i][1][t] + s[i][2][t] + bias;
                float a1 = s[i][1][t] - s[i][2][t] - s[i][3][t] + bias;
                if (relu) {
                    a0 = a0 < 0.0f ? 0.0f : a0;
                    a1 = a1 < 0.0f ? 0.0f : a1;
                }
                o[i][0][t] = a0;
                o[i][1][t] = a1;
            }
    } else {
        for (int j = 0; j < 6; j++) {
            const float *RESTRICT uj = u + j * su;
            for (int t = 0; t < 8; t++) {
                const float m0 = uj[t], m1 = uj[6 * su + t];
                const float m2 = uj[2 * 6 * su + t], m3 = uj[3 * 6 * su + t];
                const float m4 = uj[4 * 6 * su + t], m5 = uj[5 * 6 * su + t];
                s[0][j][t] = m0 + (m1 + m2) + (m3 + m4);
                s[1][j][t] = (m1 - m2) + 2.0f * (m3 - m4);
                s[2][j][t] = (m1 + m2) + 4.0f * (m3 + m4);
                s[3][j][t] = (m1 - m2) + 8.0f * (m3 - m4) + m5;
            }
        }
        for (int i = 0; i < 4; i++)
            for (int t = 0; t < 8; t++) {
                const float q0 = s[i][0][t], q1 = s[i][1][t], q2 = s[i][2][t];
                const float q3 = s[i][3][t], q4 = s[i][4][t], q5 = s[i][5][t];
                float a0 = q0 + (q1 + q2) + (q3 + q4) + bias;
                float a1 = (q1 - q2) + 2.0f * (q3 - q4) + bias;
                float a2 = (q1 + q2) + 4.0f * (q3 + q4) + bias;
                float a3 = (q1 - q2) + 8.0f * (q3 - q4) + q5 + bias;
                if (relu) {
                    a0 = a0 < 0.0f ? 0.0f : a0;
                    a1 = a1 < 0.0f ? 0.0f : a1;
                    a2 = a2 < 0.0f ? 0.0f : a2;
                    a3 = a3 < 0.0f ? 0.0f : a3;
                }
                o[i][0][t] = a0;
                o[i][1][t] = a1;
                o[i][2][t] = a2;
                o[i][3][t] = a3;
            }
    }
    /* interleave the phases back into the rows (all eight lanes, into a
     * local row: constant trip counts), then copy the columns that exist */
    const int nc = cols < nt * m ? cols : nt * m;
    for (int i = 0; i < rows; i++) {
        float row[48];
        if (m == 6)
            for (int t = 0; t < 8; t++) {
                row[6 * t] = o[i][0][t];
                row[6 * t + 1] = o[i][1][t];
                row[6 * t + 2] = o[i][2][t];
                row[6 * t + 3] = o[i][3][t];
                row[6 * t + 4] = o[i][4][t];
                row[6 * t + 5] = o[i][5][t];
            }
        else if (m == 2)
            for (int t = 0; t < 8; t++) {
                row[2 * t] = o[i][0][t];
                row[2 * t + 1] = o[i][1][t];
            }
        else
            for (int t = 0; t < 8; t++) {
                row[4 * t] = o[i][0][t];
                row[4 * t + 1] = o[i][1][t];
                row[4 * t + 2] = o[i][2][t];
                row[4 * t + 3] = o[i][3][t];
            }
        for (int c = 0; c < nc; c++) y[i * ow + c] = row[c];
    }
}
]])]])]])
m4_divert(0)m4_dnl
