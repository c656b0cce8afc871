// Two integer depthwise convolutions in a row: the first one's codes and
// the int32 accumulators are temporary buffers of the function, which
// qat-plan-memory places in its arena.
func.func @chain(%x: tensor<1x6x6x16xi8>) -> tensor<1x6x6x16xi8> {
  %w1 = "tosa.const"() <{values = dense<3> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %w2 = "tosa.const"() <{values = dense<-2> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %b = "tosa.const"() <{values = dense<7> : tensor<16xi32>}> : () -> tensor<16xi32>
  %m1 = arith.constant dense<0.02> : tensor<f32>
  %h = qat.integer_kernel <depthwise_conv2d> %x, %w1, %b, %m1 {dilation = array<i64: 1, 1>, input_zero_point = -5 : i64, output_zero_point = -128 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<f32>) -> tensor<1x6x6x16xi8>
  %m2 = arith.constant dense<0.05> : tensor<f32>
  %q = qat.integer_kernel <depthwise_conv2d> %h, %w2, %b, %m2 {dilation = array<i64: 1, 1>, input_zero_point = -128 : i64, output_zero_point = 3 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<f32>) -> tensor<1x6x6x16xi8>
  return %q : tensor<1x6x6x16xi8>
}
