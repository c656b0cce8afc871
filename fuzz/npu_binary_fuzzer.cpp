//===- npu_binary_fuzzer.cpp - libFuzzer target: NPU binaries -------------===//
//
// An NPU binary (docs/NPU.md section 6) from arbitrary bytes: the reader,
// the disassembler, the importer into the npu dialect, and the simulator
// (its own configuration, race check on) with a small work and cycle limit
// so that every accepted program runs in milliseconds. A program or an
// error at each step, never a crash (issue 14, classes 6, 7 and 9).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/NPU/IR/NPUDialect.h"
#include "qat/NPU/Binary.h"
#include "qat/NPU/Simulator.h"
#include "qat/Target/NPU/NPUTranslation.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdint>
#include <memory>

using namespace mlir;
using namespace mlir::qat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  npu::Program program;
  if (!npu::readProgram(data, size, program).empty())
    return 0;
  (void)npu::disassemble(program);

  // A fresh context now and then: attributes (the data section) are never
  // freed within one.
  static std::unique_ptr<MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 256 == 0) {
    context = std::make_unique<MLIRContext>(MLIRContext::Threading::DISABLED);
    context->getOrLoadDialect<npu::ir::NPUDialect>();
    context->getDiagEngine().registerHandler(
        [](Diagnostic &) { return success(); });
  }
  (void)importNPUProgram(program, context.get());

  npu::SimOptions options;
  options.config = program.config;
  options.checkRaces = true;
  options.maxWork = uint64_t(1) << 22;
  options.maxCycles = uint64_t(1) << 22;
  npu::Simulator sim(options);
  if (!sim.load(program).empty())
    return 0;
  npu::SimReport report;
  (void)sim.run(report);
  return 0;
}
