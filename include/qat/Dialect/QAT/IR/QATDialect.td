//===- QATDialect.td - the qat dialect ---------------------*- tablegen -*-===//
//
// The `qat` dialect: fake quantization, range observation and learned step
// size quantization for quantization-aware training, each op with one exact
// forward and backward meaning.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_QAT_IR_QATDIALECT_TD
#define QAT_DIALECT_QAT_IR_QATDIALECT_TD

include "mlir/IR/OpBase.td"

def QAT_Dialect : Dialect {
  let name = "qat";
  let cppNamespace = "::mlir::qat";
  let summary = "Quantization-aware training: fake quantization with exact numerics";
  let description = [{
    The `qat` dialect models the operations that quantization-aware training
    inserts into a float network:

    * `qat.fake_quant` / `qat.fake_quant_grad`: affine fake quantization
      (per tensor or per axis) and its straight-through-estimator gradient;
    * `qat.lsq` / `qat.lsq_grad`: learned step size quantization and its
      gradients with respect to the input, the scale and the zero point;
    * `qat.observer`: min/max and moving-average range statistics as pure SSA
      state;
    * `qat.choose_qparams`: scale and zero point from an observed range.

    Every op computes on `f32` tensors with the arithmetic written in its
    description, operation by operation, so that the same IR means the same
    bits on every backend. The default rounding reproduces PyTorch 1.13 bit
    for bit on finite inputs; see docs/Numerics.md for the contract and how it
    relates to PyTorch, Horizon's BPU tools and TensorFlow.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

class QAT_Op<string mnemonic, list<Trait> traits = []>
    : Op<QAT_Dialect, mnemonic, traits>;

#endif // QAT_DIALECT_QAT_IR_QATDIALECT_TD
