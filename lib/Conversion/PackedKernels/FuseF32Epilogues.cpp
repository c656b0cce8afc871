//===- FuseF32Epilogues.cpp - qat-fuse-f32-epilogues ----------------------===//
//
// An elementwise linalg.generic that reads the result of a packed f32 kernel
// (forward, or the data gradient of a convolution) becomes that kernel's
// epilogue region, its other inputs epilogue inputs reshaped to rank 4
// (QATFloatKernelOps.td, "Epilogue"); i32 inputs that the body only
// converts to f32 (zero points) enter converted. A per-tensor observer's
// lane reduction joins the elementwise generic that produces its input.
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

/// `kernel` again, with `epilogueInputs` and `init` (no epilogue region
/// yet).
static PackedConv2DF32Op recreate(OpBuilder &b, PackedConv2DF32Op k,
                                  RankedTensorType type,
                                  ValueRange epilogueInputs, Value init) {
  return PackedConv2DF32Op::create(b, k.getLoc(), TypeRange{type}, k.getInput(),
                                   k.getWeights(), k.getBias(), epilogueInputs,
                                   init, k.getStrideAttr(), k.getPadAttr(),
                                   k.getDilationAttr(), k.getGroupsAttr());
}
static PackedDepthwiseConv2DF32Op
recreate(OpBuilder &b, PackedDepthwiseConv2DF32Op k, RankedTensorType type,
         ValueRange epilogueInputs, Value init) {
  return PackedDepthwiseConv2DF32Op::create(
      b, k.getLoc(), TypeRange{type}, k.getInput(), k.getWeights(), k.getBias(),
      epilogueInputs, init, k.getStrideAttr(), k.getPadAttr(),
      k.getDilationAttr());
}
static Conv2DBackwardDataF32Op recreate(OpBuilder &b, Conv2DBackwardDataF32Op k,
                                        RankedTensorType type,
                                        ValueRange epilogueInputs, Value init) {
  return Conv2DBackwardDataF32Op::create(
      b, k.getLoc(), TypeRange{type}, k.getGradOutput(), k.getWeight(),
      epilogueInputs, init, k.getPadAttr(), k.getStrideAttr(),
      k.getDilationAttr());
}
static DepthwiseConv2DBackwardDataF32Op
recreate(OpBuilder &b, DepthwiseConv2DBackwardDataF32Op k,
         RankedTensorType type, ValueRange epilogueInputs, Value init) {
  return DepthwiseConv2DBackwardDataF32Op::create(
      b, k.getLoc(), TypeRange{type}, k.getGradOutput(), k.getWeight(),
      epilogueInputs, init, k.getPadAttr(), k.getStrideAttr(),
      k.getDilationAttr());
}

/// Whether every use of `arg` (an i32 block argument) is an
/// `arith.sitofp` to f32: the input then enters the epilogue converted once,
/// outside the kernel (a zero point, as in the fake quantizers' masks).
static bool onlyConvertedToF32(BlockArgument arg) {
  return !arg.use_empty() && llvm::all_of(arg.getUsers(), [](Operation *u) {
    auto c = dyn_cast<arith::SIToFPOp>(u);
    return c && c.getType().isF32();
  });
}

/// `v` (an i32 tensor) converted to f32 element by element.
static Value toF32(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  auto f32Type = RankedTensorType::get(type.getShape(), b.getF32Type());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), b.getF32Type());
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iters(type.getRank(),
                                         utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{f32Type}, ValueRange{v}, ValueRange{init},
             ArrayRef<AffineMap>{id, id}, iters,
             [](OpBuilder &nb, Location l, ValueRange a) {
               Value f = arith::SIToFPOp::create(nb, l, nb.getF32Type(), a[0]);
               linalg::YieldOp::create(nb, l, f);
             })
      .getResult(0);
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
  // i32 inputs whose every use converts them to f32 (zero points).
  llvm::SmallPtrSet<Operation *, 4> conversions;
  for (OpOperand *in : generic.getDpsInputOperands()) {
    BlockArgument arg = generic.getMatchingBlockArgument(in);
    if (arg.getType().isInteger(32) && onlyConvertedToF32(arg))
      for (Operation *u : arg.getUsers())
        conversions.insert(u);
  }
  for (Operation &op : body.without_terminator())
    if (!conversions.contains(&op) && !isEpilogueOp(op))
      return false;
  // Each input: the kernel's result (identity map) or a new epilogue input.
  struct Input {
    BlockArgument arg;
    Value value;
    SmallVector<int64_t> shape;
    bool isAcc;
    bool converted = false; // an i32 input, converted to f32 outside
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
    bool converted = arg.getType().isInteger(32) && onlyConvertedToF32(arg);
    if (!type || !type.hasStaticShape() ||
        !(type.getElementType().isF32() || converted))
      return false;
    auto shape = broadcastShape(map, type);
    if (!shape)
      return false;
    inputs.push_back({arg, in->get(), *shape, false, converted});
  }

  OpBuilder b(generic);
  Location loc = generic.getLoc();
  SmallVector<Value> epilogueInputs(kernel.getEpilogueInputs());
  size_t oldInputs = epilogueInputs.size();
  for (Input &in : inputs)
    if (!in.isAcc)
      epilogueInputs.push_back(reshapeTo(
          b, loc, in.converted ? toF32(b, loc, in.value) : in.value, in.shape));
  OpTy fused = recreate(b, kernel, outType, epilogueInputs,
                        generic.getDpsInitOperand(0)->get());
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
    current =
        mapping.lookup(cast<YieldOp>(old->getTerminator()).getValues()[0]);
  }
  size_t next = oldInputs;
  for (Input &in : inputs) {
    if (in.isAcc) {
      mapping.map(in.arg, current);
      continue;
    }
    Value arg = newArgs[next++];
    if (!in.converted) {
      mapping.map(in.arg, arg);
      continue;
    }
    // The conversions of a converted input are its f32 argument.
    for (Operation *u : in.arg.getUsers())
      mapping.map(u->getResult(0), arg);
  }
  for (Operation &op : body.without_terminator())
    if (!conversions.contains(&op))
      inner.clone(op, mapping);
  Value yielded = mapping.lookupOrDefault(
      cast<linalg::YieldOp>(body.getTerminator()).getValues()[0]);
  YieldOp::create(inner, loc, ValueRange{yielded});
  generic->getResult(0).replaceAllUsesWith(fused->getResult(0));
  generic.erase();
  kernel.erase();
  return true;
}

//===----------------------------------------------------------------------===//
// Observers fused into the elementwise op that produces their input
//===----------------------------------------------------------------------===//

/// The tensor `v` flattened and reshaped to `shape` (same element count).
static Value reshapeFlat(OpBuilder &b, Location loc, Value v,
                         ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  if (type.getRank() > 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    v = tensor::CollapseShapeOp::create(b, loc, v,
                                        ArrayRef<ReassociationIndices>{all});
  }
  if (shape.size() == 1)
    return v;
  ReassociationIndices all;
  for (int64_t i = 0; i < int64_t(shape.size()); ++i)
    all.push_back(i);
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), v,
      ArrayRef<ReassociationIndices>{all});
}

/// The tensor a per-tensor observer's lane reduction reads through `view`:
/// `view` itself, or the tensor whose flattening `view` expands (the rows
/// of 16 of the flattened tensor, or of a rank-1 one).
static Value observedTensor(Value view) {
  auto expand = view.getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand)
    return view;
  Value flat = expand.getSrc();
  if (cast<RankedTensorType>(flat.getType()).getRank() != 1)
    return Value();
  if (auto collapse = flat.getDefiningOp<tensor::CollapseShapeOp>())
    return collapse.getSrc();
  return flat;
}

/// The first reduction of a per-tensor observer as convert-qat-to-linalg
/// writes it: 16 running ranges over the rows of 16 of the flattened input
/// (iterators [reduction, parallel], maps (r, l) -> (r, l), (l), (l), body
/// `minnumf(min, x)`, `maxnumf(max, x)`), its input produced by an
/// elementwise generic (all loops parallel, identity maps, one result, no
/// index ops): the two become one generic over the rows of 16 that computes
/// the elementwise result, stores it and takes its range, so the result is
/// not read a second time. The same operations on the same elements in the
/// same order: the unfused bits, range included.
static bool fuseObserver(linalg::GenericOp obs) {
  // The rows of 16 may have been folded into the producer's shape (a
  // tensor whose last dimension is 16): loops [reduction..., parallel],
  // maps identity, (last), (last).
  MLIRContext *ctx = obs.getContext();
  unsigned rank = obs.getNumLoops();
  if (rank < 2 || obs.getNumDpsInputs() != 1 || obs.getNumDpsInits() != 2)
    return false;
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap lane = AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx));
  SmallVector<utils::IteratorType> iterators(rank - 1,
                                             utils::IteratorType::reduction);
  iterators.push_back(utils::IteratorType::parallel);
  if (obs.getIteratorTypesArray() != iterators ||
      obs.getIndexingMapsArray() != SmallVector<AffineMap>{id, lane, lane})
    return false;
  Block &body = obs.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  auto mn = dyn_cast<arith::MinNumFOp>(&body.front());
  auto mx = mn ? dyn_cast<arith::MaxNumFOp>(mn->getNextNode()) : nullptr;
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!mn || !mx || mn.getLhs() != body.getArgument(1) ||
      mn.getRhs() != body.getArgument(0) ||
      mx.getLhs() != body.getArgument(2) ||
      mx.getRhs() != body.getArgument(0) || yield.getNumOperands() != 2 ||
      yield.getOperand(0) != mn.getResult() ||
      yield.getOperand(1) != mx.getResult())
    return false;
  // The inits: fills of constants.
  SmallVector<Value> fillValues;
  for (Value init : obs.getDpsInits()) {
    auto fill = init.getDefiningOp<linalg::FillOp>();
    if (!fill || !fill.getInputs()[0].getDefiningOp<arith::ConstantOp>())
      return false;
    fillValues.push_back(fill.getInputs()[0]);
  }
  auto rowsType = cast<RankedTensorType>(obs.getDpsInputs()[0].getType());
  if (!rowsType.hasStaticShape())
    return false;
  Value x = observedTensor(obs.getDpsInputs()[0]);
  auto producer = x ? x.getDefiningOp<linalg::GenericOp>() : nullptr;
  if (!producer || producer->getNumResults() != 1 ||
      producer.getNumParallelLoops() != producer.getNumLoops() ||
      !llvm::all_of(producer.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }) ||
      !producer.getBody()->getOps<linalg::IndexOp>().empty())
    return false;
  auto xType = cast<RankedTensorType>(x.getType());
  if (!xType.hasStaticShape() ||
      xType.getNumElements() != rowsType.getNumElements())
    return false;
  for (Value v : producer->getOperands())
    if (cast<RankedTensorType>(v.getType()).getShape() != xType.getShape())
      return false;

  OpBuilder b(producer);
  Location loc = producer.getLoc();
  ArrayRef<int64_t> rowsShape = rowsType.getShape();
  SmallVector<Value> ins;
  for (Value v : producer.getDpsInputs())
    ins.push_back(reshapeFlat(b, loc, v, rowsShape));
  SmallVector<Value> outs{
      reshapeFlat(b, loc, producer.getDpsInits()[0], rowsShape)};
  auto laneType = cast<RankedTensorType>(obs.getResult(0).getType());
  for (Value c : fillValues) {
    Value e = tensor::EmptyOp::create(b, loc, laneType.getShape(),
                                      laneType.getElementType());
    outs.push_back(linalg::FillOp::create(b, loc, c, e).getResult(0));
  }
  SmallVector<AffineMap> maps(ins.size() + 1, id);
  maps.append({lane, lane});
  SmallVector<Type> types{outs[0].getType(), laneType, laneType};
  auto fused =
      linalg::GenericOp::create(b, loc, types, ins, outs, maps, iterators);
  Block *block = b.createBlock(&fused.getRegion());
  for (Value v : ins)
    block->addArgument(getElementTypeOrSelf(v.getType()), loc);
  for (Value v : outs)
    block->addArgument(getElementTypeOrSelf(v.getType()), loc);
  IRMapping mapping;
  Block &pBody = *producer.getBody();
  for (auto [i, arg] : llvm::enumerate(pBody.getArguments()))
    mapping.map(arg, block->getArgument(i));
  b.setInsertionPointToStart(block);
  for (Operation &op : pBody.without_terminator())
    b.clone(op, mapping);
  Value y = mapping.lookupOrDefault(
      cast<linalg::YieldOp>(pBody.getTerminator()).getOperand(0));
  IRMapping obsMapping;
  obsMapping.map(body.getArgument(0), y);
  obsMapping.map(body.getArgument(1), block->getArgument(ins.size() + 1));
  obsMapping.map(body.getArgument(2), block->getArgument(ins.size() + 2));
  Value newMin = b.clone(*mn, obsMapping)->getResult(0);
  Value newMax = b.clone(*mx, obsMapping)->getResult(0);
  linalg::YieldOp::create(b, loc, ValueRange{y, newMin, newMax});

  b.setInsertionPointAfter(fused);
  Value result = fused.getResult(0);
  if (xType.getShape() != rowsShape)
    result = reshapeFlat(b, loc, result, {xType.getNumElements()});
  if (xType.getShape() != rowsShape && xType.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < xType.getRank(); ++i)
      all.push_back(i);
    result = tensor::ExpandShapeOp::create(b, loc, xType, result,
                                           ArrayRef<ReassociationIndices>{all});
  }
  obs.getResult(0).replaceAllUsesWith(fused.getResult(1));
  obs.getResult(1).replaceAllUsesWith(fused.getResult(2));
  obs.erase();
  producer.getResult(0).replaceAllUsesWith(result);
  producer.erase();
  return true;
}

struct FuseF32EpiloguesPass
    : qat::impl::FuseF32EpiloguesPassBase<FuseF32EpiloguesPass> {
  using Base::Base;
  void runOnOperation() override {
    // Repeat until nothing fuses: a fused kernel may be read by another
    // elementwise generic.
    bool changed = true;
    while (changed) {
      changed = false;
      SmallVector<Operation *> kernels;
      getOperation().walk([&](Operation *op) {
        if (isa<PackedConv2DF32Op, PackedDepthwiseConv2DF32Op,
                Conv2DBackwardDataF32Op, DepthwiseConv2DBackwardDataF32Op>(op))
          kernels.push_back(op);
      });
      for (Operation *op : kernels) {
        Value result = op->getResult(0);
        if (op->getNumResults() != 1 || result.use_empty())
          continue;
        auto generic = dyn_cast<linalg::GenericOp>(*result.user_begin());
        if (!generic || llvm::any_of(result.getUsers(), [&](Operation *u) {
              return u != generic;
            }))
          continue;
        bool fused = false;
        if (auto conv = dyn_cast<PackedConv2DF32Op>(op))
          fused = fuse(conv, generic);
        else if (auto dw = dyn_cast<PackedDepthwiseConv2DF32Op>(op))
          fused = fuse(dw, generic);
        else if (auto bd = dyn_cast<Conv2DBackwardDataF32Op>(op))
          fused = fuse(bd, generic);
        else
          fused = fuse(cast<DepthwiseConv2DBackwardDataF32Op>(op), generic);
        numFused += fused;
        changed |= fused;
      }
    }
    // After the kernels took theirs: an elementwise generic the observer
    // fuses into is not a kernel's epilogue.
    if (!observers)
      return;
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    for (linalg::GenericOp op : generics)
      numObservers += fuseObserver(op);
  }
};

} // namespace
