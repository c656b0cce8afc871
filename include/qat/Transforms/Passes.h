//===- Passes.h - qat general transforms ------------------------*- C++ -*-===//
#ifndef QAT_TRANSFORMS_PASSES_H
#define QAT_TRANSFORMS_PASSES_H

#include "qat/Support/Options.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::qat {
#define GEN_PASS_DECL
#include "qat/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

#endif // QAT_TRANSFORMS_PASSES_H
