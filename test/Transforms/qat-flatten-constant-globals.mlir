// RUN: qat-opt %s --qat-flatten-constant-globals --split-input-file | FileCheck %s

// A rank-4 constant becomes rank 1, read through expand_shape; every reader
// gets its own view.
// CHECK-LABEL: memref.global "private" constant @w : memref<12xi8> = dense<[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]>
// CHECK-LABEL: func.func @f
// CHECK:         %[[FLAT:.*]] = memref.get_global @w : memref<12xi8>
// CHECK:         %[[W:.*]] = memref.expand_shape %[[FLAT]] {{\[\[}}0, 1, 2, 3]] output_shape [2, 1, 3, 2] : memref<12xi8> into memref<2x1x3x2xi8>
// CHECK:         memref.copy %[[W]], %arg0
// CHECK-LABEL: func.func @g
// CHECK:         memref.get_global @w : memref<12xi8>
// CHECK-NEXT:    memref.expand_shape
memref.global "private" constant @w : memref<2x1x3x2xi8> = dense<[[[[1, 2], [3, 4], [5, 6]]], [[[7, 8], [9, 10], [11, 12]]]]>
func.func @f(%out: memref<2x1x3x2xi8>) {
  %w = memref.get_global @w : memref<2x1x3x2xi8>
  memref.copy %w, %out : memref<2x1x3x2xi8> to memref<2x1x3x2xi8>
  return
}
func.func @g(%out: memref<2x1x3x2xi8>) {
  %w = memref.get_global @w : memref<2x1x3x2xi8>
  memref.copy %w, %out : memref<2x1x3x2xi8> to memref<2x1x3x2xi8>
  return
}

// -----

// A splat keeps its one value; a dense_resource keeps its blob.
// CHECK-LABEL: memref.global "private" constant @s : memref<64xf32> = dense<1.500000e+00>
// CHECK-LABEL: memref.global "private" constant @r : memref<4xi32> = dense_resource<blob> {alignment = 64 : i64}
memref.global "private" constant @s : memref<4x16xf32> = dense<1.5>
memref.global "private" constant @r : memref<2x2xi32> = dense_resource<blob> {alignment = 64 : i64}
func.func @f() -> (memref<4x16xf32>, memref<2x2xi32>) {
  %s = memref.get_global @s : memref<4x16xf32>
  %r = memref.get_global @r : memref<2x2xi32>
  return %s, %r : memref<4x16xf32>, memref<2x2xi32>
}
{-#
  dialect_resources: {
    builtin: {
      blob: "0x0400000001000000020000000300000004000000"
    }
  }
#-}

// -----

// Left alone: mutable, uninitialized, rank 1, or read by something other
// than memref.get_global.
// CHECK-LABEL: memref.global "private" @m : memref<2x2xf32> = dense<0.000000e+00>
// CHECK-LABEL: memref.global "private" constant @u : memref<2x2xf32>{{$}}
// CHECK-LABEL: memref.global "private" constant @v : memref<4xf32> = dense<2.000000e+00>
memref.global "private" @m : memref<2x2xf32> = dense<0.0>
memref.global "private" constant @u : memref<2x2xf32>
memref.global "private" constant @v : memref<4xf32> = dense<2.0>
func.func @f() -> (memref<2x2xf32>, memref<2x2xf32>, memref<4xf32>) {
  %m = memref.get_global @m : memref<2x2xf32>
  %u = memref.get_global @u : memref<2x2xf32>
  %v = memref.get_global @v : memref<4xf32>
  return %m, %u, %v : memref<2x2xf32>, memref<2x2xf32>, memref<4xf32>
}
