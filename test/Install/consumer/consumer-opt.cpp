// consumer-opt: its own driver, a few upstream dialects, and the qat dialect
// with convert-qat-to-linalg, qat-fold-conv-bn and qat-insert-fake-quant
// taken from the installed QATMLIR package.
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::arith::ArithDialect, mlir::func::FuncDialect,
                  mlir::linalg::LinalgDialect, mlir::math::MathDialect,
                  mlir::tensor::TensorDialect, mlir::tosa::TosaDialect,
                  mlir::ml_program::MLProgramDialect, mlir::qat::QATDialect>();
  mlir::qat::registerConvertQATToLinalgPass();
  mlir::qat::registerFoldConvBNPass();
  mlir::qat::registerInsertFakeQuantPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "qat consumer\n", registry));
}
