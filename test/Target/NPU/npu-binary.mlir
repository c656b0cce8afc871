// RUN: qat-translate --npu-binary %s -o %t.qnpu
// RUN: qat-npu-sim %t.qnpu --disassemble | FileCheck %s --check-prefix=DIS
// RUN: qat-translate --import-npu-binary %t.qnpu | FileCheck %s --check-prefix=IMPORT
// RUN: qat-translate --import-npu-binary %t.qnpu | qat-translate --npu-binary -o %t.again.qnpu
// RUN: cmp %t.qnpu %t.again.qnpu
// The binary of docs/NPU.md section 6, read back by the machine library's
// disassembler and by the importer (binary -> npu dialect -> the same bytes).

npu.program @prog config #npu.config<block_in = 4, block_out = 4, acc_depth = 64> dram_size 256 {
  npu.tensor input "x" : tensor<1x2x2x4xi8> at 128 scale 5.000000e-01 zero_point 0
  npu.tensor output "y" : tensor<1x2x2x4xi8> at 192 scale 2.500000e-01 zero_point -1
  npu.data "w" at 0 = dense<[1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4]> : tensor<16xi8>
  npu.data "rows" at 64 = dense<[1073741824, 1073741824, 1073741824, 1073741824, 31, 31, 31, 31]> : tensor<8xi32>
  npu.layer 0 "scale" macs 16
  npu.load acc[62], i32 from dram[64] rows 1 stride 0 cols 2 stride 16 layer 0
  npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 16 layer 0
  npu.load inp[0], i8 from dram[128] rows 2 stride 8 cols 2 stride 4 deps push_next layer 0
  npu.gemm reset loops [2, 2] uops [(0, 0, 0)] acc 0 [2, 1] inp 0 [0, 0] wgt 0 [0, 0] deps pop_prev layer 0
  npu.gemm loops [2, 2] uops [(0, 0, 0)] acc 0 [2, 1] inp 0 [2, 1] wgt 0 [0, 0] layer 0
  npu.alu rescale loops [1, 4] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 62 [0, 0] imm [-1, -128, 127] deps push_next layer 0
  npu.store acc[0], i8 to dram[192] rows 2 stride 8 cols 2 stride 4 deps pop_prev|push_prev layer 0
  npu.finish deps pop_next
}

// The three identical micro-kernels (0, 0, 0) share UOP entry 0.
// DIS: ; QNPU v1, dram_size 256, data 96 bytes, 1 micro-ops, 8 instructions
// DIS: block_in=4 block_out=4 inp_depth=2048 wgt_depth=512 acc_depth=64
// DIS: tensor 0 input 'x' i8[1x2x2x4] at 0x80 scale 0.5 zp 0
// DIS: tensor 1 output 'y' i8[1x2x2x4] at 0xc0 scale 0.25 zp -1
// DIS: layer 0 'scale' macs 16
// DIS: uop 0: dst=0 src=0 wgt=0
// DIS: 0 compute L0 LOAD ACC[62] <- dram[0x40] i32 y=1x0 x=2x16 lanes=all
// DIS: 1 load    L0 LOAD WGT[0] <- dram[0x0] i8 y=1x0 x=1x16 lanes=all
// DIS: 2 load    L0 LOAD INP[0] <- dram[0x80] i8 y=2x8 x=2x4 lanes=all deps{push_next}
// DIS: 3 compute L0 GEMM reset uop[0,1) loop=2x2 acc=0+(2,1)
// DIS-SAME: deps{pop_prev}
// DIS: 4 compute L0 GEMM uop[0,1) loop=2x2 acc=0+(2,1) inp=0+(2,1) wgt=0+(0,0)
// DIS: 5 compute L0 ALU RESCALE uop[0,1) loop=1x4 d=0+(0,1) s=0+(0,1) p=62+(0,0) zp=-1 clamp=[-128,127] deps{push_next}
// DIS: 6 store   L0 STORE dram[0xc0] <- ACC[0] i8 y=2x8 x=2x4 lanes=all deps{pop_prev push_prev}
// DIS: 7 compute FINISH deps{pop_next}

// The data segment comes back as one npu.data at 0 (zeros between).
// IMPORT: npu.program @program config #npu.config<block_in = 4, block_out = 4, acc_depth = 64> dram_size 256 {
// IMPORT-NEXT: npu.tensor input "x" : tensor<1x2x2x4xi8> at 128 scale 5.000000e-01 zero_point 0
// IMPORT-NEXT: npu.tensor output "y" : tensor<1x2x2x4xi8> at 192 scale 2.500000e-01 zero_point -1
// IMPORT-NEXT: npu.data "data" at 0 = dense<[1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0,
// The i32 rows little-endian: 2^30 and 31.
// IMPORT-SAME: 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64, 31, 0, 0, 0, 31, 0, 0, 0, 31, 0, 0, 0, 31, 0, 0, 0]> : tensor<96xi8>
// IMPORT-NEXT: npu.layer 0 "scale" macs 16
// IMPORT-NEXT: npu.load acc[62], i32 from dram[64] rows 1 stride 0 cols 2 stride 16 layer 0
// IMPORT: npu.gemm reset loops [2, 2] uops [(0, 0, 0)] acc 0 [2, 1] inp 0 [0, 0] wgt 0 [0, 0] deps pop_prev layer 0
// IMPORT: npu.finish deps pop_next
