// RUN: qat-opt %s --qat-insert-fake-quant=target=x86 | FileCheck %s --check-prefix=X86
// RUN: qat-opt %s --qat-insert-fake-quant=target=x86:reduce-range | FileCheck %s --check-prefix=REDUCE
// RUN: qat-opt %s --qat-insert-fake-quant=target=bpu:pow2 | FileCheck %s --check-prefix=BPU
// RUN: qat-opt %s --qat-insert-fake-quant=target=%S/Inputs/no_fusion_target.json | FileCheck %s --check-prefix=USER
// RUN: qat-opt %s --qat-insert-fake-quant=target=x86 --remarks-filter=qat-insert-fake-quant 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// conv + ReLU, residual add + ReLU, max pool, and a float op outside the
// contract (tosa.sin; tosa.exp would be a lookup table on x86,
// insert-fake-quant-tables.mlir).

// X86: module attributes {qat.target = "x86"}
// X86-COUNT-2: ml_program.global private mutable @act0_{{min|max}}
// X86-LABEL: func.func @block
// The input: one quantizer shared by the conv and the residual add.
// X86: qat.observer %arg0, {{.*}} {kind = #qat.observer<moving_average>}
// X86: %[[S:.*]], %[[Z:.*]] = qat.choose_qparams {{.*}} {quant_max = 255 : i64, quant_min = 0 : i64}
// X86: %[[XQ:.*]] = qat.fake_quant %arg0, %[[S]], %[[Z]] {quant_max = 255 : i64, quant_min = 0 : i64}
// Weights: s8 symmetric per output channel.
// X86: qat.observer %[[W:[^,]*]], {{.*}} {axis = 0 : i64}
// X86: qat.choose_qparams {{.*}} {qscheme = #qat.qscheme<symmetric>, quant_max = 127 : i64, quant_min = -128 : i64}
// X86: %[[WQ:.*]] = qat.fake_quant %[[W]], {{.*}} {axis = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64}
// conv + add + clamp is one kernel: no quantizer inside, one after.
// X86: %[[C:.*]] = tosa.conv2d %[[XQ]], %[[WQ]]
// X86-NEXT: %[[A:.*]] = tosa.add %[[C]], %[[XQ]]
// X86-NEXT: %[[R:.*]] = tosa.clamp %[[A]]
// X86: %[[RQ:.*]] = qat.fake_quant %[[R]]
// Max pool shares its input's parameters; sin stays float.
// X86: %[[P:.*]] = tosa.max_pool2d %[[RQ]]
// X86-NEXT: %[[E:.*]] = tosa.sin %[[P]]
// X86-NEXT: return %[[E]]

// REDUCE: qat.choose_qparams {{.*}} {quant_max = 255 : i64, quant_min = 0 : i64, reduce_range = true}
// REDUCE: qat.fake_quant %arg0, {{.*}} {quant_max = 127 : i64, quant_min = 0 : i64}

// BPU: module attributes {qat.target = "bpu:pow2"}
// BPU: qat.choose_qparams {{.*}} {power_of_two = true, qscheme = #qat.qscheme<symmetric>, quant_max = 127 : i64, quant_min = -128 : i64}
// BPU: qat.fake_quant %arg0, {{.*}} {quant_max = 127 : i64, quant_min = -128 : i64}
// Weights per tensor.
// BPU: qat.observer {{.*}} : tensor<2x1x1x2xf32>, tensor<f32>
// BPU: qat.fake_quant {{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<2x1x1x2xf32>, tensor<f32>, tensor<i32>
// BPU-NOT: qat.fake_quant %{{.*}} {axis

// The user target fuses nothing: quantizers after the conv, the add (with
// one scale for both inputs) and the clamp; 4-bit narrow weights.
// USER: module attributes {qat.target = "no-fusion"}
// USER: qat.fake_quant %arg0, {{.*}} {quant_max = 127 : i64, quant_min = -128 : i64}
// USER: qat.fake_quant {{.*}} {axis = 0 : i64, quant_max = 7 : i64, quant_min = -7 : i64}
// USER: %[[C:.*]] = tosa.conv2d
// USER: %[[CQ:.*]] = qat.fake_quant %[[C]]
// USER: %[[LO:.*]] = arith.minimumf
// USER: %[[HI:.*]] = arith.maximumf
// USER: %[[S:.*]], %[[Z:.*]] = qat.choose_qparams %[[LO]], %[[HI]]
// USER: %[[A0:.*]] = qat.fake_quant %[[CQ]], %[[S]], %[[Z]]
// USER: %[[A1:.*]] = qat.fake_quant %{{.*}}, %[[S]], %[[Z]]
// USER: tosa.add %[[A0]], %[[A1]]
// USER: tosa.clamp
// USER: qat.fake_quant

// REMARK-DAG: [Passed] Fused | Category:qat-insert-fake-quant | Remark="fused group: tosa.conv2d tosa.add tosa.clamp (no fake quantizer inside)"
// REMARK-DAG: [Passed] ActivationQuantizer | Category:qat-insert-fake-quant | Remark="activation quantizer on argument #0 of @block: input of 'tosa.conv2d'"
// REMARK-DAG: [Passed] WeightQuantizer | Category:qat-insert-fake-quant | Remark="weight quantizer on operand of 'tosa.conv2d': s8 symmetric per channel (axis 0)"
// REMARK-DAG: [Passed] ActivationQuantizer | Category:qat-insert-fake-quant | Remark="activation quantizer on result #0 of 'tosa.clamp': output of 'tosa.clamp'"
// REMARK-DAG: [Passed] Agnostic | Category:qat-insert-fake-quant | Remark="'tosa.max_pool2d' is quantization-agnostic: its output shares its input's parameters"
// REMARK-DAG: [Missed] LeftFloat | Category:qat-insert-fake-quant | Remark="'tosa.sin' is outside the input contract: left float"
func.func @block(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.1, 0.2]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %a = tosa.add %c, %x : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %p = tosa.max_pool2d %r {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  %e = tosa.sin %p : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %e : tensor<1x2x2x2xf32>
}

// concat: both inputs share one scale and zero point (one observer state
// each, one choose_qparams on the union); its output is on that grid.
// X86-LABEL: func.func @cat
// X86: %[[LO:.*]] = arith.minimumf
// X86: %[[HI:.*]] = arith.maximumf
// X86: %[[S:.*]], %[[Z:.*]] = qat.choose_qparams %[[LO]], %[[HI]]
// X86: %[[A:.*]] = qat.fake_quant %arg0, %[[S]], %[[Z]]
// X86: %[[B:.*]] = qat.fake_quant %arg1, %[[S]], %[[Z]]
// X86: %[[C:.*]] = tosa.concat %[[A]], %[[B]]
// X86-NEXT: return %[[C]]
func.func @cat(%a: tensor<1x2xf32>, %b: tensor<1x2xf32>) -> tensor<2x2xf32> {
  %c = tosa.concat %a, %b {axis = 0 : i32} : (tensor<1x2xf32>, tensor<1x2xf32>) -> tensor<2x2xf32>
  return %c : tensor<2x2xf32>
}

// quantize_output = false (the user target's avg_pool2d): input quantized,
// output left float.
// USER-LABEL: func.func @pool
// USER: %[[XQ:.*]] = qat.fake_quant %arg0
// USER: %[[P:.*]] = tosa.avg_pool2d %[[XQ]]
// USER-NEXT: return %[[P]]
func.func @pool(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> {
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %p = tosa.avg_pool2d %x, %zp, %zp {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  return %p : tensor<1x2x2x2xf32>
}

// A slice (a strided 1x1 downsample's input trimmed to an odd size) shares
// its input's parameters on x86: the convolution reads it without a
// quantizer of its own. The bpu target has no slice (the NPU has no such
// op): there it stays float, and the convolution quantizes its result.
// X86-LABEL: func.func @downsample
// X86: %[[C0:.*]] = tosa.conv2d
// X86: %[[CQ:.*]] = qat.fake_quant %[[C0]]
// X86: %[[S:.*]] = tosa.slice %[[CQ]]
// X86-NOT: qat.fake_quant %[[S]]
// X86: tosa.conv2d %[[S]], %{{.*}} {acc_type = f32
// REMARK-DAG: [Passed] Agnostic | Category:qat-insert-fake-quant | Remark="'tosa.slice' is quantization-agnostic: its output shares its input's parameters"
// BPU-LABEL: func.func @downsample
// BPU: %[[S:.*]] = tosa.slice
// BPU: qat.fake_quant %[[S]]
func.func @downsample(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = "tosa.const"() <{values = dense<[[[[0.5, -0.25]]], [[[1.0, 0.75]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.1, 0.2]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %c0 = tosa.conv2d %x, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  %start = tosa.const_shape {values = dense<0> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 3, 3, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s = tosa.slice %c0, %start, %size : (tensor<1x4x4x2xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x3x3x2xf32>
  %c = tosa.conv2d %s, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x3x3x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  return %c : tensor<1x2x2x2xf32>
}
