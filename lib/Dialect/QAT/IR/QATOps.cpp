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
// Shared verification
//===----------------------------------------------------------------------===//

LogicalResult mlir::qat::detail::verifyQuantRange(Operation *op, int64_t qmin,
                                                  int64_t qmax) {
  if (qmin >= qmax)
    return op->emitOpError("requires quant_min < quant_max, got quant_min = ")
           << qmin << " and quant_max = " << qmax;
  if (qmin < -numerics::kMaxQuantMagnitude ||
      qmax > numerics::kMaxQuantMagnitude)
    return op->emitOpError("requires quant_min and quant_max within [")
           << -numerics::kMaxQuantMagnitude << ", "
           << numerics::kMaxQuantMagnitude
           << "] so codes are exact in f32, got [" << qmin << ", " << qmax
           << "]";
  return success();
}

/// Checks that the parameter operands are rank 0 (per tensor) or rank 1 with
/// the length of the input's dimension `axis` (per axis).
LogicalResult mlir::qat::detail::verifyParamShapes(
    Operation *op, RankedTensorType input, std::optional<int64_t> axis,
    ArrayRef<std::pair<StringRef, Value>> params) {
  if (axis) {
    if (*axis < 0 || *axis >= input.getRank())
      return op->emitOpError("axis ")
             << *axis << " is out of range for an input of rank "
             << input.getRank();
  }
  for (auto [name, value] : params) {
    auto type = cast<RankedTensorType>(value.getType());
    if (!axis) {
      if (type.getRank() != 0)
        return op->emitOpError("requires '")
               << name << "' to be a rank-0 tensor for per-tensor "
               << "quantization (no axis), got " << type;
      continue;
    }
    if (type.getRank() != 1)
      return op->emitOpError("requires '")
             << name << "' to be a rank-1 tensor for per-axis quantization "
             << "(axis = " << *axis << "), got " << type;
    int64_t want = input.getDimSize(*axis);
    int64_t have = type.getDimSize(0);
    if (!ShapedType::isDynamic(want) && !ShapedType::isDynamic(have) &&
        want != have)
      return op->emitOpError("requires '")
             << name << "' to have one element per index of dimension " << *axis
             << " of the input (" << want << "), got " << have;
  }
  return success();
}

LogicalResult mlir::qat::detail::verifyConstantScale(Operation *op,
                                                     Value scale) {
  DenseFPElementsAttr attr;
  if (!matchPattern(scale, m_Constant(&attr)))
    return success();
  int64_t i = 0;
  for (APFloat v : getStoredValues<APFloat>(attr)) {
    float f = v.convertToFloat();
    if (!(f > 0.0f) || !std::isfinite(f))
      return op->emitOpError("requires a positive finite scale, got ")
             << f << " at index " << i;
    ++i;
  }
  return success();
}

LogicalResult mlir::qat::detail::verifyConstantShifts(Operation *op,
                                                      Value shift) {
  DenseIntElementsAttr shifts;
  if (matchPattern(shift, m_Constant(&shifts)))
    for (APInt n : getStoredValues<APInt>(shifts))
      if (n.getSExtValue() < 2 || n.getSExtValue() > 62)
        return op->emitOpError("requires shifts in [2, 62], got ")
               << n.getSExtValue();
  return success();
}

LogicalResult mlir::qat::detail::verifyConstantZeroPoint(Operation *op,
                                                         Value zeroPoint,
                                                         int64_t qmin,
                                                         int64_t qmax) {
  DenseIntElementsAttr attr;
  if (!matchPattern(zeroPoint, m_Constant(&attr)))
    return success();
  int64_t i = 0;
  for (APInt v : getStoredValues<APInt>(attr)) {
    int64_t z = v.getSExtValue();
    if (z < qmin || z > qmax)
      return op->emitOpError("requires the zero point within [quant_min, "
                             "quant_max] = [")
             << qmin << ", " << qmax << "], got " << z << " at index " << i;
    ++i;
  }
  return success();
}

LogicalResult mlir::qat::detail::verifyFakeQuantLike(
    Operation *op, Value input, Value scale, Value zeroPoint, int64_t qmin,
    int64_t qmax, std::optional<int64_t> axis, bool intZeroPoint) {
  if (failed(verifyQuantRange(op, qmin, qmax)))
    return failure();
  auto inputType = cast<RankedTensorType>(input.getType());
  if (failed(verifyParamShapes(op, inputType, axis,
                               {{"scale", scale}, {"zero_point", zeroPoint}})))
    return failure();
  if (cast<RankedTensorType>(scale.getType()).getShape() !=
      cast<RankedTensorType>(zeroPoint.getType()).getShape())
    return op->emitOpError("requires 'scale' and 'zero_point' of one shape, "
                           "got ")
           << scale.getType() << " and " << zeroPoint.getType();
  if (failed(verifyConstantScale(op, scale)))
    return failure();
  if (intZeroPoint &&
      failed(verifyConstantZeroPoint(op, zeroPoint, qmin, qmax)))
    return failure();
  return success();
}

static LogicalResult verifyGradFactor(Operation *op, double g) {
  if (!std::isfinite(g))
    return op->emitOpError("requires a finite grad_factor, got ") << g;
  return success();
}

/// The code range must fit the integer element type of `codes`.
LogicalResult mlir::qat::detail::verifyCodeWidth(Operation *op, Value codes,
                                                 int64_t qmin, int64_t qmax) {
  if (!isa<IntegerType>(
          cast<RankedTensorType>(codes.getType()).getElementType()))
    return success(); // f32 codes (a simulation): any range is exact
  unsigned width =
      cast<RankedTensorType>(codes.getType()).getElementTypeBitWidth();
  int64_t lo = -(int64_t(1) << (width - 1)),
          hi = (int64_t(1) << (width - 1)) - 1;
  if (qmin < lo || qmax > hi)
    return op->emitOpError("requires [quant_min, quant_max] = [")
           << qmin << ", " << qmax << "] within the range of i" << width << " ["
           << lo << ", " << hi << "]";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp, DequantizeOp, RequantizeOp
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  if (failed(verifyFakeQuantLike(*this, getInput(), getScale(), getZeroPoint(),
                                 getQuantMin(), getQuantMax(), getAxis(),
                                 /*intZeroPoint=*/true)))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult DequantizeOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyParamShapes(
          *this, inputType, getAxis(),
          {{"scale", getScale()}, {"zero_point", getZeroPoint()}})))
    return failure();
  return verifyConstantScale(*this, getScale());
}

LogicalResult RescaleOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())))
    return failure();
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyParamShapes(*this, inputType, getAxis(),
                               {{"multiplier", getMultiplier()},
                                {"shift", getShift()},
                                {"zero_point", getZeroPoint()}})))
    return failure();
  if (failed(verifyConstantShifts(*this, getShift())))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RequantizeAddOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())))
    return failure();
  auto inputType = cast<RankedTensorType>(getLhs().getType());
  if (failed(verifyParamShapes(*this, inputType, getAxis(),
                               {{"lhs_multiplier", getLhsMultiplier()},
                                {"lhs_zero_point", getLhsZeroPoint()},
                                {"rhs_multiplier", getRhsMultiplier()},
                                {"rhs_zero_point", getRhsZeroPoint()},
                                {"zero_point", getZeroPoint()}})))
    return failure();
  if (failed(verifyConstantScale(*this, getLhsMultiplier())) ||
      failed(verifyConstantScale(*this, getRhsMultiplier())))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RescaleAddOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())))
    return failure();
  auto inputType = cast<RankedTensorType>(getLhs().getType());
  if (failed(verifyParamShapes(*this, inputType, getAxis(),
                               {{"lhs_multiplier", getLhsMultiplier()},
                                {"lhs_zero_point", getLhsZeroPoint()},
                                {"rhs_multiplier", getRhsMultiplier()},
                                {"rhs_zero_point", getRhsZeroPoint()},
                                {"shift", getShift()},
                                {"zero_point", getZeroPoint()}})))
    return failure();
  if (failed(verifyConstantShifts(*this, getShift())))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

LogicalResult RequantizeOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())))
    return failure();
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (failed(verifyParamShapes(
          *this, inputType, getAxis(),
          {{"multiplier", getMultiplier()}, {"zero_point", getZeroPoint()}})))
    return failure();
  if (failed(verifyConstantScale(*this, getMultiplier())))
    return failure();
  return verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax());
}

//===----------------------------------------------------------------------===//
// IntegerKernelOp
//===----------------------------------------------------------------------===//

LogicalResult IntegerKernelOp::verify() {
  if (failed(verifyQuantRange(*this, getQuantMin(), getQuantMax())) ||
      failed(verifyCodeWidth(*this, getOutput(), getQuantMin(), getQuantMax())))
    return failure();
  auto inType = getInput().getType();
  auto wType = getWeights().getType();
  auto outType = getOutput().getType();
  if (!inType.hasStaticShape() || !wType.hasStaticShape() ||
      !outType.hasStaticShape())
    return emitOpError("requires static shapes, got ")
           << inType << ", " << wType << " -> " << outType;
  for (auto [name, z] : {std::pair<StringRef, int64_t>{
                             "input_zero_point", int64_t(getInputZeroPoint())},
                         {"output_zero_point", int64_t(getOutputZeroPoint())}})
    if (z < -128 || z > 127)
      return emitOpError("requires an i8 ") << name << ", got " << z;

  // Shapes by kind; O output channels.
  ArrayRef<int64_t> in = inType.getShape(), w = wType.getShape(),
                    out = outType.getShape();
  bool isConv = getKind() != KernelKind::matmul;
  if (isConv != bool(getPad()) || isConv != bool(getStride()) ||
      isConv != bool(getDilation()))
    return emitOpError("requires pad, stride and dilation for a "
                       "convolution and none for a matmul");
  int64_t channels = 0;
  if (isConv) {
    if (in.size() != 4 || w.size() != 4 || out.size() != 4)
      return emitOpError("requires rank-4 input, weights and result for ")
             << stringifyKernelKind(getKind());
    bool depthwise = getKind() == KernelKind::depthwise_conv2d;
    int64_t wc = depthwise ? w[2] : w[3];
    if (wc != in[3])
      return emitOpError("requires weights over the ")
             << in[3] << " input channels, got " << wType;
    channels = depthwise ? w[2] * w[3] : w[0];
    ArrayRef<int64_t> pad = *getPad(), stride = *getStride(),
                      dil = *getDilation();
    if (pad.size() != 4 || stride.size() != 2 || dil.size() != 2 ||
        llvm::any_of(pad, [](int64_t p) { return p < 0; }) ||
        llvm::any_of(stride, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(dil, [](int64_t v) { return v < 1; }))
      return emitOpError("requires pad = [top, bottom, left, right] >= 0, "
                         "stride and dilation of 2 values >= 1");
    int64_t kh = depthwise ? w[0] : w[1], kw = depthwise ? w[1] : w[2];
    int64_t ho =
        (in[1] + pad[0] + pad[1] - (kh - 1) * dil[0] - 1) / stride[0] + 1;
    int64_t wo =
        (in[2] + pad[2] + pad[3] - (kw - 1) * dil[1] - 1) / stride[1] + 1;
    if (out[0] != in[0] || out[1] != ho || out[2] != wo || out[3] != channels)
      return emitOpError("requires the result ")
             << in[0] << "x" << ho << "x" << wo << "x" << channels
             << "xi8 of this window, got " << outType;
  } else {
    if (in.size() != 3 || w.size() != 3 || in[0] != 1 || w[0] != 1 ||
        w[1] != in[2])
      return emitOpError("requires a matmul of 1 x R x K input and 1 x K x O "
                         "weights, got ")
             << inType << " and " << wType;
    channels = w[2];
    if (out.empty() || out.back() != channels ||
        outType.getNumElements() != in[1] * channels)
      return emitOpError("requires a result of ")
             << in[1] * channels << " elements with " << channels
             << " in its last dimension, got " << outType;
  }

  auto bType = getBias().getType();
  if (bType.getRank() != 1 || bType.getDimSize(0) != channels)
    return emitOpError("requires one bias per output channel (")
           << channels << "), got " << bType;
  auto perTensorOrChannel = [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getRank() == 0 ||
           (t.getRank() == 1 && t.getDimSize(0) == channels);
  };
  if (!perTensorOrChannel(getMultiplier()))
    return emitOpError("requires a multiplier of rank 0 or with one value "
                       "per output channel (")
           << channels << "), got " << getMultiplier().getType();
  if (isFloatMultiplier()) {
    if (getShift())
      return emitOpError("takes a shift only with an i32 (fixed-point) "
                         "multiplier");
    if (failed(verifyConstantScale(*this, getMultiplier())))
      return failure();
  } else {
    if (!getShift() ||
        getShift().getType().getShape() != getMultiplier().getType().getShape())
      return emitOpError("requires a shift of the multiplier's shape with an "
                         "i32 (fixed-point) multiplier");
    DenseIntElementsAttr shifts;
    if (matchPattern(getShift(), m_Constant(&shifts)))
      for (APInt n : getStoredValues<APInt>(shifts))
        if (n.getSExtValue() < 2 || n.getSExtValue() > 62)
          return emitOpError("requires shifts in [2, 62], got ")
                 << n.getSExtValue();
  }
  bool residual = bool(getResidual());
  if (residual != bool(getResidualMultiplier()) ||
      residual != bool(getResidualZeroPointAttr()))
    return emitOpError("requires residual, residual_multiplier and "
                       "residual_zero_point together");
  if (residual) {
    if (getResidual().getType() != outType)
      return emitOpError("requires a residual of the result's type, got ")
             << getResidual().getType();
    if (getResidualMultiplier().getType() != getMultiplier().getType())
      return emitOpError("requires a residual_multiplier of the "
                         "multiplier's type, got ")
             << getResidualMultiplier().getType();
    int64_t zr = int64_t(*getResidualZeroPoint());
    if (zr < -128 || zr > 127)
      return emitOpError("requires an i8 residual_zero_point, got ") << zr;
  }
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

static SmallVector<float> getFloats(DenseFPElementsAttr attr) {
  SmallVector<float> out;
  for (APFloat v : attr.getValues<APFloat>())
    out.push_back(v.convertToFloat());
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
    int64_t i = 0;
    for (APFloat v : input.getValues<APFloat>()) {
      float x = v.convertToFloat();
      numerics::Range &r = batch[getAxis() ? (i++ / inner) % channels : 0];
      if (std::isnan(x))
        continue;
      r.min = std::min(r.min, x);
      r.max = std::max(r.max, x);
    }
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

//===----------------------------------------------------------------------===//
// PackedConv2DOp
//===----------------------------------------------------------------------===//

/// Checks shared by the packed kernels: static shapes, NHWC ranks, window
/// attributes, the output size, the code range, the input zero point and
/// tensor/memref consistency. `kh`/`kw` are the kernel's window.
static LogicalResult verifyPackedKernel(Operation *op, Value input, Value init,
                                        std::optional<ArrayRef<int64_t>> outPad,
                                        int64_t kh, int64_t kw,
                                        ArrayRef<int64_t> st,
                                        ArrayRef<int64_t> pd,
                                        ArrayRef<int64_t> dl, int64_t qmin,
                                        int64_t qmax, int64_t zin) {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  for (Value v : op->getOperands())
    if (!shapeOf(v).hasStaticShape())
      return op->emitOpError("requires static shapes, got ") << v.getType();
  ShapedType in = shapeOf(input), out = shapeOf(init);
  if (in.getRank() != 4 || out.getRank() != 4)
    return op->emitOpError("requires NHWC input and init of rank 4");
  if (st.size() != 2 || pd.size() != 4 || dl.size() != 2)
    return op->emitOpError("requires stride and dilation of 2 entries and pad "
                           "of 4");
  if (llvm::any_of(st, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(dl, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(pd, [](int64_t v) { return v < 0; }))
    return op->emitOpError("requires stride and dilation >= 1 and pad >= 0");
  auto outSize = [](int64_t size, int64_t k, int64_t s, int64_t d,
                    int64_t padLo, int64_t padHi) {
    int64_t span = size + padLo + padHi - (k - 1) * d - 1;
    return span < 0 ? int64_t(-1) : span / s + 1;
  };
  int64_t ho = outSize(in.getDimSize(1), kh, st[0], dl[0], pd[0], pd[1]);
  int64_t wo = outSize(in.getDimSize(2), kw, st[1], dl[1], pd[2], pd[3]);
  if (outPad) {
    if (outPad->size() != 4 ||
        llvm::any_of(*outPad, [](int64_t v) { return v < 0; }))
      return op->emitOpError("requires output_pad of 4 entries >= 0");
    if (ho >= 0)
      ho += (*outPad)[0] + (*outPad)[1];
    if (wo >= 0)
      wo += (*outPad)[2] + (*outPad)[3];
  }
  if (out.getDimSize(0) != in.getDimSize(0) || out.getDimSize(1) != ho ||
      out.getDimSize(2) != wo)
    return op->emitOpError("init shape ")
           << out << " does not match the convolution's output"
           << (outPad ? " with output_pad" : "") << " (" << in.getDimSize(0)
           << " x " << ho << " x " << wo << " x C)";
  if (failed(verifyQuantRange(op, qmin, qmax)))
    return failure();
  if (qmin < -128 || qmax > 127)
    return op->emitOpError("requires an i8 code range, got [")
           << qmin << ", " << qmax << "]";
  if (zin < -128 || zin > 127)
    return op->emitOpError("requires input_zero_point in [-128, 127], got ")
           << zin;
  bool tensors = isa<RankedTensorType>(out);
  for (Value v : op->getOperands())
    if (isa<RankedTensorType>(v.getType()) != tensors)
      return op->emitOpError("requires all operands to be tensors or all "
                             "memrefs");
  if (tensors &&
      (op->getNumResults() != 1 || op->getResult(0).getType() != out))
    return op->emitOpError("on tensors requires one result of the init's "
                           "type");
  if (!tensors && op->getNumResults() != 0)
    return op->emitOpError("on memrefs has no result");
  return success();
}

LogicalResult PackedConv2DOp::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType in = shapeOf(getInput()), w = shapeOf(getWeights()),
             out = shapeOf(getInit()), bias = shapeOf(getBias()),
             mult = shapeOf(getMultiplier());
  bool tiles = w.getRank() == 5;
  if ((w.getRank() != 6 && !tiles) || w.getDimSize(w.getRank() - 2) != 16 ||
      w.getDimSize(w.getRank() - 1) != 4)
    return emitOpError("requires weights of shape NB x KH x KW x C4 x 16 x "
                       "4, or NB x KH x G x 16 x 4 (tile layout), got ")
           << w;
  if (tiles != bool(getKernelWidth()))
    return emitOpError("requires kernel_width exactly when its weights are in "
                       "the tile layout (rank 5)");
  if (tiles && int64_t(*getKernelWidth()) < 1)
    return emitOpError("requires kernel_width >= 1, got ")
           << int64_t(*getKernelWidth());
  if (failed(verifyPackedKernel(*this, getInput(), getInit(), getOutputPad(),
                                getWindowHeight(), getWindowWidth(),
                                getStride(), getPad(), getDilation(),
                                int64_t(getQuantMin()), int64_t(getQuantMax()),
                                int64_t(getInputZeroPoint()))))
    return failure();
  int64_t nb = w.getDimSize(0);
  int64_t c4 = llvm::divideCeil(in.getDimSize(3), 4);
  if (!tiles && w.getDimSize(3) != c4)
    return emitOpError("weights hold ")
           << w.getDimSize(3) << " blocks of 4 input channels, the input has "
           << in.getDimSize(3) << " channels";
  if (tiles) {
    // Runs of L groups of 4 input channels (a kernel row, or a tap with
    // dilation), each padded to whole tiles of 16 groups.
    int64_t kw = getWindowWidth();
    bool rows = getDilation()[1] == 1;
    int64_t runs = rows ? 1 : kw, run = rows ? kw * c4 : c4;
    int64_t groups = runs * 16 * llvm::divideCeil(run, 16);
    if (w.getDimSize(2) != groups)
      return emitOpError("tile-layout weights hold ")
             << w.getDimSize(2) << " groups of 4 input channels per kernel "
             << "row, expected " << groups << " (" << runs << " x 16 * ceil("
             << run << " / 16))";
  }
  if (nb != int64_t(llvm::divideCeil(out.getDimSize(3), 16)))
    return emitOpError("weights hold ")
           << nb << " blocks of 16 output channels, init has "
           << out.getDimSize(3) << " channels";
  if (bias.getRank() != 1 || bias.getDimSize(0) != nb * 16 ||
      mult.getRank() != 1 || mult.getDimSize(0) != nb * 16)
    return emitOpError("requires bias and multiplier of ")
           << nb * 16 << " entries (16 per block of output channels)";
  if (bool(getResidual()) != bool(getResidualMultiplier()) ||
      bool(getResidual()) != bool(getResidualZeroPoint()))
    return emitOpError("requires residual_multiplier and residual_zero_point "
                       "exactly when it has a residual");
  if (getResidual()) {
    SmallVector<int64_t> unpadded(out.getShape());
    if (auto p = getOutputPad()) {
      unpadded[1] -= (*p)[0] + (*p)[1];
      unpadded[2] -= (*p)[2] + (*p)[3];
    }
    if (shapeOf(getResidual()).getShape() != ArrayRef<int64_t>(unpadded))
      return emitOpError("requires a residual of the output's shape");
  }
  if (getUnsignedResidual() && !getResidual())
    return emitOpError("has unsigned_residual but no residual");
  return success();
}

/// Reads every memref operand but `init`, writes `init`.
static void packedKernelEffects(
    Operation *op, OpOperand &init,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    if (&operand == &init)
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

void PackedConv2DOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  packedKernelEffects(*this, getInitMutable(), effects);
}

//===----------------------------------------------------------------------===//
// PackedDepthwiseConv2DOp
//===----------------------------------------------------------------------===//

LogicalResult PackedDepthwiseConv2DOp::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType in = shapeOf(getInput()), w = shapeOf(getWeights()),
             out = shapeOf(getInit()), bias = shapeOf(getBias()),
             mult = shapeOf(getMultiplier());
  if (w.getRank() != 3)
    return emitOpError("requires weights of shape KH x KW x CP, got ") << w;
  if (failed(verifyPackedKernel(*this, getInput(), getInit(), getOutputPad(),
                                w.getDimSize(0), w.getDimSize(1), getStride(),
                                getPad(), getDilation(), int64_t(getQuantMin()),
                                int64_t(getQuantMax()),
                                int64_t(getInputZeroPoint()))))
    return failure();
  int64_t c = in.getDimSize(3), cp = llvm::alignTo(c, 16);
  if (out.getDimSize(3) != c)
    return emitOpError("requires as many output channels as input channels "
                       "(channel multiplier 1), got ")
           << out.getDimSize(3) << " and " << c;
  if (w.getDimSize(2) != cp)
    return emitOpError("requires weights padded to ")
           << cp << " channels (16 * ceil(C / 16)), got " << w.getDimSize(2);
  if (bias.getRank() != 1 || bias.getDimSize(0) != cp || mult.getRank() != 1 ||
      mult.getDimSize(0) != cp)
    return emitOpError("requires bias and multiplier of ")
           << cp << " entries (the padded channel count)";
  return success();
}

void PackedDepthwiseConv2DOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  packedKernelEffects(*this, getInitMutable(), effects);
}
