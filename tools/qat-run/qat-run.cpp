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

#include "qat/InitQAT.h"
#include "qat/Runtime/Runner.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.mlir>"),
                                      cl::Required);
static cl::opt<std::string> entryName("entry", cl::desc("function to call"),
                                      cl::Required);
static cl::list<std::string> inputs("input",
                                    cl::desc("an .npy argument, in order"));
static cl::list<std::string> outputs("output",
                                     cl::desc("an .npy result file, in order"));
static cl::opt<int64_t> repeat("repeat",
                               cl::desc("call N times and report the mean "
                                        "time per call"),
                               cl::init(1));
static cl::opt<unsigned> optLevel("opt-level",
                                  cl::desc("LLVM optimisation level, 0-3"),
                                  cl::init(3));
static cl::opt<std::string> kernels(
    "kernels",
    cl::desc("int8 kernels: auto (default: vnni if the CPU has AVX-512 "
             "VNNI, else portable), vnni, portable or none (generic loops)"),
    cl::init("auto"));
static cl::opt<unsigned> threads(
    "num-threads",
    cl::desc("threads of the int8 kernels: 1 (default), N, or 0 for the "
             "OpenMP runtime's choice (OMP_NUM_THREADS, else all cores); "
             "needs libomp"),
    cl::init(1));
static cl::opt<int64_t> parallelMinMacs(
    "parallel-min-macs",
    cl::desc("with --num-threads other than 1: int8 kernels with fewer "
             "multiply-accumulates (depthwise ones count 8) run on the "
             "calling thread (default 8388608)"),
    cl::init(qat::kDefaultParallelMinMacs));
static cl::opt<std::string> arena(
    "arena",
    cl::desc("temporary buffers: static (default: placed in one arena per "
             "function, a global reused by every call), call (the arena is "
             "allocated on each call) or none (one allocation per buffer)"),
    cl::init("static"));
static cl::opt<bool> splitInputs(
    "split",
    cl::desc("inputs hold several batches along dimension 0: call the "
             "function once per batch (compiled once) and concatenate the "
             "results along dimension 0"));
static cl::opt<bool> printResults("print",
                                  cl::desc("print the results (default when "
                                           "no --output is given)"));

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

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "qat-run: error: " << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "qat-run: run one function of an "
                              "MLIR file on NumPy .npy data\n");
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  qat::registerQATDialect(registry);
  MLIRContext context(registry);

  std::string errorMessage;
  auto file = openInputFile(inputFile, &errorMessage);
  if (!file)
    return fail("cannot open '" + inputFile + "': " + errorMessage);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse '" + inputFile + "'");

  llvm::SmallVector<NpyArray> args;
  for (const std::string &path : inputs) {
    auto array = readNpy(path);
    if (!array)
      return fail(llvm::toString(array.takeError()));
    args.push_back(std::move(*array));
  }

  auto runner = Runner::create(*module, entryName, optLevel,
                               {kernels, threads, arena, parallelMinMacs});
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
    auto argTypes = (*runner)->getArgumentTypes();
    if (args.size() != argTypes.size())
      return fail("@" + entryName + " takes " + llvm::Twine(argTypes.size()) +
                  " argument(s), got " + llvm::Twine(args.size()) +
                  " input(s)");
    // Every input must hold the same number of the entry's batches.
    for (auto [i, pair] : llvm::enumerate(llvm::zip(args, argTypes))) {
      auto [array, type] = pair;
      int64_t batch = type.getRank() ? type.getDimSize(0) : 0;
      bool ok = type.getRank() && !ShapedType::isDynamic(batch) && batch > 0 &&
                int64_t(array.shape.size()) == type.getRank() &&
                array.shape[0] % batch == 0;
      for (int64_t d = 1; ok && d < type.getRank(); ++d)
        ok = type.isDynamicDim(d) || type.getDimSize(d) == array.shape[d];
      if (!ok) {
        std::string t;
        llvm::raw_string_ostream os(t);
        os << type;
        return fail("--split: input #" + llvm::Twine(i) + " of shape " +
                    array.getShapeString() +
                    " is not a whole number of batches of @" + entryName +
                    " argument #" + llvm::Twine(i) + " (" + t + ")");
      }
      int64_t n = array.shape[0] / batch;
      if (i == 0)
        calls = n;
      else if (n != calls)
        return fail("--split: input #" + llvm::Twine(i) + " holds " +
                    llvm::Twine(n) + " batches, input #0 " +
                    llvm::Twine(calls));
    }
    auto slice = [](const NpyArray &a, int64_t index, int64_t count) {
      NpyArray out;
      out.kind = a.kind;
      out.shape = a.shape;
      out.shape[0] = a.shape[0] / count;
      size_t bytes = out.getNumElements() * getElementSize(a.kind);
      out.bytes.assign(a.bytes.begin() + index * bytes,
                       a.bytes.begin() + (index + 1) * bytes);
      return out;
    };
    for (int64_t c = 0; c < calls; ++c) {
      llvm::SmallVector<NpyArray> batchArgs, batchResults;
      for (const NpyArray &a : args)
        batchArgs.push_back(slice(a, c, calls));
      double s = 0;
      if (auto err = (*runner)->run(batchArgs, batchResults, repeat, &s))
        return fail("batch " + llvm::Twine(c) + ": " +
                    llvm::toString(std::move(err)));
      seconds += s;
      if (c == 0) {
        results = std::move(batchResults);
        for (NpyArray &r : results)
          if (r.shape.empty())
            return fail("--split: result of rank 0 cannot be concatenated");
        continue;
      }
      for (auto [r, b] : llvm::zip(results, batchResults)) {
        r.shape[0] += b.shape[0];
        r.bytes.insert(r.bytes.end(), b.bytes.begin(), b.bytes.end());
      }
    }
  } else if (auto err = (*runner)->run(args, results, repeat, &seconds)) {
    return fail(llvm::toString(std::move(err)));
  }

  for (auto [i, path] : llvm::enumerate(outputs))
    if (auto err = writeNpy(path, results[i]))
      return fail(llvm::toString(std::move(err)));
  if (printResults || outputs.empty()) {
    for (auto [i, r] : llvm::enumerate(results)) {
      llvm::outs() << "result #" << i << ": " << (*runner)->getResultTypes()[i]
                   << "\n  ";
      printArray(llvm::outs(), r);
    }
  }
  if (splitInputs)
    llvm::outs() << llvm::format(
        "time per batch: %.3f us (%lld batches, %lld call(s) each)\n",
        seconds / calls * 1e6, (long long)calls, (long long)repeat);
  else if (repeat > 1)
    llvm::outs() << llvm::format("time per call: %.3f us (%lld calls)\n",
                                 seconds * 1e6, (long long)repeat);
  return 0;
}
