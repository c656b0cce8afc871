// qat-verify-target for the bpu target: symmetric int8 activations, power-of-two scales with :pow2, one scale for both inputs of an add.
// RUN: qat-opt %s --split-input-file --verify-diagnostics --qat-verify-target=target=bpu:pow2

// Prepared (observers present): the parameters come from choose_qparams.
func.func @prepared(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %inf = arith.constant dense<0x7F800000> : tensor<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %lo, %hi = qat.observer %x, %inf, %ninf : tensor<4xf32>, tensor<f32>
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = -128 : i64, quant_max = 127 : i64, qscheme = #qat.qscheme<symmetric>} : tensor<f32> -> tensor<i32>
  // expected-error @below {{target bpu:pow2: the activation quantizer of 'tosa.add' must have power-of-two scales, but its qat.choose_qparams lacks power_of_two}}
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %lo2, %hi2 = qat.observer %y, %inf, %ninf : tensor<4xf32>, tensor<f32>
  %s2, %z2 = qat.choose_qparams %lo2, %hi2 {quant_min = -128 : i64, quant_max = 127 : i64, power_of_two = true} : tensor<f32> -> tensor<i32>
  // expected-error @below {{target bpu:pow2: the activation quantizer of 'tosa.add' must be symmetric, but its qat.choose_qparams is affine}}
  %yq = qat.fake_quant %y, %s2, %z2 {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  // expected-error @below {{target bpu:pow2: the activation operands of 'tosa.add' must share one scale and zero point (operand #1 differs)}}
  %a = tosa.add %xq, %yq : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  // expected-error @below {{target bpu:pow2: the output quantizer of 'tosa.add' must have power-of-two scales, but its qat.choose_qparams lacks power_of_two}}
  %aq = qat.fake_quant %a, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %aq : tensor<4xf32>
}

// -----

// Frozen: constant parameters.
func.func @frozen(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %s3 = arith.constant dense<0.3> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %z1 = arith.constant dense<1> : tensor<i32>
  // expected-error @below {{target bpu:pow2: the activation quantizer of 'tosa.add' must have power-of-two scales}}
  %xq = qat.fake_quant %x, %s3, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %a = tosa.add %xq, %xq : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  // expected-error @below {{target bpu:pow2: the output quantizer of 'tosa.add' must be symmetric (zero point 0)}}
  %aq = qat.fake_quant %a, %s, %z1 {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %aq : tensor<4xf32>
}
