//===- LinalgToLoops.cpp - qat-linalg-to-loops ----------------------------===//
//
// Parallel linalg ops to affine loops (vectorizable), others to scf loops
// (never vectorized, so reductions keep their order), except NHWC pooling
// ops: their window loops go outside the channel loop, which the affine
// vectorizer then takes (each window is still reduced in order).
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
      // An NHWC pooling op loops over (n, oh, ow, c, kh, kw): with the
      // window loops moved outside the channel loop, the innermost loop is
      // parallel and contiguous, and the affine vectorizer takes it. Each
      // output element still reduces its window in the same order.
      if (identityLayouts &&
          isa<linalg::PoolingNhwcMaxOp, linalg::PoolingNhwcMinOp,
              linalg::PoolingNhwcSumOp, linalg::PoolingNhwcMaxUnsignedOp,
              linalg::PoolingNhwcMinUnsignedOp>(op.getOperation())) {
        FailureOr<linalg::GenericOp> generic =
            linalg::generalizeNamedOp(rewriter, op);
        if (succeeded(generic))
          generic = linalg::interchangeGenericOp(rewriter, *generic,
                                                 {0, 1, 2, 4, 5, 3});
        if (failed(generic)) {
          op->emitError("qat-linalg-to-loops could not reorder this pooling "
                        "op's loops");
          return signalPassFailure();
        }
        if (failed(linalg::linalgOpToAffineLoops(rewriter, *generic))) {
          op->emitError("qat-linalg-to-loops could not lower this op to "
                        "loops");
          return signalPassFailure();
        }
        rewriter.eraseOp(*generic);
        continue;
      }
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
