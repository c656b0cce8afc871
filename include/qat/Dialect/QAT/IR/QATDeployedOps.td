//===- QATDeployedOps.td - deployment-exact training ops ----*- tablegen -*-===//
//
// The ops that let a training step run on the arithmetic of the deployed
// integer model (docs/Training.md, "Deployed numerics"): the int32 bias code
// of a live bias, and the straight-through backward of every integer-domain
// op (qat.quantize, qat.dequantize, qat.quantize_bias, qat.requantize,
// qat.requantize_add, qat.rescale, qat.rescale_add), and the exact int32
// accumulator differentiated through its f32 relaxation.
//
// The backward of each op is the derivative of its STE-relaxed forward at
// the point where it was evaluated: every rounding `round(v)` is replaced by
// `v + (round(v0) - v0)` (v0 its value at that point, a constant), every
// clamp by the branch it took there (the value itself inside the range, the
// constant bound outside). Composed op by op, this gives the derivative of
// the relaxed network, which finite differences can check.
//
// Sums over elements (the gradient of a per-tensor or per-axis parameter)
// accumulate the f32 terms in f64 from +0.0, in the row-major order of the
// elements, and round to f32 once, as qat.lsq_grad.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATDEPLOYEDOPS_TD
#define QAT_DIALECT_QAT_IR_QATDEPLOYEDOPS_TD

def QAT_BiasCodeTensor : RankedTensorOf<[I32, F32]>;

//===----------------------------------------------------------------------===//
// quantize_bias
//===----------------------------------------------------------------------===//

def QAT_QuantizeBiasOp : QAT_Op<"quantize_bias", [Pure,
    AllShapesMatch<["bias", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "a float bias to the int32 code of an integer kernel";
  let description = [{
    The bias of an integer convolution or matmul, as `qat-convert-to-integer`
    computes it, from a bias that may change (a trained parameter). `bias`
    is rank 1 (one entry per output channel `c`), `input_scale` rank 0,
    `weight_scale` rank 0 or rank 1 with one entry per channel. In f32:

    ```
    q = roundeven(bias[c] / (input_scale * weight_scale[c]))
    ```

    (the product rounds to f32, then the division, then the rounding). With
    an f32 result `q` is returned as is (an integer-valued f32, or NaN / inf
    where the operands give them). With an `i32` result it saturates to
    `[-2^31, 2147483520]` (2147483520 is the largest f32 below 2^31) and NaN
    gives 0; `qat-convert-to-integer` refuses a kernel whose constant bias
    leaves that range, so on every bias it accepts the two agree.

    Backward (`qat.quantize_bias_grad`): the derivative of
    `bias[c] / (input_scale * weight_scale[c])`; no clamp, no mask.

    ```mlir
    %q = qat.quantize_bias %b, %s_in, %s_w : tensor<16xf32>, tensor<f32>, tensor<16xf32> -> tensor<16xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$bias,
                       QAT_ScaleTensor:$input_scale,
                       QAT_ScaleTensor:$weight_scale);
  let results = (outs QAT_BiasCodeTensor:$output);
  let assemblyFormat = [{
    $bias `,` $input_scale `,` $weight_scale attr-dict `:` type($bias) `,`
    type($input_scale) `,` type($weight_scale) `->` type($output)
  }];
  let hasVerifier = 1;
}

def QAT_QuantizeBiasGradOp : QAT_Op<"quantize_bias_grad", [Pure,
    AllTypesMatch<["bias", "grad_bias"]>,
    AllShapesMatch<["grad_output", "bias"]>,
    AllTypesMatch<["input_scale", "grad_input_scale"]>,
    AllTypesMatch<["weight_scale", "grad_weight_scale"]>]> {
  let summary = "straight-through backward of qat.quantize_bias";
  let description = [{
    With `p = input_scale * weight_scale[c]` and `v = bias[c] / p` (f32, as
    the forward computes them before rounding), `dq = grad_output[c]`:

    ```
    grad_bias[c]         = dq / p
    grad_input_scale     = f32(sum over c of f64((dq * -v) / input_scale))
    grad_weight_scale[c] = f32(f64((dq * -v) / weight_scale[c]))   per channel
                         = f32(sum over c of f64(...))            per tensor
    ```

    i.e. the derivative of `bias / (input_scale * weight_scale)` with the
    rounding taken as the identity.

    ```mlir
    %db, %dsi, %dsw = qat.quantize_bias_grad %dq, %b, %s_in, %s_w
        : tensor<16xf32>, tensor<16xf32>, tensor<f32>, tensor<16xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$grad_output,
                       RankedTensorOf<[F32]>:$bias,
                       QAT_ScaleTensor:$input_scale,
                       QAT_ScaleTensor:$weight_scale);
  let results = (outs RankedTensorOf<[F32]>:$grad_bias,
                      QAT_ScaleTensor:$grad_input_scale,
                      QAT_ScaleTensor:$grad_weight_scale);
  let assemblyFormat = [{
    $grad_output `,` $bias `,` $input_scale `,` $weight_scale attr-dict `:`
    type($grad_output) `,` type($bias) `,` type($input_scale) `,`
    type($weight_scale)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward of the integer-domain ops
//===----------------------------------------------------------------------===//

def QAT_QuantizeGradOp : QAT_Op<"quantize_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_input"]>,
    AllShapesMatch<["grad_output", "input"]>,
    AllTypesMatch<["scale", "grad_scale"]>]> {
  let summary = "straight-through backward of qat.quantize";
  let description = [{
    `grad_output` is the gradient of the codes (f32, the shape of `input`).
    With `s = scale[c]`, `z = zero_point[c]`, `inv = 1.0f / s`, `t` the
    unclamped code exactly as `qat.quantize` computes it (same `rounding`)
    and `dq = grad_output`, in f32:

    ```
    in = quant_min <= t && t <= quant_max && s > 0 && s < +inf
    grad_input = (dq * inv) * (in ? 1.0f : 0.0f)
    ds         = in ? (dq * -(x * inv)) * inv : 0.0f
    grad_scale[c] = f32(sum of f64(ds) over the elements of c)
    ```

    The relaxed forward is `clamp(x / s + z)` (the rounding as the
    identity, `x / s` computed as `x * inv` for every rounding mode), whose
    derivatives are `1 / s` and `-x / s^2` inside the range and 0 outside.
    `qat.dequantize_grad` of the codes composed with this gives LSQ's
    gradients of `qat.lsq` (`grad_factor` 1): `dy` for the input inside the
    range, and for the scale `dy * (q - z - x / s)` inside,
    `dy * (quant_min - z)` or `dy * (quant_max - z)` outside. No gradient
    flows to the integer zero point. Like `qat.fake_quant_grad`, the mask
    multiplies: a masked NaN or inf `dq` gives NaN.

    ```mlir
    %dx, %ds = qat.quantize_grad %dq, %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i32>
    ```
  }];
  let arguments = !con((ins RankedTensorOf<[F32]>:$grad_output,
                            QAT_FloatTensor:$input, QAT_ScaleTensor:$scale,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs,
                       (ins DefaultValuedAttr<QAT_RoundingModeAttr,
                                "::mlir::qat::RoundingMode::half_even">:$rounding));
  let results = (outs RankedTensorOf<[F32]>:$grad_input,
                      QAT_ScaleTensor:$grad_scale);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $scale `,` $zero_point attr-dict `:`
    type($grad_output) `,` type($input) `,` type($scale) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

def QAT_DequantizeGradOp : QAT_Op<"dequantize_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_input"]>,
    AllShapesMatch<["grad_output", "input"]>,
    AllTypesMatch<["scale", "grad_scale"]>]> {
  let summary = "backward of qat.dequantize";
  let description = [{
    `qat.dequantize` is `(f32(q) - f32(z)) * s`, with no rounding; its
    backward, with `dx = grad_output` (f32, the shape of the codes):

    ```
    grad_input = dx * s                            (the gradient of f32 codes)
    grad_scale[c] = f32(sum of f64(dx * (f32(q) - f32(z))) over the elements of c)
    ```

    No gradient flows to the integer zero point. With integer codes
    `grad_input` is still computed (an integer operand carries no gradient
    further).

    ```mlir
    %dq, %ds = qat.dequantize_grad %dx, %q, %s, %z : tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$grad_output,
                       QAT_IntCodeTensor:$input, QAT_ScaleTensor:$scale,
                       QAT_IntZeroPointTensor:$zero_point,
                       OptionalAttr<I64Attr>:$axis);
  let results = (outs RankedTensorOf<[F32]>:$grad_input,
                      QAT_ScaleTensor:$grad_scale);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $scale `,` $zero_point attr-dict `:`
    type($grad_output) `,` type($input) `,` type($scale) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

def QAT_RequantizeGradOp : QAT_Op<"requantize_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_input"]>,
    AllShapesMatch<["grad_output", "input"]>,
    AllTypesMatch<["multiplier", "grad_multiplier"]>]> {
  let summary = "straight-through backward of qat.requantize";
  let description = [{
    With `a = f32(acc)`, `m = multiplier[c]`, `t = roundeven(a * m) + f32(z)`
    (before the clamp, as `qat.requantize` computes it) and
    `dq = grad_output`, in f32:

    ```
    in = quant_min <= t && t <= quant_max && (z != quant_min || a * m > 0)
    grad_input = (dq * m) * (in ? 1.0f : 0.0f)
    grad_multiplier[c] = f32(sum of f64(in ? dq * a : 0.0f) over the elements of c)
    ```

    the derivatives of the relaxed `clamp(a * m + z)`. A fused ReLU is part
    of the clamp: its lower bound is the zero point (the code of 0.0), and
    there the mask is ReLU's, on the unrounded value (`a * m > 0`), as fake
    quantization after a ReLU has it: the values in [-0.5, 0) that round
    to the bound get no gradient.

    ```mlir
    %da, %dm = qat.requantize_grad %dq, %acc, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i32>
    ```
  }];
  let arguments = !con((ins RankedTensorOf<[F32]>:$grad_output,
                            QAT_AccumulatorTensor:$input,
                            QAT_ScaleTensor:$multiplier,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs RankedTensorOf<[F32]>:$grad_input,
                      QAT_ScaleTensor:$grad_multiplier);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $multiplier `,` $zero_point attr-dict `:`
    type($grad_output) `,` type($input) `,` type($multiplier) `,`
    type($zero_point)
  }];
  let hasVerifier = 1;
}

def QAT_RequantizeAddGradOp : QAT_Op<"requantize_add_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_lhs", "grad_rhs"]>,
    AllShapesMatch<["grad_output", "lhs", "rhs"]>,
    AllTypesMatch<["lhs_multiplier", "grad_lhs_multiplier"]>,
    AllTypesMatch<["rhs_multiplier", "grad_rhs_multiplier"]>]> {
  let summary = "straight-through backward of qat.requantize_add";
  let description = [{
    With `a = f32(lhs) - f32(lhs_zero_point)`, `b = f32(rhs) -
    f32(rhs_zero_point)`, `v = roundeven(a * lhs_multiplier + b *
    rhs_multiplier) + f32(zero_point)` (before the clamp, as
    `qat.requantize_add` computes it) and `dq = grad_output`, in f32:

    ```
    in = quant_min <= v && v <= quant_max &&
         (zero_point != quant_min || a * lhs_multiplier + b * rhs_multiplier > 0)
    grad_lhs = (dq * lhs_multiplier) * (in ? 1.0f : 0.0f)
    grad_rhs = (dq * rhs_multiplier) * (in ? 1.0f : 0.0f)
    grad_lhs_multiplier[c] = f32(sum of f64(in ? dq * a : 0.0f) over the elements of c)
    grad_rhs_multiplier[c] = f32(sum of f64(in ? dq * b : 0.0f) over the elements of c)
    ```

    ```mlir
    %dl, %dml, %dr, %dmr = qat.requantize_add_grad %dq, %acc, %m, %z0, %r, %mr, %zr, %zo
        {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>, tensor<4xf32>, tensor<f32>, tensor<i32>, tensor<i32>
    ```
  }];
  let arguments = !con((ins RankedTensorOf<[F32]>:$grad_output,
                            QAT_AccumulatorTensorOrCodes:$lhs,
                            QAT_ScaleTensor:$lhs_multiplier,
                            QAT_IntZeroPointTensor:$lhs_zero_point,
                            QAT_AccumulatorTensorOrCodes:$rhs,
                            QAT_ScaleTensor:$rhs_multiplier,
                            QAT_IntZeroPointTensor:$rhs_zero_point,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs RankedTensorOf<[F32]>:$grad_lhs,
                      QAT_ScaleTensor:$grad_lhs_multiplier,
                      RankedTensorOf<[F32]>:$grad_rhs,
                      QAT_ScaleTensor:$grad_rhs_multiplier);
  let assemblyFormat = [{
    $grad_output `,` $lhs `,` $lhs_multiplier `,` $lhs_zero_point `,` $rhs `,`
    $rhs_multiplier `,` $rhs_zero_point `,` $zero_point attr-dict `:`
    type($grad_output) `,` type($lhs) `,` type($lhs_multiplier) `,`
    type($lhs_zero_point) `,` type($rhs) `,` type($rhs_multiplier) `,`
    type($rhs_zero_point) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

def QAT_RescaleGradOp : QAT_Op<"rescale_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_input"]>,
    AllShapesMatch<["grad_output", "input"]>]> {
  let summary = "straight-through backward of qat.rescale";
  let description = [{
    With `M = multiplier[c]`, `n = shift[c]`, `v = ((i64(acc) * M +
    2^(n-1)) >> n) + zero_point` in 64-bit integers (before the clamp, as
    `qat.rescale` computes it), `r = f32(f64(M) * 2^-n)` (the real
    multiplier, exact in f64, rounded to f32 once) and `dq = grad_output`:

    ```
    in = quant_min <= v && v <= quant_max &&
         (zero_point != quant_min || i64(acc) * M > 0)
    grad_input = (dq * r) * (in ? 1.0f : 0.0f)
    ```

    the derivative of the relaxed `clamp(acc * M * 2^-n + z)`; at a fused
    ReLU's bound (quant_min = zero point) the mask is ReLU's, on the
    unrounded value, as for `qat.requantize_grad`. The integer
    multiplier, shift and zero point get no gradient.

    ```mlir
    %da = qat.rescale_grad %dq, %acc, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<8xf32>, tensor<8xf32>, tensor<i32>, tensor<i8>, tensor<i32>
    ```
  }];
  let arguments = !con((ins RankedTensorOf<[F32]>:$grad_output,
                            QAT_AccumulatorTensor:$input,
                            RankedTensorOf<[I32]>:$multiplier,
                            RankedTensorOf<[I8]>:$shift,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs RankedTensorOf<[F32]>:$grad_input);
  let assemblyFormat = [{
    $grad_output `,` $input `,` $multiplier `,` $shift `,` $zero_point
    attr-dict `:` type($grad_output) `,` type($input) `,` type($multiplier)
    `,` type($shift) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

def QAT_RescaleAddGradOp : QAT_Op<"rescale_add_grad", [Pure,
    AllTypesMatch<["grad_output", "grad_lhs", "grad_rhs"]>,
    AllShapesMatch<["grad_output", "lhs", "rhs"]>]> {
  let summary = "straight-through backward of qat.rescale_add";
  let description = [{
    With `v` the shifted sum of `qat.rescale_add` plus its zero point, in
    64-bit integers before the clamp, `n = shift[c]`,
    `rl = f32(f64(lhs_multiplier[c]) * 2^-n)`,
    `rr = f32(f64(rhs_multiplier[c]) * 2^-n)` and `dq = grad_output`:

    ```
    in = quant_min <= v && v <= quant_max && (zero_point != quant_min ||
         (lhs - lhs_zero_point) * lhs_multiplier + (rhs - rhs_zero_point) * rhs_multiplier > 0)
    grad_lhs = (dq * rl) * (in ? 1.0f : 0.0f)
    grad_rhs = (dq * rr) * (in ? 1.0f : 0.0f)
    ```

    ```mlir
    %dl, %dr = qat.rescale_add_grad %dq, %a, %ma, %za, %b, %mb, %zb, %n, %zo
        {quant_min = -128 : i64, quant_max = 127 : i64}
        : tensor<4xf32>, tensor<4xf32>, tensor<i32>, tensor<i32>, tensor<4xf32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32>
    ```
  }];
  let arguments = !con((ins RankedTensorOf<[F32]>:$grad_output,
                            QAT_AccumulatorTensorOrCodes:$lhs,
                            RankedTensorOf<[I32]>:$lhs_multiplier,
                            QAT_IntZeroPointTensor:$lhs_zero_point,
                            QAT_AccumulatorTensorOrCodes:$rhs,
                            RankedTensorOf<[I32]>:$rhs_multiplier,
                            QAT_IntZeroPointTensor:$rhs_zero_point,
                            RankedTensorOf<[I8]>:$shift,
                            QAT_IntZeroPointTensor:$zero_point),
                       QAT_QuantRangeArgs);
  let results = (outs RankedTensorOf<[F32]>:$grad_lhs,
                      RankedTensorOf<[F32]>:$grad_rhs);
  let assemblyFormat = [{
    $grad_output `,` $lhs `,` $lhs_multiplier `,` $lhs_zero_point `,` $rhs `,`
    $rhs_multiplier `,` $rhs_zero_point `,` $shift `,` $zero_point attr-dict
    `:` type($grad_output) `,` type($lhs) `,` type($lhs_multiplier) `,`
    type($lhs_zero_point) `,` type($rhs) `,` type($rhs_multiplier) `,`
    type($rhs_zero_point) `,` type($shift) `,` type($zero_point)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// exact_accumulator
//===----------------------------------------------------------------------===//

def QAT_ExactAccumulatorOp : QAT_Op<"exact_accumulator", [Pure,
    AllShapesMatch<["relaxed", "exact", "output"]>,
    AllTypesMatch<["exact", "output"]>,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "an int32 accumulator differentiated through its f32 relaxation";
  let description = [{
    `output = exact`: the forward is the int32 operand, bit for bit;
    `relaxed` is not read by the forward.

    Backward (`GradientOpInterface`): the gradient of `output` (f32) is the
    gradient of `relaxed`, unchanged; `exact` gets none.

    The deployed training forward (`qat-generate-train-step{numerics=deployed}`,
    docs/Deployed.md) writes it where the accumulator of a convolution or
    matmul on f32 codes could reach 2^24, beyond which f32 sums are not
    exact: `exact` is the int32 convolution of the i8 codes (what the int8
    model computes), `relaxed` the same convolution on the f32 codes, whose
    adjoint carries the gradient to the codes, weights and bias. The two
    agree wherever every partial sum stays below 2^24 in magnitude.

    Folds to `exact` (after differentiation the relaxed computation is
    dead).

    ```mlir
    %acc = qat.exact_accumulator %relaxed, %exact : tensor<1x8x8x4xf32>, tensor<1x8x8x4xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$relaxed,
                       RankedTensorOf<[I32]>:$exact);
  let results = (outs RankedTensorOf<[I32]>:$output);
  let assemblyFormat = [{
    $relaxed `,` $exact attr-dict `:` type($relaxed) `,` type($exact)
  }];
  let hasFolder = 1;
}

#endif // QAT_DIALECT_QAT_IR_QATDEPLOYEDOPS_TD
