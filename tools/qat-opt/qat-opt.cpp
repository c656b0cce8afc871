//===- qat-opt.cpp - the qat pass driver ----------------------------------===//
//
// mlir-opt with the qat and npu dialects, their passes and pipelines, plus
// every upstream dialect and pass. --help is short: the qat passes and
// pipelines, one line each, and the driver options most used with them;
// --help-passes adds the qat passes' options; --help-hidden lists
// everything (upstream passes, MLIR's and LLVM's options). The input is
// checked for what crashes MLIR 22's parser first (qat/Tools/ParseGuard.h).
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ParseGuard.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <unistd.h>
#include <vector>

using namespace mlir;

namespace {

/// What mlir::printRegisteredPasses writes (to stdout), as a string.
std::string registeredPasses() {
  llvm::outs().flush();
  std::fflush(stdout);
  std::FILE *tmp = std::tmpfile();
  int saved = dup(1);
  if (!tmp || saved < 0)
    return "";
  dup2(fileno(tmp), 1);
  mlir::printRegisteredPasses();
  llvm::outs().flush();
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  std::string text;
  std::rewind(tmp);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), tmp)) > 0;)
    text.append(buf, n);
  std::fclose(tmp);
  return text;
}

/// qat-opt --help (withOptions: --help-passes). Only the qat passes are
/// registered at this point.
void printHelp(bool withOptions) {
  llvm::outs()
      << "OVERVIEW: qat-opt: the qat-mlir pass driver (mlir-opt with the qat "
         "and npu dialects,\n"
         "their passes and pipelines, and every upstream dialect and pass)\n\n"
         "USAGE: qat-opt [options] [file.mlir]   (stdin without a file; "
         "output on stdout or -o)\n\n"
         "qat passes and pipelines ("
      << (withOptions ? "with their options" : "their options: --help-passes")
      << "; --pass=opt or --pass=\"opt1=a opt2=b\"):\n";
  std::string passes = registeredPasses();
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(passes).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    if (line.trim().empty() || !line.starts_with(" "))
      continue; // section titles
    bool pass = line.starts_with("  --");
    if (!pass && !withOptions)
      continue;
    llvm::outs() << line.rtrim() << "\n";
  }
  // mlir::printRegisteredPasses lists passes only; the qat pipelines
  // (lib/Pipelines) by name.
  for (llvm::StringRef name : {"qat-prepare", "qat-to-llvm"}) {
    const mlir::PassPipelineInfo *info = mlir::PassPipelineInfo::lookup(name);
    if (!info)
      continue;
    if (withOptions) {
      info->printHelpStr(/*indent=*/2, /*descIndent=*/35);
      continue;
    }
    std::string flag = ("--" + name).str();
    llvm::outs() << "  " << flag << std::string(33 - flag.size(), ' ') << "-   "
                 << info->getPassDescription() << " (pipeline)\n";
  }
  llvm::outs()
      << "\nDriver options (all of them: --help-hidden):\n"
         "  -o <file>                        output file (default: stdout)\n"
         "  --pass-pipeline=<string>         a pipeline, e.g. "
         "'builtin.module(qat-prepare{target=x86})'\n"
         "  --split-input-file               process each '// -----' chunk "
         "on its own\n"
         "  --verify-diagnostics             check expected-error/-remark "
         "lines of the input\n"
         "  --mlir-print-debuginfo           keep locations (module and "
         "quantizer names) in the output\n"
         "  --mlir-print-ir-after-all        print the IR after each pass\n"
         "  --mlir-timing                    time each pass\n"
         "  --remarks-filter=<regex>         print the passes' remarks, e.g. "
         "'qat-.*'\n"
         "  --list-passes                    every registered pass, upstream "
         "MLIR's too, with options\n"
         "  --show-dialects                  the registered dialects\n"
         "  --help-passes                    the qat passes with their "
         "options\n"
         "  --help-hidden                    every option: upstream passes, "
         "MLIR's and LLVM's\n"
         "  --version                        the LLVM version\n";
}

} // namespace

int main(int argc, char **argv) {
  bool help = false, helpPasses = false;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    help |= arg == "--help" || arg == "-help";
    helpPasses |= arg == "--help-passes" || arg == "-help-passes";
  }
  llvm::InitLLVM y(argc, argv);
  qat::registerQATPasses();
  if (help || helpPasses) {
    printHelp(helpPasses);
    return EXIT_SUCCESS;
  }
  registerAllPasses();
  DialectRegistry registry;
  qat::registerToolDialects(registry);
  qat::hideForeignOptions();
  // A diagnostic names its op without printing it (MLIR's default prints
  // the op, for an error on a module the whole model) unless asked with
  // --mlir-print-op-on-diagnostic.
  std::vector<char *> args(argv, argv + argc);
  static char quiet[] = "--mlir-print-op-on-diagnostic=false";
  if (llvm::none_of(args, [](char *a) {
        return llvm::StringRef(a).contains("mlir-print-op-on-diagnostic");
      }))
    args.insert(args.begin() + 1, quiet);
  int nargs = static_cast<int>(args.size());
  char **argvq = args.data();
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      nargs, argvq, "qat-mlir pass driver\n", registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  // Listings read no input: upstream's driver prints them.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return asMainReturnCode(
        MlirOptMain(nargs, argvq, inputFilename, outputFilename, registry));

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(inputFilename, &errorMessage);
  if (!file) {
    llvm::errs() << errorMessage << "\n";
    return EXIT_FAILURE;
  }
  if (std::optional<qat::ParserHazard> hazard =
          qat::findParserHazard(file->getBuffer())) {
    if (isBytecode(*file)) {
      llvm::errs() << file->getBufferIdentifier()
                   << ": error: " << hazard->message << "\n";
      return EXIT_FAILURE;
    }
    llvm::SourceMgr sourceMgr;
    const char *start = file->getBufferStart();
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    sourceMgr.PrintMessage(llvm::SMLoc::getFromPointer(start + hazard->offset),
                           llvm::SourceMgr::DK_Error, hazard->message);
    return EXIT_FAILURE;
  }
  // MlirOptMain's parser cannot be configured: bytecode is read once first
  // with the guarded reader.
  if (isBytecode(*file) && failed(qat::checkBytecodeHazards(*file, registry)))
    return EXIT_FAILURE;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::errs() << errorMessage << "\n";
    return EXIT_FAILURE;
  }
  if (failed(MlirOptMain(output->os(), std::move(file), registry, config)))
    return EXIT_FAILURE;
  output->keep();
  return EXIT_SUCCESS;
}
