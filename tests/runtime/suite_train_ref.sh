#!/bin/sh
# tests/runtime/suite_train_ref.sh BUILD — cnnrt's whole-network training against
# PyTorch autograd and torch.optim (tests/ref/train_ref.py, which describes
# every check and tolerance).
#
# For lenet5, resnet20 (dsl_examples/), concat_gn and drops
# (tests/runtime/train/): the
# loss and every parameter gradient of one batch in train mode, then 10
# steps of SGD, momentum, Nesterov, Adagrad, RMSprop, Adam and AdamW, each
# with weight decay off and on, under constant / step / cosine schedules
# with and without warm-up; for concat_gn and drops also the dropout masks
# (drops: per value, per channel and per sample).
# BUILD/tests/runtime/gradcheck (tests/runtime/gradcheck.c) runs the cnnrt side.
# Prints one line per network and check (optimizer) with the measured
# errors ("info" lines are measured, not checked), then "N passed, N failed";
# exits non-zero on any failure, or when python3-torch is missing.
. "$(dirname "$0")/../lib.sh"
GC=$B/tests/runtime/gradcheck
need_built "$GC"
need_torch
for net in lenet5 resnet20 concat_gn drops; do
    "$PY" tests/ref/train_ref.py "$net" "$GC" "$T/$net" >"$T/$net.out" 2>&1
    tally "$T/$net.out" $?
done
finish
