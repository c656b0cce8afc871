// A float model without a qat.target (help.test: qat-verify-target's error).
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = tosa.clamp %x {max_val = 6.0 : f32, min_val = 0.0 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
