//===- ParseGuard.h - input MLIR 22's parser crashes on ---------*- C++ -*-===//
//
// The upstream MLIR 22 parser crashes instead of failing on a few inputs;
// every place where qat-mlir parses MLIR (the tools, qat-opt,
// qat-translate --npu-binary, the C API and so the Python package) looks for
// them first and reports a clear error instead:
//
// - a dense array of `index` elements, `array<index: 1>` or `array<index>`,
//   also through a type alias (`!t = index` ... `array<!t: 1>`):
//   Parser::parseDenseArrayAttr and DenseArrayAttr::verify accept `index`
//   as an element type and then ask it for its float width (SIGSEGV);
// - MLIR bytecode: this guard and the fuzzing (fuzz/) cover the text
//   parser only, and DenseArrayAttr::getChecked itself crashes on index
//   elements, so a bytecode reader building the attribute above would too;
//   the tools read MLIR text only (qat-opt still writes bytecode).
//
// The scan is lexical, with the token boundaries of MLIR 22's lexer (NUL
// characters are spaces, a comment ends at '\n' or '\r', `1array` is two
// tokens): it skips comments and string literals and looks at every `array`
// keyword, so it also sees dense arrays in attribute aliases and inside
// dialect attributes. It may refuse text that the parser would
// have refused anyway (then with this message instead of the parser's).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_TOOLS_PARSEGUARD_H
#define QAT_TOOLS_PARSEGUARD_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::qat {

/// Where in the text the parser would crash, and why.
struct ParserHazard {
  size_t offset;
  std::string message;
};

/// The first input of `text` that crashes MLIR 22's parser, if any.
std::optional<ParserHazard> findParserHazard(llvm::StringRef text);

/// Emits "error: <hazard>" at its location in the main buffer of
/// `sourceMgr` through `context`'s diagnostic handlers and fails, or
/// succeeds when the buffer holds no hazard.
LogicalResult checkParserHazards(const llvm::SourceMgr &sourceMgr,
                                 MLIRContext *context);

/// parseSourceFile<ModuleOp> after checkParserHazards: a null module (with
/// the error emitted) on a hazard or a parse error.
OwningOpRef<ModuleOp>
parseModuleGuarded(const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                   const ParserConfig &config);
OwningOpRef<ModuleOp> parseModuleGuarded(llvm::SourceMgr &sourceMgr,
                                         const ParserConfig &config);

} // namespace mlir::qat

#endif // QAT_TOOLS_PARSEGUARD_H
