//===- Debug.cpp - per-layer values of a model, C API ---------------------===//

#include "qat-c/Debug.h"

#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/CAPI/IR.h"
#include "mlir/CAPI/Support.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <limits>

using namespace mlir;

/// The first NameLoc's name in `loc` (through fused and call-site
/// locations), or empty.
static std::string firstName(Location loc) {
  std::string found;
  loc->walk([&](Location l) {
    if (auto n = dyn_cast<NameLoc>(l)) {
      found = n.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

/// A splat (or one-element) constant's first value.
template <typename T> static bool constantValue(Value v, T &out) {
  DenseElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || attr.getNumElements() != 1)
    return false;
  if constexpr (std::is_floating_point_v<T>)
    out = (*attr.getValues<APFloat>().begin()).convertToDouble();
  else
    out = (*attr.getValues<APInt>().begin()).getSExtValue();
  return true;
}

intptr_t qatFunctionExposeNamedValues(MlirModule cModule, MlirStringRef cEntry,
                                      QatExposeKind kind,
                                      QatExposedValueCallback callback,
                                      void *userData) {
  ModuleOp module = unwrap(cModule);
  auto func = module.lookupSymbol<func::FuncOp>(unwrap(cEntry));
  if (!func || func.isExternal() || !func.getBody().hasOneBlock())
    return -1;
  Block &body = func.getBody().front();
  // Values computed from the arguments (constants, weights and their
  // quantizers are not layers' values).
  llvm::DenseSet<Value> live(body.getArguments().begin(),
                             body.getArguments().end());
  struct Exposed {
    Value value;
    double scale = std::numeric_limits<double>::quiet_NaN();
    int64_t zeroPoint = 0, quantMin = 0, quantMax = 0;
  };
  // In order of first appearance; a later op of the same name replaces
  // the value.
  std::vector<std::pair<std::string, Exposed>> named;
  llvm::StringMap<size_t> index;
  auto record = [&](const std::string &name, Exposed e) {
    auto [it, inserted] = index.try_emplace(name, named.size());
    if (inserted)
      named.emplace_back(name, e);
    else
      named[it->second].second = e;
  };
  for (Operation &op : body.without_terminator()) {
    if (llvm::none_of(op.getOperands(),
                      [&](Value v) { return live.contains(v); }))
      continue;
    for (Value r : op.getResults())
      live.insert(r);
    if (op.getNumResults() != 1 ||
        !isa<RankedTensorType>(op.getResult(0).getType()))
      continue;
    std::string name = firstName(op.getLoc());
    if (name.empty())
      continue;
    if (kind == QatExposeModules) {
      if (name.find(':') != std::string::npos)
        continue;
      record(name, Exposed{op.getResult(0)});
      continue;
    }
    auto fq = dyn_cast<qat::FakeQuantOp>(op);
    if (!fq || name.find(':') == std::string::npos)
      continue;
    Exposed e{fq.getResult()};
    double scale;
    int64_t zp;
    if (!fq.getAxis() && constantValue(fq.getScale(), scale) &&
        constantValue(fq.getZeroPoint(), zp)) {
      e.scale = scale;
      e.zeroPoint = zp;
    }
    e.quantMin = fq.getQuantMinAttr().getInt();
    e.quantMax = fq.getQuantMaxAttr().getInt();
    record(name, e);
  }
  Operation *ret = body.getTerminator();
  SmallVector<Value> results(ret->getOperands());
  SmallVector<Type> types(func.getFunctionType().getResults());
  for (auto &[name, e] : named) {
    results.push_back(e.value);
    types.push_back(e.value.getType());
    if (callback)
      callback(MlirStringRef{name.data(), name.size()}, e.scale, e.zeroPoint,
               e.quantMin, e.quantMax, userData);
  }
  ret->setOperands(results);
  func.setFunctionType(FunctionType::get(
      func.getContext(), func.getFunctionType().getInputs(), types));
  // Result attributes, if any, cover the old results only.
  if (ArrayAttr attrs = func.getAllResultAttrs()) {
    SmallVector<Attribute> all(attrs.begin(), attrs.end());
    all.resize(types.size(), DictionaryAttr::get(func.getContext()));
    func.setAllResultAttrs(all);
  }
  return static_cast<intptr_t>(named.size());
}
