// A 3x3 convolution whose input window (9 INP entries for one output pixel)
// does not fit half of an INP of 16 entries.
func.func @main(%q: tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x3x3x4xi8>}> : () -> tensor<4x3x3x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  // expected-error @+1 {{cannot run on the NPU: the input window of 1 output pixel(s) (3x3 taps of one input block, 9 INP entries) or the ACC rows of one output block (3 constant rows, 1 per tile) exceed half of INP (8 entries) or ACC (acc_depth 2048)}}
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x4xi8>, tensor<4x3x3x4xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<1x4x4x4xi8>
  return %r : tensor<1x4x4x4xi8>
}
