// A frozen x86 model (quantizers with constant parameters, as
// qat-freeze-qparams writes them): a 1x1 convolution 2->3 with bias and a
// fused ReLU, for the training passes' numerics=deployed tests.
module attributes {qat.target = "x86"} {
  func.func @main(%arg0: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
    %s_in = arith.constant dense<0.125> : tensor<f32>
    %z_in = arith.constant dense<130> : tensor<i32>
    %x = qat.fake_quant %arg0, %s_in, %z_in {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
    %w = "tosa.const"() <{values = dense<0.5> : tensor<3x1x1x2xf32>}> : () -> tensor<3x1x1x2xf32>
    %sw = arith.constant dense<[0.0625, 0.125, 0.25]> : tensor<3xf32>
    %zw = arith.constant dense<0> : tensor<3xi32>
    %wq = qat.fake_quant %w, %sw, %zw {axis = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<3x1x1x2xf32>, tensor<3xf32>, tensor<3xi32>
    %b = "tosa.const"() <{values = dense<0.25> : tensor<3xf32>}> : () -> tensor<3xf32>
    %zero = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %acc = tosa.conv2d %x, %wq, %b, %zero, %zero {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x3xf32>
    %r = tosa.clamp %acc {max_val = 3.40282347E+38 : f32, min_val = 0.000000e+00 : f32} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32>
    %s_out = arith.constant dense<0.03125> : tensor<f32>
    %z_out = arith.constant dense<0> : tensor<i32>
    %y = qat.fake_quant %r, %s_out, %z_out {quant_max = 255 : i64, quant_min = 0 : i64} : tensor<1x4x4x3xf32>, tensor<f32>, tensor<i32>
    return %y : tensor<1x4x4x3xf32>
  }
}
