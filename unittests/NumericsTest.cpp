//===- NumericsTest.cpp - the scalar numerics of the qat ops --------------===//
//
// Hand-worked values for each formula of QATOps.td, plus properties that the
// folders rely on (idempotency of repeated fake quantization).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace mlir::qat;
using namespace mlir::qat::numerics;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(FakeQuant, RoundsHalfToEvenAfterReciprocal) {
  // scale 1: codes 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0 (+ zp).
  EXPECT_EQ(fakeQuant(0.5f, 1.0f, 0, -128, 127, RoundingMode::half_even), 0.0f);
  EXPECT_EQ(fakeQuant(1.5f, 1.0f, 0, -128, 127, RoundingMode::half_even), 2.0f);
  EXPECT_EQ(fakeQuant(2.5f, 1.0f, 0, -128, 127, RoundingMode::half_even), 2.0f);
  EXPECT_EQ(fakeQuant(-2.5f, 1.0f, 0, -128, 127, RoundingMode::half_even), -2.0f);
  // Zero point is added after rounding: 2.5 -> 2, + 3 = 5, back: (5-3)*1 = 2.
  EXPECT_EQ(fakeQuant(2.5f, 1.0f, 3, 0, 255, RoundingMode::half_even), 2.0f);
}

TEST(FakeQuant, HalfUpRoundsTiesUp) {
  EXPECT_EQ(fakeQuant(2.5f, 1.0f, 0, -128, 127, RoundingMode::half_up), 3.0f);
  EXPECT_EQ(fakeQuant(-2.5f, 1.0f, 0, -128, 127, RoundingMode::half_up), -2.0f);
}

TEST(FakeQuant, ReciprocalAndDivisionDiffer) {
  // Find an input where x * (1/s) and x / s round to different integers; the
  // two modes must then give those different results.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  int differing = 0;
  for (int i = 0; i < 200000 && differing == 0; ++i) {
    float s = dist(rng) * 1e-3f + 0.2f;
    float x = (std::floor(dist(rng)) + 0.5f) * s;
    float a = roundToGrid(x, s, RoundingMode::half_even);
    float b = roundToGrid(x, s, RoundingMode::half_even_div);
    if (a != b) {
      ++differing;
      EXPECT_EQ(a, std::nearbyint(x * (1.0f / s)));
      EXPECT_EQ(b, std::nearbyint(x / s));
    }
  }
  EXPECT_GT(differing, 0) << "no input separates the two rounding modes";
}

TEST(FakeQuant, SaturatesInfinitiesAndHugeValues) {
  EXPECT_EQ(fakeQuant(kInf, 0.5f, 10, 0, 255, RoundingMode::half_even),
            (255 - 10) * 0.5f);
  EXPECT_EQ(fakeQuant(1e30f, 0.5f, 10, 0, 255, RoundingMode::half_even),
            (255 - 10) * 0.5f);
  EXPECT_EQ(fakeQuant(-kInf, 0.5f, 10, 0, 255, RoundingMode::half_even),
            (0 - 10) * 0.5f);
  EXPECT_TRUE(std::isnan(fakeQuant(kNaN, 0.5f, 10, 0, 255,
                                   RoundingMode::half_even)));
}

TEST(FakeQuant, InvalidScaleGivesNaN) {
  for (float s : {0.0f, -1.0f, kInf, kNaN})
    EXPECT_TRUE(std::isnan(fakeQuant(1.0f, s, 0, 0, 255,
                                     RoundingMode::half_even)))
        << "scale " << s;
}

TEST(FakeQuant, MaskUsesUnclampedCode) {
  // scale 1, zp 0, range 0..255: 255.4 -> 255 in range; 255.6 -> 256 out.
  EXPECT_TRUE(fakeQuantInRange(255.4f, 1.0f, 0, 0, 255, RoundingMode::half_even));
  EXPECT_FALSE(fakeQuantInRange(255.6f, 1.0f, 0, 0, 255, RoundingMode::half_even));
  EXPECT_TRUE(fakeQuantInRange(-0.5f, 1.0f, 0, 0, 255, RoundingMode::half_even));
  EXPECT_FALSE(fakeQuantInRange(kNaN, 1.0f, 0, 0, 255, RoundingMode::half_even));
}

TEST(FakeQuant, RepeatedIsIdempotentWherePromised) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> logScale(-30.0f, 30.0f);
  struct Range {
    int64_t lo, hi;
  };
  for (Range r : {Range{0, 255}, Range{-128, 127}, Range{-8, 7},
                  Range{-32768, 32767}}) {
    for (int k = 0; k < 50; ++k) {
      float s = std::exp2(logScale(rng));
      ASSERT_TRUE(isFakeQuantIdempotent(s, r.lo, r.hi));
      for (int64_t zp : {r.lo, (r.lo + r.hi) / 2, r.hi}) {
        for (int64_t q = r.lo; q <= r.hi; q += (r.hi - r.lo) / 511 + 1) {
          for (float jitter : {-0.49f, 0.0f, 0.5f}) {
            float x = (float(q - zp) + jitter) * s;
            float once = fakeQuant(x, s, zp, r.lo, r.hi, RoundingMode::half_even);
            float twice =
                fakeQuant(once, s, zp, r.lo, r.hi, RoundingMode::half_even);
            ASSERT_EQ(bits(once), bits(twice)) << "s=" << s << " q=" << q;
          }
        }
      }
    }
  }
  EXPECT_FALSE(isFakeQuantIdempotent(1e-40f, 0, 255)); // subnormal
  EXPECT_FALSE(isFakeQuantIdempotent(1.0f, 0, 1 << 20)); // too wide
}

TEST(LSQ, ZeroPointRounding) {
  // Forward: roundeven(2.5) = 2. Backward per tensor: trunc(2.5 + 0.5) = 3;
  // per axis: roundeven, as the forward (PyTorch's two kernels differ).
  EXPECT_EQ(lsqForwardZeroPoint(2.5f, 0, 255), 2.0f);
  EXPECT_EQ(lsqBackwardZeroPoint(2.5f, 0, 255, /*perAxis=*/false), 3.0f);
  EXPECT_EQ(lsqBackwardZeroPoint(2.5f, 0, 255, /*perAxis=*/true), 2.0f);
  EXPECT_EQ(lsqForwardZeroPoint(300.0f, 0, 255), 255.0f);
  EXPECT_EQ(lsqBackwardZeroPoint(-7.0f, 0, 255, false), 0.0f);
}

TEST(LSQ, GradientsInAndOutOfRange) {
  // scale 0.5, zp 0, range -8..7, g = 2.
  // x = 1.2: t = roundeven(1.2 * 2) = 2; d = fma(2, 0.5, -1.2) = 1 - 1.2
  // rounded once; ds = ((dy * d) * 2) * 2.
  LSQGrad in = lsqGradElement(1.0f, 1.2f, 0.5f, 0.0f, -8, 7, 2.0, false);
  EXPECT_EQ(in.dx, 1.0f);
  EXPECT_EQ(in.dzeroPoint, 0.0f);
  EXPECT_EQ(in.dscale, std::fma(2.0f, 0.5f, -1.2f) * 4.0f);
  // x = 10: t = 20 > 7: dx = 0, ds = dy*(7-0)*g = 14, dz = -dy*s*g = -1.
  LSQGrad above = lsqGradElement(1.0f, 10.0f, 0.5f, 0.0f, -8, 7, 2.0, false);
  EXPECT_EQ(above.dx, 0.0f);
  EXPECT_EQ(above.dscale, 14.0f);
  EXPECT_EQ(above.dzeroPoint, -1.0f);
  // x = -10: below: ds = dy*(-8-0)*g = -16.
  LSQGrad below = lsqGradElement(1.0f, -10.0f, 0.5f, 0.0f, -8, 7, 2.0, false);
  EXPECT_EQ(below.dscale, -16.0f);
  // A clipped negative gradient is -0.0, as PyTorch's dy * mask.
  LSQGrad negative = lsqGradElement(-1.0f, 10.0f, 0.5f, 0.0f, -8, 7, 1.0, false);
  EXPECT_EQ(bits(negative.dx), bits(-0.0f));
}

TEST(LSQ, CodeUsesOneRounding) {
  // x * inv + zb with one rounding (fma) can differ from two roundings;
  // search for such an input and check the fused result is the one used.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(0.01f, 0.06f);
  int found = 0;
  for (int i = 0; i < 100000 && found < 5; ++i) {
    float s = dist(rng), inv = 1.0f / s;
    float x = (float(i % 100) + 0.5f) * s;
    float zb = float(i % 40);
    float fused = std::nearbyint(std::fma(x, inv, zb));
    float twice = std::nearbyint(zb + x * inv);
    if (fused == twice)
      continue;
    ++found;
    LSQGrad g = lsqGradElement(1.0f, x, s, zb, -100000, 100000, 1.0, false);
    float d = std::fma(fused - zb, s, -x);
    EXPECT_EQ(g.dscale, (d * inv) * 1.0f);
  }
  EXPECT_GT(found, 0);
}

TEST(ChooseQParams, AffineMatchesPyTorchFormula) {
  // min -1, max 3, u8: scale = 4/255, zp = 0 - round(-1/scale) = 64
  // (-63.75 rounds to -64).
  QParams p = chooseQParams(-1.0f, 3.0f, 0, 255, QScheme::affine, false,
                            kFloatEps);
  EXPECT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zeroPoint, 64);
  // Range widened to include 0: min 1, max 3 behaves like 0..3.
  p = chooseQParams(1.0f, 3.0f, 0, 255, QScheme::affine, false, kFloatEps);
  EXPECT_EQ(p.scale, 3.0f / 255.0f);
  EXPECT_EQ(p.zeroPoint, 0);
}

TEST(ChooseQParams, Symmetric) {
  QParams s8 = chooseQParams(-2.0f, 1.0f, -128, 127, QScheme::symmetric, false,
                             kFloatEps);
  EXPECT_EQ(s8.scale, 2.0f / 127.5f);
  EXPECT_EQ(s8.zeroPoint, 0);
  QParams u8 = chooseQParams(-2.0f, 1.0f, 0, 255, QScheme::symmetric, false,
                             kFloatEps);
  EXPECT_EQ(u8.zeroPoint, 128);
  QParams u7 = chooseQParams(-2.0f, 1.0f, 0, 255, QScheme::symmetric, true,
                             kFloatEps);
  EXPECT_EQ(u7.scale, 2.0f / 63.5f);
  EXPECT_EQ(u7.zeroPoint, 64);
}

TEST(ChooseQParams, ReduceRangeHalvesTheBounds) {
  EXPECT_EQ(reduceRangeBound(255), 127);
  EXPECT_EQ(reduceRangeBound(0), 0);
  EXPECT_EQ(reduceRangeBound(-128), -64);
  EXPECT_EQ(reduceRangeBound(127), 63);
  EXPECT_EQ(reduceRangeBound(-127), -64);
}

TEST(ChooseQParams, DegenerateRanges) {
  // Uninitialised observer state and NaN give scale 1, zp 0.
  QParams p = chooseQParams(kInf, -kInf, 0, 255, QScheme::affine, false,
                            kFloatEps);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zeroPoint, 0);
  p = chooseQParams(kNaN, 1.0f, 0, 255, QScheme::affine, false, kFloatEps);
  EXPECT_EQ(p.scale, 1.0f);
  // min == max == 0: scale clamps to eps, zp = qmin.
  p = chooseQParams(0.0f, 0.0f, 0, 255, QScheme::affine, false, kFloatEps);
  EXPECT_EQ(p.scale, kFloatEps);
  EXPECT_EQ(p.zeroPoint, 0);
}
} // namespace
