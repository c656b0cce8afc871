//===- BPUTarget.cpp - the built-in bpu target description ----------------===//
//
// A BPU-style int8 accelerator: s8 symmetric per-tensor activations and
// weights (zero point 0), fixed-point multiplier-and-shift requantization,
// 32-bit accumulators; a standalone add needs both inputs on one scale (its
// vector ALU adds codes). Modifiers: `per-channel` (weights per output
// channel) and `pow2` (power-of-two scales, shift-only requantization).
//
//===----------------------------------------------------------------------===//

#include "llvm/ADT/StringRef.h"

namespace mlir::qat {
extern const llvm::StringLiteral kBPUTargetJSON;
const llvm::StringLiteral kBPUTargetJSON = R"json({
  "name": "bpu",
  "description": "BPU-style int8 NPU: symmetric int8 everywhere",
  "activation": {"dtype": "s8", "scheme": "symmetric", "granularity": "per_tensor",
                 "observer": "moving_average", "averaging_constant": 0.01},
  "weight": {"dtype": "s8", "scheme": "symmetric", "granularity": "per_tensor",
             "observer": "min_max"},
  "ops": {
    "conv2d": {"operands": ["activation", "weight"], "weight_axis": 0},
    "depthwise_conv2d": {"operands": ["activation", "weight"], "weight_axis": 2},
    "matmul": {"operands": ["activation", "weight"], "weight_axis": 2},
    "add": {"operands": ["activation", "activation"], "shared_scale": true},
    "mul": {"operands": ["activation", "activation"]},
    "clamp": {"operands": ["activation"]},
    "avg_pool2d": {"operands": ["activation"]},
    "concat": {"operands": ["activation"], "shared_scale": true}
  },
  "agnostic": ["reshape", "transpose", "max_pool2d"],
  "fusions": [
    ["conv2d", "add?", "clamp?"],
    ["depthwise_conv2d", "add?", "clamp?"],
    ["matmul", "reshape?", "add?", "clamp?"],
    ["add", "clamp"]
  ],
  "requantization": "fixed_point",
  "accumulator_bits": 32
})json";
} // namespace mlir::qat
