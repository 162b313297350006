#!/bin/sh
# tests/e2e/suite_atomic.sh BUILD — every file cnnc and cnnc-train write is
# written to a temporary file and renamed, so killing them at any moment
# leaves each destination either the old complete file or the new complete
# one.  Each command below is run many times and killed with SIGKILL after a
# random delay (fixed seed; delays spread over 0 .. 1.5x its normal run
# time), over a destination holding an older version, and every destination
# file is then compared with references:
#   1. cnnc -o of a network whose weights go to a sidecar (.c, .h, .weights;
#      ATOMIC_NET, default resnet18, 97 MB of weights; vgg16 takes minutes);
#   2. cnnc --report=json -o;
#   3. cnnc-train's checkpoint (--save), rewritten after every epoch, and its
#      CSV log: the old log, or the new run's header plus 0, 1 or 2 complete
#      epoch lines (compared without the timing column).
# A stale NAME.tmp.XXXXXX beside a destination is allowed (never read).
# ATOMIC_TRIALS (default 12) trials per command, ATOMIC_SEED (default 7).
set -u
. "$(dirname "$0")/../lib.sh"
NET=${ATOMIC_NET:-resnet18}
TRIALS=${ATOMIC_TRIALS:-12}
SEED=${ATOMIC_SEED:-7}

now_ms() { date +%s%3N; }
# delay I MS: the I-th random delay in seconds, in 0 .. 1.5 x MS milliseconds
delay() { awk -v s="$SEED" -v i="$1" -v ms="$2" 'BEGIN { srand(s * 7919 + i); printf "%.3f", rand() * ms * 1.5 / 1000 }'; }
# killed DELAY CMD...: run CMD, SIGKILL it after DELAY seconds if still running
killed() {
    d=$1; shift
    "$@" >/dev/null 2>&1 &
    pid=$!
    sleep "$d"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
# one_of FILE REF...: FILE equals one of the REFs
one_of() {
    _f=$1; shift
    for _r in "$@"; do cmp -s "$_f" "$_r" && return 0; done
    return 1
}

# --- 1. cnnc -o with a sidecar -------------------------------------------------
mkdir -p "$T/old" "$T/new" "$T/dst"
if ! "$CNNC" "dsl_examples/$NET.net" --seed 1 -o "$T/old/net.c" 2>"$T/err"; then
    no "cnnc -o $NET failed"; cat "$T/err"
else
    t0=$(now_ms)
    "$CNNC" "dsl_examples/$NET.net" --seed 2 -o "$T/new/net.c"
    ms=$(($(now_ms) - t0))
    if [ ! -f "$T/new/net.weights" ] || cmp -s "$T/old/net.weights" "$T/new/net.weights"; then
        no "cnnc -o $NET: expected two different sidecars"
    else
        bad=0
        seen_old=0
        seen_new=0
        for i in $(seq 1 "$TRIALS"); do
            rm -rf "$T/dst"; mkdir "$T/dst"
            cp -p "$T/old/net.c" "$T/old/net.h" "$T/old/net.weights" "$T/dst/"
            d=$(delay "$i" "$ms")
            killed "$d" "$CNNC" "dsl_examples/$NET.net" --seed 2 -o "$T/dst/net.c"
            for f in net.c net.h net.weights; do
                if one_of "$T/dst/$f" "$T/old/$f"; then seen_old=$((seen_old + 1))
                elif one_of "$T/dst/$f" "$T/new/$f"; then seen_new=$((seen_new + 1))
                else bad=$((bad + 1)); echo "     trial $i (killed after ${d}s): $f is neither the old nor the new file"
                fi
            done
        done
        if [ "$bad" -eq 0 ]; then
            ok "cnnc -o $NET killed $TRIALS times in 0..$((ms * 15 / 10)) ms: every file old ($seen_old) or new ($seen_new), complete"
        else
            no "cnnc -o $NET: $bad files half-written"
        fi
    fi
fi

# --- 2. cnnc --report=json -o ----------------------------------------------------
"$CNNC" dsl_examples/resnet18.net --report=json -o "$T/old/r.json"
t0=$(now_ms)
"$CNNC" dsl_examples/resnet50.net --report=json -o "$T/new/r.json"
ms=$(($(now_ms) - t0))
bad=0
states=""
n=$((TRIALS * 3))
for i in $(seq 1 "$n"); do
    cp -p "$T/old/r.json" "$T/dst/r.json"
    d=$(delay "$((i + 1000))" "$ms")
    killed "$d" "$CNNC" dsl_examples/resnet50.net --report=json -o "$T/dst/r.json"
    if one_of "$T/dst/r.json" "$T/old/r.json"; then states="${states}o"
    elif one_of "$T/dst/r.json" "$T/new/r.json"; then states="${states}n"
    else bad=$((bad + 1)); echo "     trial $i (killed after ${d}s): the report is neither the old nor the new one"
    fi
done
if [ "$bad" -eq 0 ]; then ok "cnnc --report=json -o killed $n times in 0..$((ms * 15 / 10)) ms: old or new, complete ($states)"
else no "cnnc --report=json -o: $bad reports half-written"; fi

# --- 3. cnnc-train: checkpoint and CSV log --------------------------------------
TR="$TRAIN dsl_examples/lenet_relu.net --data $DATA --limit-train 256 --limit-test 64 --batch 32 --quiet"
mkdir -p "$T/c0" "$T/c1" "$T/c2"
if ! $TR --epochs 1 --seed 9 --save "$T/c0/c.st" 2>"$T/err" ||
   ! $TR --epochs 1 --save "$T/c1/c.st" 2>>"$T/err"; then
    no "cnnc-train failed"; cat "$T/err"
else
    t0=$(now_ms)
    $TR --epochs 2 --save "$T/c2/c.st"
    ms=$(($(now_ms) - t0))
    cut -d, -f1-6 "$T/c2/c.st.csv" >"$T/c2/log6"
    bad=0
    states=""
    for i in $(seq 1 "$TRIALS"); do
        rm -rf "$T/dst"; mkdir "$T/dst"
        cp -p "$T/c0/c.st" "$T/c0/c.st.csv" "$T/dst/"
        d=$(delay "$((i + 2000))" "$ms")
        killed "$d" $TR --epochs 2 --save "$T/dst/c.st"
        if one_of "$T/dst/c.st" "$T/c0/c.st"; then states="${states}o"
        elif one_of "$T/dst/c.st" "$T/c1/c.st"; then states="${states}1"
        elif one_of "$T/dst/c.st" "$T/c2/c.st"; then states="${states}2"
        else bad=$((bad + 1)); echo "     trial $i (killed after ${d}s): the checkpoint is none of old, epoch 1, epoch 2"
        fi
        # the log: the old one, or a complete prefix of the new one
        log=$T/dst/c.st.csv
        if ! one_of "$log" "$T/c0/c.st.csv"; then
            lines=$(wc -l <"$log")
            if [ "$(tail -c 1 "$log" | od -An -c | tr -d ' ')" != '\n' ] ||
               awk -F, 'NF != 7 { bad = 1 } END { exit !bad }' "$log" ||
               ! cut -d, -f1-6 "$log" | cmp -s - "$T/c2/log6" -n "$(cut -d, -f1-6 "$log" | wc -c)" ||
               [ "$lines" -lt 1 ]; then
                bad=$((bad + 1)); echo "     trial $i (killed after ${d}s): the log is neither the old one nor a complete prefix of the new one:"
                sed 's/^/       | /' "$log"
            fi
        fi
    done
    if [ "$bad" -eq 0 ]; then
        ok "cnnc-train killed $TRIALS times in 0..$((ms * 15 / 10)) ms: checkpoint old/epoch 1/epoch 2 ($states), log complete"
    else
        no "cnnc-train: $bad half-written files"
    fi
fi

finish
