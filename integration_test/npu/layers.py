# REQUIRES: numpy
# RUN: %python %s %S/Inputs
#
# Integer layers written directly in TOSA + qat (no training): convolutions
# with strides, dilation, asymmetric padding, odd channel counts and a
# nonzero input zero point (per-tensor and per-channel requantization, a
# residual with a nonzero zero point), depthwise, a fully connected layer
# (reshape, matmul, bias add), an add of two int8 tensors, a padded strided
# max pool, and a chain of them. Each is compiled for the NPU and run in the
# simulator by qat-npu-check on random int8 inputs, against the same model
# run on the CPU (TOSA integer semantics through the JIT): every code must
# be equal, on the default machine, on one with 8x8 blocks and tiny buffers
# (tiles, chunked reductions) and without double buffering.
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs"))
from harness import qat_run_path  # noqa: E402
from intmodel import Model  # noqa: E402

BIN = os.path.dirname(qat_run_path())
INPUTS = sys.argv[1]
rng = np.random.default_rng(7)


def case_conv_strided():
    m = Model(rng)
    x, xs = m.arg((2, 11, 13, 3))
    return m, [m.conv(x, xs, 5, (3, 3), stride=(2, 2), pad=(1, 1, 1, 1), zp=-3)]


def case_conv_dilated_per_channel():
    m = Model(rng)
    x, xs = m.arg((1, 9, 9, 20))
    return m, [m.conv(x, xs, 17, (3, 3), pad=(2, 2, 2, 2), dil=(2, 2), zp=7, per_channel=True)]


def case_conv_asymmetric_residual():
    m = Model(rng)
    x, xs = m.arg((1, 6, 7, 35))
    r, rs = m.arg((1, 6, 6, 33))
    return m, [m.conv(x, xs, 33, (2, 3), pad=(0, 1, 1, 0), residual=(r, -2))]


def case_pointwise_strided():
    m = Model(rng)
    x, xs = m.arg((1, 9, 9, 16))
    return m, [m.conv(x, xs, 24, (1, 1), stride=(2, 2), per_channel=True)]


def case_depthwise():
    m = Model(rng)
    x, xs = m.arg((1, 11, 11, 20))
    return m, [m.conv(x, xs, 0, (3, 3), pad=(1, 1, 1, 1), zp=5, depthwise=True, per_channel=True),
               m.conv(x, xs, 0, (5, 5), stride=(2, 2), pad=(2, 2, 2, 2), depthwise=True),
               m.conv(x, xs, 0, (3, 3), pad=(1, 1, 1, 1), zp=-2, depthwise=True, multiplier=2,
                      per_channel=True),
               m.conv(x, xs, 0, (1, 1), depthwise=True, multiplier=4)]


def case_add():
    m = Model(rng)
    a, s = m.arg((2, 5, 5, 12))
    b, _ = m.arg((2, 5, 5, 12))
    return m, [(m.add(a, b, s, 4, -7), s)]


def case_max_pool():
    m = Model(rng)
    x, xs = m.arg((2, 9, 9, 20))
    return m, [m.max_pool(x, xs, (3, 3), (2, 2), (1, 1, 1, 1)), m.max_pool(x, xs, (2, 2), (1, 1), (0, 0, 0, 0))]


def case_fc():
    m = Model(rng)
    x, xs = m.arg((6, 3, 3, 8))
    return m, [m.fc(x, xs, 13)]


def case_chain():
    m = Model(rng)
    x, xs = m.arg((2, 12, 12, 4))
    y, ys = m.conv(x, xs, 24, (3, 3), pad=(1, 1, 1, 1))
    p, ps = m.max_pool(y, ys, (2, 2), (2, 2), (0, 0, 0, 0))
    d, ds = m.conv(p, ps, 0, (3, 3), pad=(1, 1, 1, 1), depthwise=True)
    e, es = m.conv(d, ds, 24, (1, 1), residual=(p, 0))
    s = m.add(e, p, es, 0, 0)
    return m, [m.fc(s, es, 10), (p, ps)]


def case_concat():
    m = Model(rng)
    x, xs = m.arg((2, 6, 6, 5))
    a = m.conv(x, xs, 7, (3, 3), pad=(1, 1, 1, 1))
    b = m.conv(x, xs, 20, (1, 1))
    c = m.concat([a, b, (x, xs)], 3)
    return m, [c, m.concat([(x, xs), (x, xs)], 1)]


def case_transpose():
    m = Model(rng)
    x, xs = m.arg((2, 5, 6, 20))
    y = m.conv(x, xs, 17, (3, 3), pad=(1, 1, 1, 1))
    return m, [m.transpose(*y, (0, 3, 1, 2)), m.transpose(x, xs, (2, 0, 1, 3)),
               m.transpose(x, xs, (3, 1, 2, 0))]


cases = [case_transpose, case_concat, case_conv_strided, case_conv_dilated_per_channel, case_conv_asymmetric_residual,
         case_pointwise_strided, case_depthwise, case_add, case_max_pool, case_fc, case_chain]
configs = [("default", []), ("8x8-tiny", ["--config", os.path.join(INPUTS, "tiny.cfg")]),
           ("single-buffered", ["--no-double-buffer"])]
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for case in cases:
        m, results = case()
        path = os.path.join(tmp, case.__name__ + ".mlir")
        open(path, "w").write(m.text(results))
        ins = []
        for i, s in enumerate(m.args):
            p = os.path.join(tmp, "%s.%d.npy" % (case.__name__, i))
            np.save(p, rng.integers(-128, 128, (3 * s[0],) + tuple(s[1:])).astype(np.int8))
            ins += ["--input", p]
        for name, opts in configs:
            outs = [os.path.join(tmp, "%s.out%d.npy" % (case.__name__, i)) for i in range(len(results))]
            r = subprocess.run([os.path.join(BIN, "qat-npu-check"), path, *ins, "--split", "--quiet",
                                *opts, *sum([["--output", o] for o in outs], [])],
                               capture_output=True, text=True)
            # The outputs must spread over many codes (a test of saturated or
            # constant outputs could not fail).
            if r.returncode == 0:
                for o in outs:
                    y = np.load(o)
                    sat = np.mean((y == -128) | (y == 127))
                    if len(np.unique(y)) < min(40, y.size // 2) or sat > 0.25:
                        print("  degenerate output: %d distinct codes, %.0f%% saturated"
                              % (len(np.unique(y)), 100 * sat))
                        failures += 1
            lines = [l for l in r.stdout.splitlines() if l.startswith("output")]
            print("%-32s %-16s %s" % (case.__name__, name,
                                      "; ".join(l.split(": ", 1)[1] for l in lines) or r.stderr.strip()))
            if r.returncode != 0 or not lines or any(" 0 of " not in l for l in lines):
                failures += 1
                print(r.stdout, r.stderr)
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
