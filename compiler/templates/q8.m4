m4_divert(-1)
# q8.m4 — int8 layers (cnnc --quantize int8; docs/quantize.md says every
# formula).  A tensor of int8 holds x = (q - zp) * scale; its buffer is an
# int8_t slot of the arena ([[M4_QPTR]]).  Weights are int8 in [[NET_q8w]] (PyTorch's
# layout), the per-channel integers in [[NET_q32]]: the bias with the input's
# zero point folded in, the multiplier and the shift of the requantization
# acc * mult / 2^shift, rounded once, half toward +infinity, plus the output
# zero point, clamped to [L_LO, L_HI] (which absorbs relu and relu6).
# Plain C99 loops; the accumulator is int32 (cnnc checks that no window can
# overflow it).
#
# [[M4_Q8_IN]]: the float input (normalised, if the network is) to int8.
# [[M4_Q8_OUT]]: the last layer's int8 to the caller's float output.
# [[M4_Q8_CONV]]: a conv (groups allowed): per output channel, the int32 sums of
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
