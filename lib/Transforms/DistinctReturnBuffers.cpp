//===- DistinctReturnBuffers.cpp - qat-distinct-return-buffers ------------===//
//
// A repeated memref in func.return gets a copy of its own.
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::qat {
#define GEN_PASS_DEF_DISTINCTRETURNBUFFERSPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {
struct DistinctReturnBuffersPass
    : qat::impl::DistinctReturnBuffersPassBase<DistinctReturnBuffersPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::ReturnOp ret) {
      llvm::DenseSet<Value> seen;
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value v = operand.get();
        auto type = dyn_cast<MemRefType>(v.getType());
        if (!type || seen.insert(v).second)
          continue;
        SmallVector<Value> dynamicSizes;
        for (int64_t d = 0; d < type.getRank(); ++d)
          if (type.isDynamicDim(d))
            dynamicSizes.push_back(memref::DimOp::create(b, ret.getLoc(), v, d));
        auto copyType = MemRefType::get(type.getShape(), type.getElementType(),
                                        MemRefLayoutAttrInterface(),
                                        type.getMemorySpace());
        if (copyType != type) {
          ret.emitError("qat-distinct-return-buffers: a repeated result has a "
                        "non-identity layout ")
              << type;
          return signalPassFailure();
        }
        Value copy =
            memref::AllocOp::create(b, ret.getLoc(), copyType, dynamicSizes);
        memref::CopyOp::create(b, ret.getLoc(), v, copy);
        operand.set(copy);
      }
    });
  }
};
} // namespace
