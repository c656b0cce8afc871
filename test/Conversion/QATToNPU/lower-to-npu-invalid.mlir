// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-lower-to-npu
// RUN: qat-opt %S/Inputs/window.mlir -verify-diagnostics --qat-lower-to-npu=config=%S/Inputs/inp16.cfg
// RUN: not qat-opt %s --qat-lower-to-npu=config=%S/Inputs/bad.cfg 2>&1 | FileCheck %s --check-prefix=CONFIG
// RUN: not qat-opt %s --qat-lower-to-npu=config=%t.missing 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not qat-opt %S/Inputs/window.mlir --qat-lower-to-npu=entry=nope 2>&1 | FileCheck %s --check-prefix=ENTRY
// Every rule qat-lower-to-npu enforces: an error on the op, naming the rule.

// CONFIG: error: qat-lower-to-npu: {{.*}}bad.cfg: config line 2: unknown key 'bogus'
// MISSING: error: qat-lower-to-npu: {{.*}}missing
// ENTRY: error: qat-lower-to-npu: no function @nope

func.func @float_op(%q: tensor<4xi8>) -> tensor<4xf32> {
  %s = arith.constant dense<5.000000e-01> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %x = qat.dequantize %q, %s, %z : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{cannot run on the NPU: it computes on floats (the dequantized result of 'qat.dequantize'); the NPU computes on int8 codes only}}
  %y = tosa.mul %x, %x, %shift : (tensor<4xf32>, tensor<4xf32>, tensor<1xi8>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

func.func @float_requantization(%q: tensor<1x2x2x4xi8>) -> tensor<1x2x2x4xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x1x1x4xi8>}> : () -> tensor<4x1x1x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1.000000e-02> : tensor<f32>
  // expected-error @+1 {{cannot run on the NPU: float-multiplier requantization; the NPU's ALU requantizes in fixed point (prepare the model for the 'bpu' target)}}
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x4xi8>, tensor<4x1x1x4xi8>, tensor<4xi32>, tensor<f32>) -> tensor<1x2x2x4xi8>
  return %r : tensor<1x2x2x4xi8>
}

// -----

func.func @weight_not_constant(%q: tensor<1x2x2x4xi8>, %w: tensor<4x1x1x4xi8>) -> tensor<1x2x2x4xi8> {
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  // expected-error @+1 {{cannot run on the NPU: its weight is not a constant (the NPU packs weights and parameters at compile time)}}
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x4xi8>, tensor<4x1x1x4xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<1x2x2x4xi8>
  return %r : tensor<1x2x2x4xi8>
}

// -----

func.func @channel_multiplier(%q: tensor<1x2x2x2xi8>) -> tensor<1x2x2x6xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<1x1x2x3xi8>}> : () -> tensor<1x1x2x3xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<6xi32>}> : () -> tensor<6xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  // expected-error @+1 {{cannot run on the NPU: depthwise channel multiplier 3 must divide the block size 16 (an output block's inputs then lie in one input block)}}
  %r = qat.integer_kernel <depthwise_conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xi8>, tensor<1x1x2x3xi8>, tensor<6xi32>, tensor<i32>, tensor<i8>) -> tensor<1x2x2x6xi8>
  return %r : tensor<1x2x2x6xi8>
}

// -----

func.func @rescale_of_constant() -> tensor<4xi8> {
  %c = arith.constant dense<5> : tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %z = arith.constant dense<0> : tensor<i32>
  // expected-error @+1 {{cannot run on the NPU: the NPU lowering supports qat.integer_kernel}}
  %r = qat.rescale %c, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xi32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4xi8>
  return %r : tensor<4xi8>
}

// -----

func.func @away_from_zero_add(%a: tensor<6xi8>, %b: tensor<6xi8>) -> tensor<6xi8> {
  %m = arith.constant dense<1073741824> : tensor<i32>
  %z = arith.constant dense<0> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  // expected-error @+1 {{cannot run on the NPU: round_half_away_from_zero (the NPU's ALU rounds ties up)}}
  %r = qat.rescale_add %a, %m, %z, %b, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, round_half_away_from_zero} : tensor<6xi8>, tensor<i32>, tensor<i32>, tensor<6xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<6xi8>
  return %r : tensor<6xi8>
}

// -----

func.func @per_channel_add(%a: tensor<2x3xi8>, %b: tensor<2x3xi8>) -> tensor<2x3xi8> {
  %m = arith.constant dense<1073741824> : tensor<3xi32>
  %z = arith.constant dense<0> : tensor<3xi32>
  %n = arith.constant dense<31> : tensor<3xi8>
  // expected-error @+1 {{cannot run on the NPU: a per-channel qat.rescale_add of two int8 tensors (the NPU lowering adds per tensor)}}
  %r = qat.rescale_add %a, %m, %z, %b, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<2x3xi8>, tensor<3xi32>, tensor<3xi32>, tensor<2x3xi8>, tensor<3xi32>, tensor<3xi32>, tensor<3xi8>, tensor<3xi32> -> tensor<2x3xi8>
  return %r : tensor<2x3xi8>
}

// -----

func.func @reverse(%q: tensor<2x3xi8>) -> tensor<2x3xi8> {
  // expected-error @+1 {{cannot run on the NPU: the NPU lowering supports qat.integer_kernel (conv2d, depthwise_conv2d, matmul with constant weights and fixed-point requantization), qat.rescale_add of two int8 tensors, max_pool2d, concat, transpose and reshape on int8 codes}}
  %t = tosa.reverse %q {axis = 1 : i32} : (tensor<2x3xi8>) -> tensor<2x3xi8>
  return %t : tensor<2x3xi8>
}

// -----

func.func @float_argument(%x: tensor<4xf32>) -> tensor<4xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{cannot run on the NPU: it uses the float argument #0; the NPU takes int8 codes (one qat.quantize of the argument, after reshapes or transposes, done by the caller)}}
  %y = tosa.mul %x, %x, %shift : (tensor<4xf32>, tensor<4xf32>, tensor<1xi8>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// expected-error @+1 {{cannot run on the NPU: argument #0 is 'tensor<4xi32>'; the NPU takes int8 codes, or an f32 argument that one qat.quantize turns into codes}}
func.func @argument_type(%a: tensor<4xi32>) -> tensor<4xi32> {
  return %a : tensor<4xi32>
}

// -----

// Sizes past the NPU's 2^30 bytes of DRAM are refused before anything is
// allocated (each tensor is within the input contract; a shape past it is
// refused by the contract, test/Dialect/QAT/Utils/input-contract.mlir, where
// the layout used to report "needs -N bytes of DRAM").
// expected-error @+1 {{the program needs more DRAM than the NPU's 1073741824 bytes (2^30): activation 2 (402653184 bytes) does not fit after the 805307264 bytes placed before it}}
func.func @activations_too_large(%q: tensor<1x16384x24576x1xi8>) -> tensor<1x16384x24576x1xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<1x1x1x1xi8>}> : () -> tensor<1x1x1x1xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x16384x24576x1xi8>, tensor<1x1x1x1xi8>, tensor<1xi32>, tensor<i32>, tensor<i8>) -> tensor<1x16384x24576x1xi8>
  %r2 = qat.integer_kernel <conv2d> %r, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x16384x24576x1xi8>, tensor<1x1x1x1xi8>, tensor<1xi32>, tensor<i32>, tensor<i8>) -> tensor<1x16384x24576x1xi8>
  return %r2 : tensor<1x16384x24576x1xi8>
}

// -----

// A 4096x4096 kernel on one channel: its packed weights (one 16x16 block per
// tap) would take 2^32 bytes.
// expected-error @+1 {{the program needs more DRAM than the NPU's 1073741824 bytes (2^30): conv2d_0's packed weights (4294967296 bytes) does not fit after the 0 bytes placed before it}}
func.func @packed_weights_too_large(%q: tensor<1x4096x4096x1xi8>) -> tensor<1x1x1x1xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<1x4096x4096x1xi8>}> : () -> tensor<1x4096x4096x1xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x4096x4096x1xi8>, tensor<1x4096x4096x1xi8>, tensor<1xi32>, tensor<i32>, tensor<i8>) -> tensor<1x1x1x1xi8>
  return %r : tensor<1x1x1x1xi8>
}

// -----

// A splat weight larger than 2^24 elements is not written out.
func.func @splat_weight_too_large(%q: tensor<1x8192x4096x1xi8>) -> tensor<1x1x1x1xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<1x8192x4096x1xi8>}> : () -> tensor<1x8192x4096x1xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<1xi32>}> : () -> tensor<1xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<31> : tensor<i8>
  // expected-error @+1 {{cannot run on the NPU: its weight is a splat of 33554432 elements, more than the 16777216 a pass writes out (the NPU packs weights and parameters at compile time)}}
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x8192x4096x1xi8>, tensor<1x8192x4096x1xi8>, tensor<1xi32>, tensor<i32>, tensor<i8>) -> tensor<1x1x1x1xi8>
  return %r : tensor<1x1x1x1xi8>
}
