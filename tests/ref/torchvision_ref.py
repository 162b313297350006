#!/usr/bin/python3
"""Independent PyTorch reference for cnnc's --report=json.

usage: /usr/bin/python3 tests/ref/torchvision_ref.py NAME REPORT.json

NAME is one of: alexnet vgg16 resnet18 resnet50 densenet121 googlenet mobilenet_v2
(built by torchvision, weights=None, nothing downloaded), or resnet20 lenet5
lenet_relu convnetjs_mnist convnetjs_cifar10 (written by hand below from the
papers' descriptions, not from the .net files), or ecg1d volume3d (1-D and 3-D,
written by hand below from their .net files' headers).  REPORT.json is the output of
`cnnc dsl_examples/NAME.net --report=json`.

Checks, printing every mismatch and exiting 1 on any:
  (a) params: sum(p.numel() for p in model.parameters()) == totals.params
  (b) MACs measured with forward hooks on nn.Conv1d/2d/3d / nn.Linear during
      one forward pass of a batch-1 input (conv: output values ×
      (Cin/groups)·kernel size, linear in*out) == totals.macs
  (c) the model's state-dict keys == the keys cnnc's layers imply, and each
      tensor's numel matches
  (d) the output shape of every nn.Conv2d / nn.Linear equals cnnc's out_shape
      for the layer of the same name; other leaf modules (pools, norms, ...)
      called exactly once are compared too when cnnc has a layer of that name.
"""
import json
import math
import sys

import torch
import torch.nn as nn

# ---------------------------------------------------------------------------
# Hand-written models for the networks torchvision does not have.
# ---------------------------------------------------------------------------


class LeNet5(nn.Module):
    """LeCun et al. 1998 as usually taught: tanh, average pooling, full C3."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)            # 32 -> 28
        self.c3 = nn.Conv2d(6, 16, 5)           # 14 -> 10
        self.c5 = nn.Conv2d(16, 120, 5)         # 5 -> 1
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.avg_pool2d(torch.tanh(self.c1(x)), 2, 2)
        x = nn.functional.avg_pool2d(torch.tanh(self.c3(x)), 2, 2)
        x = torch.flatten(self.c5(x), 1)
        return self.out(torch.tanh(self.f6(x)))


class LeNetReLU(nn.Module):
    """20-50-500 LeNet, ReLU, 2x2 max pools, 5x5 convs padded by 2."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(20, 50, 5, padding=2)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(50 * 7 * 7, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


class ConvNetJSMnist(nn.Module):
    """ConvNetJS MNIST demo: 24x24x1, conv8 k5 p2, pool2, conv16 k5 p2, pool3, fc10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.pool2 = nn.MaxPool2d(3, 3)
        self.fc = nn.Linear(16 * 4 * 4, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        return self.softmax(self.fc(torch.flatten(x, 1)))


class ConvNetJSCifar10(nn.Module):
    """ConvNetJS CIFAR-10 demo: 3x (conv k5 p2 relu, pool2) with 16, 20, 20 maps, fc10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5, padding=2)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(16, 20, 5, padding=2)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.conv3 = nn.Conv2d(20, 20, 5, padding=2)
        self.pool3 = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(20 * 4 * 4, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        x = self.pool3(torch.relu(self.conv3(x)))
        return self.softmax(self.fc(torch.flatten(x, 1)))


class CifarBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # He et al. option B: projection only where the shape changes
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ResNet20(nn.Module):
    """He et al. 2016 sec. 4.2, n = 3: 6n+2 = 20 layers, 16/32/64 maps."""

    def __init__(self, n=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin = 16
        for i, (width, stride) in enumerate([(16, 1), (32, 2), (64, 2)]):
            blocks = []
            for j in range(n):
                blocks.append(CifarBasicBlock(cin, width, stride if j == 0 else 1))
                cin = width
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class ECG1D(nn.Module):
    """A 1-D conv classifier of ECG beats: 7-tap stem with stride 2, max
    pool, two residual blocks of 5-tap convs (stride 2, projection
    shortcut), a dilated conv, average then adaptive pooling, 5 classes."""

    class Res(nn.Module):
        def __init__(self, cin, c):
            super().__init__()
            self.conv1 = nn.Conv1d(cin, c, 5, stride=2, padding=2, bias=False)
            self.bn1 = nn.BatchNorm1d(c)
            self.conv2 = nn.Conv1d(c, c, 5, padding=2, bias=False)
            self.bn2 = nn.BatchNorm1d(c)
            self.down = nn.Sequential(nn.Conv1d(cin, c, 1, stride=2, bias=False), nn.BatchNorm1d(c))

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(y + self.down(x))

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(1, 16, 7, stride=2, padding=3, bias=False)
        self.stem_bn = nn.BatchNorm1d(16)
        self.maxpool = nn.MaxPool1d(3, 2, 1)
        self.layer1 = nn.Sequential(ECG1D.Res(16, 32))
        self.layer2 = nn.Sequential(ECG1D.Res(32, 64))
        self.wide = nn.Conv1d(64, 64, 3, padding=2, dilation=2)
        self.avgpool = nn.AvgPool1d(3, 2)
        self.adaptiveavgpool = nn.AdaptiveAvgPool1d(8)
        self.fc = nn.Linear(64 * 8, 5)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.stem_bn(self.stem(x))))
        x = torch.relu(self.wide(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.adaptiveavgpool(self.avgpool(x)), 1))


class Volume3D(nn.Module):
    """A small 3-D conv classifier (C3D / VoxNet style): a 1x3x3 conv, 3x3x3
    convs, max pooling, a strided conv, average and adaptive pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(1, 8, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.bn1 = nn.BatchNorm3d(8)
        self.maxpool = nn.MaxPool3d((1, 2, 2))
        self.conv2 = nn.Conv3d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(16)
        self.maxpool_2 = nn.MaxPool3d(2)
        self.conv3 = nn.Conv3d(16, 32, 3, stride=2, padding=1)
        self.avgpool = nn.AvgPool3d(3, 1, 1)
        self.adaptiveavgpool = nn.AdaptiveAvgPool3d(2)
        self.fc = nn.Linear(32 * 8, 4)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.maxpool_2(torch.relu(self.bn2(self.conv2(x))))
        x = self.adaptiveavgpool(self.avgpool(torch.relu(self.conv3(x))))
        return self.fc(torch.flatten(x, 1))


def build(name):
    """Return (model, input shape: C,L or C,H,W or C,D,H,W)."""
    small = {
        "lenet5": (LeNet5, (1, 32, 32)),
        "lenet_relu": (LeNetReLU, (1, 28, 28)),
        "convnetjs_mnist": (ConvNetJSMnist, (1, 24, 24)),
        "convnetjs_cifar10": (ConvNetJSCifar10, (3, 32, 32)),
        "resnet20": (ResNet20, (3, 32, 32)),
        "ecg1d": (ECG1D, (1, 1000)),
        "volume3d": (Volume3D, (1, 16, 32, 32)),
    }
    if name in small:
        cls, shape = small[name]
        return cls(), shape
    import torchvision.models as tvm
    if name == "alexnet":
        m = tvm.alexnet(weights=None)
    elif name == "vgg16":
        m = tvm.vgg16(weights=None, init_weights=False)   # skip the slow init
    elif name == "resnet18":
        m = tvm.resnet18(weights=None)
    elif name == "resnet50":
        m = tvm.resnet50(weights=None)
    elif name == "densenet121":
        m = tvm.densenet121(weights=None)
    elif name == "googlenet":
        m = tvm.googlenet(weights=None, aux_logits=False, init_weights=False)
    elif name == "mobilenet_v2":
        m = tvm.mobilenet_v2(weights=None)
    elif name == "squeezenet1_0":
        m = tvm.squeezenet1_0(weights=None)
    else:
        raise KeyError(name)
    return m, (3, 224, 224)


# ---------------------------------------------------------------------------
# What cnnc's report implies
# ---------------------------------------------------------------------------

def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def implied_state(report, problems):
    """State-dict keys (name -> numel) implied by cnnc's layers."""
    layers = report["layers"]
    shapes = {L["name"]: L["out_shape"] for L in layers}
    keys = {}
    for L in layers:
        kind = L["kind"].split("+")[0]        # "conv+relu": a fused activation
        name, params, out = L["name"], L["params"], L["out_shape"]
        if kind == "convtranspose":
            # MACs: every input pixel through the whole kernel, so the weight
            # count is MACs / (H·W of the input)
            src = shapes.get(L["inputs"][0], report["input"])
            spatial = src[1] * src[2]
            if L["macs"] % spatial:
                problems.append("%s: macs %d not a multiple of the input's H*W = %d" % (name, L["macs"], spatial))
            wcount = L["macs"] // spatial
            keys[name + ".weight"] = wcount
            if params - wcount == out[0]:
                keys[name + ".bias"] = out[0]
            elif params != wcount:
                problems.append("%s: params %d - weights %d is neither 0 nor %d (out)" % (name, params, wcount, out[0]))
        elif kind in ("conv", "dense"):
            if kind == "conv":
                spatial = math.prod(out[1:])
                if L["macs"] % spatial:
                    problems.append("%s: macs %d not a multiple of the output's spatial size %d"
                                    % (name, L["macs"], spatial))
                wcount = L["macs"] // spatial
            else:
                wcount = L["macs"]
            nbias = params - wcount
            keys[name + ".weight"] = wcount
            if nbias == out[0]:
                keys[name + ".bias"] = nbias
            elif nbias != 0:
                problems.append("%s: params %d - weights %d = %d is neither 0 nor %d (out)"
                                % (name, params, wcount, nbias, out[0]))
        elif kind == "batchnorm":
            c = out[0]
            if params != 2 * c:
                problems.append("%s: batchnorm params %d, expected 2*%d" % (name, params, c))
            for k in ("weight", "bias", "running_mean", "running_var"):
                keys[name + "." + k] = c
            keys[name + ".num_batches_tracked"] = 1
        elif kind in ("layernorm", "groupnorm", "instancenorm"):
            if params:
                keys[name + ".weight"] = params // 2
                keys[name + ".bias"] = params // 2
        elif params:
            problems.append("%s: kind %s has %d params; no state-dict rule for it"
                            % (name, kind, params))
    return keys


CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

# kinds a leaf module may correspond to in cnnc
KINDS = {
    nn.Conv2d: ("conv",), nn.Linear: ("dense",), nn.BatchNorm2d: ("batchnorm",),
    nn.BatchNorm1d: ("batchnorm",), nn.MaxPool2d: ("maxpool",), nn.AvgPool2d: ("avgpool",),
    nn.AdaptiveAvgPool2d: ("adaptiveavgpool", "globalavgpool"),
    nn.Conv1d: ("conv",), nn.Conv3d: ("conv",), nn.BatchNorm3d: ("batchnorm",), nn.MaxPool1d: ("maxpool",),
    nn.MaxPool3d: ("maxpool",), nn.AvgPool1d: ("avgpool",), nn.AvgPool3d: ("avgpool",),
    nn.AdaptiveAvgPool1d: ("adaptiveavgpool", "globalavgpool"),
    nn.AdaptiveAvgPool3d: ("adaptiveavgpool", "globalavgpool"),
    nn.AdaptiveMaxPool2d: ("globalmaxpool",), nn.ReLU: ("relu",), nn.Tanh: ("tanh",),
    nn.Sigmoid: ("sigmoid",), nn.Dropout: ("dropout",), nn.Softmax: ("softmax",),
    nn.Flatten: ("flatten",), nn.LayerNorm: ("layernorm",), nn.GroupNorm: ("groupnorm",),
    nn.InstanceNorm2d: ("instancenorm",), nn.LeakyReLU: ("leakyrelu",),
    nn.Identity: ("identity",), nn.ConvTranspose2d: ("convtranspose",), nn.ReLU6: ("relu6",), nn.Hardtanh: ("hardtanh", "relu6"),
    nn.Hardsigmoid: ("hardsigmoid",), nn.Hardswish: ("hardswish",), nn.SiLU: ("silu",), nn.GELU: ("gelu", "gelu_tanh"),
    nn.ELU: ("elu",), nn.SELU: ("selu",), nn.Mish: ("mish",), nn.Softplus: ("softplus",),
}


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    name, path = argv[1], argv[2]
    with open(path) as f:
        report = json.load(f)
    torch.manual_seed(0)
    model, in_shape = build(name)
    model.eval()
    problems = []

    if report.get("network") != name:
        problems.append("network name: cnnc %r, expected %r" % (report.get("network"), name))
    if list(report["input"]) != list(in_shape):
        problems.append("input shape: cnnc %s, reference %s" % (report["input"], list(in_shape)))
    by_name = {L["name"]: L for L in report["layers"]}
    totals = report["totals"]

    # (a) params
    ref_params = sum(p.numel() for p in model.parameters())
    if ref_params != totals["params"]:
        problems.append("(a) params: cnnc %d, torch %d" % (totals["params"], ref_params))

    # (b), (d): one forward pass with hooks on every leaf module
    macs = [0]
    calls = {}          # module name -> list of output shapes (without the batch)
    mods = {}

    def hook(mname):
        def f(mod, inp, out):
            calls.setdefault(mname, []).append(list(out.shape[1:]))
            if isinstance(mod, CONVS):
                macs[0] += out[0].numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
            elif isinstance(mod, nn.Linear):
                macs[0] += mod.in_features * mod.out_features
        return f

    for mname, mod in model.named_modules():
        if mname and not list(mod.children()):
            mods[mname] = mod
            mod.register_forward_hook(hook(mname))
    with torch.no_grad():
        model(torch.randn(1, *in_shape))

    if macs[0] != totals["macs"]:
        problems.append("(b) MACs: cnnc %d, torch %d" % (totals["macs"], macs[0]))

    nconv = nother = 0
    for mname, mod in mods.items():
        shapes = calls.get(mname, [])
        strict = isinstance(mod, CONVS + (nn.Linear,))
        L = by_name.get(mname)
        if strict:
            nconv += 1
            if L is None:
                problems.append("(d) %s (%s): no cnnc layer of that name"
                                % (mname, type(mod).__name__))
                continue
            if len(shapes) != 1:
                problems.append("(d) %s: called %d times in torch's forward" % (mname, len(shapes)))
                continue
        elif L is None or len(shapes) != 1:
            continue        # functional/reused module, or no cnnc layer by that name
        else:
            nother += 1
        kinds = KINDS.get(type(mod))
        ckind = L["kind"].split("+")[0]
        if kinds and ckind not in kinds:
            problems.append("(d) %s: cnnc kind %s, torch %s" % (mname, L["kind"], type(mod).__name__))
        if list(L["out_shape"]) != shapes[0]:
            problems.append("(d) %s: out_shape cnnc %s, torch %s"
                            % (mname, L["out_shape"], shapes[0]))

    # (c) state-dict keys and sizes
    implied = implied_state(report, problems)
    sd = {k: v.numel() for k, v in model.state_dict().items()}
    for k in sorted(set(sd) - set(implied)):
        problems.append("(c) key %s (numel %d) in torch, not implied by cnnc" % (k, sd[k]))
    for k in sorted(set(implied) - set(sd)):
        problems.append("(c) key %s (numel %d) implied by cnnc, not in torch" % (k, implied[k]))
    for k in sorted(set(sd) & set(implied)):
        if sd[k] != implied[k]:
            problems.append("(c) %s: numel cnnc %d, torch %d" % (k, implied[k], sd[k]))

    for p in problems:
        print("%s: %s" % (name, p))
    status = "FAIL (%d mismatches)" % len(problems) if problems else "ok"
    print("%s: %s — params %d, MACs %d, %d state-dict tensors, %d conv/linear and "
          "%d other layer shapes compared"
          % (name, status, ref_params, macs[0], len(sd), nconv, nother))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
