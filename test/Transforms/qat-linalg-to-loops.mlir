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
