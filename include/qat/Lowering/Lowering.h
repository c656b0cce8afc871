//===- Lowering.h - lower one entry function to the LLVM dialect -*- C++ -*-===//
//
// The lowering shared by the JIT (qat-run, calibration, the NPU check) and
// the ahead-of-time compiler (qat-compile), and by embedders (the C API):
// checks the entry's signature, keeps only what it reaches, and runs the
// qat-to-llvm pipeline with the results turned into out-parameters, so that
// `_mlir_ciface_<entry>` takes one memref descriptor per argument, then one
// per result.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LOWERING_LOWERING_H
#define QAT_LOWERING_LOWERING_H

#include "qat/Support/Npy.h"
#include "qat/Support/Options.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::qat {

/// The qat-to-llvm options an entry is lowered with.
struct LoweringOptions {
  /// int8 kernels: none, vnni, portable or auto (the host's). Dispatch is
  /// the ahead-of-time compiler's (compileToObject), not a lowering's.
  Kernels kernels = Kernels::Auto;
  /// Threads of the int8 kernels: 1, N, or 0 for the OpenMP runtime's
  /// choice.
  unsigned threads = 1;
  /// Temporary buffers (qat-plan-memory).
  Arena arena = Arena::Static;
  /// With threads != 1, kernels with fewer multiply-accumulates stay serial.
  int64_t parallelMinMacs = kDefaultParallelMinMacs;
};

/// The tensor types of an entry's arguments and results.
struct EntrySignature {
  llvm::SmallVector<RankedTensorType> argTypes, resultTypes;
  /// The code calls the OpenMP runtime (libomp): built with threads != 1.
  bool usesOpenMP = false;
};

/// Checks the signature of each entry (ranked tensors of supported element
/// types, static result shapes), drops the functions no entry reaches, sets
/// `llvm.emit_c_interface` on the entries, marks their arguments read-only
/// (`bufferization.writable = false`: the code never writes into an input
/// buffer) and lowers `module` in place with qat-to-llvm (results become
/// out-parameters); each entry itself gets internal linkage, so
/// `_mlir_ciface_<entry>` is its one external symbol. Returns the
/// signatures in the order of `entries`.
llvm::Expected<llvm::SmallVector<EntrySignature>>
lowerEntriesToLLVM(ModuleOp module, llvm::ArrayRef<std::string> entries,
                   const LoweringOptions &options = {});

/// lowerEntriesToLLVM for one entry.
llvm::Expected<EntrySignature>
lowerEntryToLLVM(ModuleOp module, llvm::StringRef entry,
                 const LoweringOptions &options = {});

/// Checks that this host can run code compiled with `kernels` (vnni needs
/// AVX-512 VNNI); the error names what is missing.
llvm::Error checkKernelsOnHost(Kernels kernels);

/// The element kind of a tensor element type, if an entry may exchange it
/// (f32, f64, i8/si8, ui8, i16, i32, i64).
std::optional<ElementKind> getElementKind(Type type);

} // namespace mlir::qat

#endif // QAT_LOWERING_LOWERING_H
