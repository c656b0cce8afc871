"""A NumPy model of PyTorch 1.13's int8 CPU kernels (Debian's build: engines
onednn and qnnpack, no fbgemm), operation by operation in float32 and
integers, as the test oracle of qat-mlir's PyTorch-exact arithmetic.

Each function takes integer codes (int64 arrays) and the parameters PyTorch
stores (scales as Python floats, i.e. doubles, zero points as ints) and
returns the output codes. test_pytorch_int8.py checks every one against
torch's quantized ops on random layers, with ties forced, bit for bit.

Where the arithmetic comes from (read in the sources, then measured):

- onednn convolution and linear (aten/src/ATen/native/quantized/cpu/qconv.cpp
  and qlinear.cpp, ideep pytorch-rls-v2.6 conv.hpp / matmul.hpp /
  utils.hpp::compute_scales, oneDNN 2.6 post-processing): scales are
  reciprocals, src = f32(1/s_in), wei[c] = f32(1/s_w[c]), dst = f32(1/s_out);
  bias_scale[c] = src * wei[c], op_scale[c] = dst / bias_scale[c] (f32); the
  f32 bias is reordered to b[c] * bias_scale[c]; the kernel computes
  d = (f32(acc) + b') * op_scale, ReLU, + f32(z_out), rounds half to even
  and saturates to 0..255. The zero point is added in float before the
  rounding.
- qnnpack convolution and linear (qconv.cpp / qlinear.cpp PackedConvWeightsQnnp,
  quant_utils::QuantizeBias, generate_requantization_scales, the SSE2
  q8gemm/q8conv/q8dwconv kernels): the bias becomes int32
  quantize_val(b, s_w * s_in [double]) = rint(b * f32(1 / f32(s_w * s_in))),
  added to the accumulator; m[c] = (f32(s_w[c]) * f32(s_in)) * (1 / f32(s_out))
  in f32; q = rint(f32(acc) * m) + z_out (cvtps2dq), saturated; a fused ReLU
  clamps at z_out.
- add on onednn (the generic kernel, QuantizedOpKernels.cpp qadd_kernel,
  AVX2 Vectorized<quint8>): dequantize as fma(s, q, f32(s * -z)), add, ReLU,
  then quantize as rint(c * f32(1 / s_out)) + z_out, saturated. The scalar
  tail of each vectorized loop (numel % 64 elements at the end, one thread)
  dequantizes as f32(s) * f32(q - z) instead (`tail`; read in the source,
  where the two differ by an ulp at most, and not singled out by a test).
- add on qnnpack (pytorch_qnnp_compute_add_quantization_params and the add
  kernel): fixed point with shift = 21 - exponent(max(s_a/s, s_b/s)),
  multipliers lrint(s_x/s * 2^shift), rounding half away from zero.
- mul (both engines, qmul_kernel): dequantize f32(s) * f32(q - z), multiply,
  quantize rint(p * f32(1 / s)) + z. cat with other parameters: the same
  dequantize and quantize.
- unary functions (hardswish, hardsigmoid, sigmoid, tanh, ...): a function of
  the input code alone, so a 256-entry table made by running torch's own op
  on the 256 codes is exact (`torch_table`). On qnnpack, hardswish and
  hardsigmoid are tables its operators compute in f32 (`qnnpack_hard_table`:
  x = s_in * f32(q - z_in), y = (1 / s_out) * f(x) + z_out, clamped to
  0..255, rounded half to even; hardsigmoid's output is fixed at 1/256, 0).
- average pools and mean: four forms, by engine and memory layout
  (avg_pool_nchw, mean_nchw, avg_pool_nhwc, mean_channels_last). PyTorch's quantized
  convolutions return channels-last tensors, so a pool after one takes the
  channels-last form. On the qnnpack engine every average pool and mean
  (any layout) is `avg_pool_qnnpack`: rint(f32(acc) * f32(s_in / f32(s_out *
  n))) + z_out, the scale of pytorch_qnnp_compute_avgpool_quantization_params
  in f32. Not modelled: onednn's channels-last mean over 16 or more elements
  (ATen's float sum then changes order).
"""
import numpy as np

f32 = np.float32


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _rint_sat(d, lo=0, hi=255):
    return np.clip(np.rint(_f32(d)), lo, hi).astype(np.int64)


def _channel_shape(acc, axis):
    shape = [1] * acc.ndim
    shape[axis] = -1
    return tuple(shape)


def onednn_params(s_in, s_w, s_out):
    """(bias_scale, op_scale) per output channel, as ideep computes them.
    s_w: per-channel scales (f32 values from q_per_channel_scales) or one
    per-tensor scale (a double from q_scale)."""
    src = f32(1.0 / float(s_in))
    dst = f32(1.0 / float(s_out))
    s_w = np.atleast_1d(np.asarray(s_w, np.float64))
    wei = _f32([f32(1.0 / float(s)) for s in s_w])
    bias_scale = _f32(src * wei)
    op_scale = _f32(dst / bias_scale)
    return bias_scale, op_scale


def conv_onednn(acc, s_in, s_w, bias, s_out, z_out, relu=False, axis=1):
    """Output codes of an onednn convolution / linear from its exact int32
    accumulator `acc` (sum of (x - z_in) * w); `axis`: the channel axis."""
    bias_scale, op_scale = onednn_params(s_in, s_w, s_out)
    shape = _channel_shape(acc, axis)
    d = _f32(acc)
    if bias is not None:
        d = _f32(d + _f32(_f32(bias) * bias_scale).reshape(shape))
    d = _f32(d * op_scale.reshape(shape))
    if relu:
        d = np.maximum(d, f32(0))
    return _rint_sat(_f32(d + f32(z_out)))


def qnnpack_bias(bias, s_in, s_w):
    """PyTorch's int32 bias for qnnpack: quantize_val(b, s_w * s_in)."""
    s = np.atleast_1d(np.asarray(s_w, np.float64)) * float(s_in)
    inv = _f32([f32(1) / f32(v) for v in s])
    return np.rint(_f32(_f32(bias) * inv)).astype(np.int64)


def qnnpack_multipliers(s_in, s_w, s_out):
    s_w = np.atleast_1d(np.asarray(s_w, np.float64))
    return _f32(_f32(_f32(s_w) * f32(s_in)) * f32(f32(1) / f32(s_out)))


def conv_qnnpack(acc, s_in, s_w, bias, s_out, z_out, relu=False, axis=1):
    shape = _channel_shape(acc, axis)
    if bias is not None:
        acc = acc + qnnpack_bias(bias, s_in, s_w).reshape(shape)
    m = qnnpack_multipliers(s_in, s_w, s_out)
    r = np.rint(_f32(_f32(acc) * m.reshape(shape))).astype(np.int64) + z_out
    return np.clip(r, z_out if relu else 0, 255)


def _fma(a, b, c):
    # a * b is exact in float64 (24 + 9 bits); the sum then rounds once to
    # float64 and once to f32. The second rounding could differ from a fused
    # f32 operation only when the float64 sum lies within 2^-53 of an f32
    # midpoint, which these magnitudes (|q| < 256) do not reach.
    return _f32(np.float64(a) * np.asarray(b, np.float64) + np.float64(c))


def dequantize_vec(q, s, z):
    """AVX2 Vectorized<quint8>::dequantize: fma(s, q, f32(s * -z))."""
    s = f32(s)
    return _fma(s, _f32(q), f32(s * f32(-z)))


def dequantize_scalar(q, s, z):
    """dequantize_val: f32(s) * f32(q - z)."""
    return _f32(f32(s) * _f32(np.asarray(q) - z))


def quantize(x, s, z, lo=0, hi=255):
    """quantize_val / QuantizeAvx2: rint(x * f32(1 / f32(s))) + z, saturated."""
    inv = f32(f32(1) / f32(s))
    return np.clip(np.rint(_f32(_f32(x) * inv)).astype(np.int64) + z, lo, hi)


def add_generic(qa, sa, za, qb, sb, zb, s, z, relu=False, tail=0):
    """quantized::add(_relu) on the onednn engine. `tail`: how many trailing
    elements (flat order) take the scalar path."""
    qa, qb = np.asarray(qa), np.asarray(qb)
    shape = np.broadcast_shapes(qa.shape, qb.shape)
    qa, qb = np.broadcast_to(qa, shape).reshape(-1), np.broadcast_to(qb, shape).reshape(-1)
    n = qa.size - tail
    da = np.concatenate([dequantize_vec(qa[:n], sa, za), dequantize_scalar(qa[n:], sa, za)])
    db = np.concatenate([dequantize_vec(qb[:n], sb, zb), dequantize_scalar(qb[n:], sb, zb)])
    c = _f32(da + db)
    if relu:
        c = np.maximum(c, f32(0))
    return quantize(c, s, z).reshape(shape)


def qnnpack_add_params(sa, sb, s):
    ra, rb = f32(f32(sa) / f32(s)), f32(f32(sb) / f32(s))
    mx = max(ra, rb)
    exponent = int(np.array(mx, f32).view(np.uint32) >> 23) - 127
    shift = 21 - exponent
    am = int(np.rint(np.float64(ra) * 2.0 ** shift))
    bm = int(np.rint(np.float64(rb) * 2.0 ** shift))
    return am, bm, shift


def add_qnnpack(qa, sa, za, qb, sb, zb, s, z, relu=False):
    """quantized::add(_relu) on the qnnpack engine (fixed point)."""
    am, bm, shift = qnnpack_add_params(sa, sb, s)
    acc = -(am * za + bm * zb) + np.asarray(qa, np.int64) * am + np.asarray(qb, np.int64) * bm
    acc = ((acc + 2 ** 31) % 2 ** 32) - 2 ** 31  # int32 arithmetic
    mask = (1 << shift) - 1
    rem = (acc & mask) - (acc < 0)
    acc = (acc >> shift) + (rem > (mask >> 1))
    return np.clip(acc + z, z if relu else 0, 255)


def mul_generic(qa, sa, za, qb, sb, zb, s, z, relu=False):
    p = _f32(dequantize_scalar(qa, sa, za) * dequantize_scalar(qb, sb, zb))
    if relu:
        p = np.maximum(p, f32(0))
    return quantize(p, s, z)


def requantize(q, s_in, z_in, s, z):
    """A value moved onto another grid (cat, ...): quantize(dequantize)."""
    return quantize(dequantize_scalar(q, s_in, z_in), s, z)


def avg_pool_nchw(sum_q, kh, kw):
    """adaptive_avg_pool2d (onednn engine) on contiguous NCHW input:
    rint(f32(sum of the codes) * r), r = f32(f32(1 / kh) / kw), with no zero
    point (q_adaptive_avg_pool2d's single_out_frame)."""
    r = f32(f32(f32(1.0) / f32(kh)) / f32(kw))
    return np.rint(_f32(_f32(sum_q) * r)).astype(np.int64)


def mean_nchw(sum_q, n):
    """mean over the innermost dimensions of contiguous input (onednn
    engine, qmean_inner_dim): rint(f32(sum of the codes) / n)."""
    return np.rint(_f32(_f32(sum_q) / f32(n))).astype(np.int64)


def avg_pool_nhwc(acc, n, s_in, s_out, z_out):
    """adaptive_avg_pool2d / avg_pool2d on channels-last input (and both on
    the qnnpack engine, and mean there): acc = sum(q) - z_in * n in int32,
    m = f32(f32(s_in / s_out) / n), then quantize_val with scale f32(1 / m):
    rint(f32(acc) * f32(1 / f32(1 / m))) + z_out, saturated."""
    m = f32(f32(f32(s_in) / f32(s_out)) / f32(n))
    return quantize(_f32(acc), f32(f32(1) / m), z_out)


def avg_pool_qnnpack(acc, n, s_in, s_out, z_out):
    """Average pools and mean on the qnnpack engine (q8avgpool / q8gavgpool):
    acc = sum(q) - z_in * n in int32, scale f32(s_in) / (f32(s_out) * n) in
    f32, rint(f32(acc) * scale) + z_out, saturated."""
    m = f32(f32(s_in) / f32(f32(s_out) * f32(n)))
    return np.clip(np.rint(_f32(_f32(acc) * m)).astype(np.int64) + z_out, 0, 255)


def qnnpack_hard_table(sigmoid, s_in, z_in, s_out, z_out):
    """qnnpack's hardswish (hardsigmoid) lookup table on the 256 codes."""
    x = _f32(f32(s_in) * _f32(np.arange(256) - z_in))
    r = _f32(np.clip(_f32(x + f32(3)), f32(0), f32(6)))
    r = _f32(r / f32(6)) if sigmoid else _f32(_f32(x * r) / f32(6))
    y = _f32(_f32(f32(f32(1) / f32(s_out)) * r) + f32(z_out))
    return np.rint(np.clip(y, f32(0), f32(255))).astype(np.int64)


def cascade_sum(rows):
    """ATen's float sum over axis 1 of `rows` (N x n x C) when the reduced
    axis is not the innermost in memory (multi_row_sum, 4 levels of 16)."""
    nb, n, c = rows.shape
    levels = [np.zeros((nb, c), f32) for _ in range(4)]
    i = 0
    while i + 16 <= n:
        for _ in range(16):
            levels[0] = _f32(levels[0] + rows[:, i])
            i += 1
        for j in range(1, 4):
            levels[j] = _f32(levels[j] + levels[j - 1])
            levels[j - 1] = np.zeros((nb, c), f32)
            if i & (15 << (4 * j)):
                break
    for k in range(i, n):
        levels[0] = _f32(levels[0] + rows[:, k])
    for j in range(1, 4):
        levels[0] = _f32(levels[0] + levels[j])
    return levels[0]


def mean_channels_last(codes, s, z):
    """mean over H and W of channels-last input on the onednn engine: the
    dequantized tensor (dequantize_val), ATen's float sum, divided by n, and
    quantized back to (s, z). codes: N x C x H x W; returns N x C."""
    nb, c, h, w = codes.shape
    rows = dequantize_scalar(codes.transpose(0, 2, 3, 1).reshape(nb, h * w, c), s, z)
    return quantize(_f32(cascade_sum(rows) / f32(h * w)), s, z)


def torch_table(fn, s_in, z_in):
    """The 256 output codes of torch's quantized op `fn` on every input code
    (quint8), and its output (scale, zero point)."""
    import torch
    codes = torch.arange(256, dtype=torch.uint8).reshape(1, 256, 1, 1)
    q = torch._make_per_tensor_quantized_tensor(codes, float(s_in), int(z_in))
    out = fn(q)
    return (out.int_repr().reshape(-1).numpy().astype(np.int64), float(out.q_scale()),
            int(out.q_zero_point()))
