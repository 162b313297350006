m4_divert(-1)
# norm.m4 — normalisation at inference.
#
# M4_SCALESHIFT(): a batchnorm that could not be folded: y = x·s[c] + t[c]
#   with s = γ/sqrt(σ²+ε), t = β − μ·s precomputed by the compiler.
# M4_GROUPNORM(): per sample, groups of L_CG channels × L_HW positions are
#   normalised with their own mean and (biased) variance, compensated sums
#   in float; then per-channel γ, β.  Instance norm is the case L_CG = 1,
#   layer norm the case of one group (with elementwise γ, β: L_ELEMENTWISE 1).
m4_define([[M4_SCALESHIFT]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    const float *RESTRICT s = M4_WEIGHTS(scale, L_SOFF);
    const float *RESTRICT t = M4_WEIGHTS(shift, L_TOFF);
    for (int c = 0; c < L_C; c++)
        for (int i = 0; i < L_HW; i++) {
            const float v = x[c * L_HW + i] * s[c] + t[c];
            y[c * L_HW + i] = M4_ACT(L_ACT, L_ACT_A, L_ACT_B, [[v]]);
        }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_GROUPNORM]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
m4_ifelse(L_WOFF, -1, [[]], [[    const float *RESTRICT gamma = M4_WEIGHTS(w, L_WOFF);
    const float *RESTRICT beta = M4_WEIGHTS(b, L_BOFF);
]])m4_dnl
    for (int g = 0; g < L_GROUPS; g++) {
        const float *RESTRICT xg = x + g * (L_CG * L_HW);
        float *RESTRICT yg = y + g * (L_CG * L_HW);
        /* compensated (Kahan) sums: about as exact as sums in double, in
         * float arithmetic only (a Cortex-M's FPU has no double) */
        float sum = 0.0f, cs = 0.0f;
        for (int i = 0; i < L_CG * L_HW; i++) {
            const float v = xg[i] - cs, t = sum + v;
            cs = (t - sum) - v;
            sum = t;
        }
        const float m = sum / (float)(L_CG * L_HW);
        float sq = 0.0f, cq = 0.0f;
        for (int i = 0; i < L_CG * L_HW; i++) {
            const float v = (xg[i] - m) * (xg[i] - m) - cq, t = sq + v;
            cq = (t - sq) - v;
            sq = t;
        }
        const float rstd = 1.0f / sqrtf(sq / (float)(L_CG * L_HW) + (float)L_EPS);
        for (int c = 0; c < L_CG; c++)
            for (int i = 0; i < L_HW; i++) {
                const int k = c * L_HW + i;
m4_ifelse(L_WOFF, -1, [[                yg[k] = (xg[k] - m) * rstd;
]], L_ELEMENTWISE, 1, [[                yg[k] = (xg[k] - m) * rstd * gamma[k] + beta[k];
]], [[                yg[k] = (xg[k] - m) * rstd * gamma[g * L_CG + c] + beta[g * L_CG + c];
]])m4_dnl
            }
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])
m4_divert(0)m4_dnl
