//===- Pipelines.h - qat pass pipelines -------------------------*- C++ -*-===//
#ifndef QAT_PIPELINES_PIPELINES_H
#define QAT_PIPELINES_PIPELINES_H

#include "qat/Support/Options.h"

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
  PassOptions::Option<unsigned> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("Vectorize the innermost parallel loops with this many "
                     "lanes (affine-super-vectorize; 0 disables). Only "
                     "elementwise loops are vectorized: reductions keep their "
                     "order, so results do not depend on the width"),
      llvm::cl::init(16)};
  PassOptions::Option<Kernels> kernels{
      *this, "kernels",
      llvm::cl::desc("int8 kernels: none (generic loops), vnni (AVX-512 "
                     "VNNI), portable (vector code for any CPU), amx (AMX "
                     "tiles for convolutions and matrix products, VNNI for "
                     "the rest), amx-emulated (the AMX kernels with their "
                     "tile ops emulated by vector code, portable for the "
                     "rest: any CPU) or auto (amx, else vnni, else portable, "
                     "as the host allows)"),
      llvm::cl::init(Kernels::None), kernelsValues()};
  PassOptions::Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("Threads of the packed int8 kernels: 1 (default) runs "
                     "everything on the calling thread; N > 1 splits each "
                     "kernel's tiles and input copy over N OpenMP threads; 0 "
                     "lets the OpenMP runtime choose (OMP_NUM_THREADS, else "
                     "all cores). Code built with threads != 1 calls the "
                     "OpenMP runtime (libomp)"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> parallelMinMacs{
      *this, "parallel-min-macs",
      llvm::cl::desc("With threads != 1: packed kernels with fewer "
                     "multiply-accumulates run on the calling thread "
                     "(qat-lower-packed-kernels{min-parallel-macs})"),
      llvm::cl::init(kDefaultParallelMinMacs)};
  PassOptions::Option<Arena> arena{
      *this, "arena",
      llvm::cl::desc("Memory of the temporary buffers (qat-plan-memory): "
                     "static (default: one arena per function, a global "
                     "that calls reuse), call (one arena allocated per "
                     "call) or none (one allocation per buffer)"),
      llvm::cl::init(Arena::Static), arenaValues()};
};

/// Whether this process can run AMX int8 code: the CPU has AMX (amx-tile,
/// amx-int8) and AVX-512 VNNI, and the OS granted the process the tiles'
/// data state (arch_prctl(ARCH_REQ_XCOMP_PERM), asked once). The
/// environment variable QAT_DISABLE_AMX makes it false. `auto` kernels are
/// amx where this holds.
bool hostHasAMX();

/// Why hostHasAMX() is false, as a sentence fragment ("QAT_DISABLE_AMX is
/// set", "the CPU lacks amx-tile, amx-int8", "the OS refused
/// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): <error>"); empty
/// when it is true.
const std::string &hostAMXProblem();

/// The vector kernels `auto` stands for on this host without AMX: vnni or
/// portable.
KernelIsa hostKernelIsa();

/// qat + TOSA + func on tensors -> LLVM dialect:
///   (with kernels != none: qat-pack-int8-kernels first, for amx and
///   amx-emulated then qat-pack-amx-weights, and qat-lower-packed-kernels{isa}
///   after bufferization);
///   convert-qat-to-linalg; TOSA to linalg/tensor/scf/arith; arith/math on
///   tensors to linalg; elementwise fusion; qat-copy-global-stores; one-shot
///   bufferization across function boundaries (identity layouts); with
///   resultsToOutParams,
///   qat-distinct-return-buffers and buffer-results-to-out-params; buffer
///   deallocation; qat-linalg-to-loops; affine-super-vectorize of the
///   innermost parallel loops; qat-plan-memory (unless arena=none); with
///   threads != 1, convert-scf-to-openmp and qat-hoist-parallel-allocas; for
///   amx, qat-lower-amx (emulate for amx-emulated);
///   vector/arith/math/memref/func/cf/index/ub to LLVM; and a final check that
///   only LLVM dialect ops remain.
void buildQATToLLVMPipeline(OpPassManager &pm,
                            const QATToLLVMPipelineOptions &options);

struct PreparePipelineOptions
    : public PassPipelineOptions<PreparePipelineOptions> {
  PassOptions::Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Target: x86, bpu or a JSON target file, with optional "
                     ":modifiers (docs/Targets.md)"),
      llvm::cl::init("x86")};
  PassOptions::Option<bool> foldBatchNorm{
      *this, "fold-bn",
      llvm::cl::desc("Fold batch norm into convolutions first"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> recordBatchNorm{
      *this, "record-bn",
      llvm::cl::desc("Record each folded batch norm's parameters on its "
                     "convolution (qat.batch_norm), for "
                     "qat-make-trainable{bn-mode=train}"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> verify{
      *this, "verify",
      llvm::cl::desc("End with qat-verify-target on the result"),
      llvm::cl::init(true)};
};

/// Float TOSA model -> model prepared for QAT on a target:
///   canonicalize (folds constant reshapes/transposes of weights),
///   qat-fold-conv-bn, canonicalize + cse, qat-insert-fake-quant{target},
///   qat-verify-target{target}.
void buildPreparePipeline(OpPassManager &pm,
                          const PreparePipelineOptions &options);

/// Registers `qat-to-llvm` and `qat-prepare`.
void registerQATPipelines();

} // namespace qat
} // namespace mlir

#endif // QAT_PIPELINES_PIPELINES_H
