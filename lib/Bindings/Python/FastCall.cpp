//===- FastCall.cpp - the hot path of calls from Python -------------------===//
//
// Part of qat_mlir's native extension; Native.h describes the files.
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "mlir-c/BuiltinTypes.h"

#include <structmember.h>

#include <algorithm>
#include <chrono>

using namespace qat_native;

namespace {

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

} // namespace

void qat_native::registerFastCall(py::module_ &m) {

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
}
