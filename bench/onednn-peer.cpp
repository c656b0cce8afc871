//===- onednn-peer.cpp - time oneDNN int8 primitives on the PERF shapes ---===//
//
//   qat-bench-onednn-peer [--filter SUBSTRING] [--min-seconds S] [--peak]
//                         [--max-isa NAME]
//
// Prints one CSV line `name,ops,median_s,min_s,impl` per perfLayers() entry
// whose name contains SUBSTRING; the library version, effective ISA, thread
// count, optional peaks and per-network sums go to stderr as `#` lines.
// oneDNN reads DNNL_MAX_CPU_ISA once per process, so a driver that wants
// both oneDNN's default kernels and its VNNI-only ones runs this twice, e.g.
//   DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI taskset -c 0 qat-bench-onednn-peer
// Exit code 1 if a primitive fails or its outputs disagree with the reference
// (as oneDNN's pre-VNNI u8 x s8 GEMM does: vpmaddubsw saturates pairs at s16).
//
//===----------------------------------------------------------------------===//

#include "Layers.h"
#include "OneDNNPeer.h"
#include "VnniPeak.h"

#include "oneapi/dnnl/dnnl.hpp"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <fstream>
#include <optional>

using namespace qat::bench;
namespace cl = llvm::cl;

static cl::OptionCategory peerCategory("qat-bench-onednn-peer options");
static cl::opt<std::string>
    filter("filter", cl::desc("only layers whose name contains this"),
           cl::init(""), cl::cat(peerCategory));
static cl::opt<double> minSeconds("min-seconds",
                                  cl::desc("timed seconds per layer"),
                                  cl::init(0.3), cl::cat(peerCategory));
static cl::opt<bool> printPeak("peak",
                               cl::desc("also measure the VNNI and fp32 FMA "
                                        "peaks of this core"),
                               cl::cat(peerCategory));
static cl::opt<std::string>
    maxIsa("max-isa",
           cl::desc("cap oneDNN's ISA from inside the process (avx512_core, "
                    "avx512_core_vnni, avx512_core_bf16, avx512_core_amx); "
                    "DNNL_MAX_CPU_ISA does the same from outside"),
           cl::init(""), cl::cat(peerCategory));

/// Threads of this process, from /proc (0 if unknown).
static int processThreads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    llvm::StringRef rest(line);
    if (rest.consume_front("Threads:"))
      return std::stoi(rest.trim().str());
  }
  return 0;
}

static bool capIsa(llvm::StringRef name) {
  std::optional<dnnl::cpu_isa> isa =
      llvm::StringSwitch<std::optional<dnnl::cpu_isa>>(name.lower())
          .Case("avx2", dnnl::cpu_isa::avx2)
          .Case("avx512_core", dnnl::cpu_isa::avx512_core)
          .Case("avx512_core_vnni", dnnl::cpu_isa::avx512_core_vnni)
          .Case("avx512_core_bf16", dnnl::cpu_isa::avx512_core_bf16)
          .Case("avx512_core_amx", dnnl::cpu_isa::avx512_core_amx)
          .Default(std::nullopt);
  return isa && dnnl::set_max_cpu_isa(*isa) == dnnl::status::success;
}

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions(peerCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "time oneDNN int8 primitives (the peer of the "
                              "layer benchmark) on one thread\n");
  if (!maxIsa.empty() && !capIsa(maxIsa)) {
    llvm::errs() << "error: cannot cap oneDNN's ISA at '" << maxIsa << "'\n";
    return 1;
  }
  int threads = limitOneDNNToOneThread();
  llvm::errs() << "# oneDNN " << oneDNNVersion() << ", ISA " << oneDNNCpuIsa()
               << ", oneDNN threads " << threads << "\n";
  if (printPeak) {
    llvm::errs() << llvm::format("# vnni_peak_gops %.1f\n",
                                 measureVnniPeakOps() * 1e-9);
    llvm::errs() << llvm::format("# fp32_fma_peak_gflops %.1f\n",
                                 measureFp32FmaPeakFlops() * 1e-9);
  }

  bool failed = false;
  // Per network: sum over shapes of count x median.
  llvm::MapVector<llvm::StringRef, double> networkSeconds;
  for (const Layer &l : perfLayers()) {
    if (!llvm::StringRef(l.name).contains(filter))
      continue;
    Timing t;
    try {
      t = timeOneDNN(l, minSeconds);
    } catch (const dnnl::error &e) {
      llvm::errs() << "error: " << l.name << ": " << e.what() << "\n";
      failed = true;
      continue;
    }
    if (t.mismatches) {
      llvm::errs() << "error: " << l.name << ": " << t.mismatches << " of "
                   << t.checked << " sampled outputs differ from the "
                   << "reference\n";
      failed = true;
    }
    std::string impl = t.impl;
    std::replace(impl.begin(), impl.end(), ',', ';');
    llvm::outs() << l.name
                 << llvm::format(",%.0f,%.9g,%.9g,", l.ops(), t.median, t.min)
                 << impl << "\n";
    llvm::outs().flush();
    llvm::StringRef net = llvm::StringRef(l.name).split('/').first;
    networkSeconds[net] += static_cast<double>(l.count) * t.median;
  }
  for (const auto &[net, s] : networkSeconds)
    llvm::errs() << llvm::format("# sum %s %.3f ms\n", net.str().c_str(),
                                 s * 1e3);
  llvm::errs() << "# process threads " << processThreads() << "\n";
  return failed ? 1 : 0;
}
