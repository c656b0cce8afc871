// RUN: qat-opt %s -split-input-file -convert-qat-to-linalg | FileCheck %s

// Per-axis fake quantization: parameters broadcast along d1, f32 operations
// in the order of the op's formula (reciprocal, multiply, round half even,
// add zero point, clamp, subtract zero point, multiply by scale), and NaN
// for an invalid scale.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$AX:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @fake_quant_per_axis
// CHECK-SAME: (%[[X:.*]]: tensor<2x?xf32>, %[[S:.*]]: tensor<?xf32>, %[[Z:.*]]: tensor<?xi32>)
// CHECK: %[[DIM:.*]] = tensor.dim %[[X]], %{{.*}}
// CHECK: %[[E:.*]] = tensor.empty(%[[DIM]]) : tensor<2x?xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$AX]], #[[$AX]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[S]], %[[Z]] : {{.*}}) outs(%[[E]] : tensor<2x?xf32>)
// CHECK: ^bb0(%[[XI:.*]]: f32, %[[SI:.*]]: f32, %[[ZI:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[ZF:.*]] = arith.sitofp %[[ZI]] : i32 to f32
// CHECK: %[[INV:.*]] = arith.divf %{{.*}}, %[[SI]] : f32
// CHECK: %[[P:.*]] = arith.mulf %[[XI]], %[[INV]] : f32
// CHECK: %[[R:.*]] = math.roundeven %[[P]] : f32
// CHECK: %[[T:.*]] = arith.addf %[[R]], %[[ZF]] : f32
// CHECK: %[[LO:.*]] = arith.maximumf %[[T]], %{{.*}} : f32
// CHECK: %[[Q:.*]] = arith.minimumf %[[LO]], %{{.*}} : f32
// CHECK: %[[D:.*]] = arith.subf %[[Q]], %[[ZF]] : f32
// CHECK: %[[Y:.*]] = arith.mulf %[[D]], %[[SI]] : f32
// CHECK: arith.cmpf ogt, %[[SI]]
// CHECK: arith.cmpf olt, %[[SI]]
// CHECK: %[[OUT:.*]] = arith.select %{{.*}}, %[[Y]], %{{.*}} : f32
// CHECK: linalg.yield %[[OUT]] : f32
func.func @fake_quant_per_axis(%x: tensor<2x?xf32>, %s: tensor<?xf32>, %z: tensor<?xi32>) -> tensor<2x?xf32> {
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<2x?xf32>, tensor<?xf32>, tensor<?xi32>
  return %y : tensor<2x?xf32>
}

// -----

// The other rounding modes: division; floor(x / s + 0.5).
// CHECK-LABEL: func.func @rounding_modes
// CHECK: linalg.generic
// CHECK: %[[Q1:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: math.roundeven %[[Q1]] : f32
// CHECK: linalg.generic
// CHECK: %[[Q2:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[H:.*]] = arith.addf %[[Q2]], %{{.*}} : f32
// CHECK-NEXT: math.floor %[[H]] : f32
func.func @rounding_modes(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64, rounding = #qat.rounding<half_even_div>} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %b = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64, rounding = #qat.rounding<half_up>} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// -----

// The STE gradient multiplies by the 0/1 mask (so a clipped -dy gives -0.0).
// CHECK-LABEL: func.func @fake_quant_grad
// CHECK: linalg.generic
// CHECK: ^bb0(%[[DY:.*]]: f32, %{{.*}}: f32, %{{.*}}: f32, %{{.*}}: i32, %{{.*}}: f32):
// CHECK: arith.cmpf oge
// CHECK: arith.cmpf ole
// CHECK: %[[M:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: %[[DX:.*]] = arith.mulf %[[DY]], %[[M]] : f32
// CHECK: linalg.yield %[[DX]]
func.func @fake_quant_grad(%dy: tensor<4xf32>, %x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %dx = qat.fake_quant_grad %dy, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %dx : tensor<4xf32>
}

// -----

// LSQ: scale clamped to f32 epsilon, zero point rounded half even and
// clamped to the range before the fake quantization.
// CHECK-LABEL: func.func @lsq
// CHECK: ^bb0(%{{.*}}: f32, %[[SC:.*]]: f32, %[[ZP:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[S:.*]] = arith.maximumf %[[SC]], %{{.*}} : f32
// CHECK: %[[ZR:.*]] = math.roundeven %[[ZP]] : f32
// CHECK: arith.maximumf %[[ZR]]
func.func @lsq(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<f32>) -> tensor<4xf32> {
  %y = qat.lsq %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>
  return %y : tensor<4xf32>
}

// -----

// LSQ gradients: an elementwise generic for grad_input, a reduction over the
// non-channel dimensions accumulating in f64, and a rounding to f32. Per
// axis, the backward zero point is rounded half to even; the code and
// xq - x are fused multiply-adds.
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$AX:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @lsq_grad(
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$AX]], #[[$AX]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK: ^bb0(%{{.*}}: f32, %[[X:.*]]: f32, %{{.*}}: f32, %[[ZP:.*]]: f32, %{{.*}}: f32):
// CHECK: %[[ZR:.*]] = math.roundeven %[[ZP]] : f32
// CHECK: %[[ZLO:.*]] = arith.maximumf %[[ZR]]
// CHECK: %[[ZB:.*]] = arith.minimumf %[[ZLO]]
// CHECK: %[[F:.*]] = math.fma %[[X]], %{{.*}}, %[[ZB]] : f32
// CHECK: math.roundeven %[[F]] : f32
// CHECK: linalg.fill ins(%{{.*}} : f64) outs(%{{.*}} : tensor<3xf64>)
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$AX]], #[[$AX]], #[[$AX]], #[[$AX]]], iterator_types = ["parallel", "reduction"]}
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.addf %{{.*}}, %{{.*}} : f64
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f64 to f32
func.func @lsq_grad(%dy: tensor<3x5xf32>, %x: tensor<3x5xf32>, %s: tensor<3xf32>, %z: tensor<3xf32>) -> (tensor<3x5xf32>, tensor<3xf32>, tensor<3xf32>) {
  %dx, %ds, %dz = qat.lsq_grad %dy, %x, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 0 : i64, grad_factor = 0.5 : f64} : tensor<3x5xf32>, tensor<3xf32>
  return %dx, %ds, %dz : tensor<3x5xf32>, tensor<3xf32>, tensor<3xf32>
}

// -----

// Per tensor, the backward zero point is trunc(clamp(zp + 0.5)).
// CHECK-LABEL: func.func @lsq_grad_per_tensor
// CHECK: %[[H:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK: math.trunc
func.func @lsq_grad_per_tensor(%dy: tensor<5xf32>, %x: tensor<5xf32>, %s: tensor<f32>, %z: tensor<f32>) -> (tensor<5xf32>, tensor<f32>, tensor<f32>) {
  %dx, %ds, %dz = qat.lsq_grad %dy, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<5xf32>, tensor<f32>
  return %dx, %ds, %dz : tensor<5xf32>, tensor<f32>, tensor<f32>
}


// -----

// Observer: NaN-ignoring batch reduction, then the moving-average update.
// CHECK-LABEL: func.func @observer
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic
// CHECK: arith.cmpf oeq
// CHECK: %[[D:.*]] = arith.subf
// CHECK: %[[M:.*]] = arith.mulf %{{.*}}, %[[D]]
// CHECK: arith.addf %{{.*}}, %[[M]]
func.func @observer(%x: tensor<4x3xf32>, %lo: tensor<3xf32>, %hi: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %a, %b = qat.observer %x, %lo, %hi {kind = #qat.observer<moving_average>, axis = 1 : i64} : tensor<4x3xf32>, tensor<3xf32>
  return %a, %b : tensor<3xf32>, tensor<3xf32>
}

// -----

// choose_qparams (affine, u8 with reduce_range: 0..127).
// CHECK-LABEL: func.func @choose_qparams
// CHECK: linalg.generic
// CHECK: arith.constant 1.270000e+02 : f32
// CHECK: math.roundeven
// CHECK: arith.fptosi
// CHECK: arith.maxsi
// CHECK: arith.minsi
func.func @choose_qparams(%lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<i32>) {
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64, reduce_range = true} : tensor<f32> -> tensor<i32>
  return %s, %z : tensor<f32>, tensor<i32>
}
