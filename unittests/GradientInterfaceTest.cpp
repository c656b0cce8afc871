//===- GradientInterfaceTest.cpp - qat GradientOpInterface ----------------===//
//
// buildGradients emits the documented backward op with the forward op's
// operands and attributes, and the result verifies.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::qat;

namespace {
const char *kModule = R"mlir(
func.func @f(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>,
             %zf: tensor<3xf32>, %dy: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %y = qat.fake_quant %x, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 1 : i64, rounding = #qat.rounding<half_up>} : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  %l = qat.lsq %x, %s, %zf {quant_min = 0 : i64, quant_max = 255 : i64, axis = 1 : i64, grad_factor = 0.25 : f64} : tensor<4x3xf32>, tensor<3xf32>
  return %y, %l : tensor<4x3xf32>, tensor<4x3xf32>
}
)mlir";

struct GradientInterfaceTest : ::testing::Test {
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  func::FuncOp func;
  void SetUp() override {
    context.loadDialect<QATDialect, func::FuncDialect, arith::ArithDialect>();
    module = parseSourceString<ModuleOp>(kModule, &context);
    ASSERT_TRUE(module);
    func = *module->getOps<func::FuncOp>().begin();
  }
  Value dy() { return func.getArgument(4); }
};

TEST_F(GradientInterfaceTest, FakeQuantEmitsStraightThroughGradient) {
  auto fq = *func.getOps<FakeQuantOp>().begin();
  OpBuilder b(fq->getContext());
  b.setInsertionPointAfter(fq);
  auto iface = cast<GradientOpInterface>(fq.getOperation());
  SmallVector<Value> grads = iface.buildGradients(b, dy());
  ASSERT_EQ(grads.size(), 3u);
  auto grad = grads[0].getDefiningOp<FakeQuantGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grad.getGradOutput(), dy());
  EXPECT_EQ(grad.getInput(), fq.getInput());
  EXPECT_EQ(grad.getScale(), fq.getScale());
  EXPECT_EQ(grad.getZeroPoint(), fq.getZeroPoint());
  EXPECT_EQ(grad.getQuantMin(), -8);
  EXPECT_EQ(grad.getQuantMax(), 7);
  EXPECT_EQ(grad.getAxis(), std::optional<uint64_t>(1));
  EXPECT_EQ(grad.getRounding(), RoundingMode::half_up);
  EXPECT_FALSE(grads[1]) << "no gradient flows to the scale";
  EXPECT_FALSE(grads[2]) << "no gradient flows to the zero point";
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(GradientInterfaceTest, LSQEmitsAllThreeGradients) {
  auto lsq = *func.getOps<LSQOp>().begin();
  OpBuilder b(lsq->getContext());
  b.setInsertionPointAfter(lsq);
  SmallVector<Value> grads =
      cast<GradientOpInterface>(lsq.getOperation()).buildGradients(b, dy());
  ASSERT_EQ(grads.size(), 3u);
  auto grad = grads[0].getDefiningOp<LSQGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grads[1], grad.getGradScale());
  EXPECT_EQ(grads[2], grad.getGradZeroPoint());
  EXPECT_EQ(grad.getInput(), lsq.getInput());
  EXPECT_EQ(grad.getGradFactor().convertToDouble(), 0.25);
  EXPECT_EQ(grad.getAxis(), std::optional<uint64_t>(1));
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(GradientInterfaceTest, OnlyDifferentiableOpsImplementIt) {
  int withInterface = 0;
  func.walk([&](Operation *op) {
    if (isa<GradientOpInterface>(op))
      ++withInterface;
  });
  EXPECT_EQ(withInterface, 2);
}
} // namespace
