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
// static shapes. The object needs libm and libmlir_c_runner_utils.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_AOT_H
#define QAT_RUNTIME_AOT_H

#include "qat/Runtime/Runner.h"

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
  /// The qat-to-llvm options. Their kernels may also be `dispatch` (a VNNI
  /// and a portable build of the model in one object; the CPU it runs on
  /// picks one), and `auto` means vnni when the target CPU has AVX-512 VNNI.
  /// VNNI code checks the CPU at each call (cached): `vnni` alone stops
  /// with an error message on a CPU without it. With threads != 1 the
  /// object calls the OpenMP runtime: link with -lomp.
  LoweringOptions lowering;
};

/// Lowers `module` in place for `entry` and writes an object file to
/// `objectPath`; returns the entry's signature.
llvm::Expected<EntrySignature> compileToObject(ModuleOp module,
                                               llvm::StringRef entry,
                                               llvm::StringRef objectPath,
                                               const AOTOptions &options);

/// Joins the VNNI build `fast` of an entry (the translated module of
/// lowerEntryToLLVM) and, if given, its `portable` build into one module
/// whose `_mlir_ciface_<entry>` calls the VNNI build when the CPU has
/// AVX-512 VNNI (cpuid, xgetbv; the environment variable QAT_DISABLE_VNNI
/// forces the other path), else the portable build, or without one writes
/// an error to stderr and aborts. The VNNI functions get the AVX-512 target
/// features whatever the target CPU.
llvm::Expected<std::unique_ptr<llvm::Module>>
buildCpuDispatch(std::unique_ptr<llvm::Module> fast,
                 std::unique_ptr<llvm::Module> portable, llvm::StringRef entry);

/// Writes the C header of the entry's ABI.
void writeCHeader(llvm::raw_ostream &os, llvm::StringRef entry,
                  const EntrySignature &signature);

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_AOT_H
