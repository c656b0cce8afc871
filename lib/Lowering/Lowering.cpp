//===- Lowering.cpp - lower entry functions to the LLVM dialect -----------===//

#include "qat/Lowering/Lowering.h"
#include "qat/Pipelines/Pipelines.h"
#include "qat/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::qat;

static std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::optional<ElementKind> qat::getElementKind(Type type) {
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

llvm::Error qat::checkKernelsOnHost(Kernels kernels) {
  if (kernels == Kernels::Vnni && hostKernelIsa() != KernelIsa::Vnni)
    return makeError("kernels=vnni needs AVX-512 VNNI (avx512vnni, "
                     "avx512bw), which this CPU lacks; use kernels=portable "
                     "or auto");
  if (kernels == Kernels::Amx && !hostHasAMX())
    return makeError("kernels=amx needs AMX (amx-tile, amx-int8, with AVX-512 "
                     "VNNI) and the OS's leave to use the tiles' data "
                     "(arch_prctl ARCH_REQ_XCOMP_PERM), and here " +
                     hostAMXProblem() +
                     "; use kernels=amx-emulated to run the AMX kernels' code "
                     "on vector instructions, or auto");
  return llvm::Error::success();
}

llvm::Expected<SmallVector<EntrySignature>>
qat::lowerEntriesToLLVM(ModuleOp module, ArrayRef<std::string> entries,
                        const LoweringOptions &lowering) {
  if (lowering.kernels == Kernels::Dispatch)
    return makeError(
        "kernels=dispatch is for ahead-of-time compilation "
        "only; a lowering takes vnni, portable, amx, amx-emulated, auto or "
        "none");
  if (entries.empty())
    return makeError("no function to compile");
  SmallVector<EntrySignature> sigs;
  SmallVector<func::FuncOp> funcs;
  for (const std::string &entry : entries) {
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func || func.isExternal()) {
      std::string names;
      for (auto f : module.getOps<func::FuncOp>())
        if (!f.isExternal())
          names += (names.empty() ? "@" : ", @") + f.getSymName().str();
      return makeError("no function @" + entry + " in the module (it defines " +
                       (names.empty() ? std::string("none") : names) + ")");
    }
    if (llvm::is_contained(funcs, func))
      return makeError("@" + entry + " is named twice");
    EntrySignature sig;
    FunctionType ft = func.getFunctionType();
    for (auto [i, t] : llvm::enumerate(ft.getInputs()))
      if (auto err = checkType(t, "argument", i, entry, false, sig.argTypes))
        return std::move(err);
    for (auto [i, t] : llvm::enumerate(ft.getResults()))
      if (auto err = checkType(t, "result", i, entry, true, sig.resultTypes))
        return std::move(err);
    sigs.push_back(std::move(sig));
    funcs.push_back(func);
  }

  // Only what the entries can reach is compiled: another function of the
  // file that cannot be lowered must not stop these from running.
  llvm::SmallPtrSet<Operation *, 16> reachable;
  llvm::SmallVector<Operation *> worklist(funcs.begin(), funcs.end());
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
  for (func::FuncOp func : funcs) {
    func->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    // The caller's input buffers are read-only: one-shot bufferization
    // copies before any in-place write into them (function arguments are
    // writable by default).
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (!func.getArgAttr(i, "bufferization.writable"))
        func.setArgAttr(i, "bufferization.writable", BoolAttr::get(ctx, false));
  }
  PassManager pm(ctx);
  QATToLLVMPipelineOptions options;
  options.resultsToOutParams = true;
  options.kernels = lowering.kernels;
  options.threads = lowering.threads;
  options.arena = lowering.arena;
  options.parallelMinMacs = lowering.parallelMinMacs;
  buildQATToLLVMPipeline(pm, options);
  if (failed(pm.run(module))) {
    std::string names;
    for (const std::string &entry : entries)
      names += (names.empty() ? "@" : ", @") + entry;
    return makeError("cannot lower the module to LLVM for " + names +
                     " (see the diagnostics above)");
  }
  // Only the C-interface wrappers are called from outside. With the
  // functions themselves internal, LLVM inlines them into the wrappers:
  // otherwise the call passes every descriptor field as a scalar argument,
  // and instruction selection is quadratic in their number (seconds for a
  // few hundred memref arguments).
  //
  // Every other function defined here is internal as well (the loop nests
  // of qat-outline-loop-nests, helpers of the kernels): LLVM then sees all
  // their callers, propagates the constant arguments (buffer addresses in
  // the arena and the weights, sizes, strides) into them and drops unused
  // ones. As external functions, the JIT's code ran 12-15 % slower than the
  // same module in a qat-compile object, whose CPU dispatch internalizes
  // them (MobileNetV2 224 float, one core).
  llvm::StringSet<> interfaces;
  for (const std::string &entry : entries)
    interfaces.insert("_mlir_ciface_" + entry);
  for (auto llvmFunc : module.getOps<LLVM::LLVMFuncOp>())
    if (!llvmFunc.isExternal() && !interfaces.contains(llvmFunc.getSymName()))
      llvmFunc.setLinkage(LLVM::Linkage::Internal);
  bool usesOpenMP = false;
  module.walk([&](Operation *op) {
    if (isa<omp::OpenMPDialect>(op->getDialect())) {
      usesOpenMP = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  for (EntrySignature &sig : sigs)
    sig.usesOpenMP = usesOpenMP;
  return sigs;
}

llvm::Expected<EntrySignature>
qat::lowerEntryToLLVM(ModuleOp module, StringRef entry,
                      const LoweringOptions &lowering) {
  auto sigs = lowerEntriesToLLVM(module, {entry.str()}, lowering);
  if (!sigs)
    return sigs.takeError();
  return std::move(sigs->front());
}
