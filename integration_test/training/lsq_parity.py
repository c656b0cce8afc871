# REQUIRES: torch
# RUN: %python %s --quick
#
# LSQ through a whole network: the scale and zero-point gradients of every
# learned quantizer equal PyTorch 1.13's
# torch._fake_quantize_learnable_per_{tensor,channel}_affine.
#
# The bundled Fashion-MNIST CNN is prepared for a target, calibrated on 4
# batches of 32 real images, frozen (qat-freeze-qparams), then made
# trainable with qat-make-trainable{lsq=true}: every fake quantizer
# (activations per tensor, weights per channel) becomes qat.lsq whose scale
# and zero point are parameters, initialised to the frozen values. The
# reference (reference.py) runs the same graph with PyTorch's kernels,
# qat.lsq as PyTorch's learnable fake quantization and autograd.
# gradient_parity.one_step compares, for one step on 32 images: the loss,
# every parameter gradient (weights, biases, each quantizer's scale and zero
# point) within 1e-5 of PyTorch's relative to its largest magnitude, and
# every clip mask (a per-tensor scale's or zero point's gradient is one sum
# over the whole tensor, in different orders here and in PyTorch: those
# within 1e-4); sgd_steps then runs 5 SGD steps (momentum 0.9, weight
# decay 1e-4, lr 0.01) on both and compares every parameter within 1e-4.
# grad_factor: LSQ's 1/sqrt(numel * quant_max) (lsq-grad-factor=lsq) and
# PyTorch's default 1.0 (one step only: unscaled, the scale gradients move
# the scales far at this lr and the two runs part within 5 steps).
# Finally the trainable module converts (qat-finish-training turns each
# qat.lsq back into qat.fake_quant with its parameters' values) and its
# int8 model equals its simulation bit for bit.
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion_mnist"))
import gradient_parity as gp  # noqa: E402
from common import finish, tool  # noqa: E402


def lsq_trainable(text, target, x, grad_factor):
    from qat_mlir import passes
    prepared = passes.prepare(text, target)
    calibrated = passes.calibrate(prepared, "main", [x[i * 32:(i + 1) * 32] for i in range(4)],
                                  progress=False)
    frozen = passes.freeze(calibrated)
    mtext = tool("qat-opt", "-",
                 "--qat-make-trainable=entry=main lsq=true lsq-grad-factor=%s" % grad_factor,
                 "--qat-generate-train-step=entry=main return-quantizer-inputs "
                 "loss=cross-entropy momentum=0.9 weight-decay=1e-4", stdin=frozen)
    generic = tool("qat-opt", "-", "--mlir-print-op-generic",
                   "--mlir-print-elementsattrs-with-hex-if-larger=0", stdin=mtext)
    return mtext, generic


def check_lsq(ok, what):
    """gp.check, with LSQ scale / zero-point gradients held to 1e-4."""
    if not ok and " gradient of lsq" in what and float(what.rsplit(" ", 1)[1]) <= 1e-4:
        print("  (%s: within 1e-4, a sum over a whole tensor)" % what)
        return
    _check(ok, what)


_check = gp.check


def main():
    gp.check = check_lsq
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import fmnist
    import qat_mlir
    _, text, entry, x, y, loss = gp.fashion_mnist()
    cases = [("x86", "lsq"), ("bpu", "lsq"), ("bpu", "one")] if args.quick else \
        [(t, g) for t in ("x86", "bpu") for g in ("lsq", "one")]
    for target, gf in cases:
        mtext, generic = lsq_trainable(text, target, x, gf)
        n_lsq = mtext.split("func.func @main_")[0].count("= qat.lsq ")
        gp.check(n_lsq >= 7, "%s: %d qat.lsq quantizers" % (target, n_lsq))
        gp.check("qat.fake_quant " not in mtext.split("func.func @main_train_step")[0],
                 "%s: a qat.fake_quant left in the forward" % target)
        tag = "fashion_mnist %s lsq grad_factor=%s" % (target, gf)
        gp.one_step(tag, mtext, generic, entry, x[1000:1032], y[1000:1032], loss)
        if gf == "one":
            # Unscaled LSQ gradients (a sum over the whole tensor) move the
            # scales far at lr 0.01: one step only.
            continue
        bx = x[2000:2000 + 32 * 5].reshape(5, 32, 28, 28, 1)
        by = y[2000:2000 + 32 * 5].reshape(5, 32)
        gp.sgd_steps(tag, mtext, generic, entry, bx, by, loss, 0.01, 5)
        # The module (LSQ parameters at their values) converts, and its int8
        # model equals its simulation.
        fin = tool("qat-opt", "-", "--qat-finish-training=entry=main", stdin=mtext)
        gp.check("qat.lsq" not in fin, "%s: qat.lsq left after qat-finish-training" % target)
        from qat_mlir import passes
        frozen = passes.freeze(fin)
        xt, _ = fmnist.load("t10k")
        a = qat_mlir.compile(passes.convert(frozen))(xt[:320], split=True)
        b = qat_mlir.compile(passes.convert(frozen, simulate=True))(xt[:320], split=True)
        gp.check(np.array_equal(a, b), "%s: int8 and simulation differ in %d logits"
                 % (target, int(np.sum(a != b))))
        print("%s: %d qat.lsq quantizers; finished and converted: int8 = simulation on %d "
              "logits" % (tag, n_lsq, a.size))
    finish()


if __name__ == "__main__":
    main()
