//===- FuseF32Epilogues.cpp - qat-fuse-f32-epilogues ----------------------===//
//
// An elementwise linalg.generic that reads the result of a packed f32 kernel
// becomes that kernel's epilogue region, its other inputs epilogue inputs
// reshaped to rank 4 (QATFloatKernelOps.td, "Epilogue").
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FUSEF32EPILOGUESPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// The rank-4 shape an input indexed by `map` broadcasts from (1 for each
/// output dimension the map leaves out), or nullopt if the map is not an
/// order-keeping projection of the 4 output dimensions (constant results
/// must be 0 on a dimension of size 1).
static std::optional<SmallVector<int64_t>>
broadcastShape(AffineMap map, RankedTensorType type) {
  if (map.getNumDims() != 4 || map.getNumResults() != type.getRank())
    return std::nullopt;
  SmallVector<int64_t> shape(4, 1);
  int64_t last = -1;
  for (auto [i, e] : llvm::enumerate(map.getResults())) {
    if (auto d = dyn_cast<AffineDimExpr>(e)) {
      if (int64_t(d.getPosition()) <= last)
        return std::nullopt;
      last = d.getPosition();
      shape[last] = type.getDimSize(i);
      continue;
    }
    auto c = dyn_cast<AffineConstantExpr>(e);
    if (!c || c.getValue() != 0 || type.getDimSize(i) != 1)
      return std::nullopt;
  }
  return shape;
}

/// `v` reshaped to `shape` (same number of elements) through a collapse to
/// one dimension and an expansion.
static Value reshapeTo(OpBuilder &b, Location loc, Value v,
                       ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  auto target = RankedTensorType::get(shape, type.getElementType());
  if (type.getRank() == 0)
    return tensor::ExpandShapeOp::create(b, loc, target, v,
                                         ArrayRef<ReassociationIndices>{});
  if (type.getRank() > 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    v = tensor::CollapseShapeOp::create(b, loc, v,
                                        ArrayRef<ReassociationIndices>{all});
  }
  return tensor::ExpandShapeOp::create(
      b, loc, target, v, ArrayRef<ReassociationIndices>{{0, 1, 2, 3}});
}

static bool isEpilogueOp(Operation &op) {
  Type f32 = Float32Type::get(op.getContext());
  auto scalar = [&](Type t) { return t == f32 || t.isInteger(1); };
  return isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) &&
         op.getNumRegions() == 0 && op.getNumResults() == 1 &&
         llvm::all_of(op.getOperandTypes(), scalar) &&
         llvm::all_of(op.getResultTypes(), scalar);
}

/// Fuses `generic` into `kernel` (a packed f32 kernel whose only reader is
/// `generic`) if it has the form the pass description states.
template <typename OpTy>
static bool fuse(OpTy kernel, linalg::GenericOp generic) {
  Value result = kernel->getResult(0);
  auto outType = cast<RankedTensorType>(result.getType());
  if (generic.getNumDpsInits() != 1 || generic->getNumResults() != 1 ||
      generic->getResult(0).getType() != outType ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      generic.getNumLoops() != 4)
    return false;
  Block &body = generic.getRegion().front();
  OpOperand *init = generic.getDpsInitOperand(0);
  if (!generic.getMatchingIndexingMap(init).isIdentity() ||
      !generic.getMatchingBlockArgument(init).use_empty())
    return false;
  for (Operation &op : body.without_terminator())
    if (!isEpilogueOp(op))
      return false;
  // Each input: the kernel's result (identity map) or a new epilogue input.
  struct Input {
    BlockArgument arg;
    Value value;
    SmallVector<int64_t> shape;
    bool isAcc;
  };
  SmallVector<Input> inputs;
  for (OpOperand *in : generic.getDpsInputOperands()) {
    AffineMap map = generic.getMatchingIndexingMap(in);
    BlockArgument arg = generic.getMatchingBlockArgument(in);
    if (in->get() == result) {
      if (!map.isIdentity())
        return false;
      inputs.push_back({arg, Value(), {}, true});
      continue;
    }
    auto type = dyn_cast<RankedTensorType>(in->get().getType());
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
      return false;
    auto shape = broadcastShape(map, type);
    if (!shape)
      return false;
    inputs.push_back({arg, in->get(), *shape, false});
  }

  OpBuilder b(generic);
  Location loc = generic.getLoc();
  SmallVector<Value> epilogueInputs(kernel.getEpilogueInputs());
  size_t oldInputs = epilogueInputs.size();
  for (Input &in : inputs)
    if (!in.isAcc)
      epilogueInputs.push_back(reshapeTo(b, loc, in.value, in.shape));
  auto fused = OpTy::create(
      b, kernel.getLoc(), TypeRange{outType}, kernel.getInput(),
      kernel.getWeights(), kernel.getBias(), epilogueInputs,
      generic.getDpsInitOperand(0)->get(), kernel.getStrideAttr(),
      kernel.getPadAttr(), kernel.getDilationAttr());
  // The new epilogue: the kernel's own (if any), then the generic's body on
  // its value.
  Type f32 = b.getF32Type();
  Block *block = new Block();
  fused.getEpilogue().push_back(block);
  Value acc = block->addArgument(f32, loc);
  SmallVector<Value> newArgs;
  for (size_t i = 0; i < epilogueInputs.size(); ++i)
    newArgs.push_back(block->addArgument(f32, loc));
  OpBuilder inner = OpBuilder::atBlockEnd(block);
  IRMapping mapping;
  Value current = acc;
  if (Block *old = kernel.getEpilogueBlock()) {
    mapping.map(old->getArgument(0), acc);
    for (size_t i = 0; i < oldInputs; ++i)
      mapping.map(old->getArgument(i + 1), newArgs[i]);
    for (Operation &op : old->without_terminator())
      inner.clone(op, mapping);
    current = mapping.lookup(
        cast<YieldOp>(old->getTerminator()).getValues()[0]);
  }
  size_t next = oldInputs;
  for (Input &in : inputs)
    mapping.map(in.arg, in.isAcc ? current : newArgs[next++]);
  for (Operation &op : body.without_terminator())
    inner.clone(op, mapping);
  Value yielded = mapping.lookupOrDefault(
      cast<linalg::YieldOp>(body.getTerminator()).getValues()[0]);
  YieldOp::create(inner, loc, ValueRange{yielded});
  generic->getResult(0).replaceAllUsesWith(fused->getResult(0));
  generic.erase();
  kernel.erase();
  return true;
}

struct FuseF32EpiloguesPass
    : qat::impl::FuseF32EpiloguesPassBase<FuseF32EpiloguesPass> {
  void runOnOperation() override {
    // Repeat until nothing fuses: a fused kernel may be read by another
    // elementwise generic.
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<Operation *> kernels;
      getOperation().walk([&](Operation *op) {
        if (isa<PackedConv2DF32Op, PackedDepthwiseConv2DF32Op>(op))
          kernels.push_back(op);
      });
      for (Operation *op : kernels) {
        Value result = op->getResult(0);
        if (op->getNumResults() != 1 || result.use_empty())
          continue;
        auto generic = dyn_cast<linalg::GenericOp>(*result.user_begin());
        if (!generic ||
            llvm::any_of(result.getUsers(),
                         [&](Operation *u) { return u != generic; }))
          continue;
        bool fused = false;
        if (auto conv = dyn_cast<PackedConv2DF32Op>(op))
          fused = fuse(conv, generic);
        else
          fused = fuse(cast<PackedDepthwiseConv2DF32Op>(op), generic);
        numFused += fused;
        changed |= fused;
      }
    }
  }
};

} // namespace
