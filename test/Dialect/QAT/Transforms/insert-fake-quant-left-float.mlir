// Inputs outside the contract are left float with a remark, never a crash,
// and qat-verify-target (the end of qat-prepare) accepts the result on a
// target with float arithmetic (x86). The bpu target has none
// (float_fallback = false): there qat-verify-target names each op that
// would stay float.
// RUN: qat-opt %s --qat-prepare=target=x86 --remarks-filter=qat-insert-fake-quant 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: qat-opt %s --qat-prepare=target=x86 | FileCheck %s
// RUN: qat-opt %s --qat-prepare=target=bpu -verify-diagnostics -o /dev/null

// REMARK-DAG: remark: [Missed] LeftFloat | Category:qat-insert-fake-quant | Remark="'tosa.conv2d' left float: operand #0 has type tensor<?x4x4x2xf32> (only statically shaped f32 tensors are quantized)"
// REMARK-DAG: remark: [Missed] WeightNotConstant | Category:qat-insert-fake-quant | Remark="weight operand #1 of 'tosa.conv2d' is not a constant: quantized as an activation"
// REMARK-DAG: remark: [Missed] LeftFloat | Category:qat-insert-fake-quant | Remark="'tosa.add' left float: operand #0 has type tensor<1x4x4x2xf16> (only statically shaped f32 tensors are quantized)"
// REMARK-DAG: remark: [Missed] WeightNotConstant | Category:qat-insert-fake-quant | Remark="weight operand #1 of 'tosa.matmul' is not a constant: quantized as an activation"
// REMARK-DAG: remark: [Missed] ControlFlow | Category:qat-insert-fake-quant | Remark="@cf has more than one block: left float"

// CHECK-LABEL: func.func @dyn
// CHECK-NOT: qat.fake_quant
// CHECK-LABEL: func.func @wvar
// CHECK-COUNT-2: qat.fake_quant %arg
// CHECK-LABEL: func.func @f16
// CHECK-NOT: qat.fake_quant
// CHECK-LABEL: func.func @mm
// CHECK-COUNT-3: qat.fake_quant
// CHECK-LABEL: func.func @cf
// CHECK-NOT: qat.fake_quant
func.func @dyn(%x: tensor<?x4x4x2xf32>, %w: tensor<2x1x1x2xf32>) -> tensor<?x4x4x2xf32> {
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{target bpu: 'tosa.conv2d' would compute on floats, and this target has no float arithmetic (float_fallback = false): it was left unquantized (only statically shaped f32 tensors are quantized)}}
  %c = tosa.conv2d %x, %w, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<?x4x4x2xf32>
  return %c : tensor<?x4x4x2xf32>
}
func.func @wvar(%x: tensor<1x4x4x2xf32>, %w: tensor<2x1x1x2xf32>) -> tensor<1x4x4x2xf32> {
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{target bpu: the weight (operand #1) of 'tosa.conv2d' must be a constant: this target has no float arithmetic (float_fallback = false) and its integer kernels take constant weights}}
  %c = tosa.conv2d %x, %w, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %g = "tosa.const"() <{values = dense<[[[[2.0, 3.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %s = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{target bpu: 'tosa.mul' would compute on floats, and this target has no float arithmetic (float_fallback = false): its kind 'mul' is neither quantized (ops) nor agnostic}}
  %y = tosa.mul %c, %g, %s : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}
func.func @f16(%x: tensor<1x4x4x2xf16>, %y: tensor<1x4x4x2xf16>) -> tensor<1x4x4x2xf16> {
  // expected-error @+1 {{target bpu: 'tosa.add' would compute on floats, and this target has no float arithmetic (float_fallback = false): it was left unquantized (only statically shaped f32 tensors are quantized)}}
  %a = tosa.add %x, %y : (tensor<1x4x4x2xf16>, tensor<1x4x4x2xf16>) -> tensor<1x4x4x2xf16>
  return %a : tensor<1x4x4x2xf16>
}
func.func @mm(%a: tensor<1x4x8xf32>, %b: tensor<1x8x3xf32>) -> tensor<1x4x3xf32> {
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{target bpu: the weight (operand #1) of 'tosa.matmul' must be a constant: this target has no float arithmetic (float_fallback = false) and its integer kernels take constant weights}}
  %m = tosa.matmul %a, %b, %z, %z : (tensor<1x4x8xf32>, tensor<1x8x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x3xf32>
  return %m : tensor<1x4x3xf32>
}
// expected-error @+1 {{target bpu: @cf has no single block, so it stays float, and this target has no float arithmetic (float_fallback = false)}}
func.func @cf(%x: tensor<4xf32>, %c: i1) -> tensor<4xf32> {
  cf.cond_br %c, ^a, ^b
^a:
  return %x : tensor<4xf32>
^b:
  %y = tosa.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func private @ext(tensor<4xf32>) -> tensor<4xf32>
