//===- IntegerKernelOps.cpp - the int8 kernel ops -------------------------===//
//
// Verifiers and memory effects of qat.integer_kernel and of the packed int8
// kernels qat.packed_conv2d and qat.packed_depthwise_conv2d (QATOps.td).
//
//===----------------------------------------------------------------------===//

#include "Verification.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::detail;

//===----------------------------------------------------------------------===//
// IntegerKernelOp
//===----------------------------------------------------------------------===//

/// float_zero_point_offset: what is added to the zero point in f32 (128 for
/// u8 codes kept in i8), in [0, 255].
static LogicalResult verifyFloatZeroPointOffset(Operation *op, int64_t c) {
  if (c < 0 || c > 255)
    return op->emitOpError("requires float_zero_point_offset in [0, 255], "
                           "got ")
           << c;
  return success();
}

/// The packed kernels' float_bias: `entries` values, with the offset and
/// without a residual.
static LogicalResult verifyPackedFloatBias(Operation *op, Value floatBias,
                                           std::optional<uint64_t> offset,
                                           bool residual, int64_t entries) {
  if (bool(floatBias) != offset.has_value())
    return op->emitOpError("requires float_bias and float_zero_point_offset "
                           "together");
  if (!floatBias)
    return success();
  if (residual)
    return op->emitOpError("takes float_bias only without a residual");
  auto t = cast<ShapedType>(floatBias.getType());
  if (t.getRank() != 1 || t.getDimSize(0) != entries)
    return op->emitOpError("requires a float_bias of ")
           << entries << " entries, got " << t;
  return verifyFloatZeroPointOffset(op, int64_t(*offset));
}

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
  if (bool(getFloatBias()) != bool(getFloatZeroPointOffsetAttr()))
    return emitOpError("requires float_bias and float_zero_point_offset "
                       "together");
  if (getFloatBias()) {
    if (!isFloatMultiplier() || residual)
      return emitOpError("takes float_bias only with an f32 multiplier and "
                         "no residual");
    if (!perTensorOrChannel(getFloatBias()))
      return emitOpError("requires a float_bias of rank 0 or with one value "
                         "per output channel (")
             << channels << "), got " << getFloatBias().getType();
    if (failed(verifyFloatZeroPointOffset(*this, *getFloatZeroPointOffset())))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// PackedConv2DOp
//===----------------------------------------------------------------------===//

/// Checks shared by the packed int8 kernels: the window
/// (verifyWindowedKernel), the code range, the input zero point and
/// tensor/memref consistency. `kh`/`kw` are the kernel's window.
static LogicalResult verifyPackedKernel(Operation *op, Value input, Value init,
                                        std::optional<ArrayRef<int64_t>> outPad,
                                        int64_t kh, int64_t kw,
                                        ArrayRef<int64_t> st,
                                        ArrayRef<int64_t> pd,
                                        ArrayRef<int64_t> dl, int64_t qmin,
                                        int64_t qmax, int64_t zin) {
  if (failed(verifyWindowedKernel(op, input, init, outPad, kh, kw, st, pd, dl)))
    return failure();
  if (failed(verifyQuantRange(op, qmin, qmax)))
    return failure();
  if (qmin < -128 || qmax > 127)
    return op->emitOpError("requires an i8 code range, got [")
           << qmin << ", " << qmax << "]";
  if (zin < -128 || zin > 127)
    return op->emitOpError("requires input_zero_point in [-128, 127], got ")
           << zin;
  return verifyTensorsOrMemRefs(op, init.getType());
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
  return verifyPackedFloatBias(*this, getFloatBias(), getFloatZeroPointOffset(),
                               bool(getResidual()), nb * 16);
}

void PackedConv2DOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
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
  if (failed(verifyDepthwiseChannels(*this, in, out, w)))
    return failure();
  int64_t cp = llvm::alignTo(in.getDimSize(3), 16);
  if (bias.getRank() != 1 || bias.getDimSize(0) != cp || mult.getRank() != 1 ||
      mult.getDimSize(0) != cp)
    return emitOpError("requires bias and multiplier of ")
           << cp << " entries (the padded channel count)";
  return verifyPackedFloatBias(*this, getFloatBias(), getFloatZeroPointOffset(),
                               /*residual=*/false, cp);
}

void PackedDepthwiseConv2DOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}
