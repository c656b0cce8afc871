#!/usr/bin/env python3
"""Writes the float TOSA test models of the preparation passes.

    /usr/bin/python3 gen_blocks.py OUTDIR

Each block is NHWC, weights are random (fixed seeds) and every conv is
followed by batch norm decomposed as torch-mlir emits it (sub mean, mul
rsqrt(var + eps), mul gamma, add beta, constants of shape 1x1x1xC):

  resnet_basic.mlir       ResNet basic block (3x3 conv-BN-ReLU, 3x3 conv-BN,
                          identity residual add, ReLU)
  resnet_bottleneck.mlir  ResNet bottleneck with a strided 1x1 downsample
  mobilenet_v2.mlir       MobileNetV2 inverted residual (1x1 expand, 3x3
                          depthwise, ReLU6, 1x1 project, residual add)
  classifier_head.mlir    classifier head: 3x3 conv-BN-ReLU, 4x4 average
                          pool, fully connected layer (reshape, matmul,
                          reshape, bias add)
"""
import sys
import numpy as np

F32_MAX = "3.40282347E+38"


def dense(a):
    a = np.asarray(a, np.float32)
    if a.ndim == 0:
        return repr(float(a))
    return "[" + ", ".join(dense(x) if a.ndim > 1 else "%.8e" % x for x in a) + "]"


def ttype(shape, et="f32"):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + et + ">"


class Writer:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.lines = []
        self.n = 0
        self.consts = {}

    def v(self):
        self.n += 1
        return "%%v%d" % self.n

    def const(self, arr):
        arr = np.asarray(arr, np.float32)
        name = self.v()
        t = ttype(arr.shape)
        self.lines.append('  %s = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
                          % (name, dense(arr), t, t))
        return name

    def shared(self, key, text, t):
        if key not in self.consts:
            name = self.v()
            self.lines.append('  %s = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
                              % (name, text, t, t))
            self.consts[key] = name
        return self.consts[key]

    def zp(self):
        return self.shared("zp", "0.0", "tensor<1xf32>")

    def shift(self):
        return self.shared("shift", "0", "tensor<1xi8>")

    def conv(self, x, shape, cout, k, stride=1, depthwise=False):
        n, h, w, cin = shape
        pad = k // 2
        ho = (h + 2 * pad - k) // stride + 1
        wo = (w + 2 * pad - k) // stride + 1
        fan_in = k * k * (1 if depthwise else cin)
        if depthwise:
            wt = self.rng.standard_normal((k, k, cin, 1)) / np.sqrt(fan_in)
            cout = cin
        else:
            wt = self.rng.standard_normal((cout, k, k, cin)) / np.sqrt(fan_in)
        wv = self.const(wt)
        bv = self.const(np.zeros(cout))
        out = self.v()
        op = "tosa.depthwise_conv2d" if depthwise else "tosa.conv2d"
        oshape = (n, ho, wo, cout)
        self.lines.append(
            "  %s = %s %s, %s, %s, %s, %s {acc_type = f32, dilation = array<i64: 1, 1>, "
            "pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>} : (%s, %s, %s, "
            "tensor<1xf32>, tensor<1xf32>) -> %s"
            % (out, op, x, wv, bv, self.zp(), self.zp(), pad, pad, pad, pad, stride, stride,
               ttype(shape), ttype(wt.shape), ttype((cout,)), ttype(oshape)))
        return out, oshape

    def bn(self, x, shape):
        c = shape[-1]
        cs = (1, 1, 1, c)
        mean = self.const((self.rng.standard_normal(c) * 0.1).reshape(cs))
        var = self.const((self.rng.uniform(0.5, 1.5, c)).reshape(cs))
        eps = self.shared("eps", "1.0e-05", "tensor<1x1x1x1xf32>")
        gamma = self.const((self.rng.uniform(0.5, 1.5, c)).reshape(cs))
        beta = self.const((self.rng.standard_normal(c) * 0.1).reshape(cs))
        t, ct = ttype(shape), ttype(cs)
        s, ve, rs, m1, m2, y = (self.v() for _ in range(6))
        self.lines += [
            "  %s = tosa.sub %s, %s : (%s, %s) -> %s" % (s, x, mean, t, ct, t),
            "  %s = tosa.add %s, %s : (%s, tensor<1x1x1x1xf32>) -> %s" % (ve, var, eps, ct, ct),
            "  %s = tosa.rsqrt %s : (%s) -> %s" % (rs, ve, ct, ct),
            "  %s = tosa.mul %s, %s, %s : (%s, %s, tensor<1xi8>) -> %s"
            % (m1, s, rs, self.shift(), t, ct, t),
            "  %s = tosa.mul %s, %s, %s : (%s, %s, tensor<1xi8>) -> %s"
            % (m2, m1, gamma, self.shift(), t, ct, t),
            "  %s = tosa.add %s, %s : (%s, %s) -> %s" % (y, m2, beta, t, ct, t),
        ]
        return y

    def clamp(self, x, shape, hi=F32_MAX):
        y = self.v()
        self.lines.append("  %s = tosa.clamp %s {max_val = %s : f32, min_val = 0.0 : f32} : (%s) -> %s"
                          % (y, x, hi, ttype(shape), ttype(shape)))
        return y

    def add(self, a, b, shape):
        y = self.v()
        self.lines.append("  %s = tosa.add %s, %s : (%s, %s) -> %s"
                          % (y, a, b, ttype(shape), ttype(shape), ttype(shape)))
        return y

    def avg_pool(self, x, shape, k):
        n, h, w, c = shape
        oshape = (n, h // k, w // k, c)
        y = self.v()
        self.lines.append(
            "  %s = tosa.avg_pool2d %s, %s, %s {acc_type = f32, kernel = array<i64: %d, %d>, "
            "pad = array<i64: 0, 0, 0, 0>, stride = array<i64: %d, %d>} : (%s, tensor<1xf32>, "
            "tensor<1xf32>) -> %s" % (y, x, self.zp(), self.zp(), k, k, k, k, ttype(shape),
                                      ttype(oshape)))
        return y, oshape

    def reshape(self, x, shape, new):
        s, y = self.v(), self.v()
        self.lines += [
            "  %s = tosa.const_shape {values = dense<[%s]> : tensor<%dxindex>} : () -> "
            "!tosa.shape<%d>" % (s, ", ".join(map(str, new)), len(new), len(new)),
            "  %s = tosa.reshape %s, %s : (%s, !tosa.shape<%d>) -> %s"
            % (y, x, s, ttype(shape), len(new), ttype(new))]
        return y

    def fc(self, x, shape, cout):
        n = shape[0]
        flat = int(np.prod(shape[1:]))
        x3 = self.reshape(x, shape, (1, n, flat))
        wv = self.const(self.rng.standard_normal((1, flat, cout)) / np.sqrt(flat))
        mm = self.v()
        self.lines.append(
            "  %s = tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s"
            % (mm, x3, wv, self.zp(), self.zp(), ttype((1, n, flat)), ttype((1, flat, cout)),
               ttype((1, n, cout))))
        y = self.reshape(mm, (1, n, cout), (n, cout))
        b = self.const((self.rng.standard_normal(cout) * 0.1).reshape(1, cout))
        out = self.v()
        self.lines.append("  %s = tosa.add %s, %s : (%s, %s) -> %s"
                          % (out, y, b, ttype((n, cout)), ttype((1, cout)), ttype((n, cout))))
        return out, (n, cout)

    def func(self, name, in_shape, out, out_shape, comment):
        head = ["// " + l for l in comment] + [
            "func.func @%s(%%x: %s) -> %s {" % (name, ttype(in_shape), ttype(out_shape))]
        return "\n".join(head + self.lines + [
            "  return %s : %s" % (out, ttype(out_shape)), "}", ""])


def resnet_basic():
    w = Writer(1)
    s = (1, 8, 8, 8)
    y, _ = w.conv("%x", s, 8, 3)
    y = w.clamp(w.bn(y, s), s)
    y, _ = w.conv(y, s, 8, 3)
    y = w.bn(y, s)
    y = w.clamp(w.add(y, "%x", s), s)
    return w.func("resnet_basic", s, y, s, ["ResNet basic block (generated by gen_blocks.py)."])


def resnet_bottleneck():
    w = Writer(2)
    s = (1, 9, 9, 8)  # TOSA needs (H - 1 + pads - (K - 1)) divisible by the stride
    ds, ds_shape = w.conv("%x", s, 16, 1, stride=2)
    ds = w.bn(ds, ds_shape)
    y, s1 = w.conv("%x", s, 4, 1)
    y = w.clamp(w.bn(y, s1), s1)
    y, s2 = w.conv(y, s1, 4, 3, stride=2)
    y = w.clamp(w.bn(y, s2), s2)
    y, s3 = w.conv(y, s2, 16, 1)
    y = w.bn(y, s3)
    y = w.clamp(w.add(y, ds, s3), s3)
    return w.func("resnet_bottleneck", s, y, s3,
                  ["ResNet bottleneck with a strided downsample (generated by gen_blocks.py)."])


def mobilenet_v2():
    w = Writer(3)
    s = (1, 8, 8, 8)
    y, s1 = w.conv("%x", s, 16, 1)
    y = w.clamp(w.bn(y, s1), s1, "6.0")
    y, s2 = w.conv(y, s1, 16, 3, depthwise=True)
    y = w.clamp(w.bn(y, s2), s2, "6.0")
    y, s3 = w.conv(y, s2, 8, 1)
    y = w.bn(y, s3)
    y = w.add(y, "%x", s3)
    return w.func("mobilenet_v2", s, y, s3,
                  ["MobileNetV2 inverted residual (generated by gen_blocks.py)."])


def classifier_head():
    w = Writer(4)
    s = (1, 8, 8, 8)
    y, s1 = w.conv("%x", s, 16, 3)
    y = w.clamp(w.bn(y, s1), s1)
    y, s2 = w.avg_pool(y, s1, 4)
    y, s3 = w.fc(y, s2, 10)
    return w.func("classifier_head", s, y, s3,
                  ["Classifier head: conv-BN-ReLU, 4x4 average pool, fully connected "
                   "(generated by gen_blocks.py)."])


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, fn in [("resnet_basic", resnet_basic), ("resnet_bottleneck", resnet_bottleneck),
                     ("mobilenet_v2", mobilenet_v2), ("classifier_head", classifier_head)]:
        with open("%s/%s.mlir" % (out, name), "w") as f:
            f.write(fn())
