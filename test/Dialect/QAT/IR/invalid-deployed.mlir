// RUN: qat-opt %s -split-input-file -verify-diagnostics
// One case per verifier message of qat.quantize_bias and of the backward ops
// of the integer domain (QATDeployedOps.td).

func.func @bias_rank(%b: tensor<2x3xf32>, %s: tensor<f32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{requires a rank-1 'bias' (one entry per output channel), got 'tensor<2x3xf32>'}}
  %q = qat.quantize_bias %b, %s, %s : tensor<2x3xf32>, tensor<f32>, tensor<f32> -> tensor<2x3xf32>
  return %q : tensor<2x3xf32>
}

// -----

func.func @bias_input_scale_rank(%b: tensor<3xf32>, %s: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{requires 'input_scale' to be a rank-0 tensor for per-tensor quantization (no axis), got 'tensor<3xf32>'}}
  %q = qat.quantize_bias %b, %s, %s : tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
  return %q : tensor<3xf32>
}

// -----

func.func @bias_weight_scale_length(%b: tensor<3xf32>, %s: tensor<f32>, %w: tensor<4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{requires 'weight_scale' to have one element per index of dimension 0 of the input (3), got 4}}
  %q = qat.quantize_bias %b, %s, %w : tensor<3xf32>, tensor<f32>, tensor<4xf32> -> tensor<3xf32>
  return %q : tensor<3xf32>
}

// -----

func.func @bias_constant_scale(%b: tensor<3xf32>, %w: tensor<3xf32>) -> tensor<3xf32> {
  %s = arith.constant dense<0.0> : tensor<f32>
  // expected-error @+1 {{requires a positive finite scale, got 0.000000e+00 at index 0}}
  %q = qat.quantize_bias %b, %s, %w : tensor<3xf32>, tensor<f32>, tensor<3xf32> -> tensor<3xf32>
  return %q : tensor<3xf32>
}

// -----

func.func @bias_grad_rank(%db: tensor<2x3xf32>, %b: tensor<2x3xf32>, %s: tensor<f32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{requires a rank-1 'bias'}}
  %g0, %g1, %g2 = qat.quantize_bias_grad %db, %b, %s, %s : tensor<2x3xf32>, tensor<2x3xf32>, tensor<f32>, tensor<f32>
  return %g0 : tensor<2x3xf32>
}

// -----

func.func @quantize_grad_range(%dy: tensor<4xf32>, %x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min < quant_max, got quant_min = 5 and quant_max = 5}}
  %dx, %ds = qat.quantize_grad %dy, %x, %s, %z {quant_min = 5 : i64, quant_max = 5 : i64} : tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>
  return %dx : tensor<4xf32>
}

// -----

func.func @quantize_grad_zero_point(%dy: tensor<4xf32>, %x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xf32> {
  %z = arith.constant dense<300> : tensor<i32>
  // expected-error @+1 {{requires the zero point within [quant_min, quant_max] = [-128, 127], got 300 at index 0}}
  %dx, %ds = qat.quantize_grad %dy, %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>
  return %dx : tensor<4xf32>
}

// -----

func.func @quantize_grad_shape(%dy: tensor<5xf32>, %x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<5xf32> {
  // expected-error @+1 {{failed to verify that all of {grad_output, input} have same shape}}
  %dx, %ds = qat.quantize_grad %dy, %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<5xf32>, tensor<4xf32>, tensor<f32>, tensor<i32>
  return %dx : tensor<5xf32>
}

// -----

func.func @dequantize_grad_axis(%dy: tensor<4x3xf32>, %q: tensor<4x3xi8>, %s: tensor<3xf32>, %z: tensor<3xi32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{axis 2 is out of range for an input of rank 2}}
  %dq, %ds = qat.dequantize_grad %dy, %q, %s, %z {axis = 2 : i64} : tensor<4x3xf32>, tensor<4x3xi8>, tensor<3xf32>, tensor<3xi32>
  return %dq : tensor<4x3xf32>
}

// -----

func.func @dequantize_grad_scale(%dy: tensor<4xf32>, %q: tensor<4xi8>, %z: tensor<i32>) -> tensor<4xf32> {
  %s = arith.constant dense<-1.0> : tensor<f32>
  // expected-error @+1 {{requires a positive finite scale, got -1.000000e+00 at index 0}}
  %dq, %ds = qat.dequantize_grad %dy, %q, %s, %z : tensor<4xf32>, tensor<4xi8>, tensor<f32>, tensor<i32>
  return %dq : tensor<4xf32>
}

// -----

func.func @requantize_grad_range(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min and quant_max within [-8388608, 8388608] so codes are exact in f32, got [-128, 9000000]}}
  %da, %dm = qat.requantize_grad %dy, %a, %m, %z {quant_min = -128 : i64, quant_max = 9000000 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>
  return %da : tensor<4xf32>
}

// -----

func.func @requantize_grad_params(%dy: tensor<4x3xf32>, %a: tensor<4x3xi32>, %m: tensor<3xf32>, %z: tensor<i32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{requires 'zero_point' to be a rank-1 tensor for per-axis quantization (axis = 1), got 'tensor<i32>'}}
  %da, %dm = qat.requantize_grad %dy, %a, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xf32>, tensor<i32>
  return %da : tensor<4x3xf32>
}

// -----

func.func @requantize_grad_multiplier(%dy: tensor<4xf32>, %a: tensor<4xi32>, %z: tensor<i32>) -> tensor<4xf32> {
  %m = arith.constant dense<0x7F800000> : tensor<f32>
  // expected-error @+1 {{requires a positive finite scale, got INF at index 0}}
  %da, %dm = qat.requantize_grad %dy, %a, %m, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>
  return %da : tensor<4xf32>
}

// -----

func.func @requantize_add_grad_range(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min < quant_max, got quant_min = 1 and quant_max = 0}}
  %g0, %g1, %g2, %g3 = qat.requantize_add_grad %dy, %a, %m, %z, %a, %m, %z, %z {quant_min = 1 : i64, quant_max = 0 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @requantize_add_grad_params(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>, %zz: tensor<1xi32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires 'rhs_zero_point' to be a rank-0 tensor for per-tensor quantization (no axis), got 'tensor<1xi32>'}}
  %g0, %g1, %g2, %g3 = qat.requantize_add_grad %dy, %a, %m, %z, %a, %m, %zz, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<f32>, tensor<1xi32>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @requantize_add_grad_multiplier(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %bad = arith.constant dense<0.0> : tensor<f32>
  // expected-error @+1 {{requires a positive finite scale, got 0.000000e+00 at index 0}}
  %g0, %g1, %g2, %g3 = qat.requantize_add_grad %dy, %a, %m, %z, %a, %bad, %z, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @rescale_grad_shift(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<i32>, %z: tensor<i32>) -> tensor<4xf32> {
  %n = arith.constant dense<63> : tensor<i8>
  // expected-error @+1 {{requires shifts in [2, 62], got 63}}
  %da = qat.rescale_grad %dy, %a, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %da : tensor<4xf32>
}

// -----

func.func @rescale_grad_range(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<i32>, %n: tensor<i8>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min < quant_max, got quant_min = 3 and quant_max = 2}}
  %da = qat.rescale_grad %dy, %a, %m, %n, %z {quant_min = 3 : i64, quant_max = 2 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %da : tensor<4xf32>
}

// -----

func.func @rescale_grad_params(%dy: tensor<4x3xf32>, %a: tensor<4x3xi32>, %m: tensor<3xi32>, %n: tensor<2xi8>, %z: tensor<3xi32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{requires 'shift' to have one element per index of dimension 1 of the input (3), got 2}}
  %da = qat.rescale_grad %dy, %a, %m, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64, axis = 1 : i64} : tensor<4x3xf32>, tensor<4x3xi32>, tensor<3xi32>, tensor<2xi8>, tensor<3xi32>
  return %da : tensor<4x3xf32>
}

// -----

func.func @rescale_add_grad_shift(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<i32>, %z: tensor<i32>) -> tensor<4xf32> {
  %n = arith.constant dense<1> : tensor<i8>
  // expected-error @+1 {{requires shifts in [2, 62], got 1}}
  %g0, %g1 = qat.rescale_add_grad %dy, %a, %m, %z, %a, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<i32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @rescale_add_grad_range(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<i32>, %n: tensor<i8>, %z: tensor<i32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires quant_min < quant_max, got quant_min = 0 and quant_max = 0}}
  %g0, %g1 = qat.rescale_add_grad %dy, %a, %m, %z, %a, %m, %z, %n, %z {quant_min = 0 : i64, quant_max = 0 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<i32>, tensor<i32>, tensor<4xi32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @rescale_add_grad_params(%dy: tensor<4xf32>, %a: tensor<4xi32>, %m: tensor<i32>, %n: tensor<i8>, %z: tensor<i32>, %zz: tensor<2xi32>) -> tensor<4xf32> {
  // expected-error @+1 {{requires 'lhs_zero_point' to be a rank-0 tensor for per-tensor quantization (no axis), got 'tensor<2xi32>'}}
  %g0, %g1 = qat.rescale_add_grad %dy, %a, %m, %zz, %a, %m, %z, %n, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4xf32>, tensor<4xi32>, tensor<i32>, tensor<2xi32>, tensor<4xi32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32>
  return %g0 : tensor<4xf32>
}

// -----

func.func @exact_accumulator_shapes(%r: tensor<2x4xf32>, %e: tensor<2x3xi32>) -> tensor<2x3xi32> {
  // expected-error @+1 {{all of {relaxed, exact, output} have same shape}}
  %a = qat.exact_accumulator %r, %e : tensor<2x4xf32>, tensor<2x3xi32>
  return %a : tensor<2x3xi32>
}
