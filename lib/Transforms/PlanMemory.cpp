//===- PlanMemory.cpp - qat-plan-memory -----------------------------------===//
//
// A function's temporary buffers become views of one arena, placed by their
// lifetimes so that buffers that are never live together share bytes. The
// arena is a global that calls reuse, or one allocation per call.
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"

namespace mlir::qat {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {
constexpr int64_t kAlignment = 64;

/// A temporary buffer and the top-level ops (indices into the body's block)
/// between which it is live.
struct Buffer {
  memref::AllocOp alloc;
  SmallVector<memref::DeallocOp> deallocs;
  int64_t bytes = 0;
  int64_t first = 0, last = 0;
  int64_t offset = -1;
};

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// Collects the buffer's views and its last top-level use. Returns false if
/// the buffer escapes (returned, passed to a call or to an op that is not a
/// view and yields memrefs from it, or deallocated somewhere other than the
/// body's block).
bool analyse(Block &block, Buffer &buf,
             const DenseMap<Operation *, int64_t> &index) {
  SmallVector<Value> worklist{buf.alloc.getResult()};
  buf.last = buf.first;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto dealloc = dyn_cast<memref::DeallocOp>(user)) {
        if (dealloc->getBlock() != &block)
          return false;
        buf.deallocs.push_back(dealloc);
        continue;
      }
      if (isa<func::ReturnOp, CallOpInterface>(user) ||
          isa<RegionBranchTerminatorOpInterface>(user))
        return false;
      // The op of the body that holds the use (itself or an ancestor).
      Operation *top = block.findAncestorOpInBlock(*user);
      if (!top)
        return false;
      buf.last = std::max(buf.last, index.lookup(top));
      // A memref result of an op that takes the buffer is a view of it
      // (subview, expand_shape, cast, ...); anything else that produces one
      // from it is not understood.
      bool isView = isa<ViewLikeOpInterface>(user) ||
                    isa<memref::CastOp, memref::ReinterpretCastOp>(user);
      for (Value result : user->getResults()) {
        if (!isa<BaseMemRefType>(result.getType()))
          continue;
        if (!isView)
          return false;
        worklist.push_back(result);
      }
    }
  }
  // Without a deallocation the buffer outlives the call.
  return !buf.deallocs.empty();
}

/// Greedy by size: largest first, each at the lowest aligned offset free of
/// every placed buffer whose lifetime overlaps. Returns the arena size.
int64_t place(MutableArrayRef<Buffer> buffers) {
  SmallVector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  // Ties in program order, so that the plan is deterministic.
  llvm::sort(order, [](Buffer *a, Buffer *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->first < b->first;
  });
  SmallVector<Buffer *> placed;
  int64_t size = 0;
  for (Buffer *b : order) {
    SmallVector<std::pair<int64_t, int64_t>> taken;
    for (Buffer *p : placed)
      if (p->first <= b->last && b->first <= p->last)
        taken.push_back({p->offset, p->offset + p->bytes});
    llvm::sort(taken);
    int64_t offset = 0;
    for (auto [lo, hi] : taken) {
      if (offset + b->bytes <= lo)
        break;
      offset = std::max(offset, alignUp(hi, kAlignment));
    }
    b->offset = offset;
    size = std::max(size, offset + b->bytes);
    placed.push_back(b);
  }
  return alignUp(size, kAlignment);
}

struct PlanMemoryPass : qat::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using PlanMemoryPassBase::PlanMemoryPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (arena == qat::Arena::None)
      return;
    SymbolTable symbols(module);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (!func.isExternal() && func.getBody().hasOneBlock())
        planFunction(func, symbols);
  }

  void planFunction(func::FuncOp func, SymbolTable &symbols) {
    Block &block = func.getBody().front();
    DenseMap<Operation *, int64_t> index;
    int64_t i = 0;
    for (Operation &op : block)
      index[&op] = i++;

    SmallVector<Buffer> buffers;
    for (auto alloc : block.getOps<memref::AllocOp>()) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
          type.getMemorySpace() ||
          !type.getElementType().isIntOrIndexOrFloat() ||
          alloc.getAlignment().value_or(1) > uint64_t(kAlignment))
        continue;
      Buffer buf;
      buf.alloc = alloc;
      buf.first = index.lookup(alloc);
      int64_t bits = type.getElementType().isIndex()
                         ? 64
                         : type.getElementType().getIntOrFloatBitWidth();
      // Sub-byte and i1 elements are stored one per byte by the LLVM
      // lowering.
      buf.bytes = type.getNumElements() * std::max<int64_t>(alignUp(bits, 8) / 8, 1);
      if (buf.bytes == 0 || !analyse(block, buf, index))
        continue;
      buffers.push_back(std::move(buf));
    }
    if (buffers.empty())
      return;
    int64_t size = place(buffers);

    Location loc = func.getLoc();
    // A single-block func.func body ends with its one func.return.
    Operation *ret = block.getTerminator();
    OpBuilder b(&getContext());
    b.setInsertionPointToStart(&block);
    auto arenaType = MemRefType::get({size}, b.getI8Type());
    Value arenaBase, fromGlobal;
    if (arena == qat::Arena::Static) {
      // The arena and its in-use flag are globals of the module.
      OpBuilder mb = OpBuilder::atBlockBegin(
          cast<ModuleOp>(symbols.getOp()).getBody());
      std::string name = ("__qat_arena_" + func.getSymName()).str();
      auto arenaGlobal = memref::GlobalOp::create(
          mb, loc, name, mb.getStringAttr("private"), arenaType,
          mb.getUnitAttr(), /*constant=*/false,
          mb.getI64IntegerAttr(kAlignment));
      symbols.insert(arenaGlobal);
      auto flagType = MemRefType::get({1}, mb.getI32Type());
      auto flagGlobal = memref::GlobalOp::create(
          mb, loc, name + "_in_use", mb.getStringAttr("private"), flagType,
          DenseElementsAttr::get(RankedTensorType::get({1}, mb.getI32Type()),
                                 mb.getI32IntegerAttr(0)),
          /*constant=*/false, /*alignment=*/nullptr);
      symbols.insert(flagGlobal);

      Value flag = memref::GetGlobalOp::create(b, loc, flagType,
                                               flagGlobal.getSymName());
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one32 = arith::ConstantIntOp::create(b, loc, 1, 32);
      Value zero32 = arith::ConstantIntOp::create(b, loc, 0, 32);
      Value previous = memref::AtomicRMWOp::create(
          b, loc, arith::AtomicRMWKind::assign, one32, flag, ValueRange{zero});
      fromGlobal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         previous, zero32);
      auto choose = scf::IfOp::create(b, loc, arenaType, fromGlobal,
                                      /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(choose.thenBlock());
        Value g = memref::GetGlobalOp::create(b, loc, arenaType,
                                              arenaGlobal.getSymName());
        scf::YieldOp::create(b, loc, g);
        b.setInsertionPointToStart(choose.elseBlock());
        Value own = memref::AllocOp::create(b, loc, arenaType,
                                            b.getI64IntegerAttr(kAlignment));
        scf::YieldOp::create(b, loc, own);
      }
      arenaBase = choose.getResult(0);
      // Give the arena back before returning.
      b.setInsertionPoint(ret);
      auto release = scf::IfOp::create(b, loc, fromGlobal,
                                       /*withElseRegion=*/true);
      b.setInsertionPointToStart(release.thenBlock());
      memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::assign,
                                  zero32, flag, ValueRange{zero});
      b.setInsertionPointToStart(release.elseBlock());
      memref::DeallocOp::create(b, loc, arenaBase);
    } else {
      arenaBase = memref::AllocOp::create(b, loc, arenaType,
                                          b.getI64IntegerAttr(kAlignment));
      b.setInsertionPoint(ret);
      memref::DeallocOp::create(b, loc, arenaBase);
    }

    for (Buffer &buf : buffers) {
      for (memref::DeallocOp dealloc : buf.deallocs)
        dealloc.erase();
      OpBuilder vb(buf.alloc);
      Value offset = arith::ConstantIndexOp::create(vb, buf.alloc.getLoc(),
                                                    buf.offset);
      Value view = memref::ViewOp::create(vb, buf.alloc.getLoc(),
                                          buf.alloc.getType(), arenaBase, offset,
                                          ValueRange{});
      buf.alloc.getResult().replaceAllUsesWith(view);
      buf.alloc.erase();
    }
  }
};
} // namespace
