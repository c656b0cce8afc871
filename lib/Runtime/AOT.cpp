//===- AOT.cpp - ahead-of-time compilation to an object file --------------===//

#include "qat/Runtime/AOT.h"
#include "qat/Support/Error.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
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
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace runtime = mlir::qat::runtime;


llvm::Expected<EntrySignature>
runtime::compileToObject(ModuleOp module, StringRef entry, StringRef objectPath,
                         const AOTOptions &options) {
  if (options.optLevel > 3)
    return makeError("optimisation level " + llvm::Twine(options.optLevel) +
                     " is not one of 0, 1, 2, 3");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // The CPU check of VNNI code is inline assembly (cpuid, xgetbv).
  llvm::InitializeNativeTargetAsmParser();
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
  bool machineHasVnni = machine->getMCSubtargetInfo()->checkFeatures(
      "+avx512vnni,+avx512bw,+avx512f");
  Kernels kernels = options.lowering.kernels;
  if (kernels == Kernels::Auto)
    kernels = machineHasVnni ? Kernels::Vnni : Kernels::Portable;

  MLIRContext *ctx = module.getContext();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerOpenMPDialectTranslation(*ctx);
  llvm::LLVMContext llvmContext;
  EntrySignature sig;
  // Lowers `m` with `k` kernels and translates it to LLVM IR.
  auto lower = [&](ModuleOp m, Kernels k)
      -> llvm::Expected<std::unique_ptr<llvm::Module>> {
    LoweringOptions lowering = options.lowering;
    lowering.kernels = k;
    auto s = lowerEntryToLLVM(m, entry, lowering);
    if (!s)
      return s.takeError();
    sig = *s;
    std::unique_ptr<llvm::Module> out =
        translateModuleToLLVMIR(m, llvmContext, entry);
    if (!out)
      return makeError("cannot translate @" + entry + " to LLVM IR");
    return std::move(out);
  };
  std::unique_ptr<llvm::Module> llvmModule;
  if (kernels == Kernels::Dispatch || kernels == Kernels::Vnni) {
    // The VNNI code checks the CPU it runs on: with `dispatch` it falls back
    // to a portable build of the same model, with `vnni` it stops with an
    // error instead of an illegal instruction.
    OwningOpRef<ModuleOp> copy;
    if (kernels == Kernels::Dispatch)
      copy = module.clone();
    auto fast = lower(module, Kernels::Vnni);
    if (!fast)
      return fast.takeError();
    std::unique_ptr<llvm::Module> portable;
    if (copy) {
      auto p = lower(*copy, Kernels::Portable);
      if (!p)
        return p.takeError();
      portable = std::move(*p);
    }
    auto linked = buildCpuDispatch(std::move(*fast), std::move(portable),
                                   entry);
    if (!linked)
      return linked.takeError();
    llvmModule = std::move(*linked);
  } else {
    auto m = lower(module, kernels);
    if (!m)
      return m.takeError();
    llvmModule = std::move(*m);
  }

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

//===----------------------------------------------------------------------===//
// CPU dispatch
//===----------------------------------------------------------------------===//

/// The CPU features the VNNI kernels are compiled with, checked at run time
/// by the code `buildCpuDispatch` emits.
static constexpr const char *kVnniFeatures =
    "+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512vnni,+avx2,+avx,+fma,"
    "+f16c,+bmi,+bmi2,+lzcnt,+popcnt,+sse4.2,+movbe";

/// Emits `i1 qat.cpu_has_vnni()`: whether the CPU and OS support the
/// AVX-512 features of kVnniFeatures (cpuid leaves 1 and 7, xgetbv for the
/// opmask and zmm state), unless the environment variable QAT_DISABLE_VNNI
/// is set (to test the other path). The answer is cached in a global.
static llvm::Function *emitCpuCheck(llvm::Module &m) {
  llvm::LLVMContext &ctx = m.getContext();
  auto *i1 = llvm::Type::getInt1Ty(ctx);
  auto *i8 = llvm::Type::getInt8Ty(ctx);
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  auto *fn = llvm::Function::Create(llvm::FunctionType::get(i1, false),
                                    llvm::GlobalValue::InternalLinkage,
                                    "qat.cpu_has_vnni", m);
  // 0: not checked yet, 1: no, 2: yes.
  auto *cache = new llvm::GlobalVariable(m, i8, false,
                                         llvm::GlobalValue::InternalLinkage,
                                         llvm::ConstantInt::get(i8, 0),
                                         "qat.cpu_has_vnni.cache");
  auto *entryBB = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto *checkBB = llvm::BasicBlock::Create(ctx, "check", fn);
  auto *noBB = llvm::BasicBlock::Create(ctx, "no", fn);
  auto *yesBB = llvm::BasicBlock::Create(ctx, "yes", fn);
  llvm::IRBuilder<> b(entryBB);
  llvm::Value *known = b.CreateLoad(i8, cache);
  auto *doneBB = llvm::BasicBlock::Create(ctx, "cached", fn);
  b.CreateCondBr(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 0)),
                 checkBB, doneBB);
  b.SetInsertPoint(doneBB);
  b.CreateRet(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 2)));

  b.SetInsertPoint(checkBB);
  llvm::FunctionCallee getenv =
      m.getOrInsertFunction("getenv", llvm::FunctionType::get(ptr, {ptr}, false));
  llvm::Value *env =
      b.CreateCall(getenv, {b.CreateGlobalString("QAT_DISABLE_VNNI")});
  auto *cpuidBB = llvm::BasicBlock::Create(ctx, "cpuid", fn);
  b.CreateCondBr(b.CreateIsNotNull(env), noBB, cpuidBB);
  b.SetInsertPoint(cpuidBB);
  auto *regs = llvm::StructType::get(ctx, {i32, i32, i32, i32});
  auto *cpuidAsm = llvm::InlineAsm::get(
      llvm::FunctionType::get(regs, {i32, i32}, false), "cpuid",
      "={ax},={bx},={cx},={dx},{ax},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  auto cpuid = [&](unsigned leaf) {
    return b.CreateCall(cpuidAsm, {llvm::ConstantInt::get(i32, leaf),
                                   llvm::ConstantInt::get(i32, 0)});
  };
  auto bitsSet = [&](llvm::Value *v, uint32_t mask) {
    return b.CreateICmpEQ(b.CreateAnd(v, mask),
                          llvm::ConstantInt::get(i32, mask));
  };
  // Leaf 7 exists, and OSXSAVE (leaf 1, ecx bit 27) allows xgetbv.
  llvm::Value *maxLeaf = b.CreateExtractValue(cpuid(0), 0);
  llvm::Value *leaf1Ecx = b.CreateExtractValue(cpuid(1), 2);
  auto *xgetbvBB = llvm::BasicBlock::Create(ctx, "xgetbv", fn);
  b.CreateCondBr(b.CreateAnd(b.CreateICmpUGE(maxLeaf,
                                             llvm::ConstantInt::get(i32, 7)),
                             bitsSet(leaf1Ecx, (1u << 27) | (1u << 12) |
                                                   (1u << 29))),
                 xgetbvBB, noBB);
  b.SetInsertPoint(xgetbvBB);
  // XCR0: SSE, AVX, opmask, ZMM_Hi256 and Hi16_ZMM state enabled by the OS.
  auto *xgetbvAsm = llvm::InlineAsm::get(
      llvm::FunctionType::get(llvm::StructType::get(ctx, {i32, i32}), {i32},
                              false),
      "xgetbv", "={ax},={dx},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  llvm::Value *xcr0 = b.CreateExtractValue(
      b.CreateCall(xgetbvAsm, {llvm::ConstantInt::get(i32, 0)}), 0);
  llvm::Value *leaf7 = cpuid(7);
  llvm::Value *ebx = b.CreateExtractValue(leaf7, 1);
  llvm::Value *ecx = b.CreateExtractValue(leaf7, 2);
  // ebx: AVX2 5, BMI1 3, BMI2 8, AVX512F 16, DQ 17, BW 30, VL 31;
  // ecx: VNNI 11.
  llvm::Value *ok = b.CreateAnd(
      b.CreateAnd(bitsSet(xcr0, 0xE6),
                  bitsSet(ebx, (1u << 3) | (1u << 5) | (1u << 8) |
                                   (1u << 16) | (1u << 17) | (1u << 30) |
                                   (1u << 31))),
      bitsSet(ecx, 1u << 11));
  b.CreateCondBr(ok, yesBB, noBB);
  b.SetInsertPoint(noBB);
  b.CreateStore(llvm::ConstantInt::get(i8, 1), cache);
  b.CreateRet(llvm::ConstantInt::getFalse(ctx));
  b.SetInsertPoint(yesBB);
  b.CreateStore(llvm::ConstantInt::get(i8, 2), cache);
  b.CreateRet(llvm::ConstantInt::getTrue(ctx));
  return fn;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
runtime::buildCpuDispatch(std::unique_ptr<llvm::Module> fast,
                          std::unique_ptr<llvm::Module> portable,
                          StringRef entry) {
  std::string ciface = ("_mlir_ciface_" + entry).str();
  // Each build keeps only its C interface external, renamed per variant,
  // so the two link without clashes (internal symbols are renamed).
  auto prepare = [&](llvm::Module &m, StringRef suffix,
                     bool vnni) -> llvm::Function * {
    for (llvm::Function &f : m)
      if (!f.isDeclaration()) {
        f.setLinkage(llvm::GlobalValue::InternalLinkage);
        if (vnni) {
          std::string features =
              f.getFnAttribute("target-features").getValueAsString().str();
          f.addFnAttr("target-features", features.empty()
                                             ? std::string(kVnniFeatures)
                                             : features + "," + kVnniFeatures);
        }
      }
    for (llvm::GlobalVariable &g : m.globals())
      if (!g.isDeclaration())
        g.setLinkage(llvm::GlobalValue::InternalLinkage);
    // The variant's interface stays external until the dispatcher calls it:
    // the linker only brings over internal symbols that something uses.
    llvm::Function *f = m.getFunction(ciface);
    if (f) {
      f->setName(ciface + "." + suffix.str());
      f->setLinkage(llvm::GlobalValue::ExternalLinkage);
    }
    return f;
  };
  llvm::Function *fastFn = prepare(*fast, "vnni", true);
  if (!fastFn)
    return makeError("no " + ciface + " in the translated module");
  std::string fastName = fastFn->getName().str();
  std::string portableName;
  if (portable) {
    llvm::Function *p = prepare(*portable, "portable", false);
    if (!p)
      return makeError("no " + ciface + " in the translated module");
    portableName = p->getName().str();
    if (llvm::Linker::linkModules(*fast, std::move(portable)))
      return makeError("cannot link the VNNI and portable builds of @" +
                       entry);
  }
  llvm::Module &m = *fast;
  llvm::LLVMContext &ctx = m.getContext();
  fastFn = m.getFunction(fastName);
  llvm::FunctionType *type = fastFn->getFunctionType();
  auto *dispatch = llvm::Function::Create(
      type, llvm::GlobalValue::ExternalLinkage, ciface, m);
  SmallVector<llvm::Value *> args;
  for (llvm::Argument &a : dispatch->args())
    args.push_back(&a);
  llvm::Function *check = emitCpuCheck(m);
  auto *entryBB = llvm::BasicBlock::Create(ctx, "entry", dispatch);
  auto *fastBB = llvm::BasicBlock::Create(ctx, "vnni", dispatch);
  auto *otherBB = llvm::BasicBlock::Create(ctx, "other", dispatch);
  llvm::IRBuilder<> b(entryBB);
  b.CreateCondBr(b.CreateCall(check), fastBB, otherBB);
  b.SetInsertPoint(fastBB);
  b.CreateCall(fastFn, args);
  b.CreateRetVoid();
  b.SetInsertPoint(otherBB);
  fastFn->setLinkage(llvm::GlobalValue::InternalLinkage);
  if (!portableName.empty()) {
    llvm::Function *portableFn = m.getFunction(portableName);
    if (!portableFn)
      return makeError("the portable build of @" + entry +
                       " was lost in linking");
    portableFn->setLinkage(llvm::GlobalValue::InternalLinkage);
    b.CreateCall(portableFn, args);
    b.CreateRetVoid();
  } else {
    // A clear error instead of an illegal instruction.
    auto *i32 = llvm::Type::getInt32Ty(ctx);
    auto *i64 = llvm::Type::getInt64Ty(ctx);
    auto *ptr = llvm::PointerType::getUnqual(ctx);
    std::string msg = ("qat-compile model @" + entry +
                       ": this CPU lacks AVX-512 VNNI (avx512f, avx512bw, "
                       "avx512dq, avx512vl, avx512vnni), which the object "
                       "was compiled for (--kernels vnni); recompile with "
                       "--kernels dispatch or portable\n")
                          .str();
    llvm::FunctionCallee write = m.getOrInsertFunction(
        "write", llvm::FunctionType::get(i64, {i32, ptr, i64}, false));
    llvm::FunctionCallee abortFn =
        m.getOrInsertFunction("abort", llvm::FunctionType::get(
                                           llvm::Type::getVoidTy(ctx), false));
    b.CreateCall(write, {llvm::ConstantInt::get(i32, 2),
                         b.CreateGlobalString(msg),
                         llvm::ConstantInt::get(i64, msg.size())});
    b.CreateCall(abortFn);
    b.CreateUnreachable();
  }
  return std::move(fast);
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
