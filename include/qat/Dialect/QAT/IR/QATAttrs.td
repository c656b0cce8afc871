//===- QATAttrs.td - qat enums and attributes --------------*- tablegen -*-===//

#ifndef QAT_DIALECT_QAT_IR_QATATTRS_TD
#define QAT_DIALECT_QAT_IR_QATATTRS_TD

include "qat/Dialect/QAT/IR/QATDialect.td"
include "mlir/IR/EnumAttr.td"

def QAT_RoundHalfEven : I32EnumAttrCase<"half_even", 0>;
def QAT_RoundHalfEvenDiv : I32EnumAttrCase<"half_even_div", 1>;
def QAT_RoundHalfUp : I32EnumAttrCase<"half_up", 2>;

def QAT_RoundingModeEnum : I32EnumAttr<"RoundingMode",
    "how a float is rounded to the integer grid", [
      QAT_RoundHalfEven, QAT_RoundHalfEvenDiv, QAT_RoundHalfUp]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::qat";
  let description = [{
    With `inv = 1.0f / scale` computed in f32:

    * `half_even`: `r = roundeven(x * inv)` (PyTorch's CPU kernels; default);
    * `half_even_div`: `r = roundeven(x / scale)` (Horizon's BPU plugin);
    * `half_up`: `r = floor(x / scale + 0.5f)` (TensorFlow / StableHLO).
  }];
}
def QAT_RoundingModeAttr : EnumAttr<QAT_Dialect, QAT_RoundingModeEnum, "rounding"> {
  let assemblyFormat = "`<` $value `>`";
}

def QAT_ObserverMinMax : I32EnumAttrCase<"min_max", 0>;
def QAT_ObserverMovingAverage : I32EnumAttrCase<"moving_average", 1>;
def QAT_ObserverKindEnum : I32EnumAttr<"ObserverKind",
    "how an observer combines a batch range with its state", [
      QAT_ObserverMinMax, QAT_ObserverMovingAverage]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::qat";
}
def QAT_ObserverKindAttr : EnumAttr<QAT_Dialect, QAT_ObserverKindEnum, "observer"> {
  let assemblyFormat = "`<` $value `>`";
}

def QAT_SchemeAffine : I32EnumAttrCase<"affine", 0>;
def QAT_SchemeSymmetric : I32EnumAttrCase<"symmetric", 1>;
def QAT_QSchemeEnum : I32EnumAttr<"QScheme",
    "how scale and zero point are derived from a range", [
      QAT_SchemeAffine, QAT_SchemeSymmetric]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::qat";
}
def QAT_QSchemeAttr : EnumAttr<QAT_Dialect, QAT_QSchemeEnum, "qscheme"> {
  let assemblyFormat = "`<` $value `>`";
}

def QAT_KernelConv2D : I32EnumAttrCase<"conv2d", 0>;
def QAT_KernelDepthwiseConv2D : I32EnumAttrCase<"depthwise_conv2d", 1>;
def QAT_KernelMatMul : I32EnumAttrCase<"matmul", 2>;
def QAT_KernelKindEnum : I32EnumAttr<"KernelKind",
    "the accumulation of a qat.integer_kernel", [
      QAT_KernelConv2D, QAT_KernelDepthwiseConv2D, QAT_KernelMatMul]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::qat";
}
def QAT_KernelKindAttr : EnumAttr<QAT_Dialect, QAT_KernelKindEnum, "kernel_kind"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // QAT_DIALECT_QAT_IR_QATATTRS_TD
