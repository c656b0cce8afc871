# REQUIRES: numpy
# RUN: %python %s
#
# The int8 kernels of qat-lower-packed-kernels against the generic lowering
# of the same integer model (kernels=none), bit for bit: random conv2d
# (stride, padding, dilation, channel counts that are not multiples of 4 or
# 16, batch 2, pixel counts that leave partial register tiles, ReLU and
# full ranges), conv + residual add, depthwise conv2d (stride, padding,
# dilation, 5x5, channel counts below and above 16 and not multiples of it,
# rows longer than one tile; signed and unsigned codes read in place with
# the padding inline), chains of kernels that pass unsigned codes
# to each other (bottleneck, inverted residual, odd channel counts), and
# fully connected layers (GEMVs among them), for
# kernels=portable and, when the CPU has AVX-512 VNNI, kernels=vnni, and
# the last of them on two threads (--num-threads 2, OpenMP); then
# kernels=amx-emulated (the AMX kernels, their tile ops emulated by vector
# code that also checks every tile row against its buffer) on one and two
# threads. `--kinds K1,K2` runs those kernels instead (packed_conv_amx.test:
# amx and amx/2 on real tiles).
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import tool, ttype  # noqa: E402
from kernel_cases import has_amx, has_avx512, run_kinds, save_inputs  # noqa: E402




def dense(a):
    return "[" + ", ".join(dense(x) if a.ndim > 1 else str(int(x)) for x in a) + "]"


def dense_f(a):
    return "[" + ", ".join("%.9e" % x for x in a) + "]"


def kernel(q, kind, x, w, b, m, tin, twt, co, tmul, tout, zin, zout, lo, window=None,
           residual=None):
    """One qat.integer_kernel line (float multiplier): `window` = (stride,
    pad, dilation) for convolutions, `residual` = (value, multiplier value,
    zero point)."""
    attrs = ["input_zero_point = %d : i64" % zin, "output_zero_point = %d : i64" % zout,
             "quant_max = 127 : i64", "quant_min = %d : i64" % lo]
    if window:
        stride, pad, dil = window
        attrs += ["dilation = array<i64: %d, %d>" % (dil, dil),
                  "pad = array<i64: %d, %d, %d, %d>" % tuple(pad),
                  "stride = array<i64: %d, %d>" % (stride, stride)]
    res, rtypes = "", ""
    if residual:
        r, mr, zr = residual
        res = " residual %s, %s" % (r, mr)
        rtypes = ", %s, %s" % (tout, tmul)
        attrs.append("residual_zero_point = %d : i64" % zr)
    return "  %s = qat.integer_kernel <%s> %s, %s, %s, %s%s {%s} : (%s, %s, tensor<%dxi32>, %s%s) -> %s" % (
        q, kind, x, w, b, m, res, ", ".join(sorted(attrs)), tin, twt, co, tmul, rtypes, tout)


rng = np.random.default_rng(17)


def conv_case(n, h, w, ci, co, k, stride, pad, dil, residual, relu):
    ho = (h + pad[0] + pad[1] - (k - 1) * dil - 1) // stride + 1
    wo = (w + pad[2] + pad[3] - (k - 1) * dil - 1) // stride + 1
    wt = rng.integers(-127, 128, (co, k, k, ci))
    bias = rng.integers(-5000, 5000, co)
    mult = (rng.uniform(0.5, 1.5, co) / (np.sqrt(k * k * ci) * 60)).astype(np.float32)
    zin, zout = int(rng.integers(-128, 128)), int(rng.integers(-100, 100))
    tin, tout = ttype((n, h, w, ci), "i8"), ttype((n, ho, wo, co), "i8")
    args = ["%x: " + tin]
    if residual:
        args.append("%r: " + tout)
    lo = zout if relu else -128
    body = [
        '  %w = "tosa.const"() <{{values = dense<{}> : {}}}> : () -> {}'.format(
            dense(wt), ttype(wt.shape, "i8"), ttype(wt.shape, "i8")),
        '  %b = "tosa.const"() <{{values = dense<{}> : tensor<{}xi32>}}> : () -> tensor<{}xi32>'.format(
            dense(bias), co, co),
        "  %%m = arith.constant dense<%s> : tensor<%dxf32>" % (dense_f(mult), co),
    ]
    tmul, window = "tensor<%dxf32>" % co, (stride, pad, dil)
    if residual:
        body.append("  %%mr = arith.constant dense<%.9e> : tensor<%dxf32>" % (rng.uniform(0.2, 2.0), co))
        zr = int(rng.integers(-128, 128))
        body.append(kernel("%q", "conv2d", "%x", "%w", "%b", "%m", tin, ttype(wt.shape, "i8"), co,
                           tmul, tout, zin, zout, lo, window, ("%r", "%mr", zr)))
    else:
        body.append(kernel("%q", "conv2d", "%x", "%w", "%b", "%m", tin, ttype(wt.shape, "i8"), co,
                           tmul, tout, zin, zout, lo, window))
    text = "func.func @f(%s) -> %s {\n%s\n  return %%q : %s\n}\n" % (
        ", ".join(args), tout, "\n".join(body), tout)
    inputs = [rng.integers(-128, 128, (n, h, w, ci)).astype(np.int8)]
    if residual:
        inputs.append(rng.integers(-128, 128, (n, ho, wo, co)).astype(np.int8))
    name = "conv n%d %dx%dx%d->%d k%d s%d pad%s d%d%s%s" % (
        n, h, w, ci, co, k, stride, pad, dil, " +residual" if residual else "",
        " relu" if relu else "")
    return name, text, inputs


def dw_case(n, h, w, c, k, stride, pad, dil, relu):
    ho = (h + pad[0] + pad[1] - (k - 1) * dil - 1) // stride + 1
    wo = (w + pad[2] + pad[3] - (k - 1) * dil - 1) // stride + 1
    wt = rng.integers(-127, 128, (k, k, c, 1))
    bias = rng.integers(-5000, 5000, c)
    mult = (rng.uniform(0.5, 1.5, c) / (k * 60)).astype(np.float32)
    zin, zout = int(rng.integers(-128, 128)), int(rng.integers(-100, 100))
    tin, tout = ttype((n, h, w, c), "i8"), ttype((n, ho, wo, c), "i8")
    lo = zout if relu else -128
    body = [
        '  %w = "tosa.const"() <{{values = dense<{}> : {}}}> : () -> {}'.format(
            dense(wt), ttype(wt.shape, "i8"), ttype(wt.shape, "i8")),
        '  %b = "tosa.const"() <{{values = dense<{}> : tensor<{}xi32>}}> : () -> tensor<{}xi32>'.format(
            dense(bias), c, c),
        "  %%m = arith.constant dense<%s> : tensor<%dxf32>" % (dense_f(mult), c),
        kernel("%q", "depthwise_conv2d", "%x", "%w", "%b", "%m", tin, ttype(wt.shape, "i8"), c,
               "tensor<%dxf32>" % c, tout, zin, zout, lo, (stride, pad, dil)),
    ]
    text = "func.func @f(%%x: %s) -> %s {\n%s\n  return %%q : %s\n}\n" % (
        tin, tout, "\n".join(body), tout)
    inputs = [rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)]
    name = "depthwise n%d %dx%dx%d k%d s%d pad%s d%d%s" % (
        n, h, w, c, k, stride, pad, dil, " relu" if relu else "")
    return name, text, inputs


def chain_case(name, n, h, w, cin, layers, same_grid=True):
    """A chain of integer layers, each reading the previous one's codes:
    ("conv", cout, k, stride, pad), ("dw", k, stride, pad) or
    ("conv_res", cout, k, stride, pad, j) whose residual is layer j's
    output. Between packed kernels the codes are stored unsigned, and a
    kernel whose readers pad their input writes its output inside that
    border when each reads it with the zero point it was written with
    (`same_grid`, as in a real model; else each layer its own)."""
    lines, shape, val, outs = [], (n, h, w, cin), "%x", []
    zout = int(rng.integers(-100, 100))
    for i, layer in enumerate(layers):
        kind = layer[0]
        c = shape[3]
        zin = zout if same_grid else int(rng.integers(-128, 128))
        zout = int(rng.integers(-100, 100))
        if kind == "dw":
            _, k, stride, pad = layer
            co = c
            wt = rng.integers(-127, 128, (k, k, c, 1))
            taps = k * k
        else:
            co, k, stride, pad = layer[1:5]
            wt = rng.integers(-127, 128, (co, k, k, c))
            taps = k * k * c
        ho = (shape[1] + 2 * pad - k) // stride + 1
        wo = (shape[2] + 2 * pad - k) // stride + 1
        out = (n, ho, wo, co)
        bias = rng.integers(-5000, 5000, co)
        mult = (rng.uniform(0.5, 1.5, co) / (np.sqrt(taps) * 60)).astype(np.float32)
        tin, tout = ttype(shape, "i8"), ttype(out, "i8")
        lines += [
            '  %%w%d = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
            % (i, dense(wt), ttype(wt.shape, "i8"), ttype(wt.shape, "i8")),
            '  %%b%d = "tosa.const"() <{values = dense<%s> : tensor<%dxi32>}> : () -> tensor<%dxi32>'
            % (i, dense(bias), co, co),
            "  %%m%d = arith.constant dense<%s> : tensor<%dxf32>" % (i, dense_f(mult), co),
        ]
        args = ("%%q%d" % i, "depthwise_conv2d" if kind == "dw" else "conv2d", val, "%%w%d" % i,
                "%%b%d" % i, "%%m%d" % i, tin, ttype(wt.shape, "i8"), co, "tensor<%dxf32>" % co,
                tout, zin, zout, -128, (stride, (pad,) * 4, 1))
        if kind == "conv_res":
            j = layer[5]
            rval, rtype = outs[j]
            assert rtype == tout
            lines.append("  %%mr%d = arith.constant dense<%.9e> : tensor<%dxf32>"
                         % (i, rng.uniform(0.2, 2.0), co))
            zr = int(rng.integers(-128, 128))
            lines.append(kernel(*args, residual=(rval, "%%mr%d" % i, zr)))
        else:
            lines.append(kernel(*args))
        val = "%%q%d" % i
        outs.append((val, tout))
        shape = out
    text = "func.func @f(%%x: %s) -> %s {\n%s\n  return %s : %s\n}\n" % (
        ttype((n, h, w, cin), "i8"), ttype(shape, "i8"), "\n".join(lines), val, ttype(shape, "i8"))
    return "chain " + name, text, [rng.integers(-128, 128, (n, h, w, cin)).astype(np.int8)]


def fc_case(m, k, nout):
    wt = rng.integers(-127, 128, (1, k, nout))
    bias = rng.integers(-5000, 5000, (1, nout))
    zin, zout = int(rng.integers(-128, 128)), int(rng.integers(-100, 100))
    mult = np.float32(1.0 / (np.sqrt(k) * 60))
    text = "\n".join([
        "func.func @f(%%x: %s) -> %s {" % (ttype((1, m, k), "i8"), ttype((m, nout), "i8")),
        '  %%w = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
        % (dense(wt), ttype(wt.shape, "i8"), ttype(wt.shape, "i8")),
        '  %%b = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
        % (dense(bias[0]), ttype((nout,), "i32"), ttype((nout,), "i32")),
        "  %%mv = arith.constant dense<%.9e> : tensor<f32>" % mult,
        kernel("%q", "matmul", "%x", "%w", "%b", "%mv", ttype((1, m, k), "i8"), ttype(wt.shape, "i8"),
               nout, "tensor<f32>", ttype((m, nout), "i8"), zin, zout, -128),
        "  return %%q : %s" % ttype((m, nout), "i8"),
        "}", ""])
    return ("fc %dx%d->%d" % (m, k, nout), text,
            [rng.integers(-128, 128, (1, m, k)).astype(np.int8)])


cases = [
    conv_case(1, 5, 5, 3, 20, 3, 1, (1, 1, 1, 1), 1, False, True),
    conv_case(2, 9, 7, 8, 16, 3, 2, (1, 1, 1, 1), 1, False, False),
    conv_case(1, 8, 8, 13, 37, 3, 1, (2, 2, 2, 2), 2, False, True),
    conv_case(1, 11, 11, 5, 64, 7, 2, (3, 3, 2, 2), 1, False, False),
    # Three channels (RGB) copied 16 pixels at a time into four: rows of
    # 37 (two steps and 5 pixels) over two images, and a 7x7 stride-2
    # stem on rows of 20.
    conv_case(2, 9, 37, 3, 32, 3, 2, (1, 1, 1, 1), 1, False, True),
    conv_case(1, 20, 20, 3, 16, 7, 2, (3, 2, 3, 2), 1, False, False),
    conv_case(1, 6, 6, 64, 70, 1, 1, (0, 0, 0, 0), 1, False, False),
    conv_case(1, 7, 7, 16, 96, 1, 2, (0, 0, 0, 0), 1, False, True),
    conv_case(1, 6, 5, 24, 24, 3, 1, (1, 1, 1, 1), 1, True, True),
    conv_case(2, 4, 4, 32, 130, 1, 1, (0, 0, 0, 0), 1, True, False),
    # Signed codes read in place (flipped after the broadcast); a last
    # block of 15 channels (stores of 8, 4, 2 and 1 lanes) with a residual.
    conv_case(1, 5, 5, 8, 31, 1, 1, (0, 0, 0, 0), 1, True, False),
    dw_case(1, 9, 9, 32, 3, 1, (1, 1, 1, 1), 1, True),
    dw_case(2, 10, 12, 20, 3, 2, (1, 0, 1, 0), 1, False),
    dw_case(1, 7, 7, 48, 3, 1, (0, 0, 0, 0), 1, False),
    dw_case(1, 12, 12, 3, 5, 1, (2, 2, 2, 2), 1, True),
    dw_case(1, 9, 11, 17, 3, 1, (2, 2, 2, 2), 2, False),
    dw_case(1, 40, 37, 16, 3, 1, (1, 1, 1, 1), 1, False),
    # Whole blocks of 16 channels: read in place, signed, the padding
    # inline. Stride 2 on odd sizes; rows of 7 (two rows per tile, across
    # the two images); a stride-2 row of 51 pixels (a left border tile, a
    # loop over two inner tiles, a static last one); dilation 2; 5x5
    # stride 2; padding only at the bottom and left.
    dw_case(1, 11, 13, 32, 3, 2, (1, 1, 1, 1), 1, False),
    dw_case(2, 7, 7, 64, 3, 1, (1, 1, 1, 1), 1, True),
    dw_case(1, 12, 102, 16, 3, 2, (1, 0, 1, 0), 1, False),
    dw_case(1, 10, 10, 32, 3, 1, (2, 2, 2, 2), 2, False),
    dw_case(1, 13, 13, 16, 5, 2, (2, 2, 2, 2), 1, True),
    dw_case(1, 9, 9, 16, 3, 1, (0, 2, 2, 0), 1, False),
    # Bottleneck: 1x1 (read unsigned by the 3x3 and as the 1x1's residual),
    # 3x3 (padded: copied), 1x1 + residual (input read in place).
    chain_case("bottleneck", 1, 8, 8, 16, [("conv", 32, 1, 1, 0), ("conv", 32, 3, 1, 1),
                                           ("conv_res", 32, 1, 1, 0, 0)]),
    # Inverted residual: expand, depthwise (stride 2), project.
    chain_case("inverted residual", 2, 9, 9, 16, [("conv", 48, 1, 1, 0), ("dw", 3, 2, 1),
                                                  ("conv", 24, 1, 1, 0)]),
    # Unsigned but 18 channels, not a multiple of 4: copied, not flipped;
    # an unpadded depthwise conv on 32 unsigned channels reads in place.
    chain_case("odd channels", 1, 6, 6, 8, [("conv", 18, 1, 1, 0), ("conv", 32, 1, 1, 0),
                                            ("dw", 3, 1, 0), ("conv", 8, 1, 1, 0)]),
    # Zero points that differ between writer and reader: no output border.
    chain_case("bottleneck, own grids", 1, 8, 8, 16, [("conv", 32, 1, 1, 0), ("conv", 32, 3, 1, 1),
                                                      ("conv_res", 32, 1, 1, 0, 0)], same_grid=False),
    # A border for a stride-2 depthwise reader (pad 1, 0, 1, 0 would be
    # TOSA's; here 1 all round) and for a 3x3 conv after it.
    chain_case("padded outputs", 1, 10, 10, 16, [("conv", 32, 1, 1, 0), ("dw", 3, 1, 1),
                                                 ("conv", 16, 3, 1, 1)]),
    # Own zero points, so no output border: a stride-2 depthwise conv reads
    # unsigned codes in place with its padding inline (odd size).
    chain_case("unsigned stride-2 depthwise, padding inline", 1, 11, 11, 8,
               [("conv", 32, 1, 1, 0), ("dw", 3, 2, 1), ("conv", 16, 1, 1, 0)], same_grid=False),
    # Larger layers for the AMX tiles (16 pixels x 64 input bytes): a 1x1
    # conv whose K is 3 tiles, with a residual and a partial last block,
    # over 9 tiles of pixels; a ResNet bottleneck on 64 channels (the 3x3
    # reads its padded input in place, the third conv its input in place
    # and the first's output as residual), then a 3x3 stride-2 conv.
    conv_case(1, 12, 12, 192, 40, 1, 1, (0, 0, 0, 0), 1, True, False),
    chain_case("bottleneck 64", 1, 11, 11, 64, [("conv", 64, 1, 1, 0), ("conv", 64, 3, 1, 1),
                                                ("conv_res", 64, 1, 1, 0, 0), ("conv", 96, 3, 2, 1)]),
    fc_case(1, 100, 10),
    fc_case(1, 300, 500),
    # A GEMV whose 128 groups of 4 inputs split over 8 sets of accumulators
    # (one block per tile), the last block partial.
    fc_case(1, 512, 40),
    fc_case(7, 64, 33),
    fc_case(32, 784, 10),
]
kinds = ["portable"] + (["vnni"] if has_avx512() else [])
if "vnni" not in kinds:
    print("kernels=vnni not run: this CPU lacks AVX-512 VNNI")
# The best kernels again on 2 OpenMP threads (--num-threads 2), with every
# kernel parallel whatever its size (--parallel-min-macs 0).
kinds.append(kinds[-1] + "/2")
# The AMX kernels with their tile ops emulated by vector code (any CPU), on
# one thread and on two. On real tiles: packed_conv_amx.test (lit feature
# amx) runs this script with --kinds amx,amx/2.
kinds += ["amx-emulated", "amx-emulated/2"]
if "--kinds" in sys.argv:
    kinds = sys.argv[sys.argv.index("--kinds") + 1].split(",")
elif not has_amx():
    print("kernels=amx not run: this CPU lacks AMX (packed_conv_amx.test runs it where the lit feature amx is)")
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, text, inputs in cases:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(text)
        # Every kernel of a case is packed (else the comparison would test
        # the generic lowering against itself).
        packed = tool("qat-opt", path, "--qat-pack-int8-kernels").stdout
        if "qat.integer_kernel" in packed or "qat.packed_" not in packed:
            print("%-52s not packed by qat-pack-int8-kernels" % name)
            failures += 1
        out = run_kinds(path, save_inputs(tmp, inputs), kinds, tmp)
        spread = len(np.unique(out["none"]))
        for kind in kinds:
            bad = int(np.sum(out[kind] != out["none"]))
            print("%-52s %-8s %d of %d differ (%d distinct codes)"
                  % (name, kind, bad, out[kind].size, spread))
            failures += bad != 0
        if spread < min(8, out["none"].size // 3):
            print("  too few distinct codes: the case does not test the arithmetic")
            failures += 1
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
