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

#include <dlfcn.h>
#include <link.h>

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

constexpr size_t kMaxBuffers = 16;  // arguments + results on the fast path
constexpr size_t kInlineWords = 64; // signature words kept in the object

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Timestamps of calls, for bench/runtime_overhead.py: when a function has
/// one, each call records when it entered the extension and how long its C
/// API call took (steady_clock: CLOCK_MONOTONIC, time.perf_counter's clock).
struct CallTrace {
  /// Per call: entered the extension, started the C call, the C call's
  /// seconds, GIL held again.
  struct Stamp {
    double entry, start, inner, resumed;
  };
  std::vector<Stamp> stamps;
  size_t count = 0;
  void push(const Stamp &s) {
    if (count < stamps.size())
      stamps[count++] = s;
  }
};

/// The lines a call prefetches on its way back, learned from an earlier
/// call from the same place and replayed without a load that depends on a
/// miss. Each entry is a line address with (lines - 1) in its low 6 bits.
struct WayBack {
  static constexpr size_t kEntries = 56;
  PyObject *const *args = nullptr; // the call site's arguments and code:
  const void *site = nullptr;      // where `entries` were learned
  uint32_t count = 0, age = 0;
  uintptr_t entries[kEntries];
  void add(const void *p, size_t bytes) {
    auto a = reinterpret_cast<uintptr_t>(p);
    if (a < 4096 || !bytes || count == kEntries)
      return;
    uintptr_t first = a & ~uintptr_t(63), last = (a + bytes - 1) | 63;
    size_t lines = std::min<size_t>((last - first + 1) / 64, 64);
    entries[count++] = first | (lines - 1);
  }
  void replay() const {
    for (uint32_t i = 0; i < count; ++i) {
      uintptr_t e = entries[i];
      const char *p = reinterpret_cast<const char *>(e & ~uintptr_t(63));
      for (uintptr_t l = 0; l <= (e & 63); ++l)
        __builtin_prefetch(p + 64 * l, 0, 3);
    }
  }
};

/// A compiled function. Everything a call reads is in this object (the call
/// runs with cold caches after a large model): the C handle, the counts,
/// ndarray's type and, per buffer, its element type, rank, NumPy dtype
/// descriptor and sizes.
struct FunctionObject {
  PyObject_HEAD vectorcallfunc vectorcall;
  QatExecutable handle;
  intptr_t index;
  uint32_t nargs, nres;
  bool fast;           // nargs + nres <= kMaxBuffers
  PyObject *arrayType; // numpy.ndarray
  PyObject *outName;   // "out", interned
  CallTrace *trace;    // null unless traced
  double lastTime;     // wall time of the last call of the compiled code
  // A traced call's timestamps, kept beside lastTime (no other memory is
  // touched when the call returns) and added to the trace by the next call
  // inside its C call's bracket, or by trace_take.
  CallTrace::Stamp pendingStamp;
  bool pending;
  PyObject *owner; // the Python Executable, kept alive
  Executable *exe;
  size_t nwords;
  int64_t *words; // the signature: `inlineWords` or a heap block
  WayBack wayBack;
  int64_t inlineWords[kInlineWords];
};

/// Tracing (bench/runtime_overhead.py): the previous call's timestamps
/// go to the trace inside the C call's bracket, where their cost is not
/// counted against the call path; this call's wait beside lastTime.
inline void traceBefore(FunctionObject *f) {
  if (f->pending) {
    f->trace->push(f->pendingStamp);
    f->pending = false;
  }
}
inline void traceAfter(FunctionObject *f, double entry,
                       std::chrono::steady_clock::time_point t0, double inner) {
  f->pendingStamp = {
      entry, std::chrono::duration<double>(t0.time_since_epoch()).count(),
      inner, now()};
  f->pending = true;
}

//===----------------------------------------------------------------------===//
// Prefetching the way back. A large model's call evicts from the caches and
// the TLB everything the interpreter touches between two calls: the
// interpreter loop's code, the caller's frame and bytecode, the thread
// state, the objects of the call, this extension's code and data. Left
// alone, the interpreter then misses on each of them one after the other
// (each miss decides the next address); prefetched together when the
// compiled code returns, the misses overlap. Only memory of the Python
// side is prefetched, never the buffers' data (which the compiled code
// reads): the C call is the same in both cases.
//===----------------------------------------------------------------------===//

enum : unsigned {
  kPrefetchOwn = 1,       // this object, its signature, the buffers' structs
  kPrefetchCode = 2,      // the extension's call path (section qat_hot_code)
  kPrefetchFrame = 4,     // the caller's frame, bytecode, code object
  kPrefetchThread = 8,    // thread and interpreter state
  kPrefetchEvalLoop = 16, // all of _PyEval_EvalFrameDefault's code
  kPrefetchCallSite = 32, // the interpreter's code around the call site
  kPrefetchHelpers = 64,  // libpython functions on the path
  kPrefetchScan = 128,    // what the caller's frame points to (3.11)
  kPrefetchCStack = 256,  // the C stack above this call
  kPrefetchAll = 511,
};
// The default leaves out the whole interpreter loop (55 KB on Debian's 3.11:
// its traffic costs more than it saves) and this extension's own code (no
// measurable gain; bench/runtime_overhead.py, docs/Python.md).
unsigned prefetchMask = kPrefetchAll & ~(kPrefetchEvalLoop | kPrefetchCode);

#define QAT_HOT_CODE [[gnu::section("qat_hot_code")]]
extern "C" [[gnu::visibility("hidden")]] char __start_qat_hot_code[];
extern "C" [[gnu::visibility("hidden")]] char __stop_qat_hot_code[];

inline void prefetchBytes(const void *p, size_t bytes, int locality = 3) {
  auto a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63);
  auto end = reinterpret_cast<uintptr_t>(p) + bytes;
  for (; a < end; a += 64)
    if (locality == 3)
      __builtin_prefetch(reinterpret_cast<const void *>(a), 0, 3);
    else
      __builtin_prefetch(reinterpret_cast<const void *>(a), 0, 2);
}

/// Code ranges of the interpreter (found once with dlsym/dladdr1).
struct CodeRanges {
  const char *evalLoop = nullptr;
  size_t evalLoopSize = 0;
  const void *helpers[8] = {};
  CodeRanges() {
    void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    Dl_info info;
    void *symEntry = nullptr;
    if (eval && dladdr1(eval, &info, &symEntry, RTLD_DL_SYMENT) && symEntry) {
      const auto *sym = static_cast<const ElfW(Sym) *>(symEntry);
      evalLoop = static_cast<const char *>(eval);
      evalLoopSize = sym->st_size;
    }
    size_t n = 0;
    for (const char *name :
         {"PyObject_Vectorcall", "_Py_CheckFunctionResult", "PyThreadState_Get",
          "PyInterpreterState_Head", "PyInterpreterState_Next"})
      if (void *p = dlsym(RTLD_DEFAULT, name))
        helpers[n++] = p;
  }
};
const CodeRanges &codeRanges() {
  static const CodeRanges ranges;
  return ranges;
}

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
/// The head of CPython 3.11's _PyInterpreterFrame (internal/pycore_frame.h):
/// its code object and the code unit before the next instruction.
struct InterpreterFrame311 {
  PyObject *func, *globals, *builtins, *locals, *code, *frameObject;
  void *previous, *prevInstr;
};
#endif

/// What the interpreter touches between the end of this call's compiled
/// code and the start of the next call (prefetchMask says which): the
/// learned lines of `wb`, then the call's objects; every 64th call, or
/// from another call site, the lines are learned again (after the replay,
/// so that the loads of the learning hit lines already on their way).
/// `returnAddress` is the caller's code (the interpreter's call site).
[[gnu::noinline]] QAT_HOT_CODE void
prefetchWayBack(WayBack &wb, FunctionObject *f, PyObject *self,
                size_t selfBytes, PyObject *const *args, size_t nargs,
                PyObject *kwnames, PyObject *out, const void *returnAddress) {
  unsigned mask = prefetchMask;
  if (!mask)
    return;
  wb.replay();
  // The call's objects and their dimensions (they may change per call).
  if (mask & kPrefetchOwn) {
    for (size_t i = 0; i < nargs; ++i)
      prefetchBytes(args[i], 80);
    if (out)
      prefetchBytes(out, 80);
    PyObject *arrayType = f->arrayType;
    auto dims = [&](PyObject *a) {
      if (reinterpret_cast<PyObject *>(Py_TYPE(a)) == arrayType) {
        auto *arr = py::detail::array_proxy(a);
        prefetchBytes(arr->dimensions, arr->nd * sizeof(int64_t));
      }
    };
    for (size_t i = 0; i < nargs; ++i)
      dims(args[i]);
    if (out && !PyTuple_Check(out))
      dims(out);
    else if (out)
      for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(out); ++i)
        prefetchBytes(PyTuple_GET_ITEM(out, i), 80);
  }
  if (wb.args == args && wb.site == returnAddress && (++wb.age & 63) &&
      wb.count)
    return;
  // Learn the lines again.
  wb.args = args;
  wb.site = returnAddress;
  wb.count = 0;
  const CodeRanges &code = codeRanges();
  if (mask & kPrefetchCallSite)
    wb.add(static_cast<const char *>(returnAddress) - 128, 768);
  if (mask & kPrefetchCode)
    wb.add(__start_qat_hot_code, __stop_qat_hot_code - __start_qat_hot_code);
  if (mask & kPrefetchHelpers)
    for (const void *h : code.helpers)
      wb.add(h, 128);
  if (mask & kPrefetchEvalLoop)
    for (size_t at = 0; at < code.evalLoopSize; at += 4096)
      wb.add(code.evalLoop + at,
             std::min<size_t>(4096, code.evalLoopSize - at));
  if (mask & kPrefetchCStack)
    wb.add(__builtin_frame_address(0), 1024);
  if (mask & kPrefetchOwn) {
    wb.add(self, selfBytes);
    wb.add(f, offsetof(FunctionObject, wayBack));
    wb.add(f->words, f->nwords * sizeof(int64_t));
    wb.add(Py_TYPE(self), 192);
    if (kwnames)
      wb.add(kwnames, 64);
  }
  PyThreadState *tstate = PyThreadState_Get();
  if (mask & kPrefetchThread) {
    wb.add(tstate, sizeof(PyThreadState));
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    wb.add(reinterpret_cast<const char *>(tstate->interp) + 96, 8); // ceval
#else
    wb.add(tstate->interp, 256);
#endif
  }
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
  if ((mask & kPrefetchFrame) && tstate->cframe &&
      tstate->cframe->current_frame) {
    auto *frame = reinterpret_cast<const InterpreterFrame311 *>(
        tstate->cframe->current_frame);
    auto *begin = reinterpret_cast<PyObject *const *>(frame);
    bool inFrame = args > begin && args - begin < 512;
    wb.add(inFrame ? begin : args - 64, (args + nargs + 4 - begin) * 8);
    // The bytecode around the call (the loop's head may be some way
    // before it), the code object and its constants (kwnames).
    wb.add(static_cast<const char *>(frame->prevInstr) - 256, 384);
    wb.add(frame->code, 192);
    if (inFrame) {
      wb.add(reinterpret_cast<PyCodeObject *>(frame->code)->co_consts, 128);
      // What the frame's locals and value stack point to (cells, the
      // iterator of a loop, ...): the words from the frame's head to the
      // arguments, which lie in this frame.
      if (mask & kPrefetchScan)
        for (PyObject *const *p = begin + 8; p < args - 1; ++p)
          if (!(reinterpret_cast<uintptr_t>(*p) & 7))
            wb.add(*p, 32);
    }
    return;
  }
#endif
  if (mask & kPrefetchFrame)
    wb.add(args - 64, (64 + nargs + 4) * sizeof(PyObject *));
}

/// Per buffer: element type, rank, dtype descriptor (PyObject *), sizes.
inline const int64_t *nextSpec(const int64_t *spec) {
  return spec + 3 + spec[1];
}

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
/// C-contiguous, aligned, writable for results); fills `buffer`. Reads the
/// array's struct (and its dimensions); its dtype descriptor only if it is
/// not NumPy's own descriptor of the type. Makes no object, no string.
inline bool fastBuffer(PyObject *a, const int64_t *spec, bool isResult,
                       PyObject *arrayType, QatBuffer &buffer) {
  PyTypeObject *type = Py_TYPE(a);
  if (type != reinterpret_cast<PyTypeObject *>(arrayType) &&
      !PyType_IsSubtype(type, reinterpret_cast<PyTypeObject *>(arrayType)))
    return false;
  auto *arr = py::detail::array_proxy(a);
  intptr_t rank = spec[1];
  if (arr->descr != reinterpret_cast<PyObject *>(spec[2])) {
    auto *descr = py::detail::array_descriptor_proxy(arr->descr);
    static const struct {
      char kind;
      int size;
    } want[] = {{'f', 4}, {'f', 8}, {'i', 1}, {'u', 1},
                {'i', 2}, {'i', 4}, {'i', 8}};
    if (descr->kind != want[spec[0]].kind ||
        descr->elsize != want[spec[0]].size || descr->byteorder == '>')
      return false;
  }
  int need = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
             py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
             (isResult ? py::detail::npy_api::NPY_ARRAY_WRITEABLE_ : 0);
  if ((arr->flags & need) != need || arr->nd != rank)
    return false;
  const int64_t *sizes = spec + 3;
  static_assert(sizeof(*arr->dimensions) == sizeof(int64_t), "npy_intp");
  const auto *dims = reinterpret_cast<const int64_t *>(arr->dimensions);
  for (intptr_t d = 0; d < rank; ++d)
    if (dims[d] != sizes[d] && !mlirShapedTypeIsDynamicSize(sizes[d]))
      return false;
  buffer = {arr->data, QatElementType(spec[0]), rank, dims, nullptr};
  return true;
}

/// Whether the GIL is released around a call of compiled code: when a
/// Python thread besides the caller exists (a thread state of any
/// interpreter), so that calls from several threads run at the same time.
/// With the caller the only Python thread, no other thread can run Python
/// code until the call returns (starting one needs the GIL), and keeping
/// the GIL spares its release and re-acquisition: microseconds after a
/// large model, whose run leaves the interpreter's memory cold. (A C thread
/// that asks for the GIL during such a call, PyGILState_Ensure, waits for
/// its end, as with any extension that keeps the GIL.)
inline PyThreadState *releaseGILIfShared() {
  PyThreadState *self = PyThreadState_Get();
  // The caller's interpreter lists its thread states in a doubly linked
  // list; then the other interpreters, if any.
  if (self->prev || self->next || PyInterpreterState_Head() != self->interp ||
      PyInterpreterState_Next(self->interp))
    return PyEval_SaveThread();
  return nullptr;
}

inline void restoreGIL(PyThreadState *saved) {
  if (saved)
    PyEval_RestoreThread(saved);
}

/// torch.Tensor once torch is imported: looked up only for arguments that
/// are not NumPy arrays (a tensor argument implies torch is imported), then
/// kept.
PyObject *tensorTypeFor() {
  static PyObject *type = nullptr;
  if (!type)
    type = torchTensorType();
  return type;
}

/// A plain CPU torch tensor `a` through its NumPy view (same memory),
/// checked as fastBuffer does; the view goes to `keep`. False (nothing
/// kept) for anything else: the slow path then says what is wrong.
[[gnu::noinline]] bool tensorBuffer(PyObject *a, const int64_t *spec,
                                    bool isResult, PyObject *arrayType,
                                    QatBuffer &buffer, PyObject **keep,
                                    size_t &kept) {
  PyObject *tensorType = tensorTypeFor();
  if (!tensorType || PyObject_IsInstance(a, tensorType) != 1) {
    PyErr_Clear();
    return false;
  }
  static PyObject *numpyName = PyUnicode_InternFromString("numpy");
  PyObject *v = PyObject_CallMethodNoArgs(a, numpyName); // requires grad, ...
  if (!v) {
    PyErr_Clear();
    return false;
  }
  keep[kept++] = v;
  return fastBuffer(v, spec, isResult, arrayType, buffer);
}

/// The Python method `_call_slow(*args, **kwargs)` of the object: every
/// case the fast path does not take, and every error message.
[[gnu::cold, gnu::noinline]] PyObject *callSlow(PyObject *self,
                                                PyObject *const *args,
                                                size_t nargs,
                                                PyObject *kwnames) {
  static PyObject *name = PyUnicode_InternFromString("_call_slow");
  size_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<PyObject *> all(1 + nargs + nkw);
  all[0] = self;
  std::copy(args, args + nargs + nkw, all.begin() + 1);
  PyObject *r = PyObject_VectorcallMethod(
      name, all.data(), (1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
  auto *f = reinterpret_cast<FunctionObject *>(self);
  f->lastTime = f->exe->lastCallSeconds;
  return r;
}

inline void releaseAll(PyObject **keep, size_t kept) {
  for (size_t i = 0; i < kept; ++i)
    Py_DECREF(keep[i]);
}

/// New result arrays for a call without out= (the last `nres` of `keep`).
[[gnu::noinline]] bool makeResults(FunctionObject *f, const int64_t *spec,
                                   QatBuffer *buffers, PyObject **keep,
                                   size_t &kept) {
  const auto &api = py::detail::npy_api::get();
  for (size_t i = 0; i < f->nres; ++i, spec = nextSpec(spec)) {
    PyObject *descr = reinterpret_cast<PyObject *>(spec[2]);
    Py_INCREF(descr); // stolen by PyArray_NewFromDescr
    PyObject *a = api.PyArray_NewFromDescr_(
        api.PyArray_Type_, descr, int(spec[1]),
        reinterpret_cast<const Py_intptr_t *>(spec + 3), nullptr, nullptr, 0,
        nullptr);
    if (!a)
      return false;
    keep[kept++] = a;
    fastBuffer(a, spec, true, f->arrayType, buffers[i]);
  }
  return true;
}

/// The return value of a call without out=: the new arrays (`arrays`), as
/// torch tensors when an input was one.
[[gnu::noinline]] PyObject *wrapResults(FunctionObject *f, PyObject **arrays,
                                        bool tensors) {
  size_t nres = f->nres;
  PyObject *convert = tensors ? torchFromNumpy() : nullptr;
  if (tensors && !convert)
    return nullptr;
  PyObject *result = nres == 1 ? nullptr : PyTuple_New(nres);
  if (nres != 1 && !result)
    return nullptr;
  for (size_t i = 0; i < nres; ++i) {
    PyObject *r = arrays[i];
    if (convert) {
      r = PyObject_CallOneArg(convert, arrays[i]);
      if (!r) {
        Py_XDECREF(result);
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
  return result;
}

[[gnu::cold, gnu::noinline]] PyObject *callFailed(const std::string &error) {
  PyErr_SetString(PyExc_ValueError, error.c_str());
  return nullptr;
}

/// f(*args, out=None): vectorcall, so that neither a tuple nor a dict is
/// made for the arguments. With NumPy arrays and out=, a call allocates
/// nothing, builds no string and looks nothing up: it reads this object,
/// the arrays' structs and their dimensions.
QAT_HOT_CODE PyObject *functionVectorcall(PyObject *self, PyObject *const *args,
                                          size_t nargsf, PyObject *kwnames) {
  auto *f = reinterpret_cast<FunctionObject *>(self);
  double entry = f->trace ? now() : 0;
  size_t nargs = PyVectorcall_NARGS(nargsf);
  PyObject *out = nullptr;
  if (kwnames) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    if (nkw) {
      PyObject *key = PyTuple_GET_ITEM(kwnames, 0);
      if (nkw != 1 ||
          (key != f->outName && PyUnicode_Compare(key, f->outName) != 0))
        return callSlow(self, args, nargs, kwnames);
      out = args[nargs];
      if (out == Py_None)
        out = nullptr;
    }
  }
  if (nargs != f->nargs || !f->fast)
    return callSlow(self, args, nargs, kwnames);
  size_t nres = f->nres;
  QatBuffer buffers[kMaxBuffers];
  PyObject *keep[kMaxBuffers]; // NumPy views of torch tensors, new results
  size_t kept = 0;
  const int64_t *spec = f->words;
  for (size_t i = 0; i < nargs; ++i, spec = nextSpec(spec))
    if (!fastBuffer(args[i], spec, false, f->arrayType, buffers[i]) &&
        !tensorBuffer(args[i], spec, false, f->arrayType, buffers[i], keep,
                      kept)) {
      releaseAll(keep, kept);
      return callSlow(self, args, nargs, kwnames);
    }
  bool tensors = kept != 0;
  if (out) {
    bool seq = PyTuple_Check(out) || PyList_Check(out);
    if (seq ? size_t(PySequence_Fast_GET_SIZE(out)) != nres : nres != 1) {
      releaseAll(keep, kept);
      return callSlow(self, args, nargs, kwnames);
    }
    for (size_t i = 0; i < nres; ++i, spec = nextSpec(spec)) {
      PyObject *o = seq ? PySequence_Fast_GET_ITEM(out, i) : out;
      if (!fastBuffer(o, spec, true, f->arrayType, buffers[nargs + i]) &&
          !tensorBuffer(o, spec, true, f->arrayType, buffers[nargs + i], keep,
                        kept)) {
        releaseAll(keep, kept);
        return callSlow(self, args, nargs, kwnames);
      }
    }
  } else if (!makeResults(f, spec, buffers + nargs, keep, kept)) {
    releaseAll(keep, kept);
    return nullptr;
  }
  std::string error; // filled only by a failing call
  PyThreadState *thread = releaseGILIfShared();
  auto t0 = std::chrono::steady_clock::now();
  if (f->trace)
    traceBefore(f);
  bool ok = mlirLogicalResultIsSuccess(
      qatExecutableCall(f->handle, f->index, nargs, buffers, nres,
                        buffers + nargs, appendString, &error));
  double inner =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  restoreGIL(thread);
  prefetchWayBack(f->wayBack, f, self, 0, args, nargs, kwnames, out,
                  __builtin_return_address(0));
  f->lastTime = inner;
  if (f->trace)
    traceAfter(f, entry, t0, inner);
  if (!ok) {
    releaseAll(keep, kept);
    return callFailed(error);
  }
  PyObject *result;
  if (out) {
    Py_INCREF(out);
    result = out;
  } else {
    result = wrapResults(f, keep + kept - nres, tensors);
  }
  releaseAll(keep, kept);
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
  const Executable::Function &fn = exe->functions[index];
  size_t words = 0;
  for (const auto *list : {&fn.args, &fn.results})
    for (const Executable::Spec &spec : *list)
      words += 3 + spec.rank;
  const auto &api = py::detail::npy_api::get();
  static const int typeNums[] = {
      py::detail::npy_api::NPY_FLOAT_, py::detail::npy_api::NPY_DOUBLE_,
      py::detail::npy_api::NPY_BYTE_,  py::detail::npy_api::NPY_UBYTE_,
      py::detail::npy_api::NPY_SHORT_, py::detail::npy_api::NPY_INT_,
      py::detail::npy_api::NPY_LONG_};
  PyObject *self = type->tp_alloc(type, 0);
  if (!self)
    return nullptr;
  auto *f = reinterpret_cast<FunctionObject *>(self);
  Py_INCREF(owner);
  f->owner = owner;
  f->exe = exe;
  f->handle = exe->exe;
  f->index = index;
  f->nargs = fn.args.size();
  f->nres = fn.results.size();
  f->fast = fn.args.size() + fn.results.size() <= kMaxBuffers;
  f->arrayType = reinterpret_cast<PyObject *>(api.PyArray_Type_);
  Py_INCREF(f->arrayType);
  f->outName = PyUnicode_InternFromString("out");
  f->trace = nullptr;
  f->nwords = words;
  f->words = words <= kInlineWords ? f->inlineWords : new int64_t[words];
  int64_t *w = f->words;
  for (const auto *list : {&fn.args, &fn.results})
    for (const Executable::Spec &spec : *list) {
      *w++ = spec.type;
      *w++ = spec.rank;
      // NumPy's own descriptor of the dtype (a new reference, kept).
      *w++ = reinterpret_cast<int64_t>(
          api.PyArray_DescrFromType_(typeNums[spec.type]));
      w = std::copy(spec.sizes, spec.sizes + spec.rank, w);
    }
  f->lastTime = 0;
  f->vectorcall = functionVectorcall;
  return self;
}

void functionDealloc(PyObject *self) {
  PyTypeObject *type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  auto *f = reinterpret_cast<FunctionObject *>(self);
  Py_CLEAR(f->owner);
  if (f->words) {
    const int64_t *spec = f->words;
    for (size_t i = 0; i < f->nargs + f->nres; ++i, spec = nextSpec(spec))
      Py_XDECREF(reinterpret_cast<PyObject *>(spec[2]));
    if (f->words != f->inlineWords)
      delete[] f->words;
  }
  Py_XDECREF(f->arrayType);
  Py_XDECREF(f->outName);
  delete f->trace;
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
  WayBack wayBack;
};

QAT_HOT_CODE PyObject *boundVectorcall(PyObject *self, PyObject *const *args,
                                       size_t nargsf, PyObject *kwnames) {
  auto *b = reinterpret_cast<BoundCallObject *>(self);
  if (PyVectorcall_NARGS(nargsf) || (kwnames && PyTuple_GET_SIZE(kwnames))) {
    PyErr_SetString(PyExc_TypeError, "a bound call takes no arguments");
    return nullptr;
  }
  auto *f = reinterpret_cast<FunctionObject *>(b->function);
  double entry = f->trace ? now() : 0;
  std::string error; // filled only by a failing call
  PyThreadState *thread = releaseGILIfShared();
  auto t0 = std::chrono::steady_clock::now();
  if (f->trace)
    traceBefore(f);
  bool ok = mlirLogicalResultIsSuccess(
      qatExecutableCall(f->handle, f->index, b->nargs, b->buffers, b->nres,
                        b->buffers + b->nargs, appendString, &error));
  double inner =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  restoreGIL(thread);
  prefetchWayBack(b->wayBack, f, self, sizeof(BoundCallObject), args, 0,
                  nullptr, b->result, __builtin_return_address(0));
  f->lastTime = inner;
  if (f->trace)
    traceAfter(f, entry, t0, inner);
  if (!ok)
    return callFailed(error);
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
  size_t nargs = f->nargs, nres = f->nres;
  std::vector<const int64_t *> specs;
  for (const int64_t *spec = f->words; specs.size() < nargs + nres;
       spec = nextSpec(spec))
    specs.push_back(spec);
  if (inputs.size() != nargs || !f->fast)
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
    if (!fastBuffer(v.ptr(), specs[i], isResult, f->arrayType, b->buffers[i]) &&
        tensorType && PyObject_IsInstance(v.ptr(), tensorType) == 1) {
      v = v.attr("numpy")();
      refs.append(v);
      tensors = true;
    }
    if (!fastBuffer(v.ptr(), specs[i], isResult, f->arrayType, b->buffers[i]))
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
      const int64_t *spec = specs[nargs + i];
      std::vector<ssize_t> shape(spec + 3, spec + 3 + spec[1]);
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

  m.def(
      "set_prefetch",
      [](unsigned mask) {
        unsigned old = prefetchMask;
        prefetchMask = mask & kPrefetchAll;
        return old;
      },
      py::arg("mask"),
      "What calls prefetch when their compiled code returns (a bit mask, "
      "bench/runtime_overhead.py); returns the previous mask.");
  m.def(
      "prefetch_lines",
      [functionType](py::handle o) {
        const WayBack *wb;
        if (PyObject_TypeCheck(o.ptr(),
                               reinterpret_cast<PyTypeObject *>(functionType)))
          wb = &reinterpret_cast<FunctionObject *>(o.ptr())->wayBack;
        else if (Py_TYPE(o.ptr()) == boundType)
          wb = &reinterpret_cast<BoundCallObject *>(o.ptr())->wayBack;
        else
          throw py::type_error("not a compiled function or bound call");
        size_t lines = 0;
        for (uint32_t i = 0; i < wb->count; ++i)
          lines += (wb->entries[i] & 63) + 1;
        return lines;
      },
      py::arg("function"),
      "How many lines the calls of a compiled function (or bound call) "
      "learned to prefetch on their way back (tests).");
  // bench/runtime_overhead.py: timestamps of the next `calls` calls.
  auto functionOf = [functionType](py::handle fn) {
    if (!PyObject_TypeCheck(fn.ptr(),
                            reinterpret_cast<PyTypeObject *>(functionType)))
      throw py::type_error("not a compiled function");
    return reinterpret_cast<FunctionObject *>(fn.ptr());
  };
  m.def(
      "trace_start",
      [functionOf](py::handle fn, size_t calls) {
        FunctionObject *f = functionOf(fn);
        delete f->trace;
        f->pending = false;
        f->trace = new CallTrace();
        f->trace->stamps.resize(calls);
      },
      py::arg("function"), py::arg("calls"),
      "Records timestamps of the next `calls` calls from one thread (clock of "
      "time.perf_counter; see trace_take).");
  m.def(
      "trace_take",
      [functionOf](py::handle fn) {
        FunctionObject *f = functionOf(fn);
        if (!f->trace)
          throw py::value_error("no trace started");
        if (f->pending)
          traceBefore(f);
        std::unique_ptr<CallTrace> t(f->trace);
        f->trace = nullptr;
        size_t n = t->count;
        py::dict d;
        const char *names[] = {"entry", "start", "inner", "resumed"};
        for (size_t k = 0; k < 4; ++k) {
          py::array_t<double> a(n);
          double *out = a.mutable_data();
          for (size_t i = 0; i < n; ++i)
            out[i] = (&t->stamps[i].entry)[k];
          d[names[k]] = a;
        }
        return d;
      },
      py::arg("function"),
      "The traced calls' timestamps (arrays): entry (the call entered the "
      "extension), start (of the C API call), inner (its seconds), resumed "
      "(the GIL re-acquired); stops tracing.");
}
