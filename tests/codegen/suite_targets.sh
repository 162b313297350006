#!/bin/sh
# tests/codegen/suite_targets.sh BUILD — cnnc --target, without running the
# code on the target (tests/embedded/suite_embedded.sh does that under QEMU):
#   - --target takes x86-64, aarch64, cortex-m or generic; anything else is
#     a usage error that writes nothing; --help and --help-targets list them;
#   - each target's .c says what it was made for (header and #error): built
#     for another architecture it stops at one #error naming the target, and
#     -DCNNC_NO_TARGET_CHECK builds it anyway; its kernels are the target's
#     own (AVX intrinsics only for x86-64, NEON only for aarch64, none for
#     cortex-m and generic);
#   - --report names each conv's algorithm and why, the one the code runs;
#   - cortex-m: no conv scratch and the arena within 1.25 x the activation
#     peak + 4 KiB (the issue's bound) on every example, equal to the most
#     live at one step on the small ones; the report explains the arena;
#   - the arena macros: NAME_ARENA_SECTION puts the static arena in that
#     section, NAME_NO_STATIC_ARENA leaves it and NAME_forward() out.
set -u
. "$(dirname "$0")/../lib.sh"
NET=dsl_examples/convnetjs_mnist.net

# --- the option ------------------------------------------------------------------
"$CNNC" --target pdp11 "$NET" -o "$T/bad.c" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "^cnnc: error: --target takes x86-64, aarch64, cortex-m or generic, not 'pdp11'" "$T/err" &&
   [ ! -e "$T/bad.c" ] && [ ! -e "$T/bad.h" ] && [ ! -s "$T/out" ]; then
    ok "--target pdp11: usage error naming the targets, exit 2, nothing written"
else no "--target pdp11: exit $rc"; cat "$T/err"; fi
"$CNNC" --help >"$T/help"
"$CNNC" --help-targets >"$T/targets"
for t in x86-64 aarch64 cortex-m generic; do
    if grep -q -- "$t" "$T/help" && grep -q "^  $t " "$T/targets"; then ok "--help and --help-targets list $t"
    else no "--help or --help-targets lacks $t"; fi
done
if [ "$(grep -c 'default here' "$T/targets")" -eq 1 ]; then ok "--help-targets marks one default"
else no "--help-targets: $(grep -c 'default here' "$T/targets") defaults"; fi

# --- what each target's code is made of ------------------------------------------
# target:expected #include of intrinsics (none: -)
for spec in x86-64:immintrin.h aarch64:arm_neon.h cortex-m:- generic:-; do
    t=${spec%%:*}; inc=${spec#*:}
    d="$T/$t"; mkdir -p "$d"
    if ! "$CNNC" --target "$t" dsl_examples/resnet20.net --standalone -o "$d/resnet20.c" 2>"$d/err"; then
        no "$t: cnnc failed"; cat "$d/err"; continue
    fi
    c="$d/resnet20.c"
    if grep -q "^ \* Target: $t (cnnc --target $t)" "$d/resnet20.h"; then ok "$t: the header names the target"
    else no "$t: the header does not name the target"; fi
    others=$(grep -c -e '#include <immintrin.h>' -e '#include <arm_neon.h>' "$c")
    if [ "$inc" = - ]; then
        [ "$others" -eq 0 ] && ok "$t: no intrinsics" || no "$t: $others intrinsics headers"
    else
        [ "$others" -eq 1 ] && grep -q "#include <$inc>" "$c" && ok "$t: $inc only" || no "$t: intrinsics headers wrong"
    fi
    # built for this machine (x86-64): the right ones build, the others stop at one #error
    cc -std=c99 -O0 -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror -c "$c" -o "$d/o.o" 2>"$d/cc"; rc=$?
    case $t in
    x86-64|generic)
        [ $rc -eq 0 ] && ok "$t: builds here" || { no "$t: does not build here"; head -5 "$d/cc"; } ;;
    *)
        n=$(grep -c 'error:' "$d/cc")
        if [ $rc -ne 0 ] && [ "$n" -eq 1 ] && grep -q "error: #error \"resnet20.c was generated for $t (cnnc --target $t)" "$d/cc"; then
            ok "$t: built for x86-64 it stops at one #error naming $t"
        else no "$t: built for x86-64: exit $rc, $n errors"; head -5 "$d/cc"; fi
        if cc -std=c99 -O0 -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror -DCNNC_NO_TARGET_CHECK -c "$c" -o "$d/o.o" 2>"$d/cc2"; then
            ok "$t: -DCNNC_NO_TARGET_CHECK builds it here"
        else no "$t: -DCNNC_NO_TARGET_CHECK"; head -5 "$d/cc2"; fi ;;
    esac
done
if grep -q 'float \*const scratch_' "$T/cortex-m/resnet20.c"; then no "cortex-m: resnet20 has conv scratch"
else ok "cortex-m: resnet20 has no conv scratch"; fi
if grep -q 'float \*const scratch_' "$T/generic/resnet20.c"; then ok "generic: resnet20 keeps its conv scratch (im2col, Winograd)"
else no "generic: no scratch (the mutation check above would mean nothing)"; fi

# --- the cortex-m arena ----------------------------------------------------------
for f in dsl_examples/*.net; do
    n=$(basename "$f" .net)
    if ! "$CNNC" --target cortex-m "$f" --report=json >"$T/$n.json" 2>"$T/$n.err"; then
        no "$n: cortex-m report failed"; cat "$T/$n.err"; continue
    fi
    small=0
    case $n in lenet5|convnetjs_mnist|convnetjs_cifar10|resnet20) small=1 ;; esac
    if out=$($PY - "$T/$n.json" "$small" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
peak, arena, live = t["activation_bytes_peak"], t["arena_bytes"], t["arena_live_bytes"]
msg = "arena %d B, activation peak %d B (%.3fx), most live at one step %d B (at %s), scratch %d B" % (
    arena, peak, arena / peak, live, t["arena_live_step"], t["arena_scratch_bytes"])
good = t["target"] == "cortex-m" and t["arena_scratch_bytes"] == 0 and arena <= 1.25 * peak + 4096
if sys.argv[2] == "1":
    good = good and arena == live
print(msg)
sys.exit(0 if good else 1)
EOF
    ); then ok "cortex-m $n: $out"; else no "cortex-m $n: $out"; fi
done
"$CNNC" --target cortex-m "$NET" --report >"$T/report.txt"
if grep -q '^    = live at its peak step  23,040  (at pool1: buffers 23,040 + conv scratch 0)' "$T/report.txt" &&
   grep -q '^    + placement gaps         0$' "$T/report.txt" &&
   grep -q '^  target                     cortex-m (kernels without scratch; arena slots aligned to 8 bytes)' "$T/report.txt"; then
    ok "cortex-m --report explains the arena (convnetjs_mnist: 23,040 = the live peak, no gaps)"
else no "cortex-m --report"; tail -6 "$T/report.txt"; fi
"$CNNC" --target x86-64 "$NET" --report >"$T/report86.txt"
if grep -q '^    = live at its peak step  141,824  (at conv2: buffers 13,824 + conv scratch 128,000)' "$T/report86.txt"; then
    ok "x86-64 --report: the arena is mostly conv2's im2col scratch"
else no "x86-64 --report"; tail -6 "$T/report86.txt"; fi

# --- --report names each conv's algorithm: the one the generated code runs --------
# (read off each layer function: Winograd calls NAME_wino_in(m, ...), a GEMM
# NAME_gemm (or NAME_gemm_t7, _t8: the other way round) or the BLAS or (one output pixel) is a matrix-vector product, a depthwise conv keeps its rows in xb[], the rest
# are direct loops)
for spec in x86-64:resnet20 x86-64:mobilenet_v2 x86-64:lenet5 cortex-m:resnet20 generic:googlenet; do
    t=${spec%%:*}; n=${spec#*:}; d="$T/alg-$t-$n"; mkdir -p "$d"
    if ! "$CNNC" --target "$t" "dsl_examples/$n.net" --report=json >"$d/r.json" 2>"$d/err" ||
       ! "$CNNC" --target "$t" "dsl_examples/$n.net" --embed-limit 0 -o "$d/$n.c" 2>>"$d/err"; then
        no "$t $n: cnnc failed"; cat "$d/err"; continue
    fi
    if out=$($PY - "$d/r.json" "$d/$n.c" <<'EOF2'
import collections, json, re, sys
rep = json.load(open(sys.argv[1]))
src = open(sys.argv[2]).read()
def ident(name):
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
def algo(body):
    m = re.search(r"_wino_in\((\d),", body)
    if m: return "winograd F(%sx%s,3x3)" % (m.group(1), m.group(1))
    if re.search(r"_gemm(_t[78])?\(|cblas_sgem|matrix-vector product", body): return "im2col+gemm"
    if "float xb[" in body: return "depthwise"
    return "direct"
bad, count = [], collections.Counter()
for l in rep["layers"]:
    if l["kind"] != "conv": continue
    m = re.search(r"static void layer_%s\([^;{]*\)\n\{.*?\n\}\n" % ident(l["name"]), src, re.S)
    got = algo(m.group(0)) if m else "no function"
    count[l["algorithm"]] += 1
    if got != l["algorithm"] or not l.get("algorithm_why"):
        bad.append("%s: report %s, code %s" % (l["name"], l["algorithm"], got))
print("; ".join(bad[:3]) if bad else ", ".join("%d %s" % (v, k) for k, v in sorted(count.items())))
sys.exit(1 if bad else 0)
EOF2
    ); then ok "$t $n: --report's conv algorithms are the code's ($out)"
    else no "$t $n: --report's conv algorithms: $out"; fi
done

# --- the arena macros --------------------------------------------------------------
d="$T/macros"; mkdir -p "$d"
"$CNNC" --target x86-64 "$NET" -o "$d/m.c" --standalone 2>"$d/err" || { no "cnnc for the macros"; cat "$d/err"; }
if cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror "-DCONVNETJS_MNIST_ARENA_SECTION=\".sram2\"" -c "$d/m.c" -o "$d/sec.o" 2>"$d/cc" &&
   objdump -t "$d/sec.o" | grep -q '^[0-9a-f]* l     O \.sram2	[0-9a-f]* convnetjs_mnist_arena$'; then
    ok "CONVNETJS_MNIST_ARENA_SECTION puts the arena in .sram2"
else no "the arena section macro"; cat "$d/cc"; objdump -t "$d/sec.o" | grep arena; fi
if cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -c "$d/m.c" -o "$d/plain.o" &&
   objdump -t "$d/plain.o" | grep -q '\.bss	[0-9a-f]* convnetjs_mnist_arena$'; then
    ok "without the macro the arena is in .bss"
else no "the arena is not in .bss without the macro"; fi
# the arena and the weights start on the target's 64 bytes: the offset of
# each in its section, and the section's own alignment in the object
aligned64() {   # aligned64 OBJECT SYMBOL: prints "ok" or what is wrong
    objdump -t "$1" | awk -v s="$2" '$NF == s { print $(NF - 2), $1 }' | while read -r sec off; do
        al=$(readelf -SW "$1" | awk -v s="$sec" '{ sub(/^ *\[ *[0-9]+\] */, "") } $1 == s { print $NF }')
        if [ $((0x$off % 64)) -eq 0 ] && [ "${al:-0}" -ge 64 ] && [ $((al % 64)) -eq 0 ]; then echo ok
        else echo "$2 at offset 0x$off of $sec, which is aligned to ${al:-?}"; fi
    done
}
a=$(aligned64 "$d/plain.o" convnetjs_mnist_arena); w=$(aligned64 "$d/plain.o" convnetjs_mnist_weights)
if [ "$a" = ok ] && [ "$w" = ok ]; then ok "the static arena and the weights are aligned to 64 bytes"
else no "alignment: arena: ${a:-not found}; weights: ${w:-not found}"; fi
cat >"$d/user.c" <<'EOF'
#include "m.h"
static float ws[CONVNETJS_MNIST_WS_BYTES(1) / sizeof(float)];
int run(const float *in, float *out) { return convnetjs_mnist_forward_ctx(ws, sizeof ws, 1, in, out); }
EOF
if cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -DCONVNETJS_MNIST_NO_STATIC_ARENA -c "$d/m.c" -o "$d/none.o" 2>"$d/cc" &&
   cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -DCONVNETJS_MNIST_NO_STATIC_ARENA -I"$d" -c "$d/user.c" -o "$d/user.o" 2>>"$d/cc" &&
   ! nm "$d/none.o" | grep -q -e convnetjs_mnist_arena -e 'T convnetjs_mnist_forward$' &&
   nm "$d/none.o" | grep -q 'T convnetjs_mnist_forward_ctx$' && [ "$(size "$d/none.o" | awk 'NR == 2 { print $3 }')" -eq 0 ]; then
    ok "CONVNETJS_MNIST_NO_STATIC_ARENA: no arena, no forward(), .bss empty; forward_ctx with the caller's memory builds"
else no "the no-static-arena macro"; cat "$d/cc"; nm "$d/none.o" | grep -e arena -e forward; fi
finish
