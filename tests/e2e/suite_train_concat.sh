#!/bin/sh
# tests/e2e/suite_train_concat.sh BUILD [BRANCHES] — a concat of any number of
# branches trains (issue 14): a network whose concat has BRANCHES (default
# 200) conv branches, written by tests/ref/wide_concat.py with a random 8×8
# dataset in IDX format (fixed seed):
#   1. cnnc-train writes its initial weights (--epochs 0), then trains 3
#      steps of SGD on the whole training set; the losses of the 3 steps,
#      the parameters after them and what they changed in the branches
#      before and after the 64th agree with PyTorch in float64 from the same
#      initial weights (wide_concat.py check: the checks and tolerances);
#   2. the generated inference code of that network (cnnc --weights
#      init.st: the concat's function takes its 200 inputs as one array)
#      builds warning-free at -std=c99 and its output on 3 random images
#      agrees with PyTorch's from the same weights (wide_concat.py infer);
#      the training code (cnnc --train) compiles cleanly.
# In make test-sanitize and its CI share (suite_sanitize.sh) cnnc-train and
# cnnc are BUILD's, with ASan and UBSan.  The generated C is built without
# the sanitizers' flags (GEN_CC only): clang -O1 with ASan takes over ten
# minutes on its 500 KB.
set -u
. "$(dirname "$0")/../lib.sh"
NB=${1:-200}
need_torch numpy
"$PY" tests/ref/wide_concat.py gen "$T" "$NB" || { echo "FAIL wide_concat.py gen"; exit 1; }

# 1. three steps against PyTorch
RUN="$TRAIN $T/wide.net --data $T/data $(cat "$T/train_args") --seed 11 --quiet"
if $RUN --epochs 0 --save "$T/init.st" 2>"$T/e0" && $RUN --epochs 3 --save "$T/run.st" 2>"$T/e1"; then
    ok "cnnc-train: a concat of $NB branches, initial weights and 3 steps"
    if "$PY" tests/ref/wide_concat.py check "$T" >"$T/check" 2>&1; then
        ok "against PyTorch:"
    else
        no "against PyTorch:"
    fi
    sed 's/^/       /' "$T/check"
else
    no "cnnc-train on a concat of $NB branches"; cat "$T/e0" "$T/e1" 2>/dev/null
fi

# 2. the generated code
mkdir -p "$T/gen"
if [ ! -f "$T/init.st" ]; then
    no "cnnc -o on a concat of $NB branches: no initial weights (step 1 failed)"
elif "$CNNC" "$T/wide.net" --weights "$T/init.st" -o "$T/gen/wide_concat.c" 2>"$T/g.err" &&
     net_cc "$GEN_CC" "-std=c99 -O1 -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c "$T/gen" \
         wide_concat "$T/gen/run" "$BLAS -lm" 2>>"$T/g.err" &&
     "$PY" tests/ref/wide_concat.py infer "$T" 2>>"$T/g.err" &&
     "$T/gen/run" 3 "$T/in.bin" "$T/out.bin" 2>>"$T/g.err"; then
    if out=$("$PY" tests/ref/wide_concat.py infer-check "$T"); then
        ok "cnnc -o: a concat of $NB branches: $out"
    else
        no "cnnc -o: a concat of $NB branches: $out"
    fi
else
    no "cnnc -o on a concat of $NB branches"; head -n 20 "$T/g.err"
fi
if "$CNNC" "$T/wide.net" --train -o "$T/wide_train.c" 2>"$T/t.err" &&
   $GEN_CC -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror -Iruntime -c "$T/wide_train.c" \
       -o "$T/wide_train.o" 2>>"$T/t.err"; then
    ok "cnnc --train: the training code of a concat of $NB branches compiles"
else
    no "cnnc --train on a concat of $NB branches"; head -n 20 "$T/t.err"
fi

finish
