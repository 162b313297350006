#!/usr/bin/python3
"""Reference side of tests/codegen/suite_nan.sh: NaN and Inf through generated code.

    nan_e2e.py make MODEL.py DIR SEED   the model `cnnc NET.net --emit pytorch`
                                        wrote, weights drawn at random
                                        (batchnorm statistics too) ->
                                        DIR/w.safetensors; a batch of four
                                        images -> DIR/in.bin; PyTorch's
                                        output (eval mode) -> DIR/ref.bin
    nan_e2e.py check DIR                compare DIR/out.bin (the C) with it

The four images are random N(0, 1) pixels with, at one pixel drawn from SEED,
  0: NaN    1: +Inf    2: -Inf    3: nothing (a clean image after three bad
                                     ones: no NaN may stay behind in the C's
                                     workspace)
The check is per value: NaN where PyTorch has NaN and only there, +Inf and
-Inf likewise, and the finite values within max |c - ref| <= 1e-4 of the
largest finite |ref| of the image (the tolerance of tests/ref/e2e.py).
Image 0 must give PyTorch at least one NaN (else the case tests nothing)
and image 3 none.
"""
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

TOL = 1e-4
LABELS = ["NaN pixel", "+Inf pixel", "-Inf pixel", "clean"]


def load(path):
    spec = importlib.util.spec_from_file_location("nan_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make(model_py, d, seed):
    import torch                 # here: `check` runs once per build and needs only numpy
    import torch.nn as nn
    sys.path.insert(0, HERE)
    import st
    mod = load(model_py)
    torch.manual_seed(seed)
    model = mod.Model()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
    model.eval()
    st.save({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(d, "w.safetensors"))
    c, h, w = mod.INPUT_SHAPE
    x = torch.randn((4, c, h, w), generator=gen)
    at = (int(torch.randint(0, c, (1,), generator=gen)), int(torch.randint(h // 4, 3 * h // 4, (1,), generator=gen)),
          int(torch.randint(w // 4, 3 * w // 4, (1,), generator=gen)))
    for i, v in enumerate([float("nan"), float("inf"), float("-inf")]):
        x[i][at] = v
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(d, "in.bin"))
    y.numpy().astype("<f4").tofile(os.path.join(d, "ref.bin"))
    print("pixel (c, y, x) = %s" % (at,))


def check(d):
    ref = np.fromfile(os.path.join(d, "ref.bin"), dtype="<f4").astype(np.float64).reshape(4, -1)
    out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f4").astype(np.float64)
    if out.size != ref.size:
        print("the C wrote %d values, PyTorch %d" % (out.size, ref.size))
        return 1
    out = out.reshape(4, -1)
    bad = 0
    words = []
    for i in range(4):
        r, o = ref[i], out[i]
        problems = []
        for what, fn in (("NaN", np.isnan), ("+Inf", lambda a: np.isposinf(a)), ("-Inf", np.isneginf)):
            mr, mo = fn(r), fn(o)
            if not np.array_equal(mr, mo):
                j = int(np.argmax(mr != mo))
                problems.append("%s at %d values in PyTorch, %d in the C; first difference at [%d]: "
                                "PyTorch %r, C %r" % (what, mr.sum(), mo.sum(), j, r[j], o[j]))
        fin = np.isfinite(r) & np.isfinite(o)
        scale = np.max(np.abs(r[fin])) if fin.any() else 0.0
        diff = np.abs(o[fin] - r[fin])
        rel = (diff.max() / scale if scale > 0 else diff.max()) if fin.any() else 0.0
        if not rel <= TOL:
            problems.append("finite values: max |c - ref| / max |ref| = %.3g > %g" % (rel, TOL))
        if i == 0 and not np.isnan(r).any():
            problems.append("PyTorch gives no NaN for the NaN pixel: the case tests nothing")
        if i == 3 and not np.isfinite(r).all():
            problems.append("PyTorch's clean image is not finite")
        n_nan, n_inf = int(np.isnan(r).sum()), int(np.isinf(r).sum())
        words.append("%s: %d NaN %d Inf %d finite (rel %.2g)" % (LABELS[i], n_nan, n_inf, r.size - n_nan - n_inf,
                                                                  rel))
        for p in problems:
            print("  image %d (%s): %s" % (i, LABELS[i], p))
        bad += len(problems) > 0
    print("; ".join(words))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
