#!/bin/sh
# tests/e2e/suite_handnets.sh BUILD [NAME...] — networks written twice, in
# the .net language and by hand in PyTorch (tests/ref/handnets.py: acts,
# every activation as a layer and fused; prelu, learned slopes; shuffle,
# ShuffleNet v2 units with channel split and shuffle; se,
# squeeze-and-excitation; merges, the
# elementwise merges; unet, a small
# U-Net with bilinear and nearest upsampling; unet_small,
# dsl_examples/unet_small.net; sig and vol, the layers of a signal and of a
# volume; dw and dwsig, depthwise convs of an image and a signal; ecg1d and
# volume3d, dsl_examples/ecg1d.net and volume3d.net), on a
# random dataset of the input's size in IDX format (fixed seed; a volume's
# slices one under another).  For each:
#   1. cnnc-train writes its initial weights (--epochs 0), then trains 3
#      steps of SGD on the whole training set; losses, parameters and what
#      the steps changed agree with PyTorch in float64 (train-check);
#   2. the generated inference code (cnnc --weights run.st: trained, batch
#      norms with running statistics), built
#      warning-free at -std=c99 -Wdouble-promotion, default and --standalone,
#      default with OpenMP on 2 threads, and --target cortex-m (its direct
#      convs read the input in place; built here with -DCNNC_NO_TARGET_CHECK),
#      agrees with PyTorch on 3 random images
#      (infer-check); every depthwise conv of dw and dwsig runs as such
#      (M4_CONV_DW: its padded rows xb[]), not as a grouped conv;
#   3. cnnc --emit pytorch loads run.st and computes what the hand-written
#      network does (export-check);
#   4. cnnc --train writes the description cnnc-train builds, and its code
#      trains 5 steps bit-identically (tests/e2e/train_gen.c).
set -u
. "$(dirname "$0")/../lib.sh"
need_torch numpy
NAMES=${*:-"acts prelu shuffle se merges unet unet_small sig vol dw dwsig ecg1d volume3d"}
DW_LAYERS="dw:7 dwsig:5"     # NAME:COUNT, the depthwise convs of NAME

report() {    # report WHAT CHECK-OUTPUT-FILE STATUS
    if [ "$3" -eq 0 ]; then ok "$1"; else no "$1"; fi
    sed 's/^/       /' "$2"
}

for name in $NAMES; do
    D="$T/$name"
    mkdir -p "$D"
    "$PY" tests/ref/handnets.py gen "$name" "$D" || { no "$name: handnets.py gen"; continue; }
    NET="$D/$name.net"

    # 1. training
    RUN="$TRAIN $NET --data $D/data $(cat "$D/train_args") --seed 5 --quiet"
    if $RUN --epochs 0 --save "$D/init.st" 2>"$D/e0" && $RUN --epochs 3 --save "$D/run.st" 2>"$D/e1"; then
        "$PY" tests/ref/handnets.py train-check "$name" "$D" >"$D/train.check" 2>&1
        report "$name: cnnc-train, 3 steps against PyTorch:" "$D/train.check" $?
    else
        no "$name: cnnc-train"; cat "$D/e0" "$D/e1" 2>/dev/null
        continue
    fi

    # 2. the generated code: default, --standalone, default with OpenMP, cortex-m
    if "$PY" tests/ref/handnets.py infer "$name" "$D" 2>"$D/i.err"; then
        for mode in default standalone omp cortex-m; do
            g="$D/$mode"; mkdir -p "$g"
            flag=""; libs="$BLAS"; omp="-Wdouble-promotion"
            [ $mode = standalone ] && { flag=--standalone; libs=""; }
            [ $mode = omp ] && omp="$omp -fopenmp"
            [ $mode = cortex-m ] && { flag="--target cortex-m"; libs=""; omp="$omp -DCNNC_NO_TARGET_CHECK"; }
            # shellcheck disable=SC2086
            if "$CNNC" "$NET" --weights "$D/run.st" $flag -o "$g/$name.c" 2>"$g/err" &&
               net_cc "$GEN_CC" "-std=c99 -O2 $omp $GEN_CFLAGS -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c \
                   "$g" "$name" "$g/run" "$libs -lm" 2>>"$g/err" &&
               OMP_NUM_THREADS=2 "$g/run" 3 "$D/in.bin" "$D/out.bin" 2>>"$g/err"; then
                "$PY" tests/ref/handnets.py infer-check "$name" "$D" >"$g/check" 2>&1
                report "$name: cnnc -o ($mode):" "$g/check" $?
            else
                no "$name: cnnc -o ($mode)"; head -n 20 "$g/err"
            fi
            rm -f "$D/out.bin"
        done
        for e in $DW_LAYERS; do
            [ "${e%%:*}" = "$name" ] || continue
            have=$(grep -c 'float xb\[' "$D/default/$name.c")
            if [ "$have" -eq "${e#*:}" ]; then ok "$name: its ${e#*:} depthwise convs run as M4_CONV_DW"
            else no "$name: $have of its ${e#*:} depthwise convs run as M4_CONV_DW"; fi
        done
    else
        no "$name: no reference for the generated code"; cat "$D/i.err"
    fi

    # 3. --emit pytorch
    if "$CNNC" "$NET" --emit pytorch -o "$D/export.py" 2>"$D/x.err"; then
        "$PY" tests/ref/handnets.py export-check "$name" "$D" >"$D/export.check" 2>&1
        report "$name: cnnc --emit pytorch:" "$D/export.check" $?
    else
        no "$name: cnnc --emit pytorch"; cat "$D/x.err"
    fi

    # 4. cnnc --train
    mkdir -p "$D/tg"
    if "$CNNC" "$NET" --train -o "$D/tg/${name}_train.c" 2>"$D/tg/cc.err" &&
       $GEN_CC -std=c99 -O2 $GEN_CFLAGS -Wall -Wextra -Wpedantic -Werror -Iruntime -c "$D/tg/${name}_train.c" \
           -o "$D/tg/t.o" 2>>"$D/tg/cc.err" &&
       $GEN_CC -std=c11 -O2 $GEN_CFLAGS -D_XOPEN_SOURCE=700 -DNET="$name" -Icompiler -Iruntime -I"$B/compiler" \
           -I"$D/tg" tests/e2e/train_gen.c "$D/tg/t.o" $(ls "$B"/compiler/*.o | grep -v /main.o) -o "$D/tg/check" \
           $RT 2>>"$D/tg/cc.err"; then
        if out=$("$D/tg/check" "$NET"); then ok "$name: $out"; else no "$name: $out"; fi
    else
        no "$name: cnnc --train"; head -n 20 "$D/tg/cc.err"
    fi
done

finish
