#!/usr/bin/python3
"""A NaN or infinite pixel through cnnrt's training step, against PyTorch.

usage: nan_train.py NET.net CNNC GRADCHECK WORKDIR

The model is the one `CNNC NET.net --emit pytorch` writes, its weights drawn
by PyTorch (batchnorm statistics and affine parameters too) and saved as
safetensors for GRADCHECK (tests/runtime/gradcheck.c).  A batch of four random
N(0, 1) images with random labels, where image 1 has one NaN pixel (case
"nan") or one +Inf pixel (case "inf").  For each case:
  1. one cnnrt_net_loss_and_grads (gradcheck --nonfinite-ok) against
     PyTorch autograd in float32, train mode, F.cross_entropy: the loss is
     NaN on both sides; the logits and every parameter gradient are NaN,
     +Inf and -Inf exactly where PyTorch's are, the finite values within
     1e-4 of the tensor's largest finite |value|; likewise the running
     statistics after that forward;
  2. one cnnrt_net_train_step (SGD): the loss is NaN, the step is refused
     (the parameters are the ones loaded) and a layer is named; without
     --nonfinite-ok gradcheck fails saying the loss is not finite, which is
     what makes cnnc-train stop with "training diverged".
Before cnnrt's relu passed NaN on (relu(NaN) was 0), such a batch gave a
finite loss (check 1 fails); the step was refused all the same, but only
because the first conv's weight gradient, a sum of dy·x, met the NaN pixel
and cnnrt_net_train_step checks the gradients too.  Prints one line per case
and check; exits 1 when anything failed.
"""
import importlib.util
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

SEED = 4242
N = 4
TOL = 1e-4


def load_model(path):
    spec = importlib.util.spec_from_file_location("nan_train_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def same_pattern(name, got, ref, problems):
    """NaN/±Inf exactly where ref has them, finite values within TOL of max |ref|."""
    got, ref = got.double().flatten(), ref.double().flatten()
    if got.numel() != ref.numel():
        problems.append("%s: %d values, PyTorch %d" % (name, got.numel(), ref.numel()))
        return
    for what, fn in (("NaN", torch.isnan), ("+Inf", torch.isposinf), ("-Inf", torch.isneginf)):
        mg, mr = fn(got), fn(ref)
        if not torch.equal(mg, mr):
            i = int((mg != mr).nonzero()[0])
            problems.append("%s: %s at %d values, PyTorch %d; first difference at [%d]: cnnrt %r, PyTorch %r"
                            % (name, what, int(mg.sum()), int(mr.sum()), i, got[i].item(), ref[i].item()))
            return
    fin = torch.isfinite(ref)
    if fin.any():
        scale = ref[fin].abs().max().item()
        diff = (got[fin] - ref[fin]).abs().max().item()
        if not diff <= TOL * max(scale, 1e-30):
            problems.append("%s: finite values differ by %.3g, max |ref| %.3g" % (name, diff, scale))


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    netfile, cnnc, gradcheck, work = argv[1:]
    os.makedirs(work, exist_ok=True)
    name = os.path.splitext(os.path.basename(netfile))[0]
    model_py = os.path.join(work, name + ".py")
    rc, out = run([cnnc, netfile, "--emit", "pytorch", "-o", model_py])
    if rc != 0:
        print("FAIL  %s: cnnc --emit pytorch failed:\n%s" % (name, out))
        return 1
    mod = load_model(model_py)
    torch.manual_seed(SEED)
    model = mod.Model()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    wpath = os.path.join(work, name + ".weights.safetensors")
    st.save({k: v.contiguous() for k, v in state0.items()}, wpath)
    learnable = {k for k, _ in model.named_parameters()}

    c, h, w = mod.INPUT_SHAPE
    x = torch.randn(N, c, h, w, generator=g)
    labels = torch.randint(0, mod.OUTPUT_SHAPE[0], (N,), generator=g)
    at = (1, int(torch.randint(0, c, (1,), generator=g)), h // 2, w // 3)
    failed = 0
    for case, v in (("nan", float("nan")), ("inf", float("inf"))):
        xc = x.clone()
        xc[at] = v
        bpath = os.path.join(work, "%s.%s.batches.safetensors" % (name, case))
        st.save({"x": xc.unsqueeze(0), "labels": labels.float().unsqueeze(0)}, bpath)

        # 1. loss, logits and gradients
        opath = os.path.join(work, "%s.%s.grads.safetensors" % (name, case))
        rc, log = run([gradcheck, netfile, wpath, bpath, opath, "--nonfinite-ok"])
        problems = []
        if rc != 0:
            problems.append("gradcheck --nonfinite-ok failed (exit %d):\n%s" % (rc, log))
        else:
            got = st.load(opath)
            m = mod.Model()
            m.load_state_dict(state0)
            m.train()
            logits = m(xc)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            if not (torch.isnan(loss) and torch.isnan(got["loss"][0])):
                problems.append("loss: cnnrt %r, PyTorch %r (both must be NaN)" % (got["loss"][0].item(), loss.item()))
            same_pattern("logits", got["logits"], logits.detach(), problems)
            for k, p in m.named_parameters():
                same_pattern("grad." + k, got["grad." + k], p.grad, problems)
            for k, t in m.state_dict().items():
                if k not in learnable and not k.endswith("num_batches_tracked"):
                    same_pattern(k, got[k], t, problems)
            nan_grads = sum(int(torch.isnan(p.grad).sum()) for p in m.parameters())
            fin_logits = int(torch.isfinite(logits).sum())
        ok = not problems
        failed += not ok
        print("%-4s  %-10s %s pixel: loss+gradients   %s" % (
            "ok" if ok else "FAIL", name, case,
            "loss NaN; %d finite logits, %d NaN gradient values: the same as PyTorch's" % (fin_logits, nan_grads)
            if ok else ""))
        for p in problems:
            print("        " + p)

        # 2. a training step: refused, the layer named
        opath = os.path.join(work, "%s.%s.step.safetensors" % (name, case))
        rc, log = run([gradcheck, netfile, wpath, bpath, opath, "--steps", "1", "--opt", "sgd", "--lr", "0.1",
                       "--nonfinite-ok"])
        rc2, log2 = run([gradcheck, netfile, wpath, bpath, opath + ".x", "--steps", "1"])
        problems = []
        layer = "?"
        if rc != 0:
            problems.append("gradcheck --steps 1 --nonfinite-ok failed (exit %d):\n%s" % (rc, log))
        else:
            got = st.load(opath)
            if not torch.isnan(got["loss"][0]):
                problems.append("the step's loss is %r, not NaN" % got["loss"][0].item())
            for k in learnable:
                if not torch.equal(got[k], state0[k]):
                    problems.append("%s changed: the step was taken" % k)
            if "first bad layer: " not in log or "first bad layer: none" in log:
                problems.append("no layer named: %s" % log.strip())
            else:
                layer = log.split("first bad layer: ")[1].split(")")[0]
        if rc2 == 0 or "the loss is not finite" not in log2:
            problems.append("without --nonfinite-ok gradcheck did not fail on the NaN loss (exit %d): %s"
                            % (rc2, log2.strip()))
        ok = not problems
        failed += not ok
        print("%-4s  %-10s %s pixel: training step    %s" % (
            "ok" if ok else "FAIL", name, case,
            "loss NaN, step refused, first bad layer %s" % layer if ok else ""))
        for p in problems:
            print("        " + p)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
