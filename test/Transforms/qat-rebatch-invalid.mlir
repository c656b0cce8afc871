// RUN: qat-opt %s -split-input-file -qat-rebatch=batch=8 -verify-diagnostics

// expected-error @+1 {{qat-rebatch: argument #1 of @two has batch 4, argument #0 2}}
func.func @two(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x3xf32> {
  return %a : tensor<2x3xf32>
}

// -----

// expected-error @+1 {{qat-rebatch: argument #0 of @dyn has type 'tensor<?x3xf32>', without a static leading (batch) dimension}}
func.func @dyn(%a: tensor<?x3xf32>) -> tensor<?x3xf32> {
  return %a : tensor<?x3xf32>
}

// -----

// expected-error @+1 {{qat-rebatch: @none has no arguments to take a batch from}}
func.func @none() -> tensor<2xf32> {
  %c = "tosa.const"() <{values = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  return %c : tensor<2xf32>
}

// -----

func.func @sum_batch(%a: tensor<2x3xf32>) -> tensor<1x3xf32> {
  // expected-error @+1 {{qat-rebatch: result 'tensor<1x3xf32>' would become 'tensor<1x3xf32>', which is not the same type with the batch (the op reduces over or drops the batch)}}
  %s = tosa.reduce_sum %a {axis = 0 : i32} : (tensor<2x3xf32>) -> tensor<1x3xf32>
  return %s : tensor<1x3xf32>
}

// -----

func.func @part(%a: tensor<4x3xf32>) -> tensor<2x3xf32> {
  %start = tosa.const_shape {values = dense<[1, 0]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %size = tosa.const_shape {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
  // expected-error @+1 {{qat-rebatch: slices part of the batch (dimension 0: start 1, size 2 of 4)}}
  %s = tosa.slice %a, %start, %size : (tensor<4x3xf32>, !tosa.shape<2>, !tosa.shape<2>) -> tensor<2x3xf32>
  return %s : tensor<2x3xf32>
}

// -----

func.func @mix(%a: tensor<4x6xf32>) -> tensor<6x4xf32> {
  %shape = tosa.const_shape {values = dense<[6, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  // expected-error @+1 {{qat-rebatch: the reshape 'tensor<4x6xf32>' -> 'tensor<6x4xf32>' does not keep the batch (4) in one dimension}}
  %r = tosa.reshape %a, %shape : (tensor<4x6xf32>, !tosa.shape<2>) -> tensor<6x4xf32>
  return %r : tensor<6x4xf32>
}

// -----

func.func @one(%a: tensor<1x512xf32>) -> tensor<1x1x512xf32> {
  %shape = tosa.const_shape {values = dense<[1, 1, 512]> : tensor<3xindex>} : () -> !tosa.shape<3>
  // expected-error @+1 {{qat-rebatch: the reshape 'tensor<1x512xf32>' -> 'tensor<1x1x512xf32>' is ambiguous: at batch 1 the batch cannot be told from other dimensions of that size; export the model at batch 2 or more}}
  %r = tosa.reshape %a, %shape : (tensor<1x512xf32>, !tosa.shape<3>) -> tensor<1x1x512xf32>
  return %r : tensor<1x1x512xf32>
}

// -----

func.func private @callee(tensor<2x3xf32>) -> tensor<2x3xf32>
func.func @caller(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{qat-rebatch: calls are not supported; inline them first}}
  %r = func.call @callee(%a) : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
