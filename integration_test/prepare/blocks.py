# REQUIRES: numpy
# RUN: %python %s %qat_src_root/test/Dialect/QAT/Transforms/Inputs
#
# Runs the ResNet basic block, the ResNet bottleneck and the MobileNetV2
# inverted residual (float TOSA with decomposed batch norm):
#  1. before and after qat-fold-conv-bn: outputs agree to float tolerance;
#  2. prepared for x86, bpu and bpu:per-channel:pow2 (qat-prepare, which
#     ends with qat-verify-target), calibrated with qat-calibrate on one
#     batch, frozen with qat-freeze-qparams: the frozen model computes,
#     bit for bit, what the prepared model computed on that batch (its
#     observers set the same parameters during the call), and stays close
#     to the float model.
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, qat_run_path  # noqa: E402

BIN = os.path.dirname(qat_run_path())


def tool(name):
    return os.path.join(BIN, name)


def qat_opt(path, *args):
    return subprocess.run([tool("qat-opt"), path, *args], check=True,
                          capture_output=True, text=True).stdout


def run(path, entry, x, tmp):
    xin, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xin, x)
    subprocess.run([tool("qat-run"), path, "--entry", entry, "--input", xin,
                    "--output", out], check=True)
    return np.load(out)


def write(tmp, name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


failures = 0
rng = np.random.default_rng(7)
for block in ["resnet_basic", "resnet_bottleneck", "mobilenet_v2"]:
    src = os.path.join(sys.argv[1], block + ".mlir")
    shape = (1, 9, 9, 8) if block == "resnet_bottleneck" else (1, 8, 8, 8)
    x = rng.standard_normal(shape).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        ref = run(src, block, x, tmp)
        folded = write(tmp, "folded.mlir", qat_opt(src, "--qat-fold-conv-bn"))
        assert "tosa.rsqrt" not in open(folded).read(), "batch norm left unfolded"
        y = run(folded, block, x, tmp)
        err = float(np.max(np.abs(y - ref)) / np.max(np.abs(ref)))
        print(f"{block}: fold-conv-bn max |diff| / max |y| = {err:.2e}")
        if not err < 1e-5:
            failures += 1
        for target in ["x86", "bpu", "bpu:per-channel:pow2"]:
            prepared = write(tmp, "prepared.mlir",
                             qat_opt(src, f"--qat-prepare=target={target}"))
            y_prepared = run(prepared, block, x, tmp)
            xin = os.path.join(tmp, "cal.npy")
            np.save(xin, x)
            calibrated = os.path.join(tmp, "calibrated.mlir")
            subprocess.run([tool("qat-calibrate"), prepared, "--entry", block,
                            "--data", xin, "-o", calibrated, "--quiet"], check=True)
            frozen = write(tmp, "frozen.mlir",
                           qat_opt(calibrated, "--qat-freeze-qparams",
                                   f"--qat-verify-target=target={target}"))
            assert "qat.observer" not in open(frozen).read()
            y_frozen = run(frozen, block, x, tmp)
            mism = bit_mismatches(y_frozen, y_prepared)
            rel = float(np.max(np.abs(y_frozen - ref)) / np.max(np.abs(ref)))
            print(f"{block} {target}: frozen vs prepared {mism} of {y_frozen.size} "
                  f"mismatches; max |int8 sim - float| / max |float| = {rel:.3f}")
            if mism or not rel < 0.15:
                failures += 1
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
