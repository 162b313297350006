# tests/runlib.sh — sourced by tests/run.sh and tests/sanitize.sh: running
# suites and counting them.  Set B (the build folder) and, optionally,
# RUN_TAG (a word added to every line, e.g. "sanitized") before sourcing.
#   run NAME CMD...   run one suite, its output in $B/tests/NAME.log; on a
#                     failure print the log's last 30 lines
#   run_units         run every unit-test binary of $B/tests
#   summary           print "N passed, N failed" and return non-zero on a failure
pass=0
fail=0
failed=""
mkdir -p "$B/tests"

run() {  # run NAME CMD...
    name=$1; shift
    if "$@" >"$B/tests/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "ok    $name${RUN_TAG:+ ($RUN_TAG)}"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "FAIL  $name (${RUN_TAG:+$RUN_TAG; }log: $B/tests/$name.log)"
        tail -n 30 "$B/tests/$name.log" | sed 's/^/      /'
    fi
}

run_units() {
    for t in "$B"/tests/compiler/test_cc_* "$B"/tests/runtime/test_rt_*; do
        [ -x "$t" ] || continue
        case "$t" in *.log) continue ;; esac
        run "$(basename "$t")" "$t"
    done
}

summary() {
    echo
    [ -n "$failed" ] && echo "failed${RUN_TAG:+ ($RUN_TAG)}:$failed"
    echo "$pass passed, $fail failed${RUN_TAG:+ ($RUN_TAG)}"
    [ "$fail" -eq 0 ]
}
