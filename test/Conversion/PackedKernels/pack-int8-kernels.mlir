// RUN: qat-opt %s --split-input-file --qat-pack-int8-kernels | FileCheck %s

// A 1x1 conv of 2 -> 2 channels. Weights W = [[1, -2], [3, 4]] go to block
// 0 of 16 output x 4 input channels, the rest 0. The bias is compensated for
// unsigned codes: b - (zp_in + 128) * sum(W[co]) with zp_in = -118:
// 10 - 10 * (1 - 2) = 20 and -10 - 10 * (3 + 4) = -80, padded to 16 entries.
// CHECK-LABEL: func.func @conv
// CHECK-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[\[\[}}1, -2, 0, 0], [3, 4, 0, 0], [0, 0, 0, 0]{{.*}}> : tensor<1x1x1x1x16x4xi8>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[20, -80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi32>
// CHECK-DAG: %[[M:.*]] = arith.constant dense<[2.500000e-01, 1.250000e-01, 0.000000e+00, {{.*}}]> : tensor<16xf32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x3x3x2xi8>
// CHECK: %[[Y:.*]] = qat.packed_conv2d ins(%arg0, %[[W]], %[[B]], %[[M]] : tensor<1x3x3x2xi8>, tensor<1x1x1x1x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%[[E]] : tensor<1x3x3x2xi8>)
// CHECK-SAME: dilation = array<i64: 1, 1>, input_zero_point = -118 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>
// CHECK-NOT: qat.integer_kernel
// CHECK: return %[[Y]]
func.func @conv(%x: tensor<1x3x3x2xi8>) -> tensor<1x3x3x2xi8> {
  %w = "tosa.const"() <{values = dense<[[[[1, -2]]], [[[3, 4]]]]> : tensor<2x1x1x2xi8>}> : () -> tensor<2x1x1x2xi8>
  %b = "tosa.const"() <{values = dense<[10, -10]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %q = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = -118 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xf32>) -> tensor<1x3x3x2xi8>
  return %q : tensor<1x3x3x2xi8>
}

// -----

// A 3x3 conv (stride 2, pad 1) with a residual add: the residual, its
// multiplier and zero point move into the kernel's epilogue.
// CHECK-LABEL: func.func @conv_residual
// CHECK: qat.packed_conv2d ins(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, residual %arg1 : tensor<1x5x5x3xi8>, tensor<2x3x3x1x16x4xi8>, tensor<32xi32>, tensor<32xf32>, tensor<1x3x3x20xi8>) outs(%{{.*}} : tensor<1x3x3x20xi8>)
// CHECK-SAME: pad = array<i64: 1, 1, 1, 1>
// CHECK-SAME: residual_multiplier = 5.000000e-01 : f32, residual_zero_point = -3 : i64
// CHECK-SAME: stride = array<i64: 2, 2>
// CHECK-NOT: qat.integer_kernel
func.func @conv_residual(%x: tensor<1x5x5x3xi8>, %r: tensor<1x3x3x20xi8>) -> tensor<1x3x3x20xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<20x3x3x3xi8>}> : () -> tensor<20x3x3x3xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<20xi32>}> : () -> tensor<20xi32>
  %m = arith.constant dense<0.01> : tensor<f32>
  %mr = arith.constant dense<0.5> : tensor<f32>
  %q = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %mr {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = -3 : i64, stride = array<i64: 2, 2>} : (tensor<1x5x5x3xi8>, tensor<20x3x3x3xi8>, tensor<20xi32>, tensor<f32>, tensor<1x3x3x20xi8>, tensor<f32>) -> tensor<1x3x3x20xi8>
  return %q : tensor<1x3x3x20xi8>
}

// -----

// A fully connected kernel (a matmul whose accumulator is read as 4 x 3) is
// a 1x1 convolution over its 4 rows.
// CHECK-LABEL: func.func @linear
// CHECK: %[[X:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2], [3]] output_shape [1, 1, 4, 8] : tensor<1x4x8xi8> into tensor<1x1x4x8xi8>
// CHECK: %[[Y:.*]] = qat.packed_conv2d ins(%[[X]], {{.*}} : tensor<1x1x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x1x4x3xi8>)
// CHECK: %[[F:.*]] = tensor.collapse_shape %[[Y]] {{\[\[}}0, 1, 2], [3]] : tensor<1x1x4x3xi8> into tensor<4x3xi8>
// CHECK: return %[[F]]
func.func @linear(%x: tensor<1x4x8xi8>) -> tensor<4x3xi8> {
  %w = "tosa.const"() <{values = dense<2> : tensor<1x8x3xi8>}> : () -> tensor<1x8x3xi8>
  %s = tosa.const_shape {values = dense<[4, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %m = arith.constant dense<0.5> : tensor<f32>
  %q_bias = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
  %q = qat.integer_kernel <matmul> %x, %w, %q_bias, %m {input_zero_point = 5 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x4x8xi8>, tensor<1x8x3xi8>, tensor<3xi32>, tensor<f32>) -> tensor<4x3xi8>
  return %q : tensor<4x3xi8>
}

// -----

// Left alone: a kernel whose weights are not a constant, and the
// fixed-point rescale of the bpu target (its kernels are the
// accelerator's).
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: qat.packed_conv2d
// CHECK: qat.integer_kernel <conv2d> %arg0, %arg1
// CHECK: qat.integer_kernel <conv2d> {{.*}} shift
func.func @left_alone(%x: tensor<1x2x2x4xi8>, %v: tensor<4x1x1x4xi8>) -> (tensor<1x2x2x4xi8>, tensor<1x2x2x4xi8>) {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x1x1x4xi8>}> : () -> tensor<4x1x1x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<0.5> : tensor<f32>
  %q = qat.integer_kernel <conv2d> %x, %v, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x4xi8>, tensor<4x1x1x4xi8>, tensor<4xi32>, tensor<f32>) -> tensor<1x2x2x4xi8>
  %mi = arith.constant dense<1073741824> : tensor<i32>
  %sh = arith.constant dense<31> : tensor<i8>
  %q2 = qat.integer_kernel <conv2d> %x, %w, %b, %mi shift %sh {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x4xi8>, tensor<4x1x1x4xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<1x2x2x4xi8>
  return %q, %q2 : tensor<1x2x2x4xi8>, tensor<1x2x2x4xi8>
}

// -----

// A 3x3 depthwise conv of 2 channels: weights go to KH x KW x 16 (channels
// padded to 16 with zeros), the bias is compensated for unsigned codes:
// b - (zp_in + 128) * sum over the window, with zp_in = -126:
// 5 - 2 * 9 = -13 and -5 - 2 * (-9) = 13.
// CHECK-LABEL: func.func @depthwise
// (printed in hex: 01 FF then 14 zero bytes, per tap)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<"0x01FF000000000000000000000000000001FF{{.*}}"> : tensor<3x3x16xi8>
// CHECK-DAG: %[[B:.*]] = arith.constant dense<[-13, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi32>
// CHECK-DAG: %[[M:.*]] = arith.constant dense<[5.000000e-01, 5.000000e-01, 0.000000e+00, {{.*}}]> : tensor<16xf32>
// CHECK: %[[Y:.*]] = qat.packed_depthwise_conv2d ins(%arg0, %[[W]], %[[B]], %[[M]] : tensor<1x4x4x2xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x2x2x2xi8>)
// CHECK-SAME: input_zero_point = -126 : i64, output_zero_point = 3 : i64, pad = array<i64: 1, 0, 1, 0>, quant_max = 127 : i64, quant_min = 3 : i64, stride = array<i64: 2, 2>
// CHECK-NOT: qat.integer_kernel
// CHECK: return %[[Y]]
func.func @depthwise(%x: tensor<1x4x4x2xi8>) -> tensor<1x2x2x2xi8> {
  %w = "tosa.const"() <{values = dense<[[[[1], [-1]], [[1], [-1]], [[1], [-1]]], [[[1], [-1]], [[1], [-1]], [[1], [-1]]], [[[1], [-1]], [[1], [-1]], [[1], [-1]]]]> : tensor<3x3x2x1xi8>}> : () -> tensor<3x3x2x1xi8>
  %b = "tosa.const"() <{values = dense<[5, -5]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<0.5> : tensor<f32>
  %q = qat.integer_kernel <depthwise_conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = -126 : i64, output_zero_point = 3 : i64, pad = array<i64: 1, 0, 1, 0>, quant_max = 127 : i64, quant_min = 3 : i64, stride = array<i64: 2, 2>} : (tensor<1x4x4x2xi8>, tensor<3x3x2x1xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x2x2x2xi8>
  return %q : tensor<1x2x2x2xi8>
}

// -----

// A channel multiplier of 2 has no packed kernel: left as it is.
// CHECK-LABEL: func.func @depthwise_multiplier
// CHECK: qat.integer_kernel <depthwise_conv2d>
// CHECK-NOT: qat.packed_depthwise_conv2d
func.func @depthwise_multiplier(%x: tensor<1x4x4x1xi8>) -> tensor<1x4x4x2xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<1x1x1x2xi8>}> : () -> tensor<1x1x1x2xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<0.5> : tensor<f32>
  %q = qat.integer_kernel <depthwise_conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x1xi8>, tensor<1x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %q : tensor<1x4x4x2xi8>
}

// -----

// Codes between packed kernels are stored unsigned: %a is read by two
// kernels (as input and as residual), %b by one (input); %c is returned and
// %d also read by tosa.max_pool2d, so both stay signed.
// CHECK-LABEL: func.func @unsigned_between_kernels
// CHECK: %[[A:.*]] = qat.packed_conv2d ins(%arg0,
// CHECK-SAME: unsigned_output
// CHECK-NOT: unsigned_input
// CHECK: %[[B:.*]] = qat.packed_conv2d ins(%[[A]],
// CHECK-SAME: unsigned_input
// CHECK-SAME: unsigned_output
// CHECK: %[[C:.*]] = qat.packed_conv2d ins(%[[B]], {{.*}}, residual %[[A]] :
// CHECK-SAME: unsigned_input, unsigned_residual
// CHECK-NOT: unsigned_output
// CHECK: %[[D:.*]] = qat.packed_conv2d ins(%[[C]],
// CHECK-SAME: {{[^_]}}output_zero_point
// CHECK-NOT: unsigned
// CHECK: tosa.max_pool2d %[[D]]
func.func @unsigned_between_kernels(%x: tensor<1x4x4x8xi8>) -> (tensor<1x4x4x8xi8>, tensor<1x2x2x8xi8>, tensor<1x4x4x8xi8>) {
  %w = "tosa.const"() <{values = dense<1> : tensor<8x1x1x8xi8>}> : () -> tensor<8x1x1x8xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<8xi32>}> : () -> tensor<8xi32>
  %m = arith.constant dense<0.1> : tensor<f32>
  %a = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %bb = qat.integer_kernel <conv2d> %a, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %mr = arith.constant dense<0.5> : tensor<f32>
  %c = qat.integer_kernel <conv2d> %bb, %w, %b, %m residual %a, %mr {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>, tensor<1x4x4x8xi8>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %d = qat.integer_kernel <conv2d> %c, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %p = tosa.max_pool2d %d {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x8xi8>) -> tensor<1x2x2x8xi8>
  return %c, %p, %d : tensor<1x4x4x8xi8>, tensor<1x2x2x8xi8>, tensor<1x4x4x8xi8>
}

// -----

// %a is read as input by a 3x3 conv with padding 1 (zero point -7, the one
// %a is written with) and as a residual: it is written inside a 1-wide
// border (output_pad), the 3x3 conv reads it unpadded, the residual reader
// gets its interior.
// CHECK-LABEL: func.func @padded_output
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x6x6x8xi8>
// CHECK: %[[A:.*]] = qat.packed_conv2d ins(%arg0, {{.*}}) outs(%[[E]] : tensor<1x6x6x8xi8>)
// CHECK-SAME: output_pad = array<i64: 1, 1, 1, 1>
// CHECK-SAME: unsigned_output
// CHECK: %[[I:.*]] = tensor.extract_slice %[[A]][0, 1, 1, 0] [1, 4, 4, 8] [1, 1, 1, 1] : tensor<1x6x6x8xi8> to tensor<1x4x4x8xi8>
// CHECK: %[[B:.*]] = qat.packed_conv2d ins(%[[A]], {{.*}} : tensor<1x6x6x8xi8>,
// CHECK-SAME: pad = array<i64: 0, 0, 0, 0>
// CHECK-SAME: unsigned_input
// CHECK: qat.packed_conv2d ins(%[[B]], {{.*}}, residual %[[I]] :
func.func @padded_output(%x: tensor<1x4x4x8xi8>) -> tensor<1x4x4x8xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<8x1x1x8xi8>}> : () -> tensor<8x1x1x8xi8>
  %w3 = "tosa.const"() <{values = dense<1> : tensor<8x3x3x8xi8>}> : () -> tensor<8x3x3x8xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<8xi32>}> : () -> tensor<8xi32>
  %m = arith.constant dense<0.1> : tensor<f32>
  %a = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = -7 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %bb = qat.integer_kernel <conv2d> %a, %w3, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = -7 : i64, output_zero_point = 0 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x3x3x8xi8>, tensor<8xi32>, tensor<f32>) -> tensor<1x4x4x8xi8>
  %mr = arith.constant dense<0.5> : tensor<f32>
  %c = qat.integer_kernel <conv2d> %bb, %w, %b, %m residual %a, %mr {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = -7 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xi8>, tensor<8x1x1x8xi8>, tensor<8xi32>, tensor<f32>, tensor<1x4x4x8xi8>, tensor<f32>) -> tensor<1x4x4x8xi8>
  return %c : tensor<1x4x4x8xi8>
}

// -----

// PyTorch's onednn form: the float bias (padded to 16 entries with 0) and
// the offset go to the packed op; a depthwise kernel with a per-tensor float
// bias gets it broadcast to its channels.
// CHECK-LABEL: func.func @float_bias
// CHECK-DAG: %[[FB:.*]] = arith.constant dense<[1.500000e+00, -2.500000e+00, 0.000000e+00, {{.*}}]> : tensor<16xf32>
// CHECK: qat.packed_conv2d ins(%arg0, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x3x3x2xi8>, tensor<1x1x1x1x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%{{.*}} : tensor<1x3x3x2xi8>) float_bias(%[[FB]] : tensor<16xf32>)
// CHECK-SAME: float_zero_point_offset = 128 : i64
// CHECK: %[[DB:.*]] = arith.constant dense<[7.500000e-01, 7.500000e-01, 0.000000e+00, {{.*}}]> : tensor<16xf32>
// CHECK: qat.packed_depthwise_conv2d ins({{.*}}) outs(%{{.*}} : tensor<1x3x3x2xi8>) float_bias(%[[DB]] : tensor<16xf32>)
// CHECK-SAME: float_zero_point_offset = 128 : i64
func.func @float_bias(%x: tensor<1x3x3x2xi8>) -> tensor<1x3x3x2xi8> {
  %w = "tosa.const"() <{values = dense<[[[[1, -2]]], [[[3, 4]]]]> : tensor<2x1x1x2xi8>}> : () -> tensor<2x1x1x2xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %fb = arith.constant dense<[1.5, -2.5]> : tensor<2xf32>
  %q = qat.integer_kernel <conv2d> %x, %w, %b, %m float_bias %fb {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = -118 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x3x3x2xi8>
  %dw = "tosa.const"() <{values = dense<[[[[1], [2]]]]> : tensor<1x1x2x1xi8>}> : () -> tensor<1x1x2x1xi8>
  %dm = arith.constant dense<0.5> : tensor<f32>
  %dfb = arith.constant dense<0.75> : tensor<f32>
  %d = qat.integer_kernel <depthwise_conv2d> %q, %dw, %b, %dm float_bias %dfb {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = -128 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xi8>, tensor<1x1x2x1xi8>, tensor<2xi32>, tensor<f32>, tensor<f32>) -> tensor<1x3x3x2xi8>
  return %d : tensor<1x3x3x2xi8>
}
