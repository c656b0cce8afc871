// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-make-trainable=bn-mode=train
//
// The errors of qat-make-trainable{bn-mode=train}.

// A recorded batch norm without its running variance.
func.func @main(%x: tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %v = "tosa.const"() <{values = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  // expected-error @+1 {{qat-make-trainable: bn-mode=train: malformed qat.batch_norm or a weight/bias that is not a constant}}
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, qat.batch_norm = {weight = dense<1.0> : tensor<2x1x1x2xf32>, bias = dense<0.0> : tensor<2xf32>, running_mean = dense<0.0> : tensor<2xf32>, gamma = dense<1.0> : tensor<2xf32>, beta = dense<0.0> : tensor<2xf32>, eps = 1.0e-05 : f64}} : (tensor<2x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x2x2x2xf32>
  return %c : tensor<2x2x2x2xf32>
}

// -----

// One value per channel (N*H*W = 1): no batch variance.
func.func @main(%x: tensor<1x1x1x2xf32>) -> tensor<1x1x1x2xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{qat-make-trainable: bn-mode=train needs at least 2 values per channel (N*H*W), got 1}}
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, qat.batch_norm = {weight = dense<1.0> : tensor<2x1x1x2xf32>, bias = dense<0.0> : tensor<2xf32>, running_mean = dense<0.0> : tensor<2xf32>, running_var = dense<1.0> : tensor<2xf32>, gamma = dense<1.0> : tensor<2xf32>, beta = dense<0.0> : tensor<2xf32>, eps = 1.0e-05 : f64}} : (tensor<1x1x1x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x1x2xf32>
  return %c : tensor<1x1x1x2xf32>
}
