#!/usr/bin/python3
"""How good is cnnc's algorithm rule on this machine?  (make conv-sweep)

    bench/conv_sweep.py [--cnnc build/cnnc] [--dir build/conv-sweep] [--quick]

Writes networks of many conv shapes side by side (a concat of six convs of
4 to 128 outputs over one input: 1 to 128 channels, 8 to 56 pixels square,
1x1, 3x3 and 5x5 kernels, strides 1 and 2), then runs `cnnc --tune` on each
of them and on the example networks (dsl_examples/): every algorithm that
can compute each conv is built and timed on one thread.  The tune files
stay in the folder (a second run measures nothing new).  Then, for each
conv shape, the algorithm cnnc's shape rule picks (`cnnc --report=json`
without a tune file: lower_conv.c conv_algo_why()) is compared with the
fastest one measured: the printout gives the rule's time summed over the
shapes against the fastest's, how many shapes the rule makes 1.3x slower
or worse, and the worst of them.  This is what the rule in
compiler/lower_conv.c was fitted on; run it on another CPU to see how far
the rule holds there (or use `cnnc --tune` for the networks that matter).
"""
import argparse
import glob
import itertools
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTS = [4, 8, 16, 32, 64, 128]
NAMES = {"direct": "direct", "im2col+gemm": "gemm", "winograd F(2x2,3x3)": "winograd2",
         "winograd F(4x4,3x3)": "winograd4", "winograd F(6x6,3x3)": "winograd6", "depthwise": "depthwise"}


def sweep_nets(d, quick):
    chans = [3, 16, 64] if quick else [1, 3, 8, 16, 32, 64, 128]
    sizes = [16, 32] if quick else [8, 16, 32, 56]
    nets = []
    for c, s, k, st in itertools.product(chans, sizes, [1, 3, 5], [1, 2]):
        if (c >= 64 and s == 56) or (k == 1 and st == 1 and c < 8):
            continue
        name = "sw_c%d_s%d_k%d_st%d" % (c, s, k, st)
        path = os.path.join(d, name + ".net")
        with open(path, "w") as f:
            f.write("network %s input %dx%dx%d\n\nconcat all {\n" % (name, c, s, s))
            for o in OUTS:
                f.write("    conv o%d %d k%d s%d p%d\n" % (o, o, k, st, k // 2))
            f.write("}\n")
        nets.append(path)
    return nets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "cnnc"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "conv-sweep"))
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    nets = sweep_nets(a.dir, a.quick)
    if not a.quick:
        nets += sorted(p for p in glob.glob(os.path.join(ROOT, "dsl_examples", "*.net")) if "volume" not in p)
    rows, seen = [], set()
    for i, net in enumerate(nets):
        base = os.path.splitext(os.path.basename(net))[0]
        tune = os.path.join(a.dir, base + ".tune")
        out = os.path.join(a.dir, "tmp", base + ".c")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        r = subprocess.run([a.cnnc, net, "--standalone", "--tune", "--tune-file", tune, "-o", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print("%s: cnnc --tune failed:\n%s" % (base, r.stderr), file=sys.stderr)
            continue
        if sys.stderr.isatty():
            print("\r%d/%d %s      " % (i + 1, len(nets), base), end="", file=sys.stderr, flush=True)
        rep = json.loads(subprocess.check_output([a.cnnc, net, "--standalone", "--report=json"]))
        with open(tune) as f:
            t = json.load(f)["convs"]
        for l in rep["layers"]:
            k = l.get("tune_key")
            if not k or k not in t or k in seen or len(t[k]["us"]) < 2:
                continue
            seen.add(k)
            rows.append((k.split(" conv ")[1], NAMES[l["algorithm"]], t[k]["us"], base.startswith("sw_")))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for label, want in (("sweep", True), ("examples", False)):
        sel = [r for r in rows if r[3] == want]
        if not sel:
            continue
        rule = best = 0.0
        worst = []
        for k, r, us, _ in sel:
            us = {x: max(v, 0.3) for x, v in us.items()}   # below the timer's grain
            b = min(us, key=us.get)
            rule += us[r]
            best += us[b]
            worst.append((us[r] / us[b], k, r, b))
        worst.sort(reverse=True)
        print("%-8s %4d conv shapes: rule %.0f us, fastest %.0f us: %.3fx; %d shapes 1.3x slower or worse"
              % (label, len(sel), rule, best, rule / best, sum(w[0] >= 1.3 for w in worst)))
        for x, k, r, b in worst[:8]:
            if x > 1.0:
                print("    %-48s rule %-9s fastest %-9s x%.2f" % (k, r, b, x))


if __name__ == "__main__":
    main()
