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
# The header describes the model: a random network says so, a table lists
# every layer, and it declares only the error codes the network can return
# (the sidecar's with a sidecar, none of them without one).
check() {  # check DESCRIPTION COMMAND...: fails with DESCRIPTION when COMMAND fails
    what=$1; shift
    if "$@"; then ok; else no "$what"; fi
}
sidecar_codes='_ERR_\(WEIGHTS\|FILE\|FORMAT\|NETWORK\|CHECKSUM\)'
mkdir -p "$T/side"
"$CNNC" dsl_examples/lenet5.net --embed-limit 0 -o "$T/side/lenet5.c" || no "cnnc --embed-limit 0 failed"
for h in "$T"/1/*.h "$T/side/lenet5.h"; do
    name=$(basename "$h" .h)
    check "$h: no 'RANDOM, UNTRAINED' for weights cnnc made up" grep -q '^ \* Weights: RANDOM, UNTRAINED' "$h"
    for layer in $(sed -n 's/^\(conv\|dense\) \([a-z0-9_]*\) .*/\2/p' "dsl_examples/$name.net"); do
        check "$h: layer $layer missing from the table of layers" grep -q "^ \*   $layer  " "$h"
    done
    check "$h: no 'Output:' line" grep -q '^ \* Output:  ' "$h"
    check "$h: no 'Input:' line" grep -q '^ \* Input:   ' "$h"
    if [ "$(dirname "$h")" = "$T/1" ]; then
        check "$h: declares sidecar error codes without a sidecar" \
            sh -c "! grep -q '$sidecar_codes' '$h' '${h%.h}.c'"
    else
        check "$h: the sidecar's error codes are missing" sh -c "[ \$(grep -c '$sidecar_codes' '$h') -eq 5 ]"
    fi
done

# No leftover arithmetic in the generated C: the templates fold what cnnc
# knows (no `x * 1`, `+ 0`, `- 0`, `0 * x`, loops over one element), in
# generated/ (as cnnc writes it now) and in resnet20 (Winograd, residual
# adds), both modes.
mkdir -p "$T/fold"
for f in "" --standalone; do
    "$CNNC" dsl_examples/resnet20.net $f -o "$T/fold/resnet20$f.c" || no "cnnc resnet20 $f failed"
done
for c in "$T"/1/*.c "$T"/fold/*.c; do
    check "$c: leftover arithmetic:
$(grep -nE '([*/] 1\b[^.0-9e]|[-+] 0\b[^.x0-9e]|[[(]1 \* |\b0 \* |< 1;)' "$c" | head -5)" \
        sh -c "! grep -qE '([*/] 1\\b[^.0-9e]|[-+] 0\\b[^.x0-9e]|[[(]1 \\* |\\b0 \\* |< 1;)' '$c'"
done

[ -n "$(ls generated/*.c 2>/dev/null)" ] || no "generated/ is empty"
finish
