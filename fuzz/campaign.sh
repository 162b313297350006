#!/bin/sh
# fuzz/campaign.sh BUILD TARGET EXECS [WORKER] — a long fuzzing campaign: run
# BUILD/fuzz/fuzz_TARGET (one worker) until it has executed EXECS inputs in
# all, restarting after anything it finds (saved in BUILD/crashes/TARGET/),
# and append one summary line to BUILD/campaign.txt: executions, wall time,
# final cov/ft/corpus, findings.  Same corpora and options as fuzz/run.sh.
# Several workers may run at once on one corpus: give each its own WORKER
# name (it names the logs and the summary line); libFuzzer adds what each
# finds to the shared corpus folder.
B=$1
t=$2
want=$3
w=${4:-}
name=$t${w:+.$w}
cd "$(dirname "$0")/.." || exit 1
bin=$B/fuzz/fuzz_$t
corpus=$B/corpus/$t
art=$B/crashes/$t
mkdir -p "$corpus" "$art" "$B/campaign"
case $t in
    frontend) seeds="dsl_examples tests/compiler/diagnostics tests/runtime/train tests/e2e/train"; extra="-dict=fuzz/frontend.dict" ;;
    *) seeds="fuzz/seeds/$t"; extra="-max_len=8192" ;;
esac
[ -d "tests/sanitizers/fuzz_regressions/$t" ] && seeds="$seeds tests/sanitizers/fuzz_regressions/$t"
done_=0
found=0
seg=0
start=$(date +%s)
while [ "$done_" -lt "$want" ]; do
    seg=$((seg + 1))
    log=$B/campaign/$name.$seg.log
    before=$(ls "$art" | wc -l)
    # shellcheck disable=SC2086
    "$bin" -runs=$((want - done_)) -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" $extra "$corpus" $seeds >"$log" 2>&1
    rc=$?
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$n" ] || n=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
    done_=$((done_ + ${n:-0}))
    after=$(ls "$art" | wc -l)
    found=$((found + after - before))
    if [ "$rc" -ne 0 ] && [ "${n:-0}" -eq 0 ]; then break; fi     # it cannot even start
done
end=$(date +%s)
last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1)
printf '%s  %-12s execs %s  time %ss  segments %s  findings %s  last: %s\n' "$(date -u +%FT%TZ)" "$name" \
    "$done_" $((end - start)) "$seg" "$found" "$last" >>"$B/campaign.txt"
