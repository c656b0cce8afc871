// RUN: qat-opt %s --split-input-file --qat-store-globals-in-place | FileCheck %s

#id = affine_map<(d0) -> (d0)>
#s = affine_map<(d0) -> ()>
memref.global "private" @w : memref<4xf32> = dense<1.0>
memref.global "private" @b : memref<4xf32> = dense<0.0>

// An SGD step as the train step bufferizes: the momentum update and the
// parameter update, each copied into its global through a fresh buffer.
// Both generics now write their globals; the parameter update reads the
// momentum global where it read the momentum buffer.
// CHECK-LABEL: func.func @sgd
// CHECK-NOT: memref.alloc
// CHECK: memref.get_global @w
// CHECK: memref.get_global @b
// CHECK: %[[B2:.*]] = memref.get_global @b
// CHECK: linalg.generic {{.*}} outs(%[[B2]] : memref<4xf32>)
// CHECK: %[[W2:.*]] = memref.get_global @w
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[B2]], %{{.*}} : {{.*}}) outs(%[[W2]] : memref<4xf32>)
// CHECK-NOT: memref.copy
// CHECK-NOT: memref.dealloc
// CHECK: return
func.func @sgd(%g: memref<4xf32>, %lr: memref<f32>) {
  %w = memref.get_global @w : memref<4xf32>
  %b = memref.get_global @b : memref<4xf32>
  %cst = arith.constant 0.9 : f32
  %nb = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%g, %b : memref<4xf32>, memref<4xf32>) outs(%nb : memref<4xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %m = math.fma %bi, %cst, %gi : f32
    linalg.yield %m : f32
  }
  %nw = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id, #s, #id], iterator_types = ["parallel"]}
      ins(%w, %nb, %lr : memref<4xf32>, memref<4xf32>, memref<f32>) outs(%nw : memref<4xf32>) {
  ^bb0(%wi: f32, %bi: f32, %l: f32, %o: f32):
    %n = arith.negf %l : f32
    %r = math.fma %bi, %n, %wi : f32
    linalg.yield %r : f32
  }
  %t1 = memref.alloc() : memref<4xf32>
  memref.copy %nw, %t1 : memref<4xf32> to memref<4xf32>
  memref.copy %t1, %w : memref<4xf32> to memref<4xf32>
  %t2 = memref.alloc() : memref<4xf32>
  memref.copy %nb, %t2 : memref<4xf32> to memref<4xf32>
  memref.copy %t2, %b : memref<4xf32> to memref<4xf32>
  memref.dealloc %nw : memref<4xf32>
  memref.dealloc %nb : memref<4xf32>
  memref.dealloc %t1 : memref<4xf32>
  memref.dealloc %t2 : memref<4xf32>
  return
}

// -----

#id = affine_map<(d0) -> (d0)>
memref.global "private" @w : memref<4xf32> = dense<1.0>

// The update computed in place of the gradient (bufferization reused its
// buffer): the gradient's writer and the update's read of it stay on the
// buffer, the update writes the global, the buffer stays allocated.
// CHECK-LABEL: func.func @reuse
// CHECK: %[[W:.*]] = memref.get_global @w
// CHECK: %[[T:.*]] = memref.alloc()
// CHECK: linalg.generic {{.*}} outs(%[[T]] : memref<4xf32>)
// CHECK: %[[W2:.*]] = memref.get_global @w
// CHECK: linalg.generic {{.*}} ins(%[[W]], %[[T]] : {{.*}}) outs(%[[W2]] : memref<4xf32>)
// CHECK-NOT: memref.copy
// CHECK: memref.dealloc %[[T]]
func.func @reuse(%x: memref<4xf32>) {
  %w = memref.get_global @w : memref<4xf32>
  %t = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%t : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.mulf %a, %a : f32
    linalg.yield %d : f32
  }
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%w, %t : memref<4xf32>, memref<4xf32>) outs(%t : memref<4xf32>) {
  ^bb0(%a: f32, %g: f32, %o: f32):
    %d = arith.subf %a, %g : f32
    linalg.yield %d : f32
  }
  memref.copy %t, %w : memref<4xf32> to memref<4xf32>
  memref.dealloc %t : memref<4xf32>
  return
}

// -----

#id = affine_map<(d0) -> (d0)>
#rev = affine_map<(d0) -> (3 - d0)>
memref.global "private" @w : memref<4xf32> = dense<1.0>
memref.global "private" @v : memref<4xf32> = dense<1.0>
memref.global @pub : memref<4xf32> = dense<1.0>

// Left alone: the generic reads the global at another element (the copy
// kept the old values until every element was computed); the global read
// between the generic and the copy; a public global; the buffer read after
// the copy; the generic reading its output's old value.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-5: memref.copy
// CHECK-NOT: memref.copy
func.func @kept(%out: memref<4xf32>) {
  %w = memref.get_global @w : memref<4xf32>
  %t = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#rev, #id], iterator_types = ["parallel"]}
      ins(%w : memref<4xf32>) outs(%t : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  memref.copy %t, %w : memref<4xf32> to memref<4xf32>

  %v = memref.get_global @v : memref<4xf32>
  %u = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%v : memref<4xf32>) outs(%u : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  }
  memref.copy %v, %out : memref<4xf32> to memref<4xf32>
  memref.copy %u, %v : memref<4xf32> to memref<4xf32>

  %p = memref.get_global @pub : memref<4xf32>
  %q = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : memref<4xf32>) outs(%q : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  }
  memref.copy %q, %p : memref<4xf32> to memref<4xf32>

  %r = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%out : memref<4xf32>) outs(%r : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %o : f32
    linalg.yield %d : f32
  }
  memref.copy %r, %w : memref<4xf32> to memref<4xf32>
  return
}

// -----

#id = affine_map<(d0) -> (d0)>
memref.global "private" @w : memref<4xf32> = dense<1.0>

// Left alone: the fresh buffer is read after the copy, and an unknown op
// (a call) runs between the generic and the copy.
// CHECK-LABEL: func.func @kept_uses
// CHECK-COUNT-2: memref.copy %{{.*}}, %{{.*}} : memref<4xf32> to memref<4xf32>
func.func private @opaque(memref<4xf32>)
func.func @kept_uses(%x: memref<4xf32>, %out: memref<4xf32>) {
  %w = memref.get_global @w : memref<4xf32>
  %t = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%t : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  memref.copy %t, %w : memref<4xf32> to memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%t : memref<4xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  %u = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%u : memref<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  func.call @opaque(%x) : (memref<4xf32>) -> ()
  memref.copy %u, %w : memref<4xf32> to memref<4xf32>
  return
}
