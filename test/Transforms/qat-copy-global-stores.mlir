// RUN: qat-opt %s --qat-copy-global-stores | FileCheck %s

ml_program.global private mutable @mn(dense<0x7F800000> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @mx(dense<0xFF800000> : tensor<f32>) : tensor<f32>

// The stored min is read again afterwards: stored through a copy. The max
// has no other use: stored as is.
// CHECK-LABEL: func.func @observe
// CHECK: %[[LO:.*]], %[[HI:.*]] = qat.observer
// CHECK: %[[COPY:.*]] = bufferization.alloc_tensor() copy(%[[LO]]) : tensor<f32>
// CHECK: ml_program.global_store @mn = %[[COPY]] : tensor<f32>
// CHECK: ml_program.global_store @mx = %[[HI]] : tensor<f32>
// CHECK: return %[[LO]]
func.func @observe(%x: tensor<4xf32>) -> tensor<f32> {
  %a = ml_program.global_load @mn : tensor<f32>
  %b = ml_program.global_load @mx : tensor<f32>
  %lo, %hi = qat.observer %x, %a, %b : tensor<4xf32>, tensor<f32>
  ml_program.global_store @mn = %lo : tensor<f32>
  ml_program.global_store @mx = %hi : tensor<f32>
  return %lo : tensor<f32>
}
