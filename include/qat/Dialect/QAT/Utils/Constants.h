//===- Constants.h - read the values of constant tensors --------*- C++ -*-===//
//
// The one way the passes read a constant operand's values (weights, biases,
// multipliers, zero points): every element, in row-major order, as int64 or
// float; nullopt if the value is not a constant of that kind, or is a splat
// too large to expand (kMaxSplatExpansion).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_CONSTANTS_H
#define QAT_DIALECT_QAT_UTILS_CONSTANTS_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::qat {

/// The elements of an integer constant, sign-extended.
std::optional<SmallVector<int64_t>> getConstantInts(Value v);

/// The elements of a floating-point constant, as f32.
std::optional<SmallVector<float>> getConstantFloats(Value v);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_CONSTANTS_H
