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
// - the same dense array in MLIR bytecode: DenseArrayAttr::getChecked
//   crashes on index elements there too. The reader is given a callback
//   (guardBytecodeReader) that reads each builtin dense array's element
//   type before the builtin dialect builds the attribute and fails with
//   this message on `index`;
// - MLIR bytecode whose counts (values and blocks of a region, results,
//   operands, successors and regions of an op, block arguments, strings,
//   dialects, op names, attributes, types, properties) exceed what the rest
//   of their section can encode: the reader allocates for them before
//   reading one element (7 GB for a 441-byte file, or an abort).
//   findBytecodeHazard walks the structure of the file first
//   (lib/Tools/BytecodeGuard.cpp; fuzz/bytecode_fuzzer.cpp), and scans the
//   attributes and types it stores as text as the text below;
// - brackets nested deeper than 1024 (the parser recurses on each: a stack
//   overflow at about 8,000 nested `[`, or 4,000 nested regions).
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

/// The first input of `text` that crashes MLIR 22's parser, if any. MLIR
/// bytecode (mlir::isBytecode) goes to findBytecodeHazard.
std::optional<ParserHazard> findParserHazard(llvm::StringRef text);

/// findParserHazard of MLIR text (never read as bytecode): also the text
/// of attribute and type entries that bytecode stores as text.
std::optional<ParserHazard> findTextHazard(llvm::StringRef text);

/// The first count of the MLIR bytecode `bytes` that MLIR 22's bytecode
/// reader would allocate for although the rest of its section cannot hold
/// that many elements, a region declaring more values than it defines,
/// regions nested deeper than 256, or structure the walk cannot follow
/// (which the reader refuses too); the offset is a byte offset. Linear in
/// the size, no recursion. Dense arrays of index elements are refused while
/// the reader reads them (guardBytecodeReader).
std::optional<ParserHazard> findBytecodeHazard(llvm::StringRef bytes);

/// Makes the bytecode reader of `config` (for a file of `fileSize` bytes)
/// check the builtin dialect's attributes and types before the dialect reads
/// them, with an error instead of a crash: a dense array of index elements,
/// a list count above the size of the file (arrays, dictionaries, fused
/// locations, symbol references, the words of an integer wider than 64
/// bits, function and tuple types, shapes), dense elements whose data does
/// not fit their type, dense strings of more elements than the file has
/// bytes; and the quant dialect's types, built with getChecked (the text
/// parser's checks) where the dialect builds them unchecked.
void guardBytecodeReader(ParserConfig &config, uint64_t fileSize);

/// Reads the bytecode `buffer` in a throwaway context of `registry`'s
/// dialects and fails (with the error emitted through `handlerContext`'s
/// diagnostics) on a hazard or a parse error: for drivers that hand the
/// buffer to a parser they cannot configure (MlirOptMain).
LogicalResult checkBytecodeHazards(llvm::MemoryBufferRef buffer,
                                   const DialectRegistry &registry);

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
