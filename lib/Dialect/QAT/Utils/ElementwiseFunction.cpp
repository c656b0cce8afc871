//===- ElementwiseFunction.cpp - element-wise functions of one value ------===//
//
// Recognises an element-wise function of one tensor (a group of
// element-wise TOSA ops on one input and splat constants) and evaluates it
// on a scalar in f64. See ElementwiseFunction.h.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Utils/ElementwiseFunction.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::qat;

/// Binary ops and clamps: affine pieces that alone do not need a table.
static bool isPiecewiseLinear(Operation *op) {
  return isa<tosa::AddOp, tosa::SubOp, tosa::MulOp, tosa::MaximumOp,
             tosa::MinimumOp, tosa::ClampOp>(op);
}

static bool isF32Tensor(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && r.getElementType().isF32() && r.hasStaticShape();
}

/// The operands that carry data (TOSA's shift and zero-point operands are
/// attributes in all but name).
static unsigned numDataOperands(Operation *op) {
  if (isa<tosa::MulOp>(op))
    return 2;
  if (isa<tosa::NegateOp>(op))
    return 1;
  return op->getNumOperands();
}

bool qat::isElementwiseFunctionOp(Operation *op) {
  if (!isa<tosa::SigmoidOp, tosa::TanhOp, tosa::ErfOp, tosa::ExpOp, tosa::LogOp,
           tosa::ReciprocalOp, tosa::RsqrtOp, tosa::AbsOp, tosa::NegateOp,
           tosa::FloorOp, tosa::CeilOp, tosa::AddOp, tosa::SubOp, tosa::MulOp,
           tosa::MaximumOp, tosa::MinimumOp, tosa::PowOp, tosa::ClampOp>(op))
    return false;
  if (op->getNumResults() != 1 || !isF32Tensor(op->getResult(0).getType()))
    return false;
  for (unsigned i = 0, e = numDataOperands(op); i < e; ++i)
    if (!isF32Tensor(op->getOperand(i).getType()))
      return false;
  if (auto mul = dyn_cast<tosa::MulOp>(op)) {
    DenseIntElementsAttr shift;
    if (!matchPattern(mul.getShift(), m_Constant(&shift)) ||
        !llvm::all_of(shift.getValues<APInt>(),
                      [](const APInt &v) { return v.isZero(); }))
      return false;
  }
  if (auto neg = dyn_cast<tosa::NegateOp>(op)) {
    // Float negate takes zero points of 0.
    for (Value zp : {neg.getInput1Zp(), neg.getOutputZp()}) {
      DenseFPElementsAttr attr;
      if (!matchPattern(zp, m_Constant(&attr)) ||
          !llvm::all_of(attr.getValues<APFloat>(),
                        [](const APFloat &v) { return v.isZero(); }))
        return false;
    }
  }
  return true;
}

/// The one value of a splat f32 constant.
static std::optional<double> splatValue(Value v) {
  DenseFPElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.isSplat())
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToDouble();
}

std::optional<ElementwiseFunction>
qat::matchElementwiseFunction(Operation *root) {
  if (!root || !isElementwiseFunctionOp(root))
    return std::nullopt;
  Block *block = root->getBlock();
  llvm::SetVector<Operation *> group;
  group.insert(root);
  // Grow by producers whose every use is inside the group, to a fixpoint.
  for (bool changed = true; changed;) {
    changed = false;
    for (unsigned i = 0; i < group.size(); ++i) {
      Operation *op = group[i];
      for (unsigned k = 0, e = numDataOperands(op); k < e; ++k) {
        Operation *def = op->getOperand(k).getDefiningOp();
        if (!def || group.contains(def) || def->getBlock() != block ||
            !isElementwiseFunctionOp(def) ||
            !llvm::all_of(def->getResult(0).getUsers(),
                          [&](Operation *u) { return group.contains(u); }))
          continue;
        group.insert(def);
        changed = true;
      }
    }
  }
  ElementwiseFunction fn;
  fn.root = root;
  auto shape = cast<RankedTensorType>(root->getResult(0).getType()).getShape();
  for (Operation *op : group) {
    if (cast<RankedTensorType>(op->getResult(0).getType()).getShape() != shape)
      return std::nullopt;
    for (unsigned k = 0, e = numDataOperands(op); k < e; ++k) {
      Value v = op->getOperand(k);
      if (Operation *def = v.getDefiningOp(); def && group.contains(def))
        continue;
      if (splatValue(v))
        continue;
      if (fn.input && fn.input != v)
        return std::nullopt; // a second input: not a function of one value
      if (cast<RankedTensorType>(v.getType()).getShape() != shape)
        return std::nullopt;
      fn.input = v;
    }
  }
  if (!fn.input)
    return std::nullopt; // a constant expression
  fn.ops.assign(group.begin(), group.end());
  llvm::sort(fn.ops,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  bool nonlinear = llvm::any_of(
      fn.ops, [](Operation *op) { return !isPiecewiseLinear(op); });
  bool hasMul =
      llvm::any_of(fn.ops, [](Operation *op) { return isa<tosa::MulOp>(op); });
  // A product of two values that both depend on x (x * x, x * clamp(x)).
  bool product = llvm::any_of(fn.ops, [](Operation *op) {
    return isa<tosa::MulOp>(op) && !splatValue(op->getOperand(0)) &&
           !splatValue(op->getOperand(1));
  });
  if (!nonlinear && !product && !(hasMul && fn.ops.size() >= 2))
    return std::nullopt;
  return fn;
}

static double clampNaN(double x, double lo, double hi) {
  if (std::isnan(x))
    return x; // TOSA's default nan_mode PROPAGATE
  return std::min(std::max(x, lo), hi);
}

double ElementwiseFunction::evaluate(double x) const {
  llvm::DenseMap<Value, double> values;
  values[input] = x;
  auto get = [&](Value v) -> double {
    if (auto it = values.find(v); it != values.end())
      return it->second;
    return *splatValue(v);
  };
  auto maxNaN = [](double a, double b) {
    return std::isnan(a) || std::isnan(b)
               ? std::numeric_limits<double>::quiet_NaN()
               : std::max(a, b);
  };
  auto minNaN = [](double a, double b) {
    return std::isnan(a) || std::isnan(b)
               ? std::numeric_limits<double>::quiet_NaN()
               : std::min(a, b);
  };
  for (Operation *op : ops) {
    double a = get(op->getOperand(0));
    double y =
        llvm::TypeSwitch<Operation *, double>(op)
            .Case([&](tosa::SigmoidOp) { return 1.0 / (1.0 + std::exp(-a)); })
            .Case([&](tosa::TanhOp) { return std::tanh(a); })
            .Case([&](tosa::ErfOp) { return std::erf(a); })
            .Case([&](tosa::ExpOp) { return std::exp(a); })
            .Case([&](tosa::LogOp) { return std::log(a); })
            .Case([&](tosa::ReciprocalOp) { return 1.0 / a; })
            .Case([&](tosa::RsqrtOp) { return 1.0 / std::sqrt(a); })
            .Case([&](tosa::AbsOp) { return std::fabs(a); })
            .Case([&](tosa::NegateOp) { return -a; })
            .Case([&](tosa::FloorOp) { return std::floor(a); })
            .Case([&](tosa::CeilOp) { return std::ceil(a); })
            .Case([&](tosa::AddOp o) { return a + get(o.getInput2()); })
            .Case([&](tosa::SubOp o) { return a - get(o.getInput2()); })
            .Case([&](tosa::MulOp o) { return a * get(o.getInput2()); })
            .Case([&](tosa::MaximumOp o) {
              return maxNaN(a, get(o.getInput2()));
            })
            .Case([&](tosa::MinimumOp o) {
              return minNaN(a, get(o.getInput2()));
            })
            .Case(
                [&](tosa::PowOp o) { return std::pow(a, get(o.getInput2())); })
            .Case([&](tosa::ClampOp o) {
              auto bound = [](Attribute attr) {
                return cast<FloatAttr>(attr).getValueAsDouble();
              };
              return clampNaN(a, bound(o.getMinValAttr()),
                              bound(o.getMaxValAttr()));
            })
            .Default([](Operation *) {
              return std::numeric_limits<double>::quiet_NaN();
            });
    values[op->getResult(0)] = y;
  }
  return values[root->getResult(0)];
}

std::string ElementwiseFunction::describe() const {
  // Nested calls from the root: "tosa.mul(x, tosa.sigmoid(x))".
  std::function<std::string(Value)> expr = [&](Value v) -> std::string {
    if (v == input)
      return "x";
    Operation *def = v.getDefiningOp();
    if (!def || !llvm::is_contained(ops, def)) {
      if (auto c = splatValue(v)) {
        std::string s;
        llvm::raw_string_ostream(s) << *c;
        return s;
      }
      return "?";
    }
    std::string s = def->getName().getStringRef().str() + "(";
    for (unsigned k = 0, e = numDataOperands(def); k < e; ++k)
      s += (k ? ", " : "") + expr(def->getOperand(k));
    return s + ")";
  };
  return expr(root->getResult(0));
}

SmallVector<int8_t> qat::buildLookupTable(const ElementwiseFunction &fn,
                                          const CodeGrid &in,
                                          const CodeGrid &out,
                                          RoundingMode rounding) {
  SmallVector<int8_t> table(256);
  for (int64_t c = -128; c <= 127; ++c) {
    int64_t code = std::min(std::max(c, in.quantMin), in.quantMax);
    float x = (float(code) - float(in.zeroPoint)) * in.scale;
    float y = float(fn.evaluate(double(x)));
    float t = numerics::fakeQuantCode(y, out.scale, out.zeroPoint, rounding);
    int64_t q;
    if (std::isnan(t))
      q = out.zeroPoint;
    else
      q = int64_t(std::min<float>(std::max<float>(t, float(out.quantMin)),
                                  float(out.quantMax)));
    table[c + 128] = int8_t(q);
  }
  return table;
}
