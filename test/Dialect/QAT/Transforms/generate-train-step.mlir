// RUN: qat-opt %s -split-input-file --qat-generate-train-step="loss=mse" | FileCheck %s
// RUN: qat-opt %s -split-input-file --qat-generate-train-step="loss=mse" | qat-opt > /dev/null
//
// Each adjoint, in @main_gradients (the loss is the mean squared error, so
// the model output may have any shape). Parameters are globals marked
// qat.parameter; gradients flow only between them and the loss.

// Two convolutions: the second's data adjoint feeds the first's weight
// adjoint; the bias adjoints sum over N, H, W.
// CHECK-LABEL: func.func @main_gradients
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x8x2xf32>, %{{.*}}: tensor<1x4x4x3xf32>) -> (tensor<f32>, tensor<4x3x3x2xf32>, tensor<4xf32>, tensor<3x3x3x4xf32>)
// CHECK-DAG: %[[W1:.*]] = ml_program.global_load @w1
// CHECK-DAG: %[[W2:.*]] = ml_program.global_load @w2
// CHECK: %[[H:.*]] = tosa.conv2d %[[X]], %[[W1]]
// CHECK: %[[DH:.*]] = qat.conv2d_backward_data %[[DY:.*]], %[[W2]] {dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x3xf32>, tensor<3x3x3x4xf32>) -> tensor<1x8x8x4xf32>
// CHECK: %[[DW2:.*]] = qat.conv2d_backward_weight %[[H]], %[[DY]] {{.*}} -> tensor<3x3x3x4xf32>
// CHECK: %[[DW1:.*]] = qat.conv2d_backward_weight %[[X]], %[[DH]] {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x2xf32>, tensor<1x8x8x4xf32>) -> tensor<4x3x3x2xf32>
// CHECK: %[[S0:.*]] = tosa.reduce_sum %[[DH]] {axis = 0 : i32}
// CHECK: %[[S1:.*]] = tosa.reduce_sum %[[S0]] {axis = 1 : i32}
// CHECK: %[[S2:.*]] = tosa.reduce_sum %[[S1]] {axis = 2 : i32} : (tensor<1x1x8x4xf32>) -> tensor<1x1x1x4xf32>
// CHECK: %[[DB:.*]] = tosa.reshape %[[S2]], %{{.*}} : (tensor<1x1x1x4xf32>, !tosa.shape<1>) -> tensor<4xf32>
// CHECK: return %{{.*}}, %[[DW1]], %[[DB]], %[[DW2]]
module {
  ml_program.global private mutable @w1(dense<0.5> : tensor<4x3x3x2xf32>) : tensor<4x3x3x2xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @b1(dense<0.0> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "bias"}
  ml_program.global private mutable @w2(dense<0.5> : tensor<3x3x3x4xf32>) : tensor<3x3x3x4xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<1x8x8x2xf32>) -> tensor<1x4x4x3xf32> {
    %w1 = ml_program.global_load @w1 : tensor<4x3x3x2xf32>
    %b1 = ml_program.global_load @b1 : tensor<4xf32>
    %w2 = ml_program.global_load @w2 : tensor<3x3x3x4xf32>
    %b2 = "tosa.const"() <{values = dense<0.0> : tensor<3xf32>}> : () -> tensor<3xf32>
    %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %h = tosa.conv2d %x, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x2xf32>, tensor<4x3x3x2xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
    %y = tosa.conv2d %h, %w2, %b2, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>, tensor<3x3x3x4xf32>, tensor<3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
    return %y : tensor<1x4x4x3xf32>
  }
}

// -----

// Depthwise: data and weight adjoints with the forward's window.
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[DH:.*]] = qat.depthwise_conv2d_backward_data %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x8xf32>, tensor<3x3x4x2xf32>) -> tensor<1x8x8x4xf32>
// CHECK: qat.depthwise_conv2d_backward_weight %{{.*}}, %{{.*}} {{.*}} : (tensor<1x8x8x4xf32>, tensor<1x4x4x8xf32>) -> tensor<3x3x4x2xf32>
// CHECK: qat.depthwise_conv2d_backward_weight %{{.*}}, %[[DH]] {{.*}} -> tensor<3x3x4x1xf32>
module {
  ml_program.global private mutable @w1(dense<0.5> : tensor<3x3x4x1xf32>) : tensor<3x3x4x1xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @w2(dense<0.5> : tensor<3x3x4x2xf32>) : tensor<3x3x4x2xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x8xf32> {
    %w1 = ml_program.global_load @w1 : tensor<3x3x4x1xf32>
    %w2 = ml_program.global_load @w2 : tensor<3x3x4x2xf32>
    %b1 = "tosa.const"() <{values = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
    %b2 = "tosa.const"() <{values = dense<0.0> : tensor<8xf32>}> : () -> tensor<8xf32>
    %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %h = tosa.depthwise_conv2d %x, %w1, %b1, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<3x3x4x1xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x8x4xf32>
    %y = tosa.depthwise_conv2d %h, %w2, %b2, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>, tensor<3x3x4x2xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
    return %y : tensor<1x4x4x8xf32>
  }
}

// -----

// Matmul: dA = dY B^T, dB = A^T dY, as tosa.transpose and tosa.matmul.
// CHECK-LABEL: func.func @main_gradients
// CHECK-DAG: %[[A:.*]] = ml_program.global_load @a
// CHECK-DAG: %[[B:.*]] = ml_program.global_load @b
// CHECK: %[[BT:.*]] = tosa.transpose %[[B]] {perms = array<i32: 0, 2, 1>} : (tensor<1x6x5xf32>) -> tensor<1x5x6xf32>
// CHECK: %[[DA:.*]] = tosa.matmul %[[DY:.*]], %[[BT]], %{{.*}}, %{{.*}} : (tensor<1x4x5xf32>, tensor<1x5x6xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x6xf32>
// CHECK: %[[AT:.*]] = tosa.transpose %[[A]] {perms = array<i32: 0, 2, 1>} : (tensor<1x4x6xf32>) -> tensor<1x6x4xf32>
// CHECK: %[[DB:.*]] = tosa.matmul %[[AT]], %[[DY]], %{{.*}}, %{{.*}} : (tensor<1x6x4xf32>, tensor<1x4x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x6x5xf32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
module {
  ml_program.global private mutable @a(dense<0.5> : tensor<1x4x6xf32>) : tensor<1x4x6xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @b(dense<0.5> : tensor<1x6x5xf32>) : tensor<1x6x5xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<1x4x5xf32>) -> tensor<1x4x5xf32> {
    %a = ml_program.global_load @a : tensor<1x4x6xf32>
    %b = ml_program.global_load @b : tensor<1x6x5xf32>
    %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %y = tosa.matmul %a, %b, %zp, %zp : (tensor<1x4x6xf32>, tensor<1x6x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x5xf32>
    %z = tosa.add %y, %x : (tensor<1x4x5xf32>, tensor<1x4x5xf32>) -> tensor<1x4x5xf32>
    return %z : tensor<1x4x5xf32>
  }
}

// -----

// add, sub, mul with broadcast operands: the gradient of a broadcast operand
// is summed over the broadcast axes; sub negates (mul by -1); mul multiplies
// by the other operand.
// CHECK-LABEL: func.func @main_gradients
// CHECK-DAG: %[[P:.*]] = ml_program.global_load @p
// CHECK-DAG: %[[Q:.*]] = ml_program.global_load @q
// CHECK: %[[M:.*]] = tosa.mul %[[X:.*]], %[[P]]
// CHECK: %[[S:.*]] = tosa.sub %[[M]], %[[Q]]
// CHECK: %[[DY:.*]] = tosa.add %{{.*}}, %{{.*}} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK: %[[NEG1:.*]] = "tosa.const"() <{values = dense<-1.000000e+00> : tensor<1x1xf32>}>
// CHECK: %[[NEG:.*]] = tosa.mul %[[DY]], %[[NEG1]]
// CHECK: %[[DQ:.*]] = tosa.reduce_sum %[[NEG]] {axis = 1 : i32} : (tensor<2x4xf32>) -> tensor<2x1xf32>
// CHECK: %[[T:.*]] = tosa.mul %[[DY]], %[[X]]
// CHECK: %[[DP:.*]] = tosa.reduce_sum %[[T]] {axis = 0 : i32} : (tensor<2x4xf32>) -> tensor<1x4xf32>
// CHECK: return %{{.*}}, %[[DP]], %[[DQ]]
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<1x4xf32>) : tensor<1x4xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @q(dense<0.5> : tensor<2x1xf32>) : tensor<2x1xf32> {qat.parameter = "bias"}
  func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
    %p = ml_program.global_load @p : tensor<1x4xf32>
    %q = ml_program.global_load @q : tensor<2x1xf32>
    %s = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
    %m = tosa.mul %x, %p, %s : (tensor<2x4xf32>, tensor<1x4xf32>, tensor<1xi8>) -> tensor<2x4xf32>
    %y = tosa.sub %m, %q : (tensor<2x4xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>
    return %y : tensor<2x4xf32>
  }
}

// -----

// ReLU (min 0, no upper bound): dy where x > 0. ReLU6: where 0 < x < 6.
// rsqrt: (dy * -0.5) * y^3.
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[R:.*]] = tosa.rsqrt %[[V:.*]] :
// CHECK: %[[A:.*]] = tosa.clamp %[[R]] {max_val = 6.000000e+00 : f32, min_val = 0.000000e+00 : f32}
// CHECK: %[[B:.*]] = tosa.clamp %[[A]] {max_val = 3.40282347E+38 : f32, min_val = 0.000000e+00 : f32}
// CHECK: %[[G1:.*]] = tosa.greater %[[A]], %{{.*}} : (tensor<4xf32>, tensor<1xf32>) -> tensor<4xi1>
// CHECK-NOT: tosa.greater
// CHECK: %[[D1:.*]] = tosa.select %[[G1]], %{{.*}}, %{{.*}}
// CHECK: %[[LO:.*]] = tosa.greater %[[R]], %{{.*}}
// CHECK: %[[HI:.*]] = tosa.greater %{{.*}}, %[[R]]
// CHECK: %[[AND:.*]] = tosa.logical_and %[[LO]], %[[HI]]
// CHECK: %[[D2:.*]] = tosa.select %[[AND]], %[[D1]], %{{.*}}
// CHECK: %[[YY:.*]] = tosa.mul %[[R]], %[[R]]
// CHECK: %[[CUBE:.*]] = tosa.mul %[[YY]], %[[R]]
// CHECK: %[[HALF:.*]] = "tosa.const"() <{values = dense<-5.000000e-01> : tensor<1xf32>}>
// CHECK: %[[DH:.*]] = tosa.mul %[[D2]], %[[HALF]]
// CHECK: tosa.mul %[[DH]], %[[CUBE]]
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %p = ml_program.global_load @p : tensor<4xf32>
    %v = tosa.add %x, %p : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = tosa.rsqrt %v : (tensor<4xf32>) -> tensor<4xf32>
    %a = tosa.clamp %r {max_val = 6.0 : f32, min_val = 0.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
    %b = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
    return %b : tensor<4xf32>
  }
}

// -----

// Pooling: qat.max_pool2d_backward reads the forward input;
// qat.avg_pool2d_backward only the window.
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[V:.*]] = tosa.add
// CHECK: %[[M:.*]] = tosa.max_pool2d %[[V]]
// CHECK: %[[DM:.*]] = qat.avg_pool2d_backward %{{.*}} {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : tensor<1x2x2x3xf32> -> tensor<1x4x4x3xf32>
// CHECK: qat.max_pool2d_backward %[[DM]], %[[V]] {kernel = array<i64: 3, 3>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x3xf32>, tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf32>
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<1x8x8x3xf32>) : tensor<1x8x8x3xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x2x2x3xf32> {
    %p = ml_program.global_load @p : tensor<1x8x8x3xf32>
    %v = tosa.add %x, %p : (tensor<1x8x8x3xf32>, tensor<1x8x8x3xf32>) -> tensor<1x8x8x3xf32>
    %m = tosa.max_pool2d %v {kernel = array<i64: 3, 3>, pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>} : (tensor<1x8x8x3xf32>) -> tensor<1x4x4x3xf32>
    %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %a = tosa.avg_pool2d %m, %zp, %zp {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x3xf32>
    return %a : tensor<1x2x2x3xf32>
  }
}

// -----

// Layout ops: reshape back, inverse transpose, a slice's adjoint is a zero
// pad, a pad's a slice, a concat's one slice per operand, a reduction's a
// broadcast (add of zeros).
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[DR:.*]] = tosa.add %{{.*}}, %{{.*}} : (tensor<1x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
// CHECK: %[[C0:.*]] = tosa.slice %[[DR]], %{{.*}}, %{{.*}} : (tensor<4x6xf32>, !tosa.shape<2>, !tosa.shape<2>) -> tensor<4x3xf32>
// CHECK: %[[C1:.*]] = tosa.slice %[[DR]], %{{.*}}, %{{.*}} : (tensor<4x6xf32>, !tosa.shape<2>, !tosa.shape<2>) -> tensor<4x3xf32>
// CHECK: %[[DP:.*]] = tosa.slice %[[C1]], %{{.*}}, %{{.*}} : (tensor<4x3xf32>, !tosa.shape<2>, !tosa.shape<2>) -> tensor<2x3xf32>
// CHECK: %[[DS:.*]] = tosa.pad %[[DP]], %{{.*}}, %{{.*}} : (tensor<2x3xf32>, !tosa.shape<4>, tensor<1xf32>) -> tensor<4x3xf32>
// CHECK: %[[DA:.*]] = tosa.add %[[C0]], %[[DS]]
// CHECK: %[[DT:.*]] = tosa.transpose %[[DA]] {perms = array<i32: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
// CHECK: %[[DX:.*]] = tosa.reshape %[[DT]], %{{.*}} : (tensor<3x4xf32>, !tosa.shape<1>) -> tensor<12xf32>
// CHECK: return %{{.*}}, %[[DX]]
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<12xf32>) : tensor<12xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<12xf32>) -> tensor<1x6xf32> {
    %p = ml_program.global_load @p : tensor<12xf32>
    %s1 = tosa.const_shape {values = dense<[3, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %r = tosa.reshape %p, %s1 : (tensor<12xf32>, !tosa.shape<2>) -> tensor<3x4xf32>
    %t = tosa.transpose %r {perms = array<i32: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
    %st = tosa.const_shape {values = dense<[1, 0]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %sz = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %sl = tosa.slice %t, %st, %sz : (tensor<4x3xf32>, !tosa.shape<2>, !tosa.shape<2>) -> tensor<2x3xf32>
    %pd = tosa.const_shape {values = dense<[1, 1, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %pc = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %pp = tosa.pad %sl, %pd, %pc : (tensor<2x3xf32>, !tosa.shape<4>, tensor<1xf32>) -> tensor<4x3xf32>
    %c = tosa.concat %t, %pp {axis = 1 : i32} : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x6xf32>
    %rs = tosa.reduce_sum %c {axis = 0 : i32} : (tensor<4x6xf32>) -> tensor<1x6xf32>
    return %rs : tensor<1x6xf32>
  }
}

// -----

// Quantizers: the STE mask of qat.fake_quant (no gradient for its observed
// scale), and all three gradients of qat.lsq.
// CHECK-LABEL: func.func @main_gradients
// CHECK-DAG: %[[S:.*]] = ml_program.global_load @s
// CHECK-DAG: %[[Z:.*]] = ml_program.global_load @z
// CHECK: %[[L:.*]] = qat.lsq %[[V:.*]], %[[S]], %[[Z]] {grad_factor = 2.500000e-01 : f64, quant_max = 255 : i64, quant_min = 0 : i64}
// CHECK: %[[F:.*]] = qat.fake_quant %[[L]], %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64}
// CHECK: %[[DL:.*]] = qat.fake_quant_grad %{{.*}}, %[[L]], %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64}
// CHECK: %[[DX:.*]], %[[DS:.*]], %[[DZ:.*]] = qat.lsq_grad %[[DL]], %[[V]], %[[S]], %[[Z]] {grad_factor = 2.500000e-01 : f64, quant_max = 255 : i64, quant_min = 0 : i64}
// CHECK: return %{{.*}}, %[[DS]], %[[DZ]], %[[DX]]
module {
  ml_program.global private mutable @s(dense<0.1> : tensor<f32>) : tensor<f32> {qat.parameter = "scale"}
  ml_program.global private mutable @z(dense<3.0> : tensor<f32>) : tensor<f32> {qat.parameter = "zero_point"}
  ml_program.global private mutable @p(dense<0.5> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %s = ml_program.global_load @s : tensor<f32>
    %z = ml_program.global_load @z : tensor<f32>
    %p = ml_program.global_load @p : tensor<4xf32>
    %v = tosa.add %x, %p : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %l = qat.lsq %v, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, grad_factor = 0.25 : f64} : tensor<4xf32>, tensor<f32>
    %fs = arith.constant dense<0.05> : tensor<f32>
    %fz = arith.constant dense<0> : tensor<i32>
    %f = qat.fake_quant %l, %fs, %fz {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
    return %f : tensor<4xf32>
  }
}

// -----

// reciprocal (ConvBn2d's 1 / s): dx = dy * -(y * y).
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[R:.*]] = tosa.reciprocal %{{.*}} : (tensor<4xf32>) -> tensor<4xf32>
// CHECK: %[[YY:.*]] = tosa.mul %[[R]], %[[R]]
// CHECK: %[[M1:.*]] = "tosa.const"() <{values = dense<-1.000000e+00> : tensor<1xf32>}>
// CHECK: %[[NEG:.*]] = tosa.mul %[[YY]], %[[M1]]
// CHECK: %[[DV:.*]] = tosa.mul %{{.*}}, %[[NEG]]
// CHECK: return %{{.*}}, %[[DV]]
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %p = ml_program.global_load @p : tensor<4xf32>
    %v = tosa.add %x, %p : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = tosa.reciprocal %v : (tensor<4xf32>) -> tensor<4xf32>
    return %r : tensor<4xf32>
  }
}

// -----

// arith.divf on tensors (ConvBn2d's exact divisions): da = dz / b,
// db = -dz * ((a / b) / b).
// CHECK-LABEL: func.func @main_gradients
// CHECK: %[[Q:.*]] = arith.divf %[[A:.*]], %[[B:.*]] : tensor<4xf32>
// CHECK: %[[DA:.*]] = arith.divf %[[DZ:.*]], %[[B]] : tensor<4xf32>
// CHECK: %[[Q1:.*]] = arith.divf %[[A]], %[[B]] : tensor<4xf32>
// CHECK: %[[Q2:.*]] = arith.divf %[[Q1]], %[[B]] : tensor<4xf32>
// CHECK: %[[NEG:.*]] = arith.negf %[[DZ]] : tensor<4xf32>
// CHECK: %[[DB:.*]] = arith.mulf %[[NEG]], %[[Q2]] : tensor<4xf32>
// CHECK: return %{{.*}}, %[[DA]], %[[DB]]
module {
  ml_program.global private mutable @p(dense<0.5> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @q(dense<2.0> : tensor<4xf32>) : tensor<4xf32> {qat.parameter = "weight"}
  func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
    %p = ml_program.global_load @p : tensor<4xf32>
    %q = ml_program.global_load @q : tensor<4xf32>
    %a = tosa.add %x, %p : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = arith.divf %a, %q : tensor<4xf32>
    return %r : tensor<4xf32>
  }
}
