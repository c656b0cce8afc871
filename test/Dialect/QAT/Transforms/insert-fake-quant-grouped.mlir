// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=x86 | FileCheck %s
// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=x86 --qat-verify-target=target=x86 > /dev/null
// RUN: not qat-opt %s --split-input-file --qat-prepare=target=bpu 2>&1 | FileCheck %s --check-prefix=BPU
// RUN: qat-opt %s --split-input-file --qat-insert-fake-quant=target=x86 --remarks-filter=qat-insert-fake-quant 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// A grouped convolution as the exporter writes PyTorch's nn.Conv2d(4, 4, 1,
// groups=2) + ReLU (a tosa.slice, tosa.conv2d per group, tosa.concat on the
// channels, the clamp after it) is one kernel, quantized as PyTorch's eager
// QAT quantizes it: one quantizer on the input before the slices, the
// weights per output channel, one quantizer after the clamp; none between a
// group's convolution and the concat.

// CHECK-LABEL: func.func @grouped_relu
// CHECK: %[[XQ:.*]] = qat.fake_quant %arg0
// CHECK: tosa.slice %[[XQ]]
// CHECK: %[[C0:.*]] = tosa.conv2d
// CHECK: tosa.slice %[[XQ]]
// CHECK: %[[C1:.*]] = tosa.conv2d
// CHECK-NEXT: %[[CAT:.*]] = tosa.concat %[[C0]], %[[C1]] {axis = 3 : i32}
// CHECK-NEXT: %[[R:.*]] = tosa.clamp %[[CAT]]
// CHECK: %[[RQ:.*]] = qat.fake_quant %[[R]]
// CHECK: return %[[RQ]]
// bpu has no float slices: each group's slice is refused as what it is.
// BPU: error: target bpu: 'tosa.slice' would compute on floats, {{.*}} (the input of one group of a grouped convolution, 2 groups: this target runs a grouped convolution only as a depthwise one, groups = channels)
// REMARK: Remark="grouped convolution of 2 groups (tosa.slice, tosa.conv2d per group, tosa.concat) + tosa.clamp: one kernel, one quantizer on its input and one on its output
func.func @grouped_relu(%arg0: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %s0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s1 = tosa.const_shape {values = dense<[0, 0, 0, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %w0 = "tosa.const"() <{values = dense<[[[[-0.25, 0.375]]], [[[-0.5, -0.5]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %w1 = "tosa.const"() <{values = dense<[[[[-0.25, 0.125]]], [[[0.0625, 0.5]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.125, -0.25]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %x0 = tosa.slice %arg0, %s0, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c0 = tosa.conv2d %x0, %w0, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %x1 = tosa.slice %arg0, %s1, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c1 = tosa.conv2d %x1, %w1, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %cat = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %r = tosa.clamp %cat {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %r : tensor<1x2x2x4xf32>
}

// -----

// Without a ReLU the quantizer follows the concat. Groups whose inputs are
// not slices of one tensor in order (here swapped) are convolutions of
// their own, each quantized, the concat's operands on one shared grid.

// CHECK-LABEL: func.func @grouped_plain
// CHECK: %[[XQ:.*]] = qat.fake_quant %arg0
// CHECK: %[[C0:.*]] = tosa.conv2d
// CHECK: %[[C1:.*]] = tosa.conv2d
// CHECK-NEXT: %[[CAT:.*]] = tosa.concat %[[C0]], %[[C1]] {axis = 3 : i32}
// CHECK: %[[Q:.*]] = qat.fake_quant %[[CAT]]
// CHECK: return %[[Q]]
// CHECK-LABEL: func.func @swapped_slices
// CHECK: %[[C0:.*]] = tosa.conv2d
// CHECK: qat.fake_quant %[[C0]]
// CHECK: %[[C1:.*]] = tosa.conv2d
// CHECK: qat.fake_quant %[[C1]]
// CHECK: tosa.concat
// REMARK: Remark="grouped convolution of 2 groups (tosa.slice, tosa.conv2d per group, tosa.concat): one kernel, one quantizer on its input and one on its output
// REMARK-NOT: grouped convolution
func.func @grouped_plain(%arg0: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %s0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s1 = tosa.const_shape {values = dense<[0, 0, 0, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %w = "tosa.const"() <{values = dense<[[[[-0.25, 0.375]]], [[[-0.5, -0.5]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.125, -0.25]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %x0 = tosa.slice %arg0, %s0, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c0 = tosa.conv2d %x0, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %x1 = tosa.slice %arg0, %s1, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c1 = tosa.conv2d %x1, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %cat = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  return %cat : tensor<1x2x2x4xf32>
}

func.func @swapped_slices(%arg0: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %s0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s1 = tosa.const_shape {values = dense<[0, 0, 0, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %w = "tosa.const"() <{values = dense<[[[[-0.25, 0.375]]], [[[-0.5, -0.5]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[0.125, -0.25]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %x0 = tosa.slice %arg0, %s1, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c0 = tosa.conv2d %x0, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %x1 = tosa.slice %arg0, %s0, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c1 = tosa.conv2d %x1, %w, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %cat = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  return %cat : tensor<1x2x2x4xf32>
}
