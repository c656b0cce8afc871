//===- Batches.cpp - call a function once per batch of its inputs ---------===//

#include "qat/Support/Batches.h"
#include "qat/Support/Error.h"

using namespace mlir::qat;

llvm::Expected<int64_t>
mlir::qat::countBatches(llvm::ArrayRef<NpyArray> inputs,
                        llvm::ArrayRef<BatchedArgument> args) {
  if (inputs.size() != args.size())
    return makeError("--split: " + llvm::Twine(inputs.size()) +
                     " input(s) for " + llvm::Twine(args.size()) +
                     " argument(s)");
  int64_t calls = 1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NpyArray &array = inputs[i];
    llvm::ArrayRef<int64_t> shape = args[i].shape;
    int64_t batch = shape.empty() ? 0 : shape[0];
    bool ok = batch != kAnySize && batch > 0 &&
              array.shape.size() == shape.size() && array.shape[0] % batch == 0;
    for (size_t d = 1; ok && d < shape.size(); ++d)
      ok = shape[d] == kAnySize || shape[d] == array.shape[d];
    if (!ok)
      return makeError("--split: input #" + llvm::Twine(i) + " of shape " +
                       array.getShapeString() +
                       " is not a whole number of batches of " + args[i].name);
    int64_t n = array.shape[0] / batch;
    if (i == 0)
      calls = n;
    else if (n != calls)
      return makeError("--split: input #" + llvm::Twine(i) + " holds " +
                       llvm::Twine(n) + " batches, input #0 " +
                       llvm::Twine(calls));
  }
  return calls;
}

NpyArray mlir::qat::sliceBatch(const NpyArray &a, int64_t index,
                               int64_t count) {
  NpyArray out;
  out.kind = a.kind;
  out.shape = a.shape;
  out.shape[0] = a.shape[0] / count;
  size_t bytes = out.getNumElements() * getElementSize(a.kind);
  out.bytes.assign(a.bytes.begin() + index * bytes,
                   a.bytes.begin() + (index + 1) * bytes);
  return out;
}

llvm::Error mlir::qat::appendBatch(NpyArray &all, const NpyArray &part,
                                   bool first) {
  if (part.shape.empty())
    return makeError("--split: result of rank 0 cannot be concatenated");
  if (first) {
    all = part;
    return llvm::Error::success();
  }
  all.shape[0] += part.shape[0];
  all.bytes.insert(all.bytes.end(), part.bytes.begin(), part.bytes.end());
  return llvm::Error::success();
}
