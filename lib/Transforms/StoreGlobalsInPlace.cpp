//===- StoreGlobalsInPlace.cpp - qat-store-globals-in-place ---------------===//
//
// An elementwise linalg.generic whose result is copied whole into a private
// global writes the global's buffer directly (a training step's parameter
// and momentum updates); see Passes.td for the conditions.
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "CopyChain.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::qat {
#define GEN_PASS_DEF_STOREGLOBALSINPLACEPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {
/// The buffer `v` is a view of: the root of its chain of view-like ops.
Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>()) {
    if (view.getViewDest() != v)
      break;
    v = view.getViewSource();
  }
  return v;
}

/// Whether `v` may be (part of) the buffer of global `name`: false only for
/// views of a fresh allocation, of another global, or of a function
/// argument (the caller's buffers: a private global's address never leaves
/// the module).
bool mayAliasGlobal(Value v, StringAttr name) {
  Value root = rootBuffer(v);
  if (auto get = root.getDefiningOp<memref::GetGlobalOp>())
    return get.getNameAttr().getAttr() == name;
  if (root.getDefiningOp<memref::AllocOp>() ||
      root.getDefiningOp<memref::AllocaOp>())
    return false;
  if (auto arg = dyn_cast<BlockArgument>(root))
    return !isa<FunctionOpInterface>(arg.getOwner()->getParentOp());
  return true;
}

/// Whether `op` (and the ops nested in it) leaves global `name` alone and
/// writes `tmp` nowhere; reads of `tmp` (as a direct operand) are counted
/// in `tmpReads`. False when an effect is unknown.
bool leavesAlone(Operation *op, StringAttr name, Value tmp,
                 SmallVectorImpl<OpOperand *> &tmpReads) {
  WalkResult r = op->walk([&](Operation *nested) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!effects) {
      if (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return WalkResult::advance();
      return WalkResult::interrupt();
    }
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &e : list) {
      bool access =
          isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect());
      Value v = e.getValue();
      if (!v) {
        if (access)
          return WalkResult::interrupt();
        continue;
      }
      if (!access)
        continue;
      if (v == tmp) {
        if (!isa<MemoryEffects::Read>(e.getEffect()))
          return WalkResult::interrupt();
        continue;
      }
      if (mayAliasGlobal(v, name) || rootBuffer(v) == tmp)
        return WalkResult::interrupt();
    }
    for (OpOperand &use : nested->getOpOperands())
      if (use.get() == tmp)
        tmpReads.push_back(&use);
    return WalkResult::advance();
  });
  return !r.wasInterrupted();
}

/// Rewrites `copy %tmp, %global` as described in Passes.td; returns true if
/// it did.
bool storeInPlace(IRRewriter &rewriter, memref::CopyOp copy) {
  auto get = copy.getTarget().getDefiningOp<memref::GetGlobalOp>();
  Value tmp = copy.getSource();
  auto alloc = tmp.getDefiningOp<memref::AllocOp>();
  if (!get || !alloc || tmp.getType() != copy.getTarget().getType() ||
      !alloc.getDynamicSizes().empty() || !alloc.getSymbolOperands().empty())
    return false;
  auto global = dyn_cast_or_null<SymbolOpInterface>(
      SymbolTable::lookupNearestSymbolFrom(copy, get.getNameAttr()));
  if (!global || !global.isPrivate())
    return false;
  StringAttr name = get.getNameAttr().getAttr();

  // The writer: the last generic before the copy, in its block, with %tmp
  // as an output; every other use of %tmp is checked below.
  linalg::GenericOp writer;
  for (Operation *user : tmp.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || !llvm::is_contained(generic.getDpsInits(), tmp) ||
        generic->getBlock() != copy->getBlock() ||
        !generic->isBeforeInBlock(copy))
      continue;
    if (!writer || writer->isBeforeInBlock(generic))
      writer = generic;
  }
  if (!writer || writer->getBlock() != copy->getBlock() ||
      !writer->isBeforeInBlock(copy) || !writer.hasPureBufferSemantics() ||
      writer.getNumLoops() != writer.getNumParallelLoops())
    return false;
  // %tmp written whole, at the identity index, its old value unread.
  for (OpOperand &init : writer.getDpsInitsMutable()) {
    if (init.get() != tmp)
      continue;
    if (!writer.getMatchingIndexingMap(&init).isIdentity() ||
        writer.payloadUsesValueFromOperand(&init))
      return false;
  }
  // Inputs that are the global: read at the element written. An input that
  // is %tmp (bufferization computed the writer in place) keeps reading the
  // buffer, which the writer no longer changes.
  bool usedBefore = false;
  for (OpOperand *input : writer.getDpsInputOperands()) {
    if (rootBuffer(input->get()) == tmp) {
      usedBefore = true;
      continue;
    }
    if (!mayAliasGlobal(input->get(), name))
      continue;
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (input->get().getDefiningOp<memref::GetGlobalOp>() == nullptr || !type ||
        type != tmp.getType() ||
        !writer.getMatchingIndexingMap(input).isIdentity())
      return false;
  }
  for (OpOperand &init : writer.getDpsInitsMutable())
    if (init.get() != tmp && mayAliasGlobal(init.get(), name))
      return false;

  SmallVector<OpOperand *> tmpReads;
  for (Operation *op = writer->getNextNode(); op != copy;
       op = op->getNextNode())
    if (!leavesAlone(op, name, tmp, tmpReads))
      return false;
  // Every other use of %tmp, or of a view of it: before the writer (the
  // buffer keeps those values), a dealloc, or a read redirected above.
  Block *block = writer->getBlock();
  SmallVector<Operation *> deallocs;
  SmallVector<Value> views{tmp};
  while (!views.empty()) {
    Value v = views.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (user == writer || user == copy)
        continue;
      if (v == tmp && isa<memref::DeallocOp>(user)) {
        deallocs.push_back(user);
        continue;
      }
      if (v == tmp && llvm::is_contained(tmpReads, &use))
        continue;
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor || !ancestor->isBeforeInBlock(writer))
        return false;
      usedBefore = true;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user))
        if (view.getViewSource() == v)
          views.push_back(view.getViewDest());
    }
  }

  rewriter.setInsertionPoint(writer);
  Value target = memref::GetGlobalOp::create(rewriter, get.getLoc(),
                                             get.getType(), get.getNameAttr());
  for (OpOperand *use : tmpReads)
    rewriter.modifyOpInPlace(use->getOwner(), [&] { use->set(target); });
  rewriter.modifyOpInPlace(writer, [&] {
    for (OpOperand &init : writer.getDpsInitsMutable())
      if (init.get() == tmp)
        init.set(target);
  });
  rewriter.eraseOp(copy);
  if (!usedBefore) {
    for (Operation *d : deallocs)
      rewriter.eraseOp(d);
    rewriter.eraseOp(alloc);
  }
  return true;
}

struct StoreGlobalsInPlacePass
    : qat::impl::StoreGlobalsInPlacePassBase<StoreGlobalsInPlacePass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp copy : qat::foldCopyChains(rewriter, getOperation()))
      storeInPlace(rewriter, copy);
  }
};
} // namespace
