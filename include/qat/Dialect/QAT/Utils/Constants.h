//===- Constants.h - read the values of constant tensors --------*- C++ -*-===//
//
// The one way the passes read a constant operand's values (weights, biases,
// multipliers, zero points): every element, in row-major order, as int64 or
// float; nullopt if the value is not a constant of that kind, or is a splat
// too large to expand (kMaxSplatExpansion). Also the one way they read and
// write the !tosa.shape operands of reshape, slice, pad and tile
// (tosa.const_shape), on upstream's TOSA utilities.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_CONSTANTS_H
#define QAT_DIALECT_QAT_UTILS_CONSTANTS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::qat {

/// The elements of an integer constant, sign-extended.
std::optional<SmallVector<int64_t>> getConstantInts(Value v);

/// The elements of a floating-point constant, as f32.
std::optional<SmallVector<float>> getConstantFloats(Value v);

/// The values of a !tosa.shape operand if a tosa.const_shape defines it.
std::optional<SmallVector<int64_t>> getConstantShape(Value v);

/// A tosa.const_shape holding `values`, at `b`'s insertion point.
Value createConstShape(OpBuilder &b, Location loc, ArrayRef<int64_t> values);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_CONSTANTS_H
