//===- BPUTarget.cpp - the built-in bpu target description ----------------===//
//
// A BPU-style int8 accelerator, the NPU of docs/NPU.md: s8 symmetric
// per-tensor activations and weights (zero point 0), fixed-point
// multiplier-and-shift requantization (its ALU's RESCALE, shifts 1..62),
// 32-bit accumulators; a standalone add needs both inputs on one scale. It
// has no float arithmetic: every op must be quantized, agnostic or fused
// into a kernel (mul is neither: the integer conversion has no integer
// mul), except the layout ops (reshape, transpose) of an input before its
// quantizer, which the caller does with the quantization; a clamp runs only
// as a kernel's epilogue and an average pool only unpadded. Modifiers:
// `per-channel` (weights per output channel) and `pow2` (power-of-two scales,
// shift-only requantization).
//
//===----------------------------------------------------------------------===//

#include "llvm/ADT/StringRef.h"

namespace mlir::qat {
extern const llvm::StringLiteral kBPUTargetJSON;
const llvm::StringLiteral kBPUTargetJSON = R"json({
  "name": "bpu",
  "description": "BPU-style int8 NPU (docs/NPU.md): symmetric int8, fixed-point requantization, no float arithmetic",
  "activation": {"dtype": "s8", "scheme": "symmetric", "granularity": "per_tensor",
                 "observer": "moving_average", "averaging_constant": 0.01},
  "weight": {"dtype": "s8", "scheme": "symmetric", "granularity": "per_tensor",
             "observer": "min_max"},
  "ops": {
    "conv2d": {"operands": ["activation", "weight"], "weight_axis": 0},
    "depthwise_conv2d": {"operands": ["activation", "weight"], "weight_axis": 2},
    "matmul": {"operands": ["activation", "weight"], "weight_axis": 2},
    "add": {"operands": ["activation", "activation"], "shared_scale": true},
    "clamp": {"operands": ["activation"], "fused_only": true},
    "avg_pool2d": {"operands": ["activation"], "padding": false},
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
  "accumulator_bits": 32,
  "float_fallback": false
})json";
} // namespace mlir::qat
