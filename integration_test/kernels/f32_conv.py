# REQUIRES: numpy
# RUN: %python %s
#
# The f32 kernels of qat-lower-f32-kernels (qat.packed_conv2d_f32,
# qat.packed_depthwise_conv2d_f32) against the generic lowering of the same
# float model (kernels=none) and a float64 NumPy reference:
# - kernels=portable (a product and a sum per step, the generic loops'
#   order) must equal kernels=none bit for bit;
# - kernels=vnni (AVX-512, one fma per step) must stay within the float-sum
#   bound |ours - exact| <= (K + 2) * 2^-24 * sum |terms| (K products plus
#   the bias; docs/Kernels.md), scaled by the epilogue's largest gain;
# - kernels=vnni on 2 OpenMP threads must equal 1 thread bit for bit.
# Cases: convolutions with stride, asymmetric padding, dilation, channel
# counts that are not multiples of 16 (partial blocks), batch 2 and partial
# pixel tiles; a fused epilogue (batch-norm affine, residual add, ReLU) that
# qat-fuse-f32-epilogues moves into the kernel; grouped convolutions (the
# exporter's slices, per-group convolutions and concat, packed as one
# kernel with groups: checked in the packed IR); depthwise convolutions;
# fully connected layers (tosa.matmul, GEMV among them).
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import bit_mismatches, qat_run_path, ttype  # noqa: E402
from kernel_cases import dense_f32, has_avx512, run_kinds, save_inputs  # noqa: E402



def const(name, a):
    t = ttype(a.shape)
    return '  %%%s = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s' % (name, dense_f32(a), t, t)


rng = np.random.default_rng(23)
ZP = ['  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>',
      '  %mzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>']


def out_size(h, k, s, d, lo, hi):
    return (h + lo + hi - (k - 1) * d - 1) // s + 1


def ref_conv(x, w, bias, stride, pad, dil, depthwise):
    """float64 convolution and the sum of |terms| (for the bound)."""
    n, h, wi, c = x.shape
    if depthwise:
        k0, k1 = w.shape[0], w.shape[1]
    else:
        k0, k1 = w.shape[1], w.shape[2]
    ho = out_size(h, k0, stride, dil, pad[0], pad[1])
    wo = out_size(wi, k1, stride, dil, pad[2], pad[3])
    xp = np.zeros((n, h + pad[0] + pad[1], wi + pad[2] + pad[3], c))
    xp[:, pad[0]:pad[0] + h, pad[2]:pad[2] + wi, :] = x
    co = c if depthwise else w.shape[0]
    out = np.zeros((n, ho, wo, co)) + bias.astype(np.float64)
    mag = np.zeros((n, ho, wo, co)) + np.abs(bias.astype(np.float64))
    for ky in range(k0):
        for kx in range(k1):
            patch = xp[:, ky * dil:ky * dil + (ho - 1) * stride + 1:stride,
                       kx * dil:kx * dil + (wo - 1) * stride + 1:stride, :]
            if depthwise:
                wt = w[ky, kx, :, 0].astype(np.float64)
                out += patch * wt
                mag += np.abs(patch) * np.abs(wt)
            else:
                wt = w[:, ky, kx, :].astype(np.float64)
                out += patch @ wt.T
                mag += np.abs(patch) @ np.abs(wt).T
    return out, mag


def conv_case(n, h, w, ci, co, k, stride, pad, dil, epilogue=False, depthwise=False):
    kk = (k, k)
    ho = out_size(h, k, stride, dil, pad[0], pad[1])
    wo = out_size(w, k, stride, dil, pad[2], pad[3])
    if depthwise:
        co = ci
        wt = rng.standard_normal((k, k, ci, 1)).astype(np.float32)
    else:
        wt = rng.standard_normal((co, k, k, ci)).astype(np.float32)
    bias = rng.standard_normal(co).astype(np.float32)
    x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
    tin, tout = ttype((n, h, w, ci)), ttype((n, ho, wo, co))
    op = "tosa.depthwise_conv2d" if depthwise else "tosa.conv2d"
    body = ZP + [const("w", wt), const("b", bias),
                 "  %%y = %s %%x, %%w, %%b, %%zp, %%zp {acc_type = f32, dilation = array<i64: %d, %d>, "
                 "pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>} : (%s, %s, %s, "
                 "tensor<1xf32>, tensor<1xf32>) -> %s"
                 % (op, dil, dil, *pad, stride, stride, tin, ttype(wt.shape), ttype(bias.shape), tout)]
    args, inputs, result = ["%x: " + tin], [x], "%y"
    ref, mag = ref_conv(x, wt, bias, stride, pad, dil, depthwise)
    gain = 1.0
    if epilogue:
        # (y - mean) * scale * gamma + beta + residual, then ReLU: the chain
        # a batch-normed residual block ends with.
        mean = rng.standard_normal((1, 1, 1, co)).astype(np.float32)
        scale = rng.uniform(0.5, 1.5, (1, 1, 1, co)).astype(np.float32)
        gamma = rng.uniform(0.5, 1.5, (1, 1, 1, co)).astype(np.float32)
        beta = rng.standard_normal((1, 1, 1, co)).astype(np.float32)
        res = rng.standard_normal((n, ho, wo, co)).astype(np.float32)
        c4 = ttype((1, 1, 1, co))
        body += [const("mean", mean), const("scale", scale), const("gamma", gamma), const("beta", beta),
                 "  %%e1 = tosa.sub %%y, %%mean : (%s, %s) -> %s" % (tout, c4, tout),
                 "  %%e2 = tosa.mul %%e1, %%scale, %%mzp : (%s, %s, tensor<1xi8>) -> %s" % (tout, c4, tout),
                 "  %%e3 = tosa.mul %%e2, %%gamma, %%mzp : (%s, %s, tensor<1xi8>) -> %s" % (tout, c4, tout),
                 "  %%e4 = tosa.add %%e3, %%beta : (%s, %s) -> %s" % (tout, c4, tout),
                 "  %%e5 = tosa.add %%e4, %%r : (%s, %s) -> %s" % (tout, tout, tout),
                 "  %%e6 = tosa.clamp %%e5 {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (%s) -> %s"
                 % (tout, tout)]
        args.append("%r: " + tout)
        inputs.append(res)
        result = "%e6"
        ref = np.maximum((ref - mean) * scale * gamma + beta + res, 0)
        gain = float(np.max(scale * gamma))
    text = "func.func @f(%s) -> %s {\n%s\n  return %s : %s\n}\n" % (
        ", ".join(args), tout, "\n".join(body), result, tout)
    terms = (k * k if depthwise else k * k * ci) + 1
    name = "%s n%d %dx%dx%d->%d k%d s%d pad%s d%d%s" % (
        "depthwise" if depthwise else "conv", n, h, w, ci, co, k, stride, pad, dil,
        " +bn+res+relu" if epilogue else "")
    return name, text, inputs, ref, (terms + 2) * 2.0 ** -24 * mag * gain + 1e-6 * (1 if epilogue else 0)


def grouped_case(n, h, w, groups, cg, cog, k, stride, pad, dil, through_abs=False, epilogue=False):
    """PyTorch's grouped convolution as the exporter writes it: one
    tosa.conv2d per group on its tosa.slice of the input's channels, the
    results concatenated on the channels (qat-pack-f32-kernels makes it one
    qat.packed_conv2d_f32 {groups}). through_abs: each group's input is
    abs(slice) (not a slice of one tensor: the kernel reads their concat)."""
    ci, co = groups * cg, groups * cog
    ho = out_size(h, k, stride, dil, pad[0], pad[1])
    wo = out_size(w, k, stride, dil, pad[2], pad[3])
    x = rng.standard_normal((n, h, w, ci)).astype(np.float32)
    tin, tout = ttype((n, h, w, ci)), ttype((n, ho, wo, co))
    tgi, tgo = ttype((n, h, w, cg)), ttype((n, ho, wo, cog))
    body = list(ZP)
    wts, biases, parts = [], [], []
    for g in range(groups):
        wt = rng.standard_normal((cog, k, k, cg)).astype(np.float32)
        bias = rng.standard_normal(cog).astype(np.float32)
        wts.append(wt)
        biases.append(bias)
        body += [const("w%d" % g, wt), const("b%d" % g, bias),
                 "  %%st%d = tosa.const_shape {values = dense<[0, 0, 0, %d]> : tensor<4xindex>} "
                 ": () -> !tosa.shape<4>" % (g, g * cg),
                 "  %%sz%d = tosa.const_shape {values = dense<[%d, %d, %d, %d]> : tensor<4xindex>} "
                 ": () -> !tosa.shape<4>" % (g, n, h, w, cg),
                 "  %%s%d = tosa.slice %%x, %%st%d, %%sz%d : (%s, !tosa.shape<4>, !tosa.shape<4>) -> %s"
                 % (g, g, g, tin, tgi)]
        src = "%%s%d" % g
        if through_abs:
            body.append("  %%a%d = tosa.abs %%s%d : (%s) -> %s" % (g, g, tgi, tgi))
            src = "%%a%d" % g
        body.append("  %%y%d = tosa.conv2d %s, %%w%d, %%b%d, %%zp, %%zp {acc_type = f32, "
                    "dilation = array<i64: %d, %d>, pad = array<i64: %d, %d, %d, %d>, "
                    "stride = array<i64: %d, %d>} : (%s, %s, %s, tensor<1xf32>, tensor<1xf32>) -> %s"
                    % (g, src, g, g, dil, dil, *pad, stride, stride, tgi, ttype(wt.shape),
                       ttype(bias.shape), tgo))
        parts.append("%%y%d" % g)
    body.append("  %%y = tosa.concat %s {axis = 3 : i32} : (%s) -> %s"
                % (", ".join(parts), ", ".join([tgo] * groups), tout))
    result = "%y"
    xin = np.abs(x) if through_abs else x
    refs, mags = [], []
    for g in range(groups):
        r, m = ref_conv(xin[..., g * cg:(g + 1) * cg], wts[g], biases[g], stride, pad, dil, False)
        refs.append(r)
        mags.append(m)
    ref, mag = np.concatenate(refs, 3), np.concatenate(mags, 3)
    if epilogue:
        body.append("  %%r = tosa.clamp %%y {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} "
                    ": (%s) -> %s" % (tout, tout))
        result = "%r"
        ref = np.maximum(ref, 0)
    text = "func.func @f(%%x: %s) -> %s {\n%s\n  return %s : %s\n}\n" % (
        tin, tout, "\n".join(body), result, tout)
    name = "grouped n%d %dx%dx%d->%d g%d k%d s%d pad%s d%d%s%s" % (
        n, h, w, ci, co, groups, k, stride, pad, dil, " abs" if through_abs else "",
        " +relu" if epilogue else "")
    return name, text, [x], ref, (k * k * cg + 3) * 2.0 ** -24 * mag


def fc_case(m, k, nout):
    wt = rng.standard_normal((1, k, nout)).astype(np.float32)
    x = rng.standard_normal((1, m, k)).astype(np.float32)
    text = "\n".join([
        "func.func @f(%%x: %s) -> %s {" % (ttype((1, m, k)), ttype((1, m, nout))),
        ZP[0], const("w", wt),
        "  %%mm = tosa.matmul %%x, %%w, %%zp, %%zp : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s"
        % (ttype((1, m, k)), ttype(wt.shape), ttype((1, m, nout))),
        "  return %%mm : %s" % ttype((1, m, nout)), "}", ""])
    ref = x[0].astype(np.float64) @ wt[0].astype(np.float64)
    mag = np.abs(x[0]).astype(np.float64) @ np.abs(wt[0]).astype(np.float64)
    return ("fc %dx%d->%d" % (m, k, nout), text, [x], ref[None], ((k + 1) * 2.0 ** -24 * mag)[None])


cases = [
    conv_case(1, 5, 5, 3, 20, 3, 1, (1, 1, 1, 1), 1),
    conv_case(2, 9, 7, 8, 16, 3, 2, (1, 1, 1, 1), 1),
    conv_case(1, 8, 8, 13, 37, 3, 1, (2, 2, 2, 2), 2),
    conv_case(1, 11, 11, 3, 64, 7, 2, (3, 3, 2, 2), 1),
    conv_case(1, 7, 7, 64, 130, 1, 1, (0, 0, 0, 0), 1),
    conv_case(1, 9, 9, 32, 48, 1, 2, (0, 0, 0, 0), 1),
    conv_case(2, 6, 6, 16, 64, 3, 1, (1, 0, 1, 0), 1),
    conv_case(1, 10, 10, 24, 80, 3, 1, (1, 1, 1, 1), 1, epilogue=True),
    conv_case(1, 7, 7, 17, 33, 1, 1, (0, 0, 0, 0), 1, epilogue=True),
    conv_case(1, 12, 12, 16, 16, 3, 1, (1, 1, 1, 1), 1, depthwise=True),
    conv_case(2, 9, 11, 40, 40, 3, 2, (1, 1, 1, 1), 1, depthwise=True),
    conv_case(1, 13, 13, 7, 7, 5, 1, (2, 1, 2, 1), 2, depthwise=True),
    conv_case(1, 20, 20, 35, 35, 3, 1, (1, 1, 1, 1), 1, depthwise=True, epilogue=True),
    grouped_case(1, 9, 9, 4, 16, 16, 3, 1, (1, 1, 1, 1), 1),
    grouped_case(2, 8, 7, 3, 5, 7, 3, 2, (1, 0, 1, 1), 1),
    grouped_case(1, 7, 7, 2, 8, 40, 1, 1, (0, 0, 0, 0), 1, epilogue=True),
    grouped_case(1, 10, 10, 2, 6, 16, 3, 1, (2, 2, 2, 2), 2, through_abs=True),
    grouped_case(1, 6, 6, 8, 1, 1, 3, 1, (1, 1, 1, 1), 1, epilogue=True),
    fc_case(1, 100, 10),
    fc_case(1, 300, 500),
    fc_case(7, 64, 33),
    fc_case(32, 784, 10),
]
# The grouped cases must become one kernel (else they would only test the
# per-group convolutions).
qat_opt = os.path.join(os.path.dirname(qat_run_path()), "qat-opt")
for name, text, _, _, _ in cases:
    if name.startswith("grouped"):
        packed = subprocess.run([qat_opt, "-", "--qat-pack-f32-kernels"], input=text,
                                capture_output=True, text=True, check=True).stdout
        ngroups = int(name.split(" g")[1].split()[0])
        if "groups = %d : i64" % ngroups not in packed or "tosa.conv2d" in packed:
            print("%s: not packed as one grouped kernel:\n%s" % (name, packed))
            sys.exit(1)

kinds = ["portable"] + (["vnni"] if has_avx512() else [])
if "vnni" not in kinds:
    print("kernels=vnni (AVX-512 f32) not run: this CPU lacks AVX-512 VNNI")
kinds.append(kinds[-1] + "/2")
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, text, inputs, ref, tol in cases:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(text)
        out = run_kinds(path, save_inputs(tmp, inputs), kinds, tmp)
        for kind in ["none"] + kinds:
            err = np.abs(out[kind].astype(np.float64) - ref)
            over = int(np.sum(err > tol))
            isa = kind.partition("/")[0]
            if kind == "none":
                line = "within the bound: %d over" % over
                bad = over
            elif isa == "portable":
                bad = bit_mismatches(out[kind], out["none"]) + over
                line = "%d differ from kernels=none in bits, %d over the bound" % (
                    bit_mismatches(out[kind], out["none"]), over)
            elif "/" in kind:
                bad = bit_mismatches(out[kind], out[isa])
                line = "%d differ from 1 thread in bits" % bad
            else:
                bad = over
                line = "%d over the bound (max error %.3g, %d differ from kernels=none)" % (
                    over, float(err.max()), bit_mismatches(out[kind], out["none"]))
            print("%-50s %-9s %s" % (name, kind, line))
            failures += bad != 0
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
