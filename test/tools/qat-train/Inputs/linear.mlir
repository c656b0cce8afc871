// A linear classifier of 3 features into 2 classes on batches of 4:
// reshape, matmul, reshape, bias add (the exporter's fully connected layer).
func.func @main(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %s3 = tosa.const_shape {values = dense<[1, 4, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %x3 = tosa.reshape %x, %s3 : (tensor<4x3xf32>, !tosa.shape<3>) -> tensor<1x4x3xf32>
  %w = "tosa.const"() <{values = dense<[[[0.5, -0.25], [-0.5, 0.75], [0.125, 0.25]]]> : tensor<1x3x2xf32>}> : () -> tensor<1x3x2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %m = tosa.matmul %x3, %w, %zp, %zp : (tensor<1x4x3xf32>, tensor<1x3x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x2xf32>
  %s2 = tosa.const_shape {values = dense<[4, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y = tosa.reshape %m, %s2 : (tensor<1x4x2xf32>, !tosa.shape<2>) -> tensor<4x2xf32>
  %b = "tosa.const"() <{values = dense<[[0.1, -0.1]]> : tensor<1x2xf32>}> : () -> tensor<1x2xf32>
  %out = tosa.add %y, %b : (tensor<4x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
  return %out : tensor<4x2xf32>
}
