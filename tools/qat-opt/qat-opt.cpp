//===- qat-opt.cpp - the qat pass driver ----------------------------------===//
//
// mlir-opt with the qat and npu dialects, their passes and pipelines, plus
// every upstream dialect and pass. --help lists the driver's options and
// the passes; LLVM's own options only with --help-hidden. The input is
// checked for what crashes MLIR 22's parser first (qat/Tools/ParseGuard.h).
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Support/CommandLine.h"
#include "qat/Tools/ParseGuard.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  registerAllPasses();
  qat::registerQATPasses();
  DialectRegistry registry;
  qat::registerToolDialects(registry);
  qat::hideForeignOptions();
  auto [inputFilename, outputFilename] = registerAndParseCLIOptions(
      argc, argv, "qat-mlir pass driver\n", registry);
  MlirOptMainConfig config = MlirOptMainConfig::createFromCLOptions();
  // Listings read no input: upstream's driver prints them.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return asMainReturnCode(
        MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(inputFilename, &errorMessage);
  if (!file) {
    llvm::errs() << errorMessage << "\n";
    return EXIT_FAILURE;
  }
  if (std::optional<qat::ParserHazard> hazard =
          qat::findParserHazard(file->getBuffer())) {
    llvm::SourceMgr sourceMgr;
    const char *start = file->getBufferStart();
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    sourceMgr.PrintMessage(llvm::SMLoc::getFromPointer(start + hazard->offset),
                           llvm::SourceMgr::DK_Error, hazard->message);
    return EXIT_FAILURE;
  }
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
