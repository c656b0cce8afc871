//===- qat-opt.cpp - the qat pass driver ----------------------------------===//
//
// mlir-opt with the qat and npu dialects, their passes and pipelines, plus
// every upstream dialect and pass.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/NPU/Transforms/Passes.h"
#include "qat/InitQAT.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::qat::registerQATPassesAndPipelines();
  mlir::qat::registerQATNPUPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::qat::registerQATDialect(registry);
  registry.insert<mlir::qat::npuir::NPUDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "qat-mlir pass driver\n", registry));
}
