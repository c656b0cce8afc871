//===- NPUCheck.h - compile for the NPU, simulate, compare with the CPU -*- C++
//-*-===//
//
// The consistency check of the NPU target (qat-npu-check): compiles a bpu
// integer model with qat-lower-to-npu, runs the program in the NPU
// simulator, runs the same integer model on the CPU (JIT, as qat-run), and
// compares the output codes element by element.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_NPUCHECK_H
#define QAT_RUNTIME_NPUCHECK_H

#include "qat/NPU/Simulator.h"
#include "qat/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::qat::runtime {

struct NPUCheckOptions {
  /// The function to compile (empty: the module's only function).
  std::string entry;
  npu::Config config;
  bool doubleBuffer = true;
  /// Inputs hold several batches of the entry's arguments along dimension
  /// 0: one CPU call and one simulation per batch.
  bool split = false;
  bool checkRaces = true;
};

struct NPUCheckResult {
  /// One per program output, over all batches.
  struct Output {
    std::string name;
    std::string type; ///< e.g. "32x10 i8"
    float scale = 1.0f;
    int32_t zeroPoint = 0;
    bool dequantized = false; ///< the model returns its qat.dequantize
    int64_t elements = 0, mismatches = 0;
    int64_t maxDifference = 0; ///< largest |NPU - CPU| in codes (LSB)
  };
  std::vector<Output> outputs;
  npu::Program program;
  /// The simulator's report of the first batch (the timing does not depend
  /// on the data).
  npu::SimReport report;
  int64_t batches = 0;
  /// What the NPU computed, per output: f32 (code - zero point) * scale
  /// (qat.dequantize's formula) where the model dequantizes, else the codes.
  std::vector<NpyArray> npuResults;
  /// Wall time of the CPU calls and of the simulations, in seconds.
  double cpuSeconds = 0, simSeconds = 0;
};

/// Runs the check on `module` (not modified) with `inputs` in argument order.
llvm::Expected<NPUCheckResult> checkOnNPU(ModuleOp module,
                                          llvm::ArrayRef<NpyArray> inputs,
                                          const NPUCheckOptions &options);

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_NPUCHECK_H
