// The AMX kernels through qat-to-llvm: kernels=amx calls LLVM's AMX
// intrinsics, kernels=amx-emulated the emulation of qat-lower-amx. Up to
// that last step the two produce the same IR when every kernel is on tiles
// (others are VNNI with amx, portable when emulated).
// RUN: qat-opt %S/Inputs/conv-chain-int8.mlir -qat-to-llvm=kernels=amx | FileCheck %s --check-prefix=AMX
// RUN: qat-opt %S/Inputs/conv-chain-int8.mlir -qat-to-llvm=kernels=amx-emulated | FileCheck %s --check-prefix=EMU
// RUN: qat-opt %S/Inputs/conv-chain-int8.mlir "-qat-to-llvm=kernels=amx threads=2 parallel-min-macs=0" | FileCheck %s --check-prefix=THREADS
// RUN: qat-opt %S/Inputs/conv-chain-int8.mlir -qat-to-llvm=kernels=amx -mlir-print-ir-before=qat-lower-amx -o /dev/null 2> %t.amx
// RUN: qat-opt %S/Inputs/conv-chain-int8.mlir -qat-to-llvm=kernels=amx-emulated -mlir-print-ir-before=qat-lower-amx -o /dev/null 2> %t.emu
// RUN: FileCheck %s --check-prefix=BEFORE < %t.amx
// RUN: diff %t.amx %t.emu

// BEFORE: IR Dump Before LowerAMXPass (qat-lower-amx)
// BEFORE: amx.tile_muli

// AMX-LABEL: llvm.func @f
// AMX: llvm.call_intrinsic "llvm.x86.tilezero.internal"
// AMX: llvm.call_intrinsic "llvm.x86.tileloadd64.internal"
// AMX: llvm.call_intrinsic "llvm.x86.tdpbusd.internal"
// AMX: llvm.call_intrinsic "llvm.x86.tilestored64.internal"
// AMX-NOT: amx.
// AMX-NOT: __qat_amx_emulated

// EMU-LABEL: llvm.func @f
// EMU-NOT: llvm.x86.t
// EMU: llvm.call @__qat_amx_emulated_tdpbusd_16x16x16
// EMU-NOT: llvm.x86.t
// EMU: llvm.func internal @__qat_amx_emulated_fault()
// EMU: llvm.func internal @__qat_amx_emulated_tdpbusd_16x16x16

// With threads, the stack buffers of a parallel loop's body (the
// accumulators' rows for the epilogue) are made once per thread, at the
// start of the omp.parallel region (the first two regions are the padded
// copy's, the third the 3x3 kernel's).
// THREADS-LABEL: llvm.func @f
// THREADS: omp.parallel num_threads
// THREADS: omp.parallel num_threads
// THREADS: omp.parallel num_threads
// THREADS-NEXT: llvm.alloca %{{.*}} x i32 {alignment = 64 : i64}
// THREADS-NEXT: omp.wsloop
// THREADS: llvm.call_intrinsic "llvm.x86.tdpbusd.internal"
// THREADS-NOT: memref.alloca_scope
