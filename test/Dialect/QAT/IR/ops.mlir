// RUN: qat-opt %s | FileCheck %s
// Round trip: print, parse again and print the same.
// RUN: qat-opt %s | qat-opt | FileCheck %s
// RUN: qat-opt %s --mlir-print-op-generic | qat-opt | FileCheck %s

// CHECK-LABEL: func.func @fake_quant_per_tensor
func.func @fake_quant_per_tensor(%x: tensor<2x3xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<2x3xf32> {
  // CHECK: qat.fake_quant %{{.*}}, %{{.*}}, %{{.*}} {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<2x3xf32>, tensor<f32>, tensor<i32>
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<2x3xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @fake_quant_per_axis
func.func @fake_quant_per_axis(%x: tensor<4x?x3x3xf32>, %s: tensor<?xf32>, %z: tensor<?xi32>) -> tensor<4x?x3x3xf32> {
  // CHECK: qat.fake_quant {{.*}} {axis = 1 : i64, quant_max = 127 : i64, quant_min = -128 : i64, rounding = #qat.rounding<half_even_div>}
  %y = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64, rounding = #qat.rounding<half_even_div>} : tensor<4x?x3x3xf32>, tensor<?xf32>, tensor<?xi32>
  // CHECK: qat.fake_quant {{.*}} rounding = #qat.rounding<half_up>
  %w = qat.fake_quant %y, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 1 : i64, rounding = #qat.rounding<half_up>} : tensor<4x?x3x3xf32>, tensor<?xf32>, tensor<?xi32>
  return %w : tensor<4x?x3x3xf32>
}

// CHECK-LABEL: func.func @fake_quant_grad
func.func @fake_quant_grad(%dy: tensor<8xf32>, %x: tensor<8xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<8xf32> {
  // CHECK: qat.fake_quant_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -127 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  %dx = qat.fake_quant_grad %dy, %x, %s, %z {quant_min = -127 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<f32>, tensor<i32>
  return %dx : tensor<8xf32>
}

// CHECK-LABEL: func.func @lsq
func.func @lsq(%x: tensor<8x4xf32>, %s: tensor<4xf32>, %z: tensor<4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: qat.lsq %{{.*}}, %{{.*}}, %{{.*}} {axis = 1 : i64, grad_factor = 2.500000e-01 : f64, quant_max = 255 : i64, quant_min = 0 : i64} : tensor<8x4xf32>, tensor<4xf32>
  %y = qat.lsq %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64, grad_factor = 0.25 : f64} : tensor<8x4xf32>, tensor<4xf32>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = qat.lsq_grad {{.*}} : tensor<8x4xf32>, tensor<4xf32>
  %dx, %ds, %dz = qat.lsq_grad %y, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<8x4xf32>, tensor<4xf32>
  return %y, %dx, %ds, %dz : tensor<8x4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @observer
func.func @observer(%x: tensor<8x4xf32>, %lo: tensor<f32>, %hi: tensor<f32>, %clo: tensor<4xf32>, %chi: tensor<4xf32>) -> (tensor<f32>, tensor<4xf32>) {
  // CHECK: qat.observer %{{.*}}, %{{.*}}, %{{.*}} : tensor<8x4xf32>, tensor<f32>
  %a, %b = qat.observer %x, %lo, %hi : tensor<8x4xf32>, tensor<f32>
  // CHECK: qat.observer {{.*}} {averaging_constant = 1.000000e-01 : f32, axis = 1 : i64, kind = #qat.observer<moving_average>} : tensor<8x4xf32>, tensor<4xf32>
  %c, %d = qat.observer %x, %clo, %chi {kind = #qat.observer<moving_average>, averaging_constant = 0.1 : f32, axis = 1 : i64} : tensor<8x4xf32>, tensor<4xf32>
  return %a, %c : tensor<f32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @choose_qparams
func.func @choose_qparams(%lo: tensor<f32>, %hi: tensor<f32>, %clo: tensor<4xf32>, %chi: tensor<4xf32>) -> (tensor<f32>, tensor<i32>, tensor<4xf32>, tensor<4xi32>) {
  // CHECK: qat.choose_qparams %{{.*}}, %{{.*}} {quant_max = 255 : i64, quant_min = 0 : i64, reduce_range = true} : tensor<f32> -> tensor<i32>
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64, reduce_range = true} : tensor<f32> -> tensor<i32>
  // CHECK: qat.choose_qparams {{.*}} {eps = 2.44140625E-4 : f32, qscheme = #qat.qscheme<symmetric>, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4xf32> -> tensor<4xi32>
  %cs, %cz = qat.choose_qparams %clo, %chi {quant_min = -128 : i64, quant_max = 127 : i64, qscheme = #qat.qscheme<symmetric>, eps = 2.44140625E-4 : f32} : tensor<4xf32> -> tensor<4xi32>
  return %s, %z, %cs, %cz : tensor<f32>, tensor<i32>, tensor<4xf32>, tensor<4xi32>
}

// The ops of the training step.
// CHECK-LABEL: func.func @conv_adjoints
func.func @conv_adjoints(%x: tensor<1x8x8x8xf32>, %dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>,
                         %dx2: tensor<1x8x8x32xf32>, %dw: tensor<3x3x16x2xf32>, %x2: tensor<1x8x8x16xf32>)
    -> (tensor<1x8x8x8xf32>, tensor<16x3x3x8xf32>, tensor<1x8x8x16xf32>, tensor<3x3x16x2xf32>) {
  // CHECK: qat.conv2d_backward_data %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) -> tensor<1x8x8x8xf32>
  %a = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
      : (tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) -> tensor<1x8x8x8xf32>
  // CHECK: qat.conv2d_backward_weight %{{.*}}, %{{.*}} {{.*}} : (tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) -> tensor<16x3x3x8xf32>
  %b = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>}
      : (tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) -> tensor<16x3x3x8xf32>
  // CHECK: qat.depthwise_conv2d_backward_data %{{.*}}, %{{.*}} {{.*}} : (tensor<1x8x8x32xf32>, tensor<3x3x16x2xf32>) -> tensor<1x8x8x16xf32>
  %c = qat.depthwise_conv2d_backward_data %dx2, %dw {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>}
      : (tensor<1x8x8x32xf32>, tensor<3x3x16x2xf32>) -> tensor<1x8x8x16xf32>
  // CHECK: qat.depthwise_conv2d_backward_weight %{{.*}}, %{{.*}} {{.*}} : (tensor<1x8x8x16xf32>, tensor<1x8x8x32xf32>) -> tensor<3x3x16x2xf32>
  %d = qat.depthwise_conv2d_backward_weight %x2, %dx2 {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<1x8x8x32xf32>) -> tensor<3x3x16x2xf32>
  return %a, %b, %c, %d : tensor<1x8x8x8xf32>, tensor<16x3x3x8xf32>, tensor<1x8x8x16xf32>, tensor<3x3x16x2xf32>
}

// CHECK-LABEL: func.func @pool_adjoints
func.func @pool_adjoints(%x: tensor<2x8x8x4xf32>, %dy: tensor<2x4x4x4xf32>) -> (tensor<2x8x8x4xf32>, tensor<2x8x8x4xf32>) {
  // CHECK: qat.max_pool2d_backward %{{.*}}, %{{.*}} {kernel = array<i64: 3, 3>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x4x4x4xf32>, tensor<2x8x8x4xf32>) -> tensor<2x8x8x4xf32>
  %a = qat.max_pool2d_backward %dy, %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x4xf32>, tensor<2x8x8x4xf32>) -> tensor<2x8x8x4xf32>
  // CHECK: qat.avg_pool2d_backward %{{.*}} {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : tensor<2x4x4x4xf32> -> tensor<2x8x8x4xf32>
  %b = qat.avg_pool2d_backward %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>}
      : tensor<2x4x4x4xf32> -> tensor<2x8x8x4xf32>
  return %a, %b : tensor<2x8x8x4xf32>, tensor<2x8x8x4xf32>
}

// CHECK-LABEL: func.func @loss
func.func @loss(%x: tensor<4x10xf32>, %y: tensor<4xi32>, %g: tensor<f32>) -> (tensor<f32>, tensor<4x10xf32>) {
  // CHECK: qat.softmax_cross_entropy %{{.*}}, %{{.*}} : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  %l = qat.softmax_cross_entropy %x, %y : (tensor<4x10xf32>, tensor<4xi32>) -> tensor<f32>
  // CHECK: qat.softmax_cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<f32>, tensor<4x10xf32>, tensor<4xi32>) -> tensor<4x10xf32>
  %d = qat.softmax_cross_entropy_grad %g, %x, %y : (tensor<f32>, tensor<4x10xf32>, tensor<4xi32>) -> tensor<4x10xf32>
  return %l, %d : tensor<f32>, tensor<4x10xf32>
}

// CHECK-LABEL: func.func @optimizers
func.func @optimizers(%p: tensor<4x3xf32>, %g: tensor<4x3xf32>, %b: tensor<4x3xf32>, %v: tensor<4x3xf32>, %lr: tensor<f64>, %s: tensor<i64>)
    -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  // CHECK: qat.sgd_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {momentum = 9.000000e-01 : f64, nesterov, weight_decay = 1.000000e-04 : f64} : tensor<4x3xf32>, tensor<f64>, tensor<i64>
  %p1, %b1 = qat.sgd_update %p, %g, %b, %lr, %s {momentum = 0.9 : f64, weight_decay = 1.0e-4 : f64, nesterov} : tensor<4x3xf32>, tensor<f64>, tensor<i64>
  // CHECK: qat.adam_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {beta2 = 0.98999999999999999 : f64} : tensor<4x3xf32>, tensor<f64>, tensor<i64>
  %p2, %m2, %v2 = qat.adam_update %p, %g, %b, %v, %lr, %s {beta2 = 0.99 : f64} : tensor<4x3xf32>, tensor<f64>, tensor<i64>
  return %p1, %b1, %p2, %m2, %v2 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}

// CHECK-LABEL: func.func @integer_kernels
func.func @integer_kernels(%x: tensor<1x4x4x2xi8>, %w: tensor<3x3x3x2xi8>, %b: tensor<3xi32>, %m: tensor<3xf32>, %r: tensor<1x2x2x3xi8>, %mi: tensor<i32>, %n: tensor<i8>, %a: tensor<1x4x8xi8>, %wm: tensor<1x8x3xi8>) -> (tensor<1x2x2x3xi8>, tensor<4x3xi8>) {
  // CHECK: qat.integer_kernel <conv2d> %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} residual %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, input_zero_point = -3 : i64, output_zero_point = 5 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = 0 : i64, residual_zero_point = 2 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<3x3x3x2xi8>, tensor<3xi32>, tensor<3xf32>, tensor<1x2x2x3xi8>, tensor<3xf32>) -> tensor<1x2x2x3xi8>
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %m {dilation = array<i64: 1, 1>, input_zero_point = -3 : i64, output_zero_point = 5 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = 0 : i64, residual_zero_point = 2 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<3x3x3x2xi8>, tensor<3xi32>, tensor<3xf32>, tensor<1x2x2x3xi8>, tensor<3xf32>) -> tensor<1x2x2x3xi8>
  // CHECK: qat.integer_kernel <matmul> %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} shift %{{.*}} {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x4x8xi8>, tensor<1x8x3xi8>, tensor<3xi32>, tensor<i32>, tensor<i8>) -> tensor<4x3xi8>
  %z = qat.integer_kernel <matmul> %a, %wm, %b, %mi shift %n {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x4x8xi8>, tensor<1x8x3xi8>, tensor<3xi32>, tensor<i32>, tensor<i8>) -> tensor<4x3xi8>
  return %y, %z : tensor<1x2x2x3xi8>, tensor<4x3xi8>
}

// CHECK-LABEL: func.func @batch_norm_train
func.func @batch_norm_train(%x: tensor<2x3x3x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<2x3x3x4xf32>, tensor<4xf32>) {
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} = qat.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f64} : tensor<2x3x3x4xf32>, tensor<4xf32>
  %y, %m, %s, %v = qat.batch_norm_train %x, %g, %b {epsilon = 1.0e-3 : f64} : tensor<2x3x3x4xf32>, tensor<4xf32>
  return %y, %v : tensor<2x3x3x4xf32>, tensor<4xf32>
}

// PyTorch's qnnpack add (x86:pytorch-qnnpack): ties away from zero.
// CHECK-LABEL: func.func @pytorch_qnnpack_add
// CHECK: qat.rescale_add {{.*}} {quant_max = 127 : i64, quant_min = -5 : i64, round_half_away_from_zero} : tensor<4xi8>
func.func @pytorch_qnnpack_add(%a: tensor<4xi8>, %m: tensor<i32>, %z: tensor<i32>, %n: tensor<i8>) -> tensor<4xi8> {
  %r = qat.rescale_add %a, %m, %z, %a, %m, %z, %n, %z {quant_min = -5 : i64, quant_max = 127 : i64, round_half_away_from_zero} : tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4xi8>
  return %r : tensor<4xi8>
}

// PyTorch's onednn forms (x86:pytorch-onednn): a float bias and the zero
// point's offset in f32, the FMA dequantization.
// CHECK-LABEL: func.func @pytorch_onednn_forms
func.func @pytorch_onednn_forms(%acc: tensor<1x2x2x3xi32>, %x: tensor<1x4x4x2xi8>, %w: tensor<3x3x3x2xi8>, %b: tensor<3xi32>, %m: tensor<3xf32>, %z: tensor<3xi32>, %s: tensor<f32>, %zs: tensor<i32>,
                                %px: tensor<1x4x4x8xi8>, %pw: tensor<1x1x1x2x16x4xi8>, %pb: tensor<16xi32>, %pm: tensor<16xf32>, %pi: tensor<1x4x4x16xi8>, %dw: tensor<3x3x16xi8>, %di: tensor<1x4x4x8xi8>)
    -> (tensor<1x2x2x3xi8>, tensor<1x4x4x2xf32>, tensor<1x2x2x3xi8>, tensor<1x4x4x16xi8>, tensor<1x4x4x8xi8>) {
  // CHECK: qat.requantize %{{.*}}, %{{.*}}, %{{.*}} bias %{{.*}} {axis = 3 : i64, float_zero_point_offset = 128 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<3xf32> -> tensor<1x2x2x3xi8>
  %q = qat.requantize %acc, %m, %z bias %m {axis = 3 : i64, float_zero_point_offset = 128 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<3xf32> -> tensor<1x2x2x3xi8>
  // CHECK: qat.dequantize %{{.*}}, %{{.*}}, %{{.*}} {fma_offset = 128 : i64} : tensor<1x4x4x2xi8>, tensor<f32>, tensor<i32> -> tensor<1x4x4x2xf32>
  %d = qat.dequantize %x, %s, %zs {fma_offset = 128 : i64} : tensor<1x4x4x2xi8>, tensor<f32>, tensor<i32> -> tensor<1x4x4x2xf32>
  // CHECK: qat.integer_kernel <conv2d> %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} float_bias %{{.*}} {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = -3 : i64, output_zero_point = 5 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<3x3x3x2xi8>, tensor<3xi32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x2x2x3xi8>
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m float_bias %m {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = -3 : i64, output_zero_point = 5 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<3x3x3x2xi8>, tensor<3xi32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x2x2x3xi8>
  // CHECK: qat.packed_conv2d ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x4x4x16xi8>) float_bias(%{{.*}} : tensor<16xf32>) {{{.*}}float_zero_point_offset = 128 : i64
  %c = qat.packed_conv2d ins(%px, %pw, %pb, %pm : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%pi : tensor<1x4x4x16xi8>) float_bias(%pm : tensor<16xf32>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64, float_zero_point_offset = 128 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  // CHECK: qat.packed_depthwise_conv2d ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x4x4x8xi8>) float_bias(%{{.*}} : tensor<16xf32>) {{{.*}}float_zero_point_offset = 128 : i64
  %e = qat.packed_depthwise_conv2d ins(%px, %dw, %pb, %pm : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%di : tensor<1x4x4x8xi8>) float_bias(%pm : tensor<16xf32>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64, float_zero_point_offset = 128 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x8xi8>
  return %q, %d, %y, %c, %e : tensor<1x2x2x3xi8>, tensor<1x4x4x2xf32>, tensor<1x2x2x3xi8>, tensor<1x4x4x16xi8>, tensor<1x4x4x8xi8>
}
