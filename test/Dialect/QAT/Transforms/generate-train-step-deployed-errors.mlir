// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-generate-train-step="numerics=deployed loss=mse"
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable --qat-generate-train-step=numerics=integer 2>&1 | FileCheck %s --check-prefix=NUMERICS
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable --qat-generate-train-step=numerics=deployed 2>&1 | FileCheck %s --check-prefix=NOTFROZEN
//
// Every error of qat-generate-train-step's numerics=deployed.

// NUMERICS: error: qat-generate-train-step: unknown numerics 'integer' (fake-quant or deployed)
// NOTFROZEN: error: deployed numerics need constant quantization parameters (the integer model's): run qat-freeze-qparams before qat-make-trainable

// No target to take the integer arithmetic from.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<2x3xf32>) : tensor<2x3xf32> {qat.parameter = "weight"}
  // expected-error @+1 {{qat-generate-train-step: numerics=deployed needs the module's 'qat.target' attribute (qat-prepare sets it)}}
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %w = ml_program.global_load @w : tensor<2x3xf32>
    %a = tosa.add %x, %w : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    return %a : tensor<2x3xf32>
  }
}

// -----

// A target the descriptions do not know.
module attributes {qat.target = "tpu"} {
  ml_program.global private mutable @w(dense<0.5> : tensor<2x3xf32>) : tensor<2x3xf32> {qat.parameter = "weight"}
  // expected-error @+1 {{qat-generate-train-step: }}
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %w = ml_program.global_load @w : tensor<2x3xf32>
    %a = tosa.add %x, %w : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    return %a : tensor<2x3xf32>
  }
}
