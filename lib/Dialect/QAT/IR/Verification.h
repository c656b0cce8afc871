//===- Verification.h - checks shared by the qat op verifiers ---*- C++ -*-===//
//
// Private to lib/Dialect/QAT/IR: the checks that several ops' verifiers
// share (Verification.cpp defines them).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H
#define QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// The output size of a window along one dimension, or -1 when the padded
/// input is smaller than the window.
int64_t windowOutSize(int64_t size, int64_t k, int64_t s, int64_t d,
                      int64_t padLo, int64_t padHi);

/// Every operand has a static shape.
LogicalResult verifyStaticShapes(Operation *op);

/// stride and dilation of 2 entries >= 1, pad of 4 entries >= 0.
LogicalResult verifyWindowAttrs(Operation *op, ArrayRef<int64_t> st,
                                ArrayRef<int64_t> pd, ArrayRef<int64_t> dl);

/// The forward packed kernels (int8 and f32): static shapes, NHWC `input`
/// and `init` of rank 4, the window attributes, and `init`'s N x Ho x Wo
/// for a `kh` x `kw` window (plus `outPad` when given).
LogicalResult verifyWindowedKernel(Operation *op, Value input, Value init,
                                   std::optional<ArrayRef<int64_t>> outPad,
                                   int64_t kh, int64_t kw, ArrayRef<int64_t> st,
                                   ArrayRef<int64_t> pd, ArrayRef<int64_t> dl);

/// A packed depthwise kernel: channel multiplier 1 (`out` has `in`'s C
/// channels) and KH x KW x CP weights `w` with CP = 16 * ceil(C / 16).
LogicalResult verifyDepthwiseChannels(Operation *op, ShapedType in,
                                      ShapedType out, ShapedType w);

/// All operands tensors (then one result of `initType`) or all memrefs (no
/// result).
LogicalResult verifyTensorsOrMemRefs(Operation *op, Type initType);

/// A kernel on memrefs reads every memref operand but `init` and writes
/// `init`.
void kernelEffects(
    Operation *op, OpOperand &init,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects);

//===----------------------------------------------------------------------===//
// The integer-domain ops and their straight-through backward ops
// (QATDeployedOps.cpp) share one check each: templates on the op class,
// whose getters have the same names.
//===----------------------------------------------------------------------===//

/// qat.quantize / qat.quantize_grad.
template <typename OpT> LogicalResult verifyQuantizeOperands(OpT op) {
  return verifyFakeQuantLike(op, op.getInput(), op.getScale(),
                             op.getZeroPoint(), op.getQuantMin(),
                             op.getQuantMax(), op.getAxis(),
                             /*intZeroPoint=*/true);
}

/// qat.dequantize / qat.dequantize_grad.
template <typename OpT> LogicalResult verifyDequantizeOperands(OpT op) {
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  if (failed(verifyParamShapes(
          op, inputType, op.getAxis(),
          {{"scale", op.getScale()}, {"zero_point", op.getZeroPoint()}})))
    return failure();
  return verifyConstantScale(op, op.getScale());
}

/// The checks every requantization shares (qat.requantize(_add),
/// qat.rescale(_add) and their _grad ops): [quant_min, quant_max], the shapes
/// of `params` (in this order) per tensor or along `axis` of `input`, and the
/// constants: `floatMultipliers` positive and finite, the fixed-point forms'
/// `shift` (when given) in [2, 62].
LogicalResult verifyRequantization(Operation *op, Value input, int64_t qmin,
                                   int64_t qmax, std::optional<int64_t> axis,
                                   ArrayRef<std::pair<StringRef, Value>> params,
                                   ArrayRef<Value> floatMultipliers,
                                   Value shift);

template <typename OpT>
LogicalResult verifyRequantization(OpT op, Value input,
                                   ArrayRef<std::pair<StringRef, Value>> params,
                                   ArrayRef<Value> floatMultipliers,
                                   Value shift) {
  return verifyRequantization(op.getOperation(), input, op.getQuantMin(),
                              op.getQuantMax(), op.getAxis(), params,
                              floatMultipliers, shift);
}

/// qat.requantize / qat.requantize_grad.
template <typename OpT> LogicalResult verifyRequantizeOperands(OpT op) {
  return verifyRequantization(
      op, op.getInput(),
      {{"multiplier", op.getMultiplier()}, {"zero_point", op.getZeroPoint()}},
      {op.getMultiplier()}, /*shift=*/nullptr);
}

/// qat.requantize_add / qat.requantize_add_grad.
template <typename OpT> LogicalResult verifyRequantizeAddOperands(OpT op) {
  return verifyRequantization(op, op.getLhs(),
                              {{"lhs_multiplier", op.getLhsMultiplier()},
                               {"lhs_zero_point", op.getLhsZeroPoint()},
                               {"rhs_multiplier", op.getRhsMultiplier()},
                               {"rhs_zero_point", op.getRhsZeroPoint()},
                               {"zero_point", op.getZeroPoint()}},
                              {op.getLhsMultiplier(), op.getRhsMultiplier()},
                              /*shift=*/nullptr);
}

/// qat.rescale / qat.rescale_grad.
template <typename OpT> LogicalResult verifyRescaleOperands(OpT op) {
  return verifyRequantization(op, op.getInput(),
                              {{"multiplier", op.getMultiplier()},
                               {"shift", op.getShift()},
                               {"zero_point", op.getZeroPoint()}},
                              /*floatMultipliers=*/{}, op.getShift());
}

/// qat.rescale_add / qat.rescale_add_grad.
template <typename OpT> LogicalResult verifyRescaleAddOperands(OpT op) {
  return verifyRequantization(op, op.getLhs(),
                              {{"lhs_multiplier", op.getLhsMultiplier()},
                               {"lhs_zero_point", op.getLhsZeroPoint()},
                               {"rhs_multiplier", op.getRhsMultiplier()},
                               {"rhs_zero_point", op.getRhsZeroPoint()},
                               {"shift", op.getShift()},
                               {"zero_point", op.getZeroPoint()}},
                              /*floatMultipliers=*/{}, op.getShift());
}

} // namespace mlir::qat::detail

#endif // QAT_LIB_DIALECT_QAT_IR_VERIFICATION_H
