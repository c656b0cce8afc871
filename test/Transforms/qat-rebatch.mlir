// RUN: qat-opt %s -split-input-file -qat-rebatch=batch=8 | FileCheck %s
// RUN: qat-opt %s -split-input-file -qat-rebatch=batch=32 | FileCheck %s --check-prefix=SAME

// A classifier as the exporter writes it: NCHW -> NHWC transpose, conv,
// fake quantization, pool, flatten (reshape), linear as reshape + matmul.
// The batch is followed through the transpose and into dimension 1 of the
// matmul's 1 x rows x in operand; constants stay.

// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: tensor<8x3x8x8xf32>) -> tensor<8x10xf32>
// CHECK: tosa.transpose %[[X]] {{.*}} -> tensor<8x8x8x3xf32>
// CHECK: tosa.conv2d {{.*}} -> tensor<8x8x8x4xf32>
// CHECK: qat.fake_quant {{.*}} : tensor<8x8x8x4xf32>
// CHECK: tosa.avg_pool2d {{.*}} -> tensor<8x1x1x4xf32>
// CHECK: %[[S1:.*]] = tosa.const_shape {values = dense<[8, 4]> : tensor<2xindex>}
// CHECK: tosa.reshape %{{.*}}, %[[S1]] : (tensor<8x1x1x4xf32>, !tosa.shape<2>) -> tensor<8x4xf32>
// CHECK: %[[S2:.*]] = tosa.const_shape {values = dense<[1, 8, 4]> : tensor<3xindex>}
// CHECK: tosa.reshape %{{.*}}, %[[S2]] : (tensor<8x4xf32>, !tosa.shape<3>) -> tensor<1x8x4xf32>
// CHECK: tosa.matmul {{.*}} : (tensor<1x8x4xf32>, tensor<1x4x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x10xf32>
// CHECK: %[[S3:.*]] = tosa.const_shape {values = dense<[8, 10]> : tensor<2xindex>}
// CHECK: tosa.reshape %{{.*}}, %[[S3]] : (tensor<1x8x10xf32>, !tosa.shape<2>) -> tensor<8x10xf32>
// CHECK: tosa.add {{.*}} : (tensor<8x10xf32>, tensor<1x10xf32>) -> tensor<8x10xf32>
// CHECK: return {{.*}} : tensor<8x10xf32>
// SAME-LABEL: func.func @main
// SAME-SAME: tensor<32x3x8x8xf32>) -> tensor<32x10xf32>
func.func @main(%x: tensor<32x3x8x8xf32>) -> tensor<32x10xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %w = "tosa.const"() <{values = dense<0.5> : tensor<4x3x3x3xf32>}> : () -> tensor<4x3x3x3xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %t = tosa.transpose %x {perms = array<i32: 0, 2, 3, 1>} : (tensor<32x3x8x8xf32>) -> tensor<32x8x8x3xf32>
  %c = tosa.conv2d %t, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<32x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<32x8x8x4xf32>
  %s = arith.constant dense<0.05> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.fake_quant %c, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<32x8x8x4xf32>, tensor<f32>, tensor<i32>
  %p = tosa.avg_pool2d %q, %zp, %zp {acc_type = f32, kernel = array<i64: 8, 8>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 8, 8>} : (tensor<32x8x8x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<32x1x1x4xf32>
  %s1 = tosa.const_shape {values = dense<[32, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %f = tosa.reshape %p, %s1 : (tensor<32x1x1x4xf32>, !tosa.shape<2>) -> tensor<32x4xf32>
  %s2 = tosa.const_shape {values = dense<[1, 32, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %r = tosa.reshape %f, %s2 : (tensor<32x4xf32>, !tosa.shape<3>) -> tensor<1x32x4xf32>
  %fw = "tosa.const"() <{values = dense<0.25> : tensor<1x4x10xf32>}> : () -> tensor<1x4x10xf32>
  %m = tosa.matmul %r, %fw, %zp, %zp : (tensor<1x32x4xf32>, tensor<1x4x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x10xf32>
  %s3 = tosa.const_shape {values = dense<[32, 10]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %o = tosa.reshape %m, %s3 : (tensor<1x32x10xf32>, !tosa.shape<2>) -> tensor<32x10xf32>
  %fb = "tosa.const"() <{values = dense<0.1> : tensor<1x10xf32>}> : () -> tensor<1x10xf32>
  %y = tosa.add %o, %fb : (tensor<32x10xf32>, tensor<1x10xf32>) -> tensor<32x10xf32>
  return %y : tensor<32x10xf32>
}

// -----

// The exporter's crop for TOSA's divisibility rule: a slice of H and W that
// takes the whole batch; and a concat along channels.

// CHECK-LABEL: func.func @crop
// CHECK-SAME: tensor<8x7x7x4xf32>) -> tensor<8x6x6x8xf32>
// CHECK: %[[SIZE:.*]] = tosa.const_shape {values = dense<[8, 6, 6, 4]> : tensor<4xindex>}
// CHECK: tosa.slice %{{.*}}, %{{.*}}, %[[SIZE]] : (tensor<8x7x7x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<8x6x6x4xf32>
// CHECK: tosa.concat {{.*}} -> tensor<8x6x6x8xf32>
func.func @crop(%x: tensor<32x7x7x4xf32>) -> tensor<32x6x6x8xf32> {
  %start = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[32, 6, 6, 4]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s = tosa.slice %x, %start, %size : (tensor<32x7x7x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<32x6x6x4xf32>
  %c = tosa.concat %s, %s {axis = 3 : i32} : (tensor<32x6x6x4xf32>, tensor<32x6x6x4xf32>) -> tensor<32x6x6x8xf32>
  return %c : tensor<32x6x6x8xf32>
}

// -----

// An int8 model: a convolution kernel takes its input's batch; a matmul
// kernel's result (its R x O accumulator) scales with the input's rows.
// CHECK-LABEL: func.func @int8
// CHECK-SAME: (%[[X:.*]]: tensor<8x4x4x2xi8>) -> tensor<8x3xi8>
// CHECK: qat.integer_kernel <conv2d> %[[X]], {{.*}} -> tensor<8x2x2x4xi8>
// CHECK: qat.integer_kernel <matmul> {{.*}} : (tensor<1x8x16xi8>, tensor<1x16x3xi8>, tensor<3xi32>, tensor<f32>) -> tensor<8x3xi8>
// SAME-LABEL: func.func @int8
// SAME-SAME: tensor<32x4x4x2xi8>) -> tensor<32x3xi8>
func.func @int8(%x: tensor<32x4x4x2xi8>) -> tensor<32x3xi8> {
  %w = arith.constant dense<1> : tensor<4x3x3x2xi8>
  %b = arith.constant dense<0> : tensor<4xi32>
  %m = arith.constant dense<0.5> : tensor<f32>
  %c = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<32x4x4x2xi8>, tensor<4x3x3x2xi8>, tensor<4xi32>, tensor<f32>) -> tensor<32x2x2x4xi8>
  %s = tosa.const_shape {values = dense<[1, 32, 16]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %r = tosa.reshape %c, %s : (tensor<32x2x2x4xi8>, !tosa.shape<3>) -> tensor<1x32x16xi8>
  %wm = arith.constant dense<1> : tensor<1x16x3xi8>
  %bm = arith.constant dense<0> : tensor<3xi32>
  %y = qat.integer_kernel <matmul> %r, %wm, %bm, %m {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x32x16xi8>, tensor<1x16x3xi8>, tensor<3xi32>, tensor<f32>) -> tensor<32x3xi8>
  return %y : tensor<32x3xi8>
}
