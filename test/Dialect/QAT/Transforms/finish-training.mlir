// RUN: qat-opt %s -split-input-file --qat-finish-training | FileCheck %s
// RUN: not qat-opt %s --qat-finish-training=entry=nope 2>&1 | FileCheck %s --check-prefix=ERR
//
// A trained module back to a prepared one: parameters become constants of
// their (trained) values; a weight quantizer observes the trained weight,
// or, with observers frozen (@main_observe = 0), keeps its stored range;
// the generated functions and the training-only globals go away.

// ERR: error: qat-finish-training: no function @nope

// Observers on: the weight observer stays, on the constant weight.
// CHECK-NOT: @w_momentum_buffer
// CHECK-NOT: @main_step
// CHECK-NOT: @main_observe
// CHECK-NOT: @w_min
// CHECK: ml_program.global private mutable @act_min
// CHECK-NOT: ml_program.global private mutable @w(
// CHECK-LABEL: func.func @main
// CHECK: %[[W:.*]] = arith.constant dense<[2.500000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK: qat.observer %[[W]], %{{.*}}, %{{.*}} {axis = 0 : i64} :
// CHECK: qat.fake_quant %[[W]]
// CHECK-NOT: func.func @main_train_step
// CHECK-NOT: func.func @main_get_state
module {
  ml_program.global private mutable @act_min(dense<0.0> : tensor<f32>) : tensor<f32>
  ml_program.global private mutable @w(dense<[0.25, -0.5]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @w_min(dense<[0.125, -1.0]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "min"}
  ml_program.global private mutable @w_max(dense<[0.5, 1.0]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "max"}
  ml_program.global private mutable @w_momentum_buffer(dense<0.0> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private mutable @main_observe(dense<1> : tensor<i8>) : tensor<i8>
  ml_program.global private mutable @main_step(dense<7> : tensor<i64>) : tensor<i64>
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %a = ml_program.global_load @act_min : tensor<f32>
    %w = ml_program.global_load @w : tensor<2xf32>
    %lo0 = arith.constant dense<0x7F800000> : tensor<2xf32>
    %hi0 = arith.constant dense<0xFF800000> : tensor<2xf32>
    %lo, %hi = qat.observer %w, %lo0, %hi0 {axis = 0 : i64, qat.weight_range = [@w_min, @w_max]} : tensor<2xf32>, tensor<2xf32>
    %s, %z = qat.choose_qparams %lo, %hi {qscheme = #qat.qscheme<symmetric>, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2xf32> -> tensor<2xi32>
    %wq = qat.fake_quant %w, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2xf32>, tensor<2xf32>, tensor<2xi32>
    %y = tosa.add %x, %wq : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    return %y : tensor<2xf32>
  }
  func.func @main_train_step(%x: tensor<2xf32>) -> tensor<2xf32> {
    %s = ml_program.global_load @main_step : tensor<i64>
    %m = ml_program.global_load @w_momentum_buffer : tensor<2xf32>
    return %x : tensor<2xf32>
  }
  func.func @main_get_state() -> tensor<i8> {
    %f = ml_program.global_load @main_observe : tensor<i8>
    return %f : tensor<i8>
  }
}

// -----

// Observers frozen: the stored range replaces the weight observer.
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[LO:.*]] = arith.constant dense<[1.250000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-DAG: %[[HI:.*]] = arith.constant dense<[5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK-NOT: qat.observer
// CHECK: qat.choose_qparams %[[LO]], %[[HI]]
module {
  ml_program.global private mutable @w(dense<[0.25, -0.5]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @w_min(dense<[0.125, -1.0]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "min"}
  ml_program.global private mutable @w_max(dense<[0.5, 1.0]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "max"}
  ml_program.global private mutable @main_observe(dense<0> : tensor<i8>) : tensor<i8>
  func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
    %w = ml_program.global_load @w : tensor<2xf32>
    %lo0 = arith.constant dense<0x7F800000> : tensor<2xf32>
    %hi0 = arith.constant dense<0xFF800000> : tensor<2xf32>
    %lo, %hi = qat.observer %w, %lo0, %hi0 {axis = 0 : i64, qat.weight_range = [@w_min, @w_max]} : tensor<2xf32>, tensor<2xf32>
    %s, %z = qat.choose_qparams %lo, %hi {qscheme = #qat.qscheme<symmetric>, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2xf32> -> tensor<2xi32>
    %wq = qat.fake_quant %w, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2xf32>, tensor<2xf32>, tensor<2xi32>
    %y = tosa.add %x, %wq : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    return %y : tensor<2xf32>
  }
}
