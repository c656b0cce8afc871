# REQUIRES: numpy
# RUN: %python %s
#
# A per-tensor observer fused into the elementwise op that produces its
# input (qat-fuse-f32-epilogues{observers}), as in a QAT training step: a
# convolution whose output the program also returns (so the ReLU stays out
# of the kernel's epilogue), the ReLU, the observer, choose_qparams and the
# fake quantizer. kernels=none runs no fusion; kernels=portable (its
# forward convolution bit for bit that of kernels=none) fuses the observer:
# every output (fake-quantized activation, new range, convolution) must be
# equal bit for bit, on 1 and 2 threads. With kernels=vnni (AVX-512) the
# convolution rounds differently, so the new range must equal NumPy's
# min/max of the ReLU of the returned convolution (min/max are exact), and
# 2 threads must equal 1 bit for bit. The packed IR must show the fusion.
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, qat_run_path, ttype  # noqa: E402
from kernel_cases import dense_f32, has_avx512, run_kind, save_inputs  # noqa: E402



def module(n, h, w, ci, co, wt, bias):
    tin, tout = ttype((n, h, w, ci)), ttype((n, h, w, co))
    return "\n".join([
        "func.func @f(%%x: %s, %%mn: tensor<f32>, %%mx: tensor<f32>) -> (%s, tensor<f32>, "
        "tensor<f32>, %s) {" % (tin, tout, tout),
        '  %%w = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
        % (dense_f32(wt), ttype(wt.shape), ttype(wt.shape)),
        '  %%b = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
        % (dense_f32(bias), ttype(bias.shape), ttype(bias.shape)),
        '  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>',
        "  %%c = tosa.conv2d %%x, %%w, %%b, %%zp, %%zp {acc_type = f32, dilation = array<i64: 1, 1>, "
        "pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (%s, %s, %s, tensor<1xf32>, "
        "tensor<1xf32>) -> %s" % (tin, ttype(wt.shape), ttype(bias.shape), tout),
        "  %%r = tosa.clamp %%c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (%s) -> %s"
        % (tout, tout),
        "  %%nmn, %%nmx = qat.observer %%r, %%mn, %%mx : %s, tensor<f32>" % tout,
        "  %s, %s = qat.choose_qparams %%nmn, %%nmx {quant_min = 0 : i64, quant_max = 255 : i64} "
        ": tensor<f32> -> tensor<i32>" % ("%s", "%z"),
        "  %%q = qat.fake_quant %%r, %%s, %%z {quant_min = 0 : i64, quant_max = 255 : i64} : "
        "%s, tensor<f32>, tensor<i32>" % tout,
        "  return %%q, %%nmn, %%nmx, %%c : %s, tensor<f32>, tensor<f32>, %s" % (tout, tout),
        "}", ""])


def run(path, inputs, kernels, threads, tmp):
    return run_kind(path, "f", save_inputs(tmp, inputs), "%s/%d" % (kernels, threads), 4, tmp)


def main():
    rng = np.random.default_rng(5)
    qat_opt = os.path.join(os.path.dirname(qat_run_path()), "qat-opt")
    kernels = ["portable"] + (["vnni"] if has_avx512() else [])
    failures = 0
    for n, h, w, ci, co in [(2, 8, 8, 3, 8), (1, 8, 9, 5, 24), (1, 7, 9, 5, 16), (3, 6, 6, 4, 32)]:
        wt = rng.standard_normal((co, 3, 3, ci)).astype(np.float32)
        bias = rng.standard_normal(co).astype(np.float32)
        x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
        # A running range from earlier steps (the observer combines).
        mn, mx = np.array(0.5, np.float32), np.array(1.0, np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.mlir")
            with open(path, "w") as f:
                f.write(module(n, h, w, ci, co, wt, bias))
            ir = subprocess.run([qat_opt, path, "--qat-to-llvm=kernels=portable",
                                 "--mlir-print-ir-after=qat-fuse-f32-epilogues", "-o",
                                 os.devnull], capture_output=True, text=True, check=True).stderr
            # One generic with 3 results (the ReLU and the two ranges) whose
            # loops are reductions but the last (the lanes).
            fused_ir = re.search(r':3 = linalg\.generic .*iterator_types = '
                                 r'\[("reduction", )+"parallel"\]', ir) is not None
            ref = run(path, [x, mn, mx], "none", 1, tmp)
            for kern in kernels:
                one = None
                for threads in (1, 2):
                    out = run(path, [x, mn, mx], kern, threads, tmp)
                    if one is None:
                        one = out
                    if kern == "portable":
                        bad = sum(bit_mismatches(a, b) for a, b in zip(out, ref))
                        what = "vs kernels=none (unfused)"
                    else:
                        r = np.maximum(out[3], np.float32(0))
                        bad = int(out[1] != min(float(mn), float(r.min()))) + \
                            int(out[2] != max(float(mx), float(r.max())))
                        what = "range vs NumPy"
                    if threads == 2:
                        bad += sum(bit_mismatches(a, b) for a, b in zip(out, one))
                        what += ", vs 1 thread"
                    ok = bad == 0 and fused_ir
                    failures += not ok
                    print("%s %dx%dx%dx%d->%d kernels=%s threads=%d: %d mismatches %s; fused in "
                          "the IR: %s; range [%g, %g]" % (
                              "ok  " if ok else "FAIL", n, h, w, ci, co, kern, threads, bad,
                              what, fused_ir, out[1], out[2]))
    if failures:
        print("%d cases failed" % failures)
        sys.exit(1)
    print("all cases passed")


if __name__ == "__main__":
    main()
