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

// Per-tensor observer of 4 x 32 = 128 elements (a multiple of 16): 16 lane
// ranges over the rows of 16 (the inner loop parallel, so it vectorizes),
// then the 16 lanes combined, then the state update.
// CHECK-LABEL: func.func @observer_per_tensor
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<4x32xf32> into tensor<128xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [8, 16] : tensor<128xf32> into tensor<8x16xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]{{.*}} ins(%{{.*}} : tensor<8x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<16xf32>, tensor<16xf32>)
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<16xf32>, tensor<16xf32>) outs(%{{.*}}, %{{.*}} : tensor<f32>, tensor<f32>)
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic
// CHECK: arith.cmpf oeq
func.func @observer_per_tensor(%x: tensor<4x32xf32>, %lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %a, %b = qat.observer %x, %lo, %hi {kind = #qat.observer<moving_average>} : tensor<4x32xf32>, tensor<f32>
  return %a, %b : tensor<f32>, tensor<f32>
}

// Fewer than 64 elements, or not a multiple of 16: one reduction.
// CHECK-LABEL: func.func @observer_per_tensor_small
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]
func.func @observer_per_tensor_small(%x: tensor<4x5xf32>, %lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %a, %b = qat.observer %x, %lo, %hi : tensor<4x5xf32>, tensor<f32>
  return %a, %b : tensor<f32>, tensor<f32>
}

// Per-channel observer of an OHWI weight (axis 0, 3 x 3 x 16 = 144
// elements per channel, a multiple of 16): 16 lane ranges per channel over
// its rows of 16, then each channel's lanes combined, then the update.
// CHECK-LABEL: func.func @observer_per_channel
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<8x3x3x16xf32> into tensor<8x144xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [8, 9, 16] : tensor<8x144xf32> into tensor<8x9x16xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]{{.*}} ins(%{{.*}} : tensor<8x9x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<8xf32>, tensor<8xf32>)
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic
// CHECK: arith.minimumf
func.func @observer_per_channel(%x: tensor<8x3x3x16xf32>, %lo: tensor<8xf32>, %hi: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %a, %b = qat.observer %x, %lo, %hi {axis = 0 : i64} : tensor<8x3x3x16xf32>, tensor<8xf32>
  return %a, %b : tensor<8xf32>, tensor<8xf32>
}

// Leading unit dimensions before the axis are allowed ([1, K, N] would
// be axis 2 with nothing after it: one reduction, below).
// CHECK-LABEL: func.func @observer_per_channel_unit_lead
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<1x4x64xf32> into tensor<4x64xf32>
// CHECK: iterator_types = ["parallel", "reduction", "parallel"]
func.func @observer_per_channel_unit_lead(%x: tensor<1x4x64xf32>, %lo: tensor<4xf32>, %hi: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a, %b = qat.observer %x, %lo, %hi {axis = 1 : i64} : tensor<1x4x64xf32>, tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// The channel axis last, a channel run not a multiple of 16, or fewer than
// 64 elements per channel: one reduction.
// CHECK-LABEL: func.func @observer_per_channel_other
// CHECK-NOT: tensor.expand_shape
// CHECK: iterator_types = ["reduction", "reduction", "parallel"]
// CHECK-NOT: tensor.expand_shape
// CHECK: iterator_types = ["parallel", "reduction", "reduction", "reduction"]
// CHECK-NOT: tensor.expand_shape
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK-NOT: tensor.expand_shape
// CHECK: return
func.func @observer_per_channel_other(%x: tensor<1x64x8xf32>, %y: tensor<8x3x3x3xf32>, %z: tensor<8x48xf32>, %lo: tensor<8xf32>, %hi: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %a, %b = qat.observer %x, %lo, %hi {axis = 2 : i64} : tensor<1x64x8xf32>, tensor<8xf32>
  %c, %d = qat.observer %y, %lo, %hi {axis = 0 : i64} : tensor<8x3x3x3xf32>, tensor<8xf32>
  %e, %f = qat.observer %z, %lo, %hi {axis = 0 : i64} : tensor<8x48xf32>, tensor<8xf32>
  return %a, %c, %e : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
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

// -----

// conv2d_backward_data, tap by tap: a zero accumulator of the padded input
// (9 = 8 + 1 + 0 rows), and for each kernel position the strided slice that
// its contributions land on, += sum over o of dy * W[o, kh, kw, i]; then
// the interior.
// CHECK-DAG: #[[$DY:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d4, d3)>
// CHECK-DAG: #[[$O:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @conv2d_backward_data
// CHECK-SAME: (%[[DYV:.*]]: tensor<1x4x4x16xf32>, %[[WV:.*]]: tensor<16x2x2x8xf32>)
// CHECK: %[[ACC:.*]] = linalg.fill {{.*}} -> tensor<1x9x9x8xf32>
// CHECK: %[[S0:.*]] = tensor.extract_slice %[[ACC]][0, 0, 0, 0] [1, 4, 4, 8] [1, 2, 2, 1]
// CHECK: %[[W0:.*]] = tensor.extract_slice %[[WV]][0, 0, 0, 0] [16, 1, 1, 8] [1, 1, 1, 1] : tensor<16x2x2x8xf32> to tensor<16x8xf32>
// CHECK: %[[G0:.*]] = linalg.generic {indexing_maps = [#[[$DY]], #[[$W]], #[[$O]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[DYV]], %[[W0]] : {{.*}}) outs(%[[S0]] : tensor<1x4x4x8xf32>)
// CHECK: %[[P:.*]] = arith.mulf
// CHECK: arith.addf %{{.*}}, %[[P]] : f32
// CHECK: %[[A1:.*]] = tensor.insert_slice %[[G0]] into %[[ACC]][0, 0, 0, 0] [1, 4, 4, 8] [1, 2, 2, 1]
// CHECK: %[[S1:.*]] = tensor.extract_slice %[[A1]][0, 0, 1, 0] [1, 4, 4, 8] [1, 2, 2, 1]
// CHECK: tensor.extract_slice %[[WV]][0, 0, 1, 0] [16, 1, 1, 8]
// CHECK: %[[G1:.*]] = linalg.generic
// CHECK: %[[A2:.*]] = tensor.insert_slice %[[G1]] into %[[A1]][0, 0, 1, 0] [1, 4, 4, 8] [1, 2, 2, 1]
// CHECK: %[[DX:.*]] = tensor.extract_slice %{{.*}}[0, 1, 1, 0] [1, 8, 8, 8] [1, 1, 1, 1] : tensor<1x9x9x8xf32> to tensor<1x8x8x8xf32>
// CHECK: return %[[DX]]
func.func @conv2d_backward_data(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x2x2x8xf32>) -> tensor<1x8x8x8xf32> {
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
      : (tensor<1x4x4x16xf32>, tensor<16x2x2x8xf32>) -> tensor<1x8x8x8xf32>
  return %dx : tensor<1x8x8x8xf32>
}

// -----

// conv2d_backward_weight: one reduction over (n, oh, ow) of the zero-padded
// input, read at (oh * sh + kh * dh, ow * sw + kw * dw).
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5 * 2 + d1 * 2, d2 + d6, d3)>
// CHECK-DAG: #[[$DY:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d0)>
// CHECK-DAG: #[[$O:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @conv2d_backward_weight
// CHECK-SAME: (%[[XV:.*]]: tensor<2x9x8x3xf32>, %[[DYV:.*]]: tensor<2x4x8x5xf32>)
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[XP:.*]] = tensor.pad %[[XV]] low[0, 2, 1, 0] high[0, 1, 1, 0]
// CHECK: tensor.yield %[[ZERO]]
// CHECK: %[[INIT:.*]] = linalg.fill {{.*}} -> tensor<5x3x3x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$X]], #[[$DY]], #[[$O]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
// CHECK-SAME: ins(%[[XP]], %[[DYV]] : {{.*}}) outs(%[[INIT]] : tensor<5x3x3x3xf32>)
// CHECK: ^bb0(%[[XI:.*]]: f32, %[[DI:.*]]: f32, %[[ACCI:.*]]: f32):
// CHECK: %[[P:.*]] = arith.mulf %[[DI]], %[[XI]] : f32
// CHECK: arith.addf %[[ACCI]], %[[P]] : f32
func.func @conv2d_backward_weight(%x: tensor<2x9x8x3xf32>, %dy: tensor<2x4x8x5xf32>) -> tensor<5x3x3x3xf32> {
  %dw = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 2, 1, 1, 1>, stride = array<i64: 2, 1>, dilation = array<i64: 2, 1>}
      : (tensor<2x9x8x3xf32>, tensor<2x4x8x5xf32>) -> tensor<5x3x3x3xf32>
  return %dw : tensor<5x3x3x3xf32>
}

// -----

// depthwise_conv2d_backward_data: per tap, += sum over m of
// dy[n, oh, ow, c * M + m] * W[kh, kw, c, m].
// CHECK-DAG: #[[$DY:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3 * 2 + d4)>
// CHECK-DAG: #[[$W:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d3, d4)>
// CHECK-LABEL: func.func @depthwise_conv2d_backward_data
// CHECK: %[[ACC:.*]] = linalg.fill {{.*}} -> tensor<1x6x6x4xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0] [1, 1, 4, 2] [1, 1, 1, 1] : tensor<3x3x4x2xf32> to tensor<4x2xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$DY]], #[[$W]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK: tensor.extract_slice %{{.*}}[0, 1, 1, 0] [1, 4, 4, 4] [1, 1, 1, 1] : tensor<1x6x6x4xf32> to tensor<1x4x4x4xf32>
func.func @depthwise_conv2d_backward_data(%dy: tensor<1x4x4x8xf32>, %w: tensor<3x3x4x2xf32>) -> tensor<1x4x4x4xf32> {
  %dx = qat.depthwise_conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>}
      : (tensor<1x4x4x8xf32>, tensor<3x3x4x2xf32>) -> tensor<1x4x4x4xf32>
  return %dx : tensor<1x4x4x4xf32>
}

// -----

// depthwise_conv2d_backward_weight: dims (kh, kw, c, m, n, oh, ow).
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5 * 2 + d0, d6 * 2 + d1, d2)>
// CHECK-DAG: #[[$DY:.*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d4, d5, d6, d2 * 2 + d3)>
// CHECK-LABEL: func.func @depthwise_conv2d_backward_weight
// CHECK: tensor.pad %{{.*}} low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: linalg.generic {indexing_maps = [#[[$X]], #[[$DY]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
// CHECK-SAME: outs(%{{.*}} : tensor<3x3x4x2xf32>)
func.func @depthwise_conv2d_backward_weight(%x: tensor<1x8x8x4xf32>, %dy: tensor<1x4x4x8xf32>) -> tensor<3x3x4x2xf32> {
  %dw = qat.depthwise_conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
      : (tensor<1x8x8x4xf32>, tensor<1x4x4x8xf32>) -> tensor<3x3x4x2xf32>
  return %dw : tensor<3x3x4x2xf32>
}

// -----

// max_pool2d_backward: the chosen tap of each window (in-bounds, first, or
// greater, or NaN: PyTorch's rule), scanned over the window's shape (loops
// n, oh, ow, kh, kw, c: the channels innermost); then
// per tap, dy added where that tap was chosen.
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1 * 2 + d3, d2 * 2 + d4, d5)>
// CHECK-DAG: #[[$K:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d3, d4)>
// CHECK-LABEL: func.func @max_pool2d_backward
// CHECK-SAME: (%[[DYV:.*]]: tensor<2x4x4x4xf32>, %[[XV:.*]]: tensor<2x8x8x4xf32>)
// CHECK: %[[XP:.*]] = tensor.pad %[[XV]] low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: %[[WIN:.*]] = tensor.empty() : tensor<3x3xf32>
// CHECK: %[[SEL:.*]]:2 = linalg.generic {indexing_maps = [#[[$X]], #[[$K]], #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]}
// CHECK-SAME: ins(%[[XP]], %[[WIN]] : {{.*}})
// CHECK: ^bb0(%[[V:.*]]: f32, %{{.*}}: f32, %[[BEST:.*]]: f32, %[[TAP:.*]]: i32):
// CHECK: %[[NONE:.*]] = arith.cmpi eq, %[[TAP]], %{{.*}} : i32
// CHECK: %[[GT:.*]] = arith.cmpf ogt, %[[V]], %[[BEST]] : f32
// CHECK: %[[NAN:.*]] = arith.cmpf uno, %[[V]], %[[V]] : f32
// CHECK: %[[OR:.*]] = arith.ori %[[GT]], %[[NAN]] : i1
// CHECK: %[[OR2:.*]] = arith.ori %[[NONE]], %[[OR]] : i1
// CHECK: %[[TAKE:.*]] = arith.andi %{{.*}}, %[[OR2]] : i1
// CHECK: arith.select %[[TAKE]], %[[V]], %[[BEST]] : f32
// CHECK: %[[ACC:.*]] = linalg.fill {{.*}} -> tensor<2x10x10x4xf32>
// CHECK: linalg.generic {{.*}} ins(%[[DYV]], %[[SEL]]#1 : tensor<2x4x4x4xf32>, tensor<2x4x4x4xi32>)
// CHECK: %[[HIT:.*]] = arith.cmpi eq, %{{.*}}, %c0_i32 : i32
// CHECK: %[[SUM:.*]] = arith.addf
// CHECK: arith.select %[[HIT]], %[[SUM]], %{{.*}} : f32
// CHECK: arith.cmpi eq, %{{.*}}, %c8_i32 : i32
// CHECK: tensor.extract_slice %{{.*}}[0, 1, 1, 0] [2, 8, 8, 4] [1, 1, 1, 1]
func.func @max_pool2d_backward(%dy: tensor<2x4x4x4xf32>, %x: tensor<2x8x8x4xf32>) -> tensor<2x8x8x4xf32> {
  %dx = qat.max_pool2d_backward %dy, %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x4xf32>, tensor<2x8x8x4xf32>) -> tensor<2x8x8x4xf32>
  return %dx : tensor<2x8x8x4xf32>
}

// -----

// avg_pool2d_backward: dy divided by the window's in-bounds count (from the
// output indices), then added tap by tap.
// CHECK-LABEL: func.func @avg_pool2d_backward
// CHECK: %[[Q:.*]] = linalg.generic
// CHECK: linalg.index 1 : index
// CHECK: arith.minsi
// CHECK: arith.maxsi
// CHECK: linalg.index 2 : index
// CHECK: %[[CNT:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: arith.divf %{{.*}}, %[[CNT]] : f32
// CHECK: linalg.fill {{.*}} -> tensor<2x10x10x4xf32>
// CHECK-COUNT-9: linalg.generic {{.*}} ins(%[[Q]] : tensor<2x4x4x4xf32>)
func.func @avg_pool2d_backward(%dy: tensor<2x4x4x4xf32>) -> tensor<2x8x8x4xf32> {
  %dx = qat.avg_pool2d_backward %dy {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 1, 1, 1, 1>}
      : tensor<2x4x4x4xf32> -> tensor<2x8x8x4xf32>
  return %dx : tensor<2x8x8x4xf32>
}

// -----

// Softmax cross-entropy: row maxima, f64 sums of exp(x - m) rounded once,
// log; the labels' log-probabilities summed in f64 (NaN for a label out of
// range), negated and divided by N.
// CHECK-LABEL: func.func @softmax_cross_entropy
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: %[[D:.*]] = arith.subf
// CHECK: %[[E:.*]] = math.exp %[[D]] : f32
// CHECK: %[[E64:.*]] = arith.extf %[[E]] : f32 to f64
// CHECK: arith.addf %{{.*}}, %[[E64]] : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: math.log
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst{{.*}} : f64
// CHECK: %[[S:.*]] = arith.truncf %{{.*}} : f64 to f32
// CHECK: %[[NEG:.*]] = arith.negf %[[S]] : f32
// CHECK: arith.divf %[[NEG]], %{{.*}} : f32
func.func @softmax_cross_entropy(%x: tensor<4x10xf32>, %y: tensor<4xi32>) -> tensor<f32> {
  %l = qat.softmax_cross_entropy %x, %y : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Its gradient: exp(logp) * (g / N), minus g / N at the label.
// CHECK-LABEL: func.func @softmax_cross_entropy_grad
// CHECK: math.log
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK: %[[XM:.*]] = arith.subf
// CHECK: %[[LP:.*]] = arith.subf %[[XM]]
// CHECK: %[[DD:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: %[[EX:.*]] = math.exp %[[LP]] : f32
// CHECK: %[[E:.*]] = arith.mulf %[[EX]], %[[DD]] : f32
// CHECK: %[[HIT:.*]] = arith.cmpi eq
// CHECK: %[[M:.*]] = arith.subf %[[E]], %[[DD]] : f32
// CHECK: arith.select %[[HIT]], %[[M]], %[[E]] : f32
func.func @softmax_cross_entropy_grad(%g: tensor<f32>, %x: tensor<4x10xf32>, %y: tensor<4xi32>) -> tensor<4x10xf32> {
  %d = qat.softmax_cross_entropy_grad %g, %x, %y : (tensor<f32>, tensor<4x10xf32>, tensor<4xi32>) -> tensor<4x10xf32>
  return %d : tensor<4x10xf32>
}

// -----

// SGD: the momentum buffer (first step: the direction itself), then the
// parameter, as separate generics; each multiply-add fused (PyTorch's
// vectorized kernels), -lr rounded to f32.
// CHECK-LABEL: func.func @sgd_update
// CHECK: %[[B:.*]] = linalg.generic
// CHECK: ^bb0(%[[P:.*]]: f32, %[[G:.*]]: f32, %[[OLD:.*]]: f32, %[[S:.*]]: i64, %{{.*}}: f32):
// CHECK: %[[D:.*]] = math.fma %[[P]], %{{.*}}, %[[G]] : f32
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[S]], %{{.*}} : i64
// CHECK: %[[SC:.*]] = arith.mulf %[[OLD]], %{{.*}} : f32
// CHECK: %[[LATER:.*]] = math.fma %[[D]], %{{.*}}, %[[SC]] : f32
// CHECK: arith.select %[[FIRST]], %[[D]], %[[LATER]] : f32
// CHECK: %[[NP:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[B]], %{{.*}} :
// CHECK: ^bb0(%[[P2:.*]]: f32, %{{.*}}: f32, %[[B2:.*]]: f32, %[[LR:.*]]: f64, %{{.*}}: f32):
// CHECK: %[[LR32:.*]] = arith.truncf %[[LR]] : f64 to f32
// CHECK: %[[NEG:.*]] = arith.negf %[[LR32]] : f32
// CHECK: math.fma %[[B2]], %[[NEG]], %[[P2]] : f32
// CHECK: return %[[NP]], %[[B]]
func.func @sgd_update(%p: tensor<8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> (tensor<8xf32>, tensor<8xf32>) {
  %p1, %b1 = qat.sgd_update %p, %g, %b, %lr, %s {momentum = 0.9 : f64, weight_decay = 1.0e-4 : f64} : tensor<8xf32>, tensor<f64>, tensor<i64>
  return %p1, %b1 : tensor<8xf32>, tensor<8xf32>
}

// -----

// Adam: the f64 scalars (bias corrections with pow, -lr / bc1, sqrt(bc2)),
// the two moments (addcmul fused), then the parameter.
// CHECK-LABEL: func.func @adam_update
// CHECK: %[[NS:.*]] = linalg.generic
// CHECK: math.powf %{{.*}}, %{{.*}} : f64
// CHECK: %[[SS:.*]] = arith.divf %{{.*}}, %{{.*}} : f64
// CHECK: arith.negf %[[SS]] : f64
// CHECK: %[[BS:.*]] = linalg.generic
// CHECK: math.sqrt %{{.*}} : f64
// CHECK: %[[M:.*]] = linalg.generic
// CHECK: math.fma
// CHECK: %[[V:.*]] = linalg.generic
// CHECK: %[[A:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[VB:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: math.fma %[[A]], %{{.*}}, %[[VB]] : f32
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[M]], %[[V]], %[[NS]], %[[BS]] :
// CHECK: %[[SQ:.*]] = math.sqrt %{{.*}} : f32
// CHECK: %[[Q:.*]] = arith.divf %[[SQ]], %{{.*}} : f32
// CHECK: %[[DEN:.*]] = arith.addf %[[Q]], %{{.*}} : f32
// CHECK: %[[NUM:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: %[[STEP:.*]] = arith.divf %[[NUM]], %[[DEN]] : f32
// CHECK: arith.addf %{{.*}}, %[[STEP]] : f32
func.func @adam_update(%p: tensor<8xf32>, %g: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %p1, %m1, %v1 = qat.adam_update %p, %g, %m, %v, %lr, %s : tensor<8xf32>, tensor<f64>, tensor<i64>
  return %p1, %m1, %v1 : tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
}

// -----

// Batch norm on the batch's statistics: each channel's sums run over the
// positions (n, h, w) outermost, left to right; the squared deviations
// accumulate with fma; invstd in f64; the output is one fma per element.
// CHECK-LABEL: func.func @batch_norm_train
// CHECK: %[[S:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "reduction", "parallel"]
// CHECK: arith.addf
// CHECK: %[[M:.*]] = linalg.generic
// CHECK: arith.divf %{{.*}}, %cst{{.*}} : f32
// CHECK: %[[Q:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "reduction", "parallel"]
// CHECK: %[[D:.*]] = arith.subf
// CHECK: math.fma %[[D]], %[[D]], %{{.*}} : f32
// CHECK: %[[INV:.*]] = linalg.generic
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: math.sqrt %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: %[[UV:.*]] = linalg.generic
// CHECK: %[[A:.*]] = linalg.generic
// CHECK: %[[SH:.*]] = linalg.generic
// CHECK: %[[NM:.*]] = arith.negf
// CHECK: math.fma %[[NM]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[OUT:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK: math.fma %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: return %[[OUT]], %[[M]], %[[INV]], %[[UV]]
func.func @batch_norm_train(%x: tensor<2x3x3x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<2x3x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %y, %m, %s, %v = qat.batch_norm_train %x, %g, %b {epsilon = 1.0e-5 : f64} : tensor<2x3x3x4xf32>, tensor<4xf32>
  return %y, %m, %s, %v : tensor<2x3x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// qat.requantize with a float bias and the zero point's offset (PyTorch's
// onednn form): (f32(acc) + bias) * m, + f32(zp + c), roundeven, - c, clamp.
// CHECK-LABEL: func.func @requantize_float_bias
// CHECK: linalg.generic
// CHECK: ^bb0(%[[ACC:.*]]: i32, %[[M:.*]]: f32, %[[Z:.*]]: i32, %[[B:.*]]: f32, %{{.*}}: i8):
// CHECK: %[[A:.*]] = arith.sitofp %[[ACC]] : i32 to f32
// CHECK: %[[T:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK: %[[U:.*]] = arith.mulf %[[T]], %[[M]] : f32
// CHECK: %[[C:.*]] = arith.constant 1.280000e+02 : f32
// CHECK: %[[ZF:.*]] = arith.sitofp %[[Z]] : i32 to f32
// CHECK: %[[ZC:.*]] = arith.addf %[[ZF]], %[[C]] : f32
// CHECK: %[[V:.*]] = arith.addf %[[U]], %[[ZC]] : f32
// CHECK: %[[R:.*]] = math.roundeven %[[V]] : f32
// CHECK: arith.subf %[[R]], %[[C]] : f32
// CHECK: arith.fptosi
func.func @requantize_float_bias(%acc: tensor<2x3xi32>, %m: tensor<3xf32>, %z: tensor<3xi32>, %b: tensor<3xf32>) -> tensor<2x3xi8> {
  %q = qat.requantize %acc, %m, %z bias %b {axis = 1 : i64, float_zero_point_offset = 128 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<2x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<3xf32> -> tensor<2x3xi8>
  return %q : tensor<2x3xi8>
}

// -----

// qat.rescale_add {round_half_away_from_zero} (PyTorch's qnnpack add): the
// sum v = (a - za) * ma + (b - zb) * mb in i64, then |v| shifted with ties
// up and the sign put back, + z, clamp.
// CHECK-LABEL: func.func @rescale_add_away
// CHECK: linalg.generic
// CHECK: ^bb0(%[[A:.*]]: i8, %[[B:.*]]: i8, %[[MA:.*]]: i32, %[[ZA:.*]]: i32, %[[MB:.*]]: i32, %[[ZB:.*]]: i32, %[[N:.*]]: i8, %[[Z:.*]]: i32, %{{.*}}: i8):
// CHECK: %[[V:.*]] = arith.addi %{{.*}}, %{{.*}} : i64
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK: %[[NEG:.*]] = arith.cmpi slt, %[[V]], %[[ZERO]] : i64
// CHECK: %[[MINUS:.*]] = arith.subi %[[ZERO]], %[[V]] : i64
// CHECK: %[[MAG:.*]] = arith.select %[[NEG]], %[[MINUS]], %[[V]] : i64
// CHECK: arith.shli
// CHECK: %[[SUM:.*]] = arith.addi %[[MAG]], %{{.*}} : i64
// CHECK: %[[SH:.*]] = arith.shrsi %[[SUM]], %{{.*}} : i64
// CHECK: %[[NSH:.*]] = arith.subi %[[ZERO]], %[[SH]] : i64
// CHECK: %[[R:.*]] = arith.select %[[NEG]], %[[NSH]], %[[SH]] : i64
// CHECK: arith.addi %[[R]], %{{.*}} : i64
// CHECK: arith.maxsi
// CHECK: arith.minsi
func.func @rescale_add_away(%a: tensor<4xi8>, %b: tensor<4xi8>, %m: tensor<i32>, %z: tensor<i32>, %n: tensor<i8>) -> tensor<4xi8> {
  %r = qat.rescale_add %a, %m, %z, %b, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, round_half_away_from_zero} : tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4xi8>
  return %r : tensor<4xi8>
}

// -----

// qat.dequantize with fma_offset: fma(s, f32(q) + c, s * -(f32(z) + c)).
// CHECK-LABEL: func.func @dequantize_fma
// CHECK: ^bb0(%[[Q:.*]]: i8, %[[S:.*]]: f32, %[[Z:.*]]: i32, %{{.*}}: f32):
// CHECK: %[[QF:.*]] = arith.sitofp %[[Q]] : i8 to f32
// CHECK: %[[QC:.*]] = arith.addf %[[QF]], %{{.*}} : f32
// CHECK: %[[ZF:.*]] = arith.sitofp %[[Z]] : i32 to f32
// CHECK: %[[ZC:.*]] = arith.addf %[[ZF]], %{{.*}} : f32
// CHECK: %[[N:.*]] = arith.negf %[[ZC]] : f32
// CHECK: %[[P:.*]] = arith.mulf %[[S]], %[[N]] : f32
// CHECK: math.fma %[[S]], %[[QC]], %[[P]] : f32
func.func @dequantize_fma(%q: tensor<4xi8>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %d = qat.dequantize %q, %s, %z {fma_offset = 128 : i64} : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
  return %d : tensor<4xf32>
}
