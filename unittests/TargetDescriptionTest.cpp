//===- TargetDescriptionTest.cpp - parsing and checking target files ------===//
//
// The built-in targets say what docs/Targets.md says they do; every error of
// the JSON reader and of validate() is reachable and names the key.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Target/TargetDescription.h"

#include <gtest/gtest.h>

using namespace mlir::qat;

namespace {

std::string errorOf(llvm::StringRef json) {
  auto t = TargetDescription::parseJSON(json, "t.json");
  if (t)
    return "";
  return llvm::toString(t.takeError());
}

constexpr const char *kMinimal =
    R"({"name": "m", "activation": {"dtype": "u8"}, "weight": {"dtype": "s8"},
        "ops": {"conv2d": {"operands": ["activation", "weight"]}}})";

TEST(TargetDescription, X86) {
  auto t = TargetDescription::get("x86");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  EXPECT_EQ(t->activation.getQuantMin(), 0);
  EXPECT_EQ(t->activation.getQuantMax(), 255);
  EXPECT_EQ(t->activation.scheme, QScheme::affine);
  EXPECT_EQ(t->activation.observer, ObserverKind::moving_average);
  EXPECT_FALSE(t->activation.reduceRange);
  EXPECT_EQ(t->weight.getQuantMin(), -128);
  EXPECT_EQ(t->weight.scheme, QScheme::symmetric);
  EXPECT_TRUE(t->weight.perChannel);
  EXPECT_EQ(t->lookup("conv2d")->weightAxis, 0);
  EXPECT_EQ(t->lookup("depthwise_conv2d")->weightAxis, 2);
  EXPECT_EQ(t->lookup("matmul")->weightAxis, 2);
  EXPECT_TRUE(t->lookup("concat")->sharedScale);
  EXPECT_FALSE(t->lookup("add")->sharedScale);
  EXPECT_TRUE(t->isAgnostic("max_pool2d"));
  EXPECT_EQ(t->requantization, Requantization::FloatMultiplier);
  EXPECT_EQ(t->accumulatorBits, 32u);
}

TEST(TargetDescription, X86ReduceRange) {
  auto t = TargetDescription::get("x86:reduce-range");
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->name, "x86:reduce-range");
  EXPECT_EQ(t->activation.getQuantMax(), 255);
  EXPECT_EQ(t->activation.getEffectiveQuantMin(), 0);
  EXPECT_EQ(t->activation.getEffectiveQuantMax(), 127);
}

TEST(TargetDescription, BPU) {
  auto t = TargetDescription::get("bpu");
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->activation.getQuantMin(), -128);
  EXPECT_EQ(t->activation.scheme, QScheme::symmetric);
  EXPECT_FALSE(t->weight.perChannel);
  EXPECT_TRUE(t->lookup("add")->sharedScale);
  EXPECT_EQ(t->requantization, Requantization::FixedPoint);
  // What the NPU runs (docs/NPU.md): no float arithmetic, a clamp only as a
  // kernel's epilogue, unpadded average pools, no mul.
  EXPECT_FALSE(t->floatFallback);
  EXPECT_TRUE(t->lookup("clamp")->fusedOnly);
  EXPECT_FALSE(t->lookup("avg_pool2d")->padding);
  EXPECT_TRUE(t->lookup("conv2d")->padding);
  EXPECT_EQ(t->lookup("mul"), nullptr);
  EXPECT_TRUE(t->isAgnostic("transpose"));
  EXPECT_TRUE(TargetDescription::get("x86")->floatFallback);

  auto p = TargetDescription::get("bpu:per-channel:pow2");
  ASSERT_TRUE(bool(p));
  EXPECT_TRUE(p->weight.perChannel);
  EXPECT_TRUE(p->activation.powerOfTwo && p->weight.powerOfTwo);
  EXPECT_EQ(p->requantization, Requantization::Shift);
}

TEST(TargetDescription, SpecErrors) {
  auto expectError = [](llvm::StringRef spec, llvm::StringRef msg) {
    auto t = TargetDescription::get(spec);
    ASSERT_FALSE(bool(t)) << spec.str();
    EXPECT_EQ(llvm::toString(t.takeError()), msg.str());
  };
  expectError("", "no target given (expected x86, bpu or the path of a JSON "
                  "target file)");
  expectError("arm", "unknown target 'arm' (built-in targets: x86, bpu; a "
                     "target file must end in .json)");
  expectError("x86:turbo",
              "target x86:turbo: unknown target modifier 'turbo' "
              "(expected reduce-range, per-channel, per-tensor, "
              "narrow-range, pow2, pytorch-onednn or pytorch-qnnpack)");
  auto t = TargetDescription::get("/nonexistent/t.json");
  ASSERT_FALSE(bool(t));
  EXPECT_NE(llvm::toString(t.takeError())
                .find("cannot read target file '/nonexistent/t.json'"),
            std::string::npos);
}

TEST(TargetDescription, Minimal) {
  auto t = TargetDescription::parseJSON(kMinimal, "t.json");
  ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
  // Defaults: affine, per tensor, min/max, f32 eps.
  EXPECT_EQ(t->weight.scheme, QScheme::affine);
  EXPECT_EQ(t->activation.observer, ObserverKind::min_max);
  EXPECT_TRUE(t->fusions.empty());
  EXPECT_EQ(t->lookup("conv2d")->getRole(2, 5), OperandRole::None);
}

TEST(TargetDescription, JSONErrors) {
  EXPECT_EQ(errorOf("{"), errorOf("{")); // stable
  EXPECT_NE(errorOf("{").find("target t.json: invalid JSON"),
            std::string::npos);
  EXPECT_EQ(errorOf("[]"), "target t.json: expected a JSON object");
  EXPECT_EQ(errorOf(R"({"name": "m", "colour": 1})"),
            "target t.json: 'colour': unknown key (expected one of: name, "
            "description, activation, weight, ops, agnostic, fusions, "
            "requantization, accumulator_bits, float_fallback, lookup_tables)");
  EXPECT_EQ(errorOf(R"({"activation": {}})"),
            "target t.json: 'name': required string");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "s8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "float_fallback": 0})"),
            "target t.json: 'float_fallback': expected true or false");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "s8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "lookup_tables": "yes"})"),
            "target t.json: 'lookup_tables': expected true or false");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "s16"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "lookup_tables": true})"),
            "target t.json: lookup_tables needs activations of at most 8 "
            "bits (tables have one entry per input code)");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "s8"},
                       "weight": {"dtype": "s8"},
                       "ops": {"clamp": {"operands": ["activation"],
                                         "fused_only": "yes"}}})"),
            "target t.json: 'ops.clamp.fused_only': expected true or false");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "i8"}})"),
            "target t.json: 'activation.dtype': expected s<bits> or u<bits> "
            "with 2 <= bits <= 16 (e.g. \"u8\"), got \"i8\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "scheme": "asym"}})"),
            "target t.json: 'activation.scheme': expected \"affine\" or "
            "\"symmetric\", got \"asym\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "granularity": "per_row"}})"),
            "target t.json: 'activation.granularity': expected \"per_tensor\" "
            "or \"per_channel\", got \"per_row\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "observer": "histogram"}})"),
            "target t.json: 'activation.observer': expected \"min_max\" or "
            "\"moving_average\", got \"histogram\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "narrow_range": 1}})"),
            "target t.json: 'activation.narrow_range': expected true or false");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "eps": "small"}})"),
            "target t.json: 'activation.eps': expected a number");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}})"),
            "target t.json: 'ops': required object");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {"gemm": {}}})"),
            "target t.json: 'ops.gemm': unknown op kind");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"},
                       "ops": {"conv2d": {"operands": ["bias"]}}})"),
            "target t.json: 'ops.conv2d.operands[0]': expected "
            "\"activation\", \"weight\" or \"none\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"},
                       "ops": {"concat": {"operands": ["activation"],
                                          "shared_scale": "yes"}}})"),
            "target t.json: 'ops.concat.shared_scale': expected true or false");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "fusions": [["clamp?", "add"]]})"),
            "target t.json: 'fusions[0][0]': expected an op kind (the first "
            "is not optional)");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "agnostic": ["softmax"]})"),
            "target t.json: 'agnostic[0]': expected an op kind");
  EXPECT_EQ(
      errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "requantization": "magic"})"),
      "target t.json: 'requantization': expected \"float_multiplier\", "
      "\"fixed_point\", \"shift\", \"pytorch_onednn\" or \"pytorch_qnnpack\"");
  // Present but of the wrong kind: an error, not a default.
  EXPECT_EQ(
      errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "requantization": 3})"),
      "target t.json: 'requantization': expected \"float_multiplier\", "
      "\"fixed_point\", \"shift\", \"pytorch_onednn\" or \"pytorch_qnnpack\"");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "accumulator_bits": 32.5})"),
            "target t.json: 'accumulator_bits': expected an integer in 16..64");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "accumulator_bits": "32"})"),
            "target t.json: 'accumulator_bits': expected an integer in 16..64");
  EXPECT_EQ(errorOf(R"({"name": "m", "description": 1})"),
            "target t.json: 'description': expected a string");
  // eps 1e39 is not an f32: reported on the target file (it was inf, and
  // reported on the model).
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "eps": 1e39}})"),
            "target t.json: 'activation.eps': expected a finite f32 number "
            "(magnitude at most 3.40282347e+38), got 1e+39");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "averaging_constant": -1e300}})"),
            "target t.json: 'activation.averaging_constant': expected a "
            "finite f32 number (magnitude at most 3.40282347e+38), got "
            "-1e+300");
}

// Crash class 4: JSON nested 50,000 levels overflowed the stack of the
// recursive JSON parser. Deeper than 64 levels is refused before parsing.
TEST(TargetDescription, DeepJSON) {
  std::string deep(50000, '[');
  EXPECT_EQ(errorOf(deep + std::string(50000, ']')),
            "target t.json: invalid JSON: nested 65 levels deep; a target "
            "description nests at most 64");
  std::string objects;
  for (int i = 0; i < 50000; ++i)
    objects += "{\"a\":";
  EXPECT_EQ(errorOf(objects),
            "target t.json: invalid JSON: nested 65 levels deep; a target "
            "description nests at most 64");
  // Brackets inside strings (with escaped quotes) do not count.
  std::string inString =
      R"({"name": "m\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "activation": {"dtype": "u8"}, "weight": {"dtype": "s8"}, "ops": {}})";
  EXPECT_EQ(errorOf(inString), "");
  // 64 levels is JSON like any other (here: not an object).
  EXPECT_EQ(errorOf(std::string(64, '[') + std::string(64, ']')),
            "target t.json: expected a JSON object");
}

TEST(TargetDescription, Contradictions) {
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "scheme": "symmetric", "reduce_range": true},
                       "weight": {"dtype": "s8"}, "ops": {}})"),
            "target t.json: activation: reduce_range with an unsigned "
            "symmetric scheme puts the zero point outside the range");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8"},
                       "weight": {"dtype": "u8", "narrow_range": true},
                       "ops": {}})"),
            "target t.json: weight: narrow_range needs a signed dtype");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "u8",
                       "granularity": "per_channel"},
                       "weight": {"dtype": "s8"}, "ops": {}})"),
            "target t.json: activation: per_channel activations are not "
            "supported (only weights are quantized per channel)");
  EXPECT_EQ(errorOf(R"({"name": "m", "activation": {"dtype": "s8"},
                       "weight": {"dtype": "s8"}, "ops": {},
                       "requantization": "shift"})"),
            "target t.json: shift requantization needs power_of_two scales "
            "for activations and weights");
}

} // namespace
