#!/bin/sh
# tests/e2e/suite_quantize.sh BUILD — cnnc --quantize int8 --calibrate: the
# command line, and the calibration ranges against an independent reference:
#   - the options go together (--calibrate needs --quantize int8 and the
#     reverse) and take only what they document;
#   - images that are not the network's input, and a missing file, are
#     errors naming the file;
#   - the range cnnc reports for each layer of its int8 plan (minmax over
#     the first 300 Fashion-MNIST training images) is the one PyTorch's float
#     model gives for the layer the plan says it holds (tests/ref/calib_ref.py,
#     over the same images, the model from --emit pytorch, seeded weights,
#     lenet_relu's normalised);
#   - which layer as written each planned layer holds, checked by hand on
#     resnet20_fashion: a conv with its batchnorm folded and relu fused holds
#     the relu's output, without a relu the batchnorm's, a residual add with
#     its relu the relu's;
#   - percentile=100 keeps the whole range; kl and percentile keep a range
#     inside it, from 0 for a tensor with no negative values.
set -u
. "$(dirname "$0")/../lib.sh"
need_built "$CNNC"
need_torch
R20=$REPO/dsl_examples/resnet20_fashion.net
LENET=$REPO/dsl_examples/lenet_relu.net
IMG=$DATA/train-images-idx3-ubyte.gz
IMG_TEST=$DATA/t10k-images-idx3-ubyte.gz

# run ARGS... : $rc, $T/out, $T/err of cnnc
run() { "$CNNC" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect() {   # expect RC PATTERN DESCRIPTION
    if [ "$rc" -eq "$1" ] && grep -q -- "$2" "$T/err"; then ok "$3 (exit $rc)"
    else no "$3: exit $rc, expected $1 and '$2'"; sed 's/^/     /' "$T/err" | head -5; fi
}

# --- the command line ----------------------------------------------------------
run "$R20" --quantize int4 --calibrate "$DATA" --report
expect 2 "takes int8, not 'int4'" "--quantize int4 is refused"
run "$R20" --calibrate "$DATA" --report
expect 2 "goes with --quantize int8" "--calibrate without --quantize"
run "$R20" --quantize int8 --report
expect 2 "needs --calibrate DATA" "--quantize without --calibrate"
run "$R20" --quantize int8 --calibrate "$DATA" --calibration median --report
expect 2 "takes minmax, kl, percentile" "--calibration median"
run "$R20" --quantize int8 --calibrate "$DATA" --calibration percentile=0 --report
expect 2 "0 < P <= 100" "--calibration percentile=0"
run "$R20" --quantize int8 --calibrate "$DATA" --calibrate-n -3 --report
expect 2 "non-negative integer" "--calibrate-n -3"
run "$R20" --quantize int8 --calibrate "$DATA" --emit pytorch -o "$T/x.py"
expect 2 "is for generated C, its report and --dot" "--quantize with --emit pytorch"
run "$R20" --quantize int8 --calibrate "$T/none" --report
expect 1 "$T/none" "a missing calibration file is named"
run "$REPO/dsl_examples/resnet20.net" --quantize int8 --calibrate "$DATA" --calibrate-n 10 --report
expect 1 "the images are 28x28, one channel (IDX), but the network 'resnet20' takes 3" \
    "images that are not the network's input"
run "$R20" --quantize int8 --calibrate "$DATA" --keep-float layer1.0.relu --report
expect 1 "layer 'layer1.0.relu' is folded or fused into another: name the layer it is part of" \
    "--keep-float of a layer fused away"
run "$R20" --quantize int8 --calibrate "$DATA" --keep-float conv1,nosuch --report
expect 1 "the network 'resnet20_fashion' has no layer 'nosuch'" "--keep-float of a layer that does not exist"
run "$R20" --int8-io -o "$T/x.c"
expect 2 "--int8-io is the API of an int8 build" "--int8-io without --quantize"
run "$R20" --quantize int8 --calibrate "$DATA" --calibrate-n 20 --keep-float fc --int8-io -o "$T/x.c"
expect 1 "--int8-io: the output layer dense 'fc' runs in float (--keep-float)" "--int8-io with a float output layer"
run "$R20" --quantize int8 --calibrate "$DATA" --calibrate-n 20 --keep-float conv1 --int8-io -o "$T/x.c"
expect 1 "--int8-io: conv 'conv1' reads the input in float (--keep-float)" "--int8-io with a float layer on the input"
run "$R20" --keep-float conv1 --report
expect 2 "goes with --quantize int8" "--keep-float without --quantize"
printf 'not float32' >"$T/odd.f32"
run "$R20" --quantize int8 --calibrate "$T/odd.f32" --report
expect 1 "odd.f32: 11 bytes, expected a whole number of the network's inputs of 784 float32" \
    "a .f32 file that is not whole inputs"

run eval "$R20" --quantize int8
expect 2 "--data DIR is needed" "cnnc eval without --data"
run eval "$R20" --data "$DATA" --quantize int8
expect 2 "go together" "cnnc eval --quantize without --calibrate"
run eval "$REPO/dsl_examples/resnet20.net" --data "$DATA"
expect 1 "but 'resnet20' takes 3" "cnnc eval on images that are not the network's input"

# --- the ranges against PyTorch's ---------------------------------------------------
# the initial weights of seed 5 (cnnc-train --epochs 0), lenet_relu's with the
# training set's normalisation in the checkpoint, which calibration applies
for net in "$LENET" "$R20"; do
    b=$(basename "$net" .net)
    norm=""; [ "$net" = "$LENET" ] && norm="--normalize auto"
    # shellcheck disable=SC2086
    if "$TRAIN" "$net" --data "$DATA" --epochs 0 --seed 5 $norm --save "$T/$b.safetensors" --quiet 2>"$T/err" &&
       "$CNNC" "$net" --emit pytorch -o "$T/$b.py" 2>>"$T/err" &&
       "$CNNC" "$net" --weights "$T/$b.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 300 \
           --report=json -o "$T/$b.json" 2>>"$T/err"; then
        "$PY" tests/ref/calib_ref.py "$net" "$T/$b.json" "$T/$b.py" "$IMG" 300 "$T/$b.safetensors" >"$T/ref.out" 2>&1
        tally "$T/ref.out" $?
    else no "$b: cnnc --quantize --report=json"; cat "$T/err"; fi
done

# --- what each planned layer holds ---------------------------------------------------
"$PY" - "$T/resnet20_fashion.json" >"$T/holds.out" 2>&1 <<'EOF'
import json, sys
layers = {l["name"]: l for l in json.load(open(sys.argv[1]))["int8"]["layers"]}
want = {"input": "input", "conv1": "relu", "layer1.0.conv1": "layer1.0.relu", "layer1.0.conv2": "layer1.0.bn2",
        "layer1.0.add": "layer1.0.relu_2", "layer2.0.shortcut.0": "layer2.0.shortcut.1",
        "globalavgpool": "globalavgpool", "fc": "fc"}
bad = [(k, layers.get(k, {}).get("holds"), v) for k, v in want.items() if layers.get(k, {}).get("holds") != v]
print("FAIL holds (layer, cnnc, expected): %s" % bad if bad else
      "ok   resnet20_fashion: %d planned layers hold the outputs expected by hand" % len(want))
EOF
tally "$T/holds.out" $?

# --- percentile and kl -----------------------------------------------------------------
for m in percentile=100 percentile=99.9 kl; do
    if "$CNNC" "$R20" --seed 5 --quantize int8 --calibrate "$DATA" --calibrate-n 300 --calibration "$m" \
           --report=json -o "$T/$m.json" 2>"$T/err"; then
        "$PY" - "$T/$m.json" "$m" >"$T/m.out" 2>&1 <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))["int8"]
m, bad = sys.argv[2], []
for l in q["layers"]:
    lo, hi, a, b = l["lo"], l["hi"], l["min"], l["max"]
    if m == "percentile=100" and (lo != a or hi != b):
        bad.append("%s kept [%g, %g] of [%g, %g]" % (l["name"], lo, hi, a, b))
    if not (a <= lo <= hi <= b) or (a >= 0 and lo < 0) or (a == 0 and m == "kl" and lo != 0):
        bad.append("%s kept [%g, %g] of [%g, %g]" % (l["name"], lo, hi, a, b))
clipped = sum(1 for l in q["layers"] if l["hi"] < l["max"])
print("FAIL %s: %s" % (m, bad[:4]) if bad else
      "ok   %s: every kept range inside the range seen (%d of %d clipped above)" % (m, clipped, len(q["layers"])))
EOF
        tally "$T/m.out" $?
    else no "--calibration $m"; cat "$T/err"; fi
done
# --- the int8 code -----------------------------------------------------------------
#   - builds warning-free as C99 (gcc and clang), no allocation, its
#     header states the input's and output's scales, and a second run writes
#     the same bytes;
#   - cnnc eval: its float top-1 is cnnc-train's test accuracy, its int8
#     top-1 what the int8 code predicts, its confusion matrices count every
#     image once, and it gives every int8 layer's error;
#   - every output integer of the int8 code (lenet_relu on 500 test images,
#     resnet20_fashion on 100) equals an independent numpy reference's
#     (tests/ref/q8_ref.py), computed from the float weights and the
#     reported scales by the rules of docs/quantize.md;
#   - PyTorch's own static quantization of the same weights (onednn where
#     Debian's torch has no fbgemm) gets the same float top-1 and an int8
#     top-1 within 1 point of cnnc's on the same 500 images;
#   - on a lenet_relu trained briefly here (3,000 images, one epoch), the int8
#     code predicts the class the float code predicts for at least 97% of 500
#     test images, and its outputs stay within a few output steps of the
#     float ones (every layer adds at most half a step of rounding).
if "$TRAIN" "$LENET" --data "$DATA" --epochs 1 --limit-train 3000 --limit-test 500 --normalize auto --seed 2 \
       --save "$T/l1.safetensors" --quiet 2>"$T/err" &&
   "$CNNC" "$LENET" --weights "$T/l1.safetensors" --embed-limit 100000000 -o "$T/lf.c" 2>>"$T/err" &&
   "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
       -o "$T/lq.c" 2>>"$T/err"; then
    ok "lenet_relu: int8 C written"
    for cc in gcc clang; do
        if $cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -c "$T/lq.c" -o "$T/lq_$cc.o" 2>"$T/cc" &&
           $cc -std=c99 -O2 -march=native -Wall -Wextra -Wpedantic -Werror -c "$T/lq.c" -o "$T/lqn_$cc.o" 2>"$T/cc"; then
            ok "$cc -std=c99 -Wall -Wextra -Wpedantic -Werror builds the int8 C (and with -march=native)"
        else no "$cc on the int8 C"; head -5 "$T/cc"; fi
    done
    if ! nm "$T/lq_gcc.o" | grep -q -w -e malloc -e calloc -e free; then ok "the int8 C allocates nothing"
    else no "the int8 C calls the allocator"; fi
    if grep -q "int8" "$T/lq.c" && grep -q "quantize to int8" "$T/lq.c"; then ok "the int8 C quantizes its input first"
    else no "no input quantization in the int8 C"; fi
    # the convs as u8 x s8 products (VNNI where -march has it, else plain C)
    # and as direct loops (CNNC_Q8_DIRECT=1) give the same integers
    CNNC_Q8_DIRECT=1 "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" \
        --calibrate-n 500 -o "$T/ld.c" 2>>"$T/err"
    if grep -q "_q8_tile(" "$T/lq.c" && ! grep -q "_q8_tile(" "$T/ld.c"; then ok "CNNC_Q8_DIRECT=1 writes the direct loops"
    else no "the int8 conv paths: q8_tile in lq.c and not in ld.c"; fi
    mkdir -p "$T/again"
    "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
        -o "$T/again/lq.c" 2>>"$T/err"
    if cmp -s "$T/lq.c" "$T/again/lq.c" && cmp -s "$T/lq.h" "$T/again/lq.h"; then
        ok "the int8 C is the same bytes from another run in another folder"
    else no "two runs wrote different int8 C"; fi
    cat >"$T/drv.c" <<'EOF2'
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>
#include NETH
int main(int argc, char **argv) {
    gzFile f = gzopen(argv[1], "rb");
    static unsigned char im[16 + 500 * 784];
    if (!f || gzread(f, im, sizeof im) != (int)sizeof im) return 2;
    gzclose(f);
    FILE *o = fopen(argv[2], "wb");
    static float in[784], out[10];
    for (int i = 0; i < 500; i++) {
        for (int k = 0; k < 784; k++) in[k] = im[16 + i * 784 + k] / 255.0f;
        if (F(forward)(in, out) != 0) return 3;
        fwrite(out, sizeof out, 1, o);
    }
    return fclose(o) != 0;
}
EOF2
    for v in lf lq ld; do
        cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"$v.h\"" -D"F(x)=lenet_relu_##x" "$T/drv.c" "$T/$v.c" \
            -o "$T/$v" $BLAS -lz -lm 2>"$T/cc" &&
            "$T/$v" "$IMG_TEST" "$T/$v.out" || { no "build or run the $v driver"; head -5 "$T/cc"; }
    done
    cc -std=c99 -O2 -march=x86-64 -I"$T" -DNETH="\"lq.h\"" -D"F(x)=lenet_relu_##x" "$T/drv.c" "$T/lq.c" \
        -o "$T/lqc" -lz -lm 2>"$T/cc" && "$T/lqc" "$IMG_TEST" "$T/lqc.out" || no "build or run the plain C int8 driver"
    # (the AVX2 path, -march=haswell, where the CPU runs it)
    avx2=""
    if grep -q avx2 /proc/cpuinfo; then
        avx2="; AVX2"
        cc -std=c99 -O2 -march=haswell -I"$T" -DNETH="\"lq.h\"" -D"F(x)=lenet_relu_##x" "$T/drv.c" "$T/lq.c" \
            -o "$T/lqa" -lz -lm 2>"$T/cc" && objdump -d "$T/lqa" | grep -q vpmaddwd && "$T/lqa" "$IMG_TEST" "$T/lqa.out" ||
            no "build or run the AVX2 int8 driver"
    fi
    if cmp -s "$T/lq.out" "$T/ld.out" && cmp -s "$T/lq.out" "$T/lqc.out" && { [ -z "$avx2" ] || cmp -s "$T/lq.out" "$T/lqa.out"; }; then
        ok "int8 convs as products (-march=native$(grep -q avx512_vnni /proc/cpuinfo && echo ', VNNI')$avx2; plain C) and as direct loops: the same outputs"
    else no "the int8 conv paths differ"; fi
    # every output integer of the int8 code is the independent numpy
    # reference's (tests/ref/q8_ref.py: the integers from the float weights
    # and the reported scales, written from docs/quantize.md); and of
    # resnet20_fashion's (seed 5: strided convs, shortcuts, adds, the pool)
    "$CNNC" "$LENET" --emit pytorch -o "$T/lenet.py" 2>>"$T/err"
    "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
        --report=json -o "$T/lq.json" 2>>"$T/err"
    "$PY" tests/ref/q8_ref.py --net "$LENET" --weights "$T/l1.safetensors" --report "$T/lq.json" \
        --pymodel "$T/lenet.py" --images "$IMG_TEST" --outputs "$T/lq.out" --n 500 >"$T/ref8.out" 2>&1
    tally "$T/ref8.out" $?
    # --keep-float fc2: the last layer in float on fc1's int8 output
    # dequantized (a float copy of it made after fc1); the reference computes
    # that layer in numpy from the checkpoint's float weights
    if "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
           --keep-float fc2 -o "$T/lk.c" 2>"$T/err" &&
       "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
           --keep-float fc2 --report=json -o "$T/lk.json" 2>>"$T/err" &&
       cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"lk.h\"" -D"F(x)=lenet_relu_##x" "$T/drv.c" "$T/lk.c" \
           -o "$T/lk" -lz -lm 2>"$T/cc" && "$T/lk" "$IMG_TEST" "$T/lk.out"; then
        "$PY" tests/ref/q8_ref.py --net "$LENET" --weights "$T/l1.safetensors" --report "$T/lk.json" \
            --pymodel "$T/lenet.py" --images "$IMG_TEST" --outputs "$T/lk.out" --n 500 --keep-float fc2 \
            >"$T/refk.out" 2>&1
        tally "$T/refk.out" $?
        "$PY" - "$T/lk.json" >"$T/lkr.out" 2>&1 <<'EOF2'
import json, sys
L = {l["name"]: l for l in json.load(open(sys.argv[1]))["int8"]["layers"]}
want = {"fc2": ("float", "--keep-float", None), "fc1": ("int8", None, "float"), "conv1": ("int8", None, None)}
bad = ["%s: %s" % (k, (L[k].get("precision"), L[k].get("float_why"), L[k].get("copy")))
       for k, v in want.items() if (L[k].get("precision"), L[k].get("float_why"), L[k].get("copy")) != v]
print("FAIL --keep-float report: " + "; ".join(bad) if bad else
      "ok   --keep-float fc2: the report says fc2 runs in float (--keep-float) and fc1 has a float copy")
EOF2
        tally "$T/lkr.out" $?
    else no "lenet_relu --keep-float fc2"; cat "$T/err" "$T/cc" | head -5; fi
    # --int8-io: the caller quantizes the normalised input as the header
    # says and reads the output's integers: the same outputs, bit for bit,
    # as the float API's code
    cat >"$T/drvio.c" <<'EOF2'
#include <math.h>
#include <stdio.h>
#include <zlib.h>
#include NETH
int main(int argc, char **argv) {
    gzFile f = argc == 3 ? gzopen(argv[1], "rb") : NULL;
    static unsigned char im[16 + 500 * 784];
    static int8_t in[784], out[10];
    if (!f || gzread(f, im, sizeof im) != (int)sizeof im) return 2;
    gzclose(f);
    FILE *o = fopen(argv[2], "wb");
    for (int i = 0; i < 500; i++) {
        for (int k = 0; k < 784; k++) {
            float x = (im[16 + i * 784 + k] / 255.0f - NORM_MEAN) / NORM_STD;
            long q = lroundf(x / P(IN_SCALE)) + P(IN_ZERO_POINT);
            in[k] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
        }
        if (F(forward)(in, out) != 0) return 3;
        float y[10];
        for (int k = 0; k < 10; k++) y[k] = (float)(out[k] - P(OUT_ZERO_POINT)) * P(OUT_SCALE);
        fwrite(y, sizeof y, 1, o);
    }
    return fclose(o) != 0;
}
EOF2
    if "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$DATA" --calibrate-n 500 \
           --int8-io -o "$T/lio.c" 2>"$T/err" &&
       norm=$(sed -n 's/.*((x - mean) \/ std, \([^,]*\),\([^:]*\): .*/-DNORM_MEAN=\1f -DNORM_STD=\2f/p' "$T/lio.h") &&
       [ -n "$norm" ] && grep -q "int lenet_relu_forward(const int8_t \*in, int8_t \*out);" "$T/lio.h" &&
       gcc -std=c99 -O2 -march=native -Wall -Wextra -Wpedantic -Werror -I"$T" -DNETH="\"lio.h\"" \
           -D"F(x)=lenet_relu_##x" -D"P(x)=LENET_RELU_##x" $norm "$T/drvio.c" "$T/lio.c" -o "$T/lio" -lz -lm 2>"$T/cc" &&
       "$T/lio" "$IMG_TEST" "$T/lio.out" && cmp -s "$T/lio.out" "$T/lq.out"; then
        ok "--int8-io: int8 in and out (quantized by the header's maps) give the float API's outputs bit for bit"
    else no "--int8-io"; cat "$T/err" "$T/cc" | head -5; fi
    # and with channels in and out (3x6x5 to 5x6x5: the orders transposed
    # on the way in and out), on 40 random inputs
    printf 'network chans input 3x6x5\nconv a 4 k3 p1 relu\nconv b 5 k3 p1\n' >"$T/chans.net"
    "$PY" -c "
import numpy as np
np.random.default_rng(4).standard_normal((60, 3, 6, 5)).astype('<f4').tofile('$T/chans.f32')"
    cat >"$T/drvc.c" <<'EOF2'
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include NETH
int main(int argc, char **argv) {
    FILE *f = argc == 3 ? fopen(argv[1], "rb") : NULL, *o = argc == 3 ? fopen(argv[2], "wb") : NULL;
    static float x[P(IN_SIZE)], y[P(OUT_SIZE)];
    if (!f || !o) return 2;
    while (fread(x, sizeof x, 1, f) == 1) {
#ifdef INT8IO
        static int8_t in[P(IN_SIZE)], out[P(OUT_SIZE)];
        for (int k = 0; k < P(IN_SIZE); k++) {
            long q = lroundf(x[k] / P(IN_SCALE)) + P(IN_ZERO_POINT);
            in[k] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
        }
        if (F(forward)(in, out) != 0) return 3;
        for (int k = 0; k < P(OUT_SIZE); k++) y[k] = (float)(out[k] - P(OUT_ZERO_POINT)) * P(OUT_SCALE);
#else
        if (F(forward)(x, y) != 0) return 3;
#endif
        fwrite(y, sizeof y, 1, o);
    }
    return fclose(o) != 0;
}
EOF2
    if "$CNNC" "$T/chans.net" --quantize int8 --calibrate "$T/chans.f32" --calibrate-n 20 -o "$T/cf.c" 2>"$T/err" &&
       "$CNNC" "$T/chans.net" --quantize int8 --calibrate "$T/chans.f32" --calibrate-n 20 --int8-io \
           -o "$T/ci.c" 2>>"$T/err" &&
       cc -std=c99 -O2 -I"$T" -DNETH="\"cf.h\"" -D"F(x)=chans_##x" -D"P(x)=CHANS_##x" "$T/drvc.c" "$T/cf.c" \
           -o "$T/cf" -lm 2>"$T/cc" &&
       cc -std=c99 -O2 -I"$T" -DINT8IO -DNETH="\"ci.h\"" -D"F(x)=chans_##x" -D"P(x)=CHANS_##x" "$T/drvc.c" \
           "$T/ci.c" -o "$T/ci" -lm 2>>"$T/cc" &&
       "$T/cf" "$T/chans.f32" "$T/cf.out" && "$T/ci" "$T/chans.f32" "$T/ci.out" &&
       [ "$(wc -c <"$T/cf.out")" = $((60 * 150 * 4)) ] && cmp -s "$T/cf.out" "$T/ci.out"; then
        ok "--int8-io with 3 channels in and 5x6x5 out: the float API's outputs bit for bit on 60 inputs"
    else no "--int8-io with channels"; cat "$T/err" "$T/cc" | head -5; fi
    # an int8 conv's product shared out over two threads (rows of its padded
    # input, then tiles of pixels): the same outputs as on one
    printf 'network big input 16x20x20\nconv a 64 k3 p1 relu\nconv b 64 k3 p1 s2\nconv c 40 k3 p1 relu\n' >"$T/big.net"
    "$PY" -c "
import numpy as np
np.random.default_rng(6).standard_normal((12, 16, 20, 20)).astype('<f4').tofile('$T/big.f32')"
    if "$CNNC" "$T/big.net" --quantize int8 --calibrate "$T/big.f32" -o "$T/big.c" 2>"$T/err" &&
       "$CNNC" "$T/big.net" --quantize int8 --calibrate "$T/big.f32" --report >"$T/big.rep" 2>>"$T/err" &&
       [ "$(grep -c 'int8 product  *shared by tiles of 8 pixels' "$T/big.rep")" = 3 ] &&
       cc -std=c99 -O2 -march=native -fopenmp -I"$T" -DNETH="\"big.h\"" -D"F(x)=big_##x" -D"P(x)=BIG_##x" \
           "$T/drvc.c" "$T/big.c" -o "$T/bigt" -lm 2>"$T/cc" &&
       OMP_NUM_THREADS=1 "$T/bigt" "$T/big.f32" "$T/b1.out" && OMP_NUM_THREADS=2 "$T/bigt" "$T/big.f32" "$T/b2.out" &&
       [ "$(wc -c <"$T/b1.out")" = $((12 * 4000 * 4)) ] && cmp -s "$T/b1.out" "$T/b2.out"; then
        ok "int8 products shared by tiles over 2 threads (the report says so): the outputs of 1 thread"
    else no "int8 products over 2 threads"; cat "$T/err" "$T/cc" | head -5; grep int8 "$T/big.rep" | head -3; fi
    # grouped convs (depthwise, and 4 groups strided) run as int8 direct
    # loops: within a few percent of the float C on 20 random inputs
    printf 'network dw input 8x12x12\nconv a 8 k3 p1 g8 relu\nconv b 16 k1\nconv c 16 k3 s2 p1 g4 relu\n' >"$T/dw.net"
    "$PY" -c "
import numpy as np
np.random.default_rng(8).standard_normal((40, 8, 12, 12)).astype('<f4').tofile('$T/dw.f32')"
    if "$CNNC" "$T/dw.net" --quantize int8 --calibrate "$T/dw.f32" --calibrate-n 20 -o "$T/dwq.c" 2>"$T/err" &&
       "$CNNC" "$T/dw.net" --quantize int8 --calibrate "$T/dw.f32" --calibrate-n 20 --report >"$T/dw.rep" 2>>"$T/err" &&
       [ "$(grep -c 'int8 direct' "$T/dw.rep")" = 2 ] &&
       "$CNNC" "$T/dw.net" --standalone -o "$T/dwf.c" 2>>"$T/err" &&
       cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"dwq.h\"" -D"F(x)=dw_##x" -D"P(x)=DW_##x" "$T/drvc.c" \
           "$T/dwq.c" -o "$T/dwq" -lm 2>"$T/cc" &&
       cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"dwf.h\"" -D"F(x)=dw_##x" -D"P(x)=DW_##x" "$T/drvc.c" \
           "$T/dwf.c" -o "$T/dwf" -lm 2>>"$T/cc" &&
       "$T/dwq" "$T/dw.f32" "$T/dwq.out" && "$T/dwf" "$T/dw.f32" "$T/dwf.out"; then
        "$PY" - "$T/dwq.out" "$T/dwf.out" >"$T/dw.out" 2>&1 <<'EOF2'
import sys
import numpy as np
q, f = (np.fromfile(p, dtype=np.float32)[20 * 576:] for p in sys.argv[1:3])   # the 20 inputs not calibrated on
rel = float(np.linalg.norm(q - f) / np.linalg.norm(f))
print(("ok   " if q.size == 20 * 576 and rel < 0.04 else "FAIL ") +
      "grouped int8 convs (direct loops): relative L2 error %.4f against the float C on 20 inputs" % rel)
EOF2
        tally "$T/dw.out" $?
    else no "grouped int8 convs"; cat "$T/err" "$T/cc" | head -5; fi
    # --calibrate FILE.f32: the same 500 training images as raw float32
    # inputs, made here as the trainer feeds them (x/255, then the
    # checkpoint's normalisation): the same ranges as from the IDX file
    "$PY" - "$DATA" "$T/l1.safetensors" "$T/cal.f32" <<'EOF2'
import gzip, json, os, sys
import numpy as np
sys.path.insert(0, "tests/ref")
import st
p = os.path.join(sys.argv[1], "train-images-idx3-ubyte")
b = open(p, "rb").read() if os.path.exists(p) else gzip.open(p + ".gz").read()
x = np.frombuffer(b[16:16 + 500 * 784], dtype=np.uint8).astype(np.float32) / np.float32(255)
mean, std = (np.float32(v) for v in st.load(sys.argv[2], with_metadata=True)[1]["normalize"].split(","))
((x - mean) / std).astype("<f4").tofile(sys.argv[3])
EOF2
    "$CNNC" "$LENET" --weights "$T/l1.safetensors" --quantize int8 --calibrate "$T/cal.f32" --calibrate-n 800 \
        --report=json -o "$T/lf32.json" 2>>"$T/err"
    "$PY" - "$T/lq.json" "$T/lf32.json" >"$T/f32.out" 2>&1 <<'EOF2'
import json, sys
a, b = (json.load(open(p))["int8"] for p in sys.argv[1:3])
bad = [] if b["images"] == 500 else ["%s images run, the file holds 500" % b["images"]]
for x, y in zip(a["layers"], b["layers"]):
    for k in ("min", "max", "lo", "hi"):
        if abs(x[k] - y[k]) > 1e-6 * max(1.0, abs(x[k])): bad.append("%s %s %g, from the IDX file %g" % (x["name"], k, y[k], x[k]))
if len(a["layers"]) != len(b["layers"]) or not a["layers"]: bad.append("layer lists differ")
print("FAIL --calibrate FILE.f32: " + "; ".join(bad[:5]) if bad else
      "ok   --calibrate FILE.f32 (500 raw inputs): the ranges of %d layers are the IDX file's" % len(a["layers"]))
EOF2
    tally "$T/f32.out" $?
    if "$CNNC" "$R20" --weights "$T/resnet20_fashion.safetensors" --quantize int8 --calibrate "$DATA" \
           --calibrate-n 300 -o "$T/rq.c" 2>"$T/err" &&
       cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"rq.h\"" -D"F(x)=resnet20_fashion_##x" "$T/drv.c" "$T/rq.c" \
           -o "$T/rq" -lz -lm 2>"$T/cc" && "$T/rq" "$IMG_TEST" "$T/rq.out"; then
        "$PY" tests/ref/q8_ref.py --net "$R20" --weights "$T/resnet20_fashion.safetensors" \
            --report "$T/resnet20_fashion.json" --pymodel "$T/resnet20_fashion.py" --images "$IMG_TEST" \
            --outputs "$T/rq.out" --n 100 >"$T/ref8r.out" 2>&1
        tally "$T/ref8r.out" $?
    else no "resnet20_fashion int8 C"; cat "$T/err" "$T/cc" | head -5; fi
    "$PY" - "$T/lf.out" "$T/lq.out" "$T/lq.h" >"$T/agree.out" 2>&1 <<'EOF2'
import re, sys
import numpy as np
f = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 10)
q = np.fromfile(sys.argv[2], dtype=np.float32).reshape(-1, 10)
h = open(sys.argv[3]).read()
m = re.search(r"output: int8 scale ([0-9.e+-]+)", h)
agree = (f.argmax(1) == q.argmax(1)).mean()
step = float(m.group(1)) if m else float("nan")
worst = np.abs(f - q).max() / step
print(("ok   " if agree >= 0.97 and worst < 8 else "FAIL ") +
      "lenet_relu: int8 and float agree on %.1f%% of %d test images; largest output difference %.2f output steps"
      % (100 * agree, len(f), worst))
EOF2
    tally "$T/agree.out" $?

    # cnnc eval: its float top-1 is the trainer's test accuracy on the same
    # 500 images, its int8 top-1 what the int8 code above predicts, its
    # confusion matrices hold every image once, and it lists every int8 layer
    if "$CNNC" eval "$LENET" --weights "$T/l1.safetensors" --data "$DATA" --limit 500 --quantize int8 \
           --calibrate "$DATA" --calibrate-n 500 --layers 20 >"$T/eval.out" 2>"$T/err"; then
        "$PY" - "$T/eval.out" "$T/l1.safetensors.csv" "$T/lq.out" "$DATA/t10k-labels-idx1-ubyte.gz" \
            "$T/lq.json" >"$T/ev.out" 2>&1 <<'EOF2'
import gzip, re, sys
import numpy as np
text = open(sys.argv[1]).read()
bad = []
fl = float(re.search(r"float\s+([0-9.]+)%", text).group(1))
q8 = float(re.search(r"int8\s+([0-9.]+)%", text).group(1))
trainer = float(open(sys.argv[2]).read().strip().splitlines()[-1].split(",")[5])
labels = np.frombuffer(gzip.open(sys.argv[4]).read()[8:8 + 500], dtype=np.uint8)
pred = np.fromfile(sys.argv[3], dtype=np.float32).reshape(-1, 10).argmax(1)
own = 100.0 * (pred == labels).mean()
if abs(fl - trainer) > 0.005: bad.append("float top-1 %.2f, the trainer's %.2f" % (fl, trainer))
if abs(q8 - own) > 0.005: bad.append("int8 top-1 %.2f, the int8 code's own %.2f" % (q8, own))
for m in re.finditer(r"confusion matrix, (\w+).*?\n((?:\s+\d+(?: +\d+){10}\n){10})", text, re.S):
    rows = [[int(v) for v in l.split()[1:]] for l in m.group(2).strip().splitlines()]
    if sum(map(sum, rows)) != 500: bad.append("%s confusion matrix holds %d images" % (m.group(1), sum(map(sum, rows))))
    diag = sum(rows[i][i] for i in range(10)) / 5.0
    if abs(diag - (fl if m.group(1) == "float" else q8)) > 0.005: bad.append("%s diagonal %.2f" % (m.group(1), diag))
layers = re.findall(r"^\s+\d+\s+(\S+).*?\s([0-9.]+)\s+([0-9.]+)$", text.split("per-layer error")[1], re.M)
if len(layers) != 7: bad.append("%d int8 layers listed, lenet_relu has 7" % len(layers))
# each layer's int8 value against its float one: a few percent off (a
# trace read in the wrong element order is about 140% off), and the SQNR
# is -20 log10 of the relative L2 error
for name, rel, sqnr in layers:
    if not float(rel) < 0.1: bad.append("%s: relative L2 error %s" % (name, rel))
    elif abs(float(sqnr) + 20 * np.log10(float(rel))) > 0.05: bad.append("%s: SQNR %s for %s" % (name, sqnr, rel))
print("FAIL cnnc eval: " + "; ".join(bad) if bad else
      "ok   cnnc eval: float %.2f%% (the trainer's), int8 %.2f%% (the int8 code's), 2 confusion matrices, "
      "7 layers' SQNR" % (fl, q8))
EOF2
        tally "$T/ev.out" $?
        # PyTorch's own post-training static quantization of the same weights,
        # calibrated on the same 500 images (tests/ref/quant_torch.py): its
        # float top-1 is cnnc eval's, its int8 top-1 within 1 point of cnnc's
        if "$PY" tests/ref/quant_torch.py --net "$LENET" --weights "$T/l1.safetensors" --data "$DATA" \
               --calibrate-n 500 --limit-test 500 --cnnc "$CNNC" --json --quiet >"$T/torch.json" 2>"$T/torch.err"; then
            "$PY" - "$T/torch.json" "$T/eval.out" >"$T/tq.out" 2>&1 <<'EOF2'
import json, re, sys
t = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
fl = float(re.search(r"float\s+([0-9.]+)%", text).group(1))
q8 = float(re.search(r"int8\s+([0-9.]+)%", text).group(1))
tf, tq = float(t["float_top1"]), float(t["int8_top1"])
ok = abs(tf - fl) < 0.005 and abs(tq - q8) <= 1.0
print(("ok   " if ok else "FAIL ") + "PyTorch (%s, %s): float %.2f%% (cnnc eval %.2f%%), int8 %.2f%% (cnnc %.2f%%)"
      % (t.get("engine"), t.get("mode"), tf, fl, tq, q8))
EOF2
            tally "$T/tq.out" $?
        else no "quant_torch.py"; tail -5 "$T/torch.err"; fi
    else no "cnnc eval"; cat "$T/err"; fi
else no "lenet_relu int8"; cat "$T/err"; fi

# A layer without int8 code, or whose activation is not a clamp, stays
# float, with a copy of its neighbours' outputs in the other precision:
# lenet5 (tanh convs and dense, average pools; untrained, seed 1),
# calibrated on 200 random inputs (FILE.f32), against its float C on 50
# others: the few int8 layers cost a few percent of the output
L5=$REPO/dsl_examples/lenet5.net
"$PY" -c "
import numpy as np
r = np.random.default_rng(11)
r.standard_normal((200, 1, 32, 32)).astype('<f4').tofile('$T/l5cal.f32')
r.standard_normal((50, 1, 32, 32)).astype('<f4').tofile('$T/l5in.f32')"
cat >"$T/drv5.c" <<'EOF2'
#include <stdio.h>
#include NETH
int main(int argc, char **argv) {
    FILE *f = argc == 3 ? fopen(argv[1], "rb") : NULL, *o = argc == 3 ? fopen(argv[2], "wb") : NULL;
    static float in[1024], out[10];
    if (!f || !o) return 2;
    while (fread(in, sizeof in, 1, f) == 1) {
        if (F(forward)(in, out) != 0) return 3;
        fwrite(out, sizeof out, 1, o);
    }
    return fclose(o) != 0;
}
EOF2
if "$CNNC" "$L5" --quantize int8 --calibrate "$T/l5cal.f32" -o "$T/l5q.c" 2>"$T/err" &&
   "$CNNC" "$L5" --quantize int8 --calibrate "$T/l5cal.f32" --report=json -o "$T/l5q.json" 2>>"$T/err" &&
   "$CNNC" "$L5" --embed-limit 100000000 -o "$T/l5f.c" 2>>"$T/err" &&
   gcc -std=c99 -O2 -march=native -Wall -Wextra -Wpedantic -Werror -I"$T" -DNETH="\"l5q.h\"" \
       -D"F(x)=lenet5_##x" "$T/drv5.c" "$T/l5q.c" -o "$T/l5q" -lm 2>"$T/cc" &&
   cc -std=c99 -O2 -march=native -I"$T" -DNETH="\"l5f.h\"" -D"F(x)=lenet5_##x" "$T/drv5.c" "$T/l5f.c" \
       -o "$T/l5f" $BLAS -lm 2>>"$T/cc" &&
   "$T/l5q" "$T/l5in.f32" "$T/l5q.out" && "$T/l5f" "$T/l5in.f32" "$T/l5f.out"; then
    "$PY" - "$T/l5q.json" "$T/l5q.out" "$T/l5f.out" >"$T/l5.out" 2>&1 <<'EOF2'
import json, sys
import numpy as np
L = {l["name"]: l for l in json.load(open(sys.argv[1]))["int8"]["layers"]}
want = {"input": ("float", None), "c1": ("float", None), "avgpool": ("float", None), "c5": ("int8", "float"),
        "f6": ("float", "int8"), "out": ("int8", None), "avgpool_2": ("float", "int8")}
bad = ["%s: %s %s" % (k, L[k].get("precision"), L[k].get("copy")) for k, v in want.items()
       if (L[k].get("precision"), L[k].get("copy")) != v]
if "tanh has no int8 form" not in L["c1"].get("float_why", ""): bad.append("c1: %s" % L["c1"].get("float_why"))
if "no int8 code for avgpool" not in L["avgpool"].get("float_why", ""): bad.append("avgpool: %s" % L["avgpool"].get("float_why"))
q, f = (np.fromfile(p, dtype=np.float32).reshape(-1, 10) for p in sys.argv[2:4])
rel = float(np.linalg.norm(q - f) / np.linalg.norm(f))
if q.shape != (50, 10) or not rel < 0.05: bad.append("%s outputs, relative L2 error %.4f against float" % (q.shape, rel))
print("FAIL lenet5 int8 with float layers: " + "; ".join(bad) if bad else
      "ok   lenet5: tanh and avgpool layers stay float (the report says why), c5/out int8 between copies; "
      "outputs within %.2f%% (relative L2) of the float C's on 50 random inputs" % (100 * rel))
EOF2
    tally "$T/l5.out" $?
    # --dot of the int8 build: each layer says what it runs in, and the edges
    # where a copy is made are labelled (avgpool_2 -> c5, c5 -> f6 through the
    # flatten, f6 -> out)
    if "$CNNC" "$L5" --quantize int8 --calibrate "$T/l5cal.f32" --dot -o "$T/l5.dot" 2>"$T/err" &&
       [ "$(grep -c 'label="quantize"' "$T/l5.dot")" = 2 ] && [ "$(grep -c 'label="dequantize"' "$T/l5.dot")" = 1 ] &&
       grep -q "float: its tanh has no int8 form" "$T/l5.dot" && grep -q "int8 · scale" "$T/l5.dot" &&
       dot -Tsvg "$T/l5.dot" -o "$T/l5.svg" 2>>"$T/err"; then
        ok "--dot of an int8 build: precision per layer, 2 quantize and 1 dequantize edges"
    else no "--dot of the int8 build"; grep -n "quantize\|int8" "$T/l5.dot" | head -5; cat "$T/err"; fi
else no "lenet5 int8 with float layers"; cat "$T/err" "$T/cc" | head -5; fi
finish
