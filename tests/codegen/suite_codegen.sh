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
B=${1:-build}
shift 2>/dev/null || true
cd "$(dirname "$0")/../.." || exit 1
NAMES=${*:-"lenet5 lenet_relu convnetjs_mnist convnetjs_cifar10 resnet20"}
PY=/usr/bin/python3
BATCH=${CODEGEN_BATCH:-3}
CNNC=$(cd "$B" && pwd)/cnnc
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

# builds: compiler, ISA baseline, cnnc mode, threads.  -march=native takes
# the AVX-512 kernels here, haswell the AVX2+FMA ones, x86-64 the plain C;
# omp builds with -fopenmp and runs on 2 threads.  Default mode links
# OpenBLAS (the exact line the generated header gives).
COMBOS="gcc:-march=x86-64:default:1 clang:-march=native:default:1 gcc:-march=native:standalone:1
        clang:-march=x86-64:standalone:1 gcc:-march=haswell:standalone:omp gcc:-march=native:default:omp"
BLAS=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)

for name in $NAMES; do
    d="$T/$name"
    mkdir -p "$d"
    if ! $PY tests/ref/e2e.py make "$name" "$d" "$BATCH" 7 >"$d/make.log" 2>&1; then
        echo "FAIL $name: the PyTorch reference failed"; cat "$d/make.log"; fail=$((fail + 1)); continue
    fi
    for combo in $COMBOS; do
        cc=${combo%%:*}; rest=${combo#*:}; march=${rest%%:*}; rest=${rest#*:}
        mode=${rest%%:*}; thr=${rest#*:}
        g="$d/$cc$march$mode$thr"
        mkdir -p "$g"
        flag=""
        libs=$BLAS
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        omp=""
        [ "$thr" = omp ] && omp=-fopenmp
        if ! "$CNNC" "dsl_examples/$name.net" --weights "$d/w.safetensors" $flag -o "$g/$name.c" 2>"$g/cnnc.log"; then
            echo "FAIL $name ($combo): cnnc failed"; cat "$g/cnnc.log"; fail=$((fail + 1)); continue
        fi
        side=""
        [ -f "$g/$name.weights" ] && side="-DSIDECAR"
        up=$(echo "$name" | tr '[:lower:]' '[:upper:]')
        if ! $cc -std=c99 -O2 $march $omp ${GEN_CFLAGS:-} -Wall -Wextra -Wpedantic -Werror -I"$g" \
                -DNET="$name" -DNETU="$up" -DNET_H="\"$name.h\"" $side \
                tests/codegen/driver.c "$g/$name.c" -o "$g/run" $libs -lm 2>"$g/cc.log"; then
            echo "FAIL $name ($combo): the generated C does not build cleanly"; head -20 "$g/cc.log"
            fail=$((fail + 1)); continue
        fi
        if ! OMP_NUM_THREADS=2 "$g/run" "$BATCH" "$d/in.bin" "$d/out.bin" "$g/$name.weights" 2>"$g/run.log"; then
            echo "FAIL $name ($combo): the generated code failed"; cat "$g/run.log"; fail=$((fail + 1)); continue
        fi
        if out=$($PY tests/ref/e2e.py check "$name" "$d"); then
            echo "ok   $out  [$combo]"; pass=$((pass + 1))
        else
            echo "FAIL $out  [$combo]"; fail=$((fail + 1))
        fi
        rm -f "$d/out.bin"
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
