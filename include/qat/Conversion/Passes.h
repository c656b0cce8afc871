//===- Passes.h - qat conversion passes -------------------------*- C++ -*-===//
#ifndef QAT_CONVERSION_PASSES_H
#define QAT_CONVERSION_PASSES_H

#include "qat/Conversion/QATToLinalg/QATToLinalg.h"
#include "qat/Conversion/QATToNPU/QATToNPU.h"
#include "qat/Dialect/NPU/IR/NPUDialect.h"
#include "qat/Support/Options.h"

#include "mlir/Pass/Pass.h"

namespace mlir::qat {
#define GEN_PASS_DECL
#include "qat/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

#endif // QAT_CONVERSION_PASSES_H
