//===- qat-translate.cpp - translations of the qat project ----------------===//
//
// mlir-translate with the NPU translations: `--npu-binary` writes the binary
// of an npu.program (docs/NPU.md section 6), `--import-npu-binary` reads one
// back into the npu dialect.
//
//===----------------------------------------------------------------------===//

#include "qat/Target/NPU/NPUTranslation.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::qat::registerNPUTranslations();
  return mlir::failed(
      mlir::mlirTranslateMain(argc, argv, "qat-mlir translation driver"));
}
