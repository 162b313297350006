#!/usr/bin/python3
"""An independent numpy reference for cnnc's int8 code (issue 19, "Proof"):
the integers the generated code must output, recomputed from the float
checkpoint and the scales cnnc chose, compared image by image.

    q8_ref.py --net NET.net --weights W.safetensors --report R.json \\
        --pymodel model.py --images t10k-images-idx3-ubyte.gz \\
        --outputs DUMP.bin [--n N] [--c-source net.c] [--batch 50] \\
        [--keep-float LAYER]

Inputs:
  R.json     cnnc NET --weights W --quantize int8 --calibrate DATA
             --calibrate-n N --report=json (the same calibration as the C
             build).  Only each tensor's scale and zero point are taken from
             it ("int8" -> "layers": "holds" names the layer as written whose
             output the planned layer holds); every other integer is derived
             here.
  model.py   cnnc NET --emit pytorch: the network as written.  Its forward()
             is parsed (ast) into a graph: module calls m("name")(x) of
             nn.Conv2d / nn.BatchNorm2d / nn.Linear / nn.MaxPool2d /
             nn.ReLU / nn.Dropout, F.relu, F.relu6, F.max_pool2d,
             F.adaptive_avg_pool2d(x, 1), torch.flatten, F.dropout, a + b.
             The modules give the shapes and strides; the weights come from
             W.safetensors (read here, not through torch).
  DUMP.bin   the generated code's float outputs, float32, image after image
             (what /tmp/q8/eval.c writes to $DUMP), for the first N images of
             --images, each fed as pixel / 255.0f.
  --c-source optional, a debugging aid: the generated .c (its .h beside it).
             A copy of it, with a dump of every int8 buffer after each layer,
             is built in a temporary folder and run on the same images, and
             every layer's integers are compared with the reference's.

The reference (docs/quantize.md, "The arithmetic"), written from the docs:
  - batchnorm after a conv/dense (read by nothing else) is folded into it in
    double, the results rounded to float32; relu/relu6 after a conv, dense or
    add (read by nothing else) becomes the output clamp; flatten and dropout
    share their input.
  - input: x = float32(p) / 255 (float32), (x - MEAN) / STD in float32 when the
    checkpoint's metadata has "normalize"; q = clamp(rha(x / s) + zp).
  - conv/dense weights per output channel: s_w = float32(amax / 127), q_w =
    rha(w / s_w) (float32 division); bias q_b = rha(b / (s_in * s_w)) (double);
    acc = q_b + sum (q_x - zp_x) q_w over the taps inside the input (int64);
    out = clamp(zp + floor((acc * mult + 2^(shift-1)) / 2^shift), lo, hi) with
    mult, shift from M = s_in * s_w / s_out (frexp, mult in [2^30, 2^31)).
  - maxpool: max over the window's inputs, the input's scale and zero point.
  - global average pool: sum (q - zp) requantized with M = s_in / (s_out * HW).
  - add: ((qa - zpa) A + (qb - zpb) B) rounded by 2^S as above, A = llround(
    sa / so * 2^S), B likewise, S the largest in [1, 60] with max(sa, sb) / so
    * 2^S < 2^31.
  - output: y = float32(q - zp) * s (float32).
  - --keep-float LAYER (the output layer, a conv or dense, as cnnc
    --keep-float LAYER builds it): that layer in float32, on its input
    dequantized, y = float32(q - zp) * s, with the float weights (folded as
    above); the C's float outputs must match it within 1e-6 of the largest
    output (the order of the float sums is the C's own).
(rha: round half away from zero, as C's round().)  All integer work is int64
numpy or Python integers; no code of cnnc is called or copied.

Output: "ok ..." lines when every integer matches; else the number of
mismatching values, the largest difference in LSB, the share of images
affected, and for each mismatch class the explanation found (a variant of the
reference -- a different rounding or precision -- that reproduces exactly the
generated code's integers there).  Any difference above 1 LSB, or one that no
variant explains, prints "FAIL ..." and exits 1.
"""
import argparse
import ast
import gzip
import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

I64 = np.int64


# ---------------------------------------------------------------- rounding

def rha(v):
    """round half away from zero (C's round()), exact for every double:
    trunc, then the fraction (exact) decides."""
    v = np.asarray(v, dtype=np.float64)
    t = np.trunc(v)
    f = v - t                                   # exact
    return t + np.where(f >= 0.5, 1.0, 0.0) - np.where(f <= -0.5, 1.0, 0.0)


def rha_int(x):
    """round half away from zero of one Python float, as a Python int (exact)"""
    t = math.trunc(x)
    f = x - t
    return t + (1 if f >= 0.5 else -1 if f <= -0.5 else 0)


def multiplier(M, variant=()):
    """M > 0 (a double) as mult * 2^-shift, mult in [2^30, 2^31), shift in [1, 62];
    (0, 1) when the shift would exceed 62."""
    assert M > 0 and math.isfinite(M), M
    f, e = math.frexp(M)
    mult = rha_int(math.ldexp(f, 31))          # f * 2^31 is exact (53 bits)
    shift = 31 - e
    if mult == 2 ** 31:
        mult, shift = 2 ** 30, shift - 1
    if shift > 62:
        return 0, 1
    if shift < 1:
        raise ValueError("multiplier %r: shift below 1" % M)
    return mult, shift


def requant(acc, mult, shift, zp, lo, hi, variant=()):
    """clamp(zp + floor((acc * mult + 2^(shift-1)) / 2^shift), lo, hi) on int64;
    mult, shift broadcast against acc."""
    acc = np.asarray(acc, dtype=I64)
    mult = np.asarray(mult, dtype=I64)
    shift = np.asarray(shift, dtype=I64)
    prod = acc * mult
    # |acc| < 2^31 and mult < 2^31: no int64 overflow (checked by the callers' bounds)
    if "requant-half-away" in variant:
        half = np.left_shift(I64(1), shift - 1)
        mag = np.right_shift(np.abs(prod) + half, shift)
        r = np.where(prod < 0, -mag, mag)
    elif "requant-truncate" in variant:
        r = np.right_shift(prod, shift)
    else:
        r = np.right_shift(prod + np.left_shift(I64(1), shift - 1), shift)   # >> on int64 is a floor
    return np.clip(r + zp, lo, hi)


def act_clamp(act, s_out, zp):
    if act == "none":
        return -128, 127
    lo = max(-128, zp)
    hi = 127
    if act == "relu6":
        hi = min(127, zp + rha_int(6.0 / float(s_out)))
    return lo, hi


def quant_weights(w, variant=()):
    """w: [OC, ...] float32 -> q_w int64 [OC, K], s_w float32 [OC]"""
    oc = w.shape[0]
    w2 = np.ascontiguousarray(w, dtype=np.float32).reshape(oc, -1)
    q = np.zeros(w2.shape, dtype=I64)
    s = np.ones(oc, dtype=np.float32)
    tiny = float(np.finfo(np.float32).tiny)
    for o in range(oc):
        if not np.all(np.isfinite(w2[o])):
            raise ValueError("non-finite weight")
        amax = float(np.max(np.abs(w2[o])))
        if amax / 127 < tiny:
            continue                            # scale 1, all zero
        so = np.float32(amax / 127)             # double, then float32
        s[o] = so
        v = (w2[o] / so).astype(np.float32)     # float32 division
        q[o] = np.clip(rha(v.astype(np.float64)), -127, 127).astype(I64)
    return q, s


def quant_bias(b, s_in, s_w):
    """b float32 [OC] or None -> int64 [OC], saturated to int32 (and a flag)"""
    oc = len(s_w)
    if b is None:
        return np.zeros(oc, dtype=I64), False
    v = rha(np.asarray(b, dtype=np.float64) / (float(s_in) * np.asarray(s_w, dtype=np.float64)))
    sat = bool(np.any(v > 2 ** 31 - 1) or np.any(v < -2 ** 31))
    return np.clip(v, -2 ** 31, 2 ** 31 - 1).astype(I64), sat


# ---------------------------------------------------------------- files

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {}) or {}
    base = 8 + n
    dt = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1"}
    out = {}
    for k, v in head.items():
        if k.startswith("__optim__"):
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[base + a:base + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out, meta


def read_idx_images(path, n):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        head = f.read(4)
        (magic,) = struct.unpack(">I", head)
        nd = magic & 0xff
        dims = struct.unpack(">" + "I" * nd, f.read(4 * nd))
        per = int(np.prod(dims[1:]))
        n = dims[0] if n <= 0 else min(n, dims[0])
        data = np.frombuffer(f.read(per * n), dtype=np.uint8)
    return data.reshape((n,) + tuple(dims[1:]))


# ---------------------------------------------------------------- the graph

class Node:
    def __init__(self, nid, kind, layer, inputs, **kw):
        self.id, self.kind, self.layer, self.inputs = nid, kind, layer, list(inputs)
        self.act = "none"
        self.holds = layer            # the layer as written whose output this node's buffer holds
        self.module = None
        self.w = self.b = None
        self.alias = None
        self.removed = False
        self.__dict__.update(kw)

    def __repr__(self):
        return "%s(%s<-%s)" % (self.kind, self.layer, self.inputs)


def load_pymodel(path):
    spec = importlib.util.spec_from_file_location("q8ref_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def const(node):
    return ast.literal_eval(node)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def parse_forward(path, pymod, layer_of_local):
    """The graph of the network as written: nodes in source order."""
    import torch.nn as nn
    src = open(path).read()
    tree = ast.parse(src)
    model_cls = getattr(pymod, "Model")
    model = model_cls()
    cls = [c for c in tree.body if isinstance(c, ast.ClassDef) and c.name == model_cls.__name__][0]
    fwd = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "forward"][0]
    xname = fwd.args.args[1].arg
    nodes = []
    env = {}

    def new(kind, layer, inputs, **kw):
        n = Node(len(nodes), kind, layer, inputs, **kw)
        nodes.append(n)
        return n.id

    env[xname] = new("input", "input", [])

    def conv_expr(e, local, top):
        lname = layer_of_local(local) if top else "%s#%d" % (local, len(nodes))
        if isinstance(e, ast.Name):
            return env[e.id]
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
            a = conv_expr(e.left, local, False)
            b = conv_expr(e.right, local, False)
            return new("add", lname, [a, b])
        if isinstance(e, ast.Call):
            f = e.func
            # m("dotted.name")(x)
            if isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "m":
                dotted = const(f.args[0])
                mod = model.get_submodule(dotted)
                x = conv_expr(e.args[0], local, False)
                t = type(mod)
                if t is nn.Conv2d:
                    if mod.padding_mode != "zeros" or isinstance(mod.padding, str):
                        raise SystemExit("FAIL unsupported conv padding in %s" % dotted)
                    return new("conv", dotted, [x], module=mod)
                if t is nn.BatchNorm2d or t is nn.BatchNorm1d:
                    return new("bn", dotted, [x], module=mod)
                if t is nn.Linear:
                    return new("dense", dotted, [x], module=mod)
                if t is nn.MaxPool2d:
                    return new("maxpool", dotted, [x], k=pair(mod.kernel_size), s=pair(mod.stride),
                               p=pair(mod.padding), d=pair(mod.dilation), ceil=mod.ceil_mode)
                if t is nn.ReLU:
                    return new("relu", dotted, [x])
                if t is nn.ReLU6:
                    return new("relu6", dotted, [x])
                if t in (nn.Dropout, nn.Dropout2d, nn.Identity, nn.Flatten):
                    return new("noop", dotted, [x])
                raise SystemExit("FAIL q8_ref: module %s (%s) not supported" % (dotted, t.__name__))
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("F", "torch"):
                fn = f.attr
                x = conv_expr(e.args[0], local, False)
                args = [const(a) for a in e.args[1:]]
                kw = {k.arg: const(k.value) for k in e.keywords if k.arg}
                if fn == "relu":
                    return new("relu", lname, [x])
                if fn == "relu6" or (fn == "hardtanh" and args[:2] == [0.0, 6.0]):
                    return new("relu6", lname, [x])
                if fn == "max_pool2d":
                    k = args[0] if args else kw["kernel_size"]
                    s = args[1] if len(args) > 1 else kw.get("stride", k)
                    p = args[2] if len(args) > 2 else kw.get("padding", 0)
                    dl = args[3] if len(args) > 3 else kw.get("dilation", 1)
                    return new("maxpool", lname, [x], k=pair(k), s=pair(s), p=pair(p), d=pair(dl),
                               ceil=bool(kw.get("ceil_mode", False)))
                if fn == "adaptive_avg_pool2d":
                    if pair(args[0]) != (1, 1):
                        raise SystemExit("FAIL q8_ref: adaptive_avg_pool2d to %r" % (args[0],))
                    return new("gap", lname, [x])
                if fn in ("flatten", "dropout", "dropout2d"):
                    return new("noop", lname, [x])
            raise SystemExit("FAIL q8_ref: cannot read %s" % ast.unparse(e))
        raise SystemExit("FAIL q8_ref: cannot read %s" % ast.unparse(e))

    out = None
    for st in fwd.body:
        if isinstance(st, ast.Assign):
            tgt = st.targets[0]
            if isinstance(st.value, ast.Attribute):          # m = self.get_submodule
                continue
            env[tgt.id] = conv_expr(st.value, tgt.id, True)
        elif isinstance(st, ast.Return):
            out = conv_expr(st.value, "return", False)
        else:
            raise SystemExit("FAIL q8_ref: cannot read %s" % ast.unparse(st))
    return nodes, out, model


def uses_of(nodes, out):
    u = [0] * len(nodes)
    for n in nodes:
        if n.removed:
            continue
        for i in n.inputs:
            u[i] += 1
    u[out] += 1
    return u


def replace_uses(nodes, frm, to, out):
    for n in nodes:
        n.inputs = [to if i == frm else i for i in n.inputs]
    return to if out == frm else out


def plan(nodes, out, weights, variant=()):
    """fold batchnorm, fuse relu/relu6, make no-ops aliases (as docs/quantize.md
    and pass_fold.c's header describe); returns the kept nodes and the output."""
    for n in nodes:
        if n.kind in ("conv", "dense"):
            n.w = np.array(weights[n.layer + ".weight"], dtype=np.float32)
            b = weights.get(n.layer + ".bias")
            n.b = None if b is None else np.array(b, dtype=np.float32)
    # batchnorm folding
    uses = uses_of(nodes, out)
    for n in nodes:
        if n.removed or n.kind != "bn":
            continue
        p = nodes[n.inputs[0]]
        if not (p.kind in ("conv", "dense") and p.act == "none" and uses[p.id] == 1 and p.id != out):
            raise SystemExit("FAIL q8_ref: batchnorm %s cannot be folded: no int8 batchnorm" % n.layer)
        g = weights[n.layer + ".weight"]
        beta = weights[n.layer + ".bias"]
        mean = weights[n.layer + ".running_mean"]
        var = weights[n.layer + ".running_var"]
        eps = float(n.module.eps)
        oc = p.w.shape[0]
        b = p.b if p.b is not None else np.zeros(oc, np.float32)
        if "fold-f32" in variant:
            s = (g.astype(np.float32) / np.sqrt(var.astype(np.float32) + np.float32(eps))).astype(np.float32)
            p.w = (p.w * s.reshape((oc,) + (1,) * (p.w.ndim - 1))).astype(np.float32)
            p.b = ((b - mean) * s + beta).astype(np.float32)
        else:
            s = g.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
            p.w = (p.w.astype(np.float64) * s.reshape((oc,) + (1,) * (p.w.ndim - 1))).astype(np.float32)
            p.b = ((b.astype(np.float64) - mean.astype(np.float64)) * s + beta.astype(np.float64)).astype(np.float32)
        p.holds = n.holds
        n.removed = True
        out = replace_uses(nodes, n.id, p.id, out)
        uses[p.id] = uses[n.id]
    # activation fusion
    uses = uses_of(nodes, out)
    for n in nodes:
        if n.removed or n.kind not in ("relu", "relu6"):
            continue
        p = nodes[n.inputs[0]]
        if not (p.kind in ("conv", "dense", "add") and p.act == "none" and uses[p.id] == 1 and p.id != out):
            raise SystemExit("FAIL q8_ref: %s %s cannot be fused: no int8 %s" % (n.kind, n.layer, n.kind))
        p.act = n.kind
        p.holds = n.holds
        n.removed = True
        out = replace_uses(nodes, n.id, p.id, out)
        uses[p.id] = uses[n.id]
    # no-ops share their input
    for n in nodes:
        if n.removed or n.kind != "noop":
            continue
        n.removed = True
        out = replace_uses(nodes, n.id, n.inputs[0], out)
    return [n for n in nodes if not n.removed], out


# ---------------------------------------------------------------- integers

def torch_free_conv(x, w, geom, out_shape):
    """a float conv in numpy, float64: x [B, C, H, W], w [OC, C/g, KH, KW]"""
    kh, kw, sh, sw, ph, pw, dh, dw, g = geom
    B, C, H, W = x.shape
    OC, oh, ow = out_shape
    xp = np.zeros((B, C, H + 2 * ph + sh * oh, W + 2 * pw + sw * ow), np.float64)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    y = np.zeros((B, OC, oh, ow), np.float64)
    icg, ocg = C // g, OC // g
    for gi in range(g):
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[:, gi * icg:(gi + 1) * icg, ky * dh:ky * dh + sh * oh:sh, kx * dw:kx * dw + sw * ow:sw]
                y[:, gi * ocg:(gi + 1) * ocg] += np.einsum("bchw,oc->bohw", patch, w[gi * ocg:(gi + 1) * ocg, :, ky, kx])
    return y


def conv_out(h, k, s, p, d, ceil=False):
    num = h + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= h + p:
        o -= 1
    return o


class Ref:
    """the reference's integers for one checkpoint and one set of scales"""

    def __init__(self, ops, out, scales, meta, in_shape, variant=(), keep_float=None):
        self.ops, self.out, self.variant = ops, out, tuple(variant)
        self.keep = None
        if keep_float:
            kept = [n for n in ops if n.layer == keep_float]
            if not kept or kept[0].id != out or kept[0].kind not in ("conv", "dense") or kept[0].act != "none":
                raise SystemExit("FAIL q8_ref: --keep-float %s: only the output layer, a conv or dense without "
                                 "activation, is supported here" % keep_float)
            self.keep = kept[0].id
        self.sc = {}                        # node id -> (float32 scale, zp)
        self.notes = []
        byholds = scales
        for n in ops:
            if n.kind == "maxpool":
                continue
            if n.holds not in byholds:
                raise SystemExit("FAIL q8_ref: no scale in the report for %s (holds %s)" % (n.layer, n.holds))
            self.sc[n.id] = byholds[n.holds]
        for n in ops:                       # maxpool: its input's map (ops are in source order)
            if n.kind == "maxpool":
                self.sc[n.id] = self.sc[n.inputs[0]]
        self.norm = None
        if "normalize" in meta:
            v = [np.float32(t) for t in meta["normalize"].split(",")]
            c = in_shape[0]
            if len(v) == 2:
                self.norm = (np.full(c, v[0], np.float32), np.full(c, v[1], np.float32))
            elif len(v) == 2 * c:
                self.norm = (np.array(v[:c], np.float32), np.array(v[c:], np.float32))
            else:
                raise SystemExit("FAIL q8_ref: normalize %r" % meta["normalize"])
        self.shapes = {}
        self.ties = {}                      # kind -> [exact ties, ties of a negative value]
        self.prepare(in_shape)

    def count_ties(self, kind, prod, shift):
        """requantization ties: prod / 2^shift exactly halfway (where the rounding rule matters)"""
        shift = np.asarray(shift, dtype=I64)
        rem = np.bitwise_and(prod, np.left_shift(I64(1), shift) - 1)      # prod mod 2^shift
        tie = (rem == np.left_shift(I64(1), shift - 1)) & (prod != 0)
        c = self.ties.setdefault(kind, [0, 0])
        c[0] += int(tie.sum())
        c[1] += int((tie & (prod < 0)).sum())

    def rq(self, kind, acc, mult, shift, n):
        self.count_ties(kind, np.asarray(acc, I64) * np.asarray(mult, I64), shift)
        return requant(acc, mult, shift, n.zp_out, n.lo, n.hi, self.variant)

    def prepare(self, in_shape):
        v = self.variant
        self.shapes[self.ops[0].id] = tuple(in_shape)
        for n in self.ops:
            if n.kind == "input":
                continue
            x = n.inputs[0]
            xs = self.shapes[x]
            s_in, zp_in = self.sc[x]
            s_out, zp_out = self.sc[n.id]
            n.zp_in, n.zp_out = zp_in, zp_out
            n.lo, n.hi = act_clamp(n.act, s_out, zp_out)
            if n.kind in ("conv", "dense"):
                n.qw, n.sw = quant_weights(n.w, v)
                n.qb, sat = quant_bias(n.b, s_in, n.sw)
                if sat:
                    self.notes.append("%s: a bias saturates int32" % n.layer)
                M = [float(s_in) * float(sw) / float(s_out) for sw in n.sw]
                ms = [multiplier(m, v) for m in M]
                n.mult = np.array([a for a, _ in ms], I64)
                n.shift = np.array([b for _, b in ms], I64)
                K = n.qw.shape[1]
                if n.kind == "conv":
                    mod = n.module
                    C, H, W = xs
                    kh, kw = mod.kernel_size
                    sh, sw_ = mod.stride
                    ph, pw = mod.padding
                    dh, dw = mod.dilation
                    n.geom = (kh, kw, sh, sw_, ph, pw, dh, dw, mod.groups)
                    oh, ow = conv_out(H, kh, sh, ph, dh), conv_out(W, kw, sw_, pw, dw)
                    self.shapes[n.id] = (n.w.shape[0], oh, ow)
                    # every partial sum inside int32 whatever the order: C's int32 accumulator
                    bound = K * 255 * 127 + np.abs(n.qb)
                else:
                    self.shapes[n.id] = (n.w.shape[0],)
                    assert int(np.prod(xs)) == K, (n.layer, xs, K)
                    n.qbf = n.qb - zp_in * n.qw.sum(axis=1)        # the zero point folded in
                    if np.any(n.qbf > 2 ** 31 - 1) or np.any(n.qbf < -2 ** 31):
                        self.notes.append("%s: the folded bias saturates int32" % n.layer)
                    bound = K * 128 * 127 + np.abs(n.qbf)
                if np.any(bound > 2 ** 31 - 1):
                    self.notes.append("%s: an int32 accumulator could overflow" % n.layer)
            elif n.kind == "maxpool":
                C, H, W = xs
                kh, kw = n.k
                sh, sw_ = n.s
                if n.d != (1, 1):
                    raise SystemExit("FAIL q8_ref: dilated maxpool")
                self.shapes[n.id] = (C, conv_out(H, kh, sh, n.p[0], 1, n.ceil), conv_out(W, kw, sw_, n.p[1], 1, n.ceil))
            elif n.kind == "gap":
                C, H, W = xs
                self.shapes[n.id] = (C, 1, 1)
                M = float(s_in) / (float(s_out) * (H * W))
                if "gap-m-order" in v:
                    M = float(s_in) / float(s_out) / (H * W)
                n.mult, n.shift = multiplier(M, v)
                if H * W * 255 >= 2 ** 31:
                    self.notes.append("%s: the sum could overflow int32" % n.layer)
            elif n.kind == "add":
                assert len(n.inputs) == 2
                self.shapes[n.id] = xs
                assert self.shapes[n.inputs[1]] == xs
                sa, za = self.sc[n.inputs[0]]
                sb, zb = self.sc[n.inputs[1]]
                ra, rb = float(sa) / float(s_out), float(sb) / float(s_out)
                big = max(ra, rb)
                S = None
                for s in range(60, 0, -1):                  # the largest S <= 60 ...
                    if math.ldexp(big, s) < 2 ** 31:        # ... with both under 2^31
                        S = s
                        break
                if S is None or math.ldexp(big, S) < 1:
                    raise SystemExit("FAIL q8_ref: add %s: scales out of range" % n.layer)
                n.A, n.B, n.S = rha_int(math.ldexp(ra, S)), rha_int(math.ldexp(rb, S)), S
                n.zpa, n.zpb = za, zb
            else:
                raise SystemExit("FAIL q8_ref: no int8 reference for %s" % n.kind)

    def quantize_input(self, pix):
        """pix: uint8 [B, C, H, W] -> int64"""
        x = pix.astype(np.float32) / np.float32(255)
        if self.norm:
            m, s = self.norm
            x = ((x - m.reshape(1, -1, 1, 1)).astype(np.float32) / s.reshape(1, -1, 1, 1)).astype(np.float32)
        s, zp = self.sc[self.ops[0].id]
        if "input-f64" in self.variant:
            v = x.astype(np.float64) / float(s)
        else:
            v = (x / s).astype(np.float32).astype(np.float64)   # a float32 division
        f = v - np.trunc(v)
        c = self.ties.setdefault("input", [0, 0])
        c[0] += int((np.abs(f) == 0.5).sum())
        c[1] += int((f == -0.5).sum())
        return np.clip(rha(v) + zp, -128, 127).astype(I64)

    def conv(self, n, q):
        kh, kw, sh, sw, ph, pw, dh, dw, g = n.geom
        B, C, H, W = q.shape
        OC, oh, ow = self.shapes[n.id]
        xc = q - n.zp_in                        # real 0 is zp: padding adds nothing
        xp = np.zeros((B, C, H + 2 * ph, W + 2 * pw), I64)
        xp[:, :, ph:ph + H, pw:pw + W] = xc
        cols = np.empty((B, C, kh, kw, oh, ow), I64)
        for ky in range(kh):
            for kx in range(kw):
                cols[:, :, ky, kx] = xp[:, :, ky * dh:ky * dh + sh * (oh - 1) + 1:sh,
                                        kx * dw:kx * dw + sw * (ow - 1) + 1:sw]
        cg, ocg = C // g, OC // g
        cols = cols.reshape(B, g, cg * kh * kw, oh * ow)
        wq = n.qw.reshape(g, ocg, cg * kh * kw)
        acc = np.empty((B, OC, oh * ow), I64)
        for gi in range(g):
            acc[:, gi * ocg:(gi + 1) * ocg] = np.matmul(wq[gi], cols[:, gi])
        acc += n.qb.reshape(1, OC, 1)
        self.check_acc(n, acc)
        y = self.rq("conv", acc, n.mult.reshape(1, OC, 1), n.shift.reshape(1, OC, 1), n)
        return y.reshape(B, OC, oh, ow)

    def float_layer(self, n, q):
        """a kept float layer on its dequantized input: float32 [B, ...]"""
        s_in, zp_in = self.sc[n.inputs[0]]
        x = (q - zp_in).astype(np.float32) * np.float32(s_in)
        b = n.b if n.b is not None else np.zeros(n.w.shape[0], np.float32)
        if n.kind == "dense":
            y = x.reshape(len(x), -1).astype(np.float64) @ n.w.astype(np.float64).T + b.astype(np.float64)
            return y.astype(np.float32)
        t = torch_free_conv(x.astype(np.float64), n.w.astype(np.float64), n.geom, self.shapes[n.id])
        return (t + b.astype(np.float64).reshape(1, -1, 1, 1)).astype(np.float32)

    def dense(self, n, q):
        B = q.shape[0]
        x = q.reshape(B, -1)
        acc = n.qbf.reshape(1, -1) + x @ n.qw.T          # = q_b + sum (q_x - zp) q_w
        self.check_acc(n, acc)
        return self.rq("dense", acc, n.mult.reshape(1, -1), n.shift.reshape(1, -1), n)

    def check_acc(self, n, acc):
        if acc.max(initial=0) > 2 ** 31 - 1 or acc.min(initial=0) < -2 ** 31:
            self.notes.append("%s: an accumulator left int32" % n.layer)

    def maxpool(self, n, q):
        B, C, H, W = q.shape
        kh, kw = n.k
        sh, sw = n.s
        ph, pw = n.p
        _, oh, ow = self.shapes[n.id]
        # windows over the inputs that exist: pad with a value below every int8
        Hp = max(H + 2 * ph, (oh - 1) * sh + kh)
        Wp = max(W + 2 * pw, (ow - 1) * sw + kw)
        xp = np.full((B, C, Hp, Wp), -1000, I64)
        xp[:, :, ph:ph + H, pw:pw + W] = q
        m = np.full((B, C, oh, ow), -1000, I64)
        for ky in range(kh):
            for kx in range(kw):
                m = np.maximum(m, xp[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw])
        assert m.min() >= -128
        return np.clip(m, n.lo, n.hi)

    def gap(self, n, q):
        B, C = q.shape[:2]
        acc = (q - n.zp_in).reshape(B, C, -1).sum(axis=2)
        return self.rq("gap", acc, n.mult, n.shift, n).reshape(B, C, 1, 1)

    def add(self, n, qa, qb):
        v = (qa - n.zpa) * I64(n.A) + (qb - n.zpb) * I64(n.B)
        return self.rq("add", v, 1, n.S, n)

    def run(self, pix):
        """pix uint8 [B, C, H, W] -> {node id: int64 tensor}, output q"""
        t = {}
        for n in self.ops:
            if n.kind == "input":
                t[n.id] = self.quantize_input(pix)
            elif n.id == self.keep:
                t[n.id] = self.float_layer(n, t[n.inputs[0]])
                continue
            elif n.kind == "conv":
                t[n.id] = self.conv(n, t[n.inputs[0]])
            elif n.kind == "dense":
                t[n.id] = self.dense(n, t[n.inputs[0]])
            elif n.kind == "maxpool":
                t[n.id] = self.maxpool(n, t[n.inputs[0]])
            elif n.kind == "gap":
                t[n.id] = self.gap(n, t[n.inputs[0]])
            elif n.kind == "add":
                t[n.id] = self.add(n, t[n.inputs[0]], t[n.inputs[1]])
            assert t[n.id].min() >= -128 and t[n.id].max() <= 127
        return t, t[self.out]

    def dequantize(self, q):
        s, zp = self.sc[self.out]
        return (q - zp).astype(np.float32) * np.float32(s)


# ---------------------------------------------------------------- the generated C, per layer

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include NETH
FILE *q8ref_dump_file;
int main(int argc, char **argv) {
    FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
    int n = atoi(argv[4]);
    static float in[P(IN_SIZE)], out[P(OUT_SIZE)];
    q8ref_dump_file = fopen(argv[3], "wb");
    if (!fi || !fo || !q8ref_dump_file) return 2;
    for (int i = 0; i < n; i++) {
        if (fread(in, sizeof in, 1, fi) != 1) return 3;
        F(forward)(in, out);
        fwrite(out, sizeof out, 1, fo);
    }
    fclose(fo);
    fclose(q8ref_dump_file);
    return 0;
}
"""


def c_ident(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def run_instrumented(csrc, ref, pix, workdir):
    """Build a copy of the generated code that writes every int8 buffer after
    its layer, run it on pix; returns ({layer name: int8 [n, ...]}, float outputs)."""
    import re
    hsrc = csrc[:-2] + ".h"
    base = os.path.basename(csrc)[:-2]
    text = open(csrc).read()
    hdr = open(hsrc).read()
    mfw = re.search(r"int (\w+)_forward\(const float", hdr)
    net = mfw.group(1)
    size_of = {}
    for n in ref.ops:
        size_of[c_ident(n.layer)] = (n.layer, int(np.prod(ref.shapes[n.id])), ref.shapes[n.id])
    run_m = re.search(r"static void %s_run\([^)]*\)\n\{\n" % net, text)
    start = run_m.end()
    end = text.index("\n}\n", start)
    body = text[start:end]
    order = []

    def inst(m):
        ident = m.group(2)
        line = m.group(0)
        if ident in size_of and ("int8_t *const buf_%s " % ident) in body:
            order.append(size_of[ident])
            return line + "\n%sfwrite(buf_%s, 1, %d, q8ref_dump_file);" % (m.group(1), ident, size_of[ident][1])
        return line
    new_body = re.sub(r"^(\s*)layer_(\w+)\([^;]*\);", inst, body, flags=re.M)
    text = text[:start] + new_body + text[end:]
    text = text.replace('#include "%s.h"' % base, '#include "%s.h"\n#include <stdio.h>\nextern FILE *q8ref_dump_file;' % base, 1)
    with open(os.path.join(workdir, base + ".c"), "w") as f:
        f.write(text)
    shutil.copy(hsrc, os.path.join(workdir, base + ".h"))
    with open(os.path.join(workdir, "drv.c"), "w") as f:
        f.write(DRIVER)
    up = net.upper()
    exe = os.path.join(workdir, "drv")
    cmd = ["gcc", "-std=c99", "-O1", "-I" + workdir, '-DNETH="%s.h"' % base, "-DP(x)=%s_##x" % up,
           "-DF(x)=%s_##x" % net, os.path.join(workdir, "drv.c"), os.path.join(workdir, base + ".c"),
           "-o", exe, "-lm"]
    subprocess.run(cmd, check=True)
    x = (pix.astype(np.float32) / np.float32(255)).astype("<f4")
    fin, fout, fdump = (os.path.join(workdir, s) for s in ("in.f32", "out.f32", "layers.i8"))
    x.tofile(fin)
    subprocess.run(["nice", exe, fin, fout, fdump, str(len(pix))], check=True)
    per = sum(sz for _, sz, _ in order)
    d = np.fromfile(fdump, dtype=np.int8).reshape(len(pix), per)
    layers, o = {}, 0
    for name, sz, shape in order:
        # the int8 buffers are channels last ([H][W][C], docs/quantize.md): back to [C][H][W]
        c = int(shape[0])
        layers[name] = d[:, o:o + sz].reshape(len(pix), sz // c, c).transpose(0, 2, 1).reshape(len(pix), sz).astype(I64)
        o += sz
    return layers, np.fromfile(fout, dtype="<f4").reshape(len(pix), -1)


# ---------------------------------------------------------------- main

VARIANTS = {
    "fold-f32": "batchnorm folded in float32 instead of double",
    "gap-m-order": "the global pool's multiplier as s_in / s_out / HW instead of s_in / (s_out * HW)",
    "input-f64": "the input quantized from a double division x / scale instead of a float32 one",
    "requant-half-away": "requantization rounding halves away from zero instead of toward +infinity",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", help="the .net file: its network name must be the model's, report's and checkpoint's")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--report", required=True, help="cnnc --quantize int8 ... --report=json")
    ap.add_argument("--pymodel", required=True, help="cnnc NET --emit pytorch -o model.py")
    ap.add_argument("--images", required=True, help="IDX images (.gz or not)")
    ap.add_argument("--outputs", help="the generated code's float32 outputs, image after image")
    ap.add_argument("--n", type=int, default=1000, help="the first N images (default 1000)")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--c-source", help="debugging aid: the generated .c, to compare every layer's integers")
    ap.add_argument("--keep-float", help="the output layer stays float (cnnc --keep-float LAYER)")
    ap.add_argument("--workdir", default="/tmp/q8ref", help="where --c-source builds its copy")
    ap.add_argument("--explain-images", type=int, default=100,
                    help="try the variants on at most this many images with differences (default 100)")
    ap.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS),
                    help="compute the reference with this variant (to test an explanation)")
    a = ap.parse_args()
    if not a.outputs and not a.c_source:
        ap.error("--outputs or --c-source")
    t0 = time.time()

    weights, meta = read_safetensors(a.weights)
    rep = json.load(open(a.report))["int8"]
    scales, names, inexact = {}, {}, []
    for L in rep["layers"]:
        s = float(L["scale"])
        s32 = np.float32(s)
        if float(s32) != s:
            # cJSON prints 15 digits when they read back to within a relative
            # DBL_EPSILON: the nearest float32 is then the scale cnnc chose
            if abs(float(s32) - s) > 4 * np.finfo(np.float64).eps * s:
                raise SystemExit("FAIL report: %s: scale %r is not a float32 value" % (L["name"], s))
            inexact.append(L["name"])
        scales[L["holds"]] = (s32, int(L["zero_point"]))
        for k in (L["name"], L["holds"]):
            names.setdefault(c_ident(k), k)
    if inexact:
        print("note: %d scales in the report are within 4 ulp of a float32 but not one (cJSON's 15 digits): "
              "their float32 is used (%s)" % (len(inexact), ", ".join(inexact)))
    pymod = load_pymodel(a.pymodel)
    import re
    names_seen = {"model.py": getattr(pymod, "NETWORK", None), "report": json.load(open(a.report)).get("network"),
                  "checkpoint": meta.get("network")}
    if a.net:
        m = re.search(r"^\s*network\s+(\w+)", open(a.net).read(), re.M)
        names_seen["net"] = m.group(1) if m else None
    if len({v for v in names_seen.values() if v is not None}) != 1:
        print("FAIL inputs: different networks: %r" % names_seen)
        return 1
    in_shape = tuple(pymod.INPUT_SHAPE)

    def layer_of_local(local):
        return names.get(local, local)

    def build(variant):
        nodes, out, _ = parse_forward(a.pymodel, pymod, layer_of_local)
        ops, out = plan(nodes, out, weights, variant)
        scales2 = dict(scales)
        scales2["input"] = scales[rep["layers"][0]["holds"]]
        return Ref(ops, out, scales2, meta, in_shape, variant, a.keep_float)

    ref = build(tuple(a.variant))
    # the structure cnnc planned (report) against the one derived here
    mine = sorted((n.layer, n.holds) for n in ref.ops if n.kind != "input")
    theirs = sorted((L["name"], L["holds"]) for L in rep["layers"][1:])
    if mine != theirs:
        print("FAIL structure: the layers derived here differ from the report's:")
        print("  here only:  ", sorted(set(mine) - set(theirs)))
        print("  report only:", sorted(set(theirs) - set(mine)))
        return 1
    for n in ref.ops:
        if n.kind == "maxpool":
            L = [L for L in rep["layers"] if L["holds"] == n.holds][0]
            if (np.float32(L["scale"]), L["zero_point"]) != ref.sc[n.id]:
                print("note: %s: the report's scale/zp %r/%d are not its input's %r/%d (the code uses the input's)"
                      % (n.layer, L["scale"], L["zero_point"], float(ref.sc[n.id][0]), ref.sc[n.id][1]))
    print("ok structure: %d int8 layers (%s), the same (layer, holds) pairs as the report's"
          % (len(mine), ", ".join(sorted({n.kind for n in ref.ops if n.kind != "input"}))))
    for s in ref.notes:
        print("note:", s)
    if any("overflow" in s or "left int32" in s or "saturates" in s for s in ref.notes):
        print("FAIL integer range: C's int32 arithmetic differs from the exact sums here")
        return 1

    imgs = read_idx_images(a.images, a.n)
    N = len(imgs)
    pix = imgs.reshape((N,) + in_shape)
    out_shape = tuple(pymod.OUTPUT_SHAPE)
    nout = int(np.prod(out_shape))

    # the reference, batch by batch
    q_ref = np.empty((N, nout), np.float32 if ref.keep is not None else I64)
    keep_layers = bool(a.c_source)
    ref_layers = {n.layer: [] for n in ref.ops} if keep_layers else None
    for i in range(0, N, a.batch):
        t, q = ref.run(pix[i:i + a.batch])
        q_ref[i:i + a.batch] = q.reshape(len(q), -1)
        if keep_layers:
            for n in ref.ops:
                ref_layers[n.layer].append(t[n.id].reshape(len(q), -1))
    t_ref = time.time() - t0
    print("coverage: exact ties (where the rounding rule decides; of a negative value) over the %d images: %s"
          % (N, ", ".join("%s %d (%d)" % (k, v[0], v[1]) for k, v in sorted(ref.ties.items()))))
    if ref.keep is not None:         # the output layer kept float: its floats, within the sums' order
        y_c = np.fromfile(a.outputs, dtype="<f4")[:N * nout].reshape(-1, nout)
        if y_c.shape != (N, nout):
            print("FAIL outputs: %s values, expected %d images x %d" % (y_c.shape, N, nout))
            return 1
        tol = 1e-6 * float(np.abs(q_ref).max())
        d = float(np.abs(y_c.astype(np.float64) - q_ref).max())
        same = float((y_c.argmax(1) == q_ref.argmax(1)).mean())
        print("%s outputs (%s kept float): %d images x %d outputs, largest difference %.3g (tolerance %.3g, "
              "1e-6 of the largest output); the same top class for %.2f%% of the images"
              % ("ok" if d <= tol else "FAIL", a.keep_float, N, nout, d, tol, 100 * same))
        return 0 if d <= tol else 1
    y_ref = ref.dequantize(q_ref)
    s_out, zp_out = ref.sc[ref.out]
    status = 0

    def compare(y_c, what):
        nonlocal status
        if y_c.shape != (N, nout):
            print("FAIL %s: %s values, expected %d images x %d" % (what, y_c.shape, N, nout))
            status = 1
            return None
        q_c = np.rint(y_c.astype(np.float64) / float(s_out)).astype(I64) + zp_out
        # the recovery is exact: dequantizing it again gives the C's floats bit for bit
        back = (q_c - zp_out).astype(np.float32) * np.float32(s_out)
        if not np.array_equal(back.view(np.int32), y_c.view(np.int32)) or q_c.min() < -128 or q_c.max() > 127:
            print("FAIL %s: the outputs are not (q - zp) * scale of int8 q (scale %r, zp %d)"
                  % (what, float(s_out), zp_out))
            status = 1
            return None
        d = q_c - q_ref
        bad = d != 0
        if not bad.any():
            same = np.array_equal(y_ref.view(np.int32), y_c.view(np.int32))
            print("ok %s: %d images x %d outputs, every int8 output equals the reference's%s"
                  % (what, N, nout, "; the float outputs are bit-identical" if same else ""))
            if not same:
                print("FAIL %s: equal integers but different floats" % what)
                status = 1
            return q_c
        imgs_bad = np.nonzero(bad.any(axis=1))[0]
        md = int(np.abs(d).max())
        print("%s %s: %d of %d output values differ (largest %d LSB), in %d of %d images (%.2f%%)"
              % ("FAIL" if md > 1 else "MISMATCH", what, int(bad.sum()), bad.size, md, len(imgs_bad), N,
                 100.0 * len(imgs_bad) / N))
        if md > 1:
            status = 1
        # explanations: a variant of the reference that reproduces the C's integers there
        unexplained = bad.copy()
        imgs_bad = imgs_bad[:a.explain_images]     # the variants are tried on these (time)
        if len(imgs_bad) < len(np.nonzero(bad.any(axis=1))[0]):
            print("  (variants tried on the first %d images with differences only)" % len(imgs_bad))
        sub = pix[imgs_bad]
        for v in sorted(VARIANTS):
            # toggle one variant: add it, or take it away when --variant gave it
            vs = tuple(x for x in a.variant if x != v) if v in a.variant else tuple(a.variant) + (v,)
            rv = build(vs)
            qv = np.concatenate([rv.run(sub[j:j + a.batch])[1].reshape(-1, nout) for j in range(0, len(sub), a.batch)])
            fixed = (qv == q_c[imgs_bad]) & bad[imgs_bad]
            newbad = (qv != q_c[imgs_bad]) & ~bad[imgs_bad]
            if fixed.any():
                print("  %d of them (%d images) are what the reference gives %s %s (%s)%s"
                      % (int(fixed.sum()), int(fixed.any(axis=1).sum()),
                         "without" if v in a.variant else "with", v, VARIANTS[v],
                         "; but that variant differs elsewhere on %d values" % int(newbad.sum()) if newbad.any() else ""))
                if not newbad.any():
                    unexplained[imgs_bad] &= ~fixed
        if unexplained.any():
            print("FAIL %s: %d differing values that no variant explains (first image %d)"
                  % (what, int(unexplained.sum()), int(np.nonzero(unexplained.any(axis=1))[0][0])))
            status = 1
        else:
            print("explained %s: every difference is a variant above" % what)
        return q_c

    if a.outputs:
        y_c = np.fromfile(a.outputs, dtype="<f4")
        if y_c.size < N * nout:
            print("FAIL outputs: %s holds %d values, fewer than %d images x %d" % (a.outputs, y_c.size, N, nout))
            return 1
        compare(y_c[:N * nout].reshape(N, nout), "outputs")
    if a.c_source:
        os.makedirs(a.workdir, exist_ok=True)
        wd = tempfile.mkdtemp(prefix="instr-", dir=a.workdir)
        layers_c, y_c2 = run_instrumented(a.c_source, ref, pix, wd)
        compare(y_c2.reshape(N, -1), "outputs of the instrumented copy")
        first = None
        for n in ref.ops:
            if n.layer not in layers_c:
                continue
            r = np.concatenate(ref_layers[n.layer])
            c = layers_c[n.layer]
            d = np.abs(c - r)
            if d.max() == 0:
                print("ok layer %-22s %-7s %9d values x %d images equal" % (n.layer, n.kind, r.shape[1], N))
            else:
                print("%s layer %-22s %-7s %d of %d values differ (largest %d LSB) in %d images"
                      % ("FAIL" if d.max() > 1 else "MISMATCH", n.layer, n.kind, int((d > 0).sum()), d.size,
                         int(d.max()), int((d > 0).any(axis=1).sum())))
                first = first or n.layer
                status = 1
        missing = [n.layer for n in ref.ops if n.layer not in layers_c]
        print("  (layers not dumped by the instrumented copy: %s)" % (", ".join(missing) or "none"))
        if first:
            print("  first differing layer: %s" % first)
        else:
            shutil.rmtree(wd)
    print("time: reference %.1f s for %d images, total %.1f s" % (t_ref, N, time.time() - t0))
    return status


if __name__ == "__main__":
    sys.exit(main())
