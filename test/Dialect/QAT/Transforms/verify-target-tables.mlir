// RUN: qat-opt %s --split-input-file --verify-diagnostics --qat-verify-target=target=x86
// RUN: not qat-opt %s --split-input-file --qat-verify-target=target=bpu 2>&1 | FileCheck %s --check-prefix=BPU

// A frozen SiLU between quantizers: a lookup table on x86. bpu has no
// tables: each op of the function is named with the rule.
// BPU: error: target bpu: 'tosa.sigmoid' would compute on floats, and this target has no float arithmetic (float_fallback = false): it belongs to the element-wise function tosa.mul(x, tosa.sigmoid(x)) of one value, a lookup table on codes, and this target has no lookup tables (lookup_tables = false)
// BPU: error: target bpu: 'tosa.mul' would compute on floats, and this target has no float arithmetic (float_fallback = false): it belongs to the element-wise function tosa.mul(x, tosa.sigmoid(x)) of one value, a lookup table on codes, and this target has no lookup tables (lookup_tables = false)
func.func @silu(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> {
  %s = arith.constant dense<0.05> : tensor<f32>
  %z = arith.constant dense<120> : tensor<i32>
  %sh = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x4x4x3xf32>, tensor<f32>, tensor<i32>
  %g = tosa.sigmoid %xq : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
  %y = tosa.mul %xq, %g, %sh : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  %yq = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x4x4x3xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<1x4x4x3xf32>
}

// -----

// Its input not quantized, its output used before a quantizer.
func.func @unquantized(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> {
  %sh = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{target x86: the input of the element-wise function tosa.mul(x, tosa.sigmoid(x)) (a lookup table) must be quantized (a qat.fake_quant result)}}
  %g = tosa.sigmoid %x : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
  // expected-error @+1 {{target x86: the result of the element-wise function tosa.mul(x, tosa.sigmoid(x)) (a lookup table) must be quantized before its use by 'func.return'}}
  %y = tosa.mul %x, %g, %sh : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>, tensor<1xi8>) -> tensor<1x4x4x3xf32>
  return %y : tensor<1x4x4x3xf32>
}
