//===- QATOps.cpp - qat op verifiers, folders, canonicalizations ----------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "Verification.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::detail;

#include "qat/Dialect/QAT/IR/QATInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "qat/Dialect/QAT/IR/QATOps.cpp.inc"

//===----------------------------------------------------------------------===//
// QuantizeOp, DequantizeOp, RequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  if (failed(verifyQuantizeOperands(*this)))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult DequantizeOp::verify() {
  if (IntegerAttr c = getFmaOffsetAttr();
      c && (c.getInt() < 0 || c.getInt() > 255))
    return emitOpError("requires fma_offset in [0, 255], got ") << c.getInt();
  return verifyDequantizeOperands(*this);
}

LogicalResult RescaleOp::verify() {
  if (failed(verifyRescaleOperands(*this)))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RequantizeAddOp::verify() {
  if (failed(verifyRequantizeAddOperands(*this)))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RescaleAddOp::verify() {
  if (failed(verifyRescaleAddOperands(*this)))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RequantizeOp::verify() {
  if (failed(verifyRequantizeOperands(*this)))
    return failure();
  if (Value bias = getBias()) {
    auto inType = cast<RankedTensorType>(getInput().getType());
    if (failed(verifyParamShapes(*this, inType, getAxis(), {{"bias", bias}})))
      return failure();
  }
  if (IntegerAttr c = getFloatZeroPointOffsetAttr();
      c && (c.getInt() < 0 || c.getInt() > 255))
    return emitOpError("requires float_zero_point_offset in [0, 255], got ")
           << c.getInt();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

//===----------------------------------------------------------------------===//
// LSQ's gradient factor
//===----------------------------------------------------------------------===//

static LogicalResult verifyGradFactor(Operation *op, double g) {
  if (!std::isfinite(g))
    return op->emitOpError("requires a finite grad_factor, got ") << g;
  return success();
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  return verifyFakeQuantLike(*this, getInput(), getScale(), getZeroPoint(),
                             getQuantMin(), getQuantMax(), getAxis(),
                             /*intZeroPoint=*/true);
}

OpFoldResult FakeQuantOp::fold(FoldAdaptor adaptor) {
  auto input = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getInput());
  auto scale = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getScale());
  auto zp = dyn_cast_if_present<DenseIntElementsAttr>(adaptor.getZeroPoint());
  if (!input || !scale || !zp)
    return {};
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return {};
  auto apply = [&](float x, float s, int32_t z) {
    return APFloat(numerics::fakeQuant(x, s, z, getQuantMin(), getQuantMax(),
                                       getRounding()));
  };
  // One value in, one set of parameters: one value out (O(1) whatever the
  // shape says).
  bool oneParam = !getAxis() || (scale.isSplat() && zp.isSplat());
  if (input.isSplat() && oneParam)
    return DenseElementsAttr::get(
        type, apply(input.getSplatValue<APFloat>().convertToFloat(),
                    (*scale.getValues<APFloat>().begin()).convertToFloat(),
                    int32_t((*zp.getValues<APInt>().begin()).getSExtValue())));
  // Otherwise every element is written: bounded by the input's storage, and
  // for a splat input by kMaxSplatExpansion.
  if (!isExpansionBounded(input, type.getNumElements()))
    return {};
  // Index of the channel of each element: stride of `axis` in row-major order.
  int64_t inner = 1, channels = 1;
  if (std::optional<int64_t> axis = getAxis()) {
    for (int64_t d = *axis + 1; d < type.getRank(); ++d)
      inner *= type.getDimSize(d);
    channels = type.getDimSize(*axis);
  }
  // The parameters as stored: one value for a splat, one per channel
  // otherwise (the verifier checked their length against the axis).
  SmallVector<float> scales;
  for (APFloat v : getStoredValues<APFloat>(scale))
    scales.push_back(v.convertToFloat());
  SmallVector<int32_t> zps;
  for (APInt v : getStoredValues<APInt>(zp))
    zps.push_back(static_cast<int32_t>(v.getSExtValue()));
  SmallVector<APFloat> out;
  out.reserve(type.getNumElements());
  int64_t i = 0;
  for (APFloat v : input.getValues<APFloat>()) {
    int64_t c = getAxis() ? (i / inner) % channels : 0;
    out.push_back(apply(v.convertToFloat(), scales[scales.size() == 1 ? 0 : c],
                        zps[zps.size() == 1 ? 0 : c]));
    ++i;
  }
  return DenseElementsAttr::get(type, out);
}

/// Calls fn(i, x) on each element of `attr` as f32, in order. f32 data is
/// read as floats (a weight observer sees millions of elements; an APFloat
/// per element took most of a ResNet-50 fold).
template <typename Fn>
static void forEachFloat(DenseFPElementsAttr attr, Fn fn) {
  int64_t i = 0;
  if (attr.getElementType().isF32()) {
    for (float x : attr.getValues<float>())
      fn(i++, x);
    return;
  }
  for (APFloat v : attr.getValues<APFloat>())
    fn(i++, v.convertToFloat());
}

static SmallVector<float> getFloats(DenseFPElementsAttr attr) {
  SmallVector<float> out;
  forEachFloat(attr, [&](int64_t, float x) { out.push_back(x); });
  return out;
}

LogicalResult ObserverOp::fold(FoldAdaptor adaptor,
                               SmallVectorImpl<OpFoldResult> &results) {
  auto input = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getInput());
  auto min = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getMin());
  auto max = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getMax());
  auto type = cast<RankedTensorType>(getInput().getType());
  if (!input || !min || !max || !type.hasStaticShape())
    return failure();
  const float inf = std::numeric_limits<float>::infinity();
  const float c = getAveragingConstant().convertToFloat();
  int64_t inner = 1, channels = 1;
  if (std::optional<int64_t> axis = getAxis()) {
    for (int64_t d = *axis + 1; d < type.getRank(); ++d)
      inner *= type.getDimSize(d);
    channels = type.getDimSize(*axis);
  }
  auto stateType = cast<ShapedType>(getMin().getType());
  if (min.getNumElements() != channels)
    return failure();
  // The range of the elements of one channel of a splat input: every channel
  // sees the same value (none if the input is empty or NaN).
  auto splatRange = [&]() -> numerics::Range {
    float x = input.getSplatValue<APFloat>().convertToFloat();
    if (type.getNumElements() == 0 || std::isnan(x))
      return {inf, -inf};
    return {x, x};
  };
  // All splats: every channel's new state is the same, one splat each
  // (O(1), whatever the shapes declare).
  if (input.isSplat() && min.isSplat() && max.isSplat()) {
    numerics::Range r =
        numerics::observeUpdate({min.getSplatValue<APFloat>().convertToFloat(),
                                 max.getSplatValue<APFloat>().convertToFloat()},
                                splatRange(), getKind(), c);
    results.push_back(DenseElementsAttr::get(stateType, APFloat(r.min)));
    results.push_back(DenseElementsAttr::get(stateType, APFloat(r.max)));
    return success();
  }
  // Otherwise one of the operands stores a value per channel or per element:
  // the work below is bounded by that storage.
  SmallVector<float> mins = getFloats(min), maxs = getFloats(max);
  SmallVector<numerics::Range> batch(channels, {inf, -inf});
  if (input.isSplat()) {
    batch.assign(channels, splatRange());
  } else {
    bool perChannel = getAxis().has_value();
    forEachFloat(input, [&](int64_t i, float x) {
      numerics::Range &r = batch[perChannel ? (i / inner) % channels : 0];
      if (std::isnan(x))
        return;
      r.min = std::min(r.min, x);
      r.max = std::max(r.max, x);
    });
  }
  SmallVector<APFloat> newMin, newMax;
  for (int64_t ch = 0; ch < channels; ++ch) {
    numerics::Range r =
        numerics::observeUpdate({mins[ch], maxs[ch]}, batch[ch], getKind(), c);
    newMin.push_back(APFloat(r.min));
    newMax.push_back(APFloat(r.max));
  }
  results.push_back(DenseElementsAttr::get(stateType, newMin));
  results.push_back(DenseElementsAttr::get(stateType, newMax));
  return success();
}

LogicalResult ChooseQParamsOp::fold(FoldAdaptor adaptor,
                                    SmallVectorImpl<OpFoldResult> &results) {
  auto min = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getMin());
  auto max = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getMax());
  if (!min || !max)
    return failure();
  auto choose = [&](float lo, float hi) {
    return numerics::chooseQParams(lo, hi, getQuantMin(), getQuantMax(),
                                   getQscheme(), getReduceRange(),
                                   getEps().convertToFloat(), getPowerOfTwo());
  };
  auto zpOf = [](const numerics::QParams &q) {
    return APInt(32, static_cast<uint64_t>(int64_t(q.zeroPoint)),
                 /*isSigned=*/true);
  };
  auto scaleType = cast<ShapedType>(getScale().getType());
  auto zpType = cast<ShapedType>(getZeroPoint().getType());
  // Two splats: one set of parameters for every channel (O(1)).
  if (min.isSplat() && max.isSplat()) {
    numerics::QParams q = choose(min.getSplatValue<APFloat>().convertToFloat(),
                                 max.getSplatValue<APFloat>().convertToFloat());
    results.push_back(DenseElementsAttr::get(scaleType, APFloat(q.scale)));
    results.push_back(DenseElementsAttr::get(zpType, zpOf(q)));
    return success();
  }
  // Otherwise one of them stores every element: bounded by that storage.
  SmallVector<float> mins = getFloats(min), maxs = getFloats(max);
  SmallVector<APFloat> scales;
  SmallVector<APInt> zps;
  for (auto [lo, hi] : llvm::zip(mins, maxs)) {
    numerics::QParams q = choose(lo, hi);
    scales.push_back(APFloat(q.scale));
    zps.push_back(zpOf(q));
  }
  results.push_back(DenseElementsAttr::get(scaleType, scales));
  results.push_back(DenseElementsAttr::get(zpType, zps));
  return success();
}

namespace {
/// fake_quant(fake_quant(x, s, z), s, z) -> fake_quant(x, s, z) when the
/// parameters are constants for which fake quantization is idempotent
/// (numerics::isFakeQuantIdempotent: exact, not approximate).
struct FoldRepeatedFakeQuant : OpRewritePattern<FakeQuantOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(FakeQuantOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<FakeQuantOp>();
    if (!inner || inner.getScale() != op.getScale() ||
        inner.getZeroPoint() != op.getZeroPoint() ||
        inner.getQuantMin() != op.getQuantMin() ||
        inner.getQuantMax() != op.getQuantMax() ||
        inner.getAxis() != op.getAxis() ||
        inner.getRounding() != op.getRounding())
      return rewriter.notifyMatchFailure(op, "not the same fake quantization");
    DenseFPElementsAttr scale;
    if (!matchPattern(op.getScale(), m_Constant(&scale)))
      return rewriter.notifyMatchFailure(op, "scale is not a constant");
    for (APFloat s : getStoredValues<APFloat>(scale))
      if (!numerics::isFakeQuantIdempotent(s.convertToFloat(), op.getQuantMin(),
                                           op.getQuantMax()))
        return rewriter.notifyMatchFailure(op, "not provably idempotent");
    rewriter.replaceOp(op, inner.getResult());
    return success();
  }
};
} // namespace

SmallVector<Value> FakeQuantOp::buildGradients(OpBuilder &builder,
                                               ValueRange resultGradients) {
  Value dx = FakeQuantGradOp::create(builder, getLoc(), resultGradients.front(),
                                     getInput(), getScale(), getZeroPoint(),
                                     getQuantMinAttr(), getQuantMaxAttr(),
                                     getAxisAttr(), getRoundingAttr());
  return {dx, Value(), Value()};
}

void FakeQuantOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<FoldRepeatedFakeQuant>(context);
}

//===----------------------------------------------------------------------===//
// FakeQuantGradOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantGradOp::verify() {
  return verifyFakeQuantLike(*this, getInput(), getScale(), getZeroPoint(),
                             getQuantMin(), getQuantMax(), getAxis(),
                             /*intZeroPoint=*/true);
}

//===----------------------------------------------------------------------===//
// LSQOp / LSQGradOp
//===----------------------------------------------------------------------===//

LogicalResult LSQOp::verify() {
  if (failed(verifyFakeQuantLike(*this, getInput(), getScale(), getZeroPoint(),
                                 getQuantMin(), getQuantMax(), getAxis(),
                                 /*intZeroPoint=*/false)))
    return failure();
  return verifyGradFactor(*this, getGradFactor().convertToDouble());
}

SmallVector<Value> LSQOp::buildGradients(OpBuilder &builder,
                                         ValueRange resultGradients) {
  auto grads =
      LSQGradOp::create(builder, getLoc(), resultGradients.front(), getInput(),
                        getScale(), getZeroPoint(), getQuantMinAttr(),
                        getQuantMaxAttr(), getAxisAttr(), getGradFactorAttr());
  return {grads.getGradInput(), grads.getGradScale(), grads.getGradZeroPoint()};
}

LogicalResult LSQGradOp::verify() {
  if (failed(verifyFakeQuantLike(*this, getInput(), getScale(), getZeroPoint(),
                                 getQuantMin(), getQuantMax(), getAxis(),
                                 /*intZeroPoint=*/false)))
    return failure();
  return verifyGradFactor(*this, getGradFactor().convertToDouble());
}

//===----------------------------------------------------------------------===//
// ObserverOp
//===----------------------------------------------------------------------===//

LogicalResult ObserverOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyParamShapes(*this, inputType, getAxis(),
                               {{"min", getMin()}, {"max", getMax()}})))
    return failure();
  float c = getAveragingConstant().convertToFloat();
  if (!(c > 0.0f && c <= 1.0f))
    return emitOpError("requires averaging_constant in (0, 1], got ") << c;
  return success();
}

//===----------------------------------------------------------------------===//
// ChooseQParamsOp
//===----------------------------------------------------------------------===//

int64_t ChooseQParamsOp::getEffectiveQuantMin() {
  return getReduceRange() ? numerics::reduceRangeBound(getQuantMin())
                          : getQuantMin();
}
int64_t ChooseQParamsOp::getEffectiveQuantMax() {
  return getReduceRange() ? numerics::reduceRangeBound(getQuantMax())
                          : getQuantMax();
}

LogicalResult ChooseQParamsOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())))
    return failure();
  if (getEffectiveQuantMin() >= getEffectiveQuantMax())
    return emitOpError("requires a non-empty range after reduce_range, got [")
           << getEffectiveQuantMin() << ", " << getEffectiveQuantMax() << "]";
  auto minType = cast<RankedTensorType>(getMin().getType());
  if (minType.getRank() > 1)
    return emitOpError("requires 'min' and 'max' of rank 0 (per tensor) or 1 "
                       "(per axis), got ")
           << minType;
  if (cast<RankedTensorType>(getZeroPoint().getType()).getShape() !=
      minType.getShape())
    return emitOpError("requires 'zero_point' of the shape of 'min', got ")
           << getZeroPoint().getType() << " for " << minType;
  float eps = getEps().convertToFloat();
  if (!(eps > 0.0f) || !std::isfinite(eps))
    return emitOpError("requires a positive finite eps, got ") << eps;
  return success();
}
