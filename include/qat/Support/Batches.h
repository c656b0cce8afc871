//===- Batches.h - call a function once per batch of its inputs -*- C++ -*-===//
//
// `--split` of qat-run, qat-npu-check and qat-npu-sim: each input holds
// several batches of its argument along dimension 0; the function runs once
// per batch and its results are concatenated along dimension 0. Part of
// QATSupport: no MLIR dependency.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_SUPPORT_BATCHES_H
#define QAT_SUPPORT_BATCHES_H

#include "qat/Support/Npy.h"

#include <limits>

namespace mlir::qat {

/// A dimension of any size (MLIR's ShapedType::kDynamic).
constexpr int64_t kAnySize = std::numeric_limits<int64_t>::min();

/// One argument of the function: its shape (kAnySize for a dynamic
/// dimension; dimension 0, the batch, must be static) and how messages name
/// it ("@main argument #0 (tensor<32x10xf32>)").
struct BatchedArgument {
  llvm::SmallVector<int64_t> shape;
  std::string name;
};

/// The number of batches `inputs` hold: input i must be a whole number of
/// batches of `args[i]` (the same rank, a multiple of its dimension 0, its
/// other dimensions), and every input the same number. The error names the
/// input and the argument.
llvm::Expected<int64_t> countBatches(llvm::ArrayRef<NpyArray> inputs,
                                     llvm::ArrayRef<BatchedArgument> args);

/// Batch `index` of the `count` equal batches of `a` along dimension 0.
NpyArray sliceBatch(const NpyArray &a, int64_t index, int64_t count);

/// Appends the batch `part` to `all` along dimension 0 (`first`: `all`
/// becomes `part`). A result of rank 0 cannot be concatenated: error.
llvm::Error appendBatch(NpyArray &all, const NpyArray &part, bool first);

} // namespace mlir::qat

#endif // QAT_SUPPORT_BATCHES_H
