# REQUIRES: numpy
# RUN: %python %s
#
# Copies that qat-linalg-to-loops turns into row loops (64-byte vectors,
# then element by element): the padded input of a max pool, slices of
# i8 codes and of f32 values, with rows that are shorter than a vector,
# a multiple of it, and a multiple plus a rest. Each result is compared
# with numpy, exactly.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import run, ttype  # noqa: E402

rng = np.random.default_rng(7)
failures = 0


def check(name, ours, ref):
    global failures
    same = ours.shape == ref.shape and np.array_equal(ours, ref)
    print(f"{name}: {'ok' if same else 'MISMATCH'}")
    failures += not same


def max_pool_ref(x, k, s, pad):
    n, h, w, c = x.shape
    t, b, l, r = pad
    low = np.iinfo(x.dtype).min if x.dtype.kind == "i" else -np.inf
    p = np.full((n, h + t + b, w + l + r, c), low, dtype=x.dtype)
    p[:, t:t + h, l:l + w, :] = x
    oh, ow = (h + t + b - k) // s + 1, (w + l + r - k) // s + 1
    out = np.full((n, oh, ow, c), low, dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, p[:, i:i + s * oh:s, j:j + s * ow:s, :])
    return out


# Max pool (3x3, stride 2) on padded i8 codes: rows of w*c bytes.
for (h, w, c, pad) in [(10, 10, 64, (1, 0, 1, 0)), (5, 5, 70, (1, 1, 1, 1)),
                       (7, 6, 3, (1, 1, 0, 1)), (5, 5, 128, (1, 1, 1, 1))]:
    x = rng.integers(-128, 128, size=(1, h, w, c), dtype=np.int8)
    ref = max_pool_ref(x, 3, 2, pad)
    mlir = f"""
func.func @f(%x: {ttype(x.shape, 'i8')}) -> {ttype(ref.shape, 'i8')} {{
  %p = tosa.max_pool2d %x {{kernel = array<i64: 3, 3>, pad = array<i64: {pad[0]}, {pad[1]}, {pad[2]}, {pad[3]}>, stride = array<i64: 2, 2>}} : ({ttype(x.shape, 'i8')}) -> {ttype(ref.shape, 'i8')}
  return %p : {ttype(ref.shape, 'i8')}
}}"""
    check(f"max_pool {h}x{w}x{c} pad {pad}", run(mlir, "f", [x], 1)[0], ref)

# Slices (then a copy into the result): i8 and f32, trimmed rows and
# channels, at an offset.
for (shape, start, size, elem, dtype) in [
        ((1, 8, 8, 64), (0, 0, 0, 0), (1, 7, 7, 64), "i8", np.int8),
        ((1, 9, 9, 40), (0, 1, 2, 0), (1, 7, 5, 40), "i8", np.int8),
        ((1, 6, 6, 20), (0, 1, 1, 3), (1, 4, 4, 17), "f32", np.float32),
        ((2, 5, 5, 33), (1, 0, 0, 0), (1, 5, 4, 33), "f32", np.float32)]:
    x = (rng.integers(-128, 128, size=shape, dtype=np.int8) if elem == "i8"
         else rng.standard_normal(shape).astype(dtype))
    ref = x[tuple(slice(a, a + n) for a, n in zip(start, size))]
    mlir = f"""
func.func @f(%x: {ttype(shape, elem)}) -> {ttype(size, elem)} {{
  %start = tosa.const_shape {{values = dense<[{', '.join(map(str, start))}]> : tensor<4xindex>}} : () -> !tosa.shape<4>
  %size = tosa.const_shape {{values = dense<[{', '.join(map(str, size))}]> : tensor<4xindex>}} : () -> !tosa.shape<4>
  %s = tosa.slice %x, %start, %size : ({ttype(shape, elem)}, !tosa.shape<4>, !tosa.shape<4>) -> {ttype(size, elem)}
  return %s : {ttype(size, elem)}
}}"""
    check(f"slice {shape} [{start} +{size}] {elem}", run(mlir, "f", [x], 1)[0], ref)

print("failures:", failures)
sys.exit(1 if failures else 0)
