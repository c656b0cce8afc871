//===- Pipelines.cpp - qat pass pipelines ---------------------------------===//

#include "qat/Pipelines/Pipelines.h"
#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Dialect/Affine/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/Tosa/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/TargetParser/Host.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

using namespace mlir;
using namespace mlir::qat;

namespace {
/// The last pass of qat-to-llvm: everything left must be LLVM dialect (or
/// builtin.module, or OpenMP ops on LLVM types, which translate to calls of
/// the OpenMP runtime), else the error names the first op that is not.
struct VerifyLLVMOnlyPass
    : public PassWrapper<VerifyLLVMOnlyPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(VerifyLLVMOnlyPass)
  StringRef getArgument() const override { return "qat-verify-llvm-only"; }
  StringRef getDescription() const override {
    return "Check that a module holds only LLVM dialect ops";
  }
  void runOnOperation() override {
    getOperation()->walk([&](Operation *op) {
      if (isa<ModuleOp>(op) ||
          isa<LLVM::LLVMDialect, omp::OpenMPDialect>(op->getDialect()))
        return WalkResult::advance();
      op->emitError("qat-to-llvm could not lower '")
          << op->getName() << "' to the LLVM dialect";
      signalPassFailure();
      return WalkResult::interrupt();
    });
  }
};
} // namespace

const std::string &qat::hostAMXProblem() {
  static const std::string problem = []() -> std::string {
    if (std::getenv("QAT_DISABLE_AMX"))
      return "QAT_DISABLE_AMX is set";
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    std::string missing;
    for (const char *f : {"amx-tile", "amx-int8", "avx512vnni", "avx512bw"})
      if (!features.lookup(f))
        missing += (missing.empty() ? "" : ", ") + std::string(f);
    if (!missing.empty())
      return "the CPU lacks " + missing;
#if defined(__linux__) && defined(__x86_64__)
    // Linux (5.16 and later) gives a process the tiles' data state only
    // when it asks: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) != 0)
      return std::string("the OS refused arch_prctl(ARCH_REQ_XCOMP_PERM, "
                         "XFEATURE_XTILEDATA): ") +
             std::strerror(errno);
    return "";
#else
    return "AMX is only used on x86-64 Linux";
#endif
  }();
  return problem;
}

bool qat::hostHasAMX() { return hostAMXProblem().empty(); }

qat::KernelIsa qat::hostKernelIsa() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  return features.lookup("avx512vnni") && features.lookup("avx512bw")
             ? KernelIsa::Vnni
             : KernelIsa::Portable;
}

void qat::buildQATToLLVMPipeline(OpPassManager &pm,
                                 const QATToLLVMPipelineOptions &options) {
  // The instruction set of the packed kernels, if any, and whether the
  // convolutions go on AMX tiles (for AMX, the other kernels are VNNI; for
  // its emulation, portable). `dispatch` is no value of the pipeline's
  // option: the ahead-of-time compiler lowers one copy per build.
  std::optional<KernelIsa> isa;
  Kernels kernels = options.kernels;
  if (kernels == Kernels::Auto && hostHasAMX())
    kernels = Kernels::Amx;
  switch (kernels) {
  case Kernels::None:
    break;
  case Kernels::Auto:
    isa = hostKernelIsa();
    break;
  case Kernels::Vnni:
  case Kernels::Amx:
  case Kernels::Dispatch:
    isa = KernelIsa::Vnni;
    break;
  case Kernels::Portable:
  case Kernels::AmxEmulated:
    isa = KernelIsa::Portable;
    break;
  }
  bool amx = kernels == Kernels::Amx || kernels == Kernels::AmxEmulated;
  if (isa) {
    pm.addPass(qat::createPackInt8KernelsPass());
    pm.addPass(qat::createPackF32KernelsPass());
  }
  if (amx)
    pm.addPass(qat::createPackAMXWeightsPass());
  pm.addPass(qat::createConvertQATToLinalgPass());
  // tosa-to-linalg validates the TOSA ops against the module's target
  // environment, by default level 8K, whose MAX_RANK (6) MLIR 22 also
  // applies to the length of `!tosa.shape` operands: every tosa.pad of a
  // 4-D tensor (a shape of 8, as the slice gradients of training emit)
  // fails. A CPU compiler has no level limits: the default environment
  // (TOSA 1.0, profiles int and fp, no extensions) with level none.
  tosa::TosaAttachTargetOptions target;
  target.level = tosa::Level::none;
  target.profiles = {"pro_int", "pro_fp"};
  pm.addPass(tosa::createTosaAttachTarget(target));
  TosaToLinalgOptions tosaOptions;
  tosa::addTosaToLinalgPasses(pm, tosaOptions);
  // What tosa-to-linalg leaves: constants, shape ops, control flow.
  pm.addNestedPass<func::FuncOp>(createTosaToTensorPass());
  pm.addNestedPass<func::FuncOp>(createTosaToSCFPass());
  TosaToArithPassOptions tosaToArith;
  tosaToArith.includeApplyRescale = true;
  pm.addNestedPass<func::FuncOp>(createTosaToArithPass(tosaToArith));
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addNestedPass<func::FuncOp>(createLinalgElementwiseOpFusionPass());
  if (isa)
    pm.addNestedPass<func::FuncOp>(qat::createFuseF32EpiloguesPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  pm.addNestedPass<func::FuncOp>(qat::createCopyGlobalStoresPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  if (options.resultsToOutParams) {
    pm.addNestedPass<func::FuncOp>(qat::createDistinctReturnBuffersPass());
    bufferization::BufferResultsToOutParamsPassOptions outParams;
    outParams.hoistStaticAllocs = true;
    outParams.modifyPublicFunctions = true;
    pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  }
  bufferization::buildBufferDeallocationPipeline(pm);
  bool parallel = isa && options.threads != 1;
  if (isa) {
    qat::LowerPackedKernelsPassOptions lower;
    lower.isa = *isa;
    lower.parallel = parallel;
    lower.minParallelMacs = options.parallelMinMacs;
    pm.addNestedPass<func::FuncOp>(qat::createLowerPackedKernelsPass(lower));
    qat::LowerF32KernelsPassOptions lowerF32;
    lowerF32.isa = *isa;
    lowerF32.parallel = parallel;
    lowerF32.minParallelMacs = options.parallelMinMacs;
    pm.addNestedPass<func::FuncOp>(qat::createLowerF32KernelsPass(lowerF32));
  }

  // Updated parameters, momentum buffers and observer ranges are computed
  // in their globals' buffers rather than copied there.
  pm.addNestedPass<func::FuncOp>(qat::createStoreGlobalsInPlacePass());
  qat::LinalgToLoopsPassOptions loops;
  loops.parallel = parallel;
  pm.addNestedPass<func::FuncOp>(qat::createLinalgToLoopsPass(loops));
  if (options.vectorWidth > 0) {
    affine::AffineVectorizeOptions vectorize;
    vectorize.vectorSizes = {static_cast<int64_t>(options.vectorWidth)};
    vectorize.vectorizeReductions = false;
    pm.addNestedPass<func::FuncOp>(affine::createAffineVectorize(vectorize));
  }
  if (options.arena != Arena::None) {
    qat::PlanMemoryPassOptions plan;
    plan.arena = options.arena;
    pm.addPass(qat::createPlanMemoryPass(plan));
  }
  // A network is one function of thousands of blocks; some LLVM analyses
  // cost the square of that. One function per loop nest keeps them small.
  pm.addPass(qat::createOutlineLoopNestsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToSCFPass());
  if (parallel) {
    // The scf.parallel loops of the packed kernels become OpenMP
    // work-sharing loops.
    ConvertSCFToOpenMPPassOptions openmp;
    openmp.numThreads = options.threads;
    pm.addPass(createConvertSCFToOpenMPPass(openmp));
    // The stack buffers of the AMX kernels' loop bodies: one per thread.
    pm.addNestedPass<func::FuncOp>(qat::createHoistParallelAllocasPass());
    // It wraps each loop body in memref.alloca_scope, which must hold a
    // single block; the bodies have no alloca, so the canonicalizer inlines
    // the scopes before scf-to-cf splits the bodies into blocks.
    pm.addPass(createCanonicalizerPass());
  }
  // The last step of the AMX kernels: the tile ops to LLVM's intrinsics, or
  // to vector code of the same semantics (the only difference between
  // kernels=amx and kernels=amx-emulated in the AMX kernels' code).
  if (amx) {
    qat::LowerAMXPassOptions lowerAMX;
    lowerAMX.emulate = kernels == Kernels::AmxEmulated;
    pm.addPass(qat::createLowerAMXPass(lowerAMX));
  }
  pm.addPass(createSCFToControlFlowPass());
  // One flat LLVM constant per weight global (qat-compile's time on packed
  // ResNet-50 was mostly spent on nested constant arrays).
  pm.addPass(qat::createFlattenConstantGlobalsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  // Math ops LLVM has intrinsics for become them; the others (math.erf of
  // GELU) call libm (erff), scalar by scalar, before vectors are lowered.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  if (parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(std::make_unique<VerifyLLVMOnlyPass>());
}

void qat::buildPreparePipeline(OpPassManager &pm,
                               const PreparePipelineOptions &options) {
  pm.addPass(createCanonicalizerPass());
  if (options.foldBatchNorm) {
    qat::FoldConvBNPassOptions fold;
    fold.recordBatchNorm = options.recordBatchNorm;
    pm.addNestedPass<func::FuncOp>(qat::createFoldConvBNPass(fold));
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
  }
  qat::InsertFakeQuantPassOptions insert;
  insert.target = options.target;
  pm.addPass(qat::createInsertFakeQuantPass(insert));
  if (options.verify) {
    qat::VerifyTargetPassOptions verify;
    verify.target = options.target;
    pm.addPass(qat::createVerifyTargetPass(verify));
  }
}

void qat::registerQATPipelines() {
  PassPipelineRegistration<PreparePipelineOptions>(
      "qat-prepare",
      "Prepare a float TOSA model for quantization-aware training on a "
      "target (fold batch norm, insert fake quantizers and observers, verify)",
      buildPreparePipeline);
  PassPipelineRegistration<QATToLLVMPipelineOptions>(
      "qat-to-llvm",
      "Lower qat, TOSA, linalg and func ops on tensors to the LLVM dialect",
      buildQATToLLVMPipeline);
}
