//===- qat-bench-onednn-peer.cpp - oneDNN int8 primitives on the shapes ---===//
//
//   qat-bench-onednn-peer [--filter SUBSTRING] [--min-seconds S] [--peak]
//                         [--max-isa NAME] [--shapes FILE] [--print-shapes]
//
// Prints one CSV line `name,ops,median_s,min_s,impl` per layer whose name
// contains SUBSTRING; the library version, effective ISA, thread count,
// optional peaks and per-network sums (count x median over the layers whose
// names start with `network/`) go to stderr as `#` lines. The layers are
// perfLayers() (bench/README.md), or those of a shape file (--shapes, format below);
// --print-shapes writes the selected layers in that format and times nothing.
//
// Shape file: one layer per line, `#` starts a comment, fields are
// `key=value` after the name and kind, sizes are batch-1 NCHW notation:
//   NAME conv h=H w=W cin=C cout=K kh=KH kw=KW stride=S pad=P [groups=G]
//             [dilation=1] [count=N]
//   NAME fc m=M k=K n=N [count=N]
// `conv` pads P on every side; groups is 1 or, for a depthwise convolution,
// cin = cout = groups. `fc` is [M x K] x [K x N]. count (default 1) is how
// often the layer occurs in its network. Example:
//   resnet18/layer1.0.conv1 conv h=56 w=56 cin=64 cout=64 kh=3 kw=3 stride=1 pad=1
//   resnet18/fc fc m=1 k=512 n=1000
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
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
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
static cl::opt<std::string>
    shapesFile("shapes",
               cl::desc("time the layers of this shape file instead of the "
                        "built-in list of bench/README.md (format: see the source header "
                        "or bench/networks.py)"),
               cl::init(""), cl::cat(peerCategory));
static cl::opt<bool>
    printShapes("print-shapes",
                cl::desc("print the selected layers in the shape-file format "
                         "and exit without timing"),
                cl::cat(peerCategory));

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

/// One line of a shape file in its own format (the inverse of parseLayer).
static std::string formatLayer(const Layer &l) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << l.name;
  if (l.kind == Layer::MatMul) {
    os << " fc m=" << l.m << " k=" << l.cin << " n=" << l.cout;
  } else {
    os << " conv h=" << l.h << " w=" << l.w << " cin=" << l.cin
       << " cout=" << l.cout << " kh=" << l.kh << " kw=" << l.kw
       << " stride=" << l.stride << " pad=" << l.pad;
    if (l.kind == Layer::Depthwise)
      os << " groups=" << l.cin;
  }
  if (l.count != 1)
    os << " count=" << l.count;
  return s;
}

/// Parses one non-empty shape-file line (comment removed) into `l`; returns
/// an error message naming the field and the rule otherwise.
static std::optional<std::string> parseLayer(llvm::StringRef line, Layer &l) {
  llvm::SmallVector<llvm::StringRef> fields;
  line.split(fields, ' ', -1, /*KeepEmpty=*/false);
  // Tabs count as spaces.
  llvm::SmallVector<llvm::StringRef> words;
  for (llvm::StringRef f : fields) {
    llvm::SmallVector<llvm::StringRef> parts;
    f.split(parts, '\t', -1, false);
    words.append(parts.begin(), parts.end());
  }
  if (words.size() < 2)
    return std::string("expected 'NAME conv|fc key=value ...'");
  l = Layer();
  l.name = words[0].str();
  llvm::StringRef kind = words[1];
  bool conv = kind == "conv";
  if (!conv && kind != "fc")
    return "unknown layer kind '" + kind.str() + "' (conv or fc)";
  llvm::SmallVector<llvm::StringRef> keys =
      conv ? llvm::SmallVector<llvm::StringRef>{"h",  "w",      "cin",
                                                "cout", "kh", "kw",
                                                "stride", "pad"}
           : llvm::SmallVector<llvm::StringRef>{"m", "k", "n"};
  llvm::StringMap<int64_t> values;
  for (llvm::StringRef word : llvm::ArrayRef(words).drop_front(2)) {
    auto [key, value] = word.split('=');
    bool known = llvm::is_contained(keys, key) || key == "count" ||
                 (conv && (key == "groups" || key == "dilation"));
    if (!known)
      return "unknown field '" + key.str() + "' for a " + kind.str() +
             " layer";
    int64_t v;
    if (value.getAsInteger(10, v))
      return "field '" + key.str() + "': '" + value.str() +
             "' is not an integer";
    if (v < (key == "pad" ? 0 : 1))
      return "field '" + key.str() + "' = " + std::to_string(v) +
             (key == "pad" ? " is negative" : " must be at least 1");
    if (!values.try_emplace(key, v).second)
      return "field '" + key.str() + "' given twice";
  }
  for (llvm::StringRef key : keys)
    if (!values.count(key))
      return "missing field '" + key.str() + "' of a " + kind.str() +
             " layer";
  l.count = values.lookup("count") ? values.lookup("count") : 1;
  if (!conv) {
    l.kind = Layer::MatMul;
    l.m = values["m"];
    l.cin = values["k"];
    l.cout = values["n"];
    return std::nullopt;
  }
  l.h = values["h"];
  l.w = values["w"];
  l.cin = values["cin"];
  l.cout = values["cout"];
  l.kh = values["kh"];
  l.kw = values["kw"];
  l.stride = values["stride"];
  l.pad = values["pad"];
  if (int64_t d = values.lookup("dilation"); d > 1)
    return "dilation=" + std::to_string(d) +
           ": the peer times dilation 1 only";
  int64_t groups = values.lookup("groups") ? values.lookup("groups") : 1;
  if (groups != 1) {
    if (groups != l.cin || groups != l.cout)
      return "groups=" + std::to_string(groups) + " with cin=" +
             std::to_string(l.cin) + " cout=" + std::to_string(l.cout) +
             ": the peer times groups=1 or depthwise (groups = cin = cout)";
    l.kind = Layer::Depthwise;
  }
  if (l.h + 2 * l.pad < l.kh || l.w + 2 * l.pad < l.kw)
    return std::string("the kernel is larger than the padded input");
  return std::nullopt;
}

/// The layers of a shape file, or an error naming the file and line.
static std::optional<std::vector<Layer>> readShapes(llvm::StringRef path) {
  std::ifstream in(path.str());
  if (!in) {
    llvm::errs() << "error: cannot open shape file '" << path << "'\n";
    return std::nullopt;
  }
  std::vector<Layer> layers;
  std::string text;
  for (int lineNo = 1; std::getline(in, text); ++lineNo) {
    llvm::StringRef line = llvm::StringRef(text).split('#').first.trim();
    if (line.empty())
      continue;
    Layer l;
    if (std::optional<std::string> err = parseLayer(line, l)) {
      llvm::errs() << path << ":" << lineNo << ": error: " << *err << "\n";
      return std::nullopt;
    }
    layers.push_back(std::move(l));
  }
  if (layers.empty()) {
    llvm::errs() << "error: shape file '" << path << "' lists no layer\n";
    return std::nullopt;
  }
  return layers;
}

int main(int argc, char **argv) {
  cl::HideUnrelatedOptions(peerCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "time oneDNN int8 primitives (the peer of the "
                              "layer benchmark) on one thread\n");
  std::vector<Layer> layers = perfLayers();
  if (!shapesFile.empty()) {
    std::optional<std::vector<Layer>> read = readShapes(shapesFile);
    if (!read)
      return 1;
    layers = std::move(*read);
  }
  if (printShapes) {
    for (const Layer &l : layers)
      if (llvm::StringRef(l.name).contains(filter))
        llvm::outs() << formatLayer(l) << "\n";
    return 0;
  }
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
  for (const Layer &l : layers) {
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
