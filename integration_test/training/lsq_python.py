# REQUIRES: torch
# RUN: %python %s
#
# LSQ (learned scales and zero points) from the Python API
# (docs/Training.md, "Learned quantizer parameters"): Trainer(lsq=True,
# calibration=...) and prepare_qat(lsq=True, calibration=...), on the
# bundled Fashion-MNIST CNN calibrated on 4 batches, x86 and bpu, LSQ's
# grad_factor. Checked:
#   - the Trainer's module is lsq_parity.py's (which is checked against
#     torch._fake_quantize_learnable_* through the network): its
#     gradients, scales and zero points included, equal that module's bit
#     for bit; the LSQ scales start at the calibrated ones;
#   - prepare_qat's module has the scales and zero points among its
#     torch.nn.Parameters; 5 steps of torch.optim.SGD on it stay within
#     1e-5 of 5 compiled SGD steps of the Trainer (the loss gradient is
#     PyTorch's cross-entropy there, the compiled one here);
#   - its convert() gives an int8 model equal to its simulation;
#   - lsq=True with bn_mode="train", or without calibration, is a
#     ValueError naming the argument.
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion_mnist"))
import fmnist  # noqa: E402
import qat_mlir  # noqa: E402
from common import check, finish, rel  # noqa: E402
from lsq_parity import lsq_trainable  # noqa: E402
from qat_mlir import training  # noqa: E402




def main():
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "..", "..", "examples", "fashion_mnist", "model.mlir")) as f:
        text = f.read()
    x, y = fmnist.load("train")
    y = y.astype(np.int32)
    xt, _ = fmnist.load("t10k")
    cal = [x[i * 32:(i + 1) * 32] for i in range(4)]
    opts = dict(momentum=0.9, weight_decay=1e-4)
    for target in ("x86", "bpu"):
        tr = training.Trainer(text, target=target, lsq=True, lsq_grad_factor="lsq",
                              calibration=cal, **opts)
        names = [n for n in tr.state_names if n.startswith("lsq") and "momentum" not in n]
        check(len(names) >= 7, "%s: LSQ parameters %s" % (target, names))
        ref_text, _ = lsq_trainable(text, target, x, "lsq")
        ref = qat_mlir.compile(ref_text, entry=["main_gradients"])["main_gradients"]
        xb, yb = x[1000:1032], y[1000:1032]
        loss, grads = tr.gradients(xb, yb)
        r = ref(xb, yb)
        same = loss == float(r[0]) and all(np.array_equal(g, o) for g, o in zip(grads, r[1:]))
        check(same, "%s: Trainer(lsq=True) gradients differ from lsq_parity's module" % target)
        print("%s: Trainer(lsq=True): %d LSQ parameters (%s, ...); gradients equal lsq_parity's "
              "module bit for bit: %s" % (target, len(names), ", ".join(names[:2]), same))

        # prepare_qat exports the module (NCHW input, so the linear weight is
        # over (c, h, w)): the Trainer it is compared with takes the same
        # export.
        net = fmnist.load_net()
        ex = torch.from_numpy(x[:32]).permute(0, 3, 1, 2)
        nchw = [np.ascontiguousarray(c.transpose(0, 3, 1, 2)) for c in cal]
        m = qat_mlir.prepare_qat(net, ex, target=target, lsq=True, lsq_grad_factor="lsq",
                                 calibration=[torch.from_numpy(c) for c in nchw])
        tr = training.Trainer(qat_mlir.export(net, ex, name="main"), target=target, lsq=True,
                              lsq_grad_factor="lsq", calibration=nchw, **opts)
        pnames = [n for n, _ in m.named_parameters()]
        names = [n for n in pnames if n.startswith("lsq")]
        check(len(names) >= 7, "%s: prepare_qat parameters %s" % (target, pnames))
        state = tr.state_dict()
        start = max(rel(p.detach().numpy(), state[n]) for n, p in m.named_parameters())
        check(start == 0, "%s: prepare_qat starts %.3g from the Trainer" % (target, start))
        opt = torch.optim.SGD(m.parameters(), lr=0.01, **opts)
        worst = 0.0
        for s in range(5):
            xs, ys = x[2000 + 32 * s:2032 + 32 * s], y[2000 + 32 * s:2032 + 32 * s]
            opt.zero_grad()
            F.cross_entropy(m(torch.from_numpy(xs).permute(0, 3, 1, 2)),
                            torch.from_numpy(ys).long()).backward()
            opt.step()
            tr.step(np.ascontiguousarray(xs.transpose(0, 3, 1, 2)), ys, 0.01)
            params = dict(zip([n for n in tr.state_names if n in pnames], tr.parameters()))
            worst = max(worst, max(rel(p.detach().numpy(), params[n])
                                   for n, p in m.named_parameters()))
        check(worst <= 1e-5, "%s: prepare_qat vs Trainer after 5 steps: %.3g" % (target, worst))
        moved = max(rel(getattr(m, n).detach().numpy(), state[n]) for n in names)
        check(moved > 0, "%s: the LSQ parameters did not move" % target)
        xq = np.ascontiguousarray(xt[:320].transpose(0, 3, 1, 2))
        a = qat_mlir.compile(m.convert())(xq, split=True)
        b = qat_mlir.compile(m.convert(simulate=True))(xq, split=True)
        check(np.array_equal(a, b), "%s: int8 and simulation differ in %d logits"
              % (target, int(np.sum(a != b))))
        print("%s: prepare_qat(lsq=True): 5 torch.optim.SGD steps within %.2g of the compiled "
              "SGD (LSQ parameters moved by up to %.2g relative); int8 = simulation on %d "
              "logits" % (target, worst, moved, a.size))

    for kwargs, word in ((dict(bn_mode="train", calibration=cal), "bn_mode"),
                         (dict(), "calibration")):
        try:
            training.Trainer(text, lsq=True, **kwargs)
            check(False, "lsq=True with %s: no error" % kwargs)
        except ValueError as e:
            check(word in str(e), "error does not name %s: %s" % (word, e))
            print("lsq=True, %s: ValueError: %s" % (word, e))
    finish()


if __name__ == "__main__":
    main()
