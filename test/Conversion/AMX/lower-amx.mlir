// RUN: qat-opt %s --split-input-file --qat-lower-amx | FileCheck %s
// RUN: qat-opt %s --split-input-file --qat-lower-amx=emulate | FileCheck %s --check-prefix=EMU
// RUN: qat-opt %s --split-input-file --qat-lower-amx="emulate check-bounds=false" | FileCheck %s --check-prefix=NOCHECK

// An accumulator carried by a loop: two A and B tiles (1-D memrefs with an
// explicit stride in elements), tdpbusd, a store of 16 rows of 16 int32.
// CHECK-LABEL: func.func @acc
// CHECK: %[[Z:.*]] = llvm.call_intrinsic "llvm.x86.tilezero.internal"({{.*}}) : (i16, i16) -> !llvm.x86_amx
// CHECK: scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[Z]]) -> (!llvm.x86_amx)
// CHECK: %[[A:.*]] = llvm.call_intrinsic "llvm.x86.tileloadd64.internal"
// CHECK: %[[B:.*]] = llvm.call_intrinsic "llvm.x86.tileloadd64.internal"
// CHECK: %[[C:.*]] = llvm.call_intrinsic "llvm.x86.tdpbusd.internal"({{.*}}, %[[ACC]], %[[A]], %[[B]])
// CHECK: scf.yield %[[C]] : !llvm.x86_amx
// CHECK: llvm.call_intrinsic "llvm.x86.tilestored64.internal"
// CHECK-NOT: amx.

// Emulated: tiles are vectors; each tile row a vector.load / store from
// base + row * stride, checked against the memref first; tile_muli a call
// of the module's helper for its shape and signedness.
// EMU-LABEL: func.func @acc
// EMU: %[[Z:.*]] = arith.constant dense<0> : vector<16x16xi32>
// EMU: scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[Z]]) -> (vector<16x16xi32>)
// EMU: scf.if
// EMU-NEXT: llvm.call @__qat_amx_emulated_fault()
// EMU: vector.load %arg0[%{{.*}}] : memref<4096xi8>, vector<64xi8>
// EMU-COUNT-15: vector.load %arg0
// EMU: %[[C:.*]] = func.call @__qat_amx_emulated_tdpbusd_16x16x16(%[[ACC]], %{{.*}}, %{{.*}}) : (vector<16x16xi32>, vector<16x64xi8>, vector<16x64xi8>) -> vector<16x16xi32>
// EMU: scf.yield %[[C]] : vector<16x16xi32>
// EMU: vector.store %{{.*}}, %arg2[%{{.*}}] : memref<256xi32>, vector<16xi32>
// EMU-NOT: amx.
// The bounds check of a load at %off with stride 64: off >= 0 and
// off + 64 * 15 + 64 <= 4096.
// NOCHECK-LABEL: func.func @acc
// NOCHECK-NOT: __qat_amx_emulated_fault
// NOCHECK: func.call @__qat_amx_emulated_tdpbusd_16x16x16
func.func @acc(%a: memref<4096xi8>, %b: memref<2048xi8>, %c: memref<256xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %c1024 = arith.constant 1024 : index
  %z = amx.tile_zero : !amx.tile<16x16xi32>
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %z) -> (!amx.tile<16x16xi32>) {
    %off = arith.muli %i, %c1024 : index
    %ta = amx.tile_load %a[%off], %c64 : memref<4096xi8> into !amx.tile<16x64xi8>
    %tb = amx.tile_load %b[%off], %c64 : memref<2048xi8> into !amx.tile<16x64xi8>
    %n = amx.tile_muli %ta zext, %tb, %acc : !amx.tile<16x64xi8>, !amx.tile<16x64xi8>, !amx.tile<16x16xi32>
    scf.yield %n : !amx.tile<16x16xi32>
  }
  amx.tile_store %c[%c0], %r, %c16 : memref<256xi32>, !amx.tile<16x16xi32>
  return
}

// The fault function: a message to stderr (fd 2), then abort.
// EMU-LABEL: llvm.func internal @__qat_amx_emulated_fault()
// EMU: llvm.call @write
// EMU: llvm.call @abort
// The helper: the tiles to stack buffers, a loop over the 16 rows of A and
// one over its 16 groups of 4 bytes: the group broadcast to 16 lanes, times
// B's row widened (A zero-extended, B sign-extended for tdpbusd), the 4
// products of each lane added to the accumulator row.
// EMU-LABEL: func.func private @__qat_amx_emulated_tdpbusd_16x16x16(%{{.*}}: vector<16x16xi32>, %{{.*}}: vector<16x64xi8>, %{{.*}}: vector<16x64xi8>) -> vector<16x16xi32>
// EMU: memref.alloca() : memref<16x16xi32>
// EMU: memref.alloca() : memref<16x64xi8>
// EMU: scf.for
// EMU: scf.for
// EMU: memref.load %{{.*}} : memref<16x16xi32>
// EMU: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// EMU: vector.bitcast %{{.*}} : vector<16xi32> to vector<64xi8>
// EMU: arith.extui %{{.*}} : vector<64xi8> to vector<64xi32>
// EMU: arith.extsi %{{.*}} : vector<64xi8> to vector<64xi32>
// EMU: arith.muli
// EMU: vector.shuffle %{{.*}}, %{{.*}} [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60]
// EMU: vector.shuffle %{{.*}}, %{{.*}} [3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63]

// -----

// Signed A (no zext): tdpbssd; its helper sign-extends both.
// CHECK-LABEL: func.func @signed
// CHECK: llvm.call_intrinsic "llvm.x86.tdpbssd.internal"
// EMU-LABEL: func.func @signed
// EMU: call @__qat_amx_emulated_tdpbssd_16x16x16
// EMU-LABEL: func.func private @__qat_amx_emulated_tdpbssd_16x16x16
// EMU-NOT: arith.extui
// EMU: arith.extsi
// EMU-NOT: arith.extui
// EMU: return
func.func @signed(%a: memref<16x64xi8>, %b: memref<16x64xi8>, %c: memref<16x16xi32>) {
  %c0 = arith.constant 0 : index
  %ta = amx.tile_load %a[%c0, %c0] : memref<16x64xi8> into !amx.tile<16x64xi8>
  %tb = amx.tile_load %b[%c0, %c0] : memref<16x64xi8> into !amx.tile<16x64xi8>
  %z = amx.tile_zero : !amx.tile<16x16xi32>
  %n = amx.tile_muli %ta, %tb, %z : !amx.tile<16x64xi8>, !amx.tile<16x64xi8>, !amx.tile<16x16xi32>
  amx.tile_store %c[%c0, %c0], %n : memref<16x16xi32>, !amx.tile<16x16xi32>
  return
}
