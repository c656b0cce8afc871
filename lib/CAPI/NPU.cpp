//===- NPU.cpp - run a model on the NPU simulator, C API ------------------===//

#include "qat-c/NPU.h"

#include "qat/NPU/Config.h"
#include "qat/Runtime/NPUCheck.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"

using namespace mlir;
using namespace mlir::qat;

namespace {
struct Run {
  runtime::NPUCheckResult result;
  std::string report, json;
};
} // namespace

static Run *unwrap(QatNPURun r) { return static_cast<Run *>(r.ptr); }

QatNPURun qatNPURunCreate(MlirModule module, MlirStringRef entry,
                          intptr_t numInputs, const QatBuffer *inputs,
                          bool split, MlirStringRef configPath,
                          MlirStringCallback onError, void *userData) {
  auto fail = [&](const std::string &msg) {
    if (onError)
      onError(MlirStringRef{msg.data(), msg.size()}, userData);
    return QatNPURun{nullptr};
  };
  runtime::NPUCheckOptions options;
  options.entry = unwrap(entry).str();
  options.split = split;
  if (configPath.length) {
    std::string why =
        npu::loadConfigFile(unwrap(configPath).str(), options.config);
    if (!why.empty())
      return fail(why);
  }
  llvm::SmallVector<NpyArray> arrays;
  for (intptr_t i = 0; i < numInputs; ++i) {
    const QatBuffer &b = inputs[i];
    if (b.strides)
      for (intptr_t d = b.rank - 1, expected = 1; d >= 0; --d) {
        if (b.sizes[d] != 1 && b.strides[d] != expected)
          return fail("input #" + std::to_string(i) +
                      " is not contiguous in row-major (C) order");
        expected *= b.sizes[d];
      }
    NpyArray a;
    a.kind = ElementKind(b.elementType);
    a.shape.assign(b.sizes, b.sizes + b.rank);
    const uint8_t *data = static_cast<const uint8_t *>(b.data);
    a.bytes.assign(data, data + a.getNumElements() * getElementSize(a.kind));
    arrays.push_back(std::move(a));
  }
  auto result = runtime::checkOnNPU(unwrap(module), arrays, options);
  if (!result)
    return fail(llvm::toString(result.takeError()));
  auto *run = new Run{std::move(*result), "", ""};
  run->report = run->result.report.format();
  run->json = run->result.report.toJson();
  return QatNPURun{run};
}

void qatNPURunDestroy(QatNPURun run) { delete unwrap(run); }

intptr_t qatNPURunGetNumOutputs(QatNPURun run) {
  return unwrap(run)->result.npuResults.size();
}

QatBuffer qatNPURunGetOutput(QatNPURun run, intptr_t i) {
  NpyArray &a = unwrap(run)->result.npuResults[i];
  return QatBuffer{a.bytes.data(), QatElementType(a.kind),
                   intptr_t(a.shape.size()), a.shape.data(), nullptr};
}

int64_t qatNPURunGetMismatches(QatNPURun run, intptr_t i) {
  return unwrap(run)->result.outputs[i].mismatches;
}
int64_t qatNPURunGetMaxDifference(QatNPURun run, intptr_t i) {
  return unwrap(run)->result.outputs[i].maxDifference;
}
MlirStringRef qatNPURunGetReport(QatNPURun run) {
  return wrap(llvm::StringRef(unwrap(run)->report));
}
MlirStringRef qatNPURunGetReportJSON(QatNPURun run) {
  return wrap(llvm::StringRef(unwrap(run)->json));
}
uint64_t qatNPURunGetCycles(QatNPURun run) {
  return unwrap(run)->result.report.totalCycles;
}
int64_t qatNPURunGetBatches(QatNPURun run) {
  return unwrap(run)->result.batches;
}
double qatNPURunGetCPUSeconds(QatNPURun run) {
  return unwrap(run)->result.cpuSeconds;
}
double qatNPURunGetSimulatorSeconds(QatNPURun run) {
  return unwrap(run)->result.simSeconds;
}
