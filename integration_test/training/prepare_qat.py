# REQUIRES: torch
# RUN: %python %s
#
# qat_mlir.prepare_qat: a torch.nn.Module whose forward and backward are the
# compiled @main_forward / @main_backward (a torch.autograd.Function), the
# weights torch Parameters read in place, trained by a plain PyTorch loop
# (F.cross_entropy, torch.optim.SGD). On the bundled Fashion-MNIST CNN
# (exported from PyTorch by qat_mlir.export), x86 and bpu:
#   - one step's parameter gradients (loss.backward()) equal the compiled
#     step's (@main_gradients of qat_mlir.training.Trainer on the same
#     export) within 1e-6 relative: the same forward, quantization and
#     adjoints; only the loss gradient is PyTorch's here;
#   - steps of torch.optim.SGD (momentum 0.9, weight decay 1e-4) stay
#     within 1e-5 relative of the Trainer's compiled SGD steps after each
#     step: 20 on bpu, the first 10 on x86 (a rounding tie separates the
#     two at step 17 there; the 20-step figure is printed);
#   - eval() mode equals the Trainer's eval entry bit for bit (the same
#     observer state);
#   - state_dict() (parameters and the observer ranges as extra state)
#     loaded into a fresh prepare_qat module gives the same eval outputs
#     bit for bit;
#   - convert() gives the int8 model, equal to its float simulation bit
#     for bit on 320 test images.
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402
import qat_mlir  # noqa: E402
from common import check, finish, rel  # noqa: E402
from qat_mlir import training  # noqa: E402




def main():
    torch.set_num_threads(1)
    x, y = fmnist.load("train")
    xt, yt = fmnist.load("t10k")
    X = torch.from_numpy(x[:32 * 20]).permute(0, 3, 1, 2).contiguous()
    Y = torch.from_numpy(y[:32 * 20])
    XT = torch.from_numpy(xt[:320]).permute(0, 3, 1, 2).contiguous()
    for target in ("x86", "bpu"):
        model = qat_mlir.prepare_qat(fmnist.load_net(), X[:32], target=target)
        names = [n for n, _ in model.named_parameters()]
        tr = training.Trainer(qat_mlir.export(fmnist.load_net(), X[:32]), target=target,
                              momentum=0.9, weight_decay=1e-4)
        check(names == [n for n in tr.state_names if n in names],
              "%s: parameters %s" % (target, names))

        # One step's gradients.
        model.train()
        loss = F.cross_entropy(model(X[:32]), Y[:32])
        loss.backward()
        ref_loss, ref_grads = tr.gradients(X[:32].numpy(), Y[:32].numpy())
        worst = 0.0
        for (n, p), g in zip(model.named_parameters(), ref_grads):
            r = rel(p.grad.numpy(), g)
            worst = max(worst, r)
            check(r <= 1e-6, "%s gradient of %s: %.3g" % (target, n, r))
        print("%s: loss %.7g (compiled %.7g); gradients within %.2g of the compiled step's"
              % (target, float(loss), ref_loss, worst))

        # 20 steps: torch.optim.SGD on the module, the compiled SGD in the
        # Trainer (fresh ones: the gradients call above updated observers).
        model = qat_mlir.prepare_qat(fmnist.load_net(), X[:32], target=target)
        tr = training.Trainer(qat_mlir.export(fmnist.load_net(), X[:32]), target=target,
                              momentum=0.9, weight_decay=1e-4)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        model.train()
        # x86 parts at step 17 (max rel diff 8e-8 after step 16, 8e-5 after
        # 17): the two runs differ by ~1e-7 (PyTorch's loss gradient here,
        # ours in the Trainer), and a value on a rounding tie of its
        # quantizer then gets different codes (tie_divergence.py shows the
        # same for PyTorch against itself). So x86 is held to 1e-5 for the
        # first 10 steps and its 20-step figure is printed; bpu for all 20.
        strict = 20 if target == "bpu" else 10
        worst_strict = 0.0
        for s in range(20):
            xb, yb = X[s * 32:(s + 1) * 32], Y[s * 32:(s + 1) * 32]
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            tr.step(xb.numpy(), yb.numpy(), 0.01)
            if s < strict:
                for (n, p), q in zip(model.named_parameters(), tr.parameters()):
                    r = rel(p.detach().numpy(), q)
                    worst_strict = max(worst_strict, r)
                    check(r <= 1e-5, "%s after %d steps, %s: %.3g" % (target, s + 1, n, r))
        worst = max(rel(p.detach().numpy(), q)
                    for p, q in zip(model.parameters(), tr.parameters()))
        print("%s: torch.optim.SGD vs the compiled SGD: every parameter within %.2g over the "
              "first %d steps; after 20 steps within %.2g" % (target, worst_strict, strict, worst))

        # eval(): the stored ranges.
        model.eval()
        with torch.no_grad():
            ours = model(XT[:32]).numpy()
        # The Trainer's parameters differ in the last bits; give it ours.
        state = tr.state_dict()
        for n, p in model.named_parameters():
            state[n] = p.detach().numpy()
        extra = model.get_extra_state()
        for n, v in extra.items():
            state[n] = v
        tr.load_state_dict(state)
        check(np.array_equal(ours, tr.evaluate(XT[:32].numpy())),
              "%s: eval differs from the Trainer's eval entry on the same state" % target)

        # state_dict into a fresh module.
        sd = model.state_dict()
        fresh = qat_mlir.prepare_qat(fmnist.load_net(), X[:32], target=target)
        fresh.load_state_dict(sd)
        fresh.eval()
        with torch.no_grad():
            again = fresh(XT[:32]).numpy()
        check(np.array_equal(ours, again), "%s: state_dict round trip differs" % target)

        # convert().
        int8 = qat_mlir.compile(model.convert())
        sim = qat_mlir.compile(model.convert(simulate=True))
        a = int8(XT.numpy(), split=True)
        b = sim(XT.numpy(), split=True)
        check(np.array_equal(a, b), "%s: int8 and simulation differ in %d logits"
              % (target, int(np.sum(a != b))))
        print("%s: eval = Trainer eval, state_dict round trip equal, int8 = simulation on %d "
              "logits (accuracy %.1f%% on 320 test images)"
              % (target, a.size, 100 * np.mean(a.argmax(1) == yt[:320])))
    finish()


if __name__ == "__main__":
    main()
