//===- Executable.cpp - functions of a module, JIT-compiled once ----------===//

#include "qat/Runtime/Executable.h"
#include "qat/Runtime/ConstantBytes.h"
#include "qat/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>

#ifndef QAT_MLIR_LIB_DIR
#error "QAT_MLIR_LIB_DIR must name the directory of libmlir_c_runner_utils"
#endif

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;

int64_t TensorSpec::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static llvm::StringRef mlirTypeName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::F64:
    return "f64";
  case ElementKind::I8:
    return "i8";
  case ElementKind::U8:
    return "ui8";
  case ElementKind::I16:
    return "i16";
  case ElementKind::I32:
    return "i32";
  case ElementKind::I64:
    return "i64";
  }
  llvm_unreachable("unknown element kind");
}

std::string TensorSpec::str() const {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s +=
        (ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d)) + "x";
  return s + mlirTypeName(kind).str() + ">";
}

static TensorSpec toSpec(RankedTensorType type) {
  TensorSpec spec;
  spec.kind = *getElementKind(type.getElementType());
  spec.shape.assign(type.getShape().begin(), type.getShape().end());
  return spec;
}

Executable::~Executable() = default;

llvm::Expected<std::unique_ptr<Executable>>
Executable::create(ModuleOp module, llvm::ArrayRef<std::string> entries,
                   unsigned optLevel, const LoweringOptions &options,
                   const ProgressCallback &progress) {
  auto start = std::chrono::steady_clock::now();
  auto report = [&](llvm::StringRef what) {
    if (progress)
      progress(what, std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  };
  if (optLevel > 3)
    return makeError("optimisation level " + llvm::Twine(optLevel) +
                     " is not one of 0, 1, 2, 3");
  if (auto err = checkKernelsOnHost(options.kernels))
    return std::move(err);
  if (options.threads != 1 && !*QAT_OPENMP_LIBRARY)
    return makeError("threads != 1 needs the OpenMP runtime libomp (Debian "
                     "package libomp-22-dev), which was not found when "
                     "qat-mlir was configured");
  report("lowering to the LLVM dialect (qat-to-llvm)");
  auto sigs = lowerEntriesToLLVM(module, entries, options);
  if (!sigs)
    return sigs.takeError();
  std::unique_ptr<Executable> exe(new Executable());
  exe->openMP = !sigs->empty() && sigs->front().usesOpenMP;
  for (auto [name, sig] : llvm::zip(entries, *sigs)) {
    Function f;
    f.signature.name = name;
    for (RankedTensorType t : sig.argTypes)
      f.signature.arguments.push_back(toSpec(t));
    for (RankedTensorType t : sig.resultTypes)
      f.signature.results.push_back(toSpec(t));
    exe->functions.push_back(std::move(f));
  }

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
  if (exe->openMP)
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
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, machine->get());
  std::function<llvm::Error(llvm::Module *)> transformer =
      [&optimize](llvm::Module *m) -> llvm::Error {
    if (auto err = optimize(m))
      return err;
    storeConstantArraysAsBytes(*m);
    return llvm::Error::success();
  };
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = codeGenLevels[optLevel];
  engineOptions.sharedLibPaths = libs;
  report("translating to LLVM IR");
  // The engine generates the code with this machine too. Without one it
  // makes its own for the host, at the default code generation level
  // whatever `jitCodeGenOptLevel` says. The machine keeps the JIT's code
  // model (large on x86-64): the engine's memory manager maps code and data
  // separately, so 32-bit displacements between them could overflow.
  auto engine =
      ExecutionEngine::create(module, engineOptions, std::move(*machine));
  if (!engine)
    return makeError("cannot JIT-compile the module: " +
                     llvm::toString(engine.takeError()));
  exe->engine = std::move(*engine);
  // The first lookup optimizes and generates the code of the whole module.
  // Each entry point is looked up once: a lookup costs about 2 us, as much
  // as a small layer.
  report("optimizing and generating machine code (LLVM -O" +
         std::to_string(optLevel) + ")");
  for (Function &f : exe->functions) {
    auto packed = exe->engine->lookupPacked("_mlir_ciface_" + f.signature.name);
    if (!packed)
      return makeError("cannot find the compiled @" + f.signature.name + ": " +
                       llvm::toString(packed.takeError()));
    f.packed = *packed;
  }
  report("done");
  return exe;
}

std::optional<unsigned> Executable::lookup(llvm::StringRef name) const {
  for (auto [i, f] : llvm::enumerate(functions))
    if (f.signature.name == name)
      return i;
  return std::nullopt;
}

/// Checks `buffer` against `spec` and writes its memref descriptor
/// ({allocated, aligned, offset, sizes, strides}) to `words`.
static llvm::Error checkBuffer(const BufferRef &buffer, const TensorSpec &spec,
                               bool isResult, unsigned index,
                               llvm::StringRef function, int64_t *words) {
  // "input #0 ... @f argument #0" / "output #0 ... @f result #0": made
  // only for an error (a call that passes builds no string).
  auto buf = [&]() {
    return (llvm::Twine(isResult ? "output #" : "input #") + llvm::Twine(index))
        .str();
  };
  auto param = [&]() {
    return ("@" + function + (isResult ? " result #" : " argument #") +
            llvm::Twine(index) + " is " + spec.str())
        .str();
  };
  if (buffer.kind != spec.kind)
    return makeError(buf() + " has element type " +
                     getElementKindName(buffer.kind) + " but " + param() +
                     " (" + getElementKindName(spec.kind) + ")");
  int64_t rank = spec.shape.size();
  auto shapeString = [&]() {
    std::string s = "(";
    for (auto [i, d] : llvm::enumerate(buffer.sizes))
      s += (i ? ", " : "") + std::to_string(d);
    return s + (buffer.sizes.size() == 1 ? ",)" : ")");
  };
  bool shapeOk = int64_t(buffer.sizes.size()) == rank;
  int64_t elements = 1;
  for (int64_t d = 0; shapeOk && d < rank; ++d) {
    int64_t size = buffer.sizes[d];
    shapeOk = size >= 0 &&
              (ShapedType::isDynamic(spec.shape[d]) || size == spec.shape[d]);
    elements *= size;
  }
  if (!shapeOk)
    return makeError(buf() + " has shape " + shapeString() + " but " + param());
  if (!buffer.strides.empty()) {
    bool dense = int64_t(buffer.strides.size()) == rank;
    int64_t expected = 1;
    for (int64_t d = rank - 1; dense && d >= 0 && elements; --d) {
      dense = buffer.sizes[d] == 1 || buffer.strides[d] == expected;
      expected *= buffer.sizes[d];
    }
    if (!dense)
      return makeError(buf() + " is not contiguous in row-major (C) order; "
                               "the compiled code reads and writes dense "
                               "buffers");
  }
  if (!buffer.data && elements)
    return makeError(buf() + " has no data (null pointer)");
  words[0] = words[1] = reinterpret_cast<int64_t>(buffer.data);
  words[2] = 0;
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    words[3 + d] = buffer.sizes[d];
    words[3 + rank + d] = stride;
    stride *= buffer.sizes[d];
  }
  return llvm::Error::success();
}

llvm::Error Executable::call(unsigned index, ArrayRef<BufferRef> arguments,
                             ArrayRef<BufferRef> results) const {
  if (index >= functions.size())
    return makeError("no function #" + llvm::Twine(index) + " (" +
                     llvm::Twine(functions.size()) + " compiled)");
  const Function &f = functions[index];
  const FunctionSignature &sig = f.signature;
  if (arguments.size() != sig.arguments.size() ||
      results.size() != sig.results.size())
    return makeError("@" + sig.name + " takes " +
                     llvm::Twine(sig.arguments.size()) + " argument(s) and " +
                     llvm::Twine(sig.results.size()) +
                     " result buffer(s), got " + llvm::Twine(arguments.size()) +
                     " and " + llvm::Twine(results.size()));
  // One descriptor per buffer, on the stack for the usual sizes.
  size_t total = 0;
  for (const TensorSpec &s : sig.arguments)
    total += 3 + 2 * s.shape.size();
  for (const TensorSpec &s : sig.results)
    total += 3 + 2 * s.shape.size();
  SmallVector<int64_t, 64> words(total);
  SmallVector<void *, 16> descriptors;
  size_t offset = 0;
  for (auto [i, pair] : llvm::enumerate(llvm::zip(arguments, sig.arguments))) {
    auto [buffer, spec] = pair;
    if (auto err = checkBuffer(buffer, spec, /*isResult=*/false, i, sig.name,
                               words.data() + offset))
      return err;
    descriptors.push_back(words.data() + offset);
    offset += 3 + 2 * spec.shape.size();
  }
  for (auto [i, pair] : llvm::enumerate(llvm::zip(results, sig.results))) {
    auto [buffer, spec] = pair;
    if (auto err = checkBuffer(buffer, spec, /*isResult=*/true, i, sig.name,
                               words.data() + offset))
      return err;
    descriptors.push_back(words.data() + offset);
    offset += 3 + 2 * spec.shape.size();
  }
  // The packed interface takes a pointer to each argument of the C
  // interface, which is a pointer to a descriptor.
  SmallVector<void *, 16> packed;
  for (void *&d : descriptors)
    packed.push_back(&d);
  f.packed(packed.data());
  return llvm::Error::success();
}
