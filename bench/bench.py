#!/usr/bin/python3
"""`make bench`: cnnc's generated code against PyTorch, same run, same machine.

    bench.py [--cnnc build/cnnc] [--secs 2] [--out build/bench] [--only NAME]

For each case (network, batch) and thread count (1 and 2):
  cnnc     the default-mode C (OpenBLAS + OpenMP), built with
           cc -std=c99 -O2 -march=native -fopenmp ... -lopenblas -lm,
           run with OMP_NUM_THREADS=t and OPENBLAS_NUM_THREADS=1 (the layers
           share their work over OpenMP; two spinning pools on two cores
           collapse, measured);
  cnnc-sa  the --standalone C, same flags without OpenBLAS;
  PyTorch  bench/torch_time.py with torch.set_num_threads(t): eager,
           TorchScript frozen and optimize_for_inference; the fastest is kept.
Times are medians over repeated calls after a warm-up (bench/timer.c,
bench/torch_time.py).  FLOPs are 2·MACs from `cnnc --report=json`.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment has them.
The ratio is PyTorch ms / cnnc ms: above 1, cnnc is faster.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CASES = [("lenet5", 1), ("lenet5", 64), ("resnet20", 1), ("resnet20", 64), ("resnet18", 1), ("resnet18", 8),
         ("mobilenet_v2", 1)]
THREADS = [1, 2]
PY = "/usr/bin/python3"


def sh(cmd, env=None, cwd=ROOT):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write("bench: %s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
        sys.exit(1)
    return r.stdout


def pkg(args):
    try:
        return subprocess.run(["pkg-config"] + args + ["openblas"], stdout=subprocess.PIPE,
                              text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return ["-lopenblas"] if "--libs" in args else []


def build(cnnc, name, out, standalone):
    d = os.path.join(out, name + ("-sa" if standalone else ""))
    os.makedirs(d, exist_ok=True)
    c = os.path.join(d, name + ".c")
    sh([cnnc, "dsl_examples/%s.net" % name, "-o", c] + (["--standalone"] if standalone else []))
    cc = os.environ.get("BENCH_CC", "cc")
    cmd = [cc, "-std=c99", "-O2", "-march=native", "-fopenmp", "-I" + d,
           "-DNET=" + name, "-DNETU=" + name.upper(), '-DNET_H="%s.h"' % name]
    w = os.path.join(d, name + ".weights")
    if os.path.exists(w):
        cmd.append("-DSIDECAR")
    cmd += ["bench/timer.c", c, "-o", os.path.join(d, "timer")]
    cmd += [] if standalone else pkg(["--cflags", "--libs"])
    sh(cmd + ["-lm"])
    return os.path.join(d, "timer"), (w if os.path.exists(w) else None)


def run_c(timer, weights, batch, threads, secs):
    # the generated code's own OpenMP threads; OpenBLAS on one thread, so that
    # two thread pools do not spin against each other on the same cores
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    args = [timer, str(batch), str(secs)] + ([weights] if weights else [])
    r = sh(args, env=env).split()
    return float(r[1] if os.environ.get("BENCH_MIN") else r[0])


def run_torch(name, batch, threads, secs):
    out = sh([PY, "bench/torch_time.py", name, str(batch), str(threads), str(secs)])
    best = None
    for line in out.splitlines():
        mode, med = line.split()[0], float(line.split()[1])
        if best is None or med < best[1]:
            best = (mode, med)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnnc", default="build/cnnc")
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    cases = [c for c in CASES if a.only in (None, c[0])]
    threads = [int(t) for t in a.threads.split(",")]
    os.makedirs(os.path.join(ROOT, a.out), exist_ok=True)
    flops, timers = {}, {}
    for name in sorted(set(n for n, _ in cases)):
        rep = json.loads(sh([a.cnnc, "dsl_examples/%s.net" % name, "--report=json"]))
        flops[name] = 2 * rep["totals"]["macs"]
        timers[name] = (build(a.cnnc, name, a.out, False), build(a.cnnc, name, a.out, True))
    hdr = "%-9s %5s %3s | %10s %10s %10s %-9s | %8s %8s %8s | %6s %6s" % (
        "network", "batch", "thr", "cnnc ms/im", "sa ms/im", "torch ms/im", "(mode)",
        "cnnc GF/s", "sa GF/s", "torch GF/s", "ratio", "sa ratio")
    print("# ms/image = median ms per call / batch; GF/s = 2*MACs / time; ratio = PyTorch / cnnc")
    print(hdr)
    print("-" * len(hdr))
    sys.stdout.flush()
    for name, batch in cases:
        for t in threads:
            (td, wd), (ts, ws) = timers[name]
            c = run_c(td, wd, batch, t, a.secs) / batch
            s = run_c(ts, ws, batch, t, a.secs) / batch
            mode, p = run_torch(name, batch, t, a.secs)
            p /= batch
            gf = lambda ms: flops[name] / (ms * 1e-3) / 1e9  # noqa: E731
            print("%-9s %5d %3d | %10.4f %10.4f %10.4f %-9s | %8.1f %8.1f %8.1f | %6.2f %6.2f" % (
                name, batch, t, c, s, p, mode, gf(c), gf(s), gf(p), p / c, p / s))
            sys.stdout.flush()


if __name__ == "__main__":
    if shutil.which("pkg-config") is None:
        sys.stderr.write("bench: pkg-config is missing (make deps)\n")
    main()
