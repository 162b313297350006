#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_act.c (values that may be NaN or
infinite).

usage: rt_act.py relu|leaky|softmax N D SLOPE IN OUT
       rt_act.py table:NAME N D A B IN OUT
IN holds x [N][D] then dy [N][D] as raw float32; OUT receives y = f(x)
(F.relu, F.leaky_relu(x, SLOPE), F.softmax(x, dim=1)) and dx, the autograd
gradient of sum(dy * y) with respect to x, both [N][D] float32.
table:NAME is an activation of runtime/cnnrt_acts.def with parameters A, B
(tests/runtime/test_rt_acts.c), computed by the torch.nn.functional call
below, on the CPU in float32.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


TABLE = {
    "relu": lambda x, a, b: F.relu(x),
    "leaky_relu": lambda x, a, b: F.leaky_relu(x, a),
    "tanh": lambda x, a, b: torch.tanh(x),
    "sigmoid": lambda x, a, b: torch.sigmoid(x),
    "relu6": lambda x, a, b: F.relu6(x),
    "hardtanh": lambda x, a, b: F.hardtanh(x, a, b),
    "hardsigmoid": lambda x, a, b: F.hardsigmoid(x),
    "hardswish": lambda x, a, b: F.hardswish(x),
    "silu": lambda x, a, b: F.silu(x),
    "gelu": lambda x, a, b: F.gelu(x),
    "gelu_tanh": lambda x, a, b: F.gelu(x, approximate="tanh"),
    "elu": lambda x, a, b: F.elu(x, a),
    "selu": lambda x, a, b: F.selu(x),
    "mish": lambda x, a, b: F.mish(x),
    "softplus": lambda x, a, b: F.softplus(x, a, b),
}


def table(argv):
    name, n, d, a, b = argv[1][6:], int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5])
    data = np.fromfile(argv[6], dtype="<f4")
    if data.size != 2 * n * d:
        raise SystemExit("rt_act.py: input has %d floats, expected %d" % (data.size, 2 * n * d))
    x = torch.tensor(data[:n * d]).reshape(n, d).requires_grad_(True)
    dy = torch.tensor(data[n * d:]).reshape(n, d)
    y = TABLE[name](x, a, b)
    y.backward(dy)
    np.concatenate([y.detach().numpy().ravel(), x.grad.numpy().ravel()]).astype("<f4").tofile(argv[7])


def main(argv):
    if argv[1].startswith("table:"):
        return table(argv)
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
