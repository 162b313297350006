m4_divert(-1)
# pool.m4 — max and average pooling, global and adaptive pooling.
#
# M4_POOL(): windowed max (L_OP MAX) or average (L_OP AVG) with PyTorch's
# rules (a max over a window of up to 16 taps: the outputs whose window is
# inside the input as a branch-free, vectorised row loop, the border ones
# tap by tap): padding never wins a max; a NaN in the window makes the max NaN
# (v > m || isnan(v), PyTorch's test; the vectorised rows keep a flag); the average divides by the window
# size clipped to the padded input (L_INCPAD 1, count_include_pad) or by
# the number of real inputs (L_INCPAD 0).
# A large one (L_SPLIT 1) is shared out over the threads by channels.
# M4_GPOOL(): max (NaN if the plane has one, as above) or mean over H×W per
# channel.
# M4_ADAPTIVE(): average over windows [floor(i·H/OH), ceil((i+1)·H/OH)).

# _M4_POOL_ONE: output (oy, ox) of channel c when its window may cross the
# border: the taps inside, max (NaN wins) or average.
m4_define([[_M4_POOL_ONE]], [[M4_ARGS([[$0]], $#, 1)$1{
$1    const int y0 = M4_SUB(M4_MUL(oy, L_SH), L_PT);
$1    const int ky0 = y0 < 0 ? -y0 : 0;
$1    const int ky1 = y0 + L_KH > L_H ? L_H - y0 : L_KH;
$1    const int x0 = M4_SUB(M4_MUL(ox, L_SW), L_PL);
$1    const int kx0 = x0 < 0 ? -x0 : 0;
$1    const int kx1 = x0 + L_KW > L_W ? L_W - x0 : L_KW;
m4_ifelse(L_OP, [[MAX]], [[$1    float m = -INFINITY;
$1    for (int ky = ky0; ky < ky1; ky++)
$1        for (int kx = kx0; kx < kx1; kx++) {
$1            const float v = xc[(y0 + ky) * L_W + x0 + kx];
$1            m = v > m || isnan(v) ? v : m;
$1        }
$1    yc[oy * L_OW + ox] = m;
]], [[$1    float s = 0.0f;
$1    for (int ky = ky0; ky < ky1; ky++)
$1        for (int kx = kx0; kx < kx1; kx++)
$1            s += xc[(y0 + ky) * L_W + x0 + kx];
m4_ifelse(L_INCPAD, 1, [[$1    {
$1        const int ye = y0 + L_KH < m4_eval(L_H + L_PT) ? y0 + L_KH : m4_eval(L_H + L_PT);
$1        const int xe = x0 + L_KW < m4_eval(L_W + L_PL) ? x0 + L_KW : m4_eval(L_W + L_PL);
$1        yc[oy * L_OW + ox] = s / (float)((ye - y0) * (xe - x0));
$1    }
]], [[$1    yc[oy * L_OW + ox] = s / (float)((ky1 - ky0) * (kx1 - kx0));
]])]])m4_dnl
$1}
]])

# _M4_MAX_ROW: the outputs [_X0, _X1) of row oy whose windows are inside
# the input: the unrolled taps at fixed offsets, without branches, so that
# the loop vectorises and its scalar tail does not branch on the data: a
# plain max (v > m ? v : m, a maxss), and a flag of whether a tap was NaN,
# which makes the output NaN.
m4_define([[_M4_MAX_ROW]], [[M4_ARGS([[$0]], $#, 0)m4_dnl
            {
                const float *RESTRICT xr = xc + (M4_SUB(M4_MUL(oy, L_SH), L_PT)) * L_W;
                float *RESTRICT yr = yc + oy * L_OW;
                for (int ox = _X0; ox < _X1; ox++) {
                    const float *RESTRICT p = xr + M4_SUB(M4_MUL(ox, L_SW), L_PL);
                    float m = p[0];
                    int nan = m != m;
M4_FORLOOP([[M4_T]], 1, m4_eval(L_KH * L_KW - 1),
[[                    { const float v = p[m4_eval(M4_T / L_KW * L_W + M4_T % L_KW)]; m = v > m ? v : m; nan |= v != v; }
]])m4_dnl
                    yr[ox] = nan ? NAN : m;
                }
            }
]])

m4_define([[M4_POOL]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_LAYER_HEAD
m4_dnl the outputs whose whole window is inside the input: rows [_Y0, _Y1), columns [_X0, _X1)
m4_pushdef([[_Y0]], m4_eval((L_PT + L_SH - 1) / L_SH))m4_pushdef([[_X0]], m4_eval((L_PL + L_SW - 1) / L_SW))m4_dnl
m4_pushdef([[_Y1]], m4_eval((L_H - L_KH + L_PT) / L_SH + 1))m4_pushdef([[_X1]], m4_eval((L_W - L_KW + L_PL) / L_SW + 1))m4_dnl
m4_ifelse(m4_eval(_Y1 > L_OH), 1, [[m4_define([[_Y1]], L_OH)]])m4_ifelse(m4_eval(_X1 > L_OW), 1, [[m4_define([[_X1]], L_OW)]])m4_dnl
m4_ifelse(m4_eval(_Y1 < _Y0), 1, [[m4_define([[_Y1]], _Y0)]])m4_ifelse(m4_eval(_X1 < _X0), 1, [[m4_define([[_X1]], _X0)]])m4_dnl
m4_pushdef([[_FAST]], m4_ifelse(L_OP, [[MAX]], m4_eval(L_KH * L_KW <= 16 && _X1 > _X0 && _Y1 > _Y0), 0))m4_dnl
M4_FUNC(m4_ifelse(_FAST, 1, [[[[CNNC_VECTORIZE]]]], [[[[]]]]), [[const float *RESTRICT x, float *RESTRICT y[[]]M4_PARTS]])
{
m4_ifelse(L_SPLIT, 1, [[    M4_SHARE(L_C, c0, c1);
    for (int c = c0; c < c1; c++) {]], [[    for (int c = 0; c < L_C; c++) {]])
        const float *RESTRICT xc = x + c * (L_H * L_W);
        float *RESTRICT yc = y + c * (L_OH * L_OW);
m4_ifelse(_FAST, 1, [[        /* rows _Y0..m4_eval(_Y1 - 1), columns _X0..m4_eval(_X1 - 1): the whole window inside */
        for (int oy = 0; oy < L_OH; oy++) {
            if (oy < _Y0 || oy >= _Y1) {
                for (int ox = 0; ox < L_OW; ox++)
_M4_POOL_ONE([[                    ]])m4_dnl
                continue;
            }
m4_ifelse(_X0, 0, [[]], [[            for (int ox = 0; ox < _X0; ox++)
_M4_POOL_ONE([[                ]])]])m4_dnl
_M4_MAX_ROW[[]]m4_dnl
m4_ifelse(_X1, L_OW, [[]], [[            for (int ox = _X1; ox < L_OW; ox++)
_M4_POOL_ONE([[                ]])]])m4_dnl
        }
]], [[        for (int oy = 0; oy < L_OH; oy++)
            for (int ox = 0; ox < L_OW; ox++)
_M4_POOL_ONE([[                ]])m4_dnl
]])m4_dnl
    }
}
m4_popdef([[_FAST]])m4_popdef([[_X1]])m4_popdef([[_Y1]])m4_popdef([[_X0]])m4_popdef([[_Y0]])m4_dnl
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_GPOOL]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++) {
        const float *RESTRICT xc = x + c * L_HW;
m4_ifelse(L_OP, [[MAX]], [[        float m = xc[0];
        for (int i = 1; i < L_HW; i++) m = xc[i] > m || isnan(xc[i]) ? xc[i] : m;
        y[c] = m;
]], [[        float s = 0.0f;
        for (int i = 0; i < L_HW; i++) s += xc[i];
        y[c] = s / (float)L_HW;
]])m4_dnl
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_ADAPTIVE]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int oy = 0; oy < L_OH; oy++) {
            const int y0 = oy * L_H / L_OH, y1 = ((oy + 1) * L_H + L_OH - 1) / L_OH;
            for (int ox = 0; ox < L_OW; ox++) {
                const int x0 = ox * L_W / L_OW, x1 = ((ox + 1) * L_W + L_OW - 1) / L_OW;
                float s = 0.0f;
                for (int i = y0; i < y1; i++)
                    for (int j = x0; j < x1; j++) s += x[(c * L_H + i) * L_W + j];
                y[(c * L_OH + oy) * L_OW + ox] = s / (float)((y1 - y0) * (x1 - x0));
            }
        }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])
# M4_POOL3D(): windowed max or average over a volume's L_KD×L_KH×L_KW
# windows, with the 2-D pool's rules (a max's padding never wins, NaN wins;
# an average's divisor with or without the padding).
m4_define([[M4_POOL3D]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++) {
        const float *RESTRICT xc = x + c * M4_MUL(L_D, L_H, L_W);
        float *RESTRICT yc = y + c * M4_MUL(L_OD, L_OH, L_OW);
        for (int od = 0; od < L_OD; od++) {
            const int z0 = od * L_SD - L_PF;
            const int kz0 = z0 < 0 ? -z0 : 0, kz1 = z0 + L_KD > L_D ? L_D - z0 : L_KD;
            for (int oy = 0; oy < L_OH; oy++) {
                const int y0 = oy * L_SH - L_PT;
                const int ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + L_KH > L_H ? L_H - y0 : L_KH;
                for (int ox = 0; ox < L_OW; ox++) {
                    const int x0 = ox * L_SW - L_PL;
                    const int kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + L_KW > L_W ? L_W - x0 : L_KW;
                    float m = m4_ifelse(L_OP, [[MAX]], [[-INFINITY]], [[0.0f]]);
                    for (int kz = kz0; kz < kz1; kz++)
                        for (int ky = ky0; ky < ky1; ky++)
                            for (int kx = kx0; kx < kx1; kx++) {
                                const float v = xc[((z0 + kz) * L_H + y0 + ky) * L_W + x0 + kx];
m4_ifelse(L_OP, [[MAX]], [[                                m = v > m || isnan(v) ? v : m;
]], [[                                m += v;
]])m4_dnl
                            }
m4_ifelse(L_OP, [[MAX]], [[                    yc[(od * L_OH + oy) * L_OW + ox] = m;
]], L_INCPAD, 1, [[                    {
                        const int ze = z0 + L_KD < m4_eval(L_D + L_PF) ? z0 + L_KD : m4_eval(L_D + L_PF);
                        const int ye = y0 + L_KH < m4_eval(L_H + L_PT) ? y0 + L_KH : m4_eval(L_H + L_PT);
                        const int xe = x0 + L_KW < m4_eval(L_W + L_PL) ? x0 + L_KW : m4_eval(L_W + L_PL);
                        yc[(od * L_OH + oy) * L_OW + ox] = m / (float)((ze - z0) * (ye - y0) * (xe - x0));
                    }
]], [[                    yc[(od * L_OH + oy) * L_OW + ox] = m / (float)((kz1 - kz0) * (ky1 - ky0) * (kx1 - kx0));
]])m4_dnl
                }
            }
        }
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

# M4_ADAPTIVE3D(): the adaptive average with a depth axis.
m4_define([[M4_ADAPTIVE3D]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int od = 0; od < L_OD; od++) {
            const int z0 = od * L_D / L_OD, z1 = ((od + 1) * L_D + L_OD - 1) / L_OD;
            for (int oy = 0; oy < L_OH; oy++) {
                const int y0 = oy * L_H / L_OH, y1 = ((oy + 1) * L_H + L_OH - 1) / L_OH;
                for (int ox = 0; ox < L_OW; ox++) {
                    const int x0 = ox * L_W / L_OW, x1 = ((ox + 1) * L_W + L_OW - 1) / L_OW;
                    float s = 0.0f;
                    for (int k = z0; k < z1; k++)
                        for (int i = y0; i < y1; i++)
                            for (int j = x0; j < x1; j++) s += x[((c * L_D + k) * L_H + i) * L_W + j];
                    y[((c * L_OD + od) * L_OH + oy) * L_OW + ox] = s / (float)((z1 - z0) * (y1 - y0) * (x1 - x0));
                }
            }
        }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])
# M4_UPSAMPLE(): L_C planes of L_H×L_W to L_OH×L_OW, nearest or (L_BILINEAR)
# bilinear, source coordinates as PyTorch computes them (kind_upsample.c):
# ratios L_RH, L_RW; L_ALIGN: align_corners.
m4_define([[M4_UPSAMPLE]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int oy = 0; oy < L_OH; oy++) {
m4_ifelse(L_BILINEAR, 1, [[m4_dnl
        float sy = m4_ifelse(L_ALIGN, 1, [[(float)oy * L_RH[[]]f]], [[L_RH[[]]f * ((float)oy + 0.5f) - 0.5f]]);
        if (sy < 0.0f) sy = 0.0f;
        const int y0 = (int)sy, y1 = y0 + (y0 < L_H - 1 ? 1 : 0);
        const float ly = sy - (float)y0;
        for (int ox = 0; ox < L_OW; ox++) {
            float sx = m4_ifelse(L_ALIGN, 1, [[(float)ox * L_RW[[]]f]], [[L_RW[[]]f * ((float)ox + 0.5f) - 0.5f]]);
            if (sx < 0.0f) sx = 0.0f;
            const int x0 = (int)sx, x1 = x0 + (x0 < L_W - 1 ? 1 : 0);
            const float lx = sx - (float)x0;
            for (int c = 0; c < L_C; c++) {
                const float *xc = x + c * M4_MUL(L_H, L_W);
                y[(c * L_OH + oy) * L_OW + ox] = (1.0f - ly) * ((1.0f - lx) * xc[y0 * L_W + x0] + lx * xc[y0 * L_W + x1]) +
                                                 ly * ((1.0f - lx) * xc[y1 * L_W + x0] + lx * xc[y1 * L_W + x1]);
            }
        }
]], [[m4_dnl
        int y0 = (int)floorf((float)oy * L_RH[[]]f);
        if (y0 > L_H - 1) y0 = L_H - 1;
        for (int ox = 0; ox < L_OW; ox++) {
            int x0 = (int)floorf((float)ox * L_RW[[]]f);
            if (x0 > L_W - 1) x0 = L_W - 1;
            for (int c = 0; c < L_C; c++)
                y[(c * L_OH + oy) * L_OW + ox] = x[(c * L_H + y0) * L_W + x0];
        }
]])m4_dnl
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

# M4_PADDING(): L_C planes of L_H×L_W into L_OH×L_OW at row L_PT, column L_PL;
# L_MODE ZEROS, REFLECT (the edge not repeated) or REPLICATE.
m4_define([[M4_PADDING]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int c = 0; c < L_C; c++)
        for (int oy = 0; oy < L_OH; oy++) {
            const int sy = oy - L_PT;
m4_ifelse(L_MODE, [[REFLECT]], [[            const int iy = sy < 0 ? -sy : sy >= L_H ? 2 * (L_H - 1) - sy : sy;
]], L_MODE, [[REPLICATE]], [[            const int iy = sy < 0 ? 0 : sy >= L_H ? L_H - 1 : sy;
]], [[            const int iy = sy;
]])m4_dnl
            for (int ox = 0; ox < L_OW; ox++) {
                const int sx = ox - L_PL;
m4_ifelse(L_MODE, [[REFLECT]], [[                const int ix = sx < 0 ? -sx : sx >= L_W ? 2 * (L_W - 1) - sx : sx;
]], L_MODE, [[REPLICATE]], [[                const int ix = sx < 0 ? 0 : sx >= L_W ? L_W - 1 : sx;
]], [[                const int ix = sx;
]])m4_dnl
                y[(c * L_OH + oy) * L_OW + ox] = m4_ifelse(L_MODE, [[ZEROS]], [[iy < 0 || iy >= L_H || ix < 0 || ix >= L_W ? 0.0f : ]])x[(c * L_H + iy) * L_W + ix];
            }
        }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_divert(0)m4_dnl
