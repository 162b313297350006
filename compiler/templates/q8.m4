m4_divert(-1)
# q8.m4 — int8 layers (cnnc --quantize int8; docs/quantize.md says every
# formula).  A tensor of int8 holds x = (q - zp) * scale; its buffer is an
# int8_t slot of the arena ([[M4_QPTR]]), channels last: element (c, y, x) of a
# [C][H][W] tensor at (y * W + x) * C + c, as int8 engines keep it (a pixel's
# channels are the bytes a product sums).  Weights are int8 in [[NET_q8w]]
# (PyTorch's layout, or panels for a conv's product), the per-channel
# integers in [[NET_q32]]: the sums' starting value (the bias, with the input's
# zero point folded in as each kernel needs), the multiplier and the shift of
# the requantization acc * mult / 2^shift, rounded once, half toward
# +infinity, plus the output zero point, clamped to [L_LO, L_HI] (which
# absorbs relu and relu6).  Plain C99 loops but for the convs' products and
# their requantization (AVX-512 VNNI where the build has it; the products
# with AVX2 where it has that); the
# accumulator is int32 (cnnc checks that no window can overflow it).
#
# [[M4_Q8_IN]]: the float input (normalised, if the network is) to int8 (with
#   --int8-io, NET_INT8_IO 1: the caller's int8 input, transposed).
# [[M4_Q8_OUT]]: the last layer's int8 to the caller's float output (int8 with
#   --int8-io).
# [[M4_Q8_COPY]], [[M4_Q8_FLOAT_COPY]]: an output's copy in the other precision,
#   for its readers (layers kept float: pass_quant.c).
# [[M4_Q8_GEMM]]: a conv without groups, as a product (below).
# [[M4_Q8_CONV]]: a grouped conv: per output pixel and channel, the int32 sum
#   over the taps inside the input (padding is real 0: no term), requantized.
# [[M4_Q8_DENSE]]: a dense layer (cnnc puts its weights' columns in the
#   input's channels-last order).
# [[M4_Q8_MAXPOOL]]: max over the window's inputs that exist (the output keeps
#   the input's scale and zero point: max commutes with the map).
# [[M4_Q8_GAVGPOOL]]: the sum of q - zp over each channel, requantized (the
#   mean's 1/(H*W) is in the multiplier).
# [[M4_Q8_ADD]]: ((qa - zpa) * L_QA + (qb - zpb) * L_QB) / 2^L_QS, rounded once
#   as above, plus the output zero point, clamped.
# Layer data: L_FN L_LABEL ... as every layer; L_X L_XOFF L_Y L_YOFF (and
# L_X2 L_X2OFF); L_ZPI (input zero point), L_ZPO, L_LO, L_HI; L_QWOFF (int8
# weights), L_QBOFF L_QMOFF L_QSOFF (int32: bias, multiplier, shift per
# channel); L_SCALE L_ZP L_C for [[M4_Q8_IN]] and [[M4_Q8_OUT]]; L_OUTN L_OUTC
# (the output's size and channels) for the trace.

# [[M4_QPTR]](buffer, offset): an int8 buffer of run() at a float offset of the
# arena, declared once (as [[M4_PTR]] declares the float ones).
m4_define([[M4_QPTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    int8_t *const $1 = (int8_t *)(M4_AT([[ws]], $2));
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])

# [[M4_Q8_ONCE]]: the requantization, mirrored line
# for line from compiler/quant.c (quant_requantize, quant_quantize).
m4_define([[M4_Q8_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[_M4_Q8_DONE]], [[]], [[m4_define([[_M4_Q8_DONE]], 1)m4_dnl
M4_KERNEL([[/* clamp(zp + floor((acc * mult + 2^(shift-1)) / 2^shift), lo, hi): acc * mult / 2^shift
 * rounded once, half toward +infinity (compiler/quant.c quant_requantize).
 * The floor division is a shift of an unsigned number (2^63 added and taken
 * back), never a right shift of a negative one. */]],
[[static int32_t NET[[]]_requant(int64_t acc, int32_t mult, int shift, int zp, int lo, int hi)]],
[[{
    uint64_t u = (uint64_t)(acc * mult) + ((uint64_t)1 << 63) + ((uint64_t)1 << (shift - 1));
    int64_t r = (int64_t)(u >> shift) - (int64_t)((uint64_t)1 << (63 - shift)) + zp;
    return (int32_t)(r < lo ? lo : r > hi ? hi : r);
}
]])]])]])
# [[M4_Q8_QONCE]]: the float-to-int8 quantization, once (the input's, a copy's).
m4_define([[M4_Q8_QONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[_M4_Q8Q_DONE]], [[]], [[m4_define([[_M4_Q8Q_DONE]], 1)m4_dnl
M4_KERNEL([[/* q = clamp(round_half_away(x / scale) + zp, -128, 127), NaN to zp
 * (compiler/quant.c quant_quantize). */]],
[[static int8_t NET[[]]_quantize(float x, float scale, int zp)]],
[[{
    float v = roundf(x / scale);
    if (v != v) return (int8_t)zp;
    if (v < -256.0f) v = -256.0f;
    if (v > 256.0f) v = 256.0f;
    {
        int q = (int)v + zp;
        return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
}
]])]])]])

# [[M4_Q8_TRACE]](ptr): in a build cnnc eval reads (NET_TRACE 1), the layer's
# int8 output goes to cnnc_q8_trace() when written (channels last, L_OUTC).
m4_define([[M4_Q8_TRACE]], [[m4_ifelse(NET_TRACE, 1, [[    cnnc_q8_trace(L_NODE, $1, L_OUTN, L_OUTC);
]])]])

m4_define([[M4_Q8_IN]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(NET_INT8_IO, 1, [[M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    /* --int8-io: the caller's int8 input, (C, H, W) to channels last */
    for (int c = 0; c < L_C; c++)
        for (int p = 0; p < m4_eval(L_N / L_C); p++) y[p * L_C + c] = x[c * m4_eval(L_N / L_C) + p];
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]], [[_M4_Q8_QUANTIZE([[M4_Q8_TRACE([[y]])]])]])]])
# [[M4_Q8_COPY]]: a float layer's output quantized, for the int8 layers that read
# it (an int8 build with layers kept float); not traced (it is no layer).
m4_define([[M4_Q8_COPY]], [[M4_ARGS([[$0]], $#, 0)_M4_Q8_QUANTIZE([[]])]])
m4_define([[_M4_Q8_QUANTIZE]], [[M4_Q8_QONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, int8_t *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int p = 0; p < m4_eval(L_N / L_C); p++)
            y[p * L_C + c] = NET[[]]_quantize(x[c * m4_eval(L_N / L_C) + p], L_SCALE, L_ZP);
$1[[]]m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_OUT]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(NET_INT8_IO, 1, [[M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    /* --int8-io: the int8 output to the caller, channels last to (C, H, W) */
    for (int c = 0; c < L_C; c++)
        for (int p = 0; p < m4_eval(L_N / L_C); p++) y[c * m4_eval(L_N / L_C) + p] = x[p * L_C + c];
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]], [[_M4_Q8_DEQUANTIZE]])]])
# [[M4_Q8_FLOAT_COPY]]: an int8 layer's output dequantized, for the float layers
# that read it.
m4_define([[M4_Q8_FLOAT_COPY]], [[M4_ARGS([[$0]], $#, 0)_M4_Q8_DEQUANTIZE]])
m4_define([[_M4_Q8_DEQUANTIZE]], [[M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int p = 0; p < m4_eval(L_N / L_C); p++)
            y[c * m4_eval(L_N / L_C) + p] = (float)(x[p * L_C + c] - L_ZP) * L_SCALE;
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_CONV]], [[M4_ARGS([[$0]], $#, 0)M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_OC][L_ICG][L_KH][L_KW] */
    const int32_t *RESTRICT bias = NET[[]]_q32 + L_QBOFF, *RESTRICT mult = NET[[]]_q32 + L_QMOFF;
    const int32_t *RESTRICT shift = NET[[]]_q32 + L_QSOFF;
    for (int oy = 0; oy < L_OH; oy++)
        for (int ox = 0; ox < L_OW; ox++)
            for (int oc = 0; oc < L_OC; oc++) {
                const int8_t *RESTRICT wo = w + (size_t)oc * M4_MUL(L_ICG, L_KH, L_KW);
                const int8_t *RESTRICT xg = x + (oc / L_OCG) * L_ICG;    /* its group's channels */
                int64_t acc = bias[oc];      /* + (q - zp) * w over the taps inside the input */
                for (int ky = 0; ky < L_KH; ky++) {
                    const int iy = oy * L_SH - L_PT + ky * L_DH;
                    if (iy < 0 || iy >= L_H) continue;
                    for (int kx = 0; kx < L_KW; kx++) {
                        const int ix = ox * L_SW - L_PL + kx * L_DW;
                        if (ix < 0 || ix >= L_W) continue;
                        for (int c = 0; c < L_ICG; c++)
                            acc += (xg[((size_t)iy * L_W + ix) * L_C + c] - L_ZPI) * wo[(c * L_KH + ky) * L_KW + kx];
                    }
                }
                y[((size_t)oy * L_OW + ox) * L_OC + oc] =
                    (int8_t)NET[[]]_requant(acc, mult[oc], shift[oc], L_ZPO, L_LO, L_HI);
            }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

# [[M4_Q8_GEMM]]: an int8 conv without groups as a product (shared out over the
# threads, L_SPLIT 1: the rows of its padded input, then its tiles of pixels).  Its input, as
# unsigned bytes q + 128, padded with zp_in + 128 (a real 0), channels
# rounded up to 4 (zeros), in xp[L_HP][L_WP][L_CP]: output pixel (oy, ox)'s
# window starts at xp[oy * L_SH][ox * L_SW], and its tap (ky, kx) holds
# L_CP bytes there, so the product reads the window where it lies (no
# patches).  The weights in panels of 16 output channels,
# [panel][L_KH][L_KW][L_CP/4][16][4]; for 32 channels (two panels, where
# there are two: q8_tile2) or 16 x 8 pixels at a time,
# every u8 x s8 product, then the requantization from the sums' start
# L_QBOFF (bias - (128 + zp_in) * sum w): AVX-512 VNNI (vpdpbusd) where the
# build has it, AVX2 (vpmaddwd) where it has that, the same sums in plain C
# otherwise (integers: the same bits).
m4_define([[M4_Q8_GEMM]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_Q8_ONCE[[]]M4_Q8_VNNI_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y, uint8_t *RESTRICT xp[[]]M4_PARTS]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_PANELS][L_K4][16][4] */
    const int32_t *RESTRICT init = NET[[]]_q32 + L_QBOFF, *RESTRICT mult = NET[[]]_q32 + L_QMOFF;
    const int32_t *RESTRICT shift = NET[[]]_q32 + L_QSOFF;
    M4_SHARE(L_HP, py0, py1);             /* this part's rows of xp (shared out: L_SPLIT) */
    for (int py = py0; py < py1; py++) {
        const int iy = py - L_PT;
        uint8_t *RESTRICT xr = xp + (size_t)py * m4_eval(L_WP * L_CP);
        if (iy < 0 || iy >= L_H) {
            for (int j = 0; j < m4_eval(L_WP * L_CP); j++) xr[j] = (uint8_t)(L_ZPI + 128);
            continue;
        }
        const int8_t *RESTRICT xs = x + (size_t)iy * m4_eval(L_W * L_C);
        for (int px = 0; px < L_WP; px++) {
            const int ix = px - L_PL;
            if (ix < 0 || ix >= L_W)
                for (int c = 0; c < L_CP; c++) xr[px * L_CP + c] = (uint8_t)(L_ZPI + 128);
m4_ifelse(L_C, L_CP, [[]], [[            else
                for (int c = L_C; c < L_CP; c++) xr[px * L_CP + c] = 0;
]])m4_dnl
        }
m4_ifelse(L_C, L_CP, [[        {   /* the row's pixels inside the input, all channels at once */
            const int ix0 = L_PL, ix1 = L_PL + L_W < L_WP ? L_PL + L_W : L_WP;
            for (int j = ix0 * L_C; j < ix1 * L_C; j++) xr[j] = (uint8_t)(xs[j - L_PL * L_C] + 128);
        }
]], [[        for (int px = L_PL; px < L_WP && px < L_PL + L_W; px++)
            for (int c = 0; c < L_C; c++) xr[px * L_CP + c] = (uint8_t)(xs[(px - L_PL) * L_C + c] + 128);
]])m4_dnl
    }
M4_SYNC([[    ]])m4_dnl
    M4_SHARE(m4_eval((L_OH * L_OW + 7) / 8), t0, t1);    /* this part's tiles of 8 output pixels */
    for (int panel = 0; panel < L_PANELS; panel += 2) {     /* two panels at a time where there are two */
        const int8_t *RESTRICT wp = w + (size_t)panel * m4_eval(L_K4 * 64);
        const int oc0 = panel * 16, noc = L_OC - oc0 < 32 ? L_OC - oc0 : 32;
        for (int p0 = 8 * t0; p0 < 8 * t1; p0 += 8) {
            const uint8_t *base[8];
            int32_t acc[2][8][16];
            const int np = M4_MUL(L_OH, L_OW) - p0 < 8 ? M4_MUL(L_OH, L_OW) - p0 : 8;
            for (int r = 0; r < 8; r++) {     /* a pixel past the last repeats it (its sums are not kept) */
                const int p = p0 + r < M4_MUL(L_OH, L_OW) ? p0 + r : M4_MUL(L_OH, L_OW) - 1;
                base[r] = xp + ((size_t)(p / L_OW * L_SH) * L_WP + (size_t)(p % L_OW * L_SW)) * L_CP;
            }
            if (noc > 16) {
                NET[[]]_q8_tile2(wp, base, L_KH, L_KW, m4_eval(L_DH * L_WP * L_CP), m4_eval(L_DW * L_CP),
                             m4_eval(L_CP / 4), m4_eval(L_K4 * 64), acc[0], acc[1]);
                NET[[]]_q8_store(acc[1], np, noc - 16, init + oc0 + 16, mult + oc0 + 16, shift + oc0 + 16, L_ZPO, L_LO,
                             L_HI, y + (size_t)p0 * L_OC + oc0 + 16, L_OC);
            } else {
                NET[[]]_q8_tile(wp, base, L_KH, L_KW, m4_eval(L_DH * L_WP * L_CP), m4_eval(L_DW * L_CP),
                            m4_eval(L_CP / 4), acc[0]);
            }
            NET[[]]_q8_store(acc[0], np, noc < 16 ? noc : 16, init + oc0, mult + oc0, shift + oc0, L_ZPO, L_LO, L_HI,
                         y + (size_t)p0 * L_OC + oc0, L_OC);
        }
    }
m4_ifelse(NET_TRACE, 1, [[M4_SYNC([[    ]])m4_ifelse(L_SPLIT, 1, [[    if (part == 0)
]])M4_Q8_TRACE([[y]])]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF), M4_BPTR(scratch_[[]]L_ID, L_SCRATCH)]])]])

# [[M4_Q8_VNNI_ONCE]]: the product's two kernels.
#   q8_tile: acc[r][l] = the sum over taps (ky, kx) and channels c of
#     base[r][ky * sy + kx * sx + c] (u8) * wp[((ky * kw + kx) * c4 + c/4)][l][c%4]
#     (s8), for 16 channels l and 8 pixels r: vpdpbusd, 4 products a lane an
#     instruction, or plain C.
#   q8_store: y[r * ys + l] = requant(acc[r][l] + init[l]) for r < np, l < nl,
#     in 16 lanes (the 64-bit products, their rounding and clamp as
#     NET_requant: the same integers), or by NET_requant.
m4_define([[M4_Q8_VNNI_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[_M4_VNNI_DONE]], [[]], [[m4_define([[_M4_VNNI_DONE]], 1)m4_dnl
M4_PRELUDE([[
#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define NET[[]]_VNNI 1
/* acc += the u8 x s8 products of u and w, 4 a lane; gcc copies the sums to a new
 * register after each _mm512_dpbusd_epi32 in the loops below (25% slower), so
 * with gcc the instruction is written in place */
#if defined(__GNUC__) && !defined(__clang__)
#define NET[[]]_DPBUSD(acc, u, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(w))
#else
#define NET[[]]_DPBUSD(acc, u, w) ((acc) = _mm512_dpbusd_epi32((acc), (u), (w)))
#endif
#else
#define NET[[]]_VNNI 0
#endif
#if !NET[[]]_VNNI && defined(__AVX2__)
#include <immintrin.h>
#define NET[[]]_AVX2 1
#else
#define NET[[]]_AVX2 0
#endif
]])M4_KERNEL([[/* 16 output channels x 8 pixels of an int8 product: acc[r][l] = the sum over the
 * taps and the channels of base[r][ky * sy + kx * sx + c] (u8) * wp[...][l][c % 4] (s8) */]],
[[static void NET[[]]_q8_tile(const int8_t *RESTRICT wp, const uint8_t *const base[8], int kh, int kw, int sy, int sx,
                         int c4, int32_t acc[8][16])]],
[[{
#if NET[[]]_VNNI
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const size_t off = (size_t)ky * (size_t)sy + (size_t)kx * (size_t)sx;
            const uint8_t *b0 = base[0] + off, *b1 = base[1] + off, *b2 = base[2] + off, *b3 = base[3] + off;
            const uint8_t *b4 = base[4] + off, *b5 = base[5] + off, *b6 = base[6] + off, *b7 = base[7] + off;
            for (int c = 0; c < 4 * c4; c += 4, wp += 64) {
                const __m512i wv = _mm512_load_si512((const void *)wp);
                int32_t b[8];
                memcpy(&b[0], b0 + c, 4); memcpy(&b[1], b1 + c, 4); memcpy(&b[2], b2 + c, 4); memcpy(&b[3], b3 + c, 4);
                memcpy(&b[4], b4 + c, 4); memcpy(&b[5], b5 + c, 4); memcpy(&b[6], b6 + c, 4); memcpy(&b[7], b7 + c, 4);
                NET[[]]_DPBUSD(a0, _mm512_set1_epi32(b[0]), wv);
                NET[[]]_DPBUSD(a1, _mm512_set1_epi32(b[1]), wv);
                NET[[]]_DPBUSD(a2, _mm512_set1_epi32(b[2]), wv);
                NET[[]]_DPBUSD(a3, _mm512_set1_epi32(b[3]), wv);
                NET[[]]_DPBUSD(a4, _mm512_set1_epi32(b[4]), wv);
                NET[[]]_DPBUSD(a5, _mm512_set1_epi32(b[5]), wv);
                NET[[]]_DPBUSD(a6, _mm512_set1_epi32(b[6]), wv);
                NET[[]]_DPBUSD(a7, _mm512_set1_epi32(b[7]), wv);
            }
        }
    _mm512_storeu_si512((void *)acc[0], a0); _mm512_storeu_si512((void *)acc[1], a1);
    _mm512_storeu_si512((void *)acc[2], a2); _mm512_storeu_si512((void *)acc[3], a3);
    _mm512_storeu_si512((void *)acc[4], a4); _mm512_storeu_si512((void *)acc[5], a5);
    _mm512_storeu_si512((void *)acc[6], a6); _mm512_storeu_si512((void *)acc[7], a7);
#elif NET[[]]_AVX2
    /* AVX2, no VNNI: the bytes widened to 16 bits and multiplied in pairs
     * (vpmaddwd: exact, where vpmaddubsw would saturate), 8 channels x 4
     * pixels at a time; lane pairs (k0 k1, k2 k3) of a channel summed last */
    for (int h = 0; h < 2; h++)
        for (int g = 0; g < 8; g += 4) {
            __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
            const int8_t *RESTRICT w = wp + 32 * h;
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++) {
                    const size_t off = (size_t)ky * (size_t)sy + (size_t)kx * (size_t)sx;
                    const uint8_t *b0 = base[g] + off, *b1 = base[g + 1] + off, *b2 = base[g + 2] + off,
                                  *b3 = base[g + 3] + off;
                    for (int c = 0; c < 4 * c4; c += 4, w += 64) {
                        const __m256i wa = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
                        const __m256i wb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
                        int32_t b[4];
                        __m256i v;
                        memcpy(&b[0], b0 + c, 4); memcpy(&b[1], b1 + c, 4); memcpy(&b[2], b2 + c, 4); memcpy(&b[3], b3 + c, 4);
                        v = _mm256_cvtepu8_epi16(_mm_set1_epi32(b[0]));
                        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(v, wa)); t0 = _mm256_add_epi32(t0, _mm256_madd_epi16(v, wb));
                        v = _mm256_cvtepu8_epi16(_mm_set1_epi32(b[1]));
                        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(v, wa)); t1 = _mm256_add_epi32(t1, _mm256_madd_epi16(v, wb));
                        v = _mm256_cvtepu8_epi16(_mm_set1_epi32(b[2]));
                        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(v, wa)); t2 = _mm256_add_epi32(t2, _mm256_madd_epi16(v, wb));
                        v = _mm256_cvtepu8_epi16(_mm_set1_epi32(b[3]));
                        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(v, wa)); t3 = _mm256_add_epi32(t3, _mm256_madd_epi16(v, wb));
                    }
                }
            /* hadd: [c0 c1 c4 c5 | c2 c3 c6 c7]; the 64-bit quarters reordered to c0 .. c7 */
            _mm256_storeu_si256((__m256i *)(void *)&acc[g][8 * h], _mm256_permute4x64_epi64(_mm256_hadd_epi32(s0, t0), 0xD8));
            _mm256_storeu_si256((__m256i *)(void *)&acc[g + 1][8 * h], _mm256_permute4x64_epi64(_mm256_hadd_epi32(s1, t1), 0xD8));
            _mm256_storeu_si256((__m256i *)(void *)&acc[g + 2][8 * h], _mm256_permute4x64_epi64(_mm256_hadd_epi32(s2, t2), 0xD8));
            _mm256_storeu_si256((__m256i *)(void *)&acc[g + 3][8 * h], _mm256_permute4x64_epi64(_mm256_hadd_epi32(s3, t3), 0xD8));
        }
#else
    for (int r = 0; r < 8; r++)
        for (int l = 0; l < 16; l++) acc[r][l] = 0;
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const size_t off = (size_t)ky * (size_t)sy + (size_t)kx * (size_t)sx;
            for (int c = 0; c < 4 * c4; c += 4, wp += 64)
                for (int r = 0; r < 8; r++) {
                    const uint8_t *RESTRICT b = base[r] + off + c;
                    for (int l = 0; l < 16; l++)
                        acc[r][l] += b[0] * wp[l * 4] + b[1] * wp[l * 4 + 1] + b[2] * wp[l * 4 + 2] + b[3] * wp[l * 4 + 3];
                }
        }
#endif
}
]])M4_KERNEL([[/* q8_tile for two panels at once (32 output channels: wp's 16 and the next
 * panel's, pstride bytes on), each pixel's bytes used twice */]],
[[static void NET[[]]_q8_tile2(const int8_t *RESTRICT wp, const uint8_t *const base[8], int kh, int kw, int sy, int sx,
                          int c4, int pstride, int32_t acc0[8][16], int32_t acc1[8][16])]],
[[{
#if NET[[]]_VNNI
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i e0 = a0, e1 = a0, e2 = a0, e3 = a0, e4 = a0, e5 = a0, e6 = a0, e7 = a0;
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const size_t off = (size_t)ky * (size_t)sy + (size_t)kx * (size_t)sx;
            const uint8_t *b0 = base[0] + off, *b1 = base[1] + off, *b2 = base[2] + off, *b3 = base[3] + off;
            const uint8_t *b4 = base[4] + off, *b5 = base[5] + off, *b6 = base[6] + off, *b7 = base[7] + off;
            for (int c = 0; c < 4 * c4; c += 4, wp += 64) {
                const __m512i w0 = _mm512_load_si512((const void *)wp);
                const __m512i w1 = _mm512_load_si512((const void *)(wp + pstride));
                int32_t b;
                __m512i v;
                memcpy(&b, b0 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a0, v, w0); NET[[]]_DPBUSD(e0, v, w1);
                memcpy(&b, b1 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a1, v, w0); NET[[]]_DPBUSD(e1, v, w1);
                memcpy(&b, b2 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a2, v, w0); NET[[]]_DPBUSD(e2, v, w1);
                memcpy(&b, b3 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a3, v, w0); NET[[]]_DPBUSD(e3, v, w1);
                memcpy(&b, b4 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a4, v, w0); NET[[]]_DPBUSD(e4, v, w1);
                memcpy(&b, b5 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a5, v, w0); NET[[]]_DPBUSD(e5, v, w1);
                memcpy(&b, b6 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a6, v, w0); NET[[]]_DPBUSD(e6, v, w1);
                memcpy(&b, b7 + c, 4); v = _mm512_set1_epi32(b); NET[[]]_DPBUSD(a7, v, w0); NET[[]]_DPBUSD(e7, v, w1);
            }
        }
    _mm512_storeu_si512((void *)acc0[0], a0); _mm512_storeu_si512((void *)acc0[1], a1);
    _mm512_storeu_si512((void *)acc0[2], a2); _mm512_storeu_si512((void *)acc0[3], a3);
    _mm512_storeu_si512((void *)acc0[4], a4); _mm512_storeu_si512((void *)acc0[5], a5);
    _mm512_storeu_si512((void *)acc0[6], a6); _mm512_storeu_si512((void *)acc0[7], a7);
    _mm512_storeu_si512((void *)acc1[0], e0); _mm512_storeu_si512((void *)acc1[1], e1);
    _mm512_storeu_si512((void *)acc1[2], e2); _mm512_storeu_si512((void *)acc1[3], e3);
    _mm512_storeu_si512((void *)acc1[4], e4); _mm512_storeu_si512((void *)acc1[5], e5);
    _mm512_storeu_si512((void *)acc1[6], e6); _mm512_storeu_si512((void *)acc1[7], e7);
#else
    NET[[]]_q8_tile(wp, base, kh, kw, sy, sx, c4, acc0);
    NET[[]]_q8_tile(wp + pstride, base, kh, kw, sy, sx, c4, acc1);
#endif
}
]])M4_KERNEL([[/* y[r * ys + l] = requant(acc[r][l] + init[l]) for the first np pixels r and nl channels l */]],
[[static void NET[[]]_q8_store(int32_t acc[8][16], int np, int nl, const int32_t *RESTRICT init,
                          const int32_t *RESTRICT mult, const int32_t *RESTRICT shift, int zp, int lo, int hi,
                          int8_t *RESTRICT y, int ys)]],
[[{
#if NET[[]]_VNNI
    /* the even and the odd lanes as 64-bit: (v * mult + 2^(shift-1)) >> shift (an arithmetic
     * shift: the floor), clamped to [lo - zp, hi - zp], then the 32-bit lanes again, + zp */
    const __mmask16 m = (__mmask16)((1u << nl) - 1u);
    const __m512i vi = _mm512_maskz_loadu_epi32(m, init), vm = _mm512_maskz_loadu_epi32(m, mult);
    const __m512i vs = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), m, shift);
    const __m512i lo64 = _mm512_set1_epi64(lo - zp), hi64 = _mm512_set1_epi64(hi - zp), vz = _mm512_set1_epi32(zp);
    const __m512i one = _mm512_set1_epi64(1), low = _mm512_set1_epi64(0xffffffffLL);
    const __m512i se = _mm512_and_si512(vs, low), so = _mm512_srli_epi64(vs, 32);
    const __m512i re = _mm512_sllv_epi64(one, _mm512_sub_epi64(se, one)), ro = _mm512_sllv_epi64(one, _mm512_sub_epi64(so, one));
    const __m512i mo = _mm512_srli_epi64(vm, 32);
    (void)NET[[]]_requant;                  /* (the scalar rule, which these lanes compute) */
    for (int r = 0; r < np; r++) {
        const __m512i v = _mm512_add_epi32(_mm512_loadu_si512((const void *)acc[r]), vi);
        __m512i e = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, vm), re), se);
        __m512i o = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), mo), ro), so);
        e = _mm512_min_epi64(_mm512_max_epi64(e, lo64), hi64);
        o = _mm512_min_epi64(_mm512_max_epi64(o, lo64), hi64);
        const __m512i q = _mm512_add_epi32(_mm512_mask_blend_epi32((__mmask16)0xAAAA, e, _mm512_slli_epi64(o, 32)), vz);
        _mm_mask_storeu_epi8((void *)(y + (size_t)r * (size_t)ys), m, _mm512_cvtepi32_epi8(q));
    }
#else
    for (int r = 0; r < np; r++)
        for (int l = 0; l < nl; l++)
            y[(size_t)r * (size_t)ys + l] = (int8_t)NET[[]]_requant((int64_t)acc[r][l] + init[l], mult[l], shift[l], zp, lo, hi);
#endif
}
]])]])]])

# [[M4_BPTR]](buffer, offset): a byte scratch of run() at a float offset.
m4_define([[M4_BPTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    uint8_t *const $1 = (uint8_t *)(M4_AT([[ws]], $2));
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])

m4_define([[M4_Q8_DENSE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_NOUT][L_NIN], columns channels last */
    const int32_t *RESTRICT bias = NET[[]]_q32 + L_QBOFF, *RESTRICT mult = NET[[]]_q32 + L_QMOFF;
    const int32_t *RESTRICT shift = NET[[]]_q32 + L_QSOFF;
    for (int o = 0; o < L_NOUT; o++) {
        const int8_t *RESTRICT wr = w + (size_t)o * L_NIN;
        int32_t acc = bias[o];
        for (int i = 0; i < L_NIN; i++) acc += x[i] * wr[i];
        y[o] = (int8_t)NET[[]]_requant(acc, mult[o], shift[o], L_ZPO, L_LO, L_HI);
    }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_MAXPOOL]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    for (int oy = 0; oy < L_OH; oy++)
        for (int ox = 0; ox < L_OW; ox++) {
            int8_t *RESTRICT yo = y + ((size_t)oy * L_OW + ox) * L_C;
            for (int c = 0; c < L_C; c++) yo[c] = L_LO;       /* max(L_LO, the window): the low clamp */
            for (int ky = 0; ky < L_KH; ky++) {
                const int iy = oy * L_SH - L_PT + ky;
                if (iy < 0 || iy >= L_H) continue;
                for (int kx = 0; kx < L_KW; kx++) {
                    const int ix = ox * L_SW - L_PL + kx;
                    if (ix < 0 || ix >= L_W) continue;
                    const int8_t *RESTRICT xs = x + ((size_t)iy * L_W + ix) * L_C;
                    for (int c = 0; c < L_C; c++) yo[c] = xs[c] > yo[c] ? xs[c] : yo[c];
                }
            }
m4_ifelse(L_HI, 127, [[]], [[            for (int c = 0; c < L_C; c++) yo[c] = yo[c] > L_HI ? L_HI : yo[c];
]])m4_dnl
        }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_GAVGPOOL]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    int32_t sum[L_C];
    for (int c = 0; c < L_C; c++) sum[c] = 0;
    for (int k = 0; k < L_HW; k++)
        for (int c = 0; c < L_C; c++) sum[c] += x[(size_t)k * L_C + c];
    for (int c = 0; c < L_C; c++)      /* the sum of q - zp */
        y[c] = (int8_t)NET[[]]_requant(sum[c] - (int64_t)L_HW * L_ZPI, L_MULT, L_SHIFT, L_ZPO, L_LO, L_HI);
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_ADD]], [[M4_ARGS([[$0]], $#, 0)M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT a, const int8_t *RESTRICT b, int8_t *RESTRICT y]])
{
    for (int i = 0; i < L_N; i++) {
        const int64_t v = (int64_t)(a[i] - L_ZPA) * L_QA + (int64_t)(b[i] - L_ZPB) * L_QB;
        y[i] = (int8_t)NET[[]]_requant(v, 1, L_QS, L_ZPO, L_LO, L_HI);
    }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_X2, L_X2OFF), M4_QPTR(L_Y, L_YOFF)]])]])
m4_divert(0)m4_dnl
