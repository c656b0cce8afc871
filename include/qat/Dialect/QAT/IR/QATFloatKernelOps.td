//===- QATFloatKernelOps.td - fp32 packed kernels -----------*- tablegen -*-===//
//
// The f32 convolution kernels that qat-pack-f32-kernels writes and
// qat-lower-f32-kernels expands into register-tiled loops (docs/Kernels.md,
// "fp32 kernels"). Included from QATOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATFLOATKERNELOPS_TD
#define QAT_DIALECT_QAT_IR_QATFLOATKERNELOPS_TD

def QAT_F32TensorOrMemRefAny : AnyTypeOf<[RankedTensorOf<[F32]>, MemRefOf<[F32]>]>;

defvar QAT_F32SumContract = [{
    Sums: the sum adds the products to its start value in the order
    written (kernel rows, then kernel columns, then channels). Each step is
    either `acc = acc + p` with the product `p` rounded to f32 (the generic
    loops and `qat-lower-f32-kernels{isa=portable}`, which therefore agree
    bit for bit), or one fused multiply-add, `acc = fma(x, w, acc)`, rounded
    once (`isa=avx512`). The two differ by float rounding only;
    docs/Kernels.md states the bound the tests use.
}];

defvar QAT_F32EpilogueContract = [{
    Epilogue: without a region the result is `acc`. With a region (one
    block, arguments `(acc, e_1, ..., e_k)` of type f32, terminated by
    `qat.yield` of one f32), the result element is the yielded value of
    the region applied to `acc` and the elements of `epilogue_inputs` at
    the output position: each epilogue input is a rank-4 tensor whose
    dimensions equal the output's (unpadded) or are 1 (broadcast, as in
    TOSA). The region holds only elementwise `arith` and `math` ops on f32
    (and i1 for comparisons and selects); they round as written. This is
    how a following elementwise chain (batch-norm affine, ReLU, residual
    add) runs in the kernel's epilogue with the unfused chain's bits.
}];

def QAT_PackedConv2DF32Op : QAT_Op<"packed_conv2d_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    SingleBlockImplicitTerminator<"::mlir::qat::YieldOp">]> {
  let summary = "f32 convolution on packed weights with a fused elementwise epilogue";
  let description = !strconcat([{
    The form of an f32 convolution (or fully connected layer) that the CPU
    kernels of `qat-lower-f32-kernels` compute; `qat-pack-f32-kernels`
    writes it. `input` is NHWC f32 `x` (N x H x W x C), `init` the NHWC f32
    output (N x Ho x Wo x Co). The weights are packed in blocks of 16
    output channels, each kernel row's window (kernel columns x channels)
    flattened:

    ```
    weights : NB x KH x (KW * C) x 16       (NB = ceil(Co / 16))
    W[co, kh, kw, ci] = weights[co / 16, kh, kw * C + ci, co % 16]
    ```

    (entries beyond Co are 0). `bias` has NB * 16 entries. For each output
    element:

    ```
    x(n, h, w, ci) = input[n, h, w, ci] inside the input, 0.0 in the padding
    acc = bias[co] + sum over kh, kw, ci of
          x(n, oh * stride[0] + kh * dilation[0] - pad[0],
               ow * stride[1] + kw * dilation[1] - pad[2], ci) * W[co, kh, kw, ci]
    result[n, oh, ow, co] = epilogue(acc, ...)
    ```

    `pad` is [top, bottom, left, right]; `Ho` and `Wo` follow TOSA's
    `conv2d`.

    Grouped convolution (PyTorch's `groups`): with `groups = G` (absent:
    1), C = G * Cg and Co = G * Cog; output channel `co` of group
    `g = co / Cog` reads the Cg input channels `g * Cg + ci` only. Each
    group has its own NBg = ceil(Cog / 16) blocks (NB = G * NBg; with Cog
    a multiple of 16 this is the ungrouped layout of the G groups' OHWI
    weights stacked along O):

    ```
    W[co, kh, kw, ci] = weights[g * NBg + (co % Cog) / 16, kh, kw * Cg + ci, (co % Cog) % 16]
    acc = bias[g * NBg * 16 + co % Cog] + sum over kh, kw, ci < Cg of
          x(n, ..., g * Cg + ci) * W[co, kh, kw, ci]
    ```
  }], QAT_F32SumContract, QAT_F32EpilogueContract, [{

    The op works on tensors (one result) and, after bufferization, on
    memrefs (no result).

    ```mlir
    %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x8x8x4xf32>, tensor<1x3x12x16xf32>, tensor<16xf32>)
           outs(%init : tensor<1x8x8x16xf32>)
           {stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x16xf32>
    %z = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x8x8x4xf32>, tensor<1x3x12x16xf32>, tensor<16xf32>)
           epilogue_inputs(%res : tensor<1x8x8x16xf32>) outs(%init : tensor<1x8x8x16xf32>)
           {stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} epilogue {
      ^bb0(%acc: f32, %r: f32):
        %s = arith.addf %acc, %r : f32
        %zero = arith.constant 0.0 : f32
        %relu = arith.maximumf %s, %zero : f32
        qat.yield %relu : f32
    } -> tensor<1x8x8x16xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$input,
                       QAT_F32TensorOrMemRefAny:$weights,
                       QAT_F32TensorOrMemRefAny:$bias,
                       Variadic<QAT_F32TensorOrMemRefAny>:$epilogue_inputs,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$dilation,
                       OptionalAttr<I64Attr>:$groups);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let regions = (region AnyRegion:$epilogue);
  let assemblyFormat = [{
    `ins` `(` $input `,` $weights `,` $bias `:` type($input) `,`
    type($weights) `,` type($bias) `)`
    (`epilogue_inputs` `(` $epilogue_inputs^ `:` type($epilogue_inputs) `)`)?
    `outs` `(` $init `:` type($init) `)` attr-dict
    (`epilogue` $epilogue^)? (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    /// The epilogue's block, or null without one.
    ::mlir::Block *getEpilogueBlock() {
      return getEpilogue().empty() ? nullptr : &getEpilogue().front();
    }
    /// The number of groups (1 without the attribute).
    int64_t getNumGroups() { return getGroups().value_or(1); }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def QAT_PackedDepthwiseConv2DF32Op : QAT_Op<"packed_depthwise_conv2d_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    SingleBlockImplicitTerminator<"::mlir::qat::YieldOp">]> {
  let summary = "f32 depthwise convolution on padded weights with a fused elementwise epilogue";
  let description = !strconcat([{
    The form of an f32 depthwise convolution (channel multiplier 1) that the
    CPU kernels of `qat-lower-f32-kernels` compute; `qat-pack-f32-kernels`
    writes it. `input` is NHWC f32 `x` (N x H x W x C), `init` the NHWC f32
    output (N x Ho x Wo x C). The weights are KH x KW x CP with
    CP = 16 * ceil(C / 16) (entries beyond C are 0), `bias` has CP entries.
    For each output element:

    ```
    x(n, h, w, c) = input[n, h, w, c] inside the input, 0.0 in the padding
    s   = 0.0 + sum over kh, kw of
          x(n, oh * stride[0] + kh * dilation[0] - pad[0],
               ow * stride[1] + kw * dilation[1] - pad[2], c) * weights[kh, kw, c]
    acc = bias[c] + s
    result[n, oh, ow, c] = epilogue(acc, ...)
    ```

    The bias is added after the sum, as TOSA's lowering of
    `depthwise_conv2d` adds it (the sum below starts at 0.0 here).
  }], QAT_F32SumContract, QAT_F32EpilogueContract, [{

    ```mlir
    %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x8x8x24xf32>, tensor<3x3x32xf32>, tensor<32xf32>)
           outs(%init : tensor<1x8x8x24xf32>)
           {stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x24xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$input,
                       QAT_F32TensorOrMemRefAny:$weights,
                       QAT_F32TensorOrMemRefAny:$bias,
                       Variadic<QAT_F32TensorOrMemRefAny>:$epilogue_inputs,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$dilation);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let regions = (region AnyRegion:$epilogue);
  let assemblyFormat = [{
    `ins` `(` $input `,` $weights `,` $bias `:` type($input) `,`
    type($weights) `,` type($bias) `)`
    (`epilogue_inputs` `(` $epilogue_inputs^ `:` type($epilogue_inputs) `)`)?
    `outs` `(` $init `:` type($init) `)` attr-dict
    (`epilogue` $epilogue^)? (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    ::mlir::Block *getEpilogueBlock() {
      return getEpilogue().empty() ? nullptr : &getEpilogue().front();
    }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}


def QAT_Conv2DBackwardDataF32Op : QAT_Op<"conv2d_backward_data_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    SingleBlockImplicitTerminator<"::mlir::qat::YieldOp">]> {
  let summary = "f32 kernel of qat.conv2d_backward_data with a fused elementwise epilogue";
  let description = !strconcat([{
    The destination-passing kernel form of `qat.conv2d_backward_data` that
    `qat-lower-f32-kernels` computes; `qat-pack-f32-kernels` writes it.
    `grad_output` is `dy` (N x Ho x Wo x O), `weight` is `W` (O x KH x KW x
    I, OHWI, unpacked: the kernel packs it when it runs), `init` is `dx`
    (N x H x W x I). For every element:

    ```
    acc = 0.0 + sum over (kh, kw) with h = oh * sh + kh * dh - top,
                                   w = ow * sw + kw * dw - left,
                    0 <= oh < Ho, 0 <= ow < Wo,
              then o, of dy[n, oh, ow, o] * W[o, kh, kw, i]
    result[n, h, w, i] = epilogue(acc, ...)
    ```

    The kernel rows are taken with descending `kh` and the kernel columns
    with descending `kw` (ascending `oh` and `ow`), the output channels in
    order within each. A sum with no term is 0.0.
  }], QAT_F32SumContract, QAT_F32EpilogueContract, [{

    ```mlir
    %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>)
            outs(%init : tensor<1x8x8x8xf32>)
            {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x8xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$grad_output,
                       QAT_F32TensorOrMemRefAny:$weight,
                       Variadic<QAT_F32TensorOrMemRefAny>:$epilogue_inputs,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$dilation);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let regions = (region AnyRegion:$epilogue);
  let assemblyFormat = [{
    `ins` `(` $grad_output `,` $weight `:` type($grad_output) `,`
    type($weight) `)`
    (`epilogue_inputs` `(` $epilogue_inputs^ `:` type($epilogue_inputs) `)`)?
    `outs` `(` $init `:` type($init) `)` attr-dict
    (`epilogue` $epilogue^)? (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    ::mlir::Block *getEpilogueBlock() {
      return getEpilogue().empty() ? nullptr : &getEpilogue().front();
    }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def QAT_Conv2DBackwardWeightF32Op : QAT_Op<"conv2d_backward_weight_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    SingleBlockImplicitTerminator<"::mlir::qat::YieldOp">]> {
  let summary = "f32 kernel of qat.conv2d_backward_weight with a fused elementwise epilogue";
  let description = !strconcat([{
    The destination-passing kernel form of `qat.conv2d_backward_weight`
    that `qat-lower-f32-kernels` computes; `qat-pack-f32-kernels` writes
    it. `input` is `x` (N x H x W x I), `grad_output` is `dy`
    (N x Ho x Wo x O), `init` is `dW` (O x KH x KW x I, OHWI). For every
    element:

    ```
    xp(n, h, w, i) = x[n, h, w, i] inside the input, 0.0 in the padding
    acc = 0.0 + sum over n, oh, ow (in this order, row-major) of
          xp(n, oh * sh + kh * dh - top, ow * sw + kw * dw - left, i) * dy[n, oh, ow, o]
    result[o, kh, kw, i] = epilogue(acc, ...)
    ```

    Epilogue inputs broadcast to the O x KH x KW x I result.
  }], QAT_F32SumContract, QAT_F32EpilogueContract, [{

    ```mlir
    %dw = qat.conv2d_backward_weight_f32 ins(%x, %dy : tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>)
            outs(%init : tensor<16x3x3x8xf32>)
            {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} -> tensor<16x3x3x8xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$input,
                       QAT_F32TensorOrMemRefAny:$grad_output,
                       Variadic<QAT_F32TensorOrMemRefAny>:$epilogue_inputs,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$dilation);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let regions = (region AnyRegion:$epilogue);
  let assemblyFormat = [{
    `ins` `(` $input `,` $grad_output `:` type($input) `,`
    type($grad_output) `)`
    (`epilogue_inputs` `(` $epilogue_inputs^ `:` type($epilogue_inputs) `)`)?
    `outs` `(` $init `:` type($init) `)` attr-dict
    (`epilogue` $epilogue^)? (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    ::mlir::Block *getEpilogueBlock() {
      return getEpilogue().empty() ? nullptr : &getEpilogue().front();
    }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def QAT_DepthwiseConv2DBackwardDataF32Op
    : QAT_Op<"depthwise_conv2d_backward_data_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface,
    SingleBlockImplicitTerminator<"::mlir::qat::YieldOp">]> {
  let summary = "f32 kernel of qat.depthwise_conv2d_backward_data (multiplier 1) with a fused elementwise epilogue";
  let description = !strconcat([{
    The destination-passing kernel form of
    `qat.depthwise_conv2d_backward_data` with channel multiplier 1 that
    `qat-lower-f32-kernels` computes. `grad_output` is `dy`
    (N x Ho x Wo x C), `weight` is `W` (KH x KW x C x 1, HWCM), `init` is
    `dx` (N x H x W x C). For every element:

    ```
    acc = 0.0 + sum over (kh, kw) with h = oh * sh + kh * dh - top,
                                   w = ow * sw + kw * dw - left,
                    0 <= oh < Ho, 0 <= ow < Wo
              of dy[n, oh, ow, c] * W[kh, kw, c, 0]
    result[n, h, w, c] = epilogue(acc, ...)
    ```

    with the kernel rows taken by descending `kh` and, in each, the
    columns by descending `kw`.
  }], QAT_F32SumContract, QAT_F32EpilogueContract, [{

    ```mlir
    %dx = qat.depthwise_conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x32xf32>, tensor<3x3x32x1xf32>)
            outs(%init : tensor<1x8x8x32xf32>)
            {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x32xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$grad_output,
                       QAT_F32TensorOrMemRefAny:$weight,
                       Variadic<QAT_F32TensorOrMemRefAny>:$epilogue_inputs,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$dilation);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let regions = (region AnyRegion:$epilogue);
  let assemblyFormat = [{
    `ins` `(` $grad_output `,` $weight `:` type($grad_output) `,`
    type($weight) `)`
    (`epilogue_inputs` `(` $epilogue_inputs^ `:` type($epilogue_inputs) `)`)?
    `outs` `(` $init `:` type($init) `)` attr-dict
    (`epilogue` $epilogue^)? (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    ::mlir::Block *getEpilogueBlock() {
      return getEpilogue().empty() ? nullptr : &getEpilogue().front();
    }
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def QAT_DepthwiseConv2DBackwardWeightF32Op
    : QAT_Op<"depthwise_conv2d_backward_weight_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "f32 kernel of qat.depthwise_conv2d_backward_weight (multiplier 1)";
  let description = !strconcat([{
    The destination-passing kernel form of
    `qat.depthwise_conv2d_backward_weight` with channel multiplier 1 that
    `qat-lower-f32-kernels` computes. `input` is `x` (N x H x W x C),
    `grad_output` is `dy` (N x Ho x Wo x C), `init` is `dW`
    (KH x KW x C x 1). For every element:

    ```
    xp(n, h, w, c) = x[n, h, w, c] inside the input, 0.0 in the padding
    dW[kh, kw, c, 0] = 0.0 + sum over n, oh, ow (in this order, row-major) of
          xp(n, oh * sh + kh * dh - top, ow * sw + kw * dw - left, c) * dy[n, oh, ow, c]
    ```
  }], QAT_F32SumContract, [{

    ```mlir
    %dw = qat.depthwise_conv2d_backward_weight_f32 ins(%x, %dy : tensor<1x8x8x32xf32>, tensor<1x4x4x32xf32>)
            outs(%init : tensor<3x3x32x1xf32>)
            {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} -> tensor<3x3x32x1xf32>
    ```
  }]);
  let arguments = (ins QAT_F32TensorOrMemRefAny:$input,
                       QAT_F32TensorOrMemRefAny:$grad_output,
                       QAT_F32TensorOrMemRefAny:$init,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$dilation);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let assemblyFormat = [{
    `ins` `(` $input `,` $grad_output `:` type($input) `,`
    type($grad_output) `)`
    `outs` `(` $init `:` type($init) `)` attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
  let hasVerifier = 1;
}

def QAT_PackConvWeightsF32Op : QAT_Op<"pack_conv_weights_f32", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "pack OHWI f32 weights at run time for qat.packed_conv2d_f32";
  let description = [{
    Writes `weights` (O x KH x KW x C, OHWI) in the layout of
    `qat.packed_conv2d_f32` (NB x KH x (KW * C) x 16, NB = ceil(O / 16)):

    ```
    init[o / 16, kh, kw * C + c, o % 16] = weights[o, kh, kw, c]
    ```

    and 0.0 in the lanes of a partial last block. A rank-2 `weights` is the
    K x N right operand `B` of a matmul, packed as the weights of a 1x1
    convolution over K channels with N outputs:

    ```
    init[n / 16, 0, k, n % 16] = weights[k, n]
    ```

    The copy is exact. This is how a convolution or matmul whose weights
    are computed at run time (training) runs on the packed kernel.

    ```mlir
    %p = qat.pack_conv_weights_f32 ins(%w : tensor<20x3x3x8xf32>)
           outs(%init : tensor<2x3x24x16xf32>) -> tensor<2x3x24x16xf32>
    ```
  }];
  let arguments = (ins QAT_F32TensorOrMemRefAny:$weights,
                       QAT_F32TensorOrMemRefAny:$init);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$result);
  let assemblyFormat = [{
    `ins` `(` $weights `:` type($weights) `)`
    `outs` `(` $init `:` type($init) `)` attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
  let hasVerifier = 1;
}

def QAT_YieldOp : QAT_Op<"yield", [Pure, Terminator,
    ParentOneOf<["PackedConv2DF32Op", "PackedDepthwiseConv2DF32Op",
                 "Conv2DBackwardDataF32Op", "Conv2DBackwardWeightF32Op",
                 "DepthwiseConv2DBackwardDataF32Op"]>]> {
  let summary = "terminator of an f32 kernel's epilogue";
  let description = [{
    Yields the epilogue's result element (one f32) to the enclosing packed
    f32 kernel.

    ```mlir
    qat.yield %v : f32
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // QAT_DIALECT_QAT_IR_QATFLOATKERNELOPS_TD
