//===- Converter.h - qat-convert-to-integer's converter ---------*- C++ -*-===//
//
// Private to lib/Conversion/FakeQuantToInteger: the converter of one
// function and what its parts share. FakeQuantToInteger.cpp holds the walk
// over a function (Converter::run), the pass and the deployed forward;
// ConvertKernel.cpp the integer kernels (conv2d / depthwise_conv2d / matmul
// chains to qat.integer_kernel); ConvertOps.cpp the other ops (adds, average
// pools, lookup tables, agnostic ops, input quantizers).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_FAKEQUANTTOINTEGER_CONVERTER_H
#define QAT_LIB_CONVERSION_FAKEQUANTTOINTEGER_CONVERTER_H

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Dialect/QAT/Utils/ElementwiseFunction.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Remarks.h"

#include <cmath>
#include <limits>
#include <optional>

namespace mlir::qat::to_integer {

/// A quantizer whose every use is the weight operand of a kernel.
bool isWeightQuantizer(FakeQuantOp fq);

inline remark::RemarkOpts opts(StringRef name) {
  return remark::RemarkOpts::name(name).category("qat-convert-to-integer");
}

/// Constant parameters of a fake_quant, in the stored code domain: unsigned
/// 8-bit ranges are shifted by -128 into i8.
struct QParams {
  SmallVector<float> scales;
  SmallVector<int32_t> zeroPoints;
  std::optional<int64_t> axis;
  int64_t qmin, qmax;
  int64_t shift = 0;
  RoundingMode rounding;
};

/// The constant parameters of `fq`, or nullopt when they are not constant
/// 8-bit ones.
std::optional<QParams> getParams(FakeQuantOp fq);

/// m = M * 2^-n for each multiplier with one shift per channel (the larger
/// multiplier of a pair gets M in [2^30, 2^31)). False if n leaves [2, 62].
bool fixedPoint(ArrayRef<float> ms, SmallVectorImpl<int32_t> &mults,
                int64_t &shift);

/// The next op of a chain this pass reads: the only user of the last op.
inline FusionLink nextSingleUser(Operation *cur) {
  Value v = cur->getResult(0);
  return {v.hasOneUse() ? *v.getUsers().begin() : nullptr, nullptr};
}

/// The chain one qat.integer_kernel carries from `conv` (conv2d,
/// depthwise_conv2d or matmul; then the optional reshape, add and clamp of
/// its kind), matched by the targets' fusion matcher through single uses.
SmallVector<Operation *> kernelChain(Operation *conv);

/// A value's integer form: its i8 codes and per-tensor parameters.
struct Codes {
  Value codes;
  float scale;
  int32_t zeroPoint;
  int64_t qmin, qmax;
  /// 128 for unsigned 8-bit codes kept in i8 (shifted by -128), else 0.
  int64_t shift = 0;
};

/// Converts one function. Its state (codes of values, handled ops) refers to
/// that function's IR, part of which run() erases: never reuse a Converter
/// for a second function.
class Converter {
public:
  /// `live`: weights and biases that are not constants (trainable
  /// parameters) are quantized by ops in the graph (simulation only).
  Converter(const TargetDescription &target, MLIRContext *ctx, bool simulate,
            bool live = false)
      : target(target), ctx(ctx), simulate(simulate), live(simulate && live) {}
  void run(func::FuncOp func);
  unsigned numKernels = 0;

private:
  bool convertKernel(Operation *conv);
  void quantizeInput(FakeQuantOp fq);
  void convertAgnostic(Operation *op);
  /// The requantization of `k` for the f32 multipliers `m` (one, or one
  /// per output channel) and, with a residual, its multiplier `mr`: as is
  /// for a float-multiplier target, else in fixed point (M * 2^-n, M in
  /// [2^30, 2^31)). False when a shift leaves [2, 62].
  bool setRequantization(IntegerKernel &k, ArrayRef<float> m,
                         std::optional<float> mr);
  /// Writes the kernel `k` on `x` (and `residual`): the qat.integer_kernel,
  /// or with `simulate` its float simulation. Returns its output codes.
  Value emitKernel(OpBuilder &b, Location loc, const IntegerKernel &k,
                   const Codes &x, const Codes *residual);
  /// lhs (zero point `lhsZp`, multipliers `m`) plus a quantized `rhs`, both
  /// rescaled to `out`.
  Value requantizeAdd(OpBuilder &b, Location loc, Value lhs, int32_t lhsZp,
                      ArrayRef<float> m, const Codes &rhs, const Codes &out,
                      int64_t lo, int64_t hi);
  bool convertAdd(Operation *add);
  /// The add of `lhs` and `rhs` [+ clamp] to `out` as PyTorch's onednn
  /// engine computes it (float arithmetic on dequantized values).
  Value pytorchAdd(OpBuilder &b, Location loc, const Codes &lhs,
                   const Codes &rhs, const Codes &out, tosa::ClampOp clamp,
                   FakeQuantOp outFq);
  /// The add of `lhs` and `rhs` to `out` (codes in [lo, hi]) as PyTorch's
  /// qnnpack engine computes it: fixed point, ties away from zero. Null if
  /// its scale ratios are outside qnnpack's [2^-14, 2^8).
  Value qnnpackAdd(OpBuilder &b, Location loc, const Codes &lhs,
                   const Codes &rhs, const Codes &out, int64_t lo, int64_t hi);
  /// An element-wise function of one quantized value followed by its output
  /// quantizer: a tosa.table on codes.
  bool convertTable(const ElementwiseFunction &fn, FakeQuantOp outFq);
  bool convertAvgPool(tosa::AvgPool2dOp pool, FakeQuantOp outFq);
  /// A global average pool that the importer marked `qat.torch_mean`
  /// (PyTorch's x.mean((2, 3))), as PyTorch's onednn engine computes it.
  bool convertTorchMean(tosa::AvgPool2dOp pool, FakeQuantOp outFq,
                        const Codes &x, const QParams &op);
  /// The output range [lo, hi] of codes after a fused clamp.
  std::optional<std::pair<int64_t, int64_t>> clampRange(tosa::ClampOp clamp,
                                                        const QParams &out);
  /// The element type of codes: i8, or integer-valued f32 (simulation).
  Type codeType() const {
    return simulate ? Type(Float32Type::get(ctx))
                    : Type(IntegerType::get(ctx, 8));
  }

  const TargetDescription &target;
  MLIRContext *ctx;
  bool simulate;
  bool live;
  llvm::DenseMap<Value, Codes> codesOf;
  llvm::DenseSet<Operation *> handled, attempted;
  /// The head (conv2d / depthwise_conv2d / matmul) of the kernel chain each
  /// output quantizer ends.
  llvm::DenseMap<Operation *, Operation *> kernelHeads;
};

} // namespace mlir::qat::to_integer

#endif // QAT_LIB_CONVERSION_FAKEQUANTTOINTEGER_CONVERTER_H
