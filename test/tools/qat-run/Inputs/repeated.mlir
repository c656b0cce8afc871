// One value returned twice (CSE merges identical constants): each result
// still gets its own buffer.
func.func @twice(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {
  %a = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %b = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  return %a, %b, %x : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}
