#!/bin/sh
# tests/codegen/suite_nan.sh BUILD [NAME...] — NaN and Inf through generated
# inference code, against PyTorch.
#
# For each network: `cnnc NET.net --emit pytorch` gives the PyTorch model;
# tests/ref/nan_e2e.py draws its weights (batchnorm statistics too), saves
# them as safetensors and runs a batch of four images through it: one NaN
# pixel, one +Inf pixel, one -Inf pixel, and a clean image last.  Then
# `cnnc --weights` -> C, built in several modes (below), run on the same
# batch by tests/codegen/driver.c, and nan_e2e.py checks that every output is
# NaN, +Inf or -Inf exactly where PyTorch's is, and the finite ones within
# 1e-4.  Networks (NAME... picks some):
#   lenet_relu  relu fused into GEMM stores and a dense layer, max pooling
#   nanmix      tests/codegen/nan/: batchnorm, residual, leaky relu, padded max
#               pooling, softmax, and a spatial output: where the NaNs
#               land is compared, not only that they arrive
#   nangmp      tests/codegen/nan/: a global max pool after nothing that drops NaN
#   nanpool     tests/codegen/nan/: max pools alone, their windows whole or clipped
#   nanwino     tests/codegen/nan/: relu in both Winograd output transforms
#   resnet20    batchnorm, residual adds, Winograd (logits all NaN)
# Then training (cnnrt): tests/ref/nan_train.py runs a batch with a NaN,
# then a +Inf pixel through BUILD/tests/runtime/gradcheck's loss and gradients and
# one training step, for lenet_relu (relu in place and after a max pool)
# and resnet20 (relu fused into batch norm, and after residual adds): the
# loss is NaN, the logits, gradients and running statistics are NaN where
# PyTorch's are, and the step is refused (cnnc-train: "training diverged").
set -u
B=${1:-build}
shift 2>/dev/null || true
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3
CNNC=$(cd "$B" && pwd)/cnnc
T=$(mktemp -d "${TMPDIR:-/tmp}/suite_nan.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
start=$(date +%s)
pass=0
fail=0

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "error: $PY cannot import torch"; exit 1
fi

# builds: compiler, ISA baseline, cnnc mode.  default links OpenBLAS;
# standalone at -march=x86-64 runs the plain C GEMM, at haswell its AVX2
# path, at native the AVX-512 one (this machine has AVX-512).  SHORT for
# the networks whose ReLUs are not in the GEMM's store.
FULL="gcc:-march=x86-64:default gcc:-march=x86-64:standalone gcc:-march=native:standalone
      clang:-march=haswell:standalone"
SHORT="gcc:-march=native:default clang:-march=x86-64:standalone"
BLAS=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)

WANT=${*:-"lenet_relu nanmix nangmp nanpool nanwino resnet20"}
for spec in dsl_examples/lenet_relu.net:FULL tests/codegen/nan/nanmix.net:FULL tests/codegen/nan/nangmp.net:SHORT \
            tests/codegen/nan/nanpool.net:SHORT tests/codegen/nan/nanwino.net:SHORT dsl_examples/resnet20.net:SHORT; do
    net=${spec%%:*}
    name=$(basename "$net" .net)
    case " $WANT " in *" $name "*) ;; *) continue ;; esac
    eval "combos=\$${spec##*:}"
    d="$T/$name"
    mkdir -p "$d"
    if ! "$CNNC" "$net" --emit pytorch -o "$d/model.py" 2>"$d/py.log" ||
       ! $PY tests/ref/nan_e2e.py make "$d/model.py" "$d" 11 >"$d/make.log" 2>&1; then
        echo "FAIL $name: the PyTorch reference failed"; cat "$d/py.log" "$d/make.log"; fail=$((fail + 1)); continue
    fi
    for combo in $combos; do
        cc=${combo%%:*}; rest=${combo#*:}; march=${rest%%:*}; mode=${rest#*:}
        g="$d/$cc$march$mode"
        mkdir -p "$g"
        flag=""
        libs=$BLAS
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        if ! "$CNNC" "$net" --weights "$d/w.safetensors" $flag -o "$g/$name.c" 2>"$g/cnnc.log"; then
            echo "FAIL $name ($combo): cnnc failed"; cat "$g/cnnc.log"; fail=$((fail + 1)); continue
        fi
        side=""
        [ -f "$g/$name.weights" ] && side="-DSIDECAR"
        up=$(echo "$name" | tr '[:lower:]' '[:upper:]')
        if ! $cc -std=c99 -O2 $march -Wall -Wextra -Wpedantic -Werror -I"$g" -DNET="$name" -DNETU="$up" \
                -DNET_H="\"$name.h\"" $side tests/codegen/driver.c "$g/$name.c" -o "$g/run" $libs -lm 2>"$g/cc.log"; then
            echo "FAIL $name ($combo): the generated C does not build cleanly"; head -20 "$g/cc.log"
            fail=$((fail + 1)); continue
        fi
        if ! "$g/run" 4 "$d/in.bin" "$d/out.bin" "$g/$name.weights" 2>"$g/run.log"; then
            echo "FAIL $name ($combo): the generated code failed"; cat "$g/run.log"; fail=$((fail + 1)); continue
        fi
        if out=$($PY tests/ref/nan_e2e.py check "$d"); then
            echo "ok   $name [$combo] $out"; pass=$((pass + 1))
        else
            echo "FAIL $name [$combo]"; echo "$out"; fail=$((fail + 1))
        fi
        rm -f "$d/out.bin"
    done
done
for name in lenet_relu resnet20; do
    case " $WANT " in *" $name "*) ;; *) continue ;; esac
    $PY tests/ref/nan_train.py "dsl_examples/$name.net" "$CNNC" "$B/tests/runtime/gradcheck" "$T/train_$name" \
        >"$T/train_$name.out" 2>&1
    rc=$?
    cat "$T/train_$name.out"
    n_ok=$(grep -c '^ok ' "$T/train_$name.out")
    n_fail=$(grep -c '^FAIL' "$T/train_$name.out")
    [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ] && n_fail=1       # a crash without a FAIL line
    pass=$((pass + n_ok)); fail=$((fail + n_fail))
done
echo "$(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
