#!/usr/bin/env python3
"""Runs the bpu int8 Fashion-MNIST model on the NPU simulator over the
10,000 test images: qat-npu-check compiles it (qat-lower-to-npu), runs every
batch of 32 in the simulator and compares each logit code with the same
integer model on the CPU; this prints the accuracy on the NPU, the
mismatches, and the simulator's per-layer cycles and GEMM utilization.

    /usr/bin/python3 npu_evaluate.py MODEL.int8.mlir [--compare-with CPU_LOGITS.npy]
                                     [--images N] [--qat-npu-check PATH]

--compare-with: logits of the CPU int8 model (evaluate.py --logits), which
the NPU's must equal bit for bit.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate  # noqa: E402
import fmnist  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--compare-with", help="CPU int8 logits (.npy)")
ap.add_argument("--images", type=int, default=10000)
ap.add_argument("--qat-npu-check", default="qat-npu-check")
args = ap.parse_args()

images, labels = fmnist.load("t10k")
images, labels = images[:args.images], labels[:args.images]
batch = evaluate.model_batch(args.model)
n = len(images)
padded = np.zeros(((n + batch - 1) // batch * batch,) + images.shape[1:], images.dtype)
padded[:n] = images
with tempfile.TemporaryDirectory() as tmp:
    x, y = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(x, padded)
    r = subprocess.run([args.qat_npu_check, args.model, "--input", x, "--split", "--output", y],
                       capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.exit(r.stderr or "qat-npu-check failed")
    logits = np.load(y)[:n]
line = "int8 (bpu) on the NPU simulator: accuracy %.2f%% on %d test images" % (
    100.0 * np.mean(logits.argmax(1) == labels), n)
if args.compare_with:
    cpu = np.load(args.compare_with)[:n]
    differ = int(np.sum(cpu.view(np.uint32) != logits.view(np.uint32)))
    line += "; CPU int8 accuracy %.2f%%; %d of %d logits differ from the CPU's" % (
        100.0 * np.mean(cpu.argmax(1) == labels), differ, logits.size)
    if differ:
        print(line)
        sys.exit("the NPU and the CPU int8 model differ")
print(line)
