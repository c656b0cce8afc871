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

#include "qat/Pipelines/Pipelines.h"
#include "qat/Runtime/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace mlir {
namespace qat::runtime {
class Executable;

/// The tensor types of an entry's arguments and results.
struct EntrySignature {
  llvm::SmallVector<RankedTensorType> argTypes, resultTypes;
  /// The code calls the OpenMP runtime (libomp): built with threads != 1.
  bool usesOpenMP = false;
};

/// The qat-to-llvm options that the runtime passes on.
struct LoweringOptions {
  /// int8 kernels: none, vnni, portable or auto (the host's).
  std::string kernels = "auto";
  /// Threads of the int8 kernels: 1, N, or 0 for the OpenMP runtime's
  /// choice.
  unsigned threads = 1;
  /// Temporary buffers (qat-plan-memory): static, call or none.
  std::string arena = "static";
  /// With threads != 1, kernels with fewer multiply-accumulates stay serial.
  int64_t parallelMinMacs = kDefaultParallelMinMacs;
};

/// Checks the signature of each entry (ranked tensors of supported element
/// types, static result shapes), drops the functions no entry reaches, sets
/// `llvm.emit_c_interface` on the entries, marks their arguments read-only
/// (`bufferization.writable = false`: the code never writes into an input
/// buffer) and lowers `module` in place with qat-to-llvm (results become
/// out-parameters); each entry itself gets internal linkage, so
/// `_mlir_ciface_<entry>` is its one external symbol. Returns the
/// signatures in the order of `entries`. Shared by the JIT and ahead-of-time
/// compilation.
llvm::Expected<llvm::SmallVector<EntrySignature>>
lowerEntriesToLLVM(ModuleOp module, llvm::ArrayRef<std::string> entries,
                   const LoweringOptions &options = {});

/// lowerEntriesToLLVM for one entry.
llvm::Expected<EntrySignature>
lowerEntryToLLVM(ModuleOp module, llvm::StringRef entry,
                 const LoweringOptions &options = {});

/// Checks that this host can run code compiled with `kernels` (vnni needs
/// AVX-512 VNNI); the error names what is missing.
llvm::Error checkKernelsOnHost(llvm::StringRef kernels);

class Runner {
public:
  /// Checks the signature of `entry`, drops the functions `entry` does not
  /// reach, lowers `module` in place and JIT-compiles it. Diagnostics of the
  /// lowering go to the context's handler; the returned error summarises them.
  /// `optLevel` (0-3) is LLVM's optimisation and code generation level.
  /// `options`: the qat-to-llvm options (with threads != 1 the JIT loads
  /// libomp).
  static llvm::Expected<std::unique_ptr<Runner>>
  create(ModuleOp module, llvm::StringRef entry, unsigned optLevel = 3,
         const LoweringOptions &options = {});
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

private:
  Runner() = default;
  std::string entry;
  llvm::SmallVector<RankedTensorType> argTypes, resultTypes;
  std::unique_ptr<Executable> executable;
};

/// The element kind of a tensor element type, if qat-run supports it.
std::optional<ElementKind> getElementKind(Type type);

} // namespace qat::runtime
} // namespace mlir

#endif // QAT_RUNTIME_RUNNER_H
