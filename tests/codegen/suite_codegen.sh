#!/bin/sh
# tests/codegen/suite_codegen.sh BUILD [NAME...] — generated inference C against PyTorch.
#
# For each network (default: the small examples; `make test-large` passes the
# torchvision ones): random weights and input from tests/ref/e2e.py, then
# `cnnc --weights` -> C, built with several compilers, ISA baselines and
# modes, run by tests/codegen/driver.c, and compared with PyTorch's output
# (max |c - ref| / max |ref| <= 1e-4).  Every generated file must also build
# warning-free at -std=c99 -Wall -Wextra -Wpedantic -Werror.
# GEN_CFLAGS (make test-sanitize): extra flags for every C compile here.
set -u
. "$(dirname "$0")/../lib.sh"
NAMES=${*:-"lenet5 lenet_relu convnetjs_mnist convnetjs_cifar10 resnet20"}
BATCH=${CODEGEN_BATCH:-3}

# builds: compiler, ISA baseline, cnnc mode, threads.  -march=native takes
# the AVX-512 kernels here, haswell the AVX2+FMA ones, x86-64 the plain C;
# omp builds with -fopenmp and runs on 2 threads.  Default mode links
# OpenBLAS (the exact line the generated header gives).  generic and
# cortex-m are --target (no intrinsics; direct convs without scratch),
# built here with -DCNNC_NO_TARGET_CHECK; every build has -Wdouble-promotion.
COMBOS="gcc:-march=x86-64:default:1 clang:-march=native:default:1 gcc:-march=native:standalone:1
        clang:-march=x86-64:standalone:1 gcc:-march=haswell:standalone:omp gcc:-march=native:default:omp
        gcc:-march=native:generic:1 clang:-march=x86-64:cortex-m:1"

for name in $NAMES; do
    d="$T/$name"
    mkdir -p "$d"
    if ! $PY tests/ref/e2e.py make "$name" "$d" "$BATCH" 7 >"$d/make.log" 2>&1; then
        no "$name: the PyTorch reference failed"; cat "$d/make.log"; continue
    fi
    for combo in $COMBOS; do
        cc=${combo%%:*}; rest=${combo#*:}; march=${rest%%:*}; rest=${rest#*:}
        mode=${rest%%:*}; thr=${rest#*:}
        flag=""
        libs=$BLAS
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        [ "$mode" = generic ] && flag="--target generic"
        [ "$mode" = cortex-m ] && { flag="--target cortex-m"; libs=""; }
        omp="-Wdouble-promotion"
        case $mode in generic|cortex-m) omp="$omp -DCNNC_NO_TARGET_CHECK" ;; esac
        [ "$thr" = omp ] && omp="$omp -fopenmp"
        gen_run "dsl_examples/$name.net" "$d" "$d/$cc$march$mode$thr" "$combo" "$cc" "$march $omp $GEN_CFLAGS" "$libs" \
            "$flag" "$BATCH" || continue
        if out=$($PY tests/ref/e2e.py check "$name" "$d"); then
            ok "$out  [$combo]"
        else
            no "$out  [$combo]"
        fi
        rm -f "$d/out.bin"
    done
done
# A template that reads a field its layer does not set must fail, not read
# the previous layer's value: templates whose layer head also prints L_EPS
# (set by groupnorm, not by the conv after it).
cp -r compiler/templates "$T/tpl"
sed -i 's|^m4_define(\[\[M4_LAYER_HEAD\]\], \[\[M4_ARGS(\[\[$0\]\], $#, 0)|&/* eps L_EPS */|' "$T/tpl/cnnc.m4"
printf 'network stale input 4x8x8\ngroupnorm 2\nconv 4 k3\n' > "$T/stale.net"
if ! grep -q 'eps L_EPS' "$T/tpl/cnnc.m4"; then
    no "the stale-field check could not edit cnnc.m4"
elif CNNC_TEMPLATE_DIR="$T/tpl" "$CNNC" "$T/stale.net" -o "$T/stale.c" 2>"$T/stale.err"; then
    no "a template read the previous layer's L_EPS and cnnc wrote $T/stale.c"
elif grep -q 'L_EPS read outside its layer' "$T/stale.err" && [ ! -e "$T/stale.c" ]; then
    ok "a template reading another layer's field stops cnnc"
else
    no "stale field: unexpected error"; cat "$T/stale.err"
fi
finish
