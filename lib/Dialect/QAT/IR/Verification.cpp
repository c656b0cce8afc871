//===- Verification.cpp - checks shared by the qat op verifiers -----------===//
//
// The checks that several qat ops' verifiers share (Verification.h): code
// ranges, quantization parameters, and the windows, tensor/memref forms and
// memory effects of the packed int8 and f32 kernels.
//
//===----------------------------------------------------------------------===//

#include "Verification.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::detail;

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

LogicalResult mlir::qat::detail::verifyRequantization(
    Operation *op, Value input, int64_t qmin, int64_t qmax,
    std::optional<int64_t> axis, ArrayRef<std::pair<StringRef, Value>> params,
    ArrayRef<Value> floatMultipliers, Value shift) {
  if (failed(verifyQuantRange(op, qmin, qmax)) ||
      failed(verifyParamShapes(op, cast<RankedTensorType>(input.getType()),
                               axis, params)))
    return failure();
  for (Value multiplier : floatMultipliers)
    if (failed(verifyConstantScale(op, multiplier)))
      return failure();
  return shift ? verifyConstantShifts(op, shift) : success();
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
// Windowed kernels (the packed int8 and f32 kernels)
//===----------------------------------------------------------------------===//

int64_t mlir::qat::detail::windowOutSize(int64_t size, int64_t k, int64_t s,
                                         int64_t d, int64_t padLo,
                                         int64_t padHi) {
  int64_t span = size + padLo + padHi - (k - 1) * d - 1;
  return span < 0 ? int64_t(-1) : span / s + 1;
}

LogicalResult mlir::qat::detail::verifyStaticShapes(Operation *op) {
  for (Value v : op->getOperands())
    if (!cast<ShapedType>(v.getType()).hasStaticShape())
      return op->emitOpError("requires static shapes, got ") << v.getType();
  return success();
}

LogicalResult mlir::qat::detail::verifyWindowAttrs(Operation *op,
                                                   ArrayRef<int64_t> st,
                                                   ArrayRef<int64_t> pd,
                                                   ArrayRef<int64_t> dl) {
  if (st.size() != 2 || pd.size() != 4 || dl.size() != 2)
    return op->emitOpError("requires stride and dilation of 2 entries and pad "
                           "of 4");
  if (llvm::any_of(st, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(dl, [](int64_t v) { return v < 1; }) ||
      llvm::any_of(pd, [](int64_t v) { return v < 0; }))
    return op->emitOpError("requires stride and dilation >= 1 and pad >= 0");
  return success();
}

LogicalResult mlir::qat::detail::verifyWindowedKernel(
    Operation *op, Value input, Value init,
    std::optional<ArrayRef<int64_t>> outPad, int64_t kh, int64_t kw,
    ArrayRef<int64_t> st, ArrayRef<int64_t> pd, ArrayRef<int64_t> dl) {
  if (failed(verifyStaticShapes(op)))
    return failure();
  auto in = cast<ShapedType>(input.getType());
  auto out = cast<ShapedType>(init.getType());
  if (in.getRank() != 4 || out.getRank() != 4)
    return op->emitOpError("requires NHWC input and init of rank 4");
  if (failed(verifyWindowAttrs(op, st, pd, dl)))
    return failure();
  int64_t ho = windowOutSize(in.getDimSize(1), kh, st[0], dl[0], pd[0], pd[1]);
  int64_t wo = windowOutSize(in.getDimSize(2), kw, st[1], dl[1], pd[2], pd[3]);
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
  return success();
}

LogicalResult mlir::qat::detail::verifyDepthwiseChannels(Operation *op,
                                                         ShapedType in,
                                                         ShapedType out,
                                                         ShapedType w) {
  int64_t c = in.getDimSize(3), cp = llvm::alignTo(c, 16);
  if (out.getDimSize(3) != c)
    return op->emitOpError("requires as many output channels as input "
                           "channels (channel multiplier 1), got ")
           << out.getDimSize(3) << " and " << c;
  if (w.getDimSize(2) != cp)
    return op->emitOpError("requires weights padded to ")
           << cp << " channels (16 * ceil(C / 16)), got " << w.getDimSize(2);
  return success();
}

LogicalResult mlir::qat::detail::verifyTensorsOrMemRefs(Operation *op,
                                                        Type initType) {
  bool tensors = isa<RankedTensorType>(initType);
  for (Value v : op->getOperands())
    if (isa<RankedTensorType>(v.getType()) != tensors)
      return op->emitOpError("requires all operands to be tensors or all "
                             "memrefs");
  if (tensors &&
      (op->getNumResults() != 1 || op->getResult(0).getType() != initType))
    return op->emitOpError("on tensors requires one result of the init's "
                           "type");
  if (!tensors && op->getNumResults() != 0)
    return op->emitOpError("on memrefs has no result");
  return success();
}

void mlir::qat::detail::kernelEffects(
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
