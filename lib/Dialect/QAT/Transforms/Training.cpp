//===- Training.cpp - what the training passes share ----------------------===//
//
// The helpers of qat-make-trainable, qat-generate-train-step and
// qat-finish-training declared in Training.h.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Transforms/Training.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

void mlir::qat::eraseDeadOps(func::FuncOp func) {
  bool changed = true;
  while (changed) {
    SmallVector<Operation *> dead;
    func.walk([&](Operation *op) {
      if (op != func && op->use_empty() &&
          (isPure(op) || isa<ml_program::GlobalLoadOp>(op)) &&
          !op->hasTrait<OpTrait::IsTerminator>() && op->getNumRegions() == 0)
        dead.push_back(op);
    });
    for (Operation *op : dead)
      op->erase();
    changed = !dead.empty();
  }
}
