//===- qat-bench-layers.cpp - int8 layers against oneDNN -----------------===//
//
// For every shape of perfLayers() (bench/README.md): builds the integer layer
// as qat-convert-to-integer writes it (one qat.integer_kernel: conv2d /
// depthwise_conv2d / matmul on i8 codes with zero points, int32 bias,
// per-channel float multipliers and a ReLU clamp), compiles it with qat-run's
// JIT (qat-to-llvm, kernels=auto unless --kernels), checks a sample of outputs
// against a scalar reference of the formula, times it, and prints GOPS,
// percent of the measured VNNI peak and the time ratio to oneDNN measured in
// the same run: once with its default ISA and once capped at
// AVX512_CORE_VNNI (qat-bench-onednn-peer in a subprocess per setting, since
// oneDNN reads its ISA cap once per process).
// The main rows use the vector kernels (auto: vnni, else portable); where the
// CPU and OS allow AMX (qat::hostHasAMX()), each layer also gets AMX columns
// (kernels=amx, measured in the same run: GOPS, percent of the measured
// tdpbusd peak, time ratio to oneDNN's default ISA, which is AMX there), else
// the run prints one line saying that the AMX rows are skipped and why.
// --amx-emulated-rows fills the AMX columns with kernels=amx-emulated on any
// CPU: it checks the emulated kernels' outputs and this program's AMX rows;
// its times are the emulation's, not the tiles'.
//
//   qat-bench-layers [--filter S] [--min-seconds S] [--kernels K] [--no-peer]
//                    [--amx-emulated-rows]
//
//===----------------------------------------------------------------------===//

#include "Layers.h"
#include "VnniPeak.h"

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Runtime/Runner.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

extern char **environ;

using namespace mlir;
using namespace ::qat::bench;
using mlir::qat::getToolCategory;
using mlir::qat::IntegerKernel;
using mlir::qat::KernelKind;
using mlir::qat::Kernels;
namespace runtime = mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> filter("filter",
                                   cl::desc("only layers whose name contains "
                                            "this"),
                                   cl::init(""), cl::cat(getToolCategory()));
static cl::opt<double> minSeconds("min-seconds",
                                  cl::desc("time each case for at least this "
                                           "long"),
                                  cl::init(0.3), cl::cat(getToolCategory()));
static cl::opt<Kernels> kernels("kernels",
                                cl::desc("qat-to-llvm kernels option"),
                                cl::init(Kernels::Auto),
                                mlir::qat::kernelsValues(),
                                cl::cat(getToolCategory()));
static cl::opt<bool> noPeer("no-peer", cl::desc("skip oneDNN"),
                            cl::cat(getToolCategory()));
static cl::opt<bool> amxEmulatedRows(
    "amx-emulated-rows",
    cl::desc("fill the AMX columns with kernels=amx-emulated on any CPU "
             "(checks their outputs; the times are the emulation's, not "
             "AMX's)"),
    cl::cat(getToolCategory()));

namespace {

/// The random integer layer and its reference.
struct Problem {
  Layer l;
  int64_t n, h, w, ci, co, kh, kw, ho, wo;
  int64_t padBottom = 0, padRight = 0;
  std::vector<int8_t> x,
      wt; // x: NHWC codes; wt: co x kh x kw x ci (dw: kh x kw x c)
  std::vector<int32_t> bias;
  std::vector<float> mult;
  int32_t zpIn = -128 + 3, zpOut = -128 + 5;

  explicit Problem(const Layer &layer) : l(layer) {
    std::mt19937 rng(42);
    bool mm = l.kind == Layer::MatMul;
    n = 1;
    h = mm ? 1 : l.h;
    w = mm ? l.m : l.w;
    ci = l.cin;
    co = l.cout;
    kh = mm ? 1 : l.kh;
    kw = mm ? 1 : l.kw;
    ho = mm ? 1 : l.outH();
    wo = mm ? l.m : l.outW();
    // TOSA wants the padded input to end on a stride: the rows and columns
    // a strided window never reaches leave the bottom/right padding (and,
    // past it, the input itself: a 1x1 stride-2 conv on 56 reads 55 rows).
    if (!mm) {
      int64_t excessH = (h + 2 * l.pad - kh) % l.stride;
      int64_t excessW = (w + 2 * l.pad - kw) % l.stride;
      padBottom = l.pad - std::min(excessH, l.pad);
      padRight = l.pad - std::min(excessW, l.pad);
      h -= std::max<int64_t>(0, excessH - l.pad);
      w -= std::max<int64_t>(0, excessW - l.pad);
    }
    std::uniform_int_distribution<int> u8(-128, 127), s8(-127, 127);
    x.resize(n * h * w * ci);
    for (auto &v : x)
      v = int8_t(u8(rng));
    int64_t taps = l.kind == Layer::Depthwise ? kh * kw : kh * kw * ci;
    wt.resize(l.kind == Layer::Depthwise ? kh * kw * ci : co * taps);
    for (auto &v : wt)
      v = int8_t(s8(rng));
    std::uniform_int_distribution<int> b(-20000, 20000);
    std::uniform_real_distribution<float> m(0.5f, 1.5f);
    for (int64_t c = 0; c < co; ++c) {
      bias.push_back(b(rng));
      // About 60 codes of spread for random data.
      mult.push_back(m(rng) /
                     (std::sqrt(float(taps)) * 128.0f * 73.0f / 60.0f));
    }
  }

  int8_t xAt(int64_t y, int64_t xx, int64_t c) const {
    if (y < 0 || y >= h || xx < 0 || xx >= w)
      return int8_t(zpIn);
    return x[(y * w + xx) * ci + c];
  }

  /// The integer model's output code at (oy, ox, c).
  int8_t reference(int64_t oy, int64_t ox, int64_t c) const {
    int64_t s = l.kind == Layer::MatMul ? 1 : l.stride;
    int64_t p = l.kind == Layer::MatMul ? 0 : l.pad;
    int32_t acc = bias[c];
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t xx = 0; xx < kw; ++xx) {
        int64_t iy = oy * s + y - p, ix = ox * s + xx - p;
        if (l.kind == Layer::Depthwise) {
          acc += (int32_t(xAt(iy, ix, c)) - zpIn) * wt[(y * kw + xx) * ci + c];
          continue;
        }
        for (int64_t k = 0; k < ci; ++k)
          acc += (int32_t(xAt(iy, ix, k)) - zpIn) *
                 wt[((c * kh + y) * kw + xx) * ci + k];
      }
    float t = std::nearbyint(float(acc) * mult[c]) + float(zpOut);
    t = std::min(std::max(t, float(zpOut)), 127.0f); // ReLU: clamp at zp
    return int8_t(t);
  }
};

/// The layer as the integer model writes it.
OwningOpRef<ModuleOp> buildModule(MLIRContext &ctx, const Problem &p) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto i8 = b.getI8Type();
  const Layer &l = p.l;
  bool mm = l.kind == Layer::MatMul;
  auto inType = mm ? RankedTensorType::get({1, p.w, p.ci}, i8)
                   : RankedTensorType::get({1, p.h, p.w, p.ci}, i8);
  auto outType = mm ? RankedTensorType::get({1, p.wo, p.co}, i8)
                    : RankedTensorType::get({1, p.ho, p.wo, p.co}, i8);
  auto func = func::FuncOp::create(b, loc, "layer",
                                   b.getFunctionType({inType}, {outType}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  // One qat.integer_kernel: per-channel float multipliers, the ReLU as
  // the clamp at the output zero point.
  IntegerKernel k;
  k.kind = l.kind == Layer::Conv        ? KernelKind::conv2d
           : l.kind == Layer::Depthwise ? KernelKind::depthwise_conv2d
                                        : KernelKind::matmul;
  k.inputType = inType;
  k.resultType = outType;
  if (l.kind == Layer::Conv) {
    k.weightType = RankedTensorType::get({p.co, p.kh, p.kw, p.ci}, i8);
    k.weights.assign(p.wt.begin(), p.wt.end());
  } else if (l.kind == Layer::Depthwise) {
    k.weightType = RankedTensorType::get({p.kh, p.kw, p.ci, 1}, i8);
    k.weights.assign(p.wt.begin(), p.wt.end());
  } else {
    // [1, M, K] x [1, K, N]: weights stored K x N.
    k.weightType = RankedTensorType::get({1, p.ci, p.co}, i8);
    k.weights.resize(p.ci * p.co);
    for (int64_t c = 0; c < p.co; ++c)
      for (int64_t kk = 0; kk < p.ci; ++kk)
        k.weights[kk * p.co + c] = p.wt[c * p.ci + kk];
  }
  if (!mm) {
    k.pad = {l.pad, p.padBottom, l.pad, p.padRight};
    k.stride = {l.stride, l.stride};
    k.dilation = {1, 1};
  }
  k.bias.assign(p.bias.begin(), p.bias.end());
  k.inputZeroPoint = p.zpIn;
  k.outputZeroPoint = p.zpOut;
  k.quantMin = p.zpOut;
  k.quantMax = 127;
  k.floatMultiplier = true;
  k.multiplier.assign(p.mult.begin(), p.mult.end());
  Value q = k.build(b, loc, body->getArgument(0));
  func::ReturnOp::create(b, loc, q);
  return module;
}

struct PeerRow {
  double median = 0, min = 0;
  std::string impl;
};

/// Runs qat-bench-onednn-peer with `env` and reads its CSV.
llvm::StringMap<PeerRow> runPeer(const std::string &self,
                                 std::optional<std::string> maxIsa) {
  llvm::StringMap<PeerRow> rows;
  std::string exe =
      (llvm::StringRef(self).rsplit('/').first + "/qat-bench-onednn-peer")
          .str();
  llvm::SmallString<128> out;
  llvm::sys::fs::createTemporaryFile("qat-bench-peer", "csv", out);
  std::vector<llvm::StringRef> args{exe};
  std::string f = filter, ms = std::to_string(double(minSeconds));
  args.push_back("--min-seconds");
  args.push_back(ms);
  if (!f.empty()) {
    args.push_back("--filter");
    args.push_back(f);
  }
  std::vector<std::string> envStore;
  for (char **e = environ; *e; ++e)
    envStore.push_back(*e);
  if (maxIsa)
    envStore.push_back("DNNL_MAX_CPU_ISA=" + *maxIsa);
  std::vector<llvm::StringRef> env(envStore.begin(), envStore.end());
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(out), std::nullopt};
  int rc = llvm::sys::ExecuteAndWait(exe, args, env, redirects);
  if (rc != 0)
    llvm::errs() << "qat-bench-layers: " << exe << " exited with " << rc
                 << "\n";
  std::ifstream in(out.c_str());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(line).split(parts, ',');
    if (parts.size() < 5)
      continue;
    PeerRow r;
    parts[2].getAsDouble(r.median);
    parts[3].getAsDouble(r.min);
    r.impl = parts[4].str();
    rows[parts[0]] = r;
  }
  llvm::sys::fs::remove(out);
  return rows;
}

double geomean(const std::vector<double> &v) {
  if (v.empty())
    return 0;
  double s = 0;
  for (double x : v)
    s += std::log(x);
  return std::exp(s / double(v.size()));
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::qat::parseToolCommandLine(argc, argv,
                                  "qat-bench-layers: int8 layers compiled by "
                                  "qat-mlir against oneDNN\n");
  DialectRegistry registry;
  mlir::qat::registerToolDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  double peak = measureVnniPeakOps(0.3);
  // The main rows use the vector kernels (auto: vnni or portable); AMX gets
  // columns of its own where the CPU and OS allow it (or, emulated, where
  // asked to).
  Kernels amxKernels = amxEmulatedRows ? Kernels::AmxEmulated : Kernels::Amx;
  bool amx = amxEmulatedRows || mlir::qat::hostHasAMX();
  double amxPeak =
      amx && amxKernels == Kernels::Amx ? measureAMXPeakOps(0.3) : 0;
  Kernels mainKernels = kernels;
  if (kernels == Kernels::Auto)
    mainKernels = mlir::qat::hostKernelIsa() == mlir::qat::KernelIsa::Vnni
                      ? Kernels::Vnni
                      : Kernels::Portable;
  std::string self =
      llvm::sys::fs::getMainExecutable(argv[0], (void *)&geomean);
  llvm::StringMap<PeerRow> peerDefault, peerVnni;
  if (!noPeer) {
    peerDefault = runPeer(self, std::nullopt);
    peerVnni = runPeer(self, std::string("AVX512_CORE_VNNI"));
  }
  std::printf("# one core; VNNI peak %.0f GOPS (vpdpbusd loop); kernels=%s "
              "(%s); oneDNN default ISA and capped at AVX512_CORE_VNNI\n",
              peak * 1e-9, mlir::qat::stringify(kernels).str().c_str(),
              mlir::qat::stringify(mainKernels).str().c_str());
  if (amx && amxKernels == Kernels::Amx)
    std::printf("# AMX rows (amx, %%amx, ratio): kernels=amx against oneDNN's "
                "default ISA; AMX peak %.0f GOPS (tdpbusd loop)\n",
                amxPeak * 1e-9);
  else if (amx)
    std::printf("# AMX rows (amx, %%amx, ratio): kernels=amx-emulated "
                "(--amx-emulated-rows): outputs checked, times are the "
                "emulation's, not AMX's\n");
  else
    std::printf("# AMX rows skipped: AMX is unavailable here (%s); the AMX "
                "kernels' speed is not measured (--amx-emulated-rows checks "
                "their outputs on any CPU)\n",
                mlir::qat::hostAMXProblem().c_str());
  std::printf("%-28s %-26s %8s %6s %8s %7s %8s %7s %8s %6s %7s %s\n", "layer",
              "shape", "GOPS", "%peak", "dnnl", "ratio", "dnnl-vnni", "ratio",
              "amx", "%amx", "ratio", "check");
  std::vector<double> ratioDef, ratioVnni, ratioDefCompute, ratioVnniCompute;
  std::vector<double> ratioAMX, ratioAMXCompute, amxPeakShare;
  bool failed = false;
  for (const Layer &l : perfLayers()) {
    if (!filter.empty() && l.name.find(filter) == std::string::npos)
      continue;
    Problem p(l);
    OwningOpRef<ModuleOp> module = buildModule(ctx, p);
    if (mlir::failed(verify(*module))) {
      llvm::errs() << l.name << ": the layer's module is not valid IR\n";
      failed = true;
      continue;
    }
    // Compiles a copy of the layer with `k` (the runner lowers its module in
    // place), checks 512 sampled outputs against the reference and times it:
    // median of the per-call means of rounds.
    auto measure = [&](Kernels k, double &median, int64_t &bad,
                       int64_t &checked) -> bool {
      OwningOpRef<ModuleOp> copy(module->clone());
      auto runner = runtime::Runner::create(*copy, "layer", 3, {k});
      if (!runner) {
        llvm::errs() << l.name << ": " << llvm::toString(runner.takeError())
                     << "\n";
        return false;
      }
      mlir::qat::NpyArray in;
      in.kind = mlir::qat::ElementKind::I8;
      if (l.kind == Layer::MatMul)
        in.shape = {1, p.w, p.ci};
      else
        in.shape = {1, p.h, p.w, p.ci};
      in.bytes.assign((const uint8_t *)p.x.data(),
                      (const uint8_t *)p.x.data() + p.x.size());
      llvm::SmallVector<mlir::qat::NpyArray> outs;
      if (auto err = (*runner)->run({in}, outs)) {
        llvm::errs() << l.name << ": " << llvm::toString(std::move(err))
                     << "\n";
        return false;
      }
      // Check 512 random outputs (all of small layers).
      std::mt19937 rng(7);
      int64_t total = p.ho * p.wo * p.co;
      bad = 0;
      checked = 0;
      for (int64_t i = 0; i < std::min<int64_t>(512, total); ++i, ++checked) {
        int64_t at = total <= 512 ? i : int64_t(rng() % total);
        int64_t c = at % p.co, pix = at / p.co;
        int8_t got = int8_t(outs[0].bytes[at]);
        bad += got != p.reference(pix / p.wo, pix % p.wo, c);
      }
      double once = 0;
      (void)(*runner)->run({in}, outs, 2, &once);
      int64_t perRound =
          std::max<int64_t>(1, int64_t(0.02 / std::max(once, 1e-7)));
      std::vector<double> rounds;
      double spent = 0;
      while (spent < minSeconds || rounds.size() < 5) {
        double t = 0;
        if (auto err = (*runner)->run({in}, outs, perRound, &t)) {
          llvm::consumeError(std::move(err));
          break;
        }
        rounds.push_back(t);
        spent += t * double(perRound);
      }
      std::sort(rounds.begin(), rounds.end());
      median = rounds[rounds.size() / 2];
      return true;
    };
    double median = 0;
    int64_t bad = 0, checked = 0;
    if (!measure(mainKernels, median, bad, checked)) {
      failed = true;
      continue;
    }
    // The AMX columns: kernels=amx against oneDNN's default ISA (AMX where
    // the CPU has it).
    double amxMedian = 0;
    int64_t amxBad = 0, amxChecked = 0;
    bool amxRow = amx && measure(amxKernels, amxMedian, amxBad, amxChecked);
    failed |= amx && !amxRow;
    double gops = l.ops() / median * 1e-9;
    auto fmtPeer =
        [&](llvm::StringMap<PeerRow> &rows, std::vector<double> &ratios,
            std::vector<double> &compute, double &gopsOut, double &ratioOut) {
          auto it = rows.find(l.name);
          if (it == rows.end() || it->second.median <= 0)
            return false;
          gopsOut = l.ops() / it->second.median * 1e-9;
          ratioOut = median / it->second.median;
          ratios.push_back(ratioOut);
          if (l.kind != Layer::Depthwise && l.m != 1)
            compute.push_back(ratioOut);
          return true;
        };
    double g1 = 0, r1 = 0, g2 = 0, r2 = 0;
    bool h1 = fmtPeer(peerDefault, ratioDef, ratioDefCompute, g1, r1);
    bool h2 = fmtPeer(peerVnni, ratioVnni, ratioVnniCompute, g2, r2);
    char c1[32] = "-", c2[32] = "-", c3[32] = "-", c4[32] = "-";
    if (h1) {
      std::snprintf(c1, sizeof c1, "%.0f", g1);
      std::snprintf(c2, sizeof c2, "%.2f", r1);
    }
    if (h2) {
      std::snprintf(c3, sizeof c3, "%.0f", g2);
      std::snprintf(c4, sizeof c4, "%.2f", r2);
    }
    char a1[32] = "-", a2[32] = "-", a3[32] = "-";
    if (amxRow) {
      double amxGops = l.ops() / amxMedian * 1e-9;
      std::snprintf(a1, sizeof a1, "%.0f", amxGops);
      if (amxPeak > 0)
        std::snprintf(a2, sizeof a2, "%.0f%%", 100.0 * amxGops * 1e9 / amxPeak);
      auto it = peerDefault.find(l.name);
      if (it != peerDefault.end() && it->second.median > 0) {
        double r = amxMedian / it->second.median;
        std::snprintf(a3, sizeof a3, "%.2f", r);
        ratioAMX.push_back(r);
        if (l.kind != Layer::Depthwise && l.m != 1) {
          ratioAMXCompute.push_back(r);
          if (amxPeak > 0)
            amxPeakShare.push_back(amxGops * 1e9 / amxPeak);
        }
      }
      bad += amxBad;
      checked += amxChecked;
    }
    std::printf(
        "%-28s %-26s %8.0f %5.0f%% %8s %7s %8s %7s %8s %6s %7s %s\n",
        l.name.c_str(), l.shape().c_str(), gops,
        peak > 0 ? 100.0 * gops * 1e9 / peak : 0.0, c1, c2, c3, c4, a1, a2, a3,
        bad ? ("FAIL " + std::to_string(bad) + "/" + std::to_string(checked))
                  .c_str()
            : "ok");
    std::fflush(stdout);
    failed |= bad != 0;
  }
  std::printf("# time ratio ours/oneDNN (lower is better), geometric mean: "
              "all layers %.2f (default ISA), %.2f (VNNI cap); conv/GEMM "
              "layers %.2f, %.2f\n",
              geomean(ratioDef), geomean(ratioVnni), geomean(ratioDefCompute),
              geomean(ratioVnniCompute));
  if (amx) {
    std::printf("# AMX: time ratio ours (kernels=%s) / oneDNN default ISA, "
                "geometric mean: all layers %.2f, conv/GEMM layers %.2f\n",
                mlir::qat::stringify(amxKernels).str().c_str(),
                geomean(ratioAMX), geomean(ratioAMXCompute));
    if (!amxPeakShare.empty())
      std::printf(
          "# AMX: conv/GEMM layers at %.0f-%.0f %% of the AMX peak\n",
          100.0 * *std::min_element(amxPeakShare.begin(), amxPeakShare.end()),
          100.0 * *std::max_element(amxPeakShare.begin(), amxPeakShare.end()));
  }
  return failed ? 1 : 0;
}
