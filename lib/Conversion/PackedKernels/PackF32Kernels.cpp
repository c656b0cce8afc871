//===- PackF32Kernels.cpp - qat-pack-f32-kernels --------------------------===//
//
// f32 TOSA kernels with constant weights become packed f32 kernels:
// conv2d and matmul become qat.packed_conv2d_f32 (weights NB x KH x (KW*C)
// x 16), depthwise_conv2d becomes qat.packed_depthwise_conv2d_f32 (weights
// KH x KW x CP). Semantics: QATFloatKernelOps.td.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Dialect/QAT/Utils/GroupedConv.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_PACKF32KERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// The values of an f32 constant (splats expanded).
static std::optional<SmallVector<float>> f32Constant(Value v) {
  ElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)) || !attr.getElementType().isF32())
    return std::nullopt;
  if (auto dense = dyn_cast<DenseFPElementsAttr>(attr)) {
    auto values = dense.getValues<float>();
    return SmallVector<float>(values.begin(), values.end());
  }
  if (auto blob = dyn_cast<DenseF32ResourceElementsAttr>(attr))
    if (auto values = blob.tryGetAsArrayRef())
      return SmallVector<float>(values->begin(), values->end());
  return std::nullopt;
}

/// True if `v` is a constant whose every element is +0.0 or -0.0.
static bool isZeroConstant(Value v) {
  auto c = f32Constant(v);
  return c && llvm::all_of(*c, [](float x) { return x == 0.0f; });
}

static bool isStaticF32(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.hasStaticShape() && t.getElementType().isF32();
}

/// W[co][kh][kw][ci] -> NB x KH x (KW * C) x 16, and the bias padded to
/// NB * 16.
static Value emitConv(OpBuilder &b, Location loc, Value input,
                      ArrayRef<float> w, int64_t co, int64_t kh, int64_t kw,
                      int64_t ci, ArrayRef<float> bias,
                      RankedTensorType outType, ArrayRef<int64_t> stride,
                      ArrayRef<int64_t> pad, ArrayRef<int64_t> dilation) {
  int64_t nb = llvm::divideCeil(co, 16), kwc = kw * ci;
  SmallVector<float> packed(nb * kh * kwc * 16, 0.0f),
      packedBias(nb * 16, 0.0f);
  for (int64_t o = 0; o < co; ++o) {
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t j = 0; j < kwc; ++j)
        packed[(((o / 16) * kh + y) * kwc + j) * 16 + o % 16] =
            w[(o * kh + y) * kwc + j];
    packedBias[o] = bias.size() == 1 ? bias[0] : bias[o];
  }
  auto f32 = b.getF32Type();
  auto wType = RankedTensorType::get({nb, kh, kwc, 16}, f32);
  auto bType = RankedTensorType::get({nb * 16}, f32);
  Value wv = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(wType, ArrayRef(packed)));
  Value bv = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(bType, ArrayRef(packedBias)));
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  auto op = PackedConv2DF32Op::create(
      b, loc, TypeRange{outType}, input, wv, bv, ValueRange{}, init,
      b.getDenseI64ArrayAttr(stride), b.getDenseI64ArrayAttr(pad),
      b.getDenseI64ArrayAttr(dilation), IntegerAttr());
  return op.getResult()[0];
}

/// tosa.conv2d on f32 with constant weights and bias, zero points 0.
static bool packConv(tosa::Conv2DOp conv) {
  if (!isStaticF32(conv.getInput()) || !isStaticF32(conv.getResult()))
    return false;
  auto w = f32Constant(conv.getWeight());
  auto bias = f32Constant(conv.getBias());
  if (!w || !bias || !isZeroConstant(conv.getInputZp()) ||
      !isZeroConstant(conv.getWeightZp()))
    return false;
  auto wType = cast<RankedTensorType>(conv.getWeight().getType());
  int64_t co = wType.getDimSize(0);
  if (bias->size() != 1 && int64_t(bias->size()) != co)
    return false;
  OpBuilder b(conv);
  Value y =
      emitConv(b, conv.getLoc(), conv.getInput(), *w, co, wType.getDimSize(1),
               wType.getDimSize(2), wType.getDimSize(3), *bias,
               cast<RankedTensorType>(conv.getType()), conv.getStride(),
               conv.getPad(), conv.getDilation());
  conv.getResult().replaceAllUsesWith(y);
  conv.erase();
  return true;
}

/// tosa.conv2d on f32 whose weights are computed at run time (training):
/// qat.pack_conv_weights_f32 packs them when the kernel runs; a bias that
/// is not a constant is padded to NB * 16 with zeros.
static bool packRuntimeConv(tosa::Conv2DOp conv) {
  if (!isStaticF32(conv.getInput()) || !isStaticF32(conv.getResult()) ||
      !isStaticF32(conv.getWeight()) || !isStaticF32(conv.getBias()) ||
      !isZeroConstant(conv.getInputZp()) || !isZeroConstant(conv.getWeightZp()))
    return false;
  auto wType = cast<RankedTensorType>(conv.getWeight().getType());
  auto bType = cast<RankedTensorType>(conv.getBias().getType());
  int64_t co = wType.getDimSize(0), kh = wType.getDimSize(1),
          kw = wType.getDimSize(2), ci = wType.getDimSize(3);
  int64_t nb = llvm::divideCeil(co, 16);
  if (bType.getRank() != 1 || bType.getDimSize(0) != co)
    return false;
  OpBuilder b(conv);
  Location loc = conv.getLoc();
  auto f32 = b.getF32Type();
  auto packedType = RankedTensorType::get({nb, kh, kw * ci, 16}, f32);
  Value init = tensor::EmptyOp::create(b, loc, packedType.getShape(), f32);
  Value packed = PackConvWeightsF32Op::create(b, loc, TypeRange{packedType},
                                              conv.getWeight(), init)
                     .getResult()[0];
  Value bias = conv.getBias();
  if (auto c = f32Constant(bias)) {
    SmallVector<float> padded(nb * 16, 0.0f);
    llvm::copy(*c, padded.begin());
    bias = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({nb * 16}, f32),
                               ArrayRef(padded)));
  } else if (co % 16) {
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    bias = tensor::PadOp::create(
        b, loc, RankedTensorType::get({nb * 16}, f32), bias,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(nb * 16 - co)}, zero);
  }
  auto outType = cast<RankedTensorType>(conv.getType());
  Value out = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  auto op = PackedConv2DF32Op::create(
      b, loc, TypeRange{outType}, conv.getInput(), packed, bias, ValueRange{},
      out, conv.getStrideAttr(), conv.getPadAttr(), conv.getDilationAttr(),
      IntegerAttr());
  conv.getResult().replaceAllUsesWith(op.getResult()[0]);
  conv.erase();
  return true;
}

static bool unitDilation(ArrayRef<int64_t> d) {
  return llvm::all_of(d, [](int64_t v) { return v == 1; });
}

/// qat.conv2d_backward_data -> qat.conv2d_backward_data_f32 (dilation 1).
static bool packBackwardData(Conv2DBackwardDataOp op) {
  if (!isStaticF32(op.getGradOutput()) || !isStaticF32(op.getWeight()) ||
      !isStaticF32(op.getGradInput()) || !unitDilation(op.getDilation()))
    return false;
  OpBuilder b(op);
  auto type = cast<RankedTensorType>(op.getType());
  Value init =
      tensor::EmptyOp::create(b, op.getLoc(), type.getShape(), b.getF32Type());
  auto k = Conv2DBackwardDataF32Op::create(
      b, op.getLoc(), TypeRange{type}, op.getGradOutput(), op.getWeight(),
      ValueRange{}, init, op.getPadAttr(), op.getStrideAttr(),
      op.getDilationAttr());
  op.getResult().replaceAllUsesWith(k.getResult()[0]);
  op.erase();
  return true;
}

/// qat.conv2d_backward_weight -> qat.conv2d_backward_weight_f32 (dilation 1).
static bool packBackwardWeight(Conv2DBackwardWeightOp op) {
  if (!isStaticF32(op.getInput()) || !isStaticF32(op.getGradOutput()) ||
      !isStaticF32(op.getGradWeight()) || !unitDilation(op.getDilation()))
    return false;
  OpBuilder b(op);
  auto type = cast<RankedTensorType>(op.getType());
  Value init =
      tensor::EmptyOp::create(b, op.getLoc(), type.getShape(), b.getF32Type());
  auto k = Conv2DBackwardWeightF32Op::create(
      b, op.getLoc(), TypeRange{type}, op.getInput(), op.getGradOutput(),
      ValueRange{}, init, op.getPadAttr(), op.getStrideAttr(),
      op.getDilationAttr());
  op.getResult().replaceAllUsesWith(k.getResult()[0]);
  op.erase();
  return true;
}

/// The depthwise adjoints with channel multiplier 1 and dilation 1 ->
/// their kernels.
template <typename FromOp, typename ToOp>
static bool packDepthwiseAdjoint(FromOp op, Value a, Value b0, Value weight) {
  auto wType = dyn_cast<RankedTensorType>(weight.getType());
  if (!isStaticF32(a) || !isStaticF32(b0) || !isStaticF32(op.getResult()) ||
      !wType || wType.getRank() != 4 || wType.getDimSize(3) != 1 ||
      !unitDilation(op.getDilation()))
    return false;
  OpBuilder b(op);
  auto type = cast<RankedTensorType>(op.getType());
  Value init =
      tensor::EmptyOp::create(b, op.getLoc(), type.getShape(), b.getF32Type());
  ToOp k;
  if constexpr (std::is_same_v<ToOp, DepthwiseConv2DBackwardDataF32Op>)
    k = ToOp::create(b, op.getLoc(), TypeRange{type}, a, b0, ValueRange{}, init,
                     op.getPadAttr(), op.getStrideAttr(), op.getDilationAttr());
  else
    k = ToOp::create(b, op.getLoc(), TypeRange{type}, a, b0, init,
                     op.getPadAttr(), op.getStrideAttr(), op.getDilationAttr());
  op.getResult().replaceAllUsesWith(k.getResult()[0]);
  op.erase();
  return true;
}

/// tosa.depthwise_conv2d on f32, channel multiplier 1, constant weights
/// and bias, zero points 0.
static bool packDepthwise(tosa::DepthwiseConv2DOp conv) {
  if (!isStaticF32(conv.getInput()) || !isStaticF32(conv.getResult()))
    return false;
  auto w = f32Constant(conv.getWeight());
  auto bias = f32Constant(conv.getBias());
  auto wType = cast<RankedTensorType>(conv.getWeight().getType());
  if (!w || !bias || wType.getDimSize(3) != 1 ||
      !isZeroConstant(conv.getInputZp()) || !isZeroConstant(conv.getWeightZp()))
    return false;
  int64_t kh = wType.getDimSize(0), kw = wType.getDimSize(1),
          c = wType.getDimSize(2), cp = llvm::alignTo(c, 16);
  if (bias->size() != 1 && int64_t(bias->size()) != c)
    return false;
  SmallVector<float> packed(kh * kw * cp, 0.0f), packedBias(cp, 0.0f);
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t t = 0; t < kh * kw; ++t)
      packed[t * cp + ch] = (*w)[t * c + ch];
    packedBias[ch] = bias->size() == 1 ? (*bias)[0] : (*bias)[ch];
  }
  OpBuilder b(conv);
  Location loc = conv.getLoc();
  auto f32 = b.getF32Type();
  Value wv = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({kh, kw, cp}, f32),
                             ArrayRef(packed)));
  Value bv = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({cp}, f32),
                             ArrayRef(packedBias)));
  auto outType = cast<RankedTensorType>(conv.getType());
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  auto op = PackedDepthwiseConv2DF32Op::create(
      b, loc, TypeRange{outType}, conv.getInput(), wv, bv, ValueRange{}, init,
      conv.getStrideAttr(), conv.getPadAttr(), conv.getDilationAttr());
  conv.getResult().replaceAllUsesWith(op.getResult()[0]);
  conv.erase();
  return true;
}

/// tosa.matmul [1 x M x K] x [1 x K x N] on f32 whose right operand is
/// computed at run time: packed when the kernel runs, from B (K x N) or, when
/// B is tosa.transpose(T, [0, 2, 1]), from T (N x K) as OHWI weights.
static bool packRuntimeMatMul(tosa::MatMulOp mm) {
  auto aType = dyn_cast<RankedTensorType>(mm.getA().getType());
  if (!isStaticF32(mm.getA()) || !isStaticF32(mm.getB()) ||
      !isStaticF32(mm.getResult()) || aType.getDimSize(0) != 1 ||
      !isZeroConstant(mm.getAZp()) || !isZeroConstant(mm.getBZp()))
    return false;
  int64_t m = aType.getDimSize(1), k = aType.getDimSize(2),
          n = cast<RankedTensorType>(mm.getType()).getDimSize(2);
  int64_t nb = llvm::divideCeil(n, 16);
  OpBuilder b(mm);
  Location loc = mm.getLoc();
  auto f32 = b.getF32Type();
  auto packedType = RankedTensorType::get({nb, 1, k, 16}, f32);
  Value init = tensor::EmptyOp::create(b, loc, packedType.getShape(), f32);
  Value weights;
  auto transpose = mm.getB().getDefiningOp<tosa::TransposeOp>();
  if (transpose && transpose.getPerms() == ArrayRef<int32_t>{0, 2, 1}) {
    // T is 1 x N x K: OHWI N x 1 x 1 x K.
    weights = tensor::CollapseShapeOp::create(
        b, loc, transpose.getInput1(),
        ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    weights = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({n, 1, 1, k}, f32), weights,
        ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
  } else {
    weights = tensor::CollapseShapeOp::create(
        b, loc, mm.getB(), ArrayRef<ReassociationIndices>{{0, 1}, {2}});
  }
  Value packed =
      PackConvWeightsF32Op::create(b, loc, TypeRange{packedType}, weights, init)
          .getResult()[0];
  Value x = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({1, 1, m, k}, f32), mm.getA(),
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  SmallVector<float> zeros(nb * 16, 0.0f);
  Value bias = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(RankedTensorType::get({nb * 16}, f32),
                             ArrayRef(zeros)));
  auto outType = RankedTensorType::get({1, 1, m, n}, f32);
  Value out = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  Value y =
      PackedConv2DF32Op::create(
          b, loc, TypeRange{outType}, x, packed, bias, ValueRange{}, out,
          b.getDenseI64ArrayAttr({1, 1}), b.getDenseI64ArrayAttr({0, 0, 0, 0}),
          b.getDenseI64ArrayAttr({1, 1}), IntegerAttr())
          .getResult()[0];
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, cast<RankedTensorType>(mm.getType()), y,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  mm.getResult().replaceAllUsesWith(flat);
  mm.erase();
  if (transpose && transpose->use_empty())
    transpose.erase();
  return true;
}

/// tosa.matmul [1 x M x K] x const [1 x K x N] on f32: a 1x1 convolution
/// over the M rows, with a zero bias.
static bool packMatMul(tosa::MatMulOp mm) {
  auto aType = dyn_cast<RankedTensorType>(mm.getA().getType());
  if (!isStaticF32(mm.getA()) || !isStaticF32(mm.getResult()) ||
      aType.getDimSize(0) != 1)
    return false;
  auto w = f32Constant(mm.getB());
  if (!w || !isZeroConstant(mm.getAZp()) || !isZeroConstant(mm.getBZp()))
    return false;
  int64_t m = aType.getDimSize(1), k = aType.getDimSize(2),
          n = cast<RankedTensorType>(mm.getType()).getDimSize(2);
  SmallVector<float> wt(n * k);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t o = 0; o < n; ++o)
      wt[o * k + c] = (*w)[c * n + o];
  OpBuilder b(mm);
  Location loc = mm.getLoc();
  auto f32 = b.getF32Type();
  Value x = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({1, 1, m, k}, f32), mm.getA(),
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  SmallVector<float> zero{0.0f};
  Value y = emitConv(b, loc, x, wt, n, 1, 1, k, zero,
                     RankedTensorType::get({1, 1, m, n}, f32), {1, 1},
                     {0, 0, 0, 0}, {1, 1});
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, cast<RankedTensorType>(mm.getType()), y,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  mm.getResult().replaceAllUsesWith(flat);
  mm.erase();
  return true;
}

/// A grouped convolution (matchGroupedConv, GroupedConv.h) of f32 tensors
/// with zero zero points and a bias per output channel. Becomes one
/// qat.packed_conv2d_f32 {groups = G} over the concatenated inputs (the
/// input the slices are taken from when each group's input is its slice of
/// one tensor, in order). Weights and biases constant: packed here, each
/// group in its own blocks; computed at run time (training, weight fake
/// quantization): stacked along O and packed when the kernel runs, which
/// needs Cog to be a multiple of 16.
static bool packGroupedConv(tosa::ConcatOp concat) {
  std::optional<GroupedConv> grouped = matchGroupedConv(concat);
  if (!grouped || !isStaticF32(concat.getResult()))
    return false;
  ArrayRef<tosa::Conv2DOp> convs = grouped->convs;
  for (tosa::Conv2DOp conv : convs)
    if (!isStaticF32(conv.getInput()) || !isStaticF32(conv.getWeight()) ||
        !isStaticF32(conv.getBias()) || !isZeroConstant(conv.getInputZp()) ||
        !isZeroConstant(conv.getWeightZp()))
      return false;
  tosa::Conv2DOp first = convs.front();
  int64_t groups = grouped->groups();
  auto wType = cast<RankedTensorType>(first.getWeight().getType());
  int64_t cog = wType.getDimSize(0), kh = wType.getDimSize(1),
          kw = wType.getDimSize(2), cg = wType.getDimSize(3);
  int64_t nbg = llvm::divideCeil(cog, 16), nb = groups * nbg;
  for (tosa::Conv2DOp conv : convs) {
    auto bType = cast<RankedTensorType>(conv.getBias().getType());
    if (bType.getRank() != 1 ||
        (bType.getDimSize(0) != cog && bType.getDimSize(0) != 1))
      return false;
  }
  SmallVector<SmallVector<float>> cw, cb;
  for (tosa::Conv2DOp conv : convs) {
    auto w = f32Constant(conv.getWeight());
    auto bias = f32Constant(conv.getBias());
    if (!w || !bias)
      break;
    cw.push_back(*w);
    cb.push_back(*bias);
  }
  bool constant = int64_t(cw.size()) == groups;
  if (!constant && cog % 16)
    return false;

  OpBuilder b(concat);
  Location loc = concat.getLoc();
  auto f32 = b.getF32Type();
  // The input: the tensor the groups' slices come from, else the concat of
  // the groups' inputs.
  Value input = grouped->source;
  if (!input) {
    SmallVector<Value> ins;
    for (tosa::Conv2DOp conv : convs)
      ins.push_back(conv.getInput());
    auto t = cast<RankedTensorType>(first.getInput().getType());
    SmallVector<int64_t> shape(t.getShape());
    shape[3] *= groups;
    input = tosa::ConcatOp::create(b, loc, RankedTensorType::get(shape, f32),
                                   ins, 3);
  }
  Value weights, bias;
  if (constant) {
    int64_t kwc = kw * cg;
    SmallVector<float> packed(nb * kh * kwc * 16, 0.0f),
        packedBias(nb * 16, 0.0f);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t o = 0; o < cog; ++o) {
        int64_t blk = g * nbg + o / 16;
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t j = 0; j < kwc; ++j)
            packed[((blk * kh + y) * kwc + j) * 16 + o % 16] =
                cw[g][(o * kh + y) * kwc + j];
        packedBias[blk * 16 + o % 16] = cb[g].size() == 1 ? cb[g][0] : cb[g][o];
      }
    weights = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({nb, kh, kwc, 16}, f32),
                               ArrayRef(packed)));
    bias = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({nb * 16}, f32),
                               ArrayRef(packedBias)));
  } else {
    // Cog % 16 == 0: the groups' OHWI weights stacked along O are packed as
    // one ungrouped convolution's.
    SmallVector<Value> ws, bs;
    for (tosa::Conv2DOp conv : convs) {
      ws.push_back(conv.getWeight());
      Value bv = conv.getBias();
      if (cast<RankedTensorType>(bv.getType()).getDimSize(0) == 1) {
        auto cb1 = f32Constant(bv);
        if (!cb1)
          return false;
        bv = arith::ConstantOp::create(
            b, loc,
            DenseElementsAttr::get(RankedTensorType::get({cog}, f32),
                                   b.getF32FloatAttr((*cb1)[0])));
      }
      bs.push_back(bv);
    }
    Value stacked = tosa::ConcatOp::create(
        b, loc, RankedTensorType::get({groups * cog, kh, kw, cg}, f32), ws, 0);
    auto packedType = RankedTensorType::get({nb, kh, kw * cg, 16}, f32);
    Value init = tensor::EmptyOp::create(b, loc, packedType.getShape(), f32);
    weights = PackConvWeightsF32Op::create(b, loc, TypeRange{packedType},
                                           stacked, init)
                  .getResult()[0];
    bias = tosa::ConcatOp::create(
        b, loc, RankedTensorType::get({groups * cog}, f32), bs, 0);
  }
  auto outType = cast<RankedTensorType>(concat.getType());
  Value out = tensor::EmptyOp::create(b, loc, outType.getShape(), f32);
  auto op = PackedConv2DF32Op::create(
      b, loc, TypeRange{outType}, input, weights, bias, ValueRange{}, out,
      first.getStrideAttr(), first.getPadAttr(), first.getDilationAttr(),
      b.getI64IntegerAttr(groups));
  concat.getResult().replaceAllUsesWith(op.getResult()[0]);
  concat.erase();
  for (tosa::Conv2DOp conv : convs) {
    auto slice = conv.getInput().getDefiningOp<tosa::SliceOp>();
    conv.erase();
    if (slice && slice->use_empty())
      slice.erase();
  }
  return true;
}

struct PackF32KernelsPass
    : qat::impl::PackF32KernelsPassBase<PackF32KernelsPass> {
  void runOnOperation() override {
    // Grouped convolutions first: their convolutions are then gone.
    SmallVector<tosa::ConcatOp> concats;
    getOperation()->walk([&](tosa::ConcatOp op) { concats.push_back(op); });
    for (tosa::ConcatOp op : concats)
      numPacked += packGroupedConv(op);
    SmallVector<Operation *> kernels;
    getOperation()->walk([&](Operation *op) {
      if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp, tosa::MatMulOp,
              Conv2DBackwardDataOp, Conv2DBackwardWeightOp,
              DepthwiseConv2DBackwardDataOp, DepthwiseConv2DBackwardWeightOp>(
              op))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      bool packed = false;
      if (auto conv = dyn_cast<tosa::Conv2DOp>(op))
        packed = packConv(conv) || packRuntimeConv(conv);
      else if (auto bd = dyn_cast<Conv2DBackwardDataOp>(op))
        packed = packBackwardData(bd);
      else if (auto bw = dyn_cast<Conv2DBackwardWeightOp>(op))
        packed = packBackwardWeight(bw);
      else if (auto dd = dyn_cast<DepthwiseConv2DBackwardDataOp>(op))
        packed = packDepthwiseAdjoint<DepthwiseConv2DBackwardDataOp,
                                      DepthwiseConv2DBackwardDataF32Op>(
            dd, dd.getGradOutput(), dd.getWeight(), dd.getWeight());
      else if (auto dw = dyn_cast<DepthwiseConv2DBackwardWeightOp>(op))
        packed = packDepthwiseAdjoint<DepthwiseConv2DBackwardWeightOp,
                                      DepthwiseConv2DBackwardWeightF32Op>(
            dw, dw.getInput(), dw.getGradOutput(), dw.getGradWeight());
      else if (auto dw = dyn_cast<tosa::DepthwiseConv2DOp>(op))
        packed = packDepthwise(dw);
      else if (auto mm = dyn_cast<tosa::MatMulOp>(op))
        packed = packMatMul(mm) || packRuntimeMatMul(mm);
      numPacked += packed;
    }
  }
};

} // namespace
