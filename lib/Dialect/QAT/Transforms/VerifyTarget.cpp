//===- VerifyTarget.cpp - check a prepared module against a target --------===//
//
// qat-verify-target: every rule of a target description, checked on a
// prepared (observers present) or frozen (constant parameters) module. Each
// violation is an error on the offending op that names the rule.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/ElementwiseFunction.h"
#include "qat/Dialect/QAT/Utils/GroupedConv.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

namespace mlir::qat {
#define GEN_PASS_DEF_VERIFYTARGETPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Users of `v` other than observers (which only read a value).
static SmallVector<Operation *> dataUsers(Value v) {
  SmallVector<Operation *> users;
  for (Operation *u : v.getUsers())
    if (!isa<ObserverOp>(u))
      users.push_back(u);
  return users;
}

class Verifier {
public:
  Verifier(const TargetDescription &target) : target(target) {}
  bool failed = false;

  void run(func::FuncOp func);

private:
  InFlightDiagnostic error(Operation *op) {
    failed = true;
    return op->emitError() << "target " << target.name << ": ";
  }
  bool isQuantized(Value v);
  void checkQuantizer(FakeQuantOp fq, const QuantSpec &spec,
                      std::optional<int64_t> axis, StringRef role,
                      Operation *user);
  void checkFusion(Operation *op);
  /// A grouped convolution (GroupedConv.h) whose groups feed the concat
  /// directly is one kernel: its results and the concat's stay float up to
  /// its output quantizer (after a fused clamp).
  void checkGroupedConv(const GroupedConv &grouped);
  void checkIntegerOnly(func::FuncOp func);
  /// Finds the element-wise functions (lookup tables) and checks that their
  /// input is quantized and their output quantized before any use.
  void checkFunctions(func::FuncOp func);

  const TargetDescription &target;
  llvm::DenseSet<Operation *> inFusedGroup;
  /// Results that feed the next op of their fused kernel (stay float).
  llvm::DenseSet<Value> internal;
  llvm::DenseSet<Operation *> checked;
  /// Ops of element-wise functions: a table on codes, not checked one by
  /// one (with lookup_tables), or the function they belong to (without).
  llvm::DenseMap<Operation *, std::string> inFunction;
};

} // namespace

bool Verifier::isQuantized(Value v) {
  for (int depth = 0; depth < 64; ++depth) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return false;
    if (isa<FakeQuantOp>(def))
      return true;
    StringRef kind = getOpKind(def);
    if (kind == "concat") {
      return def->getNumOperands() &&
             llvm::all_of(def->getOperands(),
                          [&](Value o) { return isQuantized(o); });
    }
    if (kind.empty() || !target.isAgnostic(kind) || !def->getNumOperands())
      return false;
    v = def->getOperand(0);
  }
  return false;
}

/// Whether every element of the constant `v` satisfies `pred`; nullopt if
/// `v` is not a constant.
template <typename AttrT, typename Pred>
static std::optional<bool> allConstant(Value v, Pred pred) {
  AttrT attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  for (auto x : getStoredValues<std::conditional_t<
           std::is_same_v<AttrT, DenseFPElementsAttr>, APFloat, APInt>>(attr))
    if (!pred(x))
      return false;
  return true;
}

void Verifier::checkQuantizer(FakeQuantOp fq, const QuantSpec &spec,
                              std::optional<int64_t> axis, StringRef role,
                              Operation *user) {
  auto where = [&]() {
    return ("the " + role + " quantizer of '" + user->getName().getStringRef() +
            "'")
        .str();
  };
  // A quantizer shared by an output and later inputs is reported once.
  if (!checked.insert(fq).second)
    return;
  int64_t qmin = spec.getEffectiveQuantMin(),
          qmax = spec.getEffectiveQuantMax();
  if (int64_t(fq.getQuantMin()) != qmin || int64_t(fq.getQuantMax()) != qmax)
    error(fq) << where() << " must have range [" << qmin << ", " << qmax
              << "] (" << (spec.isSigned ? "s" : "u") << int64_t(spec.bits)
              << (spec.narrowRange ? ", narrow" : "")
              << (spec.reduceRange ? ", reduce_range" : "") << "), found ["
              << int64_t(fq.getQuantMin()) << ", " << int64_t(fq.getQuantMax())
              << "]";
  if (fq.getAxis() != axis) {
    auto diag = error(fq) << where() << " must be ";
    if (axis)
      diag << "per channel on axis " << *axis;
    else
      diag << "per tensor";
    if (fq.getAxis())
      diag << ", found per channel on axis " << *fq.getAxis();
    else
      diag << ", found per tensor";
  }

  auto cq = fq.getScale().getDefiningOp<ChooseQParamsOp>();
  if (cq && cq.getZeroPoint() != fq.getZeroPoint())
    cq = nullptr;
  // Symmetric: zero point 0 (signed) or the unsigned midpoint.
  if (spec.scheme == QScheme::symmetric) {
    int64_t want = spec.isSigned
                       ? 0
                       : numerics::reduceRangeBound(spec.getQuantMin() +
                                                    spec.getQuantMax() + 1);
    if (cq) {
      if (cq.getQscheme() != QScheme::symmetric)
        error(fq) << where()
                  << " must be symmetric, but its qat.choose_qparams is affine";
    } else if (auto ok = allConstant<DenseIntElementsAttr>(
                   fq.getZeroPoint(),
                   [&](APInt z) { return z.getSExtValue() == want; });
               ok && !*ok) {
      error(fq) << where() << " must be symmetric (zero point " << want << ")";
    }
  }
  if (spec.powerOfTwo) {
    if (cq) {
      if (!cq.getPowerOfTwo())
        error(fq) << where()
                  << " must have power-of-two scales, but its "
                     "qat.choose_qparams lacks power_of_two";
    } else if (auto ok = allConstant<DenseFPElementsAttr>(
                   fq.getScale(),
                   [](APFloat s) {
                     int exp;
                     return std::frexp(s.convertToFloat(), &exp) == 0.5f;
                   });
               ok && !*ok) {
      error(fq) << where() << " must have power-of-two scales";
    }
  }
  if (cq && (int64_t(cq.getQuantMin()) != spec.getQuantMin() ||
             int64_t(cq.getQuantMax()) != spec.getQuantMax() ||
             cq.getReduceRange() != spec.reduceRange))
    error(cq) << where() << ": qat.choose_qparams must use range ["
              << spec.getQuantMin() << ", " << spec.getQuantMax()
              << "] with reduce_range = " << spec.reduceRange;
}

/// Reports a fake_quant between two ops of a fusion pattern.
void Verifier::checkFusion(Operation *op) {
  // The chain continues through an op's only data user, seen through one
  // quantizer; not into a lookup table's ops.
  auto next = [&](Operation *cur) -> FusionLink {
    SmallVector<Operation *> users = dataUsers(cur->getResult(0));
    if (users.size() != 1)
      return {};
    Operation *user = users.front();
    auto crossed = dyn_cast<FakeQuantOp>(user);
    if (crossed) {
      SmallVector<Operation *> after = dataUsers(crossed.getResult());
      if (after.size() != 1)
        return {};
      user = after.front();
    }
    if (inFunction.contains(user))
      return {};
    return {user, crossed};
  };
  for (const FusionMatch &m : target.matchFusion(op, next)) {
    for (size_t i = 1; i < m.ops.size(); ++i) {
      Operation *cur = m.ops[i - 1], *user = m.ops[i];
      Operation *crossed = m.crossed[i - 1];
      StringRef kind = getOpKind(user);
      // A quantizer before a trailing agnostic op ends the kernel there.
      if (crossed && !target.lookup(kind))
        break;
      // So does a quantizer before a step that is a kernel of its own on
      // this target (PyTorch quantizes a conv's output, then adds it to the
      // residual in a quantized add: two kernels).
      if (crossed && llvm::any_of(target.fusions, [&](const auto &other) {
            return other.front().kind == kind;
          }))
        break;
      // Another producer of the same kind feeding `user` directly is the
      // one fused with it (a residual add fuses with one of its convs).
      if (crossed && llvm::any_of(user->getOperands(), [&](Value o) {
            Operation *d = o.getDefiningOp();
            return d && o != crossed->getResult(0) &&
                   getOpKind(d) == getOpKind(cur) && dataUsers(o).size() == 1;
          }))
        break;
      if (crossed) {
        error(crossed) << "qat.fake_quant between '" << cur->getName()
                       << "' and '" << user->getName()
                       << "' splits a fused kernel (" << getOpKind(op) << " + "
                       << kind << ")";
        return;
      }
      inFusedGroup.insert(user);
      internal.insert(cur->getResult(0));
    }
  }
}

void Verifier::checkGroupedConv(const GroupedConv &grouped) {
  tosa::ConcatOp concat = grouped.concat;
  tosa::Conv2DOp head = grouped.convs.front();
  // Groups quantized one by one (conv -> fake_quant -> concat) are kernels
  // of their own, checked as such.
  for (tosa::Conv2DOp conv : grouped.convs)
    internal.insert(conv.getResult());
  inFusedGroup.insert(concat);
  Operation *last = concat;
  SmallVector<Operation *> users = dataUsers(concat.getResult());
  if (users.size() == 1 && isa<tosa::ClampOp>(users.front())) {
    Operation *clamp = users.front();
    auto next = [&](Operation *cur) -> FusionLink {
      return {cur == head.getOperation() ? clamp : nullptr, nullptr};
    };
    if (llvm::any_of(target.matchFusion(head, next), [&](const FusionMatch &m) {
          return m.complete && m.ops.size() == 2 && m.ops[1] == clamp;
        })) {
      internal.insert(concat.getResult());
      inFusedGroup.insert(clamp);
      return; // the clamp's rule checks its output quantizer
    }
  }
  for (Operation *user : dataUsers(last->getResult(0))) {
    if (auto fq = dyn_cast<FakeQuantOp>(user)) {
      checkQuantizer(fq, target.activation, std::nullopt, "output", last);
      continue;
    }
    error(last) << "the result of the grouped convolution '" << last->getName()
                << "' (the end of a kernel) must be "
                << "quantized before its use by '" << user->getName() << "'";
    break;
  }
}

/// Whether `op` computes on floats: a non-constant op with a float tensor
/// result (qat ops, which model the quantization, and the ml_program globals
/// that hold the observers' state of a prepared model excepted).
static bool computesOnFloats(Operation *op) {
  if (op->hasTrait<OpTrait::ConstantLike>() ||
      isa<QATDialect, ml_program::MLProgramDialect>(op->getDialect()))
    return false;
  // The union of observed ranges behind a shared scale (concat's operands:
  // qat-insert-fake-quant's arith.minimumf / maximumf of the observers'
  // minima and maxima) belongs to the quantization model too.
  if (isa<arith::MinimumFOp, arith::MaximumFOp>(op) &&
      llvm::all_of(op->getUsers(), [](Operation *u) {
        return isa<ChooseQParamsOp, arith::MinimumFOp, arith::MaximumFOp>(u);
      }))
    return false;
  return llvm::any_of(op->getResultTypes(), [](Type t) {
    auto tensor = dyn_cast<TensorType>(t);
    return tensor && isa<FloatType>(tensor.getElementType());
  });
}

/// A layout op (reshape, transpose) of a function argument before its
/// quantizer, as a model exported with an NCHW interface starts: the
/// caller's preprocessing, like the quantization of the input.
static bool isInputLayout(Operation *op) {
  if (!isa_and_nonnull<tosa::ReshapeOp, tosa::TransposeOp>(op))
    return false;
  Value in = op->getOperand(0);
  if (!isa<BlockArgument>(in) && !isInputLayout(in.getDefiningOp()))
    return false;
  return llvm::all_of(op->getUsers(), [](Operation *u) {
    return isa<QATDialect>(u->getDialect()) || isInputLayout(u);
  });
}

/// The rules of a target that runs integer ops only, or restricts some op
/// kinds: `float_fallback: false`, `padding: false`, `fused_only: true`.
void Verifier::checkIntegerOnly(func::FuncOp func) {
  func.walk([&](Operation *op) {
    StringRef kind = getOpKind(op);
    const OpRule *rule = kind.empty() ? nullptr : target.lookup(kind);
    bool member = inFusedGroup.contains(op);
    if (rule && !rule->padding)
      if (auto pad = op->getAttrOfType<DenseI64ArrayAttr>("pad");
          pad && llvm::any_of(pad.asArrayRef(), [](int64_t p) { return p; }))
        error(op) << "'" << op->getName() << "' must not be padded (rule ops."
                  << kind << ".padding = false), found pad = ["
                  << pad.asArrayRef() << "]";
    if (rule && rule->fusedOnly && !member)
      error(op) << "'" << op->getName()
                << "' runs only as a step of a fused kernel (rule ops." << kind
                << ".fused_only = true), not on its own";
    if (target.floatFallback || !computesOnFloats(op) || member)
      return;
    auto noFloat = [&]() {
      return error(op) << "'" << op->getName() << "' would compute on floats, "
                       << "and this target has no float arithmetic "
                          "(float_fallback = false): ";
    };
    if (auto it = inFunction.find(op); it != inFunction.end()) {
      if (!target.lookupTables)
        noFloat() << "it belongs to the element-wise function " << it->second
                  << " of one value, a lookup table on codes, and this "
                     "target has no lookup tables (lookup_tables = false)";
      return;
    }
    if (rule) {
      if (op->getNumResults() != 1 || !isQuantizableTensor(op->getResult(0)) ||
          llvm::any_of(op->getOpOperands(), [&](OpOperand &o) {
            return rule->getRole(o.getOperandNumber(), op->getNumOperands()) !=
                       OperandRole::None &&
                   !isQuantizableTensor(o.get());
          })) {
        noFloat() << "it was left unquantized (only statically shaped f32 "
                     "tensors are quantized)";
        return;
      }
      // Integer kernels take constant weights (packed at compile time).
      for (OpOperand &o : op->getOpOperands()) {
        if (rule->getRole(o.getOperandNumber(), op->getNumOperands()) !=
            OperandRole::Weight)
          continue;
        auto fq = o.get().getDefiningOp<FakeQuantOp>();
        if (!matchPattern(fq ? fq.getInput() : o.get(), m_Constant()))
          error(op) << "the weight (operand #" << o.getOperandNumber()
                    << ") of '" << op->getName()
                    << "' must be a constant: this target has no float "
                       "arithmetic (float_fallback = false) and its integer "
                       "kernels take constant weights";
      }
      return;
    }
    if (!kind.empty() && target.isAgnostic(kind)) {
      if (isInputLayout(op))
        return; // the caller's, like the input quantization
      if (op->getNumOperands() && !isQuantized(op->getOperand(0))) {
        InFlightDiagnostic diag = noFloat() << "its input is not quantized";
        if (Operation *def = op->getOperand(0).getDefiningOp())
          diag << " (it is the result of '" << def->getName() << "')";
      }
      return;
    }
    if (isa<func::ReturnOp, tosa::ConstShapeOp>(op))
      return;
    InFlightDiagnostic diag =
        noFloat() << (kind.empty() ? std::string("it is not a TOSA op kind")
                                   : "its kind '" + kind.str() +
                                         "' is neither quantized (ops) nor "
                                         "agnostic");
    // A channel slice feeding a convolution: one group of a grouped one.
    auto groupsOf = [](Operation *slice) -> int64_t {
      Value v = slice->getResult(0);
      auto in = dyn_cast<RankedTensorType>(slice->getOperand(0).getType());
      auto out = dyn_cast<RankedTensorType>(v.getType());
      if (!in || !out || in.getRank() != 4 || !in.hasStaticShape() ||
          !out.hasStaticShape() ||
          in.getShape().drop_back() != out.getShape().drop_back() ||
          out.getDimSize(3) == 0 || in.getDimSize(3) % out.getDimSize(3) ||
          !llvm::all_of(v.getUsers(), [](Operation *u) {
            if (isa<FakeQuantOp>(u)) // its own quantizer (qat-prepare's)
              return llvm::all_of(u->getUsers(), [](Operation *c) {
                return isa<tosa::Conv2DOp>(c);
              });
            return isa<tosa::Conv2DOp, ObserverOp>(u);
          }))
        return 0;
      return in.getDimSize(3) / out.getDimSize(3);
    };
    if (kind == "slice") {
      if (int64_t groups = groupsOf(op); groups > 1)
        diag << " (the input of one group of a grouped convolution, " << groups
             << " groups: this target runs a grouped "
             << "convolution only as a depthwise one, groups = channels)";
      else
        diag << " (a crop the exporter writes for TOSA's divisibility rule "
                "of strided windows: qat_mlir.export(..., crops=\"taps\") "
                "writes zero kernel taps instead)";
    }
  });
}

void Verifier::checkFunctions(func::FuncOp func) {
  Block &block = func.getBody().front();
  for (Operation &op : llvm::reverse(block)) {
    if (inFunction.contains(&op))
      continue;
    auto fn = matchElementwiseFunction(&op);
    if (!fn || llvm::any_of(fn->ops, [&](Operation *o) {
          return inFunction.contains(o);
        }))
      continue;
    std::string name = fn->describe();
    for (Operation *o : fn->ops)
      inFunction[o] = name;
    if (!target.lookupTables)
      continue; // checkIntegerOnly reports them where that matters
    if (isQuantizableTensor(fn->input) && !isQuantized(fn->input))
      error(fn->ops.front())
          << "the input of the element-wise function " << name
          << " (a lookup table) must be quantized (a qat.fake_quant result)";
    Value out = fn->root->getResult(0);
    for (Operation *user : dataUsers(out)) {
      if (auto fq = dyn_cast<FakeQuantOp>(user)) {
        checkQuantizer(fq, target.activation, std::nullopt, "output", fn->root);
        continue;
      }
      error(fn->root) << "the result of the element-wise function " << name
                      << " (a lookup table) must be quantized before its use "
                         "by '"
                      << user->getName() << "'";
      break;
    }
  }
}

void Verifier::run(func::FuncOp func) {
  // qat-insert-fake-quant leaves these float (with a remark).
  if (func.isExternal())
    return;
  if (!func.getBody().hasOneBlock()) {
    if (!target.floatFallback)
      error(func) << "@" << func.getSymName()
                  << " has no single block, so it stays float, and this "
                     "target has no float arithmetic (float_fallback = false)";
    return;
  }
  checkFunctions(func);
  func.walk([&](tosa::ConcatOp concat) {
    if (std::optional<GroupedConv> grouped = matchGroupedConv(concat))
      if (llvm::none_of(concat.getInput1(),
                        [&](Value v) { return isQuantized(v); }))
        checkGroupedConv(*grouped);
  });
  func.walk([&](Operation *op) {
    if (!getOpKind(op).empty() && !inFunction.contains(op))
      checkFusion(op);
  });
  func.walk([&](Operation *op) {
    StringRef kind = getOpKind(op);
    const OpRule *rule = target.lookup(kind);
    if (!rule || (target.lookupTables && inFunction.contains(op)))
      return;
    bool member = inFusedGroup.contains(op);
    if (op->getNumResults() != 1 || !isQuantizableTensor(op->getResult(0)) ||
        llvm::any_of(op->getOpOperands(), [&](OpOperand &o) {
          return rule->getRole(o.getOperandNumber(), op->getNumOperands()) !=
                     OperandRole::None &&
                 !isQuantizableTensor(o.get());
        }))
      return; // left float by qat-insert-fake-quant
    Value sharedScale, sharedZp;
    for (OpOperand &operand : op->getOpOperands()) {
      OperandRole role =
          rule->getRole(operand.getOperandNumber(), op->getNumOperands());
      if (role == OperandRole::None)
        continue;
      Value v = operand.get();
      auto type = dyn_cast<RankedTensorType>(v.getType());
      if (!type || !type.getElementType().isF32())
        continue;
      // Inside a fused kernel the chained value and biases stay float.
      if (internal.contains(v) || (member && matchPattern(v, m_Constant())))
        continue;
      StringRef roleName =
          role == OperandRole::Weight ? "weight" : "activation";
      if (!isQuantized(v)) {
        error(op) << "operand #" << operand.getOperandNumber() << " ("
                  << roleName << ") of '" << op->getName()
                  << "' must be quantized (a qat.fake_quant result)";
        continue;
      }
      auto fq = v.getDefiningOp<FakeQuantOp>();
      if (!fq)
        continue; // through agnostic ops: checked where it was quantized
      bool isWeight = role == OperandRole::Weight &&
                      matchPattern(fq.getInput(), m_Constant());
      const QuantSpec &spec = isWeight ? target.weight : target.activation;
      std::optional<int64_t> axis;
      if (isWeight && spec.perChannel &&
          rule->weightAxis < cast<RankedTensorType>(v.getType()).getRank())
        axis = rule->weightAxis;
      checkQuantizer(fq, spec, axis, isWeight ? "weight" : "activation", op);
      if (rule->sharedScale) {
        if (!sharedScale) {
          sharedScale = fq.getScale();
          sharedZp = fq.getZeroPoint();
        } else if (fq.getScale() != sharedScale ||
                   fq.getZeroPoint() != sharedZp) {
          Attribute a, b;
          bool sameConstants =
              matchPattern(fq.getScale(), m_Constant(&a)) &&
              matchPattern(sharedScale, m_Constant(&b)) && a == b &&
              matchPattern(fq.getZeroPoint(), m_Constant(&a)) &&
              matchPattern(sharedZp, m_Constant(&b)) && a == b;
          if (!sameConstants)
            error(op) << "the activation operands of '" << op->getName()
                      << "' must share one scale and zero point (operand #"
                      << operand.getOperandNumber() << " differs)";
        }
      }
    }
    // The output of a kernel is quantized before any use.
    Value out = op->getResult(0);
    auto outType = dyn_cast<RankedTensorType>(out.getType());
    if (rule->quantizeOutput && kind != "concat" && !internal.contains(out) &&
        outType && outType.getElementType().isF32())
      for (Operation *user : dataUsers(out)) {
        if (auto fq = dyn_cast<FakeQuantOp>(user)) {
          checkQuantizer(fq, target.activation, std::nullopt, "output", op);
          continue;
        }
        error(op) << "the result of '" << op->getName()
                  << "' (the end of a kernel) must be quantized before its "
                     "use by '"
                  << user->getName() << "'";
        break;
      }
  });
  checkIntegerOnly(func);
}

namespace {
struct VerifyTargetPass : qat::impl::VerifyTargetPassBase<VerifyTargetPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string spec = target;
    if (spec.empty()) {
      auto attr = module->getAttrOfType<StringAttr>(kTargetAttrName);
      if (!attr) {
        module.emitError("qat-verify-target: no target given and the module "
                         "has no '")
            << kTargetAttrName << "' attribute";
        return signalPassFailure();
      }
      spec = attr.str();
    }
    auto t = TargetDescription::get(spec);
    if (!t) {
      module.emitError("qat-verify-target: ") << llvm::toString(t.takeError());
      return signalPassFailure();
    }
    Verifier verifier(*t);
    for (auto func : module.getOps<func::FuncOp>())
      verifier.run(func);
    if (verifier.failed)
      signalPassFailure();
    markAllAnalysesPreserved();
  }
};
} // namespace
