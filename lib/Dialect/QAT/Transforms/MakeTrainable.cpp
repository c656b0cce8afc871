//===- MakeTrainable.cpp - weights and biases to parameter globals --------===//
//
// qat-make-trainable: the constants behind the weight quantizers and the
// biases of a prepared model's kernels become mutable ml_program globals
// marked `qat.parameter`, which qat-generate-train-step differentiates and
// updates.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Training.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_MAKETRAINABLEPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// A float constant (tosa.const or arith.constant) of rank >= 1.
DenseElementsAttr floatConstant(Value v) {
  DenseElementsAttr attr;
  if (!v || !matchPattern(v, m_Constant(&attr)))
    return {};
  auto type = dyn_cast<RankedTensorType>(attr.getType());
  if (!type || type.getRank() == 0 || !type.getElementType().isF32())
    return {};
  return attr;
}

/// The kernel kind of a parameter name.
StringRef kindName(Operation *op) {
  if (isa<tosa::Conv2DOp>(op))
    return "conv";
  if (isa<tosa::DepthwiseConv2DOp>(op))
    return "dwconv";
  return "matmul";
}

/// The value a kernel's result reaches through reshapes (a matmul's bias add
/// reads it after a reshape).
Value throughReshapes(Value v) {
  while (v.hasOneUse())
    if (auto r = dyn_cast<tosa::ReshapeOp>(*v.getUsers().begin()))
      v = r.getResult();
    else
      break;
  return v;
}

struct MakeTrainablePass : qat::impl::MakeTrainablePassBase<MakeTrainablePass> {
  using Base::Base;

  ModuleOp module;
  SymbolTable *symbols = nullptr;
  /// Globals are inserted before the entry function.
  Operation *insertPoint = nullptr;

  /// A global holding `value`, named uniquely after `name`.
  ml_program::GlobalOp createGlobal(StringRef name, DenseElementsAttr value,
                                    StringRef role) {
    OpBuilder b(module.getContext());
    auto global = ml_program::GlobalOp::create(
        b, module.getLoc(), name, value.getType(), /*is_mutable=*/true, value,
        b.getStringAttr("private"));
    if (!role.empty())
      global->setAttr(kParameterAttrName, b.getStringAttr(role));
    // Renames on a clash; parameters come first, in program order.
    symbols->insert(global, Block::iterator(insertPoint));
    return global;
  }

  Value load(OpBuilder &b, Location loc, ml_program::GlobalOp global) {
    return ml_program::GlobalLoadOp::create(
        b, loc, global.getType(), SymbolRefAttr::get(global.getSymNameAttr()));
  }

  /// Makes the weight operand of `kernel` a parameter: the constant behind
  /// its fake quantizer (or the operand itself), and the observers of that
  /// quantizer that read the constant.
  void makeWeight(Operation *kernel, StringRef base) {
    Value w = kernel->getOperand(1);
    auto fq = w.getDefiningOp<FakeQuantOp>();
    Value source = fq ? fq.getInput() : w;
    DenseElementsAttr value = floatConstant(source);
    if (!value)
      return;
    auto global = createGlobal((base + "_weight").str(), value, "weight");
    // Where the constant was: before every use of it.
    OpBuilder b(kernel);
    b.setInsertionPointAfter(source.getDefiningOp());
    Value param = load(b, kernel->getLoc(), global);
    ++numParameters;
    if (!fq) {
      kernel->setOperand(1, param);
      return;
    }
    fq.getInputMutable().assign(param);
    // The weight's observer (fresh range each call) reads the parameter, and
    // its range becomes state that the train step stores.
    auto choose = fq.getScale().getDefiningOp<ChooseQParamsOp>();
    auto observer =
        choose ? choose.getMin().getDefiningOp<ObserverOp>() : ObserverOp();
    if (!observer || observer.getInput() != source)
      return;
    observer.getInputMutable().assign(param);
    // The weight's range before training, as the initial state.
    OpBuilder eb(observer);
    auto stateType = cast<RankedTensorType>(observer.getMin().getType());
    SmallVector<float> lo(stateType.getNumElements(),
                          std::numeric_limits<float>::infinity());
    SmallVector<float> hi(stateType.getNumElements(),
                          -std::numeric_limits<float>::infinity());
    auto type = cast<RankedTensorType>(value.getType());
    std::optional<int64_t> axis = observer.getAxis();
    SmallVector<int64_t> strides(type.getRank(), 1);
    for (int64_t i = type.getRank() - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * type.getDimSize(i + 1);
    int64_t i = 0;
    for (APFloat v : value.getValues<APFloat>()) {
      float f = v.convertToFloat();
      int64_t c = axis ? (i / strides[*axis]) % type.getDimSize(*axis) : 0;
      if (!std::isnan(f)) {
        lo[c] = std::min(lo[c], f);
        hi[c] = std::max(hi[c], f);
      }
      ++i;
    }
    auto makeState = [&](ArrayRef<float> values, StringRef suffix) {
      auto attr = DenseElementsAttr::get(stateType, values);
      return createGlobal((base + "_weight" + suffix).str(), attr, "");
    };
    auto gmin = makeState(lo, "_min"), gmax = makeState(hi, "_max");
    gmin->setAttr(kWeightRangeAttrName, eb.getStringAttr("min"));
    gmax->setAttr(kWeightRangeAttrName, eb.getStringAttr("max"));
    observer->setAttr(kWeightRangeAttrName,
                      eb.getArrayAttr({FlatSymbolRefAttr::get(gmin),
                                       FlatSymbolRefAttr::get(gmax)}));
  }

  /// Makes operand `index` of `user` (a bias) a parameter.
  void makeBias(Operation *user, unsigned index, StringRef base) {
    DenseElementsAttr value = floatConstant(user->getOperand(index));
    if (!value)
      return;
    auto global = createGlobal((base + "_bias").str(), value, "bias");
    OpBuilder b(user);
    user->setOperand(index, load(b, user->getLoc(), global));
    ++numParameters;
  }

  void runOnOperation() override {
    module = getOperation();
    SymbolTable table(module);
    symbols = &table;
    auto func = table.lookup<func::FuncOp>(entry);
    if (!func) {
      module.emitError("qat-make-trainable: no function @") << entry;
      return signalPassFailure();
    }
    insertPoint = func;
    llvm::StringMap<int> counts;
    SmallVector<Operation *> kernels;
    func.walk([&](Operation *op) {
      if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op))
        kernels.push_back(op);
    });
    for (Operation *kernel : kernels) {
      std::string base;
      if (auto name = dyn_cast<NameLoc>(kernel->getLoc()))
        base = name.getName().str();
      else
        base = (kindName(kernel) + Twine(counts[kindName(kernel)]++)).str();
      makeWeight(kernel, base);
      if (!isa<tosa::MatMulOp>(kernel)) {
        makeBias(kernel, 2, base);
        continue;
      }
      // A matmul's bias: the constant operand of the add that follows it.
      Value out = throughReshapes(kernel->getResult(0));
      if (!out.hasOneUse())
        continue;
      if (auto add = dyn_cast<tosa::AddOp>(*out.getUsers().begin()))
        makeBias(add, add.getInput1() == out ? 1 : 0, base);
    }
    // Constants left without users.
    func.walk([](Operation *op) {
      if (op->use_empty() && isa<tosa::ConstOp, arith::ConstantOp>(op))
        op->erase();
    });
  }
};

} // namespace
