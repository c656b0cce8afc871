//===- Passes.h - passes that prepare models for quantization --*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
#define QAT_DIALECT_QAT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir {
class RewritePatternSet;
namespace qat {
#define GEN_PASS_DECL
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"

/// The rewrite of qat-fold-conv-bn: per-channel affine steps (tosa.sub,
/// tosa.mul, tosa.add with constant per-channel operands) that follow a
/// conv2d, depthwise_conv2d or matmul are folded into its weights and bias.
/// `recorded` (qat-fold-conv-bn's record-bn): the qat.batch_norm attribute
/// to set on the folded convolution of each convolution it maps.
void populateFoldConvBNPatterns(
    RewritePatternSet &patterns,
    const llvm::DenseMap<Operation *, DictionaryAttr> *recorded = nullptr);

#define GEN_PASS_REGISTRATION
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace qat
} // namespace mlir

#endif // QAT_DIALECT_QAT_TRANSFORMS_PASSES_H
