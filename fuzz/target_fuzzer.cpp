//===- target_fuzzer.cpp - libFuzzer target: target descriptions ---------===//
//
// TargetDescription::parseJSON (lib/Dialect/QAT/Target) on arbitrary text,
// then validate() and every modifier on an accepted description: a
// description or an error, never a crash (issue 14, class 4: deep nesting).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Target/TargetDescription.h"

#include "llvm/Support/Error.h"

#include <cstdint>

using namespace mlir::qat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<TargetDescription> target =
      TargetDescription::parseJSON(text, "fuzz.json");
  if (!target) {
    llvm::consumeError(target.takeError());
    return 0;
  }
  llvm::consumeError(target->validate());
  for (const char *modifier :
       {"reduce-range", "per-channel", "pow2", "narrow-range", "bogus"}) {
    TargetDescription copy = *target;
    if (llvm::Error e = copy.applyModifier(modifier)) {
      llvm::consumeError(std::move(e));
      continue;
    }
    llvm::consumeError(copy.validate());
  }
  return 0;
}
