// Every type of the quant dialect (its own bytecode encoding): bytecode.test.
func.func @f(%a: tensor<2x!quant.uniform<i8:f32, 0.5:3>>, %b: tensor<2x!quant.any<i8:f32>>, %c: tensor<2x!quant.any<i8>>, %d: tensor<2x!quant.calibrated<f32<-1.0:1.0>>>, %e: tensor<2x4x!quant.uniform<i8:f32:{0:1, 1:2}, {{{2.0:10, 3.0:20}}}>>) {
  return
}
