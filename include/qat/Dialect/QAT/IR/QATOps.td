//===- QATOps.td - qat operations ---------------------------*- tablegen -*-===//
//
// Each op's description is its numerics contract: the arithmetic below is
// what every lowering computes, in f32 unless stated otherwise. This file
// holds the quantization ops (fake_quant, lsq, observer, choose_qparams) and
// the integer domain (quantize ... rescale_add); the files included at its
// end hold the int8 kernels (QATIntegerKernelOps.td), the training ops
// (QATTrainingOps.td), the f32 kernels (QATFloatKernelOps.td) and the
// integer ops' straight-through backward (QATDeployedOps.td).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATOPS_TD
#define QAT_DIALECT_QAT_IR_QATOPS_TD

include "qat/Dialect/QAT/IR/QATDialect.td"
include "qat/Dialect/QAT/IR/QATAttrs.td"
include "qat/Dialect/QAT/IR/QATInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"

def QAT_FloatTensor : RankedTensorOf<[F32]>;
def QAT_ScaleTensor : RankedTensorOf<[F32]>;
def QAT_IntZeroPointTensor : RankedTensorOf<[I32]>;

// Attributes shared by the fake quantization ops.
defvar QAT_QuantRangeArgs = (ins
  I64Attr:$quant_min,
  I64Attr:$quant_max,
  OptionalAttr<I64Attr>:$axis);

//===----------------------------------------------------------------------===//
// fake_quant
//===----------------------------------------------------------------------===//

def QAT_FakeQuantOp : QAT_Op<"fake_quant", [Pure,
    AllTypesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "affine fake quantization, per tensor or per axis";
  let description = [{
    Rounds each element of `input` to the integer grid given by `scale` and
    `zero_point` and maps it back to float. Without `axis`, `scale` and
    `zero_point` are rank-0 tensors (per-tensor); with `axis = a`, they are
    rank-1 tensors with one entry per index `c` of dimension `a` (per-axis).
    For an element `x` with parameters `s = scale[c]`, `z = zero_point[c]`,
    all in f32 arithmetic:

    ```
    r = roundeven(x * (1.0f / s))     rounding = half_even (default, PyTorch)
      | roundeven(x / s)               rounding = half_even_div (Horizon)
      | floor(x / s + 0.5f)            rounding = half_up (TF, StableHLO)
    t = r + f32(z)                     zero point added after rounding
    q = min(max(t, quant_min), quant_max)
    y = (q - f32(z)) * s
    ```

    Saturation and special values: `+inf` and any finite `x` whose code is
    above the range give `quant_max`'s value, `-inf` and codes below the
    range give `quant_min`'s value. A NaN input gives NaN. A scale that is
    not a positive finite number (zero, negative, inf, NaN) gives NaN for
    every element it governs. With `half_even`, a positive scale below
    2^-128 has `1.0f / s = +inf`, so `x = +-0` gives NaN (`0 * inf`) and a
    false gradient mask; other finite inputs saturate. With the default
    rounding the result equals PyTorch 1.13's
    `fake_quantize_per_tensor_affine` / `fake_quantize_per_channel_affine`
    bit for bit on every finite input whose code fits in int64, for scales
    with a finite reciprocal (PyTorch turns inf, NaN and codes beyond int64
    into `quant_min`'s value, a defect not reproduced here).

    Invariants (verified): `quant_min < quant_max`, both within
    [-2^23, 2^23] so every code and code difference is exact in f32;
    constant scales are positive finite; constant zero points lie in
    [quant_min, quant_max]; the per-axis operand lengths equal the input's
    dimension `axis`.

    Backward: `qat.fake_quant_grad` (emitted by the op's
    `GradientOpInterface::buildGradients`; no gradient flows to `scale` or
    `zero_point`).

    Example:

    ```mlir
    %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64}
        : tensor<1x8xf32>, tensor<f32>, tensor<i32>
    %w = qat.fake_quant %k, %sc, %zc {quant_min = -128 : i64, quant_max = 127 : i64,
        axis = 0 : i64, rounding = #qat.rounding<half_even_div>}
        : tensor<16x3x3x3xf32>, tensor<16xf32>, tensor<16xi32>
    ```
  }];
  let arguments = !con((ins QAT_FloatTensor:$input, QAT_ScaleTensor:$scale,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<QAT_RoundingModeAttr,
                            "::mlir::qat::RoundingMode::half_even">:$rounding));
  let results = (outs QAT_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $zero_point attr-dict `:` type($input) `,`
    type($scale) `,` type($zero_point)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def QAT_FakeQuantGradOp : QAT_Op<"fake_quant_grad", [Pure,
    AllTypesMatch<["grad_output", "input", "grad_input"]>]> {
  let summary = "straight-through-estimator gradient of qat.fake_quant";
  let description = [{
    The gradient of `qat.fake_quant` with respect to its input. With `t` the
    unclamped code computed exactly as in `qat.fake_quant` (same rounding):

    ```
    in = quant_min <= t && t <= quant_max
    grad_input = grad_output * (in ? 1.0f : 0.0f)
    ```

    The product (rather than a select) is part of the contract: a clipped
    negative gradient gives -0.0 and a clipped NaN or inf gradient gives NaN,
    as in PyTorch. The clip mask is false for NaN inputs and for any element
    whose scale is not a positive finite number. This equals PyTorch 1.13's backward of
    `fake_quantize_per_{tensor,channel}_affine` (its cached mask) bit for bit
    on finite inputs. No gradient flows to `scale` or `zero_point` (use
    `qat.lsq` for learned parameters).

    ```mlir
    %dx = qat.fake_quant_grad %dy, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64}
        : tensor<1x8xf32>, tensor<f32>, tensor<i32>
    ```
  }];
  let arguments = !con((ins QAT_FloatTensor:$grad_output, QAT_FloatTensor:$input,
                            QAT_ScaleTensor:$scale,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<QAT_RoundingModeAttr,
                            "::mlir::qat::RoundingMode::half_even">:$rounding));
  let results = (outs QAT_FloatTensor:$grad_input);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $scale `,` $zero_point attr-dict `:`
    type($input) `,` type($scale) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lsq
//===----------------------------------------------------------------------===//

def QAT_LSQOp : QAT_Op<"lsq", [Pure, AllTypesMatch<["input", "output"]>,
    AllTypesMatch<["scale", "zero_point"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "learned step size fake quantization (LSQ / LSQ+)";
  let description = [{
    Fake quantization whose scale and zero point are learned: both are f32
    tensors (rank 0 per tensor, rank 1 per axis). In f32 arithmetic:

    ```
    s  = max(scale[c], 2^-23)                       scale kept >= f32 epsilon
    zf = min(max(roundeven(zero_point[c]), quant_min), quant_max)
    y  = fake_quant(x, s, zf)                        rounding = half_even
    ```

    `grad_factor` (default 1.0; LSQ uses `1/sqrt(numel * quant_max)`) only
    scales the gradients of `qat.lsq_grad`. The forward equals PyTorch 1.13's
    `_fake_quantize_learnable_per_{tensor,channel}_affine` bit for bit on
    finite inputs (PyTorch's module clamps the scale to epsilon before the
    call; the clamp is part of this op, so a run-time scale of zero or
    below becomes 2^-23, while a constant one is rejected by the verifier
    as a likely mistake). A zero point that should not be
    learned is simply a constant whose gradient is ignored. Backward:
    `qat.lsq_grad` (emitted by `GradientOpInterface::buildGradients`).

    ```mlir
    %y = qat.lsq %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64,
        grad_factor = 0.0625 : f64} : tensor<4x4xf32>, tensor<f32>
    ```
  }];
  let arguments = !con((ins QAT_FloatTensor:$input, QAT_ScaleTensor:$scale,
                            QAT_ScaleTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<F64Attr, "1.0">:$grad_factor));
  let results = (outs QAT_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $zero_point attr-dict `:` type($input) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def QAT_LSQGradOp : QAT_Op<"lsq_grad", [Pure,
    AllTypesMatch<["grad_output", "input", "grad_input"]>,
    AllTypesMatch<["scale", "zero_point", "grad_scale", "grad_zero_point"]>]> {
  let summary = "gradients of qat.lsq for input, scale and zero point";
  let description = [{
    The backward of `qat.lsq`, as PyTorch 1.13 computes it on x86 CPUs. With
    `s = max(scale[c], 2^-23)`, `inv = 1.0f / s`, `g = f32(grad_factor)` and
    the backward zero point

    ```
    zb = trunc(min(max(zero_point + 0.5f, quant_min), quant_max))   per tensor
    zb = min(max(roundeven(zero_point[c]), quant_min), quant_max)   per axis
    ```

    (PyTorch's two kernels round the zero point differently: they differ at
    ties `k + 0.5`, and, per tensor, `trunc` rounds toward zero below -0.5,
    so `zero_point = -3.0` gives `zb = -2` per tensor and `-3` per axis),
    each element
    computes in f32, where `fma(a, b, c)` is `a * b + c` rounded once:

    ```
    t  = roundeven(fma(x, inv, zb))
    in = quant_min <= t && t <= quant_max
    dx = dy * (in ? 1.0f : 0.0f)
    d  = fma(min(max(t, quant_min), quant_max) - zb, s, -x)      (xq - x)
    ds = in ? ((dy * d) * inv) * g
       : (dy * ((t < quant_min ? quant_min : quant_max) - zb)) * g
    dz = in ? 0.0f : ((dy * -1.0f) * s) * g
    ```

    The fused multiply-adds are those of PyTorch's AVX2/AVX-512 kernels
    (built with FMA contraction); here they are explicit, so the result does
    not depend on the machine. `grad_scale` and `grad_zero_point` are the
    sums of `ds` and `dz` over all elements (per tensor) or over all
    elements of each index of `axis` (per axis), accumulated in f64 from
    +0.0 and rounded to f32 once. PyTorch sums in f32 in an order that
    depends on its thread count and vector width, so on general data the
    sums agree with it to a few ulp; the elementwise terms and `grad_input`
    agree bit for bit.

    ```mlir
    %dx, %ds, %dz = qat.lsq_grad %dy, %x, %s, %z {quant_min = 0 : i64,
        quant_max = 255 : i64} : tensor<4x4xf32>, tensor<f32>
    ```
  }];
  let arguments = !con((ins QAT_FloatTensor:$grad_output, QAT_FloatTensor:$input,
                            QAT_ScaleTensor:$scale, QAT_ScaleTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<F64Attr, "1.0">:$grad_factor));
  let results = (outs QAT_FloatTensor:$grad_input, QAT_ScaleTensor:$grad_scale,
                      QAT_ScaleTensor:$grad_zero_point);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $scale `,` $zero_point attr-dict `:`
    type($input) `,` type($scale)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// observer
//===----------------------------------------------------------------------===//

def QAT_ObserverOp : QAT_Op<"observer", [Pure,
    AllTypesMatch<["min", "max", "new_min", "new_max"]>]> {
  let summary = "range statistics of a tensor as pure SSA state";
  let description = [{
    Folds the range of `input` into the observer state (`min`, `max`) and
    returns the new state. Without `axis` the state is rank 0; with
    `axis = a` it is rank 1 with one entry per index of dimension `a`, and
    the batch range of an entry is taken over all other dimensions.

    The batch range `bmin`, `bmax` ignores NaN elements (a tensor of only
    NaN, or an empty one, has `bmin = +inf`, `bmax = -inf`). Then, in f32:

    ```
    kind = min_max:         new_min = min(min, bmin); new_max = max(max, bmax)
    kind = moving_average:  if bmin == +inf && bmax == -inf: state unchanged
                            elif min == +inf && max == -inf:  (bmin, bmax)
                            else new_min = min + c * (bmin - min)
                                 new_max = max + c * (bmax - max)
    ```

    with `c = averaging_constant` (f32, default 0.01). The initial state is
    `min = +inf, max = -inf`, as in PyTorch's per-tensor observers (its
    per-channel observers start from an empty tensor, which behaves the
    same). On inputs without
    NaN this equals PyTorch 1.13's `MinMaxObserver`,
    `MovingAverageMinMaxObserver`, `PerChannelMinMaxObserver` and
    `MovingAveragePerChannelMinMaxObserver` bit for bit (PyTorch propagates
    NaN into the state; this op ignores it).

    With constant operands the op folds (this is how `qat-freeze-qparams`
    evaluates weight observers).

    ```mlir
    %lo, %hi = qat.observer %x, %min, %max {kind = #qat.observer<moving_average>}
        : tensor<8x16xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins QAT_FloatTensor:$input, QAT_ScaleTensor:$min,
                       QAT_ScaleTensor:$max,
                       DefaultValuedAttr<QAT_ObserverKindAttr,
                           "::mlir::qat::ObserverKind::min_max">:$kind,
                       DefaultValuedAttr<F32Attr, "0.01f">:$averaging_constant,
                       OptionalAttr<I64Attr>:$axis);
  let results = (outs QAT_ScaleTensor:$new_min, QAT_ScaleTensor:$new_max);
  let assemblyFormat = [{
    $input `,` $min `,` $max attr-dict `:` type($input) `,` type($min)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// choose_qparams
//===----------------------------------------------------------------------===//

def QAT_ChooseQParamsOp : QAT_Op<"choose_qparams", [Pure,
    AllTypesMatch<["min", "max", "scale"]>]> {
  let summary = "scale and zero point from an observed range (PyTorch formulas)";
  let description = [{
    Computes quantization parameters from a range, elementwise over rank-0
    (per-tensor) or rank-1 (per-axis) tensors, as PyTorch 1.13's observers
    do. With `reduce_range` the integer range is first halved:
    `qmin = floordiv(quant_min, 2)`, `qmax = floordiv(quant_max, 2)`
    (u8 0..255 becomes 0..127, s8 -128..127 becomes -64..63). In f32:

    ```
    unless min and max are finite and min <= max   (e.g. the initial
        scale = 1.0, zero_point = 0                 state +inf/-inf, NaN)
    lo = min(min, 0); hi = max(max, 0)
    affine:    scale = max((hi - lo) / f32(qmax - qmin), eps)
               zero_point = clamp(qmin - i32(roundeven(lo / scale)), qmin, qmax)
    symmetric: scale = max(max(-lo, hi) / (f32(qmax - qmin) / 2), eps)
               zero_point = 0                      if qmin < 0
                          = (qmin + qmax + 1) floordiv 2   otherwise
    ```

    With `power_of_two`, the scale (after the `eps` bound) is rounded up to
    the next power of two, `scale = 2^ceil(log2(scale))` (exact: the
    exponent field is incremented when the mantissa is not zero), before the
    affine zero point is computed from it; rounding up keeps the observed
    range representable.

    `eps` defaults to f32 epsilon (2^-23). The unsigned symmetric zero point
    is 128 for 0..255, as PyTorch's `quint8` default. Differences from
    PyTorch: for a customised unsigned range it uses `(quant_min +
    quant_max) // 2`; with `reduce_range` it keeps 128 (outside 0..127); and
    it picks the unsigned rule by dtype rather than by `qmin >= 0` (a qint8
    range 0..127 gives zero point 0 there, 64 here).

    ```mlir
    %s, %z = qat.choose_qparams %min, %max {quant_min = 0 : i64, quant_max = 255 : i64,
        qscheme = #qat.qscheme<affine>} : tensor<f32> -> tensor<i32>
    ```
  }];
  let arguments = (ins QAT_ScaleTensor:$min, QAT_ScaleTensor:$max,
                       I64Attr:$quant_min, I64Attr:$quant_max,
                       DefaultValuedAttr<QAT_QSchemeAttr,
                           "::mlir::qat::QScheme::affine">:$qscheme,
                       DefaultValuedAttr<BoolAttr, "false">:$reduce_range,
                       DefaultValuedAttr<F32Attr, "1.1920928955078125e-07f">:$eps,
                       DefaultValuedAttr<BoolAttr, "false">:$power_of_two);
  let results = (outs QAT_ScaleTensor:$scale, QAT_IntZeroPointTensor:$zero_point);
  let hasFolder = 1;
  let assemblyFormat = [{
    $min `,` $max attr-dict `:` type($min) `->` type($zero_point)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The integer range after `reduce_range`.
    int64_t getEffectiveQuantMin();
    int64_t getEffectiveQuantMax();
  }];
}

//===----------------------------------------------------------------------===//
// Integer domain: quantize, dequantize, requantize
//===----------------------------------------------------------------------===//

// Codes are integers, or integer-valued f32 in the float simulation of an
// integer model (qat-convert-to-integer{simulate=true}).
def QAT_IntCodeTensor : RankedTensorOf<[I8, I16, I32, F32]>;
def QAT_AccumulatorTensor : RankedTensorOf<[I32, F32]>;
def QAT_AccumulatorTensorOrCodes : RankedTensorOf<[I8, I16, I32, F32]>;

def QAT_QuantizeOp : QAT_Op<"quantize", [Pure,
    AllShapesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "float to integer codes: the first half of qat.fake_quant";
  let description = [{
    The integer code that `qat.fake_quant` with the same operands rounds to,
    as an integer tensor (signless; the range must fit its width):

    ```
    q = clamp(t, quant_min, quant_max)     t as in qat.fake_quant (f32)
    NaN -> zero_point (the code of real 0)
    ```

    so `qat.dequantize(qat.quantize(x))` equals `qat.fake_quant(x)` bit
    for bit, except that NaN becomes 0.0. With an f32 result the codes are
    integer-valued f32 (the float simulation of an integer model). `qat-convert-to-integer` keeps
    unsigned 8-bit codes in `i8` shifted by -128 (range -128..127, zero
    point minus 128), which changes no real value: `s * (q - z)` is the
    same.

    Backward (`GradientOpInterface`): `qat.quantize_grad`, the straight-through
    estimator (the input and the scale get gradients; the zero point none).

    ```mlir
    %q = qat.quantize %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi8>
    ```
  }];
  let arguments = !con((ins QAT_FloatTensor:$input, QAT_ScaleTensor:$scale,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<QAT_RoundingModeAttr,
                                "::mlir::qat::RoundingMode::half_even">:$rounding));
  let results = (outs QAT_IntCodeTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $zero_point attr-dict `:` type($input) `,`
    type($scale) `,` type($zero_point) `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_DequantizeOp : QAT_Op<"dequantize", [Pure,
    AllShapesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "integer codes to float: the second half of qat.fake_quant";
  let description = [{
    In f32, per tensor or per `axis` as qat.fake_quant:

    ```
    x = (f32(q) - f32(zero_point)) * scale
    ```

    With `fma_offset = c`, the form of PyTorch 1.13's vectorized
    dequantization (`Vectorized<quint8>::dequantize`, which quantized `add`
    uses on the onednn engine) on the unsigned codes `q + c` (`c = 128` for
    u8 codes kept in `i8` shifted by -128):

    ```
    x = fma(scale, f32(q + c), f32(scale * f32(-(zero_point + c))))
    ```

    where `fma` rounds once: the product `scale * f32(q + c)` is exact in
    it. The two forms differ in the last bit of some values.

    Backward (`GradientOpInterface`): `qat.dequantize_grad` (gradients of f32
    codes and of the scale).

    ```mlir
    %x = qat.dequantize %q, %s, %z : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
    ```
  }];
  let arguments = (ins QAT_IntCodeTensor:$input, QAT_ScaleTensor:$scale,
                       QAT_IntZeroPointTensor:$zero_point,
                       OptionalAttr<I64Attr>:$axis,
                       OptionalAttr<I64Attr>:$fma_offset);
  let results = (outs QAT_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `,` $zero_point attr-dict `:` type($input) `,`
    type($scale) `,` type($zero_point) `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_RequantizeOp : QAT_Op<"requantize", [Pure,
    AllShapesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "int32 accumulators to output codes with a float multiplier";
  let description = [{
    The float-multiplier requantization of oneDNN and fbgemm, in f32, per
    tensor or per `axis` (one multiplier per output channel):

    ```
    q = clamp(roundeven(f32(acc) * multiplier) + zero_point, quant_min, quant_max)
    ```

    `f32(acc)` rounds to nearest even (exact for |acc| <= 2^24); an f32
    accumulator (the float simulation) is used as is, and an f32 result
    holds the integer-valued code.

    With a float `bias` (one value, or one per channel along `axis`) and
    `float_zero_point_offset = c`, the requantization of PyTorch 1.13's
    onednn convolution and linear layers (oneDNN adds the f32 bias after
    the int32 accumulation and the zero point of its u8 output in f32,
    before rounding; `c = 128` for u8 codes kept in `i8` shifted by -128):

    ```
    t = f32(acc) + bias                    (only with bias)
    t = t * multiplier
    q = clamp(roundeven(t + f32(zero_point + c)) - c, quant_min, quant_max)
                                           (with float_zero_point_offset)
    q = clamp(roundeven(t) + zero_point, quant_min, quant_max)   (without)
    ```

    each f32 operation rounded in the order written. The backward below
    ignores `bias` and `float_zero_point_offset` (no training pass writes
    them). The fixed-point and shift-only schemes
    use `qat.rescale`. A fused ReLU or ReLU6 is the clamp: `quant_min`
    raised to the zero point, `quant_max` lowered to the code of 6.

    Backward (`GradientOpInterface`): `qat.requantize_grad`, the
    straight-through estimator (accumulator and multiplier).

    ```mlir
    %q = qat.requantize %acc, %m, %z {axis = 3 : i64, quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<1x8x8x4xi32>, tensor<4xf32>, tensor<4xi32> -> tensor<1x8x8x4xi8>
    ```
  }];
  let arguments = !con((ins QAT_AccumulatorTensor:$input,
                            QAT_ScaleTensor:$multiplier,
                            QAT_IntZeroPointTensor:$zero_point,
                            Optional<QAT_FloatTensor>:$bias),
                       QAT_QuantRangeArgs,
                       (ins OptionalAttr<I64Attr>:$float_zero_point_offset));
  let results = (outs QAT_IntCodeTensor:$output);
  let assemblyFormat = [{
    $input `,` $multiplier `,` $zero_point (`bias` $bias^)? attr-dict `:` type($input) `,`
    type($multiplier) `,` type($zero_point) (`,` type($bias)^)? `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_RescaleOp : QAT_Op<"rescale", [Pure,
    AllShapesMatch<["input", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "fixed-point requantization (TOSA rescale, single rounding)";
  let description = [{
    Per tensor or per `axis`, with a 32-bit multiplier `M` and a shift `n`
    (2 <= n <= 62), in 64-bit integer arithmetic:

    ```
    q = clamp(((i64(acc) * M + 2^(n-1)) >> n) + zero_point, quant_min, quant_max)
    ```

    `>>` is the arithmetic shift (rounds toward -inf, so ties go up, as
    TOSA's `apply_scale` with `rounding_mode = SINGLE_ROUND`). The same as
    `tosa.rescale` with `scale32 = true`, single rounding, input zero point
    0 and this output zero point, followed by the clamp, wherever the
    shifted value fits in int32 (TOSA requires that; beyond it this op
    saturates). The accumulator may
    be i32 or integer-valued f32 (converted exactly: |acc| < 2^31), and the
    result an integer type or f32: the float simulation of an integer model
    uses it on f32 codes.

    Backward (`GradientOpInterface`): `qat.rescale_grad`, the straight-through
    estimator of the accumulator (the integer parameters get none).

    ```mlir
    %q = qat.rescale %acc, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<8xi32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<8xi8>
    ```
  }];
  let arguments = !con((ins QAT_AccumulatorTensor:$input,
                            RankedTensorOf<[I32]>:$multiplier,
                            RankedTensorOf<[I8]>:$shift,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs QAT_IntCodeTensor:$output);
  let assemblyFormat = [{
    $input `,` $multiplier `,` $shift `,` $zero_point attr-dict `:`
    type($input) `,` type($multiplier) `,` type($shift) `,`
    type($zero_point) `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_RequantizeAddOp : QAT_Op<"requantize_add", [Pure,
    AllShapesMatch<["lhs", "rhs", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "sum of two rescaled integer tensors with a float multiplier each";
  let description = [{
    An add of two quantized tensors, or a convolution accumulator plus a
    quantized residual, requantized with float multipliers (as oneDNN's sum
    post-op and fbgemm's quantized add), in f32:

    ```
    t = (f32(lhs) - f32(lhs_zero_point)) * lhs_multiplier
    u = (f32(rhs) - f32(rhs_zero_point)) * rhs_multiplier
    q = clamp(roundeven(t + u) + zero_point, quant_min, quant_max)
    ```

    Each operation rounds to f32 in that order. Parameters are per tensor
    (rank 0) or per `axis` (rank 1). `lhs`/`rhs` are i8/i32 codes or
    integer-valued f32 codes (the float simulation); the result is i8 codes
    or f32 codes.

    Backward (`GradientOpInterface`): `qat.requantize_add_grad`.

    ```mlir
    %q = qat.requantize_add %acc, %m, %z0, %r, %mr, %zr, %zo {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<4xi8>, tensor<f32>, tensor<i32>, tensor<i32> -> tensor<4xi8>
    ```
  }];
  let arguments = !con((ins QAT_AccumulatorTensorOrCodes:$lhs,
                            QAT_ScaleTensor:$lhs_multiplier,
                            QAT_IntZeroPointTensor:$lhs_zero_point,
                            QAT_AccumulatorTensorOrCodes:$rhs,
                            QAT_ScaleTensor:$rhs_multiplier,
                            QAT_IntZeroPointTensor:$rhs_zero_point,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs QAT_IntCodeTensor:$output);
  let assemblyFormat = [{
    $lhs `,` $lhs_multiplier `,` $lhs_zero_point `,` $rhs `,` $rhs_multiplier
    `,` $rhs_zero_point `,` $zero_point attr-dict `:` type($lhs) `,`
    type($lhs_multiplier) `,` type($lhs_zero_point) `,` type($rhs) `,`
    type($rhs_multiplier) `,` type($rhs_zero_point) `,` type($zero_point)
    `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_RescaleAddOp : QAT_Op<"rescale_add", [Pure,
    AllShapesMatch<["lhs", "rhs", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "sum of two integer tensors rescaled in fixed point with one shift";
  let description = [{
    The fixed-point form of `qat.requantize_add`, with 32-bit multipliers
    sharing one shift `n` (2 <= n <= 62), in 64-bit integer arithmetic:

    ```
    v = (lhs - lhs_zero_point) * lhs_multiplier + (rhs - rhs_zero_point) * rhs_multiplier
    q = clamp(((v + 2^(n-1)) >> n) + zero_point, quant_min, quant_max)
    ```

    (`>>` arithmetic, saturating as `qat.rescale`). Operand and result types
    as `qat.requantize_add`; f32 codes are converted exactly.

    With `round_half_away_from_zero` (the add of PyTorch 1.13's qnnpack
    engine, target `x86:pytorch-qnnpack`), ties of the shift round away from
    zero instead of up:

    ```
    r = v >= 0 ? (v + 2^(n-1)) >> n : -((-v + 2^(n-1)) >> n)
    q = clamp(r + zero_point, quant_min, quant_max)
    ```

    The backward below treats both roundings alike (no training pass writes
    the attribute).

    Backward (`GradientOpInterface`): `qat.rescale_add_grad` (the two operands;
    the integer parameters get none).

    ```mlir
    %q = qat.rescale_add %a, %ma, %za, %b, %mb, %zb, %n, %zo {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4xi8>
    ```
  }];
  let arguments = !con((ins QAT_AccumulatorTensorOrCodes:$lhs,
                            RankedTensorOf<[I32]>:$lhs_multiplier,
                            QAT_IntZeroPointTensor:$lhs_zero_point,
                            QAT_AccumulatorTensorOrCodes:$rhs,
                            RankedTensorOf<[I32]>:$rhs_multiplier,
                            QAT_IntZeroPointTensor:$rhs_zero_point,
                            RankedTensorOf<[I8]>:$shift,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins UnitAttr:$round_half_away_from_zero));
  let results = (outs QAT_IntCodeTensor:$output);
  let assemblyFormat = [{
    $lhs `,` $lhs_multiplier `,` $lhs_zero_point `,` $rhs `,` $rhs_multiplier
    `,` $rhs_zero_point `,` $shift `,` $zero_point attr-dict `:` type($lhs)
    `,` type($lhs_multiplier) `,` type($lhs_zero_point) `,` type($rhs) `,`
    type($rhs_multiplier) `,` type($rhs_zero_point) `,` type($shift) `,`
    type($zero_point) `->` type($output)
  }];
  let hasVerifier = 1;
}

include "qat/Dialect/QAT/IR/QATIntegerKernelOps.td"
include "qat/Dialect/QAT/IR/QATTrainingOps.td"
include "qat/Dialect/QAT/IR/QATFloatKernelOps.td"
include "qat/Dialect/QAT/IR/QATDeployedOps.td"

#endif // QAT_DIALECT_QAT_IR_QATOPS_TD
