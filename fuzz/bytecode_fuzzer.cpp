//===- bytecode_fuzzer.cpp - libFuzzer target: MLIR bytecode --------------===//
//
// The input is an MLIR bytecode file (its first four bytes are made the
// magic number, so that mutations of them still reach the reader): it goes
// through the parse guard (findBytecodeHazard, then MLIR 22's reader with
// the dense-array callback: parseModuleGuarded, as every tool and the C
// API), the verifier and the printer. A module or an error, never a crash,
// a hang or an allocation out of proportion to the input (check-fuzz runs
// it with -malloc_limit_mb; issue 14).
//
//===----------------------------------------------------------------------===//

#include "FuzzContext.h"
#include "qat/Tools/ParseGuard.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/Alignment.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstring>
#include <memory>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  MLIRContext &context = qat::fuzz::fuzzContext();

  // Aligned as the C API aligns a bytecode buffer (sections ask for up to
  // the alignment of their most aligned element).
  std::unique_ptr<llvm::WritableMemoryBuffer> buffer =
      llvm::WritableMemoryBuffer::getNewUninitMemBuffer(size, "fuzz.mlirbc",
                                                        llvm::Align(64));
  std::memcpy(buffer->getBufferStart(), data, size);
  std::memcpy(buffer->getBufferStart(),
              "ML\xef"
              "R",
              4);
  auto sourceMgr = std::make_shared<llvm::SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      qat::parseModuleGuarded(sourceMgr, ParserConfig(&context));
  if (!module || failed(verify(*module)))
    return 0;
  llvm::raw_null_ostream os;
  (*module)->print(os);
  return 0;
}
