//===- QATToNPU.h - bpu integer models to NPU programs ----------*- C++ -*-===//
//
// The entry points of qat-lower-to-npu for drivers that embed it
// (qat-npu-check): the lowering of one function to an npu.program and the
// quantization of the program's inputs that the caller does.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_CONVERSION_QATTONPU_QATTONPU_H
#define QAT_CONVERSION_QATTONPU_QATTONPU_H

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/NPU/Config.h"

#include "mlir/IR/BuiltinOps.h"

namespace mlir::qat {

/// What qat-lower-to-npu does: replaces the function `entry` of `module`
/// (empty: its only function) by an npu.program for `config`. Errors are
/// reported on the offending op. `tiles`, if given, receives the number of
/// tiles.
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

} // namespace mlir::qat

#endif // QAT_CONVERSION_QATTONPU_QATTONPU_H
