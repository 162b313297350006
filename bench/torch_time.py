#!/usr/bin/python3
"""PyTorch side of `make bench`: time one network in each inference mode.

    torch_time.py NAME BATCH THREADS SECONDS

The model is the independent PyTorch definition of the tests
(tests/ref/torchvision_ref.py: torchvision's own model or a hand-written
nn.Module), random weights, eval mode, under torch.inference_mode().
Modes: eager; TorchScript scripted and frozen (torch.jit.freeze);
torch.jit.optimize_for_inference (freezing plus conv/bn folding and, where
PyTorch has it, MKL-DNN layouts).  Each mode is warmed up (at least 5 calls
and 0.3 s, so the profiling executor has specialised the graph), then timed
call by call until SECONDS have passed (at least 5 calls).  Prints one line
per mode: "MODE median_ms_per_batch min_ms calls".
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from torchvision_ref import build  # noqa: E402


def timeit(fn, x, secs):
    t0 = time.perf_counter()
    k = 0
    while k < 5 or time.perf_counter() - t0 < 0.3:
        fn(x)
        k += 1
    ts = []
    t0 = time.perf_counter()
    while len(ts) < 5 or time.perf_counter() - t0 < secs:
        a = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - a)
    ts.sort()
    return 1e3 * ts[len(ts) // 2], 1e3 * ts[0], len(ts)


def main():
    name, batch, threads, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, shape = build(name)
    model.eval()
    x = torch.randn((batch,) + tuple(shape))
    with torch.inference_mode():
        modes = [("eager", model)]
        try:
            scripted = torch.jit.script(model)
            modes.append(("frozen", torch.jit.freeze(scripted.eval())))
            modes.append(("optimized", torch.jit.optimize_for_inference(torch.jit.script(model).eval())))
        except Exception as e:  # a model TorchScript cannot compile: eager only
            print("# torchscript: %s" % str(e).splitlines()[0], file=sys.stderr)
        for mode, fn in modes:
            med, best, n = timeit(fn, x, secs)
            print("%s %.6f %.6f %d" % (mode, med, best, n))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
