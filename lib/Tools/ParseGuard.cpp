//===- ParseGuard.cpp - input MLIR 22's parser crashes on -----------------===//

#include "qat/Tools/ParseGuard.h"

#include "mlir/Bytecode/BytecodeImplementation.h"
#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"
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

/// Brackets ((, [, { and <, together) nested deeper than this are refused
/// in text: MLIR 22's parser recurses on each (nested attributes, types and
/// regions), and 8,000 nested `[` (16 KB) overflowed the 8 MB stack of
/// qat-opt; 4,000 nested regions too.
constexpr unsigned kMaxTextNesting = 1024;

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
  return findTextHazard(text);
}

std::optional<ParserHazard> qat::findTextHazard(llvm::StringRef text) {
  // Type aliases (`!name = type`): the first token of each one's type.
  // The first `!name =` of a name is its definition (aliases are defined
  // before use and once); later ones are e.g. memref.global's `: !t = init`.
  llvm::StringMap<llvm::StringRef> aliases;
  // Dense arrays whose element type starts with an alias, checked once all
  // aliases are known: (offset of the alias, its name).
  std::vector<std::pair<size_t, llvm::StringRef>> aliasedArrays;

  // Open brackets ((, [, {, <) around the current token.
  unsigned depth = 0;
  Scanner s(text);
  while (true) {
    s.skipTrivia();
    if (s.atEnd())
      break;
    size_t tokOffset = s.position();
    llvm::StringRef tok = s.next();
    // Bracket nesting: `->` and `>=` close nothing.
    if (tok.size() == 1 && llvm::StringRef("([{<").contains(tok[0])) {
      if (++depth > kMaxTextNesting)
        return ParserHazard{tokOffset,
                            "brackets nested deeper than " +
                                std::to_string(kMaxTextNesting) +
                                ": MLIR 22's parser recurses on each (a stack "
                                "overflow at about 8,000)"};
      continue;
    }
    if (tok == "-" && s.peek() == '>') {
      s.next();
      continue;
    }
    if (tok.size() == 1 && llvm::StringRef(")]}>").contains(tok[0])) {
      if (depth > 0 && !(tok == ">" && s.peek() == '='))
        --depth;
      continue;
    }
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
/// Codes of the builtin dialect's attributes and types in MLIR 22's
/// bytecode (mlir/IR/BuiltinDialectBytecode.td).
enum BuiltinAttrCode : uint64_t {
  kArrayAttr = 0,
  kDictionaryAttr = 1,
  kSymbolRefAttr = 5,
  kIntegerAttr = 8,
  kFloatAttr = 9,
  kFusedLoc = 12,
  kFusedLocWithMetadata = 13,
  kDenseArrayAttr = 17,
  kDenseIntOrFPElementsAttr = 18,
  kDenseStringElementsAttr = 19,
  kFileLineColRange = 22,
};
enum BuiltinTypeCode : uint64_t {
  kIntegerType = 0,
  kFunctionType = 2,
  kMemRefType = 10,
  kMemRefTypeWithMemSpace = 11,
  kRankedTensorType = 13,
  kRankedTensorTypeWithEncoding = 14,
  kTupleType = 15,
  kVectorType = 19,
  kVectorTypeWithScalableDims = 20,
};

/// The checks of the builtin dialect's bytecode entries, before the dialect
/// reads them. The dialect reads lists with DialectBytecodeReader::readList,
/// which reserves the count it reads before reading one element; the entry
/// is part of a file of `fileSize` bytes and each element takes at least
/// one, so a larger count is refused. Each check reads what precedes the
/// count and leaves the entry null, which hands the entry to the dialect's
/// own reader from its first byte again; a read that fails here is left to
/// that reader to report.
class BuiltinEntryCheck {
public:
  BuiltinEntryCheck(DialectBytecodeReader &reader, uint64_t fileSize)
      : reader(reader), fileSize(fileSize) {}

  LogicalResult attribute() {
    uint64_t code;
    if (failed(reader.readVarInt(code)))
      return failure();
    switch (code) {
    case kArrayAttr:
      return list("array attribute");
    case kDictionaryAttr:
      return list("dictionary attribute");
    case kFusedLoc:
    case kFusedLocWithMetadata:
      return list("fused location");
    case kSymbolRefAttr:
      return skip(1) ? list("nested symbol reference") : failure();
    case kFileLineColRange:
      // The file name, then a list of lines and columns.
      return skip(1) ? list("location line and column") : failure();
    case kIntegerAttr:
      return value(/*isFloat=*/false);
    case kFloatAttr:
      return value(/*isFloat=*/true);
    case kDenseArrayAttr:
      return denseArray();
    case kDenseIntOrFPElementsAttr:
      return denseElements();
    case kDenseStringElementsAttr:
      return denseStrings();
    default:
      return success();
    }
  }

  LogicalResult type() {
    uint64_t code;
    if (failed(reader.readVarInt(code)))
      return failure();
    switch (code) {
    case kIntegerType: {
      // Width << 2 | signedness: IntegerType keeps 30 bits of the width (a
      // larger one would wrap), its limit is 2^24 - 1.
      uint64_t widthAndSignedness;
      if (failed(reader.readVarInt(widthAndSignedness)))
        return failure();
      if ((widthAndSignedness >> 2) <= IntegerType::kMaxWidth)
        return success();
      return reader.emitError() << "malformed MLIR bytecode: integer width "
                                << (widthAndSignedness >> 2) << " exceeds "
                                << IntegerType::kMaxWidth;
    }
    case kFunctionType: {
      // Inputs, then results: two lists of type indices.
      uint64_t inputs;
      if (failed(reader.readVarInt(inputs)))
        return failure();
      if (inputs > fileSize)
        return tooMany("function input", inputs);
      return skip(inputs) ? list("function result") : failure();
    }
    case kTupleType:
      return list("tuple element");
    case kMemRefType:
    case kRankedTensorType:
    case kVectorType:
      return list("shape dimension");
    case kMemRefTypeWithMemSpace:
    case kRankedTensorTypeWithEncoding:
      return skip(1) ? list("shape dimension") : failure();
    case kVectorTypeWithScalableDims: {
      // Scalable flags (one byte each), then the shape.
      uint64_t flags;
      if (failed(reader.readVarInt(flags)))
        return failure();
      if (flags > fileSize)
        return tooMany("scalable dimension flag", flags);
      for (uint64_t i = 0; i < flags; ++i) {
        bool flag;
        if (failed(reader.readBool(flag)))
          return failure();
      }
      return list("shape dimension");
    }
    default:
      return success();
    }
  }

private:
  LogicalResult tooMany(const char *what, uint64_t count) {
    return reader.emitError()
           << "malformed MLIR bytecode: " << what << " count " << count
           << " exceeds the size of the file (" << fileSize
           << " bytes; MLIR 22's bytecode reader would allocate for it)";
  }

  /// A list count next: refused above the size of the file.
  LogicalResult list(const char *what) {
    uint64_t count;
    if (failed(reader.readVarInt(count)))
      return failure();
    if (count <= fileSize)
      return success();
    return tooMany(what, count);
  }

  /// Skips `n` variable-width integers (attribute or type indices); false
  /// when the entry ends first.
  bool skip(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t x;
      if (failed(reader.readVarInt(x)))
        return false;
    }
    return true;
  }

  /// The value of an integer or float attribute: read here, since MLIR 22's
  /// builtin dialect builds the attribute even when the value's read failed
  /// (from an unset FailureOr: SIGSEGV in FloatAttr::get, found by
  /// qat-fuzz-bytecode). Wider than 64 bits it is a count of 64-bit words,
  /// then the words: the reader allocates for the count.
  LogicalResult value(bool isFloat) {
    Type type;
    if (failed(reader.readType(type)))
      return failure();
    unsigned width = 0;
    if (isFloat) {
      auto real = dyn_cast<FloatType>(type);
      if (!real)
        return success(); // the dialect's error
      width = APFloat::getSizeInBits(real.getFloatSemantics());
    } else if (auto integer = dyn_cast<IntegerType>(type)) {
      width = integer.getWidth();
    } else if (isa<IndexType>(type)) {
      width = 64;
    } else {
      return success(); // the dialect's error
    }
    if (width <= 64)
      return success(succeeded(reader.readAPIntWithKnownWidth(width)));
    uint64_t words;
    if (failed(reader.readVarInt(words)))
      return failure();
    if (words > fileSize)
      return tooMany("integer word", words);
    for (uint64_t i = 0; i < words; ++i) {
      int64_t word;
      if (failed(reader.readSignedVarInt(word)))
        return failure();
    }
    return success();
  }

  LogicalResult denseArray() {
    Type elementType;
    if (failed(reader.readType(elementType)))
      return failure();
    if (!isa<IndexType>(elementType))
      return success();
    return reader.emitError()
           << "dense array of 'index' elements: MLIR 22's bytecode reader "
              "crashes on it; use i64 elements";
  }

  /// The number of elements of `type`, or none when it is not a shaped
  /// type of static shape or the product overflows.
  std::optional<uint64_t> staticElements(Type type) {
    auto shaped = dyn_cast<ShapedType>(type);
    if (!shaped || !shaped.hasStaticShape())
      return std::nullopt;
    uint64_t n = 1;
    for (int64_t d : shaped.getShape())
      if (d < 0 || __builtin_mul_overflow(n, uint64_t(d), &n))
        return std::nullopt;
    return n;
  }

  /// The builtin dialect builds a dense elements attribute from its raw data
  /// without checking it against the type (DenseElementsAttr::
  /// getFromRawBuffer only asserts): a tensor<1000xf32> of 8 bytes reads
  /// past them, an element type that is not an integer or float crashes.
  LogicalResult denseElements() {
    Type type;
    ArrayRef<char> data;
    if (failed(reader.readType(type)) || failed(reader.readBlob(data)))
      return failure();
    std::optional<uint64_t> elements = staticElements(type);
    Type elementType =
        isa<ShapedType>(type) ? cast<ShapedType>(type).getElementType() : type;
    if (auto complex = dyn_cast<ComplexType>(elementType))
      elementType = complex.getElementType();
    bool supported = isa<IntegerType, IndexType, FloatType>(elementType);
    // A splat holds one element, whatever the number of elements (which may
    // not fit 64 bits: tensor<4611686018427387904x4xf32> is valid).
    if (supported && isa<ShapedType>(type) &&
        cast<ShapedType>(type).hasStaticShape()) {
      unsigned width = isa<IndexType>(elementType)
                           ? 64
                           : elementType.getIntOrFloatBitWidth();
      if (isa<ComplexType>(cast<ShapedType>(type).getElementType()))
        width *= 2;
      if (data.size() == (width + 7) / 8)
        return success();
    }
    bool isSplat;
    if (elements && supported &&
        DenseElementsAttr::isValidRawBuffer(cast<ShapedType>(type), data,
                                            isSplat))
      return success();
    return reader.emitError()
           << "malformed MLIR bytecode: dense elements of " << data.size()
           << " bytes do not fit their type " << type
           << " (MLIR 22's bytecode reader would build them unchecked)";
  }

  /// A dense string elements attribute that is not a splat holds one string
  /// per element of its type: the reader allocates for all of them.
  LogicalResult denseStrings() {
    Type type;
    uint64_t isSplat;
    if (failed(reader.readType(type)) || failed(reader.readVarInt(isSplat)))
      return failure();
    if (isSplat)
      return success();
    std::optional<uint64_t> elements = staticElements(type);
    if (elements && *elements <= fileSize)
      return success();
    return reader.emitError()
           << "malformed MLIR bytecode: dense string elements of type " << type
           << " need a static shape of at most one element per byte of the "
              "file ("
           << fileSize
           << " bytes; MLIR 22's bytecode reader would allocate for them)";
  }

  DialectBytecodeReader &reader;
  uint64_t fileSize;
};
} // namespace

namespace {
/// The quant dialect's types in MLIR 22's bytecode
/// (mlir/Dialect/Quant/IR/QuantDialectBytecode.td): the dialect builds them
/// with `get`, whose invariants are checked only in an assertion build, so
/// a storage type that is not an integer, a scale of 0 or of NaN, storage
/// bounds outside the storage type or as many scales as zero points were
/// accepted from bytecode (the text parser refuses each). This reads the
/// same encoding, builds the type with `getChecked` (the text parser's
/// checks) and hands it to the reader, or fails the entry with the type's
/// own error. The lists are read element by element (no reservation).
class QuantTypeCheck {
public:
  explicit QuantTypeCheck(DialectBytecodeReader &reader) : reader(reader) {}

  LogicalResult type(Type &result) {
    uint64_t code, flags = 0, dimension;
    Type storage, expressed;
    int64_t min = 0, max = 0, zeroPoint;
    double scale, low, high;
    auto emitError = [&] {
      return reader.emitError() << "malformed MLIR bytecode: ";
    };
    if (failed(reader.readVarInt(code)))
      return failure();
    // Every kind but the calibrated one starts with flags and storage type.
    if (code != 3 &&
        (failed(reader.readVarInt(flags)) || failed(reader.readType(storage))))
      return failure();
    if (flags > UINT32_MAX)
      return emitError() << "quant type flags " << flags;
    switch (code) {
    case 1: // AnyQuantizedType without, 2 with an expressed type.
    case 2:
      if ((code == 2 && failed(reader.readType(expressed))) ||
          !bounds(min, max))
        return failure();
      result = quant::AnyQuantizedType::getChecked(emitError, flags, storage,
                                                   expressed, min, max);
      break;
    case 3: // CalibratedQuantizedType
      if (failed(reader.readType(expressed)) || !real(low) || !real(high))
        return failure();
      result = quant::CalibratedQuantizedType::getChecked(emitError, expressed,
                                                          low, high);
      break;
    case 4: // UniformQuantizedType
      if (failed(reader.readType(expressed)) || !real(scale) ||
          failed(reader.readSignedVarInt(zeroPoint)) || !bounds(min, max))
        return failure();
      result = quant::UniformQuantizedType::getChecked(
          emitError, flags, storage, expressed, scale, zeroPoint, min, max);
      break;
    case 5: { // UniformQuantizedPerAxisType
      SmallVector<double> scales;
      SmallVector<int64_t> zeroPoints;
      if (failed(reader.readType(expressed)) ||
          failed(reader.readVarInt(dimension)) || !bounds(min, max) ||
          !list(scales, [&](double &x) { return real(x); }) ||
          !list(zeroPoints, [&](int64_t &x) {
            return succeeded(reader.readSignedVarInt(x));
          }))
        return failure();
      if (dimension > INT32_MAX)
        return emitError() << "quantized dimension " << dimension;
      result = quant::UniformQuantizedPerAxisType::getChecked(
          emitError, flags, storage, expressed, scales, zeroPoints,
          static_cast<int32_t>(dimension), min, max);
      break;
    }
    case 6: { // UniformQuantizedSubChannelType
      SmallVector<int64_t> dimensions, blockSizes;
      Attribute scales, zeroPoints;
      auto signedVarInt = [&](int64_t &x) {
        return succeeded(reader.readSignedVarInt(x));
      };
      if (failed(reader.readType(expressed)) || !bounds(min, max) ||
          !list(dimensions, signedVarInt) || !list(blockSizes, signedVarInt) ||
          failed(reader.readAttribute(scales)) ||
          failed(reader.readAttribute(zeroPoints)))
        return failure();
      SmallVector<int32_t> dimensions32;
      for (int64_t d : dimensions) {
        if (d < INT32_MIN || d > INT32_MAX)
          return emitError() << "quantized dimension " << d;
        dimensions32.push_back(static_cast<int32_t>(d));
      }
      auto denseScales = dyn_cast<DenseElementsAttr>(scales);
      auto denseZeroPoints = dyn_cast<DenseElementsAttr>(zeroPoints);
      if (!denseScales || !denseZeroPoints)
        return emitError()
               << "sub-channel scales and zero points must be dense elements";
      result = quant::UniformQuantizedSubChannelType::getChecked(
          emitError, flags, storage, expressed, denseScales, denseZeroPoints,
          dimensions32, blockSizes, min, max);
      break;
    }
    default:
      return emitError() << "unknown quant type code " << code;
    }
    return success(result != nullptr);
  }

private:
  bool bounds(int64_t &min, int64_t &max) {
    return succeeded(reader.readSignedVarInt(min)) &&
           succeeded(reader.readSignedVarInt(max));
  }
  bool real(double &value) {
    FailureOr<APFloat> x =
        reader.readAPFloatWithKnownSemantics(APFloat::IEEEdouble());
    if (failed(x))
      return false;
    value = x->convertToDouble();
    return true;
  }
  /// A count, then that many elements, each read by `element` (at least one
  /// byte each: a count larger than the entry fails on the way).
  template <typename T, typename Fn>
  bool list(SmallVectorImpl<T> &out, Fn element) {
    uint64_t count;
    if (failed(reader.readVarInt(count)))
      return false;
    for (uint64_t i = 0; i < count; ++i) {
      T x;
      if (!element(x))
        return false;
      out.push_back(x);
    }
    return true;
  }

  DialectBytecodeReader &reader;
};
} // namespace

namespace {
/// The llvm dialect's debug-info and loop attributes in MLIR 22's bytecode
/// (mlir/Dialect/LLVMIR/LLVMDialectBytecode.td) end in optional lists (a
/// bool, then readList's count): a count of 2^40 aborted qat-opt
/// ("SmallVector unable to grow", found by hand). The fields before the
/// lists are one varint each (v: integers, strings, attributes, optional
/// attributes) or one byte (b: bools); L is an optional list of one-varint
/// elements, whose count must not exceed the size of the file.
class LLVMEntryCheck {
public:
  LLVMEntryCheck(DialectBytecodeReader &reader, uint64_t fileSize)
      : reader(reader), fileSize(fileSize) {}

  LogicalResult attribute() {
    uint64_t code;
    if (failed(reader.readVarInt(code)))
      return failure();
    switch (code) {
    case 2: // DICompositeTypeAttr
      return fields("vbvvvvvvvvvvvvvL");
    case 4: // DIExpressionElemAttr
      return fields("vL");
    case 5: // DIExpressionAttr
      return fields("L");
    case 9: // DIImportedEntityAttr
      return fields("vvvvvvL");
    case 15: // DISubprogramAttr
      return fields("vbvvvvvvvvvvLL");
    case 17: // DISubroutineTypeAttr
      return fields("vL");
    case 18: // LoopAnnotationAttr
      return fields("vvvvvvvvvvvvvvL");
    default:
      return success();
    }
  }

private:
  /// Reads `schema`; a read that fails is left to the dialect's reader.
  LogicalResult fields(StringRef schema) {
    for (char field : schema) {
      uint64_t value;
      bool flag;
      if (field == 'v' && failed(reader.readVarInt(value)))
        return success();
      if (field == 'b' && failed(reader.readBool(flag)))
        return success();
      if (field != 'L')
        continue;
      if (failed(reader.readBool(flag)))
        return success();
      if (!flag)
        continue;
      uint64_t count;
      if (failed(reader.readVarInt(count)))
        return success();
      if (count > fileSize)
        return reader.emitError()
               << "malformed MLIR bytecode: llvm attribute list count " << count
               << " exceeds the size of the file (" << fileSize
               << " bytes; MLIR 22's bytecode reader would allocate for it)";
      for (uint64_t i = 0; i < count; ++i)
        if (failed(reader.readVarInt(value)))
          return success();
    }
    return success();
  }

  DialectBytecodeReader &reader;
  uint64_t fileSize;
};
} // namespace

/// The builtin dialect builds its attributes and types from bytecode with
/// `get`, whose invariants MLIR checks only in an assertion build: a
/// `tensor<-5xf32>`, a sparse constant whose indices lie outside its shape
/// were accepted (the text parser refuses both). After the checks above,
/// a second callback reads the entry with the builtin dialect's own reader
/// and checks the result with the invariants the text parser checks
/// (`verifyInvariants`), failing the entry with their message.
static LogicalResult verifyBuiltin(Type type,
                                   function_ref<InFlightDiagnostic()> error) {
  if (auto t = dyn_cast<IntegerType>(type))
    return IntegerType::verifyInvariants(error, t.getWidth(),
                                         t.getSignedness());
  if (auto t = dyn_cast<RankedTensorType>(type))
    return RankedTensorType::verifyInvariants(
        error, t.getShape(), t.getElementType(), t.getEncoding());
  if (auto t = dyn_cast<UnrankedTensorType>(type))
    return UnrankedTensorType::verifyInvariants(error, t.getElementType());
  if (auto t = dyn_cast<VectorType>(type))
    return VectorType::verifyInvariants(error, t.getShape(), t.getElementType(),
                                        t.getScalableDims());
  if (auto t = dyn_cast<MemRefType>(type))
    return MemRefType::verifyInvariants(error, t.getShape(), t.getElementType(),
                                        t.getLayout(), t.getMemorySpace());
  if (auto t = dyn_cast<UnrankedMemRefType>(type))
    return UnrankedMemRefType::verifyInvariants(error, t.getElementType(),
                                                t.getMemorySpace());
  if (auto t = dyn_cast<ComplexType>(type))
    return ComplexType::verifyInvariants(error, t.getElementType());
  return success();
}

static LogicalResult verifyBuiltin(Attribute attr,
                                   function_ref<InFlightDiagnostic()> error) {
  if (auto a = dyn_cast<IntegerAttr>(attr))
    return IntegerAttr::verifyInvariants(error, a.getType(), a.getValue());
  if (auto a = dyn_cast<FloatAttr>(attr))
    return FloatAttr::verifyInvariants(error, a.getType(), a.getValue());
  if (auto a = dyn_cast<SparseElementsAttr>(attr))
    return SparseElementsAttr::verifyInvariants(error, a.getType(),
                                                a.getIndices(), a.getValues());
  if (auto a = dyn_cast<DenseArrayAttr>(attr))
    return DenseArrayAttr::verifyInvariants(error, a.getElementType(),
                                            a.getSize(), a.getRawData());
  return success();
}

/// Reads a builtin entry with the builtin dialect's reader and verifies it
/// (see verifyBuiltin); a failed read fails the entry.
template <typename T>
static LogicalResult readVerifiedBuiltin(DialectBytecodeReader &reader,
                                         T &result) {
  auto *dialect = reader.getContext()->getLoadedDialect<BuiltinDialect>();
  const auto *interface =
      dialect ? dialect->getRegisteredInterface<BytecodeDialectInterface>()
              : nullptr;
  if (!interface)
    return success(); // the reader's own path
  T entry;
  if constexpr (std::is_same_v<T, Type>)
    entry = interface->readType(reader);
  else
    entry = interface->readAttribute(reader);
  if (!entry)
    return failure();
  auto error = [&] {
    return reader.emitError() << "malformed MLIR bytecode: ";
  };
  if (failed(verifyBuiltin(entry, error)))
    return failure();
  result = entry;
  return success();
}

/// How many times a parse may read attribute and type entries: each entry
/// is read once when it is valid (the reader caches it), but MLIR 22's
/// reader reads a failing entry again at each reference, and resolves
/// references within entries recursively: a 212-byte file of failing types
/// referring to each other took minutes (found by qat-fuzz-bytecode). Every
/// entry with a dialect encoding goes through the callbacks below, which
/// count the reads and fail past this budget.
static uint64_t entryReadBudget(uint64_t fileSize) {
  return 16 * fileSize + 1024;
}

static void attachGuard(BytecodeReaderConfig &config, uint64_t fileSize) {
  auto reads = std::make_shared<uint64_t>(0);
  auto overBudget = [reads, fileSize](DialectBytecodeReader &reader) {
    if (++*reads <= entryReadBudget(fileSize))
      return false;
    if (*reads == entryReadBudget(fileSize) + 1)
      reader.emitError()
          << "malformed MLIR bytecode: attribute and type entries read more "
             "than "
          << entryReadBudget(fileSize) << " times for a file of " << fileSize
          << " bytes (MLIR 22's bytecode reader reads an entry that fails "
             "again at each reference: exponential time)";
    return true;
  };
  config.attachAttributeCallback(
      [fileSize, overBudget](DialectBytecodeReader &reader, StringRef dialect,
                             Attribute &) -> LogicalResult {
        if (overBudget(reader))
          return failure();
        if (dialect == "llvm")
          return LLVMEntryCheck(reader, fileSize).attribute();
        if (dialect != "builtin")
          return success();
        return BuiltinEntryCheck(reader, fileSize).attribute();
      });
  // Tried after the callbacks above left the entry to the reader (the
  // reader then hands it here from its first byte).
  config.attachAttributeCallback([](DialectBytecodeReader &reader,
                                    StringRef dialect,
                                    Attribute &result) -> LogicalResult {
    if (dialect != "builtin")
      return success();
    return readVerifiedBuiltin(reader, result);
  });
  config.attachTypeCallback(
      [fileSize, overBudget](DialectBytecodeReader &reader, StringRef dialect,
                             Type &result) -> LogicalResult {
        if (overBudget(reader))
          return failure();
        if (dialect == "quant")
          return QuantTypeCheck(reader).type(result);
        if (dialect != "builtin")
          return success();
        return BuiltinEntryCheck(reader, fileSize).type();
      });
  config.attachTypeCallback([](DialectBytecodeReader &reader, StringRef dialect,
                               Type &result) -> LogicalResult {
    if (dialect != "builtin")
      return success();
    return readVerifiedBuiltin(reader, result);
  });
}

void qat::guardBytecodeReader(ParserConfig &config, uint64_t fileSize) {
  attachGuard(config.getBytecodeReaderConfig(), fileSize);
}

/// `config` with its bytecode reader guarded. ParserConfig cannot be
/// copied, but its bytecode reader configuration is mutable through a const
/// reference (ParserConfig::getBytecodeReaderConfig), and every caller here
/// passes a configuration made for this one parse.
static const ParserConfig &guardedConfig(const ParserConfig &config,
                                         const llvm::SourceMgr &sourceMgr) {
  attachGuard(
      config.getBytecodeReaderConfig(),
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBufferSize());
  return config;
}

/// Fails (naming the op) when an op read from bytecode left properties
/// with a default value unset: MLIR 22's bytecode reader does not fill in
/// defaults as the text parser does, and verifiers read them (SIGSEGV in
/// qat.choose_qparams's verifier, found by qat-fuzz-bytecode). The defaults
/// are filled in on a copy to compare.
static LogicalResult checkUnsetDefaults(Operation *root) {
  WalkResult result = root->walk([](Operation *op) {
    if (!op->isRegistered() || !op->getPropertiesStorageSize())
      return WalkResult::advance();
    Attribute before = op->getPropertiesAsAttribute();
    op->getName().populateDefaultProperties(op->getPropertiesStorage());
    if (op->getPropertiesAsAttribute() == before)
      return WalkResult::advance();
    op->emitError() << "malformed MLIR bytecode: '" << op->getName()
                    << "' lacks properties that have a default value (MLIR "
                       "22's bytecode reader leaves them unset)";
    return WalkResult::interrupt();
  });
  return failure(result.wasInterrupted());
}

/// Bytecode: read without verification, refuse unset defaults, then verify
/// as `config` asks. Text: parsed as `config` says.
static OwningOpRef<ModuleOp>
parseChecked(const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
             const ParserConfig &config) {
  const llvm::MemoryBuffer *buffer =
      sourceMgr->getMemoryBuffer(sourceMgr->getMainFileID());
  if (!isBytecode(*buffer))
    return parseSourceFile<ModuleOp>(sourceMgr,
                                     guardedConfig(config, *sourceMgr));
  ParserConfig unverified(config.getContext(), /*verifyAfterParse=*/false);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(
      sourceMgr, guardedConfig(unverified, *sourceMgr));
  if (!module || failed(checkUnsetDefaults(*module)) ||
      (config.shouldVerifyAfterParse() && failed(verify(*module))))
    return nullptr;
  return module;
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
  guardBytecodeReader(config, buffer.getBufferSize());
  Block block;
  if (failed(readBytecodeFile(buffer, &block, config)))
    return failure();
  for (Operation &op : block)
    if (failed(checkUnsetDefaults(&op)))
      return failure();
  return success();
}

OwningOpRef<ModuleOp>
qat::parseModuleGuarded(const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
                        const ParserConfig &config) {
  if (failed(checkParserHazards(*sourceMgr, config.getContext())))
    return nullptr;
  return parseChecked(sourceMgr, config);
}

OwningOpRef<ModuleOp> qat::parseModuleGuarded(llvm::SourceMgr &sourceMgr,
                                              const ParserConfig &config) {
  if (failed(checkParserHazards(sourceMgr, config.getContext())))
    return nullptr;
  // parseSourceFile with a SourceMgr it does not own: the bytecode reader
  // copies what it keeps (no buffer owner).
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  if (!isBytecode(*buffer))
    return parseSourceFile<ModuleOp>(sourceMgr,
                                     guardedConfig(config, sourceMgr));
  ParserConfig unverified(config.getContext(), /*verifyAfterParse=*/false);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(
      sourceMgr, guardedConfig(unverified, sourceMgr));
  if (!module || failed(checkUnsetDefaults(*module)) ||
      (config.shouldVerifyAfterParse() && failed(verify(*module))))
    return nullptr;
  return module;
}
