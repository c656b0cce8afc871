// A 3x3 convolution of float inputs: quantized by the caller, dequantized
// after the NPU.
func.func @main(%x: tensor<2x5x5x3xf32>) -> tensor<2x5x5x4xf32> {
  %s = arith.constant dense<3.125000e-02> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %q = qat.quantize %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x5x5x3xf32>, tensor<f32>, tensor<i32> -> tensor<2x5x5x3xi8>
  %w = "tosa.const"() <{values = dense<[[[[1, -2, 3], [4, 5, -6], [7, 8, 9]], [[-1, 2, -3], [4, -5, 6], [7, -8, 9]], [[1, 1, 1], [2, 2, 2], [3, 3, 3]]], [[[9, 8, 7], [6, 5, 4], [3, 2, 1]], [[0, 0, 0], [1, 0, -1], [2, 0, -2]], [[5, 5, 5], [-5, -5, -5], [1, 2, 3]]], [[[2, 2, 2], [2, 2, 2], [2, 2, 2]], [[-3, 3, -3], [3, -3, 3], [-3, 3, -3]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]], [[[0, 1, 0], [1, -4, 1], [0, 1, 0]], [[1, 0, -1], [2, 0, -2], [1, 0, -1]], [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]]]> : tensor<4x3x3x3xi8>}> : () -> tensor<4x3x3x3xi8>
  %b = "tosa.const"() <{values = dense<[10, -20, 30, -40]> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<37> : tensor<i8>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<2x5x5x3xi8>, tensor<4x3x3x3xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<2x5x5x4xi8>
  %os = arith.constant dense<2.500000e-01> : tensor<f32>
  %y = qat.dequantize %r, %os, %z : tensor<2x5x5x4xi8>, tensor<f32>, tensor<i32> -> tensor<2x5x5x4xf32>
  return %y : tensor<2x5x5x4xf32>
}
