//===- DeployedOpsToLinalg.cpp - deployment-exact ops to linalg -----------===//
//
// The lowering of qat.quantize_bias and of the straight-through backward of
// the integer-domain ops (QATDeployedOps.td): elementwise linalg.generic ops
// whose bodies spell out the formulas, and, for the gradient of a per-tensor
// or per-axis parameter, an f64 sum of the elementwise terms in row-major
// order, rounded to f32 once.
//
//===----------------------------------------------------------------------===//

#include "Builders.h"
#include "qat/Conversion/QATToLinalg/QATToLinalg.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::linalg_builders;

namespace {

using Body = function_ref<SmallVector<Value>(ScalarBuilder &, ValueRange)>;

/// The map of a parameter operand: rank 0 reads one scalar, rank 1 the index
/// of dimension `axis` of the iteration space.
AffineMap paramMapOf(MLIRContext *ctx, Value param, int64_t rank,
                     std::optional<int64_t> axis) {
  if (cast<RankedTensorType>(param.getType()).getRank() == 0)
    return AffineMap::get(rank, 0, {}, ctx);
  return paramMap(ctx, rank, axis);
}

/// One linalg.generic over the shape of `inputs[0]` with `numResults` f32
/// results of that shape; `body` gets the scalars of `inputs` then of
/// `params` and returns the results.
SmallVector<Value> buildElementwiseN(OpBuilder &b, Location loc,
                                     ValueRange inputs, ValueRange params,
                                     std::optional<int64_t> axis,
                                     unsigned numResults, Body body) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps(inputs.size(), id);
  for (Value p : params)
    maps.push_back(paramMapOf(ctx, p, rank, axis));
  maps.append(numResults, id);
  SmallVector<Value> operands(inputs.begin(), inputs.end());
  operands.append(params.begin(), params.end());
  auto resultType = type.clone(b.getF32Type());
  SmallVector<Value> inits(numResults,
                           emptyLike(b, loc, inputs.front(), b.getF32Type()));
  auto generic = linalg::GenericOp::create(
      b, loc, SmallVector<Type>(numResults, resultType), operands, inits, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nested, Location l, ValueRange args) {
        ScalarBuilder sb{nested, l};
        linalg::YieldOp::create(nested, l,
                                body(sb, args.drop_back(numResults)));
      });
  return generic.getResults();
}

/// f32(sum of f64(term)) over the elements of `inputs[0]`, in row-major
/// order: a rank-0 result (all elements) or, when `like` is rank 1, one sum
/// per index of dimension `axis`. `like` is the parameter whose gradient
/// this is (its type is the result's).
Value buildSum(OpBuilder &b, Location loc, ValueRange inputs, ValueRange params,
               std::optional<int64_t> axis, Value like,
               function_ref<Value(ScalarBuilder &, ValueRange)> term) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  auto likeType = cast<RankedTensorType>(like.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  bool perAxis = likeType.getRank() == 1;
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<AffineMap> maps(inputs.size(), id);
  for (Value p : params)
    maps.push_back(paramMapOf(ctx, p, rank, axis));
  maps.push_back(paramMap(ctx, rank, perAxis ? axis : std::nullopt));
  SmallVector<Value> operands(inputs.begin(), inputs.end());
  operands.append(params.begin(), params.end());
  Type f64 = b.getF64Type();
  Value zero = filled(b, loc, like, f64, b.getF64FloatAttr(0.0));
  auto sum = linalg::GenericOp::create(
      b, loc, TypeRange{likeType.clone(f64)}, operands, ValueRange{zero}, maps,
      reductionIterators(rank, perAxis ? axis : std::nullopt),
      [&](OpBuilder &nested, Location l, ValueRange args) {
        ScalarBuilder sb{nested, l};
        Value t = sb.toF64(term(sb, args.drop_back()));
        linalg::YieldOp::create(
            nested, l,
            ValueRange{arith::AddFOp::create(nested, l, args.back(), t)});
      });
  int64_t prank = likeType.getRank();
  AffineMap pid = b.getMultiDimIdentityMap(prank);
  auto rounded = linalg::GenericOp::create(
      b, loc, TypeRange{likeType}, sum.getResults(),
      ValueRange{emptyLike(b, loc, like, b.getF32Type())},
      ArrayRef<AffineMap>{pid, pid},
      SmallVector<utils::IteratorType>(prank, utils::IteratorType::parallel),
      [&](OpBuilder &nested, Location l, ValueRange args) {
        ScalarBuilder sb{nested, l};
        linalg::YieldOp::create(nested, l, ValueRange{sb.toF32(args[0])});
      });
  return rounded.getResult(0);
}

/// `g * (in ? 1 : 0)`: the mask multiplies (a masked NaN gives NaN).
Value masked(ScalarBuilder &sb, Value g, Value in) {
  return sb.mul(g, sb.select(in, sb.f32(1.0), sb.f32(0.0)));
}

/// The clamp mask of a requantization: `in` (the code before the clamp in
/// [qmin, qmax]), and at a fused ReLU (qmin equal to the output zero point
/// `z`, the code of 0.0) also `positive` (the unrounded value above 0):
/// ReLU's own mask, as fake quantization after a ReLU has it.
Value clampMask(ScalarBuilder &sb, Value in, Value z, int64_t qmin,
                Value positive) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Value notRelu = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne,
                                        toI64(sb, z), i64Const(sb, qmin));
  return sb.andI(in, arith::OrIOp::create(b, l, notRelu, positive));
}

/// v > 0 for an i64 v.
Value positiveI64(ScalarBuilder &sb, Value v) {
  return arith::CmpIOp::create(sb.b, sb.loc, arith::CmpIPredicate::sgt, v,
                               i64Const(sb, 0));
}

/// f32(f64(M) * 2^-n), exact in f64 for |M| < 2^53 and n in [2, 62].
Value realMultiplier(ScalarBuilder &sb, Value m, Value n) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Type f64 = b.getF64Type();
  Value mf = arith::SIToFPOp::create(b, l, f64, toI64(sb, m));
  Value pow = arith::SIToFPOp::create(
      b, l, f64,
      arith::ShLIOp::create(b, l, i64Const(sb, 1), toI64(sb, n)).getResult());
  return sb.toF32(arith::DivFOp::create(b, l, mf, pow));
}

//===----------------------------------------------------------------------===//
// quantize_bias
//===----------------------------------------------------------------------===//

struct QuantizeBiasLowering : OpConversionPattern<QuantizeBiasOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeBiasOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type codeType = op.getOutput().getType().getElementType();
    auto params = {adaptor.getInputScale(), adaptor.getWeightScale()};
    auto type = cast<RankedTensorType>(adaptor.getBias().getType());
    MLIRContext *ctx = getContext();
    AffineMap id = rewriter.getMultiDimIdentityMap(1);
    SmallVector<AffineMap> maps{id};
    for (Value p : params)
      maps.push_back(paramMapOf(ctx, p, 1, 0));
    maps.push_back(id);
    SmallVector<Value> operands{adaptor.getBias()};
    operands.append(params.begin(), params.end());
    Value init = emptyLike(rewriter, op.getLoc(), adaptor.getBias(), codeType);
    auto generic = linalg::GenericOp::create(
        rewriter, op.getLoc(), TypeRange{type.clone(codeType)}, operands,
        ValueRange{init}, maps, {utils::IteratorType::parallel},
        [&](OpBuilder &b, Location l, ValueRange a) {
          ScalarBuilder sb{b, l};
          Value q = sb.roundEven(sb.div(a[0], sb.mul(a[1], a[2])));
          if (!codeType.isF32()) {
            // Saturate to [-2^31, 2147483520]; NaN -> 0.
            q = sb.minimum(sb.maximum(q, sb.f32(-2147483648.0)),
                           sb.f32(2147483520.0));
            Value isNaN = sb.cmp(arith::CmpFPredicate::UNO, q, q);
            q = sb.select(isNaN, sb.f32(0.0), q);
            q = arith::FPToSIOp::create(b, l, codeType, q);
          }
          linalg::YieldOp::create(b, l, q);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct QuantizeBiasGradLowering : OpConversionPattern<QuantizeBiasGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeBiasGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getBias()};
    SmallVector<Value> params{adaptor.getInputScale(),
                              adaptor.getWeightScale()};
    // a = dq, b = bias, c = input_scale, d = weight_scale.
    Value db = buildElementwiseN(
        rewriter, loc, inputs, params, 0, 1,
        [](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          return {sb.div(a[0], sb.mul(a[2], a[3]))};
        })[0];
    // (dq * -v) / scale, v = bias / (input_scale * weight_scale).
    auto term = [](ScalarBuilder &sb, ValueRange a, Value scale) {
      Value v = sb.div(a[1], sb.mul(a[2], a[3]));
      return sb.div(sb.mul(a[0], sb.mul(v, sb.f32(-1.0))), scale);
    };
    Value dsi = buildSum(
        rewriter, loc, inputs, params, 0, adaptor.getInputScale(),
        [&](ScalarBuilder &sb, ValueRange a) { return term(sb, a, a[2]); });
    Value dsw;
    if (cast<RankedTensorType>(adaptor.getWeightScale().getType()).getRank() ==
        0) {
      dsw = buildSum(
          rewriter, loc, inputs, params, 0, adaptor.getWeightScale(),
          [&](ScalarBuilder &sb, ValueRange a) { return term(sb, a, a[3]); });
    } else {
      // One term per channel: f32(f64(t)) is t.
      dsw = buildElementwiseN(
          rewriter, loc, inputs, params, 0, 1,
          [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
            return {term(sb, a, a[3])};
          })[0];
    }
    rewriter.replaceOp(op, {db, dsi, dsw});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// quantize_grad, dequantize_grad
//===----------------------------------------------------------------------===//

struct QuantizeGradLowering : OpConversionPattern<QuantizeGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QuantizeGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    RoundingMode mode = op.getRounding();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getInput()};
    SmallVector<Value> params{adaptor.getScale(), adaptor.getZeroPoint()};
    // a = dq, x, s, z.
    auto inRange = [=](ScalarBuilder &sb, ValueRange a) {
      Value t = sb.add(sb.roundToGrid(a[1], a[2], mode), sb.intToF32(a[3]));
      return sb.andI(sb.inRange(t, qmin, qmax), sb.validScale(a[2]));
    };
    Value dx = buildElementwiseN(
        rewriter, loc, inputs, params, op.getAxis(), 1,
        [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          Value inv = sb.div(sb.f32(1.0), a[2]);
          return {masked(sb, sb.mul(a[0], inv), inRange(sb, a))};
        })[0];
    Value ds =
        buildSum(rewriter, loc, inputs, params, op.getAxis(),
                 adaptor.getScale(), [&](ScalarBuilder &sb, ValueRange a) {
                   Value inv = sb.div(sb.f32(1.0), a[2]);
                   Value u = sb.mul(sb.mul(a[1], inv), sb.f32(-1.0));
                   return sb.select(inRange(sb, a),
                                    sb.mul(sb.mul(a[0], u), inv), sb.f32(0.0));
                 });
    rewriter.replaceOp(op, {dx, ds});
    return success();
  }
};

struct DequantizeGradLowering : OpConversionPattern<DequantizeGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getInput()};
    SmallVector<Value> params{adaptor.getScale(), adaptor.getZeroPoint()};
    // a = dx, q, s, z.
    Value dq = buildElementwiseN(
        rewriter, loc, inputs, params, op.getAxis(), 1,
        [](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          return {sb.mul(a[0], a[2])};
        })[0];
    Value ds = buildSum(
        rewriter, loc, inputs, params, op.getAxis(), adaptor.getScale(),
        [](ScalarBuilder &sb, ValueRange a) {
          return sb.mul(a[0], sb.sub(sb.codeToF32(a[1]), sb.intToF32(a[3])));
        });
    rewriter.replaceOp(op, {dq, ds});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// requantize_grad, requantize_add_grad
//===----------------------------------------------------------------------===//

struct RequantizeGradLowering : OpConversionPattern<RequantizeGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getInput()};
    SmallVector<Value> params{adaptor.getMultiplier(), adaptor.getZeroPoint()};
    // a = dq, acc, m, z.
    auto inRange = [=](ScalarBuilder &sb, ValueRange a) {
      Value v = sb.mul(sb.codeToF32(a[1]), a[2]);
      Value t = sb.add(sb.roundEven(v), sb.intToF32(a[3]));
      Value in = sb.inRange(t, qmin, qmax);
      Value positive = sb.cmp(arith::CmpFPredicate::OGT, v, sb.f32(0.0));
      return clampMask(sb, in, a[3], qmin, positive);
    };
    Value dacc = buildElementwiseN(
        rewriter, loc, inputs, params, op.getAxis(), 1,
        [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          return {masked(sb, sb.mul(a[0], a[2]), inRange(sb, a))};
        })[0];
    Value dm = buildSum(
        rewriter, loc, inputs, params, op.getAxis(), adaptor.getMultiplier(),
        [&](ScalarBuilder &sb, ValueRange a) {
          return sb.select(inRange(sb, a), sb.mul(a[0], sb.codeToF32(a[1])),
                           sb.f32(0.0));
        });
    rewriter.replaceOp(op, {dacc, dm});
    return success();
  }
};

struct RequantizeAddGradLowering : OpConversionPattern<RequantizeAddGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RequantizeAddGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    SmallVector<Value> inputs{adaptor.getGradOutput(), adaptor.getLhs(),
                              adaptor.getRhs()};
    SmallVector<Value> params{
        adaptor.getLhsMultiplier(), adaptor.getLhsZeroPoint(),
        adaptor.getRhsMultiplier(), adaptor.getRhsZeroPoint(),
        adaptor.getZeroPoint()};
    // a = dq, lhs, rhs, ml, zl, mr, zr, z.
    auto centered = [](ScalarBuilder &sb, Value code, Value zp) {
      return sb.sub(sb.codeToF32(code), sb.intToF32(zp));
    };
    auto inRange = [=](ScalarBuilder &sb, ValueRange a) {
      Value t = sb.mul(centered(sb, a[1], a[4]), a[3]);
      Value u = sb.mul(centered(sb, a[2], a[6]), a[5]);
      Value sum = sb.add(t, u);
      Value v = sb.add(sb.roundEven(sum), sb.intToF32(a[7]));
      Value in = sb.inRange(v, qmin, qmax);
      Value positive = sb.cmp(arith::CmpFPredicate::OGT, sum, sb.f32(0.0));
      return clampMask(sb, in, a[7], qmin, positive);
    };
    SmallVector<Value> d = buildElementwiseN(
        rewriter, loc, inputs, params, op.getAxis(), 2,
        [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          Value in = inRange(sb, a);
          return {masked(sb, sb.mul(a[0], a[3]), in),
                  masked(sb, sb.mul(a[0], a[5]), in)};
        });
    auto sumOf = [&](Value like, unsigned code, unsigned zp) {
      return buildSum(rewriter, loc, inputs, params, op.getAxis(), like,
                      [&](ScalarBuilder &sb, ValueRange a) {
                        return sb.select(
                            inRange(sb, a),
                            sb.mul(a[0], centered(sb, a[code], a[zp])),
                            sb.f32(0.0));
                      });
    };
    Value dml = sumOf(adaptor.getLhsMultiplier(), 1, 4);
    Value dmr = sumOf(adaptor.getRhsMultiplier(), 2, 6);
    rewriter.replaceOp(op, {d[0], dml, d[1], dmr});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// rescale_grad, rescale_add_grad
//===----------------------------------------------------------------------===//

struct RescaleGradLowering : OpConversionPattern<RescaleGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RescaleGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    // a = dq, acc, M, n, z.
    Value dacc = buildElementwiseN(
        rewriter, op.getLoc(), {adaptor.getGradOutput(), adaptor.getInput()},
        {adaptor.getMultiplier(), adaptor.getShift(), adaptor.getZeroPoint()},
        op.getAxis(), 1,
        [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          Value v = rescaleUnclamped(sb, a[1], a[2], a[3], a[4]);
          Value r = realMultiplier(sb, a[2], a[3]);
          Value product = arith::MulIOp::create(sb.b, sb.loc, toI64(sb, a[1]),
                                                toI64(sb, a[2]));
          Value in = inRangeI64(sb, v, qmin, qmax);
          Value positive = positiveI64(sb, product);
          in = clampMask(sb, in, a[4], qmin, positive);
          Value g = sb.mul(a[0], r);
          return {masked(sb, g, in)};
        })[0];
    rewriter.replaceOp(op, dacc);
    return success();
  }
};

struct RescaleAddGradLowering : OpConversionPattern<RescaleAddGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RescaleAddGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t qmin = op.getQuantMin(), qmax = op.getQuantMax();
    // a = dq, lhs, rhs, ml, zl, mr, zr, n, z.
    SmallVector<Value> d = buildElementwiseN(
        rewriter, op.getLoc(),
        {adaptor.getGradOutput(), adaptor.getLhs(), adaptor.getRhs()},
        {adaptor.getLhsMultiplier(), adaptor.getLhsZeroPoint(),
         adaptor.getRhsMultiplier(), adaptor.getRhsZeroPoint(),
         adaptor.getShift(), adaptor.getZeroPoint()},
        op.getAxis(), 2,
        [&](ScalarBuilder &sb, ValueRange a) -> SmallVector<Value> {
          Value v = rescaleAddUnclamped(sb, a[1], a[3], a[4], a[2], a[5], a[6],
                                        a[7], a[8]);
          // The sum before its rounding shift: (lhs - zl) Ml + (rhs - zr) Mr.
          OpBuilder &b = sb.b;
          Location l = sb.loc;
          Value sum = arith::AddIOp::create(
              b, l,
              arith::MulIOp::create(
                  b, l,
                  arith::SubIOp::create(b, l, toI64(sb, a[1]), toI64(sb, a[4])),
                  toI64(sb, a[3])),
              arith::MulIOp::create(
                  b, l,
                  arith::SubIOp::create(b, l, toI64(sb, a[2]), toI64(sb, a[6])),
                  toI64(sb, a[5])));
          Value in = inRangeI64(sb, v, qmin, qmax);
          Value positive = positiveI64(sb, sum);
          in = clampMask(sb, in, a[8], qmin, positive);
          return {masked(sb, sb.mul(a[0], realMultiplier(sb, a[3], a[7])), in),
                  masked(sb, sb.mul(a[0], realMultiplier(sb, a[5], a[7])), in)};
        });
    rewriter.replaceOp(op, d);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// exact_accumulator
//===----------------------------------------------------------------------===//

/// The forward is the exact operand.
struct ExactAccumulatorLowering : OpConversionPattern<ExactAccumulatorOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ExactAccumulatorOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, adaptor.getExact());
    return success();
  }
};

} // namespace

void mlir::qat::populateQATDeployedOpsToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<
      QuantizeBiasLowering, QuantizeBiasGradLowering, QuantizeGradLowering,
      DequantizeGradLowering, RequantizeGradLowering, RequantizeAddGradLowering,
      RescaleGradLowering, RescaleAddGradLowering, ExactAccumulatorLowering>(
      patterns.getContext());
}
