# REQUIRES: numpy
# RUN: %python %s
#
# The f32 training kernels of qat-lower-f32-kernels against the generic
# lowering (kernels=none) and a float64 NumPy reference:
# qat.conv2d_backward_data (qat.conv2d_backward_data_f32: stride phases,
# weights packed when the kernel runs), qat.conv2d_backward_weight
# (qat.conv2d_backward_weight_f32) and tosa.conv2d with weights and bias
# passed as arguments (qat.pack_conv_weights_f32 + qat.packed_conv2d_f32),
# the depthwise adjoints (channel multiplier 1) and the matmul forward and
# adjoints with run-time operands (tosa.matmul, tosa.transpose).
# Every result must stay within the float-sum bound
# |ours - exact| <= (K + 2) * 2^-24 * sum |terms| (K terms), kernels=vnni on
# 2 threads must equal 1 thread bit for bit, and the runtime-weight forward
# with kernels=portable must equal kernels=none bit for bit (same order).
# Cases: strides 1 and 2 (phases without taps: 1x1 stride 2), asymmetric
# padding, channel counts that are not multiples of 16, batch 2, a 7x7
# stride-2 stem on 3 channels.
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, ttype  # noqa: E402
from kernel_cases import has_avx512, run_kinds, save_inputs  # noqa: E402



rng = np.random.default_rng(29)


def out_size(h, k, s, lo, hi):
    return (h + lo + hi - k) // s + 1


def attrs(pad, stride):
    return ("{pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>, "
            "dilation = array<i64: 1, 1>}" % (*pad, stride, stride))


def windows(x, kh, kw, stride, pad, ho, wo):
    """xp[n, oh*s + ky - top, ow*s + kx - left, :] for every tap."""
    n, h, w, c = x.shape
    xp = np.zeros((n, h + pad[0] + pad[1] + stride, w + pad[2] + pad[3] + stride, c))
    xp[:, pad[0]:pad[0] + h, pad[2]:pad[2] + w, :] = x
    for ky in range(kh):
        for kx in range(kw):
            yield ky, kx, xp[:, ky:ky + (ho - 1) * stride + 1:stride, kx:kx + (wo - 1) * stride + 1:stride, :]


def case(kind, n, h, w, ci, co, k, stride, pad):
    ho, wo = out_size(h, k, stride, pad[0], pad[1]), out_size(w, k, stride, pad[2], pad[3])
    x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
    wt = rng.standard_normal((co, k, k, ci)).astype(np.float32)
    dy = rng.standard_normal((n, ho, wo, co)).astype(np.float32)
    tx, tw, tdy = ttype(x.shape), ttype(wt.shape), ttype(dy.shape)
    x64, w64, dy64 = x.astype(np.float64), wt.astype(np.float64), dy.astype(np.float64)
    if kind == "data":
        text = ("func.func @f(%%dy: %s, %%w: %s) -> %s {\n"
                "  %%dx = qat.conv2d_backward_data %%dy, %%w %s : (%s, %s) -> %s\n"
                "  return %%dx : %s\n}\n" % (tdy, tw, tx, attrs(pad, stride), tdy, tw, tx, tx))
        inputs = [dy, wt]
        ref = np.zeros((n, h + pad[0] + pad[1] + stride, w + pad[2] + pad[3] + stride, ci))
        mag = np.zeros_like(ref)
        for ky in range(k):
            for kx in range(k):
                sl = (slice(None), slice(ky, ky + (ho - 1) * stride + 1, stride),
                      slice(kx, kx + (wo - 1) * stride + 1, stride), slice(None))
                ref[sl] += dy64 @ w64[:, ky, kx, :]
                mag[sl] += np.abs(dy64) @ np.abs(w64[:, ky, kx, :])
        ref = ref[:, pad[0]:pad[0] + h, pad[2]:pad[2] + w, :]
        mag = mag[:, pad[0]:pad[0] + h, pad[2]:pad[2] + w, :]
        terms = k * k * co
    elif kind == "weight":
        text = ("func.func @f(%%x: %s, %%dy: %s) -> %s {\n"
                "  %%dw = qat.conv2d_backward_weight %%x, %%dy %s : (%s, %s) -> %s\n"
                "  return %%dw : %s\n}\n" % (tx, tdy, tw, attrs(pad, stride), tx, tdy, tw, tw))
        inputs = [x, dy]
        ref = np.zeros(wt.shape)
        mag = np.zeros(wt.shape)
        for ky, kx, win in windows(x64, k, k, stride, pad, ho, wo):
            ref[:, ky, kx, :] = np.einsum("nhwo,nhwi->oi", dy64, win)
            mag[:, ky, kx, :] = np.einsum("nhwo,nhwi->oi", np.abs(dy64), np.abs(win))
        terms = n * ho * wo
    else:  # forward with weights and bias as arguments
        bias = rng.standard_normal(co).astype(np.float32)
        tb = ttype(bias.shape)
        text = ("func.func @f(%%x: %s, %%w: %s, %%b: %s) -> %s {\n"
                '  %%zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>\n'
                "  %%y = tosa.conv2d %%x, %%w, %%b, %%zp, %%zp {acc_type = f32, dilation = array<i64: 1, 1>, "
                "pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>} : (%s, %s, %s, "
                "tensor<1xf32>, tensor<1xf32>) -> %s\n"
                "  return %%y : %s\n}\n" % (tx, tw, tb, ttype(dy.shape), *pad, stride, stride, tx, tw, tb,
                                             ttype(dy.shape), ttype(dy.shape)))
        inputs = [x, wt, bias]
        ref = np.zeros(dy.shape) + bias
        mag = np.zeros(dy.shape) + np.abs(bias)
        for ky, kx, win in windows(x64, k, k, stride, pad, ho, wo):
            ref += win @ w64[:, ky, kx, :].T
            mag += np.abs(win) @ np.abs(w64[:, ky, kx, :]).T
        terms = k * k * ci + 1
    name = "%s n%d %dx%dx%d->%d k%d s%d pad%s" % (kind, n, h, w, ci, co, k, stride, pad)
    return name, text, inputs, ref, (terms + 2) * 2.0 ** -24 * mag, kind


def dw_case(kind, n, h, w, c, k, stride, pad):
    ho, wo = out_size(h, k, stride, pad[0], pad[1]), out_size(w, k, stride, pad[2], pad[3])
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    wt = rng.standard_normal((k, k, c, 1)).astype(np.float32)
    dy = rng.standard_normal((n, ho, wo, c)).astype(np.float32)
    tx, tw, tdy = ttype(x.shape), ttype(wt.shape), ttype(dy.shape)
    x64, w64, dy64 = x.astype(np.float64), wt.astype(np.float64), dy.astype(np.float64)
    if kind == "dw_data":
        text = ("func.func @f(%%dy: %s, %%w: %s) -> %s {\n"
                "  %%dx = qat.depthwise_conv2d_backward_data %%dy, %%w %s : (%s, %s) -> %s\n"
                "  return %%dx : %s\n}\n" % (tdy, tw, tx, attrs(pad, stride), tdy, tw, tx, tx))
        inputs = [dy, wt]
        ref = np.zeros((n, h + pad[0] + pad[1] + stride, w + pad[2] + pad[3] + stride, c))
        mag = np.zeros_like(ref)
        for ky in range(k):
            for kx in range(k):
                sl = (slice(None), slice(ky, ky + (ho - 1) * stride + 1, stride),
                      slice(kx, kx + (wo - 1) * stride + 1, stride), slice(None))
                ref[sl] += dy64 * w64[ky, kx, :, 0]
                mag[sl] += np.abs(dy64 * w64[ky, kx, :, 0])
        ref = ref[:, pad[0]:pad[0] + h, pad[2]:pad[2] + w, :]
        mag = mag[:, pad[0]:pad[0] + h, pad[2]:pad[2] + w, :]
        terms = k * k
    else:
        text = ("func.func @f(%%x: %s, %%dy: %s) -> %s {\n"
                "  %%dw = qat.depthwise_conv2d_backward_weight %%x, %%dy %s : (%s, %s) -> %s\n"
                "  return %%dw : %s\n}\n" % (tx, tdy, tw, attrs(pad, stride), tx, tdy, tw, tw))
        inputs = [x, dy]
        ref = np.zeros(wt.shape)
        mag = np.zeros(wt.shape)
        for ky, kx, win in windows(x64, k, k, stride, pad, ho, wo):
            ref[ky, kx, :, 0] = np.einsum("nhwc,nhwc->c", dy64, win)
            mag[ky, kx, :, 0] = np.einsum("nhwc,nhwc->c", np.abs(dy64), np.abs(win))
        terms = n * ho * wo
    name = "%s n%d %dx%dx%d k%d s%d pad%s" % (kind, n, h, w, c, k, stride, pad)
    return name, text, inputs, ref, (terms + 2) * 2.0 ** -24 * mag, kind


def mm_case(kind, m, k, n):
    """Forward with B an argument, dA = dC B^T, dB = A^T dC (the matmul
    adjoints the training step writes)."""
    a = rng.standard_normal((1, m, k)).astype(np.float32)
    bm = rng.standard_normal((1, k, n)).astype(np.float32)
    dc = rng.standard_normal((1, m, n)).astype(np.float32)
    zp = '  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>\n'
    if kind == "mm_fwd":
        args, inputs, res = [a, bm], [a, bm], (1, m, n)
        body = ("  %%y = tosa.matmul %%a0, %%a1, %%zp, %%zp : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s\n"
                % (ttype(a.shape), ttype(bm.shape), ttype(res)))
        ref = a[0].astype(np.float64) @ bm[0]
        mag = np.abs(a[0]).astype(np.float64) @ np.abs(bm[0])
        terms = k
    elif kind == "mm_data":
        args, inputs, res = [dc, bm], [dc, bm], (1, m, k)
        body = ("  %%t = tosa.transpose %%a1 {perms = array<i32: 0, 2, 1>} : (%s) -> %s\n"
                "  %%y = tosa.matmul %%a0, %%t, %%zp, %%zp : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s\n"
                % (ttype(bm.shape), ttype((1, n, k)), ttype(dc.shape), ttype((1, n, k)), ttype(res)))
        ref = dc[0].astype(np.float64) @ bm[0].T
        mag = np.abs(dc[0]).astype(np.float64) @ np.abs(bm[0]).T
        terms = n
    else:
        args, inputs, res = [a, dc], [a, dc], (1, k, n)
        body = ("  %%t = tosa.transpose %%a0 {perms = array<i32: 0, 2, 1>} : (%s) -> %s\n"
                "  %%y = tosa.matmul %%t, %%a1, %%zp, %%zp : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s\n"
                % (ttype(a.shape), ttype((1, k, m)), ttype((1, k, m)), ttype(dc.shape), ttype(res)))
        ref = a[0].T.astype(np.float64) @ dc[0]
        mag = np.abs(a[0]).T.astype(np.float64) @ np.abs(dc[0])
        terms = m
    text = ("func.func @f(%%a0: %s, %%a1: %s) -> %s {\n%s%s  return %%y : %s\n}\n"
            % (ttype(args[0].shape), ttype(args[1].shape), ttype(res), zp, body, ttype(res)))
    name = "%s %dx%dx%d" % (kind, m, k, n)
    return name, text, inputs, ref[None], ((terms + 2) * 2.0 ** -24 * mag)[None], kind


cases = []
for kind in ["dw_data", "dw_weight"]:
    cases += [
        dw_case(kind, 1, 8, 8, 16, 3, 1, (1, 1, 1, 1)),
        dw_case(kind, 2, 9, 7, 35, 3, 2, (1, 1, 1, 1)),
        dw_case(kind, 1, 10, 11, 24, 3, 2, (1, 0, 1, 0)),
        dw_case(kind, 1, 13, 13, 7, 5, 1, (2, 1, 2, 1)),
        dw_case(kind, 1, 9, 9, 40, 7, 2, (3, 3, 3, 3)),
    ]
for kind in ["mm_fwd", "mm_data", "mm_weight"]:
    cases += [mm_case(kind, 8, 64, 40), mm_case(kind, 1, 100, 10), mm_case(kind, 32, 784, 10)]
for kind in ["data", "weight", "forward"]:
    cases += [
        case(kind, 1, 8, 8, 16, 16, 3, 1, (1, 1, 1, 1)),
        case(kind, 2, 9, 7, 13, 37, 3, 2, (1, 1, 1, 1)),
        case(kind, 1, 10, 10, 24, 20, 3, 2, (1, 0, 1, 0)),
        case(kind, 1, 9, 9, 32, 48, 1, 2, (0, 0, 0, 0)),
        case(kind, 1, 7, 7, 40, 64, 1, 1, (0, 0, 0, 0)),
        case(kind, 1, 17, 17, 3, 32, 7, 2, (3, 3, 3, 3)),
        case(kind, 2, 6, 5, 8, 17, 5, 1, (2, 1, 0, 2)),
    ]
kinds = ["portable"] + (["vnni"] if has_avx512() else [])
if "vnni" not in kinds:
    print("kernels=vnni (AVX-512 f32) not run: this CPU lacks AVX-512 VNNI")
kinds.append(kinds[-1] + "/2")
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, text, inputs, ref, tol, kind in cases:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(text)
        out = run_kinds(path, save_inputs(tmp, inputs), kinds, tmp)
        for run in ["none"] + kinds:
            err = np.abs(out[run].astype(np.float64) - ref)
            over = int(np.sum(err > tol))
            isa = run.partition("/")[0]
            bad, line = over, "%d over the bound (max error %.3g)" % (over, float(err.max()))
            if "/" in run:
                same = bit_mismatches(out[run], out[isa])
                bad += same
                line += ", %d differ from 1 thread in bits" % same
            elif isa == "portable" and kind in ("forward", "mm_fwd"):
                same = bit_mismatches(out[run], out["none"])
                bad += same
                line += ", %d differ from kernels=none in bits" % same
            print("%-46s %-9s %s" % (name, run, line))
            failures += bad != 0
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
