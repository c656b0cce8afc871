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

#include "qat-c/Debug.h"
#include "qat-c/Dialects.h"
#include "qat-c/NPU.h"
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

#include <structmember.h>

#include <chrono>
#include <cmath>
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

  /// The quantization of each argument and result of `entry` in an integer
  /// model: for argument i, the qat.quantize its value reaches through
  /// layout ops (transpose, reshape); for result i, the qat.dequantize it
  /// comes from. Each a dict {scale, zero_point, quant_min, quant_max,
  /// through} or None (per-axis or not quantized); quant_min/max are None
  /// for a dequantize (it has no range).
  py::tuple ioQuantization(const std::string &entry) const {
    struct Q {
      bool found = false, range = false;
      double scale = 0;
      int64_t zeroPoint = 0, qmin = 0, qmax = 0;
      std::vector<std::string> through;
    };
    std::vector<Q> ins, outs;
    bool haveEntry = false;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      auto name = [](MlirOperation op) {
        return str(mlirIdentifierStr(mlirOperationGetName(op)));
      };
      auto constant = [&](MlirValue v, bool isFloat, double &f,
                          int64_t &i) -> bool {
        if (!mlirValueIsAOpResult(v))
          return false;
        MlirOperation def = mlirOpResultGetOwner(v);
        std::string n = name(def);
        MlirAttribute a = mlirOperationGetAttributeByName(
            def, mlirStringRefCreateFromCString(n == "tosa.const" ? "values"
                                                                  : "value"));
        if (mlirAttributeIsNull(a) || !mlirAttributeIsADenseElements(a) ||
            mlirElementsAttrGetNumElements(a) != 1)
          return false;
        if (isFloat)
          f = mlirDenseElementsAttrGetFloatValue(a, 0);
        else
          i = mlirDenseElementsAttrGetInt32Value(a, 0);
        return true;
      };
      auto read = [&](MlirOperation op, Q &q) {
        double unused = 0;
        int64_t unusedInt = 0;
        MlirAttribute axis = mlirOperationGetAttributeByName(
            op, mlirStringRefCreateFromCString("axis"));
        if (!mlirAttributeIsNull(axis) ||
            !constant(mlirOperationGetOperand(op, 1), true, q.scale,
                      unusedInt) ||
            !constant(mlirOperationGetOperand(op, 2), false, unused,
                      q.zeroPoint))
          return;
        for (auto [attr, field] : {std::pair("quant_min", &q.qmin),
                                   std::pair("quant_max", &q.qmax)}) {
          MlirAttribute a = mlirOperationGetAttributeByName(
              op, mlirStringRefCreateFromCString(attr));
          if (!mlirAttributeIsNull(a)) {
            *field = mlirIntegerAttrGetValueInt(a);
            q.range = true;
          }
        }
        q.found = true;
      };
      auto layout = [&](const std::string &n) {
        return n == "tosa.transpose" || n == "tosa.reshape";
      };
      MlirBlock body = mlirModuleGetBody(module);
      for (MlirOperation op = mlirBlockGetFirstOperation(body);
           !mlirOperationIsNull(op); op = mlirOperationGetNextInBlock(op)) {
        if (name(op) != "func.func")
          continue;
        MlirAttribute sym = mlirOperationGetAttributeByName(
            op, mlirStringRefCreateFromCString("sym_name"));
        if (str(mlirStringAttrGetValue(sym)) != entry)
          continue;
        MlirBlock block =
            mlirRegionGetFirstBlock(mlirOperationGetRegion(op, 0));
        if (mlirBlockIsNull(block))
          break;
        haveEntry = true;
        for (intptr_t i = 0, e = mlirBlockGetNumArguments(block); i < e; ++i) {
          Q q;
          MlirValue v = mlirBlockGetArgument(block, i);
          // Follow single uses through layout ops to a qat.quantize.
          for (int hops = 0; hops < 8; ++hops) {
            MlirOpOperand use = mlirValueGetFirstUse(v);
            if (mlirOpOperandIsNull(use) ||
                !mlirOpOperandIsNull(mlirOpOperandGetNextUse(use)))
              break;
            MlirOperation user = mlirOpOperandGetOwner(use);
            std::string n = name(user);
            if (n == "qat.quantize") {
              read(user, q);
              break;
            }
            if (!layout(n))
              break;
            q.through.push_back(n);
            v = mlirOperationGetResult(user, 0);
          }
          ins.push_back(q);
        }
        MlirOperation ret = mlirBlockGetTerminator(block);
        for (intptr_t i = 0, e = mlirOperationGetNumOperands(ret); i < e; ++i) {
          Q q;
          MlirValue v = mlirOperationGetOperand(ret, i);
          for (int hops = 0; hops < 8 && mlirValueIsAOpResult(v); ++hops) {
            MlirOperation def = mlirOpResultGetOwner(v);
            std::string n = name(def);
            if (n == "qat.dequantize") {
              read(def, q);
              break;
            }
            if (!layout(n))
              break;
            q.through.insert(q.through.begin(), n);
            v = mlirOperationGetOperand(def, 0);
          }
          outs.push_back(q);
        }
        break;
      }
    }
    if (!haveEntry)
      throw py::value_error("no function @" + entry + " with a body");
    auto convert = [](const std::vector<Q> &qs) {
      py::list l;
      for (const Q &q : qs) {
        if (!q.found) {
          l.append(py::none());
          continue;
        }
        py::dict d;
        d["scale"] = q.scale;
        d["zero_point"] = q.zeroPoint;
        d["quant_min"] = q.range ? py::object(py::int_(q.qmin)) : py::none();
        d["quant_max"] = q.range ? py::object(py::int_(q.qmax)) : py::none();
        d["through"] = q.through;
        l.append(d);
      }
      return l;
    };
    return py::make_tuple(convert(ins), convert(outs));
  }

  /// qatFunctionExposeNamedValues: the named values `kind` selects
  /// ("modules" or "quantizers") become extra results of `entry`; returns
  /// one dict per added result {name, scale, zero_point, quant_min,
  /// quant_max} (scale None when not a per-tensor constant).
  py::list exposeNamedValues(const std::string &entry,
                             const std::string &kind) {
    QatExposeKind k;
    if (kind == "modules")
      k = QatExposeModules;
    else if (kind == "quantizers")
      k = QatExposeQuantizers;
    else
      throw py::value_error("kind='" + kind + "': 'modules' or 'quantizers'");
    struct Item {
      std::string name;
      double scale;
      int64_t zeroPoint, qmin, qmax;
    };
    std::vector<Item> items;
    intptr_t n;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
      n = qatFunctionExposeNamedValues(
          module, toRef(entry), k,
          [](MlirStringRef name, double scale, int64_t zp, int64_t qmin,
             int64_t qmax, void *data) {
            static_cast<std::vector<Item> *>(data)->push_back(
                Item{str(name), scale, zp, qmin, qmax});
          },
          &items);
    }
    if (n < 0)
      throw py::value_error("no function @" + entry + " with a body");
    py::list out;
    for (const Item &it : items) {
      py::dict d;
      d["name"] = it.name;
      d["scale"] = std::isnan(it.scale) ? py::object(py::none())
                                        : py::object(py::float_(it.scale));
      d["zero_point"] = it.zeroPoint;
      d["quant_min"] = it.qmin;
      d["quant_max"] = it.qmax;
      out.append(d);
    }
    return out;
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
  /// Wall time of the C API calls of the latest call (any thread): what the
  /// Python call adds is its own time minus this.
  mutable double lastCallSeconds = 0;

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
      auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; ok && i < repeat; ++i)
        ok = mlirLogicalResultIsSuccess(
            qatExecutableCall(exe, index, a.size(), a.data(), r.size(),
                              r.data(), appendString, &error));
      lastCallSeconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count();
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

//===----------------------------------------------------------------------===//
// The hot path: a function object called from Python with as little work as
// possible. After a large model's call the caches are cold, and each Python
// or pybind11 layer between the caller and the C call costs microseconds:
// this type's tp_call checks NumPy arrays (and torch tensors through their
// .numpy() view) directly on the array structs, and leaves anything else
// (split=, unusual inputs, every error message) to the Python method
// `_call_slow`, which goes through Executable::call.
//===----------------------------------------------------------------------===//

/// A function's signature in one block of memory (the call reads it with
/// cold caches): the argument and result counts, then per buffer its
/// element type, rank and sizes.
struct CompactSignature {
  std::vector<int64_t> words;
  const int64_t *spec(size_t i) const {
    const int64_t *p = words.data() + 2;
    for (size_t k = 0; k < i; ++k)
      p += 2 + p[1];
    return p;
  }
};

struct FunctionObject {
  PyObject_HEAD PyObject *owner; // the Python Executable, kept alive
  Executable *exe;
  intptr_t index;
  CompactSignature *signature;
  /// Wall time of the last call of the compiled code, in seconds.
  double lastTime;
  vectorcallfunc vectorcall;
};

PyObject *torchFromNumpy() {
  static PyObject *fn = nullptr;
  if (!fn) {
    PyObject *torch = PyImport_ImportModule("torch");
    if (!torch)
      return nullptr;
    fn = PyObject_GetAttrString(torch, "from_numpy"); // kept for the process
    Py_DECREF(torch);
  }
  return fn;
}

/// Whether `a` is a NumPy array that matches `spec` exactly (dtype, shape,
/// C-contiguous, aligned, writable for results); fills `buffer`.
bool fastBuffer(PyObject *a, const int64_t *compact, bool isResult,
                QatBuffer &buffer) {
  Executable::Spec spec{QatElementType(compact[0]), intptr_t(compact[1]),
                        compact + 2};
  const auto &api = py::detail::npy_api::get();
  if (!api.PyArray_Check_(a))
    return false;
  auto *arr = py::detail::array_proxy(a);
  auto *descr = py::detail::array_descriptor_proxy(arr->descr);
  static const struct {
    char kind;
    int size;
  } want[] = {{'f', 4}, {'f', 8}, {'i', 1}, {'u', 1},
              {'i', 2}, {'i', 4}, {'i', 8}};
  if (descr->kind != want[spec.type].kind ||
      descr->elsize != want[spec.type].size || descr->byteorder == '>')
    return false;
  int need = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
             py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
             (isResult ? py::detail::npy_api::NPY_ARRAY_WRITEABLE_ : 0);
  if ((arr->flags & need) != need || arr->nd != spec.rank)
    return false;
  for (intptr_t d = 0; d < spec.rank; ++d)
    if (arr->dimensions[d] != spec.sizes[d] &&
        !mlirShapedTypeIsDynamicSize(spec.sizes[d]))
      return false;
  static_assert(sizeof(*arr->dimensions) == sizeof(int64_t), "npy_intp");
  buffer = {arr->data, spec.type, spec.rank,
            reinterpret_cast<const int64_t *>(arr->dimensions), nullptr};
  return true;
}

/// The Python method `_call_slow(*args, **kwargs)` of the object.
PyObject *callSlow(PyObject *self, PyObject *const *args, size_t nargs,
                   PyObject *kwnames) {
  static PyObject *name = PyUnicode_InternFromString("_call_slow");
  size_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject *> all(1 + nargs + nkw);
  all[0] = self;
  std::copy(args, args + nargs + nkw, all.begin() + 1);
  return PyObject_VectorcallMethod(
      name, all.data(), (1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
}

/// f(*args, out=None): vectorcall, so that neither a tuple nor a dict is
/// made for the arguments.
PyObject *functionVectorcall(PyObject *self, PyObject *const *args,
                             size_t nargsf, PyObject *kwnames) {
  static PyObject *outName = PyUnicode_InternFromString("out");
  auto *f = reinterpret_cast<FunctionObject *>(self);
  size_t nargs = PyVectorcall_NARGS(nargsf);
  PyObject *out = nullptr;
  if (kwnames && PyTuple_GET_SIZE(kwnames)) {
    PyObject *key = PyTuple_GET_ITEM(kwnames, 0);
    if (PyTuple_GET_SIZE(kwnames) != 1 ||
        (key != outName && PyUnicode_Compare(key, outName) != 0))
      return callSlow(self, args, nargs, kwnames);
    out = args[nargs];
    if (out == Py_None)
      out = nullptr;
  }
  auto slow = [&]() { return callSlow(self, args, nargs, kwnames); };
  // Everything the checks read, fetched at once rather than miss by miss.
  const CompactSignature &sig = *f->signature;
  __builtin_prefetch(sig.words.data());
  for (size_t i = 0; i < nargs && i < 16; ++i)
    __builtin_prefetch(args[i]);
  if (out)
    __builtin_prefetch(out);
  size_t nres = sig.words[1];
  if (nargs != size_t(sig.words[0]) || nargs + nres > 16)
    return slow();
  const int64_t *specs[16];
  for (size_t i = 0; i < nargs + nres; ++i)
    specs[i] = sig.spec(i);
  QatBuffer buffers[16];
  PyObject *keep[16]; // .numpy() views of torch tensors, results
  size_t kept = 0;
  bool tensors = false;
  auto release = [&]() {
    for (size_t i = 0; i < kept; ++i)
      Py_DECREF(keep[i]);
  };
  PyObject *tensorType = torchTensorType();
  // A torch tensor's NumPy view (same memory), or null to take the slow
  // path (requires grad, not on the CPU, bfloat16, ...).
  auto view = [&](PyObject *a) -> PyObject * {
    if (!tensorType || PyObject_IsInstance(a, tensorType) != 1)
      return nullptr;
    static PyObject *numpyName = PyUnicode_InternFromString("numpy");
    PyObject *v = PyObject_CallMethodNoArgs(a, numpyName);
    if (!v)
      PyErr_Clear();
    return v;
  };
  auto fill = [&](PyObject *a, const int64_t *spec, bool isResult,
                  QatBuffer &b) {
    if (fastBuffer(a, spec, isResult, b))
      return true;
    PyObject *v = view(a);
    if (!v)
      return false;
    keep[kept++] = v;
    tensors = true;
    return fastBuffer(v, spec, isResult, b);
  };
  for (size_t i = 0; i < nargs; ++i)
    if (!fill(args[i], specs[i], false, buffers[i])) {
      release();
      return slow();
    }
  if (out) {
    bool seq = PyTuple_Check(out) || PyList_Check(out);
    size_t n = seq ? PySequence_Fast_GET_SIZE(out) : 1;
    bool ok = n == nres;
    for (size_t i = 0; ok && i < nres; ++i)
      ok = fill(seq ? PySequence_Fast_GET_ITEM(out, i) : out, specs[nargs + i],
                true, buffers[nargs + i]);
    if (!ok) {
      release();
      return slow();
    }
  } else {
    const auto &api = py::detail::npy_api::get();
    static const int typeNums[] = {
        py::detail::npy_api::NPY_FLOAT_, py::detail::npy_api::NPY_DOUBLE_,
        py::detail::npy_api::NPY_BYTE_,  py::detail::npy_api::NPY_UBYTE_,
        py::detail::npy_api::NPY_SHORT_, py::detail::npy_api::NPY_INT_,
        py::detail::npy_api::NPY_LONG_};
    for (size_t i = 0; i < nres; ++i) {
      const int64_t *spec = specs[nargs + i];
      PyObject *a = api.PyArray_NewFromDescr_(
          api.PyArray_Type_, api.PyArray_DescrFromType_(typeNums[spec[0]]),
          int(spec[1]), reinterpret_cast<const Py_intptr_t *>(spec + 2),
          nullptr, nullptr, 0, nullptr);
      if (!a) {
        release();
        return nullptr;
      }
      keep[kept++] = a;
      fastBuffer(a, spec, true, buffers[nargs + i]);
    }
  }
  std::string error;
  bool ok;
  double inner;
  Py_BEGIN_ALLOW_THREADS;
  auto t0 = std::chrono::steady_clock::now();
  ok = mlirLogicalResultIsSuccess(
      qatExecutableCall(f->exe->exe, f->index, nargs, buffers, nres,
                        buffers + nargs, appendString, &error));
  inner = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
  Py_END_ALLOW_THREADS;
  f->exe->lastCallSeconds = inner;
  f->lastTime = inner;
  if (!ok) {
    release();
    PyErr_SetString(PyExc_ValueError, error.c_str());
    return nullptr;
  }
  PyObject *result;
  if (out) {
    Py_INCREF(out);
    result = out;
  } else {
    // The new arrays are the last `nres` kept objects.
    PyObject **arrays = keep + kept - nres;
    PyObject *convert = tensors ? torchFromNumpy() : nullptr;
    if (tensors && !convert) {
      release();
      return nullptr;
    }
    result = nres == 1 ? nullptr : PyTuple_New(nres);
    for (size_t i = 0; i < nres; ++i) {
      PyObject *r = arrays[i];
      if (convert) {
        r = PyObject_CallOneArg(convert, arrays[i]);
        if (!r) {
          Py_XDECREF(result);
          release();
          return nullptr;
        }
      } else {
        Py_INCREF(r);
      }
      if (nres == 1)
        result = r;
      else
        PyTuple_SET_ITEM(result, i, r);
    }
  }
  release();
  return result;
}

/// Function(executable, index): the compiled function `index`.
PyObject *functionNew(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
  PyObject *owner;
  Py_ssize_t index;
  if (!PyArg_ParseTuple(args, "On", &owner, &index))
    return nullptr;
  Executable *exe;
  try {
    exe = py::cast<Executable *>(py::handle(owner));
  } catch (py::cast_error &) {
    PyErr_SetString(PyExc_TypeError, "Function(executable, index)");
    return nullptr;
  }
  if (index < 0 || size_t(index) >= exe->functions.size()) {
    PyErr_SetString(PyExc_IndexError, "no such function");
    return nullptr;
  }
  PyObject *self = type->tp_alloc(type, 0);
  if (!self)
    return nullptr;
  auto *f = reinterpret_cast<FunctionObject *>(self);
  Py_INCREF(owner);
  f->owner = owner;
  f->exe = exe;
  f->index = index;
  f->signature = new CompactSignature();
  const Executable::Function &fn = exe->functions[index];
  f->signature->words = {int64_t(fn.args.size()), int64_t(fn.results.size())};
  for (const auto *list : {&fn.args, &fn.results})
    for (const Executable::Spec &spec : *list) {
      f->signature->words.push_back(spec.type);
      f->signature->words.push_back(spec.rank);
      f->signature->words.insert(f->signature->words.end(), spec.sizes,
                                 spec.sizes + spec.rank);
    }
  f->lastTime = 0;
  f->vectorcall = functionVectorcall;
  return self;
}

void functionDealloc(PyObject *self) {
  PyTypeObject *type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  Py_CLEAR(reinterpret_cast<FunctionObject *>(self)->owner);
  delete reinterpret_cast<FunctionObject *>(self)->signature;
  type->tp_free(self);
  Py_DECREF(type);
}

int functionTraverse(PyObject *self, visitproc visit, void *arg) {
  Py_VISIT(reinterpret_cast<FunctionObject *>(self)->owner);
  Py_VISIT(Py_TYPE(self));
  return 0;
}

int functionClear(PyObject *self) {
  Py_CLEAR(reinterpret_cast<FunctionObject *>(self)->owner);
  return 0;
}

PyObject *functionLastTime(PyObject *self, void *) {
  return PyFloat_FromDouble(reinterpret_cast<FunctionObject *>(self)->lastTime);
}
PyObject *functionExecutable(PyObject *self, void *) {
  PyObject *o = reinterpret_cast<FunctionObject *>(self)->owner;
  Py_INCREF(o);
  return o;
}
PyObject *functionIndex(PyObject *self, void *) {
  return PyLong_FromSsize_t(reinterpret_cast<FunctionObject *>(self)->index);
}

PyGetSetDef functionGetSet[] = {
    {"last_time", functionLastTime, nullptr,
     "wall time of the last call inside the extension, in seconds", nullptr},
    {"_exe", functionExecutable, nullptr, "the Executable", nullptr},
    {"_index", functionIndex, nullptr, "the function's index", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef functionMembers[] = {{"__vectorcalloffset__", T_PYSSIZET,
                                  offsetof(FunctionObject, vectorcall),
                                  READONLY, nullptr},
                                 {nullptr, 0, 0, 0, nullptr}};

PyType_Slot functionSlots[] = {
    {Py_tp_new, reinterpret_cast<void *>(functionNew)},
    {Py_tp_dealloc, reinterpret_cast<void *>(functionDealloc)},
    {Py_tp_traverse, reinterpret_cast<void *>(functionTraverse)},
    {Py_tp_clear, reinterpret_cast<void *>(functionClear)},
    {Py_tp_call, reinterpret_cast<void *>(PyVectorcall_Call)},
    {Py_tp_members, functionMembers},
    {Py_tp_getset, functionGetSet},
    {Py_tp_doc, const_cast<char *>(
                    "A compiled function; qat_mlir.CompiledFunction derives "
                    "from it")},
    {0, nullptr}};

PyType_Spec functionSpec = {"_qat_mlir_native.Function", sizeof(FunctionObject),
                            0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
                                Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
                            functionSlots};

//===----------------------------------------------------------------------===//
// Bound calls: a function with its buffers checked once, called with no
// arguments (the leanest call from Python).
//===----------------------------------------------------------------------===//

struct BoundCallObject {
  PyObject_HEAD PyObject *function; // the FunctionObject
  PyObject *refs;   // a list: the buffers and the NumPy views kept alive
  PyObject *result; // what a call returns
  size_t nargs, nres;
  QatBuffer buffers[16];
  std::vector<int64_t> *sizes; // the buffers' sizes, copied
  vectorcallfunc vectorcall;
};

PyObject *boundVectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                          PyObject *kwnames) {
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  if (PyVectorcall_NARGS(nargsf) || (kwnames && PyTuple_GET_SIZE(kwnames))) {
    PyErr_SetString(PyExc_TypeError, "a bound call takes no arguments");
    return nullptr;
  }
  auto *f = reinterpret_cast<FunctionObject *>(b->function);
  std::string error;
  bool ok;
  double inner;
  Py_BEGIN_ALLOW_THREADS;
  auto t0 = std::chrono::steady_clock::now();
  ok = mlirLogicalResultIsSuccess(
      qatExecutableCall(f->exe->exe, f->index, b->nargs, b->buffers, b->nres,
                        b->buffers + b->nargs, appendString, &error));
  inner = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
  Py_END_ALLOW_THREADS;
  f->exe->lastCallSeconds = inner;
  f->lastTime = inner;
  if (!ok) {
    PyErr_SetString(PyExc_ValueError, error.c_str());
    return nullptr;
  }
  Py_INCREF(b->result);
  return b->result;
}

void boundDealloc(PyObject *self) {
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  PyTypeObject *type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  Py_CLEAR(b->function);
  Py_CLEAR(b->refs);
  Py_CLEAR(b->result);
  delete b->sizes;
  type->tp_free(self);
  Py_DECREF(type);
}

int boundTraverse(PyObject *self, visitproc visit, void *arg) {
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  Py_VISIT(b->function);
  Py_VISIT(b->refs);
  Py_VISIT(b->result);
  Py_VISIT(Py_TYPE(self));
  return 0;
}

int boundClear(PyObject *self) {
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  Py_CLEAR(b->function);
  Py_CLEAR(b->refs);
  Py_CLEAR(b->result);
  return 0;
}

PyMemberDef boundMembers[] = {{"__vectorcalloffset__", T_PYSSIZET,
                               offsetof(BoundCallObject, vectorcall), READONLY,
                               nullptr},
                              {nullptr, 0, 0, 0, nullptr}};

PyType_Slot boundSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void *>(boundDealloc)},
    {Py_tp_traverse, reinterpret_cast<void *>(boundTraverse)},
    {Py_tp_clear, reinterpret_cast<void *>(boundClear)},
    {Py_tp_call, reinterpret_cast<void *>(PyVectorcall_Call)},
    {Py_tp_members, boundMembers},
    {Py_tp_doc,
     const_cast<char *>("f.bind(*inputs, out=...): call() runs f on these "
                        "buffers")},
    {0, nullptr}};

PyType_Spec boundSpec = {
    "_qat_mlir_native.BoundCall", sizeof(BoundCallObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    boundSlots};
PyTypeObject *boundType = nullptr;

/// bind(function, inputs, out): the buffers must pass the fast path's exact
/// checks (dtype, shape, C-contiguous, aligned); results go to `out`, or to
/// arrays made once here (returned by every call).
PyObject *bindCall(py::object function, py::tuple inputs, py::object out) {
  auto *f = reinterpret_cast<FunctionObject *>(function.ptr());
  const CompactSignature &sig = *f->signature;
  size_t nargs = sig.words[0], nres = sig.words[1];
  if (inputs.size() != nargs || nargs + nres > 16)
    throw py::value_error("bind: the function takes " + std::to_string(nargs) +
                          " argument(s), got " + std::to_string(inputs.size()));
  PyObject *self = boundType->tp_alloc(boundType, 0);
  if (!self)
    throw py::error_already_set();
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  py::object guard = py::reinterpret_steal<py::object>(self);
  b->function = function.inc_ref().ptr();
  b->refs = PyList_New(0);
  b->nargs = nargs;
  b->nres = nres;
  b->sizes = new std::vector<int64_t>();
  b->vectorcall = boundVectorcall;
  py::list refs = py::reinterpret_borrow<py::list>(b->refs);
  PyObject *tensorType = torchTensorType();
  bool tensors = false;
  auto fill = [&](py::handle a, size_t i, bool isResult) {
    py::object v = py::reinterpret_borrow<py::object>(a);
    refs.append(v);
    if (!fastBuffer(v.ptr(), sig.spec(i), isResult, b->buffers[i]) &&
        tensorType && PyObject_IsInstance(v.ptr(), tensorType) == 1) {
      v = v.attr("numpy")();
      refs.append(v);
      tensors = true;
    }
    if (!fastBuffer(v.ptr(), sig.spec(i), isResult, b->buffers[i]))
      throw py::value_error(
          (isResult ? "bind: out[" : "bind: argument #") +
          std::to_string(i - (isResult ? nargs : 0)) + (isResult ? "]" : "") +
          " must have the exact dtype and shape, be C-contiguous and aligned "
          "(and writable for out=): a bound call takes buffers as they are");
  };
  for (size_t i = 0; i < nargs; ++i)
    fill(inputs[i], i, false);
  py::object result;
  if (!out.is_none()) {
    bool seq = py::isinstance<py::tuple>(out) || py::isinstance<py::list>(out);
    py::sequence outs = seq ? py::reinterpret_borrow<py::sequence>(out)
                            : py::sequence(py::make_tuple(out));
    if (outs.size() != nres)
      throw py::value_error("bind: " + std::to_string(nres) + " result(s), " +
                            std::to_string(outs.size()) + " out= buffer(s)");
    for (size_t i = 0; i < nres; ++i)
      fill(outs[i], nargs + i, true);
    result = out;
  } else {
    py::list made;
    for (size_t i = 0; i < nres; ++i) {
      const int64_t *spec = sig.spec(nargs + i);
      std::vector<ssize_t> shape(spec + 2, spec + 2 + spec[1]);
      py::array a(py::dtype(dtypeName(QatElementType(spec[0]))), shape);
      py::object r = a;
      if (tensors)
        r = py::reinterpret_steal<py::object>(
            PyObject_CallOneArg(torchFromNumpy(), a.ptr()));
      fill(r, nargs + i, true);
      made.append(r);
    }
    result = nres == 1 ? made[0] : py::object(py::tuple(made));
  }
  b->result = result.inc_ref().ptr();
  // Own copies of the sizes (an array's shape may be reassigned in place).
  size_t total = 0;
  for (size_t i = 0; i < nargs + nres; ++i)
    total += b->buffers[i].rank;
  b->sizes->reserve(total);
  for (size_t i = 0; i < nargs + nres; ++i) {
    size_t at = b->sizes->size();
    b->sizes->insert(b->sizes->end(), b->buffers[i].sizes,
                     b->buffers[i].sizes + b->buffers[i].rank);
    b->buffers[i].sizes = b->sizes->data() + at;
  }
  return guard.release().ptr();
}

/// Runs a bpu integer model on the NPU simulator and the CPU (qat-c/NPU.h):
/// a dict with the NPU's outputs (NumPy arrays), per-output mismatches and
/// largest differences against the CPU integer model, the report.
py::dict runNPU(Module &module, const std::string &entry, py::list inputs,
                bool split, const std::string &config) {
  Context &ctx = Context::get();
  std::vector<py::array> arrays;
  std::vector<QatBuffer> buffers;
  std::vector<std::vector<int64_t>> sizes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    py::array a = py::array::ensure(inputs[i], py::array::c_style);
    if (!a)
      throw py::type_error("input #" + std::to_string(i) +
                           ": expected an array");
    std::optional<QatElementType> t = elementTypeOf(a.dtype());
    if (!t)
      throw py::value_error("input #" + std::to_string(i) + ": dtype " +
                            std::string(py::str(a.dtype())));
    arrays.push_back(a);
    sizes.emplace_back(a.shape(), a.shape() + a.ndim());
  }
  for (size_t i = 0; i < arrays.size(); ++i)
    buffers.push_back({arrays[i].mutable_data(),
                       *elementTypeOf(arrays[i].dtype()),
                       intptr_t(sizes[i].size()), sizes[i].data(), nullptr});
  QatNPURun run{nullptr};
  ctx.run("the NPU run failed", [&](std::string &reason) {
    run = qatNPURunCreate(module.module, toRef(entry), buffers.size(),
                          buffers.data(), split, toRef(config), appendString,
                          &reason);
    return !qatNPURunIsNull(run);
  });
  py::dict d;
  py::list outputs, mismatches, maxDiff;
  for (intptr_t i = 0, n = qatNPURunGetNumOutputs(run); i < n; ++i) {
    QatBuffer b = qatNPURunGetOutput(run, i);
    std::vector<ssize_t> shape(b.sizes, b.sizes + b.rank);
    py::array a(py::dtype(dtypeName(b.elementType)), shape);
    std::memcpy(a.mutable_data(), b.data,
                a.size() * qatElementTypeGetSize(b.elementType));
    outputs.append(a);
    mismatches.append(qatNPURunGetMismatches(run, i));
    maxDiff.append(qatNPURunGetMaxDifference(run, i));
  }
  d["outputs"] = outputs;
  d["mismatches"] = mismatches;
  d["max_difference"] = maxDiff;
  d["report"] = str(qatNPURunGetReport(run));
  d["report_json"] = str(qatNPURunGetReportJSON(run));
  d["cycles"] = qatNPURunGetCycles(run);
  d["batches"] = qatNPURunGetBatches(run);
  d["cpu_seconds"] = qatNPURunGetCPUSeconds(run);
  d["simulator_seconds"] = qatNPURunGetSimulatorSeconds(run);
  qatNPURunDestroy(run);
  return d;
}

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
      .def("io_quantization", &Module::ioQuantization, py::arg("entry"))
      .def("expose_named_values", &Module::exposeNamedValues, py::arg("entry"),
           py::arg("kind"))
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
      .def_property_readonly(
          "last_call_seconds",
          [](const Executable &e) { return e.lastCallSeconds; })
      .def("call", &Executable::call, py::arg("index"), py::arg("args"),
           py::arg("out") = py::none())
      .def("time_calls", &Executable::timeCalls, py::arg("index"),
           py::arg("args"), py::arg("out"), py::arg("repeat"));

  PyObject *functionType = PyType_FromSpec(&functionSpec);
  if (!functionType)
    throw py::error_already_set();
  m.add_object("Function", functionType);
  // Python 3.11 does not pass Py_TPFLAGS_HAVE_VECTORCALL on to subclasses
  // defined in Python (3.12 does): qat_mlir.CompiledFunction sets it here.
  m.def("enable_vectorcall", [functionType](py::type cls) {
    auto *t = reinterpret_cast<PyTypeObject *>(cls.ptr());
    if (!PyType_IsSubtype(t, reinterpret_cast<PyTypeObject *>(functionType)) ||
        t->tp_call != PyVectorcall_Call ||
        t->tp_vectorcall_offset != offsetof(FunctionObject, vectorcall))
      throw py::type_error("not a subclass of Function that inherits its call");
    t->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
  });

  boundType = reinterpret_cast<PyTypeObject *>(PyType_FromSpec(&boundSpec));
  if (!boundType)
    throw py::error_already_set();
  m.add_object("BoundCall", reinterpret_cast<PyObject *>(boundType));
  m.def(
      "bind",
      [](py::object function, py::tuple inputs, py::object out) {
        return py::reinterpret_steal<py::object>(
            bindCall(function, inputs, out));
      },
      py::arg("function"), py::arg("inputs"), py::arg("out") = py::none());

  m.def("run_npu", &runNPU, py::arg("module"), py::arg("entry"),
        py::arg("inputs"), py::arg("split") = false, py::arg("config") = "");

  m.def("compile_to_object", &compileToObject, py::arg("module"),
        py::arg("entry"), py::arg("object_path"), py::arg("header_path"),
        py::arg("options"));
}
