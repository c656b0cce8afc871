//===- QATToLinalg.cpp - lower qat ops to linalg on tensors ---------------===//
//
// Each qat op becomes linalg.generic ops whose bodies spell out the formula of
// the op's ODS description, one arith/math op per operation of the formula.
// Nothing here carries fast-math flags: the order and rounding of every f32
// operation is the contract.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/QATToLinalg/QATToLinalg.h"
#include "Builders.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_CONVERTQATTOLINALGPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::linalg_builders;

namespace {

struct FakeQuantLowering : OpConversionPattern<FakeQuantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FakeQuantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value y = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          return sb.fakeQuant(a[0], a[1], sb.intToF32(a[2]), op.getQuantMin(),
                              op.getQuantMax(), op.getRounding());
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct QuantizeLowering : OpConversionPattern<QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    Value q = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          Value zf = sb.intToF32(a[2]);
          Value t = sb.add(sb.roundToGrid(a[0], a[1], op.getRounding()), zf);
          Value c = sb.clamp(t, op.getQuantMin(), op.getQuantMax());
          // NaN (input or scale) becomes the zero point: fptosi of NaN is
          // poison.
          Value isNaN = sb.cmp(arith::CmpFPredicate::UNO, c, c);
          return sb.toCode(sb.select(isNaN, zf, c), codeType);
        },
        codeType);
    rewriter.replaceOp(op, q);
    return success();
  }
};

struct DequantizeLowering : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value x = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          if (auto c = op.getFmaOffset()) {
            // fma(s, f32(q + c), f32(s * f32(-(z + c)))).
            Value q = sb.add(sb.codeToF32(a[0]), sb.f32(double(*c)));
            Value z = sb.add(sb.intToF32(a[2]), sb.f32(double(*c)));
            Value nz = arith::NegFOp::create(sb.b, sb.loc, z);
            return sb.fma(a[1], q, sb.mul(a[1], nz));
          }
          return sb.mul(sb.sub(sb.codeToF32(a[0]), sb.intToF32(a[2])), a[1]);
        },
        rewriter.getF32Type());
    rewriter.replaceOp(op, x);
    return success();
  }
};

struct RequantizeLowering : OpConversionPattern<RequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    SmallVector<Value> params = {adaptor.getMultiplier(),
                                 adaptor.getZeroPoint()};
    if (adaptor.getBias())
      params.push_back(adaptor.getBias());
    std::optional<uint64_t> offset = op.getFloatZeroPointOffset();
    Value q = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(), params, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          Value t = sb.codeToF32(a[0]);
          if (a.size() > 3)
            t = sb.add(t, a[3]); // the float bias
          t = sb.mul(t, a[1]);
          if (offset) {
            // roundeven(t + f32(zero_point + c)) - c.
            Value c = sb.f32(double(*offset));
            t = sb.sub(sb.roundEven(sb.add(t, sb.add(sb.intToF32(a[2]), c))),
                       c);
          } else {
            t = sb.add(sb.roundEven(t), sb.intToF32(a[2]));
          }
          return sb.toCode(sb.clamp(t, op.getQuantMin(), op.getQuantMax()),
                           codeType);
        },
        codeType);
    rewriter.replaceOp(op, q);
    return success();
  }
};

struct RescaleLowering : OpConversionPattern<RescaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RescaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    Value q = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getMultiplier(), adaptor.getShift(), adaptor.getZeroPoint()},
        op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          Value v = rescaleUnclamped(sb, a[0], a[1], a[2], a[3]);
          return clampI64ToCode(sb, v, qmin, qmax, codeType);
        },
        codeType);
    rewriter.replaceOp(op, q);
    return success();
  }
};

struct RequantizeAddLowering : OpConversionPattern<RequantizeAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    Value q = buildElementwise(
        rewriter, op.getLoc(), {adaptor.getLhs(), adaptor.getRhs()},
        {adaptor.getLhsMultiplier(), adaptor.getLhsZeroPoint(),
         adaptor.getRhsMultiplier(), adaptor.getRhsZeroPoint(),
         adaptor.getZeroPoint()},
        op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          Value t = sb.mul(sb.sub(sb.codeToF32(a[0]), sb.intToF32(a[3])), a[2]);
          Value u = sb.mul(sb.sub(sb.codeToF32(a[1]), sb.intToF32(a[5])), a[4]);
          Value v = sb.add(sb.roundEven(sb.add(t, u)), sb.intToF32(a[6]));
          return sb.toCode(sb.clamp(v, op.getQuantMin(), op.getQuantMax()),
                           codeType);
        },
        codeType);
    rewriter.replaceOp(op, q);
    return success();
  }
};

struct RescaleAddLowering : OpConversionPattern<RescaleAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RescaleAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    Value q = buildElementwise(
        rewriter, op.getLoc(), {adaptor.getLhs(), adaptor.getRhs()},
        {adaptor.getLhsMultiplier(), adaptor.getLhsZeroPoint(),
         adaptor.getRhsMultiplier(), adaptor.getRhsZeroPoint(),
         adaptor.getShift(), adaptor.getZeroPoint()},
        op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          // a: lhs, rhs, then lhs_multiplier, lhs_zero_point,
          // rhs_multiplier, rhs_zero_point, shift, zero_point.
          Value v =
              rescaleAddUnclamped(sb, a[0], a[2], a[3], a[1], a[4], a[5], a[6],
                                  a[7], op.getRoundHalfAwayFromZero());
          return clampI64ToCode(sb, v, qmin, qmax, codeType);
        },
        codeType);
    rewriter.replaceOp(op, q);
    return success();
  }
};

struct FakeQuantGradLowering : OpConversionPattern<FakeQuantGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(FakeQuantGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value dx = buildElementwise(
        rewriter, op.getLoc(), {adaptor.getGradOutput(), adaptor.getInput()},
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          return sb.fakeQuantGrad(a[0], a[1], a[2], sb.intToF32(a[3]),
                                  op.getQuantMin(), op.getQuantMax(),
                                  op.getRounding());
        });
    rewriter.replaceOp(op, dx);
    return success();
  }
};

struct LSQLowering : OpConversionPattern<LSQOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LSQOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    Value y = buildElementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          Value s = sb.maximum(a[1], sb.f32(numerics::kFloatEps));
          Value zf = sb.clamp(sb.roundEven(a[2]), qmin, qmax);
          return sb.fakeQuant(a[0], s, zf, qmin, qmax, RoundingMode::half_even);
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// The per-element LSQ backward terms of qat.lsq_grad's description.
struct LSQGradTerms {
  Value dx, dscale, dzeroPoint;
};
LSQGradTerms buildLSQGradTerms(ScalarBuilder &sb, Value dy, Value x,
                               Value scale, Value zeroPoint, int64_t qmin,
                               int64_t qmax, double gradFactor, bool perAxis) {
  Value s = sb.maximum(scale, sb.f32(numerics::kFloatEps));
  Value inv = sb.div(sb.f32(1.0), s);
  Value zb = perAxis
                 ? sb.clamp(sb.roundEven(zeroPoint), qmin, qmax)
                 : Value(math::TruncOp::create(
                       sb.b, sb.loc,
                       sb.clamp(sb.add(zeroPoint, sb.f32(0.5)), qmin, qmax)));
  Value t = sb.roundEven(sb.fma(x, inv, zb));
  Value in = sb.inRange(t, qmin, qmax);
  Value g = sb.f32(static_cast<float>(gradFactor));
  LSQGradTerms terms;
  terms.dx = sb.mul(dy, sb.select(in, sb.f32(1.0), sb.f32(0.0)));
  Value d =
      sb.fma(sb.sub(sb.clamp(t, qmin, qmax), zb), s, sb.mul(x, sb.f32(-1.0)));
  Value dsIn = sb.mul(sb.mul(sb.mul(dy, d), inv), g);
  Value below = sb.cmp(arith::CmpFPredicate::OLT, t, sb.f32(qmin));
  Value bound = sb.select(below, sb.f32(qmin), sb.f32(qmax));
  Value dsOut = sb.mul(sb.mul(dy, sb.sub(bound, zb)), g);
  terms.dscale = sb.select(in, dsIn, dsOut);
  Value dzOut = sb.mul(sb.mul(sb.mul(dy, sb.f32(-1.0)), s), g);
  terms.dzeroPoint = sb.select(in, sb.f32(0.0), dzOut);
  return terms;
}

struct LSQGradLowering : OpConversionPattern<LSQGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LSQGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getGradInput().getType());
    auto paramType = cast<RankedTensorType>(op.getGradScale().getType());
    int64_t rank = type.getRank();
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    AffineMap pm = paramMap(getContext(), rank, op.getAxis());
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    double g = op.getGradFactor().convertToDouble();
    bool perAxis = op.getAxis().has_value();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getInput(),
                              adaptor.getScale(), adaptor.getZeroPoint()};

    // grad_input: elementwise.
    Value dx = buildElementwise(
        rewriter, loc, {adaptor.getGradOutput(), adaptor.getInput()},
        {adaptor.getScale(), adaptor.getZeroPoint()}, op.getAxis(),
        [&](ScalarBuilder &sb, ValueRange a) {
          return buildLSQGradTerms(sb, a[0], a[1], a[2], a[3], qmin, qmax, g,
                                   perAxis)
              .dx;
        });

    // grad_scale, grad_zero_point: f64 sums of the elementwise terms.
    Type f64 = rewriter.getF64Type();
    auto accType = RankedTensorType::get(paramType.getShape(), f64);
    Value zero = filled(rewriter, loc, adaptor.getScale(), f64,
                        rewriter.getF64FloatAttr(0.0));
    auto sums = linalg::GenericOp::create(
        rewriter, loc, TypeRange{accType, accType}, inputs,
        ValueRange{zero, zero}, ArrayRef<AffineMap>{id, id, pm, pm, pm, pm},
        reductionIterators(rank, op.getAxis()),
        [&](OpBuilder &b, Location l, ValueRange args) {
          ScalarBuilder sb{b, l};
          LSQGradTerms t = buildLSQGradTerms(sb, args[0], args[1], args[2],
                                             args[3], qmin, qmax, g, perAxis);
          Value ds = arith::AddFOp::create(b, l, args[4], sb.toF64(t.dscale));
          Value dz =
              arith::AddFOp::create(b, l, args[5], sb.toF64(t.dzeroPoint));
          linalg::YieldOp::create(b, l, ValueRange{ds, dz});
        });

    // Round each sum to f32 once.
    int64_t prank = paramType.getRank();
    AffineMap pid = rewriter.getMultiDimIdentityMap(prank);
    Value outInit = emptyLike(rewriter, loc, adaptor.getScale(),
                              paramType.getElementType());
    auto rounded = linalg::GenericOp::create(
        rewriter, loc, TypeRange{paramType, paramType}, sums.getResults(),
        ValueRange{outInit, outInit}, ArrayRef<AffineMap>{pid, pid, pid, pid},
        SmallVector<utils::IteratorType>(prank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          ScalarBuilder sb{b, l};
          linalg::YieldOp::create(
              b, l, ValueRange{sb.toF32(args[0]), sb.toF32(args[1])});
        });
    rewriter.replaceOp(op, {dx, rounded.getResult(0), rounded.getResult(1)});
    return success();
  }
};

struct ObserverLowering : OpConversionPattern<ObserverOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ObserverOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto stateType = cast<RankedTensorType>(op.getNewMin().getType());
    int64_t rank = inputType.getRank();
    Type f32 = rewriter.getF32Type();
    float inf = std::numeric_limits<float>::infinity();

    // Batch range, NaN ignored (minnumf/maxnumf).
    Value lo = filled(rewriter, loc, adaptor.getMin(), f32,
                      rewriter.getF32FloatAttr(inf));
    Value hi = filled(rewriter, loc, adaptor.getMin(), f32,
                      rewriter.getF32FloatAttr(-inf));
    auto minMax = [](OpBuilder &b, Location l, ValueRange args) {
      Value mn = arith::MinNumFOp::create(b, l, args[1], args[0]);
      Value mx = arith::MaxNumFOp::create(b, l, args[2], args[0]);
      linalg::YieldOp::create(b, l, ValueRange{mn, mx});
    };
    // The lane ranges (mins, maxes) folded into the range (lo, hi).
    auto combineLanes = [](OpBuilder &b, Location l, ValueRange args) {
      Value mn = arith::MinNumFOp::create(b, l, args[2], args[0]);
      Value mx = arith::MaxNumFOp::create(b, l, args[3], args[1]);
      linalg::YieldOp::create(b, l, ValueRange{mn, mx});
    };
    Value input = adaptor.getInput();
    constexpr int64_t lanes = 16;
    if (!op.getAxis() && stateType.getRank() == 0 &&
        inputType.hasStaticShape() && rank >= 1 &&
        inputType.getNumElements() % lanes == 0 &&
        inputType.getNumElements() >= 4 * lanes) {
      // Per tensor: first 16 running ranges, element i going to lane
      // i % 16 (a loop over rows of 16 that vectorizes), then the 16 lanes
      // combined. min/max are exact, so only the order in which NaN is
      // skipped and equal values are kept changes, not the range.
      int64_t n = inputType.getNumElements();
      ReassociationIndices all;
      for (int64_t i = 0; i < rank; ++i)
        all.push_back(i);
      Value flat = tensor::CollapseShapeOp::create(
          rewriter, loc, input, ArrayRef<ReassociationIndices>{all});
      auto rowsType = RankedTensorType::get({n / lanes, lanes}, f32);
      Value rows =
          tensor::ExpandShapeOp::create(rewriter, loc, rowsType, flat,
                                        ArrayRef<ReassociationIndices>{{0, 1}});
      auto laneType = RankedTensorType::get({lanes}, f32);
      auto fill = [&](float v) {
        Value e = tensor::EmptyOp::create(rewriter, loc, {lanes}, f32);
        Value c = arith::ConstantOp::create(rewriter, loc,
                                            rewriter.getF32FloatAttr(v));
        return linalg::FillOp::create(rewriter, loc, c, e).getResult(0);
      };
      MLIRContext *ctx = getContext();
      AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
      AffineMap lane = AffineMap::get(2, 0, getAffineDimExpr(1, ctx));
      auto partial = linalg::GenericOp::create(
          rewriter, loc, TypeRange{laneType, laneType}, ValueRange{rows},
          ValueRange{fill(inf), fill(-inf)},
          ArrayRef<AffineMap>{id2, lane, lane},
          ArrayRef<utils::IteratorType>{utils::IteratorType::reduction,
                                        utils::IteratorType::parallel},
          minMax);
      AffineMap id1 = rewriter.getMultiDimIdentityMap(1);
      AffineMap scalar = AffineMap::get(1, 0, {}, ctx);
      auto total = linalg::GenericOp::create(
          rewriter, loc, TypeRange{stateType, stateType}, partial.getResults(),
          ValueRange{lo, hi}, ArrayRef<AffineMap>{id1, id1, scalar, scalar},
          ArrayRef<utils::IteratorType>{utils::IteratorType::reduction},
          combineLanes);
      lo = total.getResult(0);
      hi = total.getResult(1);
    } else if (std::optional<int64_t> axis = op.getAxis();
               axis && inputType.hasStaticShape() && stateType.getRank() == 1 &&
               *axis + 1 < rank &&
               llvm::all_of(inputType.getShape().take_front(*axis),
                            [](int64_t d) { return d == 1; }) &&
               inputType.getNumElements() > 0 &&
               (inputType.getNumElements() / inputType.getDimSize(*axis)) %
                       lanes ==
                   0 &&
               inputType.getNumElements() / inputType.getDimSize(*axis) >=
                   4 * lanes) {
      // Per channel, the channel axis outermost (an OHWI weight): each
      // channel's elements are one contiguous run of `inner`; element i of
      // the run goes to the channel's lane i % 16 (a loop over rows of 16
      // that vectorizes), then each channel's 16 lanes are combined. As per
      // tensor, min/max are exact: only which of two equal values (+0 and
      // -0) is kept and where NaN is skipped change, not the range. The
      // scalar loop over a 512 x 3 x 3 x 512 weight took 7.6 ns per element
      // (each element waited for the previous one's store).
      int64_t channels = inputType.getDimSize(*axis);
      int64_t inner = inputType.getNumElements() / channels;
      ReassociationIndices head, tail;
      for (int64_t i = 0; i <= *axis; ++i)
        head.push_back(i);
      for (int64_t i = *axis + 1; i < rank; ++i)
        tail.push_back(i);
      Value flat = tensor::CollapseShapeOp::create(
          rewriter, loc, input, ArrayRef<ReassociationIndices>{head, tail});
      auto rowsType =
          RankedTensorType::get({channels, inner / lanes, lanes}, f32);
      Value rows = tensor::ExpandShapeOp::create(
          rewriter, loc, rowsType, flat,
          ArrayRef<ReassociationIndices>{{0}, {1, 2}});
      auto laneType = RankedTensorType::get({channels, lanes}, f32);
      auto fill = [&](float v) {
        Value e =
            tensor::EmptyOp::create(rewriter, loc, {channels, lanes}, f32);
        Value c = arith::ConstantOp::create(rewriter, loc,
                                            rewriter.getF32FloatAttr(v));
        return linalg::FillOp::create(rewriter, loc, c, e).getResult(0);
      };
      MLIRContext *ctx = getContext();
      AffineMap id3 = rewriter.getMultiDimIdentityMap(3);
      AffineMap lane = AffineMap::get(
          3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(2, ctx)}, ctx);
      auto partial = linalg::GenericOp::create(
          rewriter, loc, TypeRange{laneType, laneType}, ValueRange{rows},
          ValueRange{fill(inf), fill(-inf)},
          ArrayRef<AffineMap>{id3, lane, lane},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::reduction,
                                        utils::IteratorType::parallel},
          minMax);
      AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
      AffineMap channel = AffineMap::get(2, 0, getAffineDimExpr(0, ctx));
      auto total = linalg::GenericOp::create(
          rewriter, loc, TypeRange{stateType, stateType}, partial.getResults(),
          ValueRange{lo, hi}, ArrayRef<AffineMap>{id2, id2, channel, channel},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                        utils::IteratorType::reduction},
          combineLanes);
      lo = total.getResult(0);
      hi = total.getResult(1);
    } else {
      AffineMap id = rewriter.getMultiDimIdentityMap(rank);
      AffineMap pm = paramMap(getContext(), rank, op.getAxis());
      auto batch = linalg::GenericOp::create(
          rewriter, loc, TypeRange{stateType, stateType}, ValueRange{input},
          ValueRange{lo, hi}, ArrayRef<AffineMap>{id, pm, pm},
          reductionIterators(rank, op.getAxis()), minMax);
      lo = batch.getResult(0);
      hi = batch.getResult(1);
    }

    // Combine with the state.
    int64_t prank = stateType.getRank();
    AffineMap pid = rewriter.getMultiDimIdentityMap(prank);
    bool movingAverage = op.getKind() == ObserverKind::moving_average;
    float c = op.getAveragingConstant().convertToFloat();
    // The batch range is updated in place (its two tensors are the outs):
    // two fresh inits could be merged by CSE, and two results tied to one
    // init end up in one buffer.
    auto combined = linalg::GenericOp::create(
        rewriter, loc, TypeRange{stateType, stateType},
        ValueRange{adaptor.getMin(), adaptor.getMax()}, ValueRange{lo, hi},
        ArrayRef<AffineMap>{pid, pid, pid, pid},
        SmallVector<utils::IteratorType>(prank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          ScalarBuilder sb{b, l};
          Value mn = args[0], mx = args[1], bmn = args[2], bmx = args[3];
          if (!movingAverage) {
            linalg::YieldOp::create(
                b, l, ValueRange{sb.minimum(mn, bmn), sb.maximum(mx, bmx)});
            return;
          }
          auto eq = arith::CmpFPredicate::OEQ;
          Value empty = sb.andI(sb.cmp(eq, bmn, sb.f32(inf)),
                                sb.cmp(eq, bmx, sb.f32(-inf)));
          Value uninit = sb.andI(sb.cmp(eq, mn, sb.f32(inf)),
                                 sb.cmp(eq, mx, sb.f32(-inf)));
          Value cc = sb.f32(c);
          Value emaMin = sb.add(mn, sb.mul(cc, sb.sub(bmn, mn)));
          Value emaMax = sb.add(mx, sb.mul(cc, sb.sub(bmx, mx)));
          Value newMin = sb.select(empty, mn, sb.select(uninit, bmn, emaMin));
          Value newMax = sb.select(empty, mx, sb.select(uninit, bmx, emaMax));
          linalg::YieldOp::create(b, l, ValueRange{newMin, newMax});
        });
    rewriter.replaceOp(op, combined.getResults());
    return success();
  }
};

struct ChooseQParamsLowering : OpConversionPattern<ChooseQParamsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ChooseQParamsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto scaleType = cast<RankedTensorType>(op.getScale().getType());
    auto zpType = cast<RankedTensorType>(op.getZeroPoint().getType());
    int64_t prank = scaleType.getRank();
    AffineMap pid = rewriter.getMultiDimIdentityMap(prank);
    int64_t qmin = op.getEffectiveQuantMin(), qmax = op.getEffectiveQuantMax();
    bool symmetric = op.getQscheme() == QScheme::symmetric;
    float eps = op.getEps().convertToFloat();
    bool powerOfTwo = op.getPowerOfTwo();
    Value scaleInit =
        emptyLike(rewriter, loc, adaptor.getMin(), rewriter.getF32Type());
    Value zpInit =
        emptyLike(rewriter, loc, adaptor.getMin(), rewriter.getI32Type());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{scaleType, zpType},
        ValueRange{adaptor.getMin(), adaptor.getMax()},
        ValueRange{scaleInit, zpInit}, ArrayRef<AffineMap>{pid, pid, pid, pid},
        SmallVector<utils::IteratorType>(prank, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          ScalarBuilder sb{b, l};
          Value mn = args[0], mx = args[1];
          float inf = std::numeric_limits<float>::infinity();
          auto olt = arith::CmpFPredicate::OLT;
          auto ogt = arith::CmpFPredicate::OGT;
          Value valid = sb.andI(sb.cmp(arith::CmpFPredicate::OLE, mn, mx),
                                sb.andI(sb.cmp(ogt, mn, sb.f32(-inf)),
                                        sb.cmp(olt, mx, sb.f32(inf))));
          Value lo = sb.minimum(mn, sb.f32(0.0));
          Value hi = sb.maximum(mx, sb.f32(0.0));
          Value scale, zp;
          Type i32 = b.getI32Type();
          auto cstI32 = [&](int64_t v) -> Value {
            return arith::ConstantOp::create(b, l, b.getI32IntegerAttr(v));
          };
          // 2^ceil(log2(s)): bump the exponent unless the mantissa is 0.
          auto powerOfTwoCeil = [&](Value s) -> Value {
            if (!powerOfTwo)
              return s;
            Value bits = arith::BitcastOp::create(b, l, i32, s);
            Value mant = arith::AndIOp::create(b, l, bits, cstI32(0x007FFFFF));
            Value exact = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                                mant, cstI32(0));
            Value up = arith::AddIOp::create(
                b, l, arith::AndIOp::create(b, l, bits, cstI32(0x7F800000)),
                cstI32(0x00800000));
            Value r = arith::SelectOp::create(b, l, exact, bits, up);
            return arith::BitcastOp::create(b, l, b.getF32Type(), r);
          };
          if (symmetric) {
            Value absMax = sb.maximum(sb.mul(lo, sb.f32(-1.0)), hi);
            float half = static_cast<float>(qmax - qmin) / 2.0f;
            scale = powerOfTwoCeil(
                sb.maximum(sb.div(absMax, sb.f32(half)), sb.f32(eps)));
            zp = cstI32(qmin < 0 ? 0
                                 : numerics::reduceRangeBound(qmin + qmax + 1));
          } else {
            scale = powerOfTwoCeil(
                sb.maximum(sb.div(sb.sub(hi, lo), sb.f32(float(qmax - qmin))),
                           sb.f32(eps)));
            Value r = arith::FPToSIOp::create(b, l, i32,
                                              sb.roundEven(sb.div(lo, scale)));
            zp = arith::SubIOp::create(b, l, cstI32(qmin), r);
            zp = arith::MaxSIOp::create(b, l, zp, cstI32(qmin));
            zp = arith::MinSIOp::create(b, l, zp, cstI32(qmax));
          }
          scale = sb.select(valid, scale, sb.f32(1.0));
          zp = sb.select(valid, zp, cstI32(0));
          linalg::YieldOp::create(b, l, ValueRange{scale, zp});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// qat.integer_kernel: its integer chain (IntegerKernel::emitArithmetic),
/// whose TOSA ops tosa-to-linalg lowers and whose requantization the
/// patterns above convert.
struct IntegerKernelLowering : OpConversionPattern<IntegerKernelOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(IntegerKernelOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::string why;
    std::optional<IntegerKernel> k = IntegerKernel::read(op, &why);
    if (!k)
      return rewriter.notifyMatchFailure(op, why);
    rewriter.replaceOp(op, k->emitArithmetic(rewriter, op.getLoc(),
                                             adaptor.getInput(),
                                             adaptor.getResidual(),
                                             /*simulate=*/false));
    return success();
  }
};

struct ConvertQATToLinalgPass
    : qat::impl::ConvertQATToLinalgPassBase<ConvertQATToLinalgPass> {
  void runOnOperation() override {
    // A kernel is expanded from its constants: say which one is not.
    WalkResult walk = getOperation()->walk([](IntegerKernelOp op) {
      std::string why;
      if (IntegerKernel::read(op, &why))
        return WalkResult::advance();
      op.emitOpError("cannot be lowered: ") << why;
      return WalkResult::interrupt();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    ConversionTarget target(getContext());
    target.addIllegalDialect<QATDialect>();
    // The packed kernels are lowered after bufferization.
    target.addLegalOp<
        PackedConv2DOp, PackedDepthwiseConv2DOp, PackedConv2DF32Op,
        PackedDepthwiseConv2DF32Op, Conv2DBackwardDataF32Op,
        Conv2DBackwardWeightF32Op, DepthwiseConv2DBackwardDataF32Op,
        DepthwiseConv2DBackwardWeightF32Op, PackConvWeightsF32Op, YieldOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(&getContext());
    populateQATToLinalgConversionPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::qat::populateQATToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<FakeQuantLowering, FakeQuantGradLowering, LSQLowering,
               LSQGradLowering, ObserverLowering, ChooseQParamsLowering,
               QuantizeLowering, DequantizeLowering, RequantizeLowering,
               RescaleLowering, RequantizeAddLowering, RescaleAddLowering,
               IntegerKernelLowering>(patterns.getContext());
  populateQATTrainingOpsToLinalgConversionPatterns(patterns);
  populateQATDeployedOpsToLinalgConversionPatterns(patterns);
}
