//===- qat-translate.cpp - translations of the qat project ----------------===//
//
// mlir-translate with the NPU translations: `--npu-binary` writes the binary
// of an npu.program (docs/NPU.md section 6), `--import-npu-binary` reads one
// back into the npu dialect. LLVM's own options only with --help-hidden.
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Support/CommandLine.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::qat::registerQATTranslations();
  mlir::qat::hideForeignOptions();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "qat-mlir translation driver"));
}
