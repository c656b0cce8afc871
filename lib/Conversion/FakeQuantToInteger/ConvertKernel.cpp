//===- ConvertKernel.cpp - kernels to qat.integer_kernel ------------------===//
//
// qat-convert-to-integer's integer kernels: a conv2d / depthwise_conv2d /
// matmul chain ending at its output quantizer becomes one qat.integer_kernel
// (or, with simulate, its exact float simulation), with weights, bias and
// the target's requantization computed here.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::to_integer;

namespace {
/// The chains one qat.integer_kernel carries (each followed by its output
/// fake_quant), in the form of a target's fusion patterns; a matmul's
/// reshape comes before its bias or residual add.
const FusionStep kConvChain[] = {{"conv2d"}, {"add", true}, {"clamp", true}};
const FusionStep kDepthwiseChain[] = {
    {"depthwise_conv2d"}, {"add", true}, {"clamp", true}};
const FusionStep kMatMulChain[] = {
    {"matmul"}, {"reshape", true}, {"add", true}, {"clamp", true}};
} // namespace

bool Converter::setRequantization(IntegerKernel &k, ArrayRef<float> m,
                                  std::optional<float> mr) {
  k.hasResidual = mr.has_value();
  if (target.requantization == Requantization::FloatMultiplier ||
      target.requantization == Requantization::PyTorchOneDNN ||
      target.requantization == Requantization::PyTorchQNNPACK) {
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

  // The chain up to the output quantizer.
  SmallVector<Operation *> chain = kernelChain(conv);
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
  bool onednn = target.requantization == Requantization::PyTorchOneDNN;
  bool qnnpack = target.requantization == Requantization::PyTorchQNNPACK;
  if (onednn && (residual || liveBias))
    return refuse("PyTorch's onednn kernels fuse no residual add and no "
                  "trained bias (target " +
                  target.name + ")");
  if (qnnpack && (residual || liveBias))
    return refuse("PyTorch's qnnpack kernels fuse no residual add and no "
                  "trained bias (target " +
                  target.name + ")");
  SmallVector<int32_t> biasQ(channels);
  for (int64_t c = 0; c < channels && !liveBias && !onednn; ++c) {
    // qnnpack: PyTorch quantizes the bias with the scale s_w * s_in (a
    // double of the two f32 scales) as quantize_val does, b * f32(1 / f32(s)).
    float q =
        qnnpack ? std::nearbyint(
                      bias[c] * (1.0f / float(double(sw[c]) * double(x.scale))))
                : std::nearbyint(bias[c] / (x.scale * sw[c]));
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
    m[c] = qnnpack ? (sw[c] * x.scale) * (1.0f / op->scales[0])
                   : (x.scale * sw[c]) / op->scales[0];
  if (onednn) {
    // As ideep computes oneDNN's scales from PyTorch's (f32 values kept in
    // doubles; the double reciprocal rounded to f32 is the f32 one):
    // src = 1 / s_in, wei = 1 / s_w, dst = 1 / s_out, bias_scale = src *
    // wei, multiplier = dst / bias_scale, float bias = b * bias_scale, all
    // in f32. The bias is added after the accumulation (int32 bias 0).
    float src = 1.0f / x.scale, dst = 1.0f / op->scales[0];
    k.floatBias.resize(channels);
    for (int64_t c = 0; c < channels; ++c) {
      float biasScale = src * (1.0f / sw[c]);
      m[c] = dst / biasScale;
      k.floatBias[c] = bias[c] * biasScale;
      if (!std::isfinite(m[c]) || !(m[c] > 0.0f) ||
          !std::isfinite(k.floatBias[c]))
        return refuse("its onednn multiplier or float bias is not finite");
    }
    k.floatZeroPointOffset = op->shift;
  }
  bool uniform = llvm::all_equal(m) && llvm::all_equal(k.floatBias);
  ArrayRef<float> mm = uniform ? ArrayRef(m).take_front() : ArrayRef(m);
  std::optional<float> mr;
  if (residual) {
    mr = residual->scale / op->scales[0];
    k.residualZeroPoint = residual->zeroPoint;
  }
  if (!setRequantization(k, mm, mr))
    return refuse("a requantization multiplier is outside the fixed-point "
                  "range");
  if (onednn && uniform)
    k.floatBias.resize(1);

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
                                  createConstShape(b, loc, {channels}));
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
  // Where an f32 accumulator could be inexact, the deployed training
  // forward (`live`, issue 18) accumulates in int32 as the integer model
  // does (qat.exact_accumulator, differentiated through the f32 one); the
  // simulation of a constant model only says so.
  bool exactAccumulator = false;
  if (simulate) {
    // |acc| must stay below 2^24 for f32 to hold it exactly.
    double bound = k.getSimulationBound(x.qmin, x.qmax);
    if (bound >= double(1 << 24)) {
      exactAccumulator = live;
      if (live)
        remark::passed(loc, opts("ExactAccumulator"))
            << remarkText("'", conv->getName(), "': |accumulator| may reach ",
                          bound, liveBias ? " plus the trained bias" : "",
                          " >= 2^24: accumulated in int32");
      else
        remark::missed(loc, opts("SimulationBound")) << remarkText(
            "'", conv->getName(), "': |accumulator| may reach ", bound,
            " > 2^24; the f32 simulation is exact only below that");
    }
  }
  Codes out{Value(),  op->scales[0], op->zeroPoints[0],
            op->qmin, op->qmax,      op->shift};
  Value q;
  if (liveWeightCodes || liveBiasCodes || exactAccumulator)
    q = k.emitArithmetic(b, loc, x.codes, residual ? residual->codes : Value(),
                         /*simulate=*/true, liveWeightCodes, liveBiasCodes,
                         exactAccumulator);
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

SmallVector<Operation *> mlir::qat::to_integer::kernelChain(Operation *conv) {
  return matchFusionPattern(isa<tosa::Conv2DOp>(conv) ? ArrayRef(kConvChain)
                            : isa<tosa::DepthwiseConv2DOp>(conv)
                                ? ArrayRef(kDepthwiseChain)
                                : ArrayRef(kMatMulChain),
                            conv, nextSingleUser)
      .ops;
}
