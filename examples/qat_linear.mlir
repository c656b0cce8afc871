// One quantization-aware training step of a linear layer, in the x86
// configuration (u8 affine activations, s8 per-channel symmetric weights):
//
//   observe the activation range and the weight range per output channel,
//   choose scales and zero points with PyTorch's formulas, fake-quantize,
//   multiply (TOSA), then the backward: STE gradient of the activation
//   quantizer and LSQ gradients of a learned weight scale.
//
// The README's main command compiles this with qat-opt and runs @main with
// qat-run, printing every result.

func.func @main() -> (tensor<1x4x3xf32>, tensor<f32>, tensor<i32>, tensor<3xf32>,
                      tensor<1x4x8xf32>, tensor<3xf32>) {
  // Activations (batch 4, 8 features) and weights (8 inputs x 3 outputs).
  %x = arith.constant dense<[[[0.10, 0.55, -0.20, 1.30, 0.00, 0.75, 2.40, -0.05],
                              [1.10, -0.35, 0.60, 0.25, 0.90, -1.00, 0.15, 0.45],
                              [0.00, 0.30, 0.35, -0.60, 1.75, 0.20, -0.25, 0.80],
                              [0.65, 0.05, 1.20, 0.40, -0.15, 0.50, 0.95, 0.10]]]> : tensor<1x4x8xf32>
  %w = arith.constant dense<[[[ 0.12, -0.40,  0.05], [ 0.33,  0.21, -0.18],
                              [-0.27,  0.09,  0.44], [ 0.08, -0.15,  0.30],
                              [ 0.51,  0.02, -0.07], [-0.19,  0.36,  0.11],
                              [ 0.04, -0.28, -0.23], [ 0.25,  0.17,  0.06]]]> : tensor<1x8x3xf32>
  %shape = tosa.const_shape {values = dense<[8, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %shape3 = tosa.const_shape {values = dense<[1, 8, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %w2 = tosa.reshape %w, %shape : (tensor<1x8x3xf32>, !tosa.shape<2>) -> tensor<8x3xf32>

  // Observer state starts at (+inf, -inf).
  %inf = arith.constant dense<0x7F800000> : tensor<f32>
  %ninf = arith.constant dense<0xFF800000> : tensor<f32>
  %cinf = arith.constant dense<0x7F800000> : tensor<3xf32>
  %cninf = arith.constant dense<0xFF800000> : tensor<3xf32>

  // Activation: u8 affine, per tensor.
  %amin, %amax = qat.observer %x, %inf, %ninf {kind = #qat.observer<moving_average>} : tensor<1x4x8xf32>, tensor<f32>
  %as, %az = qat.choose_qparams %amin, %amax {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<f32> -> tensor<i32>
  %xq = qat.fake_quant %x, %as, %az {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x4x8xf32>, tensor<f32>, tensor<i32>

  // Weights: s8 symmetric, one scale per output channel (axis 1 of 8x3).
  %wmin, %wmax = qat.observer %w2, %cinf, %cninf {axis = 1 : i64} : tensor<8x3xf32>, tensor<3xf32>
  %ws, %wz = qat.choose_qparams %wmin, %wmax {quant_min = -128 : i64, quant_max = 127 : i64, qscheme = #qat.qscheme<symmetric>} : tensor<3xf32> -> tensor<3xi32>
  %wq2 = qat.fake_quant %w2, %ws, %wz {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<8x3xf32>, tensor<3xf32>, tensor<3xi32>
  %wq = tosa.reshape %wq2, %shape3 : (tensor<8x3xf32>, !tosa.shape<3>) -> tensor<1x8x3xf32>

  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.matmul %xq, %wq, %zp, %zp : (tensor<1x4x8xf32>, tensor<1x8x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x3xf32>

  // Backward with dL/dy = 1: dL/dxq = 1 x W^T, through the activation STE.
  %ones = arith.constant dense<1.0> : tensor<1x4x8xf32>
  %dx = qat.fake_quant_grad %ones, %x, %as, %az {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x4x8xf32>, tensor<f32>, tensor<i32>

  // LSQ on the weights with the observed scales as the learned step sizes.
  %gones = arith.constant dense<1.0> : tensor<8x3xf32>
  %zf = arith.constant dense<0.0> : tensor<3xf32>
  %dw, %dws, %dwz = qat.lsq_grad %gones, %w2, %ws, %zf {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64, grad_factor = 0.0312 : f64} : tensor<8x3xf32>, tensor<3xf32>

  return %y, %as, %az, %ws, %dx, %dws : tensor<1x4x3xf32>, tensor<f32>, tensor<i32>, tensor<3xf32>, tensor<1x4x8xf32>, tensor<3xf32>
}
