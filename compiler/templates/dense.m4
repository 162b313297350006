m4_divert(-1)
# dense.m4 — fully connected layer: y = act(W·x + b), W [L_NOUT][L_NIN].
#
# M4_DENSE(): cblas_sgemv (OpenBLAS) where L_CBLAS (lower_conv.c's
# layer_blas: default mode, target without SIMD kernels); else eight partial
# sums per row, so the dot product vectorises without
# reassociating floats behind the compiler's back.  A large layer (L_SPLIT
# 1) is shared out over the threads by rows.  tanh goes through NET_tanh() (gemm.m4).
# Layer data: L_FN L_LABEL ...; L_NIN L_NOUT L_WOFF L_BOFF L_ACT L_ACT_A L_ACT_B
# L_X L_XOFF L_Y L_YOFF L_CBLAS L_SPLIT.
m4_define([[M4_DENSE]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_ACT_ONCE[[]]m4_ifelse(L_CBLAS, 1,
  [[M4_CBLAS_ONCE[[]]]])M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y[[]]M4_PARTS]])
{
    const float *RESTRICT w = M4_WEIGHTS(w, L_WOFF);
m4_ifelse(L_CBLAS, 1, [[    /* y[L_NOUT] = W[L_NOUT][L_NIN] · x[L_NIN] */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, L_NOUT, L_NIN, 1.0f, w, L_NIN, x, 1, 0.0f, y, 1);
m4_ifelse(L_BOFF, -1, [[]], [[    for (int o = 0; o < L_NOUT; o++) y[o] += M4_WEIGHTS(b, L_BOFF)[o];
]])m4_dnl
M4_ACT_ANY([[y]], [[L_NOUT]])m4_dnl
]], [[    M4_SHARE(L_NOUT, o0, o1);
    for (int o = o0; o < o1; o++) {
        const float *RESTRICT wr = w + (size_t)o * L_NIN;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
        int i = 0;
        for (; i + 8 <= L_NIN; i += 8) {
            s0 += wr[i] * x[i];         s1 += wr[i + 1] * x[i + 1];
            s2 += wr[i + 2] * x[i + 2]; s3 += wr[i + 3] * x[i + 3];
            s4 += wr[i + 4] * x[i + 4]; s5 += wr[i + 5] * x[i + 5];
            s6 += wr[i + 6] * x[i + 6]; s7 += wr[i + 7] * x[i + 7];
        }
        for (; i < L_NIN; i++) s0 += wr[i] * x[i];
        y[o] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))m4_ifelse(L_BOFF, -1, [[]],
                            [[ + M4_WEIGHTS(b, L_BOFF)[o] ]]);
    }
m4_ifelse(L_ACT, [[NONE]], [[]], [[    {
        float *RESTRICT ya = y + o0;
M4_ACT_ANY([[ya]], [[o1 - o0]])m4_dnl
    }
]])]])m4_dnl
}
m4_ifelse(L_BATCH[[]]L_CBLAS, 10, [[M4_DENSE_MANY(L_NIN, L_NOUT)]])m4_dnl
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

# M4_DENSE_MANY(nin, nout): L_FN_many(), the layer over nb images
# (run_many()) with NET_matvec_many(), then each image's bias and
# activation: the same bits as one image at a time.  Also the batched form
# of a conv with one output pixel.  (Not for a layer that calls OpenBLAS:
# cblas_sgemm over the images would not give cblas_sgemv's bits.)
m4_define([[M4_DENSE_MANY]], [[M4_ARGS([[$0]], $#, 2)M4_MATVEC_MANY_ONCE[[]]M4_MANY[[]]

/* L_LABEL over nb images: image i reads x + i*xs, writes y + i*ys */
m4_pushdef([[L_FN]], L_FN[[_many]])M4_FUNC([[]], [[int nb, const float *RESTRICT x, size_t xs, float *RESTRICT y, size_t ys]])m4_popdef([[L_FN]])
{
    NET[[]]_matvec_many($2, $1, M4_WEIGHTS(w, L_WOFF), x, xs, y, ys, nb);
    for (int i = 0; i < nb; i++) {
        float *RESTRICT yi = y + (size_t)i * ys;
m4_ifelse(L_BOFF, -1, [[]], [[        for (int o = 0; o < $2; o++) yi[o] = yi[o] + M4_WEIGHTS(b, L_BOFF)[o];
]])m4_dnl
M4_ACT_ANY([[yi]], [[$2]])m4_dnl
    }
}
]])
m4_divert(0)m4_dnl
