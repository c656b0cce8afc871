//===- Passes.td - qat conversion passes -------------------*- tablegen -*-===//

#ifndef QAT_CONVERSION_PASSES_TD
#define QAT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQATToLinalgPass : Pass<"convert-qat-to-linalg"> {
  let summary = "Lower every qat op, forward and backward, to linalg on tensors";
  let description = [{
    Rewrites each qat op into `linalg.generic` ops on tensors whose bodies
    compute the op's documented formula with `arith` and `math` ops, one f32
    operation per operation of the formula (no fast-math flags, so nothing
    may be contracted or reassociated). Per-tensor parameters are broadcast
    with a rank-0 indexing map, per-axis ones with `(d0, ..., dn) -> (d_axis)`.
    Reductions (observers, the LSQ scale and zero-point gradients) are
    `linalg.generic` reductions; the LSQ sums accumulate in f64.

    Before:

    ```mlir
    %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64}
        : tensor<4xf32>, tensor<f32>, tensor<i32>
    ```

    After (abridged):

    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>,
            affine_map<(d0) -> ()>, affine_map<(d0) -> ()>, affine_map<(d0) -> (d0)>],
            iterator_types = ["parallel"]}
         ins(%x, %s, %z : tensor<4xf32>, tensor<f32>, tensor<i32>) outs(%e : tensor<4xf32>) {
    ^bb0(%xi: f32, %si: f32, %zi: i32, %o: f32):
      %inv = arith.divf %one, %si : f32
      %r = math.roundeven (arith.mulf %xi, %inv) ...
    }
    ```

    Every qat op is illegal after this pass; it fails if one remains.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def ConvertToIntegerPass : Pass<"qat-convert-to-integer", "::mlir::ModuleOp"> {
  let summary = "Turn a frozen fake-quant model into integer arithmetic";
  let description = [{
    Input: a module after `qat-freeze-qparams` (every `qat.fake_quant` has
    constant parameters). Output: the same function computing on integer
    codes.

    - Activation codes are `i8` tensors. Unsigned 8-bit quantizers are
      shifted into `i8` (codes and zero point minus 128); no real value
      changes.
    - A fake quantizer of a value that no converted kernel produces becomes
      `qat.quantize`.
    - `tosa.conv2d`, `tosa.depthwise_conv2d` and `tosa.matmul` whose input
      is quantized and whose weight is a fake-quantized constant (signed,
      zero point 0) become the same TOSA op on codes (`i8` x `i8`, input and
      weight zero points, `acc_type = i32`). The chain up to the output
      quantizer may hold a reshape (matmul), a bias add and a clamp. The
      bias (conv operand plus the add's constant) becomes int32
      `roundeven(b / (s_in * s_w[c]))` computed in f32.
    - The accumulator is requantized with `m[c] = (s_in * s_w[c]) / s_out`
      (f32). With `float_multiplier`, this is `qat.requantize`. With
      `fixed_point` or `shift`, it is `qat.rescale` (the arithmetic of
      `tosa.rescale` with scale32 and single rounding, saturating where
      TOSA leaves an int32 overflow undefined) with `m = M * 2^-n`, M in
      [2^30, 2^31). A ReLU/ReLU6 clamp is the clamp of the output codes.
    - `tosa.max_pool2d`, `tosa.reshape` and `tosa.transpose` of codes stay
      on codes.
    - Every remaining float use of a converted value reads
      `qat.dequantize`, so what is not converted stays float between a
      dequantize and a quantize, with a remark (category
      `qat-convert-to-integer`).

    The target (option, or the module's `qat.target`) chooses the
    requantization.

    With `simulate=true` the pass writes the float simulation of that
    integer model instead: the same graph on integer-valued f32 codes.
    Quantize and requantize give f32 codes, weights and biases are f32
    integers, and the input zero point is subtracted before a float
    convolution. While no
    accumulator exceeds 2^24 in magnitude (a remark names each kernel whose
    bound is larger), every f32 operation is exact, so the simulation
    computes the integer model's output bit for bit.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target (default: the module's qat.target)">,
    Option<"simulate", "simulate", "bool", /*default=*/"false",
           "Write the float simulation of the integer model">,
  ];
  let statistics = [
    Statistic<"numKernels", "kernels", "Kernels converted to integer">,
  ];
  let dependentDialects = [
    "::mlir::qat::QATDialect",
    "::mlir::tosa::TosaDialect",
    "::mlir::arith::ArithDialect",
  ];
}

def PackInt8KernelsPass : Pass<"qat-pack-int8-kernels"> {
  let summary = "Integer TOSA kernels with float-multiplier requantization to qat.packed_conv2d";
  let description = [{
    Input: the integer model of `qat-convert-to-integer` for a target with
    a float multiplier (x86). Each kernel becomes one `qat.packed_conv2d`
    whose weights are packed at compile time:

    - `tosa.conv2d` (i8 x i8, constant weights with zero point 0, constant
      int32 bias) followed by `qat.requantize`, or by `qat.requantize_add`
      with a quantized residual;
    - `tosa.matmul` of a `1 x M x K` input by a constant `1 x K x N` weight,
      with an optional reshape, the int32 bias add and `qat.requantize`
      (a 1x1 convolution over M pixels).

    The packed bias is `bias[co] - (zp_in + 128) * sum(W[co])`, which lets
    the kernel multiply unsigned codes (`x + 128`) by signed weights, as
    `vpdpbusd` does. `tosa.depthwise_conv2d` (channel multiplier 1) with
    `qat.requantize` becomes `qat.packed_depthwise_conv2d` likewise.
    Kernels of another form are left as they are.

    A packed kernel whose result is read only by packed kernels, as their
    input or residual, stores its codes unsigned (`unsigned_output`) and
    its readers read them so (`unsigned_input`, `unsigned_residual`): an
    unpadded kernel then reads its input in place instead of copying it.
    If all its readers (as input) pad their input alike and can read in
    place, the kernel writes its output inside that border
    (`output_pad`), and the readers read it, unpadded, in place.
  }];
  let statistics = [
    Statistic<"numPacked", "packed", "Kernels packed">,
    Statistic<"numUnsigned", "unsigned-outputs",
              "Kernels storing unsigned codes for other kernels">,
    Statistic<"numPaddedOutputs", "padded-outputs",
              "Kernels writing their output inside their readers' padding">,
  ];
  let dependentDialects = [
    "::mlir::qat::QATDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect",
  ];
}

def LowerPackedKernelsPass : Pass<"qat-lower-packed-kernels", "::mlir::func::FuncOp"> {
  let summary = "Packed int8 kernels on memrefs to register-tiled loops";
  let description = [{
    Expands each `qat.packed_conv2d` on memrefs into:

    1. a copy of the input into an unsigned, zero-padded scratch buffer
       (`x + 128`; the padding holds `input_zero_point + 128`);
    2. a register-tiled micro-kernel: `rows` output pixels by 16 x `blocks`
       output channels of int32 accumulators in vector registers, over
       kernel rows, kernel columns and groups of 4 input channels;
    3. the requantization epilogue of each tile (bias, f32 multiply,
       residual, roundeven, zero point, clamp), stored as `i8`: no int32
       tensor goes to memory.

    `isa` chooses the dot product of step 2:
    - `vnni`: `vpdpbusd` (AVX-512 VNNI) through
      `llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"`;
    - `portable`: the same arithmetic on generic vector ops (widen, multiply,
      add groups of 4), for any CPU.

    Expands each `qat.packed_depthwise_conv2d` on memrefs into a padded
    unsigned copy of the input (as for `qat.packed_conv2d`, channels padded
    to 16) and tiles of up to `depthwise-rows` output pixels (equal pieces
    of a row, or several short rows); for each tile and block of 16
    channels, one `vector<16xi32>` accumulator per pixel sums zero-extended
    codes times sign-extended weights over the window (`vnni`: one
    `vpdpbusd` per tap, each 32-bit lane holding one code and one weight;
    `portable`: widen, multiply, add), then the same epilogue.

    With `parallel`, the loops over register tiles (channel-block groups x
    pixel tiles; depthwise: groups of output rows) and over the rows of the
    padded copy are `scf.parallel`: their iterations write disjoint
    outputs, so `convert-scf-to-openmp` can split them over threads. The
    threads take contiguous parts of a loop: a convolution whose channel
    groups do not fill whole 64-byte lines of each pixel's output row
    (fewer than 4 blocks per tile, or a channel count that is not a multiple
    of 64) puts its pixel tiles outermost, so that two threads never write
    the same cache line. A kernel with fewer multiply-accumulates than
    `min-parallel-macs` (depthwise ones count 8 each) stays serial: starting
    and joining the threads, and moving its data between cores, cost more
    than it gains (MobileNetV2's 1x1 32->192 @28, 4.8 M MACs: 21 us on one
    thread, 19 on two).
  }];
  let options = [
    Option<"isa", "isa", "::mlir::qat::KernelIsa",
           /*default=*/"::mlir::qat::KernelIsa::Vnni",
           "Dot-product instructions: vnni or portable",
           "::mlir::qat::kernelIsaValues()">,
    Option<"rows", "rows", "int64_t", /*default=*/"0",
           "Output pixels per register tile (0: 24 / blocks)">,
    Option<"blocks", "blocks", "int64_t", /*default=*/"0",
           "Blocks of 16 output channels per register tile (0: up to 4)">,
    Option<"depthwiseRows", "depthwise-rows", "int64_t", /*default=*/"0",
           "Accumulators (output pixels) per depthwise tile (0: 16)">,
    Option<"parallel", "parallel", "bool", /*default=*/"false",
           "Emit the loops over tiles and over input rows as scf.parallel">,
    Option<"minParallelMacs", "min-parallel-macs", "int64_t",
           /*default=*/"0",
           "With parallel: kernels with fewer multiply-accumulates stay "
           "serial (a depthwise MAC counts 8: its kernel runs at about an "
           "eighth of the convolution's rate)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // QAT_CONVERSION_PASSES_TD
