//===- Executable.cpp - buffers and compiled functions --------------------===//
//
// Part of qat_mlir's native extension; Native.h describes the files.
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "mlir-c/BuiltinTypes.h"

#include <algorithm>
#include <chrono>

using namespace qat_native;

//===----------------------------------------------------------------------===//
// Buffers: NumPy arrays and torch tensors, zero-copy
//===----------------------------------------------------------------------===//

const char *qat_native::dtypeName(QatElementType t) {
  static const char *names[] = {"float32", "float64", "int8", "uint8",
                                "int16",   "int32",   "int64"};
  return names[int(t)];
}

std::optional<QatElementType> qat_native::elementTypeOf(const py::dtype &dt) {
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

PyObject *qat_native::torchTensorType() {
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

namespace {

bool isTorchTensor(const py::handle &obj) {
  PyObject *type = torchTensorType();
  return type && PyObject_IsInstance(obj.ptr(), type) == 1;
}

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

} // namespace

//===----------------------------------------------------------------------===//
// Executables
//===----------------------------------------------------------------------===//

QatCompileOptions CompileOptions::make() const {
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

void CompileOptions::onProgress(MlirStringRef what, double seconds,
                                void *userData) {
  py::gil_scoped_acquire acquire;
  try {
    static_cast<CompileOptions *>(userData)->progress(str(what), seconds);
  } catch (py::error_already_set &e) {
    e.discard_as_unraisable("qat_mlir compile progress callback");
  }
}

Executable::Executable(Module &module, const std::vector<std::string> &entries,
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

py::tuple Executable::describe(const std::vector<Spec> &specs) {
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

const Executable::Function &Executable::function(intptr_t index) const {
  if (index < 0 || size_t(index) >= functions.size())
    throw py::index_error("no function #" + std::to_string(index));
  return functions[index];
}

void Executable::prepare(const Function &fn, const py::tuple &args,
                         const py::object &out, std::vector<Buffer> &argBufs,
                         std::vector<Buffer> &resBufs, bool &sawTensor) const {
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
      throw py::value_error(
          "@" + fn.name + " has " + std::to_string(fn.results.size()) +
          " result(s), got " + std::to_string(outs.size()) + " out= buffer(s)");
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

void Executable::invoke(intptr_t index, const std::vector<Buffer> &argBufs,
                        const std::vector<Buffer> &resBufs,
                        int64_t repeat) const {
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
          qatExecutableCall(exe, index, a.size(), a.data(), r.size(), r.data(),
                            appendString, &error));
    lastCallSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  if (!ok)
    throw py::value_error(error);
}

py::object Executable::call(intptr_t index, const py::tuple &args,
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

double Executable::timeCalls(intptr_t index, const py::tuple &args,
                             const py::object &out, int64_t repeat) const {
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

py::tuple Executable::traceCalls(intptr_t index, const py::tuple &args,
                                 const py::object &out, int64_t repeat) const {
  const Function &fn = function(index);
  std::vector<Buffer> argBufs, resBufs;
  bool sawTensor = false;
  prepare(fn, args, out, argBufs, resBufs, sawTensor);
  std::vector<QatBuffer> a, r;
  for (const Buffer &b : argBufs)
    a.push_back(b.buffer);
  for (const Buffer &b : resBufs)
    r.push_back(b.buffer);
  size_t n = std::max<int64_t>(0, repeat);
  std::vector<double> entry(n), inner(n);
  std::string error;
  bool ok = true;
  {
    // A C program's loop: a timestamp before and after each call. As for
    // the traced Python calls, a call's figures are stored inside the next
    // call's bracket (their cost is not counted against the loop).
    py::gil_scoped_release release;
    using clock = std::chrono::steady_clock;
    double lastEntry = 0, lastInner = 0;
    for (size_t i = 0; ok && i < n; ++i) {
      auto t0 = clock::now();
      if (i) {
        entry[i - 1] = lastEntry;
        inner[i - 1] = lastInner;
      }
      ok = mlirLogicalResultIsSuccess(
          qatExecutableCall(exe, index, a.size(), a.data(), r.size(), r.data(),
                            appendString, &error));
      auto t1 = clock::now();
      lastEntry = std::chrono::duration<double>(t0.time_since_epoch()).count();
      lastInner = std::chrono::duration<double>(t1 - t0).count();
    }
    if (n) {
      entry[n - 1] = lastEntry;
      inner[n - 1] = lastInner;
    }
  }
  if (!ok)
    throw py::value_error(error);
  return py::make_tuple(py::array_t<double>(n, entry.data()),
                        py::array_t<double>(n, inner.data()));
}
