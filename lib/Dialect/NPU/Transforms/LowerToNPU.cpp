//===- LowerToNPU.cpp - qat-lower-to-npu ----------------------------------===//
//
// Compiles a bpu integer model (qat-convert-to-integer with fixed-point or
// shift requantization) into an npu.program: analysis of the graph into
// layers (convolution / depthwise / fully connected kernels with their bias
// and requantization, adds, max pools), the DRAM layout (packed weights and
// constant ACC rows first, then the inputs and every activation), then the
// instruction stream: each layer tiled into pieces that fit half of INP and
// ACC, double-buffered between the load, compute and store modules through
// dependency tokens. Semantics: Passes.td and docs/NPU.md ("Compiling for
// the NPU").
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/NPU/Transforms/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERTONPUPASS
#include "qat/Dialect/NPU/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

constexpr int64_t kAlign = 64;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t alignTo(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

/// H x W x C of an NHWC shape (layer names fit the report's 40 columns).
std::string imageString(ArrayRef<int64_t> shape) {
  return shapeString(shape.size() == 4 ? shape.drop_front() : shape);
}

//===----------------------------------------------------------------------===//
// The graph as layers
//===----------------------------------------------------------------------===//

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

/// An instruction and its micro-ops, before it becomes an op.
struct Insn {
  npu::Instruction insn;
  SmallVector<npu::MicroOp> uops;
};

//===----------------------------------------------------------------------===//
// The analysis: func.func -> layers
//===----------------------------------------------------------------------===//

class Analysis {
public:
  Analysis(func::FuncOp func, const npu::Config &config)
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
  void analyzeKernel(Operation *op);
  void analyzeAdd(RescaleAddOp op);
  void analyzeMaxPool(tosa::MaxPool2dOp op);
  void analyzeConcat(tosa::ConcatOp op);
  void analyzeTranspose(tosa::TransposeOp op);
  bool requant(Operation *user, Operation *rescale, Value acc, int64_t O,
               Requant &rq);

  DenseMap<Value, TensorRef> codesOf;
  llvm::DenseSet<Operation *> handled;
  unsigned counter[7] = {0, 0, 0, 0, 0, 0, 0};
};

/// The constant integer values of `v`, or nullopt.
std::optional<SmallVector<int64_t>> constInts(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isExpansionBounded(attr, attr.getNumElements()))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &x : attr.getValues<APInt>())
    out.push_back(x.getSExtValue());
  return out;
}

std::optional<float> constF32(Value v) {
  DenseFPElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  return (*attr.getValues<APFloat>().begin()).convertToFloat();
}

bool isI8(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isInteger(8) && t.hasStaticShape();
}

std::optional<TensorRef> Analysis::codes(Operation *user, Value v) {
  auto it = codesOf.find(v);
  if (it != codesOf.end())
    return it->second;
  Operation *def = v.getDefiningOp();
  error(user) << "its operand #"
              << llvm::find(user->getOperands(), v) - user->operand_begin()
              << " is not int8 codes computed on the NPU"
              << (def ? " (it comes from '" +
                            def->getName().getStringRef().str() + "')"
                      : std::string(" (a function argument that is not i8 or "
                                    "not quantized by qat.quantize)"));
  return std::nullopt;
}

/// Reads the requantization of `rescale` (qat.rescale of `acc`, or
/// qat.rescale_add with `acc` as one operand) into `rq`.
bool Analysis::requant(Operation *user, Operation *rescale, Value acc,
                       int64_t O, Requant &rq) {
  auto perChannel = [&](std::optional<uint64_t> axis, Value result) -> bool {
    if (!axis)
      return true;
    auto t = cast<RankedTensorType>(result.getType());
    if (int64_t(*axis) != t.getRank() - 1 || t.getShape().back() != O) {
      error(rescale) << "per-channel requantization must be on the channel "
                        "(last) axis of size "
                     << O;
      return false;
    }
    return true;
  };
  auto vec = [&](Value v, StringRef what,
                 SmallVectorImpl<int32_t> &out) -> bool {
    auto c = constInts(v);
    if (!c || (c->size() != 1 && int64_t(c->size()) != O)) {
      error(rescale) << "its " << what
                     << " must be a constant per tensor or per channel";
      return false;
    }
    for (int64_t x : *c)
      out.push_back(int32_t(x));
    return true;
  };
  auto scalar = [&](Value v, StringRef what, int32_t &out) -> bool {
    auto c = constInts(v);
    if (!c || c->empty() ||
        llvm::any_of(*c, [&](int64_t x) { return x != (*c)[0]; })) {
      error(rescale) << "its " << what
                     << " must be one constant (the ALU takes one immediate)";
      return false;
    }
    out = int32_t((*c)[0]);
    return true;
  };
  auto shifts = [&](SmallVectorImpl<int32_t> &n) {
    for (int32_t s : n)
      if (s < 1 || s > 62) {
        error(rescale) << "shift " << s
                       << " outside the ALU's range [1, 62] (RESCALE)";
        return false;
      }
    return true;
  };
  if (auto r = dyn_cast<RescaleOp>(rescale)) {
    if (!perChannel(r.getAxis(), r.getResult()))
      return false;
    rq.add = false;
    if (!vec(r.getMultiplier(), "multiplier", rq.m) ||
        !vec(r.getShift(), "shift", rq.n) || !shifts(rq.n) ||
        !scalar(r.getZeroPoint(), "output zero point", rq.zo))
      return false;
    rq.qmin = int32_t(int64_t(r.getQuantMin()));
    rq.qmax = int32_t(int64_t(r.getQuantMax()));
    return true;
  }
  auto r = cast<RescaleAddOp>(rescale);
  if (!perChannel(r.getAxis(), r.getResult()))
    return false;
  rq.add = true;
  bool accIsLhs = r.getLhs() == acc;
  Value other = accIsLhs ? r.getRhs() : r.getLhs();
  int32_t accZp, otherZp;
  if (!vec(accIsLhs ? r.getLhsMultiplier() : r.getRhsMultiplier(),
           "accumulator multiplier", rq.m) ||
      !vec(accIsLhs ? r.getRhsMultiplier() : r.getLhsMultiplier(),
           "residual multiplier", rq.mb) ||
      !vec(r.getShift(), "shift", rq.n) || !shifts(rq.n) ||
      !scalar(r.getZeroPoint(), "output zero point", rq.zo) ||
      !scalar(accIsLhs ? r.getLhsZeroPoint() : r.getRhsZeroPoint(),
              "accumulator zero point", accZp) ||
      !scalar(accIsLhs ? r.getRhsZeroPoint() : r.getLhsZeroPoint(),
              "residual zero point", otherZp))
    return false;
  if (accZp != 0) {
    error(rescale) << "the zero point of an int32 accumulator must be 0 "
                      "(found "
                   << accZp << ")";
    return false;
  }
  rq.zr = otherZp;
  auto res = codes(rescale, other);
  if (!res)
    return false;
  rq.residual = *res;
  rq.qmin = int32_t(int64_t(r.getQuantMin()));
  rq.qmax = int32_t(int64_t(r.getQuantMax()));
  return true;
}

/// conv2d / depthwise_conv2d / matmul on codes with constant weights,
/// [reshape]* [add constant bias]* then qat.rescale or qat.rescale_add.
void Analysis::analyzeKernel(Operation *op) {
  Layer L;
  L.op = op;
  handled.insert(op);
  auto accType = cast<RankedTensorType>(op->getResult(0).getType());
  if (!accType.getElementType().isInteger(32)) {
    error(op) << "its accumulator must be i32 (the NPU accumulates int8 "
                 "products in int32), got "
              << accType.getElementType();
    return;
  }
  Value input = op->getOperand(0), weight = op->getOperand(1);
  if (!isI8(input) || !isI8(weight)) {
    error(op) << "its input and weight must be int8 codes";
    return;
  }
  auto in = codes(op, input);
  if (!in)
    return;
  L.in = *in;
  DenseIntElementsAttr wAttr;
  if (!matchPattern(weight, m_Constant(&wAttr))) {
    error(op) << "its weight must be a constant (the NPU packs weights at "
                 "compile time)";
    return;
  }
  if (!isExpansionBounded(wAttr, wAttr.getNumElements())) {
    error(op) << "its weight is a splat of " << wAttr.getNumElements()
              << " elements, more than the " << kMaxSplatExpansion
              << " a pass writes out";
    return;
  }
  SmallVector<int8_t> w;
  for (const APInt &x : wAttr.getValues<APInt>())
    w.push_back(int8_t(x.getSExtValue()));
  ArrayRef<int64_t> wShape =
      cast<RankedTensorType>(weight.getType()).getShape();
  ArrayRef<int64_t> inShape =
      cast<RankedTensorType>(input.getType()).getShape();

  FailureOr<int64_t> inZp = failure(), wZp = failure();
  SmallVector<int32_t> bias;
  if (auto conv = dyn_cast<tosa::Conv2DOp>(op)) {
    L.kind = LayerKind::Conv;
    inZp = conv.getInputZeroPoint();
    wZp = conv.getWeightZeroPoint();
    L.N = inShape[0], L.H = inShape[1], L.W = inShape[2], L.C = inShape[3];
    L.O = wShape[0], L.KH = wShape[1], L.KW = wShape[2];
    L.padTop = conv.getPad()[0], L.padBottom = conv.getPad()[1];
    L.padLeft = conv.getPad()[2], L.padRight = conv.getPad()[3];
    L.sh = conv.getStride()[0], L.sw = conv.getStride()[1];
    L.dh = conv.getDilation()[0], L.dw = conv.getDilation()[1];
    L.weights = w;
    auto b = constInts(conv.getBias());
    if (!b) {
      error(op) << "its bias must be a constant";
      return;
    }
    for (int64_t x : *b)
      bias.push_back(int32_t(x));
  } else if (auto dwc = dyn_cast<tosa::DepthwiseConv2DOp>(op)) {
    L.kind = LayerKind::Depthwise;
    inZp = dwc.getInputZeroPoint();
    wZp = dwc.getWeightZeroPoint();
    L.M = wShape[3];
    int64_t B = std::min(config.blockIn, config.blockOut);
    if (B % L.M) {
      error(op) << "depthwise channel multiplier " << L.M
                << " must divide the block size " << B
                << " (an output block's inputs then lie in one input block)";
      return;
    }
    L.N = inShape[0], L.H = inShape[1], L.W = inShape[2], L.C = inShape[3];
    L.O = L.C * L.M, L.KH = wShape[0], L.KW = wShape[1];
    L.padTop = dwc.getPad()[0], L.padBottom = dwc.getPad()[1];
    L.padLeft = dwc.getPad()[2], L.padRight = dwc.getPad()[3];
    L.sh = dwc.getStride()[0], L.sw = dwc.getStride()[1];
    L.dh = dwc.getDilation()[0], L.dw = dwc.getDilation()[1];
    L.weights = w; // [KH][KW][C][M]
    auto b = constInts(dwc.getBias());
    if (!b) {
      error(op) << "its bias must be a constant";
      return;
    }
    for (int64_t x : *b)
      bias.push_back(int32_t(x));
  } else {
    auto mm = cast<tosa::MatMulOp>(op);
    L.kind = LayerKind::Matmul;
    inZp = mm.getAZeroPoint();
    wZp = mm.getBZeroPoint();
    if (inShape[0] != 1 || wShape[0] != 1) {
      error(op) << "a batched matmul (batch " << inShape[0]
                << ") is not a fully connected layer; the NPU lowering takes "
                   "batch 1 with a constant [1, K, N] weight";
      return;
    }
    // Rows as pixels: N=1, H=1, W=M, C=K, O=N.
    L.N = 1, L.H = 1, L.W = inShape[1], L.C = inShape[2], L.O = wShape[2];
    L.weights.assign(L.O * L.C, 0);
    for (int64_t k = 0; k < L.C; ++k)
      for (int64_t n = 0; n < L.O; ++n)
        L.weights[n * L.C + k] = w[k * L.O + n];
    bias.assign(L.O, 0);
  }
  if (mlir::failed(inZp) || mlir::failed(wZp)) {
    error(op) << "its zero points must be constants";
    return;
  }
  if (*wZp != 0) {
    error(op) << "weight zero point " << *wZp
              << " (the NPU takes symmetric weights, zero point 0)";
    return;
  }
  L.inZp = int32_t(*inZp);
  if (bias.size() == 1)
    bias.assign(L.O, bias[0]);
  if (int64_t(bias.size()) != L.O) {
    error(op) << "its bias has " << bias.size() << " values for " << L.O
              << " output channels";
    return;
  }
  if (L.kind != LayerKind::Matmul) {
    auto outShape = accType.getShape();
    L.Ho = outShape[1], L.Wo = outShape[2];
  } else {
    L.Ho = 1, L.Wo = L.W;
  }
  for (int64_t p : {L.padTop, L.padBottom, L.padLeft, L.padRight})
    if (p > 255) {
      error(op) << "padding " << p << " exceeds 255 (the LOAD pad fields)";
      return;
    }

  // The chain to the requantization.
  Value cur = op->getResult(0);
  Operation *rescale = nullptr;
  while (!rescale) {
    if (!cur.hasOneUse()) {
      error(op) << "its int32 accumulator has "
                << std::distance(cur.use_begin(), cur.use_end())
                << " users; the NPU requantizes it once (qat.rescale or "
                   "qat.rescale_add)";
      return;
    }
    Operation *user = *cur.getUsers().begin();
    handled.insert(user);
    if (isa<tosa::ReshapeOp>(user)) {
      cur = user->getResult(0);
      continue;
    }
    if (isa<tosa::AddOp>(user)) {
      Value other = user->getOperand(0) == cur ? user->getOperand(1)
                                               : user->getOperand(0);
      auto b = constInts(other);
      int64_t n = b ? int64_t(b->size()) : 0;
      if (!b || (n != 1 && n != L.O) ||
          user->getResult(0).getType() != cur.getType()) {
        error(user) << "an int32 add after '" << op->getName()
                    << "' must add a constant bias (per tensor or per "
                       "output channel)";
        return;
      }
      for (int64_t o = 0; o < L.O; ++o)
        bias[o] = int32_t(uint32_t(bias[o]) + uint32_t((*b)[n == 1 ? 0 : o]));
      cur = user->getResult(0);
      continue;
    }
    if (isa<RescaleOp, RescaleAddOp>(user)) {
      rescale = user;
      break;
    }
    if (isa<RequantizeOp, RequantizeAddOp>(user)) {
      error(user) << "float-multiplier requantization; the NPU's ALU "
                     "requantizes in fixed point (prepare the model for the "
                     "'bpu' target)";
      return;
    }
    error(user) << "it consumes the int32 accumulator of '" << op->getName()
                << "'; the NPU requantizes an accumulator with qat.rescale or "
                   "qat.rescale_add only";
    return;
  }
  if (!requant(op, rescale, cur, L.O, L.rq))
    return;
  // The input zero point: padding and extra lanes read it; its
  // -z * sum(w) goes into the bias (TOSA subtracts it from every input).
  if (L.inZp != 0) {
    int64_t taps = L.KH * L.KW;
    for (int64_t o = 0; o < L.O; ++o) {
      int64_t sum = 0;
      if (L.kind == LayerKind::Depthwise)
        for (int64_t t = 0; t < taps; ++t)
          sum += L.weights[t * L.O + o]; // [t][c][m] at t * C * M + o
      else
        for (int64_t k = 0; k < taps * L.C; ++k)
          sum += L.weights[o * taps * L.C + k];
      bias[o] = int32_t(uint32_t(bias[o]) - uint32_t(L.inZp) * uint32_t(sum));
    }
    if (L.inZp < -128 || L.inZp > 127) {
      error(op) << "input zero point " << L.inZp << " is not an int8";
      return;
    }
  }
  L.bias = bias;
  Value result = rescale->getResult(0);
  // A max pool of non-overlapping windows that tile the output runs in the
  // kernel's epilogue, on the requantized codes still in ACC.
  std::string pooled;
  if (L.kind != LayerKind::Matmul && result.hasOneUse())
    if (auto pool = dyn_cast<tosa::MaxPool2dOp>(*result.getUsers().begin())) {
      ArrayRef<int64_t> k = pool.getKernel(), st = pool.getStride();
      if (k == st &&
          llvm::all_of(pool.getPad(), [](int64_t p) { return !p; }) &&
          L.Ho % k[0] == 0 && L.Wo % k[1] == 0) {
        L.poolH = k[0], L.poolW = k[1];
        handled.insert(pool);
        result = pool.getResult();
        pooled = llvm::formatv(" +pool{0}x{1}", k[0], k[1]).str();
      }
    }
  L.out = newTensor(cast<RankedTensorType>(result.getType()).getShape());
  codesOf[result] = L.out;
  const char *kinds[] = {"conv2d", "depthwise_conv2d", "matmul"};
  unsigned k = unsigned(L.kind);
  // E.g. "conv2d_0 3x3/1 28x28x1->14x14x8 +pool2x2" (shapes without the
  // batch); the full shapes are the program's tensors.
  L.name =
      llvm::formatv("{0}_{1} {2}x{3}/{4} {5}->{6}{7}{8}", kinds[k],
                    counter[k]++, L.KH, L.KW, L.sh, imageString(inShape),
                    imageString(L.out.shape), L.rq.add ? " +res" : "", pooled)
          .str();
  if (L.kind == LayerKind::Matmul)
    L.name = llvm::formatv("{0}_{1} {2}x{3}->{2}x{4}", kinds[k], counter[k] - 1,
                           L.W, L.C, L.O)
                 .str();
  L.macs = uint64_t(L.N) * L.Ho * L.Wo * L.O * L.KH * L.KW *
           (L.kind == LayerKind::Depthwise ? 1 : L.C);
  layers.push_back(std::move(L));
}

void Analysis::analyzeAdd(RescaleAddOp op) {
  handled.insert(op);
  if (!isI8(op.getLhs()) || !isI8(op.getRhs())) {
    error(op) << "a qat.rescale_add of an int32 value that is not the "
                 "accumulator of a convolution or matmul";
    return;
  }
  Layer L;
  L.kind = LayerKind::Add;
  L.op = op;
  auto a = codes(op, op.getLhs()), b = codes(op, op.getRhs());
  if (!a || !b)
    return;
  L.in = *a, L.in2 = *b;
  if (op.getAxis()) {
    error(op) << "a per-channel qat.rescale_add of two int8 tensors (the "
                 "NPU lowering adds per tensor)";
    return;
  }
  auto one = [&](Value v, StringRef what, int32_t &out) {
    auto c = constInts(v);
    if (!c || c->size() != 1) {
      error(op) << "its " << what << " must be a per-tensor constant";
      return false;
    }
    out = int32_t((*c)[0]);
    return true;
  };
  int32_t ma, mb, n;
  if (!one(op.getLhsMultiplier(), "lhs multiplier", ma) ||
      !one(op.getRhsMultiplier(), "rhs multiplier", mb) ||
      !one(op.getShift(), "shift", n) ||
      !one(op.getZeroPoint(), "output zero point", L.rq.zo) ||
      !one(op.getLhsZeroPoint(), "lhs zero point", L.rq.zl) ||
      !one(op.getRhsZeroPoint(), "rhs zero point", L.rq.zr))
    return;
  if (n < 1 || n > 62) {
    error(op) << "shift " << n << " outside the ALU's range [1, 62]";
    return;
  }
  L.rq.add = true;
  L.rq.m = {ma}, L.rq.mb = {mb}, L.rq.n = {n};
  L.rq.qmin = int32_t(int64_t(op.getQuantMin()));
  L.rq.qmax = int32_t(int64_t(op.getQuantMax()));
  L.out = newTensor(op.getResult().getType().getShape());
  codesOf[op.getResult()] = L.out;
  L.name = llvm::formatv("add_{0} {1}", counter[4]++, shapeString(L.out.shape))
               .str();
  layers.push_back(std::move(L));
}

void Analysis::analyzeMaxPool(tosa::MaxPool2dOp op) {
  handled.insert(op);
  if (!isI8(op.getInput())) {
    error(op) << "max pooling of a value that is not int8 codes";
    return;
  }
  auto in = codes(op, op.getInput());
  if (!in)
    return;
  Layer L;
  L.kind = LayerKind::MaxPool;
  L.op = op;
  L.in = *in;
  ArrayRef<int64_t> s = in->shape;
  L.N = s[0], L.H = s[1], L.W = s[2], L.C = s[3], L.O = s[3];
  auto outShape = op.getType().getShape();
  L.Ho = outShape[1], L.Wo = outShape[2];
  L.KH = op.getKernel()[0], L.KW = op.getKernel()[1];
  L.sh = op.getStride()[0], L.sw = op.getStride()[1];
  L.padTop = op.getPad()[0], L.padBottom = op.getPad()[1];
  L.padLeft = op.getPad()[2], L.padRight = op.getPad()[3];
  for (int64_t p : {L.padTop, L.padBottom, L.padLeft, L.padRight})
    if (p > 255) {
      error(op) << "padding " << p << " exceeds 255 (the LOAD pad fields)";
      return;
    }
  L.out = newTensor(outShape);
  codesOf[op.getResult()] = L.out;
  L.name =
      llvm::formatv("max_pool2d_{0} {1}x{2}/{3} {4}->{5}", counter[3]++, L.KH,
                    L.KW, L.sh, imageString(s), imageString(outShape))
          .str();
  layers.push_back(std::move(L));
}

/// A concat of int8 codes on one grid (the target shares its scale): a copy
/// of each input into its columns of the output.
void Analysis::analyzeConcat(tosa::ConcatOp op) {
  handled.insert(op);
  if (!isI8(op.getResult())) {
    error(op) << "a concat of values that are not int8 codes";
    return;
  }
  Layer L;
  L.kind = LayerKind::Concat;
  L.op = op;
  L.axis = op.getAxis();
  for (Value v : op.getInput1()) {
    auto in = codes(op, v);
    if (!in)
      return;
    L.ins.push_back(*in);
  }
  L.out = newTensor(op.getType().getShape());
  codesOf[op.getResult()] = L.out;
  L.name = llvm::formatv("concat_{0} {1} inputs->{2} axis {3}", counter[5]++,
                         L.ins.size(), shapeString(L.out.shape), L.axis)
               .str();
  layers.push_back(std::move(L));
}

/// A transpose of int8 codes: a DMA gather through ACC (identity
/// permutations are aliases).
void Analysis::analyzeTranspose(tosa::TransposeOp op) {
  handled.insert(op);
  if (!isI8(op.getInput1())) {
    error(op) << "a transpose of a value that is not int8 codes";
    return;
  }
  auto in = codes(op, op.getInput1());
  if (!in)
    return;
  SmallVector<int64_t> perms(op.getPerms().begin(), op.getPerms().end());
  SmallVector<int64_t> outShape(op.getType().getShape());
  // Dimensions of size 1 do not move data: the same bytes when the others
  // keep their order.
  SmallVector<int64_t> moved;
  for (int64_t p : perms)
    if (in->shape[p] != 1)
      moved.push_back(p);
  if (llvm::is_sorted(moved)) {
    TensorRef r = *in;
    r.shape = outShape;
    codesOf[op.getResult()] = r;
    return;
  }
  Layer L;
  L.kind = LayerKind::Transpose;
  L.op = op;
  L.in = *in;
  L.perms = perms;
  L.out = newTensor(outShape);
  codesOf[op.getResult()] = L.out;
  std::string p;
  for (auto [i, x] : llvm::enumerate(perms))
    p += (i ? "," : "") + std::to_string(x);
  L.name = llvm::formatv("transpose_{0} {1}->{2} ({3})", counter[6]++,
                         shapeString(in->shape), shapeString(outShape), p)
               .str();
  layers.push_back(std::move(L));
}

LogicalResult Analysis::run() {
  if (!func.getBody().hasOneBlock())
    return func.emitError("cannot run on the NPU: the function must have one "
                          "block");
  // Inputs: i8 arguments, or f32 arguments quantized once by qat.quantize.
  for (BlockArgument arg : func.getArguments()) {
    IO io;
    io.name = "arg" + std::to_string(arg.getArgNumber());
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || !type.hasStaticShape()) {
      failed = true;
      func.emitError("cannot run on the NPU: argument #")
          << arg.getArgNumber() << " is not a statically shaped tensor";
      continue;
    }
    if (isI8(arg)) {
      io.ref = newTensor(type.getShape());
      codesOf[arg] = io.ref;
      inputs.push_back(io);
      continue;
    }
    if (!type.getElementType().isF32()) {
      failed = true;
      func.emitError("cannot run on the NPU: argument #")
          << arg.getArgNumber() << " is " << type
          << "; the NPU takes int8 codes, or an f32 argument that one "
             "qat.quantize turns into codes";
      continue;
    }
    // The caller quantizes the argument, after the layout ops (reshape,
    // transpose) that may precede its quantizer.
    SmallVector<Operation *> layout;
    QuantizeOp q = getInputQuantization(arg, &layout);
    if (q && !isI8(q.getResult()))
      q = nullptr;
    for (Operation *u : arg.getUsers())
      if (!q || (u != q && u != (layout.empty() ? nullptr : layout.front())))
        error(u) << "it uses the float argument #" << arg.getArgNumber()
                 << "; the NPU takes int8 codes (one qat.quantize of the "
                    "argument, after reshapes or transposes, done by the "
                    "caller)";
    for (Operation *l : layout)
      handled.insert(l);
    if (!q) {
      if (!arg.use_empty())
        continue;
      failed = true;
      func.emitError("cannot run on the NPU: argument #")
          << arg.getArgNumber() << " is unused and not int8";
      continue;
    }
    auto s = constF32(q.getScale());
    auto z = constInts(q.getZeroPoint());
    if (!s || !z || z->size() != 1 || q.getAxis()) {
      error(q) << "the input quantization must be per tensor with constant "
                  "parameters";
      continue;
    }
    handled.insert(q);
    io.scale = *s;
    io.zeroPoint = int32_t((*z)[0]);
    io.ref = newTensor(q.getResult().getType().getShape());
    codesOf[q.getResult()] = io.ref;
    inputs.push_back(io);
  }
  for (Operation &op : func.getBody().front()) {
    if (handled.contains(&op) || failed)
      continue;
    if (op.hasTrait<OpTrait::ConstantLike>() || isa<tosa::ConstShapeOp>(op))
      continue;
    if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op)) {
      analyzeKernel(&op);
      continue;
    }
    if (auto add = dyn_cast<RescaleAddOp>(op)) {
      analyzeAdd(add);
      continue;
    }
    if (auto pool = dyn_cast<tosa::MaxPool2dOp>(op)) {
      analyzeMaxPool(pool);
      continue;
    }
    if (auto concat = dyn_cast<tosa::ConcatOp>(op)) {
      analyzeConcat(concat);
      continue;
    }
    if (auto transpose = dyn_cast<tosa::TransposeOp>(op)) {
      analyzeTranspose(transpose);
      continue;
    }
    if (auto reshape = dyn_cast<tosa::ReshapeOp>(op)) {
      if (!isI8(reshape.getInput1())) {
        error(&op) << "a reshape of a value that is not int8 codes";
        continue;
      }
      auto in = codes(&op, reshape.getInput1());
      if (!in)
        continue;
      TensorRef r = *in;
      r.shape.assign(reshape.getType().getShape().begin(),
                     reshape.getType().getShape().end());
      codesOf[reshape.getResult()] = r;
      continue;
    }
    if (isa<DequantizeOp>(op)) {
      for (Operation *u : op.getUsers())
        if (!isa<func::ReturnOp>(u))
          error(u) << "it computes on floats (the dequantized result of '"
                   << op.getName() << "'); the NPU computes on int8 codes only";
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        IO io;
        io.name = "result" + std::to_string(i);
        Value codesValue = v;
        if (auto dq = v.getDefiningOp<DequantizeOp>()) {
          auto s = constF32(dq.getScale());
          auto z = constInts(dq.getZeroPoint());
          if (!s || !z || z->size() != 1) {
            error(dq) << "the output dequantization must be per tensor with "
                         "constant parameters";
            continue;
          }
          io.scale = *s;
          io.zeroPoint = int32_t((*z)[0]);
          codesValue = dq.getInput();
        } else if (!isI8(v)) {
          error(ret) << "result #" << i
                     << " is neither int8 codes nor their qat.dequantize";
          continue;
        }
        auto r = codes(ret, codesValue);
        if (!r)
          continue;
        io.ref = *r;
        outputs.push_back(io);
      }
      continue;
    }
    if (isa<RescaleOp>(op)) {
      error(&op) << "a qat.rescale of a value that is not the accumulator of "
                    "a conv2d, depthwise_conv2d or matmul";
      continue;
    }
    if (isa<RequantizeOp, RequantizeAddOp>(op)) {
      error(&op) << "float-multiplier requantization; the NPU's ALU "
                    "requantizes in fixed point (prepare the model for the "
                    "'bpu' target)";
      continue;
    }
    error(&op) << "the NPU lowering supports conv2d, depthwise_conv2d, "
                  "matmul with constant weights (+ bias, qat.rescale or "
                  "qat.rescale_add), qat.rescale_add of two int8 tensors, "
                  "max_pool2d, concat, transpose and reshape on int8 codes";
  }
  return failure(failed);
}

//===----------------------------------------------------------------------===//
// Code generation
//===----------------------------------------------------------------------===//

class CodeGen {
public:
  CodeGen(Analysis &a, const npu::Config &config, bool doubleBuffer)
      : a(a), cfg(config), slots(doubleBuffer ? 2 : 1) {}

  LogicalResult run(OpBuilder &b, Location loc, StringRef name);
  int64_t numTiles = 0;
  int64_t numInstructions = 0;

private:
  // DRAM layout; false (with tooLarge) past npu::kMaxDramBytes.
  bool layout();
  // One layer each.
  LogicalResult emitGemm(Layer &L, int layerId);
  LogicalResult emitMaxPool(Layer &L, int layerId);
  LogicalResult emitAdd(Layer &L, int layerId);
  LogicalResult emitConcat(Layer &L, int layerId);
  LogicalResult emitTranspose(Layer &L, int layerId);

  // The token protocol (docs/NPU.md section 3; see beginLayer / endTile).
  void beginLayer(bool usesLoadModule, int64_t tiles, int64_t steps = 0);
  /// Ends step `s` (a tile, or a chunk of a tile's reduction) of tile `t`.
  void endStep(int64_t s, int64_t t, bool firstOfTile, bool lastOfTile);
  void endTile(int64_t t) { endStep(t, t, true, true); }
  void finish();

  void addData(std::string name, int64_t addr, ArrayRef<int8_t> bytes) {
    data.push_back({std::move(name), addr, SmallVector<int8_t>(bytes), {}});
  }
  void addData(std::string name, int64_t addr, ArrayRef<int32_t> words) {
    data.push_back({std::move(name), addr, {}, SmallVector<int32_t>(words)});
  }

  int64_t addrOf(const TensorRef &t) const {
    return a.storages[t.storage].addr;
  }
  /// Records a value that does not fit its instruction field (a bug of this
  /// pass if it happens: run() reports it instead of truncating).
  template <typename T> T fit(int64_t v) {
    if (v < int64_t(std::numeric_limits<T>::min()) ||
        v > int64_t(std::numeric_limits<T>::max()))
      overflow = true;
    return T(v);
  }
  Insn load(npu::Buffer buf, npu::DType dt, int64_t sram, int64_t dram,
            int64_t ySize, int64_t yStride, int64_t xSize, int64_t xStride,
            int64_t lanes) {
    fit<uint32_t>(sram), fit<uint32_t>(dram), fit<uint16_t>(ySize);
    fit<uint16_t>(xSize), fit<uint32_t>(yStride), fit<uint32_t>(xStride);
    fit<uint16_t>(lanes);
    Insn i;
    i.insn = npu::Instruction::load(
        buf, dt, uint32_t(sram), uint32_t(dram), uint16_t(ySize),
        uint16_t(xSize), uint32_t(yStride), uint32_t(xStride), uint16_t(lanes));
    i.insn.layer = uint16_t(layerId);
    return i;
  }
  Insn store(int64_t sram, int64_t dram, int64_t ySize, int64_t yStride,
             int64_t xSize, int64_t xStride, int64_t lanes) {
    fit<uint32_t>(sram), fit<uint32_t>(dram), fit<uint16_t>(ySize);
    fit<uint16_t>(xSize), fit<uint32_t>(yStride), fit<uint32_t>(xStride);
    fit<uint16_t>(lanes);
    Insn i;
    i.insn = npu::Instruction::store(
        npu::DType::I8, uint32_t(sram), uint32_t(dram), uint16_t(ySize),
        uint16_t(xSize), uint32_t(yStride), uint32_t(xStride), uint16_t(lanes));
    i.insn.layer = uint16_t(layerId);
    return i;
  }
  /// GEMM or ALU with loops [e0, e1] and bases/factors for the three indices.
  Insn loop(npu::Opcode opc, npu::AluOp op, int64_t e0, int64_t e1,
            SmallVector<npu::MicroOp> uops, int64_t b0, int64_t f00,
            int64_t f01, int64_t b1, int64_t f10, int64_t f11, int64_t b2,
            int64_t f20, int64_t f21) {
    fit<uint16_t>(e0), fit<uint16_t>(e1), fit<uint32_t>(b0);
    fit<uint32_t>(b1), fit<uint32_t>(b2);
    for (int64_t f : {f00, f01, f10, f11, f20, f21})
      fit<int32_t>(f);
    Insn i;
    i.insn =
        opc == npu::Opcode::Gemm
            ? npu::Instruction::gemm(false, 0, 0, uint16_t(e0), uint16_t(e1))
            : npu::Instruction::alu(op, 0, 0, uint16_t(e0), uint16_t(e1));
    i.insn.dstBase = uint32_t(b0), i.insn.dstFactor0 = int32_t(f00),
    i.insn.dstFactor1 = int32_t(f01);
    i.insn.srcBase = uint32_t(b1), i.insn.srcFactor0 = int32_t(f10),
    i.insn.srcFactor1 = int32_t(f11);
    i.insn.wgtBase = uint32_t(b2), i.insn.wgtFactor0 = int32_t(f20),
    i.insn.wgtFactor1 = int32_t(f21);
    i.insn.layer = uint16_t(layerId);
    i.uops = std::move(uops);
    return i;
  }
  /// Loads the lanes [0, n) of `count` consecutive blocks of `bo` bytes from
  /// `dram` into ACC entries from `sram` (flat int8 tensors).
  void loadFlat(int64_t sram, int64_t dram, int64_t elements);
  void storeFlat(int64_t sram, int64_t dram, int64_t elements);
  /// ALU add of an immediate to `rows` ACC rows from `base`.
  void addImm(int64_t base, int64_t rows, int32_t imm);

  Analysis &a;
  npu::Config cfg;
  int64_t slots;
  struct Data {
    std::string name;
    int64_t addr;
    SmallVector<int8_t> bytes;
    SmallVector<int32_t> words;
  };
  SmallVector<Data> data;
  int64_t dramSize = 0;
  /// What did not fit in DRAM (layout() returned false).
  std::string tooLarge;

  SmallVector<Insn> stream;
  SmallVector<Insn> loadQ, computeQ, storeQ;
  int layerId = -1;
  bool usesLoad = false, firstLayer = true, loadPopsBarrier = false;
  int64_t tilesInLayer = 0, stepsInLayer = 0;
  bool overflow = false;
  /// DMA of `count` whole entries of `entryBytes` from `dram` to `sram` of
  /// `buf` in LOADs of at most 65535 entries each.
  void loadEntries(SmallVectorImpl<Insn> &q, npu::Buffer buf, npu::DType dt,
                   int64_t sram, int64_t dram, int64_t count,
                   int64_t entryBytes) {
    for (int64_t e = 0; e < count; e += 65535)
      q.push_back(load(buf, dt, sram + e, dram + e * entryBytes, 1, 0,
                       std::min<int64_t>(65535, count - e), entryBytes, 0));
  }
};

/// a * b, or INT64_MAX when it overflows (sizes past every limit).
static int64_t mulSat(int64_t a, int64_t b) {
  int64_t r;
  return llvm::MulOverflow(a, b, r) ? std::numeric_limits<int64_t>::max() : r;
}

bool CodeGen::layout() {
  int64_t bi = cfg.blockIn, bo = cfg.blockOut;
  int64_t next = 0;
  // Sizes are checked against the DRAM limit before anything is allocated:
  // a layer whose packed weights alone exceed it stops the layout.
  auto fits = [&](int64_t bytes, const std::string &what) {
    if (bytes <= int64_t(npu::kMaxDramBytes) - next)
      return true;
    tooLarge = what + " (" +
               (bytes == std::numeric_limits<int64_t>::max()
                    ? std::string("more than 2^63")
                    : std::to_string(bytes)) +
               " bytes) does not fit after the " + std::to_string(next) +
               " bytes placed before it";
    return false;
  };
  auto alloc = [&](int64_t bytes) {
    int64_t addr = next;
    next = alignTo(next + std::max<int64_t>(bytes, 1), kAlign);
    return addr;
  };
  // Constants first: the data segment is copied to DRAM address 0.
  for (auto [id, L] : llvm::enumerate(a.layers)) {
    std::string base = L.name.substr(0, L.name.find(' '));
    if (L.kind == LayerKind::Conv || L.kind == LayerKind::Matmul ||
        L.kind == LayerKind::Depthwise) {
      bool dw = L.kind == LayerKind::Depthwise;
      int64_t taps = L.KH * L.KW;
      int64_t B = std::min(bi, bo); // depthwise channel block
      int64_t cb = dw ? ceilDiv(L.C, B) : ceilDiv(L.C, bi);
      int64_t ob = dw ? ceilDiv(L.O, B) : ceilDiv(L.O, bo);
      int64_t perOb = dw ? taps : taps * cb;
      // Block (ob, cb, tap) at ob * perOb + cb * taps + tap (a range of input
      // blocks is contiguous): lane o * bi + i holds
      // W[ob*bo + o][tap][cb*bi + i]; depthwise: lane l * bi + l holds the
      // tap's weight of channel ob*B + l (a diagonal block).
      if (!fits(mulSat(mulSat(ob, perOb), bi * bo), base + "'s packed weights"))
        return false;
      SmallVector<int8_t> packed(ob * perOb * bi * bo, 0);
      for (int64_t o = 0; o < ob; ++o)
        for (int64_t c = 0; c < (dw ? 1 : cb); ++c)
          for (int64_t t = 0; t < taps; ++t) {
            int8_t *blk = &packed[(o * perOb + c * taps + t) * bi * bo];
            if (dw) {
              // Output lane l is channel oc = o*B + l = c*M + m, fed by
              // input channel c = oc / M, lane c - (o / M)*B of input block
              // o / M (M divides B).
              for (int64_t l = 0; l < B; ++l) {
                int64_t oc = o * B + l;
                if (oc < L.O)
                  blk[l * bi + (oc / L.M - (o / L.M) * B)] =
                      L.weights[t * L.O + oc];
              }
              continue;
            }
            for (int64_t lo = 0; lo < bo; ++lo)
              for (int64_t li = 0; li < bi; ++li) {
                int64_t oc = o * bo + lo, ic = c * bi + li;
                if (oc < L.O && ic < L.C)
                  blk[lo * bi + li] = L.weights[(oc * taps + t) * L.C + ic];
              }
          }
      L.weightAddr = alloc(packed.size());
      addData(base + ".weights", L.weightAddr, packed);
      // ACC rows: bias per output block, then (M, n[, Mb]) per block.
      int64_t k = L.rq.add ? 3 : 2;
      int64_t width = dw ? B : bo; // output channels per block
      if (!fits(mulSat(ob, (1 + k) * bo * 4),
                base + "'s bias and requantization rows"))
        return false;
      SmallVector<int32_t> rows(ob * (1 + k) * bo, 0);
      for (int64_t o = 0; o < ob; ++o)
        for (int64_t l = 0; l < bo; ++l) {
          int64_t ch = o * width + l;
          bool valid = l < width && ch < L.O;
          rows[o * bo + l] = valid ? L.bias[ch] : 0;
          int32_t *p = &rows[(ob + o * k) * bo];
          p[l] = valid ? L.rq.at(L.rq.m, ch) : 0;
          p[bo + l] = valid ? L.rq.at(L.rq.n, ch) : 1; // any shift in [1, 62]
          if (k == 3)
            p[2 * bo + l] = valid ? L.rq.at(L.rq.mb, ch) : 0;
        }
      L.constAddr = alloc(rows.size() * 4);
      addData(base + ".bias_and_requantization", L.constAddr, rows);
    } else if (L.kind == LayerKind::Add) {
      SmallVector<int32_t> rows(3 * bo);
      for (int64_t l = 0; l < bo; ++l) {
        rows[l] = L.rq.m[0];
        rows[bo + l] = L.rq.n[0];
        rows[2 * bo + l] = L.rq.mb[0];
      }
      L.constAddr = alloc(rows.size() * 4);
      addData(base + ".requantization", L.constAddr, rows);
    }
  }
  // Then the inputs, then every activation in the order it is computed.
  for (const Analysis::IO &io : a.inputs) {
    Storage &s = a.storages[io.ref.storage];
    if (!fits(s.bytes, "input " + std::to_string(io.ref.storage)))
      return false;
    s.addr = alloc(s.bytes);
  }
  for (auto [i, s] : llvm::enumerate(a.storages))
    if (s.addr < 0) {
      if (!fits(s.bytes, "activation " + std::to_string(i)))
        return false;
      s.addr = alloc(s.bytes);
    }
  dramSize = next;
  return fits(0, "the alignment");
}

// --- The token protocol ------------------------------------------------------
//
// A layer is a sequence of tiles (pieces of its output), each computed in
// one or more steps (chunks of a reduction too large for WGT or INP; one
// step per tile otherwise). Step s uses INP half s % slots (and WGT half
// s % slots when weights are loaded per step), tile t uses ACC half
// t % slots; `slots` is 2 with double buffering, else 1.
//   load module:    the first instruction of step s pops compute->load when
//                   s >= slots (compute is done with the halves it
//                   overwrites; step 0 pops the layer barrier's token); the
//                   last pushes load->compute.
//   compute module: the first instruction of a step pops load->compute (its
//                   inputs are loaded) and, on a tile's first step when
//                   t >= slots, store->compute (the ACC half it overwrites is
//                   stored); the last instruction of step s pushes
//                   compute->load when s + slots < steps, and on a tile's
//                   last step compute->store.
//   store module:   the first instruction of tile t pops compute->store; the
//                   last pushes store->compute when t + slots < tiles or t is
//                   the last tile (for the barrier or FINISH).
// Between layers, a compute no-op (an empty GEMM) pops the previous layer's
// last store token, so the next layer reads DRAM only after all stores, and
// pushes compute->load when the next layer uses the load module. Every token
// pushed is popped; the simulator checks that the accesses are ordered.

void CodeGen::beginLayer(bool usesLoadModule, int64_t tiles, int64_t steps) {
  if (!firstLayer) {
    Insn barrier;
    barrier.insn = npu::Instruction::gemm(false, 0, 0, 0, 0);
    barrier.insn.deps = npu::PopNext | (usesLoadModule ? npu::PushPrev : 0);
    // It starts the layer: the layer waits here for its input.
    barrier.insn.layer = uint16_t(layerId);
    stream.push_back(barrier);
  }
  loadPopsBarrier = !firstLayer && usesLoadModule;
  firstLayer = false;
  usesLoad = usesLoadModule;
  tilesInLayer = tiles;
  stepsInLayer = steps ? steps : tiles;
  numTiles += tiles;
}

void CodeGen::endStep(int64_t s, int64_t t, bool firstOfTile, bool lastOfTile) {
  assert(!computeQ.empty() && "step without computation");
  assert(usesLoad == !loadQ.empty() && "load module use mismatch");
  assert(lastOfTile == !storeQ.empty() && "stores at the end of a tile");
  if (usesLoad) {
    if (s >= slots || (s == 0 && loadPopsBarrier))
      loadQ.front().insn.deps |= npu::PopNext;
    loadQ.back().insn.deps |= npu::PushNext;
    computeQ.front().insn.deps |= npu::PopPrev;
    if (s + slots < stepsInLayer)
      computeQ.back().insn.deps |= npu::PushPrev;
  }
  if (firstOfTile && t >= slots)
    computeQ.front().insn.deps |= npu::PopNext;
  if (lastOfTile) {
    computeQ.back().insn.deps |= npu::PushNext;
    storeQ.front().insn.deps |= npu::PopPrev;
    if (t + slots < tilesInLayer || t == tilesInLayer - 1)
      storeQ.back().insn.deps |= npu::PushPrev;
  }
  for (auto *q : {&loadQ, &computeQ, &storeQ}) {
    stream.append(q->begin(), q->end());
    q->clear();
  }
}

void CodeGen::finish() {
  Insn f;
  f.insn = npu::Instruction::finish();
  if (!firstLayer)
    f.insn.deps = npu::PopNext;
  stream.push_back(f);
}

void CodeGen::loadFlat(int64_t sram, int64_t dram, int64_t elements) {
  int64_t bo = cfg.blockOut;
  int64_t full = elements / bo, rest = elements % bo;
  if (full)
    computeQ.push_back(
        load(npu::Buffer::Acc, npu::DType::I8, sram, dram, 1, 0, full, bo, 0));
  if (rest)
    computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, sram + full,
                            dram + full * bo, 1, 0, 1, bo, rest));
}

void CodeGen::storeFlat(int64_t sram, int64_t dram, int64_t elements) {
  int64_t bo = cfg.blockOut;
  int64_t full = elements / bo, rest = elements % bo;
  if (full)
    storeQ.push_back(store(sram, dram, 1, 0, full, bo, 0));
  if (rest)
    storeQ.push_back(store(sram + full, dram + full * bo, 1, 0, 1, bo, rest));
}

void CodeGen::addImm(int64_t base, int64_t rows, int32_t imm) {
  // rows = e0 * e1 with e1 <= 65535 (ACC has at most 2^24 rows).
  int64_t e1 = std::min<int64_t>(rows, 65535);
  while (rows % e1)
    --e1;
  Insn i = loop(npu::Opcode::Alu, npu::AluOp::Add, rows / e1, e1, {{0, 0, 0}},
                base, e1, 1, 0, 0, 0, 0, 0, 0);
  i.insn.flags = npu::AluUseImm;
  i.insn.imm0 = imm;
  computeQ.push_back(i);
}

/// Output rows x cols of a tile that fit, for an input window of
/// (rows-1)*sh + (KH-1)*dh + 1 by (cols-1)*sw + (KW-1)*dw + 1 entries per
/// block.
struct TileShape {
  int64_t th = 0, tw = 0;
};

TileShape chooseTile(const Layer &L, int64_t inpBlocks, int64_t inpBudget,
                     int64_t accPerPixel, int64_t accBudget, int64_t stepH = 1,
                     int64_t stepW = 1) {
  auto fits = [&](int64_t th, int64_t tw) {
    int64_t R = (th - 1) * L.sh + (L.KH - 1) * L.dh + 1;
    int64_t Cw = (tw - 1) * L.sw + (L.KW - 1) * L.dw + 1;
    return inpBlocks * R * Cw <= inpBudget &&
           accPerPixel * th * tw <= accBudget && th * tw <= 65535 &&
           R <= 65535 && Cw <= 65535;
  };
  // Rows and columns in multiples of (stepH, stepW) (a fused pool window).
  TileShape t;
  for (int64_t th = L.Ho; th >= stepH; th -= stepH)
    if (fits(th, L.Wo)) {
      t = {th, L.Wo};
      break;
    }
  if (!t.th)
    for (int64_t tw = L.Wo; tw >= stepW; tw -= stepW)
      if (fits(stepH, tw)) {
        t = {stepH, tw};
        break;
      }
  if (!t.th)
    return t;
  // Even pieces: the same number of tiles, as equal as possible.
  int64_t ny = L.Ho / stepH, nx = L.Wo / stepW;
  t.th = ceilDiv(ny, ceilDiv(ny, t.th / stepH)) * stepH;
  t.tw = ceilDiv(nx, ceilDiv(nx, t.tw / stepW)) * stepW;
  return t;
}

LogicalResult CodeGen::emitGemm(Layer &L, int id) {
  layerId = id;
  int64_t bi = cfg.blockIn, bo = cfg.blockOut;
  bool dw = L.kind == LayerKind::Depthwise;
  int64_t taps = L.KH * L.KW;
  int64_t B = std::min(bi, bo);
  int64_t CB = dw ? ceilDiv(L.C, B) : ceilDiv(L.C, bi);
  int64_t OB = dw ? ceilDiv(L.O, B) : ceilDiv(L.O, bo);
  int64_t width = dw ? B : bo;           // output channels per output block
  int64_t perOb = dw ? taps : taps * CB; // weight blocks per output block
  int64_t k = L.rq.add ? 3 : 2;
  int64_t inpBudget = cfg.inpDepth / slots;

  // Weights: resident in WGT for the whole layer when they all fit; else
  // groups of output blocks alternate between the WGT halves; else one
  // output block at a time with its reduction (input blocks x taps) in
  // chunks, a chunk per step.
  bool resident = OB * perOb <= int64_t(cfg.wgtDepth);
  int64_t wslot = resident ? cfg.wgtDepth : cfg.wgtDepth / slots;
  int64_t OBg = resident ? OB : wslot / perOb;
  int64_t cbPerChunk = dw ? 1 : CB, tapsPerChunk = taps;
  if (OBg == 0) {
    OBg = 1;
    if (!dw && wslot >= taps)
      cbPerChunk = wslot / taps;
    else
      cbPerChunk = 1, tapsPerChunk = std::min(taps, wslot);
  }
  // The tile: the largest block of output pixels whose input window fits
  // half of INP and whose accumulators (residual, pooled codes) fit half of
  // what the group's constant rows (bias, requantization) leave of ACC;
  // fewer input blocks per chunk when the window does not fit, fewer output
  // blocks per group when the rows do not.
  int64_t stepH = L.poolH ? L.poolH : 1, stepW = L.poolW ? L.poolW : 1;
  int64_t rowsPerOb = (L.rq.add ? 2 : 1) + (L.poolH ? 1 : 0);
  int64_t constRows, accBudget;
  TileShape ts;
  while (true) {
    constRows = OBg * (1 + k);
    accBudget = constRows < int64_t(cfg.accDepth)
                    ? (cfg.accDepth - constRows) / slots
                    : 0;
    int64_t inpBlocks = dw ? OBg : cbPerChunk;
    ts = chooseTile(L, inpBlocks, inpBudget, OBg * rowsPerOb, accBudget, stepH,
                    stepW);
    if (ts.th)
      break;
    int64_t R = (stepH - 1) * L.sh + (L.KH - 1) * L.dh + 1;
    int64_t Cw = (stepW - 1) * L.sw + (L.KW - 1) * L.dw + 1;
    bool inpOk = inpBlocks * R * Cw <= inpBudget;
    if (!inpOk && !dw && cbPerChunk > 1) {
      cbPerChunk = cbPerChunk / 2;
      continue;
    }
    if (OBg > 1 && (inpOk || dw)) {
      OBg = OBg / 2;
      continue;
    }
    return L.op->emitError()
           << "cannot run on the NPU: the input window of " << stepH * stepW
           << " output pixel(s) (" << L.KH << "x" << L.KW
           << " taps of one input block, " << R * Cw
           << " INP entries) or the ACC rows of one output block (" << 1 + k
           << " constant rows, " << rowsPerOb * stepH * stepW
           << " per tile) exceed " << (slots == 2 ? "half of " : "") << "INP ("
           << inpBudget << " entries) or ACC (acc_depth " << cfg.accDepth
           << ")";
  }
  int64_t constBase = cfg.accDepth - constRows;
  // Chunks of the reduction: (first input block, blocks, first tap, taps).
  struct Chunk {
    int64_t cb0, ncb, t0, nt;
  };
  SmallVector<Chunk> chunks;
  if (dw)
    for (int64_t t0 = 0; t0 < taps; t0 += tapsPerChunk)
      chunks.push_back({0, 1, t0, std::min(tapsPerChunk, taps - t0)});
  else
    for (int64_t cb0 = 0; cb0 < CB; cb0 += cbPerChunk)
      for (int64_t t0 = 0; t0 < taps; t0 += tapsPerChunk)
        chunks.push_back({cb0, std::min(cbPerChunk, CB - cb0), t0,
                          std::min(tapsPerChunk, taps - t0)});
  int64_t nChunks = chunks.size();
  bool perStepWeights = !resident && nChunks > 1;

  int64_t groups = ceilDiv(OB, OBg);
  int64_t tilesY = ceilDiv(L.Ho, ts.th), tilesX = ceilDiv(L.Wo, ts.tw);
  int64_t T = groups * L.N * tilesY * tilesX;
  beginLayer(true, T, T * nChunks);
  int64_t blockBytes = bi * bo;
  int64_t inAddr = addrOf(L.in), outAddr = addrOf(L.out);
  int64_t resAddr = L.rq.add ? addrOf(L.rq.residual) : 0;
  int64_t t = 0, step = 0;
  for (int64_t g = 0; g < groups; ++g) {
    int64_t ob0 = g * OBg, nOb = std::min(OBg, OB - ob0);
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t ty = 0; ty < tilesY; ++ty)
        for (int64_t tx = 0; tx < tilesX; ++tx, ++t) {
          int64_t oy0 = ty * ts.th, ox0 = tx * ts.tw;
          int64_t oh = std::min(ts.th, L.Ho - oy0);
          int64_t ow = std::min(ts.tw, L.Wo - ox0);
          int64_t P = oh * ow;
          int64_t R = (oh - 1) * L.sh + (L.KH - 1) * L.dh + 1;
          int64_t Cw = (ow - 1) * L.sw + (L.KW - 1) * L.dw + 1;
          int64_t accSlot = (t % slots) * accBudget;
          int64_t iy0 = oy0 * L.sh - L.padTop, ix0 = ox0 * L.sw - L.padLeft;
          int64_t yPad0 = std::clamp<int64_t>(-iy0, 0, R);
          int64_t yPad1 = std::clamp<int64_t>(iy0 + R - L.H, 0, R - yPad0);
          int64_t xPad0 = std::clamp<int64_t>(-ix0, 0, Cw);
          int64_t xPad1 = std::clamp<int64_t>(ix0 + Cw - L.W, 0, Cw - xPad0);
          int64_t ySize = R - yPad0 - yPad1, xSize = Cw - xPad0 - xPad1;
          int64_t resRows = accSlot + nOb * P;
          int64_t outPix = ((n * L.Ho + oy0) * L.Wo + ox0) * L.O;
          for (auto [ci, ch] : llvm::enumerate(chunks)) {
            bool first = ci == 0, last = int64_t(ci) == nChunks - 1;
            int64_t inSlot = (step % slots) * inpBudget;
            // Weights of this step (WGT entry of block (ob, cb, tap) below).
            int64_t wBase;
            int64_t chunkStart = ch.cb0 * taps + ch.t0;
            if (resident) {
              wBase = ob0 * perOb + chunkStart;
              if (step == 0)
                loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, 0,
                            L.weightAddr, OB * perOb, blockBytes);
            } else if (perStepWeights) {
              wBase = (step % slots) * wslot;
              loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, wBase,
                          L.weightAddr +
                              (ob0 * perOb + chunkStart) * blockBytes,
                          ch.ncb * ch.nt, blockBytes);
            } else {
              wBase = (g % slots) * wslot + chunkStart;
              if (tx == 0 && ty == 0 && n == 0 && first)
                loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, wBase,
                            L.weightAddr + ob0 * perOb * blockBytes,
                            nOb * perOb, blockBytes);
            }
            // The input window, one LOAD per input block, padding included.
            int64_t inBlocks = dw ? nOb : ch.ncb;
            for (int64_t c = 0; c < inBlocks; ++c) {
              int64_t cb = dw ? (ob0 + c) / L.M : ch.cb0 + c;
              int64_t cw = dw ? B : bi;
              int64_t lanes = std::min(cw, L.C - cb * cw);
              int64_t dram = inAddr +
                             ((n * L.H + std::max<int64_t>(iy0, 0)) * L.W +
                              std::max<int64_t>(ix0, 0)) *
                                 L.C +
                             cb * cw;
              Insn ld = load(npu::Buffer::Inp, npu::DType::I8,
                             inSlot + c * R * Cw, dram, ySize, L.W * L.C, xSize,
                             L.C, lanes == bi ? 0 : lanes);
              ld.insn.yPad0 = uint8_t(yPad0), ld.insn.yPad1 = uint8_t(yPad1);
              ld.insn.xPad0 = uint8_t(xPad0), ld.insn.xPad1 = uint8_t(xPad1);
              ld.insn.padValue = L.inZp;
              loadQ.push_back(ld);
            }
            if (first && tx == 0 && ty == 0 && n == 0) {
              // The group's bias rows and requantization rows, at the top
              // of ACC: compute-module loads that need no token (only the
              // compute module touches these rows, in program order).
              loadEntries(stream, npu::Buffer::Acc, npu::DType::I32, constBase,
                          L.constAddr + ob0 * bo * 4, nOb, bo * 4);
              loadEntries(
                  stream, npu::Buffer::Acc, npu::DType::I32, constBase + OBg,
                  L.constAddr + (OB + ob0 * k) * bo * 4, nOb * k, bo * 4);
            }
            if (first) {
              // Residual codes into ACC after the accumulators.
              if (L.rq.add) {
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  computeQ.push_back(
                      load(npu::Buffer::Acc, npu::DType::I8, resRows + o * P,
                           resAddr + outPix + ch0, oh, L.Wo * L.O, ow, L.O,
                           lanes == bo ? 0 : lanes));
                }
                if (L.rq.zr)
                  addImm(resRows, nOb * P, -L.rq.zr);
              }
              // Accumulators start at the bias.
              SmallVector<npu::MicroOp> biasUops;
              for (int64_t o = 0; o < nOb; ++o)
                biasUops.push_back({uint32_t(o * P), uint32_t(o), 0});
              computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, 1, P,
                                      biasUops, accSlot, 0, 1, constBase, 0, 0,
                                      0, 0, 0));
            }
            // The micro-kernel of one output pixel: the chunk's input blocks
            // and taps, WGT entries in the chunk's order.
            SmallVector<npu::MicroOp> kernel;
            for (int64_t c = 0; c < ch.ncb; ++c)
              for (int64_t tap = ch.t0; tap < ch.t0 + ch.nt; ++tap) {
                int64_t ky = tap / L.KW, kx = tap % L.KW;
                kernel.push_back({0,
                                  uint32_t((dw ? 0 : c * R * Cw) +
                                           ky * L.dh * Cw + kx * L.dw),
                                  uint32_t(c * ch.nt + tap - ch.t0)});
              }
            for (int64_t o = 0; o < nOb; ++o)
              computeQ.push_back(
                  loop(npu::Opcode::Gemm, npu::AluOp::Mov, oh, ow, kernel,
                       accSlot + o * P, ow, 1, inSlot + (dw ? o * R * Cw : 0),
                       L.sh * Cw, L.sw,
                       wBase + (perStepWeights ? 0 : o * perOb), 0, 0));
            if (last) {
              // Requantization in place.
              SmallVector<npu::MicroOp> rqUops;
              for (int64_t o = 0; o < nOb; ++o)
                rqUops.push_back({uint32_t(o * P),
                                  uint32_t((L.rq.add ? nOb * P : 0) + o * P),
                                  uint32_t(o * k)});
              Insn rq = loop(
                  npu::Opcode::Alu,
                  L.rq.add ? npu::AluOp::RescaleAdd : npu::AluOp::Rescale, 1, P,
                  rqUops, accSlot, 0, 1, accSlot, 0, 1, constBase + OBg, 0, 0);
              rq.insn.imm0 = L.rq.zo, rq.insn.imm1 = L.rq.qmin,
              rq.insn.imm2 = L.rq.qmax;
              computeQ.push_back(rq);
              if (L.poolH) {
                // The fused max pool: MOV of each window's first code, MAX
                // of the others, into the pooled rows after the residual.
                int64_t kh = L.poolH, kw = L.poolW;
                int64_t ph = oh / kh, pw = ow / kw, Pp = ph * pw;
                int64_t pooledRows = accSlot + (L.rq.add ? 2 : 1) * nOb * P;
                SmallVector<npu::MicroOp> first, rest;
                for (int64_t o = 0; o < nOb; ++o)
                  for (int64_t y = 0; y < kh; ++y)
                    for (int64_t x = 0; x < kw; ++x)
                      (y == 0 && x == 0 ? first : rest)
                          .push_back({uint32_t(o * Pp),
                                      uint32_t(o * P + y * ow + x), 0});
                computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, ph,
                                        pw, first, pooledRows, pw, 1, accSlot,
                                        kh * ow, kw, 0, 0, 0));
                if (!rest.empty())
                  computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Max, ph,
                                          pw, rest, pooledRows, pw, 1, accSlot,
                                          kh * ow, kw, 0, 0, 0));
                int64_t Hp = L.Ho / kh, Wp = L.Wo / kw;
                int64_t pooledPix = ((n * Hp + oy0 / kh) * Wp + ox0 / kw) * L.O;
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  storeQ.push_back(
                      store(pooledRows + o * Pp, outAddr + pooledPix + ch0, ph,
                            Wp * L.O, pw, L.O, lanes == bo ? 0 : lanes));
                }
              } else {
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  storeQ.push_back(store(accSlot + o * P,
                                         outAddr + outPix + ch0, oh, L.Wo * L.O,
                                         ow, L.O, lanes == bo ? 0 : lanes));
                }
              }
            }
            endStep(step++, t, first, last);
          }
        }
  }
  return success();
}

LogicalResult CodeGen::emitMaxPool(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t CB = ceilDiv(L.C, bo);
  int64_t accBudget = cfg.accDepth / slots;
  // ACC holds the input window and the output of each block of the tile.
  int64_t CBt = CB;
  TileShape ts;
  while (true) {
    auto fits = [&](int64_t th, int64_t tw) {
      int64_t R = (th - 1) * L.sh + L.KH, Cw = (tw - 1) * L.sw + L.KW;
      return CBt * (R * Cw + th * tw) <= accBudget && R * Cw <= 65535;
    };
    ts = {};
    for (int64_t th = L.Ho; th >= 1 && !ts.th; --th)
      if (fits(th, L.Wo))
        ts = {th, L.Wo};
    for (int64_t tw = L.Wo; tw >= 1 && !ts.th; --tw)
      if (fits(1, tw))
        ts = {1, tw};
    if (ts.th || CBt == 1)
      break;
    --CBt;
  }
  if (!ts.th)
    return L.op->emitError()
           << "cannot run on the NPU: one " << L.KH << "x" << L.KW
           << " pooling window exceeds " << (slots == 2 ? "half of " : "")
           << "ACC (" << accBudget << " entries)";
  ts.th = ceilDiv(L.Ho, ceilDiv(L.Ho, ts.th));
  ts.tw = ceilDiv(L.Wo, ceilDiv(L.Wo, ts.tw));
  int64_t groups = ceilDiv(CB, CBt);
  int64_t tilesY = ceilDiv(L.Ho, ts.th), tilesX = ceilDiv(L.Wo, ts.tw);
  int64_t T = groups * L.N * tilesY * tilesX;
  beginLayer(false, T);
  int64_t inAddr = addrOf(L.in), outAddr = addrOf(L.out);
  int64_t t = 0;
  for (int64_t g = 0; g < groups; ++g) {
    int64_t cb0 = g * CBt, nCb = std::min(CBt, CB - cb0);
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t ty = 0; ty < tilesY; ++ty)
        for (int64_t tx = 0; tx < tilesX; ++tx, ++t) {
          int64_t oy0 = ty * ts.th, ox0 = tx * ts.tw;
          int64_t oh = std::min(ts.th, L.Ho - oy0);
          int64_t ow = std::min(ts.tw, L.Wo - ox0);
          int64_t P = oh * ow;
          int64_t R = (oh - 1) * L.sh + L.KH, Cw = (ow - 1) * L.sw + L.KW;
          int64_t accSlot = (t % slots) * accBudget;
          int64_t outRows = accSlot + nCb * R * Cw;
          int64_t iy0 = oy0 * L.sh - L.padTop, ix0 = ox0 * L.sw - L.padLeft;
          int64_t yPad0 = std::clamp<int64_t>(-iy0, 0, R);
          int64_t yPad1 = std::clamp<int64_t>(iy0 + R - L.H, 0, R - yPad0);
          int64_t xPad0 = std::clamp<int64_t>(-ix0, 0, Cw);
          int64_t xPad1 = std::clamp<int64_t>(ix0 + Cw - L.W, 0, Cw - xPad0);
          for (int64_t c = 0; c < nCb; ++c) {
            int64_t cb = cb0 + c;
            int64_t lanes = std::min(bo, L.C - cb * bo);
            int64_t dram = inAddr +
                           ((n * L.H + std::max<int64_t>(iy0, 0)) * L.W +
                            std::max<int64_t>(ix0, 0)) *
                               L.C +
                           cb * bo;
            Insn ld =
                load(npu::Buffer::Acc, npu::DType::I8, accSlot + c * R * Cw,
                     dram, R - yPad0 - yPad1, L.W * L.C, Cw - xPad0 - xPad1,
                     L.C, lanes == bo ? 0 : lanes);
            ld.insn.yPad0 = uint8_t(yPad0), ld.insn.yPad1 = uint8_t(yPad1);
            ld.insn.xPad0 = uint8_t(xPad0), ld.insn.xPad1 = uint8_t(xPad1);
            // Below every code: padding never wins a maximum (TOSA ignores
            // it), and a window always holds a real element.
            ld.insn.padValue = -128;
            computeQ.push_back(ld);
          }
          SmallVector<npu::MicroOp> first, rest;
          for (int64_t c = 0; c < nCb; ++c)
            for (int64_t ky = 0; ky < L.KH; ++ky)
              for (int64_t kx = 0; kx < L.KW; ++kx)
                (ky == 0 && kx == 0 ? first : rest)
                    .push_back({uint32_t(c * P),
                                uint32_t(c * R * Cw + ky * Cw + kx), 0});
          computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, oh, ow,
                                  first, outRows, ow, 1, accSlot, L.sh * Cw,
                                  L.sw, 0, 0, 0));
          if (!rest.empty())
            computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Max, oh, ow,
                                    rest, outRows, ow, 1, accSlot, L.sh * Cw,
                                    L.sw, 0, 0, 0));
          int64_t outPix = ((n * L.Ho + oy0) * L.Wo + ox0) * L.C;
          for (int64_t c = 0; c < nCb; ++c) {
            int64_t cb = cb0 + c;
            int64_t lanes = std::min(bo, L.C - cb * bo);
            storeQ.push_back(store(outRows + c * P, outAddr + outPix + cb * bo,
                                   oh, L.Wo * L.C, ow, L.C,
                                   lanes == bo ? 0 : lanes));
          }
          endTile(t);
        }
  }
  return success();
}

LogicalResult CodeGen::emitAdd(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t elements = a.storages[L.out.storage].bytes;
  int64_t entries = ceilDiv(elements, bo);
  int64_t constBase = cfg.accDepth - 3;
  int64_t accBudget = (cfg.accDepth - 3) / slots;
  int64_t perTile = std::min<int64_t>({accBudget / 2, 65535, entries});
  if (perTile < 1)
    return L.op->emitError("cannot run on the NPU: ACC is too small for an "
                           "add (acc_depth ")
           << cfg.accDepth << ")";
  int64_t T = ceilDiv(entries, perTile);
  beginLayer(false, T);
  loadEntries(stream, npu::Buffer::Acc, npu::DType::I32, constBase, L.constAddr,
              3, bo * 4);
  int64_t aAddr = addrOf(L.in), bAddr = addrOf(L.in2), outAddr = addrOf(L.out);
  for (int64_t t = 0; t < T; ++t) {
    int64_t e0 = t * perTile, ne = std::min(perTile, entries - e0);
    int64_t first = e0 * bo, count = std::min(ne * bo, elements - first);
    int64_t accSlot = (t % slots) * accBudget;
    loadFlat(accSlot, aAddr + first, count);
    loadFlat(accSlot + perTile, bAddr + first, count);
    if (L.rq.zl)
      addImm(accSlot, ne, -L.rq.zl);
    if (L.rq.zr)
      addImm(accSlot + perTile, ne, -L.rq.zr);
    Insn rq = loop(npu::Opcode::Alu, npu::AluOp::RescaleAdd, 1, ne,
                   {{0, uint32_t(perTile), 0}}, accSlot, 0, 1, accSlot, 0, 1,
                   constBase, 0, 0);
    rq.insn.imm0 = L.rq.zo, rq.insn.imm1 = L.rq.qmin, rq.insn.imm2 = L.rq.qmax;
    computeQ.push_back(rq);
    storeFlat(accSlot, outAddr + first, count);
    endTile(t);
  }
  return success();
}

/// Concat: each input, seen as [outer, inner] rows (inner = the product of
/// the dimensions from the axis on), is copied through ACC into its columns
/// of the output: one LOAD and one STORE per tile of rows, a row per (y, x)
/// step with `lanes` = the row's elements (docs/NPU.md: a step fills
/// ceil(lanes / block_out) entries).
LogicalResult CodeGen::emitConcat(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t accBudget = cfg.accDepth / slots;
  ArrayRef<int64_t> outShape = L.out.shape;
  int64_t outer = 1, innerTot = 1;
  for (int64_t d = 0; d < int64_t(outShape.size()); ++d)
    (d < L.axis ? outer : innerTot) *= outShape[d];
  struct Piece {
    int64_t src, dst, width, rows, srcStride;
  };
  SmallVector<Piece> pieces;
  int64_t offset = 0;
  for (const TensorRef &in : L.ins) {
    int64_t inner = 1;
    for (int64_t d = L.axis; d < int64_t(in.shape.size()); ++d)
      inner *= in.shape[d];
    // Columns per piece: one step of at most 65535 lanes, within ACC.
    int64_t chunk = std::min<int64_t>({inner, 65535, accBudget * bo});
    for (int64_t c0 = 0; c0 < inner; c0 += chunk) {
      int64_t w = std::min(chunk, inner - c0);
      int64_t rowsPerTile =
          std::min<int64_t>({outer, 65535, accBudget / ceilDiv(w, bo)});
      for (int64_t r0 = 0; r0 < outer; r0 += rowsPerTile)
        pieces.push_back({addrOf(in) + r0 * inner + c0,
                          addrOf(L.out) + r0 * innerTot + offset + c0, w,
                          std::min(rowsPerTile, outer - r0), inner});
    }
    offset += inner;
  }
  beginLayer(false, pieces.size());
  for (auto [t, p] : llvm::enumerate(pieces)) {
    int64_t accSlot = (t % slots) * accBudget;
    computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                            p.rows, p.srcStride, 1, 0,
                            p.width == bo ? 0 : p.width));
    storeQ.push_back(store(accSlot, p.dst, p.rows, innerTot, 1, 0,
                           p.width == bo ? 0 : p.width));
    endTile(t);
  }
  return success();
}

/// Transpose: the output's two innermost dimensions are the (y, x) steps of
/// one LOAD into ACC (reading the input with the strides of the dimensions
/// they come from; a whole row per step when the innermost output dimension
/// is the input's innermost, else one element per step) and one STORE of
/// dense rows; the outer output dimensions are instructions.
LogicalResult CodeGen::emitTranspose(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t accBudget = cfg.accDepth / slots;
  int64_t rank = L.in.shape.size();
  SmallVector<int64_t> inStride(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    inStride[d] = inStride[d + 1] * L.in.shape[d + 1];
  ArrayRef<int64_t> out = L.out.shape;
  // Output dims as (outer..., y, x); rank 1 cannot permute.
  int64_t X = out[rank - 1], Y = rank >= 2 ? out[rank - 2] : 1;
  int64_t xs = inStride[L.perms[rank - 1]];
  int64_t ys = rank >= 2 ? inStride[L.perms[rank - 2]] : 0;
  bool rows = xs == 1; // a whole output row is contiguous in the input
  int64_t lanesPerStep = rows ? X : 1;
  int64_t entriesPerStep = ceilDiv(lanesPerStep, bo);
  if (lanesPerStep > 65535 || (!rows && X > 65535) ||
      entriesPerStep * (rows ? 1 : X) > accBudget)
    return L.op->emitError() << "cannot run on the NPU: a transposed row of "
                             << X << " codes does not fit one DMA of ACC ("
                             << accBudget << " entries)";
  int64_t rowEntries = entriesPerStep * (rows ? 1 : X);
  int64_t rowsPerTile = std::min<int64_t>({Y, 65535, accBudget / rowEntries});
  SmallVector<int64_t> outer(out.begin(),
                             out.end() - std::min<int64_t>(rank, 2));
  int64_t nOuter = 1;
  for (int64_t d : outer)
    nOuter *= d;
  struct Piece {
    int64_t src, dst, nrows;
  };
  SmallVector<Piece> pieces;
  for (int64_t o = 0; o < nOuter; ++o) {
    // The input offset of outer index o.
    int64_t rem = o, src = addrOf(L.in);
    for (int64_t d = int64_t(outer.size()) - 1; d >= 0; --d) {
      src += (rem % outer[d]) * inStride[L.perms[d]];
      rem /= outer[d];
    }
    for (int64_t y0 = 0; y0 < Y; y0 += rowsPerTile)
      pieces.push_back({src + y0 * ys, addrOf(L.out) + (o * Y + y0) * X,
                        std::min(rowsPerTile, Y - y0)});
  }
  beginLayer(false, pieces.size());
  for (auto [t, p] : llvm::enumerate(pieces)) {
    int64_t accSlot = (t % slots) * accBudget;
    if (rows) {
      computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                              p.nrows, ys, 1, 0, X == bo ? 0 : X));
      storeQ.push_back(
          store(accSlot, p.dst, p.nrows, X, 1, 0, X == bo ? 0 : X));
    } else {
      computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                              p.nrows, ys, X, xs, 1));
      storeQ.push_back(store(accSlot, p.dst, p.nrows, X, X, 1, 1));
    }
    endTile(t);
  }
  return success();
}

LogicalResult CodeGen::run(OpBuilder &b, Location loc, StringRef name) {
  std::string why = cfg.validate();
  if (!why.empty())
    return emitError(loc) << "invalid NPU configuration: " << why;
  if (!layout())
    return emitError(loc) << "the program needs more DRAM than the NPU's "
                          << npu::kMaxDramBytes
                          << " bytes (2^30): " << tooLarge;
  if (a.layers.size() >= npu::kNoLayer)
    return emitError(loc) << "too many layers (" << a.layers.size() << ")";
  for (auto [id, L] : llvm::enumerate(a.layers)) {
    LogicalResult r = L.kind == LayerKind::MaxPool     ? emitMaxPool(L, id)
                      : L.kind == LayerKind::Add       ? emitAdd(L, id)
                      : L.kind == LayerKind::Concat    ? emitConcat(L, id)
                      : L.kind == LayerKind::Transpose ? emitTranspose(L, id)
                                                       : emitGemm(L, id);
    if (failed(r))
      return failure();
  }
  finish();
  if (overflow)
    return emitError(loc) << "qat-lower-to-npu: a value does not fit its "
                             "instruction field (a bug of the lowering)";

  MLIRContext *ctx = b.getContext();
  auto program = npuir::ProgramOp::create(
      b, loc, name, npuir::ConfigAttr::get(ctx, cfg), dramSize);
  OpBuilder body = OpBuilder::atBlockEnd(&program.getBodyBlock());
  auto tensor = [&](const Analysis::IO &io, npuir::TensorRole role) {
    npuir::TensorOp::create(
        body, loc, npuir::TensorRoleAttr::get(ctx, role),
        body.getStringAttr(io.name),
        TypeAttr::get(RankedTensorType::get(io.ref.shape, body.getI8Type())),
        body.getI64IntegerAttr(addrOf(io.ref)), body.getF32FloatAttr(io.scale),
        body.getI32IntegerAttr(io.zeroPoint));
  };
  for (const Analysis::IO &io : a.inputs)
    tensor(io, npuir::TensorRole::input);
  for (const Analysis::IO &io : a.outputs)
    tensor(io, npuir::TensorRole::output);
  for (const Data &d : data) {
    DenseIntElementsAttr value;
    if (!d.words.empty())
      value = DenseIntElementsAttr::get(
          RankedTensorType::get({int64_t(d.words.size())}, body.getI32Type()),
          ArrayRef(d.words));
    else
      value = DenseIntElementsAttr::get(
          RankedTensorType::get({int64_t(d.bytes.size())}, body.getI8Type()),
          ArrayRef(d.bytes));
    npuir::DataOp::create(body, loc, d.name, d.addr, value);
  }
  for (auto [id, L] : llvm::enumerate(a.layers))
    npuir::LayerOp::create(body, L.op->getLoc(), id, L.name, L.macs);
  for (const Insn &i : stream) {
    Location l = i.insn.layer != npu::kNoLayer
                     ? a.layers[i.insn.layer].op->getLoc()
                     : loc;
    npuir::createInstructionOp(body, l, i.insn, i.uops);
  }
  numInstructions = stream.size();
  // Every field the lowering wrote must pass the machine's static rules; a
  // failure here is a bug of this pass, reported on the program.
  if (failed(verify(program))) {
    program.erase();
    return emitError(loc) << "qat-lower-to-npu produced an invalid program "
                             "(a bug of the lowering)";
  }
  return success();
}

} // namespace

QuantizeOp
mlir::qat::getInputQuantization(BlockArgument arg,
                                SmallVectorImpl<Operation *> *layout) {
  Value v = arg;
  while (v.hasOneUse()) {
    Operation *u = *v.getUsers().begin();
    if (auto q = dyn_cast<QuantizeOp>(u))
      return q;
    if (!isa<tosa::ReshapeOp, tosa::TransposeOp>(u))
      return nullptr;
    if (layout)
      layout->push_back(u);
    v = u->getResult(0);
  }
  return nullptr;
}

LogicalResult mlir::qat::lowerToNPU(ModuleOp module, StringRef entry,
                                    const npu::Config &config,
                                    bool doubleBuffer, int64_t *tiles) {
  module.getContext()->getOrLoadDialect<npuir::NPUDialect>();
  func::FuncOp func;
  if (entry.empty()) {
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    if (funcs.size() != 1)
      return module.emitError("qat-lower-to-npu: the module has ")
             << funcs.size() << " functions; name one with entry=";
    func = funcs.front();
  } else {
    func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func)
      return module.emitError("qat-lower-to-npu: no function @") << entry;
  }
  if (failed(verifyInputContract(func)))
    return failure();
  Analysis analysis(func, config);
  if (failed(analysis.run()))
    return failure();
  CodeGen gen(analysis, config, doubleBuffer);
  OpBuilder b(func);
  if (failed(gen.run(b, func.getLoc(), func.getSymName())))
    return failure();
  if (tiles)
    *tiles = gen.numTiles;
  func.erase();
  return success();
}

namespace {
struct LowerToNPUPass : qat::impl::LowerToNPUPassBase<LowerToNPUPass> {
  using Base::Base;
  void runOnOperation() override {
    npu::Config cfg;
    if (!config.empty()) {
      std::string why = npu::loadConfigFile(config, cfg);
      if (!why.empty()) {
        getOperation().emitError("qat-lower-to-npu: ") << why;
        return signalPassFailure();
      }
    }
    int64_t tiles = 0;
    if (failed(lowerToNPU(getOperation(), entry, cfg, doubleBuffer, &tiles)))
      return signalPassFailure();
    numTiles += tiles;
    getOperation().walk([&](npuir::ProgramOp p) {
      for (Operation &op : p.getBodyBlock()) {
        if (npuir::isInstruction(&op))
          ++numInstructions;
        if (isa<npuir::LayerOp>(op))
          ++numLayers;
      }
    });
  }
};
} // namespace
