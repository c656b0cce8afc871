//===- LayerGraph.h - a bpu integer model as NPU layers ---------*- C++ -*-===//
//
// The first half of qat-lower-to-npu: the analysis of a bpu integer model
// (func.func over TOSA + qat on int8 codes) into layers the NPU runs
// (convolution / depthwise / fully connected kernels with their bias and
// requantization, adds, max pools, concats, transposes) over tensors in
// DRAM storages. CodeGen.h turns the layers into instructions.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_QATTONPU_LAYERGRAPH_H
#define QAT_LIB_CONVERSION_QATTONPU_LAYERGRAPH_H

#include "qat/Conversion/QATToNPU/QATToNPU.h"
#include "qat/Dialect/NPU/IR/NPUOps.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <string>
#include <vector>

namespace mlir::qat::tonpu {

constexpr int64_t kAlign = 64;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t alignTo(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

inline std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

/// H x W x C of an NHWC shape (layer names fit the report's 40 columns).
inline std::string imageString(ArrayRef<int64_t> shape) {
  return shapeString(shape.size() == 4 ? shape.drop_front() : shape);
}

/// A dense row-major i8 array in DRAM; reshapes share it.
struct Storage {
  int64_t bytes = 0;
  int64_t addr = -1;
};

/// An i8 code tensor: its storage and its shape.
struct TensorRef {
  int storage = -1;
  SmallVector<int64_t> shape;
};

/// Fixed-point requantization of one layer's output channels (O values, or
/// one for a per-tensor parameter).
struct Requant {
  bool add = false;
  SmallVector<int32_t> m, n, mb;
  int32_t zo = 0, qmin = -128, qmax = 127;
  /// Zero points of the two operands of an add (the accumulator's is 0).
  int32_t zl = 0, zr = 0;
  TensorRef residual; ///< add with a residual: the rhs codes
  int32_t at(ArrayRef<int32_t> v, int64_t c) const {
    return v.size() == 1 ? v[0] : v[c];
  }
};

enum class LayerKind {
  Conv,
  Depthwise,
  Matmul,
  MaxPool,
  Add,
  Concat,
  Transpose
};

struct Layer {
  LayerKind kind;
  Operation *op;
  std::string name;
  uint64_t macs = 0;
  TensorRef in, in2, out;
  SmallVector<TensorRef> ins; ///< concat: every input
  /// A max pool fused into a kernel's epilogue (window = stride, no
  /// padding): its window, 0 without.
  int64_t poolH = 0, poolW = 0;
  int64_t axis = 0;           ///< concat
  SmallVector<int64_t> perms; ///< transpose: output dim d is input dim perms[d]
  // NHWC geometry: input N x H x W x C, output N x Ho x Wo x O.
  int64_t N = 1, H = 1, W = 1, C = 1, Ho = 1, Wo = 1, O = 1;
  int64_t KH = 1, KW = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;
  int32_t inZp = 0;
  int64_t M = 1; ///< depthwise channel multiplier: output channel c*M + m
  /// Conv/matmul: W[o][kh][kw][c]; depthwise: w[kh][kw][c][m].
  SmallVector<int8_t> weights;
  SmallVector<int32_t> bias; ///< per output channel
  Requant rq;
  // DRAM addresses of the layer's constants.
  int64_t weightAddr = -1, constAddr = -1;
};

class LayerGraph {
public:
  LayerGraph(func::FuncOp func, const npu::Config &config)
      : func(func), config(config) {}
  LogicalResult run();

  func::FuncOp func;
  npu::Config config;
  SmallVector<Storage> storages;
  std::vector<Layer> layers;
  struct IO {
    std::string name;
    TensorRef ref;
    float scale = 1.0f;
    int32_t zeroPoint = 0;
  };
  SmallVector<IO> inputs, outputs;

private:
  bool failed = false;
  InFlightDiagnostic error(Operation *op) {
    failed = true;
    return op->emitError() << "cannot run on the NPU: ";
  }
  TensorRef newTensor(ArrayRef<int64_t> shape) {
    Storage s;
    s.bytes = 1;
    for (int64_t d : shape)
      s.bytes *= d;
    storages.push_back(s);
    return TensorRef{int(storages.size() - 1), SmallVector<int64_t>(shape)};
  }
  std::optional<TensorRef> codes(Operation *user, Value v);
  void analyzeKernel(IntegerKernelOp op);
  void analyzeAdd(RescaleAddOp op);
  void analyzeMaxPool(tosa::MaxPool2dOp op);
  void analyzeConcat(tosa::ConcatOp op);
  void analyzeTranspose(tosa::TransposeOp op);

  DenseMap<Value, TensorRef> codesOf;
  llvm::DenseSet<Operation *> handled;
  unsigned counter[7] = {0, 0, 0, 0, 0, 0, 0};
};

} // namespace mlir::qat::tonpu

#endif // QAT_LIB_CONVERSION_QATTONPU_LAYERGRAPH_H
