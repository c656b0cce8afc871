// RUN: qat-opt %s --split-input-file --verify-diagnostics --qat-verify-target=target=x86
// RUN: not qat-opt %s --qat-verify-target=target=nowhere 2>&1 | FileCheck %s --check-prefix=BADTARGET
// RUN: not qat-opt %s --qat-verify-target=target=x86:fast 2>&1 | FileCheck %s --check-prefix=BADMOD
// RUN: not qat-opt %s --qat-verify-target=target=%S/Inputs/bad_target.json 2>&1 | FileCheck %s --check-prefix=BADFILE
// RUN: not qat-opt %s --qat-prepare=target=%S/Inputs/eps_overflow_target.json 2>&1 | FileCheck %s --check-prefix=EPS
// RUN: %python -c "open('%t.deep.json', 'w').write('[' * 50000 + ']' * 50000)"
// RUN: not qat-opt %s --qat-verify-target=target=%t.deep.json 2>&1 | FileCheck %s --check-prefix=DEEP

// BADTARGET: error: qat-verify-target: unknown target 'nowhere' (built-in targets: x86, bpu; a target file must end in .json)
// BADMOD: error: qat-verify-target: target x86:fast: unknown target modifier 'fast'
// BADFILE: error: qat-verify-target: target {{.*}}bad_target.json: 'activation.dtype': expected s<bits> or u<bits> with 2 <= bits <= 16 (e.g. "u8"), got "i8"
// eps 1e39 is no f32: an error on the target file, not (as inf) on the model's
// choose_qparams.
// EPS: error: qat-insert-fake-quant: target {{.*}}eps_overflow_target.json: 'activation.eps': expected a finite f32 number (magnitude at most 3.40282347e+38), got 1e+39
// Crash class 4: 50,000 levels of nesting overflowed the JSON parser's stack.
// DEEP: error: qat-verify-target: target {{.*}}deep.json: invalid JSON: nested 65 levels deep; a target description nests at most 64

// A frozen x86 conv + ReLU kernel that respects the target.
func.func @ok(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x2xf32>
}

// -----

// Every rule broken once.
func.func @bad(%x: tensor<1x2x2x2xf32>, %y: tensor<1x2x2x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x4x2x2xf32>) {
  %s = arith.constant dense<0.5> : tensor<f32>
  %s2 = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %ws = arith.constant dense<0.25> : tensor<f32>
  %wz = arith.constant dense<1> : tensor<i32>
  %ws2 = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz2 = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  // expected-error @below {{target x86: the activation quantizer of 'tosa.conv2d' must have range [0, 255] (u8), found [-128, 127]}}
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  // expected-error @below {{target x86: the weight quantizer of 'tosa.conv2d' must be per channel on axis 0, found per tensor}}
  // expected-error @below {{target x86: the weight quantizer of 'tosa.conv2d' must be symmetric (zero point 0)}}
  %wq = qat.fake_quant %w, %ws, %wz {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<f32>, tensor<i32>
  %wq2 = qat.fake_quant %w, %ws2, %wz2 {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  // expected-error @below {{target x86: the result of 'tosa.conv2d' (the end of a kernel) must be quantized before its use by 'tosa.max_pool2d'}}
  %c = tosa.conv2d %xq, %wq, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %p = tosa.max_pool2d %c {kernel = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %xq2 = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %c2 = tosa.conv2d %xq2, %wq2, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  // expected-error @below {{target x86: qat.fake_quant between 'tosa.conv2d' and 'tosa.clamp' splits a fused kernel (conv2d + clamp)}}
  %inner = qat.fake_quant %c2, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %r = tosa.clamp %inner {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  // expected-error @below {{target x86: operand #1 (activation) of 'tosa.add' must be quantized (a qat.fake_quant result)}}
  %a = tosa.add %rq, %y : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %aq = qat.fake_quant %a, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %yq1 = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %yq2 = qat.fake_quant %y, %s2, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  // expected-error @below {{target x86: the activation operands of 'tosa.concat' must share one scale and zero point (operand #1 differs)}}
  %cat = tosa.concat %yq1, %yq2 {axis = 1 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x4x2x2xf32>
  return %p, %aq, %rq, %cat : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>, tensor<1x4x2x2xf32>
}

// -----

// PyTorch's placement in a residual block: the conv's output is quantized,
// then added to a quantized residual (not a conv) in a quantized add. On
// x86 these are two kernels (conv2d; add + clamp), not a split one.
func.func @conv_quantized_then_add(%x: tensor<1x2x2x2xf32>, %res: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> attributes {qat.target = "x86"} {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %cq = qat.fake_quant %c, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %rq = qat.fake_quant %res, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %a = tosa.add %cq, %rq : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %aq = qat.fake_quant %r, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %aq : tensor<1x2x2x2xf32>
}

// -----

// A grouped convolution (tosa.slice, tosa.conv2d per group, tosa.concat) is
// one kernel: its groups feed the concat unquantized, and its result must be
// quantized before a use that is not a fused clamp.
func.func @grouped_unquantized_output(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %s0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s1 = tosa.const_shape {values = dense<[0, 0, 0, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x4xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %x0 = tosa.slice %xq, %s0, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c0 = tosa.conv2d %x0, %wq, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %x1 = tosa.slice %xq, %s1, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c1 = tosa.conv2d %x1, %wq, %b, %b, %b {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  // expected-error @below {{target x86: the result of the grouped convolution 'tosa.concat' (the end of a kernel) must be quantized before its use by 'tosa.max_pool2d'}}
  %cat = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %p = tosa.max_pool2d %cat {kernel = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %pq = qat.fake_quant %p, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x4xf32>, tensor<f32>, tensor<i32>
  return %pq : tensor<1x2x2x4xf32>
}
