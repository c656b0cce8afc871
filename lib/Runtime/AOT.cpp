//===- AOT.cpp - ahead-of-time compilation to an object file --------------===//

#include "qat/Runtime/AOT.h"
#include "qat/Runtime/ConstantBytes.h"
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
#include <chrono>
#include <set>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace runtime = mlir::qat::runtime;

llvm::Expected<EntrySignature>
runtime::compileToObject(ModuleOp module, StringRef entry, StringRef objectPath,
                         const AOTOptions &options) {
  auto start = std::chrono::steady_clock::now();
  auto report = [&](const llvm::Twine &what) {
    if (options.progress)
      options.progress(what.str(), std::chrono::duration<double>(
                                       std::chrono::steady_clock::now() - start)
                                       .count());
  };
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
  // An unknown CPU name: LLVM warns once per subtarget it builds, then
  // stops with "LLVM ERROR" on 64-bit code; refuse it first.
  std::unique_ptr<llvm::MCSubtargetInfo> generic(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!generic || !generic->isCPUStringValid(cpu))
    return makeError("'" + cpu + "' is not a CPU that LLVM knows for " +
                     triple.str() + " (host, or a name listed by " +
                     "`llc -mcpu=help`)");
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
  const llvm::MCSubtargetInfo *sti = machine->getMCSubtargetInfo();
  bool machineHasVnni = sti->checkFeatures("+avx512vnni,+avx512bw,+avx512f");
  bool machineHasAMX =
      machineHasVnni && sti->checkFeatures("+amx-tile,+amx-int8");
  Kernels kernels = options.lowering.kernels;
  // The builds of the model in the object, best first. Builds for AMX or
  // VNNI check the CPU (and for AMX the OS) they run on and fall through to
  // the next build, or stop with an error after the last one; `auto` for a
  // CPU with AMX keeps a VNNI build for an OS that refuses the tiles.
  SmallVector<Kernels> builds;
  if (kernels == Kernels::Dispatch)
    builds = {Kernels::Amx, Kernels::Vnni, Kernels::Portable};
  else if (kernels == Kernels::Auto && machineHasAMX)
    builds = {Kernels::Amx, Kernels::Vnni};
  else if (kernels == Kernels::Auto)
    builds = {machineHasVnni ? Kernels::Vnni : Kernels::Portable};
  else
    builds = {kernels};

  MLIRContext *ctx = module.getContext();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  registerOpenMPDialectTranslation(*ctx);
  llvm::LLVMContext llvmContext;
  EntrySignature sig;
  // Lowers `m` with `k` kernels and translates it to LLVM IR.
  auto lower = [&](ModuleOp m,
                   Kernels k) -> llvm::Expected<std::unique_ptr<llvm::Module>> {
    LoweringOptions lowering = options.lowering;
    lowering.kernels = k;
    report("lowering to the LLVM dialect (qat-to-llvm, " + stringify(k) +
           " kernels)");
    auto s = lowerEntryToLLVM(m, entry, lowering);
    if (!s)
      return s.takeError();
    sig = *s;
    report("translating to LLVM IR");
    std::unique_ptr<llvm::Module> out =
        translateModuleToLLVMIR(m, llvmContext, entry);
    if (!out)
      return makeError("cannot translate @" + entry + " to LLVM IR");
    return std::move(out);
  };
  std::unique_ptr<llvm::Module> llvmModule;
  if (builds.size() > 1 || builds[0] == Kernels::Vnni ||
      builds[0] == Kernels::Amx) {
    SmallVector<CpuBuild> translated;
    for (auto [i, k] : llvm::enumerate(builds)) {
      OwningOpRef<ModuleOp> copy;
      if (i + 1 < builds.size())
        copy = module.clone();
      auto m = lower(copy ? *copy : module, k);
      if (!m)
        return m.takeError();
      translated.push_back({k, std::move(*m)});
    }
    auto linked = buildCpuDispatch(std::move(translated), entry, kernels);
    if (!linked)
      return linked.takeError();
    llvmModule = std::move(*linked);
  } else {
    auto m = lower(module, builds[0]);
    if (!m)
      return m.takeError();
    llvmModule = std::move(*m);
  }

  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(machine->createDataLayout());
  report("optimizing and generating machine code (LLVM -O" +
         llvm::Twine(options.optLevel) + ")");
  auto transformer = makeOptimizingTransformer(options.optLevel,
                                               /*sizeLevel=*/0, machine.get());
  if (auto err = transformer(llvmModule.get()))
    return makeError("LLVM optimisation failed: " +
                     llvm::toString(std::move(err)));
  storeConstantArraysAsBytes(*llvmModule);

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
  report("done");
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

/// The CPU features of the AMX builds: the VNNI ones (their depthwise and
/// small kernels, and the epilogues) and the tiles.
static constexpr const char *kAMXFeatures = ",+amx-tile,+amx-int8";

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
  auto *cache = new llvm::GlobalVariable(
      m, i8, false, llvm::GlobalValue::InternalLinkage,
      llvm::ConstantInt::get(i8, 0), "qat.cpu_has_vnni.cache");
  auto *entryBB = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto *checkBB = llvm::BasicBlock::Create(ctx, "check", fn);
  auto *noBB = llvm::BasicBlock::Create(ctx, "no", fn);
  auto *yesBB = llvm::BasicBlock::Create(ctx, "yes", fn);
  llvm::IRBuilder<> b(entryBB);
  llvm::Value *known = b.CreateLoad(i8, cache);
  auto *doneBB = llvm::BasicBlock::Create(ctx, "cached", fn);
  b.CreateCondBr(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 0)), checkBB,
                 doneBB);
  b.SetInsertPoint(doneBB);
  b.CreateRet(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 2)));

  b.SetInsertPoint(checkBB);
  llvm::FunctionCallee getenv = m.getOrInsertFunction(
      "getenv", llvm::FunctionType::get(ptr, {ptr}, false));
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
  b.CreateCondBr(
      b.CreateAnd(b.CreateICmpUGE(maxLeaf, llvm::ConstantInt::get(i32, 7)),
                  bitsSet(leaf1Ecx, (1u << 27) | (1u << 12) | (1u << 29))),
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
                  bitsSet(ebx, (1u << 3) | (1u << 5) | (1u << 8) | (1u << 16) |
                                   (1u << 17) | (1u << 30) | (1u << 31))),
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

/// Emits `i1 qat.cpu_has_amx()`: whether `vnni` (qat.cpu_has_vnni) holds,
/// the CPU has AMX-TILE and AMX-INT8 (cpuid leaf 7, edx bits 24 and 25),
/// the OS enables the tile state (XCR0 bits 17 and 18), and the OS grants
/// this process the tile data (Linux: syscall arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA) returns 0; asked once). The environment variable
/// QAT_DISABLE_AMX makes it false (to test the other paths). Cached.
static llvm::Function *emitAMXCheck(llvm::Module &m, llvm::Function *vnni) {
  llvm::LLVMContext &ctx = m.getContext();
  auto *i1 = llvm::Type::getInt1Ty(ctx);
  auto *i8 = llvm::Type::getInt8Ty(ctx);
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *i64 = llvm::Type::getInt64Ty(ctx);
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  auto *fn = llvm::Function::Create(llvm::FunctionType::get(i1, false),
                                    llvm::GlobalValue::InternalLinkage,
                                    "qat.cpu_has_amx", m);
  auto *cache = new llvm::GlobalVariable(
      m, i8, false, llvm::GlobalValue::InternalLinkage,
      llvm::ConstantInt::get(i8, 0), "qat.cpu_has_amx.cache");
  auto block = [&](const char *name) {
    return llvm::BasicBlock::Create(ctx, name, fn);
  };
  llvm::BasicBlock *entryBB = block("entry"), *doneBB = block("cached"),
                   *checkBB = block("check"), *cpuBB = block("cpuid"),
                   *osBB = block("xgetbv"), *permBB = block("permission"),
                   *noBB = block("no"), *yesBB = block("yes");
  llvm::IRBuilder<> b(entryBB);
  llvm::Value *known = b.CreateLoad(i8, cache);
  b.CreateCondBr(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 0)), checkBB,
                 doneBB);
  b.SetInsertPoint(doneBB);
  b.CreateRet(b.CreateICmpEQ(known, llvm::ConstantInt::get(i8, 2)));

  b.SetInsertPoint(checkBB);
  llvm::FunctionCallee getenv = m.getOrInsertFunction(
      "getenv", llvm::FunctionType::get(ptr, {ptr}, false));
  llvm::Value *env =
      b.CreateCall(getenv, {b.CreateGlobalString("QAT_DISABLE_AMX")});
  b.CreateCondBr(
      b.CreateOr(b.CreateIsNotNull(env), b.CreateNot(b.CreateCall(vnni))), noBB,
      cpuBB);
  // qat.cpu_has_vnni found leaf 7 and xgetbv usable.
  b.SetInsertPoint(cpuBB);
  auto *regs = llvm::StructType::get(ctx, {i32, i32, i32, i32});
  auto *cpuidAsm = llvm::InlineAsm::get(
      llvm::FunctionType::get(regs, {i32, i32}, false), "cpuid",
      "={ax},={bx},={cx},={dx},{ax},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  auto bitsSet = [&](llvm::Value *v, uint32_t mask) {
    return b.CreateICmpEQ(b.CreateAnd(v, mask),
                          llvm::ConstantInt::get(i32, mask));
  };
  llvm::Value *edx = b.CreateExtractValue(
      b.CreateCall(cpuidAsm, {llvm::ConstantInt::get(i32, 7),
                              llvm::ConstantInt::get(i32, 0)}),
      3);
  b.CreateCondBr(bitsSet(edx, (1u << 24) | (1u << 25)), osBB, noBB);
  b.SetInsertPoint(osBB);
  auto *xgetbvAsm = llvm::InlineAsm::get(
      llvm::FunctionType::get(llvm::StructType::get(ctx, {i32, i32}), {i32},
                              false),
      "xgetbv", "={ax},={dx},{cx},~{dirflag},~{fpsr},~{flags}",
      /*hasSideEffects=*/true);
  llvm::Value *xcr0 = b.CreateExtractValue(
      b.CreateCall(xgetbvAsm, {llvm::ConstantInt::get(i32, 0)}), 0);
  b.CreateCondBr(bitsSet(xcr0, (1u << 17) | (1u << 18)), permBB, noBB);
  b.SetInsertPoint(permBB);
  // syscall(SYS_arch_prctl = 158, ARCH_REQ_XCOMP_PERM = 0x1023,
  //         XFEATURE_XTILEDATA = 18)
  llvm::FunctionCallee syscall = m.getOrInsertFunction(
      "syscall", llvm::FunctionType::get(i64, {i64}, /*isVarArg=*/true));
  llvm::Value *granted =
      b.CreateCall(syscall, {llvm::ConstantInt::get(i64, 158),
                             llvm::ConstantInt::get(i64, 0x1023),
                             llvm::ConstantInt::get(i64, 18)});
  b.CreateCondBr(b.CreateICmpEQ(granted, llvm::ConstantInt::get(i64, 0)), yesBB,
                 noBB);
  b.SetInsertPoint(noBB);
  b.CreateStore(llvm::ConstantInt::get(i8, 1), cache);
  b.CreateRet(llvm::ConstantInt::getFalse(ctx));
  b.SetInsertPoint(yesBB);
  b.CreateStore(llvm::ConstantInt::get(i8, 2), cache);
  b.CreateRet(llvm::ConstantInt::getTrue(ctx));
  return fn;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
runtime::buildCpuDispatch(SmallVector<CpuBuild> builds, StringRef entry,
                          Kernels kernels) {
  if (builds.empty())
    return makeError("no build of @" + entry + " to dispatch to");
  std::string ciface = ("_mlir_ciface_" + entry).str();
  // Each build keeps only its C interface external, renamed per build, so
  // that they link without clashes (internal symbols are renamed).
  auto prepare = [&](CpuBuild &build) -> llvm::Function * {
    std::string extra = build.kernels == Kernels::Amx
                            ? std::string(kVnniFeatures) + kAMXFeatures
                        : build.kernels == Kernels::Vnni
                            ? std::string(kVnniFeatures)
                            : std::string();
    for (llvm::Function &f : *build.module)
      if (!f.isDeclaration()) {
        f.setLinkage(llvm::GlobalValue::InternalLinkage);
        if (!extra.empty()) {
          std::string features =
              f.getFnAttribute("target-features").getValueAsString().str();
          f.addFnAttr("target-features",
                      features.empty() ? extra : features + "," + extra);
        }
      }
    for (llvm::GlobalVariable &g : build.module->globals())
      if (!g.isDeclaration())
        g.setLinkage(llvm::GlobalValue::InternalLinkage);
    // The build's interface stays external until the dispatcher calls it:
    // the linker only brings over internal symbols that something uses.
    llvm::Function *f = build.module->getFunction(ciface);
    if (f) {
      f->setName(ciface + "." + stringify(build.kernels));
      f->setLinkage(llvm::GlobalValue::ExternalLinkage);
    }
    return f;
  };
  SmallVector<std::string> names;
  for (CpuBuild &build : builds) {
    llvm::Function *f = prepare(build);
    if (!f)
      return makeError("no " + ciface + " in the translated module");
    names.push_back(f->getName().str());
  }
  std::unique_ptr<llvm::Module> out = std::move(builds[0].module);
  for (CpuBuild &build : llvm::drop_begin(builds))
    if (llvm::Linker::linkModules(*out, std::move(build.module)))
      return makeError("cannot link the " + stringify(build.kernels) +
                       " build of @" + entry);
  llvm::Module &m = *out;
  llvm::LLVMContext &ctx = m.getContext();
  SmallVector<llvm::Function *> fns;
  for (const std::string &name : names) {
    llvm::Function *f = m.getFunction(name);
    if (!f)
      return makeError("the build " + name + " of @" + entry +
                       " was lost in linking");
    fns.push_back(f);
  }
  auto *dispatch = llvm::Function::Create(
      fns[0]->getFunctionType(), llvm::GlobalValue::ExternalLinkage, ciface, m);
  SmallVector<llvm::Value *> args;
  for (llvm::Argument &a : dispatch->args())
    args.push_back(&a);
  llvm::Function *vnniCheck = nullptr, *amxCheck = nullptr;
  auto checkOf = [&](Kernels k) -> llvm::Function * {
    if (k != Kernels::Amx && k != Kernels::Vnni)
      return nullptr;
    if (!vnniCheck)
      vnniCheck = emitCpuCheck(m);
    if (k == Kernels::Vnni)
      return vnniCheck;
    if (!amxCheck)
      amxCheck = emitAMXCheck(m, vnniCheck);
    return amxCheck;
  };
  // One block per build: call it if its check holds, else try the next.
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", dispatch));
  for (auto [build, fn] : llvm::zip(builds, fns)) {
    fn->setLinkage(llvm::GlobalValue::InternalLinkage);
    llvm::Function *check = checkOf(build.kernels);
    auto *callBB =
        llvm::BasicBlock::Create(ctx, stringify(build.kernels), dispatch);
    auto *nextBB = llvm::BasicBlock::Create(ctx, "next", dispatch);
    if (check)
      b.CreateCondBr(b.CreateCall(check), callBB, nextBB);
    else
      b.CreateBr(callBB);
    b.SetInsertPoint(callBB);
    b.CreateCall(fn, args);
    b.CreateRetVoid();
    b.SetInsertPoint(nextBB);
  }
  Kernels last = builds.back().kernels;
  if (last != Kernels::Amx && last != Kernels::Vnni) {
    b.CreateUnreachable();
    return std::move(out);
  }
  // A clear error instead of an illegal instruction.
  auto *i32 = llvm::Type::getInt32Ty(ctx);
  auto *i64 = llvm::Type::getInt64Ty(ctx);
  auto *ptr = llvm::PointerType::getUnqual(ctx);
  std::string what =
      last == Kernels::Amx
          ? "AMX (amx-tile, amx-int8, with AVX-512 VNNI) or the OS's leave to "
            "use the tiles' data (arch_prctl ARCH_REQ_XCOMP_PERM)"
          : "AVX-512 VNNI (avx512f, avx512bw, avx512dq, avx512vl, "
            "avx512vnni)";
  std::string msg =
      ("qat-compile model @" + entry + ": this CPU lacks " + what +
       ", which the object was compiled for (--kernels " + stringify(kernels) +
       "); recompile with --kernels dispatch or " +
       (last == Kernels::Amx ? "vnni" : "portable") + "\n")
          .str();
  llvm::FunctionCallee write = m.getOrInsertFunction(
      "write", llvm::FunctionType::get(i64, {i32, ptr, i64}, false));
  llvm::FunctionCallee abortFn = m.getOrInsertFunction(
      "abort", llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), false));
  b.CreateCall(write,
               {llvm::ConstantInt::get(i32, 2), b.CreateGlobalString(msg),
                llvm::ConstantInt::get(i64, msg.size())});
  b.CreateCall(abortFn);
  b.CreateUnreachable();
  return std::move(out);
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
        "   "
     << (sig.usesOpenMP ? "-lomp " : "") << "-lm. See docs/Conversion.md. */\n"
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
