//===- FakeQuantToInteger.cpp - qat-convert-to-integer --------------------===//
//
// A frozen fake-quant model (constant scales and zero points) to integer
// arithmetic: activations become i8 codes (qat.quantize at the boundary),
// conv2d / depthwise_conv2d / matmul kernels become TOSA integer ops with
// zero points and an int32 bias, followed by the target's requantization
// (qat.requantize for a float multiplier, qat.rescale for fixed point or
// shift) with a fused ReLU/ReLU6 as the clamp; max pool, reshape and
// transpose run on codes. Every float use of a converted value reads
// qat.dequantize of its codes, so what cannot be converted stays float
// between a dequantize and a quantize. Semantics: Passes.td and
// docs/Conversion.md.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/FakeQuantToInteger/FakeQuantToInteger.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/ElementwiseFunction.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Remarks.h"

#include <cmath>
#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_CONVERTTOINTEGERPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

Value shapeConst(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  auto type = tosa::shapeType::get(b.getContext(), values.size());
  auto attr = DenseIntElementsAttr::get(
      RankedTensorType::get({static_cast<int64_t>(values.size())},
                            b.getIndexType()),
      values);
  return tosa::ConstShapeOp::create(b, loc, type, attr);
}

/// A quantizer whose every use is the weight operand of a kernel.
bool isWeightQuantizer(FakeQuantOp fq) {
  return !fq->use_empty() && llvm::all_of(fq->getUses(), [](OpOperand &use) {
    return use.getOperandNumber() == 1 &&
           isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(
               use.getOwner());
  });
}

static remark::RemarkOpts opts(StringRef name) {
  return remark::RemarkOpts::name(name).category("qat-convert-to-integer");
}

/// Constant parameters of a fake_quant, in the stored code domain: unsigned
/// 8-bit ranges are shifted by -128 into i8.
struct QParams {
  SmallVector<float> scales;
  SmallVector<int32_t> zeroPoints;
  std::optional<int64_t> axis;
  int64_t qmin, qmax;
  int64_t shift = 0;
  RoundingMode rounding;
};

std::optional<QParams> getParams(FakeQuantOp fq) {
  DenseFPElementsAttr s;
  DenseIntElementsAttr z;
  if (!matchPattern(fq.getScale(), m_Constant(&s)) ||
      !matchPattern(fq.getZeroPoint(), m_Constant(&z)) ||
      !isExpansionBounded(s, s.getNumElements()) ||
      !isExpansionBounded(z, z.getNumElements()))
    return std::nullopt;
  QParams p;
  p.axis = fq.getAxis();
  p.rounding = fq.getRounding();
  int64_t qmin = fq.getQuantMin(), qmax = fq.getQuantMax();
  if (qmin >= -128 && qmax <= 127)
    p.shift = 0;
  else if (qmin >= 0 && qmax <= 255)
    p.shift = 128;
  else
    return std::nullopt;
  p.qmin = qmin - p.shift;
  p.qmax = qmax - p.shift;
  for (APFloat v : s.getValues<APFloat>())
    p.scales.push_back(v.convertToFloat());
  for (APInt v : z.getValues<APInt>())
    p.zeroPoints.push_back(int32_t(v.getSExtValue() - p.shift));
  return p;
}

/// The chains qat-convert-to-integer turns into one op, in the form of a
/// target's fusion patterns (each followed by its output fake_quant): what
/// a qat.integer_kernel carries (a matmul's reshape comes before its bias
/// or residual add), and an add of two quantized values with its clamp.
const FusionStep kConvChain[] = {{"conv2d"}, {"add", true}, {"clamp", true}};
const FusionStep kDepthwiseChain[] = {
    {"depthwise_conv2d"}, {"add", true}, {"clamp", true}};
const FusionStep kMatMulChain[] = {
    {"matmul"}, {"reshape", true}, {"add", true}, {"clamp", true}};
const FusionStep kAddChain[] = {{"add"}, {"clamp", true}};

/// The next op of a chain this pass reads: the only user of the last op.
FusionLink nextSingleUser(Operation *cur) {
  Value v = cur->getResult(0);
  return {v.hasOneUse() ? *v.getUsers().begin() : nullptr, nullptr};
}

/// A value's integer form: its i8 codes and per-tensor parameters.
struct Codes {
  Value codes;
  float scale;
  int32_t zeroPoint;
  int64_t qmin, qmax;
};

/// Converts one function. Its state (codes of values, handled ops) refers to
/// that function's IR, part of which run() erases: never reuse a Converter
/// for a second function.
class Converter {
public:
  /// `live`: weights and biases that are not constants (trainable
  /// parameters) are quantized by ops in the graph (simulation only).
  Converter(const TargetDescription &target, MLIRContext *ctx, bool simulate,
            bool live = false)
      : target(target), ctx(ctx), simulate(simulate), live(simulate && live) {}
  void run(func::FuncOp func);
  unsigned numKernels = 0;

private:
  bool convertKernel(Operation *conv);
  void quantizeInput(FakeQuantOp fq);
  void convertAgnostic(Operation *op);
  /// The requantization of `k` for the f32 multipliers `m` (one, or one
  /// per output channel) and, with a residual, its multiplier `mr`: as is
  /// for a float-multiplier target, else in fixed point (M * 2^-n, M in
  /// [2^30, 2^31)). False when a shift leaves [2, 62].
  bool setRequantization(IntegerKernel &k, ArrayRef<float> m,
                         std::optional<float> mr);
  /// Writes the kernel `k` on `x` (and `residual`): the qat.integer_kernel,
  /// or with `simulate` its float simulation. Returns its output codes.
  Value emitKernel(OpBuilder &b, Location loc, const IntegerKernel &k,
                   const Codes &x, const Codes *residual);
  /// lhs (zero point `lhsZp`, multipliers `m`) plus a quantized `rhs`, both
  /// rescaled to `out`.
  Value requantizeAdd(OpBuilder &b, Location loc, Value lhs, int32_t lhsZp,
                      ArrayRef<float> m, const Codes &rhs, const Codes &out,
                      int64_t lo, int64_t hi);
  bool convertAdd(Operation *add);
  /// An element-wise function of one quantized value followed by its output
  /// quantizer: a tosa.table on codes.
  bool convertTable(const ElementwiseFunction &fn, FakeQuantOp outFq);
  bool convertAvgPool(tosa::AvgPool2dOp pool, FakeQuantOp outFq);
  Operation *findKernelHead(FakeQuantOp fq);
  /// The output range [lo, hi] of codes after a fused clamp.
  std::optional<std::pair<int64_t, int64_t>> clampRange(tosa::ClampOp clamp,
                                                        const QParams &out);
  /// The element type of codes: i8, or integer-valued f32 (simulation).
  Type codeType() const {
    return simulate ? Type(Float32Type::get(ctx))
                    : Type(IntegerType::get(ctx, 8));
  }

  const TargetDescription &target;
  MLIRContext *ctx;
  bool simulate;
  bool live;
  llvm::DenseMap<Value, Codes> codesOf;
  llvm::DenseSet<Operation *> handled, attempted;
};

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
  codesOf[fq.getResult()] = {q, p->scales[0], p->zeroPoints[0], p->qmin,
                             p->qmax};
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
  codesOf[op->getResult(0)] = {clone->getResult(0), in.scale, in.zeroPoint,
                               in.qmin, in.qmax};
}

/// m = M * 2^-n for each multiplier with one shift per channel (the larger
/// multiplier of a pair gets M in [2^30, 2^31)). False if n leaves [2, 62].
static bool fixedPoint(ArrayRef<float> ms, SmallVectorImpl<int32_t> &mults,
                       int64_t &shift) {
  int maxExp = std::numeric_limits<int>::min();
  for (float f : ms) {
    int e;
    std::frexp(double(f), &e);
    maxExp = std::max(maxExp, e);
  }
  shift = 31 - maxExp;
  auto fits = [&]() {
    mults.clear();
    for (float f : ms) {
      int64_t mm = std::llround(std::ldexp(double(f), int(shift)));
      if (mm >= (int64_t(1) << 31))
        return false;
      mults.push_back(int32_t(mm));
    }
    return true;
  };
  if (!fits()) {
    --shift;
    if (!fits())
      return false;
  }
  return shift >= 2 && shift <= 62;
}

bool Converter::setRequantization(IntegerKernel &k, ArrayRef<float> m,
                                  std::optional<float> mr) {
  k.hasResidual = mr.has_value();
  if (target.requantization == Requantization::FloatMultiplier) {
    k.floatMultiplier = true;
    k.multiplier.assign(m.begin(), m.end());
    if (mr)
      k.residualMultiplier.assign(m.size(), *mr);
    return true;
  }
  k.floatMultiplier = false;
  for (float f : m) {
    if (mr) {
      // One shift for the pair: the larger multiplier gets M in [2^30, 2^31).
      SmallVector<int32_t> pair;
      int64_t n;
      if (!fixedPoint({f, *mr}, pair, n))
        return false;
      k.fixedMultiplier.push_back(pair[0]);
      k.residualFixedMultiplier.push_back(pair[1]);
      k.shift.push_back(int8_t(n));
      continue;
    }
    // Fixed point (TOSA rescale, single rounding): m = M * 2^-shift with M
    // in [2^30, 2^31).
    int exp;
    double frac = std::frexp(double(f), &exp); // f = frac * 2^exp
    int64_t mm = std::llround(frac * double(int64_t(1) << 31));
    if (mm == (int64_t(1) << 31)) {
      mm /= 2;
      ++exp;
    }
    int64_t shift = 31 - exp;
    if (shift < 2 || shift > 62)
      return false;
    k.fixedMultiplier.push_back(int32_t(mm));
    k.shift.push_back(int8_t(shift));
  }
  return true;
}

Value Converter::emitKernel(OpBuilder &b, Location loc, const IntegerKernel &k,
                            const Codes &x, const Codes *residual) {
  Value r = residual ? residual->codes : Value();
  if (simulate)
    return k.emitArithmetic(b, loc, x.codes, r, /*simulate=*/true);
  return k.build(b, loc, x.codes, r);
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
  Codes out{Value(), op->scales[0], op->zeroPoints[0], op->qmin, op->qmax};
  float ma = a->second.scale / out.scale;
  Value q =
      requantizeAdd(b, add->getLoc(), a->second.codes, a->second.zeroPoint,
                    {ma}, c->second, out, range->first, range->second);
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
  if (!setRequantization(kernel, {m}, std::nullopt))
    return refuse("its requantization multiplier is outside the fixed-point "
                  "range");
  OpBuilder b(outFq);
  Location loc = pool.getLoc();
  Codes out{Value(), op->scales[0], op->zeroPoints[0], op->qmin, op->qmax};
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

/// conv2d / depthwise_conv2d / matmul [+ reshape] [+ add bias] [+ clamp]
/// followed by the output fake_quant, all constants but the activation.
bool Converter::convertKernel(Operation *conv) {
  attempted.insert(conv);
  auto refuse = [&](const llvm::Twine &why) {
    remark::missed(conv->getLoc(), opts("LeftFloat"))
        << remarkText("'", conv->getName(), "' left float: ", why.str());
    return false;
  };
  auto in = codesOf.find(conv->getOperand(0));
  if (in == codesOf.end())
    return refuse("its input is not quantized");
  auto wfq = conv->getOperand(1).getDefiningOp<FakeQuantOp>();
  DenseFPElementsAttr wAttr;
  if (!wfq)
    return refuse("its weight is not a fake-quantized constant");
  // A live weight (a trainable parameter) is quantized in the graph.
  bool liveWeight = !matchPattern(wfq.getInput(), m_Constant(&wAttr));
  if (liveWeight && !live)
    return refuse("its weight is not a fake-quantized constant");
  if (!liveWeight && !isExpansionBounded(wAttr, wAttr.getNumElements()))
    return refuse(remarkText(
        "its weight is a splat of ", wAttr.getNumElements(),
        " elements, more than the ", kMaxSplatExpansion, " a pass writes out"));
  auto wp = getParams(wfq);
  if (!wp || wp->shift != 0 ||
      llvm::any_of(wp->zeroPoints, [](int32_t z) { return z != 0; }))
    return refuse("its weight quantizer is not signed 8-bit with zero point 0");

  // The chain up to the output quantizer: what one qat.integer_kernel
  // carries, matched by the targets' fusion matcher through single uses.
  SmallVector<Operation *> chain =
      matchFusionPattern(isa<tosa::Conv2DOp>(conv) ? ArrayRef(kConvChain)
                         : isa<tosa::DepthwiseConv2DOp>(conv)
                             ? ArrayRef(kDepthwiseChain)
                             : ArrayRef(kMatMulChain),
                         conv, nextSingleUser)
          .ops;
  Value cur = chain.back()->getResult(0);
  if (!cur.hasOneUse())
    return refuse("an intermediate result has several users");
  auto outFq = dyn_cast<FakeQuantOp>(*cur.getUsers().begin());
  if (!outFq)
    return refuse(remarkText("'", cur.getUsers().begin()->getName(),
                             "' after it is not part of a kernel"));
  chain.push_back(outFq);
  tosa::ReshapeOp reshape;
  tosa::AddOp biasAdd;
  tosa::ClampOp clamp;
  for (Operation *o : chain) {
    if (auto r = dyn_cast<tosa::ReshapeOp>(o))
      reshape = r;
    else if (auto a = dyn_cast<tosa::AddOp>(o))
      biasAdd = a;
    else if (auto c = dyn_cast<tosa::ClampOp>(o))
      clamp = c;
  }
  auto op = getParams(outFq);
  if (!op || op->axis)
    return refuse("its output quantizer is not constant per-tensor 8-bit");

  auto accType = cast<RankedTensorType>(conv->getResult(0).getType());
  int64_t channels = accType.getShape().back();
  auto wType = cast<RankedTensorType>(wfq.getInput().getType());
  ArrayRef<int64_t> ws = wType.getShape();
  auto channelOf = [&](int64_t flat) -> int64_t {
    if (isa<tosa::Conv2DOp>(conv))
      return flat / (ws[1] * ws[2] * ws[3]);
    if (isa<tosa::DepthwiseConv2DOp>(conv))
      return flat % (ws[2] * ws[3]);
    return flat % ws[2];
  };
  // Weight scale per output channel (broadcast a per-tensor one).
  SmallVector<float> sw(channels, wp->scales[0]);
  if (wp->axis) {
    int64_t want = isa<tosa::Conv2DOp>(conv) ? 0 : 2;
    if (*wp->axis != want || int64_t(wp->scales.size()) != channels)
      return refuse("its weight is quantized on an axis other than the output "
                    "channels");
    sw.assign(wp->scales.begin(), wp->scales.end());
  }
  if (isa<tosa::DepthwiseConv2DOp>(conv) && ws[3] != 1 && wp->axis)
    return refuse("per-channel depthwise weights need channel multiplier 1");

  // Integer weight codes.
  SmallVector<int8_t> wq;
  int64_t i = 0;
  if (!liveWeight)
    for (APFloat w : wAttr.getValues<APFloat>()) {
      int64_t c = channelOf(i++);
      float s = wp->axis ? wp->scales[c] : wp->scales[0];
      float t = numerics::fakeQuantCode(w.convertToFloat(), s, 0, wp->rounding);
      t = std::min<float>(std::max<float>(t, wp->qmin), wp->qmax);
      wq.push_back(int8_t(std::isnan(t) ? 0 : t));
    }

  // Float bias (conv operand or the add's constant), quantized to int32:
  // roundeven(b / (s_in * s_w)) in f32.
  const Codes &x = in->second;
  SmallVector<float> bias(channels, 0.0f);
  // A live bias (one per kernel, one value per channel) is quantized in the
  // graph.
  Value liveBias;
  auto readBias = [&](Value v) -> bool {
    DenseFPElementsAttr attr;
    if (live && !liveBias && !matchPattern(v, m_Constant())) {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getNumElements() != channels || !t.getElementType().isF32() ||
          !t.hasStaticShape())
        return false;
      liveBias = v;
      return true;
    }
    if (!matchPattern(v, m_Constant(&attr)) ||
        !isExpansionBounded(attr, attr.getNumElements()))
      return false;
    SmallVector<float> vals;
    for (APFloat f : attr.getValues<APFloat>())
      vals.push_back(f.convertToFloat());
    if (vals.size() != 1 && int64_t(vals.size()) != channels)
      return false;
    for (int64_t c = 0; c < channels; ++c)
      bias[c] += vals[vals.size() == 1 ? 0 : c];
    return true;
  };
  if (!isa<tosa::MatMulOp>(conv) && !readBias(conv->getOperand(2)))
    return refuse("its bias is not a constant");
  std::optional<Codes> residual;
  if (biasAdd) {
    Operation *prev = *std::prev(llvm::find(chain, biasAdd.getOperation()));
    Value other = biasAdd->getOperand(0) == prev->getResult(0)
                      ? biasAdd->getOperand(1)
                      : biasAdd->getOperand(0);
    auto otherType = cast<RankedTensorType>(other.getType());
    if (auto it = codesOf.find(other);
        it != codesOf.end() && otherType == biasAdd.getType() && !reshape) {
      residual = it->second; // conv + residual add
    } else if (otherType.getNumElements() != channels &&
               otherType.getNumElements() != 1) {
      return refuse("the add after it is neither a per-channel bias nor a "
                    "quantized residual");
    } else if (!readBias(other)) {
      return refuse("the add after it has a non-constant, unquantized operand");
    }
  }
  SmallVector<int32_t> biasQ(channels);
  for (int64_t c = 0; c < channels && !liveBias; ++c) {
    float q = std::nearbyint(bias[c] / (x.scale * sw[c]));
    if (!(std::fabs(q) < 2147483520.0f))
      return refuse("its bias does not fit int32 after quantization");
    biasQ[c] = int32_t(q);
  }

  // Output range, with a fused clamp as the code clamp.
  auto range = clampRange(clamp, *op);
  if (!range)
    return refuse("its clamp bounds are not float");

  // The kernel: weights and bias as computed, the window of the
  // convolution, the result of the chain's last op (after a reshape).
  IntegerKernel k;
  auto i8 = IntegerType::get(ctx, 8);
  if (isa<tosa::Conv2DOp>(conv))
    k.kind = KernelKind::conv2d;
  else if (isa<tosa::DepthwiseConv2DOp>(conv))
    k.kind = KernelKind::depthwise_conv2d;
  else
    k.kind = KernelKind::matmul;
  k.inputType = cast<RankedTensorType>(conv->getOperand(0).getType()).clone(i8);
  k.weightType = wType.clone(i8);
  Value accValue = reshape ? Value(reshape.getResult()) : conv->getResult(0);
  k.resultType = cast<RankedTensorType>(accValue.getType()).clone(i8);
  k.weights = std::move(wq);
  k.bias = biasQ;
  k.inputZeroPoint = x.zeroPoint;
  k.outputZeroPoint = op->zeroPoints[0];
  k.quantMin = range->first;
  k.quantMax = range->second;
  if (auto c = dyn_cast<tosa::Conv2DOp>(conv)) {
    k.pad.assign(c.getPad().begin(), c.getPad().end());
    k.stride.assign(c.getStride().begin(), c.getStride().end());
    k.dilation.assign(c.getDilation().begin(), c.getDilation().end());
  } else if (auto d = dyn_cast<tosa::DepthwiseConv2DOp>(conv)) {
    k.pad.assign(d.getPad().begin(), d.getPad().end());
    k.stride.assign(d.getStride().begin(), d.getStride().end());
    k.dilation.assign(d.getDilation().begin(), d.getDilation().end());
  }
  SmallVector<float> m(channels);
  for (int64_t c = 0; c < channels; ++c)
    m[c] = (x.scale * sw[c]) / op->scales[0];
  bool uniform = llvm::all_equal(m);
  ArrayRef<float> mm = uniform ? ArrayRef(m).take_front() : ArrayRef(m);
  std::optional<float> mr;
  if (residual) {
    mr = residual->scale / op->scales[0];
    k.residualZeroPoint = residual->zeroPoint;
  }
  if (!setRequantization(k, mm, mr))
    return refuse("a requantization multiplier is outside the fixed-point "
                  "range");

  OpBuilder b(outFq);
  Location loc = conv->getLoc();
  // A live bias (plus the constant part, summed in f32 first as for
  // constants) becomes its int32 code by qat.quantize_bias, f32 codes of
  // rank 1; a live weight its codes by qat.quantize.
  Value liveBiasCodes, liveWeightCodes;
  if (liveBias) {
    auto vecType = RankedTensorType::get({channels}, b.getF32Type());
    Value v = liveBias;
    if (cast<RankedTensorType>(v.getType()).getRank() != 1)
      v = tosa::ReshapeOp::create(b, loc, vecType, v,
                                  shapeConst(b, loc, {channels}));
    if (llvm::any_of(bias, [](float f) { return f != 0.0f; }))
      v = tosa::AddOp::create(
          b, loc, vecType, v,
          tosa::ConstOp::create(
              b, loc, vecType,
              DenseElementsAttr::get(vecType, ArrayRef(bias))));
    auto sType = RankedTensorType::get({}, b.getF32Type());
    Value sIn = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(sType, x.scale));
    Value sW = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vecType, ArrayRef(sw)));
    liveBiasCodes = QuantizeBiasOp::create(b, loc, vecType, v, sIn, sW);
  }
  if (liveWeight)
    liveWeightCodes = QuantizeOp::create(
        b, loc, wType.clone(codeType()), wfq.getInput(), wfq.getScale(),
        wfq.getZeroPoint(), b.getI64IntegerAttr(wp->qmin),
        b.getI64IntegerAttr(wp->qmax), wfq.getAxisAttr(),
        RoundingModeAttr::get(ctx, wp->rounding));
  if (simulate) {
    // |acc| must stay below 2^24 for f32 to hold it exactly.
    double bound = k.getSimulationBound(x.qmin, x.qmax);
    if (bound >= double(1 << 24))
      remark::missed(loc, opts("SimulationBound"))
          << remarkText("'", conv->getName(), "': |accumulator| may reach ",
                        bound, liveBias ? " plus the trained bias" : "",
                        " > 2^24; the f32 simulation is exact only below that");
  }
  Codes out{Value(), op->scales[0], op->zeroPoints[0], op->qmin, op->qmax};
  Value q;
  if (liveWeightCodes || liveBiasCodes)
    q = k.emitArithmetic(b, loc, x.codes, residual ? residual->codes : Value(),
                         /*simulate=*/true, liveWeightCodes, liveBiasCodes);
  else
    q = emitKernel(b, loc, k, x, residual ? &*residual : nullptr);
  out.codes = q;
  codesOf[outFq.getResult()] = out;
  for (Operation *o : chain)
    handled.insert(o);
  ++numKernels;
  remark::passed(loc, opts("Kernel"))
      << remarkText("'", conv->getName(), "' converted to integer (",
                    int64_t(chain.size() - 1), " fused op(s), ",
                    stringifyRequantization(target.requantization), ")");
  return true;
}

/// The conv2d / depthwise_conv2d / matmul whose kernel chain (reshape, add,
/// clamp, each with one use) ends at `fq`, if any.
Operation *Converter::findKernelHead(FakeQuantOp fq) {
  Value v = fq.getInput();
  for (int steps = 0; steps < 4; ++steps) {
    Operation *def = v.getDefiningOp();
    if (!def || !v.hasOneUse() || handled.contains(def))
      return nullptr;
    if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(def))
      return def;
    if (isa<tosa::ClampOp, tosa::ReshapeOp>(def)) {
      v = def->getOperand(0);
      continue;
    }
    if (isa<tosa::AddOp>(def)) {
      // The operand that continues the chain: a single-use conv-like result
      // (or its reshape / clamp), not the bias or the residual.
      Value next;
      for (Value o : def->getOperands()) {
        Operation *d = o.getDefiningOp();
        if (d && o.hasOneUse() && !codesOf.contains(o) &&
            isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp,
                tosa::ReshapeOp, tosa::ClampOp>(d))
          next = o;
      }
      if (!next)
        return nullptr;
      v = next;
      continue;
    }
    return nullptr;
  }
  return nullptr;
}

bool Converter::convertTable(const ElementwiseFunction &fn, FakeQuantOp outFq) {
  auto in = codesOf.find(fn.input);
  auto op = getParams(outFq);
  if (in == codesOf.end() || !op || op->axis)
    return false;
  const Codes &x = in->second;
  SmallVector<int8_t> table = buildLookupTable(
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
  codesOf[outFq.getResult()] = {y, op->scales[0], op->zeroPoints[0], op->qmin,
                                op->qmax};
  for (Operation *o : fn.ops)
    handled.insert(o);
  remark::passed(loc, opts("Table"))
      << remarkText("element-wise function ", fn.describe(),
                    " converted to a 256-entry lookup table (tosa.table)");
  return true;
}

void Converter::run(func::FuncOp func) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return;
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  // Kernels are converted at their output quantizer: by then every operand
  // (a residual from a later branch too) has its codes.
  for (Operation *op : ops) {
    if (handled.contains(op))
      continue;
    if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op))
      continue;
    if (auto fq = dyn_cast<FakeQuantOp>(op)) {
      if (matchPattern(fq.getInput(), m_Constant()) ||
          (live && isWeightQuantizer(fq)))
        continue;
      if (target.lookupTables)
        if (auto fn = matchElementwiseFunction(fq.getInput().getDefiningOp()))
          if (convertTable(*fn, fq))
            continue;
      if (Operation *head = findKernelHead(fq))
        if (convertKernel(head))
          continue;
      if (auto add = fq.getInput().getDefiningOp<tosa::AddOp>())
        if (convertAdd(add))
          continue;
      if (auto clamp = fq.getInput().getDefiningOp<tosa::ClampOp>())
        if (auto add = clamp.getInput().getDefiningOp<tosa::AddOp>())
          if (convertAdd(add))
            continue;
      if (auto pool = fq.getInput().getDefiningOp<tosa::AvgPool2dOp>())
        if (convertAvgPool(pool, fq))
          continue;
      quantizeInput(fq);
      continue;
    }
    if (isa<tosa::MaxPool2dOp, tosa::ReshapeOp, tosa::TransposeOp,
            tosa::SliceOp>(op)) {
      convertAgnostic(op);
      continue;
    }
    if (auto cat = dyn_cast<tosa::ConcatOp>(op)) {
      // Inputs on one grid (a shared-scale concat): concatenate codes.
      SmallVector<Value> codes;
      std::optional<Codes> first;
      for (Value v : cat.getInput1()) {
        auto it = codesOf.find(v);
        if (it == codesOf.end() ||
            (first && (it->second.scale != first->scale ||
                       it->second.zeroPoint != first->zeroPoint))) {
          codes.clear();
          break;
        }
        if (!first)
          first = it->second;
        codes.push_back(it->second.codes);
      }
      if (!codes.empty()) {
        OpBuilder b(op);
        auto type = cast<RankedTensorType>(cat.getType()).clone(codeType());
        Value c = tosa::ConcatOp::create(b, op->getLoc(), type, codes,
                                         cat.getAxisAttr());
        codesOf[cat.getResult()] = {c, first->scale, first->zeroPoint,
                                    first->qmin, first->qmax};
        continue;
      }
    }
  }
  for (Operation *op : ops)
    if (!handled.contains(op) && !isa<func::ReturnOp, FakeQuantOp>(op) &&
        !(op->getNumResults() && codesOf.contains(op->getResult(0))) &&
        llvm::any_of(op->getOperands(),
                     [&](Value v) { return codesOf.contains(v); }))
      remark::missed(op->getLoc(), opts("LeftFloat")) << remarkText(
          "'", op->getName(), "' left float: it runs on dequantized codes");
  for (Operation *op : ops)
    if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op) &&
        !handled.contains(op) && !attempted.contains(op))
      remark::missed(op->getLoc(), opts("LeftFloat"))
          << remarkText("'", op->getName(),
                        "' left float: no output quantizer ends its kernel");
  // Float uses of converted values read the dequantized codes.
  for (auto &[value, codes] : codesOf) {
    if (value.use_empty())
      continue;
    OpBuilder b(ctx);
    b.setInsertionPointAfterValue(codes.codes);
    Location loc = value.getLoc();
    auto sType = RankedTensorType::get({}, b.getF32Type());
    auto zType = RankedTensorType::get({}, b.getI32Type());
    Value s = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(sType, codes.scale));
    Value z = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(zType, codes.zeroPoint));
    Value d = DequantizeOp::create(b, loc, value.getType(), codes.codes, s, z,
                                   IntegerAttr());
    value.replaceAllUsesWith(d);
  }
  // The float kernels are dead now.
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation &op :
         llvm::make_early_inc_range(llvm::reverse(func.getBody().front())))
      if (op.use_empty() && isPure(&op) &&
          !op.hasTrait<OpTrait::IsTerminator>()) {
        op.erase();
        changed = true;
      }
  }
}

namespace {
struct ConvertToIntegerPass
    : qat::impl::ConvertToIntegerPassBase<ConvertToIntegerPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(verifyInputContract(module)))
      return signalPassFailure();
    std::string spec = target;
    if (spec.empty())
      if (auto attr = module->getAttrOfType<StringAttr>(kTargetAttrName))
        spec = attr.str();
    if (spec.empty()) {
      module.emitError("qat-convert-to-integer: no target given and the "
                       "module has no '")
          << kTargetAttrName << "' attribute";
      return signalPassFailure();
    }
    auto t = TargetDescription::get(spec);
    if (!t) {
      module.emitError("qat-convert-to-integer: ")
          << llvm::toString(t.takeError());
      return signalPassFailure();
    }
    bool unfrozen = false;
    module.walk([&](Operation *op) {
      if (isa<ObserverOp, ChooseQParamsOp>(op)) {
        op->emitError("qat-convert-to-integer needs a frozen module: run "
                      "qat-freeze-qparams first");
        unfrozen = true;
      }
    });
    if (unfrozen)
      return signalPassFailure();
    // One converter per function: its maps hold values and ops of that
    // function, which the conversion erases at its end.
    for (auto func : module.getOps<func::FuncOp>()) {
      Converter converter(*t, &getContext(), simulate);
      converter.run(func);
      numKernels += converter.numKernels;
    }
  }
};
} // namespace

LogicalResult mlir::qat::convertToDeployedForward(
    func::FuncOp func, const TargetDescription &target, unsigned *numKernels) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitError("deployed numerics: @")
           << func.getSymName() << " must have one block";
  WalkResult observing = func.walk([&](Operation *op) {
    if (isa<ObserverOp, ChooseQParamsOp, LSQOp>(op)) {
      op->emitError("deployed numerics need constant quantization "
                    "parameters (the integer model's): run "
                    "qat-freeze-qparams before qat-make-trainable");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (observing.wasInterrupted())
    return failure();
  Converter converter(target, func.getContext(), /*simulate=*/true,
                      /*live=*/true);
  converter.run(func);
  if (numKernels)
    *numKernels = converter.numKernels;
  return success();
}
