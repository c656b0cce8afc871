//===- Passes.td - npu passes ------------------------------*- tablegen -*-===//

#ifndef QAT_DIALECT_NPU_TRANSFORMS_PASSES_TD
#define QAT_DIALECT_NPU_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToNPUPass : Pass<"qat-lower-to-npu", "::mlir::ModuleOp"> {
  let summary = "Compile a bpu integer model into an NPU program (npu dialect)";
  let description = [{
    Input: the integer model that `qat-convert-to-integer` writes for the
    `bpu` target (i8 codes, i32 accumulators, `qat.rescale` /
    `qat.rescale_add` requantization). Output: the function `entry` is
    replaced by an `npu.program` of the same name for the machine of
    `config`, whose instructions compute the same codes bit for bit.

    The program's inputs are the codes of the function's arguments (the
    `qat.quantize` of an f32 argument, and the reshapes or transposes before
    it, stay with the caller; its scale and zero point are recorded on the
    `npu.tensor`), its outputs the codes the function returns (before its
    `qat.dequantize`). Each layer is tiled
    into buffer-sized pieces:

    - `tosa.conv2d`, `tosa.depthwise_conv2d` (channel multiplier 1) and
      `tosa.matmul` with constant weights (a fully connected layer, its
      rows as pixels), followed by reshapes, a constant bias add and
      `qat.rescale` or `qat.rescale_add` (residual): the weights are packed
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

    Anything else (a float op left by the conversion, `qat.requantize` with
    a float multiplier, a weight zero point other than 0, a layer whose
    weights for one output block do not fit half of WGT, ...) is an error
    on the op that names the rule.

    Before (abridged):

    ```mlir
    %5 = tosa.conv2d %0, %w, %b, %zp, %zp {acc_type = i32, pad = array<i64: 1, 1, 1, 1>, ...}
        : (tensor<1x8x8x8xi8>, tensor<8x3x3x8xi8>, tensor<8xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x8x8x8xi32>
    %6 = qat.rescale %5, %m, %n, %z {quant_min = 0 : i64, quant_max = 127 : i64} ...
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
  let dependentDialects = ["::mlir::qat::npuir::NPUDialect"];
}

#endif // QAT_DIALECT_NPU_TRANSFORMS_PASSES_TD
