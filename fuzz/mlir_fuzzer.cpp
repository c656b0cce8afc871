//===- mlir_fuzzer.cpp - libFuzzer target: MLIR text through qat passes ---===//
//
// The first byte picks a pipeline of qat passes, the rest is MLIR text: it
// goes through the parse guard and the parser (parseModuleGuarded, as every
// tool), the verifier, then the pipeline. A module or an error at each step,
// never a crash or a hang (issue 14: classes 1-3, 8, 10, 11, 13, 14).
//
//===----------------------------------------------------------------------===//

#include "FuzzContext.h"
#include "qat/InitQAT.h"
#include "qat/Tools/ParseGuard.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <memory>

using namespace mlir;

// The pipelines, as a user of qat-opt and the Python package runs them.
static const char *const kPipelines[] = {
    "canonicalize",
    "func.func(qat-fold-conv-bn)",
    "qat-prepare{target=x86}",
    "qat-prepare{target=bpu:per-channel:pow2}",
    ("qat-prepare{target=bpu},qat-freeze-qparams{allow-uncalibrated=true},"
     "qat-convert-to-integer"),
    "qat-freeze-qparams{allow-uncalibrated=true}",
    "qat-convert-to-integer{target=x86}",
    "qat-convert-to-integer{target=x86 simulate=true}",
    "qat-verify-target{target=bpu}",
    "qat-convert-to-integer{target=bpu},qat-lower-to-npu",
    "qat-convert-to-integer{target=x86},qat-pack-int8-kernels",
    "convert-qat-to-linalg",
};
static constexpr size_t kNumPipelines =
    sizeof(kPipelines) / sizeof(kPipelines[0]);

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  qat::registerQATPasses();
  registerTransformsPasses();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *pipeline = kPipelines[data[0] % kNumPipelines];

  MLIRContext &context = qat::fuzz::fuzzContext();

  // MLIR text only: bytecode is qat-fuzz-bytecode's (bytecode_fuzzer.cpp).
  llvm::StringRef input(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (isBytecode(llvm::MemoryBufferRef(input, "fuzz.mlir")))
    return 0;
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(input, "fuzz.mlir"), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      qat::parseModuleGuarded(sourceMgr, ParserConfig(&context));
  if (!module || failed(verify(*module)))
    return 0;

  PassManager pm(&context);
  if (failed(parsePassPipeline(pipeline, pm)))
    __builtin_trap(); // the table above is wrong
  (void)pm.run(*module);
  return 0;
}
