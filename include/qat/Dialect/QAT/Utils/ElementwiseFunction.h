//===- ElementwiseFunction.h - element-wise functions of one value -*- C++ -*-//
//
// An element-wise function of one tensor: a connected group of element-wise
// TOSA ops (sigmoid, tanh, erf, exp, log, reciprocal, rsqrt, abs, negate,
// floor, ceil, add, sub, mul, maximum, minimum, pow, clamp) whose only
// operands from outside are one value `x` and splat constants, and whose
// inner values are used only inside the group. SiLU (x * sigmoid(x)),
// hardswish (x * clamp(x + 3, 0, 6) * 1/6), hardsigmoid, GELU and tanh are
// such functions. On 8-bit codes each is a 256-entry table: the lookup
// tables of docs/Conversion.md, placed by qat-insert-fake-quant, checked by
// qat-verify-target and built by qat-convert-to-integer.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_ELEMENTWISEFUNCTION_H
#define QAT_DIALECT_QAT_UTILS_ELEMENTWISEFUNCTION_H

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::qat {

struct ElementwiseFunction {
  /// The one non-constant input.
  Value input;
  /// The last op; its result is the function's value.
  Operation *root = nullptr;
  /// Every op of the function, in block order (root last).
  llvm::SmallVector<Operation *> ops;

  /// The function at `x`: each op in f64, with constants as their (f32)
  /// values, in the order of the ops; TOSA's semantics (sigmoid
  /// 1 / (1 + exp(-x)), clamp propagating NaN, ...).
  double evaluate(double x) const;
  /// A readable list of the ops ("tosa.mul(tosa.sigmoid)") for remarks.
  std::string describe() const;
};

/// The quantization grid of 8-bit codes as qat-convert-to-integer stores
/// them (signed: an unsigned range is shifted by -128).
struct CodeGrid {
  float scale;
  int32_t zeroPoint;
  int64_t quantMin, quantMax;
};

/// The 256-entry table of `fn` from input codes to output codes, indexed by
/// code + 128 (tosa.table's i8 form). For each code c in [in.quantMin,
/// in.quantMax]: x = (f32(c) - f32(in.zeroPoint)) * in.scale in f32 (as
/// qat.dequantize), y = f32(fn.evaluate(x)) (f64, rounded once), and the
/// entry is the code qat.quantize gives y on `out` with `rounding` (NaN ->
/// the zero point, saturating). Codes outside the input range, which the
/// input never holds, take the entry of the nearest code in the range.
llvm::SmallVector<int8_t> buildLookupTable(const ElementwiseFunction &fn,
                                           const CodeGrid &in,
                                           const CodeGrid &out,
                                           RoundingMode rounding);

/// Whether `op` may be part of an element-wise function (its kind, f32
/// operands and results, a mul shift of 0).
bool isElementwiseFunctionOp(Operation *op);

/// The largest element-wise function whose last op is `root`: `root` and
/// every producer of its operands that is an element-wise op whose result
/// is used only inside the group, with exactly one non-constant input from
/// outside, of the result's shape. Other operands must be constants holding
/// one value (splats). Only groups worth a table are returned: at least one
/// op that is not add / sub / mul / maximum / minimum / clamp, or a product
/// of two values that both depend on x (x * x, x * clamp(x + 3, 0, 6)), or
/// a multiplication among two or more ops (hardsigmoid); a lone add, mul or
/// clamp, x + x, or a bias add followed by ReLU stays what it is.
std::optional<ElementwiseFunction> matchElementwiseFunction(Operation *root);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_ELEMENTWISEFUNCTION_H
