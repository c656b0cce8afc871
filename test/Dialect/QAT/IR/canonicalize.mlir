// RUN: qat-opt %s -split-input-file -canonicalize | FileCheck %s

// A constant input with constant parameters folds; inf saturates to
// quant_max's value and NaN stays NaN.
// CHECK-LABEL: func.func @fold_constant
// CHECK-NOT: qat.fake_quant
// CHECK: arith.constant dense<[3.000000e-01, 2.520000e+01, -3.000000e-01, 2.520000e+01, 0x7FC00000]> : tensor<5xf32>
func.func @fold_constant() -> tensor<5xf32> {
  %x = arith.constant dense<[0.26, 1.0e30, -3.0, 0x7F800000, 0x7FC00000]> : tensor<5xf32>
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<5xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<5xf32>
}

// -----

// Per-axis folding picks each channel's parameters (axis 1 of a 2x2).
// CHECK-LABEL: func.func @fold_per_axis
// CHECK: arith.constant dense<{{\[}}[1.000000e+00, 5.000000e-01], [-1.000000e+00, 1.500000e+00]]> : tensor<2x2xf32>
func.func @fold_per_axis() -> tensor<2x2xf32> {
  %x = arith.constant dense<[[1.2, 0.6], [-0.9, 1.7]]> : tensor<2x2xf32>
  %s = arith.constant dense<[1.0, 0.5]> : tensor<2xf32>
  %z = arith.constant dense<[0, 0]> : tensor<2xi32>
  %y = qat.fake_quant %x, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 1 : i64} : tensor<2x2xf32>, tensor<2xf32>, tensor<2xi32>
  return %y : tensor<2x2xf32>
}

// -----

// Repeating the same fake quantization with a constant scale is exact to drop.
// CHECK-LABEL: func.func @repeated
// CHECK: %[[Y:.*]] = qat.fake_quant %arg0
// CHECK-NOT: qat.fake_quant
// CHECK: return %[[Y]]
func.func @repeated(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<0.02> : tensor<f32>
  %z = arith.constant dense<128> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  %w = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %w : tensor<8xf32>
}

// -----

// Not the same quantization (different range): both stay.
// CHECK-LABEL: func.func @different_range
// CHECK-COUNT-2: qat.fake_quant
func.func @different_range(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<0.02> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  %w = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %w : tensor<8xf32>
}

// -----

// A run-time scale could be subnormal (then fq(fq(x)) != fq(x)): both stay.
// CHECK-LABEL: func.func @runtime_scale
// CHECK-COUNT-2: qat.fake_quant
func.func @runtime_scale(%x: tensor<8xf32>, %s: tensor<f32>) -> tensor<8xf32> {
  %z = arith.constant dense<0> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  %w = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %w : tensor<8xf32>
}

// -----

// A subnormal constant scale is not provably idempotent: both stay.
// CHECK-LABEL: func.func @subnormal_scale
// CHECK-COUNT-2: qat.fake_quant
func.func @subnormal_scale(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<1.0e-40> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  %w = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %w : tensor<8xf32>
}
