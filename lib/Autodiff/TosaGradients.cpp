//===- TosaGradients.cpp - adjoints of the TOSA input contract ------------===//
//
// GradientOpInterface external models on upstream TOSA ops. Each adjoint is
// written with the ops docs/Training.md lists: qat convolution and pooling
// adjoints, tosa.matmul/transpose for matmul, TOSA element-wise and layout
// ops for the rest. Float TOSA only (zero points 0, shift 0).
//
//===----------------------------------------------------------------------===//

#include "qat/Autodiff/Autodiff.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/Constants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/BuiltinTypes.h"

#include <limits>

using namespace mlir;
using namespace mlir::qat;

Value mlir::qat::buildZeros(OpBuilder &b, Location loc, Type type) {
  auto t = cast<RankedTensorType>(type);
  return tosa::ConstOp::create(
      b, loc, t, DenseElementsAttr::get(t, b.getZeroAttr(t.getElementType())));
}

namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// A rank-`rank` f32 constant of shape 1x...x1 holding `v`.
Value scalarLike(OpBuilder &b, Location loc, int64_t rank, float v) {
  auto type =
      RankedTensorType::get(SmallVector<int64_t>(rank, 1), b.getF32Type());
  return tosa::ConstOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
}

Value shiftZero(OpBuilder &b, Location loc) {
  auto type = RankedTensorType::get({1}, b.getI8Type());
  return tosa::ConstOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getI8IntegerAttr(0)));
}

Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  auto tx = tensorType(x), ty = tensorType(y);
  SmallVector<int64_t> shape;
  for (auto [a, c] : llvm::zip(tx.getShape(), ty.getShape()))
    shape.push_back(a == 1 ? c : a);
  return tosa::MulOp::create(b, loc, tx.clone(shape), x, y, shiftZero(b, loc));
}

Value reshape(OpBuilder &b, Location loc, Value x, RankedTensorType type) {
  if (tensorType(x) == type)
    return x;
  return tosa::ReshapeOp::create(b, loc, type, x,
                                 createConstShape(b, loc, type.getShape()));
}

/// `grad` summed over the axes along which `operand` was broadcast (TOSA
/// broadcasting: equal ranks, size-1 dimensions), so that it has the
/// operand's type.
Value unbroadcast(OpBuilder &b, Location loc, Value grad, Value operand) {
  auto gt = tensorType(grad), ot = tensorType(operand);
  for (int64_t i = 0; i < gt.getRank(); ++i) {
    if (ot.getDimSize(i) == 1 && gt.getDimSize(i) != 1) {
      grad = tosa::ReduceSumOp::create(b, loc, grad, b.getI32IntegerAttr(i));
      gt = tensorType(grad);
    }
  }
  return grad;
}

/// The bias gradient of a convolution: dy summed over N, H and W, as [C].
Value biasGradient(OpBuilder &b, Location loc, Value dy, Value bias) {
  Value g = dy;
  for (int32_t axis : {0, 1, 2})
    g = tosa::ReduceSumOp::create(b, loc, g, b.getI32IntegerAttr(axis));
  auto bt = tensorType(bias);
  int64_t c = tensorType(dy).getDimSize(3);
  // A bias of one element broadcast over the channels.
  if (bt.getNumElements() == 1 && c != 1)
    g = tosa::ReduceSumOp::create(b, loc, g, b.getI32IntegerAttr(3));
  return reshape(b, loc, g, bt);
}

Value transposeLast2(OpBuilder &b, Location loc, Value x) {
  auto t = tensorType(x);
  SmallVector<int64_t> shape{t.getDimSize(0), t.getDimSize(2), t.getDimSize(1)};
  return tosa::TransposeOp::create(b, loc, t.clone(shape), x,
                                   b.getDenseI32ArrayAttr({0, 2, 1}));
}

template <typename ConcreteModel, typename OpTy>
using Model = GradientOpInterface::ExternalModel<ConcreteModel, OpTy>;

struct Conv2DGradient : Model<Conv2DGradient, tosa::Conv2DOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::Conv2DOp>(o);
    Location loc = op.getLoc();
    Value dy = grads.front();
    Value dx = Conv2DBackwardDataOp::create(
        b, loc, op.getInput().getType(), dy, op.getWeight(), op.getPadAttr(),
        op.getStrideAttr(), op.getDilationAttr());
    Value dw = Conv2DBackwardWeightOp::create(
        b, loc, op.getWeight().getType(), op.getInput(), dy, op.getPadAttr(),
        op.getStrideAttr(), op.getDilationAttr());
    return {dx, dw, biasGradient(b, loc, dy, op.getBias()), Value(), Value()};
  }
};

struct DepthwiseConv2DGradient
    : Model<DepthwiseConv2DGradient, tosa::DepthwiseConv2DOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::DepthwiseConv2DOp>(o);
    Location loc = op.getLoc();
    Value dy = grads.front();
    Value dx = DepthwiseConv2DBackwardDataOp::create(
        b, loc, op.getInput().getType(), dy, op.getWeight(), op.getPadAttr(),
        op.getStrideAttr(), op.getDilationAttr());
    Value dw = DepthwiseConv2DBackwardWeightOp::create(
        b, loc, op.getWeight().getType(), op.getInput(), dy, op.getPadAttr(),
        op.getStrideAttr(), op.getDilationAttr());
    return {dx, dw, biasGradient(b, loc, dy, op.getBias()), Value(), Value()};
  }
};

struct MatMulGradient : Model<MatMulGradient, tosa::MatMulOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::MatMulOp>(o);
    Location loc = op.getLoc();
    Value dy = grads.front();
    Value zp = op.getAZp();
    Value da = tosa::MatMulOp::create(b, loc, op.getA().getType(), dy,
                                      transposeLast2(b, loc, op.getB()), zp,
                                      op.getBZp());
    Value db = tosa::MatMulOp::create(b, loc, op.getB().getType(),
                                      transposeLast2(b, loc, op.getA()), dy, zp,
                                      op.getBZp());
    return {da, db, Value(), Value()};
  }
};

struct AddGradient : Model<AddGradient, tosa::AddOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::AddOp>(o);
    Location loc = op.getLoc();
    return {unbroadcast(b, loc, grads.front(), op.getInput1()),
            unbroadcast(b, loc, grads.front(), op.getInput2())};
  }
};

struct SubGradient : Model<SubGradient, tosa::SubOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::SubOp>(o);
    Location loc = op.getLoc();
    Value dy = grads.front();
    Value neg =
        mul(b, loc, dy, scalarLike(b, loc, tensorType(dy).getRank(), -1.0f));
    return {unbroadcast(b, loc, dy, op.getInput1()),
            unbroadcast(b, loc, neg, op.getInput2())};
  }
};

struct MulGradient : Model<MulGradient, tosa::MulOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::MulOp>(o);
    Location loc = op.getLoc();
    Value dy = grads.front();
    return {
        unbroadcast(b, loc, mul(b, loc, dy, op.getInput2()), op.getInput1()),
        unbroadcast(b, loc, mul(b, loc, dy, op.getInput1()), op.getInput2()),
        Value()};
  }
};

/// ReLU / ReLU6 / hardtanh: dy where lo < x < hi (PyTorch's
/// threshold_backward and hardtanh_backward), 0 elsewhere and for NaN. A
/// bound at the float range's end (ReLU's max) is no bound.
struct ClampGradient : Model<ClampGradient, tosa::ClampOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::ClampOp>(o);
    Location loc = op.getLoc();
    Value x = op.getInput(), dy = grads.front();
    auto type = tensorType(x);
    int64_t rank = type.getRank();
    auto predType = type.clone(b.getI1Type());
    double lo = cast<FloatAttr>(op.getMinValAttr()).getValueAsDouble();
    double hi = cast<FloatAttr>(op.getMaxValAttr()).getValueAsDouble();
    double big = std::numeric_limits<float>::max();
    Value pred;
    auto conj = [&](Value p) {
      pred = pred ? Value(tosa::LogicalAndOp::create(b, loc, predType, pred, p))
                  : p;
    };
    if (lo > -big)
      conj(tosa::GreaterOp::create(b, loc, predType, x,
                                   scalarLike(b, loc, rank, lo)));
    if (hi < big)
      conj(tosa::GreaterOp::create(b, loc, predType,
                                   scalarLike(b, loc, rank, hi), x));
    if (!pred)
      return {dy};
    return {tosa::SelectOp::create(b, loc, type, pred, dy,
                                   buildZeros(b, loc, type))};
  }
};

/// y = rsqrt(x): dx = (dy * -0.5) * (y * y * y), PyTorch's
/// `-0.5 * grad * result.pow(3)`.
struct RsqrtGradient : Model<RsqrtGradient, tosa::RsqrtOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::RsqrtOp>(o);
    Location loc = op.getLoc();
    Value y = op.getResult();
    int64_t rank = tensorType(y).getRank();
    Value cube = mul(b, loc, mul(b, loc, y, y), y);
    Value half = mul(b, loc, grads.front(), scalarLike(b, loc, rank, -0.5f));
    return {mul(b, loc, half, cube)};
  }
};

/// y = 1 / x: dx = dy * -(y * y), PyTorch's `grad * -(result * result)`.
struct ReciprocalGradient
    : Model<ReciprocalGradient, tosa::ReciprocalOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::ReciprocalOp>(o);
    Location loc = op.getLoc();
    Value y = op.getResult();
    int64_t rank = tensorType(y).getRank();
    Value negSq = mul(b, loc, mul(b, loc, y, y), scalarLike(b, loc, rank, -1.0f));
    return {mul(b, loc, grads.front(), negSq)};
  }
};

/// z = a / b on tensors of one shape (ConvBn2d's exact divisions): da = dz
/// / b, db = -dz * ((a / b) / b), PyTorch's div backward.
struct DivFGradient : Model<DivFGradient, arith::DivFOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<arith::DivFOp>(o);
    Location loc = op.getLoc();
    Value dz = grads.front(), lhs = op.getLhs(), rhs = op.getRhs();
    Value da = arith::DivFOp::create(b, loc, dz, rhs);
    Value q = arith::DivFOp::create(
        b, loc, arith::DivFOp::create(b, loc, lhs, rhs), rhs);
    Value db = arith::MulFOp::create(b, loc, arith::NegFOp::create(b, loc, dz), q);
    return {da, db};
  }
};

struct MaxPool2DGradient : Model<MaxPool2DGradient, tosa::MaxPool2dOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::MaxPool2dOp>(o);
    return {MaxPool2DBackwardOp::create(
        b, op.getLoc(), op.getInput().getType(), grads.front(), op.getInput(),
        op.getKernelAttr(), op.getStrideAttr(), op.getPadAttr())};
  }
};

struct AvgPool2DGradient : Model<AvgPool2DGradient, tosa::AvgPool2dOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::AvgPool2dOp>(o);
    return {AvgPool2DBackwardOp::create(b, op.getLoc(), op.getInput().getType(),
                                        grads.front(), op.getKernelAttr(),
                                        op.getStrideAttr(), op.getPadAttr()),
            Value(), Value()};
  }
};

struct ReshapeGradient : Model<ReshapeGradient, tosa::ReshapeOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::ReshapeOp>(o);
    return {reshape(b, op.getLoc(), grads.front(), tensorType(op.getInput1())),
            Value()};
  }
};

struct TransposeGradient : Model<TransposeGradient, tosa::TransposeOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::TransposeOp>(o);
    ArrayRef<int32_t> perms = op.getPerms();
    SmallVector<int32_t> inverse(perms.size());
    for (auto [i, p] : llvm::enumerate(perms))
      inverse[p] = static_cast<int32_t>(i);
    return {tosa::TransposeOp::create(b, op.getLoc(), op.getInput1().getType(),
                                      grads.front(),
                                      b.getDenseI32ArrayAttr(inverse))};
  }
};

/// The constant values of a !tosa.shape operand (empty if not constant).
SmallVector<int64_t> constShape(Value v) {
  return getConstantShape(v).value_or(SmallVector<int64_t>());
}

Value zeroPadConst(OpBuilder &b, Location loc) {
  auto type = RankedTensorType::get({1}, b.getF32Type());
  return tosa::ConstOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(0)));
}

struct SliceGradient : Model<SliceGradient, tosa::SliceOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::SliceOp>(o);
    Location loc = op.getLoc();
    auto in = tensorType(op.getInput1());
    auto out = tensorType(op.getResult());
    SmallVector<int64_t> start = constShape(op.getStart());
    if (start.size() != static_cast<size_t>(in.getRank()))
      return {};
    SmallVector<int64_t> padding;
    for (int64_t i = 0; i < in.getRank(); ++i) {
      padding.push_back(start[i]);
      padding.push_back(in.getDimSize(i) - start[i] - out.getDimSize(i));
    }
    return {tosa::PadOp::create(b, loc, in, grads.front(),
                                createConstShape(b, loc, padding),
                                zeroPadConst(b, loc)),
            Value(), Value()};
  }
};

struct PadGradient : Model<PadGradient, tosa::PadOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::PadOp>(o);
    Location loc = op.getLoc();
    auto in = tensorType(op.getInput1());
    SmallVector<int64_t> padding = constShape(op.getPadding());
    if (padding.size() != static_cast<size_t>(2 * in.getRank()))
      return {};
    SmallVector<int64_t> start;
    for (int64_t i = 0; i < in.getRank(); ++i)
      start.push_back(padding[2 * i]);
    return {tosa::SliceOp::create(b, loc, in, grads.front(),
                                  createConstShape(b, loc, start),
                                  createConstShape(b, loc, in.getShape())),
            Value(), Value()};
  }
};

struct ConcatGradient : Model<ConcatGradient, tosa::ConcatOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::ConcatOp>(o);
    Location loc = op.getLoc();
    int64_t axis = op.getAxis();
    int64_t offset = 0;
    SmallVector<Value> out;
    for (Value in : op.getInput1()) {
      auto t = tensorType(in);
      SmallVector<int64_t> start(t.getRank(), 0);
      start[axis] = offset;
      offset += t.getDimSize(axis);
      out.push_back(tosa::SliceOp::create(
          b, loc, t, grads.front(), createConstShape(b, loc, start),
          createConstShape(b, loc, t.getShape())));
    }
    return out;
  }
};

struct ReduceSumGradient : Model<ReduceSumGradient, tosa::ReduceSumOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<tosa::ReduceSumOp>(o);
    Location loc = op.getLoc();
    // The broadcast back to the input's shape as an add of zeros (TOSA
    // broadcasting; exact): qat-to-llvm's lowering of tosa.tile fused with
    // its users does not reach the LLVM dialect.
    auto in = tensorType(op.getInput());
    return {
        tosa::AddOp::create(b, loc, in, grads.front(), buildZeros(b, loc, in))};
  }
};

/// Whether `v` is a splat-zero tosa.const (the differentiation's stand-in
/// for a result whose gradient nothing uses).
bool isZeroConst(Value v) {
  auto c = v.getDefiningOp<tosa::ConstOp>();
  auto attr = c ? dyn_cast<DenseFPElementsAttr>(c.getValues())
                : DenseFPElementsAttr();
  return attr && attr.isSplat() && attr.getSplatValue<APFloat>().isZero();
}

/// qat.batch_norm_train (QATTrainingOps.td): the batch-norm backward on
/// the batch's statistics, in f32 TOSA ops.
struct BatchNormTrainGradient
    : Model<BatchNormTrainGradient, BatchNormTrainOp> {
  SmallVector<Value> buildGradients(Operation *o, OpBuilder &b,
                                    ValueRange grads) const {
    auto op = cast<BatchNormTrainOp>(o);
    Location loc = op.getLoc();
    auto xType = tensorType(op.getInput());
    int64_t c = xType.getDimSize(3);
    int64_t p = xType.getDimSize(0) * xType.getDimSize(1) * xType.getDimSize(2);
    auto c4 = RankedTensorType::get({1, 1, 1, c}, b.getF32Type());
    auto cType = tensorType(op.getGamma());
    auto sub = [&](Value x, Value y) -> Value {
      return tosa::SubOp::create(b, loc, xType, x, y);
    };
    auto sumNHW = [&](Value v) {
      for (int32_t axis : {0, 1, 2})
        v = tosa::ReduceSumOp::create(b, loc, v, b.getI32IntegerAttr(axis));
      return v;
    };
    auto scaled = [&](Value v, double k) {
      return mul(b, loc, v, scalarLike(b, loc, 4, static_cast<float>(k)));
    };
    Value g = grads[0];
    Value mean = reshape(b, loc, op.getMean(), c4);
    Value invstd = reshape(b, loc, op.getInvstd(), c4);
    Value xc = sub(op.getInput(), mean);
    Value xhat = mul(b, loc, xc, invstd);
    Value dbeta = sumNHW(g);
    Value dgamma = sumNHW(mul(b, loc, g, xhat));
    Value inner = sub(sub(g, scaled(dbeta, 1.0 / double(p))),
                      mul(b, loc, xhat, scaled(dgamma, 1.0 / double(p))));
    Value dx = mul(b, loc, mul(b, loc, reshape(b, loc, op.getGamma(), c4),
                               invstd),
                   inner);
    auto addTerm = [&](Value term) {
      dx = tosa::AddOp::create(b, loc, xType, dx, term);
    };
    // The statistics' own gradients, where something uses them.
    if (!isZeroConst(grads[1])) // d mean / dx = 1 / P
      addTerm(tosa::AddOp::create(
          b, loc, xType, buildZeros(b, loc, xType),
          scaled(reshape(b, loc, grads[1], c4), 1.0 / double(p))));
    if (!isZeroConst(grads[2])) { // d invstd / dx = -invstd^3 (x - mean) / P
      Value cube = mul(b, loc, mul(b, loc, invstd, invstd), invstd);
      Value k = scaled(mul(b, loc, reshape(b, loc, grads[2], c4), cube),
                       -1.0 / double(p));
      addTerm(mul(b, loc, xc, k));
    }
    if (!isZeroConst(grads[3])) // d var / dx = 2 (x - mean) / (P - 1)
      addTerm(mul(b, loc, xc,
                  scaled(reshape(b, loc, grads[3], c4), 2.0 / double(p - 1))));
    return {dx, reshape(b, loc, dgamma, cType), reshape(b, loc, dbeta, cType)};
  }
};

} // namespace

void mlir::qat::registerTosaGradientInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, arith::ArithDialect *) {
    arith::DivFOp::attachInterface<DivFGradient>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, QATDialect *) {
    BatchNormTrainOp::attachInterface<BatchNormTrainGradient>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, tosa::TosaDialect *) {
    // The adjoints create qat ops.
    ctx->loadDialect<QATDialect>();
    tosa::Conv2DOp::attachInterface<Conv2DGradient>(*ctx);
    tosa::DepthwiseConv2DOp::attachInterface<DepthwiseConv2DGradient>(*ctx);
    tosa::MatMulOp::attachInterface<MatMulGradient>(*ctx);
    tosa::AddOp::attachInterface<AddGradient>(*ctx);
    tosa::SubOp::attachInterface<SubGradient>(*ctx);
    tosa::MulOp::attachInterface<MulGradient>(*ctx);
    tosa::ClampOp::attachInterface<ClampGradient>(*ctx);
    tosa::RsqrtOp::attachInterface<RsqrtGradient>(*ctx);
    tosa::ReciprocalOp::attachInterface<ReciprocalGradient>(*ctx);
    tosa::MaxPool2dOp::attachInterface<MaxPool2DGradient>(*ctx);
    tosa::AvgPool2dOp::attachInterface<AvgPool2DGradient>(*ctx);
    tosa::ReshapeOp::attachInterface<ReshapeGradient>(*ctx);
    tosa::TransposeOp::attachInterface<TransposeGradient>(*ctx);
    tosa::SliceOp::attachInterface<SliceGradient>(*ctx);
    tosa::PadOp::attachInterface<PadGradient>(*ctx);
    tosa::ConcatOp::attachInterface<ConcatGradient>(*ctx);
    tosa::ReduceSumOp::attachInterface<ReduceSumGradient>(*ctx);
  });
}
