// RUN: qat-opt %s -split-input-file -qat-to-llvm | FileCheck %s
// RUN: qat-opt %s -split-input-file -qat-to-llvm=results-to-out-params | FileCheck %s --check-prefix=OUT
// RUN: qat-opt %S/Inputs/wide.mlir -qat-to-llvm | FileCheck %s --check-prefix=VEC
// RUN: qat-opt %S/Inputs/wide.mlir -qat-to-llvm=vector-width=0 | FileCheck %s --check-prefix=SCALAR
// RUN: not qat-opt %S/Inputs/unlowerable.mlir -qat-to-llvm 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: qat-opt %S/Inputs/depthwise-int8.mlir -qat-to-llvm=kernels=portable | FileCheck %s --check-prefix=SERIAL
// RUN: qat-opt %S/Inputs/depthwise-int8.mlir "-qat-to-llvm=kernels=portable threads=2 parallel-min-macs=0" | FileCheck %s --check-prefix=THREADS
// RUN: qat-opt %S/Inputs/depthwise-int8.mlir "-qat-to-llvm=kernels=portable threads=2" | FileCheck %s --check-prefix=SERIAL

// Packed kernels on one thread: no OpenMP. On two: the tile loops become
// OpenMP work-sharing loops on 2 threads (the depthwise kernel reads its 16
// channels in place: no padded copy), unless the kernel is smaller than
// parallel-min-macs (by default 2^23; this one has 5184 MACs).
// SERIAL-LABEL: llvm.func @dw
// SERIAL-NOT: omp.
// THREADS-LABEL: llvm.func @dw
// THREADS: omp.parallel num_threads
// THREADS: omp.wsloop
// THREADS-NOT: omp.parallel
// THREADS-NOT: memref.alloca_scope

// A qat + TOSA function on tensors becomes LLVM dialect only.
// CHECK-LABEL: llvm.func @qat_and_tosa
// CHECK-NOT: qat.
// CHECK-NOT: tosa.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK: llvm.intr.roundeven
// CHECK: llvm.return
// OUT-LABEL: llvm.func @qat_and_tosa
// Three memrefs of rank 2 (x, b, then the result) of 7 words each.
// OUT-SAME: %arg20: i64)
// OUT: llvm.return{{$}}
func.func @qat_and_tosa(%x: tensor<1x8xf32>, %b: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %s = arith.constant dense<0.05> : tensor<f32>
  %z = arith.constant dense<0> : tensor<i32>
  %sum = tosa.add %x, %b : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %r = tosa.clamp %sum {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = qat.fake_quant %r, %s, %z {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<1x8xf32>, tensor<f32>, tensor<i32>
  return %y : tensor<1x8xf32>
}

// -----

// A tosa.pad of a 4-D tensor (its padding a !tosa.shape<8>, as the slice
// gradients of training write) lowers: the TOSA validation of the pipeline
// runs at level none (at level 8K, MLIR 22 rejects shapes longer than 6).
// CHECK-LABEL: llvm.func @pad4d
// CHECK: llvm.return
// OUT-LABEL: llvm.func @pad4d
func.func @pad4d(%x: tensor<1x3x3x2xf32>) -> tensor<1x4x4x2xf32> {
  %p = tosa.const_shape {values = dense<[0, 0, 1, 0, 1, 0, 0, 0]> : tensor<8xindex>} : () -> !tosa.shape<8>
  %z = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %y = tosa.pad %x, %p, %z : (tensor<1x3x3x2xf32>, !tosa.shape<8>, tensor<1xf32>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}

// Elementwise loops are vectorized (16 lanes by default; Inputs/wide.mlir);
// so is the observer's reduction into 16 lanes, then the lanes combine.
// VEC: llvm.intr.roundeven(%{{.*}}) : (vector<16xf32>) -> vector<16xf32>
// VEC: llvm.intr.minnum(%{{.*}}, %{{.*}}) : (vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// VEC: llvm.intr.minnum(%{{.*}}, %{{.*}}) : (f32, f32) -> f32
// SCALAR-NOT: vector<
// SCALAR: llvm.intr.roundeven(%{{.*}}) : (f32) -> f32

// The last stage names an op it could not lower (Inputs/unlowerable.mlir).
// ERR: error: qat-to-llvm could not lower 'complex.create' to the LLVM dialect

// -----

// GELU's erf has no LLVM intrinsic: math.erf calls libm's erff, lane by lane
// of the vectorized loop (the other math ops stay intrinsics).
// CHECK: llvm.func @erff(f32) -> f32
// CHECK-LABEL: llvm.func @gelu
// CHECK-COUNT-16: llvm.call @erff({{.*}}) : (f32) -> f32
// CHECK-NOT: math.
// CHECK: llvm.return
func.func @gelu(%x: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %r = "tosa.const"() <{values = dense<0.707106769> : tensor<1x1xf32>}> : () -> tensor<1x1xf32>
  %one = "tosa.const"() <{values = dense<1.0> : tensor<1x1xf32>}> : () -> tensor<1x1xf32>
  %half = "tosa.const"() <{values = dense<0.5> : tensor<1x1xf32>}> : () -> tensor<1x1xf32>
  %a = tosa.mul %x, %r, %shift : (tensor<2x64xf32>, tensor<1x1xf32>, tensor<1xi8>) -> tensor<2x64xf32>
  %e = tosa.erf %a : (tensor<2x64xf32>) -> tensor<2x64xf32>
  %e1 = tosa.add %e, %one : (tensor<2x64xf32>, tensor<1x1xf32>) -> tensor<2x64xf32>
  %h = tosa.mul %x, %half, %shift : (tensor<2x64xf32>, tensor<1x1xf32>, tensor<1xi8>) -> tensor<2x64xf32>
  %y = tosa.mul %h, %e1, %shift : (tensor<2x64xf32>, tensor<2x64xf32>, tensor<1xi8>) -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}

