#!/bin/sh
# tests/codegen/suite_generated.sh BUILD — generated/ is current and deterministic.
# Regenerates every file of generated/ into a temporary folder (twice, to
# catch nondeterminism) and fails when one differs from the committed copy.
set -u
. "$(dirname "$0")/../lib.sh"
for c in generated/*.c; do
    name=$(basename "$c" .c)
    for run in 1 2; do
        mkdir -p "$T/$run"
        if ! "$CNNC" "dsl_examples/$name.net" -o "$T/$run/$name.c"; then
            no "$name: cnnc failed"; continue 2
        fi
    done
    for ext in c h; do
        if cmp -s "$T/1/$name.$ext" "$T/2/$name.$ext" && cmp -s "$T/1/$name.$ext" "generated/$name.$ext"; then
            ok
        else
            no "generated/$name.$ext differs from what cnnc writes now (run make):"
            diff "generated/$name.$ext" "$T/1/$name.$ext" | head -20
        fi
    done
done
[ -n "$(ls generated/*.c 2>/dev/null)" ] || no "generated/ is empty"
finish
