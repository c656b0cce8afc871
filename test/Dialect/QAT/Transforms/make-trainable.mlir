// RUN: qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable | FileCheck %s
// RUN: qat-opt %S/Inputs/small_classifier.mlir --qat-prepare=target=x86 --qat-make-trainable | qat-opt > /dev/null
//
// The weight behind each weight quantizer and each bias (the conv's bias
// operand, the constant added after the matmul) become mutable globals
// marked qat.parameter, loaded where the constant was. Each weight
// quantizer's range becomes state (initially the weight's range) that the
// train step stores and frozen observers read.

// CHECK: ml_program.global private mutable @conv0_weight(dense<{{.*}}> : tensor<2x3x3x1xf32>) : tensor<2x3x3x1xf32> {qat.parameter = "weight"}
// CHECK: ml_program.global private mutable @conv0_weight_min(dense<[-5.000000e-01, -1.000000e+00]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "min"}
// CHECK: ml_program.global private mutable @conv0_weight_max(dense<[1.000000e+00, 5.000000e-01]> : tensor<2xf32>) : tensor<2xf32> {qat.weight_range = "max"}
// CHECK: ml_program.global private mutable @conv0_bias(dense<[1.000000e-01, -1.000000e-01]> : tensor<2xf32>) : tensor<2xf32> {qat.parameter = "bias"}
// CHECK: ml_program.global private mutable @matmul0_weight(dense<3.125000e-02> : tensor<1x32x3xf32>) : tensor<1x32x3xf32> {qat.parameter = "weight"}
// CHECK: ml_program.global private mutable @matmul0_bias(dense<{{\[\[}}0.000000e+00, 5.000000e-01, -5.000000e-01]]> : tensor<1x3xf32>) : tensor<1x3xf32> {qat.parameter = "bias"}
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[MW:.*]] = ml_program.global_load @matmul0_weight : tensor<1x32x3xf32>
// CHECK-DAG: %[[CW:.*]] = ml_program.global_load @conv0_weight : tensor<2x3x3x1xf32>
// CHECK: %{{.*}}, %{{.*}} = qat.observer %[[CW]], %{{.*}}, %{{.*}} {axis = 0 : i64, qat.weight_range = [@conv0_weight_min, @conv0_weight_max]}
// CHECK: %[[WQ:.*]] = qat.fake_quant %[[CW]]
// CHECK: %[[CB:.*]] = ml_program.global_load @conv0_bias : tensor<2xf32>
// CHECK: tosa.conv2d %{{.*}}, %[[WQ]], %[[CB]]
// CHECK: qat.observer %[[MW]], {{.*}} {axis = 2 : i64, qat.weight_range = [@matmul0_weight_min, @matmul0_weight_max]}
// CHECK: %[[MQ:.*]] = qat.fake_quant %[[MW]]
// CHECK: %[[MM:.*]] = tosa.matmul %{{.*}}, %[[MQ]]
// CHECK: %[[R:.*]] = tosa.reshape %[[MM]]
// CHECK: %[[MB:.*]] = ml_program.global_load @matmul0_bias : tensor<1x3xf32>
// CHECK: tosa.add %[[R]], %[[MB]]
// CHECK-NOT: tosa.const{{.*}}tensor<2x3x3x1xf32>
