//===- Dialects.cpp - qat-mlir dialects and passes, C API -----------------===//

#include "qat-c/Dialects.h"

#include "qat/Dialect/NPU/IR/NPUDialect.h"
#include "qat/InitQAT.h"
#include "qat/Tools/ParseGuard.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Registration.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstring>

MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(QAT, qat, mlir::qat::QATDialect)
MLIR_DEFINE_CAPI_DIALECT_REGISTRATION(NPU, npu, mlir::qat::npu::ir::NPUDialect)

void qatRegisterAllDialects(MlirDialectRegistry registry) {
  mlir::DialectRegistry &r = *unwrap(registry);
  mlir::registerAllDialects(r);
  mlir::registerAllExtensions(r);
  mlir::qat::registerQATDialects(r);
}

MlirContext qatContextCreate(void) {
  mlir::DialectRegistry registry;
  qatRegisterAllDialects(wrap(&registry));
  return wrap(new mlir::MLIRContext(registry));
}

void qatRegisterAllPasses(void) {
  static bool registered = [] {
    mlir::registerAllPasses();
    mlir::qat::registerQATPasses();
    return true;
  }();
  (void)registered;
}

void qatContextSetPrintOpOnDiagnostic(MlirContext context, bool enable) {
  unwrap(context)->printOpOnDiagnostic(enable);
}

MlirModule qatModuleCreateParse(MlirContext context, MlirStringRef text,
                                MlirStringRef sourceName) {
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<llvm::MemoryBuffer> buffer =
      llvm::MemoryBuffer::getMemBuffer(unwrap(text), unwrap(sourceName),
                                       /*RequiresNullTerminator=*/false);
  // The bytecode reader wants its buffer aligned as the file's most aligned
  // section (the writer pads sections relative to the start): 64 bytes
  // covers every element type.
  if (mlir::isBytecode(*buffer) &&
      !llvm::isAddrAligned(llvm::Align(64), buffer->getBufferStart())) {
    std::unique_ptr<llvm::WritableMemoryBuffer> copy =
        llvm::WritableMemoryBuffer::getNewUninitMemBuffer(
            text.length, unwrap(sourceName), llvm::Align(64));
    std::memcpy(copy->getBufferStart(), text.data, text.length);
    buffer = std::move(copy);
  }
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  mlir::ParserConfig config(unwrap(context));
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::qat::parseModuleGuarded(sourceMgr, config);
  return wrap(module.release());
}
