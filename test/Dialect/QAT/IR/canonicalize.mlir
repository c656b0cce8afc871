// RUN: timeout 120 qat-opt %s -split-input-file -canonicalize | FileCheck %s

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

// -----

// Crash class 14: a splat constant of 10^10 elements (storage: one value)
// fake-quantized with constant parameters. The folder reserved 10^10 entries
// (abort); a splat folds to a splat now: 0.5 / 0.1 = 5 -> 0.5.
// CHECK-LABEL: func.func @fold_huge_splat
// CHECK: %[[C:.*]] = arith.constant dense<5.000000e-01> : tensor<100000x100000xf32>
// CHECK-NOT: qat.fake_quant
// CHECK: return %[[C]]
func.func @fold_huge_splat() -> tensor<100000x100000xf32> {
  %w = arith.constant dense<0.5> : tensor<100000x100000xf32>
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %y = qat.fake_quant %w, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<100000x100000xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<100000x100000xf32>
}

// -----

// Per axis with splat parameters: still one value.
// CHECK-LABEL: func.func @fold_huge_splat_per_axis
// CHECK: %[[C:.*]] = arith.constant dense<5.000000e-01> : tensor<100000x100000xf32>
// CHECK: return %[[C]]
func.func @fold_huge_splat_per_axis() -> tensor<100000x100000xf32> {
  %w = arith.constant dense<0.5> : tensor<100000x100000xf32>
  %s = arith.constant dense<0.1> : tensor<100000xf32>
  %z = arith.constant dense<0> : tensor<100000xi32>
  %y = qat.fake_quant %w, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<100000x100000xf32>, tensor<100000xf32>, tensor<100000xi32>
  return %y : tensor<100000x100000xf32>
}

// -----

// A splat with per-channel parameters that differ would have to be written
// out element by element: above 2^24 elements it is not folded.
// CHECK-LABEL: func.func @no_fold_splat_expansion
// CHECK: qat.fake_quant
func.func @no_fold_splat_expansion() -> tensor<2x16777216xf32> {
  %w = arith.constant dense<0.5> : tensor<2x16777216xf32>
  %s = arith.constant dense<[0.1, 0.3]> : tensor<2xf32>
  %z = arith.constant dense<0> : tensor<2xi32>
  %y = qat.fake_quant %w, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x16777216xf32>, tensor<2xf32>, tensor<2xi32>
  return %y : tensor<2x16777216xf32>
}

// -----

// Below the limit it is: channel 0: 0.5 / 0.1 -> 0.5, channel 1: 0.5 / 0.3
// = 1.67 -> 2 * 0.3 = 0.6.
// CHECK-LABEL: func.func @fold_splat_expansion
// CHECK: arith.constant dense<{{\[\[}}5.000000e-01, 5.000000e-01], [6.000000e-01, 6.000000e-01]]> : tensor<2x2xf32>
func.func @fold_splat_expansion() -> tensor<2x2xf32> {
  %w = arith.constant dense<0.5> : tensor<2x2xf32>
  %s = arith.constant dense<[0.1, 0.3]> : tensor<2xf32>
  %z = arith.constant dense<0> : tensor<2xi32>
  %y = qat.fake_quant %w, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x2xf32>, tensor<2xf32>, tensor<2xi32>
  return %y : tensor<2x2xf32>
}

// -----

// Crash class 13: an observer of the 10^10-element splat (a hang: every
// element was visited). The range of a splat is its value.
// CHECK-LABEL: func.func @observe_huge_splat
// CHECK: %[[C:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// CHECK: return %[[C]], %[[C]]
func.func @observe_huge_splat() -> (tensor<f32>, tensor<f32>) {
  %w = arith.constant dense<0.5> : tensor<100000x100000xf32>
  %lo = arith.constant dense<0x7F800000> : tensor<f32>
  %hi = arith.constant dense<0xFF800000> : tensor<f32>
  %a, %b = qat.observer %w, %lo, %hi : tensor<100000x100000xf32>, tensor<f32>
  return %a, %b : tensor<f32>, tensor<f32>
}

// -----

// Per channel, with splat state of 10^10 channels: splat results; then
// choose_qparams of the splat range folds to splat parameters.
// Symmetric s8 of [0, 0.5]: scale = 0.5 / 127.5.
// CHECK-LABEL: func.func @observe_huge_splat_per_channel
// CHECK-DAG: arith.constant dense<0.000000e+00> : tensor<10000000000xf32>
// CHECK-DAG: arith.constant dense<5.000000e-01> : tensor<10000000000xf32>
// CHECK-DAG: arith.constant dense<0.00392156886> : tensor<10000000000xf32>
// CHECK-DAG: arith.constant dense<0> : tensor<10000000000xi32>
// CHECK-NOT: qat.observer
// CHECK-NOT: qat.choose_qparams
func.func @observe_huge_splat_per_channel() -> (tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xi32>) {
  %w = arith.constant dense<0.5> : tensor<10000000000x1xf32>
  %lo = arith.constant dense<0.0> : tensor<10000000000xf32>
  %hi = arith.constant dense<0xFF800000> : tensor<10000000000xf32>
  %a, %b = qat.observer %w, %lo, %hi {axis = 0 : i64} : tensor<10000000000x1xf32>, tensor<10000000000xf32>
  %s, %z = qat.choose_qparams %a, %b {quant_min = -128 : i64, quant_max = 127 : i64, qscheme = #qat.qscheme<symmetric>} : tensor<10000000000xf32> -> tensor<10000000000xi32>
  return %a, %b, %s, %z : tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xi32>
}

// -----

// The verifiers and the repeated-fake-quant pattern look at each stored
// parameter once: per-axis splat scales of 10^10 channels cost one check.
// CHECK-LABEL: func.func @repeated_per_axis_splat
// CHECK: %[[Q:.*]] = qat.fake_quant %arg0
// CHECK-NOT: qat.fake_quant
// CHECK: return %[[Q]]
func.func @repeated_per_axis_splat(%x: tensor<10000000000xf32>) -> tensor<10000000000xf32> {
  %s = arith.constant dense<0.25> : tensor<10000000000xf32>
  %z = arith.constant dense<3> : tensor<10000000000xi32>
  %y = qat.fake_quant %x, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xi32>
  %y2 = qat.fake_quant %y, %s, %z {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<10000000000xf32>, tensor<10000000000xf32>, tensor<10000000000xi32>
  return %y2 : tensor<10000000000xf32>
}

// -----

// qat.exact_accumulator folds to its int32 operand (its f32 relaxation only
// carries the gradient, which is built before any canonicalization).
// CHECK-LABEL: func.func @exact_accumulator
// CHECK-SAME: %{{.*}}: tensor<2x3xf32>, %[[E:.*]]: tensor<2x3xi32>
// CHECK-NEXT: return %[[E]]
func.func @exact_accumulator(%r: tensor<2x3xf32>, %e: tensor<2x3xi32>) -> tensor<2x3xi32> {
  %a = qat.exact_accumulator %r, %e : tensor<2x3xf32>, tensor<2x3xi32>
  return %a : tensor<2x3xi32>
}
