// RUN: qat-opt %s --qat-lower-to-npu=config=%S/Inputs/small-inp.cfg | FileCheck %s
// RUN: qat-opt %s --qat-lower-to-npu="config=%S/Inputs/inp50.cfg double-buffer=false" | FileCheck %s --check-prefix=SINGLE
// RUN: qat-opt %s --qat-lower-to-npu=config=%S/Inputs/small-wgt.cfg | FileCheck %s --check-prefix=CHUNKS

// The token protocol of docs/NPU.md section 3 on a convolution in three
// tiles followed by a max pool (overlapping windows: a layer of its own).
func.func @conv_pool(%q: tensor<1x8x8x4xi8>) -> tensor<1x7x7x4xi8> {
  %w = "tosa.const"() <{values = dense<1> : tensor<4x3x3x4xi8>}> : () -> tensor<4x3x3x4xi8>
  %b = "tosa.const"() <{values = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %m = arith.constant dense<1073741824> : tensor<i32>
  %n = arith.constant dense<35> : tensor<i8>
  %r = qat.integer_kernel <conv2d> %q, %w, %b, %m shift %n {dilation = array<i64: 1, 1>, input_zero_point = 0 : i64, output_zero_point = 0 : i64, pad = array<i64: 1, 1, 1, 1>, quant_max = 127 : i64, quant_min = -128 : i64, stride = array<i64: 1, 1>} : (tensor<1x8x8x4xi8>, tensor<4x3x3x4xi8>, tensor<4xi32>, tensor<i32>, tensor<i8>) -> tensor<1x8x8x4xi8>
  %p = tosa.max_pool2d %r {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<1x8x8x4xi8>) -> tensor<1x7x7x4xi8>
  return %p : tensor<1x7x7x4xi8>
}

// Tile t uses INP and ACC half t % 2. Load: tile 2 waits for compute to
// release half 0 (pop_next); compute: each tile waits for its loads
// (pop_prev), tile 2 also for the store of tile 0 (pop_next); tile 0
// releases INP half 0 (push_prev) to tile 2's loads; store: tiles 0 and 2
// (the last) push to compute.
// CHECK-LABEL: npu.program @conv_pool
// CHECK:      npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 9 stride 256 layer 0
// CHECK-NEXT: npu.load inp[0], i8 from dram[{{[0-9]+}}] rows 4 stride 32 cols 8 stride 4 lanes 4 pad [1, 0, 1, 1] deps push_next layer 0
// CHECK-NEXT: npu.alu mov loops [1, 24] {{.*}} deps pop_prev layer 0
// CHECK-NEXT: npu.gemm loops [3, 8] {{.*}} acc 0 [8, 1] inp 0 [10, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale loops [1, 24] {{.*}} deps push_prev|push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 {{.*}} rows 3 stride 32 cols 8 stride 4 lanes 4 deps pop_prev|push_prev layer 0
// CHECK-NEXT: npu.load inp[50], i8 {{.*}} rows 5 stride 32 cols 8 stride 4 lanes 4 pad [0, 0, 1, 1] deps push_next layer 0
// CHECK-NEXT: npu.alu mov loops [1, 24] uops [(0, 0, 0)] dst 1022 {{.*}} deps pop_prev layer 0
// CHECK-NEXT: npu.gemm loops [3, 8] {{.*}} acc 1022 [8, 1] inp 50 [10, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale {{.*}} deps push_next layer 0
// CHECK-NEXT: npu.store acc[1022], i8 {{.*}} deps pop_prev layer 0
// CHECK-NEXT: npu.load inp[0], i8 {{.*}} rows 3 stride 32 cols 8 stride 4 lanes 4 pad [0, 1, 1, 1] deps pop_next|push_next layer 0
// CHECK-NEXT: npu.alu mov loops [1, 16] {{.*}} deps pop_prev|pop_next layer 0
// CHECK-NEXT: npu.gemm loops [2, 8] {{.*}} acc 0 [8, 1] inp 0 [10, 1] wgt 0 [0, 0] layer 0
// CHECK-NEXT: npu.alu rescale {{.*}} deps push_next layer 0
// CHECK-NEXT: npu.store acc[0], i8 {{.*}} deps pop_prev|push_prev layer 0
// The layer barrier: waits for the convolution's last store; the max pool
// uses ACC only (no load module), so it gives no token to the load module.
// CHECK-NEXT: npu.gemm loops [0, 0] uops [] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0] deps pop_next layer 1
// CHECK-NEXT: npu.load acc[0], i8 {{.*}} value -128 layer 1
// CHECK-NEXT: npu.alu mov
// CHECK-NEXT: npu.alu max {{.*}} deps push_next layer 1
// CHECK-NEXT: npu.store {{.*}} deps pop_prev|push_prev layer 1
// CHECK-NEXT: npu.finish deps pop_next

// Single-buffered: every tile uses half 0 and waits for the previous one.
// SINGLE-LABEL: npu.program @conv_pool
// SINGLE:      npu.load inp[0], {{.*}} deps push_next layer 0
// SINGLE-NEXT: npu.alu mov {{.*}} deps pop_prev layer 0
// SINGLE:      npu.alu rescale {{.*}} deps push_prev|push_next layer 0
// SINGLE-NEXT: npu.store acc[0], {{.*}} deps pop_prev|push_prev layer 0
// SINGLE-NEXT: npu.load inp[0], {{.*}} deps pop_next|push_next layer 0
// SINGLE-NEXT: npu.alu mov {{.*}} dst 0 {{.*}} deps pop_prev|pop_next layer 0
// SINGLE:      npu.alu rescale {{.*}} deps push_prev|push_next layer 0
// SINGLE-NEXT: npu.store acc[0], {{.*}} deps pop_prev|push_prev layer 0
// SINGLE-NEXT: npu.load inp[0], {{.*}} deps pop_next|push_next layer 0
// SINGLE-NEXT: npu.alu mov {{.*}} deps pop_prev|pop_next layer 0
// SINGLE:      npu.alu rescale {{.*}} deps push_next layer 0
// SINGLE-NEXT: npu.store acc[0], {{.*}} deps pop_prev|push_prev layer 0

// Chunks: WGT halves of 2 blocks take 2 of the 9 taps per step, weights
// loaded per step into half s % 2; the bias starts the tile, the rescale
// and the store end it.
// CHUNKS-LABEL: npu.program @conv_pool
// CHUNKS:      npu.load wgt[0], i8 from dram[0] rows 1 stride 0 cols 2 stride 256 layer 0
// CHUNKS-NEXT: npu.load inp[0], {{.*}} deps push_next layer 0
// CHUNKS-NEXT: npu.alu mov {{.*}} deps pop_prev layer 0
// CHUNKS-NEXT: npu.gemm loops [8, 8] uops [(0, 0, 0), (0, 1, 1)] acc 0 [8, 1] inp 0 [10, 1] wgt 0 [0, 0] deps push_prev layer 0
// CHUNKS-NEXT: npu.load wgt[2], i8 from dram[512] rows 1 stride 0 cols 2 stride 256 layer 0
// CHUNKS-NEXT: npu.load inp[1024], {{.*}} deps push_next layer 0
// CHUNKS-NEXT: npu.gemm loops [8, 8] uops [(0, 2, 0), (0, 10, 1)] acc 0 [8, 1] inp 1024 [10, 1] wgt 2 [0, 0] deps pop_prev|push_prev layer 0
// CHUNKS-NEXT: npu.load wgt[0], i8 from dram[1024] {{.*}} deps pop_next layer 0
// CHUNKS-NEXT: npu.load inp[0], {{.*}} deps push_next layer 0
// CHUNKS-NEXT: npu.gemm {{.*}} uops [(0, 11, 0), (0, 12, 1)] {{.*}} deps pop_prev|push_prev layer 0
// CHUNKS:      npu.load wgt[0], i8 from dram[2048] rows 1 stride 0 cols 1 stride 256 deps pop_next layer 0
// CHUNKS-NEXT: npu.load inp[0], {{.*}} deps push_next layer 0
// CHUNKS-NEXT: npu.gemm loops [8, 8] uops [(0, 22, 0)] {{.*}} deps pop_prev layer 0
// CHUNKS-NEXT: npu.alu rescale {{.*}} deps push_next layer 0
// CHUNKS-NEXT: npu.store {{.*}} deps pop_prev|push_prev layer 0

