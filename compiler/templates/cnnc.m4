m4_divert(-1)
m4_changecom()
m4_changequote([[, ]])
# cnnc.m4 — macros shared by every template (run with m4 -P --fatal-warnings).
#
# The compiler writes only definitions (NET_*, L_*) and one macro call per
# layer; the templates hold all C text.  Template macros are M4_*, and each
# checks its argument count with M4_ARGS.  Quotes are [[ ]], so C text
# must never contain two closing brackets in a row (write "a[b[i] ]").

# M4_ARGS(name, $#, expected): stop with file:line: when a macro is misused.
m4_define([[M4_ARGS]], [[m4_ifelse([[$2]], [[$3]], [[]],
  [[m4_errprint(m4___file__:m4___line__: [[$1]] takes $3 argument(s) but got $2
)m4_m4exit(1)]])]])

# M4_FORLOOP(var, from, to, text): text for var = from..to (inclusive);
# empty when from > to.  The m4 manual's improved forloop.
m4_define([[M4_FORLOOP]], [[m4_ifelse(m4_eval([[($2) <= ($3)]]), [[1]],
  [[m4_pushdef([[$1]])_M4_FORLOOP([[$1]], m4_eval([[$2]]), m4_eval([[$3]]),
    [[$4]])m4_popdef([[$1]])]])]])
m4_define([[_M4_FORLOOP]], [[m4_define([[$1]], [[$2]])$4[[]]m4_ifelse([[$2]],
  [[$3]], [[]], [[$0([[$1]], m4_incr([[$2]]), [[$3]], [[$4]])]])]])

# M4_ORIGIN: where the weights come from, as the .c and .h say it.
m4_define([[M4_ORIGIN]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(NET_TRAINED, 1, [[trained, read from NET_ORIGIN]],
  [[RANDOM, UNTRAINED (PyTorch's default initialisation, NET_ORIGIN)]])]])

# M4_PAD(text, width), M4_PAD_LEFT(text, width): text padded with spaces
# to width columns (on the right, on the left); longer text as it is.
m4_define([[_M4_SPACES]], [[                                                                ]])
m4_define([[M4_PAD]], [[M4_ARGS([[$0]], $#, 2)[[$1]]m4_ifelse(m4_eval(m4_len([[$1]]) < ($2)), 1,
  [[m4_substr(_M4_SPACES, 0, m4_eval(($2) - m4_len([[$1]])))]])]])
m4_define([[M4_PAD_LEFT]], [[M4_ARGS([[$0]], $#, 2)m4_ifelse(m4_eval(m4_len([[$1]]) < ($2)), 1,
  [[m4_substr(_M4_SPACES, 0, m4_eval(($2) - m4_len([[$1]])))]])[[$1]]]])

# Arithmetic on what the compiler knows, folded so that no `+ 0`, `- 0` or
# `* 1` is left in the C (the arguments are numbers or C expressions):
# M4_AT(a, b): a + b, or a when b is 0.
# M4_SUB(a, b): a - b, or a when b is 0.
# M4_MUL(a, b, ...): a * b * ..., factors of 1 left out, 0 when one is 0,
#   1 when none is left.  M4_MULP: the same in parentheses when more than
#   one factor is left.
m4_define([[M4_AT]], [[M4_ARGS([[$0]], $#, 2)m4_ifelse([[$2]], [[0]], [[$1]], [[$1 + $2]])]])
m4_define([[M4_SUB]], [[M4_ARGS([[$0]], $#, 2)m4_ifelse([[$2]], [[0]], [[$1]], [[$1 - $2]])]])
m4_define([[M4_MUL]], [[_M4_MUL1(_M4_MULF([[]], $@))]])
m4_define([[M4_MULP]], [[_M4_MULP1(_M4_MULF([[]], $@))]])
m4_define([[_M4_MULF]], [[m4_ifelse([[$#]], [[2]], [[_M4_MULC([[$1]], [[$2]])]],
  [[$0(_M4_MULC([[$1]], [[$2]]), m4_shift(m4_shift($@)))]])]])
m4_define([[_M4_MULC]], [[m4_ifelse([[$1]], [[0]], [[0]], [[$2]], [[0]], [[0]], [[$2]], [[1]], [[[[$1]]]],
  [[$1]], [[]], [[[[$2]]]], [[[[$1 * $2]]]])]])
m4_define([[_M4_MUL1]], [[m4_ifelse([[$1]], [[]], [[1]], [[$1]])]])
m4_define([[_M4_MULP1]], [[m4_ifelse([[$1]], [[]], [[1]], m4_index([[$1]], [[ * ]]), [[-1]], [[$1]], [[($1)]])]])

# M4_PTR(buffer, offset): a buffer of run(): the caller's in or out (buffer
# IN, OUT), or the arena's slot `buffer` (buf_<layer>, scratch_<layer>) at a
# float offset, declared once at the top of run().
m4_define([[M4_PTR]], [[M4_ARGS([[$0]], $#, 2)m4_ifelse([[$1]], [[IN]], [[in]],
  [[$1]], [[OUT]], [[out]], [[m4_ifdef([[_M4_BUF_$1]], [[]], [[m4_define([[_M4_BUF_$1]],
  1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(8)    float *const $1 = M4_AT([[ws]], $2);
m4_divert(10)    float *const $1 = M4_AT([[ws]], $2);
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1]])]])
# In run_many() (source.m4), nb images layer by layer, image i's buffers:
# _M4_PTR_I(buffer, offset) is image i's, for a call per image;
# _M4_PTR_S(buffer, offset) is image 0's and the stride to the next image
# ("pointer, stride"), for a layer's batched function L_FN_many().  The
# buffers are declared: [[M4_PTR]] in run()'s call came first.
m4_define([[_M4_PTR_I]], [[m4_ifelse([[$1]], [[IN]], [[in + i * is]], [[$1]], [[OUT]], [[out + i * (size_t)NET_OUT_SIZE]],
  [[$1 + i * ss]])]])
m4_define([[_M4_PTR_S]], [[m4_ifelse([[$1]], [[IN]], [[in, is]], [[$1]], [[OUT]], [[out, (size_t)NET_OUT_SIZE]],
  [[$1, ss]])]])

# M4_ACT(kind, a, b, expr): the activation applied to a C expression, with
# its parameters a, b (float literals without the f; runtime/cnnrt_acts.def
# says which).  expr must be free of side effects: it may be evaluated more
# than once.  NaN and Inf go through as in PyTorch: relu is x < 0 ? 0 : x
# (torch.clamp_min), so relu(NaN) = NaN, relu(-0.0) = -0.0, relu(-Inf) = 0;
# leaky relu is x > 0 ? x : x*slope, NaN again NaN; the clamps (relu6,
# hardtanh, hardsigmoid) keep NaN.  GELU is x·erfc(−x/√2)/2 and its tanh
# form x·σ(2u), as cnnrt computes them (runtime/act.c).
m4_define([[M4_ACT]], [[M4_ARGS([[$0]], $#, 4)m4_ifelse(
  [[$1]], [[NONE]], [[$4]],
  [[$1]], [[RELU]], [[($4 < 0.0f ? 0.0f : $4)]],
  [[$1]], [[LEAKY]], [[($4 > 0.0f ? $4 : $4 * $2f)]],
  [[$1]], [[TANH]], [[tanhf($4)]],
  [[$1]], [[SIGMOID]], [[(1.0f / (1.0f + expf(-$4)))]],
  [[$1]], [[RELU6]], [[($4 < 0.0f ? 0.0f : $4 > 6.0f ? 6.0f : $4)]],
  [[$1]], [[HARDTANH]], [[($4 < $2f ? $2f : $4 > $3f ? $3f : $4)]],
  [[$1]], [[HARDSIGMOID]], [[(($4 + 3.0f < 0.0f ? 0.0f : $4 + 3.0f > 6.0f ? 6.0f : $4 + 3.0f) / 6.0f)]],
  [[$1]], [[HARDSWISH]], [[($4 * ($4 + 3.0f < 0.0f ? 0.0f : $4 + 3.0f > 6.0f ? 6.0f : $4 + 3.0f) / 6.0f)]],
  [[$1]], [[SILU]], [[($4 / (1.0f + expf(-$4)))]],
  [[$1]], [[GELU]], [[(0.5f * $4 * erfcf(-$4 * 0.70710678118654752f))]],
  [[$1]], [[GELU_TANH]], [[($4 / (1.0f + expf(-1.59576912160573071f * ($4 + 0.044715f * $4 * $4 * $4))))]],
  [[$1]], [[ELU]], [[($4 <= 0.0f ? $2f * expm1f($4) : $4)]],
  [[$1]], [[SELU]], [[($4 <= 0.0f ? 1.75809934084737686f * expm1f($4) : 1.05070098735548049f * $4)]],
  [[$1]], [[MISH]], [[($4 * tanhf(log1pf(expf($4))))]],
  [[$1]], [[SOFTPLUS]], [[($4 * $2f > $3f ? $4 : log1pf(expf($4 * $2f)) / $2f)]],
  [[m4_errprint(m4___file__:m4___line__: unknown activation $1
)m4_m4exit(1)]])]])

# M4_ACT_LOOP(kind, a, b, ptr, count): apply an activation in place.
m4_define([[M4_ACT_LOOP]], [[M4_ARGS([[$0]], $#, 5)m4_ifelse([[$1]], [[NONE]], [[]], [[$5]], [[1]],
[[        $4[0] = M4_ACT([[$1]], [[$2]], [[$3]], [[$4[0] ]]);
]], [[        for (int i = 0; i < $5; i++) $4[i] = M4_ACT([[$1]], [[$2]], [[$3]], [[$4[i] ]]);
]])]])

# M4_WEIGHTS(prefix, offset): this layer's tensor prefix_<layer> (w_c1,
# b_c1), a pointer into the network's weight block, declared once with the
# other tensors.
m4_define([[M4_WEIGHTS]], [[M4_ARGS([[$0]], $#, 2)m4_ifdef([[_M4_W_$1_]]L_ID, [[]],
  [[m4_define([[_M4_W_$1_]]L_ID, 1)m4_define([[_M4_ANY_WEIGHTS]], 1)m4_pushdef([[_M4_DIV]], m4_divnum)m4_divert(7)M4_PAD(static const float *const $1_[[]]L_ID,
  m4_eval(NET_NAME_W + 32)) = M4_AT(NET[[]]_weights, $2);
m4_divert(_M4_DIV)m4_popdef([[_M4_DIV]])]])$1_[[]]L_ID]])

# M4_LAYER_HEAD: the comment every layer function starts with.
m4_define([[M4_LAYER_HEAD]], [[M4_ARGS([[$0]], $#, 0)
/* L_LABEL: L_KIND, line L_LINE: L_IN -> L_OUT[[]]m4_ifelse(m4_defn([[L_NOTE]]), [[]], [[]], [[
 * L_NOTE]]) */]])

# Diversions of NETWORK.c, put together in this order by M4_FINISH (source.m4):
#   4  prelude: includes and macros the layers and kernels need
#   5  prototypes of the layer functions
#   6  prototypes of the shared kernels
#   7  the named weight tensors (w_<layer>, b_<layer>, ...)
#   8  the named buffers of run() (buf_<layer>, scratch_<layer>)
#   2  the body of run(): one call per layer
#  10  the named buffers of run_many(), as in 8
#   9  the body of run_many(): the layers over nb images, in order
#   1  the layer functions
#   3  the shared kernels (GEMM, im2col, Winograd, tanh)
# Layer macros write into 1; the others are entered for a piece and left
# back to 1.

# M4_FUNC(attributes, parameters): `static void L_FN(parameters)`, the
# head of this layer's function; its prototype goes to the prototypes.
m4_define([[M4_FUNC]], [[M4_ARGS([[$0]], $#, 2)m4_divert(5)m4_ifelse([[$1]], [[]], [[]],
  [[$1 ]])static void L_FN[[]]($2);
m4_divert(1)m4_ifelse([[$1]], [[]], [[]], [[$1 ]])static void L_FN[[]]($2)]])

# M4_KERNEL(comment, head, body): a shared kernel: `head;` (its prototype)
# to the kernel prototypes, comment, head and body to the kernels.
m4_define([[M4_KERNEL]], [[M4_ARGS([[$0]], $#, 3)m4_define([[M4_KERNELS_USED]], 1)m4_divert(6)$2;
m4_divert(3)
$1
$2
$3[[]]m4_divert(1)]])

# M4_PRELUDE(text): text for the prelude (includes, macros).
m4_define([[M4_PRELUDE]], [[M4_ARGS([[$0]], $#, 1)m4_divert(4)$1[[]]m4_divert(1)]])

# M4_CALL(args): the call of this layer's function in run(), by the
# layer's thread plan.  run() is called by every thread of the team with
# its part (0 <= part < parts).  A layer shared out (L_SPLIT 1, chosen by
# cnnc: large enough to pay for the wait) gets the part too, does its share
# and is followed by CNNC_SYNC; a run of layers that are not is done by part
# 0 while the others wait at the CNNC_SYNC after the run (M4_RUN_END).
# The call in run_many() (one thread, nb images) goes to diversion 9: see
# M4_MANY_END below.
m4_define([[_M4_RUN_MODE]], [[none]])
m4_define([[M4_CALL]], [[M4_ARGS([[$0]], $#, 1)m4_divert(2)m4_ifelse(L_SPLIT, 1, [[m4_define([[M4_ANY_SHARED]], 1)M4_RUN_END[[]]    L_FN[[]]($1, part, parts);
    CNNC_SYNC(parts);
_M4_MARK([[    ]])m4_define([[_M4_RUN_MODE]], [[split]])]], [[m4_ifelse(_M4_RUN_MODE, [[one]], [[]], [[    if (part == 0) {
]])        L_FN[[]]($1);
_M4_MARK([[        ]])m4_define([[_M4_RUN_MODE]], [[one]])]])m4_divert(9)m4_ifelse(L_BATCH, 1, [[M4_MANY_END[[]]m4_ifdef([[L_MANY]],
[[    L_FN[[]]_many(nb, m4_pushdef([[M4_PTR]], m4_defn([[_M4_PTR_S]]))$1[[]]m4_popdef([[M4_PTR]]));
]], [[    for (int i = 0; i < nb; i++)
_M4_CALL_I([[$1]])]])]], [[m4_ifelse(_M4_MANY_MODE, [[image]], [[]], [[    for (int i = 0; i < nb; i++) {
m4_define([[_M4_MANY_MODE]], [[image]])]])_M4_CALL_I([[$1]])]])m4_ifdef([[L_MANY]], [[m4_undefine([[L_MANY]])]])m4_divert(1)]])
# run_many() goes image by image through a run of layers with L_BATCH 0
# (more activations than weights: each image's stay in cache from one
# layer to the next), and layer by layer through those with L_BATCH 1.
# M4_MANY_END closes a run of the first kind.
m4_define([[_M4_MANY_MODE]], [[layer]])
# _M4_CALL_I(args): the call for image i (one thread: part 0 of 1).
m4_define([[_M4_CALL_I]], [[        L_FN[[]](m4_pushdef([[M4_PTR]], m4_defn([[_M4_PTR_I]]))$1[[]]m4_popdef([[M4_PTR]])[[]]m4_ifelse(L_SPLIT, 1, [[, 0, 1]]));
]])
m4_define([[M4_MANY_END]], [[m4_ifelse(_M4_MANY_MODE, [[image]], [[    }
m4_define([[_M4_MANY_MODE]], [[layer]])]])]])
# M4_MANY: said by a layer macro with L_BATCH 1 that defines L_FN_many(nb, ...), the
# layer over nb images at once (each pointer argument of L_FN followed by
# the stride from one image's to the next); run_many() calls it instead of
# L_FN once per image.  L_MANY is forgotten after the layer's call.
m4_define([[M4_MANY]], [[M4_ARGS([[$0]], $#, 0)m4_define([[L_MANY]], 1)]])
# _M4_MARK(indent): in a build that --tune measures (NET_PROFILE 1), the
# time of the layer just done goes to cnnc_tune_mark(its node number).
m4_define([[_M4_MARK]], [[m4_ifelse(NET_PROFILE, 1, [[$1cnnc_tune_mark(L_NODE);
]])]])
m4_define([[M4_RUN_END]], [[m4_ifelse(_M4_RUN_MODE, [[one]], [[    }
    CNNC_SYNC(parts);
m4_define([[_M4_RUN_MODE]], [[none]])]])]])

# M4_PARTS: the parameters of a layer function shared out over threads.
# M4_SHARE(count, lo, hi): this part's range [lo, hi) of count jobs (all of
# them in a layer that is not shared out).
m4_define([[M4_PARTS]], [[M4_ARGS([[$0]], $#, 0)m4_ifelse(L_SPLIT, 1, [[, int part, int parts]])]])
m4_define([[M4_SHARE]], [[M4_ARGS([[$0]], $#, 3)m4_ifelse(L_SPLIT, 1,
  [[const int $2 = (int)((long long)($1) * part / parts), $3 = (int)((long long)($1) * (part + 1) / parts)]],
  [[const int $2 = 0, $3 = $1]])]])
# M4_SYNC(indent): inside a shared layer, wait for every part's share of
# the step before (nothing in a layer that is not shared out).
m4_define([[M4_SYNC]], [[M4_ARGS([[$0]], $#, 1)m4_ifelse(L_SPLIT, 1, [[$1CNNC_SYNC(parts);
]])]])
m4_divert(0)m4_dnl
