//===- QATDialect.h - the qat dialect ---------------------------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_IR_QATDIALECT_H
#define QAT_DIALECT_QAT_IR_QATDIALECT_H

#include "mlir/IR/Dialect.h"

#include "qat/Dialect/QAT/IR/QATDialect.h.inc"

#endif // QAT_DIALECT_QAT_IR_QATDIALECT_H
