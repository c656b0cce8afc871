//===- FuzzContext.h - The MLIR context of the MLIR fuzz targets -*- C++
//-*-===//
//
// The context that qat-fuzz-mlir and qat-fuzz-bytecode parse into: one for
// many inputs (the dialects load once), renewed every 128th input, since
// attributes and types are never freed within one context. Diagnostics are
// swallowed (an error is a valid outcome of an input).
//
//===----------------------------------------------------------------------===//

#ifndef QAT_FUZZ_FUZZCONTEXT_H
#define QAT_FUZZ_FUZZCONTEXT_H

#include "qat/Tools/ToolSupport.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>

namespace mlir::qat::fuzz {

inline mlir::MLIRContext &fuzzContext() {
  static std::unique_ptr<mlir::DialectRegistry> registry;
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!registry) {
    registry = std::make_unique<mlir::DialectRegistry>();
    registerToolDialects(*registry);
  }
  if (!context || ++uses % 128 == 0) {
    context = std::make_unique<mlir::MLIRContext>(
        *registry, mlir::MLIRContext::Threading::DISABLED);
    context->printOpOnDiagnostic(false);
    context->getDiagEngine().registerHandler(
        [](mlir::Diagnostic &) { return mlir::success(); });
  }
  return *context;
}

} // namespace mlir::qat::fuzz

#endif // QAT_FUZZ_FUZZCONTEXT_H
