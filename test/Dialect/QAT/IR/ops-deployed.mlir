// RUN: qat-opt %s | FileCheck %s
// Round trip of qat.quantize_bias and the straight-through backward ops of
// the integer domain: print, parse again and print the same.
// RUN: qat-opt %s | qat-opt | FileCheck %s
// RUN: qat-opt %s --mlir-print-op-generic | qat-opt | FileCheck %s

// CHECK-LABEL: func.func @quantize_bias
func.func @quantize_bias(%b: tensor<3xf32>, %si: tensor<f32>, %sw: tensor<3xf32>, %st: tensor<f32>, %db: tensor<3xf32>)
    -> (tensor<3xf32>, tensor<3xi32>, tensor<3xf32>, tensor<f32>, tensor<3xf32>) {
  // CHECK: qat.quantize_bias %{{.*}}, %{{.*}}, %{{.*}} : tensor<3xf32>, tensor<f32>, tensor<3xf32> -> tensor<3xf32>
  %q = qat.quantize_bias %b, %si, %sw : tensor<3xf32>, tensor<f32>, tensor<3xf32> -> tensor<3xf32>
  // CHECK: qat.quantize_bias %{{.*}}, %{{.*}}, %{{.*}} : tensor<3xf32>, tensor<f32>, tensor<f32> -> tensor<3xi32>
  %qi = qat.quantize_bias %b, %si, %st : tensor<3xf32>, tensor<f32>, tensor<f32> -> tensor<3xi32>
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = qat.quantize_bias_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<3xf32>
  %g0, %g1, %g2 = qat.quantize_bias_grad %db, %b, %si, %sw : tensor<3xf32>, tensor<3xf32>, tensor<f32>, tensor<3xf32>
  return %q, %qi, %g0, %g1, %g2 : tensor<3xf32>, tensor<3xi32>, tensor<3xf32>, tensor<f32>, tensor<3xf32>
}

// CHECK-LABEL: func.func @quantize_dequantize_grad
func.func @quantize_dequantize_grad(%dy: tensor<4x3xf32>, %x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>,
                                    %q: tensor<4x3xi8>, %st: tensor<f32>, %zt: tensor<i32>)
    -> (tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>, tensor<f32>) {
  // CHECK: qat.quantize_grad {{.*}} {axis = 1 : i64, quant_max = 7 : i64, quant_min = -8 : i64, rounding = #qat.rounding<half_even_div>} : tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  %dx, %ds = qat.quantize_grad %dy, %x, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 1 : i64, rounding = #qat.rounding<half_even_div>} : tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  // CHECK: qat.dequantize_grad {{.*}} : tensor<4x3xf32>, tensor<4x3xi8>, tensor<f32>, tensor<i32>
  %dq, %dsq = qat.dequantize_grad %dy, %q, %st, %zt : tensor<4x3xf32>, tensor<4x3xi8>, tensor<f32>, tensor<i32>
  return %dx, %ds, %dq, %dsq : tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @requantize_grads
func.func @requantize_grads(%dy: tensor<4x3xf32>, %acc: tensor<4x3xi32>, %r: tensor<4x3xf32>, %m: tensor<3xf32>,
                            %z: tensor<3xi32>, %mi: tensor<3xi32>, %n: tensor<3xi8>)
    -> (tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  // CHECK: qat.requantize_grad {{.*}} {axis = 1 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xf32>, tensor<3xi32>
  %da, %dm = qat.requantize_grad %dy, %acc, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xf32>, tensor<3xi32>
  // CHECK: qat.requantize_add_grad {{.*}} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>, tensor<3xi32>
  %a0, %a1, %a2, %a3 = qat.requantize_add_grad %dy, %acc, %m, %z, %r, %m, %z, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>, tensor<3xi32>
  // CHECK: qat.rescale_grad {{.*}} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<3xi32>
  %dr = qat.rescale_grad %dy, %acc, %mi, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<3xi32>
  // CHECK: qat.rescale_add_grad {{.*}} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xi32>, tensor<3xi32>, tensor<4x3xf32>, tensor<3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<3xi32>
  %b0, %b1 = qat.rescale_add_grad %dy, %acc, %mi, %z, %r, %mi, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xi32>, tensor<3xi32>, tensor<4x3xf32>, tensor<3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<3xi32>
  return %da, %dm, %a2, %dr, %b1 : tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}

// CHECK-LABEL: func.func @exact_accumulator
func.func @exact_accumulator(%r: tensor<2x3xf32>, %e: tensor<2x3xi32>) -> tensor<2x3xi32> {
  // CHECK: qat.exact_accumulator %{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<2x3xi32>
  %a = qat.exact_accumulator %r, %e : tensor<2x3xf32>, tensor<2x3xi32>
  return %a : tensor<2x3xi32>
}
