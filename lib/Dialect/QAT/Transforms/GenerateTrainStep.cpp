//===- GenerateTrainStep.cpp - the compiled QAT training step -------------===//
//
// qat-generate-train-step: from a trainable forward function (after
// qat-make-trainable) writes the training step (forward, loss, reverse-mode
// gradients through GradientOpInterface, optimizer update), the gradients
// alone, an eval entry with frozen observers, and the observer switches.
//
//===----------------------------------------------------------------------===//

#include "qat/Autodiff/Autodiff.h"
#include "qat/Conversion/FakeQuantToInteger/FakeQuantToInteger.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Training.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/Constants.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::qat {
#define GEN_PASS_DEF_GENERATETRAINSTEPPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

using ml_program::GlobalLoadOp;
using ml_program::GlobalOp;
using ml_program::GlobalStoreOp;

Value f32Const(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, float v) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  return tosa::ConstOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(v)));
}

struct GenerateTrainStepPass
    : qat::impl::GenerateTrainStepPassBase<GenerateTrainStepPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerTosaGradientInterfaceExternalModels(registry);
  }

  ModuleOp module;
  SymbolTable *symbols = nullptr;
  func::FuncOp forward;
  SmallVector<GlobalOp> params;
  GlobalOp observeFlag, stepCounter, bnFrozenFlag;

  GlobalOp createGlobal(StringRef name, Attribute value, Type type) {
    OpBuilder b(module.getContext());
    auto global =
        GlobalOp::create(b, module.getLoc(), name, type, /*is_mutable=*/true,
                         value, b.getStringAttr("private"));
    symbols->insert(global, Block::iterator(forward));
    return global;
  }

  GlobalOp zerosLike(GlobalOp param, StringRef suffix) {
    auto type = cast<RankedTensorType>(param.getType());
    return createGlobal(
        (param.getSymName() + suffix).str(),
        DenseElementsAttr::get(type, FloatAttr::get(type.getElementType(), 0)),
        type);
  }

  Value load(OpBuilder &b, Location loc, GlobalOp g) {
    return GlobalLoadOp::create(b, loc, g.getType(),
                                SymbolRefAttr::get(g.getSymNameAttr()));
  }
  void store(OpBuilder &b, Location loc, GlobalOp g, Value v) {
    GlobalStoreOp::create(b, loc, SymbolRefAttr::get(g.getSymNameAttr()), v);
  }

  /// A copy of the forward function named `name` with `extra` arguments
  /// appended.
  func::FuncOp cloneForward(StringRef name, TypeRange extra) {
    auto clone = cast<func::FuncOp>(forward->clone());
    clone.setSymName(name);
    SmallVector<Type> inputs(forward.getArgumentTypes());
    for (Type t : extra) {
      inputs.push_back(t);
      clone.getBody().addArgument(t, forward.getLoc());
    }
    clone.setType(FunctionType::get(module.getContext(), inputs,
                                    forward.getResultTypes()));
    symbols->insert(clone);
    return clone;
  }

  GlobalOp lookupLoad(Value v) {
    auto loadOp = v.getDefiningOp<GlobalLoadOp>();
    if (!loadOp)
      return {};
    return symbols->lookup<GlobalOp>(loadOp.getGlobal().getLeafReference());
  }

  /// Observers whose range is state: activation observers (state loaded
  /// from globals) and weight observers with a stored range. Returns, per
  /// observer, the stored (min, max) it would keep when frozen.
  SmallVector<std::tuple<ObserverOp, Value, Value>>
  statefulObservers(func::FuncOp func, OpBuilder &b) {
    SmallVector<std::tuple<ObserverOp, Value, Value>> out;
    func.walk([&](ObserverOp obs) {
      if (auto range = obs->getAttrOfType<ArrayAttr>(kWeightRangeAttrName)) {
        b.setInsertionPoint(obs);
        auto gmin = symbols->lookup<GlobalOp>(
            cast<FlatSymbolRefAttr>(range[0]).getValue());
        auto gmax = symbols->lookup<GlobalOp>(
            cast<FlatSymbolRefAttr>(range[1]).getValue());
        if (gmin && gmax)
          out.emplace_back(obs, load(b, obs.getLoc(), gmin),
                           load(b, obs.getLoc(), gmax));
        return;
      }
      if (lookupLoad(obs.getMin()) && lookupLoad(obs.getMax()))
        out.emplace_back(obs, obs.getMin(), obs.getMax());
    });
    return out;
  }

  /// Training forward: each stateful observer's new range is its result
  /// while `@<entry>_observe` is set, its stored range otherwise; weight
  /// ranges are stored at the end.
  void gateObservers(func::FuncOp func, Operation *terminator) {
    OpBuilder b(func.getBody());
    b.setInsertionPointToStart(&func.getBody().front());
    Value flag = load(b, func.getLoc(), observeFlag);
    Value raw = tensor::ExtractOp::create(b, func.getLoc(), flag, ValueRange{});
    Value on = arith::CmpIOp::create(
        b, func.getLoc(), arith::CmpIPredicate::ne, raw,
        arith::ConstantOp::create(b, func.getLoc(), b.getI8IntegerAttr(0)));
    for (auto [obs, oldMin, oldMax] : statefulObservers(func, b)) {
      b.setInsertionPointAfter(obs);
      Location loc = obs.getLoc();
      Value newMin =
          arith::SelectOp::create(b, loc, on, obs.getNewMin(), oldMin);
      Value newMax =
          arith::SelectOp::create(b, loc, on, obs.getNewMax(), oldMax);
      obs.getNewMin().replaceAllUsesExcept(newMin, newMin.getDefiningOp());
      obs.getNewMax().replaceAllUsesExcept(newMax, newMax.getDefiningOp());
      if (auto range = obs->getAttrOfType<ArrayAttr>(kWeightRangeAttrName)) {
        b.setInsertionPoint(terminator);
        for (auto [sym, v] : llvm::zip(range, ValueRange{newMin, newMax}))
          store(b, loc,
                symbols->lookup<GlobalOp>(
                    cast<FlatSymbolRefAttr>(sym).getValue()),
                v);
      }
    }
  }

  /// The loss of `output` against `labels`.
  Value buildLoss(OpBuilder &b, Location loc, Value output, Value labels) {
    if (loss == "cross-entropy")
      return SoftmaxCrossEntropyOp::create(
          b, loc, RankedTensorType::get({}, b.getF32Type()), output, labels);
    // mse: mean((output - labels)^2) in TOSA.
    auto type = cast<RankedTensorType>(output.getType());
    Value d = tosa::SubOp::create(b, loc, type, output, labels);
    auto shiftType = RankedTensorType::get({1}, b.getI8Type());
    Value shift = tosa::ConstOp::create(
        b, loc, shiftType,
        DenseElementsAttr::get(shiftType, b.getI8IntegerAttr(0)));
    Value sq = tosa::MulOp::create(b, loc, type, d, d, shift);
    for (int64_t i = 0; i < type.getRank(); ++i)
      sq = tosa::ReduceSumOp::create(b, loc, sq, b.getI32IntegerAttr(i));
    SmallVector<int64_t> ones(type.getRank(), 1);
    Value mean = tosa::MulOp::create(
        b, loc, sq.getType(), sq,
        f32Const(b, loc, ones,
                 1.0f / static_cast<float>(type.getNumElements())),
        shift);
    auto scalar = RankedTensorType::get({}, b.getF32Type());
    return tosa::ReshapeOp::create(b, loc, scalar, mean,
                                   createConstShape(b, loc, {}));
  }

  /// Rows whose first largest logit is the label, as tensor<1xi32>.
  Value buildCorrect(OpBuilder &b, Location loc, Value logits, Value labels) {
    auto type = cast<RankedTensorType>(logits.getType());
    int64_t n = type.getDimSize(0);
    auto i32 = RankedTensorType::get({n}, b.getI32Type());
    Value pred =
        tosa::ArgMaxOp::create(b, loc, i32, logits, b.getI32IntegerAttr(1));
    Value eq = tosa::EqualOp::create(
        b, loc, RankedTensorType::get({n}, b.getI1Type()), pred, labels);
    Value asInt = tosa::CastOp::create(b, loc, i32, eq);
    return tosa::ReduceSumOp::create(b, loc, asInt, b.getI32IntegerAttr(0));
  }

  /// Loads of the parameters in `func`, in the order of `params`.
  SmallVector<SmallVector<Value>> parameterLoads(func::FuncOp func) {
    SmallVector<SmallVector<Value>> loads(params.size());
    func.walk([&](GlobalLoadOp op) {
      for (auto [i, p] : llvm::enumerate(params))
        if (op.getGlobal().getLeafReference() == p.getSymNameAttr())
          loads[i].push_back(op.getResult());
    });
    return loads;
  }

  /// Forward + loss + backward in `func` (a clone of the forward with the
  /// labels as its last argument); returns the loss, the count of correct
  /// rows (or null) and one gradient per parameter, or failure.
  FailureOr<std::tuple<Value, Value, SmallVector<Value>>>
  buildBackward(func::FuncOp func, Value labels) {
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    Location loc = ret.getLoc();
    OpBuilder b(ret);
    Value output = ret.getOperand(0);
    Value lossValue = buildLoss(b, loc, output, labels);
    Value correct;
    if (loss == "cross-entropy")
      correct = buildCorrect(b, loc, output, labels);
    SmallVector<SmallVector<Value>> loads = parameterLoads(func);
    SmallVector<Value> wrt;
    for (auto &l : loads)
      llvm::append_range(wrt, l);
    Value one = f32Const(b, loc, {}, 1.0f);
    FailureOr<SmallVector<Value>> grads =
        buildReverseMode(b, {{lossValue, one}}, wrt);
    if (failed(grads))
      return failure();
    SmallVector<Value> perParam;
    size_t k = 0;
    for (auto &l : loads) {
      Value g;
      for (size_t j = 0; j < l.size(); ++j, ++k)
        g = g ? Value(tosa::AddOp::create(b, loc, (*grads)[k].getType(), g,
                                          (*grads)[k]))
              : (*grads)[k];
      perParam.push_back(g);
    }
    return std::make_tuple(lossValue, correct, perParam);
  }

  LogicalResult buildTrainStep() {
    Type labelsType = labelType();
    auto lrType = RankedTensorType::get({}, Float64Type::get(&getContext()));
    func::FuncOp step =
        cloneForward((entry + "_train_step"), {labelsType, lrType});
    Value labels = step.getArgument(step.getNumArguments() - 2);
    Value lr = step.getArgument(step.getNumArguments() - 1);
    auto ret = cast<func::ReturnOp>(step.getBody().front().getTerminator());
    gateObservers(step, ret);
    gateBatchNorm(step);
    auto built = buildBackward(step, labels);
    if (failed(built))
      return failure();
    auto [lossValue, correct, grads] = *built;
    SmallVector<SmallVector<Value>> loads = parameterLoads(step);

    OpBuilder b(ret);
    Location loc = ret.getLoc();
    Value count = load(b, loc, stepCounter);
    SmallVector<std::pair<GlobalOp, Value>> stores;
    for (auto [i, p] : llvm::enumerate(params)) {
      if (loads[i].empty())
        continue;
      Value param = loads[i].front(), g = grads[i];
      if (optimizer == "sgd") {
        GlobalOp bufGlobal;
        Value buf;
        if (momentum != 0.0) {
          bufGlobal = stateGlobal(p, "_momentum_buffer");
          buf = load(b, loc, bufGlobal);
        } else {
          buf = g;
        }
        auto update = SGDUpdateOp::create(
            b, loc, param, g, buf, lr, count, b.getF64FloatAttr(momentum),
            b.getF64FloatAttr(dampening), b.getF64FloatAttr(weightDecay),
            nesterov ? b.getUnitAttr() : UnitAttr());
        stores.emplace_back(p, update.getNewParam());
        if (bufGlobal)
          stores.emplace_back(bufGlobal, update.getNewMomentumBuffer());
      } else {
        GlobalOp m = stateGlobal(p, "_exp_avg"),
                 v = stateGlobal(p, "_exp_avg_sq");
        auto update = AdamUpdateOp::create(
            b, loc, param, g, load(b, loc, m), load(b, loc, v), lr, count,
            b.getF64FloatAttr(beta1), b.getF64FloatAttr(beta2),
            b.getF64FloatAttr(eps), b.getF64FloatAttr(weightDecay));
        stores.emplace_back(p, update.getNewParam());
        stores.emplace_back(m, update.getNewExpAvg());
        stores.emplace_back(v, update.getNewExpAvgSq());
      }
    }
    auto i64 = RankedTensorType::get({}, b.getI64Type());
    Value oneStep = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(i64, b.getI64IntegerAttr(1)));
    stores.emplace_back(stepCounter,
                        arith::AddIOp::create(b, loc, count, oneStep));
    // Every store after every read of the old values.
    for (auto [g, v] : stores)
      store(b, loc, g, v);
    SmallVector<Value> results{lossValue};
    SmallVector<Type> resultTypes{lossValue.getType()};
    if (correct) {
      results.push_back(correct);
      resultTypes.push_back(correct.getType());
    }
    func::ReturnOp::create(b, loc, results);
    ret.erase();
    step.setType(
        FunctionType::get(&getContext(), step.getArgumentTypes(), resultTypes));
    eraseDeadOps(step);
    return success();
  }

  LogicalResult buildGradients() {
    func::FuncOp func = cloneForward((entry + "_gradients"), {labelType()});
    Value labels = func.getArgument(func.getNumArguments() - 1);
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    gateObservers(func, ret);
    gateBatchNorm(func);
    auto built = buildBackward(func, labels);
    if (failed(built))
      return failure();
    auto [lossValue, correct, grads] = *built;
    OpBuilder b(ret);
    SmallVector<Value> results{lossValue};
    for (auto [i, g] : llvm::enumerate(grads))
      results.push_back(g ? g
                          : buildZeros(b, ret.getLoc(), params[i].getType()));
    if (returnQuantizerInputs) {
      // Each quantizer's input and its clip mask: the input gradient of a
      // gradient of ones, computed by the op the backward uses.
      SmallVector<Operation *> quantizers;
      func.walk([&](Operation *op) {
        if (isa<FakeQuantOp, LSQOp>(op))
          quantizers.push_back(op);
      });
      for (Operation *op : quantizers) {
        Value x = op->getOperand(0);
        auto type = cast<RankedTensorType>(x.getType());
        Value ones = tosa::ConstOp::create(
            b, op->getLoc(), type,
            DenseElementsAttr::get(type, b.getF32FloatAttr(1.0f)));
        auto iface = cast<GradientOpInterface>(op);
        results.push_back(x);
        results.push_back(iface.buildGradients(b, ones).front());
      }
    }
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    func.setType(FunctionType::get(&getContext(), func.getArgumentTypes(),
                                   ValueRange(results).getTypes()));
    eraseDeadOps(func);
    return success();
  }

  /// The forward with every stateful observer frozen: its stored range
  /// instead of its result, and no stores of activation ranges.
  void buildEval() {
    func::FuncOp func = cloneForward((entry + "_eval"), {});
    freezeObservers(func);
    freezeBatchNorm(func, /*running=*/true);
    eraseDeadOps(func);
  }

  /// Batch norm trained as ConvBn2d (qat-make-trainable{bn-mode=train})
  /// in `func`: no stores of running statistics; with `running`, the
  /// running statistics instead of the batch's (eval mode).
  void freezeBatchNorm(func::FuncOp func, bool running) {
    SmallVector<Operation *> stores, stats;
    func.walk([&](Operation *op) {
      if (auto st = dyn_cast<GlobalStoreOp>(op)) {
        auto g = symbols->lookup<GlobalOp>(st.getGlobal().getLeafReference());
        if (g && g->hasAttr(kRunningStatAttrName))
          stores.push_back(op);
      } else if (op->hasAttr(kBatchStatAttrName)) {
        stats.push_back(op);
      }
    });
    for (Operation *op : stores)
      op->erase();
    if (!running)
      return;
    // Batch norm on the running statistics (eval): alpha = gamma *
    // rsqrt(running_var + eps), out = x * alpha + (beta - running_mean *
    // alpha), in f32 TOSA ops (differentiable: freeze_bn_stats trains
    // through it).
    for (Operation *op : stats) {
      auto bn = dyn_cast<BatchNormTrainOp>(op);
      if (!bn)
        continue;
      OpBuilder b(op);
      if (Value out = runningBatchNorm(b, bn))
        bn.getOutput().replaceAllUsesWith(out);
    }
  }

  /// The running statistics' globals of a batch norm on batch statistics
  /// (its kBatchStatAttrName), or null ones.
  std::pair<GlobalOp, GlobalOp> runningStatGlobals(Operation *op) {
    auto syms = op->getAttrOfType<ArrayAttr>(kBatchStatAttrName);
    if (!syms || syms.size() != 2)
      return {};
    auto lookupSym = [&](Attribute a) {
      auto ref = dyn_cast<FlatSymbolRefAttr>(a);
      return ref ? symbols->lookup<GlobalOp>(ref.getValue()) : GlobalOp();
    };
    GlobalOp rm = lookupSym(syms[0]), rv = lookupSym(syms[1]);
    if (!rm || !rv)
      return {};
    return {rm, rv};
  }

  /// Batch norm of `bn`'s input on the running statistics (eval, and
  /// freeze_bn_stats): alpha = gamma * rsqrt(running_var + eps), out = x *
  /// alpha + (beta - running_mean * alpha), in f32 TOSA ops
  /// (differentiable: freeze_bn_stats trains through it); null if `bn`
  /// has no running statistics.
  Value runningBatchNorm(OpBuilder &b, BatchNormTrainOp bn) {
    auto [rm, rv] = runningStatGlobals(bn);
    if (!rm || !rv)
      return {};
    Location loc = bn.getLoc();
    auto xType = cast<RankedTensorType>(bn.getInput().getType());
    int64_t c = xType.getDimSize(3);
    auto c4 = RankedTensorType::get({1, 1, 1, c}, b.getF32Type());
    auto as4 = [&](Value v) -> Value {
      return tosa::ReshapeOp::create(b, loc, c4, v,
                                     createConstShape(b, loc, c4.getShape()));
    };
    float eps = static_cast<float>(bn.getEpsilon().convertToDouble());
    Value inv = tosa::RsqrtOp::create(
        b, loc, c4,
        tosa::AddOp::create(b, loc, c4, as4(load(b, loc, rv)),
                            f32Const(b, loc, {1, 1, 1, 1}, eps)));
    Value alpha = mulTosa(b, loc, c4, inv, as4(bn.getGamma()));
    Value shift =
        tosa::SubOp::create(b, loc, c4, as4(bn.getBeta()),
                            mulTosa(b, loc, c4, as4(load(b, loc, rm)), alpha));
    return tosa::AddOp::create(
        b, loc, xType, mulTosa(b, loc, xType, bn.getInput(), alpha), shift);
  }

  static Value mulTosa(OpBuilder &b, Location loc, RankedTensorType t, Value x,
                       Value y) {
    auto type = RankedTensorType::get({1}, b.getI8Type());
    Value shift = tosa::ConstOp::create(
        b, loc, type, DenseElementsAttr::get(type, b.getI8IntegerAttr(0)));
    return tosa::MulOp::create(b, loc, t, x, y, shift);
  }

  /// Training forward with batch norm on batch statistics: while
  /// `@<entry>_bn_frozen` is set (PyTorch's freeze_bn_stats), each batch
  /// norm normalizes with the running statistics and they are not
  /// updated. Both paths are computed and blended by the flag f (0 or 1):
  /// out = batch * (1 - f) + running * f, exact for finite values, and
  /// differentiable through the TOSA adjoints (the path not taken gets a
  /// zero gradient); a running statistic's store keeps the old value when
  /// f is 1.
  void gateBatchNorm(func::FuncOp func) {
    if (!bnFrozenFlag)
      return;
    SmallVector<BatchNormTrainOp> bns;
    SmallVector<GlobalStoreOp> stores;
    func.walk([&](Operation *op) {
      if (auto bn = dyn_cast<BatchNormTrainOp>(op)) {
        if (op->hasAttr(kBatchStatAttrName))
          bns.push_back(bn);
      } else if (auto st = dyn_cast<GlobalStoreOp>(op)) {
        auto g = symbols->lookup<GlobalOp>(st.getGlobal().getLeafReference());
        if (g && g->hasAttr(kRunningStatAttrName))
          stores.push_back(st);
      }
    });
    if (bns.empty())
      return;
    OpBuilder b(func.getBody());
    b.setInsertionPointToStart(&func.getBody().front());
    Location loc = func.getLoc();
    auto f1 = RankedTensorType::get({1, 1, 1, 1}, b.getF32Type());
    Value flag = tosa::ReshapeOp::create(
        b, loc, RankedTensorType::get({1, 1, 1, 1}, b.getI8Type()),
        load(b, loc, bnFrozenFlag), createConstShape(b, loc, {1, 1, 1, 1}));
    Value f = tosa::CastOp::create(b, loc, f1, flag);
    Value notF = tosa::SubOp::create(b, loc, f1,
                                     f32Const(b, loc, {1, 1, 1, 1}, 1.0f), f);
    for (BatchNormTrainOp bn : bns) {
      b.setInsertionPointAfter(bn);
      Value running = runningBatchNorm(b, bn);
      if (!running)
        continue;
      auto t = cast<RankedTensorType>(bn.getOutput().getType());
      Value keep = mulTosa(b, loc, t, bn.getOutput(), notF);
      Value out =
          tosa::AddOp::create(b, loc, t, keep, mulTosa(b, loc, t, running, f));
      bn.getOutput().replaceAllUsesExcept(out, keep.getDefiningOp());
    }
    for (GlobalStoreOp st : stores) {
      b.setInsertionPoint(st);
      auto g = symbols->lookup<GlobalOp>(st.getGlobal().getLeafReference());
      auto t = cast<RankedTensorType>(st.getValue().getType());
      auto r1 = RankedTensorType::get({1}, b.getF32Type());
      Value f1d =
          tosa::ReshapeOp::create(b, loc, r1, f, createConstShape(b, loc, {1}));
      Value n1d = tosa::ReshapeOp::create(b, loc, r1, notF,
                                          createConstShape(b, loc, {1}));
      Value v =
          tosa::AddOp::create(b, loc, t, mulTosa(b, loc, t, st.getValue(), n1d),
                              mulTosa(b, loc, t, load(b, loc, g), f1d));
      st.getValueMutable().assign(v);
    }
  }

  /// Each stateful observer of `func` gives its stored range; the stores
  /// of activation ranges go away.
  void freezeObservers(func::FuncOp func) {
    OpBuilder b(func.getBody());
    for (auto [obs, oldMin, oldMax] : statefulObservers(func, b)) {
      for (Operation *user :
           llvm::make_early_inc_range(obs->getResult(0).getUsers()))
        if (isa<GlobalStoreOp>(user))
          user->erase();
      for (Operation *user :
           llvm::make_early_inc_range(obs->getResult(1).getUsers()))
        if (isa<GlobalStoreOp>(user))
          user->erase();
      obs.getNewMin().replaceAllUsesWith(oldMin);
      obs.getNewMax().replaceAllUsesWith(oldMax);
    }
  }

  /// A clone of the forward named `name` whose parameters are arguments
  /// after the inputs (in the order of the parameter globals) instead of
  /// loads, with `extra` arguments after them.
  func::FuncOp cloneWithParameterArguments(StringRef name, TypeRange extra) {
    SmallVector<Type> types;
    for (GlobalOp p : params)
      types.push_back(p.getType());
    llvm::append_range(types, extra);
    func::FuncOp func = cloneForward(name, types);
    unsigned first = forward.getNumArguments();
    for (auto [i, loads] : llvm::enumerate(parameterLoads(func)))
      for (Value v : loads) {
        v.replaceAllUsesWith(func.getArgument(first + i));
        v.getDefiningOp()->erase();
      }
    return func;
  }

  /// For frameworks that keep the parameters and the optimizer
  /// (qat_mlir.prepare_qat, a torch.autograd.Function):
  /// - `@<entry>_forward(inputs..., params...) -> outputs`: the training
  ///   forward (observers updating unless frozen, ranges stored);
  /// - `@<entry>_backward(inputs..., params..., d_output) -> (d_params...)`:
  ///   the forward again with every observer at its stored range (the
  ///   ranges `_forward` just stored: the same quantization), then the
  ///   reverse-mode gradient of the first output seeded with `d_output`
  ///   (batch norm on the same batch statistics, running ones not stored);
  /// - `@<entry>_forward_eval(inputs..., params...) -> outputs`: the
  ///   forward with frozen observers.
  LogicalResult buildParameterArgumentFunctions() {
    func::FuncOp fwd = cloneWithParameterArguments(entry + "_forward", {});
    gateObservers(fwd, fwd.getBody().front().getTerminator());
    gateBatchNorm(fwd);
    eraseDeadOps(fwd);

    func::FuncOp eval =
        cloneWithParameterArguments(entry + "_forward_eval", {});
    freezeObservers(eval);
    freezeBatchNorm(eval, /*running=*/true);
    eraseDeadOps(eval);

    func::FuncOp bwd = cloneWithParameterArguments(
        entry + "_backward", {forward.getResultTypes()[0]});
    freezeObservers(bwd);
    // The same batch statistics as the forward (or, frozen, the same
    // running ones), not stored again.
    gateBatchNorm(bwd);
    freezeBatchNorm(bwd, /*running=*/false);
    auto ret = cast<func::ReturnOp>(bwd.getBody().front().getTerminator());
    OpBuilder b(ret);
    unsigned first = forward.getNumArguments();
    SmallVector<Value> wrt;
    for (unsigned i = 0; i < params.size(); ++i)
      wrt.push_back(bwd.getArgument(first + i));
    Value dy = bwd.getArguments().back();
    FailureOr<SmallVector<Value>> grads =
        buildReverseMode(b, {{ret.getOperand(0), dy}}, wrt);
    if (failed(grads))
      return failure();
    func::ReturnOp::create(b, ret.getLoc(), *grads);
    ret.erase();
    bwd.setType(FunctionType::get(&getContext(), bwd.getArgumentTypes(),
                                  ValueRange(*grads).getTypes()));
    eraseDeadOps(bwd);
    return success();
  }

  void buildSwitch(StringRef suffix, bool value, GlobalOp flag) {
    OpBuilder b(module.getContext());
    auto func =
        func::FuncOp::create(b, forward.getLoc(), (entry + suffix.str()),
                             FunctionType::get(&getContext(), {}, {}));
    symbols->insert(func);
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);
    auto type = RankedTensorType::get({}, b.getI8Type());
    Value v = arith::ConstantOp::create(
        b, func.getLoc(),
        DenseElementsAttr::get(type, b.getI8IntegerAttr(value ? 1 : 0)));
    store(b, func.getLoc(), flag, v);
    func::ReturnOp::create(b, func.getLoc());
  }

  /// `@<entry>_get_parameters() -> (params...)` and
  /// `@<entry>_set_parameters(params...)`, in the order of the globals.
  void buildParameterAccess() {
    OpBuilder b(module.getContext());
    SmallVector<Type> types;
    for (GlobalOp p : params)
      types.push_back(p.getType());
    auto get =
        func::FuncOp::create(b, forward.getLoc(), entry + "_get_parameters",
                             FunctionType::get(&getContext(), {}, types));
    symbols->insert(get);
    b.setInsertionPointToStart(get.addEntryBlock());
    SmallVector<Value> values;
    for (GlobalOp p : params)
      values.push_back(load(b, get.getLoc(), p));
    func::ReturnOp::create(b, get.getLoc(), values);

    b.clearInsertionPoint();
    auto set =
        func::FuncOp::create(b, forward.getLoc(), entry + "_set_parameters",
                             FunctionType::get(&getContext(), types, {}));
    symbols->insert(set);
    Block *body = set.addEntryBlock();
    b.setInsertionPointToStart(body);
    for (auto [p, arg] : llvm::zip(params, body->getArguments()))
      store(b, set.getLoc(), p, arg);
    func::ReturnOp::create(b, set.getLoc());
  }

  /// `@<entry>_get_state() -> (globals...)` and
  /// `@<entry>_set_state(globals...)` over every mutable global of the module,
  /// in module order: parameters, optimizer state, observer ranges, the step
  /// counter and the observer flag (a checkpoint).
  void buildStateAccess() {
    SmallVector<GlobalOp> globals;
    for (GlobalOp g : module.getOps<GlobalOp>())
      if (g.getIsMutable() && isa<RankedTensorType>(g.getType()))
        globals.push_back(g);
    SmallVector<Type> types;
    for (GlobalOp g : globals)
      types.push_back(g.getType());
    OpBuilder b(module.getContext());
    auto get =
        func::FuncOp::create(b, forward.getLoc(), entry + "_get_state",
                             FunctionType::get(&getContext(), {}, types));
    symbols->insert(get);
    b.setInsertionPointToStart(get.addEntryBlock());
    SmallVector<Value> values;
    for (GlobalOp g : globals)
      values.push_back(load(b, get.getLoc(), g));
    func::ReturnOp::create(b, get.getLoc(), values);
    b.clearInsertionPoint();
    auto set =
        func::FuncOp::create(b, forward.getLoc(), entry + "_set_state",
                             FunctionType::get(&getContext(), types, {}));
    symbols->insert(set);
    Block *body = set.addEntryBlock();
    b.setInsertionPointToStart(body);
    for (auto [g, arg] : llvm::zip(globals, body->getArguments()))
      store(b, set.getLoc(), g, arg);
    func::ReturnOp::create(b, set.getLoc());
  }

  GlobalOp stateGlobal(GlobalOp param, StringRef suffix) {
    std::string name = (param.getSymName() + suffix).str();
    if (auto existing = symbols->lookup<GlobalOp>(name))
      return existing;
    return zerosLike(param, suffix);
  }

  Type labelType() {
    auto out = cast<RankedTensorType>(forward.getResultTypes()[0]);
    if (loss == "mse")
      return out;
    return RankedTensorType::get({out.getDimSize(0)},
                                 IntegerType::get(&getContext(), 32));
  }

  void runOnOperation() override {
    module = getOperation();
    SymbolTable table(module);
    symbols = &table;
    forward = table.lookup<func::FuncOp>(entry);
    if (!forward) {
      module.emitError("qat-generate-train-step: no function @") << entry;
      return signalPassFailure();
    }
    if (!llvm::hasSingleElement(forward.getBody()) ||
        forward.getNumResults() < 1) {
      forward.emitError("qat-generate-train-step: @")
          << entry << " must have one block and return the model output";
      return signalPassFailure();
    }
    if (loss != "cross-entropy" && loss != "mse") {
      forward.emitError("qat-generate-train-step: unknown loss '")
          << loss << "' (cross-entropy or mse)";
      return signalPassFailure();
    }
    if (optimizer != "sgd" && optimizer != "adam") {
      forward.emitError("qat-generate-train-step: unknown optimizer '")
          << optimizer << "' (sgd or adam)";
      return signalPassFailure();
    }
    auto outType = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
    if (loss == "cross-entropy" &&
        (!outType || outType.getRank() != 2 ||
         !outType.getElementType().isF32() || !outType.hasStaticShape())) {
      forward.emitError("qat-generate-train-step: the cross-entropy loss "
                        "needs an N x C f32 output (logits), got ")
          << forward.getResultTypes()[0];
      return signalPassFailure();
    }
    // numerics=deployed (issue 18, docs/Deployed.md): the forward becomes
    // the target's integer model on live parameters before anything is
    // cloned from it.
    if (numerics == "deployed") {
      auto spec = module->getAttrOfType<StringAttr>(kTargetAttrName);
      if (!spec) {
        forward.emitError("qat-generate-train-step: numerics=deployed needs "
                          "the module's '")
            << kTargetAttrName << "' attribute (qat-prepare sets it)";
        return signalPassFailure();
      }
      auto t = TargetDescription::get(spec.getValue());
      if (!t) {
        forward.emitError("qat-generate-train-step: ")
            << llvm::toString(t.takeError());
        return signalPassFailure();
      }
      if (failed(convertToDeployedForward(forward, *t)))
        return signalPassFailure();
    } else if (numerics != "fake-quant") {
      forward.emitError("qat-generate-train-step: unknown numerics '")
          << numerics << "' (fake-quant or deployed)";
      return signalPassFailure();
    }
    for (GlobalOp g : module.getOps<GlobalOp>())
      if (g->hasAttr(kParameterAttrName))
        params.push_back(g);
    if (params.empty()) {
      forward.emitError("qat-generate-train-step: no parameters (globals "
                        "marked qat.parameter); run qat-make-trainable first");
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    // i8 (1: observers update), so that checkpoints hold it as any tensor.
    auto i8 = RankedTensorType::get({}, b.getI8Type());
    observeFlag =
        createGlobal((entry + "_observe"),
                     DenseElementsAttr::get(i8, b.getI8IntegerAttr(1)), i8);
    auto i64 = RankedTensorType::get({}, b.getI64Type());
    stepCounter =
        createGlobal((entry + "_step"),
                     DenseElementsAttr::get(i64, b.getI64IntegerAttr(0)), i64);
    // Batch norm on batch statistics: i8 (1: freeze_bn_stats).
    bool hasBatchStats = false;
    forward.walk([&](BatchNormTrainOp bn) {
      hasBatchStats |= bn->hasAttr(kBatchStatAttrName);
    });
    if (hasBatchStats)
      bnFrozenFlag =
          createGlobal((entry + "_bn_frozen"),
                       DenseElementsAttr::get(i8, b.getI8IntegerAttr(0)), i8);

    if (failed(buildTrainStep()) || failed(buildGradients()))
      return signalPassFailure();
    buildEval();
    if (failed(buildParameterArgumentFunctions()))
      return signalPassFailure();
    buildSwitch("_disable_observers", false, observeFlag);
    buildSwitch("_enable_observers", true, observeFlag);
    if (bnFrozenFlag) {
      buildSwitch("_freeze_bn_stats", true, bnFrozenFlag);
      buildSwitch("_update_bn_stats", false, bnFrozenFlag);
    }
    buildParameterAccess();
    buildStateAccess();
  }
};

} // namespace
