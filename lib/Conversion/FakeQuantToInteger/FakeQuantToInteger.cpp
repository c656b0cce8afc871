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

#include "Converter.h"

#include "qat/Conversion/FakeQuantToInteger/FakeQuantToInteger.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/Utils/GroupedConv.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::qat {
#define GEN_PASS_DEF_CONVERTTOINTEGERPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::to_integer;

namespace mlir::qat::to_integer {

/// A quantizer whose every use is the weight operand of a kernel.
bool isWeightQuantizer(FakeQuantOp fq) {
  return !fq->use_empty() && llvm::all_of(fq->getUses(), [](OpOperand &use) {
    return use.getOperandNumber() == 1 &&
           isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(
               use.getOwner());
  });
}

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

/// m = M * 2^-n for each multiplier with one shift per channel (the larger
/// multiplier of a pair gets M in [2^30, 2^31)). False if n leaves [2, 62].
bool fixedPoint(ArrayRef<float> ms, SmallVectorImpl<int32_t> &mults,
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

} // namespace mlir::qat::to_integer

/// A grouped convolution with one output quantizer (qat-insert-fake-quant's
/// placement, as PyTorch's eager QAT has it) becomes one kernel per group on
/// the output's grid: fake_quant(clamp(concat(conv_g))) ==
/// concat(fake_quant(clamp(conv_g))) element for element (the clamp and a
/// per-tensor quantizer act on each element alone), and the groups' codes
/// share one grid, so their concat is a concat of codes.
static void distributeGroupedOutputs(Block &block) {
  for (auto fq : llvm::make_early_inc_range(block.getOps<FakeQuantOp>())) {
    if (fq.getAxis())
      continue;
    Value v = fq.getInput();
    auto clamp = v.getDefiningOp<tosa::ClampOp>();
    if (clamp) {
      if (!v.hasOneUse())
        continue;
      v = clamp.getInput();
    }
    auto concat = v.getDefiningOp<tosa::ConcatOp>();
    if (!concat || !v.hasOneUse())
      continue;
    std::optional<GroupedConv> grouped = matchGroupedConv(concat);
    if (!grouped)
      continue;
    OpBuilder b(fq);
    SmallVector<Value> parts;
    for (tosa::Conv2DOp conv : grouped->convs) {
      Value part = conv.getResult();
      IRMapping map;
      if (clamp) {
        map.map(clamp.getInput(), part);
        part = b.clone(*clamp, map)->getResult(0);
        part.setType(conv.getType());
      }
      map.map(fq.getInput(), part);
      Operation *q = b.clone(*fq, map);
      q->getResult(0).setType(conv.getType());
      parts.push_back(q->getResult(0));
    }
    Value out = tosa::ConcatOp::create(b, concat.getLoc(), concat.getType(),
                                       parts, concat.getAxisAttr());
    fq.getResult().replaceAllUsesWith(out);
    fq.erase();
    if (clamp)
      clamp.erase();
    concat.erase();
  }
}

void Converter::run(func::FuncOp func) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return;
  distributeGroupedOutputs(func.getBody().front());
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  // Kernels are converted at their output quantizer: by then every operand
  // (a residual from a later branch too) has its codes.
  for (Operation *op : ops) {
    if (handled.contains(op))
      continue;
    if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op)) {
      if (auto fq = dyn_cast_or_null<FakeQuantOp>(
              nextSingleUser(kernelChain(op).back()).next))
        kernelHeads[fq] = op;
      continue;
    }
    if (auto fq = dyn_cast<FakeQuantOp>(op)) {
      if (matchPattern(fq.getInput(), m_Constant()) ||
          (live && isWeightQuantizer(fq)))
        continue;
      if (target.lookupTables)
        if (auto fn = matchElementwiseFunction(fq.getInput().getDefiningOp()))
          if (convertTable(*fn, fq))
            continue;
      if (Operation *head = kernelHeads.lookup(fq))
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
        codesOf[cat.getResult()] = {c,           first->scale, first->zeroPoint,
                                    first->qmin, first->qmax,  first->shift};
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
                                   IntegerAttr(), IntegerAttr());
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
    if (isa<LSQOp>(op)) {
      // Learned scales and zero points (docs/Deployed.md, "Learned
      // quantization parameters"): the converter computes the multipliers
      // and zero points as constants of frozen scales.
      op->emitError("deployed numerics cannot learn the scale and zero "
                    "point of '")
          << op->getName()
          << "' (LSQ): the deployed forward is the integer model, whose "
             "requantization multipliers (m = s_in * s_w / s_out; on a "
             "fixed-point target an integer multiplier and shift) and zero "
             "points are constants computed from frozen quantization "
             "parameters; learn them in fake-quant numerics, run "
             "qat-finish-training, then make the model trainable without "
             "lsq for deployed numerics";
      return WalkResult::interrupt();
    }
    if (isa<ObserverOp, ChooseQParamsOp>(op)) {
      op->emitError("deployed numerics need constant quantization "
                    "parameters (the integer model's), but '")
          << op->getName()
          << "' computes them while training: run qat-freeze-qparams "
             "before qat-make-trainable";
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
