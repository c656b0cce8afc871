func.func @f(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<4xf32>
}
