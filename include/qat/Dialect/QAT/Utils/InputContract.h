//===- InputContract.h - shapes the qat passes rely on ----------*- C++ -*-===//
//
// The TOSA verifier of MLIR 22 accepts kernels whose operand shapes do not
// agree (a conv2d weight with more output channels than its result, with
// another input channel count than its input, ...), and any tensor size.
// Every qat pass that reads shapes (qat-fold-conv-bn, qat-insert-fake-quant,
// qat-convert-to-integer, qat-lower-to-npu, qat-pack-int8-kernels) calls
// verifyInputContract first and stops with its diagnostic, so none of them
// has to trust a shape (docs/Preparation.md, "The input contract").
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_INPUTCONTRACT_H
#define QAT_DIALECT_QAT_UTILS_INPUTCONTRACT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <optional>

namespace mlir::qat {

/// Largest tensor of the contract, in bytes: TOSA's tensor_size_t at level
/// 8K (MAX_LOG2_SIZE = 31), 2^31 - 1. Byte sizes below it cannot overflow
/// int64 arithmetic on element counts, channels or indices.
constexpr int64_t kMaxTensorBytes = (int64_t(1) << 31) - 1;

/// Most elements a constant folder or pass writes out when it has to expand
/// a splat constant (whose storage is one element) into distinct values.
/// Beyond it the fold is not done: the work stays bounded by the input's
/// size, not by the sizes its types declare.
constexpr int64_t kMaxSplatExpansion = int64_t(1) << 24;

/// The number of elements of a statically shaped `type`, or nullopt when the
/// product overflows int64 (or the type is dynamic or unranked).
std::optional<int64_t> getCheckedNumElements(Type type);

/// The size in bytes of a statically shaped tensor as TOSA counts it
/// (max(1, bits / 8) per element), nullopt on overflow or when dynamic.
std::optional<int64_t> getCheckedByteSize(Type type);

/// Whether a folder may write `resultElements` values computed from the
/// constant `attr`: always when `attr` is not a splat (its elements are in
/// memory, so the work is bounded by the input's size), and for a splat only
/// up to kMaxSplatExpansion elements.
bool isExpansionBounded(ElementsAttr attr, int64_t resultElements);

/// The values of `attr` a check has to look at: its one value if it is a
/// splat (every element is equal), every element otherwise (they are all
/// stored). Checks over it cost what the attribute's storage costs, not what
/// its type declares.
template <typename T> auto getStoredValues(DenseElementsAttr attr) {
  auto all = attr.getValues<T>();
  auto end = attr.isSplat() && attr.getNumElements() > 0
                 ? std::next(all.begin())
                 : all.end();
  return llvm::make_range(all.begin(), end);
}

/// Checks every op nested under `root` against the input contract:
/// - every tensor value (op result, block argument) has at most
///   kMaxTensorBytes bytes;
/// - tosa.conv2d: weight [O, KH, KW, C] against input [N, H, W, C] and
///   result [N, OH, OW, O] (batch, input and output channels);
/// - tosa.depthwise_conv2d: weight [KH, KW, C, M] against input [N, H, W, C]
///   and result [N, OH, OW, C*M];
/// - tosa.matmul: [N, H, C] x [N, C, W] -> [N, H, W];
/// - tosa.avg_pool2d / tosa.max_pool2d: batch and channels kept.
/// (The TOSA verifier checks the spatial sizes of these ops, the bias
/// length, and the shapes of elementwise ops, reshape, transpose and concat.)
/// Dynamic dimensions are not compared. The first violation is reported on
/// its op, naming the operand, its type and the rule, and the result is
/// failure.
LogicalResult verifyInputContract(Operation *root);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_INPUTCONTRACT_H
