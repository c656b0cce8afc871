//===- AOT.cpp - ahead-of-time compilation to an object file --------------===//

#include "qat/Runtime/AOT.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <cctype>
#include <set>

using namespace mlir;
using namespace mlir::qat::runtime;
namespace runtime = mlir::qat::runtime;

static llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

llvm::Expected<EntrySignature>
runtime::compileToObject(ModuleOp module, StringRef entry, StringRef objectPath,
                         const AOTOptions &options) {
  if (options.optLevel > 3)
    return makeError("optimisation level " + llvm::Twine(options.optLevel) +
                     " is not one of 0, 1, 2, 3");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return makeError("no LLVM target for " + triple.str() + ": " + error);
  std::string cpu =
      options.cpu == "host" ? llvm::sys::getHostCPUName().str() : options.cpu;
  std::string features;
  if (options.cpu == "host") {
    llvm::SubtargetFeatures f;
    for (const auto &[name, on] : llvm::sys::getHostCPUFeatures())
      f.AddFeature(name, on);
    features = f.getString();
  }
  static const llvm::CodeGenOptLevel levels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, levels[options.optLevel]));
  if (!machine)
    return makeError("cannot create a target machine for CPU '" + cpu + "'");

  // `auto` kernels: what the target CPU (host or named) can run.
  std::string kernels = options.kernels;
  if (kernels == "auto")
    kernels = machine->getMCSubtargetInfo()->checkFeatures(
                  "+avx512vnni,+avx512bw")
                  ? "vnni"
                  : "portable";
  auto sig = lowerEntryToLLVM(module, entry, kernels, options.threads);
  if (!sig)
    return sig.takeError();

  MLIRContext *ctx = module.getContext();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerOpenMPDialectTranslation(*ctx);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, entry);
  if (!llvmModule)
    return makeError("cannot translate @" + entry + " to LLVM IR");

  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(machine->createDataLayout());
  auto transformer = makeOptimizingTransformer(options.optLevel,
                                               /*sizeLevel=*/0, machine.get());
  if (auto err = transformer(llvmModule.get()))
    return makeError("LLVM optimisation failed: " +
                     llvm::toString(std::move(err)));

  std::error_code ec;
  llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec)
    return makeError("cannot write '" + objectPath + "': " + ec.message());
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return makeError("the target cannot emit object files");
  pm.run(*llvmModule);
  os.flush();
  return sig;
}

static StringRef cType(Type t) {
  if (t.isF32())
    return "float";
  if (t.isF64())
    return "double";
  auto i = cast<IntegerType>(t);
  if (i.isUnsigned())
    return "uint8_t";
  switch (i.getWidth()) {
  case 8:
    return "int8_t";
  case 16:
    return "int16_t";
  case 32:
    return "int32_t";
  default:
    return "int64_t";
  }
}

static std::string descriptorName(RankedTensorType t) {
  return ("qat_memref_" + cType(t.getElementType()) + "_" +
          std::to_string(t.getRank()) + "d")
      .str();
}

void runtime::writeCHeader(llvm::raw_ostream &os, StringRef entry,
                           const EntrySignature &sig) {
  std::string guard = ("QAT_MODEL_" + entry + "_H").str();
  for (char &c : guard)
    c = std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  os << "/* C ABI of @" << entry
     << ", generated by qat-compile. Link the object with\n"
        "   -lmlir_c_runner_utils "
     << (sig.usesOpenMP ? "-lomp " : "")
     << "-lm. See docs/Conversion.md. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n"
     << "#include <stdint.h>\n\n";
  // One descriptor struct per (element type, rank).
  std::set<std::string> emitted;
  SmallVector<RankedTensorType> all(sig.argTypes);
  all.append(sig.resultTypes.begin(), sig.resultTypes.end());
  for (RankedTensorType t : all) {
    std::string name = descriptorName(t);
    if (!emitted.insert(name).second)
      continue;
    int64_t rank = t.getRank();
    os << "#ifndef " << name << "_DEFINED\n#define " << name << "_DEFINED\n"
       << "typedef struct {\n  " << cType(t.getElementType())
       << " *allocated;\n  " << cType(t.getElementType()) << " *aligned;\n"
       << "  int64_t offset;\n";
    if (rank)
      os << "  int64_t sizes[" << rank << "];\n  int64_t strides[" << rank
         << "];\n";
    os << "} " << name << ";\n#endif\n\n";
  }
  os << "/* Inputs in argument order, then caller-allocated outputs. */\n"
     << "void _mlir_ciface_" << entry << "(";
  for (auto [i, t] : llvm::enumerate(sig.argTypes))
    os << (i ? ", " : "") << descriptorName(t) << " *arg" << i;
  for (auto [i, t] : llvm::enumerate(sig.resultTypes))
    os << (i || !sig.argTypes.empty() ? ", " : "") << descriptorName(t)
       << " *result" << i;
  os << ");\n\n";

  // The convenience wrapper for contiguous row-major arrays.
  os << "/* Contiguous row-major arrays of the static shapes:\n";
  for (auto [i, t] : llvm::enumerate(sig.argTypes))
    os << " *   arg" << i << ": " << t << "\n";
  for (auto [i, t] : llvm::enumerate(sig.resultTypes))
    os << " *   result" << i << ": " << t << "\n";
  os << " */\nstatic inline void qat_" << entry << "(";
  for (auto [i, t] : llvm::enumerate(sig.argTypes))
    os << (i ? ", " : "") << "const " << cType(t.getElementType()) << " *arg"
       << i;
  for (auto [i, t] : llvm::enumerate(sig.resultTypes))
    os << (i || !sig.argTypes.empty() ? ", " : "") << cType(t.getElementType())
       << " *result" << i;
  os << ") {\n";
  auto emitDescriptor = [&](RankedTensorType t, StringRef var, StringRef ptr) {
    os << "  " << descriptorName(t) << " " << var << " = {("
       << cType(t.getElementType()) << " *)" << ptr << ", ("
       << cType(t.getElementType()) << " *)" << ptr << ", 0";
    if (t.getRank()) {
      os << ", {";
      for (int64_t d = 0; d < t.getRank(); ++d)
        os << (d ? ", " : "") << t.getDimSize(d);
      os << "}, {";
      int64_t stride = 1;
      SmallVector<int64_t> strides(t.getRank());
      for (int64_t d = t.getRank() - 1; d >= 0; --d) {
        strides[d] = stride;
        stride *= t.getDimSize(d);
      }
      for (int64_t d = 0; d < t.getRank(); ++d)
        os << (d ? ", " : "") << strides[d];
      os << "}";
    }
    os << "};\n";
  };
  for (auto [i, t] : llvm::enumerate(sig.argTypes))
    emitDescriptor(t, "a" + std::to_string(i), "arg" + std::to_string(i));
  for (auto [i, t] : llvm::enumerate(sig.resultTypes))
    emitDescriptor(t, "r" + std::to_string(i), "result" + std::to_string(i));
  os << "  _mlir_ciface_" << entry << "(";
  for (size_t i = 0; i < sig.argTypes.size(); ++i)
    os << (i ? ", " : "") << "&a" << i;
  for (size_t i = 0; i < sig.resultTypes.size(); ++i)
    os << (i || !sig.argTypes.empty() ? ", " : "") << "&r" << i;
  os << ");\n}\n\n#endif\n";
}
