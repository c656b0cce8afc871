//===- LinalgToLoops.cpp - qat-linalg-to-loops ----------------------------===//
//
// Linalg ops whose innermost loop is parallel to affine loops (vectorizable
// along that loop; reductions outside it keep their order), others to scf
// loops (never vectorized, so reductions keep their order), except NHWC
// pooling ops: their window loops go outside the channel loop, which the
// affine vectorizer then takes (each window is still reduced in order).
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "CopyChain.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LINALGTOLOOPSPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

/// A copy into a fresh buffer that is copied on at once, `copy %a, %t;
/// copy %t, %b` with `%t` a `memref.alloc` used by nothing else (but its
/// dealloc), becomes `copy %a, %b`: the same bytes end up in %b with
/// nothing in between. qat-copy-global-stores makes every store into a
/// global such a pair (the tensor copied, the copy stored); in a training
/// step each updated parameter and momentum buffer went through memory
/// twice (ResNet-18: 4 x 47 MB per step, 4.7 % of the step in memmove).
/// Returns true if `first` was folded into the copy after it.
bool mlir::qat::foldCopyChain(IRRewriter &rewriter, memref::CopyOp first) {
  auto second = dyn_cast_or_null<memref::CopyOp>(first->getNextNode());
  Value tmp = first.getTarget();
  if (!second || second.getSource() != tmp || second.getTarget() == tmp ||
      second.getTarget() == first.getSource())
    return false;
  auto alloc = tmp.getDefiningOp<memref::AllocOp>();
  if (!alloc || !alloc.getDynamicSizes().empty() ||
      !alloc.getSymbolOperands().empty())
    return false;
  SmallVector<Operation *> deallocs;
  for (Operation *user : tmp.getUsers()) {
    if (user == first || user == second)
      continue;
    if (!isa<memref::DeallocOp>(user))
      return false;
    deallocs.push_back(user);
  }
  rewriter.modifyOpInPlace(
      second, [&] { second.getSourceMutable().assign(first.getSource()); });
  rewriter.eraseOp(first);
  for (Operation *d : deallocs)
    rewriter.eraseOp(d);
  rewriter.eraseOp(alloc);
  return true;
}

SmallVector<memref::CopyOp> mlir::qat::foldCopyChains(IRRewriter &rewriter,
                                                      Operation *root) {
  SmallVector<memref::CopyOp> copies;
  root->walk([&](memref::CopyOp op) { copies.push_back(op); });
  SmallVector<memref::CopyOp> remaining;
  for (memref::CopyOp copy : copies)
    if (!foldCopyChain(rewriter, copy))
      remaining.push_back(copy);
  return remaining;
}

namespace {
/// The number of trailing dimensions of `type` that are contiguous in
/// memory (at least 1 if the innermost stride is 1, else 0).
int64_t contiguousTrailingDims(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) || strides.empty() ||
      strides.back() != 1)
    return 0;
  int64_t dims = 1, expected = type.getShape().back();
  for (int64_t d = type.getRank() - 2; d >= 0; --d) {
    if (ShapedType::isDynamic(strides[d]) || strides[d] != expected)
      break;
    expected *= type.getShape()[d];
    ++dims;
  }
  return dims;
}

/// A copy between static memrefs whose innermost dimension is contiguous
/// on both sides, and that are not both contiguous (that copy becomes one
/// memcpy): the trailing dimensions contiguous on both sides are collapsed
/// into rows, and each row is copied by 64-byte vector loads and stores,
/// then element by element for the rest. The upstream lowering calls a
/// generic runtime copy instead, element by element with index arithmetic.
/// Returns false if the copy is left as it is.
bool lowerCopy(IRRewriter &rewriter, memref::CopyOp copy) {
  auto srcType = dyn_cast<MemRefType>(copy.getSource().getType());
  auto dstType = dyn_cast<MemRefType>(copy.getTarget().getType());
  if (!srcType || !dstType || !srcType.hasStaticShape() ||
      srcType.getRank() == 0 ||
      (srcType.getLayout().isIdentity() && dstType.getLayout().isIdentity()) ||
      !srcType.getElementType().isIntOrFloat() ||
      srcType.getElementType().getIntOrFloatBitWidth() % 8 != 0)
    return false;
  int64_t rank = srcType.getRank();
  int64_t trailing = std::min(contiguousTrailingDims(srcType),
                              contiguousTrailingDims(dstType));
  if (trailing == 0)
    return false;
  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  Value src = copy.getSource(), dst = copy.getTarget();
  if (trailing > 1) {
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d < rank - trailing; ++d)
      groups.push_back({d});
    ReassociationIndices last;
    for (int64_t d = rank - trailing; d < rank; ++d)
      last.push_back(d);
    groups.push_back(last);
    src = memref::CollapseShapeOp::create(rewriter, loc, src, groups);
    dst = memref::CollapseShapeOp::create(rewriter, loc, dst, groups);
  }
  auto rowType = cast<MemRefType>(src.getType());
  int64_t outer = rowType.getRank() - 1;
  int64_t n = rowType.getShape().back();
  Type elem = rowType.getElementType();
  int64_t lanes = 512 / elem.getIntOrFloatBitWidth();
  int64_t full = n / lanes * lanes;

  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(rewriter, loc, v).getResult();
  };
  Value zero = c(0), one = c(1);
  SmallVector<Value> idx;
  // Nested loops over the outer dimensions, then the row.
  for (int64_t d = 0; d < outer; ++d) {
    auto loop =
        scf::ForOp::create(rewriter, loc, zero, c(rowType.getShape()[d]), one);
    rewriter.setInsertionPointToStart(loop.getBody());
    idx.push_back(loop.getInductionVar());
  }
  if (full > 0) {
    auto loop = scf::ForOp::create(rewriter, loc, zero, c(full), c(lanes));
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> at = idx;
    at.push_back(loop.getInductionVar());
    auto vecType = VectorType::get({lanes}, elem);
    Value v = vector::LoadOp::create(rewriter, loc, vecType, src, at);
    vector::StoreOp::create(rewriter, loc, v, dst, at);
  }
  if (full < n) {
    auto loop = scf::ForOp::create(rewriter, loc, c(full), c(n), one);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(loop.getBody());
    SmallVector<Value> at = idx;
    at.push_back(loop.getInductionVar());
    Value v = memref::LoadOp::create(rewriter, loc, src, at);
    memref::StoreOp::create(rewriter, loc, v, dst, at);
  }
  rewriter.eraseOp(copy);
  return true;
}

/// An elementwise generic on buffers (every loop parallel, every operand an
/// identity-layout static memref indexed by the identity map, or a 0-d input
/// indexed by `() `, no linalg.index) is rewritten to one loop over all its
/// elements, its 0-d inputs loaded once before it:
///  - the affine vectorizer takes only the innermost loop, so an NHWC tensor
///    of 8 channels got half-filled 16-lane vectors, and one of 1 channel
///    (an image) scalar code; collapsed, the loop runs whole vectors;
///  - a 0-d input (a fake quantizer's scale and zero point) read inside the
///    loop is reloaded per vector with what depends on it (1 / scale): LLVM
///    cannot tell the output's stores from it. Loaded before the loop, the
///    body's arithmetic on it is loop-invariant and hoisted.
/// Each element's computation is unchanged (same ops, same operand values).
/// Returns the new op, or null if `op` is left as it is.
linalg::GenericOp flattenElementwise(IRRewriter &rewriter,
                                     linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0 ||
      op.getNumLoops() != op.getNumParallelLoops() || op.hasIndexSemantics())
    return nullptr;
  int64_t rank = op.getNumLoops();
  ArrayRef<int64_t> shape;
  bool scalars = false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity())
      return nullptr;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (type.getRank() == 0 && map.getNumResults() == 0 &&
        op.isDpsInput(&operand)) {
      scalars = true;
      continue;
    }
    if (!map.isIdentity() || type.getRank() != rank)
      return nullptr;
    if (shape.empty())
      shape = type.getShape();
    else if (shape != type.getShape())
      return nullptr;
  }
  if (shape.empty() || (rank == 1 && !scalars))
    return nullptr;
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  ReassociationIndices all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  auto flat = [&](Value v) -> Value {
    if (rank == 1)
      return v;
    return memref::CollapseShapeOp::create(rewriter, loc, v,
                                           ArrayRef<ReassociationIndices>{all});
  };
  MLIRContext *ctx = op.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<Value> inputs, outputs;
  SmallVector<AffineMap> maps;
  IRMapping map;
  Block &body = op.getRegion().front();
  SmallVector<std::pair<BlockArgument, Value>> loaded;
  for (OpOperand *operand : op.getDpsInputOperands()) {
    BlockArgument arg = body.getArgument(operand->getOperandNumber());
    if (cast<MemRefType>(operand->get().getType()).getRank() == 0) {
      loaded.push_back(
          {arg, memref::LoadOp::create(rewriter, loc, operand->get())});
      continue;
    }
    inputs.push_back(flat(operand->get()));
    maps.push_back(id);
  }
  for (OpOperand &operand : op.getDpsInitsMutable()) {
    outputs.push_back(flat(operand.get()));
    maps.push_back(id);
  }
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{}, inputs, outputs, maps,
      SmallVector<utils::IteratorType>{utils::IteratorType::parallel});
  Block *newBody = rewriter.createBlock(&generic.getRegion());
  for (auto [arg, value] : loaded)
    map.map(arg, value);
  for (BlockArgument arg : body.getArguments())
    if (!map.contains(arg))
      map.map(arg, newBody->addArgument(arg.getType(), arg.getLoc()));
  rewriter.setInsertionPointToStart(newBody);
  for (Operation &inner : body)
    rewriter.clone(inner, map);
  rewriter.eraseOp(op);
  return generic;
}

/// The lane reduction of an observer (qat-convert-qat-to-linalg: per
/// tensor rows x 16 lanes, iterators (reduction, parallel), the 16 running
/// ranges as outputs indexed by the lane; per channel the same with the
/// channels outermost, channels x rows x 16, iterators (parallel,
/// reduction, parallel), the ranges channels x 16), alone or joined with
/// the elementwise op that produces its input (qat-fuse-f32-epilogues: an
/// output indexed like the rows), becomes one loop over the rows (per
/// channel) on vectors of 16 lanes, the running ranges carried in
/// registers (`scf.for` iter_args) and stored once after the loop. Lowered
/// to affine loops, the ranges went through memory on every row: LLVM
/// cannot tell them from the op's other output, so each row waited for the
/// previous row's store. Each lane applies the body's ops to the rows in
/// the same order. Returns false if `op` is left as it is.
bool lowerLaneReduction(IRRewriter &rewriter, linalg::GenericOp op) {
  constexpr int64_t lanes = 16;
  using It = utils::IteratorType;
  if (!op.hasPureBufferSemantics() || op.hasIndexSemantics())
    return false;
  // Iterators [parallel (channels)] reduction... parallel (lanes); the
  // reduction loops (the rows) may be several when the observer's reshape
  // was folded into the generic.
  SmallVector<It> iterators = op.getIteratorTypesArray();
  unsigned nloops = iterators.size();
  bool perChannel = nloops >= 3 && iterators.front() == It::parallel;
  unsigned firstRow = perChannel ? 1 : 0;
  if (nloops < 2 || iterators.back() != It::parallel ||
      nloops - 1 == firstRow ||
      !llvm::all_of(
          ArrayRef<It>(iterators).slice(firstRow, nloops - 1 - firstRow),
          [](It it) { return it == It::reduction; }))
    return false;
  MLIRContext *ctx = op.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(nloops, ctx);
  AffineMap lane =
      perChannel ? AffineMap::get(nloops, 0,
                                  {getAffineDimExpr(0, ctx),
                                   getAffineDimExpr(nloops - 1, ctx)},
                                  ctx)
                 : AffineMap::get(nloops, 0, getAffineDimExpr(nloops - 1, ctx));
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ShapedType::isDynamicShape(ranges) || ranges.back() != lanes)
    return false;
  int64_t rows = 1;
  for (unsigned d = firstRow; d + 1 < nloops; ++d)
    rows *= ranges[d];
  int64_t channels = perChannel ? ranges[0] : 1;
  bool anyLane = false;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.hasStaticShape() || !type.getLayout().isIdentity() ||
        !type.getElementType().isIntOrFloat())
      return false;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (map == lane && op.isDpsInit(&operand)) {
      anyLane = true;
      continue;
    }
    if (map != id)
      return false;
  }
  if (!anyLane || rows < 1 || channels < 1)
    return false;
  // A body of scalar elementwise arith/math ops on its own arguments.
  Block &body = op.getRegion().front();
  for (Operation &inner : body.without_terminator()) {
    bool constant =
        isa<arith::ConstantOp>(inner) &&
        isa<IntegerAttr, FloatAttr>(cast<arith::ConstantOp>(inner).getValue());
    if (!constant &&
        (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
         !inner.hasTrait<OpTrait::Elementwise>() || inner.getNumRegions() != 0))
      return false;
    for (Type t : inner.getResultTypes())
      if (!t.isIntOrFloat())
        return false;
    for (Value v : inner.getOperands())
      if (v.getParentBlock() != &body)
        return false;
  }
  for (Value v : body.getTerminator()->getOperands())
    if (v.getParentBlock() != &body)
      return false;

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(rewriter, loc, v).getResult();
  };
  Value zero = c(0);
  std::optional<scf::ForOp> channelLoop;
  Value channel;
  if (perChannel) {
    channelLoop = scf::ForOp::create(rewriter, loc, zero, c(channels), c(1));
    rewriter.setInsertionPointToStart(channelLoop->getBody());
    channel = channelLoop->getInductionVar();
  }
  // Indices of a lane output and of a row.
  auto laneAt = [&]() -> SmallVector<Value> {
    if (perChannel)
      return {channel, zero};
    return {zero};
  };
  auto rowAt = [&](Value row) -> SmallVector<Value> {
    if (perChannel)
      return {channel, row, zero};
    return {row, zero};
  };
  auto vec = [&](Type t) { return VectorType::get({lanes}, t); };
  // Each operand indexed like the rows as [channels,] rows x 16.
  DenseMap<OpOperand *, Value> rowsOf;
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(channelLoop ? channelLoop->getOperation()
                                           : op.getOperation());
    ReassociationIndices middle;
    for (unsigned d = firstRow; d + 1 < nloops; ++d)
      middle.push_back(d);
    SmallVector<ReassociationIndices> groups;
    if (perChannel)
      groups.push_back({0});
    groups.push_back(middle);
    groups.push_back({static_cast<int64_t>(nloops) - 1});
    for (OpOperand &operand : op->getOpOperands()) {
      if (op.getMatchingIndexingMap(&operand) == lane)
        continue;
      Value v = operand.get();
      if (middle.size() != 1)
        v = memref::CollapseShapeOp::create(rewriter, loc, v, groups);
      rowsOf[&operand] = v;
    }
  }
  SmallVector<Value> accs;
  for (OpOperand &init : op.getDpsInitsMutable())
    if (op.getMatchingIndexingMap(&init) == lane)
      accs.push_back(vector::LoadOp::create(
          rewriter, loc, vec(getElementTypeOrSelf(init.get().getType())),
          init.get(), laneAt()));
  auto loop = scf::ForOp::create(rewriter, loc, zero, c(rows), c(1), accs);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(loop.getBody());
    Value row = loop.getInductionVar();
    IRMapping map;
    unsigned acc = 0;
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = body.getArgument(operand.getOperandNumber());
      if (op.getMatchingIndexingMap(&operand) == lane) {
        map.map(arg, loop.getRegionIterArgs()[acc++]);
        continue;
      }
      if (arg.use_empty())
        continue;
      map.map(arg, vector::LoadOp::create(rewriter, loc, vec(arg.getType()),
                                          rowsOf[&operand], rowAt(row)));
    }
    for (Operation &inner : body.without_terminator()) {
      if (auto cst = dyn_cast<arith::ConstantOp>(inner)) {
        auto type = vec(cst.getType());
        map.map(cst.getResult(),
                arith::ConstantOp::create(
                    rewriter, loc, type,
                    SplatElementsAttr::get(type, cst.getValue())));
        continue;
      }
      Operation *clone = rewriter.clone(inner, map);
      for (Value r : clone->getResults())
        r.setType(vec(r.getType()));
    }
    SmallVector<Value> next;
    for (auto [init, value] : llvm::zip(op.getDpsInitsMutable(),
                                        body.getTerminator()->getOperands())) {
      Value v = map.lookup(value);
      if (op.getMatchingIndexingMap(&init) == lane)
        next.push_back(v);
      else
        vector::StoreOp::create(rewriter, loc, v, rowsOf[&init], rowAt(row));
    }
    scf::YieldOp::create(rewriter, loc, next);
  }
  unsigned acc = 0;
  for (OpOperand &init : op.getDpsInitsMutable())
    if (op.getMatchingIndexingMap(&init) == lane)
      vector::StoreOp::create(rewriter, loc, loop.getResult(acc++), init.get(),
                              laneAt());
  rewriter.eraseOp(op);
  return true;
}

/// Splits `loop` (an `affine.for` from 0 to n, step 1, of at least 256
/// iterations) into chunks run by `affine.parallel`: chunk = 16 x floor(n /
/// 256) iterations (whole vectors of 16 for the vectorizer), at least 16
/// chunks, then the n mod chunk last iterations in a loop of their own.
/// The iterations and their order within each chunk are unchanged.
void splitOverThreads(IRRewriter &rewriter, affine::AffineForOp loop) {
  int64_t n = loop.getConstantUpperBound();
  int64_t chunk = 16 * (n / 256);
  int64_t chunks = n / chunk, done = chunks * chunk;
  Location loc = loop.getLoc();
  MLIRContext *ctx = loop.getContext();
  rewriter.setInsertionPointAfter(loop);
  if (done < n) {
    auto rest = cast<affine::AffineForOp>(rewriter.clone(*loop));
    rest.setConstantLowerBound(done);
  }
  rewriter.setInsertionPoint(loop);
  auto par = affine::AffineParallelOp::create(rewriter, loc, TypeRange{},
                                              ArrayRef<arith::AtomicRMWKind>{},
                                              ArrayRef<int64_t>{chunks});
  Value t = par.getIVs()[0];
  AffineExpr d0 = getAffineDimExpr(0, ctx);
  loop.setLowerBound({t}, AffineMap::get(1, 0, d0 * chunk));
  loop.setUpperBound({t}, AffineMap::get(1, 0, d0 * chunk + chunk));
  loop->moveBefore(par.getBody()->getTerminator());
}

/// The 1-D loop of an elementwise op or a contiguous copy worth splitting
/// over threads (see splitOverThreads).
bool worthSplitting(int64_t n, int64_t minElements) {
  return n >= std::max<int64_t>(minElements, 256);
}

/// A copy between static identity-layout memrefs of `minElements` or
/// more elements: a loop over the elements of both collapsed to 1-D, split
/// over threads (upstream makes it one memcpy, on one thread). Returns
/// false if the copy is left as it is.
bool splitCopy(IRRewriter &rewriter, memref::CopyOp copy, int64_t minElements) {
  auto srcType = dyn_cast<MemRefType>(copy.getSource().getType());
  auto dstType = dyn_cast<MemRefType>(copy.getTarget().getType());
  if (!srcType || !dstType || !srcType.hasStaticShape() ||
      !srcType.getLayout().isIdentity() || !dstType.getLayout().isIdentity() ||
      srcType.getRank() == 0 || !srcType.getElementType().isIntOrFloat() ||
      !worthSplitting(srcType.getNumElements(), minElements))
    return false;
  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  int64_t rank = srcType.getRank();
  auto flat = [&](Value v) -> Value {
    if (rank == 1)
      return v;
    ReassociationIndices all;
    for (int64_t d = 0; d < rank; ++d)
      all.push_back(d);
    return memref::CollapseShapeOp::create(rewriter, loc, v,
                                           ArrayRef<ReassociationIndices>{all});
  };
  Value src = flat(copy.getSource()), dst = flat(copy.getTarget());
  auto loop = affine::AffineForOp::create(rewriter, loc, 0,
                                          srcType.getNumElements(), 1);
  {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    Value v = affine::AffineLoadOp::create(rewriter, loc, src, ValueRange{i});
    affine::AffineStoreOp::create(rewriter, loc, v, dst, ValueRange{i});
  }
  rewriter.eraseOp(copy);
  splitOverThreads(rewriter, loop);
  return true;
}

struct LinalgToLoopsPass : qat::impl::LinalgToLoopsPassBase<LinalgToLoopsPass> {
  using LinalgToLoopsPassBase::LinalgToLoopsPassBase;
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : qat::foldCopyChains(rewriter, getOperation()))
      if (!(parallel && splitCopy(rewriter, copy, minParallelElements)))
        lowerCopy(rewriter, copy);
    for (linalg::LinalgOp op : ops) {
      if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation())) {
        if (lowerLaneReduction(rewriter, generic))
          continue;
        if (linalg::GenericOp flat = flattenElementwise(rewriter, generic))
          op = flat;
      }
      rewriter.setInsertionPoint(op);
      bool allParallel = op.getNumLoops() == op.getNumParallelLoops();
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
      // An op whose innermost loop is parallel (reductions outside it, as
      // the lanes of a per-tensor observer or a reduction over N, H, W of
      // NHWC data) also gets affine loops: the vectorizer takes only the
      // innermost parallel loop, so each output element still sums its
      // terms in the same order, and the vector ops round as the scalar ones.
      bool innermostParallel =
          op.getNumLoops() > 0 &&
          op.getIteratorTypesArray().back() == utils::IteratorType::parallel;
      FailureOr<linalg::LinalgLoops> loops =
          (allParallel || innermostParallel) && identityLayouts
              ? linalg::linalgOpToAffineLoops(rewriter, op)
              : linalg::linalgOpToLoops(rewriter, op);
      if (failed(loops)) {
        op->emitError("qat-linalg-to-loops could not lower this op to loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
      // A large elementwise op of one loop (flattened above): split over
      // threads.
      if (parallel && allParallel && identityLayouts && loops->size() == 1)
        if (auto loop = dyn_cast<affine::AffineForOp>(loops->front()))
          if (loop.hasConstantBounds() && loop.getConstantLowerBound() == 0 &&
              loop.getStepAsInt() == 1 &&
              worthSplitting(loop.getConstantUpperBound(), minParallelElements))
            splitOverThreads(rewriter, loop);
    }
  }
};
} // namespace
