#!/bin/sh
# tests/e2e/suite_outputs.sh BUILD — what cnnc and cnnc-train do with the files
# they are told to write (docs/failures.md):
#   1. a device node (made with mknod in a temporary folder, never the
#      system's /dev; root only, else said and not counted) or a FIFO is
#      written in place, never replaced by a regular file; a full device is
#      an output failure, exit 2;
#   2. a symbolic link is followed: its target is replaced, the link stays
#      (a dangling link creates its target);
#   3. a failed write to standard output (a full device) exits 2 with a
#      message, for every kind of output and for --help;
#   4. -o DIR.c where DIR.c (or DIR.h) is a directory exits 2 and writes
#      nothing; a failed run (templates m4 rejects) leaves the old outputs
#      and no temporary file;
#   5. a .c and a .h of different compilations (inference and --train) do
#      not build together: #error;
#   6. cnnc --seed N and cnnc-train --seed N start from the same weights,
#      with the same default seed;
#   7. weights holding NaN or infinity are refused, naming the tensor.
set -u
. "$(dirname "$0")/../lib.sh"
NET=dsl_examples/lenet5.net
# leftovers DIR: temporary files cnnc or cnnc-train left in DIR
leftovers() { find "$1" -name '*.tmp.*' | head -3; }
# py_model FILE.py SEED: run the Python on stdin with `net`, an instance of the
# nn.Module that `cnnc --emit pytorch` wrote to FILE.py, made after
# torch.manual_seed(SEED); `torch`, `st` (tests/ref/st.py) and T at hand
py_model() {
    { cat <<'EOF'
import sys, importlib.util, torch
sys.path.insert(0, "tests/ref")
import st
T, path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = importlib.util.spec_from_file_location("exported", path)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
torch.manual_seed(seed)
net = [v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)][0]()
EOF
      cat; } | "$PY" - "$T" "$1" "$2"
}
TR="$TRAIN dsl_examples/lenet_relu.net --data $DATA --limit-train 128 --limit-test 64 --batch 64 --quiet"

# --- 1. device nodes and FIFOs -------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    mkdir "$T/dev"
    mknod "$T/dev/null" c 1 3 && mknod "$T/dev/full" c 1 7 || no "mknod failed"
    for what in "--dot" "--report" "--report=json" "--emit pytorch"; do
        # shellcheck disable=SC2086
        "$CNNC" $NET $what -o "$T/dev/null" 2>"$T/err"
        rc=$?
        if [ $rc -eq 0 ] && [ -c "$T/dev/null" ]; then ok "cnnc $what -o a null device: written in place, still a device"
        else no "cnnc $what -o a null device: exit $rc, $(ls -l "$T/dev/null")"; fi
        # shellcheck disable=SC2086
        "$CNNC" $NET $what -o "$T/dev/full" 2>"$T/err"
        rc=$?
        if [ $rc -eq 2 ] && [ -c "$T/dev/full" ] && grep -q "No space left on device" "$T/err"; then
            ok "cnnc $what -o a full device: exit 2, said why, still a device"
        else no "cnnc $what -o a full device: exit $rc, $(cat "$T/err"), $(ls -l "$T/dev/full")"; fi
    done
    if $TR --epochs 1 --save "$T/dev/null" --log "$T/dev/null" --plot "$T/dev/null" 2>"$T/err" &&
       [ -c "$T/dev/null" ] && [ -z "$(ls "$T/dev" | grep -v '^null$' | grep -v '^full$')" ]; then
        ok "cnnc-train --save, --log, --plot to a null device: written in place, nothing else created"
    else
        no "cnnc-train to a null device: $(cat "$T/err"); $(ls -l "$T/dev")"
    fi
    if $TR --epochs 1 --save "$T/dev/null" 2>"$T/err" && [ "$(ls "$T/dev" | tr '\n' ' ')" = "full null " ]; then
        ok "cnnc-train --save a null device: no log or plot created beside it (/dev/null.csv)"
    else
        no "cnnc-train --save a null device: $(cat "$T/err"); $(ls "$T/dev")"
    fi
    $TR --epochs 1 --save "$T/dev/full" 2>"$T/err"
    rc=$?
    if [ $rc -eq 2 ] && [ -c "$T/dev/full" ]; then ok "cnnc-train --save to a full device: exit 2, still a device"
    else no "cnnc-train --save to a full device: exit $rc, $(cat "$T/err")"; fi
    if [ -z "$(leftovers "$T/dev")" ]; then ok "no temporary files beside the devices"
    else no "temporary files left: $(leftovers "$T/dev")"; fi
else
    echo "skip device nodes: not root (mknod needs root); not counted"
fi
mkfifo "$T/fifo"
timeout 20 cat "$T/fifo" >"$T/fifo.out" &
reader=$!
timeout 20 "$CNNC" $NET --report -o "$T/fifo" 2>"$T/err"
rc=$?
wait $reader
"$CNNC" $NET --report >"$T/report.txt"
if [ $rc -eq 0 ] && [ -p "$T/fifo" ] && cmp -s "$T/fifo.out" "$T/report.txt"; then
    ok "cnnc --report -o a FIFO: the report goes through it, the FIFO stays"
else
    no "cnnc --report -o a FIFO: exit $rc, $(ls -l "$T/fifo")"
fi

# --- 2. symbolic links -------------------------------------------------------------
mkdir "$T/ln" "$T/ln/real"
echo old >"$T/ln/real/r.txt"
chmod 640 "$T/ln/real/r.txt"
ln -s real/r.txt "$T/ln/link.txt"
ln -s ../ln/link.txt "$T/ln/link2.txt"      # a chain, relative to each link
if "$CNNC" $NET --report -o "$T/ln/link2.txt" && [ -L "$T/ln/link.txt" ] && [ -L "$T/ln/link2.txt" ] &&
   cmp -s "$T/ln/real/r.txt" "$T/report.txt" && [ "$(stat -c %a "$T/ln/real/r.txt")" = 640 ] &&
   [ -z "$(leftovers "$T/ln")" ]; then
    ok "-o through two symbolic links: the target is replaced (mode 640 kept), the links stay"
else
    no "-o through symbolic links: $(ls -lR "$T/ln")"
fi
ln -s real/new.c "$T/ln/dangling.c"
if "$CNNC" $NET -o "$T/ln/dangling.c" && [ -L "$T/ln/dangling.c" ] && [ -f "$T/ln/real/new.c" ] &&
   [ -f "$T/ln/dangling.h" ]; then
    ok "-o a dangling link: its target is created, the link stays"
else
    no "-o a dangling link: $(ls -lR "$T/ln")"
fi

# --- 3. standard output that cannot be written -------------------------------------
if [ -c /dev/full ]; then
    for what in "--report" "--report=json" "--dot" "--emit pytorch -o -" "--help" "--help-layers"; do
        # shellcheck disable=SC2086
        "$CNNC" $NET $what >/dev/full 2>"$T/err"
        rc=$?
        if [ $rc -eq 2 ] && grep -q "cannot write to standard output" "$T/err"; then ok "cnnc $what > /dev/full: exit 2, said why"
        else no "cnnc $what > /dev/full: exit $rc, $(cat "$T/err")"; fi
    done
    $TR --epochs 1 --save "$T/s.st" --log - >/dev/full 2>"$T/err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "standard output" "$T/err"; then ok "cnnc-train --log - > /dev/full: exit 2, said why"
    else no "cnnc-train --log - > /dev/full: exit $rc, $(cat "$T/err")"; fi
fi

# --- 4. directories in the way; failed runs leave nothing --------------------------
mkdir "$T/d" "$T/d/m.c" "$T/d/n.h"
"$CNNC" $NET -o "$T/d/m.c" 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -e "$T/d/m.h" ] && grep -q "is a directory" "$T/err"; then ok "-o DIR.c: exit 2, no DIR.h written"
else no "-o DIR.c: exit $rc, $(ls "$T/d"), $(cat "$T/err")"; fi
"$CNNC" $NET -o "$T/d/n.c" 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -e "$T/d/n.c" ]; then ok "-o X.c where X.h is a directory: exit 2, no X.c written"
else no "-o X.c with X.h a directory: exit $rc, $(ls "$T/d")"; fi
mkdir "$T/old" "$T/tpl"
"$CNNC" $NET -o "$T/old/m.c" && cp "$T/old/m.c" "$T/m.c.ref" && cp "$T/old/m.h" "$T/m.h.ref"
cp compiler/templates/*.m4 "$T/tpl/"
echo 'm4_errprint([[broken]])m4_m4exit(1)' >>"$T/tpl/source.m4"
CNNC_TEMPLATE_DIR="$T/tpl" "$CNNC" $NET --seed 9 -o "$T/old/m.c" 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && cmp -s "$T/old/m.c" "$T/m.c.ref" && cmp -s "$T/old/m.h" "$T/m.h.ref" &&
   [ "$(ls "$T/old")" = "$(printf 'm.c\nm.h')" ]; then
    ok "a run whose templates fail: exit 2, the old .c and .h untouched, no temporary file"
else
    no "failed run: exit $rc, $(ls -a "$T/old"), $(cat "$T/err")"
fi

# --- 5. a .c and a .h of different compilations --------------------------------------
mkdir "$T/a" "$T/b"
sed 's/^dense out 10$/dense out 12/' $NET >"$T/n12.net"
grep -q "dense out 12" "$T/n12.net" || no "could not edit the network"
"$CNNC" $NET -o "$T/a/m.c" && "$CNNC" "$T/n12.net" -o "$T/b/m.c" || no "cnnc failed"
if cc -std=c99 -c "$T/a/m.c" -o "$T/a.o" && cc -std=c99 -c "$T/b/m.c" -o "$T/b.o"; then ok "each pair builds"
else no "a pair cnnc wrote together does not build"; fi
cp "$T/b/m.c" "$T/a/m.c"
if cc -std=c99 -c "$T/a/m.c" -o "$T/mixed.o" 2>"$T/err"; then no "a new .c built against the old .h"
elif grep -q "#error" "$T/err" && grep -q "was not written with this" "$T/err"; then ok "a new .c beside the old .h: #error"
else no "a mixed pair failed to build, but not by #error: $(head -3 "$T/err")"; fi
cp "$T/b/m.h" "$T/a/m.h"
"$CNNC" $NET -o "$T/b/m.c"
cp "$T/b/m.c" "$T/a/m.c"
if cc -std=c99 -c "$T/a/m.c" -o "$T/mixed.o" 2>"$T/err"; then no "an old .c built against the new .h"
elif grep -q "was not written with this" "$T/err"; then ok "an old .c beside the new .h: #error"
else no "mixed pair: $(head -3 "$T/err")"; fi
"$CNNC" $NET --train -o "$T/a/t.c" && "$CNNC" "$T/n12.net" --train -o "$T/b/t.c" || no "cnnc --train failed"
cp "$T/b/t.c" "$T/a/t.c"
if cc -std=c99 -Iruntime -c "$T/a/t.c" -o "$T/t.o" 2>"$T/err"; then no "mixed training .c and .h built"
elif grep -q "was not written with this" "$T/err"; then ok "a training .c beside another run's .h: #error"
else no "mixed training pair: $(head -3 "$T/err")"; fi

# --- 6. one seed, one set of weights ----------------------------------------------------
# cnnc-train --epochs 0 saves the initial weights; cnnc --weights of that file
# must write the same weights as cnnc --seed N (the same default seed too)
mkdir "$T/seed"
same_init() {  # same_init TAG [--seed N]
    tag=$1; shift
    if $TR --epochs 0 "$@" --save "$T/seed/$tag.st" 2>"$T/err" &&
       "$CNNC" dsl_examples/lenet_relu.net --weights "$T/seed/$tag.st" -o "$T/seed/${tag}_w.c" &&
       "$CNNC" dsl_examples/lenet_relu.net "$@" -o "$T/seed/${tag}_s.c"; then
        # lenet_relu's 5 MB of weights go to the sidecar (.weights): the
        # same network hash, the same floats, the same checksum
        if [ "$(wc -c <"$T/seed/${tag}_w.weights")" -gt 5000000 ] &&
           cmp -s "$T/seed/${tag}_w.weights" "$T/seed/${tag}_s.weights"; then return 0; fi
    fi
    cat "$T/err"
    return 1
}
if same_init s7 --seed 7; then ok "cnnc --seed 7 and cnnc-train --seed 7 start from the same weights"
else no "cnnc --seed 7 and cnnc-train --seed 7 differ"; fi
if same_init default; then ok "cnnc and cnnc-train default to the same seed and weights"
else no "the default seeds of cnnc and cnnc-train give different weights"; fi
if ! cmp -s "$T/seed/s7_s.weights" "$T/seed/default_s.weights"; then ok "another seed gives other weights"
else no "--seed 7 and the default wrote the same code"; fi

# --- 7. NaN and infinite weights are refused, naming the tensor -------------------------
"$CNNC" dsl_examples/lenet_relu.net --emit pytorch -o "$T/lr.py"
py_model "$T/lr.py" 3 <<'EOF'
sd = {k: v.detach().clone() for k, v in net.state_dict().items()}
names = sorted(k for k in sd if k.endswith(".weight"))
name = names[1]
sd[name].view(-1)[5] = float("nan")
st.save(sd, T + "/nan.safetensors")
sd[name].view(-1)[5] = float("-inf")
st.save(sd, T + "/inf.safetensors")
open(T + "/bad_name", "w").write(name)
EOF
bad=$(cat "$T/bad_name")
for kind in nan:NaN inf:-infinity; do
    f=${kind%%:*}
    word=${kind#*:}
    "$CNNC" dsl_examples/lenet_relu.net --weights "$T/$f.safetensors" -o "$T/nanw.c" 2>"$T/err"
    rc=$?
    if [ $rc -eq 1 ] && [ ! -e "$T/nanw.c" ] && grep -q "tensor '$bad' holds $word at index 5" "$T/err"; then
        ok "weights with $word in $bad: exit 1, the tensor and index named, nothing written"
    else
        no "weights with $word: exit $rc, $(cat "$T/err")"
    fi
done

# finite weights that folding a batchnorm makes infinite: the layer is named
printf 'network t input 1x8x8\nconv c1 4 k3\nbatchnorm bn1\nflatten\ndense out 3\n' >"$T/fold.net"
"$CNNC" "$T/fold.net" --emit pytorch -o "$T/fold.py"
py_model "$T/fold.py" 4 <<'EOF'
sd = {k: v.detach().clone() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
sd["bn1.weight"][1] = 3e38          # finite, but 3e38 / sqrt(0 + 1e-5) is not
sd["bn1.running_var"][1] = 0.0
st.save(sd, T + "/fold.safetensors")
EOF
"$CNNC" "$T/fold.net" --weights "$T/fold.safetensors" -o "$T/fold.c" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -e "$T/fold.c" ] &&
   grep -q "fold.net:2:1: error: conv 'c1': its weights (batchnorm bn1 folded in) hold infinity" "$T/err"; then
    ok "a batchnorm whose folding overflows: exit 1, the layer named, nothing written"
else
    no "folding overflow: exit $rc, $(cat "$T/err")"
fi

finish
