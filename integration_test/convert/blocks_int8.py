# REQUIRES: numpy
# RUN: %python %s %qat_src_root/test/Dialect/QAT/Transforms/Inputs
#
# Random-weight ResNet basic block, ResNet bottleneck with a strided
# downsample, MobileNetV2 inverted residual and a classifier head (average
# pool, fully connected), for x86, bpu and bpu:pow2:
# prepared, calibrated on 4 random batches, frozen, converted to integer
# (every kernel, add and pool: no op left float) and to its float simulation, then
# run on 16 random inputs. The integer model and its simulation agree bit
# for bit; the printed LSB figures compare the integer model with plain
# fake quantization (docs/Conversion.md).
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, prepare_and_calibrate, random_blocks, tool  # noqa: E402

failures = 0
rng = np.random.default_rng(3)
for block, src, p, data in random_blocks(sys.argv[1], rng):
    for target in ["x86", "bpu", "bpu:pow2"]:
        prepare_and_calibrate(block, src, target, data, p)
        tool("qat-opt", p("calibrated.mlir"), "--qat-freeze-qparams", "-o", p("frozen.mlir"))
        r = tool("qat-opt", p("frozen.mlir"), "--qat-convert-to-integer",
                 "--remarks-filter=qat-convert-to-integer", "-o", p("int8.mlir"))
        left = [line.split("Remark=")[1] for line in r.stderr.splitlines()
                if "[Missed]" in line]
        tool("qat-opt", p("frozen.mlir"), "--qat-convert-to-integer=simulate=true",
             "-o", p("simulation.mlir"))
        out = {}
        for m in ["frozen", "int8", "simulation"]:
            tool("qat-run", p(m + ".mlir"), "--entry", block, "--input", p("x.npy"),
                 "--output", p(m + ".npy"), "--split")
            out[m] = np.load(p(m + ".npy"))
        mism = bit_mismatches(out["int8"], out["simulation"])
        text = open(p("int8.mlir")).read()
        scale = float(text.split("qat.dequantize")[0].rsplit("arith.constant dense<", 2)[1]
                      .split(">")[0])
        lsb = np.abs(out["int8"] - out["frozen"]) / np.float32(scale)
        print("%-17s %-8s int8 vs simulation: %d of %d differ; int8 vs fake quant: %d "
              "differ, at most %.0f LSB%s"
              % (block, target, mism, out["int8"].size, int(np.sum(lsb > 0.5)), lsb.max(),
                 "; LEFT FLOAT: %s" % left if left else ""))
        if mism or left:
            failures += 1
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
