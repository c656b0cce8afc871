# REQUIRES: numpy, fashion-mnist
# RUN: %python %s
#
# Deployed numerics through the Python training API (issue 18,
# docs/Deployed.md): qat_mlir.training.Trainer(calibrated, prepared=True,
# numerics="deployed") freezes the calibrated model's quantization
# parameters and trains on the target's integer arithmetic. On the bundled
# Fashion-MNIST CNN (calibrated on 20 x 32 training images, 20 SGD steps of
# 32, lr 0.01, momentum 0.9), x86 and bpu: Trainer.evaluate() equals the
# int8 model of Trainer.convert() bit for bit on 2,048 test images, where
# the same Trainer in numerics="fake-quant" differs (count printed). A
# deployed Trainer of an uncalibrated model is refused.
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deployed_common as dc  # noqa: E402

sys.path.insert(0, os.path.join(dc.ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402

from qat_mlir.training import Trainer  # noqa: E402

MODEL = os.path.join(dc.ROOT, "examples", "fashion_mnist", "model.mlir")
train, train_labels = fmnist.load("train")
test, _ = fmnist.load("t10k")
test = test[:2048]
B = 32
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    data = []
    for i in range(20):
        p = os.path.join(tmp, "b%02d.npy" % i)
        np.save(p, train[i * B:(i + 1) * B])
        data.append(p)
    for target in ("x86", "bpu"):
        calibrated = open(dc.calibrated(MODEL, target, data, tmp)).read()
        for numerics in ("fake-quant", "deployed"):
            t = Trainer(calibrated, target=target, prepared=True, numerics=numerics,
                        momentum=0.9)
            for s in range(20):
                sl = slice((100 + s) * B, (101 + s) * B)
                t.step(train[sl], train_labels[sl], 0.01)
            ev = dc.run_batches(t.evaluate, test, B)
            iq = dc.run_batches(dc.qat_mlir.compile(t.convert()), test, B)
            differ = int(np.sum(ev.view(np.uint32) != iq.view(np.uint32)))
            ok = numerics != "deployed" or differ == 0
            print("%s %s: Trainer.evaluate vs the int8 model of Trainer.convert(): %d of %d "
                  "logits differ%s" % (target, numerics, differ, ev.size, "" if ok else "  FAILED"),
                  flush=True)
            failures += not ok
    try:
        Trainer(open(MODEL).read(), target="x86", numerics="deployed")
        print("uncalibrated deployed Trainer accepted  FAILED")
        failures += 1
    except ValueError as e:
        print("uncalibrated model refused: %s" % e)
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
