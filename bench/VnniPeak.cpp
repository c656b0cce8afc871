//===- VnniPeak.cpp - measured per-core peaks of the SIMD units -----------===//
//
// 24 independent accumulators (24 of the 32 zmm registers) cover latency x
// throughput of vpdpbusd and vfmadd231ps on current x86 cores (5 x 2 on Intel).
// The operands live in registers: a broadcast memory operand is measurably
// slower (bench/README.md).
//
//===----------------------------------------------------------------------===//

#include "VnniPeak.h"

#include <chrono>
#include <cstdint>
#include <immintrin.h>

using namespace qat::bench;

namespace {
constexpr int kAccumulators = 24;
constexpr int64_t kChunk = 1 << 16; // iterations per timed chunk
} // namespace

// Opaque inputs and a sink, so the loops can be neither folded nor dropped.
static volatile int opaqueA = 1, opaqueB = -1;
static volatile float opaqueX = 0.999f, opaqueY = 1e-3f;
static volatile int64_t sink;

__attribute__((target("avx512f,avx512vnni"), noinline)) static void
vnniLoop(int64_t iterations) {
  __m512i a = _mm512_set1_epi8(static_cast<char>(opaqueA));
  __m512i b = _mm512_set1_epi8(static_cast<char>(opaqueB));
  __m512i acc[kAccumulators];
  for (__m512i &v : acc)
    v = _mm512_setzero_si512();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma clang loop unroll(full)
    for (int j = 0; j < kAccumulators; ++j)
      acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
  __m512i sum = acc[0];
  for (int j = 1; j < kAccumulators; ++j)
    sum = _mm512_add_epi32(sum, acc[j]);
  sink = _mm512_reduce_add_epi32(sum);
}

/// The palette-1 configuration of 8 tiles of 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, startRow = 0, reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

__attribute__((target("amx-tile,amx-int8"), noinline)) static void
amxLoop(int64_t iterations) {
  alignas(64) static int8_t data[1024];
  alignas(64) static int32_t out[256];
  data[0] = static_cast<int8_t>(opaqueA);
  TileConfig cfg;
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, data, 64);
  _tile_loadd(5, data, 64);
  _tile_loadd(6, data, 64);
  _tile_loadd(7, data, 64);
  for (int64_t i = 0; i < iterations; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_stored(1, out, 64);
  _tile_stored(2, out, 64);
  _tile_stored(3, out, 64);
  _tile_release();
  sink = out[0];
}

__attribute__((target("avx512f"), noinline)) static void
fmaLoop(int64_t iterations) {
  __m512 x = _mm512_set1_ps(opaqueX), y = _mm512_set1_ps(opaqueY);
  __m512 acc[kAccumulators];
  for (__m512 &v : acc)
    v = _mm512_setzero_ps();
  // acc = acc * x + y converges to y / (1 - x): no overflow, no denormals.
  for (int64_t i = 0; i < iterations; ++i) {
#pragma clang loop unroll(full)
    for (int j = 0; j < kAccumulators; ++j)
      acc[j] = _mm512_fmadd_ps(acc[j], x, y);
  }
  __m512 sum = acc[0];
  for (int j = 1; j < kAccumulators; ++j)
    sum = _mm512_add_ps(sum, acc[j]);
  sink = static_cast<int64_t>(_mm512_reduce_add_ps(sum));
}

/// Best rate of `loop` over chunks of kChunk iterations run for `seconds`.
static double bestRate(void (*loop)(int64_t), double opsPerIteration,
                       double seconds) {
  using Clock = std::chrono::steady_clock;
  auto elapsed = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  loop(kChunk); // warm up (and let the clock ramp)
  double best = 0;
  Clock::time_point start = Clock::now();
  for (int i = 0; i < 5 || elapsed(start, Clock::now()) < seconds; ++i) {
    Clock::time_point t0 = Clock::now();
    loop(kChunk);
    double t = elapsed(t0, Clock::now());
    if (t > 0 && opsPerIteration * kChunk / t > best)
      best = opsPerIteration * kChunk / t;
  }
  return best;
}

double qat::bench::measureVnniPeakOps(double seconds) {
  if (!__builtin_cpu_supports("avx512vnni"))
    return 0;
  return bestRate(vnniLoop, kAccumulators * 64.0 * 2.0, seconds);
}

double qat::bench::measureAMXPeakOps(double seconds) {
  if (!__builtin_cpu_supports("amx-int8"))
    return 0;
  return bestRate(amxLoop, 4 * 16.0 * 16.0 * 64.0 * 2.0, seconds);
}

double qat::bench::measureFp32FmaPeakFlops(double seconds) {
  if (!__builtin_cpu_supports("avx512f"))
    return 0;
  return bestRate(fmaLoop, kAccumulators * 16.0 * 2.0, seconds);
}
