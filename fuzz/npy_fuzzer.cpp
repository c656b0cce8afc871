//===- npy_fuzzer.cpp - libFuzzer target: the .npy reader -----------------===//
//
// parseNpy (lib/Support/Npy.cpp) on arbitrary bytes: an array or an error,
// never a crash; an accepted array holds exactly its shape's bytes.
//
//===----------------------------------------------------------------------===//

#include "qat/Support/Npy.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <cstdlib>

using namespace mlir::qat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<NpyArray> array = parseNpy(bytes, "fuzz.npy");
  if (!array) {
    llvm::consumeError(array.takeError());
    return 0;
  }
  int64_t n = array->getNumElements();
  if (n < 0 ||
      uint64_t(n) * uint64_t(getElementSize(array->kind)) !=
          array->bytes.size() ||
      array->bytes.size() > size)
    std::abort(); // an accepted array must hold exactly its shape's bytes
  (void)array->getShapeString();
  return 0;
}
