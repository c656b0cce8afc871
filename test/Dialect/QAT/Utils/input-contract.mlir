// The input contract (include/qat/Dialect/QAT/Utils/InputContract.h): shapes
// the TOSA verifier accepts but the qat passes cannot trust. Every pass that
// reads shapes checks it first and reports the same diagnostic, naming the op,
// the operand and the rule.
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-fold-conv-bn
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-insert-fake-quant=target=x86
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-prepare=target=bpu
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-convert-to-integer=target=bpu
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-lower-to-npu
// RUN: qat-opt %s -split-input-file -verify-diagnostics --qat-pack-int8-kernels

// Crash class 2: a weight declaring 1e6 output channels, a result with 1 (the
// TOSA verifier accepts it; qat-fold-conv-bn and qat-prepare read past the
// per-channel scales).
func.func @conv_output_channels(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x1xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<1000000x1x1x3xf32>}> : () -> tensor<1000000x1x1x3xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.conv2d' op breaks the TOSA input contract: the weight (operand #1: tensor<1000000x1x1x3xf32>) has 1000000 output channels but the result (tensor<1x4x4x1xf32>) has 1}}
  %y = tosa.conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<1000000x1x1x3xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x1xf32>
  %m = "tosa.const"() <{values = dense<2.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %s = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %r = tosa.mul %y, %m, %s : (tensor<1x4x4x1xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x4x1xf32>
  return %r : tensor<1x4x4x1xf32>
}

// -----

// A weight with 1,000 input channels against a 3-channel input (the NPU
// lowering compiled it silently).
func.func @conv_input_channels(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x8xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<8x1x1x1000xf32>}> : () -> tensor<8x1x1x1000xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<8xf32>}> : () -> tensor<8xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.conv2d' op breaks the TOSA input contract: the weight (operand #1: tensor<8x1x1x1000xf32>) has 1000 input channels but the input (operand #0: tensor<1x4x4x3xf32>) has 3}}
  %y = tosa.conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<8x1x1x1000xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

// 
func.func @conv_batches(%x: tensor<1x4x4x3xf32>) -> tensor<2x4x4x8xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<8x1x1x3xf32>}> : () -> tensor<8x1x1x3xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<8xf32>}> : () -> tensor<8xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.conv2d' op breaks the TOSA input contract: the input (operand #0: tensor<1x4x4x3xf32>) has 1 batches but the result (tensor<2x4x4x8xf32>) has 2}}
  %y = tosa.conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<8x1x1x3xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x4x4x8xf32>
  return %y : tensor<2x4x4x8xf32>
}

// -----

// Crash classes 10 and 11: a result declared with 2^32 channels (SmallVector
// abort in qat-fold-conv-bn / qat-prepare, abort in qat-convert-to-integer).
func.func @conv_result_size(%x: tensor<1x4x4x3xf32>) -> tensor<1x4x4x4294967296xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<1x1x1x3xf32>}> : () -> tensor<1x1x1x3xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.conv2d' op breaks the TOSA input contract: result #0 (tensor<1x4x4x4294967296xf32>) has 68719476736 elements of 4 byte(s); a tensor may hold at most 2^31 - 1 bytes (TOSA level 8K, MAX_LOG2_SIZE = 31)}}
  %y = tosa.conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x4294967296xf32>
  %m = "tosa.const"() <{values = dense<2.0> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %s = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %r = tosa.mul %y, %m, %s : (tensor<1x4x4x4294967296xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x4x4294967296xf32>
  return %r : tensor<1x4x4x4294967296xf32>
}

// -----

// 
func.func @depthwise_input_channels(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<3x3x5x1xf32>}> : () -> tensor<3x3x5x1xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.depthwise_conv2d' op breaks the TOSA input contract: the weight (operand #1: tensor<3x3x5x1xf32>) has 5 input channels but the input (operand #0: tensor<1x4x4x8xf32>) has 8}}
  %y = tosa.depthwise_conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>, tensor<3x3x5x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

// 
func.func @depthwise_output_channels(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %w = "tosa.const"() <{values = dense<1.0> : tensor<3x3x8x2xf32>}> : () -> tensor<3x3x8x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.depthwise_conv2d' op breaks the TOSA input contract: the weight (operand #1: tensor<3x3x8x2xf32>) (channels x multiplier) has 16 output channels but the result (tensor<1x4x4x8xf32>) has 8}}
  %y = tosa.depthwise_conv2d %x, %w, %b, %z, %z {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>, tensor<3x3x8x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

// 
func.func @matmul_reduction(%a: tensor<1x4x8xf32>) -> tensor<1x4x5xf32> {
  %b = "tosa.const"() <{values = dense<1.0> : tensor<1x9x5xf32>}> : () -> tensor<1x9x5xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.matmul' op breaks the TOSA input contract: the left operand (operand #0: tensor<1x4x8xf32>) has 8 reduction elements (C of [N, H, C] x [N, C, W]) but the right operand (operand #1: tensor<1x9x5xf32>) has 9}}
  %y = tosa.matmul %a, %b, %z, %z : (tensor<1x4x8xf32>, tensor<1x9x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x5xf32>
  return %y : tensor<1x4x5xf32>
}

// -----

// 
func.func @matmul_columns(%a: tensor<1x4x8xf32>) -> tensor<1x4x7xf32> {
  %b = "tosa.const"() <{values = dense<1.0> : tensor<1x8x5xf32>}> : () -> tensor<1x8x5xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.matmul' op breaks the TOSA input contract: the right operand (operand #1: tensor<1x8x5xf32>) has 5 columns but the result (tensor<1x4x7xf32>) has 7}}
  %y = tosa.matmul %a, %b, %z, %z : (tensor<1x4x8xf32>, tensor<1x8x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x7xf32>
  return %y : tensor<1x4x7xf32>
}

// -----

// 
func.func @matmul_batches(%a: tensor<1x4x8xf32>) -> tensor<1x4x5xf32> {
  %b = "tosa.const"() <{values = dense<1.0> : tensor<2x8x5xf32>}> : () -> tensor<2x8x5xf32>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.matmul' op breaks the TOSA input contract: the left operand (operand #0: tensor<1x4x8xf32>) has 1 batches but the right operand (operand #1: tensor<2x8x5xf32>) has 2}}
  %y = tosa.matmul %a, %b, %z, %z : (tensor<1x4x8xf32>, tensor<2x8x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x5xf32>
  return %y : tensor<1x4x5xf32>
}

// -----

func.func @max_pool_channels(%x: tensor<1x4x4x8xf32>) -> tensor<1x2x2x9xf32> {
  // expected-error @+1 {{'tosa.max_pool2d' op breaks the TOSA input contract: the input (operand #0: tensor<1x4x4x8xf32>) has 8 channels but the result (tensor<1x2x2x9xf32>) has 9}}
  %y = tosa.max_pool2d %x {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x9xf32>
  return %y : tensor<1x2x2x9xf32>
}

// -----

func.func @avg_pool_batches(%x: tensor<1x4x4x8xf32>) -> tensor<2x2x2x8xf32> {
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{'tosa.avg_pool2d' op breaks the TOSA input contract: the input (operand #0: tensor<1x4x4x8xf32>) has 1 batches but the result (tensor<2x2x2x8xf32>) has 2}}
  %y = tosa.avg_pool2d %x, %z, %z {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x8xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<2x2x2x8xf32>
  return %y : tensor<2x2x2x8xf32>
}

// -----

// A function argument too large for the contract (2^40 f32 elements).
// expected-error @+1 {{argument #0 (tensor<1099511627776xf32>) breaks the TOSA input contract: it has 1099511627776 elements of 4 byte(s); a tensor may hold at most 2^31 - 1 bytes (TOSA level 8K, MAX_LOG2_SIZE = 31)}}
func.func @argument_size(%x: tensor<1099511627776xf32>) -> tensor<1099511627776xf32> {
  return %x : tensor<1099511627776xf32>
}

// -----

// A shape whose element count overflows int64.
func.func @overflow() -> tensor<4611686018427387904x4xf32> {
  // expected-error @+1 {{'arith.constant' op breaks the TOSA input contract: result #0 (tensor<4611686018427387904x4xf32>) has more than 2^63 elements; a tensor may hold at most 2^31 - 1 bytes (TOSA level 8K, MAX_LOG2_SIZE = 31)}}
  %c = arith.constant dense<1.0> : tensor<4611686018427387904x4xf32>
  return %c : tensor<4611686018427387904x4xf32>
}
