#!/bin/sh
# tests/e2e/suite_acts.sh BUILD — every activation of runtime/cnnrt_acts.def
# end to end, on tests/ref/acts_ref.py's network (each as a layer, some with
# parameters away from their defaults, and fused on conv and dense lines)
# and a random 8×8 dataset in IDX format (fixed seed):
#   1. cnnc-train writes its initial weights (--epochs 0), then trains 3
#      steps of SGD on the whole training set; losses, parameters and what
#      the steps changed agree with PyTorch in float64 (acts_ref.py
#      train-check);
#   2. the generated inference code (cnnc --weights init.st), built
#      warning-free at -std=c99, default and --standalone, agrees with
#      PyTorch on 3 random images (infer-check);
#   3. cnnc --emit pytorch loads init.st and computes what the hand-written
#      PyTorch network does (export-check);
#   4. cnnc --train writes the description cnnc-train builds (the split
#      activations included), and its code trains 5 steps bit-identically
#      (tests/e2e/train_gen.c).
set -u
. "$(dirname "$0")/../lib.sh"
need_torch numpy
"$PY" tests/ref/acts_ref.py gen "$T" || { echo "FAIL acts_ref.py gen"; exit 1; }

report() {    # report WHAT CHECK-OUTPUT-FILE STATUS
    if [ "$3" -eq 0 ]; then ok "$1"; else no "$1"; fi
    sed 's/^/       /' "$2"
}

# 1. training
RUN="$TRAIN $T/acts.net --data $T/data $(cat "$T/train_args") --seed 5 --quiet"
if $RUN --epochs 0 --save "$T/init.st" 2>"$T/e0" && $RUN --epochs 3 --save "$T/run.st" 2>"$T/e1"; then
    "$PY" tests/ref/acts_ref.py train-check "$T" >"$T/train.check" 2>&1
    report "cnnc-train: 3 steps against PyTorch:" "$T/train.check" $?
else
    no "cnnc-train on every activation"; cat "$T/e0" "$T/e1" 2>/dev/null
fi

# 2. the generated code, both modes
if [ -f "$T/init.st" ] && "$PY" tests/ref/acts_ref.py infer "$T" 2>"$T/i.err"; then
    for mode in default standalone; do
        g="$T/$mode"; mkdir -p "$g"
        flag=""; libs="$BLAS"
        [ $mode = standalone ] && { flag=--standalone; libs=""; }
        # shellcheck disable=SC2086
        if "$CNNC" "$T/acts.net" --weights "$T/init.st" $flag -o "$g/acts.c" 2>"$g/err" &&
           net_cc "$GEN_CC" "-std=c99 -O2 -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c "$g" acts \
               "$g/run" "$libs -lm" 2>>"$g/err" &&
           "$g/run" 3 "$T/in.bin" "$T/out.bin" 2>>"$g/err"; then
            "$PY" tests/ref/acts_ref.py infer-check "$T" >"$g/check" 2>&1
            report "cnnc -o ($mode):" "$g/check" $?
        else
            no "cnnc -o ($mode) on every activation"; head -n 20 "$g/err"
        fi
        rm -f "$T/out.bin"
    done
else
    no "no reference for the generated code"; cat "$T/i.err" 2>/dev/null
fi

# 3. --emit pytorch
if [ -f "$T/init.st" ] && "$CNNC" "$T/acts.net" --emit pytorch -o "$T/export.py" 2>"$T/x.err"; then
    "$PY" tests/ref/acts_ref.py export-check "$T" >"$T/export.check" 2>&1
    report "cnnc --emit pytorch:" "$T/export.check" $?
else
    no "cnnc --emit pytorch on every activation"; cat "$T/x.err" 2>/dev/null
fi

# 4. cnnc --train
mkdir -p "$T/tg"
if "$CNNC" "$T/acts.net" --train -o "$T/tg/acts_train.c" 2>"$T/tg/cc.err" &&
   $GEN_CC -std=c99 -O2 $GEN_CFLAGS -Wall -Wextra -Wpedantic -Werror -Iruntime -c "$T/tg/acts_train.c" \
       -o "$T/tg/at.o" 2>>"$T/tg/cc.err" &&
   $GEN_CC -std=c11 -O2 $GEN_CFLAGS -D_XOPEN_SOURCE=700 -DNET=acts -Icompiler -Iruntime -I"$B/compiler" \
       -I"$T/tg" tests/e2e/train_gen.c "$T/tg/at.o" $(ls "$B"/compiler/*.o | grep -v /main.o) -o "$T/tg/check" \
       $RT 2>>"$T/tg/cc.err"; then
    if out=$("$T/tg/check" "$T/acts.net"); then ok "$out"; else no "$out"; fi
else
    no "cnnc --train on every activation"; head -n 20 "$T/tg/cc.err"
fi

finish
