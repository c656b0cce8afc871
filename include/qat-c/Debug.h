/*===- qat-c/Debug.h - per-layer values of a model, C API ---------*- C -*-===*\
|*                                                                            *|
|* Numeric debugging (docs/Python.md, "Per-layer comparison"): the values a   *|
|* model computes inside, found by the source names its locations carry (the  *|
|* PyTorch exporter names each op after its module, "layer1.0.conv1";         *|
|* qat-insert-fake-quant names each quantizer after the value it quantizes,   *|
|* "layer1.0.relu:output"), made extra results of the function so that one    *|
|* call returns them.                                                         *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef QAT_C_DEBUG_H
#define QAT_C_DEBUG_H

#include "mlir-c/IR.h"
#include "mlir-c/Support.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Which values qatFunctionExposeNamedValues adds.
typedef enum QatExposeKind {
  /// For each source name without a ":role" suffix (a module), the result
  /// of the last op, in program order, named so whose result is a tensor
  /// computed from the function's arguments: the module's output.
  QatExposeModules = 0,
  /// The result of each qat.fake_quant op of an activation (computed from
  /// the arguments) that carries a name.
  QatExposeQuantizers = 1,
} QatExposeKind;

/// Called once per added result, in result order: the source name; for
/// QatExposeQuantizers the quantizer's per-tensor scale and zero point
/// (scale NaN when they are not constants or per channel) and range.
typedef void (*QatExposedValueCallback)(MlirStringRef name, double scale,
                                        int64_t zeroPoint, int64_t quantMin,
                                        int64_t quantMax, void *userData);

/// Appends the values `kind` selects to the results of function `entry` of
/// `module` (its return op and type), after the existing results, and
/// reports each through `callback`. Returns the number of results added,
/// or -1 if there is no function `entry` with a body of one block.
MLIR_CAPI_EXPORTED intptr_t qatFunctionExposeNamedValues(
    MlirModule module, MlirStringRef entry, QatExposeKind kind,
    QatExposedValueCallback callback, void *userData);

#ifdef __cplusplus
}
#endif

#endif /* QAT_C_DEBUG_H */
