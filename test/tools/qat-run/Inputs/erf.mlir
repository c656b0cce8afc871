// math.erf has no direct LLVM lowering: qat-run must say so.
func.func @erf(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = math.erf %x : tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
