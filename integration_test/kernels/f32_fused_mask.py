# REQUIRES: numpy
# RUN: %python %s
#
# The straight-through mask of a fake quantizer fused into the data-gradient
# kernel (qat-fuse-f32-epilogues on qat.conv2d_backward_data_f32) against
# the same program unfused: @fused returns the masked gradient only, so the
# mask's generic becomes the kernel's epilogue; @unfused also returns the
# raw gradient, whose second reader keeps the mask a separate loop. The
# masked results must be equal bit for bit (0 mismatches), with
# kernels=portable and (on AVX-512) kernels=vnni, on 1 and 2 threads, and
# equal to NumPy's mask (q = roundeven(x * (1 / s)) + z inside
# [qmin, qmax], multiplied in) applied to the unfused gradient. Inputs put x on rounding
# ties, on the clamp bounds and beyond them.
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, ttype  # noqa: E402
from kernel_cases import has_avx512, run_kind, save_inputs  # noqa: E402



QMIN, QMAX = 0, 255


def module(dy, w, dx_shape, stride, pad):
    tdy, tw, tdx = ttype(dy.shape), ttype(w.shape), ttype(dx_shape)
    attrs = ("{dilation = array<i64: 1, 1>, pad = array<i64: %d, %d, %d, %d>, "
             "stride = array<i64: %d, %d>}" % (*pad, stride, stride))
    fq = "{quant_min = %d : i64, quant_max = %d : i64}" % (QMIN, QMAX)
    body = ("  %%g = qat.conv2d_backward_data %%dy, %%w %s : (%s, %s) -> %s\n"
            "  %%m = qat.fake_quant_grad %%g, %%x, %%s, %%z %s : %s, tensor<f32>, tensor<i32>\n"
            % (attrs, tdy, tw, tdx, fq, tdx))
    args = "%%dy: %s, %%w: %s, %%x: %s, %%s: tensor<f32>, %%z: tensor<i32>" % (tdy, tw, tdx)
    return ("func.func @fused(%s) -> %s {\n%s  return %%m : %s\n}\n"
            "func.func @unfused(%s) -> (%s, %s) {\n%s  return %%m, %%g : %s, %s\n}\n"
            % (args, tdx, body, tdx, args, tdx, tdx, body, tdx, tdx))


def run(text, entry, inputs, n_out, kernels, threads):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(text)
        return run_kind(path, entry, save_inputs(tmp, inputs), "%s/%d" % (kernels, threads),
                        n_out, tmp, timeout=None)


def numpy_mask(g, x, s, z):
    inv = np.float32(1.0) / np.float32(s)
    q = np.round((x * inv).astype(np.float32)) + np.float32(z)
    inside = (q >= QMIN) & (q <= QMAX)
    # A product, not a select (the op's contract): a clipped negative
    # gradient gives -0.0.
    return (g * inside.astype(np.float32)).astype(np.float32)


def main():
    rng = np.random.default_rng(31)
    cases = [  # n, h, w, cin (dx channels), cout (dy channels), k, stride, pad
        (1, 8, 8, 8, 16, 3, 2, (1, 1, 1, 1)),
        (2, 9, 9, 20, 12, 3, 1, (1, 1, 1, 1)),
        (1, 14, 14, 32, 16, 1, 2, (0, 0, 0, 0)),
    ]
    kernels = ["portable"] + (["vnni"] if has_avx512() else [])
    failures = 0
    for n, h, wd, ci, co, k, st, pad in cases:
        ho = (h + pad[0] + pad[1] - k) // st + 1
        wo = (wd + pad[2] + pad[3] - k) // st + 1
        dy = rng.standard_normal((n, ho, wo, co)).astype(np.float32)
        w = rng.standard_normal((co, k, k, ci)).astype(np.float32)
        s, z = np.float32(0.05), np.int32(7)
        # x: codes from -20 to 275 (beyond both bounds), a third on ties.
        codes = rng.integers(-20 - int(z), 276 - int(z), (n, h, wd, ci))
        tie = rng.random((n, h, wd, ci)) < 0.33
        x = ((codes + np.where(tie, 0.5, rng.uniform(-0.4, 0.4, codes.shape))) * s).astype(np.float32)
        x.flat[:4] = [(QMIN - z) * s, (QMAX - z) * s, (QMIN - z - 0.5) * s, (QMAX - z + 0.5) * s]
        text = module(dy, w, (n, h, wd, ci), st, pad)
        inputs = [dy, w, x, np.array(s, np.float32), np.array(z, np.int32)]
        for kern in kernels:
            for threads in (1, 2):
                fused = run(text, "fused", inputs, 1, kern, threads)[0]
                masked, g = run(text, "unfused", inputs, 2, kern, threads)
                bad = bit_mismatches(fused, masked)
                bad_np = bit_mismatches(masked, numpy_mask(g, x, s, z))
                zeroed = int(np.sum((masked == 0) & (g != 0)))
                ok = bad == 0 and bad_np == 0 and zeroed > 0
                failures += not ok
                print("%s n%d %dx%dx%d<-%d k%d s%d kernels=%s threads=%d: fused vs unfused %d "
                      "mismatches, vs NumPy mask %d, %d of %d masked to 0 %s"
                      % ("ok  " if ok else "FAIL", n, h, wd, ci, co, k, st, kern, threads, bad,
                         bad_np, zeroed, g.size, ""))
    if failures:
        print("%d cases failed" % failures)
        sys.exit(1)
    print("all cases passed")


if __name__ == "__main__":
    main()
