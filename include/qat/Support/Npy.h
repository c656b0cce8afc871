//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1-3, little-endian, C order)
// for the element types qat-run exchanges: f32, f64, i8, u8, i16, i32, i64.
// Part of QATSupport: no MLIR dependency.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_SUPPORT_NPY_H
#define QAT_SUPPORT_NPY_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qat {

enum class ElementKind { F32, F64, I8, U8, I16, I32, I64 };

/// NumPy's name of a kind ("float32", "uint8", ...).
llvm::StringRef getElementKindName(ElementKind kind);
int64_t getElementSize(ElementKind kind);

struct NpyArray {
  ElementKind kind = ElementKind::F32;
  llvm::SmallVector<int64_t> shape;
  /// Row-major element bytes.
  std::vector<uint8_t> bytes;

  int64_t getNumElements() const;
  /// "(2, 3)" like NumPy.
  std::string getShapeString() const;
};

/// Reads a .npy file (parseNpy of its bytes; errors name `path`).
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
/// Parses the bytes of a .npy file. The header must be the dict NumPy
/// writes (exactly 'descr', 'fortran_order': True/False and 'shape', a tuple
/// of non-negative integers), the byte size is computed with overflow
/// checks, and the data must be exactly that size. Errors name `name`.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef data, llvm::StringRef name);
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

/// The .npy files `paths`, read in order.
llvm::Expected<llvm::SmallVector<NpyArray>>
readNpyFiles(llvm::ArrayRef<std::string> paths);

} // namespace mlir::qat

#endif // QAT_SUPPORT_NPY_H
