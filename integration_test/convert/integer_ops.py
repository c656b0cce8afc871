# REQUIRES: numpy
# RUN: %python %s
#
# qat.quantize, qat.dequantize and qat.requantize run through qat-run and
# compared bit for bit with their ODS formulas evaluated in NumPy f32
# (random inputs including ties, saturation, NaN and large accumulators).
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, run  # noqa: E402

f32 = np.float32
rng = np.random.default_rng(11)
n = 4096
failures = 0

MLIR = """
func.func @f(%x: tensor<{n}xf32>, %acc: tensor<{n}xi32>, %s: tensor<f32>, %z: tensor<i32>,
             %m: tensor<f32>) -> (tensor<{n}xi8>, tensor<{n}xf32>, tensor<{n}xi8>, tensor<{n}xf32>) {{
  %q = qat.quantize %x, %s, %z {{quant_min = {qmin} : i64, quant_max = {qmax} : i64}} : tensor<{n}xf32>, tensor<f32>, tensor<i32> -> tensor<{n}xi8>
  %d = qat.dequantize %q, %s, %z : tensor<{n}xi8>, tensor<f32>, tensor<i32> -> tensor<{n}xf32>
  %r = qat.requantize %acc, %m, %z {{quant_min = {qmin} : i64, quant_max = {qmax} : i64}} : tensor<{n}xi32>, tensor<f32>, tensor<i32> -> tensor<{n}xi8>
  %fq = qat.fake_quant %x, %s, %z {{quant_min = {qmin} : i64, quant_max = {qmax} : i64}} : tensor<{n}xf32>, tensor<f32>, tensor<i32>
  return %q, %d, %r, %fq : tensor<{n}xi8>, tensor<{n}xf32>, tensor<{n}xi8>, tensor<{n}xf32>
}}
"""

for qmin, qmax, scale, zp, mult in [(-128, 127, 0.05, 3, 0.0123), (-128, -1, 0.5, -100, 0.75),
                                    (-127, 127, 1e-3, 0, 3e-5), (0, 127, 0.25, 64, 1.5)]:
    x = (rng.standard_normal(n) * scale * 80).astype(f32)
    x[:64] = (np.arange(64) - 32).astype(f32) * f32(scale) * f32(0.5)   # ties
    x[64:70] = [np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0]
    acc = rng.integers(-(1 << 24), 1 << 24, n).astype(np.int32)
    acc[:10] = [0, 1, -1, 2**31 - 1, -2**31, 2**24, 2**24 + 1, -(2**24) - 1, 7, -7]
    q, d, r, fq = run(MLIR.format(n=n, qmin=qmin, qmax=qmax), "f",
                      [x, acc, f32(scale), np.int32(zp), f32(mult)], 4)
    # Reference (ODS): t = roundeven(x * (1/s)) + zp in f32, clamp, NaN -> zp.
    inv = f32(1) / f32(scale)
    with np.errstate(invalid="ignore", over="ignore"):
        t = np.rint(x * inv) + f32(zp)
        c = np.minimum(np.maximum(t, f32(qmin)), f32(qmax))
    c = np.where(np.isnan(c), f32(zp), c)
    q_ref = c.astype(np.int8)
    d_ref = (q_ref.astype(f32) - f32(zp)) * f32(scale)
    with np.errstate(invalid="ignore", over="ignore"):
        r_ref = np.minimum(np.maximum(np.rint(acc.astype(f32) * f32(mult)) + f32(zp), f32(qmin)),
                           f32(qmax)).astype(np.int8)
    bad_q = int(np.sum(q != q_ref))
    bad_d = bit_mismatches(d, d_ref)
    bad_r = int(np.sum(r != r_ref))
    # dequantize(quantize(x)) == fake_quant(x) except NaN (-> 0.0).
    finite = ~np.isnan(x)
    bad_fq = bit_mismatches(d[finite], fq[finite])
    print(f"range [{qmin}, {qmax}] scale {scale} zp {zp}: quantize {bad_q}, dequantize {bad_d}, "
          f"requantize {bad_r}, dequantize(quantize) vs fake_quant {bad_fq} mismatches of {n}")
    failures += bad_q + bad_d + bad_r + bad_fq
# qat.rescale (i32 and integer-valued f32 accumulators) against tosa.rescale
# (scale32, single rounding) and against the formula in Python integers.
RESCALE = """
func.func @r(%acc: tensor<{n}xi32>, %accf: tensor<{n}xf32>) -> (tensor<{n}xi8>, tensor<{n}xf32>, tensor<{n}xi8>) {{
  %m = arith.constant dense<{m}> : tensor<i32>
  %sh = arith.constant dense<{sh}> : tensor<i8>
  %z = arith.constant dense<{z}> : tensor<i32>
  %q = qat.rescale %acc, %m, %sh, %z {{quant_min = -128 : i64, quant_max = 127 : i64}} : tensor<{n}xi32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<{n}xi8>
  %qf = qat.rescale %accf, %m, %sh, %z {{quant_min = -128 : i64, quant_max = 127 : i64}} : tensor<{n}xf32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<{n}xf32>
  %tm = "tosa.const"() <{{values = dense<{m}> : tensor<1xi32>}}> : () -> tensor<1xi32>
  %ts = "tosa.const"() <{{values = dense<{sh}> : tensor<1xi8>}}> : () -> tensor<1xi8>
  %izp = "tosa.const"() <{{values = dense<0> : tensor<1xi32>}}> : () -> tensor<1xi32>
  %ozp = "tosa.const"() <{{values = dense<{z}> : tensor<1xi8>}}> : () -> tensor<1xi8>
  %t = tosa.rescale %acc, %tm, %ts, %izp, %ozp {{input_unsigned = false, output_unsigned = false, per_channel = false, rounding_mode = SINGLE_ROUND, scale32 = true}} : (tensor<{n}xi32>, tensor<1xi32>, tensor<1xi8>, tensor<1xi32>, tensor<1xi8>) -> tensor<{n}xi8>
  return %q, %qf, %t : tensor<{n}xi8>, tensor<{n}xf32>, tensor<{n}xi8>
}}
"""
for m_, sh, z in [(1 << 30, 33, 0), (1518500250, 40, -5), (2147483647, 62, 3), (1073741825, 2, 0)]:
    acc = rng.integers(-(1 << 20), 1 << 20, n).astype(np.int32)
    acc[:6] = [0, 1, -1, 4, -4, 12345]
    q, qf, t = run(RESCALE.format(n=n, m=m_, sh=sh, z=z), "r", [acc, acc.astype(f32)], 3)
    shifted = np.array([(int(a) * m_ + (1 << (sh - 1))) >> sh for a in acc], object)
    ref = np.array([min(127, max(-128, v + z)) for v in shifted], np.int8)
    # TOSA requires the shifted value to fit in int32 (its lowering wraps
    # otherwise); qat.rescale saturates.
    in_tosa_domain = np.array([-(1 << 31) <= v < (1 << 31) for v in shifted])
    bad = (int(np.sum(q != ref)) + int(np.sum(qf != ref.astype(f32)))
           + int(np.sum((t != ref) & in_tosa_domain)))
    print(f"rescale M={m_} n={sh} zp={z}: {bad} mismatches (qat.rescale i32, f32, tosa.rescale vs "
          f"formula) of {3 * n}")
    failures += bad
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
