//===- Autodiff.h - reverse-mode differentiation of TOSA + qat --*- C++ -*-===//
//
// The adjoints of the TOSA input contract (GradientOpInterface external
// models on the upstream ops) and the reverse-mode engine that chains them
// through one block. docs/Training.md lists what each adjoint emits.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_AUTODIFF_AUTODIFF_H
#define QAT_AUTODIFF_AUTODIFF_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

namespace mlir::qat {

/// Attaches qat's GradientOpInterface to the TOSA ops of the input contract
/// (conv2d, depthwise_conv2d, matmul, add, sub, mul, clamp, rsqrt, reciprocal,
/// max_pool2d, avg_pool2d, reshape, transpose, slice, concat, pad,
/// reduce_sum) when the TOSA dialect is loaded, and to arith.divf on
/// tensors when the arith dialect is. Passes that differentiate
/// call it from getDependentDialects; embedders may call it on their own
/// registry to get the adjoints for their passes.
void registerTosaGradientInterfaceExternalModels(DialectRegistry &registry);

/// Emits, at the builder's insertion point, the reverse-mode adjoint of the
/// ops of the insertion block that come before it: `seeds` pairs a value of
/// the block with its gradient (the loss with 1.0, an output with the
/// caller's `dy`). Returns one gradient per value of `wrt` (a zero tensor
/// where none flows). Every op whose result receives a gradient must
/// implement GradientOpInterface; otherwise the error names the op (at its
/// location) and nothing is returned. Gradients reaching one value from
/// several uses are summed with `tosa.add` in the order of the uses, last
/// use first. Only f32 tensors are differentiated.
FailureOr<SmallVector<Value>>
buildReverseMode(OpBuilder &builder, ArrayRef<std::pair<Value, Value>> seeds,
                 ArrayRef<Value> wrt);

/// A zero f32 tensor of `type` (a tosa.const).
Value buildZeros(OpBuilder &builder, Location loc, Type type);

} // namespace mlir::qat

#endif // QAT_AUTODIFF_AUTODIFF_H
