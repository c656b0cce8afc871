// Two integer depthwise convolutions in a row: the first one's codes and
// the int32 accumulators are temporary buffers of the function, which
// qat-plan-memory places in its arena.
func.func @chain(%x: tensor<1x6x6x16xi8>) -> tensor<1x6x6x16xi8> {
  %w1 = "tosa.const"() <{values = dense<3> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %w2 = "tosa.const"() <{values = dense<-2> : tensor<3x3x16x1xi8>}> : () -> tensor<3x3x16x1xi8>
  %b = "tosa.const"() <{values = dense<7> : tensor<16xi32>}> : () -> tensor<16xi32>
  %xzp = "tosa.const"() <{values = dense<-5> : tensor<1xi8>}> : () -> tensor<1xi8>
  %hzp = "tosa.const"() <{values = dense<-128> : tensor<1xi8>}> : () -> tensor<1xi8>
  %wzp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %acc1 = tosa.depthwise_conv2d %x, %w1, %b, %xzp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x6x6x16xi32>
  %m1 = arith.constant dense<0.02> : tensor<f32>
  %z1 = arith.constant dense<-128> : tensor<i32>
  %h = qat.requantize %acc1, %m1, %z1 {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x6x6x16xi32>, tensor<f32>, tensor<i32> -> tensor<1x6x6x16xi8>
  %acc2 = tosa.depthwise_conv2d %h, %w2, %b, %hzp, %wzp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x6x6x16xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x6x6x16xi32>
  %m2 = arith.constant dense<0.05> : tensor<f32>
  %z2 = arith.constant dense<3> : tensor<i32>
  %q = qat.requantize %acc2, %m2, %z2 {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x6x6x16xi32>, tensor<f32>, tensor<i32> -> tensor<1x6x6x16xi8>
  return %q : tensor<1x6x6x16xi8>
}
