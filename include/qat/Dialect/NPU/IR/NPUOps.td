//===- NPUOps.td - npu operations --------------------------*- tablegen -*-===//
//
// One op per NPU instruction (docs/NPU.md section 4) and the program that
// holds them with its DRAM layout and layer table.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_NPU_IR_NPUOPS_TD
#define QAT_DIALECT_NPU_IR_NPUOPS_TD

include "qat/Dialect/NPU/IR/NPUAttrs.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

//===----------------------------------------------------------------------===//
// npu.program and its declarations
//===----------------------------------------------------------------------===//

def NPU_ProgramOp : NPU_Op<"program", [Symbol, SingleBlock, NoTerminator,
    IsolatedFromAbove, HasOnlyGraphRegion, RegionKindInterface]> {
  let summary = "one NPU program: DRAM layout, layer table and instruction stream";
  let description = [{
    The body holds, in this order: `npu.tensor` (the inputs and outputs, in
    the order of the binary's tensor table), `npu.data` (the constant DRAM
    segment), `npu.layer` (the layer table, ids 0, 1, ... in order), then
    the instructions in stream order, ending with exactly one
    `npu.finish`. `config` is the machine the program is built for (its
    architectural part is checked by every instruction's verifier and
    recorded in the binary); `dram_size` the bytes of DRAM the program
    uses (at most 2^30). Every `npu.data` and `npu.tensor` lies within
    `dram_size`, and no two of them overlap.

    The verifier also counts the tokens of each of the four queues: every
    push must be matched by a pop (the simulator rejects a program that
    leaves tokens behind). It does not prove freedom from deadlock or data
    races; `qat-npu-sim` does, on every run.

    ```mlir
    npu.program @main config #npu.config<> dram_size 4096 {
      npu.tensor input "x" : tensor<1x4x4x16xi8> at 1024 scale 1.0 zero_point 0
      npu.tensor output "y" : tensor<1x4x4x16xi8> at 2048 scale 1.0 zero_point 0
      npu.load acc[0], i8 from dram[1024] rows 1 stride 0 cols 16 stride 16
      npu.alu max use_imm loops [1, 16] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 0] param 0 [0, 0] imm [0, 0, 0] deps push_next
      npu.store acc[0], i8 to dram[2048] rows 1 stride 0 cols 16 stride 16 deps pop_prev|push_prev
      npu.finish deps pop_next
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, NPU_ConfigAttr:$config,
                       I64Attr:$dram_size);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `config` qualified($config) `dram_size` $dram_size attr-dict-with-keyword $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Graph region: the body is a list of declarations and instructions.
    static ::mlir::RegionKind getRegionKind(unsigned) {
      return ::mlir::RegionKind::Graph;
    }
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::llvm::StringRef":$name, "ConfigAttr":$config,
                   "int64_t":$dramSize)>
  ];
}

def NPU_TensorOp : NPU_Op<"tensor", [HasParent<"ProgramOp">]> {
  let summary = "a program input or output in DRAM";
  let description = [{
    A dense row-major array of `i8` or `i32` elements at byte `address`.
    The caller writes an input there before the run and reads an output
    after it. `scale` and `zero_point` are information for the caller (the
    NPU moves codes): real value = scale * (code - zero_point). The rank is
    at most 6.

    ```mlir
    npu.tensor input "x" : tensor<32x28x28x1xi8> at 8192 scale 7.843137e-03 zero_point 0
    ```
  }];
  let arguments = (ins NPU_TensorRoleEnum:$role, StrAttr:$name,
                       TypeAttrOf<AnyRankedTensor>:$type, I64Attr:$address,
                       F32Attr:$scale, I32Attr:$zero_point);
  let assemblyFormat = [{
    $role $name `:` $type `at` $address `scale` $scale `zero_point` $zero_point attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
    /// Bytes of the dense array.
    int64_t getByteSize();
  }];
}

def NPU_DataOp : NPU_Op<"data", [HasParent<"ProgramOp">]> {
  let summary = "constant DRAM contents (weights, biases, requantization rows)";
  let description = [{
    `value` (a rank-1 `i8` or `i32` tensor, `i32` stored little-endian)
    is part of the constant data segment the binary copies to DRAM before
    the run, at byte `address`. `name` says what it holds.

    ```mlir
    npu.data "conv2d_0.weights" at 0 = dense<1> : tensor<256xi8>
    ```
  }];
  let arguments = (ins StrAttr:$name, I64Attr:$address,
                       AnyIntElementsAttr:$value);
  let assemblyFormat = "$name `at` $address `=` $value attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getByteSize();
    /// The little-endian bytes of `value`.
    void appendBytes(::llvm::SmallVectorImpl<uint8_t> &bytes);
  }];
}

def NPU_LayerOp : NPU_Op<"layer", [HasParent<"ProgramOp">]> {
  let summary = "an entry of the layer table (for the per-layer report)";
  let description = [{
    Instructions with `layer = id` belong to this layer; the simulator's
    report gives its cycles, DMA bytes and GEMM utilization. `macs` is the
    layer's own multiply-accumulate count (0 if unknown): the MAC
    utilization is macs / (cycles * block_in * block_out). Ids are 0, 1, ...
    in the order of the ops.

    ```mlir
    npu.layer 0 "conv2d_0 (tosa.conv2d 1x28x28x1 -> 1x28x28x8)" macs 56448
    ```
  }];
  let arguments = (ins I64Attr:$id, StrAttr:$name, I64Attr:$macs);
  let assemblyFormat = "$id $name `macs` $macs attr-dict";
}

//===----------------------------------------------------------------------===//
// Instructions
//===----------------------------------------------------------------------===//

class NPU_InstructionOp<string mnemonic, list<Trait> traits = []>
    : NPU_Op<mnemonic, !listconcat(traits, [HasParent<"ProgramOp">])> {
  let hasVerifier = 1;
  code commonDecl = [{
    /// The instruction this op encodes (with the micro-ops at
    /// [uopBegin, uopBegin + count) for GEMM and ALU). Only on a verified op.
    ::mlir::qat::npu::Instruction getInstruction(uint32_t uopBegin = 0);
  }];
}

def NPU_DepsArg : DefaultValuedAttr<NPU_DepsEnum, "::mlir::qat::npu::ir::Deps::none">;

def NPU_LoadOp : NPU_InstructionOp<"load"> {
  let summary = "DMA from DRAM into INP, WGT, ACC or UOP (LOAD)";
  let description = [{
    LOAD of docs/NPU.md: writes the `R x C` entries `sram_base + r * C + c`
    of `buffer`, with `R = pad[0] + rows + pad[1]`, `C = pad[2] + cols +
    pad[3]`. Inside the window, lane `l < L` of the entry at window
    position (y, x) is read from DRAM byte `dram_base + y * row_stride + x
    * col_stride + l * s` (`s` the element size: 1, or 4 for `i32` into
    ACC, 12 for micro-ops; `i8` into ACC is sign-extended); other lanes and
    the padding entries are `pad_value`. `L = lanes`, or a whole entry when
    `lanes` is 0. Runs on the load module (INP, WGT) or the compute module
    (ACC, UOP).

    ```mlir
    npu.load inp[0], i8 from dram[8192] rows 28 stride 28 cols 28 stride 1 lanes 1 pad [1, 1, 1, 1] deps pop_next layer 0
    ```
  }];
  let arguments = (ins NPU_BufferEnum:$buffer, TypeAttr:$dtype,
      I64Attr:$sram_base, I64Attr:$dram_base,
      I64Attr:$rows, I64Attr:$row_stride, I64Attr:$cols, I64Attr:$col_stride,
      DefaultValuedAttr<I64Attr, "0">:$lanes,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$pad,
      DefaultValuedAttr<I64Attr, "0">:$pad_value,
      NPU_DepsArg:$deps, OptionalAttr<I64Attr>:$layer);
  let assemblyFormat = [{
    $buffer `[` $sram_base `]` `,` $dtype `from` `dram` `[` $dram_base `]`
    `rows` $rows `stride` $row_stride `cols` $cols `stride` $col_stride
    (`lanes` $lanes^)? (`pad` $pad^)? (`value` $pad_value^)?
    custom<DepsAndLayer>($deps, $layer) attr-dict
  }];
  let extraClassDeclaration = commonDecl;
}

def NPU_StoreOp : NPU_InstructionOp<"store"> {
  let summary = "DMA from ACC to DRAM (STORE)";
  let description = [{
    STORE of docs/NPU.md: for `y < rows`, `x < cols`, lanes `l < L` of ACC
    entry `sram_base + y * cols + x` go to DRAM byte `dram_base + y *
    row_stride + x * col_stride + l * s`; `i8` saturates to [-128, 127]
    (s = 1), `i32` is stored as is (s = 4). `L = lanes`, or `block_out`
    when 0. Runs on the store module.

    ```mlir
    npu.store acc[0], i8 to dram[4096] rows 28 stride 224 cols 28 stride 8 lanes 8 deps pop_prev|push_prev layer 0
    ```
  }];
  let arguments = (ins TypeAttr:$dtype, I64Attr:$sram_base, I64Attr:$dram_base,
      I64Attr:$rows, I64Attr:$row_stride, I64Attr:$cols, I64Attr:$col_stride,
      DefaultValuedAttr<I64Attr, "0">:$lanes,
      NPU_DepsArg:$deps, OptionalAttr<I64Attr>:$layer);
  let assemblyFormat = [{
    `acc` `[` $sram_base `]` `,` $dtype `to` `dram` `[` $dram_base `]`
    `rows` $rows `stride` $row_stride `cols` $cols `stride` $col_stride
    (`lanes` $lanes^)? custom<DepsAndLayer>($deps, $layer) attr-dict
  }];
  let extraClassDeclaration = commonDecl;
}

def NPU_GemmOp : NPU_InstructionOp<"gemm"> {
  let summary = "block matrix products on the GEMM core (GEMM)";
  let description = [{
    GEMM of docs/NPU.md. For `i0 < loops[0]`, `i1 < loops[1]` and each
    micro-op `(d, s, w)` of `uops` in order:

    ```
    a = acc + d + i0 * acc_factors[0] + i1 * acc_factors[1]    (ACC entry)
    x = inp + s + i0 * inp_factors[0] + i1 * inp_factors[1]    (INP entry)
    k = wgt + w + i0 * wgt_factors[0] + i1 * wgt_factors[1]    (WGT entry)
    reset: ACC[a][o] = 0;  else: ACC[a][o] += sum_i INP[x][i] * WGT[k][o * block_in + i]
    ```

    int8 products are exact, sums wrap modulo 2^32. Runs on the compute
    module.

    ```mlir
    npu.gemm loops [28, 28] uops [(0, 0, 0), (0, 1, 1), (0, 2, 2)] acc 0 [28, 1] inp 0 [30, 1] wgt 0 [0, 0] layer 0
    ```
  }];
  let arguments = (ins UnitAttr:$reset, DenseI64ArrayAttr:$loops,
      DenseI64ArrayAttr:$uops,
      I64Attr:$acc_base, DenseI64ArrayAttr:$acc_factors,
      I64Attr:$inp_base, DenseI64ArrayAttr:$inp_factors,
      I64Attr:$wgt_base, DenseI64ArrayAttr:$wgt_factors,
      NPU_DepsArg:$deps, OptionalAttr<I64Attr>:$layer);
  let assemblyFormat = [{
    (`reset` $reset^)? `loops` $loops `uops` custom<MicroOps>($uops)
    `acc` $acc_base $acc_factors `inp` $inp_base $inp_factors
    `wgt` $wgt_base $wgt_factors custom<DepsAndLayer>($deps, $layer) attr-dict
  }];
  let extraClassDeclaration = commonDecl;
}

def NPU_AluOp : NPU_InstructionOp<"alu"> {
  let summary = "vector operation on ACC rows (ALU)";
  let description = [{
    ALU of docs/NPU.md. For `i0 < loops[0]`, `i1 < loops[1]` and each
    micro-op `(d, s, p)` of `uops` in order, the ACC rows

    ```
    d = dst + d + i0 * dst_factors[0] + i1 * dst_factors[1]
    s = src + s + i0 * src_factors[0] + i1 * src_factors[1]
    p = param + p + i0 * param_factors[0] + i1 * param_factors[1]
    ```

    are combined lane by lane by `func` (`AluFunc`), with `b = imm[0]`
    when `use_imm` is set (`mov` .. `shr`) and `b = ACC[s]` otherwise; `clamp`
    and the rescales read their bounds from `imm[1]`, `imm[2]` and the
    rescales their output zero point from `imm[0]`. All reads of an
    iteration happen before its write. Runs on the compute module.

    ```mlir
    npu.alu rescale loops [1, 784] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 2046 [0, 0] imm [0, 0, 127] layer 0
    ```
  }];
  let arguments = (ins NPU_AluFuncEnum:$func, UnitAttr:$use_imm,
      DenseI64ArrayAttr:$loops, DenseI64ArrayAttr:$uops,
      I64Attr:$dst_base, DenseI64ArrayAttr:$dst_factors,
      I64Attr:$src_base, DenseI64ArrayAttr:$src_factors,
      I64Attr:$param_base, DenseI64ArrayAttr:$param_factors,
      DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0}">:$imm,
      NPU_DepsArg:$deps, OptionalAttr<I64Attr>:$layer);
  let assemblyFormat = [{
    $func (`use_imm` $use_imm^)? `loops` $loops `uops` custom<MicroOps>($uops)
    `dst` $dst_base $dst_factors `src` $src_base $src_factors
    `param` $param_base $param_factors `imm` $imm
    custom<DepsAndLayer>($deps, $layer) attr-dict
  }];
  let extraClassDeclaration = commonDecl;
}

def NPU_FinishOp : NPU_InstructionOp<"finish"> {
  let summary = "end of the program (FINISH)";
  let description = [{
    The last instruction of every program (exactly one). Runs on the
    compute module; it may pop tokens (to wait for the load and store
    modules to retire), never push. When it ends, every queue must be
    empty.

    ```mlir
    npu.finish deps pop_next
    ```
  }];
  let arguments = (ins NPU_DepsArg:$deps);
  let assemblyFormat = "custom<DepsAndLayer>($deps) attr-dict";
  let extraClassDeclaration = commonDecl;
}

#endif // QAT_DIALECT_NPU_IR_NPUOPS_TD
