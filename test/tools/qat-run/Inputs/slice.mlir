// A slice of the argument: a strided memref after bufferization.
func.func @f(%x: tensor<4x8xf32>) -> tensor<2x8xf32> {
  %s = tensor.extract_slice %x[1, 0] [2, 8] [1, 1] : tensor<4x8xf32> to tensor<2x8xf32>
  %c = arith.constant dense<2.0> : tensor<2x8xf32>
  %y = arith.mulf %s, %c : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
