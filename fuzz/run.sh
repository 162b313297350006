#!/bin/sh
# fuzz/run.sh BUILD SECONDS TARGET... — run each libFuzzer target of
# BUILD/fuzz/ for SECONDS, one after another, and print one line per target:
# executions, coverage (libFuzzer's cov: edges and ft: features), corpus
# size, and whether it found anything.  `make fuzz FUZZ_SECONDS=N` calls it.
#
# Corpora: BUILD/corpus/TARGET (grows, kept between runs) plus the read-only
# seeds: the examples and golden diagnostics for the front end,
# fuzz/seeds/TARGET for the readers and the option parser, and
# tests/sanitizers/fuzz_regressions/TARGET.
# Crashes, timeouts (over 1 s) and leaks go to BUILD/crashes/TARGET/; copy
# each into tests/sanitizers/fuzz_regressions/TARGET/ once it is fixed.
# Environment: FUZZ_JOBS (default 1) parallel workers per target (fork mode).
# Exits non-zero when any target found something.
B=${1:-build-fuzz}
S=${2:-60}
shift 2 2>/dev/null
cd "$(dirname "$0")/.." || exit 1
[ $# -gt 0 ] || set -- frontend safetensors idx checkpoint trainopts onnx darknet
status=0
for t in "$@"; do
    bin=$B/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz: no $bin (make fuzz-build)"; status=1; continue; }
    corpus=$B/corpus/$t
    art=$B/crashes/$t
    mkdir -p "$corpus" "$art"
    case $t in
        frontend) seeds="dsl_examples tests/compiler/diagnostics tests/runtime/train tests/e2e/train"; extra="-dict=fuzz/frontend.dict" ;;
        trainopts) seeds="fuzz/seeds/$t"; extra="-dict=fuzz/trainopts.dict -max_len=1024" ;;
        onnx) seeds="fuzz/seeds/$t"; extra="-max_len=65536" ;;
        darknet) seeds="fuzz/seeds/$t"; extra="-max_len=16384" ;;
        *) seeds="fuzz/seeds/$t"; extra="-max_len=8192" ;;
    esac
    [ -d "tests/sanitizers/fuzz_regressions/$t" ] && seeds="$seeds tests/sanitizers/fuzz_regressions/$t"
    log=$B/fuzz_$t.log
    before=$(ls "$art" | wc -l)
    jobs=""
    [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs="-fork=$FUZZ_JOBS"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$S" -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 $jobs \
        -artifact_prefix="$art/" $extra "$corpus" $seeds >"$log" 2>&1
    rc=$?
    after=$(ls "$art" | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{ s += $1 } END { print s + 0 }')
    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1)
    # fork mode (FUZZ_JOBS > 1): the workers print no stat:: lines; the parent's "#N:" counts them all
    [ -n "$jobs" ] && execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
        res=clean
    else
        res="FOUND SOMETHING (exit $rc; see $log and $art/)"
        status=1
    fi
    printf 'fuzz %-12s %5ss  execs %-10s cov %-6s ft %-7s corpus %-6s %s\n' "$t" "$S" "$execs" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "$res"
done
exit $status
