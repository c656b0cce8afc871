# REQUIRES: numpy
# RUN: %python %s %qat_src_root/examples/qat_linear.mlir %t
#
# The bundled example (the README's main job) against an independent NumPy
# computation of the same QAT step: qparams, fake quantization, the STE mask
# and the LSQ scale gradients bit for bit; the matmul to a tolerance (its
# summation order is NumPy's, not the contract's).
import os
import re
import shutil
import subprocess
import sys

import numpy as np

f32 = np.float32
src, tmp = sys.argv[1], sys.argv[2]
os.makedirs(tmp, exist_ok=True)
qat_run = shutil.which("qat-run") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin", "qat-run")
outs = [os.path.join(tmp, f"r{i}.npy") for i in range(6)]
subprocess.run([qat_run, src, "--entry", "main"] + sum([["--output", o] for o in outs], []),
               check=True)
y, a_scale, a_zp, w_scale, dx, dws = [np.load(o) for o in outs]

text = open(src).read()


def constant(name):
    m = re.search(r"%" + name + r" = arith.constant dense<(.*?)> : tensor<([0-9x]+)xf32>", text, re.S)
    shape = [int(d) for d in m.group(2).split("x")]
    return np.array(eval(m.group(1)), dtype=f32).reshape(shape)


x, w = constant("x"), constant("w")[0]

# Observer (first batch) and PyTorch's affine u8 qparams.
lo, hi = min(f32(x.min()), f32(0)), max(f32(x.max()), f32(0))
s_ref = max(f32(hi - lo) / f32(255), f32(np.finfo(np.float32).eps))
zp_ref = int(np.clip(0 - np.round(f32(lo / s_ref)), 0, 255))
failures = 0


def check(name, ok):
    global failures
    print(f"{name}: {'ok' if ok else 'MISMATCH'}")
    failures += not ok


check("activation scale", a_scale.view(np.uint32) == np.array(s_ref, f32).view(np.uint32))
check("activation zero point", int(a_zp) == zp_ref)

# Per-channel symmetric s8 weight scales (channels on axis 1).
absmax = np.maximum(-np.minimum(w.min(0), 0), np.maximum(w.max(0), 0)).astype(f32)
ws_ref = np.maximum(absmax / f32(127.5), f32(np.finfo(np.float32).eps)).astype(f32)
check("weight scales", np.array_equal(w_scale.view(np.uint32), ws_ref.view(np.uint32)))


def fake_quant(v, s, z, qmin, qmax):
    inv = (f32(1) / s).astype(f32)
    t = (np.round((v * inv).astype(f32)) + f32(z)).astype(f32)
    return ((np.clip(t, qmin, qmax) - f32(z)) * s).astype(f32), t


xq, t = fake_quant(x, s_ref, zp_ref, 0, 255)
wq, _ = fake_quant(w, ws_ref, 0, -128, 127)
y_ref = (xq[0].astype(np.float64) @ wq.astype(np.float64)).astype(f32)
err = float(np.max(np.abs(y[0] - y_ref)))
check(f"y (max abs difference {err:.2e})", err <= 1e-6)
mask = ((t >= 0) & (t <= 255)).astype(f32)
check("activation STE gradient", np.array_equal(dx, mask))

# LSQ scale gradients, per output channel (axis 1), dy = 1, zero point 0,
# grad_factor 0.0312 (in f32), fused multiply-adds as the op defines.
g = f32(0.0312)
dws_ref = np.zeros(3, np.float64)
for c in range(3):
    sc = ws_ref[c]
    inv = f32(1) / sc
    for v in w[:, c]:
        tt = f32(np.round(f32(np.float64(v) * np.float64(inv) + 0.0)))
        if -128 <= tt <= 127:
            d = f32(np.float64(tt) * np.float64(sc) - np.float64(v))
            dws_ref[c] += f32(f32(f32(f32(1) * d) * inv) * g)
        else:
            dws_ref[c] += f32(f32(f32(1) * f32((-128 if tt < -128 else 127))) * g)
check("LSQ weight-scale gradients", np.array_equal(dws.view(np.uint32), dws_ref.astype(f32).view(np.uint32)))
print(f"{'FAILED' if failures else 'PASSED'}: {failures} mismatching checks")
sys.exit(1 if failures else 0)
