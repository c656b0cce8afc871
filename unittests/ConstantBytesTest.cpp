//===- ConstantBytesTest.cpp - constant arrays as bytes before codegen ----===//
//
// storeConstantArraysAsBytes turns each large constant non-i8 array global
// into an i8 array of the same bytes, name, linkage and code-generation
// alignment, and leaves small, i8, mutable and declared globals alone.
//
//===----------------------------------------------------------------------===//

#include "qat/Runtime/ConstantBytes.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/DataLayout.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace llvm;

namespace {

GlobalVariable *addArray(Module &m, StringRef name, Constant *init,
                         bool constant = true) {
  return new GlobalVariable(m, init->getType(), constant,
                            GlobalValue::InternalLinkage, init, name);
}

TEST(ConstantBytes, LargeArraysBecomeBytes) {
  LLVMContext ctx;
  Module m("m", ctx);
  m.setDataLayout("e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-"
                  "f80:128-n8:16:32:64-S128");
  std::vector<float> f(2048);
  for (size_t i = 0; i < f.size(); ++i)
    f[i] = 0.5f * float(i) - 3.25f;
  std::vector<int32_t> w(4096);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = int32_t(i * 2654435761u);
  std::vector<float> small(16, 1.0f);
  std::vector<uint8_t> bytes(8192, 7);
  GlobalVariable *weights =
      addArray(m, "weights", ConstantDataArray::get(ctx, ArrayRef(f)));
  GlobalVariable *ints =
      addArray(m, "ints", ConstantDataArray::get(ctx, ArrayRef(w)));
  ints->setAlignment(Align(64));
  ints->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
  addArray(m, "small", ConstantDataArray::get(ctx, ArrayRef(small)));
  addArray(m, "raw", ConstantDataArray::get(ctx, ArrayRef(bytes)));
  addArray(m, "state", ConstantDataArray::get(ctx, ArrayRef(f)),
           /*constant=*/false);
  Align weightsAlign = m.getDataLayout().getPreferredAlign(weights);
  ASSERT_EQ(weightsAlign, Align(16));

  // float reader(i64 i) { return weights[i] + float(ints[i]); }
  auto *i64 = Type::getInt64Ty(ctx);
  auto *fn =
      Function::Create(FunctionType::get(Type::getFloatTy(ctx), {i64}, false),
                       GlobalValue::ExternalLinkage, "reader", m);
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  Value *i = fn->getArg(0);
  Value *x = b.CreateLoad(b.getFloatTy(),
                          b.CreateInBoundsGEP(weights->getValueType(), weights,
                                              {b.getInt64(0), i}));
  Value *y = b.CreateLoad(
      b.getInt32Ty(),
      b.CreateInBoundsGEP(ints->getValueType(), ints, {b.getInt64(0), i}));
  b.CreateRet(b.CreateFAdd(x, b.CreateSIToFP(y, b.getFloatTy())));

  mlir::qat::runtime::storeConstantArraysAsBytes(m);
  EXPECT_FALSE(verifyModule(m, &errs()));

  auto expectBytes = [&](StringRef name, const void *data, size_t size,
                         Align align) {
    GlobalVariable *g = m.getGlobalVariable(name, /*AllowInternal=*/true);
    ASSERT_NE(g, nullptr) << name.str();
    auto *array = dyn_cast<ConstantDataArray>(g->getInitializer());
    ASSERT_NE(array, nullptr) << name.str();
    EXPECT_TRUE(array->getElementType()->isIntegerTy(8)) << name.str();
    ASSERT_EQ(array->getRawDataValues().size(), size) << name.str();
    EXPECT_EQ(std::memcmp(array->getRawDataValues().data(), data, size), 0)
        << name.str();
    EXPECT_TRUE(g->isConstant());
    EXPECT_EQ(g->getLinkage(), GlobalValue::InternalLinkage);
    EXPECT_EQ(g->getAlign(), MaybeAlign(align)) << name.str();
    EXPECT_EQ(m.getDataLayout().getPreferredAlign(g), align) << name.str();
    // The reader's address computations point at the new global.
    EXPECT_FALSE(g->use_empty()) << name.str();
  };
  expectBytes("weights", f.data(), f.size() * sizeof(float), weightsAlign);
  expectBytes("ints", w.data(), w.size() * sizeof(int32_t), Align(64));
  EXPECT_EQ(m.getGlobalVariable("ints", true)->getUnnamedAddr(),
            GlobalValue::UnnamedAddr::Global);

  // Left alone: under 4 KiB, already bytes, mutable.
  for (StringRef name : {"small", "state"}) {
    auto *array = cast<ConstantDataArray>(
        m.getGlobalVariable(name, true)->getInitializer());
    EXPECT_TRUE(array->getElementType()->isFloatTy()) << name.str();
  }
  EXPECT_EQ(cast<ConstantDataArray>(
                m.getGlobalVariable("raw", true)->getInitializer())
                ->getNumElements(),
            8192u);
}

} // namespace
