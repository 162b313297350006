#!/usr/bin/python3
"""`make bench-train`: cnnrt training against PyTorch, same run, same machine.

    bench_train.py [--steptime build/bench-train/steptime] [--secs 3]
                   [--data /usr/share/datasets/fashion-mnist] [--no-epoch]
                   [--epoch-threads 1,2]

For each network (lenet_relu, resnet20), batch 64, and thread count (1, 2):
  cnnrt    bench/train/steptime: the .net compiled by cnnc's front end,
           trained by cnnrt_net_train_step (forward, cross-entropy,
           backward, Adam), on T threads (cnnrt_set_threads: the kernels
           share their work over T OpenMP threads, OpenBLAS runs on one
           inside each);
  PyTorch  bench/train/torch_train.py: the hand-written model of
           tests/ref/torchvision_ref.py, model.train(), CrossEntropyLoss,
           torch.optim.Adam, torch.set_num_threads.
Each is timed on random data: medians of single steps after a warm-up,
run --repeat times (3) alternating with the other side, the table giving
the median of the runs (every run's median is listed below it: this
machine's speed drifts by 5-10% over minutes, for both sides), and beside
them the CPU time per step (all threads): on a busy machine the
wall clock also counts time spent waiting for a CPU, and with one thread
the CPU time is the steadier comparison.  The load average is printed
before and after.
Then one whole Fashion-MNIST training epoch of lenet_relu at batch 64
(x/255, shuffled, no evaluation) for each, at each thread count.
The ratio is PyTorch ms / cnnrt ms: above 1, cnnrt is faster.
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment has them.
Targets (a benchmark, not a test): ratio ≥ 2 for lenet_relu, ≥ 1 for resnet20.
"""
import argparse
import os
import platform
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PY = "/usr/bin/python3"
NETS = [("lenet_relu", 64), ("resnet20", 64)]
THREADS = [1, 2]
TARGET = {"lenet_relu": 2.0, "resnet20": 1.0}


def run(cmd):
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write("bench-train: %s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
        sys.exit(1)
    return r.stdout.split()


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steptime", default=os.path.join(ROOT, "build", "bench-train", "steptime"))
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--no-epoch", action="store_true")
    ap.add_argument("--epoch-threads", default="1,2", help="thread counts of the epoch runs (default 1,2)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each side per step case, alternating (default 3): the medians of the runs")
    a = ap.parse_args()

    import torch  # only for its version
    print("bench-train: one training step (forward + loss + backward + Adam), random data")
    print("  machine: %s, %d CPUs; PyTorch %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s" % (
        cpu_name(), os.cpu_count() or 0, torch.__version__,
        os.environ.get("OPENBLAS_CORETYPE", "(unset)"), os.environ.get("OPENBLAS_L2_SIZE", "(unset)")))
    print("  load average: %.2f %.2f %.2f" % os.getloadavg())
    print()
    hdr = "%-11s %5s %7s %14s %14s %8s   %s" % ("network", "batch", "threads", "cnnrt ms/step",
                                                "PyTorch ms/step", "ratio", "CPU ms/step: cnnrt PyTorch ratio")
    print(hdr)
    print("-" * len(hdr))
    sys.stdout.flush()
    met, spread = [], []
    for name, batch in NETS:
        net = os.path.join(ROOT, "dsl_examples", name + ".net")
        for t in THREADS:
            cs, ps = [], []
            for _ in range(max(1, a.repeat)):            # alternating: both sides see the same machine
                cs.append(run([a.steptime, net, "--batch", str(batch), "--threads", str(t), "--secs", str(a.secs)]))
                ps.append(run([PY, os.path.join(ROOT, "bench", "train", "torch_train.py"), name, str(batch),
                               str(t), str(a.secs)]))
            cms, pms = median([float(c[0]) for c in cs]), median([float(p[0]) for p in ps])
            ccpu, pcpu = median([float(c[3]) for c in cs]), median([float(p[3]) for p in ps])
            ratio = pms / cms
            met.append((name, t, ratio))
            spread.append("%s %d: cnnrt %s, PyTorch %s" % (name, t, " ".join("%.2f" % float(c[0]) for c in cs),
                                                           " ".join("%.2f" % float(p[0]) for p in ps)))
            print("%-11s %5d %7d %14.2f %15.2f %8.2f   %11.2f %7.2f %5.2f" % (
                name, batch, t, cms, pms, ratio, ccpu, pcpu, pcpu / ccpu))
            sys.stdout.flush()
    print()
    print("  each run's median ms/step, in the order run:")
    for line in spread:
        print("    " + line)
    print()
    for name, t, ratio in met:
        goal = TARGET[name]
        print("  %-11s %d thread%s: PyTorch/cnnrt %.2f, target >= %.1f: %s" % (
            name, t, "" if t == 1 else "s", ratio, goal, "met" if ratio >= goal else "NOT met"))
    if a.no_epoch:
        return
    print()
    print("one Fashion-MNIST training epoch of lenet_relu, batch 64 (60000 images, x/255, no evaluation)")
    hdr = "%7s %12s %14s %8s   %s" % ("threads", "cnnrt s", "PyTorch s", "ratio", "train loss/acc (cnnrt | PyTorch)")
    print(hdr)
    print("-" * len(hdr))
    sys.stdout.flush()
    net = os.path.join(ROOT, "dsl_examples", "lenet_relu.net")
    for t in [int(v) for v in a.epoch_threads.split(",")]:
        c = run([a.steptime, net, "--batch", "64", "--threads", str(t), "--epoch", a.data])
        p = run([PY, os.path.join(ROOT, "bench", "train", "torch_train.py"), "lenet_relu", "64", str(t),
                 "--epoch", a.data])
        print("%7d %12.2f %14.2f %8.2f   %s/%s%% | %s/%s%%" % (t, float(c[0]), float(p[0]),
                                                            float(p[0]) / float(c[0]), c[2], c[3], p[2], p[3]))
        sys.stdout.flush()
    print("  load average: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
