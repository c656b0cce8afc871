func.func @"my-model.v2"(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
func.func @int(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
