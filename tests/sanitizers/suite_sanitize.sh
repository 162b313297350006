#!/bin/sh
# tests/sanitizers/suite_sanitize.sh BUILD — the CI share of `make test-sanitize`: build
# cnnc, cnnrt, cnnc-train and the unit tests with ASan + UBSan into
# build-san/, then run (tests/sanitize.sh) the unit tests, the golden
# diagnostics and hostile inputs, the examples' reports, generated/, the
# command line, output files (suite_outputs), what cnnc-train refuses
# (suite_train_safety: its option parser, the checks on data and
# checkpoints), 3 training steps of a concat of 200 branches
# (suite_train_concat), and the generated code of the small examples
# (lenet5, convnetjs_mnist) built with the sanitizers too.  Any sanitizer
# report fails.  `make test-sanitize` runs everything.
set -u
. "$(dirname "$0")/../lib.sh"
SB=build-san
SAN="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
log=$T/log
units=$(ls tests/compiler/test_cc_*.c tests/runtime/test_rt_*.c | sed 's|\(.*\)\.c|'"$SB"'/\1|')
# shellcheck disable=SC2086
if ! mk B="$SB" CC=clang CFLAGS="$SAN" \
        "$SB/cnnc" "$SB/libcnnrt.a" "$SB/cnnc-train" $units >"$log" 2>&1; then
    no "the sanitized build"; tail -n 30 "$log"; finish
fi
SAN_CODEGEN_NETS="lenet5 convnetjs_mnist" sh tests/sanitize.sh "$SB" \
    $(ls "$SB"/tests/compiler "$SB"/tests/runtime | grep '^test_' | grep -v '\.') \
    suite_diagnostics suite_examples suite_generated suite_cli suite_train_safety suite_train_concat \
    suite_codegen suite_outputs
