func.func @fq_and_observe(%x: tensor<4x64xf32>, %s: tensor<f32>, %z: tensor<i32>, %lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<4x64xf32>, tensor<f32>, tensor<f32>) {
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4x64xf32>, tensor<f32>, tensor<i32>
  %a, %b = qat.observer %x, %lo, %hi : tensor<4x64xf32>, tensor<f32>
  return %y, %a, %b : tensor<4x64xf32>, tensor<f32>, tensor<f32>
}
