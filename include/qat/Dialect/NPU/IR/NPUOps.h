//===- NPUOps.h - npu operations, enums and attributes ----------*- C++ -*-===//
#ifndef QAT_DIALECT_NPU_IR_NPUOPS_H
#define QAT_DIALECT_NPU_IR_NPUOPS_H

#include "qat/NPU/Binary.h"
#include "qat/NPU/Config.h"
#include "qat/NPU/ISA.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "qat/Dialect/NPU/IR/NPUDialect.h"

#include "qat/Dialect/NPU/IR/NPUEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qat/Dialect/NPU/IR/NPUAttrs.h.inc"

#define GET_OP_CLASSES
#include "qat/Dialect/NPU/IR/NPUOps.h.inc"

namespace mlir::qat::npu::ir {
/// Whether `op` is one of the instruction ops (load, store, gemm, alu,
/// finish).
bool isInstruction(Operation *op);
/// The instruction a verified instruction op encodes; GEMM and ALU take
/// their micro-ops at [uopBegin, uopBegin + count).
npu::Instruction getInstruction(Operation *op, uint32_t uopBegin = 0);
/// The micro-ops of a GEMM or ALU op (empty for the others).
llvm::SmallVector<npu::MicroOp> getMicroOps(Operation *op);
/// The inverse of getInstruction: the op for `insn` (GEMM and ALU with
/// `uops`; uopBegin/uopEnd are not kept), at the builder's insertion point.
Operation *createInstructionOp(OpBuilder &b, Location loc,
                               const npu::Instruction &insn,
                               llvm::ArrayRef<npu::MicroOp> uops = {});
} // namespace mlir::qat::npu::ir

#endif // QAT_DIALECT_NPU_IR_NPUOPS_H
