//===- qat-calibrate.cpp - estimate activation ranges of a prepared model -===//
//
//   qat-calibrate FILE.mlir --entry NAME --data D [--data D ...] [-o OUT]
//
// FILE is a module prepared by qat-insert-fake-quant (or qat-prepare). Each
// D is one batch: an .npy file (for a one-argument entry), a comma-separated
// list of .npy files (one per argument), or a directory whose *.npy files,
// in name order, are one-argument batches. The entry runs once per batch with
// its observers updating; the module is written back with the observed
// ranges as the initial values of its state globals (as MLIR text, or
// bytecode with --emit-bytecode; FILE may be either). Freeze it with
// qat-opt --qat-freeze-qparams.
//
//===----------------------------------------------------------------------===//

#include "qat/Runtime/Calibrate.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/AsmState.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<file.mlir>"),
                                      cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string>
    entryName("entry",
              cl::desc("function to run (default: the module's only function)"),
              cl::init(""), cl::cat(getToolCategory()));
static cl::list<std::string>
    data("data",
         cl::desc("a batch: file.npy, a,b.npy (one per argument) or "
                  "a directory of .npy files"),
         cl::cat(getToolCategory()));
static cl::opt<std::string> outputFile("o", cl::desc("output file"),
                                       cl::value_desc("file"), cl::init("-"),
                                       cl::cat(getToolCategory()));
static cl::opt<bool>
    showProgress("progress",
                 cl::desc("print each step of the JIT compilation on stderr "
                          "(default: for inputs over 4 MB, unless --quiet)"),
                 cl::cat(getToolCategory()));
static cl::opt<bool> quiet("quiet", cl::desc("no progress on stderr"),
                           cl::cat(getToolCategory()));
static cl::opt<bool>
    emitBytecode("emit-bytecode",
                 cl::desc("write MLIR bytecode (weights stored raw; "
                          "locations kept) instead of text"),
                 cl::cat(getToolCategory()));
static cl::opt<std::string> saveObserved(
    "save-observed",
    cl::desc("write the tensor each observer saw in each batch to "
             "DIR/<observer>_batch<i>.npy (to check the ranges elsewhere)"),
    cl::value_desc("dir"), cl::cat(getToolCategory()));

static int fail(const llvm::Twine &msg) {
  return toolError("qat-calibrate", msg);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --mlir-print-debuginfo etc.: keep locations (quantizer names) across.
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  parseToolCommandLine(argc, argv,
                       "qat-calibrate: run a prepared model over "
                       "calibration data and keep the observed ranges\n");

  // Expand the data arguments into batches of file names.
  std::vector<std::vector<std::string>> batches;
  for (const std::string &d : data) {
    if (llvm::sys::fs::is_directory(d)) {
      std::vector<std::string> files;
      std::error_code ec;
      for (llvm::sys::fs::directory_iterator it(d, ec), end; it != end && !ec;
           it.increment(ec))
        if (llvm::sys::path::extension(it->path()) == ".npy")
          files.push_back(it->path());
      if (ec)
        return fail("cannot list '" + d + "': " + ec.message());
      if (files.empty())
        return fail("directory '" + d + "' has no .npy files");
      std::sort(files.begin(), files.end());
      for (std::string &f : files)
        batches.push_back({f});
      continue;
    }
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(d).split(parts, ',');
    std::vector<std::string> batch;
    for (llvm::StringRef p : parts)
      batch.push_back(p.str());
    batches.push_back(batch);
  }
  if (batches.empty())
    return fail("no calibration data (give --data)");

  ToolInput input;
  auto module = input.parseWithEntry(inputFile, entryName);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  auto getBatch = [&](size_t i) -> llvm::Expected<Batch> {
    return readNpyFiles(batches[i]);
  };
  auto progress = [&](size_t i) {
    if (!quiet && ((i + 1) % 10 == 0 || i + 1 == batches.size()))
      llvm::errs() << "qat-calibrate: " << (i + 1) << "/" << batches.size()
                   << " batches\n";
  };
  ObservedCallback observed;
  if (!saveObserved.empty()) {
    if (auto ec = llvm::sys::fs::create_directories(saveObserved))
      return fail("cannot create '" + saveObserved + "': " + ec.message());
    observed = [&](size_t i, llvm::ArrayRef<std::string> names,
                   llvm::ArrayRef<NpyArray> tensors) -> llvm::Error {
      for (auto [name, tensor] : llvm::zip(names, tensors)) {
        llvm::SmallString<128> path(saveObserved);
        llvm::sys::path::append(path,
                                name + "_batch" + std::to_string(i) + ".npy");
        if (auto err = writeNpy(path, tensor))
          return err;
      }
      return llvm::Error::success();
    };
  }
  ProgressCallback compileProgress;
  if (showCompileProgress(quiet, showProgress, inputFile))
    compileProgress = printProgress("qat-calibrate");
  auto updated = calibrate(**module, entryName, batches.size(), getBatch,
                           progress, observed, compileProgress);
  if (!updated)
    return fail(llvm::toString(updated.takeError()));

  std::string errorMessage;
  auto output = openOutputFile(outputFile, &errorMessage);
  if (!output)
    return fail("cannot write '" + outputFile + "': " + errorMessage);
  if (emitBytecode) {
    if (failed(writeBytecodeToFile(**module, output->os())))
      return fail("cannot write '" + outputFile + "' as bytecode");
  } else {
    (*module)->print(output->os());
    output->os() << "\n";
  }
  output->keep();
  return 0;
}
