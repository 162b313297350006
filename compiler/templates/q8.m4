m4_divert(-1)
# q8.m4 — int8 layers (cnnc --quantize int8; docs/quantize.md says every
# formula).  A tensor of int8 holds x = (q - zp) * scale; its buffer is an
# int8_t slot of the arena ([[M4_QPTR]]).  Weights are int8 in [[NET_q8w]] (PyTorch's
# layout, or panels for a conv's product), the per-channel integers in
# [[NET_q32]]: the sums' starting value (the bias, with the input's zero point
# folded in as each kernel needs), the multiplier and the shift of the requantization
# acc * mult / 2^shift, rounded once, half toward +infinity, plus the output
# zero point, clamped to [L_LO, L_HI] (which absorbs relu and relu6).
# Plain C99 loops but for the convs' products (AVX-512 VNNI where the build
# has it); the accumulator is int32 (cnnc checks that no window can
# overflow it).
#
# [[M4_Q8_IN]]: the float input (normalised, if the network is) to int8.
# [[M4_Q8_OUT]]: the last layer's int8 to the caller's float output.
# [[M4_Q8_GEMM]]: a conv without groups, as a product (below).
# [[M4_Q8_CONV]]: a grouped conv: per output channel, the int32 sums of
#   its pixels in scratch, tap by tap over the outputs whose tap is inside
#   the input (padding is real 0: no term), then requantized.
# [[M4_Q8_DENSE]]: a dense layer.
# [[M4_Q8_MAXPOOL]]: max over the window's inputs that exist (the output keeps
#   the input's scale and zero point: max commutes with the map).
# [[M4_Q8_GAVGPOOL]]: the sum of q - zp over each channel, requantized (the
#   mean's 1/(H*W) is in the multiplier).
# [[M4_Q8_ADD]]: ((qa - zpa) * L_QA + (qb - zpb) * L_QB) / 2^L_QS, rounded once
#   as above, plus the output zero point, clamped.
# Layer data: L_FN L_LABEL ... as every layer; L_X L_XOFF L_Y L_YOFF (and
# L_X2 L_X2OFF); L_ZPI (input zero point), L_ZPO, L_LO, L_HI; L_QWOFF (int8
# weights), L_QBOFF L_QMOFF L_QSOFF (int32: bias, multiplier, shift per
# channel); L_SCALE L_ZP for [[M4_Q8_IN]] and [[M4_Q8_OUT]].

# [[M4_QPTR]](buffer, offset): an int8 buffer of run() at a float offset of the
# arena, declared once (as [[M4_PTR]] declares the float ones).
m4_define([[M4_QPTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    int8_t *const $1 = (int8_t *)(M4_AT([[ws]], $2));
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])

# [[M4_IPTR]](buffer, offset): an int32 scratch of run() at a float offset.
m4_define([[M4_IPTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    int32_t *const $1 = (int32_t *)(M4_AT([[ws]], $2));
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])

# [[M4_Q8_ONCE]]: the requantization and the input's quantization, mirrored line
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
]])M4_KERNEL([[/* q = clamp(round_half_away(x / scale) + zp, -128, 127), NaN to zp
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
# int8 output goes to cnnc_q8_trace() when written.
m4_define([[M4_Q8_TRACE]], [[m4_ifelse(NET_TRACE, 1, [[    cnnc_q8_trace(L_NODE, $1, L_OUTN);
]])]])

m4_define([[M4_Q8_IN]], [[M4_ARGS([[$0]], $#, 0)M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, int8_t *RESTRICT y]])
{
    for (int i = 0; i < L_N; i++) y[i] = NET[[]]_quantize(x[i], L_SCALE, L_ZP);
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_OUT]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, float *RESTRICT y]])
{
    for (int i = 0; i < L_N; i++) y[i] = (float)(x[i] - L_ZP) * L_SCALE;
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_CONV]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y, int32_t *RESTRICT acc]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_OC][L_ICG][L_KH][L_KW] */
    const int32_t *RESTRICT bias = NET[[]]_q32 + L_QBOFF, *RESTRICT mult = NET[[]]_q32 + L_QMOFF;
    const int32_t *RESTRICT shift = NET[[]]_q32 + L_QSOFF;
    for (int oc = 0; oc < L_OC; oc++) {
        const int8_t *RESTRICT wo = w + (size_t)oc * M4_MUL(L_ICG, L_KH, L_KW);
        const int8_t *RESTRICT xg = x + (size_t)(oc / L_OCG) * M4_MUL(L_ICG, L_H, L_W);
        /* acc[L_OH][L_OW] = bias + the taps that fall inside the input, (q - zp) * w
         * (a tap in the padding is real 0) */
        for (int p = 0; p < M4_MUL(L_OH, L_OW); p++) acc[p] = bias[oc];
        for (int c = 0; c < L_ICG; c++)
            for (int ky = 0; ky < L_KH; ky++) {
                /* the output rows and columns whose tap (ky, kx) is inside */
                const int oy0 = ky * L_DH >= L_PT ? 0 : (L_PT - ky * L_DH + L_SH - 1) / L_SH;
                const int oy1e = (L_H - 1 + L_PT - ky * L_DH) / L_SH + 1, oy1 = oy1e < L_OH ? oy1e : L_OH;
                for (int kx = 0; kx < L_KW; kx++) {
                    const int wv = wo[(c * L_KH + ky) * L_KW + kx];
                    const int ox0 = kx * L_DW >= L_PL ? 0 : (L_PL - kx * L_DW + L_SW - 1) / L_SW;
                    const int ox1e = (L_W - 1 + L_PL - kx * L_DW) / L_SW + 1, ox1 = ox1e < L_OW ? ox1e : L_OW;
                    if (wv == 0) continue;
                    for (int oy = oy0; oy < oy1; oy++) {
                        const int8_t *RESTRICT xr = xg + ((size_t)c * L_H + (oy * L_SH - L_PT + ky * L_DH)) * L_W
                                                    + kx * L_DW - L_PL;
                        int32_t *RESTRICT ar = acc + oy * L_OW;
                        for (int ox = ox0; ox < ox1; ox++) ar[ox] += (xr[ox * L_SW] - L_ZPI) * wv;
                    }
                }
            }
        for (int p = 0; p < M4_MUL(L_OH, L_OW); p++)
            y[(size_t)oc * M4_MUL(L_OH, L_OW) + p] = (int8_t)NET[[]]_requant(acc[p], mult[oc], shift[oc], L_ZPO, L_LO, L_HI);
    }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF), M4_IPTR(scratch_[[]]L_ID, L_SCRATCH)]])]])

# [[M4_Q8_GEMM]]: an int8 conv without groups as a product.  The patches, as
# unsigned bytes q + 128 (zp_in + 128 for a tap in the padding, 0 past K),
# one row of L_K4*4 per output pixel in col; the weights in panels of 16
# output channels, K in fours ([panel][L_K4][16][4]); for 16 channels x 8
# pixels at a time, the sums from L_QBOFF (bias - (128 + zp_in) * sum w)
# plus every u8 x s8 product: AVX-512 VNNI (vpdpbusd) where the build has
# it, the same sums in plain C otherwise (integers: the same bits).
m4_define([[M4_Q8_GEMM]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_Q8_ONCE[[]]M4_Q8_VNNI_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y, uint8_t *RESTRICT col]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_PANELS][L_K4][16][4] */
    const int32_t *RESTRICT init = NET[[]]_q32 + L_QBOFF, *RESTRICT mult = NET[[]]_q32 + L_QMOFF;
    const int32_t *RESTRICT shift = NET[[]]_q32 + L_QSOFF;
    /* col[p][L_K4 * 4]: the patch of output pixel p */
    for (int oy = 0; oy < L_OH; oy++)
        for (int ox = 0; ox < L_OW; ox++) {
            uint8_t *RESTRICT cp = col + (size_t)(oy * L_OW + ox) * m4_eval(L_K4 * 4);
            int j = 0;
            for (int c = 0; c < L_C; c++)
                for (int ky = 0; ky < L_KH; ky++) {
                    const int iy = oy * L_SH - L_PT + ky * L_DH;
                    for (int kx = 0; kx < L_KW; kx++, j++) {
                        const int ix = ox * L_SW - L_PL + kx * L_DW;
                        cp[j] = (uint8_t)((iy >= 0 && iy < L_H && ix >= 0 && ix < L_W
                                               ? x[((size_t)c * L_H + iy) * L_W + ix] : L_ZPI) + 128);
                    }
                }
            for (; j < m4_eval(L_K4 * 4); j++) cp[j] = 0;
        }
    for (int panel = 0; panel < L_PANELS; panel++) {
        const int8_t *RESTRICT wp = w + (size_t)panel * m4_eval(L_K4 * 64);
        const int oc0 = panel * 16, noc = L_OC - oc0 < 16 ? L_OC - oc0 : 16;
        for (int p0 = 0; p0 < M4_MUL(L_OH, L_OW); p0 += 8) {
            int32_t acc[8][16];
            NET[[]]_q8_tile(wp, col, m4_eval(L_K4), p0, M4_MUL(L_OH, L_OW), acc);
            const int np = M4_MUL(L_OH, L_OW) - p0 < 8 ? M4_MUL(L_OH, L_OW) - p0 : 8;
            for (int l = 0; l < noc; l++) {
                const int oc = oc0 + l;
                int8_t *RESTRICT yo = y + (size_t)oc * M4_MUL(L_OH, L_OW) + p0;
                for (int r = 0; r < np; r++)
                    yo[r] = (int8_t)NET[[]]_requant((int64_t)acc[r][l] + init[oc], mult[oc], shift[oc], L_ZPO, L_LO, L_HI);
            }
        }
    }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF), M4_BPTR(scratch_[[]]L_ID, L_SCRATCH)]])]])

# [[M4_Q8_VNNI_ONCE]]: acc[r][l] = sum over k of col[p0 + r][k] * w[l][k] for 16
# channels l and 8 pixels r (a pixel past n repeats the last: its sums are
# not used): vpdpbusd, 4 products a lane an instruction, or plain C.
m4_define([[M4_Q8_VNNI_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifdef([[_M4_VNNI_DONE]], [[]], [[m4_define([[_M4_VNNI_DONE]], 1)m4_dnl
M4_PRELUDE([[
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#endif
]])M4_KERNEL([[/* 16 output channels x 8 pixels of an int8 product: acc[r][l] = sum over k < 4*k4
 * of col[p][k] (u8) * wp[k/4][l][k%4] (s8), p = min(p0 + r, n - 1). */]],
[[static void NET[[]]_q8_tile(const int8_t *RESTRICT wp, const uint8_t *RESTRICT col, int k4, int p0, int n,
                         int32_t acc[8][16])]],
[[{
    const uint8_t *RESTRICT row[8];
    for (int r = 0; r < 8; r++) row[r] = col + (size_t)(p0 + r < n ? p0 + r : n - 1) * (size_t)k4 * 4;
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int k = 0; k < k4; k++) {
        const __m512i wv = _mm512_load_si512((const void *)(wp + (size_t)k * 64));
        int32_t b[8];
        for (int r = 0; r < 8; r++) memcpy(&b[r], row[r] + 4 * k, 4);
        a0 = _mm512_dpbusd_epi32(a0, _mm512_set1_epi32(b[0]), wv);
        a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32(b[1]), wv);
        a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32(b[2]), wv);
        a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32(b[3]), wv);
        a4 = _mm512_dpbusd_epi32(a4, _mm512_set1_epi32(b[4]), wv);
        a5 = _mm512_dpbusd_epi32(a5, _mm512_set1_epi32(b[5]), wv);
        a6 = _mm512_dpbusd_epi32(a6, _mm512_set1_epi32(b[6]), wv);
        a7 = _mm512_dpbusd_epi32(a7, _mm512_set1_epi32(b[7]), wv);
    }
    _mm512_storeu_si512((void *)acc[0], a0); _mm512_storeu_si512((void *)acc[1], a1);
    _mm512_storeu_si512((void *)acc[2], a2); _mm512_storeu_si512((void *)acc[3], a3);
    _mm512_storeu_si512((void *)acc[4], a4); _mm512_storeu_si512((void *)acc[5], a5);
    _mm512_storeu_si512((void *)acc[6], a6); _mm512_storeu_si512((void *)acc[7], a7);
#else
    for (int r = 0; r < 8; r++)
        for (int l = 0; l < 16; l++) acc[r][l] = 0;
    for (int k = 0; k < k4; k++)
        for (int r = 0; r < 8; r++)
            for (int l = 0; l < 16; l++)
                acc[r][l] += row[r][4 * k] * wp[k * 64 + l * 4] + row[r][4 * k + 1] * wp[k * 64 + l * 4 + 1] +
                             row[r][4 * k + 2] * wp[k * 64 + l * 4 + 2] + row[r][4 * k + 3] * wp[k * 64 + l * 4 + 3];
#endif
}
]])]])]])

# [[M4_BPTR]](buffer, offset): a byte scratch of run() at a float offset.
m4_define([[M4_BPTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    uint8_t *const $1 = (uint8_t *)(M4_AT([[ws]], $2));
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])

m4_define([[M4_Q8_DENSE]], [[M4_ARGS([[$0]], $#, 0)M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    const int8_t *RESTRICT w = NET[[]]_q8w + L_QWOFF;         /* [L_NOUT][L_NIN] */
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

m4_define([[M4_Q8_MAXPOOL]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int oy = 0; oy < L_OH; oy++)
            for (int ox = 0; ox < L_OW; ox++) {
                int m = -128;
                for (int ky = 0; ky < L_KH; ky++) {
                    const int iy = oy * L_SH - L_PT + ky;
                    if (iy < 0 || iy >= L_H) continue;
                    for (int kx = 0; kx < L_KW; kx++) {
                        const int ix = ox * L_SW - L_PL + kx;
                        if (ix >= 0 && ix < L_W && x[((size_t)c * L_H + iy) * L_W + ix] > m)
                            m = x[((size_t)c * L_H + iy) * L_W + ix];
                    }
                }
                y[((size_t)c * L_OH + oy) * L_OW + ox] = (int8_t)(m < L_LO ? L_LO : m > L_HI ? L_HI : m);
            }
M4_Q8_TRACE([[y]])m4_dnl
}
M4_CALL([[M4_QPTR(L_X, L_XOFF), M4_QPTR(L_Y, L_YOFF)]])]])

m4_define([[M4_Q8_GAVGPOOL]], [[M4_ARGS([[$0]], $#, 0)M4_Q8_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[]], [[const int8_t *RESTRICT x, int8_t *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++) {
        const int8_t *RESTRICT xc = x + (size_t)c * L_HW;
        int32_t sum = 0;
        for (int k = 0; k < L_HW; k++) sum += xc[k] - L_ZPI;
        y[c] = (int8_t)NET[[]]_requant(sum, L_MULT, L_SHIFT, L_ZPO, L_LO, L_HI);
    }
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
