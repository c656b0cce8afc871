//===- ToolSupport.h - what the qat drivers share ---------------*- C++ -*-===//
//
// The preamble of the drivers that read MLIR (qat-run, qat-compile,
// qat-calibrate, qat-npu-check, qat-bench-layers): a context with every
// dialect they may meet and the parse of the input file with its
// diagnostics. The command line and the errors are in
// qat/Support/CommandLine.h, batches in qat/Support/Batches.h.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_TOOLS_TOOLSUPPORT_H
#define QAT_TOOLS_TOOLSUPPORT_H

#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>

namespace mlir::qat {

/// Every dialect and extension a qat tool reads: upstream's, qat and npu.
void registerToolDialects(DialectRegistry &registry);

/// A context with registerToolDialects' dialects, and the input file whose
/// locations its diagnostics print with.
class ToolInput {
public:
  ToolInput();
  MLIRContext &getContext() { return *context; }
  /// Parses the module in `path`. The error says "cannot open 'path': why"
  /// or "cannot parse 'path'" (after the parser's diagnostics).
  llvm::Expected<OwningOpRef<ModuleOp>> parse(llvm::StringRef path);
  /// parse(path), then the function to run: `entry` becomes
  /// resolveEntry(module, entry) (the drivers' --entry).
  llvm::Expected<OwningOpRef<ModuleOp>> parseWithEntry(llvm::StringRef path,
                                                       std::string &entry);

private:
  std::unique_ptr<MLIRContext> context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<SourceMgrDiagnosticHandler> handler;
};

/// The tools' --entry: `entry` if given, else the name of the module's only
/// func.func with a body; an error listing the candidates otherwise.
llvm::Expected<std::string> resolveEntry(ModuleOp module,
                                         llvm::StringRef entry);

} // namespace mlir::qat

#endif // QAT_TOOLS_TOOLSUPPORT_H
