// RUN: qat-opt %s --split-input-file --qat-lower-f32-kernels="isa=avx512 rows=2 blocks=1" | FileCheck %s --check-prefix=AVX
// RUN: qat-opt %s --split-input-file --qat-lower-f32-kernels="isa=portable rows=2 blocks=1" | FileCheck %s --check-prefix=PORT
// RUN: qat-opt %s --split-input-file --qat-lower-f32-kernels="isa=avx512 parallel" | FileCheck %s --check-prefix=PAR
// RUN: qat-opt %s --split-input-file --qat-lower-f32-kernels="isa=avx512 parallel min-parallel-macs=100000000" | FileCheck %s --check-prefix=SMALL
// RUN: not qat-opt %s --split-input-file --qat-lower-f32-kernels="isa=sse" 2>&1 | FileCheck %s --check-prefix=BADISA
// RUN: not qat-opt %s --split-input-file --qat-lower-f32-kernels="rows=8 blocks=4" 2>&1 | FileCheck %s --check-prefix=BADTILE

// BADISA: for the --isa option: Cannot find option named 'sse'
// BADTILE: qat-lower-f32-kernels: rows x blocks accumulators must be at most 28, got 8 x 4

// A 3x3 conv, pad 1, 3 -> 20 channels over 3 x 3 = 9 pixels, tiles of 2
// pixels by 1 block: the zero-padded copy (1 x 5 x 5 x 3 = 75 floats), the
// loops over kernel rows, runs and the 9 elements of a kernel row's window
// carrying the accumulators (one broadcast per pixel, one fma per
// accumulator; portable: a product and a sum), the full block stored
// whole, the partial one (4 channels) under a mask.
// AVX-LABEL: func.func @conv
// AVX: %[[BUF:.*]] = memref.alloc() {alignment = 64 : i64} : memref<75xf32>
// AVX: scf.for %{{.*}} = %{{.*}} to %c9 step %c1{{.*}} iter_args(%[[A0:.*]] = %{{.*}}, %[[A1:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>)
// AVX: %[[WV:.*]] = vector.load %{{.*}} : memref<864xf32>, vector<16xf32>
// AVX: %[[X0:.*]] = memref.load %[[BUF]]
// AVX: %[[B0:.*]] = vector.broadcast %[[X0]] : f32 to vector<16xf32>
// AVX: math.fma %[[B0]], %[[WV]], %[[A0]] : vector<16xf32>
// AVX: math.fma %{{.*}}, %[[WV]], %[[A1]] : vector<16xf32>
// AVX: vector.store %{{.*}}, %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<1x3x3x20xf32>, vector<16xf32>
// AVX: vector.maskedstore %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}}, %{{.*}} : memref<1x3x3x20xf32>, vector<16xi1>, vector<16xf32>
// AVX: memref.dealloc %[[BUF]]
// PORT-LABEL: func.func @conv
// PORT-NOT: math.fma
// PORT: %[[P:.*]] = arith.mulf %{{.*}}, %{{.*}} : vector<16xf32>
// PORT: arith.addf %{{.*}}, %[[P]] : vector<16xf32>
// With `parallel`: the padded copy's rows, then (pixel tiles, blocks) as
// one scf.parallel (20 channels: pixels outer); below min-parallel-macs
// nothing is parallel.
// PAR-LABEL: func.func @conv
// PAR: scf.parallel
// SMALL-LABEL: func.func @conv
// SMALL-NOT: scf.parallel
func.func @conv(%x: memref<1x3x3x3xf32>, %w: memref<2x3x9x16xf32>, %b: memref<32xf32>, %y: memref<1x3x3x20xf32>) {
  qat.packed_conv2d_f32 ins(%x, %w, %b : memref<1x3x3x3xf32>, memref<2x3x9x16xf32>, memref<32xf32>) outs(%y : memref<1x3x3x20xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
  return
}

// -----

// The epilogue region's ops on vector<16xf32>: the per-channel input loaded
// as a vector, the constant a splat.
// AVX-LABEL: func.func @epilogue
// AVX: %[[S:.*]] = vector.load %arg4[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<1x1x1x16xf32>, vector<16xf32>
// AVX: %[[A:.*]] = arith.addf %{{.*}}, %[[S]] : vector<16xf32>
// AVX: %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// AVX: %[[M:.*]] = arith.maximumf %[[A]], %[[Z]] : vector<16xf32>
// AVX: vector.store %[[M]], %arg3
func.func @epilogue(%x: memref<1x2x2x16xf32>, %w: memref<1x1x16x16xf32>, %b: memref<16xf32>, %y: memref<1x2x2x16xf32>, %s: memref<1x1x1x16xf32>) {
  qat.packed_conv2d_f32 ins(%x, %w, %b : memref<1x2x2x16xf32>, memref<1x1x16x16xf32>, memref<16xf32>) epilogue_inputs(%s : memref<1x1x1x16xf32>) outs(%y : memref<1x2x2x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} epilogue {
  ^bb0(%acc: f32, %sh: f32):
    %0 = arith.addf %acc, %sh : f32
    %z = arith.constant 0.0 : f32
    %1 = arith.maximumf %0, %z : f32
    qat.yield %1 : f32
  }
  return
}

// -----

// Depthwise: the sum from 0.0, one load per input column shared by the
// tile's pixels (the kernel positions unrolled), the bias added after the
// sum.
// AVX-LABEL: func.func @depthwise
// AVX: scf.for
// AVX: %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// AVX: math.fma %{{.*}}, %{{.*}}, %[[Z]] : vector<16xf32>
// AVX: %[[B:.*]] = vector.load %arg2
// AVX: arith.addf %[[B]], %{{.*}} : vector<16xf32>
func.func @depthwise(%x: memref<1x4x4x16xf32>, %w: memref<3x3x16xf32>, %b: memref<16xf32>, %y: memref<1x4x4x16xf32>) {
  qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : memref<1x4x4x16xf32>, memref<3x3x16xf32>, memref<16xf32>) outs(%y : memref<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
  return
}

// -----

// Backward data, stride 2, 3x3: four phases of outputs; the weights of all
// phases packed when the kernel runs (1 block of 8 input channels x (4 + 2
// + 2 + 1) taps x 16 output channels x 16 lanes = 2304 floats), dy copied
// with a zero border; each phase's outputs stored at stride 2.
// AVX-LABEL: func.func @backward_data
// AVX: memref.alloc() {alignment = 64 : i64} : memref<{{[0-9]+}}xf32>
// AVX: %[[P:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2304xf32>
// AVX: vector.maskedload %arg1
// AVX: vector.store %{{.*}}, %[[P]]
// AVX: math.fma
// AVX: vector.maskedstore %arg2
// AVX: memref.dealloc %[[P]]
func.func @backward_data(%dy: memref<1x4x4x16xf32>, %w: memref<16x3x3x8xf32>, %dx: memref<1x8x8x8xf32>) {
  qat.conv2d_backward_data_f32 ins(%dy, %w : memref<1x4x4x16xf32>, memref<16x3x3x8xf32>) outs(%dx : memref<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  return
}

// -----

// Backward weight: tiles of output channels x vectors of a kernel row's
// window (3 x 8 = 24 elements: one whole vector and one of 8 lanes), the
// sum over images, rows and columns innermost; stored through the
// O*KH x KW*I view of dW.
// AVX-LABEL: func.func @backward_weight
// AVX: %[[V:.*]] = memref.collapse_shape %arg2 {{\[\[}}0, 1], [2, 3]] : memref<16x3x3x8xf32> into memref<48x24xf32>
// AVX: scf.for
// AVX: scf.for
// AVX: scf.for {{.*}} iter_args
// AVX: math.fma
// AVX: vector.maskedstore %[[V]]
func.func @backward_weight(%x: memref<1x8x8x8xf32>, %dy: memref<1x4x4x16xf32>, %dw: memref<16x3x3x8xf32>) {
  qat.conv2d_backward_weight_f32 ins(%x, %dy : memref<1x8x8x8xf32>, memref<1x4x4x16xf32>) outs(%dw : memref<16x3x3x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  return
}

// -----

// Operands in another layout (the slice of a strided convolution's input,
// a strided result): contiguous copies before the kernel, the result
// copied back after it, the copies freed.
// AVX-LABEL: func.func @backward_weight_strided
// AVX: %[[X:.*]] = memref.alloc() : memref<1x7x7x8xf32>
// AVX: memref.copy %arg0, %[[X]] : memref<1x7x7x8xf32, strided<[512, 64, 8, 1]>> to memref<1x7x7x8xf32>
// AVX: %[[W:.*]] = memref.alloc() : memref<16x1x1x8xf32>
// AVX: memref.copy %arg2, %[[W]]
// AVX: math.fma
// AVX: memref.dealloc %[[X]]
// AVX: memref.copy %[[W]], %arg2 : memref<16x1x1x8xf32> to memref<16x1x1x8xf32, strided<[16, 8, 8, 1]>>
// AVX: memref.dealloc %[[W]]
func.func @backward_weight_strided(%x: memref<1x7x7x8xf32, strided<[512, 64, 8, 1]>>, %dy: memref<1x4x4x16xf32>, %dw: memref<16x1x1x8xf32, strided<[16, 8, 8, 1]>>) {
  qat.conv2d_backward_weight_f32 ins(%x, %dy : memref<1x7x7x8xf32, strided<[512, 64, 8, 1]>>, memref<1x4x4x16xf32>) outs(%dw : memref<16x1x1x8xf32, strided<[16, 8, 8, 1]>>) {dilation = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>}
  return
}

// -----

// Run-time packing: one vector of 16 output channels per window element,
// the lanes beyond 20 channels 0.0.
// AVX-LABEL: func.func @pack
// AVX: scf.if
// AVX: vector.insert
// AVX: vector.store %{{.*}}, %{{.*}} : memref<1152xf32>, vector<16xf32>
func.func @pack(%w: memref<20x3x3x4xf32>, %p: memref<2x3x12x16xf32>) {
  qat.pack_conv_weights_f32 ins(%w : memref<20x3x3x4xf32>) outs(%p : memref<2x3x12x16xf32>)
  return
}

// -----

// A grouped 1x1 convolution, 2 groups of 2 input and 16 output channels:
// the groups loop outside the tiles; group g's pixels read its 2 channels
// from g * 2 on (one run of 2 per kernel column), its block g of the
// weights and of the bias, and store its 16 channels from g * 16 on. With
// `parallel`, the groups are the first dimension of the tiles' scf.parallel
// (here groups x block groups: the 4 pixels are one partial tile).
// AVX-LABEL: func.func @grouped
// AVX: scf.for %[[G:.*]] = %c0 to %c2 step %c1 {
// AVX: %[[GS:.*]] = arith.muli %[[G]], %c2{{.*}} : index
// AVX: %[[GO:.*]] = arith.muli %[[G]], %c16{{.*}} : index
// AVX: arith.addi %{{.*}}, %[[GS]] : index
// AVX: scf.for %{{.*}} = %{{.*}} to %c2{{.*}} step %c1{{.*}} iter_args
// AVX: math.fma
// AVX: vector.store %{{.*}}, %arg3[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<1x2x2x32xf32>, vector<16xf32>
// PAR-LABEL: func.func @grouped
// PAR: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %{{.*}}) to (%c2, %{{.*}})
func.func @grouped(%x: memref<1x2x2x4xf32>, %w: memref<2x1x2x16xf32>, %b: memref<32xf32>, %y: memref<1x2x2x32xf32>) {
  qat.packed_conv2d_f32 ins(%x, %w, %b : memref<1x2x2x4xf32>, memref<2x1x2x16xf32>, memref<32xf32>) outs(%y : memref<1x2x2x32xf32>) {dilation = array<i64: 1, 1>, groups = 2 : i64, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>}
  return
}
