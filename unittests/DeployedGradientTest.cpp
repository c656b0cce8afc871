//===- DeployedGradientTest.cpp - GradientOpInterface of integer ops ------===//
//
// The integer-domain ops (quantize, dequantize, quantize_bias, requantize,
// requantize_add, rescale, rescale_add) emit their straight-through backward
// op with the forward op's operands and attributes, return a gradient for
// each float operand and none for the integer parameters, and the result
// verifies.
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
             %st: tensor<f32>, %zt: tensor<i32>, %m: tensor<i32>, %n: tensor<i8>,
             %b: tensor<3xf32>, %dy: tensor<4x3xf32>, %db: tensor<3xf32>)
    -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>,
        tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
  %q = qat.quantize %x, %s, %z {quant_min = -8 : i64, quant_max = 7 : i64, axis = 1 : i64, rounding = #qat.rounding<half_up>} : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32> -> tensor<4x3xf32>
  %d = qat.dequantize %q, %s, %z {axis = 1 : i64} : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32> -> tensor<4x3xf32>
  %bq = qat.quantize_bias %b, %st, %s : tensor<3xf32>, tensor<f32>, tensor<3xf32> -> tensor<3xf32>
  %r = qat.requantize %x, %st, %zt {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4x3xf32>, tensor<f32>, tensor<i32> -> tensor<4x3xf32>
  %ra = qat.requantize_add %x, %st, %zt, %q, %st, %zt, %zt {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4x3xf32>, tensor<f32>, tensor<i32>, tensor<4x3xf32>, tensor<f32>, tensor<i32>, tensor<i32> -> tensor<4x3xf32>
  %rs = qat.rescale %x, %m, %n, %zt {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4x3xf32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4x3xf32>
  %rsa = qat.rescale_add %x, %m, %zt, %q, %m, %zt, %n, %zt {quant_min = -128 : i64, quant_max = 127 : i64} : tensor<4x3xf32>, tensor<i32>, tensor<i32>, tensor<4x3xf32>, tensor<i32>, tensor<i32>, tensor<i8>, tensor<i32> -> tensor<4x3xf32>
  return %q, %d, %bq, %r, %ra, %rs, %rsa : tensor<4x3xf32>, tensor<4x3xf32>, tensor<3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
}
)mlir";

struct DeployedGradientTest : ::testing::Test {
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  func::FuncOp func;
  void SetUp() override {
    context.loadDialect<QATDialect, func::FuncDialect, arith::ArithDialect>();
    module = parseSourceString<ModuleOp>(kModule, &context);
    ASSERT_TRUE(module);
    func = *module->getOps<func::FuncOp>().begin();
  }
  Value dy() { return func.getArgument(8); }
  Value db() { return func.getArgument(9); }

  /// The gradients `op` emits for the result gradient `g`.
  template <typename OpTy> SmallVector<Value> grads(Value g) {
    auto op = *func.getOps<OpTy>().begin();
    OpBuilder b(op->getContext());
    b.setInsertionPointAfter(op);
    auto iface = dyn_cast<GradientOpInterface>(op.getOperation());
    EXPECT_TRUE(iface);
    SmallVector<Value> out = iface.buildGradients(b, g);
    EXPECT_EQ(out.size(), op->getNumOperands());
    return out;
  }
};

TEST_F(DeployedGradientTest, Quantize) {
  SmallVector<Value> g = grads<QuantizeOp>(dy());
  auto grad = g[0].getDefiningOp<QuantizeGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grad.getGradOutput(), dy());
  EXPECT_EQ(grad.getInput(), func.getArgument(0));
  EXPECT_EQ(grad.getScale(), func.getArgument(1));
  EXPECT_EQ(grad.getQuantMin(), -8);
  EXPECT_EQ(grad.getQuantMax(), 7);
  EXPECT_EQ(grad.getAxis(), std::optional<uint64_t>(1));
  EXPECT_EQ(grad.getRounding(), RoundingMode::half_up);
  EXPECT_EQ(g[1], grad.getGradScale());
  EXPECT_FALSE(g[2]) << "no gradient flows to the integer zero point";
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DeployedGradientTest, Dequantize) {
  SmallVector<Value> g = grads<DequantizeOp>(dy());
  auto grad = g[0].getDefiningOp<DequantizeGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grad.getAxis(), std::optional<uint64_t>(1));
  EXPECT_EQ(g[1], grad.getGradScale());
  EXPECT_FALSE(g[2]);
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DeployedGradientTest, QuantizeBias) {
  SmallVector<Value> g = grads<QuantizeBiasOp>(db());
  auto grad = g[0].getDefiningOp<QuantizeBiasGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grad.getBias(), func.getArgument(7));
  EXPECT_EQ(g[1], grad.getGradInputScale());
  EXPECT_EQ(g[2], grad.getGradWeightScale());
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DeployedGradientTest, Requantize) {
  SmallVector<Value> g = grads<RequantizeOp>(dy());
  auto grad = g[0].getDefiningOp<RequantizeGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(grad.getQuantMin(), -128);
  EXPECT_EQ(g[1], grad.getGradMultiplier());
  EXPECT_FALSE(g[2]);
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DeployedGradientTest, RequantizeAdd) {
  SmallVector<Value> g = grads<RequantizeAddOp>(dy());
  auto grad = g[0].getDefiningOp<RequantizeAddGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(g[1], grad.getGradLhsMultiplier());
  EXPECT_FALSE(g[2]);
  EXPECT_EQ(g[3], grad.getGradRhs());
  EXPECT_EQ(g[4], grad.getGradRhsMultiplier());
  EXPECT_FALSE(g[5]);
  EXPECT_FALSE(g[6]);
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(DeployedGradientTest, RescaleGivesNoGradientToIntegerParameters) {
  SmallVector<Value> g = grads<RescaleOp>(dy());
  ASSERT_TRUE(g[0].getDefiningOp<RescaleGradOp>());
  EXPECT_FALSE(g[1]);
  EXPECT_FALSE(g[2]);
  EXPECT_FALSE(g[3]);
  SmallVector<Value> ga = grads<RescaleAddOp>(dy());
  auto grad = ga[0].getDefiningOp<RescaleAddGradOp>();
  ASSERT_TRUE(grad);
  EXPECT_EQ(ga[3], grad.getGradRhs());
  for (unsigned i : {1u, 2u, 4u, 5u, 6u, 7u})
    EXPECT_FALSE(ga[i]) << "operand " << i;
  EXPECT_TRUE(succeeded(verify(*module)));
}
} // namespace
