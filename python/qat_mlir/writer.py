"""MLIR 22 TOSA text for the exporter: a writer of ops and the layer-level
lowerings (convolution, batch norm, pools, linear, ...) with the NCHW/NHWC
layout bookkeeping. Independent of torch: weights arrive as NumPy arrays.

Layout: every 4-D tensor is logically NCHW, as in PyTorch. A `Value` holding
one is stored either NHWC (`nhwc=True`, what TOSA convolutions and pools
take) or as is. Layer lowerings ask for the layout they need; the
conversion is one tosa.transpose, or a tosa.reshape when it only moves
dimensions of size 1.
"""
import contextlib
import contextvars
import re

import numpy as np

F32_MAX = "3.40282347E+38"
TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


class Unsupported(Exception):
    """A layer or an argument the lowering cannot express; the frontend adds
    the module and op names."""


def ttype(shape, et="f32"):
    if not shape:
        return "tensor<%s>" % et
    return "tensor<" + "x".join(str(int(d)) for d in shape) + "x" + et + ">"


def f32_text(v):
    """An f32 as an MLIR float literal that parses back to the same f32."""
    v = float(np.float32(v))
    if v == float("inf"):
        return "0x7F800000"
    if v == float("-inf"):
        return "0xFF800000"
    if v != v:
        return "0x7FC00000"
    return "%.9e" % v


def dense_f32(arr):
    """The body of a dense<...> attribute holding `arr` as f32, exactly."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    bits = a.reshape(-1).view("<u4")
    if bits.size and np.all(bits == bits[0]):
        return f32_text(a.reshape(-1)[0])
    if a.size <= 16 and np.all(np.isfinite(a)):
        def nest(x):
            if x.ndim == 0:
                return f32_text(x)
            return "[" + ", ".join(nest(y) for y in x) + "]"
        return nest(a)
    return '"0x' + a.tobytes().hex().upper() + '"'


class Value:
    """An SSA value of the function being written: name, stored (physical)
    shape, and whether a 4-D value is stored NHWC."""
    __slots__ = ("name", "shape", "nhwc", "array")

    def __init__(self, name, shape, nhwc=False, array=None):
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.nhwc = nhwc
        self.array = array  # the contents, for constants

    @property
    def type(self):
        return ttype(self.shape)

    @property
    def logical(self):
        """The shape PyTorch sees."""
        if self.nhwc:
            n, h, w, c = self.shape
            return (n, c, h, w)
        return self.shape

    def __repr__(self):
        return "Value(%s, %s%s)" % (self.name, self.shape, ", nhwc" if self.nhwc else "")


class QParams:
    """Constant fake-quantization parameters (the frozen form of
    docs/Preparation.md): f32 scales and integer zero points, one (per
    tensor) or one per index of `axis` (per channel), and the code range.
    `axis` counts dimensions of the tensor in PyTorch's order; the writer
    maps it to the stored layout. `rounding` is None (half to even of
    x * (1/s), PyTorch) or "half_even_div" (half to even of x / s, ONNX)."""

    def __init__(self, scale, zero_point, qmin, qmax, axis=None, rounding=None):
        self.scale = np.asarray(scale, np.float32).reshape(-1)
        self.zero_point = np.asarray(zero_point).astype(np.int64).reshape(-1)
        self.qmin, self.qmax = int(qmin), int(qmax)
        self.axis = None if axis is None else int(axis)
        self.rounding = rounding
        if self.scale.size != self.zero_point.size:
            raise Unsupported("%d scales for %d zero points" % (self.scale.size,
                                                                self.zero_point.size))
        if self.axis is None and self.scale.size != 1:
            raise Unsupported("%d scales for a per-tensor quantizer" % self.scale.size)
        if not (np.all(np.isfinite(self.scale)) and np.all(self.scale > 0)):
            raise Unsupported("scale %s is not positive and finite" % (self.scale,))
        if not self.qmin < self.qmax:
            raise Unsupported("empty code range [%d, %d]" % (self.qmin, self.qmax))
        if np.any(self.zero_point < self.qmin) or np.any(self.zero_point > self.qmax):
            raise Unsupported("zero point %s outside the code range [%d, %d]"
                              % (self.zero_point, self.qmin, self.qmax))

    @property
    def per_channel(self):
        return self.axis is not None

    def channels(self, start, stop, axis=None):
        """The parameters of channels [start, stop) (per tensor: itself)."""
        if not self.per_channel:
            return self
        return QParams(self.scale[start:stop], self.zero_point[start:stop], self.qmin,
                       self.qmax, self.axis if axis is None else axis, self.rounding)

    def with_axis(self, axis):
        if not self.per_channel:
            return self
        return QParams(self.scale, self.zero_point, self.qmin, self.qmax, axis, self.rounding)

    def same(self, other):
        """Exactly the same grid (scales bit for bit)."""
        return (other is not None and self.axis == other.axis and self.qmin == other.qmin
                and self.qmax == other.qmax and self.rounding == other.rounding
                and self.scale.shape == other.scale.shape
                and np.array_equal(self.scale.view(np.uint32), other.scale.view(np.uint32))
                and np.array_equal(self.zero_point, other.zero_point))

    def describe(self):
        kind = "per channel (axis %d, %d channels)" % (self.axis, self.scale.size) \
            if self.per_channel else "per tensor, scale %.6g, zero point %d" % (
                self.scale[0], self.zero_point[0])
        return "[%d, %d] %s" % (self.qmin, self.qmax, kind)


def _pool_window(size, keff, stride, lo, hi, out):
    """Pads (lo, hi) and a crop of the input end such that TOSA's
    (size - 1 + lo + hi - (keff - 1)) is divisible by the stride and gives
    exactly `out` outputs. PyTorch floors the output size (and pools with
    ceil_mode ceil it): positions past the last window are dropped from the
    bottom/right pad first, then from the input (a slice); missing ones
    (ceil_mode) are added as pad. Returns (lo, hi, crop, extra)."""
    needed = (out - 1) * stride + keff
    have = size + lo + hi
    crop = extra = 0
    if have < needed:
        extra = needed - have
        hi += extra
    elif have > needed:
        excess = have - needed
        cut = min(excess, hi)
        hi -= cut
        crop = excess - cut
    assert (size - crop - 1 + lo + hi - (keff - 1)) % stride == 0
    return lo, hi, crop, extra


class Writer:
    """Accumulates the body of one func.func."""

    def __init__(self):
        self.lines = []
        self.count = 0
        self.shared = {}
        self.defs = {}  # fake_quant result name -> its line indices (see erase)
        # Called as slice_hook(input, result) after each tosa.slice the
        # lowerings emit (crops, channel groups); returns the value to use.
        # The importers requantize a slice of a quantized value onto its grid
        # (an identity on values) so that the integer conversion, which does
        # not run tosa.slice on codes, still sees a quantized input.
        self.slice_hook = None
        # How a convolution whose window does not fit TOSA's divisibility
        # rule past its padding drops the rows PyTorch's floor drops:
        # "slice" crops the input (tosa.slice), "taps" widens the kernel by
        # zero taps instead, so the extra rows are read and multiplied by 0
        # (for targets without a slice, such as bpu and the NPU).
        self.crops = "slice"
        # The location of the ops emitted next (MLIR text such as
        # loc("layer1.0.conv1"("resnet.py":63:0))), or None: the exporter
        # names each op after the module it comes from.
        self.loc = None

    # -- plain ops ---------------------------------------------------------

    def fresh(self):
        self.count += 1
        return "%%%d" % self.count

    def emit(self, text, shape, nhwc=False):
        v = Value(self.fresh(), shape, nhwc)
        loc = " " + self.loc if self.loc else ""
        self.lines.append("  %s = %s%s" % (v.name, text.replace("$T", v.type), loc))
        return v

    def const(self, arr, nhwc=False):
        """A tosa.const holding `arr`. Its text is written by function(),
        and only if the constant is used: a parameter the lowerings read
        and rewrite (a weight transposed to OHWI, a linear's W^T, make_fx's
        aten.t of a weight) is not written beside its rewritten copy."""
        arr = np.asarray(arr, dtype=np.float32)
        v = Value(self.fresh(), arr.shape, nhwc, arr)
        self.lines.append(_Const(v.name, arr))
        return v

    def _shared(self, key, text):
        if key not in self.shared:
            name = self.fresh()
            self.lines.append("  %s = %s" % (name, text))
            self.shared[key] = name
        return self.shared[key]

    def zp(self):
        return self._shared("zp", '"tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> '
                            ': () -> tensor<1xf32>')

    def shift(self):
        return self._shared("shift", '"tosa.const"() <{values = dense<0> : tensor<1xi8>}> '
                            ': () -> tensor<1xi8>')

    def shape_const(self, dims):
        dims = [int(d) for d in dims]
        name = self.fresh()
        self.lines.append("  %s = tosa.const_shape {values = dense<[%s]> : tensor<%dxindex>} : () "
                          "-> !tosa.shape<%d>" % (name, ", ".join(map(str, dims)), len(dims),
                                                  len(dims)))
        return name

    def transpose(self, x, perms, nhwc=False):
        shape = tuple(x.shape[p] for p in perms)
        return self.emit("tosa.transpose %s {perms = array<i32: %s>} : (%s) -> $T"
                         % (x.name, ", ".join(map(str, perms)), x.type), shape, nhwc)

    def reshape(self, x, shape, nhwc=False):
        shape = tuple(int(d) for d in shape)
        if shape == x.shape:
            return Value(x.name, shape, nhwc, x.array)
        assert int(np.prod(shape)) == int(np.prod(x.shape)), (x.shape, shape)
        s = self.shape_const(shape)
        return self.emit("tosa.reshape %s, %s : (%s, !tosa.shape<%d>) -> $T"
                         % (x.name, s, x.type, len(shape)), shape, nhwc)

    def slice(self, x, start, size):
        if tuple(start) == (0,) * len(start) and tuple(size) == x.shape:
            return x
        a, b = self.shape_const(start), self.shape_const(size)
        y = self.emit("tosa.slice %s, %s, %s : (%s, !tosa.shape<%d>, !tosa.shape<%d>) -> $T"
                      % (x.name, a, b, x.type, len(start), len(size)), size, x.nhwc)
        return self.slice_hook(x, y) if self.slice_hook else y

    def concat(self, xs, axis):
        if len(xs) == 1:
            return xs[0]
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return self.emit("tosa.concat %s {axis = %d : i32} : (%s) -> $T"
                         % (", ".join(x.name for x in xs), axis,
                            ", ".join(x.type for x in xs)), shape, xs[0].nhwc)

    def elementwise(self, op, a, b):
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        nhwc = a.nhwc or b.nhwc
        if op == "mul":
            return self.emit("tosa.mul %s, %s, %s : (%s, %s, tensor<1xi8>) -> $T"
                             % (a.name, b.name, self.shift(), a.type, b.type), shape, nhwc)
        return self.emit("tosa.%s %s, %s : (%s, %s) -> $T" % (op, a.name, b.name, a.type, b.type),
                         shape, nhwc)

    def unary(self, op, x):
        return self.emit("tosa.%s %s : (%s) -> $T" % (op, x.name, x.type), x.shape, x.nhwc)

    def clamp(self, x, lo, hi):
        def bound(v, default):
            if v is None or np.isinf(v):
                return default
            return f32_text(v)
        return self.emit("tosa.clamp %s {max_val = %s : f32, min_val = %s : f32} : (%s) -> $T"
                         % (x.name, bound(hi, F32_MAX), bound(lo, "-" + F32_MAX), x.type),
                         x.shape, x.nhwc)

    def fake_quant(self, x, qp, axis=None):
        """qat.fake_quant of x with constant parameters. `axis` is the
        stored axis of a per-channel quantizer (default: qp.axis mapped to
        the stored layout)."""
        if qp.per_channel:
            if axis is None:
                axis = self.axis(x, qp.axis)
            if x.shape[axis] != qp.scale.size:
                raise Unsupported("%d per-channel scales for dimension %d of size %d"
                                  % (qp.scale.size, axis, x.shape[axis]))
            st, zt = ttype((qp.scale.size,)), ttype((qp.scale.size,), "i32")
            zs = "[" + ", ".join(str(int(z)) for z in qp.zero_point) + "]"
            if np.all(qp.zero_point == qp.zero_point[0]):
                zs = str(int(qp.zero_point[0]))
            sv = dense_f32(qp.scale)
        else:
            st, zt = "tensor<f32>", "tensor<i32>"
            zs, sv = str(int(qp.zero_point[0])), f32_text(qp.scale[0])
        s, z = self.fresh(), self.fresh()
        self.lines.append("  %s = arith.constant dense<%s> : %s" % (s, sv, st))
        self.lines.append("  %s = arith.constant dense<%s> : %s" % (z, zs, zt))
        attrs = ["quant_min = %d : i64" % qp.qmin, "quant_max = %d : i64" % qp.qmax]
        if qp.per_channel:
            attrs.insert(0, "axis = %d : i64" % axis)
        if qp.rounding:
            attrs.append("rounding = #qat.rounding<%s>" % qp.rounding)
        v = self.emit("qat.fake_quant %s, %s, %s {%s} : %s, %s, %s"
                      % (x.name, s, z, ", ".join(attrs), x.type, st, zt), x.shape, x.nhwc)
        n = len(self.lines)
        self.defs[v.name] = [n - 3, n - 2, n - 1]
        return v

    def erase(self, v):
        """Removes the fake_quant defining `v` (which must have no uses)."""
        for i in self.defs.pop(v.name):
            self.lines[i] = None

    # -- layout ------------------------------------------------------------

    def to_nhwc(self, x):
        """A 4-D value stored NHWC."""
        if x.nhwc:
            return x
        if len(x.shape) != 4:
            raise Unsupported("expected a 4-D (NCHW) tensor, got shape %s" % (x.shape,))
        n, c, h, w = x.shape
        if c == 1 or h * w == 1:
            return self.reshape(x, (n, h, w, c), nhwc=True)
        return self.transpose(x, TO_NHWC, nhwc=True)

    def to_plain(self, x):
        """The value stored in PyTorch's (logical) order."""
        if not x.nhwc:
            return x
        n, h, w, c = x.shape
        if c == 1 or h * w == 1:
            return self.reshape(x, (n, c, h, w))
        return self.transpose(x, TO_NCHW)

    def axis(self, x, dim):
        """The stored axis of logical dimension `dim`."""
        rank = len(x.shape)
        dim = dim + rank if dim < 0 else dim
        return TO_NCHW[dim] if x.nhwc else dim

    def constant_like(self, arr, rank, nhwc):
        """A broadcastable constant for an operand of the given rank/layout."""
        arr = np.asarray(arr, np.float32)
        arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
        if nhwc:
            arr = arr.transpose(TO_NHWC)
        return self.const(arr, nhwc)

    # -- layers ------------------------------------------------------------

    def conv2d(self, x, weight, bias, stride, padding, dilation, groups, out_hw, wq=None):
        """PyTorch conv2d (weight OIHW, zero padding (top, bottom, left,
        right)) as tosa.conv2d (weight OHWI), tosa.depthwise_conv2d (weight
        HWCM, groups == in channels) or, for other groups, one tosa.conv2d
        per group on channel slices, concatenated. `wq`: QParams of a
        weight fake quantizer (per tensor, or per output channel: axis 0 of
        OIHW), applied to each weight constant."""
        x = self.to_nhwc(x)
        n, h, w, cin = x.shape
        cout, cin_g, kh, kw = weight.shape
        if cin_g * groups != cin or cout % groups:
            raise Unsupported("weight %s does not match %d input channels in %d groups"
                              % (weight.shape, cin, groups))
        (sh, sw), (dh, dw) = stride, dilation
        top, bottom, left, right = padding
        oh, ow = out_hw
        top, bottom, crop_h, _ = _pool_window(h, dh * (kh - 1) + 1, sh, top, bottom, oh)
        left, right, crop_w, _ = _pool_window(w, dw * (kw - 1) + 1, sw, left, right, ow)
        if (crop_h or crop_w) and self.crops == "taps" and dh == dw == 1 and \
                (groups == 1 or cin_g == 1):
            # Zero taps at the bottom/right of the kernel: the window covers
            # the rows the crop would drop, and multiplies them by 0.
            weight = np.pad(weight, ((0, 0), (0, 0), (0, crop_h), (0, crop_w)))
            kh, kw = kh + crop_h, kw + crop_w
            crop_h = crop_w = 0
        if crop_h or crop_w:
            x = self.slice(x, (0, 0, 0, 0), (n, h - crop_h, w - crop_w, cin))
        if bias is None:
            bias = np.zeros(cout, np.float32)
        attrs = ("{acc_type = f32, dilation = array<i64: %d, %d>, "
                 "pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>}"
                 % (dh, dw, top, bottom, left, right, sh, sw))

        if wq is not None and wq.per_channel and wq.axis != 0:
            raise Unsupported("per-channel weight quantization on axis %d (only the output "
                              "channels, axis 0)" % wq.axis)

        def one(op, xv, wt, b, co, q=None, qaxis=0):
            wv, bv, zp = self.const(wt), self.const(b), self.zp()
            if q is not None:
                wv = self.fake_quant(wv, q, qaxis)
            return self.emit("%s %s, %s, %s, %s, %s %s : (%s, %s, %s, tensor<1xf32>, "
                             "tensor<1xf32>) -> $T"
                             % (op, xv.name, wv.name, bv.name, zp, zp, attrs, xv.type, wv.type,
                                bv.type), (n, oh, ow, co), nhwc=True)

        if groups == 1:
            return one("tosa.conv2d", x, weight.transpose(0, 2, 3, 1), bias, cout, wq)
        if cin_g == 1:
            # Output channel c*M + m reads input channel c: TOSA's order too.
            m = cout // cin
            wt = weight.reshape(cin, m, kh, kw).transpose(2, 3, 0, 1)
            if wq is not None and wq.per_channel and m != 1:
                raise Unsupported("per-channel weight quantization of a depthwise convolution "
                                  "with channel multiplier %d (HWCM weights have the output "
                                  "channel on two axes; only multiplier 1)" % m)
            return one("tosa.depthwise_conv2d", x, wt, bias, cout, wq, 2)
        cout_g = cout // groups
        parts = []
        for g in range(groups):
            xs = self.slice(x, (0, 0, 0, g * cin_g), (n, x.shape[1], x.shape[2], cin_g))
            ws = weight[g * cout_g:(g + 1) * cout_g].transpose(0, 2, 3, 1)
            gq = None if wq is None else wq.channels(g * cout_g, (g + 1) * cout_g)
            parts.append(one("tosa.conv2d", xs, ws, bias[g * cout_g:(g + 1) * cout_g], cout_g,
                             gq))
        return self.concat(parts, 3)

    def batch_norm(self, x, mean, var, eps, gamma, beta):
        """Inference batch norm, decomposed as torch-mlir emits it (the form
        qat-fold-conv-bn folds): sub mean, mul rsqrt(var + eps), mul gamma,
        add beta, with per-channel constants 1x1x1xC (NHWC)."""
        rank = len(x.shape)
        if rank < 2:
            raise Unsupported("batch norm of a tensor of rank %d" % rank)
        c = x.logical[1]

        def per_channel(a):
            a = np.asarray(a, np.float32).reshape(c)
            if x.nhwc:
                return self.const(a.reshape(1, 1, 1, c), True)
            return self.const(a.reshape((1, c) + (1,) * (rank - 2)))

        y = self.elementwise("sub", x, per_channel(mean))
        varc = per_channel(var)
        ve = self.elementwise("add", varc, self.const(np.full((1,) * rank, eps, np.float32)))
        y = self.elementwise("mul", y, self.unary("rsqrt", ve))
        if gamma is not None:
            y = self.elementwise("mul", y, per_channel(gamma))
        if beta is not None:
            y = self.elementwise("add", y, per_channel(beta))
        return y

    def linear(self, x, weight, bias, wq=None):
        """y = x W^T + b as reshape to rank 3, tosa.matmul, reshape, add.
        `wq`: QParams of a weight fake quantizer (per tensor, or per output
        feature: axis 0 of W, axis 2 of the 1 x in x out matmul weight)."""
        x = self.to_plain(x)
        out_f, in_f = weight.shape
        if not x.shape or x.shape[-1] != in_f:
            raise Unsupported("input of shape %s for a weight of shape %s"
                              % (x.shape, weight.shape))
        lead = x.shape[:-1]
        rows = int(np.prod(lead)) if lead else 1
        x3 = self.reshape(x, (1, rows, in_f))
        wv = self.const(np.ascontiguousarray(weight.T).reshape(1, in_f, out_f))
        if wq is not None:
            if wq.per_channel and wq.axis != 0:
                raise Unsupported("per-channel weight quantization on axis %d (only the "
                                  "output features, axis 0)" % wq.axis)
            wv = self.fake_quant(wv, wq, 2)
        zp = self.zp()
        mm = self.emit("tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> $T"
                       % (x3.name, wv.name, zp, zp, x3.type, wv.type), (1, rows, out_f))
        y = self.reshape(mm, lead + (out_f,))
        if bias is not None:
            y = self.elementwise("add", y, self.const(
                np.asarray(bias, np.float32).reshape((1,) * len(lead) + (out_f,))))
        return y

    def _zero_pad(self, x, top, bottom, left, right):
        """Zero padding of H and W (NHWC) as a concatenation with zero
        constants: averages that count the padding (PyTorch's
        count_include_pad) see it as data."""
        def zeros(shape):
            return self.const(np.zeros(shape, np.float32), True)
        n, h, w, c = x.shape
        if top or bottom:
            parts = ([zeros((n, top, w, c))] if top else []) + [x] + \
                ([zeros((n, bottom, w, c))] if bottom else [])
            x = self.concat(parts, 1)
        n, h, w, c = x.shape
        if left or right:
            parts = ([zeros((n, h, left, c))] if left else []) + [x] + \
                ([zeros((n, h, right, c))] if right else [])
            x = self.concat(parts, 2)
        return x

    def pool2d(self, kind, x, kernel, stride, padding, out_hw, count_include_pad=False,
               mean=False):
        """max_pool2d or avg_pool2d with PyTorch's output size `out_hw`
        (floor or ceil_mode). TOSA pads are ignored by max and excluded from
        the divisor of avg; PyTorch's count_include_pad=True padding is
        written as zeros instead."""
        x = self.to_nhwc(x)
        n, h, w, c = x.shape
        (kh, kw), (sh, sw) = kernel, stride
        top, bottom, left, right = padding
        oh, ow = out_hw
        t, b, crop_h, extra_h = _pool_window(h, kh, sh, top, bottom, oh)
        l, r, crop_w, extra_w = _pool_window(w, kw, sw, left, right, ow)
        if crop_h or crop_w:
            x = self.slice(x, (0, 0, 0, 0), (n, h - crop_h, w - crop_w, c))
        if kind == "avg" and count_include_pad and (t or b or l or r):
            # Data padding: PyTorch's padding (what the floor left of it);
            # TOSA padding: only what ceil_mode adds past it (not counted).
            x = self._zero_pad(x, t, b - extra_h, l, r - extra_w)
            t, b, l, r = 0, extra_h, 0, extra_w
        if max(t, b) >= kh or max(l, r) >= kw:
            raise Unsupported("padding %s is not smaller than the kernel %s after adjusting "
                              "the output size" % ((t, b, l, r), (kh, kw)))
        attrs = ("kernel = array<i64: %d, %d>, pad = array<i64: %d, %d, %d, %d>, "
                 "stride = array<i64: %d, %d>" % (kh, kw, t, b, l, r, sh, sw))
        if kind == "max":
            return self.emit("tosa.max_pool2d %s {%s} : (%s) -> $T" % (x.name, attrs, x.type),
                             (n, oh, ow, c), nhwc=True)
        zp = self.zp()
        if mean:  # PyTorch's x.mean((2, 3)), which its onednn engine computes in f32
            attrs += ", qat.torch_mean"
        return self.emit("tosa.avg_pool2d %s, %s, %s {acc_type = f32, %s} : (%s, tensor<1xf32>, "
                         "tensor<1xf32>) -> $T" % (x.name, zp, zp, attrs, x.type),
                         (n, oh, ow, c), nhwc=True)

    def adaptive_avg_pool2d(self, x, out_hw, mean=False):
        """Adaptive average pooling where the input size is a multiple of
        the output size: a plain average pool (`mean`: marked as PyTorch's
        mean, the unit attribute qat.torch_mean)."""
        h, w = x.logical[2:]
        oh, ow = out_hw
        if h % oh or w % ow:
            raise Unsupported("adaptive average pooling from %dx%d to %dx%d: only sizes that "
                              "divide the input are supported" % (h, w, oh, ow))
        k = (h // oh, w // ow)
        return self.pool2d("avg", x, k, k, (0, 0, 0, 0), (oh, ow), mean=mean)

    def mean_hw(self, x, keepdim):
        """x.mean((2, 3)) of a 4-D tensor: an average pool over H x W, marked
        qat.torch_mean (qat-convert-to-integer on x86:pytorch-onednn computes
        it as PyTorch's quantized mean does)."""
        y = self.adaptive_avg_pool2d(x, (1, 1), mean=True)
        if keepdim:
            return y
        n, _, _, c = y.shape
        return self.reshape(y, (n, c))

    def mean(self, x, dims, keepdim, out_shape):
        """Mean over logical dimensions: tosa.reduce_sum per dimension, then
        a multiplication by 1/count (outside the input contract: stays
        float when quantized)."""
        count = 1
        for d in dims:
            count *= x.logical[d]
        for d in dims:
            axis = self.axis(x, d)
            shape = list(x.shape)
            shape[axis] = 1
            x = self.emit("tosa.reduce_sum %s {axis = %d : i32} : (%s) -> $T"
                          % (x.name, axis, x.type), shape, x.nhwc)
        y = self.elementwise("mul", x, self.const(np.full((1,) * len(x.shape), 1.0 / count,
                                                          np.float32)))
        return y if keepdim else self.reshape_logical(y, out_shape)

    def reshape_logical(self, x, shape):
        """PyTorch view/reshape/flatten: on the NCHW order."""
        x = self.to_plain(x)
        return self.reshape(x, shape)

    def binary(self, op, a, b):
        """add/sub/mul of Values or Python numbers, with PyTorch
        broadcasting; operands of a 4-D NHWC value are brought to NHWC."""
        if not isinstance(a, Value) and not isinstance(b, Value):
            raise Unsupported("no tensor operand")
        rank = max(len(v.logical) for v in (a, b) if isinstance(v, Value))
        nhwc = rank == 4 and any(isinstance(v, Value) and v.nhwc for v in (a, b))

        def prep(v):
            if not isinstance(v, Value):
                return self.constant_like(np.full((1,) * rank, v, np.float32), rank, nhwc)
            if len(v.logical) < rank:
                v = self.to_plain(v)
                v = self.reshape(v, (1,) * (rank - len(v.shape)) + v.shape)
            return self.to_nhwc(v) if nhwc else self.to_plain(v)
        return self.elementwise(op, prep(a), prep(b))

    def cat(self, xs, dim):
        rank = len(xs[0].logical)
        if any(len(x.logical) != rank for x in xs):
            raise Unsupported("concatenation of tensors of different ranks")
        if rank == 4 and any(x.nhwc for x in xs):
            xs = [self.to_nhwc(x) for x in xs]
        else:
            xs = [self.to_plain(x) for x in xs]
        return self.concat(xs, self.axis(xs[0], dim))

    def function(self, name, args, results, comment=()):
        head = ["// " + line for line in comment]
        sig = ", ".join("%s: %s" % (a.name, a.type) for a in args)
        rtypes = [r.type for r in results]
        rt = rtypes[0] if len(rtypes) == 1 else "(" + ", ".join(rtypes) + ")"
        head.append("func.func @%s(%s) -> %s {" % (name, sig, rt))
        tail = ["  return %s : %s" % (", ".join(r.name for r in results), ", ".join(rtypes)),
                "}", ""]
        used = set(r.name for r in results)
        for line in self.lines:
            if isinstance(line, str):
                used.update(_NAME.findall(line.split("=", 1)[-1]))
        body = []
        for line in self.lines:
            if isinstance(line, _Const):
                if line.name in used:
                    body.append(line.text())
            elif line is not None:
                body.append(line)
        return "\n".join(head + body + tail)


_NAME = re.compile(r"%[A-Za-z0-9_]+")


# The weights of a binary export (see weights_apart), else None.
_WEIGHTS = contextvars.ContextVar("qat_mlir_weights", default=None)


@contextlib.contextmanager
def weights_apart():
    """Within it, constants of more than 16 elements that are not splats
    are written as placeholders: `"tosa.const"() <{values = dense<0.0> :
    T}> {qat.weight = i : i64}`, with the array appended to the list this
    yields. The native extension's attach_weights puts the arrays in (once,
    from their memory) before the module is written as bytecode."""
    weights = []
    token = _WEIGHTS.set(weights)
    try:
        yield weights
    finally:
        _WEIGHTS.reset(token)


class _Const:
    """A tosa.const of the function body, written when the function is."""
    __slots__ = ("name", "array")

    def __init__(self, name, array):
        self.name, self.array = name, array

    def text(self):
        t = ttype(self.array.shape)
        weights = _WEIGHTS.get()
        if weights is not None and self.array.size > 16:
            a = np.ascontiguousarray(self.array, dtype="<f4")
            bits = a.reshape(-1).view("<u4")
            if not np.all(bits == bits[0]):
                weights.append(a)
                return ('  %s = "tosa.const"() <{values = dense<0.0> : %s}> '
                        '{qat.weight = %d : i64} : () -> %s' % (self.name, t, len(weights) - 1, t))
        return '  %s = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s' % (
            self.name, dense_f32(self.array), t, t)
