// qat-verify-target on a target without float arithmetic (bpu:
// float_fallback = false, clamp fused_only, avg_pool2d without padding):
// every op that would stay float, run unfused or padded is an error naming
// the op and the rule, so that a model which passes runs on the NPU.
// RUN: qat-opt %s --split-input-file --verify-diagnostics --qat-verify-target=target=bpu
// RUN: not qat-opt %s --qat-verify-target=target=%S/Inputs/bad_float_fallback.json 2>&1 | FileCheck %s --check-prefix=JSON
// JSON: 'ops.avg_pool2d.padding': expected true or false

// A standalone ReLU: the integer conversion keeps a clamp only as a
// kernel's epilogue.
func.func @standalone_clamp(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  // expected-error @+1 {{target bpu: 'tosa.clamp' runs only as a step of a fused kernel (rule ops.clamp.fused_only = true), not on its own}}
  %r = tosa.clamp %xq {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %rq = qat.fake_quant %r, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x4x4x2xf32>
}

// -----

// A padded average pool: TOSA divides a border window by its count of real
// elements, which needs a multiplier per position.
func.func @padded_avg_pool(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  %zf = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @+1 {{target bpu: 'tosa.avg_pool2d' must not be padded (rule ops.avg_pool2d.padding = false), found pad = [1, 1, 1, 1]}}
  %p = tosa.avg_pool2d %xq, %zf, %zf {acc_type = f32, kernel = array<i64: 3, 3>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %pq = qat.fake_quant %p, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  return %pq : tensor<1x4x4x2xf32>
}

// -----

// A mul of two values: the integer conversion has no integer form of it
// (x * x alone would be a lookup table, verify-target-tables.mlir).
func.func @mul(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x3xf32>, tensor<f32>, tensor<i32>
  %yq = qat.fake_quant %y, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x3xf32>, tensor<f32>, tensor<i32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  // expected-error @+1 {{target bpu: 'tosa.mul' would compute on floats, and this target has no float arithmetic (float_fallback = false): its kind 'mul' is neither quantized (ops) nor agnostic}}
  %m = tosa.mul %xq, %yq, %shift : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<1xi8>) -> tensor<2x3xf32>
  return %m : tensor<2x3xf32>
}

// -----

// An agnostic op on a float value.
func.func @float_reshape(%x: tensor<2x3xf32>) -> tensor<6xf32> {
  %shape = tosa.const_shape {values = dense<6> : tensor<1xindex>} : () -> !tosa.shape<1>
  // expected-error @+1 {{target bpu: 'tosa.reshape' would compute on floats, and this target has no float arithmetic (float_fallback = false): its input is not quantized}}
  %r = tosa.reshape %x, %shape : (tensor<2x3xf32>, !tosa.shape<1>) -> tensor<6xf32>
  return %r : tensor<6xf32>
}

// -----

// Accepted: the transpose of the (NCHW) input before its quantizer (the
// caller's, with the quantization), a frozen conv + ReLU kernel, a max pool,
// a transpose and a reshape of codes.
func.func @accepted(%nchw: tensor<1x2x4x4xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %x = tosa.transpose %nchw {perms = array<i32: 0, 2, 3, 1>} : (tensor<1x2x4x4xf32>) -> tensor<1x4x4x2xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  %w = "tosa.const"() <{values = dense<0.5> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %wq = qat.fake_quant %w, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<f32>, tensor<i32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zf = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %xq, %wq, %b, %zf, %zf {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %rq = qat.fake_quant %r, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  %p = tosa.max_pool2d %rq {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  %t = tosa.transpose %p {perms = array<i32: 0, 3, 1, 2>} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %shape = tosa.const_shape {values = dense<8> : tensor<1xindex>} : () -> !tosa.shape<1>
  %f = tosa.reshape %t, %shape : (tensor<1x2x2x2xf32>, !tosa.shape<1>) -> tensor<8xf32>
  return %f : tensor<8xf32>
}

// -----

// The exporter's crop of an NCHW input (crops="slice"): the slice stays
// float on bpu and so does the entry transpose before it; each message
// says why.
func.func @entry_crop(%x: tensor<1x3x9x9xf32>) -> tensor<1x8x8x3xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  // expected-error @+1 {{'tosa.transpose' would compute on floats, and this target has no float arithmetic (float_fallback = false): its input is not quantized}}
  %t = tosa.transpose %x {perms = array<i32: 0, 2, 3, 1>} : (tensor<1x3x9x9xf32>) -> tensor<1x9x9x3xf32>
  %start = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 8, 8, 3]> : tensor<4xindex>} : () -> !tosa.shape<4>
  // expected-error @+1 {{its kind 'slice' is neither quantized (ops) nor agnostic (a crop the exporter writes for TOSA's divisibility rule of strided windows: qat_mlir.export(..., crops="taps") writes zero kernel taps instead)}}
  %c = tosa.slice %t, %start, %size : (tensor<1x9x9x3xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x8x8x3xf32>
  %q = qat.fake_quant %c, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x8x8x3xf32>, tensor<f32>, tensor<i32>
  // expected-error @+1 {{'tosa.reshape' would compute on floats, and this target has no float arithmetic (float_fallback = false): its input is not quantized (it is the result of 'tosa.slice')}}
  %r = tosa.reshape %c, %size : (tensor<1x8x8x3xf32>, !tosa.shape<4>) -> tensor<1x8x8x3xf32>
  return %q : tensor<1x8x8x3xf32>
}
