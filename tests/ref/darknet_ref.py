#!/usr/bin/python3
"""A darknet classifier cfg run in PyTorch, written from darknet's source
(pjreddie's, the version Debian packages: src/parser.c and the layers'
forward functions), independently of cnnc: its own cfg reader, darknet's
defaults and shape rules, its .weights layout, its arithmetic.

usage: darknet_ref.py shapes CFG
           each layer's output: "I TYPE C H W" (an image) or "I TYPE N" (a
           vector, darknet's connected/softmax/dropout outputs of N values)
       darknet_ref.py gen CFG DIR [--images N] [--seed S] [--version M.m]
           DIR/w.weights: random weights in darknet's format (header
           version M.m, default 0.2: 64-bit 'seen'; 0.1: 32-bit; 1001.0:
           connected weights stored transposed), batch-norm statistics
           near the real ones of a calibration batch of 4 (means off by up to
           0.2 sd, variances times 0.5 to 2; every batch norm's channel 0 is
           fed by filters scaled by 1e-3, so its variance is ~1e-6 and
           darknet's epsilon, added to the standard deviation, matters);
           DIR/in.bin: N (default 2) random images in [0, 1) of the imported
           network's input (a first [crop] layer's centre crop: darknet
           crops the centre at test time, cnnc's network starts there);
           DIR/ref.bin: darknet's output for them, float64 rounded to
           float32 (the last layer before any [cost])
       darknet_ref.py table-check CFG TABLE REPORT
           darknet's layer table (TABLE: the output of darknet ops CFG)
           against the shapes here, and against cnnc's report (REPORT: cnnc
           NET --report=json of the imported cfg): per layer the output
           shape; per [convolutional] its output and input shape in cnnc and
           its BFLOPs; per [connected] its sizes; cnnc's input (a first
           [crop]'s), output and total FLOPs less those of its fixed layers
           (crop*, sc*)
       darknet_ref.py check DIR OUT [--tol T]
           OUT (float32) against DIR/ref.bin: max |out − ref| ≤ T · max |ref|
           (T default 1e-4); prints the first index past it, both values
           and the max difference

Layers: [net], [convolutional], [connected], [maxpool], [avgpool],
[route], [shortcut], [dropout], [softmax], [batchnorm], [activation],
[crop], [cost]; activations of darknet's activations.h, and AlexeyAB's mish
and swish.
"""
import math
import re
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


# ---- the cfg, as darknet's read_cfg reads it --------------------------------------

def read_cfg(path):
    """[(type, {key: value})]: blanks stripped, '#' and ';' lines skipped,
    the first of a repeated key wins (option_find)"""
    sections = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = re.sub(r"[ \t\n\r]", "", line)
            if not line or line[0] in "#;":
                continue
            if line[0] == "[":
                sections.append((line, {}))
            elif "=" in line:
                k, v = line.split("=", 1)
                sections[-1][1].setdefault(k, v)
    return sections


def atoi(s):
    m = re.match(r"[+-]?\d+", s)
    return int(m.group(0)) if m else 0


def atof(s):
    m = re.match(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s)
    return float(m.group(0)) if m else 0.0


class Opts:
    def __init__(self, d):
        self.d = d

    def i(self, k, default):
        return atoi(self.d[k]) if k in self.d else default

    def f(self, k, default):
        return atof(self.d[k]) if k in self.d else default

    def s(self, k, default):
        return self.d.get(k, default)


# ---- activations: activations.h --------------------------------------------------

def activate(x, a):
    if a == "linear":
        return x
    if a == "logistic":
        return 1 / (1 + torch.exp(-x))
    if a == "loggy":
        return 2 / (1 + torch.exp(-x)) - 1
    if a == "relu":
        return x * (x > 0)
    if a == "elu":
        return (x >= 0) * x + (x < 0) * (torch.exp(x) - 1)
    if a == "selu":
        return (x >= 0) * 1.0507 * x + (x < 0) * 1.0507 * 1.6732 * (torch.exp(x) - 1)
    if a == "relie":
        return torch.where(x > 0, x, 0.01 * x)
    if a == "ramp":
        return x * (x > 0) + 0.1 * x
    if a == "leaky":
        return torch.where(x > 0, x, 0.1 * x)
    if a == "tanh":
        return (torch.exp(2 * x) - 1) / (torch.exp(2 * x) + 1)
    if a == "hardtan":
        return torch.clamp(x, -1, 1)
    if a == "mish":
        return x * torch.tanh(F.softplus(x))
    if a == "swish":
        return x * torch.sigmoid(x)
    raise SystemExit("darknet_ref: activation %s not implemented" % a)


# ---- the network ------------------------------------------------------------------

class Layer:
    def __init__(self, i, kind, o):
        self.i, self.kind, self.o = i, kind, o
        self.out = None           # (c, h, w), or (n,) for a vector


def build(path):
    """[net] input (c, h, w) and the layers with their output shapes"""
    secs = read_cfg(path)
    if not secs or secs[0][0] not in ("[net]", "[network]"):
        raise SystemExit("darknet_ref: %s: [net] first" % path)
    net = Opts(secs[0][1])
    shape = (net.i("channels", 0), net.i("height", 0), net.i("width", 0))
    layers = []
    for i, (t, d) in enumerate(secs[1:]):
        o = Opts(d)
        kind = {"[conv]": "conv", "[convolutional]": "conv", "[connected]": "fc", "[conn]": "fc",
                "[maxpool]": "max", "[max]": "max", "[avgpool]": "avg", "[avg]": "avg", "[route]": "route",
                "[shortcut]": "shortcut", "[dropout]": "dropout", "[softmax]": "softmax", "[soft]": "softmax",
                "[batchnorm]": "batchnorm", "[activation]": "activation", "[crop]": "crop",
                "[cost]": "cost"}.get(t)
        if kind is None:
            raise SystemExit("darknet_ref: layer %s not implemented" % t)
        L = Layer(i, kind, o)
        prev = layers[-1].out if layers else shape
        if kind == "conv":
            L.n, L.size, L.stride = o.i("filters", 1), o.i("size", 1), o.i("stride", 1)
            L.pad = o.i("padding", 0)
            if o.i("pad", 0):
                L.pad = L.size // 2
            L.groups, L.bn = o.i("groups", 1), o.i("batch_normalize", 0)
            L.act = o.s("activation", "logistic")
            c, h, w = prev
            L.c = c
            L.out = (L.n, (h + 2 * L.pad - L.size) // L.stride + 1, (w + 2 * L.pad - L.size) // L.stride + 1)
        elif kind == "fc":
            L.n, L.bn, L.act = o.i("output", 1), o.i("batch_normalize", 0), o.s("activation", "logistic")
            L.inputs = int(np.prod(prev))
            L.out = (L.n,)
        elif kind == "max":
            L.stride = o.i("stride", 1)
            L.size = o.i("size", L.stride)
            L.padding = o.i("padding", L.size - 1)
            c, h, w = prev
            L.out = (c, (h + L.padding - L.size) // L.stride + 1, (w + L.padding - L.size) // L.stride + 1)
        elif kind == "avg":
            L.out = (prev[0], 1, 1)
        elif kind == "route":
            L.refs = [int(x) for x in o.s("layers", "").split(",")]
            L.refs = [r + i if r < 0 else r for r in L.refs]
            outs = [layers[r].out for r in L.refs]
            if len(outs) == 1:
                L.out = outs[0]
            else:
                assert all(len(x) == 3 and x[1:] == outs[0][1:] for x in outs)
                L.out = (sum(x[0] for x in outs),) + outs[0][1:]
        elif kind == "shortcut":
            f = atoi(o.s("from", "0"))
            L.src = f + i if f < 0 else f
            L.act, L.alpha, L.beta = o.s("activation", "linear"), o.f("alpha", 1), o.f("beta", 1)
            L.out = prev
        elif kind == "softmax":
            L.groups, L.temp = o.i("groups", 1), o.f("temperature", 1)
            L.out = (int(np.prod(prev)),)
        elif kind in ("dropout", "cost"):
            L.out = prev
        elif kind == "batchnorm":
            L.out = prev
        elif kind == "activation":
            L.act = o.s("activation", "linear")
            L.out = prev
        elif kind == "crop":
            L.ch, L.cw, L.noadjust = o.i("crop_height", 1), o.i("crop_width", 1), o.i("noadjust", 0)
            L.out = (prev[0], L.ch, L.cw)
        layers.append(L)
    return shape, layers


# ---- random weights, in load_weights_upto's order -------------------------------------

def init_weights(layers, rng):
    for L in layers:
        if L.kind == "conv":
            fan = L.c // L.groups * L.size * L.size
            L.w = rng.standard_normal((L.n, L.c // L.groups, L.size, L.size)) * math.sqrt(2.0 / fan)
            L.b = rng.uniform(-0.2, 0.2, L.n)
            if L.bn:
                L.w[0] *= 1e-3                        # a channel of tiny variance
                L.scales = rng.uniform(0.5, 1.5, L.n)
        elif L.kind == "fc":
            L.w = rng.standard_normal((L.n, L.inputs)) * math.sqrt(2.0 / L.inputs)
            L.b = rng.uniform(-0.2, 0.2, L.n)
            if L.bn:
                L.w[0] *= 1e-3
                L.scales = rng.uniform(0.5, 1.5, L.n)
        elif L.kind == "batchnorm":
            L.scales = rng.uniform(0.5, 1.5, L.out[0])
        for k in ("w", "b", "scales"):                # the values the file holds
            if hasattr(L, k):
                setattr(L, k, getattr(L, k).astype(np.float32).astype(np.float64))


def write_weights(path, layers, version, rng):
    major, minor = version
    with open(path, "wb") as f:
        f.write(struct.pack("<iii", major, minor, 0))
        if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
            f.write(struct.pack("<q", int(rng.integers(0, 1 << 40))))
        else:
            f.write(struct.pack("<i", int(rng.integers(0, 1 << 30))))
        transpose = major > 1000 or minor > 1000

        def put(a):
            f.write(np.asarray(a, dtype="<f4").tobytes())

        for L in layers:
            if L.kind == "conv":
                put(L.b)
                if L.bn:
                    put(L.scales), put(L.mean), put(L.var)
                put(L.w)
            elif L.kind == "fc":
                put(L.b)
                put(L.w.T if transpose else L.w)
                if L.bn:
                    put(L.scales), put(L.mean), put(L.var)
            elif L.kind == "batchnorm":
                put(L.scales), put(L.mean), put(L.var)


# ---- the forward pass ----------------------------------------------------------------

def normalize(x, L, calibrate, rng):
    """darknet's batch norm at test time (normalize_cpu, scale_bias): with
    calibrate, first set the rolling statistics from x"""
    dims = [0] + list(range(2, x.dim()))
    if calibrate:
        mean = x.mean(dim=dims).numpy()
        var = x.var(dim=dims, unbiased=False).numpy()
        n = mean.shape[0]
        L.mean = (mean + 0.2 * np.sqrt(var) * rng.uniform(-1, 1, n)).astype(np.float32).astype(np.float64)
        L.var = (var * rng.uniform(0.5, 2, n)).astype(np.float32).astype(np.float64)
    shape = [1, -1] + [1] * (x.dim() - 2)
    t = lambda a: torch.tensor(a, dtype=torch.float64).view(shape)
    return (x - t(L.mean)) / (torch.sqrt(t(L.var)) + 1e-6) * t(L.scales)


def forward(layers, x, calibrate=False, rng=None):
    """x: N×C×H×W float64; every layer's output (dropout: identity)"""
    outs = []
    for L in layers:
        if L.kind == "conv":
            y = F.conv2d(x, torch.tensor(L.w), stride=L.stride, padding=L.pad, groups=L.groups)
            if L.bn:
                y = normalize(y, L, calibrate, rng)
            y = activate(y + torch.tensor(L.b).view(1, -1, 1, 1), L.act)
        elif L.kind == "fc":
            y = x.reshape(x.shape[0], -1) @ torch.tensor(L.w).T
            if L.bn:
                y = normalize(y, L, calibrate, rng)
            y = activate(y + torch.tensor(L.b).view(1, -1), L.act)
        elif L.kind == "max":
            lo = L.padding // 2
            xp = F.pad(x, (lo, L.padding - lo, lo, L.padding - lo), value=-math.inf)
            y = F.max_pool2d(xp, L.size, L.stride)
            assert tuple(y.shape[1:]) == L.out
        elif L.kind == "avg":
            y = x.mean(dim=(2, 3), keepdim=True)
        elif L.kind == "route":
            y = torch.cat([outs[r] for r in L.refs], 1)
        elif L.kind == "shortcut":
            add, y = outs[L.src], x.clone()
            w1, w2, h1, h2 = add.shape[3], y.shape[3], add.shape[2], y.shape[2]
            stride, sample = max(w1 // w2, 1), max(w2 // w1, 1)
            mc, mh, mw = min(add.shape[1], y.shape[1]), min(h1, h2), min(w1, w2)
            o = y[:, :mc, 0:mh * sample:sample, 0:mw * sample:sample]
            a = add[:, :mc, 0:mh * stride:stride, 0:mw * stride:stride]
            y[:, :mc, 0:mh * sample:sample, 0:mw * sample:sample] = L.alpha * o + L.beta * a
            y = activate(y, L.act)
        elif L.kind == "softmax":
            v = x.reshape(x.shape[0], L.groups, -1) / L.temp
            y = torch.softmax(v, dim=2).reshape(x.shape[0], -1)
        elif L.kind == "batchnorm":
            y = normalize(x, L, calibrate, rng)
        elif L.kind == "activation":
            y = activate(x, L.act)
        elif L.kind == "crop":
            dh, dw = (x.shape[2] - L.ch) // 2, (x.shape[3] - L.cw) // 2
            y = x[:, :, dh:dh + L.ch, dw:dw + L.cw]
            if not L.noadjust:
                y = y * 2 - 1
        else:                                         # dropout, cost
            y = x
        outs.append(y)
        x = y
    return outs


def output_layer(layers):
    i = len(layers) - 1
    while i > 0 and layers[i].kind == "cost":
        i -= 1
    return i


# ---- commands ---------------------------------------------------------------------------

def cmd_shapes(cfg):
    _, layers = build(cfg)
    for L in layers:
        print(L.i, L.kind, *L.out)


def cmd_gen(cfg, d, n, seed, version):
    rng = np.random.default_rng(seed)
    shape, layers = build(cfg)
    init_weights(layers, rng)
    with torch.no_grad():
        calib = torch.tensor(rng.uniform(0, 1, (4,) + shape))
        forward(layers, calib, calibrate=True, rng=rng)
        write_weights(d + "/w.weights", layers, version, rng)
        x = torch.tensor(rng.uniform(0, 1, (n,) + shape).astype(np.float32).astype(np.float64))
        y = forward(layers, x)[output_layer(layers)]
    cnnc_in = x
    if layers[0].kind == "crop":                      # cnnc's input is the crop
        L = layers[0]
        dh, dw = (x.shape[2] - L.ch) // 2, (x.shape[3] - L.cw) // 2
        cnnc_in = x[:, :, dh:dh + L.ch, dw:dw + L.cw]
    cnnc_in.numpy().astype("<f4").tofile(d + "/in.bin")
    y.numpy().astype("<f4").tofile(d + "/ref.bin")
    print("darknet_ref: %s: %d images, output %d values each, max |ref| %.4g" %
          (cfg, n, y[0].numel(), y.abs().max().item()))


def cmd_check(d, out, tol):
    ref = np.fromfile(d + "/ref.bin", dtype="<f4").astype(np.float64)
    got = np.fromfile(out, dtype="<f4").astype(np.float64)
    if got.shape != ref.shape:
        print("FAIL %s has %d values, expected %d" % (out, got.size, ref.size))
        return 1
    diff = np.abs(got - ref)
    scale = np.abs(ref).max()
    bad = np.nonzero(~(diff <= tol * scale))[0]
    if bad.size:
        i = bad[0]
        print("FAIL index %d: got %.9g, expected %.9g; max |diff| %.3g, max |ref| %.4g (tolerance %g)" %
              (i, got[i], ref[i], np.nanmax(diff), scale, tol))
        return 1
    print("max |diff| %.3g = %.2g of max |ref| %.4g" % (diff.max(), diff.max() / scale, scale))
    return 0


def read_table(path):
    """darknet's layer table (darknet ops CFG, stdout and stderr): {row:
    text}, and the total of 'Floating Point Operations'"""
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"\w+: Using default '[^']*'\n", "", text)
    text = re.sub(r"Couldn't find activation function \S+, going with ReLU\n", "", text)
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+) (.*)$", line)
        if m:
            rows[int(m.group(1))] = m.group(2).strip()
    m = re.search(r"Floating Point Operations: (\d+)\n", text)
    return rows, int(m.group(1)) if m else None


def triples(s):
    """the 'W x H x C' sizes of a row, as (C, H, W)"""
    return [(int(c), int(h), int(w)) for w, h, c in re.findall(r"(\d+) x\s*(\d+) x\s*(\d+)", s)]


def cmd_table_check(cfg, table, report):
    """darknet's table against this file's shapes and against cnnc's
    report of the imported network: each conv's output and input shape and
    BFLOPs, each connected layer's sizes, the network's input and output,
    the total FLOPs (less cnnc's fixed layers crop* and sc*)"""
    import json
    _, layers = build(cfg)
    rows, total = read_table(table)
    rep = json.load(open(report))
    by_name = {L["name"].split(".")[-1]: L for L in rep["layers"]}
    full = {L["name"]: L for L in rep["layers"]}
    fails = []

    def fail(msg):
        fails.append(msg)
        print("FAIL %s: %s" % (cfg, msg))

    def in_shape(L):
        src = L["inputs"][0]
        return tuple(rep["input"]) if src == "input" else tuple(full[src]["out_shape"])

    if len(rows) != len(layers):
        fail("darknet's table has %d rows, the cfg %d layers" % (len(rows), len(layers)))
    nconv = nfc = 0
    for L in layers:
        row = rows.get(L.i, "")
        t = triples(row)
        numel = int(np.prod(L.out))
        if L.kind in ("conv", "max", "shortcut", "batchnorm"):
            want = t[-1] if t else None
        elif L.kind == "crop":
            m = re.search(r"-> (\d+) x (\d+) x (\d+)", row)
            want = (int(m.group(3)), int(m.group(1)), int(m.group(2))) if m else None
        elif L.kind == "avg":
            m = re.search(r"->\s*(\d+)", row)
            want = (int(m.group(1)), 1, 1) if m else None
        elif L.kind == "route":
            want = L.out                              # darknet prints none
        else:                                         # connected, softmax, dropout, cost, activation: a count
            m = re.findall(r"(\d+)", row.split("p =")[-1])
            want = int(m[-1]) if m else None
            if want is not None and want != numel:
                fail("layer %d (%s): darknet %d values, darknet_ref %s" % (L.i, L.kind, want, L.out))
            want = None if want is None else L.out
        if want is None or tuple(want) != tuple(L.out):
            fail("layer %d (%s): darknet's table says %r, darknet_ref %r" % (L.i, L.kind, row, L.out))
        if L.kind == "conv":
            nconv += 1
            c = by_name.get("conv%d" % L.i)
            if c is None:
                fail("layer %d: no layer conv%d in cnnc's report" % (L.i, L.i))
                continue
            bfl = re.search(r"([\d.]+) BFLOPs", row)
            got = "%.3f" % (2.0 * c["macs"] / 1e9)
            if tuple(c["out_shape"]) != tuple(t[1]) or in_shape(c) != tuple(t[0]):
                fail("conv%d: cnnc %s -> %s, darknet %s -> %s" % (L.i, in_shape(c), c["out_shape"], t[0], t[1]))
            if not bfl or bfl.group(1) != got:
                fail("conv%d: cnnc %s BFLOPs, darknet %s" % (L.i, got, bfl.group(1) if bfl else "?"))
        if L.kind == "fc":
            nfc += 1
            c = by_name.get("fc%d" % L.i)
            m = re.search(r"(\d+)\s+->\s+(\d+)", row)
            if c is None or not m:
                fail("layer %d: no fc%d in cnnc's report, or no sizes in darknet's row" % (L.i, L.i))
                continue
            if (int(np.prod(in_shape(c))), tuple(c["out_shape"]), c["macs"]) != \
                    (int(m.group(1)), (int(m.group(2)),), int(m.group(1)) * int(m.group(2))):
                fail("fc%d: cnnc %s -> %s (%d MACs), darknet %s" % (L.i, in_shape(c), c["out_shape"], c["macs"], row))
    first = layers[0].out if layers[0].kind == "crop" else None
    if first and tuple(rep["input"]) != tuple(first):
        fail("cnnc's input %s, darknet's crop %s" % (rep["input"], first))
    out = layers[output_layer(layers)]
    if int(np.prod(rep["layers"][-1]["out_shape"])) != int(np.prod(out.out)):
        fail("cnnc's output %s, darknet's %s" % (rep["layers"][-1]["out_shape"], out.out))
    extra = sum(2 * L["macs"] for L in rep["layers"] if re.match(r"(crop|sc)\d+$", L["name"].split(".")[-1]))
    flops = rep["totals"]["flops"] - extra
    if total is None or flops != total:
        fail("cnnc's FLOPs %d (less %d of its fixed layers), darknet's %s" % (flops, extra, total))
    if not fails:
        print("ok   %s: darknet's table (%d layers) = darknet_ref's shapes = cnnc's report (%d convs and %d "
              "connected: shapes, BFLOPs; input, output, total %.3f BFLOPs)" %
              (cfg.split("/")[-1], len(layers), nconv, nfc, total / 1e9))
    return 1 if fails else 0


def main(argv):
    args, opts = [], {}
    it = iter(argv[1:])
    for a in it:
        if a.startswith("--"):
            opts[a[2:]] = next(it)
        else:
            args.append(a)
    if len(args) == 2 and args[0] == "shapes":
        return cmd_shapes(args[1])
    if len(args) == 3 and args[0] == "gen":
        v = opts.get("version", "0.2").split(".")
        return cmd_gen(args[1], args[2], int(opts.get("images", 2)), int(opts.get("seed", 1)),
                       (int(v[0]), int(v[1])))
    if len(args) == 4 and args[0] == "table-check":
        return cmd_table_check(args[1], args[2], args[3])
    if len(args) == 3 and args[0] == "check":
        return cmd_check(args[1], args[2], float(opts.get("tol", 1e-4)))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
