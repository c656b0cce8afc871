//===- X86Target.cpp - the built-in x86 target description ----------------===//
//
// x86 int8 kernels (oneDNN, fbgemm, our VNNI/AMX kernels): u8 per-tensor
// affine activations, s8 per-channel symmetric weights on the output channel
// axis, float-multiplier requantization, 32-bit accumulators. VNNI
// accumulates u8 x s8 products in 32 bits, so the full 0..255 range is used;
// the `reduce-range` modifier gives PyTorch fbgemm's 0..127 variant.
//
//===----------------------------------------------------------------------===//

#include "llvm/ADT/StringRef.h"

namespace mlir::qat {
extern const llvm::StringLiteral kX86TargetJSON;
const llvm::StringLiteral kX86TargetJSON = R"json({
  "name": "x86",
  "description": "x86 int8 kernels (AVX-512 VNNI / AMX, oneDNN-compatible)",
  "activation": {"dtype": "u8", "scheme": "affine", "granularity": "per_tensor",
                 "observer": "moving_average", "averaging_constant": 0.01},
  "weight": {"dtype": "s8", "scheme": "symmetric", "granularity": "per_channel",
             "observer": "min_max"},
  "ops": {
    "conv2d": {"operands": ["activation", "weight"], "weight_axis": 0},
    "depthwise_conv2d": {"operands": ["activation", "weight"], "weight_axis": 2},
    "matmul": {"operands": ["activation", "weight"], "weight_axis": 2},
    "add": {"operands": ["activation", "activation"]},
    "mul": {"operands": ["activation", "activation"]},
    "clamp": {"operands": ["activation"]},
    "avg_pool2d": {"operands": ["activation"]},
    "concat": {"operands": ["activation"], "shared_scale": true}
  },
  "agnostic": ["reshape", "transpose", "max_pool2d", "slice"],
  "fusions": [
    ["conv2d", "add?", "clamp?"],
    ["depthwise_conv2d", "add?", "clamp?"],
    ["matmul", "reshape?", "add?", "clamp?"],
    ["add", "clamp"]
  ],
  "requantization": "float_multiplier",
  "accumulator_bits": 32,
  "lookup_tables": true
})json";
} // namespace mlir::qat
