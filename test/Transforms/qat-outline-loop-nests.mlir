// RUN: qat-opt %s --qat-outline-loop-nests=min-nests=2 --split-input-file | FileCheck %s
// RUN: qat-opt %s --qat-outline-loop-nests=min-nests=3 --split-input-file | FileCheck %s --check-prefix=FEW
// RUN: qat-opt %s --qat-outline-loop-nests="min-nests=2 merge-identical=false" --split-input-file | FileCheck %s --check-prefix=APART

// Two nests: each becomes a noinline function taking what it uses from
// outside; index constants are copied in, not passed.
// CHECK-LABEL: func.func @main
// CHECK-SAME:    (%[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<4xf32>, %[[S:.*]]: f32)
// CHECK:         call @main_nest0(%[[S]], %[[A]]) : (f32, memref<4xf32>) -> ()
// CHECK-NEXT:    call @main_nest1(%[[A]], %[[B]]) : (memref<4xf32>, memref<4xf32>) -> ()
// CHECK-NEXT:    return
// CHECK:       func.func private @main_nest1(%[[A1:.*]]: memref<4xf32>, %[[B1:.*]]: memref<4xf32>) attributes {passthrough = ["noinline"]}
// CHECK:         affine.for %[[I:.*]] = 0 to 4 {
// CHECK:           affine.load %[[A1]][%[[I]]]
// CHECK:           affine.store %{{.*}}, %[[B1]][%[[I]]]
// CHECK:       func.func private @main_nest0(%[[S0:.*]]: f32, %[[A0:.*]]: memref<4xf32>) attributes {passthrough = ["noinline"]}
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[C4:.*]] = arith.constant 4 : index
// CHECK:         %[[C1:.*]] = arith.constant 1 : index
// CHECK:         scf.for %[[J:.*]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK:           memref.store %[[S0]], %[[A0]][%[[J]]]
// FEW-LABEL: func.func @main
// FEW:         scf.for
// FEW:         affine.for
// FEW-NOT:     call
func.func @main(%a: memref<4xf32>, %b: memref<4xf32>, %s: f32) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %c0 to %c4 step %c1 {
    memref.store %s, %a[%j] : memref<4xf32>
  }
  affine.for %i = 0 to 4 {
    %v = affine.load %a[%i] : memref<4xf32>
    %w = arith.addf %v, %v : f32
    affine.store %w, %b[%i] : memref<4xf32>
  }
  return
}

// -----

// Loops with results and ops other than loops stay.
// CHECK-LABEL: func.func @f
// CHECK:         %[[R:.*]] = scf.for
// CHECK:         memref.store
// CHECK:         call @f_nest0
// CHECK:         call @f_nest1
func.func @f(%a: memref<4xf32>, %x: f32) -> f32 {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %c4 step %c1 iter_args(%acc = %x) -> f32 {
    %v = memref.load %a[%i] : memref<4xf32>
    %n = arith.addf %acc, %v : f32
    scf.yield %n : f32
  }
  memref.store %r, %a[%c0] : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    memref.store %x, %a[%i] : memref<4xf32>
  }
  affine.for %i = 0 to 4 {
    affine.store %r, %a[%i] : memref<4xf32>
  }
  return %r : f32
}

// -----

// Nests that are the same but for their locations and operands call one
// function; a nest with another constant (copied in) or another operand
// type gets its own.
// CHECK-LABEL: func.func @same
// CHECK-SAME:    (%[[A:.*]]: memref<8xf32>, %[[B:.*]]: memref<8xf32>, %[[C:.*]]: memref<8xf32>, %[[D:.*]]: memref<4xf32>)
// CHECK:         call @same_nest0(%[[A]], %[[B]])
// CHECK-NEXT:    call @same_nest0(%[[B]], %[[C]])
// CHECK-NEXT:    call @same_nest2(%[[C]], %[[A]])
// CHECK-NEXT:    call @same_nest3(%[[D]])
// CHECK-NEXT:    call @same_nest0(%[[C]], %[[B]])
// CHECK-NEXT:    return
// CHECK-DAG:   func.func private @same_nest0(
// CHECK-DAG:   func.func private @same_nest2(
// CHECK-DAG:   func.func private @same_nest3(
// CHECK-NOT:   func.func private @same_nest1(
// CHECK-NOT:   func.func private @same_nest4(
// FEW-LABEL: func.func @same
// FEW:         call @same_nest0
// APART-LABEL: func.func @same
// APART-COUNT-5: call @same_nest{{[0-4]}}(
// APART-COUNT-5: func.func private @same_nest
func.func @same(%a: memref<8xf32>, %b: memref<8xf32>, %c: memref<8xf32>, %d: memref<4xf32>) {
  %two = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  affine.for %i = 0 to 8 {
    %v = affine.load %a[%i] : memref<8xf32> loc("first")
    %w = arith.mulf %v, %two : f32 loc("first")
    affine.store %w, %b[%i] : memref<8xf32> loc("first")
  } loc("first")
  affine.for %i = 0 to 8 {
    %v = affine.load %b[%i] : memref<8xf32> loc("second")
    %w = arith.mulf %v, %two : f32 loc("second")
    affine.store %w, %c[%i] : memref<8xf32> loc("second")
  } loc("second")
  affine.for %i = 0 to 8 {
    %v = affine.load %c[%i] : memref<8xf32>
    %w = arith.mulf %v, %three : f32
    affine.store %w, %a[%i] : memref<8xf32>
  }
  affine.for %i = 0 to 4 {
    %v = affine.load %d[%i] : memref<4xf32>
    %w = arith.mulf %v, %two : f32
    affine.store %w, %d[%i] : memref<4xf32>
  }
  affine.for %i = 0 to 8 {
    %v = affine.load %c[%i] : memref<8xf32>
    %w = arith.mulf %v, %two : f32
    affine.store %w, %b[%i] : memref<8xf32>
  }
  return
}
