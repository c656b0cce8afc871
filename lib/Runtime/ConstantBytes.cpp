//===- ConstantBytes.cpp - constant arrays as bytes before codegen --------===//

#include "qat/Runtime/ConstantBytes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/SwapByteOrder.h"

using namespace llvm;

void mlir::qat::runtime::storeConstantArraysAsBytes(Module &module) {
  const DataLayout &layout = module.getDataLayout();
  if (layout.isLittleEndian() != sys::IsLittleEndianHost)
    return;
  Type *i8 = Type::getInt8Ty(module.getContext());
  for (GlobalVariable &global : make_early_inc_range(module.globals())) {
    if (!global.isConstant() || !global.hasDefinitiveInitializer())
      continue;
    auto *array = dyn_cast<ConstantDataArray>(global.getInitializer());
    if (!array || array->isString())
      continue;
    StringRef raw = array->getRawDataValues();
    if (raw.size() < 4096)
      continue;
    // The alignment the AsmPrinter would give the original global.
    Align align = layout.getPreferredAlign(&global);
    Constant *bytes = ConstantDataArray::getRaw(raw, raw.size(), i8);
    auto *replacement = new GlobalVariable(
        module, bytes->getType(), /*isConstant=*/true, global.getLinkage(),
        bytes, "", &global, global.getThreadLocalMode(),
        global.getAddressSpace(), global.isExternallyInitialized());
    replacement->copyAttributesFrom(&global);
    replacement->setAlignment(align);
    replacement->takeName(&global);
    global.replaceAllUsesWith(replacement);
    global.eraseFromParent();
  }
}
