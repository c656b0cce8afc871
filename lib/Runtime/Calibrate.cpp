//===- Calibrate.cpp - run a prepared model over data, keep its ranges ----===//

#include "qat/Runtime/Calibrate.h"
#include "qat/Runtime/Runner.h"
#include "qat/Support/Error.h"

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;


static constexpr llvm::StringLiteral kStepName = "__qat_calibration_step";

llvm::Expected<unsigned> mlir::qat::runtime::calibrate(
    ModuleOp module, StringRef entry, size_t numBatches,
    const std::function<llvm::Expected<Batch>(size_t)> &getBatch,
    const std::function<void(size_t)> &progress,
    const ObservedCallback &observed, const ProgressCallback &compileProgress) {
  auto func = module.lookupSymbol<func::FuncOp>(entry);
  if (!func || func.isExternal())
    return makeError("no function @" + entry + " in the module");
  // The state: mutable f32 tensor globals with a dense initial value.
  SmallVector<ml_program::GlobalOp> globals;
  for (auto g : module.getOps<ml_program::GlobalOp>()) {
    auto type = dyn_cast<RankedTensorType>(g.getType());
    if (g.getIsMutable() && type && type.getElementType().isF32() &&
        type.hasStaticShape() &&
        isa_and_present<DenseElementsAttr>(g.getValueAttr()))
      globals.push_back(g);
  }
  if (globals.empty())
    return makeError("the module has no observer state (mutable "
                     "ml_program.global): prepare it with "
                     "qat-insert-fake-quant first");
  if (numBatches == 0)
    return makeError("no calibration data");

  // A copy with a step function: call the entry, return the state.
  OwningOpRef<ModuleOp> copy = module.clone();
  OpBuilder b(copy->getContext());
  b.setInsertionPointToEnd(copy->getBody());
  auto entryFunc = copy->lookupSymbol<func::FuncOp>(entry);
  SmallVector<Type> stateTypes;
  for (auto g : globals)
    stateTypes.push_back(g.getType());
  // Optionally the entry also returns what each stateful observer sees.
  SmallVector<std::string> observedNames;
  unsigned numEntryResults = entryFunc.getNumResults();
  if (observed) {
    SmallVector<Value> values;
    entryFunc.walk([&](ObserverOp obs) {
      auto load = obs.getMin().getDefiningOp<ml_program::GlobalLoadOp>();
      if (!load || obs->getBlock() != &entryFunc.getBody().front())
        return;
      StringRef name = load.getGlobal().getLeafReference().getValue();
      name.consume_back("_min");
      observedNames.push_back(name.str());
      values.push_back(obs.getInput());
    });
    Operation *ret = entryFunc.getBody().front().getTerminator();
    ret->insertOperands(ret->getNumOperands(), values);
    SmallVector<Type> results(entryFunc.getResultTypes());
    for (Value v : values)
      results.push_back(v.getType());
    entryFunc.setType(b.getFunctionType(entryFunc.getArgumentTypes(), results));
    entryFunc.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
    for (Value v : values)
      stateTypes.push_back(v.getType());
  }
  auto step = func::FuncOp::create(
      b, func.getLoc(), kStepName,
      b.getFunctionType(entryFunc.getArgumentTypes(), stateTypes));
  Block *body = step.addEntryBlock();
  b.setInsertionPointToStart(body);
  auto call =
      func::CallOp::create(b, func.getLoc(), entryFunc, body->getArguments());
  SmallVector<Value> state;
  for (auto g : globals)
    state.push_back(ml_program::GlobalLoadOp::create(
        b, func.getLoc(), g.getType(),
        FlatSymbolRefAttr::get(g.getSymNameAttr())));
  for (Value v : call.getResults().drop_front(numEntryResults))
    state.push_back(v);
  func::ReturnOp::create(b, func.getLoc(), state);

  auto runner =
      Runner::create(*copy, kStepName, /*optLevel=*/3, {}, compileProgress);
  if (!runner)
    return runner.takeError();
  SmallVector<NpyArray> outputs;
  for (size_t i = 0; i < numBatches; ++i) {
    auto batch = getBatch(i);
    if (!batch)
      return batch.takeError();
    if (auto err = (*runner)->run(*batch, outputs)) {
      // The step function takes the entry's arguments: name the entry.
      std::string msg = llvm::toString(std::move(err));
      std::string step = ("@" + kStepName).str();
      for (size_t pos; (pos = msg.find(step)) != std::string::npos;)
        msg.replace(pos, step.size(), "@" + entry.str());
      return makeError("batch " + llvm::Twine(i) + ": " + msg);
    }
    if (observed)
      if (auto err =
              observed(i, observedNames,
                       ArrayRef<NpyArray>(outputs).drop_front(globals.size())))
        return std::move(err);
    if (progress)
      progress(i);
  }
  for (auto [g, out] : llvm::zip(globals, outputs)) {
    auto type = cast<RankedTensorType>(g.getType());
    SmallVector<float> values(out.getNumElements());
    std::memcpy(values.data(), out.bytes.data(), values.size() * sizeof(float));
    g.setValueAttr(DenseElementsAttr::get(type, llvm::ArrayRef(values)));
  }
  return globals.size();
}
