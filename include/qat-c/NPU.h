/*===- qat-c/NPU.h - run a model on the NPU simulator, C API ------*- C -*-===*\
|*                                                                            *|
|* Compiles a bpu integer model for the NPU (qat-lower-to-npu), runs it in    *|
|* the simulator on the model's own inputs (the float input is quantized by   *|
|* the model's input quantizer on the CPU) and compares every output code     *|
|* with the CPU integer model: what qat-npu-check does (docs/NPU.md).         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef QAT_C_NPU_H
#define QAT_C_NPU_H

#include "qat-c/Runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DEFINE_C_API_STRUCT(name, storage)                                     \
  struct name {                                                                \
    storage *ptr;                                                              \
  };                                                                           \
  typedef struct name name

DEFINE_C_API_STRUCT(QatNPURun, void);

#undef DEFINE_C_API_STRUCT

/// Runs `entry` of `module` (empty: its only function) on `inputs` (in
/// argument order, the function's types; with `split`, several batches
/// along dimension 0, one simulation per batch) in the NPU simulator and on
/// the CPU. `configPath`: an NPU configuration file, or empty for the
/// default machine. Returns a null run after calling `onError` on failure.
MLIR_CAPI_EXPORTED QatNPURun
qatNPURunCreate(MlirModule module, MlirStringRef entry, intptr_t numInputs,
                const QatBuffer *inputs, bool split, MlirStringRef configPath,
                MlirStringCallback onError, void *userData);
MLIR_CAPI_EXPORTED void qatNPURunDestroy(QatNPURun run);
static inline bool qatNPURunIsNull(QatNPURun run) { return !run.ptr; }

/// The outputs: what the NPU computed, dequantized (f32) where the model
/// dequantizes, else codes; valid while the run lives.
MLIR_CAPI_EXPORTED intptr_t qatNPURunGetNumOutputs(QatNPURun run);
MLIR_CAPI_EXPORTED QatBuffer qatNPURunGetOutput(QatNPURun run, intptr_t i);
/// Elements of output `i` whose NPU code differs from the CPU integer
/// model's, and the largest difference in codes.
MLIR_CAPI_EXPORTED int64_t qatNPURunGetMismatches(QatNPURun run, intptr_t i);
MLIR_CAPI_EXPORTED int64_t qatNPURunGetMaxDifference(QatNPURun run, intptr_t i);
/// The simulator's per-layer report of the first batch (layers named after
/// the model's locations), as a table and as JSON; its total cycles.
MLIR_CAPI_EXPORTED MlirStringRef qatNPURunGetReport(QatNPURun run);
MLIR_CAPI_EXPORTED MlirStringRef qatNPURunGetReportJSON(QatNPURun run);
MLIR_CAPI_EXPORTED uint64_t qatNPURunGetCycles(QatNPURun run);
/// Batches run, and the wall time of the CPU calls and of the simulations.
MLIR_CAPI_EXPORTED int64_t qatNPURunGetBatches(QatNPURun run);
MLIR_CAPI_EXPORTED double qatNPURunGetCPUSeconds(QatNPURun run);
MLIR_CAPI_EXPORTED double qatNPURunGetSimulatorSeconds(QatNPURun run);

#ifdef __cplusplus
}
#endif

#endif /* QAT_C_NPU_H */
