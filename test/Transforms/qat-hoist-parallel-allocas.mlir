// RUN: qat-opt %s --qat-hoist-parallel-allocas | FileCheck %s

// The static buffer of a work-sharing loop's body moves to the start of the
// omp.parallel region (one per thread); the scope around the body, left
// without allocations, is inlined.
// CHECK-LABEL: func.func @body
// CHECK: omp.parallel
// CHECK-NEXT: %[[S:.*]] = memref.alloca() {alignment = 64 : i64} : memref<256xi32>
// CHECK: omp.loop_nest
// CHECK-NOT: memref.alloca_scope
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[S]]
// CHECK: omp.yield
func.func @body(%a: memref<4096xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.alloca_scope {
          %s = memref.alloca() {alignment = 64 : i64} : memref<256xi32>
          scf.for %j = %c0 to %c16 step %c1 {
            %v = memref.load %a[%j] : memref<4096xi32>
            memref.store %v, %s[%j] : memref<256xi32>
          }
          %w = memref.load %s[%i] : memref<256xi32>
          memref.store %w, %a[%i] : memref<4096xi32>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// A buffer of dynamic size stays, and so does its scope; allocations
// outside omp.parallel are not touched.
// CHECK-LABEL: func.func @dynamic
// CHECK: memref.alloca() : memref<16xi32>
// CHECK: omp.parallel
// CHECK-NEXT: omp.wsloop
// CHECK: memref.alloca_scope
// CHECK-NEXT: memref.alloca(%{{.*}}) : memref<?xi32>
func.func @dynamic(%a: memref<4096xi32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %t = memref.alloca() : memref<16xi32>
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c4) step (%c1) {
        memref.alloca_scope {
          %s = memref.alloca(%n) : memref<?xi32>
          %w = memref.load %s[%i] : memref<?xi32>
          memref.store %w, %a[%i] : memref<4096xi32>
          memref.store %w, %t[%i] : memref<16xi32>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
