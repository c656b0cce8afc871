//===- Runtime.cpp - compile once, call in-process, C API -----------------===//

#include "qat-c/Runtime.h"

#include "qat/Runtime/AOT.h"
#include "qat/Runtime/Executable.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;

namespace {
struct CompileOptions;
llvm::Expected<LoweringOptions> getLowering(const CompileOptions &o,
                                            bool dispatch);
struct CompileOptions {
  unsigned optLevel = 3;
  std::string cpu = "host";
  /// The lowering options; kernels and arena as the caller named them,
  /// checked by getLowering.
  LoweringOptions lowering;
  std::string kernels = "auto", arena = "static";
  QatProgressCallback progress = nullptr;
  void *progressUserData = nullptr;
};

/// The lowering options with the kernels and arena the caller named.
llvm::Expected<LoweringOptions> getLowering(const CompileOptions &o,
                                            bool dispatch) {
  LoweringOptions lowering = o.lowering;
  auto kernels = parseKernels(o.kernels, dispatch);
  if (!kernels)
    return kernels.takeError();
  auto arena = parseArena(o.arena);
  if (!arena)
    return arena.takeError();
  lowering.kernels = *kernels;
  lowering.arena = *arena;
  return lowering;
}
} // namespace

static CompileOptions *unwrap(QatCompileOptions o) {
  return static_cast<CompileOptions *>(o.ptr);
}
static Executable *unwrap(QatExecutable e) {
  return static_cast<Executable *>(e.ptr);
}

static void reportError(MlirStringCallback onError, void *userData,
                        llvm::Error err) {
  std::string msg = llvm::toString(std::move(err));
  if (onError)
    onError(MlirStringRef{msg.data(), msg.size()}, userData);
}

static_assert(int(QatElementTypeF32) == int(ElementKind::F32) &&
                  int(QatElementTypeF64) == int(ElementKind::F64) &&
                  int(QatElementTypeI8) == int(ElementKind::I8) &&
                  int(QatElementTypeU8) == int(ElementKind::U8) &&
                  int(QatElementTypeI16) == int(ElementKind::I16) &&
                  int(QatElementTypeI32) == int(ElementKind::I32) &&
                  int(QatElementTypeI64) == int(ElementKind::I64),
              "QatElementType mirrors ElementKind");

intptr_t qatElementTypeGetSize(QatElementType type) {
  return getElementSize(ElementKind(type));
}

MlirStringRef qatElementTypeGetName(QatElementType type) {
  static const char *names[] = {"f32", "f64", "i8", "ui8", "i16", "i32", "i64"};
  const char *n = names[int(type)];
  return MlirStringRef{n, strlen(n)};
}

int64_t qatDynamicSize(void) { return ShapedType::kDynamic; }

//===----------------------------------------------------------------------===//
// Compile options
//===----------------------------------------------------------------------===//

QatCompileOptions qatCompileOptionsCreate(void) {
  return QatCompileOptions{new CompileOptions()};
}
void qatCompileOptionsDestroy(QatCompileOptions options) {
  delete unwrap(options);
}
void qatCompileOptionsSetOptLevel(QatCompileOptions options, int level) {
  unwrap(options)->optLevel = level < 0 ? 99 : level;
}
void qatCompileOptionsSetKernels(QatCompileOptions options,
                                 MlirStringRef kernels) {
  unwrap(options)->kernels = unwrap(kernels).str();
}
void qatCompileOptionsSetNumThreads(QatCompileOptions options, int threads) {
  unwrap(options)->lowering.threads = threads < 0 ? 0 : threads;
}
void qatCompileOptionsSetArena(QatCompileOptions options, MlirStringRef arena) {
  unwrap(options)->arena = unwrap(arena).str();
}
void qatCompileOptionsSetParallelMinMacs(QatCompileOptions options,
                                         int64_t macs) {
  unwrap(options)->lowering.parallelMinMacs = macs;
}
void qatCompileOptionsSetCPU(QatCompileOptions options, MlirStringRef cpu) {
  unwrap(options)->cpu = unwrap(cpu).str();
}
void qatCompileOptionsSetProgressCallback(QatCompileOptions options,
                                          QatProgressCallback callback,
                                          void *userData) {
  unwrap(options)->progress = callback;
  unwrap(options)->progressUserData = userData;
}

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

QatExecutable qatExecutableCreate(MlirModule module, intptr_t numEntries,
                                  const MlirStringRef *entries,
                                  QatCompileOptions options,
                                  MlirStringCallback onError, void *userData) {
  CompileOptions defaults;
  const CompileOptions &opts = options.ptr ? *unwrap(options) : defaults;
  llvm::SmallVector<std::string> names;
  for (intptr_t i = 0; i < numEntries; ++i)
    names.push_back(unwrap(entries[i]).str());
  OwningOpRef<ModuleOp> clone = unwrap(module).clone();
  ProgressCallback progress;
  if (opts.progress)
    progress = [&](llvm::StringRef what, double seconds) {
      opts.progress(wrap(what), seconds, opts.progressUserData);
    };
  auto lowering = getLowering(opts, /*dispatch=*/false);
  if (!lowering) {
    reportError(onError, userData, lowering.takeError());
    return QatExecutable{nullptr};
  }
  auto exe =
      Executable::create(*clone, names, opts.optLevel, *lowering, progress);
  if (!exe) {
    reportError(onError, userData, exe.takeError());
    return QatExecutable{nullptr};
  }
  return QatExecutable{exe->release()};
}

void qatExecutableDestroy(QatExecutable executable) {
  delete unwrap(executable);
}

intptr_t qatExecutableGetNumFunctions(QatExecutable executable) {
  return unwrap(executable)->getNumFunctions();
}

MlirStringRef qatExecutableGetFunctionName(QatExecutable executable,
                                           intptr_t function) {
  return wrap(llvm::StringRef(unwrap(executable)->getSignature(function).name));
}

intptr_t qatExecutableLookupFunction(QatExecutable executable,
                                     MlirStringRef name) {
  auto index = unwrap(executable)->lookup(unwrap(name));
  return index ? intptr_t(*index) : -1;
}

bool qatExecutableUsesOpenMP(QatExecutable executable) {
  return unwrap(executable)->usesOpenMP();
}

static const TensorSpec &argument(QatExecutable e, intptr_t f, intptr_t i) {
  return unwrap(e)->getSignature(f).arguments[i];
}
static const TensorSpec &result(QatExecutable e, intptr_t f, intptr_t i) {
  return unwrap(e)->getSignature(f).results[i];
}

intptr_t qatExecutableGetNumArguments(QatExecutable executable,
                                      intptr_t function) {
  return unwrap(executable)->getSignature(function).arguments.size();
}
intptr_t qatExecutableGetNumResults(QatExecutable executable,
                                    intptr_t function) {
  return unwrap(executable)->getSignature(function).results.size();
}
QatElementType qatExecutableGetArgumentElementType(QatExecutable executable,
                                                   intptr_t function,
                                                   intptr_t i) {
  return QatElementType(argument(executable, function, i).kind);
}
intptr_t qatExecutableGetArgumentRank(QatExecutable executable,
                                      intptr_t function, intptr_t i) {
  return argument(executable, function, i).shape.size();
}
const int64_t *qatExecutableGetArgumentSizes(QatExecutable executable,
                                             intptr_t function, intptr_t i) {
  return argument(executable, function, i).shape.data();
}
QatElementType qatExecutableGetResultElementType(QatExecutable executable,
                                                 intptr_t function,
                                                 intptr_t i) {
  return QatElementType(result(executable, function, i).kind);
}
intptr_t qatExecutableGetResultRank(QatExecutable executable, intptr_t function,
                                    intptr_t i) {
  return result(executable, function, i).shape.size();
}
const int64_t *qatExecutableGetResultSizes(QatExecutable executable,
                                           intptr_t function, intptr_t i) {
  return result(executable, function, i).shape.data();
}

static BufferRef toBufferRef(const QatBuffer &b) {
  BufferRef r;
  r.data = b.data;
  r.kind = ElementKind(b.elementType);
  r.sizes = llvm::ArrayRef<int64_t>(b.sizes, b.rank);
  if (b.strides)
    r.strides = llvm::ArrayRef<int64_t>(b.strides, b.rank);
  return r;
}

MlirLogicalResult
qatExecutableCall(QatExecutable executable, intptr_t function,
                  intptr_t numArguments, const QatBuffer *arguments,
                  intptr_t numResults, const QatBuffer *results,
                  MlirStringCallback onError, void *userData) {
  Executable *exe = unwrap(executable);
  if (function < 0 || function >= intptr_t(exe->getNumFunctions())) {
    reportError(onError, userData,
                llvm::createStringError(
                    llvm::inconvertibleErrorCode(),
                    "no function #" + llvm::Twine(function) + " (" +
                        llvm::Twine(exe->getNumFunctions()) + " compiled)"));
    return mlirLogicalResultFailure();
  }
  llvm::SmallVector<BufferRef, 8> args, outs;
  for (intptr_t i = 0; i < numArguments; ++i)
    args.push_back(toBufferRef(arguments[i]));
  for (intptr_t i = 0; i < numResults; ++i)
    outs.push_back(toBufferRef(results[i]));
  if (auto err = exe->call(function, args, outs)) {
    reportError(onError, userData, std::move(err));
    return mlirLogicalResultFailure();
  }
  return mlirLogicalResultSuccess();
}

void *qatExecutableGetPackedFunction(QatExecutable executable,
                                     intptr_t function) {
  return reinterpret_cast<void *>(
      unwrap(executable)->getPackedFunction(function));
}

//===----------------------------------------------------------------------===//
// Ahead-of-time compilation
//===----------------------------------------------------------------------===//

MlirLogicalResult qatCompileToObject(MlirModule module, MlirStringRef entry,
                                     MlirStringRef objectPath,
                                     MlirStringRef headerPath,
                                     QatCompileOptions options,
                                     MlirStringCallback onError,
                                     void *userData) {
  CompileOptions defaults;
  const CompileOptions &opts = options.ptr ? *unwrap(options) : defaults;
  AOTOptions aot;
  aot.optLevel = opts.optLevel;
  aot.cpu = opts.cpu;
  auto lowering = getLowering(opts, /*dispatch=*/true);
  if (!lowering) {
    reportError(onError, userData, lowering.takeError());
    return mlirLogicalResultFailure();
  }
  aot.lowering = *lowering;
  OwningOpRef<ModuleOp> clone = unwrap(module).clone();
  auto sig = compileToObject(*clone, unwrap(entry), unwrap(objectPath), aot);
  if (!sig) {
    reportError(onError, userData, sig.takeError());
    return mlirLogicalResultFailure();
  }
  if (headerPath.length) {
    std::error_code ec;
    llvm::raw_fd_ostream os(unwrap(headerPath), ec, llvm::sys::fs::OF_Text);
    if (ec) {
      reportError(onError, userData,
                  llvm::createStringError(ec, "cannot write '" +
                                                  unwrap(headerPath) +
                                                  "': " + ec.message()));
      return mlirLogicalResultFailure();
    }
    writeCHeader(os, unwrap(entry), *sig);
  }
  return mlirLogicalResultSuccess();
}
