// RUN: qat-opt %s --split-input-file --qat-convert-to-integer=target=x86 | FileCheck %s --check-prefix=X86
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer=target=bpu | FileCheck %s --check-prefix=BPU
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer=target=x86 --remarks-filter=qat-convert-to-integer 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer=target=x86:pytorch-onednn | FileCheck %s --check-prefix=ONEDNN
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer="target=x86:pytorch-onednn simulate=true" | FileCheck %s --check-prefix=SIMONEDNN
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer=target=x86:pytorch-qnnpack | FileCheck %s --check-prefix=QNNPACK
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer="target=x86:pytorch-qnnpack simulate=true" | FileCheck %s --check-prefix=SIMQNNPACK

// conv2d + ReLU between u8 activation quantizers (x86: shifted into i8 by
// -128; scale 0.5, zero point 10 -> -118) with s8 per-channel weights.
// bias: roundeven(b / (s_in * s_w)) = [1.0 / (0.5 * 0.25), -0.5 / (0.5 * 0.125)] = [8, -8].
// multiplier: (s_in * s_w) / s_out = [0.125, 0.0625].
// X86-LABEL: func.func @conv_relu
// X86: %[[Q:.*]] = qat.quantize %arg0, {{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32> -> tensor<1x2x2x2xi8>
// X86-DAG: %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}2, -4]]], {{\[\[\[}}8, 0]]]]> : tensor<2x1x1x2xi8>
// X86-DAG: %[[B:.*]] = arith.constant dense<[8, -8]> : tensor<2xi32>
// X86-DAG: %[[M:.*]] = arith.constant dense<[1.250000e-01, 6.250000e-02]> : tensor<2xf32>
// The ReLU is the clamp at the output zero point (0 - 128).
// X86: %[[R:.*]] = qat.integer_kernel <conv2d> %[[Q]], %[[W]], %[[B]], %[[M]] {dilation = array<i64: 1, 1>, input_zero_point = -118 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xf32>) -> tensor<1x2x2x2xi8>
// X86: %[[D:.*]] = qat.dequantize %[[R]]
// X86-NOT: tosa.clamp
// X86-NOT: qat.fake_quant
// X86: return %[[D]]

// x86:pytorch-onednn: as ideep computes PyTorch's scales, src = 1 / 0.5 = 2,
// wei = [4, 8], bias_scale = src * wei = [8, 16], multiplier = (1 / 1) /
// bias_scale = [0.125, 0.0625], float bias = b * bias_scale = [8, -8]; int32
// bias 0; the u8 output zero point (0) added in f32 before rounding: the
// offset 128 to the i8 codes.
// ONEDNN-LABEL: func.func @conv_relu
// ONEDNN-DAG: %[[B:.*]] = arith.constant dense<0> : tensor<2xi32>
// ONEDNN-DAG: %[[M:.*]] = arith.constant dense<[1.250000e-01, 6.250000e-02]> : tensor<2xf32>
// ONEDNN-DAG: %[[FB:.*]] = arith.constant dense<[8.000000e+00, -8.000000e+00]> : tensor<2xf32>
// ONEDNN: qat.integer_kernel <conv2d> %{{.*}}, %{{.*}}, %[[B]], %[[M]] float_bias %[[FB]] {dilation = array<i64: 1, 1>, float_zero_point_offset = 128 : i64, input_zero_point = -118 : i64, output_zero_point = -128 : i64, {{.*}}quant_min = -128 : i64
// ONEDNN-SAME: (tensor<1x2x2x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xi8>

// bpu: fixed point with qat.rescale (0.125 = 2^30 * 2^-33, 0.0625 = 2^30 * 2^-34).
// BPU-LABEL: func.func @conv_relu
// BPU-DAG: arith.constant dense<1073741824> : tensor<2xi32>
// BPU-DAG: arith.constant dense<[33, 34]> : tensor<2xi8>
// BPU: qat.integer_kernel <conv2d> {{.*}} shift {{.*}} : (tensor<1x2x2x2xi8>, tensor<2x1x1x2xi8>, tensor<2xi32>, tensor<2xi32>, tensor<2xi8>) -> tensor<1x2x2x2xi8>
func.func @conv_relu(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -1.0]]], [[[1.0, 0.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[1.0, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x2xf32>
}

// -----

// ReLU6 on signed codes: the code of 6.0 is roundeven(6 / 0.25) + 0 = 24.
// Depthwise conv, slice, max pool and reshape run on codes.
// X86-LABEL: func.func @depthwise_relu6_pool
// X86: %[[R:.*]] = qat.integer_kernel <depthwise_conv2d> {{.*}} quant_max = 24 : i64, quant_min = 0 : i64
// X86: %[[L:.*]] = tosa.slice %[[R]], {{.*}} -> tensor<1x2x2x1xi8>
// X86: %[[P:.*]] = tosa.max_pool2d %[[L]] {{.*}} -> tensor<1x1x1x1xi8>
// X86: %[[S:.*]] = tosa.reshape %[[P]], {{.*}} -> tensor<1x1xi8>
// X86: qat.dequantize %[[S]]
func.func @depthwise_relu6_pool(%x: tensor<1x2x2x2xf32>) -> tensor<1x1xf32> {
  %s = arith.constant dense<0.25> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %w = "tosa.const"() <{values = dense<[[[[1.0], [0.5]]]]> : tensor<1x1x2x1xf32>}> : () -> tensor<1x1x2x1xf32>
  %b = "tosa.const"() <{values = dense<0.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x1x2x1xf32>, tensor<f32>, tensor<i32>
  %c = tosa.depthwise_conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<1x1x2x1xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %c {max_val = 6.0 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %start = tosa.const_shape {values = dense<0> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %l = tosa.slice %rq, %start, %size : (tensor<1x2x2x2xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x1xf32>
  %p = tosa.max_pool2d %l {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x2x2x1xf32>) -> tensor<1x1x1x1xf32>
  %shape = tosa.const_shape {values = dense<[1, 1]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %f = tosa.reshape %p, %shape : (tensor<1x1x1x1xf32>, !tosa.shape<2>) -> tensor<1x1xf32>
  return %f : tensor<1x1xf32>
}

// -----

// A fully connected layer: matmul, reshape, bias add; per-channel weights on
// axis 2. The bias add becomes an int32 add before the requantization.
// X86-LABEL: func.func @linear
// The reshape of the accumulator is the kernel's result shape; the bias
// add's constant is its bias.
// X86: %[[B:.*]] = arith.constant dense<[4, 1, -2]> : tensor<3xi32>
// X86: qat.integer_kernel <matmul> %{{.*}}, %{{.*}}, %[[B]], {{.*}} : (tensor<1x2x2xi8>, tensor<1x2x3xi8>, tensor<3xi32>, tensor<3xf32>) -> tensor<2x3xi8>
func.func @linear(%x: tensor<1x2x2xf32>) -> tensor<2x3xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.5, 1.0]> : tensor<3xf32>
  %wz = arith.constant dense<0> : tensor<3xi32>
  %w = "tosa.const"() <{values = dense<[[[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]]> : tensor<1x2x3xf32>}> : () -> tensor<1x2x3xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %bias = "tosa.const"() <{values = dense<[[0.5, 0.25, -1.0]]> : tensor<1x3xf32>}> : () -> tensor<1x3xf32>
  %shape = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 2 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x3xf32>, tensor<3xf32>, tensor<3xi32>
  %m = tosa.matmul %xq, %wq, %zp, %zp : (tensor<1x2x2xf32>, tensor<1x2x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
  %r = tosa.reshape %m, %shape : (tensor<1x2x3xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
  %y = tosa.add %r, %bias : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
  %yq = qat.fake_quant %y, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<2x3xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<2x3xf32>
}

// -----

// An add of two quantized values is rescaled in integers (x86: a float
// multiplier per input, s_in / s_out = 1; bpu: one shift); an op outside
// the contract stays float on the dequantized codes.
// X86-LABEL: func.func @left_float
// X86: %[[Q:.*]] = qat.quantize %arg0
// X86: %[[A:.*]] = qat.requantize_add %[[Q]], %{{.*}}, %{{.*}}, %[[Q]], {{.*}} -> tensor<4xi8>
// X86: %[[AD:.*]] = qat.dequantize %[[A]]
// X86: tosa.exp %[[AD]]
// BPU-LABEL: func.func @left_float
// BPU: qat.rescale_add {{.*}} : tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<4xi8>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4xi8>
// REMARK-DAG: remark: [Passed] Kernel | Category:qat-convert-to-integer | Remark="'tosa.conv2d' converted to integer (2 fused op(s), float_multiplier)"
// REMARK-DAG: remark: [Passed] Kernel | Category:qat-convert-to-integer | Remark="'tosa.matmul' converted to integer (3 fused op(s), float_multiplier)"
// REMARK-DAG: remark: [Passed] Add | Category:qat-convert-to-integer | Remark="'tosa.add' of two quantized values converted to integer (float_multiplier)"
// REMARK-DAG: remark: [Missed] LeftFloat | Category:qat-convert-to-integer | Remark="'tosa.exp' left float: it runs on dequantized codes"
func.func @left_float(%x: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %a = tosa.add %xq, %xq : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %aq = qat.fake_quant %a, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %e = tosa.exp %aq : (tensor<4xf32>) -> tensor<4xf32>
  return %e : tensor<4xf32>
}

// -----

// simulate=true: the same model on integer-valued f32 codes.
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer="target=x86 simulate=true" | FileCheck %s --check-prefix=SIMX86
// RUN: qat-opt %s --split-input-file --qat-convert-to-integer="target=bpu simulate=true" | FileCheck %s --check-prefix=SIMBPU
// SIMX86-LABEL: func.func @sim
// SIMX86: %[[Q:.*]] = qat.quantize %arg0, {{.*}} -> tensor<1x2x2x2xf32>
// SIMX86-DAG: %[[W:.*]] = "tosa.const"() <{values = dense<{{\[\[\[\[}}2.000000e+00, -4.000000e+00]]], {{\[\[\[}}8.000000e+00, 0.000000e+00]]]]> : tensor<2x1x1x2xf32>}>
// SIMX86-DAG: %[[B:.*]] = "tosa.const"() <{values = dense<[8.000000e+00, -8.000000e+00]> : tensor<2xf32>}>
// SIMX86-DAG: %[[ZP:.*]] = "tosa.const"() <{values = dense<-1.180000e+02> : tensor<1x1x1x1xf32>}>
// SIMX86: %[[C:.*]] = tosa.sub %[[Q]], %[[ZP]]
// SIMX86: %[[ACC:.*]] = tosa.conv2d %[[C]], %[[W]], %[[B]], {{.*}} {acc_type = f32
// SIMX86: qat.requantize %[[ACC]], {{.*}} -> tensor<1x2x2x2xf32>
// The onednn form: the float bias and the offset on qat.requantize (a
// signed output: offset 0).
// SIMONEDNN-LABEL: func.func @sim
// SIMONEDNN: %[[B0:.*]] = "tosa.const"() <{values = dense<0.000000e+00> : tensor<2xf32>}>
// SIMONEDNN: %[[ACC:.*]] = tosa.conv2d %{{.*}}, %{{.*}}, %[[B0]]
// SIMONEDNN: %[[FB:.*]] = arith.constant dense<[8.000000e+00, -8.000000e+00]> : tensor<2xf32>
// SIMONEDNN: qat.requantize %[[ACC]], %{{.*}}, %{{.*}} bias %[[FB]] {axis = 3 : i64, float_zero_point_offset = 0 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xi32>, tensor<2xf32> -> tensor<1x2x2x2xf32>
// SIMBPU-LABEL: func.func @sim
// SIMBPU: qat.rescale {{.*}} {axis = 3 : i64, quant_max = 127 : i64, quant_min = -128 : i64} : tensor<1x2x2x2xf32>, tensor<2xi32>, tensor<2xi8>, tensor<2xi32> -> tensor<1x2x2x2xf32>
func.func @sim(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -1.0]]], [[[1.0, 0.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[1.0, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %c, %so, %zo {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x2xf32>
}

// -----

// avg_pool2d: the window sum of (q - zp_in) in int32 as a depthwise
// convolution with unit weights and the input zero point (-118), then
// requantized by s_in / (kh * kw * s_out) = 0.5 / (4 * 0.25) = 0.5 (bpu:
// 2^30 * 2^-31). A padded pool stays float with a remark.
// X86-LABEL: func.func @avg_pool
// X86: %[[Q:.*]] = qat.quantize %arg0
// X86-DAG: %[[W:.*]] = arith.constant dense<1> : tensor<2x2x2x1xi8>
// X86-DAG: %[[B:.*]] = arith.constant dense<0> : tensor<2xi32>
// X86-DAG: %[[M:.*]] = arith.constant dense<5.000000e-01> : tensor<f32>
// X86: %[[R:.*]] = qat.integer_kernel <depthwise_conv2d> %[[Q]], %[[W]], %[[B]], %[[M]] {dilation = array<i64: 1, 1>, input_zero_point = -118 : i64, output_zero_point = -128 : i64, pad = array<i64: 0, 0, 0, 0>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 2, 2>} : {{.*}} -> tensor<1x2x2x2xi8>
// X86: %[[D:.*]] = qat.dequantize %[[R]]
// X86: tosa.avg_pool2d %[[D]]
// X86-NOT: tosa.avg_pool2d
// BPU-LABEL: func.func @avg_pool
// BPU-DAG: arith.constant dense<1073741824> : tensor<i32>
// BPU-DAG: arith.constant dense<31> : tensor<i8>
// BPU: qat.integer_kernel <depthwise_conv2d> {{.*}} shift {{.*}} -> tensor<1x2x2x2xi8>
// SIMX86-LABEL: func.func @avg_pool
// SIMX86: %[[Q:.*]] = qat.quantize %arg0
// SIMX86-DAG: %[[W:.*]] = "tosa.const"() <{values = dense<1.000000e+00> : tensor<2x2x2x1xf32>}>
// SIMX86-DAG: %[[ZP:.*]] = "tosa.const"() <{values = dense<-1.180000e+02> : tensor<1x1x1x1xf32>}>
// SIMX86: %[[C:.*]] = tosa.sub %[[Q]], %[[ZP]]
// SIMX86: tosa.depthwise_conv2d %[[C]], %[[W]], {{.*}} {acc_type = f32
// SIMBPU-LABEL: func.func @avg_pool
// SIMBPU: qat.rescale {{.*}} -> tensor<1x2x2x2xf32>
// REMARK-DAG: remark: [Passed] AvgPool | Category:qat-convert-to-integer | Remark="'tosa.avg_pool2d' converted to integer (window sum of 4, float_multiplier)"
// REMARK-DAG: remark: [Missed] LeftFloat | Category:qat-convert-to-integer | Remark="'tosa.avg_pool2d' left float: it is padded (border windows would divide by fewer elements, which needs a multiplier per position)"
func.func @avg_pool(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<0.25> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x4x4x2xf32>, tensor<f32>, tensor<i32>
  %p = tosa.avg_pool2d %xq, %zp, %zp {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<1x4x4x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %pq = qat.fake_quant %p, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %p2 = tosa.avg_pool2d %pq, %zp, %zp {acc_type = f32, kernel = array<i64: 3, 3>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %p2q = qat.fake_quant %p2, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %pq, %p2q : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}

// -----

// Crash class 1: two quantized functions. The state of the first (codes of
// values that its conversion erased) was read while converting the second
// (use after free); each function has its own state now, and both convert.
// X86-LABEL: func.func @first
// X86: qat.integer_kernel <conv2d>
// X86-NOT: qat.fake_quant
// X86-LABEL: func.func @second
// X86: qat.integer_kernel <conv2d>
// X86-NOT: qat.fake_quant
func.func @first(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -1.0]]], [[[1.0, 0.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[1.0, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x2xf32>
}
func.func @second(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -1.0]]], [[[1.0, 0.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[1.0, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %r = tosa.clamp %c {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rq = qat.fake_quant %r, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x2xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x2xf32>
}

// -----

// A grouped convolution with one output quantizer after its ReLU
// (qat-insert-fake-quant's placement, PyTorch's): each group becomes a
// kernel with the ReLU on the output's grid, their codes are concatenated.
// X86-LABEL: func.func @grouped_relu
// X86: %[[Q:.*]] = qat.quantize %arg0
// X86: %[[L0:.*]] = tosa.slice %[[Q]]
// X86: %[[L1:.*]] = tosa.slice %[[Q]]
// X86: %[[K0:.*]] = qat.integer_kernel <conv2d> %[[L0]], {{.*}} output_zero_point = -128 : i64, {{.*}} quant_max = 127 : i64, quant_min = -128 : i64
// X86: %[[K1:.*]] = qat.integer_kernel <conv2d> %[[L1]], {{.*}} output_zero_point = -128 : i64, {{.*}} quant_max = 127 : i64, quant_min = -128 : i64
// X86: %[[C:.*]] = tosa.concat %[[K0]], %[[K1]] {axis = 3 : i32} : (tensor<1x2x2x2xi8>, tensor<1x2x2x2xi8>) -> tensor<1x2x2x4xi8>
// X86: %[[D:.*]] = qat.dequantize %[[C]]
// X86-NOT: tosa.clamp
// X86-NOT: qat.fake_quant
// X86: return %[[D]]
// REMARK-COUNT-2: 'tosa.conv2d' converted to integer (2 fused op(s), float_multiplier)
func.func @grouped_relu(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<0> : tensor<i32>
  %ws = arith.constant dense<[0.25, 0.125]> : tensor<2xf32>
  %wz = arith.constant dense<0> : tensor<2xi32>
  %s0 = tosa.const_shape {values = dense<[0, 0, 0, 0]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %s1 = tosa.const_shape {values = dense<[0, 0, 0, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %size = tosa.const_shape {values = dense<[1, 2, 2, 2]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %w = "tosa.const"() <{values = dense<[[[[0.5, -1.0]]], [[[1.0, 0.0]]]]> : tensor<2x1x1x2xf32>}> : () -> tensor<2x1x1x2xf32>
  %b = "tosa.const"() <{values = dense<[1.0, -0.5]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x4xf32>, tensor<f32>, tensor<i32>
  %wq0 = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %wq1 = qat.fake_quant %w, %ws, %wz {axis = 0 : i64, quant_min = -128 : i64, quant_max = 127 : i64} : tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<2xi32>
  %x0 = tosa.slice %xq, %s0, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c0 = tosa.conv2d %x0, %wq0, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %x1 = tosa.slice %xq, %s1, %size : (tensor<1x2x2x4xf32>, !tosa.shape<4>, !tosa.shape<4>) -> tensor<1x2x2x2xf32>
  %c1 = tosa.conv2d %x1, %wq1, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x2xf32>
  %cat = tosa.concat %c0, %c1 {axis = 3 : i32} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %r = tosa.clamp %cat {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %rq = qat.fake_quant %r, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x4xf32>, tensor<f32>, tensor<i32>
  return %rq : tensor<1x2x2x4xf32>
}

// -----

// An add(_relu) of two quantized u8 values on x86:pytorch-onednn: PyTorch's
// onednn engine dequantizes each operand with an FMA on its u8 codes, adds
// and clamps in f32, and quantizes.
// ONEDNN-LABEL: func.func @onednn_add
// ONEDNN: %[[A:.*]] = qat.quantize %arg0
// ONEDNN: %[[B:.*]] = qat.quantize %arg1
// ONEDNN: %[[DA:.*]] = qat.dequantize %[[A]], %{{.*}}, %{{.*}} {fma_offset = 128 : i64} : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
// ONEDNN: %[[DB:.*]] = qat.dequantize %[[B]], %{{.*}}, %{{.*}} {fma_offset = 128 : i64} : tensor<4xi8>, tensor<f32>, tensor<i32> -> tensor<4xf32>
// ONEDNN: %[[S:.*]] = tosa.add %[[DA]], %[[DB]]
// ONEDNN: %[[C:.*]] = tosa.clamp %[[S]]
// ONEDNN: %[[Q:.*]] = qat.quantize %[[C]], {{.*}} {quant_max = 127 : i64, quant_min = -128 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi8>
// ONEDNN: qat.dequantize %[[Q]]
// ONEDNN-NOT: qat.requantize_add
// SIMONEDNN-LABEL: func.func @onednn_add
// SIMONEDNN: qat.dequantize %{{.*}} {fma_offset = 128 : i64} : tensor<4xf32>
// SIMONEDNN: qat.quantize {{.*}} -> tensor<4xf32>
// x86:pytorch-qnnpack: fixed point as qnnpack's add, ratios 0.5 / 1 and
// 0.25 / 1, shift 21 - exponent(0.5) = 22, multipliers 0.5 * 2^22 = 2097152
// and 0.25 * 2^22 = 1048576, ties away from zero; the ReLU clamps at the
// output zero point (5 - 128).
// QNNPACK-LABEL: func.func @onednn_add
// QNNPACK: %[[N:.*]] = arith.constant dense<22> : tensor<i8>
// QNNPACK-NEXT: %[[MA:.*]] = arith.constant dense<2097152> : tensor<i32>
// QNNPACK-NEXT: %[[ZA:.*]] = arith.constant dense<-118> : tensor<i32>
// QNNPACK-NEXT: %[[MB:.*]] = arith.constant dense<1048576> : tensor<i32>
// QNNPACK-NEXT: %[[ZB:.*]] = arith.constant dense<-125> : tensor<i32>
// QNNPACK-NEXT: %[[ZO:.*]] = arith.constant dense<-123> : tensor<i32>
// QNNPACK-NEXT: qat.rescale_add %{{.*}}, %[[MA]], %[[ZA]], %{{.*}}, %[[MB]], %[[ZB]], %[[N]], %[[ZO]] {quant_max = 127 : i64, quant_min = -123 : i64, round_half_away_from_zero} : tensor<4xi8>
// QNNPACK-NOT: fma_offset
// SIMQNNPACK-LABEL: func.func @onednn_add
// SIMQNNPACK: qat.rescale_add {{.*}}round_half_away_from_zero} : tensor<4xf32>, {{.*}} -> tensor<4xf32>
func.func @onednn_add(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.constant dense<0.5> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %s2 = arith.constant dense<0.25> : tensor<f32>
  %z2 = arith.constant dense<3> : tensor<i32>
  %so = arith.constant dense<1.0> : tensor<f32>
  %zo = arith.constant dense<5> : tensor<i32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %yq = qat.fake_quant %y, %s2, %z2 {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  %a = tosa.add %xq, %yq : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<4xf32>) -> tensor<4xf32>
  %aq = qat.fake_quant %r, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %aq : tensor<4xf32>
}

// -----

// A 3x3 average pool from scale 0.1 to 0.3: x86 m = s_in / (n * s_out) =
// 0.0370370373; x86:pytorch-onednn as PyTorch's channels-last pool,
// m0 = (s_in / s_out) / n, m = 1 / (1 / m0) = 0.0370370336 (f32).
// X86-LABEL: func.func @pool_multiplier
// X86: arith.constant dense<0.0370370373> : tensor<f32>
// ONEDNN-LABEL: func.func @pool_multiplier
// ONEDNN: %[[M:.*]] = arith.constant dense<0.0370370336> : tensor<f32>
// ONEDNN: qat.integer_kernel <depthwise_conv2d> %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {
func.func @pool_multiplier(%x: tensor<1x3x3x2xf32>) -> tensor<1x1x1x2xf32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<0.3> : tensor<f32>
  %zo = arith.constant dense<3> : tensor<i32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x3x3x2xf32>, tensor<f32>, tensor<i32>
  %p = tosa.avg_pool2d %xq, %zp, %zp {acc_type = f32, kernel = array<i64: 3, 3>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x3x3x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x1x2xf32>
  %pq = qat.fake_quant %p, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x1x1x2xf32>, tensor<f32>, tensor<i32>
  return %pq : tensor<1x1x1x2xf32>
}

// -----

// x86:pytorch-qnnpack kernels: PyTorch's int32 bias
// roundeven(b * f32(1 / f32(s_w * s_in))) = roundeven(0.105 * 14.2857141) = 1
// (x86: roundeven(0.105 / 0.07) = 2) and the multiplier (s_w * s_in) *
// f32(1 / s_out) = 0.233333334 (x86: (s_in * s_w) / s_out = 0.233333319).
// X86-LABEL: func.func @qnnpack_conv
// X86-DAG: arith.constant dense<2> : tensor<1xi32>
// X86-DAG: arith.constant dense<0.233333319> : tensor<f32>
// QNNPACK-LABEL: func.func @qnnpack_conv
// QNNPACK-DAG: %[[B:.*]] = arith.constant dense<1> : tensor<1xi32>
// QNNPACK-DAG: %[[M:.*]] = arith.constant dense<0.233333334> : tensor<f32>
// QNNPACK: qat.integer_kernel <conv2d> %{{.*}}, %{{.*}}, %[[B]], %[[M]] {
// QNNPACK-NOT: float_bias
func.func @qnnpack_conv(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %so = arith.constant dense<0.3> : tensor<f32>
  %zo = arith.constant dense<3> : tensor<i32>
  %ws = arith.constant dense<0.7> : tensor<f32>
  %wz = arith.constant dense<0> : tensor<i32>
  %w = "tosa.const"() <{values = dense<0.7> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %b = "tosa.const"() <{values = dense<0.105> : tensor<1xf32>}> : () -> tensor<1xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x1xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x1x1x1xf32>, tensor<f32>, tensor<i32>
  %c = tosa.conv2d %xq, %wq, %b, %zp, %zp {acc_type = f32, dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %cq = qat.fake_quant %c, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x1xf32>, tensor<f32>, tensor<i32>
  return %cq : tensor<1x2x2x1xf32>
}

// -----

// PyTorch's x.mean((2, 3)) (the importer marks its pool qat.torch_mean) on
// x86:pytorch-onednn: dequantized, the 2 x 2 rows summed in order h * W + w,
// divided by 4 and quantized, as PyTorch's onednn engine computes it; x86
// keeps the integer pool.
// X86-LABEL: func.func @torch_mean
// X86: qat.integer_kernel <depthwise_conv2d>
// ONEDNN-LABEL: func.func @torch_mean
// ONEDNN: %[[D:.*]] = qat.dequantize %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x2x2x3xi8>, tensor<f32>, tensor<i32> -> tensor<1x2x2x3xf32>
// ONEDNN: %[[R0:.*]] = tosa.slice %[[D]]
// ONEDNN: %[[R1:.*]] = tosa.slice %[[D]]
// ONEDNN: %[[S1:.*]] = tosa.add %[[R0]], %[[R1]]
// ONEDNN: %[[R2:.*]] = tosa.slice %[[D]]
// ONEDNN: %[[S2:.*]] = tosa.add %[[S1]], %[[R2]]
// ONEDNN: %[[R3:.*]] = tosa.slice %[[D]]
// ONEDNN: %[[S3:.*]] = tosa.add %[[S2]], %[[R3]]
// ONEDNN: %[[N:.*]] = arith.constant dense<4.000000e+00> : tensor<1x1x1x3xf32>
// ONEDNN: %[[M:.*]] = arith.divf %[[S3]], %[[N]] : tensor<1x1x1x3xf32>
// ONEDNN: qat.quantize %[[M]], {{.*}} -> tensor<1x1x1x3xi8>
// ONEDNN-NOT: qat.integer_kernel
// SIMONEDNN-LABEL: func.func @torch_mean
// SIMONEDNN: arith.divf
// SIMONEDNN: qat.quantize {{.*}} -> tensor<1x1x1x3xf32>
func.func @torch_mean(%x: tensor<1x2x2x3xf32>) -> tensor<1x1x1x3xf32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<10> : tensor<i32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x2x2x3xf32>, tensor<f32>, tensor<i32>
  %p = tosa.avg_pool2d %xq, %zp, %zp {acc_type = f32, kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>, qat.torch_mean} : (tensor<1x2x2x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x1x3xf32>
  %pq = qat.fake_quant %p, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x1x1x3xf32>, tensor<f32>, tensor<i32>
  return %pq : tensor<1x1x1x3xf32>
}
