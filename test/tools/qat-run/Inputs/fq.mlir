func.func @fq(%x: tensor<2x4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<2x4xf32> {
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 7 : i64} : tensor<2x4xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<2x4xf32>
}
func.func @scalar_arg(%x: f32) -> f32 {
  return %x : f32
}
func.func @dynamic_result(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
func.func @int_types(%a: tensor<3xi8>, %b: tensor<3xui8>, %c: tensor<3xi16>, %d: tensor<3xi64>, %e: tensor<3xf64>) -> (tensor<3xi8>, tensor<3xui8>, tensor<3xi16>, tensor<3xi64>, tensor<3xf64>) {
  return %a, %b, %c, %d, %e : tensor<3xi8>, tensor<3xui8>, tensor<3xi16>, tensor<3xi64>, tensor<3xf64>
}
