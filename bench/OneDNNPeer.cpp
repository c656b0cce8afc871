//===- OneDNNPeer.cpp - oneDNN int8 primitives timed as the peer ----------===//
//
// Builds the oneDNN (2.x API) int8 inference primitive of a Layer, checks a
// sample of its outputs against a scalar reference and times it on one thread.
//
//===----------------------------------------------------------------------===//

#include "OneDNNPeer.h"

#include "oneapi/dnnl/dnnl.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <dlfcn.h>
#include <random>
#include <unordered_map>
#include <vector>

using namespace qat::bench;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {
/// A primitive ready to run, with the plain-layout inputs it was given.
struct Problem {
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  dnnl::memory dst;
  std::string impl;
  // Sources NHWC or [m x k]; weights cout x kh x kw x cin (depthwise:
  // c x kh x kw) or [k x n].
  std::vector<uint8_t> src;
  std::vector<int8_t> weights;
  std::vector<int32_t> bias;
  std::vector<float> scales;
};
} // namespace

template <typename T>
static std::vector<T> randomInts(size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(n);
  for (T &x : v)
    x = static_cast<T>(dist(gen));
  return v;
}

/// Random inputs for `l`. The scales map a typical accumulator to the middle
/// of the u8 range so that the outputs are neither all 0 nor all 255 and the
/// reference check means something.
static void fillInputs(const Layer &l, Problem &p) {
  int64_t srcSize = l.kind == Layer::MatMul ? l.m * l.cin : l.h * l.w * l.cin;
  int64_t reduction = l.kind == Layer::MatMul      ? l.cin
                      : l.kind == Layer::Depthwise ? l.kh * l.kw
                                                   : l.kh * l.kw * l.cin;
  int64_t weightSize =
      l.kind == Layer::Depthwise ? l.cout * l.kh * l.kw : reduction * l.cout;
  // |acc| is about sqrt(reduction) * 128 * 74 for these distributions; the
  // bias is of the same order so that the check notices a missing one.
  float accScale = std::sqrt(static_cast<float>(reduction)) * 9500.0f;
  int biasRange = static_cast<int>(accScale / 2);
  p.src = randomInts<uint8_t>(srcSize, 0, 255, 1);
  p.weights = randomInts<int8_t>(weightSize, -128, 127, 2);
  p.bias = randomInts<int32_t>(l.cout, -biasRange, biasRange, 3);
  float base = 96.0f / accScale;
  p.scales.resize(l.cout);
  for (int64_t c = 0; c < l.cout; ++c)
    p.scales[c] = base * (1.0f + 0.1f * static_cast<float>(c % 7));
}

/// The attributes every primitive of the peer uses: per-output-channel scales
/// (dimension 1 of the destination) and a ReLU.
static dnnl::primitive_attr makeAttr(const std::vector<float> &scales) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(/*mask=*/1 << 1, scales);
  dnnl::post_ops ops;
  ops.append_eltwise(/*scale=*/1.0f, dnnl::algorithm::eltwise_relu,
                     /*alpha=*/0.0f, /*beta=*/0.0f);
  attr.set_post_ops(ops);
  return attr;
}

/// Moves the plain weights into the layout the primitive chose
/// (format_tag::any) once, outside the timed calls.
static dnnl::memory prepareWeights(const dnnl::memory::desc &wanted,
                                   dnnl::memory plain, const dnnl::engine &eng,
                                   dnnl::stream &strm) {
  if (wanted == plain.get_desc())
    return plain;
  dnnl::memory mem(wanted, eng);
  dnnl::reorder(plain, mem).execute(strm, plain, mem);
  strm.wait();
  return mem;
}

static Problem buildConv(const Layer &l, const dnnl::engine &eng,
                         dnnl::stream &strm) {
  Problem p;
  fillInputs(l, p);
  bool dw = l.kind == Layer::Depthwise;
  dnnl::memory::dims srcDims = {1, l.cin, l.h, l.w};
  dnnl::memory::dims dstDims = {1, l.cout, l.outH(), l.outW()};
  // Depthwise: groups = channels, one input and one output channel each.
  dnnl::memory::dims wDims = dw ? dnnl::memory::dims{l.cin, 1, 1, l.kh, l.kw}
                                : dnnl::memory::dims{l.cout, l.cin, l.kh, l.kw};
  dnnl::memory::desc srcMd(srcDims, dt::u8, tag::nhwc);
  dnnl::memory::desc dstMd(dstDims, dt::u8, tag::nhwc);
  dnnl::memory::desc biasMd({l.cout}, dt::s32, tag::x);
  dnnl::memory::desc anyWMd(wDims, dt::s8, tag::any);
  dnnl::memory::desc plainWMd(wDims, dt::s8, dw ? tag::goihw : tag::ohwi);

  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      srcMd, anyWMd, biasMd, dstMd, {l.stride, l.stride}, {l.pad, l.pad},
      {l.pad, l.pad});
  dnnl::convolution_forward::primitive_desc pd(desc, makeAttr(p.scales), eng);
  p.impl = pd.impl_info_str();

  dnnl::memory plainW(plainWMd, eng, p.weights.data());
  p.dst = dnnl::memory(pd.dst_desc(), eng);
  p.args = {
      {DNNL_ARG_SRC, dnnl::memory(srcMd, eng, p.src.data())},
      {DNNL_ARG_WEIGHTS, prepareWeights(pd.weights_desc(), plainW, eng, strm)},
      {DNNL_ARG_BIAS, dnnl::memory(biasMd, eng, p.bias.data())},
      {DNNL_ARG_DST, p.dst}};
  p.prim = dnnl::convolution_forward(pd);
  return p;
}

static Problem buildMatMul(const Layer &l, const dnnl::engine &eng,
                           dnnl::stream &strm) {
  Problem p;
  fillInputs(l, p);
  dnnl::memory::desc srcMd({l.m, l.cin}, dt::u8, tag::ab);
  dnnl::memory::desc anyWMd({l.cin, l.cout}, dt::s8, tag::any);
  dnnl::memory::desc plainWMd({l.cin, l.cout}, dt::s8, tag::ab);
  dnnl::memory::desc biasMd({1, l.cout}, dt::s32, tag::ab);
  dnnl::memory::desc dstMd({l.m, l.cout}, dt::u8, tag::ab);

  dnnl::matmul::desc desc(srcMd, anyWMd, biasMd, dstMd);
  dnnl::matmul::primitive_desc pd(desc, makeAttr(p.scales), eng);
  p.impl = pd.impl_info_str();

  dnnl::memory plainW(plainWMd, eng, p.weights.data());
  p.dst = dnnl::memory(pd.dst_desc(), eng);
  p.args = {
      {DNNL_ARG_SRC, dnnl::memory(srcMd, eng, p.src.data())},
      {DNNL_ARG_WEIGHTS, prepareWeights(pd.weights_desc(), plainW, eng, strm)},
      {DNNL_ARG_BIAS, dnnl::memory(biasMd, eng, p.bias.data())},
      {DNNL_ARG_DST, p.dst}};
  p.prim = dnnl::matmul(pd);
  return p;
}

/// The s32 accumulator of output (y, x, c) (MatMul: row y, column c).
static int64_t referenceAcc(const Layer &l, const Problem &p, int64_t y,
                            int64_t x, int64_t c) {
  int64_t acc = 0;
  if (l.kind == Layer::MatMul) {
    for (int64_t k = 0; k < l.cin; ++k)
      acc += int64_t(p.src[y * l.cin + k]) * p.weights[k * l.cout + c];
    return acc;
  }
  for (int64_t ky = 0; ky < l.kh; ++ky) {
    int64_t iy = y * l.stride - l.pad + ky;
    for (int64_t kx = 0; kx < l.kw; ++kx) {
      int64_t ix = x * l.stride - l.pad + kx;
      if (iy < 0 || iy >= l.h || ix < 0 || ix >= l.w)
        continue;
      const uint8_t *in = &p.src[(iy * l.w + ix) * l.cin];
      if (l.kind == Layer::Depthwise) {
        acc += int64_t(in[c]) * p.weights[(c * l.kh + ky) * l.kw + kx];
        continue;
      }
      const int8_t *wt = &p.weights[((c * l.kh + ky) * l.kw + kx) * l.cin];
      for (int64_t i = 0; i < l.cin; ++i)
        acc += int64_t(in[i]) * wt[i];
    }
  }
  return acc;
}

/// Compares `samples` random outputs with u8(round(relu(scale * (acc +
/// bias)))), the oneDNN 2.x definition (the s32 bias is in accumulator units);
/// one code of difference is allowed for float rounding.
static void checkOutputs(const Layer &l, const Problem &p, Timing &t,
                         int samples = 256) {
  const auto *dst = static_cast<const uint8_t *>(p.dst.get_data_handle());
  int64_t rows = l.outH(), cols = l.kind == Layer::MatMul ? 1 : l.outW();
  std::mt19937 gen(4);
  for (int i = 0; i < samples; ++i) {
    int64_t y = std::uniform_int_distribution<int64_t>(0, rows - 1)(gen);
    int64_t x = std::uniform_int_distribution<int64_t>(0, cols - 1)(gen);
    int64_t c = std::uniform_int_distribution<int64_t>(0, l.cout - 1)(gen);
    float v = p.scales[c] *
              static_cast<float>(referenceAcc(l, p, y, x, c) + p.bias[c]);
    float ref = std::clamp(std::nearbyint(std::max(v, 0.0f)), 0.0f, 255.0f);
    int got = dst[(y * cols + x) * l.cout + c];
    ++t.checked;
    if (std::fabs(ref - static_cast<float>(got)) > 1.0f)
      ++t.mismatches;
  }
}

Timing qat::bench::timeOneDNN(const Layer &l, double minSeconds) {
  limitOneDNNToOneThread();
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  Problem p = l.kind == Layer::MatMul ? buildMatMul(l, eng, strm)
                                      : buildConv(l, eng, strm);
  Timing t;
  t.impl = p.impl;
  auto call = [&] {
    p.prim.execute(strm, p.args);
    strm.wait();
  };
  call();
  checkOutputs(l, p, t);

  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  // Warm up: a tenth of the budget, at least 3 calls.
  Clock::time_point start = Clock::now();
  for (int i = 0; i < 3 || seconds(start, Clock::now()) < 0.1 * minSeconds; ++i)
    call();

  std::vector<double> perCall;
  start = Clock::now();
  while (perCall.size() < 10 || seconds(start, Clock::now()) < minSeconds) {
    Clock::time_point t0 = Clock::now();
    call();
    perCall.push_back(seconds(t0, Clock::now()));
  }
  std::sort(perCall.begin(), perCall.end());
  size_t n = perCall.size();
  t.calls = static_cast<int64_t>(n);
  t.min = perCall.front();
  t.median =
      n % 2 ? perCall[n / 2] : 0.5 * (perCall[n / 2 - 1] + perCall[n / 2]);
  return t;
}

int qat::bench::limitOneDNNToOneThread() {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_SEQ
  return 1;
#elif DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
  // oneDNN sizes its work by omp_get_max_threads() when it creates and runs a
  // primitive, and runs inline (no parallel region) for one thread. libgomp
  // comes in with libdnnl, so look the calls up rather than link OpenMP
  // ourselves (clang-22 does not see GCC's omp.h).
  using SetFn = void (*)(int);
  using GetFn = int (*)();
  auto set =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  auto get =
      reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  if (!set || !get)
    return -1;
  set(1);
  return get();
#else
  return -1;
#endif
}

std::string qat::bench::oneDNNCpuIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
  case dnnl::cpu_isa::all:
    return "all";
  case dnnl::cpu_isa::sse41:
    return "sse41";
  case dnnl::cpu_isa::avx:
    return "avx";
  case dnnl::cpu_isa::avx2:
    return "avx2";
  case dnnl::cpu_isa::avx2_vnni:
    return "avx2_vnni";
  case dnnl::cpu_isa::avx512_mic:
    return "avx512_mic";
  case dnnl::cpu_isa::avx512_mic_4ops:
    return "avx512_mic_4ops";
  case dnnl::cpu_isa::avx512_core:
    return "avx512_core";
  case dnnl::cpu_isa::avx512_core_vnni:
    return "avx512_core_vnni";
  case dnnl::cpu_isa::avx512_core_bf16:
    return "avx512_core_bf16";
  case dnnl::cpu_isa::avx512_core_amx:
    return "avx512_core_amx";
  }
  return "unknown";
}

std::string qat::bench::oneDNNVersion() {
  const dnnl_version_t *v = dnnl_version();
  std::string runtime = v->cpu_runtime == DNNL_RUNTIME_OMP   ? "omp"
                        : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "seq"
                        : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb"
                                                             : "other";
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + " (" + runtime + ")";
}
