// RUN: qat-opt %s -split-input-file --qat-lower-to-npu=config=%S/Inputs/block4.cfg | FileCheck %s
// RUN: qat-opt %s -split-input-file --qat-lower-to-npu=config=%S/Inputs/block4.cfg | qat-opt | FileCheck %s

// A pointwise convolution: 3 input and 2 output channels in one 4x4 block,
// lane o * 4 + i holding W[o][i]; bias and (M, n) rows padded with M = 0,
// n = 1 for the unused lanes; input and output codes with their scales.
// CHECK-LABEL: npu.program @conv config #npu.config<block_in = 4, block_out = 4> dram_size 256 {
// CHECK-NEXT: npu.tensor input "arg0" : tensor<1x3x3x3xi8> at 128 scale 5.000000e-01 zero_point 0
// CHECK-NEXT: npu.tensor output "result0" : tensor<1x3x3x2xi8> at 192 scale 2.500000e-01 zero_point 0
// CHECK-NEXT: npu.data "conv2d_0.weights" at 0 = dense<[1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi8>
// CHECK-NEXT: npu.data "conv2d_0.bias_and_requantization" at 64 = dense<[100, -200, 0, 0, 1073741824, 1073741824, 0, 0, 33, 33, 1, 1]> : tensor<12xi32>
// CHECK-NEXT: npu.layer 0 "conv2d_0 1x1/1 3x3x3->3x3x2" macs 54
// CHECK-NEXT: npu.load acc[2045], i32 from dram[64] rows 1 stride 0 cols 1 stride 16 layer 0
// CHECK-NEXT: npu.load acc[2046], i32 from dram[80] rows 1 stride 0 cols 2 stride 16 layer 0
// CHECK-NEXT: npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 16 layer 0
// CHECK-NEXT: npu.load inp[0], i8 from dram[128] rows 3 stride 9 cols 3 stride 3 lanes 3 deps push_next layer 0
// CHECK-NEXT: npu.alu mov loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 2045 [0, 0] param 0 [0, 0] imm [0, 0, 0] deps pop_prev layer 0
// CHECK-NEXT: npu.gemm loops [3, 3] uops [(0, 0, 0)] acc 0 [3, 1] inp 0 [3, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 2046 [0, 0] imm [0, 0, 127] deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[192] rows 3 stride 6 cols 3 stride 2 lanes 2 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
func.func @conv(%x: tensor<1x3x3x3xf32>) -> tensor<1x3x3x2xf32> {
  %s = arith.constant dense<5.000000e-01> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.quantize %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x3x3x3xf32>, tensor<f32>, tensor<i32> -> tensor<1x3x3x3xi8>
  %w = "tosa.const"() <{values = dense<[[[[1, 2, 3]]], [[[4, 5, 6]]]]> : tensor<2x1x1x3xi8>}> : () -> tensor<2x1x1x3xi8>
  %b = "tosa.const"() <{values = dense<[100, -200]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<33> : tensor<i8>
  %zo = arith.constant dense<0> : tensor<i32>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x3x3x3xi8>, tensor<2x1x1x3xi8>, tensor<2xi32>, tensor<i32>, tensor<i8>) -> tensor<1x3x3x2xi8>
  %os = arith.constant dense<2.500000e-01> : tensor<f32>
  %y = qat.dequantize %r, %os, %zo : tensor<1x3x3x2xi8>, tensor<f32>, tensor<i32> -> tensor<1x3x3x2xf32>
  return %y : tensor<1x3x3x2xf32>
}

// -----

// Depthwise: one diagonal 4x4 block per tap; the input zero point 2 pads
// the window (LOAD value 2) and -2 * w[c] goes into the bias.
// CHECK-LABEL: npu.program @depthwise
// CHECK: npu.data "depthwise_conv2d_0.weights" at 0 = dense<[3, 0, 0, 0, 0, -5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi8>
// CHECK-NEXT: npu.data "depthwise_conv2d_0.bias_and_requantization" at 64 = dense<[4, 30, 0, 0, 1073741824, 1610612736, 0, 0, 31, 32, 1, 1]> : tensor<12xi32>
// CHECK: npu.load inp[0], i8 from dram[128] rows 2 stride 4 cols 2 stride 2 lanes 2 value 2 deps push_next layer 0
// CHECK: npu.gemm loops [2, 2] uops [(0, 0, 0)] acc 0 [2, 1] inp 0 [2, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale loops [1, 4] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 2046 [0, 0] imm [0, -128, 127] deps push_next layer 0
func.func @depthwise(%q: tensor<1x2x2x2xi8>) -> tensor<1x2x2x2xi8> {
  %w = "tosa.const"() <{values = dense<[[[[3], [-5]]]]> : tensor<1x1x2x1xi8>}> : () -> tensor<1x1x2x1xi8>
  %b = "tosa.const"() <{values = dense<[10, 20]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %m = arith.constant dense<[1073741824, 1610612736]> : tensor<2xi32>
  %n = arith.constant dense<[31, 32]> : tensor<2xi8>
  %r = qat.integer_kernel <depthwise_conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 2 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xi8>, tensor<1x1x2x1xi8>, tensor<2xi32>, tensor<2xi32>, tensor<2xi8>) -> tensor<1x2x2x2xi8>
  return %r : tensor<1x2x2x2xi8>
}

// -----

// A fully connected layer: reshape, matmul (its rows as pixels), reshape,
// bias add, rescale. B[k][n] is packed as lane n * 4 + k.
// CHECK-LABEL: npu.program @fc
// CHECK: npu.tensor output "result0" : tensor<2x2xi8> at 192
// CHECK-NEXT: npu.data "matmul_0.weights" at 0 = dense<[1, 3, 5, 0, 2, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0]> : tensor<16xi8>
// CHECK-NEXT: npu.data "matmul_0.bias_and_requantization" at 64 = dense<[7, -7, 0, 0, 1073741824, 1073741824, 0, 0, 31, 31, 1, 1]> : tensor<12xi32>
// CHECK-NEXT: npu.layer 0 "matmul_0 2x3->2x2" macs 12
// CHECK: npu.load inp[0], i8 from dram[128] rows 1 stride 6 cols 2 stride 3 lanes 3 deps push_next layer 0
// CHECK: npu.gemm loops [1, 2] uops [(0, 0, 0)] acc 0 [2, 1] inp 0 [2, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale {{.*}} imm [-1, -128, 127] deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[192] rows 1 stride 4 cols 2 stride 2 lanes 2 deps pop_prev|push_prev layer 0
func.func @fc(%q: tensor<2x1x1x3xi8>) -> tensor<2x2xi8> {
  %s3 = tosa.const_shape {values = dense<[1, 2, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %a = tosa.reshape %q, %s3 : (tensor<2x1x1x3xi8>, !tosa.shape<3>) -> tensor<1x2x3xi8>
  %w = "tosa.const"() <{values = dense<[[[1, 2], [3, 4], [5, 6]]]> : tensor<1x3x2xi8>}> : () -> tensor<1x3x2xi8>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %r_bias = arith.constant dense<[7, -7]> : tensor<2xi32>
  %r = qat.integer_kernel <matmul> %a, %w, %r_bias, %m shift %n {input_zero_point = 0 : i64, output_zero_point = -1 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x2x3xi8>, tensor<1x3x2xi8>, tensor<2xi32>, tensor<i32>, tensor<i8>) -> tensor<2x2xi8>
  return %r : tensor<2x2xi8>
}

// -----

// Max pooling on the ALU: the window in ACC (padding -128), MOV of the
// first tap, MAX of the others.
// CHECK-LABEL: npu.program @max_pool
// CHECK: npu.layer 0 "max_pool2d_0 2x2/2 4x4x4->2x2x4" macs 0
// CHECK-NEXT: npu.load acc[0], i8 from dram[0] rows 4 stride 16 cols 4 stride 4 value -128 layer 0
// CHECK-NEXT: npu.alu mov loops [2, 2] uops [(0, 0, 0)] dst 16 [2, 1] src 0 [8, 2] param 0 [0, 0] imm [0, 0, 0] layer 0
// CHECK-NEXT: npu.alu max loops [2, 2] uops [(0, 1, 0), (0, 4, 0), (0, 5, 0)] dst 16 [2, 1] src 0 [8, 2] param 0 [0, 0] imm [0, 0, 0] deps push_next layer 0
// CHECK-NEXT: npu.store acc[16], i8 to dram[64] rows 2 stride 8 cols 2 stride 4 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
func.func @max_pool(%q: tensor<1x4x4x4xi8>) -> tensor<1x2x2x4xi8> {
  %p = tosa.max_pool2d %q {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x4xi8>) -> tensor<1x2x2x4xi8>
  return %p : tensor<1x2x2x4xi8>
}

// -----

// An add of two int8 tensors: both in ACC, their zero points subtracted on
// the ALU, RESCALE_ADD with (Ma, n, Mb) rows; 6 codes = one full entry and
// one of 2 lanes.
// CHECK-LABEL: npu.program @add
// CHECK: npu.data "add_0.requantization" at 0 = dense<[1073741824, 1073741824, 1073741824, 1073741824, 31, 31, 31, 31, 536870912, 536870912, 536870912, 536870912]> : tensor<12xi32>
// CHECK: npu.load acc[2045], i32 from dram[0] rows 1 stride 0 cols 3 stride 16 layer 0
// CHECK-NEXT: npu.load acc[0], i8 from dram[64] rows 1 stride 0 cols 1 stride 4 layer 0
// CHECK-NEXT: npu.load acc[1], i8 from dram[68] rows 1 stride 0 cols 1 stride 4 lanes 2 layer 0
// CHECK-NEXT: npu.load acc[2], i8 from dram[128] rows 1 stride 0 cols 1 stride 4 layer 0
// CHECK-NEXT: npu.load acc[3], i8 from dram[132] rows 1 stride 0 cols 1 stride 4 lanes 2 layer 0
// CHECK-NEXT: npu.alu add use_imm loops [1, 2] uops [(0, 0, 0)] dst 0 [2, 1] {{.*}} imm [-3, 0, 0] layer 0
// CHECK-NEXT: npu.alu add use_imm loops [1, 2] uops [(0, 0, 0)] dst 2 [2, 1] {{.*}} imm [4, 0, 0] layer 0
// CHECK-NEXT: npu.alu rescale_add loops [1, 2] uops [(0, 2, 0)] dst 0 [0, 1] src 0 [0, 1] param 2045 [0, 0] imm [1, -128, 127] deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[192] rows 1 stride 0 cols 1 stride 4 deps pop_prev layer 0
// CHECK-NEXT: npu.store acc[1], i8 to dram[196] rows 1 stride 0 cols 1 stride 4 lanes 2 deps push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
func.func @add(%a: tensor<6xi8>, %b: tensor<6xi8>) -> tensor<6xi8> {
  %ma = arith.constant dense<1073741824> : tensor<i32>
  %mb = arith.constant dense<536870912> : tensor<i32>
  %za = arith.constant dense<3> : tensor<i32>
  %zb = arith.constant dense<-4> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %zo = arith.constant dense<1> : tensor<i32>
  %r = qat.rescale_add %a, %ma, %za, %b, %mb, %zb, %n, %zo {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<6xi8>, tensor<i32>, tensor<i32>, tensor<6xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<6xi8>
  return %r : tensor<6xi8>
}

// -----

// A concat on the channel axis: each input's rows copied through ACC into
// its columns of the output (a step of 5 lanes fills 2 entries of 4).
// CHECK-LABEL: npu.program @concat
// CHECK: npu.layer 0 "concat_0 2 inputs->1x2x2x8 axis 3" macs 0
// CHECK-NEXT: npu.load acc[0], i8 from dram[0] rows 4 stride 3 cols 1 stride 0 lanes 3 deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[128] rows 4 stride 8 cols 1 stride 0 lanes 3 deps pop_prev layer 0
// CHECK-NEXT: npu.load acc[1024], i8 from dram[64] rows 4 stride 5 cols 1 stride 0 lanes 5 deps push_next layer 0
// CHECK-NEXT: npu.store acc[1024], i8 to dram[131] rows 4 stride 8 cols 1 stride 0 lanes 5 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
func.func @concat(%a: tensor<1x2x2x3xi8>, %b: tensor<1x2x2x5xi8>) -> tensor<1x2x2x8xi8> {
  %c = tosa.concat %a, %b {axis = 3 : i32} : (tensor<1x2x2x3xi8>, tensor<1x2x2x5xi8>) -> tensor<1x2x2x8xi8>
  return %c : tensor<1x2x2x8xi8>
}

// -----

// A max pool of non-overlapping windows is fused into the convolution's
// epilogue: after RESCALE, MOV of each window's first code and MAX of the
// others into pooled rows (after the 16 accumulator rows), and only the
// pooled codes are stored.
// CHECK-LABEL: npu.program @conv_max_pool
// CHECK: npu.layer 0 "conv2d_0 1x1/1 4x4x4->2x2x4 +pool2x2" macs 256
// CHECK: npu.alu rescale loops [1, 16] {{.*}} dst 0 [0, 1] src 0 [0, 1]
// CHECK-NEXT: npu.alu mov loops [2, 2] uops [(0, 0, 0)] dst 16 [2, 1] src 0 [8, 2] param 0 [0, 0] imm [0, 0, 0] layer 0
// CHECK-NEXT: npu.alu max loops [2, 2] uops [(0, 1, 0), (0, 4, 0), (0, 5, 0)] dst 16 [2, 1] src 0 [8, 2] param 0 [0, 0] imm [0, 0, 0] deps push_next layer 0
// CHECK-NEXT: npu.store acc[16], i8 to dram[{{[0-9]+}}] rows 2 stride 8 cols 2 stride 4 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish
func.func @conv_max_pool(%q: tensor<1x4x4x4xi8>) -> tensor<1x2x2x4xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x1x1x4xi8>}> : () -> tensor<4x1x1x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x4xi8>, tensor<4x1x1x4xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<1x4x4x4xi8>
  %p = tosa.max_pool2d %r {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x4xi8>) -> tensor<1x2x2x4xi8>
  return %p : tensor<1x2x2x4xi8>
}

// -----

// A transpose of codes: the output's innermost dimension (W, stride 4 bytes
// in the input) gathered one code per step, its rows (H, stride 12); one
// LOAD/STORE pair per outer index (N x C = 4).
// CHECK-LABEL: npu.program @transpose
// CHECK: npu.layer 0 "transpose_0 1x2x3x4->1x4x2x3 (0,3,1,2)" macs 0
// CHECK-NEXT: npu.load acc[0], i8 from dram[0] rows 2 stride 12 cols 3 stride 4 lanes 1 deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[64] rows 2 stride 3 cols 3 stride 1 lanes 1 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.load acc[1024], i8 from dram[1] rows 2 stride 12 cols 3 stride 4 lanes 1 deps push_next layer 0
// CHECK-NEXT: npu.store acc[1024], i8 to dram[70] rows 2 stride 3 cols 3 stride 1 lanes 1 deps pop_prev|push_prev layer 0
// CHECK: npu.store acc[1024], i8 to dram[82] rows 2 stride 3 cols 3 stride 1 lanes 1 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
func.func @transpose(%q: tensor<1x2x3x4xi8>) -> tensor<1x4x2x3xi8> {
  %t = tosa.transpose %q {perms = array<i32: 0, 3, 1, 2>} : (tensor<1x2x3x4xi8>) -> tensor<1x4x2x3xi8>
  return %t : tensor<1x4x2x3xi8>
}

// -----

// An NCHW interface: the transpose before the input's quantizer is the
// caller's, like the quantization; the program takes NHWC codes. A
// transpose that keeps the order of the dimensions larger than 1 is an
// alias (no layer).
// CHECK-LABEL: npu.program @nchw_input
// CHECK-NEXT: npu.tensor input "arg0" : tensor<1x2x2x4xi8> at 0 scale 2.500000e-01 zero_point 0
// CHECK-NEXT: npu.tensor output "result0" : tensor<2x2x1x4xi8> at 0 scale 1.000000e+00 zero_point 0
// CHECK-NEXT: npu.finish
// CHECK-NEXT: }
func.func @nchw_input(%x: tensor<1x4x2x2xf32>) -> tensor<2x2x1x4xi8> {
  %nhwc = tosa.transpose %x {perms = array<i32: 0, 2, 3, 1>} : (tensor<1x4x2x2xf32>) -> tensor<1x2x2x4xf32>
  %s = arith.constant dense<2.500000e-01> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.quantize %nhwc, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x2x4xf32>, tensor<f32>, tensor<i32> -> tensor<1x2x2x4xi8>
  %t = tosa.transpose %q {perms = array<i32: 1, 2, 0, 3>} : (tensor<1x2x2x4xi8>) -> tensor<2x2x1x4xi8>
  return %t : tensor<2x2x1x4xi8>
}
