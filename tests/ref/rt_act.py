#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_act.c (values that may be NaN or
infinite).

usage: rt_act.py relu|leaky|softmax N D SLOPE IN OUT
IN holds x [N][D] then dy [N][D] as raw float32; OUT receives y = f(x)
(F.relu, F.leaky_relu(x, SLOPE), F.softmax(x, dim=1)) and dx, the autograd
gradient of sum(dy * y) with respect to x, both [N][D] float32.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main(argv):
    kind, n, d, slope = argv[1], int(argv[2]), int(argv[3]), float(argv[4])
    data = np.fromfile(argv[5], dtype="<f4")
    if data.size != 2 * n * d:
        raise SystemExit("rt_act.py: input has %d floats, expected %d" % (data.size, 2 * n * d))
    x = torch.tensor(data[:n * d]).reshape(n, d).requires_grad_(True)
    dy = torch.tensor(data[n * d:]).reshape(n, d)
    if kind == "relu":
        y = F.relu(x)
    elif kind == "leaky":
        y = F.leaky_relu(x, slope)
    elif kind == "softmax":
        y = F.softmax(x, dim=1)
    else:
        raise SystemExit("rt_act.py: unknown kind " + kind)
    y.backward(dy)
    np.concatenate([y.detach().numpy().ravel(), x.grad.numpy().ravel()]).astype("<f4").tofile(argv[6])


if __name__ == "__main__":
    main(sys.argv)
