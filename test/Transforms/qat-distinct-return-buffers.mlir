// RUN: qat-opt %s -qat-distinct-return-buffers | FileCheck %s

// CHECK-LABEL: func.func @repeated
// CHECK-SAME: (%[[A:.*]]: memref<4xf32>, %[[D:.*]]: memref<?xf32>)
// CHECK: %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK: memref.copy %[[A]], %[[B]]
// CHECK: %[[N:.*]] = memref.dim %[[D]], %c0
// CHECK: %[[E:.*]] = memref.alloc(%[[N]]) : memref<?xf32>
// CHECK: memref.copy %[[D]], %[[E]]
// CHECK: return %[[A]], %[[B]], %[[D]], %[[E]]
func.func @repeated(%a: memref<4xf32>, %d: memref<?xf32>) -> (memref<4xf32>, memref<4xf32>, memref<?xf32>, memref<?xf32>) {
  return %a, %a, %d, %d : memref<4xf32>, memref<4xf32>, memref<?xf32>, memref<?xf32>
}

// Distinct results are left alone.
// CHECK-LABEL: func.func @distinct
// CHECK-NOT: memref.alloc
// CHECK: return
func.func @distinct(%a: memref<4xf32>, %b: memref<4xf32>) -> (memref<4xf32>, memref<4xf32>) {
  return %a, %b : memref<4xf32>, memref<4xf32>
}
