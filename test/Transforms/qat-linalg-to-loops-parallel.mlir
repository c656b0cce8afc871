// RUN: qat-opt %s -qat-linalg-to-loops="parallel=true min-parallel-elements=1000" | FileCheck %s

// CHECK-DAG: #[[$LO:.*]] = affine_map<(d0) -> (d0 * 64)>
// CHECK-DAG: #[[$HI:.*]] = affine_map<(d0) -> (d0 * 64 + 64)>

// With parallel, an elementwise op of at least min-parallel-elements
// elements (flattened to one loop) runs as affine.parallel over chunks of
// 16 x floor(n / 256) elements, then the n mod chunk last ones; a copy
// between contiguous buffers likewise (one element at a time, which the
// vectorizer widens). n = 4 x 300 = 1200: chunk 64, 18 chunks, 48 last.
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[X:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1]] : memref<4x300xf32> into memref<1200xf32>
// CHECK: %[[Y:.*]] = memref.collapse_shape %{{.*}} {{\[\[}}0, 1]] : memref<4x300xf32> into memref<1200xf32>
// CHECK: affine.parallel (%[[T:.*]]) = (0) to (18) {
// CHECK-NEXT: affine.for %[[I:.*]] = #[[$LO]](%[[T]]) to #[[$HI]](%[[T]]) {
// CHECK: affine.load %[[X]]
// CHECK: arith.mulf
// CHECK: affine.store %{{.*}}, %[[Y]]
// CHECK: affine.for %[[J:.*]] = 1152 to 1200 {
// CHECK: affine.load %[[X]]
// CHECK: affine.parallel (%{{.*}}) = (0) to (18) {
// CHECK: affine.load
// CHECK-NEXT: affine.store
// CHECK: affine.for %{{.*}} = 1152 to 1200 {
// Below the threshold: one loop.
// CHECK-NOT: affine.parallel
// CHECK: affine.for %{{.*}} = 0 to 512 {
// CHECK-NOT: affine.parallel
// CHECK: return
func.func @elementwise(%x: memref<4x300xf32>, %y: memref<4x300xf32>, %z: memref<4x300xf32>, %s: memref<512xf32>, %t: memref<512xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x300xf32>) outs(%y : memref<4x300xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  }
  memref.copy %y, %z : memref<4x300xf32> to memref<4x300xf32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%s : memref<512xf32>) outs(%t : memref<512xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  }
  return
}
