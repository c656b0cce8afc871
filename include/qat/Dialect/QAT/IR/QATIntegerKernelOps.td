//===- QATIntegerKernelOps.td - int8 kernels ----------------*- tablegen -*-===//
//
// The int8 kernels: qat.integer_kernel, the one op per layer that
// qat-convert-to-integer writes, and the packed kernels qat-pack-int8-kernels
// makes of it for x86 (docs/Kernels.md). Included from QATOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATINTEGERKERNELOPS_TD
#define QAT_DIALECT_QAT_IR_QATINTEGERKERNELOPS_TD

//===----------------------------------------------------------------------===//
// integer_kernel: one int8 layer, recognised once
//===----------------------------------------------------------------------===//

def QAT_IntegerKernelOp : QAT_Op<"integer_kernel", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "an int8 convolution, depthwise convolution or fully connected layer with its bias, requantization, residual and clamp";
  let description = [{
    The integer kernel that `qat-convert-to-integer` writes, one op for the
    whole layer, which every later pass reads instead of an op chain
    (`qat-pack-int8-kernels` for the x86 kernels, `qat-lower-to-npu` for the
    NPU; `convert-qat-to-linalg` expands the others into the chain below).
    `input` and the result are `i8` codes, `weights` `i8` codes with zero
    point 0, `bias` one `i32` per output channel `o` (the last dimension of
    the result, O of them).

    **Accumulation** (int32, wrapping), by `kind`:

    ```
    conv2d:            input N x H x W x C, weights O x KH x KW x C (OHWI)
    depthwise_conv2d:  input N x H x W x C, weights KH x KW x C x M, O = C * M,
                       output channel o = c * M + m
    acc[n, oh, ow, o] = bias[o] + sum over kh, kw (, ci) of
        (i32(input[n, oh * stride[0] + kh * dilation[0] - pad[0],
                      ow * stride[1] + kw * dilation[1] - pad[2], ci])
         - input_zero_point) * i32(weights[...])
        (terms whose input position lies in the padding are 0)
    matmul:            input 1 x R x K, weights 1 x K x O
    acc[1, r, o] = bias[o] + sum over k of (i32(input[1, r, k]) - input_zero_point) * i32(weights[1, k, o]),
                       then read in row-major order as the result's shape
                       (..., O): a reshape of the accumulator
    ```

    This is `tosa.conv2d` / `tosa.depthwise_conv2d` / `tosa.matmul` with
    `acc_type = i32`, weight zero point 0, followed by the bias add (and for
    `matmul` a reshape). `pad` is [top, bottom, left, right]; `pad`,
    `stride` and `dilation` are given for the convolutions only.

    **Requantization**, per output channel `o` with a multiplier of rank 0
    (one for all channels) or rank 1 (O values), to codes clamped to
    [`quant_min`, `quant_max`] (a fused ReLU / ReLU6 is in that range):

    - float multiplier (`multiplier` f32, the x86 target): in f32, each
      operation rounded in the order written,
      ```
      t = f32(acc) * multiplier[o]                          (f32(acc) rounds to nearest even)
      t = t + (f32(residual) - f32(residual_zero_point)) * residual_multiplier[o]
                                                            (only with a residual)
      q = clamp(roundeven(t) + output_zero_point, quant_min, quant_max)
      ```
      as `qat.requantize` (`qat.requantize_add` with a residual);
    - PyTorch's onednn form (float multiplier with `float_bias`, f32, one
      value or one per channel like `multiplier`, and
      `float_zero_point_offset` c; the target `x86:pytorch-onednn`, no
      residual, `bias` is then 0): the float bias is added after the int32
      accumulation and the zero point in f32 before the rounding, as
      oneDNN computes PyTorch 1.13's quantized convolutions and linear
      layers,
      ```
      t = f32(acc) + float_bias[o]
      t = t * multiplier[o]
      q = clamp(roundeven(t + f32(output_zero_point + c)) - c, quant_min, quant_max)
      ```
      as `qat.requantize` with `bias` and `float_zero_point_offset`;
    - fixed point (`multiplier` i32 with an i8 `shift` n in [2, 62], the
      bpu target and its `pow2` form), in 64-bit integers,
      ```
      v = i64(acc) * multiplier[o] (+ (i64(residual) - residual_zero_point) * residual_multiplier[o])
      q = clamp(((v + 2^(n-1)) >> n) + output_zero_point, quant_min, quant_max)
      ```
      with `>>` arithmetic, saturating where the shifted value leaves int32,
      as `qat.rescale` (`qat.rescale_add` with a residual).

    The optional `residual` (codes of the result's shape, zero point
    `residual_zero_point`) is the other operand of a residual add fused
    into the kernel; `residual_multiplier` has the type of `multiplier`.
    `mlir::qat::IntegerKernel` (qat/Dialect/QAT/Utils/IntegerKernel.h)
    reads the op's constants for the passes, and emits its arithmetic: the
    integer chain above, or its exact float simulation on integer-valued
    f32 codes (`qat-convert-to-integer{simulate=true}`).

    ```mlir
    %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>,
           input_zero_point = -3 : i64, output_zero_point = 5 : i64, pad = array<i64: 1, 1, 1, 1>,
           quant_min = -128 : i64, quant_max = 127 : i64, stride = array<i64: 1, 1>}
         : (tensor<1x8x8x3xi8>, tensor<4x3x3x3xi8>, tensor<4xi32>, tensor<4xf32>) -> tensor<1x8x8x4xi8>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I8]>:$input,
                       RankedTensorOf<[I8]>:$weights,
                       RankedTensorOf<[I32]>:$bias,
                       RankedTensorOf<[F32, I32]>:$multiplier,
                       Optional<RankedTensorOf<[I8]>>:$shift,
                       Optional<RankedTensorOf<[I8]>>:$residual,
                       Optional<RankedTensorOf<[F32, I32]>>:$residual_multiplier,
                       Optional<RankedTensorOf<[F32]>>:$float_bias,
                       QAT_KernelKindAttr:$kind,
                       I64Attr:$input_zero_point,
                       I64Attr:$output_zero_point,
                       I64Attr:$quant_min,
                       I64Attr:$quant_max,
                       OptionalAttr<I64Attr>:$residual_zero_point,
                       OptionalAttr<DenseI64ArrayAttr>:$pad,
                       OptionalAttr<DenseI64ArrayAttr>:$stride,
                       OptionalAttr<DenseI64ArrayAttr>:$dilation,
                       OptionalAttr<I64Attr>:$float_zero_point_offset);
  let results = (outs RankedTensorOf<[I8]>:$output);
  let assemblyFormat = [{
    $kind $input `,` $weights `,` $bias `,` $multiplier
    (`shift` $shift^)? (`residual` $residual^ `,` $residual_multiplier)?
    (`float_bias` $float_bias^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// O: the output channels (the result's last dimension).
    int64_t getNumOutputChannels() {
      return getOutput().getType().getShape().back();
    }
    /// A float multiplier (x86), else fixed point with a shift.
    bool isFloatMultiplier() {
      return getMultiplier().getType().getElementType().isF32();
    }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// packed_conv2d: an int8 kernel on packed weights with fused requantization
//===----------------------------------------------------------------------===//

def QAT_I8TensorOrMemRef : AnyTypeOf<[RankedTensorOf<[I8]>, MemRefOf<[I8]>]>;
def QAT_I32TensorOrMemRef : AnyTypeOf<[RankedTensorOf<[I32]>, MemRefOf<[I32]>]>;
def QAT_F32TensorOrMemRef : AnyTypeOf<[RankedTensorOf<[F32]>, MemRefOf<[F32]>]>;

def QAT_PackedConv2DOp : QAT_Op<"packed_conv2d", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "int8 convolution on packed weights, requantized in its epilogue";
  let description = [{
    The form of an integer convolution (or fully connected layer) that the
    CPU kernels of `qat-lower-packed-kernels` compute; `qat-pack-int8-kernels`
    writes it. `input` is NHWC `i8` codes `x` (N x H x W x C), `init` the
    NHWC `i8` output (N x Ho x Wo x Co). The weights are packed in
    blocks of 16 output channels and 4 input channels:

    ```
    weights : NB x KH x KW x C4 x 16 x 4 (NB = ceil(Co / 16), C4 = ceil(C / 4))
    W[co, kh, kw, ci] = weights[co / 16, kh, kw, ci / 4, co % 16, ci % 4]
    ```

    (entries beyond Co or C are 0). Weights of rank 5 are in the tile
    layout of `qat-pack-amx-weights` (AMX), with the kernel width in
    `kernel_width`:

    ```
    weights : NB x KH x G x 16 x 4, kernel_width = KW
    W[co, kh, kw, ci] = weights[co / 16, kh, s * Lp + j, co % 16, ci % 4]
    ```

    where, with `C4 = ceil(C / 4)`: for `dilation[1] = 1`, `s = 0`,
    `j = kw * C4 + ci / 4` and `L = KW * C4` (a kernel row of the window is
    one run of groups of 4 input channels, contiguous in the input); for
    `dilation[1] > 1`, `s = kw`, `j = ci / 4` and `L = C4` (one run per
    tap). `Lp = 16 * ceil(L / 16)` and `G = Lp` or `KW * Lp`; all other
    entries are 0. Each 16 x 16 x 4 run (1 KB) is one B tile of AMX's
    `tdpbusd`: 16 rows of 64 bytes, a row being one group of 4 input
    channels for 16 output channels. The arithmetic below is the same for
    both layouts. For each output element, in int32 arithmetic (wrapping)
    and then f32:

    ```
    u(n, h, w, ci) = x[n, h, w, ci] + 128   inside the input,
                     input_zero_point + 128 in the padding
    acc = bias[co] + sum over kh, kw, ci of
          u(n, oh * stride[0] + kh * dilation[0] - pad[0],
               ow * stride[1] + kw * dilation[1] - pad[2], ci) * W[co, kh, kw, ci]
    t   = f32(acc) * multiplier[co]
    t   = t + (f32(residual[n, oh, ow, co]) - f32(residual_zero_point)) * residual_multiplier
                                            (only with a residual)
    q   = clamp(roundeven(t) + output_zero_point, quant_min, quant_max)
    ```

    With `float_bias` (NB * 16 f32 values) and `float_zero_point_offset` c
    (PyTorch's onednn form of `qat.integer_kernel`; no residual):

    ```
    t   = (f32(acc) + float_bias[co]) * multiplier[co]
    q   = clamp(roundeven(t + f32(output_zero_point + c)) - c, quant_min, quant_max)
    ```

    `u` is the unsigned view of the codes that `vpdpbusd` (u8 x s8) takes;
    the pass folds `-(input_zero_point + 128) * sum(W[co])` into `bias`, so
    `acc` equals the TOSA integer convolution's accumulator plus its bias.
    `bias` and `multiplier` have NB * 16 entries. `pad` is [top, bottom,
    left, right]. The f32 operations round in the order written, as
    `qat.requantize` and `qat.requantize_add`, so this op computes the
    integer model bit for bit.

    Between packed kernels the codes may be stored unsigned, so that a
    kernel reads its input without a converting copy: with
    `unsigned_input` (`unsigned_residual`) each byte of `input`
    (`residual`) holds `x xor 0x80`, i.e. `x + 128` as u8, instead of `x`;
    with `unsigned_output` the op stores `q xor 0x80`. The arithmetic above
    is unchanged (`x`, `residual` and `q` are the signed codes).

    With `output_pad = [top, bottom, left, right]`, `init` is the output
    with that border (N x (Ho + top + bottom) x (Wo + left + right) x Co):
    the op stores `q[n, oh, ow, co]` at `[n, oh + top, ow + left, co]` and
    the output zero point's code (as stored) in the border, so that the
    next kernel reads its padded input in place.

    The op works on tensors (one result) and, after bufferization, on
    memrefs (no result).

    ```mlir
    %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x8x8x16xi8>, tensor<2x3x3x4x16x4xi8>, tensor<32xi32>, tensor<32xf32>)
           outs(%init : tensor<1x8x8x32xi8>)
           {input_zero_point = -128 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
            stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x32xi8>
    ```
  }];
  let arguments = (ins QAT_I8TensorOrMemRef:$input,
                       QAT_I8TensorOrMemRef:$weights,
                       QAT_I32TensorOrMemRef:$bias,
                       QAT_F32TensorOrMemRef:$multiplier,
                       Optional<QAT_I8TensorOrMemRef>:$residual,
                       Optional<QAT_F32TensorOrMemRef>:$float_bias,
                       QAT_I8TensorOrMemRef:$init,
                       I64Attr:$input_zero_point,
                       I64Attr:$output_zero_point,
                       I64Attr:$quant_min,
                       I64Attr:$quant_max,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$dilation,
                       OptionalAttr<F32Attr>:$residual_multiplier,
                       OptionalAttr<I64Attr>:$residual_zero_point,
                       UnitAttr:$unsigned_input,
                       UnitAttr:$unsigned_residual,
                       UnitAttr:$unsigned_output,
                       OptionalAttr<DenseI64ArrayAttr>:$output_pad,
                       OptionalAttr<I64Attr>:$kernel_width,
                       OptionalAttr<I64Attr>:$float_zero_point_offset);
  let results = (outs Variadic<RankedTensorOf<[I8]>>:$result);
  let assemblyFormat = [{
    `ins` `(` $input `,` $weights `,` $bias `,` $multiplier (`,` `residual` $residual^)? `:`
    type($input) `,` type($weights) `,` type($bias) `,` type($multiplier) (`,` type($residual)^)? `)`
    `outs` `(` $init `:` type($init) `)`
    (`float_bias` `(` $float_bias^ `:` type($float_bias) `)`)? attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
    int64_t getNumBlocks() {
      return ::llvm::cast<ShapedType>(getWeights().getType()).getDimSize(0);
    }
    /// Whether the weights are in the tile layout (rank 5, for AMX).
    bool hasTileWeights() {
      return ::llvm::cast<ShapedType>(getWeights().getType()).getRank() == 5;
    }
    /// KH and KW of the window, in either layout.
    int64_t getWindowHeight() {
      return ::llvm::cast<ShapedType>(getWeights().getType()).getDimSize(1);
    }
    int64_t getWindowWidth() {
      if (hasTileWeights())
        return getKernelWidth() ? int64_t(*getKernelWidth()) : 0;
      return ::llvm::cast<ShapedType>(getWeights().getType()).getDimSize(2);
    }
  }];
  let hasVerifier = 1;
}

def QAT_PackedDepthwiseConv2DOp : QAT_Op<"packed_depthwise_conv2d", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "int8 depthwise convolution on padded weights, requantized in its epilogue";
  let description = [{
    The form of an integer depthwise convolution (channel multiplier 1) that
    the CPU kernels of `qat-lower-packed-kernels` compute;
    `qat-pack-int8-kernels` writes it. `input` is NHWC `i8` codes `x`
    (N x H x W x C), `init` the NHWC `i8` output (N x Ho x Wo x C). The
    weights are KH x KW x CP `i8` with CP = 16 * ceil(C / 16) (entries
    beyond C are 0), so that every tap of every block of 16 channels is one
    vector. For each output element, in int32 arithmetic (wrapping) and
    then f32:

    ```
    u(n, h, w, c) = x[n, h, w, c] + 128   inside the input,
                    input_zero_point + 128 in the padding
    acc = bias[c] + sum over kh, kw of
          u(n, oh * stride[0] + kh * dilation[0] - pad[0],
               ow * stride[1] + kw * dilation[1] - pad[2], c) * weights[kh, kw, c]
    t   = f32(acc) * multiplier[c]
    q   = clamp(roundeven(t) + output_zero_point, quant_min, quant_max)
    ```

    With `float_bias` (CP f32 values) and `float_zero_point_offset` c
    (PyTorch's onednn form of `qat.integer_kernel`):

    ```
    t   = (f32(acc) + float_bias[c]) * multiplier[c]
    q   = clamp(roundeven(t + f32(output_zero_point + c)) - c, quant_min, quant_max)
    ```

    As in `qat.packed_conv2d`, `u` is the unsigned view of the codes, which
    `vpdpbusd` (u8 x s8) takes; the pass folds
    `-(input_zero_point + 128) * sum(weights[., ., c])` into `bias`, so `acc`
    equals the TOSA integer depthwise convolution's accumulator plus its
    bias. `bias` and `multiplier` have CP entries. `pad` is [top, bottom,
    left, right]. The f32 operations round in the order written, as
    `qat.requantize`, so this op computes the integer model bit for bit.

    `unsigned_input`, `unsigned_output` and `output_pad` mean what they
    mean for `qat.packed_conv2d`: `input` holds `x xor 0x80`, the op stores
    `q xor 0x80`, and writes its output inside a border holding the code
    of its output zero point.

    The op works on tensors (one result) and, after bufferization, on
    memrefs (no result).

    ```mlir
    %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x8x8x24xi8>, tensor<3x3x32xi8>, tensor<32xi32>, tensor<32xf32>)
           outs(%init : tensor<1x8x8x24xi8>)
           {input_zero_point = -128 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
            stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x8x8x24xi8>
    ```
  }];
  let arguments = (ins QAT_I8TensorOrMemRef:$input,
                       QAT_I8TensorOrMemRef:$weights,
                       QAT_I32TensorOrMemRef:$bias,
                       QAT_F32TensorOrMemRef:$multiplier,
                       Optional<QAT_F32TensorOrMemRef>:$float_bias,
                       QAT_I8TensorOrMemRef:$init,
                       I64Attr:$input_zero_point,
                       I64Attr:$output_zero_point,
                       I64Attr:$quant_min,
                       I64Attr:$quant_max,
                       DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$pad,
                       DenseI64ArrayAttr:$dilation,
                       UnitAttr:$unsigned_input,
                       UnitAttr:$unsigned_output,
                       OptionalAttr<DenseI64ArrayAttr>:$output_pad,
                       OptionalAttr<I64Attr>:$float_zero_point_offset);
  let results = (outs Variadic<RankedTensorOf<[I8]>>:$result);
  let assemblyFormat = [{
    `ins` `(` $input `,` $weights `,` $bias `,` $multiplier `:`
    type($input) `,` type($weights) `,` type($bias) `,` type($multiplier) `)`
    `outs` `(` $init `:` type($init) `)`
    (`float_bias` `(` $float_bias^ `:` type($float_bias) `)`)? attr-dict (`->` type($result)^)?
  }];
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
  let hasVerifier = 1;
}

#endif // QAT_DIALECT_QAT_IR_QATINTEGERKERNELOPS_TD
