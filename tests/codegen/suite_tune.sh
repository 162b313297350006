#!/bin/sh
# tests/codegen/suite_tune.sh BUILD — cnnc --tune and its tune files.
#
# 1. Every algorithm the templates can write for a conv is exact, not only
#    the one the shape rule picks: for lenet5, resnet20 and mobilenet_v2
#    (5x5, 3x3 stride 1 and 2, 1x1, one-pixel, depthwise and 3-channel
#    convs) and for each algorithm (Winograd F(2,3), F(4,3), F(6,3) too), a tune file written here pins every conv
#    that can take it (the JSON report's tune_key and algorithms_possible);
#    --report must say each pinned conv runs it, and the build is compared
#    with PyTorch (max |c - ref| / max |ref| <= 1e-4) on 3 images.
# 2. --tune on resnet20: each entry's best is the fastest of its times, each
#    conv with a choice has an entry and runs its best; a second --tune
#    measures nothing and leaves the file as it was; --tune-file alone
#    writes the same C as --tune did.  --tune for --target generic (plain
#    C, which runs here too); --report --tune.
# 3. Wrong input: a tune file that is not JSON (its line), not a tune file,
#    a word that is not an algorithm, an algorithm that cannot compute the
#    conv, a missing file, --tune for another target's code or with --emit
#    pytorch: a clear message, a non-zero exit and nothing written.
set -u
. "$(dirname "$0")/../lib.sh"
PIN="$PY tests/codegen/tune_pin.py"

for name in lenet5 resnet20 mobilenet_v2; do
    d="$T/$name/ref"
    mkdir -p "$d"
    if ! $PY tests/ref/e2e.py make "$name" "$d" 3 23 >"$d/make.log" 2>&1; then
        no "$name: the PyTorch reference failed"; cat "$d/make.log"; continue
    fi
    for algo in direct gemm winograd2 winograd4 winograd6 depthwise; do
        g="$T/$name/$algo"
        mkdir -p "$g"
        "$CNNC" "dsl_examples/$name.net" --report=json -o "$g/report.json" || { no "$name: report failed"; continue; }
        $PIN pin "$g/report.json" "$algo" "$g/pin.tune" >"$g/pin.log"
        rc=$?
        [ $rc -eq 3 ] && continue               # no conv of the network can take it
        [ $rc -eq 0 ] || { no "$name: pinning $algo failed"; continue; }
        "$CNNC" "dsl_examples/$name.net" --tune-file "$g/pin.tune" --report=json -o "$g/pinned.json" &&
            what=$($PIN verify "$g/pinned.json" "$algo") || { no "$name ($algo): $what"; continue; }
        gen_run "dsl_examples/$name.net" "$d" "$g" "$algo" cc "-march=native" "" \
            "--standalone --tune-file $g/pin.tune" 3 || continue
        if out=$($PY tests/ref/e2e.py check "$name" "$d"); then
            ok "$out  [$what]"
        else
            no "$out  [$what]"
        fi
        rm -f "$d/out.bin"
    done
done

# 2. measuring
m="$T/measure"
mkdir -p "$m"
cp dsl_examples/resnet20.net "$m/"
mkdir -p "$m/a" "$m/b" "$m/c"
if "$CNNC" "$m/resnet20.net" --tune --standalone -o "$m/a/resnet20.c" 2>"$m/tune.log" && [ -f "$m/resnet20.tune" ]; then
    ok "--tune wrote $(grep -c '"best"' "$m/resnet20.tune") entries to resnet20.tune ($(grep -c 'built and measured' "$m/tune.log") builds measured)"
    "$CNNC" "$m/resnet20.net" --tune-file "$m/resnet20.tune" --standalone --report=json -o "$m/r.json"
    if what=$($PIN best "$m/resnet20.tune" "$m/r.json"); then ok "$what"; else no "$what"; fi
    if "$CNNC" "$m/resnet20.net" --report --tune-file "$m/resnet20.tune" | grep -q "measured on .* (.*resnet20.tune): "; then
        ok "--report says which algorithms were measured"
    else
        no "--report does not say the algorithms were measured"
    fi
    cp "$m/resnet20.tune" "$m/first.tune"
    "$CNNC" "$m/resnet20.net" --tune --standalone -o "$m/b/resnet20.c" 2>"$m/tune2.log"
    if ! grep -q "measured" "$m/tune2.log" && cmp -s "$m/first.tune" "$m/resnet20.tune" &&
            cmp -s "$m/a/resnet20.c" "$m/b/resnet20.c"; then
        ok "a second --tune measures nothing, keeps the file and writes the same C"
    else
        no "a second --tune measured again or changed something"; cat "$m/tune2.log"
    fi
    "$CNNC" "$m/resnet20.net" --tune-file "$m/resnet20.tune" --standalone -o "$m/c/resnet20.c"
    if cmp -s "$m/a/resnet20.c" "$m/c/resnet20.c"; then ok "--tune-file alone writes the C --tune wrote"
    else no "--tune-file alone writes other C than --tune"; fi
else
    no "--tune failed"; cat "$m/tune.log"
fi

# generic C runs on this machine too: --tune measures it (OpenBLAS in default mode)
mkdir -p "$m/g"
if "$CNNC" dsl_examples/lenet5.net --target generic --tune --tune-file "$m/g/l.tune" -o "$m/g/lenet5.c" 2>"$m/g/log" &&
        grep -q '"generic conv 1x32x32 k5x5 s1x1 p0,0,0,0 d1x1 g1 > 6 openblas"' "$m/g/l.tune"; then
    ok "--tune --target generic measures the plain C ($(grep -c '"best"' "$m/g/l.tune") entries)"
else
    no "--tune --target generic failed"; cat "$m/g/log"
fi

# --report --tune: measures (seeded weights) and reports what it measured
mkdir -p "$m/rt"
cp dsl_examples/lenet5.net "$m/rt/"
if "$CNNC" "$m/rt/lenet5.net" --report --tune >"$m/rt/report.txt" 2>"$m/rt/log" && [ -f "$m/rt/lenet5.tune" ] &&
        [ "$(grep -c 'measured on .*lenet5.tune' "$m/rt/report.txt")" -eq 3 ]; then
    ok "--report --tune measures and reports the 3 convs as measured"
else
    no "--report --tune failed"; cat "$m/rt/log"
fi

# 3. wrong input: message, exit status, nothing written
bad() {  # bad WHAT EXPECTED-STATUS PATTERN ARGS...
    _what=$1 _want=$2 _pat=$3; shift 3
    rm -f "$m/x.c" "$m/x.h"
    "$CNNC" "$@" -o "$m/x.c" 2>"$m/err.log"
    _rc=$?
    if [ $_rc -eq "$_want" ] && grep -q -- "$_pat" "$m/err.log" && [ ! -e "$m/x.c" ] && [ ! -e "$m/x.h" ]; then
        ok "$_what: $(head -1 "$m/err.log")"
    else
        no "$_what: exit $_rc (wanted $_want), or no '$_pat', or output written:"; cat "$m/err.log"
    fi
}
net=dsl_examples/resnet20.net
key=$("$CNNC" $net --report=json | $PY -c "import json,sys; print([l['tune_key'] for l in json.load(sys.stdin)['layers'] if 'tune_key' in l][0])")
printf '{\n "cnnc_tune": 1,\n "convs": {\n  "x": {"best": "gemm",}\n }\n}\n' >"$m/syntax.tune"
bad "not JSON" 1 "syntax.tune:4: the tune file is not JSON" $net --tune-file "$m/syntax.tune"
printf '{"convs": {}}\n' >"$m/other.tune"
bad "not a tune file" 1 "other.tune: not a cnnc tune file" $net --tune-file "$m/other.tune"
printf '{\n "cnnc_tune": 1,\n "convs": {\n  "%s": {"best": "fft"}\n }\n}\n' "$key" >"$m/word.tune"
bad "not an algorithm" 1 'word.tune:4: "best" is "fft", not an algorithm' $net --tune-file "$m/word.tune"
printf '{\n "cnnc_tune": 1,\n "convs": {\n  "%s": {"best": "depthwise"}\n }\n}\n' "$key" >"$m/cannot.tune"
bad "an algorithm that cannot compute the conv" 1 "cannot.tune:4: \"best\" is \"depthwise\", which cannot compute conv 'conv1'" \
    $net --tune-file "$m/cannot.tune"
bad "a missing tune file" 1 "cannot read the tune file" $net --tune-file "$m/none.tune"
bad "--tune for another target" 2 "measures on this machine" $net --tune --target cortex-m
bad "--tune with --emit pytorch" 2 "does not go with --emit pytorch" $net --tune --emit pytorch
cp "$m/first.tune" "$m/keep.tune" 2>/dev/null
bad "--tune that cannot build" 2 "building the .* measurement failed" $m/resnet20.net --tune --tune-file "$m/keep.tune.new" --tune-cc false
[ ! -e "$m/keep.tune.new" ] && ok "a failed --tune writes no tune file" || no "a failed --tune wrote a tune file"
finish
