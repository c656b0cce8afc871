//===- NativeModule.cpp - qat_mlir's native extension (pybind11) ----------===//
//
// The module _qat_mlir_native: its bindings, the NPU run and ahead-of-time
// compilation. Native.h describes the extension and its files.
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "qat-c/NPU.h"

#include <cstring>

using namespace qat_native;

namespace {

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
           py::arg("args"), py::arg("out"), py::arg("repeat"))
      .def("trace_calls", &Executable::traceCalls, py::arg("index"),
           py::arg("args"), py::arg("out"), py::arg("repeat"));

  registerFastCall(m);
  registerBytecode(m);

  m.def("run_npu", &runNPU, py::arg("module"), py::arg("entry"),
        py::arg("inputs"), py::arg("split") = false, py::arg("config") = "");

  m.def("compile_to_object", &compileToObject, py::arg("module"),
        py::arg("entry"), py::arg("object_path"), py::arg("header_path"),
        py::arg("options"));
}
