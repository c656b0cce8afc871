// RUN: qat-opt %s --split-input-file --verify-diagnostics --qat-freeze-qparams | FileCheck %s

// Calibrated state (-1, 3): u8 affine scale 4/255, zero point 64 (PyTorch:
// 0 - round(-1 / (4/255)) = 64). The weight observer folds per channel:
// channel ranges [-0.25, 0.5] and [0.75, 1.0], symmetric scales
// max(|lo|, hi) / 127.5.
// CHECK-LABEL: func.func @frozen
// CHECK-NOT: ml_program
// CHECK-NOT: qat.observer
// CHECK-NOT: qat.choose_qparams
// CHECK-DAG: %[[S:.*]] = arith.constant dense<0.0156862754> : tensor<f32>
// CHECK-DAG: %[[Z:.*]] = arith.constant dense<64> : tensor<i32>
// CHECK: qat.fake_quant %arg0, %[[S]], %[[Z]]
// CHECK: %[[WS:.*]] = arith.constant dense<[0.00392156886, 0.00784313772]> : tensor<2xf32>
// CHECK: qat.fake_quant %{{.*}}, %[[WS]], %{{.*}} {axis = 0 : i64
ml_program.global private mutable @act0_min(dense<-1.0> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @act0_max(dense<3.0> : tensor<f32>) : tensor<f32>
func.func @frozen(%x: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>) {
  %min = ml_program.global_load @act0_min : tensor<f32>
  %max = ml_program.global_load @act0_max : tensor<f32>
  %lo, %hi = qat.observer %x, %min, %max {kind = #qat.observer<moving_average>} : tensor<1x2x2x2xf32>, tensor<f32>
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<f32> -> tensor<i32>
  ml_program.global_store @act0_min = %lo : tensor<f32>
  ml_program.global_store @act0_max = %hi : tensor<f32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %inf = arith.constant dense<0x7F800000> : tensor<2xf32>
  %ninf = arith.constant dense<0xFF800000> : tensor<2xf32>
  %wlo, %whi = qat.observer %w, %inf, %ninf {axis = 0 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>
  %ws, %wz = qat.choose_qparams %wlo, %whi {quant_min = -128 : i64, quant_max = 127 : i64, qscheme = #qat.qscheme<symmetric>} : tensor<2xf32> -> tensor<2xi32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  return %xq, %wq : tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>
}

// -----

ml_program.global private mutable @act0_min(dense<0x7F800000> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @act0_max(dense<0xFF800000> : tensor<f32>) : tensor<f32>
func.func @never_calibrated(%x: tensor<4xf32>) -> tensor<4xf32> {
  %min = ml_program.global_load @act0_min : tensor<f32>
  %max = ml_program.global_load @act0_max : tensor<f32>
  %lo, %hi = qat.observer %x, %min, %max : tensor<4xf32>, tensor<f32>
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<f32> -> tensor<i32>
  ml_program.global_store @act0_min = %lo : tensor<f32>
  ml_program.global_store @act0_max = %hi : tensor<f32>
  // expected-error @below {{'qat.fake_quant' op has no calibrated range: its observer's state is still +inf/-inf, it saw no data or only NaN (observers ignore NaN); run qat-calibrate on finite data first or freeze with allow-uncalibrated}}
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %xq : tensor<4xf32>
}
