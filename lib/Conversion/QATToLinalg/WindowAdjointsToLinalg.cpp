//===- WindowAdjointsToLinalg.cpp - window adjoints to linalg -------------===//
//
// The generic lowering of the convolution and pooling adjoints
// (QATTrainingOps.td): linalg.generic on tensors, with reductions in a fixed
// order. The fast kernels of the float path replace these; this is the
// reference every backend agrees with to float-sum tolerance.
//
// The data adjoints of a strided window op are written tap by tap: for each
// kernel position (kh, kw), the contribution of every output element lands
// at input position (oh * sh + kh * dh, ow * sw + kw * dw) of a padded
// accumulator, which is a strided slice of it. No zeros are multiplied.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "qat/Conversion/QATToLinalg/QATToLinalg.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::linalg_builders;
using utils::IteratorType;

namespace {

/// `x` (N x H x W x C) padded with `value`: [top, bottom, left, right].
Value padNHWC(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> pad,
              double value) {
  if (llvm::all_of(pad, [](int64_t p) { return p == 0; }))
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[1] += pad[0] + pad[1];
  shape[2] += pad[2] + pad[3];
  auto padType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<OpFoldResult> low{b.getIndexAttr(0), b.getIndexAttr(pad[0]),
                                b.getIndexAttr(pad[2]), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> high{b.getIndexAttr(0), b.getIndexAttr(pad[1]),
                                 b.getIndexAttr(pad[3]), b.getIndexAttr(0)};
  return tensor::PadOp::create(b, loc, padType, x, low, high,
                               cstF32(b, loc, value));
}

/// The accumulation of the data adjoints: a zero accumulator of the padded
/// input, one `addTap(acc slice, kh, kw)` per kernel position on the
/// strided slice that the tap's contributions land on, and the interior.
Value accumulateTaps(
    OpBuilder &b, Location loc, RankedTensorType inputType,
    RankedTensorType outputType, int64_t kh, int64_t kw, ArrayRef<int64_t> pad,
    ArrayRef<int64_t> stride, ArrayRef<int64_t> dilation,
    function_ref<Value(Value slice, int64_t i, int64_t j)> addTap) {
  int64_t n = inputType.getDimSize(0), h = inputType.getDimSize(1),
          w = inputType.getDimSize(2), c = inputType.getDimSize(3);
  int64_t oh = outputType.getDimSize(1), ow = outputType.getDimSize(2);
  int64_t hp = h + pad[0] + pad[1], wp = w + pad[2] + pad[3];
  Value acc = filled(b, loc, {n, hp, wp, c}, b.getF32FloatAttr(0.0));
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < kw; ++j) {
      SmallVector<OpFoldResult> offsets{
          b.getIndexAttr(0), b.getIndexAttr(i * dilation[0]),
          b.getIndexAttr(j * dilation[1]), b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(n), b.getIndexAttr(oh),
                                      b.getIndexAttr(ow), b.getIndexAttr(c)};
      SmallVector<OpFoldResult> strides{
          b.getIndexAttr(1), b.getIndexAttr(stride[0]),
          b.getIndexAttr(stride[1]), b.getIndexAttr(1)};
      auto sliceType =
          RankedTensorType::get({n, oh, ow, c}, inputType.getElementType());
      Value slice = tensor::ExtractSliceOp::create(b, loc, sliceType, acc,
                                                   offsets, sizes, strides);
      Value updated = addTap(slice, i, j);
      acc = tensor::InsertSliceOp::create(b, loc, updated, acc, offsets, sizes,
                                          strides);
    }
  }
  if (hp == h && wp == w)
    return acc;
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(pad[0]),
                                    b.getIndexAttr(pad[2]), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(n), b.getIndexAttr(h),
                                  b.getIndexAttr(w), b.getIndexAttr(c)};
  SmallVector<OpFoldResult> ones(4, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(b, loc, inputType, acc, offsets, sizes,
                                        ones);
}

/// A weight slice at kernel position (i, j): W[:, i, j, :] of OHWI (O x I)
/// or W[i, j, :, :] of HWCM (C x M).
Value weightTap(OpBuilder &b, Location loc, Value weight, int64_t i, int64_t j,
                bool ohwi) {
  auto type = cast<RankedTensorType>(weight.getType());
  SmallVector<OpFoldResult> offsets, sizes;
  SmallVector<int64_t> shape;
  if (ohwi) {
    offsets = {b.getIndexAttr(0), b.getIndexAttr(i), b.getIndexAttr(j),
               b.getIndexAttr(0)};
    sizes = {b.getIndexAttr(type.getDimSize(0)), b.getIndexAttr(1),
             b.getIndexAttr(1), b.getIndexAttr(type.getDimSize(3))};
    shape = {type.getDimSize(0), type.getDimSize(3)};
  } else {
    offsets = {b.getIndexAttr(i), b.getIndexAttr(j), b.getIndexAttr(0),
               b.getIndexAttr(0)};
    sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
             b.getIndexAttr(type.getDimSize(2)),
             b.getIndexAttr(type.getDimSize(3))};
    shape = {type.getDimSize(2), type.getDimSize(3)};
  }
  SmallVector<OpFoldResult> ones(4, b.getIndexAttr(1));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), weight,
      offsets, sizes, ones);
}

/// The data adjoint of a convolution (W is O x KH x KW x I) or, with
/// `depthwise`, of a depthwise convolution (W is KH x KW x C x M), tap by
/// tap (accumulateTaps).
template <typename OpTy, bool depthwise>
struct BackwardDataLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = this->getContext();
    auto inType = cast<RankedTensorType>(op.getGradInput().getType());
    auto outType = cast<RankedTensorType>(op.getGradOutput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    if (!inType.hasStaticShape() || !outType.hasStaticShape() ||
        !wType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    AffineMap dyMap, wMap;
    if (depthwise) {
      int64_t m = wType.getDimSize(3);
      // Per tap: slice[n, oh, ow, c] += sum over m of dy[n, oh, ow, c * M +
      // m] * W[kh, kw, c, m]; dims (n, oh, ow, c, m).
      dyMap = map(ctx, 5,
                  {d(ctx, 0), d(ctx, 1), d(ctx, 2), d(ctx, 3) * m + d(ctx, 4)});
      wMap = map(ctx, 5, {d(ctx, 3), d(ctx, 4)});
    } else {
      // Per tap: slice[n, oh, ow, i] += sum over o of dy[n, oh, ow, o] *
      // W[o, kh, kw, i]; dims (n, oh, ow, i, o).
      dyMap = map(ctx, 5, {d(ctx, 0), d(ctx, 1), d(ctx, 2), d(ctx, 4)});
      wMap = map(ctx, 5, {d(ctx, 4), d(ctx, 3)});
    }
    AffineMap outMap =
        map(ctx, 5, {d(ctx, 0), d(ctx, 1), d(ctx, 2), d(ctx, 3)});
    Value dy = adaptor.getGradOutput(), w = adaptor.getWeight();
    int64_t khDim = depthwise ? 0 : 1;
    Value dx = accumulateTaps(
        rewriter, loc, inType, outType, wType.getDimSize(khDim),
        wType.getDimSize(khDim + 1), op.getPad(), op.getStride(),
        op.getDilation(), [&](Value slice, int64_t i, int64_t j) -> Value {
          Value tap = weightTap(rewriter, loc, w, i, j, /*ohwi=*/!depthwise);
          return linalg::GenericOp::create(
                     rewriter, loc, slice.getType(), ValueRange{dy, tap},
                     ValueRange{slice},
                     ArrayRef<AffineMap>{dyMap, wMap, outMap},
                     ArrayRef<IteratorType>{kPar, kPar, kPar, kPar, kRed},
                     [](OpBuilder &b, Location l, ValueRange a) {
                       Value p = arith::MulFOp::create(b, l, a[0], a[1]);
                       linalg::YieldOp::create(
                           b, l,
                           ValueRange{arith::AddFOp::create(b, l, a[2], p)});
                     })
              .getResult(0);
        });
    rewriter.replaceOp(op, dx);
    return success();
  }
};
using Conv2DBackwardDataLowering =
    BackwardDataLowering<Conv2DBackwardDataOp, /*depthwise=*/false>;
using DepthwiseConv2DBackwardDataLowering =
    BackwardDataLowering<DepthwiseConv2DBackwardDataOp, /*depthwise=*/true>;

/// dW[o, kh, kw, i] (or, with `depthwise`, dW[kh, kw, c, m]) as one
/// reduction over (n, oh, ow) of the zero-padded input.
template <typename OpTy, bool depthwise>
struct BackwardWeightLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = this->getContext();
    auto wType = cast<RankedTensorType>(op.getGradWeight().getType());
    if (!wType.hasStaticShape() ||
        !cast<RankedTensorType>(op.getInput().getType()).hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    ArrayRef<int64_t> s = op.getStride(), dl = op.getDilation();
    Value xp = padNHWC(rewriter, loc, adaptor.getInput(), op.getPad(), 0.0);
    AffineMap xMap, dyMap;
    if (depthwise) {
      int64_t m = wType.getDimSize(3);
      // dims (kh, kw, c, m, n, oh, ow)
      xMap = map(ctx, 7,
                 {d(ctx, 4), d(ctx, 5) * s[0] + d(ctx, 0) * dl[0],
                  d(ctx, 6) * s[1] + d(ctx, 1) * dl[1], d(ctx, 2)});
      dyMap = map(ctx, 7,
                  {d(ctx, 4), d(ctx, 5), d(ctx, 6), d(ctx, 2) * m + d(ctx, 3)});
    } else {
      // dims (o, kh, kw, i, n, oh, ow)
      xMap = map(ctx, 7,
                 {d(ctx, 4), d(ctx, 5) * s[0] + d(ctx, 1) * dl[0],
                  d(ctx, 6) * s[1] + d(ctx, 2) * dl[1], d(ctx, 3)});
      dyMap = map(ctx, 7, {d(ctx, 4), d(ctx, 5), d(ctx, 6), d(ctx, 0)});
    }
    AffineMap outMap =
        map(ctx, 7, {d(ctx, 0), d(ctx, 1), d(ctx, 2), d(ctx, 3)});
    Value init =
        filled(rewriter, loc, wType.getShape(), rewriter.getF32FloatAttr(0.0));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, wType, ValueRange{xp, adaptor.getGradOutput()},
        ValueRange{init}, ArrayRef<AffineMap>{xMap, dyMap, outMap},
        ArrayRef<IteratorType>{kPar, kPar, kPar, kPar, kRed, kRed, kRed},
        [](OpBuilder &b, Location l, ValueRange a) {
          Value p = arith::MulFOp::create(b, l, a[1], a[0]);
          linalg::YieldOp::create(
              b, l, ValueRange{arith::AddFOp::create(b, l, a[2], p)});
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};
using Conv2DBackwardWeightLowering =
    BackwardWeightLowering<Conv2DBackwardWeightOp, /*depthwise=*/false>;
using DepthwiseConv2DBackwardWeightLowering =
    BackwardWeightLowering<DepthwiseConv2DBackwardWeightOp,
                           /*depthwise=*/true>;

struct MaxPool2DBackwardLowering : OpConversionPattern<MaxPool2DBackwardOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MaxPool2DBackwardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto outType = cast<RankedTensorType>(op.getGradOutput().getType());
    if (!inType.hasStaticShape() || !outType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    ArrayRef<int64_t> k = op.getKernel(), s = op.getStride(), pad = op.getPad();
    int64_t h = inType.getDimSize(1), w = inType.getDimSize(2);
    Value xp = padNHWC(rewriter, loc, adaptor.getInput(), pad, 0.0);

    // The chosen tap of every window: dims (n, oh, ow, kh, kw, c), each
    // window scanned in row-major order; -1 until an in-bounds element is
    // seen. The channels are the innermost (parallel) loop, contiguous in
    // NHWC, so that the loop vectorizes; each window's scan order is the same.
    SmallVector<int64_t> outShape(outType.getShape());
    Value best = filled(
        rewriter, loc, outShape,
        rewriter.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    Value chosen =
        filled(rewriter, loc, outShape, rewriter.getI32IntegerAttr(-1));
    AffineMap xMap = map(ctx, 6,
                         {d(ctx, 0), d(ctx, 1) * s[0] + d(ctx, 3),
                          d(ctx, 2) * s[1] + d(ctx, 4), d(ctx, 5)});
    AffineMap oMap = map(ctx, 6, {d(ctx, 0), d(ctx, 1), d(ctx, 2), d(ctx, 5)});
    // The window's shape gives the loop bounds of (kh, kw), as for
    // linalg's pooling ops.
    Value window = tensor::EmptyOp::create(rewriter, loc, {k[0], k[1]},
                                           rewriter.getF32Type());
    AffineMap kMap = map(ctx, 6, {d(ctx, 3), d(ctx, 4)});
    auto select = linalg::GenericOp::create(
        rewriter, loc, TypeRange{best.getType(), chosen.getType()},
        ValueRange{xp, window}, ValueRange{best, chosen},
        ArrayRef<AffineMap>{xMap, kMap, oMap, oMap},
        ArrayRef<IteratorType>{kPar, kPar, kPar, kRed, kRed, kPar},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value oh = linalg::IndexOp::create(b, l, 1);
          Value ow = linalg::IndexOp::create(b, l, 2);
          Value kh = linalg::IndexOp::create(b, l, 3);
          Value kw = linalg::IndexOp::create(b, l, 4);
          auto at = [&](Value o, int64_t stride, Value kk, int64_t lo) {
            Value v = arith::MulIOp::create(b, l, o, cstIdx(b, l, stride));
            v = arith::AddIOp::create(b, l, v, kk);
            return arith::SubIOp::create(b, l, v, cstIdx(b, l, lo));
          };
          Value valid = arith::AndIOp::create(
              b, l, inBounds(b, l, at(oh, s[0], kh, pad[0]), h),
              inBounds(b, l, at(ow, s[1], kw, pad[2]), w));
          Value v = a[0];
          Value none = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::eq, a[3],
              arith::ConstantOp::create(b, l, b.getI32IntegerAttr(-1)));
          Value greater =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, v, a[2]);
          Value isNaN =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, v, v);
          Value take = arith::AndIOp::create(
              b, l, valid,
              arith::OrIOp::create(b, l, none,
                                   arith::OrIOp::create(b, l, greater, isNaN)));
          Value tap = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, kh, cstIdx(b, l, k[1])), kw);
          tap = arith::IndexCastOp::create(b, l, b.getI32Type(), tap);
          linalg::YieldOp::create(
              b, l,
              ValueRange{arith::SelectOp::create(b, l, take, v, a[2]),
                         arith::SelectOp::create(b, l, take, tap, a[3])});
        });
    Value taps = select.getResult(1);

    AffineMap id = rewriter.getMultiDimIdentityMap(4);
    Value dy = adaptor.getGradOutput();
    int64_t one[2] = {1, 1};
    Value dx = accumulateTaps(
        rewriter, loc, inType, outType, k[0], k[1], pad, s, one,
        [&](Value slice, int64_t i, int64_t j) -> Value {
          int32_t tap = static_cast<int32_t>(i * k[1] + j);
          return linalg::GenericOp::create(
                     rewriter, loc, slice.getType(), ValueRange{dy, taps},
                     ValueRange{slice}, ArrayRef<AffineMap>{id, id, id},
                     ArrayRef<IteratorType>{kPar, kPar, kPar, kPar},
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       Value hit = arith::CmpIOp::create(
                           b, l, arith::CmpIPredicate::eq, a[1],
                           arith::ConstantOp::create(b, l,
                                                     b.getI32IntegerAttr(tap)));
                       Value sum = arith::AddFOp::create(b, l, a[2], a[0]);
                       linalg::YieldOp::create(
                           b, l,
                           ValueRange{
                               arith::SelectOp::create(b, l, hit, sum, a[2])});
                     })
              .getResult(0);
        });
    rewriter.replaceOp(op, dx);
    return success();
  }
};

struct AvgPool2DBackwardLowering : OpConversionPattern<AvgPool2DBackwardOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AvgPool2DBackwardOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = cast<RankedTensorType>(op.getGradInput().getType());
    auto outType = cast<RankedTensorType>(op.getGradOutput().getType());
    if (!inType.hasStaticShape() || !outType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    ArrayRef<int64_t> k = op.getKernel(), s = op.getStride(), pad = op.getPad();
    int64_t h = inType.getDimSize(1), w = inType.getDimSize(2);
    AffineMap id = rewriter.getMultiDimIdentityMap(4);

    // q = dy / f32(count(oh, ow)), the in-bounds elements of each window.
    Value init = tensor::EmptyOp::create(rewriter, loc, outType.getShape(),
                                         rewriter.getF32Type());
    Value q =
        linalg::GenericOp::create(
            rewriter, loc, outType, ValueRange{adaptor.getGradOutput()},
            ValueRange{init}, ArrayRef<AffineMap>{id, id},
            ArrayRef<IteratorType>{kPar, kPar, kPar, kPar},
            [&](OpBuilder &b, Location l, ValueRange a) {
              auto extent = [&](unsigned dim, int64_t stride, int64_t lo,
                                int64_t kernel, int64_t size) -> Value {
                Value o = linalg::IndexOp::create(b, l, dim);
                Value start = arith::SubIOp::create(
                    b, l, arith::MulIOp::create(b, l, o, cstIdx(b, l, stride)),
                    cstIdx(b, l, lo));
                Value end = arith::MinSIOp::create(
                    b, l,
                    arith::AddIOp::create(b, l, start, cstIdx(b, l, kernel)),
                    cstIdx(b, l, size));
                start = arith::MaxSIOp::create(b, l, start, cstIdx(b, l, 0));
                return arith::SubIOp::create(b, l, end, start);
              };
              Value count =
                  arith::MulIOp::create(b, l, extent(1, s[0], pad[0], k[0], h),
                                        extent(2, s[1], pad[2], k[1], w));
              Value c = arith::IndexCastOp::create(b, l, b.getI64Type(), count);
              Value cf = arith::SIToFPOp::create(b, l, b.getF32Type(), c);
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::DivFOp::create(b, l, a[0], cf)});
            })
            .getResult(0);

    int64_t one[2] = {1, 1};
    Value dx = accumulateTaps(
        rewriter, loc, inType, outType, k[0], k[1], pad, s, one,
        [&](Value slice, int64_t, int64_t) -> Value {
          return linalg::GenericOp::create(
                     rewriter, loc, slice.getType(), ValueRange{q},
                     ValueRange{slice}, ArrayRef<AffineMap>{id, id},
                     ArrayRef<IteratorType>{kPar, kPar, kPar, kPar},
                     [](OpBuilder &b, Location l, ValueRange a) {
                       linalg::YieldOp::create(
                           b, l,
                           ValueRange{arith::AddFOp::create(b, l, a[1], a[0])});
                     })
              .getResult(0);
        });
    rewriter.replaceOp(op, dx);
    return success();
  }
};

} // namespace

void mlir::qat::populateQATWindowAdjointsToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<Conv2DBackwardDataLowering, Conv2DBackwardWeightLowering,
               DepthwiseConv2DBackwardDataLowering,
               DepthwiseConv2DBackwardWeightLowering, MaxPool2DBackwardLowering,
               AvgPool2DBackwardLowering>(patterns.getContext());
}
