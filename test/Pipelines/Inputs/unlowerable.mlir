// math.erf has no direct LLVM lowering (it needs a libm call).
func.func @erf(%x: f32) -> f32 {
  %y = math.erf %x : f32
  return %y : f32
}
