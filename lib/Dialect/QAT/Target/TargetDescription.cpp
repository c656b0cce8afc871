//===- TargetDescription.cpp - parsing and checking target descriptions ---===//
//
// Reads the JSON format of docs/Targets.md. Every error names the source,
// the key and what was expected.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Target/TargetDescription.h"
#include "qat/Dialect/QAT/Utils/Numerics.h"
#include "qat/Support/Error.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdio>
#include <limits>

using namespace mlir;
using namespace mlir::qat;
namespace json = llvm::json;

namespace mlir::qat {
extern const llvm::StringLiteral kX86TargetJSON;
extern const llvm::StringLiteral kBPUTargetJSON;
} // namespace mlir::qat

//===----------------------------------------------------------------------===//
// QuantSpec, OpRule
//===----------------------------------------------------------------------===//

int64_t QuantSpec::getQuantMin() const {
  if (!isSigned)
    return 0;
  int64_t m = -(int64_t(1) << (bits - 1));
  return narrowRange ? m + 1 : m;
}
int64_t QuantSpec::getQuantMax() const {
  return isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
}
int64_t QuantSpec::getEffectiveQuantMin() const {
  return reduceRange ? numerics::reduceRangeBound(getQuantMin())
                     : getQuantMin();
}
int64_t QuantSpec::getEffectiveQuantMax() const {
  return reduceRange ? numerics::reduceRangeBound(getQuantMax())
                     : getQuantMax();
}
bool QuantSpec::operator==(const QuantSpec &o) const {
  return bits == o.bits && isSigned == o.isSigned && scheme == o.scheme &&
         perChannel == o.perChannel && narrowRange == o.narrowRange &&
         reduceRange == o.reduceRange && powerOfTwo == o.powerOfTwo &&
         observer == o.observer && averagingConstant == o.averagingConstant &&
         eps == o.eps;
}

OperandRole OpRule::getRole(unsigned index, unsigned numOperands) const {
  if (operands.empty())
    return OperandRole::None;
  if (operands.size() == 1 && numOperands > 1 && sharedScale)
    return operands[0];
  return index < operands.size() ? operands[index] : OperandRole::None;
}

StringRef qat::stringifyRequantization(Requantization r) {
  switch (r) {
  case Requantization::FloatMultiplier:
    return "float_multiplier";
  case Requantization::FixedPoint:
    return "fixed_point";
  case Requantization::Shift:
    return "shift";
  case Requantization::PyTorchOneDNN:
    return "pytorch_onednn";
  case Requantization::PyTorchQNNPACK:
    return "pytorch_qnnpack";
  }
  return "";
}

FusionMatch
qat::matchFusionPattern(ArrayRef<FusionStep> pattern, Operation *head,
                        function_ref<FusionLink(Operation *)> next) {
  FusionMatch m;
  m.ops.push_back(head);
  for (const FusionStep &step : pattern.drop_front()) {
    FusionLink link = next(m.ops.back());
    if (link.next && getOpKind(link.next) == step.kind) {
      m.ops.push_back(link.next);
      m.crossed.push_back(link.crossed);
      continue;
    }
    if (!step.optional) {
      m.complete = false;
      break;
    }
  }
  return m;
}

SmallVector<FusionMatch> TargetDescription::matchFusion(
    Operation *head, function_ref<FusionLink(Operation *)> next) const {
  SmallVector<FusionMatch> matches;
  StringRef kind = getOpKind(head);
  for (const auto &pattern : fusions)
    if (!kind.empty() && pattern.front().kind == kind)
      matches.push_back(matchFusionPattern(pattern, head, next));
  return matches;
}

StringRef qat::getOpKind(Operation *op) {
  return llvm::TypeSwitch<Operation *, StringRef>(op)
      .Case([](tosa::Conv2DOp) { return "conv2d"; })
      .Case([](tosa::DepthwiseConv2DOp) { return "depthwise_conv2d"; })
      .Case([](tosa::MatMulOp) { return "matmul"; })
      .Case([](tosa::AddOp) { return "add"; })
      .Case([](tosa::SubOp) { return "sub"; })
      .Case([](tosa::MulOp) { return "mul"; })
      .Case([](tosa::ClampOp) { return "clamp"; })
      .Case([](tosa::AvgPool2dOp) { return "avg_pool2d"; })
      .Case([](tosa::MaxPool2dOp) { return "max_pool2d"; })
      .Case([](tosa::ReshapeOp) { return "reshape"; })
      .Case([](tosa::TransposeOp) { return "transpose"; })
      .Case([](tosa::SliceOp) { return "slice"; })
      .Case([](tosa::ConcatOp) { return "concat"; })
      .Default([](Operation *) { return ""; });
}

static const StringRef kKnownKinds[] = {"conv2d",     "depthwise_conv2d",
                                        "matmul",     "add",
                                        "sub",        "mul",
                                        "clamp",      "avg_pool2d",
                                        "max_pool2d", "reshape",
                                        "transpose",  "concat",
                                        "slice"};

static bool isKnownKind(StringRef kind) {
  return llvm::is_contained(kKnownKinds, kind);
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

namespace {
/// Reads typed fields with errors that name the source and the key path.
struct Reader {
  StringRef source;
  std::optional<std::string> message;

  bool fail(const llvm::Twine &path, const llvm::Twine &msg) {
    if (!message)
      message = ("target " + source + ": '" + path + "': " + msg).str();
    return false;
  }
  llvm::Error take() {
    return makeError(message ? *message : "invalid target");
  }
};
} // namespace

/// The deepest nesting of arrays and objects in `text` (outside strings);
/// stops counting past TargetDescription::kMaxJSONNesting + 1.
static size_t getJSONNestingDepth(StringRef text) {
  size_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0;
       i < text.size() && deepest <= TargetDescription::kMaxJSONNesting; ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // the escaped character
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return deepest;
}

static bool checkKeys(Reader &r, const json::Object &obj, StringRef path,
                      ArrayRef<StringRef> allowed) {
  for (const auto &kv : obj)
    if (!llvm::is_contained(allowed, StringRef(kv.first))) {
      std::string list;
      for (StringRef a : allowed)
        list += (list.empty() ? "" : ", ") + a.str();
      return r.fail(path.empty() ? StringRef(kv.first).str()
                                 : (path + "." + StringRef(kv.first)).str(),
                    "unknown key (expected one of: " + list + ")");
    }
  return true;
}

static bool readQuantSpec(Reader &r, const json::Value *v, StringRef path,
                          QuantSpec &spec) {
  const json::Object *obj = v ? v->getAsObject() : nullptr;
  if (!obj)
    return r.fail(path, "expected an object");
  if (!checkKeys(r, *obj, path,
                 {"dtype", "scheme", "granularity", "narrow_range",
                  "reduce_range", "power_of_two", "observer",
                  "averaging_constant", "eps"}))
    return false;
  auto str = [&](StringRef key, StringRef def) -> std::optional<StringRef> {
    const json::Value *f = obj->get(key);
    if (!f)
      return def;
    if (auto s = f->getAsString())
      return *s;
    r.fail(path + "." + key, "expected a string");
    return std::nullopt;
  };
  auto boolean = [&](StringRef key, bool &out) {
    const json::Value *f = obj->get(key);
    if (!f)
      return true;
    if (auto b = f->getAsBoolean()) {
      out = *b;
      return true;
    }
    return r.fail(path + "." + key, "expected true or false");
  };
  // An f32 parameter: a JSON number within f32's finite range (a larger
  // one would become inf, and converting it is undefined behaviour).
  auto number = [&](StringRef key, float &out) {
    const json::Value *f = obj->get(key);
    if (!f)
      return true;
    std::optional<double> d = f->getAsNumber();
    if (!d)
      return r.fail(path + "." + key, "expected a number");
    if (!std::isfinite(*d) ||
        std::fabs(*d) > double(std::numeric_limits<float>::max())) {
      char text[32];
      std::snprintf(text, sizeof(text), "%g", *d);
      return r.fail(path + "." + key,
                    "expected a finite f32 number (magnitude at most "
                    "3.40282347e+38), got " +
                        llvm::Twine(text));
    }
    out = static_cast<float>(*d);
    return true;
  };

  auto dtype = str("dtype", "");
  if (!dtype)
    return false;
  unsigned bits = 0;
  if (dtype->size() < 2 || (dtype->front() != 's' && dtype->front() != 'u') ||
      dtype->drop_front().getAsInteger(10, bits) || bits < 2 || bits > 16)
    return r.fail(path + ".dtype", "expected s<bits> or u<bits> with 2 <= "
                                   "bits <= 16 (e.g. \"u8\"), got \"" +
                                       *dtype + "\"");
  spec.bits = bits;
  spec.isSigned = dtype->front() == 's';

  auto scheme = str("scheme", "affine");
  if (!scheme)
    return false;
  if (*scheme == "affine")
    spec.scheme = QScheme::affine;
  else if (*scheme == "symmetric")
    spec.scheme = QScheme::symmetric;
  else
    return r.fail(path + ".scheme",
                  "expected \"affine\" or \"symmetric\", got \"" + *scheme +
                      "\"");

  auto gran = str("granularity", "per_tensor");
  if (!gran)
    return false;
  if (*gran != "per_tensor" && *gran != "per_channel")
    return r.fail(path + ".granularity",
                  "expected \"per_tensor\" or \"per_channel\", got \"" + *gran +
                      "\"");
  spec.perChannel = *gran == "per_channel";

  auto observer = str("observer", "min_max");
  if (!observer)
    return false;
  if (*observer == "min_max")
    spec.observer = ObserverKind::min_max;
  else if (*observer == "moving_average")
    spec.observer = ObserverKind::moving_average;
  else
    return r.fail(path + ".observer",
                  "expected \"min_max\" or \"moving_average\", got \"" +
                      *observer + "\"");
  return boolean("narrow_range", spec.narrowRange) &&
         boolean("reduce_range", spec.reduceRange) &&
         boolean("power_of_two", spec.powerOfTwo) &&
         number("averaging_constant", spec.averagingConstant) &&
         number("eps", spec.eps);
}

static bool readRole(Reader &r, const json::Value &v, const llvm::Twine &path,
                     OperandRole &role) {
  auto s = v.getAsString();
  if (s && *s == "activation")
    role = OperandRole::Activation;
  else if (s && *s == "weight")
    role = OperandRole::Weight;
  else if (s && *s == "none")
    role = OperandRole::None;
  else
    return r.fail(path, "expected \"activation\", \"weight\" or \"none\"");
  return true;
}

llvm::Expected<TargetDescription>
TargetDescription::parseJSON(StringRef text, StringRef source) {
  // llvm::json parses (and destroys) values recursively: deep nesting would
  // overflow the stack, so it is refused before parsing.
  if (size_t depth = getJSONNestingDepth(text);
      depth > TargetDescription::kMaxJSONNesting)
    return makeError("target " + source + ": invalid JSON: nested " +
                     llvm::Twine(depth) +
                     " levels deep; a target "
                     "description nests at most " +
                     llvm::Twine(TargetDescription::kMaxJSONNesting));
  auto parsed = json::parse(text);
  if (!parsed)
    return makeError("target " + source +
                     ": invalid JSON: " + llvm::toString(parsed.takeError()));
  Reader r{source, std::nullopt};
  TargetDescription t;
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return makeError("target " + source + ": expected a JSON object");
  if (!checkKeys(r, *root, "",
                 {"name", "description", "activation", "weight", "ops",
                  "agnostic", "fusions", "requantization", "accumulator_bits",
                  "float_fallback", "lookup_tables"}))
    return r.take();

  if (auto name = root->getString("name"))
    t.name = name->str();
  else
    return (r.fail("name", "required string"), r.take());
  if (const json::Value *d = root->get("description")) {
    if (!d->getAsString())
      return (r.fail("description", "expected a string"), r.take());
    t.description = d->getAsString()->str();
  }
  if (!readQuantSpec(r, root->get("activation"), "activation", t.activation) ||
      !readQuantSpec(r, root->get("weight"), "weight", t.weight))
    return r.take();

  const json::Object *ops = root->getObject("ops");
  if (!ops)
    return (r.fail("ops", "required object"), r.take());
  for (const auto &kv : *ops) {
    std::string path = "ops." + std::string(StringRef(kv.first));
    StringRef kind = kv.first;
    if (!isKnownKind(kind))
      return (r.fail(path, "unknown op kind"), r.take());
    const json::Object *ruleObj = kv.second.getAsObject();
    if (!ruleObj)
      return (r.fail(path, "expected an object"), r.take());
    if (!checkKeys(r, *ruleObj, path,
                   {"operands", "weight_axis", "shared_scale",
                    "quantize_output", "padding", "fused_only"}))
      return r.take();
    OpRule rule;
    const json::Array *operands = ruleObj->getArray("operands");
    if (!operands)
      return (r.fail(path + ".operands", "required array"), r.take());
    for (auto [i, v] : llvm::enumerate(*operands)) {
      OperandRole role;
      if (!readRole(r, v, path + ".operands[" + llvm::Twine(i) + "]", role))
        return r.take();
      rule.operands.push_back(role);
    }
    if (auto axis = ruleObj->getInteger("weight_axis"))
      rule.weightAxis = *axis;
    else if (ruleObj->get("weight_axis"))
      return (r.fail(path + ".weight_axis", "expected an integer"), r.take());
    for (auto [key, field] :
         {std::pair<StringRef, bool *>{"shared_scale", &rule.sharedScale},
          {"quantize_output", &rule.quantizeOutput},
          {"padding", &rule.padding},
          {"fused_only", &rule.fusedOnly}}) {
      if (!ruleObj->get(key))
        continue;
      if (auto b = ruleObj->getBoolean(key))
        *field = *b;
      else
        return (r.fail(path + "." + key, "expected true or false"), r.take());
    }
    t.ops[kind] = rule;
  }

  if (const json::Value *agn = root->get("agnostic")) {
    const json::Array *arr = agn->getAsArray();
    if (!arr)
      return (r.fail("agnostic", "expected an array of op kinds"), r.take());
    for (auto [i, v] : llvm::enumerate(*arr)) {
      auto s = v.getAsString();
      if (!s || !isKnownKind(*s))
        return (
            r.fail("agnostic[" + llvm::Twine(i) + "]", "expected an op kind"),
            r.take());
      t.agnostic.insert(*s);
    }
  }

  if (const json::Value *fus = root->get("fusions")) {
    const json::Array *arr = fus->getAsArray();
    if (!arr)
      return (r.fail("fusions", "expected an array of op kind chains"),
              r.take());
    for (auto [i, v] : llvm::enumerate(*arr)) {
      const json::Array *chain = v.getAsArray();
      std::string path = "fusions[" + std::to_string(i) + "]";
      if (!chain || chain->size() < 2)
        return (r.fail(path, "expected an array of at least two op kinds"),
                r.take());
      SmallVector<FusionStep> steps;
      for (auto [j, s] : llvm::enumerate(*chain)) {
        auto str = s.getAsString();
        FusionStep step;
        if (str) {
          step.optional = str->ends_with("?");
          step.kind = str->drop_back(step.optional ? 1 : 0).str();
        }
        if (!str || !isKnownKind(step.kind) || (j == 0 && step.optional))
          return (r.fail(path + "[" + llvm::Twine(j) + "]",
                         j == 0 ? "expected an op kind (the first is not "
                                  "optional)"
                                : "expected an op kind, optionally with '?'"),
                  r.take());
        steps.push_back(step);
      }
      t.fusions.push_back(std::move(steps));
    }
  }

  if (root->get("requantization") && !root->getString("requantization"))
    return (r.fail("requantization", "expected \"float_multiplier\", "
                                     "\"fixed_point\", \"shift\", "
                                     "\"pytorch_onednn\" or "
                                     "\"pytorch_qnnpack\""),
            r.take());
  if (auto req = root->getString("requantization")) {
    if (*req == "float_multiplier")
      t.requantization = Requantization::FloatMultiplier;
    else if (*req == "fixed_point")
      t.requantization = Requantization::FixedPoint;
    else if (*req == "shift")
      t.requantization = Requantization::Shift;
    else if (*req == "pytorch_onednn")
      t.requantization = Requantization::PyTorchOneDNN;
    else if (*req == "pytorch_qnnpack")
      t.requantization = Requantization::PyTorchQNNPACK;
    else
      return (r.fail("requantization", "expected \"float_multiplier\", "
                                       "\"fixed_point\", \"shift\", "
                                       "\"pytorch_onednn\" or "
                                       "\"pytorch_qnnpack\""),
              r.take());
  }
  if (root->get("accumulator_bits") && !root->getInteger("accumulator_bits"))
    return (r.fail("accumulator_bits", "expected an integer in 16..64"),
            r.take());
  if (auto acc = root->getInteger("accumulator_bits")) {
    if (*acc < 16 || *acc > 64)
      return (r.fail("accumulator_bits", "expected 16..64"), r.take());
    t.accumulatorBits = *acc;
  }
  if (const json::Value *ff = root->get("float_fallback")) {
    if (auto b = ff->getAsBoolean())
      t.floatFallback = *b;
    else
      return (r.fail("float_fallback", "expected true or false"), r.take());
  }
  if (const json::Value *lt = root->get("lookup_tables")) {
    if (auto b = lt->getAsBoolean())
      t.lookupTables = *b;
    else
      return (r.fail("lookup_tables", "expected true or false"), r.take());
  }
  if (auto err = t.validate())
    return makeError("target " + source + ": " +
                     llvm::toString(std::move(err)));
  return t;
}

llvm::Error TargetDescription::validate() const {
  for (auto [what, spec] :
       {std::pair<StringRef, const QuantSpec *>{"activation", &activation},
        {"weight", &weight}}) {
    if (spec->reduceRange && !spec->isSigned &&
        spec->scheme == QScheme::symmetric)
      return makeError(what + ": reduce_range with an unsigned symmetric "
                              "scheme puts the zero point outside the range");
    if (spec->narrowRange && !spec->isSigned)
      return makeError(what + ": narrow_range needs a signed dtype");
    if (!(spec->averagingConstant > 0.0f && spec->averagingConstant <= 1.0f))
      return makeError(what + ": averaging_constant must be in (0, 1]");
    if (!(spec->eps > 0.0f))
      return makeError(what + ": eps must be positive");
    if (!std::isfinite(spec->eps) || !std::isfinite(spec->averagingConstant))
      return makeError(what + ": eps and averaging_constant must be finite");
  }
  if (activation.perChannel)
    return makeError("activation: per_channel activations are not supported "
                     "(only weights are quantized per channel)");
  if (requantization == Requantization::Shift &&
      !(activation.powerOfTwo && weight.powerOfTwo))
    return makeError("shift requantization needs power_of_two scales for "
                     "activations and weights");
  for (const auto &kv : ops)
    if (kv.second.weightAxis < 0)
      return makeError("ops." + kv.first() + ".weight_axis must be >= 0");
  if (lookupTables && activation.bits > 8)
    return makeError("lookup_tables needs activations of at most 8 bits "
                     "(tables have one entry per input code)");
  return llvm::Error::success();
}

llvm::Error TargetDescription::applyModifier(StringRef modifier) {
  if (modifier == "reduce-range")
    activation.reduceRange = true;
  else if (modifier == "per-channel")
    weight.perChannel = true;
  else if (modifier == "per-tensor")
    weight.perChannel = false;
  else if (modifier == "narrow-range")
    weight.narrowRange = true;
  else if (modifier == "pow2") {
    activation.powerOfTwo = weight.powerOfTwo = true;
    requantization = Requantization::Shift;
  } else if (modifier == "pytorch-onednn")
    requantization = Requantization::PyTorchOneDNN;
  else if (modifier == "pytorch-qnnpack")
    requantization = Requantization::PyTorchQNNPACK;
  else
    return makeError("unknown target modifier '" + modifier +
                     "' (expected reduce-range, per-channel, per-tensor, "
                     "narrow-range, pow2, pytorch-onednn or "
                     "pytorch-qnnpack)");
  name += ":" + modifier.str();
  return validate();
}

static const StringRef kBuiltinNames[] = {"x86", "bpu"};

ArrayRef<StringRef> qat::getBuiltinTargetNames() { return kBuiltinNames; }

std::optional<StringRef> qat::getBuiltinTargetJSON(StringRef name) {
  if (name == "x86")
    return StringRef(kX86TargetJSON);
  if (name == "bpu")
    return StringRef(kBPUTargetJSON);
  return std::nullopt;
}

llvm::Expected<TargetDescription> TargetDescription::get(StringRef spec) {
  if (spec.empty())
    return makeError("no target given (expected x86, bpu or the path of a "
                     "JSON target file)");
  // A path may contain ':' only before the last '/', so modifiers are the
  // ':'-separated words after the last path separator.
  size_t slash = spec.rfind('/');
  size_t colon = spec.find(':', slash == StringRef::npos ? 0 : slash);
  StringRef base = spec.substr(0, colon);
  SmallVector<StringRef> modifiers;
  if (colon != StringRef::npos)
    spec.substr(colon + 1).split(modifiers, ':', -1, /*KeepEmpty=*/false);

  llvm::Expected<TargetDescription> t = makeError("");
  llvm::consumeError(t.takeError());
  if (auto json = getBuiltinTargetJSON(base)) {
    t = parseJSON(*json, base);
  } else if (base.ends_with(".json") || base.contains('/')) {
    auto buffer = llvm::MemoryBuffer::getFile(base);
    if (!buffer)
      return makeError("cannot read target file '" + base +
                       "': " + buffer.getError().message());
    t = parseJSON((*buffer)->getBuffer(), base);
  } else {
    return makeError("unknown target '" + base +
                     "' (built-in targets: x86, bpu; a target file must end "
                     "in .json)");
  }
  if (!t)
    return t.takeError();
  for (StringRef m : modifiers)
    if (auto err = t->applyModifier(m))
      return makeError("target " + spec + ": " +
                       llvm::toString(std::move(err)));
  return t;
}
