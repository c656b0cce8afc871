# REQUIRES: torch
# RUN: %python %s
#
# Integer average pooling (qat-convert-to-integer): fake_quant -> avg_pool2d
# -> fake_quant converted for x86 and bpu and run through qat-run.
#  - Input and output on one grid (PyTorch shares the observer): the x86
#    result equals PyTorch's quantized avg_pool2d (quint8) bit for bit.
#  - Different output scale: both targets equal their formula in NumPy,
#    x86 q = clamp(roundeven(f32(acc) * m) + zp_out), bpu the TOSA
#    single-round fixed point of m, where acc = sum(q_in - zp_in) over the
#    window and m = s_in / (kh * kw * s_out).
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, qat_run_path, ttype  # noqa: E402

f32 = np.float32
BIN = os.path.dirname(qat_run_path())
rng = np.random.default_rng(5)

MLIR = """
func.func @pool(%x: {tin}) -> {tout} {{
  %s = arith.constant dense<{s_in:.9e}> : tensor<f32>
  %z = arith.constant dense<{z_in}> : tensor<i32>
  %so = arith.constant dense<{s_out:.9e}> : tensor<f32>
  %zo = arith.constant dense<{z_out}> : tensor<i32>
  %zp = "tosa.const"() <{{values = dense<0.0> : tensor<1xf32>}}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {{quant_min = 0 : i64, quant_max = 255 : i64}} : {tin}, tensor<f32>, tensor<i32>
  %p = tosa.avg_pool2d %xq, %zp, %zp {{acc_type = f32, kernel = array<i64: {k}, {k}>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: {st}, {st}>}} : ({tin}, tensor<1xf32>, tensor<1xf32>) -> {tout}
  %pq = qat.fake_quant %p, %so, %zo {{quant_min = 0 : i64, quant_max = 255 : i64}} : {tout}, tensor<f32>, tensor<i32>
  return %pq : {tout}
}}
"""


def run_int8(text, target, x):
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda n: os.path.join(tmp, n)  # noqa: E731
        with open(p("m.mlir"), "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(BIN, "qat-opt"), p("m.mlir"),
                            "--qat-convert-to-integer=target=" + target,
                            "--remarks-filter=qat-convert-to-integer", "-o", p("int8.mlir")],
                           check=True, capture_output=True, text=True)
        assert "AvgPool" in r.stderr and "LeftFloat" not in r.stderr, r.stderr
        np.save(p("x.npy"), x)
        subprocess.run([os.path.join(BIN, "qat-run"), p("int8.mlir"), "--entry", "pool",
                        "--input", p("x.npy"), "--output", p("y.npy")], check=True)
        return np.load(p("y.npy"))


def rescale_ref(acc, m):
    """TOSA apply_scale_32 (single round) of the fixed point of m."""
    frac, exp = np.frexp(np.float64(m))
    mult = int(round(frac * 2 ** 31))
    if mult == 2 ** 31:
        mult //= 2
        exp += 1
    shift = 31 - exp
    a = acc.astype(np.int64) * mult + (1 << (shift - 1))
    return a >> shift


failures = 0
for k, st, h in [(2, 2, 8), (3, 1, 7), (7, 7, 7), (4, 4, 8)]:
    ho = (h - k) // st + 1
    tin, tout = ttype((2, h, h, 16)), ttype((2, ho, ho, 16))
    s_in, z_in = f32(0.037), 97
    q = rng.integers(0, 256, (2, h, h, 16))
    q[0, :k, :k, :] = 255  # saturated windows
    q[1, :k, :k, :] = 0
    x = ((q - z_in) * s_in).astype(f32)
    # Shared grid: PyTorch's quantized avg_pool2d.
    text = MLIR.format(tin=tin, tout=tout, s_in=s_in, z_in=z_in, s_out=s_in, z_out=z_in, k=k, st=st)
    ours = run_int8(text, "x86", x)
    xt = torch.quantize_per_tensor(torch.tensor(x).permute(0, 3, 1, 2), float(s_in), z_in,
                                   torch.quint8)
    ref = torch.nn.functional.avg_pool2d(xt, k, st).dequantize().permute(0, 2, 3, 1).numpy()
    mism = bit_mismatches(ours, ref)
    print("k=%d stride=%d %dx%d shared grid: x86 vs PyTorch quantized avg_pool2d: %d of %d differ"
          % (k, st, h, h, mism, ours.size))
    failures += mism != 0
    # Different output grid: the formulas.
    s_out, z_out = f32(0.021), 40
    text = MLIR.format(tin=tin, tout=tout, s_in=s_in, z_in=z_in, s_out=s_out, z_out=z_out, k=k,
                       st=st)
    acc = torch.nn.functional.avg_pool2d(torch.tensor(q - z_in, dtype=torch.float64)
                                         .permute(0, 3, 1, 2), k, st, divisor_override=1)
    acc = acc.permute(0, 2, 3, 1).numpy().astype(np.int64)
    m = f32(s_in / (f32(k * k) * s_out))
    for target in ["x86", "bpu"]:
        ours = run_int8(text, target, x)
        if target == "x86":
            code = np.rint(acc.astype(f32) * m) + f32(z_out)
            code = np.clip(code, 0, 255)
        else:
            # bpu: the fixed-point multiplier (TOSA rounding); the -128
            # shift of u8 codes cancels between acc and the zero point.
            code = np.clip(rescale_ref(acc, m) + z_out, 0, 255)
        ref = ((code.astype(f32) - f32(z_out)) * s_out).astype(f32)
        mism = bit_mismatches(ours, ref)
        print("k=%d stride=%d %dx%d m=%.6g: %s vs formula: %d of %d differ"
              % (k, st, h, h, m, target, mism, ours.size))
        failures += mism != 0
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
