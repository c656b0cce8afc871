//===- NPUDialect.h - the npu dialect ---------------------------*- C++ -*-===//
#ifndef QAT_DIALECT_NPU_IR_NPUDIALECT_H
#define QAT_DIALECT_NPU_IR_NPUDIALECT_H

#include "mlir/IR/Dialect.h"

#include "qat/Dialect/NPU/IR/NPUDialect.h.inc"

#endif // QAT_DIALECT_NPU_IR_NPUDIALECT_H
