#!/bin/sh
# tests/e2e/suite_train.sh BUILD — cnnc-train and cnnc --train, end to end, on a
# subset of Fashion-MNIST (Debian's dataset-fashion-mnist):
#   - training learns (test accuracy well above chance after 2 short epochs);
#   - the checkpoint compiles with cnnc --weights, and the generated C gets
#     the same test accuracy as the trainer's own evaluation (within 0.1
#     points; the normalisation travels in the checkpoint);
#   - a run resumed after epoch 1 continues bit for bit (same CSV losses,
#     byte-identical final checkpoint);
#   - a diverging run stops with the step and the layer, exit 3, and leaves
#     the previous checkpoint untouched;
#   - bad datasets and networks that don't fit the data are clear errors;
#   - the code cnnc --train generates trains exactly like cnnc-train.
set -u
. "$(dirname "$0")/../lib.sh"
TR="$TRAIN dsl_examples/lenet_relu.net --data $DATA --batch 64 --opt adam --lr 1e-3 --limit-train 2048 --limit-test 1000 --seed 3 --quiet"

# 1. learning, and 3. resume
if $TR --epochs 2 --normalize auto --save "$T/a.st" 2>"$T/a.err"; then
    acc=$(tail -n 1 "$T/a.st.csv" | cut -d, -f6)
    if awk "BEGIN { exit !($acc > 60) }"; then ok "lenet_relu learns: test accuracy $acc% after 2 epochs of 2048 images"
    else no "lenet_relu test accuracy only $acc% after 2 short epochs"; fi
else
    no "cnnc-train failed"; cat "$T/a.err"
fi
if $TR --epochs 1 --normalize auto --save "$T/b.st" 2>"$T/b.err" &&
   $TR --epochs 2 --normalize auto --save "$T/b.st" --resume "$T/b.st" 2>>"$T/b.err"; then
    if cut -d, -f1-6 "$T/a.st.csv" > "$T/a.cut" && cut -d, -f1-6 "$T/b.st.csv" > "$T/b.cut" &&
       cmp -s "$T/a.cut" "$T/b.cut" && cmp -s "$T/a.st" "$T/b.st"; then
        ok "a run resumed after epoch 1 matches the uninterrupted run bit for bit"
    else
        no "resumed run differs"; diff "$T/a.cut" "$T/b.cut"
    fi
else
    no "resume failed"; cat "$T/b.err"
fi

# 2. the checkpoint, compiled, classifies like the trainer
mkdir -p "$T/gen"
if "$CNNC" dsl_examples/lenet_relu.net --weights "$T/a.st" -o "$T/gen/lenet_relu.c" 2>"$T/gen.err"; then
    if net_cc "$GEN_CC" "-std=c99 -O2 $GEN_CFLAGS -Iruntime" tests/e2e/accuracy.c "$T/gen" lenet_relu "$T/acc" "$RT" \
            2>"$T/cc.err"; then
        cacc=$("$T/acc" "$DATA" 1000 "$T/gen/lenet_relu.weights")
        tacc=$(tail -n 1 "$T/a.st.csv" | cut -d, -f6)
        if awk "BEGIN { d = $cacc - $tacc; if (d < 0) d = -d; exit !(d <= 0.1) }"; then
            ok "generated C: test accuracy $cacc% vs the trainer's $tacc% (normalisation baked in)"
        else
            no "generated C accuracy $cacc% differs from the trainer's $tacc%"
        fi
    else
        no "the accuracy driver does not build"; cat "$T/cc.err"
    fi
else
    no "cnnc --weights rejected the trainer's checkpoint"; cat "$T/gen.err"
fi

# 4. divergence keeps the last good checkpoint
cp "$T/a.st" "$T/d.st"
"$TRAIN" dsl_examples/lenet_relu.net --data $DATA --batch 64 --opt sgd --lr 1e9 --limit-train 512 \
    --limit-test 64 --epochs 1 --save "$T/d.st" --quiet 2>"$T/d.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "diverged at step [0-9]*" "$T/d.err" && grep -q "layer" "$T/d.err" &&
   cmp -s "$T/a.st" "$T/d.st"; then
    ok "divergence: $(sed 's/^cnnc-train: error: //' "$T/d.err" | cut -c1-110)..."
else
    no "divergence not handled (exit $rc)"; cat "$T/d.err"
fi

# 5. bad inputs
mkdir -p "$T/bad"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -dc "$DATA/$f.gz" > "$T/bad/$f"
done
head -c 1000 "$DATA/t10k-labels-idx1-ubyte.gz" | gzip -dc > "$T/bad/t10k-labels-idx1-ubyte" 2>/dev/null
if ! "$TRAIN" dsl_examples/lenet_relu.net --data "$T/bad" --save "$T/x.st" --quiet 2>"$T/e1" &&
   grep -q "t10k-labels" "$T/e1"; then ok "truncated labels: $(head -c 140 "$T/e1")"
else no "a truncated label file was not reported"; cat "$T/e1"; fi
printf 'network five input 1x28x28\nflatten\ndense fc 5\n' > "$T/five.net"
if ! "$TRAIN" "$T/five.net" --data $DATA --save "$T/x.st" --quiet 2>"$T/e2" && grep -q "out of range" "$T/e2"; then
    ok "labels out of range: $(head -c 140 "$T/e2")"
else no "labels beyond the network's outputs were not reported"; cat "$T/e2"; fi
if ! "$TRAIN" dsl_examples/lenet5.net --data $DATA --save "$T/x.st" --quiet 2>"$T/e3" &&
   grep -q "lenet5.net:[0-9]*:[0-9]*: error: .*1x32x32.*1x28x28" "$T/e3"; then
    ok "input size mismatch: $(head -c 140 "$T/e3")"
else no "a network/data size mismatch was not reported"; cat "$T/e3"; fi
if ! "$TRAIN" dsl_examples/lenet_relu.net --data $DATA --save "$T/x.st" --resume "$T/gen/lenet_relu.c" \
        --quiet 2>"$T/e4"; then ok "resume from a non-checkpoint: $(head -c 120 "$T/e4")"
else no "resuming from a C file was accepted"; fi

# 6. generated training code trains like cnnc-train
mkdir -p "$T/tg"
if "$CNNC" dsl_examples/lenet5.net --train -o "$T/tg/lenet5_train.c" &&
   $GEN_CC -std=c99 -O2 $GEN_CFLAGS -Wall -Wextra -Wpedantic -Werror -Iruntime -c "$T/tg/lenet5_train.c" -o "$T/tg/lt.o" &&
   $GEN_CC -std=c11 -O2 $GEN_CFLAGS -D_XOPEN_SOURCE=700 -Icompiler -Iruntime -I"$B/compiler" -I"$T/tg" tests/e2e/train_gen.c \
      "$T/tg/lt.o" $(ls "$B"/compiler/*.o | grep -v /main.o) -o "$T/tg/check" $RT 2>"$T/tg/cc.err"; then
    if out=$("$T/tg/check" dsl_examples/lenet5.net --plans); then ok "$out"; else no "$out"; fi
else
    no "generated training code does not build"; cat "$T/tg/cc.err"
fi

finish
