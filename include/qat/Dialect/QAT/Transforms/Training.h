//===- Training.h - names shared by the training passes ---------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H
#define QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H

#include "llvm/ADT/StringRef.h"

namespace mlir::qat {
/// On an ml_program.global: the global is a trainable parameter; the value
/// says which ("weight", "bias", ...).
constexpr llvm::StringLiteral kParameterAttrName = "qat.parameter";
/// On a weight quantizer's qat.observer: the globals [@min, @max] holding the
/// range it saw last (stored by the train step, read when observers are
/// frozen). On those globals: "min" or "max".
constexpr llvm::StringLiteral kWeightRangeAttrName = "qat.weight_range";
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H
