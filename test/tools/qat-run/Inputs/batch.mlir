// A function of batches of 2 rows (qat-run --split).
func.func @double(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = tosa.add %x, %x : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
