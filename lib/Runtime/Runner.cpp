//===- Runner.cpp - JIT-compile and call one function ---------------------===//

#include "qat/Runtime/Runner.h"
#include "qat/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <cstdlib>

#ifndef QAT_MLIR_LIB_DIR
#error "QAT_MLIR_LIB_DIR must name the directory of libmlir_c_runner_utils"
#endif

using namespace mlir;
using namespace mlir::qat::runtime;
namespace runtime = mlir::qat::runtime;

static llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

static std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::optional<ElementKind> runtime::getElementKind(Type type) {
  if (type.isF32())
    return ElementKind::F32;
  if (type.isF64())
    return ElementKind::F64;
  auto it = dyn_cast<IntegerType>(type);
  if (!it)
    return std::nullopt;
  if (it.isUnsigned())
    return it.getWidth() == 8 ? std::optional(ElementKind::U8) : std::nullopt;
  switch (it.getWidth()) {
  case 8:
    return ElementKind::I8;
  case 16:
    return ElementKind::I16;
  case 32:
    return ElementKind::I32;
  case 64:
    return ElementKind::I64;
  default:
    return std::nullopt;
  }
}

static llvm::Error checkType(Type type, StringRef what, unsigned index,
                             StringRef entry, bool requireStatic,
                             SmallVectorImpl<RankedTensorType> &out) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return makeError("@" + entry + " " + what + " #" + llvm::Twine(index) +
                     " has type " + typeString(type) +
                     "; qat-run exchanges ranked tensors only");
  if (!getElementKind(tensor.getElementType()))
    return makeError("@" + entry + " " + what + " #" + llvm::Twine(index) +
                     " has element type " +
                     typeString(tensor.getElementType()) +
                     "; qat-run supports f32, f64, i8, ui8, i16, i32, i64");
  if (requireStatic && !tensor.hasStaticShape())
    return makeError("@" + entry + " " + what + " #" + llvm::Twine(index) +
                     " has dynamic shape " + typeString(tensor) +
                     "; qat-run needs static result shapes");
  out.push_back(tensor);
  return llvm::Error::success();
}

Runner::~Runner() = default;

llvm::Error runtime::checkKernelsOnHost(StringRef kernels) {
  if (kernels == "vnni" && hostKernels() != "vnni")
    return makeError("kernels=vnni needs AVX-512 VNNI (avx512vnni, "
                     "avx512bw), which this CPU lacks; use kernels=portable "
                     "or auto");
  return llvm::Error::success();
}

llvm::Expected<EntrySignature>
runtime::lowerEntryToLLVM(ModuleOp module, StringRef entry,
                          const LoweringOptions &lowering) {
  StringRef kernels = lowering.kernels, arena = lowering.arena;
  if (kernels != "none" && kernels != "vnni" && kernels != "portable" &&
      kernels != "auto")
    return makeError("unknown kernels '" + kernels +
                     "' (expected none, vnni, portable or auto)");
  if (arena != "static" && arena != "call" && arena != "none")
    return makeError("unknown arena '" + arena +
                     "' (expected static, call or none)");
  auto func = module.lookupSymbol<func::FuncOp>(entry);
  if (!func || func.isExternal()) {
    std::string names;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f.isExternal())
        names += (names.empty() ? "@" : ", @") + f.getSymName().str();
    return makeError("no function @" + entry + " in the module (it defines " +
                     (names.empty() ? std::string("none") : names) + ")");
  }
  EntrySignature sig;
  FunctionType ft = func.getFunctionType();
  for (auto [i, t] : llvm::enumerate(ft.getInputs()))
    if (auto err = checkType(t, "argument", i, entry, false, sig.argTypes))
      return std::move(err);
  for (auto [i, t] : llvm::enumerate(ft.getResults()))
    if (auto err = checkType(t, "result", i, entry, true, sig.resultTypes))
      return std::move(err);

  // Only what the entry can reach is compiled: another function of the file
  // that cannot be lowered must not stop this one from running.
  llvm::SmallPtrSet<Operation *, 16> reachable;
  llvm::SmallVector<Operation *> worklist{func};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!reachable.insert(op).second)
      continue;
    if (auto uses = SymbolTable::getSymbolUses(op))
      for (const SymbolTable::SymbolUse &use : *uses)
        if (Operation *callee = SymbolTable::lookupNearestSymbolFrom(
                module, use.getSymbolRef()))
          if (isa<func::FuncOp>(callee))
            worklist.push_back(callee);
  }
  for (auto f : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
    if (!reachable.contains(f))
      f.erase();

  MLIRContext *ctx = module.getContext();
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  PassManager pm(ctx);
  QATToLLVMPipelineOptions options;
  options.resultsToOutParams = true;
  options.kernels = lowering.kernels;
  options.threads = lowering.threads;
  options.arena = lowering.arena;
  options.parallelMinMacs = lowering.parallelMinMacs;
  buildQATToLLVMPipeline(pm, options);
  if (failed(pm.run(module)))
    return makeError("cannot lower the module to LLVM for @" + entry +
                     " (see the diagnostics above)");
  // Only the C-interface wrapper is called from outside. With the function
  // itself internal, LLVM inlines it into the wrapper: otherwise the call
  // passes every descriptor field as a scalar argument, and instruction
  // selection is quadratic in their number (seconds for a few hundred
  // memref arguments).
  if (auto llvmFunc = module.lookupSymbol<LLVM::LLVMFuncOp>(entry))
    llvmFunc.setLinkage(LLVM::Linkage::Internal);
  module.walk([&](Operation *op) {
    if (isa<omp::OpenMPDialect>(op->getDialect())) {
      sig.usesOpenMP = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return sig;
}

llvm::Expected<std::unique_ptr<Runner>>
Runner::create(ModuleOp module, StringRef entry, unsigned optLevel,
               const LoweringOptions &options) {
  if (optLevel > 3)
    return makeError("optimisation level " + llvm::Twine(optLevel) +
                     " is not one of 0, 1, 2, 3");
  if (auto err = checkKernelsOnHost(options.kernels))
    return std::move(err);
  if (options.threads != 1 && !*QAT_OPENMP_LIBRARY)
    return makeError("threads != 1 needs the OpenMP runtime libomp (Debian "
                     "package libomp-22-dev), which was not found when "
                     "qat-mlir was configured");
  auto sig = lowerEntryToLLVM(module, entry, options);
  if (!sig)
    return sig.takeError();
  std::unique_ptr<Runner> runner(new Runner());
  runner->entry = entry.str();
  runner->argTypes = sig->argTypes;
  runner->resultTypes = sig->resultTypes;
  MLIRContext *ctx = module.getContext();

  static bool targetsInitialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)targetsInitialized;
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerOpenMPDialectTranslation(*ctx);

  std::string runnerUtils =
      std::string(QAT_MLIR_LIB_DIR) + "/libmlir_c_runner_utils.so";
  SmallVector<StringRef> libs{runnerUtils};
  if (sig->usesOpenMP)
    libs.push_back(QAT_OPENMP_LIBRARY);
  ExecutionEngineOptions engineOptions;
  static const llvm::CodeGenOptLevel codeGenLevels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  // The IR is optimized for the host CPU, as qat-compile does for its
  // target: without a target machine the cost models are generic (the
  // unroller fully unrolls short reduction loops of the kernels, which then
  // spill registers).
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return makeError("cannot describe the host CPU: " +
                     llvm::toString(machineBuilder.takeError()));
  machineBuilder->setCodeGenOptLevel(codeGenLevels[optLevel]);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return makeError("cannot create a target machine for the host: " +
                     llvm::toString(machine.takeError()));
  // ExecutionEngineOptions holds a function_ref: the transformer must
  // outlive ExecutionEngine::create.
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, machine->get());
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = codeGenLevels[optLevel];
  engineOptions.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return makeError("cannot JIT-compile @" + entry + ": " +
                     llvm::toString(engine.takeError()));
  runner->engine = std::move(*engine);
  // Looked up once: a lookup costs about 2 us, as much as a small layer.
  auto entryPoint = runner->engine->lookupPacked("_mlir_ciface_" + entry.str());
  if (!entryPoint)
    return makeError("cannot find the compiled @" + entry + ": " +
                     llvm::toString(entryPoint.takeError()));
  runner->entryPoint = *entryPoint;
  return runner;
}

namespace {
/// A strided memref descriptor of any rank, laid out as MLIR's C interface
/// expects: {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct Descriptor {
  llvm::SmallVector<int64_t> words;
  Descriptor(void *data, llvm::ArrayRef<int64_t> shape) {
    int64_t rank = shape.size();
    words.resize(3 + 2 * rank);
    words[0] = reinterpret_cast<int64_t>(data);
    words[1] = reinterpret_cast<int64_t>(data);
    words[2] = 0;
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      words[3 + d] = shape[d];
      words[3 + rank + d] = stride;
      stride *= shape[d];
    }
  }
};
} // namespace

llvm::Error Runner::run(llvm::ArrayRef<NpyArray> inputs,
                        llvm::SmallVectorImpl<NpyArray> &outputs,
                        int64_t repeat, double *secondsPerCall) {
  if (inputs.size() != argTypes.size())
    return makeError("@" + entry + " takes " + llvm::Twine(argTypes.size()) +
                     " argument(s), got " + llvm::Twine(inputs.size()) +
                     " input(s)");
  // Inputs are copied so that a function writing into an argument buffer
  // cannot change the caller's arrays.
  std::vector<std::vector<uint8_t>> inputCopies;
  std::vector<Descriptor> descriptors;
  for (auto [i, pair] : llvm::enumerate(llvm::zip(inputs, argTypes))) {
    auto [array, type] = pair;
    ElementKind want = *getElementKind(type.getElementType());
    if (array.kind != want)
      return makeError("input #" + llvm::Twine(i) + " has element type " +
                       getElementKindName(array.kind) + " but @" + entry +
                       " argument #" + llvm::Twine(i) + " is " +
                       typeString(type) + " (" + getElementKindName(want) +
                       ")");
    bool ok = int64_t(array.shape.size()) == type.getRank();
    for (int64_t d = 0; ok && d < type.getRank(); ++d)
      ok = type.isDynamicDim(d) || type.getDimSize(d) == array.shape[d];
    if (!ok)
      return makeError("input #" + llvm::Twine(i) + " has shape " +
                       array.getShapeString() + " but @" + entry +
                       " argument #" + llvm::Twine(i) + " is " +
                       typeString(type));
    inputCopies.push_back(array.bytes);
    if (inputCopies.back().empty())
      inputCopies.back().resize(1);
  }
  for (auto [i, array] : llvm::enumerate(inputs))
    descriptors.emplace_back(inputCopies[i].data(), array.shape);

  outputs.clear();
  for (RankedTensorType type : resultTypes) {
    NpyArray out;
    out.kind = *getElementKind(type.getElementType());
    out.shape.assign(type.getShape().begin(), type.getShape().end());
    out.bytes.resize(
        std::max<int64_t>(1, out.getNumElements() * getElementSize(out.kind)));
    outputs.push_back(std::move(out));
  }
  for (NpyArray &out : outputs)
    descriptors.emplace_back(out.bytes.data(), out.shape);

  // The packed interface takes a pointer to each argument; each argument of
  // the C interface is a pointer to a descriptor.
  llvm::SmallVector<void *> descriptorPtrs, packed;
  for (Descriptor &d : descriptors)
    descriptorPtrs.push_back(d.words.data());
  for (void *&p : descriptorPtrs)
    packed.push_back(&p);

  // When timing, one untimed call first (caches, the first touch of the
  // arena's pages).
  if (repeat > 1)
    entryPoint(packed.data());
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < std::max<int64_t>(1, repeat); ++i)
    entryPoint(packed.data());
  auto end = std::chrono::steady_clock::now();
  if (secondsPerCall)
    *secondsPerCall = std::chrono::duration<double>(end - start).count() /
                      std::max<int64_t>(1, repeat);
  for (NpyArray &out : outputs)
    out.bytes.resize(out.getNumElements() * getElementSize(out.kind));
  return llvm::Error::success();
}
