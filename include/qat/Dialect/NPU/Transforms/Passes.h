//===- Passes.h - npu passes ------------------------------------*- C++ -*-===//
#ifndef QAT_DIALECT_NPU_TRANSFORMS_PASSES_H
#define QAT_DIALECT_NPU_TRANSFORMS_PASSES_H

#include "qat/Dialect/NPU/IR/NPUOps.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qat {
#define GEN_PASS_DECL
#include "qat/Dialect/NPU/Transforms/Passes.h.inc"

/// What qat-lower-to-npu does, for drivers that embed it (qat-npu-check):
/// replaces the function `entry` of `module` (empty: its only function) by
/// an npu.program for `config`. Errors are reported on the offending op.
/// `tiles`, if given, receives the number of tiles.
LogicalResult lowerToNPU(ModuleOp module, llvm::StringRef entry,
                         const npu::Config &config, bool doubleBuffer = true,
                         int64_t *tiles = nullptr);

/// The qat.quantize that turns the f32 argument `arg` into the codes an NPU
/// program takes, reached through a chain of single-use layout ops (reshape,
/// transpose: the caller does them with the quantization), which are
/// appended to `layout`; null if there is none.
QuantizeOp
getInputQuantization(BlockArgument arg,
                     llvm::SmallVectorImpl<Operation *> *layout = nullptr);

#define GEN_PASS_REGISTRATION
#include "qat/Dialect/NPU/Transforms/Passes.h.inc"
} // namespace mlir::qat

#endif // QAT_DIALECT_NPU_TRANSFORMS_PASSES_H
