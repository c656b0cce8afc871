// RUN: qat-opt %s --qat-copy-global-stores | FileCheck %s

ml_program.global private mutable @mn(dense<0x7F800000> : tensor<f32>) : tensor<f32>
ml_program.global private mutable @mx(dense<0xFF800000> : tensor<f32>) : tensor<f32>

// Every store goes through a copy: the stored min is read again afterwards,
// and a stored value without other uses may share its buffer with another
// op's result after bufferization. A store of a copy is left alone.
// CHECK-LABEL: func.func @observe
// CHECK: %[[LO:.*]], %[[HI:.*]] = qat.observer
// CHECK: %[[COPY:.*]] = bufferization.alloc_tensor() copy(%[[LO]]) : tensor<f32>
// CHECK: ml_program.global_store @mn = %[[COPY]] : tensor<f32>
// CHECK: %[[COPY2:.*]] = bufferization.alloc_tensor() copy(%[[HI]]) : tensor<f32>
// CHECK: ml_program.global_store @mx = %[[COPY2]] : tensor<f32>
// CHECK-NEXT: %[[C:.*]] = bufferization.alloc_tensor() copy(%[[HI]]) : tensor<f32>
// CHECK-NEXT: ml_program.global_store @mx = %[[C]] : tensor<f32>
// CHECK-NEXT: return %[[LO]]
func.func @observe(%x: tensor<4xf32>) -> tensor<f32> {
  %a = ml_program.global_load @mn : tensor<f32>
  %b = ml_program.global_load @mx : tensor<f32>
  %lo, %hi = qat.observer %x, %a, %b : tensor<4xf32>, tensor<f32>
  ml_program.global_store @mn = %lo : tensor<f32>
  ml_program.global_store @mx = %hi : tensor<f32>
  %c = bufferization.alloc_tensor() copy(%hi) : tensor<f32>
  ml_program.global_store @mx = %c : tensor<f32>
  return %lo : tensor<f32>
}
