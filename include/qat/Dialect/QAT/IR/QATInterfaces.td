//===- QATInterfaces.td - qat op interfaces ----------------*- tablegen -*-===//

#ifndef QAT_DIALECT_QAT_IR_QATINTERFACES_TD
#define QAT_DIALECT_QAT_IR_QATINTERFACES_TD

include "mlir/IR/OpBase.td"

def QAT_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::mlir::qat";
  let description = [{
    An op whose backward the qat dialect defines exactly. `buildGradients`
    emits, at the builder's insertion point, the ops that compute the
    gradient of each operand from the gradients of the op's results, and
    returns one value per operand: null where no gradient flows (the scale
    and zero point of `qat.fake_quant`). The emitted ops are qat ops
    (`qat.fake_quant_grad`, `qat.lsq_grad`) and lower like the forward.
  }];
  let methods = [
    InterfaceMethod<
      "Emits the backward of this op; returns one gradient per operand (null "
      "where none flows).",
      "::llvm::SmallVector<::mlir::Value>", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultGradients)>,
  ];
}

#endif // QAT_DIALECT_QAT_IR_QATINTERFACES_TD
