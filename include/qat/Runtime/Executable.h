//===- Executable.h - functions of a module, JIT-compiled once --*- C++ -*-===//
//
// The in-process runtime: lowers one or more functions of a module with the
// qat-to-llvm pipeline (results as caller-allocated out-parameters), JIT-
// compiles them once and calls them on caller-owned buffers, without copies.
// qat-run (Runner), the C API (include/qat-c/Runtime.h) and the Python
// extension are built on it.
//
// Calls are thread-safe: the code keeps no state between calls except the
// module's ml_program globals (observer state of a prepared model) and the
// static arena, which a call that finds it busy replaces by one of its own
// (docs/Conversion.md). Functions that update globals must not run
// concurrently.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_EXECUTABLE_H
#define QAT_RUNTIME_EXECUTABLE_H

#include "qat/Support/Npy.h"
#include "qat/Runtime/Runner.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <string>

namespace mlir {
class ExecutionEngine;
namespace qat::runtime {

/// A tensor type without an MLIRContext: element kind and shape (dynamic
/// sizes are ShapedType::kDynamic).
struct TensorSpec {
  ElementKind kind = ElementKind::F32;
  llvm::SmallVector<int64_t> shape;
  int64_t getNumElements() const;
  /// "tensor<1x3x64x64xf32>", as MLIR prints it.
  std::string str() const;
};

/// One compiled function: its name and signature.
struct FunctionSignature {
  std::string name;
  llvm::SmallVector<TensorSpec> arguments, results;
};

/// A caller-owned buffer: element kind, sizes and strides (in elements;
/// empty strides mean contiguous row-major).
struct BufferRef {
  void *data = nullptr;
  ElementKind kind = ElementKind::F32;
  llvm::ArrayRef<int64_t> sizes;
  llvm::ArrayRef<int64_t> strides;
};

class Executable {
public:
  /// Lowers `module` in place for `entries` (the functions they do not
  /// reach are dropped; each entry keeps its arguments read-only, so calls
  /// never write into input buffers) and JIT-compiles it. `optLevel` (0-3):
  /// LLVM's optimisation and code generation level; with threads != 1 the
  /// JIT loads libomp. Diagnostics of the lowering go to the context's
  /// handler; the returned error summarises them.
  static llvm::Expected<std::unique_ptr<Executable>>
  create(ModuleOp module, llvm::ArrayRef<std::string> entries,
         unsigned optLevel = 3, const LoweringOptions &options = {},
         const ProgressCallback &progress = nullptr);
  ~Executable();

  unsigned getNumFunctions() const { return functions.size(); }
  const FunctionSignature &getSignature(unsigned index) const {
    return functions[index].signature;
  }
  /// The index of the function `name`, if compiled.
  std::optional<unsigned> lookup(llvm::StringRef name) const;
  /// Whether the code calls the OpenMP runtime (threads != 1).
  bool usesOpenMP() const { return openMP; }

  /// Checks `arguments` (in argument order) and `results` (caller-allocated,
  /// in result order) against the signature of function `index`: element
  /// kinds, ranks, sizes (static ones must match), contiguous row-major
  /// strides, non-null data for non-empty buffers; then calls it. The error
  /// names the buffer and what differs.
  llvm::Error call(unsigned index, llvm::ArrayRef<BufferRef> arguments,
                   llvm::ArrayRef<BufferRef> results) const;

  /// The function's packed C interface: one pointer per argument, then per
  /// result, each pointing to a pointer to a memref descriptor
  /// ({allocated, aligned, offset, sizes[rank], strides[rank]}). No checks.
  void (*getPackedFunction(unsigned index) const)(void **) {
    return functions[index].packed;
  }

private:
  Executable() = default;
  struct Function {
    FunctionSignature signature;
    void (*packed)(void **) = nullptr;
  };
  llvm::SmallVector<Function> functions;
  std::unique_ptr<ExecutionEngine> engine;
  bool openMP = false;
};

} // namespace qat::runtime
} // namespace mlir

#endif // QAT_RUNTIME_EXECUTABLE_H
