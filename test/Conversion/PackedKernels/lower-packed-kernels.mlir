// RUN: qat-opt %s --qat-lower-packed-kernels="isa=vnni rows=2 blocks=1" | FileCheck %s --check-prefix=VNNI
// RUN: qat-opt %s --qat-lower-packed-kernels="isa=portable rows=2 blocks=1" | FileCheck %s --check-prefix=PORTABLE
// RUN: not qat-opt %s --qat-lower-packed-kernels="isa=sse" 2>&1 | FileCheck %s --check-prefix=BADISA
// RUN: not qat-opt %s --qat-lower-packed-kernels="rows=8 blocks=4" 2>&1 | FileCheck %s --check-prefix=BADTILE

// A 3x3 conv, pad 1, 3 -> 20 channels (two blocks of 16, the second masked)
// over 3 x 3 = 9 pixels: tiles of 2 pixels (4 in a loop, then 1 left) by 1
// block.
// VNNI-LABEL: func.func @conv
// The padded unsigned copy: 1 x 5 x 5 x 4 = 100 bytes (128 allocated) filled with zp + 128 = 125,
// then each input row xor 0x80 under a mask of its 3 channels.
// VNNI: %[[P:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// VNNI: arith.constant dense<125> : vector<64xi8>
// VNNI: vector.maskedload %arg0
// VNNI: arith.xori
// VNNI: vector.maskedstore %[[P]]
// Blocks of output channels outermost (a loop over the whole blocks, then
// the partial block with a static index), then tiles of pixels, then kernel
// rows, columns and groups of 4 input channels with the accumulators.
// VNNI: scf.for %{{.*}} = %{{.*}} to %c1{{(_[0-9]+)?}} step %c1
// VNNI: scf.for %{{.*}} = %{{.*}} to %c8{{(_[0-9]+)?}} step %c2
// VNNI: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<16xi32>, vector<16xi32>)
// VNNI: vector.load %{{.*}} : memref<1152xi8>, vector<64xi8>
// VNNI: vector.load %[[P]][%{{.*}}] : memref<128xi8>, vector<4xi8>
// VNNI: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %{{.*}}, %{{.*}}) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// The epilogue: bias, f32 multiply, residual, bound, roundeven, zero point,
// clamp, i8 store (vector stores for whole blocks, one store per lane for
// the 4 channels of the partial block).
// VNNI: arith.sitofp
// VNNI: arith.mulf
// VNNI: arith.subf
// VNNI: arith.addf
// VNNI: math.roundeven
// VNNI: arith.fptosi
// VNNI: arith.trunci {{.*}} : vector<16xi32> to vector<16xi8>
// VNNI: vector.extract %{{.*}}[3] : i8 from vector<16xi8>
// VNNI: memref.store %{{.*}}, %arg5
// VNNI: memref.dealloc %[[P]]
// VNNI-NOT: qat.packed_conv2d

// PORTABLE-LABEL: func.func @conv
// PORTABLE-NOT: llvm.call_intrinsic
// PORTABLE: arith.extui {{.*}} : vector<64xi8> to vector<64xi32>
// PORTABLE: arith.extsi {{.*}} : vector<64xi8> to vector<64xi32>
// PORTABLE: vector.shuffle

// BADISA: error: qat-lower-packed-kernels: unknown isa 'sse' (expected vnni or portable)
// BADTILE: error: qat-lower-packed-kernels: rows x blocks accumulators must be at most 28, got 8 x 4
func.func @conv(%x: memref<1x3x3x3xi8>, %w: memref<2x3x3x1x16x4xi8>, %b: memref<32xi32>, %m: memref<32xf32>, %r: memref<1x3x3x20xi8>, %y: memref<1x3x3x20xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m, residual %r : memref<1x3x3x3xi8>, memref<2x3x3x1x16x4xi8>, memref<32xi32>, memref<32xf32>, memref<1x3x3x20xi8>)
      outs(%y : memref<1x3x3x20xi8>)
      {input_zero_point = -3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>,
       residual_multiplier = 5.000000e-01 : f32, residual_zero_point = -3 : i64}
  return
}
