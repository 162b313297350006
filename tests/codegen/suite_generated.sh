#!/bin/sh
# tests/codegen/suite_generated.sh BUILD — generated/ is current and deterministic.
# Regenerates every file of generated/ into a temporary folder (twice, to
# catch nondeterminism) and fails when one differs from the committed copy.
set -u
B=${1:-build}
cd "$(dirname "$0")/../.." || exit 1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
for c in generated/*.c; do
    name=$(basename "$c" .c)
    for run in 1 2; do
        mkdir -p "$T/$run"
        if ! "$B/cnnc" "dsl_examples/$name.net" -o "$T/$run/$name.c"; then
            echo "FAIL $name: cnnc failed"; fail=$((fail + 1)); continue 2
        fi
    done
    for ext in c h; do
        if cmp -s "$T/1/$name.$ext" "$T/2/$name.$ext" && cmp -s "$T/1/$name.$ext" "generated/$name.$ext"; then
            pass=$((pass + 1))
        else
            echo "FAIL generated/$name.$ext differs from what cnnc writes now (run make):"
            diff "generated/$name.$ext" "$T/1/$name.$ext" | head -20
            fail=$((fail + 1))
        fi
    done
done
[ -n "$(ls generated/*.c 2>/dev/null)" ] || { echo "FAIL generated/ is empty"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
