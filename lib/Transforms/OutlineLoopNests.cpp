//===- OutlineLoopNests.cpp - qat-outline-loop-nests ----------------------===//
//
// Each top-level loop nest of a large function moves into a noinline
// function of its own, so that LLVM's per-function analyses with quadratic
// cost in the number of blocks stay small (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::qat {
#define GEN_PASS_DEF_OUTLINELOOPNESTSPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

static bool isLoopNest(Operation *op) {
  return op->getNumResults() == 0 &&
         isa<scf::ForOp, scf::ParallelOp, scf::ForallOp, affine::AffineForOp,
             affine::AffineParallelOp>(op);
}

/// Constants that are copied into the outlined function instead of passed.
static bool isCopiedConstant(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>() &&
         def->getNumResults() == 1 &&
         (v.getType().isIndex() || v.getType().isIntOrFloat() ||
          isa<VectorType>(v.getType()));
}

/// A hash of `callee`'s type and body that ignores locations and the
/// identity of values: equal for functions that
/// OperationEquivalence::isRegionEquivalentTo would call equivalent.
static llvm::hash_code bodyHash(func::FuncOp callee) {
  llvm::hash_code hash = hash_value(callee.getFunctionType());
  callee.getBody().walk([&](Operation *op) {
    hash =
        llvm::hash_combine(hash, OperationEquivalence::computeHash(
                                     op, OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

struct OutlineLoopNestsPass
    : qat::impl::OutlineLoopNestsPassBase<OutlineLoopNestsPass> {
  using Base::Base;

  /// The functions outlined so far, by bodyHash (for `merge-identical`).
  llvm::DenseMap<llvm::hash_code, SmallVector<func::FuncOp, 1>> outlined;

  /// An outlined function with the type and body of `callee` (locations
  /// aside), if there is one.
  func::FuncOp findIdentical(func::FuncOp callee, llvm::hash_code hash) {
    for (func::FuncOp other : outlined.lookup(hash))
      if (other.getFunctionType() == callee.getFunctionType() &&
          OperationEquivalence::isRegionEquivalentTo(
              &other.getBody(), &callee.getBody(),
              OperationEquivalence::IgnoreLocations))
        return other;
    return {};
  }

  void outline(func::FuncOp func, SymbolTable &symbols) {
    Block &body = func.getBody().front();
    SmallVector<Operation *> nests;
    for (Operation &op : body)
      if (isLoopNest(&op))
        nests.push_back(&op);
    if (nests.size() < minNests)
      return;
    MLIRContext *ctx = func.getContext();
    auto noinline = ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline")});
    unsigned index = 0;
    for (Operation *nest : nests) {
      // Operands of the nest and values its regions use from outside.
      llvm::SetVector<Value> captured;
      for (Value v : nest->getOperands())
        captured.insert(v);
      for (Region &r : nest->getRegions())
        getUsedValuesDefinedAbove(r, captured);
      SmallVector<Value> args, copied;
      for (Value v : captured)
        (isCopiedConstant(v) ? copied : args).push_back(v);

      OpBuilder b(func);
      b.setInsertionPointAfter(func);
      SmallVector<Type> argTypes;
      for (Value v : args)
        argTypes.push_back(v.getType());
      auto callee = func::FuncOp::create(
          b, nest->getLoc(),
          (func.getSymName() + "_nest" + Twine(index++)).str(),
          b.getFunctionType(argTypes, {}));
      callee.setPrivate();
      callee->setAttr("passthrough", noinline);
      symbols.insert(callee);
      Block *entry = callee.addEntryBlock();
      IRMapping map;
      OpBuilder inner = OpBuilder::atBlockBegin(entry);
      for (auto [v, arg] : llvm::zip(args, entry->getArguments()))
        map.map(v, arg);
      for (Value v : copied)
        inner.clone(*v.getDefiningOp(), map);
      inner.clone(*nest, map);
      func::ReturnOp::create(inner, nest->getLoc());
      if (mergeIdentical) {
        llvm::hash_code hash = bodyHash(callee);
        if (func::FuncOp same = findIdentical(callee, hash)) {
          symbols.erase(callee);
          callee = same;
        } else {
          outlined[hash].push_back(callee);
        }
      }

      OpBuilder call(nest);
      func::CallOp::create(call, nest->getLoc(), callee, args);
      nest->erase();
    }
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    outlined.clear();
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (!func.isExternal() && func.getBody().hasOneBlock())
        outline(func, symbols);
    outlined.clear();
  }
};

} // namespace
