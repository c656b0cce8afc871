// RUN: qat-opt %s -qat-linalg-to-loops | FileCheck %s

// An all-parallel op becomes affine loops; a reduction becomes scf loops so
// that no vectorizer reorders it.
// CHECK-LABEL: func.func @mixed
// CHECK: affine.for
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
// CHECK: scf.for
// CHECK: arith.addf
// CHECK-NOT: linalg.generic
func.func @mixed(%x: memref<8xf32>, %y: memref<8xf32>, %acc: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : memref<8xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
      ins(%x : memref<8xf32>) outs(%acc : memref<f32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %b, %a : f32
    linalg.yield %s : f32
  }
  return
}

// A reduction over the outer loop with a parallel innermost loop gets
// affine loops: the vectorizer takes the inner loop only, each element of
// the output keeps its order.
// CHECK-LABEL: func.func @inner_parallel
// CHECK: affine.for
// CHECK: affine.for
// CHECK: arith.minnumf
// CHECK-NOT: scf.for
func.func @inner_parallel(%x: memref<4x8xf32>, %acc: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<4x8xf32>) outs(%acc : memref<8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %m = arith.minnumf %b, %a : f32
    linalg.yield %m : f32
  }
  return
}

// Ops on tensors are left alone (the pass runs after bufferization).
// CHECK-LABEL: func.func @tensors
// CHECK: linalg.generic
func.func @tensors(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%x : tensor<8xf32>) {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// A parallel op on a strided slice gets scf loops: affine-super-vectorize
// does not support non-identity layouts (it would report "NYI").
// CHECK-LABEL: func.func @strided
// CHECK-NOT: affine.for
// CHECK: scf.for
// CHECK: arith.mulf
func.func @strided(%x: memref<2x8xf32, strided<[8, 1], offset: 8>>, %y: memref<2x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<2x8xf32, strided<[8, 1], offset: 8>>) outs(%y : memref<2x8xf32>) {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  }
  return
}

// An NHWC max pool: the window loops go outside the channel loop (affine
// loops n, oh, ow, kh, kw, c), so the innermost loop is over channels.
// CHECK-LABEL: func.func @max_pool
// CHECK: affine.for %[[N:.*]] = 0 to 1
// CHECK: affine.for %[[OH:.*]] = 0 to 2
// CHECK: affine.for %[[OW:.*]] = 0 to 2
// CHECK: affine.for %[[KH:.*]] = 0 to 3
// CHECK: affine.for %[[KW:.*]] = 0 to 3
// CHECK: affine.for %[[C:.*]] = 0 to 32
// CHECK: arith.maxsi
// CHECK-NOT: linalg.
func.func @max_pool(%x: memref<1x5x5x32xi8>, %w: memref<3x3xi8>, %y: memref<1x2x2x32xi8>) {
  linalg.pooling_nhwc_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : memref<1x5x5x32xi8>, memref<3x3xi8>) outs(%y : memref<1x2x2x32xi8>)
  return
}

// A copy into the interior of a padded buffer: the last two dimensions
// (6 x 64 i8) are contiguous on both sides and become rows of 384 bytes,
// copied 64 bytes at a time (6 vectors, no rest).
// CHECK-LABEL: func.func @copy_into_padded
// CHECK-DAG: %[[SRC:.*]] = memref.collapse_shape %arg0 {{\[\[}}0], [1], [2, 3]] : memref<1x6x6x64xi8> into memref<1x6x384xi8>
// CHECK-DAG: %[[DST:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : memref<1x6x6x64xi8, strided<[4096, 512, 64, 1], offset: 576>> into memref<1x6x384xi8, strided<[4096, 512, 1], offset: 576>>
// CHECK: scf.for %[[I:.*]] =
// CHECK: scf.for %[[J:.*]] =
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[C64:.*]] {
// CHECK-NEXT: %[[V:.*]] = vector.load %[[SRC]][%[[I]], %[[J]], %[[K]]] : memref<1x6x384xi8>, vector<64xi8>
// CHECK-NEXT: vector.store %[[V]], %[[DST]][%[[I]], %[[J]], %[[K]]]
// CHECK-NOT: memref.copy
func.func @copy_into_padded(%x: memref<1x6x6x64xi8>, %y: memref<1x8x8x64xi8>) {
  %v = memref.subview %y[0, 1, 1, 0] [1, 6, 6, 64] [1, 1, 1, 1] : memref<1x8x8x64xi8> to memref<1x6x6x64xi8, strided<[4096, 512, 64, 1], offset: 576>>
  memref.copy %x, %v : memref<1x6x6x64xi8> to memref<1x6x6x64xi8, strided<[4096, 512, 64, 1], offset: 576>>
  return
}

// A slice of 3 of 4 channels, f32: rows of 3 elements, all in the
// element-by-element loop. Contiguous copies and copies whose innermost
// dimension is strided stay memref.copy.
// CHECK-LABEL: func.func @copy_short_rows
// CHECK-NOT: vector.load
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[E:.*]] = memref.load
// CHECK-NEXT: memref.store %[[E]]
// CHECK: memref.copy %arg0, %arg2 : memref<1x2x2x4xf32> to memref<1x2x2x4xf32>
// CHECK: memref.copy %{{.*}}, %arg3 : memref<1x2x2x2xf32, strided<[16, 8, 4, 2]>> to memref<1x2x2x2xf32>
func.func @copy_short_rows(%x: memref<1x2x2x4xf32>, %y: memref<1x2x2x3xf32>, %z: memref<1x2x2x4xf32>, %w: memref<1x2x2x2xf32>) {
  %s = memref.subview %x[0, 0, 0, 0] [1, 2, 2, 3] [1, 1, 1, 1] : memref<1x2x2x4xf32> to memref<1x2x2x3xf32, strided<[16, 8, 4, 1]>>
  memref.copy %s, %y : memref<1x2x2x3xf32, strided<[16, 8, 4, 1]>> to memref<1x2x2x3xf32>
  memref.copy %x, %z : memref<1x2x2x4xf32> to memref<1x2x2x4xf32>
  %t = memref.subview %x[0, 0, 0, 0] [1, 2, 2, 2] [1, 1, 1, 2] : memref<1x2x2x4xf32> to memref<1x2x2x2xf32, strided<[16, 8, 4, 2]>>
  memref.copy %t, %w : memref<1x2x2x2xf32, strided<[16, 8, 4, 2]>> to memref<1x2x2x2xf32>
  return
}

// An elementwise op on identity-layout buffers runs as one loop over all
// its elements (whole vectors for the vectorizer, whatever the innermost
// dimension); its 0-d inputs are loaded once, before the loop.
// CHECK-LABEL: func.func @flatten
// CHECK-SAME: (%[[X:.*]]: memref<2x3x4x1xf32>, %[[S:.*]]: memref<f32>, %[[Y:.*]]: memref<2x3x4x1xf32>)
// CHECK-DAG: %[[XF:.*]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1, 2, 3]] : memref<2x3x4x1xf32> into memref<24xf32>
// CHECK-DAG: %[[YF:.*]] = memref.collapse_shape %[[Y]] {{\[\[}}0, 1, 2, 3]] : memref<2x3x4x1xf32> into memref<24xf32>
// CHECK-DAG: %[[SV:.*]] = memref.load %[[S]][] : memref<f32>
// CHECK: affine.for %{{.*}} = 0 to 24 {
// CHECK: %[[A:.*]] = affine.load %[[XF]]
// CHECK: %[[M:.*]] = arith.mulf %[[A]], %[[SV]]
// CHECK: affine.store %[[M]], %[[YF]]
// CHECK-NEXT: }
// CHECK-NEXT: return
func.func @flatten(%x: memref<2x3x4x1xf32>, %s: memref<f32>, %y: memref<2x3x4x1xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> ()>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %s : memref<2x3x4x1xf32>, memref<f32>) outs(%y : memref<2x3x4x1xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  }
  return
}

// Per-channel inputs (a map that is neither the identity nor `()`) and
// bodies that read their indices keep their loop nest.
// CHECK-LABEL: func.func @no_flatten
// CHECK-NOT: memref.collapse_shape
// CHECK: affine.for %{{.*}} = 0 to 2 {
// CHECK-NEXT: affine.for %{{.*}} = 0 to 3 {
// CHECK: arith.mulf
// CHECK: affine.for %{{.*}} = 0 to 2 {
// CHECK-NEXT: affine.for %[[J:.*]] = 0 to 3 {
// CHECK: affine.store %[[J]]
func.func @no_flatten(%x: memref<2x3xf32>, %c: memref<3xf32>, %y: memref<2x3xf32>, %z: memref<2x3xindex>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %c : memref<2x3xf32>, memref<3xf32>) outs(%y : memref<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      outs(%z : memref<2x3xindex>) {
  ^bb0(%o: index):
    %i = linalg.index 1 : index
    linalg.yield %i : index
  }
  return
}

// The lane reduction of a per-tensor observer joined with the ReLU that
// produces its input: one loop over the rows on vectors of 16 lanes, the
// ranges carried in registers and stored once after the loop.
// CHECK-LABEL: func.func @lane_reduction
// CHECK-SAME: (%[[X:.*]]: memref<5x16xf32>, %[[Y:.*]]: memref<5x16xf32>, %[[MN:.*]]: memref<16xf32>, %[[MX:.*]]: memref<16xf32>)
// CHECK-DAG: %[[MN0:.*]] = vector.load %[[MN]][%{{.*}}] : memref<16xf32>, vector<16xf32>
// CHECK-DAG: %[[MX0:.*]] = vector.load %[[MX]][%{{.*}}] : memref<16xf32>, vector<16xf32>
// CHECK: %[[R:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %[[MN0]], %[[B:.*]] = %[[MX0]]) -> (vector<16xf32>, vector<16xf32>) {
// CHECK: %[[V:.*]] = vector.load %[[X]][%[[I]], %{{.*}}] : memref<5x16xf32>, vector<16xf32>
// CHECK: %[[RELU:.*]] = arith.maximumf %[[V]], %{{.*}} : vector<16xf32>
// CHECK: %[[NA:.*]] = arith.minnumf %[[A]], %[[RELU]] : vector<16xf32>
// CHECK: %[[NB:.*]] = arith.maxnumf %[[B]], %[[RELU]] : vector<16xf32>
// CHECK: vector.store %[[RELU]], %[[Y]][%[[I]], %{{.*}}]
// CHECK: scf.yield %[[NA]], %[[NB]]
// CHECK: vector.store %[[R]]#0, %[[MN]][%{{.*}}]
// CHECK: vector.store %[[R]]#1, %[[MX]][%{{.*}}]
// CHECK-NOT: affine.for
func.func @lane_reduction(%x: memref<5x16xf32>, %y: memref<5x16xf32>, %mn: memref<16xf32>, %mx: memref<16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<5x16xf32>) outs(%y, %mn, %mx : memref<5x16xf32>, memref<16xf32>, memref<16xf32>) {
  ^bb0(%a: f32, %o: f32, %l: f32, %h: f32):
    %zero = arith.constant 0.0 : f32
    %r = arith.maximumf %a, %zero : f32
    %nl = arith.minnumf %l, %r : f32
    %nh = arith.maxnumf %h, %r : f32
    linalg.yield %r, %nl, %nh : f32, f32, f32
  }
  return
}

// The lane reduction of a per-channel observer (channels x rows x 16,
// iterators (parallel, reduction, parallel)): a loop over the channels,
// inside it the per-tensor form on that channel's rows.
// CHECK-LABEL: func.func @lane_reduction_per_channel
// CHECK-SAME: (%[[X:.*]]: memref<3x5x16xf32>, %[[MN:.*]]: memref<3x16xf32>, %[[MX:.*]]: memref<3x16xf32>)
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-DAG: %[[MN0:.*]] = vector.load %[[MN]][%[[C]], %{{.*}}] : memref<3x16xf32>, vector<16xf32>
// CHECK-DAG: %[[MX0:.*]] = vector.load %[[MX]][%[[C]], %{{.*}}] : memref<3x16xf32>, vector<16xf32>
// CHECK: %[[R:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %[[MN0]], %[[B:.*]] = %[[MX0]]) -> (vector<16xf32>, vector<16xf32>) {
// CHECK: %[[V:.*]] = vector.load %[[X]][%[[C]], %[[I]], %{{.*}}] : memref<3x5x16xf32>, vector<16xf32>
// CHECK: %[[NA:.*]] = arith.minnumf %[[A]], %[[V]] : vector<16xf32>
// CHECK: %[[NB:.*]] = arith.maxnumf %[[B]], %[[V]] : vector<16xf32>
// CHECK: scf.yield %[[NA]], %[[NB]]
// CHECK: vector.store %[[R]]#0, %[[MN]][%[[C]], %{{.*}}]
// CHECK: vector.store %[[R]]#1, %[[MX]][%[[C]], %{{.*}}]
// CHECK-NOT: affine.for
func.func @lane_reduction_per_channel(%x: memref<3x5x16xf32>, %mn: memref<3x16xf32>, %mx: memref<3x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : memref<3x5x16xf32>) outs(%mn, %mx : memref<3x16xf32>, memref<3x16xf32>) {
  ^bb0(%a: f32, %l: f32, %h: f32):
    %nl = arith.minnumf %l, %a : f32
    %nh = arith.maxnumf %h, %a : f32
    linalg.yield %nl, %nh : f32, f32
  }
  return
}

// Rows over several reduction loops (the observer's reshape folded into the
// generic): the operand collapsed to channels x rows x 16 first.
// CHECK-LABEL: func.func @lane_reduction_rows_folded
// CHECK: %[[F:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3]] : memref<3x2x5x16xf32> into memref<3x10x16xf32>
// CHECK: scf.for %[[C:.*]] = %{{.*}} to %{{.*}} step
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: vector.load %[[F]][%[[C]], %[[I]], %{{.*}}] : memref<3x10x16xf32>, vector<16xf32>
// CHECK-NOT: affine.for
func.func @lane_reduction_rows_folded(%x: memref<3x2x5x16xf32>, %mn: memref<3x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d3)>], iterator_types = ["parallel", "reduction", "reduction", "parallel"]}
      ins(%x : memref<3x2x5x16xf32>) outs(%mn : memref<3x16xf32>) {
  ^bb0(%a: f32, %l: f32):
    %nl = arith.minnumf %l, %a : f32
    linalg.yield %nl : f32
  }
  return
}

// Not a lane reduction (lanes of 8, or a lane output indexed by the rows):
// loops as any reduction.
// CHECK-LABEL: func.func @lane_reduction_per_channel_not
// CHECK-NOT: vector.load
// CHECK: return
func.func @lane_reduction_per_channel_not(%x: memref<3x5x8xf32>, %mn: memref<3x8xf32>, %y: memref<3x5x16xf32>, %m2: memref<3x16xf32>, %m3: memref<5x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : memref<3x5x8xf32>) outs(%mn : memref<3x8xf32>) {
  ^bb0(%a: f32, %l: f32):
    %nl = arith.minnumf %l, %a : f32
    linalg.yield %nl : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%y : memref<3x5x16xf32>) outs(%m3 : memref<5x16xf32>) {
  ^bb0(%a: f32, %l: f32):
    %nl = arith.minnumf %l, %a : f32
    linalg.yield %nl : f32
  }
  return
}

// A copy into a fresh buffer copied on at once (a store into a global
// after qat-copy-global-stores) becomes one copy; a buffer with another
// use, or copies apart, stay.
// CHECK-LABEL: func.func @copy_chain
// CHECK-SAME: (%[[A:.*]]: memref<64xf32>, %[[G:.*]]: memref<64xf32>, %[[H:.*]]: memref<64xf32>, %[[K:.*]]: memref<64xf32>)
// CHECK: arith.constant 0.0
// CHECK-NEXT: memref.copy %[[A]], %[[G]]
// CHECK-NEXT: %[[T:.*]] = memref.alloc
// CHECK-NEXT: memref.copy %[[A]], %[[T]]
// CHECK-NEXT: memref.copy %[[T]], %[[H]]
// CHECK-NEXT: memref.copy %[[T]], %[[K]]
// CHECK-NEXT: memref.dealloc %[[T]]
// CHECK-NEXT: %[[U:.*]] = memref.alloc
// CHECK-NEXT: memref.copy %[[A]], %[[U]]
// CHECK-NEXT: memref.store
// CHECK-NEXT: memref.copy %[[U]], %[[H]]
// CHECK-NEXT: memref.dealloc %[[U]]
// CHECK-NEXT: return
func.func @copy_chain(%a: memref<64xf32>, %g: memref<64xf32>, %h: memref<64xf32>, %k: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %z = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<64xf32>
  memref.copy %a, %t : memref<64xf32> to memref<64xf32>
  memref.copy %t, %g : memref<64xf32> to memref<64xf32>
  memref.dealloc %t : memref<64xf32>
  %t2 = memref.alloc() : memref<64xf32>
  memref.copy %a, %t2 : memref<64xf32> to memref<64xf32>
  memref.copy %t2, %h : memref<64xf32> to memref<64xf32>
  memref.copy %t2, %k : memref<64xf32> to memref<64xf32>
  memref.dealloc %t2 : memref<64xf32>
  %t3 = memref.alloc() : memref<64xf32>
  memref.copy %a, %t3 : memref<64xf32> to memref<64xf32>
  memref.store %z, %a[%c0] : memref<64xf32>
  memref.copy %t3, %h : memref<64xf32> to memref<64xf32>
  memref.dealloc %t3 : memref<64xf32>
  return
}
