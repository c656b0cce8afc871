# REQUIRES: torch
# RUN: %python %s
#
# The in-process training path (qat_mlir.training.Trainer: the step compiled
# once by the runtime, parameters kept in the compiled module's globals) on
# the bundled Fashion-MNIST CNN, x86 and bpu:
#   - 5 SGD steps (momentum 0.9, weight decay 1e-4, lr 0.01) on real
#     batches leave every parameter within 1e-6 relative of PyTorch's
#     (reference.py: the same graph on PyTorch's kernels, observers, fake
#     quantization and autograd, torch.optim.SGD). Longer runs part when a
#     value falls on a rounding tie (docs/Training.md; on these batches
#     the x86 run meets one at step 9);
#   - a checkpoint (state_dict) taken after 10 steps and loaded back gives
#     the same next 10 steps bit for bit (every global: parameters, momentum
#     buffers, observer ranges, step counter);
#   - the trained model converts (qat-finish-training, qat-freeze-qparams,
#     qat-convert-to-integer) and its int8 model equals its float
#     simulation bit for bit on 320 test images;
#   - bad input (labels out of range, a batch of the wrong shape) is an
#     error naming the argument.
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
from common import check, finish, rel, tool  # noqa: E402
from qat_mlir import training  # noqa: E402
from reference import Module, Reference  # noqa: E402

STEP_TOL, REF_STEPS = 1e-6, 5



def main():
    torch.set_num_threads(1)
    with open(os.path.join(ROOT, "examples", "fashion_mnist", "model.mlir")) as f:
        text = f.read()
    x, y = fmnist.load("train")
    y = y.astype(np.int32)
    xt, yt = fmnist.load("t10k")
    bx = x[:32 * 20].reshape(20, 32, 28, 28, 1)
    by = y[:32 * 20].reshape(20, 32)
    for target in ("x86", "bpu"):
        tr = training.Trainer(text, target=target, momentum=0.9, weight_decay=1e-4)
        generic = tool("qat-opt", "-", "--mlir-print-op-generic",
                       "--mlir-print-elementsattrs-with-hex-if-larger=0", stdin=tr.mlir)
        params = Module(generic).parameters()
        checkpoint = None
        for s in range(20):
            if s == REF_STEPS:
                ours = dict(zip(params, tr.parameters()))
            if s == 10:
                checkpoint = tr.state_dict()
            loss, correct = tr.step(bx[s], by[s], 0.01)
            check(np.isfinite(loss) and 0 <= correct <= 32,
                  "%s step %d: loss %r, correct %r" % (target, s, loss, correct))
        after = tr.state_dict()

        ref = Reference(generic, "main")
        opt = torch.optim.SGD(list(ref.params.values()), lr=0.01, momentum=0.9,
                              weight_decay=1e-4)
        for s in range(REF_STEPS):
            opt.zero_grad()
            out = ref.forward(torch.tensor(bx[s]))[0]
            F.cross_entropy(out, torch.tensor(by[s], dtype=torch.int64)).backward()
            opt.step()
        worst = 0.0
        for p in params:
            r = rel(ours[p], ref.params[p].detach().numpy())
            worst = max(worst, r)
            check(r <= STEP_TOL, "%s after %d steps, %s: %.3g" % (target, REF_STEPS, p, r))
        print("%s: after %d steps every parameter within %.2g of PyTorch's (relative)"
              % (target, REF_STEPS, worst))

        # Checkpoint: back to step 10, the same 10 steps again.
        tr.load_state_dict(checkpoint)
        for s in range(10, 20):
            tr.step(bx[s], by[s], 0.01)
        again = tr.state_dict()
        differ = [n for n in after if not np.array_equal(after[n], again[n])]
        check(not differ, "%s: resumed from step 10, %s differ" % (target, differ))
        print("%s: %d globals equal bit for bit after resuming from step 10"
              % (target, len(after) - len(differ)))

        # The trained model converts; int8 equals its simulation.
        int8 = qat_mlir.compile(tr.convert())
        sim = qat_mlir.compile(tr.convert(simulate=True))
        a = int8(xt[:320], split=True)
        b = sim(xt[:320], split=True)
        check(np.array_equal(a, b), "%s: int8 and simulation differ in %d of %d logits"
              % (target, int(np.sum(a != b)), a.size))
        evaluated = tr.evaluate(xt[:32])
        agree = float(np.mean(evaluated.argmax(1) == a[:32].argmax(1)))
        print("%s: int8 = simulation on %d logits; accuracy %.1f%% on 320 test images; "
              "predictions of eval and int8 agree on %.0f%% of 32"
              % (target, a.size, 100 * np.mean(a.argmax(1) == yt[:320]), 100 * agree))

        # Errors name the argument.
        bad = by[0].copy()
        bad[3] = 10
        try:
            tr.step(bx[0], bad, 0.01)
            check(False, "%s: a label of 10 was accepted" % target)
        except ValueError as e:
            print("%s: %s" % (target, e))
            check("label" in str(e) and "10" in str(e), "%s: message %r" % (target, str(e)))
        try:
            tr.step(bx[0][:16], by[0], 0.01)
            check(False, "%s: a batch of 16 was accepted" % target)
        except ValueError as e:
            print("%s: %s" % (target, e))
    finish()


if __name__ == "__main__":
    main()
