//===- IntegerKernel.cpp - one qat.integer_kernel, read and emitted -------===//

#include "qat/Dialect/QAT/Utils/IntegerKernel.h"
#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;

/// `t` with the element type `e`.
static RankedTensorType withElement(RankedTensorType t, Type e) {
  return RankedTensorType::get(t.getShape(), e);
}

int64_t IntegerKernel::getKernelHeight() const {
  if (kind == KernelKind::matmul)
    return 1;
  return weightType.getDimSize(kind == KernelKind::conv2d ? 1 : 0);
}

int64_t IntegerKernel::getKernelWidth() const {
  if (kind == KernelKind::matmul)
    return 1;
  return weightType.getDimSize(kind == KernelKind::conv2d ? 2 : 1);
}

int64_t IntegerKernel::getReduction() const {
  return weightType.getNumElements() / getNumOutputChannels();
}

double IntegerKernel::getSimulationBound(int64_t inputMin,
                                         int64_t inputMax) const {
  double maxX = std::max(std::abs(double(inputMin - inputZeroPoint)),
                         std::abs(double(inputMax - inputZeroPoint)));
  double reduce =
      double(weightType.getNumElements()) / double(getNumOutputChannels());
  double maxAbs = 0;
  for (int32_t bq : bias)
    maxAbs = std::max(maxAbs, std::abs(double(bq)));
  return reduce * maxX * 128.0 + maxAbs;
}

std::optional<IntegerKernel> IntegerKernel::read(IntegerKernelOp op,
                                                 std::string *why) {
  // Which operand could not be read, and why: not a constant, or a splat
  // too large to write out.
  auto fail = [&](StringRef what, Value v) -> std::optional<IntegerKernel> {
    ElementsAttr attr;
    if (why && matchPattern(v, m_Constant(&attr)))
      *why = ("its " + what + " is a splat of " + Twine(attr.getNumElements()) +
              " elements, more than the " + Twine(kMaxSplatExpansion) +
              " a pass writes out")
                 .str();
    else if (why)
      *why = ("its " + what + " is not a constant").str();
    return std::nullopt;
  };
  IntegerKernel k;
  k.kind = op.getKind();
  k.inputType = op.getInput().getType();
  k.weightType = op.getWeights().getType();
  k.resultType = op.getOutput().getType();
  k.inputZeroPoint = int64_t(op.getInputZeroPoint());
  k.outputZeroPoint = int64_t(op.getOutputZeroPoint());
  k.quantMin = int64_t(op.getQuantMin());
  k.quantMax = int64_t(op.getQuantMax());
  if (op.getPad()) {
    k.pad.assign(op.getPad()->begin(), op.getPad()->end());
    k.stride.assign(op.getStride()->begin(), op.getStride()->end());
    k.dilation.assign(op.getDilation()->begin(), op.getDilation()->end());
  }
  auto w = getConstantInts(op.getWeights());
  if (!w)
    return fail("weight", op.getWeights());
  k.weights.assign(w->begin(), w->end());
  auto b = getConstantInts(op.getBias());
  if (!b)
    return fail("bias", op.getBias());
  k.bias.assign(b->begin(), b->end());
  k.floatMultiplier = op.isFloatMultiplier();
  k.hasResidual = bool(op.getResidual());
  if (k.hasResidual)
    k.residualZeroPoint = int64_t(*op.getResidualZeroPoint());
  if (k.floatMultiplier) {
    auto m = getConstantFloats(op.getMultiplier());
    if (!m)
      return fail("multiplier", op.getMultiplier());
    k.multiplier = *m;
    if (k.hasResidual) {
      auto r = getConstantFloats(op.getResidualMultiplier());
      if (!r)
        return fail("residual multiplier", op.getResidualMultiplier());
      k.residualMultiplier = *r;
    }
    if (Value fb = op.getFloatBias()) {
      auto f = getConstantFloats(fb);
      if (!f)
        return fail("float bias", fb);
      k.floatBias = *f;
      k.floatZeroPointOffset = int64_t(*op.getFloatZeroPointOffset());
    }
    return k;
  }
  auto m = getConstantInts(op.getMultiplier());
  auto n = getConstantInts(op.getShift());
  if (!m)
    return fail("multiplier", op.getMultiplier());
  if (!n)
    return fail("shift", op.getShift());
  k.fixedMultiplier.assign(m->begin(), m->end());
  k.shift.assign(n->begin(), n->end());
  if (k.hasResidual) {
    auto r = getConstantInts(op.getResidualMultiplier());
    if (!r)
      return fail("residual multiplier", op.getResidualMultiplier());
    k.residualFixedMultiplier.assign(r->begin(), r->end());
  }
  return k;
}

IntegerKernelOp IntegerKernel::build(OpBuilder &b, Location loc, Value input,
                                     Value residual) const {
  auto cst = [&](DenseElementsAttr a) -> Value {
    return arith::ConstantOp::create(b, loc, a);
  };
  int64_t channels = getNumOutputChannels();
  SmallVector<int64_t> pshape;
  if (isPerChannel())
    pshape.push_back(channels);
  Value w = cst(DenseElementsAttr::get(withElement(weightType, b.getI8Type()),
                                       ArrayRef(weights)));
  Value bv = cst(DenseElementsAttr::get(
      RankedTensorType::get({channels}, b.getI32Type()), ArrayRef(bias)));
  Value mult, shiftv, rmult, fbias;
  if (floatMultiplier) {
    auto t = RankedTensorType::get(pshape, b.getF32Type());
    mult = cst(DenseElementsAttr::get(t, ArrayRef(multiplier)));
    if (floatZeroPointOffset)
      fbias = cst(DenseElementsAttr::get(t, ArrayRef(floatBias)));
    if (hasResidual)
      rmult = cst(DenseElementsAttr::get(t, ArrayRef(residualMultiplier)));
  } else {
    auto t = RankedTensorType::get(pshape, b.getI32Type());
    mult = cst(DenseElementsAttr::get(t, ArrayRef(fixedMultiplier)));
    shiftv = cst(DenseElementsAttr::get(
        RankedTensorType::get(pshape, b.getI8Type()), ArrayRef(shift)));
    if (hasResidual)
      rmult = cst(DenseElementsAttr::get(t, ArrayRef(residualFixedMultiplier)));
  }
  bool conv = kind != KernelKind::matmul;
  return IntegerKernelOp::create(
      b, loc, resultType, input, w, bv, mult, shiftv,
      hasResidual ? residual : Value(), rmult, fbias,
      KernelKindAttr::get(b.getContext(), kind),
      b.getI64IntegerAttr(inputZeroPoint), b.getI64IntegerAttr(outputZeroPoint),
      b.getI64IntegerAttr(quantMin), b.getI64IntegerAttr(quantMax),
      hasResidual ? b.getI64IntegerAttr(residualZeroPoint) : IntegerAttr(),
      conv ? b.getDenseI64ArrayAttr(pad) : DenseI64ArrayAttr(),
      conv ? b.getDenseI64ArrayAttr(stride) : DenseI64ArrayAttr(),
      conv ? b.getDenseI64ArrayAttr(dilation) : DenseI64ArrayAttr(),
      floatZeroPointOffset ? b.getI64IntegerAttr(*floatZeroPointOffset)
                           : IntegerAttr());
}

Value IntegerKernel::emitArithmetic(OpBuilder &b, Location loc, Value input,
                                    Value residual, bool simulate,
                                    Value liveWeights, Value liveBias,
                                    bool exactAccumulator) const {
  Type codeType = simulate ? Type(b.getF32Type()) : Type(b.getI8Type());
  Type accElem = simulate ? Type(b.getF32Type()) : Type(b.getI32Type());
  int64_t channels = getNumOutputChannels();
  auto tosaConst = [&](RankedTensorType t, DenseElementsAttr a) -> Value {
    return tosa::ConstOp::create(b, loc, t, a);
  };

  // Weights and bias: integers, or the same integers in f32.
  auto wqType = withElement(weightType, codeType);
  auto biasType = RankedTensorType::get({channels}, accElem);
  Value wConst = liveWeights, biasConst = liveBias;
  SmallVector<float> bf(bias.begin(), bias.end());
  if (!wConst) {
    SmallVector<float> wf(weights.begin(), weights.end());
    wConst = tosaConst(
        wqType, simulate ? DenseElementsAttr::get(wqType, ArrayRef(wf))
                         : DenseElementsAttr::get(wqType, ArrayRef(weights)));
  }
  if (!biasConst)
    biasConst = tosaConst(
        biasType, simulate ? DenseElementsAttr::get(biasType, ArrayRef(bf))
                           : DenseElementsAttr::get(biasType, ArrayRef(bias)));

  // The input and the zero-point operands: codes with zero points (integer),
  // or codes minus the input zero point with zero points 0 (simulation: TOSA
  // float convolutions take zero points of 0).
  Value x = input, xzp, wzp;
  if (!simulate) {
    auto t = RankedTensorType::get({1}, b.getI8Type());
    xzp = tosaConst(t, DenseElementsAttr::get(t, int8_t(inputZeroPoint)));
    wzp = tosaConst(t, DenseElementsAttr::get(t, int8_t(0)));
  } else {
    auto t = RankedTensorType::get({1}, b.getF32Type());
    xzp = wzp = tosaConst(t, DenseElementsAttr::get(t, 0.0f));
    if (inputZeroPoint != 0) {
      auto inT = cast<RankedTensorType>(input.getType());
      auto kT = RankedTensorType::get(SmallVector<int64_t>(inT.getRank(), 1),
                                      b.getF32Type());
      Value k =
          tosaConst(kT, DenseElementsAttr::get(kT, float(inputZeroPoint)));
      x = tosa::SubOp::create(b, loc, inT, input, k);
    }
  }

  // The accumulation of `xv` (with zero-point operands xz, wz) by `wv`
  // plus the bias `bv` (rank 1; a matmul adds the live bias reshaped, or
  // the constant one), with accumulator element `elem`.
  auto accumulate = [&](Value xv, Value wv, Value bv, Value xz, Value wz,
                        Type elem) -> Value {
    if (kind == KernelKind::conv2d)
      return tosa::Conv2DOp::create(b, loc, withElement(resultType, elem), xv,
                                    wv, bv, xz, wz, b.getDenseI64ArrayAttr(pad),
                                    b.getDenseI64ArrayAttr(stride),
                                    b.getDenseI64ArrayAttr(dilation),
                                    TypeAttr::get(elem), b.getBoolAttr(false));
    if (kind == KernelKind::depthwise_conv2d)
      return tosa::DepthwiseConv2DOp::create(
          b, loc, withElement(resultType, elem), xv, wv, bv, xz, wz,
          b.getDenseI64ArrayAttr(pad), b.getDenseI64ArrayAttr(stride),
          b.getDenseI64ArrayAttr(dilation), TypeAttr::get(elem),
          b.getBoolAttr(false));
    auto mmType =
        RankedTensorType::get({1, inputType.getDimSize(1), channels}, elem);
    Value a = tosa::MatMulOp::create(b, loc, mmType, xv, wv, xz, wz);
    auto shapeOf = [&](ArrayRef<int64_t> shape) {
      return createConstShape(b, loc, shape);
    };
    if (resultType.getShape() != mmType.getShape())
      a = tosa::ReshapeOp::create(b, loc, withElement(resultType, elem), a,
                                  shapeOf(resultType.getShape()));
    auto aType = cast<RankedTensorType>(a.getType());
    SmallVector<int64_t> bshape(aType.getRank(), 1);
    bshape.back() = channels;
    auto bType = RankedTensorType::get(bshape, elem);
    Value bc =
        liveBias
            ? Value(tosa::ReshapeOp::create(b, loc, bType, bv, shapeOf(bshape)))
            : tosaConst(bType,
                        elem.isF32()
                            ? DenseElementsAttr::get(bType, ArrayRef(bf))
                            : DenseElementsAttr::get(bType, ArrayRef(bias)));
    return tosa::AddOp::create(b, loc, aType, a, bc);
  };
  Value acc = accumulate(x, wConst, biasConst, xzp, wzp, accElem);
  if (simulate && exactAccumulator) {
    // The integer kernel's accumulation on the same codes (exact casts of
    // integer-valued f32): i8 codes with zero-point operands, int32 bias.
    auto castTo = [&](Value v, Type e) -> Value {
      return tosa::CastOp::create(
          b, loc, withElement(cast<RankedTensorType>(v.getType()), e), v);
    };
    Type i8 = b.getI8Type(), i32 = b.getI32Type();
    auto zt = RankedTensorType::get({1}, i8);
    Value exact = accumulate(
        castTo(input, i8), castTo(wConst, i8), castTo(biasConst, i32),
        tosaConst(zt, DenseElementsAttr::get(zt, int8_t(inputZeroPoint))),
        tosaConst(zt, DenseElementsAttr::get(zt, int8_t(0))), i32);
    acc = ExactAccumulatorOp::create(b, loc, exact.getType(), acc, exact);
  }

  // The requantization.
  auto accType = cast<RankedTensorType>(acc.getType());
  auto outType = accType.clone(codeType);
  bool perChannel = isPerChannel();
  SmallVector<int64_t> pshape;
  if (perChannel)
    pshape.push_back(channels);
  IntegerAttr axis =
      perChannel ? b.getI64IntegerAttr(accType.getRank() - 1) : IntegerAttr();
  auto cst = [&](DenseElementsAttr a) -> Value {
    return arith::ConstantOp::create(b, loc, a);
  };
  auto zType = RankedTensorType::get(pshape, b.getI32Type());
  auto zpConst = [&](int64_t z) {
    return cst(DenseElementsAttr::get(zType, int32_t(z)));
  };
  IntegerAttr lo = b.getI64IntegerAttr(quantMin),
              hi = b.getI64IntegerAttr(quantMax);
  if (floatMultiplier) {
    auto mType = RankedTensorType::get(pshape, b.getF32Type());
    Value m = cst(DenseElementsAttr::get(mType, ArrayRef(multiplier)));
    if (!hasResidual) {
      Value fb;
      IntegerAttr offset;
      if (floatZeroPointOffset) {
        fb = cst(DenseElementsAttr::get(mType, ArrayRef(floatBias)));
        offset = b.getI64IntegerAttr(*floatZeroPointOffset);
      }
      return RequantizeOp::create(b, loc, outType, acc, m,
                                  zpConst(outputZeroPoint), fb, lo, hi, axis,
                                  offset);
    }
    Value zl = zpConst(0);
    Value mr = cst(DenseElementsAttr::get(mType, ArrayRef(residualMultiplier)));
    Value zr = zpConst(residualZeroPoint);
    Value zo = zpConst(outputZeroPoint);
    return RequantizeAddOp::create(b, loc, outType, acc, m, zl, residual, mr,
                                   zr, zo, lo, hi, axis);
  }
  auto iType = RankedTensorType::get(pshape, b.getI32Type());
  auto sType = RankedTensorType::get(pshape, b.getI8Type());
  Value m = cst(DenseElementsAttr::get(iType, ArrayRef(fixedMultiplier)));
  Value n = cst(DenseElementsAttr::get(sType, ArrayRef(shift)));
  if (!hasResidual)
    return RescaleOp::create(b, loc, outType, acc, m, n,
                             zpConst(outputZeroPoint), lo, hi, axis);
  Value zl = zpConst(0);
  Value mr =
      cst(DenseElementsAttr::get(iType, ArrayRef(residualFixedMultiplier)));
  Value zr = zpConst(residualZeroPoint);
  Value zo = zpConst(outputZeroPoint);
  return RescaleAddOp::create(b, loc, outType, acc, m, zl, residual, mr, zr, n,
                              zo, lo, hi, axis);
}

FailureOr<Value> qat::emitKernelSimulation(OpBuilder &b, IntegerKernelOp op,
                                           Value input, Value residual) {
  std::optional<IntegerKernel> k = IntegerKernel::read(op);
  if (!k)
    return failure();
  return k->emitArithmetic(b, op.getLoc(), input, residual, /*simulate=*/true);
}
