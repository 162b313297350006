#!/bin/sh
# tests/compiler/suite_limits.sh BUILD — limits a user can hit are errors, not crashes:
#   1. networks that cannot be generated (tests/compiler/limits/): weights over 16 GiB,
#      an arena over 2 GiB for one image: `cnnc -o` exits 1 with an error at
#      the layer that needs the most (FILE:LINE:COL), writes nothing, and the
#      report still works (exit 0);
#   2. a 20 MB .net is refused (16 MiB limit) and a 15 MB one is read in
#      seconds, both within 20 s;
#   3. the caps on layers, statements and expression depth, each within 10 s
#      (their messages are golden diagnostics in tests/compiler/diagnostics/).
set -u
. "$(dirname "$0")/../lib.sh"

# 1. cannot be generated
for c in "weights_too_big:7:1: error: the weights take [0-9,]* bytes" \
         "arena_too_big:4:1: error: the generated code would need a [0-9,]*-byte arena"; do
    n=${c%%:*}; want="tests/compiler/limits/$n.net:${c#*:}"
    timeout 20 "$CNNC" "tests/compiler/limits/$n.net" -o "$T/out.c" >"$T/o" 2>"$T/e"
    st=$?
    if [ "$st" -eq 1 ] && head -n 1 "$T/e" | grep -q "^$want" && [ ! -e "$T/out.c" ] && [ ! -e "$T/out.h" ]; then
        ok "$n: $(head -n 1 "$T/e" | cut -d: -f4- | cut -c1-90)..."
    else
        no "$n: exit $st, expected 1 and '$want'"; head -n 3 "$T/e"
    fi
    timeout 20 "$CNNC" "tests/compiler/limits/$n.net" --report >/dev/null 2>"$T/e" || no "$n --report: $(head -n 1 "$T/e")"
done

# 2. big files
{ echo "network big input 1x8x8"; echo relu; awk 'BEGIN { for (i = 0; i < 400000; i++) print "# padding padding padding padding padding padding" }'; } >"$T/big20.net"
timeout 20 "$CNNC" "$T/big20.net" --report >/dev/null 2>"$T/e"
st=$?
if [ "$st" -eq 1 ] && grep -q "larger than the 16 MiB limit" "$T/e"; then ok "a $(($(wc -c <"$T/big20.net") / 1000000)) MB .net: $(head -n 1 "$T/e" | cut -c1-100)"
else no "a 20 MB .net: exit $st: $(head -n 2 "$T/e")"; fi
{ echo "network big input 1x8x8"; awk 'BEGIN { for (i = 0; i < 300000; i++) print "relu  # a line of fifty bytes, give or take a few" }'; } | head -c 15000000 >"$T/big15.net"
echo >>"$T/big15.net"
timeout 20 "$CNNC" "$T/big15.net" --report >/dev/null 2>"$T/e"
st=$?
if [ "$st" -eq 1 ] && grep -q "more than 100,000 layers" "$T/e"; then ok "a 15 MB .net of 300,000 relus: the layer cap, in time"
else no "a 15 MB .net: exit $st: $(head -n 2 "$T/e")"; fi

# 3. caps, in time
for n in too_many_layers repeat_expansion block_call_expansion expression_too_deep; do
    timeout 10 "$CNNC" "tests/compiler/diagnostics/$n.net" --report >/dev/null 2>"$T/e"
    st=$?
    if [ "$st" -eq 1 ]; then ok "$n: exit 1 within 10 s"; else no "$n: exit $st"; fi
done

finish
