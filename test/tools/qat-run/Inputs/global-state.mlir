// Observer state in ml_program globals, stored before the new state is read
// again (choose_qparams): MLIR 22's ml_program bufferization would store an
// uninitialized buffer here; qat-to-llvm runs qat-copy-global-stores first.
ml_program.global private mutable @mn(dense<0x7F800000> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @mx(dense<0xFF800000> : tensor<f32>) : tensor<f32>
func.func @f(%x: tensor<4xf32>) -> (tensor<f32>, tensor<f32>, tensor<f32>) {
  %a = ml_program.global_load @mn : tensor<f32>
  %b = ml_program.global_load @mx : tensor<f32>
  %lo, %hi = qat.observer %x, %a, %b : tensor<4xf32>, tensor<f32>
  ml_program.global_store @mn = %lo : tensor<f32>
  ml_program.global_store @mx = %hi : tensor<f32>
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<f32> -> tensor<i32>
  %a2 = ml_program.global_load @mn : tensor<f32>
  %b2 = ml_program.global_load @mx : tensor<f32>
  return %a2, %b2, %s : tensor<f32>, tensor<f32>, tensor<f32>
}
