//===- LowerToNPU.cpp - qat-lower-to-npu ----------------------------------===//
//
// Compiles a bpu integer model (qat-convert-to-integer with fixed-point or
// shift requantization) into an npu.program: LayerGraph.h analyses the
// graph into layers, CodeGen.h lays out DRAM and writes the instructions.
// Semantics: Passes.td and docs/NPU.md ("Compiling for the NPU").
//
//===----------------------------------------------------------------------===//

#include "CodeGen.h"
#include "LayerGraph.h"

#include "qat/Conversion/Passes.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERTONPUPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

QuantizeOp
mlir::qat::getInputQuantization(BlockArgument arg,
                                SmallVectorImpl<Operation *> *layout) {
  Value v = arg;
  while (v.hasOneUse()) {
    Operation *u = *v.getUsers().begin();
    if (auto q = dyn_cast<QuantizeOp>(u))
      return q;
    if (!isa<tosa::ReshapeOp, tosa::TransposeOp>(u))
      return nullptr;
    if (layout)
      layout->push_back(u);
    v = u->getResult(0);
  }
  return nullptr;
}

LogicalResult mlir::qat::lowerToNPU(ModuleOp module, StringRef entry,
                                    const npu::Config &config,
                                    bool doubleBuffer, int64_t *tiles) {
  module.getContext()->getOrLoadDialect<npu::ir::NPUDialect>();
  func::FuncOp func;
  if (entry.empty()) {
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    if (funcs.size() != 1)
      return module.emitError("qat-lower-to-npu: the module has ")
             << funcs.size() << " functions; name one with entry=";
    func = funcs.front();
  } else {
    func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func)
      return module.emitError("qat-lower-to-npu: no function @") << entry;
  }
  if (failed(verifyInputContract(func)))
    return failure();
  LayerGraph analysis(func, config);
  if (failed(analysis.run()))
    return failure();
  CodeGen gen(analysis, config, doubleBuffer);
  OpBuilder b(func);
  if (failed(gen.run(b, func.getLoc(), func.getSymName())))
    return failure();
  if (tiles)
    *tiles = gen.numTiles;
  func.erase();
  return success();
}

namespace {
struct LowerToNPUPass : qat::impl::LowerToNPUPassBase<LowerToNPUPass> {
  using Base::Base;
  void runOnOperation() override {
    npu::Config cfg;
    if (!config.empty()) {
      std::string why = npu::loadConfigFile(config, cfg);
      if (!why.empty()) {
        getOperation().emitError("qat-lower-to-npu: ") << why;
        return signalPassFailure();
      }
    }
    int64_t tiles = 0;
    if (failed(lowerToNPU(getOperation(), entry, cfg, doubleBuffer, &tiles)))
      return signalPassFailure();
    numTiles += tiles;
    getOperation().walk([&](npu::ir::ProgramOp p) {
      for (Operation &op : p.getBodyBlock()) {
        if (npu::ir::isInstruction(&op))
          ++numInstructions;
        if (isa<npu::ir::LayerOp>(op))
          ++numLayers;
      }
    });
  }
};
} // namespace

