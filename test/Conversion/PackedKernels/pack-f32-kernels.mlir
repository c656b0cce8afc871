// RUN: qat-opt %s --split-input-file --qat-pack-f32-kernels | FileCheck %s

// A 1x1 conv of 2 -> 2 channels: W = [[1, -2], [3, 4]] (OHWI) packed as
// 1 block x 1 kernel row x (1 * 2) window elements x 16 output channels,
// W[o, 0, 0, c] at [0, 0, c, o]; the bias padded to 16.
// CHECK-LABEL: func.func @conv
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 3.000000e+00, 0.000000e+00{{.*}}], [-2.000000e+00, 4.000000e+00, 0.000000e+00{{.*}}]]]]> : tensor<1x1x2x16xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[5.000000e-01, -5.000000e-01, 0.000000e+00{{.*}}]> : tensor<16xf32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x3x3x2xf32>
// CHECK: %[[Y:.*]] = qat.packed_conv2d_f32 ins(%arg0, %[[W]], %[[B]] : tensor<1x3x3x2xf32>, tensor<1x1x2x16xf32>, tensor<16xf32>) outs(%[[E]] : tensor<1x3x3x2xf32>)
// CHECK-SAME: {dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>}
// CHECK-NOT: tosa.conv2d
// CHECK: return %[[Y]]
func.func @conv(%x: tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[1.0, -2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.5, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x2xf32>
  return %y : tensor<1x3x3x2xf32>
}

// -----

// Weights and bias computed at run time: qat.pack_conv_weights_f32 packs
// the weights (3 x 3 x 4 -> 1 block x 3 x 12 x 16), the bias of 20 channels
// is padded to 32 with zeros.
// CHECK-LABEL: func.func @runtime_weights
// CHECK: %[[PE:.*]] = tensor.empty() : tensor<2x3x12x16xf32>
// CHECK: %[[P:.*]] = qat.pack_conv_weights_f32 ins(%arg1 : tensor<20x3x3x4xf32>) outs(%[[PE]] : tensor<2x3x12x16xf32>) -> tensor<2x3x12x16xf32>
// CHECK: %[[B:.*]] = tensor.pad %arg2 low[0] high[12]
// CHECK: qat.packed_conv2d_f32 ins(%arg0, %[[P]], %[[B]] : tensor<1x5x5x4xf32>, tensor<2x3x12x16xf32>, tensor<32xf32>)
// CHECK-SAME: pad = array<i64: 1, 1, 1, 1>
func.func @runtime_weights(%x: tensor<1x5x5x4xf32>, %w: tensor<20x3x3x4xf32>, %b: tensor<20xf32>) -> tensor<1x5x5x20xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x5x5x4xf32>, tensor<20x3x3x4xf32>, tensor<20xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x5x5x20xf32>
  return %y : tensor<1x5x5x20xf32>
}

// -----

// A fully connected layer: the 1 x 32 x 784 input as 32 pixels of a 1x1
// convolution over 784 channels, 10 outputs in one block, bias 0.
// CHECK-LABEL: func.func @matmul
// CHECK: %[[X:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2], [3]] output_shape [1, 1, 32, 784] : tensor<1x32x784xf32> into tensor<1x1x32x784xf32>
// CHECK: %[[Y:.*]] = qat.packed_conv2d_f32 ins(%[[X]], %{{.*}}, %{{.*}} : tensor<1x1x32x784xf32>, tensor<1x1x784x16xf32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x1x32x10xf32>)
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[Y]] {{\[\[}}0, 1], [2], [3]] : tensor<1x1x32x10xf32> into tensor<1x32x10xf32>
// CHECK: return %[[R]]
func.func @matmul(%x: tensor<1x32x784xf32>) -> tensor<1x32x10xf32> {
  %w = "tosa.const"() <{values = dense<0.5> : tensor<1x784x10xf32>}> : () -> tensor<1x784x10xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %x, %w, %zp, %zp : (tensor<1x32x784xf32>, tensor<1x784x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x10xf32>
  return %y : tensor<1x32x10xf32>
}

// -----

// A depthwise 3x3 conv of 20 channels: weights 3 x 3 x 32 (zeros beyond
// 20), bias 32.
// CHECK-LABEL: func.func @depthwise
// CHECK: qat.packed_depthwise_conv2d_f32 ins(%arg0, %{{.*}}, %{{.*}} : tensor<1x6x6x20xf32>, tensor<3x3x32xf32>, tensor<32xf32>) outs(%{{.*}} : tensor<1x3x3x20xf32>)
// CHECK-SAME: stride = array<i64: 2, 2>
// CHECK-NOT: tosa.depthwise_conv2d
func.func @depthwise(%x: tensor<1x6x6x20xf32>) -> tensor<1x3x3x20xf32> {
  %w = "tosa.const"() <{values = dense<0.25> : tensor<3x3x20x1xf32>}> : () -> tensor<3x3x20x1xf32>
  %b = "tosa.const"() <{values = dense<1.0> : tensor<20xf32>}> : () -> tensor<20xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.depthwise_conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x6x6x20xf32>, tensor<3x3x20x1xf32>, tensor<20xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x20xf32>
  return %y : tensor<1x3x3x20xf32>
}

// -----

// The convolution adjoints become their destination-passing kernels; with
// dilation 2 they stay (the kernels take dilation 1).
// CHECK-LABEL: func.func @adjoints
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<1x8x8x8xf32>
// CHECK: %[[DX:.*]] = qat.conv2d_backward_data_f32 ins(%arg0, %arg1 : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%[[E1]] : tensor<1x8x8x8xf32>)
// CHECK-SAME: stride = array<i64: 2, 2>
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<16x3x3x8xf32>
// CHECK: %[[DW:.*]] = qat.conv2d_backward_weight_f32 ins(%arg2, %arg0 : tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) outs(%[[E2]] : tensor<16x3x3x8xf32>)
// CHECK: qat.conv2d_backward_data %arg3, %arg1
// CHECK-SAME: dilation = array<i64: 2, 2>
// CHECK: return %[[DX]], %[[DW]]
func.func @adjoints(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %x: tensor<1x8x8x8xf32>, %dy2: tensor<1x6x6x16xf32>) -> (tensor<1x8x8x8xf32>, tensor<16x3x3x8xf32>, tensor<1x10x10x8xf32>) {
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) -> tensor<1x8x8x8xf32>
  %dw = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) -> tensor<16x3x3x8xf32>
  %dx2 = qat.conv2d_backward_data %dy2, %w {pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, dilation = array<i64: 2, 2>} : (tensor<1x6x6x16xf32>, tensor<16x3x3x8xf32>) -> tensor<1x10x10x8xf32>
  return %dx, %dw, %dx2 : tensor<1x8x8x8xf32>, tensor<16x3x3x8xf32>, tensor<1x10x10x8xf32>
}

// -----

// Not f32 kernels: an i8 convolution stays for qat-pack-int8-kernels.
// CHECK-LABEL: func.func @int8
// CHECK: tosa.conv2d
// CHECK-NOT: qat.packed_conv2d_f32
func.func @int8(%x: tensor<1x3x3x2xi8>) -> tensor<1x3x3x2xi32> {
  %w = "tosa.const"() <{values = dense<1> : tensor<2x1x1x2xi8>}> : () -> tensor<2x1x1x2xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<2xi32>}> : () -> tensor<2xi32>
  %zp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %y = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x3x3x2xi32>
  return %y : tensor<1x3x3x2xi32>
}

// -----

// The depthwise adjoints (channel multiplier 1) become their kernels.
// CHECK-LABEL: func.func @depthwise_adjoints
// CHECK: qat.depthwise_conv2d_backward_data_f32 ins(%arg0, %arg1 : tensor<1x4x4x32xf32>, tensor<3x3x32x1xf32>)
// CHECK: qat.depthwise_conv2d_backward_weight_f32 ins(%arg2, %arg0 : tensor<1x8x8x32xf32>, tensor<1x4x4x32xf32>)
func.func @depthwise_adjoints(%dy: tensor<1x4x4x32xf32>, %w: tensor<3x3x32x1xf32>, %x: tensor<1x8x8x32xf32>) -> (tensor<1x8x8x32xf32>, tensor<3x3x32x1xf32>) {
  %dx = qat.depthwise_conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<1x4x4x32xf32>, tensor<3x3x32x1xf32>) -> tensor<1x8x8x32xf32>
  %dw = qat.depthwise_conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x32xf32>, tensor<1x4x4x32xf32>) -> tensor<3x3x32x1xf32>
  return %dx, %dw : tensor<1x8x8x32xf32>, tensor<3x3x32x1xf32>
}

// -----

// Matmuls with run-time right operands: B (K x N) packed by rows; the
// transpose of T (N x K) packed from T as OHWI weights.
// CHECK-LABEL: func.func @runtime_matmuls
// CHECK: %[[B:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0, 1], [2]] : tensor<1x64x40xf32> into tensor<64x40xf32>
// CHECK: qat.pack_conv_weights_f32 ins(%[[B]] : tensor<64x40xf32>) outs(%{{.*}} : tensor<3x1x64x16xf32>)
// CHECK: %[[T:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0, 1], [2]] : tensor<1x64x40xf32> into tensor<64x40xf32>
// CHECK: %[[O:.*]] = tensor.expand_shape %[[T]] {{\[\[}}0, 1, 2], [3]] output_shape [64, 1, 1, 40] : tensor<64x40xf32> into tensor<64x1x1x40xf32>
// CHECK: qat.pack_conv_weights_f32 ins(%[[O]] : tensor<64x1x1x40xf32>) outs(%{{.*}} : tensor<4x1x40x16xf32>)
// CHECK-NOT: tosa.transpose
func.func @runtime_matmuls(%a: tensor<1x8x64xf32>, %b: tensor<1x64x40xf32>, %dc: tensor<1x8x40xf32>) -> (tensor<1x8x40xf32>, tensor<1x8x64xf32>) {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %a, %b, %zp, %zp : (tensor<1x8x64xf32>, tensor<1x64x40xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x40xf32>
  %t = tosa.transpose %b {perms = array<i32: 0, 2, 1>} : (tensor<1x64x40xf32>) -> tensor<1x40x64xf32>
  %da = tosa.matmul %dc, %t, %zp, %zp : (tensor<1x8x40xf32>, tensor<1x40x64xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x64xf32>
  return %y, %da : tensor<1x8x40xf32>, tensor<1x8x64xf32>
}

// -----

// A grouped convolution as the exporter writes it (2 groups of 1 channel:
// slices, one conv each, concat on the channels) becomes one kernel with
// groups = 2 on the sliced tensor; each group has its own block: W of
// group 0 (2.0) in lane 0 of block 0, group 1's (3.0) in lane 0 of block 1,
// the biases at 0 and 16.
// CHECK-LABEL: func.func @grouped
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}2.000000e+00, 0.000000e+00{{.*}}]]], {{\[\[\[}}3.000000e+00, 0.000000e+00{{.*}}]]]]> : tensor<2x1x1x16xf32>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[5.000000e-01, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01, 0.000000e+00{{.*}}]> : tensor<32xf32>
// CHECK: %[[Y:.*]] = qat.packed_conv2d_f32 ins(%arg0, %[[W]], %[[B]] : tensor<1x3x3x2xf32>, tensor<2x1x1x16xf32>, tensor<32xf32>) outs(%{{.*}} : tensor<1x3x3x2xf32>)
// CHECK-SAME: groups = 2 : i64
// CHECK-NOT: tosa.conv2d
// CHECK-NOT: tosa.slice
// CHECK-NOT: tosa.concat
// CHECK: return %[[Y]]
func.func @grouped(%x: tensor<1x3x3x2xf32>) -> tensor<1x3x3x2xf32> {
  %w0 = "tosa.const"() <{values = dense<2.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %w1 = "tosa.const"() <{values = dense<3.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %b0 = "tosa.const"() <{values = dense<0.5> : tensor<1xf32>}> : () -> tensor<1xf32>
  %b1 = "tosa.const"() <{values = dense<-0.5> : tensor<1xf32>}> : () -> tensor<1xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %st0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %st1 = tosa.const_shape {values = dense<[0, 0, 0, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %sz = tosa.const_shape {values = dense<[1, 3, 3, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %x0 = tosa.slice %x, %st0, %sz : (tensor<1x3x3x2xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x3x3x1xf32>
  %x1 = tosa.slice %x, %st1, %sz : (tensor<1x3x3x2xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x3x3x1xf32>
  %y0 = tosa.conv2d %x0, %w0, %b0, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x3x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x1xf32>
  %y1 = tosa.conv2d %x1, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x3x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x3x3x1xf32>
  %y = tosa.concat %y0, %y1 {axis = 3 : i32} : (tensor<1x3x3x1xf32>, tensor<1x3x3x1xf32>) -> tensor<1x3x3x2xf32>
  return %y : tensor<1x3x3x2xf32>
}

// -----

// Group inputs that are not slices of one tensor (each fake-quantized on
// its own in a prepared model) are concatenated; weights and biases
// computed at run time (16 output channels per group) are stacked along O
// and packed when the kernel runs.
// CHECK-LABEL: func.func @grouped_runtime
// CHECK: %[[X:.*]] = tosa.concat %arg0, %arg1 {axis = 3 : i32} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
// CHECK: %[[WS:.*]] = tosa.concat %arg2, %arg3 {axis = 0 : i32} : (tensor<16x3x3x2xf32>, tensor<16x3x3x2xf32>) -> tensor<32x3x3x2xf32>
// CHECK: %[[P:.*]] = qat.pack_conv_weights_f32 ins(%[[WS]] : tensor<32x3x3x2xf32>) outs(%{{.*}} : tensor<2x3x6x16xf32>)
// CHECK: %[[B:.*]] = tosa.concat %arg4, %arg5 {axis = 0 : i32} : (tensor<16xf32>, tensor<16xf32>) -> tensor<32xf32>
// CHECK: qat.packed_conv2d_f32 ins(%[[X]], %[[P]], %[[B]] : tensor<1x4x4x4xf32>, tensor<2x3x6x16xf32>, tensor<32xf32>)
// CHECK-SAME: groups = 2 : i64
// CHECK-NOT: tosa.conv2d
func.func @grouped_runtime(%x0: tensor<1x4x4x2xf32>, %x1: tensor<1x4x4x2xf32>, %w0: tensor<16x3x3x2xf32>, %w1: tensor<16x3x3x2xf32>, %b0: tensor<16xf32>, %b1: tensor<16xf32>) -> tensor<1x4x4x32xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y0 = tosa.conv2d %x0, %w0, %b0, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<16x3x3x2xf32>, tensor<16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x16xf32>
  %y1 = tosa.conv2d %x1, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<16x3x3x2xf32>, tensor<16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x16xf32>
  %y = tosa.concat %y0, %y1 {axis = 3 : i32} : (tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>) -> tensor<1x4x4x32xf32>
  return %y : tensor<1x4x4x32xf32>
}

// -----

// Run-time weights with 8 output channels per group (not a multiple of 16)
// stay one convolution per group.
// CHECK-LABEL: func.func @grouped_runtime_partial
// CHECK-NOT: groups
// CHECK: tosa.concat
func.func @grouped_runtime_partial(%x0: tensor<1x4x4x2xf32>, %x1: tensor<1x4x4x2xf32>, %w0: tensor<8x1x1x2xf32>, %w1: tensor<8x1x1x2xf32>, %b0: tensor<8xf32>, %b1: tensor<8xf32>) -> tensor<1x4x4x16xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y0 = tosa.conv2d %x0, %w0, %b0, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<8x1x1x2xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %y1 = tosa.conv2d %x1, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<8x1x1x2xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %y = tosa.concat %y0, %y1 {axis = 3 : i32} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x16xf32>
  return %y : tensor<1x4x4x16xf32>
}
