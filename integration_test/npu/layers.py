# REQUIRES: numpy
# RUN: %python %s %S/Inputs
#
# Integer layers written directly in TOSA + qat (no training): convolutions
# with strides, dilation, asymmetric padding, odd channel counts and a
# nonzero input zero point (per-tensor and per-channel requantization, a
# residual with a nonzero zero point), depthwise, a fully connected layer
# (reshape, matmul, bias add), an add of two int8 tensors, a padded strided
# max pool, and a chain of them. Each is compiled for the NPU and run in the
# simulator by qat-npu-check on random int8 inputs, against the same model
# run on the CPU (TOSA integer semantics through the JIT): every code must
# be equal, on the default machine, on one with 8x8 blocks and tiny buffers
# (tiles, chunked reductions) and without double buffering.
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import qat_run_path  # noqa: E402

BIN = os.path.dirname(qat_run_path())
INPUTS = sys.argv[1]
rng = np.random.default_rng(7)


def dense(a):
    return "dense<%s>" % np.array2string(np.asarray(a), separator=", ", threshold=1 << 30,
                                         max_line_width=1 << 30).replace("\n", "")


def ty(shape, e):
    return "tensor<%s%s>" % ("".join("%dx" % d for d in shape), e)


class Model:
    def __init__(self):
        self.lines, self.n, self.args = [], 0, []

    def v(self):
        self.n += 1
        return "%%v%d" % self.n

    def arg(self, shape):
        self.args.append(shape)
        return "%%arg%d" % (len(self.args) - 1), shape

    def const(self, a, e):
        r = self.v()
        a = np.asarray(a)
        self.lines.append('%s = "tosa.const"() <{values = %s : %s}> : () -> %s'
                          % (r, dense(a), ty(a.shape, e), ty(a.shape, e)))
        return r

    def cst(self, a, e):
        r = self.v()
        a = np.asarray(a)
        self.lines.append("%s = arith.constant %s : %s" % (r, dense(a), ty(a.shape, e)))
        return r

    def rescale(self, acc, shape, k_eff, per_channel, lo=-128, hi=127):
        """qat.rescale with multipliers that spread an accumulator of
        standard deviation k_eff over about 40 codes."""
        c = shape[-1]
        m = 40.0 / k_eff * np.exp(rng.uniform(-0.3, 0.3, c if per_channel else 1))
        n = 31 - np.floor(np.log2(m)).astype(int) - 1
        M = np.round(m * 2.0 ** n).astype(np.int64)
        if per_channel:
            mv, nv, zv = self.cst(M, "i32"), self.cst(n, "i8"), self.cst(np.zeros(c, int), "i32")
            ts, axis = (ty([c], "i32"), ty([c], "i8"), ty([c], "i32")), ", axis = %d : i64" % (len(shape) - 1)
        else:
            mv, nv, zv = self.cst(M[0], "i32"), self.cst(n[0], "i8"), self.cst(3, "i32")
            ts, axis = ("tensor<i32>", "tensor<i8>", "tensor<i32>"), ""
        r = self.v()
        self.lines.append("%s = qat.rescale %s, %s, %s, %s {quant_min = %d : i64, quant_max = %d : i64%s} : %s, %s, %s, %s -> %s"
                          % (r, acc, mv, nv, zv, lo, hi, axis, ty(shape, "i32"), *ts, ty(shape, "i8")))
        return r

    def conv(self, x, xs, o, k, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), zp=0,
             per_channel=False, residual=None, depthwise=False, multiplier=1):
        n, h, w, c = xs
        ho = (h - 1 + pad[0] + pad[1] - (k[0] - 1) * dil[0]) // stride[0] + 1
        wo = (w - 1 + pad[2] + pad[3] - (k[1] - 1) * dil[1]) // stride[1] + 1
        if depthwise:
            o = c * multiplier
            wt = self.const(rng.integers(-127, 128, (k[0], k[1], c, multiplier)), "i8")
        else:
            wt = self.const(rng.integers(-127, 128, (o, k[0], k[1], c)), "i8")
        b = self.const(rng.integers(-3000, 3000, o), "i32")
        izp, wzp = self.const([zp], "i8"), self.const([0], "i8")
        acc, out = self.v(), (n, ho, wo, o)
        op = "tosa.depthwise_conv2d" if depthwise else "tosa.conv2d"
        wshape = (k[0], k[1], c, multiplier) if depthwise else (o, k[0], k[1], c)
        self.lines.append(
            "%s = %s %s, %s, %s, %s, %s {acc_type = i32, dilation = array<i64: %d, %d>, pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>} : (%s, %s, %s, tensor<1xi8>, tensor<1xi8>) -> %s"
            % (acc, op, x, wt, b, izp, wzp, *dil, *pad, *stride, ty(xs, "i8"), ty(wshape, "i8"),
               ty([o], "i32"), ty(out, "i32")))
        keff = 75 * 73 * np.sqrt(k[0] * k[1] * (1 if depthwise else c))
        if residual is None:
            return self.rescale(acc, out, keff, per_channel), out
        r, zr = residual
        ma = np.round(40.0 / keff * 2.0 ** 31 / 2).astype(np.int64)
        mv, mb = self.cst(ma, "i32"), self.cst(2 ** 29, "i32")
        z0, zrv, nv, zo = self.cst(0, "i32"), self.cst(zr, "i32"), self.cst(31, "i8"), self.cst(-5, "i32")
        q = self.v()
        self.lines.append("%s = qat.rescale_add %s, %s, %s, %s, %s, %s, %s, %s {quant_min = -128 : i64, quant_max = 127 : i64} : %s, tensor<i32>, tensor<i32>, %s, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> %s"
                          % (q, acc, mv, z0, r, mb, zrv, nv, zo, ty(out, "i32"), ty(out, "i8"), ty(out, "i8")))
        return q, out

    def add(self, a, b, shape, za, zb):
        ma, mb = self.cst(3 << 28, "i32"), self.cst(5 << 27, "i32")
        zav, zbv, nv, zo = self.cst(za, "i32"), self.cst(zb, "i32"), self.cst(31, "i8"), self.cst(1, "i32")
        q = self.v()
        self.lines.append("%s = qat.rescale_add %s, %s, %s, %s, %s, %s, %s, %s {quant_min = -128 : i64, quant_max = 127 : i64} : %s, tensor<i32>, tensor<i32>, %s, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> %s"
                          % (q, a, ma, zav, b, mb, zbv, nv, zo, ty(shape, "i8"), ty(shape, "i8"), ty(shape, "i8")))
        return q

    def max_pool(self, x, xs, k, stride, pad):
        n, h, w, c = xs
        ho = (h + pad[0] + pad[1] - k[0]) // stride[0] + 1
        wo = (w + pad[2] + pad[3] - k[1]) // stride[1] + 1
        r, out = self.v(), (n, ho, wo, c)
        self.lines.append("%s = tosa.max_pool2d %s {kernel = array<i64: %d, %d>, pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>} : (%s) -> %s"
                          % (r, x, *k, *pad, *stride, ty(xs, "i8"), ty(out, "i8")))
        return r, out

    def concat(self, values, axis):
        shapes = [s for _, s in values]
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        r = self.v()
        self.lines.append("%s = tosa.concat %s {axis = %d : i32} : (%s) -> %s"
                          % (r, ", ".join(v for v, _ in values), axis,
                             ", ".join(ty(s, "i8") for s in shapes), ty(out, "i8")))
        return r, tuple(out)

    def transpose(self, x, xs, perms):
        out = tuple(xs[p] for p in perms)
        r = self.v()
        self.lines.append("%s = tosa.transpose %s {perms = array<i32: %s>} : (%s) -> %s"
                          % (r, x, ", ".join(map(str, perms)), ty(xs, "i8"), ty(out, "i8")))
        return r, out

    def fc(self, x, xs, outputs):
        m, k = xs[0], int(np.prod(xs[1:]))
        shp = self.v()
        self.lines.append("%s = tosa.const_shape {values = dense<[1, %d, %d]> : tensor<3xindex>} : () -> !tosa.shape<3>" % (shp, m, k))
        r = self.v()
        self.lines.append("%s = tosa.reshape %s, %s : (%s, !tosa.shape<3>) -> %s" % (r, x, shp, ty(xs, "i8"), ty([1, m, k], "i8")))
        wt = self.const(rng.integers(-127, 128, (1, k, outputs)), "i8")
        za, zb = self.const([0], "i8"), self.const([0], "i8")
        acc = self.v()
        self.lines.append("%s = tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xi8>, tensor<1xi8>) -> %s"
                          % (acc, r, wt, za, zb, ty([1, m, k], "i8"), ty([1, k, outputs], "i8"), ty([1, m, outputs], "i32")))
        shp2 = self.v()
        self.lines.append("%s = tosa.const_shape {values = dense<[%d, %d]> : tensor<2xindex>} : () -> !tosa.shape<2>" % (shp2, m, outputs))
        acc2 = self.v()
        self.lines.append("%s = tosa.reshape %s, %s : (%s, !tosa.shape<2>) -> %s" % (acc2, acc, shp2, ty([1, m, outputs], "i32"), ty([m, outputs], "i32")))
        b = self.const(rng.integers(-5000, 5000, (1, outputs)), "i32")
        acc3 = self.v()
        self.lines.append("%s = tosa.add %s, %s : (%s, %s) -> %s" % (acc3, acc2, b, ty([m, outputs], "i32"), ty([1, outputs], "i32"), ty([m, outputs], "i32")))
        return self.rescale(acc3, (m, outputs), 75 * 73 * np.sqrt(k), True), (m, outputs)

    def text(self, results):
        args = ", ".join("%%arg%d: %s" % (i, ty(s, "i8")) for i, s in enumerate(self.args))
        rets = ", ".join(ty(s, "i8") for _, s in results)
        body = "\n    ".join(self.lines)
        return ("func.func @main(%s) -> (%s) {\n    %s\n    return %s : %s\n}\n"
                % (args, rets, body, ", ".join(r for r, _ in results), rets))


def case_conv_strided():
    m = Model()
    x, xs = m.arg((2, 11, 13, 3))
    return m, [m.conv(x, xs, 5, (3, 3), stride=(2, 2), pad=(1, 1, 1, 1), zp=-3)]


def case_conv_dilated_per_channel():
    m = Model()
    x, xs = m.arg((1, 9, 9, 20))
    return m, [m.conv(x, xs, 17, (3, 3), pad=(2, 2, 2, 2), dil=(2, 2), zp=7, per_channel=True)]


def case_conv_asymmetric_residual():
    m = Model()
    x, xs = m.arg((1, 6, 7, 35))
    r, rs = m.arg((1, 6, 6, 33))
    return m, [m.conv(x, xs, 33, (2, 3), pad=(0, 1, 1, 0), residual=(r, -2))]


def case_pointwise_strided():
    m = Model()
    x, xs = m.arg((1, 9, 9, 16))
    return m, [m.conv(x, xs, 24, (1, 1), stride=(2, 2), per_channel=True)]


def case_depthwise():
    m = Model()
    x, xs = m.arg((1, 11, 11, 20))
    return m, [m.conv(x, xs, 0, (3, 3), pad=(1, 1, 1, 1), zp=5, depthwise=True, per_channel=True),
               m.conv(x, xs, 0, (5, 5), stride=(2, 2), pad=(2, 2, 2, 2), depthwise=True),
               m.conv(x, xs, 0, (3, 3), pad=(1, 1, 1, 1), zp=-2, depthwise=True, multiplier=2,
                      per_channel=True),
               m.conv(x, xs, 0, (1, 1), depthwise=True, multiplier=4)]


def case_add():
    m = Model()
    a, s = m.arg((2, 5, 5, 12))
    b, _ = m.arg((2, 5, 5, 12))
    return m, [(m.add(a, b, s, 4, -7), s)]


def case_max_pool():
    m = Model()
    x, xs = m.arg((2, 9, 9, 20))
    return m, [m.max_pool(x, xs, (3, 3), (2, 2), (1, 1, 1, 1)), m.max_pool(x, xs, (2, 2), (1, 1), (0, 0, 0, 0))]


def case_fc():
    m = Model()
    x, xs = m.arg((6, 3, 3, 8))
    return m, [m.fc(x, xs, 13)]


def case_chain():
    m = Model()
    x, xs = m.arg((2, 12, 12, 4))
    y, ys = m.conv(x, xs, 24, (3, 3), pad=(1, 1, 1, 1))
    p, ps = m.max_pool(y, ys, (2, 2), (2, 2), (0, 0, 0, 0))
    d, ds = m.conv(p, ps, 0, (3, 3), pad=(1, 1, 1, 1), depthwise=True)
    e, es = m.conv(d, ds, 24, (1, 1), residual=(p, 0))
    s = m.add(e, p, es, 0, 0)
    return m, [m.fc(s, es, 10), (p, ps)]


def case_concat():
    m = Model()
    x, xs = m.arg((2, 6, 6, 5))
    a = m.conv(x, xs, 7, (3, 3), pad=(1, 1, 1, 1))
    b = m.conv(x, xs, 20, (1, 1))
    c = m.concat([a, b, (x, xs)], 3)
    return m, [c, m.concat([(x, xs), (x, xs)], 1)]


def case_transpose():
    m = Model()
    x, xs = m.arg((2, 5, 6, 20))
    y = m.conv(x, xs, 17, (3, 3), pad=(1, 1, 1, 1))
    return m, [m.transpose(*y, (0, 3, 1, 2)), m.transpose(x, xs, (2, 0, 1, 3)),
               m.transpose(x, xs, (3, 1, 2, 0))]


cases = [case_transpose, case_concat, case_conv_strided, case_conv_dilated_per_channel, case_conv_asymmetric_residual,
         case_pointwise_strided, case_depthwise, case_add, case_max_pool, case_fc, case_chain]
configs = [("default", []), ("8x8-tiny", ["--config", os.path.join(INPUTS, "tiny.cfg")]),
           ("single-buffered", ["--no-double-buffer"])]
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for case in cases:
        m, results = case()
        path = os.path.join(tmp, case.__name__ + ".mlir")
        open(path, "w").write(m.text(results))
        ins = []
        for i, s in enumerate(m.args):
            p = os.path.join(tmp, "%s.%d.npy" % (case.__name__, i))
            np.save(p, rng.integers(-128, 128, (3 * s[0],) + tuple(s[1:])).astype(np.int8))
            ins += ["--input", p]
        for name, opts in configs:
            outs = [os.path.join(tmp, "%s.out%d.npy" % (case.__name__, i)) for i in range(len(results))]
            r = subprocess.run([os.path.join(BIN, "qat-npu-check"), path, *ins, "--split", "--quiet",
                                *opts, *sum([["--output", o] for o in outs], [])],
                               capture_output=True, text=True)
            # The outputs must spread over many codes (a test of saturated or
            # constant outputs could not fail).
            if r.returncode == 0:
                for o in outs:
                    y = np.load(o)
                    sat = np.mean((y == -128) | (y == 127))
                    if len(np.unique(y)) < min(40, y.size // 2) or sat > 0.25:
                        print("  degenerate output: %d distinct codes, %.0f%% saturated"
                              % (len(np.unique(y)), 100 * sat))
                        failures += 1
            lines = [l for l in r.stdout.splitlines() if l.startswith("output")]
            print("%-32s %-16s %s" % (case.__name__, name,
                                      "; ".join(l.split(": ", 1)[1] for l in lines) or r.stderr.strip()))
            if r.returncode != 0 or not lines or any(" 0 of " not in l for l in lines):
                failures += 1
                print(r.stdout, r.stderr)
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
