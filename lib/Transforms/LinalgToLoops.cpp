//===- LinalgToLoops.cpp - qat-linalg-to-loops ----------------------------===//
//
// Parallel linalg ops to affine loops (vectorizable), others to scf loops
// (never vectorized, so reductions keep their order).
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LINALGTOLOOPSPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {
struct LinalgToLoopsPass
    : qat::impl::LinalgToLoopsPassBase<LinalgToLoopsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      rewriter.setInsertionPoint(op);
      bool allParallel =
          op.getNumLoops() == op.getNumParallelLoops();
      // The affine vectorizer does not handle strided layouts (it reports
      // "NYI: non-trivial layout map"): such ops get scf loops too.
      bool identityLayouts = llvm::all_of(op->getOperands(), [](Value v) {
        auto type = dyn_cast<MemRefType>(v.getType());
        return !type || type.getLayout().isIdentity();
      });
      FailureOr<linalg::LinalgLoops> loops =
          allParallel && identityLayouts
              ? linalg::linalgOpToAffineLoops(rewriter, op)
              : linalg::linalgOpToLoops(rewriter, op);
      if (failed(loops)) {
        op->emitError("qat-linalg-to-loops could not lower this op to loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
