/*===- qat-c/Runtime.h - compile once, call in-process, C API -----*- C -*-===*\
|*                                                                            *|
|* The in-process runtime of qat-mlir in the style of upstream MLIR's C API:  *|
|* opaque handles with explicit destroy, MlirStringRef strings, errors        *|
|* through MlirStringCallback. An executable holds one or more functions of   *|
|* a module, lowered with qat-to-llvm (results as caller-allocated            *|
|* out-parameters) and JIT-compiled once; calls run them on caller-owned      *|
|* buffers without copies. docs/Python.md documents it with the Python API    *|
|* built on it.                                                               *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef QAT_C_RUNTIME_H
#define QAT_C_RUNTIME_H

#include "mlir-c/IR.h"
#include "mlir-c/Support.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEFINE_C_API_STRUCT(name, storage)                                     \
  struct name {                                                                \
    storage *ptr;                                                              \
  };                                                                           \
  typedef struct name name

DEFINE_C_API_STRUCT(QatCompileOptions, void);
DEFINE_C_API_STRUCT(QatExecutable, void);

#undef DEFINE_C_API_STRUCT

/// Element types of the buffers a compiled function exchanges.
typedef enum QatElementType {
  QatElementTypeF32,
  QatElementTypeF64,
  QatElementTypeI8,
  QatElementTypeU8,
  QatElementTypeI16,
  QatElementTypeI32,
  QatElementTypeI64,
} QatElementType;

/// The size in bytes of one element, and the MLIR name ("f32", "ui8", ...).
MLIR_CAPI_EXPORTED intptr_t qatElementTypeGetSize(QatElementType type);
MLIR_CAPI_EXPORTED MlirStringRef qatElementTypeGetName(QatElementType type);

/// The value of a dynamic size in a signature.
MLIR_CAPI_EXPORTED int64_t qatDynamicSize(void);

/// A caller-owned buffer: `rank` sizes and strides, strides in elements
/// (NULL: contiguous row-major). Compiled code reads and writes dense
/// row-major buffers only; other strides are rejected (dimensions of size 1
/// may have any stride).
typedef struct QatBuffer {
  void *data;
  QatElementType elementType;
  intptr_t rank;
  const int64_t *sizes;
  const int64_t *strides;
} QatBuffer;

/// Called during compilation with what starts now ("lowering to the LLVM
/// dialect (qat-to-llvm)", ..., "done") and the seconds since it began.
typedef void (*QatProgressCallback)(MlirStringRef what, double seconds,
                                    void *userData);

//===----------------------------------------------------------------------===//
// Compile options
//===----------------------------------------------------------------------===//

/// Defaults: opt level 3, kernels "auto", 1 thread, arena "static",
/// parallel-min-macs 2^23, CPU "host" (AOT only), no progress callback.
MLIR_CAPI_EXPORTED QatCompileOptions qatCompileOptionsCreate(void);
MLIR_CAPI_EXPORTED void qatCompileOptionsDestroy(QatCompileOptions options);
/// LLVM's optimisation and code generation level, 0-3.
MLIR_CAPI_EXPORTED void qatCompileOptionsSetOptLevel(QatCompileOptions options,
                                                     int level);
/// int8 kernels: "auto", "vnni", "portable", "none" (and "dispatch" for AOT).
MLIR_CAPI_EXPORTED void qatCompileOptionsSetKernels(QatCompileOptions options,
                                                    MlirStringRef kernels);
/// Threads of the int8 kernels (1, N, or 0 for the OpenMP runtime's choice).
MLIR_CAPI_EXPORTED void
qatCompileOptionsSetNumThreads(QatCompileOptions options, int threads);
/// Temporary buffers: "static", "call" or "none".
MLIR_CAPI_EXPORTED void qatCompileOptionsSetArena(QatCompileOptions options,
                                                  MlirStringRef arena);
/// With threads != 1, kernels with fewer multiply-accumulates stay serial.
MLIR_CAPI_EXPORTED void
qatCompileOptionsSetParallelMinMacs(QatCompileOptions options, int64_t macs);
/// Target CPU of ahead-of-time compilation: "host" or an LLVM CPU name.
MLIR_CAPI_EXPORTED void qatCompileOptionsSetCPU(QatCompileOptions options,
                                                MlirStringRef cpu);
MLIR_CAPI_EXPORTED void qatCompileOptionsSetProgressCallback(
    QatCompileOptions options, QatProgressCallback callback, void *userData);

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

/// Compiles functions `entries[0..numEntries)` of `module` once: a clone of
/// the module is lowered (the functions no entry reaches are dropped; the
/// entries' arguments are read-only, so calls never write into inputs) and
/// JIT-compiled. `module` itself is not changed. On failure returns a null
/// executable after calling `onError` (if not NULL) with the reason;
/// diagnostics of the lowering go to the context's handlers first.
MLIR_CAPI_EXPORTED QatExecutable qatExecutableCreate(
    MlirModule module, intptr_t numEntries, const MlirStringRef *entries,
    QatCompileOptions options, MlirStringCallback onError, void *userData);
MLIR_CAPI_EXPORTED void qatExecutableDestroy(QatExecutable executable);
static inline bool qatExecutableIsNull(QatExecutable executable) {
  return !executable.ptr;
}

/// The compiled functions, in the order of the entries.
MLIR_CAPI_EXPORTED intptr_t
qatExecutableGetNumFunctions(QatExecutable executable);
MLIR_CAPI_EXPORTED MlirStringRef
qatExecutableGetFunctionName(QatExecutable executable, intptr_t function);
/// The index of the function `name`, or -1.
MLIR_CAPI_EXPORTED intptr_t
qatExecutableLookupFunction(QatExecutable executable, MlirStringRef name);
/// Whether the code calls the OpenMP runtime (compiled with threads != 1).
MLIR_CAPI_EXPORTED bool qatExecutableUsesOpenMP(QatExecutable executable);

/// The signature of a function: its arguments, then its results (static
/// shapes), each an element type and `rank` sizes (qatDynamicSize() for a
/// dynamic one). The sizes stay valid as long as the executable.
MLIR_CAPI_EXPORTED intptr_t
qatExecutableGetNumArguments(QatExecutable executable, intptr_t function);
MLIR_CAPI_EXPORTED intptr_t qatExecutableGetNumResults(QatExecutable executable,
                                                       intptr_t function);
MLIR_CAPI_EXPORTED QatElementType qatExecutableGetArgumentElementType(
    QatExecutable executable, intptr_t function, intptr_t argument);
MLIR_CAPI_EXPORTED intptr_t qatExecutableGetArgumentRank(
    QatExecutable executable, intptr_t function, intptr_t argument);
MLIR_CAPI_EXPORTED const int64_t *
qatExecutableGetArgumentSizes(QatExecutable executable, intptr_t function,
                              intptr_t argument);
MLIR_CAPI_EXPORTED QatElementType qatExecutableGetResultElementType(
    QatExecutable executable, intptr_t function, intptr_t result);
MLIR_CAPI_EXPORTED intptr_t qatExecutableGetResultRank(QatExecutable executable,
                                                       intptr_t function,
                                                       intptr_t result);
MLIR_CAPI_EXPORTED const int64_t *
qatExecutableGetResultSizes(QatExecutable executable, intptr_t function,
                            intptr_t result);

/// Calls `function` on `arguments` (in argument order) and writes its
/// results into the caller-allocated `results` (in result order). Checks
/// counts, element types, sizes and strides first; on a mismatch returns
/// failure after calling `onError` (if not NULL) with a message naming the
/// buffer. Thread-safe: calls may run concurrently on several threads, each
/// with its own buffers (except for functions that update ml_program
/// globals, such as a prepared model's observers).
MLIR_CAPI_EXPORTED MlirLogicalResult qatExecutableCall(
    QatExecutable executable, intptr_t function, intptr_t numArguments,
    const QatBuffer *arguments, intptr_t numResults, const QatBuffer *results,
    MlirStringCallback onError, void *userData);

/// The function's packed C interface, `void f(void **args)`: args[i] points
/// to a pointer to the memref descriptor of argument i, then of each
/// result. No checks: the fastest call, for callers that built the
/// descriptors themselves.
MLIR_CAPI_EXPORTED void *
qatExecutableGetPackedFunction(QatExecutable executable, intptr_t function);

//===----------------------------------------------------------------------===//
// Ahead-of-time compilation
//===----------------------------------------------------------------------===//

/// Compiles `entry` of `module` (a clone is lowered) to the relocatable
/// object file `objectPath` and, unless `headerPath` is empty, writes its C
/// header there (the ABI of qat-compile, docs/Conversion.md). Options: opt
/// level, CPU, kernels (also "dispatch"), threads, arena.
MLIR_CAPI_EXPORTED MlirLogicalResult qatCompileToObject(
    MlirModule module, MlirStringRef entry, MlirStringRef objectPath,
    MlirStringRef headerPath, QatCompileOptions options,
    MlirStringCallback onError, void *userData);

#ifdef __cplusplus
}
#endif

#endif /* QAT_C_RUNTIME_H */
