//===- FloatKernelOps.cpp - the f32 packed kernels ------------------------===//
//
// Verifiers, memory effects and One-Shot Bufferize of qat.packed_conv2d_f32
// and qat.packed_depthwise_conv2d_f32 (QATFloatKernelOps.td).
//
//===----------------------------------------------------------------------===//

#include "Verification.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::detail;

/// Each epilogue input broadcasts to `out` (rank 4, dimensions equal or 1).
static LogicalResult verifyEpilogueInputs(Operation *op, ValueRange inputs,
                                          ShapedType out) {
  for (auto [i, e] : llvm::enumerate(inputs)) {
    auto t = cast<ShapedType>(e.getType());
    bool ok = t.getRank() == 4;
    for (int64_t d = 0; ok && d < 4; ++d)
      ok = t.getDimSize(d) == 1 || t.getDimSize(d) == out.getDimSize(d);
    if (!ok)
      return op->emitOpError("epilogue input #")
             << i << " of type " << e.getType()
             << " does not broadcast to the output " << out
             << " (rank 4, each dimension equal or 1)";
  }
  return success();
}

/// Checks shared by the forward f32 kernels: those of every windowed kernel
/// (static shapes, NHWC ranks, the window attributes and output size), the
/// epilogue inputs' shapes and tensor/memref consistency.
static LogicalResult verifyF32Kernel(Operation *op, Value input, Value init,
                                     ValueRange epilogueInputs, int64_t kh,
                                     int64_t kw, ArrayRef<int64_t> st,
                                     ArrayRef<int64_t> pd,
                                     ArrayRef<int64_t> dl) {
  if (failed(verifyWindowedKernel(op, input, init,
                                  /*outPad=*/std::nullopt, kh, kw, st, pd,
                                  dl)) ||
      failed(verifyEpilogueInputs(op, epilogueInputs,
                                  cast<ShapedType>(init.getType()))))
    return failure();
  return verifyTensorsOrMemRefs(op, init.getType());
}

/// The epilogue region: empty, or one block with arguments (acc, e_1, ...,
/// e_k) of type f32, elementwise arith/math ops on f32 and i1, and a
/// qat.yield of one f32.
static LogicalResult verifyEpilogue(Operation *op, Region &region,
                                    size_t numInputs) {
  if (region.empty())
    return success();
  Block &block = region.front();
  Type f32 = Float32Type::get(op->getContext());
  if (block.getNumArguments() != numInputs + 1 ||
      llvm::any_of(block.getArgumentTypes(), [&](Type t) { return t != f32; }))
    return op->emitOpError("epilogue block must take ")
           << numInputs + 1
           << " f32 arguments (the accumulator and one element per epilogue "
              "input)";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      yield.getValues()[0].getType() != f32)
    return op->emitOpError("epilogue must end with qat.yield of one f32");
  for (Operation &inner : block.without_terminator()) {
    bool elementwise =
        isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) &&
        inner.getNumRegions() == 0 && inner.getNumResults() == 1;
    auto scalar = [&](Type t) { return t == f32 || t.isInteger(1); };
    if (!elementwise || !llvm::all_of(inner.getOperandTypes(), scalar) ||
        !llvm::all_of(inner.getResultTypes(), scalar))
      return inner.emitOpError("is not an elementwise arith or math op on f32 "
                               "or i1, which an f32 kernel's epilogue needs");
  }
  return success();
}

LogicalResult PackedConv2DF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType in = shapeOf(getInput()), w = shapeOf(getWeights()),
             out = shapeOf(getInit()), bias = shapeOf(getBias());
  if (in.getRank() != 4)
    return emitOpError("requires an NHWC input of rank 4");
  int64_t groups = getNumGroups();
  if (groups < 1)
    return emitOpError("requires groups >= 1, got ") << groups;
  if (in.getRank() == 4 && out.getRank() == 4 &&
      (in.getDimSize(3) % groups || out.getDimSize(3) % groups))
    return emitOpError("requires input and output channels (")
           << in.getDimSize(3) << ", " << out.getDimSize(3)
           << ") divisible by groups = " << groups;
  // The channels one output channel reads.
  int64_t c = in.getDimSize(3) / groups;
  if (w.getRank() != 4 || w.getDimSize(3) != 16 || c <= 0 ||
      w.getDimSize(2) % c != 0 || w.getDimSize(2) == 0)
    return emitOpError("requires weights of shape NB x KH x (KW * C) x 16 "
                       "with C = ")
           << c << (groups > 1 ? " (channels per group)" : "") << ", got " << w;
  if (failed(verifyF32Kernel(*this, getInput(), getInit(), getEpilogueInputs(),
                             w.getDimSize(1), w.getDimSize(2) / c, getStride(),
                             getPad(), getDilation())))
    return failure();
  int64_t nb = w.getDimSize(0);
  if (nb != groups * int64_t(llvm::divideCeil(out.getDimSize(3) / groups, 16)))
    return emitOpError("weights hold ")
           << nb << " blocks of 16 output channels, init has "
           << out.getDimSize(3) << " channels"
           << (groups > 1 ? " in " + std::to_string(groups) + " groups" : "");
  if (bias.getRank() != 1 || bias.getDimSize(0) != nb * 16)
    return emitOpError("requires a bias of ")
           << nb * 16 << " entries (16 per block of output channels)";
  return success();
}

LogicalResult PackedConv2DF32Op::verifyRegions() {
  return verifyEpilogue(*this, getEpilogue(), getEpilogueInputs().size());
}

LogicalResult PackedDepthwiseConv2DF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  ShapedType in = shapeOf(getInput()), w = shapeOf(getWeights()),
             out = shapeOf(getInit()), bias = shapeOf(getBias());
  if (w.getRank() != 3)
    return emitOpError("requires weights of shape KH x KW x CP, got ") << w;
  if (failed(verifyF32Kernel(*this, getInput(), getInit(), getEpilogueInputs(),
                             w.getDimSize(0), w.getDimSize(1), getStride(),
                             getPad(), getDilation())))
    return failure();
  int64_t c = in.getDimSize(3), cp = llvm::alignTo(c, 16);
  if (out.getDimSize(3) != c)
    return emitOpError("requires as many output channels as input channels "
                       "(channel multiplier 1), got ")
           << out.getDimSize(3) << " and " << c;
  if (w.getDimSize(2) != cp)
    return emitOpError("requires weights padded to ")
           << cp << " channels (16 * ceil(C / 16)), got " << w.getDimSize(2);
  if (bias.getRank() != 1 || bias.getDimSize(0) != cp)
    return emitOpError("requires a bias of ")
           << cp << " entries (the padded channel count)";
  return success();
}

LogicalResult PackedDepthwiseConv2DF32Op::verifyRegions() {
  return verifyEpilogue(*this, getEpilogue(), getEpilogueInputs().size());
}

/// Window attributes and tensor/memref consistency of the backward kernels:
/// `x` (N x H x W x I) is the forward's input shape, `dy` (N x Ho x Wo x O)
/// its output's, `w` (O x KH x KW x I) its weight's.
static LogicalResult verifyBackwardKernel(Operation *op, ShapedType x,
                                          ShapedType dy, ShapedType w,
                                          ArrayRef<int64_t> pd,
                                          ArrayRef<int64_t> st,
                                          ArrayRef<int64_t> dl) {
  if (failed(verifyStaticShapes(op)))
    return failure();
  if (x.getRank() != 4 || dy.getRank() != 4 || w.getRank() != 4)
    return op->emitOpError("requires NHWC activations and OHWI weights of "
                           "rank 4");
  if (failed(verifyWindowAttrs(op, st, pd, dl)))
    return failure();
  int64_t ho = windowOutSize(x.getDimSize(1), w.getDimSize(1), st[0], dl[0],
                             pd[0], pd[1]);
  int64_t wo = windowOutSize(x.getDimSize(2), w.getDimSize(2), st[1], dl[1],
                             pd[2], pd[3]);
  if (dy.getDimSize(0) != x.getDimSize(0) || dy.getDimSize(1) != ho ||
      dy.getDimSize(2) != wo || dy.getDimSize(3) != w.getDimSize(0) ||
      x.getDimSize(3) != w.getDimSize(3))
    return op->emitOpError("shapes do not form a convolution: input ")
           << x << ", weight " << w << ", output gradient " << dy
           << " (expected " << x.getDimSize(0) << " x " << ho << " x " << wo
           << " x " << w.getDimSize(0) << ")";
  return verifyTensorsOrMemRefs(op, op->getOperands().back().getType());
}

LogicalResult Conv2DBackwardDataF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  if (failed(verifyBackwardKernel(
          *this, shapeOf(getInit()), shapeOf(getGradOutput()),
          shapeOf(getWeight()), getPad(), getStride(), getDilation())))
    return failure();
  return verifyEpilogueInputs(*this, getEpilogueInputs(), shapeOf(getInit()));
}

LogicalResult Conv2DBackwardDataF32Op::verifyRegions() {
  return verifyEpilogue(*this, getEpilogue(), getEpilogueInputs().size());
}

LogicalResult Conv2DBackwardWeightF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  if (failed(verifyBackwardKernel(*this, shapeOf(getInput()),
                                  shapeOf(getGradOutput()), shapeOf(getInit()),
                                  getPad(), getStride(), getDilation())))
    return failure();
  return verifyEpilogueInputs(*this, getEpilogueInputs(), shapeOf(getInit()));
}

LogicalResult Conv2DBackwardWeightF32Op::verifyRegions() {
  return verifyEpilogue(*this, getEpilogue(), getEpilogueInputs().size());
}

/// The depthwise adjoints (channel multiplier 1): `x` N x H x W x C, `dy`
/// N x Ho x Wo x C, `w` KH x KW x C x 1.
static LogicalResult verifyDepthwiseBackwardKernel(Operation *op, ShapedType x,
                                                   ShapedType dy, ShapedType w,
                                                   ArrayRef<int64_t> pd,
                                                   ArrayRef<int64_t> st,
                                                   ArrayRef<int64_t> dl) {
  if (w.getRank() != 4 || w.getDimSize(3) != 1)
    return op->emitOpError("requires KH x KW x C x 1 weights (channel "
                           "multiplier 1), got ")
           << w;
  // As an OHWI convolution of C output channels with one input channel
  // each, apart from the channel counts.
  auto asConv = RankedTensorType::get(
      {w.getDimSize(2), w.getDimSize(0), w.getDimSize(1), x.getDimSize(3)},
      w.getElementType());
  if (failed(verifyBackwardKernel(op, x, dy, asConv, pd, st, dl)))
    return failure();
  if (w.getDimSize(2) != x.getDimSize(3))
    return op->emitOpError("weights hold ")
           << w.getDimSize(2) << " channels, the input " << x.getDimSize(3);
  return success();
}

LogicalResult DepthwiseConv2DBackwardDataF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  if (failed(verifyDepthwiseBackwardKernel(
          *this, shapeOf(getInit()), shapeOf(getGradOutput()),
          shapeOf(getWeight()), getPad(), getStride(), getDilation())))
    return failure();
  return verifyEpilogueInputs(*this, getEpilogueInputs(), shapeOf(getInit()));
}

LogicalResult DepthwiseConv2DBackwardDataF32Op::verifyRegions() {
  return verifyEpilogue(*this, getEpilogue(), getEpilogueInputs().size());
}

LogicalResult DepthwiseConv2DBackwardWeightF32Op::verify() {
  auto shapeOf = [](Value v) { return cast<ShapedType>(v.getType()); };
  return verifyDepthwiseBackwardKernel(
      *this, shapeOf(getInput()), shapeOf(getGradOutput()), shapeOf(getInit()),
      getPad(), getStride(), getDilation());
}

LogicalResult PackConvWeightsF32Op::verify() {
  auto w = cast<ShapedType>(getWeights().getType());
  auto p = cast<ShapedType>(getInit().getType());
  if (!w.hasStaticShape() || !p.hasStaticShape())
    return emitOpError("requires static shapes");
  if (w.getRank() == 2) {
    if (p.getRank() != 4 ||
        p.getDimSize(0) != int64_t(llvm::divideCeil(w.getDimSize(1), 16)) ||
        p.getDimSize(1) != 1 || p.getDimSize(2) != w.getDimSize(0) ||
        p.getDimSize(3) != 16)
      return emitOpError("packs a K x N matmul operand into ceil(N / 16) x 1 "
                         "x K x 16, got ")
             << w << " into " << p;
  } else if (w.getRank() != 4 || p.getRank() != 4 ||
             p.getDimSize(0) !=
                 int64_t(llvm::divideCeil(w.getDimSize(0), 16)) ||
             p.getDimSize(1) != w.getDimSize(1) ||
             p.getDimSize(2) != w.getDimSize(2) * w.getDimSize(3) ||
             p.getDimSize(3) != 16)
    return emitOpError("packs O x KH x KW x C weights into ceil(O / 16) x KH "
                       "x (KW * C) x 16, got ")
           << w << " into " << p;
  return verifyTensorsOrMemRefs(*this, p);
}

void PackedConv2DF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void PackedDepthwiseConv2DF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void Conv2DBackwardDataF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void Conv2DBackwardWeightF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void DepthwiseConv2DBackwardDataF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void DepthwiseConv2DBackwardWeightF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

void PackConvWeightsF32Op::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  kernelEffects(*this, getInitMutable(), effects);
}

namespace {
/// One-Shot Bufferize of the destination-passing f32 kernels: the memref
/// form (same operands, attributes and epilogue region, no result) writes
/// into the buffer of `init`, which becomes the result.
template <typename OpTy>
struct F32KernelBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          F32KernelBufferization<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const bufferization::BufferizationOptions &options,
                          bufferization::BufferizationState &state) const {
    SmallVector<Value> buffers;
    for (Value v : op->getOperands()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, v, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    OperationState memrefForm(op->getLoc(), op->getName());
    memrefForm.addOperands(buffers);
    memrefForm.addAttributes(op->getAttrs());
    for (unsigned i = 0; i < op->getNumRegions(); ++i)
      memrefForm.addRegion();
    Operation *created = rewriter.create(memrefForm);
    for (unsigned i = 0; i < op->getNumRegions(); ++i)
      rewriter.inlineRegionBefore(op->getRegion(i), created->getRegion(i),
                                  created->getRegion(i).end());
    bufferization::replaceOpWithBufferizedValues(rewriter, op, buffers.back());
    return success();
  }
};
} // namespace

void mlir::qat::attachFloatKernelInterfaces(MLIRContext *ctx) {
  PackedConv2DF32Op::attachInterface<F32KernelBufferization<PackedConv2DF32Op>>(
      *ctx);
  PackedDepthwiseConv2DF32Op::attachInterface<
      F32KernelBufferization<PackedDepthwiseConv2DF32Op>>(*ctx);
  Conv2DBackwardDataF32Op::attachInterface<
      F32KernelBufferization<Conv2DBackwardDataF32Op>>(*ctx);
  Conv2DBackwardWeightF32Op::attachInterface<
      F32KernelBufferization<Conv2DBackwardWeightF32Op>>(*ctx);
  DepthwiseConv2DBackwardDataF32Op::attachInterface<
      F32KernelBufferization<DepthwiseConv2DBackwardDataF32Op>>(*ctx);
  DepthwiseConv2DBackwardWeightF32Op::attachInterface<
      F32KernelBufferization<DepthwiseConv2DBackwardWeightF32Op>>(*ctx);
  PackConvWeightsF32Op::attachInterface<
      F32KernelBufferization<PackConvWeightsF32Op>>(*ctx);
}
