//===- CopyChain.h - folding copies through a fresh buffer ------*- C++ -*-===//
#ifndef QAT_LIB_TRANSFORMS_COPYCHAIN_H
#define QAT_LIB_TRANSFORMS_COPYCHAIN_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
/// `copy %a, %t; copy %t, %b` with `%t` a static `memref.alloc` used by
/// nothing else (but its deallocs) becomes `copy %a, %b`. Returns true if
/// `first` was folded into the copy after it (both qat-linalg-to-loops and
/// qat-store-globals-in-place use it).
bool foldCopyChain(IRRewriter &rewriter, memref::CopyOp first);

/// Folds every copy chain under `root` (foldCopyChain on each memref.copy, in
/// program order) and returns the copies that remain.
SmallVector<memref::CopyOp> foldCopyChains(IRRewriter &rewriter,
                                           Operation *root);
} // namespace mlir::qat

#endif // QAT_LIB_TRANSFORMS_COPYCHAIN_H
