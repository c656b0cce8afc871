//===- Native.h - what the files of the native extension share -*- C++ -*-===//
//
// The in-process backend of the Python package (_qat_mlir_native): parses,
// transforms and prints modules, JIT-compiles functions once and calls them
// on NumPy arrays and torch tensors without copies. It is written against
// the C API only (mlir-c/ and qat-c/), which keeps LLVM's C++ (no
// exceptions) out of this pybind11 module and proves the C API complete.
//
//   Context.cpp       the process's MLIR context, diagnostics as text
//   Module.cpp        Module: parse, run pipelines, print, inspect
//   Executable.cpp    buffers (NumPy/torch, zero-copy) and Executable: the
//                     compiled functions, called through pybind11
//   FastCall.cpp      the hot path: Function and BoundCall, CPython types
//                     whose vectorcall checks buffers on the array structs
//   Bytecode.cpp      modules as MLIR bytecode; the exporters' weights
//                     attached from NumPy arrays
//   NativeModule.cpp  the NPU run, AOT compilation and the module's
//                     bindings
//
// qat_mlir/_native.py loads it and turns its NativeError into the package's
// CompileError; docs/Python.md documents the Python API built on it.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_BINDINGS_PYTHON_NATIVE_H
#define QAT_BINDINGS_PYTHON_NATIVE_H

#include "qat-c/Dialects.h"
#include "qat-c/Runtime.h"

#include "mlir-c/Diagnostics.h"
#include "mlir-c/IR.h"
#include "mlir-c/Support.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace qat_native {

/// An error of the compiler (parse, pass pipeline, lowering): the message
/// and the diagnostics MLIR emitted.
struct NativeError {
  std::string message, diagnostics;
};

/// An MlirStringCallback appending to the std::string `userData`.
inline void appendString(MlirStringRef s, void *userData) {
  static_cast<std::string *>(userData)->append(s.data, s.length);
}
inline std::string str(MlirStringRef s) {
  return std::string(s.data, s.length);
}
inline MlirStringRef toRef(const std::string &s) {
  return {s.data(), s.size()};
}

/// Appends `d` and its notes as "location: severity: message" lines; for a
/// file location in `text` (named `name`), the source line with a caret.
void formatDiagnostic(MlirDiagnostic d, std::string &out,
                      const std::string *text = nullptr,
                      const std::string &name = "");

/// The process's one context. Compiler work (parse, pipelines, lowering,
/// printing) holds `mutex`, so the diagnostics collected belong to it; calls
/// of compiled code do not touch the context.
class Context {
public:
  static Context &get();
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
  Context();
  static MlirLogicalResult handle(MlirDiagnostic d, void *userData);
  std::string diagnostics;
};

/// An MLIR module owned by Python (Module.cpp).
class Module {
public:
  explicit Module(MlirModule module) : module(module) {}
  ~Module();
  Module(const Module &) = delete;

  static std::unique_ptr<Module> parse(const std::string &text,
                                       const std::string &sourceName);
  std::string print(bool debugInfo, bool localScope, bool generic) const;
  /// Runs a textual pipeline ("builtin.module(...)" or the elements of one)
  /// on the module, in place.
  void runPipeline(const std::string &pipeline);
  std::unique_ptr<Module> clone() const;
  /// The func.func operations of the module body: (name, argument types,
  /// result types, is declaration), types as (shape, dtype) with None for
  /// dynamic sizes, or None for unsupported types.
  py::list functions() const;
  /// A string attribute of the module op (e.g. qat.target), or None.
  py::object getAttribute(const std::string &name) const;
  void setAttribute(const std::string &name, const std::string &value);
  /// The quantization of each argument and result of `entry` in an integer
  /// model (see Module.cpp).
  py::tuple ioQuantization(const std::string &entry) const;
  /// qatFunctionExposeNamedValues (qat-c/Debug.h).
  py::list exposeNamedValues(const std::string &entry, const std::string &kind);

  MlirModule module;
};

//===----------------------------------------------------------------------===//
// Buffers and executables (Executable.cpp)
//===----------------------------------------------------------------------===//

/// The NumPy name of an element type ("float32", ...).
const char *dtypeName(QatElementType t);
/// The element type of a NumPy dtype, if the compiled code takes it.
std::optional<QatElementType> elementTypeOf(const py::dtype &dt);
/// torch.Tensor, if torch has been imported (a tensor argument implies it).
PyObject *torchTensorType();

/// One buffer of a call, kept alive until the call returns.
struct Buffer {
  py::array array;
  QatBuffer buffer{};
  std::vector<int64_t> sizes;
};

/// qat_mlir's compile options (qat-c/Runtime.h's QatCompileOptions).
struct CompileOptions {
  int optLevel = 3;
  std::string kernels = "auto", arena = "static", cpu = "host";
  int threads = 1;
  int64_t parallelMinMacs = -1;
  std::function<void(std::string, double)> progress;

  /// The C API's options; the caller destroys them.
  QatCompileOptions make() const;
  static void onProgress(MlirStringRef what, double seconds, void *userData);
};

/// Functions of a module compiled once (qatExecutableCreate).
class Executable {
public:
  Executable(Module &module, const std::vector<std::string> &entries,
             const CompileOptions &options);
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
  /// Wall time of the C API calls of the latest call through `call` (the
  /// general path; a function's `last_time` also covers the fast path).
  mutable double lastCallSeconds = 0;

  /// ((shape, dtype), ...) with None for dynamic sizes.
  static py::tuple describe(const std::vector<Spec> &specs);
  const Function &function(intptr_t index) const;
  /// Buffers of the arguments and of the results (`out`, or new arrays).
  void prepare(const Function &fn, const py::tuple &args, const py::object &out,
               std::vector<Buffer> &argBufs, std::vector<Buffer> &resBufs,
               bool &sawTensor) const;
  /// `repeat` calls of function `index` on the buffers, without the GIL.
  void invoke(intptr_t index, const std::vector<Buffer> &argBufs,
              const std::vector<Buffer> &resBufs, int64_t repeat = 1) const;
  /// Calls function `index`; returns the results (the `out` buffers when
  /// given): one object, or a tuple for several. Results are torch tensors
  /// when an argument was one.
  py::object call(intptr_t index, const py::tuple &args,
                  const py::object &out) const;
  /// Seconds per call of `repeat` calls of the C API on the same buffers,
  /// in one loop without the GIL: the peer of a Python call's time.
  double timeCalls(intptr_t index, const py::tuple &args, const py::object &out,
                   int64_t repeat) const;
  /// `repeat` calls as a C program makes them (a loop of qatExecutableCall,
  /// without the GIL) with a timestamp before and after each: (start times,
  /// seconds of each call) as float64 arrays, in time.perf_counter's clock.
  py::tuple traceCalls(intptr_t index, const py::tuple &args,
                       const py::object &out, int64_t repeat) const;
};

/// Adds the Function and BoundCall types, enable_vectorcall and bind to `m`
/// (FastCall.cpp).
void registerFastCall(py::module_ &m);

/// Adds bytecode_of, parse_bytes and attach_weights to `m` (Bytecode.cpp).
void registerBytecode(py::module_ &m);

} // namespace qat_native

#endif // QAT_BINDINGS_PYTHON_NATIVE_H
