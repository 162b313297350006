#!/bin/sh
# tests/run.sh BUILD — the test suite behind `make test`.
# Runs every suite, keeps going after a failure, prints one closing line
# "N passed, N failed" and exits non-zero when anything failed.
B=${1:-build}
. tests/runlib.sh
run_units
for s in tests/*/suite_*.sh; do
    [ -f "$s" ] || continue
    run "$(basename "$s" .sh)" sh "$s" "$B"
done

summary
