#!/usr/bin/python3
"""PyTorch's side of `make bench-train`: time training steps, or one epoch.

    torch_train.py NAME BATCH THREADS SECONDS
    torch_train.py NAME BATCH THREADS --epoch DIR

The model is the hand-written nn.Module of the tests
(tests/ref/torchvision_ref.py), PyTorch's default initialisation,
model.train(), nn.CrossEntropyLoss, torch.optim.Adam(lr=1e-3); a step is
zero_grad(set_to_none=True), forward, loss, backward, optimizer.step()
— the usual eager training loop.  torch.set_num_threads(THREADS).

Step mode: 8 batches of random inputs U(−1, 1) and random labels, used in
turn; a warm-up of at least 5 steps and 0.5 s, then steps until SECONDS
have passed (at least 10).  Prints "median_ms_per_step min_ms steps
cpu_ms_per_step", the last the process's CPU time (all threads) over the
timed steps divided by their number.

Epoch mode: the training set of DIR (IDX files, plain or .gz) loaded once
into a float tensor x/255 [N][1][H][W] and a label tensor; one warm-up
step, then one pass in a random order (torch.randperm), batches of BATCH
sliced from the tensors in memory.  Prints
"seconds steps mean_loss train_accuracy_percent".
"""
import gzip
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
from torchvision_ref import build  # noqa: E402


def idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p) if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            nd = data[3]
            dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    sys.exit("torch_train: no %s[.gz]" % path)


def setup(name):
    torch.manual_seed(1)
    model, shape = build(name)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = lossf(out, y)
        loss.backward()
        opt.step()
        return loss, out

    return step, shape


def time_steps(name, batch, secs):
    step, shape = setup(name)
    g = torch.Generator().manual_seed(12345)
    xs = [torch.rand((batch,) + tuple(shape), generator=g) * 2 - 1 for _ in range(8)]
    ys = [torch.randint(0, 10, (batch,), generator=g) for _ in range(8)]
    k = 0
    t0 = time.perf_counter()
    while k < 5 or time.perf_counter() - t0 < 0.5:
        step(xs[k % 8], ys[k % 8])
        k += 1
    ts = []
    t0 = time.perf_counter()
    c0 = time.process_time()
    while len(ts) < 10 or time.perf_counter() - t0 < secs:
        a = time.perf_counter()
        step(xs[k % 8], ys[k % 8])
        ts.append(time.perf_counter() - a)
        k += 1
    cpu = (time.process_time() - c0) / len(ts)
    ts.sort()
    print("%.4f %.4f %d %.4f" % (1e3 * ts[len(ts) // 2], 1e3 * ts[0], len(ts), 1e3 * cpu))


def time_epoch(name, batch, data):
    step, shape = setup(name)
    imgs = idx(os.path.join(data, "train-images-idx3-ubyte"))
    labels = idx(os.path.join(data, "train-labels-idx1-ubyte"))
    n = imgs.shape[0]
    X = torch.from_numpy(imgs.astype(np.float32) / 255.0).reshape((n,) + tuple(shape))
    Y = torch.from_numpy(labels.astype(np.int64))
    step(X[:batch], Y[:batch])                       # warm-up
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(7))
    steps = (n + batch - 1) // batch
    loss_sum, correct = 0.0, 0
    t0 = time.perf_counter()
    for s in range(steps):
        ix = perm[s * batch:(s + 1) * batch]
        xb, yb = X[ix], Y[ix]
        loss, out = step(xb, yb)
        loss_sum += loss.item() * len(ix)
        correct += int((out.argmax(1) == yb).sum())
    secs = time.perf_counter() - t0
    print("%.3f %d %.4f %.2f" % (secs, steps, loss_sum / n, 100.0 * correct / n))


def main():
    a = sys.argv[1:]
    if len(a) not in (4, 5):
        sys.exit(__doc__)
    name, batch, threads = a[0], int(a[1]), int(a[2])
    torch.set_num_threads(threads)
    if a[3] == "--epoch":
        time_epoch(name, batch, a[4])
    else:
        time_steps(name, batch, float(a[3]))


if __name__ == "__main__":
    main()
