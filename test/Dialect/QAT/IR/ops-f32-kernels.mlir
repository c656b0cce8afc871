// RUN: qat-opt %s | qat-opt | FileCheck %s
// The f32 kernels parse, verify and print back (tensors and memrefs, with
// and without an epilogue).

// CHECK-LABEL: func.func @kernels
// CHECK: qat.packed_conv2d_f32 ins(%arg0, %arg1, %arg2 : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) epilogue_inputs(%arg3 : tensor<1x1x1x16xf32>) outs(%{{.*}} : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} epilogue {
// CHECK: qat.yield %{{.*}} : f32
// CHECK: qat.packed_depthwise_conv2d_f32 ins(
// CHECK: qat.conv2d_backward_data_f32 ins(
// CHECK: qat.conv2d_backward_weight_f32 ins(
// CHECK: qat.pack_conv_weights_f32 ins(
func.func @kernels(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %s: tensor<1x1x1x16xf32>,
                   %xd: tensor<1x4x4x16xf32>, %wd: tensor<3x3x16xf32>, %dy: tensor<1x2x2x16xf32>, %wo: tensor<16x3x3x8xf32>)
    -> (tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x8xf32>, tensor<16x3x3x8xf32>, tensor<1x3x24x16xf32>) {
  %e = tensor.empty() : tensor<1x4x4x16xf32>
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) epilogue_inputs(%s : tensor<1x1x1x16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} epilogue {
  ^bb0(%a: f32, %c: f32):
    %0 = arith.mulf %a, %c : f32
    qat.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  %d = qat.packed_depthwise_conv2d_f32 ins(%xd, %wd, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  %e2 = tensor.empty() : tensor<1x4x4x8xf32>
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %wo : tensor<1x2x2x16xf32>, tensor<16x3x3x8xf32>) outs(%e2 : tensor<1x4x4x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x4x4x8xf32>
  %e3 = tensor.empty() : tensor<16x3x3x8xf32>
  %dw = qat.conv2d_backward_weight_f32 ins(%x, %dy : tensor<1x4x4x8xf32>, tensor<1x2x2x16xf32>) outs(%e3 : tensor<16x3x3x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<16x3x3x8xf32>
  %e4 = tensor.empty() : tensor<1x3x24x16xf32>
  %p = qat.pack_conv_weights_f32 ins(%wo : tensor<16x3x3x8xf32>) outs(%e4 : tensor<1x3x24x16xf32>) -> tensor<1x3x24x16xf32>
  return %y, %d, %dx, %dw, %p : tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x8xf32>, tensor<16x3x3x8xf32>, tensor<1x3x24x16xf32>
}

// A grouped convolution: 2 groups of 4 input and 16 output channels.
// CHECK-LABEL: func.func @grouped
// CHECK: qat.packed_conv2d_f32 ins(%arg0, %arg1, %arg2 : tensor<1x4x4x8xf32>, tensor<2x3x12x16xf32>, tensor<32xf32>) outs(%{{.*}} : tensor<1x4x4x32xf32>) {dilation = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
func.func @grouped(%x: tensor<1x4x4x8xf32>, %w: tensor<2x3x12x16xf32>, %b: tensor<32xf32>) -> tensor<1x4x4x32xf32> {
  %e = tensor.empty() : tensor<1x4x4x32xf32>
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<2x3x12x16xf32>, tensor<32xf32>) outs(%e : tensor<1x4x4x32xf32>) {dilation = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x32xf32>
  return %y : tensor<1x4x4x32xf32>
}
