#!/usr/bin/python3
"""A concat of many branches trains: cnnc-train against PyTorch.

usage: wide_concat.py gen DIR [BRANCHES]   write DIR/wide.net and DIR/data/
       wide_concat.py check DIR            compare DIR/run.st.csv and DIR/run.st
                                           with PyTorch, from DIR/init.st
       wide_concat.py infer DIR            write DIR/in.bin, 3 random inputs, and
                                           DIR/ref.bin, PyTorch's logits for them
                                           from DIR/init.st
       wide_concat.py infer-check DIR      compare DIR/out.bin (the generated
                                           inference code's) with DIR/ref.bin

gen writes a network whose concat has BRANCHES (default 200) branches, each
a conv of 1, 2 or 3 channels (k1 tanh, k3 sigmoid, or k3 dilated without an
activation, in turn), over a shared stem, then a 1×1 conv, an average pool
and a dense layer to 4 classes; and a dataset in IDX format (the files
cnnc-train --data reads): 16 training and 8 test images of 8×8 random bytes
(numpy, fixed seed) with random labels, every class present.

The suite (tests/e2e/suite_train_concat.sh) then writes the initial weights with
cnnc-train --epochs 0 (DIR/init.st), and trains 3 epochs of one step each
(--batch 16: the whole training set, so the data order does not matter) with
plain SGD, the options of DIR/train_args (DIR/run.st, its CSV log
DIR/run.st.csv).

check runs the same 3 steps in PyTorch, in float64 from init.st (so the
error measured is cnnrt's): the network written out with torch.nn.functional
from the same branch list as gen (not from cnnc's output), the mean
cross-entropy of the batch, torch.optim.SGD.  Checked, as
tests/ref/train_ref.py does:
  - the loss of each step (the CSV's train_loss, printed to 6 decimals):
    relative error ≤ 1e-5 for the first step (the initial weights), ≤ 1e-4
    for the steps after (a float32 trajectory);
  - the parameters after 3 steps, ‖p_c − p_t‖/‖p_t‖ ≤ 1e-4 over all of them;
  - what the steps changed in the branches, ‖Δp_c − Δp_t‖/‖Δp_t‖ ≤ 1e-3,
    separately for the first 64 branches and the ones after: a branch whose
    gradient is lost (a cap on the concat's inputs) keeps its weights.
The network is smooth (tanh, sigmoid, average pool; no kinks), so float32
rounding is not amplified.

infer and infer-check test cnnc's generated inference code of the same
network with the initial weights (cnnc --weights DIR/init.st): its output
on 3 random images (normal, fixed seed) against forward() in float64,
max |c - ref| / max |ref| <= 1e-4, as tests/codegen/suite_codegen.sh.  Prints one line per check ("ok" or "FAIL") and
exits 1 when anything failed.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st                    # noqa: E402
from idxio import read_idx, write_idx  # noqa: E402

SEED = 20240717
N_TRAIN, N_TEST, H, W, CLASSES = 16, 8, 8, 8, 4
STEM, MIX = 3, 6
LR, STEPS = 0.2, 3
# the run both sides take: the whole training set in each step (cnnc-train
# reads them from DIR/train_args, which gen writes)
TRAIN_ARGS = "--batch %d --opt sgd --lr %g" % (N_TRAIN, LR)
TOL_LOSS0, TOL_LOSS, TOL_PARAM, TOL_DELTA = 1e-5, 1e-4, 1e-4, 1e-3


def branches(nb):
    """[(name, channels, kind)]: kind 0 k1 tanh, 1 k3 p1 sigmoid, 2 k3 p2 d2;
    every 9 branches take each pair of channels and kind once"""
    return [("b%d" % i, 1 + i % 3, i // 3 % 3) for i in range(nb)]


def net_text(nb):
    lines = ["# wide_concat — a concat of %d branches (tests/ref/wide_concat.py gen)" % nb,
             "network wide_concat input 1x%dx%d" % (H, W),
             "conv stem %d k3 p1 tanh" % STEM,
             "concat wide {"]
    spell = ["k1 tanh", "k3 p1 sigmoid", "k3 p2 d2"]
    for name, c, kind in branches(nb):
        lines.append("    conv %s %d %s" % (name, c, spell[kind]))
    lines += ["}",
              "conv mix %d k1 tanh" % MIX,
              "avgpool k2 s2",
              "flatten",
              "dense out %d" % CLASSES, ""]
    return "\n".join(lines)


def gen(d, nb):
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    with open(os.path.join(d, "wide.net"), "w") as f:
        f.write(net_text(nb))
    with open(os.path.join(d, "branches"), "w") as f:
        f.write("%d\n" % nb)
    with open(os.path.join(d, "train_args"), "w") as f:
        f.write(TRAIN_ARGS + "\n")
    rng = np.random.default_rng(SEED)
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        x = rng.integers(0, 256, size=(n, H, W))
        y = rng.permutation(np.arange(n) % CLASSES)
        write_idx(os.path.join(d, "data", "%s-images-idx3-ubyte" % split), x, False)
        write_idx(os.path.join(d, "data", "%s-labels-idx1-ubyte" % split), y, True)


def forward(p, x, nb):
    """The logits, from parameters p by name (the .net's state-dict names)."""
    x = torch.tanh(F.conv2d(x, p["stem.weight"], p["stem.bias"], padding=1))
    outs = []
    for name, _, kind in branches(nb):
        w, b = p["wide.%s.weight" % name], p["wide.%s.bias" % name]
        if kind == 0:
            outs.append(torch.tanh(F.conv2d(x, w, b)))
        elif kind == 1:
            outs.append(torch.sigmoid(F.conv2d(x, w, b, padding=1)))
        else:
            outs.append(F.conv2d(x, w, b, padding=2, dilation=2))
    x = torch.tanh(F.conv2d(torch.cat(outs, 1), p["mix.weight"], p["mix.bias"]))
    x = torch.flatten(F.avg_pool2d(x, 2, 2), 1)
    return F.linear(x, p["out.weight"], p["out.bias"])


def rel(a, b):
    return (torch.linalg.norm(a - b) / torch.linalg.norm(b)).item()


def check(d):
    with open(os.path.join(d, "branches")) as f:
        nb = int(f.read())
    init = st.load(os.path.join(d, "init.st"))
    final = st.load(os.path.join(d, "run.st"))
    names = sorted(n for n in init if not n.startswith("__optim__."))
    p = {n: init[n].double().requires_grad_() for n in names}
    x = torch.from_numpy(read_idx(os.path.join(d, "data", "train-images-idx3-ubyte")).copy())
    # cnnc-train feeds (float)v / 255.0f (no --normalize): the same floats
    x = (x.float() / 255.0).double().unsqueeze(1)
    y = torch.from_numpy(read_idx(os.path.join(d, "data", "train-labels-idx1-ubyte")).astype(np.int64))
    opt = torch.optim.SGD(list(p.values()), lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(forward(p, x, nb), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with open(os.path.join(d, "run.st.csv")) as f:
        rows = [r.split(",") for r in f.read().split("\n")[1:] if r]
    fails = 0

    def report(good, what):
        nonlocal fails
        print("%s %s" % ("ok  " if good else "FAIL", what))
        fails += 0 if good else 1

    report(len(rows) == STEPS, "cnnc-train logged %d epochs of one step (%d expected)" % (len(rows), STEPS))
    for s, (row, lt) in enumerate(zip(rows, losses)):
        lc = float(row[3])
        e = abs(lc - lt) / abs(lt)
        tol = TOL_LOSS0 if s == 0 else TOL_LOSS
        report(e <= tol, "step %d loss: cnnrt %.6f, PyTorch %.6f, relative error %.1e (tolerance %.0e)"
               % (s + 1, lc, lt, e, tol))
    pc = torch.cat([final[n].double().flatten() for n in names])
    pt = torch.cat([p[n].detach().flatten() for n in names])
    e = rel(pc, pt)
    report(e <= TOL_PARAM, "%d parameters after %d steps: relative error %.1e (tolerance %.0e)"
           % (pt.numel(), STEPS, e, TOL_PARAM))
    for lo, hi in ((0, min(nb, 64)), (64, nb)):
        if lo >= hi:
            continue
        sel = ["wide.b%d.%s" % (i, s) for i in range(lo, hi) for s in ("weight", "bias")]
        dc = torch.cat([(final[n].double() - init[n].double()).flatten() for n in sel])
        dt = torch.cat([(p[n].detach() - init[n].double()).flatten() for n in sel])
        e = rel(dc, dt)
        report(e <= TOL_DELTA and torch.linalg.norm(dt).item() > 0,
               "branches %d..%d: what %d steps changed, relative error %.1e (tolerance %.0e; |Δp| %.2e)"
               % (lo, hi - 1, STEPS, e, TOL_DELTA, torch.linalg.norm(dt).item()))
    return fails


N_INFER, TOL_INFER = 3, 1e-4


def infer(d):
    with open(os.path.join(d, "branches")) as f:
        nb = int(f.read())
    init = st.load(os.path.join(d, "init.st"))
    p = {n: init[n].double() for n in init if not n.startswith("__optim__.")}
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(N_INFER, 1, H, W, generator=g)
    with torch.no_grad():
        ref = forward(p, x.double(), nb).float()
    x.numpy().astype("<f4").tofile(os.path.join(d, "in.bin"))
    ref.numpy().astype("<f4").tofile(os.path.join(d, "ref.bin"))


def infer_check(d):
    ref = np.fromfile(os.path.join(d, "ref.bin"), dtype="<f4").astype(np.float64)
    out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f4").astype(np.float64)
    if out.shape != ref.shape:
        print("FAIL the generated code wrote %d values, expected %d" % (out.size, ref.size))
        return 1
    e = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
    good = e <= TOL_INFER
    print("%s generated inference code on %d images: max error %.1e of max |ref| (tolerance %.0e)"
          % ("ok  " if good else "FAIL", N_INFER, e, TOL_INFER))
    return 0 if good else 1


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 200)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        return 1 if check(sys.argv[2]) else 0
    if len(sys.argv) == 3 and sys.argv[1] == "infer":
        infer(sys.argv[2])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "infer-check":
        return infer_check(sys.argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
