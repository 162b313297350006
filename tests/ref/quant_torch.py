#!/usr/bin/python3
"""PyTorch's own int8 post-training static quantization of a cnnc-trained
network: the independent accuracy (and latency) reference of issue 19.

    quant_torch.py --net dsl_examples/resnet20_fashion.net \\
        --weights w.safetensors --data /usr/share/datasets/fashion-mnist \\
        [--calibrate-n 1000] [--limit-test N] [--cnnc build/cnnc] \\
        [--mode eager|fx] [--observer minmax|histogram] \\
        [--engine auto|fbgemm|onednn|x86|qnnpack] [--reduce-range auto|on|off] \\
        [--json] [--time [--time-runs 5] [--time-seconds 1]] [--threads 1]

The model is the nn.Module `cnnc NET --emit pytorch -o -` prints (the network
as written, nothing folded), with the checkpoint's tensors loaded under their
PyTorch state-dict names (strict: only `*.num_batches_tracked` may be absent,
`__optim__.*` is skipped), in eval mode.  Inputs are fed as the trainer feeds
them: the float32 table ((float)v/255 - MEAN)/STD of runtime/idx.c, MEAN and
STD from the checkpoint's `normalize` metadata (x/255 without it).  Top-1 is
the first maximal logit, as cnnc-train counts it, so the float accuracy
equals the trainer's reported test accuracy.

Quantization (torch.ao.quantization, post-training static):
  - weights: PerChannelMinMaxObserver, qint8, per_channel_symmetric
    (default_per_channel_weight_observer, fbgemm's and onednn's default);
  - activations: quint8, per-tensor affine, MinMaxObserver by default (cnnc's
    default "minmax" calibration), HistogramObserver (the backends' default)
    with --observer histogram; reduce_range as the engine's default qconfig
    has it (fbgemm and x86: 7-bit activations, onednn and qnnpack: 8-bit)
    unless --reduce-range on|off;
  - calibration: the first --calibrate-n training images in file order.
  - --mode eager (default): eager mode as the issue asks.  The emitted module
    writes residual adds as `+` and activations as F.relu, which eager mode
    cannot observe, so the float model is first traced with torch.fx (a plain
    symbolic_trace, no quantization) and rewritten mechanically: every F.relu
    becomes an nn.ReLU module, every tensor `+` a FloatFunctional.add (and
    FloatFunctional.add_relu when a relu is its only user), torch.cat a
    FloatFunctional.cat; conv+bn+relu, conv+bn, conv+relu and linear+relu
    chains are found in that graph and fused by
    torch.ao.quantization.fuse_modules; QuantStub/DeQuantStub go around it;
    then prepare, calibrate, convert (eager module swapping).
    --mode fx: prepare_fx/convert_fx with a QConfigMapping of the same
    qconfig, as a cross-check of the eager result (on resnet20_fashion and
    lenet_relu the two give bit-identical int8 logits).
  - engine: fbgemm when this PyTorch has it; Debian's python3-torch 1.13 is
    built without FBGEMM (supported engines: qnnpack, onednn), so --engine
    auto falls back to onednn, the x86 backend with the same per-channel
    symmetric weights (and VNNI where the CPU has it).  The JSON says which.

--json prints one object: float and int8 top-1 (percent, 2 decimals), the
counts, confusion matrices (rows: true class, columns: predicted), the torch
version, mode, engine, observers, the converted model's first layers and the
count of quantized modules by type.  Without --json a short text summary.
The converted model's first layers go to stderr unless --quiet (they must be
torch.ao.nn.quantized modules: the script fails if any Conv2d/Linear stayed
float).

--time: batch-1 latency of the float and the int8 model, --threads threads
(default 1), under torch.inference_mode(): each run warms up (at least 5
calls and 0.3 s), then times call by call for --time-seconds (at least 5
calls); the runs alternate float and int8.  Prints every run's median and
minimum, then the minimum over all calls and the median of the runs'
medians, in ms ("float run 1 median_ms min_ms calls" lines, as
bench/torch_time.py prints them).

Run with /usr/bin/python3 (Debian's torch 1.13).  Nothing is written but
standard output and standard error.
"""
import argparse
import collections
import copy
import gzip
import json
import operator
import os
import struct
import subprocess
import sys
import time
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from torch_time import timeit  # noqa: E402  (make bench's timing: warm-up, then call by call)
import st  # noqa: E402

import torch.ao.quantization as tq  # noqa: E402
from torch.ao.quantization import observer as tqo  # noqa: E402


# ---------------------------------------------------------------- data

def read_idx(path, first=None):
    """IDX file (or PATH.gz) -> uint8 array [n, ...]; only the first `first` items if given."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            break
    else:
        sys.exit("quant_torch: no %s (or .gz)" % path)
    opener = gzip.open if p.endswith(".gz") else open
    with opener(p, "rb") as f:
        b = f.read()
    (magic,) = struct.unpack(">I", b[:4])
    if magic >> 8 != 0x08:
        sys.exit("quant_torch: %s: not an IDX file of unsigned bytes" % p)
    nd = magic & 0xff
    dims = list(struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd]))
    if first is not None:
        dims[0] = min(dims[0], first)
    count = int(np.prod(dims))
    a = np.frombuffer(b, dtype=np.uint8, count=count, offset=4 + 4 * nd)
    return a.reshape(dims)


def pixel_table(meta, channels):
    """float32 [C, 256]: ((float)v/255.0f - mean)/std, as cnnrt_u8_to_float computes it."""
    txt = meta.get("normalize")
    if not txt:
        mean, std = [0.0] * channels, [1.0] * channels
    else:
        v = [float(s) for s in txt.split(",")]
        if len(v) == 2:
            mean, std = [v[0]] * channels, [v[1]] * channels
        elif len(v) == 2 * channels:
            mean, std = v[:channels], v[channels:]
        else:
            sys.exit("quant_torch: normalize '%s' does not fit %d channels" % (txt, channels))
    x = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return np.stack([(x - np.float32(m)) / np.float32(s) for m, s in zip(mean, std)]).astype(np.float32)


def to_input(images, table, shape):
    """uint8 [n, H, W] or [n, ...] -> float32 tensor [n, C, H, W] through the table."""
    c = shape[0]
    im = images.reshape((images.shape[0],) + tuple(shape))
    out = np.empty(im.shape, dtype=np.float32)
    for ch in range(c):
        out[:, ch] = table[ch][im[:, ch]]
    return torch.from_numpy(out)


# ---------------------------------------------------------------- model

def emitted_module(cnnc, net):
    try:
        r = subprocess.run([cnnc, net, "--emit", "pytorch", "-o", "-"], capture_output=True, text=True)
    except OSError as e:
        sys.exit("quant_torch: cannot run %s: %s" % (cnnc, e))
    if r.returncode != 0:
        sys.exit("quant_torch: %s %s --emit pytorch failed:\n%s" % (cnnc, net, r.stderr))
    mod = types.ModuleType("cnnc_emitted")
    exec(compile(r.stdout, "<cnnc --emit pytorch %s>" % net, "exec"), mod.__dict__)
    return mod


def load_float(mod, tensors):
    model = mod.Model()
    sd = {k: v for k, v in tensors.items() if not k.startswith("__optim__.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit("quant_torch: checkpoint does not fit the network: missing %s, unexpected %s"
                 % (missing, unexpected))
    return model.eval()


# ---------------------------------------------------------------- eager rewrite

class Add(nn.Module):
    def __init__(self):
        super().__init__()
        self.ff = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, a, b):
        return self.ff.add(a, b)


class AddReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.ff = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, a, b):
        return self.ff.add_relu(a, b)


class Cat(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.ff = torch.ao.nn.quantized.FloatFunctional()

    def forward(self, *xs):
        return self.ff.cat(list(xs), dim=self.dim)


class Wrapped(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.quant = tq.QuantStub()
        self.body = body
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.body(self.quant(x)))


def _is_relu(node, mods):
    if node.op == "call_function" and node.target in (F.relu, torch.relu):
        return True
    if node.op == "call_method" and node.target in ("relu", "relu_"):
        return True
    return node.op == "call_module" and type(mods[node.target]) is nn.ReLU


def _is_add(node):
    if node.op == "call_function" and node.target in (operator.add, torch.add):
        return (len(node.args) == 2 and all(isinstance(a, torch.fx.Node) for a in node.args)
                and not node.kwargs)
    return False


def eager_quantizable(float_model):
    """The float model rewritten for eager-mode quantization (see the docstring), and its fusion lists."""
    gm = torch.fx.symbolic_trace(copy.deepcopy(float_model))
    g = gm.graph
    mods = dict(gm.named_modules())
    n = collections.Counter()

    def new_module(kind, m):
        name = "q_%s_%d" % (kind, n[kind])
        n[kind] += 1
        gm.add_module(name, m)
        mods[name] = m
        return name

    # functional relu / add / cat -> modules
    erased = set()
    for node in list(g.nodes):
        if node in erased:
            continue
        if _is_relu(node, mods) and node.op != "call_module":
            name = new_module("relu", nn.ReLU())
            with g.inserting_after(node):
                new = g.call_module(name, (node.args[0],))
            node.replace_all_uses_with(new)
            g.erase_node(node)
        elif _is_add(node):
            users = list(node.users)
            if len(users) == 1 and _is_relu(users[0], mods):
                relu = users[0]
                name = new_module("addrelu", AddReLU())
                with g.inserting_after(node):
                    new = g.call_module(name, tuple(node.args))
                relu.replace_all_uses_with(new)
                g.erase_node(relu)
                erased.add(relu)
            else:
                name = new_module("add", Add())
                with g.inserting_after(node):
                    new = g.call_module(name, tuple(node.args))
                node.replace_all_uses_with(new)
            g.erase_node(node)
        elif node.op == "call_function" and node.target is torch.cat:
            xs = node.args[0]
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            name = new_module("cat", Cat(dim))
            with g.inserting_after(node):
                new = g.call_module(name, tuple(xs))
            node.replace_all_uses_with(new)
            g.erase_node(node)
    g.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()

    # fusion chains: conv-bn-relu, conv-bn, conv-relu, linear-relu (each link the only user)
    def only_user(node):
        us = list(node.users)
        return us[0] if len(us) == 1 else None

    def kind(node):
        return type(mods[node.target]) if node and node.op == "call_module" else None

    fuse = []
    for node in g.nodes:
        k = kind(node)
        if k is nn.Conv2d:
            chain = [node]
            u = only_user(node)
            if kind(u) is nn.BatchNorm2d:
                chain.append(u)
                u = only_user(u)
            if kind(u) is nn.ReLU:
                chain.append(u)
            if len(chain) > 1:
                fuse.append([c.target for c in chain])
        elif k is nn.Linear:
            u = only_user(node)
            if kind(u) is nn.ReLU:
                fuse.append([node.target, u.target])
    gm.eval()                                  # the new modules too: eval-mode fusion folds bn
    if fuse:
        tq.fuse_modules(gm, fuse, inplace=True)
    return Wrapped(gm), fuse


# ---------------------------------------------------------------- quantization

def make_qconfig(observer, reduce_range):
    act = {"minmax": tqo.MinMaxObserver, "histogram": tqo.HistogramObserver}[observer]
    return tq.QConfig(
        activation=act.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=reduce_range),
        weight=tqo.PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))


def quantize(float_model, mode, qconfig, calib, batch, example):
    info = {}
    if mode == "eager":
        m, fuse = eager_quantizable(float_model)
        info["fused"] = fuse
        m.eval()
        m.qconfig = qconfig
        tq.prepare(m, inplace=True)
        with torch.inference_mode():
            for i in range(0, calib.shape[0], batch):
                m(calib[i:i + batch])
        tq.convert(m, inplace=True)
    else:
        from torch.ao.quantization import QConfigMapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        m = prepare_fx(copy.deepcopy(float_model).eval(), QConfigMapping().set_global(qconfig), (example,))
        with torch.inference_mode():
            for i in range(0, calib.shape[0], batch):
                m(calib[i:i + batch])
        m = convert_fx(m)
    return m.eval(), info


def describe(qmodel, float_model):
    """(first leaf modules [(name, class path)], counts by class, float Conv2d/Linear left)."""
    qw = (torch.ao.nn.quantized.Conv2d, torch.ao.nn.quantized.Linear)
    packed = torch.ao.nn.quantized.modules.linear.LinearPackedParams   # a quantized Linear's child
    leaves = [(n, m) for n, m in qmodel.named_modules()
              if isinstance(m, qw) or (not list(m.children()) and not isinstance(m, (nn.Identity, packed)))]
    first = [(n, "%s.%s" % (type(m).__module__, type(m).__name__)) for n, m in leaves[:6]]
    counts = collections.Counter("%s.%s" % (type(m).__module__, type(m).__name__) for _, m in leaves)
    left = [n for n, m in leaves if type(m) in (nn.Conv2d, nn.Linear)]
    nfloat = sum(1 for m in float_model.modules() if type(m) in (nn.Conv2d, nn.Linear))
    # fused ones (torch.nn.intrinsic.quantized.ConvReLU2d, LinearReLU in 1.13) subclass these
    nq = sum(1 for _, m in leaves if isinstance(m, qw))
    return first, dict(sorted(counts.items())), left, nfloat, nq


# ---------------------------------------------------------------- evaluation

def evaluate(model, x, labels, batch, classes):
    conf = np.zeros((classes, classes), dtype=np.int64)
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch):
            pred = model(x[i:i + batch]).argmax(1).numpy()   # the first maximal logit
            np.add.at(conf, (labels[i:i + batch], pred), 1)
    return int(np.trace(conf)), conf


def median(v):
    v = sorted(v)
    k = len(v)
    return v[k // 2] if k % 2 else 0.5 * (v[k // 2 - 1] + v[k // 2])


def time_models(models, x1, runs, secs):
    res = {name: [] for name, _ in models}
    with torch.inference_mode():
        for r in range(runs):
            for name, m in models:
                res[name].append(timeit(m, x1, secs))
    out = {}
    for name, rs in res.items():
        out[name] = {"runs": [{"median_ms": round(a, 6), "min_ms": round(b, 6), "calls": c} for a, b, c in rs],
                     "min_ms": round(min(b for _, b, _ in rs), 6),
                     "median_of_medians_ms": round(median([a for a, _, _ in rs]), 6)}
    return out


# ---------------------------------------------------------------- main

def pick_engine(want):
    have = torch.backends.quantized.supported_engines
    if want == "auto":
        for e in ("fbgemm", "x86", "onednn"):
            if e in have:
                return e
        sys.exit("quant_torch: no x86 quantized engine in this PyTorch (have %s)" % have)
    if want not in have:
        sys.exit("quant_torch: quantized engine %s is not in this PyTorch (have %s)" % (want, have))
    return want


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", required=True, help="the network (.net)")
    ap.add_argument("--weights", required=True, help="a cnnc-train checkpoint (.safetensors)")
    ap.add_argument("--data", required=True,
                    help="directory of the IDX files, or FILE.f32 (raw inputs: calibration and timing, no labels)")
    ap.add_argument("--calibrate-n", type=int, default=1000, help="first N training images for calibration")
    ap.add_argument("--limit-test", type=int, default=None, help="first N test images (default all)")
    ap.add_argument("--cnnc", default=None, help="the cnnc binary (default build/cnnc)")
    ap.add_argument("--mode", choices=("eager", "fx"), default="eager")
    ap.add_argument("--observer", choices=("minmax", "histogram"), default="minmax",
                    help="activation observer (default minmax, cnnc's default calibration)")
    ap.add_argument("--engine", default="auto", help="auto (fbgemm, else x86, else onednn) or a name")
    ap.add_argument("--reduce-range", choices=("auto", "on", "off"), default="auto",
                    help="7-bit activations; auto: the engine's default qconfig's choice")
    ap.add_argument("--batch", type=int, default=250, help="evaluation and calibration batch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--time", action="store_true", help="batch-1 latency of float and int8")
    ap.add_argument("--time-runs", type=int, default=5)
    ap.add_argument("--time-seconds", type=float, default=1.0)
    ap.add_argument("--quiet", action="store_true", help="no model summary on stderr")
    a = ap.parse_args()

    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    engine = pick_engine(a.engine)
    torch.backends.quantized.engine = engine
    if a.reduce_range == "auto":
        reduce_range = engine in ("fbgemm", "x86")
    else:
        reduce_range = a.reduce_range == "on"

    cnnc = a.cnnc
    if cnnc is None:
        cnnc = "build/cnnc"
        if not os.path.exists(cnnc):
            cnnc = os.path.join(HERE, "..", "..", "build", "cnnc")
    mod = emitted_module(cnnc, a.net)
    tensors, meta = st.load(a.weights, with_metadata=True)
    if meta.get("network") and meta["network"] != mod.NETWORK:
        print("quant_torch: warning: checkpoint of network %s, .net is %s" % (meta["network"], mod.NETWORK),
              file=sys.stderr)
    fmodel = load_float(mod, tensors)
    shape = tuple(mod.INPUT_SHAPE)
    classes = int(np.prod(mod.OUTPUT_SHAPE))
    table = pixel_table(meta, shape[0])

    if a.data.endswith(".f32"):
        # raw float32 inputs (cnnc --calibrate FILE.f32), as they are: the
        # calibration images, and the test images of a timing run (no labels)
        raw = np.fromfile(a.data, dtype="<f4").reshape((-1,) + shape)
        xc = torch.from_numpy(raw[:a.calibrate_n].copy())
        xt = torch.from_numpy(raw[:a.limit_test].copy())
        tl = np.zeros(xt.shape[0], dtype=np.int64)
    else:
        ti = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte"), a.limit_test)
        tl = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte"), a.limit_test).astype(np.int64)
        ci = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"), a.calibrate_n)
        xt, xc = to_input(ti, table, shape), to_input(ci, table, shape)

    t0 = time.perf_counter()
    fcorrect, fconf = evaluate(fmodel, xt, tl, a.batch, classes)
    t_float = time.perf_counter() - t0

    qconfig = make_qconfig(a.observer, reduce_range)
    t0 = time.perf_counter()
    qmodel, info = quantize(fmodel, a.mode, qconfig, xc, a.batch, xt[:1])
    t_calib = time.perf_counter() - t0
    first, counts, left, nfloat, nq = describe(qmodel, fmodel)
    if not a.quiet:
        print("# converted (%s mode, %s): first layers:" % (a.mode, engine), file=sys.stderr)
        for n, t in first:
            print("#   %-28s %s" % (n, t), file=sys.stderr)
        print("# %d of %d Conv2d/Linear quantized" % (nq, nfloat), file=sys.stderr)
    if left or nq != nfloat:
        sys.exit("quant_torch: float Conv2d/Linear left after convert: %s (%d of %d quantized)" % (left, nq, nfloat))

    t0 = time.perf_counter()
    qcorrect, qconf = evaluate(qmodel, xt, tl, a.batch, classes)
    t_int8 = time.perf_counter() - t0
    ntest = int(xt.shape[0])

    res = collections.OrderedDict()
    res["network"] = mod.NETWORK
    res["weights"] = a.weights
    res["checkpoint_epoch"] = meta.get("epoch")
    res["normalize"] = meta.get("normalize")
    res["test_images"] = ntest
    res["calibration_images"] = int(xc.shape[0])
    res["float_top1"] = round(100.0 * fcorrect / ntest, 2)
    res["int8_top1"] = round(100.0 * qcorrect / ntest, 2)
    res["float_correct"] = fcorrect
    res["int8_correct"] = qcorrect
    res["delta_points"] = round(100.0 * (qcorrect - fcorrect) / ntest, 2)
    res["torch"] = torch.__version__
    res["mode"] = a.mode
    res["engine"] = engine
    res["engines_available"] = list(torch.backends.quantized.supported_engines)
    res["activation_observer"] = "%s quint8 per_tensor_affine reduce_range=%s" % (
        {"minmax": "MinMaxObserver", "histogram": "HistogramObserver"}[a.observer], reduce_range)
    res["weight_observer"] = "PerChannelMinMaxObserver qint8 per_channel_symmetric"
    if "fused" in info:
        res["fused"] = [",".join(f) for f in info["fused"]]
    res["first_layers"] = [list(f) for f in first]
    res["quantized_modules"] = counts
    res["float_confusion"] = fconf.tolist()
    res["int8_confusion"] = qconf.tolist()
    res["seconds"] = {"float_eval": round(t_float, 2), "quantize": round(t_calib, 2), "int8_eval": round(t_int8, 2)}
    if a.time:
        x1 = xt[:1].clone()
        res["time"] = time_models([("float", fmodel), ("int8", qmodel)], x1, a.time_runs, a.time_seconds)
        res["time"]["threads"] = a.threads
    res["seconds"]["total"] = round(time.perf_counter() - t_start, 2)

    if a.json:
        print(json.dumps(res))
        return
    print("%s (epoch %s): float top-1 %.2f%% (%d/%d), int8 top-1 %.2f%% (%d/%d), %+.2f points"
          % (res["network"], res["checkpoint_epoch"], res["float_top1"], fcorrect, ntest,
             res["int8_top1"], qcorrect, ntest, res["delta_points"]))
    print("torch %s, %s mode, engine %s, activations %s, weights %s, %d calibration images"
          % (res["torch"], a.mode, engine, res["activation_observer"], res["weight_observer"],
             res["calibration_images"]))
    if a.time:
        for name in ("float", "int8"):
            tr = res["time"][name]
            for i, r in enumerate(tr["runs"]):
                print("%s run %d %.6f %.6f %d" % (name, i + 1, r["median_ms"], r["min_ms"], r["calls"]))
            print("%s min %.6f median_of_medians %.6f (ms, batch 1, %d thread%s)"
                  % (name, tr["min_ms"], tr["median_of_medians_ms"], a.threads, "" if a.threads == 1 else "s"))
    print("seconds: %s" % res["seconds"])


if __name__ == "__main__":
    main()
