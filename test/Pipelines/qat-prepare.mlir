// The three blocks prepared for each built-in target; qat-prepare ends with
// qat-verify-target, so a placement against the target fails the RUN line.
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/resnet_basic.mlir --qat-prepare=target=x86 | FileCheck %s --check-prefix=BASIC
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/resnet_basic.mlir --qat-prepare=target=bpu | FileCheck %s --check-prefix=BASIC
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/resnet_bottleneck.mlir --qat-prepare=target=x86 | FileCheck %s --check-prefix=BOTTLENECK
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/resnet_bottleneck.mlir --qat-prepare=target=bpu:per-channel | FileCheck %s --check-prefix=BOTTLENECK
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/resnet_bottleneck.mlir --qat-prepare=target=x86 | FileCheck %s --check-prefix=NINE
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/mobilenet_v2.mlir --qat-prepare=target=x86 | FileCheck %s --check-prefix=MOBILENET
// RUN: qat-opt %S/../Dialect/QAT/Transforms/Inputs/mobilenet_v2.mlir --qat-prepare=target=bpu:pow2 | FileCheck %s --check-prefix=MOBILENET
// RUN: qat-opt %S/Inputs/fire-concat.mlir --qat-prepare=target=bpu | FileCheck %s --check-prefix=CONCAT

// A concat's operands share one scale: the union of their observed ranges
// (arith.minimumf / maximumf of the observers' state) is quantization
// bookkeeping, not float arithmetic, on a target without floats (bpu).
// CONCAT: arith.minimumf
// CONCAT: arith.maximumf
// CONCAT: qat.choose_qparams
// CONCAT: tosa.concat

// Basic block: input (shared by conv1 and the residual add), conv1+ReLU
// output, conv2+add+ReLU output; two weights. Batch norm is gone.
// BASIC-NOT: tosa.rsqrt
// BASIC: %[[XQ:.*]] = qat.fake_quant %arg0
// BASIC: %[[C1:.*]] = tosa.conv2d %[[XQ]]
// BASIC-NEXT: %[[R1:.*]] = tosa.clamp %[[C1]]
// BASIC: %[[R1Q:.*]] = qat.fake_quant %[[R1]]
// BASIC: %[[C2:.*]] = tosa.conv2d %[[R1Q]]
// BASIC-NEXT: %[[A:.*]] = tosa.add %[[C2]], %[[XQ]]
// BASIC-NEXT: %[[R2:.*]] = tosa.clamp %[[A]]
// BASIC: %[[OUT:.*]] = qat.fake_quant %[[R2]]
// BASIC: return %[[OUT]]

// Bottleneck: the downsample conv fuses with the add and the ReLU; conv3's
// output is quantized as an input of that kernel. Nine quantizers.
// BOTTLENECK: %[[DS:.*]] = tosa.conv2d %{{.*}} {{.*}}stride = array<i64: 2, 2>
// BOTTLENECK: %[[A:.*]] = tosa.add %{{.*}}, %[[DS]]
// BOTTLENECK-NEXT: tosa.clamp %[[A]]
// NINE-COUNT-9: qat.fake_quant
// NINE-NOT: qat.fake_quant

// MobileNetV2: expand+ReLU6 and depthwise+ReLU6 kernels, project+add kernel.
// MOBILENET: %[[XQ:.*]] = qat.fake_quant %arg0
// MOBILENET: tosa.conv2d %[[XQ]]
// MOBILENET-NEXT: tosa.clamp {{.*}}max_val = 6.000000e+00
// MOBILENET: tosa.depthwise_conv2d
// MOBILENET-NEXT: tosa.clamp {{.*}}max_val = 6.000000e+00
// MOBILENET: %[[P:.*]] = tosa.conv2d
// MOBILENET-NEXT: %[[A:.*]] = tosa.add %[[P]], %[[XQ]]
// MOBILENET: qat.fake_quant %[[A]]
