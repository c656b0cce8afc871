/*===- qat-c/Dialects.h - qat-mlir dialects and passes, C API -----*- C -*-===*\
|*                                                                            *|
|* Registration of the qat and npu dialects, of every upstream dialect the    *|
|* project's models and pipelines use, and of the qat passes and pipelines,   *|
|* for programs that drive MLIR through its C API (mlir-c/IR.h, Pass.h).      *|
|* libQATCAPI.so carries upstream's IR and pass C API too.                    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef QAT_C_DIALECTS_H
#define QAT_C_DIALECTS_H

#include "mlir-c/IR.h"

#ifdef __cplusplus
extern "C" {
#endif

MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(QAT, qat);
MLIR_DECLARE_CAPI_DIALECT_REGISTRATION(NPU, npu);

/// Inserts into `registry` the qat and npu dialects and every upstream
/// dialect and extension (what qat-opt registers).
MLIR_CAPI_EXPORTED void qatRegisterAllDialects(MlirDialectRegistry registry);

/// Creates a context with qatRegisterAllDialects' dialects registered (they
/// load on first use), as the tools make it. Destroy with
/// mlirContextDestroy.
MLIR_CAPI_EXPORTED MlirContext qatContextCreate(void);

/// Registers upstream's and qat-mlir's passes and pipelines (qat-prepare,
/// qat-to-llvm, qat-convert-to-integer, ...) with the global registry, so
/// that mlirParsePassPipeline and mlirOpPassManagerAddPipeline know them.
/// Thread-safe; later calls do nothing.
MLIR_CAPI_EXPORTED void qatRegisterAllPasses(void);

/// Whether diagnostics emitted on an operation carry a note with the whole
/// operation printed ("see current operation: ..."; MLIR's default is on).
/// The tools and the Python package turn it off: a diagnostic on a module
/// would print the whole model.
MLIR_CAPI_EXPORTED void qatContextSetPrintOpOnDiagnostic(MlirContext context,
                                                         bool enable);

/// Parses `text` (MLIR assembly or bytecode) into a module, wrapping
/// top-level operations other than one builtin.module in a new module as
/// the tools do. Locations of the text read "sourceName":line:col. Returns
/// a null module after emitting the parse error to the context's handlers.
MLIR_CAPI_EXPORTED MlirModule qatModuleCreateParse(MlirContext context,
                                                   MlirStringRef text,
                                                   MlirStringRef sourceName);

#ifdef __cplusplus
}
#endif

#endif /* QAT_C_DIALECTS_H */
