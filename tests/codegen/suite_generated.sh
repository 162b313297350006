#!/bin/sh
# tests/codegen/suite_generated.sh BUILD — generated/ is current and deterministic.
# Regenerates every file of generated/ into a temporary folder (twice, to
# catch nondeterminism) and fails when one differs from the committed copy:
# generated/NAME.c is --target x86-64, generated/cortex-m/NAME.c --target
# cortex-m.
set -u
. "$(dirname "$0")/../lib.sh"
for c in generated/*.c generated/cortex-m/*.c; do
    name=$(basename "$c" .c)
    sub=$(dirname "$c"); sub=${sub#generated}; sub=${sub#/}
    tgt=${sub:-x86-64}
    for run in 1 2; do
        mkdir -p "$T/$run/$sub"
        if ! "$CNNC" --target "$tgt" "dsl_examples/$name.net" -o "$T/$run/$sub/$name.c"; then
            no "$name: cnnc --target $tgt failed"; continue 2
        fi
    done
    for ext in c h; do
        f=${sub:+$sub/}$name.$ext
        if cmp -s "$T/1/$f" "$T/2/$f" && cmp -s "$T/1/$f" "generated/$f"; then
            ok
        else
            no "generated/$f differs from what cnnc writes now (run make):"
            diff "generated/$f" "$T/1/$f" | head -20
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
for n in resnet20 lenet5 mobilenet_v2; do    # cortex-m: clipped windows, a one-pixel conv, depthwise as direct
    "$CNNC" --target cortex-m "dsl_examples/$n.net" -o "$T/fold/$n-cm.c" || no "cnnc --target cortex-m $n failed"
done
for c in "$T"/1/*.c "$T"/1/cortex-m/*.c "$T"/fold/*.c; do
    check "$c: leftover arithmetic:
$(grep -nE '([*/] 1\b[^.0-9e]|[-+] 0\b[^.x0-9e]|[[(]1 \* |\b0 \* |< 1;)' "$c" | head -5)" \
        sh -c "! grep -qE '([*/] 1\\b[^.0-9e]|[-+] 0\\b[^.x0-9e]|[[(]1 \\* |\\b0 \\* |< 1;)' '$c'"
done

[ -n "$(ls generated/*.c 2>/dev/null)" ] || no "generated/ is empty"
finish
