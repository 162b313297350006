#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_pool.c.

usage: rt_pool.py max|avg N C H W KH KW SH SW PH PW CEIL COUNT_INCLUDE_PAD IN OUT
       rt_pool.py adaptive N C H W OH OW IN OUT
       rt_pool.py maxgrad N C H W KH KW SH SW PH PW CEIL COUNT_INCLUDE_PAD IN OUT
       rt_pool.py globalmax N C H W IN OUT
IN holds x [N][C][H][W] as raw float32; OUT receives y (and, for max, the
argmax indices as float32 after y), computed by torch.nn.functional.
maxgrad (F.max_pool2d) and globalmax (F.adaptive_max_pool2d(x, 1)) read dy
[N][C][OH][OW] after x and write y, the indices, then dx [N][C][H][W], the
autograd gradient of sum(dy * y): PyTorch's own rule for NaN windows.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main(argv):
    mode = argv[1]
    inp, outp = argv[-2], argv[-1]
    ints = [int(a) for a in argv[2:-2]]
    n, c, h, w = ints[:4]
    data = np.fromfile(inp, dtype="<f4")
    if mode in ("maxgrad", "globalmax"):
        x = torch.from_numpy(data[:n * c * h * w].reshape(n, c, h, w)).requires_grad_(True)
        if mode == "globalmax":
            y, idx = F.adaptive_max_pool2d(x, 1, return_indices=True)
        else:
            kh, kw, sh, sw, ph, pw, ceil = ints[4:11]
            y, idx = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=bool(ceil), return_indices=True)
        dy = torch.from_numpy(data[n * c * h * w:]).reshape(y.shape)
        y.backward(dy)
        res = [y, idx.to(torch.float32), x.grad]
        np.concatenate([r.detach().numpy().astype("<f4").ravel() for r in res]).tofile(outp)
        return
    x = torch.from_numpy(data.reshape(n, c, h, w))
    if mode == "adaptive":
        oh, ow = ints[4:6]
        res = [F.adaptive_avg_pool2d(x, (oh, ow))]
    else:
        kh, kw, sh, sw, ph, pw, ceil, cip = ints[4:12]
        if mode == "max":
            y, idx = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=bool(ceil),
                                  return_indices=True)
            res = [y, idx.to(torch.float32)]
        elif mode == "avg":
            res = [F.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=bool(ceil),
                                count_include_pad=bool(cip))]
        else:
            raise SystemExit("rt_pool.py: unknown mode " + mode)
    np.concatenate([r.detach().numpy().astype("<f4").ravel() for r in res]).tofile(outp)


if __name__ == "__main__":
    main(sys.argv)
