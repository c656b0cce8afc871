// A conv + batch norm + ReLU (make-trainable-bn.mlir's), batch 2.
func.func @main(%x: tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.5, 0.0]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x2x2x2xf32>
  %mean = "tosa.const"() <{values = dense<[[[[0.0, 0.5]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %var = "tosa.const"() <{values = dense<[[[[3.0, 15.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %eps = "tosa.const"() <{values = dense<1.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %gamma = "tosa.const"() <{values = dense<[[[[2.0, 8.0]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %beta = "tosa.const"() <{values = dense<[[[[0.0, -0.5]]]]> : tensor<1x1x1x2xf32>}> : () -> tensor<1x1x1x2xf32>
  %s = tosa.sub %c, %mean : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<2x2x2x2xf32>
  %ve = tosa.add %var, %eps : (tensor<1x1x1x2xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x1x2xf32>
  %rs = tosa.rsqrt %ve : (tensor<1x1x1x2xf32>) -> tensor<1x1x1x2xf32>
  %m1 = tosa.mul %s, %rs, %shift : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<2x2x2x2xf32>
  %m2 = tosa.mul %m1, %gamma, %shift : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>, tensor<1xi8>) -> tensor<2x2x2x2xf32>
  %y = tosa.add %m2, %beta : (tensor<2x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<2x2x2x2xf32>
  %r = tosa.clamp %y {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
  return %r : tensor<2x2x2x2xf32>
}
