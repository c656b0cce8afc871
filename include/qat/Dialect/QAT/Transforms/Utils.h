//===- Utils.h - shared by the preparation passes ---------------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_TRANSFORMS_UTILS_H
#define QAT_DIALECT_QAT_TRANSFORMS_UTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::qat {
/// Module attribute naming the target a module was prepared for.
constexpr llvm::StringLiteral kTargetAttrName = "qat.target";

/// What the preparation passes quantize: statically shaped f32 tensors.
/// Ops with other operands or results (dynamic shapes, f16, ...) are left
/// float by qat-insert-fake-quant and not checked by qat-verify-target.
inline bool isQuantizableTensor(Value v) {
  auto t = llvm::dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32() && t.hasStaticShape();
}

/// Concatenates streamable parts (names, types, numbers) into one remark
/// message: MLIR's remarks take whole strings.
template <typename... Ts> std::string remarkText(const Ts &...parts) {
  std::string s;
  llvm::raw_string_ostream os(s);
  (os << ... << parts);
  return s;
}
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_UTILS_H
