//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "qat/Support/Npy.h"
#include "qat/Support/Error.h"

#include "llvm/ADT/StringExtras.h"
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

/// The value text of `'key': value` in the header dict.
static std::optional<StringRef> findKey(StringRef header, StringRef key) {
  std::string quoted = ("'" + key + "'").str();
  size_t pos = header.find(quoted);
  if (pos == StringRef::npos)
    return std::nullopt;
  StringRef rest = header.drop_front(pos + quoted.size()).ltrim();
  if (!rest.consume_front(":"))
    return std::nullopt;
  return rest.ltrim();
}

llvm::Expected<NpyArray> mlir::qat::readNpy(StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!bufferOr)
    return makeError("cannot read '" + path + "': " +
                     bufferOr.getError().message());
  StringRef data = (*bufferOr)->getBuffer();
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return makeError("'" + path + "' is not a NumPy .npy file");
  uint8_t major = data[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = uint8_t(data[8]) | (uint8_t(data[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12)
      return makeError("'" + path + "' has a truncated .npy header");
    headerLen = uint32_t(uint8_t(data[8])) | (uint32_t(uint8_t(data[9])) << 8) |
                (uint32_t(uint8_t(data[10])) << 16) |
                (uint32_t(uint8_t(data[11])) << 24);
    headerStart = 12;
  } else {
    return makeError("'" + path + "' has unsupported .npy version " +
                     llvm::Twine(int(major)));
  }
  if (headerStart + headerLen > data.size())
    return makeError("'" + path + "' has a truncated .npy header");
  StringRef header = data.substr(headerStart, headerLen);

  NpyArray array;
  auto descr = findKey(header, "descr");
  if (!descr || !descr->consume_front("'"))
    return makeError("'" + path + "': .npy header has no 'descr'");
  StringRef descrText = descr->take_until([](char c) { return c == '\''; });
  auto kind = parseDescr(descrText);
  if (!kind)
    return makeError("'" + path + "' has element type '" + descrText +
                     "'; qat-run reads little-endian float32, float64, int8, "
                     "uint8, int16, int32 and int64");
  array.kind = *kind;

  auto fortran = findKey(header, "fortran_order");
  if (!fortran)
    return makeError("'" + path + "': .npy header has no 'fortran_order'");
  if (fortran->starts_with("True"))
    return makeError("'" + path + "' is in Fortran order; save it with "
                     "numpy.ascontiguousarray first");

  auto shapeText = findKey(header, "shape");
  if (!shapeText || !shapeText->consume_front("("))
    return makeError("'" + path + "': .npy header has no 'shape'");
  StringRef dims = shapeText->take_until([](char c) { return c == ')'; });
  llvm::SmallVector<StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef p : parts) {
    p = p.trim();
    if (p.empty())
      continue;
    int64_t d;
    if (p.getAsInteger(10, d) || d < 0)
      return makeError("'" + path + "': bad dimension '" + p + "' in shape");
    array.shape.push_back(d);
  }

  size_t payload = headerStart + headerLen;
  uint64_t want = uint64_t(array.getNumElements()) * getElementSize(array.kind);
  if (data.size() - payload != want)
    return makeError("'" + path + "' holds " +
                     llvm::Twine(data.size() - payload) +
                     " bytes of data; shape " + array.getShapeString() +
                     " of " + getElementKindName(array.kind) + " needs " +
                     llvm::Twine(want));
  array.bytes.assign(data.bytes_begin() + payload, data.bytes_end());
  return array;
}

llvm::Error mlir::qat::writeNpy(StringRef path, const NpyArray &array) {
  std::string header = "{'descr': '" + descrOf(array.kind).str() +
                       "', 'fortran_order': False, 'shape': " +
                       array.getShapeString() + ", }";
  // Pad so that magic + version + length + header + '\n' is a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  os << "\x93NUMPY";
  os << char(1) << char(0);
  os << char(header.size() & 0xff) << char((header.size() >> 8) & 0xff);
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
