//===- FlattenConstantGlobals.cpp - qat-flatten-constant-globals ----------===//
//
// Constant memref globals of rank >= 2 become rank-1 globals read through
// memref.expand_shape, so that LLVM gets one flat constant array per global
// instead of one constant per inner array (see Passes.td).
//
//===----------------------------------------------------------------------===//

#include "qat/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::qat {
#define GEN_PASS_DEF_FLATTENCONSTANTGLOBALSPASS
#include "qat/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// The initial value of `global` with the flat type `type`, or null.
static Attribute flatValue(memref::GlobalOp global, RankedTensorType type) {
  Attribute init = global.getInitialValue().value_or(Attribute());
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(init))
    return dense.reshape(type);
  if (auto resource = dyn_cast_or_null<DenseResourceElementsAttr>(init))
    return DenseResourceElementsAttr::get(type, resource.getRawHandle());
  return {};
}

struct FlattenConstantGlobalsPass
    : qat::impl::FlattenConstantGlobalsPassBase<FlattenConstantGlobalsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // One walk for all readers (a query per global would walk the module
    // once per global).
    llvm::DenseMap<StringAttr, SmallVector<memref::GetGlobalOp>> readers;
    llvm::DenseSet<StringAttr> otherUses;
    module.walk([&](Operation *op) {
      if (auto get = dyn_cast<memref::GetGlobalOp>(op)) {
        readers[get.getNameAttr().getAttr()].push_back(get);
        return;
      }
      if (isa<memref::GlobalOp>(op))
        return;
      for (NamedAttribute attr : op->getAttrs())
        attr.getValue().walk(
            [&](FlatSymbolRefAttr ref) { otherUses.insert(ref.getAttr()); });
    });
    for (auto global : module.getOps<memref::GlobalOp>()) {
      MemRefType type = global.getType();
      if (!global.getConstant() || type.getRank() < 2 ||
          !type.hasStaticShape() || !type.getLayout().isIdentity() ||
          otherUses.contains(global.getSymNameAttr()))
        continue;
      auto flatTensor =
          RankedTensorType::get({type.getNumElements()}, type.getElementType());
      Attribute value = flatValue(global, flatTensor);
      if (!value)
        continue;
      auto flatType =
          MemRefType::get({type.getNumElements()}, type.getElementType(),
                          MemRefLayoutAttrInterface(), type.getMemorySpace());
      global.setType(flatType);
      global.setInitialValueAttr(value);
      ReassociationIndices all;
      for (int64_t d = 0; d < type.getRank(); ++d)
        all.push_back(d);
      for (memref::GetGlobalOp get : readers.lookup(global.getSymNameAttr())) {
        OpBuilder b(get);
        auto flat = memref::GetGlobalOp::create(b, get.getLoc(), flatType,
                                                get.getNameAttr());
        auto expanded = memref::ExpandShapeOp::create(
            b, get.getLoc(), type, flat, ArrayRef<ReassociationIndices>{all});
        get.replaceAllUsesWith(expanded.getResult());
        get.erase();
      }
    }
  }
};

} // namespace
