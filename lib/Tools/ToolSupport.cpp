//===- ToolSupport.cpp - what the qat drivers share -----------------------===//

#include "qat/Tools/ToolSupport.h"
#include "qat/InitQAT.h"
#include "qat/Support/Error.h"
#include "qat/Tools/ParseGuard.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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

llvm::Expected<OwningOpRef<ModuleOp>>
ToolInput::parseWithEntry(llvm::StringRef path, std::string &entry) {
  auto module = parse(path);
  if (!module)
    return module.takeError();
  auto resolved = resolveEntry(**module, entry);
  if (!resolved)
    return resolved.takeError();
  entry = *resolved;
  return module;
}

llvm::Expected<std::string> mlir::qat::resolveEntry(ModuleOp module,
                                                    llvm::StringRef entry) {
  if (!entry.empty())
    return entry.str();
  std::string names;
  std::string only;
  unsigned count = 0;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isExternal())
      continue;
    names += (count ? ", @" : "@") + f.getSymName().str();
    only = f.getSymName().str();
    ++count;
  }
  if (count == 1)
    return only;
  if (count == 0)
    return makeError("the module has no function with a body");
  return makeError("no --entry given and the module has " + llvm::Twine(count) +
                   " functions (" + names + "): name one with --entry");
}
