//===- InsertFakeQuant.cpp - target-driven fake quantizer placement -------===//
//
// qat-insert-fake-quant: groups ops into the target's fused kernels, then
// quantizes group inputs by their role (activation, weight) and group
// outputs, looks through quantization-agnostic ops and gives shared-scale
// ops one set of parameters. Activation observers keep their state in
// ml_program globals. The rules are stated in Passes.td and docs/Targets.md.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/ElementwiseFunction.h"
#include "qat/Dialect/QAT/Utils/GroupedConv.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Remarks.h"

#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_INSERTFAKEQUANTPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

static remark::RemarkOpts opts(StringRef name) {
  return remark::RemarkOpts::name(name).category("qat-insert-fake-quant");
}

/// A description of a value for remarks: "result #0 of 'tosa.conv2d'" or
/// "argument #1 of @f".
static std::string describe(Value v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    os << "argument #" << arg.getArgNumber();
    if (auto f = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp()))
      os << " of @" << f.getSymName();
  } else {
    os << "result #" << cast<OpResult>(v).getResultNumber() << " of '"
       << v.getDefiningOp()->getName() << "'";
  }
  return s;
}

/// The source name a location carries: its first NameLoc (through fused
/// and call-site locations), or its last one with `last`, without a
/// ":role" suffix. The PyTorch exporter names each op after the qualified
/// name of the module it came from ("layer1.0.conv1"); qat-fold-conv-bn
/// names a folded conv [batch norm, conv]: its value is the batch norm's,
/// its input and weight the conv's. Empty if there is none.
static std::string sourceName(Location loc, bool last = false) {
  std::string found;
  loc->walk([&](Location l) {
    if (auto n = dyn_cast<NameLoc>(l)) {
      found = n.getName().str();
      return last ? WalkResult::skip() : WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (size_t colon = found.find(':'); colon != std::string::npos)
    found.resize(colon);
  return found;
}

class Inserter {
public:
  Inserter(ModuleOp module, const TargetDescription &target,
           SymbolTable &symbols)
      : module(module), target(target), symbols(symbols),
        ctx(module.getContext()) {}

  void run(func::FuncOp func);

  unsigned numActivation = 0, numWeight = 0, numGroups = 0;

private:
  struct Group {
    SmallVector<Operation *> ops;
    /// An element-wise function of one value (a lookup table): its input
    /// and output are quantized, nothing inside.
    std::optional<ElementwiseFunction> function;
    /// A grouped convolution (GroupedConv.h) and what the target fuses
    /// after it: one quantizer on the input before the slices, one on the
    /// output, as PyTorch's eager QAT has for a grouped nn.Conv2d.
    std::optional<GroupedConv> grouped;
  };

  void formGroups(Block &block);
  /// The group of the grouped convolution whose first convolution is
  /// `conv`, if it is one this target can quantize as one kernel.
  std::optional<Group> matchGroupedKernel(tosa::Conv2DOp conv, Block &block);
  void processGroup(Group &group);
  void processFunction(const ElementwiseFunction &fn);
  void processSharedScale(Operation *op, const OpRule &rule);
  /// The quantized version of activation `v` (created once per value).
  Value quantizeActivationInput(Value v, Operation *user);
  /// Inserts an activation quantizer of `v` right after its definition;
  /// returns the fake_quant result. `scale`/`zp` may be given (shared).
  /// `user`: the op it is an input of (nullptr for an output quantizer).
  FakeQuantOp createActivationQuantizer(Value v, StringRef why,
                                        Operation *user = nullptr);
  /// The name of the quantizer of `v`, after the value it quantizes:
  /// "<module>:output" for a value computed by ops named after a module,
  /// "<module>:input" for a function argument (through layout ops) read by
  /// `user`, with "#2", "#3", ... for repeated names; empty without names.
  std::string quantizerName(Value v, Operation *user);
  /// Observer over state globals: returns (new_min, new_max).
  /// Names `loc` after the quantizer (`name`, or "act<N>", the name of its
  /// state globals) for the caller's ops.
  std::pair<Value, Value> createStatefulObserver(OpBuilder &b, Location &loc,
                                                 Value v, StringRef name);
  std::pair<Value, Value> createChooseQParams(OpBuilder &b, Location loc,
                                              Value min, Value max,
                                              const QuantSpec &spec);
  FakeQuantOp createFakeQuant(OpBuilder &b, Location loc, Value v, Value s,
                              Value z, const QuantSpec &spec,
                              std::optional<int64_t> axis);
  /// A weight (or constant) quantizer: stateless min/max observer.
  Value quantizeConstant(Value v, Operation *user, const QuantSpec &spec,
                         std::optional<int64_t> axis);

  bool isQuantized(Value v) const { return quantized.contains(v); }
  const OpRule *ruleOf(Operation *op) const {
    return target.lookup(getOpKind(op));
  }

  ModuleOp module;
  const TargetDescription &target;
  SymbolTable &symbols;
  MLIRContext *ctx;
  /// Values on a quantization grid (fake_quant results, agnostic outputs).
  llvm::DenseSet<Value> quantized;
  /// Input quantizers shared by all quantized users of a float value.
  llvm::DenseMap<Value, Value> inputQuantizer;
  llvm::DenseMap<Operation *, unsigned> groupOf;
  SmallVector<Group> groups;
  unsigned numStates = 0;
  llvm::StringMap<unsigned> nameCounts;
  Operation *lastGlobal = nullptr;
  /// State stores, emitted after the last reader of the new state: MLIR
  /// 22's ml_program bufferization copies a stored tensor that is read
  /// later into a fresh buffer without its contents.
  SmallVector<std::pair<SymbolRefAttr, Value>> pendingStores;
  void flushStores(OpBuilder &b, Location loc) {
    for (auto [ref, value] : pendingStores)
      ml_program::GlobalStoreOp::create(b, loc, ref, value);
    pendingStores.clear();
  }
};

} // namespace

static bool isFloatTensor(Value v) { return isQuantizableTensor(v); }

static bool isConstant(Value v) { return matchPattern(v, m_Constant()); }

void Inserter::formGroups(Block &block) {
  // Element-wise functions first (last op first, so each is the largest):
  // their ops must not be taken into a kernel (hardsigmoid's add and clamp
  // after a conv would otherwise look like a bias and a ReLU).
  if (target.lookupTables) {
    for (Operation &op : llvm::reverse(block)) {
      if (groupOf.contains(&op))
        continue;
      auto fn = matchElementwiseFunction(&op);
      if (!fn || llvm::any_of(fn->ops, [&](Operation *o) {
            return groupOf.contains(o);
          }))
        continue;
      for (Operation *o : fn->ops)
        groupOf[o] = groups.size();
      groups.push_back(Group{fn->ops, fn, std::nullopt});
      remark::passed(op.getLoc(), opts("Table"))
          << remarkText("element-wise function ", fn->describe(),
                        " of one value: a lookup table (no fake quantizer "
                        "inside)");
    }
  }
  for (Operation &op : block) {
    StringRef kind = getOpKind(&op);
    if (kind.empty() || groupOf.contains(&op) || !target.lookup(kind))
      continue;
    if (auto conv = dyn_cast<tosa::Conv2DOp>(op))
      if (std::optional<Group> g = matchGroupedKernel(conv, block)) {
        for (Operation *o : g->ops)
          groupOf[o] = groups.size();
        ++numGroups;
        remark::passed(op.getLoc(), opts("Fused")) << remarkText(
            "grouped convolution of ", g->grouped->groups(),
            " groups (tosa.slice, tosa.conv2d per group, tosa.concat)",
            g->ops.back() == g->grouped->concat ? "" : " + tosa.clamp",
            ": one kernel, one quantizer on its input and one on its output");
        groups.push_back(std::move(*g));
        continue;
      }
    // Longest complete match over the fusion patterns that start with
    // this kind; the chain continues through an op's only user in this
    // block that no group holds yet.
    SmallVector<Operation *> best{&op};
    auto next = [&](Operation *cur) -> FusionLink {
      Value last = cur->getResult(0);
      Operation *user = last.hasOneUse() ? *last.getUsers().begin() : nullptr;
      if (user && user->getBlock() == &block && !groupOf.contains(user))
        return {user, nullptr};
      return {};
    };
    for (FusionMatch &m : target.matchFusion(&op, next))
      if (m.complete && m.ops.size() > best.size())
        best = m.ops;
    // A trailing agnostic op does not belong in the kernel (its output would
    // only share the parameters anyway).
    while (best.size() > 1 && !target.lookup(getOpKind(best.back())))
      best.pop_back();
    for (Operation *o : best)
      groupOf[o] = groups.size();
    groups.push_back(Group{best, std::nullopt, std::nullopt});
    if (best.size() > 1) {
      ++numGroups;
      std::string msg = "fused group:";
      for (Operation *o : best)
        msg += " " + o->getName().getStringRef().str();
      remark::passed(op.getLoc(), opts("Fused"))
          << msg + " (no fake quantizer inside)";
    }
  }
}

std::optional<Inserter::Group> Inserter::matchGroupedKernel(tosa::Conv2DOp conv,
                                                            Block &block) {
  // The slices must share their input's grid, the concat its inputs'.
  const OpRule *concatRule = target.lookup("concat");
  if (!target.isAgnostic("slice") || !concatRule || !conv->hasOneUse())
    return std::nullopt;
  auto concat = dyn_cast<tosa::ConcatOp>(*conv->getUsers().begin());
  if (!concat || concat->getBlock() != &block)
    return std::nullopt;
  std::optional<GroupedConv> grouped = matchGroupedConv(concat);
  if (!grouped || !grouped->source || grouped->convs.front() != conv ||
      !isFloatTensor(grouped->source) ||
      groupOf.contains(concat.getOperation()) ||
      llvm::any_of(grouped->convs, [&](tosa::Conv2DOp c) {
        return groupOf.contains(c.getOperation());
      }))
    return std::nullopt;
  Group group;
  for (tosa::Conv2DOp c : grouped->convs)
    group.ops.push_back(c);
  group.ops.push_back(concat);
  // After the concat, the clamp (ReLU) that the target fuses after a conv2d
  // (the concat's output is the convolution's); an add would need the
  // other operand sliced per group: it stays a kernel of its own.
  Value out = concat.getResult();
  if (out.hasOneUse()) {
    auto clamp = dyn_cast<tosa::ClampOp>(*out.getUsers().begin());
    auto next = [&](Operation *cur) -> FusionLink {
      if (cur == conv.getOperation() && clamp && clamp->getBlock() == &block &&
          !groupOf.contains(clamp))
        return {clamp, nullptr};
      return {};
    };
    if (llvm::any_of(target.matchFusion(conv, next), [&](FusionMatch &m) {
          return m.complete && m.ops.size() == 2 &&
                 m.ops[1] == clamp.getOperation();
        }))
      group.ops.push_back(clamp);
  }
  group.grouped = std::move(grouped);
  return group;
}

std::string Inserter::quantizerName(Value v, Operation *user) {
  Value root = v;
  while (Operation *def = root.getDefiningOp()) {
    if (!isa<tosa::TransposeOp, tosa::ReshapeOp>(def))
      break;
    root = def->getOperand(0);
  }
  std::string name;
  if (isa<BlockArgument>(root)) {
    if (user)
      name = sourceName(user->getLoc(), /*last=*/true);
    if (!name.empty())
      name += ":input";
  } else {
    name = sourceName(v.getDefiningOp()->getLoc());
    if (!name.empty())
      name += ":output";
  }
  if (name.empty())
    return name;
  unsigned n = ++nameCounts[name];
  if (n > 1)
    name += "#" + std::to_string(n);
  return name;
}

std::pair<Value, Value> Inserter::createStatefulObserver(OpBuilder &b,
                                                         Location &loc, Value v,
                                                         StringRef name) {
  const QuantSpec &spec = target.activation;
  auto stateType = RankedTensorType::get({}, b.getF32Type());
  float inf = std::numeric_limits<float>::infinity();
  std::string base = "act" + std::to_string(numStates++);
  // The quantizer's ops carry its name, so that it can be found again after
  // freezing (--mlir-print-debuginfo) and diagnostics and reports name it.
  loc = NameLoc::get(
      StringAttr::get(ctx, name.empty() ? StringRef(base) : name), loc);
  SmallVector<SymbolRefAttr> refs;
  for (auto [suffix, init] :
       {std::pair<StringRef, float>{"_min", inf}, {"_max", -inf}}) {
    OpBuilder mb(ctx);
    if (lastGlobal)
      mb.setInsertionPointAfter(lastGlobal);
    else
      mb.setInsertionPointToStart(module.getBody());
    auto global = ml_program::GlobalOp::create(
        mb, loc, base + suffix.str(), stateType, /*is_mutable=*/true,
        DenseElementsAttr::get(stateType, init), mb.getStringAttr("private"));
    lastGlobal = global;
    StringAttr name = symbols.insert(global, mb.getInsertionPoint());
    refs.push_back(FlatSymbolRefAttr::get(name));
  }
  Value min = ml_program::GlobalLoadOp::create(b, loc, stateType, refs[0]);
  Value max = ml_program::GlobalLoadOp::create(b, loc, stateType, refs[1]);
  auto obs = ObserverOp::create(
      b, loc, v, min, max, ObserverKindAttr::get(ctx, spec.observer),
      b.getF32FloatAttr(spec.averagingConstant), IntegerAttr());
  pendingStores.push_back({refs[0], obs.getNewMin()});
  pendingStores.push_back({refs[1], obs.getNewMax()});
  return {obs.getNewMin(), obs.getNewMax()};
}

std::pair<Value, Value> Inserter::createChooseQParams(OpBuilder &b,
                                                      Location loc, Value min,
                                                      Value max,
                                                      const QuantSpec &spec) {
  auto rangeType = cast<RankedTensorType>(min.getType());
  auto zpType = RankedTensorType::get(rangeType.getShape(), b.getI32Type());
  auto cq = ChooseQParamsOp::create(
      b, loc, rangeType, zpType, min, max,
      b.getI64IntegerAttr(spec.getQuantMin()),
      b.getI64IntegerAttr(spec.getQuantMax()),
      QSchemeAttr::get(ctx, spec.scheme), b.getBoolAttr(spec.reduceRange),
      b.getF32FloatAttr(spec.eps), b.getBoolAttr(spec.powerOfTwo));
  return {cq.getScale(), cq.getZeroPoint()};
}

FakeQuantOp Inserter::createFakeQuant(OpBuilder &b, Location loc, Value v,
                                      Value s, Value z, const QuantSpec &spec,
                                      std::optional<int64_t> axis) {
  return FakeQuantOp::create(
      b, loc, v.getType(), v, s, z,
      b.getI64IntegerAttr(spec.getEffectiveQuantMin()),
      b.getI64IntegerAttr(spec.getEffectiveQuantMax()),
      axis ? b.getI64IntegerAttr(*axis) : IntegerAttr(),
      RoundingModeAttr::get(ctx, RoundingMode::half_even));
}

FakeQuantOp Inserter::createActivationQuantizer(Value v, StringRef why,
                                                Operation *user) {
  OpBuilder b(ctx);
  b.setInsertionPointAfterValue(v);
  Location loc = v.getLoc();
  std::string name = quantizerName(v, user);
  auto [min, max] = createStatefulObserver(b, loc, v, name);
  auto [s, z] = createChooseQParams(b, loc, min, max, target.activation);
  FakeQuantOp fq = createFakeQuant(b, loc, v, s, z, target.activation, {});
  flushStores(b, loc);
  quantized.insert(fq.getResult());
  ++numActivation;
  remark::passed(loc, opts("ActivationQuantizer"))
      << remarkText("activation quantizer on ", describe(v), ": ", why);
  return fq;
}

Value Inserter::quantizeActivationInput(Value v, Operation *user) {
  if (isQuantized(v))
    return v;
  if (Value q = inputQuantizer.lookup(v))
    return q;
  FakeQuantOp fq = createActivationQuantizer(
      v, ("input of '" + user->getName().getStringRef() + "'").str(), user);
  inputQuantizer[v] = fq.getResult();
  return fq.getResult();
}

Value Inserter::quantizeConstant(Value v, Operation *user,
                                 const QuantSpec &spec,
                                 std::optional<int64_t> axis) {
  auto type = cast<RankedTensorType>(v.getType());
  if (axis && *axis >= type.getRank()) {
    remark::missed(user->getLoc(), opts("Granularity")) << remarkText(
        "weight of '", user->getName(), "' has rank ", type.getRank(),
        ", no axis ", *axis, ": quantized per tensor");
    axis.reset();
  }
  OpBuilder b(user);
  Location loc = user->getLoc();
  if (std::string name = sourceName(loc, /*last=*/true); !name.empty())
    loc = NameLoc::get(StringAttr::get(ctx, name + ":weight"), loc);
  SmallVector<int64_t> stateShape;
  if (axis)
    stateShape.push_back(type.getDimSize(*axis));
  auto stateType = RankedTensorType::get(stateShape, b.getF32Type());
  float inf = std::numeric_limits<float>::infinity();
  Value init0 =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(stateType, inf));
  Value init1 = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(stateType, -inf));
  auto obs =
      ObserverOp::create(b, loc, v, init0, init1,
                         ObserverKindAttr::get(ctx, ObserverKind::min_max),
                         b.getF32FloatAttr(spec.averagingConstant),
                         axis ? b.getI64IntegerAttr(*axis) : IntegerAttr());
  auto [s, z] =
      createChooseQParams(b, loc, obs.getNewMin(), obs.getNewMax(), spec);
  FakeQuantOp fq = createFakeQuant(b, loc, v, s, z, spec, axis);
  ++numWeight;
  remark::passed(loc, opts("WeightQuantizer"))
      << remarkText(&spec == &target.weight ? "weight" : "constant",
                    " quantizer on operand of '", user->getName(),
                    "': ", spec.isSigned ? "s" : "u", spec.bits, " ",
                    stringifyQScheme(spec.scheme),
                    axis ? " per channel (axis " + std::to_string(*axis) + ")"
                         : std::string(" per tensor"));
  return fq.getResult();
}

void Inserter::processSharedScale(Operation *op, const OpRule &rule) {
  // One observer state per operand; one set of parameters from the union of
  // the ranges.
  SmallVector<unsigned> indices;
  for (OpOperand &operand : op->getOpOperands())
    if (rule.getRole(operand.getOperandNumber(), op->getNumOperands()) !=
            OperandRole::None &&
        isFloatTensor(operand.get()))
      indices.push_back(operand.getOperandNumber());
  if (indices.empty())
    return;
  OpBuilder b(op);
  Location loc = op->getLoc();
  Value min, max;
  SmallVector<Location> stateLocs;
  for (unsigned i : indices) {
    Location stateLoc = loc;
    auto [lo, hi] = createStatefulObserver(
        b, stateLoc, op->getOperand(i), quantizerName(op->getOperand(i), op));
    stateLocs.push_back(stateLoc);
    min = min ? arith::MinimumFOp::create(b, loc, min, lo).getResult() : lo;
    max = max ? arith::MaximumFOp::create(b, loc, max, hi).getResult() : hi;
  }
  auto [s, z] = createChooseQParams(b, loc, min, max, target.activation);
  for (auto [i, stateLoc] : llvm::zip_equal(indices, stateLocs)) {
    FakeQuantOp fq = createFakeQuant(b, stateLoc, op->getOperand(i), s, z,
                                     target.activation, {});
    op->setOperand(i, fq.getResult());
    quantized.insert(fq.getResult());
    ++numActivation;
  }
  flushStores(b, loc);
  remark::passed(loc, opts("SharedScale"))
      << remarkText("'", op->getName(), "': ", int64_t(indices.size()),
                    " inputs quantized with one shared scale and zero point");
}

void Inserter::processFunction(const ElementwiseFunction &matched) {
  // Its input may have been quantized since (a producer kernel's output
  // quantizer): match again for the current input.
  auto again = matchElementwiseFunction(matched.root);
  if (!again || !isFloatTensor(again->input))
    return;
  const ElementwiseFunction &fn = *again;
  Value q = quantizeActivationInput(fn.input, fn.ops.front());
  for (Operation *op : fn.ops)
    for (OpOperand &operand : op->getOpOperands())
      if (operand.get() == fn.input)
        operand.set(q);
  Value out = fn.root->getResult(0);
  FakeQuantOp fq = createActivationQuantizer(
      out, remarkText("output of the element-wise function ", fn.describe()));
  Operation *observer = nullptr;
  for (Operation *user : out.getUsers())
    if (isa<ObserverOp>(user))
      observer = user;
  out.replaceUsesWithIf(fq.getResult(), [&](OpOperand &use) {
    return use.getOwner() != fq && use.getOwner() != observer;
  });
}

void Inserter::processGroup(Group &group) {
  if (group.function) {
    processFunction(*group.function);
    return;
  }
  Operation *head = group.ops.front();
  Operation *last = group.ops.back();
  const OpRule *headRule = ruleOf(head);
  llvm::SmallPtrSet<Operation *, 4> members(group.ops.begin(), group.ops.end());

  // Only statically shaped f32 tensors are quantized: otherwise the whole
  // kernel stays float.
  for (Operation *op : group.ops) {
    const OpRule *rule = ruleOf(op);
    for (OpOperand &operand : op->getOpOperands()) {
      bool hasRole =
          rule && rule->getRole(operand.getOperandNumber(),
                                op->getNumOperands()) != OperandRole::None;
      if (hasRole && !isFloatTensor(operand.get())) {
        remark::missed(op->getLoc(), opts("LeftFloat")) << remarkText(
            "'", op->getName(), "' left float: operand #",
            operand.getOperandNumber(), " has type ", operand.get().getType(),
            " (only statically shaped f32 tensors are quantized)");
        return;
      }
    }
    if (op->getNumResults() != 1 || !isFloatTensor(op->getResult(0))) {
      remark::missed(op->getLoc(), opts("LeftFloat")) << remarkText(
          "'", op->getName(),
          "' left float: its result is not a statically shaped f32 "
          "tensor");
      return;
    }
  }

  if (group.grouped) {
    // One quantizer on the tensor the groups' slices come from (read
    // again: a producer's output quantizer may have replaced it since).
    Value source =
        group.grouped->convs.front().getInput().getDefiningOp()->getOperand(0);
    Value q = quantizeActivationInput(source, group.grouped->convs.front());
    for (tosa::Conv2DOp conv : group.grouped->convs) {
      Operation *slice = conv.getInput().getDefiningOp();
      slice->setOperand(0, q);
      quantized.insert(slice->getResult(0));
    }
  }

  if (group.ops.size() == 1 && headRule->sharedScale) {
    processSharedScale(head, *headRule);
  } else {
    for (Operation *op : group.ops) {
      const OpRule *rule = ruleOf(op);
      if (!rule)
        continue; // agnostic member (reshape inside a matmul kernel)
      for (OpOperand &operand : op->getOpOperands()) {
        Value v = operand.get();
        Operation *def = v.getDefiningOp();
        if (def && members.contains(def))
          continue;
        OperandRole role =
            rule->getRole(operand.getOperandNumber(), op->getNumOperands());
        if (role == OperandRole::None || !isFloatTensor(v))
          continue;
        if (isConstant(v)) {
          if (role == OperandRole::Activation && op != head) {
            remark::passed(op->getLoc(), opts("Bias")) << remarkText(
                "constant operand #", operand.getOperandNumber(), " of '",
                op->getName(), "' is a bias inside a fused kernel: kept float");
            continue;
          }
          std::optional<int64_t> axis;
          const QuantSpec &spec =
              role == OperandRole::Weight ? target.weight : target.activation;
          if (role == OperandRole::Weight && spec.perChannel)
            axis = rule->weightAxis;
          operand.set(quantizeConstant(v, op, spec, axis));
          continue;
        }
        if (role == OperandRole::Weight)
          remark::missed(op->getLoc(), opts("WeightNotConstant")) << remarkText(
              "weight operand #", operand.getOperandNumber(), " of '",
              op->getName(), "' is not a constant: quantized as an activation");
        operand.set(quantizeActivationInput(v, op));
      }
    }
  }

  // The group's output.
  const OpRule *outRule = ruleOf(last) ? ruleOf(last) : headRule;
  if (group.grouped && last == group.grouped->concat)
    outRule = headRule; // the grouped convolution's output
  Value out = last->getResult(0);
  if (!isFloatTensor(out))
    return;
  if (headRule->sharedScale && getOpKind(head) == "concat" && !group.grouped) {
    quantized.insert(out); // concatenated codes share the inputs' grid
    return;
  }
  if (!outRule->quantizeOutput)
    return;
  FakeQuantOp fq = createActivationQuantizer(
      out, ("output of '" + last->getName().getStringRef() + "'").str());
  Operation *observer = nullptr;
  for (Operation *user : out.getUsers())
    if (isa<ObserverOp>(user))
      observer = user;
  out.replaceUsesWithIf(fq.getResult(), [&](OpOperand &use) {
    return use.getOwner() != fq && use.getOwner() != observer;
  });
}

void Inserter::run(func::FuncOp func) {
  if (func.isExternal())
    return;
  if (!func.getBody().hasOneBlock()) {
    remark::missed(func.getLoc(), opts("ControlFlow")) << remarkText(
        "@", func.getSymName(), " has more than one block: left float");
    return;
  }
  Block &block = func.getBody().front();
  groups.clear();
  groupOf.clear();
  formGroups(block);

  SmallVector<Operation *> ops;
  for (Operation &op : block)
    ops.push_back(&op);
  for (Operation *op : ops) {
    StringRef kind = getOpKind(op);
    if (auto it = groupOf.find(op); it != groupOf.end()) {
      // At its last op every operand of the group is defined and every
      // producer group is done (its output quantizer exists).
      if (groups[it->second].ops.back() == op)
        processGroup(groups[it->second]);
      continue;
    }
    if (!kind.empty() && target.isAgnostic(kind)) {
      if (op->getNumOperands() && isQuantized(op->getOperand(0))) {
        quantized.insert(op->getResult(0));
        remark::passed(op->getLoc(), opts("Agnostic")) << remarkText(
            "'", op->getName(),
            "' is quantization-agnostic: its output shares its input's "
            "parameters");
      }
      continue;
    }
    if (isa<func::ReturnOp, arith::ConstantOp, tosa::ConstOp,
            tosa::ConstShapeOp>(op) ||
        isa<QATDialect, ml_program::MLProgramDialect>(op->getDialect()))
      continue;
    if (!llvm::any_of(op->getResults(), isFloatTensor))
      continue;
    if (isConstant(op->getResult(0)))
      continue;
    remark::missed(op->getLoc(), opts("LeftFloat"))
        << (kind.empty()
                ? remarkText("'", op->getName(),
                             "' is outside the input contract: left float")
                : remarkText("target ", target.name, " does not quantize '",
                             op->getName(), "': left float"));
  }
}

namespace {
struct InsertFakeQuantPass
    : qat::impl::InsertFakeQuantPassBase<InsertFakeQuantPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(verifyInputContract(module)))
      return signalPassFailure();
    auto t = TargetDescription::get(target);
    if (!t) {
      module.emitError("qat-insert-fake-quant: ")
          << llvm::toString(t.takeError());
      return signalPassFailure();
    }
    if (module->hasAttr(kTargetAttrName)) {
      module.emitError("qat-insert-fake-quant: the module is already prepared "
                       "for target ")
          << module->getAttr(kTargetAttrName);
      return signalPassFailure();
    }
    SymbolTable symbols(module);
    Inserter inserter(module, *t, symbols);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>()))
      inserter.run(func);
    module->setAttr(kTargetAttrName, StringAttr::get(&getContext(), t->name));
    numActivationQuantizers = inserter.numActivation;
    numWeightQuantizers = inserter.numWeight;
    numFusedGroups = inserter.numGroups;
  }
};
} // namespace
