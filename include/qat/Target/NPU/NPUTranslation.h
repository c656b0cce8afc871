//===- NPUTranslation.h - npu dialect <-> NPU binary ------------*- C++ -*-===//
//
// Export of an npu.program to the machine library's npu::Program (and the
// binary file of docs/NPU.md section 6), and import of a program back into
// the npu dialect, for disassembly in MLIR form and round-trip tests.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_TARGET_NPU_NPUTRANSLATION_H
#define QAT_TARGET_NPU_NPUTRANSLATION_H

#include "qat/Dialect/NPU/IR/NPUOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::qat {

/// The program `op` encodes. Micro-ops: each GEMM/ALU's list is placed once
/// in the UOP section (identical lists share their place, in order of first
/// use); constant data: the npu.data contents at their addresses, zeros in
/// between. Checks the result with npu::Program::verify (and that the
/// micro-ops fit uop_depth); errors are reported on the op.
FailureOr<npu::Program> exportNPUProgram(npu::ir::ProgramOp op);

/// The only npu.program of `op` (itself or nested in it), or an error.
FailureOr<npu::ir::ProgramOp> findNPUProgram(Operation *op);

/// Writes the binary of the only npu.program in `op`.
LogicalResult translateToNPUBinary(Operation *op, llvm::raw_ostream &os);

/// The npu.program (in a new module) of a program read from a binary: each
/// GEMM/ALU carries its micro-ops, the data section is one npu.data at 0.
OwningOpRef<ModuleOp> importNPUProgram(const npu::Program &program,
                                       MLIRContext *context,
                                       llvm::StringRef name = "program");

/// Registers the mlir-translate translations `--npu-binary` (npu dialect to
/// binary) and `--import-npu-binary` (binary to npu dialect).
void registerNPUTranslations();

} // namespace mlir::qat

#endif // QAT_TARGET_NPU_NPUTRANSLATION_H
