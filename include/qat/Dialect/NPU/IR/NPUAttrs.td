//===- NPUAttrs.td - npu enums and attributes --------------*- tablegen -*-===//

#ifndef QAT_DIALECT_NPU_IR_NPUATTRS_TD
#define QAT_DIALECT_NPU_IR_NPUATTRS_TD

include "qat/Dialect/NPU/IR/NPUDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def NPU_BufferEnum : I32EnumAttr<"Buffer", "an on-chip buffer", [
    I32EnumAttrCase<"inp", 0>, I32EnumAttrCase<"wgt", 1>,
    I32EnumAttrCase<"acc", 2>, I32EnumAttrCase<"uop", 3>]> {
  let cppNamespace = "::mlir::qat::npu::ir";
  let description = [{
    `inp`: entries of `block_in` int8; `wgt`: entries of `block_out x
    block_in` int8 (lane `o * block_in + i`: input lane `i` to output lane
    `o`); `acc`: entries of `block_out` int32; `uop`: micro-ops.
  }];
}

def NPU_AluFuncEnum : I32EnumAttr<"AluFunc", "an ALU operation", [
    I32EnumAttrCase<"mov", 0>, I32EnumAttrCase<"add", 1>,
    I32EnumAttrCase<"sub", 2>, I32EnumAttrCase<"mul", 3>,
    I32EnumAttrCase<"min", 4>, I32EnumAttrCase<"max", 5>,
    I32EnumAttrCase<"shr", 6>, I32EnumAttrCase<"clamp", 7>,
    I32EnumAttrCase<"mac", 8>, I32EnumAttrCase<"rescale", 9>,
    I32EnumAttrCase<"rescale_add", 10>]> {
  let cppNamespace = "::mlir::qat::npu::ir";
  let description = [{
    The ALU operations of docs/NPU.md section 4 (same codes). With `d`,
    `s`, `p` the ACC rows of an iteration and `b = use_imm ? imm0 : s`, per
    lane: `mov` d = b; `add`/`sub` d = d +/- b (wrapping); `mul` low 32 bits
    of d * b; `min`/`max`; `shr` d = (i64(d) + 2^(b-1)) >> b (b = 0: d);
    `clamp` d = min(max(d, imm1), imm2); `mac` d = d + s * p (wrapping);
    `rescale` d = clamp(((i64(s) * M + 2^(n-1)) >> n) + imm0, imm1, imm2)
    with M = p, n = p+1 (`qat.rescale`); `rescale_add` d = clamp(((i64(d)
    * Ma + i64(s) * Mb + 2^(n-1)) >> n) + imm0, imm1, imm2) with Ma = p,
    n = p+1, Mb = p+2 (`qat.rescale_add`).
  }];
}

def NPU_DepsEnum : I32BitEnumAttr<"Deps", "dependency token flags", [
    I32BitEnumAttrCaseNone<"none">,
    I32BitEnumAttrCaseBit<"pop_prev", 0>, I32BitEnumAttrCaseBit<"pop_next", 1>,
    I32BitEnumAttrCaseBit<"push_prev", 2>, I32BitEnumAttrCaseBit<"push_next", 3>]> {
  let cppNamespace = "::mlir::qat::npu::ir";
  let separator = "|";
  let description = [{
    `pop_prev` / `pop_next`: before the instruction starts, take one token
    from the queue from the previous / next module (load <-> compute <->
    store), waiting for it; `push_prev` / `push_next`: when it has
    finished, put one token into the queue to that module.
  }];
}

def NPU_TensorRoleEnum : I32EnumAttr<"TensorRole", "a program input or output", [
    I32EnumAttrCase<"input", 0>, I32EnumAttrCase<"output", 1>]> {
  let cppNamespace = "::mlir::qat::npu::ir";
}

//===----------------------------------------------------------------------===//
// #npu.config
//===----------------------------------------------------------------------===//

def NPU_ConfigAttr : AttrDef<NPU_Dialect, "Config"> {
  let mnemonic = "config";
  let summary = "the parameters of one NPU of the family";
  let description = [{
    The 13 parameters of docs/NPU.md section 1 (`npu::Config`), in that
    order; a parameter at its default value is not printed, so
    `#npu.config<>` is the default machine. The first six are
    architectural (a program runs only on a machine with the same values),
    the others only set the timing model.

    ```mlir
    #npu.config<block_in = 8, block_out = 8, acc_depth = 512>
    ```
  }];
  let parameters = (ins
    DefaultValuedParameter<"uint32_t", "16">:$block_in,
    DefaultValuedParameter<"uint32_t", "16">:$block_out,
    DefaultValuedParameter<"uint32_t", "2048">:$inp_depth,
    DefaultValuedParameter<"uint32_t", "512">:$wgt_depth,
    DefaultValuedParameter<"uint32_t", "2048">:$acc_depth,
    DefaultValuedParameter<"uint32_t", "8192">:$uop_depth,
    DefaultValuedParameter<"uint32_t", "1">:$issue_cycles,
    DefaultValuedParameter<"uint32_t", "32">:$dram_latency,
    DefaultValuedParameter<"uint32_t", "16">:$dram_bytes_per_cycle,
    DefaultValuedParameter<"uint32_t", "1">:$gemm_cycles_per_op,
    DefaultValuedParameter<"uint32_t", "4">:$gemm_pipeline,
    DefaultValuedParameter<"uint32_t", "1">:$alu_cycles_per_op,
    DefaultValuedParameter<"uint32_t", "2">:$alu_rescale_cycles_per_op);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The machine library's form.
    ::mlir::qat::npu::Config getConfig() const;
    static ConfigAttr get(::mlir::MLIRContext *context,
                          const ::mlir::qat::npu::Config &config);
  }];
}

#endif // QAT_DIALECT_NPU_IR_NPUATTRS_TD
