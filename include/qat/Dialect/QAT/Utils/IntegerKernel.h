//===- IntegerKernel.h - one qat.integer_kernel, read and emitted -*- C++
//-*-===//
//
// The match helper of qat.integer_kernel that every pass after
// qat-convert-to-integer uses: IntegerKernel holds the kernel's constants
// decoded (weights, bias, multipliers, shifts, zero points, window) and its
// types. It is written by qat-convert-to-integer (build), read by the x86
// packer and the NPU lowering (read), and emits the kernel's arithmetic
// (emitArithmetic):
//
// - on i8 codes, the integer chain that qat.integer_kernel's description
//   states (tosa.conv2d / depthwise_conv2d / matmul with i32 accumulation,
//   [reshape], [bias add], qat.requantize / requantize_add / rescale /
//   rescale_add), which convert-qat-to-linalg lowers;
// - on integer-valued f32 codes, the exact float simulation of that chain
//   (simulate = true): the same operations on f32 integers, the input zero
//   point subtracted before a float convolution (whose zero points are 0),
//   f32 weights and bias, and the requantization op on f32 with f32 codes.
//   Every f32 operation is exact while |acc| < 2^24
//   (getSimulationBound), so the simulation equals the integer kernel bit
//   for bit; qat-convert-to-integer{simulate=true} writes it, and a
//   training step that must compute what the deployed kernel computes can
//   call emitKernelSimulation on a kernel op.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_INTEGERKERNEL_H
#define QAT_DIALECT_QAT_UTILS_INTEGERKERNEL_H

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace mlir::qat {

struct IntegerKernel {
  KernelKind kind = KernelKind::conv2d;
  /// input: N x H x W x C (matmul: 1 x R x K); weights: O x KH x KW x C,
  /// KH x KW x C x M (depthwise) or 1 x K x O (matmul); result: i8 codes
  /// whose last dimension is the O output channels.
  RankedTensorType inputType, weightType, resultType;
  /// In the layout of weightType, row-major.
  SmallVector<int8_t> weights;
  /// One per output channel.
  SmallVector<int32_t> bias;
  int64_t inputZeroPoint = 0, outputZeroPoint = 0;
  /// The output codes' range (a fused clamp included).
  int64_t quantMin = -128, quantMax = 127;
  /// Convolutions: [top, bottom, left, right], [h, w], [h, w].
  SmallVector<int64_t> pad, stride, dilation;

  /// The requantization: a float multiplier (x86) or fixed point. Each
  /// parameter list has one value (per tensor) or one per output channel;
  /// the residual's lists have the multiplier's length.
  bool floatMultiplier = true;
  SmallVector<float> multiplier;        // float form
  SmallVector<int32_t> fixedMultiplier; // fixed form
  SmallVector<int8_t> shift;            // fixed form
  bool hasResidual = false;
  int64_t residualZeroPoint = 0;
  SmallVector<float> residualMultiplier;        // float form
  SmallVector<int32_t> residualFixedMultiplier; // fixed form
  /// PyTorch's onednn form (float form, no residual): an f32 bias added to
  /// f32(acc) before the multiplier (the length of `multiplier`), and the
  /// offset c of the zero point added in f32 before rounding
  /// (qat.integer_kernel's float_bias and float_zero_point_offset).
  SmallVector<float> floatBias;
  std::optional<int64_t> floatZeroPointOffset;

  int64_t getNumOutputChannels() const { return resultType.getShape().back(); }
  /// Whether the requantization parameters are per output channel.
  bool isPerChannel() const {
    return (floatMultiplier ? multiplier.size() : fixedMultiplier.size()) > 1;
  }
  /// Kernel rows and columns of a convolution (1, 1 for a matmul).
  int64_t getKernelHeight() const;
  int64_t getKernelWidth() const;
  /// The terms each accumulator sums: KH * KW * C (depthwise: KH * KW,
  /// matmul: K).
  int64_t getReduction() const;

  /// The constants of `op`, or nullopt when one is not a constant (or a
  /// splat too large to expand); `why` then names it.
  static std::optional<IntegerKernel> read(IntegerKernelOp op,
                                           std::string *why = nullptr);

  /// A qat.integer_kernel with these constants (arith.constant operands)
  /// on `input` (i8 codes of inputType) and, with hasResidual, `residual`.
  IntegerKernelOp build(OpBuilder &b, Location loc, Value input,
                        Value residual = Value()) const;

  /// The kernel's arithmetic as TOSA and qat ops (see the file comment):
  /// on i8 `input`/`residual` with an i8 result, or with `simulate` on
  /// integer-valued f32 codes with an f32 result. `liveWeights` (codes of
  /// weightType's shape) and `liveBias` (O codes, rank 1), when given,
  /// replace the constants `weights` and `bias`: the deployed forward of a
  /// training step (qat-generate-train-step{numerics=deployed}) quantizes
  /// trainable parameters in the graph. `exactAccumulator` (with
  /// `simulate`): the accumulation is also computed in int32 on tosa.cast
  /// i8 codes (i32 bias), as the integer kernel computes it, and the
  /// requantization reads qat.exact_accumulator(f32 accumulation, int32
  /// accumulation): exact where f32 sums could pass 2^24
  /// (getSimulationBound), differentiable through the f32 one.
  Value emitArithmetic(OpBuilder &b, Location loc, Value input, Value residual,
                       bool simulate, Value liveWeights = Value(),
                       Value liveBias = Value(),
                       bool exactAccumulator = false) const;

  /// A bound of |acc| over all inputs in [quantMin of the input codes...]:
  /// reduction * max|x - input_zero_point| * 128 + max|bias|, for input
  /// codes in [inputMin, inputMax]. Below 2^24 the simulation is exact.
  double getSimulationBound(int64_t inputMin, int64_t inputMax) const;
};

/// The exact float simulation of `op` on integer-valued f32 codes `input`
/// (and `residual`): what the integer kernel computes, bit for bit while
/// the accumulator stays below 2^24 in magnitude. Fails (nothing emitted)
/// when a constant of `op` cannot be read.
FailureOr<Value> emitKernelSimulation(OpBuilder &b, IntegerKernelOp op,
                                      Value input, Value residual = Value());

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_INTEGERKERNEL_H
