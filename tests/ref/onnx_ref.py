#!/usr/bin/python3
"""Models exported to ONNX by PyTorch, for tests/import/suite_import_onnx.sh.

usage: onnx_ref.py export NAME OPSET DIR [folded]
           DIR/NAME.onnx from tests/ref/torchvision_ref.py's NAME (the
           hand-written models, or torchvision's), its weights randomised
           (fixed seed: every float tensor of the state dict, batch norm
           statistics away from 0 and 1) and exported in eval mode with
           torch.onnx.export at OPSET; the batch norms kept as
           BatchNormalization nodes, or with `folded` left to the exporter
           (which folds them into the convs); DIR/in.bin: 2 random inputs,
           DIR/ref.bin: the model's outputs on them (float32, PyTorch)
       onnx_ref.py roundtrip EXPORT.py OPSET DIR
           the same from the nn.Module `cnnc --emit pytorch` wrote (its
           INPUT_SHAPE), exported as DIR/rt.onnx, and its state dict saved
           as DIR/w.safetensors (for the .net it came from)
       onnx_ref.py updown OPSET DIR [1d]
           the same for UpDown below (transposed convs, nearest and
           bilinear upsampling), exported as DIR/updown.onnx at OPSET (9:
           nearest only, as opset 9's Upsample is not PyTorch's bilinear);
           1d: UpDown1d, its signal counterpart
       onnx_ref.py check DIR
           DIR/out.bin (the generated code's outputs) against DIR/ref.bin:
           max |out − ref| / max |ref| ≤ 1e-4
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torchvision_ref       # noqa: E402

SEED = 20261207
N = 2
TOL = 1e-4


def randomise(model):
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)       # variances, norm scales
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            else:                                                     # conv and dense weights
                fan = t[0].numel() if t.dim() > 1 else 1
                t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * (3.0 / fan) ** 0.5)


def save_io(model, x, d):
    """DIR/in.bin: the inputs x, DIR/ref.bin: the model's outputs on them (float32)"""
    with torch.no_grad():
        y = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(d, "in.bin"))
    y.numpy().astype("<f4").tofile(os.path.join(d, "ref.bin"))


def export(name, opset, d, folded):
    model, shape = torchvision_ref.build(name)
    model.eval()
    randomise(model)
    x = torch.randn((N,) + tuple(shape), generator=torch.Generator().manual_seed(SEED + 1))
    kw = {} if folded else {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    torch.onnx.export(model, x[:1], os.path.join(d, name + ".onnx"), opset_version=opset,
                      input_names=["input"], output_names=["output"], **kw)
    save_io(model, x, d)


def roundtrip(py, opset, d):
    import importlib.util
    import st
    spec = importlib.util.spec_from_file_location("exported", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.Model().eval()
    randomise(model)
    x = torch.randn((N,) + tuple(mod.INPUT_SHAPE), generator=torch.Generator().manual_seed(SEED + 1))
    torch.onnx.export(model, x[:1], os.path.join(d, "rt.onnx"), opset_version=opset, input_names=["input"],
                      output_names=["output"], training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    st.save({k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")},
            os.path.join(d, "w.safetensors"))
    save_io(model, x, d)


class UpDown(torch.nn.Module):
    """ConvTranspose2d (stride 2, output_padding; groups, a kernel and
    stride per axis) and nn.Upsample / F.interpolate: nearest by a factor
    and to a size, bilinear with align_corners False and True (opset 9:
    only nearest by a factor); before them a channel split (chunk, and
    slices), GELU and two channel shuffles as the exporter writes them."""
    def __init__(self, opset):
        super().__init__()
        nn = torch.nn
        self.opset = opset
        self.c = nn.Conv2d(2, 6, 3, padding=1)
        self.t1 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.t2 = nn.ConvTranspose2d(6, 4, (2, 3), stride=(2, 1), padding=(0, 1), output_padding=(1, 0), groups=2)

    def forward(self, x):
        F = torch.nn.functional
        x = self.c(x)                                                        # 6×5×7
        n, c, h, w = x.shape
        a, b = x.chunk(2, dim=1)                                             # Split
        x = torch.cat([b, F.gelu(a)], 1)                                     # GELU: Div, Erf, Add, Mul, Mul
        x = x.view(n, 3, c // 3, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)   # torchvision's shuffle
        x = torch.cat([x[:, 3:], F.relu(x[:, :3]), x[:, 2:4]], 1)           # Slices (halves, a third): 8×5×7
        x = torch.flatten(x.reshape(n, 2, 4, h, w).transpose(1, 2), 1, 2)   # a shuffle of 2 groups
        x = self.t1(x)                                                       # 6×10×14
        x = self.up(x)                                                       # 6×20×28
        if self.opset > 9:
            x = F.interpolate(x, size=(13, 17), mode="bilinear", align_corners=False)
            x = F.interpolate(x, scale_factor=(1, 2), mode="bilinear", align_corners=True)
            x = F.interpolate(x, size=(21, 30), mode="bilinear", align_corners=True)
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = F.interpolate(x, size=(23, 37), mode="nearest")
        return torch.tanh(self.t2(x))


class UpDown1d(torch.nn.Module):
    """UpDown's layers for a signal [N, C, L]: Conv1d, a channel split, GELU,
    a channel shuffle, ConvTranspose1d (stride 2, output_padding), padding,
    pooling, upsampling nearest and linear (align_corners either way)."""
    def __init__(self, opset):
        super().__init__()
        nn = torch.nn
        self.opset = opset
        self.c = nn.Conv1d(2, 6, 3, padding=1)
        self.t1 = nn.ConvTranspose1d(6, 6, 3, stride=2, padding=1, output_padding=1)
        self.t2 = nn.ConvTranspose1d(6, 4, 4, stride=3, output_padding=2, groups=2, dilation=2)

    def forward(self, x):
        F = torch.nn.functional
        x = self.c(x)                                                        # 6×11
        n, c, l = x.shape
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, F.gelu(a)], 1)
        x = x.view(n, 3, c // 3, l).transpose(1, 2).contiguous().view(n, -1, l)
        x = F.max_pool1d(F.pad(self.t1(x), (1, 2), mode="reflect"), 3, 2)  # 6×22 → 6×25 → 6×12
        x = F.interpolate(x, scale_factor=2, mode="nearest")                # 6×24
        if self.opset > 9:
            x = F.interpolate(x, size=31, mode="linear", align_corners=False)
            x = F.interpolate(x, scale_factor=2, mode="linear", align_corners=True)
        return F.avg_pool1d(torch.tanh(self.t2(x)), 2)


def updown(opset, d, one_d):
    model = (UpDown1d if one_d else UpDown)(opset).eval()
    randomise(model)
    x = torch.randn((N, 2, 11) if one_d else (N, 2, 5, 7), generator=torch.Generator().manual_seed(SEED + 1))
    torch.onnx.export(model, x[:1], os.path.join(d, "updown.onnx"), opset_version=opset, input_names=["input"],
                      output_names=["output"], training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    save_io(model, x, d)


def check(d):
    ref = np.fromfile(os.path.join(d, "ref.bin"), dtype="<f4").astype(np.float64)
    out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f4").astype(np.float64)
    if out.shape != ref.shape:
        print("the generated code wrote %d values, PyTorch %d" % (out.size, ref.size))
        return 1
    e = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
    print("outputs against PyTorch's: max error %.1e of max |ref| (tolerance %.0e)" % (e, TOL))
    return 0 if e <= TOL else 1


def main(argv):
    if len(argv) >= 5 and argv[1] == "export":
        import warnings
        warnings.simplefilter("ignore")
        export(argv[2], int(argv[3]), argv[4], len(argv) > 5 and argv[5] == "folded")
        return 0
    if len(argv) == 5 and argv[1] == "roundtrip":
        import warnings
        warnings.simplefilter("ignore")
        roundtrip(argv[2], int(argv[3]), argv[4])
        return 0
    if len(argv) in (4, 5) and argv[1] == "updown":
        import warnings
        warnings.simplefilter("ignore")
        updown(int(argv[2]), argv[3], len(argv) == 5 and argv[4] == "1d")
        return 0
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
