//===- QATTrainingOps.td - ops of the generated training step -*- tablegen -*-===//
//
// The backward ops that the reverse-mode differentiation of a TOSA model
// emits where TOSA has no good form (convolution and pooling adjoints), and
// the loss. Layouts are TOSA's: activations NHWC, conv2d weights OHWI,
// depthwise_conv2d weights HWCM. Each description fixes what every element
// is; the order in which a sum of several f32 terms is accumulated is not
// specified (implementations agree to float-sum tolerance), unless stated.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATTRAININGOPS_TD
#define QAT_DIALECT_QAT_IR_QATTRAININGOPS_TD

def QAT_F32Tensor4D : 4DTensorOf<[F32]>;

// Window attributes shared by the convolution adjoints.
defvar QAT_ConvWindowArgs = (ins
  DenseI64ArrayAttr:$pad,
  DenseI64ArrayAttr:$stride,
  DenseI64ArrayAttr:$dilation);

// Window attributes shared by the pooling adjoints.
defvar QAT_PoolWindowArgs = (ins
  DenseI64ArrayAttr:$kernel,
  DenseI64ArrayAttr:$stride,
  DenseI64ArrayAttr:$pad);

//===----------------------------------------------------------------------===//
// Convolution adjoints
//===----------------------------------------------------------------------===//

def QAT_Conv2DBackwardDataOp : QAT_Op<"conv2d_backward_data", [Pure]> {
  let summary = "gradient of tosa.conv2d with respect to its input";
  let description = [{
    The adjoint of `tosa.conv2d` (float, zero points 0) for its input, i.e.
    a transposed convolution. `grad_output` is `dy` (N x Ho x Wo x O),
    `weight` is `W` (O x KH x KW x I, OHWI), the result `dx` is
    N x H x W x I; H and W come from the result type. `pad` is
    [top, bottom, left, right], `stride` [sh, sw], `dilation` [dh, dw], as
    on the forward `tosa.conv2d`. For every element of `dx`:

    ```
    dx[n, h, w, i] = sum over oh, ow, kh, kw, o with
                       h = oh * sh + kh * dh - top,
                       w = ow * sw + kw * dw - left
                     of dy[n, oh, ow, o] * W[o, kh, kw, i]
    ```

    (0.0 where no term exists: input rows or columns that no window
    reaches). Each product is an f32 multiplication; the order of the f32
    additions is not specified. The bias gradient is not part of this op
    (it is `tosa.reduce_sum` of `dy` over N, H and W).

    Shapes (verified): `Ho = floor((H + top + bottom - dh * (KH - 1) - 1) / sh) + 1`
    and likewise `Wo`, `Ho, Wo >= 1`; N and the channel counts agree;
    pads >= 0, strides and dilations >= 1.

    ```mlir
    %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>,
        stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
        : (tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) -> tensor<1x8x8x8xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$grad_output,
                            QAT_F32Tensor4D:$weight), QAT_ConvWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_input);
  let assemblyFormat = [{
    $grad_output `,` $weight attr-dict `:` `(` type($grad_output) `,`
    type($weight) `)` `->` type($grad_input)
  }];
  let hasVerifier = 1;
}

def QAT_Conv2DBackwardWeightOp : QAT_Op<"conv2d_backward_weight", [Pure]> {
  let summary = "gradient of tosa.conv2d with respect to its weight";
  let description = [{
    The adjoint of `tosa.conv2d` (float, zero points 0) for its weight.
    `input` is `x` (N x H x W x I), `grad_output` is `dy` (N x Ho x Wo x O);
    the result `dW` is O x KH x KW x I (OHWI; KH and KW come from the result
    type). Attributes as `qat.conv2d_backward_data`. For every element:

    ```
    dW[o, kh, kw, i] = sum over n, oh, ow of
                       dy[n, oh, ow, o] * xp(n, oh * sh + kh * dh - top,
                                                ow * sw + kw * dw - left, i)
    xp(n, h, w, i)   = x[n, h, w, i] inside the input, 0.0 in the padding
    ```

    Each product is an f32 multiplication; the order of the f32 additions
    is not specified. Shapes are verified as for `qat.conv2d_backward_data`.

    ```mlir
    %dw = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>,
        stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
        : (tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) -> tensor<16x3x3x8xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$input,
                            QAT_F32Tensor4D:$grad_output), QAT_ConvWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_weight);
  let assemblyFormat = [{
    $input `,` $grad_output attr-dict `:` `(` type($input) `,`
    type($grad_output) `)` `->` type($grad_weight)
  }];
  let hasVerifier = 1;
}

def QAT_DepthwiseConv2DBackwardDataOp
    : QAT_Op<"depthwise_conv2d_backward_data", [Pure]> {
  let summary = "gradient of tosa.depthwise_conv2d with respect to its input";
  let description = [{
    The adjoint of `tosa.depthwise_conv2d` (float, zero points 0) for its
    input. `grad_output` is `dy` (N x Ho x Wo x C*M; output channel
    `c * M + m` reads input channel `c`, as in TOSA), `weight` is `W`
    (KH x KW x C x M, HWCM); the result `dx` is N x H x W x C. Attributes
    as `qat.conv2d_backward_data`. For every element:

    ```
    dx[n, h, w, c] = sum over oh, ow, kh, kw, m with
                       h = oh * sh + kh * dh - top,
                       w = ow * sw + kw * dw - left
                     of dy[n, oh, ow, c * M + m] * W[kh, kw, c, m]
    ```

    (0.0 where no term exists). Products in f32; the order of the f32
    additions is not specified. Shapes are verified as for
    `qat.conv2d_backward_data`, with `dim(dy, 3) = C * M`.

    ```mlir
    %dx = qat.depthwise_conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>,
        stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>}
        : (tensor<1x8x8x32xf32>, tensor<3x3x32x1xf32>) -> tensor<1x8x8x32xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$grad_output,
                            QAT_F32Tensor4D:$weight), QAT_ConvWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_input);
  let assemblyFormat = [{
    $grad_output `,` $weight attr-dict `:` `(` type($grad_output) `,`
    type($weight) `)` `->` type($grad_input)
  }];
  let hasVerifier = 1;
}

def QAT_DepthwiseConv2DBackwardWeightOp
    : QAT_Op<"depthwise_conv2d_backward_weight", [Pure]> {
  let summary = "gradient of tosa.depthwise_conv2d with respect to its weight";
  let description = [{
    The adjoint of `tosa.depthwise_conv2d` (float, zero points 0) for its
    weight. `input` is `x` (N x H x W x C), `grad_output` is `dy`
    (N x Ho x Wo x C*M); the result `dW` is KH x KW x C x M (HWCM; KH, KW
    and M come from the result type). For every element:

    ```
    dW[kh, kw, c, m] = sum over n, oh, ow of
                       dy[n, oh, ow, c * M + m] * xp(n, oh * sh + kh * dh - top,
                                                        ow * sw + kw * dw - left, c)
    ```

    with `xp` as in `qat.conv2d_backward_weight` (0.0 in the padding).
    Products in f32; the order of the f32 additions is not specified.

    ```mlir
    %dw = qat.depthwise_conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>,
        stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
        : (tensor<1x8x8x32xf32>, tensor<1x4x4x32xf32>) -> tensor<3x3x32x1xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$input,
                            QAT_F32Tensor4D:$grad_output), QAT_ConvWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_weight);
  let assemblyFormat = [{
    $input `,` $grad_output attr-dict `:` `(` type($input) `,`
    type($grad_output) `)` `->` type($grad_weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Pooling adjoints
//===----------------------------------------------------------------------===//

def QAT_MaxPool2DBackwardOp : QAT_Op<"max_pool2d_backward", [Pure,
    AllTypesMatch<["input", "grad_input"]>]> {
  let summary = "gradient of tosa.max_pool2d (PyTorch's first maximum)";
  let description = [{
    The adjoint of `tosa.max_pool2d` (float). `grad_output` is `dy`
    (N x Ho x Wo x C), `input` the forward input `x` (N x H x W x C); the
    result `dx` has the type of `x`. `kernel` is [KH, KW], `stride`
    [sh, sw], `pad` [top, bottom, left, right] (padding is not a
    candidate). Each output element routes its gradient to one input
    element of its window, chosen as PyTorch 1.13's CPU kernel chooses it:
    scanning the window's in-bounds elements in row-major (kh, kw) order,
    the first one is taken, and a later one replaces the choice if it is
    greater than the chosen value or NaN:

    ```
    sel(n, oh, ow, c) = the chosen (h, w) of window (oh, ow)
    dx[n, h, w, c]    = sum over (oh, ow) with sel(n, oh, ow, c) = (h, w)
                        of dy[n, oh, ow, c]          (0.0 if there is none)
    ```

    So among equal maxima the first wins, and a NaN (the last one, if
    several) wins over numbers. Where windows overlap, an element chosen
    by several windows receives the sum of their gradients, in an
    unspecified order.

    Shapes (verified): `Ho = floor((H + top + bottom - KH) / sh) + 1` and
    likewise `Wo`; each pad smaller than the kernel along its axis.

    ```mlir
    %dx = qat.max_pool2d_backward %dy, %x {kernel = array<i64: 2, 2>,
        stride = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>}
        : (tensor<1x4x4x8xf32>, tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$grad_output,
                            QAT_F32Tensor4D:$input), QAT_PoolWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_input);
  let assemblyFormat = [{
    $grad_output `,` $input attr-dict `:` `(` type($grad_output) `,`
    type($input) `)` `->` type($grad_input)
  }];
  let hasVerifier = 1;
}

def QAT_AvgPool2DBackwardOp : QAT_Op<"avg_pool2d_backward", [Pure]> {
  let summary = "gradient of tosa.avg_pool2d (padding not counted)";
  let description = [{
    The adjoint of `tosa.avg_pool2d` (float, zero points 0), whose divisor
    is the number of in-bounds elements of each window (TOSA's padding is
    not counted; PyTorch's `count_include_pad` padding is exported as zero
    data and differentiated as such). `grad_output` is `dy`
    (N x Ho x Wo x C); the result `dx` is N x H x W x C, H and W from the
    result type. Attributes as `qat.max_pool2d_backward`. With
    `count(oh, ow)` the number of in-bounds elements of window (oh, ow):

    ```
    dx[n, h, w, c] = sum over (oh, ow) whose window holds (h, w) of
                     dy[n, oh, ow, c] / f32(count(oh, ow))
    ```

    Each quotient is one f32 division (as PyTorch's backward); the order of
    the f32 additions is not specified. Shapes are verified as for
    `qat.max_pool2d_backward`.

    ```mlir
    %dx = qat.avg_pool2d_backward %dy {kernel = array<i64: 7, 7>,
        stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>}
        : tensor<2x1x1x64xf32> -> tensor<2x7x7x64xf32>
    ```
  }];
  let arguments = !con((ins QAT_F32Tensor4D:$grad_output), QAT_PoolWindowArgs);
  let results = (outs QAT_F32Tensor4D:$grad_input);
  let assemblyFormat = [{
    $grad_output attr-dict `:` type($grad_output) `->` type($grad_input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def QAT_SoftmaxCrossEntropyOp : QAT_Op<"softmax_cross_entropy", [Pure,
    DeclareOpInterfaceMethods<QAT_GradientOpInterface>]> {
  let summary = "mean softmax cross-entropy of logits against class labels";
  let description = [{
    PyTorch's `cross_entropy(logits, labels)` (reduction `mean`, no class
    weights, no label smoothing). `logits` is N x C f32, `labels` N
    class indices (i32); the result is a rank-0 f32 tensor. Per row `i`,
    in f32:

    ```
    m_i    = max over j of x[i, j]
    lse_i  = log(sum over j of exp(x[i, j] - m_i))
    logp   = (x[i, j] - m_i) - lse_i                     (log_softmax)
    loss   = -(sum over i of logp[i, labels[i]]) / f32(N)
    ```

    The sums are accumulated in f64 from +0.0 (in row and column order) and
    rounded to f32 once; `exp` and `log` are f32. A label outside
    [0, C) makes the loss NaN (the train step's callers check labels first
    and name the offending one). Backward:
    `qat.softmax_cross_entropy_grad`.

    ```mlir
    %l = qat.softmax_cross_entropy %x, %y : (tensor<32x10xf32>, tensor<32xi32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins 2DTensorOf<[F32]>:$logits, 1DTensorOf<[I32]>:$labels);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` `(` type($logits) `,` type($labels) `)`
    `->` type($loss)
  }];
  let hasVerifier = 1;
}

def QAT_SoftmaxCrossEntropyGradOp
    : QAT_Op<"softmax_cross_entropy_grad", [Pure,
        AllTypesMatch<["logits", "grad_logits"]>]> {
  let summary = "gradient of qat.softmax_cross_entropy with respect to the logits";
  let description = [{
    With `g` the gradient of the loss (rank-0 f32; 1.0 for the loss itself)
    and `logp` the log-softmax of `qat.softmax_cross_entropy` (computed the
    same way), in f32:

    ```
    d              = g / f32(N)
    grad[i, j]     = exp(logp[i, j]) * d - (j == labels[i] ? d : 0.0f)
    ```

    This is PyTorch's `log_softmax_backward(nll_loss_backward(g))` up to
    the rounding of `exp(logp)` (PyTorch computes `dy - exp(out) * sum(dy)`
    with `dy = -d` at the label). A label outside [0, C) gives a row of
    NaN.

    ```mlir
    %dx = qat.softmax_cross_entropy_grad %g, %x, %y
        : (tensor<f32>, tensor<32x10xf32>, tensor<32xi32>) -> tensor<32x10xf32>
    ```
  }];
  let arguments = (ins 0DTensorOf<[F32]>:$grad_loss, 2DTensorOf<[F32]>:$logits,
                       1DTensorOf<[I32]>:$labels);
  let results = (outs 2DTensorOf<[F32]>:$grad_logits);
  let assemblyFormat = [{
    $grad_loss `,` $logits `,` $labels attr-dict `:` `(` type($grad_loss) `,`
    type($logits) `,` type($labels) `)` `->` type($grad_logits)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Batch norm in training mode
//===----------------------------------------------------------------------===//

def QAT_BatchNormTrainOp : QAT_Op<"batch_norm_train", [Pure,
    AllTypesMatch<["input", "output"]>,
    AllTypesMatch<["gamma", "beta", "mean", "invstd", "unbiased_var"]>]> {
  let summary = "batch norm on the batch's statistics (PyTorch 1.13's CPU kernel, channels last)";
  let description = [{
    PyTorch 1.13's `native_batch_norm(x, gamma, beta, training=True)` on a
    channels-last f32 input, one thread, as its CPU kernel computes it.
    `input` is `x` (N x H x W x C), `gamma` and `beta` are [C]; with
    `P = N * H * W` positions visited in row-major (n, h, w) order,
    `fma(a, b, c) = a * b + c` rounded once, and every value f32 unless
    stated:

    ```
    S[c]      = x[0, c] + x[1, c] + ... + x[P-1, c]   (left to right, from +0)
    mean[c]   = S[c] / f32(P)
    d         = x[p, c] - mean[c]
    Q[c]      = fma(d, d, Q[c]) for p = 0 .. P-1      (in order, from +0)
    invstd[c] = f32(1 / sqrt(f64(Q[c] / f32(P)) + epsilon))   (f64 sqrt and
                                                               division)
    alpha[c]  = invstd[c] * gamma[c]
    shift[c]  = fma(-mean[c], alpha[c], beta[c])
    output    = fma(x[p, c], alpha[c], shift[c])
    unbiased_var[c] = Q[c] / f32(P - 1)
    ```

    `mean` and `unbiased_var` update the running statistics (PyTorch's
    `running_var` keeps the unbiased variance); `invstd` is PyTorch's
    `save_invstd`. The order of the sums is part of the semantics: it is
    the one that makes the statistics equal PyTorch's bit for bit (an f32
    tree sum differs in the last bits, and an activation quantizer after
    the batch norm turns that into different codes). Gradients
    (GradientOpInterface, lib/Autodiff): with `xhat = (x - mean) * invstd`
    and `g` the output's gradient, `dbeta = sum g`, `dgamma = sum g * xhat`,
    `dx = gamma * invstd * (g - dbeta / P - xhat * dgamma / P)` (sums over
    the P positions; the order is not specified), plus the terms of
    `mean`'s, `invstd`'s and `unbiased_var`'s gradients where they are
    used. Verified: `P >= 2`, `epsilon >= 0`, C matching.

    ```mlir
    %y, %m, %s, %v = qat.batch_norm_train %x, %gamma, %beta {epsilon = 1.0e-5 : f64}
        : tensor<32x28x28x8xf32>, tensor<8xf32>
    ```
  }];
  let arguments = (ins QAT_F32Tensor4D:$input, 1DTensorOf<[F32]>:$gamma,
                       1DTensorOf<[F32]>:$beta,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs QAT_F32Tensor4D:$output, 1DTensorOf<[F32]>:$mean,
                      1DTensorOf<[F32]>:$invstd, 1DTensorOf<[F32]>:$unbiased_var);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

def QAT_SGDUpdateOp : QAT_Op<"sgd_update", [Pure,
    AllTypesMatch<["param", "grad", "momentum_buffer", "new_param",
                   "new_momentum_buffer"]>]> {
  let summary = "one step of torch.optim.SGD (momentum, dampening, weight decay, Nesterov)";
  let description = [{
    PyTorch 1.13's `_single_tensor_sgd` for one parameter. `lr` is f64 (a
    Python float); `step` (i64) is the number of steps taken before this
    one, so `step == 0` is the first, where the momentum buffer is created
    as a copy of the update direction. In f32, with `fma(a, b, c)` = `a * b + c`
    rounded once (PyTorch's vectorized `add(x, alpha)` is `fmadd(x, alpha, self)`)
    and every attribute and `-lr` rounded to f32:

    ```
    d  = weight_decay != 0 ? fma(param, weight_decay, grad) : grad
    if momentum != 0:
      b  = step == 0 ? d : fma(d, 1 - dampening, momentum_buffer * momentum)
      d  = nesterov ? fma(b, momentum, d) : b
    else: b = momentum_buffer
    new_param           = fma(d, -lr, param)
    new_momentum_buffer = b
    ```

    (`1 - dampening` is computed in f64, as Python does, then rounded.)

    ```mlir
    %p1, %b1 = qat.sgd_update %p, %g, %b, %lr, %step {momentum = 0.9 : f64,
        weight_decay = 1.0e-4 : f64} : tensor<16x3x3x8xf32>, tensor<f64>, tensor<i64>
    ```
  }];
  let arguments = (ins QAT_FloatTensor:$param, QAT_FloatTensor:$grad,
                       QAT_FloatTensor:$momentum_buffer,
                       0DTensorOf<[F64]>:$lr, 0DTensorOf<[I64]>:$step,
                       DefaultValuedAttr<F64Attr, "0.0">:$momentum,
                       DefaultValuedAttr<F64Attr, "0.0">:$dampening,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                       UnitAttr:$nesterov);
  let results = (outs QAT_FloatTensor:$new_param,
                      QAT_FloatTensor:$new_momentum_buffer);
  let assemblyFormat = [{
    $param `,` $grad `,` $momentum_buffer `,` $lr `,` $step attr-dict `:`
    type($param) `,` type($lr) `,` type($step)
  }];
  let hasVerifier = 1;
}

def QAT_AdamUpdateOp : QAT_Op<"adam_update", [Pure,
    AllTypesMatch<["param", "grad", "exp_avg", "exp_avg_sq", "new_param",
                   "new_exp_avg", "new_exp_avg_sq"]>]> {
  let summary = "one step of torch.optim.Adam (without amsgrad)";
  let description = [{
    PyTorch 1.13's `_single_tensor_adam` (not capturable, not
    differentiable, no amsgrad) for one parameter. `step` (i64) is the
    number of steps taken before this one; `t = f64(step + 1)`. The scalars
    are computed in f64 as Python does:

    ```
    bc1 = 1 - pow(beta1, t);  bc2 = 1 - pow(beta2, t)
    step_size = lr / bc1;     bc2_sqrt = sqrt(bc2)
    ```

    then, per element in f32 (every scalar rounded to f32 where it meets a
    tensor, `fma` rounded once as PyTorch's vectorized kernels):

    ```
    g   = weight_decay != 0 ? fma(param, weight_decay, grad) : grad
    m   = fma(g, 1 - beta1, exp_avg * beta1)
    v   = fma((1 - beta2) * g, g, exp_avg_sq * beta2)          (addcmul, fused)
    den = sqrt(v) / bc2_sqrt + eps
    new_param = param + ((-step_size) * m) / den
    ```

    with `new_exp_avg = m`, `new_exp_avg_sq = v`.

    ```mlir
    %p1, %m1, %v1 = qat.adam_update %p, %g, %m, %v, %lr, %step {beta1 = 0.9 : f64,
        beta2 = 0.999 : f64, eps = 1.0e-8 : f64} : tensor<10xf32>, tensor<f64>, tensor<i64>
    ```
  }];
  let arguments = (ins QAT_FloatTensor:$param, QAT_FloatTensor:$grad,
                       QAT_FloatTensor:$exp_avg, QAT_FloatTensor:$exp_avg_sq,
                       0DTensorOf<[F64]>:$lr, 0DTensorOf<[I64]>:$step,
                       DefaultValuedAttr<F64Attr, "0.9">:$beta1,
                       DefaultValuedAttr<F64Attr, "0.999">:$beta2,
                       DefaultValuedAttr<F64Attr, "1.0e-8">:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_decay);
  let results = (outs QAT_FloatTensor:$new_param, QAT_FloatTensor:$new_exp_avg,
                      QAT_FloatTensor:$new_exp_avg_sq);
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq `,` $lr `,` $step attr-dict
    `:` type($param) `,` type($lr) `,` type($step)
  }];
  let hasVerifier = 1;
}

#endif // QAT_DIALECT_QAT_IR_QATTRAININGOPS_TD
