// RUN: qat-opt %s --qat-lower-packed-kernels="isa=vnni rows=2 blocks=1 depthwise-rows=4" | FileCheck %s --check-prefix=VNNI
// RUN: qat-opt %s --qat-lower-packed-kernels="isa=portable rows=2 blocks=1 depthwise-rows=4" | FileCheck %s --check-prefix=PORTABLE
// RUN: not qat-opt %s --qat-lower-packed-kernels="isa=sse" 2>&1 | FileCheck %s --check-prefix=BADISA
// RUN: not qat-opt %s --qat-lower-packed-kernels="rows=8 blocks=4" 2>&1 | FileCheck %s --check-prefix=BADTILE
// RUN: not qat-opt %s --qat-lower-packed-kernels="depthwise-rows=29" 2>&1 | FileCheck %s --check-prefix=BADDW
// RUN: qat-opt %s --qat-lower-packed-kernels="isa=vnni rows=2 blocks=1 depthwise-rows=4 parallel" | FileCheck %s --check-prefix=PAR
// RUN: qat-opt %s --qat-lower-packed-kernels="isa=vnni parallel min-parallel-macs=1000000" | FileCheck %s --check-prefix=SMALL

// With `parallel`: the rows of the padded copy, then the (pixel tile,
// block group) pairs as one 2-D scf.parallel (pixel tiles outer: a group of
// one block is 16 bytes of a pixel's output row, so two threads splitting
// the groups would write the same cache lines); the depthwise row groups.
// A kernel below min-parallel-macs stays serial.
// PAR-LABEL: func.func @conv
// PAR: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c3{{(_[0-9]+)?}}) step (%c1{{(_[0-9]+)?}})
// PAR: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%c8{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}}) step (%c2{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}})
// SMALL-NOT: scf.parallel
// PAR-LABEL: func.func @depthwise
// PAR: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c5{{(_[0-9]+)?}}) step (%c1{{(_[0-9]+)?}})
// PAR: scf.parallel (%{{.*}}) = (%{{.*}}) to (%c5{{(_[0-9]+)?}}) step (%c1{{(_[0-9]+)?}})

// A 3x3 conv, pad 1, 3 -> 20 channels (two blocks of 16, the second masked)
// over 3 x 3 = 9 pixels: tiles of 2 pixels (4 in a loop, then 1 left) by 1
// block.
// VNNI-LABEL: func.func @conv
// The padded unsigned copy: 1 x 5 x 5 x 4 = 100 bytes (128 allocated); the
// border rows (20 bytes) and columns (4 bytes) filled with zp + 128 = 125
// under masks, then each input row of 3 pixels (3 channels, RGB-like) in
// one step: 9 codes loaded under a mask, shuffled into 4 bytes per pixel
// (the 4th from the fill, lane 64), xor 0x80, 12 bytes stored under a mask.
// VNNI: %[[P:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// VNNI: arith.constant dense<125> : vector<64xi8>
// VNNI: vector.maskedstore %[[P]]
// VNNI: %[[X:.*]] = memref.collapse_shape %arg0 {{.*}} into memref<27xi8>
// VNNI: vector.maskedload %[[X]]
// VNNI: vector.shuffle %{{.*}}, %{{.*}} [0, 1, 2, 64, 3, 4, 5, 64,
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
// The epilogue (the accumulators started at the bias): f32 multiply,
// residual, clamp at quant_min - zp = 0 and quant_max - zp = 255, rounding
// by adding 1.5 * 2^23, the integer bits minus 0x4B400000 - zp, i8 store
// (vector stores for whole blocks, one 4-byte store for the 4 channels of
// the partial block).
// VNNI: arith.sitofp
// VNNI: arith.mulf
// VNNI: arith.subf
// VNNI: arith.addf
// VNNI: arith.maximumf %{{.*}}, %[[LO:.*]] : vector<16xf32>
// VNNI: arith.minimumf %{{.*}}, %[[HI:.*]] : vector<16xf32>
// VNNI: %[[R:.*]] = arith.addf %{{.*}}, %[[MAGIC:.*]] : vector<16xf32>
// VNNI: %[[BITS:.*]] = arith.bitcast %[[R]] : vector<16xf32> to vector<16xi32>
// VNNI: arith.subi %[[BITS]], %{{.*}} : vector<16xi32>
// VNNI: arith.trunci {{.*}} : vector<16xi32> to vector<16xi8>
// VNNI: vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<16xi8> to vector<4xi8>
// VNNI: vector.store %{{.*}}, %arg5{{.*}} : memref<1x3x3x20xi8>, vector<4xi8>
// VNNI: memref.dealloc %[[P]]
// VNNI-NOT: qat.packed_conv2d

// PORTABLE-LABEL: func.func @conv
// PORTABLE-NOT: llvm.call_intrinsic
// PORTABLE: arith.extui {{.*}} : vector<64xi8> to vector<64xi32>
// PORTABLE: arith.extsi {{.*}} : vector<64xi8> to vector<64xi32>
// PORTABLE: vector.shuffle

// BADISA: for the --isa option: Cannot find option named 'sse'
// BADTILE: error: qat-lower-packed-kernels: rows x blocks accumulators must be at most 28, got 8 x 4
// BADDW: error: qat-lower-packed-kernels: depthwise-rows must be in [0, 28], got 29
func.func @conv(%x: memref<1x3x3x3xi8>, %w: memref<2x3x3x1x16x4xi8>, %b: memref<32xi32>, %m: memref<32xf32>, %r: memref<1x3x3x20xi8>, %y: memref<1x3x3x20xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m, residual %r : memref<1x3x3x3xi8>, memref<2x3x3x1x16x4xi8>, memref<32xi32>, memref<32xf32>, memref<1x3x3x20xi8>)
      outs(%y : memref<1x3x3x20xi8>)
      {input_zero_point = -3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>,
       residual_multiplier = 5.000000e-01 : f32, residual_zero_point = -3 : i64}
  return
}

// A 3x3 depthwise conv, pad 1, of 20 channels (a whole block and 4 lanes)
// over 5 x 5 pixels: tiles of one row by 3 pixels (5 = 3 + 2: one tile,
// not in a loop, then a tile of 2), each for the whole block in a loop,
// then the partial block. 20 channels are not whole blocks: the kernel
// reads a padded unsigned copy.
// VNNI-LABEL: func.func @depthwise
// The padded unsigned copy: 7 x 7 x 32 = 1568 bytes (1600 allocated), the
// border filled with zp + 128 = 131 - 256 = -125, 20 channels loaded and 32
// stored per pixel.
// VNNI: %[[P:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1600xi8>
// VNNI: arith.constant dense<-125> : vector<64xi8>
// VNNI: vector.maskedload %arg0
// VNNI: arith.xori
// VNNI: vector.maskedstore %[[P]]
// VNNI: scf.for %{{.*}} = %{{.*}} to %c5{{(_[0-9]+)?}} step %c1
// VNNI-NOT: step %c3
// VNNI: scf.for %{{.*}} = %{{.*}} to %c16{{(_[0-9]+)?}} step %c16
// VNNI: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<16xi32>, vector<16xi32>, vector<16xi32>)
// VNNI: arith.extsi {{.*}} : vector<16xi8> to vector<16xi32>
// VNNI: vector.load %[[P]][%{{.*}}] : memref<1600xi8>, vector<16xi8>
// VNNI: arith.extui {{.*}} : vector<16xi8> to vector<16xi32>
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// VNNI: arith.bitcast
// VNNI: vector.store {{.*}} : memref<1x5x5x20xi8>, vector<16xi8>
// The partial block: its 4 lanes in one unmasked 4-byte store.
// VNNI: vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<16xi8> to vector<4xi8>
// VNNI: vector.store %{{.*}}, %arg4{{.*}} : memref<1x5x5x20xi8>, vector<4xi8>
// VNNI: memref.dealloc %[[P]]
// VNNI-NOT: qat.packed_depthwise_conv2d

// PORTABLE-LABEL: func.func @depthwise
// PORTABLE-NOT: llvm.call_intrinsic
// PORTABLE: arith.extsi {{.*}} : vector<16xi8> to vector<16xi32>
// PORTABLE: arith.extui {{.*}} : vector<16xi8> to vector<16xi32>
// PORTABLE: arith.muli {{.*}} : vector<16xi32>
func.func @depthwise(%x: memref<1x5x5x20xi8>, %w: memref<3x3x32xi8>, %b: memref<32xi32>, %m: memref<32xf32>, %y: memref<1x5x5x20xi8>) {
  qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : memref<1x5x5x20xi8>, memref<3x3x32xi8>, memref<32xi32>, memref<32xf32>)
      outs(%y : memref<1x5x5x20xi8>)
      {input_zero_point = 3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>}
  return
}

// 32 signed channels (whole blocks), stride 2, pad 1 on 5 x 7: read in
// place with no copy. The bias is raised by 128 * sum(w) into a stack
// buffer; codes are sign-extended and multiplied by vpdpwssd against
// weights (w, 0) as 16-bit pairs. Each tile row checks its input row per
// kernel row; the first tile (output columns 0-3: the row is one tile)
// reaches the left padding, so its column -1 taps use the zero point 3.
// VNNI-LABEL: func.func @depthwise_direct
// VNNI-NOT: memref.alloc()
// VNNI: %[[X:.*]] = memref.collapse_shape %arg0 {{.*}} into memref<1120xi8>
// VNNI: %[[B:.*]] = memref.alloca() {alignment = 64 : i64} : memref<32xi32>
// VNNI: arith.shli
// VNNI: vector.store %{{.*}}, %[[B]]
// VNNI: vector.load %[[B]]
// VNNI: arith.andi %{{.*}}, %{{.*}} : vector<16xi32>
// VNNI: arith.cmpi sge
// VNNI: arith.cmpi slt
// VNNI: scf.if
// VNNI: %[[PAD:.*]] = vector.bitcast %cst{{.*}} : vector<16xi32> to vector<32xi16>
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpwssd.512"(%{{.*}}, %[[PAD]], %{{.*}})
// VNNI: vector.load %[[X]]
// VNNI: arith.extsi {{.*}} : vector<16xi8> to vector<16xi32>
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpwssd.512"
// VNNI: } else {
// VNNI-NOT: vector.load %[[X]]
// VNNI: scf.yield
// VNNI-NOT: memref.dealloc
// VNNI: return

// PORTABLE-LABEL: func.func @depthwise_direct
// PORTABLE-NOT: llvm.call_intrinsic
// PORTABLE: arith.extsi {{.*}} : vector<16xi8> to vector<16xi32>
// PORTABLE: arith.muli {{.*}} : vector<16xi32>
func.func @depthwise_direct(%x: memref<1x5x7x32xi8>, %w: memref<3x3x32xi8>, %b: memref<32xi32>, %m: memref<32xf32>, %y: memref<1x3x4x32xi8>) {
  qat.packed_depthwise_conv2d ins(%x, %w, %b, %m : memref<1x5x7x32xi8>, memref<3x3x32xi8>, memref<32xi32>, memref<32xf32>)
      outs(%y : memref<1x3x4x32xi8>)
      {input_zero_point = 3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 2, 2>, pad = array<i64: 1, 1, 1, 1>, dilation = array<i64: 1, 1>}
  return
}

// Unsigned codes, no padding, whole groups of 4 channels: the kernel reads
// its input in place (no copy), and stores unsigned codes (xor 0x80, by
// subtracting 0x4B400000 - (zp + 128) = 0x4B400000 = 1262485504 from the
// rounded bits).
// A tile of 2 pixels x 1 block has few accumulators: two sets of them
// (the second from 0) take the 2 groups of 4 input channels in turn, and
// are summed before the epilogue.
// VNNI-LABEL: func.func @in_place
// VNNI-NOT: memref.alloc
// VNNI: memref.collapse_shape %arg0
// VNNI: %[[ZERO:.*]] = arith.constant dense<0> : vector<16xi32>
// VNNI: %[[S:.*]]:4 = scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %[[ZERO]], %{{.*}} = %[[ZERO]])
// VNNI: scf.for %{{.*}} = %{{.*}} to %c2{{(_[0-9]+)?}} step %c2
// VNNI-COUNT-4: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// VNNI: arith.addi %[[S]]#0, %[[S]]#2 : vector<16xi32>
// VNNI: arith.addi %[[S]]#1, %[[S]]#3 : vector<16xi32>
// VNNI: arith.constant dense<1262485504> : vector<16xi32>
// VNNI: arith.trunci
// VNNI-NOT: arith.xori
// VNNI: vector.store
// VNNI-NOT: memref.dealloc
// VNNI: return
func.func @in_place(%x: memref<1x4x4x8xi8>, %w: memref<1x1x1x2x16x4xi8>, %b: memref<16xi32>, %m: memref<16xf32>, %y: memref<1x4x4x16xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x4x4x8xi8>, memref<1x1x1x2x16x4xi8>, memref<16xi32>, memref<16xf32>)
      outs(%y : memref<1x4x4x16xi8>)
      {input_zero_point = 3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, unsigned_input, unsigned_output}
  return
}

// Signed codes, no padding, whole groups of 4 channels: read in place too,
// each broadcast of 4 codes made unsigned by an xor with 0x80.
// VNNI-LABEL: func.func @signed_in_place
// VNNI-NOT: memref.alloc
// VNNI: memref.collapse_shape %arg0
// VNNI: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// VNNI: %[[A:.*]] = vector.bitcast %{{.*}} : vector<16xi32> to vector<64xi8>
// VNNI: %[[F:.*]] = arith.xori %[[A]], %{{.*}} : vector<64xi8>
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[F]], %{{.*}})
// VNNI-NOT: memref.dealloc
// VNNI: return
func.func @signed_in_place(%x: memref<1x4x4x8xi8>, %w: memref<1x1x1x2x16x4xi8>, %b: memref<16xi32>, %m: memref<16xf32>, %y: memref<1x4x4x16xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x4x4x8xi8>, memref<1x1x1x2x16x4xi8>, memref<16xi32>, memref<16xf32>)
      outs(%y : memref<1x4x4x16xi8>)
      {input_zero_point = 3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>}
  return
}

// output_pad: the border of the 1 x 6 x 6 x 16 output gets the stored code
// of the zero point (-128 xor 0x80 = 0) before the 4 x 4 pixels are written
// at (y + 1, x + 1).
// VNNI-LABEL: func.func @padded_output
// VNNI: memref.collapse_shape %arg4
// VNNI: arith.constant dense<0> : vector<64xi8>
// VNNI: vector.store
// VNNI: vector.maskedstore
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// VNNI: arith.trunci
// VNNI: %[[Y:.*]] = arith.addi %{{.*}}, %c1{{(_[0-9]+)?}} : index
// VNNI: %[[X:.*]] = arith.addi %{{.*}}, %c1{{(_[0-9]+)?}} : index
// VNNI: vector.store %{{.*}}, %arg4[%{{.*}}, %[[Y]], %[[X]], %{{.*}}] : memref<1x6x6x16xi8>, vector<16xi8>
func.func @padded_output(%x: memref<1x4x4x8xi8>, %w: memref<1x1x1x2x16x4xi8>, %b: memref<16xi32>, %m: memref<16xf32>, %y: memref<1x6x6x16xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x4x4x8xi8>, memref<1x1x1x2x16x4xi8>, memref<16xi32>, memref<16xf32>)
      outs(%y : memref<1x6x6x16xi8>)
      {input_zero_point = 3 : i64, output_zero_point = -128 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>, unsigned_output,
       output_pad = array<i64: 1, 1, 1, 1>}
  return
}

// PyTorch's onednn form (x86:pytorch-onednn): the float bias added to
// f32(acc) before the multiplier, the u8 zero point (-118 + 128 = 10) added
// in f32 before the rounding; the clamp bounds and the final subtraction
// then hold the offset: q = roundeven(t + 10) - 128, the magic constant
// 0x4B400000 + 128.
// VNNI-LABEL: func.func @float_bias
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// VNNI: %[[FB:.*]] = vector.load %arg4[%{{.*}}] : memref<16xf32>, vector<16xf32>
// VNNI: %[[A:.*]] = arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// VNNI: %[[T:.*]] = arith.addf %[[A]], %[[FB]] : vector<16xf32>
// VNNI: %[[M:.*]] = arith.mulf %[[T]], %{{.*}} : vector<16xf32>
// VNNI: %[[Z:.*]] = arith.constant dense<1.000000e+01> : vector<16xf32>
// VNNI: arith.addf %[[M]], %[[Z]] : vector<16xf32>
// VNNI: arith.constant dense<0.000000e+00> : vector<16xf32>
// VNNI: arith.constant dense<2.550000e+02> : vector<16xf32>
// VNNI: arith.constant dense<1262485632> : vector<16xi32>
// VNNI: arith.trunci
// VNNI: return
func.func @float_bias(%x: memref<1x4x4x8xi8>, %w: memref<1x1x1x2x16x4xi8>, %b: memref<16xi32>, %m: memref<16xf32>, %fb: memref<16xf32>, %y: memref<1x4x4x16xi8>) {
  qat.packed_conv2d ins(%x, %w, %b, %m : memref<1x4x4x8xi8>, memref<1x1x1x2x16x4xi8>, memref<16xi32>, memref<16xf32>)
      outs(%y : memref<1x4x4x16xi8>) float_bias(%fb : memref<16xf32>)
      {input_zero_point = 3 : i64, output_zero_point = -118 : i64, quant_min = -128 : i64, quant_max = 127 : i64,
       float_zero_point_offset = 128 : i64,
       stride = array<i64: 1, 1>, pad = array<i64: 0, 0, 0, 0>, dilation = array<i64: 1, 1>}
  return
}
