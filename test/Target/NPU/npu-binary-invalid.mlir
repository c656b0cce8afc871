// RUN: not qat-translate --npu-binary %s -split-input-file 2>&1 | FileCheck %s
// RUN: qat-translate --npu-binary %S/Inputs/empty.mlir -o %t.qnpu
// RUN: head -c 100 %t.qnpu > %t.truncated.qnpu
// RUN: not qat-translate --import-npu-binary %t.truncated.qnpu 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// Errors of the binary writer, and of the reader behind --import-npu-binary.

// CHECK: error: expected one 'npu.program', found 2
npu.program @a config #npu.config<> dram_size 0 {
  npu.finish
}
npu.program @b config #npu.config<> dram_size 0 {
  npu.finish
}

// -----

// Three different micro-kernels of one micro-op each need 3 UOP entries.
npu.program @uops config #npu.config<uop_depth = 2> dram_size 0 {
  npu.gemm reset loops [1, 1] uops [(0, 0, 0)] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0]
  npu.gemm reset loops [1, 1] uops [(1, 0, 0)] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0]
  // CHECK: error: the program's micro-ops (3 after this op) exceed uop_depth 2
  npu.gemm reset loops [1, 1] uops [(2, 0, 0)] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0]
  npu.finish
}

// TRUNCATED: error: program: truncated: 100 bytes, shorter than the 128-byte header
