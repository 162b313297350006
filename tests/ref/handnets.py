#!/usr/bin/python3
"""Networks written twice, in the .net language and by hand in PyTorch:
cnnc's generated C, cnnc-train and --emit pytorch against PyTorch.

usage: handnets.py gen NAME DIR           write DIR/NAME.net and DIR/data/
       handnets.py infer NAME DIR         write DIR/in.bin (3 random images) and
                                          DIR/ref.bin, the logits from DIR/run.st
       handnets.py infer-check NAME DIR   compare DIR/out.bin with DIR/ref.bin
       handnets.py train-check NAME DIR   compare DIR/run.st.csv and DIR/run.st
                                          with PyTorch, from DIR/init.st
       handnets.py export-check NAME DIR  DIR/export.py (cnnc --emit pytorch)
                                          with DIR/run.st against the hand-
                                          written network

NAME is one of NETS below, each a .net text and its forward() written with
torch.nn.functional by hand, not from cnnc's output:
  acts     every activation of runtime/cnnrt_acts.def, as a layer of its own
           (some with parameters away from their defaults) and fused on a
           conv or dense line, in parallel branches of a concat over a
           shared stem (one short path per branch, so every parameter gets
           a gradient float32 can see): after a conv without an activation,
           a layer is fused into the conv's loop by cnnc's inference passes;
           a silu, hardswish, gelu, mish, softplus or leaky relu with a
           negative slope written on a conv or dense line trains as an op of
           its own (its backward needs its input);
  shuffle  two ShuffleNet v2 units (stride 1): split the channels in half,
           one half through 1×1, depthwise 3×3 and 1×1 convs, concat, then
           channel shuffle (2 groups, then 4), as torchvision's
           InvertedResidual without its batch norms;
  se       squeeze-and-excitation (scale { ... }) as torchvision's MobileNet
           v3 has it, a C×1×1 gate broadcast over H×W, and a gate of the
           input's shape;
  merges   the elementwise merges (merge sub, mean, add, mul; a branch
           subtracted from itself);
  prelu    learned slopes: one (fused into a conv and into an add at
           inference), one per channel, one per feature of a vector, with
           nn.PReLU's initial values;
  sig, vol the layers of a signal and of a volume, PyTorch's 1d and 3d ones;
  dw, dwsig  depthwise convs (cnnc's CONV_DW) of an image and of a signal:
           MobileNet's (3×3 stride 1 and 2, padding 1, no bias, batch norm
           folded, relu6 fused), channel multiplier 2, stride 2 on odd sizes,
           stride 1×2 and 3, 5×5 stride 2, dilation 2, padding larger than
           the kernel, an even kernel with 'same' padding, with and without
           bias, relu6, tanh or no activation; rows of 45 (row by row, three
           blocks) and of 23 and less (blocks of rows as one run), 8 and 16
           channels (over 20000 outputs: threads with OpenMP);
  ecg1d, volume3d  dsl_examples/ecg1d.net and volume3d.net;
  unet_small  dsl_examples/unet_small.net on 1×64×64, and a dense layer
           from all its per-pixel logits to 4 classes for the trainer;
  unet     a small U-Net: two stages down, two up with skips (one up by a
           transposed conv with output_padding, one by bilinear upsampling
           with align_corners), then a transposed conv with dilation and
           groups, nearest upsampling, and bilinear to a size that is not a
           multiple; padding reflect, replicate and zeros, asymmetric.

The suite (tests/e2e/suite_handnets.sh) writes the initial weights with
cnnc-train --epochs 0 (DIR/init.st), then trains 3 epochs of one step
(--batch 16, the whole training set) with SGD.  Checked:
  infer-check   the generated code's logits on 3 random images (normal,
                fixed seed): max |c − ref| / max |ref| ≤ 1e-4, against
                forward() in float64;
  train-check   the 3 step losses (first ≤ 1e-5 relative, then ≤ 1e-4), the
                parameters after them (‖p_c − p_t‖/‖p_t‖ ≤ 1e-4) and what
                the steps changed, per tensor (≤ 1e-3, or twice PyTorch's
                own float32 error where that is larger: see train_check),
                PyTorch in float64 with torch.optim.SGD and the mean
                cross-entropy;
  export-check  cnnc's nn.Module loads run.st (strict) and its output
                equals forward()'s within 1e-6 (both float64).
Prints one line per check ("ok" or "FAIL"), exits 1 when anything failed.
"""
import importlib.util
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st                    # noqa: E402
from idxio import read_idx, write_idx  # noqa: E402

SEED = 20261206
N_TRAIN, N_TEST, CLASSES = 16, 8, 4
H, W = 8, 8                          # the images' size: each network's (main)
INPUT = (1, 8, 8)                    # the input's sizes, H·W values: each network's
TRAINING = True                      # batch norm's mode (bn)
LR, STEPS = 0.1, 3                   # LR: each network's (main; LRS)
LRS = {"unet_small": 0.03}           # its 8192-wide dense diverges at 0.1
TOL_LOSS0, TOL_LOSS, TOL_PARAM, TOL_DELTA, TOL_INFER, TOL_EXPORT = 1e-5, 1e-4, 1e-4, 1e-3, 1e-4, 1e-6

# (branch, conv line's extra words, conv's act, layer line after it or None)
BRANCHES = [
    ("b1", "k1 silu", None, "relu6 r"),
    ("b2", "k3 p1 hardswish", None, "hardtanh h -0.8 1.2"),
    ("b3", "k1 elu", None, "gelu g"),
    ("b4", "k1", None, "gelu_tanh g"),
    ("b5", "k1 mish", None, "hardsigmoid h"),
    ("b6", "k1", None, "selu s"),
    ("b7", "k1 softplus", None, "elu e 0.6"),
    ("b8", "k1 leakyrelu slope=-0.2", None, "softplus s 2 5"),
    ("b9", "k1", None, "mish m"),
    ("b10", "k1 gelu", None, "silu s"),
    ("b11", "k1 relu6", None, "hardswish h"),
    ("b12", "k1 gelu_tanh", None, "tanh t"),
    ("b13", "k1 hardtanh", None, "sigmoid s"),
    ("b14", "k1 selu", None, "leakyrelu l 0.3"),
    ("b15", "k1 hardsigmoid", None, None),
]

ACTS = ("# acts — every activation, as a layer and fused (tests/ref/handnets.py)\n"
       "network acts input 1x8x8\n"
       "conv stem 4 k3 p1\n"
       "concat mix {\n" +
       "".join("    seq %s { conv c 3 %s%s }\n" % (b, conv, "; " + layer if layer else "")
               for b, conv, _, layer in BRANCHES) +
       "}\n"
       "avgpool k2 s2\n"
       "flatten\n"
       "dense d1 12 softplus\n"
       "relu r1\n"
       "dense out 4\n")

# each branch by hand: its conv (padding), then what the .net line says
BRANCH_FN = {
    "b1": (0, lambda x: F.relu6(F.silu(x))),
    "b2": (1, lambda x: F.hardtanh(F.hardswish(x), -0.8, 1.2)),
    "b3": (0, lambda x: F.gelu(F.elu(x))),
    "b4": (0, lambda x: F.gelu(x, approximate="tanh")),
    "b5": (0, lambda x: F.hardsigmoid(F.mish(x))),
    "b6": (0, lambda x: F.selu(x)),
    "b7": (0, lambda x: F.elu(F.softplus(x), 0.6)),
    "b8": (0, lambda x: F.softplus(F.leaky_relu(x, -0.2), 2, 5)),
    "b9": (0, lambda x: F.mish(x)),
    "b10": (0, lambda x: F.silu(F.gelu(x))),
    "b11": (0, lambda x: F.hardswish(F.relu6(x))),
    "b12": (0, lambda x: torch.tanh(F.gelu(x, approximate="tanh"))),
    "b13": (0, lambda x: torch.sigmoid(F.hardtanh(x))),
    "b14": (0, lambda x: F.leaky_relu(F.selu(x), 0.3)),
    "b15": (0, lambda x: F.hardsigmoid(x)),
}


def acts(p, x):
    """The logits of ACTS, from parameters p by name."""
    x = F.conv2d(x, p["stem.weight"], p["stem.bias"], padding=1)
    outs = []
    for b, _, _, _ in BRANCHES:
        pad, f = BRANCH_FN[b]
        outs.append(f(F.conv2d(x, p["mix.%s.c.weight" % b], p["mix.%s.c.bias" % b], padding=pad)))
    x = torch.flatten(F.avg_pool2d(torch.cat(outs, 1), 2, 2), 1)
    x = F.relu(F.softplus(F.linear(x, p["d1.weight"], p["d1.bias"])))
    return F.linear(x, p["out.weight"], p["out.bias"])


SHUFFLE = """# shuffle — two ShuffleNet v2 units (tests/ref/handnets.py)
network shuffle input 1x8x8
conv stem 8 k3 p1 relu
concat u1 {
    split a 1
    seq b { split s 2; conv c1 4 k1 relu; conv dw 4 k3 p1 g4; conv c2 4 k1 relu }
}
shuffle sh1 2
concat u2 {
    split a 1
    seq b { split s 2; conv c1 4 k1 relu; conv dw 4 k3 p1 g4; conv c2 4 k1 relu }
}
shuffle sh2 4
globalavgpool
flatten
dense out 4
"""


def channel_shuffle(x, groups):
    """torchvision.models.shufflenetv2.channel_shuffle"""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


def shuffle(p, x):
    """The logits of SHUFFLE, from parameters p by name."""
    def conv(x, name, pad=0, groups=1):
        return F.conv2d(x, p[name + ".weight"], p[name + ".bias"], padding=pad, groups=groups)
    x = F.relu(conv(x, "stem", 1))
    for u, g in (("u1", 2), ("u2", 4)):
        x1, x2 = x.chunk(2, dim=1)
        b = F.relu(conv(x2, u + ".b.c1"))
        b = conv(b, u + ".b.dw", 1, 4)
        b = F.relu(conv(b, u + ".b.c2"))
        x = channel_shuffle(torch.cat((x1, b), dim=1), g)
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return F.linear(x, p["out.weight"], p["out.bias"])


SE = """# se — squeeze-and-excitation as MobileNet v3 has it (tests/ref/handnets.py)
network se input 1x8x8
conv stem 8 k3 p1 hardswish
conv dw 8 k3 p1 g8 relu
scale se {
    globalavgpool
    conv fc1 4 k1 relu
    conv fc2 8 k1 hardsigmoid
}
conv proj 8 k1
scale gate { conv g 8 k1 sigmoid }
globalavgpool
flatten
dense out 4
"""


def se(p, x):
    """The logits of SE, from parameters p by name: torchvision's
    SqueezeExcitation (avgpool, fc1, relu, fc2, hardsigmoid; x · scale), and
    an elementwise gate of the input's shape."""
    def conv(x, name, pad=0, groups=1):
        return F.conv2d(x, p[name + ".weight"], p[name + ".bias"], padding=pad, groups=groups)
    x = F.hardswish(conv(x, "stem", 1))
    x = F.relu(conv(x, "dw", 1, 8))
    s = F.adaptive_avg_pool2d(x, 1)
    s = F.hardsigmoid(conv(F.relu(conv(s, "se.fc1")), "se.fc2"))
    x = x * s
    x = conv(x, "proj")
    x = x * torch.sigmoid(conv(x, "gate.g"))
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return F.linear(x, p["out.weight"], p["out.bias"])


UNET = """# unet — a small U-Net: two stages down, two up (tests/ref/handnets.py)
network unet input 1x8x8
pad pr 1 reflect
conv e1 4 k3 relu
concat s1 {
    {}
    seq down1 {
        maxpool 2
        conv e2 6 k3 p1 relu
        concat s2 {
            {}
            seq down2 {
                maxpool 2
                conv b 8 k3 p1 relu
                convtranspose up 8 k3 s2 p1 output_padding=1 relu
            }
        }
        conv dec2 6 k3 p1 relu
        upsample up size=8 bilinear align_corners=true
    }
}
conv dec1 4 k3 p1 relu
pad pa top=0 bottom=1 left=2 right=0 replicate
convtranspose ct2 4 k3 p1 d2 g2
upsample up3 2
conv head 3 k1 tanh
pad pz top=1 bottom=0 left=0 right=1
upsample up4 size=20x24 bilinear
flatten
dense out 4
"""


def unet(p, x):
    """The logits of UNET, from parameters p by name."""
    def conv(x, name, pad=1):
        return F.conv2d(x, p[name + ".weight"], p[name + ".bias"], padding=pad)
    e1 = F.relu(conv(F.pad(x, (1, 1, 1, 1), mode="reflect"), "e1", 0))
    e2 = F.relu(conv(F.max_pool2d(e1, 2), "s1.down1.e2"))
    b = F.relu(conv(F.max_pool2d(e2, 2), "s1.down1.s2.down2.b"))
    w = p["s1.down1.s2.down2.up.weight"]
    u = F.relu(F.conv_transpose2d(b, w, p["s1.down1.s2.down2.up.bias"], stride=2, padding=1, output_padding=1))
    d2 = F.relu(conv(torch.cat([e2, u], 1), "s1.down1.dec2"))
    u = F.interpolate(d2, size=8, mode="bilinear", align_corners=True)
    d1 = F.relu(conv(torch.cat([e1, u], 1), "dec1"))
    d1 = F.pad(d1, (2, 0, 0, 1), mode="replicate")
    t = F.conv_transpose2d(d1, p["ct2.weight"], p["ct2.bias"], padding=1, dilation=2, groups=2)
    u = F.interpolate(t, scale_factor=2, mode="nearest")
    h = F.pad(torch.tanh(conv(u, "head", 0)), (0, 1, 1, 0))
    h = F.interpolate(h, size=(20, 24), mode="bilinear", align_corners=False)
    h = torch.flatten(h, 1)      # every position reaches the logits (a mean would hide a shift)
    return F.linear(h, p["out.weight"], p["out.bias"])


def unet_small(p, x):
    """dsl_examples/unet_small.net by hand, and the classifier the suite puts
    on its per-pixel logits (cnnc-train wants an output per class)."""
    def conv(x, name, pad=1):
        return F.relu(F.conv2d(x, p[name + ".weight"], p[name + ".bias"], padding=pad))
    e1 = conv(x, "enc1")
    e2 = conv(F.max_pool2d(e1, 2), "skip1.down1.enc2")
    m = conv(F.max_pool2d(e2, 2), "skip1.down1.skip2.down2.mid")
    u = F.conv_transpose2d(m, p["skip1.down1.skip2.down2.up.weight"], p["skip1.down1.skip2.down2.up.bias"], stride=2)
    d2 = conv(torch.cat([e2, u], 1), "skip1.down1.dec2")
    u = F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False)
    d1 = conv(torch.cat([e1, u], 1), "dec1")
    logits = torch.flatten(F.conv2d(d1, p["head.weight"], p["head.bias"]), 1)
    return F.linear(logits, p["cls.weight"], p["cls.bias"])


SIG = """# sig — the layers of a signal (C×L), PyTorch's 1d ones (tests/ref/handnets.py)
network sig input 1x96
conv c1 6 k5 p2 relu
conv c2 8 k4 same g2 nobias
groupnorm gn 4
relu
maxpool m1 3 s2 ceil
concat cat {
    seq a { conv c 4 k3 d2 p2 silu }
    seq b { avgpool 3 s1 p1 exclude_pad; conv c 4 k1 }
}
instancenorm inorm affine
convtranspose up 6 k4 s2 p1
pad 2 reflect
upsample 2 bilinear
adaptiveavgpool 10
layernorm ln
flatten
dense out 4
"""


def bn(p, name, x):
    """batch norm in training mode (batch statistics, running ones updated
    in place) or in evaluation mode (the running ones), as TRAINING says"""
    return F.batch_norm(x, p[name + ".running_mean"], p[name + ".running_var"], p[name + ".weight"],
                        p[name + ".bias"], training=TRAINING, momentum=0.1, eps=1e-5)


# Parameters whose gradient is 0 by construction, per network: a bias that
# a normalisation right after it removes again.
CANCELLED = {"sig": {"cat.b.c.bias": "a per-channel constant that the instance norm after the concat takes out"}}


def sig(p, x):
    x = F.relu(F.conv1d(x, p["c1.weight"], p["c1.bias"], padding=2))
    x = F.conv1d(F.pad(x, (1, 2)), p["c2.weight"], groups=2)      # 'same', even kernel: the extra one right
    x = F.relu(F.group_norm(x, 4, p["gn.weight"], p["gn.bias"]))
    x = F.max_pool1d(x, 3, 2, ceil_mode=True)
    a = F.silu(F.conv1d(x, p["cat.a.c.weight"], p["cat.a.c.bias"], padding=2, dilation=2))
    b = F.conv1d(F.avg_pool1d(x, 3, 1, 1, count_include_pad=False), p["cat.b.c.weight"], p["cat.b.c.bias"])
    x = torch.cat([a, b], 1)
    x = F.instance_norm(x, weight=p["inorm.weight"], bias=p["inorm.bias"])
    x = F.conv_transpose1d(x, p["up.weight"], p["up.bias"], stride=2, padding=1)
    x = F.pad(x, (2, 2), mode="reflect")
    x = F.interpolate(x, scale_factor=2, mode="linear", align_corners=False)
    x = F.adaptive_avg_pool1d(x, 10)
    x = F.layer_norm(x, x.shape[1:], p["ln.weight"], p["ln.bias"])
    return F.linear(torch.flatten(x, 1), p["out.weight"], p["out.bias"])


VOL = """# vol — the layers of a volume (C×D×H×W), PyTorch's 3d ones (tests/ref/handnets.py)
network vol input 1x6x10x12
conv c1 4 k3 p1 relu
conv c2 6 k2 same nobias
batchnorm bn
relu
residual r {
    conv a 6 k1x3x3 p0x1x1 g2 relu
    conv b 6 k3x1x1 p1x0x0
}
maxpool m 3 s2 ceil
scale se { globalavgpool; conv fc1 3 k1 relu; conv fc2 6 k1 hardsigmoid }
conv c3 8 k3 s1x2x2 p1x1x1 d1x1x1 g2 elu
avgpool 2 s1 p1 exclude_pad
avgpool ap 3 s2 p1 ceil
groupnorm gn 2
instancenorm inorm affine
concat cat { adaptiveavgpool 2x3x2; seq mx { maxpool 2 s1; adaptiveavgpool 2x3x2 } }
layernorm ln
flatten
dense out 4
"""


def vol(p, x):
    x = F.relu(F.conv3d(x, p["c1.weight"], p["c1.bias"], padding=1))
    x = F.conv3d(F.pad(x, (0, 1, 0, 1, 0, 1)), p["c2.weight"])    # 'same', even kernel: the extra one after
    x = F.relu(bn(p, "bn", x))
    r = F.relu(F.conv3d(x, p["r.a.weight"], p["r.a.bias"], padding=(0, 1, 1), groups=2))
    x = F.conv3d(r, p["r.b.weight"], p["r.b.bias"], padding=(1, 0, 0)) + x
    x = F.max_pool3d(x, 3, 2, ceil_mode=True)
    g = F.adaptive_avg_pool3d(x, 1)
    g = F.relu(F.conv3d(g, p["se.fc1.weight"], p["se.fc1.bias"]))
    x = x * F.hardsigmoid(F.conv3d(g, p["se.fc2.weight"], p["se.fc2.bias"]))
    x = F.elu(F.conv3d(x, p["c3.weight"], p["c3.bias"], stride=(1, 2, 2), padding=1, groups=2))
    x = F.avg_pool3d(x, 2, 1, 1, count_include_pad=False)
    x = F.avg_pool3d(x, 3, 2, 1, ceil_mode=True)      # the last window past the padding: divides by less
    x = F.group_norm(x, 2, p["gn.weight"], p["gn.bias"])
    x = F.instance_norm(x, weight=p["inorm.weight"], bias=p["inorm.bias"])
    x = torch.cat([F.adaptive_avg_pool3d(x, (2, 3, 2)), F.adaptive_avg_pool3d(F.max_pool3d(x, 2, 1), (2, 3, 2))], 1)
    x = F.layer_norm(x, x.shape[1:], p["ln.weight"], p["ln.bias"])
    return F.linear(torch.flatten(x, 1), p["out.weight"], p["out.bias"])


MERGES = """# merges — the elementwise merges: sub, mean, add, mul (tests/ref/handnets.py)
network merges input 1x8x8
conv c 4 k3 p1
merge sub d { conv a 4 k1; {} }
merge mean avg { conv a 4 k1; conv b 4 k3 p1; {} }
merge add s { conv a 4 k1 relu; conv b 4 k1; {} }
merge mul g { {}; conv a 4 k1 sigmoid }
merge mul gg { {}; seq q { globalavgpool; conv a 4 k1 tanh } }
residual z { merge sub same { {}; {} } }
merge add dbl { {}; {} }
flatten
dense out 4
"""


def merges(p, x):
    def conv(x, name, pad=0):
        return F.conv2d(x, p[name + ".weight"], p[name + ".bias"], padding=pad)
    x = conv(x, "c", 1)
    x = conv(x, "d.a") - x
    x = (conv(x, "avg.a") + conv(x, "avg.b", 1) + x) / 3
    x = F.relu(conv(x, "s.a")) + conv(x, "s.b") + x
    x = x * torch.sigmoid(conv(x, "g.a"))
    x = x * torch.tanh(conv(F.adaptive_avg_pool2d(x, 1), "gg.q.a"))
    x = (x - x) + x                   # a − a beside a: its two gradients cancel; then a + a
    x = x + x
    return F.linear(torch.flatten(x, 1), p["out.weight"], p["out.bias"])


def ecg1d(p, x):
    """dsl_examples/ecg1d.net by hand"""
    x = F.max_pool1d(F.relu(bn(p, "stem_bn", F.conv1d(x, p["stem.weight"], stride=2, padding=3))), 3, 2, 1)
    for layer in ("layer1.0", "layer2.0"):
        r = F.relu(bn(p, layer + ".bn1", F.conv1d(x, p[layer + ".conv1.weight"], stride=2, padding=2)))
        r = bn(p, layer + ".bn2", F.conv1d(r, p[layer + ".conv2.weight"], padding=2))
        x = F.relu(r + bn(p, layer + ".down.1", F.conv1d(x, p[layer + ".down.0.weight"], stride=2)))
    x = F.relu(F.conv1d(x, p["wide.weight"], p["wide.bias"], padding=2, dilation=2))
    x = F.adaptive_avg_pool1d(F.avg_pool1d(x, 3, 2), 8)
    return F.linear(torch.flatten(x, 1), p["fc.weight"], p["fc.bias"])


def volume3d(p, x):
    """dsl_examples/volume3d.net by hand"""
    x = F.max_pool3d(F.relu(bn(p, "bn1", F.conv3d(x, p["conv1.weight"], padding=(0, 1, 1)))), (1, 2, 2))
    x = F.max_pool3d(F.relu(bn(p, "bn2", F.conv3d(x, p["conv2.weight"], padding=1))), 2)
    x = F.relu(F.conv3d(x, p["conv3.weight"], p["conv3.bias"], stride=2, padding=1))
    x = F.adaptive_avg_pool3d(F.avg_pool3d(x, 3, 1, 1), 2)
    return F.linear(torch.flatten(x, 1), p["fc.weight"], p["fc.bias"])



DW = """# dw — depthwise convs, MobileNet's and odd shapes (tests/ref/handnets.py)
network dw input 1x99x45
conv stem 8 k3 p1 relu
conv a 8 k3 p1 g8 nobias
batchnorm bn
relu6
conv b 16 k3 stride=1x2 p1 g8
conv c 16 k3 s2 p1 g16 nobias
batchnorm bn2
relu6
conv d 16 k3 d2 p2 g16 relu6
conv e 16 k5 s2 p2 g16 nobias
conv f 16 k3 p4 g16 tanh
conv g 16 k4 same g16 relu6
flatten
dense out 4
"""


def dw(p, x):
    """The logits of DW: 8x99x45, 16x99x23, 16x50x12, 16x50x12, 16x25x6, 16x31x12, 16x31x12."""
    x = F.relu(F.conv2d(x, p["stem.weight"], p["stem.bias"], padding=1))
    x = F.relu6(bn(p, "bn", F.conv2d(x, p["a.weight"], padding=1, groups=8)))
    x = F.conv2d(x, p["b.weight"], p["b.bias"], stride=(1, 2), padding=1, groups=8)
    x = F.relu6(bn(p, "bn2", F.conv2d(x, p["c.weight"], stride=2, padding=1, groups=16)))
    x = F.relu6(F.conv2d(x, p["d.weight"], p["d.bias"], padding=2, dilation=2, groups=16))
    x = F.conv2d(x, p["e.weight"], stride=2, padding=2, groups=16)
    x = torch.tanh(F.conv2d(x, p["f.weight"], p["f.bias"], padding=4, groups=16))
    x = F.relu6(F.conv2d(F.pad(x, (1, 2, 1, 2)), p["g.weight"], p["g.bias"], groups=16))   # 'same', k4
    return F.linear(torch.flatten(x, 1), p["out.weight"], p["out.bias"])


DWSIG = """# dwsig — depthwise convs on a signal (tests/ref/handnets.py)
network dwsig input 1x150
conv stem 8 k3 p1 relu
conv a 8 k3 p1 g8 nobias
batchnorm bn
relu6
conv b 16 k5 s2 p2 g8
conv c 16 k3 d2 p5 g16 tanh
conv d 16 k4 same g16 nobias
conv e 32 k3 s3 g16 relu6
flatten
dense out 4
"""


def dwsig(p, x):
    """The logits of DWSIG: 8x150, 16x75, 16x81, 16x81, 32x27."""
    x = F.relu(F.conv1d(x, p["stem.weight"], p["stem.bias"], padding=1))
    x = F.relu6(bn(p, "bn", F.conv1d(x, p["a.weight"], padding=1, groups=8)))
    x = F.conv1d(x, p["b.weight"], p["b.bias"], stride=2, padding=2, groups=8)
    x = torch.tanh(F.conv1d(x, p["c.weight"], p["c.bias"], padding=5, dilation=2, groups=16))
    x = F.conv1d(F.pad(x, (1, 2)), p["d.weight"], groups=16)                  # 'same', k4
    x = F.relu6(F.conv1d(x, p["e.weight"], p["e.bias"], stride=3, groups=16))
    return F.linear(torch.flatten(x, 1), p["out.weight"], p["out.bias"])


def example(name):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dsl_examples", name)) as f:
        return f.read()


PRELU = """# prelu — learned slopes (tests/ref/handnets.py)
network prelu input 1x8x8
conv c1 4 k3 p1
prelu a                          # one slope: fused into c1 at inference
conv c2 6 k3 p1 s2
prelu b 6 init=0.1               # one per channel
residual r { conv c 6 k1; prelu p 6 init=-0.3 }
prelu q 1 init=0.5               # after the add: fused into it
flatten
dense d1 10
prelu e 10                       # one per feature of a vector
dense out 4
"""
# the slopes' initial values, as nn.PReLU(n, init) has them (checked in init.st)
PRELU_INIT = {"a.weight": 0.25, "b.weight": 0.1, "r.p.weight": -0.3, "q.weight": 0.5, "e.weight": 0.25}


def prelu(p, x):
    """The logits of PRELU, from parameters p by name."""
    x = F.prelu(F.conv2d(x, p["c1.weight"], p["c1.bias"], padding=1), p["a.weight"])
    x = F.prelu(F.conv2d(x, p["c2.weight"], p["c2.bias"], stride=2, padding=1), p["b.weight"])
    x = F.prelu(x + F.prelu(F.conv2d(x, p["r.c.weight"], p["r.c.bias"]), p["r.p.weight"]), p["q.weight"])
    x = F.prelu(F.linear(torch.flatten(x, 1), p["d1.weight"], p["d1.bias"]), p["e.weight"])
    return F.linear(x, p["out.weight"], p["out.bias"])


NETS = {"acts": (ACTS, acts), "prelu": (PRELU, prelu), "shuffle": (SHUFFLE, shuffle), "se": (SE, se), "unet": (UNET, unet),
        "unet_small": (example("unet_small.net") + "\n# for the trainer: 4 classes from every logit "
                       "(tests/ref/handnets.py)\nflatten\ndense cls 4\n", unet_small),
        "merges": (MERGES, merges), "sig": (SIG, sig), "vol": (VOL, vol), "dw": (DW, dw), "dwsig": (DWSIG, dwsig),
        "ecg1d": (example("ecg1d.net"), ecg1d),
        "volume3d": (example("volume3d.net"), volume3d)}
CLASSES_OF = {"ecg1d": 5}            # else CLASSES


def input_shape(name):
    """the sizes of the network's input line (1×L, 1×H×W or 1×D×H×W)"""
    m = re.search(r"input\s+1((?:x\d+)+)", NETS[name][0])
    return (1,) + tuple(int(v) for v in m.group(1)[1:].split("x"))


def shaped(x):
    """images [n][rows][columns] (a volume's slices one under another) as the input [n][1][...]"""
    return x.reshape((x.shape[0],) + INPUT)


def gen(name, d):
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    with open(os.path.join(d, name + ".net"), "w") as f:
        f.write(NETS[name][0])
    with open(os.path.join(d, "train_args"), "w") as f:
        f.write("--batch %d --opt sgd --lr %g\n" % (N_TRAIN, LR))
    rng = np.random.default_rng(SEED)
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        x = rng.integers(0, 256, size=(n, H, W))
        y = rng.permutation(np.arange(n) % CLASSES_OF.get(name, CLASSES))
        write_idx(os.path.join(d, "data", "%s-images-idx3-ubyte" % split), x, False)
        write_idx(os.path.join(d, "data", "%s-labels-idx1-ubyte" % split), y, True)


def params(d, name):
    t = st.load(os.path.join(d, name))
    return {n: v.double() for n, v in t.items() if not n.startswith("__optim__.")}


class Checks:
    def __init__(self):
        self.fails = 0

    def __call__(self, good, what):
        print("%s %s" % ("ok  " if good else "FAIL", what))
        self.fails += 0 if good else 1


def rel(a, b):
    return (torch.linalg.norm(a - b) / torch.linalg.norm(b)).item()


def infer(forward, d):
    global TRAINING
    TRAINING = False
    p = params(d, "run.st")
    x = torch.randn(3, 1, H, W, generator=torch.Generator().manual_seed(SEED + 1))
    with torch.no_grad():
        ref = forward(p, shaped(x).double()).float()
    x.numpy().astype("<f4").tofile(os.path.join(d, "in.bin"))
    ref.numpy().astype("<f4").tofile(os.path.join(d, "ref.bin"))


def infer_check(forward, d, ok):
    ref = np.fromfile(os.path.join(d, "ref.bin"), dtype="<f4").astype(np.float64)
    out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f4").astype(np.float64)
    if out.shape != ref.shape:
        ok(False, "the generated code wrote %d values, expected %d" % (out.size, ref.size))
        return
    e = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
    ok(e <= TOL_INFER, "generated code on 3 images: max error %.1e of max |ref| (tolerance %.0e)" % (e, TOL_INFER))


def sgd_steps(forward, init, names, x, y, dtype):
    """STEPS of torch.optim.SGD from init in dtype: (parameters, losses)"""
    p = {n: init[n].clone().to(dtype).requires_grad_(not n.endswith(BUFFERS)) for n in init}
    opt = torch.optim.SGD([p[n] for n in names], lr=LR)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(forward(p, x.to(dtype)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {n: v.detach().double() for n, v in p.items()}, losses


BUFFERS = (".running_mean", ".running_var", ".num_batches_tracked")


def train_check(forward, d, ok):
    init, final = params(d, "init.st"), params(d, "run.st")
    if forward is prelu:
        bad = [n for n, v in PRELU_INIT.items() if not bool((init[n] == torch.tensor(v, dtype=torch.float32)).all())]
        ok(not bad, "initial slopes as nn.PReLU(init=...): %s" % ("all equal" if not bad else "differ: %s" % bad))
    names = sorted(n for n in init if not n.endswith(BUFFERS))
    stats = sorted(n for n in init if n.endswith(BUFFERS))
    x = torch.from_numpy(read_idx(os.path.join(d, "data", "train-images-idx3-ubyte")).copy())
    x = shaped((x.float() / 255.0).double())           # cnnc-train's x/255 (no --normalize)
    y = torch.from_numpy(read_idx(os.path.join(d, "data", "train-labels-idx1-ubyte")).astype(np.int64))
    p, losses = sgd_steps(forward, init, names, x, y, torch.float64)
    p32, _ = sgd_steps(forward, init, names, x, y, torch.float32)
    with open(os.path.join(d, "run.st.csv")) as f:
        rows = [r.split(",") for r in f.read().split("\n")[1:] if r]
    ok(len(rows) == STEPS, "cnnc-train logged %d epochs of one step (%d expected)" % (len(rows), STEPS))
    for s, (row, lt) in enumerate(zip(rows, losses)):
        lc = float(row[3])
        e = abs(lc - lt) / abs(lt)
        tol = TOL_LOSS0 if s == 0 else TOL_LOSS
        ok(e <= tol, "step %d loss: cnnrt %.6f, PyTorch %.6f, relative error %.1e (tolerance %.0e)"
           % (s + 1, lc, lt, e, tol))
    pc = torch.cat([final[n].flatten() for n in names])
    pt = torch.cat([p[n].flatten() for n in names])
    e = rel(pc, pt)
    ok(e <= TOL_PARAM, "%d parameters after %d steps: relative error %.1e (tolerance %.0e)"
       % (pt.numel(), STEPS, e, TOL_PARAM))
    # What the steps changed, per tensor.  A tensor far from the loss moves
    # by little more than float32's spacing of its values, so its change is
    # only known to float32's precision: the tolerance is TOL_DELTA or twice
    # the error PyTorch's own float32 run makes there, whichever is larger.
    worst, where = 0.0, ""
    for n in names:
        dt = p[n] - init[n]
        if n in CANCELLED.get(forward.__name__, ()):
            # its gradient is 0 by construction; in float64 PyTorch's is 0
            # or rounding noise, depending on the machine
            moved = (final[n] - init[n]).abs().max().item()
            ok(torch.linalg.norm(dt).item() <= 1e-12 and moved <= 1e-6 * max(1.0, init[n].abs().max().item()),
               "%s: its gradient is 0 by construction (%s); PyTorch moved it by %.1e, cnnrt by %.1e"
               % (n, CANCELLED[forward.__name__][n], dt.abs().max().item(), moved))
            continue
        if torch.linalg.norm(dt).item() == 0:
            ok(False, "%s did not change in PyTorch's steps" % n)
            continue
        e, e32 = rel(final[n] - init[n], dt), rel(p32[n] - init[n], dt)
        margin = e / max(TOL_DELTA, 2 * e32)
        if margin > worst:
            worst, where = margin, "%s: %.1e, PyTorch float32 %.1e" % (n, e, e32)
    if stats:        # batch norm's running statistics after the steps (PyTorch's update in float64)
        e = rel(torch.cat([final[n].flatten() for n in stats]), torch.cat([p[n].flatten() for n in stats]))
        ok(e <= TOL_PARAM, "%d running statistics after %d steps: relative error %.1e (tolerance %.0e)"
           % (sum(p[n].numel() for n in stats), STEPS, e, TOL_PARAM))
    ok(worst <= 1, "what the steps changed, per tensor: worst relative error against its tolerance %.2f "
       "(%s; tolerance max(%.0e, 2 × PyTorch float32's))" % (worst, where, TOL_DELTA))


def export_check(forward, d, ok):
    spec = importlib.util.spec_from_file_location("export", os.path.join(d, "export.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.Model().double().eval()
    global TRAINING
    TRAINING = False
    p = params(d, "run.st")
    model.load_state_dict(p, strict=True)
    x = shaped(torch.randn(5, 1, H, W, generator=torch.Generator().manual_seed(SEED + 2), dtype=torch.float64))
    with torch.no_grad():
        a, b = model(x), forward(p, x)
    e = (torch.max(torch.abs(a - b)) / torch.max(torch.abs(b))).item()
    ok(e <= TOL_EXPORT, "cnnc --emit pytorch with run.st against the hand-written forward: max error %.1e "
       "(tolerance %.0e)" % (e, TOL_EXPORT))


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in NETS:
        sys.stderr.write(__doc__)
        return 2
    cmd, name, d = sys.argv[1:]
    global H, W, LR, INPUT
    INPUT = input_shape(name)        # infer and export-check draw inputs of this size
    H, W = int(np.prod(INPUT[1:-1])), INPUT[-1]
    LR = LRS.get(name, LR)
    if cmd == "gen":
        gen(name, d)
        return 0
    forward = NETS[name][1]
    if cmd == "infer":
        infer(forward, d)
        return 0
    ok = Checks()
    {"infer-check": infer_check, "train-check": train_check, "export-check": export_check}[cmd](forward, d, ok)
    return 1 if ok.fails else 0


if __name__ == "__main__":
    sys.exit(main())
