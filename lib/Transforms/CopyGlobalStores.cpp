//===- CopyGlobalStores.cpp - qat-copy-global-stores ----------------------===//
//
// Every tensor stored into an ml_program global is stored through a copy
// (works around MLIR 22's ml_program bufferization, which does not count the
// store as a read of the tensor; see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/Builders.h"

namespace mlir::qat {
#define GEN_PASS_DEF_COPYGLOBALSTORESPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {
struct CopyGlobalStoresPass
    : qat::impl::CopyGlobalStoresPassBase<CopyGlobalStoresPass> {
  void runOnOperation() override {
    getOperation().walk([&](ml_program::GlobalStoreOp store) {
      Value v = store.getValue();
      auto type = dyn_cast<RankedTensorType>(v.getType());
      if (!type || v.getDefiningOp<bufferization::AllocTensorOp>())
        return;
      OpBuilder b(store);
      SmallVector<Value> dynamicSizes; // a copy takes its sizes from `v`
      auto copy = bufferization::AllocTensorOp::create(b, store.getLoc(), type,
                                                       dynamicSizes, v);
      store.getValueMutable().assign(copy);
    });
  }
};
} // namespace
