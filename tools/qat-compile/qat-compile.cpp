//===- qat-compile.cpp - ahead-of-time compilation of one function --------===//
//
//   qat-compile FILE.mlir --entry NAME -o model.o [--header model.h]
//               [--opt-level 0-3] [--mcpu host|NAME] [--kernels KIND]
//               [--num-threads N] [--arena static|call|none]
//
// Lowers NAME (and what it calls) with the qat-to-llvm pipeline and writes a
// relocatable object file exporting _mlir_ciface_NAME, and optionally the C
// header of its ABI (qat/Runtime/AOT.h, docs/Conversion.md). Exit code 1 on
// any error, with a message saying why.
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Runtime/AOT.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.mlir>"),
                                      cl::Required);
static cl::opt<std::string> entryName("entry", cl::desc("function to compile"),
                                      cl::Required);
static cl::opt<std::string> objectFile("o", cl::desc("object file"),
                                       cl::value_desc("file"), cl::Required);
static cl::opt<std::string> headerFile("header",
                                       cl::desc("write the C header here"),
                                       cl::value_desc("file"));
static cl::opt<unsigned> optLevel("opt-level",
                                  cl::desc("LLVM optimisation level, 0-3"),
                                  cl::init(3));
static cl::opt<std::string>
    cpu("mcpu", cl::desc("target CPU: host (default) or an LLVM CPU name"),
        cl::init("host"));
static cl::opt<std::string> kernels(
    "kernels",
    cl::desc("int8 kernels: auto (default: vnni if the target CPU has "
             "AVX-512 VNNI, else portable), vnni (stops with an error on a "
             "CPU without it), portable, dispatch (both; the CPU the object "
             "runs on picks) or none (generic loops)"),
    cl::init("auto"));

static cl::opt<unsigned> threads(
    "num-threads",
    cl::desc("threads of the int8 kernels: 1 (default), N, or 0 for the "
             "OpenMP runtime's choice (OMP_NUM_THREADS, else all cores); "
             "the object then calls libomp: link with -lomp"),
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
             "function, a global reused by every call; a concurrent call "
             "allocates its own), call (the arena is allocated on each "
             "call) or none (one allocation per buffer)"),
    cl::init("static"));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "qat-compile: error: " << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "qat-compile: compile one function of an MLIR "
                              "file to an object file with a C ABI\n");
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

  AOTOptions options;
  options.optLevel = optLevel;
  options.cpu = cpu;
  options.lowering = {kernels, threads, arena, parallelMinMacs};
  auto sig = compileToObject(*module, entryName, objectFile, options);
  if (!sig)
    return fail(llvm::toString(sig.takeError()));
  if (!headerFile.empty()) {
    auto out = openOutputFile(headerFile, &errorMessage);
    if (!out)
      return fail("cannot write '" + headerFile + "': " + errorMessage);
    writeCHeader(out->os(), entryName, *sig);
    out->keep();
  }
  return 0;
}
