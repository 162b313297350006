#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_loss.c.

usage: rt_loss.py xent N K EPS IN OUT    IN = logits [N][K] then labels [N] (as float32)
       rt_loss.py mse COUNT IN OUT        IN = y [COUNT] then target [COUNT]
OUT = the loss, then the gradient w.r.t. the first input (autograd), float32.
"""
import sys

import numpy as np
import torch


def main(argv):
    mode, inp, outp = argv[1], argv[-2], argv[-1]
    data = np.fromfile(inp, dtype="<f4")
    if mode == "xent":
        n, k, eps = int(argv[2]), int(argv[3]), float(argv[4])
        x = torch.tensor(data[: n * k].reshape(n, k), requires_grad=True)
        labels = torch.tensor(data[n * k:].astype(np.int64))
        loss = torch.nn.CrossEntropyLoss(label_smoothing=eps)(x, labels)
    elif mode == "mse":
        count = int(argv[2])
        x = torch.tensor(data[:count], requires_grad=True)
        t = torch.tensor(data[count:])
        loss = torch.nn.MSELoss()(x, t)
    else:
        raise SystemExit("rt_loss.py: unknown mode " + mode)
    loss.backward()
    out = np.concatenate([[loss.item()], x.grad.numpy().ravel()]).astype("<f4")
    out.tofile(outp)


if __name__ == "__main__":
    main(sys.argv)
