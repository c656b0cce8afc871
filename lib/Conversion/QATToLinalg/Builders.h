//===- Builders.h - linalg builders of the qat lowering ---------*- C++ -*-===//
//
// Private to lib/Conversion/QATToLinalg: the scalar formulas of the qat ops
// and the linalg.generic builders that the lowering patterns share.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_QATTOLINALG_BUILDERS_H
#define QAT_LIB_CONVERSION_QATTOLINALG_BUILDERS_H

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir::qat::linalg_builders {

/// Builds the scalar arithmetic of the qat formulas inside a linalg body.
struct ScalarBuilder {
  OpBuilder &b;
  Location loc;

  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value f64(double v) {
    return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value maximum(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value minimum(Value x, Value y) {
    return arith::MinimumFOp::create(b, loc, x, y);
  }
  Value cmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value roundEven(Value x) { return math::RoundEvenOp::create(b, loc, x); }
  /// a * b + c rounded once.
  Value fma(Value a, Value c1, Value c2) {
    return math::FmaOp::create(b, loc, a, c1, c2);
  }
  Value toF64(Value x) {
    return arith::ExtFOp::create(b, loc, b.getF64Type(), x);
  }
  Value toF32(Value x) {
    return arith::TruncFOp::create(b, loc, b.getF32Type(), x);
  }

  /// min(max(t, lo), hi) with NaN propagated.
  Value clamp(Value t, int64_t lo, int64_t hi) {
    return minimum(maximum(t, f32(lo)), f32(hi));
  }
  Value inRange(Value t, int64_t lo, int64_t hi) {
    return andI(cmp(arith::CmpFPredicate::OGE, t, f32(lo)),
                cmp(arith::CmpFPredicate::OLE, t, f32(hi)));
  }
  /// scale > 0 && scale < inf (false for NaN).
  Value validScale(Value s) {
    return andI(cmp(arith::CmpFPredicate::OGT, s, f32(0.0)),
                cmp(arith::CmpFPredicate::OLT, s,
                    f32(std::numeric_limits<float>::infinity())));
  }
  /// r of qat.fake_quant.
  Value roundToGrid(Value x, Value s, RoundingMode mode) {
    switch (mode) {
    case RoundingMode::half_even:
      return roundEven(mul(x, div(f32(1.0), s)));
    case RoundingMode::half_even_div:
      return roundEven(div(x, s));
    case RoundingMode::half_up:
      return math::FloorOp::create(b, loc, add(div(x, s), f32(0.5)));
    }
    llvm_unreachable("unknown rounding mode");
  }
  /// y of qat.fake_quant for a float zero point `zf`.
  Value fakeQuant(Value x, Value s, Value zf, int64_t qmin, int64_t qmax,
                  RoundingMode mode) {
    Value t = add(roundToGrid(x, s, mode), zf);
    Value y = mul(sub(clamp(t, qmin, qmax), zf), s);
    return select(validScale(s), y,
                  f32(std::numeric_limits<float>::quiet_NaN()));
  }
  /// grad_input of qat.fake_quant_grad.
  Value fakeQuantGrad(Value dy, Value x, Value s, Value zf, int64_t qmin,
                      int64_t qmax, RoundingMode mode) {
    Value t = add(roundToGrid(x, s, mode), zf);
    Value in = andI(inRange(t, qmin, qmax), validScale(s));
    return mul(dy, select(in, f32(1.0), f32(0.0)));
  }
  Value intToF32(Value z) {
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), z);
  }
  /// An integral f32 within the range of `type` to that integer type (or
  /// kept, for f32 codes).
  Value toCode(Value x, Type type) {
    if (type.isF32())
      return x;
    return arith::FPToSIOp::create(b, loc, type, x);
  }
  /// A code (integer, or integer-valued f32) as f32.
  Value codeToF32(Value q) {
    if (q.getType().isF32())
      return q;
    return intToF32(q);
  }
};

inline AffineMap paramMap(MLIRContext *ctx, int64_t rank,
                          std::optional<int64_t> axis) {
  if (axis)
    return AffineMap::get(rank, 0, getAffineDimExpr(*axis, ctx));
  return AffineMap::get(rank, 0, {}, ctx);
}

inline Value emptyLike(OpBuilder &b, Location loc, Value shapeSource,
                       Type elementType) {
  return tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, shapeSource), elementType);
}

inline Value filled(OpBuilder &b, Location loc, Value shapeSource,
                    Type elementType, TypedAttr value) {
  Value empty = emptyLike(b, loc, shapeSource, elementType);
  Value v = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, v, empty).getResult(0);
}

/// Iterators of a reduction to per-tensor (all reduction) or per-axis
/// (parallel along `axis`) parameters.
inline SmallVector<utils::IteratorType>
reductionIterators(int64_t rank, std::optional<int64_t> axis) {
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::reduction);
  if (axis)
    iters[*axis] = utils::IteratorType::parallel;
  return iters;
}

/// One elementwise linalg.generic over the shape of `inputs[0]`: `inputs`
/// have the full rank (identity maps), `params` are rank-0 (per tensor) or
/// rank-1 along `axis` (per axis); `body` gets the scalars in that order.
inline Value
buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                 ValueRange params, std::optional<int64_t> axis,
                 function_ref<Value(ScalarBuilder &, ValueRange)> body,
                 Type resultElementType = {}) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  int64_t rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap pm = paramMap(b.getContext(), rank, axis);
  SmallVector<AffineMap> maps(inputs.size(), id);
  maps.append(params.size(), pm);
  maps.push_back(id);
  SmallVector<Value> operands(inputs.begin(), inputs.end());
  operands.append(params.begin(), params.end());
  Type elementType =
      resultElementType ? resultElementType : type.getElementType();
  Value init = emptyLike(b, loc, inputs.front(), elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type.clone(elementType)}, operands, ValueRange{init},
      maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nested, Location l, ValueRange args) {
        ScalarBuilder sb{nested, l};
        linalg::YieldOp::create(nested, l, body(sb, args.drop_back()));
      });
  return generic.getResult(0);
}

/// An accumulator or code (integer, or integer-valued f32) as i64.
inline Value toI64(ScalarBuilder &sb, Value v) {
  Type i64 = sb.b.getI64Type();
  if (v.getType().isF32())
    return arith::FPToSIOp::create(sb.b, sb.loc, i64, v);
  return arith::ExtSIOp::create(sb.b, sb.loc, i64, v);
}

inline Value i64Const(ScalarBuilder &sb, int64_t v) {
  return arith::ConstantOp::create(sb.b, sb.loc, sb.b.getI64IntegerAttr(v));
}

/// (v + 2^(n-1)) >> n in i64 (arithmetic shift).
inline Value roundingShift(ScalarBuilder &sb, Value v, Value n) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Value round = arith::ShLIOp::create(
      b, l, i64Const(sb, 1), arith::SubIOp::create(b, l, n, i64Const(sb, 1)));
  return arith::ShRSIOp::create(b, l, arith::AddIOp::create(b, l, v, round), n);
}

/// v >= 0 ? (v + 2^(n-1)) >> n : -((-v + 2^(n-1)) >> n) in i64: the
/// rounding shift with ties away from zero.
inline Value roundingShiftAwayFromZero(ScalarBuilder &sb, Value v, Value n) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Value zero = i64Const(sb, 0);
  Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, v, zero);
  Value mag = arith::SelectOp::create(b, l, neg,
                                      arith::SubIOp::create(b, l, zero, v), v);
  Value r = roundingShift(sb, mag, n);
  return arith::SelectOp::create(b, l, neg,
                                 arith::SubIOp::create(b, l, zero, r), r);
}

/// qat.rescale before its clamp: ((acc * M + 2^(n-1)) >> n) + z in i64.
inline Value rescaleUnclamped(ScalarBuilder &sb, Value acc, Value m, Value n,
                              Value z) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Value v = arith::MulIOp::create(b, l, toI64(sb, acc), toI64(sb, m));
  return arith::AddIOp::create(b, l, roundingShift(sb, v, toI64(sb, n)),
                               toI64(sb, z));
}

/// qat.rescale_add before its clamp, in i64.
inline Value rescaleAddUnclamped(ScalarBuilder &sb, Value lhs, Value ml,
                                 Value zl, Value rhs, Value mr, Value zr,
                                 Value n, Value z, bool awayFromZero = false) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  Value a = arith::SubIOp::create(b, l, toI64(sb, lhs), toI64(sb, zl));
  Value c = arith::SubIOp::create(b, l, toI64(sb, rhs), toI64(sb, zr));
  Value v =
      arith::AddIOp::create(b, l, arith::MulIOp::create(b, l, a, toI64(sb, ml)),
                            arith::MulIOp::create(b, l, c, toI64(sb, mr)));
  Value r = awayFromZero ? roundingShiftAwayFromZero(sb, v, toI64(sb, n))
                         : roundingShift(sb, v, toI64(sb, n));
  return arith::AddIOp::create(b, l, r, toI64(sb, z));
}

/// min(max(v, qmin), qmax) of an i64, as a code of `codeType` (an integer
/// type, or f32).
inline Value clampI64ToCode(ScalarBuilder &sb, Value v, int64_t qmin,
                            int64_t qmax, Type codeType) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  v = arith::MaxSIOp::create(b, l, v, i64Const(sb, qmin));
  v = arith::MinSIOp::create(b, l, v, i64Const(sb, qmax));
  if (codeType.isF32())
    return arith::SIToFPOp::create(b, l, codeType, v);
  return arith::TruncIOp::create(b, l, codeType, v);
}

/// qmin <= v <= qmax for an i64 v.
inline Value inRangeI64(ScalarBuilder &sb, Value v, int64_t qmin,
                        int64_t qmax) {
  OpBuilder &b = sb.b;
  Location l = sb.loc;
  return sb.andI(arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, v,
                                       i64Const(sb, qmin)),
                 arith::CmpIOp::create(b, l, arith::CmpIPredicate::sle, v,
                                       i64Const(sb, qmax)));
}

//===----------------------------------------------------------------------===//
// Tensor builders of the training lowerings (TrainingOpsToLinalg.cpp,
// WindowAdjointsToLinalg.cpp)
//===----------------------------------------------------------------------===//

constexpr utils::IteratorType kPar = utils::IteratorType::parallel;
constexpr utils::IteratorType kRed = utils::IteratorType::reduction;

inline Value cstF32(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
inline Value cstF64(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v));
}
inline Value cstIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// A tensor of the static `shape` filled with `value`.
inline Value filled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                    TypedAttr value) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, value.getType());
  Value v = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, v, empty).getResult(0);
}

/// `0 <= v && v < hi` for index values.
inline Value inBounds(OpBuilder &b, Location loc, Value v, int64_t hi) {
  Value ge = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v,
                                   cstIdx(b, loc, 0));
  Value lt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v,
                                   cstIdx(b, loc, hi));
  return arith::AndIOp::create(b, loc, ge, lt);
}

inline AffineExpr d(MLIRContext *ctx, unsigned i) {
  return getAffineDimExpr(i, ctx);
}

inline AffineMap map(MLIRContext *ctx, unsigned dims,
                     ArrayRef<AffineExpr> results) {
  return AffineMap::get(dims, 0, results, ctx);
}

} // namespace mlir::qat::linalg_builders

#endif // QAT_LIB_CONVERSION_QATTOLINALG_BUILDERS_H
