#!/bin/sh
# tests/sanitizers/suite_valgrind.sh BUILD — no leaks and no invalid accesses under
# valgrind (--leak-check=full; definite and indirect leaks are errors):
#   1. cnnc compiling lenet5 (weights to a sidecar);
#   2. the generated lenet5 (standalone C, -O1 -g) run by tests/codegen/driver.c
#      on two images, which also checks the API's argument errors (NULL, n = 0,
#      a small or misaligned workspace, forward before the weights are loaded);
#   3. load_weights given lenet_relu's sidecar, a truncated sidecar and an
#      empty file: each must fail with its error code, cleanly;
#   4. cnnc-train for one short epoch on a small copy of Fashion-MNIST, saving
#      a checkpoint, then resuming from it for one more: 32 training and 16
#      test images in make test; with VALGRIND_FULL=1 (make test-large), 256
#      and 64 (valgrind runs the trainer ~50x slower: minutes).
set -u
. "$(dirname "$0")/../lib.sh"
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
VG="$VG --show-leak-kinds=definite,indirect --track-origins=yes"
if ! command -v valgrind >/dev/null; then no "valgrind is not installed (scripts/deps.sh)"; exit 1; fi

# vg NAME WANT CMD...: run CMD under valgrind; exit status WANT, no valgrind error
vg() {
    name=$1; want=$2; shift 2
    $VG "$@" >"$T/out" 2>"$T/err"
    st=$?
    if [ "$st" -eq 99 ] || grep -q '^==[0-9]*==' "$T/err"; then
        no "$name: valgrind reports errors"; head -n 40 "$T/err" | sed 's/^/     /'
    elif [ "$st" -ne "$want" ]; then
        no "$name: exit status $st, expected $want"; head -n 10 "$T/err" | sed 's/^/     /'
    else
        ok "$name: clean under valgrind"
    fi
}

# 1. cnnc
vg "cnnc lenet5.net --embed-limit 0 -o lenet5.c" 0 "$CNNC" dsl_examples/lenet5.net --embed-limit 0 --standalone \
    -o "$T/lenet5.c"
"$CNNC" dsl_examples/lenet_relu.net --embed-limit 0 --standalone -o "$T/lenet_relu.c"

# 2. the generated code
python3 -c '
import random, struct, sys
random.seed(3)
sys.stdout.buffer.write(struct.pack("<%df" % (2 * 1024), *[random.uniform(-1, 1) for _ in range(2 * 1024)]))
' >"$T/in.bin"
if net_cc cc "-std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c "$T" lenet5 "$T/run" -lm \
        2>"$T/cc.err"; then
    vg "generated lenet5 on 2 images, API argument checks" 0 "$T/run" 2 "$T/in.bin" "$T/out.bin" "$T/lenet5.weights"
    # 3. weights that do not belong, through load_weights alone
    cat >"$T/load.c" <<'C'
#include "lenet5.h"
#include <stdio.h>
int main(int argc, char **argv) {
    int rc = argc > 1 ? lenet5_load_weights(argv[1]) : -1;
    printf("%s\n", lenet5_strerror(rc));
    return rc == 0 ? 0 : 1;
}
C
    cc -std=c99 -O1 -g -Wall -Wextra -Werror -I"$T" "$T/load.c" "$T/lenet5.c" -o "$T/load" -lm
    head -c 1000 "$T/lenet5.weights" >"$T/trunc.weights"
    : >"$T/empty.weights"
    for w in lenet_relu:"another network" trunc:"truncated" empty:"truncated" lenet5:"ok|success|no error"; do
        f=${w%%:*}; msg=${w#*:}
        st=1; [ "$f" = lenet5 ] && st=0
        vg "load_weights($f.weights) into lenet5: $(echo "$msg" | sed 's/|.*//')" "$st" "$T/load" "$T/$f.weights"
        grep -Eq "$msg" "$T/out" || no "load_weights($f.weights): expected '$msg', got '$(cat "$T/out")'"
    done
else
    no "the generated lenet5 does not build"; cat "$T/cc.err"
fi

# 4. cnnc-train on a small copy of the dataset (valgrind is ~50x slower)
mkdir -p "$T/data"
python3 - "$DATA" "$T/data" <<'PY'
import gzip, os, sys
src, dst = sys.argv[1], sys.argv[2]
def read(name):
    for n in (name, name + ".gz"):
        p = os.path.join(src, n)
        if os.path.exists(p):
            return (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
    raise SystemExit("no %s in %s" % (name, src))
for split, n in (("train", 512), ("t10k", 128)):
    im, lb = read(split + "-images-idx3-ubyte"), read(split + "-labels-idx1-ubyte")
    with open(os.path.join(dst, split + "-images-idx3-ubyte"), "wb") as f:
        f.write(im[:4] + n.to_bytes(4, "big") + im[8:16] + im[16:16 + n * 784])
    with open(os.path.join(dst, split + "-labels-idx1-ubyte"), "wb") as f:
        f.write(lb[:4] + n.to_bytes(4, "big") + lb[8:8 + n])
PY
NTR=32; NTE=16
[ "${VALGRIND_FULL:-0}" = 1 ] && { NTR=256; NTE=64; }
TR="$TRAIN dsl_examples/lenet_relu.net --data $T/data --limit-train $NTR --limit-test $NTE --batch 32 --quiet"
export OPENBLAS_NUM_THREADS=1
vg "cnnc-train, 1 epoch of $NTR images, --save" 0 $TR --epochs 1 --save "$T/c.st"
vg "cnnc-train --resume, 1 more epoch" 0 $TR --epochs 2 --save "$T/c.st" --resume "$T/c.st"

finish
