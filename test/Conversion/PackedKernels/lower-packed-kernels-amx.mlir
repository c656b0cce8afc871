// RUN: qat-opt %s --qat-lower-packed-kernels | FileCheck %s
// RUN: qat-opt %s --qat-lower-packed-kernels="parallel" | FileCheck %s --check-prefix=PAR

// Weights in the tile layout (qat-pack-amx-weights) make the AMX kernel:
// every tile 16 rows of 64 bytes.
//
// A 3x3 conv, pad 1, on 8 x 8 x 16 signed codes -> 32 channels (2 blocks):
// a padded unsigned copy (10 x 10 pixels of 16 bytes = 1600 bytes), with
// room for what the last tile reads past it: the output pixels are the
// rows v = oy * 10 + ox of the padded image (78 rows, 5 tiles of 16, rows
// with ox >= 8 dropped), tile 4's row 15 at byte 79 * 16, its last kernel
// row 2 * 10 * 16 further, 64 bytes: 1648, so 1664 bytes allocated.
// CHECK-LABEL: func.func @conv
// CHECK: %[[P:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1664xi8>
// CHECK: %[[ACC:.*]] = memref.alloca() {alignment = 64 : i64} : memref<1024xi32>
// Groups of 2 tiles of pixels by 2 blocks: 4 accumulators from zero,
// carried over kernel rows and the kernel row's K tiles (one: 3 x 4 groups
// of 4 channels, padded to 16).
// CHECK: amx.tile_zero : !amx.tile<16x16xi32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %c3{{.*}} iter_args(
// CHECK: scf.for
// B tiles: 1 KB each, rows of 64 bytes.
// CHECK: amx.tile_load %{{.*}}[%{{.*}}], %c64{{.*}} : memref<6144xi8> into !amx.tile<16x64xi8>
// CHECK: amx.tile_load %{{.*}}[%{{.*}}], %c64{{.*}} : memref<6144xi8> into !amx.tile<16x64xi8>
// A tiles: 16 pixels of the copy, 16 bytes apart, 64 bytes each (the
// kernel row's 3 pixels x 16 channels and 16 bytes that meet zero weights).
// CHECK: %[[A:.*]] = amx.tile_load %[[P]][%{{.*}}], %c16{{.*}} : memref<1664xi8> into !amx.tile<16x64xi8>
// CHECK: amx.tile_muli %[[A]] zext, %{{.*}}, %{{.*}} : !amx.tile<16x64xi8>, !amx.tile<16x64xi8>, !amx.tile<16x16xi32>
// CHECK: amx.tile_muli %[[A]] zext
// CHECK: amx.tile_load %[[P]]
// CHECK-COUNT-2: amx.tile_muli
// CHECK: scf.yield
// The accumulators to the stack, 16 int32 per row; the epilogue per row of
// each block: rows that are not output pixels (ox >= 8) skipped.
// CHECK-COUNT-4: amx.tile_store %[[ACC]][%{{.*}}], %{{.*}}, %c16{{.*}} : memref<1024xi32>, !amx.tile<16x16xi32>
// CHECK: scf.for
// CHECK: scf.if
// CHECK: vector.load %[[ACC]]
// CHECK: arith.addi
// CHECK: arith.sitofp
// Then tile 4 alone (static), and the copy is released.
// CHECK: memref.dealloc %[[P]] : memref<1664xi8>
// PAR-LABEL: func.func @conv
// PAR: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%c4{{.*}}, %c2{{.*}}) step (%c2{{.*}}, %c2{{.*}})
// PAR: memref.alloca() {alignment = 64 : i64} : memref<1024xi32>
// PAR: amx.tile_zero
func.func @conv(%x: memref<1x8x8x16xi8>, %w: memref<2x3x16x16x4xi8>, %b: memref<32xi32>, %m: memref<32xf32>, %o: memref<1x8x8x32xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x8x8x16xi8>, memref<2x3x16x16x4xi8>, memref<32xi32>, memref<32xf32>) outs(%o : memref<1x8x8x32xi8>)
      {input_zero_point = -3 : i64, output_zero_point = 5 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>, kernel_width = 3 : i64}
  return
}

// A 1x1 conv reading unsigned codes in place (5 x 5 x 32 = 800 bytes):
// tile 0 (pixels 0-15, its last row ending at 15 * 32 + 64 = 544) loads
// in place; tile 1 would read to 1056, so its rows are staged: each row's
// 64 bytes loaded under a mask that stops at the input's end, stored to a
// stack tile, which is loaded.
// CHECK-LABEL: func.func @inplace
// CHECK-NOT: memref.alloc()
// CHECK: %[[X:.*]] = memref.collapse_shape %arg0 {{.*}} into memref<800xi8>
// CHECK: amx.tile_load %[[X]][%{{.*}}], %c32{{.*}} : memref<800xi8> into !amx.tile<16x64xi8>
// CHECK: vector.create_mask %{{.*}} : vector<64xi1>
// CHECK: vector.maskedload %[[X]]
// CHECK: amx.tile_load %{{.*}}[%{{.*}}], %c64{{.*}} : memref<1024xi8> into !amx.tile<16x64xi8>
func.func @inplace(%x: memref<1x5x5x32xi8>, %w: memref<1x1x16x16x4xi8>, %b: memref<16xi32>, %m: memref<16xf32>, %o: memref<1x5x5x16xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x5x5x32xi8>, memref<1x1x16x16x4xi8>, memref<16xi32>, memref<16xf32>) outs(%o : memref<1x5x5x16xi8>)
      {input_zero_point = -3 : i64, output_zero_point = 5 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, kernel_width = 1 : i64, unsigned_input}
  return
}
