# REQUIRES: numpy
# RUN: %python %s
#
# What PyTorch does not define, against a NumPy transcription of the ops'
# documented formulas, bit for bit:
#  - the rounding modes half_even_div (Horizon) and half_up (TF/StableHLO),
#    per tensor and per axis, with exact ties;
#  - saturation of +-inf and huge inputs, NaN inputs, and invalid scales
#    (0, negative, inf, NaN) for every rounding mode, forward and gradient;
#  - observers ignoring NaN, and choose_qparams on degenerate ranges.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import Report, f32, run, ttype  # noqa: E402

rng = np.random.default_rng(5)
report = Report("rounding modes and special values vs NumPy")
MODES = ["half_even", "half_even_div", "half_up"]


def np_fake_quant(x, s, z, qmin, qmax, mode):
    with np.errstate(all="ignore"):
        if mode == "half_even":
            r = np.round((x * (f32(1) / s).astype(f32)).astype(f32))
        elif mode == "half_even_div":
            r = np.round((x / s).astype(f32))
        else:
            r = np.floor(((x / s).astype(f32) + f32(0.5)).astype(f32))
        t = (r + z.astype(f32)).astype(f32)
        q = np.clip(t, f32(qmin), f32(qmax))
        y = ((q - z.astype(f32)).astype(f32) * s).astype(f32)
        valid = (s > 0) & (s < np.inf)
        y = np.where(valid, y, f32(np.nan)).astype(f32)
        inside = (t >= qmin) & (t <= qmax) & valid
    return y, t, inside


def specials(n):
    v = np.array([np.inf, -np.inf, np.nan, 1e38, -1e38, 3e30, 0.0, -0.0], f32)
    return np.resize(v, n)


for qmin, qmax in [(0, 255), (-128, 127), (-8, 7)]:
    for mode in MODES:
        # Per axis over (16, 64): channel scales include invalid ones.
        c, n = 64, 16
        s = (10.0 ** rng.uniform(-3, 1, c)).astype(f32)
        s[:4] = [0.0, -1.0, np.inf, np.nan]
        s[4:8] = 2.0 ** -np.arange(4, 8)  # exact ties below
        z = rng.integers(qmin, qmax + 1, c).astype(np.int32)
        codes = rng.uniform(qmin - 10, qmax + 10, (n, c)) - z
        codes[: n // 2] = np.floor(codes[: n // 2]) + 0.5
        x = (codes * np.where(np.isfinite(s) & (s > 0), s, 1.0)).astype(f32)
        x[-2] = specials(c)
        x[-1] = np.roll(specials(c), 3)
        dy = rng.standard_normal((n, c)).astype(f32)
        attrs = (f"{{quant_min = {qmin} : i64, quant_max = {qmax} : i64, axis = 1 : i64, "
                 f"rounding = #qat.rounding<{mode}>}}")
        t, p, pz = ttype([n, c]), ttype([c]), ttype([c], "i32")
        mlir = f"""func.func @f(%x: {t}, %s: {p}, %z: {pz}, %dy: {t}) -> ({t}, {t}) {{
  %y = qat.fake_quant %x, %s, %z {attrs} : {t}, {p}, {pz}
  %d = qat.fake_quant_grad %dy, %x, %s, %z {attrs} : {t}, {p}, {pz}
  return %y, %d : {t}, {t}
}}
"""
        y, d = run(mlir, "f", [x, s, z, dy], 2)
        y_ref, _, inside = np_fake_quant(x, s, z, qmin, qmax, mode)
        report.compare(f"{mode} forward", y, y_ref)
        report.compare(f"{mode} STE grad", d, (dy * inside.astype(f32)).astype(f32))
    # The documented saturation, spelled out for one case of the op itself.
    sat = f"""func.func @f(%x: tensor<3xf32>) -> tensor<3xf32> {{
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<{qmin}> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {{quant_min = {qmin} : i64, quant_max = {qmax} : i64}} : tensor<3xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<3xf32>
}}
"""
    y_inf, = run(sat, "f", [np.array([np.inf, -np.inf, np.nan], f32)], 1)
    report.check("+inf gives quant_max's value, -inf quant_min's, NaN NaN",
                 y_inf[0] == (qmax - qmin) * 0.5 and y_inf[1] == 0.0 and np.isnan(y_inf[2]),
                 str(y_inf))

# Observers ignore NaN: batch range of the non-NaN elements.
x = rng.standard_normal((8, 5)).astype(f32)
x[0, 0], x[3, 2], x[:, 4] = np.nan, np.nan, np.nan
mlir = """func.func @f(%x: tensor<8x5xf32>, %lo: tensor<5xf32>, %hi: tensor<5xf32>, %l: tensor<f32>, %h: tensor<f32>) -> (tensor<5xf32>, tensor<5xf32>, tensor<f32>, tensor<f32>) {
  %a, %b = qat.observer %x, %lo, %hi {axis = 1 : i64, kind = #qat.observer<moving_average>} : tensor<8x5xf32>, tensor<5xf32>
  %c, %d = qat.observer %x, %l, %h : tensor<8x5xf32>, tensor<f32>
  return %a, %b, %c, %d : tensor<5xf32>, tensor<5xf32>, tensor<f32>, tensor<f32>
}
"""
inf = np.float32(np.inf)
a, b, cc, dd = run(mlir, "f", [x, np.full(5, inf, f32), np.full(5, -inf, f32),
                               np.array(inf, f32), np.array(-inf, f32)], 4)
with np.errstate(all="ignore"):
    lo_ref = np.array([np.nanmin(x[:, j]) if np.any(~np.isnan(x[:, j])) else np.inf for j in range(5)], f32)
    hi_ref = np.array([np.nanmax(x[:, j]) if np.any(~np.isnan(x[:, j])) else -np.inf for j in range(5)], f32)
report.compare("observer ignores NaN (per channel, all-NaN channel keeps its state)", a, lo_ref)
report.compare("observer ignores NaN (per channel, all-NaN channel keeps its state)", b, hi_ref)
report.compare("observer ignores NaN (per tensor)", cc, np.array(np.nanmin(x), f32))
report.compare("observer ignores NaN (per tensor)", dd, np.array(np.nanmax(x), f32))

# The same per channel on an OHWI weight shape (axis 0, 64 elements per
# channel: 16 lane ranges per channel, combined), with NaN, infinities, an
# all-NaN channel and a channel of one value.
w = rng.standard_normal((5, 2, 2, 16)).astype(f32)
w[0, 0, 1, 3], w[0, 1, 1, 15], w[2, 1, 0, 7] = np.nan, np.nan, np.nan
w[1, 0, 0, 0], w[1, 1, 1, 9] = np.inf, -np.inf
w[3] = np.nan
w[4] = f32(-0.75)
mlir = """func.func @f(%x: tensor<5x2x2x16xf32>, %lo: tensor<5xf32>, %hi: tensor<5xf32>) -> (tensor<5xf32>, tensor<5xf32>) {
  %a, %b = qat.observer %x, %lo, %hi {axis = 0 : i64} : tensor<5x2x2x16xf32>, tensor<5xf32>
  return %a, %b : tensor<5xf32>, tensor<5xf32>
}
"""
a, b = run(mlir, "f", [w, np.full(5, inf, f32), np.full(5, -inf, f32)], 2)
with np.errstate(all="ignore"):
    flat = w.reshape(5, -1)
    lo_ref = np.array([np.nanmin(r) if np.any(~np.isnan(r)) else np.inf for r in flat], f32)
    hi_ref = np.array([np.nanmax(r) if np.any(~np.isnan(r)) else -np.inf for r in flat], f32)
report.compare("observer ignores NaN (per channel, OHWI weight, lane ranges)", a, lo_ref)
report.compare("observer ignores NaN (per channel, OHWI weight, lane ranges)", b, hi_ref)

# choose_qparams on degenerate ranges: scale 1, zero point 0 unless finite
# with min <= max; min == max == 0 gives eps and quant_min.
lo = np.array([np.inf, np.nan, 2.0, -np.inf, 0.0, 5.0, -1.0], f32)
hi = np.array([-np.inf, 1.0, 1.0, 3.0, 0.0, 5.0, 3.0], f32)
mlir = """func.func @f(%lo: tensor<7xf32>, %hi: tensor<7xf32>) -> (tensor<7xf32>, tensor<7xi32>) {
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<7xf32> -> tensor<7xi32>
  return %s, %z : tensor<7xf32>, tensor<7xi32>
}
"""
s, z = run(mlir, "f", [lo, hi], 2)
eps = np.finfo(np.float32).eps
s_ref = np.array([1, 1, 1, 1, eps, f32(5) / f32(255), f32(4) / f32(255)], f32)
z_ref = np.array([0, 0, 0, 0, 0, 0, 64], np.int32)
report.compare("choose_qparams degenerate ranges scale", s, s_ref)
report.check("choose_qparams degenerate ranges zero point", bool(np.array_equal(z, z_ref)), f"{z} vs {z_ref}")
report.finish()
