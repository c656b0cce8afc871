//===- Numerics.cpp - scalar reference of the qat numerics ----------------===//
//
// Straight transcriptions of the formulas in QATOps.td. Keep them literal:
// each f32 operation here is one f32 operation there.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Utils/Numerics.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir::qat;
using namespace mlir::qat::numerics;

float numerics::roundToGrid(float x, float scale, RoundingMode mode) {
  switch (mode) {
  case RoundingMode::half_even: {
    float inv = 1.0f / scale;
    return std::nearbyint(x * inv);
  }
  case RoundingMode::half_even_div:
    return std::nearbyint(x / scale);
  case RoundingMode::half_up:
    return std::floor(x / scale + 0.5f);
  }
  return std::numeric_limits<float>::quiet_NaN();
}

static bool isValidScale(float scale) {
  return scale > 0.0f && std::isfinite(scale);
}

float numerics::fakeQuantCode(float x, float scale, int32_t zeroPoint,
                              RoundingMode mode) {
  return roundToGrid(x, scale, mode) + static_cast<float>(zeroPoint);
}

float numerics::fakeQuant(float x, float scale, int32_t zeroPoint,
                          int64_t quantMin, int64_t quantMax,
                          RoundingMode mode) {
  if (!isValidScale(scale) || std::isnan(x))
    return std::numeric_limits<float>::quiet_NaN();
  float t = fakeQuantCode(x, scale, zeroPoint, mode);
  float q = std::min(std::max(t, static_cast<float>(quantMin)),
                     static_cast<float>(quantMax));
  return (q - static_cast<float>(zeroPoint)) * scale;
}

bool numerics::fakeQuantInRange(float x, float scale, int32_t zeroPoint,
                                int64_t quantMin, int64_t quantMax,
                                RoundingMode mode) {
  if (!isValidScale(scale))
    return false;
  float t = fakeQuantCode(x, scale, zeroPoint, mode);
  return static_cast<float>(quantMin) <= t && t <= static_cast<float>(quantMax);
}

bool numerics::isFakeQuantIdempotent(float scale, int64_t quantMin,
                                     int64_t quantMax) {
  if (!isValidScale(scale) || quantMax - quantMin > (int64_t(1) << 16))
    return false;
  // Normal, with a finite reciprocal and a finite image of the whole range.
  return scale >= std::ldexp(1.0f, -120) && scale <= std::ldexp(1.0f, 100);
}

float numerics::lsqForwardZeroPoint(float zeroPoint, int64_t quantMin,
                                    int64_t quantMax) {
  float r = std::nearbyint(zeroPoint);
  return std::min(std::max(r, static_cast<float>(quantMin)),
                  static_cast<float>(quantMax));
}

float numerics::lsqBackwardZeroPoint(float zeroPoint, int64_t quantMin,
                                     int64_t quantMax, bool perAxis) {
  if (perAxis)
    return lsqForwardZeroPoint(zeroPoint, quantMin, quantMax);
  float r = zeroPoint + 0.5f;
  r = std::min(std::max(r, static_cast<float>(quantMin)),
               static_cast<float>(quantMax));
  return std::trunc(r);
}

LSQGrad numerics::lsqGradElement(float dy, float x, float scale,
                                 float zeroPoint, int64_t quantMin,
                                 int64_t quantMax, double gradFactor,
                                 bool perAxis) {
  float s = std::max(scale, kFloatEps);
  float inv = 1.0f / s;
  float g = static_cast<float>(gradFactor);
  float zb = lsqBackwardZeroPoint(zeroPoint, quantMin, quantMax, perAxis);
  float qmin = static_cast<float>(quantMin), qmax = static_cast<float>(quantMax);
  float t = std::nearbyint(std::fma(x, inv, zb));
  LSQGrad grad;
  bool in = qmin <= t && t <= qmax;
  grad.dx = dy * (in ? 1.0f : 0.0f);
  if (in) {
    float d = std::fma(std::min(std::max(t, qmin), qmax) - zb, s, -x);
    grad.dscale = ((dy * d) * inv) * g;
    grad.dzeroPoint = 0.0f;
  } else {
    float bound = t < qmin ? qmin : qmax;
    grad.dscale = (dy * (bound - zb)) * g;
    grad.dzeroPoint = ((dy * -1.0f) * s) * g;
  }
  return grad;
}

int64_t numerics::reduceRangeBound(int64_t bound) {
  // floordiv, rounding toward -inf like Python's //.
  return bound >= 0 ? bound / 2 : -((-bound + 1) / 2);
}

QParams numerics::chooseQParams(float min, float max, int64_t quantMin,
                                int64_t quantMax, QScheme scheme,
                                bool reduceRange, float eps,
                                bool powerOfTwo) {
  if (!(min <= max) || !std::isfinite(min) || !std::isfinite(max))
    return {1.0f, 0};
  int64_t qmin = reduceRange ? reduceRangeBound(quantMin) : quantMin;
  int64_t qmax = reduceRange ? reduceRangeBound(quantMax) : quantMax;
  float lo = std::min(min, 0.0f), hi = std::max(max, 0.0f);
  if (scheme == QScheme::symmetric) {
    float absMax = std::max(-lo, hi);
    float scale = absMax / (static_cast<float>(qmax - qmin) / 2.0f);
    scale = std::max(scale, eps);
    if (powerOfTwo)
      scale = powerOfTwoCeil(scale);
    int32_t zp = 0;
    if (qmin >= 0)
      zp = static_cast<int32_t>(reduceRangeBound(qmin + qmax + 1));
    return {scale, zp};
  }
  float scale = (hi - lo) / static_cast<float>(qmax - qmin);
  scale = std::max(scale, eps);
  if (powerOfTwo)
    scale = powerOfTwoCeil(scale);
  int64_t zp = qmin - static_cast<int64_t>(std::nearbyint(lo / scale));
  zp = std::min(std::max(zp, qmin), qmax);
  return {scale, static_cast<int32_t>(zp)};
}

float numerics::powerOfTwoCeil(float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof(bits));
  // A normal float is 2^e * 1.m: a zero mantissa is already a power of two,
  // anything else rounds up to 2^(e+1). Exponent 255 (inf) absorbs overflow.
  if (bits & 0x007FFFFFu)
    bits = (bits & 0x7F800000u) + 0x00800000u;
  std::memcpy(&scale, &bits, sizeof(bits));
  return scale;
}

numerics::Range numerics::observeUpdate(Range state, Range batch,
                                        ObserverKind kind, float c) {
  const float inf = std::numeric_limits<float>::infinity();
  if (kind == ObserverKind::min_max)
    return {std::min(state.min, batch.min), std::max(state.max, batch.max)};
  if (batch.min == inf && batch.max == -inf)
    return state;
  if (state.min == inf && state.max == -inf)
    return batch;
  return {state.min + c * (batch.min - state.min),
          state.max + c * (batch.max - state.max)};
}
