//===- FreezeQParams.cpp - observer state to constant parameters ----------===//
//
// qat-freeze-qparams: loads of observer state become constants, observers of
// non-constant inputs are bypassed, and the remaining qat/arith ops on
// constants fold with the numerics of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

namespace mlir::qat {
#define GEN_PASS_DEF_FREEZEQPARAMSPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

/// Whether a state entry (min, max) was never updated: (+inf, -inf).
static bool isEmptyRange(DenseFPElementsAttr min, DenseFPElementsAttr max) {
  auto isEmpty = [](const APFloat &lo, const APFloat &hi) {
    return lo.isInfinity() && !lo.isNegative() && hi.isInfinity() &&
           hi.isNegative();
  };
  // Two splats: one entry to look at, whatever the state's shape.
  if (min.isSplat() && max.isSplat())
    return min.getNumElements() > 0 &&
           isEmpty(min.getSplatValue<APFloat>(), max.getSplatValue<APFloat>());
  for (auto [lo, hi] :
       llvm::zip(min.getValues<APFloat>(), max.getValues<APFloat>()))
    if (isEmpty(lo, hi))
      return true;
  return false;
}

/// The fake_quant ops whose parameters come from `observer` (directly or
/// through a range combination and choose_qparams).
static SmallVector<Operation *> findFakeQuants(ObserverOp observer) {
  SmallVector<Operation *> out;
  SmallVector<Value> work(observer->getResults());
  llvm::SmallPtrSet<Operation *, 8> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (!seen.insert(user).second)
        continue;
      if (isa<FakeQuantOp>(user))
        out.push_back(user);
      else if (isa<ChooseQParamsOp, arith::MinimumFOp, arith::MaximumFOp>(user))
        llvm::append_range(work, user->getResults());
    }
  }
  return out;
}

namespace {
struct FreezeQParamsPass : qat::impl::FreezeQParamsPassBase<FreezeQParamsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);

    // 1. Loads of state globals (their loads feed observers) -> constants.
    llvm::SmallPtrSet<Operation *, 16> stateGlobals;
    module.walk([&](ml_program::GlobalLoadOp load) {
      if (load->use_empty() ||
          !llvm::all_of(load->getUsers(),
                        [](Operation *u) { return isa<ObserverOp>(u); }))
        return;
      auto global = symbols.lookup<ml_program::GlobalOp>(
          load.getGlobal().getLeafReference());
      auto value =
          global ? dyn_cast_if_present<DenseElementsAttr>(global.getValueAttr())
                 : DenseElementsAttr();
      if (!value || value.getType() != load.getType())
        return;
      stateGlobals.insert(global);
      OpBuilder b(load);
      auto cst = arith::ConstantOp::create(b, load.getLoc(), value);
      load.getResult().replaceAllUsesWith(cst);
      load.erase();
    });
    module.walk([&](ml_program::GlobalStoreOp store) {
      auto global = symbols.lookup<ml_program::GlobalOp>(
          store.getGlobal().getLeafReference());
      if (stateGlobals.contains(global))
        store.erase();
    });
    for (Operation *global : stateGlobals)
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        global->erase();

    // 2. Observers of data are no longer run: their state is the range.
    bool hadError = false;
    module.walk([&](ObserverOp observer) {
      if (matchPattern(observer.getInput(), m_Constant()))
        return;
      DenseFPElementsAttr min, max;
      if (!matchPattern(observer.getMin(), m_Constant(&min)) ||
          !matchPattern(observer.getMax(), m_Constant(&max))) {
        observer.emitOpError("cannot be frozen: its state is not a constant "
                             "or an ml_program global");
        hadError = true;
        return;
      }
      if (isEmptyRange(min, max) && !allowUncalibrated) {
        SmallVector<Operation *> fqs = findFakeQuants(observer);
        Operation *at = fqs.empty() ? observer.getOperation() : fqs.front();
        at->emitOpError("has no calibrated range: its observer's state is "
                        "still +inf/-inf, it saw no data or only NaN "
                        "(observers ignore NaN); run qat-calibrate on finite "
                        "data first or freeze with allow-uncalibrated");
        hadError = true;
        return;
      }
      observer.getNewMin().replaceAllUsesWith(observer.getMin());
      observer.getNewMax().replaceAllUsesWith(observer.getMax());
    });
    if (hadError)
      return signalPassFailure();
    module.walk([&](ObserverOp observer) {
      if (observer->use_empty())
        observer.erase();
    });

    // 3. Fold observers of constants (weights), range combinations and
    // choose_qparams into constants, in program order. fake_quant itself is
    // kept (also on constant weights): conversion needs its parameters.
    SmallVector<Operation *> toFold;
    module.walk([&](Operation *op) {
      if (isa<ObserverOp, ChooseQParamsOp, arith::MinimumFOp,
              arith::MaximumFOp>(op))
        toFold.push_back(op);
    });
    for (Operation *op : toFold) {
      SmallVector<Attribute> operands;
      for (Value v : op->getOperands()) {
        Attribute attr;
        matchPattern(v, m_Constant(&attr));
        operands.push_back(attr);
      }
      SmallVector<OpFoldResult> results;
      if (failed(op->fold(operands, results)) ||
          results.size() != op->getNumResults())
        continue;
      OpBuilder b(op);
      for (auto [result, folded] : llvm::zip(op->getResults(), results)) {
        Value replacement = dyn_cast<Value>(folded);
        if (!replacement)
          replacement = arith::ConstantOp::create(
              b, op->getLoc(), cast<TypedAttr>(cast<Attribute>(folded)));
        result.replaceAllUsesWith(replacement);
      }
    }
    for (Operation *op : llvm::reverse(toFold))
      if (op->use_empty())
        op->erase();
    module.walk([](arith::ConstantOp cst) {
      if (cst->use_empty())
        cst.erase();
    });
  }
};
} // namespace
