# REQUIRES: torch
# RUN: %python %s
#
# freeze_bn_stats from a chosen step, and disable_observer from a chosen
# step, against PyTorch 1.13's ConvBnReLU2d modules (convbn_parity.py's
# Fashion-MNIST CNN, x86, batch norm on batch statistics): 6 SGD steps
# (momentum 0.9, weight decay 1e-4); before step 3 PyTorch's
# disable_observer and our Trainer.disable_observers(), before step 5
# torch.nn.intrinsic.qat.freeze_bn_stats and Trainer.freeze_bn_stats().
# Each step is checked from the same state (our state loaded into
# PyTorch's modules and optimizer first, as convbn_parity.py does): every
# parameter within 1e-6 relative after it. Also checked: after
# disable_observer the activation ranges stay as they were; after
# freeze_bn_stats the running statistics stay as they were (bit for bit,
# ours and PyTorch's), and one step's gradients on running statistics are
# within 1e-5 of PyTorch's; update_bn_stats resumes the batch statistics;
# the prepare_qat module's freeze_bn_stats() does the same; a model without
# batch statistics has no freeze_bn_stats (ValueError).
import os
import sys

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn.functional as F
import torch.nn.intrinsic.qat as nniqat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion_mnist"))
import convbn_parity as cp  # noqa: E402
import fmnist  # noqa: E402
import qat_mlir  # noqa: E402
from common import check, finish, rel  # noqa: E402
from qat_mlir import training  # noqa: E402




def running(state):
    return {k: state[k].copy() for k in state if "_bn_running_" in k}


def acts(state):
    return {k: state[k].copy() for k in state if k.startswith("act")}


def main():
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    x, y = fmnist.load("train")
    X = torch.from_numpy(x[:32 * 6]).permute(0, 3, 1, 2)  # channels last
    Y = torch.from_numpy(y[:32 * 6])
    text = fmnist.export_tosa(fmnist.load_net(), 32)
    tr = training.Trainer(text, target="x86", bn_mode="train", momentum=0.9, weight_decay=1e-4)
    model = cp.pytorch_model("x86")
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    params = [n for n in tr.state_names if n in cp.torch_params(model)]
    for s in range(6):
        if s == 2:
            tr.disable_observers()
            model.apply(tq.disable_observer)
            frozen_acts = acts(tr.state_dict())
        if s == 4:
            tr.freeze_bn_stats()
            model.apply(nniqat.freeze_bn_stats)
            frozen_bn = running(tr.state_dict())
            # One step's gradients on the running statistics, same state.
            cp.load_ours(model, opt, tr.state_dict())
            opt.zero_grad()
            F.cross_entropy(model(X[32 * s:32 * (s + 1)]), Y[32 * s:32 * (s + 1)]).backward()
            _, grads = tr.gradients(x[32 * s:32 * (s + 1)], y[32 * s:32 * (s + 1)].astype(np.int32))
            tp = cp.torch_params(model)
            worst = 0.0
            # (The conv biases are no longer zero up to rounding: with running
            # statistics they reach the output.)
            for n, g in zip(params, grads):
                r = rel(g, tp[n][1](tp[n][0].grad).numpy())
                worst = max(worst, r)
                check(r <= 1e-5, "frozen batch norm: gradient of %s %.3g" % (n, r))
            print("freeze_bn_stats: one step's gradients within %.2g of PyTorch's" % worst)
        before = tr.state_dict()
        cp.load_ours(model, opt, before)
        opt.zero_grad()
        F.cross_entropy(model(X[32 * s:32 * (s + 1)]), Y[32 * s:32 * (s + 1)]).backward()
        opt.step()
        tr.step(x[32 * s:32 * (s + 1)], y[32 * s:32 * (s + 1)].astype(np.int32), 0.01)
        tp = cp.torch_params(model)
        d = max(rel(p, tp[n][1](tp[n][0].detach()).numpy())
                for n, p in zip(params, tr.parameters()))
        after = tr.state_dict()
        note = ""
        if s >= 2:
            same = all(np.array_equal(after[k], v) for k, v in frozen_acts.items())
            check(same, "step %d: activation ranges moved after disable_observers" % (s + 1))
            note += ", observer ranges unchanged"
        if s >= 4:
            same = all(np.array_equal(after[k], v) for k, v in frozen_bn.items())
            check(same, "step %d: running statistics moved after freeze_bn_stats" % (s + 1))
            ref_same = all(
                np.array_equal(bn.running_mean.numpy(), frozen_bn[k + "_bn_running_mean"])
                and np.array_equal(bn.running_var.numpy(), frozen_bn[k + "_bn_running_var"])
                for k, bn in cp.batch_norms(model).items())
            check(ref_same, "step %d: PyTorch's running statistics moved" % (s + 1))
            note += ", running statistics unchanged (ours and PyTorch's)"
        elif s < 4:
            moved = any(not np.array_equal(after[k], before[k]) for k in running(before))
            check(moved, "step %d: running statistics did not update" % (s + 1))
        print("step %d from the same state: every parameter within %.2g%s" % (s + 1, d, note))
        check(d <= 1e-6, "step %d: %.3g" % (s + 1, d))
    tr.update_bn_stats()
    b = running(tr.state_dict())
    tr.step(x[:32], y[:32].astype(np.int32), 0.01)
    check(any(not np.array_equal(tr.state_dict()[k], v) for k, v in b.items()),
          "update_bn_stats: running statistics did not update")
    print("update_bn_stats: running statistics update again")

    # The prepare_qat module.
    net = fmnist.load_net()
    m = qat_mlir.prepare_qat(net, X[:32], bn_mode="train")
    o = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    for s in range(3):
        if s == 1:
            m.freeze_bn_stats()
            b = {k: v for k, v in m.get_extra_state().items() if "_bn_running_" in k}
        o.zero_grad()
        F.cross_entropy(m(X[32 * s:32 * (s + 1)]), Y[32 * s:32 * (s + 1)]).backward()
        o.step()
    e = m.get_extra_state()
    check(all(np.array_equal(e[k], v) for k, v in b.items()),
          "prepare_qat: running statistics moved after freeze_bn_stats()")
    print("prepare_qat module: freeze_bn_stats() keeps the running statistics")
    try:
        training.Trainer(text, target="x86").freeze_bn_stats()
        check(False, "freeze_bn_stats without batch statistics: no error")
    except ValueError as err:
        print("bn_mode='fold': ValueError: %s" % err)
    finish()


if __name__ == "__main__":
    main()
