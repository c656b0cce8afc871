// x -> fake-quantized ReLU(x + 1): two activation quantizers (act0 on x,
// act1 on the result) after qat-insert-fake-quant{target=x86}.
func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %one = "tosa.const"() <{values = dense<1.0> : tensor<2x3xf32>}> : () -> tensor<2x3xf32>
  %a = tosa.add %x, %one : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
