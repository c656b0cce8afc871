//===- Training.h - a compiled training step, called in-process -*- C++ -*-===//
//
// The self-contained training path of docs/Training.md: a model is
// prepared for a target, made trainable and given its training functions
// (qat-make-trainable, qat-generate-train-step), compiled once with the
// in-process runtime (Executable) and stepped many times; parameters,
// optimizer state and observer ranges stay in the compiled module's
// globals. qat-train is a driver over it.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_TRAINING_H
#define QAT_RUNTIME_TRAINING_H

#include "qat/Runtime/Executable.h"
#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>

namespace mlir::qat::runtime {

struct TrainingOptions {
  /// Target of qat-prepare (ignored with `prepared`).
  std::string target = "x86";
  /// The model is already prepared (and calibrated): no qat-prepare.
  bool prepared = false;
  /// The forward function.
  std::string entry = "main";
  /// Batch norm: "fold" (folded before training) or "train" (PyTorch's
  /// ConvBn2d: qat-prepare{record-bn}, qat-make-trainable{bn-mode=train}).
  std::string bnMode = "fold";
  /// Options of qat-generate-train-step, as its option string ("loss=...
  /// optimizer=sgd momentum=0.9 ...").
  std::string trainStepOptions;
  /// "fake-quant" (fake quantizers and observers) or "deployed" (the
  /// target's integer arithmetic, docs/Deployed.md): the quantization
  /// parameters of a prepared, calibrated model are frozen
  /// (qat-freeze-qparams) and the step trains on what the int8 model
  /// computes; needs `prepared` and bnMode "fold".
  std::string numerics = "fake-quant";
  /// Compilation of the step.
  unsigned optLevel = 3;
  LoweringOptions lowering;
};

class TrainingSession {
public:
  /// Builds the trainable module of `model` (which is not changed) and
  /// compiles its training functions once. The entry must take one input
  /// and return N x C logits (cross-entropy) or any tensor (mse); errors
  /// name the pass, op or argument at fault.
  static llvm::Expected<std::unique_ptr<TrainingSession>>
  create(ModuleOp model, const TrainingOptions &options);
  ~TrainingSession();

  /// The input (batch included) and output types of the entry.
  const TensorSpec &getInputSpec() const { return inputSpec; }
  const TensorSpec &getOutputSpec() const { return outputSpec; }
  const TensorSpec &getLabelSpec() const { return labelSpec; }
  /// Whether labels are class indices (cross-entropy) or targets (mse).
  bool hasClassLabels() const { return labelSpec.kind == ElementKind::I32; }

  /// One step on a batch (`input`, `labels`: buffers of the specs above):
  /// loss, and the rows whose largest logit is the label (cross-entropy;
  /// -1 for mse).
  llvm::Expected<std::pair<float, int64_t>> step(const void *input,
                                                 const void *labels, double lr);
  /// The forward with frozen observers (the eval entry) into `output`.
  llvm::Error evaluate(const void *input, void *output);
  /// PyTorch's disable_observer / enable_observer, from the next step on.
  llvm::Error setObservers(bool enabled);
  /// PyTorch's freeze_bn_stats (true) / update_bn_stats (false), from the
  /// next step on (bn-mode=train): batch norm normalizes with the running
  /// statistics and keeps them. An error without batch statistics.
  llvm::Error setBatchNormStatsFrozen(bool frozen);

  /// Every mutable global by name (parameters, optimizer state, observer
  /// ranges, step counter, observer flag): a checkpoint.
  llvm::ArrayRef<std::string> getStateNames() const { return stateNames; }
  llvm::Expected<llvm::SmallVector<NpyArray>> getState();
  llvm::Error setState(llvm::ArrayRef<NpyArray> state);

  /// The trainable module (as generated; globals at their initial values).
  ModuleOp getTrainableModule() { return *trainable; }
  /// The trained model: the trainable module with the current state as its
  /// globals' values, through qat-finish-training (ready for
  /// qat-freeze-qparams and qat-convert-to-integer). `finish = false`
  /// keeps the training functions (a module to resume from). In deployed
  /// numerics (finish): the frozen model (before qat-generate-train-step
  /// rewrote its forward) with the trained parameters, whose int8 model
  /// computes what the eval entry computes, bit for bit.
  llvm::Expected<OwningOpRef<ModuleOp>> getTrainedModule(bool finish = true);

private:
  TrainingSession() = default;
  llvm::Error call(llvm::StringRef suffix, llvm::ArrayRef<BufferRef> args,
                   llvm::ArrayRef<BufferRef> results);
  std::string entry;
  OwningOpRef<ModuleOp> trainable;
  /// Deployed numerics: the frozen trainable module before
  /// qat-generate-train-step.
  OwningOpRef<ModuleOp> frozen;
  std::unique_ptr<Executable> executable;
  TensorSpec inputSpec, outputSpec, labelSpec;
  llvm::SmallVector<std::string> stateNames;
  llvm::SmallVector<TensorSpec> stateSpecs;
};

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_TRAINING_H
