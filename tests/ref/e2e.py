#!/usr/bin/python3
"""Reference side of the end-to-end test of generated inference code.

    e2e.py make NAME DIR BATCH SEED    random weights -> DIR/w.safetensors,
                                       random input -> DIR/in.bin,
                                       the model's output -> DIR/ref.bin
    e2e.py check NAME DIR              compare DIR/out.bin (the C) with DIR/ref.bin

The model is an independent PyTorch definition: torchvision's own model for
the torchvision networks, and a hand-written nn.Module (tests/ref/
torchvision_ref.py) for the others; its state dict is saved under PyTorch's
own names, no renaming.  Every parameter and batchnorm statistic is drawn
at random (seeded), so folding and every layer are exercised.  Tolerance:
max |c - ref| / max |ref| <= 1e-4 (the issue's bound).
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from torchvision_ref import build  # noqa: E402

TOL = 1e-4


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)

    def u(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = mod.weight[0].numel()
                b = 1.0 / math.sqrt(fan_in)
                # a touch above PyTorch's default so deep nets keep their scale
                mod.weight.copy_(u(mod.weight.shape, -b, b) * math.sqrt(3.0))
                if mod.bias is not None:
                    mod.bias.copy_(u(mod.bias.shape, -b, b))
            elif isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                c = mod.num_features
                mod.weight.copy_(u((c,), 0.5, 1.5))
                mod.bias.copy_(u((c,), -0.3, 0.3))
                mod.running_mean.copy_(u((c,), -0.3, 0.3))
                mod.running_var.copy_(u((c,), 0.5, 2.0))
            elif isinstance(mod, (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.InstanceNorm2d)):
                if getattr(mod, "weight", None) is not None:
                    mod.weight.copy_(u(mod.weight.shape, 0.5, 1.5))
                    mod.bias.copy_(u(mod.bias.shape, -0.3, 0.3))


def make(name, d, batch, seed):
    torch.manual_seed(seed)
    model, shape = build(name)
    randomize(model, seed)
    model.eval()
    st.save(model.state_dict(), os.path.join(d, "w.safetensors"))
    x = torch.randn((batch,) + tuple(shape), generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(d, "in.bin"))
    y.numpy().astype("<f4").tofile(os.path.join(d, "ref.bin"))


def check(name, d):
    ref = np.fromfile(os.path.join(d, "ref.bin"), dtype="<f4").astype(np.float64)
    out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f4").astype(np.float64)
    if ref.size != out.size:
        print("%s: the C wrote %d values, PyTorch %d" % (name, out.size, ref.size))
        return 1
    if not np.all(np.isfinite(out)):
        print("%s: the C output has NaN or Inf at index %d" % (name, int(np.argmin(np.isfinite(out)))))
        return 1
    scale = np.max(np.abs(ref))
    diff = np.abs(out - ref)
    i = int(np.argmax(diff))
    rel = diff[i] / scale if scale > 0 else diff[i]
    verdict = "ok" if rel <= TOL else "FAIL"
    print("%s: %s  max|c-ref|/max|ref| = %.3g (index %d: c %.9g, ref %.9g; max|ref| %.4g, %d values)"
          % (name, verdict, rel, i, out[i], ref[i], scale, ref.size))
    return 0 if rel <= TOL else 1


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))
