"""Writes integer models (TOSA + qat, the form qat-convert-to-integer gives
for the bpu target) with random int8 weights: convolutions (dense,
depthwise, residual), max pools, adds, concat, transpose and fully
connected layers. Used by integration_test/npu/layers.py and
examples/npu/blocks.py.

    m = Model(rng)
    x, xs = m.arg((1, 8, 8, 16))
    y = m.conv(x, xs, 16, (3, 3), pad=(1, 1, 1, 1))
    text = m.text([y])          # func.func @main
"""
import numpy as np


def dense(a):
    return "dense<%s>" % np.array2string(np.asarray(a), separator=", ", threshold=1 << 30,
                                         max_line_width=1 << 30).replace("\n", "")


def ty(shape, e):
    return "tensor<%s%s>" % ("".join("%dx" % d for d in shape), e)


class Model:
    def __init__(self, rng):
        self.rng = rng
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
        m = 40.0 / k_eff * np.exp(self.rng.uniform(-0.3, 0.3, c if per_channel else 1))
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
             per_channel=False, residual=None, depthwise=False, multiplier=1, relu=False):
        n, h, w, c = xs
        ho = (h - 1 + pad[0] + pad[1] - (k[0] - 1) * dil[0]) // stride[0] + 1
        wo = (w - 1 + pad[2] + pad[3] - (k[1] - 1) * dil[1]) // stride[1] + 1
        if depthwise:
            o = c * multiplier
            wt = self.const(self.rng.integers(-127, 128, (k[0], k[1], c, multiplier)), "i8")
        else:
            wt = self.const(self.rng.integers(-127, 128, (o, k[0], k[1], c)), "i8")
        b = self.const(self.rng.integers(-3000, 3000, o), "i32")
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
            return self.rescale(acc, out, keff, per_channel, lo=0 if relu else -128), out
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
        wt = self.const(self.rng.integers(-127, 128, (1, k, outputs)), "i8")
        za, zb = self.const([0], "i8"), self.const([0], "i8")
        acc = self.v()
        self.lines.append("%s = tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xi8>, tensor<1xi8>) -> %s"
                          % (acc, r, wt, za, zb, ty([1, m, k], "i8"), ty([1, k, outputs], "i8"), ty([1, m, outputs], "i32")))
        shp2 = self.v()
        self.lines.append("%s = tosa.const_shape {values = dense<[%d, %d]> : tensor<2xindex>} : () -> !tosa.shape<2>" % (shp2, m, outputs))
        acc2 = self.v()
        self.lines.append("%s = tosa.reshape %s, %s : (%s, !tosa.shape<2>) -> %s" % (acc2, acc, shp2, ty([1, m, outputs], "i32"), ty([m, outputs], "i32")))
        b = self.const(self.rng.integers(-5000, 5000, (1, outputs)), "i32")
        acc3 = self.v()
        self.lines.append("%s = tosa.add %s, %s : (%s, %s) -> %s" % (acc3, acc2, b, ty([m, outputs], "i32"), ty([1, outputs], "i32"), ty([m, outputs], "i32")))
        return self.rescale(acc3, (m, outputs), 75 * 73 * np.sqrt(k), True), (m, outputs)

    def text(self, results):
        args = ", ".join("%%arg%d: %s" % (i, ty(s, "i8")) for i, s in enumerate(self.args))
        rets = ", ".join(ty(s, "i8") for _, s in results)
        body = "\n    ".join(self.lines)
        return ("func.func @main(%s) -> (%s) {\n    %s\n    return %s : %s\n}\n"
                % (args, rets, body, ", ".join(r for r, _ in results), rets))


