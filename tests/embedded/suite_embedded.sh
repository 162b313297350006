#!/bin/sh
# tests/embedded/suite_embedded.sh BUILD — the generated C on embedded
# targets, run under QEMU and compared with the host's run of the same C.
#
# Cortex-M4 (QEMU mps2-an386, bare metal, semihosting; cortex-m/ holds the
# startup code and the linker script), for lenet5 and convnetjs_mnist, each
# with its own seed for the weights (--seed) and the input:
#   - the model object builds alone at -Wdouble-promotion -Werror (a failure
#     is counted, and the rest runs on a build without -Werror for it);
#   - it calls no double-precision helper (__aeabi_d*, __adddf3, ...) nor a
#     double libm function;
#   - its writable memory (data + bss) is at most 1.25 x the activation
#     peak of cnnc --report=json + 4096 bytes;
#   - harness.c runs it on N images under qemu-system-arm (a fault or a hang
#     is a failure) and its outputs match the host's within
#     1e-5 x max(1, max|host|), none NaN, as many (cmp_hex.py).
# aarch64 (qemu-aarch64, static Linux binary): resnet20 the same way, and
# the disassembly of resnet20_tile, the GEMM micro-kernel, holds NEON fmla.
# Then the checks check themselves: a HardFault stops QEMU with a failure,
# and the comparison fails on a wrong value, a NaN and a missing value.
#
# A missing cross tool is a failure, not a skip (scripts/deps.sh installs
# them).  The host reference is built with GEN_CC GEN_CFLAGS (default cc).
#
# cnnc's options for each build (the host's reference takes the x86-64
# target's default mode, OpenBLAS included: what a PC user builds).
CM_FLAGS=${CM_FLAGS:---target cortex-m}                 # Cortex-M4 (implies --standalone)
A64_FLAGS=${A64_FLAGS:---target aarch64 --standalone}   # aarch64 Linux, NEON, no OpenBLAS
X86_FLAGS=${X86_FLAGS:---target x86-64}                 # the host's reference
set -u
. "$(dirname "$0")/../lib.sh"
need_built "$CNNC"

E=$REPO/tests/embedded
CFLAGS="-O2 -std=c99 -Wall -Wextra -Wpedantic -Werror -Wdouble-promotion"
M4="arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
M4_LINK="--specs=rdimon.specs -nostartfiles -T $E/cortex-m/mps2_an386.ld"
A64=aarch64-linux-gnu-gcc
HOST="$GEN_CC $GEN_CFLAGS"
BLAS_CFLAGS=$(pkg-config --cflags openblas 2>/dev/null)
TIMEOUT=120   # seconds for one run under QEMU: then it counts as hung
QEMU_M4="timeout $TIMEOUT qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none
         -semihosting-config enable=on,target=native -kernel"
QEMU_A64="timeout $TIMEOUT qemu-aarch64"

missing=0
for tool in arm-none-eabi-gcc arm-none-eabi-nm arm-none-eabi-size qemu-system-arm \
            aarch64-linux-gnu-gcc aarch64-linux-gnu-objdump qemu-aarch64 timeout "$GEN_CC"; do
    command -v "$tool" >/dev/null || { no "$tool not found (scripts/deps.sh installs it)"; missing=1; }
done
[ $missing -eq 0 ] || finish

# gen NAME SEED FLAGS DIR: cnnc writes DIR/NAME.c and .h
gen() {
    mkdir -p "$4"
    # shellcheck disable=SC2086
    "$CNNC" "dsl_examples/$1.net" --seed "$2" $3 -o "$4/$1.c" 2>"$4/cnnc.log" && return 0
    no "$1 (cnnc $3) failed"; cat "$4/cnnc.log"; return 1
}

# model CC NAME DIR WHAT: DIR/model.o from DIR/NAME.c with CC $CFLAGS; a
# build that fails there is counted and redone without
# -Werror=double-promotion, so that the other checks still run
model() {
    # shellcheck disable=SC2086
    if $1 $CFLAGS -c "$3/$2.c" -o "$3/model.o" 2>"$3/model.log"; then
        ok "$2 ($4): the model builds at -Wdouble-promotion -Werror"; return 0
    fi
    no "$2 ($4): the model does not build at $CFLAGS"; grep -m 6 'error' "$3/model.log"
    # shellcheck disable=SC2086
    $1 $CFLAGS -Wno-error=double-promotion -c "$3/$2.c" -o "$3/model.o" 2>/dev/null
}

# harness CC NAME DIR N SEED LINK...: DIR/run, harness.c with DIR/model.o
harness() {
    _cc=$1 _name=$2 _d=$3 _n=$4 _seed=$5
    shift 5
    # shellcheck disable=SC2086
    $_cc $CFLAGS -I"$_d" -DNET="$_name" -DNETU="$(echo "$_name" | tr '[:lower:]' '[:upper:]')" \
        -DNET_H="\"$_name.h\"" -DN="$_n" -DSEED="$_seed" "$E/harness.c" "$_d/model.o" -o "$_d/run" "$@" \
        2>"$_d/link.log" && return 0
    no "$_name: the harness does not build or link in $_d"; head -20 "$_d/link.log"; return 1
}

# host NAME SEED N DIR: the reference, generated with $X86_FLAGS, built for
# this machine and run; its output in DIR/out.txt.  Runs in the background
# (while the target builds), its messages in DIR/host.out: host_wait PID DIR
# waits for it and counts them.
host() {
    gen "$1" "$2" "$X86_FLAGS" "$4" || return 1
    # shellcheck disable=SC2086
    $HOST $CFLAGS -Wno-double-promotion $BLAS_CFLAGS -c "$4/$1.c" -o "$4/model.o" 2>"$4/model.log" ||
        { no "$1 (host): the model does not build"; head "$4/model.log"; return 1; }
    # shellcheck disable=SC2086
    harness "$HOST" "$1" "$4" "$3" "$2" $BLAS -lm || return 1
    "$4/run" >"$4/out.txt" 2>"$4/run.log" || { no "$1 (host): the harness failed"; cat "$4/run.log"; return 1; }
}
host_wait() {
    wait "$1"
    _st=$?
    tally "$2/host.out" $_st
    return $_st
}

# compare NAME WHAT GOT REF: one check, the largest difference in its line
compare() {
    if r=$($PY "$E/cmp_hex.py" "$3" "$4"); then ok "$1 ($2): outputs match the host's: $r"
    else no "$1 ($2): outputs differ from the host's: $r"; fi
}

# ran NAME WHAT STATUS DIR: the emulator's exit status STATUS as a check
ran() {
    case $3 in
        0) return 0 ;;
        124) no "$1 ($2): hung (killed after $TIMEOUT s)" ;;
        *) no "$1 ($2): the run failed (exit status $3)"; tail -n 5 "$4/out.txt" "$4/run.log" ;;
    esac
    return 1
}

# --- Cortex-M4 -----------------------------------------------------------------------
mkdir -p "$T/m4rt"
# shellcheck disable=SC2086
$M4 $CFLAGS -c "$E/cortex-m/startup.c" -o "$T/m4rt/startup.o" 2>"$T/m4rt/log" ||
    { no "cortex-m/startup.c does not build"; cat "$T/m4rt/log"; }

for spec in lenet5:11 convnetjs_mnist:23; do
    name=${spec%:*} seed=${spec#*:} n=3 d=$T/$name
    mkdir -p "$d/x86"
    host "$name" "$seed" "$n" "$d/x86" >"$d/x86/host.out" 2>&1 &
    hostpid=$!
    target_ok=1
    if gen "$name" "$seed" "$CM_FLAGS" "$d/m4" && model "$M4" "$name" "$d/m4" cortex-m4; then
        dbl=$(arm-none-eabi-nm -u "$d/m4/model.o" | awk '{ print $NF }' |
              grep -E '^__aeabi_(c?d|[a-z0-9]+2d$)|^__[a-z]+df|^(exp|log|tanh|sqrt|pow|erf|fabs|floor|ceil)$' |
              tr '\n' ' ')
        if [ -z "$dbl" ]; then ok "$name (cortex-m4): no double-precision helper in model.o"
        else no "$name (cortex-m4): model.o calls double-precision helpers: $dbl"; fi
        ram=$(arm-none-eabi-size "$d/m4/model.o" | awk 'NR == 2 { print $2 + $3 }')
        peak=$("$CNNC" "dsl_examples/$name.net" --report=json | $PY -c \
            'import json, sys; print(json.load(sys.stdin)["totals"]["activation_bytes_peak"])')
        case $peak$ram in
            '' | *[!0-9]*) no "$name (cortex-m4): no RAM size ($ram) or activation peak ($peak)" ;;
            *) limit=$((peak * 5 / 4 + 4096))
               if [ "$ram" -le "$limit" ]; then ok "$name (cortex-m4): RAM (data + bss) $ram B <= 1.25 x peak $peak B + 4096"
               else no "$name (cortex-m4): RAM (data + bss) $ram B > 1.25 x peak $peak B + 4096 = $limit B"; fi ;;
        esac
        # shellcheck disable=SC2086
        if harness "$M4" "$name" "$d/m4" "$n" "$seed" "$T/m4rt/startup.o" $M4_LINK -lm; then
            # shellcheck disable=SC2086
            $QEMU_M4 "$d/m4/run" </dev/null >"$d/m4/out.txt" 2>"$d/m4/run.log"
            ran "$name" "cortex-m4 under qemu-system-arm" $? "$d/m4" && target_ok=0
        fi
    fi
    host_wait $hostpid "$d/x86" && [ $target_ok -eq 0 ] && compare "$name" cortex-m4 "$d/m4/out.txt" "$d/x86/out.txt"
done

# --- aarch64 -------------------------------------------------------------------------
name=resnet20 seed=5 d=$T/resnet20
mkdir -p "$d/x86"
host "$name" "$seed" 2 "$d/x86" >"$d/x86/host.out" 2>&1 &
hostpid=$!
target_ok=1
if gen "$name" "$seed" "$A64_FLAGS" "$d/a64" && model "$A64" "$name" "$d/a64" aarch64; then
    tile=$(aarch64-linux-gnu-objdump -d "$d/a64/model.o" |
           awk '/^[0-9a-f]+ <resnet20_tile>:$/ { f = 1; next } f && /^$/ { exit } f')
    nfmla=$(echo "$tile" | grep -c '	fmla	')
    if [ -z "$tile" ]; then no "$name (aarch64): no function resnet20_tile in model.o"
    elif [ "$nfmla" -gt 0 ]; then ok "$name (aarch64): resnet20_tile has $nfmla NEON fmla"
    else no "$name (aarch64): resnet20_tile has no fmla (no NEON micro-kernel)"; fi
    if harness "$A64" "$name" "$d/a64" 2 "$seed" -static -lm; then
        $QEMU_A64 "$d/a64/run" </dev/null >"$d/a64/out.txt" 2>"$d/a64/run.log"
        ran "$name" "aarch64 under qemu-aarch64" $? "$d/a64" && target_ok=0
    fi
fi
host_wait $hostpid "$d/x86" && [ $target_ok -eq 0 ] && compare "$name" aarch64 "$d/a64/out.txt" "$d/x86/out.txt"

# --- examples/cortex-m: a camera frame in, a digit out -------------------------------
# classify.c as docs/embedding.md builds it (the arena in .sram2), with
# camera.c's synthetic frames, on the M4 and on the host.
name=convnetjs_mnist seed=31 d=$T/example
X=$REPO/examples/cortex-m
for where in m4 x86; do
    if [ $where = m4 ]; then cc=$M4 flags=$CM_FLAGS link="$T/m4rt/startup.o $M4_LINK -lm"
    else cc=$HOST flags=$X86_FLAGS link="$BLAS -lm"; fi
    mkdir -p "$d/$where"
    gen "$name" "$seed" "$flags" "$d/$where" || continue
    # shellcheck disable=SC2086
    if ! $cc $CFLAGS $BLAS_CFLAGS "-DCONVNETJS_MNIST_ARENA_SECTION=\".sram2\"" -c "$d/$where/$name.c" \
            -o "$d/$where/model.o" 2>"$d/$where/log" ||
       ! $cc $CFLAGS -I"$d/$where" -I"$X" -DN=3 -DSEED=$seed "$X/classify.c" "$E/camera.c" "$d/$where/model.o" \
            -o "$d/$where/run" $link 2>>"$d/$where/log"; then
        no "examples/cortex-m ($where) does not build"; head -20 "$d/$where/log"; continue
    fi
    if [ $where = m4 ]; then
        sec=$(arm-none-eabi-objdump -h "$d/m4/run" | awk '$2 == ".sram2" { print $3 }')
        if [ "$((0x${sec:-0}))" -eq 23040 ] &&
           arm-none-eabi-objdump -t "$d/m4/run" | grep -q ' \.sram2	[0-9a-f]* convnetjs_mnist_arena$'; then
            ok "examples/cortex-m: the arena is .sram2, 23040 bytes"
        else no "examples/cortex-m: .sram2 is ${sec:-missing} (hex), the arena not in it"; fi
        $QEMU_M4 "$d/m4/run" </dev/null >"$d/m4/out.txt" 2>"$d/m4/run.log"
        ran "examples/cortex-m" "cortex-m4 under qemu-system-arm" $? "$d/m4" || rm -f "$d/m4/out.txt"
    elif ! "$d/x86/run" >"$d/x86/out.txt" 2>"$d/x86/run.log"; then
        no "examples/cortex-m (host) failed"; cat "$d/x86/run.log"; rm -f "$d/x86/out.txt"
    fi
done
[ -f "$d/m4/out.txt" ] && [ -f "$d/x86/out.txt" ] &&
    compare "examples/cortex-m" "3 camera frames: digit, confidence" "$d/m4/out.txt" "$d/x86/out.txt"

# --- the checks can fail ---------------------------------------------------------------
printf '#include <stdio.h>\nint main(void) { puts("crash"); return (int)*(volatile unsigned *)0xF0000000u; }\n' \
    >"$T/m4rt/crash.c"
# shellcheck disable=SC2086
if ! $M4 $CFLAGS $M4_LINK "$T/m4rt/startup.o" "$T/m4rt/crash.c" -o "$T/m4rt/crash" 2>"$T/m4rt/log"; then
    no "the crashing program does not build"; cat "$T/m4rt/log"
else
    # shellcheck disable=SC2086
    $QEMU_M4 "$T/m4rt/crash" </dev/null >"$T/m4rt/out" 2>&1
    st=$?
    if [ $st -ne 0 ] && grep -q 'fault: HardFault' "$T/m4rt/out"; then ok "a HardFault stops QEMU with status $st"
    else no "a HardFault: exit status $st, output: $(cat "$T/m4rt/out")"; fi
fi
ref=$T/lenet5/x86/out.txt
if [ -f "$ref" ]; then
    for bad in '1s/.*/42c80000/' '1s/.*/7fc00000/' '1d'; do   # 100.0, NaN, a line less
        sed "$bad" "$ref" >"$T/bad.txt"
        if r=$($PY "$E/cmp_hex.py" "$T/bad.txt" "$ref"); then no "the comparison passes an output edited by sed '$bad': $r"
        else ok "the comparison fails an output edited by sed '$bad': $r"; fi
    done
fi
finish
