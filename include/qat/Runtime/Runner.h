//===- Runner.h - JIT-compile and call one function -------------*- C++ -*-===//
//
// The engine of qat-run: lowers a module with the qat-to-llvm pipeline
// (results turned into out-parameters), JIT-compiles it (an Executable,
// Executable.h) and calls one function on NumPy arrays. Arguments and
// results are ranked tensors of f32, f64, i8/si8, ui8, i16, i32 or i64;
// results must have static shapes.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_RUNNER_H
#define QAT_RUNTIME_RUNNER_H

#include "qat/Lowering/Lowering.h"
#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>

namespace mlir {
namespace qat::runtime {
class Executable;

/// Called with a progress message ("lowering", "JIT-compiling ...") as each
/// step of a compilation starts, and the seconds since its start.
using ProgressCallback = std::function<void(llvm::StringRef, double)>;

class Runner {
public:
  /// Checks the signature of `entry`, drops the functions `entry` does not
  /// reach, lowers `module` in place and JIT-compiles it. Diagnostics of the
  /// lowering go to the context's handler; the returned error summarises them.
  /// `optLevel` (0-3) is LLVM's optimisation and code generation level.
  /// `options`: the qat-to-llvm options (with threads != 1 the JIT loads
  /// libomp). `progress`, if given, hears of each compilation step.
  static llvm::Expected<std::unique_ptr<Runner>>
  create(ModuleOp module, llvm::StringRef entry, unsigned optLevel = 3,
         const LoweringOptions &options = {},
         const ProgressCallback &progress = nullptr);
  ~Runner();

  llvm::ArrayRef<RankedTensorType> getArgumentTypes() const { return argTypes; }
  llvm::ArrayRef<RankedTensorType> getResultTypes() const {
    return resultTypes;
  }

  /// Calls the function `repeat` times (at least once) on `inputs` (in
  /// argument order), fills `outputs` (in result order) from the last call
  /// and, if `secondsPerCall` is given, the mean wall time of one call.
  llvm::Error run(llvm::ArrayRef<NpyArray> inputs,
                  llvm::SmallVectorImpl<NpyArray> &outputs, int64_t repeat = 1,
                  double *secondsPerCall = nullptr);

  /// `--split`: `inputs` hold several batches of the arguments along
  /// dimension 0 (qat/Support/Batches.h); calls the function `repeat` times
  /// per batch and concatenates the results along dimension 0. `batches`
  /// receives their number, `secondsPerBatch` the mean time of a call
  /// summed over the batches.
  llvm::Error runBatches(llvm::ArrayRef<NpyArray> inputs,
                         llvm::SmallVectorImpl<NpyArray> &outputs,
                         int64_t repeat, double *secondsPerBatch,
                         int64_t *batches);

private:
  Runner() = default;
  std::string entry;
  llvm::SmallVector<RankedTensorType> argTypes, resultTypes;
  std::unique_ptr<Executable> executable;
};

} // namespace qat::runtime
} // namespace mlir

#endif // QAT_RUNTIME_RUNNER_H
