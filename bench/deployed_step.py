"""Step time of the training step in numerics=deployed against
numerics=fake-quant (issue 18, docs/Deployed.md), on the bundled
Fashion-MNIST CNN (batch 32, cross-entropy) and the ResNet basic block with
a strided downsample of integration_test/training (batch 4, MSE): both
modes compiled from the same frozen trainable module, one thread, called
on the same batch in interleaved rounds; prints the median time per step
of each and their ratio. Run it while holding the CPU lock:

    /usr/bin/python3 bench/deployed_step.py [--rounds 7] [--steps 20]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "integration_test", "training"))
import deployed_common as dc  # noqa: E402
import gradient_parity as gp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--targets", default="x86,bpu")
    args = ap.parse_args()
    _, fm_text, _, fx, fy, _ = gp.fashion_mnist()
    cases = [("Fashion-MNIST CNN", fm_text, "main", fx[:32], fy[:32], "cross-entropy",
              [fx[32 * (k + 1):32 * (k + 2)] for k in range(4)])]
    _, text, entry, bx, by, loss = gp.exported_block("resnet")
    cases.append(("ResNet basic block", text, entry, bx[0], by[0], loss, list(bx[1:5])))
    print("%-20s %-6s %14s %14s %8s" % ("model", "target", "fake-quant ms", "deployed ms",
                                        "ratio"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, text, entry, x, y, loss, calib in cases:
            path = os.path.join(tmp, entry + ".mlir")
            with open(path, "w") as f:
                f.write(text)
            data = []
            for k, b in enumerate(calib):
                p = os.path.join(tmp, "%s%d.npy" % (entry, k))
                np.save(p, b)
                data.append(p)
            for target in args.targets.split(","):
                trainable = dc.frozen_trainable(path, target, data, tmp, entry)
                steps = {}
                for numerics in ("fake-quant", "deployed"):
                    module = dc.train_module(trainable, numerics, "loss=%s momentum=0.9" % loss,
                                             entry)
                    steps[numerics] = dc.compile_train(module, entry)[entry + "_train_step"]
                lr = np.array(1e-4, np.float64)
                times = {k: [] for k in steps}
                for _ in range(args.rounds):
                    for k, fn in steps.items():
                        fn(x, y, lr)
                        t = time.perf_counter()
                        for _ in range(args.steps):
                            fn(x, y, lr)
                        times[k].append((time.perf_counter() - t) * 1e3 / args.steps)
                fq, dep = np.median(times["fake-quant"]), np.median(times["deployed"])
                print("%-20s %-6s %14.2f %14.2f %8.2f" % (name, target, fq, dep, dep / fq),
                      flush=True)


if __name__ == "__main__":
    main()
