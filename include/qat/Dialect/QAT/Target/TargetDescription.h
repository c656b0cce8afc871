//===- TargetDescription.h - what a piece of int8 hardware can run -*- C++
//-*-===//
//
// A target description says how a model must be quantized to run on one
// piece of hardware: the quantization of activations and weights, which op
// kinds are quantized and which operands are weights, which op chains fuse
// into one kernel, which ops are quantization-agnostic, which need one shared
// scale, and how the hardware requantizes. It is read from JSON (the built-in
// `x86` and `bpu` targets are JSON text too); docs/Targets.md documents the
// format with a worked example.
//
// Op kinds are the TOSA op names without the dialect prefix: conv2d,
// depthwise_conv2d, matmul, add, sub, mul, clamp, avg_pool2d, max_pool2d,
// reshape, transpose, concat.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_TARGET_TARGETDESCRIPTION_H
#define QAT_TARGET_TARGETDESCRIPTION_H

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace mlir::qat {

/// How one kind of tensor (activations or weights) is quantized.
struct QuantSpec {
  unsigned bits = 8;
  bool isSigned = false;
  QScheme scheme = QScheme::affine;
  /// Per channel (weights only): the axis comes from the op rule.
  bool perChannel = false;
  /// Signed ranges drop the most negative code (-127..127).
  bool narrowRange = false;
  /// PyTorch's reduce_range: the range is halved (u8 0..127).
  bool reduceRange = false;
  /// Scales are powers of two (rounded up, so the range stays covered).
  bool powerOfTwo = false;
  ObserverKind observer = ObserverKind::min_max;
  float averagingConstant = 0.01f;
  float eps = 1.1920928955078125e-07f;

  /// The integer range before reduce_range (what choose_qparams takes).
  int64_t getQuantMin() const;
  int64_t getQuantMax() const;
  /// The integer range after reduce_range (what fake_quant clamps to).
  int64_t getEffectiveQuantMin() const;
  int64_t getEffectiveQuantMax() const;
  bool operator==(const QuantSpec &other) const;
};

/// What an operand of a quantized op is.
enum class OperandRole { None, Activation, Weight };

/// How one op kind is quantized.
struct OpRule {
  /// Roles of the leading operands; later operands have role None. A
  /// variadic op (concat) applies its single role to every operand.
  llvm::SmallVector<OperandRole> operands;
  /// The output channel axis of the weight operand (per-channel weights).
  int64_t weightAxis = 0;
  /// All activation operands (and the result) share one scale/zero point.
  bool sharedScale = false;
  /// The result is quantized (the kernel writes int8).
  bool quantizeOutput = true;
  /// The op may be padded (a nonzero `pad` attribute); false: only unpadded.
  bool padding = true;
  /// The op runs only as a later step of a fused kernel (a clamp that is a
  /// kernel's epilogue), never on its own.
  bool fusedOnly = false;

  OperandRole getRole(unsigned operandIndex, unsigned numOperands) const;
};

/// One element of a fusion pattern: an op kind, possibly optional.
struct FusionStep {
  std::string kind;
  bool optional = false;
};

/// One link of a fused chain as a pass sees it: the op after the chain's
/// last op, and the qat.fake_quant between the two that a pass reading a
/// prepared model crossed on the way (null if none). A null `next` ends the
/// chain.
struct FusionLink {
  Operation *next = nullptr;
  Operation *crossed = nullptr;
};

/// What matchFusionPattern matched of one pattern: its ops (the head
/// first); for each op after the head, the quantizer crossed before it (or
/// null); whether every required step matched.
struct FusionMatch {
  llvm::SmallVector<Operation *> ops;
  llvm::SmallVector<Operation *> crossed;
  bool complete = true;
};

/// The one matcher of fused op chains (conv2d / depthwise_conv2d / matmul
/// [-> reshape] [-> add] [-> clamp], add -> clamp): used by
/// qat-insert-fake-quant to form its groups, by qat-verify-target to check
/// them (both through TargetDescription::matchFusion) and by
/// qat-convert-to-integer to recognise the chain a qat.integer_kernel
/// carries. From `head` (whose kind must be the pattern's first), it walks
/// the pattern's later steps, asking `next` for the op after the chain's
/// last op: that op extends the chain when its kind (getOpKind) is the
/// step's; an optional step it does not match is skipped (the same op may
/// match the following step); a required one ends the walk with `complete`
/// false. The passes differ only in `next`.
FusionMatch
matchFusionPattern(llvm::ArrayRef<FusionStep> pattern, Operation *head,
                   llvm::function_ref<FusionLink(Operation *)> next);

enum class Requantization {
  FloatMultiplier,
  FixedPoint,
  Shift,
  /// PyTorch 1.13's onednn engine: float multipliers computed from the
  /// scales' reciprocals, the f32 bias added after the accumulation, the
  /// zero point added in f32 before rounding; adds dequantize with an FMA
  /// (docs/Conversion.md, "PyTorch-exact arithmetic").
  PyTorchOneDNN,
  /// PyTorch 1.13's qnnpack engine: float multipliers (s_w * s_in) *
  /// (1 / s_out), the int32 bias rounded with the f32 reciprocal of its
  /// scale, adds in fixed point rounded half away from zero, qnnpack's
  /// hardswish/hardsigmoid tables (docs/Conversion.md).
  PyTorchQNNPACK
};

struct TargetDescription {
  std::string name;
  std::string description;
  QuantSpec activation, weight;
  llvm::StringMap<OpRule> ops;
  /// Op chains that run as one kernel; the first element is mandatory.
  llvm::SmallVector<llvm::SmallVector<FusionStep>> fusions;

  /// matchFusionPattern of each fusion pattern that starts with `head`'s
  /// kind, in the order of `fusions`.
  llvm::SmallVector<FusionMatch>
  matchFusion(Operation *head,
              llvm::function_ref<FusionLink(Operation *)> next) const;
  /// Ops whose output shares its input's quantization parameters.
  llvm::StringSet<> agnostic;
  Requantization requantization = Requantization::FloatMultiplier;
  unsigned accumulatorBits = 32;
  /// The hardware computes in float where a model is not quantized. False
  /// (an integer-only accelerator): every op must be quantized, agnostic or
  /// part of a fused kernel, and qat-verify-target rejects the others.
  bool floatFallback = true;
  /// The hardware looks 8-bit codes up in 256-entry tables: an element-wise
  /// function of one quantized value (sigmoid, SiLU, hardswish, GELU, ...;
  /// qat/Dialect/QAT/Utils/ElementwiseFunction.h) runs as one table from
  /// its input's codes to its output's codes.
  bool lookupTables = false;

  const OpRule *lookup(llvm::StringRef kind) const {
    auto it = ops.find(kind);
    return it == ops.end() ? nullptr : &it->second;
  }
  bool isAgnostic(llvm::StringRef kind) const {
    return agnostic.contains(kind);
  }

  /// Deepest nesting of arrays and objects parseJSON accepts (a description
  /// nests 4 levels; llvm::json recurses once per level).
  static constexpr size_t kMaxJSONNesting = 64;

  /// Parses a description from JSON text; `source` names it in errors.
  static llvm::Expected<TargetDescription> parseJSON(llvm::StringRef text,
                                                     llvm::StringRef source);
  /// Resolves a target specification: a built-in name (`x86`, `bpu`) or the
  /// path of a JSON file, optionally followed by `:option` modifiers
  /// (`x86:reduce-range`, `bpu:per-channel:pow2`). See docs/Targets.md.
  static llvm::Expected<TargetDescription> get(llvm::StringRef spec);
  /// Applies one modifier (`reduce-range`, `per-channel`, `pow2`,
  /// `narrow-range`).
  llvm::Error applyModifier(llvm::StringRef modifier);
  /// Checks the description for contradictions (for example unsigned
  /// symmetric with reduce_range, or shift requantization without
  /// power-of-two scales).
  llvm::Error validate() const;
};

/// The op kind of a TOSA op (`conv2d` for tosa.conv2d), or "" otherwise.
llvm::StringRef getOpKind(Operation *op);

/// The JSON text of the built-in targets, by name.
std::optional<llvm::StringRef> getBuiltinTargetJSON(llvm::StringRef name);
llvm::ArrayRef<llvm::StringRef> getBuiltinTargetNames();

llvm::StringRef stringifyRequantization(Requantization r);

} // namespace mlir::qat

#endif // QAT_TARGET_TARGETDESCRIPTION_H
