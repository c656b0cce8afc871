// RUN: qat-opt %s --split-input-file --qat-fuse-f32-epilogues | FileCheck %s
// RUN: qat-opt %s --split-input-file --qat-fuse-f32-epilogues=observers=false | FileCheck %s --check-prefix=NOOBS

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d3)>
#sc = affine_map<(d0, d1, d2, d3) -> ()>

// A per-channel shift, a residual and a ReLU after a packed conv: the
// generic's body becomes the epilogue, the per-channel input reshaped to
// 1 x 1 x 1 x 8, the generic's init the kernel's.
// CHECK-LABEL: func.func @bn_relu_residual
// CHECK: tensor.empty() : tensor<1x4x4x8xf32>
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<1x4x4x8xf32>
// CHECK: %[[S:.*]] = tensor.expand_shape %arg3 {{\[\[}}0, 1, 2, 3]] output_shape [1, 1, 1, 8] : tensor<8xf32> into tensor<1x1x1x8xf32>
// CHECK: %[[Y:.*]] = qat.packed_conv2d_f32 ins(%arg0, %arg1, %arg2 : {{.*}}) epilogue_inputs(%[[S]], %arg4 : tensor<1x1x1x8xf32>, tensor<1x4x4x8xf32>) outs(%[[E2]] : tensor<1x4x4x8xf32>)
// CHECK-SAME: epilogue {
// CHECK-NEXT: ^bb0(%[[ACC:.*]]: f32, %[[SH:.*]]: f32, %[[RES:.*]]: f32):
// CHECK-NEXT: %[[A:.*]] = arith.addf %[[ACC]], %[[SH]] : f32
// CHECK-NEXT: %[[B:.*]] = arith.addf %[[A]], %[[RES]] : f32
// CHECK-NEXT: %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[M:.*]] = arith.maximumf %[[B]], %[[Z]] : f32
// CHECK-NEXT: qat.yield %[[M]] : f32
// CHECK: return %[[Y]]
func.func @bn_relu_residual(%x: tensor<1x4x4x8xf32>, %w: tensor<1x3x24x16xf32>, %b: tensor<16xf32>, %shift: tensor<8xf32>, %r: tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %e = tensor.empty() : tensor<1x4x4x8xf32>
  %c = qat.packed_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x8xf32>, tensor<1x3x24x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x8xf32>
  %e2 = tensor.empty() : tensor<1x4x4x8xf32>
  %y = linalg.generic {indexing_maps = [#id, #ch, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c, %shift, %r : tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<1x4x4x8xf32>) outs(%e2 : tensor<1x4x4x8xf32>) {
  ^bb0(%a: f32, %s: f32, %res: f32, %o: f32):
    %0 = arith.addf %a, %s : f32
    %1 = arith.addf %0, %res : f32
    %z = arith.constant 0.0 : f32
    %2 = arith.maximumf %1, %z : f32
    linalg.yield %2 : f32
  } -> tensor<1x4x4x8xf32>
  return %y : tensor<1x4x4x8xf32>
}

// -----

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#sc = affine_map<(d0, d1, d2, d3) -> ()>

// Two generics in a row fuse one after the other: the second composes after
// the first in the epilogue; a rank-0 input becomes 1 x 1 x 1 x 1.
// CHECK-LABEL: func.func @chain
// CHECK: %[[S:.*]] = tensor.expand_shape %arg3 [] output_shape [1, 1, 1, 1] : tensor<f32> into tensor<1x1x1x1xf32>
// CHECK: qat.packed_depthwise_conv2d_f32 {{.*}} epilogue_inputs(%[[S]] : tensor<1x1x1x1xf32>)
// CHECK: ^bb0(%[[ACC:.*]]: f32, %[[K:.*]]: f32):
// CHECK-NEXT: %[[A:.*]] = arith.mulf %[[ACC]], %[[K]] : f32
// CHECK-NEXT: %[[B:.*]] = math.absf %[[A]] : f32
// CHECK-NEXT: qat.yield %[[B]] : f32
// CHECK-NOT: linalg.generic
func.func @chain(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16xf32>, %b: tensor<16xf32>, %k: tensor<f32>) -> tensor<1x4x4x16xf32> {
  %e = tensor.empty() : tensor<1x4x4x16xf32>
  %c = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  %e2 = tensor.empty() : tensor<1x4x4x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #sc, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c, %k : tensor<1x4x4x16xf32>, tensor<f32>) outs(%e2 : tensor<1x4x4x16xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %0 = arith.mulf %a, %s : f32
    linalg.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  %e3 = tensor.empty() : tensor<1x4x4x16xf32>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%y : tensor<1x4x4x16xf32>) outs(%e3 : tensor<1x4x4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.absf %a : f32
    linalg.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  return %z : tensor<1x4x4x16xf32>
}

// -----

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#tr = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>

// Not fused: the kernel's result has another reader; a generic that reads
// its init; a transposing map.
// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-3: linalg.generic
func.func @not_fused(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16xf32>, %b: tensor<16xf32>, %t: tensor<1x4x4x16xf32>) -> (tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>) {
  %e = tensor.empty() : tensor<1x4x4x16xf32>
  %c = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c : tensor<1x4x4x16xf32>) outs(%e : tensor<1x4x4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = math.absf %a : f32
    linalg.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  %c2 = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  %y2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c2 : tensor<1x4x4x16xf32>) outs(%t : tensor<1x4x4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %0 = arith.addf %a, %o : f32
    linalg.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  %c3 = qat.packed_depthwise_conv2d_f32 ins(%x, %w, %b : tensor<1x4x4x16xf32>, tensor<3x3x16xf32>, tensor<16xf32>) outs(%e : tensor<1x4x4x16xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} -> tensor<1x4x4x16xf32>
  %y3 = linalg.generic {indexing_maps = [#id, #tr, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c3, %t : tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>) outs(%e : tensor<1x4x4x16xf32>) {
  ^bb0(%a: f32, %u: f32, %o: f32):
    %0 = arith.addf %a, %u : f32
    linalg.yield %0 : f32
  } -> tensor<1x4x4x16xf32>
  return %c, %y, %y2, %y3 : tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>, tensor<1x4x4x16xf32>
}

// -----

#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#sc = affine_map<(d0, d1, d2, d3) -> ()>

// The data gradient of a convolution followed by the straight-through mask
// of a fake quantizer (scale, i32 zero point) and a ReLU's mask, as the QAT
// training step writes them: the mask becomes the backward kernel's
// epilogue; the zero point enters converted to f32 once, outside the kernel
// (the body's sitofp is dropped).
// CHECK-LABEL: func.func @backward_data_ste_mask
// CHECK: %[[S4:.*]] = tensor.expand_shape %arg4 [] output_shape [1, 1, 1, 1] : tensor<f32> into tensor<1x1x1x1xf32>
// CHECK: %[[ZF:.*]] = linalg.generic {{.*}} ins(%arg5 : tensor<i32>)
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: %[[Z4:.*]] = tensor.expand_shape %[[ZF]] [] output_shape [1, 1, 1, 1] : tensor<f32> into tensor<1x1x1x1xf32>
// CHECK: %[[DX:.*]] = qat.conv2d_backward_data_f32 ins(%arg0, %arg1 : {{.*}}) epilogue_inputs(%arg2, %arg3, %[[S4]], %[[Z4]] : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x1x1x1xf32>, tensor<1x1x1x1xf32>)
// CHECK-SAME: epilogue {
// CHECK-NEXT: ^bb0(%[[ACC:.*]]: f32, %[[R:.*]]: f32, %[[X:.*]]: f32, %[[S:.*]]: f32, %[[Z:.*]]: f32):
// CHECK-NOT: arith.sitofp
// CHECK: %[[Q:.*]] = math.roundeven
// CHECK: arith.addf %[[Q]], %[[Z]] : f32
// CHECK: %[[M:.*]] = arith.mulf %[[ACC]], %{{.*}} : f32
// CHECK: qat.yield
// CHECK-NOT: linalg.generic
// CHECK: return %[[DX]]
func.func @backward_data_ste_mask(%dy: tensor<1x4x4x16xf32>, %w: tensor<16x3x3x8xf32>, %r: tensor<1x8x8x8xf32>, %x: tensor<1x8x8x8xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<1x8x8x8xf32> {
  %e = tensor.empty() : tensor<1x8x8x8xf32>
  %g = qat.conv2d_backward_data_f32 ins(%dy, %w : tensor<1x4x4x16xf32>, tensor<16x3x3x8xf32>) outs(%e : tensor<1x8x8x8xf32>) {dilation = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} -> tensor<1x8x8x8xf32>
  %e2 = tensor.empty() : tensor<1x8x8x8xf32>
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  %qmax = arith.constant 255.0 : f32
  %y = linalg.generic {indexing_maps = [#id, #id, #id, #sc, #sc, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%r, %g, %x, %s, %z : tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<1x8x8x8xf32>, tensor<f32>, tensor<i32>) outs(%e2 : tensor<1x8x8x8xf32>) {
  ^bb0(%rv: f32, %gv: f32, %xv: f32, %sv: f32, %zv: i32, %o: f32):
    %zf = arith.sitofp %zv : i32 to f32
    %inv = arith.divf %one, %sv : f32
    %t = arith.mulf %xv, %inv : f32
    %q = math.roundeven %t : f32
    %qz = arith.addf %q, %zf : f32
    %lo = arith.cmpf oge, %qz, %zero : f32
    %hi = arith.cmpf ole, %qz, %qmax : f32
    %in = arith.andi %lo, %hi : i1
    %mask = arith.select %in, %one, %zero : f32
    %m = arith.mulf %gv, %mask : f32
    %pos = arith.cmpf ogt, %rv, %zero : f32
    %res = arith.select %pos, %m, %zero : f32
    linalg.yield %res : f32
  } -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

// A per-tensor observer (its 16 running ranges over the rows of 16 of the
// flattened tensor) on the result of an elementwise generic (a ReLU): one
// generic over the rows of 16 computes the ReLU, stores it and takes its
// range (the same ops in the same order); the ReLU's other reader gets the
// stored result reshaped back. With observers=false nothing changes.
// CHECK-LABEL: func.func @observe
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1, 2, 3]] : tensor<2x4x4x8xf32> into tensor<256xf32>
// CHECK: %[[XR:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0, 1]] output_shape [16, 16] : tensor<256xf32> into tensor<16x16xf32>
// CHECK: %[[F:.*]]:3 = linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} ins(%[[XR]] : tensor<16x16xf32>) outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<16x16xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32, %[[LO:.*]]: f32, %[[HI:.*]]: f32):
// CHECK: %[[M:.*]] = arith.minimumf %[[IN]], %{{.*}} : f32
// CHECK: %[[Y:.*]] = arith.maximumf %[[M]], %{{.*}} : f32
// CHECK: %[[MN:.*]] = arith.minnumf %[[LO]], %[[Y]] : f32
// CHECK: %[[MX:.*]] = arith.maxnumf %[[HI]], %[[Y]] : f32
// CHECK: linalg.yield %[[Y]], %[[MN]], %[[MX]] : f32, f32, f32
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[F]]#0 {{\[\[}}0, 1]] : tensor<16x16xf32> into tensor<256xf32>
// CHECK: %[[R:.*]] = tensor.expand_shape %[[C]] {{\[\[}}0, 1, 2, 3]] output_shape [2, 4, 4, 8] : tensor<256xf32> into tensor<2x4x4x8xf32>
// CHECK: linalg.generic {{.*}} ins(%[[F]]#1, %[[F]]#2 : tensor<16xf32>, tensor<16xf32>)
// CHECK: return %[[R]],
// NOOBS-LABEL: func.func @observe
// NOOBS: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// NOOBS: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} ins(%{{.*}} : tensor<16x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<16xf32>, tensor<16xf32>)
func.func @observe(%arg0: tensor<2x4x4x8xf32>, %arg1: tensor<f32>, %arg2: tensor<f32>) -> (tensor<2x4x4x8xf32>, tensor<f32>, tensor<f32>) {
  %cst = arith.constant 3.40282347E+38 : f32
  %cst_0 = arith.constant 0.000000e+00 : f32
  %cst_1 = arith.constant 0xFF800000 : f32
  %cst_2 = arith.constant 0x7F800000 : f32
  %0 = tensor.empty() : tensor<2x4x4x8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0 : tensor<2x4x4x8xf32>) outs(%0 : tensor<2x4x4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %13 = arith.minimumf %in, %cst : f32
    %14 = arith.maximumf %13, %cst_0 : f32
    linalg.yield %14 : f32
  } -> tensor<2x4x4x8xf32>
  %2 = tensor.empty() : tensor<f32>
  %3 = linalg.fill ins(%cst_2 : f32) outs(%2 : tensor<f32>) -> tensor<f32>
  %4 = tensor.empty() : tensor<f32>
  %5 = linalg.fill ins(%cst_1 : f32) outs(%4 : tensor<f32>) -> tensor<f32>
  %collapsed = tensor.collapse_shape %1 [[0, 1, 2, 3]] : tensor<2x4x4x8xf32> into tensor<256xf32>
  %expanded = tensor.expand_shape %collapsed [[0, 1]] output_shape [16, 16] : tensor<256xf32> into tensor<16x16xf32>
  %6 = tensor.empty() : tensor<16xf32>
  %7 = linalg.fill ins(%cst_2 : f32) outs(%6 : tensor<16xf32>) -> tensor<16xf32>
  %8 = tensor.empty() : tensor<16xf32>
  %9 = linalg.fill ins(%cst_1 : f32) outs(%8 : tensor<16xf32>) -> tensor<16xf32>
  %10:2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]} ins(%expanded : tensor<16x16xf32>) outs(%7, %9 : tensor<16xf32>, tensor<16xf32>) {
  ^bb0(%in: f32, %out: f32, %out_3: f32):
    %13 = arith.minnumf %out, %in : f32
    %14 = arith.maxnumf %out_3, %in : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<16xf32>, tensor<16xf32>)
  %11:2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%10#0, %10#1 : tensor<16xf32>, tensor<16xf32>) outs(%3, %5 : tensor<f32>, tensor<f32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32, %out_4: f32):
    %13 = arith.minnumf %out, %in : f32
    %14 = arith.maxnumf %out_4, %in_3 : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  %12:2 = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []} ins(%arg1, %arg2 : tensor<f32>, tensor<f32>) outs(%11#0, %11#1 : tensor<f32>, tensor<f32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32, %out_4: f32):
    %13 = arith.minimumf %in, %out : f32
    %14 = arith.maximumf %in_3, %out_4 : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  return %1, %12#0, %12#1 : tensor<2x4x4x8xf32>, tensor<f32>, tensor<f32>
}


// -----

// With 16 channels the rows of 16 are the tensor's own last dimension
// (linalg's reshape folding left no reshape): the fused generic runs over
// the ReLU's 4-D shape, ranges indexed by the channel.
// CHECK-LABEL: func.func @observe_folded
// CHECK: %[[F:.*]]:3 = linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "reduction", "parallel"]} ins(%arg0 : tensor<2x4x4x16xf32>) outs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x4x16xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK: arith.minnumf
// CHECK: arith.maxnumf
// CHECK: linalg.generic {{.*}} ins(%[[F]]#1, %[[F]]#2 : tensor<16xf32>, tensor<16xf32>)
// CHECK: return %[[F]]#0,
// NOOBS-LABEL: func.func @observe_folded
// NOOBS: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
func.func @observe_folded(%arg0: tensor<2x4x4x16xf32>, %arg1: tensor<f32>, %arg2: tensor<f32>) -> (tensor<2x4x4x16xf32>, tensor<f32>, tensor<f32>) {
  %cst = arith.constant 3.40282347E+38 : f32
  %cst_0 = arith.constant 0.000000e+00 : f32
  %cst_1 = arith.constant 0xFF800000 : f32
  %cst_2 = arith.constant 0x7F800000 : f32
  %0 = tensor.empty() : tensor<2x4x4x16xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0 : tensor<2x4x4x16xf32>) outs(%0 : tensor<2x4x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %13 = arith.minimumf %in, %cst : f32
    %14 = arith.maximumf %13, %cst_0 : f32
    linalg.yield %14 : f32
  } -> tensor<2x4x4x16xf32>
  %2 = tensor.empty() : tensor<f32>
  %3 = linalg.fill ins(%cst_2 : f32) outs(%2 : tensor<f32>) -> tensor<f32>
  %4 = tensor.empty() : tensor<f32>
  %5 = linalg.fill ins(%cst_1 : f32) outs(%4 : tensor<f32>) -> tensor<f32>
  %6 = tensor.empty() : tensor<16xf32>
  %7 = linalg.fill ins(%cst_2 : f32) outs(%6 : tensor<16xf32>) -> tensor<16xf32>
  %8 = tensor.empty() : tensor<16xf32>
  %9 = linalg.fill ins(%cst_1 : f32) outs(%8 : tensor<16xf32>) -> tensor<16xf32>
  %10:2 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d3)>, affine_map<(d0, d1, d2, d3) -> (d3)>], iterator_types = ["reduction", "reduction", "reduction", "parallel"]} ins(%1 : tensor<2x4x4x16xf32>) outs(%7, %9 : tensor<16xf32>, tensor<16xf32>) {
  ^bb0(%in: f32, %out: f32, %out_3: f32):
    %13 = arith.minnumf %out, %in : f32
    %14 = arith.maxnumf %out_3, %in : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<16xf32>, tensor<16xf32>)
  %11:2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%10#0, %10#1 : tensor<16xf32>, tensor<16xf32>) outs(%3, %5 : tensor<f32>, tensor<f32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32, %out_4: f32):
    %13 = arith.minnumf %out, %in : f32
    %14 = arith.maxnumf %out_4, %in_3 : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  %12:2 = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []} ins(%arg1, %arg2 : tensor<f32>, tensor<f32>) outs(%11#0, %11#1 : tensor<f32>, tensor<f32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32, %out_4: f32):
    %13 = arith.minimumf %in, %out : f32
    %14 = arith.maximumf %in_3, %out_4 : f32
    linalg.yield %13, %14 : f32, f32
  } -> (tensor<f32>, tensor<f32>)
  return %1, %12#0, %12#1 : tensor<2x4x4x16xf32>, tensor<f32>, tensor<f32>
}
