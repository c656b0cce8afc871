//===- Module.cpp - parse, transform, print and inspect modules -----------===//
//
// Part of qat_mlir's native extension; Native.h describes the files.
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "qat-c/Debug.h"

#include "mlir-c/BuiltinAttributes.h"
#include "mlir-c/BuiltinTypes.h"
#include "mlir-c/Pass.h"

#include <cmath>

using namespace qat_native;

namespace {

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

} // namespace

// Lock order: the context's mutex is taken without the GIL (the progress
// callback takes the GIL while compilation holds the mutex).
Module::~Module() {
  if (!mlirModuleIsNull(module)) {
    py::gil_scoped_release release;
    std::lock_guard<std::recursive_mutex> lock(Context::get().mutex);
    mlirModuleDestroy(module);
  }
}

std::unique_ptr<Module> Module::parse(const std::string &text,
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

std::string Module::print(bool debugInfo, bool localScope, bool generic) const {
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
void Module::runPipeline(const std::string &pipeline) {
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

std::unique_ptr<Module> Module::clone() const {
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
py::list Module::functions() const {
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
      for (intptr_t i = 0, e = mlirFunctionTypeGetNumResults(type); i < e; ++i)
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
py::object Module::getAttribute(const std::string &name) const {
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

void Module::setAttribute(const std::string &name, const std::string &value) {
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
py::tuple Module::ioQuantization(const std::string &entry) const {
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
          !constant(mlirOperationGetOperand(op, 1), true, q.scale, unusedInt) ||
          !constant(mlirOperationGetOperand(op, 2), false, unused, q.zeroPoint))
        return;
      for (auto [attr, field] :
           {std::pair("quant_min", &q.qmin), std::pair("quant_max", &q.qmax)}) {
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
      MlirBlock block = mlirRegionGetFirstBlock(mlirOperationGetRegion(op, 0));
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
py::list Module::exposeNamedValues(const std::string &entry,
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
