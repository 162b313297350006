#!/bin/sh
# tests/compiler/suite_diagnostics.sh BUILD — golden diagnostics and hostile inputs.
#
# 1. Every tests/compiler/diagnostics/NAME.net (not inc/, which holds helper files for
#    the include cases) is compiled with
#        BUILD/cnnc tests/compiler/diagnostics/NAME.net --report
#    under `timeout 10`, from the repository root.  Its stderr must equal
#    tests/compiler/diagnostics/NAME.expected byte for byte (the diff is shown), the
#    exit status must be 1, stdout must be empty, and the same run with
#    `-o OUT` must leave no OUT file behind.
# 2. Inputs too big or too silly to commit are generated into a temporary
#    folder: a 100 KB line, 5000-deep braces, 200-deep groups, 20000-deep
#    parentheses, random bytes from fixed seeds, and every dsl_examples/*.net
#    cut at 10 byte offsets.  cnnc must exit 1 (0 is accepted for a cut that
#    happens to be a valid network), never crash (status >= 128) or time out
#    (124), print at most --max-errors errors, and every stderr line that
#    reports an error must read `FILE:LINE:COL: error: `.
#
# Prints each failure, then "N passed, N failed"; exits non-zero on a failure.
# To refresh the golden files after a deliberate change, run
# tests/compiler/diagnostics/regen.sh and review every changed .expected by hand.
. "$(dirname "$0")/../lib.sh"
DIR=tests/compiler/diagnostics
need_built "$CNNC"

# check_form FILE STDERR: every line with ": error: " in it starts with
# "FILE:LINE:COL: error: " (FILE is the main file or one it includes).
check_form() {
    if grep -F ': error: ' "$2" | grep -Ev '^[^:]+\.net:[0-9]+:[0-9]+: error: ' >"$T/form" ||
       ! grep -q "^$1:[0-9][0-9]*:[0-9][0-9]*: error: " "$2"; then
        no "$1: an error line without FILE:LINE:COL, or no error for $1 at all:"
        head -n 5 "$T/form" | sed 's/^/      /'
        return 1
    fi
    return 0
}

# --- 1. golden files ---------------------------------------------------------
for net in "$DIR"/*.net; do
    name=${net%.net}
    exp=$name.expected
    if [ ! -f "$exp" ]; then
        no "$net: no $exp (write it, or run $DIR/regen.sh and review it)"
        continue
    fi
    timeout 10 "$CNNC" "$net" --report >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -ne 1 ]; then
        no "$net: exit status $st, expected 1"
    elif [ -s "$T/out" ]; then
        no "$net: stdout is not empty:"
        head -n 5 "$T/out" | sed 's/^/      /'
    elif ! cmp -s "$exp" "$T/err"; then
        no "$net: stderr differs from $exp:"
        diff -u "$exp" "$T/err" | head -n 40 | sed 's/^/      /'
    else
        ok
    fi
    rm -f "$T/o.txt"
    timeout 10 "$CNNC" "$net" --report -o "$T/o.txt" >/dev/null 2>&1
    st=$?
    if [ "$st" -ne 1 ] || [ -e "$T/o.txt" ]; then
        no "$net -o OUT: exit status $st, and OUT $( [ -e "$T/o.txt" ] && echo exists || echo 'is absent')"
    else
        ok
    fi
done

# --- 2. generated hostile inputs ---------------------------------------------
# hostile FILE [ALLOW0]: exit 1 (or 0 when ALLOW0=yes), no crash, no hang,
# well-formed error lines, errors capped at the default 20 (+1 "too many").
hostile() {
    timeout 10 "$CNNC" "$1" --report >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -eq 124 ]; then no "$1: timed out (more than 10 s)"; return; fi
    if [ "$st" -ge 128 ]; then no "$1: crashed (exit status $st)"; return; fi
    if [ "$st" -eq 0 ] && [ "${2:-no}" = yes ]; then ok; return; fi
    if [ "$st" -ne 1 ]; then no "$1: exit status $st, expected 1"; return; fi
    if [ -s "$T/out" ]; then no "$1: stdout is not empty"; return; fi
    check_form "$1" "$T/err" || return
    n=$(grep -c ': error: ' "$T/err")
    if [ "$n" -gt 21 ]; then no "$1: $n errors printed, more than the cap"; return; fi
    ok
}

repeat() {  # repeat N TEXT: TEXT N times, no newline
    awk -v n="$1" -v t="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", t }'
}

# a 100 KB line: one identifier, then many ';'-separated layers, then junk
{ echo "network big input 3x32x32"; printf 'conv c1 16 k3 '; repeat 100000 x; echo; } >"$T/long_word.net"
hostile "$T/long_word.net"
{ echo "network big input 3x32x32"; repeat 12500 'relu; '; printf 'conv c 8 k99'; echo; } >"$T/long_line.net"
hostile "$T/long_line.net"
{ echo "network big input 3x32x32"; repeat 50000 '@!'; echo; } >"$T/long_stray.net"
hostile "$T/long_stray.net"
# deep nesting
{ echo "network deep input 3x32x32"; repeat 5000 '{'; echo; echo relu; repeat 5000 '}'; echo; } >"$T/braces.net"
hostile "$T/braces.net"
{ echo "network deep input 3x32x32"; repeat 5000 '{'; echo; } >"$T/braces_open.net"
hostile "$T/braces_open.net"
{ echo "network deep input 3x32x32"; repeat 200 'group g {
'; echo relu; repeat 200 '}
'; } >"$T/groups.net"
hostile "$T/groups.net"
{ echo "network deep input 3x32x32"; printf 'conv c1 '; repeat 20000 '('; echo 16 k3; } >"$T/parens.net"
hostile "$T/parens.net"
{ echo "network deep input 3x32x32"; printf 'conv c1 ('; repeat 20000 '-'; echo '16) k3'; } >"$T/unary.net"
hostile "$T/unary.net"
{ echo "network deep input 3x32x32"; echo 'block b(n) { conv n k1 }';
  printf 'conv c1 ('; repeat 20000 '1+'; echo '1) k1'; } >"$T/long_expr.net"
hostile "$T/long_expr.net" yes
# random bytes from fixed seeds (awk's generator; the stream only has to be
# the same from run to run on one machine)
for seed in 1 2 3 4 5 6 7 8; do
    LC_ALL=C awk -v seed="$seed" 'BEGIN { srand(seed); for (;;) printf "%c", int(rand() * 256) }' 2>/dev/null |
        head -c $((seed * 3000)) >"$T/garbage$seed.net"
    hostile "$T/garbage$seed.net"
done
# random printable junk made of the language's own tokens
for seed in 11 12 13 14; do
    LC_ALL=C awk -v seed="$seed" 'BEGIN {
        srand(seed)
        n = split("network input block include seq group residual shortcut concat repeat as from prefix if else conv relu k3 s2 ( ) { } , ; = + - * / 3x32x32 16 \"x\" \n \n", t, " ")
        for (i = 0; i < 3000; i++) printf "%s ", t[int(rand() * n) + 1]
    }' >"$T/tokens$seed.net"
    hostile "$T/tokens$seed.net"
done
# every example cut at 10 offsets
for ex in dsl_examples/*.net; do
    size=$(wc -c <"$ex")
    base=$(basename "$ex" .net)
    for i in 1 2 3 4 5 6 7 8 9 10; do
        off=$((size * i / 11))
        head -c "$off" "$ex" >"$T/${base}_cut$off.net"
        hostile "$T/${base}_cut$off.net" yes
    done
done

finish
