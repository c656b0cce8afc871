// RUN: qat-opt %s -split-input-file --qat-make-trainable="lsq=true lsq-grad-factor=lsq" -verify-diagnostics | FileCheck %s
// RUN: qat-opt %s -split-input-file --qat-make-trainable="lsq=true" -verify-diagnostics | FileCheck %s --check-prefix=ONE
// RUN: qat-opt %s -split-input-file --qat-make-trainable="lsq=true" -verify-diagnostics | qat-opt --qat-finish-training | FileCheck %s --check-prefix=FINISH
// RUN: not qat-opt %s -split-input-file --qat-make-trainable="lsq=true lsq-grad-factor=bogus" 2>&1 | FileCheck %s --check-prefix=BADFACTOR
//
// LSQ (docs/Training.md): each frozen fake quantizer becomes qat.lsq whose
// scale and zero point are parameters initialised to the frozen values;
// qat-finish-training turns it back into qat.fake_quant with constant
// parameters (scale clamped to 2^-23, zero point rounded half to even).

// CHECK-DAG: ml_program.global private mutable @lsq0_scale(dense<5.000000e-01> : tensor<f32>) : tensor<f32> {qat.parameter = "lsq_scale"}
// CHECK-DAG: ml_program.global private mutable @lsq0_zero_point(dense<3.000000e+00> : tensor<f32>) : tensor<f32> {qat.parameter = "lsq_zero_point"}
// CHECK-DAG: ml_program.global private mutable @lsq1_scale(dense<[2.500000e-01, 1.250000e-01]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "lsq_scale"}
// The weight quantizer is symmetric (signed, zero point 0): its zero point
// stays a constant 0.
// CHECK-NOT: @lsq1_zero_point
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[S0:.*]] = ml_program.global_load @lsq0_scale
// CHECK-DAG: %[[Z0:.*]] = ml_program.global_load @lsq0_zero_point
// grad_factor = 1 / sqrt(8 * 255)
// CHECK: qat.lsq %{{.*}}, %[[S0]], %[[Z0]] {grad_factor = 0.022140372138502382 : f64, quant_max = 255 : i64, quant_min = 0 : i64} : tensor<2x4xf32>, tensor<f32>
// CHECK-DAG: %[[S1:.*]] = ml_program.global_load @lsq1_scale
// CHECK-DAG: %[[Z1:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK: qat.lsq %{{.*}}, %[[S1]], %[[Z1]] {axis = 1 : i64, grad_factor = 0.03137279025690793 : f64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4x2xf32>, tensor<2xf32>
// CHECK-NOT: qat.fake_quant
// grad_factor 1.0 (the default, not printed):
// ONE-NOT: grad_factor
// ONE: qat.lsq %{{.*}}, %{{.*}}, %{{.*}} {quant_max = 255 : i64, quant_min = 0 : i64}
// ONE-NOT: grad_factor
// FINISH-LABEL: func.func @main
// FINISH-DAG: %[[FS0:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// FINISH-DAG: %[[FZ0:.*]] = arith.constant dense<3> : tensor<i32>
// FINISH: qat.fake_quant %{{.*}}, %[[FS0]], %[[FZ0]] {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<2x4xf32>, tensor<f32>, tensor<i32>
// FINISH-DAG: %[[FS1:.*]] = arith.constant dense<[2.500000e-01, 1.250000e-01]> : tensor<2xf32>
// FINISH-DAG: %[[FZ1:.*]] = arith.constant dense<0> : tensor<2xi32>
// FINISH: qat.fake_quant %{{.*}}, %[[FS1]], %[[FZ1]] {axis = 1 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4x2xf32>, tensor<2xf32>, tensor<2xi32>
// FINISH-NOT: qat.lsq
// BADFACTOR: error: qat-make-trainable: unknown lsq-grad-factor 'bogus' (one or lsq)
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<2x4xf32>, tensor<f32>, tensor<i32>
  %w = "tosa.const"() <{values = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>}> : () -> tensor<4x2xf32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 1 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4x2xf32>, tensor<2xf32>, tensor<2xi32>
  %s3 = tosa.const_shape {values = dense<[1, 2, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %t3 = tosa.const_shape {values = dense<[1, 4, 2]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %u2 = tosa.const_shape {values = dense<[2, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %x3 = tosa.reshape %xq, %s3 : (tensor<2x4xf32>, !tosa.shape<3>) -> tensor<1x2x4xf32>
  %w3 = tosa.reshape %wq, %t3 : (tensor<4x2xf32>, !tosa.shape<3>) -> tensor<1x4x2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %m = tosa.matmul %x3, %w3, %zp, %zp : (tensor<1x2x4xf32>, tensor<1x4x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2xf32>
  %r = tosa.reshape %m, %u2 : (tensor<1x2x2xf32>, !tosa.shape<2>) -> tensor<2x2xf32>
  return %r : tensor<2x2xf32>
}

// -----

func.func @main(%x: tensor<2x4xf32>, %s: tensor<f32>) -> tensor<2x4xf32> {
  %z = arith.constant dense<3> : tensor<i32>
  // expected-error @+1 {{qat-make-trainable: lsq=true needs frozen quantizer parameters (a constant scale and zero point: run qat-freeze-qparams first)}}
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<2x4xf32>, tensor<f32>, tensor<i32>
  return %xq : tensor<2x4xf32>
}
