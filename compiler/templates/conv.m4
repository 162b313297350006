m4_divert(-1)
# conv.m4 — 2-D convolution.
#
# M4_CONV(): direct convolution with the kernel window unrolled into
# registers (one output channel at a time; the ox loop is contiguous for
# stride 1 and vectorises).  Padding is done once, into a zero-padded copy
# of the input in the layer's scratch, so the inner loop has no bounds tests.
# Layer data: L_FN L_LABEL L_KIND L_LINE L_IN L_OUT L_NOTE; L_C L_H L_W L_OC
# L_OH L_OW L_KH L_KW L_KK L_SH L_SW L_PT L_PL L_DH L_DW L_HP L_WP L_ICG L_OCG;
# L_WOFF L_BOFF (-1: no bias); L_ACT L_SLOPE; L_X L_XOFF L_Y L_YOFF; L_PAD
# (scratch float offset, -1: no padding).

# M4_TAPS: the unrolled window sum, w<t> * p[offset] for every tap.
m4_define([[M4_TAPS]], [[M4_ARGS([[$0]], $#, 0)M4_FORLOOP([[M4_KY]], 0, L_KH - 1,
[[M4_FORLOOP([[M4_KX]], 0, L_KW - 1, [[m4_ifelse(M4_KY[[]]M4_KX, [[00]], [[]],
[[ + ]])w[[]]m4_eval(M4_KY * L_KW + M4_KX) * p[m4_eval(M4_KY * L_DH * L_WP + M4_KX * L_DW)]]])m4_ifelse(M4_KY,
m4_eval(L_KH - 1), [[]], [[
                          ]])]])]])

m4_define([[M4_CONV]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
static void L_FN[[]](const float *RESTRICT x, float *RESTRICT y[[]]m4_ifelse(L_PAD, -1, [[]],
    [[, float *RESTRICT xp]]))
{
    const float *RESTRICT w = M4_WEIGHTS(L_WOFF);
m4_ifelse(L_PAD, -1, [[    const float *RESTRICT xp = x;
]], [[    /* xp: the input zero-padded to L_C x L_HP x L_WP */
    memset(xp, 0, sizeof(float) * L_C * L_HP * L_WP);
    for (int c = 0; c < L_C; c++)
        for (int i = 0; i < L_H; i++)
            memcpy(xp + (c * L_HP + i + L_PT) * L_WP + L_PL, x + (c * L_H + i) * L_W,
                   sizeof(float) * L_W);
]])m4_dnl
    for (int oc = 0; oc < L_OC; oc++) {
        const float *RESTRICT xg = xp + (oc / L_OCG) * (L_ICG * L_HP * L_WP);
        float *RESTRICT yo = y + oc * (L_OH * L_OW);
        const float bias = m4_ifelse(L_BOFF, -1, [[0.0f]], [[M4_WEIGHTS(L_BOFF)[oc] ]]);
        for (int i = 0; i < L_OH * L_OW; i++) yo[i] = bias;
        for (int ic = 0; ic < L_ICG; ic++) {
            const float *RESTRICT wk = w + (oc * L_ICG + ic) * L_KK;
            const float *RESTRICT xc = xg + ic * (L_HP * L_WP);
M4_FORLOOP([[M4_T]], 0, L_KK - 1, [[            const float w[[]]M4_T = wk[M4_T];
]])m4_dnl
            for (int oy = 0; oy < L_OH; oy++) {
                const float *RESTRICT r = xc + oy * (L_SH * L_WP);
                float *RESTRICT yr = yo + oy * L_OW;
                for (int ox = 0; ox < L_OW; ox++) {
                    const float *RESTRICT p = r + ox * L_SW;
                    yr[ox] += M4_TAPS;
                }
            }
        }
M4_ACT_LOOP(L_ACT, L_SLOPE, [[yo]], [[L_OH * L_OW]])m4_dnl
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)[[]]m4_ifelse(L_PAD, -1, [[]],
  [[, M4_PTR(WS, L_PAD)]])]])]])
m4_divert(0)m4_dnl
