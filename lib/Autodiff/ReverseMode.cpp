//===- ReverseMode.cpp - reverse-mode differentiation of one block --------===//
//
// Walks the ops of a block backwards from the seeds, asks each op that
// receives a gradient for its adjoint through GradientOpInterface, and sums
// the gradients of values with several uses.
//
//===----------------------------------------------------------------------===//

#include "qat/Autodiff/Autodiff.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::qat;

static bool isF32Tensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isF32();
}

FailureOr<SmallVector<Value>>
mlir::qat::buildReverseMode(OpBuilder &b,
                            ArrayRef<std::pair<Value, Value>> seeds,
                            ArrayRef<Value> wrt) {
  Block *block = b.getInsertionBlock();
  Block::iterator end = b.getInsertionPoint();

  // Values that depend on a `wrt` value (forward activity).
  llvm::DenseSet<Value> varied(wrt.begin(), wrt.end());
  SmallVector<Operation *> ops;
  for (Operation &op : llvm::make_range(block->begin(), end)) {
    ops.push_back(&op);
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return varied.contains(v); }))
      for (Value r : op.getResults())
        varied.insert(r);
  }

  llvm::DenseMap<Value, Value> grads;
  auto accumulate = [&](Value v, Value g, Location loc) {
    auto [it, inserted] = grads.try_emplace(v, g);
    if (!inserted)
      it->second = tosa::AddOp::create(b, loc, g.getType(), it->second, g);
  };
  // f32 values carry gradients; so does the int32 result of
  // qat.exact_accumulator, whose gradient (f32) goes to its f32 relaxation.
  auto carriesGradient = [](Value v) {
    return isF32Tensor(v) || v.getDefiningOp<ExactAccumulatorOp>();
  };
  for (auto [v, g] : seeds)
    accumulate(v, g, v.getLoc());

  for (Operation *op : llvm::reverse(ops)) {
    if (llvm::none_of(op->getResults(),
                      [&](Value r) { return grads.contains(r); }))
      continue;
    // Only ops between a wrt value and a seed matter.
    if (llvm::none_of(op->getOperands(),
                      [&](Value v) { return varied.contains(v); }))
      continue;
    auto iface = dyn_cast<GradientOpInterface>(op);
    if (!iface)
      return op->emitOpError("has no adjoint (GradientOpInterface): it lies "
                             "between a trained parameter and the loss");
    SmallVector<Value> resultGrads;
    for (Value r : op->getResults()) {
      if (Value g = grads.lookup(r)) {
        resultGrads.push_back(g);
        continue;
      }
      if (!isF32Tensor(r))
        return op->emitOpError("result of type ")
               << r.getType() << " cannot carry a gradient";
      resultGrads.push_back(buildZeros(b, op->getLoc(), r.getType()));
    }
    SmallVector<Value> operandGrads = iface.buildGradients(b, resultGrads);
    if (operandGrads.size() != op->getNumOperands())
      return op->emitOpError("adjoint not available for this form of the op "
                             "(non-constant shape or padding operands)");
    for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!g || !varied.contains(operand))
        continue;
      if (!carriesGradient(operand))
        continue;
      accumulate(operand, g, op->getLoc());
    }
  }

  SmallVector<Value> out;
  for (Value v : wrt) {
    Value g = grads.lookup(v);
    out.push_back(g ? g : buildZeros(b, v.getLoc(), v.getType()));
  }
  return out;
}
