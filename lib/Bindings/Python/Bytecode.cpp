//===- Bytecode.cpp - modules as MLIR bytecode, weights as raw buffers ----===//
//
// Part of qat_mlir's native extension; Native.h describes the files.
//
// MLIR bytecode stores each dense elements attribute as a raw blob of its
// data, so a model of N bytes of f32 weights is about N bytes (MLIR text
// writes them as hex, 2N). The exporters write the weights as NumPy arrays
// beside a small text (`qat.weight = i` on each tosa.const whose values
// are a placeholder splat): attach_weights builds each attribute once from
// its array, then the module is written as bytecode. Every parse of the
// package and of the tools reads bytecode too (qat/Tools/ParseGuard.h).
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "mlir-c/BuiltinAttributes.h"
#include "mlir-c/BuiltinTypes.h"

#include <cstring>

using namespace qat_native;

namespace {

/// Bytecode of `module` (locations included).
py::bytes bytecodeOf(const Module &module) {
  std::string out;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
    mlirOperationWriteBytecode(mlirModuleGetOperation(module.module),
                               appendString, &out);
  }
  return py::bytes(out);
}

/// A module of MLIR bytecode (or text) held by a bytes object, read in
/// place.
std::unique_ptr<Module> parseBytes(const py::bytes &data,
                                   const std::string &sourceName) {
  char *bytes = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(data.ptr(), &bytes, &size) != 0)
    throw py::error_already_set();
  Context &ctx = Context::get();
  MlirModule m{nullptr};
  ctx.run("cannot parse the MLIR bytecode", [&](std::string &) {
    m = qatModuleCreateParse(ctx.context, {bytes, size_t(size)},
                             toRef(sourceName));
    return !mlirModuleIsNull(m);
  });
  return std::make_unique<Module>(m);
}

struct Placeholder {
  MlirOperation op;
  int64_t index;
  MlirType type;
};

MlirWalkResult collect(MlirOperation op, void *userData) {
  MlirAttribute index = mlirOperationGetAttributeByName(
      op, mlirStringRefCreateFromCString("qat.weight"));
  MlirAttribute values = mlirOperationGetAttributeByName(
      op, mlirStringRefCreateFromCString("values"));
  if (!mlirAttributeIsNull(index) && mlirAttributeIsAInteger(index) &&
      !mlirAttributeIsNull(values) && mlirAttributeIsADenseElements(values))
    static_cast<std::vector<Placeholder> *>(userData)->push_back(
        {op, mlirIntegerAttrGetValueInt(index), mlirAttributeGetType(values)});
  return MlirWalkResultAdvance;
}

/// Replaces the placeholder `values` of every op with `qat.weight = i` by
/// the data of weights[i] (f32, C order, as many elements as the type),
/// copied once into the context, and drops `qat.weight`.
void attachWeights(Module &module, const std::vector<py::array> &weights) {
  Context &ctx = Context::get();
  std::vector<Placeholder> ops;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::recursive_mutex> lock(ctx.mutex);
    mlirOperationWalk(mlirModuleGetOperation(module.module), collect, &ops,
                      MlirWalkPreOrder);
  }
  // The arrays are checked with the GIL, then copied without it.
  std::vector<std::pair<const void *, size_t>> data;
  for (const Placeholder &p : ops) {
    if (p.index < 0 || size_t(p.index) >= weights.size())
      throw NativeError{"qat.weight = " + std::to_string(p.index) +
                            " names no weight (" +
                            std::to_string(weights.size()) + " given)",
                        ""};
    const py::array &a = weights[p.index];
    int64_t elements = 1;
    for (intptr_t d = 0, r = mlirShapedTypeGetRank(p.type); d < r; ++d)
      elements *= mlirShapedTypeGetDimSize(p.type, d);
    if (!mlirTypeIsAF32(mlirShapedTypeGetElementType(p.type)) ||
        !a.dtype().is(py::dtype::of<float>()) ||
        !(a.flags() & py::array::c_style) || a.size() != elements)
      throw NativeError{"weight #" + std::to_string(p.index) +
                            " must be a C-contiguous float32 array of " +
                            std::to_string(elements) +
                            " elements for its f32 tensor",
                        ""};
    data.emplace_back(a.data(), size_t(a.nbytes()));
  }
  ctx.run("cannot attach the weights", [&](std::string &reason) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const Placeholder &p = ops[i];
      const std::pair<const void *, size_t> &d = data[i];
      MlirAttribute attr =
          mlirDenseElementsAttrRawBufferGet(p.type, d.second, d.first);
      if (mlirAttributeIsNull(attr)) {
        reason = "weight #" + std::to_string(p.index) +
                 " does not fit its tensor type";
        return false;
      }
      mlirOperationSetAttributeByName(
          p.op, mlirStringRefCreateFromCString("values"), attr);
      mlirOperationRemoveAttributeByName(
          p.op, mlirStringRefCreateFromCString("qat.weight"));
    }
    return true;
  });
}

} // namespace

void qat_native::registerBytecode(py::module_ &m) {
  m.def("bytecode_of", &bytecodeOf, py::arg("module"),
        "The module as MLIR bytecode (bytes; locations kept).");
  m.def("parse_bytes", &parseBytes, py::arg("data"),
        py::arg("source_name") = "model.mlirbc",
        "A Module of MLIR bytecode (or text) in a bytes object, read in "
        "place.");
  m.def("attach_weights", &attachWeights, py::arg("module"), py::arg("weights"),
        "Sets the values of each op with qat.weight = i to weights[i] "
        "(float32 arrays) and drops qat.weight.");
}
