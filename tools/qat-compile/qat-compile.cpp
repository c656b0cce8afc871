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

#include "qat/Runtime/AOT.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.mlir>"),
                                      cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string> entryName(
    "entry",
    cl::desc("function to compile (default: the module's only function)"),
    cl::init(""), cl::cat(getToolCategory()));
static cl::opt<std::string> objectFile("o", cl::desc("object file"),
                                       cl::value_desc("file"), cl::Required,
                                       cl::cat(getToolCategory()));
static cl::opt<std::string> headerFile("header",
                                       cl::desc("write the C header here"),
                                       cl::value_desc("file"),
                                       cl::cat(getToolCategory()));
static cl::opt<unsigned> optLevel("opt-level",
                                  cl::desc("LLVM optimisation level, 0-3"),
                                  cl::init(3), cl::cat(getToolCategory()));
static cl::opt<std::string>
    cpu("mcpu", cl::desc("target CPU: host (default) or an LLVM CPU name"),
        cl::init("host"), cl::cat(getToolCategory()));
static cl::opt<Kernels>
    kernels("kernels",
            cl::desc("int8 kernels (amx and vnni code stop with an error "
                     "where the CPU or OS cannot run them; auto for a CPU "
                     "with AMX adds a VNNI build to fall back on)"),
            cl::init(Kernels::Auto), kernelsValues(/*dispatch=*/true),
            cl::cat(getToolCategory()));

static cl::opt<unsigned> threads(
    "num-threads",
    cl::desc("threads of the int8 kernels: 1 (default), N, or 0 for the "
             "OpenMP runtime's choice (OMP_NUM_THREADS, else all cores); "
             "the object then calls libomp: link with -lomp"),
    cl::init(1), cl::cat(getToolCategory()));

static cl::opt<int64_t> parallelMinMacs(
    "parallel-min-macs",
    cl::desc("with --num-threads other than 1: int8 kernels with fewer "
             "multiply-accumulates (depthwise ones count 8) run on the "
             "calling thread (default 8388608)"),
    cl::init(kDefaultParallelMinMacs), cl::cat(getToolCategory()));
static cl::opt<Arena>
    arena("arena",
          cl::desc("temporary buffers (static: a concurrent call allocates its "
                   "own arena)"),
          cl::init(Arena::Static), arenaValues(), cl::cat(getToolCategory()));

static cl::opt<bool> quiet("quiet", cl::desc("no progress on stderr"),
                           cl::cat(getToolCategory()));
static cl::opt<bool>
    progress("progress",
             cl::desc("print each compilation step on stderr (default: for "
                      "inputs over 4 MB, unless --quiet)"),
             cl::cat(getToolCategory()));

static int fail(const llvm::Twine &msg) {
  return toolError("qat-compile", msg);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  parseToolCommandLine(argc, argv,
                       "qat-compile: compile one function of an MLIR "
                       "file to an object file with a C ABI\n");
  // The header declares _mlir_ciface_<entry> and qat_<entry>.
  auto isCIdentifier = [](llvm::StringRef s) {
    return !s.empty() && !llvm::isDigit(s.front()) &&
           llvm::all_of(s, [](char c) { return llvm::isAlnum(c) || c == '_'; });
  };
  ToolInput input;
  auto module = input.parseWithEntry(inputFile, entryName);
  if (!module)
    return fail(llvm::toString(module.takeError()));
  if (!headerFile.empty() && !isCIdentifier(entryName))
    return fail("--header: entry name '" + entryName +
                "' is not a C identifier, so the header cannot declare "
                "_mlir_ciface_" +
                entryName + " and qat_" + entryName +
                " (rename the function, or compile without --header)");

  AOTOptions options;
  options.optLevel = optLevel;
  options.cpu = cpu;
  options.lowering = {kernels, threads, arena, parallelMinMacs};
  if (showCompileProgress(quiet, progress, inputFile))
    options.progress = printProgress("qat-compile");
  auto sig = compileToObject(**module, entryName, objectFile, options);
  if (!sig)
    return fail(llvm::toString(sig.takeError()));
  if (!headerFile.empty()) {
    std::string errorMessage;
    auto out = openOutputFile(headerFile, &errorMessage);
    if (!out)
      return fail("cannot write '" + headerFile + "': " + errorMessage);
    writeCHeader(out->os(), entryName, *sig);
    out->keep();
  }
  return 0;
}
