// The complex dialect parses but qat-to-llvm has no lowering for it.
func.func @modulus(%re: f32, %im: f32) -> f32 {
  %c = complex.create %re, %im : complex<f32>
  %r = complex.abs %c : complex<f32>
  return %r : f32
}
