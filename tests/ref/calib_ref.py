#!/usr/bin/python3
"""The calibration ranges of `cnnc --quantize int8 --calibrate`, computed
independently with PyTorch, and compared with what cnnc reported.

    calib_ref.py NET REPORT.json PYMODEL.py IMAGES N [WEIGHTS.safetensors]

PYMODEL.py is `cnnc NET --emit pytorch` (the network as written).  Its
forward() assigns each layer's output to a local named after the layer
(dots as underscores); this script adds a line after each assignment that
records the local's least and greatest value, runs the float model in
eval mode over the first N images of the IDX file IMAGES (plain or .gz; x/255, then the
checkpoint's "normalize" MEAN,STD when there is one), and checks, for every
layer of cnnc's int8 plan ("int8"."layers" of --report=json: "holds" names
the layer as written whose output the planned layer holds), that cnnc's min
and max match PyTorch's within 1e-4 of the layer's range (cnnrt and
PyTorch sum in different orders).  Prints "ok ..." / "FAIL ..." lines.
"""
import json
import re
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import idxio  # noqa: E402
import st  # noqa: E402


def instrument(src):
    """After each `        name = expr  # ...` of forward(), record name's range."""
    out, in_forward = [], False
    for line in src.splitlines():
        out.append(line)
        if line.startswith("    def forward("):
            in_forward = True
            continue
        m = re.match(r"^        ([A-Za-z_][A-Za-z0-9_]*) = ", line)
        if in_forward and m and m.group(1) != "m":
            out.append("        _rec(%r, %s)" % (m.group(1), m.group(1)))
    return "\n".join(out) + "\n"


def main():
    net, report, pymodel, images, n = sys.argv[1:6]
    n = int(n)
    weights = sys.argv[6] if len(sys.argv) > 6 else None
    seen = {}

    def rec(name, t):
        t = t.detach()
        finite = t[torch.isfinite(t)]
        if finite.numel() == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        a, b = seen.get(name, (lo, hi))
        seen[name] = (min(a, lo), max(b, hi))

    ns = {"_rec": rec}
    exec(compile(instrument(open(pymodel).read()), pymodel, "exec"), ns)
    cls = [v for k, v in ns.items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
           and v is not torch.nn.Module and k[0].isupper()]
    model = cls[-1]()
    mean, std = 0.0, 1.0
    if weights:
        tensors, meta = st.load(weights, with_metadata=True)
        state = {k: v for k, v in tensors.items() if not k.startswith("__optim__")}
        model.load_state_dict(state, strict=False)
        if meta and "normalize" in meta:
            mean, std = (float(v) for v in meta["normalize"].split(","))
    model.eval()
    if images.endswith(".gz"):
        import gzip
        import tempfile
        with gzip.open(images) as f, tempfile.NamedTemporaryFile(suffix=".idx") as tmp:
            tmp.write(f.read())
            tmp.flush()
            x = idxio.read_idx(tmp.name)[:n].astype(np.float32)
    else:
        x = idxio.read_idx(images)[:n].astype(np.float32)
    x = torch.from_numpy(x).unsqueeze(1)
    x = ((x / np.float32(255.0)) - np.float32(mean)) / np.float32(std)
    rec("x", x)
    with torch.no_grad():
        for i in range(0, n, 100):
            model(x[i:i + 100])

    layers = json.load(open(report))["int8"]["layers"]
    bad = 0
    for l in layers:
        key = "x" if l["holds"] == "input" else l["holds"].replace(".", "_")
        if key not in seen:
            print("FAIL %s (holds %s): PyTorch's model has no output of that name" % (l["name"], l["holds"]))
            bad += 1
            continue
        lo, hi = seen[key]
        tol = 1e-4 * max(1.0, hi - lo)
        if not l["calibrated"] or abs(l["min"] - lo) > tol or abs(l["max"] - hi) > tol:
            print("FAIL %s (holds %s): cnnc [%s, %s], PyTorch [%.7g, %.7g]"
                  % (l["name"], l["holds"], l.get("min"), l.get("max"), lo, hi))
            bad += 1
    if not bad:
        print("ok   %s: the ranges of %d layers over %d images match PyTorch's (within 1e-4 of each range)"
              % (net, len(layers), n))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
