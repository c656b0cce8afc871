// An integer depthwise convolution as qat-convert-to-integer writes it for
// x86: a qat.integer_kernel with a float multiplier.
func.func @dw(%x: tensor<1x6x6x16xi8>) -> tensor<1x6x6x16xi8> {
  %w = "tosa.const"() <{values = dense<3> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %b = "tosa.const"() <{values = dense<7> : tensor<16xi32>}> : () -> tensor<16xi32>
  %m = arith.constant dense<0.01> : tensor<f32>
  %q = qat.integer_kernel <depthwise_conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = -5 : i64, output_zero_point = -128 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<f32>) -> tensor<1x6x6x16xi8>
  return %q : tensor<1x6x6x16xi8>
}
