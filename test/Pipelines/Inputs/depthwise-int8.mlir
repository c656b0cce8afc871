// An integer depthwise convolution as qat-convert-to-integer writes it for
// x86: tosa.depthwise_conv2d on i8 codes, then qat.requantize.
func.func @dw(%x: tensor<1x6x6x16xi8>) -> tensor<1x6x6x16xi8> {
  %w = "tosa.const"() <{values = dense<3> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %b = "tosa.const"() <{values = dense<7> : tensor<16xi32>}> : () -> tensor<16xi32>
  %xzp = "tosa.const"() <{values = dense<-5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc = tosa.depthwise_conv2d %x, %w, %b, %xzp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x6x6x16xi32>
  %m = arith.constant dense<0.01> : tensor<f32>
  %z = arith.constant dense<-128> : tensor<i32>
  %q = qat.requantize %acc, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x6x6x16xi32>, tensor<f32>, tensor<i32> -> tensor<1x6x6x16xi8>
  return %q : tensor<1x6x6x16xi8>
}
