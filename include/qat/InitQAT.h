//===- InitQAT.h - register the qat dialect, passes and pipelines -*- C++ -*-===//
//
// For drivers (qat-opt, qat-run) and for compilers that embed qat-mlir.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_INITQAT_H
#define QAT_INITQAT_H

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir::qat {
inline void registerQATDialect(DialectRegistry &registry) {
  registry.insert<QATDialect>();
}
/// Registers every qat pass and pipeline with the global pass registry.
inline void registerQATPassesAndPipelines() {
  registerQATConversionPasses();
  registerQATTransformsPasses();
  registerQATDialectTransformsPasses();
  registerQATPipelines();
}
} // namespace mlir::qat

#endif // QAT_INITQAT_H
