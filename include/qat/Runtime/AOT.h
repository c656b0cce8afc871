//===- AOT.h - ahead-of-time compilation to an object file ------*- C++ -*-===//
//
// Lowers one entry of a module (qat-to-llvm, results as out-parameters),
// translates it to LLVM IR and writes a relocatable object file, plus a C
// header that declares its C ABI. docs/Conversion.md documents the ABI:
//
//   void _mlir_ciface_<entry>(qat_memref_<type>_<rank>d *arg0, ...,
//                             qat_memref_<type>_<rank>d *result0, ...);
//   static inline void qat_<entry>(const T *arg0, ..., T *result0, ...);
//
// Every argument is a pointer to an MLIR memref descriptor (allocated and
// aligned pointers, offset, sizes, strides) of an input, in argument order,
// then of a caller-allocated output buffer, in result order. The inline
// wrapper builds the descriptors for contiguous row-major arrays of the
// static shapes. The object needs libc and libm (and libomp when built for
// several threads), nothing of MLIR's runtime libraries.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_AOT_H
#define QAT_RUNTIME_AOT_H

#include "qat/Runtime/Runner.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

namespace llvm {
class Module;
} // namespace llvm

namespace mlir::qat::runtime {

struct AOTOptions {
  unsigned optLevel = 3;
  /// Target CPU for code generation: "host" or an LLVM CPU name (x86-64,
  /// skylake-avx512, ...).
  std::string cpu = "host";
  /// The qat-to-llvm options. Their kernels may also be `dispatch` (AMX,
  /// VNNI and portable builds of the model in one object; the CPU it runs
  /// on picks one), and `auto` means amx with a VNNI build to fall back on
  /// when the target CPU has AMX, else vnni when it has AVX-512 VNNI, else
  /// portable. AMX and VNNI code checks the CPU (and the OS for AMX) at each
  /// call (cached): `amx` or `vnni` alone stops with an error message where
  /// it cannot run. With threads != 1 the object calls the OpenMP runtime:
  /// link with -lomp.
  LoweringOptions lowering;
  /// Hears of each step (lowering, translation, code generation).
  ProgressCallback progress;
};

/// Lowers `module` in place for `entry` and writes an object file to
/// `objectPath`; returns the entry's signature.
llvm::Expected<EntrySignature> compileToObject(ModuleOp module,
                                               llvm::StringRef entry,
                                               llvm::StringRef objectPath,
                                               const AOTOptions &options);

/// One build of an entry for buildCpuDispatch: the translated module of
/// lowerEntryToLLVM with `kernels` (amx, vnni or portable).
struct CpuBuild {
  Kernels kernels;
  std::unique_ptr<llvm::Module> module;
};

/// Joins builds of an entry, best first, into one module whose
/// `_mlir_ciface_<entry>` calls the first build the CPU it runs on can run:
/// an `amx` build if the CPU has AMX and AVX-512 VNNI and the OS grants the
/// process the tiles' data (cpuid, xgetbv, arch_prctl; the environment
/// variable QAT_DISABLE_AMX skips it), a `vnni` build if the CPU has
/// AVX-512 VNNI (cpuid, xgetbv; QAT_DISABLE_VNNI skips it), a `portable`
/// build always. Each check runs once per process. When no build fits, it
/// writes an error naming what is missing and `kernels` (the --kernels
/// value) to stderr and aborts. The AMX and VNNI functions get their target
/// features whatever the target CPU.
llvm::Expected<std::unique_ptr<llvm::Module>>
buildCpuDispatch(llvm::SmallVector<CpuBuild> builds, llvm::StringRef entry,
                 Kernels kernels);

/// Writes the C header of the entry's ABI.
void writeCHeader(llvm::raw_ostream &os, llvm::StringRef entry,
                  const EntrySignature &signature);

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_AOT_H
