// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-generate-train-step
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable --qat-generate-train-step=loss=hinge 2>&1 | FileCheck %s --check-prefix=LOSS
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable --qat-generate-train-step=optimizer=rmsprop 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable --qat-generate-train-step=entry=forward 2>&1 | FileCheck %s --check-prefix=ENTRY
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable=entry=forward 2>&1 | FileCheck %s --check-prefix=TRAINABLE
//
// Every error of qat-generate-train-step (and qat-make-trainable).

// LOSS: error: qat-generate-train-step: unknown loss 'hinge' (cross-entropy or mse)
// OPT: error: qat-generate-train-step: unknown optimizer 'rmsprop' (sgd or adam)
// ENTRY: error: qat-generate-train-step: no function @forward
// TRAINABLE: error: qat-make-trainable: no function @forward

// An op without an adjoint between a parameter and the loss: the error
// names it at its location.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<2x3xf32>) : tensor<2x3xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    %w = ml_program.global_load @w : tensor<2x3xf32>
    %a = tosa.add %x, %w : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    // expected-error @+1 {{'tosa.exp' op has no adjoint (GradientOpInterface): it lies between a trained parameter and the loss}}
    %e = tosa.exp %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
    return %e : tensor<2x3xf32>
  }
}

// -----

// No parameter to train.
module {
  // expected-error @+1 {{qat-generate-train-step: no parameters (globals marked qat.parameter); run qat-make-trainable first}}
  func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
    return %x : tensor<2x3xf32>
  }
}

// -----

// Cross-entropy needs logits.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<2x3x4xf32>) : tensor<2x3x4xf32> {qat.parameter = "weight"}
  // expected-error @+1 {{qat-generate-train-step: the cross-entropy loss needs an N x C f32 output (logits), got 'tensor<2x3x4xf32>'}}
  func.func @main(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
    %w = ml_program.global_load @w : tensor<2x3x4xf32>
    %a = tosa.add %x, %w : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    return %a : tensor<2x3x4xf32>
  }
}

// -----

// The forward must be one block returning the model output.
module {
  ml_program.global private mutable @w(dense<0.5> : tensor<2x3xf32>) : tensor<2x3xf32> {qat.parameter = "weight"}
  // expected-error @+1 {{qat-generate-train-step: @main must have one block and return the model output}}
  func.func @main(%x: tensor<2x3xf32>) {
    return
  }
}
