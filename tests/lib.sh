# tests/lib.sh — the shell helper of every test script, sourced first:
#     . "$(dirname "$0")/../lib.sh"     in a suite (tests/*/suite_*.sh)
#     . "$(dirname "$0")/lib.sh"        in a runner (tests/run.sh, sanitize.sh,
#                                       run_large.sh)
# POSIX sh.  Sourcing it, with the script's arguments in place:
#   B           the build folder: the first argument (default build), taken
#               off "$@" so that the rest (network names, suites) remain;
#               relative to the repository root when it lies inside it
#   REPO        the repository root; the script runs there from now on
#   CNNC TRAIN  absolute paths of B's cnnc and cnnc-train
#   T           a new temporary folder, removed when the script ends
#   PY DATA     the system python3 (it has torch and torchvision); the
#               Fashion-MNIST folder (Debian's dataset-fashion-mnist)
#   BLAS        OpenBLAS's compile and link options
#   GEN_CC GEN_CFLAGS  compiler and extra options for the C the suites
#               build against B's cnnrt or cnnc's output (tests/sanitize.sh
#               sets them; default cc and none)
#
# Counting (a suite's checks, or a runner's suites):
#   ok [MESSAGE]        a check passed; MESSAGE, if any, printed as "ok   ..."
#   no MESSAGE          a check failed: "FAIL MESSAGE"
#   tally FILE STATUS   print FILE, the output of a program that prints its
#                       own checks ("ok ..." and "FAIL ..." lines), and count
#                       them; a STATUS other than 0 without a FAIL line (a
#                       crash) counts as one failure
#   finish              "N passed, N failed (S s)"; exit 0 when none failed,
#                       else 1
# Running programs:
#   mk ARGS...          make, from inside `make test`: a make of its own, not
#                       a sub-make of the runner's
#   need_built FILE...  stop (exit 1) unless every FILE is built
#   need_torch [torchvision]  stop (exit 1) unless $PY imports torch (and
#                       torchvision)
# Generated code:
#   net_cc CC CFLAGS DRIVER DIR NAME OUT LIBS   build a test driver with the
#                       C cnnc generated as DIR/NAME.c
#   gen_run NET DIR G WHAT CC CFLAGS LIBS CNNC_FLAG N   cnnc --weights, build
#                       and run one mode of a network's generated code
# Runners:
#   run_suite NAME CMD...  run one suite or unit test, counted, its output in
#                       $B/tests/NAME.log (RUN_TAG, if set, marks every line)
#   run_units           every unit-test binary of $B/tests/compiler and runtime
#   suite_path NAME     the file of suite NAME (tests/*/NAME.sh)

B=${1:-build}
if [ $# -gt 0 ]; then shift; fi
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
REPO=$(cd "$(dirname "$0")" && while [ ! -f tests/lib.sh ] && [ "$(pwd)" != / ]; do cd ..; done; pwd)
cd "$REPO" || exit 1
B=${B#"$REPO"/}
case $B in /*) CNNC=$B/cnnc TRAIN=$B/cnnc-train ;; *) CNNC=$REPO/$B/cnnc TRAIN=$REPO/$B/cnnc-train ;; esac
PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
BLAS=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)
RT="$B/libcnnrt.a -fopenmp $BLAS -lcjson -lz -lm"   # link a program with cnnrt
GEN_CC=${GEN_CC:-cc}
GEN_CFLAGS=${GEN_CFLAGS:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- counting --------------------------------------------------------------------
pass=0
fail=0
failed=""
START=$(date +%s)

ok() { pass=$((pass + 1)); [ $# -eq 0 ] || echo "ok   $*"; }
no() { fail=$((fail + 1)); echo "FAIL $*"; }

tally() {
    cat "$1"
    _n=$(grep -c '^FAIL' "$1")
    [ "$2" -ne 0 ] && [ "$_n" -eq 0 ] && _n=1
    pass=$((pass + $(grep -c '^ok ' "$1")))
    fail=$((fail + _n))
}

finish() {
    echo
    [ -n "$failed" ] && echo "failed${RUN_TAG:+ ($RUN_TAG)}:$failed"
    echo "$pass passed, $fail failed${RUN_TAG:+ ($RUN_TAG)} ($(($(date +%s) - START)) s)"
    [ "$fail" -eq 0 ] && exit 0
    exit 1
}

# --- running programs --------------------------------------------------------------
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory "$@"; }

need_built() {
    for _f in "$@"; do
        [ -x "$_f" ] || { echo "error: $_f not found (build it with make)"; exit 1; }
    done
}

need_torch() {
    _mods=torch${1:+, $1}
    "$PY" -c "import $_mods" 2>/dev/null || { echo "error: $PY cannot import $_mods (scripts/deps.sh)"; exit 1; }
}

# --- generated code ---------------------------------------------------------------
# net_cc CC CFLAGS DRIVER DIR NAME OUT LIBS: compile DRIVER (a tests/ C file
# that includes NET_H and calls the network's API) with DIR/NAME.c into OUT,
# with -I DIR and the macros the drivers read: NET=NAME, NETU=NAME in capitals,
# NET_H="NAME.h", and SIDECAR when cnnc wrote the weights to DIR/NAME.weights.
# CFLAGS and LIBS are split into words; the compiler's messages go to stderr.
net_cc() {
    _side=""
    [ -f "$4/$5.weights" ] && _side=-DSIDECAR
    # shellcheck disable=SC2086
    $1 $2 -I"$4" -DNET="$5" -DNETU="$(echo "$5" | tr '[:lower:]' '[:upper:]')" -DNET_H="\"$5.h\"" $_side \
        "$3" "$4/$5.c" -o "$6" $7
}

# gen_run NET DIR G WHAT CC CFLAGS LIBS CNNC_FLAG N: one build of a network's
# generated code, for a check against PyTorch: cnnc NET --weights
# DIR/w.safetensors [CNNC_FLAG] writes G/NAME.c; it is built warning-free at
# -std=c99 -O2 CFLAGS with tests/codegen/driver.c and LIBS, and run on the N
# images of DIR/in.bin, writing DIR/out.bin.  On a failure says which step
# failed for NAME (WHAT), counts it, and returns 1.
gen_run() {
    _name=$(basename "$1" .net)
    mkdir -p "$3"
    # shellcheck disable=SC2086
    if ! "$CNNC" "$1" --weights "$2/w.safetensors" $8 -o "$3/$_name.c" 2>"$3/cnnc.log"; then
        no "$_name ($4): cnnc failed"; cat "$3/cnnc.log"; return 1
    fi
    if ! net_cc "$5" "-std=c99 -O2 $6 -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c "$3" "$_name" \
            "$3/run" "$7 -lm" 2>"$3/cc.log"; then
        no "$_name ($4): the generated C does not build cleanly"; head -20 "$3/cc.log"; return 1
    fi
    if ! OMP_NUM_THREADS=2 "$3/run" "$9" "$2/in.bin" "$2/out.bin" "$3/$_name.weights" 2>"$3/run.log"; then
        no "$_name ($4): the generated code failed"; cat "$3/run.log"; return 1
    fi
}

# --- runners -------------------------------------------------------------------------
run_suite() {
    _name=$1; shift
    mkdir -p "$B/tests"
    if "$@" >"$B/tests/$_name.log" 2>&1; then
        ok "$_name${RUN_TAG:+ ($RUN_TAG)}"
    else
        no "$_name (${RUN_TAG:+$RUN_TAG; }log: $B/tests/$_name.log)"
        failed="$failed $_name"
        tail -n 30 "$B/tests/$_name.log" | sed 's/^/      /'
    fi
}

run_units() {    # with B's cnnc (test_rt_genops runs it): build-san's under the sanitizers
    export CNNC
    for _t in "$B"/tests/compiler/test_cc_* "$B"/tests/runtime/test_rt_*; do
        [ -x "$_t" ] || continue
        run_suite "$(basename "$_t")" "$_t"
    done
}

suite_path() { ls tests/*/"$1".sh 2>/dev/null; }
