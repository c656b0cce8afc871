"""Writes integer models (qat.integer_kernel and TOSA on int8 codes, the
form qat-convert-to-integer gives for the bpu target) with random int8
weights: convolutions (dense, depthwise, residual), max pools, adds, concat,
transpose and fully connected layers. Used by integration_test/npu/layers.py and
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

    def requant(self, c, k_eff, per_channel):
        """Fixed-point multipliers that spread an accumulator of standard
        deviation k_eff over about 40 codes: (multiplier, shift, output zero
        point, multiplier type, shift type)."""
        m = 40.0 / k_eff * np.exp(self.rng.uniform(-0.3, 0.3, c if per_channel else 1))
        n = 31 - np.floor(np.log2(m)).astype(int) - 1
        M = np.round(m * 2.0 ** n).astype(np.int64)
        if per_channel:
            return self.cst(M, "i32"), self.cst(n, "i8"), 0, "tensor<%dxi32>" % c, "tensor<%dxi8>" % c
        return self.cst(M[0], "i32"), self.cst(n[0], "i8"), 3, "tensor<i32>", "tensor<i8>"

    def kernel(self, kind, x, xt, wt, wty, b, o, mult, shift, zo, mty, sty, out, lo, hi,
               zp=0, window=None, residual=None):
        """One qat.integer_kernel with a fixed-point requantization."""
        attrs = ["input_zero_point = %d : i64" % zp, "output_zero_point = %d : i64" % zo,
                 "quant_max = %d : i64" % hi, "quant_min = %d : i64" % lo]
        if window:
            stride, pad, dil = window
            attrs += ["dilation = array<i64: %d, %d>" % dil, "pad = array<i64: %d, %d, %d, %d>" % pad,
                      "stride = array<i64: %d, %d>" % stride]
        res, rtys = "", ""
        if residual:
            r, rm, zr = residual
            res = " residual %s, %s" % (r, rm)
            rtys = ", %s, %s" % (out, mty)
            attrs.append("residual_zero_point = %d : i64" % zr)
        q = self.v()
        self.lines.append("%s = qat.integer_kernel <%s> %s, %s, %s, %s shift %s%s {%s} : (%s, %s, %s, %s, %s%s) -> %s"
                          % (q, kind, x, wt, b, mult, shift, res, ", ".join(sorted(attrs)),
                             xt, wty, ty([o], "i32"), mty, sty, rtys, out))
        return q

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
        out = (n, ho, wo, o)
        kind = "depthwise_conv2d" if depthwise else "conv2d"
        wshape = (k[0], k[1], c, multiplier) if depthwise else (o, k[0], k[1], c)
        window = (stride, pad, dil)
        keff = 75 * 73 * np.sqrt(k[0] * k[1] * (1 if depthwise else c))
        if residual is None:
            mult, shift, zo, mty, sty = self.requant(o, keff, per_channel)
            return self.kernel(kind, x, ty(xs, "i8"), wt, ty(wshape, "i8"), b, o, mult, shift, zo,
                               mty, sty, ty(out, "i8"), 0 if relu else -128, 127, zp, window), out
        r, zr = residual
        ma = np.round(40.0 / keff * 2.0 ** 31 / 2).astype(np.int64)
        mv, mb = self.cst(ma, "i32"), self.cst(2 ** 29, "i32")
        nv = self.cst(31, "i8")
        return self.kernel(kind, x, ty(xs, "i8"), wt, ty(wshape, "i8"), b, o, mv, nv, -5,
                           "tensor<i32>", "tensor<i8>", ty(out, "i8"), -128, 127, zp, window,
                           (r, mb, zr)), out

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
        b = self.const(self.rng.integers(-5000, 5000, (1, outputs)).reshape(outputs), "i32")
        mult, shift, zo, mty, sty = self.requant(outputs, 75 * 73 * np.sqrt(k), True)
        return self.kernel("matmul", r, ty([1, m, k], "i8"), wt, ty([1, k, outputs], "i8"), b,
                           outputs, mult, shift, zo, mty, sty, ty([m, outputs], "i8"),
                           -128, 127), (m, outputs)

    def text(self, results):
        args = ", ".join("%%arg%d: %s" % (i, ty(s, "i8")) for i, s in enumerate(self.args))
        rets = ", ".join(ty(s, "i8") for _, s in results)
        body = "\n    ".join(self.lines)
        return ("func.func @main(%s) -> (%s) {\n    %s\n    return %s : %s\n}\n"
                % (args, rets, body, ", ".join(r for r, _ in results), rets))


