// RUN: qat-opt %s -split-input-file -verify-diagnostics
// One case per verifier message of the f32 kernels (QATFloatKernelOps.td).

func.func @dynamic(%x: tensor<?x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires static shapes, got 'tensor<?x4x4x8xf32>'}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<?x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @rank(%x: tensor<4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires an NHWC input of rank 4}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @init_rank(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16xf32>, %b: tensor<16xf32>, %e: tensor<4x4x16xf32>) {
  // expected-error @+1 {{requires NHWC input and init of rank 4}}
  %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<4x4x16xf32>
  return
}

// -----

func.func @weights_shape(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x20x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires weights of shape NB x KH x (KW * C) x 16 with C = 8, got 'tensor<1x3x20x16xf32>'}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x20x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @window_attrs(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires stride and dilation of 2 entries and pad of 4}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @window_values(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires stride and dilation >= 1 and pad >= 0}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 0, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @out_shape(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x3x4x16xf32>) {
  // expected-error @+1 {{init shape 'tensor<1x3x4x16xf32>' does not match the convolution's output (1 x 4 x 4 x C)}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x3x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x3x4x16xf32>
  return
}

// -----

func.func @epilogue_input(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>, %s: tensor<1x1x1x8xf32>) {
  // expected-error @+1 {{epilogue input #0 of type 'tensor<1x1x1x8xf32>' does not broadcast to the output 'tensor<1x4x4x16xf32>' (rank 4, each dimension equal or 1)}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) epilogue_inputs(%s : tensor<1x1x1x8xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @mixed(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: memref<1x4x4x16xf32>) {
  // expected-error @+1 {{requires all operands to be tensors or all memrefs}}
  qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : memref<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
  return
}

// -----

func.func @no_result(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{on tensors requires one result of the init's type}}
  qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
  return
}

// -----

func.func @memref_result(%x: memref<1x4x4x8xf32>, %w: memref<1x3x24x16xf32>, %b: memref<16xf32>, %e: memref<1x4x4x16xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : memref<1x4x4x8xf32>, memref<1x3x24x16xf32>, memref<16xf32>) outs(%e : memref<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @blocks(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x20xf32>) {
  // expected-error @+1 {{weights hold 1 blocks of 16 output channels, init has 20 channels}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x20xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x20xf32>
  return
}

// -----

func.func @bias(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<8xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires a bias of 16 entries (16 per block of output channels)}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<8xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @epilogue_args(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{epilogue block must take 1 f32 arguments (the accumulator and one element per epilogue input)}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} epilogue {
  ^bb0(%a: f32, %c: f32):
    qat.yield %a : f32
  } -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @epilogue_yield(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{epilogue must end with qat.yield of one f32}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} epilogue {
  ^bb0(%a: f32):
    qat.yield %a, %a : f32, f32
  } -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @epilogue_op(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} epilogue {
  ^bb0(%a: f32):
    // expected-error @+1 {{is not an elementwise arith or math op on f32 or i1, which an f32 kernel's epilogue needs}}
    %i = arith.fptosi %a : f32 to i32
    qat.yield %a : f32
  } -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @dw_weights(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16x1xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires weights of shape KH x KW x CP, got 'tensor<3x3x16x1xf32>'}}
  %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16x1xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @dw_channels(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x8xf32>) {
  // expected-error @+1 {{requires as many output channels as input channels (channel multiplier 1), got 8 and 16}}
  %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x8xf32>
  return
}

// -----

func.func @dw_padded(%x: tensor<1x4x4x20xf32>, %w: tensor<3x3x20xf32>, %b: tensor<32xf32>, %e: tensor<1x4x4x20xf32>) {
  // expected-error @+1 {{requires weights padded to 32 channels (16 * ceil(C / 16)), got 20}}
  %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x20xf32>, tensor<3x3x20xf32>, tensor<32xf32>) outs(%e : tensor<1x4x4x20xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x20xf32>
  return
}

// -----

func.func @dw_bias(%x: tensor<1x4x4x20xf32>, %w: tensor<3x3x32xf32>, %b: tensor<20xf32>, %e: tensor<1x4x4x20xf32>) {
  // expected-error @+1 {{requires a bias of 32 entries (the padded channel count)}}
  %y = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x20xf32>, tensor<3x3x32xf32>, tensor<20xf32>) outs(%e : tensor<1x4x4x20xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x20xf32>
  return
}

// -----

func.func @bwd_rank(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3xf32>, %e: tensor<1x8x8x8xf32>) {
  // expected-error @+1 {{requires NHWC activations and OHWI weights of rank 4}}
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3xf32>) outs(%e : tensor<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @bwd_static(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %e: tensor<1x8x?x8xf32>) {
  // expected-error @+1 {{requires static shapes, got 'tensor<1x8x?x8xf32>'}}
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : tensor<1x8x?x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x?x8xf32>
  return
}

// -----

func.func @bwd_attrs(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %e: tensor<1x8x8x8xf32>) {
  // expected-error @+1 {{requires stride and dilation of 2 entries and pad of 4}}
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : tensor<1x8x8x8xf32>) {dilation = array<i64: 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @bwd_values(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %e: tensor<1x8x8x8xf32>) {
  // expected-error @+1 {{requires stride and dilation >= 1 and pad >= 0}}
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : tensor<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: -1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @bwd_shapes(%dy: tensor<1x5x4x16xf32>, %w: tensor<16x3x3x8xf32>, %e: tensor<1x8x8x8xf32>) {
  // expected-error @+1 {{shapes do not form a convolution: input 'tensor<1x8x8x8xf32>', weight 'tensor<16x3x3x8xf32>', output gradient 'tensor<1x5x4x16xf32>' (expected 1 x 4 x 4 x 16)}}
  %dx = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x5x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : tensor<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x8x8xf32>
  return
}

// -----

func.func @bwd_mixed(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %e: memref<1x8x8x8xf32>) {
  // expected-error @+1 {{requires all operands to be tensors or all memrefs}}
  qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : memref<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  return
}

// -----

func.func @bwd_result(%x: tensor<1x8x8x8xf32>, %dy: tensor<1x4x4x16xf32>, %e: tensor<16x3x3x8xf32>) {
  // expected-error @+1 {{on tensors requires one result of the init's type}}
  qat.conv2d_backward_weight_f32 ins(%x, %dy : tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) outs(%e : tensor<16x3x3x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  return
}

// -----

func.func @bwd_memref_result(%x: memref<1x8x8x8xf32>, %dy: memref<1x4x4x16xf32>, %e: memref<16x3x3x8xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %dw = qat.conv2d_backward_weight_f32 ins(%x, %dy : memref<1x8x8x8xf32>, memref<1x4x4x16xf32>) outs(%e : memref<16x3x3x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<16x3x3x8xf32>
  return
}

// -----

func.func @bwd_epilogue_input(%x: tensor<1x8x8x8xf32>, %dy: tensor<1x4x4x16xf32>, %e: tensor<16x3x3x8xf32>, %s: tensor<16x3x3x1x1xf32>) {
  // expected-error @+1 {{epilogue input #0 of type 'tensor<16x3x3x1x1xf32>' does not broadcast to the output 'tensor<16x3x3x8xf32>' (rank 4, each dimension equal or 1)}}
  %dw = qat.conv2d_backward_weight_f32 ins(%x, %dy : tensor<1x8x8x8xf32>, tensor<1x4x4x16xf32>) epilogue_inputs(%s : tensor<16x3x3x1x1xf32>) outs(%e : tensor<16x3x3x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<16x3x3x8xf32>
  return
}

// -----

func.func @pack_shape(%w: tensor<20x3x3x4xf32>, %e: tensor<2x3x3x16xf32>) {
  // expected-error @+1 {{packs O x KH x KW x C weights into ceil(O / 16) x KH x (KW * C) x 16, got 'tensor<20x3x3x4xf32>' into 'tensor<2x3x3x16xf32>'}}
  %p = qat.pack_conv_weights_f32 ins(%w : tensor<20x3x3x4xf32>) outs(%e : tensor<2x3x3x16xf32>) -> tensor<2x3x3x16xf32>
  return
}

// -----

func.func @pack_static(%w: tensor<?x3x3x4xf32>, %e: tensor<2x3x12x16xf32>) {
  // expected-error @+1 {{requires static shapes}}
  %p = qat.pack_conv_weights_f32 ins(%w : tensor<?x3x3x4xf32>) outs(%e : tensor<2x3x12x16xf32>) -> tensor<2x3x12x16xf32>
  return
}

// -----

func.func @pack_mixed(%w: tensor<20x3x3x4xf32>, %e: memref<2x3x12x16xf32>) {
  // expected-error @+1 {{requires all operands to be tensors or all memrefs}}
  qat.pack_conv_weights_f32 ins(%w : tensor<20x3x3x4xf32>) outs(%e : memref<2x3x12x16xf32>)
  return
}

// -----

func.func @pack_result(%w: tensor<20x3x3x4xf32>, %e: tensor<2x3x12x16xf32>) {
  // expected-error @+1 {{on tensors requires one result of the init's type}}
  qat.pack_conv_weights_f32 ins(%w : tensor<20x3x3x4xf32>) outs(%e : tensor<2x3x12x16xf32>)
  return
}

// -----

func.func @pack_memref_result(%w: memref<20x3x3x4xf32>, %e: memref<2x3x12x16xf32>) {
  // expected-error @+1 {{on memrefs has no result}}
  %p = qat.pack_conv_weights_f32 ins(%w : memref<20x3x3x4xf32>) outs(%e : memref<2x3x12x16xf32>) -> tensor<2x3x12x16xf32>
  return
}

// -----

func.func @groups_value(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{requires groups >= 1, got 0}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, groups = 0 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}

// -----

func.func @groups_channels(%x: tensor<1x4x4x8xf32>, %w: tensor<3x3x6x16xf32>, %b: tensor<48xf32>, %e: tensor<1x4x4x24xf32>) {
  // expected-error @+1 {{requires input and output channels (8, 24) divisible by groups = 3}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<3x3x6x16xf32>, tensor<48xf32>) outs(%e : tensor<1x4x4x24xf32>) {dilation = array<i64: 1, 1>, groups = 3 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x24xf32>
  return
}

// -----

func.func @groups_weights(%x: tensor<1x4x4x8xf32>, %w: tensor<2x3x10x16xf32>, %b: tensor<32xf32>, %e: tensor<1x4x4x32xf32>) {
  // expected-error @+1 {{requires weights of shape NB x KH x (KW * C) x 16 with C = 4 (channels per group), got 'tensor<2x3x10x16xf32>'}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<2x3x10x16xf32>, tensor<32xf32>) outs(%e : tensor<1x4x4x32xf32>) {dilation = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x32xf32>
  return
}

// -----

func.func @groups_blocks(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x12x16xf32>, %b: tensor<16xf32>, %e: tensor<1x4x4x16xf32>) {
  // expected-error @+1 {{weights hold 1 blocks of 16 output channels, init has 16 channels in 2 groups}}
  %y = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x12x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  return
}
