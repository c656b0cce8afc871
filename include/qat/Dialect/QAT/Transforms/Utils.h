//===- Utils.h - shared by the preparation passes ---------------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_TRANSFORMS_UTILS_H
#define QAT_DIALECT_QAT_TRANSFORMS_UTILS_H

#include "llvm/ADT/StringRef.h"

namespace mlir::qat {
/// Module attribute naming the target a module was prepared for.
constexpr llvm::StringLiteral kTargetAttrName = "qat.target";
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_UTILS_H
