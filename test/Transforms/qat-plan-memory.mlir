// RUN: qat-opt %s --split-input-file --qat-plan-memory=arena=call | FileCheck %s --check-prefix=CALL
// RUN: qat-opt %s --split-input-file --qat-plan-memory | FileCheck %s --check-prefix=STATIC
// RUN: qat-opt %s --split-input-file --qat-plan-memory --convert-scf-to-cf --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --convert-cf-to-llvm --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM
// RUN: not qat-opt %s --qat-plan-memory=arena=heap 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: for the --arena option: Cannot find option named 'heap'

// A chain: %a is dead once %b is written, so %c takes %a's bytes; %b, live
// together with both, takes others. The arena is 128 bytes, not 192.
// CALL-LABEL: func.func @chain
// CALL:      %[[ARENA:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// CALL:      %[[O1:.*]] = arith.constant 0 : index
// CALL-NEXT: %[[A:.*]] = memref.view %[[ARENA]][%[[O1]]][] : memref<128xi8> to memref<64xi8>
// CALL:      %[[O2:.*]] = arith.constant 64 : index
// CALL-NEXT: %[[B:.*]] = memref.view %[[ARENA]][%[[O2]]][] : memref<128xi8> to memref<16xi32>
// CALL:      memref.store %{{.*}}, %[[B]]
// CALL-NEXT: %[[O3:.*]] = arith.constant 0 : index
// CALL-NEXT: %[[C:.*]] = memref.view %[[ARENA]][%[[O3]]][] : memref<128xi8> to memref<64xi8>
// CALL-NOT:  memref.alloc
// CALL-NOT:  memref.dealloc %[[A]]
// CALL-NOT:  memref.dealloc %[[B]]
// CALL-NOT:  memref.dealloc %[[C]]
// CALL:      memref.dealloc %[[ARENA]] : memref<128xi8>
// CALL-NEXT: return

// The arena is a global; a flag taken by an atomic exchange says whether a
// call is using it (then this call allocates its own).
// STATIC-DAG:   memref.global "private" @__qat_arena_chain_in_use : memref<1xi32> = dense<0>
// STATIC-DAG:   memref.global "private" @__qat_arena_chain : memref<128xi8> = uninitialized {alignment = 64 : i64}
// STATIC-LABEL: func.func @chain
// STATIC:       %[[FLAG:.*]] = memref.get_global @__qat_arena_chain_in_use : memref<1xi32>
// STATIC:       %[[WAS:.*]] = memref.atomic_rmw assign %{{.*}}, %[[FLAG]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// STATIC:       %[[FREE:.*]] = arith.cmpi eq, %[[WAS]], %{{.*}} : i32
// STATIC:       %[[ARENA:.*]] = scf.if %[[FREE]] -> (memref<128xi8>) {
// STATIC-NEXT:    %[[G:.*]] = memref.get_global @__qat_arena_chain : memref<128xi8>
// STATIC-NEXT:    scf.yield %[[G]]
// STATIC-NEXT:  } else {
// STATIC-NEXT:    %[[OWN:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// STATIC-NEXT:    scf.yield %[[OWN]]
// STATIC:       memref.view %[[ARENA]]
// STATIC:       scf.if %[[FREE]] {
// STATIC:         memref.atomic_rmw assign %{{.*}}, %[[FLAG]]
// STATIC-NEXT:  } else {
// STATIC-NEXT:    memref.dealloc %[[ARENA]] : memref<128xi8>
// STATIC-NEXT:  }
// STATIC-NEXT:  return

// LLVM-DAG: llvm.mlir.global private @__qat_arena_chain() {addr_space = 0 : i32, alignment = 64 : i64} : !llvm.array<128 x i8>
// LLVM-DAG: llvm.atomicrmw xchg %{{.*}}, %{{.*}} acq_rel : !llvm.ptr, i32
func.func @chain(%x: memref<64xi8>, %y: memref<64xi8>) {
  %a = memref.alloc() : memref<64xi8>
  memref.copy %x, %a : memref<64xi8> to memref<64xi8>
  %b = memref.alloc() : memref<16xi32>
  %c0 = arith.constant 0 : index
  %v = memref.load %a[%c0] : memref<64xi8>
  %w = arith.extsi %v : i8 to i32
  memref.store %w, %b[%c0] : memref<16xi32>
  memref.dealloc %a : memref<64xi8>
  %c = memref.alloc() : memref<64xi8>
  %u = memref.load %b[%c0] : memref<16xi32>
  %t = arith.trunci %u : i32 to i8
  memref.store %t, %c[%c0] : memref<64xi8>
  memref.dealloc %b : memref<16xi32>
  memref.copy %c, %y : memref<64xi8> to memref<64xi8>
  memref.dealloc %c : memref<64xi8>
  return
}

// -----

// Buffers that outlive the call or whose lifetime the pass cannot see stay
// allocations: a returned one, a dynamic one, one deallocated in a branch,
// one passed to a call, one asking for more alignment than the arena's 64
// bytes. A buffer read through a view is live until the
// view's last use: %v and %w are both live at the first copy.
// CALL-LABEL: func.func @kept
// CALL:      %[[ARENA:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// CALL:      %[[R:.*]] = memref.alloc() : memref<8xf32>
// CALL:      %[[D:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CALL:      %[[S:.*]] = memref.alloc() : memref<8xf32>
// CALL:      %[[E:.*]] = memref.alloc() : memref<8xf32>
// CALL:      call @use(%[[E]])
// CALL:      memref.dealloc %[[E]]
// CALL:      %[[G:.*]] = memref.alloc() {alignment = 128 : i64} : memref<8xf32>
// CALL-NEXT: memref.dealloc %[[G]]
// CALL:      %[[V:.*]] = memref.view %[[ARENA]][%{{.*}}][] : memref<128xi8> to memref<4x2xf32>
// CALL:      %[[FLAT:.*]] = memref.collapse_shape %[[V]]
// CALL:      %[[C64:.*]] = arith.constant 64 : index
// CALL-NEXT: %[[W:.*]] = memref.view %[[ARENA]][%[[C64]]][] : memref<128xi8> to memref<8xf32>
// CALL:      memref.copy %[[FLAT]], %[[W]]
// CALL:      memref.copy %[[W]], %[[R]]
// CALL-NEXT: memref.dealloc %[[ARENA]]
// CALL-NEXT: return %[[R]]
func.func private @use(memref<8xf32>)
func.func @kept(%x: memref<8xf32>, %n: index, %cond: i1) -> memref<8xf32> {
  %r = memref.alloc() : memref<8xf32>
  %d = memref.alloc(%n) : memref<?xf32>
  memref.dealloc %d : memref<?xf32>
  %s = memref.alloc() : memref<8xf32>
  scf.if %cond {
    memref.dealloc %s : memref<8xf32>
  }
  %e = memref.alloc() : memref<8xf32>
  func.call @use(%e) : (memref<8xf32>) -> ()
  memref.dealloc %e : memref<8xf32>
  %g = memref.alloc() {alignment = 128 : i64} : memref<8xf32>
  memref.dealloc %g : memref<8xf32>
  %v = memref.alloc() : memref<4x2xf32>
  %flat = memref.collapse_shape %v [[0, 1]] : memref<4x2xf32> into memref<8xf32>
  %w = memref.alloc() : memref<8xf32>
  memref.copy %flat, %w : memref<8xf32> to memref<8xf32>
  memref.dealloc %v : memref<4x2xf32>
  memref.copy %w, %r : memref<8xf32> to memref<8xf32>
  memref.dealloc %w : memref<8xf32>
  return %r : memref<8xf32>
}
