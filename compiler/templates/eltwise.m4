m4_divert(-1)
# eltwise.m4 — activations, softmax, residual add, channel concat.
#
# M4_ACTIVATION(): y = act(x) for an activation that could not be fused.
# M4_SOFTMAX(): over L_C classes at each of L_HW positions (max subtracted).
# M4_ADD(): y = x0 + x1 + ... (L_NIN inputs L_X<i>/L_X<i>OFF), then act; a
# large one (L_SPLIT 1) shared out over the threads by ranges of values.
# M4_ELTMUL(): y = x · x1, x1 per channel (L_BCAST: C×1×1) or of x's shape.
# M4_SHUFFLE(): L_C channels of L_HW as L_GROUPS groups, transposed.
# M4_SLICE(): L_N values of the input from L_FIRST (a split's channels).
# M4_CONCAT(): inputs of L_C<i> channels each, L_HW positions, one after another;
# the inputs come as one array (any number of branches: C99 guarantees only
# 127 parameters per function).
m4_define([[M4_ACTIVATION]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    for (int i = 0; i < L_N; i++) y[i] = M4_ACT(L_ACT, L_ACT_A, L_ACT_B, [[x[i] ]]);
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

# M4_PRELU: y = x > 0 ? x : a·x with L_SLOPES learned slopes (1, or one per
# channel of L_C) at L_WOFF, over L_C × L_HW.  (A single slope after a conv
# or dense is fused into it as a leaky relu with that slope: pass_fuse.c.)
m4_define([[M4_PRELU]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    const float *RESTRICT a = M4_WEIGHTS(w, L_WOFF);
    for (int c = 0; c < L_C; c++) {
        const float s = a[m4_ifelse(L_SLOPES, 1, 0, c)];
        for (int i = 0; i < L_HW; i++) {
            const float v = x[c * L_HW + i];
            y[c * L_HW + i] = v > 0.0f ? v : s * v;
        }
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_SOFTMAX]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
m4_pushdef([[_I]], [[m4_ifelse(L_HW, 1, [[c]], [[c * L_HW + p]])]])m4_dnl
m4_ifelse(L_HW, 1, [[    {   /* one position */]], [[    for (int p = 0; p < L_HW; p++) {]])
        float m = x[m4_ifelse(L_HW, 1, 0, p)];
        float s = 0.0f;
        for (int c = 1; c < L_C; c++) m = x[_I] > m ? x[_I] : m;
        for (int c = 0; c < L_C; c++) {
            y[_I] = expf(x[_I] - m);
            s += y[_I];
        }
        for (int c = 0; c < L_C; c++) y[_I] = y[_I] / s;
    }
m4_popdef([[_I]])m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_ADD]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_SPLIT, 1, [[M4_THREADS_ONCE[[]]]])M4_LAYER_HEAD
M4_FUNC(m4_ifelse(L_SPLIT, 1, [[[[CNNC_VECTORIZE]]]], [[[[]]]]), [[M4_FORLOOP([[M4_I]], 0, L_NIN - 1, [[const float *RESTRICT x[[]]M4_I, ]])float *RESTRICT y[[]]M4_PARTS]])
{
    M4_SHARE(L_N, i0, i1);
    for (int i = i0; i < i1; i++) {
m4_ifelse(L_OP, [[SUB]], [[        const float v = x0[i] - x1[i];
]], L_OP, [[MEAN]], [[        const float v = (x0[i]M4_FORLOOP([[M4_I]], 1, L_NIN - 1, [[ + x[[]]M4_I[i] ]])) / (float)L_NIN;
]], [[        const float v = x0[i]M4_FORLOOP([[M4_I]], 1, L_NIN - 1, [[ + x[[]]M4_I[i] ]]);
]])m4_dnl
        y[i] = M4_ACT(L_ACT, L_ACT_A, L_ACT_B, [[v]]);
    }
}
M4_CALL([[M4_FORLOOP([[M4_I]], 0, L_NIN - 1,
  [[M4_PTR(m4_indir([[L_X]]M4_I), m4_indir([[L_X]]M4_I[[OFF]])), ]])M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_CONCAT]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *const x[L_NIN], float *RESTRICT y]])
{
M4_FORLOOP([[M4_I]], 0, L_NIN - 1, [[    memcpy(M4_AT(y, M4_MUL(m4_indir([[L_CH]]M4_I), L_HW)), x[[[]]M4_I[[]]], sizeof(float) * M4_MUL(m4_indir([[L_C]]M4_I), L_HW));
]])m4_dnl
}
M4_CALL([[(const float *const[[[]]]){ M4_PTR(L_X0, L_X0OFF)[[]]M4_FORLOOP([[M4_I]], 1, L_NIN - 1,
  [[, M4_PTR(m4_indir([[L_X]]M4_I), m4_indir([[L_X]]M4_I[[OFF]]))]]) }, M4_PTR(L_Y, L_YOFF)]])]])
m4_define([[M4_ELTMUL]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, const float *RESTRICT g, float *RESTRICT y]])
{
m4_ifelse(L_BCAST, 1, [[    for (int c = 0; c < L_C; c++)
        for (int p = 0; p < L_HW; p++) y[c * L_HW + p] = x[c * L_HW + p] * g[c];
]], [[    for (int i = 0; i < M4_MUL(L_C, L_HW); i++) y[i] = x[i] * g[i];
]])m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_X1, L_X1OFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_SHUFFLE]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    /* output channel j·L_GROUPS + i is input channel i·m4_eval(L_C / L_GROUPS) + j */
    for (int i = 0; i < L_GROUPS; i++)
        for (int j = 0; j < m4_eval(L_C / L_GROUPS); j++)
            memcpy(y + (j * L_GROUPS + i) * L_HW, x + (i * m4_eval(L_C / L_GROUPS) + j) * L_HW, sizeof(float) * L_HW);
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_define([[M4_SLICE]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    memcpy(y, M4_AT(x, L_FIRST), sizeof(float) * L_N);
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])
m4_divert(0)m4_dnl
