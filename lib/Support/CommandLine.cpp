//===- CommandLine.cpp - the command lines of the qat tools ---------------===//

#include "qat/Support/CommandLine.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::qat;
namespace cl = llvm::cl;

cl::OptionCategory &mlir::qat::getToolCategory() {
  static cl::OptionCategory category("Command options");
  return category;
}

void mlir::qat::hideForeignOptions() {
  cl::OptionCategory *own = &getToolCategory();
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    llvm::StringRef name = entry.first;
    if (name.starts_with("help") || name == "version" ||
        llvm::is_contained(option->Categories, own))
      continue;
    if (option->getOptionHiddenFlag() == cl::NotHidden)
      option->setHiddenFlag(cl::Hidden);
  }
}

void mlir::qat::parseToolCommandLine(int argc, char **argv,
                                     llvm::StringRef overview) {
  hideForeignOptions();
  cl::ParseCommandLineOptions(argc, argv, overview);
}

int mlir::qat::toolError(llvm::StringRef tool, const llvm::Twine &msg,
                         int exitCode) {
  llvm::errs() << tool << ": error: " << msg << "\n";
  return exitCode;
}

bool mlir::qat::showCompileProgress(bool quiet, bool progress,
                                    llvm::StringRef inputPath) {
  if (progress)
    return true;
  uint64_t size = 0;
  return !quiet && inputPath != "-" &&
         !llvm::sys::fs::file_size(inputPath, size) && size > (4u << 20);
}

std::function<void(llvm::StringRef, double)>
mlir::qat::printProgress(llvm::StringRef tool) {
  return [name = tool.str()](llvm::StringRef what, double seconds) {
    llvm::errs() << name << ": [" << llvm::format("%5.1f", seconds) << " s] "
                 << what << "\n";
    llvm::errs().flush();
  };
}
