#!/usr/bin/python3
"""`make bench`'s int8 rows: cnnc's int8 C against its float C and PyTorch's
float and int8 models, batch 1, one thread, same run, same machine.

    int8.py [--cnnc build/cnnc] [--secs 1] [--runs 3] [--out build/bench-int8]

For lenet_relu and resnet20_fashion (1x28x28), with the initial weights of
seed 1 and the training set's normalisation (cnnc-train --epochs 0),
calibrated on 200 Fashion-MNIST training images; for lenet5 (1x32x32, tanh
and average pools: cnnc keeps those layers float, with copies at their
edges; PyTorch quantizes them), resnet20 (3x32x32) and resnet18
(3x224x224), with PyTorch's initial weights of seed 1 (the emitted module's,
written to a checkpoint here) and random normal inputs as the calibration
data (--calibrate FILE.f32: 200, 200 and 32 of them; timing does not depend
on the values):
  cnnc float  the default-mode C, cc -std=c99 -O2 -march=native -fopenmp;
  cnnc int8   --quantize int8, same flags (AVX-512 VNNI convs where the CPU
              has it);
  PyTorch     tests/ref/quant_torch.py --time: the float module and PyTorch's
              own static int8 model (eager, per-channel weights; fbgemm, or
              onednn where Debian's torch lacks it), torch.set_num_threads(1),
              calibrated on the same images.
Each run times repeated calls after a warm-up (bench/timer.c: the median of
the calls); --runs runs alternate the sides; every run is printed, then each
side's fastest and median run.  Ratios: cnnc float / cnnc int8 (above 1, int8
is faster) and PyTorch int8 / cnnc int8 (above 1, cnnc is faster), each of
the fastest runs.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# (network, random calibration inputs: 0 for Fashion-MNIST's images)
NETS = [("lenet_relu", 0), ("resnet20_fashion", 0), ("lenet5", 200), ("resnet20", 200), ("resnet18", 32)]
DATA = "/usr/share/datasets/fashion-mnist"

TORCH_INIT = r"""
import sys, types, subprocess
import numpy as np
import torch
sys.path.insert(0, "tests/ref")
import st
cnnc, net, ckpt, f32, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
src = subprocess.run([cnnc, net, "--emit", "pytorch", "-o", "-"], check=True, capture_output=True, text=True).stdout
mod = types.ModuleType("m")
exec(compile(src, net, "exec"), mod.__dict__)
torch.manual_seed(1)
m = mod.Model().eval()
st.save({k: v.detach().float().contiguous() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")},
        ckpt)
np.random.default_rng(1).standard_normal((n,) + tuple(mod.INPUT_SHAPE)).astype("<f4").tofile(f32)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnnc", default="build/cnnc")
    ap.add_argument("--secs", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="build/bench-int8")
    a = ap.parse_args()
    cnnc = os.path.abspath(a.cnnc)
    a.out = os.path.abspath(a.out)
    train = os.path.join(os.path.dirname(cnnc), "cnnc-train")
    os.makedirs(a.out, exist_ok=True)
    model, flags = "?", ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line.split()
    tv = bench.sh([bench.PY, "-c", "import torch; print(torch.__version__, ' '.join("
                   "torch.backends.quantized.supported_engines))"]).strip()
    print("# machine: %s, %d cores online, %s; cc %s; PyTorch %s (quantized engines: %s)"
          % (model, os.cpu_count(), "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX2" if "avx2" in flags
             else "no AVX2", os.environ.get("BENCH_CC", "cc"), tv.split()[0], " ".join(tv.split()[1:])), flush=True)
    rows = []
    for name, nrand in NETS:
        ckpt = os.path.join(a.out, name + ".safetensors")
        if nrand:
            data = os.path.join(a.out, name + ".f32")
            bench.sh([bench.PY, "-c", TORCH_INIT, cnnc, "dsl_examples/%s.net" % name, ckpt, data, str(nrand)])
        else:
            data = DATA
            bench.sh([train, "dsl_examples/%s.net" % name, "--data", DATA, "--epochs", "0", "--seed", "1",
                      "--normalize", "auto", "--save", ckpt, "--quiet"])
        ncal = str(nrand or 200)
        f_timer, f_w = bench.build(cnnc, name, a.out, False, ["--weights", ckpt])
        q_timer, q_w = bench.build(cnnc, name, a.out, False, ["--weights", ckpt, "--quantize", "int8", "--calibrate",
                                                              data, "--calibrate-n", ncal], "-int8")
        cf, cq, tf, tq = [], [], [], []
        for r in range(a.runs):
            cf.append(bench.run_c(f_timer, f_w, 1, 1, a.secs))
            cq.append(bench.run_c(q_timer, q_w, 1, 1, a.secs))
            t = json.loads(bench.sh([bench.PY, "tests/ref/quant_torch.py", "--net", "dsl_examples/%s.net" % name,
                                     "--weights", ckpt, "--data", data, "--calibrate-n", ncal, "--limit-test",
                                     "1" if nrand else "100",
                                     "--cnnc", cnnc, "--time", "--time-runs", "1", "--time-seconds", str(a.secs),
                                     "--threads", "1", "--json", "--quiet"]))
            tf.append(t["time"]["float"]["runs"][0]["median_ms"])
            tq.append(t["time"]["int8"]["runs"][0]["median_ms"])
            engine = t.get("engine")
            print("run %d  %-17s b1 1t | cnnc float %.4f  int8 %.4f | torch float %.4f  int8 (%s) %.4f"
                  % (r + 1, name, cf[-1], cq[-1], tf[-1], engine, tq[-1]), flush=True)
        rows.append((name, cf, cq, tf, tq, engine))
    print("\nint8, batch 1, 1 thread: ms an image, fastest / median run (torch: %s)" % rows[0][5])
    print("%-17s | %-17s %-17s | %-17s %-17s | %s  %s" % ("network", "cnnc float", "cnnc int8", "torch float",
                                                            "torch int8", "float/int8", "torch int8/cnnc int8"))
    for name, cf, cq, tf, tq, _ in rows:
        print("%-17s | %7.4f %7.4f   %7.4f %7.4f   | %7.4f %7.4f   %7.4f %7.4f   | %6.2f      %6.2f"
              % (name, min(cf), bench.med(cf), min(cq), bench.med(cq), min(tf), bench.med(tf), min(tq),
                 bench.med(tq), min(cf) / min(cq), min(tq) / min(cq)))


if __name__ == "__main__":
    main()
