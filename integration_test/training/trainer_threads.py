# REQUIRES: numpy, fashion-mnist
# RUN: %python %s
#
# qat_mlir.training.Trainer(threads=N) runs the compiled step's kernels on
# N OpenMP threads (bench/qat_train_step.py --threads times it so), on the
# bundled Fashion-MNIST CNN, x86, BN folded and BN trained:
#   - with threads=2 the step starts OpenMP worker threads in this process
#     (the elementwise loops of 65,536 elements or more are split; with
#     parallel_min_macs=0 every kernel too, the default threshold leaving
#     this small model's kernels on one thread); threads=1 starts none
#     (checked with BN folded, the first runs of the process);
#   - the runs give the same losses and the same state (parameters,
#     momentum buffers, observer ranges, running statistics) after 6 SGD
#     steps on real batches, bit for bit: threads split outputs, never a sum
#     (docs/Kernels.md).
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402
from common import check, finish  # noqa: E402
from qat_mlir import training  # noqa: E402

STEPS = 6


def os_threads():
    return len(os.listdir("/proc/self/task"))


def main():
    with open(os.path.join(ROOT, "examples", "fashion_mnist", "model.mlir")) as f:
        text = f.read()
    x, y = fmnist.load("train")
    y = y.astype(np.int32)
    for bn_mode in ("fold", "train"):
        runs = {}
        # threads=1 first: no OpenMP worker may exist before it runs.
        for threads, min_macs in ((1, 0), (2, None), (2, 0)) if bn_mode == "fold" else \
                ((1, 0), (2, 0)):
            tr = training.Trainer(text, target="x86", momentum=0.9, weight_decay=1e-4,
                                  bn_mode=bn_mode, threads=threads,
                                  parallel_min_macs=min_macs)
            before = os_threads()
            losses = [tr.step(x[32 * s:32 * s + 32], y[32 * s:32 * s + 32], 0.01)
                      for s in range(STEPS)]
            started = os_threads() - before
            name = "bn %s, threads %d, parallel_min_macs %s" % (bn_mode, threads, min_macs)
            # OpenMP keeps its workers: only the first mode sees them start.
            if bn_mode == "fold" and threads == 1:
                check(started == 0, "%s: the steps started %d threads" % (name, started))
            elif bn_mode == "fold" and min_macs is None:
                check(started >= 1, "%s: the steps started no thread" % name)
            runs[threads, min_macs] = (losses, tr.state_dict())
        ref_losses, ref_state = runs[1, 0]
        for key, (losses, state) in runs.items():
            check(losses == ref_losses,
                  "bn %s, threads %d: losses %s, one thread %s" % (bn_mode, key[0], losses,
                                                                   ref_losses))
            check(sorted(state) == sorted(ref_state), "bn %s: state names differ" % bn_mode)
            for k in ref_state:
                a, b = np.asarray(state[k]), np.asarray(ref_state[k])
                check(a.shape == b.shape and a.tobytes() == b.tobytes(),
                      "bn %s, threads %d, %s: %d of %d values differ from one thread"
                      % (bn_mode, key[0], k, int(np.sum(a != b)) if a.shape == b.shape else -1,
                         b.size))
        print("bn %s: %d steps equal bit for bit at (threads, parallel_min_macs) %s; "
              "losses %s" % (bn_mode, STEPS, sorted(runs, key=str), ref_losses))
    finish()


if __name__ == "__main__":
    main()
