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

    A `qat.integer_kernel` becomes the integer chain its description states
    (`tosa.conv2d` / `tosa.depthwise_conv2d` / `tosa.matmul` on i8 codes
    with i32 accumulation, a reshape and bias add for a matmul, then its
    `qat.requantize`, `qat.requantize_add`, `qat.rescale` or
    `qat.rescale_add`, itself lowered as above); the TOSA ops are left to
    tosa-to-linalg. Its constants must be constants (else an error names
    the operand).

    Every qat op is illegal after this pass; it fails if one remains.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect",
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
    - A grouped convolution whose one output quantizer follows the concat
      of its groups (qat-insert-fake-quant's placement), through a clamp or
      not, is first rewritten per group: `fake_quant(clamp(concat(c_g)))`
      = `concat(fake_quant(clamp(c_g)))` element for element (the clamp
      and a per-tensor quantizer act on each element alone); each group is
      then a kernel on the output's grid and the concat one of codes.
    - `tosa.conv2d`, `tosa.depthwise_conv2d` and `tosa.matmul` whose input
      is quantized and whose weight is a fake-quantized constant (signed,
      zero point 0), with the chain up to the output quantizer (a reshape
      for a matmul, a bias add, a residual add, a clamp), become one
      `qat.integer_kernel` (i8 codes, i8 weights, the input zero point).
      The bias (conv operand plus the add's constant) becomes int32
      `roundeven(b / (s_in * s_w[c]))` computed in f32.
    - The kernel requantizes with `m[c] = (s_in * s_w[c]) / s_out` (f32).
      With `float_multiplier`, an f32 multiplier (`qat.requantize`'s
      arithmetic). With `fixed_point` or `shift`, an i32 multiplier and a
      shift (`qat.rescale`'s: `tosa.rescale` with scale32 and single
      rounding, saturating where TOSA leaves an int32 overflow undefined)
      with `m = M * 2^-n`, M in [2^30, 2^31). A ReLU/ReLU6 clamp is the
      clamp of the output codes.
    - An unpadded `tosa.avg_pool2d` is a depthwise kernel with unit
      weights; an add of two quantized values is `qat.requantize_add` /
      `qat.rescale_add`.
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
    Each kernel is written as its expansion (the TOSA op, the bias add and
    the requantization op, `IntegerKernel::emitArithmetic`). Quantize and
    requantize give f32 codes, weights and biases are f32 integers, and the
    input zero point is subtracted before a float convolution. While no
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
  let summary = "qat.integer_kernel ops with a float multiplier to packed kernels";
  let description = [{
    Input: the integer model of `qat-convert-to-integer` for a target with
    a float multiplier (x86). Each `qat.integer_kernel`, read through
    `IntegerKernel::read` (its constants must be constants), becomes one
    packed op whose weights are packed at compile time:

    - `<conv2d>`, with or without a residual (one residual multiplier for
      all channels): `qat.packed_conv2d`;
    - `<matmul>` of a `1 x M x K` input by `1 x K x N` weights whose result
      is `M x N` or `1 x M x N`, without a residual: `qat.packed_conv2d`
      as a 1x1 convolution over M pixels;
    - `<depthwise_conv2d>` with channel multiplier 1 and no residual:
      `qat.packed_depthwise_conv2d`.

    The packed bias is `bias[co] - (zp_in + 128) * sum(W[co])`, which lets
    the kernel multiply unsigned codes (`x + 128`) by signed weights, as
    `vpdpbusd` does. Kernels of another form (fixed-point requantization,
    other shapes) are left as they are, for `convert-qat-to-linalg`.

    ```mlir
    %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>,
           input_zero_point = -118 : i64, output_zero_point = -128 : i64,
           pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64,
           stride = array<i64: 1, 1>}
         : (tensor<1x3x3x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xf32>) -> tensor<1x3x3x2xi8>
    // becomes
    %e = tensor.empty() : tensor<1x3x3x2xi8>
    %y = qat.packed_conv2d ins(%x, %pw, %pb, %pm : tensor<1x3x3x2xi8>, tensor<1x1x1x1x16x4xi8>,
           tensor<16xi32>, tensor<16xf32>) outs(%e : tensor<1x3x3x2xi8>) {...} -> tensor<1x3x3x2xi8>
    ```

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

    A `qat.packed_conv2d` whose weights are in the tile layout
    (`qat-pack-amx-weights`) becomes an implicit GEMM on AMX tiles in the
    `amx` dialect instead (docs/Kernels.md, "AMX tiles"): 16-row x 64-byte
    A tiles of pixels read in place or from a padded copy with one stride,
    B tiles of 16 groups of 4 input channels x 16 output channels, 2 x 2
    int32 accumulator tiles (`amx.tile_muli` with a zero-extended A:
    `tdpbusd`) over kernel rows and K tiles, stored to a stack buffer whose
    rows get the same epilogue. `qat-lower-amx` lowers the tile ops.

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
    "::mlir::amx::AMXDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def LowerToNPUPass : Pass<"qat-lower-to-npu", "::mlir::ModuleOp"> {
  let summary = "Compile a bpu integer model into an NPU program (npu dialect)";
  let description = [{
    Input: the integer model that `qat-convert-to-integer` writes for the
    `bpu` target (i8 codes, `qat.integer_kernel` ops with fixed-point
    requantization, `qat.rescale_add` of two tensors). Output: the function `entry` is
    replaced by an `npu.program` of the same name for the machine of
    `config`, whose instructions compute the same codes bit for bit.

    The program's inputs are the codes of the function's arguments (the
    `qat.quantize` of an f32 argument, and the reshapes or transposes before
    it, stay with the caller; its scale and zero point are recorded on the
    `npu.tensor`), its outputs the codes the function returns (before its
    `qat.dequantize`). Each layer is tiled
    into buffer-sized pieces:

    - `qat.integer_kernel` (`<conv2d>`, `<depthwise_conv2d>` with a channel
      multiplier dividing the block size, `<matmul>`: a fully connected
      layer, its rows as pixels) with constant weights, bias and
      fixed-point parameters, with or without a residual, read through
      `IntegerKernel::read`: the weights are packed
      at compile time into `block_out x block_in` blocks (a depthwise
      kernel into diagonal blocks) in the constant data segment; a tile of
      output rows is computed as bias (ALU `mov`), GEMM over the taps and
      input blocks (one micro-kernel for all pixels of the tile),
      requantization (ALU `rescale` / `rescale_add`, the residual loaded
      into ACC), and a STORE of i8 codes. The input zero point is the
      padding value of the LOAD and its `-z * sum(w)` is folded into the
      bias.
    - `qat.rescale_add` of two i8 tensors (an add), `qat.rescale` of i8
      codes: both operands loaded into ACC, ALU `rescale_add` / `rescale`.
    - `tosa.max_pool2d`: the input tile loaded into ACC (padding -128),
      ALU `mov` of the first tap and `max` of the others.
    - `tosa.concat` of codes: each input copied through ACC into its
      columns of the output (a LOAD and a STORE per tile of rows).
    - `tosa.transpose` of codes: a DMA gather through ACC (the output's two
      innermost dimensions per LOAD/STORE pair); none when only dimensions
      of size 1 move.
    - `tosa.max_pool2d` right after a kernel, with windows equal to its
      strides and no padding: fused into the kernel's epilogue (MOV/MAX on
      the requantized codes in ACC; only the pooled codes are stored).
    - `tosa.reshape`: no code (the same dense bytes in DRAM).

    Input tiles (INP) and accumulators (ACC) are double-buffered: the load
    module fills one half while the compute module works on the other, and
    the store module drains one ACC half while the compute module fills the
    other, synchronised by dependency tokens; layers are separated by a
    token barrier so that a layer reads its input only after the store
    module has written it. Weights of a group of output blocks stay in WGT
    for all tiles of the group (two groups alternate halves).

    Anything else (a float op left by the conversion, a kernel with a float
    multiplier, a kernel whose constants are not constants, a layer whose
    weights for one output block do not fit half of WGT, ...) is an error
    on the op that names the rule.

    Before (abridged):

    ```mlir
    %5 = qat.integer_kernel <conv2d> %0, %w, %b, %m shift %n {pad = array<i64: 1, 1, 1, 1>,
           quant_min = 0 : i64, quant_max = 127 : i64, ...}
        : (tensor<1x8x8x8xi8>, tensor<8x3x3x8xi8>, tensor<8xi32>, tensor<i32>, tensor<i8>) -> tensor<1x8x8x8xi8>
    ```

    After (abridged):

    ```mlir
    npu.program @main config #npu.config<> dram_size 3072 {
      npu.tensor input "arg0" : tensor<1x8x8x8xi8> at 2048 scale 2.604115e-02 zero_point 0
      npu.data "conv2d_0.weights" at 0 = dense<...> : tensor<2304xi8>
      npu.layer 0 "conv2d_0 (tosa.conv2d 1x8x8x8 -> 1x8x8x8, 3x3)" macs 36864
      npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 9 stride 256 layer 0
      npu.load inp[0], i8 from dram[2048] rows 8 stride 64 cols 8 stride 8 lanes 8 pad [1, 1, 1, 1] deps push_next layer 0
      npu.load acc[2032], i32 from dram[2304] rows 1 stride 0 cols 3 stride 64 layer 0
      npu.alu mov loops [1, 64] uops [(0, 0, 0)] dst 0 [0, 1] src 2032 [0, 0] param 0 [0, 0] imm [0, 0, 0] deps pop_prev layer 0
      npu.gemm loops [8, 8] uops [(0, 0, 0), (0, 1, 1), ...] acc 0 [8, 1] inp 0 [10, 1] wgt 0 [0, 0] layer 0
      npu.alu rescale loops [1, 64] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 2033 [0, 0] imm [0, 0, 127] deps push_next layer 0
      npu.store acc[0], i8 to dram[2560] rows 8 stride 64 cols 8 stride 8 lanes 8 deps pop_prev|push_prev layer 0
      npu.finish deps pop_next
    }
    ```

    Options: `entry` names the function (default: the module's only
    function); `config` is a configuration file of docs/NPU.md section 1
    (`key = value` lines or a flat JSON object; default: the default
    machine); `double-buffer=false` uses one half of each buffer only and
    waits for each tile's loads, computation and stores in turn (for
    comparing the timing).
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"\"",
           "the function to compile (default: the module's only function)">,
    Option<"config", "config", "std::string", /*default=*/"\"\"",
           "NPU configuration file (default: the default machine)">,
    Option<"doubleBuffer", "double-buffer", "bool", /*default=*/"true",
           "overlap the loads, computation and stores of consecutive tiles">,
  ];
  let statistics = [
    Statistic<"numLayers", "layers", "Layers compiled">,
    Statistic<"numTiles", "tiles", "Tiles (pieces of a layer that fit the buffers)">,
    Statistic<"numInstructions", "instructions", "NPU instructions written">,
  ];
  let dependentDialects = ["::mlir::qat::npu::ir::NPUDialect"];
}

//===----------------------------------------------------------------------===//
// f32 kernels (docs/Kernels.md, "fp32 kernels")
//===----------------------------------------------------------------------===//

def PackF32KernelsPass : Pass<"qat-pack-f32-kernels"> {
  let summary = "f32 TOSA convolutions and matmuls to packed f32 kernels";
  let description = [{
    Rewrites f32 kernels with constant weights into the packed form that
    `qat-lower-f32-kernels` expands into register-tiled loops:

    - `tosa.conv2d` (f32 input, weights and bias, zero points 0) becomes
      `qat.packed_conv2d_f32` with the weights packed at compile time as
      NB x KH x (KW * C) x 16 and the bias padded to NB * 16;
    - `tosa.matmul` of a `1 x M x K` input by a constant `1 x K x N`
      weight becomes a 1x1 `qat.packed_conv2d_f32` over the M rows (bias
      0), between a `tensor.expand_shape` and a `tensor.collapse_shape`;
    - `tosa.depthwise_conv2d` with channel multiplier 1 becomes
      `qat.packed_depthwise_conv2d_f32` (weights KH x KW x CP).

    ```mlir
    %y = tosa.conv2d %x, %w, %b, %z, %z {acc_type = f32, ...}
    // becomes
    %y = qat.packed_conv2d_f32 ins(%x, %packed, %bias16 : ...) outs(%e : ...) {...}
    ```

    The sums keep their order (kernel rows, columns, channels after the
    bias), so `isa=portable` reproduces the generic loops bit for bit.
    Kernels of another form (non-constant weights, other element types,
    channel multipliers above 1) are left as they are.
  }];
  let statistics = [
    Statistic<"numPacked", "packed", "Kernels packed">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::qat::QATDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def FuseF32EpiloguesPass : Pass<"qat-fuse-f32-epilogues", "::mlir::func::FuncOp"> {
  let summary = "Fuse an elementwise linalg.generic into the f32 kernel that produces its input";
  let description = [{
    After `linalg-fuse-elementwise-ops`, the elementwise chain after a
    convolution (batch-norm affine, ReLU, residual add) is one
    `linalg.generic`, and so is the chain after a data gradient in a
    training step (the straight-through mask of a fake quantizer, a ReLU's
    mask). When such a generic reads the result of a
    `qat.packed_conv2d_f32`, `qat.packed_depthwise_conv2d_f32`,
    `qat.conv2d_backward_data_f32` or
    `qat.depthwise_conv2d_backward_data_f32` that has no other reader, with
    an identity map, and:

    - all its loops are parallel and it has one result of the kernel's
      shape, written to a fresh `tensor.empty` whose element it does not read;
    - every other input is indexed by a projection of the output
      dimensions that keeps their order (identity, per channel `(d3)`,
      scalar `()`, ...): it is reshaped to rank 4 with 1 for the missing
      dimensions and becomes an epilogue input;
    - its body holds only elementwise `arith`/`math` ops on f32 and i1,
      except `arith.sitofp` of an i32 input that is used only that way (a
      zero point): such an input is converted to f32 once, before the
      kernel, by a `linalg.generic`, and enters the epilogue converted;

    then the kernel takes the generic's body as its epilogue region (or
    composes it after its existing epilogue) and replaces the generic.

    ```mlir
    %c = qat.packed_conv2d_f32 ins(%x, %w, %b : ...) outs(%e : ...) {...} -> tensor<1x8x8x16xf32>
    %r = linalg.generic {... (d0,d1,d2,d3)->(d0,d1,d2,d3), (d0,d1,d2,d3)->(d3) ...}
           ins(%c, %shift : ...) outs(%e2 : ...) { addf, maximumf ... }
    // becomes
    %r = qat.packed_conv2d_f32 ins(%x, %w, %b : ...) epilogue_inputs(%shift4 : tensor<1x1x1x16xf32>)
           outs(%e2 : ...) {...} epilogue { ^bb0(%acc: f32, %s: f32): ... qat.yield %v : f32 }
    ```

    The epilogue computes the generic's body element by element, so the
    result is the unfused pipeline's bit for bit.

    With `observers` (the default), a per-tensor `qat.observer`'s first
    reduction, as `convert-qat-to-linalg` writes it (16 running ranges over
    the rows of 16 of the flattened input: iterators [reduction,
    parallel], maps `(r, l) -> (r, l), (l), (l)`, body `minnumf(min, x)`,
    `maxnumf(max, x)`), whose input is the result of an elementwise generic
    (all loops parallel, identity maps, one result; in a training step the
    ReLU after a convolution whose output the backward pass also reads)
    becomes one generic with it over the rows of 16: it computes the
    elementwise result, stores it and takes its range, so the result is
    not read again. Same operations on the same elements in the same
    order: the unfused bits, range included.
  }];
  let options = [
    Option<"observers", "observers", "bool", /*default=*/"true",
           "Fuse per-tensor observers into the elementwise op producing "
           "their input">,
  ];
  let statistics = [
    Statistic<"numFused", "fused", "Elementwise generics fused into kernels">,
    Statistic<"numObservers", "observers-fused",
              "Observers fused into the elementwise op producing their input">,
  ];
  let dependentDialects = [
    "::mlir::tensor::TensorDialect",
  ];
}

def LowerF32KernelsPass : Pass<"qat-lower-f32-kernels", "::mlir::func::FuncOp"> {
  let summary = "Packed f32 kernels on memrefs to register-tiled loops";
  let description = [{
    Expands each `qat.packed_conv2d_f32` on memrefs into a zero-padded copy
    of the input (when it has padding) and a register-tiled loop nest:
    `rows` output pixels by `blocks` blocks of 16 output channels of
    `vector<16xf32>` accumulators, started at the bias and carried through
    the loops over kernel rows and over the kernel row's window (kernel
    columns x channels, contiguous in NHWC when the dilation is 1); each
    step loads one weight vector per block, broadcasts one input element
    per pixel and updates every accumulator. The epilogue region is applied
    to each accumulator vector (its ops cloned on `vector<16xf32>`) and the
    result stored; a partial last block stores masked.

    Each `qat.packed_depthwise_conv2d_f32` becomes tiles of up to 16 output
    pixels of one row; per block of 16 channels, one accumulator per pixel
    sums the taps (one load and one multiply-add per tap and pixel), then
    the epilogue.

    `isa` chooses the multiply-add: `avx512` emits `vector.fma` (one
    rounding, `vfmadd231ps` on zmm); `portable` emits `arith.mulf` and
    `arith.addf` (two roundings, the generic loops' bits, any CPU).

    With `parallel`, the loops over tiles (channel-block groups x pixel
    tiles; depthwise: rows) and over the rows of the padded copy are
    `scf.parallel`; kernels with fewer multiply-accumulates than
    `min-parallel-macs` stay serial; `qat.pack_conv_weights_f32` of 65,536
    weights or more splits its blocks of 16 output channels x kernel rows.
    The threads split outputs, never a sum, so the result does not depend
    on the number of threads.
  }];
  let options = [
    Option<"isa", "isa", "::mlir::qat::KernelIsa",
           /*default=*/"::mlir::qat::KernelIsa::Vnni",
           "Multiply-add: avx512 (fma) or portable (mul, add)",
           "::mlir::qat::f32KernelIsaValues()">,
    Option<"rows", "rows", "int64_t", /*default=*/"0",
           "Output pixels per register tile (0: 24 / blocks)">,
    Option<"blocks", "blocks", "int64_t", /*default=*/"0",
           "Blocks of 16 output channels per register tile (0: up to 4)">,
    Option<"parallel", "parallel", "bool", /*default=*/"false",
           "Emit the loops over tiles and over input rows as scf.parallel">,
    Option<"minParallelMacs", "min-parallel-macs", "int64_t",
           /*default=*/"0",
           "With parallel: kernels with fewer multiply-accumulates stay "
           "serial (a depthwise MAC counts 8)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def PackAMXWeightsPass : Pass<"qat-pack-amx-weights"> {
  let summary = "Packed convolution weights to the AMX tile layout";
  let description = [{
    Rewrites the constant weights of each `qat.packed_conv2d` on tensors
    (blocks of 16 output x 4 input channels, `NB x KH x KW x C4 x 16 x 4`)
    into the tile layout that the AMX kernels of `qat-lower-packed-kernels`
    read (`NB x KH x G x 16 x 4` with `kernel_width`; see the op): the
    groups of 4 input channels of each kernel row (of each tap with
    `dilation[1] > 1`) are padded with zeros to whole runs of 16, so that
    every 16 x 64-byte B tile of `tdpbusd` is one contiguous KB, and the
    bytes an A tile reads past a kernel row's window (64-byte rows) meet
    zero weights. The arithmetic of the op does not change.

    Kernels with fewer than `min-pixels` output pixels (N x Ho x Wo), such
    as a fully connected layer at batch 1, keep their layout and so the
    vector kernels: a `tdpbusd` multiplies 16 rows of pixels in the time
    of 32 `vpdpbusd` of 16 x 4 lanes each, so with fewer than 3 pixels the
    tile does less useful work than the vector unit, and such kernels are
    bound by the bandwidth of their weights anyway.

    Before (abridged):

    ```mlir
    %w = arith.constant dense<...> : tensor<2x3x3x6x16x4xi8>
    %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x8x8x24xi8>, tensor<2x3x3x6x16x4xi8>, ...)
    ```

    After:

    ```mlir
    %w = arith.constant dense<...> : tensor<2x3x32x16x4xi8>
    %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x8x8x24xi8>, tensor<2x3x32x16x4xi8>, ...)
           outs(...) {kernel_width = 3 : i64, ...}
    ```
  }];
  let options = [
    Option<"minPixels", "min-pixels", "int64_t", /*default=*/"3",
           "Kernels with fewer output pixels keep the vector layout">,
  ];
  let statistics = [
    Statistic<"numTiled", "tiled", "Kernels given tile-layout weights">,
  ];
  let dependentDialects = [
    "::mlir::qat::QATDialect",
    "::mlir::arith::ArithDialect",
  ];
}

def LowerAMXPass : Pass<"qat-lower-amx", "::mlir::ModuleOp"> {
  let summary = "amx dialect tile ops to LLVM's AMX intrinsics, or to vector code that emulates them";
  let description = [{
    The last step of the AMX kernels. Converts the `amx` dialect's
    `tile_zero`, `tile_load`, `tile_store` and `tile_muli` ops, and the
    `scf` ops that carry tiles (loop-carried accumulators), either

    - (default) to calls of LLVM's AMX intrinsics on `!llvm.x86_amx`
      values (upstream's AMX legalization for LLVM export): `tilezero`,
      `tileloadd`, `tdpbusd` / `tdpbssd` / `tdpbsud` / `tdpbuud`,
      `tilestored`; LLVM's X86 backend configures the tiles (`ldtilecfg`,
      palette 1) and releases them (`tilerelease`); or
    - with `emulate`, to vector code with the same semantics, which runs
      on any CPU: a tile of R rows of B bytes is a `vector<R x B/e x T>`;
      `tile_load` / `tile_store` move each row with `vector.load` /
      `vector.store` from `base + row * stride` (elements), `tile_zero` is a
      zero vector, and `tile_muli` calls a private function of the module
      (one per shape and signedness) that computes, in wrapping int32,

      ```
      C[m][n] += sum over k < K/4, b < 4 of
                 ext(A[m][4k + b]) * ext(B[k][4n + b])
      ```

      (`ext` zero-extends the operand marked `zext`, sign-extends the
      other), which is the `tdpb*d` instructions' arithmetic. With
      `check-bounds` (default), each emulated tile row that is loaded or
      stored must lie inside its memref, else the program writes why to
      stderr and aborts: the emulation also proves that the real kernel
      never touches memory outside its buffers.

    Everything before this pass is the same for both: the tests that run
    the emulation run the AMX kernels' code as the hardware would, up to
    the instructions. It runs after the loop nests are final (after
    `convert-scf-to-openmp`) and before `convert-scf-to-cf`; the real form
    leaves `unrealized_conversion_cast`s of memrefs that the memref-to-LLVM
    conversion later resolves. `tile_mulf` is not emulated (an error).
  }];
  let options = [
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "Emulate the tile ops with vector code (any CPU) instead of "
           "calling the AMX intrinsics">,
    Option<"checkBounds", "check-bounds", "bool", /*default=*/"true",
           "With emulate: stop if a tile row lies outside its memref">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // QAT_CONVERSION_PASSES_TD
