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
. "$(dirname "$0")/../lib.sh"
need_torch

# builds: compiler, ISA baseline, cnnc mode.  default links OpenBLAS;
# standalone at -march=x86-64 runs the plain C GEMM, at haswell its AVX2
# path, at native the AVX-512 one (this machine has AVX-512).  SHORT for
# the networks whose ReLUs are not in the GEMM's store.
FULL="gcc:-march=x86-64:default gcc:-march=x86-64:standalone gcc:-march=native:standalone
      clang:-march=haswell:standalone"
SHORT="gcc:-march=native:default clang:-march=x86-64:standalone"
# MIX: FULL, and with CNNC_GEMM_ROWS=8 (mode standalone-rows8): nanmix's
# im2col convs the other way round (NET_gemm_t8(): 24 and 16 channels of
# 32, its AVX-512, AVX2 and plain C tiles)
MIX="$FULL gcc:-march=native:standalone-rows8 clang:-march=haswell:standalone-rows8
     gcc:-march=x86-64:standalone-rows8"

WANT=${*:-"lenet_relu nanmix nangmp nanpool nanwino resnet20"}
for spec in dsl_examples/lenet_relu.net:FULL tests/codegen/nan/nanmix.net:MIX tests/codegen/nan/nangmp.net:SHORT \
            tests/codegen/nan/nanpool.net:SHORT tests/codegen/nan/nanwino.net:SHORT dsl_examples/resnet20.net:SHORT; do
    net=${spec%%:*}
    name=$(basename "$net" .net)
    case " $WANT " in *" $name "*) ;; *) continue ;; esac
    eval "combos=\$${spec##*:}"
    d="$T/$name"
    mkdir -p "$d"
    if ! "$CNNC" "$net" --emit pytorch -o "$d/model.py" 2>"$d/py.log" ||
       ! $PY tests/ref/nan_e2e.py make "$d/model.py" "$d" 11 >"$d/make.log" 2>&1; then
        no "$name: the PyTorch reference failed"; cat "$d/py.log" "$d/make.log"; continue
    fi
    for combo in $combos; do
        cc=${combo%%:*}; rest=${combo#*:}; march=${rest%%:*}; mode=${rest#*:}
        flag=""
        libs=$BLAS
        rows=""
        [ "$mode" = standalone-rows8 ] && { mode=standalone; rows=8; }
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        if [ -n "$rows" ]; then export CNNC_GEMM_ROWS=$rows; else unset CNNC_GEMM_ROWS; fi
        gen_run "$net" "$d" "$d/$cc$march$mode$rows" "$combo" "$cc" "$march" "$libs" "$flag" 4 || continue
        unset CNNC_GEMM_ROWS
        if [ -n "$rows" ] && ! grep -q "_gemm_t8(" "$d/$cc$march$mode$rows/$name.c"; then
            no "$name [$combo]: no conv runs the other way round (NET_gemm_t8)"; continue
        fi
        if out=$($PY tests/ref/nan_e2e.py check "$d"); then
            ok "$name [$combo] $out"
        else
            no "$name [$combo]"; echo "$out"
        fi
        rm -f "$d/out.bin"
    done
done
for name in lenet_relu resnet20; do
    case " $WANT " in *" $name "*) ;; *) continue ;; esac
    $PY tests/ref/nan_train.py "dsl_examples/$name.net" "$CNNC" "$B/tests/runtime/gradcheck" "$T/train_$name" \
        >"$T/train_$name.out" 2>&1
    tally "$T/train_$name.out" $?
done
finish
