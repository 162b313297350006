#!/bin/sh
# tests/run.sh BUILD — the test suite behind `make test`.
# Runs every suite, keeps going after a failure, prints one closing line
# "N passed, N failed" and exits non-zero when anything failed.
B=${1:-build}
pass=0
fail=0
failed=""

run() {  # run NAME CMD...
    name=$1; shift
    if "$@" >"$B/tests/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "ok    $name"
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "FAIL  $name (log: $B/tests/$name.log)"
        tail -n 30 "$B/tests/$name.log" | sed 's/^/      /'
    fi
}

mkdir -p "$B/tests"
for t in "$B"/tests/test_cc_* "$B"/tests/test_rt_*; do
    [ -x "$t" ] || continue
    case "$t" in *.log) continue ;; esac
    run "$(basename "$t")" "$t"
done
for s in tests/suite_*.sh; do
    [ -f "$s" ] || continue
    run "$(basename "$s" .sh)" sh "$s" "$B"
done

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
