#!/bin/sh
# tests/run.sh BUILD — the test suite behind `make test`.
# Runs every unit test and every tests/*/suite_*.sh, keeps going after a
# failure, prints one closing line "N passed, N failed" and exits non-zero
# when anything failed.
. "$(dirname "$0")/lib.sh"
run_units
for s in tests/*/suite_*.sh; do
    run_suite "$(basename "$s" .sh)" sh "$s" "$B"
done
finish
