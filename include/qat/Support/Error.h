//===- Error.h - errors of the project's libraries and tools ----*- C++ -*-===//
//
// One way to make an llvm::Error that carries a message for the user, for
// the libraries that report to tools (.npy I/O, the runtime, target
// descriptions, the NPU check). Part of QATSupport: no MLIR dependency.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_SUPPORT_ERROR_H
#define QAT_SUPPORT_ERROR_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace mlir::qat {

/// An error whose message is `msg` (one line saying what is wrong and why).
inline llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

} // namespace mlir::qat

#endif // QAT_SUPPORT_ERROR_H
