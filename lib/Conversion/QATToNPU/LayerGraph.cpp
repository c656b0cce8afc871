//===- LayerGraph.cpp - a bpu integer model as NPU layers -----------------===//
//
// Recognises the kernels, adds, pools, concats and transposes of a bpu
// integer model and reads their constants (weights, bias, requantization)
// into layers; reshapes alias their input's storage.
//
//===----------------------------------------------------------------------===//

#include "LayerGraph.h"

#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

namespace {
/// The one constant f32 value of `v`, or nullopt.
std::optional<float> constF32(Value v) {
  auto c = getConstantFloats(v);
  if (!c || c->size() != 1)
    return std::nullopt;
  return (*c)[0];
}

bool isI8(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getElementType().isInteger(8) && t.hasStaticShape();
}

} // namespace

std::optional<TensorRef> LayerGraph::codes(Operation *user, Value v) {
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
/// A qat.integer_kernel (conv2d / depthwise_conv2d / matmul with constant
/// weights and a fixed-point requantization) as one layer.
void LayerGraph::analyzeKernel(IntegerKernelOp op) {
  Layer L;
  L.op = op;
  handled.insert(op);
  std::string why;
  std::optional<IntegerKernel> k = IntegerKernel::read(op, &why);
  if (!k) {
    error(op) << why
              << " (the NPU packs weights and parameters at compile "
                 "time)";
    return;
  }
  if (k->floatMultiplier) {
    error(op) << "float-multiplier requantization; the NPU's ALU "
                 "requantizes in fixed point (prepare the model for the "
                 "'bpu' target)";
    return;
  }
  auto in = codes(op, op.getInput());
  if (!in)
    return;
  L.in = *in;
  ArrayRef<int64_t> wShape = k->weightType.getShape();
  ArrayRef<int64_t> inShape = k->inputType.getShape();
  SmallVector<int8_t> &w = k->weights;
  SmallVector<int32_t> bias = k->bias;
  if (k->kind == KernelKind::conv2d) {
    L.kind = LayerKind::Conv;
    L.N = inShape[0], L.H = inShape[1], L.W = inShape[2], L.C = inShape[3];
    L.O = wShape[0], L.KH = wShape[1], L.KW = wShape[2];
    L.weights = w;
  } else if (k->kind == KernelKind::depthwise_conv2d) {
    L.kind = LayerKind::Depthwise;
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
    L.weights = w; // [KH][KW][C][M]
  } else {
    L.kind = LayerKind::Matmul;
    // Rows as pixels: N=1, H=1, W=M, C=K, O=N.
    L.N = 1, L.H = 1, L.W = inShape[1], L.C = inShape[2], L.O = wShape[2];
    L.weights.assign(L.O * L.C, 0);
    for (int64_t kk = 0; kk < L.C; ++kk)
      for (int64_t n = 0; n < L.O; ++n)
        L.weights[n * L.C + kk] = w[kk * L.O + n];
  }
  if (L.kind != LayerKind::Matmul) {
    L.padTop = k->pad[0], L.padBottom = k->pad[1];
    L.padLeft = k->pad[2], L.padRight = k->pad[3];
    L.sh = k->stride[0], L.sw = k->stride[1];
    L.dh = k->dilation[0], L.dw = k->dilation[1];
    ArrayRef<int64_t> outShape = k->resultType.getShape();
    L.Ho = outShape[1], L.Wo = outShape[2];
  } else {
    L.Ho = 1, L.Wo = L.W;
  }
  L.inZp = int32_t(k->inputZeroPoint);
  for (int64_t p : {L.padTop, L.padBottom, L.padLeft, L.padRight})
    if (p > 255) {
      error(op) << "padding " << p << " exceeds 255 (the LOAD pad fields)";
      return;
    }

  // The fixed-point requantization: multipliers and shifts per tensor or
  // per output channel, one output zero point, a residual's codes.
  Requant &rq = L.rq;
  for (int8_t n : k->shift)
    if (n < 1 || n > 62) {
      error(op) << "shift " << int(n)
                << " outside the ALU's range [1, 62] (RESCALE)";
      return;
    }
  rq.add = k->hasResidual;
  rq.m.assign(k->fixedMultiplier.begin(), k->fixedMultiplier.end());
  rq.n.assign(k->shift.begin(), k->shift.end());
  rq.zo = int32_t(k->outputZeroPoint);
  rq.qmin = int32_t(k->quantMin);
  rq.qmax = int32_t(k->quantMax);
  if (rq.add) {
    rq.mb.assign(k->residualFixedMultiplier.begin(),
                 k->residualFixedMultiplier.end());
    rq.zr = int32_t(k->residualZeroPoint);
    auto res = codes(op, op.getResidual());
    if (!res)
      return;
    rq.residual = *res;
  }
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
  Value result = op.getResult();
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
  unsigned kindIndex = unsigned(L.kind);
  // E.g. "conv2d_0 3x3/1 28x28x1->14x14x8 +pool2x2" (shapes without the
  // batch); the full shapes are the program's tensors.
  L.name = llvm::formatv("{0}_{1} {2}x{3}/{4} {5}->{6}{7}{8}", kinds[kindIndex],
                         counter[kindIndex]++, L.KH, L.KW, L.sh,
                         imageString(inShape), imageString(L.out.shape),
                         L.rq.add ? " +res" : "", pooled)
               .str();
  if (L.kind == LayerKind::Matmul)
    L.name = llvm::formatv("{0}_{1} {2}x{3}->{2}x{4}", kinds[kindIndex],
                           counter[kindIndex] - 1, L.W, L.C, L.O)
                 .str();
  L.macs = uint64_t(L.N) * L.Ho * L.Wo * L.O * L.KH * L.KW *
           (L.kind == LayerKind::Depthwise ? 1 : L.C);
  layers.push_back(std::move(L));
}

void LayerGraph::analyzeAdd(RescaleAddOp op) {
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
  if (op.getRoundHalfAwayFromZero()) {
    error(op) << "round_half_away_from_zero (the NPU's ALU rounds ties up)";
    return;
  }
  auto one = [&](Value v, StringRef what, int32_t &out) {
    auto c = getConstantInts(v);
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

void LayerGraph::analyzeMaxPool(tosa::MaxPool2dOp op) {
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
void LayerGraph::analyzeConcat(tosa::ConcatOp op) {
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
void LayerGraph::analyzeTranspose(tosa::TransposeOp op) {
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

LogicalResult LayerGraph::run() {
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
    auto z = getConstantInts(q.getZeroPoint());
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
    if (auto kernel = dyn_cast<IntegerKernelOp>(op)) {
      analyzeKernel(kernel);
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
          auto z = getConstantInts(dq.getZeroPoint());
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
    if (isa<RequantizeOp, RequantizeAddOp>(op)) {
      error(&op) << "float-multiplier requantization; the NPU's ALU "
                    "requantizes in fixed point (prepare the model for the "
                    "'bpu' target)";
      continue;
    }
    error(&op) << "the NPU lowering supports qat.integer_kernel (conv2d, "
                  "depthwise_conv2d, matmul with constant weights and "
                  "fixed-point requantization), qat.rescale_add of two int8 "
                  "tensors, max_pool2d, concat, transpose and reshape on int8 "
                  "codes";
  }
  return failure(failed);
}
