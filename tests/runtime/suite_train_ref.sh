#!/bin/sh
# tests/runtime/suite_train_ref.sh BUILD — cnnrt's whole-network training against
# PyTorch autograd and torch.optim (tests/ref/train_ref.py, which describes
# every check and tolerance).
#
# For lenet5, resnet20 (dsl_examples/) and concat_gn (tests/e2e/train/): the
# loss and every parameter gradient of one batch in train mode, then 10
# steps of SGD, momentum, Nesterov, Adagrad, RMSprop, Adam and AdamW, each
# with weight decay off and on, under constant / step / cosine schedules
# with and without warm-up; for concat_gn also the dropout masks.
# BUILD/tests/runtime/gradcheck (tests/runtime/gradcheck.c) runs the cnnrt side.
# Prints one line per network and check (optimizer) with the measured
# errors ("info" lines are measured, not checked), then "N passed, N failed";
# exits non-zero on any failure, or when python3-torch is missing.
B=${1:-build}
PY=/usr/bin/python3
GC=$B/tests/runtime/gradcheck
cd "$(dirname "$0")/../.." || exit 1

if [ ! -x "$GC" ]; then
    echo "error: $GC not found (build it with make $GC)"; exit 1
fi
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "error: $PY cannot import torch (install python3-torch)"; exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/suite_train_ref.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

start=$(date +%s)
status=0
for net in lenet5 resnet20 concat_gn; do
    "$PY" tests/ref/train_ref.py "$net" "$GC" "$tmp/$net" >"$tmp/$net.out" 2>&1 || status=1
    cat "$tmp/$net.out"
done
pass=$(cat "$tmp"/*.out | grep -c '^ok ')
fail=$(cat "$tmp"/*.out | grep -c '^FAIL')
[ "$status" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1     # a crash without a FAIL line
echo
echo "$(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
