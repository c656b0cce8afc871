//===- InitQAT.h - register everything qat-mlir defines ---------*- C++ -*-===//
//
// For drivers (qat-opt, qat-translate, qat-run, ...) and for compilers that
// embed qat-mlir, as mlir/InitAllDialects.h is upstream: the dialects (qat,
// npu), every pass and pipeline, and the translations. Header only; link
// the libraries of what you call (registerQATPasses: QATConversion,
// QATTransforms, QATDialectTransforms, QATPipelines; registerQATTranslations:
// QATNPUTarget).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_INITQAT_H
#define QAT_INITQAT_H

#include "qat/Autodiff/Autodiff.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/NPU/IR/NPUDialect.h"
#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Target/NPU/NPUTranslation.h"
#include "qat/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"

namespace mlir::qat {

/// Adds the qat and npu dialects to `registry`, and the adjoints
/// (GradientOpInterface external models) of the TOSA ops.
inline void registerQATDialects(DialectRegistry &registry) {
  registry.insert<QATDialect, npu::ir::NPUDialect>();
  registerTosaGradientInterfaceExternalModels(registry);
}

/// Registers every qat pass and pipeline with the global pass registry.
inline void registerQATPasses() {
  registerQATConversionPasses();
  registerQATTransformsPasses();
  registerQATDialectTransformsPasses();
  registerQATPipelines();
}

/// Registers the translations of qat-translate (--npu-binary,
/// --import-npu-binary).
inline void registerQATTranslations() { registerNPUTranslations(); }

} // namespace mlir::qat

#endif // QAT_INITQAT_H
