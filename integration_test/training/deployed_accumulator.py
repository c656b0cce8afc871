# REQUIRES: numpy
# RUN: %python %s
#
# Deployed numerics beyond f32's exact integers (issue 18, docs/Deployed.md):
# a matmul of K = 65,536 products with a live weight and bias, for x86 and
# bpu, whose codes make the partial sums climb far beyond 2^24 and come
# back (the second half of the weight negates the first, but for a few
# codes), so that f32 accumulation rounds on the way and the exact int32
# accumulator ends small. qat-generate-train-step{numerics=deployed}
# accumulates such kernels in int32 (qat.exact_accumulator). Checks, before
# and after 3 SGD steps: @main_eval equals the int8 model of the current
# parameters (qat-convert-to-integer) bit for bit, and the kernel's f32
# simulation (qat-convert-to-integer{simulate=true}, which accumulates in
# f32) differs from it on some outputs, so the case does reach the inexact
# range. The weight gradient is finite and nonzero.
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deployed_common as dc  # noqa: E402

B, K, N = 8, 65536, 4
S_IN, S_W = 1.0 / 16, 1.0 / 32
S_OUT = S_IN * S_W * 4  # multiplier 1/4: output code = accumulator / 4

# Activation grids: x86 u8 (zero point 128; the integer model shifts it into
# i8), bpu s8 (zero point 0); weights s8 symmetric per tensor.
GRIDS = {"x86": (0, 255, 128), "bpu": (-128, 127, 0)}


def module(target, w, bias):
    """The trainable module: x [1, B, K] -> matmul with the weight [1, K, N]
    -> + bias [1, 1, N] -> output quantizer; parameters initialised to
    `w`, `bias`."""
    lo, hi, zp = GRIDS[target]
    x_t, w_t, b_t, y_t = ("tensor<1x%dx%dxf32>" % (B, K), "tensor<1x%dx%dxf32>" % (K, N),
                          "tensor<1x1x%dxf32>" % N, "tensor<1x%dx%dxf32>" % (B, N))
    return f"""module attributes {{qat.target = "{target}"}} {{
  ml_program.global private mutable @w({dc._dense_hex(w)} : {w_t}) : {w_t} {{qat.parameter = "weight"}}
  ml_program.global private mutable @b({dc._dense_hex(bias)} : {b_t}) : {b_t} {{qat.parameter = "bias"}}
  func.func @main(%arg0: {x_t}) -> {y_t} {{
    %s_in = arith.constant dense<{S_IN!r}> : tensor<f32>
    %z_in = arith.constant dense<{zp}> : tensor<i32>
    %x = qat.fake_quant %arg0, %s_in, %z_in {{quant_max = {hi} : i64, quant_min = {lo} : i64}} : {x_t}, tensor<f32>, tensor<i32>
    %w = ml_program.global_load @w : {w_t}
    %sw = arith.constant dense<{S_W!r}> : tensor<f32>
    %z = arith.constant dense<0> : tensor<i32>
    %wq = qat.fake_quant %w, %sw, %z {{quant_max = 127 : i64, quant_min = -128 : i64}} : {w_t}, tensor<f32>, tensor<i32>
    %zero = "tosa.const"() <{{values = dense<0.0> : tensor<1xf32>}}> : () -> tensor<1xf32>
    %mm = tosa.matmul %x, %wq, %zero, %zero : ({x_t}, {w_t}, tensor<1xf32>, tensor<1xf32>) -> {y_t}
    %bias = ml_program.global_load @b : {b_t}
    %sum = tosa.add %mm, %bias : ({y_t}, {b_t}) -> {y_t}
    %s_out = arith.constant dense<{S_OUT!r}> : tensor<f32>
    %y = qat.fake_quant %sum, %s_out, %z_in {{quant_max = {hi} : i64, quant_min = {lo} : i64}} : {y_t}, tensor<f32>, tensor<i32>
    return %y : {y_t}
  }}
}}
"""


rng = np.random.default_rng(0)
half = K // 2
# Activation codes relative to the zero point: a random first half, repeated
# (x86: u8 codes 218..255 with zero point 128; bpu: s8 codes 90..127).
xc = rng.integers(90, 128, (1, B, half))
x = (np.concatenate([xc, xc], axis=2) * S_IN).astype(np.float32)
# Weight codes: a positive first half; the second half its negation but for
# 8 codes per output moved by +-1, so the exact accumulator is small.
wc = rng.integers(90, 128, (1, half, N))
d = np.zeros((1, half, N), np.int64)
for n in range(N):
    d[0, rng.choice(half, 8, replace=False), n] = rng.choice([-1, 1], 8)
w = (np.concatenate([wc, -wc + d], axis=1) * S_W).astype(np.float32)
bias = (rng.integers(-40, 40, (1, 1, N)) * S_IN * S_W).astype(np.float32)

failures = 0
for target in ("x86", "bpu"):
    text = module(target, w, bias)
    names = dc.parameter_names(text)
    assert names == ["w", "b"], names
    m = dc.compile_train(dc.train_module(text, "deployed", "loss=mse"))
    y = rng.normal(0, 2, (1, B, N)).astype(np.float32)
    for step in range(4):
        params = dict(zip(names, [np.array(p) for p in m.main_get_parameters()]))
        frozen = dc.with_parameters(text, params)
        ev = np.array(m.main_eval(x))
        iq = np.array(dc.qat_mlir.compile(dc.tool("qat-opt", "-", "--qat-convert-to-integer",
                                                  stdin=frozen))(x))
        sim = np.array(dc.qat_mlir.compile(dc.tool(
            "qat-opt", "-", "--qat-convert-to-integer=simulate=true", stdin=frozen))(x))
        differ = int(np.sum(ev.view(np.uint32) != iq.view(np.uint32)))
        sim_differ = int(np.sum(sim.view(np.uint32) != iq.view(np.uint32)))
        codes = np.round(iq / np.float32(S_OUT))
        ok = differ == 0 and sim_differ > 0
        print("%s after %d steps: eval vs int8 %d of %d differ; f32 simulation vs int8 %d differ "
              "(largest %g codes); int8 codes %d..%d%s"
              % (target, step, differ, ev.size, sim_differ,
                 np.max(np.abs(sim - iq)) / S_OUT, codes.min(), codes.max(),
                 "" if ok else "  FAILED"), flush=True)
        failures += not ok
        if step < 3:
            gw = np.array(m.main_gradients(x, y)[0])
            if not (np.all(np.isfinite(gw)) and np.any(gw != 0)):
                print("%s: weight gradient not finite or zero  FAILED" % target)
                failures += 1
            m.main_train_step(x, y, np.array(1e-3, np.float64))
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
