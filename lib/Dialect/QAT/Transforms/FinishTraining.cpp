//===- FinishTraining.cpp - a trained module back to a prepared model -----===//
//
// qat-finish-training: parameter globals become constants of their trained
// values, weight quantizers observe the trained weight (or keep the range
// stored when observers were frozen), and what qat-generate-train-step
// added goes away, so that qat-freeze-qparams and qat-convert-to-integer
// take the trained model as they take a calibrated one.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Training.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

#include <algorithm>
#include <cmath>

namespace mlir::qat {
#define GEN_PASS_DEF_FINISHTRAININGPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

using ml_program::GlobalLoadOp;
using ml_program::GlobalOp;

/// Folds one ConvBn2d-trained convolution (see the caller).
LogicalResult
foldConvBN(Operation *conv, func::FuncOp forward, SymbolTable &symbols,
           llvm::function_ref<DenseElementsAttr(StringRef)> valueOf) {
  auto bn = conv->getAttrOfType<DictionaryAttr>(kConvBNAttrName);
  auto sym = [&](StringRef key) -> StringRef {
    auto ref = dyn_cast_if_present<FlatSymbolRefAttr>(bn.get(key));
    return ref ? ref.getValue() : StringRef();
  };
  DenseElementsAttr w = valueOf(sym("weight")), cb = valueOf(sym("bias")),
                    g = valueOf(sym("gamma")), be = valueOf(sym("beta")),
                    rm = valueOf(sym("running_mean")),
                    rv = valueOf(sym("running_var"));
  auto epsAttr = dyn_cast_if_present<FloatAttr>(bn.get("eps"));
  if (!w || !cb || !g || !be || !rm || !rv || !epsAttr)
    return conv->emitError("qat-finish-training: no trained value for a "
                           "global of ")
           << kConvBNAttrName;
  auto toVec = [](DenseElementsAttr a) {
    SmallVector<float> v;
    for (APFloat x : a.getValues<APFloat>())
      v.push_back(x.convertToFloat());
    return v;
  };
  SmallVector<float> W = toVec(w), B = toVec(cb), G = toVec(g), Be = toVec(be),
                     M = toVec(rm), V = toVec(rv);
  int64_t c = G.size();
  float eps = static_cast<float>(epsAttr.getValueAsDouble());
  SmallVector<float> rs(c), t(c), fb(c);
  for (int64_t i = 0; i < c; ++i) {
    rs[i] = 1.0f / std::sqrt(V[i] + eps);
    t[i] = G[i] * rs[i];
    fb[i] = (B[i] - M[i]) * rs[i] * G[i] + Be[i];
  }
  auto wType = cast<RankedTensorType>(w.getType());
  ArrayRef<int64_t> ws = wType.getShape();
  SmallVector<float> fw(W.size());
  for (size_t i = 0; i < W.size(); ++i) {
    int64_t ch = isa<tosa::Conv2DOp>(conv)
                     ? int64_t(i) / (ws[1] * ws[2] * ws[3]) // OHWI
                     : int64_t(i) % (ws[2] * ws[3]);         // HWCM
    fw[i] = W[i] * t[ch];
  }
  // The scaled weight (before the weight quantizer) and the zero bias
  // become the folded constants; the batch norm's output is the conv's.
  Operation *scaled = nullptr, *output = nullptr;
  forward.walk([&](Operation *op) {
    auto s = op->getAttrOfType<FlatSymbolRefAttr>(kConvBNWeightAttrName);
    if (s && s.getValue() == sym("weight"))
      scaled = op;
    auto o = op->getAttrOfType<FlatSymbolRefAttr>(kConvBNOutputAttrName);
    if (o && o.getValue() == sym("weight"))
      output = op;
  });
  if (!scaled || !output)
    return conv->emitError("qat-finish-training: the ConvBn form of ")
           << sym("weight") << " is incomplete";
  OpBuilder b(scaled);
  scaled->getResult(0).replaceAllUsesWith(arith::ConstantOp::create(
      b, scaled->getLoc(), DenseElementsAttr::get(wType, ArrayRef(fw))));
  b.setInsertionPoint(conv);
  auto bType = RankedTensorType::get({c}, b.getF32Type());
  conv->setOperand(2, arith::ConstantOp::create(
                          b, conv->getLoc(),
                          DenseElementsAttr::get(bType, ArrayRef(fb))));
  output->getResult(0).replaceAllUsesWith(conv->getResult(0));
  conv->removeAttr(kConvBNAttrName);
  return success();
}

struct FinishTrainingPass
    : qat::impl::FinishTrainingPassBase<FinishTrainingPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto forward = symbols.lookup<func::FuncOp>(entry);
    if (!forward) {
      module.emitError("qat-finish-training: no function @") << entry;
      return signalPassFailure();
    }
    // The functions qat-generate-train-step wrote.
    for (StringRef suffix :
         {"_train_step", "_gradients", "_eval", "_disable_observers",
          "_enable_observers", "_get_parameters", "_set_parameters",
          "_get_state", "_set_state", "_forward", "_backward",
          "_forward_eval", "_freeze_bn_stats", "_update_bn_stats"})
      if (auto f = symbols.lookup<func::FuncOp>((entry + suffix).str()))
        symbols.erase(f);

    auto valueOf = [&](StringRef name) -> DenseElementsAttr {
      auto g = symbols.lookup<GlobalOp>(name);
      return g ? dyn_cast_if_present<DenseElementsAttr>(g.getValueAttr())
               : DenseElementsAttr();
    };
    bool frozen = false;
    if (DenseElementsAttr flag = valueOf(entry + "_observe"))
      frozen = flag.getSplatValue<APInt>().isZero();

    // Convolutions trained with batch norm (bn-mode=train): folded as
    // torch.ao.quantization.convert folds them (fuse_conv_bn_weights, in
    // f32): w = W * (gamma * rsqrt(var + eps)), b = (bias - mean) *
    // rsqrt(var + eps) * gamma + beta.
    SmallVector<Operation *> convBNs;
    forward.walk([&](Operation *op) {
      if (op->hasAttr(kConvBNAttrName))
        convBNs.push_back(op);
    });
    for (Operation *conv : convBNs)
      if (failed(foldConvBN(conv, forward, symbols, valueOf)))
        return signalPassFailure();
    if (!convBNs.empty()) {
      forward.walk([&](ml_program::GlobalStoreOp st) {
        auto g = symbols.lookup<GlobalOp>(st.getGlobal().getLeafReference());
        if (g && g->hasAttr(kRunningStatAttrName))
          st->erase();
      });
      eraseDeadOps(forward);
    }

    // Weight quantizers: observe the trained weight, or keep the stored
    // range of frozen observers.
    SmallVector<ObserverOp> observers;
    forward.walk([&](ObserverOp obs) {
      if (obs->hasAttr(kWeightRangeAttrName))
        observers.push_back(obs);
    });
    for (ObserverOp obs : observers) {
      auto range = obs->getAttrOfType<ArrayAttr>(kWeightRangeAttrName);
      obs->removeAttr(kWeightRangeAttrName);
      if (!frozen)
        continue;
      OpBuilder b(obs);
      for (auto [sym, result] : llvm::zip(range, obs.getResults())) {
        DenseElementsAttr stored =
            valueOf(cast<FlatSymbolRefAttr>(sym).getValue());
        if (!stored) {
          obs.emitError("qat-finish-training: no value for the stored range ")
              << sym;
          return signalPassFailure();
        }
        result.replaceAllUsesWith(
            arith::ConstantOp::create(b, obs.getLoc(), stored));
      }
      obs.erase();
    }

    // Parameters -> constants of their values.
    SmallVector<GlobalLoadOp> loads;
    forward.walk([&](GlobalLoadOp load) { loads.push_back(load); });
    for (GlobalLoadOp load : loads) {
      auto g = symbols.lookup<GlobalOp>(load.getGlobal().getLeafReference());
      if (!g || !g->hasAttr(kParameterAttrName))
        continue;
      auto value = dyn_cast_if_present<DenseElementsAttr>(g.getValueAttr());
      if (!value) {
        load.emitError("qat-finish-training: parameter @")
            << g.getSymName() << " has no value";
        return signalPassFailure();
      }
      OpBuilder b(load);
      load.getResult().replaceAllUsesWith(
          arith::ConstantOp::create(b, load.getLoc(), value));
      load.erase();
    }

    // LSQ quantizers (qat-make-trainable{lsq}) with their trained values
    // become fake quantizers computing the same: scale max(s, 2^-23), zero
    // point roundeven(z) clamped to the range (qat.lsq's forward).
    SmallVector<LSQOp> lsqs;
    forward.walk([&](LSQOp op) { lsqs.push_back(op); });
    for (LSQOp op : lsqs) {
      DenseElementsAttr s, z;
      if (!matchPattern(op.getScale(), m_Constant(&s)) ||
          !matchPattern(op.getZeroPoint(), m_Constant(&z))) {
        op.emitError("qat-finish-training: qat.lsq without a trained scale "
                     "and zero point");
        return signalPassFailure();
      }
      const float minScale = std::ldexp(1.0f, -23);
      SmallVector<float> scales;
      for (APFloat v : s.getValues<APFloat>())
        scales.push_back(std::max(v.convertToFloat(), minScale));
      SmallVector<int32_t> zeros;
      for (APFloat v : z.getValues<APFloat>()) {
        float r = std::nearbyint(v.convertToFloat()); // ties to even
        // (I64Attr getters return uint64_t: through int64_t for the sign.)
        r = std::min(
            std::max(r, static_cast<float>(
                            static_cast<int64_t>(op.getQuantMin()))),
            static_cast<float>(static_cast<int64_t>(op.getQuantMax())));
        zeros.push_back(static_cast<int32_t>(r));
      }
      auto sType = cast<RankedTensorType>(s.getType());
      OpBuilder b(op);
      Value sc = arith::ConstantOp::create(
          b, op.getLoc(), DenseElementsAttr::get(sType, ArrayRef(scales)));
      Value zc = arith::ConstantOp::create(
          b, op.getLoc(),
          DenseElementsAttr::get(sType.clone(b.getI32Type()), ArrayRef(zeros)));
      auto fq = FakeQuantOp::create(b, op.getLoc(), op.getType(), op.getInput(),
                                    sc, zc, op.getQuantMinAttr(),
                                    op.getQuantMaxAttr(), op.getAxisAttr());
      op.getOutput().replaceAllUsesWith(fq.getOutput());
      op.erase();
    }
    if (!lsqs.empty())
      eraseDeadOps(forward);

    // Globals nobody uses any more.
    for (GlobalOp g : llvm::make_early_inc_range(module.getOps<GlobalOp>()))
      if (SymbolTable::symbolKnownUseEmpty(g, module))
        symbols.erase(g);
  }
};

} // namespace
