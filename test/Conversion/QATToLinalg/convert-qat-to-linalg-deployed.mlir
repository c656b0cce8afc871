// RUN: qat-opt %s --convert-qat-to-linalg | FileCheck %s
// The lowering of qat.quantize_bias and of the straight-through backward of
// the integer-domain ops spells out the formulas of QATDeployedOps.td, one
// arith/math op per operation, and sums parameter gradients in f64.

// CHECK-LABEL: func.func @quantize_bias
// CHECK: linalg.generic
// CHECK:   %[[P:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:   %[[V:.*]] = arith.divf %{{.*}}, %[[P]] : f32
// CHECK:   %[[R:.*]] = math.roundeven %[[V]] : f32
// CHECK:   linalg.yield %[[R]] : f32
// CHECK: linalg.generic
// CHECK:   math.roundeven
// CHECK:   arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK:   arith.minimumf
// CHECK:   arith.cmpf uno
// CHECK:   arith.select
// CHECK:   arith.fptosi %{{.*}} : f32 to i32
func.func @quantize_bias(%b: tensor<4xf32>, %si: tensor<f32>, %sw: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi32>) {
  %q = qat.quantize_bias %b, %si, %sw : tensor<4xf32>, tensor<f32>, tensor<4xf32> -> tensor<4xf32>
  %qi = qat.quantize_bias %b, %si, %sw : tensor<4xf32>, tensor<f32>, tensor<4xf32> -> tensor<4xi32>
  return %q, %qi : tensor<4xf32>, tensor<4xi32>
}

// grad_bias = dq / p; grad_input_scale an f64 sum over the channels;
// grad_weight_scale per channel (no sum).
// CHECK-LABEL: func.func @quantize_bias_grad
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel"]
// CHECK:   %[[P:.*]] = arith.mulf
// CHECK:   arith.divf %{{.*}}, %[[P]] : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
// CHECK:   arith.extf %{{.*}} : f32 to f64
// CHECK:   arith.addf %{{.*}}, %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel"]
func.func @quantize_bias_grad(%db: tensor<4xf32>, %b: tensor<4xf32>, %si: tensor<f32>, %sw: tensor<4xf32>) -> (tensor<4xf32>, tensor<f32>, tensor<4xf32>) {
  %g0, %g1, %g2 = qat.quantize_bias_grad %db, %b, %si, %sw : tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<4xf32>
  return %g0, %g1, %g2 : tensor<4xf32>, tensor<f32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @quantize_grad
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel"]
// CHECK:   %[[INV:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:   %[[G:.*]] = arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:   math.roundeven
// CHECK:   arith.cmpf oge
// CHECK:   arith.cmpf ole
// CHECK:   arith.cmpf ogt
// CHECK:   arith.cmpf olt
// CHECK:   %[[M:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK:   %[[DX:.*]] = arith.mulf %[[G]], %[[M]] : f32
// CHECK:   linalg.yield %[[DX]]
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["reduction"]
// CHECK:   arith.select
// CHECK:   arith.extf
// CHECK: arith.truncf
func.func @quantize_grad(%dy: tensor<8xf32>, %x: tensor<8xf32>, %s: tensor<f32>, %z: tensor<i32>) -> (tensor<8xf32>, tensor<f32>) {
  %dx, %ds = qat.quantize_grad %dy, %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i32>
  return %dx, %ds : tensor<8xf32>, tensor<f32>
}

// Per axis: the scale's sum keeps the axis parallel.
// CHECK-LABEL: func.func @dequantize_grad
// CHECK: linalg.generic
// CHECK:   arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
// CHECK:   arith.sitofp %{{.*}} : i8 to f32
// CHECK:   arith.sitofp %{{.*}} : i32 to f32
// CHECK:   arith.subf
// CHECK:   arith.mulf
// CHECK:   arith.extf
func.func @dequantize_grad(%dy: tensor<2x4xf32>, %q: tensor<2x4xi8>, %s: tensor<4xf32>, %z: tensor<4xi32>) -> (tensor<2x4xf32>, tensor<4xf32>) {
  %dq, %ds = qat.dequantize_grad %dy, %q, %s, %z {axis = 1 : i64} : tensor<2x4xf32>, tensor<2x4xi8>, tensor<4xf32>, tensor<4xi32>
  return %dq, %ds : tensor<2x4xf32>, tensor<4xf32>
}

// CHECK-LABEL: func.func @requantize_grad
// CHECK: linalg.generic
// CHECK:   %[[G:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:   %[[A:.*]] = arith.sitofp %{{.*}} : i32 to f32
// CHECK:   arith.mulf %[[A]], %{{.*}} : f32
// CHECK:   math.roundeven
// CHECK:   arith.addf
// CHECK:   %[[M:.*]] = arith.select
// CHECK:   arith.mulf %[[G]], %[[M]] : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
func.func @requantize_grad(%dy: tensor<8xf32>, %a: tensor<8xi32>, %m: tensor<f32>, %z: tensor<i32>) -> (tensor<8xf32>, tensor<f32>) {
  %da, %dm = qat.requantize_grad %dy, %a, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<8xi32>, tensor<f32>, tensor<i32>
  return %da, %dm : tensor<8xf32>, tensor<f32>
}

// Two elementwise gradients from one generic, two multiplier sums.
// CHECK-LABEL: func.func @requantize_add_grad
// CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<8xf32>, tensor<8xf32>)
// CHECK:   math.roundeven
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction"]
func.func @requantize_add_grad(%dy: tensor<8xf32>, %a: tensor<8xf32>, %m: tensor<f32>, %z: tensor<i32>) -> (tensor<8xf32>, tensor<f32>, tensor<8xf32>, tensor<f32>) {
  %g0, %g1, %g2, %g3 = qat.requantize_add_grad %dy, %a, %m, %z, %a, %m, %z, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<8xf32>, tensor<f32>, tensor<i32>, tensor<8xf32>, tensor<f32>, tensor<i32>, tensor<i32>
  return %g0, %g1, %g2, %g3 : tensor<8xf32>, tensor<f32>, tensor<8xf32>, tensor<f32>
}

// The mask from the i64 rescale, and at a fused ReLU's bound (quant_min
// equal to the zero point) acc * M > 0; the real multiplier M / 2^n in f64,
// rounded to f32 once.
// CHECK-LABEL: func.func @rescale_grad
// CHECK: linalg.generic
// CHECK:   arith.muli %{{.*}}, %{{.*}} : i64
// CHECK:   arith.shli
// CHECK:   arith.addi
// CHECK:   arith.shrsi
// CHECK:   %[[V:.*]] = arith.addi %{{.*}}, %{{.*}} : i64
// CHECK:   %[[MF:.*]] = arith.sitofp %{{.*}} : i64 to f64
// CHECK:   %[[POW:.*]] = arith.sitofp %{{.*}} : i64 to f64
// CHECK:   %[[R64:.*]] = arith.divf %[[MF]], %[[POW]] : f64
// CHECK:   %[[R:.*]] = arith.truncf %[[R64]] : f64 to f32
// CHECK:   %[[P:.*]] = arith.muli %{{.*}}, %{{.*}} : i64
// CHECK:   arith.cmpi sge, %[[V]]
// CHECK:   arith.cmpi sle, %[[V]]
// CHECK:   %[[POS:.*]] = arith.cmpi sgt, %[[P]]
// CHECK:   %[[NOTRELU:.*]] = arith.cmpi ne
// CHECK:   arith.ori %[[NOTRELU]], %[[POS]] : i1
// CHECK:   %[[G:.*]] = arith.mulf %{{.*}}, %[[R]] : f32
// CHECK:   %[[M:.*]] = arith.select
// CHECK:   arith.mulf %[[G]], %[[M]] : f32
func.func @rescale_grad(%dy: tensor<8xf32>, %a: tensor<8xi32>, %m: tensor<i32>, %n: tensor<i8>, %z: tensor<i32>) -> tensor<8xf32> {
  %da = qat.rescale_grad %dy, %a, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<8xi32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %da : tensor<8xf32>
}

// CHECK-LABEL: func.func @rescale_add_grad
// CHECK: linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<8xf32>, tensor<8xf32>)
// CHECK:   arith.fptosi %{{.*}} : f32 to i64
// CHECK:   arith.shrsi
// CHECK:   arith.cmpi sge
// CHECK:   arith.truncf %{{.*}} : f64 to f32
// CHECK:   arith.truncf %{{.*}} : f64 to f32
// CHECK-NOT: qat.
func.func @rescale_add_grad(%dy: tensor<8xf32>, %a: tensor<8xf32>, %m: tensor<i32>, %n: tensor<i8>, %z: tensor<i32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %g0, %g1 = qat.rescale_add_grad %dy, %a, %m, %z, %a, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<8xf32>, tensor<8xf32>, tensor<i32>, tensor<i32>, tensor<8xf32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %g0, %g1 : tensor<8xf32>, tensor<8xf32>
}

// The forward of qat.exact_accumulator is its int32 operand.
// CHECK-LABEL: func.func @exact_accumulator
// CHECK-SAME: %{{.*}}: tensor<2x3xf32>, %[[E:.*]]: tensor<2x3xi32>
// CHECK-NEXT: return %[[E]]
func.func @exact_accumulator(%r: tensor<2x3xf32>, %e: tensor<2x3xi32>) -> tensor<2x3xi32> {
  %a = qat.exact_accumulator %r, %e : tensor<2x3xf32>, tensor<2x3xi32>
  return %a : tensor<2x3xi32>
}
