//===- PackInt8Kernels.cpp - qat-pack-int8-kernels ------------------------===//
//
// qat.integer_kernel ops with a float-multiplier requantization become
// packed kernels with weights laid out at compile time: conv2d and matmul
// kernels become qat.packed_conv2d (blocks of 16 output x 4 input channels),
// depthwise_conv2d kernels become qat.packed_depthwise_conv2d (channels padded
// to 16); both biases are compensated for unsigned activations x + 128.
// Semantics: QATOps.td.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"
#include "qat/Dialect/QAT/Utils/IntegerKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_PACKINT8KERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// The parts of one kernel, weights as W[co][kh][kw][ci].
struct Kernel {
  Value input; // 4-D NHWC i8 (matmul: expanded)
  int64_t co, kh, kw, ci;
  SmallVector<int64_t> weights; // co x kh x kw x ci
  SmallVector<int64_t> bias;    // co
  int64_t inputZeroPoint;
  SmallVector<int64_t, 2> stride{1, 1}, dilation{1, 1};
  SmallVector<int64_t, 4> pad{0, 0, 0, 0};
};

/// The requantization of a kernel: its multipliers, zero point, range and
/// an optional residual.
struct Requant {
  SmallVector<float> mult;
  int64_t zp, qmin, qmax;
  Value residual;
  float resMult = 0;
  int64_t resZp = 0;
  /// PyTorch's onednn form: a float bias (one, or one per channel) and the
  /// zero point's offset in f32.
  SmallVector<float> floatBias;
  std::optional<int64_t> floatZeroPointOffset;
};

/// The float bias of `r` over `n` padded channels (0 beyond `co`), or null.
static Value floatBiasConstant(OpBuilder &b, Location loc, const Requant &r,
                               int64_t co, int64_t n) {
  if (!r.floatZeroPointOffset)
    return Value();
  SmallVector<float> fb(n, 0.0f);
  for (int64_t o = 0; o < co; ++o)
    fb[o] = r.floatBias.size() == 1 ? r.floatBias[0] : r.floatBias[o];
  return arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({n}, b.getF32Type()),
                             ArrayRef(fb)));
}

static IntegerAttr floatZeroPointOffsetAttr(OpBuilder &b, const Requant &r) {
  return r.floatZeroPointOffset ? b.getI64IntegerAttr(*r.floatZeroPointOffset)
                                : IntegerAttr();
}

/// Emits qat.packed_conv2d for `k` with the requantization `r`, producing
/// `outType` (4-D).
static Value emitPacked(OpBuilder &b, Location loc, const Kernel &k,
                        const Requant &r, RankedTensorType outType) {
  int64_t nb = llvm::divideCeil(k.co, 16), c4 = llvm::divideCeil(k.ci, 4);
  SmallVector<int8_t> packed(nb * k.kh * k.kw * c4 * 64, 0);
  SmallVector<int32_t> bias(nb * 16, 0);
  SmallVector<float> m(nb * 16, 0.0f);
  for (int64_t o = 0; o < k.co; ++o) {
    int64_t sum = 0;
    for (int64_t y = 0; y < k.kh; ++y)
      for (int64_t x = 0; x < k.kw; ++x)
        for (int64_t c = 0; c < k.ci; ++c) {
          int64_t w = k.weights[((o * k.kh + y) * k.kw + x) * k.ci + c];
          sum += w;
          int64_t at = ((((o / 16) * k.kh + y) * k.kw + x) * c4 + c / 4) * 64 +
                       (o % 16) * 4 + c % 4;
          packed[at] = int8_t(w);
        }
    // Wrapping int32, as the accumulator.
    bias[o] =
        int32_t(uint32_t(k.bias[o]) - uint32_t((k.inputZeroPoint + 128) * sum));
    m[o] = r.mult.size() == 1 ? r.mult[0] : r.mult[o];
  }
  auto i8 = b.getI8Type();
  auto wType = RankedTensorType::get({nb, k.kh, k.kw, c4, 16, 4}, i8);
  auto bType = RankedTensorType::get({nb * 16}, b.getI32Type());
  auto mType = RankedTensorType::get({nb * 16}, b.getF32Type());
  Value w = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(wType, ArrayRef(packed)));
  Value bv = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(bType, ArrayRef(bias)));
  Value mv = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(mType, ArrayRef(m)));
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), i8);
  Value fbv = floatBiasConstant(b, loc, r, k.co, nb * 16);
  auto op = PackedConv2DOp::create(
      b, loc, TypeRange{outType}, k.input, w, bv, mv, r.residual, fbv, init,
      b.getI64IntegerAttr(k.inputZeroPoint), b.getI64IntegerAttr(r.zp),
      b.getI64IntegerAttr(r.qmin), b.getI64IntegerAttr(r.qmax),
      b.getDenseI64ArrayAttr(k.stride), b.getDenseI64ArrayAttr(k.pad),
      b.getDenseI64ArrayAttr(k.dilation),
      r.residual ? b.getF32FloatAttr(r.resMult) : FloatAttr(),
      r.residual ? b.getI64IntegerAttr(r.resZp) : IntegerAttr(),
      /*unsigned_input=*/UnitAttr(), /*unsigned_residual=*/UnitAttr(),
      /*unsigned_output=*/UnitAttr(), /*output_pad=*/DenseI64ArrayAttr(),
      /*kernel_width=*/IntegerAttr(), floatZeroPointOffsetAttr(b, r));
  return op.getResult()[0];
}

/// The float-multiplier requantization of `k` as the packed ops take it
/// (one residual multiplier and zero point); nullopt for fixed point.
static std::optional<Requant> getRequant(const IntegerKernel &k,
                                         Value residual) {
  if (!k.floatMultiplier ||
      (k.hasResidual && !llvm::all_equal(k.residualMultiplier)))
    return std::nullopt;
  Requant r;
  r.mult = k.multiplier;
  r.zp = k.outputZeroPoint;
  r.qmin = k.quantMin;
  r.qmax = k.quantMax;
  if (k.hasResidual) {
    r.residual = residual;
    r.resMult = k.residualMultiplier[0];
    r.resZp = k.residualZeroPoint;
  }
  r.floatBias = k.floatBias;
  r.floatZeroPointOffset = k.floatZeroPointOffset;
  return r;
}

/// A conv2d kernel: qat.packed_conv2d.
static bool packConv(IntegerKernelOp op, const IntegerKernel &k) {
  auto r = getRequant(k, op.getResidual());
  if (!r)
    return false;
  Kernel kk;
  kk.input = op.getInput();
  kk.co = k.weightType.getDimSize(0);
  kk.kh = k.weightType.getDimSize(1);
  kk.kw = k.weightType.getDimSize(2);
  kk.ci = k.weightType.getDimSize(3);
  kk.weights.assign(k.weights.begin(), k.weights.end());
  kk.bias.assign(k.bias.begin(), k.bias.end());
  kk.inputZeroPoint = k.inputZeroPoint;
  kk.stride.assign(k.stride.begin(), k.stride.end());
  kk.dilation.assign(k.dilation.begin(), k.dilation.end());
  kk.pad.assign(k.pad.begin(), k.pad.end());
  OpBuilder b(op);
  Value y = emitPacked(b, op.getLoc(), kk, *r, op.getType());
  op.getResult().replaceAllUsesWith(y);
  op.erase();
  return true;
}

/// A depthwise kernel with channel multiplier 1 and no residual:
/// qat.packed_depthwise_conv2d.
static bool packDepthwise(IntegerKernelOp op, const IntegerKernel &k) {
  auto r = getRequant(k, op.getResidual());
  if (!r || r->residual || k.weightType.getDimSize(3) != 1)
    return false;
  int64_t kh = k.weightType.getDimSize(0), kw = k.weightType.getDimSize(1),
          c = k.weightType.getDimSize(2), cp = llvm::alignTo(c, 16);
  int64_t zin = k.inputZeroPoint;
  // Weights KH x KW x CP; bias' = bias - (zp_in + 128) * sum(W[c]) (wrapping
  // int32), for unsigned codes x + 128 as in packConv.
  SmallVector<int8_t> packed(kh * kw * cp, 0);
  SmallVector<int32_t> packedBias(cp, 0);
  SmallVector<float> m(cp, 0.0f);
  for (int64_t ch = 0; ch < c; ++ch) {
    int64_t sum = 0;
    for (int64_t t = 0; t < kh * kw; ++t) {
      int64_t v = k.weights[t * c + ch];
      sum += v;
      packed[t * cp + ch] = int8_t(v);
    }
    packedBias[ch] =
        int32_t(uint32_t(k.bias[ch]) - uint32_t((zin + 128) * sum));
    m[ch] = r->mult.size() == 1 ? r->mult[0] : r->mult[ch];
  }
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto i8 = b.getI8Type();
  auto pwType = RankedTensorType::get({kh, kw, cp}, i8);
  Value wv = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(pwType, ArrayRef(packed)));
  Value bv = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({cp}, b.getI32Type()),
                             ArrayRef(packedBias)));
  Value mv = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({cp}, b.getF32Type()),
                             ArrayRef(m)));
  auto outType = op.getType();
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), i8);
  Value fbv = floatBiasConstant(b, loc, *r, c, cp);
  auto packedOp = PackedDepthwiseConv2DOp::create(
      b, loc, TypeRange{outType}, op.getInput(), wv, bv, mv, fbv, init,
      b.getI64IntegerAttr(zin), b.getI64IntegerAttr(r->zp),
      b.getI64IntegerAttr(r->qmin), b.getI64IntegerAttr(r->qmax),
      b.getDenseI64ArrayAttr(k.stride), b.getDenseI64ArrayAttr(k.pad),
      b.getDenseI64ArrayAttr(k.dilation),
      /*unsigned_input=*/UnitAttr(), /*unsigned_output=*/UnitAttr(),
      /*output_pad=*/DenseI64ArrayAttr(), floatZeroPointOffsetAttr(b, *r));
  op.getResult().replaceAllUsesWith(packedOp.getResult()[0]);
  op.erase();
  return true;
}

/// A matmul kernel [1 x M x K] x [1 x K x N] without residual whose result
/// is M x N or 1 x M x N: a 1x1 convolution over the M rows.
static bool packMatMul(IntegerKernelOp op, const IntegerKernel &k) {
  auto r = getRequant(k, op.getResidual());
  if (!r || r->residual)
    return false;
  int64_t m = k.inputType.getDimSize(1), kdim = k.inputType.getDimSize(2),
          n = k.weightType.getDimSize(2);
  auto resType = op.getType();
  bool flatResult = resType.getShape() == ArrayRef<int64_t>{m, n};
  bool rank3Result = resType.getShape() == ArrayRef<int64_t>{1, m, n};
  if (!flatResult && !rank3Result)
    return false;
  Kernel kk;
  kk.co = n;
  kk.kh = kk.kw = 1;
  kk.ci = kdim;
  kk.weights.resize(n * kdim);
  for (int64_t c = 0; c < kdim; ++c)
    for (int64_t o = 0; o < n; ++o)
      kk.weights[o * kdim + c] = k.weights[c * n + o];
  kk.bias.assign(k.bias.begin(), k.bias.end());
  kk.inputZeroPoint = k.inputZeroPoint;
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto i8 = b.getI8Type();
  kk.input = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({1, 1, m, kdim}, i8), op.getInput(),
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  auto outType = RankedTensorType::get({1, 1, m, n}, i8);
  Value y = emitPacked(b, loc, kk, *r, outType);
  Value flat = flatResult
                   ? tensor::CollapseShapeOp::create(
                         b, loc, resType, y,
                         ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}})
                   : tensor::CollapseShapeOp::create(
                         b, loc, resType, y,
                         ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  op.getResult().replaceAllUsesWith(flat);
  op.erase();
  return true;
}

struct PackInt8KernelsPass
    : qat::impl::PackInt8KernelsPassBase<PackInt8KernelsPass> {
  void runOnOperation() override {
    if (failed(verifyInputContract(getOperation())))
      return signalPassFailure();
    SmallVector<IntegerKernelOp> kernels;
    getOperation()->walk([&](IntegerKernelOp op) { kernels.push_back(op); });
    for (IntegerKernelOp op : kernels) {
      // Kernels with a fixed-point requantization, or constants that are
      // not constants, stay for the generic lowering.
      std::optional<IntegerKernel> k = IntegerKernel::read(op);
      if (!k)
        continue;
      bool packed = false;
      switch (k->kind) {
      case KernelKind::conv2d:
        packed = packConv(op, *k);
        break;
      case KernelKind::depthwise_conv2d:
        packed = packDepthwise(op, *k);
        break;
      case KernelKind::matmul:
        packed = packMatMul(op, *k);
        break;
      }
      numPacked += packed;
    }
    keepCodesUnsigned();
    padOutputsForReaders();
  }

  /// A kernel storing unsigned codes whose readers (as input) all pad their
  /// input the same way, and can read it in place, writes its output inside
  /// that border (`output_pad`, the border holding the zero point's code):
  /// the readers then take it with no padding, and read it in place instead
  /// of copying it into a padded buffer. A reader of it as residual gets the
  /// interior (tensor.extract_slice).
  void padOutputsForReaders() {
    SmallVector<Operation *> kernels;
    getOperation()->walk([&](Operation *op) {
      if (isa<PackedConv2DOp, PackedDepthwiseConv2DOp>(op) &&
          op->hasAttr("unsigned_output"))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      Value y = op->getResult(0);
      auto type = cast<RankedTensorType>(y.getType());
      std::optional<SmallVector<int64_t>> pads;
      bool ok = true;
      for (OpOperand &use : y.getUses()) {
        if (use.getOperandNumber() != 0)
          continue; // a residual
        Operation *reader = use.getOwner();
        ArrayRef<int64_t> pad =
            cast<DenseI64ArrayAttr>(reader->getAttr("pad")).asArrayRef();
        // The channel groups the reader's kernel reads in place; its
        // padding must be the code this kernel writes in the border.
        int64_t group = isa<PackedDepthwiseConv2DOp>(reader) ? 16 : 4;
        if (type.getDimSize(3) % group ||
            (pads && ArrayRef<int64_t>(*pads) != pad) ||
            cast<IntegerAttr>(reader->getAttr("input_zero_point")).getInt() !=
                cast<IntegerAttr>(op->getAttr("output_zero_point")).getInt())
          ok = false;
        pads = SmallVector<int64_t>(pad);
      }
      if (!ok || !pads || llvm::all_of(*pads, [](int64_t v) { return !v; }))
        continue;
      ArrayRef<int64_t> p = *pads;
      OpBuilder b(op);
      Location loc = op->getLoc();
      SmallVector<int64_t> shape(type.getShape());
      shape[1] += p[0] + p[1];
      shape[2] += p[2] + p[3];
      auto paddedType = RankedTensorType::get(shape, type.getElementType());
      Value init = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
      op->getOpOperands().back().set(init);
      y.setType(paddedType);
      op->setAttr("output_pad", b.getDenseI64ArrayAttr(p));
      b.setInsertionPointAfter(op);
      Value interior;
      SmallVector<int64_t> zeros(4, 0);
      for (OpOperand &use : llvm::make_early_inc_range(y.getUses())) {
        if (use.getOperandNumber() == 0) {
          use.getOwner()->setAttr("pad", b.getDenseI64ArrayAttr(zeros));
          continue;
        }
        if (!interior)
          interior = tensor::ExtractSliceOp::create(
              b, loc, type, y,
              /*offsets=*/ValueRange{}, /*sizes=*/ValueRange{},
              /*strides=*/ValueRange{},
              b.getDenseI64ArrayAttr({0, p[0], p[2], 0}),
              b.getDenseI64ArrayAttr(type.getShape()),
              b.getDenseI64ArrayAttr({1, 1, 1, 1}));
        use.set(interior);
      }
      ++numPaddedOutputs;
    }
  }

  /// A packed kernel whose every user is a packed kernel reading it as its
  /// input or residual stores its codes unsigned (x + 128), and those users
  /// read them so: a kernel with an unsigned, unpadded input needs no
  /// converting copy.
  void keepCodesUnsigned() {
    SmallVector<Operation *> kernels;
    getOperation()->walk([&](Operation *op) {
      if (isa<PackedConv2DOp, PackedDepthwiseConv2DOp>(op))
        kernels.push_back(op);
    });
    // Operand 0 is the input of both ops; 4 the residual of a conv.
    auto readsCodes = [](OpOperand &use) {
      if (auto conv = dyn_cast<PackedConv2DOp>(use.getOwner()))
        return use.getOperandNumber() == 0 ||
               (conv.getResidual() && use.getOperandNumber() == 4);
      return isa<PackedDepthwiseConv2DOp>(use.getOwner()) &&
             use.getOperandNumber() == 0;
    };
    for (Operation *op : kernels) {
      Value y = op->getResult(0);
      if (y.use_empty() || !llvm::all_of(y.getUses(), readsCodes))
        continue;
      op->setAttr("unsigned_output", UnitAttr::get(op->getContext()));
      for (OpOperand &use : y.getUses())
        use.getOwner()->setAttr(use.getOperandNumber() == 0
                                    ? "unsigned_input"
                                    : "unsigned_residual",
                                UnitAttr::get(op->getContext()));
      ++numUnsigned;
    }
  }
};

} // namespace
