# REQUIRES: torch
# RUN: %python %s
#
# qat.fake_quant and qat.fake_quant_grad (rounding = half_even) against
# PyTorch 1.13's fake_quantize_per_tensor_affine and
# fake_quantize_per_channel_affine, forward and backward, bit for bit, on
# finite inputs: random codes across and beyond the range, exact and inexact
# .5 ties, zero points at both ends, scales from 1e-37 to 1e30, and the
# ranges 0..127, 0..255, -128..127, -127..127, 0..15 and -8..7.
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Report, f32, run, ttype  # noqa: E402

RANGES = [(0, 127), (0, 255), (-128, 127), (-127, 127), (0, 15), (-8, 7)]
SCALES = [1e-37, 1e-30, 1e-10, 2.0 ** -7, 0.0173, 0.1, 1.0, 3.7, 1e10, 1e30]
N = 2048
rng = np.random.default_rng(2026)
report = Report("fake_quant vs PyTorch")


def codes_to_x(codes, s):
    return (codes.astype(np.float64) * np.float64(s)).astype(f32)


def make_x(n, s, zp, qmin, qmax):
    lo, hi = qmin - zp - 12, qmax - zp + 12
    random = rng.uniform(lo, hi, n // 2)
    ties = rng.integers(lo, hi, n // 4) + 0.5
    x = np.concatenate([codes_to_x(random, s), codes_to_x(ties, s)])
    # Ties that are exact in f32 when the scale is a power of two.
    pow2 = f32(2.0 ** np.round(np.log2(s)))
    x = np.concatenate([x, codes_to_x(rng.integers(lo, hi, n // 8) + 0.5, pow2)])
    # Large codes that still fit int64 (PyTorch's defined domain).
    # Codes up to 1e15 (capped so that x stays finite: inf is outside
    # PyTorch's defined domain and is checked against NumPy elsewhere).
    rest = n - x.size
    top = min(15.0, np.log10(3e38 / s))
    x = np.concatenate([x, codes_to_x(rng.choice([-1.0, 1.0], rest) *
                                      10.0 ** rng.uniform(3, top, rest), s)])
    assert np.all(np.isfinite(x))
    return x.astype(f32)


def per_tensor(qmin, qmax):
    cases = []
    for s in SCALES:
        for zp in sorted({qmin, qmax, (qmin + qmax) // 2,
                          int(rng.integers(qmin, qmax + 1))}):
            cases.append((f32(s), np.int32(zp)))
    args, body, rets, rtypes, inputs = [], [], [], [], []
    for i, (s, zp) in enumerate(cases):
        x = make_x(N, s, zp, qmin, qmax)
        dy = rng.standard_normal(N).astype(f32)
        inputs += [x, np.array(s, f32), np.array(zp, np.int32), dy]
        args += [f"%x{i}: {ttype([N])}", f"%s{i}: tensor<f32>", f"%z{i}: tensor<i32>",
                 f"%dy{i}: {ttype([N])}"]
        attrs = f"{{quant_min = {qmin} : i64, quant_max = {qmax} : i64}}"
        body.append(f"  %y{i} = qat.fake_quant %x{i}, %s{i}, %z{i} {attrs} : "
                    f"{ttype([N])}, tensor<f32>, tensor<i32>")
        body.append(f"  %d{i} = qat.fake_quant_grad %dy{i}, %x{i}, %s{i}, %z{i} {attrs} : "
                    f"{ttype([N])}, tensor<f32>, tensor<i32>")
        rets += [f"%y{i}", f"%d{i}"]
        rtypes += [ttype([N])] * 2
    mlir = (f"func.func @f({', '.join(args)}) -> ({', '.join(rtypes)}) {{\n" +
            "\n".join(body) + f"\n  return {', '.join(rets)} : {', '.join(rtypes)}\n}}\n")
    outs = run(mlir, "f", inputs, len(rets))
    for i, (s, zp) in enumerate(cases):
        x, dy = inputs[4 * i], inputs[4 * i + 3]
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.fake_quantize_per_tensor_affine(xt, float(s), int(zp), qmin, qmax)
        yt.backward(torch.tensor(dy))
        report.compare(f"per-tensor forward {qmin}..{qmax}", outs[2 * i], yt.detach().numpy())
        report.compare(f"per-tensor STE grad {qmin}..{qmax}", outs[2 * i + 1], xt.grad.numpy())


def per_channel(qmin, qmax, shape, axis):
    c = shape[axis]
    scales = np.array([SCALES[i % len(SCALES)] for i in range(c)], f32)
    scales[len(SCALES):] = (10.0 ** rng.uniform(-4, 1, c - len(SCALES))).astype(f32)
    zps = rng.integers(qmin, qmax + 1, c).astype(np.int32)
    zps[0], zps[1] = qmin, qmax
    # Codes per channel, moved into place along `axis`.
    bshape = [1] * len(shape)
    bshape[axis] = c
    codes = rng.uniform(qmin - 12, qmax + 12, shape) - zps.reshape(bshape)
    ties = rng.random(shape) < 0.3
    codes = np.where(ties, np.floor(codes) + 0.5, codes)
    x = (codes * scales.reshape(bshape).astype(np.float64)).astype(f32)
    dy = rng.standard_normal(shape).astype(f32)
    attrs = f"{{quant_min = {qmin} : i64, quant_max = {qmax} : i64, axis = {axis} : i64}}"
    t, p, z = ttype(shape), ttype([c]), ttype([c], "i32")
    mlir = f"""func.func @f(%x: {t}, %s: {p}, %z: {z}, %dy: {t}) -> ({t}, {t}) {{
  %y = qat.fake_quant %x, %s, %z {attrs} : {t}, {p}, {z}
  %d = qat.fake_quant_grad %dy, %x, %s, %z {attrs} : {t}, {p}, {z}
  return %y, %d : {t}, {t}
}}
"""
    y, d = run(mlir, "f", [x, scales, zps, dy], 2)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.fake_quantize_per_channel_affine(
        xt, torch.tensor(scales), torch.tensor(zps), axis, qmin, qmax)
    yt.backward(torch.tensor(dy))
    report.compare(f"per-channel forward {qmin}..{qmax}", y, yt.detach().numpy())
    report.compare(f"per-channel STE grad {qmin}..{qmax}", d, xt.grad.numpy())


for qmin, qmax in RANGES:
    per_tensor(qmin, qmax)
    per_channel(qmin, qmax, (2, 64, 4, 4), 1)
    per_channel(qmin, qmax, (48, 40), 0)
report.finish()
