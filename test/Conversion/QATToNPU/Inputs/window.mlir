// A 3x3 convolution whose input window (9 INP entries for one output pixel)
// does not fit half of an INP of 16 entries.
func.func @main(%q: tensor<1x4x4x4xi8>) -> tensor<1x4x4x4xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x3x3x4xi8>}> : () -> tensor<4x3x3x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %zp = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{cannot run on the NPU: the input window of 1 output pixel(s) (3x3 taps of one input block, 9 INP entries) or the ACC rows of one output block (3 constant rows, 1 per tile) exceed half of INP (8 entries) or ACC (acc_depth 2048)}}
  %acc = tosa.conv2d %q, %w, %b, %zp, %zp {acc_type = i32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x4xi8>, tensor<4x3x3x4xi8>, tensor<4xi32>, tensor<1xi8>, tensor<1xi8>) -> tensor<1x4x4x4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %z = arith.constant dense<0> : tensor<i32>
  %r = qat.rescale %acc, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x4xi32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<1x4x4x4xi8>
  return %r : tensor<1x4x4x4xi8>
}
