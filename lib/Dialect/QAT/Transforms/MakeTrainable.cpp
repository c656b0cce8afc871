//===- MakeTrainable.cpp - weights and biases to parameter globals --------===//
//
// qat-make-trainable: the constants behind the weight quantizers and the
// biases of a prepared model's kernels become mutable ml_program globals
// marked `qat.parameter`, which qat-generate-train-step differentiates and
// updates.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Training.h"
#include "qat/Dialect/QAT/Utils/Constants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_MAKETRAINABLEPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// A float constant (tosa.const or arith.constant) of rank >= 1.
DenseElementsAttr floatConstant(Value v) {
  DenseElementsAttr attr;
  if (!v || !matchPattern(v, m_Constant(&attr)))
    return {};
  auto type = dyn_cast<RankedTensorType>(attr.getType());
  if (!type || type.getRank() == 0 || !type.getElementType().isF32())
    return {};
  return attr;
}

/// The kernel kind of a parameter name.
StringRef kindName(Operation *op) {
  if (isa<tosa::Conv2DOp>(op))
    return "conv";
  if (isa<tosa::DepthwiseConv2DOp>(op))
    return "dwconv";
  return "matmul";
}

/// The value a kernel's result reaches through reshapes (a matmul's bias add
/// reads it after a reshape).
Value throughReshapes(Value v) {
  while (v.hasOneUse())
    if (auto r = dyn_cast<tosa::ReshapeOp>(*v.getUsers().begin()))
      v = r.getResult();
    else
      break;
  return v;
}

struct MakeTrainablePass : qat::impl::MakeTrainablePassBase<MakeTrainablePass> {
  using Base::Base;

  ModuleOp module;
  SymbolTable *symbols = nullptr;
  /// Globals are inserted before the entry function.
  Operation *insertPoint = nullptr;

  /// A global holding `value`, named uniquely after `name`.
  ml_program::GlobalOp createGlobal(StringRef name, DenseElementsAttr value,
                                    StringRef role) {
    OpBuilder b(module.getContext());
    auto global = ml_program::GlobalOp::create(
        b, module.getLoc(), name, value.getType(), /*is_mutable=*/true, value,
        b.getStringAttr("private"));
    if (!role.empty())
      global->setAttr(kParameterAttrName, b.getStringAttr(role));
    // Renames on a clash; parameters come first, in program order.
    symbols->insert(global, Block::iterator(insertPoint));
    return global;
  }

  Value load(OpBuilder &b, Location loc, ml_program::GlobalOp global) {
    return ml_program::GlobalLoadOp::create(
        b, loc, global.getType(), SymbolRefAttr::get(global.getSymNameAttr()));
  }

  /// Makes the weight operand of `kernel` a parameter: the constant behind
  /// its fake quantizer (or the operand itself), and the observers of that
  /// quantizer that read the constant.
  void makeWeight(Operation *kernel, StringRef base) {
    Value w = kernel->getOperand(1);
    auto fq = w.getDefiningOp<FakeQuantOp>();
    Value source = fq ? fq.getInput() : w;
    DenseElementsAttr value = floatConstant(source);
    if (!value)
      return;
    auto global = createGlobal((base + "_weight").str(), value, "weight");
    // Where the constant was: before every use of it.
    OpBuilder b(kernel);
    b.setInsertionPointAfter(source.getDefiningOp());
    Value param = load(b, kernel->getLoc(), global);
    ++numParameters;
    if (!fq) {
      kernel->setOperand(1, param);
      return;
    }
    fq.getInputMutable().assign(param);
    // The weight's observer (fresh range each call) reads the parameter, and
    // its range becomes state that the train step stores.
    auto choose = fq.getScale().getDefiningOp<ChooseQParamsOp>();
    auto observer =
        choose ? choose.getMin().getDefiningOp<ObserverOp>() : ObserverOp();
    if (!observer || observer.getInput() != source)
      return;
    observer.getInputMutable().assign(param);
    // The weight's range before training, as the initial state.
    OpBuilder eb(observer);
    auto stateType = cast<RankedTensorType>(observer.getMin().getType());
    SmallVector<float> lo(stateType.getNumElements(),
                          std::numeric_limits<float>::infinity());
    SmallVector<float> hi(stateType.getNumElements(),
                          -std::numeric_limits<float>::infinity());
    auto type = cast<RankedTensorType>(value.getType());
    std::optional<int64_t> axis = observer.getAxis();
    SmallVector<int64_t> strides(type.getRank(), 1);
    for (int64_t i = type.getRank() - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * type.getDimSize(i + 1);
    int64_t i = 0;
    for (APFloat v : value.getValues<APFloat>()) {
      float f = v.convertToFloat();
      int64_t c = axis ? (i / strides[*axis]) % type.getDimSize(*axis) : 0;
      if (!std::isnan(f)) {
        lo[c] = std::min(lo[c], f);
        hi[c] = std::max(hi[c], f);
      }
      ++i;
    }
    auto makeState = [&](ArrayRef<float> values, StringRef suffix) {
      auto attr = DenseElementsAttr::get(stateType, values);
      return createGlobal((base + "_weight" + suffix).str(), attr, "");
    };
    auto gmin = makeState(lo, "_min"), gmax = makeState(hi, "_max");
    gmin->setAttr(kWeightRangeAttrName, eb.getStringAttr("min"));
    gmax->setAttr(kWeightRangeAttrName, eb.getStringAttr("max"));
    observer->setAttr(kWeightRangeAttrName,
                      eb.getArrayAttr({FlatSymbolRefAttr::get(gmin),
                                       FlatSymbolRefAttr::get(gmax)}));
  }

  /// Makes operand `index` of `user` (a bias) a parameter.
  void makeBias(Operation *user, unsigned index, StringRef base) {
    DenseElementsAttr value = floatConstant(user->getOperand(index));
    if (!value)
      return;
    auto global = createGlobal((base + "_bias").str(), value, "bias");
    OpBuilder b(user);
    user->setOperand(index, load(b, user->getLoc(), global));
    ++numParameters;
  }

  // Small TOSA builders for the ConvBn2d form.
  static Value constF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                        float v) {
    auto type = RankedTensorType::get(shape, b.getF32Type());
    return tosa::ConstOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
  }
  static Value shiftZero(OpBuilder &b, Location loc) {
    auto type = RankedTensorType::get({1}, b.getI8Type());
    return tosa::ConstOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getI8IntegerAttr(0)));
  }
  static Value mul(OpBuilder &b, Location loc, Value x, Value y) {
    auto tx = cast<RankedTensorType>(x.getType());
    auto ty = cast<RankedTensorType>(y.getType());
    SmallVector<int64_t> shape;
    for (auto [a, c] : llvm::zip(tx.getShape(), ty.getShape()))
      shape.push_back(a == 1 ? c : a);
    return tosa::MulOp::create(b, loc, tx.clone(shape), x, y,
                               shiftZero(b, loc));
  }
  static Value binary(OpBuilder &b, Location loc, bool isAdd, Value x,
                      Value y) {
    auto tx = cast<RankedTensorType>(x.getType());
    auto ty = cast<RankedTensorType>(y.getType());
    SmallVector<int64_t> shape;
    for (auto [a, c] : llvm::zip(tx.getShape(), ty.getShape()))
      shape.push_back(a == 1 ? c : a);
    if (isAdd)
      return tosa::AddOp::create(b, loc, tx.clone(shape), x, y);
    return tosa::SubOp::create(b, loc, tx.clone(shape), x, y);
  }
  static Value reshapeTo(OpBuilder &b, Location loc, Value x,
                         ArrayRef<int64_t> shape) {
    auto type =
        cast<RankedTensorType>(x.getType()).clone(SmallVector<int64_t>(shape));
    return tosa::ReshapeOp::create(b, loc, type, x,
                                   createConstShape(b, loc, shape));
  }
  ml_program::GlobalOp lookupLoaded(Value v) {
    auto load = v ? v.getDefiningOp<ml_program::GlobalLoadOp>()
                  : ml_program::GlobalLoadOp();
    return load ? symbols->lookup<ml_program::GlobalOp>(
                      load.getGlobal().getLeafReference())
                : ml_program::GlobalOp();
  }

  /// bn-mode=train: `conv` (its weight and bias already parameters of the
  /// folded values) becomes PyTorch's ConvBn2d training form from the
  /// recorded batch norm `bn` (docs/Training.md).
  LogicalResult makeConvBN(Operation *conv, StringRef base, DictionaryAttr bn,
                           func::FuncOp func) {
    Location loc = conv->getLoc();
    auto fq = conv->getOperand(1).getDefiningOp<FakeQuantOp>();
    Value wLoad = fq ? fq.getInput() : conv->getOperand(1);
    ml_program::GlobalOp wGlobal = lookupLoaded(wLoad);
    ml_program::GlobalOp bGlobal = lookupLoaded(conv->getOperand(2));
    auto weight = dyn_cast_if_present<DenseElementsAttr>(bn.get("weight"));
    auto bias = dyn_cast_if_present<DenseElementsAttr>(bn.get("bias"));
    auto mean = dyn_cast_if_present<DenseElementsAttr>(bn.get("running_mean"));
    auto var = dyn_cast_if_present<DenseElementsAttr>(bn.get("running_var"));
    auto gamma = dyn_cast_if_present<DenseElementsAttr>(bn.get("gamma"));
    auto beta = dyn_cast_if_present<DenseElementsAttr>(bn.get("beta"));
    auto epsAttr = dyn_cast_if_present<FloatAttr>(bn.get("eps"));
    if (!wGlobal || !bGlobal || !weight || !bias || !mean || !var || !gamma ||
        !beta || !epsAttr || weight.getType() != wGlobal.getType() ||
        bias.getType() != bGlobal.getType())
      return conv->emitError("qat-make-trainable: bn-mode=train: malformed ")
             << kBatchNormAttrName << " or a weight/bias that is not a "
             << "constant";
    // The parameters hold the unfolded values.
    wGlobal.setValueAttr(weight);
    bGlobal.setValueAttr(bias);
    auto g = createGlobal((base + "_bn_weight").str(), gamma, "bn_weight");
    auto be = createGlobal((base + "_bn_bias").str(), beta, "bn_bias");
    auto rm = createGlobal((base + "_bn_running_mean").str(), mean, "");
    auto rv = createGlobal((base + "_bn_running_var").str(), var, "");
    OpBuilder ab(module.getContext());
    rm->setAttr(kRunningStatAttrName, ab.getStringAttr("mean"));
    rv->setAttr(kRunningStatAttrName, ab.getStringAttr("var"));
    numParameters += 2;

    auto outType = cast<RankedTensorType>(conv->getResult(0).getType());
    int64_t n = outType.getDimSize(0) * outType.getDimSize(1) *
                outType.getDimSize(2);
    int64_t c = outType.getDimSize(3);
    if (n < 2)
      return conv->emitError("qat-make-trainable: bn-mode=train needs at "
                             "least 2 values per channel (N*H*W), got ")
             << n;
    float eps = static_cast<float>(epsAttr.getValueAsDouble());
    float momentum = static_cast<float>(bnMomentum);

    // Scale of the weight, before the weight's quantizer.
    OpBuilder b(conv);
    b.setInsertionPointAfterValue(wLoad);
    // PyTorch's gamma / sqrt(running_var + eps), exactly: the weight's
    // largest magnitude lands on a rounding tie of its quantizer
    // (+-127.5 steps), so a last-bit difference in s would change a code.
    Value gv = load(b, loc, g), rvv = load(b, loc, rv);
    Value runningStd = math::SqrtOp::create(
        b, loc, binary(b, loc, true, rvv, constF32(b, loc, {c}, eps)));
    Value s = arith::DivFOp::create(b, loc, gv, runningStd);
    auto wType = cast<RankedTensorType>(wLoad.getType());
    SmallVector<int64_t> sShape(wType.getRank(), 1);
    if (isa<tosa::Conv2DOp>(conv)) {
      sShape[0] = c; // OHWI
    } else {         // HWCM: output channel c*M + m
      sShape[2] = wType.getDimSize(2);
      sShape[3] = wType.getDimSize(3);
    }
    Value wScaled = mul(b, loc, wLoad, reshapeTo(b, loc, s, sShape));
    wScaled.getDefiningOp()->setAttr(kConvBNWeightAttrName,
                                     FlatSymbolRefAttr::get(wGlobal));
    wLoad.replaceAllUsesExcept(wScaled, wScaled.getDefiningOp());

    // conv(x, w', 0) / s + bias, then batch norm on the batch's statistics.
    Value biasLoad = conv->getOperand(2);
    b.setInsertionPoint(conv);
    conv->setOperand(2, constF32(b, loc, {c}, 0.0f));
    b.setInsertionPointAfter(conv);
    Value y = conv->getResult(0);
    // conv / s, an exact division as PyTorch's (s broadcast by adding it
    // to zeros, which changes no value).
    Value sB = binary(b, loc, true, constF32(b, loc, outType.getShape(), 0.0f),
                      reshapeTo(b, loc, s, {1, 1, 1, c}));
    Value y0 = arith::DivFOp::create(b, loc, y, sB);
    Operation *firstUse = y0.getDefiningOp();
    Value y1 = binary(b, loc, true, y0, reshapeTo(b, loc, biasLoad, {1, 1, 1, c}));
    // Batch norm on the batch's statistics, summed as PyTorch's CPU kernel
    // sums them (qat.batch_norm_train): the activation quantizer after it
    // sees the same values.
    auto bnOp = BatchNormTrainOp::create(
        b, loc, y1.getType(), gv.getType(), gv.getType(), gv.getType(), y1,
        load(b, loc, g), load(b, loc, be),
        b.getF64FloatAttr(epsAttr.getValueAsDouble()));
    bnOp->setAttr(kBatchStatAttrName,
                  ab.getArrayAttr({FlatSymbolRefAttr::get(rm),
                                   FlatSymbolRefAttr::get(rv)}));
    bnOp->setAttr(kConvBNOutputAttrName, FlatSymbolRefAttr::get(wGlobal));
    y.replaceAllUsesExcept(bnOp.getOutput(), firstUse);

    // Running statistics, stored at the end of the function:
    // momentum * batch + (1 - momentum) * running (unbiased variance), each
    // product rounded (PyTorch's update).
    Operation *ret = func.getBody().front().getTerminator();
    b.setInsertionPoint(ret);
    auto update = [&](ml_program::GlobalOp gl, Value batch) {
      Value newValue = binary(
          b, loc, true, mul(b, loc, batch, constF32(b, loc, {c}, momentum)),
          mul(b, loc, load(b, loc, gl), constF32(b, loc, {c}, 1.0f - momentum)));
      ml_program::GlobalStoreOp::create(
          b, loc, SymbolRefAttr::get(gl.getSymNameAttr()), newValue);
    };
    update(rm, bnOp.getMean());
    update(rv, bnOp.getUnbiasedVar());

    conv->removeAttr(kBatchNormAttrName);
    conv->setAttr(
        kConvBNAttrName,
        ab.getDictionaryAttr(
            {ab.getNamedAttr("weight", FlatSymbolRefAttr::get(wGlobal)),
             ab.getNamedAttr("bias", FlatSymbolRefAttr::get(bGlobal)),
             ab.getNamedAttr("gamma", FlatSymbolRefAttr::get(g)),
             ab.getNamedAttr("beta", FlatSymbolRefAttr::get(be)),
             ab.getNamedAttr("running_mean", FlatSymbolRefAttr::get(rm)),
             ab.getNamedAttr("running_var", FlatSymbolRefAttr::get(rv)),
             ab.getNamedAttr("eps", ab.getF64FloatAttr(eps))}));
    return success();
  }

  /// lsq=true: each fake quantizer with constant parameters becomes
  /// qat.lsq reading its scale and zero point from parameter globals.
  LogicalResult makeLSQ(func::FuncOp func) {
    SmallVector<FakeQuantOp> quantizers;
    func.walk([&](FakeQuantOp fq) { quantizers.push_back(fq); });
    int index = 0;
    for (FakeQuantOp fq : quantizers) {
      DenseElementsAttr s, z;
      if (!matchPattern(fq.getScale(), m_Constant(&s)) ||
          !matchPattern(fq.getZeroPoint(), m_Constant(&z)))
        return fq.emitError("qat-make-trainable: lsq=true needs frozen "
                            "quantizer parameters (a constant scale and zero "
                            "point: run qat-freeze-qparams first)");
      if (fq.getRounding() != RoundingMode::half_even)
        return fq.emitError("qat-make-trainable: lsq=true needs half_even "
                            "rounding (qat.lsq's), got ")
               << stringifyRoundingMode(fq.getRounding());
      auto sType = cast<RankedTensorType>(s.getType());
      SmallVector<float> zs;
      bool allZero = true;
      for (APInt v : z.getValues<APInt>()) {
        zs.push_back(static_cast<float>(v.getSExtValue()));
        allZero &= v.isZero();
      }
      auto zAttr = DenseElementsAttr::get(sType, ArrayRef<float>(zs));
      std::string base = ("lsq" + Twine(index++)).str();
      auto gs = createGlobal(base + "_scale", s, "lsq_scale");
      ++numParameters;
      // A signed symmetric quantizer (zero point 0, the targets' weights)
      // keeps its zero point at 0 (LSQ); an affine one learns it (LSQ+).
      bool symmetric = allZero && static_cast<int64_t>(fq.getQuantMin()) < 0;
      ml_program::GlobalOp gz;
      if (!symmetric) {
        gz = createGlobal(base + "_zero_point", zAttr, "lsq_zero_point");
        ++numParameters;
      }
      double factor = 1.0;
      if (lsqGradFactor == "lsq") {
        auto in = cast<RankedTensorType>(fq.getInput().getType());
        factor = 1.0 / std::sqrt(static_cast<double>(in.getNumElements()) *
                                 static_cast<double>(
                                     static_cast<int64_t>(fq.getQuantMax())));
      }
      OpBuilder b(fq);
      Location loc = fq.getLoc();
      Value zero = gz ? load(b, loc, gz)
                      : arith::ConstantOp::create(b, loc, zAttr).getResult();
      auto op = LSQOp::create(b, loc, fq.getType(), fq.getInput(),
                              load(b, loc, gs), zero,
                              fq.getQuantMinAttr(), fq.getQuantMaxAttr(),
                              fq.getAxisAttr(), b.getF64FloatAttr(factor));
      fq.replaceAllUsesWith(op.getOutput());
      fq.erase();
    }
    return success();
  }

  void runOnOperation() override {
    module = getOperation();
    SymbolTable table(module);
    symbols = &table;
    auto func = table.lookup<func::FuncOp>(entry);
    if (!func) {
      module.emitError("qat-make-trainable: no function @") << entry;
      return signalPassFailure();
    }
    insertPoint = func;
    if (bnMode != "fold" && bnMode != "train") {
      module.emitError("qat-make-trainable: unknown bn-mode '")
          << bnMode << "' (fold or train)";
      return signalPassFailure();
    }
    if (lsqGradFactor != "one" && lsqGradFactor != "lsq") {
      module.emitError("qat-make-trainable: unknown lsq-grad-factor '")
          << lsqGradFactor << "' (one or lsq)";
      return signalPassFailure();
    }
    llvm::StringMap<int> counts;
    SmallVector<Operation *> kernels;
    func.walk([&](Operation *op) {
      if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op))
        kernels.push_back(op);
    });
    for (Operation *kernel : kernels) {
      std::string base;
      if (auto name = dyn_cast<NameLoc>(kernel->getLoc()))
        base = name.getName().str();
      else
        base = (kindName(kernel) + Twine(counts[kindName(kernel)]++)).str();
      makeWeight(kernel, base);
      if (!isa<tosa::MatMulOp>(kernel)) {
        makeBias(kernel, 2, base);
        if (auto bn = kernel->getAttrOfType<DictionaryAttr>(kBatchNormAttrName)) {
          if (bnMode == "train" &&
              failed(makeConvBN(kernel, base, bn, func)))
            return signalPassFailure();
          kernel->removeAttr(kBatchNormAttrName);
        }
        continue;
      }
      // A matmul's bias: the constant operand of the add that follows it.
      Value out = throughReshapes(kernel->getResult(0));
      if (!out.hasOneUse())
        continue;
      if (auto add = dyn_cast<tosa::AddOp>(*out.getUsers().begin()))
        makeBias(add, add.getInput1() == out ? 1 : 0, base);
    }
    if (lsq && failed(makeLSQ(func)))
      return signalPassFailure();
    // Constants left without users.
    func.walk([](Operation *op) {
      if (op->use_empty() && isa<tosa::ConstOp, arith::ConstantOp>(op))
        op->erase();
    });
  }
};

} // namespace
