# REQUIRES: numpy
# RUN: %python %s %qat_src_root/test/Dialect/QAT/Transforms/Inputs
#
# The random-weight blocks of integration_test/convert/blocks_int8.py (ResNet
# basic block, ResNet bottleneck with a strided downsample, MobileNetV2
# inverted residual, classifier head with average pool and FC) for bpu,
# bpu:pow2 and bpu:per-channel: prepared, calibrated on 4 random batches,
# frozen, converted to integer, then compiled for the NPU and run in the
# simulator on 16 random inputs by qat-npu-check against the integer model
# on the CPU. Every output code must be equal. Prints the per-layer cycles
# and GEMM utilization of the bpu blocks (docs/NPU.md).
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import prepare_and_calibrate, random_blocks, tool  # noqa: E402

failures = 0
rng = np.random.default_rng(3)
for block, src, p, data in random_blocks(sys.argv[1], rng):
    for target in ["bpu", "bpu:pow2", "bpu:per-channel"]:
        prepare_and_calibrate(block, src, target, data, p)
        tool("qat-opt", p("calibrated.mlir"), "--qat-freeze-qparams", "--qat-verify-target",
             "-o", p("frozen.mlir"))
        tool("qat-opt", p("frozen.mlir"), "--qat-convert-to-integer", "-o", p("int8.mlir"))
        r = tool("qat-npu-check", p("int8.mlir"), "--input", p("x.npy"), "--split",
                 *([] if target == "bpu" else ["--quiet"]), check=False)
        lines = [line for line in r.stdout.splitlines() if line.startswith("output")]
        print("%-17s %-15s %s" % (block, target, "; ".join(
            line.split(": ", 1)[1] for line in lines) or r.stderr.strip()))
        if target == "bpu":
            print("\n".join("    " + line for line in r.stdout.splitlines()
                            if line.startswith(("layer", "conv", "depthwise", "matmul",
                                                "max_pool", "add", "total"))))
        if r.returncode != 0 or not lines or any(" 0 of " not in line for line in lines):
            failures += 1
            print(r.stdout, r.stderr)
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
