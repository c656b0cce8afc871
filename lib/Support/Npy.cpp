//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "qat/Support/Npy.h"
#include "qat/Support/Error.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <fstream>

using namespace mlir::qat;
using llvm::StringRef;

llvm::StringRef mlir::qat::getElementKindName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32: return "float32";
  case ElementKind::F64: return "float64";
  case ElementKind::I8: return "int8";
  case ElementKind::U8: return "uint8";
  case ElementKind::I16: return "int16";
  case ElementKind::I32: return "int32";
  case ElementKind::I64: return "int64";
  }
  return "?";
}

int64_t mlir::qat::getElementSize(ElementKind kind) {
  switch (kind) {
  case ElementKind::I8:
  case ElementKind::U8: return 1;
  case ElementKind::I16: return 2;
  case ElementKind::F32:
  case ElementKind::I32: return 4;
  case ElementKind::F64:
  case ElementKind::I64: return 8;
  }
  return 0;
}

int64_t NpyArray::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string NpyArray::getShapeString() const {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]);
    if (i + 1 < shape.size() || shape.size() == 1)
      s += shape.size() == 1 ? "," : ", ";
  }
  return s + ")";
}

static std::optional<ElementKind> parseDescr(StringRef descr) {
  // '|' (not applicable) and '<' (little endian) are the only byte orders
  // accepted; '=' is native, which is little endian on the hosts we run on.
  if (descr.size() < 3)
    return std::nullopt;
  char order = descr[0];
  StringRef type = descr.drop_front();
  if (order != '<' && order != '|' && order != '=')
    return std::nullopt;
  if (type == "f4") return ElementKind::F32;
  if (type == "f8") return ElementKind::F64;
  if (type == "i1") return ElementKind::I8;
  if (type == "u1") return ElementKind::U8;
  if (type == "i2") return ElementKind::I16;
  if (type == "i4") return ElementKind::I32;
  if (type == "i8") return ElementKind::I64;
  return std::nullopt;
}

static StringRef descrOf(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32: return "<f4";
  case ElementKind::F64: return "<f8";
  case ElementKind::I8: return "|i1";
  case ElementKind::U8: return "|u1";
  case ElementKind::I16: return "<i2";
  case ElementKind::I32: return "<i4";
  case ElementKind::I64: return "<i8";
  }
  return "";
}

namespace {
/// The header of a .npy file: a Python dict literal with exactly the keys
/// 'descr' (a string), 'fortran_order' (True or False) and 'shape' (a tuple
/// of non-negative integers), as numpy.lib.format writes and requires.
/// Every malformed header is an error naming what is wrong; nothing is
/// guessed (a 'shape' inside the descr string, 'fortran_order': Maybe, ...).
class HeaderParser {
public:
  explicit HeaderParser(StringRef text) : rest(text) {}

  /// Parses the dict into `descr`, `fortran` and `shape`; "" or the error.
  std::string parse(std::string &descr, bool &fortran,
                    llvm::SmallVectorImpl<int64_t> &shape) {
    bool haveDescr = false, haveFortran = false, haveShape = false;
    skipSpace();
    if (!rest.consume_front("{"))
      return "does not start with '{'";
    while (true) {
      skipSpace();
      if (rest.consume_front("}"))
        break;
      std::string key;
      if (!parseString(key))
        return "expected a quoted key, got " + context();
      skipSpace();
      if (!rest.consume_front(":"))
        return "expected ':' after '" + key + "'";
      skipSpace();
      if (key == "descr") {
        if (haveDescr)
          return "'descr' appears twice";
        if (!parseString(descr))
          return "'descr' must be a string (structured dtypes are not "
                 "supported), got " +
                 context();
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (haveFortran)
          return "'fortran_order' appears twice";
        if (rest.consume_front("True"))
          fortran = true;
        else if (rest.consume_front("False"))
          fortran = false;
        else
          return "'fortran_order' must be True or False, got " + context();
        haveFortran = true;
      } else if (key == "shape") {
        if (haveShape)
          return "'shape' appears twice";
        std::string e = parseShape(shape);
        if (!e.empty())
          return e;
        haveShape = true;
      } else {
        return "unknown key '" + key +
               "' (a .npy header has 'descr', 'fortran_order' and 'shape')";
      }
      skipSpace();
      if (rest.consume_front(","))
        continue;
      if (rest.consume_front("}"))
        break;
      return "expected ',' or '}' after '" + key + "', got " + context();
    }
    skipSpace();
    if (!rest.empty())
      return "unexpected " + context() + " after the dict";
    if (!haveDescr)
      return "no 'descr'";
    if (!haveFortran)
      return "no 'fortran_order'";
    if (!haveShape)
      return "no 'shape'";
    return "";
  }

private:
  void skipSpace() { rest = rest.ltrim(" \t\r\n"); }

  /// Up to 20 characters of what follows, for messages.
  std::string context() const {
    if (rest.empty())
      return "the end of the header";
    std::string s = "'" + rest.take_front(20).str() + "'";
    for (char &c : s)
      if (!llvm::isPrint(c))
        c = '?';
    return s;
  }

  /// A '...' or "..." literal without escapes.
  bool parseString(std::string &out) {
    if (rest.empty() || (rest.front() != '\'' && rest.front() != '"'))
      return false;
    char quote = rest.front();
    size_t end = rest.find(quote, 1);
    if (end == StringRef::npos)
      return false;
    StringRef body = rest.slice(1, end);
    if (body.contains('\\'))
      return false;
    out = body.str();
    rest = rest.drop_front(end + 1);
    return true;
  }

  /// '(' [int (',' int)* [',']] ')'
  std::string parseShape(llvm::SmallVectorImpl<int64_t> &shape) {
    shape.clear();
    if (!rest.consume_front("("))
      return "'shape' must be a tuple, got " + context();
    skipSpace();
    bool trailingComma = false;
    while (!rest.consume_front(")")) {
      trailingComma = false;
      size_t digits = 0;
      while (digits < rest.size() && llvm::isDigit(rest[digits]))
        ++digits;
      int64_t d;
      if (!digits || digits > 19 || rest.take_front(digits).getAsInteger(10, d))
        return "'shape' must hold integers in [0, 2^63), got " + context();
      shape.push_back(d);
      rest = rest.drop_front(digits);
      skipSpace();
      if (rest.consume_front(",")) {
        trailingComma = true;
        skipSpace();
        continue;
      }
      if (!rest.starts_with(")"))
        return "expected ',' or ')' in 'shape', got " + context();
    }
    // (n) is an int in Python, not a tuple: NumPy writes (n,).
    if (shape.size() == 1 && !trailingComma)
      return "'shape' (" + std::to_string(shape[0]) +
             ") is not a tuple (NumPy writes (" + std::to_string(shape[0]) +
             ",))";
    return "";
  }

  StringRef rest;
};
} // namespace

llvm::Expected<NpyArray> mlir::qat::parseNpy(StringRef data, StringRef name) {
  auto bad = [&](const llvm::Twine &why) {
    return makeError("'" + name + "': " + why);
  };
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return makeError("'" + name + "' is not a NumPy .npy file");
  uint8_t major = data[6];
  uint64_t headerLen, headerStart;
  if (major == 1) {
    headerLen = uint8_t(data[8]) | (uint8_t(data[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12)
      return makeError("'" + name + "' has a truncated .npy header");
    headerLen = uint32_t(uint8_t(data[8])) | (uint32_t(uint8_t(data[9])) << 8) |
                (uint32_t(uint8_t(data[10])) << 16) |
                (uint32_t(uint8_t(data[11])) << 24);
    headerStart = 12;
  } else {
    return makeError("'" + name + "' has unsupported .npy version " +
                     llvm::Twine(int(major)));
  }
  if (headerStart + headerLen > data.size())
    return makeError("'" + name + "' has a truncated .npy header");
  StringRef header = data.substr(headerStart, headerLen);

  NpyArray array;
  std::string descr;
  bool fortran = false;
  std::string why = HeaderParser(header).parse(descr, fortran, array.shape);
  if (!why.empty())
    return bad(".npy header: " + why);
  auto kind = parseDescr(descr);
  if (!kind)
    return makeError("'" + name + "' has element type '" + descr +
                     "'; qat-run reads little-endian float32, float64, int8, "
                     "uint8, int16, int32 and int64");
  array.kind = *kind;
  if (fortran)
    return makeError("'" + name +
                     "' is in Fortran order; save it with "
                     "numpy.ascontiguousarray first");

  // Checked arithmetic: a shape may declare more elements than 64 bits hold,
  // and must match the bytes that follow exactly.
  int64_t want = getElementSize(array.kind);
  for (int64_t d : array.shape)
    if (llvm::MulOverflow(want, d, want))
      return bad("shape " + array.getShapeString() + " of " +
                 getElementKindName(array.kind) +
                 " needs more than 2^63 bytes");
  uint64_t payload = headerStart + headerLen;
  if (data.size() - payload != uint64_t(want))
    return makeError(
        "'" + name + "' holds " + llvm::Twine(data.size() - payload) +
        " bytes of data; shape " + array.getShapeString() + " of " +
        getElementKindName(array.kind) + " needs " + llvm::Twine(want));
  array.bytes.assign(data.bytes_begin() + payload, data.bytes_end());
  return array;
}

llvm::Expected<NpyArray> mlir::qat::readNpy(StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!bufferOr)
    return makeError("cannot read '" + path +
                     "': " + bufferOr.getError().message());
  return parseNpy((*bufferOr)->getBuffer(), path);
}

llvm::Error mlir::qat::writeNpy(StringRef path, const NpyArray &array) {
  std::string header = "{'descr': '" + descrOf(array.kind).str() +
                       "', 'fortran_order': False, 'shape': " +
                       array.getShapeString() + ", }";
  // Pad so that magic + version + length + header + '\n' is a multiple of 64;
  // version 2 (a 4-byte length) when the header exceeds version 1's 65535.
  int version = 10 + header.size() + 64 > 65535 ? 2 : 1;
  size_t total = (version == 1 ? 10 : 12) + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  os << "\x93NUMPY";
  os << char(version) << char(0);
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i)
    os << char((header.size() >> (8 * i)) & 0xff);
  os << header;
  os.write(reinterpret_cast<const char *>(array.bytes.data()),
           array.bytes.size());
  os.close();
  if (os.has_error())
    return makeError("cannot write '" + path + "'");
  return llvm::Error::success();
}

llvm::Expected<llvm::SmallVector<NpyArray>>
mlir::qat::readNpyFiles(llvm::ArrayRef<std::string> paths) {
  llvm::SmallVector<NpyArray> arrays;
  for (const std::string &path : paths) {
    auto array = readNpy(path);
    if (!array)
      return array.takeError();
    arrays.push_back(std::move(*array));
  }
  return arrays;
}
