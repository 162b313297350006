#!/bin/sh
# tests/import/suite_import_darknet.sh BUILD [large | NAME...] — cnnc import of darknet
# cfgs (Debian's darknet package: /usr/share/darknet/cfg, /usr/bin/darknet)
# against darknet itself and against tests/ref/darknet_ref.py, a PyTorch
# version of each cfg written from darknet's source without cnnc.
#
#   1. Shapes: every classifier cfg of the package (CLASSIFIERS), the conv
#      stacks without a head (OTHERS), and two cfgs of this file (feat:
#      every supported layer, activation and shortcut form; pools: every
#      kind of max-pool padding; self: a layer added to and concatenated
#      with itself) import without weights, and cnnc's report
#      of the .net agrees with darknet's own layer table (`darknet ops CFG`
#      prints it, with each conv's BFLOPs and the total) and with
#      darknet_ref.py's shapes: each conv's output, input and BFLOPs, each
#      connected layer's sizes, the input, the output and the total FLOPs
#      (darknet_ref.py table-check).
#   2. Numbers: for SMALL (with `large`: LARGE instead, for make
#      test-large), darknet_ref.py writes random darknet weights (batch-norm
#      statistics near the real ones, one channel of tiny variance each)
#      and the output for 2 random images; cnnc import --weights, then cnnc
#      --weights NAME.safetensors, built with tests/codegen/driver.c and
#      run, agrees within 1e-4 of max |ref|; feat also in --standalone mode
#      and with the header versions 0.1 (32-bit 'seen') and 1001.0
#      (connected weights transposed).
#   3. The cfgs that are not classifiers cnnc can express (REFUSED: a
#      detector's region/yolo/detection/local/reorg layers, a recurrent
#      net, a hierarchical softmax) fail with the error expected, and write
#      nothing.
#   4. Broken cfgs and weights files: each a located error naming what was
#      expected and found, exit status 1, nothing written.
# NAMEs (cfg names, feat, pools) limit 1 and 2 to those networks.
set -u
. "$(dirname "$0")/../lib.sh"
need_built "$CNNC"
need_torch numpy
CFGS=/usr/share/darknet/cfg
[ -d "$CFGS" ] && command -v darknet >/dev/null || { echo "error: Debian's darknet is not installed (scripts/deps.sh)"; exit 1; }

CLASSIFIERS="alexnet cifar cifar.test darknet darknet19 darknet19_448 darknet53 darknet53_448 densenet201 extraction
extraction.conv extraction22k resnet18 resnet34 resnet50 resnet101 resnet152 resnext50 resnext101-32x4d
resnext152-32x4d strided tiny vgg-16"
OTHERS="jnet-conv vgg-conv writing"
SMALL="feat pools self darknet cifar.test"
LARGE="resnet18 tiny cifar alexnet darknet19 darknet19_448 darknet53 darknet53_448 densenet201 extraction extraction.conv
extraction22k resnet34 resnet50 resnet101 resnet152 resnext50 resnext101-32x4d resnext152-32x4d strided vgg-16"
REFUSED="darknet9000:a_hierarchical_softmax_(tree=)_is_not_supported go:layer_[reorg]_is_not_supported
go.test:layer_[reorg]_is_not_supported gru:expected_width=,_height=_and_channels=
rnn:expected_width=,_height=_and_channels= rnn.train:expected_width=,_height=_and_channels=
t1.test:layer_[detection]_is_not_supported yolo9000:layer_[region]_is_not_supported
yolov1:layer_[local]_is_not_supported yolov1-tiny:layer_[detection]_is_not_supported
yolov2:layer_[reorg]_is_not_supported yolov2-voc:layer_[reorg]_is_not_supported
yolov2-tiny:layer_[region]_is_not_supported yolov2-tiny-voc:layer_[region]_is_not_supported
yolov3:layer_[yolo]_is_not_supported yolov3-voc:layer_[yolo]_is_not_supported
yolov3-openimages:layer_[yolo]_is_not_supported yolov3-spp:layer_[yolo]_is_not_supported
yolov3-tiny:layer_[yolo]_is_not_supported"
SHAPES="$CLASSIFIERS $OTHERS feat pools self"
WEIGHTED=$SMALL
if [ "${1:-}" = large ]; then WEIGHTED=$LARGE
elif [ $# -gt 0 ]; then SHAPES=$*; WEIGHTED=$*; fi

# --- this file's cfgs ------------------------------------------------------------
mkdir -p "$T/cfg"
# feat: a crop (2x − 1), convs with and without batch norm, groups, every
# activation cnnc maps (ramp and loggy folded into the conv before), a
# residual (shortcut of the same shape), darknet's partial shortcuts (a
# projection to more channels with stride 2, a subsampling of the same
# channels), single and three-way routes, [batchnorm], [activation],
# maxpools in floor and ceil mode and with a pad layer, dropout,
# connected layers with and without batch norm, a softmax with a
# temperature (folded into the last connected layer), a cost
cat >"$T/cfg/feat.cfg" <<'EOF'
[net]
width=48
height=37
channels=3

[crop]
crop_height=32
crop_width=47
flip=1

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=3
stride=2

[convolutional]
filters=16
size=3
stride=1
pad=1
groups=4
activation=ramp

[convolutional]
batch_normalize=1
filters=32
size=1
stride=1
activation=loggy

[maxpool]
size=2
stride=1

[convolutional]
batch_normalize=1
filters=32
size=3
pad=1
activation=mish

[shortcut]
from=-2
activation=relie

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=48
size=3
stride=2
pad=1
activation=swish

[convolutional]
batch_normalize=1
filters=48
size=3
pad=1
activation=linear

[shortcut]
from=8
activation=elu

[route]
layers=-1

[convolutional]
filters=24
size=1
activation=selu

[route]
layers=-2

[convolutional]
batch_normalize=1
filters=24
size=3
pad=1
activation=hardtan

[route]
layers=13, -1,11

[batchnorm]

[activation]
activation=tanh

[convolutional]
batch_normalize=1
filters=96
size=3
stride=2
pad=1
activation=relu

[shortcut]
from=18
activation=linear

[maxpool]
size=2
stride=2

[dropout]
probability=.3

[connected]
output=40
batch_normalize=1
activation=logistic

[connected]
output=30
activation=leaky

[dropout]
probability=.5

[connected]
output=10
activation=linear

[softmax]
groups=1
temperature=2.5

[cost]
type=sse
EOF
# pools: darknet's max-pool padding (size - 1 by default, half before):
# none (alexnet's), even splits (an SPP block of 5, 9 and 13), one before and
# two after (ceil mode), stride 3, and three that need a pad layer (after a
# linear conv: negative values, where padding with zeros would show); then a
# softmax over all of C×H×W, as darknet's
cat >"$T/cfg/pools.cfg" <<'EOF'
[net]
height=29
width=31
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=leaky

[maxpool]
size=3
stride=2
padding=0

[maxpool]
stride=1
size=5

[route]
layers=-2

[maxpool]
stride=1
size=9

[route]
layers=-4

[maxpool]
stride=1
size=13

[route]
layers=-1,-3,-5,-6

[convolutional]
batch_normalize=1
filters=8
size=1
activation=leaky

[maxpool]
size=4
stride=2

[maxpool]
size=3
stride=3

[convolutional]
filters=8
size=1
activation=linear

[maxpool]
size=3
stride=1
padding=3

[maxpool]
size=2
stride=1

[maxpool]
size=3
stride=1
padding=4

[convolutional]
filters=5
size=1
activation=linear

[softmax]
EOF

# self: a layer added to itself (shortcut from=-1) and concatenated with
# itself (route -1,-1): merges whose branches are both the fork itself
cat >"$T/cfg/self.cfg" <<'EOF'
[net]
height=8
width=8
channels=3

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky

[shortcut]
from=-1
activation=linear

[route]
layers=-1,-1

[convolutional]
filters=2
size=1
stride=1
activation=linear
EOF

cfg_of() { if [ -f "$T/cfg/$1.cfg" ]; then echo "$T/cfg/$1.cfg"; else echo "$CFGS/$1.cfg"; fi; }
ident() { echo "$1" | tr -c 'A-Za-z0-9_\n' '_'; }    # the network's name, as cnnc import makes it

# --- 1. shapes against darknet's table ------------------------------------------------
for c in $SHAPES; do
    cfg=$(cfg_of "$c"); id=$(ident "$c"); D="$T/shapes/$id"; mkdir -p "$D"
    if ! "$CNNC" import "$cfg" -o "$D/$id.net" 2>"$D/import.err"; then
        no "$c: cnnc import failed"; head -5 "$D/import.err"; continue
    fi
    if [ -e "$D/$id.safetensors" ]; then no "$c: a safetensors file written without weights"; fi
    if ! "$CNNC" "$D/$id.net" --report=json -o "$D/report.json" 2>"$D/report.err"; then
        no "$c: cnnc --report=json of the imported .net failed"; head -5 "$D/report.err"; continue
    fi
    darknet ops "$cfg" >"$D/table" 2>&1 </dev/null
    "$PY" tests/ref/darknet_ref.py table-check "$cfg" "$D/table" "$D/report.json" >"$D/check" 2>&1
    tally "$D/check" $?
done

# --- 2. numbers against darknet_ref.py ---------------------------------------------------
weighted() {   # weighted NAME TAG [darknet_ref.py gen options]: import, generate, run, compare
    c=$1; tag=$2; shift 2
    cfg=$(cfg_of "$c"); id=$(ident "$c"); D="$T/run/$id.$tag"; mkdir -p "$D"
    if ! "$PY" tests/ref/darknet_ref.py gen "$cfg" "$D" "$@" >"$D/gen.log" 2>&1; then
        no "$c ($tag): darknet_ref.py gen failed"; tail -5 "$D/gen.log"; return
    fi
    if ! "$CNNC" import "$cfg" --weights "$D/w.weights" -o "$D/$id.net" 2>"$D/import.err"; then
        no "$c ($tag): cnnc import --weights failed"; head -5 "$D/import.err"; return
    fi
    mv "$D/$id.safetensors" "$D/w.safetensors"
    for mode in default ${STANDALONE:-}; do
        flag=""; libs="$BLAS"
        [ "$mode" = standalone ] && { flag=--standalone; libs=""; }
        gen_run "$D/$id.net" "$D" "$D/$mode" "$tag, $mode" "$GEN_CC" "$GEN_CFLAGS" "$libs" "$flag" 2 || continue
        if "$PY" tests/ref/darknet_ref.py check "$D" "$D/out.bin" >"$D/check" 2>&1; then
            ok "$c ($tag, $mode): the generated code = darknet_ref.py: $(cat "$D/check")"
        else
            no "$c ($tag, $mode): $(cat "$D/check")"
        fi
        rm -f "$D/out.bin"
    done
}
for c in $WEIGHTED; do
    STANDALONE=""
    [ "$c" = feat ] || [ "$c" = pools ] && STANDALONE=standalone
    weighted "$c" v0.2
done
if [ "${1:-}" != large ] && echo " $WEIGHTED " | grep -q " feat "; then
    STANDALONE=""
    weighted feat v0.1 --version 0.1 --seed 3
    weighted feat v1001.0 --version 1001.0 --seed 4
fi

# --- 3. the cfgs that are not classifiers of the language ----------------------------------
for r in $REFUSED; do
    c=${r%%:*}; want=$(echo "${r#*:}" | tr _ ' '); D="$T/refused/$c"; mkdir -p "$D"
    "$CNNC" import "$CFGS/$c.cfg" -o "$D/x.net" 2>"$D/err"
    st=$?
    if [ $st -eq 1 ] && grep -qF "$want" "$D/err" && grep -q "^$CFGS/$c.cfg:[0-9]*:[0-9]*: error: " "$D/err" &&
       [ ! -e "$D/x.net" ]; then
        ok "$c refused: $(head -1 "$D/err" | sed "s|^$CFGS/||")"
    else
        no "$c: expected exit status 1 and '$want', got status $st:"; head -3 "$D/err"
    fi
done

# --- 4. broken cfgs and weights ---------------------------------------------------------------
E="$T/err"; mkdir -p "$E"
bad() {   # bad NAME EXPECTED [WEIGHTS]: cnnc import of $E/NAME.cfg fails with EXPECTED (a fixed string)
    if [ -n "${3:-}" ]; then "$CNNC" import "$E/$1.cfg" --weights "$3" -o "$E/$1.net" 2>"$E/$1.err"
    else "$CNNC" import "$E/$1.cfg" -o "$E/$1.net" 2>"$E/$1.err"; fi
    st=$?
    if [ $st -eq 1 ] && grep -qF -- "$2" "$E/$1.err" && [ ! -e "$E/$1.net" ] && [ ! -e "$E/$1.safetensors" ]; then
        ok "$1: $(head -1 "$E/$1.err" | sed "s|^$E/||")"
    else
        no "$1: expected exit status 1, nothing written and '$2'; got status $st:"; head -4 "$E/$1.err"
    fi
}
NET='[net]\nwidth=16\nheight=16\nchannels=3\n'                # 4 lines
after_net() {   # after_net NAME LAYERS EXPECTED: a cfg of NET and then LAYERS (printf text)
    printf "$NET$2" >"$E/$1.cfg"
    bad "$1" "$3"
}
printf '' >"$E/empty.cfg"
bad empty "empty.cfg:1:1: error: expected '[net]' first, found no section"
printf '[net]\nwidth=8\001\002\000\377' >"$E/binary.cfg"
bad binary "binary.cfg:2:8: error: expected a darknet cfg (text), found the byte 0x01"
head -c 4096 /dev/urandom >"$E/garbage.cfg"
bad garbage "garbage.cfg:"
printf '[convolutional]\nfilters=3\n' >"$E/no_net.cfg"
bad no_net "no_net.cfg:1:1: error: expected '[net]' first, found [convolutional]"
printf 'filters=3\n[net]\n' >"$E/before_section.cfg"
bad before_section "'filters=3' comes before any section"
printf '[net]\nwidth=16\nheight=16\n\n[convolutional]\n' >"$E/no_channels.cfg"
bad no_channels "found no channels"
printf '[net]\nwidth=99999999999999999999999\nheight=8\nchannels=3\n' >"$E/huge_number.cfg"
bad huge_number "huge_number.cfg:2:1: error: [net]: width: expected an integer from 0 to 16777216, found '99999999999999999999999'"
printf '[net]\nwidth=16777216\nheight=16777216\nchannels=16777216\n[avgpool]\n' >"$E/huge_input.cfg"
bad huge_input "its output 16777216×16777216×16777216 has more than 2^40 values"
after_net second_net '[maxpool]\nsize=2\n[net]\nwidth=3\n' "second_net.cfg:7:1: error: a second [net] section"
after_net not_integer '[convolutional]\nfilters=3x\n' "filters: expected an integer from 1 to 16777216, found '3x'"
after_net huge_filters '[convolutional]\nfilters=16777216\nsize=4096\n' "size=4096 is larger than its input 16×16"
after_net huge_weights '[convolutional]\nfilters=16777216\nsize=16\n[convolutional]\nfilters=16777216\n' \
    "[convolutional]: more than 2^40 weights"
after_net route_missing '[convolutional]\nfilters=8\nsize=3\npad=1\n[route]\nlayers=-5\n' \
    "route_missing.cfg:10:1: error: [route]: layer -4 (-5) does not exist before this one (layer 1; expected 0 to 0, or -1 to -1)"
after_net route_forward '[convolutional]\nfilters=8\n[route]\nlayers=0,7\n' "layer 7 does not exist before this one"
after_net route_syntax '[convolutional]\nfilters=8\n[route]\nlayers=0,,1\n' \
    "expected layer numbers separated by commas, found '0,,1'"
after_net route_sizes '[convolutional]\nfilters=8\n[convolutional]\nfilters=8\nstride=2\n[route]\nlayers=-1,-2\n' \
    "[route]: layer 1 is 8×8×8 and layer 0 8×16×16: a concatenation needs images of the same height and width"
after_net shortcut_from '[convolutional]\nfilters=8\n[shortcut]\nactivation=leaky\n' "[shortcut]: expected from="
after_net shortcut_up '[convolutional]\nfilters=8\nstride=2\n[convolutional]\nfilters=8\nsize=3\npad=1\n[upsample]\n' \
    "layer [upsample] is not supported"
after_net shortcut_shape '[convolutional]\nfilters=8\n[convolutional]\nfilters=8\nsize=3\nstride=2\n[shortcut]\nfrom=0\n' \
    "with a stride that leaves rows or columns over; only a subsampling by a whole stride"
after_net unknown_key '[convolutional]\nfilters=8\nsize=3\ndilation=2\n' "[convolutional]: unknown key 'dilation'"
after_net given_twice '[convolutional]\nfilters=8\nsize=3\nsize=5\n' \
    "given_twice.cfg:8:1: error: [convolutional]: 'size' is given twice (first on line 7)"
after_net activation '[convolutional]\nfilters=8\nactivation=stair\n' \
    "activation 'stair' has no equivalent in the .net language"
after_net header '[convolutional\nfilters=8\n' "expected a section header '[name]', found '[convolutional'"
after_net no_equals '[convolutional]\nfilters 8\n' "expected 'key=value' or a section header '[name]', found 'filters8'"
after_net too_big '[convolutional]\nfilters=8\nsize=19\n' "size=19 is larger than its input 16×16 with padding 0"
after_net groups '[convolutional]\nfilters=8\ngroups=3\n' "groups=3 must divide its 3 input channels and its 8 filters"
after_net after_cost '[convolutional]\nfilters=8\n[cost]\n[convolutional]\nfilters=8\n' \
    "[convolutional] after a [cost] layer"
after_net temperature '[convolutional]\nfilters=8\nactivation=logistic\n[avgpool]\n[softmax]\ntemperature=2\n' \
    "temperature=2: the .net language's softmax has none, and it cannot be folded into the layer before"
after_net crop_late '[convolutional]\nfilters=8\n[crop]\ncrop_height=8\ncrop_width=8\n' "only a crop of the input"
after_net ramp_shortcut '[convolutional]\nfilters=3\n[shortcut]\nfrom=-2\nactivation=ramp\n' \
    "activation ramp is leakyrelu of a scaled input, and only a conv or dense layer can scale its output"
after_net pool_padding '[maxpool]\nsize=2\nstride=1\npadding=5\n' "a window of size 2 lies wholly in the padding"
after_net dontload '[convolutional]\nfilters=8\ndontload=1\n' "[convolutional]: dontload=1 is not supported: the importer reads the weights of every layer"
after_net softmax_groups '[softmax]\ngroups=2\n' "groups other than 1 is not supported"
after_net conv_after_fc '[connected]\noutput=8\n[convolutional]\nfilters=8\n' \
    "its input is a vector of 8 values (a [connected] layer's), not an image"
after_net only_cost '[cost]\n' "the network computes nothing"
"$CNNC" import "$E/nonexistent.cfg" -o "$E/ne.net" 2>"$E/ne.err"
if [ $? -eq 1 ] && grep -qF "nonexistent.cfg: error: cannot open" "$E/ne.err"; then
    ok "a missing cfg: $(head -1 "$E/ne.err" | sed "s|^$E/||")"
else
    no "a missing cfg"; cat "$E/ne.err"
fi

# weights: small.cfg's from darknet_ref.py, then broken
printf "$NET"'[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n[connected]\noutput=5\n' \
    >"$E/small.cfg"
if "$PY" tests/ref/darknet_ref.py gen "$E/small.cfg" "$E" >"$E/gen.log" 2>&1; then
    W="$E/w.weights"; size=$(wc -c <"$W")
    head -c 10 "$W" >"$E/header.weights"
    head -c $((size - 100)) "$W" >"$E/short.weights"
    cat "$W" "$W" | head -c $((size + 8)) >"$E/long.weights"
    { printf '\000\000\000\000\001\000\000\000'; tail -c +9 "$W"; } >"$E/v01.weights"   # version 0.1: 32-bit 'seen'
    for n in w_missing w_dir w_header w_short w_long w_version w_good; do cp "$E/small.cfg" "$E/$n.cfg"; done
    bad w_missing "nonexistent.weights: error: cannot open" "$E/nonexistent.weights"
    bad w_dir "error: not a regular file: expected darknet's .weights" "$E"
    bad w_header "header.weights: error: expected darknet's header (major, minor, revision, seen: 16 or 20 bytes), found a file of 10 bytes" \
        "$E/header.weights"
    bad w_short "short.weights: error: too short: layer 1 (line 11 [connected]) needs 20480 bytes more for its weights (5120 floats) at offset 536, the file has 20380" \
        "$E/short.weights"
    bad w_long "long.weights: error: 8 bytes (2 floats) left over after the weights of the last layer that has any (layer 1, line 11 [connected])" \
        "$E/long.weights"
    bad w_version "v01.weights: error: 4 bytes (1 float) left over" "$E/v01.weights"
    printf "$NET"'[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\n[connected]\noutput=6\n' >"$E/w_other_cfg.cfg"
    bad w_other_cfg "w.weights: error: too short: layer 1 (line 10 [connected])" "$W"
    if "$CNNC" import "$E/w_good.cfg" --weights "$W" -o "$E/w_good.net" 2>"$E/w_good.err" && [ -s "$E/w_good.safetensors" ]; then
        ok "small.cfg with its own weights: imported"
    else
        no "small.cfg with its own weights"; cat "$E/w_good.err"
    fi
else
    no "darknet_ref.py gen small.cfg"; cat "$E/gen.log"
fi
finish
