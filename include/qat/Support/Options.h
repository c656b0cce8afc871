//===- Options.h - the typed options of the kernels and memory --*- C++ -*-===//
//
// The enumerated options that several layers share: the instruction set of
// the packed int8 kernels (qat-lower-packed-kernels{isa}), the kernels of the
// qat-to-llvm pipeline and of the tools (--kernels) and where temporary
// buffers live (qat-plan-memory{arena}, qat-to-llvm{arena}, --arena). Each
// value's spelling is written here once, as the command-line parser's
// `cl::values`, so every pass, pipeline and tool accepts and rejects the
// same words with the same message. Header only; needs LLVM Support.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_SUPPORT_OPTIONS_H
#define QAT_SUPPORT_OPTIONS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>

namespace mlir::qat {

/// The dot-product instructions of the packed int8 kernels.
enum class KernelIsa {
  /// AVX-512 VNNI (`vpdpbusd`, `vpdpwssd`).
  Vnni,
  /// The same arithmetic on generic vector ops, for any CPU.
  Portable,
};

/// The int8 kernels of a lowering: which packed kernels, or none.
enum class Kernels {
  /// Generic loops (no packed kernels).
  None,
  /// Amx where the CPU (and, for the JIT, the OS) allows AMX tiles, else
  /// Vnni if the target CPU has AVX-512 VNNI, else Portable.
  Auto,
  Vnni,
  Portable,
  /// AMX tiles for the convolutions and matrix products (qat-pack-amx-weights
  /// and the amx dialect), VNNI for the other kernels.
  Amx,
  /// The AMX kernels with their tile ops emulated by vector code
  /// (qat-lower-amx{emulate}), portable for the other kernels: runs on any
  /// CPU, for tests.
  AmxEmulated,
  /// Ahead-of-time only: AMX, VNNI and portable builds in one object; the
  /// CPU and OS it runs on pick one.
  Dispatch,
};

/// Where the temporary buffers of a function live.
enum class Arena {
  /// One arena per function, a global that calls reuse.
  Static,
  /// One arena allocated per call.
  Call,
  /// One allocation per buffer (no arena).
  None,
};

/// The default of qat-to-llvm's `parallel-min-macs` and of the tools'
/// --parallel-min-macs: with threads != 1, packed kernels with fewer
/// multiply-accumulates stay on the calling thread.
constexpr int64_t kDefaultParallelMinMacs = int64_t(1) << 23;

inline llvm::cl::ValuesClass kernelIsaValues() {
  return llvm::cl::values(
      clEnumValN(KernelIsa::Vnni, "vnni", "AVX-512 VNNI (vpdpbusd)"),
      clEnumValN(KernelIsa::Portable, "portable",
                 "generic vector code for any CPU"));
}

/// The f32 kernels' spelling of the same choice (qat-lower-f32-kernels
/// `isa`): avx512 (one fma per step) is KernelIsa::Vnni's build.
inline llvm::cl::ValuesClass f32KernelIsaValues() {
  return llvm::cl::values(
      clEnumValN(KernelIsa::Vnni, "avx512", "AVX-512 fma (vfmadd231ps)"),
      clEnumValN(KernelIsa::Portable, "portable",
                 "a product and a sum per step, for any CPU"));
}

/// The values of a `kernels` option: none, auto, vnni, portable, and with
/// `dispatch` (ahead-of-time compilation) also dispatch.
inline llvm::cl::ValuesClass kernelsValues(bool dispatch = false) {
  if (dispatch)
    return llvm::cl::values(
        clEnumValN(Kernels::Auto, "auto",
                   "amx where AMX tiles can run, else vnni if the CPU has "
                   "AVX-512 VNNI, else portable"),
        clEnumValN(Kernels::Vnni, "vnni", "AVX-512 VNNI kernels"),
        clEnumValN(Kernels::Portable, "portable", "vector code for any CPU"),
        clEnumValN(Kernels::Amx, "amx",
                   "AMX tiles for convolutions and matrix products, VNNI for "
                   "the rest"),
        clEnumValN(Kernels::AmxEmulated, "amx-emulated",
                   "the AMX kernels with their tile ops emulated by vector "
                   "code (any CPU; tests)"),
        clEnumValN(Kernels::None, "none", "generic loops"),
        clEnumValN(Kernels::Dispatch, "dispatch",
                   "AMX, VNNI and portable builds; the CPU picks at run "
                   "time"));
  return llvm::cl::values(
      clEnumValN(Kernels::Auto, "auto",
                 "amx where AMX tiles can run, else vnni if the CPU has "
                 "AVX-512 VNNI, else portable"),
      clEnumValN(Kernels::Vnni, "vnni", "AVX-512 VNNI kernels"),
      clEnumValN(Kernels::Portable, "portable", "vector code for any CPU"),
      clEnumValN(Kernels::Amx, "amx",
                 "AMX tiles for convolutions and matrix products, VNNI for "
                 "the rest"),
      clEnumValN(Kernels::AmxEmulated, "amx-emulated",
                 "the AMX kernels with their tile ops emulated by vector "
                 "code (any CPU; tests)"),
      clEnumValN(Kernels::None, "none", "generic loops"));
}

inline llvm::cl::ValuesClass arenaValues() {
  return llvm::cl::values(
      clEnumValN(Arena::Static, "static",
                 "one arena per function, a global that calls reuse"),
      clEnumValN(Arena::Call, "call", "one arena allocated per call"),
      clEnumValN(Arena::None, "none", "one allocation per buffer"));
}

inline llvm::StringRef stringify(KernelIsa isa) {
  return isa == KernelIsa::Vnni ? "vnni" : "portable";
}

inline llvm::StringRef stringify(Kernels kernels) {
  switch (kernels) {
  case Kernels::None:
    return "none";
  case Kernels::Auto:
    return "auto";
  case Kernels::Vnni:
    return "vnni";
  case Kernels::Portable:
    return "portable";
  case Kernels::Amx:
    return "amx";
  case Kernels::AmxEmulated:
    return "amx-emulated";
  case Kernels::Dispatch:
    return "dispatch";
  }
  return "";
}

inline llvm::StringRef stringify(Arena arena) {
  switch (arena) {
  case Arena::Static:
    return "static";
  case Arena::Call:
    return "call";
  case Arena::None:
    return "none";
  }
  return "";
}

/// The value named `name`, for callers that get options as strings (the C
/// API, Python); the error lists the names (dispatch only with `dispatch`).
inline llvm::Expected<Kernels> parseKernels(llvm::StringRef name,
                                            bool dispatch = true) {
  for (Kernels k :
       {Kernels::Auto, Kernels::Vnni, Kernels::Portable, Kernels::Amx,
        Kernels::AmxEmulated, Kernels::None, Kernels::Dispatch})
    if (stringify(k) == name && (dispatch || k != Kernels::Dispatch))
      return k;
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "unknown kernels '" + name +
          "' (expected auto, vnni, portable, amx, amx-emulated, none" +
          (dispatch ? " or dispatch)" : ")"));
}

inline llvm::Expected<Arena> parseArena(llvm::StringRef name) {
  for (Arena a : {Arena::Static, Arena::Call, Arena::None})
    if (stringify(a) == name)
      return a;
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "unknown arena '" + name +
                                     "' (expected static, call or none)");
}

} // namespace mlir::qat

#endif // QAT_SUPPORT_OPTIONS_H
