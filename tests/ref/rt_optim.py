#!/usr/bin/python3
"""PyTorch reference for tests/runtime/test_rt_optim.c: torch.optim + lr_scheduler.

usage: rt_optim.py COUNT STEPS SPECS IN OUT
  IN    = p0 [COUNT], then grads [STEPS][COUNT]   (float32)
  SPECS = configurations separated by '/', each comma-separated:
          opt,lr,wd,momentum,dampening,nesterov,beta1,beta2,eps,alpha,centered,lr_decay,
          sched,warmup,warmup_start,step_size,gamma,T,min_lr
          opt in sgd|adagrad|rmsprop|adam|adamw; sched in constant|step|cosine
  OUT   = for each configuration: params after STEPS steps [COUNT], then the
          lr used at each step [STEPS]  (float32)
Schedules: warm-up is LinearLR(start_factor, total_iters=warmup); after it
StepLR / CosineAnnealingLR, chained with SequentialLR(milestones=[warmup]).
"""
import sys

import numpy as np
import torch
from torch.optim import lr_scheduler as S


def make_optimizer(spec, param):
    (opt, lr, wd, mom, damp, nest, b1, b2, eps, alpha, centered, lr_decay) = spec[:12]
    lr, wd, mom, damp = float(lr), float(wd), float(mom), float(damp)
    b1, b2, eps, alpha, lr_decay = float(b1), float(b2), float(eps), float(alpha), float(lr_decay)
    if opt == "sgd":
        return torch.optim.SGD([param], lr=lr, momentum=mom, dampening=damp,
                               nesterov=bool(int(nest)), weight_decay=wd)
    if opt == "adagrad":
        return torch.optim.Adagrad([param], lr=lr, lr_decay=lr_decay, weight_decay=wd, eps=eps)
    if opt == "rmsprop":
        return torch.optim.RMSprop([param], lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                   momentum=mom, centered=bool(int(centered)))
    if opt == "adam":
        return torch.optim.Adam([param], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    if opt == "adamw":
        return torch.optim.AdamW([param], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    raise SystemExit("rt_optim.py: unknown optimizer " + opt)


def make_scheduler(spec, optimizer):
    sched, warmup, wstart, step_size, gamma, T, min_lr = spec[12:19]
    warmup, wstart = int(warmup), float(wstart)
    if sched == "constant":
        main = None
    elif sched == "step":
        main = S.StepLR(optimizer, step_size=int(step_size), gamma=float(gamma))
    elif sched == "cosine":
        main = S.CosineAnnealingLR(optimizer, T_max=int(T), eta_min=float(min_lr))
    else:
        raise SystemExit("rt_optim.py: unknown schedule " + sched)
    if warmup == 0:
        return main
    warm = S.LinearLR(optimizer, start_factor=wstart, end_factor=1.0, total_iters=warmup)
    if main is None:
        return warm
    return S.SequentialLR(optimizer, [warm, main], milestones=[warmup])


def main(argv):
    count, steps = int(argv[1]), int(argv[2])
    specs = [s.split(",") for s in argv[3].split("/")]
    data = np.fromfile(argv[4], dtype="<f4")
    if data.size != count * (steps + 1):
        raise SystemExit("rt_optim.py: input has %d floats, expected %d"
                         % (data.size, count * (steps + 1)))
    p0 = data[:count]
    grads = data[count:].reshape(steps, count)
    out = []
    for spec in specs:
        param = torch.nn.Parameter(torch.tensor(p0.copy()))
        optimizer = make_optimizer(spec, param)
        scheduler = make_scheduler(spec, optimizer)
        lrs = []
        for t in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            param.grad = torch.tensor(grads[t].copy())
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        out.append(param.detach().numpy().copy())
        out.append(np.array(lrs))
    np.concatenate(out).astype("<f4").tofile(argv[5])


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")     # SequentialLR's step(0) deprecation notice
    main(sys.argv)
