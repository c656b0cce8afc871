//===- ConvertOps.cpp - the other ops to integer arithmetic ---------------===//
//
// qat-convert-to-integer for the ops other than the integer kernels: input
// quantizers to qat.quantize, agnostic ops on codes, adds of two quantized
// values (qat.requantize_add / rescale_add), average pools, element-wise
// functions to lookup tables.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::to_integer;

namespace {
/// An add of two quantized values and its clamp (then its output
/// fake_quant), in the form of a target's fusion patterns.
const FusionStep kAddChain[] = {{"add"}, {"clamp", true}};
} // namespace

void Converter::quantizeInput(FakeQuantOp fq) {
  auto p = getParams(fq);
  if (!p || p->axis) {
    remark::missed(fq.getLoc(), opts("LeftFloat"))
        << "activation quantizer left as fake quantization: parameters are "
           "not constant per-tensor 8-bit";
    return;
  }
  OpBuilder b(fq);
  auto type = cast<RankedTensorType>(fq.getType());
  auto zpType = RankedTensorType::get({}, b.getI32Type());
  Value zp = arith::ConstantOp::create(
      b, fq.getLoc(), DenseElementsAttr::get(zpType, p->zeroPoints[0]));
  auto q = QuantizeOp::create(
      b, fq.getLoc(), type.clone(codeType()), fq.getInput(), fq.getScale(), zp,
      b.getI64IntegerAttr(p->qmin), b.getI64IntegerAttr(p->qmax), IntegerAttr(),
      RoundingModeAttr::get(ctx, p->rounding));
  codesOf[fq.getResult()] = {q,       p->scales[0], p->zeroPoints[0],
                             p->qmin, p->qmax,      p->shift};
}

void Converter::convertAgnostic(Operation *op) {
  auto it = codesOf.find(op->getOperand(0));
  if (it == codesOf.end())
    return;
  Codes in = it->second;
  OpBuilder b(op);
  Operation *clone = b.clone(*op);
  clone->setOperand(0, in.codes);
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  clone->getResult(0).setType(type.clone(codeType()));
  codesOf[op->getResult(0)] = {
      clone->getResult(0), in.scale, in.zeroPoint, in.qmin, in.qmax, in.shift};
}

std::optional<std::pair<int64_t, int64_t>>
Converter::clampRange(tosa::ClampOp clamp, const QParams &out) {
  int64_t lo = out.qmin, hi = out.qmax;
  if (!clamp)
    return std::make_pair(lo, hi);
  auto lim = [&](Attribute a) -> std::optional<float> {
    if (auto f = dyn_cast<FloatAttr>(a))
      return float(f.getValueAsDouble());
    return std::nullopt;
  };
  auto mn = lim(clamp.getMinValAttr()), mx = lim(clamp.getMaxValAttr());
  if (!mn || !mx)
    return std::nullopt;
  float cl = numerics::fakeQuantCode(*mn, out.scales[0], out.zeroPoints[0],
                                     out.rounding);
  float ch = numerics::fakeQuantCode(*mx, out.scales[0], out.zeroPoints[0],
                                     out.rounding);
  if (std::isfinite(cl))
    lo = std::max<int64_t>(lo, std::min<float>(std::max<float>(cl, lo), hi));
  if (std::isfinite(ch))
    hi = std::min<int64_t>(hi, std::max<float>(std::min<float>(ch, hi), lo));
  return std::make_pair(lo, hi);
}

Value Converter::requantizeAdd(OpBuilder &b, Location loc, Value lhs,
                               int32_t lhsZp, ArrayRef<float> m,
                               const Codes &rhs, const Codes &out, int64_t lo,
                               int64_t hi) {
  auto type = cast<RankedTensorType>(lhs.getType());
  int64_t channels = m.size();
  bool perChannel = channels > 1;
  SmallVector<int64_t> shape;
  if (perChannel)
    shape.push_back(channels);
  auto outType = type.clone(codeType());
  auto zType = RankedTensorType::get(shape, b.getI32Type());
  auto zpConst = [&](int32_t z) -> Value {
    return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(zType, z));
  };
  float mr = rhs.scale / out.scale;
  IntegerAttr axis =
      perChannel ? b.getI64IntegerAttr(type.getRank() - 1) : IntegerAttr();
  if (target.requantization == Requantization::FloatMultiplier) {
    auto mType = RankedTensorType::get(shape, b.getF32Type());
    Value ml =
        arith::ConstantOp::create(b, loc, DenseElementsAttr::get(mType, m));
    Value mrv =
        arith::ConstantOp::create(b, loc, DenseElementsAttr::get(mType, mr));
    return RequantizeAddOp::create(
        b, loc, outType, lhs, ml, zpConst(lhsZp), rhs.codes, mrv,
        zpConst(rhs.zeroPoint), zpConst(out.zeroPoint), b.getI64IntegerAttr(lo),
        b.getI64IntegerAttr(hi), axis);
  }
  SmallVector<int32_t> ml, mrs;
  SmallVector<int8_t> shifts;
  for (float f : m) {
    SmallVector<int32_t> pair;
    int64_t n;
    if (!fixedPoint({f, mr}, pair, n))
      return Value();
    ml.push_back(pair[0]);
    mrs.push_back(pair[1]);
    shifts.push_back(int8_t(n));
  }
  auto iType = RankedTensorType::get(shape, b.getI32Type());
  auto sType = RankedTensorType::get(shape, b.getI8Type());
  auto cst = [&](DenseElementsAttr a) -> Value {
    return arith::ConstantOp::create(b, loc, a);
  };
  auto dense32 = [&](ArrayRef<int32_t> v) {
    return perChannel ? DenseElementsAttr::get(iType, v)
                      : DenseElementsAttr::get(iType, v[0]);
  };
  Value sh = cst(perChannel ? DenseElementsAttr::get(sType, ArrayRef(shifts))
                            : DenseElementsAttr::get(sType, shifts[0]));
  return RescaleAddOp::create(
      b, loc, outType, lhs, cst(dense32(ml)), zpConst(lhsZp), rhs.codes,
      cst(dense32(mrs)), zpConst(rhs.zeroPoint), sh, zpConst(out.zeroPoint),
      b.getI64IntegerAttr(lo), b.getI64IntegerAttr(hi), axis);
}

/// PyTorch's quantized add(_relu) on the onednn engine (its generic kernel):
/// each operand dequantized as Vectorized<quint8>::dequantize does (an FMA
/// on the unsigned codes), added in f32, the clamp (ReLU), quantized to the
/// output: qat.dequantize{fma_offset}, tosa.add, tosa.clamp, qat.quantize.
Value Converter::pytorchAdd(OpBuilder &b, Location loc, const Codes &lhs,
                            const Codes &rhs, const Codes &out,
                            tosa::ClampOp clamp, FakeQuantOp outFq) {
  auto type = cast<RankedTensorType>(outFq.getType());
  auto sType = RankedTensorType::get({}, b.getF32Type());
  auto zType = RankedTensorType::get({}, b.getI32Type());
  auto dequantize = [&](const Codes &v) -> Value {
    Value s = arith::ConstantOp::create(b, loc,
                                        DenseElementsAttr::get(sType, v.scale));
    Value z = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(zType, v.zeroPoint));
    return DequantizeOp::create(b, loc, type, v.codes, s, z, IntegerAttr(),
                                b.getI64IntegerAttr(v.shift));
  };
  Value sum =
      tosa::AddOp::create(b, loc, type, dequantize(lhs), dequantize(rhs));
  if (clamp)
    sum = tosa::ClampOp::create(b, loc, type, sum, clamp.getMinValAttr(),
                                clamp.getMaxValAttr(), clamp.getNanModeAttr());
  Value s = arith::ConstantOp::create(b, loc,
                                      DenseElementsAttr::get(sType, out.scale));
  Value z = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(zType, out.zeroPoint));
  return QuantizeOp::create(
      b, loc, type.clone(codeType()), sum, s, z, b.getI64IntegerAttr(out.qmin),
      b.getI64IntegerAttr(out.qmax), IntegerAttr(),
      RoundingModeAttr::get(ctx, RoundingMode::half_even));
}

/// PyTorch 1.13's quantized add(_relu) on the qnnpack engine
/// (pytorch_qnnp_create_add_nc_q8 and its SSE2 kernel): the ratios
/// r = f32(s_x / s_out), one shift n = 21 - exponent(max(r_a, r_b)), the
/// multipliers roundeven(r * 2^n), and the sum of both rescaled operands
/// shifted with ties away from zero (qat.rescale_add
/// {round_half_away_from_zero}).
Value Converter::qnnpackAdd(OpBuilder &b, Location loc, const Codes &lhs,
                            const Codes &rhs, const Codes &out, int64_t lo,
                            int64_t hi) {
  float ra = lhs.scale / out.scale, rb = rhs.scale / out.scale;
  float mx = std::max(ra, rb);
  // qnnpack refuses ratios outside [2^-14, 2^8) (and NaN).
  if (!(ra >= 0x1.0p-14f && ra < 0x1.0p+8f && rb >= 0x1.0p-14f &&
        rb < 0x1.0p+8f))
    return Value();
  int exp;
  std::frexp(mx, &exp); // mx = f * 2^exp, f in [0.5, 1)
  int64_t shift = 21 - (exp - 1);
  int64_t ma = std::llrint(std::ldexp(double(ra), int(shift)));
  int64_t mb = std::llrint(std::ldexp(double(rb), int(shift)));
  auto i32 = [&](int64_t v) -> Value {
    auto t = RankedTensorType::get({}, b.getI32Type());
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(t, int32_t(v)));
  };
  auto i8Type = RankedTensorType::get({}, b.getI8Type());
  Value n = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(i8Type, int8_t(shift)));
  Value mav = i32(ma), zav = i32(lhs.zeroPoint), mbv = i32(mb),
        zbv = i32(rhs.zeroPoint), zov = i32(out.zeroPoint);
  auto type = cast<RankedTensorType>(lhs.codes.getType());
  auto op = RescaleAddOp::create(
      b, loc, type.clone(codeType()), lhs.codes, mav, zav, rhs.codes, mbv, zbv,
      n, zov, b.getI64IntegerAttr(lo), b.getI64IntegerAttr(hi), IntegerAttr());
  op.setRoundHalfAwayFromZero(true);
  return op;
}

/// add of two quantized values [+ clamp] followed by its output quantizer.
bool Converter::convertAdd(Operation *add) {
  auto a = codesOf.find(add->getOperand(0));
  auto c = codesOf.find(add->getOperand(1));
  if (a == codesOf.end() || c == codesOf.end() ||
      add->getOperand(0).getType() != add->getResult(0).getType() ||
      add->getOperand(1).getType() != add->getResult(0).getType())
    return false;
  SmallVector<Operation *> chain =
      matchFusionPattern(kAddChain, add, nextSingleUser).ops;
  Value cur = chain.back()->getResult(0);
  if (!cur.hasOneUse())
    return false;
  auto outFq = dyn_cast<FakeQuantOp>(*cur.getUsers().begin());
  if (!outFq)
    return false;
  tosa::ClampOp clamp =
      chain.size() > 1 ? cast<tosa::ClampOp>(chain.back()) : tosa::ClampOp();
  chain.push_back(outFq);
  auto op = getParams(outFq);
  if (!op || op->axis)
    return false;
  auto range = clampRange(clamp, *op);
  if (!range)
    return false;
  OpBuilder b(outFq);
  Codes out{Value(),  op->scales[0], op->zeroPoints[0],
            op->qmin, op->qmax,      op->shift};
  Value q;
  if (target.requantization == Requantization::PyTorchOneDNN) {
    q = pytorchAdd(b, add->getLoc(), a->second, c->second, out, clamp, outFq);
  } else if (target.requantization == Requantization::PyTorchQNNPACK) {
    q = qnnpackAdd(b, add->getLoc(), a->second, c->second, out, range->first,
                   range->second);
    if (!q) {
      remark::missed(add->getLoc(), opts("LeftFloat")) << remarkText(
          "'", add->getName(),
          "' left float: a scale ratio s_in / s_out is outside qnnpack's "
          "[2^-14, 2^8)");
      return false;
    }
  } else {
    float ma = a->second.scale / out.scale;
    q = requantizeAdd(b, add->getLoc(), a->second.codes, a->second.zeroPoint,
                      {ma}, c->second, out, range->first, range->second);
  }
  if (!q)
    return false;
  out.codes = q;
  codesOf[outFq.getResult()] = out;
  for (Operation *o : chain)
    handled.insert(o);
  remark::passed(add->getLoc(), opts("Add")) << remarkText(
      "'", add->getName(), "' of two quantized values converted to integer (",
      stringifyRequantization(target.requantization), ")");
  return true;
}

/// avg_pool2d followed by its output quantizer: the window sum of
/// (q - zp_in) in int32 (a depthwise convolution with unit weights and the
/// input zero point), requantized with m = s_in / (kh * kw * s_out), as
/// PyTorch's quantized avg_pool2d computes it. Only unpadded pools: TOSA
/// divides a border window by its count of real elements, which would need a
/// multiplier per position.
bool Converter::convertAvgPool(tosa::AvgPool2dOp pool, FakeQuantOp outFq) {
  auto refuse = [&](const llvm::Twine &why) {
    remark::missed(pool.getLoc(), opts("LeftFloat"))
        << remarkText("'", pool->getName(), "' left float: ", why.str());
    return false;
  };
  auto in = codesOf.find(pool.getInput());
  if (in == codesOf.end())
    return refuse("its input is not quantized");
  if (!pool->hasOneUse())
    return refuse("its result has several users");
  if (llvm::any_of(pool.getPad(), [](int64_t p) { return p != 0; }))
    return refuse("it is padded (border windows would divide by fewer "
                  "elements, which needs a multiplier per position)");
  auto op = getParams(outFq);
  if (!op || op->axis)
    return refuse("its output quantizer is not constant per-tensor 8-bit");
  const Codes &x = in->second;
  auto inType = cast<RankedTensorType>(x.codes.getType());
  auto outType = cast<RankedTensorType>(pool.getType());
  int64_t channels = inType.getShape().back();
  ArrayRef<int64_t> k = pool.getKernel();
  int64_t count = k[0] * k[1];
  if (target.requantization == Requantization::PyTorchOneDNN &&
      pool->hasAttr("qat.torch_mean") && inType.getDimSize(1) == k[0] &&
      inType.getDimSize(2) == k[1]) {
    if (count < 16)
      return convertTorchMean(pool, outFq, x, *op);
    remark::missed(pool.getLoc(), opts("NotExact")) << remarkText(
        "PyTorch's mean over ", count,
        " >= 16 elements: ATen's float summation order is not modelled; "
        "converted as an average pool (may differ from PyTorch by 1 LSB)");
  }

  // A depthwise kernel with unit weights, no bias and no padding.
  IntegerKernel kernel;
  kernel.kind = KernelKind::depthwise_conv2d;
  kernel.inputType = inType.clone(IntegerType::get(ctx, 8));
  kernel.weightType = RankedTensorType::get({k[0], k[1], channels, 1},
                                            IntegerType::get(ctx, 8));
  kernel.resultType = outType.clone(IntegerType::get(ctx, 8));
  kernel.weights.assign(k[0] * k[1] * channels, 1);
  kernel.bias.assign(channels, 0);
  kernel.inputZeroPoint = x.zeroPoint;
  kernel.outputZeroPoint = op->zeroPoints[0];
  kernel.quantMin = op->qmin;
  kernel.quantMax = op->qmax;
  kernel.pad = {0, 0, 0, 0};
  kernel.stride.assign(pool.getStride().begin(), pool.getStride().end());
  kernel.dilation = {1, 1};
  float m = x.scale / (float(count) * op->scales[0]);
  if (target.requantization == Requantization::PyTorchOneDNN) {
    // PyTorch's quantized average pools on channels-last input (what its
    // convolutions return): m = (s_in / s_out) / n, then quantize_val with
    // the scale 1 / m, i.e. the multiplier 1 / (1 / m), all in f32.
    float m0 = (x.scale / op->scales[0]) / float(count);
    m = 1.0f / (1.0f / m0);
  }
  if (!setRequantization(kernel, {m}, std::nullopt))
    return refuse("its requantization multiplier is outside the fixed-point "
                  "range");
  OpBuilder b(outFq);
  Location loc = pool.getLoc();
  Codes out{Value(),  op->scales[0], op->zeroPoints[0],
            op->qmin, op->qmax,      op->shift};
  Value q = emitKernel(b, loc, kernel, x, nullptr);
  out.codes = q;
  codesOf[outFq.getResult()] = out;
  handled.insert(pool);
  handled.insert(outFq);
  remark::passed(loc, opts("AvgPool")) << remarkText(
      "'", pool->getName(), "' converted to integer (window sum of ", count,
      ", ", stringifyRequantization(target.requantization), ")");
  return true;
}

/// x.mean((2, 3)) of PyTorch 1.13 on the onednn engine, channels-last
/// input of n = H * W < 16 elements (mean_out_quantized_cpu): the codes
/// dequantized as f32(s) * f32(q - z) (qat.dequantize), ATen's float sum over
/// the rows h * W + w in that order (one tosa.add per row), divided by n
/// (arith.divf), quantized to the output (qat.quantize). At 16 or more rows
/// ATen's sum takes another order, not modelled.
bool Converter::convertTorchMean(tosa::AvgPool2dOp pool, FakeQuantOp outFq,
                                 const Codes &x, const QParams &op) {
  OpBuilder b(outFq);
  Location loc = pool.getLoc();
  auto inType = cast<RankedTensorType>(x.codes.getType());
  auto outType = cast<RankedTensorType>(pool.getType());
  int64_t n = inType.getDimSize(0), h = inType.getDimSize(1),
          w = inType.getDimSize(2), c = inType.getDimSize(3);
  auto sType = RankedTensorType::get({}, b.getF32Type());
  auto zType = RankedTensorType::get({}, b.getI32Type());
  auto floatIn = inType.clone(b.getF32Type());
  Value d = DequantizeOp::create(
      b, loc, floatIn, x.codes,
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(sType, x.scale)),
      arith::ConstantOp::create(b, loc,
                                DenseElementsAttr::get(zType, x.zeroPoint)),
      IntegerAttr(), IntegerAttr());
  auto rowType = RankedTensorType::get({n, 1, 1, c}, b.getF32Type());
  Value size = createConstShape(b, loc, {n, 1, 1, c});
  Value sum;
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      Value row = tosa::SliceOp::create(
          b, loc, rowType, d, createConstShape(b, loc, {0, i, j, 0}), size);
      sum = sum ? Value(tosa::AddOp::create(b, loc, rowType, sum, row)) : row;
    }
  Value count = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(rowType, float(h * w)));
  Value mean = arith::DivFOp::create(b, loc, sum, count);
  if (rowType != outType)
    mean = tosa::ReshapeOp::create(
        b, loc, outType, mean, createConstShape(b, loc, outType.getShape()));
  Value q = QuantizeOp::create(
      b, loc, outType.clone(codeType()), mean,
      arith::ConstantOp::create(b, loc,
                                DenseElementsAttr::get(sType, op.scales[0])),
      arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(zType, op.zeroPoints[0])),
      b.getI64IntegerAttr(op.qmin), b.getI64IntegerAttr(op.qmax), IntegerAttr(),
      RoundingModeAttr::get(ctx, RoundingMode::half_even));
  codesOf[outFq.getResult()] = {q,       op.scales[0], op.zeroPoints[0],
                                op.qmin, op.qmax,      op.shift};
  handled.insert(pool);
  handled.insert(outFq);
  remark::passed(loc, opts("AvgPool")) << remarkText(
      "'", pool->getName(),
      "' (PyTorch's mean) converted as PyTorch's onednn engine computes it "
      "(dequantized, summed in order and divided in f32, quantized)");
  return true;
}

namespace {
/// PyTorch's quantized element-wise kernels that the table of a function
/// can reproduce exactly.
enum class HardFunction { None, Hardswish, Hardsigmoid };

double hardswishRef(double x) {
  return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
}
double hardsigmoidRef(double x) {
  return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
}

/// Whether `fn` is hardswish (x * clamp(x + 3, 0, 6) * 1/6, 4 ops) or
/// hardsigmoid (clamp(x + 3, 0, 6) * 1/6, 3 ops), as the exporter writes
/// them: its ops by name, and its values at points of every piece.
HardFunction matchHardFunction(const ElementwiseFunction &fn) {
  SmallVector<StringRef> names;
  for (Operation *op : fn.ops)
    names.push_back(op->getName().getStringRef());
  auto same = [&](double (*f)(double)) {
    for (double x : {-5.0, -3.0, -2.5, -1.0, 0.0, 0.5, 2.0, 3.0, 4.5})
      if (std::fabs(fn.evaluate(x) - f(x)) > 1e-6 * (1.0 + std::fabs(f(x))))
        return false;
    return true;
  };
  if (names == ArrayRef<StringRef>{"tosa.add", "tosa.clamp", "tosa.mul",
                                   "tosa.mul"} &&
      same(hardswishRef))
    return HardFunction::Hardswish;
  if (names == ArrayRef<StringRef>{"tosa.add", "tosa.clamp", "tosa.mul"} &&
      same(hardsigmoidRef))
    return HardFunction::Hardsigmoid;
  return HardFunction::None;
}

/// The table of PyTorch 1.13's vectorized qhardswish / qhardsigmoid kernel
/// (QuantizedOpKernels.cpp) on the u8 codes `code + in.shift`: dequantized
/// as fma(s, f32(q), f32(s * -z)), then in f32 x * min(max(x + 3, 0), 6) / 6
/// (hardsigmoid: min(max(x + 3, 0), 6) / 6), quantized as qat.quantize
/// (roundeven(y * f32(1 / s_out)) + z_out, saturated).
SmallVector<int8_t> pytorchHardTable(HardFunction f, const Codes &in,
                                     const QParams &out) {
  SmallVector<int8_t> table(256);
  float s = in.scale;
  float negZs = s * -float(in.zeroPoint + in.shift);
  float inv = 1.0f / out.scales[0];
  for (int64_t c = -128; c < 128; ++c) {
    int64_t cc = std::min(std::max(c, in.qmin), in.qmax);
    float x = std::fmaf(s, float(cc + in.shift), negZs);
    float r = std::min(std::max(x + 3.0f, 0.0f), 6.0f);
    float y = f == HardFunction::Hardswish ? (x * r) / 6.0f : r / 6.0f;
    float t = std::nearbyint(y * inv) + float(out.zeroPoints[0]);
    t = std::min(std::max(t, float(out.qmin)), float(out.qmax));
    table[c + 128] = int8_t(t);
  }
  return table;
}

/// The table of PyTorch 1.13's qnnpack hardswish / hardsigmoid operators
/// (pytorch_qnnp_create_hardswish_nc_q8 / _hardsigmoid_nc_q8) on the u8
/// codes q = `code + in.shift`, in f32: x = s_in * f32(q - z_in), then
/// x * min(max(x + 3, 0), 6) / 6 (hardsigmoid min(max(x + 3, 0), 6) / 6),
/// y = (1 / s_out) * that + f32(z_out), clamped to the output range (u8
/// codes) and rounded half to even.
SmallVector<int8_t> qnnpackHardTable(HardFunction f, const Codes &in,
                                     const QParams &out) {
  SmallVector<int8_t> table(256);
  float inv = 1.0f / out.scales[0];
  int64_t shift = out.shift;
  for (int64_t c = -128; c < 128; ++c) {
    int64_t cc = std::min(std::max(c, in.qmin), in.qmax);
    float x = in.scale * float(cc - in.zeroPoint);
    float r = std::min(std::max(x + 3.0f, 0.0f), 6.0f);
    r = f == HardFunction::Hardswish ? (x * r) / 6.0f : r / 6.0f;
    float y = inv * r;
    y = y + float(out.zeroPoints[0] + shift);
    y = std::min(std::max(y, float(out.qmin + shift)), float(out.qmax + shift));
    table[c + 128] = int8_t(int64_t(std::nearbyint(y)) - shift);
  }
  return table;
}
} // namespace

bool Converter::convertTable(const ElementwiseFunction &fn, FakeQuantOp outFq) {
  auto in = codesOf.find(fn.input);
  auto op = getParams(outFq);
  if (in == codesOf.end() || !op || op->axis)
    return false;
  const Codes &x = in->second;
  bool onednn = target.requantization == Requantization::PyTorchOneDNN;
  bool qnnpack = target.requantization == Requantization::PyTorchQNNPACK;
  HardFunction hard =
      onednn || qnnpack ? matchHardFunction(fn) : HardFunction::None;
  SmallVector<int8_t> table =
      hard != HardFunction::None
          ? (qnnpack ? qnnpackHardTable(hard, x, *op)
                     : pytorchHardTable(hard, x, *op))
          : buildLookupTable(
                fn, CodeGrid{x.scale, x.zeroPoint, x.qmin, x.qmax},
                CodeGrid{op->scales[0], op->zeroPoints[0], op->qmin, op->qmax},
                op->rounding);
  OpBuilder b(outFq);
  Location loc = fn.root->getLoc();
  auto tableType = RankedTensorType::get({256}, b.getI8Type());
  Value t = tosa::ConstOp::create(
      b, loc, tableType, DenseElementsAttr::get(tableType, ArrayRef(table)));
  auto type = cast<RankedTensorType>(outFq.getType());
  auto i8Type = type.clone(b.getI8Type());
  Value codes = x.codes;
  if (simulate) // integer-valued f32 codes: exact casts around the table
    codes = tosa::CastOp::create(b, loc, i8Type, codes);
  Value y = tosa::TableOp::create(b, loc, i8Type, codes, t);
  if (simulate)
    y = tosa::CastOp::create(b, loc, type, y);
  codesOf[outFq.getResult()] = {y,        op->scales[0], op->zeroPoints[0],
                                op->qmin, op->qmax,      op->shift};
  for (Operation *o : fn.ops)
    handled.insert(o);
  remark::passed(loc, opts("Table"))
      << remarkText("element-wise function ", fn.describe(),
                    " converted to a 256-entry lookup table (tosa.table)");
  return true;
}
