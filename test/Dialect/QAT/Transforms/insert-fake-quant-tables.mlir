// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=x86 | FileCheck %s
// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=x86 --remarks-filter=qat-insert-fake-quant 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=bpu | FileCheck %s --check-prefix=BPU

// Element-wise functions of one value (lookup tables on x86): SiLU after a
// conv, hardsigmoid after a conv. Their input and output are quantized,
// nothing inside; hardsigmoid's add and clamp do not fuse into the conv.
// CHECK-LABEL: func.func @silu_hardsigmoid
// CHECK:         %[[C:.*]] = tosa.conv2d
// CHECK:         %[[CQ:.*]] = qat.fake_quant %[[C]]
// CHECK-NOT:     qat.fake_quant
// CHECK:         %[[S:.*]] = tosa.sigmoid %[[CQ]]
// CHECK-NEXT:    %[[Y:.*]] = tosa.mul %[[CQ]], %[[S]]
// CHECK:         %[[YQ:.*]] = qat.fake_quant %[[Y]]
// CHECK:         %[[C2:.*]] = tosa.conv2d %[[YQ]]
// CHECK:         %[[C2Q:.*]] = qat.fake_quant %[[C2]]
// CHECK-NOT:     qat.fake_quant
// CHECK:         %[[A:.*]] = tosa.add %[[C2Q]]
// CHECK-NEXT:    %[[R:.*]] = tosa.clamp %[[A]]
// CHECK-NEXT:    %[[H:.*]] = tosa.mul %[[R]]
// CHECK:         %[[HQ:.*]] = qat.fake_quant %[[H]]
// CHECK:         return %[[HQ]]
// REMARK: remark: [Passed] Table | Category:qat-insert-fake-quant | Remark="element-wise function tosa.mul(tosa.clamp(tosa.add(x, 3.000000e+00)), 1.666667e-01) of one value: a lookup table (no fake quantizer inside)"
// REMARK: remark: [Passed] Table | Category:qat-insert-fake-quant | Remark="element-wise function tosa.mul(x, tosa.sigmoid(x)) of one value: a lookup table (no fake quantizer inside)"
// Without lookup tables (bpu) the add and clamp fuse into the conv and the
// sigmoid stays float.
// BPU-LABEL: func.func @silu_hardsigmoid
// BPU:         tosa.sigmoid
// BPU:         tosa.conv2d
// BPU-NEXT:    tosa.add
// BPU-NEXT:    tosa.clamp
// BPU-NEXT:    ml_program.global_load
func.func @silu_hardsigmoid(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> {
  %w = "tosa.const"() <{values = dense<0.25> : tensor<3x1x1x3xf32>}> : () -> tensor<3x1x1x3xf32>
  %b = "tosa.const"() <{values = dense<0.1> : tensor<3xf32>}> : () -> tensor<3xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %sh = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %three = "tosa.const"() <{values = dense<3.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %sixth = "tosa.const"() <{values = dense<0.166666672> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<3x1x1x3xf32>, tensor<3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
  %s = tosa.sigmoid %c : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
  %y = tosa.mul %c, %s, %sh : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  %c2 = tosa.conv2d %y, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<3x1x1x3xf32>, tensor<3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
  %a = tosa.add %c2, %three : (tensor<1x4x4x3xf32>, tensor<1x1x1x1xf32>) -> tensor<1x4x4x3xf32>
  %r = tosa.clamp %a {max_val = 6.0 : f32, min_val = 0.0 : f32} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
  %h = tosa.mul %r, %sixth, %sh : (tensor<1x4x4x3xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  return %h : tensor<1x4x4x3xf32>
}

// -----

// Not functions worth a table: a lone multiplication by a constant, a lone
// clamp (ReLU6), and a product of two values (squeeze-excite's); the
// sigmoid of the gate alone is one.
// CHECK-LABEL: func.func @not_tables
// CHECK:         tosa.mul
// CHECK:         qat.fake_quant
// REMARK: Remark="element-wise function tosa.sigmoid(x) of one value: a lookup table (no fake quantizer inside)"
// REMARK-NOT: Table
func.func @not_tables(%x: tensor<1x4x4x3xf32>, %g: tensor<1x1x1x3xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>) {
  %sh = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %half = "tosa.const"() <{values = dense<0.5> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %m = tosa.mul %x, %half, %sh : (tensor<1x4x4x3xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  %r = tosa.clamp %x {max_val = 6.0 : f32, min_val = 0.0 : f32} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
  %gs = tosa.sigmoid %g : (tensor<1x1x1x3xf32>) -> tensor<1x1x1x3xf32>
  %p = tosa.mul %r, %gs, %sh : (tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  return %m, %p : tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>
}
