#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_norm.c.

usage: rt_norm.py KIND N C HW G AFFINE EPS MOMENTUM IN OUT
  KIND bn (BatchNorm1d/2d, training), bnrelu (the same, then F.relu),
       ln (LayerNorm([C,HW])), gn (GroupNorm(G, C)), in (InstanceNorm2d(C, affine=AFFINE))
  IN  = x [N][C][HW], gamma [P], beta [P], r [N][C][HW], and for bn(relu)
        running_mean [C], running_var [C]; P = C·HW for ln, else C
  OUT = y, dx, dgamma, dbeta (autograd of Σ r·y; zeros when not affine),
        and for bn(relu) the updated running_mean, running_var.  All float32.
"""
import sys

import numpy as np
import torch


def main(argv):
    kind = argv[1]
    relu = kind == "bnrelu"
    if relu:
        kind = "bn"
    n, c, hw, g, affine = (int(a) for a in argv[2:7])
    eps, momentum = float(argv[7]), float(argv[8])
    data = np.fromfile(argv[9], dtype="<f4")
    p = c * hw if kind == "ln" else c
    sizes = [n * c * hw, p, p, n * c * hw] + ([c, c] if kind == "bn" else [])
    parts, off = [], 0
    for s in sizes:
        parts.append(torch.tensor(data[off:off + s]))
        off += s
    if off != data.size:
        raise SystemExit("rt_norm.py: input has %d floats, expected %d" % (data.size, off))
    x = parts[0].reshape(n, c, hw, 1).clone().requires_grad_(True)
    r = parts[3].reshape(n, c, hw, 1)
    if kind == "bn":
        m = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum, affine=bool(affine))
        m.running_mean.copy_(parts[4])
        m.running_var.copy_(parts[5])
        m.train()
    elif kind == "ln":
        m = torch.nn.LayerNorm([c, hw, 1], eps=eps, elementwise_affine=bool(affine))
    elif kind == "gn":
        m = torch.nn.GroupNorm(g, c, eps=eps, affine=bool(affine))
    elif kind == "in":
        m = torch.nn.InstanceNorm2d(c, eps=eps, affine=bool(affine))
    else:
        raise SystemExit("rt_norm.py: unknown kind " + kind)
    if affine:
        with torch.no_grad():
            m.weight.copy_(parts[1].reshape(m.weight.shape))
            m.bias.copy_(parts[2].reshape(m.bias.shape))
    y = m(x)
    if relu:
        y = torch.nn.functional.relu(y)
    (y * r).sum().backward()
    zeros = np.zeros(p, dtype=np.float32)
    out = [y.detach().numpy().ravel(), x.grad.numpy().ravel(),
           m.weight.grad.numpy().ravel() if affine else zeros,
           m.bias.grad.numpy().ravel() if affine else zeros]
    if kind == "bn":
        out += [m.running_mean.numpy(), m.running_var.numpy()]
    np.concatenate(out).astype("<f4").tofile(argv[10])


if __name__ == "__main__":
    main(sys.argv)
