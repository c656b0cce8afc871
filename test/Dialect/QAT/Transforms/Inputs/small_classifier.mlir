// A small classifier (conv 3x3 1->2, ReLU, fully connected 32->3, batch 2)
// for the training passes; float, as the exporter writes it.
func.func @main(%x: tensor<2x4x4x1xf32>) -> tensor<2x3xf32> {
  %w = "tosa.const"() <{values = dense<[[[[0.5], [-0.25], [0.125]], [[0.25], [1.0], [-0.5]], [[0.75], [0.5], [-0.125]]], [[[-0.5], [0.25], [0.5]], [[0.125], [-1.0], [0.5]], [[0.25], [0.5], [0.375]]]]> : tensor<2x3x3x1xf32>}> : () -> tensor<2x3x3x1xf32>
  %b = "tosa.const"() <{values = dense<[0.1, -0.1]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<2x4x4x1xf32>, tensor<2x3x3x1xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x4x4x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x4x4x2xf32>) -> tensor<2x4x4x2xf32>
  %s = tosa.const_shape {values = dense<[1, 2, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %f = tosa.reshape %r, %s : (tensor<2x4x4x2xf32>, !tosa.shape<3>) -> tensor<1x2x32xf32>
  %m = "tosa.const"() <{values = dense<0.03125> : tensor<1x32x3xf32>}> : () -> tensor<1x32x3xf32>
  %y = tosa.matmul %f, %m, %zp, %zp : (tensor<1x2x32xf32>, tensor<1x32x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
  %s2 = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %y2 = tosa.reshape %y, %s2 : (tensor<1x2x3xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
  %fb = "tosa.const"() <{values = dense<[[0.0, 0.5, -0.5]]> : tensor<1x3xf32>}> : () -> tensor<1x3xf32>
  %out = tosa.add %y2, %fb : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  return %out : tensor<2x3xf32>
}
