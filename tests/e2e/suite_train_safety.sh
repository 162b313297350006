#!/bin/sh
# tests/e2e/suite_train_safety.sh BUILD — cnnc-train refuses what cannot train,
# before it reads data or writes a file (issue 13), on a subset of
# Fashion-MNIST (256 training and 100 test images, fixed seeds):
#   1. every numeric option out of range, not finite or malformed: exit 2,
#      one line naming the option and what it found, no file written, and
#      checked before the dataset is even opened;
#   2. --epochs 0 writes the initial weights as a checkpoint (step 0, seed,
#      normalisation) that cnnc --weights compiles, a CSV header, no plot;
#   3. a network with 784 outputs on 10 classes: exit 1, both numbers and
#      the output layer's file:line;
#   4. resume into another structure (relu → tanh, another leaky slope) or
#      from a checkpoint without "arch": exit 1, both names, nothing
#      written; resume into the same network works;
#   5. the CSV log after a kill between its rewrite and the checkpoint's
#      (simulated: the log one epoch ahead of the checkpoint) has no
#      repeated epoch, and equals the uninterrupted run's; a log that
#      already repeats one (1, 2, 2) is cleaned on resume;
#   6. resume into a new folder, or with --log naming a new file, starts
#      the log with its header.
set -u
. "$(dirname "$0")/../lib.sh"
HEADER="epoch,step,lr,train_loss,train_accuracy,test_accuracy,seconds"
NET=tests/e2e/train/tiny_relu.net
SMALL="--data $DATA --batch 64 --limit-train 256 --limit-test 100 --seed 5 --quiet"
# a run that should be refused at once must not train for long on the old code
TO="timeout 120"
command -v timeout >/dev/null || TO=""

# 1. numbers: each "WORDS|the option the message names"
mkdir -p "$T/o1"
while IFS='|' read -r words opt; do
    [ -n "$words" ] || continue
    rm -rf "$T/o1"; mkdir "$T/o1"
    # shellcheck disable=SC2086
    $TO "$TRAIN" "$NET" $SMALL --save "$T/o1/x.st" $words 2>"$T/e1" >"$T/out1"
    rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$T/e1")" -eq 1 ] && grep -q -- "^cnnc-train: error: $opt: expected .*, found '" "$T/e1" &&
       [ -z "$(ls -A "$T/o1")" ] && [ ! -s "$T/out1" ]; then
        ok "$words: $(sed 's/^cnnc-train: error: //' "$T/e1")"
    else
        no "$words: exit $rc, files: $(ls -A "$T/o1" | tr '\n' ' ')"; head -n 3 "$T/e1"
    fi
done <<'LIST'
--lr 0|--lr
--lr inf|--lr
--lr nan|--lr
--lr -1e-3|--lr
--momentum 1|--momentum
--momentum -0.5|--momentum
--opt nesterov --momentum 0|--momentum
--beta1 1|--beta1
--beta2 nan|--beta2
--eps 0|--eps
--eps -inf|--eps
--weight-decay -1e-4|--weight-decay
--weight-decay inf|--weight-decay
--gamma 0|--gamma
--schedule step --gamma -0.5|--gamma
--min-lr -1|--min-lr
--schedule cosine --lr 0.01 --min-lr 0.01|--min-lr
--label-smoothing 1|--label-smoothing
--label-smoothing -0.1|--label-smoothing
--normalize 0.5,inf|--normalize
--normalize nan,1|--normalize
--normalize 0.5,0|--normalize
--normalize 0.5,-0.2|--normalize
--normalize 0.5|--normalize
--normalize 1e39,1|--normalize
--normalize 0.5,1e-50|--normalize
--normalize 0.5,1e39|--normalize
--epochs 99999999999999999999|--epochs
--epochs -1|--epochs
--epochs 1000001|--epochs
--epochs 2x|--epochs
--batch 1e3|--batch
--batch 0|--batch
--batch 65537|--batch
--threads 0|--threads
--warmup -1|--warmup
--step-size 0|--step-size
--limit-train 0|--limit-train
--limit-test 0|--limit-test
--seed -1|--seed
--seed 18446744073709551616|--seed
--opt lion|--opt
--schedule linear|--schedule
LIST
# checked before the data: a missing dataset is not what is reported
"$TRAIN" "$NET" --data "$T/no-such-data" --save "$T/o1/x.st" --normalize 0.5,inf --quiet 2>"$T/e1"
rc=$?
if [ $rc -eq 2 ] && grep -q -- "--normalize" "$T/e1" && ! grep -q "no-such-data" "$T/e1" && [ -z "$(ls -A "$T/o1")" ]; then
    ok "options are checked before the dataset is opened"
else no "the options were not checked first (exit $rc)"; cat "$T/e1"; fi

# 2. --epochs 0: the initialisation as a checkpoint
mkdir -p "$T/o2"
if "$TRAIN" "$NET" $SMALL --epochs 0 --normalize 0.25,0.5 --save "$T/o2/init.st" 2>"$T/e2"; then
    hdr=$(head -c 4096 "$T/o2/init.st" | tr -d '\000')
    if [ -s "$T/o2/init.st" ] && echo "$hdr" | grep -q '"step":"0"' && echo "$hdr" | grep -q '"seed":"5"' &&
       echo "$hdr" | grep -q '"normalize":"0.25,0.5"' && echo "$hdr" | grep -q '"epoch":"0"' &&
       [ "$(cat "$T/o2/init.st.csv")" = "$HEADER" ] && [ ! -e "$T/o2/init.st.svg" ]; then
        ok "--epochs 0: the initial weights at step 0 with seed and normalisation, the CSV header, no plot"
    else no "--epochs 0 wrote: $(ls "$T/o2" | tr '\n' ' ')"; cat "$T/o2/init.st.csv" 2>/dev/null; fi
    if "$CNNC" "$NET" --weights "$T/o2/init.st" -o "$T/o2/init.c" 2>"$T/e2c" && [ -s "$T/o2/init.c" ]; then
        ok "cnnc --weights compiles the --epochs 0 checkpoint"
    else no "cnnc --weights rejected the --epochs 0 checkpoint"; cat "$T/e2c"; fi
    # the same weights a first epoch starts from: a 1-epoch run resumed from it equals a plain 1-epoch run
    if "$TRAIN" "$NET" $SMALL --epochs 1 --normalize 0.25,0.5 --save "$T/o2/a.st" 2>>"$T/e2" &&
       "$TRAIN" "$NET" $SMALL --epochs 1 --normalize 0.25,0.5 --resume "$T/o2/init.st" --save "$T/o2/b.st" 2>>"$T/e2" &&
       cmp -s "$T/o2/a.st" "$T/o2/b.st"; then
        ok "resuming the --epochs 0 checkpoint for one epoch gives the one-epoch run byte for byte"
    else no "the --epochs 0 checkpoint is not the run's initialisation"; cat "$T/e2"; fi
else
    no "--epochs 0 failed"; cat "$T/e2"
fi

# 3. outputs and classes
mkdir -p "$T/o3"
$TO "$TRAIN" tests/e2e/train/tiny_784.net $SMALL --epochs 1 --save "$T/o3/x.st" 2>"$T/e3"
rc=$?
if [ $rc -eq 1 ] && grep -q "^tests/e2e/train/tiny_784.net:4:1: error: .*784 outputs.* 10 classes" "$T/e3" &&
   [ -z "$(ls -A "$T/o3")" ]; then
    ok "784 outputs on 10 classes: $(cut -c1-150 "$T/e3")..."
else no "784 outputs on 10 classes: exit $rc"; cat "$T/e3"; fi

# 4. resume into the same structure only
mkdir -p "$T/o4"
if "$TRAIN" "$NET" $SMALL --epochs 1 --save "$T/o4/r.st" 2>"$T/e4"; then
    for other in tiny_tanh tiny_slope; do
        rm -rf "$T/o4/new"; mkdir "$T/o4/new"
        "$TRAIN" tests/e2e/train/$other.net $SMALL --epochs 2 --resume "$T/o4/r.st" --save "$T/o4/new/t.st" 2>"$T/e4"
        rc=$?
        if [ $rc -eq 1 ] && grep -q "'tiny_relu'.*'$other'.*structure" "$T/e4" && [ -z "$(ls -A "$T/o4/new")" ]; then
            ok "resume into $other refused: $(cut -c1-140 "$T/e4")..."
        else no "resume of tiny_relu into $other: exit $rc"; cat "$T/e4"; fi
    done
    if "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o4/r.st" --save "$T/o4/r2.st" 2>"$T/e4" && [ -s "$T/o4/r2.st" ]; then
        ok "resume into the same network works"
    else no "resume into the same network failed"; cat "$T/e4"; fi
    # the same checkpoint without "arch" (as an older or foreign file would be)
    if python3 - "$T/o4/r.st" "$T/o4/noarch.st" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
del h["__metadata__"]["arch"]
js = json.dumps(h, separators=(",", ":")).encode()
js += b" " * (-len(js) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(js)) + js + b[8 + n:])
PY
    then
        rm -rf "$T/o4/new"; mkdir "$T/o4/new"
        "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o4/noarch.st" --save "$T/o4/new/n.st" 2>"$T/e4"
        rc=$?
        if [ $rc -eq 1 ] && grep -q "no 'arch'" "$T/e4" && [ -z "$(ls -A "$T/o4/new")" ]; then
            ok "resume from a checkpoint without arch refused: $(cut -c1-120 "$T/e4")..."
        else no "resume without arch: exit $rc"; cat "$T/e4"; fi
        if "$CNNC" "$NET" --weights "$T/o4/noarch.st" -o "$T/o4/noarch.c" 2>"$T/e4"; then
            ok "its weights alone still load (cnnc --weights)"
        else no "cnnc --weights refused a checkpoint without arch"; cat "$T/e4"; fi
    else no "could not write a checkpoint without arch"; fi
else
    no "tiny_relu does not train"; cat "$T/e4"
fi

# 5. the log after a kill between its rewrite and the checkpoint's
mkdir -p "$T/o5"
if "$TRAIN" "$NET" $SMALL --epochs 3 --save "$T/o5/full.st" 2>"$T/e5" &&
   "$TRAIN" "$NET" $SMALL --epochs 1 --save "$T/o5/k.st" 2>>"$T/e5" && cp "$T/o5/k.st" "$T/o5/k1.st" &&
   "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o5/k.st" --save "$T/o5/k.st" 2>>"$T/e5"; then
    # the kill: the log has epoch 2, the checkpoint is still epoch 1's
    cp "$T/o5/k1.st" "$T/o5/k.st"
    if "$TRAIN" "$NET" $SMALL --epochs 3 --resume "$T/o5/k.st" --save "$T/o5/k.st" 2>>"$T/e5"; then
        cut -d, -f1-6 "$T/o5/full.st.csv" >"$T/full.cut"
        cut -d, -f1-6 "$T/o5/k.st.csv" >"$T/k.cut"
        if [ "$(cut -d, -f1 "$T/o5/k.st.csv" | tr '\n' ' ')" = "epoch 1 2 3 " ] && cmp -s "$T/full.cut" "$T/k.cut" &&
           cmp -s "$T/o5/full.st" "$T/o5/k.st"; then
            ok "kill after the log's rewrite, then resume: one row per epoch, as the uninterrupted run"
        else no "the resumed log repeats or lacks rows:"; cat "$T/o5/k.st.csv"; fi
    else no "resume after the simulated kill failed"; cat "$T/e5"; fi
    # a log that already repeats an epoch (as the kill left it before this
    # was fixed: 1, 2, 2) and the checkpoint of epoch 2: the later row wins
    if "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o5/k1.st" --save "$T/o5/d.st" 2>>"$T/e5"; then
        { head -n 3 "$T/o5/full.st.csv"; sed -n 3p "$T/o5/full.st.csv"; } >"$T/o5/d.st.csv"
        if "$TRAIN" "$NET" $SMALL --epochs 3 --resume "$T/o5/d.st" --save "$T/o5/d.st" 2>>"$T/e5" &&
           [ "$(cut -d, -f1 "$T/o5/d.st.csv" | tr '\n' ' ')" = "epoch 1 2 3 " ] &&
           cut -d, -f1-6 "$T/o5/d.st.csv" | cmp -s "$T/full.cut" -; then
            ok "a log with a repeated epoch, resumed: one row per epoch"
        else no "a log with a repeated epoch keeps it:"; cat "$T/o5/d.st.csv"; fi
    else no "could not resume to epoch 2"; cat "$T/e5"; fi
else
    no "could not train for the kill simulation"; cat "$T/e5"
fi

# 6. resume into a new folder or a new log: the header first
mkdir -p "$T/o6/new"
if "$TRAIN" "$NET" $SMALL --epochs 1 --save "$T/o6/a.st" 2>"$T/e6" &&
   "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o6/a.st" --save "$T/o6/new/b.st" 2>>"$T/e6" &&
   "$TRAIN" "$NET" $SMALL --epochs 2 --resume "$T/o6/a.st" --save "$T/o6/c.st" --log "$T/o6/new.csv" 2>>"$T/e6"; then
    if [ "$(head -n 1 "$T/o6/new/b.st.csv")" = "$HEADER" ] && [ "$(wc -l <"$T/o6/new/b.st.csv")" -eq 2 ] &&
       [ "$(head -n 1 "$T/o6/new.csv")" = "$HEADER" ] && [ "$(cut -d, -f1 "$T/o6/new.csv" | tr '\n' ' ')" = "epoch 2 " ]; then
        ok "resume into a new folder or to a new --log: the header, then the new epoch"
    else no "a resumed run's new log lacks its header:"; cat "$T/o6/new/b.st.csv" "$T/o6/new.csv"; fi
else
    no "resume into a new folder failed"; cat "$T/e6"
fi

finish
