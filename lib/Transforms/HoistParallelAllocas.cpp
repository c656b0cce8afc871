//===- HoistParallelAllocas.cpp - qat-hoist-parallel-allocas --------------===//
//
// Static memref.alloca ops inside an omp.parallel region move to the start of
// the region (one buffer per thread); the memref.alloca_scope ops that
// convert-scf-to-openmp put around loop bodies are inlined once they hold no
// allocation. Semantics: Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_HOISTPARALLELALLOCASPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// The omp.parallel whose region is the allocation scope of `op`, if no
/// other allocation scope than memref.alloca_scope lies between them.
omp::ParallelOp parallelScope(Operation *op) {
  for (Operation *p = op->getParentOp(); p; p = p->getParentOp()) {
    if (auto par = dyn_cast<omp::ParallelOp>(p))
      return par;
    if (p->hasTrait<OpTrait::AutomaticAllocationScope>() &&
        !isa<memref::AllocaScopeOp>(p))
      return nullptr;
  }
  return nullptr;
}

struct HoistParallelAllocasPass
    : qat::impl::HoistParallelAllocasPassBase<HoistParallelAllocasPass> {
  void runOnOperation() override {
    SmallVector<std::pair<memref::AllocaOp, omp::ParallelOp>> moves;
    getOperation().walk([&](memref::AllocaOp alloca) {
      if (!alloca.getType().hasStaticShape() ||
          !alloca.getDynamicSizes().empty() ||
          !alloca.getSymbolOperands().empty())
        return;
      if (omp::ParallelOp par = parallelScope(alloca);
          par && alloca->getParentRegion() != &par.getRegion())
        moves.push_back({alloca, par});
    });
    for (auto [alloca, par] : moves)
      alloca->moveBefore(&par.getRegion().front().front());
    if (moves.empty())
      return;
    // Scopes without allocations now: inline them.
    SmallVector<memref::AllocaScopeOp> scopes;
    getOperation().walk([&](memref::AllocaScopeOp scope) {
      bool allocates = false;
      scope.walk([&](memref::AllocaOp) { allocates = true; });
      if (!allocates && parallelScope(scope))
        scopes.push_back(scope);
    });
    IRRewriter rewriter(&getContext());
    for (memref::AllocaScopeOp scope : scopes) {
      Block *body = &scope.getBodyRegion().front();
      Operation *ret = body->getTerminator();
      SmallVector<Value> results(ret->getOperands());
      rewriter.eraseOp(ret);
      rewriter.inlineBlockBefore(body, scope);
      rewriter.replaceOp(scope, results);
    }
  }
};

} // namespace
