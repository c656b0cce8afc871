//===- QATDeployedOps.cpp - deployment-exact training ops -----------------===//
//
// Verifiers of qat.quantize_bias and of the straight-through backward ops of
// the integer domain (QATDeployedOps.td), and the GradientOpInterface of the
// integer-domain forward ops, which emits them.
//
//===----------------------------------------------------------------------===//

#include "Verification.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::detail;

//===----------------------------------------------------------------------===//
// quantize_bias
//===----------------------------------------------------------------------===//

/// bias rank 1, input_scale rank 0, weight_scale rank 0 or one entry per
/// bias entry; constant scales positive and finite.
static LogicalResult verifyBiasOperands(Operation *op, Value bias,
                                        Value inputScale, Value weightScale) {
  auto biasType = cast<RankedTensorType>(bias.getType());
  if (biasType.getRank() != 1)
    return op->emitOpError("requires a rank-1 'bias' (one entry per output "
                           "channel), got ")
           << biasType;
  if (failed(verifyParamShapes(op, biasType, std::nullopt,
                               {{"input_scale", inputScale}})))
    return failure();
  if (cast<RankedTensorType>(weightScale.getType()).getRank() != 0 &&
      failed(verifyParamShapes(op, biasType, /*axis=*/0,
                               {{"weight_scale", weightScale}})))
    return failure();
  if (failed(verifyConstantScale(op, inputScale)) ||
      failed(verifyConstantScale(op, weightScale)))
    return failure();
  return success();
}

LogicalResult QuantizeBiasOp::verify() {
  return verifyBiasOperands(*this, getBias(), getInputScale(),
                            getWeightScale());
}

LogicalResult QuantizeBiasGradOp::verify() {
  return verifyBiasOperands(*this, getBias(), getInputScale(),
                            getWeightScale());
}

SmallVector<Value> QuantizeBiasOp::buildGradients(OpBuilder &builder,
                                                  ValueRange resultGradients) {
  auto g =
      QuantizeBiasGradOp::create(builder, getLoc(), resultGradients.front(),
                                 getBias(), getInputScale(), getWeightScale());
  return {g.getGradBias(), g.getGradInputScale(), g.getGradWeightScale()};
}

//===----------------------------------------------------------------------===//
// quantize / dequantize
//===----------------------------------------------------------------------===//

LogicalResult QuantizeGradOp::verify() { return verifyQuantizeOperands(*this); }

SmallVector<Value> QuantizeOp::buildGradients(OpBuilder &builder,
                                              ValueRange resultGradients) {
  auto g = QuantizeGradOp::create(builder, getLoc(), resultGradients.front(),
                                  getInput(), getScale(), getZeroPoint(),
                                  getQuantMinAttr(), getQuantMaxAttr(),
                                  getAxisAttr(), getRoundingAttr());
  return {g.getGradInput(), g.getGradScale(), Value()};
}

LogicalResult DequantizeGradOp::verify() {
  return verifyDequantizeOperands(*this);
}

SmallVector<Value> DequantizeOp::buildGradients(OpBuilder &builder,
                                                ValueRange resultGradients) {
  auto g = DequantizeGradOp::create(builder, getLoc(), resultGradients.front(),
                                    getInput(), getScale(), getZeroPoint(),
                                    getAxisAttr());
  return {g.getGradInput(), g.getGradScale(), Value()};
}

//===----------------------------------------------------------------------===//
// requantize / requantize_add
//===----------------------------------------------------------------------===//

LogicalResult RequantizeGradOp::verify() {
  return verifyRequantizeOperands(*this);
}

SmallVector<Value> RequantizeOp::buildGradients(OpBuilder &builder,
                                                ValueRange resultGradients) {
  auto g = RequantizeGradOp::create(
      builder, getLoc(), resultGradients.front(), getInput(), getMultiplier(),
      getZeroPoint(), getQuantMinAttr(), getQuantMaxAttr(), getAxisAttr());
  SmallVector<Value> grads = {g.getGradInput(), g.getGradMultiplier(), Value()};
  if (getBias())
    grads.push_back(Value());
  return grads;
}

LogicalResult RequantizeAddGradOp::verify() {
  return verifyRequantizeAddOperands(*this);
}

SmallVector<Value> RequantizeAddOp::buildGradients(OpBuilder &builder,
                                                   ValueRange resultGradients) {
  auto g = RequantizeAddGradOp::create(
      builder, getLoc(), resultGradients.front(), getLhs(), getLhsMultiplier(),
      getLhsZeroPoint(), getRhs(), getRhsMultiplier(), getRhsZeroPoint(),
      getZeroPoint(), getQuantMinAttr(), getQuantMaxAttr(), getAxisAttr());
  return {g.getGradLhs(), g.getGradLhsMultiplier(), Value(),
          g.getGradRhs(), g.getGradRhsMultiplier(), Value(),
          Value()};
}

//===----------------------------------------------------------------------===//
// rescale / rescale_add
//===----------------------------------------------------------------------===//

LogicalResult RescaleGradOp::verify() { return verifyRescaleOperands(*this); }

SmallVector<Value> RescaleOp::buildGradients(OpBuilder &builder,
                                             ValueRange resultGradients) {
  Value g = RescaleGradOp::create(builder, getLoc(), resultGradients.front(),
                                  getInput(), getMultiplier(), getShift(),
                                  getZeroPoint(), getQuantMinAttr(),
                                  getQuantMaxAttr(), getAxisAttr());
  return {g, Value(), Value(), Value()};
}

LogicalResult RescaleAddGradOp::verify() {
  return verifyRescaleAddOperands(*this);
}

SmallVector<Value> RescaleAddOp::buildGradients(OpBuilder &builder,
                                                ValueRange resultGradients) {
  auto g = RescaleAddGradOp::create(
      builder, getLoc(), resultGradients.front(), getLhs(), getLhsMultiplier(),
      getLhsZeroPoint(), getRhs(), getRhsMultiplier(), getRhsZeroPoint(),
      getShift(), getZeroPoint(), getQuantMinAttr(), getQuantMaxAttr(),
      getAxisAttr());
  return {g.getGradLhs(), Value(), Value(), g.getGradRhs(),
          Value(),        Value(), Value(), Value()};
}

//===----------------------------------------------------------------------===//
// exact_accumulator
//===----------------------------------------------------------------------===//

OpFoldResult ExactAccumulatorOp::fold(FoldAdaptor) { return getExact(); }

SmallVector<Value>
ExactAccumulatorOp::buildGradients(OpBuilder &, ValueRange resultGradients) {
  // The gradient of the int32 result is that of the f32 relaxation.
  return {resultGradients.front(), Value()};
}
