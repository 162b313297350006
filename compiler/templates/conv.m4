m4_divert(-1)
# conv.m4 — 2-D convolution, one algorithm per layer (cnnc picks it by shape;
# see conv_algo() in lower_conv.c).
#
# M4_CONV(): dispatches on L_ALGO:
#   DIRECT  direct loops with the kernel window unrolled into registers (one
#           output channel at a time; the ox loop is contiguous for stride 1
#           and vectorises).  Padding is done once, into a zero-padded copy
#           of the input in the layer's scratch.  Small layers, and grouped
#           ones but depthwise.
#   GEMM    y[OC][P] = W[OC][K] · col[K][P] with K = Cin·KH·KW, P = OH·OW;
#           col is the im2col patch matrix (or the input itself for a 1×1,
#           stride-1, unpadded conv).  Default mode calls cblas_sgemm
#           (L_CBLAS 1); --standalone uses NET_gemm() with W packed at
#           compile time.  One output pixel (L_NPIX 1): a matrix-vector
#           product with W row-major (cblas_sgemv or plain C).
#   WINO    Winograd F(m×m, 3×3) for 3×3 stride-1 convs, m = L_WM (2, 4 or 6):
#           the input, zero-padded to whole tiles and split by column phase,
#           is transformed eight tiles at a time (V = Bᵀ d B), the (m+2)² products M = U · V are one batched
#           NET_gemm() with U = G g Gᵀ computed and packed by cnnc, and
#           Aᵀ M A (+ bias, activation) is the output.  Shared out, the
#           padding and input transform go by input channels, the products
#           and output transform by output channels (panels of 8 rows of
#           U), so that a part transforms the rows of M it computed.
#   DW      depthwise (groups = input channels, L_OCG outputs per input
#           channel), over the channels in parallel, a block of L_ROWS
#           output rows at a time: the input rows the block reads are
#           zero-padded into xb on the thread's stack, split by phase of the
#           stride (padded row r, column px in phase (r % L_SH, px % L_SW)),
#           so that every tap of the unrolled window reads consecutive
#           outputs from consecutive floats whatever the stride; bias and
#           activation in the same pass.  Long rows (lower_conv.c's
#           DW_WIDE) are computed one by one, straight into y; shorter (L_RUN 1) as
#           one run of L_RUNLEN (whole vectors) over the block into yb,
#           output (oy, ox) at yb[oy·L_WQ + ox], the values between rows and
#           past the last dropped when copied out.  No scratch.
# Layer data: L_FN L_LABEL L_KIND L_LINE L_IN L_OUT L_NOTE; L_C L_H L_W L_OC
# L_OH L_OW L_KH L_KW L_KK L_SH L_SW L_PT L_PL L_DH L_DW L_HP L_WP L_ICG L_OCG;
# L_WOFF L_BOFF (-1: no bias); L_ACT L_ACT_A L_ACT_B; L_X L_XOFF L_Y L_YOFF; L_SCRATCH
# (scratch float offset, -1: no scratch); L_ALGO.
# GEMM: L_K L_NPIX L_LDB (row stride of col, a multiple of 32 unless L_CBLAS)
#   L_DIRECTB (1: col is the input itself) L_CBLAS.
# WINO: L_WM L_WA (m+2) L_TH L_TW L_T (tiles) L_TPAD L_HPT L_WPT (padded
#   input) L_TQ (tiles per column phase of a padded row: L_TW + 1) L_VOFF
#   L_MOFF (float offsets of V and M in the scratch) L_SV L_SM (floats from
#   one transform point's V or M to the next: not a multiple of 4 KB, so
#   that the 16 or 36 streams of a transform do not share cache sets).
# DW: L_SPAN (input rows one output row reads) L_HQ L_WQ (rows and columns
#   of a phase in xb) L_BUF (floats of xb) L_ROWS (output rows per block)
#   L_RUN (1: a block as one run) L_RUNLEN (its length).

# M4_TAPS: the unrolled window sum, w<t> * p[offset] for every tap.
m4_define([[M4_TAPS]], [[M4_ARGS([[$0]], $#, 0)M4_FORLOOP([[M4_KY]], 0, L_KH - 1,
[[M4_FORLOOP([[M4_KX]], 0, L_KW - 1, [[m4_ifelse(M4_KY[[]]M4_KX, [[00]], [[]],
[[ + ]])w[[]]m4_eval(M4_KY * L_KW + M4_KX) * p[m4_eval(M4_KY * L_DH * L_WP + M4_KX * L_DW)]]])m4_ifelse(M4_KY,
m4_eval(L_KH - 1), [[]], [[
                          ]])]])]])

# M4_CONV_ACT: the activation of the whole output, when the kernel has not
# applied it (GEMM and WINO fuse ReLU into their stores).
m4_define([[M4_CONV_ACT]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_ACT, [[RELU]], [[]],
  [[M4_ACT_ANY([[y]], M4_MUL(L_OC, L_OH, L_OW))]])]])

# M4_CONV_SPLIT_ACT: M4_CONV_ACT in a GEMM conv that may be shared out
# (never one that calls OpenBLAS): each part applies the activation to
# the rows of a matrix-vector product it computed, or to its share of the
# output once every part's tiles are done (NET_gemm).
m4_define([[M4_CONV_SPLIT_ACT]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_ACT, [[RELU]], [[]], L_ACT, [[NONE]], [[]],
  L_SPLIT, 0, [[M4_CONV_ACT]], L_NPIX, 1, [[    {
        float *RESTRICT ya = y + o0;
M4_ACT_ANY([[ya]], [[o1 - o0]])m4_dnl
    }
]], [[M4_SYNC([[    ]])    {
        M4_SHARE(M4_MUL(L_OC, L_NPIX), a0, a1);
        float *RESTRICT ya = y + a0;
M4_ACT_ANY([[ya]], [[a1 - a0]])m4_dnl
    }
]])]])

# M4_ACT_ANY(ptr, count): the layer's activation in place; tanh through
# NET_tanh() (the function needs [[M4_TANH_ONCE]] before it).
m4_define([[M4_ACT_ANY]], [[M4_ARGS([[$0]], $#, 2)m4_ifelse(L_ACT, [[TANH]],
[[    NET[[]]_tanh($1, $2);
]], [[M4_ACT_LOOP(L_ACT, L_ACT_A, L_ACT_B, [[$1]], [[$2]])]])]])

# M4_ACT_ONCE: the shared code the layer's activation needs.
m4_define([[M4_ACT_ONCE]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_ACT, [[TANH]], [[M4_TANH_ONCE[[]]]])]])

m4_define([[M4_CONV]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_ALGO, [[DIRECT]], [[M4_CONV_DIRECT]],
  L_ALGO, [[GEMM]], [[M4_CONV_GEMM]], L_ALGO, [[WINO]], [[M4_CONV_WINO]], L_ALGO, [[DW]], [[M4_CONV_DW]],
  [[m4_errprint(m4___file__:m4___line__: unknown conv algorithm L_ALGO
)m4_m4exit(1)]])]])

# _M4_CONV_CLIPPED: the direct loops over the unpadded input x (L_CLIP 1:
# no scratch for a padded copy, cnnc --target cortex-m).  A window inside
# the input is the unrolled taps, as in the padded case; one that crosses
# the border sums its taps inside (padding adds nothing), in the same
# order.
m4_define([[_M4_CONV_CLIPPED]], [[M4_ARGS([[$0]], $#, 0)m4_dnl
            for (int oy = 0; oy < L_OH; oy++) {
                const int iy0 = M4_SUB(M4_MUL(oy, L_SH), L_PT);
                float *RESTRICT yr = yo + oy * L_OW;
                for (int ox = 0; ox < L_OW; ox++) {
                    const int ix0 = M4_SUB(M4_MUL(ox, L_SW), L_PL);
                    float s = 0.0f;
                    if (iy0 >= 0 && iy0 <= m4_eval(L_H - 1 - (L_KH - 1) * L_DH) && ix0 >= 0 && ix0 <= m4_eval(L_W - 1 - (L_KW - 1) * L_DW)) {
                        const float *RESTRICT p = xc + M4_AT(M4_MUL(iy0, L_W), ix0);
                        s = M4_TAPS;
                    } else {
                        for (int ky = 0; ky < L_KH; ky++) {
                            const int iy = M4_AT(iy0, M4_MUL(ky, L_DH));
                            if (iy < 0 || iy >= L_H) continue;
                            for (int kx = 0; kx < L_KW; kx++) {
                                const int ix = M4_AT(ix0, M4_MUL(kx, L_DW));
                                if (ix >= 0 && ix < L_W) s += wk[M4_AT(M4_MUL(ky, L_KW), kx)] * xc[M4_AT(M4_MUL(iy, L_W), ix)];
                            }
                        }
                    }
                    yr[ox] += s;
                }
            }
]])

m4_define([[M4_CONV_DIRECT]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_ACT_ONCE[[]]M4_LAYER_HEAD
m4_ifelse(L_CLIP, 1, [[m4_pushdef([[L_HP]], L_H)m4_pushdef([[L_WP]], L_W)]])m4_dnl    clipped: x is read as it is
M4_FUNC([[CNNC_VECTORIZE]], [[const float *RESTRICT x, float *RESTRICT y[[]]m4_ifelse(L_SCRATCH, -1, [[]],
    [[, float *RESTRICT xp]])[[]]M4_PARTS]])
{
    const float *RESTRICT w = M4_WEIGHTS(w, L_WOFF);
m4_ifelse(L_SCRATCH, -1, [[    const float *RESTRICT xp = x;
]], L_SPLIT, 1, [[    {   /* xp: the input zero-padded to L_C x L_HP x L_WP, this part's channels;
         * row r of x is row r % L_H of channel r / L_H */
        M4_SHARE(L_C, c0, c1);
        memset(xp + (size_t)c0 * M4_MUL(L_HP, L_WP), 0, sizeof(float) * (size_t)(c1 - c0) * M4_MUL(L_HP, L_WP));
        for (int r = c0 * L_H; r < c1 * L_H; r++)
            memcpy(xp + M4_AT((M4_AT(r / L_H * L_HP + r % L_H, L_PT)) * L_WP, L_PL), x + r * L_W, sizeof(float) * L_W);
    }
M4_SYNC([[    ]])m4_dnl
]], [[    /* xp: the input zero-padded to L_C x L_HP x L_WP; row r of x is row r % L_H of channel r / L_H */
    memset(xp, 0, sizeof(float) * M4_MUL(L_C, L_HP, L_WP));
    for (int r = 0; r < M4_MUL(L_C, L_H); r++)
        memcpy(xp + M4_AT((M4_AT(m4_ifelse(L_C, 1, [[]], [[r / L_H * L_HP + ]])r % L_H, L_PT)) * L_WP, L_PL), x + r * L_W,
               sizeof(float) * L_W);
]])m4_dnl
m4_ifelse(L_SPLIT, 1, [[    M4_SHARE(L_OC, oc0, oc1);
    for (int oc = oc0; oc < oc1; oc++) {]], [[    for (int oc = 0; oc < L_OC; oc++) {]])
        const float *RESTRICT xg = m4_ifelse(L_OCG, L_OC, [[xp]], [[xp + m4_ifelse(L_OCG, 1, [[oc]], [[(oc / L_OCG)]]) * M4_MULP(L_ICG, L_HP, L_WP)]]);
        float *RESTRICT yo = y + M4_MUL(oc, M4_MULP(L_OH, L_OW));
        const float bias = m4_ifelse(L_BOFF, -1, [[0.0f]], [[M4_WEIGHTS(b, L_BOFF)[oc] ]]);
m4_ifelse(M4_MUL(L_OH, L_OW), 1, [[        yo[0] = bias;
]], [[        for (int i = 0; i < M4_MUL(L_OH, L_OW); i++) yo[i] = bias;
]])m4_dnl
m4_ifelse(L_ICG, 1, [[        {   /* a single input channel */
            const float *RESTRICT wk = w + M4_MUL(oc, L_KK);
            const float *RESTRICT xc = xg;]], [[        for (int ic = 0; ic < L_ICG; ic++) {
            const float *RESTRICT wk = w + M4_MUL((oc * L_ICG + ic), L_KK);
            const float *RESTRICT xc = xg + ic * M4_MULP(L_HP, L_WP);]])
M4_FORLOOP([[M4_T]], 0, L_KK - 1, [[            const float w[[]]M4_T = wk[M4_T];
]])m4_dnl
m4_ifelse(L_CLIP, 1, [[_M4_CONV_CLIPPED[[]]]], M4_MUL(L_OH, L_OW), 1, [[            {   /* one output: the window at the input's corner */
                const float *RESTRICT p = xc;
                yo[0] += M4_TAPS;
            }
]], [[            for (int oy = 0; oy < L_OH; oy++) {
                const float *RESTRICT r = xc + oy * M4_MULP(L_SH, L_WP);
                float *RESTRICT yr = yo + oy * L_OW;
                for (int ox = 0; ox < L_OW; ox++) {
                    const float *RESTRICT p = r + M4_MUL(ox, L_SW);
                    yr[ox] += M4_TAPS;
                }
            }
]])m4_dnl
        }
M4_ACT_ANY([[yo]], M4_MUL(L_OH, L_OW))m4_dnl
    }
}
m4_ifelse(L_CLIP, 1, [[m4_popdef([[L_HP]])m4_popdef([[L_WP]])]])m4_dnl
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)[[]]m4_ifelse(L_SCRATCH, -1, [[]],
  [[, M4_PTR(scratch_[[]]L_ID, L_SCRATCH)]])]])]])

# _M4_DW_PLUS(expr, n): expr + n, expr - |n| or expr (n a number).
m4_define([[_M4_DW_PLUS]], [[m4_ifelse(m4_eval([[$2]] < 0), 1, [[$1 - m4_eval(-($2))]], [[M4_AT([[$1]], [[$2]])]])]])

# _M4_DW_PHASE(q, indent): input row s into column phase q of the padded
# row at d (phase q at d + q·L_HQ·L_WQ): its columns t with t·L_SW + q −
# L_PL inside the input (the others stay zero).
m4_define([[_M4_DW_PHASE]], [[M4_ARGS([[$0]], $#, 2)m4_pushdef([[_LO]], m4_ifelse(m4_eval(L_PL > $1), 1,
  [[m4_eval((L_PL - $1 + L_SW - 1) / L_SW)]], 0))m4_pushdef([[_HI]], m4_eval((L_W + L_PL - $1 + L_SW - 1) / L_SW))m4_dnl
m4_ifelse(m4_eval(_HI > L_WQ), 1, [[m4_define([[_HI]], L_WQ)]])m4_dnl
m4_ifelse(m4_eval(_HI > _LO), 1, [[m4_ifelse(L_SW, 1, [[$2memcpy(M4_AT([[d]], _LO), s, sizeof(float) * m4_eval(_HI - _LO));
]], [[$2for (int t = _LO; t < _HI; t++) d[M4_AT([[t]], m4_eval($1 * L_HQ * L_WQ))] = s[_M4_DW_PLUS([[t * L_SW]], m4_eval($1 - L_PL))];
]])]])m4_popdef([[_HI]])m4_popdef([[_LO]])]])

# _M4_DW_ROW(r): where padded row r of the block starts in xb: phase
# r % L_SH, row r / L_SH of it.
m4_define([[_M4_DW_ROW]], [[M4_ARGS([[$0]], $#, 1)xb + M4_MUL(m4_ifelse(L_SH, 1, [[$1]],
  [[($1 % L_SH * m4_eval(L_SW * L_HQ) + $1 / L_SH)]]), L_WQ)]])

# _M4_DW_OFF(ky, kx): where tap (ky, kx) of output 0 is in xb: padded row
# a = ky·L_DH and column b = kx·L_DW of the block, in phase (a % L_SH,
# b % L_SW) at row a / L_SH, column b / L_SW.
m4_define([[_M4_DW_OFF]], [[m4_eval(((($1) * L_DH % L_SH) * L_SW + ($2) * L_DW % L_SW) * L_HQ * L_WQ +
  ($1) * L_DH / L_SH * L_WQ + ($2) * L_DW / L_SW)]])

# _M4_DW_TAPS(f, indent): the unrolled window sum at output f of the padded
# rows at p: w<t> · p[f + offset], a line per kernel row.
m4_define([[_M4_DW_TAPS]], [[M4_ARGS([[$0]], $#, 2)M4_FORLOOP([[M4_KY]], 0, L_KH - 1,
[[M4_FORLOOP([[M4_KX]], 0, L_KW - 1, [[m4_ifelse(M4_KY[[]]M4_KX, [[00]], [[]],
[[ + ]])w[[]]m4_eval(M4_KY * L_KW + M4_KX) * p[M4_AT([[$1]], _M4_DW_OFF(M4_KY, M4_KX))]]])m4_ifelse(M4_KY,
m4_eval(L_KH - 1), [[]], [[
$2                   ]])]])]])

# _M4_DW_LOOP(dst, count, indent): dst[f] for f < count: bias, taps and
# activation.
m4_define([[_M4_DW_LOOP]], [[M4_ARGS([[$0]], $#, 3)$3for (int f = 0; f < $2; f++) {
$3    const float v = m4_ifelse(L_BOFF, -1, [[]], [[bias + (]])_M4_DW_TAPS([[f]], [[$3]])[[]]m4_ifelse(L_BOFF, -1, [[]], [[)]]);
$3    $1[f] = m4_ifelse(L_ACT, [[TANH]], [[v]], [[M4_ACT(L_ACT, L_ACT_A, L_ACT_B, [[v]])]]);
$3}
m4_ifelse(L_ACT, [[TANH]], [[$3NET[[]]_tanh($1, $2);
]])]])

# _M4_DW_FILL(indent): padded row d of the block from input row iy of the
# channel, or zeros where iy is padding (the row may hold one of the
# previous block).
m4_define([[_M4_DW_FILL]], [[M4_ARGS([[$0]], $#, 1)$1if (iy < 0 || iy >= L_H) {
m4_ifelse(L_SW, 1, [[$1    memset(d, 0, sizeof(float) * L_WQ);
]], [[$1    for (int q = 0; q < L_SW; q++) memset(d + q * m4_eval(L_HQ * L_WQ), 0, sizeof(float) * L_WQ);
]])m4_dnl
$1} else {
$1    const float *RESTRICT s = xc + M4_MUL(iy, L_W);
M4_FORLOOP([[M4_Q]], 0, L_SW - 1, [[_M4_DW_PHASE(M4_Q, [[$1    ]])]])m4_dnl
$1}
]])

m4_define([[M4_CONV_DW]], [[M4_ARGS([[$0]], $#, 0)M4_THREADS_ONCE[[]]M4_ACT_ONCE[[]]M4_LAYER_HEAD
m4_pushdef([[_ONE]], m4_ifelse(L_ROWS, L_OH, 1, 0))m4_dnl
m4_pushdef([[_IY1]], m4_eval((L_OH - 1) * L_SH + L_SPAN - L_PT))m4_ifelse(m4_eval(_IY1 > L_H), 1, [[m4_define([[_IY1]], L_H)]])m4_dnl
m4_pushdef([[_N]], m4_ifelse(_ONE, 1, L_OH, [[n]]))m4_dnl
M4_FUNC([[CNNC_VECTORIZE]], [[const float *RESTRICT x, float *RESTRICT y[[]]M4_PARTS]])
{
    const float *RESTRICT w = M4_WEIGHTS(w, L_WOFF);
m4_ifelse(L_BOFF, -1, [[]], [[    const float *RESTRICT b = M4_WEIGHTS(b, L_BOFF);
]])m4_dnl
m4_ifelse(L_SPLIT, 1, [[    M4_SHARE(L_C, c0, c1);
    for (int c = c0; c < c1; c++) {]], [[    for (int c = 0; c < L_C; c++) {]])
        const float *RESTRICT xc = x + M4_MUL(c, M4_MULP(L_H, L_W));
        /* xb: m4_ifelse(L_SPAN, 1, [[the input row]], [[the input rows]]) m4_ifelse(L_OH, 1, [[the output row reads]], _ONE, 1, [[the L_OH output rows read]],
          L_ROWS, 1, [[an output row reads]], [[a block of L_ROWS output rows read]]), zero-padded to L_WP columns[[]]m4_ifelse(L_SH[[]]L_SW, 11, [[]],
          L_SH, 1, [[,
         * split by column phase: column px in phase px % L_SW at column px / L_SW (each phase L_HQ x L_WQ)]],
          L_SW, 1, [[,
         * split by row phase: padded row r in phase r % L_SH at row r / L_SH (each phase L_HQ x L_WQ)]], [[,
         * split by phase: padded row r, column px in phase (r % L_SH, px % L_SW) at row r / L_SH,
         * column px / L_SW (each phase L_HQ x L_WQ)]])[[]]m4_ifelse(L_RUN, 1, [[,
         * then zeros for the lanes whose outputs are dropped]]) */
        float xb[L_BUF];
        memset(xb, 0, sizeof xb);
m4_ifelse(L_RUN, 1, [[        float yb[L_RUNLEN];   /* output (oy, ox) at yb[oy * L_WQ + ox] */
]])m4_dnl
m4_ifelse(_ONE, 1, [[        {
m4_ifelse(_IY1, 1, [[            float *RESTRICT d = M4_AT([[xb]], m4_eval((L_PT % L_SH * L_SW * L_HQ + L_PT / L_SH) * L_WQ));
            const float *RESTRICT s = xc;
M4_FORLOOP([[M4_Q]], 0, L_SW - 1, [[_M4_DW_PHASE(M4_Q, [[            ]])]])m4_dnl
]], m4_eval(_IY1 > 1), 1, [[            for (int iy = 0; iy < _IY1; iy++) {
                float *RESTRICT d = _M4_DW_ROW(m4_ifelse(L_PT, 0, [[iy]], [[(iy + L_PT)]]));
                const float *RESTRICT s = xc + M4_MUL(iy, L_W);
M4_FORLOOP([[M4_Q]], 0, L_SW - 1, [[_M4_DW_PHASE(M4_Q, [[                ]])]])m4_dnl
            }
]])]], [[        for (int oy0 = 0; oy0 < L_OH; oy0 += L_ROWS) {
m4_ifelse(L_ROWS, 1, [[]], [[            const int n = L_OH - oy0 < L_ROWS ? L_OH - oy0 : L_ROWS;
]])m4_dnl
m4_ifelse(L_ROWS[[]]L_SPAN, 11, [[            {
                const int iy = M4_SUB(M4_MUL(oy0, L_SH), L_PT);
                float *RESTRICT d = xb;
_M4_DW_FILL([[                ]])m4_dnl
            }
]], [[            for (int r = 0; r < m4_ifelse(L_ROWS, 1, L_SPAN, [[M4_AT(M4_MUL((n - 1), L_SH), L_SPAN)]]); r++) {
                const int iy = M4_SUB(M4_MUL(oy0, L_SH), L_PT) + r;
                float *RESTRICT d = _M4_DW_ROW([[r]]);
_M4_DW_FILL([[                ]])m4_dnl
            }
]])]])m4_dnl
m4_ifelse(L_OCG, 1, [[            {
                const int oc = c;
]], [[            for (int j = 0; j < L_OCG; j++) {
                const int oc = c * L_OCG + j;
]])m4_dnl
                const float *RESTRICT wk = w + M4_MUL(oc, L_KK);
M4_FORLOOP([[M4_T]], 0, L_KK - 1, [[                const float w[[]]M4_T = wk[M4_T];
]])m4_dnl
m4_ifelse(L_BOFF, -1, [[]], [[                const float bias = b[oc];
]])m4_dnl
                float *RESTRICT yo = y + M4_MUL(oc, M4_MULP(L_OH, L_OW))[[]]m4_ifelse(_ONE, 1, [[]], [[ + M4_MUL(oy0, L_OW)]]);
m4_ifelse(L_RUN, 1, [[                /* the rows as one run of whole vectors, the m4_eval(L_WQ - L_OW) between two rows and the tail dropped */
                const float *RESTRICT p = xb;
_M4_DW_LOOP([[yb]], L_RUNLEN, [[                ]])m4_dnl
                for (int r = 0; r < _N; r++) memcpy(yo + M4_MUL(r, L_OW), yb + M4_MUL(r, L_WQ), sizeof(float) * L_OW);
]], L_ROWS, 1, [[                const float *RESTRICT p = xb;
_M4_DW_LOOP([[yo]], L_OW, [[                ]])m4_dnl
]], [[                for (int r = 0; r < _N; r++) {
                    const float *RESTRICT p = xb + M4_MUL(r, L_WQ);
                    float *RESTRICT yr = yo + M4_MUL(r, L_OW);
_M4_DW_LOOP([[yr]], L_OW, [[                    ]])m4_dnl
                }
]])m4_dnl
            }
        }
    }
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])m4_popdef([[_N]])m4_popdef([[_IY1]])m4_popdef([[_ONE]])]])

m4_define([[M4_CONV_GEMM]], [[M4_ARGS([[$0]], $#, 0)M4_ACT_ONCE[[]]m4_ifelse(L_DIRECTB, 1, [[]], [[M4_IM2COL_ONCE[[]]]])m4_dnl
m4_ifelse(L_CBLAS, 1, [[M4_CBLAS_ONCE[[]]M4_THREADS_ONCE[[]]]], L_NPIX, 1, [[M4_THREADS_ONCE[[]]]], L_TROWS, 0, [[M4_GEMM_ONCE[[]]]],
  [[M4_GEMM_T_ONCE(L_TROWS)]])M4_LAYER_HEAD
M4_FUNC(m4_ifelse(L_NPIX, 1, [[[[]]]], [[[[CNNC_VECTORIZE]]]]), [[const float *RESTRICT x, float *RESTRICT y[[]]m4_ifelse(L_DIRECTB, 1, [[]],
    [[, float *RESTRICT col]])[[]]M4_PARTS]])
{
m4_ifelse(L_DIRECTB, 1, [[    const float *RESTRICT col = x;      /* 1x1, stride 1: the input is the patch matrix */
]], L_PBLK, 0, [[    /* col[L_K][L_LDB]: the patches of the input, one column per output pixel */
    NET[[]]_im2col(x, L_C, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_PT, L_PL, L_DH, L_DW, L_OW, 0, L_NPIX, col, L_LDB,
                m4_ifelse(L_SPLIT, 1, [[part, parts]], [[0, 1]]));
M4_SYNC([[    ]])m4_dnl
]])m4_dnl
m4_ifelse(m4_eval(L_PBLK > 0), 1, [[_M4_GEMM_BLOCKS[[]]]], L_NPIX, 1, [[M4_CONV_GEMV[[]]]], m4_eval(L_TROWS > 0), 1,
[[    /* y[L_OC][L_NPIX] = W[L_OC][L_K] · col[L_K][L_NPIX] (+ bias), the other way round: W packed by 32 channels */
    NET[[]]_gemm_t[[]]L_TROWS[[]](1, L_OC, L_NPIX, L_K, M4_WEIGHTS(w, L_WOFF), col, L_LDB, 0, y, L_NPIX, 0,
                m4_ifelse(L_BOFF, -1, [[NULL]], [[M4_WEIGHTS(b, L_BOFF)]]), m4_ifelse(L_ACT, [[RELU]], 1, 0),
                m4_ifelse(L_SPLIT, 1, [[part, parts]], [[0, 1]]));
]], L_CBLAS, 1, [[    /* y[L_OC][L_NPIX] = W[L_OC][L_K] · col[L_K][L_NPIX] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L_OC, L_NPIX, L_K,
                1.0f, M4_WEIGHTS(w, L_WOFF), L_K, col, L_LDB, 0.0f, y, L_NPIX);
m4_ifelse(L_BOFF, -1, [[m4_ifelse(L_ACT, [[RELU]], [[M4_ACT_LOOP(L_ACT, L_ACT_A, L_ACT_B, [[y]], M4_MUL(L_OC, L_OH, L_OW))]])]], [[    {
        const float *RESTRICT b = M4_WEIGHTS(b, L_BOFF);
        for (int oc = 0; oc < L_OC; oc++)
            for (int p = 0; p < L_NPIX; p++) {
                const float v = y[oc * L_NPIX + p] + b[oc];
                y[oc * L_NPIX + p] = m4_ifelse(L_ACT, [[RELU]], [[v < 0.0f ? 0.0f : v]], [[v]]);
            }
    }
]])]], [[    /* y[L_OC][L_NPIX] = W[L_OC][L_K] · col[L_K][L_NPIX] (+ bias), W packed */
    NET[[]]_gemm(1, L_OC, L_NPIX, L_K, M4_WEIGHTS(w, L_WOFF), 0, col, L_LDB, 0, y, L_NPIX, 0,
              m4_ifelse(L_BOFF, -1, [[NULL]], [[M4_WEIGHTS(b, L_BOFF)]]), m4_ifelse(L_ACT, [[RELU]], 1, 0),
              m4_ifelse(L_SPLIT, 1, [[part, parts]], [[0, 1]]));
]])m4_dnl
M4_CONV_SPLIT_ACT[[]]m4_dnl
}
m4_ifelse(L_BATCH, 0, [[]], L_CBLAS, 1, [[]], L_NPIX[[]]L_DIRECTB, 11, [[M4_DENSE_MANY(L_K, L_OC)]], L_NPIX, 1, [[]], [[_M4_GEMM_MANY[[]]]])m4_dnl
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)[[]]m4_ifelse(L_DIRECTB, 1, [[]],
  [[, M4_PTR(scratch_[[]]L_ID, L_SCRATCH)]])]])]])

# _M4_GEMM_BLOCKS: an im2col conv whose patch matrix would not stay in
# cache (L_PBLK > 0): the output pixels in blocks of L_PBLK, each block's
# patches (about 1 MB) then its product while they are in cache, a
# thread's blocks in the scratch of its first block (the blocks fit in
# col[L_K][L_LDB]); the same tiles and sums as the whole matrix at once.
m4_define([[_M4_GEMM_BLOCKS]], [[M4_ARGS([[$0]], $#, 0)m4_dnl
    {
        const int nblk = m4_eval((L_NPIX + L_PBLK - 1) / L_PBLK);
        M4_SHARE(nblk, b0, b1);
        float *RESTRICT cb = col + (size_t)b0 * m4_eval(L_K * L_PBLK);
        for (int b = b0; b < b1; b++) {
            const int p0 = b * L_PBLK, np = L_NPIX - p0 < L_PBLK ? L_NPIX - p0 : L_PBLK;
            NET[[]]_im2col(x, L_C, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_PT, L_PL, L_DH, L_DW, L_OW, p0, np, cb, L_PBLK, 0, 1);
            /* y[L_OC][p0 + j] = W[L_OC][L_K] · cb[L_K][j] (+ bias), j < np, W packed */
            NET[[]]_gemm(1, L_OC, np, L_K, M4_WEIGHTS(w, L_WOFF), 0, cb, L_PBLK, 0, y + p0, L_NPIX, 0,
                      m4_ifelse(L_BOFF, -1, [[NULL]], [[M4_WEIGHTS(b, L_BOFF)]]), m4_ifelse(L_ACT, [[RELU]], 1, 0), 0, 1);
        }
    }
]])

# _M4_GEMM_MANY: L_FN_many() of an im2col conv with cnnc's GEMM, on one
# thread: each image's patch matrix in its own scratch, then one
# NET_gemm_many() over the images (each panel of W read once for all).
m4_define([[_M4_GEMM_MANY]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_TROWS, 0, [[M4_GEMM_MANY_ONCE[[]]]])M4_MANY[[]]m4_pushdef([[L_SPLIT]], 0)
/* L_LABEL over nb images: image i reads x0 + i*xs, writes y0 + i*ys[[]]m4_ifelse(L_DIRECTB, 1, [[]], [[, its patches at col0 + i*cs]]) */
m4_pushdef([[L_FN]], L_FN[[_many]])M4_FUNC([[CNNC_VECTORIZE]], [[int nb, const float *RESTRICT x0, size_t xs, float *RESTRICT y0, size_t ys[[]]m4_ifelse(L_DIRECTB, 1, [[]],
    [[, float *RESTRICT col0, size_t cs]])]])m4_popdef([[L_FN]])
{
m4_ifelse(L_DIRECTB, 1, [[    /* 1x1, stride 1: each input is its patch matrix */
    const float *RESTRICT col0 = x0;
    const size_t cs = xs;
]], [[    for (int i = 0; i < nb; i++)
        NET[[]]_im2col(x0 + i * xs, L_C, L_H, L_W, L_KH, L_KW, L_SH, L_SW, L_PT, L_PL, L_DH, L_DW, L_OW, 0, L_NPIX,
                    col0 + i * cs, L_LDB, 0, 1);
]])m4_dnl
m4_ifelse(L_TROWS, 0, [[    /* y_i[L_OC][L_NPIX] = W[L_OC][L_K] · col_i[L_K][L_NPIX] (+ bias), W packed */
    NET[[]]_gemm_many(nb, 1, L_OC, L_NPIX, L_K, M4_WEIGHTS(w, L_WOFF), 0, col0, L_LDB, 0, cs, y0, L_NPIX, 0, ys,
                   m4_ifelse(L_BOFF, -1, [[NULL]], [[M4_WEIGHTS(b, L_BOFF)]]), m4_ifelse(L_ACT, [[RELU]], 1, 0));
]], [[    /* the same the other way round, the images as NET[[]]_gemm_t[[]]L_TROWS[[]]()'s batch: each
     * panel of 32 channels of W used for every image while it is in cache */
    NET[[]]_gemm_t[[]]L_TROWS[[]](nb, L_OC, L_NPIX, L_K, M4_WEIGHTS(w, L_WOFF), col0, L_LDB, cs, y0, L_NPIX, ys,
                m4_ifelse(L_BOFF, -1, [[NULL]], [[M4_WEIGHTS(b, L_BOFF)]]), m4_ifelse(L_ACT, [[RELU]], 1, 0), 0, 1);
]])m4_dnl
m4_ifelse(L_ACT, [[RELU]], [[]], L_ACT, [[NONE]], [[]], [[    for (int i = 0; i < nb; i++) {
        float *RESTRICT y = y0 + i * ys;
M4_CONV_ACT[[]]m4_dnl
    }
]])m4_dnl
}
m4_popdef([[L_SPLIT]])]])

# M4_CONV_GEMV: the GEMM of a conv with one output pixel, a matrix-vector
# product: cblas_sgemv, or (standalone) eight partial sums per row.
m4_define([[M4_CONV_GEMV]], [[M4_ARGS([[$0]], $#, 0)    M4_SHARE(L_OC, o0, o1);
m4_ifelse(L_CBLAS, 1, [[    /* y[L_OC] = W[L_OC][L_K] · col[L_K] */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, L_OC, L_K, 1.0f, M4_WEIGHTS(w, L_WOFF), L_K, col, 1, 0.0f, y, 1);
]], [[    /* y[L_OC] = W[L_OC][L_K] · col[L_K], a matrix-vector product: eight partial sums a row */
    for (int o = o0; o < o1; o++) {
        const float *RESTRICT wr = M4_WEIGHTS(w, L_WOFF) + (size_t)o * L_K;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
        int i = 0;
        for (; i + 8 <= L_K; i += 8) {
            s0 += wr[i] * col[i];         s1 += wr[i + 1] * col[i + 1];
            s2 += wr[i + 2] * col[i + 2]; s3 += wr[i + 3] * col[i + 3];
            s4 += wr[i + 4] * col[i + 4]; s5 += wr[i + 5] * col[i + 5];
            s6 += wr[i + 6] * col[i + 6]; s7 += wr[i + 7] * col[i + 7];
        }
        for (; i < L_K; i++) s0 += wr[i] * col[i];
        y[o] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }
]])m4_dnl
    for (int o = o0; o < o1; o++) {
        const float v = y[o]m4_ifelse(L_BOFF, -1, [[]], [[ + M4_WEIGHTS(b, L_BOFF)[o] ]]);
        y[o] = m4_ifelse(L_ACT, [[RELU]], [[v < 0.0f ? 0.0f : v]], [[v]]);
    }
]])

m4_define([[M4_CONV_WINO]], [[M4_ARGS([[$0]], $#, 0)M4_ACT_ONCE[[]]M4_GEMM_ONCE[[]]m4_ifelse(L_BATCH, 1, [[M4_GEMM_MANY_ONCE[[]]]])M4_WINO_ONCE[[]]M4_LAYER_HEAD
M4_FUNC([[CNNC_VECTORIZE]], [[const float *RESTRICT x, float *RESTRICT y, float *RESTRICT xp[[]]M4_PARTS]])
{
    float *RESTRICT v = xp + L_VOFF;    /* V[L_WA*L_WA][L_C][L_TPAD], point stride L_SV: transformed input tiles */
    float *RESTRICT mt = xp + L_MOFF;   /* M[L_WA*L_WA][L_OC][L_T], point stride L_SM: products in the transform domain */
    M4_SHARE(L_C, c0, c1);
    /* this part's output channels: whole panels of 8 rows of U, for the
     * products and the output transform (the rows of M it reads are its own) */
    M4_SHARE(m4_eval((L_OC + 7) / 8), q0, q1);
    const int oc0 = q0 * 8, oc1 = q1 * 8 < L_OC ? q1 * 8 : L_OC;
_M4_WINO_IN[[]]    /* M_e[oc][L_T] = U_e[oc][L_C] · V_e[L_C][L_T], oc0 <= oc < oc1, for each of the L_WA*L_WA points e */
    NET[[]]_gemm(L_WA * L_WA, oc1 - oc0, L_T, L_C, M4_WEIGHTS(w, L_WOFF) + (size_t)oc0 * L_C,
              (size_t)m4_eval((L_OC + 7) / 8 * 8) * L_C, v, L_TPAD, (size_t)L_SV, mt + (size_t)oc0 * L_T, L_T,
              (size_t)L_SM, NULL, 0, 0, 1);
m4_dnl (no wait before the output transform: a part reads only the rows of M it wrote)
_M4_WINO_OUT[[]]m4_dnl
}
m4_ifelse(L_BATCH, 1, [[_M4_WINO_MANY[[]]]])m4_dnl
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF), M4_PTR(scratch_[[]]L_ID, L_SCRATCH)]])]])

# _M4_WINO_MANY: L_FN_many() of a Winograd conv, on one thread (a layer
# shared out at batch 1 is not here): each image's input transform in its own scratch, one
# NET_gemm_many() over the images (each panel of U read once for all of
# them), each image's output transform.
m4_define([[_M4_WINO_MANY]], [[M4_ARGS([[$0]], $#, 0)M4_MANY[[]]m4_pushdef([[L_SPLIT]], 0)
/* L_LABEL over nb images: image i reads x0 + i*xs, writes y0 + i*ys, works in xp0 + i*ps */
m4_pushdef([[L_FN]], L_FN[[_many]])M4_FUNC([[CNNC_VECTORIZE]], [[int nb, const float *RESTRICT x0, size_t xs, float *RESTRICT y0, size_t ys, float *RESTRICT xp0, size_t ps]])m4_popdef([[L_FN]])
{
    M4_SHARE(L_C, c0, c1);
    M4_SHARE(L_OC, oc0, oc1);
    for (int i = 0; i < nb; i++) {
        const float *RESTRICT x = x0 + i * xs;
        float *RESTRICT xp = xp0 + i * ps;
        float *RESTRICT v = xp + L_VOFF;
_M4_WINO_IN[[]]m4_dnl
    }
    /* M_e,i[L_OC][L_T] = U_e[L_OC][L_C] · V_e,i[L_C][L_T] for each of the L_WA*L_WA points e and images i */
    NET[[]]_gemm_many(nb, L_WA * L_WA, L_OC, L_T, L_C, M4_WEIGHTS(w, L_WOFF), (size_t)m4_eval((L_OC + 7) / 8 * 8) * L_C,
                   xp0 + L_VOFF, L_TPAD, (size_t)L_SV, ps, xp0 + L_MOFF, L_T, (size_t)L_SM, ps, NULL, 0);
    for (int i = 0; i < nb; i++) {
        float *RESTRICT y = y0 + i * ys;
        const float *RESTRICT mt = xp0 + i * ps + L_MOFF;
_M4_WINO_OUT[[]]m4_dnl
    }
}
m4_popdef([[L_SPLIT]])]])

m4_define([[_M4_WINO_IN]], [[    /* xp: the input zero-padded to L_C x L_HPT x L_WPT (L_TH x L_TW tiles of L_WM x L_WM outputs),
     * each row split by column phase: xp[c][yy][q][t] = padded[c][yy][t*L_WM + q], t < L_TQ */
    for (int c = c0; c < c1; c++)
        for (int yy = 0; yy < L_HPT; yy++) {
            float *RESTRICT d = xp + ((size_t)c * L_HPT + yy) * (L_WM * L_TQ);
            const int iy = M4_SUB(yy, L_PT);
            if (iy < 0 || iy >= L_H) {
                memset(d, 0, sizeof(float) * L_WM * L_TQ);
                continue;
            }
            /* the padded row, then its phases (constant-stride loads); loops of
             * constant length, not calls of memset and memcpy */
            const float *RESTRICT xr = x + ((size_t)c * L_H + iy) * L_W;
            float line[L_WM * L_TQ];
            for (int j = 0; j < L_WM * L_TQ; j++) line[j] = 0.0f;
            for (int j = 0; j < L_W; j++) line[M4_AT(j, L_PL)] = xr[j];
            for (int q = 0; q < L_WM; q++)
                for (int t = 0; t < L_TQ; t++) d[q * L_TQ + t] = line[t * L_WM + q];
        }
    if (c1 == L_C) memset(xp + (size_t)L_C * L_HPT * L_WM * L_TQ, 0, sizeof(float) * 8);   /* the lanes read past the end */
M4_SYNC([[    ]])m4_dnl
    /* V = Bᵀ d B, eight tiles at a time (after the copy: no load waits on a recent store) */
    for (int c = c0; c < c1; c++) {
        for (int ty = 0; ty < L_TH; ty++)
            for (int t0 = 0; t0 < L_TW; t0 += 8)
                NET[[]]_wino_in(L_WM, xp + ((size_t)c * L_HPT + ty * L_WM) * (L_WM * L_TQ) + t0, L_TQ,
                             L_TW - t0 < 8 ? L_TW - t0 : 8, v + c * L_TPAD + ty * L_TW + t0, (size_t)L_SV);
        for (int t = L_T; t < L_TPAD; t++)
            for (int e = 0; e < L_WA * L_WA; e++) v[(size_t)e * L_SV + c * L_TPAD + t] = 0.0f;
    }
M4_SYNC([[    ]])m4_dnl
]])
m4_define([[_M4_WINO_OUT]], [[    for (int oc = oc0; oc < oc1; oc++) {
        const float bias = m4_ifelse(L_BOFF, -1, [[0.0f]], [[M4_WEIGHTS(b, L_BOFF)[oc] ]]);
        for (int ty = 0; ty < L_TH; ty++)
            for (int t0 = 0; t0 < L_TW; t0 += 8)
                NET[[]]_wino_out(L_WM, mt + oc * L_T + ty * L_TW + t0, (size_t)L_SM,
                              L_TW - t0 < 8 ? L_TW - t0 : 8, bias, m4_ifelse(L_ACT, [[RELU]], 1, 0),
                              y + (oc * L_OH + ty * L_WM) * L_OW + t0 * L_WM, L_OW,
                              L_OH - ty * L_WM < L_WM ? L_OH - ty * L_WM : L_WM, L_OW - t0 * L_WM);
m4_ifelse(L_ACT, [[RELU]], [[]], L_ACT, [[NONE]], [[]], [[        {
            float *RESTRICT ya = y + oc * M4_MUL(L_OH, L_OW);
M4_ACT_ANY([[ya]], M4_MUL(L_OH, L_OW))m4_dnl
        }
]])m4_dnl
    }
]])
# M4_CONVT(): a transposed convolution, direct: every input value scattered
# through the kernel into the output (PyTorch's ConvTranspose2d: weight
# [L_C][L_OCG][L_KH][L_KW]; output row iy·L_SH − L_PT + kh·L_DH).
m4_define([[M4_CONVT]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    const float *RESTRICT w = M4_WEIGHTS(w, L_WOFF);
m4_ifelse(L_BOFF, -1, [[    memset(y, 0, sizeof(float) * M4_MUL(L_OC, L_OH, L_OW));
]], [[    const float *RESTRICT b = M4_WEIGHTS(b, L_BOFF);
    for (int oc = 0; oc < L_OC; oc++)
        for (int p = 0; p < M4_MUL(L_OH, L_OW); p++) y[oc * M4_MUL(L_OH, L_OW) + p] = b[oc];
]])m4_dnl
    for (int ic = 0; ic < L_C; ic++) {
        const int g = ic / L_ICG;
        for (int iy = 0; iy < L_H; iy++)
            for (int ix = 0; ix < L_W; ix++) {
                const float v = x[(ic * L_H + iy) * L_W + ix];
                for (int j = 0; j < L_OCG; j++) {
                    const float *wk = w + (ic * L_OCG + j) * M4_MUL(L_KH, L_KW);
                    float *yo = y + (g * L_OCG + j) * M4_MUL(L_OH, L_OW);
                    for (int kh = 0; kh < L_KH; kh++) {
                        const int oy = iy * L_SH - L_PT + kh * L_DH;
                        if (oy < 0 || oy >= L_OH) continue;
                        for (int kw = 0; kw < L_KW; kw++) {
                            const int ox = ix * L_SW - L_PL + kw * L_DW;
                            if (ox >= 0 && ox < L_OW) yo[oy * L_OW + ox] += v * wk[kh * L_KW + kw];
                        }
                    }
                }
            }
    }
M4_ACT_LOOP(L_ACT, L_ACT_A, L_ACT_B, [[y]], M4_MUL(L_OC, L_OH, L_OW))m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

# M4_CONV3D(): a volume's convolution (PyTorch's Conv3d: weight
# [L_OC][L_ICG][L_KD][L_KH][L_KW]), direct: for each output channel and
# tap, the tap's weight times the input slice it sees, added to the output.
m4_define([[M4_CONV3D]], [[M4_ARGS([[$0]], $#, 0)M4_LAYER_HEAD
M4_FUNC([[]], [[const float *RESTRICT x, float *RESTRICT y]])
{
    const float *RESTRICT w = M4_WEIGHTS(w, L_WOFF);
m4_ifelse(L_BOFF, -1, [[]], [[    const float *RESTRICT b = M4_WEIGHTS(b, L_BOFF);
]])m4_dnl
    for (int oc = 0; oc < L_OC; oc++) {
        float *RESTRICT yo = y + oc * M4_MUL(L_OD, L_OH, L_OW);
        for (int p = 0; p < M4_MUL(L_OD, L_OH, L_OW); p++) yo[p] = m4_ifelse(L_BOFF, -1, [[0.0f]], [[b[oc]]]);
        for (int j = 0; j < L_ICG; j++) {
            const float *RESTRICT xc = x + (oc / L_OCG * L_ICG + j) * M4_MUL(L_D, L_H, L_W);
            const float *RESTRICT wk = w + (oc * L_ICG + j) * M4_MUL(L_KD, L_KH, L_KW);
            for (int kd = 0; kd < L_KD; kd++)
                for (int kh = 0; kh < L_KH; kh++)
                    for (int kw = 0; kw < L_KW; kw++) {
                        const float wv = wk[(kd * L_KH + kh) * L_KW + kw];
                        for (int od = 0; od < L_OD; od++) {
                            const int id = od * L_SD - L_PF + kd * L_DD;
                            if (id < 0 || id >= L_D) continue;
                            for (int oy = 0; oy < L_OH; oy++) {
                                const int iy = oy * L_SH - L_PT + kh * L_DH;
                                if (iy < 0 || iy >= L_H) continue;
                                const float *RESTRICT xr = xc + (id * L_H + iy) * L_W;
                                float *RESTRICT yr = yo + (od * L_OH + oy) * L_OW;
                                for (int ox = 0; ox < L_OW; ox++) {
                                    const int ix = ox * L_SW - L_PL + kw * L_DW;
                                    if (ix >= 0 && ix < L_W) yr[ox] += wv * xr[ix];
                                }
                            }
                        }
                    }
        }
    }
M4_ACT_LOOP(L_ACT, L_ACT_A, L_ACT_B, [[y]], M4_MUL(L_OC, L_OD, L_OH, L_OW))m4_dnl
}
M4_CALL([[M4_PTR(L_X, L_XOFF), M4_PTR(L_Y, L_YOFF)]])]])

m4_divert(0)m4_dnl
