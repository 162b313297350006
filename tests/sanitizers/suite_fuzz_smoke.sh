#!/bin/sh
# tests/sanitizers/suite_fuzz_smoke.sh BUILD — the fuzz targets of fuzz/, briefly:
#   1. build them (make fuzz-build: clang, libFuzzer, ASan + UBSan, in
#      build-fuzz/);
#   2. replay every input of tests/sanitizers/fuzz_regressions/TARGET/ (each once found
#      a crash or a hang; each must now run cleanly in under 5 s);
#   3. fuzz each target for FUZZ_SMOKE_SECONDS (default 25: make test has
#      45 minutes on a 2-core machine; `make fuzz` runs the long campaign) from the seed
#      corpora (fuzz/run.sh): no crash, no input over 1 s, no sanitizer report.
# BUILD is unused: the fuzz build has its own folder.  The long campaign is
# fuzz/campaign.sh (figures in fuzz/CAMPAIGN.md).
set -u
. "$(dirname "$0")/../lib.sh"
FB=build-fuzz
S=${FUZZ_SMOKE_SECONDS:-25}
log=$T/log

if mk fuzz-build >"$log" 2>&1; then
    ok "make fuzz-build"
else
    no "make fuzz-build"; tail -n 30 "$log"; finish
fi
for t in frontend safetensors idx checkpoint trainopts onnx darknet; do
    d=tests/sanitizers/fuzz_regressions/$t
    [ -d "$d" ] || continue
    n=$(ls "$d" | wc -l)
    [ "$n" -gt 0 ] || continue
    if "$FB/fuzz/fuzz_$t" -timeout=5 -rss_limit_mb=2048 "$d"/* >"$log" 2>&1; then
        ok "fuzz_$t replays the $n inputs of $d"
    else
        no "fuzz_$t on $d:"; grep -E 'ERROR|SUMMARY|Running:|timeout' "$log" | head -n 20
    fi
done
for t in frontend safetensors idx checkpoint trainopts onnx darknet; do
    if out=$(sh fuzz/run.sh "$FB" "$S" "$t"); then ok "$out"
    else no "$out"; grep -E 'ERROR|SUMMARY|Test unit written' "$FB/fuzz_$t.log" | head -n 20
    fi
done
finish
