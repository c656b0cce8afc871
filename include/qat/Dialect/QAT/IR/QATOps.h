//===- QATOps.h - qat operations, enums and attributes ----------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_IR_QATOPS_H
#define QAT_DIALECT_QAT_IR_QATOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "qat/Dialect/QAT/IR/QATDialect.h"

#include "qat/Dialect/QAT/IR/QATEnums.h.inc"
#include "qat/Dialect/QAT/IR/QATInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qat/Dialect/QAT/IR/QATAttrs.h.inc"

#define GET_OP_CLASSES
#include "qat/Dialect/QAT/IR/QATOps.h.inc"

namespace mlir::qat {
/// Attaches One-Shot Bufferize to the f32 packed kernels
/// (lib/Dialect/QAT/IR/FloatKernelOps.cpp); called by the dialect.
void attachFloatKernelInterfaces(MLIRContext *ctx);
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_IR_QATOPS_H
