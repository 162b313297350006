#!/bin/sh
# tests/import/suite_import_onnx.sh BUILD [NAME...] — cnnc import of ONNX
# models that PyTorch exported (tests/ref/onnx_ref.py: the hand-written
# models of tests/ref/torchvision_ref.py, or torchvision's; weights
# randomised).  make test: the five small ones; make test-large (run_large.sh):
# alexnet vgg16 resnet18 resnet50 densenet121 googlenet mobilenet_v2
# volume3d squeezenet1_0 (dsl_examples/ecg1d.net is not among them:
# torch.onnx.export refuses its adaptive_avg_pool1d to 8 of 125, "output
# size that are not factor of input size").  For each
# network and opset (11 and 17; `folded`: at 11, the batch norms left to
# the exporter, which folds them into the convs):
#   1. cnnc import NAME.onnx -o NAME.net writes NAME.net and NAME.safetensors;
#   2. the imported .net reports the params and MACs of dsl_examples/NAME.net
#      where there is one (not for `folded`: its convs carry the folded
#      biases instead), and its repeated structures (FOLDS below: ResNet's
#      basic blocks, Inception modules, dense layers, fire modules, MobileNet's
#      conv-batchnorm-relu6) are
#      calls of blocks: the layers of every repetition on the lines of one
#      block's body;
#   3. cnnc NAME.net --weights NAME.safetensors, default and --standalone,
#      built and run on 2 random inputs, gives PyTorch's outputs (≤ 1e-4 of
#      the largest); so does cnnc NAME.onnx -o NAME.c, both steps in one,
#      and (at 11) the model with its initializers moved to a side file as
#      ONNX's external data (tests/import/onnx_external.c).
# Round trip: cnnc NAME.net --emit pytorch, exported to ONNX and imported,
# compiles to the same outputs as NAME.net itself (both against the
# exported module's PyTorch outputs, with its weights).
# The exporter's other operators: the handnets of tests/ref/handnets.py
# that use them (OPS_HANDNETS: every activation, GELU, SiLU, Mish and
# softplus with beta as decomposed by the exporter; PReLU, channel shuffle and split, the mean
# merge, transposed convs and upsampling, F.pad's computed pads, depthwise
# convs of images and signals, a volume's convs and pools; unet_small:
# dsl_examples/unet_small.net), their .net
# through cnnc --emit pytorch, exported at opset 17 (with NAMES, as in
# make test-large: 11) and imported; and tests/ref/onnx_ref.py's UpDown
# (ConvTranspose2d with output_padding, Upsample/interpolate nearest and
# bilinear, align_corners either way; chunk, slices, GELU, channel
# shuffles) and UpDown1d (the same of a signal) at 9 and 17 (with NAMES:
# 11): each compiled with the imported weights gives PyTorch's outputs on
# 2 random inputs.
# Then the errors: an unsupported operator (every one named, nothing
# written), Resize mode cubic, a truncated model, a file that is not ONNX.
. "$(dirname "$0")/../lib.sh"
need_built "$CNNC"
need_torch
NAMES=${*:-"lenet5 resnet20 lenet_relu convnetjs_mnist convnetjs_cifar10"}
OPS_HANDNETS=${OPS_HANDNETS-"acts prelu shuffle merges unet unet_small dw dwsig volume3d"}
if [ $# -eq 0 ]; then OPS_OPSETS=17 OPS_UPDOWN="9 17"; else OPS_OPSETS=11 OPS_UPDOWN=11; fi   # make test; run_large

# tests/import/onnx_external.c: moves a model's initializers to a side file
$GEN_CC -std=c11 -D_XOPEN_SOURCE=700 -O1 -I"$B/import" tests/import/onnx_external.c "$B/import/onnx.pb-c.o" \
    -lprotobuf-c -o "$T/onnx_external" 2>"$T/onnx_external.log" || { no "build tests/import/onnx_external.c"; cat "$T/onnx_external.log"; }

# the repeated structures each net must come back with as calls of blocks:
# NAME:REGEX:N:LINES, N layers whose names match REGEX (one per repetition of
# the structure, counted from the model) written on LINES lines in all (a
# block's body), where the text without blocks has N
FOLDS="resnet20:^layer[0-9][.][0-9][.]conv2\$:9:2 resnet18:^layer[0-9][.][0-9][.]conv2\$:8:2
resnet50:^layer[0-9][.][0-9]+[.]conv3\$:16:2 googlenet:^inception[0-9][ab-e][.]branch1[.]conv\$:9:1
densenet121:[.]denselayer[0-9]+[.]conv2\$:58:2 squeezenet1_0:[.]expand3x3\$:8:1
mobilenet_v2:^features[.][0-9]+[.]conv[.][0-9][.]0\$:33:1"
folds() {    # folds NAME JSON-REPORT: "" when NAME has no entry, else "ok: ..." or "no: ..."
    for f in $FOLDS; do
        [ "${f%%:*}" = "$1" ] || continue
        "$PY" - "$2" "$f" <<'PY'
import json, re, sys
name, rx, n, lines = sys.argv[2].split(":")
ls = [l for l in json.load(open(sys.argv[1]))["layers"] if re.search(rx, l["name"])]
at = sorted({l["line"] for l in ls})
ok = len(ls) == int(n) and len(at) == int(lines)
print("%s: %d layers matching %s (expected %s), on %d line%s %s (expected %s): %s" %
      ("ok" if ok else "no", len(ls), rx, n, len(at), "" if len(at) == 1 else "s", at, lines,
       "calls of blocks" if ok else "not folded as expected"))
PY
    done
}

totals() {   # totals JSON-REPORT: "params MACs"
    "$PY" -c 'import json, sys; t = json.load(open(sys.argv[1]))["totals"]; print(t["params"], t["macs"])' "$1"
}

for name in $NAMES; do
    for opset in 11 17 folded; do
        D="$T/$name.$opset"; mkdir -p "$D"
        o=$opset; f=""
        [ "$opset" = folded ] && { o=11; f=folded; }
        if ! "$PY" tests/ref/onnx_ref.py export "$name" "$o" "$D" $f >"$D/export.log" 2>&1; then
            no "$name ($opset): torch.onnx.export failed"; tail -5 "$D/export.log"; continue
        fi
        if ! "$CNNC" import "$D/$name.onnx" -o "$D/$name.net" 2>"$D/import.log"; then
            no "$name ($opset): cnnc import failed"; cat "$D/import.log"; continue
        fi
        if [ "$opset" != folded ]; then          # repeated structures as blocks
            "$CNNC" "$D/$name.net" --report=json -o "$D/imp.json"
            r=$(folds "$name" "$D/imp.json")
            case "$r" in
                ok:*) ok "$name ($opset): ${r#ok: }: $(grep -c '^block ' "$D/$name.net") blocks";;
                no:*) no "$name ($opset): ${r#no: }"; grep -n '^block\|^#' "$D/$name.net" | head;;
            esac
        fi
        if [ "$opset" != folded ] && [ -f "dsl_examples/$name.net" ]; then
            "$CNNC" "$D/$name.net" --report=json -o "$D/imp.json" && "$CNNC" "dsl_examples/$name.net" --report=json -o "$D/ref.json"
            a=$(totals "$D/imp.json"); b=$(totals "$D/ref.json")
            if [ "$a" = "$b" ]; then ok "$name ($opset): imported params and MACs $a, as dsl_examples/$name.net"
            else no "$name ($opset): imported params and MACs $a, dsl_examples/$name.net $b"; fi
        fi
        cp "$D/$name.safetensors" "$D/w.safetensors"
        for mode in default standalone; do
            flag=""; libs="$BLAS"
            [ $mode = standalone ] && { flag=--standalone; libs=""; }
            gen_run "$D/$name.net" "$D" "$D/$mode" "$opset, $mode" "$GEN_CC" "$GEN_CFLAGS" "$libs" "$flag" 2 || continue
            if "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then ok "$name ($opset, $mode): $(cat "$D/check")"
            else no "$name ($opset, $mode): $(cat "$D/check")"; fi
            rm -f "$D/out.bin"
        done
        if [ "$opset" = 11 ]; then                 # the one step: cnnc NAME.onnx -o NAME.c
            mkdir -p "$D/one"
            if "$CNNC" "$D/$name.onnx" -o "$D/one/$name.c" 2>"$D/one/cnnc.log" &&
               net_cc "$GEN_CC" "-std=c99 -O2 $GEN_CFLAGS -Wall -Wextra -Wpedantic -Werror" tests/codegen/driver.c \
                   "$D/one" "$name" "$D/one/run" "$BLAS -lm" 2>>"$D/one/cnnc.log" &&
               "$D/one/run" 2 "$D/in.bin" "$D/out.bin" "$D/one/$name.weights" 2>>"$D/one/cnnc.log" &&
               "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then
                ok "$name: cnnc $name.onnx -o $name.c in one step: $(cat "$D/check")"
            else
                no "$name: cnnc $name.onnx -o $name.c in one step"; cat "$D/one/cnnc.log" "$D/check" 2>/dev/null
            fi
            rm -f "$D/out.bin"
            # the initializers in a side file (ONNX's external data)
            if [ -x "$T/onnx_external" ] && mkdir -p "$D/ext" &&
               "$T/onnx_external" "$D/$name.onnx" "$D/ext/$name.onnx" weights.bin >"$D/ext/log" 2>&1 &&
               "$CNNC" import "$D/ext/$name.onnx" -o "$D/ext/$name.net" 2>>"$D/ext/log" &&
               cp "$D/ext/$name.safetensors" "$D/w.safetensors" &&
               gen_run "$D/ext/$name.net" "$D" "$D/ext/gen" "external data" "$GEN_CC" "$GEN_CFLAGS" "$BLAS" "" 2 &&
               "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then
                ok "$name: initializers as external data ($(cat "$D/ext/log" | head -1 | sed 's| to .*||')): $(cat "$D/check")"
            else
                no "$name: initializers as external data"; cat "$D/ext/log" "$D/check" 2>/dev/null | tail -5
            fi
            rm -f "$D/out.bin"
        fi
    done
done

# --- round trip: cnnc --emit pytorch, exported to ONNX, imported: the same outputs as the
# .net it started from, both compiled with the exported module's weights ------------------
for name in $NAMES; do
    [ -f "dsl_examples/$name.net" ] || continue
    D="$T/$name.rt"; mkdir -p "$D"
    if ! "$CNNC" "dsl_examples/$name.net" --emit pytorch -o "$D/export.py" 2>"$D/log" ||
       ! "$PY" tests/ref/onnx_ref.py roundtrip "$D/export.py" 17 "$D" >>"$D/log" 2>&1 ||
       ! "$CNNC" import "$D/rt.onnx" -o "$D/rt.net" 2>>"$D/log"; then
        no "$name: round trip (emit pytorch, export, import) failed"; tail -5 "$D/log"; continue
    fi
    for net in "$name" rt; do
        [ $net = rt ] && cp "$D/rt.safetensors" "$D/w.safetensors"
        src="$D/$net.net"
        [ $net = rt ] || src="dsl_examples/$name.net"
        gen_run "$src" "$D" "$D/$net" "round trip, $net" "$GEN_CC" "$GEN_CFLAGS" "$BLAS" "" 2 || continue 2
        if "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then
            ok "$name round trip: $([ $net = rt ] && echo imported || echo original) .net: $(cat "$D/check")"
        else no "$name round trip ($net .net): $(cat "$D/check")"; fi
        rm -f "$D/out.bin"
    done
done

# --- the exporter's other operators: ConvTranspose, Resize/Upsample, PRelu, channel shuffle and
# split, GELU, mean; each model exported and imported, compiled with the imported weights and
# checked against PyTorch's outputs --------------------------------------------------------
t0=$(date +%s)
# the handnets of tests/ref/handnets.py: their .net, cnnc --emit pytorch, exported at 17 (with NAMES,
# as run_large.sh runs it: at 11)
for name in $OPS_HANDNETS; do
    for opset in $OPS_OPSETS; do
        D="$T/ops.$name.$opset"; mkdir -p "$D"
        if ! "$PY" tests/ref/handnets.py gen "$name" "$D" >"$D/log" 2>&1 ||
           ! "$CNNC" "$D/$name.net" --emit pytorch -o "$D/export.py" 2>>"$D/log" ||
           ! "$PY" tests/ref/onnx_ref.py roundtrip "$D/export.py" "$opset" "$D" >>"$D/log" 2>&1 ||
           ! "$CNNC" import "$D/rt.onnx" -o "$D/rt.net" 2>>"$D/log"; then
            no "handnet $name ($opset): gen, emit pytorch, export or import failed"; tail -5 "$D/log"; continue
        fi
        if [ "$name" = acts ]; then   # the decomposed functions found again (gelu and gelu_tanh differ by ~1e-4)
            counts=""
            for a in gelu gelu_tanh silu mish softplus; do
                counts="$counts $a $(sed 's/#.*//' "$D/$name.net" | grep -ow "$a" | wc -l)/$(sed 's/#.*//' "$D/rt.net" |
                    grep -ow "$a" | wc -l)"
            done
            if [ -z "$(echo "$counts" | tr ' ' '\n' | grep / | awk -F/ '$1 != $2')" ]; then
                ok "handnet acts ($opset): as many of each decomposed activation as acts.net (acts.net/imported):$counts"
            else no "handnet acts ($opset): the decomposed activations (acts.net/imported):$counts"; fi
        fi
        cp "$D/rt.safetensors" "$D/w.safetensors"
        gen_run "$D/rt.net" "$D" "$D/gen" "handnet $name, $opset" "$GEN_CC" "$GEN_CFLAGS" "$BLAS" "" 2 || continue
        if "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then
            ok "handnet $name ($opset) exported and imported ($(grep -v '^#' "$D/rt.net" | grep -c .) lines): $(cat "$D/check")"
        else no "handnet $name ($opset) exported and imported: $(cat "$D/check")"; fi
    done
done
# transposed convs and upsampling (onnx_ref.py's UpDown, of images and of signals) at opsets 9
# (Upsample) and 17 (Resize; with NAMES: 11)
for v in 2d 1d; do
    for opset in $OPS_UPDOWN; do
        D="$T/ops.updown.$v.$opset"; mkdir -p "$D"
        if ! "$PY" tests/ref/onnx_ref.py updown "$opset" "$D" $v >"$D/log" 2>&1 ||
           ! "$CNNC" import "$D/updown.onnx" -o "$D/updown.net" 2>>"$D/log"; then
            no "updown $v ($opset): export or import failed"; tail -5 "$D/log"; continue
        fi
        cp "$D/updown.safetensors" "$D/w.safetensors"
        gen_run "$D/updown.net" "$D" "$D/gen" "updown $v, $opset" "$GEN_CC" "$GEN_CFLAGS" "$BLAS" "" 2 || continue
        if "$PY" tests/ref/onnx_ref.py check "$D" >"$D/check" 2>&1; then
            ok "updown $v ($opset): $(grep -c '^convtranspose' "$D/updown.net") convtranspose, $(grep -c \
                '^upsample' "$D/updown.net") upsample, $(grep -c '^ *shuffle' "$D/updown.net") shuffle lines: $(cat "$D/check")"
        else no "updown $v ($opset): $(cat "$D/check")"; fi
    done
done
echo "     (the exporter's other operators: $(($(date +%s) - t0)) s)"

# --- errors: located, complete, nothing written ----------------------------------------
D="$T/err"; mkdir -p "$D"
"$PY" - "$D" <<'PY' >"$D/gen.log" 2>&1
import sys, torch
import torch.nn as nn
class Odd(nn.Module):               # two operators cnnc cannot express: Exp and Cos
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 2, 3)
    def forward(self, x):
        return torch.cos(torch.exp(self.c(x))).flatten(1)
torch.onnx.export(Odd().eval(), torch.randn(1, 1, 8, 8), sys.argv[1] + "/odd.onnx", opset_version=11)
PY
if "$CNNC" import "$D/odd.onnx" -o "$D/odd.net" 2>"$D/odd.err"; then
    no "an unsupported operator: cnnc import succeeded"
elif grep -q "(Exp, inputs 2×6×6): this operator is not supported" "$D/odd.err" && \
     grep -q "(Cos, inputs ?): this operator is not supported" "$D/odd.err" && [ ! -e "$D/odd.net" ] && \
     [ ! -e "$D/odd.safetensors" ]; then
    ok "unsupported operators: each named (with its input's shape where known), nothing written:"
    sed 's/^/       /' "$D/odd.err"
else
    no "an unsupported operator: unexpected message or output written"; cat "$D/odd.err"
fi
"$PY" - "$D" <<'PY' >"$D/gen.log" 2>&1
import sys, torch
import torch.nn as nn
import torch.nn.functional as F
class Cubic(nn.Module):             # Resize mode cubic: upsample is nearest or bilinear
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 2, 3)
    def forward(self, x):
        return F.interpolate(self.c(x), scale_factor=2, mode="bicubic", align_corners=False)
torch.onnx.export(Cubic().eval(), torch.randn(1, 1, 8, 8), sys.argv[1] + "/cubic.onnx", opset_version=17)
PY
if "$CNNC" import "$D/cubic.onnx" -o "$D/cubic.net" 2>"$D/cubic.err"; then
    no "Resize mode cubic: cnnc import succeeded"
elif grep -q "cubic.onnx: error: node '/Resize' (Resize, inputs 2×6×6, .*): mode 'cubic' is not supported" "$D/cubic.err" &&
     [ ! -e "$D/cubic.net" ]; then
    ok "Resize mode cubic: $(head -1 "$D/cubic.err" | sed 's|.*/cubic.onnx|cubic.onnx|')"
else
    no "Resize mode cubic: unexpected message or output written"; cat "$D/cubic.err" "$D/gen.log"
fi
head -c 300 "$T/resnet20.11/resnet20.onnx" >"$D/cut.onnx" 2>/dev/null || head -c 300 "$D/odd.onnx" >"$D/cut.onnx"
if "$CNNC" import "$D/cut.onnx" -o "$D/cut.net" 2>"$D/cut.err"; then no "a truncated model: cnnc import succeeded"
elif grep -q "cut.onnx: error:" "$D/cut.err" && [ ! -e "$D/cut.net" ]; then ok "a truncated model: $(head -1 "$D/cut.err")"
else no "a truncated model: unexpected message"; cat "$D/cut.err"; fi
printf 'network x input 1x8x8\nconv 4 k3\n' >"$D/text.onnx"
if "$CNNC" import "$D/text.onnx" -o "$D/text.net" 2>"$D/text.err"; then no "a text file: cnnc import succeeded"
elif grep -q "text.onnx: error: not an ONNX model" "$D/text.err" && [ ! -e "$D/text.net" ]; then ok "not ONNX: $(head -1 "$D/text.err")"
else no "not ONNX: unexpected message"; cat "$D/text.err"; fi
finish
