//===- Runner.cpp - JIT-compile and call one function ---------------------===//

#include "qat/Runtime/Runner.h"
#include "qat/Support/Batches.h"
#include "qat/Support/Error.h"
#include "qat/Runtime/Executable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/ScopedPrinter.h"

#include <chrono>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace runtime = mlir::qat::runtime;


Runner::~Runner() = default;

llvm::Expected<std::unique_ptr<Runner>>
Runner::create(ModuleOp module, StringRef entry, unsigned optLevel,
               const LoweringOptions &options,
               const ProgressCallback &progress) {
  // The tensor types, before the lowering replaces the function.
  SmallVector<RankedTensorType> argTypes, resultTypes;
  if (auto func = module.lookupSymbol<func::FuncOp>(entry)) {
    for (Type t : func.getArgumentTypes())
      if (auto tensor = dyn_cast<RankedTensorType>(t))
        argTypes.push_back(tensor);
    for (Type t : func.getResultTypes())
      if (auto tensor = dyn_cast<RankedTensorType>(t))
        resultTypes.push_back(tensor);
  }
  auto executable =
      Executable::create(module, {entry.str()}, optLevel, options, progress);
  if (!executable)
    return executable.takeError();
  std::unique_ptr<Runner> runner(new Runner());
  runner->entry = entry.str();
  runner->argTypes = std::move(argTypes);
  runner->resultTypes = std::move(resultTypes);
  runner->executable = std::move(*executable);
  return runner;
}

llvm::Error Runner::run(llvm::ArrayRef<NpyArray> inputs,
                        llvm::SmallVectorImpl<NpyArray> &outputs,
                        int64_t repeat, double *secondsPerCall) {
  const FunctionSignature &sig = executable->getSignature(0);
  if (inputs.size() != sig.arguments.size())
    return makeError("@" + entry + " takes " +
                     llvm::Twine(sig.arguments.size()) + " argument(s), got " +
                     llvm::Twine(inputs.size()) + " input(s)");
  // The code never writes into its arguments (lowerEntriesToLLVM marks
  // them read-only), so the arrays are passed as they are.
  SmallVector<BufferRef> args, results;
  for (const NpyArray &array : inputs)
    args.push_back({const_cast<uint8_t *>(array.bytes.data()),
                    array.kind,
                    array.shape,
                    {}});
  outputs.clear();
  for (const TensorSpec &spec : sig.results) {
    NpyArray out;
    out.kind = spec.kind;
    out.shape.assign(spec.shape.begin(), spec.shape.end());
    out.bytes.resize(out.getNumElements() * getElementSize(out.kind));
    outputs.push_back(std::move(out));
  }
  for (NpyArray &out : outputs)
    results.push_back({out.bytes.data(), out.kind, out.shape, {}});

  // When timing, one untimed call first (caches, the first touch of the
  // arena's pages).
  if (repeat > 1)
    if (auto err = executable->call(0, args, results))
      return err;
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < std::max<int64_t>(1, repeat); ++i)
    if (auto err = executable->call(0, args, results))
      return err;
  auto end = std::chrono::steady_clock::now();
  if (secondsPerCall)
    *secondsPerCall = std::chrono::duration<double>(end - start).count() /
                      std::max<int64_t>(1, repeat);
  return llvm::Error::success();
}

llvm::Error Runner::runBatches(llvm::ArrayRef<NpyArray> inputs,
                               llvm::SmallVectorImpl<NpyArray> &outputs,
                               int64_t repeat, double *secondsPerBatch,
                               int64_t *batches) {
  if (inputs.size() != argTypes.size())
    return makeError("@" + entry + " takes " + llvm::Twine(argTypes.size()) +
                     " argument(s), got " + llvm::Twine(inputs.size()) +
                     " input(s)");
  SmallVector<BatchedArgument> args;
  for (auto [i, type] : llvm::enumerate(argTypes))
    args.push_back({SmallVector<int64_t>(type.getShape()),
                    "@" + entry + " argument #" + std::to_string(i) + " (" +
                        llvm::to_string(type) + ")"});
  auto calls = countBatches(inputs, args);
  if (!calls)
    return calls.takeError();
  double seconds = 0;
  outputs.clear();
  // No batch (inputs of shape (0, ...)): no call, and results of shape
  // (0, ...), as NumPy would concatenate zero batches.
  if (*calls == 0)
    for (auto [i, type] : llvm::enumerate(resultTypes)) {
      if (type.getRank() == 0)
        return makeError("--split: result of rank 0 cannot be concatenated");
      NpyArray empty;
      empty.kind = *getElementKind(type.getElementType());
      empty.shape.assign(type.getShape().begin(), type.getShape().end());
      empty.shape[0] = 0;
      outputs.push_back(std::move(empty));
    }
  for (int64_t c = 0; c < *calls; ++c) {
    SmallVector<NpyArray> batchArgs, batchResults;
    for (const NpyArray &a : inputs)
      batchArgs.push_back(sliceBatch(a, c, *calls));
    double s = 0;
    if (auto err = run(batchArgs, batchResults, repeat, &s))
      return makeError("batch " + llvm::Twine(c) + ": " +
                       llvm::toString(std::move(err)));
    seconds += s;
    if (c == 0)
      outputs.resize(batchResults.size());
    for (auto [all, part] : llvm::zip(outputs, batchResults))
      if (auto err = appendBatch(all, part, c == 0))
        return err;
  }
  if (secondsPerBatch)
    *secondsPerBatch = seconds;
  if (batches)
    *batches = *calls;
  return llvm::Error::success();
}
