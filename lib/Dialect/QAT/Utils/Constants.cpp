//===- Constants.cpp - read the values of constant tensors ----------------===//

#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

std::optional<SmallVector<int64_t>> qat::getConstantInts(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isExpansionBounded(attr, attr.getNumElements()))
    return std::nullopt;
  SmallVector<int64_t> out;
  out.reserve(attr.getNumElements());
  for (const APInt &x : attr.getValues<APInt>())
    out.push_back(x.getSExtValue());
  return out;
}

std::optional<SmallVector<float>> qat::getConstantFloats(Value v) {
  DenseFPElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isExpansionBounded(attr, attr.getNumElements()))
    return std::nullopt;
  SmallVector<float> out;
  out.reserve(attr.getNumElements());
  for (const APFloat &x : attr.getValues<APFloat>())
    out.push_back(x.convertToFloat());
  return out;
}

std::optional<SmallVector<int64_t>> qat::getConstantShape(Value v) {
  SmallVector<int64_t> out;
  if (!tosa::getConstShapeValues(v.getDefiningOp(), out))
    return std::nullopt;
  return SmallVector<int64_t>(out);
}

Value qat::createConstShape(OpBuilder &b, Location loc,
                            ArrayRef<int64_t> values) {
  ImplicitLocOpBuilder builder(loc, b);
  return tosa::getTosaConstShape(builder, values);
}
