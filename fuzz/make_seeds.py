#!/usr/bin/python3
"""Write the seed corpora of the reader targets into fuzz/seeds/ (checked in;
run again only when a fuzz network changes):

  safetensors/  weights for fuzz_safetensors.c's network: valid ones and
                near misses (wrong dtype, a missing tensor, a prefix, ...)
  idx/          small IDX images and labels, plain and gzipped
  checkpoint/   checkpoints of fuzz_checkpoint.c's network, written by
                cnnc-train itself (give the build folder: BUILD/cnnc-train)
                and by hand
  trainopts/    cnnc-train command lines, one word per line: valid ones and
                one refused value of each numeric option
  onnx/         small models exported by torch.onnx.export (fuzz_onnx.c),
                tests/ref/onnx_ref.py's UpDown and UpDown1d among them;
                `make_seeds.py BUILD onnx` writes only these

    fuzz/make_seeds.py [BUILD]
"""
import gzip
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"

# the networks of fuzz_safetensors.c and fuzz_checkpoint.c (keep in step)
NET_WEIGHTS = """network fz input 2x5x5
conv c1 3 k3 p1
batchnorm bn1
relu
conv c2 4 k3 nobias
groupnorm gn 2
flatten
dense fc 3
"""
NET_CKPT = """network fz input 1x6x6
conv c1 2 k3
batchnorm bn1
relu
maxpool k2 s2
flatten
dense fc 3
"""
W_SHAPES = {"c1.weight": [3, 2, 3, 3], "c1.bias": [3], "bn1.weight": [3], "bn1.bias": [3],
            "bn1.running_mean": [3], "bn1.running_var": [3], "c2.weight": [4, 3, 3, 3],
            "gn.weight": [4], "gn.bias": [4], "fc.weight": [3, 36], "fc.bias": [3]}
C_SHAPES = {"c1.weight": [2, 1, 3, 3], "c1.bias": [2], "bn1.weight": [2], "bn1.bias": [2],
            "bn1.running_mean": [2], "bn1.running_var": [2], "fc.weight": [3, 8], "fc.bias": [3]}
SIZES = {"F32": 4, "F16": 2, "I64": 8, "U8": 1}

rng = random.Random(5)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def st_bytes(tensors, meta=None):
    """tensors: {name: (dtype, shape)} with random data; safetensors bytes."""
    hdr, data = {}, b""
    for name in sorted(tensors):
        dt, shape = tensors[name]
        raw = bytes(rng.randrange(256) for _ in range(numel(shape) * SIZES[dt]))
        if dt == "F32":
            raw = struct.pack("<%df" % numel(shape), *[rng.uniform(0.1 if name.endswith("running_var") else -1, 1)
                                                      for _ in range(numel(shape))])
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None:
        hdr["__metadata__"] = meta
    js = json.dumps(hdr, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + data


def write(folder, name, b):
    os.makedirs(os.path.join(SEEDS, folder), exist_ok=True)
    with open(os.path.join(SEEDS, folder, name), "wb") as f:
        f.write(b)


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def main():
    f32 = lambda shapes: {k: ("F32", v) for k, v in shapes.items()}
    # safetensors
    w = f32(W_SHAPES)
    write("safetensors", "valid", st_bytes(w))
    write("safetensors", "valid_meta", st_bytes(dict(w, **{"bn1.num_batches_tracked": ("I64", [])}),
                                                {"normalize": "0.5,0.25", "format": "pt"}))
    write("safetensors", "f16", st_bytes(dict(w, **{"fc.bias": ("F16", [3])})))
    write("safetensors", "missing", st_bytes({k: v for k, v in w.items() if k != "gn.bias"}))
    write("safetensors", "prefix", st_bytes({"module." + k: v for k, v in w.items()}))
    write("safetensors", "wrong_shape", st_bytes(dict(w, **{"c2.weight": ("F32", [4, 3, 1, 1])})))
    write("safetensors", "truncated", st_bytes(w)[:-40])
    # idx
    pix = bytes(rng.randrange(256) for _ in range(3 * 4 * 5))
    write("idx", "images", idx([3, 4, 5], pix))
    write("idx", "labels", idx([6], bytes([1, 0, 9, 3, 12, 7])))
    write("idx", "empty_images", idx([0, 28, 28], b""))
    write("idx", "images_gz", gzip.compress(idx([2, 2, 2], pix[:8]), mtime=0))
    write("idx", "labels_gz", gzip.compress(idx([4], bytes([0, 1, 2, 3])), mtime=0))
    write("idx", "trailing", idx([2], bytes([1, 2, 3])))
    # checkpoints by hand: weights only, and with Adam state
    c = f32(C_SHAPES)
    write("checkpoint", "weights", st_bytes(c, {"network": "fz"}))
    optim = dict(c)
    for k, v in C_SHAPES.items():
        if "running" not in k:
            optim["__optim__.m." + k] = ("F32", v)
            optim["__optim__.v." + k] = ("F32", v)
    write("checkpoint", "adam_hand", st_bytes(optim, {"network": "fz", "step": "4", "optimizer": "adam",
                                                      "rng": "0123456789abcdef,0000000000000001"}))
    # and by cnnc-train, on a made-up 6x6 dataset
    train = os.path.join(BUILD, "cnnc-train")
    if os.access(train, os.X_OK):
        with tempfile.TemporaryDirectory() as t:
            for split, n in (("train", 8), ("t10k", 4)):
                with open(os.path.join(t, split + "-images-idx3-ubyte"), "wb") as f:
                    f.write(idx([n, 6, 6], bytes(rng.randrange(256) for _ in range(n * 36))))
                with open(os.path.join(t, split + "-labels-idx1-ubyte"), "wb") as f:
                    f.write(idx([n], bytes(rng.randrange(3) for _ in range(n))))
            with open(os.path.join(t, "fz.net"), "w") as f:
                f.write(NET_CKPT)
            for opt in ("adam", "sgd"):
                out = os.path.join(t, opt + ".st")
                subprocess.run([train, os.path.join(t, "fz.net"), "--data", t, "--save", out, "--batch", "4",
                                "--epochs", "1", "--opt", opt, "--quiet", "--normalize", "auto"], check=True)
                with open(out, "rb") as f:
                    write("checkpoint", "trained_" + opt, f.read())
    else:
        print("make_seeds: no %s; trained checkpoints not written" % train, file=sys.stderr)
    # command lines of cnnc-train (fuzz_trainopts.c)
    base = ["m.net", "--data", "d", "--save", "x.st"]
    valid = {
        "minimal": [],
        "adam": ["--epochs", "3", "--batch", "32", "--opt", "adam", "--lr", "1e-3", "--beta1", "0.8",
                 "--beta2", "0.99", "--eps", "1e-7", "--normalize", "auto", "--seed", "42", "--quiet"],
        "sgd_cosine": ["--opt=nesterov", "--momentum", "0.9", "--weight-decay", "5e-4", "--schedule", "cosine",
                       "--warmup", "100", "--min-lr", "1e-5", "--lr", "0.1", "--threads", "2"],
        "step": ["--schedule", "step", "--step-size", "10", "--gamma", "0.5", "--label-smoothing", "0.1",
                 "--normalize", "0.2860,0.3530", "--limit-train", "256", "--limit-test", "100"],
        "resume": ["--epochs", "0", "--resume", "x.st", "--log", "-", "--plot", "p.svg", "--", "-"],
        "help": ["--help"],
        "version": ["--version"],
    }
    invalid = {
        "lr_inf": ["--lr", "inf"], "lr_zero": ["--lr", "0"], "momentum_one": ["--momentum", "1"],
        "beta1_nan": ["--beta1", "nan"], "beta2_neg": ["--beta2", "-0.1"], "eps_zero": ["--eps", "0"],
        "wd_neg": ["--weight-decay", "-1"], "gamma_zero": ["--gamma", "0"],
        "min_lr_cosine": ["--schedule", "cosine", "--min-lr", "1"], "smoothing_one": ["--label-smoothing", "1"],
        "normalize_inf": ["--normalize", "0.5,inf"], "normalize_nan": ["--normalize", "nan,1"],
        "normalize_std0": ["--normalize", "0.5,0"], "epochs_overflow": ["--epochs", "99999999999999999999"],
        "batch_exp": ["--batch", "1e3"], "limit_train_zero": ["--limit-train", "0"],
        "limit_test_zero": ["--limit-test", "0"], "seed_neg": ["--seed", "-1"], "opt_bad": ["--opt", "lion"],
        "nesterov_zero": ["--opt", "nesterov", "--momentum", "0"], "unknown": ["--lrr", "1"],
        "ambiguous": ["--limit", "3"], "missing_arg": ["--lr"], "flag_arg": ["--quiet=yes"],
        "log_is_save": ["--log", "x.st"], "two_nets": ["n2.net"],
    }
    for name, words in valid.items():
        write("trainopts", "ok_" + name, "\n".join(base + words).encode() + b"\n")
    for name, words in invalid.items():
        write("trainopts", "bad_" + name, "\n".join(base + words).encode() + b"\n")
    write("trainopts", "nul_separated", b"\0".join(w.encode() for w in base + ["--epochs", "2"]))
    write("trainopts", "empty", b"")


def onnx_seeds():
    """onnx/: small models torch.onnx.export writes, most operators the
    importer reads, at opsets 11 and 17 (batch norms kept and folded), and
    one with a dynamic pad and a slice (operators it refuses)"""
    import io
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(2, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.se1 = nn.Conv2d(4, 2, 1)
            self.se2 = nn.Conv2d(2, 4, 1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=(1, 0), groups=2)
            self.fc = nn.Linear(4 * 2 * 2, 3)

        def forward(self, x):
            x = F.relu6(self.bn(self.c1(x)))
            g = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(x, 1)))))
            x = x * g
            x = x + F.leaky_relu(F.pad(self.c2(x), (1, 1, 0, 0)), 0.2)
            x = torch.cat([F.max_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(x, 3, 2, 1)], 1)[:, :4]
            return F.softmax(self.fc(torch.flatten(F.avg_pool2d(x, 2), 1)), 1)

    class Plain(Small):           # Small without the dynamic pad and slice: every node imports
        def __init__(self):
            super().__init__()
            self.c2 = nn.Conv2d(4, 4, 3, padding=1, groups=2)
            self.fc = nn.Linear(8 * 2 * 2, 3)

        def forward(self, x):
            x = F.relu6(self.bn(self.c1(x)))
            g = F.hardsigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(x, 1)))))
            x = x * g
            x = x + F.leaky_relu(self.c2(x), 0.2)
            x = torch.cat([F.max_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(x, 3, 2, 1)], 1)
            return F.softmax(self.fc(torch.flatten(F.avg_pool2d(x, 2), 1)), 1)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(2 * 4 * 4, 2)

        def forward(self, x):
            return self.fc(torch.flatten(torch.sigmoid(self.c(x)), 1))

    class Acts(nn.Module):        # PReLU, the decomposed activations, a mean of three
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 4, 3, padding=1)
            self.p = nn.PReLU(4)

        def forward(self, x):
            x = self.p(self.c(x))
            y = (F.silu(x) + F.mish(x) + F.gelu(x, approximate="tanh")) / 3
            return F.softplus(y, beta=2.0).flatten(1)

    sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
    import onnx_ref              # UpDown, UpDown1d: transposed convs, upsampling, splits, shuffles

    torch.manual_seed(1)
    for name, model, shape in (("updown", onnx_ref.UpDown(17), (1, 2, 5, 7)),
                               ("updown1d", onnx_ref.UpDown1d(17), (1, 2, 11)),
                               ("updown9", onnx_ref.UpDown(9), (1, 2, 5, 7))):
        f = io.BytesIO()
        opset = 9 if name == "updown9" else 17
        torch.onnx.export(model.eval(), torch.randn(*shape), f, opset_version=opset)
        write("onnx", "%s_%d" % (name.rstrip("9"), opset), f.getvalue())
    torch.manual_seed(1)
    for name, model, shape in (("dynamic", Small(), (1, 2, 9, 9)), ("small", Plain(), (1, 2, 9, 9)),
                               ("tiny", Tiny(), (1, 1, 6, 6)), ("acts", Acts(), (1, 2, 5, 5))):
        for opset in (11, 17):
            for folded in (False, True):
                f = io.BytesIO()
                kw = {} if folded else {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
                try:
                    torch.onnx.export(model.eval(), torch.randn(*shape), f, opset_version=opset, **kw)
                except Exception as e:      # an operator this opset lacks: no seed
                    print("onnx seed %s/%d: %s" % (name, opset, e))
                    continue
                write("onnx", "%s_%d%s" % (name, opset, "_folded" if folded else ""), f.getvalue())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "onnx":
        onnx_seeds()
    else:
        main()
        onnx_seeds()
