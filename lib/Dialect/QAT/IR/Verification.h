//===- Verification.h - checks shared by the qat op verifiers ---*- C++ -*-===//
//
// Private to lib/Dialect/QAT/IR: the checks that several ops' verifiers
// share (QATOps.cpp defines them).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H
#define QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <optional>

namespace mlir::qat::detail {

/// quant_min < quant_max, both within [-2^23, 2^23].
LogicalResult verifyQuantRange(Operation *op, int64_t qmin, int64_t qmax);

/// The parameter operands are rank 0 (per tensor) or rank 1 with the length
/// of the input's dimension `axis` (per axis).
LogicalResult verifyParamShapes(Operation *op, RankedTensorType input,
                                std::optional<int64_t> axis,
                                ArrayRef<std::pair<StringRef, Value>> params);

/// A constant scale (or multiplier) is positive and finite.
LogicalResult verifyConstantScale(Operation *op, Value scale);

/// Constant fixed-point shifts lie in [2, 62].
LogicalResult verifyConstantShifts(Operation *op, Value shift);

/// A constant zero point lies in [qmin, qmax].
LogicalResult verifyConstantZeroPoint(Operation *op, Value zeroPoint,
                                      int64_t qmin, int64_t qmax);

/// The checks of qat.fake_quant's operands and attributes.
LogicalResult verifyFakeQuantLike(Operation *op, Value input, Value scale,
                                  Value zeroPoint, int64_t qmin, int64_t qmax,
                                  std::optional<int64_t> axis,
                                  bool intZeroPoint);

/// The code range fits the integer element type of `codes` (any range for
/// f32 codes).
LogicalResult verifyCodeWidth(Operation *op, Value codes, int64_t qmin,
                              int64_t qmax);

} // namespace mlir::qat::detail

#endif // QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H
