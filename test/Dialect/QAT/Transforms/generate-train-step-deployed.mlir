// RUN: qat-opt %s -split-input-file --qat-generate-train-step="numerics=deployed loss=mse" | FileCheck %s
// RUN: qat-opt %s -split-input-file --qat-generate-train-step="numerics=deployed loss=mse" | qat-opt > /dev/null
//
// numerics=deployed: the forward becomes the float simulation of the
// target's integer model on the live parameters (qat.quantize of the weight,
// qat.quantize_bias of the bias, the convolution on f32 codes, the target's
// requantization), and the backward is those ops' straight-through backward.

// x86: float multiplier (qat.requantize), u8 activations shifted into i8,
// the ReLU as the code clamp. m[c] = (s_in * s_w[c]) / s_out in f32.
// CHECK-LABEL: func.func @main(
// CHECK: %[[X:.*]] = qat.quantize %arg0, %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32> -> tensor<1x4x4x2xf32>
// CHECK-DAG: %[[W:.*]] = ml_program.global_load @conv0_weight
// CHECK-DAG: %[[B:.*]] = ml_program.global_load @conv0_bias
// CHECK-DAG: %[[BQ:.*]] = qat.quantize_bias %[[B]], %{{.*}}, %{{.*}} : tensor<3xf32>, tensor<f32>, tensor<3xf32> -> tensor<3xf32>
// CHECK-DAG: %[[WQ:.*]] = qat.quantize %[[W]], %{{.*}}, %{{.*}} {axis = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<3x1x1x2xf32>, tensor<3xf32>, tensor<3xi32> -> tensor<3x1x1x2xf32>
// CHECK: %[[XS:.*]] = tosa.sub %[[X]]
// CHECK: %[[ACC:.*]] = tosa.conv2d %[[XS]], %[[WQ]], %[[BQ]]
// CHECK: %[[M:.*]] = arith.constant dense<[2.500000e-01, 5.000000e-01, 1.000000e+00]> : tensor<3xf32>
// CHECK: %[[Q:.*]] = qat.requantize %[[ACC]], %[[M]], %{{.*}} {axis = 3 : i64, quant_max = 127 : i64, quant_min = -128 : i64}
// CHECK: %[[Y:.*]] = qat.dequantize %[[Q]]
// CHECK: return %[[Y]]
// CHECK-LABEL: func.func @main_train_step
// CHECK: qat.requantize_grad
// CHECK: qat.conv2d_backward_weight
// CHECK: qat.quantize_grad
// CHECK: qat.quantize_bias_grad
// CHECK: qat.sgd_update
// CHECK-LABEL: func.func @main_eval
// CHECK: qat.quantize_bias
// CHECK: qat.requantize
// CHECK-NOT: qat.fake_quant
// CHECK: return
module attributes {qat.target = "x86"} {
  ml_program.global private mutable @conv0_weight(dense<0.5> : tensor<3x1x1x2xf32>) : tensor<3x1x1x2xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @conv0_bias(dense<0.25> : tensor<3xf32>) : tensor<3xf32> {qat.parameter = "bias"}
  func.func @main(%arg0: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
    %s_in = arith.constant dense<0.125> : tensor<f32>
    %z_in = arith.constant dense<130> : tensor<i32>
    %x = qat.fake_quant %arg0, %s_in, %z_in {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
    %w = ml_program.global_load @conv0_weight : tensor<3x1x1x2xf32>
    %sw = arith.constant dense<[0.0625, 0.125, 0.25]> : tensor<3xf32>
    %zw = arith.constant dense<0> : tensor<3xi32>
    %wq = qat.fake_quant %w, %sw, %zw {axis = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<3x1x1x2xf32>, tensor<3xf32>, tensor<3xi32>
    %b = ml_program.global_load @conv0_bias : tensor<3xf32>
    %zero = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %acc = tosa.conv2d %x, %wq, %b, %zero, %zero {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
    %r = tosa.clamp %acc {max_val = 3.40282347E+38 : f32, min_val = 0.000000e+00 : f32} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
    %s_out = arith.constant dense<0.03125> : tensor<f32>
    %z_out = arith.constant dense<0> : tensor<i32>
    %y = qat.fake_quant %r, %s_out, %z_out {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<1x4x4x3xf32>, tensor<f32>, tensor<i32>
    return %y : tensor<1x4x4x3xf32>
  }
}

// -----

// bpu: fixed point (qat.rescale, m = M 2^-n), a matmul whose bias is added
// after a reshape: the live [1, C] bias is reshaped to [C], quantized and
// reshaped back.
// CHECK-LABEL: func.func @main(
// CHECK: %[[B:.*]] = ml_program.global_load @matmul0_bias : tensor<1x4xf32>
// CHECK: %[[BV:.*]] = tosa.reshape %[[B]], %{{.*}} : (tensor<1x4xf32>, !tosa.shape<1>) -> tensor<4xf32>
// CHECK: %[[BQ:.*]] = qat.quantize_bias %[[BV]]
// CHECK: %[[WQ:.*]] = qat.quantize %{{.*}} {axis = 2 : i64
// CHECK: %[[ACC:.*]] = tosa.matmul %{{.*}}, %[[WQ]]
// CHECK: %[[BR:.*]] = tosa.reshape %[[BQ]], %{{.*}} : (tensor<4xf32>, !tosa.shape<2>) -> tensor<1x4xf32>
// CHECK: %[[SUM:.*]] = tosa.add %{{.*}}, %[[BR]]
// CHECK: qat.rescale %[[SUM]]
// CHECK-LABEL: func.func @main_train_step
// CHECK: qat.rescale_grad
// CHECK: qat.quantize_grad
// CHECK: qat.quantize_bias_grad
module attributes {qat.target = "bpu"} {
  ml_program.global private mutable @matmul0_weight(dense<0.5> : tensor<1x8x4xf32>) : tensor<1x8x4xf32> {qat.parameter = "weight"}
  ml_program.global private mutable @matmul0_bias(dense<0.25> : tensor<1x4xf32>) : tensor<1x4xf32> {qat.parameter = "bias"}
  func.func @main(%arg0: tensor<2x8xf32>) -> tensor<2x4xf32> {
    %s_in = arith.constant dense<0.125> : tensor<f32>
    %z = arith.constant dense<0> : tensor<i32>
    %x = qat.fake_quant %arg0, %s_in, %z {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<2x8xf32>, tensor<f32>, tensor<i32>
    %s3 = tosa.const_shape {values = dense<[1, 2, 8]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %x3 = tosa.reshape %x, %s3 : (tensor<2x8xf32>, !tosa.shape<3>) -> tensor<1x2x8xf32>
    %w = ml_program.global_load @matmul0_weight : tensor<1x8x4xf32>
    %sw = arith.constant dense<[0.0625, 0.125, 0.25, 0.5]> : tensor<4xf32>
    %zw = arith.constant dense<0> : tensor<4xi32>
    %wq = qat.fake_quant %w, %sw, %zw {axis = 2 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x8x4xf32>, tensor<4xf32>, tensor<4xi32>
    %zero = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %mm = tosa.matmul %x3, %wq, %zero, %zero : (tensor<1x2x8xf32>, tensor<1x8x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x4xf32>
    %s2 = tosa.const_shape {values = dense<[2, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %mm2 = tosa.reshape %mm, %s2 : (tensor<1x2x4xf32>, !tosa.shape<2>) -> tensor<2x4xf32>
    %b = ml_program.global_load @matmul0_bias : tensor<1x4xf32>
    %sum = tosa.add %mm2, %b : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
    %s_out = arith.constant dense<0.25> : tensor<f32>
    %y = qat.fake_quant %sum, %s_out, %z {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<2x4xf32>, tensor<f32>, tensor<i32>
    return %y : tensor<2x4xf32>
  }
}

// -----

// An accumulator that can reach 2^24 (1024 products of codes up to 128 in
// magnitude; f32 sums are exact only below): the forward accumulates the i8
// codes in int32 as the integer model does (the x86 u8 input shifted into
// i8 with its zero point as the matmul's operand) and differentiates
// through the f32 accumulation (qat.exact_accumulator), whose gradient
// reaches the weight.
// CHECK-LABEL: func.func @main(
// CHECK: %[[X:.*]] = qat.quantize %arg0
// CHECK: %[[WQ:.*]] = qat.quantize %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x1024x2xf32>
// CHECK: %[[REL:.*]] = tosa.matmul %{{.*}}, %[[WQ]], %{{.*}}, %{{.*}} : (tensor<1x1x1024xf32>, tensor<1x1024x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x2xf32>
// CHECK: %[[RELB:.*]] = tosa.add %[[REL]], %{{.*}} : (tensor<1x1x2xf32>, tensor<1x1x2xf32>) -> tensor<1x1x2xf32>
// CHECK-DAG: %[[XI:.*]] = tosa.cast %[[X]] : (tensor<1x1x1024xf32>) -> tensor<1x1x1024xi8>
// CHECK-DAG: %[[WI:.*]] = tosa.cast %[[WQ]] : (tensor<1x1024x2xf32>) -> tensor<1x1024x2xi8>
// CHECK-DAG: %[[XZ:.*]] = "tosa.const"() <{values = dense<-2> : tensor<1xi8>}>
// CHECK: %[[EX:.*]] = tosa.matmul %[[XI]], %[[WI]], %[[XZ]], %{{.*}} : (tensor<1x1x1024xi8>, tensor<1x1024x2xi8>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x1x2xi32>
// CHECK: %[[BI:.*]] = "tosa.const"() <{values = dense<0> : tensor<1x1x2xi32>}>
// CHECK: %[[EXB:.*]] = tosa.add %[[EX]], %[[BI]] : (tensor<1x1x2xi32>, tensor<1x1x2xi32>) -> tensor<1x1x2xi32>
// CHECK: %[[ACC:.*]] = qat.exact_accumulator %[[RELB]], %[[EXB]] : tensor<1x1x2xf32>, tensor<1x1x2xi32>
// CHECK: qat.requantize %[[ACC]], %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x1x2xi32>, tensor<f32>, tensor<i32> -> tensor<1x1x2xf32>
// CHECK-LABEL: func.func @main_train_step
// CHECK: %{{.*}}, %{{.*}} = qat.requantize_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x1x2xf32>, tensor<1x1x2xi32>
// CHECK: tosa.matmul
// CHECK: qat.quantize_grad
// CHECK: qat.sgd_update
module attributes {qat.target = "x86"} {
  ml_program.global private mutable @matmul0_weight(dense<0.5> : tensor<1x1024x2xf32>) : tensor<1x1024x2xf32> {qat.parameter = "weight"}
  func.func @main(%arg0: tensor<1x1x1024xf32>) -> tensor<1x1x2xf32> {
    %s_in = arith.constant dense<0.125> : tensor<f32>
    %z_in = arith.constant dense<126> : tensor<i32>
    %x = qat.fake_quant %arg0, %s_in, %z_in {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<1x1x1024xf32>, tensor<f32>, tensor<i32>
    %w = ml_program.global_load @matmul0_weight : tensor<1x1024x2xf32>
    %sw = arith.constant dense<0.0625> : tensor<f32>
    %z = arith.constant dense<0> : tensor<i32>
    %wq = qat.fake_quant %w, %sw, %z {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x1024x2xf32>, tensor<f32>, tensor<i32>
    %zero = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %mm = tosa.matmul %x, %wq, %zero, %zero : (tensor<1x1x1024xf32>, tensor<1x1024x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x2xf32>
    %s_out = arith.constant dense<4.0> : tensor<f32>
    %y = qat.fake_quant %mm, %s_out, %z {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x1x2xf32>, tensor<f32>, tensor<i32>
    return %y : tensor<1x1x2xf32>
  }
}
