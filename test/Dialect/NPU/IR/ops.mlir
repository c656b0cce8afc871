// RUN: qat-opt %s | FileCheck %s
// RUN: qat-opt %s | qat-opt | FileCheck %s
// RUN: qat-opt %s --mlir-print-op-generic | qat-opt | FileCheck %s
// Every op and field of the npu dialect prints and parses back.

// CHECK-LABEL: npu.program @all config #npu.config<block_in = 8, block_out = 8, acc_depth = 512, dram_latency = 10> dram_size 4096 {
// CHECK-NEXT: npu.tensor input "x" : tensor<2x3x3x8xi8> at 1024 scale 5.000000e-01 zero_point -3
// CHECK-NEXT: npu.tensor output "y" : tensor<2x3x3x8xi8> at 2048 scale 2.500000e-01 zero_point 0
// CHECK-NEXT: npu.data "weights" at 0 = dense<[1, -2, 3, -4]> : tensor<4xi8>
// CHECK-NEXT: npu.data "rows" at 64 = dense<[1073741824, 31]> : tensor<2xi32>
// CHECK-NEXT: npu.layer 0 "conv" macs 1152
// CHECK-NEXT: npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 64 layer 0
// CHECK-NEXT: npu.load inp[0], i8 from dram[1024] rows 3 stride 24 cols 3 stride 8 pad [1, 0, 1, 2] value -3 deps push_next layer 0
// CHECK-NEXT: npu.load acc[500], i32 from dram[64] rows 1 stride 0 cols 2 stride 32 lanes 8
// CHECK-NEXT: npu.gemm reset loops [3, 3] uops [] acc 0 [3, 1] inp 0 [0, 0] wgt 0 [0, 0] deps pop_prev
// CHECK-NEXT: npu.gemm loops [3, 3] uops [(0, 0, 0), (0, 1, 1)] acc 0 [3, 1] inp 0 [5, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu add use_imm loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 0] param 0 [0, 0] imm [-7, 0, 0]
// CHECK-NEXT: npu.alu rescale loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 500 [0, 0] imm [0, -128, 127] deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 to dram[2048] rows 3 stride 24 cols 3 stride 8 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.finish deps pop_next
npu.program @all config #npu.config<block_in = 8, block_out = 8, acc_depth = 512, dram_latency = 10> dram_size 4096 {
  npu.tensor input "x" : tensor<2x3x3x8xi8> at 1024 scale 0.5 zero_point -3
  npu.tensor output "y" : tensor<2x3x3x8xi8> at 2048 scale 0.25 zero_point 0
  npu.data "weights" at 0 = dense<[1, -2, 3, -4]> : tensor<4xi8>
  npu.data "rows" at 64 = dense<[1073741824, 31]> : tensor<2xi32>
  npu.layer 0 "conv" macs 1152
  npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 64 layer 0
  npu.load inp[0], i8 from dram[1024] rows 3 stride 24 cols 3 stride 8 pad [1, 0, 1, 2] value -3 deps push_next layer 0
  npu.load acc[500], i32 from dram[64] rows 1 stride 0 cols 2 stride 32 lanes 8
  npu.gemm reset loops [3, 3] uops [] acc 0 [3, 1] inp 0 [0, 0] wgt 0 [0, 0] deps pop_prev
  npu.gemm loops [3, 3] uops [(0, 0, 0), (0, 1, 1)] acc 0 [3, 1] inp 0 [5, 1] wgt 0 [0, 0] layer 0
  npu.alu add use_imm loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 0] param 0 [0, 0] imm [-7, 0, 0]
  npu.alu rescale loops [1, 9] uops [(0, 0, 0)] dst 0 [0, 1] src 0 [0, 1] param 500 [0, 0] imm [0, -128, 127] deps push_next layer 0
  npu.store acc[0], i8 to dram[2048] rows 3 stride 24 cols 3 stride 8 deps pop_prev|push_prev layer 0
  npu.finish deps pop_next
}

// The default machine prints as #npu.config<>.
// CHECK-LABEL: npu.program @default config #npu.config<> dram_size 0 {
// CHECK-NEXT: npu.finish
npu.program @default config #npu.config<block_in = 16> dram_size 0 {
  npu.finish
}
