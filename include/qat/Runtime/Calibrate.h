//===- Calibrate.h - run a prepared model over data, keep its ranges -*- C++
//-*-===//
//
// Calibration: a module prepared by qat-insert-fake-quant keeps observer
// state in mutable ml_program globals. calibrate() JIT-compiles the entry
// together with a step function that returns the state after each call,
// runs it once per batch (observers update as in training), and writes the
// final state back as the globals' initial values. qat-freeze-qparams then
// turns it into constant scales and zero points.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_CALIBRATE_H
#define QAT_RUNTIME_CALIBRATE_H

#include "qat/Runtime/Runner.h"
#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <vector>

namespace mlir::qat::runtime {

/// One call's arguments, in argument order.
using Batch = llvm::SmallVector<NpyArray>;

/// Receives, after batch `index`, the tensors each stateful observer saw
/// (named after its min-state global without the `_min` suffix).
using ObservedCallback =
    std::function<llvm::Error(size_t index, llvm::ArrayRef<std::string> names,
                              llvm::ArrayRef<NpyArray> tensors)>;

/// Runs `entry` of `module` on each batch `getBatch(i)` for i in
/// [0, numBatches), then stores the observer state in the module. `progress`
/// is called after each batch; `observed`, if given, receives the tensors
/// the observers saw (for checking against other implementations);
/// `compileProgress`, if given, hears of each step of the JIT compilation
/// that comes first. Returns the number of state globals updated.
llvm::Expected<unsigned>
calibrate(ModuleOp module, llvm::StringRef entry, size_t numBatches,
          const std::function<llvm::Expected<Batch>(size_t)> &getBatch,
          const std::function<void(size_t)> &progress = nullptr,
          const ObservedCallback &observed = nullptr,
          const ProgressCallback &compileProgress = nullptr);

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_CALIBRATE_H
