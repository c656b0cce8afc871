//===- NPUCheck.cpp - compile for the NPU, simulate, compare with the CPU -===//
//
// Three copies of the model: the program (qat-lower-to-npu, exported for the
// simulator), the CPU integer model returning its output codes (before
// qat.dequantize), and the prologue returning the input codes (the
// qat.quantize of each float argument, which the caller of the NPU does).
// Both CPU copies run through the JIT of qat-run, so the NPU gets exactly
// the codes the CPU model computes from the same float inputs.
//
//===----------------------------------------------------------------------===//

#include "qat/Runtime/NPUCheck.h"
#include "qat/Conversion/QATToNPU/QATToNPU.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Runtime/Runner.h"
#include "qat/Support/Batches.h"
#include "qat/Support/Error.h"
#include "qat/Target/NPU/NPUTranslation.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cstring>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;

namespace {

FailureOr<func::FuncOp> getEntry(ModuleOp m, StringRef entry) {
  if (!entry.empty()) {
    auto f = m.lookupSymbol<func::FuncOp>(entry);
    if (!f)
      return failure();
    return f;
  }
  auto funcs = llvm::to_vector(m.getOps<func::FuncOp>());
  if (funcs.size() != 1)
    return failure();
  return funcs.front();
}

void setResults(func::FuncOp f, ArrayRef<Value> values) {
  auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret.getLoc(), values);
  ret.erase();
  f.setType(FunctionType::get(f.getContext(), f.getArgumentTypes(),
                              ValueRange(values).getTypes()));
  IRRewriter rewriter(f.getContext());
  (void)runRegionDCE(rewriter, f.getBody());
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

} // namespace

llvm::Expected<NPUCheckResult>
mlir::qat::runtime::checkOnNPU(ModuleOp module, ArrayRef<NpyArray> inputs,
                               const NPUCheckOptions &options) {
  NPUCheckResult result;
  FailureOr<func::FuncOp> entry = getEntry(module, options.entry);
  if (failed(entry))
    return makeError(options.entry.empty()
                     ? "the module must have one function (or name one)"
                     : "no function @" + options.entry);
  std::string name = entry->getSymName().str();
  SmallVector<Type> argTypes(entry->getArgumentTypes());

  // 1. The program.
  OwningOpRef<ModuleOp> npuModule = cast<ModuleOp>(module->clone());
  if (failed(
          lowerToNPU(*npuModule, name, options.config, options.doubleBuffer)))
    return makeError("compilation for the NPU failed (see the errors above)");
  FailureOr<npu::ir::ProgramOp> programOp = findNPUProgram(*npuModule);
  if (failed(programOp))
    return makeError("no npu.program after qat-lower-to-npu");
  FailureOr<npu::Program> program = exportNPUProgram(*programOp);
  if (failed(program))
    return makeError("the program could not be exported (see the errors above)");
  result.program = std::move(*program);

  // 2. The CPU model returning codes, and the prologue returning the input
  // codes the NPU takes.
  OwningOpRef<ModuleOp> codesModule = cast<ModuleOp>(module->clone());
  func::FuncOp codesFunc = *getEntry(*codesModule, name);
  {
    auto ret =
        cast<func::ReturnOp>(codesFunc.getBody().front().getTerminator());
    SmallVector<Value> values;
    for (Value v : ret.getOperands()) {
      auto dq = v.getDefiningOp<DequantizeOp>();
      values.push_back(dq ? dq.getInput() : v);
    }
    setResults(codesFunc, values);
  }
  OwningOpRef<ModuleOp> prologueModule = cast<ModuleOp>(module->clone());
  func::FuncOp prologueFunc = *getEntry(*prologueModule, name);
  SmallVector<bool> quantized;
  {
    SmallVector<Value> values;
    for (BlockArgument arg : prologueFunc.getArguments()) {
      QuantizeOp q = getInputQuantization(arg);
      quantized.push_back(bool(q));
      if (q)
        values.push_back(q.getResult());
    }
    setResults(prologueFunc, values);
  }
  bool needPrologue = llvm::is_contained(quantized, true);

  auto cpu = Runner::create(*codesModule, name);
  if (!cpu)
    return cpu.takeError();
  std::unique_ptr<Runner> prologue;
  if (needPrologue) {
    auto p = Runner::create(*prologueModule, name);
    if (!p)
      return p.takeError();
    prologue = std::move(*p);
  }

  // Batches.
  if (inputs.size() != argTypes.size())
    return makeError(llvm::formatv("@{0} takes {1} argument(s), got {2} input(s)",
                               name, argTypes.size(), inputs.size()));
  int64_t calls = 1;
  if (options.split) {
    SmallVector<BatchedArgument> batched;
    for (auto [i, t] : llvm::enumerate(argTypes)) {
      auto type = cast<RankedTensorType>(t);
      batched.push_back({SmallVector<int64_t>(type.getShape()),
                         llvm::formatv("argument #{0}", i).str()});
    }
    auto count = countBatches(inputs, batched);
    if (!count)
      return count.takeError();
    calls = *count;
    if (calls == 0)
      return makeError("--split: input #0 of shape " +
                       inputs[0].getShapeString() +
                       " holds no batch: nothing to compare");
  }
  result.batches = calls;

  // Output descriptions.
  std::vector<const npu::TensorDesc *> outDescs, inDescs;
  for (const npu::TensorDesc &t : result.program.tensors)
    (t.isOutput ? outDescs : inDescs).push_back(&t);
  auto ret = cast<func::ReturnOp>(entry->getBody().front().getTerminator());
  for (auto [i, d] : llvm::enumerate(outDescs)) {
    NPUCheckResult::Output o;
    o.name = d->name;
    std::string shape;
    for (auto [k, dim] : llvm::enumerate(d->shape))
      shape += (k ? "x" : "") + std::to_string(dim);
    o.type = shape + (d->dtype == npu::DType::I32 ? " i32" : " i8");
    o.scale = d->scale;
    o.zeroPoint = d->zeroPoint;
    o.dequantized = i < ret.getNumOperands() &&
                    ret.getOperand(i).getDefiningOp<DequantizeOp>();
    result.outputs.push_back(o);
  }
  result.npuResults.resize(outDescs.size());

  npu::SimOptions simOptions;
  simOptions.config = options.config;
  simOptions.checkRaces = options.checkRaces;
  for (int64_t c = 0; c < calls; ++c) {
    SmallVector<NpyArray> args;
    for (const NpyArray &a : inputs)
      args.push_back(options.split ? sliceBatch(a, c, calls) : a);
    // The codes the NPU takes.
    SmallVector<NpyArray> codes;
    auto t0 = std::chrono::steady_clock::now();
    if (prologue) {
      SmallVector<NpyArray> prologueArgs(args.begin(), args.end());
      if (auto err = prologue->run(prologueArgs, codes))
        return std::move(err);
    }
    std::vector<std::vector<uint8_t>> npuInputs;
    unsigned next = 0;
    for (auto [i, q] : llvm::enumerate(quantized)) {
      const NpyArray &a = q ? codes[next++] : args[i];
      if (a.kind != ElementKind::I8)
        return makeError(llvm::formatv("input #{0} must be int8 codes (the "
                                   "argument is i8), got {1}",
                                   i, getElementKindName(a.kind)));
      npuInputs.push_back(a.bytes);
    }
    SmallVector<NpyArray> cpuCodes;
    if (auto err = (*cpu)->run(args, cpuCodes))
      return std::move(err);
    result.cpuSeconds += seconds(t0);

    auto t1 = std::chrono::steady_clock::now();
    std::vector<std::vector<uint8_t>> npuOutputs;
    npu::SimReport report;
    std::string why = npu::simulate(result.program, simOptions, npuInputs,
                                    npuOutputs, report);
    result.simSeconds += seconds(t1);
    if (!why.empty())
      return makeError("simulator (batch " + std::to_string(c) + "): " + why);
    if (c == 0)
      result.report = report;

    for (size_t k = 0; k < result.outputs.size(); ++k) {
      NPUCheckResult::Output &o = result.outputs[k];
      const std::vector<uint8_t> &npuBytes = npuOutputs[k];
      const NpyArray &ref = cpuCodes[k];
      if (ref.kind != ElementKind::I8 || ref.bytes.size() != npuBytes.size())
        return makeError("output #" + std::to_string(k) +
                     ": the CPU model's codes are not " + o.type);
      for (size_t e = 0; e < npuBytes.size(); ++e) {
        int64_t diff = std::abs(int64_t(int8_t(npuBytes[e])) -
                                int64_t(int8_t(ref.bytes[e])));
        o.mismatches += diff != 0;
        o.maxDifference = std::max(o.maxDifference, diff);
      }
      o.elements += npuBytes.size();
      NpyArray r;
      r.shape = ref.shape;
      if (o.dequantized) {
        r.kind = ElementKind::F32;
        r.bytes.resize(npuBytes.size() * 4);
        for (size_t e = 0; e < npuBytes.size(); ++e) {
          // qat.dequantize: (f32(q) - f32(z)) * s, in f32.
          float v = (float(int8_t(npuBytes[e])) - float(o.zeroPoint)) * o.scale;
          std::memcpy(&r.bytes[e * 4], &v, 4);
        }
      } else {
        r.kind = ElementKind::I8;
        r.bytes = npuBytes;
      }
      if (auto err = appendBatch(result.npuResults[k], r, c == 0))
        return std::move(err);
    }
  }
  return result;
}
