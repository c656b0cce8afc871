//===- NativeModule.cpp - qat_mlir's native extension (pybind11) ----------===//
//
// The in-process backend of the Python package: parses, transforms and
// prints modules, JIT-compiles functions once and calls them on NumPy
// arrays and torch tensors without copies. It is written against the C API
// only (mlir-c/ and qat-c/), which keeps LLVM's C++ (no exceptions) out of
// this pybind11 module and proves the C API complete.
//
// qat_mlir/_native.py loads it and turns its NativeError into the package's
// CompileError; docs/Python.md documents the Python API built on it.
//
//===----------------------------------------------------------------------===//

#include "qat-c/Dialects.h"
#include "qat-c/Runtime.h"

#include "mlir-c/BuiltinAttributes.h"
#include "mlir-c/BuiltinTypes.h"
#include "mlir-c/Diagnostics.h"
#include "mlir-c/IR.h"
#include "mlir-c/Pass.h"
#include "mlir-c/Support.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

/// An error of the compiler (parse, pass pipeline, lowering): the message
/// and the diagnostics MLIR emitted.
struct NativeError {
  std::string message, diagnostics;
};

void appendString(MlirStringRef s, void *userData) {
  static_cast<std::string *>(userData)->append(s.data, s.length);
}

std::string str(MlirStringRef s) { return std::string(s.data, s.length); }
MlirStringRef toRef(const std::string &s) { return {s.data(), s.size()}; }

/// "model.mlir":3:5 for loc("model.mlir":3:5); NameLoc and CallSiteLoc keep
/// their MLIR spelling without the loc(...) around it.
std::string locationString(MlirLocation loc) {
  std::string s;
  mlirLocationPrint(loc, appendString, &s);
  if (s.rfind("loc(", 0) == 0 && s.size() > 5 && s.back() == ')')
    s = s.substr(4, s.size() - 5);
  return s;
}

/// The line of `text` a file location points at, cut to 160 columns around
/// the column, with a caret under it (as the tools print parse errors).
std::string sourceExcerpt(MlirLocation loc, const std::string *text,
                          const std::string &name) {
  if (!text || !mlirLocationIsAFileLineColRange(loc) ||
      str(mlirIdentifierStr(mlirLocationFileLineColRangeGetFilename(loc))) !=
          name)
    return "";
  int line = mlirLocationFileLineColRangeGetStartLine(loc);
  int col = mlirLocationFileLineColRangeGetStartColumn(loc);
  size_t begin = 0;
  for (int l = 1; l < line && begin != std::string::npos; ++l) {
    begin = text->find('\n', begin);
    if (begin != std::string::npos)
      ++begin;
  }
  if (begin == std::string::npos || col < 1)
    return "";
  size_t end = text->find('\n', begin);
  std::string lineText = text->substr(
      begin, end == std::string::npos ? std::string::npos : end - begin);
  size_t caret = col - 1, from = caret > 80 ? caret - 80 : 0;
  lineText = lineText.substr(from, 160);
  return lineText + "\n" + std::string(caret - from, ' ') + "^\n";
}

void formatDiagnostic(MlirDiagnostic d, std::string &out,
                      const std::string *text = nullptr,
                      const std::string &name = "") {
  const char *severity = "error";
  switch (mlirDiagnosticGetSeverity(d)) {
  case MlirDiagnosticWarning:
    severity = "warning";
    break;
  case MlirDiagnosticNote:
    severity = "note";
    break;
  case MlirDiagnosticRemark:
    severity = "remark";
    break;
  default:
    break;
  }
  MlirLocation loc = mlirDiagnosticGetLocation(d);
  out += locationString(loc) + ": " + severity + ": ";
  mlirDiagnosticPrint(d, appendString, &out);
  out += "\n" + sourceExcerpt(loc, text, name);
  for (intptr_t i = 0, e = mlirDiagnosticGetNumNotes(d); i < e; ++i)
    formatDiagnostic(mlirDiagnosticGetNote(d, i), out, text, name);
}

/// The process's one context. Compiler work (parse, pipelines, lowering,
/// printing) holds `mutex`, so the diagnostics collected belong to it; calls
/// of compiled code do not touch the context.
class Context {
public:
  static Context &get() {
    static Context *context = new Context(); // lives as long as the process
    return *context;
  }
  MlirContext context;
  std::recursive_mutex mutex;

  /// Runs `fn` (with the GIL released) with the diagnostics collected;
  /// throws NativeError with them when `fn` returns false (`what`, then the
  /// reason `fn` gives, if any). Warnings and remarks of a successful run
  /// go to sys.stderr.
  template <typename Fn> void run(const std::string &what, Fn fn) {
    std::string diags, reason;
    bool ok;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(mutex);
      std::string saved;
      std::swap(saved, diagnostics);
      ok = fn(reason);
      std::swap(diags, diagnostics);
      diagnostics = std::move(saved);
    }
    if (!ok)
      throw NativeError{reason.empty() ? what : what + ": " + reason, diags};
    if (!diags.empty() && remarks)
      py::module_::import("sys").attr("stderr").attr("write")(diags);
  }
  /// Whether warnings and remarks of successful runs are shown.
  bool remarks = true;
  /// The text being parsed and its name, for excerpts in diagnostics.
  const std::string *parsing = nullptr;
  std::string parsingName;

private:
  Context() {
    qatRegisterAllPasses();
    context = qatContextCreate();
    qatContextSetPrintOpOnDiagnostic(context, false);
    mlirContextAttachDiagnosticHandler(context, &Context::handle, this,
                                       nullptr);
  }
  static MlirLogicalResult handle(MlirDiagnostic d, void *userData) {
    auto *self = static_cast<Context *>(userData);
    formatDiagnostic(d, self->diagnostics, self->parsing, self->parsingName);
    return mlirLogicalResultSuccess();
  }
  std::string diagnostics;
};

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

/// A ranked tensor type with a supported element type: its shape (dynamic
/// sizes are qatDynamicSize()) and NumPy dtype name; dtype is null for
/// other types.
struct TypeInfo {
  std::vector<int64_t> shape;
  const char *dtype = nullptr;
};

TypeInfo describeType(MlirType type) {
  TypeInfo info;
  if (!mlirTypeIsARankedTensor(type))
    return info;
  MlirType et = mlirShapedTypeGetElementType(type);
  if (mlirTypeIsAF32(et))
    info.dtype = "float32";
  else if (mlirTypeIsAF64(et))
    info.dtype = "float64";
  else if (mlirTypeIsAInteger(et)) {
    unsigned w = mlirIntegerTypeGetWidth(et);
    if (mlirIntegerTypeIsUnsigned(et))
      info.dtype = w == 8 ? "uint8" : nullptr;
    else
      info.dtype = w == 8    ? "int8"
                   : w == 16 ? "int16"
                   : w == 32 ? "int32"
                   : w == 64 ? "int64"
                             : nullptr;
  }
  for (intptr_t d = 0, r = mlirShapedTypeGetRank(type); d < r; ++d)
    info.shape.push_back(mlirShapedTypeGetDimSize(type, d));
  return info;
}

/// (shape, dtype) with None for dynamic sizes, or None.
py::object toPython(const TypeInfo &info) {
  if (!info.dtype)
    return py::none();
  py::list shape;
  for (int64_t s : info.shape) {
    if (mlirShapedTypeIsDynamicSize(s))
      shape.append(py::none());
    else
      shape.append(s);
  }
  return py::make_tuple(py::tuple(shape), info.dtype);
}

class Module {
public:
  explicit Module(MlirModule module) : module(module) {}
  // Lock order: the context's mutex is taken without the GIL (the progress
  // callback takes the GIL while compilation holds the mutex).
  ~Module() {
    if (!mlirModuleIsNull(module)) {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      mlirModuleDestroy(module);
    }
  }
  Module(const Module &) = delete;

  static std::unique_ptr<Module> parse(const std::string &text,
                                       const std::string &sourceName) {
    Context &ctx = Context::get();
    MlirModule m{nullptr};
    ctx.run("cannot parse the MLIR text", [&](std::string &) {
      ctx.parsing = &text;
      ctx.parsingName = sourceName;
      m = qatModuleCreateParse(ctx.context, toRef(text), toRef(sourceName));
      ctx.parsing = nullptr;
      return !mlirModuleIsNull(m);
    });
    return std::make_unique<Module>(m);
  }

  std::string print(bool debugInfo, bool localScope, bool generic) const {
    std::string out;
    py::gil_scoped_release release;
    std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
    MlirOpPrintingFlags flags = mlirOpPrintingFlagsCreate();
    if (debugInfo)
      mlirOpPrintingFlagsEnableDebugInfo(flags, true, false);
    if (localScope)
      mlirOpPrintingFlagsUseLocalScope(flags);
    if (generic)
      mlirOpPrintingFlagsPrintGenericOpForm(flags);
    mlirOperationPrintWithFlags(mlirModuleGetOperation(module), flags,
                                appendString, &out);
    mlirOpPrintingFlagsDestroy(flags);
    return out;
  }

  /// Runs a textual pipeline ("builtin.module(...)" or the elements of one)
  /// on the module, in place.
  void runPipeline(const std::string &pipeline) {
    Context &ctx = Context::get();
    std::string text = pipeline;
    if (text.rfind("builtin.module(", 0) != 0)
      text = "builtin.module(" + text + ")";
    ctx.run(pipeline + " failed", [&](std::string &reason) {
      MlirPassManager pm = mlirPassManagerCreate(ctx.context);
      std::string parseError;
      MlirLogicalResult parsed =
          mlirParsePassPipeline(mlirPassManagerGetAsOpPassManager(pm),
                                toRef(text), appendString, &parseError);
      bool ok = mlirLogicalResultIsSuccess(parsed);
      if (!ok) {
        reason = "invalid pass pipeline: " + parseError;
      } else {
        ok = mlirLogicalResultIsSuccess(
            mlirPassManagerRunOnOp(pm, mlirModuleGetOperation(module)));
      }
      mlirPassManagerDestroy(pm);
      return ok;
    });
  }

  std::unique_ptr<Module> clone() const {
    MlirOperation op;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      op = mlirOperationClone(mlirModuleGetOperation(module));
    }
    return std::make_unique<Module>(mlirModuleFromOperation(op));
  }

  /// The func.func operations of the module body: (name, argument types,
  /// result types, is declaration), types as toPython gives them.
  py::list functions() const {
    struct Func {
      std::string name;
      std::vector<TypeInfo> args, results;
      bool declaration;
    };
    std::vector<Func> funcs;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      MlirBlock body = mlirModuleGetBody(module);
      for (MlirOperation op = mlirBlockGetFirstOperation(body);
           !mlirOperationIsNull(op); op = mlirOperationGetNextInBlock(op)) {
        if (str(mlirIdentifierStr(mlirOperationGetName(op))) != "func.func")
          continue;
        MlirAttribute sym = mlirOperationGetAttributeByName(
            op, mlirStringRefCreateFromCString("sym_name"));
        MlirAttribute fnType = mlirOperationGetAttributeByName(
            op, mlirStringRefCreateFromCString("function_type"));
        if (mlirAttributeIsNull(sym) || mlirAttributeIsNull(fnType))
          continue;
        MlirType type = mlirTypeAttrGetValue(fnType);
        Func f;
        f.name = str(mlirStringAttrGetValue(sym));
        for (intptr_t i = 0, e = mlirFunctionTypeGetNumInputs(type); i < e; ++i)
          f.args.push_back(describeType(mlirFunctionTypeGetInput(type, i)));
        for (intptr_t i = 0, e = mlirFunctionTypeGetNumResults(type); i < e;
             ++i)
          f.results.push_back(describeType(mlirFunctionTypeGetResult(type, i)));
        MlirRegion body = mlirOperationGetRegion(op, 0);
        f.declaration = mlirBlockIsNull(mlirRegionGetFirstBlock(body));
        funcs.push_back(std::move(f));
      }
    }
    py::list out;
    for (const Func &f : funcs) {
      py::list args, results;
      for (const TypeInfo &t : f.args)
        args.append(toPython(t));
      for (const TypeInfo &t : f.results)
        results.append(toPython(t));
      out.append(py::make_tuple(f.name, args, results, f.declaration));
    }
    return out;
  }

  /// A string attribute of the module op (e.g. qat.target), or None.
  py::object getAttribute(const std::string &name) const {
    std::optional<std::string> value;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      MlirAttribute a = mlirOperationGetAttributeByName(
          mlirModuleGetOperation(module), toRef(name));
      if (!mlirAttributeIsNull(a) && mlirAttributeIsAString(a))
        value = str(mlirStringAttrGetValue(a));
    }
    if (!value)
      return py::none();
    return py::str(*value);
  }

  void setAttribute(const std::string &name, const std::string &value) {
    py::gil_scoped_release release;
    std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
    MlirAttribute a = mlirStringAttrGet(Context::get().context, toRef(value));
    mlirOperationSetAttributeByName(mlirModuleGetOperation(module), toRef(name),
                                    a);
  }

  MlirModule module;
};

//===----------------------------------------------------------------------===//
// Buffers: NumPy arrays and torch tensors, zero-copy
//===----------------------------------------------------------------------===//

const char *dtypeName(QatElementType t) {
  static const char *names[] = {"float32", "float64", "int8", "uint8",
                                "int16",   "int32",   "int64"};
  return names[int(t)];
}

std::optional<QatElementType> elementTypeOf(const py::dtype &dt) {
  char kind = dt.kind();
  ssize_t size = dt.itemsize();
  char order = dt.byteorder();
  if (order == '>')
    return std::nullopt;
  if (kind == 'f')
    return size == 4   ? std::optional(QatElementTypeF32)
           : size == 8 ? std::optional(QatElementTypeF64)
                       : std::nullopt;
  if (kind == 'i')
    return size == 1   ? std::optional(QatElementTypeI8)
           : size == 2 ? std::optional(QatElementTypeI16)
           : size == 4 ? std::optional(QatElementTypeI32)
           : size == 8 ? std::optional(QatElementTypeI64)
                       : std::nullopt;
  if (kind == 'u' && size == 1)
    return QatElementTypeU8;
  return std::nullopt;
}

/// torch.Tensor, if torch has been imported (a tensor argument implies it).
PyObject *torchTensorType() {
  static PyObject *type = nullptr;
  if (!type) {
    PyObject *modules = PySys_GetObject("modules");
    PyObject *torch =
        modules ? PyDict_GetItemString(modules, "torch") : nullptr;
    if (torch)
      type = PyObject_GetAttrString(torch, "Tensor"); // kept for the process
    if (!type)
      PyErr_Clear();
  }
  return type;
}

bool isTorchTensor(const py::handle &obj) {
  PyObject *type = torchTensorType();
  return type && PyObject_IsInstance(obj.ptr(), type) == 1;
}

/// One buffer of a call, kept alive until the call returns.
struct Buffer {
  py::array array;
  QatBuffer buffer{};
  std::vector<int64_t> sizes;
};

std::string where(bool isResult, size_t index) {
  return (isResult ? "out[" : "argument #") + std::to_string(index) +
         (isResult ? "]" : "");
}

/// A NumPy view of a torch tensor, sharing its memory (detached when it
/// requires grad). Raises ValueError for tensors NumPy cannot view (not on
/// the CPU, bfloat16/float16/complex, ...).
py::array tensorAsArray(const py::handle &obj, bool isResult, size_t index) {
  try {
    py::object t = py::reinterpret_borrow<py::object>(obj);
    if (py::cast<bool>(t.attr("requires_grad")))
      t = t.attr("detach")();
    return t.attr("numpy")();
  } catch (py::error_already_set &e) {
    std::string msg = e.what();
    throw py::value_error(where(isResult, index) +
                          ": this torch tensor cannot be used in place (" +
                          msg.substr(0, msg.find('\n')) +
                          "); compiled code takes CPU tensors of float32, "
                          "float64, int8, uint8, int16, int32 or int64");
  }
}

/// Checks `obj` against the signature entry and fills `b`. Inputs of
/// another float type for a float32 argument are converted (a copy);
/// everything else must match exactly: dtype, shape (dynamic sizes are
/// free), C-contiguous, aligned, and writable for outputs.
void makeBuffer(const py::handle &obj, QatElementType want, intptr_t rank,
                const int64_t *sizes, bool isResult, size_t index,
                bool &sawTensor, Buffer &b) {
  if (py::isinstance<py::array>(obj)) {
    b.array = py::reinterpret_borrow<py::array>(obj);
  } else if (isTorchTensor(obj)) {
    sawTensor = true;
    b.array = tensorAsArray(obj, isResult, index);
  } else if (isResult) {
    throw py::type_error(where(isResult, index) +
                         ": expected a NumPy array or a torch tensor, got " +
                         std::string(Py_TYPE(obj.ptr())->tp_name));
  } else {
    b.array = py::array::ensure(obj);
    if (!b.array)
      throw py::type_error(where(isResult, index) +
                           ": cannot make an array of " +
                           std::string(Py_TYPE(obj.ptr())->tp_name));
  }
  std::optional<QatElementType> got = elementTypeOf(b.array.dtype());
  if (got != want) {
    if (!isResult && want == QatElementTypeF32 && b.array.dtype().kind() == 'f')
      b.array =
          py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(
              b.array);
    else
      throw py::value_error(
          where(isResult, index) + ": " +
          std::string(py::str(b.array.dtype())) + " data for a " +
          dtypeName(want) + " " + (isResult ? "result" : "argument") +
          (isResult ? " (out= buffers need the exact dtype)" : ""));
  }
  int flags = b.array.flags();
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_))
    throw py::value_error(
        where(isResult, index) +
        ": not C-contiguous; compiled code reads and writes dense row-major "
        "buffers (pass np.ascontiguousarray(x) or x.contiguous())");
  if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(where(isResult, index) +
                          ": data not aligned to its element size");
  if (isResult && !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
    throw py::value_error(where(isResult, index) + ": read-only buffer");
  intptr_t ndim = b.array.ndim();
  bool ok = ndim == rank;
  for (intptr_t d = 0; ok && d < rank; ++d)
    ok = mlirShapedTypeIsDynamicSize(sizes[d]) || b.array.shape(d) == sizes[d];
  if (!ok) {
    std::string have = "(", want = "(";
    for (intptr_t d = 0; d < ndim; ++d)
      have += (d ? ", " : "") + std::to_string(b.array.shape(d));
    for (intptr_t d = 0; d < rank; ++d)
      want += (d ? ", " : "") + (mlirShapedTypeIsDynamicSize(sizes[d])
                                     ? std::string("?")
                                     : std::to_string(sizes[d]));
    throw py::value_error(where(isResult, index) + ": shape " + have +
                          (ndim == 1 ? ",)" : ")") + ", expected " + want +
                          (rank == 1 ? ",)" : ")"));
  }
  b.sizes.assign(b.array.shape(), b.array.shape() + ndim);
  b.buffer.data = b.array.mutable_data();
  b.buffer.elementType = want;
  b.buffer.rank = rank;
  b.buffer.sizes = b.sizes.data();
  b.buffer.strides = nullptr; // checked contiguous above
}

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

struct CompileOptions {
  int optLevel = 3;
  std::string kernels = "auto", arena = "static", cpu = "host";
  int threads = 1;
  int64_t parallelMinMacs = -1;
  std::function<void(std::string, double)> progress;

  QatCompileOptions make() const {
    QatCompileOptions o = qatCompileOptionsCreate();
    qatCompileOptionsSetOptLevel(o, optLevel);
    qatCompileOptionsSetKernels(o, toRef(kernels));
    qatCompileOptionsSetArena(o, toRef(arena));
    qatCompileOptionsSetCPU(o, toRef(cpu));
    qatCompileOptionsSetNumThreads(o, threads);
    if (parallelMinMacs >= 0)
      qatCompileOptionsSetParallelMinMacs(o, parallelMinMacs);
    if (progress)
      qatCompileOptionsSetProgressCallback(o, &CompileOptions::onProgress,
                                           const_cast<CompileOptions *>(this));
    return o;
  }
  static void onProgress(MlirStringRef what, double seconds, void *userData) {
    py::gil_scoped_acquire acquire;
    try {
      static_cast<CompileOptions *>(userData)->progress(str(what), seconds);
    } catch (py::error_already_set &e) {
      e.discard_as_unraisable("qat_mlir compile progress callback");
    }
  }
};

class Executable {
public:
  Executable(Module &module, const std::vector<std::string> &entries,
             const CompileOptions &options) {
    Context &ctx = Context::get();
    std::vector<MlirStringRef> refs;
    for (const std::string &e : entries)
      refs.push_back(toRef(e));
    QatCompileOptions opts = options.make();
    try {
      ctx.run("compilation failed", [&](std::string &reason) {
        exe = qatExecutableCreate(module.module, refs.size(), refs.data(), opts,
                                  appendString, &reason);
        return !qatExecutableIsNull(exe);
      });
    } catch (...) {
      qatCompileOptionsDestroy(opts);
      throw;
    }
    qatCompileOptionsDestroy(opts);
    for (intptr_t f = 0, n = qatExecutableGetNumFunctions(exe); f < n; ++f) {
      Function fn;
      fn.name = str(qatExecutableGetFunctionName(exe, f));
      for (intptr_t i = 0, e = qatExecutableGetNumArguments(exe, f); i < e; ++i)
        fn.args.push_back({qatExecutableGetArgumentElementType(exe, f, i),
                           qatExecutableGetArgumentRank(exe, f, i),
                           qatExecutableGetArgumentSizes(exe, f, i)});
      for (intptr_t i = 0, e = qatExecutableGetNumResults(exe, f); i < e; ++i)
        fn.results.push_back({qatExecutableGetResultElementType(exe, f, i),
                              qatExecutableGetResultRank(exe, f, i),
                              qatExecutableGetResultSizes(exe, f, i)});
      functions.push_back(std::move(fn));
    }
  }
  ~Executable() { qatExecutableDestroy(exe); }
  Executable(const Executable &) = delete;

  struct Spec {
    QatElementType type;
    intptr_t rank;
    const int64_t *sizes;
  };
  struct Function {
    std::string name;
    std::vector<Spec> args, results;
  };
  QatExecutable exe{nullptr};
  std::vector<Function> functions;

  static py::tuple describe(const std::vector<Spec> &specs) {
    py::list out;
    for (const Spec &s : specs) {
      py::list shape;
      for (intptr_t d = 0; d < s.rank; ++d) {
        if (mlirShapedTypeIsDynamicSize(s.sizes[d]))
          shape.append(py::none());
        else
          shape.append(s.sizes[d]);
      }
      out.append(py::make_tuple(py::tuple(shape), dtypeName(s.type)));
    }
    return py::tuple(out);
  }

  const Function &function(intptr_t index) const {
    if (index < 0 || size_t(index) >= functions.size())
      throw py::index_error("no function #" + std::to_string(index));
    return functions[index];
  }

  /// Buffers of the arguments and of the results (`out`, or new arrays).
  void prepare(const Function &fn, const py::tuple &args, const py::object &out,
               std::vector<Buffer> &argBufs, std::vector<Buffer> &resBufs,
               bool &sawTensor) const {
    if (args.size() != fn.args.size())
      throw py::value_error("@" + fn.name + " takes " +
                            std::to_string(fn.args.size()) +
                            " argument(s), got " + std::to_string(args.size()));
    argBufs.resize(fn.args.size());
    for (size_t i = 0; i < fn.args.size(); ++i)
      makeBuffer(args[i], fn.args[i].type, fn.args[i].rank, fn.args[i].sizes,
                 false, i, sawTensor, argBufs[i]);
    resBufs.resize(fn.results.size());
    if (!out.is_none()) {
      py::sequence outs =
          py::isinstance<py::tuple>(out) || py::isinstance<py::list>(out)
              ? py::reinterpret_borrow<py::sequence>(out)
              : py::sequence(py::make_tuple(out));
      if (outs.size() != fn.results.size())
        throw py::value_error("@" + fn.name + " has " +
                              std::to_string(fn.results.size()) +
                              " result(s), got " + std::to_string(outs.size()) +
                              " out= buffer(s)");
      bool ignored = false;
      for (size_t i = 0; i < fn.results.size(); ++i)
        makeBuffer(outs[i], fn.results[i].type, fn.results[i].rank,
                   fn.results[i].sizes, true, i, ignored, resBufs[i]);
      return;
    }
    for (size_t i = 0; i < fn.results.size(); ++i) {
      const Spec &s = fn.results[i];
      std::vector<ssize_t> shape(s.sizes, s.sizes + s.rank);
      Buffer &b = resBufs[i];
      b.array = py::array(py::dtype(dtypeName(s.type)), shape);
      b.sizes.assign(s.sizes, s.sizes + s.rank);
      b.buffer.data = b.array.mutable_data();
      b.buffer.elementType = s.type;
      b.buffer.rank = s.rank;
      b.buffer.sizes = b.sizes.data();
      b.buffer.strides = nullptr;
    }
  }

  void invoke(intptr_t index, const std::vector<Buffer> &argBufs,
              const std::vector<Buffer> &resBufs, int64_t repeat = 1) const {
    std::vector<QatBuffer> a, r;
    for (const Buffer &b : argBufs)
      a.push_back(b.buffer);
    for (const Buffer &b : resBufs)
      r.push_back(b.buffer);
    std::string error;
    bool ok = true;
    {
      py::gil_scoped_release release;
      for (int64_t i = 0; ok && i < repeat; ++i)
        ok = mlirLogicalResultIsSuccess(
            qatExecutableCall(exe, index, a.size(), a.data(), r.size(),
                              r.data(), appendString, &error));
    }
    if (!ok)
      throw py::value_error(error);
  }

  /// Calls function `index`; returns the results (the `out` buffers when
  /// given): one object, or a tuple for several. Results are torch tensors
  /// when an argument was one.
  py::object call(intptr_t index, const py::tuple &args,
                  const py::object &out) const {
    const Function &fn = function(index);
    std::vector<Buffer> argBufs, resBufs;
    bool sawTensor = false;
    prepare(fn, args, out, argBufs, resBufs, sawTensor);
    invoke(index, argBufs, resBufs);
    if (!out.is_none())
      return out;
    py::object fromNumpy;
    if (sawTensor)
      fromNumpy = py::module_::import("torch").attr("from_numpy");
    auto wrap = [&](Buffer &b) -> py::object {
      return sawTensor ? fromNumpy(b.array) : py::object(b.array);
    };
    if (resBufs.size() == 1)
      return wrap(resBufs[0]);
    py::tuple t(resBufs.size());
    for (size_t i = 0; i < resBufs.size(); ++i)
      t[i] = wrap(resBufs[i]);
    return t;
  }

  /// Seconds per call of `repeat` calls of the C API on the same buffers,
  /// in one loop without the GIL: the peer of a Python call's time.
  double timeCalls(intptr_t index, const py::tuple &args, const py::object &out,
                   int64_t repeat) const {
    const Function &fn = function(index);
    std::vector<Buffer> argBufs, resBufs;
    bool sawTensor = false;
    prepare(fn, args, out, argBufs, resBufs, sawTensor);
    auto start = std::chrono::steady_clock::now();
    invoke(index, argBufs, resBufs, repeat);
    auto end = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(end - start).count() /
           std::max<int64_t>(1, repeat);
  }
};

void compileToObject(Module &module, const std::string &entry,
                     const std::string &objectPath,
                     const std::string &headerPath,
                     const CompileOptions &options) {
  Context &ctx = Context::get();
  QatCompileOptions opts = options.make();
  try {
    ctx.run("ahead-of-time compilation failed", [&](std::string &reason) {
      return mlirLogicalResultIsSuccess(
          qatCompileToObject(module.module, toRef(entry), toRef(objectPath),
                             toRef(headerPath), opts, appendString, &reason));
    });
  } catch (...) {
    qatCompileOptionsDestroy(opts);
    throw;
  }
  qatCompileOptionsDestroy(opts);
}

} // namespace

PYBIND11_MODULE(_qat_mlir_native, m) {
  m.doc() = "qat_mlir's in-process backend (C API of qat-mlir); use the "
            "qat_mlir package, not this module";

  static py::exception<NativeError> nativeError(m, "NativeError");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const NativeError &e) {
      py::tuple args = py::make_tuple(e.message, e.diagnostics);
      PyErr_SetObject(nativeError.ptr(), args.ptr());
    }
  });

  m.def(
      "set_print_remarks", [](bool on) { Context::get().remarks = on; },
      "Whether warnings and remarks of successful compiler runs go to "
      "stderr (default on).");

  py::class_<Module>(m, "Module")
      .def_static("parse", &Module::parse, py::arg("text"),
                  py::arg("source_name") = "model.mlir")
      .def("to_text", &Module::print, py::arg("debug_info") = false,
           py::arg("local_scope") = false, py::arg("generic") = false)
      .def("run_pipeline", &Module::runPipeline, py::arg("pipeline"))
      .def("clone", &Module::clone)
      .def("functions", &Module::functions)
      .def("get_attribute", &Module::getAttribute)
      .def("set_attribute", &Module::setAttribute);

  py::class_<CompileOptions>(m, "CompileOptions")
      .def(py::init<>())
      .def_readwrite("opt_level", &CompileOptions::optLevel)
      .def_readwrite("kernels", &CompileOptions::kernels)
      .def_readwrite("arena", &CompileOptions::arena)
      .def_readwrite("cpu", &CompileOptions::cpu)
      .def_readwrite("threads", &CompileOptions::threads)
      .def_readwrite("parallel_min_macs", &CompileOptions::parallelMinMacs)
      .def_readwrite("progress", &CompileOptions::progress);

  py::class_<Executable>(m, "Executable")
      .def(py::init<Module &, const std::vector<std::string> &,
                    const CompileOptions &>(),
           py::arg("module"), py::arg("entries"), py::arg("options"))
      .def_property_readonly("names",
                             [](const Executable &e) {
                               py::list names;
                               for (const auto &f : e.functions)
                                 names.append(f.name);
                               return names;
                             })
      .def_property_readonly(
          "uses_openmp",
          [](const Executable &e) { return qatExecutableUsesOpenMP(e.exe); })
      .def("argument_types",
           [](const Executable &e, intptr_t i) {
             return Executable::describe(e.function(i).args);
           })
      .def("result_types",
           [](const Executable &e, intptr_t i) {
             return Executable::describe(e.function(i).results);
           })
      .def("call", &Executable::call, py::arg("index"), py::arg("args"),
           py::arg("out") = py::none())
      .def("time_calls", &Executable::timeCalls, py::arg("index"),
           py::arg("args"), py::arg("out"), py::arg("repeat"));

  m.def("compile_to_object", &compileToObject, py::arg("module"),
        py::arg("entry"), py::arg("object_path"), py::arg("header_path"),
        py::arg("options"));
}
