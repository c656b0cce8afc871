#!/usr/bin/env python3
"""Per-layer cycles and GEMM utilization of the NPU on blocks of realistic
size: a ResNet basic block on 56x56x64 and a MobileNetV2 inverted residual
on 28x28x32 (expansion 6), written as bpu integer models with random int8
weights (integration_test/npu/Inputs/intmodel.py), compiled for the NPU and
checked against the CPU by qat-npu-check on one random image.

    /usr/bin/python3 examples/npu/blocks.py [--config machine.cfg] [--qat-npu-check PATH]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "integration_test", "npu", "Inputs"))
from intmodel import Model  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--config")
ap.add_argument("--qat-npu-check", default="qat-npu-check")
args = ap.parse_args()
rng = np.random.default_rng(0)


def resnet_basic():
    m = Model(rng)
    x, xs = m.arg((1, 56, 56, 64))
    y = m.conv(x, xs, 64, (3, 3), pad=(1, 1, 1, 1), relu=True)
    return m, [m.conv(*y, 64, (3, 3), pad=(1, 1, 1, 1), residual=(x, 0))]


def mobilenet_v2():
    m = Model(rng)
    x, xs = m.arg((1, 28, 28, 32))
    e = m.conv(x, xs, 192, (1, 1), relu=True)
    d = m.conv(*e, 0, (3, 3), pad=(1, 1, 1, 1), depthwise=True, relu=True)
    return m, [m.conv(*d, 32, (1, 1), residual=(x, 0))]


failed = False
with tempfile.TemporaryDirectory() as tmp:
    for build in [resnet_basic, mobilenet_v2]:
        m, results = build()
        path = os.path.join(tmp, build.__name__ + ".mlir")
        open(path, "w").write(m.text(results))
        ins = []
        for i, s in enumerate(m.args):
            p = os.path.join(tmp, "x%d.npy" % i)
            np.save(p, rng.integers(-128, 128, s).astype(np.int8))
            ins += ["--input", p]
        cmd = [args.qat_npu_check, path, *ins] + (["--config", args.config] if args.config else [])
        r = subprocess.run(cmd, capture_output=True, text=True)
        print("== %s" % build.__name__)
        print(r.stdout + r.stderr)
        failed |= r.returncode != 0
sys.exit(1 if failed else 0)
