//===- ToolSupport.cpp - what the qat drivers share -----------------------===//

#include "qat/Tools/ToolSupport.h"
#include "qat/InitQAT.h"
#include "qat/Support/Error.h"
#include "qat/Tools/ParseGuard.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

using namespace mlir;
using namespace mlir::qat;

void qat::registerToolDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerQATDialects(registry);
}

ToolInput::ToolInput() {
  DialectRegistry registry;
  registerToolDialects(registry);
  context = std::make_unique<MLIRContext>(registry);
}

llvm::Expected<OwningOpRef<ModuleOp>> ToolInput::parse(llvm::StringRef path) {
  std::string errorMessage;
  auto file = openInputFile(path, &errorMessage);
  if (!file)
    return makeError("cannot open '" + path + "': " + errorMessage);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  if (!handler)
    handler =
        std::make_unique<SourceMgrDiagnosticHandler>(sourceMgr, context.get());
  OwningOpRef<ModuleOp> module =
      parseModuleGuarded(sourceMgr, ParserConfig(context.get()));
  if (!module)
    return makeError("cannot parse '" + path + "'");
  return module;
}
