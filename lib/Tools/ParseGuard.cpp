//===- ParseGuard.cpp - input MLIR 22's parser crashes on -----------------===//

#include "qat/Tools/ParseGuard.h"

#include "mlir/Bytecode/BytecodeImplementation.h"
#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::qat;

namespace {

bool isBareIdStart(char c) { return llvm::isAlpha(c) || c == '_'; }
bool isBareIdChar(char c) {
  return llvm::isAlnum(c) || c == '_' || c == '$' || c == '.';
}
// Punctuation of a suffix-id after a sigil (%x-1, !t, #a, ^bb0).
bool isIdPunct(char c) { return c == '$' || c == '.' || c == '_' || c == '-'; }
bool isSigil(char c) { return c == '%' || c == '#' || c == '!' || c == '^'; }

/// A lexer over MLIR text that knows just enough to skip comments and
/// strings and to tell words, sigil identifiers, numbers and punctuation
/// apart. It follows the token boundaries of MLIR 22's lexer
/// (mlir/lib/AsmParser/Lexer.cpp), so that no text the parser reads as
/// tokens is skipped here: NUL characters are spaces, a comment ends at
/// '\n' or '\r', a number stops where the lexer's does (`1array` is `1`
/// then `array`). Where the lexer reports an error (a stray character, an
/// unknown escape) the parser stops there; the scan goes on, which at worst
/// refuses text the parser would have refused anyway.
class Scanner {
public:
  explicit Scanner(llvm::StringRef text) : text(text) {}

  /// Skips spaces (and NUL characters, which MLIR's lexer skips too) and
  /// `//` comments (up to '\n' or '\r').
  void skipTrivia() {
    while (pos < text.size()) {
      char c = text[pos];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
          c == '\v' || c == '\0') {
        ++pos;
      } else if (c == '/' && pos + 1 < text.size() && text[pos + 1] == '/') {
        size_t eol = text.find_first_of("\n\r", pos);
        pos = eol == llvm::StringRef::npos ? text.size() : eol + 1;
      } else {
        return;
      }
    }
  }

  bool atEnd() const { return pos >= text.size(); }
  size_t position() const { return pos; }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }

  /// The next token's text: a bare identifier or keyword, a sigil with its
  /// identifier (`!t`, `#map`, `@f`), a string literal (with its quotes), a
  /// number, or one punctuation character. Call after skipTrivia.
  llvm::StringRef next() {
    size_t start = pos;
    char c = text[pos++];
    if (c == '"') {
      skipString();
    } else if (isBareIdStart(c)) {
      skipWhile(isBareIdChar);
    } else if (c == '@') {
      if (peek() == '"') {
        ++pos;
        skipString();
      } else if (isBareIdStart(peek())) {
        skipWhile(isBareIdChar);
      }
    } else if (isSigil(c)) {
      if (llvm::isDigit(peek()))
        skipWhile(llvm::isDigit);
      else if (llvm::isAlpha(peek()) || isIdPunct(peek()))
        skipWhile([](char d) { return llvm::isAlnum(d) || isIdPunct(d); });
    } else if (llvm::isDigit(c)) {
      skipNumber(c);
    }
    return text.slice(start, pos);
  }

private:
  template <typename Pred> void skipWhile(Pred pred) {
    while (pos < text.size() && pred(text[pos]))
      ++pos;
  }

  /// After the opening quote: up to and with the closing one. A backslash
  /// escapes the next character (MLIR's escapes are \" \\ \n \t and two
  /// hex digits; any other is a lexer error); '\n', '\v' and '\f' end it
  /// (a lexer error).
  void skipString() {
    while (pos < text.size()) {
      char c = text[pos++];
      if (c == '"' || c == '\n' || c == '\v' || c == '\f')
        return;
      if (c == '\\' && pos < text.size())
        ++pos;
    }
  }

  /// After the first digit `first`: `0x` hex digits, or digits with an
  /// optional fraction and exponent, as MLIR's lexNumber.
  void skipNumber(char first) {
    if (first == '0' && peek() == 'x' && pos + 1 < text.size() &&
        llvm::isHexDigit(text[pos + 1])) {
      pos += 2;
      skipWhile(llvm::isHexDigit);
      return;
    }
    skipWhile(llvm::isDigit);
    if (peek() != '.')
      return;
    ++pos;
    skipWhile(llvm::isDigit);
    if (peek() == 'e' || peek() == 'E') {
      auto digitAt = [&](size_t i) {
        return i < text.size() && llvm::isDigit(text[i]);
      };
      if (digitAt(pos + 1)) {
        pos += 1;
        skipWhile(llvm::isDigit);
      } else if (pos + 1 < text.size() &&
                 (text[pos + 1] == '-' || text[pos + 1] == '+') &&
                 digitAt(pos + 2)) {
        pos += 2;
        skipWhile(llvm::isDigit);
      }
    }
  }

  llvm::StringRef text;
  size_t pos = 0;
};

/// The token after `text[pos]`'s trivia, without consuming it.
llvm::StringRef peekToken(Scanner s) {
  s.skipTrivia();
  return s.atEnd() ? llvm::StringRef() : s.next();
}

} // namespace

std::optional<ParserHazard> qat::findParserHazard(llvm::StringRef text) {
  // Bytecode: its structure here, its dense arrays while it is read
  // (guardBytecodeReader).
  if (isBytecode(llvm::MemoryBufferRef(text, "")))
    return findBytecodeHazard(text);

  // Type aliases (`!name = type`): the first token of each one's type.
  // The first `!name =` of a name is its definition (aliases are defined
  // before use and once); later ones are e.g. memref.global's `: !t = init`.
  llvm::StringMap<llvm::StringRef> aliases;
  // Dense arrays whose element type starts with an alias, checked once all
  // aliases are known: (offset of the alias, its name).
  std::vector<std::pair<size_t, llvm::StringRef>> aliasedArrays;

  Scanner s(text);
  while (true) {
    s.skipTrivia();
    if (s.atEnd())
      break;
    llvm::StringRef tok = s.next();
    if (tok.size() > 1 && tok[0] == '!' && !tok.contains('.')) {
      Scanner after = s;
      after.skipTrivia();
      if (!after.atEnd() && after.peek() == '=') {
        after.next();
        llvm::StringRef type = peekToken(after);
        aliases.try_emplace(tok.drop_front(), type);
      }
      continue;
    }
    if (tok != "array")
      continue;
    // The builtin dense array `array<type` (bare keyword, then '<').
    Scanner after = s;
    after.skipTrivia();
    if (after.atEnd() || after.peek() != '<')
      continue;
    after.next();
    after.skipTrivia();
    if (after.atEnd())
      continue;
    size_t typeOffset = after.position();
    llvm::StringRef type = after.next();
    if (type == "index")
      return ParserHazard{typeOffset,
                          "dense array of 'index' elements: MLIR 22's parser "
                          "crashes on it; use i64 elements"};
    if (type.size() > 1 && type[0] == '!' && !type.contains('.') &&
        after.peek() != '<')
      aliasedArrays.emplace_back(typeOffset, type.drop_front());
  }

  for (auto [offset, name] : aliasedArrays) {
    // Follow the alias chain (bounded: a cycle is the parser's error).
    llvm::StringRef type = name;
    bool isAlias = true;
    for (int step = 0; step < 64 && isAlias; ++step) {
      auto it = aliases.find(type);
      if (it == aliases.end())
        break;
      type = it->second;
      isAlias = type.size() > 1 && type[0] == '!' && !type.contains('.');
      if (isAlias)
        type = type.drop_front();
    }
    if (!isAlias && type == "index")
      return ParserHazard{offset, "dense array of 'index' elements (through "
                                  "the type alias '!" +
                                      name.str() +
                                      "'): MLIR 22's parser crashes on it; "
                                      "use i64 elements"};
  }
  return std::nullopt;
}

LogicalResult qat::checkParserHazards(const llvm::SourceMgr &sourceMgr,
                                      MLIRContext *context) {
  unsigned id = sourceMgr.getMainFileID();
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(id);
  std::optional<ParserHazard> hazard = findParserHazard(buffer->getBuffer());
  if (!hazard)
    return success();
  if (isBytecode(*buffer)) {
    // Lines mean nothing in bytecode (the message gives the byte offset);
    // line 0 as MLIR's bytecode reader reports.
    emitError(FileLineColLoc::get(context, buffer->getBufferIdentifier(), 0, 0))
        << hazard->message;
    return failure();
  }
  llvm::SMLoc loc =
      llvm::SMLoc::getFromPointer(buffer->getBufferStart() + hazard->offset);
  auto [line, column] = sourceMgr.getLineAndColumn(loc, id);
  emitError(
      FileLineColLoc::get(context, buffer->getBufferIdentifier(), line, column))
      << hazard->message;
  return failure();
}

namespace {
/// The code of DenseArrayAttr among the builtin dialect's attributes in
/// MLIR 22's bytecode (mlir/IR/BuiltinDialectBytecode.td: ArrayAttr is 0,
/// DenseResourceElementsAttr 16, DenseArrayAttr 17).
constexpr uint64_t kBytecodeDenseArrayAttr = 17;
} // namespace

/// Before the builtin dialect reads an attribute: fails on a dense array
/// of index elements; otherwise leaves `entry` null, which hands the
/// attribute to the dialect's own reader, from its first byte again.
static LogicalResult checkDenseArray(DialectBytecodeReader &reader,
                                     StringRef dialect, Attribute &) {
  uint64_t code;
  Type elementType;
  if (dialect != "builtin" || failed(reader.readVarInt(code)) ||
      code != kBytecodeDenseArrayAttr || failed(reader.readType(elementType)) ||
      !isa<IndexType>(elementType))
    return success();
  return reader.emitError()
         << "dense array of 'index' elements: MLIR 22's bytecode reader "
            "crashes on it; use i64 elements";
}

static void attachGuard(BytecodeReaderConfig &config) {
  config.attachAttributeCallback([](DialectBytecodeReader &reader,
                                    StringRef dialect,
                                    Attribute &entry) -> LogicalResult {
    return checkDenseArray(reader, dialect, entry);
  });
}

void qat::guardBytecodeReader(ParserConfig &config) {
  attachGuard(config.getBytecodeReaderConfig());
}

/// `config` with its bytecode reader guarded. ParserConfig cannot be
/// copied, but its bytecode reader configuration is mutable through a const
/// reference (ParserConfig::getBytecodeReaderConfig), and every caller here
/// passes a configuration made for this one parse.
static const ParserConfig &guardedConfig(const ParserConfig &config) {
  attachGuard(config.getBytecodeReaderConfig());
  return config;
}

LogicalResult qat::checkBytecodeHazards(llvm::MemoryBufferRef buffer,
                                        const DialectRegistry &registry) {
  MLIRContext context(registry);
  if (std::optional<ParserHazard> hazard =
          findBytecodeHazard(buffer.getBuffer())) {
    emitError(FileLineColLoc::get(&context, buffer.getBufferIdentifier(), 0, 0))
        << hazard->message;
    return failure();
  }
  // The diagnostics of this context go to stderr, as the driver's would.
  ParserConfig config(&context, /*verifyAfterParse=*/false);
  guardBytecodeReader(config);
  Block block;
  return readBytecodeFile(buffer, &block, config);
}

OwningOpRef<ModuleOp>
qat::parseModuleGuarded(const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                        const ParserConfig &config) {
  if (failed(checkParserHazards(*sourceMgr, config.getContext())))
    return nullptr;
  return parseSourceFile<ModuleOp>(sourceMgr, guardedConfig(config));
}

OwningOpRef<ModuleOp> qat::parseModuleGuarded(llvm::SourceMgr &sourceMgr,
                                              const ParserConfig &config) {
  if (failed(checkParserHazards(sourceMgr, config.getContext())))
    return nullptr;
  return parseSourceFile<ModuleOp>(sourceMgr, guardedConfig(config));
}
