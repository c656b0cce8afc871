// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-generate-train-step="numerics=deployed loss=mse"
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-make-trainable --qat-generate-train-step=numerics=integer 2>&1 | FileCheck %s --check-prefix=NUMERICS
// RUN: not qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable --qat-generate-train-step=numerics=deployed 2>&1 | FileCheck %s --check-prefix=NOTFROZEN
// RUN: not qat-opt %S/Inputs/frozen_conv_x86.mlir --qat-make-trainable=lsq=true --qat-generate-train-step="numerics=deployed loss=mse" 2>&1 | FileCheck %s --check-prefix=LSQ
// RUN: qat-opt %S/Inputs/frozen_conv_x86.mlir --qat-make-trainable=lsq=true --qat-finish-training --qat-make-trainable --qat-generate-train-step="numerics=deployed loss=mse" | FileCheck %s --check-prefix=LSQTHEN
//
// Every error of qat-generate-train-step's numerics=deployed.

// NUMERICS: error: qat-generate-train-step: unknown numerics 'integer' (fake-quant or deployed)
// NOTFROZEN: error: deployed numerics need constant quantization parameters (the integer model's), but 'qat.observer' computes them while training: run qat-freeze-qparams before qat-make-trainable
// Learned quantization parameters (LSQ) are refused, naming the op and the
// rule; the documented way (LSQ in fake-quant numerics, qat-finish-training,
// trainable again without lsq) gives the deployed step.
// LSQ: error: deployed numerics cannot learn the scale and zero point of 'qat.lsq' (LSQ): the deployed forward is the integer model, whose requantization multipliers (m = s_in * s_w / s_out; on a fixed-point target an integer multiplier and shift) and zero points are constants computed from frozen quantization parameters; learn them in fake-quant numerics, run qat-finish-training, then make the model trainable without lsq for deployed numerics
// LSQTHEN-LABEL: func.func @main(
// LSQTHEN-NOT: qat.lsq
// LSQTHEN: qat.quantize
// LSQTHEN: qat.requantize
// LSQTHEN-LABEL: func.func @main_train_step
// LSQTHEN: qat.requantize_grad

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
