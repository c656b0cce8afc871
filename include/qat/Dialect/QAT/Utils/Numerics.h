//===- Numerics.h - scalar reference of the qat numerics --------*- C++ -*-===//
//
// One scalar C++ function per formula of the qat ops' descriptions. The
// constant folder uses them, and the unit tests check them against values
// worked out by hand. They must compile without floating-point contraction
// (the project builds with -ffp-contract=off).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_NUMERICS_H
#define QAT_DIALECT_QAT_UTILS_NUMERICS_H

#include <cstdint>

namespace mlir::qat {
enum class RoundingMode : uint32_t;
enum class QScheme : uint32_t;
enum class ObserverKind : uint32_t;

namespace numerics {

/// f32 epsilon, 2^-23: the lower bound of learned scales.
constexpr float kFloatEps = 1.1920928955078125e-07f;
/// Bound on |quant_min| and |quant_max|: codes and their differences stay
/// exact in f32.
constexpr int64_t kMaxQuantMagnitude = int64_t(1) << 23;

/// The rounded, unclamped value before the zero point: `r` in qat.fake_quant.
float roundToGrid(float x, float scale, RoundingMode mode);

/// The unclamped code `t = r + zp` of qat.fake_quant.
float fakeQuantCode(float x, float scale, int32_t zeroPoint, RoundingMode mode);

/// qat.fake_quant on one element.
float fakeQuant(float x, float scale, int32_t zeroPoint, int64_t quantMin,
                int64_t quantMax, RoundingMode mode);

/// The clip mask of qat.fake_quant_grad on one element.
bool fakeQuantInRange(float x, float scale, int32_t zeroPoint, int64_t quantMin,
                      int64_t quantMax, RoundingMode mode);

/// Whether fake quantization with these parameters is idempotent
/// (fq(fq(x)) == fq(x) for every x): true when the scale is a normal number
/// whose reciprocal and range products stay finite and the range spans at
/// most 2^16 codes.
bool isFakeQuantIdempotent(float scale, int64_t quantMin, int64_t quantMax);

/// The zero point qat.lsq uses in its forward: clamp(roundeven(zp)).
float lsqForwardZeroPoint(float zeroPoint, int64_t quantMin, int64_t quantMax);
/// The zero point qat.lsq_grad uses: trunc(clamp(zp + 0.5f)) per tensor,
/// clamp(roundeven(zp)) per axis (as PyTorch's two kernels do).
float lsqBackwardZeroPoint(float zeroPoint, int64_t quantMin, int64_t quantMax,
                           bool perAxis);

/// Elementwise gradients of qat.lsq_grad (before the reduction).
struct LSQGrad {
  float dx, dscale, dzeroPoint;
};
LSQGrad lsqGradElement(float dy, float x, float scale, float zeroPoint,
                       int64_t quantMin, int64_t quantMax, double gradFactor,
                       bool perAxis);

/// qat.choose_qparams on one (min, max) pair.
struct QParams {
  float scale;
  int32_t zeroPoint;
};
/// The integer range after reduce_range: floordiv by 2.
int64_t reduceRangeBound(int64_t bound);
QParams chooseQParams(float min, float max, int64_t quantMin, int64_t quantMax,
                      QScheme scheme, bool reduceRange, float eps,
                      bool powerOfTwo = false);

/// The smallest power of two >= `scale` (2^ceil(log2(scale))), for a
/// positive normal `scale`; +inf above 2^127.
float powerOfTwoCeil(float scale);

/// qat.observer's update of one state entry (min, max) with the NaN-free
/// range (batchMin, batchMax) of a batch.
struct Range {
  float min, max;
};
Range observeUpdate(Range state, Range batch, ObserverKind kind,
                    float averagingConstant);

} // namespace numerics
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_NUMERICS_H
