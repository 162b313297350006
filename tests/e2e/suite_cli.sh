#!/bin/sh
# tests/e2e/suite_cli.sh BUILD — the command lines of cnnc and cnnc-train follow
# GNU conventions:
#   - --help and --version print to stdout and exit 0; --help states the
#     exit codes;
#   - an unknown option or a missing argument is a usage error: one line
#     naming it, "Try 'PROG --help'", exit 2, nothing on stdout;
#   - - as the input reads stdin; -o - writes text outputs (report, --dot,
#     PyTorch export) to stdout, and is a clear error for generated C (two files);
#   - -- ends the options;
#   - errors in the input are file:line:col: error: on stderr, exit 1; a
#     missing input is exit 1; an output that cannot be written is exit 2;
#   - cnnc-train: the same usage rules, bad input exit 1, --log - to stdout.
set -u
. "$(dirname "$0")/../lib.sh"
NET=$REPO/dsl_examples/lenet5.net

# run PROG ARGS... : $rc, $T/out, $T/err
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect RC DESCRIPTION: the last run exited RC
expect() {
    if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"
    else no "$2: exit $rc, expected $1"; sed 's/^/     /' "$T/err" | head -5; fi
}
has() { grep -q -- "$2" "$T/$1"; }

for prog in cnnc cnnc-train; do
    P=$(dirname "$CNNC")/$prog
    run "$P" --help
    if [ $rc -eq 0 ] && has out "^usage: $prog" && has out "Exit status" && [ ! -s "$T/err" ]; then
        ok "$prog --help: stdout, exit 0, states the exit codes"
    else no "$prog --help (exit $rc)"; fi
    run "$P" -h
    [ $rc -eq 0 ] && has out "^usage: $prog" && ok "$prog -h" || no "$prog -h (exit $rc)"
    run "$P" --version
    if [ $rc -eq 0 ] && has out "^$prog [0-9][0-9.]*\$" && [ ! -s "$T/err" ]; then ok "$prog --version: $(cat "$T/out")"
    else no "$prog --version (exit $rc)"; fi
    run "$P" --no-such-option "$NET"
    if [ $rc -eq 2 ] && has err "^$prog: unrecognized option '--no-such-option'" &&
       has err "^Try '$prog --help' for more information" && [ ! -s "$T/out" ]; then
        ok "$prog: an unknown option is a usage error, exit 2"
    else no "$prog unknown option (exit $rc)"; cat "$T/err"; fi
    run "$P" "$NET" --seed
    if [ $rc -eq 2 ] && has err "^$prog: option '--seed' requires an argument"; then
        ok "$prog: a missing argument is a usage error, exit 2"
    else no "$prog missing argument (exit $rc)"; cat "$T/err"; fi
    run "$P"
    [ $rc -eq 2 ] && has err "^$prog: error: no" && has err "Try '$prog --help'" &&
        ok "$prog: no input file, exit 2" || no "$prog without arguments (exit $rc)"
done

# --- cnnc ---------------------------------------------------------------------
run "$CNNC" "$NET" --report; cp "$T/out" "$T/report"
run "$CNNC" - --report <"$NET"
if [ $rc -eq 0 ] && has out "(<stdin>)" && [ "$(sed 1d "$T/out")" = "$(sed 1d "$T/report")" ]; then
    ok "cnnc - reads the network from stdin"
else no "cnnc - (exit $rc)"; fi
(cd "$T" && "$CNNC" - -o stdin.c <"$NET" 2>"$T/err") && [ -s "$T/stdin.c" ] && [ -s "$T/stdin.h" ] &&
    ok "cnnc - -o stdin.c generates C from stdin" || no "cnnc - -o stdin.c"
run "$CNNC" "$NET" --report -o -
[ $rc -eq 0 ] && cmp -s "$T/out" "$T/report" && ok "cnnc --report -o - writes the report to stdout" ||
    no "cnnc --report -o - (exit $rc)"
run "$CNNC" "$NET" --emit pytorch -o -
[ $rc -eq 0 ] && has out "^class " && ok "cnnc --emit pytorch -o - writes the module to stdout" ||
    no "cnnc --emit pytorch -o - (exit $rc)"
run "$CNNC" "$NET" --dot -o -
[ $rc -eq 0 ] && has out "^digraph " && ok "cnnc --dot -o - writes the picture to stdout" ||
    no "cnnc --dot -o - (exit $rc)"
for mode in "" --train; do
    run "$CNNC" "$NET" $mode -o -
    if [ $rc -eq 2 ] && has err "^cnnc: error: -o -: generated C is two files" && [ ! -s "$T/out" ]; then
        ok "cnnc $mode -o -: a clear error, exit 2"
    else no "cnnc $mode -o - (exit $rc)"; cat "$T/err"; fi
done
cp "$NET" "$T/-dash.net"
(cd "$T" && "$CNNC" --report -- -dash.net >/dev/null 2>&1); rc=$?
expect 0 "cnnc -- -dash.net: -- ends the options"
(cd "$T" && "$CNNC" --report -dash.net >/dev/null 2>&1); rc=$?
expect 2 "cnnc -dash.net without --: an option"
run "$CNNC" -- "$NET" --report
expect 2 "cnnc -- FILE --report: --report is a second file"

printf 'network bad input 1x8x8\nconv c1 4 k3 tahn\n' >"$T/bad.net"
run "$CNNC" "$T/bad.net" --report
if [ $rc -eq 1 ] && grep -q "^$T/bad.net:2:[0-9]*: error: " "$T/err" && [ ! -s "$T/out" ]; then
    ok "cnnc: an error in the input is file:line:col: error:, exit 1"
else no "cnnc bad input (exit $rc)"; cat "$T/err"; fi
run "$CNNC" "$T/missing.net" --report
[ $rc -eq 1 ] && has err "missing.net: error: cannot open" && ok "cnnc: a missing input, exit 1" ||
    no "cnnc missing input (exit $rc)"
run "$CNNC" "$NET" -o "$T/no/such/dir/x.c"
[ $rc -eq 2 ] && has err "^cnnc: error: cannot write" && ok "cnnc: an unwritable -o FILE.c, exit 2" ||
    { no "cnnc unwritable .c (exit $rc)"; cat "$T/err"; }
run "$CNNC" "$NET" --report -o "$T/no/such/dir/r.txt"
[ $rc -eq 2 ] && has err "^cnnc: error: cannot write" && ok "cnnc: an unwritable --report -o FILE, exit 2" ||
    { no "cnnc unwritable report (exit $rc)"; cat "$T/err"; }
run "$CNNC" "$NET" --report=xml
[ $rc -eq 2 ] && has err "^cnnc: error: --report takes text or json" && ok "cnnc --report=xml, exit 2" ||
    no "cnnc --report=xml (exit $rc)"

# --- cnnc-train -------------------------------------------------------------
run "$TRAIN" "$NET" --save "$T/x.st"
[ $rc -eq 2 ] && has err "^cnnc-train: error: --data DIR is required" && ok "cnnc-train without --data, exit 2" ||
    no "cnnc-train without --data (exit $rc)"
run "$TRAIN" "$T/bad.net" --data "$DATA" --save "$T/x.st"
[ $rc -eq 1 ] && grep -q "^$T/bad.net:2:[0-9]*: error: " "$T/err" &&
    ok "cnnc-train: an error in the network is file:line:col: error:, exit 1" || no "cnnc-train bad network (exit $rc)"
run "$TRAIN" "$NET" --data "$T/nodata" --save "$T/x.st"
[ $rc -eq 1 ] && has err "^cnnc-train: error: .*nodata" && ok "cnnc-train: a missing dataset, exit 1" ||
    no "cnnc-train missing dataset (exit $rc)"
if [ -d "$DATA" ]; then
    run "$TRAIN" - --data "$DATA" --save "$T/y.st" --log - --limit-train 256 --limit-test 64 --batch 64 --quiet \
        <"$REPO/dsl_examples/lenet_relu.net"
    if [ $rc -eq 0 ] && [ "$(head -n 1 "$T/out")" = "epoch,step,lr,train_loss,train_accuracy,test_accuracy,seconds" ] &&
       [ "$(wc -l <"$T/out")" -eq 2 ] && [ -s "$T/y.st" ] && [ ! -e "$T/y.st.csv" ]; then
        ok "cnnc-train - --log -: network from stdin, CSV log on stdout"
    else no "cnnc-train - --log - (exit $rc)"; cat "$T/err" "$T/out"; fi
    run "$TRAIN" "$REPO/dsl_examples/lenet_relu.net" --data "$DATA" --save "$T/no/such/dir/z.st" --limit-train 64 --limit-test 64 --quiet
    expect 2 "cnnc-train: an unwritable log or checkpoint"
fi

finish
