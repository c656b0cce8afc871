"""Lowerings of the activation functions, normalizations, attention and
resampling layers of today's networks (MobileNetV3, EfficientNet,
ShuffleNet, RegNet, ViT, segmentation heads) to TOSA text, on top of
writer.Writer's ops. The fx and make_fx (aten) exporters share them.

Element-wise functions are written as the TOSA ops that
qat/Dialect/QAT/Utils/ElementwiseFunction.h recognises, so that on a target
with lookup tables (x86) each one becomes one 256-entry table when
quantized: SiLU is x * sigmoid(x), hardswish x * clamp(x + 3, 0, 6) * 1/6,
hardsigmoid clamp(x + 3, 0, 6) * 1/6, GELU x * 0.5 * (1 + erf(x * 1/sqrt 2))
(or the tanh form). PyTorch divides by 6 where these multiply by f32(1/6):
the results differ by at most an ulp.
"""
import math

import numpy as np

from ..writer import Unsupported, Value


def _scalar(w, x, v):
    """A constant holding v, broadcastable to x."""
    return w.const(np.full((1,) * len(x.shape), v, np.float32), x.nhwc)


def sigmoid(w, x):
    return w.unary("sigmoid", x)


def tanh(w, x):
    return w.unary("tanh", x)


def silu(w, x):
    return w.elementwise("mul", x, w.unary("sigmoid", x))


def hardsigmoid(w, x):
    c = w.clamp(w.elementwise("add", x, _scalar(w, x, 3.0)), 0.0, 6.0)
    return w.elementwise("mul", c, _scalar(w, x, np.float32(1.0) / np.float32(6.0)))


def hardswish(w, x):
    c = w.clamp(w.elementwise("add", x, _scalar(w, x, 3.0)), 0.0, 6.0)
    m = w.elementwise("mul", x, c)
    return w.elementwise("mul", m, _scalar(w, x, np.float32(1.0) / np.float32(6.0)))


def gelu(w, x, approximate="none"):
    if approximate == "none":
        a = w.elementwise("mul", x, _scalar(w, x, 1.0 / math.sqrt(2.0)))
        e = w.elementwise("add", w.unary("erf", a), _scalar(w, x, 1.0))
        return w.elementwise("mul", w.elementwise("mul", x, _scalar(w, x, 0.5)), e)
    if approximate == "tanh":
        # 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
        x3 = w.elementwise("mul", w.elementwise("mul", x, x), x)
        inner = w.elementwise("add", x, w.elementwise("mul", x3, _scalar(w, x, 0.044715)))
        t = w.unary("tanh", w.elementwise("mul", inner, _scalar(w, x, math.sqrt(2.0 / math.pi))))
        e = w.elementwise("add", t, _scalar(w, x, 1.0))
        return w.elementwise("mul", w.elementwise("mul", x, _scalar(w, x, 0.5)), e)
    raise Unsupported("approximate=%r" % (approximate,))


def _reduce(w, op, x, axis):
    shape = list(x.shape)
    shape[axis] = 1
    return w.emit("tosa.%s %s {axis = %d : i32} : (%s) -> $T" % (op, x.name, axis, x.type),
                  shape, x.nhwc)


def softmax(w, x, dim, log=False):
    """exp(x - max) / sum(exp(x - max)) along logical dimension `dim` (the
    division as a multiplication by the reciprocal: within 2 ulp)."""
    axis = w.axis(x, dim)
    m = _reduce(w, "reduce_max", x, axis)
    e = w.unary("exp", w.elementwise("sub", x, m))
    s = _reduce(w, "reduce_sum", e, axis)
    if log:
        return w.elementwise("sub", w.elementwise("sub", x, m), w.unary("log", s))
    return w.elementwise("mul", e, w.unary("reciprocal", s))


def layer_norm(w, x, normalized_shape, gamma, beta, eps):
    """(x - mean) * rsqrt(var + eps) * gamma + beta over the last
    len(normalized_shape) logical dimensions (biased variance, as PyTorch)."""
    x = w.to_plain(x)
    k = len(normalized_shape)
    if tuple(x.shape[-k:]) != tuple(normalized_shape):
        raise Unsupported("normalized_shape %s for an input of shape %s"
                          % (tuple(normalized_shape), x.shape))
    count = int(np.prod(normalized_shape))
    rank = len(x.shape)
    inv = _scalar(w, x, 1.0 / count)

    def mean(v):
        for axis in range(rank - k, rank):
            v = _reduce(w, "reduce_sum", v, axis)
        return w.elementwise("mul", v, inv)
    d = w.elementwise("sub", x, mean(x))
    var = mean(w.elementwise("mul", d, d))
    y = w.elementwise("mul", d, w.unary("rsqrt", w.elementwise("add", var, _scalar(w, x, eps))))
    lead = (1,) * (rank - k)
    if gamma is not None:
        y = w.elementwise("mul", y, w.const(np.asarray(gamma, np.float32).reshape(
            lead + tuple(normalized_shape))))
    if beta is not None:
        y = w.elementwise("add", y, w.const(np.asarray(beta, np.float32).reshape(
            lead + tuple(normalized_shape))))
    return y


def permute(w, x, perms):
    """A permutation of logical dimensions (on PyTorch's order)."""
    x = w.to_plain(x)
    rank = len(x.shape)
    perms = [p % rank for p in perms]
    if sorted(perms) != list(range(rank)):
        raise Unsupported("permutation %s of a rank-%d tensor" % (perms, rank))
    if perms == list(range(rank)):
        return x
    return w.transpose(x, perms)


def transpose(w, x, d0, d1):
    rank = len(x.logical)
    perms = list(range(rank))
    perms[d0 % rank], perms[d1 % rank] = perms[d1 % rank], perms[d0 % rank]
    return permute(w, x, perms)


def split(w, x, sizes, dim):
    """Pieces of `sizes` along logical dimension `dim` (tosa.slice each)."""
    axis = w.axis(x, dim)
    out, start = [], 0
    for s in sizes:
        begin = [0] * len(x.shape)
        begin[axis] = start
        size = list(x.shape)
        size[axis] = s
        out.append(w.slice(x, begin, size))
        start += s
    return out


def narrow(w, x, dim, start, stop, step=1):
    """x[..., start:stop:step, ...] along logical dimension `dim` (step 1)."""
    if step != 1:
        raise Unsupported("slicing with step %d" % step)
    axis = w.axis(x, dim)
    n = x.shape[axis]
    start, stop = max(0, min(n, start)), max(0, min(n, stop))
    begin = [0] * len(x.shape)
    begin[axis] = start
    size = list(x.shape)
    size[axis] = max(0, stop - start)
    return w.slice(x, begin, size)


def select(w, x, dim, index):
    """x.select(dim, index): a slice of size 1, then that dimension dropped."""
    x = w.to_plain(x)
    rank = len(x.shape)
    dim %= rank
    index %= x.shape[dim]
    y = narrow(w, x, dim, index, index + 1)
    return w.reshape(y, x.shape[:dim] + x.shape[dim + 1:])


def matmul(w, a, b):
    """torch.matmul of two activations of rank >= 2 (batched matrix
    products; leading dimensions broadcast only when equal) as tosa.matmul
    on rank-3 reshapes, or of an activation by a constant matrix."""
    a, b = w.to_plain(a), w.to_plain(b)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise Unsupported("matmul of tensors of rank %d and %d (only >= 2)"
                          % (len(a.shape), len(b.shape)))
    lead_a, lead_b = a.shape[:-2], b.shape[:-2]
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise Unsupported("matmul of %s by %s" % (a.shape, b.shape))
    if b.array is not None and not lead_b:
        # An activation by a constant matrix: one matmul over all rows.
        rows = int(np.prod(a.shape[:-1]))
        a3 = w.reshape(a, (1, rows, k))
        b3 = w.reshape(b, (1, k, n))
        zp = w.zp()
        mm = w.emit("tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> $T"
                    % (a3.name, b3.name, zp, zp, a3.type, b3.type), (1, rows, n))
        return w.reshape(mm, a.shape[:-1] + (n,))
    lead = tuple(np.broadcast_shapes(lead_a, lead_b))
    if lead_a != lead or lead_b != lead:
        raise Unsupported("matmul with broadcast leading dimensions %s and %s"
                          % (lead_a, lead_b))
    batch = int(np.prod(lead)) if lead else 1
    a3, b3 = w.reshape(a, (batch, m, k)), w.reshape(b, (batch, k, n))
    zp = w.zp()
    mm = w.emit("tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> $T"
                % (a3.name, b3.name, zp, zp, a3.type, b3.type), (batch, m, n))
    return w.reshape(mm, lead + (m, n))


def resize(w, x, out_hw, mode, align_corners=False):
    """F.interpolate of a 4-D tensor to `out_hw` as tosa.resize.

    bilinear (align_corners=False): PyTorch's source index
    (o + 0.5) * in / out - 0.5 (clamped at 0) is TOSA's (o * scale_d +
    offset) / scale_n with scale = (2 out, 2 in) and offset = in - out; with
    align_corners=True, scale = (out - 1, in - 1), offset 0.
    nearest (PyTorch's 'nearest': floor(o * in / out)): TOSA rounds
    (o * scale_d + offset) / scale_n half up, so scale = (2 out, 2 in) and
    offset = -out give floor(o * in / out); exact when out is a multiple of
    in or in of out (PyTorch computes in / out in float)."""
    x = w.to_nhwc(x)
    n, h, wd, c = x.shape
    oh, ow = out_hw
    scale, offset = [], []
    for i, o in ((h, oh), (wd, ow)):
        if mode == "bilinear":
            if align_corners:
                if o == 1 or i == 1:
                    raise Unsupported("bilinear align_corners=True with a size of 1")
                sn, sd, off = o - 1, i - 1, 0
            else:
                sn, sd, off = 2 * o, 2 * i, i - o
        elif mode == "nearest":
            if o % i and i % o:
                raise Unsupported("nearest resize from %d to %d (only integer ratios)" % (i, o))
            sn, sd, off = 2 * o, 2 * i, -o
        else:
            raise Unsupported("interpolation mode %r (only 'nearest' and 'bilinear')" % (mode,))
        g = math.gcd(math.gcd(sn, sd), abs(off)) if off else math.gcd(sn, sd)
        scale += [sn // g, sd // g]
        offset.append(off // g)
    border = []
    for (i, o), k in (((h, oh), 0), ((wd, ow), 1)):
        sn, sd, off = scale[2 * k], scale[2 * k + 1], offset[k]
        border.append((o - 1) * sd - (i - 1) * sn + off)
    s, f, b = w.shape_const(scale), w.shape_const(offset), w.shape_const(border)
    m = "BILINEAR" if mode == "bilinear" else "NEAREST_NEIGHBOR"
    return w.emit("tosa.resize %s, %s, %s, %s {mode = %s} : (%s, !tosa.shape<4>, "
                  "!tosa.shape<2>, !tosa.shape<2>) -> $T"
                  % (x.name, s, f, b, m, x.type), (n, oh, ow, c), nhwc=True)


def linear_rows(w, x, weight, bias):
    """x W^T + b for an activation of any rank (writer.linear)."""
    return w.linear(x, np.asarray(weight, np.float32), None if bias is None
                    else np.asarray(bias, np.float32))


def multi_head_attention(w, q, k, v, num_heads, in_w, in_b, out_w, out_b, batch_first=True):
    """nn.MultiheadAttention (no mask, no dropout): the in-projection,
    softmax(q k^T / sqrt(d)) v per head, the out-projection. q, k, v are
    (N, L, E) with batch_first, else (L, N, E)."""
    q, k, v = w.to_plain(q), w.to_plain(k), w.to_plain(v)
    if not batch_first:
        q, k, v = (permute(w, t, (1, 0, 2)) for t in (q, k, v))
    nb, lq, e = q.shape
    lk = k.shape[1]
    if e % num_heads:
        raise Unsupported("embedding %d not divisible by %d heads" % (e, num_heads))
    d = e // num_heads
    in_w = np.asarray(in_w, np.float32)
    in_b = np.zeros(3 * e, np.float32) if in_b is None else np.asarray(in_b, np.float32)
    # PyTorch scales q by 1/sqrt(d) after the projection (float(d) ** -0.5
    # in _native_multi_head_attention and in the slow path's q / sqrt(d)).
    qp = linear_rows(w, q, in_w[:e], in_b[:e])
    kp = linear_rows(w, k, in_w[e:2 * e], in_b[e:2 * e])
    vp = linear_rows(w, v, in_w[2 * e:], in_b[2 * e:])

    def heads(t, length):
        t = w.reshape(t, (nb, length, num_heads, d))
        return permute(w, t, (0, 2, 1, 3))  # N, H, L, d
    qh, kh, vh = heads(qp, lq), heads(kp, lk), heads(vp, lk)
    qh = w.elementwise("mul", qh, w.const(np.full((1, 1, 1, 1), 1.0 / math.sqrt(d),
                                                  np.float32)))
    scores = matmul(w, qh, permute(w, kh, (0, 1, 3, 2)))
    p = softmax(w, scores, -1)
    o = matmul(w, p, vh)  # N, H, Lq, d
    o = w.reshape(permute(w, o, (0, 2, 1, 3)), (nb, lq, e))
    y = linear_rows(w, o, out_w, out_b)
    if not batch_first:
        y = permute(w, y, (1, 0, 2))
    return y


def is_value(v):
    return isinstance(v, Value)
