//===- Rebatch.cpp - qat-rebatch ------------------------------------------===//
//
// Rewrites a model for another batch size: the arguments' leading dimension
// changes, and every value derived from them gets its new type, op by op in
// program order (the batch is followed through the graph, not guessed from
// sizes).
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::qat {
#define GEN_PASS_DEF_REBATCHPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// The values whose type changed, with their old types.
using OldTypes = llvm::DenseMap<Value, RankedTensorType>;

/// The one dimension in which `oldType` and `newType` differ, or -1 (none,
/// or another rank).
int64_t changedDim(RankedTensorType oldType, RankedTensorType newType) {
  if (oldType.getRank() != newType.getRank())
    return -1;
  int64_t found = -1;
  for (int64_t d = 0; d < oldType.getRank(); ++d)
    if (oldType.getDimSize(d) != newType.getDimSize(d)) {
      if (found >= 0)
        return -1;
      found = d;
    }
  return found;
}

/// Whether `newType` is `oldType` with its batch dimension (a multiple of
/// `from`) scaled to `to`: one dimension differs, as old / from * to.
bool isRebatched(RankedTensorType oldType, RankedTensorType newType,
                 int64_t from, int64_t to) {
  int64_t d = changedDim(oldType, newType);
  if (d < 0)
    return from == to && oldType == newType;
  int64_t old = oldType.getDimSize(d);
  return !ShapedType::isDynamic(old) && old % from == 0 &&
         newType.getDimSize(d) == old / from * to;
}

struct Rebatcher {
  int64_t from = 0, to = 0;
  OldTypes oldTypes;

  /// The input operand that carries the batch, its old and new types.
  struct Carrier {
    Value value;
    RankedTensorType oldType, newType;
    int64_t dim;
  };
  std::optional<Carrier> carrier(Value v) {
    auto it = oldTypes.find(v);
    if (it == oldTypes.end())
      return std::nullopt;
    auto newType = cast<RankedTensorType>(v.getType());
    return Carrier{v, it->second, newType, changedDim(it->second, newType)};
  }

  /// A new tosa.const_shape before `op` with `values`.
  static Value constShape(Operation *op, ArrayRef<int64_t> values) {
    OpBuilder b(op);
    return qat::createConstShape(b, op->getLoc(), values);
  }

  LogicalResult constValues(Operation *op, Value shape,
                            SmallVectorImpl<int64_t> &values) {
    std::optional<SmallVector<int64_t>> c = qat::getConstantShape(shape);
    if (!c)
      return op->emitOpError("qat-rebatch: needs a constant shape operand");
    values.append(c->begin(), c->end());
    return success();
  }

  /// tosa.reshape: the output dimension starting at the same element offset
  /// as the input's batch dimension, and a multiple of the batch, holds it.
  LogicalResult reshape(tosa::ReshapeOp op, const Carrier &in) {
    SmallVector<int64_t> shape;
    if (failed(constValues(op, op.getShape(), shape)))
      return failure();
    int64_t prefix = 1;
    for (int64_t d = 0; d < in.dim; ++d)
      prefix *= in.oldType.getDimSize(d);
    SmallVector<int64_t> candidates;
    int64_t p = 1;
    for (int64_t q = 0; q < int64_t(shape.size()); ++q) {
      if (p == prefix && shape[q] > 0 && shape[q] % from == 0)
        candidates.push_back(q);
      p *= shape[q];
    }
    if (candidates.empty())
      return op.emitOpError("qat-rebatch: the reshape ")
             << in.oldType << " -> " << op.getType()
             << " does not keep the batch (" << from << ") in one dimension";
    if (candidates.size() > 1)
      return op.emitOpError("qat-rebatch: the reshape ")
             << in.oldType << " -> " << op.getType()
             << " is ambiguous: at batch " << from
             << " the batch cannot be told from other dimensions of that "
                "size; export the model at batch 2 or more";
    shape[candidates.front()] = shape[candidates.front()] / from * to;
    op.getShapeMutable().assign(constShape(op, shape));
    auto type = RankedTensorType::get(shape, op.getType().getElementType());
    op.getResult().setType(type);
    return success();
  }

  /// tosa.slice: the whole batch, or an error.
  LogicalResult slice(tosa::SliceOp op, const Carrier &in) {
    SmallVector<int64_t> start, size;
    if (failed(constValues(op, op.getStart(), start)) ||
        failed(constValues(op, op.getSize(), size)))
      return failure();
    int64_t d = in.dim;
    int64_t whole = in.oldType.getDimSize(d);
    if (start[d] != 0 || (size[d] != whole && size[d] != -1))
      return op.emitOpError("qat-rebatch: slices part of the batch (dimension ")
             << d << ": start " << start[d] << ", size " << size[d] << " of "
             << whole << ")";
    size[d] = in.newType.getDimSize(d);
    op.getSizeMutable().assign(constShape(op, size));
    return success();
  }

  /// A qat.integer_kernel: a convolution's result takes its input's batch;
  /// a matmul's result (its accumulator of R x O values in any shape)
  /// scales the first of its leading dimensions that is not 1 with the
  /// input's rows R.
  LogicalResult integerKernel(qat::IntegerKernelOp op) {
    auto inType = op.getInput().getType();
    auto outType = op.getOutput().getType();
    SmallVector<int64_t> shape(outType.getShape());
    if (op.getKind() != qat::KernelKind::matmul) {
      shape[0] = inType.getDimSize(0);
    } else {
      auto oldIn = oldTypes.lookup(op.getInput());
      int64_t oldRows = oldIn ? oldIn.getDimSize(1) : inType.getDimSize(1);
      int64_t rows = inType.getDimSize(1);
      int64_t d = 0, last = int64_t(shape.size()) - 1;
      while (d < last - 1 && shape[d] == 1)
        ++d;
      if (last < 1 || (shape[d] * rows) % oldRows)
        return op.emitOpError("qat-rebatch: cannot scale the result ")
               << outType << " from " << oldRows << " to " << rows << " rows";
      shape[d] = shape[d] * rows / oldRows;
    }
    op.getOutput().setType(RankedTensorType::get(
        shape, outType.getElementType(), outType.getEncoding()));
    return success();
  }

  /// New types of `op`'s results, once its operands have theirs.
  LogicalResult visit(Operation *op) {
    std::optional<Carrier> in;
    for (Value v : op->getOperands())
      if ((in = carrier(v)))
        break;
    if (!in)
      return success(); // does not depend on the arguments
    if (isa<func::CallOp, func::CallIndirectOp>(op))
      return op->emitOpError("qat-rebatch: calls are not supported; inline "
                             "them first");
    if (op->getNumRegions())
      return op->emitOpError("qat-rebatch: ops with regions are not supported");
    if (in->dim < 0)
      return op->emitOpError("qat-rebatch: internal error: no batch dimension "
                             "in operand type ")
             << in->newType;

    SmallVector<RankedTensorType> old;
    for (Value r : op->getResults()) {
      auto t = dyn_cast<RankedTensorType>(r.getType());
      if (!t)
        return op->emitOpError("qat-rebatch: result of type ")
               << r.getType() << " (ranked tensors only)";
      old.push_back(t);
    }

    if (auto reshapeOp = dyn_cast<tosa::ReshapeOp>(op)) {
      if (failed(reshape(reshapeOp, *in)))
        return failure();
    } else if (auto kernel = dyn_cast<qat::IntegerKernelOp>(op)) {
      if (failed(integerKernel(kernel)))
        return failure();
    } else {
      if (auto sliceOp = dyn_cast<tosa::SliceOp>(op))
        if (failed(slice(sliceOp, *in)))
          return failure();
      if (auto iface = dyn_cast<InferShapedTypeOpInterface>(op)) {
        SmallVector<ShapedTypeComponents> shapes;
        if (failed(iface.inferReturnTypeComponents(
                op->getContext(), op->getLoc(), op->getOperands(),
                op->getAttrDictionary(), op->getPropertiesStorage(),
                op->getRegions(), shapes)) ||
            shapes.size() != old.size())
          return op->emitOpError("qat-rebatch: cannot infer the result "
                                 "types with the new batch");
        for (auto [r, s, o] : llvm::zip(op->getResults(), shapes, old)) {
          if (!s.hasRank())
            return op->emitOpError("qat-rebatch: inferred an unranked result");
          r.setType(RankedTensorType::get(s.getDims(), o.getElementType(),
                                          o.getEncoding()));
        }
      } else {
        // Shape-preserving ops (the qat ops): a result with the shape of a
        // batch-carrying operand keeps it with the new batch.
        for (auto [r, o] : llvm::zip(op->getResults(), old)) {
          std::optional<Carrier> match;
          for (Value v : op->getOperands())
            if (auto c = carrier(v); c && c->oldType.getShape() == o.getShape())
              match = c;
          if (!match)
            return op->emitOpError("qat-rebatch: result ")
                   << o << " does not keep the shape of an operand that "
                   << "holds the batch (" << in->oldType
                   << "); this op is not supported";
          r.setType(RankedTensorType::get(match->newType.getShape(),
                                          o.getElementType(), o.getEncoding()));
        }
      }
    }

    for (auto [r, o] : llvm::zip(op->getResults(), old)) {
      auto t = cast<RankedTensorType>(r.getType());
      if (!isRebatched(o, t, from, to))
        return op->emitOpError("qat-rebatch: result ")
               << o << " would become " << t
               << ", which is not the same type with the batch "
               << (changedDim(o, t) < 0 && from != to
                       ? "(the op reduces over or drops the batch)"
                       : "scaled");
      if (t != o)
        oldTypes[r] = o;
    }
    return success();
  }

  LogicalResult run(func::FuncOp func) {
    if (func.getNumArguments() == 0)
      return emitError(func.getLoc(), "qat-rebatch: @")
             << func.getSymName() << " has no arguments to take a batch from";
    std::optional<int64_t> batch;
    for (auto [i, t] : llvm::enumerate(func.getArgumentTypes())) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      if (!tensor || tensor.getRank() == 0 || tensor.isDynamicDim(0) ||
          tensor.getDimSize(0) < 1)
        return emitError(func.getLoc(), "qat-rebatch: argument #")
               << i << " of @" << func.getSymName() << " has type " << t
               << ", without a static leading (batch) dimension";
      if (batch && *batch != tensor.getDimSize(0))
        return emitError(func.getLoc(), "qat-rebatch: argument #")
               << i << " of @" << func.getSymName() << " has batch "
               << tensor.getDimSize(0) << ", argument #0 " << *batch;
      batch = tensor.getDimSize(0);
    }
    from = *batch;
    if (from == to)
      return success();
    Block &body = func.front();
    for (BlockArgument arg : body.getArguments()) {
      auto t = cast<RankedTensorType>(arg.getType());
      SmallVector<int64_t> shape(t.getShape());
      shape[0] = to;
      oldTypes[arg] = t;
      arg.setType(
          RankedTensorType::get(shape, t.getElementType(), t.getEncoding()));
    }
    WalkResult walk = func.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == func.getOperation() || isa<func::ReturnOp>(op))
        return WalkResult::advance();
      return failed(visit(op)) ? WalkResult::interrupt() : WalkResult::skip();
    });
    if (walk.wasInterrupted())
      return failure();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    func.setFunctionType(FunctionType::get(
        func.getContext(), body.getArgumentTypes(), ret.getOperandTypes()));
    return success();
  }
};

struct RebatchPass : qat::impl::RebatchPassBase<RebatchPass> {
  using RebatchPassBase::RebatchPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (batch <= 0) {
      emitError(module.getLoc(),
                "qat-rebatch: batch must be a positive size, got ")
          << batch;
      return signalPassFailure();
    }
    bool any = false;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || (!entry.empty() && func.getSymName() != entry))
        continue;
      any = true;
      Rebatcher r;
      r.from = 0;
      r.to = batch;
      if (failed(r.run(func)))
        return signalPassFailure();
    }
    if (!entry.empty() && !any) {
      emitError(module.getLoc(), "qat-rebatch: no function @") << entry;
      return signalPassFailure();
    }
  }
};

} // namespace
