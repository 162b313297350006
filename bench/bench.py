#!/usr/bin/python3
"""`make bench`: cnnc's generated code against PyTorch, same run, same machine.

    bench.py [--cnnc build/cnnc] [--secs 1] [--runs 3] [--out build/bench] [--only NAME]

For each case (network, batch) and thread count (1 and 2):
  cnnc     the default-mode C (OpenBLAS where cnnc chooses it + OpenMP), built
           with cc -std=c99 -O2 -march=native -fopenmp ... -lm (and OpenBLAS
           when the file calls it: not on x86-64),
           run with OMP_NUM_THREADS=t and OPENBLAS_NUM_THREADS=1 (one team
           of t threads per call: images to threads, large layers shared);
  cnnc-sa  the --standalone C, same flags without OpenBLAS;
  PyTorch  bench/torch_time.py with torch.set_num_threads(t): eager,
           TorchScript frozen and optimize_for_inference; the fastest is kept.
Each run times repeated calls after a warm-up (bench/timer.c,
bench/torch_time.py) and keeps their median; --runs runs alternate cnnc and
PyTorch, every run is printed, and the table gives each side's fastest and
median run.  FLOPs are 2·MACs from `cnnc --report=json`; the machine's FMA
peak is measured by bench/peak.c.
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


def build(cnnc, name, out, standalone, extra=(), tag=""):
    """cnnc (--standalone, then the extra options), then bench/timer.c into
    out/name[-sa][tag]: the timer and its sidecar weights (or None)"""
    d = os.path.join(out, name + ("-sa" if standalone else "") + tag)
    os.makedirs(d, exist_ok=True)
    c = os.path.join(d, name + ".c")
    sh([cnnc, "dsl_examples/%s.net" % name, "-o", c] + (["--standalone"] if standalone else []) + list(extra))
    cc = os.environ.get("BENCH_CC", "cc")
    cmd = [cc, "-std=c99", "-O2", "-march=native", "-fopenmp", "-I" + d,
           "-DNET=" + name, "-DNETU=" + name.upper(), '-DNET_H="%s.h"' % name]
    w = os.path.join(d, name + ".weights")
    if os.path.exists(w):
        cmd.append("-DSIDECAR")
    cmd += ["bench/timer.c", c, "-o", os.path.join(d, "timer")]
    # OpenBLAS only when the file calls it (default mode, --target generic),
    # as the header's Build: line says
    cmd += pkg(["--cflags", "--libs"]) if "#include <cblas.h>" in open(c).read() else []
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
    """PyTorch's modes, one run: [(mode, median ms, min ms)]."""
    out = sh([PY, "bench/torch_time.py", name, str(batch), str(threads), str(secs)])
    return [(l.split()[0], float(l.split()[1]), float(l.split()[2])) for l in out.splitlines()]


def machine(cc):
    """What a reader needs to judge the figures: CPU, cores, ISA, PyTorch."""
    model = "?"
    flags = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line
    isa = "AVX-512" if "avx512f" in flags else "AVX2+FMA" if "avx2" in flags else "no AVX2"
    tv = sh([PY, "-c", "import torch; print(torch.__version__, torch.get_num_threads(), "
             "torch.backends.mkldnn.is_available())"]).split()
    peak = {}
    exe = os.path.join(ROOT, "build", "bench-peak")
    sh([cc, "-O2", "-march=native", "-fopenmp", "bench/peak.c", "-o", exe])
    for t in (1, 2):
        peak[t] = float(sh([exe, str(t)]).split()[0])
    print("# machine: %s, %d cores online, %s; PyTorch %s (mkldnn %s)" % (model, os.cpu_count(), isa, tv[0], tv[2]))
    print("# measured FMA peak (bench/peak.c): %.0f GFLOP/s on 1 thread, %.0f on 2" % (peak[1], peak[2]))
    print("# OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s" % (os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                                                           os.environ.get("OPENBLAS_L2_SIZE", "(unset)")))
    return peak


def med(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnnc", default="build/cnnc")
    ap.add_argument("--secs", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    cases = [c for c in CASES if a.only in (None, c[0])]
    threads = [int(t) for t in a.threads.split(",")]
    os.makedirs(os.path.join(ROOT, a.out), exist_ok=True)
    peak = machine(os.environ.get("BENCH_CC", "cc"))
    flops, timers = {}, {}
    for name in sorted(set(n for n, _ in cases)):
        rep = json.loads(sh([a.cnnc, "dsl_examples/%s.net" % name, "--report=json"]))
        flops[name] = 2 * rep["totals"]["macs"]
        timers[name] = (build(a.cnnc, name, a.out, False), build(a.cnnc, name, a.out, True))
    print("# ms/image: each run's median call / batch; the runs alternate cnnc, cnnc-sa, PyTorch (every mode)")
    print("# GF/s = 2*MACs of the direct convolutions / time (Winograd layers do fewer multiplies: their")
    print("#   rows count the direct-conv FLOPs); %peak = GF/s / the measured FMA peak at that thread count")
    print("# ratio = PyTorch's fastest run of its fastest mode / cnnc's fastest run; above 1, cnnc is faster")
    summary = []
    best1 = {}
    for name, batch in cases:
        for t in threads:
            (td, wd), (ts, ws) = timers[name]
            c, s, p = [], [], []
            for r in range(a.runs):
                c.append(run_c(td, wd, batch, t, a.secs) / batch)
                s.append(run_c(ts, ws, batch, t, a.secs) / batch)
                modes = run_torch(name, batch, t, a.secs)
                p += [(m, md / batch) for m, md, _ in modes]
                print("run %d  %-9s b%-3d %dt | cnnc %.4f  sa %.4f | torch %s" % (
                    r + 1, name, batch, t, c[-1], s[-1],
                    "  ".join("%s %.4f" % (m, md / batch) for m, md, _ in modes)), flush=True)
            pmode, pbest = min(p, key=lambda x: x[1])
            gf = lambda ms: flops[name] / (ms * 1e-3) / 1e9  # noqa: E731
            row = (name, batch, t, min(c), med(c), min(s), med(s), pbest, pmode, med([v for _, v in p]))
            summary.append(row)
            best1[(name, batch, t)] = (min(c), min(s))
    hdr = "%-9s %5s %3s | %8s %8s %8s %8s | %8s %-9s | %6s %6s | %5s %5s | %5s %5s" % (
        "network", "batch", "thr", "cnnc min", "cnnc med", "sa min", "sa med", "torch min", "(mode)",
        "ratio", "sa", "%peak", "sa", "2t/1t", "sa")
    print()
    print(hdr)
    print("-" * len(hdr))
    for name, batch, t, cm, cmed, sm, smed, pb, pmode, pmed in summary:
        gf = lambda ms: flops[name] / (ms * 1e-3) / 1e9  # noqa: E731
        sp = ""
        if t == 2 and (name, batch, 1) in best1:
            c1, s1 = best1[(name, batch, 1)]
            sp = "%5.2f %5.2f" % (c1 / cm, s1 / sm)
        print("%-9s %5d %3d | %8.4f %8.4f %8.4f %8.4f | %8.4f %-9s | %6.2f %6.2f | %4.0f%% %4.0f%% | %s" % (
            name, batch, t, cm, cmed, sm, smed, pb, pmode, pb / cm, pb / sm,
            100 * gf(cm) / peak[t], 100 * gf(sm) / peak[t], sp))
    print("# (PyTorch's median over its runs and modes, for the noise: %s)" % ", ".join(
        "%s b%d %dt %.4f" % (r[0], r[1], r[2], r[9]) for r in summary))


if __name__ == "__main__":
    if shutil.which("pkg-config") is None:
        sys.stderr.write("bench: pkg-config is missing (make deps)\n")
    main()
