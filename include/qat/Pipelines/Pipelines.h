//===- Pipelines.h - qat pass pipelines -------------------------*- C++ -*-===//
#ifndef QAT_PIPELINES_PIPELINES_H
#define QAT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
namespace qat {

struct QATToLLVMPipelineOptions
    : public PassPipelineOptions<QATToLLVMPipelineOptions> {
  PassOptions::Option<bool> resultsToOutParams{
      *this, "results-to-out-params",
      llvm::cl::desc("Turn memref function results into caller-allocated "
                     "out-parameters (the calling convention of qat-run and "
                     "of the C ABI)"),
      llvm::cl::init(false)};
};

/// qat + TOSA + func on tensors -> LLVM dialect:
///   convert-qat-to-linalg; TOSA to linalg/arith/tensor; arith/math on
///   tensors to linalg; elementwise fusion;
///   one-shot bufferization across function boundaries (identity layouts);
///   optional results-to-out-params; buffer deallocation; linalg to loops;
///   then arith/math/memref/func/cf/index to LLVM, and a final check that
///   only LLVM dialect ops remain.
void buildQATToLLVMPipeline(OpPassManager &pm,
                            const QATToLLVMPipelineOptions &options);

/// Registers `qat-to-llvm`.
void registerQATPipelines();

} // namespace qat
} // namespace mlir

#endif // QAT_PIPELINES_PIPELINES_H
