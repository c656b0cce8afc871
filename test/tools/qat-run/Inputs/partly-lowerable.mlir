// @erf cannot be lowered; @twice (which calls @double) can, and runs.
func.func @erf(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = math.erf %x : tensor<3xf32>
  return %y : tensor<3xf32>
}
func.func private @double(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = arith.addf %x, %x : tensor<3xf32>
  return %y : tensor<3xf32>
}
func.func @twice(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = func.call @double(%x) : (tensor<3xf32>) -> tensor<3xf32>
  return %y : tensor<3xf32>
}
