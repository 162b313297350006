#!/bin/sh
# tests/codegen/suite_batch.sh BUILD [NAME...] — batches and threads of the
# generated code against PyTorch.
#
# For each network: random weights from tests/ref/e2e.py and inputs of 1, 3
# and 17 images (the same weights; seeded; mobilenet_v2, the one with
# depthwise convs and the slowest, 1 and 3), then cnnc --weights
# --standalone (on x86-64 default mode writes the same layers: cnnc's GEMM,
# not OpenBLAS's; suite_codegen runs it on 2 threads), with
# CNNC_SHARE_MACS=0 so that every conv, dense and
# pool layer is shared out over the threads (cnnc's own plan shares only the
# large ones: this runs the shared code of every kind of layer the networks
# have: direct, im2col+GEMM, one-pixel, Winograd F(2,3) and F(4,3),
# depthwise, dense, pools).  Each build runs every batch on 1, 2 and 3
# threads (NAME_set_threads; 3 threads on 3 or 17 images leaves images over
# for the shared path, on 1 image shares every layer three ways) and is
# compared with PyTorch (max |c - ref| / max |ref| <= 1e-4); the driver
# also checks that each image of the batch has exactly the bits
# NAME_forward() gives it alone.  CNNC_BATCH_WEIGHTS=0 runs every conv
# whose weights outweigh an image's activations layer by layer over a
# batch (cnnc's own plan: only those over 256 KB, and the matrix-vector
# products), so that the batched code of the one-pixel, im2col and
# Winograd convs and the dense layers runs too.  resnet20 runs with
# CNNC_GEMM_BLOCK=32768: its im2col convs with over 32 KB of patches in
# blocks of pixels (cnnc's own plan: over 2 MB), fewer blocks than threads
# in one; lenet5 and mobilenet_v2 with CNNC_GEMM_ROWS=7: their im2col
# convs the other way round (NET_gemm_t7(); cnnc's own plan: where
# 32-pixel tiles would be far from full, as in mobilenet_v2's 7x7 and
# 14x14 layers), tiles of 6, 16 and 24 channels of 32, a last tile of 2
# pixels.  A thread takes its images NAME_CHUNK (8)
# at a time: 17 images on one thread are chunks of 8, 8 and 1, and lenet5
# runs again with chunks of 3 and of 1.  Last, cnnc's own plan (no override) on
# resnet18-sized layers is left to make test-large.
set -u
. "$(dirname "$0")/../lib.sh"
NAMES=${*:-"lenet5 convnetjs_cifar10 resnet20 mobilenet_v2"}

for name in $NAMES; do
    batches="1 3 17"
    [ "$name" = mobilenet_v2 ] && batches="1 3"
    for b in $batches; do
        d="$T/$name/b$b"
        mkdir -p "$d"
        if ! $PY tests/ref/e2e.py make "$name" "$d" "$b" 11 >"$d/make.log" 2>&1; then
            no "$name: the PyTorch reference failed"; cat "$d/make.log"; continue 2
        fi
    done
    for mode in standalone; do
        g="$T/$name/$mode"
        mkdir -p "$g"
        flag=""; libs=$BLAS
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        # shellcheck disable=SC2086
        knob=X=0
        [ "$name" = resnet20 ] && knob=CNNC_GEMM_BLOCK=32768
        { [ "$name" = lenet5 ] || [ "$name" = mobilenet_v2 ]; } && knob=CNNC_GEMM_ROWS=7
        if ! env CNNC_SHARE_MACS=0 CNNC_BATCH_WEIGHTS=0 "$knob" "$CNNC" "dsl_examples/$name.net" --weights "$T/$name/b1/w.safetensors" $flag \
                -o "$g/$name.c" 2>"$g/cnnc.log"; then
            no "$name ($mode): cnnc failed"; cat "$g/cnnc.log"; continue
        fi
        if ! grep -q "int part, int parts" "$g/$name.c"; then
            no "$name ($mode): CNNC_SHARE_MACS=0 shared no layer out"; continue
        fi
        if [ "$name" = resnet20 ] && ! grep -q "const int nblk" "$g/$name.c"; then
            no "$name ($mode): CNNC_GEMM_BLOCK=32768 put no conv in blocks of pixels"; continue
        fi
        if { [ "$name" = lenet5 ] || [ "$name" = mobilenet_v2 ]; } && ! grep -q "_gemm_t7(" "$g/$name.c"; then
            no "$name ($mode): no conv runs the other way round (NET_gemm_t7)"; continue
        fi
        if ! net_cc cc "-std=c99 -O2 -march=native -fopenmp -Wall -Wextra -Wpedantic -Werror $GEN_CFLAGS" \
                tests/codegen/driver.c "$g" "$name" "$g/run" "$libs -lm" 2>"$g/cc.log"; then
            no "$name ($mode): the generated C does not build cleanly"; head -20 "$g/cc.log"; continue
        fi
        for b in $batches; do
            for t in 1 2 3; do
                d="$T/$name/b$b"
                if ! DRIVER_THREADS=$t "$g/run" "$b" "$d/in.bin" "$d/out.bin" "$g/$name.weights" >"$g/run.log" 2>&1; then
                    no "$name ($mode, $b images, $t threads): the generated code failed"; cat "$g/run.log"; continue
                fi
                if out=$($PY tests/ref/e2e.py check "$name" "$d"); then
                    ok "$out  [$mode, $b images, $t threads]"
                else
                    no "$out  [$mode, $b images, $t threads]"
                fi
                rm -f "$d/out.bin"
            done
        done
    done
done

# Other chunk sizes (NAME_CHUNK, 8 by default): 17 images on one thread in
# chunks of 3 (the last of 2) and of 1 (every image alone), against PyTorch
# and, in the driver, against each image alone.
if [ -f "$T/lenet5/standalone/lenet5.c" ]; then
    for k in 3 1; do
        g="$T/lenet5/standalone"
        if ! net_cc cc "-std=c99 -O2 -march=native -fopenmp -Wall -Wextra -Wpedantic -Werror -DLENET5_CHUNK=$k $GEN_CFLAGS" \
                tests/codegen/driver.c "$g" lenet5 "$g/run$k" "-lm" 2>"$g/cc$k.log"; then
            no "lenet5: -DLENET5_CHUNK=$k does not build cleanly"; head -20 "$g/cc$k.log"; continue
        fi
        d="$T/lenet5/b17"
        if ! DRIVER_THREADS=1 "$g/run$k" 17 "$d/in.bin" "$d/out.bin" "$g/lenet5.weights" >"$g/run$k.log" 2>&1; then
            no "lenet5 (chunks of $k, 17 images): the generated code failed"; cat "$g/run$k.log"; continue
        fi
        if out=$($PY tests/ref/e2e.py check lenet5 "$d"); then
            ok "$out  [standalone, 17 images in chunks of $k]"
        else
            no "$out  [standalone, 17 images in chunks of $k]"
        fi
        rm -f "$d/out.bin"
    done
fi
finish
