//===- PackInt8Kernels.cpp - qat-pack-int8-kernels ------------------------===//
//
// Integer TOSA kernels followed by a float-multiplier requantization become
// packed kernels with weights laid out at compile time: conv2d and matmul
// become qat.packed_conv2d (blocks of 16 output x 4 input channels),
// depthwise_conv2d becomes qat.packed_depthwise_conv2d (channels padded to
// 16); both biases are compensated for unsigned activations x + 128.
// Semantics: QATOps.td.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

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

/// A splat or per-element integer constant, as int64 values.
static std::optional<SmallVector<int64_t>> intConstant(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isExpansionBounded(attr, attr.getNumElements()))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (APInt a : attr.getValues<APInt>())
    out.push_back(a.getSExtValue());
  return out;
}

static std::optional<SmallVector<float>> floatConstant(Value v) {
  DenseFPElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) ||
      !isExpansionBounded(attr, attr.getNumElements()))
    return std::nullopt;
  SmallVector<float> out;
  for (APFloat a : attr.getValues<APFloat>())
    out.push_back(a.convertToFloat());
  return out;
}

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

/// The requantization that reads `acc`: its multipliers, zero point, range
/// and an optional residual.
struct Requant {
  Operation *op = nullptr;
  SmallVector<float> mult;
  int64_t zp, qmin, qmax;
  Value residual;
  float resMult = 0;
  int64_t resZp = 0;
};

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
  auto op = PackedConv2DOp::create(
      b, loc, TypeRange{outType}, k.input, w, bv, mv, r.residual, init,
      b.getI64IntegerAttr(k.inputZeroPoint), b.getI64IntegerAttr(r.zp),
      b.getI64IntegerAttr(r.qmin), b.getI64IntegerAttr(r.qmax),
      b.getDenseI64ArrayAttr(k.stride), b.getDenseI64ArrayAttr(k.pad),
      b.getDenseI64ArrayAttr(k.dilation),
      r.residual ? b.getF32FloatAttr(r.resMult) : FloatAttr(),
      r.residual ? b.getI64IntegerAttr(r.resZp) : IntegerAttr(),
      /*unsigned_input=*/UnitAttr(), /*unsigned_residual=*/UnitAttr(),
      /*unsigned_output=*/UnitAttr(), /*output_pad=*/DenseI64ArrayAttr(),
      /*kernel_width=*/IntegerAttr());
  return op.getResult()[0];
}

static std::optional<Requant> matchRequant(Value acc) {
  if (!acc.hasOneUse())
    return std::nullopt;
  Operation *user = *acc.getUsers().begin();
  Requant r;
  r.op = user;
  if (auto q = dyn_cast<RequantizeOp>(user)) {
    auto m = floatConstant(q.getMultiplier());
    auto z = intConstant(q.getZeroPoint());
    if (!m || !z || !q.getType().getElementType().isInteger(8) ||
        !llvm::all_equal(*z))
      return std::nullopt;
    r.mult = *m;
    r.zp = (*z)[0];
    r.qmin = q.getQuantMin();
    r.qmax = q.getQuantMax();
    return r;
  }
  if (auto q = dyn_cast<RequantizeAddOp>(user)) {
    auto m = floatConstant(q.getLhsMultiplier());
    auto zl = intConstant(q.getLhsZeroPoint());
    auto mr = floatConstant(q.getRhsMultiplier());
    auto zr = intConstant(q.getRhsZeroPoint());
    auto z = intConstant(q.getZeroPoint());
    if (q.getLhs() != acc || !m || !zl || !mr || !zr || !z ||
        llvm::any_of(*zl, [](int64_t v) { return v != 0; }) ||
        !llvm::all_equal(*mr) || !llvm::all_equal(*zr) ||
        !llvm::all_equal(*z) || !q.getType().getElementType().isInteger(8) ||
        !cast<RankedTensorType>(q.getRhs().getType())
             .getElementType()
             .isInteger(8))
      return std::nullopt;
    r.mult = *m;
    r.zp = (*z)[0];
    r.qmin = q.getQuantMin();
    r.qmax = q.getQuantMax();
    r.residual = q.getRhs();
    r.resMult = (*mr)[0];
    r.resZp = (*zr)[0];
    return r;
  }
  return std::nullopt;
}

static bool isI8Tensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.hasStaticShape() && t.getElementType().isInteger(8);
}

/// tosa.conv2d (+ qat.requantize or qat.requantize_add).
static bool packConv(tosa::Conv2DOp conv) {
  auto accType = cast<RankedTensorType>(conv.getType());
  if (!isI8Tensor(conv.getInput()) || !accType.getElementType().isInteger(32))
    return false;
  auto w = intConstant(conv.getWeight());
  auto bias = intConstant(conv.getBias());
  auto xzp = intConstant(conv.getInputZp());
  auto wzp = intConstant(conv.getWeightZp());
  if (!w || !bias || !xzp || !wzp || (*wzp)[0] != 0)
    return false;
  auto r = matchRequant(conv.getResult());
  if (!r)
    return false;
  auto wType = cast<RankedTensorType>(conv.getWeight().getType());
  Kernel k;
  k.input = conv.getInput();
  k.co = wType.getDimSize(0);
  k.kh = wType.getDimSize(1);
  k.kw = wType.getDimSize(2);
  k.ci = wType.getDimSize(3);
  k.weights = *w;
  k.bias.assign(k.co, (*bias)[0]);
  if (bias->size() == size_t(k.co))
    k.bias = *bias;
  k.inputZeroPoint = (*xzp)[0];
  k.stride.assign(conv.getStride().begin(), conv.getStride().end());
  k.dilation.assign(conv.getDilation().begin(), conv.getDilation().end());
  k.pad.assign(conv.getPad().begin(), conv.getPad().end());
  if (r->mult.size() != 1 && int64_t(r->mult.size()) != k.co)
    return false;
  OpBuilder b(r->op);
  auto outType = cast<RankedTensorType>(r->op->getResult(0).getType());
  Value y = emitPacked(b, conv.getLoc(), k, *r, outType);
  r->op->getResult(0).replaceAllUsesWith(y);
  r->op->erase();
  conv.erase();
  return true;
}

/// tosa.depthwise_conv2d with channel multiplier 1 + qat.requantize.
static bool packDepthwise(tosa::DepthwiseConv2DOp conv) {
  auto accType = cast<RankedTensorType>(conv.getType());
  if (!isI8Tensor(conv.getInput()) || !accType.getElementType().isInteger(32))
    return false;
  auto w = intConstant(conv.getWeight());
  auto bias = intConstant(conv.getBias());
  auto xzp = intConstant(conv.getInputZp());
  auto wzp = intConstant(conv.getWeightZp());
  auto wType = cast<RankedTensorType>(conv.getWeight().getType());
  if (!w || !bias || !xzp || !wzp || (*wzp)[0] != 0 ||
      wType.getDimSize(3) != 1)
    return false;
  auto r = matchRequant(conv.getResult());
  if (!r || r->residual)
    return false;
  int64_t kh = wType.getDimSize(0), kw = wType.getDimSize(1),
          c = wType.getDimSize(2), cp = llvm::alignTo(c, 16);
  if (r->mult.size() != 1 && int64_t(r->mult.size()) != c)
    return false;
  int64_t zin = (*xzp)[0];
  // Weights KH x KW x CP; bias' = bias - (zp_in + 128) * sum(W[c]) (wrapping
  // int32), for unsigned codes x + 128 as in packConv.
  SmallVector<int8_t> packed(kh * kw * cp, 0);
  SmallVector<int32_t> packedBias(cp, 0);
  SmallVector<float> m(cp, 0.0f);
  for (int64_t ch = 0; ch < c; ++ch) {
    int64_t sum = 0;
    for (int64_t t = 0; t < kh * kw; ++t) {
      int64_t v = (*w)[t * c + ch];
      sum += v;
      packed[t * cp + ch] = int8_t(v);
    }
    int64_t b0 = bias->size() == 1 ? (*bias)[0] : (*bias)[ch];
    packedBias[ch] = int32_t(uint32_t(b0) - uint32_t((zin + 128) * sum));
    m[ch] = r->mult.size() == 1 ? r->mult[0] : r->mult[ch];
  }
  OpBuilder b(r->op);
  Location loc = conv.getLoc();
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
  auto outType = cast<RankedTensorType>(r->op->getResult(0).getType());
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), i8);
  auto op = PackedDepthwiseConv2DOp::create(
      b, loc, TypeRange{outType}, conv.getInput(), wv, bv, mv, init,
      b.getI64IntegerAttr(zin), b.getI64IntegerAttr(r->zp),
      b.getI64IntegerAttr(r->qmin), b.getI64IntegerAttr(r->qmax),
      conv.getStrideAttr(), conv.getPadAttr(), conv.getDilationAttr(),
      /*unsigned_input=*/UnitAttr(), /*unsigned_output=*/UnitAttr(),
      /*output_pad=*/DenseI64ArrayAttr());
  r->op->getResult(0).replaceAllUsesWith(op.getResult()[0]);
  r->op->erase();
  conv.erase();
  return true;
}

/// tosa.matmul [1 x M x K] x const [1 x K x N] (+ reshape) + bias add +
/// qat.requantize: a 1x1 convolution over the M rows.
static bool packMatMul(tosa::MatMulOp mm) {
  auto aType = cast<RankedTensorType>(mm.getA().getType());
  auto accType = cast<RankedTensorType>(mm.getType());
  if (!isI8Tensor(mm.getA()) || aType.getDimSize(0) != 1 ||
      !accType.getElementType().isInteger(32))
    return false;
  auto w = intConstant(mm.getB());
  auto azp = intConstant(mm.getAZp());
  auto bzp = intConstant(mm.getBZp());
  if (!w || !azp || !bzp || (*bzp)[0] != 0 || !mm->hasOneUse())
    return false;
  Operation *next = *mm->getUsers().begin();
  tosa::ReshapeOp reshape = dyn_cast<tosa::ReshapeOp>(next);
  if (reshape) {
    if (!reshape->hasOneUse())
      return false;
    next = *reshape->getUsers().begin();
  }
  auto add = dyn_cast<tosa::AddOp>(next);
  if (!add)
    return false;
  Value prev = reshape ? reshape.getResult() : mm.getResult();
  Value other = add.getInput1() == prev ? add.getInput2() : add.getInput1();
  auto bias = intConstant(other);
  int64_t m = aType.getDimSize(1), kdim = aType.getDimSize(2),
          n = accType.getDimSize(2);
  if (!bias || (bias->size() != 1 && int64_t(bias->size()) != n))
    return false;
  auto r = matchRequant(add.getResult());
  if (!r || r->residual)
    return false;
  if (r->mult.size() != 1 && int64_t(r->mult.size()) != n)
    return false;
  auto resType = cast<RankedTensorType>(r->op->getResult(0).getType());
  bool flatResult = resType.getShape() == ArrayRef<int64_t>{m, n};
  bool rank3Result = resType.getShape() == ArrayRef<int64_t>{1, m, n};
  if (!flatResult && !rank3Result)
    return false;
  Kernel k;
  k.co = n;
  k.kh = k.kw = 1;
  k.ci = kdim;
  k.weights.resize(n * kdim);
  for (int64_t c = 0; c < kdim; ++c)
    for (int64_t o = 0; o < n; ++o)
      k.weights[o * kdim + c] = (*w)[c * n + o];
  k.bias.assign(n, (*bias)[0]);
  if (bias->size() == size_t(n))
    k.bias = *bias;
  k.inputZeroPoint = (*azp)[0];
  OpBuilder b(r->op);
  Location loc = mm.getLoc();
  auto i8 = b.getI8Type();
  k.input = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({1, 1, m, kdim}, i8), mm.getA(),
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  auto outType = RankedTensorType::get({1, 1, m, n}, i8);
  Value y = emitPacked(b, loc, k, *r, outType);
  Value flat = flatResult
                   ? tensor::CollapseShapeOp::create(
                         b, loc, resType, y,
                         ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}})
                   : tensor::CollapseShapeOp::create(
                         b, loc, resType, y,
                         ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  r->op->getResult(0).replaceAllUsesWith(flat);
  r->op->erase();
  add.erase();
  if (reshape)
    reshape.erase();
  mm.erase();
  return true;
}

struct PackInt8KernelsPass
    : qat::impl::PackInt8KernelsPassBase<PackInt8KernelsPass> {
  void runOnOperation() override {
    if (failed(verifyInputContract(getOperation())))
      return signalPassFailure();
    SmallVector<Operation *> kernels;
    getOperation()->walk([&](Operation *op) {
      if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp>(op))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      bool packed = false;
      if (auto conv = dyn_cast<tosa::Conv2DOp>(op))
        packed = packConv(conv);
      else if (auto dw = dyn_cast<tosa::DepthwiseConv2DOp>(op))
        packed = packDepthwise(dw);
      else if (auto mm = dyn_cast<tosa::MatMulOp>(op))
        packed = packMatMul(mm);
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
