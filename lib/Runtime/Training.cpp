//===- Training.cpp - a compiled training step, called in-process ---------===//

#include "qat/Runtime/Training.h"
#include "qat/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;

namespace {

/// The functions of the step that the session calls.
constexpr llvm::StringLiteral kFunctions[] = {
    "_train_step", "_eval", "_get_state", "_set_state",
    "_disable_observers", "_enable_observers"};

llvm::Error runPipeline(ModuleOp module, const std::string &pipeline) {
  // `pipeline` lists module passes ("a,b{...}"), without an anchor: the
  // pass manager is the module's (an anchored "builtin.module(...)" would
  // nest a second one that finds no module inside).
  PassManager pm(module->getContext(), ModuleOp::getOperationName());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (failed(parsePassPipeline(pipeline, pm, os)))
    return makeError("bad pipeline '" + pipeline + "': " + errors);
  if (failed(pm.run(module)))
    return makeError("the pipeline '" + pipeline +
                     "' failed (see the diagnostics above)");
  return llvm::Error::success();
}

TensorSpec specOf(Type type) {
  auto t = cast<RankedTensorType>(type);
  TensorSpec spec;
  spec.kind = *getElementKind(t.getElementType());
  spec.shape.assign(t.getShape().begin(), t.getShape().end());
  return spec;
}

int64_t byteSize(const TensorSpec &spec) {
  return spec.getNumElements() * getElementSize(spec.kind);
}

} // namespace

TrainingSession::~TrainingSession() = default;

llvm::Expected<std::unique_ptr<TrainingSession>>
TrainingSession::create(ModuleOp model, const TrainingOptions &options) {
  std::unique_ptr<TrainingSession> session(new TrainingSession());
  session->entry = options.entry;
  session->trainable = OwningOpRef<ModuleOp>(model.clone());
  ModuleOp module = *session->trainable;

  auto forward = module.lookupSymbol<func::FuncOp>(options.entry);
  if (!forward)
    return makeError("the model has no function @" + options.entry);
  if (forward.getNumArguments() != 1 || forward.getNumResults() != 1)
    return makeError("@" + options.entry +
                     " must take one input and return one output, it takes " +
                     std::to_string(forward.getNumArguments()) +
                     " and returns " + std::to_string(forward.getNumResults()));
  for (Type t : {forward.getArgumentTypes()[0], forward.getResultTypes()[0]}) {
    auto rt = dyn_cast<RankedTensorType>(t);
    if (!rt || !rt.hasStaticShape() || !getElementKind(rt.getElementType()))
      return makeError("@" + options.entry +
                       ": input and output must be statically shaped "
                       "tensors, got " +
                       llvm::formatv("{0}", t).str());
  }

  std::string pipeline;
  bool deployed = options.numerics == "deployed";
  if (!deployed && options.numerics != "fake-quant")
    return makeError("numerics '" + options.numerics +
                     "': fake-quant or deployed");
  if (deployed && (!options.prepared || options.bnMode != "fold"))
    return makeError(
        "numerics deployed trains on the integer model of frozen "
        "quantization parameters: it needs a prepared and calibrated model "
        "(prepared) with batch norm folded (bn mode fold), see "
        "docs/Deployed.md");
  if (!options.prepared)
    pipeline += "qat-prepare{target=" + options.target +
                (options.bnMode == "train" ? " record-bn=true" : "") + "},";
  if (deployed)
    pipeline += "qat-freeze-qparams,";
  pipeline += "qat-make-trainable{entry=" + options.entry +
              " bn-mode=" + options.bnMode + "}";
  if (auto err = runPipeline(module, pipeline))
    return std::move(err);
  if (deployed)
    session->frozen = OwningOpRef<ModuleOp>(module.clone());
  std::string stepPipeline = "qat-generate-train-step{entry=" + options.entry +
                             " " + options.trainStepOptions +
                             " numerics=" + options.numerics + "}";
  if (auto err = runPipeline(module, stepPipeline))
    return std::move(err);
  pipeline += "," + stepPipeline;

  forward = module.lookupSymbol<func::FuncOp>(options.entry);
  session->inputSpec = specOf(forward.getArgumentTypes()[0]);
  session->outputSpec = specOf(forward.getResultTypes()[0]);
  auto step =
      module.lookupSymbol<func::FuncOp>(options.entry + "_train_step");
  if (!forward || !step)
    return makeError("the pipeline '" + pipeline + "' wrote no @" +
                     options.entry + "_train_step");
  session->labelSpec = specOf(step.getArgumentTypes()[1]);
  for (auto g : module.getOps<ml_program::GlobalOp>())
    if (g.getIsMutable()) {
      session->stateNames.push_back(g.getSymName().str());
      session->stateSpecs.push_back(specOf(g.getType()));
    }

  std::vector<std::string> entries;
  for (llvm::StringRef f : kFunctions)
    entries.push_back(options.entry + f.str());
  // Batch norm on batch statistics: PyTorch's freeze_bn_stats switches.
  for (llvm::StringRef f : {"_freeze_bn_stats", "_update_bn_stats"})
    if (module.lookupSymbol(options.entry + f.str()))
      entries.push_back(options.entry + f.str());
  OwningOpRef<ModuleOp> lowered(module.clone());
  auto exe = Executable::create(*lowered, entries, options.optLevel,
                                options.lowering);
  if (!exe)
    return exe.takeError();
  session->executable = std::move(*exe);
  return std::move(session);
}

llvm::Error TrainingSession::call(llvm::StringRef suffix,
                                  llvm::ArrayRef<BufferRef> args,
                                  llvm::ArrayRef<BufferRef> results) {
  auto index = executable->lookup(entry + suffix.str());
  if (!index)
    return makeError("@" + entry + suffix.str() + " is not compiled");
  return executable->call(*index, args, results);
}

static BufferRef bufferOf(const TensorSpec &spec, const void *data) {
  BufferRef b;
  b.data = const_cast<void *>(data);
  b.kind = spec.kind;
  b.sizes = spec.shape;
  return b;
}

llvm::Expected<std::pair<float, int64_t>>
TrainingSession::step(const void *input, const void *labels, double lr) {
  if (hasClassLabels()) {
    // A class index outside the logits would be read out of bounds.
    int64_t classes = outputSpec.shape.back();
    auto *l = static_cast<const int32_t *>(labels);
    for (int64_t i = 0, e = labelSpec.getNumElements(); i < e; ++i)
      if (l[i] < 0 || l[i] >= classes)
        return makeError("label " + std::to_string(l[i]) + " at index " +
                         std::to_string(i) +
                         " is out of range: the model has " +
                         std::to_string(classes) + " classes");
  }
  float loss = 0;
  int32_t correct = -1;
  TensorSpec lrSpec{ElementKind::F64, {}};
  TensorSpec lossSpec{ElementKind::F32, {}};
  TensorSpec correctSpec{ElementKind::I32, {1}};
  llvm::SmallVector<BufferRef> results{bufferOf(lossSpec, &loss)};
  if (hasClassLabels())
    results.push_back(bufferOf(correctSpec, &correct));
  if (auto err = call("_train_step",
                      {bufferOf(inputSpec, input), bufferOf(labelSpec, labels),
                       bufferOf(lrSpec, &lr)},
                      results))
    return std::move(err);
  return std::make_pair(loss, static_cast<int64_t>(correct));
}

llvm::Error TrainingSession::evaluate(const void *input, void *output) {
  return call("_eval", {bufferOf(inputSpec, input)},
              {bufferOf(outputSpec, output)});
}

llvm::Error TrainingSession::setObservers(bool enabled) {
  return call(enabled ? "_enable_observers" : "_disable_observers", {}, {});
}

llvm::Error TrainingSession::setBatchNormStatsFrozen(bool frozen) {
  if (!executable->lookup(entry + "_freeze_bn_stats"))
    return makeError("freeze_bn_stats: @" + entry +
                     " has no batch norm on batch statistics (bn-mode=train)");
  return call(frozen ? "_freeze_bn_stats" : "_update_bn_stats", {}, {});
}

llvm::Expected<llvm::SmallVector<NpyArray>> TrainingSession::getState() {
  llvm::SmallVector<NpyArray> state(stateSpecs.size());
  llvm::SmallVector<BufferRef> results;
  for (auto [array, spec] : llvm::zip(state, stateSpecs)) {
    array.kind = spec.kind;
    array.shape.assign(spec.shape.begin(), spec.shape.end());
    array.bytes.resize(byteSize(spec));
  }
  for (auto [array, spec] : llvm::zip(state, stateSpecs))
    results.push_back(bufferOf(spec, array.bytes.data()));
  if (auto err = call("_get_state", {}, results))
    return std::move(err);
  return std::move(state);
}

llvm::Error TrainingSession::setState(llvm::ArrayRef<NpyArray> state) {
  if (state.size() != stateSpecs.size())
    return makeError("the checkpoint holds " + std::to_string(state.size()) +
                     " tensors, the model " +
                     std::to_string(stateSpecs.size()));
  llvm::SmallVector<BufferRef> args;
  for (auto [array, spec, name] : llvm::zip(state, stateSpecs, stateNames)) {
    if (array.kind != spec.kind ||
        llvm::ArrayRef<int64_t>(array.shape) != llvm::ArrayRef(spec.shape))
      return makeError("checkpoint tensor '" + name + "' is " +
                       getElementKindName(array.kind).str() + " " +
                       array.getShapeString() + ", the model's is " +
                       spec.str());
    args.push_back(bufferOf(spec, array.bytes.data()));
  }
  return call("_set_state", args, {});
}

llvm::Expected<OwningOpRef<ModuleOp>>
TrainingSession::getTrainedModule(bool finish) {
  auto state = getState();
  if (!state)
    return state.takeError();
  // Deployed numerics: the frozen model takes the trained parameters (its
  // globals are the parameters; the optimizer state is left out).
  bool deployed = finish && frozen;
  OwningOpRef<ModuleOp> module(deployed ? frozen->clone() : trainable->clone());
  for (auto [name, array] : llvm::zip(stateNames, *state)) {
    auto g = module->lookupSymbol<ml_program::GlobalOp>(name);
    if (!g && deployed)
      continue;
    auto type = cast<RankedTensorType>(g.getType());
    bool splat = false;
    if (!DenseElementsAttr::isValidRawBuffer(
            type,
            llvm::ArrayRef<char>(
                reinterpret_cast<const char *>(array.bytes.data()),
                array.bytes.size()),
            splat))
      return makeError("cannot write the value of @" + name);
    g.setValueAttr(DenseElementsAttr::getFromRawBuffer(
        type, llvm::ArrayRef<char>(
                  reinterpret_cast<const char *>(array.bytes.data()),
                  array.bytes.size())));
  }
  if (finish)
    if (auto err = runPipeline(*module, "qat-finish-training{entry=" +
                                            entry + "}"))
      return std::move(err);
  return std::move(module);
}
