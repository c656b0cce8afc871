//===- qat-run.cpp - run one function of an MLIR file on .npy data --------===//
//
//   qat-run FILE.mlir --entry NAME --input a.npy ... [--output y.npy ...]
//           [--repeat N] [--print] [--split] [--kernels K] [--num-threads N]
//           [--arena static|call|none]
//
// Lowers FILE with the qat-to-llvm pipeline, JIT-compiles it and calls NAME
// with the inputs in argument order; writes the results in result order
// (or prints them). With --repeat N it calls N times and reports the mean
// time per call. With --split the inputs hold several batches along
// dimension 0: one call per batch, results concatenated. Exit code 1 on any
// error, with a message saying why.
//
//===----------------------------------------------------------------------===//

#include "qat/Runtime/Runner.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ToolSupport.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.mlir>"),
                                      cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string> entryName(
    "entry", cl::desc("function to call (default: the module's only function)"),
    cl::init(""), cl::cat(getToolCategory()));
static cl::list<std::string> inputs("input",
                                    cl::desc("an .npy argument, in order"),
                                    cl::cat(getToolCategory()));
static cl::list<std::string> outputs("output",
                                     cl::desc("an .npy result file, in order"),
                                     cl::cat(getToolCategory()));
static cl::opt<int64_t> repeat("repeat",
                               cl::desc("call N times and report the mean "
                                        "time per call"),
                               cl::init(1), cl::cat(getToolCategory()));
static cl::opt<unsigned> optLevel("opt-level",
                                  cl::desc("LLVM optimisation level, 0-3"),
                                  cl::init(3), cl::cat(getToolCategory()));
static cl::opt<Kernels> kernels("kernels", cl::desc("int8 kernels"),
                                cl::init(Kernels::Auto), kernelsValues(),
                                cl::cat(getToolCategory()));
static cl::opt<unsigned> threads(
    "num-threads",
    cl::desc("threads of the int8 kernels: 1 (default), N, or 0 for the "
             "OpenMP runtime's choice (OMP_NUM_THREADS, else all cores); "
             "needs libomp"),
    cl::init(1), cl::cat(getToolCategory()));
static cl::opt<int64_t> parallelMinMacs(
    "parallel-min-macs",
    cl::desc("with --num-threads other than 1: int8 kernels with fewer "
             "multiply-accumulates (depthwise ones count 8) run on the "
             "calling thread (default 8388608)"),
    cl::init(kDefaultParallelMinMacs), cl::cat(getToolCategory()));
static cl::opt<Arena> arena("arena", cl::desc("temporary buffers"),
                            cl::init(Arena::Static), arenaValues(),
                            cl::cat(getToolCategory()));
static cl::opt<bool> splitInputs(
    "split",
    cl::desc("inputs hold several batches along dimension 0: call the "
             "function once per batch (compiled once) and concatenate the "
             "results along dimension 0"),
    cl::cat(getToolCategory()));
static cl::opt<bool>
    quiet("quiet",
          cl::desc("print neither the results (unless --print) nor progress"),
          cl::cat(getToolCategory()));
static cl::opt<bool>
    progress("progress",
             cl::desc("print each compilation step on stderr (default: for "
                      "inputs over 4 MB, unless --quiet)"),
             cl::cat(getToolCategory()));
static cl::opt<bool> printResults("print",
                                  cl::desc("print the results (default when "
                                           "no --output is given, unless "
                                           "--quiet)"),
                                  cl::cat(getToolCategory()));

static void printArray(llvm::raw_ostream &os, const NpyArray &a) {
  int64_t n = a.getNumElements();
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (i)
      os << (a.shape.empty() || i % a.shape.back() ? ", " : ",\n  ");
    const uint8_t *p = a.bytes.data() + i * getElementSize(a.kind);
    switch (a.kind) {
    case ElementKind::F32: {
      float v;
      std::memcpy(&v, p, 4);
      os << llvm::format("%g", v);
      break;
    }
    case ElementKind::F64: {
      double v;
      std::memcpy(&v, p, 8);
      os << llvm::format("%g", v);
      break;
    }
    case ElementKind::I8:
      os << int(int8_t(*p));
      break;
    case ElementKind::U8:
      os << int(*p);
      break;
    case ElementKind::I16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      os << v;
      break;
    }
    case ElementKind::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      os << v;
      break;
    }
    case ElementKind::I64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      os << v;
      break;
    }
    }
  }
  os << "]\n";
}

static int fail(const llvm::Twine &msg) { return toolError("qat-run", msg); }

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  parseToolCommandLine(argc, argv,
                       "qat-run: run one function of an "
                       "MLIR file on NumPy .npy data\n");
  ToolInput input;
  auto module = input.parseWithEntry(inputFile, entryName);
  if (!module)
    return fail(llvm::toString(module.takeError()));
  auto args = readNpyFiles(inputs);
  if (!args)
    return fail(llvm::toString(args.takeError()));

  ProgressCallback onProgress;
  if (showCompileProgress(quiet, progress, inputFile))
    onProgress = printProgress("qat-run");
  auto runner =
      Runner::create(**module, entryName, optLevel,
                     {kernels, threads, arena, parallelMinMacs}, onProgress);
  if (!runner)
    return fail(llvm::toString(runner.takeError()));
  if (!outputs.empty() && outputs.size() != (*runner)->getResultTypes().size())
    return fail(llvm::Twine(outputs.size()) + " --output file(s) given but @" +
                entryName + " returns " +
                llvm::Twine((*runner)->getResultTypes().size()) + " result(s)");

  llvm::SmallVector<NpyArray> results;
  double seconds = 0;
  int64_t calls = 1;
  if (splitInputs) {
    if (auto err =
            (*runner)->runBatches(*args, results, repeat, &seconds, &calls))
      return fail(llvm::toString(std::move(err)));
  } else if (auto err = (*runner)->run(*args, results, repeat, &seconds)) {
    return fail(llvm::toString(std::move(err)));
  }

  for (auto [i, path] : llvm::enumerate(outputs))
    if (auto err = writeNpy(path, results[i]))
      return fail(llvm::toString(std::move(err)));
  if (printResults || (outputs.empty() && !quiet)) {
    for (auto [i, r] : llvm::enumerate(results)) {
      llvm::outs() << "result #" << i << ": " << (*runner)->getResultTypes()[i]
                   << "\n  ";
      printArray(llvm::outs(), r);
    }
  }
  if (splitInputs && calls == 0)
    llvm::outs() << "no batch: the inputs are empty along dimension 0\n";
  else if (splitInputs)
    llvm::outs() << llvm::format(
        "time per batch: %.3f us (%lld batches, %lld call(s) each)\n",
        seconds / calls * 1e6, (long long)calls, (long long)repeat);
  else if (repeat > 1)
    llvm::outs() << llvm::format("time per call: %.3f us (%lld calls)\n",
                                 seconds * 1e6, (long long)repeat);
  return 0;
}
