// RUN: qat-opt %s -split-input-file -verify-diagnostics
// One case per verifier message of the qat ops.

func.func @empty_range(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min < quant_max, got quant_min = 5 and quant_max = 5}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 5 : i64, quant_max = 5 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<4xf32>
}

// -----

func.func @range_too_wide(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min and quant_max within [-8388608, 8388608] so codes are exact in f32, got [0, 4294967295]}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 4294967295 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<4xf32>
}

// -----

func.func @axis_out_of_range(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{axis 2 is out of range for an input of rank 2}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 2 : i64} : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return %y : tensor<4x3xf32>
}

// -----

func.func @per_tensor_needs_rank0(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{requires 'scale' to be a rank-0 tensor for per-tensor quantization (no axis), got 'tensor<3xf32>'}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return %y : tensor<4x3xf32>
}

// -----

func.func @per_axis_needs_rank1(%x: tensor<4x3xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{requires 'scale' to be a rank-1 tensor for per-axis quantization (axis = 1), got 'tensor<f32>'}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<4x3xf32>
}

// -----

func.func @per_axis_length(%x: tensor<4x3xf32>, %s: tensor<4xf32>, %z: tensor<4xi32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{requires 'scale' to have one element per index of dimension 1 of the input (3), got 4}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4xf32>, tensor<4xi32>
  return %y : tensor<4x3xf32>
}

// -----

func.func @param_shapes_differ(%x: tensor<4x?xf32>, %s: tensor<3xf32>, %z: tensor<?xi32>) -> tensor<4x?xf32> {
  // expected-error @+1 {{requires 'scale' and 'zero_point' of one shape, got 'tensor<3xf32>' and 'tensor<?xi32>'}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<4x?xf32>, tensor<3xf32>, tensor<?xi32>
  return %y : tensor<4x?xf32>
}

// -----

func.func @negative_scale(%x: tensor<4xf32>, %z: tensor<i32>) -> tensor<4xf32> {
  %s = arith.constant dense<-0.5> : tensor<f32>
  // expected-error @+1 {{requires a positive finite scale, got -5.000000e-01 at index 0}}
  %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<4xf32>
}

// -----

func.func @zero_point_outside(%x: tensor<4x2xf32>, %s: tensor<2xf32>) -> tensor<4x2xf32> {
  %z = arith.constant dense<[3, 300]> : tensor<2xi32>
  // expected-error @+1 {{requires the zero point within [quant_min, quant_max] = [0, 255], got 300 at index 1}}
  %y = qat.fake_quant_grad %x, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64} : tensor<4x2xf32>, tensor<2xf32>, tensor<2xi32>
  return %y : tensor<4x2xf32>
}

// -----

func.func @element_type(%x: tensor<4xf16>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf16> {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %y = "qat.fake_quant"(%x, %s, %z) {quant_min = 0 : i64, quant_max = 255 : i64} : (tensor<4xf16>, tensor<f32>, tensor<i32>) -> tensor<4xf16>
  return %y : tensor<4xf16>
}

// -----

func.func @grad_factor(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<f32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite grad_factor, got}}
  %y = qat.lsq %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, grad_factor = 0x7FF0000000000000 : f64} : tensor<4xf32>, tensor<f32>
  return %y : tensor<4xf32>
}

// -----

func.func @lsq_grad_axis(%x: tensor<4xf32>, %s: tensor<4xf32>, %z: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{axis -1 is out of range for an input of rank 1}}
  %dx, %ds, %dz = qat.lsq_grad %x, %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64, axis = -1 : i64} : tensor<4xf32>, tensor<4xf32>
  return %dx : tensor<4xf32>
}

// -----

func.func @averaging_constant(%x: tensor<4xf32>, %lo: tensor<f32>, %hi: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{requires averaging_constant in (0, 1], got 1.5}}
  %a, %b = qat.observer %x, %lo, %hi {kind = #qat.observer<moving_average>, averaging_constant = 1.5 : f32} : tensor<4xf32>, tensor<f32>
  return %a : tensor<f32>
}

// -----

func.func @observer_state_shape(%x: tensor<4x3xf32>, %lo: tensor<4xf32>, %hi: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires 'min' to have one element per index of dimension 1 of the input (3), got 4}}
  %a, %b = qat.observer %x, %lo, %hi {axis = 1 : i64} : tensor<4x3xf32>, tensor<4xf32>
  return %a : tensor<4xf32>
}

// -----

func.func @reduce_range_empties(%lo: tensor<f32>, %hi: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{requires a non-empty range after reduce_range, got [0, 0]}}
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 1 : i64, reduce_range = true} : tensor<f32> -> tensor<i32>
  return %s : tensor<f32>
}

// -----

func.func @choose_qparams_rank(%lo: tensor<2x2xf32>, %hi: tensor<2x2xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{requires 'min' and 'max' of rank 0 (per tensor) or 1 (per axis), got 'tensor<2x2xf32>'}}
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<2x2xf32> -> tensor<2x2xi32>
  return %s : tensor<2x2xf32>
}

// -----

func.func @choose_qparams_zp_shape(%lo: tensor<4xf32>, %hi: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires 'zero_point' of the shape of 'min', got 'tensor<3xi32>' for 'tensor<4xf32>'}}
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32> -> tensor<3xi32>
  return %s : tensor<4xf32>
}

// -----

func.func @eps(%lo: tensor<f32>, %hi: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{requires a positive finite eps, got 0}}
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64, eps = 0.0 : f32} : tensor<f32> -> tensor<i32>
  return %s : tensor<f32>
}

// -----

func.func @packed_blocks(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x20xi8>) -> tensor<1x4x4x20xi8> {
  // expected-error @+1 {{weights hold 1 blocks of 16 output channels, init has 20 channels}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x20xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x20xi8>
  return %y : tensor<1x4x4x20xi8>
}

// -----

func.func @packed_weights_rank(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x2x16x8xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires weights of shape NB x KH x KW x C4 x 16 x 4, or NB x KH x G x 16 x 4 (tile layout), got 'tensor<1x1x2x16x8xi8>'}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x2x16x8xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_tiles_without_width(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x16x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires kernel_width exactly when its weights are in the tile layout (rank 5)}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x16x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_width_without_tiles(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires kernel_width exactly when its weights are in the tile layout (rank 5)}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, kernel_width = 1 : i64} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_tile_width(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x16x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires kernel_width >= 1, got 0}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x16x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, kernel_width = 0 : i64} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

// A 1 x 3 window on 8 channels: one run of 3 x 2 groups of 4, padded to 16.
func.func @packed_tile_groups(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x6x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x2x16xi8>) -> tensor<1x4x2x16xi8> {
  // expected-error @+1 {{tile-layout weights hold 6 groups of 4 input channels per kernel row, expected 16 (1 x 16 * ceil(6 / 16))}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x6x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x2x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, kernel_width = 3 : i64} -> tensor<1x4x2x16xi8>
  return %y : tensor<1x4x2x16xi8>
}

// -----

func.func @packed_inputs(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x3x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{weights hold 3 blocks of 4 input channels, the input has 8 channels}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x3x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_output_shape(%x: tensor<1x4x4x8xi8>, %w: tensor<1x3x3x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{init shape 'tensor<1x4x4x16xi8>' does not match the convolution's output (1 x 2 x 2 x C)}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x3x3x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_bias(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<8xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires bias and multiplier of 16 entries (16 per block of output channels)}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<8xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_range(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires an i8 code range, got [0, 255]}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = 0 : i64, quant_max = 255 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_residual(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %r: tensor<1x4x4x16xi8>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires residual_multiplier and residual_zero_point exactly when it has a residual}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m, residual %r : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>, tensor<1x4x4x16xi8>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_mixed(%x: memref<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires all operands to be tensors or all memrefs}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_dw_rank(%x: tensor<1x4x4x8xi8>, %w: tensor<3x3x16x1xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x8xi8>) -> tensor<1x4x4x8xi8> {
  // expected-error @+1 {{requires weights of shape KH x KW x CP, got 'tensor<3x3x16x1xi8>'}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<3x3x16x1xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x8xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x8xi8>
  return %y : tensor<1x4x4x8xi8>
}

// -----

func.func @packed_dw_multiplier(%x: tensor<1x4x4x8xi8>, %w: tensor<3x3x16xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires as many output channels as input channels (channel multiplier 1), got 16 and 8}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_dw_padding(%x: tensor<1x4x4x20xi8>, %w: tensor<3x3x20xi8>, %b: tensor<32xi32>, %m: tensor<32xf32>, %i: tensor<1x4x4x20xi8>) -> tensor<1x4x4x20xi8> {
  // expected-error @+1 {{requires weights padded to 32 channels (16 * ceil(C / 16)), got 20}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x20xi8>, tensor<3x3x20xi8>, tensor<32xi32>, tensor<32xf32>) outs(%i : tensor<1x4x4x20xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x20xi8>
  return %y : tensor<1x4x4x20xi8>
}

// -----

func.func @packed_dw_bias(%x: tensor<1x4x4x8xi8>, %w: tensor<3x3x16xi8>, %b: tensor<8xi32>, %m: tensor<16xf32>, %i: tensor<1x2x2x8xi8>) -> tensor<1x2x2x8xi8> {
  // expected-error @+1 {{requires bias and multiplier of 16 entries (the padded channel count)}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<8xi32>, tensor<16xf32>) outs(%i : tensor<1x2x2x8xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x2x2x8xi8>
  return %y : tensor<1x2x2x8xi8>
}

// -----

func.func @packed_dw_output_shape(%x: tensor<1x4x4x8xi8>, %w: tensor<3x3x16xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x8xi8>) -> tensor<1x4x4x8xi8> {
  // expected-error @+1 {{init shape 'tensor<1x4x4x8xi8>' does not match the convolution's output (1 x 2 x 2 x C)}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x8xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x8xi8>
  return %y : tensor<1x4x4x8xi8>
}

// -----

func.func @packed_output_pad(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{init shape 'tensor<1x4x4x16xi8>' does not match the convolution's output with output_pad (1 x 6 x 6 x C)}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, output_pad = array<i64: 1, 1, 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_output_pad_entries(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires output_pad of 4 entries >= 0}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, output_pad = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

// The ops of the training step.
func.func @conv_pad_length(%dy: tensor<1x8x8x4xf32>, %w: tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires 'pad' to have 4 entries, got 2}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @conv_zero_stride(%dy: tensor<1x8x8x4xf32>, %w: tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires every 'stride' entry >= 1, got 0}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 0, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @conv_batch(%x: tensor<2x8x8x2xf32>, %dy: tensor<1x8x8x4xf32>) -> tensor<4x3x3x2xf32> {
  // expected-error @+1 {{requires the batch of the output gradient (that of the input) to be 2, got 1}}
  %dw = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<2x8x8x2xf32>, tensor<1x8x8x4xf32>) -> tensor<4x3x3x2xf32>
  return %dw : tensor<4x3x3x2xf32>
}

// -----

func.func @conv_window_too_big(%x: tensor<1x2x2x2xf32>, %dy: tensor<1x1x1x4xf32>) -> tensor<4x5x5x2xf32> {
  // expected-error @+1 {{window of 5x5 does not fit the padded input of 2x2}}
  %dw = qat.conv2d_backward_weight %x, %dy {pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<1x1x1x4xf32>) -> tensor<4x5x5x2xf32>
  return %dw : tensor<4x5x5x2xf32>
}

// -----

func.func @conv_output_height(%dy: tensor<1x4x8x4xf32>, %w: tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires the output gradient's height (from the input height, kernel, pad, stride and dilation) to be 8, got 4}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x4x8x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @conv_output_width(%dy: tensor<1x4x3x4xf32>, %w: tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires the output gradient's width (from the input width, kernel, pad, stride and dilation) to be 4, got 3}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 0, 1, 0>, stride = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<1x4x3x4xf32>, tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @conv_input_channels(%dy: tensor<1x8x8x4xf32>, %w: tensor<4x3x3x3xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires the input channels (dimension 3 of the weight, OHWI) to be 3, got 2}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<4x3x3x3xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @conv_output_channels(%dy: tensor<1x8x8x5xf32>, %w: tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32> {
  // expected-error @+1 {{requires the output channels (dimension 0 of the weight, OHWI) to be 4, got 5}}
  %dx = qat.conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x5xf32>, tensor<4x3x3x2xf32>) -> tensor<1x8x8x2xf32>
  return %dx : tensor<1x8x8x2xf32>
}

// -----

func.func @depthwise_input_channels(%dy: tensor<1x8x8x8xf32>, %w: tensor<3x3x4x2xf32>) -> tensor<1x8x8x3xf32> {
  // expected-error @+1 {{requires the input channels (dimension 2 of the weight, HWCM) to be 4, got 3}}
  %dx = qat.depthwise_conv2d_backward_data %dy, %w {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>, tensor<3x3x4x2xf32>) -> tensor<1x8x8x3xf32>
  return %dx : tensor<1x8x8x3xf32>
}

// -----

func.func @depthwise_output_channels(%x: tensor<1x8x8x4xf32>, %dy: tensor<1x8x8x4xf32>) -> tensor<3x3x4x2xf32> {
  // expected-error @+1 {{requires the output channels (C * M of the HWCM weight) to be 8, got 4}}
  %dw = qat.depthwise_conv2d_backward_weight %x, %dy {pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>, dilation = array<i64: 1, 1>} : (tensor<1x8x8x4xf32>, tensor<1x8x8x4xf32>) -> tensor<3x3x4x2xf32>
  return %dw : tensor<3x3x4x2xf32>
}

// -----

func.func @pool_kernel(%dy: tensor<1x4x4x4xf32>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{requires every 'kernel' entry >= 1, got 0}}
  %dx = qat.avg_pool2d_backward %dy {kernel = array<i64: 0, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>} : tensor<1x4x4x4xf32> -> tensor<1x8x8x4xf32>
  return %dx : tensor<1x8x8x4xf32>
}

// -----

func.func @pool_pad(%dy: tensor<1x5x5x4xf32>, %x: tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{requires each pad smaller than the kernel along its axis}}
  %dx = qat.max_pool2d_backward %dy, %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 2, 0, 0, 0>} : (tensor<1x5x5x4xf32>, tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  return %dx : tensor<1x8x8x4xf32>
}

// -----

func.func @pool_channels(%dy: tensor<1x4x4x3xf32>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{requires the channels of the output gradient (those of the input) to be 4, got 3}}
  %dx = qat.avg_pool2d_backward %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>} : tensor<1x4x4x3xf32> -> tensor<1x8x8x4xf32>
  return %dx : tensor<1x8x8x4xf32>
}

// -----

func.func @loss_labels(%x: tensor<4x10xf32>, %y: tensor<3xi32>) -> tensor<f32> {
  // expected-error @+1 {{requires one label per row of the logits: the label count to be 4, got 3}}
  %l = qat.softmax_cross_entropy %x, %y : (tensor<4x10xf32>, tensor<3xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @loss_grad_labels(%g: tensor<f32>, %x: tensor<4x10xf32>, %y: tensor<5xi32>) -> tensor<4x10xf32> {
  // expected-error @+1 {{requires one label per row of the logits: the label count to be 4, got 5}}
  %d = qat.softmax_cross_entropy_grad %g, %x, %y : (tensor<f32>, tensor<4x10xf32>, tensor<5xi32>) -> tensor<4x10xf32>
  return %d : tensor<4x10xf32>
}

// -----

func.func @sgd_negative_momentum(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite momentum >= 0, got -1.000000e-01}}
  %p1, %b1 = qat.sgd_update %p, %p, %p, %lr, %s {momentum = -0.1 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @sgd_dampening(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite dampening, got INF}}
  %p1, %b1 = qat.sgd_update %p, %p, %p, %lr, %s {dampening = 0x7FF0000000000000 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @sgd_weight_decay(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite weight_decay >= 0, got -1.000000e+00}}
  %p1, %b1 = qat.sgd_update %p, %p, %p, %lr, %s {weight_decay = -1.0 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @sgd_nesterov(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{nesterov requires a momentum > 0 and zero dampening (as torch.optim.SGD)}}
  %p1, %b1 = qat.sgd_update %p, %p, %p, %lr, %s {nesterov} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @adam_beta(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires beta2 in [0, 1), got 1.000000e+00}}
  %p1, %m1, %v1 = qat.adam_update %p, %p, %p, %p, %lr, %s {beta2 = 1.0 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @adam_eps(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite eps >= 0, got -1.000000e-08}}
  %p1, %m1, %v1 = qat.adam_update %p, %p, %p, %p, %lr, %s {eps = -1.0e-8 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @adam_weight_decay(%p: tensor<4xf32>, %lr: tensor<f64>, %s: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{requires a finite weight_decay >= 0, got -5.000000e-01}}
  %p1, %m1, %v1 = qat.adam_update %p, %p, %p, %p, %lr, %s {weight_decay = -0.5 : f64} : tensor<4xf32>, tensor<f64>, tensor<i64>
  return %p1 : tensor<4xf32>
}

// -----

func.func @kernel_dynamic(%x: tensor<?x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<?x4x4x2xi8> {
  // expected-error @+1 {{requires static shapes, got 'tensor<?x4x4x2xi8>', 'tensor<2x1x1x2xi8>' -> 'tensor<?x4x4x2xi8>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<?x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<?x4x4x2xi8>
  return %y : tensor<?x4x4x2xi8>
}

// -----

func.func @kernel_zero_point(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires an i8 input_zero_point, got 128}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 128 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_window_attrs(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires pad, stride and dilation for a convolution and none for a matmul}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_conv_rank(%x: tensor<4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<4x4x2xi8> {
  // expected-error @+1 {{requires rank-4 input, weights and result for depthwise_conv2d}}
  %y = qat.integer_kernel <depthwise_conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<4x4x2xi8>
  return %y : tensor<4x4x2xi8>
}

// -----

func.func @kernel_input_channels(%x: tensor<1x4x4x3xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires weights over the 3 input channels, got 'tensor<2x1x1x2xi8>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_window(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires pad = [top, bottom, left, right] >= 0, stride and dilation of 2 values >= 1}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 0, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_result_shape(%x: tensor<1x4x4x2xi8>, %w: tensor<2x3x3x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires the result 1x2x2x2xi8 of this window, got 'tensor<1x4x4x2xi8>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x3x3x2xi8>, tensor<2xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_matmul_shapes(%x: tensor<2x4x8xi8>, %w: tensor<1x8x3xi8>, %b: tensor<3xi32>, %m: tensor<f32>) -> tensor<4x3xi8> {
  // expected-error @+1 {{requires a matmul of 1 x R x K input and 1 x K x O weights, got 'tensor<2x4x8xi8>' and 'tensor<1x8x3xi8>'}}
  %y = qat.integer_kernel <matmul> %x, %w, %b, %m {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<2x4x8xi8>, tensor<1x8x3xi8>, tensor<3xi32>, tensor<f32>) -> tensor<4x3xi8>
  return %y : tensor<4x3xi8>
}

// -----

func.func @kernel_matmul_result(%x: tensor<1x4x8xi8>, %w: tensor<1x8x3xi8>, %b: tensor<3xi32>, %m: tensor<f32>) -> tensor<2x3xi8> {
  // expected-error @+1 {{requires a result of 12 elements with 3 in its last dimension, got 'tensor<2x3xi8>'}}
  %y = qat.integer_kernel <matmul> %x, %w, %b, %m {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : (tensor<1x4x8xi8>, tensor<1x8x3xi8>, tensor<3xi32>, tensor<f32>) -> tensor<2x3xi8>
  return %y : tensor<2x3xi8>
}

// -----

func.func @kernel_bias(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<1xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires one bias per output channel (2), got 'tensor<1xi32>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<1xi32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_multiplier_shape(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<3xf32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires a multiplier of rank 0 or with one value per output channel (2), got 'tensor<3xf32>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<3xf32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_float_shift(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %n: tensor<i8>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{takes a shift only with an i32 (fixed-point) multiplier}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<i8>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_missing_shift(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<i32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires a shift of the multiplier's shape with an i32 (fixed-point) multiplier}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<i32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_shift_range(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>) -> tensor<1x4x4x2xi8> {
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<63> : tensor<i8>
  // expected-error @+1 {{requires shifts in [2, 62], got 63}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<i32>, tensor<i8>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_residual_parts(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %r: tensor<1x4x4x2xi8>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires residual, residual_multiplier and residual_zero_point together}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<1x4x4x2xi8>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_residual_type(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %r: tensor<1x4x4x1xi8>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires a residual of the result's type, got 'tensor<1x4x4x1xi8>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<1x4x4x1xi8>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_residual_multiplier(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %r: tensor<1x4x4x2xi8>, %mr: tensor<2xf32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires a residual_multiplier of the multiplier's type, got 'tensor<2xf32>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %mr {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = 0 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<1x4x4x2xi8>, tensor<2xf32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_residual_zero_point(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %r: tensor<1x4x4x2xi8>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires an i8 residual_zero_point, got -129}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m residual %r, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, residual_zero_point = -129 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<1x4x4x2xi8>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @batch_norm_train_channels(%x: tensor<2x3x3x4xf32>, %g: tensor<3xf32>) -> tensor<2x3x3x4xf32> {
  // expected-error @+1 {{requires one gamma per channel of the input: the gamma size to be 4, got 3}}
  %y, %m, %s, %v = qat.batch_norm_train %x, %g, %g : tensor<2x3x3x4xf32>, tensor<3xf32>
  return %y : tensor<2x3x3x4xf32>
}

// -----

func.func @batch_norm_train_one_value(%x: tensor<1x1x1x4xf32>, %g: tensor<4xf32>) -> tensor<1x1x1x4xf32> {
  // expected-error @+1 {{requires at least 2 values per channel (N*H*W), got 1}}
  %y, %m, %s, %v = qat.batch_norm_train %x, %g, %g : tensor<1x1x1x4xf32>, tensor<4xf32>
  return %y : tensor<1x1x1x4xf32>
}

// -----

func.func @batch_norm_train_epsilon(%x: tensor<2x1x1x4xf32>, %g: tensor<4xf32>) -> tensor<2x1x1x4xf32> {
  // expected-error @+1 {{requires a finite epsilon >= 0, got -1.000000e+00}}
  %y, %m, %s, %v = qat.batch_norm_train %x, %g, %g {epsilon = -1.0 : f64} : tensor<2x1x1x4xf32>, tensor<4xf32>
  return %y : tensor<2x1x1x4xf32>
}

// -----

func.func @requantize_bias_shape(%acc: tensor<1x2x2x3xi32>, %m: tensor<3xf32>, %z: tensor<3xi32>, %fb: tensor<2xf32>) -> tensor<1x2x2x3xi8> {
  // expected-error @+1 {{bias}}
  %q = qat.requantize %acc, %m, %z bias %fb {axis = 3 : i64, float_zero_point_offset = 128 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<2xf32> -> tensor<1x2x2x3xi8>
  return %q : tensor<1x2x2x3xi8>
}

// -----

func.func @requantize_offset(%acc: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) -> tensor<4xi8> {
  // expected-error @+1 {{requires float_zero_point_offset in [0, 255], got 256}}
  %q = qat.requantize %acc, %m, %z {float_zero_point_offset = 256 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4xi32>, tensor<f32>, tensor<i32> -> tensor<4xi8>
  return %q : tensor<4xi8>
}

// -----

func.func @dequantize_fma_offset(%q: tensor<4xi8>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires fma_offset in [0, 255], got -1}}
  %d = qat.dequantize %q, %s, %z {fma_offset = -1 : i64} : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
  return %d : tensor<4xf32>
}

// -----

func.func @kernel_float_bias_alone(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires float_bias and float_zero_point_offset together}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m float_bias %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_float_bias_fixed(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<i32>, %n: tensor<i8>, %fb: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{takes float_bias only with an f32 multiplier and no residual}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m shift %n float_bias %fb {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<i32>, tensor<i8>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_float_bias_shape(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>, %fb: tensor<3xf32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires a float_bias of rank 0 or with one value per output channel (2), got 'tensor<3xf32>'}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m float_bias %fb {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<3xf32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @kernel_float_zero_point_offset(%x: tensor<1x4x4x2xi8>, %w: tensor<2x1x1x2xi8>, %b: tensor<2xi32>, %m: tensor<f32>) -> tensor<1x4x4x2xi8> {
  // expected-error @+1 {{requires float_zero_point_offset in [0, 255], got 300}}
  %y = qat.integer_kernel <conv2d> %x, %w, %b, %m float_bias %m {dilation = array<i64: 1, 1>, float_zero_point_offset = 300 : i64, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<f32>, tensor<f32>) -> tensor<1x4x4x2xi8>
  return %y : tensor<1x4x4x2xi8>
}

// -----

func.func @packed_float_bias_alone(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{requires float_bias and float_zero_point_offset together}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x16xi8>) float_bias(%m : tensor<16xf32>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_float_bias_residual(%x: tensor<1x4x4x8xi8>, %w: tensor<1x1x1x2x16x4xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %r: tensor<1x4x4x16xi8>, %i: tensor<1x4x4x16xi8>) -> tensor<1x4x4x16xi8> {
  // expected-error @+1 {{takes float_bias only without a residual}}
  %y = qat.packed_conv2d ins(%x, %w, %b, %m, residual %r : tensor<1x4x4x8xi8>, tensor<1x1x1x2x16x4xi8>, tensor<16xi32>, tensor<16xf32>, tensor<1x4x4x16xi8>) outs(%i : tensor<1x4x4x16xi8>) float_bias(%m : tensor<16xf32>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64, float_zero_point_offset = 128 : i64,
       residual_multiplier = 1.0 : f32, residual_zero_point = 0 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x16xi8>
  return %y : tensor<1x4x4x16xi8>
}

// -----

func.func @packed_float_bias_entries(%x: tensor<1x4x4x8xi8>, %w: tensor<3x3x16xi8>, %b: tensor<16xi32>, %m: tensor<16xf32>, %fb: tensor<8xf32>, %i: tensor<1x4x4x8xi8>) -> tensor<1x4x4x8xi8> {
  // expected-error @+1 {{requires a float_bias of 16 entries, got 'tensor<8xf32>'}}
  %y = qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : tensor<1x4x4x8xi8>, tensor<3x3x16xi8>, tensor<16xi32>, tensor<16xf32>) outs(%i : tensor<1x4x4x8xi8>) float_bias(%fb : tensor<8xf32>)
      {input_zero_point = 0 : i64, output_zero_point = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64, float_zero_point_offset = 128 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>} -> tensor<1x4x4x8xi8>
  return %y : tensor<1x4x4x8xi8>
}
