//===- qat-opt.cpp - the qat pass driver ----------------------------------===//
//
// mlir-opt with the qat and npu dialects, their passes and pipelines, plus
// every upstream dialect and pass. --help lists the driver's options and
// the passes; LLVM's own options only with --help-hidden.
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::qat::registerQATPasses();
  mlir::DialectRegistry registry;
  mlir::qat::registerToolDialects(registry);
  mlir::qat::hideForeignOptions();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "qat-mlir pass driver\n", registry));
}
