#!/bin/sh
# tests/compiler/suite_pytorch_export.sh BUILD — `cnnc --emit pytorch` against PyTorch.
#
# For every dsl_examples/*.net, plus a network written below that uses every
# layer kind and attribute the exporter handles (allkinds): export it with
# `BUILD/cnnc NAME.net --emit pytorch`, import the file with /usr/bin/python3
# and check, against cnnc's own `--report=json`:
#   - sum(p.numel() for p in model.parameters()) == totals.params;
#   - the state-dict keys (and sizes) == those the report's layers imply
#     (implied_state() of tests/ref/torchvision_ref.py);
#   - a forward pass at batch 2 (batch 1 for vgg16 and alexnet) gives the
#     report's output shape.
# Then the outputs are compared with an independent model (max |a-b| /
# max |b| <= 1e-5 on a random input, eval mode), after the reference's
# weights, including batchnorm statistics, have been randomised and loaded
# into the exported model with load_state_dict(strict=True):
#   - alexnet vgg16 resnet18 resnet50 densenet121 googlenet: torchvision's
#     model (weights=None), which proves the exporter matches torchvision;
#   - resnet20 lenet5 lenet_relu convnetjs_*: the hand-written models of
#     tests/ref/torchvision_ref.py;
#   - allkinds: a functional forward written out below;
#   - drops_*: dropout channels and droppath on a signal, an image and a
#     volume, in training mode: whole channels and whole samples dropped.
# Last, the state dicts of two exported models, saved as safetensors by
# tests/ref/st.py, must compile with `cnnc --weights`, and fail naming the
# tensor when one is removed.
# Prints one line per network, then "N passed, N failed"; exits non-zero on
# any failure.
. "$(dirname "$0")/../lib.sh"
need_built "$CNNC"
need_torch torchvision

cat >"$T/allkinds.net" <<'EOF'
# every layer kind the exporter handles, with non-default attributes
network allkinds input 3x17x16
conv c1 8 k4 same leakyrelu slope=0.2        # even kernel: asymmetric padding
conv c2 8 k3 d2 p2 g4 sigmoid                # dilation, groups
groupnorm gn 4
instancenorm inorm affine
instancenorm inorm2
layernorm ln
leakyrelu lk 0.3
maxpool mp 3 2 p1 ceil
avgpool ap 3 1 p1 exclude_pad
residual r {
    conv a 8 k1 tanh
    tanh
    conv b 8 k3x1 padding=1x0 nobias
    batchnorm bnr eps=0.001 momentum=0.2
}
concat cc { identity; { conv e 4 k1 relu } }
adaptiveavgpool aap 3x2
conv c3 6 k2 same
globalmaxpool gmp
flatten
batchnorm bn1d
dense d1 20 relu
layernorm ln1 eps=0.0001
dropout 0.3
dense d2 7 sigmoid
dense d3 5 nobias
softmax sm
EOF

# the dropouts that drop whole channels and whole samples, on a signal, an
# image and a volume: checked in training mode (drop_structure below)
for dims in 6x50 6x9x10 6x4x5x6; do
    cat >"$T/drops_$dims.net" <<NET
network drops_$dims input $dims
conv c 6 k3 p1
dropout cd 0.5 channels
residual r { conv a 6 k1; droppath dp 0.5 }
NET
done

names=""
for f in dsl_examples/*.net "$T/allkinds.net" "$T"/drops_*.net; do
    name=$(basename "$f" .net)
    if ! "$CNNC" "$f" --report=json -o "$T/$name.json" 2>"$T/$name.err" ||
       ! "$CNNC" "$f" --emit pytorch -o "$T/$name.py" 2>>"$T/$name.err"; then
        no "$name: cnnc exited with an error:"
        sed 's/^/      /' "$T/$name.err"
        continue
    fi
    names="$names $name"
done

"$PY" - "$T" $names >"$T/py.out" 2>&1 <<'EOF'
import importlib.util
import json
import sys
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, "tests/ref")
import torchvision_ref as R          # noqa: E402  build(), implied_state()
import st                            # noqa: E402  safetensors writer

ROUNDTRIP = {"lenet5", "resnet20"}   # state dicts saved for cnnc --weights

torch.set_num_threads(2)
TOL = 1e-5
BATCH1 = {"vgg16", "alexnet"}        # the big ones run at batch 1
tmp, names = sys.argv[1], sys.argv[2:]


def load_module(name):
    spec = importlib.util.spec_from_file_location("exported_" + name, "%s/%s.py" % (tmp, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def randomise(model, gen):
    """Non-trivial values everywhere, batchnorm statistics included."""
    with torch.no_grad():
        for mname, m in model.named_modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm,
                              nn.InstanceNorm2d)) and m.weight is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def ref_allkinds(sd, x):
    """allkinds.net written out with torch.nn.functional, from its source."""
    y = F.leaky_relu(F.conv2d(F.pad(x, (1, 2, 1, 2)), sd["c1.weight"], sd["c1.bias"]), 0.2)
    y = torch.sigmoid(F.conv2d(y, sd["c2.weight"], sd["c2.bias"], 1, 2, 2, 4))
    y = F.group_norm(y, 4, sd["gn.weight"], sd["gn.bias"], 1e-5)
    y = F.instance_norm(y, weight=sd["inorm.weight"], bias=sd["inorm.bias"], eps=1e-5)
    y = F.instance_norm(y, eps=1e-5)
    y = F.layer_norm(y, list(y.shape[1:]), sd["ln.weight"], sd["ln.bias"], 1e-5)
    y = F.leaky_relu(y, 0.3)
    y = F.max_pool2d(y, 3, 2, 1, ceil_mode=True)
    y = F.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    r = torch.tanh(torch.tanh(F.conv2d(y, sd["r.a.weight"], sd["r.a.bias"])))
    r = F.conv2d(r, sd["r.b.weight"], None, 1, (1, 0))
    r = F.batch_norm(r, sd["r.bnr.running_mean"], sd["r.bnr.running_var"], sd["r.bnr.weight"],
                     sd["r.bnr.bias"], False, 0.2, 1e-3)
    y = r + y
    y = torch.cat([y, F.relu(F.conv2d(y, sd["cc.e.weight"], sd["cc.e.bias"]))], 1)
    y = F.adaptive_avg_pool2d(y, (3, 2))
    y = F.conv2d(F.pad(y, (0, 1, 0, 1)), sd["c3.weight"], sd["c3.bias"])
    y = torch.flatten(F.adaptive_max_pool2d(y, 1), 1)
    y = F.batch_norm(y, sd["bn1d.running_mean"], sd["bn1d.running_var"], sd["bn1d.weight"],
                     sd["bn1d.bias"], False, 0.1, 1e-5)
    y = F.relu(F.linear(y, sd["d1.weight"], sd["d1.bias"]))
    y = F.layer_norm(y, [20], sd["ln1.weight"], sd["ln1.bias"], 1e-4)
    y = torch.sigmoid(F.linear(y, sd["d2.weight"], sd["d2.bias"]))
    y = F.linear(y, sd["d3.weight"])
    return F.softmax(y, dim=1)


def drop_structure(model, x, problems):
    """A drops_* network (conv c; dropout cd 0.5 channels; a residual branch
    conv a, droppath dp 0.5) in training mode, its values read with forward
    hooks: every channel of every sample is kept ×2 or zeroed whole; the
    drop path keeps (×2) or zeroes each sample's branch whole; about half of
    each are dropped over 16 tries (within 5 σ); in eval mode the output is
    c + a(c), both dropouts the identity."""
    seen = {}

    def hook(name):
        def f(mod, inp, out):
            seen[name] = (inp[0].detach(), out.detach())
        return f
    counts = {"cd": [0, 0], "dp": [0, 0]}      # kept, dropped
    model.train()
    h1 = model.get_submodule("c").register_forward_hook(hook("c"))
    h2 = model.get_submodule("r.a").register_forward_hook(hook("a"))
    try:
        for trial in range(16):
            torch.manual_seed(trial)
            with torch.no_grad():
                y = model(x)
            c = seen["c"][1]
            a_in, a_out = seen["a"]            # a's input is cd's output
            m = a_in / c                       # the channel mask, per value
            for n in range(x.shape[0]):
                for ch in range(x.shape[1]):
                    v = m[n, ch].flatten()
                    if not (torch.allclose(v, v[0].expand_as(v)) and
                            (abs(v[0].item()) < 1e-6 or abs(v[0].item() - 2) < 1e-5)):
                        problems.append("dropout channels: sample %d channel %d is not one draw (0 or ×2)"
                                        % (n, ch))
                        return None
                    counts["cd"][v[0].item() < 1e-6] += 1
                branch = y[n] - a_in[n]                        # the drop path's output
                dropped = bool((branch == 0).all())
                if not (dropped or torch.allclose(branch, 2 * a_out[n], rtol=1e-5, atol=1e-6)):
                    problems.append("droppath: sample %d's branch is not one draw (0 or ×2)" % n)
                    return None
                counts["dp"][dropped] += 1
    finally:
        h1.remove()
        h2.remove()
    for k, (kept, dropped) in counts.items():
        total = kept + dropped
        if abs(dropped - total / 2) > 5 * (total / 4) ** 0.5:
            problems.append("%s dropped %d of %d draws at p 0.5" % (k, dropped, total))
    model.eval()
    with torch.no_grad():
        c = model.get_submodule("c")(x)
        close("eval", model(x), c + model.get_submodule("r.a")(c), problems)
    return counts


def close(name, got, want, problems):
    scale = want.abs().max().item()
    diff = (got - want).abs().max().item()
    rel = diff / scale if scale > 0 else diff
    if not (rel <= TOL):
        i = int((got - want).abs().flatten().argmax())
        problems.append("output differs from the reference: max |diff| %.3g, max |ref| %.3g, "
                        "relative %.3g > %g (first worst index %d: %r vs %r)"
                        % (diff, scale, rel, TOL, i, got.flatten()[i].item(), want.flatten()[i].item()))
    return rel


def check(name):
    problems = []
    report = json.load(open("%s/%s.json" % (tmp, name)))
    mod = load_module(name)
    torch.manual_seed(0)
    model = mod.Model().eval()

    params = sum(p.numel() for p in model.parameters())
    if params != report["totals"]["params"]:
        problems.append("params: exported %d, cnnc's report %d" % (params, report["totals"]["params"]))

    implied = R.implied_state(report, problems)
    sd = {k: v.numel() for k, v in model.state_dict().items()}
    for k in sorted(set(sd) - set(implied)):
        problems.append("state-dict key %s in the exported model, not implied by the report" % k)
    for k in sorted(set(implied) - set(sd)):
        problems.append("state-dict key %s implied by the report, missing from the exported model" % k)
    for k in sorted(set(sd) & set(implied)):
        if sd[k] != implied[k]:
            problems.append("%s: numel exported %d, report %d" % (k, sd[k], implied[k]))

    batch = 1 if name in BATCH1 else 2
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn((batch,) + tuple(report["input"]), generator=gen)
    out_shape = report["layers"][-1]["out_shape"]
    for L in report["layers"]:
        if L["name"] == report.get("output", L["name"]):
            out_shape = L["out_shape"]
    ref = None
    try:
        ref, _ = R.build(name)
    except KeyError:
        pass
    if ref is not None:
        ref.eval()
        randomise(ref, gen)
        try:
            model.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError as e:
            problems.append("the reference's state dict does not load: %s" % str(e).replace("\n", " "))
            ref = None
    elif name == "allkinds":
        randomise(model, gen)

    with torch.no_grad():
        y = model(x)
        if list(y.shape) != [batch] + list(out_shape):
            problems.append("output shape %s at batch %d, report %s" % (list(y.shape), batch, out_shape))
        what = "shape only"
        if ref is not None:
            rel = close(name, y, ref(x), problems)
            what = "matches %s (rel. diff %.1e)" % (type(ref).__name__, rel)
        elif name == "allkinds":
            sdt = dict(model.state_dict())
            rel = close(name, y, ref_allkinds(sdt, x), problems)
            what = "matches the functional reference (rel. diff %.1e)" % rel
    if name.startswith("drops_"):
        counts = drop_structure(model, x, problems)
        if counts:
            what = "training mode: channels dropped %d of %d, samples %d of %d, each whole" % (
                counts["cd"][1], sum(counts["cd"]), counts["dp"][1], sum(counts["dp"]))
    if name in ROUNDTRIP:             # for `cnnc --weights` below
        st.save(model.state_dict(), "%s/%s.safetensors" % (tmp, name), {"source": "suite_pytorch_export"})
        bad = dict(model.state_dict())
        del bad[sorted(k for k in bad if k.endswith(".weight"))[0]]
        st.save(bad, "%s/%s.bad.safetensors" % (tmp, name))
    return problems, "%d params, %d state tensors, output %s, %s" % (params, len(sd), list(y.shape), what)


npass = nfail = 0
for name in names:
    try:
        problems, summary = check(name)
    except Exception:
        problems, summary = ["exception:\n" + traceback.format_exc()], ""
    if problems:
        nfail += 1
        print("FAIL  %s" % name)
        for p in problems:
            print("      %s" % p)
    else:
        npass += 1
        print("ok    %s: %s" % (name, summary))
    sys.stdout.flush()
print("PYRESULT %d %d" % (npass, nfail))
EOF
status=$?
grep -v '^PYRESULT' "$T/py.out"
res=$(grep '^PYRESULT' "$T/py.out")
if [ -z "$res" ]; then
    no "the Python checker did not finish (exit status $status)"
else
    set -- $res
    pass=$((pass + $2))
    fail=$((fail + $3))
fi
# The exported model's state dict, saved as safetensors, compiles with
# `cnnc --weights` (num_batches_tracked ignored); without one tensor, the
# error names it.
for name in lenet5 resnet20; do
    w=$T/$name.safetensors
    [ -f "$w" ] || continue
    if "$CNNC" "dsl_examples/$name.net" --weights "$w" -o "$T/$name.c" >"$T/$name.werr" 2>&1; then
        ok "$name: its PyTorch state dict compiles with cnnc --weights"
    else
        no "$name: cnnc --weights rejects the exported model's state dict:"
        sed 's/^/      /' "$T/$name.werr"
    fi
    rm -f "$T/$name.c" "$T/$name.h" "$T/$name.weights"
    if "$CNNC" "dsl_examples/$name.net" --weights "$T/$name.bad.safetensors" -o "$T/$name.c" \
            >"$T/$name.werr" 2>&1; then
        no "$name: cnnc --weights accepts a state dict with a tensor missing"
    elif grep -q "^  missing .*\.weight \[" "$T/$name.werr" && [ ! -f "$T/$name.c" ]; then
        ok "$name: a missing tensor is an error naming it"
    else
        no "$name: unexpected diagnostics for a missing tensor:"
        sed 's/^/      /' "$T/$name.werr"
    fi
    rm -f "$T/$name.c" "$T/$name.h" "$T/$name.weights"
done
finish
