# RUN: %python %s
#
# Lookup tables (qat-convert-to-integer, x86): an element-wise function of
# one quantized value between two fake quantizers becomes a tosa.table on
# codes. For sigmoid, tanh, SiLU, hardswish, hardsigmoid, GELU (erf), exp
# and x^2 (the input used twice), on every input code (u8 0..255, and s8
# -128..127 on a symmetric grid), the integer model's output codes equal
# the reference computed here in NumPy float64 (dequantize in f32, the
# function in f64 rounded once to f32, then qat.fake_quant's code: rint(y *
# f32(1/s)) + z, clamped), and equal the float simulation
# (simulate=true) bit for bit.
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import qat_run_path  # noqa: E402

f32 = np.float32
BIN = os.path.dirname(qat_run_path())
T = "tensor<1x16x16x1xf32>"

# Each function: (body in TOSA on %xq giving %y, NumPy float64 reference).
SH = '%sh = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>'


def const(name, v):
    return ('%{0} = "tosa.const"() <{{values = dense<{1:.9e}> : tensor<1x1x1x1xf32>}}> : () -> '
            'tensor<1x1x1x1xf32>'.format(name, v))


def erf(x):
    import math
    return np.vectorize(math.erf)(x)


FUNCTIONS = {
    "sigmoid": ([f"%y = tosa.sigmoid %xq : ({T}) -> {T}"], lambda x: 1 / (1 + np.exp(-x))),
    "tanh": ([f"%y = tosa.tanh %xq : ({T}) -> {T}"], np.tanh),
    "silu": ([SH, f"%sg = tosa.sigmoid %xq : ({T}) -> {T}",
              f"%y = tosa.mul %xq, %sg, %sh : ({T}, {T}, tensor<1xi8>) -> {T}"],
             lambda x: x / (1 + np.exp(-x))),
    "hardswish": ([SH, const("three", 3.0), const("sixth", f32(1 / 6)),
                   f"%a = tosa.add %xq, %three : ({T}, tensor<1x1x1x1xf32>) -> {T}",
                   f"%c = tosa.clamp %a {{max_val = 6.0 : f32, min_val = 0.0 : f32}} : ({T}) -> {T}",
                   f"%m = tosa.mul %xq, %c, %sh : ({T}, {T}, tensor<1xi8>) -> {T}",
                   f"%y = tosa.mul %m, %sixth, %sh : ({T}, tensor<1x1x1x1xf32>, tensor<1xi8>) -> {T}"],
                  lambda x: x * np.clip(x + 3, 0, 6) * np.float64(f32(1 / 6))),
    "hardsigmoid": ([SH, const("three", 3.0), const("sixth", f32(1 / 6)),
                     f"%a = tosa.add %xq, %three : ({T}, tensor<1x1x1x1xf32>) -> {T}",
                     f"%c = tosa.clamp %a {{max_val = 6.0 : f32, min_val = 0.0 : f32}} : ({T}) -> {T}",
                     f"%y = tosa.mul %c, %sixth, %sh : ({T}, tensor<1x1x1x1xf32>, tensor<1xi8>) -> {T}"],
                    lambda x: np.clip(x + 3, 0, 6) * np.float64(f32(1 / 6))),
    "gelu": ([SH, const("r2", f32(0.70710678)), const("half", 0.5), const("one", 1.0),
              f"%a = tosa.mul %xq, %r2, %sh : ({T}, tensor<1x1x1x1xf32>, tensor<1xi8>) -> {T}",
              f"%e = tosa.erf %a : ({T}) -> {T}",
              f"%b = tosa.add %e, %one : ({T}, tensor<1x1x1x1xf32>) -> {T}",
              f"%h = tosa.mul %xq, %half, %sh : ({T}, tensor<1x1x1x1xf32>, tensor<1xi8>) -> {T}",
              f"%y = tosa.mul %h, %b, %sh : ({T}, {T}, tensor<1xi8>) -> {T}"],
             lambda x: (x * 0.5) * (erf(x * np.float64(f32(0.70710678))) + 1)),
    "exp": ([f"%y = tosa.exp %xq : ({T}) -> {T}"], np.exp),
    "square": ([SH, f"%y = tosa.mul %xq, %xq, %sh : ({T}, {T}, tensor<1xi8>) -> {T}"],
               lambda x: x * x),
}

MLIR = """module attributes {{qat.target = "x86"}} {{
func.func @f(%x: {T}) -> {T} {{
  %s = arith.constant dense<{s_in:.9e}> : tensor<f32>
  %z = arith.constant dense<{z_in}> : tensor<i32>
  %so = arith.constant dense<{s_out:.9e}> : tensor<f32>
  %zo = arith.constant dense<{z_out}> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {{quant_min = {lo} : i64, quant_max = {hi} : i64}} : {T}, tensor<f32>, tensor<i32>
  {body}
  %yq = qat.fake_quant %y, %so, %zo {{quant_min = {lo} : i64, quant_max = {hi} : i64}} : {T}, tensor<f32>, tensor<i32>
  return %yq : {T}
}}
}}
"""


def run(text, x, simulate):
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda n: os.path.join(tmp, n)  # noqa: E731
        with open(p("m.mlir"), "w") as f:
            f.write(text)
        opt = "--qat-convert-to-integer" + ("=simulate=true" if simulate else "")
        r = subprocess.run([os.path.join(BIN, "qat-opt"), p("m.mlir"), opt,
                            "--remarks-filter=qat-convert-to-integer", "-o", p("int8.mlir")],
                           check=True, capture_output=True, text=True)
        assert "lookup table" in r.stderr and "LeftFloat" not in r.stderr, r.stderr
        assert "tosa.table" in open(p("int8.mlir")).read()
        np.save(p("x.npy"), x)
        subprocess.run([os.path.join(BIN, "qat-run"), p("int8.mlir"), "--entry", "f",
                        "--input", p("x.npy"), "--output", p("y.npy")], check=True)
        return np.load(p("y.npy"))


def main():
    total = bad = 0
    for name, (body, fn) in FUNCTIONS.items():
        for signed in (False, True):
            lo, hi = (-128, 127) if signed else (0, 255)
            s_in, z_in = f32(0.0371), (0 if signed else 131)
            y_all = fn(((np.arange(lo, hi + 1) - z_in) * s_in).astype(np.float64))
            y_all = y_all[np.isfinite(y_all)]
            span = max(float(np.abs(y_all).max()), 1e-3)
            s_out = f32(span / (127 if signed else 255) * 1.01)
            z_out = 0 if signed else int(np.clip(np.rint(-y_all.min() / s_out), 0, 255))
            text = MLIR.format(T=T, s_in=s_in, z_in=z_in, s_out=s_out, z_out=z_out, lo=lo, hi=hi,
                               body="\n  ".join(body))
            codes = np.arange(lo, hi + 1)
            x = ((codes - z_in).astype(f32) * s_in).astype(f32).reshape(1, 16, 16, 1)
            # Reference: dequantized codes (exactly x), f in f64, rounded to
            # f32 once, then the code of the output quantizer.
            xd = ((codes - z_in).astype(f32) * s_in).astype(f32).astype(np.float64)
            y = fn(xd).astype(f32)
            t = np.rint((y * f32(f32(1) / s_out)).astype(f32)).astype(np.float64) + z_out
            want = (np.clip(t, lo, hi) - z_out).astype(f32) * s_out
            got = run(text, x, False).reshape(-1)
            sim = run(text, x, True).reshape(-1)
            n = int(np.sum(got.view(np.uint32) != want.astype(f32).view(np.uint32)))
            m = int(np.sum(got.view(np.uint32) != sim.view(np.uint32)))
            print("%-11s %s: %d of 256 codes differ from NumPy, %d from the simulation"
                  % (name, "s8" if signed else "u8", n, m))
            total += 256
            bad += n + m
    print("tables: %d mismatches over %d codes x 2" % (bad, total))
    sys.exit(1 if bad else 0)


main()
