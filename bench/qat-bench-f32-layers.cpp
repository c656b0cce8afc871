//===- qat-bench-f32-layers.cpp - fp32 layers against oneDNN -------------===//
//
//   qat-bench-f32-layers [--filter S] [--batch N] [--passes fwd,...]
//                        [--min-seconds S] [--rounds R] [--kernels K]
//
// For every PERF.md shape (bench/Layers.cpp) and pass, builds the float layer
// as a TOSA function, compiles it with qat-mlir's JIT (kernels=auto: the
// AVX-512 f32 kernels of qat-lower-f32-kernels), checks sampled outputs
// against a float64 reference within the float-sum bound, and times it
// against oneDNN 2.6.3's fp32 primitive on the same data in the same process:
// `rounds` interleaved rounds (ours, then oneDNN with NHWC activations, then
// oneDNN with its preferred blocked layout), medians of the per-round means.
// Prints GFLOPS, % of the fp32 FMA peak measured in the same run (a
// vfmadd231ps loop), the time ratios ours/oneDNN and their geometric means.
// One thread on both sides; pin with taskset.
//
//===----------------------------------------------------------------------===//

#include "Layers.h"
#include "OneDNNF32Peer.h"
#include "OneDNNPeer.h"
#include "VnniPeak.h"

#include "oneapi/dnnl/dnnl.hpp"

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/CommandLine.h"
#include "qat/Support/Npy.h"
#include "qat/Tools/ToolSupport.h"
#include "qat/Runtime/Runner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>

using namespace mlir;
using namespace ::qat::bench;
using mlir::qat::getToolCategory;
using mlir::qat::Kernels;
namespace runtime = mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> filter("filter",
                                   cl::desc("only layers whose name contains "
                                            "this"),
                                   cl::init(""),
    cl::cat(getToolCategory()));
static cl::opt<double> minSeconds("min-seconds",
                                  cl::desc("timed seconds per layer and side"),
                                  cl::init(0.3),
    cl::cat(getToolCategory()));
static cl::opt<int> rounds("rounds", cl::desc("interleaved rounds per layer"),
                           cl::init(5),
    cl::cat(getToolCategory()));
static cl::opt<int64_t> batch("batch", cl::desc("batch size"), cl::init(1),
    cl::cat(getToolCategory()));
static cl::opt<std::string> passes("passes",
                                   cl::desc("comma-separated passes: fwd, "
                                            "bwd_data, bwd_weights"),
                                   cl::init("fwd"),
    cl::cat(getToolCategory()));
static cl::opt<Kernels> kernels("kernels",
                                cl::desc("qat-to-llvm kernels option"),
                                cl::init(Kernels::Auto),
                                mlir::qat::kernelsValues(),
                                cl::cat(getToolCategory()));
static cl::opt<bool> noBlocked("no-blocked",
                               cl::desc("skip oneDNN's blocked layout"),
    cl::cat(getToolCategory()));

namespace {

/// The layer with its input trimmed so that the padded input ends on a
/// stride (TOSA's rule), and the bottom/right padding that leaves.
struct Shape {
  Layer l;
  int64_t padBottom = 0, padRight = 0;
  explicit Shape(Layer layer) : l(std::move(layer)) {
    if (l.kind == Layer::MatMul)
      return;
    int64_t excessH = (l.h + 2 * l.pad - l.kh) % l.stride;
    int64_t excessW = (l.w + 2 * l.pad - l.kw) % l.stride;
    padBottom = l.pad - std::min(excessH, l.pad);
    padRight = l.pad - std::min(excessW, l.pad);
    l.h -= std::max<int64_t>(0, excessH - l.pad);
    l.w -= std::max<int64_t>(0, excessW - l.pad);
  }
};

Value f32Const(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               ArrayRef<float> values) {
  auto t = RankedTensorType::get(shape, b.getF32Type());
  return tosa::ConstOp::create(b, loc, t, DenseElementsAttr::get(t, values));
}

/// The forward layer as a float TOSA function of its input, weights
/// constant.
OwningOpRef<ModuleOp> forwardModule(MLIRContext &ctx, const Shape &s,
                                    const OneDNNF32Problem &peer,
                                    mlir::qat::NpyArray &input) {
  const Layer &l = s.l;
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto f32 = b.getF32Type();
  bool mm = l.kind == Layer::MatMul;
  SmallVector<int64_t> inShape =
      mm ? SmallVector<int64_t>{1, batch * l.m, l.cin}
         : SmallVector<int64_t>{batch, l.h, l.w, l.cin};
  SmallVector<int64_t> outShape =
      mm ? SmallVector<int64_t>{1, batch * l.m, l.cout}
         : SmallVector<int64_t>{batch, l.outH(), l.outW(), l.cout};
  auto inType = RankedTensorType::get(inShape, f32);
  auto outType = RankedTensorType::get(outShape, f32);
  auto func = func::FuncOp::create(b, loc, "layer",
                                   b.getFunctionType({inType}, {outType}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value x = body->getArgument(0), y;
  Value zp = f32Const(b, loc, {1}, {0.0f});
  const std::vector<float> &w = peer.w();
  if (mm) {
    y = tosa::MatMulOp::create(b, loc, outType, x,
                               f32Const(b, loc, {1, l.cin, l.cout}, w), zp, zp);
  } else {
    auto stride = b.getDenseI64ArrayAttr({l.stride, l.stride});
    auto pad =
        b.getDenseI64ArrayAttr({l.pad, s.padBottom, l.pad, s.padRight});
    auto dil = b.getDenseI64ArrayAttr({1, 1});
    std::vector<float> zeros(l.cout, 0.0f);
    Value bias = f32Const(b, loc, {l.cout}, zeros);
    if (l.kind == Layer::Conv) {
      Value wv = f32Const(b, loc, {l.cout, l.kh, l.kw, l.cin}, w);
      y = tosa::Conv2DOp::create(b, loc, outType, x, wv, bias, zp, zp, pad,
                                 stride, dil, TypeAttr::get(f32),
                                 b.getBoolAttr(false));
    } else {
      // [c][kh][kw] -> KH x KW x C x 1.
      std::vector<float> hwc(w.size());
      for (int64_t c = 0; c < l.cin; ++c)
        for (int64_t t = 0; t < l.kh * l.kw; ++t)
          hwc[t * l.cin + c] = w[c * l.kh * l.kw + t];
      Value wv = f32Const(b, loc, {l.kh, l.kw, l.cin, 1}, hwc);
      y = tosa::DepthwiseConv2DOp::create(b, loc, outType, x, wv, bias, zp,
                                          zp, pad, stride, dil,
                                          TypeAttr::get(f32),
                                          b.getBoolAttr(false));
    }
  }
  func::ReturnOp::create(b, loc, y);
  input.kind = mlir::qat::ElementKind::F32;
  input.shape.assign(inShape.begin(), inShape.end());
  const std::vector<float> &xv = peer.x();
  input.bytes.assign(reinterpret_cast<const uint8_t *>(xv.data()),
                     reinterpret_cast<const uint8_t *>(xv.data() + xv.size()));
  return module;
}

mlir::qat::NpyArray npy(ArrayRef<int64_t> shape, const std::vector<float> &v) {
  mlir::qat::NpyArray a;
  a.kind = mlir::qat::ElementKind::F32;
  a.shape.assign(shape.begin(), shape.end());
  a.bytes.assign(reinterpret_cast<const uint8_t *>(v.data()),
                 reinterpret_cast<const uint8_t *>(v.data() + v.size()));
  return a;
}

/// A backward pass as the training step writes it: the convolution adjoints
/// (qat.conv2d_backward_data / _weight, depthwise likewise) of arguments,
/// or the matmul adjoints (tosa.matmul with a tosa.transpose).
OwningOpRef<ModuleOp> backwardModule(MLIRContext &ctx, const Shape &s,
                                     const OneDNNF32Problem &peer,
                                     LayerPass pass,
                                     SmallVectorImpl<mlir::qat::NpyArray> &in) {
  const Layer &l = s.l;
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto f32 = b.getF32Type();
  auto t = [&](ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, f32);
  };
  bool data = pass == LayerPass::BackwardData;
  if (l.kind == Layer::MatMul) {
    int64_t m = batch * l.m, k = l.cin, n = l.cout;
    // dA = dC B^T (B: K x N), dB = A^T dC.
    SmallVector<int64_t> a0 = data ? SmallVector<int64_t>{1, m, n}
                                   : SmallVector<int64_t>{1, m, k};
    SmallVector<int64_t> a1 = data ? SmallVector<int64_t>{1, k, n}
                                   : SmallVector<int64_t>{1, m, n};
    SmallVector<int64_t> r = data ? SmallVector<int64_t>{1, m, k}
                                  : SmallVector<int64_t>{1, k, n};
    auto func = func::FuncOp::create(
        b, loc, "layer", b.getFunctionType({t(a0), t(a1)}, {t(r)}));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToStart(body);
    Value zp = f32Const(b, loc, {1}, {0.0f});
    Value y;
    if (data) {
      Value bt = tosa::TransposeOp::create(b, loc, t({1, n, k}),
                                           body->getArgument(1),
                                           b.getDenseI32ArrayAttr({0, 2, 1}));
      y = tosa::MatMulOp::create(b, loc, t(r), body->getArgument(0), bt, zp,
                                 zp);
    } else {
      Value at = tosa::TransposeOp::create(b, loc, t({1, k, m}),
                                           body->getArgument(0),
                                           b.getDenseI32ArrayAttr({0, 2, 1}));
      y = tosa::MatMulOp::create(b, loc, t(r), at, body->getArgument(1), zp,
                                 zp);
    }
    func::ReturnOp::create(b, loc, y);
    in.push_back(npy(a0, data ? peer.dy() : peer.x()));
    in.push_back(npy(a1, data ? peer.w() : peer.dy()));
    return module;
  }
  bool dw = l.kind == Layer::Depthwise;
  SmallVector<int64_t> xShape{batch, l.h, l.w, l.cin};
  SmallVector<int64_t> dyShape{batch, l.outH(), l.outW(), l.cout};
  SmallVector<int64_t> wShape = dw ? SmallVector<int64_t>{l.kh, l.kw, l.cin, 1}
                                   : SmallVector<int64_t>{l.cout, l.kh, l.kw,
                                                          l.cin};
  std::vector<float> w = peer.w();
  if (dw) { // [c][kh][kw] -> KH x KW x C x 1
    for (int64_t c = 0; c < l.cin; ++c)
      for (int64_t tt = 0; tt < l.kh * l.kw; ++tt)
        w[tt * l.cin + c] = peer.w()[c * l.kh * l.kw + tt];
  }
  auto padA = b.getDenseI64ArrayAttr({l.pad, s.padBottom, l.pad, s.padRight});
  auto strideA = b.getDenseI64ArrayAttr({l.stride, l.stride});
  auto dilA = b.getDenseI64ArrayAttr({1, 1});
  SmallVector<int64_t> a0 = data ? dyShape : xShape;
  SmallVector<int64_t> a1 = data ? wShape : dyShape;
  SmallVector<int64_t> r = data ? xShape : wShape;
  auto func = func::FuncOp::create(b, loc, "layer",
                                   b.getFunctionType({t(a0), t(a1)}, {t(r)}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value y;
  Value x0 = body->getArgument(0), x1 = body->getArgument(1);
  if (data && !dw)
    y = mlir::qat::Conv2DBackwardDataOp::create(b, loc, t(r), x0, x1, padA,
                                                strideA, dilA);
  else if (data)
    y = mlir::qat::DepthwiseConv2DBackwardDataOp::create(b, loc, t(r), x0, x1,
                                                         padA, strideA, dilA);
  else if (!dw)
    y = mlir::qat::Conv2DBackwardWeightOp::create(b, loc, t(r), x0, x1, padA,
                                                  strideA, dilA);
  else
    y = mlir::qat::DepthwiseConv2DBackwardWeightOp::create(
        b, loc, t(r), x0, x1, padA, strideA, dilA);
  func::ReturnOp::create(b, loc, y);
  in.push_back(npy(a0, data ? peer.dy() : peer.x()));
  in.push_back(npy(a1, data ? w : peer.dy()));
  return module;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double geomean(const std::vector<double> &v) {
  if (v.empty())
    return 0;
  double s = 0;
  for (double x : v)
    s += std::log(x);
  return std::exp(s / double(v.size()));
}

/// Seconds per call of `call` over about `seconds` (at least 3 calls).
double timeCalls(const std::function<void(int64_t)> &calls, double once,
                 double seconds) {
  int64_t n = std::max<int64_t>(3, int64_t(seconds / std::max(once, 1e-7)));
  auto t0 = std::chrono::steady_clock::now();
  calls(n);
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count() / double(n);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::qat::parseToolCommandLine(argc, argv,
                                  "qat-bench-f32-layers: fp32 layers compiled "
                                  "by qat-mlir against oneDNN\n");
  DialectRegistry registry;
  mlir::qat::registerToolDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  SmallVector<LayerPass> selected;
  SmallVector<StringRef> names;
  StringRef(passes).split(names, ',');
  for (StringRef p : names) {
    if (p == "fwd")
      selected.push_back(LayerPass::Forward);
    else if (p == "bwd_data")
      selected.push_back(LayerPass::BackwardData);
    else if (p == "bwd_weights")
      selected.push_back(LayerPass::BackwardWeights);
    else {
      llvm::errs() << "unknown pass '" << p << "'\n";
      return 1;
    }
  }
  double peak = measureFp32FmaPeakFlops(0.3);
  limitOneDNNToOneThread();
  std::printf("# one core; fp32 FMA peak %.1f GFLOPS (vfmadd231ps loop); "
              "batch %lld; kernels=%s (%s); oneDNN %s, ISA %s; %d interleaved "
              "rounds, medians\n",
              peak * 1e-9, (long long)batch.getValue(),
              mlir::qat::stringify(kernels).str().c_str(),
              kernels == Kernels::Auto
                  ? mlir::qat::stringify(mlir::qat::hostKernelIsa()).str().c_str()
                  : mlir::qat::stringify(kernels).str().c_str(),
              oneDNNVersion().c_str(), oneDNNCpuIsa().c_str(),
              rounds.getValue());
  std::printf("%-28s %-22s %-11s %7s %5s %7s %6s %7s %6s %s\n", "layer",
              "shape", "pass", "GFLOPS", "%peak", "dnnl", "ratio",
              "dnnl-blk", "ratio", "check / oneDNN impl");
  std::vector<double> ratios, ratiosBlocked;
  std::map<std::string, std::vector<double>> byPass;
  // Per network and pass: the sums of count x time of ours and of oneDNN's
  // NHWC primitives (every conv and fc layer of the network: perfLayers()).
  std::map<std::string, std::pair<double, double>> sums;
  bool failed = false;
  for (const Layer &layer : perfLayers()) {
    if (!filter.empty() && layer.name.find(filter) == std::string::npos)
      continue;
    Shape s(layer);
    const Layer &l = s.l;
    for (LayerPass pass : selected) {
      std::unique_ptr<OneDNNF32Problem> peer, peerBlocked;
      try {
        peer = std::make_unique<OneDNNF32Problem>(l, pass, batch, false);
        if (!noBlocked && l.kind != Layer::MatMul)
          peerBlocked =
              std::make_unique<OneDNNF32Problem>(l, pass, batch, true);
      } catch (const dnnl::error &e) {
        std::printf("%s: oneDNN: %s\n", l.name.c_str(), e.what());
        failed = true;
        continue;
      }
      SmallVector<mlir::qat::NpyArray> ins;
      OwningOpRef<ModuleOp> module;
      if (pass == LayerPass::Forward) {
        ins.emplace_back();
        module = forwardModule(ctx, s, *peer, ins.back());
      } else {
        module = backwardModule(ctx, s, *peer, pass, ins);
      }
      if (mlir::failed(verify(*module))) {
        std::printf("%s: the layer's module is not valid IR\n",
                    l.name.c_str());
        failed = true;
        continue;
      }
      mlir::qat::LoweringOptions lowering;
      lowering.kernels = kernels;
      auto runner = runtime::Runner::create(*module, "layer", 3, lowering);
      if (!runner) {
        std::printf("%s: %s\n", l.name.c_str(),
                    llvm::toString(runner.takeError()).c_str());
        failed = true;
        continue;
      }
      llvm::SmallVector<mlir::qat::NpyArray> outs;
      if (auto err = (*runner)->run(ins, outs)) {
        std::printf("%s: %s\n", l.name.c_str(),
                    llvm::toString(std::move(err)).c_str());
        failed = true;
        continue;
      }
      // Check sampled outputs of ours and of both peers.
      const float *ours = reinterpret_cast<const float *>(outs[0].bytes.data());
      int64_t size = peer->outputSize(), bad = 0;
      int64_t terms =
          pass == LayerPass::BackwardWeights
              ? batch * (l.kind == Layer::MatMul ? l.m : l.outH() * l.outW())
          : pass == LayerPass::BackwardData
              ? (l.kind == Layer::MatMul      ? l.cout
                 : l.kind == Layer::Depthwise ? l.kh * l.kw
                                              : l.kh * l.kw * l.cout)
          : l.kind == Layer::MatMul      ? l.cin
          : l.kind == Layer::Depthwise ? l.kh * l.kw
                                       : l.kh * l.kw * l.cin;
      std::mt19937 rng(7);
      for (int64_t i = 0; i < std::min<int64_t>(512, size); ++i) {
        int64_t at = size <= 512 ? i : int64_t(rng() % size);
        auto [ref, mag] = peer->reference(at);
        int64_t mine = at;
        if (l.kind == Layer::Depthwise &&
            pass == LayerPass::BackwardWeights) {
          // The peer's [c][kh][kw] is our KH x KW x C x 1.
          int64_t taps = l.kh * l.kw;
          mine = (at % taps) * l.cin + at / taps;
        }
        bad += std::fabs(ref - double(ours[mine])) >
               double(terms + 2) * std::ldexp(1.0, -24) * mag + 1e-30;
      }
      peer->run();
      int64_t peerBad = peer->check();
      if (peerBlocked) {
        peerBlocked->run();
        peerBad += peerBlocked->check();
      }
      // The peak again (the other core's load changes what one core can
      // issue): the best seen so far counts.
      peak = std::max(peak, measureFp32FmaPeakFlops(0.05));
      // Interleaved rounds.
      double onceOurs = 0;
      (void)(*runner)->run(ins, outs, 2, &onceOurs);
      auto t0 = std::chrono::steady_clock::now();
      peer->run();
      double oncePeer = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
      double slice = minSeconds / rounds;
      std::vector<double> tOurs, tPeer, tBlocked;
      for (int r = 0; r < rounds; ++r) {
        tOurs.push_back(timeCalls(
            [&](int64_t n) {
              double t = 0;
              llvm::consumeError((*runner)->run(ins, outs, n, &t));
            },
            onceOurs, slice));
        tPeer.push_back(timeCalls(
            [&](int64_t n) {
              for (int64_t i = 0; i < n; ++i)
                peer->run();
            },
            oncePeer, slice));
        if (peerBlocked)
          tBlocked.push_back(timeCalls(
              [&](int64_t n) {
                for (int64_t i = 0; i < n; ++i)
                  peerBlocked->run();
              },
              oncePeer, slice));
      }
      double flops = 2.0 * double(l.macs()) * double(batch);
      double mo = median(tOurs), mp = median(tPeer);
      double gflops = flops / mo * 1e-9;
      double ratio = mo / mp;
      ratios.push_back(ratio);
      byPass[passName(pass)].push_back(ratio);
      std::string net = layer.name.substr(0, layer.name.find('/'));
      auto &sum = sums[net + " " + passName(pass)];
      sum.first += double(layer.count) * mo;
      sum.second += double(layer.count) * mp;
      char blk[32] = "-", blkRatio[32] = "-";
      if (!tBlocked.empty()) {
        double mb = median(tBlocked);
        std::snprintf(blk, sizeof blk, "%.1f", flops / mb * 1e-9);
        std::snprintf(blkRatio, sizeof blkRatio, "%.2f", mo / mb);
        ratiosBlocked.push_back(mo / mb);
      }
      std::string check = bad || peerBad
                              ? "FAIL ours " + std::to_string(bad) +
                                    ", oneDNN " + std::to_string(peerBad)
                              : "ok";
      std::printf("%-28s %-22s %-11s %7.1f %4.0f%% %7.1f %6.2f %7s %6s %s / "
                  "%s\n",
                  l.name.c_str(), l.shape().c_str(), passName(pass), gflops,
                  peak > 0 ? 100.0 * gflops * 1e9 / peak : 0.0,
                  flops / mp * 1e-9, ratio, blk, blkRatio, check.c_str(),
                  peer->impl().c_str());
      std::fflush(stdout);
      failed |= bad || peerBad;
    }
  }
  std::printf("# fp32 FMA peak, best of all measurements: %.1f GFLOPS\n",
              peak * 1e-9);
  std::printf("# time ratio ours/oneDNN (lower is better), geometric mean "
              "over %zu cases: %.3f (NHWC), %.3f (oneDNN's blocked layout, "
              "%zu cases)\n",
              ratios.size(), geomean(ratios), geomean(ratiosBlocked),
              ratiosBlocked.size());
  for (auto &[p, v] : byPass)
    std::printf("#   %s: %.3f over %zu\n", p.c_str(), geomean(v), v.size());
  std::printf("# sums of count x median time over the layers run (conv + fc "
              "of each network; with --filter, the layers selected):\n");
  for (auto &[k, v] : sums)
    std::printf("#   %-26s ours %8.3f ms, oneDNN %8.3f ms, ratio %.3f\n",
                k.c_str(), v.first * 1e3, v.second * 1e3, v.first / v.second);
  return failed ? 1 : 0;
}
