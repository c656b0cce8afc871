//===- NPUDialect.cpp - npu dialect registration --------------------------===//

#include "qat/Dialect/NPU/IR/NPUDialect.h"
#include "qat/Dialect/NPU/IR/NPUOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qat::npu::ir;

#include "qat/Dialect/NPU/IR/NPUDialect.cpp.inc"
#include "qat/Dialect/NPU/IR/NPUEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "qat/Dialect/NPU/IR/NPUAttrs.cpp.inc"

void NPUDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qat/Dialect/NPU/IR/NPUAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "qat/Dialect/NPU/IR/NPUOps.cpp.inc"
      >();
}
