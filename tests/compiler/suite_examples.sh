#!/bin/sh
# tests/compiler/suite_examples.sh BUILD — the example networks in dsl_examples/.
#
# For each network: run `BUILD/cnnc dsl_examples/NAME.net --report=json`,
# compare totals.params and totals.macs with the numbers the issue states
# (written here literally, not computed), then run the independent PyTorch
# reference tests/ref/torchvision_ref.py on the same report (params, MACs
# from forward hooks, state-dict keys and sizes, per-layer output shapes).
# Also checks one receptive-field fact (ResNet-18's last conv sees 435 px,
# jump 32).  Prints every mismatch and a summary; exits non-zero on any.
. "$(dirname "$0")/../lib.sh"
REF=tests/ref/torchvision_ref.py
need_built "$CNNC"
need_torch torchvision

# json_get FILE EXPR: print a value from a cnnc JSON report (r = the report,
# L = {name: layer}).
json_get() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
L = {l["name"]: l for l in r["layers"]}
try:
    print(eval(sys.argv[2]))
except (KeyError, IndexError, TypeError) as e:
    print("missing(%s)" % e)
EOF
}

# check NAME PARAMS MACS
check() {
    name=$1; want_p=$2; want_m=$3
    json=$T/$name.json
    bad=0
    if ! "$CNNC" "dsl_examples/$name.net" --report=json >"$json" 2>"$T/$name.err"; then
        no "$name: cnnc exited with an error:"
        sed 's/^/      /' "$T/$name.err"
        return
    fi
    got_p=$(json_get "$json" 'r["totals"]["params"]')
    got_m=$(json_get "$json" 'r["totals"]["macs"]')
    : >"$T/$name.why"
    if [ "$got_p" != "$want_p" ]; then
        echo "$name: params: cnnc $got_p, expected $want_p" >>"$T/$name.why"; bad=1
    fi
    if [ "$got_m" != "$want_m" ]; then
        echo "$name: MACs: cnnc $got_m, expected $want_m" >>"$T/$name.why"; bad=1
    fi
    if ! "$PY" "$REF" "$name" "$json" >>"$T/$name.why" 2>&1; then
        bad=1
    fi
    if [ "$bad" -eq 0 ]; then
        ok "$name: params $got_p, MACs $got_m"
    else
        no "$name"
    fi
    sed 's/^/      /' "$T/$name.why"
}

#     network            params        MACs (numbers as stated in the issue)
check lenet5                 61706      416520   # from lenet5.net's header
check lenet_relu           1256080     6522000
check convnetjs_mnist         5994      578560
check convnetjs_cifar10      22466     3920000
check resnet20              272474    40813184
check alexnet             61100840   714188480
check vgg16              138357544 15470264320
check resnet18            11689512  1814073344
check resnet50            25557032  4089184256
check densenet121          7978856  2834161664
check googlenet            6624904  1498376192
check mobilenet_v2          3504872   300774272
# counted by PyTorch on the modules tests/ref/torchvision_ref.py writes by
# hand (parameters' numel; MACs by forward hooks on Conv1d/Conv3d/Linear)
check ecg1d                  56597     3921088
check volume3d               18460    16221184

# Receptive field: ResNet-18's last 3x3 conv sees 435x435 input pixels
# (unclipped), with a jump of 32.
if [ -f "$T/resnet18.json" ]; then
    rf=$(json_get "$T/resnet18.json" '"%s/%s" % (L["layer4.1.conv2"]["rf_size"], L["layer4.1.conv2"]["rf_jump"])')
else
    rf="no report"
fi
if [ "$rf" = "435/32" ]; then
    ok "resnet18 receptive field of layer4.1.conv2: 435/32"
else
    no "resnet18 receptive field of layer4.1.conv2: cnnc $rf, expected 435/32 (size/jump)"
fi
finish
