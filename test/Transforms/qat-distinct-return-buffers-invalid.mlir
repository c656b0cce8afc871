// RUN: qat-opt %s -qat-distinct-return-buffers -verify-diagnostics

// A repeated strided result cannot be copied into an identity-layout
// buffer of the same type: the pass says so instead of changing the type.
func.func @strided(%a: memref<4xf32, strided<[2]>>) -> (memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>) {
  // expected-error @+1 {{qat-distinct-return-buffers: a repeated result has a non-identity layout 'memref<4xf32, strided<[2]>>'}}
  return %a, %a : memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>
}
