//===- TrainingOpsToLinalg.cpp - training ops to linalg on tensors --------===//
//
// The generic lowering of the training step's ops (QATTrainingOps.td) but
// the window adjoints (WindowAdjointsToLinalg.cpp): the loss, the optimizer
// updates and batch norm on batch statistics, as linalg.generic on tensors
// with reductions in a fixed order.
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

/// Row maxima m and log-sum-exp lse of N x C logits (f32; the sum of exp in
/// f64, rounded once).
std::pair<Value, Value> logSumExp(OpBuilder &b, Location loc, Value logits) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t n = type.getDimSize(0);
  AffineMap x = b.getMultiDimIdentityMap(2);
  AffineMap row = map(ctx, 2, {d(ctx, 0)});
  Value mInit = filled(
      b, loc, {n}, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value m = linalg::GenericOp::create(
                b, loc, mInit.getType(), ValueRange{logits}, ValueRange{mInit},
                ArrayRef<AffineMap>{x, row}, ArrayRef<IteratorType>{kPar, kRed},
                [](OpBuilder &bb, Location l, ValueRange a) {
                  linalg::YieldOp::create(
                      bb, l,
                      ValueRange{arith::MaximumFOp::create(bb, l, a[1], a[0])});
                })
                .getResult(0);
  Value sInit = filled(b, loc, {n}, b.getF64FloatAttr(0.0));
  Value sum =
      linalg::GenericOp::create(
          b, loc, sInit.getType(), ValueRange{logits, m}, ValueRange{sInit},
          ArrayRef<AffineMap>{x, row, row}, ArrayRef<IteratorType>{kPar, kRed},
          [](OpBuilder &bb, Location l, ValueRange a) {
            Value e = math::ExpOp::create(
                bb, l, arith::SubFOp::create(bb, l, a[0], a[1]));
            Value e64 = arith::ExtFOp::create(bb, l, bb.getF64Type(), e);
            linalg::YieldOp::create(
                bb, l, ValueRange{arith::AddFOp::create(bb, l, a[2], e64)});
          })
          .getResult(0);
  AffineMap id1 = b.getMultiDimIdentityMap(1);
  Value lInit = tensor::EmptyOp::create(b, loc, {n}, b.getF32Type());
  Value lse = linalg::GenericOp::create(
                  b, loc, lInit.getType(), ValueRange{sum}, ValueRange{lInit},
                  ArrayRef<AffineMap>{id1, id1}, ArrayRef<IteratorType>{kPar},
                  [](OpBuilder &bb, Location l, ValueRange a) {
                    Value s32 =
                        arith::TruncFOp::create(bb, l, bb.getF32Type(), a[0]);
                    linalg::YieldOp::create(
                        bb, l, ValueRange{math::LogOp::create(bb, l, s32)});
                  })
                  .getResult(0);
  return {m, lse};
}

/// `label` (i32) as an index and whether it lies in [0, classes).
std::pair<Value, Value> labelIndex(OpBuilder &b, Location l, Value label,
                                   int64_t classes) {
  Value idx = arith::IndexCastOp::create(b, l, b.getIndexType(), label);
  return {idx, inBounds(b, l, idx, classes)};
}

struct SoftmaxCrossEntropyLowering
    : OpConversionPattern<SoftmaxCrossEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxCrossEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = cast<RankedTensorType>(op.getLogits().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    int64_t n = type.getDimSize(0), c = type.getDimSize(1);
    auto [m, lse] = logSumExp(rewriter, loc, adaptor.getLogits());
    // sum over (i, j) of the label's logp; a label out of range adds NaN.
    Value init = filled(rewriter, loc, {}, rewriter.getF64FloatAttr(0.0));
    AffineMap x = rewriter.getMultiDimIdentityMap(2);
    AffineMap row = map(ctx, 2, {d(ctx, 0)});
    AffineMap scalar = map(ctx, 2, {});
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc, init.getType(),
            ValueRange{adaptor.getLogits(), m, lse, adaptor.getLabels()},
            ValueRange{init}, ArrayRef<AffineMap>{x, row, row, row, scalar},
            ArrayRef<IteratorType>{kRed, kRed},
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value j = linalg::IndexOp::create(b, l, 1);
              auto [label, valid] = labelIndex(b, l, a[3], c);
              Value logp = arith::SubFOp::create(
                  b, l, arith::SubFOp::create(b, l, a[0], a[1]), a[2]);
              Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                                j, label);
              Value first = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::eq, j, cstIdx(b, l, 0));
              Value term = arith::ExtFOp::create(b, l, b.getF64Type(), logp);
              Value nan =
                  cstF64(b, l, std::numeric_limits<double>::quiet_NaN());
              // Valid label: its logp at j == label; invalid: NaN at j == 0.
              Value add = arith::SelectOp::create(b, l, valid, hit, first);
              Value value = arith::SelectOp::create(b, l, valid, term, nan);
              Value next = arith::AddFOp::create(b, l, a[4], value);
              linalg::YieldOp::create(
                  b, l,
                  ValueRange{arith::SelectOp::create(b, l, add, next, a[4])});
            })
            .getResult(0);
    auto lossType = cast<RankedTensorType>(op.getLoss().getType());
    Value out = tensor::EmptyOp::create(rewriter, loc, ArrayRef<int64_t>{},
                                        rewriter.getF32Type());
    AffineMap s0 = AffineMap::get(0, 0, {}, ctx);
    Value loss =
        linalg::GenericOp::create(
            rewriter, loc, lossType, ValueRange{sum}, ValueRange{out},
            ArrayRef<AffineMap>{s0, s0}, ArrayRef<IteratorType>{},
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value s32 = arith::TruncFOp::create(b, l, b.getF32Type(), a[0]);
              Value neg = arith::NegFOp::create(b, l, s32);
              linalg::YieldOp::create(b, l,
                                      ValueRange{arith::DivFOp::create(
                                          b, l, neg, cstF32(b, l, double(n)))});
            })
            .getResult(0);
    rewriter.replaceOp(op, loss);
    return success();
  }
};

struct SoftmaxCrossEntropyGradLowering
    : OpConversionPattern<SoftmaxCrossEntropyGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxCrossEntropyGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = cast<RankedTensorType>(op.getLogits().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    int64_t n = type.getDimSize(0), c = type.getDimSize(1);
    auto [m, lse] = logSumExp(rewriter, loc, adaptor.getLogits());
    AffineMap x = rewriter.getMultiDimIdentityMap(2);
    AffineMap row = map(ctx, 2, {d(ctx, 0)});
    AffineMap scalar = map(ctx, 2, {});
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         rewriter.getF32Type());
    Value grad =
        linalg::GenericOp::create(
            rewriter, loc, type,
            ValueRange{adaptor.getLogits(), m, lse, adaptor.getLabels(),
                       adaptor.getGradLoss()},
            ValueRange{init}, ArrayRef<AffineMap>{x, row, row, row, scalar, x},
            ArrayRef<IteratorType>{kPar, kPar},
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value j = linalg::IndexOp::create(b, l, 1);
              auto [label, valid] = labelIndex(b, l, a[3], c);
              Value logp = arith::SubFOp::create(
                  b, l, arith::SubFOp::create(b, l, a[0], a[1]), a[2]);
              Value dd =
                  arith::DivFOp::create(b, l, a[4], cstF32(b, l, double(n)));
              Value e = arith::MulFOp::create(
                  b, l, math::ExpOp::create(b, l, logp), dd);
              Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                                j, label);
              Value g = arith::SelectOp::create(
                  b, l, hit, arith::SubFOp::create(b, l, e, dd), e);
              Value nan = cstF32(b, l, std::numeric_limits<float>::quiet_NaN());
              linalg::YieldOp::create(
                  b, l,
                  ValueRange{arith::SelectOp::create(b, l, valid, g, nan)});
            })
            .getResult(0);
    rewriter.replaceOp(op, grad);
    return success();
  }
};

/// The optimizer updates: elementwise generics over the parameter, one per
/// result (One-Shot Bufferize gives the results of one generic whose inits
/// are tensor.empty, merged by CSE, a single buffer), with rank-0 maps for
/// the scalar operands (lr, step).
Value f64ToF32(OpBuilder &b, Location l, Value v) {
  return arith::TruncFOp::create(b, l, b.getF32Type(), v);
}

/// One elementwise generic of `type` over `inputs`; `scalarMask[i]` marks a
/// rank-0 input.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType type,
                  ValueRange inputs,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  int64_t rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, b.getContext());
  SmallVector<AffineMap> maps;
  for (Value v : inputs)
    maps.push_back(
        cast<RankedTensorType>(v.getType()).getRank() == 0 && rank != 0 ? scalar
                                                                        : id);
  maps.push_back(id);
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, inputs, ValueRange{init}, maps,
             SmallVector<IteratorType>(rank, kPar),
             [&](OpBuilder &nb, Location l, ValueRange a) {
               linalg::YieldOp::create(nb, l,
                                       ValueRange{body(nb, l, a.drop_back())});
             })
      .getResult(0);
}

struct SGDUpdateLowering : OpConversionPattern<SGDUpdateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SGDUpdateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getParam().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    double momentum = op.getMomentum().convertToDouble();
    double dampening = op.getDampening().convertToDouble();
    double wd = op.getWeightDecay().convertToDouble();
    bool nesterov = op.getNesterov();
    // d = grad (+ weight_decay * param)
    auto direction = [&](OpBuilder &b, Location l, Value p, Value g) {
      return wd != 0.0
                 ? Value(math::FmaOp::create(b, l, p, cstF32(b, l, wd), g))
                 : g;
    };
    Value buf = adaptor.getMomentumBuffer();
    if (momentum != 0.0)
      buf = elementwise(
          rewriter, loc, type,
          {adaptor.getParam(), adaptor.getGrad(), adaptor.getMomentumBuffer(),
           adaptor.getStep()},
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value d = direction(b, l, a[0], a[1]);
            Value first = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq, a[3],
                arith::ConstantOp::create(b, l, b.getI64IntegerAttr(0)));
            Value scaled =
                arith::MulFOp::create(b, l, a[2], cstF32(b, l, momentum));
            Value later = math::FmaOp::create(
                b, l, d, cstF32(b, l, 1.0 - dampening), scaled);
            return arith::SelectOp::create(b, l, first, d, later);
          });
    Value param = elementwise(
        rewriter, loc, type,
        {adaptor.getParam(), adaptor.getGrad(), buf, adaptor.getLr()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value d;
          if (momentum == 0.0)
            d = direction(b, l, a[0], a[1]);
          else if (nesterov)
            d = math::FmaOp::create(b, l, a[2], cstF32(b, l, momentum),
                                    direction(b, l, a[0], a[1]));
          else
            d = a[2];
          Value negLr = arith::NegFOp::create(b, l, f64ToF32(b, l, a[3]));
          return math::FmaOp::create(b, l, d, negLr, a[0]);
        });
    rewriter.replaceOp(op, {param, buf});
    return success();
  }
};

struct AdamUpdateLowering : OpConversionPattern<AdamUpdateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AdamUpdateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getParam().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    double beta1 = op.getBeta1().convertToDouble();
    double beta2 = op.getBeta2().convertToDouble();
    double eps = op.getEps().convertToDouble();
    double wd = op.getWeightDecay().convertToDouble();

    // The f64 scalars of the step, as Python computes them; -step_size and
    // bc2_sqrt are rounded to f32 where they meet the tensors.
    Type f64 = rewriter.getF64Type();
    auto scalarType = RankedTensorType::get({}, rewriter.getF32Type());
    auto biasCorrection = [&](OpBuilder &b, Location l, Value step,
                              double beta) -> Value {
      Value t = arith::SIToFPOp::create(
          b, l, f64,
          arith::AddIOp::create(
              b, l, step,
              arith::ConstantOp::create(b, l, b.getI64IntegerAttr(1))));
      return arith::SubFOp::create(
          b, l, cstF64(b, l, 1.0),
          math::PowFOp::create(b, l, cstF64(b, l, beta), t));
    };
    Value negStep = elementwise(
        rewriter, loc, scalarType, {adaptor.getLr(), adaptor.getStep()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value stepSize = arith::DivFOp::create(
              b, l, a[0], biasCorrection(b, l, a[1], beta1));
          return f64ToF32(b, l, arith::NegFOp::create(b, l, stepSize));
        });
    Value bc2Sqrt = elementwise(
        rewriter, loc, scalarType, {adaptor.getStep()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          return f64ToF32(
              b, l,
              math::SqrtOp::create(b, l, biasCorrection(b, l, a[0], beta2)));
        });

    auto direction = [&](OpBuilder &b, Location l, Value p, Value g) {
      return wd != 0.0
                 ? Value(math::FmaOp::create(b, l, p, cstF32(b, l, wd), g))
                 : g;
    };
    Value m = elementwise(
        rewriter, loc, type,
        {adaptor.getParam(), adaptor.getGrad(), adaptor.getExpAvg()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value g = direction(b, l, a[0], a[1]);
          return math::FmaOp::create(
              b, l, g, cstF32(b, l, 1.0 - beta1),
              arith::MulFOp::create(b, l, a[2], cstF32(b, l, beta1)));
        });
    Value v = elementwise(
        rewriter, loc, type,
        {adaptor.getParam(), adaptor.getGrad(), adaptor.getExpAvgSq()},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value g = direction(b, l, a[0], a[1]);
          return math::FmaOp::create(
              b, l, arith::MulFOp::create(b, l, cstF32(b, l, 1.0 - beta2), g),
              g, arith::MulFOp::create(b, l, a[2], cstF32(b, l, beta2)));
        });
    Value param = elementwise(
        rewriter, loc, type, {adaptor.getParam(), m, v, negStep, bc2Sqrt},
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value den = arith::AddFOp::create(
              b, l,
              arith::DivFOp::create(b, l, math::SqrtOp::create(b, l, a[2]),
                                    a[4]),
              cstF32(b, l, eps));
          return arith::AddFOp::create(
              b, l, a[0],
              arith::DivFOp::create(
                  b, l, arith::MulFOp::create(b, l, a[3], a[1]), den));
        });
    rewriter.replaceOp(op, {param, m, v});
    return success();
  }
};

/// qat.batch_norm_train: the sums as loops over (n, h, w) outermost and the
/// channel innermost, so each channel's sum runs left to right over the
/// positions (QATTrainingOps.td); the rest per channel or per element.
struct BatchNormTrainLowering : OpConversionPattern<BatchNormTrainOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BatchNormTrainOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    int64_t c = type.getDimSize(3);
    int64_t p = type.getDimSize(0) * type.getDimSize(1) * type.getDimSize(2);
    auto cType = RankedTensorType::get({c}, rewriter.getF32Type());
    Value x = adaptor.getInput();
    AffineMap id4 = rewriter.getMultiDimIdentityMap(4);
    AffineMap ch4 = map(ctx, 4, {d(ctx, 3)});
    SmallVector<IteratorType> sumIters{kRed, kRed, kRed, kPar};
    Value zero = filled(rewriter, loc, {c}, rewriter.getF32FloatAttr(0.0));
    // S[c], left to right over the positions.
    Value sum =
        linalg::GenericOp::create(
            rewriter, loc, cType, ValueRange{x}, ValueRange{zero},
            ArrayRef<AffineMap>{id4, ch4}, sumIters,
            [&](OpBuilder &b, Location l, ValueRange a) {
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::AddFOp::create(b, l, a[1], a[0])});
            })
            .getResult(0);
    Value mean = elementwise(rewriter, loc, cType, {sum},
                             [&](OpBuilder &b, Location l, ValueRange a) {
                               return arith::DivFOp::create(
                                   b, l, a[0], cstF32(b, l, double(p)));
                             });
    // Q[c] = fma(d, d, Q[c]) in order.
    Value q =
        linalg::GenericOp::create(
            rewriter, loc, cType, ValueRange{x, mean}, ValueRange{zero},
            ArrayRef<AffineMap>{id4, ch4, ch4}, sumIters,
            [&](OpBuilder &b, Location l, ValueRange a) {
              Value dv = arith::SubFOp::create(b, l, a[0], a[1]);
              linalg::YieldOp::create(
                  b, l, ValueRange{math::FmaOp::create(b, l, dv, dv, a[2])});
            })
            .getResult(0);
    double eps = op.getEpsilon().convertToDouble();
    Value invstd = elementwise(
        rewriter, loc, cType, {q}, [&](OpBuilder &b, Location l, ValueRange a) {
          Value var = arith::DivFOp::create(b, l, a[0], cstF32(b, l, double(p)));
          Value v64 = arith::ExtFOp::create(b, l, b.getF64Type(), var);
          Value sd = math::SqrtOp::create(
              b, l, arith::AddFOp::create(b, l, v64, cstF64(b, l, eps)));
          return f64ToF32(b, l,
                          arith::DivFOp::create(b, l, cstF64(b, l, 1.0), sd));
        });
    Value unbiased = elementwise(
        rewriter, loc, cType, {q}, [&](OpBuilder &b, Location l, ValueRange a) {
          return arith::DivFOp::create(b, l, a[0],
                                       cstF32(b, l, double(p - 1)));
        });
    Value alpha = elementwise(rewriter, loc, cType,
                              {invstd, adaptor.getGamma()},
                              [&](OpBuilder &b, Location l, ValueRange a) {
                                return arith::MulFOp::create(b, l, a[0], a[1]);
                              });
    Value shift = elementwise(
        rewriter, loc, cType, {mean, alpha, adaptor.getBeta()},
        [&](OpBuilder &b, Location l, ValueRange a) {
          return math::FmaOp::create(b, l, arith::NegFOp::create(b, l, a[0]),
                                     a[1], a[2]);
        });
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         rewriter.getF32Type());
    Value out =
        linalg::GenericOp::create(
            rewriter, loc, type, ValueRange{x, alpha, shift}, ValueRange{init},
            ArrayRef<AffineMap>{id4, ch4, ch4, id4},
            SmallVector<IteratorType>(4, kPar),
            [&](OpBuilder &b, Location l, ValueRange a) {
              linalg::YieldOp::create(
                  b, l, ValueRange{math::FmaOp::create(b, l, a[0], a[1], a[2])});
            })
            .getResult(0);
    rewriter.replaceOp(op, {out, mean, invstd, unbiased});
    return success();
  }
};

} // namespace

void mlir::qat::populateQATTrainingOpsToLinalgConversionPatterns(
    RewritePatternSet &patterns) {
  populateQATWindowAdjointsToLinalgConversionPatterns(patterns);
  patterns.add<SoftmaxCrossEntropyLowering, SoftmaxCrossEntropyGradLowering,
               SGDUpdateLowering, AdamUpdateLowering, BatchNormTrainLowering>(
      patterns.getContext());
}
